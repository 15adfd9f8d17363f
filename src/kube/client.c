/*
 * client.c - the HTTP client that talks to the Kubernetes API server.
 *
 * One libcurl multi handle per client keeps the connections: with HTTP/2
 * (negotiated by ALPN, CURL_HTTP_VERSION_2TLS) every request is a stream
 * on one connection (CURLPIPE_MULTIPLEX); a server that only speaks
 * HTTP/1.1 gets a small pool of keep-alive connections
 * (CURLMOPT_MAX_HOST_CONNECTIONS). The first batch starts with one request
 * so that curl learns which it is before opening more connections.
 *
 * kf_kube_run() runs a batch of requests with a bound on how many are in
 * flight, and retries what is worth retrying: connection failures, 429 and
 * 500/502/503/504, with exponential backoff and full jitter, honouring
 * Retry-After, within a per-request window and attempt limit. Responses are
 * read into capped buffers. Certificates, keys and CA bundles are handed to
 * curl from memory (CURLOPT_*_BLOB); nothing secret is written or traced.
 *
 * Trust: when the kubeconfig names a CA, that CA alone is trusted (curl's
 * default bundle and directory are switched off, so a certificate from a
 * system-trusted CA for the same address is refused before any credential
 * is sent); without one, the system store is used, or SSL_CERT_FILE /
 * SSL_CERT_DIR when set, as kubectl (Go) does.
 *
 * Faults: the overall deadline (--timeout) bounds every attempt and every
 * wait between attempts; a server that accepts and never answers is cut
 * off by it. A name that does not resolve, a TLS failure, and a refused
 * connection to a server that has never answered are not retried: the
 * error says which address and why, at once. A 500 whose Status says the
 * request itself is wrong is final. Retry-After (seconds or an HTTP date)
 * is honoured up to a cap.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "kube.h"

struct kf_kube {
	struct kf_kube_config *cfg; /* own copy */
	struct kf_kube_opts opts;
	CURLM *multi;
	struct curl_slist *auth_hdr; /* Authorization header, if any */
	char *base;                  /* URL prefix requests use */
	struct curl_slist *connect_to; /* tls-server-name: where to really connect */
	struct kf_kube_stats stats;
	bool proto_known;
	bool answered;               /* the server has sent any HTTP response */
	double token_read;           /* when token_file was last read */
	kf_kube_observe_fn observe;  /* API request counting hook, or NULL */
	void *observe_ctx;
	struct curl_slist *imp_hdrs; /* Impersonate-* headers */
	char *shown;                 /* the server URL for messages (no userinfo) */
	bool exec_have;              /* a credential from the exec plugin is held */
	bool exec_stale;             /* a 401: run the plugin again when idle */
	double exec_expires;         /* its expiry (kf_now() time), 0 = none */
};

