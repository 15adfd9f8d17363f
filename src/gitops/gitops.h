/*
 * gitops.h - kfboot's GitOps core: a git source (libgit2), the repository
 * config (kfboot.yaml, kind: Repository), rendering an environment into a
 * set of objects, syncing one environment with the staged apply engine,
 * and the reconcile loop that keeps every environment equal to a branch.
 *
 * Layers, bottom up (each usable on its own; the retraining, promotion and
 * serving code join them as steps):
 *  - source: one branch of one remote fetched into a bare cache under a
 *    state folder; files are read straight from a commit's tree (no
 *    checkout); a cheap "did the branch move?" check (git_remote_ls) comes
 *    before any fetch; tree-to-tree diffs filtered by pathspecs.
 *  - repo config: kfboot.yaml parsed and validated, every problem with
 *    file:line:col; unknown fields are errors.
 *  - render: an environment's paths -> objects, as a pipeline of steps
 *    (collect plain YAML / kustomize output, substitute ${VAR}, parse,
 *    default namespace); later steps (model pins, serving templates) are
 *    appended with kf_render_add_step().
 *  - sync: validate everything (YAML, identity, duplicates, kinds, a
 *    server-side dry run) before the first write, then staged apply with one
 *    ApplySet inventory per environment, prune, health.
 *  - reconciler: one thread owns all state and runs the loop; other threads
 *    (webhooks, watches, the lease) hand work in with the thread-safe calls
 *    marked so below, and read the published status snapshot.
 *
 * Ownership: `_new`/`_open`/`_parse` results are freed with the matching
 * `_free`; getters borrow. Library code never prints. Credentials (tokens,
 * passwords) are registered with kf_redact and never appear in errors.
 */
#ifndef KF_GITOPS_H
#define KF_GITOPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube/kube.h"
#include "util/util.h"
#include "yaml/yaml.h"

/* ==== source ========================================================== */

struct kf_git_source;

struct kf_git_source_opts {
	/* https */
	const char *token_file;       /* bearer-like token, sent as basic auth password (user "x-access-token" unless username is set) */
	const char *username;         /* basic auth user */
	const char *password_file;    /* basic auth password */
	const char *ca_file;          /* CA bundle (PEM) to verify the server with; NULL = system */
	/* ssh */
	const char *ssh_key_file;     /* private key; NULL = ssh-agent (SSH_AUTH_SOCK) */
	const char *ssh_pubkey_file;  /* NULL = ssh_key_file + ".pub" when it exists */
	const char *known_hosts_file; /* NULL = ~/.ssh/known_hosts (and /etc/ssh/ssh_known_hosts) */
	bool accept_new_host_key;     /* known_hosts policy accept-new (default strict) */
	/* every transport */
	double timeout;               /* per fetch, seconds; 0 = 60 (checked while data flows: libgit2 1.5 cannot bound a connect) */
};

/*
 * Open (creating when needed) the bare cache of `url`'s `branch` under
 * `state_dir`/git/<hash of url>.git. Nothing is fetched yet. `url` is
 * https://, http://, ssh://, user@host:path, git://, file:// or a local
 * path (a working tree or a bare repository). opts may be NULL.
 */
int kf_git_source_open(struct kf_git_source **out, const char *url,
		       const char *branch, const char *state_dir,
		       const struct kf_git_source_opts *opts,
		       struct kf_err **err);
void kf_git_source_free(struct kf_git_source *src);

/* The URL with any user:password@ part removed (for messages). Borrowed. */
const char *kf_git_source_url(const struct kf_git_source *src);
const char *kf_git_source_branch(const struct kf_git_source *src);

/*
 * Ask the remote where the branch points (git_remote_ls: refs only, no
 * objects). *moved is true when it differs from the last fetched commit
 * (or nothing was fetched yet). Errors: KF_EAGAIN (network, remote down),
 * KF_EAUTH (credentials, host key), KF_ENOENT (no such branch).
 */
int kf_git_source_check(struct kf_git_source *src, bool *moved,
			struct kf_err **err);
/*
 * Fetch the branch and return the commit it points at (40 hex + NUL).
 * Same errors as check.
 */
int kf_git_source_fetch(struct kf_git_source *src, char commit[41],
			struct kf_err **err);
/*
 * The same for a command run once: a temporary failure (KF_EAGAIN: a
 * remote that is down or drops) is tried again with jittered backoff, up
 * to `tries` times in all; the final error says how many.
 */
#define KF_GIT_FETCH_TRIES 4
int kf_git_source_fetch_retry(struct kf_git_source *src, int tries, char commit[41],
			      struct kf_err **err);
