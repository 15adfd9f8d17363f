/*
 * test_gitops.c - unit tests for src/gitops: the repository config, the
 * ${VAR} substitution, the git source (on a repository made with the git
 * command in a temporary folder), rendering, and the reconcile loop's
 * thread-safe entry points (wake, drift, leader, status, stop) without a
 * cluster.
 *
 * The config is tested data-first: every tests/data/gitops/config/NAME.yaml
 * is parsed and its diagnostics, as "line:col: message" lines in position
 * order, must equal NAME.errors exactly (empty: valid). Run with
 * KF_UPDATE_GOLDEN=1 to rewrite the .errors files after a deliberate change,
 * then review the diff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gitops/gitops.h"

static const char *source_dir(void)
{
	const char *s = getenv("KF_SOURCE_DIR");

	return s && *s ? s : KF_SOURCE_DIR;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- repository config: golden files ------------------------------------ */

static char *diags_text(struct kf_diags *dg)
{
	struct kf_buf b = KF_BUF_INIT;

	kf_diags_sort(dg);
	for (size_t i = 0; i < dg->n; i++) {
		if (dg->v[i].line)
			kf_buf_addf(&b, "%d:%d: %s\n", dg->v[i].line, dg->v[i].col, dg->v[i].msg);
		else
			kf_buf_addf(&b, "%s\n", dg->v[i].msg);
	}
	return kf_buf_detach(&b, NULL);
}

static void test_gitops_config__golden_files(void **state)
{
	char *dir = kf_xasprintf("%s/tests/data/gitops/config", source_dir());
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, alloc = 0, checked = 0;
	bool update = getenv("KF_UPDATE_GOLDEN") != NULL;

	(void)state;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (!kf_str_endswith(e->d_name, ".yaml"))
			continue;
		kf_xgrow((void **)&names, &alloc, n + 1, sizeof(*names));
		names[n++] = kf_xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *path = kf_path_join(dir, names[i]);
		char *golden = kf_xasprintf("%.*s.errors", (int)(strlen(path) - 5), path);
		char *data = NULL, *want = NULL, *got;
		size_t len = 0, wlen = 0;
		struct kf_diags dg = KF_DIAGS_INIT;
		struct kf_repo_config *c = NULL;
		struct kf_err *err = NULL;
		int rc;

		assert_int_equal(kf_file_read(path, &data, &len, NULL), 0);
		rc = kf_repo_config_parse(&c, names[i], data, len, &dg, &err);
		got = diags_text(&dg);
		/* The loader's own errors carry the file name: drop it. */
		{
			char *prefix = kf_xasprintf("%s:", names[i]);
			struct kf_buf b = KF_BUF_INIT;

			for (const char *p = got; *p;) {
				if (!strncmp(p, prefix, strlen(prefix)))
					p += strlen(prefix);
				kf_buf_addch(&b, *p++);
			}
			free(got);
			got = kf_buf_detach(&b, NULL);
			free(prefix);
		}
		if (update) {
			assert_int_equal(kf_file_write_atomic(golden, got, strlen(got), 0644, NULL), 0);
		} else {
			if (kf_file_read(golden, &want, &wlen, NULL) < 0)
				fail_msg("%s: no golden file %s (run with KF_UPDATE_GOLDEN=1)", names[i], golden);
			if (strcmp(want, got))
				fail_msg("%s: diagnostics differ\n--- want\n%s--- got\n%s", names[i], want, got);
		}
		/* Valid exactly when there is nothing to report. */
		assert_int_equal(rc == 0, *got == '\0');
		assert_int_equal(c != NULL, *got == '\0');
		checked++;
		kf_repo_config_free(c);
		kf_err_free(err);
		kf_diags_release(&dg);
		free(got);
		free(want);
		free(data);
		free(golden);
		free(path);
		free(names[i]);
	}
	free(names);
	free(dir);
	assert_true(checked >= 10);
}

