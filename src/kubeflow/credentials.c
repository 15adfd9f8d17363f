/*
 * credentials.c - replacing Kubeflow's well-known default credentials as
 * part of the install: the Dex static user (email, user name and a bcrypt
 * hash of a password the admin chose or kfboot generated), the static OIDC
 * client secret shared by Dex and oauth2-proxy, the oauth2-proxy cookie
 * secret and the KFP artifact store (SeaweedFS) secret key.
 *
 * Generated values come from OpenSSL's RAND_bytes, are registered with
 * kf_redact_register, and are kept in a 0600 JSON file in the state
 * directory so that a re-install sends identical objects. No function here
 * logs or returns a secret in a message.
 */
#include <crypt.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kubeflow/kubeflow.h"
#include "yaml/yaml.h"

#define CREDS_FILE "kubeflow-credentials.json"
#define PASSWORD_FILE "kubeflow-admin-password"
#define DEFAULT_EMAIL "admin@example.com"
#define BCRYPT_COST 12

/* Upstream 26.03's defaults, used when the object that defines them is not
 * in the set being installed (it then was installed before). */
static const char *const known_oidc[] = { "pUBnBOY80SnXgjibTYM9ZWNzY2xreNGQok" };
static const char *const known_cookie[] = { "7d16fee92f8d11b8940b081b3f8b8acb" };
static const char *const known_s3[] = { "minio123" };

static void secure_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void kf_kubeflow_creds_release(struct kf_kubeflow_creds *c)
{
	if (!c)
		return;
	free(c->email);
	free(c->username);
	secure_free(c->password_hash);
	secure_free(c->oidc_secret);
	secure_free(c->cookie_secret);
	secure_free(c->s3_secret);
	memset(c, 0, sizeof(*c));
}

/* n random bytes as lowercase hex (2n characters). */
static int random_hex(char **out, size_t n, struct kf_err **err)
{
	unsigned char raw[64];
	char *s;

	if (n > sizeof(raw) || RAND_bytes(raw, (int)n) != 1)
		return kf_err_set(err, KF_EIO, "RAND_bytes failed");
	s = kf_xmalloc(2 * n + 1);
	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", raw[i]);
	OPENSSL_cleanse(raw, sizeof(raw));
	*out = s;
	return 0;
}

int kf_kubeflow_bcrypt(char **out, const char *password, int cost,
		       struct kf_err **err)
{
	unsigned char rb[16];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = NULL;
	const char *h;
	int rc = 0;

	*out = NULL;
	if (RAND_bytes(rb, sizeof(rb)) != 1) {
		rc = kf_err_set(err, KF_EIO, "bcrypt: RAND_bytes failed");
		goto out;
	}
	if (!crypt_gensalt_rn("$2y$", (unsigned long)(cost > 0 ? cost : BCRYPT_COST), (const char *)rb,
			      (int)sizeof(rb), setting, (int)sizeof(setting))) {
		rc = kf_err_set(err, KF_ERR, "bcrypt: crypt_gensalt_rn: %s", strerror(errno));
		goto out;
	}
	cd = kf_xcalloc(1, sizeof(*cd));
	h = crypt_r(password, setting, cd);
	if (!h || h[0] == '*' || strncmp(h, "$2y$", 4)) {
		rc = kf_err_set(err, KF_ERR, "bcrypt: crypt_r failed");
		goto out;
	}
	*out = kf_xstrdup(h);
out:
	if (cd) {
		OPENSSL_cleanse(cd, sizeof(*cd));
		free(cd);
	}
	OPENSSL_cleanse(rb, sizeof(rb));
	return rc;
}

bool kf_kubeflow_bcrypt_check(const char *password, const char *hash)
{
	struct crypt_data *cd;
	const char *h;
	bool ok;

	if (!password || !hash || strncmp(hash, "$2", 2))
		return false;
	cd = kf_xcalloc(1, sizeof(*cd));
	h = crypt_r(password, hash, cd);
	ok = h && h[0] != '*' && strlen(h) == strlen(hash) && CRYPTO_memcmp(h, hash, strlen(hash)) == 0;
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return ok;
}

