/*
 * kube.h - kfboot's Kubernetes client and staged apply engine.
 *
 * Layers, bottom up:
 *  - kubeconfig: the connection settings kubectl would use (KUBECONFIG with
 *    several files merged by kubectl's rules, current-context, --context,
 *    certificates and keys inline or by path, bearer tokens, in-cluster
 *    service-account config). Secrets are registered with kf_redact.
 *  - client: libcurl multi handle; HTTP/2 multiplexing when the server
 *    offers it, a small pool of HTTP/1.1 keep-alive connections otherwise;
 *    many requests in flight with a bound; retries with backoff on 429/5xx
 *    and connection errors (honouring Retry-After); response size caps.
 *  - discovery: GVK -> REST resource and scope, cached per client.
 *  - objects: manifests loaded from files/dirs, validated, with the
 *    file:line:col of every document.
 *  - apply: staged server-side apply, health waits, ApplySet inventory,
 *    prune, skip-unchanged; diff.
 *
 * Ownership: every `_new`/`_load` has a matching `_free`; getters borrow.
 * Library code never prints: progress goes through a callback.
 */
#ifndef KF_KUBE_H
#define KF_KUBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

/* ---- kubeconfig -------------------------------------------------------- */

struct kf_kube_config {
	char *server;          /* "https://host:port" without trailing '/' */
	char *context;         /* context name; "in-cluster" for a pod */
	char *cluster;         /* cluster name */
	char *user;            /* user (AuthInfo) name */
	char *namespace;       /* default namespace ("default" when unset) */
	char *source;          /* the file(s) it came from, for messages */
	bool insecure;         /* insecure-skip-tls-verify: the caller warns */
	char *ca;              /* PEM bytes of the CA bundle, or NULL */
	size_t ca_len;
	char *cert;            /* client certificate PEM, or NULL */
	size_t cert_len;
	char *key;             /* client key PEM (secret), or NULL */
	size_t key_len;
	char *token;           /* bearer token (secret), or NULL */
	char *token_file;      /* where the token came from (tokenFile, service
				* account): re-read every minute, as client-go
				* does, since projected tokens rotate */
	char *tls_server_name; /* tls-server-name, or NULL */
	/* Impersonation (as, as-uid, as-groups, as-user-extra): sent as
	 * Impersonate-* headers, as kubectl --as does. */
	char *as_user;
	char *as_uid;
	char **as_groups;      /* NULL-terminated, or NULL */
	char **as_extra;       /* "key=value" pairs, NULL-terminated, or NULL */
	char *proxy_url;       /* proxy-url (http, https, socks5), or NULL */
	struct kf_kube_exec *exec; /* exec credential plugin, or NULL */
};

/*
 * An exec credential plugin (users[].user.exec), run by the client as
 * kubectl runs it: the command with its args and env added to ours,
 * KUBERNETES_EXEC_INFO holding an ExecCredential, stdout parsed as an
 * ExecCredential whose status gives a token or a client certificate and
 * key, cached until status.expirationTimestamp.
 */
struct kf_kube_exec {
	char *api_version;     /* client.authentication.k8s.io/v1 or v1beta1 */
	char *command;         /* resolved: absolute, relative to the kubeconfig, or a name for PATH */
	char **args;           /* NULL-terminated */
	char **env;            /* "NAME=value", NULL-terminated */
	char *interactive;     /* Never, IfAvailable, Always */
	bool provide_cluster_info;
	char *install_hint;
	char *user;            /* the user entry's name, for messages */
	char *where;           /* "file:line:col" of the exec map */
};

/* Run the plugin once (stdin /dev/null unless interactive on a terminal;
 * its stderr passes through) and parse what it printed. Stops at `deadline`
 * (kf_now() seconds; 0 = 60 s from now) or when interrupted. On success the
 * secrets are registered with kf_redact; *expires is the kf_now()-based
 * expiry, 0 when none. Any out pointer's old value is freed first. */
int kf_kube_exec_run(const struct kf_kube_exec *x, const struct kf_kube_config *cfg,
		     double deadline, char **token, char **cert, size_t *cert_len,
		     char **key, size_t *key_len, double *expires, struct kf_err **err);
