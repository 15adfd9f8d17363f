/*
 * render.c - an environment of a commit -> the set of objects to apply, as
 * a pipeline of small steps that share one struct kf_render:
 *
 *  1. collect: every *.yaml / *.yml under the environment's paths, read
 *     straight from the commit's tree, recursively, in lexical order of the
 *     full path; a folder holding a kustomization.yaml is rendered instead
 *     by `kustomize build` (or `kubectl kustomize` when kustomize is not on
 *     PATH) on a temporary export of the commit's tree, with a timeout;
 *  2. substitute: ${VAR}, ${VAR:=default}, $${VAR} (subst.c);
 *  3. parse: YAML -> objects, with file:line:col of each document (each
 *     file's text is released once parsed);
 *  4. namespace: namespaced objects without a namespace get the
 *     environment's; duplicates (same group, kind, namespace, name) are
 *     problems naming both places.
 * Steps registered with kf_render_add_step() (model pins, serving
 * templates) run after these. Every problem lands in the diags; nothing
 * here talks to a cluster.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gitops.h"

#define KUSTOMIZE_OUT_CAP (64u << 20)

static bool is_yaml(const char *p)
{
	return kf_str_endswith(p, ".yaml") || kf_str_endswith(p, ".yml");
}

static bool is_kustomization(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return !strcmp(b, "kustomization.yaml") || !strcmp(b, "kustomization.yml") || !strcmp(b, "Kustomization");
}

static struct kf_render_doc *add_doc(struct kf_render *r, const char *file)
{
	struct kf_render_doc *d;

	kf_xgrow((void **)&r->docs, &r->docs_alloc, r->ndocs + 1, sizeof(*r->docs));
	d = &r->docs[r->ndocs++];
	memset(d, 0, sizeof(*d));
	d->file = kf_xstrdup(file);
	kf_buf_init(&d->text, 0);
	return d;
}

static bool on_path(const char *dir, const char *name)
{
	char *path = getenv("PATH") ? kf_xstrdup(getenv("PATH")) : kf_xstrdup("/usr/local/bin:/usr/bin:/bin");
	char *save = NULL;
	bool found = false;

	(void)dir;
	for (char *p = strtok_r(path, ":", &save); p && !found; p = strtok_r(NULL, ":", &save)) {
		char *f = kf_path_join(p, name);

		found = access(f, X_OK) == 0;
		free(f);
	}
	free(path);
	return found;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(p);
	return 0;
}

/* Run argv with a deadline; stdout into out (capped), stderr into errb. */
static int run_capture(char *const argv[], double timeout, struct kf_buf *out, struct kf_buf *errb,
		       int *status, struct kf_err **err)
{
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	pid_t pid;
	double deadline = kf_now() + timeout;
	bool open_o = true, open_e = true;
	int rc = 0;

	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		rc = kf_err_errno(err, "pipe");
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = kf_err_errno(err, "fork");
		goto out;
	}
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	out->cap = KUSTOMIZE_OUT_CAP;
	errb->cap = 64 * 1024;
	while (open_o || open_e) {
		struct pollfd fds[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
		double left = deadline - kf_now();
		char chunk[65536];

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			rc = kf_err_set(err, KF_ETIMEOUT, "%s %s: no result after %.0f s", argv[0], argv[1], timeout);
			goto out;
		}
		fds[0].fd = open_o ? po[0] : -1;
		fds[1].fd = open_e ? pe[0] : -1;
		if (poll(fds, 2, (int)(left * 1000) + 1) < 0) {
			if (errno == EINTR && !kf_interrupted())
				continue;
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			rc = kf_err_set(err, KF_ECANCEL, "interrupted");
			goto out;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			n = read(fds[i].fd, chunk, sizeof(chunk));
			if (n <= 0) {
				if (i == 0)
					open_o = false;
				else
					open_e = false;
				continue;
			}
			if (kf_buf_add(i == 0 ? out : errb, chunk, (size_t)n) < 0 && i == 0) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
				rc = kf_err_set(err, KF_ETOOBIG, "%s output is larger than %u MiB", argv[0], KUSTOMIZE_OUT_CAP >> 20);
				goto out;
			}
		}
	}
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
out:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	return rc;
}