/* The password in a file: its first line, without the newline. */
static int read_password(char **out, const char *path, struct kf_err **err)
{
	char *data = NULL, *nl;
	size_t len = 0;
	int rc = kf_file_read(path, &data, &len, err);

	*out = NULL;
	if (rc)
		return kf_err_wrap(err, "password file");
	nl = strpbrk(data, "\r\n");
	if (nl)
		*nl = '\0';
	if (strlen(data) < 8) {
		secure_free(data);
		return kf_err_set(err, KF_EINVAL, "password file '%s': the password must have at least 8 characters", path);
	}
	*out = data;
	return 0;
}

static char *kept_str(const json_t *kept, const char *key)
{
	const char *s = json_string_value(json_object_get(kept, key));

	return s && *s ? kf_xstrdup(s) : NULL;
}

static int ensure_random(char **slot, size_t nbytes, struct kf_err **err)
{
	if (*slot)
		return 0;
	return random_hex(slot, nbytes, err);
}

int kf_kubeflow_creds_prepare(struct kf_kubeflow_creds *out, char **generated,
			      const struct kf_kubeflow_creds_opts *o,
			      struct kf_err **err)
{
	char *kept_path = NULL, *pw_path = NULL, *password = NULL, *data = NULL, *text = NULL;
	json_t *kept = NULL, *save = NULL;
	json_error_t jerr;
	struct stat st;
	const char *at;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	*generated = NULL;
	if (!o->state_dir || !*o->state_dir)
		return kf_err_set(err, KF_EINVAL, "credentials: no state directory");
	if (!o->no_write) {
		rc = kf_mkdir_p(o->state_dir, 0700, err);
		if (rc)
			goto out;
	}
	kept_path = kf_path_join(o->state_dir, CREDS_FILE);
	pw_path = kf_path_join(o->state_dir, PASSWORD_FILE);
	if (stat(kept_path, &st) == 0) {
		size_t len;

		rc = kf_file_read(kept_path, &data, &len, err);
		if (rc)
			goto out;
		kept = json_loadb(data, len, 0, &jerr);
		if (!json_is_object(kept)) {
			rc = kf_err_set(err, KF_EINVAL, "'%s': not a credentials file (line %d)", kept_path, jerr.line);
			goto out;
		}
	}
	/* The email: --admin-email, else the one kept, else the default. */
	out->email = o->email ? kf_xstrdup(o->email) : kept_str(kept, "email");
	if (!out->email)
		out->email = kf_xstrdup(DEFAULT_EMAIL);
	at = strchr(out->email, '@');
	if (!at || at == out->email || !at[1] || strchr(at + 1, '@') || strpbrk(out->email, " \t\r\n\"'")) {
		rc = kf_err_set(err, KF_EINVAL, "admin email '%s' is not an email address", out->email);
		goto out;
	}
	out->username = kf_xstrndup(out->email, (size_t)(at - out->email));

	/* The password: --password-file, else the one kfboot generated before,
	 * else a new one. Keep the old hash when it still verifies. */
	if (o->password_file) {
		rc = read_password(&password, o->password_file, err);
	} else if (stat(pw_path, &st) == 0) {
		rc = read_password(&password, pw_path, err);
	} else {
		unsigned char raw[18];
		char *b;

		if (RAND_bytes(raw, sizeof(raw)) != 1) {
			rc = kf_err_set(err, KF_EIO, "RAND_bytes failed");
			goto out;
		}
		b = kf_base64_encode(raw, sizeof(raw), true);
		OPENSSL_cleanse(raw, sizeof(raw));
		password = kf_xasprintf("%s\n", b);
		secure_free(b);
		if (!o->no_write)
			rc = kf_file_write_atomic(pw_path, password, strlen(password), 0600, err);
		password[strlen(password) - 1] = '\0';
		if (rc) {
			kf_err_wrap(err, "writing the generated admin password");
			goto out;
		}
		if (!o->no_write)
			*generated = kf_xstrdup(pw_path);
	}
	if (rc)
		goto out;
	kf_redact_register(password);
	out->password_hash = kept_str(kept, "passwordHash");
	if (!out->password_hash || !kf_kubeflow_bcrypt_check(password, out->password_hash)) {
		secure_free(out->password_hash);
		out->password_hash = NULL;
		rc = kf_kubeflow_bcrypt(&out->password_hash, password, 0, err);
		if (rc)
			goto out;
	}
	out->oidc_secret = kept_str(kept, "oidcClientSecret");
	out->cookie_secret = kept_str(kept, "cookieSecret");
	out->s3_secret = kept_str(kept, "s3SecretKey");
	if ((rc = ensure_random(&out->oidc_secret, 20, err)) ||
	    (rc = ensure_random(&out->cookie_secret, 16, err)) ||
	    (rc = ensure_random(&out->s3_secret, 20, err)))
		goto out;
	kf_redact_register(out->password_hash);
	kf_redact_register(out->oidc_secret);
	kf_redact_register(out->cookie_secret);
	kf_redact_register(out->s3_secret);