void kf_kube_exec_free(struct kf_kube_exec *x);

struct kf_kubeconfig_opts {
	const char *path;    /* --kubeconfig: only this file; NULL = KUBECONFIG or ~/.kube/config */
	const char *context; /* --context; NULL = current-context; "in-cluster" forces SA config */
	const char *sa_dir;  /* service-account dir; NULL = /var/run/secrets/kubernetes.io/serviceaccount */
};

/*
 * Load the configuration kubectl would use. KUBECONFIG may list several
 * files (':' separated): for clusters, users and contexts the first file
 * that defines a name wins, and the first file that sets current-context
 * wins. Relative paths are resolved against the file that names them.
 * With no kubeconfig file at all and KUBERNETES_SERVICE_HOST set, the
 * in-cluster service-account configuration is used. Errors name
 * file:line:col.
 */
int kf_kube_config_load(struct kf_kube_config **out,
			const struct kf_kubeconfig_opts *opts,
			struct kf_err **err);
/* In-cluster configuration from a service-account directory (token, ca.crt,
 * namespace) and KUBERNETES_SERVICE_HOST/PORT. */
int kf_kube_config_incluster(struct kf_kube_config **out, const char *sa_dir,
			     struct kf_err **err);
void kf_kube_config_free(struct kf_kube_config *c);

/* ---- client ----------------------------------------------------------- */

struct kf_kube_opts {
	unsigned max_inflight;  /* requests in flight over HTTP/2; 0 = 64 */
	unsigned max_conns;     /* HTTP/1.1 keep-alive pool; 0 = 8 */
	double timeout;         /* per attempt, seconds; 0 = 60 */
	double connect_timeout; /* seconds; 0 = 10 */
	unsigned max_attempts;  /* per request, for errors; 0 = 10 (429s: window only) */
	double retry_window;    /* stop retrying after this long; 0 = 120 s */
	size_t max_response;    /* bytes; 0 = 256 MiB */
	bool http1;             /* never try HTTP/2 */
	double deadline;        /* kf_now() time after which every request is
				 * cut off and kf_kube_run fails with
				 * KF_ETIMEOUT (--timeout); 0 = none */
	double retry_after_max; /* cap on a server's Retry-After; 0 = 30 s */
};

struct kf_kube;

struct kf_kube_stats {
	unsigned long requests; /* attempts sent, retries included */
	unsigned long retries;
	unsigned long get, list, patch, del, post, put;
	bool http2;
};

int kf_kube_new(struct kf_kube **out, const struct kf_kube_config *cfg,
		const struct kf_kube_opts *opts, struct kf_err **err);
void kf_kube_free(struct kf_kube *k);
/* Borrowed from the client. */
const struct kf_kube_config *kf_kube_cfg(const struct kf_kube *k);
const struct kf_kube_stats *kf_kube_get_stats(const struct kf_kube *k);

/*
 * One HTTP request. Fill the "in" part (kf_kube_req_init does the common
 * case), run it with kf_kube_run, read the "out" part, release.
 */
struct kf_kube_req {
	/* in */
	const char *method;       /* "GET", "PATCH", ... (static string) */
	char *path;               /* owned: "/api/v1/namespaces?limit=500" */
	char *body;               /* owned, may be NULL */
	size_t body_len;
	const char *content_type; /* static; NULL = none */
	const char *accept;       /* static; NULL = application/json */
	bool no_retry;            /* do not retry 5xx (non-idempotent) */
	void *user;               /* for the caller */
	/* out */
	long status;              /* HTTP status of the last attempt, 0 if none */
	struct kf_buf resp;       /* body of the last attempt (capped) */
	struct kf_err *err;       /* transport failure after retries, or NULL */
	unsigned attempts;
};

/* Initialise; takes ownership of `path` (malloc'd). */
void kf_kube_req_init(struct kf_kube_req *r, const char *method, char *path);
/* Give the request a body (takes ownership of `body`). */
void kf_kube_req_body(struct kf_kube_req *r, char *body, size_t len,
		      const char *content_type);