/* kustomize build of `dir` (repository-relative) in the export at root. */
static int kustomize(struct kf_render *r, const char **root, char **tmpdir, const char *dir,
		     struct kf_err **err)
{
	const struct kf_render_opts *o = r->opts;
	struct kf_buf out = KF_BUF_INIT, eb = KF_BUF_INIT;
	char *full = NULL, *label;
	struct kf_render_doc *d;
	int status = 0, rc = 0;
	double timeout = o && o->kustomize_timeout > 0 ? o->kustomize_timeout : 60;

	if (!*tmpdir) {
		const char *t = getenv("TMPDIR");
		char *tmpl = kf_xasprintf("%s/kfboot-render-XXXXXX", t && *t ? t : "/tmp");

		if (!mkdtemp(tmpl)) {
			rc = kf_err_errno(err, "temporary folder");
			free(tmpl);
			return rc;
		}
		*tmpdir = tmpl;
		rc = kf_git_source_export(r->src, r->commit, tmpl, err);
		if (rc)
			return kf_err_wrap(err, "export of commit %.12s", r->commit);
		*root = tmpl;
	}
	full = *dir ? kf_path_join(*root, dir) : kf_xstrdup(*root);
	label = kf_xasprintf("%s%skustomization.yaml (kustomize build)", dir, *dir ? "/" : "");
	if ((o && o->kustomize) || on_path(NULL, "kustomize")) {
		char *argv[] = { (char *)(o && o->kustomize ? o->kustomize : "kustomize"), "build", full, NULL };

		rc = run_capture(argv, timeout, &out, &eb, &status, err);
	} else {
		char *argv[] = { "kubectl", "kustomize", full, NULL };

		rc = run_capture(argv, timeout, &out, &eb, &status, err);
	}
	if (rc) {
		rc = kf_err_wrap(err, "%s", label);
		goto done;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		char *msg;

		kf_buf_rtrim(&eb);
		/* The tool names the temporary folder: show repository paths. */
		msg = kf_xstrdup(eb.buf);
		{
			struct kf_buf clean = KF_BUF_INIT;
			size_t rl = strlen(*root);

			for (const char *p = msg; *p;) {
				if (!strncmp(p, *root, rl)) {
					p += rl;
					if (*p == '/')
						p++;
					continue;
				}
				kf_buf_addch(&clean, *p++);
			}
			free(msg);
			msg = kf_buf_detach(&clean, NULL);
		}
		kf_diags_add(r->diags, label, 0, 0, "kustomize build failed: %s",
			     *msg ? msg : WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "neither kustomize nor kubectl found on PATH" : "no message");
		free(msg);
		goto done;
	}
	d = add_doc(r, label);
	kf_buf_add(&d->text, out.buf, out.len);
done:
	free(label);
	free(full);
	kf_buf_release(&out);
	kf_buf_release(&eb);
	return rc;
}

static int step_collect(struct kf_render *r, void *ctx, struct kf_err **err)
{
	char *tmpdir = NULL;
	const char *root = NULL;
	int rc = 0;

	(void)ctx;
	for (size_t i = 0; i < r->env->npaths && !rc; i++) {
		const char *path = r->env->paths[i];
		enum kf_git_entry kind;
		struct kf_strlist files = KF_STRLIST_INIT, roots = KF_STRLIST_INIT;

		rc = kf_git_source_stat(r->src, r->commit, path, &kind, err);
		if (rc)
			break;
		if (kind == KF_GIT_NONE) {
			kf_diags_add(r->diags, r->cfg->file, r->env->pos.line, r->env->pos.col,
				     "environment '%s': path '%s' does not exist in commit %.12s", r->env->name, path, r->commit);
			continue;
		}
		if (kind == KF_GIT_FILE) {
			struct kf_render_doc *d = add_doc(r, path);

			rc = kf_git_source_read(r->src, r->commit, path, &d->text, err);
			continue;
		}
		rc = kf_git_source_list(r->src, r->commit, path, &files, err);
		/* Folders holding a kustomization (outermost first: the list is sorted
		 * and a parent's path sorts before its children's). */
		for (size_t j = 0; !rc && j < files.n; j++) {
			const char *f = files.v[j], *slash = strrchr(f, '/');
			char *dir;
			bool inside = false;

			if (!is_kustomization(f))
				continue;
			dir = slash ? kf_xstrndup(f, (size_t)(slash - f)) : kf_xstrdup("");
			for (size_t k = 0; k < roots.n && !inside; k++)
				inside = !*roots.v[k] || !strcmp(dir, roots.v[k]) ||
					 (kf_str_startswith(dir, roots.v[k]) && dir[strlen(roots.v[k])] == '/');
			if (!inside)
				kf_strlist_add(&roots, dir);
			free(dir);
		}
		for (size_t j = 0; !rc && j < files.n; j++) {
			const char *f = files.v[j];
			const char *under = NULL;

			for (size_t k = 0; k < roots.n && !under; k++)
				if (!*roots.v[k] || (kf_str_startswith(f, roots.v[k]) && f[strlen(roots.v[k])] == '/'))
					under = roots.v[k];
			if (under) {
				const char *rest = *under ? f + strlen(under) + 1 : f;

				if (is_kustomization(rest) && !strchr(rest, '/'))
					rc = kustomize(r, &root, &tmpdir, under, err);
				continue;
			}
			if (is_yaml(f)) {
				struct kf_render_doc *d = add_doc(r, f);

				rc = kf_git_source_read(r->src, r->commit, f, &d->text, err);
			}
		}
		kf_strlist_release(&files);
		kf_strlist_release(&roots);
	}
	if (tmpdir) {
		nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
		free(tmpdir);
	}
	return rc;
}