/* The last commit fetched (or found in the cache at open), "" when none. */
const char *kf_git_source_head(const struct kf_git_source *src);
/* Resolve a revision (sha, short sha, branch, tag, "HEAD") in the cache. */
int kf_git_source_resolve(struct kf_git_source *src, const char *rev,
			  char commit[41], struct kf_err **err);
/* Commit metadata: the summary line and the committer time (Unix). */
int kf_git_source_commit_info(struct kf_git_source *src, const char *commit,
			      char **summary, long long *time,
			      struct kf_err **err);

enum kf_git_entry { KF_GIT_NONE = 0, KF_GIT_FILE, KF_GIT_DIR };

/* What `path` (repository-relative, no leading '/') is in the commit. */
int kf_git_source_stat(struct kf_git_source *src, const char *commit,
		       const char *path, enum kf_git_entry *out,
		       struct kf_err **err);
/* Read a file from the commit's tree. KF_ENOENT when it is not there. */
int kf_git_source_read(struct kf_git_source *src, const char *commit,
		       const char *path, struct kf_buf *out,
		       struct kf_err **err);

/* A list of paths, owned. */
struct kf_strlist {
	char **v;
	size_t n, alloc;
};
#define KF_STRLIST_INIT { NULL, 0, 0 }
void kf_strlist_add(struct kf_strlist *l, const char *s);
void kf_strlist_release(struct kf_strlist *l);

/* Every file under `dir` (recursively; "" = the root), repository-relative,
 * in lexical order of the full path. */
int kf_git_source_list(struct kf_git_source *src, const char *commit,
		       const char *dir, struct kf_strlist *out,
		       struct kf_err **err);
/* Write the commit's whole tree under `dir` (which must exist). */
int kf_git_source_export(struct kf_git_source *src, const char *commit,
			 const char *dir, struct kf_err **err);
/*
 * Paths changed between two commits (tree-to-tree diff; renames count as a
 * delete and an add), filtered by git pathspecs ("pipelines/xor/" + "**"; none
 * = all). `from` may be NULL or "" for "everything in `to`". Sorted.
 */
int kf_git_source_changed_paths(struct kf_git_source *src, const char *from,
				const char *to, const char *const *pathspecs,
				size_t npathspecs, struct kf_strlist *out,
				struct kf_err **err);

/* The first-parent commits after `from` up to and including `to`, oldest
 * first, at most `max` (the newest ones); appended to out. A `from` that is
 * not an ancestor walks back to the root (or max). For retraining's queue
 * mode: every commit of a burst gets its own run. */
int kf_git_source_first_parents(struct kf_git_source *src, const char *from,
				const char *to, size_t max, struct kf_strlist *out,
				struct kf_err **err);

/* ==== repository config (kfboot.yaml) ================================= */

#define KF_REPO_CONFIG_FILE "kfboot.yaml"

struct kf_repo_gate {
	char *metric;
	double min, max;
	bool has_min, has_max;
	struct kf_pos pos;
};

struct kf_repo_promotion {
	char *from;                 /* environment name */
	struct kf_repo_gate *gates;
	size_t ngates;
	double soak;                /* seconds, 0 = none */
	bool automatic;             /* auto: true */
};

struct kf_repo_env {
	char *name;
	char *context;              /* kubeconfig context; NULL = current */
	char *namespace;            /* default namespace; NULL = "default" */
	char **paths;               /* repository-relative, normalised */
	size_t npaths;
	char **sub_keys, **sub_vals; /* substitute, in file order */
	size_t nsub;
	bool prune;                 /* default false */
	bool auto_pin;              /* autoPin */
	double timeout;             /* health deadline, seconds (default 5m) */
	bool has_promotion;
	struct kf_repo_promotion promotion;
	struct kf_pos pos;
};

enum kf_concurrency { KF_CONC_SKIP, KF_CONC_QUEUE, KF_CONC_REPLACE };

struct kf_repo_pipeline {
	char *name;
	char *package;              /* path of the compiled pipeline (IR YAML) */
	char **watch;               /* git pathspecs */
	size_t nwatch;
	char *experiment;           /* default: the pipeline's name */
	json_t *parameters;         /* object (owned), never NULL */
	char **environments;
	size_t nenvironments;
	enum kf_concurrency concurrency; /* default skip */
	bool has_schedule;
	struct {
		char *cron;         /* 6 fields; NULL when interval is used */
		double interval;    /* seconds (interval: 6h); 0 with cron */
		int max_concurrency;/* default 1 */
		bool catchup;       /* default false */
		bool enabled;       /* default true */
	} schedule;
	struct kf_pos pos;
};