void kf_kube_req_release(struct kf_kube_req *r);

/*
 * Run requests concurrently (bounded), retrying transient failures. Returns
 * 0 when every request got a final answer (look at each status: a 404 is
 * an answer), KF_ECANCEL when interrupted; per-request transport failures
 * are in req->err.
 */
int kf_kube_run(struct kf_kube *k, struct kf_kube_req **reqs, size_t n,
		struct kf_err **err);

/* Set or move the overall deadline (kf_now() seconds; 0 = none). */
void kf_kube_set_deadline(struct kf_kube *k, double deadline);

/* Convenience: GET path, parse JSON. *out is NULL for 404 when
 * allow_404. Non-2xx otherwise is an error with the server's message. */
int kf_kube_get_json(struct kf_kube *k, const char *path, bool allow_404,
		     json_t **out, struct kf_err **err);

/* Error for a finished request that failed: transport error, or
 * "<status> <reason>: <server message>". Returns a KF_E* code. */
int kf_kube_req_error(struct kf_err **err, const struct kf_kube_req *r);
/* True when the answer (any 4xx/5xx, a 500 included) says the request
 * itself is wrong (Status reason BadRequest/Invalid/..., or a message such
 * as "failed to create typed patch object"): retrying cannot help. */
bool kf_kube_req_invalid(const struct kf_kube_req *r);
/* The server's message from a Status body (borrowed into buf), or NULL. */
char *kf_kube_status_message(const struct kf_kube_req *r);

/* ---- discovery / REST mapping ---------------------------------------- */

struct kf_rest {
	char *group;    /* "" for the core group */
	char *version;
	char *kind;
	char *resource; /* plural, e.g. "deployments" */
	bool namespaced;
};

struct kf_discovery;

/* Fetch the server's API groups and resources (aggregated discovery when
 * the server has it, otherwise /api, /apis and one GET per group version,
 * in parallel). */
int kf_discovery_load(struct kf_discovery **out, struct kf_kube *k,
		      struct kf_err **err);
/* Fetch again; only group versions not known yet are fetched. */
int kf_discovery_refresh(struct kf_discovery *d, struct kf_kube *k,
			 struct kf_err **err);
void kf_discovery_free(struct kf_discovery *d);
/* An empty mapping (tests, or offline validation with kf_discovery_add). */
struct kf_discovery *kf_discovery_new(void);
/* Borrowed mapping for group/version/kind, or NULL. */
const struct kf_rest *kf_discovery_find(const struct kf_discovery *d,
					const char *group, const char *version,
					const char *kind);
/* Any version of group/kind (for prune of kinds that left the set). */
const struct kf_rest *kf_discovery_find_gk(const struct kf_discovery *d,
					   const char *group, const char *kind);
/* Add a mapping (e.g. from a CRD in the set). */
void kf_discovery_add(struct kf_discovery *d, const char *group,
		      const char *version, const char *kind,
		      const char *resource, bool namespaced);
size_t kf_discovery_count(const struct kf_discovery *d);
/* True when the mapping came from the on-disk cache and the server has not
 * been asked since: refresh before relying on it for a write. */
bool kf_discovery_cached(const struct kf_discovery *d);
/* The on-disk cache (docs/apply.md): the file for a server
 * ($XDG_CACHE_HOME or ~/.cache, kfboot/discovery/<hash>.json), or NULL
 * when KFBOOT_NO_CACHE is set. Caller frees. */
char *kf_discovery_cache_path(const struct kf_kube_config *cfg);
/* Write the mapping (mode 0600, directories 0700, atomically). */
int kf_discovery_cache_save(const struct kf_discovery *d, const char *path,
			    const char *server, struct kf_err **err);
/* Read it into d when it exists, is for `server`, is intact and younger
 * than ttl seconds (0: any age); marks d cached. -1 otherwise (d left empty). */
int kf_discovery_cache_load(struct kf_discovery *d, const char *path,
			    const char *server, double ttl);

/* ---- objects (manifests) --------------------------------------------- */