/* Per attempt. */
struct xfer {
	struct kf_kube *k;
	struct kf_kube_req *r;
	CURL *easy;
	struct curl_slist *hdrs;
	double retry_after;
	bool too_big;
	size_t slot;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_blob(const char *p, size_t n)
{
	char *d;

	if (!p)
		return NULL;
	d = kf_xmalloc(n + 1);
	memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

static char **strv_dup(char *const *v)
{
	size_t n = 0;
	char **d;

	if (!v)
		return NULL;
	while (v[n])
		n++;
	d = kf_xcalloc(n + 1, sizeof(*d));
	for (size_t i = 0; i < n; i++)
		d[i] = kf_xstrdup(v[i]);
	return d;
}

static struct kf_kube_config *config_copy(const struct kf_kube_config *c)
{
	struct kf_kube_config *d = kf_xcalloc(1, sizeof(*d));

#define S(f) d->f = c->f ? kf_xstrdup(c->f) : NULL
	S(server);
	S(context);
	S(cluster);
	S(user);
	S(namespace);
	S(source);
	S(token);
	S(token_file);
	S(tls_server_name);
	S(as_user);
	S(as_uid);
	S(proxy_url);
#undef S
	d->as_groups = strv_dup(c->as_groups);
	d->as_extra = strv_dup(c->as_extra);
	if (c->exec) {
		const struct kf_kube_exec *x = c->exec;
		struct kf_kube_exec *y = kf_xcalloc(1, sizeof(*y));

		y->api_version = kf_xstrdup(x->api_version);
		y->command = kf_xstrdup(x->command);
		y->args = strv_dup(x->args);
		y->env = strv_dup(x->env);
		y->interactive = kf_xstrdup(x->interactive ? x->interactive : "IfAvailable");
		y->provide_cluster_info = x->provide_cluster_info;
		y->install_hint = x->install_hint ? kf_xstrdup(x->install_hint) : NULL;
		y->user = kf_xstrdup(x->user ? x->user : "?");
		y->where = kf_xstrdup(x->where ? x->where : "?");
		d->exec = y;
	}
	d->insecure = c->insecure;
	d->ca = dup_blob(c->ca, c->ca_len);
	d->ca_len = c->ca_len;
	d->cert = dup_blob(c->cert, c->cert_len);
	d->cert_len = c->cert_len;
	d->key = dup_blob(c->key, c->key_len);
	d->key_len = c->key_len;
	return d;
}

/*
 * tls-server-name: the certificate must be valid for that name while the
 * connection goes to the server's address. Requests use the name in their
 * URL (so curl sends it as SNI and verifies it) and CURLOPT_CONNECT_TO
 * sends the connection to the real host and port.
 */
static int setup_server_name(struct kf_kube *k, struct kf_err **err)
{
	const char *name = k->cfg->tls_server_name;
	CURLU *u;
	char *host = NULL, *port = NULL, *scheme = NULL, *entry;
	int rc = 0;

	if (!name || !*name) {
		k->base = kf_xstrdup(k->cfg->server);
		return 0;
	}
	u = curl_url();
	if (curl_url_set(u, CURLUPART_URL, k->cfg->server, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0)) {
		rc = kf_err_set(err, KF_EINVAL, "server '%s' is not a URL", k->shown);
		goto out;
	}
	entry = kf_xasprintf("%s:%s:%s:%s", name, port, host, port);
	k->connect_to = curl_slist_append(NULL, entry);
	free(entry);
	curl_url_set(u, CURLUPART_HOST, name, 0);
	{
		char *full = NULL;

		curl_url_get(u, CURLUPART_URL, &full, 0);
		k->base = kf_xstrdup(full ? full : k->cfg->server);
		curl_free(full);
	}
	while (strlen(k->base) > 8 && k->base[strlen(k->base) - 1] == '/')
		k->base[strlen(k->base) - 1] = '\0';
out:
	curl_free(host);
	curl_free(port);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

static void set_auth_header(struct kf_kube *k)
{
	char *h;

	if (k->auth_hdr) {
		memset(k->auth_hdr->data, 0, strlen(k->auth_hdr->data));
		curl_slist_free_all(k->auth_hdr);
		k->auth_hdr = NULL;
	}
	if (!k->cfg->token)
		return;
	h = kf_xasprintf("Authorization: Bearer %s", k->cfg->token);
	k->auth_hdr = curl_slist_append(NULL, h);
	memset(h, 0, strlen(h));
	free(h);
}

/* Projected service-account tokens rotate: re-read the file every minute. */
static void refresh_token(struct kf_kube *k)
{
	char *data = NULL;
	size_t len = 0;

	if (!k->cfg->token_file || kf_now() - k->token_read < 60)
		return;
	k->token_read = kf_now();
	if (kf_file_read(k->cfg->token_file, &data, &len, NULL) < 0)
		return; /* keep the token we have */
	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
		data[--len] = '\0';
	if (len && (!k->cfg->token || strcmp(data, k->cfg->token))) {
		kf_redact_register(data);
		if (k->cfg->token) {
			memset(k->cfg->token, 0, strlen(k->cfg->token));
			free(k->cfg->token);
		}
		k->cfg->token = kf_xstrdup(data);
		set_auth_header(k);
		kf_trace("kube", "bearer token re-read from its file");
	}
	memset(data, 0, len);
	free(data);
}

/* as, as-uid, as-groups, as-user-extra: what kubectl --as sends. */
static void set_impersonation(struct kf_kube *k)
{
	const struct kf_kube_config *c = k->cfg;
	char *h;

	if (!c->as_user)
		return;
	h = kf_xasprintf("Impersonate-User: %s", c->as_user);
	k->imp_hdrs = curl_slist_append(k->imp_hdrs, h);
	free(h);
	if (c->as_uid) {
		h = kf_xasprintf("Impersonate-Uid: %s", c->as_uid);
		k->imp_hdrs = curl_slist_append(k->imp_hdrs, h);
		free(h);
	}
	for (size_t i = 0; c->as_groups && c->as_groups[i]; i++) {
		h = kf_xasprintf("Impersonate-Group: %s", c->as_groups[i]);
		k->imp_hdrs = curl_slist_append(k->imp_hdrs, h);
		free(h);
	}
	for (size_t i = 0; c->as_extra && c->as_extra[i]; i++) {
		const char *eq = strchr(c->as_extra[i], '=');
		char *key = kf_xstrndup(c->as_extra[i], (size_t)(eq - c->as_extra[i]));
		char *esc = kf_url_escape(key);

		h = kf_xasprintf("Impersonate-Extra-%s: %s", esc, eq + 1);
		k->imp_hdrs = curl_slist_append(k->imp_hdrs, h);
		free(h);
		free(esc);
		free(key);
	}
}

/* The exec plugin's credential: run it the first time and whenever the one
 * we hold has expired. */
static int refresh_exec(struct kf_kube *k, struct kf_err **err)
{
	struct kf_kube_config *c = k->cfg;
	double deadline = k->opts.deadline > 0 ? k->opts.deadline : kf_now() + 60;
	int rc;

	if (!c->exec || (k->exec_have && (!k->exec_expires || kf_now() < k->exec_expires)))
		return 0;
	rc = kf_kube_exec_run(c->exec, c, deadline, &c->token, &c->cert, &c->cert_len, &c->key, &c->key_len,
			      &k->exec_expires, err);
	if (rc)
		return rc;
	k->exec_have = true;
	set_auth_header(k);
	kf_trace("kube", "credential from the exec plugin of user %s%s", c->exec->user,
		 k->exec_expires ? " (expires)" : "");
	return 0;
}

void kf_kube_set_deadline(struct kf_kube *k, double deadline)
{
	k->opts.deadline = deadline;
}

int kf_kube_new(struct kf_kube **out, const struct kf_kube_config *cfg,
		const struct kf_kube_opts *opts, struct kf_err **err)
{
	struct kf_kube *k;
	int rc;

	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (!cfg || !cfg->server)
		return kf_err_set(err, KF_EINVAL, "kube client: no server");
	k = kf_xcalloc(1, sizeof(*k));
	k->cfg = config_copy(cfg);
	k->shown = kf_url_redact(cfg->server);
	if (opts)
		k->opts = *opts;
	if (!k->opts.max_inflight)
		k->opts.max_inflight = 64;
	if (!k->opts.max_conns)
		k->opts.max_conns = 8;
	if (k->opts.timeout <= 0)
		k->opts.timeout = 60;
	if (k->opts.connect_timeout <= 0)
		k->opts.connect_timeout = 10;
	if (!k->opts.max_attempts)
		k->opts.max_attempts = 10;
	if (k->opts.retry_window <= 0)
		k->opts.retry_window = 120;
	if (!k->opts.max_response)
		k->opts.max_response = (size_t)256 << 20;
	if (k->opts.retry_after_max <= 0)
		k->opts.retry_after_max = 30;
	k->multi = curl_multi_init();
	if (!k->multi) {
		kf_kube_free(k);
		return kf_err_set(err, KF_ERR, "kube client: curl_multi_init failed");
	}
	curl_multi_setopt(k->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(k->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)k->opts.max_conns);
	curl_multi_setopt(k->multi, CURLMOPT_MAXCONNECTS, (long)k->opts.max_conns + 2);
	curl_multi_setopt(k->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)k->opts.max_inflight);
	rc = setup_server_name(k, err);
	if (rc) {
		kf_kube_free(k);
		return rc;
	}
	set_auth_header(k);
	set_impersonation(k);
	k->token_read = kf_now();
	*out = k;
	return 0;
}

void kf_kube_free(struct kf_kube *k)
{
	if (!k)
		return;
	if (k->multi)
		curl_multi_cleanup(k->multi);
	curl_slist_free_all(k->auth_hdr);
	curl_slist_free_all(k->connect_to);
	curl_slist_free_all(k->imp_hdrs);
	free(k->shown);
	free(k->base);
	kf_kube_config_free(k->cfg);
	free(k);
}

const struct kf_kube_config *kf_kube_cfg(const struct kf_kube *k)
{
	return k->cfg;
}

const struct kf_kube_stats *kf_kube_get_stats(const struct kf_kube *k)
{
	return &k->stats;
}

void kf_kube_req_init(struct kf_kube_req *r, const char *method, char *path)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->path = path;
	kf_buf_init(&r->resp, 0);
}

void kf_kube_req_body(struct kf_kube_req *r, char *body, size_t len,
		      const char *content_type)
{
	free(r->body);
	r->body = body;
	r->body_len = len;
	r->content_type = content_type;
}

void kf_kube_req_release(struct kf_kube_req *r)
{
	free(r->path);
	free(r->body);
	kf_buf_release(&r->resp);
	kf_err_free(r->err);
	r->path = r->body = NULL;
	r->err = NULL;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (kf_buf_add(&x->r->resp, ptr, n) < 0) {
		x->too_big = true;
		return 0;
	}
	return n;
}

/* Retry-After: delay-seconds or an HTTP date (RFC 9110 10.2.3). */
static double parse_retry_after(const char *v)
{
	char *end;
	double d;
	struct tm tm;

	while (*v == ' ' || *v == '\t')
		v++;
	d = strtod(v, &end);
	if (end != v)
		return d;
	memset(&tm, 0, sizeof(tm));
	if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm))
		return difftime(timegm(&tm), time(NULL));
	return 0;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (n > 12 && !strncasecmp(ptr, "Retry-After:", 12)) {
		char tmp[64];
		size_t l = n - 12 < sizeof(tmp) - 1 ? n - 12 : sizeof(tmp) - 1;
		double v;

		memcpy(tmp, ptr + 12, l);
		tmp[l] = '\0';
		tmp[strcspn(tmp, "\r\n")] = '\0';
		v = parse_retry_after(tmp);
		/* "0" or a date in the past: retry now, but not in a tight loop. */
		x->retry_after = v > x->k->opts.retry_after_max ? x->k->opts.retry_after_max : v > 0.05 ? v : 0.05;
	}
	return n;
}

