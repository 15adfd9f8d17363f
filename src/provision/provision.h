/*
 * provision.h - bootstrapping a cluster over SSH: the phases of `up`,
 * `reset` and `status`, run per host in parallel; the plan (what the phases
 * would run, built offline); the journal that lets an interrupted `up`
 * resume; and the admin kubeconfig.
 *
 * Shape (k0sctl style): a run is a list of phases. A phase is a small unit
 * with a title, a scope (every host, the control plane, the workers, or the
 * cluster once), `should_run` (do the host's facts say there is work?),
 * `dry_run` (the exact actions it would take on a host: the same builder is
 * used by `plan` and by the real run, so the plan cannot drift from what
 * runs), `run` and an optional `cleanup`. Phases run in order; within a
 * phase, hosts run in parallel on a bounded pool of threads.
 *
 * The node-side work lives in scripts/node/ (embedded in the binary at
 * build time; KFBOOT_SCRIPTS_DIR overrides). The same scripts drive the
 * Ansible playbook in ansible/.
 *
 * Ownership: kf_plan_build() returns a plan the caller frees with
 * kf_plan_free(). The runner functions borrow the cluster for the duration
 * of the call. JSON values returned through `**out` belong to the caller.
 * No function here prints to stdout; progress goes to the event callback
 * (render it with kf_progress_*), diagnostics to the log.
 */
#ifndef KF_PROVISION_H
#define KF_PROVISION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"
#include "util/util.h"

/* ---- phases ------------------------------------------------------------ */

enum kf_scope {
	KF_SCOPE_ALL,           /* every host */
	KF_SCOPE_CONTROL_PLANE, /* the control-plane host */
	KF_SCOPE_WORKERS,       /* every worker */
	KF_SCOPE_CLUSTER,       /* once, for the whole cluster (shown under
				 * the control plane in plans) */
};

struct kf_phase;

/* Phase lists. The order is the order of execution. */
extern const struct kf_phase *const kf_phases_up[];
extern const size_t kf_phases_up_n;
extern const struct kf_phase *const kf_phases_reset[];
extern const size_t kf_phases_reset_n;

/* Borrowed getters. */
const char *kf_phase_id(const struct kf_phase *ph);    /* "prepare" */
const char *kf_phase_title(const struct kf_phase *ph); /* "prepare nodes" */
enum kf_scope kf_phase_scope(const struct kf_phase *ph);
/* Whether the phase concerns host h at all (scope and role). */
bool kf_phase_applies(const struct kf_phase *ph, const struct kf_cluster *c,
		      const struct kf_host *h);
/* Find an `up` phase by id, or NULL. */
const struct kf_phase *kf_phase_find(const char *id);

/* ---- options ------------------------------------------------------------ */

struct kf_prov_event;

struct kf_prov_opts {
	const char *state_dir;  /* NULL = $XDG_STATE_HOME/kfboot or
				 * ~/.local/state/kfboot; the cluster's files
				 * go to <state_dir>/<cluster>/ */
	int parallel;           /* hosts at once; 0 = 32 */
	double wait_timeout;    /* deadline of "nodes Ready"; 0 = 300 s */
	double script_timeout;  /* deadline of one node script; 0 = 1800 s */
	const char *scripts_dir;/* NULL = KFBOOT_SCRIPTS_DIR or embedded */
	const char *ignore_preflight; /* checks to only warn about ("cgroups,memory") */
	bool skip_kubeflow;     /* `up --skip-kubeflow`: leave "install Kubeflow" out */
	/* Progress; called from worker threads, serialised by the runner. */
	void (*on_event)(void *ctx, const struct kf_prov_event *ev);
	void *event_ctx;
};

/* Load and validate a profile; the error lists every problem with its
 * file:line:col. */
int kf_prov_load_profile(struct kf_cluster **out, const char *path,
			 struct kf_err **err);

/* Open a new log file for one run of `what` ("up") in the cluster's state
 * directory (logs/, mode 0600); *path gets its name (caller frees). Pass the
 * FILE to kf_log_set_file(); lines are redacted there. */
FILE *kf_prov_open_log(const struct kf_cluster *c, const struct kf_prov_opts *o,
		       const char *what, char **path, struct kf_err **err);