static void test_gitops_config__design_example_values(void **state)
{
	char *path = kf_xasprintf("%s/tests/data/gitops/config/valid-design.yaml", source_dir());
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_repo_config *c = NULL;
	const struct kf_repo_env *e;
	char *data = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(kf_file_read(path, &data, &len, NULL), 0);
	assert_int_equal(kf_repo_config_parse(&c, "kfboot.yaml", data, len, &dg, NULL), 0);
	assert_int_equal(c->nenvs, 3);
	e = kf_repo_config_env(c, "dev");
	assert_non_null(e);
	assert_string_equal(e->context, "dev");
	assert_string_equal(e->namespace, "ml-dev");
	assert_int_equal(e->npaths, 2);
	assert_string_equal(e->paths[1], "environments/dev");
	assert_int_equal(e->nsub, 1);
	assert_string_equal(e->sub_keys[0], "REPLICAS");
	assert_string_equal(e->sub_vals[0], "1");
	assert_true(e->prune && e->auto_pin && !e->has_promotion);
	assert_true(e->timeout == 300);
	e = kf_repo_config_env(c, "prod");
	assert_true(e->has_promotion && !e->prune);
	assert_string_equal(e->promotion.from, "staging");
	assert_true(e->promotion.soak == 3600 && !e->promotion.automatic);
	assert_int_equal(e->promotion.ngates, 1);
	assert_string_equal(e->promotion.gates[0].metric, "test_accuracy");
	assert_true(e->promotion.gates[0].has_min && e->promotion.gates[0].min == 0.97 && !e->promotion.gates[0].has_max);
	assert_string_equal(c->kfp.token_file, "/var/run/secrets/kubeflow/pipelines/token");
	assert_int_equal(c->npipelines, 1);
	assert_string_equal(c->pipelines[0].watch[0], "pipelines/xor/**");
	assert_int_equal(json_integer_value(json_object_get(c->pipelines[0].parameters, "epochs")), 1000);
	assert_int_equal(c->pipelines[0].concurrency, KF_CONC_SKIP);
	assert_true(c->pipelines[0].has_schedule && c->pipelines[0].schedule.max_concurrency == 1);
	assert_string_equal(c->pipelines[0].schedule.cron, "0 0 2 * * *");
	assert_string_equal(c->models[0].serving, "serving/xor.yaml");
	assert_null(kf_repo_config_env(c, "qa"));
	kf_repo_config_free(c);
	kf_diags_release(&dg);
	free(data);
	free(path);
}

static void test_gitops_config__defaults(void **state)
{
	const char *y = "apiVersion: kfboot.io/v1alpha1\nkind: Repository\nspec:\n  environments:\n"
			"    - { name: dev, paths: [./a/, .], timeout: 90s }\n"
			"  pipelines: [ { name: p, package: p.yaml } ]\n";
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_repo_config *c = NULL;

	(void)state;
	assert_int_equal(kf_repo_config_parse(&c, "kfboot.yaml", y, strlen(y), &dg, NULL), 0);
	assert_null(c->envs[0].namespace);
	assert_false(c->envs[0].prune);
	assert_string_equal(c->envs[0].paths[0], "a");
	assert_string_equal(c->envs[0].paths[1], "");
	assert_true(c->envs[0].timeout == 90);
	assert_string_equal(c->kfp.endpoint, "http://ml-pipeline.kubeflow.svc.cluster.local:8888");
	assert_string_equal(c->pipelines[0].experiment, "p");
	assert_true(json_is_object(c->pipelines[0].parameters));
	assert_false(c->pipelines[0].has_schedule);
	kf_repo_config_free(c);
	kf_diags_release(&dg);
}

/* ---- substitution ------------------------------------------------------ */

struct subst_case {
	const char *in, *want, *errors;
};

