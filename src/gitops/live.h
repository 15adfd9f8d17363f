/*
 * live.h - the parts of `kfboot reconcile` that keep running between
 * commits: drift watches, webhook triggers, metrics, the status page, the
 * status ConfigMap and Events, and leader election. They sit beside the
 * reconcile loop (gitops.h) and talk to it only through its thread-safe
 * calls (wake, enqueue_object, set_leader, status_json) and its observer
 * hooks.
 *
 * Each part is usable and testable on its own:
 *  - drift:   kf_drift_* watches what an environment applied and hands a
 *             drifted object's key to a callback.
 *  - webhook: kf_webhook_* checks a delivery (signature, event, branch,
 *             duplicate) and decides whether to wake the loop.
 *  - metrics: kf_gitops_metrics_* registers the reconciler's families in an
 *             http metrics registry and records into them.
 *  - page:    kf_status_page_html renders the status JSON as one HTML page.
 *  - live:    kf_live_* ties them to a reconciler and an HTTP listener.
 */
#ifndef KF_GITOPS_LIVE_H
#define KF_GITOPS_LIVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube/kube.h"
#include "util/util.h"

struct kf_http_req;
struct kf_metrics;
struct kf_reconciler;

/* ==== drift =========================================================== */

/* Live annotation that makes kfboot leave an object alone between commits. */
#define KF_ANN_RECONCILE "kfboot.io/reconcile"

typedef void (*kf_drift_fn)(void *ctx, const char *env, const char *object_key);

struct kf_drift;

/* inventory_ns as given to the reconciler (NULL = "kube-system"). */
void kf_drift_new(struct kf_drift **out, const char *inventory_ns,
		  kf_drift_fn fn, void *ctx);
/*
 * An environment was applied: remember each object's resourceVersion,
 * generation and hash (what kfboot wrote), and watch its kinds with the
 * inventory's part-of selector (streams are restarted only when the set of
 * kinds or the cluster changes). Objects whose kind discovery does not know
 * are not watched.
 */
int kf_drift_applied(struct kf_drift *d, const char *env, struct kf_kube *k,
		     struct kf_discovery *disc, const struct kf_objset *set,
		     struct kf_err **err);
/* Stop every watch (a standby watches nothing); records are forgotten. */
void kf_drift_stop(struct kf_drift *d);
/* Drifted objects handed on so far, and watch streams open. */
unsigned long kf_drift_repairs(struct kf_drift *d);
size_t kf_drift_streams(struct kf_drift *d);
void kf_drift_free(struct kf_drift *d);
/* "group/Kind/namespace/name" of a live or desired object (core group and
 * cluster scope are empty parts: "/ConfigMap/dev/app"). Caller frees. */
char *kf_drift_key(const json_t *obj);

/* ==== webhook ========================================================= */

enum kf_webhook_kind { KF_HOOK_GITHUB, KF_HOOK_GITLAB, KF_HOOK_GENERIC };

/* What a delivery came to. */
enum kf_webhook_result {
	KF_HOOK_ACCEPTED,   /* a push to the followed branch: wake the loop */
	KF_HOOK_IGNORED,    /* valid, but nothing to do (other branch, event) */
	KF_HOOK_PING,       /* GitHub ping / GitLab test */
	KF_HOOK_DUPLICATE,  /* this delivery id was seen already */
	KF_HOOK_UNAUTHORIZED, /* missing or bad signature/token: 401 */
	KF_HOOK_BAD_REQUEST,  /* not JSON, or no ref: 400 */
	KF_HOOK_NRESULTS
};
const char *kf_webhook_result_str(enum kf_webhook_result r);

struct kf_webhook;

/* A checker for deliveries about `branch`, keyed with `secret` (copied,
 * registered with kf_redact). An empty secret refuses everything. */
void kf_webhook_new(struct kf_webhook **out, const char *secret,
		    const char *branch);
void kf_webhook_free(struct kf_webhook *w);
/* Read the secret from a file (trailing newline removed). The file must
 * not be readable by others. Caller frees (and wipes). */
