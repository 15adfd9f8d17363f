/*
 * promote.h - promotion of a model version into an environment (a commit
 * that moves one pin in environments/<env>/models.yaml when the gates
 * hold), the soak time read from the reconciler's status, and write-back
 * of a new version from a training run. Both are pushed with push.h and
 * re-made on the new tip after a non-fast-forward rejection.
 */
#ifndef KF_MODELS_PROMOTE_H
#define KF_MODELS_PROMOTE_H

#include "gitops/gitops.h"
#include "models/models.h"
#include "models/push.h"

/* environments/<env>/models.yaml. Caller frees. */
char *kf_models_pins_path(const char *env);

/*
 * Seconds `version` of `model` has been live and healthy in `env`, from a
 * reconciler status snapshot ({"environments":[{name, appliedCommit,
 * result, health, lastChange}]}): the environment must be applied and
 * healthy at a commit that pins the version; the time counts from the
 * later of the first commit (first parent) of the run of commits pinning it
 * and the environment's last change (so it never over-counts). -1 when it
 * cannot be known (no status), 0 when it is not live and healthy; *why
 * (caller frees) says which.
 */
double kf_models_soaked(git_repository *repo, const json_t *status, const char *env,
			const char *model, const char *version, double now, char **why);

struct kf_promote_opts {
	const char *model;
	const char *env;          /* target environment */
	const char *version;      /* NULL = what promotion.from pins */
	bool force;               /* push even when gates fail (said in the commit) */
	const json_t *status;     /* reconciler status, NULL = unknown */
	double now;               /* Unix time; 0 = time(NULL) */
};

struct kf_promote_result {
	char *version;            /* promoted */
	char *from_env;           /* NULL when none */
	char *previous;           /* the target's pin before (NULL = none) */
	bool rollback;            /* an older version than the pinned one */
	bool gates_ok;
	bool forced;              /* gates failed and --force pushed anyway */
	json_t *gates;            /* kf_gates_check report */
	char *gates_summary;
	char *gates_failed;       /* NULL when all held */
	char *soak_why;           /* why the soak is unknown/zero, or NULL */
	char *path;               /* the pins file */
	char *diff;               /* unified diff of the pins file */
	char *message;            /* the commit message */
	struct kf_push_result push;
};
void kf_promote_result_release(struct kf_promote_result *r);

/*
 * Promote (see above). Returns 0 when pushed (or nothing to do:
 * r->push.noop; or a dry run when o_push->dry_run), KF_EINVAL with
 * r->gates_failed set when a gate failed (nothing committed), KF_ECONFLICT
 * when the pin moved meanwhile to something else, another error otherwise.
 */
int kf_promote(const struct kf_push_target *t, const struct kf_push_opts *o_push,
	       const struct kf_promote_opts *o, struct kf_promote_result *r,
	       struct kf_err **err);

/* A training run's result, as its run record holds it. */
struct kf_run_record {
	const char *run_id;
	const char *uri, *format;
	const json_t *metrics;    /* object name -> number */
	const char *source_commit;
	const char *pipeline;
	const char *created;      /* RFC 3339; NULL = now */
};

struct kf_register_result {
	char *version;            /* the version registered (or found, when the run was there) */
	bool existed;             /* the run was registered already: nothing pushed */
	char **pinned_envs;       /* environments with autoPin that were pinned */
	size_t npinned;
	char *message;
	struct kf_push_result push;
};
void kf_register_result_release(struct kf_register_result *r);

/*
 * Write-back: append the run's model as the next version of `model`'s
 * file and pin it in every environment with autoPin: true, in one commit
 * with trailers Kfboot-Model, Kfboot-Source-Commit, Kfboot-Run. A run
 * already in the file (source.run) registers nothing.
 */
int kf_models_register(const struct kf_push_target *t, const struct kf_push_opts *o_push,
		       const char *model, const struct kf_run_record *run,
		       struct kf_register_result *r, struct kf_err **err);

/* The trailer every write-back commit carries; the retraining trigger
 * skips commits that have it (a write-back never triggers retraining). */
#define KF_TRAILER_MODEL "Kfboot-Model"
/* True when a commit message's trailer block (its last paragraph) has a
 * Kfboot-Model: or Kfboot-Promote: line (kf_kfp_commit_is_kfboot). */
bool kf_models_commit_is_writeback(const char *message);

#endif
