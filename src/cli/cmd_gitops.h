/*
 * cmd_gitops.h - what `kfboot reconcile` and `kfboot render` share: the
 * option table for the repository and its credentials, parsed into one
 * struct. Implemented in cmd_reconcile.c.
 *
 * To add an option: a field in struct kf_gitops_cli and one row in the
 * table in cmd_reconcile.c (name, kind, offset, which commands take it).
 */
#ifndef KF_CMD_GITOPS_H
#define KF_CMD_GITOPS_H

#include "cli.h"
#include "gitops/gitops.h"

enum { KF_GCMD_RECONCILE = 1, KF_GCMD_RENDER = 2 };

struct kf_gitops_cli {
	const char *repo, *branch, *state_dir;
	const char **envs;           /* --env, repeatable */
	size_t nenvs;
	bool once, dry_run;
	double interval, resync;
	const char *kubeconfig, *context, *inventory_ns, *revision;
	const char *token_file, *username, *password_file, *ca_file;
	const char *ssh_key, *known_hosts, *kustomize;
	bool accept_new_host_key;
	double kustomize_timeout;
	/* the live parts (src/gitops/live.h) */
	const char *listen, *webhook_secret_file, *listen_port_file;
	bool leader_elect, no_drift;
};

/* Parse argv (argv[0] is the command) for command `which`. Returns 0 or an
 * exit code after printing a usage error. */
int kf_gitops_cli_parse(struct kf_gitops_cli *g, const struct kf_cmd *cmd, unsigned which,
			struct kf_cli *cli, int argc, char **argv);
void kf_gitops_cli_release(struct kf_gitops_cli *g);
/* The source options from the parsed flags. */
void kf_gitops_cli_source_opts(const struct kf_gitops_cli *g, struct kf_git_source_opts *o);

#endif
