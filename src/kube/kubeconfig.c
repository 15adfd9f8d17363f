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
 *
 * Every field kubectl reads is either honoured or refused with its
 * file:line:col: impersonation (as, as-uid, as-groups, as-user-extra),
 * proxy-url, tls-server-name, exec credential plugins (parsed here, run by
 * the client), and a value of the wrong type (a token YAML reads as a
 * number) is an error, as it is for kubectl, never silently dropped. The
 * server URL is normalised as client-go uses it: scheme, host, port and
 * path prefix; a query string or fragment is not part of any request URL.
 * A server URL with credentials in it (user:password@) is refused without
 * echoing them, and so is insecure-skip-tls-verify together with a CA.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

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

static int get_str(const char **out, const struct named *n, const char *what,
		   const json_t *o, const char *key, struct kf_err **err);

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
	const char *data, *file;
	int rc;

	*out = NULL;
	*len = 0;
	rc = get_str(&data, n, n->val == json_object_get(n->entry, "cluster") ? "cluster" : "user", n->val, data_key, err);
	if (!rc)
		rc = get_str(&file, n, n->val == json_object_get(n->entry, "cluster") ? "cluster" : "user", n->val, file_key, err);
	if (rc)
		return rc;
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

/*
 * o[key] as a string in *out (borrowed; NULL when absent or null). Another
 * type is an error at its position: kubectl refuses `token: 12345` ("cannot
 * unmarshal number into ... of type string") and so do we, rather than
 * dropping the field.
 */
static int get_str(const char **out, const struct named *n, const char *what,
		   const json_t *o, const char *key, struct kf_err **err)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return pos_err(err, n->docs, o, key, "'%s' of %s '%s' must be a string, not %s%s", key, what, n->name,
			       json_is_number(v) ? "a number" : json_is_boolean(v) ? "a boolean" : json_is_array(v) ? "a list" : "a map",
			       json_is_number(v) || json_is_boolean(v) ? " (quote it)" : "");
	*out = json_string_value(v);
	return 0;
}

/* A list of strings (as-groups, exec args) into a NULL-terminated copy. */
static int get_str_list(char ***out, const struct named *n, const char *what,
			const json_t *o, const char *key, struct kf_err **err)
{
	const json_t *v = json_object_get(o, key), *e;
	size_t i;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return pos_err(err, n->docs, o, key, "'%s' of %s '%s' must be a list of strings", key, what, n->name);
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return pos_err(err, n->docs, o, key, "'%s' of %s '%s': item %zu is not a string (quote it)", key, what, n->name, i + 1);
	*out = kf_xcalloc(json_array_size(v) + 1, sizeof(**out));
	json_array_foreach(v, i, e)
		(*out)[i] = kf_xstrdup(json_string_value(e));
	return 0;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/*
 * The server URL as requests use it: "scheme://host[:port][/prefix]" with
 * no trailing '/'. client-go replaces the query of every request and never
 * sends a fragment, so both are dropped here; userinfo is refused (Kubernetes
 * has no basic auth, and the URL would show the password in messages).
 */
static int canon_server(char **out, const struct named *cl, const char *server,
			struct kf_err **err)
{
	CURLU *u = NULL;
	char *full = NULL, *shown = kf_url_redact(server);
	int rc = 0;

	*out = NULL;
	if (kf_url_has_userinfo(server)) {
		rc = pos_err(err, cl->docs, cl->val, "server", "server of cluster '%s' has credentials in its URL (user:password@); remove them and use a token or client certificate", cl->name);
		goto out;
	}
	if (!kf_str_startswith(server, "https://") && !kf_str_startswith(server, "http://")) {
		rc = pos_err(err, cl->docs, cl->val, "server", "server '%s' of cluster '%s' is not an http(s) URL", shown, cl->name);
		goto out;
	}
	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, server, 0) ||
	    curl_url_set(u, CURLUPART_QUERY, NULL, 0) || curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) ||
	    curl_url_get(u, CURLUPART_URL, &full, 0)) {
		rc = pos_err(err, cl->docs, cl->val, "server", "server '%s' of cluster '%s' is not a valid URL", shown, cl->name);
		goto out;
	}
	*out = kf_xstrdup(full);
	while (strlen(*out) > 8 && (*out)[strlen(*out) - 1] == '/')
		(*out)[strlen(*out) - 1] = '\0';