struct kf_obj {
	json_t *obj;        /* owned reference to the object */
	char *group, *version, *kind, *ns, *name; /* ns NULL when cluster-scoped */
	char *file;         /* where the document is */
	int line, col;      /* of the document start */
	int kind_line, kind_col; /* of the kind value */
	long order;         /* kfboot.io/apply-order or sync-wave, default 0 */
	int rank;           /* kind rank (kf_kube_kind_rank) */
	bool namespaced;
	char hash[65];      /* kfboot.io/applied-hash of the desired content */
	char *body;         /* compacted (kf_obj_compact): the object as sent,
			     * compact JSON, owned; obj then holds only
			     * apiVersion, kind, metadata name and namespace */
	size_t body_len;
	/* apply state */
	int state;          /* enum kf_obj_state */
	char *why;          /* last failure, owned */
	char *rv;           /* resourceVersion after apply or from LIST */
	long generation;
	bool skipped;       /* unchanged; nothing sent */
	bool hands_off;     /* its live copy says hands off (kf_apply_opts.hands_off_annotation): not sent */
};

enum kf_obj_state {
	KF_OBJ_PENDING = 0,
	KF_OBJ_APPLIED,
	KF_OBJ_UNCHANGED,
	KF_OBJ_FAILED,
	KF_OBJ_RETRY, /* transient: webhook not ready, conflict with a CRD, ... */
};

struct kf_objset {
	struct kf_obj *v;
	size_t n, alloc;
};

#define KF_OBJSET_INIT { NULL, 0, 0 }

/*
 * Load every object from files and directories (.yaml, .yml, .json,
 * recursively, sorted by name; "-" is stdin). Documents that are null are
 * skipped; `kind: List` is expanded. Structural problems (bad YAML, no
 * apiVersion/kind/metadata.name, duplicate objects) are added to diags with
 * file:line:col; a KF_EINVAL is returned when any were found.
 */
int kf_objset_load(struct kf_objset *set, const char *const *paths,
		   size_t npaths, struct kf_diags *diags, struct kf_err **err);
/* Load from a buffer (tests). */
int kf_objset_load_buf(struct kf_objset *set, const char *name,
		       const char *data, size_t len, struct kf_diags *diags,
		       struct kf_err **err);
void kf_objset_release(struct kf_objset *set);

/*
 * Check every object against discovery and the CRDs in the set: the kind
 * must be known to the server or be provided by a CRD in the set. Fills
 * namespaced/ns (default_ns for namespaced objects without one). Problems
 * go to diags with file:line:col.
 */
int kf_objset_resolve(struct kf_objset *set, const struct kf_discovery *d,
		      const char *default_ns, struct kf_diags *diags);

/* kf_objset_resolve, and when a kind is unknown, refresh discovery once
 * (the server may have learned new kinds since it was loaded) and check
 * again. For long-lived discovery caches (the reconciler). */
int kf_objset_resolve_fresh(struct kf_objset *set, struct kf_discovery *d,
			    struct kf_kube *k, const char *default_ns,
			    struct kf_diags *diags, struct kf_err **err);

/* After a discovery refresh: every object's kind is still served (or
 * provided by a CRD in the set) with the scope it was resolved with. */
int kf_objset_check_mapping(const struct kf_objset *set, const struct kf_discovery *d,
			    struct kf_err **err);

/* Where a kind goes in the apply order (lower first): Namespaces and CRDs,
 * then cluster-scoped prerequisites, then workloads, custom resources,
 * webhook configurations last. Unknown kinds rank as custom resources. */
int kf_kube_kind_rank(const char *group, const char *kind);
/* Sort by (order annotation, rank, kind, namespace, name). Stable. */
void kf_objset_sort(struct kf_objset *set);

/* "group/Kind ns/name" label for messages (Kind ns/name for core). Caller frees. */
char *kf_obj_label(const struct kf_obj *o);
/* REST path of an object: collection (name NULL) or item. Caller frees. */
char *kf_rest_path(const struct kf_rest *r, const char *ns, const char *name);

/* ---- ApplySet inventory ---------------------------------------------- */