int kf_webhook_secret_load(const char *path, char **out, struct kf_err **err);

/* Header lookup, so the checker does not depend on the HTTP layer. */
typedef const char *(*kf_header_fn)(void *ctx, const char *name);

/*
 * Check one delivery: signature or token first (constant time; nothing
 * else is looked at before it passed), then duplicate delivery ids (the
 * last 1024 kept), then the event and branch. *why (static) says why for
 * logs and the HTTP answer. Thread-safe.
 */
enum kf_webhook_result kf_webhook_check(struct kf_webhook *w,
					enum kf_webhook_kind kind,
					kf_header_fn hdr, void *hctx,
					const char *body, size_t len,
					const char **why);

/* ==== metrics ========================================================= */

struct kf_gitops_metrics;

/* Register the reconciler's families in `m` (which the caller owns). */
int kf_gitops_metrics_new(struct kf_gitops_metrics **out, struct kf_metrics *m,
			  struct kf_err **err);
void kf_gitops_metrics_free(struct kf_gitops_metrics *gm);
void kf_gitops_metrics_webhook(struct kf_gitops_metrics *gm, const char *source,
			       enum kf_webhook_result r);
void kf_gitops_metrics_drift(struct kf_gitops_metrics *gm, const char *env);
void kf_gitops_metrics_api(struct kf_gitops_metrics *gm, const char *verb, long code);
void kf_gitops_metrics_leader(struct kf_gitops_metrics *gm, bool leader);
/* Observer for kube clients (kf_kube_set_observer): counts API requests. */
void kf_gitops_metrics_kube_observer(void *gm, const char *verb, long status);
/* Hooks for the reconciler (on_fetch, on_reconcile): ctx is the metrics. */
void kf_gitops_metrics_attach(struct kf_gitops_metrics *gm, struct kf_reconciler *r);

/* ==== status page ===================================================== */

/*
 * The status page: one self-contained HTML document (inline CSS, no
 * scripts or external assets) with one row per environment (commit,
 * result, health, last change, error) from a kf_reconciler_status_json()
 * snapshot. Every value is HTML-escaped. Appends to out.
 */
void kf_status_page_html(struct kf_buf *out, const json_t *status);

/* ==== live: everything together ====================================== */

struct kf_live_opts {
	const char *listen;              /* "ADDR:PORT" ("127.0.0.1:0" picks a port); NULL = no listener */
	const char *webhook_secret_file; /* NULL: webhook routes answer 401 */
	const char *branch;              /* the followed branch */
	const char *inventory_ns;        /* as given to the reconciler */
	const char *port_file;           /* write the bound port here (tests) */
	/* The cluster that holds the Lease, the status ConfigMap and the
	 * Events (kfboot-system). NULL: none of them. */
	const struct kf_kube_config *cluster;
	bool elect;                      /* leader election (needs cluster); else always leader */
	const char *lease_identity;      /* NULL = hostname_pid */
	double lease_duration, renew_deadline, retry_period; /* 0 = 15, 10, 2 */
	bool drift;                      /* watch and repair drift */
};

struct kf_live;

/*
 * Attach to a reconciler (before kf_reconciler_run): register hooks
 * (metrics, drift, events, status ConfigMap), start the listener and, with
 * lease_cfg, the election (the reconciler must have been made with
 * start_as_leader = false then).
 */
int kf_live_start(struct kf_live **out, struct kf_reconciler *r,
		  const struct kf_live_opts *opts, struct kf_err **err);
/* The port the listener is bound to (0 without one). */
unsigned kf_live_port(const struct kf_live *l);
/* Stop the listener and watches; release the lease when held. */
void kf_live_free(struct kf_live *l);

/* `kfboot reconcile status`: read ConfigMap kfboot-system/kfboot-status. */
int kf_live_status_read(struct kf_kube *k, json_t **out, struct kf_err **err);
/* Human table of a status snapshot. Appends to out. */
void kf_live_status_text(struct kf_buf *out, const json_t *status);

#endif