static void count_verb(struct kf_kube_stats *s, const struct kf_kube_req *r)
{
	s->requests++;
	if (!strcmp(r->method, "GET")) {
		/* A LIST is a GET on a collection; guess by the query. */
		if (strstr(r->path, "labelSelector=") || strstr(r->path, "limit="))
			s->list++;
		else
			s->get++;
	} else if (!strcmp(r->method, "PATCH")) {
		s->patch++;
	} else if (!strcmp(r->method, "DELETE")) {
		s->del++;
	} else if (!strcmp(r->method, "POST")) {
		s->post++;
	} else if (!strcmp(r->method, "PUT")) {
		s->put++;
	}
}

static struct xfer *xfer_start(struct kf_kube *k, struct kf_kube_req *r)
{
	struct xfer *x = kf_xcalloc(1, sizeof(*x));
	const struct kf_kube_config *c = k->cfg;
	char *url = kf_xasprintf("%s%s", k->base, r->path);
	char *h;
	CURL *e;

	x->k = k;
	x->r = r;
	kf_buf_release(&r->resp);
	r->resp.cap = k->opts.max_response;
	r->status = 0;
	e = x->easy = curl_easy_init();
	if (!e)
		abort();
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);
	if (k->connect_to)
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, k->connect_to);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	if (!strcmp(r->method, "GET"))
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	if (r->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	}
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, k->opts.http1 ? (long)CURL_HTTP_VERSION_1_1 : (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	{
		/* Per attempt, and never past the overall deadline. */
		double t = k->opts.timeout, ct = k->opts.connect_timeout;

		if (k->opts.deadline > 0) {
			double left = k->opts.deadline - kf_now();

			if (left < 0.001)
				left = 0.001;
			t = t < left ? t : left;
			ct = ct < left ? ct : left;
		}
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(t * 1000) > 0 ? (long)(t * 1000) : 1L);
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(ct * 1000) > 0 ? (long)(ct * 1000) : 1L);
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "kfboot/" KF_VERSION);
	if (c->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca) {
		/* Exactly the kubeconfig's CA: curl would otherwise also load
		 * its default bundle and directory (the system store). */
		struct curl_blob b = { c->ca, c->ca_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
	} else {
		/* The system store; SSL_CERT_FILE / SSL_CERT_DIR replace it, as
		 * they do for kubectl. */
		const char *f = getenv("SSL_CERT_FILE"), *d = getenv("SSL_CERT_DIR");

		if ((f && *f) || (d && *d)) {
			curl_easy_setopt(e, CURLOPT_CAINFO, f && *f ? f : NULL);
			curl_easy_setopt(e, CURLOPT_CAPATH, d && *d ? d : NULL);
		}
	}
	if (c->proxy_url) {
		/* proxy-url is for this cluster whatever NO_PROXY says. */
		curl_easy_setopt(e, CURLOPT_PROXY, c->proxy_url);
		curl_easy_setopt(e, CURLOPT_NOPROXY, "");
	}
	if (c->cert && c->key) {
		struct curl_blob cb = { c->cert, c->cert_len, CURL_BLOB_NOCOPY };
		struct curl_blob kb = { c->key, c->key_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kb);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	h = kf_xasprintf("Accept: %s", r->accept ? r->accept : "application/json");
	x->hdrs = curl_slist_append(x->hdrs, h);
	free(h);
	if (r->content_type) {
		h = kf_xasprintf("Content-Type: %s", r->content_type);
		x->hdrs = curl_slist_append(x->hdrs, h);
		free(h);
	}
	x->hdrs = curl_slist_append(x->hdrs, "Expect:");
	if (k->auth_hdr)
		x->hdrs = curl_slist_append(x->hdrs, k->auth_hdr->data);
	for (struct curl_slist *i = k->imp_hdrs; i; i = i->next)
		x->hdrs = curl_slist_append(x->hdrs, i->data);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	r->attempts++;
	count_verb(&k->stats, r);
	kf_trace("kube", "%s %s (attempt %u)", r->method, r->path, r->attempts);
	curl_multi_add_handle(k->multi, e);
	return x;
}

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	curl_multi_remove_handle(x->k->multi, x->easy);
	curl_easy_cleanup(x->easy);
	if (x->hdrs) {
		/* The Authorization header holds the token: wipe our copy. */
		for (struct curl_slist *s = x->hdrs; s; s = s->next)
			if (!strncmp(s->data, "Authorization:", 14))
				memset(s->data, 0, strlen(s->data));
		curl_slist_free_all(x->hdrs);
	}
	free(x);
}