#define KF_APPLYSET_ID_LABEL "applyset.kubernetes.io/id"
#define KF_APPLYSET_PART_OF "applyset.kubernetes.io/part-of"
#define KF_APPLYSET_TOOLING "applyset.kubernetes.io/tooling"
#define KF_APPLYSET_GKS "applyset.kubernetes.io/contains-group-kinds"
#define KF_APPLYSET_NSS "applyset.kubernetes.io/additional-namespaces"
#define KF_ANN_HASH "kfboot.io/applied-hash"
#define KF_ANN_PRUNE "kfboot.io/prune"
#define KF_ANN_ORDER "kfboot.io/apply-order"
#define KF_ANN_WAVE "argocd.argoproj.io/sync-wave"

/* kubectl's ApplySet id: "applyset-" + base64url(sha256(
 * "<name>.<namespace>.<kind>.<group>")) (no padding) + "-v1". Caller frees. */
char *kf_applyset_id(const char *name, const char *ns, const char *kind,
		     const char *group);
/* "Kind.group" entries, sorted, comma separated, as kubectl writes them
 * (core kinds without a group: "ConfigMap"). Caller frees. */
char *kf_applyset_group_kinds(const struct kf_objset *set);
/* A label selector "k=v" with the value checked for label syntax;
 * NULL when invalid. Caller frees. */
char *kf_label_selector(const char *key, const char *value);

/*
 * The canonical desired content of o->obj (keys sorted, compact) hashed into
 * o->hash. Call after labels are injected and before the hash annotation is
 * set: the annotation itself is excluded from the hash.
 */
void kf_obj_hash(struct kf_obj *o);
/*
 * Keep o as the compact JSON it is sent as (o->body) and shrink o->obj to
 * what identifies it: apiVersion, kind, metadata name and namespace (its
 * labels and annotations are read from the body). A parsed object costs several
 * times its serialized size; for thousands of objects this is most of a
 * sync's memory. kf_obj_expand parses the body back (-1 if it cannot).
 */
void kf_obj_compact(struct kf_obj *o);
int kf_obj_expand(struct kf_obj *o);
/*
 * Fingerprint (32 hex chars and a NUL) of who owns which non-status fields
 * of a live object: its metadata.managedFields entries except the status
 * subresource's, hashed. A status write by a controller leaves it alone; a
 * write to spec, labels or annotations by anyone changes it. A listed
 * object the apply engine trimmed carries the fingerprint itself, computed
 * before its managedFields were dropped, under KF_LIVE_FIELDS_FP.
 */
void kf_obj_fields_fp(const json_t *live, char out[33]);
#define KF_LIVE_FIELDS_FP "kfboot.io/fields-fp"
/*
 * Skip-unchanged decision: the live object (from a LIST) carries our hash
 * annotation equal to o->hash, and it was not changed since kfboot applied
 * it: its resourceVersion is the one recorded then (rec_rv); or only its
 * status was written since (its managedFields fingerprint is the one
 * recorded then, rec_fp); or, for objects with a generation, the generation
 * recorded then is unchanged (nobody changed the spec) and every desired
 * label and annotation is present with its value (a controller may have
 * added its own, like deployment.kubernetes.io/revision).
 */
bool kf_obj_unchanged(const struct kf_obj *o, const json_t *live,
		      const char *rec_rv, long rec_gen, const char *rec_fp);

/* ---- LIST responses, one item at a time (listscan.c) ------------------ */

/* Called with each element of a LIST body's "items", parsed on its own and
 * freed when fn returns (json_incref what you keep). Nonzero stops the scan
 * and is returned by kf_list_scan. */
typedef int (*kf_list_item_fn)(void *ctx, json_t *item);
/* Walk the JSON object in buf without parsing it whole: every element of
 * its "items" to fn, its "metadata" (the list's: continue token,
 * resourceVersion) into *meta when meta is not NULL (NULL when absent; the
 * caller frees it). Returns 0, fn's nonzero result, or -1 when the body is
 * not a JSON object or an item or the metadata is not valid JSON. */