/* The cluster's state directory (<state_dir>/<cluster>). Caller frees. */
char *kf_prov_state_dir(const struct kf_cluster *c,
			const struct kf_prov_opts *o);

/* ---- plan ---------------------------------------------------------------- */

enum kf_action_kind {
	KF_ACT_RUN,    /* a command sent over SSH */
	KF_ACT_UPLOAD, /* a file written over SFTP */
	KF_ACT_LOCAL,  /* work done by kfboot itself (checks, waits, files) */
};

struct kf_action {
	enum kf_action_kind kind;
	char *cmd;       /* RUN: the exact command line; UPLOAD: remote path;
			  * LOCAL: what kfboot does */
	char *script;    /* RUN: the node script it runs ("prepare.sh"), or NULL */
	bool stdin_script; /* RUN: the script is fed on stdin (`sh -s`), not uploaded */
	char *on;        /* RUN: the host that runs it when not this one, or NULL */
	char *source;    /* UPLOAD: local path, or NULL for generated content */
	char *content;   /* UPLOAD of generated text (shown by plan unless
			  * `secret`), or NULL */
	size_t size;     /* UPLOAD: bytes (0 when not known offline) */
	int mode;        /* UPLOAD: permission bits */
	bool secret;     /* content or output holds a secret: never shown */
	char *note;      /* a short remark ("output holds the join token"), or NULL */
};

struct kf_plan_phase {
	const struct kf_phase *phase;
	char *when;      /* condition under which it does nothing, or NULL */
	struct kf_action *v;
	size_t n, alloc;
};

struct kf_plan_host {
	const struct kf_host *host; /* borrowed from the cluster */
	struct kf_plan_phase *phases;
	size_t n;
};

struct kf_plan {
	const struct kf_cluster *cluster; /* borrowed */
	struct kf_plan_host *hosts;
	size_t nhosts;
	char *state_dir;
};

/* Build the plan of `up` (or `reset` when reset is true) for every host.
 * Offline: no host is contacted, nothing is written. */
int kf_plan_build(struct kf_plan **out, const struct kf_cluster *c,
		  const struct kf_prov_opts *o, bool reset, struct kf_err **err);
void kf_plan_free(struct kf_plan *p);
/* Render for people: per host, per phase, the commands; `color` adds ANSI
 * escapes. `verbose` also prints generated files and script steps in full. */
void kf_plan_render(struct kf_buf *out, const struct kf_plan *p, bool color,
		    bool verbose);
json_t *kf_plan_to_json(const struct kf_plan *p);

/* What a node script does, from its "# step:" lines (NULL-terminated array;
 * caller frees with kf_strv_free). NULL when the script is unknown. */
char **kf_script_steps(const char *name);
void kf_strv_free(char **v);
/* The text of a node script, or NULL when unknown. Borrowed. */
const char *kf_script_text(const char *name, size_t *len);

/* ---- kubeadm --------------------------------------------------------------- */

/* The kubeadm configuration for the control plane: InitConfiguration,
 * ClusterConfiguration, KubeletConfiguration (systemd cgroup driver), in
 * kubeadm.k8s.io/v1beta4 for Kubernetes >= 1.31 and v1beta3 before. */
int kf_kubeadm_init_config(struct kf_buf *out, const struct kf_cluster *c,
			   struct kf_err **err);
/* The join parameters join.sh reads (KF_JOIN_ENDPOINT, KF_JOIN_TOKEN,
 * KF_JOIN_CA_HASH as shell assignments). Holds the token: upload 0600. */
int kf_kubeadm_join_env(struct kf_buf *out, const char *endpoint,
			const char *token, const char *ca_hash, struct kf_err **err);
/* Parse `kubeadm join EP --token T --discovery-token-ca-cert-hash H` (the
 * output of `kubeadm token create --print-join-command`). Each out string
 * is malloc'd; free them. */
int kf_kubeadm_parse_join(const char *line, char **endpoint, char **token,
			  char **ca_hash, struct kf_err **err);
/* "ADDRESS:6443" unless the profile's controlPlaneEndpoint has a port. */
char *kf_cluster_endpoint(const struct kf_cluster *c);

/* ---- facts and preflight ------------------------------------------------- */

