/*
 * cmd_runs.c - `kfboot runs`: the Kubeflow Pipelines runs kfboot started
 * for git commits (read from the run journals in the cluster), `runs
 * compare RUN RUN` (parameters and metrics side by side), `runs trigger
 * PIPELINE --env E` (start one by hand, exactly once per commit) and
 * `runs sync` (one retraining pass over every pipeline: the commit's
 * changed paths against `watch`, queues, run records, recurring runs).
 *
 * The repository is read from a commit's tree (libgit2), never from the
 * working directory, so what runs is exactly what was committed.
 */
#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kfp/client.h"
#include "kfp/journal.h"
#include "kfp/recurring.h"
#include "kfp/trigger.h"
#include "kube/kube.h"
#include "yaml/yaml.h"

extern const struct kf_cmd kf_cmd_runs;

struct runs_opts {
	const char *env, *pipeline, *repo, *rev, *endpoint, *token_file, *kubeconfig, *context;
	const char *args[4];
	size_t nargs;
};

static int parse(struct runs_opts *o, struct kf_cli *cli, int argc, char **argv)
{
	memset(o, 0, sizeof(*o));
	o->repo = ".";
	o->rev = "HEAD";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;

		if (!strcmp(a, "--env") || !strcmp(a, "-e"))
			dst = &o->env;
		else if (!strcmp(a, "--pipeline") || !strcmp(a, "-p"))
			dst = &o->pipeline;
		else if (!strcmp(a, "--repo"))
			dst = &o->repo;
		else if (!strcmp(a, "--commit"))
			dst = &o->rev;
		else if (!strcmp(a, "--kfp-endpoint"))
			dst = &o->endpoint;
		else if (!strcmp(a, "--kfp-token-file"))
			dst = &o->token_file;
		else if (!strcmp(a, "--kubeconfig"))
			dst = &o->kubeconfig;
		else if (!strcmp(a, "--context"))
			dst = &o->context;
		else if (a[0] == '-')
			return kf_cli_usage(cli, &kf_cmd_runs, "unknown option '%s'", a);
		else if (o->nargs < KF_ARRAY_SIZE(o->args))
			o->args[o->nargs++] = a;
		else
			return kf_cli_usage(cli, &kf_cmd_runs, "unexpected argument '%s'", a);
		if (dst) {
			if (++i >= argc)
				return kf_cli_usage(cli, &kf_cmd_runs, "option '%s' needs a value", a);
			*dst = argv[i];
		}
	}
	return 0;
}

static int kube_connect(const struct runs_opts *o, struct kf_kube **k, struct kf_err **err)
{
	struct kf_kubeconfig_opts ko = { o->kubeconfig, o->context, NULL };
	struct kf_kube_config *cfg = NULL;
	int rc = kf_kube_config_load(&cfg, &ko, err);

	if (!rc)
		rc = kf_kube_new(k, cfg, NULL, err);
	kf_kube_config_free(cfg);
	return rc;
}

/* ---- the repository at a commit ---------------------------------------- */

struct repo {
	git_repository *git;
	git_commit *commit;
	git_tree *tree;
	char sha[GIT_OID_HEXSZ + 1];
	struct kf_yaml_docs *docs;
	json_t *spec;
	struct kf_kfp_pipelines pipelines;
};

static int git_fail(struct kf_err **err, const char *what)
{
	const git_error *ge = git_error_last();

	return kf_err_set(err, KF_EIO, "%s: %s", what, ge && ge->message ? ge->message : "libgit2 error");
}

static int read_blob(git_repository *g, git_tree *tree, const char *path, char **out,
		     size_t *len, struct kf_err **err)
{
	git_tree_entry *te = NULL;
	git_blob *blob = NULL;
	int rc;

	if (git_tree_entry_bypath(&te, tree, path))
		return kf_err_set(err, KF_ENOENT, "'%s' is not in the commit", path);
	rc = git_blob_lookup(&blob, g, git_tree_entry_id(te));
	git_tree_entry_free(te);
	if (rc)
		return git_fail(err, path);
	*len = (size_t)git_blob_rawsize(blob);
	*out = kf_xmalloc(*len + 1);
	memcpy(*out, git_blob_rawcontent(blob), *len);
	(*out)[*len] = 0;
	git_blob_free(blob);
	return 0;
}