	save = json_pack("{s:s, s:s, s:s, s:s, s:s}", "email", out->email,
			 "passwordHash", out->password_hash, "oidcClientSecret", out->oidc_secret,
			 "cookieSecret", out->cookie_secret, "s3SecretKey", out->s3_secret);
	text = json_dumps(save, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!o->no_write && (!data || strcmp(data, text))) {
		rc = kf_file_write_atomic(kept_path, text, strlen(text), 0600, err);
		if (rc)
			kf_err_wrap(err, "keeping the Kubeflow credentials");
	}
out:
	if (rc)
		kf_kubeflow_creds_release(out);
	if (rc && *generated) {
		free(*generated);
		*generated = NULL;
	}
	secure_free(password);
	secure_free(data);
	secure_free(text);
	json_decref(kept);
	json_decref(save);
	free(kept_path);
	free(pw_path);
	return rc;
}

/* ---- rewriting objects ---------------------------------------------- */

static bool is_kind(const struct kf_obj *o, const char *group, const char *kind)
{
	return o->kind && !strcmp(o->kind, kind) && !strcmp(o->group ? o->group : "", group);
}

/* Namespace of an object as written (o->ns may not be resolved yet). */
static const char *obj_ns(const struct kf_obj *o)
{
	if (o->ns)
		return o->ns;
	return json_string_value(json_object_get(json_object_get(o->obj, "metadata"), "namespace"));
}

/* Value of key in a Secret (stringData wins, as on the server); caller frees. */
static char *secret_get(const json_t *secret, const char *key)
{
	const char *s = json_string_value(json_object_get(json_object_get(secret, "stringData"), key));
	char *dec = NULL;
	size_t len = 0;

	if (s)
		return kf_xstrdup(s);
	s = json_string_value(json_object_get(json_object_get(secret, "data"), key));
	if (!s || kf_base64_decode(s, &dec, &len))
		return NULL;
	if (strlen(dec) != len) {
		free(dec);
		return NULL;
	}
	return dec;
}

/* Set key in whichever of stringData/data holds it (stringData when
 * neither). Returns true when the object changed. */
static bool secret_set(json_t *secret, const char *key, const char *value)
{
	json_t *sd = json_object_get(secret, "stringData");
	json_t *d = json_object_get(secret, "data");

	if (json_is_object(d) && json_object_get(d, key) &&
	    !(json_is_object(sd) && json_object_get(sd, key))) {
		char *enc = kf_base64_encode(value, strlen(value), false);
		const char *cur = json_string_value(json_object_get(d, key));
		bool changed = !cur || strcmp(cur, enc);

		json_object_set_new(d, key, json_string(enc));
		free(enc);
		return changed;
	}
	if (!json_is_object(sd)) {
		sd = json_object();
		json_object_set_new(secret, "stringData", sd);
	}
	{
		const char *cur = json_string_value(json_object_get(sd, key));
		bool changed = !cur || strcmp(cur, value);

		json_object_set_new(sd, key, json_string(value));
		return changed;
	}
}

struct swap {
	char *from;        /* default value, owned */
	const char *to;    /* new value, borrowed */
};

struct swaps {
	struct swap v[16];
	size_t n;
};

static void swap_add(struct swaps *s, const char *from, const char *to)
{
	if (!from || !*from || s->n >= KF_ARRAY_SIZE(s->v))
		return;
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].from, from))
			return;
	s->v[s->n].from = kf_xstrdup(from);
	s->v[s->n++].to = to;
}

