/*
 * server.c - the HTTP server behind http.h: libmicrohttpd in epoll mode with
 * an internal thread pool, a route table (method + exact path or prefix),
 * limits (body cap, idle timeout, connection limits), response helpers and
 * per-request metrics.
 *
 * libmicrohttpd calls the access handler several times per request: once
 * when the headers are in (we match the route here and answer 404/405/413
 * right away when we can), once per piece of body (collected into a capped
 * buffer), and once more when the body is complete (the route's handler runs
 * then). The completion callback records the metrics and frees the request.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"

/* Refused bodies up to this size are read and dropped before the 413. */
#define DRAIN_MAX ((unsigned long long)16 << 20)

struct route {
	char *method;
	char *path;
	size_t pathlen;
	enum kf_http_match match;
	char *name;
	kf_http_handler fn;
	void *ud;
};

struct kf_http_server {
	struct kf_http_opts opts;
	char *bind;
	char *prefix;
	struct route *routes;
	size_t nroutes, alloc;
	struct MHD_Daemon *daemon;
	unsigned port;
	struct kf_metric *m_requests, *m_duration, *m_inflight;
};

struct hdr {
	char *name, *value;
};

struct kf_http_req {
	struct kf_http_server *srv;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	const struct route *route;
	struct kf_buf body;
	bool too_big;
	bool drain;     /* refused by its Content-Length: read and drop it, then 413 */
	bool responded;
	unsigned code;
	double start;
	struct hdr *hdrs;
	size_t nhdrs, ahdrs;
	char client[INET6_ADDRSTRLEN];
};

static const char *const unmatched_route = "unmatched";

int kf_http_server_new(struct kf_http_server **out,
		       const struct kf_http_opts *opts, struct kf_err **err)
{
	struct kf_http_server *s = kf_xcalloc(1, sizeof(*s));
	const struct kf_http_opts defaults = KF_HTTP_OPTS_INIT;

	s->opts = opts ? *opts : defaults;
	s->bind = kf_xstrdup(s->opts.bind ? s->opts.bind : "127.0.0.1");
	s->prefix = kf_xstrdup(s->opts.metrics_prefix ? s->opts.metrics_prefix
						      : "kf");
	s->opts.bind = s->bind;
	s->opts.metrics_prefix = s->prefix;
	if (!s->opts.threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		s->opts.threads = n > 0 ? (unsigned)n : 1;
	}
	if (!s->opts.conn_limit)
		s->opts.conn_limit = 10000;
	if (!s->opts.timeout_s)
		s->opts.timeout_s = 30;
	if (!s->opts.body_max)
		s->opts.body_max = 1024 * 1024;
	if (!s->opts.backlog)
		s->opts.backlog = 4096;

	if (s->opts.metrics) {
		static const char *const rl[] = { "route", "method", "code" };
		static const char *const dl[] = { "route" };
		char *n1 = kf_xasprintf("%s_http_requests_total", s->prefix);
		char *n2 = kf_xasprintf("%s_http_request_duration_seconds",
					s->prefix);
		char *n3 = kf_xasprintf("%s_http_requests_in_flight", s->prefix);
		int rc = 0;

		s->m_requests = kf_metrics_counter(
			s->opts.metrics, n1,
			"HTTP requests answered, by route, method and status code.",
			3, rl, err);
		if (s->m_requests)
			s->m_duration = kf_metrics_histogram(
				s->opts.metrics, n2,
				"Time from request headers to the end of the response, by route.",
				1, dl, NULL, 0, err);
		if (s->m_duration)
			s->m_inflight = kf_metrics_gauge(
				s->opts.metrics, n3,
				"Requests being received or answered now.", 0,
				NULL, err);
		if (!s->m_inflight)
			rc = kf_err_wrap(err, "http server metrics");
		else
			kf_metric_set(s->m_inflight, NULL, 0);
		free(n1);
		free(n2);
		free(n3);
		if (rc) {
			kf_http_server_free(s);
			return rc;
		}
	}
	*out = s;
	return 0;
}

void kf_http_server_route(struct kf_http_server *s, const char *method,
			  const char *path, enum kf_http_match match,
			  const char *name, kf_http_handler fn, void *ud)
{
	struct route *r;

	kf_xgrow((void **)&s->routes, &s->alloc, s->nroutes + 1,
		 sizeof(*s->routes));
	r = &s->routes[s->nroutes++];
	r->method = kf_xstrdup(method);
	r->path = kf_xstrdup(path);
	r->pathlen = strlen(path);
	r->match = match;
	r->name = kf_xstrdup(name ? name : path);
	r->fn = fn;
	r->ud = ud;
}