int kf_list_scan(const char *buf, size_t len, kf_list_item_fn fn, void *ctx, json_t **meta);

/* ---- health --------------------------------------------------------- */

enum kf_health { KF_HEALTH_READY, KF_HEALTH_PROGRESSING, KF_HEALTH_FAILED };
/* Health of a live object by its kind's rules; *why (borrowed static or
 * NULL) says what it waits for. */
enum kf_health kf_health_of(const json_t *live, const char **why);
/* status.conditions[] entry of `type` (borrowed from live), or NULL. */
const json_t *kf_health_condition(const json_t *live, const char *type);
/*
 * KServe InferenceService health, as Argo CD's rule reads it: no status ->
 * progressing; a condition Stopped=True -> suspended;
 * status.modelStatus.transitionStatus InProgress -> progressing, any other
 * value but UpToDate (BlockedByFailedLoad, InvalidSpec) -> degraded; every
 * condition except Stopped True -> healthy; otherwise progressing.
 * *reason (caller frees, may be NULL) says why when not healthy.
 */
enum kf_isvc_health { KF_ISVC_HEALTHY, KF_ISVC_PROGRESSING, KF_ISVC_DEGRADED, KF_ISVC_SUSPENDED };
enum kf_isvc_health kf_isvc_health(const json_t *live, char **reason);
const char *kf_isvc_health_str(enum kf_isvc_health h); /* "healthy", ... */

/* ---- apply ---------------------------------------------------------- */

struct kf_apply_progress {
	const char *phase;   /* "validate", "prerequisites", "CRDs", "apply", "webhooks", "retry", "wait", "prune" */
	size_t done, total;
	const char *detail;  /* e.g. "waiting for kubeflow/ml-pipeline" or NULL */
	double elapsed;
};

typedef void (*kf_apply_progress_fn)(void *ctx, const struct kf_apply_progress *p);

struct kf_apply_opts {
	bool dry_run;          /* server-side dryRun=All */
	bool force_conflicts;  /* force=true */
	bool prune;
	bool force_prune;      /* allow pruning more than half the inventory */
	bool wait;             /* health waits */
	bool plan_only;        /* read inventory and live state, mark what is
				* unchanged and what prune would delete; send
				* nothing (drift detection, diff) */
	const char *inventory; /* "[ns/]name" of the ApplySet parent Secret; NULL = "kube-system/kfboot" (no prune) */
	const char *default_ns;
	bool compact;          /* compact every prepared object but CRDs
				* (kf_obj_compact): for callers that read no
				* more than each object's identity from the
				* set afterwards (the reconciler) */
	double timeout;        /* overall deadline, seconds; 0 = 10 min */
	kf_apply_progress_fn progress;
	void *progress_ctx;
	/* Hands off (Flux's kustomize.toolkit.fluxcd.io/reconcile: disabled):
	 * a member whose LIVE copy, as the inventory LIST read it, carries this
	 * annotation with the value "disabled" is neither applied nor pruned
	 * nor waited for; its state is KF_OBJ_UNCHANGED with hands_off set and
	 * its record is kept, so it is applied again once the annotation is
	 * gone. The reconciler passes kfboot.io/reconcile. NULL: none. */
	const char *hands_off_annotation;
};

struct kf_apply_result {
	size_t total, applied, unchanged, failed, pruned, prune_skipped;
	size_t unchecked; /* dry run: namespace or CRD created by the same apply */
	size_t to_apply;  /* plan_only: objects that would be sent */
	size_t ready, not_ready;
	size_t hands_off; /* members left alone (hands_off_annotation), desired or not */
	double elapsed;
	json_t *report; /* {"failedObjects":[{"object","source","error"}], "prunedObjects":[..], "notReady":[..],
			 *  "handsOffObjects":[..] when any}, owned */
};

/*
 * Staged server-side apply of a resolved, validated set (docs/apply.md).
 * The set is sorted into apply order and every object gets the inventory's
 * part-of label and the kfboot.io/applied-hash annotation; each object's
 * state/why/rv say what happened to it. Returns 0 when every object was
 * applied or unchanged (and, with wait, is healthy); out->report names each
 * failure. With plan_only nothing is sent: states say what would be.
 */