/* Facts about one host, parsed from scripts/node/facts.sh output. */
struct kf_facts {
	json_t *raw;        /* every key as a string (owned) */
	const char *os;     /* borrowed from raw: PRETTY_NAME */
	const char *arch, *hostname, *machine_id, *user, *home;
	int cpus;
	double mem_gib;
	double swap_gib;
	int cgroup;         /* 1, 2, 0 = none */
	bool is_root, sudo_ok;
	double clock_offset;/* remote minus local clock, seconds */
	bool port_6443_used, port_10250_used;
	const char *modules_missing;  /* "" when none */
	const char *prepare_todo;     /* "" when prepared */
	bool control_plane, joined;
	const char *kubelet_server;   /* "" when not joined */
	const char *kubelet_active;   /* "active", "inactive", "unknown" */
	const char *cni;              /* applied network plugin, "" when none */
	const char *nodes;            /* control plane: "name:Ready,..." or NULL */
	const char *kubeadm_version, *kubelet_version, *containerd_version;
};

/* Parse facts.sh output; `local_mid` is the local wall clock at the middle
 * of the round trip (for clock_offset). */
int kf_facts_parse(struct kf_facts *f, const char *text, double local_mid,
		   struct kf_err **err);
void kf_facts_release(struct kf_facts *f);

/* Preflight over every host at once: every check, one report. facts[i]
 * belongs to c->hosts[i] (NULL for a host whose facts are missing). Checks
 * named in `ignore` report to `warnings` instead. Every
 * problem is added to `problems` (lines beginning with the host name);
 * returns KF_EINVAL when there is any. `warnings` gets what is worth
 * knowing but does not stop `up` (either may be NULL). */
int kf_preflight(const struct kf_cluster *c, const struct kf_facts *const *facts,
		 const char *ignore, struct kf_buf *problems, struct kf_buf *warnings);
/* Names of the checks `ignore` may list (comma-separated; "all" = every one
 * but sudo, which is never ignored: nothing works without it). NULL-ended. */
extern const char *const kf_preflight_checks[];

/* Whether host `name` is in a control plane's "nodes" fact and Ready. */
bool kf_facts_node_ready(const char *nodes, const char *name, bool *listed);

/* ---- journal --------------------------------------------------------------- */

/*
 * The journal (<state>/<cluster>/journal.json, written atomically after
 * every step) records, per host and phase, that the phase finished and the
 * fingerprint of its inputs (e.g. the kubeadm config's hash). Facts come
 * first: a phase whose facts say "done" or "to do" follows the facts; the
 * journal only decides for phases the facts cannot judge, and only when the
 * fingerprint still matches.
 */
struct kf_journal;

int kf_journal_load(struct kf_journal **out, const char *path,
		    const char *cluster, struct kf_err **err);
void kf_journal_free(struct kf_journal *j);
int kf_journal_save(struct kf_journal *j, struct kf_err **err);
/* Record a finished phase on a host (host NULL = the cluster). */
void kf_journal_done(struct kf_journal *j, const char *host,
		     const char *phase, const char *fingerprint);
/* Forget everything recorded for a host (it was reset or removed). */
void kf_journal_forget_host(struct kf_journal *j, const char *host);
/* Whether the phase is recorded done for the host with this fingerprint. */
bool kf_journal_is_done(const struct kf_journal *j, const char *host,
			const char *phase, const char *fingerprint);
/* Mark the start and end of an `up` run; `interrupted` tells whether the
 * previous run started and never finished. */
void kf_journal_run_begin(struct kf_journal *j, bool *interrupted);
void kf_journal_run_end(struct kf_journal *j, bool ok);
json_t *kf_journal_json(const struct kf_journal *j); /* borrowed */

/* What to do with one phase on one host. */
enum kf_need {
	KF_NEED_UNKNOWN = 0, /* facts cannot tell */
	KF_NEED_RUN,         /* facts show work to do */
	KF_NEED_DONE,        /* facts show it is done */
};
/* Combine facts and journal: true when the phase should run. */
bool kf_decide(enum kf_need facts_say, bool journal_done);

/* ---- runs ------------------------------------------------------------------- */

enum kf_result {
	KF_RES_NONE = 0,
	KF_RES_CHANGED,   /* work done */
	KF_RES_UNCHANGED, /* nothing to do: already done */
	KF_RES_FAILED,
};