static void test_gitops_subst__flux_semantics(void **state)
{
	static const char *const keys[] = { "REPLICAS", "EMPTY", "NAME" };
	static const char *const vals[] = { "3", "", "web" };
	static const struct subst_case cases[] = {
		{ "replicas: ${REPLICAS}\n", "replicas: 3\n", "" },
		{ "a: ${NAME}-${NAME}\n", "a: web-web\n", "" },
		{ "a: ${MISSING:=dflt}\n", "a: dflt\n", "" },
		{ "a: ${MISSING:-dflt}\n", "a: dflt\n", "" },
		{ "a: ${NAME:=dflt}\n", "a: web\n", "" },
		{ "a: ${EMPTY:=dflt}\n", "a: dflt\n", "" },
		{ "a: \"${EMPTY}\"\n", "a: \"\"\n", "" },
		{ "a: ${MISSING:=}\n", "a: \n", "" },
		{ "a: $${NAME}\n", "a: ${NAME}\n", "" },
		{ "a: $NAME ${ NAME} ${1X} $\n", "a: $NAME ${ NAME} ${1X} $\n", "" },
		{ "# ${NOT_IN_COMMENTS}\na: 1\n", "# ${NOT_IN_COMMENTS}\na: 1\n", "" },
		{ "a: 1\nb:\n  c: x${NOPE}y\n", NULL, "f.yaml:3:7: variable 'NOPE' is not set and has no default (add it to the environment's substitute, or write ${NOPE:=default})\n" },
		{ "a: ${X1}\nb: ${X2}\n", NULL, "f.yaml:1:4: variable 'X1' is not set and has no default (add it to the environment's substitute, or write ${X1:=default})\n"
						"f.yaml:2:4: variable 'X2' is not set and has no default (add it to the environment's substitute, or write ${X2:=default})\n" },
		{ "a: ${NOPE}\n---\nmetadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\nb: ${NOPE}\n",
		  NULL, "f.yaml:1:4: variable 'NOPE' is not set and has no default (add it to the environment's substitute, or write ${NOPE:=default})\n" },
		{ "metadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\nb: ${NOPE}\n---\nc: ${NAME}\n",
		  "metadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\nb: ${NOPE}\n---\nc: web\n", "" },
		{ "a: ${UNCLOSED\n", "a: ${UNCLOSED\n", "" },
	};
	struct kf_subst_vars v = { keys, vals, 3 };

	(void)state;
	for (size_t i = 0; i < KF_ARRAY_SIZE(cases); i++) {
		struct kf_buf out = KF_BUF_INIT;
		struct kf_diags dg = KF_DIAGS_INIT;
		struct kf_buf errs = KF_BUF_INIT;
		int rc = kf_subst(&out, cases[i].in, strlen(cases[i].in), "f.yaml", &v, &dg);

		for (size_t j = 0; j < dg.n; j++) {
			char *s = kf_diag_str(&dg.v[j]);

			kf_buf_addf(&errs, "%s\n", s);
			free(s);
		}
		if (strcmp(errs.buf, cases[i].errors))
			fail_msg("case %zu (%s): errors\n want: %s\n got:  %s", i, cases[i].in, cases[i].errors, errs.buf);
		assert_int_equal(rc == 0, !*cases[i].errors);
		if (cases[i].want && strcmp(out.buf, cases[i].want))
			fail_msg("case %zu: want '%s' got '%s'", i, cases[i].want, out.buf);
		kf_buf_release(&out);
		kf_buf_release(&errs);
		kf_diags_release(&dg);
	}
}

/* ---- source and render on a real repository ---------------------------- */

struct repo_fixture {
	char *dir;      /* temp folder */
	char *work;     /* the repository */
	char *state;    /* state folder */
	char c1[41], c2[41];
};

static int sh(const char *fmt, ...) KF_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int rc;

	va_start(ap, fmt);
	cmd = kf_xvasprintf(fmt, ap);
	va_end(ap);
	rc = system(cmd);
	free(cmd);
	return rc;
}

static void write_file(const char *dir, const char *rel, const char *text)
{
	char *p = kf_path_join(dir, rel);
	char *slash = strrchr(p, '/');

	*slash = '\0';
	assert_int_equal(kf_mkdir_p(p, 0755, NULL), 0);
	*slash = '/';
	assert_int_equal(kf_file_write_atomic(p, text, strlen(text), 0644, NULL), 0);
	free(p);
}

static void rev_parse(const char *work, char out[41])
{
	char *cmd = kf_xasprintf("git -C '%s' rev-parse HEAD", work);
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	assert_non_null(fgets(out, 41, f));
	pclose(f);
	free(cmd);
}

