/*
 * kubeconfig.c - find and read the connection settings kubectl would use.
 *
 * Sources, as kubectl orders them: --kubeconfig (that file only), else the
 * files listed in KUBECONFIG (merged: for clusters, users and contexts the
 * first file to define a name wins; the first file to set current-context
 * wins; missing files are skipped), else ~/.kube/config, else the in-cluster
 * service-account configuration when KUBERNETES_SERVICE_HOST is set.
 * Certificates, keys and CA bundles are read into memory (inline *-data is
 * base64-decoded); nothing is written to disk. Tokens and keys are
 * registered with kf_redact so that no log line can show them.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube.h"
#include "yaml/yaml.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct named {
	const char *name;
	json_t *val;               /* the inner "cluster"/"user"/"context" object */
	json_t *entry;             /* the list entry (for positions) */
	struct kf_yaml_docs *docs; /* borrowed */
	const char *dir;           /* directory of the file, borrowed */
};

struct named_list {
	struct named *v;
	size_t n, alloc;
};

struct merged {
	struct kf_yaml_docs **docs;
	char **dirs;
	size_t ndocs, alloc_docs, alloc_dirs;
	struct named_list clusters, users, contexts;
	const char *current;       /* current-context */
	struct kf_yaml_docs *current_docs;
	struct kf_buf sources;
};

static void merged_release(struct merged *m)
{
	for (size_t i = 0; i < m->ndocs; i++) {
		kf_yaml_free(m->docs[i]);
		free(m->dirs[i]);
	}
	free(m->docs);
	free(m->dirs);
	free(m->clusters.v);
	free(m->users.v);
	free(m->contexts.v);
	kf_buf_release(&m->sources);
}

static const struct named *named_find(const struct named_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name))
			return &l->v[i];
	return NULL;
}

static int pos_err(struct kf_err **err, struct kf_yaml_docs *docs,
		   const json_t *obj, const char *key, const char *fmt, ...)
	KF_PRINTF(5, 6);

/* An error at obj[key] (or obj itself when key is NULL or absent). */
static int pos_err(struct kf_err **err, struct kf_yaml_docs *docs,
		   const json_t *obj, const char *key, const char *fmt, ...)
{
	struct kf_pos p = { kf_yaml_name(docs), 0, 0 };
	va_list ap;
	char *msg;
	int rc;

	if (!(key && kf_yaml_member_pos(docs, obj, key, NULL, &p)))
		kf_yaml_pos(docs, obj, &p);
	va_start(ap, fmt);
	msg = kf_xvasprintf(fmt, ap);
	va_end(ap);
	if (p.line)
		rc = kf_err_set(err, KF_EINVAL, "%s:%d:%d: %s", p.file, p.line, p.col, msg);
	else
		rc = kf_err_set(err, KF_EINVAL, "%s: %s", kf_yaml_name(docs), msg);
	free(msg);
	return rc;
}