static void repo_close(struct repo *r)
{
	kf_kfp_pipelines_release(&r->pipelines);
	kf_yaml_free(r->docs);
	git_tree_free(r->tree);
	git_commit_free(r->commit);
	git_repository_free(r->git);
	git_libgit2_shutdown();
}

static int repo_open(struct repo *r, const char *dir, const char *rev, struct kf_cli *cli,
		     struct kf_err **err)
{
	git_object *obj = NULL;
	char *data = NULL;
	size_t len = 0;
	struct kf_diags dg = KF_DIAGS_INIT;
	int rc;

	memset(r, 0, sizeof(*r));
	git_libgit2_init();
	if (git_repository_open_ext(&r->git, dir, 0, NULL))
		return git_fail(err, dir);
	if (git_revparse_single(&obj, r->git, rev) || git_object_peel((git_object **)&r->commit, obj, GIT_OBJECT_COMMIT)) {
		git_object_free(obj);
		return git_fail(err, rev);
	}
	git_object_free(obj);
	git_oid_tostr(r->sha, sizeof(r->sha), git_commit_id(r->commit));
	if (git_commit_tree(&r->tree, r->commit))
		return git_fail(err, "commit tree");
	rc = read_blob(r->git, r->tree, "kfboot.yaml", &data, &len, err);
	if (!rc)
		rc = kf_yaml_load_buf(&r->docs, "kfboot.yaml", data, len, NULL, err);
	free(data);
	if (rc)
		return rc;
	r->spec = json_object_get(kf_yaml_doc(r->docs, 0), "spec");
	if (kf_kfp_pipelines_parse(&r->pipelines, json_object_get(r->spec, "pipelines"), r->docs, "kfboot.yaml", &dg)) {
		kf_diags_sort(&dg);
		for (size_t i = 0; i < dg.n; i++) {
			char *s = kf_diag_str(&dg.v[i]);

			fprintf(stderr, "%s%s%s\n", kf_cli_c(cli, KF_C_RED), s, kf_cli_c(cli, KF_C_RESET));
			free(s);
		}
		kf_diags_release(&dg);
		return kf_err_set(err, KF_EINVAL, "kfboot.yaml at %.12s: invalid pipelines section", r->sha);
	}
	return 0;
}

/* The namespace of environment env (kfboot.yaml spec.environments). */
static const char *env_ns(const struct repo *r, const char *env)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(r->spec, "environments"), i, e)
		if (!strcmp(json_string_value(json_object_get(e, "name")) ?: "", env))
			return json_string_value(json_object_get(e, "namespace"));
	return NULL;
}

/* kf_kfp_changed_fn over libgit2: tree-to-tree diff limited by pathspecs. */
static int git_changed(void *ctx, const char *from, const char *to, const char *const *specs,
		       size_t n, bool *changed, struct kf_err **err)
{
	struct repo *r = ctx;
	git_oid a, b;
	git_commit *ca = NULL, *cb = NULL;
	git_tree *ta = NULL, *tb = NULL;
	git_diff *diff = NULL;
	git_diff_options o;
	int rc = 0;

	git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
	*changed = false;
	o.pathspec.strings = (char **)specs;
	o.pathspec.count = n;
	if (git_oid_fromstr(&a, from) || git_oid_fromstr(&b, to) || git_commit_lookup(&ca, r->git, &a) ||
	    git_commit_lookup(&cb, r->git, &b)) {
		/* the last triggering commit is gone (history rewritten): run */
		*changed = true;
		goto out;
	}
	if (git_commit_tree(&ta, ca) || git_commit_tree(&tb, cb) ||
	    git_diff_tree_to_tree(&diff, r->git, ta, tb, &o)) {
		rc = git_fail(err, "diff");
		goto out;
	}
	*changed = git_diff_num_deltas(diff) > 0;
out:
	git_diff_free(diff);
	git_tree_free(ta);
	git_tree_free(tb);
	git_commit_free(ca);
	git_commit_free(cb);
	return rc;
}