static int repo_setup(void **state)
{
	struct repo_fixture *f = kf_xcalloc(1, sizeof(*f));
	char tmpl[] = "/tmp/kf-test-gitops-XXXXXX";

	if (sh("git --version >/dev/null 2>&1") != 0) {
		free(f);
		*state = NULL;
		return 0;
	}
	f->dir = kf_xstrdup(mkdtemp(tmpl));
	f->work = kf_path_join(f->dir, "work");
	f->state = kf_path_join(f->dir, "state");
	assert_int_equal(sh("git init -q -b main '%s'", f->work), 0);
	write_file(f->work, "kfboot.yaml",
		   "apiVersion: kfboot.io/v1alpha1\nkind: Repository\nspec:\n  environments:\n"
		   "    - name: dev\n      namespace: ml-dev\n      paths: [apps, single.yaml]\n"
		   "      substitute: { NUM: \"2\" }\n");
	write_file(f->work, "apps/b/z.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: bz }\n");
	write_file(f->work, "apps/a.yml", "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\ndata: { num: \"${NUM}\" }\n");
	write_file(f->work, "apps/b.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: { name: ml-dev }\n---\n"
					   "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: { name: cr }\n");
	write_file(f->work, "apps/notes.txt", "not yaml\n");
	write_file(f->work, "single.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: s, namespace: other }\n");
	write_file(f->work, "pipelines/xor/pipeline.yaml", "x: 1\n");
	assert_int_equal(sh("cd '%s' && git add -A && git -c user.email=t@e -c user.name=t commit -qm one", f->work), 0);
	rev_parse(f->work, f->c1);
	write_file(f->work, "pipelines/xor/pipeline.yaml", "x: 2\n");
	write_file(f->work, "pipelines/other/p.yaml", "y: 1\n");
	assert_int_equal(sh("cd '%s' && git rm -q apps/notes.txt && git add -A && git -c user.email=t@e -c user.name=t commit -qm two", f->work), 0);
	rev_parse(f->work, f->c2);
	*state = f;
	return 0;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *fw)
{
	(void)st;
	(void)flag;
	(void)fw;
	return remove(p);
}

static int repo_teardown(void **state)
{
	struct repo_fixture *f = *state;

	if (!f)
		return 0;
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f->dir);
	free(f->work);
	free(f->state);
	free(f);
	return 0;
}