struct kf_repo_model {
	char *name;
	char *versions;             /* path of the kind: Model file */
	char *serving;              /* path of the serving template, may be NULL */
	struct kf_pos pos;
};

struct kf_repo_config {
	char *file;                 /* name used in positions ("kfboot.yaml") */
	struct kf_repo_env *envs;
	size_t nenvs;
	struct {
		char *endpoint;     /* default http://ml-pipeline.kubeflow.svc.cluster.local:8888 */
		char *token_file;   /* may be NULL */
	} kfp;
	struct kf_repo_pipeline *pipelines;
	size_t npipelines;
	struct kf_repo_model *models;
	size_t nmodels;
};

/*
 * Parse and validate kfboot.yaml. Every problem goes to diags with
 * file:line:col (unknown fields, wrong types, bad names, duplicate
 * environments, promotion.from naming an unknown environment or itself,
 * pipelines naming unknown environments, ...); KF_EINVAL when any was found
 * and *out is NULL then.
 */
int kf_repo_config_parse(struct kf_repo_config **out, const char *name,
			 const char *data, size_t len, struct kf_diags *diags,
			 struct kf_err **err);
void kf_repo_config_free(struct kf_repo_config *c);
const struct kf_repo_env *kf_repo_config_env(const struct kf_repo_config *c,
					     const char *name);
/* Read kfboot.yaml from a commit and parse it; the problems are joined
 * into the error ("kfboot.yaml:3:5: ...; ..."), naming the commit. */
int kf_repo_config_load(struct kf_repo_config **out,
			struct kf_git_source *src, const char *commit,
			struct kf_err **err);

/* ==== substitution (${VAR}, ${VAR:=default}, $${VAR}) ================= */

struct kf_subst_vars {
	const char *const *keys, *const *vals;
	size_t n;
};

/*
 * Substitute variables in `in` the way Flux's post-build substitution does:
 * ${VAR} is the value, ${VAR:=default} (and ${VAR:-default}) the value or
 * the default, $${VAR} is the literal text ${VAR}. Variable names are
 * [A-Za-z_][A-Za-z0-9_]*. A variable with no value and no default is a
 * problem added to diags as `file`:line:col; full-line YAML comments are
 * left alone. Returns KF_EINVAL when any problem was found.
 */
int kf_subst(struct kf_buf *out, const char *in, size_t len, const char *file,
	     const struct kf_subst_vars *vars, struct kf_diags *diags);

/* ==== render ========================================================== */

struct kf_render_opts {
	const char *kustomize;       /* binary; NULL = "kustomize" when on PATH, else "kubectl kustomize" */
	double kustomize_timeout;    /* seconds; 0 = 60 */
	const struct kf_discovery *d;/* scopes for namespace defaulting; NULL = built-in table + CRDs in the set */
};

/* What flows through the render pipeline. */
struct kf_render {
	struct kf_git_source *src;
	const char *commit;
	const struct kf_repo_config *cfg;
	const struct kf_repo_env *env;
	const struct kf_render_opts *opts;
	/* documents collected from the paths, before parsing */
	struct kf_render_doc {
		char *file;          /* repository path ("apps/base/x.yaml") or "<path>/kustomization.yaml (kustomize build)" */
		struct kf_buf text;
		bool substituted;
	} *docs;
	size_t ndocs, docs_alloc;
	struct kf_objset set;        /* the result */
	struct kf_diags *diags;      /* every problem, file:line:col */
};

typedef int (*kf_render_step_fn)(struct kf_render *r, void *ctx,
				 struct kf_err **err);

struct kf_render_step {
	const char *name;            /* "collect", "substitute", "parse", "namespace", ... */
	kf_render_step_fn run;
	void *ctx;
};

/* The built-in steps, in order: collect, substitute, parse, namespace. A
 * step adds problems to r->diags and returns 0; it returns an error only
 * for failures that are not the repository's fault (I/O, a timeout). */
extern const struct kf_render_step kf_render_builtin_steps[];
extern const size_t kf_render_builtin_nsteps;
/*
 * Register a step that runs after the built-in ones for every render in
 * this process (model pins, serving templates). Not thread-safe: call at
 * start-up, before any render.
 */
void kf_render_add_step(const struct kf_render_step *step);

/*
 * Render one environment of a commit into `out` (which must be empty).
 * Problems go to diags; KF_EINVAL when there were any (out is then
 * released). Objects carry their repository file and line:col.
 */