static int step_substitute(struct kf_render *r, void *ctx, struct kf_err **err)
{
	struct kf_subst_vars v = { (const char *const *)r->env->sub_keys, (const char *const *)r->env->sub_vals, r->env->nsub };

	(void)ctx;
	(void)err;
	for (size_t i = 0; i < r->ndocs; i++) {
		struct kf_render_doc *d = &r->docs[i];
		struct kf_buf out = KF_BUF_INIT;

		kf_subst(&out, d->text.buf, d->text.len, d->file, &v, r->diags);
		kf_buf_release(&d->text);
		d->text = out;
		d->substituted = true;
	}
	return 0;
}

static int step_parse(struct kf_render *r, void *ctx, struct kf_err **err)
{
	(void)ctx;
	(void)err;
	/* Each file's text is dropped once parsed: no later step reads it,
	 * and the text and the tree of every object at once is the peak of a
	 * render of thousands of objects. */
	for (size_t i = 0; i < r->ndocs; i++) {
		kf_objset_load_buf(&r->set, r->docs[i].file, r->docs[i].text.buf, r->docs[i].text.len, r->diags, NULL);
		kf_buf_release(&r->docs[i].text);
	}
	return 0;
}

/* Cluster-scoped built-in kinds (offline rendering; with a cluster,
 * discovery decides). */
static const char *const cluster_kinds[] = {
	"Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
	"CustomResourceDefinition", "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration",
	"MutatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
	"APIService", "IngressClass", "RuntimeClass", "CSIDriver", "CSINode", "VolumeAttachment",
	"CertificateSigningRequest", "FlowSchema", "PriorityLevelConfiguration", "ComponentStatus",
};

static bool crd_scope(const struct kf_objset *set, const char *group, const char *kind, bool *namespaced)
{
	for (size_t i = 0; i < set->n; i++) {
		const json_t *o = set->v[i].obj, *spec, *names;
		const char *g, *k, *scope;

		if (strcmp(set->v[i].kind, "CustomResourceDefinition"))
			continue;
		spec = json_object_get(o, "spec");
		names = json_object_get(spec, "names");
		g = json_string_value(json_object_get(spec, "group"));
		k = json_string_value(json_object_get(names, "kind"));
		scope = json_string_value(json_object_get(spec, "scope"));
		if (g && k && !strcmp(g, group) && !strcmp(k, kind)) {
			*namespaced = !scope || strcmp(scope, "Cluster");
			return true;
		}
	}
	return false;
}

static bool is_namespaced(const struct kf_render *r, const struct kf_obj *o)
{
	const struct kf_rest *rest = r->opts && r->opts->d ? kf_discovery_find(r->opts->d, o->group, o->version, o->kind) : NULL;
	bool ns = true;

	if (rest)
		return rest->namespaced;
	if (crd_scope(&r->set, o->group, o->kind, &ns))
		return ns;
	for (size_t i = 0; i < KF_ARRAY_SIZE(cluster_kinds); i++)
		if (!strcmp(o->kind, cluster_kinds[i]))
			return false;
	return true;
}

