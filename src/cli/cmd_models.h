/*
 * cmd_models.h - what `kfboot promote` and `kfboot models` share: their
 * options (repository, credentials, cluster, author), opening the GitOps
 * source as a push target, and reading the reconciler's status and live
 * objects from a cluster. Implemented in cmd_promote.c.
 */
#ifndef KF_CMD_MODELS_H
#define KF_CMD_MODELS_H

#include "cli.h"
#include "gitops/gitops.h"
#include "kube/kube.h"
#include "models/promote.h"

struct kf_models_cli {
	const char *repo, *branch, *state_dir, *author;
	const char *kubeconfig, *context, *status_ns;
	const char *token_file, *username, *password_file, *ca_file, *ssh_key, *known_hosts;
	bool accept_new_host_key;
	const char *to, *version, *run, *env, *run_ns, *domain, *ingress;
	bool dry_run, force;
	const char *pos[3];
	size_t npos;
	char *repo_buf;           /* the origin URL when --repo was not given */
	/* after kf_models_cli_open */
	struct kf_git_source *src;
	struct kf_push_target target;
	struct kf_kube_config *kcfg;
	struct kf_kube *k;
};

/* Parse argv; `allowed` lists the option names the command takes
 * ("to,version,..."). Returns 0 or an exit code after a usage error. */
int kf_models_cli_parse(struct kf_models_cli *m, const struct kf_cmd *cmd, const char *allowed,
			struct kf_cli *cli, int argc, char **argv);
/* Open the source (and fetch it) and, with --kubeconfig, the cluster. */
int kf_models_cli_open(struct kf_models_cli *m, struct kf_err **err);
/* The reconciler's status (ConfigMap <status-ns>/kfboot-status), or NULL
 * with *why (caller frees) when there is no cluster or no status. */
json_t *kf_models_cli_status(struct kf_models_cli *m, char **why);
void kf_models_cli_release(struct kf_models_cli *m);

/* The git credential flags of promote and models, for their --help. */
#define KF_GIT_CRED_HELP \
	"  --token-file F         https: a file holding a token (re-read each time)\n" \
	"  --username U           https: basic-auth user (with --password-file)\n" \
	"  --password-file F      https: a file holding the password\n" \
	"  --ca-file F            https: CA bundle for the git server\n" \
	"  --ssh-key F            ssh: private key (default: ssh-agent)\n" \
	"  --known-hosts F        ssh: known_hosts file (default ~/.ssh/known_hosts)\n" \
	"  --accept-new-host-key  ssh: trust an unknown host key on first contact\n"

#endif