int kf_gitops_render_env(struct kf_objset *out, struct kf_git_source *src,
			 const char *commit, const struct kf_repo_config *cfg,
			 const struct kf_repo_env *env,
			 const struct kf_render_opts *opts,
			 struct kf_diags *diags, struct kf_err **err);

/* ==== sync one environment ============================================ */

enum kf_sync_result {
	KF_SYNC_NONE = 0,  /* not attempted yet */
	KF_SYNC_APPLIED,   /* applied (and healthy when waited for) */
	KF_SYNC_INVALID,   /* the commit is broken: nothing was written */
	KF_SYNC_FAILED,    /* apply or health failed, or the cluster was unreachable */
	KF_SYNC_DRY_RUN,   /* validated and dry-run only */
};
const char *kf_sync_result_str(enum kf_sync_result r); /* "applied", ... */

enum kf_env_health { KF_ENV_HEALTH_UNKNOWN = 0, KF_ENV_HEALTH_HEALTHY, KF_ENV_HEALTH_PROGRESSING, KF_ENV_HEALTH_DEGRADED };
const char *kf_env_health_str(enum kf_env_health h);

/* Status of one environment after a sync (owned strings). */
struct kf_env_status {
	char *env;
	char commit[41];          /* the commit this attempt was for */
	char applied_commit[41];  /* the last commit applied successfully ("" if none) */
	long long time;           /* Unix time the attempt finished */
	long long last_change;    /* Unix time something was last written */
	double seconds;           /* duration of the attempt */
	enum kf_sync_result result;
	enum kf_env_health health;
	size_t total, applied, unchanged, pruned, failed, not_ready;
	size_t hands_off;         /* left alone: live copy says kfboot.io/reconcile: disabled */
	char *error;              /* first problem, or NULL */
	char *error_file;         /* where, or NULL */
	int error_line, error_col;
	json_t *problems;         /* array of "file:line:col: msg" (owned), or NULL */
	json_t *changes;          /* dry run: array of object labels that would change, or NULL */
};
void kf_env_status_release(struct kf_env_status *s);
/* Copy (deep) for snapshots. */
void kf_env_status_copy(struct kf_env_status *dst, const struct kf_env_status *src);
json_t *kf_env_status_json(const struct kf_env_status *s);

struct kf_sync_opts {
	bool dry_run;              /* validate and server-side dry run only */
	bool skip_dry_run;         /* the commit was validated against this cluster already */
	bool wait;                 /* wait for health (default in the reconciler) */
	const char *inventory_ns;  /* NULL = "kube-system" */
	double apply_timeout;      /* 0 = 10 min */
	const struct kf_render_opts *render;
	kf_apply_progress_fn progress;
	void *progress_ctx;
};

/* The inventory of an environment: "<ns>/kfboot-gitops-<env>". Caller frees. */
char *kf_gitops_inventory(const char *inventory_ns, const char *env);

/*
 * Sync one environment to `commit`: render, validate everything (YAML,
 * identity, duplicates, kinds known to the server or defined by a CRD in
 * the set, a server-side dry run of what would change) and only then apply
 * (staged, ApplySet inventory per environment, prune when env->prune,
 * health with env->timeout). A broken commit changes nothing: st->result
 * is KF_SYNC_INVALID with the first problem's file:line:col. `st` keeps
 * applied_commit/last_change from earlier attempts. If `rendered` is not
 * NULL, the rendered set is moved there when the apply succeeded (for
 * drift watches). Returns 0 when applied (and healthy), KF_EINVAL for a
 * broken commit, another code otherwise; st says the same.
 */
int kf_gitops_sync_env(struct kf_env_status *st, struct kf_kube *k,
		       struct kf_discovery *d, struct kf_git_source *src,
		       const char *commit, const struct kf_repo_config *cfg,
		       const struct kf_repo_env *env,
		       const struct kf_sync_opts *opts,
		       struct kf_objset *rendered, struct kf_err **err);

/* ==== the reconciler ================================================== */

enum {
	KF_WAKE_SOURCE = 1 << 0, /* the remote may have moved: check and fetch now */
	KF_WAKE_RESYNC = 1 << 1, /* re-apply every environment from the current commit */
};

struct kf_reconciler;