out:
	curl_free(full);
	curl_url_cleanup(u);
	free(shown);
	return rc;
}

void kf_kube_exec_free(struct kf_kube_exec *x)
{
	if (!x)
		return;
	free(x->api_version);
	free(x->command);
	strv_free(x->args);
	for (size_t i = 0; x->env && x->env[i]; i++)
		memset(x->env[i], 0, strlen(x->env[i]));
	strv_free(x->env);
	free(x->interactive);
	free(x->install_hint);
	free(x->user);
	free(x->where);
	free(x);
}

/* users[].user.exec: checked here, run by the client (exec.c). */
static int parse_exec(struct kf_kube_exec **out, const struct named *us,
		      const json_t *ex, struct kf_err **err)
{
	struct kf_kube_exec *x = kf_xcalloc(1, sizeof(*x));
	const char *av, *cmd, *im, *hint;
	const json_t *env, *e, *pci;
	struct kf_pos p = { kf_yaml_name(us->docs), 0, 0 };
	size_t i;
	int rc;

	*out = NULL;
	if (!json_is_object(ex)) {
		rc = pos_err(err, us->docs, us->val, "exec", "'exec' of user '%s' must be a map", us->name);
		goto out;
	}
	rc = get_str(&av, us, "user exec plugin", ex, "apiVersion", err);
	if (!rc)
		rc = get_str(&cmd, us, "user exec plugin", ex, "command", err);
	if (!rc)
		rc = get_str(&im, us, "user exec plugin", ex, "interactiveMode", err);
	if (!rc)
		rc = get_str(&hint, us, "user exec plugin", ex, "installHint", err);
	if (!rc)
		rc = get_str_list(&x->args, us, "user exec plugin", ex, "args", err);
	if (rc)
		goto out;
	if (!av || (strcmp(av, "client.authentication.k8s.io/v1") && strcmp(av, "client.authentication.k8s.io/v1beta1"))) {
		rc = pos_err(err, us->docs, ex, "apiVersion",
			     "exec plugin of user '%s': apiVersion '%s' is not supported (use client.authentication.k8s.io/v1 or v1beta1; kubectl removed v1alpha1)",
			     us->name, av ? av : "");
		goto out;
	}
	if (!cmd || !*cmd) {
		rc = pos_err(err, us->docs, ex, "command", "exec plugin of user '%s' has no command", us->name);
		goto out;
	}
	if (!im && !strcmp(av, "client.authentication.k8s.io/v1")) {
		rc = pos_err(err, us->docs, ex, NULL, "exec plugin of user '%s': interactiveMode must be set for client.authentication.k8s.io/v1 (Never, IfAvailable or Always)", us->name);
		goto out;
	}
	if (im && strcmp(im, "Never") && strcmp(im, "IfAvailable") && strcmp(im, "Always")) {
		rc = pos_err(err, us->docs, ex, "interactiveMode", "exec plugin of user '%s': interactiveMode '%s' is not Never, IfAvailable or Always", us->name, im);
		goto out;
	}
	pci = json_object_get(ex, "provideClusterInfo");
	if (pci && !json_is_boolean(pci) && !json_is_null(pci)) {
		rc = pos_err(err, us->docs, ex, "provideClusterInfo", "exec plugin of user '%s': provideClusterInfo must be true or false", us->name);
		goto out;
	}
	x->provide_cluster_info = json_is_true(pci);
	env = json_object_get(ex, "env");
	if (env && !json_is_null(env) && !json_is_array(env)) {
		rc = pos_err(err, us->docs, ex, "env", "exec plugin of user '%s': env must be a list of {name, value}", us->name);
		goto out;
	}
	x->env = kf_xcalloc(json_array_size(env) + 1, sizeof(*x->env));
	json_array_foreach(env, i, e) {
		const json_t *nm = json_object_get(e, "name"), *val = json_object_get(e, "value");

		if (!json_is_string(nm) || !*json_string_value(nm) || strchr(json_string_value(nm), '=') || !json_is_string(val)) {
			rc = pos_err(err, us->docs, ex, "env", "exec plugin of user '%s': env item %zu needs a name and a string value", us->name, i + 1);
			goto out;
		}
		x->env[i] = kf_xasprintf("%s=%s", json_string_value(nm), json_string_value(val));
	}
	x->api_version = kf_xstrdup(av);
	/* As client-go: a command with a '/' that is relative is relative to
	 * the kubeconfig that names it; a bare name is looked up in PATH. */
	if (strchr(cmd, '/') && cmd[0] != '/')
		x->command = kf_path_join(us->dir, cmd);
	else
		x->command = kf_xstrdup(cmd);
	x->interactive = kf_xstrdup(im ? im : "IfAvailable");
	x->install_hint = hint ? kf_xstrdup(hint) : NULL;
	x->user = kf_xstrdup(us->name);
	if (kf_yaml_member_pos(us->docs, us->val, "exec", &p, NULL) && p.line)
		x->where = kf_xasprintf("%s:%d:%d", p.file, p.line, p.col);
	else
		x->where = kf_xstrdup(kf_yaml_name(us->docs));
	*out = x;
	x = NULL;
out:
	kf_kube_exec_free(x);
	return rc;
}

