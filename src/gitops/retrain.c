/*
 * retrain.c - the reconciler's retraining step: after an environment was
 * synced to a commit, every pipeline that lists the environment gets one
 * trigger pass (src/kfp/trigger.h): the paths changed since the commit that
 * last triggered it, matched against `watch`, decide a run, exactly once
 * per (pipeline, commit); active runs are followed and their reports read;
 * recurring runs are reconciled. This file adapts the git source and the
 * parsed kfboot.yaml to the kfp module (which cannot depend on gitops).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gitops.h"
#include "gitops/source_git.h"
#include "kfp/client.h"
#include "kfp/recurring.h"
#include "kfp/trigger.h"

/* the reconcile loop's KFP client: seconds per attempt, attempts */
#define KF_LOOP_KFP_TIMEOUT 15
#define KF_LOOP_KFP_ATTEMPTS 3

static int src_changed(void *ctx, const char *from, const char *to, const char *const *specs, size_t n,
		       bool *changed, struct kf_err **err)
{
	struct kf_strlist l = KF_STRLIST_INIT;
	int rc = kf_git_source_changed_paths(ctx, from, to, specs, n, &l, err);

	if (rc == KF_ENOENT) { /* the last triggering commit is gone (rewritten history): run */
		kf_err_clear(err);
		*changed = true;
		return 0;
	}
	*changed = !rc && l.n > 0;
	kf_strlist_release(&l);
	return rc;
}

static int src_commits(void *ctx, const char *from, const char *to, char ***out, size_t *n,
		       struct kf_err **err)
{
	struct kf_strlist l = KF_STRLIST_INIT;
	int rc = kf_git_source_first_parents(ctx, from, to, 100, &l, err);

	*out = NULL;
	*n = 0;
	if (rc) {
		kf_strlist_release(&l);
		return rc;
	}
	*out = l.v ? l.v : kf_xcalloc(1, sizeof(char *));
	*n = l.n;
	return 0;
}

static int src_read(void *ctx, const char *commit, const char *path, char **data, size_t *len,
		    struct kf_err **err)
{
	struct kf_buf b = KF_BUF_INIT;
	int rc = kf_git_source_read(ctx, commit, path, &b, err);

	if (rc) {
		kf_buf_release(&b);
		return rc;
	}
	*data = kf_buf_detach(&b, len);
	return 0;
}

/* A commit's message and first parent, so the trigger pass can tell
 * kfboot's own write-back and promotion commits (which never trigger a
 * run) from the others. */
static int src_info(void *ctx, const char *commit, char **message, char **parent,
		    struct kf_err **err)
{
	git_repository *repo = kf_git_source_repo(ctx);
	git_oid id;
	git_commit *c = NULL;

	*message = *parent = NULL;
	if (git_oid_fromstr(&id, commit) < 0 || git_commit_lookup(&c, repo, &id) < 0)
		return kf_err_set(err, KF_ENOENT, "commit %.12s not found", commit);
	*message = kf_xstrdup(git_commit_message(c) ?: "");
	if (git_commit_parentcount(c)) {
		*parent = kf_xmalloc(GIT_OID_HEXSZ + 1);
		git_oid_tostr(*parent, GIT_OID_HEXSZ + 1, git_commit_parent_id(c, 0));
	}
	git_commit_free(c);
	return 0;
}

/* kfboot.yaml's pipeline (gitops' parser) as the kfp module's; every
 * pointer is borrowed from the config. */
static void convert(struct kf_kfp_pipeline *dst, const struct kf_repo_pipeline *p)
{
	memset(dst, 0, sizeof(*dst));
	dst->name = p->name;
	dst->package = p->package;
	dst->watch = p->watch;
	dst->nwatch = p->nwatch;
	dst->experiment = p->experiment;
	dst->parameters = p->parameters;
	dst->envs = p->environments;
	dst->nenvs = p->nenvironments;
	dst->concurrency = p->concurrency == KF_CONC_QUEUE ? KF_KFP_QUEUE :
			   p->concurrency == KF_CONC_REPLACE ? KF_KFP_REPLACE : KF_KFP_SKIP;
	if (p->has_schedule) {
		dst->schedule.set = true;
		dst->schedule.cron = p->schedule.cron;
		dst->schedule.max_concurrency = p->schedule.max_concurrency ? p->schedule.max_concurrency : 1;
		dst->schedule.interval = p->schedule.interval;
		dst->schedule.catchup = p->schedule.catchup;
		dst->schedule.enabled = p->schedule.enabled;
	}
}

int kf_gitops_retrain_env(struct kf_git_source *src, const char *commit,
			  const struct kf_repo_config *cfg, const struct kf_repo_env *env,
			  struct kf_kube *k, const struct kf_kfp_observer *obs,
			  struct kf_err **err)
{
	struct kf_kfp_opts ko = { 0 };
	struct kf_kfp *kfp = NULL;
	struct kf_kfp_pipelines all = { 0 };
	struct kf_buf problems = KF_BUF_INIT;
	size_t n = 0, skipped = 0;
	int rc;