struct kf_reconciler_opts {
	const char *url;
	const char *branch;          /* NULL = "main" */
	const char *state_dir;       /* NULL = $XDG_STATE_HOME/kfboot or ~/.local/state/kfboot */
	struct kf_git_source_opts source;
	const char *const *envs;     /* selected environments; none = all */
	size_t nenvs;
	bool once;                   /* one pass, then return */
	bool dry_run;
	double interval;             /* poll, seconds; 0 = 60 (jittered +-10%) */
	double resync;               /* full re-apply, seconds; 0 = 3600 */
	double retry_max;            /* backoff cap after failures; 0 = 300 */
	const char *kubeconfig;
	const char *context;         /* overrides every environment's context */
	const char *inventory_ns;    /* NULL = "kube-system" */
	bool start_as_leader;        /* default true for the CLI; false when a Lease decides */
	const struct kf_render_opts *render;
};

/*
 * Observers: the metrics and live parts plug in here. Every callback runs
 * on the loop thread, must not block, and may be NULL. Several observers
 * may be registered (before kf_reconciler_run).
 */
struct kf_reconciler_hooks {
	void *ctx;
	/* git: one check or fetch finished (ok or not). */
	void (*on_fetch)(void *ctx, const char *what /* "check"|"fetch" */,
			 double seconds, const struct kf_err *err);
	/* one environment was reconciled. */
	void (*on_reconcile)(void *ctx, const struct kf_env_status *st,
			     const char *reason /* "commit"|"resync"|"drift"|"retry" */);
	/* after a successful apply: the objects now owned by the environment
	 * (drift watches start from here). Borrowed for the call only. */
	void (*on_applied)(void *ctx, const char *env, struct kf_kube *k,
			   struct kf_discovery *d, const struct kf_objset *set);
	/* once per loop iteration, before it sleeps (timers of the caller). */
	void (*on_idle)(void *ctx, struct kf_reconciler *r);
};

int kf_reconciler_new(struct kf_reconciler **out,
		      const struct kf_reconciler_opts *opts,
		      struct kf_err **err);
void kf_reconciler_free(struct kf_reconciler *r);
void kf_reconciler_add_hooks(struct kf_reconciler *r,
			     const struct kf_reconciler_hooks *h);

/*
 * Run the loop on the calling thread until kf_reconciler_stop(), SIGINT or
 * SIGTERM (kf_interrupted()), or after one pass with opts.once. Returns 0;
 * with once, KF_ERR when any selected environment is not applied and
 * healthy (the status says why), KF_ECANCEL when interrupted.
 */
int kf_reconciler_run(struct kf_reconciler *r, struct kf_err **err);

/* Thread-safe (and async-signal-safe: a write to a pipe). */
void kf_reconciler_stop(struct kf_reconciler *r);
/* Thread-safe: ask the loop to do KF_WAKE_* work now. Repeated wakes
 * before the loop runs coalesce into one. */
void kf_reconciler_wake(struct kf_reconciler *r, unsigned what);
/* Thread-safe: an object of an environment may have drifted
 * ("group/Kind/ns/name"); the loop re-applies that environment's last
 * applied commit (only what changed is sent). Deduplicated. */
void kf_reconciler_enqueue_object(struct kf_reconciler *r, const char *env,
				  const char *object_key);
/* Thread-safe: only a leader fetches, applies, prunes or triggers. */
void kf_reconciler_set_leader(struct kf_reconciler *r, bool leader);
bool kf_reconciler_is_leader(struct kf_reconciler *r);
/* Thread-safe: a snapshot of the status, owned by the caller:
 * {"repository","branch","leader","head","lastFetch","lastFetchError",
 *  "environments":[kf_env_status_json...]}. */
json_t *kf_reconciler_status_json(struct kf_reconciler *r);
/* Thread-safe: true once every selected environment was attempted. */
bool kf_reconciler_ready(struct kf_reconciler *r);

/* ==== retraining (src/gitops/retrain.c) ============================== */

struct kf_kfp_observer;
/*
 * After an environment was synced to `commit`: one trigger pass
 * (kfp/trigger.h) for every pipeline that lists the environment, then its
 * recurring runs, then the pruning of schedules removed from git. Does
 * nothing when kfboot.yaml declares no pipelines. The run journal lives in
 * the environment's cluster (k). Problems of every pipeline are joined
 * into the error; one pipeline's problem does not stop the others.
 */
int kf_gitops_retrain_env(struct kf_git_source *src, const char *commit,
			  const struct kf_repo_config *cfg,
			  const struct kf_repo_env *env, struct kf_kube *k,
			  const struct kf_kfp_observer *obs, struct kf_err **err);
/* Thread-unsafe, before kf_reconciler_run: publish retraining counters
 * (kf_kfp_metrics_register) through this observer. */
void kf_reconciler_set_kfp_observer(struct kf_reconciler *r,
				    const struct kf_kfp_observer *obs);

/* Default state folder. Caller frees. */
char *kf_gitops_default_state_dir(void);

#endif