/* as, as-uid, as-groups, as-user-extra. */
static int parse_impersonation(struct kf_kube_config *c, const struct named *us,
			       struct kf_err **err)
{
	const char *as, *uid;
	const json_t *extra, *vals, *v;
	const char *key;
	size_t n = 0, i;
	int rc;

	rc = get_str(&as, us, "user", us->val, "as", err);
	if (!rc)
		rc = get_str(&uid, us, "user", us->val, "as-uid", err);
	if (!rc)
		rc = get_str_list(&c->as_groups, us, "user", us->val, "as-groups", err);
	if (rc)
		return rc;
	extra = json_object_get(us->val, "as-user-extra");
	if (extra && !json_is_null(extra)) {
		if (!json_is_object(extra))
			return pos_err(err, us->docs, us->val, "as-user-extra", "'as-user-extra' of user '%s' must be a map of lists", us->name);
		json_object_foreach((json_t *)extra, key, vals)
			n += json_is_array(vals) ? json_array_size(vals) : 1;
		c->as_extra = kf_xcalloc(n + 1, sizeof(*c->as_extra));
		n = 0;
		json_object_foreach((json_t *)extra, key, vals) {
			if (!json_is_array(vals))
				return pos_err(err, us->docs, extra, key, "'as-user-extra' of user '%s': '%s' must be a list of strings", us->name, key);
			json_array_foreach(vals, i, v) {
				if (!json_is_string(v))
					return pos_err(err, us->docs, extra, key, "'as-user-extra' of user '%s': '%s' must be a list of strings", us->name, key);
				c->as_extra[n++] = kf_xasprintf("%s=%s", key, json_string_value(v));
			}
		}
	}
	if ((uid && *uid) || (c->as_groups && c->as_groups[0]) || (c->as_extra && c->as_extra[0])) {
		if (!as || !*as)
			return pos_err(err, us->docs, us->val, c->as_groups ? "as-groups" : uid ? "as-uid" : "as-user-extra",
				       "user '%s' sets as-groups, as-uid or as-user-extra without 'as' (kubectl refuses this too)", us->name);
	}
	c->as_user = as && *as ? kf_xstrdup(as) : NULL;
	c->as_uid = uid && *uid ? kf_xstrdup(uid) : NULL;
	return 0;
}

