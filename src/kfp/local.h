/*
 * local.h - run a KFP v2 pipeline's container components on this machine.
 *
 * The local runner takes a checked package (ir.h), resolves the pipeline's
 * parameters (defaults, overridden by NAME=VALUE), and runs the root DAG's
 * tasks in dependency order, independent ones in parallel, each as a local
 * process: the container's command and args with every placeholder
 * substituted (input parameters, task output parameters, artifact paths and
 * URIs under the output directory, the run id), and the container image
 * mapped to a local command prefix (see below). A task that fails stops
 * the tasks that depend on it, directly or not; others still run.
 *
 * Image map: "IMAGE=PREFIX" — for tasks whose image is IMAGE (or, when
 * IMAGE has no tag or digest, any tag of it), the program (the first word
 * of the container's command) is replaced by PREFIX, split on blanks; an
 * empty PREFIX runs the command as it is. With no command (args only),
 * PREFIX stands for the image's entry point. Built in: images named
 * kfboot-xor (any registry or tag) map to "/usr/bin/python3 DIR/xor.py",
 * DIR being the package's directory, when that file exists.
 *
 * Layout of the output directory: DIR/<task>/<artifact> for output
 * artifacts, DIR/<task>/outputs/<parameter> for output parameters,
 * DIR/<task>/stdout.log and stderr.log, and DIR/run.json (the summary).
 */
#ifndef KF_KFP_LOCAL_H
#define KF_KFP_LOCAL_H

#include <jansson.h>

#include "kfp/ir.h"
#include "util/util.h"

enum kf_kfp_local_state {
	KF_LOCAL_PENDING,
	KF_LOCAL_RUNNING,
	KF_LOCAL_SUCCEEDED,
	KF_LOCAL_FAILED,
	KF_LOCAL_NOT_RUN, /* a task it depends on failed */
};

const char *kf_kfp_local_state_str(enum kf_kfp_local_state s);

struct kf_kfp_local_task {
	const char *name;         /* borrowed from the package */
	enum kf_kfp_local_state state;
	double started, seconds;  /* kf_now() at start; wall time */
	int exit_status;          /* -1 when not run or killed by a signal */
	int term_signal;          /* the signal that killed it, or 0 */
	char *why;                /* one line on a failure / not run */
	char *stderr_tail;        /* last lines of stderr of a failed task */
	char *dir;                /* DIR/<task> */
	json_t *outputs;          /* {"artifacts":{name:{path,written}},
				     "parameters":{name:value}} */
	/* private */
	char **argv;
	pid_t pid;
};

struct kf_kfp_local_run {
	char *run_id;
	char *out_dir;
	char *pipeline;
	json_t *params;           /* the resolved pipeline parameters */
	struct kf_kfp_local_task *tasks; /* in the package's task order */
	size_t ntasks;
	double seconds;
	bool ok;
};

struct kf_kfp_local_opts {
	const char *out_dir;      /* NULL: ./kfboot-runs/<run id> */
	const char *const *params;/* "NAME=VALUE" */
	size_t nparams;
	const char *const *image_maps; /* "IMAGE=PREFIX" */
	size_t nmaps;
	const char *run_id;       /* NULL: a new UUID */
	int jobs;                 /* tasks at once; 0: the number of CPUs */
	/* Called (on the calling thread) when a task starts and ends. */
	void (*on_task)(void *ctx, const struct kf_kfp_local_run *run,
			const struct kf_kfp_local_task *t);
	void *ctx;
};

/*
 * Run the pipeline. Bad options (unknown parameter, a value of the wrong
 * type, a non-empty output directory that is not a run's) fail before any
 * task runs, with *out NULL. Otherwise *out holds the summary, also when a
 * task failed: then the call returns KF_ERR and *err names the task, its
 * exit status and where its logs are.
 */
int kf_kfp_local_run(struct kf_kfp_local_run **out, const struct kf_kfp_ir *ir,
		     const struct kf_kfp_local_opts *opts, struct kf_err **err);
/* The summary as JSON (what run.json holds). Caller owns the result. */
json_t *kf_kfp_local_run_json(const struct kf_kfp_local_run *run);
void kf_kfp_local_run_free(struct kf_kfp_local_run *run);

#endif
