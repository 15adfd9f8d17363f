/*
 * trigger.h - retraining from git: which pipeline runs for which commit,
 * exactly once per (pipeline, commit), with skip/queue/replace concurrency,
 * and the records of the runs kfboot started (docs/retraining.md).
 *
 * One trigger pass for (pipeline, environment, commit):
 *  1. resolve a pending intent left by a pass that died (list runs with the
 *     display-name filter: adopt the run if it exists, create it if not);
 *  2. follow active runs to their terminal state, read their report
 *     ConfigMaps;
 *  3. when the commit triggers the pipeline (it is new to the pipeline, or
 *     the paths changed since the last triggering commit match `watch`):
 *     validate the package, upload version <pipeline>@<sha12> (409: look it
 *     up), enqueue the commit (journal write);
 *  4. start what the concurrency mode allows: journal the intent (a write
 *     with a resourceVersion precondition), list runs by display name, POST
 *     /runs only when none exists, journal the run.
 * A process killed anywhere in this leaves a journal the next pass
 * completes: no duplicate and no missed run.
 */
#ifndef KF_KFP_TRIGGER_H
#define KF_KFP_TRIGGER_H

#include <jansson.h>
#include <stdbool.h>

#include "kfp/client.h"
#include "kfp/journal.h"
#include "kube/kube.h"
#include "util/util.h"

enum kf_kfp_concurrency { KF_KFP_SKIP, KF_KFP_QUEUE, KF_KFP_REPLACE };

struct kf_kfp_schedule {
	bool set;
	char *cron;          /* 6 fields, seconds first; or NULL */
	double interval;     /* seconds; 0 when cron is used */
	int max_concurrency; /* 1..10 */
	bool catchup;        /* false: created with no_catchup */
	bool enabled;
};

/* One entry of `pipelines:` in kfboot.yaml. */
struct kf_kfp_pipeline {
	char *name;
	char *package;       /* path in the repository */
	char **watch;        /* git pathspecs */
	size_t nwatch;
	char *experiment;    /* default: the pipeline's name */
	json_t *parameters;  /* object; values may use ${GIT_COMMIT} ${GIT_SHORT_COMMIT} ${ENV} */
	char **envs;
	size_t nenvs;
	enum kf_kfp_concurrency concurrency;
	struct kf_kfp_schedule schedule;
};

struct kf_kfp_pipelines {
	struct kf_kfp_pipeline *v;
	size_t n;
};

/*
 * Parse the `pipelines:` array of a kfboot.yaml (`docs` gives positions;
 * may be NULL). Problems go to diags as file:line:col; KF_EINVAL when any.
 */
struct kf_yaml_docs;
int kf_kfp_pipelines_parse(struct kf_kfp_pipelines *out, const json_t *arr,
			   const struct kf_yaml_docs *docs, const char *file,
			   struct kf_diags *diags);
void kf_kfp_pipelines_release(struct kf_kfp_pipelines *p);
const struct kf_kfp_pipeline *kf_kfp_pipelines_find(const struct kf_kfp_pipelines *p,
						    const char *name);
const char *kf_kfp_concurrency_str(enum kf_kfp_concurrency c);

/*
 * Check a compiled KFP v2 pipeline (IR YAML) with kfp/ir.h's rules (the
 * same as `kfboot pipeline validate`). Problems go to diags with
 * name:line:col; KF_EINVAL when there is any.
 */
int kf_kfp_package_check(const char *name, const char *data, size_t len,
			 struct kf_diags *diags);

/* Substitute ${GIT_COMMIT}, ${GIT_SHORT_COMMIT} (12 hex), ${ENV} in every
 * string of params (a new object). */
json_t *kf_kfp_params_expand(const json_t *params, const char *commit,
			     const char *env);