enum retry_class { NO_RETRY, RETRY, RETRY_SHORT };

/*
 * What a transport failure is worth. A server that has never answered this
 * client is not there: refused, unreachable, no answer in time, a name that
 * does not resolve, a TLS failure: say so at once. One that has answered
 * may be restarting: a refused connection is retried for a few seconds.
 * A connection that broke mid-request is retried as before, and so is a
 * GET that timed out on a server that answers (see the caller).
 */
static enum retry_class curl_retry_class(CURLcode rc, bool answered)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_OPERATION_TIMEDOUT:
		return answered ? RETRY_SHORT : NO_RETRY;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return RETRY;
	default:
		return NO_RETRY;
	}
}

/* "cannot connect to https://host:port: <curl's reason>" and so on. */
static char *transport_why(const struct kf_kube *k, CURLcode rc, const char *detail)
{
	const char *what;

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		what = "cannot resolve the host of";
		break;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		what = "cannot connect to";
		break;
	case CURLE_OPERATION_TIMEDOUT:
		what = "no answer in time from";
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		what = "TLS failed with";
		break;
	default:
		what = "request failed at";
	}
	return kf_xasprintf("%s %s%s%s: %s", what, k->shown, k->cfg->proxy_url ? " via proxy " : "",
			    k->cfg->proxy_url ? "(proxy-url)" : "", detail);
}

