/*
 * http.h - kfboot's small HTTP server layer over libmicrohttpd, shared by the
 * prediction server (kfboot-predict) and the reconciler (webhooks, /metrics).
 *
 * What it gives:
 *  - a server with a route table: method + exact path or path prefix. A known
 *    path asked with another method gets 405 with an Allow header; an unknown
 *    path gets 404. HEAD is answered by GET routes (no body is sent).
 *  - limits that are configuration: a request body cap (413 when the declared
 *    Content-Length is over it; a chunked body that grows past it closes the
 *    connection), an idle timeout per connection, a connection limit, an
 *    optional per-client-address connection limit.
 *  - libmicrohttpd's epoll mode with an internal thread pool, sized to the
 *    online cores unless configured.
 *  - request accessors (method, path, headers, query arguments, the raw body
 *    exactly as received — what HMAC signatures are computed over, the client
 *    address) and response helpers (JSON, text, {"error": ...}, headers).
 *  - a Prometheus metrics registry (counters, gauges, histograms, with
 *    labels; thread-safe) rendered in the text exposition format 0.0.4 with
 *    HELP and TYPE lines. When given a registry, the server itself records
 *    <prefix>_http_requests_total{route,method,code},
 *    <prefix>_http_request_duration_seconds{route} and
 *    <prefix>_http_requests_in_flight.
 *  - kf_http_hmac_sha256_verify() for GitHub/Gitea-style webhook signatures.
 *
 * Threading: handlers run on the libmicrohttpd worker threads, several at
 * once; whatever they share must be thread-safe (the metrics registry is).
 * A handler runs once per request, after the whole body has arrived, and must
 * answer with exactly one kf_http_respond*() call (when it does not, the
 * server answers 500). A handler that blocks (for example on an upstream
 * request) holds its worker thread: size the pool for it.
 */
#ifndef KF_HTTP_H
#define KF_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "util/util.h"

/* ---- metrics registry ------------------------------------------------ */

struct kf_metrics;
struct kf_metric; /* one family: a name, a type, label names, its series */

enum kf_metric_type {
	KF_METRIC_COUNTER,
	KF_METRIC_GAUGE,
	KF_METRIC_HISTOGRAM,
};

#define KF_METRIC_MAX_LABELS 8

void kf_metrics_new(struct kf_metrics **out);
/* Frees the registry and every family in it. NULL is fine. */
void kf_metrics_free(struct kf_metrics *m);

/*
 * Register a family. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]* and label
 * names [a-zA-Z_][a-zA-Z0-9_]* (not "le" for histograms); `labels` holds
 * `nlabels` names (at most KF_METRIC_MAX_LABELS; NULL when 0). Histograms take
 * `nbounds` strictly increasing upper bounds (the +Inf bucket is implicit);
 * NULL/0 gives the default latency buckets (5 ms .. 10 s). Returns a family
 * borrowed from the registry, or NULL (with *err set) on a bad name or a
 * duplicate. Register everything before serving: registration takes the
 * registry lock, but families are never removed.
 */
struct kf_metric *kf_metrics_counter(struct kf_metrics *m, const char *name,
				     const char *help, size_t nlabels,
				     const char *const *labels,
				     struct kf_err **err);
struct kf_metric *kf_metrics_gauge(struct kf_metrics *m, const char *name,
				   const char *help, size_t nlabels,
				   const char *const *labels,
				   struct kf_err **err);
struct kf_metric *kf_metrics_histogram(struct kf_metrics *m, const char *name,
				       const char *help, size_t nlabels,
				       const char *const *labels,
				       const double *bounds, size_t nbounds,
				       struct kf_err **err);

/*
 * Update one series, chosen by `values` (one label value per label name of
 * the family, any bytes; NULL when the family has no labels). A series is
 * created on first use. kf_metric_add: counters (v >= 0; a negative v is
 * ignored) and gauges. kf_metric_set: gauges. kf_metric_observe: histograms.
 * A call on the wrong type does nothing. Thread-safe.
 */
void kf_metric_add(struct kf_metric *f, const char *const *values, double v);
void kf_metric_set(struct kf_metric *f, const char *const *values, double v);
void kf_metric_observe(struct kf_metric *f, const char *const *values,
		       double v);
/* Current value of a counter or gauge series (0 when it does not exist); for
 * a histogram, its count. For tests and health logic. */
double kf_metric_get(struct kf_metric *f, const char *const *values);

/*
 * Append the text exposition (format 0.0.4) of every family, in registration
 * order, series in creation order: "# HELP", "# TYPE", then the samples;
 * histograms as cumulative _bucket{le=...} lines, _sum and _count. Label
 * values and HELP text are escaped as the format requires.
 */
void kf_metrics_render(struct kf_metrics *m, struct kf_buf *out);

/* Content-Type for the exposition. */
#define KF_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- server ------------------------------------------------------------ */

struct kf_http_server;
struct kf_http_req;

typedef void (*kf_http_handler)(struct kf_http_req *req, void *ud);

