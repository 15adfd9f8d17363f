/*
 * cmd_kube.h - what the Kubernetes commands (apply, diff, delete, kubeflow)
 * share: their common flags, connecting (kubeconfig, client, discovery),
 * loading and validating manifests, and the progress printer.
 * Implemented in cmd_apply.c.
 */
#ifndef KF_CMD_KUBE_H
#define KF_CMD_KUBE_H

#include "cli.h"
#include "kube/kube.h"

extern const struct kf_cmd kf_cmd_apply;
extern const struct kf_cmd kf_cmd_diff;
extern const struct kf_cmd kf_cmd_delete;

struct kf_kube_cli {
	const char **files; /* -f, in order */
	size_t nfiles;
	const char *kubeconfig;
	const char *context;
	const char *inventory;
	const char *namespace; /* -n/--namespace: for objects that name none */
	double timeout;
	bool dry_run_client;   /* --dry-run=client: read and check, send nothing */      /* --timeout: one deadline for every request, from started */
	double started;      /* kf_now() when the command began (kf_kube_cli_parse) */
	bool dry_run, prune, force_prune, wait, force_conflicts, http1;
	bool loaded; /* kf_kube_cli_read has read the -f files */
	/* connection, after kf_kube_cli_connect */
	struct kf_kube_config *cfg;
	struct kf_kube *k;
	struct kf_discovery *d;
	/* progress */
	struct kf_cli *cli;
	const char *last_phase;
	bool line_open;
};

/*
 * Parse the shared flags from argv (argv[0] is the command). `allowed` is a
 * string of flag names the command accepts, e.g. "f,kubeconfig,context".
 * Returns 0, or an exit code after printing a usage error.
 */
int kf_kube_cli_parse(struct kf_kube_cli *c, const struct kf_cmd *cmd,
		      const char *allowed, int argc, char **argv);
int kf_kube_cli_connect(struct kf_kube_cli *c, struct kf_err **err);
/* Read and check the -f files without a server (YAML, required fields,
 * limits, duplicates within a kind's spelling); prints every problem
 * (file:line:col) and returns KF_EINVAL when there were any. Call before
 * kf_kube_cli_connect, so that a broken file fails at once even when the
 * server is down. */
int kf_kube_cli_read(struct kf_kube_cli *c, struct kf_objset *set,
		     struct kf_err **err);
/* Load -f files (unless kf_kube_cli_read did) and check them against
 * discovery; prints every problem (file:line:col) and returns KF_EINVAL
 * when there were any. */
int kf_kube_cli_load(struct kf_kube_cli *c, struct kf_objset *set,
		     struct kf_err **err);
void kf_kube_cli_progress(void *ctx, const struct kf_apply_progress *p);
/* End an open progress line. */
void kf_kube_cli_progress_done(struct kf_kube_cli *c);
void kf_kube_cli_release(struct kf_kube_cli *c);

#endif