static const char *swap_find(const struct swaps *s, const char *value)
{
	for (size_t i = 0; value && i < s->n; i++)
		if (!strcmp(s->v[i].from, value))
			return s->v[i].to;
	return NULL;
}

/* Replace every Secret value equal to a default with its new value. */
static bool swap_secret(json_t *secret, const struct swaps *s)
{
	const char *fields[] = { "stringData", "data" };
	bool changed = false;

	for (size_t f = 0; f < KF_ARRAY_SIZE(fields); f++) {
		json_t *m = json_object_get(secret, fields[f]);
		const char *key;
		json_t *v;
		void *tmp;

		if (!json_is_object(m))
			continue;
		json_object_foreach_safe(m, tmp, key, v) {
			char *cur = secret_get(secret, key);
			const char *to = swap_find(s, cur);

			if (to && json_object_get(m, key) == v)
				changed |= secret_set(secret, key, to);
			free(cur);
		}
	}
	return changed;
}

/* Rewrite the static users in Dex's config.yaml. */
static int rewrite_dex_config(bool *changed, char **old_email, json_t *cm,
			      const struct kf_kubeflow_creds *c, struct kf_err **err)
{
	json_t *data = json_object_get(cm, "data");
	const char *text = json_string_value(json_object_get(data, "config.yaml"));
	struct kf_yaml_docs *docs = NULL;
	struct kf_buf out = KF_BUF_INIT;
	json_t *cfg, *users, *u;
	size_t i;
	int rc = 0;

	*changed = false;
	if (!text)
		return 0;
	rc = kf_yaml_load_buf(&docs, "auth/dex config.yaml", text, strlen(text), NULL, err);
	if (rc)
		goto out;
	cfg = kf_yaml_doc(docs, 0);
	users = json_object_get(cfg, "staticPasswords");
	if (!json_is_array(users) || !json_array_size(users))
		goto out;
	json_array_foreach(users, i, u) {
		if (!json_is_object(u))
			continue;
		if (i == 0 && !*old_email && json_is_string(json_object_get(u, "email")))
			*old_email = kf_xstrdup(json_string_value(json_object_get(u, "email")));
		if (i > 0 && !json_object_get(u, "hashFromEnv"))
			continue;
		json_object_set_new(u, "email", json_string(c->email));
		json_object_set_new(u, "username", json_string(c->username));
		if (json_object_get(u, "hash"))
			json_object_set_new(u, "hash", json_string(c->password_hash));
	}
	rc = kf_yaml_emit(&out, cfg, false, err);
	if (rc)
		goto out;
	if (strcmp(out.buf, text)) {
		json_object_set_new(data, "config.yaml", json_string(out.buf));
		*changed = true;
	}
out:
	if (rc)
		kf_err_wrap(err, "ConfigMap auth/dex");
	kf_buf_release(&out);
	kf_yaml_free(docs);
	return rc;
}

/* Put a checksum of the credentials a workload reads into its pod
 * template, so that changing them restarts its pods. */
static bool set_checksum(json_t *deploy, const char *basis)
{
	json_t *tmpl = json_object_get(json_object_get(deploy, "spec"), "template"), *md, *ann;
	char hex[65];
	const char *cur;

	if (!json_is_object(tmpl))
		return false;
	kf_sha256_hex(basis, strlen(basis), hex);
	hex[16] = '\0';
	md = json_object_get(tmpl, "metadata");
	if (!json_is_object(md)) {
		md = json_object();
		json_object_set_new(tmpl, "metadata", md);
	}
	ann = json_object_get(md, "annotations");
	if (!json_is_object(ann)) {
		ann = json_object();
		json_object_set_new(md, "annotations", ann);
	}
	cur = json_string_value(json_object_get(ann, "kfboot.io/credentials-checksum"));
	if (cur && !strcmp(cur, hex))
		return false;
	json_object_set_new(ann, "kfboot.io/credentials-checksum", json_string(hex));
	return true;
}

int kf_kubeflow_creds_rewrite(size_t *nchanged, struct kf_objset *set,
			      const struct kf_kubeflow_creds *c,
			      struct kf_err **err)
{
	struct swaps sw = { .n = 0 };
	char *old_email = NULL;
	bool *touched = kf_xcalloc(set->n + 1, sizeof(*touched));
	int rc = 0;