/* Words in a Status message that say the request itself is wrong, which a
 * retry cannot fix, even when the server answers 500 (server-side apply of
 * a body that does not fit the schema does on many versions). */
static const char *const invalid_markers[] = {
	"failed to create typed patch object",
	"field not declared in schema",
	"cannot unmarshal",
	"unable to decode",
	"error decoding",
	"invalid character",
	"unknown field",
	"is invalid",
	"expected string, got",
	"expected map, got",
	"expected list, got",
	"expected numeric",
};

bool kf_kube_req_invalid(const struct kf_kube_req *r)
{
	json_t *j;
	const char *reason, *msg;
	bool bad = false;

	if (r->status < 400 || !r->resp.len)
		return false;
	j = json_loadb(r->resp.buf, r->resp.len, 0, NULL);
	reason = json_string_value(json_object_get(j, "reason"));
	msg = json_string_value(json_object_get(j, "message"));
	if (reason && (!strcmp(reason, "BadRequest") || !strcmp(reason, "Invalid") ||
		       !strcmp(reason, "NotAcceptable") || !strcmp(reason, "UnsupportedMediaType") ||
		       !strcmp(reason, "RequestEntityTooLarge") || !strcmp(reason, "MethodNotAllowed")))
		bad = true;
	for (size_t i = 0; msg && !bad && i < KF_ARRAY_SIZE(invalid_markers); i++)
		bad = strstr(msg, invalid_markers[i]) != NULL;
	json_decref(j);
	return bad;
}

