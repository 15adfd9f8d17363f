/*
 * profile_opts.h - what the commands that work on a cluster profile (plan,
 * up, reset, status, kubeconfig) share: parsing `-f PROFILE`,
 * `--state-dir DIR`, `--parallel N` and the command's own options, loading
 * the profile, and for the commands that change hosts (up, reset) the
 * run's log file, the progress view and the JSON summary.
 * Implemented in profile_opts.c.
 */
#ifndef KF_CLI_PROFILE_OPTS_H
#define KF_CLI_PROFILE_OPTS_H

#include <getopt.h>

#include "cli.h"
#include "provision/provision.h"

/* Which shared options a command accepts besides -f and --state-dir. */
#define KF_PO_PARALLEL 0x1u /* --parallel N */

struct kf_profile_opts {
	const char *file;       /* -f, --file */
	struct kf_prov_opts o;  /* --state-dir, --parallel (and what the command sets) */
};

/*
 * A command's own option: called for every option that is not shared, with
 * getopt's value and optarg. Return 0, or an exit code after
 * kf_cli_usage() (parsing stops).
 */
typedef int (*kf_profile_opt_fn)(void *ctx, int opt, const char *arg,
				 struct kf_cli *cli, const struct kf_cmd *cmd);

/* Ready-made kf_profile_opt_fn for a command with one option of its own:
 * a flag (ctx is a bool *, set to true) or a value (ctx is a const char **,
 * set to the argument). */
int kf_profile_opt_flag(void *ctx, int opt, const char *arg, struct kf_cli *cli,
			const struct kf_cmd *cmd);
int kf_profile_opt_value(void *ctx, int opt, const char *arg, struct kf_cli *cli,
			 const struct kf_cmd *cmd);

/*
 * Parse argv (argv[0] is the command): the shared options, then `extra`
 * (NULL-terminated like getopt_long's table; may be NULL) handed to `fn`
 * with `ctx`. `shortopts` lists the short options beyond "f:" (e.g. "y").
 * Refuses unknown options, positional arguments and a missing -f with a
 * usage error. Returns 0 or the exit code to return.
 */
int kf_profile_opts_parse(struct kf_profile_opts *po, struct kf_cli *cli,
			  const struct kf_cmd *cmd, int argc, char **argv,
			  unsigned flags, const struct option *extra,
			  const char *shortopts, kf_profile_opt_fn fn, void *ctx);

/* Load and validate the profile of -f. Returns 0, or KF_EXIT_FAIL after
 * printing the error. */
int kf_profile_opts_load(struct kf_cluster **out, const struct kf_profile_opts *po,
			 struct kf_cli *cli);

/*
 * A run that changes hosts (`up`, `reset`): its log file in the cluster's
 * state directory (set as the log's file) and the progress view on stderr,
 * wired into po->o.on_event. kf_profile_run_end() stops the view;
 * kf_profile_run_release() closes the log. `path` stays valid until then.
 */
struct kf_profile_run {
	const char *what; /* "up", "reset" */
	FILE *log;
	char *path;
	struct kf_progress *prog;
};

int kf_profile_run_begin(struct kf_profile_run *run, struct kf_profile_opts *po,
			 const struct kf_cluster *c, struct kf_cli *cli,
			 const char *what);
void kf_profile_run_end(struct kf_profile_run *run);
void kf_profile_run_release(struct kf_profile_run *run);

/*
 * After the run (`res` is what kf_up/kf_reset returned): stop the progress
 * view; with -o json print the summary (cluster, ok, changed, unchanged,
 * elapsed, hosts, log, and the members of `extra`, which is consumed; may
 * be NULL); on failure log it, print the error and, when `show_log`, the
 * log's path. Returns 0 when res is 0, else the exit code.
 */
int kf_profile_run_report(struct kf_profile_run *run, struct kf_cli *cli,
			  const struct kf_cluster *c, int res,
			  const struct kf_run_summary *sum, json_t *extra,
			  const struct kf_err *err, bool show_log);

#endif