/* kf_kfp_commits_fn: first-parent walk from `to` back to `from`. */
static int git_commits(void *ctx, const char *from, const char *to, char ***out, size_t *n,
		       struct kf_err **err)
{
	struct repo *r = ctx;
	git_oid f, t;
	git_commit *c = NULL;
	char **v = kf_xcalloc(101, sizeof(char *));
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (git_oid_fromstr(&f, from) || git_oid_fromstr(&t, to) || git_commit_lookup(&c, r->git, &t)) {
		free(v);
		return git_fail(err, "commit walk");
	}
	while (c && k < 100 && !git_oid_equal(git_commit_id(c), &f)) {
		git_commit *parent = NULL;

		v[k] = kf_xmalloc(GIT_OID_HEXSZ + 1);
		git_oid_tostr(v[k++], GIT_OID_HEXSZ + 1, git_commit_id(c));
		if (git_commit_parentcount(c) == 0 || git_commit_parent(&parent, c, 0))
			parent = NULL;
		git_commit_free(c);
		c = parent;
	}
	git_commit_free(c);
	/* oldest first */
	for (size_t i = 0; i < k / 2; i++) {
		char *x = v[i];

		v[i] = v[k - 1 - i];
		v[k - 1 - i] = x;
	}
	*out = v;
	*n = k;
	return 0;
}

/* kf_kfp_read_fn over a commit's tree. */
static int git_read(void *ctx, const char *commit, const char *path, char **data, size_t *len,
		    struct kf_err **err)
{
	struct repo *r = ctx;
	git_oid id;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	int rc;

	if (git_oid_fromstr(&id, commit) || git_commit_lookup(&c, r->git, &id) || git_commit_tree(&tree, c)) {
		git_commit_free(c);
		return git_fail(err, commit);
	}
	rc = read_blob(r->git, tree, path, data, len, err);
	git_tree_free(tree);
	git_commit_free(c);
	return rc;
}

/* kf_kfp_info_fn: a commit's message and first parent (kfboot's own
 * write-back and promotion commits never trigger a run). */
static int git_info(void *ctx, const char *commit, char **message, char **parent,
		    struct kf_err **err)
{
	struct repo *r = ctx;
	git_oid id;
	git_commit *c = NULL;

	*message = *parent = NULL;
	if (git_oid_fromstr(&id, commit) || git_commit_lookup(&c, r->git, &id))
		return git_fail(err, commit);
	*message = kf_xstrdup(git_commit_message(c) ?: "");
	if (git_commit_parentcount(c)) {
		*parent = kf_xmalloc(GIT_OID_HEXSZ + 1);
		git_oid_tostr(*parent, GIT_OID_HEXSZ + 1, git_commit_parent_id(c, 0));
	}
	git_commit_free(c);
	return 0;
}

static int kfp_connect(const struct runs_opts *o, const struct repo *r, struct kf_kfp **out,
		       struct kf_err **err)
{
	json_t *kc = json_object_get(r->spec, "kfp");
	struct kf_kfp_opts ko = { 0 };

	ko.endpoint = o->endpoint ? o->endpoint : json_string_value(json_object_get(kc, "endpoint"));
	ko.token_file = o->token_file ? o->token_file : json_string_value(json_object_get(kc, "tokenFile"));
	if (!o->token_file && !ko.token_file && getenv("KF_PIPELINES_SA_TOKEN_PATH"))
		ko.token_file = getenv("KF_PIPELINES_SA_TOKEN_PATH");
	if (!ko.token_file && access(KF_KFP_DEFAULT_TOKEN_FILE, R_OK) == 0)
		ko.token_file = KF_KFP_DEFAULT_TOKEN_FILE; /* in the cluster */
	return kf_kfp_new(out, &ko, err);
}

static bool in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