int kf_apply_run(struct kf_apply_result *out, struct kf_kube *k,
		 struct kf_discovery *d, struct kf_objset *set,
		 const struct kf_apply_opts *opts, struct kf_err **err);
/* Delete every member of an inventory (reverse order), then the parent. */
int kf_apply_delete_inventory(struct kf_apply_result *out, struct kf_kube *k,
			      struct kf_discovery *d,
			      const struct kf_apply_opts *opts,
			      struct kf_err **err);
void kf_apply_result_release(struct kf_apply_result *r);

/* ---- diff ----------------------------------------------------------- */

/* Remove server-set fields: status, metadata.managedFields, uid,
 * resourceVersion, generation, creationTimestamp, selfLink,
 * deletionTimestamp/GracePeriod, the kubectl last-applied and our hash
 * annotations (and empty labels/annotations maps left behind). In place. */
void kf_diff_normalize(json_t *obj);
/*
 * Mask the values of a core/v1 Secret's data and stringData as kubectl diff
 * does: "***" where both sides agree (or a key is on one side only),
 * "*** (before)" / "*** (after)" where the value changed, so that a diff
 * shows which keys changed and never what they hold. Either object may be
 * NULL; objects that are not Secrets are left alone.
 */
void kf_diff_mask_secrets(json_t *before, json_t *after);
/* Unified diff (3 lines of context) of two texts with headers a/b.
 * Appends to out; returns true when they differ. */
bool kf_diff_text(struct kf_buf *out, const char *a_name, const char *a,
		  const char *b_name, const char *b);
/*
 * Diff every object against the server: the live object vs the result of a
 * server-side dry-run apply of the desired one, normalised. Appends the
 * unified diff to out; *ndiff = objects that differ.
 */
int kf_diff_run(struct kf_buf *out, size_t *ndiff, struct kf_kube *k,
		struct kf_discovery *d, struct kf_objset *set,
		bool force_conflicts, struct kf_err **err);
/* The same, skipping objects whose state is KF_OBJ_UNCHANGED (after a
 * plan_only kf_apply_run: their live state is what kfboot applied, so
 * there is nothing to show and nothing is asked of the server). */
int kf_diff_run_changed(struct kf_buf *out, size_t *ndiff, struct kf_kube *k,
			struct kf_discovery *d, struct kf_objset *set,
			bool force_conflicts, struct kf_err **err);

/* ---- small helpers -------------------------------------------------- */

/* Percent-encode everything but unreserved characters (RFC 3986), for
 * query values such as continue tokens. Caller frees. */
char *kf_url_escape(const char *s);

/* Base64 (standard alphabet, padding). Decode ignores whitespace. */
char *kf_base64_encode(const void *data, size_t len, bool url_nopad);
int kf_base64_decode(const char *s, char **out, size_t *len);

/* ---- hooks for long-lived users -------------------------------------- */

/* Called after every finished attempt with the verb ("get", "list",
 * "watch", "create", "update", "patch", "delete") and the HTTP status (0
 * for a transport failure). On the thread that runs the request. */
typedef void (*kf_kube_observe_fn)(void *ctx, const char *verb, long status);
void kf_kube_set_observer(struct kf_kube *k, kf_kube_observe_fn fn, void *ctx);
/* The verb of a request, as the API server's audit log names it. Static. */
const char *kf_kube_verb_of(const char *method, const char *path);
struct curl_slist;
/* A CURL easy handle (returned as void *) for a GET of `path` with the
 * client's TLS settings and credentials, HTTP/1.1, no overall timeout:
 * for streams (watch) that outlive kf_kube_run. *hdrs holds the headers,
 * including Authorization: free it with kf_kube_hdrs_free after the
 * handle. The handle borrows the client's certificates: free it first. */
void *kf_kube_easy_new(struct kf_kube *k, const char *path,
		       struct curl_slist **hdrs);
void kf_kube_hdrs_free(struct curl_slist *hdrs);

/* ---- watch (watch.c) -------------------------------------------------- */