static void test_gitops_source__fetch_read_list_diff(void **state)
{
	struct repo_fixture *f = *state;
	struct kf_git_source *src = NULL;
	struct kf_strlist l = KF_STRLIST_INIT;
	struct kf_buf b = KF_BUF_INIT;
	struct kf_err *err = NULL;
	enum kf_git_entry kind;
	const char *specs[] = { "pipelines/xor/**" };
	char commit[41], short_rev[13];
	bool moved = false;

	if (!f)
		skip();
	assert_int_equal(kf_git_source_open(&src, f->work, "main", f->state, NULL, &err), 0);
	assert_string_equal(kf_git_source_head(src), "");
	assert_int_equal(kf_git_source_check(src, &moved, &err), 0);
	assert_true(moved);
	assert_int_equal(kf_git_source_fetch(src, commit, &err), 0);
	assert_string_equal(commit, f->c2);
	assert_int_equal(kf_git_source_check(src, &moved, &err), 0);
	assert_false(moved);
	/* read */
	assert_int_equal(kf_git_source_read(src, f->c1, "pipelines/xor/pipeline.yaml", &b, &err), 0);
	assert_string_equal(b.buf, "x: 1\n");
	assert_int_equal(kf_git_source_read(src, f->c2, "./pipelines/xor/pipeline.yaml", &b, &err), 0);
	assert_string_equal(b.buf, "x: 2\n");
	assert_int_equal(kf_git_source_read(src, f->c2, "apps/notes.txt", &b, &err), KF_ENOENT);
	kf_err_clear(&err);
	/* stat */
	assert_int_equal(kf_git_source_stat(src, f->c2, "apps/", &kind, &err), 0);
	assert_int_equal(kind, KF_GIT_DIR);
	assert_int_equal(kf_git_source_stat(src, f->c2, "single.yaml", &kind, &err), 0);
	assert_int_equal(kind, KF_GIT_FILE);
	assert_int_equal(kf_git_source_stat(src, f->c2, "nope", &kind, &err), 0);
	assert_int_equal(kind, KF_GIT_NONE);
	/* list: recursive, lexical by full path */
	assert_int_equal(kf_git_source_list(src, f->c1, "apps", &l, &err), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.v[0], "apps/a.yml");
	assert_string_equal(l.v[1], "apps/b.yaml");
	assert_string_equal(l.v[2], "apps/b/z.yaml");
	assert_string_equal(l.v[3], "apps/notes.txt");
	kf_strlist_release(&l);
	/* changed paths, with and without a pathspec, and from nothing */
	assert_int_equal(kf_git_source_changed_paths(src, f->c1, f->c2, specs, 1, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], "pipelines/xor/pipeline.yaml");
	kf_strlist_release(&l);
	assert_int_equal(kf_git_source_changed_paths(src, f->c1, f->c2, NULL, 0, &l, &err), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0], "apps/notes.txt");
	assert_string_equal(l.v[1], "pipelines/other/p.yaml");
	kf_strlist_release(&l);
	assert_int_equal(kf_git_source_changed_paths(src, NULL, f->c1, specs, 1, &l, &err), 0);
	assert_int_equal(l.n, 1);
	kf_strlist_release(&l);
	/* resolve */
	memcpy(short_rev, f->c1, 12);
	short_rev[12] = '\0';
	assert_int_equal(kf_git_source_resolve(src, short_rev, commit, &err), 0);
	assert_string_equal(commit, f->c1);
	assert_int_equal(kf_git_source_resolve(src, "main", commit, &err), 0);
	assert_string_equal(commit, f->c2);
	assert_int_equal(kf_git_source_resolve(src, "no-such-rev", commit, &err), KF_ENOENT);
	kf_err_clear(&err);
	kf_buf_release(&b);
	kf_git_source_free(src);
	/* A second open finds the cache and its head. */
	assert_int_equal(kf_git_source_open(&src, f->work, "main", f->state, NULL, &err), 0);
	assert_string_equal(kf_git_source_head(src), f->c2);
	kf_git_source_free(src);
	/* A branch that does not exist. */
	assert_int_equal(kf_git_source_open(&src, f->work, "nope", f->state, NULL, &err), 0);
	assert_int_equal(kf_git_source_check(src, &moved, &err), KF_ENOENT);
	assert_non_null(strstr(err->msg, "no branch 'nope'"));
	kf_err_clear(&err);
	kf_git_source_free(src);
}

static void test_gitops_render__order_substitution_namespace(void **state)
{
	struct repo_fixture *f = *state;
	struct kf_git_source *src = NULL;
	struct kf_repo_config *cfg = NULL;
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_err *err = NULL;
	char commit[41];

	if (!f)
		skip();
	assert_int_equal(kf_git_source_open(&src, f->work, "main", f->state, NULL, &err), 0);
	assert_int_equal(kf_git_source_fetch(src, commit, &err), 0);
	assert_int_equal(kf_repo_config_load(&cfg, src, commit, &err), 0);
	if (kf_gitops_render_env(&set, src, commit, cfg, &cfg->envs[0], NULL, &dg, &err) != 0) {
		char *m = dg.n ? kf_diag_str(&dg.v[0]) : kf_err_str(err);

		fail_msg("render failed: %s", m);
	}
	assert_int_equal(set.n, 5);
	/* lexical by full path: apps/a.yml, apps/b.yaml (2 docs), apps/b/z.yaml, then single.yaml */
	assert_string_equal(set.v[0].name, "a");
	assert_string_equal(set.v[0].file, "apps/a.yml");
	assert_string_equal(json_string_value(json_object_get(json_object_get(set.v[0].obj, "data"), "num")), "2");
	assert_string_equal(set.v[1].kind, "Namespace");
	assert_null(set.v[1].ns);
	assert_string_equal(set.v[2].kind, "ClusterRole");
	assert_null(set.v[2].ns);
	assert_int_equal(set.v[2].line, 5);
	assert_string_equal(set.v[3].name, "bz");
	assert_string_equal(set.v[3].ns, "ml-dev");
	assert_string_equal(json_string_value(json_object_get(json_object_get(set.v[3].obj, "metadata"), "namespace")), "ml-dev");
	assert_string_equal(set.v[4].ns, "other");
	kf_objset_release(&set);
	kf_repo_config_free(cfg);
	kf_diags_release(&dg);
	kf_git_source_free(src);
}