static int pass(struct kf_cli *cli, struct runs_opts *o, bool force)
{
	struct repo r;
	struct kf_kube *k = NULL;
	struct kf_kfp *kfp = NULL;
	struct kf_err *err = NULL;
	int rc, failed = 0;

	rc = repo_open(&r, o->repo, o->rev, cli, &err);
	if (!rc)
		rc = kube_connect(o, &k, &err);
	if (!rc)
		rc = kfp_connect(o, &r, &kfp, &err);
	if (rc)
		goto out;
	if (o->pipeline && !kf_kfp_pipelines_find(&r.pipelines, o->pipeline)) {
		rc = kf_err_set(&err, KF_ENOENT, "pipeline '%s' is not declared in kfboot.yaml at %.12s", o->pipeline, r.sha);
		goto out;
	}
	for (size_t i = 0; i < r.pipelines.n; i++) {
		const struct kf_kfp_pipeline *p = &r.pipelines.v[i];

		if (o->pipeline && strcmp(o->pipeline, p->name))
			continue;
		if (o->env && !in_list(p->envs, p->nenvs, o->env)) {
			if (o->pipeline) {
				rc = kf_err_set(&err, KF_EINVAL, "pipeline '%s' does not list environment '%s'", p->name, o->env);
				goto out;
			}
			continue;
		}
		for (size_t e = 0; e < p->nenvs; e++) {
			struct kf_kfp_trigger t = { 0 };
			struct kf_kfp_trigger_result res;
			char *pkg = NULL;
			size_t plen = 0;
			const char *ns = env_ns(&r, p->envs[e]);

			if (o->env && strcmp(o->env, p->envs[e]))
				continue;
			if (!ns) {
				rc = kf_err_set(&err, KF_EINVAL, "pipeline '%s': environment '%s' is not declared (or has no namespace)",
						p->name, p->envs[e]);
				goto out;
			}
			if (read_blob(r.git, r.tree, p->package, &pkg, &plen, &err)) {
				fprintf(stderr, "kfboot: %s/%s: package %s\n", p->name, p->envs[e], err->msg);
				kf_err_clear(&err);
				failed++;
				continue;
			}
			t.kfp = kfp;
			t.kube = k;
			t.p = p;
			t.env = p->envs[e];
			t.ns = ns;
			t.commit = r.sha;
			t.package = pkg;
			t.package_len = plen;
			t.force = force;
			t.changed = git_changed;
			t.commits = git_commits;
			t.read = git_read;
			t.info = git_info;
			t.source_ctx = &r;
			rc = kf_kfp_trigger_run(&t, &res, &err);
			if (!rc && p->schedule.set)
				rc = kf_kfp_recurring_reconcile(kfp, k, p, p->envs[e], ns, NULL, &err);
			if (rc) {
				char *s = kf_err_str(err);

				fprintf(stderr, "kfboot: %s%s%s\n", kf_cli_c(cli, KF_C_RED), s, kf_cli_c(cli, KF_C_RESET));
				free(s);
				kf_err_clear(&err);
				failed++;
			} else if (!cli->quiet) {
				printf("%s/%s: %.12s %s, %d started, %d adopted, %d terminated\n", p->name, t.env, r.sha,
				       res.triggered ? "triggered" : "not triggered", res.started, res.adopted, res.terminated);
			}
			kf_kfp_trigger_result_release(&res);
			free(pkg);
			rc = 0;
		}
	}
	/* schedules removed from git: delete their recurring runs */
	if (!o->pipeline) {
		json_t *e;
		size_t i;

		json_array_foreach(json_object_get(r.spec, "environments"), i, e) {
			const char *en = json_string_value(json_object_get(e, "name"));
			const char *ns = json_string_value(json_object_get(e, "namespace"));

			bool listed = false, need = true;

			if (!en || !ns || (o->env && strcmp(o->env, en)))
				continue;
			for (size_t p = 0; p < r.pipelines.n; p++)
				listed |= in_list(r.pipelines.v[p].envs, r.pipelines.v[p].nenvs, en);
			/* no pipeline here: ask KFP only if the journal says kfboot
			 * may have left a recurring run (as the reconciler does) */
			if (!listed && !kf_kfp_recurring_prune_needed(k, &r.pipelines, en, &need, &err) && !need)
				continue;
			kf_err_clear(&err);
			if (kf_kfp_recurring_prune(kfp, k, &r.pipelines, en, ns, &err)) {
				char *s = kf_err_str(err);

				fprintf(stderr, "kfboot: %s\n", s);
				free(s);
				kf_err_clear(&err);
				failed++;
			}
		}
	}
out:
	if (rc)
		kf_cli_fail(cli, err);
	kf_err_free(err);
	kf_kfp_free(kfp);
	kf_kube_free(k);
	repo_close(&r);
	return rc ? KF_EXIT_FAIL : failed ? KF_EXIT_FAIL : KF_EXIT_OK;
}

/* ---- listing ------------------------------------------------------------ */