/*
 * Label-selected WATCH streams, one per kind (and namespace), each resumed
 * from the last resourceVersion it saw, with bookmarks requested; a 410 Gone
 * (or an ERROR event with code 410) re-lists the kind and resumes from the
 * list's resourceVersion; a dropped stream reconnects with backoff. Runs on
 * its own thread (kf_watch_start) over one curl multi handle; events are
 * handed to a callback on that thread.
 */
enum kf_watch_ev {
	KF_WATCH_ADDED,
	KF_WATCH_MODIFIED,
	KF_WATCH_DELETED,
	KF_WATCH_LISTED,  /* one object of a (re-)LIST */
	KF_WATCH_SYNCED,  /* a (re-)LIST of this kind finished (obj is NULL) */
};

struct kf_watch_event {
	enum kf_watch_ev type;
	const struct kf_rest *rest; /* which stream */
	const json_t *obj;          /* borrowed; NULL for SYNCED */
};

typedef void (*kf_watch_fn)(void *ctx, const struct kf_watch_event *ev);

struct kf_watch_stats {
	unsigned long connects, relists, gone, events, bookmarks, errors;
};

struct kf_watch;

/* A watch set over `cfg` with a label selector (e.g. "applyset...part-of=X"). */
int kf_watch_new(struct kf_watch **out, const struct kf_kube_config *cfg,
		 const char *selector, kf_watch_fn fn, void *ctx,
		 struct kf_err **err);
/* Add a stream for a kind (all namespaces, or ns). Before kf_watch_start. */
void kf_watch_add(struct kf_watch *w, const struct kf_rest *rest, const char *ns);
/* Seconds a stream asks the server to keep it open (default 300, jittered). */
void kf_watch_set_timeout(struct kf_watch *w, unsigned seconds);
/* Start the thread: each stream LISTs once, then watches. */
int kf_watch_start(struct kf_watch *w, struct kf_err **err);
/* Stop and join the thread (safe to call twice), then free. */
void kf_watch_free(struct kf_watch *w);
/* Counters (read from any thread; approximate while running). */
void kf_watch_get_stats(struct kf_watch *w, struct kf_watch_stats *out);
/* The kube client the watch thread uses for its LISTs (for an observer). */
struct kf_kube *kf_watch_client(struct kf_watch *w);

/* ---- leader election (lease.c) ---------------------------------------- */

/*
 * A coordination.k8s.io/v1 Lease held by one of several processes, with
 * client-go's rules: the holder renews every retry period; it gives up
 * leading when it could not renew within the renew deadline; a candidate
 * takes the lease when the holder has not renewed for the lease duration
 * (measured on the candidate's own clock from when it last saw the record
 * change). Every write carries the resourceVersion it read (optimistic
 * concurrency). Runs on its own thread; the callback says when this
 * process starts or stops leading.
 */
struct kf_lease_opts {
	const char *ns;        /* "kfboot-system" */
	const char *name;      /* "kfboot-reconciler" */
	const char *identity;  /* unique per process: hostname_pid by default */
	double lease_duration; /* 15 s */
	double renew_deadline; /* 10 s */
	double retry_period;   /* 2 s */
};

typedef void (*kf_lease_fn)(void *ctx, bool leading);

struct kf_lease;

int kf_lease_new(struct kf_lease **out, const struct kf_kube_config *cfg,
		 const struct kf_lease_opts *opts, kf_lease_fn fn, void *ctx,
		 struct kf_err **err);
int kf_lease_start(struct kf_lease *l, struct kf_err **err);
/* True while this process holds the lease (any thread). */
bool kf_lease_leading(struct kf_lease *l);
/* The identity of the current holder as last seen (caller frees), or NULL. */
char *kf_lease_holder(struct kf_lease *l);
/* Stop the thread; when leading, release the lease (holderIdentity
 * cleared, as client-go's ReleaseOnCancel) so a standby takes over at
 * once. Then free. */
void kf_lease_free(struct kf_lease *l);
/* The kube client the lease thread uses (for an observer). */
struct kf_kube *kf_lease_client(struct kf_lease *l);

#endif
