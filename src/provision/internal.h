/*
 * internal.h - what the files of src/provision share and nobody else needs:
 * the phase structure, the state of one run, and the action builders that
 * both `plan` and the runner use.
 */
#ifndef KF_PROVISION_INTERNAL_H
#define KF_PROVISION_INTERNAL_H

#include <pthread.h>

#include "provision/provision.h"
#include "ssh/ssh.h"

/* The remote staging directory, relative to the login user's home (SFTP
 * paths) and as it appears on command lines (expanded by the login shell). */
#define KF_STAGE_REL ".kfboot"
#define KF_STAGE_SH "\"$HOME/.kfboot\""
#define KF_STAGE_SH_IN(x) "\"$HOME/.kfboot/" x "\""
#define KF_KUBECTL "kubectl --kubeconfig /etc/kubernetes/admin.conf"

/* Context for building a host's actions. Offline (plan) `facts` is NULL
 * and values only known at run time are shown as <placeholders>. */
struct kf_actx {
	const struct kf_cluster *c;
	const struct kf_host *h;
	const struct kf_host *cp;
	const struct kf_facts *facts; /* NULL offline */
	bool root;                    /* login user is root (no sudo) */
	const char *state_dir;
	/* Join (run time only). */
	const char *join_endpoint, *join_token, *join_hash;
};

struct kf_run;
struct kf_rhost;

struct kf_phase {
	const char *id;
	const char *title;
	enum kf_scope scope;
	bool readonly;   /* changes nothing on hosts (not counted) */
	/* What the facts say about host h (NULL = always run). *why gets a
	 * short reason ("already joined"); static string. */
	enum kf_need (*should_run)(const struct kf_run *r, const struct kf_rhost *h,
				   const char **why);
	/* Fingerprint of the phase's inputs for host h (journal), or NULL. */
	char *(*fingerprint)(const struct kf_actx *x);
	/* The actions on host h (plan and run). May add nothing. */
	int (*dry_run)(const struct kf_actx *x, struct kf_plan_phase *out,
		       struct kf_err **err);
	/* Condition under which the phase does nothing (plan), or NULL. */
	const char *when;
	/* Run once before the hosts (e.g. create a join token); may be NULL. */
	int (*before)(struct kf_run *r, struct kf_err **err);
	/* before's actions on the control plane, for plans. */
	int (*before_dry_run)(const struct kf_actx *x, struct kf_plan_phase *out,
			      struct kf_err **err);
	/* Run on one host (in a worker thread). NULL: execute dry_run's actions. */
	int (*run)(struct kf_run *r, struct kf_rhost *h, struct kf_err **err);
	/* Run once for the cluster instead of per host. */
	int (*run_cluster)(struct kf_run *r, struct kf_err **err);
	/* Undo after a failure of this phase (may be NULL). */
	void (*cleanup)(struct kf_run *r, struct kf_rhost *h);
};

struct kf_rhost {
	const struct kf_host *cfg;
	size_t index;
	struct kf_ssh *ssh;
	struct kf_facts facts;
	bool have_facts;
	bool failed;           /* later phases skip this host */
	bool reachable;
	struct kf_err *err;    /* first error on this host */
	enum kf_result res;    /* of the current phase */
	char *res_msg;
	struct kf_run *run;
	const struct kf_phase *phase; /* current */
	struct kf_buf line;    /* partial output line */
	char *status;          /* last "kfboot: ..." line */
};

struct kf_run {
	const struct kf_cluster *c;
	struct kf_prov_opts o;
	struct kf_rhost *hosts;
	size_t nhosts;
	struct kf_rhost *cp;
	struct kf_journal *journal; /* NULL for status */
	char *state_dir;
	double t0;
	pthread_mutex_t lock;        /* events, journal, summary */
	struct kf_run_summary *sum;
	bool any_changed;
	/* Shared between phases. */
	char *join_endpoint, *join_token, *join_hash;
	char *kubeconfig_path;
};

/* actions.c */
void kf_actx_init(struct kf_actx *x, const struct kf_cluster *c,
		  const struct kf_host *h, const struct kf_facts *facts);
struct kf_action *kf_plan_phase_add(struct kf_plan_phase *p,
				    enum kf_action_kind kind);
void kf_plan_phase_release(struct kf_plan_phase *p);
/* "sudo -n " unless root, then "env K=V ... sh "$HOME/.kfboot/NAME"". */
char *kf_script_cmd(const struct kf_actx *x, const char *script,
		    const char *const *env);
/* Add `mkdir -p -m 700 "$HOME/.kfboot[/sub]"`. */
void kf_add_mkdir(struct kf_plan_phase *out, const char *sub);
/* Add: mkdir of the staging dir (when out is empty), upload of the script, its run. */
int kf_add_script_run(const struct kf_actx *x, struct kf_plan_phase *out,
		      const char *script, const char *const *env);
/* A command run with root rights ("sudo -n " prefix unless root). */
char *kf_priv_cmd(const struct kf_actx *x, const char *cmd);
/* For the runner: a command built with the "sudo -n " prefix, without it and
 * with "$HOME" replaced by the login user's home (what the login shell
 * expanded before sudo), to run with kf_ssh_exec_opts.sudo, i.e. inside
 * timeout(1) under sudo so that a deadline stops it on the host. NULL when
 * cmd has no such prefix or home is unknown or unsafe to put between double
 * quotes. Caller frees. */
char *kf_sudo_unwrap(const char *cmd, const char *home);

/* scripts.c */
void kf_scripts_set_dir(const char *dir);

/* phases.c */
extern const struct kf_phase kf_phase_connect, kf_phase_facts,
	kf_phase_preflight, kf_phase_prepare, kf_phase_init, kf_phase_network,
	kf_phase_join, kf_phase_kubeconfig, kf_phase_labels, kf_phase_wait,
	kf_phase_reset_sudo, kf_phase_reset_node, kf_phase_reset_state;
/* kubeflow.c */
extern const struct kf_phase kf_phase_kubeflow;
extern const struct kf_phase kf_phase_reconciler;

const char *kf_host_role_str(const struct kf_host *h);

/* runner.c */
void kf_run_event(struct kf_run *r, enum kf_event_kind kind,
		  const struct kf_phase *ph, const struct kf_rhost *h,
		  enum kf_result res, const char *msg, double progress);
/* Execute a built phase's actions on h (RUN and UPLOAD; LOCAL skipped).
 * Sets h->res from the scripts' "kfboot-result:" lines. */
int kf_run_actions(struct kf_run *r, struct kf_rhost *h,
		   const struct kf_plan_phase *pp, struct kf_err **err);
/* Run one command on h with root rights; output in out (may be NULL).
 * `secret`: output is not logged. */
int kf_run_priv(struct kf_run *r, struct kf_rhost *h, const char *cmd,
		double timeout, bool secret, struct kf_buf *out,
		struct kf_err **err);
void kf_rhost_actx(const struct kf_run *r, const struct kf_rhost *h,
		   struct kf_actx *x);
/* Append s to b with every line after the first indented by `ind`. */
void kf_add_indented(struct kf_buf *b, const char *s, const char *ind);
/* The end of a phase that runs on this machine for the whole cluster
 * (install Kubeflow, install the reconciler): count it in the summary and
 * report the control plane's result; on failure (rc != 0) wrap *err with
 * the phase and report that instead. */
void kf_run_local_phase_end(struct kf_run *r, const struct kf_phase *ph, int rc,
			    enum kf_result result, const char *msg, struct kf_err **err);

#endif