static const char *js(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

static time_t parse_time(const char *s)
{
	struct tm tm = { 0 };

	if (!s || !*s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return timegm(&tm);
}

static int list_runs(struct kf_cli *cli, struct runs_opts *o)
{
	struct kf_kube *k = NULL;
	struct kf_err *err = NULL;
	json_t *journals = NULL, *out = json_array(), *jr, *entry, *run;
	const char *pname;
	size_t i, n;
	int rc;

	rc = kube_connect(o, &k, &err);
	if (!rc)
		rc = kf_kfp_journal_list(k, &journals, &err);
	if (rc) {
		rc = kf_cli_fail(cli, err);
		goto out;
	}
	json_array_foreach(journals, i, jr) {
		if (o->env && strcmp(o->env, js(jr, "env")))
			continue;
		json_object_foreach(json_object_get(jr, "pipelines"), pname, entry) {
			if (o->pipeline && strcmp(o->pipeline, pname))
				continue;
			json_array_foreach(json_object_get(entry, "runs"), n, run) {
				json_t *row = json_deep_copy(run);
				time_t a = parse_time(js(run, "created_at")), b = parse_time(js(run, "finished_at"));

				json_object_del(row, "report_checked");
				json_object_del(row, "report_tries");
				json_object_set_new(row, "pipeline", json_string(pname));
				json_object_set_new(row, "env", json_string(js(jr, "env")));
				if (a && b)
					json_object_set_new(row, "duration_seconds", json_integer(b - a));
				json_array_append_new(out, row);
			}
			if (*js(entry, "status"))
				fprintf(stderr, "kfboot: %s/%s: %s\n", pname, js(jr, "env"), js(entry, "status"));
		}
	}
	if (kf_cli_structured(cli)) {
		kf_cli_print_json(out);
		goto out;
	}
	printf("%s%-14s %-8s %-12s %-36s %-10s %-20s %-8s %s%s\n", kf_cli_c(cli, KF_C_BOLD), "PIPELINE", "ENV",
	       "COMMIT", "RUN", "STATE", "START", "DURATION", "METRICS", kf_cli_c(cli, KF_C_RESET));
	json_array_foreach(out, i, run) {
		char dur[32] = "-";
		struct kf_buf m = KF_BUF_INIT;
		const char *mk;
		json_t *mv;

		if (json_object_get(run, "duration_seconds"))
			kf_duration_fmt((double)json_integer_value(json_object_get(run, "duration_seconds")), dur);
		json_object_foreach(json_object_get(run, "metrics"), mk, mv)
			kf_buf_addf(&m, "%s%s=%g", m.len ? " " : "", mk, json_number_value(mv));
		printf("%-14s %-8s %-12.12s %-36s %-10s %-20s %-8s %s\n", js(run, "pipeline"), js(run, "env"),
		       js(run, "commit"), js(run, "run_id"), js(run, "state"), js(run, "created_at"), dur,
		       m.len ? m.buf : "-");
		kf_buf_release(&m);
	}
out:
	json_decref(out);
	json_decref(journals);
	kf_err_free(err);
	kf_kube_free(k);
	return rc;
}

static json_t *find_run(json_t *journals, const char *id)
{
	json_t *jr, *entry, *run;
	const char *pname;
	size_t i, n;

	json_array_foreach(journals, i, jr)
		json_object_foreach(json_object_get(jr, "pipelines"), pname, entry)
			json_array_foreach(json_object_get(entry, "runs"), n, run)
				if (!strcmp(js(run, "run_id"), id) || (strlen(id) >= 8 && kf_str_startswith(js(run, "run_id"), id)))
					return run;
	return NULL;
}

/* A value for the side-by-side table: numbers with %g, strings bare. */
static char *show(const json_t *v)
{
	if (!v)
		return kf_xstrdup("-");
	if (json_is_number(v))
		return kf_xasprintf("%g", json_number_value(v));
	if (json_is_string(v))
		return kf_xstrdup(json_string_value(v));
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

static void cmp_section(json_t *a, json_t *b, const char *title)
{
	json_t *keys = json_object(), *v;
	const char *k;

	json_object_foreach(a, k, v)
		json_object_set(keys, k, json_true());
	json_object_foreach(b, k, v)
		json_object_set(keys, k, json_true());
	printf("%s\n", title);
	json_object_foreach(keys, k, v) {
		char *sa = show(json_object_get(a, k)), *sb = show(json_object_get(b, k));

		printf("  %-24s %-24s %-24s%s\n", k, sa, sb, strcmp(sa, sb) ? "  *" : "");
		free(sa);
		free(sb);
	}
	json_decref(keys);
}

static int compare(struct kf_cli *cli, struct runs_opts *o)
{
	struct kf_kube *k = NULL;
	struct kf_err *err = NULL;
	json_t *journals = NULL, *a, *b;
	int rc;

	if (o->nargs != 3)
		return kf_cli_usage(cli, &kf_cmd_runs, "compare needs two run ids");
	rc = kube_connect(o, &k, &err);
	if (!rc)
		rc = kf_kfp_journal_list(k, &journals, &err);
	if (rc) {
		rc = kf_cli_fail(cli, err);
		goto out;
	}
	a = find_run(journals, o->args[1]);
	b = find_run(journals, o->args[2]);
	if (!a || !b) {
		kf_err_set(&err, KF_ENOENT, "run '%s' is not in kfboot's run records", !a ? o->args[1] : o->args[2]);
		rc = kf_cli_fail(cli, err);
		goto out;
	}
	if (kf_cli_structured(cli)) {
		json_t *j = json_pack("{s:O,s:O}", "a", a, "b", b);

		kf_cli_print_json(j);
		json_decref(j);
		goto out;
	}
	printf("%-26s %-24s %-24s\n", "", js(a, "display"), js(b, "display"));
	printf("  %-24s %-24s %-24s\n", "state", js(a, "state"), js(b, "state"));
	cmp_section(json_object_get(a, "parameters"), json_object_get(b, "parameters"), "parameters");
	cmp_section(json_object_get(a, "metrics"), json_object_get(b, "metrics"), "metrics");
out:
	json_decref(journals);
	kf_err_free(err);
	kf_kube_free(k);
	return rc;
}

static int run_runs(int argc, char **argv, struct kf_cli *cli)
{
	struct runs_opts o;
	int rc;

	if (kf_cli_wants_help(argc, argv))
		return kf_cli_help(&kf_cmd_runs);
	rc = parse(&o, cli, argc, argv);
	if (rc)
		return rc;
	if (!o.nargs)
		return list_runs(cli, &o);
	if (!strcmp(o.args[0], "compare"))
		return compare(cli, &o);
	if (!strcmp(o.args[0], "trigger")) {
		if (o.nargs != 2 || !o.env)
			return kf_cli_usage(cli, &kf_cmd_runs, "usage: kfboot runs trigger PIPELINE --env E");
		o.pipeline = o.args[1];
		return pass(cli, &o, true);
	}
	if (!strcmp(o.args[0], "sync")) {
		if (o.nargs != 1)
			return kf_cli_usage(cli, &kf_cmd_runs, "sync takes no arguments");
		return pass(cli, &o, false);
	}
	return kf_cli_usage(cli, &kf_cmd_runs, "unknown subcommand '%s'", o.args[0]);
}

const struct kf_cmd kf_cmd_runs = {
	.name = "runs",
	.run = run_runs,
	.summary = "Kubeflow Pipelines runs started from git: list, compare, trigger",
	.usage =
	"usage: kfboot runs [--env E] [--pipeline P] [-o json]\n"
	"       kfboot runs compare RUN RUN\n"
	"       kfboot runs trigger PIPELINE --env E [--repo DIR] [--commit REV]\n"
	"       kfboot runs sync [--env E] [--pipeline P] [--repo DIR] [--commit REV]\n"
	"\n"
	"Without a subcommand, list the runs kfboot started for git commits (from\n"
	"the run journals in namespace kfboot-system): pipeline, environment,\n"
	"commit, run id, state, start, duration and the metrics of the run's report.\n"
	"\n"
	"compare RUN RUN   parameters and metrics of two runs side by side.\n"
	"trigger PIPELINE  start a run of PIPELINE in environment E for the commit\n"
	"                  (default HEAD), whatever it changed; exactly once per\n"
	"                  (pipeline, commit): a second trigger finds the first run.\n"
	"sync              one retraining pass, as the reconciler does after a\n"
	"                  sync: each pipeline whose watched paths changed since the\n"
	"                  commit that last triggered it is run (a pipeline seen\n"
	"                  for the first time runs once), queues are drained by the\n"
	"                  concurrency mode, runs are followed and their reports\n"
	"                  read, recurring runs are reconciled.\n"
	"\n"
	"options:\n"
	"  --env, -e E            environment (kfboot.yaml spec.environments)\n"
	"  --pipeline, -p P       only this pipeline\n"
	"  --repo DIR             the git repository holding kfboot.yaml (default .)\n"
	"  --commit REV           commit to act on (default HEAD)\n"
	"  --kfp-endpoint URL     KFP API (default kfp.endpoint, else\n"
	"                         " KF_KFP_DEFAULT_ENDPOINT ")\n"
	"  --kfp-token-file F     bearer token file, re-read on every request\n"
	"                         (default kfp.tokenFile, else $KF_PIPELINES_SA_TOKEN_PATH)\n"
	"  --kubeconfig F, --context C   the cluster holding the run journals\n",
};
