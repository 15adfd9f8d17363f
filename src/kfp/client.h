/*
 * client.h - a Kubeflow Pipelines v2beta1 REST client (the subset kfboot
 * uses to retrain from git): healthz, experiments, pipelines and their
 * versions (multipart uploads), runs and recurring runs.
 *
 * Wire format: grpc-gateway JSON with snake_case names; int64 fields are
 * JSON strings. Errors come in two shapes and both are understood:
 * googlerpcStatus {code, message, details} and, from the two multipart
 * upload endpoints, {error_message, error_details}.
 *
 * Retries: requests that are safe to repeat (GETs, DELETEs, :terminate,
 * :enable, :disable, experiment creation and version uploads - whose
 * repetition ends in a 409 the caller resolves) are retried with backoff on
 * 429, 5xx and transport errors. POST /runs and POST /recurringruns are
 * sent exactly once: after a failure the caller must find out by listing
 * whether the object was created (see trigger.h).
 *
 * Auth: a bearer token read from `token_file` before every request (the
 * kubelet rotates projected tokens); never logged (registered with
 * kf_redact). No kubeflow-userid header is ever sent.
 *
 * Ownership: json_t results are new references the caller decrefs.
 */
#ifndef KF_KFP_CLIENT_H
#define KF_KFP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

#define KF_KFP_DEFAULT_ENDPOINT "http://ml-pipeline.kubeflow.svc.cluster.local:8888"
#define KF_KFP_DEFAULT_TOKEN_FILE "/var/run/secrets/kubeflow/pipelines/token"

struct kf_kfp_opts {
	const char *endpoint;   /* base URL without /apis/v2beta1; NULL = default */
	const char *token_file; /* NULL or "" = no Authorization header */
	const char *ca_file;    /* PEM bundle for https endpoints; NULL = system */
	double timeout;         /* per attempt, seconds; 0 = 30 */
	unsigned max_attempts;  /* for retryable requests; 0 = 6 */
	double retry_base;      /* first backoff, seconds; 0 = 0.2 */
	size_t max_response;    /* bytes; 0 = 64 MiB */
	/* Once a request that may be retried has used all its attempts
	 * without an answer that counts (transport errors, timeouts, 429,
	 * 5xx), every later request fails at once with KF_EAGAIN ("KFP did
	 * not answer earlier"): a caller on the reconcile loop's thread then
	 * waits on a server that is down once per client, not once per
	 * request. Requests sent once (POST /runs) never trip it. */
	bool fail_fast;
};

struct kf_kfp;

struct kf_kfp_stats {
	unsigned long requests, retries;
	unsigned long refused; /* requests not sent: fail_fast tripped */
};

int kf_kfp_new(struct kf_kfp **out, const struct kf_kfp_opts *opts,
	       struct kf_err **err);
void kf_kfp_free(struct kf_kfp *c);
const struct kf_kfp_stats *kf_kfp_get_stats(const struct kf_kfp *c);
const char *kf_kfp_endpoint(const struct kf_kfp *c);
/* With opts.fail_fast: why KFP counts as down (a request's last error), or
 * NULL while it answers. */
const char *kf_kfp_down(const struct kf_kfp *c);

/*
 * One request. `path` is below /apis/v2beta1 and carries the query. `body`
 * (JSON, may be NULL) is sent as application/json. With `retry` the request
 * is repeated on 429/5xx/transport errors. Returns 0 for a 2xx answer
 * (*out = parsed body, or an empty object); otherwise an error with the
 * server's message, and *status holds the HTTP status (0 = no answer).
 * Codes: KF_ENOENT (404), KF_ECONFLICT (409), KF_EAUTH (401/403),
 * KF_EINVAL (400), KF_EAGAIN (429/5xx/transport), KF_ERR otherwise.
 */
int kf_kfp_call(struct kf_kfp *c, const char *method, const char *path,
		const json_t *body, bool retry, long *status, json_t **out,
		struct kf_err **err);

/* A URL-encoded filter with one EQUALS predicate on key. Values must keep
 * to [A-Za-z0-9._@-] (the server unescapes filters twice); NULL otherwise.
 * Caller frees. */
char *kf_kfp_filter_eq(const char *key, const char *value);

/* GET /healthz. */
int kf_kfp_healthz(struct kf_kfp *c, json_t **out, struct kf_err **err);

/* The id of experiment `name` in namespace `ns` (ns may be ""), created
 * when absent (a 409 from a concurrent creator is resolved by listing). */
int kf_kfp_experiment_ensure(struct kf_kfp *c, const char *ns,
			     const char *name, char **id_out,
			     struct kf_err **err);

/* GET /pipelines/names/{name}: KF_ENOENT when there is none. */
int kf_kfp_pipeline_get(struct kf_kfp *c, const char *ns, const char *name,
			json_t **out, struct kf_err **err);
/* POST /pipelines/upload (multipart field uploadfile, file name `fname`).
 * KF_ECONFLICT when a pipeline of that name exists. */
int kf_kfp_pipeline_upload(struct kf_kfp *c, const char *ns, const char *name,
			   const char *fname, const char *data, size_t len,
			   json_t **out, struct kf_err **err);
/* POST /pipelines/upload_version. KF_ECONFLICT when the name exists. */
int kf_kfp_version_upload(struct kf_kfp *c, const char *pipeline_id,
			  const char *name, const char *fname,
			  const char *data, size_t len, json_t **out,
			  struct kf_err **err);
/* The version of pipeline_id named `name` (filter name EQUALS), or
 * KF_ENOENT. */
int kf_kfp_version_find(struct kf_kfp *c, const char *pipeline_id,
			const char *name, json_t **out, struct kf_err **err);

/* POST /runs, sent once (never retried). */
int kf_kfp_run_create(struct kf_kfp *c, const json_t *run, json_t **out,
		      struct kf_err **err);
int kf_kfp_run_get(struct kf_kfp *c, const char *run_id, json_t **out,
		   struct kf_err **err);
/* Every run of the experiment whose display_name is `display` (all pages),
 * newest first: *out is a JSON array. */
int kf_kfp_runs_find(struct kf_kfp *c, const char *experiment_id,
		     const char *display, json_t **out, struct kf_err **err);
int kf_kfp_run_terminate(struct kf_kfp *c, const char *run_id,
			 struct kf_err **err);

/* POST /recurringruns, sent once. */
int kf_kfp_recurring_create(struct kf_kfp *c, const json_t *body,
			    json_t **out, struct kf_err **err);
/* Every recurring run of the experiment, or when experiment_id is NULL of
 * the namespace (all pages): a JSON array. */
int kf_kfp_recurring_list(struct kf_kfp *c, const char *experiment_id,
			  const char *ns, json_t **out, struct kf_err **err);
int kf_kfp_recurring_delete(struct kf_kfp *c, const char *id,
			    struct kf_err **err);
int kf_kfp_recurring_enable(struct kf_kfp *c, const char *id, bool enable,
			    struct kf_err **err);

/* True for SUCCEEDED, SKIPPED, FAILED, CANCELED. */
bool kf_kfp_state_terminal(const char *state);

#endif