static char *obj_key(const struct kf_obj *o)
{
	return kf_xasprintf("%s/%s/%s/%s", o->group, o->kind, o->ns ? o->ns : "", o->name);
}

struct keyed {
	char *key;
	size_t idx;
};

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

static int step_namespace(struct kf_render *r, void *ctx, struct kf_err **err)
{
	const char *ns = r->env->namespace ? r->env->namespace : "default";
	struct keyed *keys;

	(void)ctx;
	(void)err;
	for (size_t i = 0; i < r->set.n; i++) {
		struct kf_obj *o = &r->set.v[i];
		json_t *md = json_object_get(o->obj, "metadata");

		if (!is_namespaced(r, o)) {
			o->namespaced = false;
			continue;
		}
		o->namespaced = true;
		if (!o->ns) {
			o->ns = kf_xstrdup(ns);
			json_object_set_new(md, "namespace", json_string(ns));
		}
	}
	keys = kf_xcalloc(r->set.n + 1, sizeof(*keys));
	for (size_t i = 0; i < r->set.n; i++) {
		keys[i].key = obj_key(&r->set.v[i]);
		keys[i].idx = i;
	}
	qsort(keys, r->set.n, sizeof(*keys), cmp_keyed);
	for (size_t i = 1; i < r->set.n; i++) {
		if (strcmp(keys[i].key, keys[i - 1].key))
			continue;
		{
			const struct kf_obj *a = &r->set.v[keys[i - 1].idx], *b = &r->set.v[keys[i].idx];
			char *label = kf_obj_label(b);

			kf_diags_add(r->diags, b->file, b->line, b->col, "duplicate object %s (also at %s:%d:%d)",
				     label, a->file, a->line, a->col);
			free(label);
		}
	}
	for (size_t i = 0; i < r->set.n; i++)
		free(keys[i].key);
	free(keys);
	return 0;
}

const struct kf_render_step kf_render_builtin_steps[] = {
	{ "collect", step_collect, NULL },
	{ "substitute", step_substitute, NULL },
	{ "parse", step_parse, NULL },
	{ "namespace", step_namespace, NULL },
};
const size_t kf_render_builtin_nsteps = KF_ARRAY_SIZE(kf_render_builtin_steps);

static struct kf_render_step *extra_steps;
static size_t n_extra, extra_alloc;

void kf_render_add_step(const struct kf_render_step *step)
{
	kf_xgrow((void **)&extra_steps, &extra_alloc, n_extra + 1, sizeof(*extra_steps));
	extra_steps[n_extra++] = *step;
}

int kf_gitops_render_env(struct kf_objset *out, struct kf_git_source *src, const char *commit,
			 const struct kf_repo_config *cfg, const struct kf_repo_env *env,
			 const struct kf_render_opts *opts, struct kf_diags *diags, struct kf_err **err)
{
	struct kf_render r = { 0 };
	size_t before = diags->n;
	int rc = 0;

	r.src = src;
	r.commit = commit;
	r.cfg = cfg;
	r.env = env;
	r.opts = opts;
	r.diags = diags;
	for (size_t i = 0; i < kf_render_builtin_nsteps + n_extra && !rc; i++) {
		const struct kf_render_step *s = i < kf_render_builtin_nsteps ? &kf_render_builtin_steps[i]
									   : &extra_steps[i - kf_render_builtin_nsteps];

		rc = s->run(&r, s->ctx, err);
		if (rc)
			kf_err_wrap(err, "render '%s', step %s", env->name, s->name);
		/* Text problems make parsing pointless (and noisy). */
		if (!rc && i == 1 && diags->n > before)
			break;
	}
	for (size_t i = 0; i < r.ndocs; i++) {
		free(r.docs[i].file);
		kf_buf_release(&r.docs[i].text);
	}
	free(r.docs);
	if (!rc && diags->n > before)
		rc = kf_err_set(err, KF_EINVAL, "environment '%s' at commit %.12s: %zu problem(s)", env->name, commit,
				diags->n - before);
	if (rc)
		kf_objset_release(&r.set);
	else
		*out = r.set;
	return rc;
}