static void req_free(struct kf_http_req *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nhdrs; i++) {
		free(r->hdrs[i].name);
		free(r->hdrs[i].value);
	}
	free(r->hdrs);
	kf_buf_release(&r->body);
	free(r);
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A bounded set of method labels: never put an attacker's token in a metric. */
static const char *method_label(const char *m)
{
	static const char *const known[] = { "GET",    "HEAD",    "POST",
					     "PUT",    "DELETE",  "PATCH",
					     "OPTIONS" };
	size_t i;

	for (i = 0; i < KF_ARRAY_SIZE(known); i++) {
		if (!strcmp(m, known[i]))
			return known[i];
	}
	return "other";
}

static void completed_cb(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct kf_http_server *s = cls;
	struct kf_http_req *r = *con_cls;

	if (!r)
		return;
	if (s->m_requests) {
		unsigned code = r->code ? r->code : (r->too_big ? 413 : 0);

		if (code) {
			char cbuf[16];
			const char *route = r->route ? r->route->name
						     : unmatched_route;
			const char *rv[] = { route, method_label(r->method),
					     cbuf };
			const char *dv[] = { route };

			snprintf(cbuf, sizeof(cbuf), "%u", code);
			kf_metric_add(s->m_requests, rv, 1);
			kf_metric_observe(s->m_duration, dv,
					  now_mono() - r->start);
		}
		kf_metric_add(s->m_inflight, NULL, -1);
	}
	req_free(r);
	*con_cls = NULL;
}

static void queue(struct kf_http_req *r, unsigned code, struct MHD_Response *resp)
{
	size_t i;

	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	for (i = 0; i < r->nhdrs; i++)
		MHD_add_response_header(resp, r->hdrs[i].name, r->hdrs[i].value);
	MHD_queue_response(r->conn, code, resp);
	MHD_destroy_response(resp);
	r->code = code;
	r->responded = true;
}

static void respond_mode(struct kf_http_req *r, unsigned code,
			 const char *content_type, const void *body, size_t len,
			 enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp;

	if (r->responded) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)body);
		return;
	}
	resp = MHD_create_response_from_buffer(len, (void *)body, mode);
	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)body);
		r->responded = true; /* nothing we can send; MHD closes */
		return;
	}
	if (content_type)
		MHD_add_response_header(resp, "Content-Type", content_type);
	queue(r, code, resp);
}

void kf_http_respond(struct kf_http_req *r, unsigned code,
		     const char *content_type, const void *body, size_t len)
{
	respond_mode(r, code, content_type, body, len, MHD_RESPMEM_MUST_COPY);
}

void kf_http_respond_static(struct kf_http_req *r, unsigned code,
			    const char *content_type, const void *body,
			    size_t len)
{
	respond_mode(r, code, content_type, body, len, MHD_RESPMEM_PERSISTENT);
}

void kf_http_respond_json(struct kf_http_req *r, unsigned code,
			  const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!s) {
		kf_http_respond_error(r, 500, "cannot encode the response");
		return;
	}
	respond_mode(r, code, "application/json", s, strlen(s),
		     MHD_RESPMEM_MUST_FREE);
}

void kf_http_respond_text(struct kf_http_req *r, unsigned code,
			  const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = kf_xvasprintf(fmt, ap);
	va_end(ap);
	respond_mode(r, code, "text/plain; charset=utf-8", s, strlen(s),
		     MHD_RESPMEM_MUST_FREE);
}

void kf_http_respond_error(struct kf_http_req *r, unsigned code,
			   const char *fmt, ...)
{
	va_list ap;
	char *msg;
	json_t *o;

	va_start(ap, fmt);
	msg = kf_xvasprintf(fmt, ap);
	va_end(ap);
	/* json_stringn: a message quoting the client's bytes may not be UTF-8 */
	o = json_object();
	json_object_set_new(o, "error", json_stringn(msg, strlen(msg)));
	if (!json_object_get(o, "error"))
		json_object_set_new(o, "error",
				    json_string("invalid request (not UTF-8)"));
	kf_http_respond_json(r, code, o);
	json_decref(o);
	free(msg);
}