enum kf_event_kind {
	KF_EV_RUN_START,   /* msg: "resuming an interrupted run" or NULL */
	KF_EV_PHASE_START, /* host NULL */
	KF_EV_PHASE_END,   /* host NULL; result: worst of the hosts */
	KF_EV_HOST_START,
	KF_EV_HOST_STATUS, /* msg: what the host is doing now */
	KF_EV_HOST_END,    /* result, msg: reason or error */
	KF_EV_WAIT,        /* msg: wait name and what it sees; progress */
	KF_EV_WARNING,     /* msg: something worth knowing that does not stop the run */
	KF_EV_RUN_END,     /* result: changed when anything changed */
};

struct kf_prov_event {
	enum kf_event_kind kind;
	const char *phase_id, *phase_title; /* NULL for run start/end */
	const char *host;       /* NULL when not about one host */
	enum kf_result result;
	const char *msg;        /* may be NULL */
	double elapsed;         /* seconds since the run started */
	double progress;        /* 0..1 on waits, < 0 when unknown */
};

/* Summary of a run, for -o json and the closing line. */
struct kf_run_summary {
	int changed;     /* host-phases that changed something */
	int unchanged;   /* host-phases found already done */
	int failed;
	double elapsed;
	char *kubeconfig;/* path of the fetched admin kubeconfig, or NULL */
	char *kubeflow_password_file; /* "install Kubeflow" generated the admin
				       * password into this file (0600), or NULL */
	json_t *hosts;   /* {host: {phase: "changed"|"unchanged"|"failed"}} */
};
void kf_run_summary_release(struct kf_run_summary *s);

/* `up`: every phase of kf_phases_up. On failure the error names the phase
 * and host: "phase 'join workers' on w2 (10.0.0.12): ...". */
int kf_up(const struct kf_cluster *c, const struct kf_prov_opts *o,
	  struct kf_run_summary *sum, struct kf_err **err);
/* `reset`: undo `up` on every host, then clear the journal. */
int kf_reset(const struct kf_cluster *c, const struct kf_prov_opts *o,
	     struct kf_run_summary *sum, struct kf_err **err);
/* `status`: per host reachable, facts, kubelet, joined. Never changes a
 * host. *out: {"cluster":..., "hosts":[{...}]}. Unreachable hosts are
 * reported in the JSON, not as an error. */
int kf_status(const struct kf_cluster *c, const struct kf_prov_opts *o,
	      json_t **out, struct kf_err **err);

/* ---- kubeconfig -------------------------------------------------------------- */

/* Rewrite kubeadm's admin.conf for use from outside: the server becomes
 * https://<endpoint>, and cluster, user and context are named after the
 * cluster ("lab", "lab-admin", "lab"). Registers the key data with the
 * redactor. Result is YAML. */
int kf_kubeconfig_rewrite(struct kf_buf *out, const char *admin_conf,
			  const struct kf_cluster *c, struct kf_err **err);
/* Merge kubeconfig `add` (YAML/JSON text) into the file at path (created
 * when missing), replacing entries of the same names, setting
 * current-context when the file had none; written atomically with 0600. */
int kf_kubeconfig_merge(const char *path, const char *add, struct kf_err **err);
/* The admin kubeconfig: the local copy from the state directory, or, when
 * there is none, fetched from the control plane (and saved). YAML in out. */
int kf_kubeconfig_get(struct kf_buf *out, const struct kf_cluster *c,
		      const struct kf_prov_opts *o, bool *fetched,
		      struct kf_err **err);
/* <state>/<cluster>/admin.conf. Caller frees. */
char *kf_kubeconfig_path(const struct kf_cluster *c,
			 const struct kf_prov_opts *o);

/* ---- progress rendering ------------------------------------------------------- */

/*
 * A renderer for kf_prov_event: on a terminal a live view (one line per host:
 * phase, what it is doing, elapsed time; progress on waits), redrawn in
 * place; otherwise plain lines ("[12.3s] w2: join workers: done"). `quiet`
 * prints only failures. Pass kf_progress_event as on_event and the progress
 * as its ctx. The stream is chosen by the caller (the CLI passes stderr).
 */
struct kf_progress;
struct kf_progress *kf_progress_new(FILE *f, const struct kf_cluster *c,
				    bool live, bool color, bool quiet);
void kf_progress_event(void *ctx, const struct kf_prov_event *ev);
void kf_progress_free(struct kf_progress *p); /* stops the live view */

#endif