static int fill_from(struct kf_kube_config *c, struct merged *m,
		     const char *want, struct kf_err **err)
{
	const struct named *ctx, *cl, *us;
	const char *cname, *uname, *server, *token, *tokfile, *ns, *tsn, *proxy;
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
	rc = get_str(&cname, ctx, "context", ctx->val, "cluster", err);
	if (!rc)
		rc = get_str(&uname, ctx, "context", ctx->val, "user", err);
	if (!rc)
		rc = get_str(&ns, ctx, "context", ctx->val, "namespace", err);
	if (rc)
		return rc;
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
	c->namespace = kf_xstrdup(ns && *ns ? ns : "default");

	rc = get_str(&server, cl, "cluster", cl->val, "server", err);
	if (!rc)
		rc = get_str(&tsn, cl, "cluster", cl->val, "tls-server-name", err);
	if (!rc)
		rc = get_str(&proxy, cl, "cluster", cl->val, "proxy-url", err);
	if (rc)
		return rc;
	if (!server || !*server)
		return pos_err(err, cl->docs, cl->val, NULL, "cluster '%s' has no server", cname);
	rc = canon_server(&c->server, cl, server, err);
	if (rc)
		return rc;
	v = json_object_get(cl->val, "insecure-skip-tls-verify");
	if (v && !json_is_boolean(v) && !json_is_null(v))
		return pos_err(err, cl->docs, cl->val, "insecure-skip-tls-verify", "insecure-skip-tls-verify must be true or false");
	c->insecure = json_is_true(v);
	if (tsn && *tsn)
		c->tls_server_name = kf_xstrdup(tsn);
	if (proxy && *proxy) {
		if (!kf_str_startswith(proxy, "http://") && !kf_str_startswith(proxy, "https://") &&
		    !kf_str_startswith(proxy, "socks5://")) {
			char *shown = kf_url_redact(proxy);

			rc = pos_err(err, cl->docs, cl->val, "proxy-url", "proxy-url '%s' of cluster '%s': the scheme must be http, https or socks5", shown, cname);
			free(shown);
			return rc;
		}
		c->proxy_url = kf_xstrdup(proxy);
	}
	rc = take_blob(&c->ca, &c->ca_len, cl, "certificate-authority-data", "certificate-authority", err);
	if (rc)
		return rc;
	if (c->insecure && c->ca)
		return pos_err(err, cl->docs, cl->val, "insecure-skip-tls-verify",
			       "cluster '%s' sets insecure-skip-tls-verify together with a certificate authority; kubectl refuses this too: remove one of them",
			       cname);
	if (!us)
		return 0;

	if (json_object_get(us->val, "auth-provider"))
		return pos_err(err, us->docs, us->val, "auth-provider",
			       "user '%s' uses an auth-provider plugin, which kubectl removed; use an exec plugin, a token or a client certificate", uname);
	if (json_object_get(us->val, "username") || json_object_get(us->val, "password"))
		return pos_err(err, us->docs, us->val, json_object_get(us->val, "username") ? "username" : "password",
			       "user '%s' uses basic auth, which Kubernetes removed; use a token or client certificate", uname);
	rc = parse_impersonation(c, us, err);
	if (rc)
		return rc;
	rc = take_blob(&c->cert, &c->cert_len, us, "client-certificate-data", "client-certificate", err);
	if (!rc)
		rc = take_blob(&c->key, &c->key_len, us, "client-key-data", "client-key", err);
	if (rc)
		return rc;
	if (!c->cert != !c->key)
		return pos_err(err, us->docs, us->val, NULL, "user '%s' has a client certificate without a key, or a key without a certificate", uname);
	rc = get_str(&token, us, "user", us->val, "token", err);
	if (!rc)
		rc = get_str(&tokfile, us, "user", us->val, "tokenFile", err);
	if (rc)
		return rc;
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
	v = json_object_get(us->val, "exec");
	if (v && !json_is_null(v)) {
		/* kubectl: a token or client certificate in the same entry
		 * wins; the plugin is run only when neither is there. */
		if (!c->token && !c->cert) {
			rc = parse_exec(&c->exec, us, v, err);
			if (rc)
				return rc;
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
	if (c->proxy_url && kf_url_has_userinfo(c->proxy_url)) {
		/* http://user:password@proxy: the password never shows. */
		const char *a = strstr(c->proxy_url, "://") + 3;
		const char *e = a + strcspn(a, "/?#");
		const char *at = NULL, *colon;
		char *pw;

		for (const char *q = a; q < e; q++)
			if (*q == '@')
				at = q;
		colon = memchr(a, ':', (size_t)(at - a));
		if (colon) {
			pw = kf_xstrndup(colon + 1, (size_t)(at - colon - 1));
			kf_redact_register(pw);
			free(pw);
		}
	}
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
	free(c->as_user);
	free(c->as_uid);
	strv_free(c->as_groups);
	strv_free(c->as_extra);
	free(c->proxy_url);
	kf_kube_exec_free(c->exec);
	free(c);
}