/* ---- the loop: threads hand work in, the status is a snapshot --------- */

struct counts {
	int fetches, reconciles, idles;
};

static void on_fetch(void *ctx, const char *what, double secs, const struct kf_err *e)
{
	(void)what;
	(void)secs;
	(void)e;
	((struct counts *)ctx)->fetches++;
}

static void on_reconcile(void *ctx, const struct kf_env_status *st, const char *reason)
{
	(void)st;
	(void)reason;
	((struct counts *)ctx)->reconciles++;
}

static void on_idle(void *ctx, struct kf_reconciler *r)
{
	(void)r;
	((struct counts *)ctx)->idles++;
}

static void *loop_thread(void *arg)
{
	struct kf_err *err = NULL;

	kf_reconciler_run(arg, &err);
	kf_err_free(err);
	return NULL;
}

static void test_gitops_reconciler__threads_status_leader_stop(void **state)
{
	struct repo_fixture *f = *state;
	struct kf_reconciler_opts o = { 0 };
	struct kf_reconciler *r = NULL;
	struct counts n = { 0 };
	struct kf_reconciler_hooks h = { &n, on_fetch, on_reconcile, NULL, on_idle };
	struct kf_err *err = NULL;
	pthread_t t;
	json_t *st, *env;
	char *missing;
	double t0;

	if (!f)
		skip();
	missing = kf_path_join(f->dir, "no-such-kubeconfig");
	o.url = f->work;
	o.state_dir = f->state;
	o.kubeconfig = missing;
	o.interval = 3600;
	o.start_as_leader = true;
	assert_int_equal(kf_reconciler_new(&r, &o, &err), 0);
	kf_reconciler_add_hooks(r, &h);
	assert_false(kf_reconciler_ready(r));
	assert_int_equal(pthread_create(&t, NULL, loop_thread, r), 0);
	for (t0 = kf_now(); !kf_reconciler_ready(r) && kf_now() - t0 < 20;)
		kf_sleep(0.02);
	assert_true(kf_reconciler_ready(r));
	st = kf_reconciler_status_json(r);
	assert_string_equal(json_string_value(json_object_get(st, "head")), f->c2);
	assert_true(json_is_true(json_object_get(st, "leader")));
	env = json_array_get(json_object_get(st, "environments"), 0);
	assert_string_equal(json_string_value(json_object_get(env, "name")), "dev");
	/* No cluster: the environment failed, and says why; nothing was applied. */
	assert_string_equal(json_string_value(json_object_get(env, "result")), "failed");
	assert_string_equal(json_string_value(json_object_get(env, "appliedCommit")), "");
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(env, "error"), "message")), "no-such-kubeconfig"));
	json_decref(st);
	/* Wakes and drift reports from other threads are taken; a standby
	 * keeps serving its status. */
	kf_reconciler_wake(r, KF_WAKE_SOURCE);
	kf_reconciler_enqueue_object(r, "dev", "/ConfigMap/ml-dev/a");
	kf_reconciler_enqueue_object(r, "dev", "/ConfigMap/ml-dev/a");
	kf_reconciler_set_leader(r, false);
	assert_false(kf_reconciler_is_leader(r));
	st = kf_reconciler_status_json(r);
	assert_true(json_is_false(json_object_get(st, "leader")));
	json_decref(st);
	t0 = kf_now();
	kf_reconciler_stop(r);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(kf_now() - t0 < 5);
	assert_true(n.fetches >= 2); /* check + fetch */
	assert_true(n.reconciles >= 1);
	assert_true(n.idles >= 1);
	kf_reconciler_free(r);
	free(missing);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gitops_config__golden_files),
		cmocka_unit_test(test_gitops_config__design_example_values),
		cmocka_unit_test(test_gitops_config__defaults),
		cmocka_unit_test(test_gitops_subst__flux_semantics),
		cmocka_unit_test_setup_teardown(test_gitops_source__fetch_read_list_diff, repo_setup, repo_teardown),
		cmocka_unit_test_setup_teardown(test_gitops_render__order_substitution_namespace, repo_setup, repo_teardown),
		cmocka_unit_test_setup_teardown(test_gitops_reconciler__threads_status_leader_stop, repo_setup, repo_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