static bool status_retriable(long st, const struct kf_kube_req *r)
{
	if (st == 429)
		return true;
	if (r->no_retry)
		return false;
	if (st == 500 && kf_kube_req_invalid(r))
		return false;
	return st == 500 || st == 502 || st == 503 || st == 504;
}

struct slot {
	struct kf_kube_req *r;
	double not_before; /* retry time */
	double first;      /* first attempt start */
	struct kf_backoff bo;
	struct xfer *x;    /* while active */
	bool active, done;
	bool reauthed;     /* a 401 already made us re-run the exec plugin */
};

int kf_kube_run(struct kf_kube *k, struct kf_kube_req **reqs, size_t n,
		struct kf_err **err)
{
	struct slot *s = kf_xcalloc(n ? n : 1, sizeof(*s));
	size_t done = 0, active = 0, next = 0;
	int rc = 0;

	refresh_token(k);
	for (size_t i = 0; i < n; i++)
		kf_err_clear(&reqs[i]->err);
	if (k->opts.deadline > 0 && kf_now() >= k->opts.deadline) {
		rc = kf_err_set(err, KF_ETIMEOUT, "the deadline (--timeout) has passed; %s not sent to %s",
				n ? reqs[0]->method : "request", k->shown);
		free(s);
		return rc;
	}
	rc = refresh_exec(k, err);
	if (rc) {
		free(s);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		s[i].r = reqs[i];
		s[i].bo = (struct kf_backoff)KF_BACKOFF_INIT(0.2, 8.0);
		kf_err_clear(&reqs[i]->err);
		reqs[i]->attempts = 0;
	}
	while (done < n) {
		double now = kf_now(), wait_until = now + 1.0;
		unsigned limit = !k->proto_known ? 1 : k->stats.http2 ? k->opts.max_inflight : k->opts.max_conns * 2;
		int running = 0, msgs;
		CURLMsg *m;

		if (kf_interrupted()) {
			rc = kf_err_set(err, KF_ECANCEL, "interrupted");
			break;
		}
		if (k->opts.deadline > 0 && now >= k->opts.deadline) {
			size_t j = 0;

			while (j < n && s[j].done)
				j++;
			rc = kf_err_set(err, KF_ETIMEOUT, "deadline (--timeout) passed: %s %s got no answer from %s",
					j < n ? s[j].r->method : "", j < n ? s[j].r->path : "", k->shown);
			break;
		}
		if (k->opts.deadline > 0 && wait_until > k->opts.deadline)
			wait_until = k->opts.deadline;
		/* The server refused the plugin's credential: once nothing is in
		 * flight (transfers borrow the certificate), ask for a new one,
		 * as client-go does. */
		if (k->exec_stale && !active) {
			k->exec_stale = false;
			k->exec_have = false;
			rc = refresh_exec(k, err);
			if (rc)
				break;
		}
		/* Start what may start: in order, skipping ones backing off. */
		for (size_t i = 0; i < n && active < limit && !k->exec_stale; i++) {
			size_t j = (next + i) % n;

			if (s[j].active || s[j].done)
				continue;
			if (s[j].not_before > now) {
				if (s[j].not_before < wait_until)
					wait_until = s[j].not_before;
				continue;
			}
			if (!s[j].first)
				s[j].first = now;
			s[j].x = xfer_start(k, s[j].r);
			s[j].x->slot = j;
			s[j].active = true;
			active++;
		}
		next = 0;
		curl_multi_perform(k->multi, &running);
		while ((m = curl_multi_info_read(k->multi, &msgs))) {
			struct xfer *x = NULL;
			struct slot *sl = NULL;
			struct kf_kube_req *r;
			bool retry = false;
			long st = 0;
			double delay;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			r = x->r;
			sl = &s[x->slot];
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &st);
			if (!k->proto_known && m->data.result == CURLE_OK) {
				long ver = 0;

				curl_easy_getinfo(m->easy_handle, CURLINFO_HTTP_VERSION, &ver);
				k->stats.http2 = ver == CURL_HTTP_VERSION_2_0;
				k->proto_known = true;
				kf_trace("kube", "server speaks %s", k->stats.http2 ? "HTTP/2" : "HTTP/1.1");
			}
			kf_err_clear(&r->err);
			if (m->data.result != CURLE_OK) {
				enum retry_class rcl = curl_retry_class(m->data.result, k->answered);

				/* A read that timed out on a server that does answer
				 * (a stalled stream): reading is safe to repeat, as a
				 * broken connection is. */
				if (m->data.result == CURLE_OPERATION_TIMEDOUT && k->answered && !strcmp(r->method, "GET"))
					rcl = RETRY;

				if (x->too_big) {
					kf_err_set(&r->err, KF_ETOOBIG, "%s %s: response larger than %zu bytes", r->method, r->path, k->opts.max_response);
				} else {
					char *why = transport_why(k, m->data.result, x->errbuf[0] ? x->errbuf : curl_easy_strerror(m->data.result));
					bool late = m->data.result == CURLE_OPERATION_TIMEDOUT && k->opts.deadline > 0 &&
						    kf_now() >= k->opts.deadline - 0.05;

					if (late)
						rcl = NO_RETRY;
					kf_err_set(&r->err, late ? KF_ETIMEOUT : rcl != NO_RETRY ? KF_EAGAIN : KF_EIO, "%s %s: %s%s", r->method, r->path,
						   late ? "deadline (--timeout) passed: " : "", why);
					free(why);
				}
				retry = !x->too_big && rcl != NO_RETRY;
				/* Refused by a server that answered before: a few
				 * seconds for a restart, not minutes. */
				if (rcl == RETRY_SHORT && kf_now() - sl->first > 10)
					retry = false;
				r->status = 0;
			} else {
				k->answered = true;
				r->status = st;
				retry = status_retriable(st, r);
				if (st == 401 && k->cfg->exec && !sl->reauthed) {
					sl->reauthed = true;
					k->exec_stale = true;
					retry = true;
				}
			}
			kf_trace("kube", "%s %s -> %ld%s", r->method, r->path, r->status, retry ? " (will retry)" : "");
			if (k->observe)
				k->observe(k->observe_ctx, kf_kube_verb_of(r->method, r->path), r->status);
			/* The server's Retry-After when it gave one (with a
			 * little jitter), else exponential backoff. */
			delay = kf_backoff_next(&sl->bo);
			if (r->status == 401)
				delay = 0;
			else if (x->retry_after > 0)
				delay = x->retry_after * (1.0 + 0.1 * ((double)rand() / RAND_MAX));
			/* Throttling (429) is the server asking us to wait: only the
			 * window bounds it. Errors also have an attempt limit. */
			if (retry && ((r->status != 429 && r->attempts >= k->opts.max_attempts) ||
				      r->attempts >= 100 ||
				      kf_now() + delay - sl->first > k->opts.retry_window))
				retry = false;
			/* Never wait past the deadline: say why we stopped. */
			if (retry && k->opts.deadline > 0 && kf_now() + delay > k->opts.deadline) {
				retry = false;
				if (!r->err)
					kf_err_set(&r->err, KF_ETIMEOUT, "%s %s: %ld from %s; %s %.0fs would pass the deadline (--timeout)",
						   r->method, r->path, r->status, k->shown,
						   x->retry_after > 0 ? "the server asks to retry after" : "retrying after",
						   x->retry_after > 0 ? x->retry_after : delay);
			}
			if (retry) {
				k->stats.retries++;
				sl->not_before = kf_now() + delay;
			} else {
				sl->done = true;
				done++;
			}
			sl->active = false;
			sl->x = NULL;
			active--;
			xfer_free(x);
		}
		if (done >= n)
			break;
		if (running || active) {
			double t = wait_until - kf_now();
			int ms = t <= 0 ? 0 : t > 1 ? 1000 : (int)(t * 1000);

			curl_multi_poll(k->multi, NULL, 0, ms, NULL);
		} else {
			/* Nothing in flight: wait only for the earliest retry. */
			double first = 0, t;

			for (size_t i = 0; i < n; i++)
				if (!s[i].done && (!first || s[i].not_before < first))
					first = s[i].not_before > 0 ? s[i].not_before : kf_now();
			t = first - kf_now();
			if (t > 0)
				kf_sleep(t > 1 ? 1 : t);
		}
	}
	if (rc) {
		/* Abort what is still running. */
		for (size_t i = 0; i < n; i++)
			if (s[i].x)
				xfer_free(s[i].x);
	}
	free(s);
	return rc;
}