/* Counters for /metrics: called from the trigger pass. */
struct kf_kfp_observer {
	/* a run was created (latency: push -> created, seconds; <0 unknown) */
	void (*run_created)(void *ctx, const char *pipeline, const char *env,
			    double latency);
	/* a run kfboot follows reached a new state */
	void (*run_state)(void *ctx, const char *pipeline, const char *env,
			  const char *state);
	void *ctx;
};

/*
 * An observer publishing into a Prometheus registry (src/http): families
 * kfboot_kfp_runs_total{pipeline,env,state} (state "created" when kfboot
 * creates a run, then each state it sees a run reach) and
 * kfboot_kfp_push_to_run_seconds{pipeline,env} (push -> run created).
 * km must outlive the observer; the families live in the registry.
 */
struct kf_metrics;
struct kf_metric;
struct kf_kfp_metrics {
	struct kf_metric *runs, *latency;
};
int kf_kfp_metrics_register(struct kf_metrics *m, struct kf_kfp_metrics *km,
			    struct kf_kfp_observer *out, struct kf_err **err);

/* The git source, supplied by the caller (the reconciler's, or the CLI's).
 * changed: did the paths changed between from and to match a pathspec?
 * commits: the first-parent commits after `from` up to `to`, oldest first
 *          (at most 100; owned strings in an owned array);
 * read:    a file of a commit's tree (KF_ENOENT when absent). */
typedef int (*kf_kfp_changed_fn)(void *ctx, const char *from, const char *to,
				 const char *const *pathspecs, size_t n,
				 bool *changed, struct kf_err **err);
typedef int (*kf_kfp_commits_fn)(void *ctx, const char *from, const char *to,
				 char ***out, size_t *n, struct kf_err **err);
typedef int (*kf_kfp_read_fn)(void *ctx, const char *commit, const char *path,
			      char **data, size_t *len, struct kf_err **err);
/* info: a commit's full message and its first parent (40 hex, NULL for a
 *       root commit); both owned by the caller. */
typedef int (*kf_kfp_info_fn)(void *ctx, const char *commit, char **message,
			      char **parent, struct kf_err **err);

/*
 * True when the message's trailer block (its last paragraph, not the
 * subject) has a `Kfboot-Model:` or `Kfboot-Promote:` line: a write-back
 * or a promotion commit kfboot made (src/models). Such a commit never
 * triggers a run: its changes do not count, and a run is never for it.
 */
bool kf_kfp_commit_is_kfboot(const char *message);

struct kf_kfp_trigger {
	struct kf_kfp *kfp;
	struct kf_kube *kube;
	const struct kf_kfp_pipeline *p;
	const char *env;
	const char *ns;          /* the environment's namespace */
	const char *commit;      /* 40 hex, or NULL: only follow and drain */
	const char *package;     /* the package at `commit` */
	size_t package_len;
	bool force;              /* run for this commit whatever changed (manual) */
	kf_kfp_changed_fn changed; /* NULL: only new pipelines and force trigger */
	kf_kfp_commits_fn commits; /* NULL: queue mode looks at `commit` only */
	kf_kfp_read_fn read;       /* needed with commits */
	kf_kfp_info_fn info;       /* NULL: no commit is recognised as kfboot's own */
	void *source_ctx;
	double pushed_at;        /* wall-clock time of the push; 0 = unknown */
	const struct kf_kfp_observer *obs;
};

struct kf_kfp_trigger_result {
	bool triggered;   /* the commit was enqueued */
	int started;      /* runs created by this pass */
	int adopted;      /* intents resolved to a run that already existed */
	int terminated;   /* runs terminated (replace) */
	char *status;     /* problem shown in the status (owned), or NULL */
};

int kf_kfp_trigger_run(struct kf_kfp_trigger *t,
		       struct kf_kfp_trigger_result *res, struct kf_err **err);
void kf_kfp_trigger_result_release(struct kf_kfp_trigger_result *r);

/* "<pipeline>@<first 12 hex of commit>" (caller frees). */
char *kf_kfp_run_name(const char *pipeline, const char *commit);

#endif