	*nchanged = 0;
	/* 1. Learn the defaults where upstream defines them. */
	for (size_t i = 0; i < set->n; i++) {
		struct kf_obj *o = &set->v[i];
		const char *ns = obj_ns(o);
		char *v = NULL;

		if (!is_kind(o, "", "Secret") || !ns)
			continue;
		if (!strcmp(ns, "auth") && !strcmp(o->name, "dex-oidc-client") &&
		    (v = secret_get(o->obj, "OIDC_CLIENT_SECRET")))
			swap_add(&sw, v, c->oidc_secret);
		free(v);
		v = NULL;
		if (!strcmp(ns, "oauth2-proxy") && (v = secret_get(o->obj, "cookie-secret")))
			swap_add(&sw, v, c->cookie_secret);
		free(v);
		v = NULL;
		if (!strcmp(ns, "oauth2-proxy") && (v = secret_get(o->obj, "client-secret")))
			swap_add(&sw, v, c->oidc_secret);
		free(v);
		v = NULL;
		if (!strcmp(ns, "kubeflow") && !strcmp(o->name, "mlpipeline-minio-artifact") &&
		    (v = secret_get(o->obj, "secretkey")))
			swap_add(&sw, v, c->s3_secret);
		free(v);
	}
	for (size_t i = 0; i < KF_ARRAY_SIZE(known_oidc); i++)
		swap_add(&sw, known_oidc[i], c->oidc_secret);
	for (size_t i = 0; i < KF_ARRAY_SIZE(known_cookie); i++)
		swap_add(&sw, known_cookie[i], c->cookie_secret);
	for (size_t i = 0; i < KF_ARRAY_SIZE(known_s3); i++)
		swap_add(&sw, known_s3[i], c->s3_secret);

	/* 2. Rewrite. */
	for (size_t i = 0; i < set->n; i++) {
		struct kf_obj *o = &set->v[i];
		const char *ns = obj_ns(o);
		bool ch = false;

		if (is_kind(o, "", "Secret")) {
			if (ns && !strcmp(ns, "auth") && !strcmp(o->name, "dex-passwords")) {
				ch |= secret_set(o->obj, "DEX_USER_PASSWORD", c->password_hash);
			}
			ch |= swap_secret(o->obj, &sw);
		} else if (is_kind(o, "", "ConfigMap") && ns && !strcmp(ns, "auth") &&
			   !strcmp(o->name, "dex")) {
			rc = rewrite_dex_config(&ch, &old_email, o->obj, c, err);
			if (rc)
				goto out;
		}
		touched[i] = ch;
	}
	/* 3. The default Profile belongs to the admin user. */
	for (size_t i = 0; i < set->n; i++) {
		struct kf_obj *o = &set->v[i];
		json_t *owner = json_object_get(json_object_get(o->obj, "spec"), "owner");
		const char *name = json_string_value(json_object_get(owner, "name"));

		if (!is_kind(o, "kubeflow.org", "Profile") || !name)
			continue;
		if (!strcmp(name, old_email ? old_email : "user@example.com") && strcmp(name, c->email)) {
			json_object_set_new(owner, "name", json_string(c->email));
			touched[i] = true;
		}
	}
	/* 4. Pods read these at start: a change of credentials rolls them. */
	for (size_t i = 0; i < set->n; i++) {
		struct kf_obj *o = &set->v[i];
		const char *ns = obj_ns(o);
		char *basis = NULL;

		if (!is_kind(o, "apps", "Deployment") || !ns)
			continue;
		if (!strcmp(ns, "auth") && !strcmp(o->name, "dex"))
			basis = kf_xasprintf("%s\n%s\n%s", c->password_hash, c->oidc_secret, c->email);
		else if (!strcmp(ns, "oauth2-proxy") && !strcmp(o->name, "oauth2-proxy"))
			basis = kf_xasprintf("%s\n%s", c->oidc_secret, c->cookie_secret);
		if (basis) {
			touched[i] |= set_checksum(o->obj, basis);
			secure_free(basis);
		}
	}
	for (size_t i = 0; i < set->n; i++)
		*nchanged += touched[i];
out:
	for (size_t i = 0; i < sw.n; i++)
		secure_free(sw.v[i].from);
	free(old_email);
	free(touched);
	return rc;
}