static const char *str_member(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int add_named(struct named_list *l, struct kf_yaml_docs *docs,
		     const char *dir, json_t *arr, const char *inner,
		     struct kf_err **err)
{
	size_t i;
	json_t *e;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return pos_err(err, docs, arr, NULL, "'%ss' must be a list", inner);
	json_array_foreach(arr, i, e) {
		const char *name = str_member(e, "name");
		json_t *val = json_object_get(e, inner);

		if (!json_is_object(e) || !name || !*name)
			return pos_err(err, docs, e, "name", "%s entry without a name", inner);
		if (!json_is_object(val))
			return pos_err(err, docs, e, inner, "%s '%s' has no '%s' map", inner, name, inner);
		if (named_find(l, name))
			continue; /* the first file to define a name wins */
		kf_xgrow((void **)&l->v, &l->alloc, l->n + 1, sizeof(*l->v));
		l->v[l->n++] = (struct named){ name, val, e, docs, dir };
	}
	return 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return kf_xstrdup(".");
	if (slash == path)
		return kf_xstrdup("/");
	return kf_xstrndup(path, (size_t)(slash - path));
}

/* Load one file into m; a missing file is skipped unless `must`. */
static int merge_file(struct merged *m, const char *path, bool must,
		      struct kf_err **err)
{
	struct kf_yaml_docs *docs = NULL;
	struct stat st;
	json_t *root;
	const char *dir;
	int rc = 0;

	if (stat(path, &st) < 0) {
		/* KUBECONFIG may name files that do not exist: kubectl skips them. */
		if (must)
			rc = kf_err_errno(err, "kubeconfig '%s'", path);
		goto out;
	}
	rc = kf_yaml_load_file(&docs, path, NULL, err);
	if (rc) {
		kf_err_wrap(err, "kubeconfig");
		goto out;
	}
	/* m owns the documents from here: names and values point into them. */
	kf_xgrow((void **)&m->docs, &m->alloc_docs, m->ndocs + 1, sizeof(*m->docs));
	kf_xgrow((void **)&m->dirs, &m->alloc_dirs, m->ndocs + 1, sizeof(*m->dirs));
	m->docs[m->ndocs] = docs;
	m->dirs[m->ndocs] = dir_of(path);
	dir = m->dirs[m->ndocs];
	m->ndocs++;
	if (m->sources.len)
		kf_buf_addch(&m->sources, ':');
	kf_buf_adds(&m->sources, path);
	root = kf_yaml_count(docs) ? kf_yaml_doc(docs, 0) : NULL;
	if (!root || json_is_null(root))
		goto out; /* an empty file is allowed */
	if (!json_is_object(root)) {
		rc = pos_err(err, docs, root, NULL, "a kubeconfig must be a map");
		goto out;
	}
	rc = add_named(&m->clusters, docs, dir, json_object_get(root, "clusters"), "cluster", err);
	if (!rc)
		rc = add_named(&m->users, docs, dir, json_object_get(root, "users"), "user", err);
	if (!rc)
		rc = add_named(&m->contexts, docs, dir, json_object_get(root, "contexts"), "context", err);
	if (!rc && !m->current) {
		const char *cur = str_member(root, "current-context");

		if (cur && *cur) {
			m->current = cur;
			m->current_docs = docs;
		}
	}
out:
	return rc;
}

/* Read a file named in a kubeconfig (relative to its directory). */
static int read_ref(char **out, size_t *len, const char *dir, const char *p,
		    struct kf_err **err)
{
	char *exp = kf_path_expand(p);
	char *full = exp[0] == '/' ? kf_xstrdup(exp) : kf_path_join(dir, exp);
	int rc = kf_file_read(full, out, len, err);

	free(exp);
	free(full);
	return rc;
}

/* Either `data_key` (base64 inline) or `file_key` (a path) of o. */
static int take_blob(char **out, size_t *len, const struct named *n,
		     const char *data_key, const char *file_key,
		     struct kf_err **err)
{
	const char *data = str_member(n->val, data_key);
	const char *file = str_member(n->val, file_key);

	*out = NULL;
	*len = 0;
	if (data && *data) {
		if (kf_base64_decode(data, out, len) < 0)
			return pos_err(err, n->docs, n->val, data_key, "'%s' of '%s' is not valid base64", data_key, n->name);
		return 0;
	}
	if (file && *file) {
		if (read_ref(out, len, n->dir, file, err) < 0) {
			kf_err_wrap(err, "%s of '%s'", file_key, n->name);
			return pos_err(err, n->docs, n->val, file_key, "cannot read '%s'", file);
		}
	}
	return 0;
}

static char *trim_dup(const char *s, size_t len)
{
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	return kf_xstrndup(s, len);
}

static int fill_from(struct kf_kube_config *c, struct merged *m,
		     const char *want, struct kf_err **err)
{
	const struct named *ctx, *cl, *us;
	const char *cname, *uname, *server, *token, *tokfile;
	json_t *v;
	int rc;

	if (!want) {
		if (!m->contexts.n && !m->clusters.n)
			return kf_err_set(err, KF_ENOENT, "no configuration in '%s'", m->sources.buf);
		if (!m->current)
			return kf_err_set(err, KF_EINVAL, "'%s' sets no current-context; pass --context", m->sources.buf);
		want = m->current;
	}
	ctx = named_find(&m->contexts, want);
	if (!ctx)
		return kf_err_set(err, KF_ENOENT, "context '%s' is not defined in '%s'", want, m->sources.buf);
	cname = str_member(ctx->val, "cluster");
	uname = str_member(ctx->val, "user");
	if (!cname || !*cname)
		return pos_err(err, ctx->docs, ctx->val, NULL, "context '%s' names no cluster", want);
	cl = named_find(&m->clusters, cname);
	if (!cl)
		return pos_err(err, ctx->docs, ctx->val, "cluster", "context '%s' refers to cluster '%s', which is not defined", want, cname);
	us = uname && *uname ? named_find(&m->users, uname) : NULL;
	if (uname && *uname && !us)
		return pos_err(err, ctx->docs, ctx->val, "user", "context '%s' refers to user '%s', which is not defined", want, uname);

	c->context = kf_xstrdup(want);
	c->cluster = kf_xstrdup(cname);
	c->user = us ? kf_xstrdup(uname) : NULL;
	c->source = kf_xstrdup(m->sources.buf);
	c->namespace = kf_xstrdup(str_member(ctx->val, "namespace") && *str_member(ctx->val, "namespace") ? str_member(ctx->val, "namespace") : "default");

	server = str_member(cl->val, "server");
	if (!server || !*server)
		return pos_err(err, cl->docs, cl->val, NULL, "cluster '%s' has no server", cname);
	if (!kf_str_startswith(server, "https://") && !kf_str_startswith(server, "http://"))
		return pos_err(err, cl->docs, cl->val, "server", "server '%s' of cluster '%s' is not an http(s) URL", server, cname);
	c->server = kf_xstrdup(server);
	while (strlen(c->server) > 8 && c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = '\0';
	v = json_object_get(cl->val, "insecure-skip-tls-verify");
	if (v && !json_is_boolean(v))
		return pos_err(err, cl->docs, cl->val, "insecure-skip-tls-verify", "insecure-skip-tls-verify must be true or false");
	c->insecure = json_is_true(v);
	if (str_member(cl->val, "tls-server-name"))
		c->tls_server_name = kf_xstrdup(str_member(cl->val, "tls-server-name"));
	rc = take_blob(&c->ca, &c->ca_len, cl, "certificate-authority-data", "certificate-authority", err);
	if (rc)
		return rc;
	if (!us)
		return 0;

	if (json_object_get(us->val, "exec") || json_object_get(us->val, "auth-provider"))
		return pos_err(err, us->docs, us->val, json_object_get(us->val, "exec") ? "exec" : "auth-provider",
			       "user '%s' uses an exec/auth-provider plugin, which kfboot does not run; use a token or client certificate", uname);
	if (str_member(us->val, "username") || str_member(us->val, "password"))
		return pos_err(err, us->docs, us->val, "username", "user '%s' uses basic auth, which Kubernetes removed; use a token or client certificate", uname);
	rc = take_blob(&c->cert, &c->cert_len, us, "client-certificate-data", "client-certificate", err);
	if (!rc)
		rc = take_blob(&c->key, &c->key_len, us, "client-key-data", "client-key", err);
	if (rc)
		return rc;
	if (!c->cert != !c->key)
		return pos_err(err, us->docs, us->val, NULL, "user '%s' has a client certificate without a key, or a key without a certificate", uname);
	token = str_member(us->val, "token");
	tokfile = str_member(us->val, "tokenFile");
	if (token && *token) {
		c->token = kf_xstrdup(token);
	} else if (tokfile && *tokfile) {
		char *data = NULL;
		size_t len = 0;

		if (read_ref(&data, &len, us->dir, tokfile, err) < 0)
			return pos_err(err, us->docs, us->val, "tokenFile", "cannot read tokenFile '%s'", tokfile);
		c->token = trim_dup(data, len);
		free(data);
		{
			char *exp = kf_path_expand(tokfile);

			c->token_file = exp[0] == '/' ? kf_xstrdup(exp) : kf_path_join(us->dir, exp);
			free(exp);
		}
	}
	return 0;
}

static void register_secrets(const struct kf_kube_config *c)
{
	if (c->token)
		kf_redact_register(c->token);
	if (c->key)
		kf_redact_register(c->key);
}

int kf_kube_config_incluster(struct kf_kube_config **out, const char *sa_dir,
			     struct kf_err **err)
{
	struct kf_kube_config *c = kf_xcalloc(1, sizeof(*c));
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *path = NULL, *data = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!sa_dir)
		sa_dir = SA_DIR;
	if (!host || !*host) {
		rc = kf_err_set(err, KF_ENOENT, "KUBERNETES_SERVICE_HOST is not set (not running in a pod)");
		goto out;
	}
	c->server = strchr(host, ':') ? kf_xasprintf("https://[%s]:%s", host, port && *port ? port : "443")
				       : kf_xasprintf("https://%s:%s", host, port && *port ? port : "443");
	path = kf_path_join(sa_dir, "token");
	rc = kf_file_read(path, &data, &len, err);
	if (rc)
		goto out;
	c->token = trim_dup(data, len);
	c->token_file = kf_xstrdup(path);
	free(data);
	data = NULL;
	free(path);
	path = kf_path_join(sa_dir, "ca.crt");
	rc = kf_file_read(path, &c->ca, &c->ca_len, err);
	if (rc)
		goto out;
	free(path);
	path = kf_path_join(sa_dir, "namespace");
	if (kf_file_read(path, &data, &len, NULL) == 0) {
		c->namespace = trim_dup(data, len);
		free(data);
		data = NULL;
	} else {
		c->namespace = kf_xstrdup("default");
	}
	c->context = kf_xstrdup("in-cluster");
	c->cluster = kf_xstrdup("in-cluster");
	c->source = kf_xstrdup(sa_dir);
	register_secrets(c);
	*out = c;
	c = NULL;
out:
	free(path);
	kf_kube_config_free(c);
	if (rc)
		kf_err_wrap(err, "in-cluster config");
	return rc;
}

int kf_kube_config_load(struct kf_kube_config **out,
			const struct kf_kubeconfig_opts *opts,
			struct kf_err **err)
{
	struct kf_kubeconfig_opts none = { 0 };
	struct merged m = { 0 };
	struct kf_kube_config *c = NULL;
	const char *env = getenv("KUBECONFIG");
	int rc = 0;

	*out = NULL;
	if (!opts)
		opts = &none;
	kf_buf_init(&m.sources, 0);
	if (opts->context && !strcmp(opts->context, "in-cluster"))
		return kf_kube_config_incluster(out, opts->sa_dir, err);
	if (opts->path && *opts->path) {
		rc = merge_file(&m, opts->path, true, err);
	} else if (env && *env) {
		char *list = kf_xstrdup(env), *save = NULL;

		for (char *p = strtok_r(list, ":", &save); p && !rc; p = strtok_r(NULL, ":", &save))
			if (*p)
				rc = merge_file(&m, p, false, err);
		free(list);
	} else {
		char *def = kf_path_expand("~/.kube/config");

		rc = merge_file(&m, def, false, err);
		free(def);
	}
	if (rc)
		goto out;
	if (!m.ndocs) {
		const char *host = getenv("KUBERNETES_SERVICE_HOST");

		if (host && *host && !opts->context) {
			rc = kf_kube_config_incluster(out, opts->sa_dir, err);
			goto out;
		}
		rc = kf_err_set(err, KF_ENOENT, "no kubeconfig found (checked %s); pass --kubeconfig or set KUBECONFIG",
				env && *env ? "KUBECONFIG" : "~/.kube/config");
		goto out;
	}
	c = kf_xcalloc(1, sizeof(*c));
	rc = fill_from(c, &m, opts->context, err);
	if (rc)
		goto out;
	register_secrets(c);
	*out = c;
	c = NULL;
out:
	kf_kube_config_free(c);
	merged_release(&m);
	return rc;
}

void kf_kube_config_free(struct kf_kube_config *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->context);
	free(c->cluster);
	free(c->user);
	free(c->namespace);
	free(c->source);
	free(c->ca);
	free(c->cert);
	if (c->key) {
		memset(c->key, 0, c->key_len);
		free(c->key);
	}
	if (c->token) {
		memset(c->token, 0, strlen(c->token));
		free(c->token);
	}
	free(c->tls_server_name);
	free(c->token_file);
	free(c);
}