enum kf_http_match {
	KF_HTTP_EXACT,  /* the path equals the route's path */
	KF_HTTP_PREFIX, /* the path starts with the route's path */
};

struct kf_http_opts {
	const char *bind;      /* IPv4 or IPv6 literal; NULL = "127.0.0.1" */
	unsigned port;         /* 0 = an ephemeral port (see kf_http_server_port) */
	unsigned threads;      /* worker threads; 0 = online cores */
	unsigned conn_limit;   /* open connections; 0 = 10000 */
	unsigned per_ip_limit; /* connections per client address; 0 = none */
	unsigned timeout_s;    /* idle seconds before a connection is closed; 0 = 30 */
	size_t body_max;       /* request body cap in bytes; 0 = 1 MiB */
	unsigned backlog;      /* listen backlog; 0 = 4096 */
	/* When set, the server records request metrics in this registry (the
	 * caller keeps ownership and frees it after the server), with metric
	 * names starting with `metrics_prefix` (NULL = "kf"). */
	struct kf_metrics *metrics;
	const char *metrics_prefix;
};

/* Default options: everything 0/NULL. */
#define KF_HTTP_OPTS_INIT { 0 }

/* Create a server (not yet listening). Options are copied. */
int kf_http_server_new(struct kf_http_server **out,
		       const struct kf_http_opts *opts, struct kf_err **err);

/*
 * Add a route (before kf_http_server_start). `method` is an upper-case
 * method ("GET", "POST", ...); `path` starts with '/'. The first matching
 * route in the order added wins. `name` labels the route in the metrics
 * (NULL = path; keep it a small fixed set: never put a raw URL in a label).
 */
void kf_http_server_route(struct kf_http_server *s, const char *method,
			  const char *path, enum kf_http_match match,
			  const char *name, kf_http_handler fn, void *ud);

/* Bind and start serving. */
int kf_http_server_start(struct kf_http_server *s, struct kf_err **err);
/* The port the server listens on (after start). */
unsigned kf_http_server_port(const struct kf_http_server *s);
/* Stop accepting, close connections, join the threads. Idempotent. */
void kf_http_server_stop(struct kf_http_server *s);
/* Stop (if running) and free. NULL is fine. */
void kf_http_server_free(struct kf_http_server *s);

/* ---- request accessors (borrowed; valid while the handler runs) -------- */

const char *kf_http_req_method(const struct kf_http_req *r);
/* The path, without the query string (percent-decoded by libmicrohttpd). */
const char *kf_http_req_path(const struct kf_http_req *r);
/* For a prefix route: the part of the path after the prefix. */
const char *kf_http_req_subpath(const struct kf_http_req *r);
/* A request header (case-insensitive name), or NULL. */
const char *kf_http_req_header(const struct kf_http_req *r, const char *name);
/* A query argument (decoded), or NULL. */
const char *kf_http_req_query(const struct kf_http_req *r, const char *key);
/* The raw body (NUL-terminated for convenience; len excludes the NUL). */
const char *kf_http_req_body(const struct kf_http_req *r, size_t *len);
/* The client address as text ("127.0.0.1", "::1"); "" when unknown. */
const char *kf_http_req_client(const struct kf_http_req *r);

/* ---- responses (one per request) ---------------------------------------- */

/* Add a response header for the coming kf_http_respond*() (any number). */
void kf_http_resp_header(struct kf_http_req *r, const char *name,
			 const char *value);
/* Answer with these bytes (copied) and this Content-Type. */
void kf_http_respond(struct kf_http_req *r, unsigned code,
		     const char *content_type, const void *body, size_t len);
/* Answer with bytes that outlive the server (not copied): static assets. */
void kf_http_respond_static(struct kf_http_req *r, unsigned code,
			    const char *content_type, const void *body,
			    size_t len);
/* Answer with a JSON value (compact; borrowed, the caller still owns it). */
void kf_http_respond_json(struct kf_http_req *r, unsigned code,
			  const json_t *v);
/* Answer text/plain with a printf-formatted body. */
void kf_http_respond_text(struct kf_http_req *r, unsigned code,
			  const char *fmt, ...) KF_PRINTF(3, 4);
/* Answer {"error": "<formatted message>"} as application/json. */
void kf_http_respond_error(struct kf_http_req *r, unsigned code,
			   const char *fmt, ...) KF_PRINTF(3, 4);
/* Whether a response has been given already. */
bool kf_http_responded(const struct kf_http_req *r);

/* ---- webhook signatures ------------------------------------------------ */

/*
 * Check a "sha256=<64 hex digits>" signature (GitHub's X-Hub-Signature-256,
 * Gitea's X-Gitea-Signature without the prefix is accepted too) of `body`
 * against HMAC-SHA256 keyed with `secret`. Constant-time comparison
 * (CRYPTO_memcmp). False on any malformed signature, a NULL argument or an
 * empty secret.
 */
bool kf_http_hmac_sha256_verify(const char *secret, const void *body,
				size_t len, const char *signature);

#endif