char *kf_kube_status_message(const struct kf_kube_req *r)
{
	json_t *j = json_loadb(r->resp.buf, r->resp.len, 0, NULL);
	const char *msg;
	char *out = NULL;

	if (!j)
		return NULL;
	msg = json_string_value(json_object_get(j, "message"));
	if (msg)
		out = kf_xstrdup(msg);
	json_decref(j);
	return out;
}

int kf_kube_req_error(struct kf_err **err, const struct kf_kube_req *r)
{
	char *msg;
	int code;

	if (r->err)
		return kf_err_set(err, kf_err_code(r->err), "%s", r->err->msg);
	switch (r->status) {
	case 401:
	case 403:
		code = KF_EAUTH;
		break;
	case 404:
		code = KF_ENOENT;
		break;
	case 409:
		code = KF_ECONFLICT;
		break;
	case 400:
	case 422:
		code = KF_EINVAL;
		break;
	case 429:
	case 500:
	case 502:
	case 503:
	case 504:
		code = KF_EAGAIN;
		break;
	default:
		code = KF_ERR;
	}
	msg = kf_kube_status_message(r);
	if (msg) {
		code = kf_err_set(err, code, "%s %s: %ld: %s", r->method, r->path, r->status, msg);
		free(msg);
		return code;
	}
	return kf_err_set(err, code, "%s %s: HTTP %ld", r->method, r->path, r->status);
}