bool kf_http_responded(const struct kf_http_req *r)
{
	return r->responded;
}

void kf_http_resp_header(struct kf_http_req *r, const char *name,
			 const char *value)
{
	kf_xgrow((void **)&r->hdrs, &r->ahdrs, r->nhdrs + 1, sizeof(*r->hdrs));
	r->hdrs[r->nhdrs].name = kf_xstrdup(name);
	r->hdrs[r->nhdrs].value = kf_xstrdup(value);
	r->nhdrs++;
}

const char *kf_http_req_method(const struct kf_http_req *r)
{
	return r->method;
}

const char *kf_http_req_path(const struct kf_http_req *r)
{
	return r->path;
}

const char *kf_http_req_subpath(const struct kf_http_req *r)
{
	if (!r->route || r->route->match != KF_HTTP_PREFIX)
		return "";
	return r->path + r->route->pathlen;
}

const char *kf_http_req_header(const struct kf_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *kf_http_req_query(const struct kf_http_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *kf_http_req_body(const struct kf_http_req *r, size_t *len)
{
	if (len)
		*len = r->body.len;
	return r->body.buf;
}

const char *kf_http_req_client(const struct kf_http_req *r)
{
	struct kf_http_req *w = (struct kf_http_req *)r;
	const union MHD_ConnectionInfo *ci;

	if (w->client[0])
		return w->client;
	ci = MHD_get_connection_info(w->conn,
				     MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return "";
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET,
			  &((const struct sockaddr_in *)ci->client_addr)->sin_addr,
			  w->client, sizeof(w->client));
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr,
			  w->client, sizeof(w->client));
	return w->client;
}

static bool path_matches(const struct route *rt, const char *path)
{
	if (rt->match == KF_HTTP_EXACT)
		return !strcmp(rt->path, path);
	return !strncmp(rt->path, path, rt->pathlen);
}

static bool method_matches(const struct route *rt, const char *method)
{
	return !strcmp(rt->method, method) ||
	       (!strcmp(method, "HEAD") && !strcmp(rt->method, "GET"));
}

/* Match a route; on a known path with the wrong method fill `allow`. */
static const struct route *route_find(struct kf_http_server *s,
				      const char *method, const char *path,
				      struct kf_buf *allow)
{
	size_t i;

	for (i = 0; i < s->nroutes; i++) {
		const struct route *rt = &s->routes[i];

		if (!path_matches(rt, path))
			continue;
		if (method_matches(rt, method))
			return rt;
		if (!strstr(allow->buf, rt->method)) {
			if (allow->len)
				kf_buf_adds(allow, ", ");
			kf_buf_adds(allow, rt->method);
			if (!strcmp(rt->method, "GET"))
				kf_buf_adds(allow, ", HEAD");
		}
	}
	return NULL;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn,
				 const char *url, const char *method,
				 const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct kf_http_server *s = cls;
	struct kf_http_req *r = *con_cls;

	if (!r) {
		struct kf_buf allow = KF_BUF_INIT;
		const char *cl;

		r = kf_xcalloc(1, sizeof(*r));
		r->srv = s;
		r->conn = conn;
		r->method = method;
		r->path = url;
		r->start = now_mono();
		kf_buf_init(&r->body, 0);
		r->body.cap = s->opts.body_max;
		*con_cls = r;
		if (s->m_inflight)
			kf_metric_add(s->m_inflight, NULL, 1);

		r->route = route_find(s, method, url, &allow);
		if (!r->route) {
			if (allow.len) {
				kf_http_resp_header(r, "Allow", allow.buf);
				kf_http_respond_error(r, 405,
						      "method not allowed; allowed: %s",
						      allow.buf);
			} else {
				kf_http_respond_error(r, 404, "not found");
			}
			kf_buf_release(&allow);
			return MHD_YES;
		}
		kf_buf_release(&allow);
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > s->opts.body_max) {
			/* Up to DRAIN_MAX the body is read and dropped and the
			 * 413 comes after it, so the client is never reset
			 * while it still sends (nginx's lingering close);
			 * larger ones are answered at once. */
			if (strtoull(cl, NULL, 10) <= DRAIN_MAX) {
				r->drain = true;
				r->too_big = true;
			} else {
				kf_http_respond_error(r, 413,
						      "request body over %zu bytes",
						      s->opts.body_max);
			}
		}
		return MHD_YES;
	}

	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (r->responded || r->drain)
			return MHD_YES; /* discard what follows an early answer */
		if (kf_buf_add(&r->body, upload_data, n)) {
			/* a chunked body past the cap: stop reading it */
			r->too_big = true;
			return MHD_NO;
		}
		return MHD_YES;
	}

	if (r->responded)
		return MHD_YES;
	if (r->drain) {
		kf_http_respond_error(r, 413, "request body over %zu bytes", s->opts.body_max);
		return MHD_YES;
	}
	r->route->fn(r, r->route->ud);
	if (!r->responded)
		kf_http_respond_error(r, 500, "the handler gave no answer");
	return MHD_YES;
}