	for (size_t i = 0; i < cfg->npipelines; i++)
		for (size_t e = 0; e < cfg->pipelines[i].nenvironments; e++)
			n += !strcmp(cfg->pipelines[i].environments[e], env->name);
	all.v = kf_xcalloc(cfg->npipelines + 1, sizeof(*all.v));
	for (size_t i = 0; i < cfg->npipelines; i++)
		convert(&all.v[all.n++], &cfg->pipelines[i]);
	if (!n) {
		/* no pipeline runs here (any more): KFP is needed only to delete
		 * recurring runs kfboot created for pipelines since removed -
		 * the journal says whether there may be any */
		bool need = false;

		rc = kf_kfp_recurring_prune_needed(k, &all, env->name, &need, err);
		if (rc || !need) {
			if (rc)
				kf_err_wrap(err, "retraining");
			free(all.v);
			return rc;
		}
	}
	ko.endpoint = cfg->kfp.endpoint;
	ko.token_file = cfg->kfp.token_file;
	/* The step runs on the loop thread, and every pass repeats what did
	 * not happen (the trigger protocol resumes anywhere): so no long
	 * waits here. A request gets 3 attempts of at most 15 s, and once
	 * KFP did not answer one, the rest of the step fails at once instead
	 * of waiting again per pipeline (KF_LOOP_KFP_*). */
	ko.timeout = KF_LOOP_KFP_TIMEOUT;
	ko.max_attempts = KF_LOOP_KFP_ATTEMPTS;
	ko.fail_fast = true;
	if (!ko.token_file && access(KF_KFP_DEFAULT_TOKEN_FILE, R_OK) == 0)
		ko.token_file = KF_KFP_DEFAULT_TOKEN_FILE;
	rc = kf_kfp_new(&kfp, &ko, err);
	if (rc) {
		free(all.v);
		return rc;
	}
	for (size_t i = 0; i < all.n && n; i++) {
		const struct kf_kfp_pipeline *p = &all.v[i];
		struct kf_kfp_trigger t = { 0 };
		struct kf_kfp_trigger_result res;
		struct kf_buf pkg = KF_BUF_INIT;
		struct kf_err *e2 = NULL;
		bool listed = false;
		double t0 = kf_now();

		for (size_t e = 0; e < p->nenvs; e++)
			listed |= !strcmp(p->envs[e], env->name);
		if (!listed)
			continue;
		if (kf_kfp_down(kfp)) {
			skipped++; /* said once below; the next pass tries again */
			continue;
		}
		if (kf_git_source_read(src, commit, p->package, &pkg, &e2)) {
			kf_err_wrap(&e2, "pipeline '%s': package", p->name);
			goto next;
		}
		t.kfp = kfp;
		t.kube = k;
		t.p = p;
		t.env = env->name;
		t.ns = env->namespace ? env->namespace : "default";
		t.commit = commit;
		t.package = pkg.buf;
		t.package_len = pkg.len;
		t.changed = src_changed;
		t.commits = src_commits;
		t.read = src_read;
		t.info = src_info;
		t.source_ctx = src;
		t.obs = obs;
		if (!kf_kfp_trigger_run(&t, &res, &e2)) {
			if (res.started || res.adopted || res.terminated)
				kf_info("%s: pipeline '%s' at %.12s: %d run(s) started, %d adopted, %d terminated", env->name,
					p->name, commit, res.started, res.adopted, res.terminated);
			if (p->schedule.set)
				kf_kfp_recurring_reconcile(kfp, k, p, env->name, t.ns, NULL, &e2);
		}
		/* the step runs on the loop thread: say how long it held it */
		kf_debug("%s: retraining step for '%s' took %.3f s (%s)", env->name, p->name, kf_now() - t0,
			 res.triggered ? "triggered" : "not triggered");
		kf_kfp_trigger_result_release(&res);
next:
		if (e2) {
			char *s = kf_err_str(e2);

			kf_buf_addf(&problems, "%s%s", problems.len ? "; " : "", s);
			free(s);
			kf_err_free(e2);
		}
		kf_buf_release(&pkg);
	}
	if (kf_kfp_down(kfp))
		kf_buf_addf(&problems, "%sKFP at %s did not answer; %zu more pipeline(s) and the recurring-run "
			    "clean-up wait for the next pass", problems.len ? "; " : "", kf_kfp_endpoint(kfp), skipped);
	else {
		struct kf_err *e2 = NULL;

		if (kf_kfp_recurring_prune(kfp, k, &all, env->name, env->namespace ? env->namespace : "default", &e2)) {
			char *s = kf_err_str(e2);

			kf_buf_addf(&problems, "%s%s", problems.len ? "; " : "", s);
			free(s);
		}
		kf_err_free(e2);
	}
	rc = problems.len ? kf_err_set(err, KF_ERR, "retraining: %s", problems.buf) : 0;
	kf_buf_release(&problems);
	free(all.v); /* the strings were borrowed from cfg */
	kf_kfp_free(kfp);
	return rc;
}