int kf_kube_get_json(struct kf_kube *k, const char *path, bool allow_404,
		     json_t **out, struct kf_err **err)
{
	struct kf_kube_req r, *rp = &r;
	json_error_t je;
	int rc;

	*out = NULL;
	kf_kube_req_init(&r, "GET", kf_xstrdup(path));
	rc = kf_kube_run(k, &rp, 1, err);
	if (rc)
		goto out;
	if (allow_404 && r.status == 404 && !r.err)
		goto out;
	if (r.err || r.status < 200 || r.status > 299) {
		rc = kf_kube_req_error(err, &r);
		goto out;
	}
	*out = json_loadb(r.resp.buf, r.resp.len, 0, &je);
	if (!*out)
		rc = kf_err_set(err, KF_EIO, "GET %s: response is not JSON: %s", path, je.text);
out:
	kf_kube_req_release(&r);
	return rc;
}

/* ---- hooks for long-lived users (watch, lease, metrics) --------------- */

void kf_kube_set_observer(struct kf_kube *k, kf_kube_observe_fn fn, void *ctx)
{
	k->observe = fn;
	k->observe_ctx = ctx;
}

const char *kf_kube_verb_of(const char *method, const char *path)
{
	if (!strcmp(method, "GET")) {
		if (strstr(path, "watch=1") || strstr(path, "watch=true"))
			return "watch";
		return strstr(path, "labelSelector=") || strstr(path, "limit=") ? "list" : "get";
	}
	if (!strcmp(method, "PATCH"))
		return "patch";
	if (!strcmp(method, "DELETE"))
		return "delete";
	if (!strcmp(method, "POST"))
		return "create";
	if (!strcmp(method, "PUT"))
		return "update";
	return "other";
}

void *kf_kube_easy_new(struct kf_kube *k, const char *path,
		       struct curl_slist **hdrs)
{
	const struct kf_kube_config *c = k->cfg;
	char *url = kf_xasprintf("%s%s", k->base, path);
	CURL *e = curl_easy_init();

	if (!e)
		abort();
	refresh_token(k);
	if (refresh_exec(k, NULL))
		kf_trace("kube", "exec plugin failed; the stream goes without a fresh credential");
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);
	if (k->connect_to)
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, k->connect_to);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(k->opts.connect_timeout * 1000));
	curl_easy_setopt(e, CURLOPT_USERAGENT, "kfboot/" KF_VERSION);
	if (c->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca) {
		struct curl_blob b = { c->ca, c->ca_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
	}
	if (c->cert && c->key) {
		struct curl_blob cb = { c->cert, c->cert_len, CURL_BLOB_NOCOPY };
		struct curl_blob kb = { c->key, c->key_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kb);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	*hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (k->auth_hdr)
		*hdrs = curl_slist_append(*hdrs, k->auth_hdr->data);
	for (struct curl_slist *i = k->imp_hdrs; i; i = i->next)
		*hdrs = curl_slist_append(*hdrs, i->data);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hdrs);
	return e;
}

void kf_kube_hdrs_free(struct curl_slist *hdrs)
{
	for (struct curl_slist *s = hdrs; s; s = s->next)
		if (!strncmp(s->data, "Authorization:", 14))
			memset(s->data, 0, strlen(s->data));
	curl_slist_free_all(hdrs);
}