/* libmicrohttpd's own messages (connection limit reached, ...) at debug. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
	KF_PRINTF(2, 0);
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char *msg;
	size_t n;

	if (KF_LOG_DEBUG > kf_log_level_current)
		return;
	msg = kf_xvasprintf(fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	kf_log_write(KF_LOG_DEBUG, "http", "libmicrohttpd: %s", msg);
	free(msg);
}

int kf_http_server_start(struct kf_http_server *s, struct kf_err **err)
{
	struct sockaddr_in sa4;
	struct sockaddr_in6 sa6;
	const struct sockaddr *sa;
	/* not MHD_USE_TURBO: it skips the shutdown() before close, and a client
	 * still sending a body we refused (413) would then get a reset that
	 * can destroy the answer before it reads it */
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;
	struct MHD_OptionItem ops[12];
	size_t n = 0;

	if (s->daemon)
		return 0;
	memset(&sa4, 0, sizeof(sa4));
	memset(&sa6, 0, sizeof(sa6));
	if (inet_pton(AF_INET, s->bind, &sa4.sin_addr) == 1) {
		sa4.sin_family = AF_INET;
		sa4.sin_port = htons((uint16_t)s->opts.port);
		sa = (const struct sockaddr *)&sa4;
	} else if (inet_pton(AF_INET6, s->bind, &sa6.sin6_addr) == 1) {
		sa6.sin6_family = AF_INET6;
		sa6.sin6_port = htons((uint16_t)s->opts.port);
		sa = (const struct sockaddr *)&sa6;
		flags |= MHD_USE_IPv6;
	} else {
		return kf_err_set(err, KF_EINVAL,
				  "http server: bind address '%s' is not an IPv4 or IPv6 address",
				  s->bind);
	}
	if (s->opts.port > 65535)
		return kf_err_set(err, KF_EINVAL, "http server: port %u is out of range",
				  s->opts.port);

#define OPT(o, v, p) ops[n++] = (struct MHD_OptionItem){ (o), (intptr_t)(v), (p) }
	OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL); /* first */
	OPT(MHD_OPTION_SOCK_ADDR, 0, (void *)sa);
	OPT(MHD_OPTION_CONNECTION_LIMIT, s->opts.conn_limit, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, s->opts.timeout_s, NULL);
	OPT(MHD_OPTION_LISTEN_BACKLOG_SIZE, s->opts.backlog, NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed_cb, s);
	if (s->opts.per_ip_limit)
		OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->opts.per_ip_limit,
		    NULL);
	if (s->opts.threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, s->opts.threads, NULL);
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT

	s->daemon = MHD_start_daemon(flags, (uint16_t)s->opts.port, NULL, NULL,
				     access_cb, s, MHD_OPTION_ARRAY, ops,
				     MHD_OPTION_END);
	if (!s->daemon)
		return kf_err_set(err, KF_EIO,
				  "http server: cannot listen on %s port %u (in use, or not permitted)",
				  s->bind, s->opts.port);
	di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : s->opts.port;
	return 0;
}

unsigned kf_http_server_port(const struct kf_http_server *s)
{
	return s->port;
}

void kf_http_server_stop(struct kf_http_server *s)
{
	if (s && s->daemon) {
		MHD_stop_daemon(s->daemon);
		s->daemon = NULL;
	}
}

void kf_http_server_free(struct kf_http_server *s)
{
	size_t i;

	if (!s)
		return;
	kf_http_server_stop(s);
	for (i = 0; i < s->nroutes; i++) {
		free(s->routes[i].method);
		free(s->routes[i].path);
		free(s->routes[i].name);
	}
	free(s->routes);
	free(s->bind);
	free(s->prefix);
	free(s);
}
