/*
 * lease_glue.c - ties the live parts of `kfboot reconcile` to one reconcile
 * loop: the HTTP listener (webhooks, /metrics, /healthz, /readyz, /status,
 * the status page), leader election, drift watches, the status ConfigMap
 * and Kubernetes Events.
 *
 * Threads and who owns what (STYLE.md, long-running processes): the loop
 * thread owns the desired and live state; everything here only hands work
 * in through the loop's thread-safe calls (wake, enqueue_object,
 * set_leader) and reads its published snapshot (status_json):
 *  - libmicrohttpd's workers answer requests; a valid push wakes the loop.
 *  - the lease thread flips the loop's leader flag, stops the drift
 *    watches when it loses the lease, and (in a pod) labels its own Pod
 *    `kfboot.io/role=leader` so the webhook Service routes to the writer.
 *  - drift watch threads enqueue drifted objects.
 *  - a writer thread, woken by the loop's on_reconcile hook, keeps
 *    ConfigMap kfboot-system/kfboot-status and posts one Event per
 *    reconcile that changed something or failed, on the environment's
 *    inventory Secret. Only the leader writes; nothing is written while
 *    nothing happens.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gitops/gitops.h"
#include "gitops/live.h"
#include "http/http.h"
#include "kfp/trigger.h"

#define STATUS_NS "kfboot-system"
#define STATUS_NAME "kfboot-status"
#define ROLE_LABEL "kfboot.io/role"

struct kf_live {
	struct kf_reconciler *r;
	char *branch, *inventory_ns;
	struct kf_metrics *reg;
	struct kf_gitops_metrics *gm;
	struct kf_kfp_metrics km;      /* retraining: runs by state, push -> run latency */
	struct kf_kfp_observer kobs;
	struct kf_http_server *srv;
	struct kf_webhook *hooks;
	struct kf_drift *drift;
	struct kf_lease *lease;
	char *identity;
	char *pod_name, *pod_ns;
	/* writer */
	struct kf_kube *k;
	pthread_t writer;
	bool writer_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, dirty;
	json_t *events;           /* queued Event bodies */
	char *last_written;       /* status.json as last written */
	bool warned_ns;
};

/* ---- HTTP handlers ------------------------------------------------------ */

static const char *req_header(void *ctx, const char *name)
{
	return kf_http_req_header(ctx, name);
}

static void hook(struct kf_http_req *req, struct kf_live *l, enum kf_webhook_kind kind,
		 const char *source)
{
	size_t len = 0;
	const char *body = kf_http_req_body(req, &len), *why = "";
	enum kf_webhook_result res = kf_webhook_check(l->hooks, kind, req_header, req, body, len, &why);
	json_t *j;

	kf_gitops_metrics_webhook(l->gm, source, res);
	kf_debug("webhook %s from %s: %s (%s)", source, kf_http_req_client(req), kf_webhook_result_str(res), why);
	j = json_pack("{s:s, s:s}", "result", kf_webhook_result_str(res), "reason", why);
	switch (res) {
	case KF_HOOK_ACCEPTED:
		if (!kf_reconciler_is_leader(l->r)) {
			/* Only the leader triggers. The webhook Service routes to
			 * the leader; a delivery that reached a standby anyway is
			 * refused so the sender shows it and can redeliver. */
			json_object_set_new(j, "result", json_string("standby"));
			kf_http_resp_header(req, "Retry-After", "2");
			kf_http_respond_json(req, 503, j);
			break;
		}
		kf_reconciler_wake(l->r, KF_WAKE_SOURCE);
		kf_http_respond_json(req, 202, j);
		break;
	case KF_HOOK_UNAUTHORIZED:
		kf_http_respond_json(req, 401, j);
		break;
	case KF_HOOK_BAD_REQUEST:
		kf_http_respond_json(req, 400, j);
		break;
	default:
		kf_http_respond_json(req, 200, j);
	}
	json_decref(j);
}

static void h_github(struct kf_http_req *req, void *ud)
{
	hook(req, ud, KF_HOOK_GITHUB, "github");
}

static void h_gitlab(struct kf_http_req *req, void *ud)
{
	hook(req, ud, KF_HOOK_GITLAB, "gitlab");
}

static void h_generic(struct kf_http_req *req, void *ud)
{
	hook(req, ud, KF_HOOK_GENERIC, "generic");
}

static void h_metrics(struct kf_http_req *req, void *ud)
{
	struct kf_live *l = ud;
	struct kf_buf b = KF_BUF_INIT;

	kf_metrics_render(l->reg, &b);
	kf_http_respond(req, 200, KF_METRICS_CONTENT_TYPE, b.buf, b.len);
	kf_buf_release(&b);
}

static void h_healthz(struct kf_http_req *req, void *ud)
{
	(void)ud;
	kf_http_respond_text(req, 200, "ok\n");
}

/* Ready: a standby is ready to serve health and metrics; a leader once
 * every selected environment was attempted. */
static void h_readyz(struct kf_http_req *req, void *ud)
{
	struct kf_live *l = ud;

	if (kf_reconciler_is_leader(l->r) && !kf_reconciler_ready(l->r))
		kf_http_respond_text(req, 503, "first reconcile in progress\n");
	else
		kf_http_respond_text(req, 200, "ok\n");
}

static json_t *status_doc(struct kf_live *l)
{
	json_t *s = kf_reconciler_status_json(l->r);

	json_object_set_new(s, "identity", json_string(l->identity));
	if (l->lease) {
		char *h = kf_lease_holder(l->lease);

		json_object_set_new(s, "holder", h ? json_string(h) : json_null());
		free(h);
	}
	return s;
}

static void h_status(struct kf_http_req *req, void *ud)
{
	json_t *s = status_doc(ud);

	kf_http_respond_json(req, 200, s);
	json_decref(s);
}

static void h_page(struct kf_http_req *req, void *ud)
{
	json_t *s = status_doc(ud);
	struct kf_buf b = KF_BUF_INIT;

	kf_status_page_html(&b, s);
	kf_http_resp_header(req, "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
	kf_http_resp_header(req, "X-Content-Type-Options", "nosniff");
	kf_http_respond(req, 200, "text/html; charset=utf-8", b.buf, b.len);
	kf_buf_release(&b);
	json_decref(s);
}

/* ---- writer thread: status ConfigMap and Events ------------------------- */

static int send_one(struct kf_kube *k, const char *method, char *path, char *body,
		    const char *ctype, long *status, struct kf_err **err)
{
	struct kf_kube_req r, *rp = &r;
	int rc;

	kf_kube_req_init(&r, method, path);
	kf_kube_req_body(&r, body, strlen(body), ctype);
	rc = kf_kube_run(k, &rp, 1, err);
	*status = r.status;
	if (!rc && (r.err || r.status < 200 || r.status > 299))
		rc = kf_kube_req_error(err, &r);
	kf_kube_req_release(&r);
	return rc;
}

static void write_status(struct kf_live *l)
{
	json_t *s = status_doc(l), *cm;
	char *text = json_dumps(s, JSON_INDENT(1) | JSON_SORT_KEYS), *body;
	struct kf_err *e = NULL;
	long st = 0;

	json_decref(s);
	if (l->last_written && !strcmp(l->last_written, text)) {
		free(text);
		return;
	}
	cm = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
		       "metadata", "name", STATUS_NAME, "namespace", STATUS_NS,
		       "labels", "app.kubernetes.io/managed-by", "kfboot",
		       "data", "status.json", text);
	body = json_dumps(cm, JSON_COMPACT);
	json_decref(cm);
	if (send_one(l->k, "PATCH",
		     kf_xstrdup("/api/v1/namespaces/" STATUS_NS "/configmaps/" STATUS_NAME "?fieldManager=kfboot-status&force=true"),
		     body, "application/apply-patch+yaml", &st, &e)) {
		if (st == 404 && !l->warned_ns) {
			kf_warn("status: namespace %s does not exist; the status is not kept in the cluster", STATUS_NS);
			l->warned_ns = true;
		} else if (st != 404) {
			char *m = kf_err_str(e);

			kf_warn("status: %s", m);
			free(m);
		}
		kf_err_free(e);
		free(text);
		return;
	}
	free(l->last_written);
	l->last_written = text;
}

static void post_event(struct kf_live *l, json_t *ev)
{
	struct kf_err *e = NULL;
	const char *ns = json_string_value(json_object_get(json_object_get(ev, "involvedObject"), "namespace"));
	char *body = json_dumps(ev, JSON_COMPACT);
	long st = 0;

	if (send_one(l->k, "POST", kf_xasprintf("/api/v1/namespaces/%s/events", ns), body, "application/json", &st, &e)) {
		char *m = kf_err_str(e);

		kf_debug("event: %s", m);
		free(m);
		kf_err_free(e);
	}
}

static void *writer_main(void *arg)
{
	struct kf_live *l = arg;

	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		json_t *evs;
		bool dirty;

		if (!l->dirty && !json_array_size(l->events)) {
			pthread_cond_wait(&l->cv, &l->mu);
			continue;
		}
		evs = l->events;
		l->events = json_array();
		dirty = l->dirty;
		l->dirty = false;
		pthread_mutex_unlock(&l->mu);
		if (kf_reconciler_is_leader(l->r)) {
			size_t i;
			json_t *ev;

			json_array_foreach(evs, i, ev)
				post_event(l, ev);
			if (dirty)
				write_status(l);
		}
		json_decref(evs);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static void utc_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *make_event(struct kf_live *l, const struct kf_env_status *st, const char *reason_in)
{
	char *inv = kf_gitops_inventory(l->inventory_ns, st->env), *slash = strchr(inv, '/');
	const char *type = "Normal", *reason;
	char now[32], *msg, *gen;
	json_t *ev;

	*slash = '\0';
	switch (st->result) {
	case KF_SYNC_APPLIED:
		reason = !strcmp(reason_in, "drift") ? "DriftRepaired" : "Applied";
		msg = kf_xasprintf("commit %.12s applied (%s): %zu applied, %zu unchanged, %zu pruned; health %s",
				   st->commit, reason_in, st->applied, st->unchanged, st->pruned, kf_env_health_str(st->health));
		break;
	case KF_SYNC_INVALID:
		type = "Warning";
		reason = "InvalidCommit";
		msg = st->error_file ? kf_xasprintf("commit %.12s not applied: %s:%d:%d: %s", st->commit, st->error_file,
						    st->error_line, st->error_col, st->error ? st->error : "")
				     : kf_xasprintf("commit %.12s not applied: %s", st->commit, st->error ? st->error : "");
		break;
	default:
		type = "Warning";
		reason = "ReconcileFailed";
		msg = kf_xasprintf("commit %.12s: %s", st->commit, st->error ? st->error : "failed");
		break;
	}
	utc_now(now);
	gen = kf_xasprintf("%s.", slash + 1);
	ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:i, s:s, s:s}",
		       "apiVersion", "v1", "kind", "Event",
		       "metadata", "generateName", gen, "namespace", inv,
		       "involvedObject", "apiVersion", "v1", "kind", "Secret", "namespace", inv, "name", slash + 1,
		       "reason", reason, "message", msg, "type", type,
		       "source", "component", "kfboot-reconciler",
		       "firstTimestamp", now, "lastTimestamp", now, "count", 1,
		       "reportingComponent", "kfboot-reconciler", "reportingInstance", l->identity);
	free(gen);
	free(msg);
	free(inv);
	return ev;
}

/* ---- reconciler hooks (loop thread; must not block) ---------------------- */

static void on_reconcile(void *ctx, const struct kf_env_status *st, const char *reason)
{
	struct kf_live *l = ctx;
	bool noteworthy = st->result == KF_SYNC_INVALID || st->result == KF_SYNC_FAILED ||
			  (st->result == KF_SYNC_APPLIED && (st->applied || st->pruned));

	if (!l->k || !st->env)
		return;
	pthread_mutex_lock(&l->mu);
	l->dirty = true;
	if (noteworthy)
		json_array_append_new(l->events, make_event(l, st, reason));
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void on_applied(void *ctx, const char *env, struct kf_kube *k,
		       struct kf_discovery *d, const struct kf_objset *set)
{
	struct kf_live *l = ctx;
	struct kf_err *e = NULL;

	if (!l->drift || !kf_reconciler_is_leader(l->r))
		return;
	if (kf_drift_applied(l->drift, env, k, d, set, &e)) {
		char *m = kf_err_str(e);

		kf_warn("%s", m);
		free(m);
		kf_err_free(e);
	}
}

static void on_drift(void *ctx, const char *env, const char *key)
{
	struct kf_live *l = ctx;

	kf_gitops_metrics_drift(l->gm, env);
	kf_reconciler_enqueue_object(l->r, env, key);
}

/* ---- leadership ------------------------------------------------------------ */

/* In a pod: label it so the webhook Service selects the leader only. On the
 * lease thread, with the lease's own client. */
static void label_pod(struct kf_live *l, bool leading)
{
	struct kf_kube_req r, *rp = &r;
	char *body;

	if (!l->pod_name || !l->lease)
		return;
	body = leading ? kf_xasprintf("{\"metadata\":{\"labels\":{\"%s\":\"leader\"}}}", ROLE_LABEL)
		       : kf_xasprintf("{\"metadata\":{\"labels\":{\"%s\":null}}}", ROLE_LABEL);
	kf_kube_req_init(&r, "PATCH", kf_xasprintf("/api/v1/namespaces/%s/pods/%s", l->pod_ns, l->pod_name));
	kf_kube_req_body(&r, body, strlen(body), "application/merge-patch+json");
	if (kf_kube_run(kf_lease_client(l->lease), &rp, 1, NULL) || r.status / 100 != 2)
		kf_warn("lease: could not label pod %s/%s (HTTP %ld)", l->pod_ns, l->pod_name, r.status);
	kf_kube_req_release(&r);
}

static void on_lead(void *ctx, bool leading)
{
	struct kf_live *l = ctx;

	kf_reconciler_set_leader(l->r, leading);
	kf_gitops_metrics_leader(l->gm, leading);
	if (leading) {
		kf_reconciler_wake(l->r, KF_WAKE_SOURCE | KF_WAKE_RESYNC);
	} else if (l->drift) {
		kf_drift_stop(l->drift);
	}
	label_pod(l, leading);
}

/* ---- start / stop ---------------------------------------------------------- */

static int parse_listen(const char *s, char **host, unsigned *port, struct kf_err **err)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long p;

	if (!colon || colon == s)
		return kf_err_set(err, KF_EUSAGE, "--listen '%s': use ADDR:PORT (127.0.0.1:8080, [::]:8080)", s);
	p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 0 || p > 65535)
		return kf_err_set(err, KF_EUSAGE, "--listen '%s': bad port", s);
	if (s[0] == '[' && colon[-1] == ']')
		*host = kf_xstrndup(s + 1, (size_t)(colon - s - 2));
	else
		*host = kf_xstrndup(s, (size_t)(colon - s));
	*port = (unsigned)p;
	return 0;
}

int kf_live_start(struct kf_live **out, struct kf_reconciler *r,
		  const struct kf_live_opts *opts, struct kf_err **err)
{
	struct kf_live *l = kf_xcalloc(1, sizeof(*l));
	struct kf_reconciler_hooks h = { 0 };
	char host[256] = "kfboot", *secret = NULL;
	int rc = 0;

	*out = NULL;
	l->r = r;
	l->branch = kf_xstrdup(opts->branch ? opts->branch : "main");
	l->inventory_ns = kf_xstrdup(opts->inventory_ns ? opts->inventory_ns : "kube-system");
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->events = json_array();
	gethostname(host, sizeof(host) - 1);
	l->identity = opts->lease_identity ? kf_xstrdup(opts->lease_identity)
					   : kf_xasprintf("%s_%ld", host, (long)getpid());
	if (getenv("POD_NAME") && *getenv("POD_NAME") && getenv("POD_NAMESPACE")) {
		l->pod_name = kf_xstrdup(getenv("POD_NAME"));
		l->pod_ns = kf_xstrdup(getenv("POD_NAMESPACE"));
	}
	kf_metrics_new(&l->reg);
	rc = kf_gitops_metrics_new(&l->gm, l->reg, err);
	if (rc)
		goto out;
	kf_gitops_metrics_attach(l->gm, r);
	kf_gitops_metrics_leader(l->gm, !opts->elect);
	rc = kf_kfp_metrics_register(l->reg, &l->km, &l->kobs, err);
	if (rc)
		goto out;
	kf_reconciler_set_kfp_observer(r, &l->kobs);
	if (opts->webhook_secret_file) {
		rc = kf_webhook_secret_load(opts->webhook_secret_file, &secret, err);
		if (rc)
			goto out;
	}
	kf_webhook_new(&l->hooks, secret, l->branch);
	if (secret) {
		memset(secret, 0, strlen(secret));
		free(secret);
	}
	if (opts->drift)
		kf_drift_new(&l->drift, l->inventory_ns, on_drift, l);
	if (opts->cluster) {
		struct kf_kube_opts ko = { .max_inflight = 4, .max_conns = 2, .timeout = 10, .retry_window = 20 };

		rc = kf_kube_new(&l->k, opts->cluster, &ko, err);
		if (rc)
			goto out;
		kf_kube_set_observer(l->k, kf_gitops_metrics_kube_observer, l->gm);
	}
	h.ctx = l;
	h.on_reconcile = on_reconcile;
	h.on_applied = on_applied;
	kf_reconciler_add_hooks(r, &h);
	if (l->k) {
		if (pthread_create(&l->writer, NULL, writer_main, l)) {
			rc = kf_err_errno(err, "status writer thread");
			goto out;
		}
		l->writer_started = true;
	}
	if (opts->listen) {
		struct kf_http_opts ho = KF_HTTP_OPTS_INIT;
		char *bind = NULL;

		rc = parse_listen(opts->listen, &bind, &ho.port, err);
		if (rc)
			goto out;
		ho.bind = bind;
		ho.threads = 2;
		ho.body_max = (size_t)1 << 20;
		ho.timeout_s = 15;
		ho.conn_limit = 256;
		ho.metrics = l->reg;
		ho.metrics_prefix = "kfboot";
		rc = kf_http_server_new(&l->srv, &ho, err);
		free(bind);
		if (rc)
			goto out;
		kf_http_server_route(l->srv, "POST", "/hooks/github", KF_HTTP_EXACT, "github", h_github, l);
		kf_http_server_route(l->srv, "POST", "/hooks/gitlab", KF_HTTP_EXACT, "gitlab", h_gitlab, l);
		kf_http_server_route(l->srv, "POST", "/hooks/generic", KF_HTTP_EXACT, "generic", h_generic, l);
		kf_http_server_route(l->srv, "GET", "/metrics", KF_HTTP_EXACT, "metrics", h_metrics, l);
		kf_http_server_route(l->srv, "GET", "/healthz", KF_HTTP_EXACT, "healthz", h_healthz, l);
		kf_http_server_route(l->srv, "GET", "/readyz", KF_HTTP_EXACT, "readyz", h_readyz, l);
		kf_http_server_route(l->srv, "GET", "/status", KF_HTTP_EXACT, "status", h_status, l);
		kf_http_server_route(l->srv, "GET", "/", KF_HTTP_EXACT, "page", h_page, l);
		rc = kf_http_server_start(l->srv, err);
		if (rc) {
			kf_err_wrap(err, "--listen %s", opts->listen);
			goto out;
		}
		kf_info("listening on %s (port %u): webhooks, /metrics, /status", opts->listen, kf_http_server_port(l->srv));
		if (opts->port_file) {
			char p[16];

			snprintf(p, sizeof(p), "%u\n", kf_http_server_port(l->srv));
			rc = kf_file_write_atomic(opts->port_file, p, strlen(p), 0644, err);
			if (rc)
				goto out;
		}
	}
	if (opts->elect) {
		struct kf_lease_opts lo = { .ns = STATUS_NS, .name = "kfboot-reconciler", .identity = l->identity,
					    .lease_duration = opts->lease_duration,
					    .renew_deadline = opts->renew_deadline,
					    .retry_period = opts->retry_period };

		if (!opts->cluster) {
			rc = kf_err_set(err, KF_EUSAGE, "leader election needs a cluster");
			goto out;
		}
		kf_reconciler_set_leader(r, false);
		rc = kf_lease_new(&l->lease, opts->cluster, &lo, on_lead, l, err);
		if (!rc) {
			kf_kube_set_observer(kf_lease_client(l->lease), kf_gitops_metrics_kube_observer, l->gm);
			label_pod(l, false);
			rc = kf_lease_start(l->lease, err);
		}
		if (rc)
			goto out;
	}
out:
	if (rc) {
		kf_live_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

unsigned kf_live_port(const struct kf_live *l)
{
	return l && l->srv ? kf_http_server_port(l->srv) : 0;
}

void kf_live_free(struct kf_live *l)
{
	if (!l)
		return;
	/* Stop taking requests, then stop leading (release the lease) and
	 * watching, then the writer. */
	kf_http_server_free(l->srv);
	kf_lease_free(l->lease);
	kf_drift_free(l->drift);
	if (l->writer_started) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->writer, NULL);
	}
	kf_kube_free(l->k);
	kf_webhook_free(l->hooks);
	kf_gitops_metrics_free(l->gm);
	kf_metrics_free(l->reg);
	json_decref(l->events);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l->last_written);
	free(l->branch);
	free(l->inventory_ns);
	free(l->identity);
	free(l->pod_name);
	free(l->pod_ns);
	free(l);
}

/* ---- `kfboot reconcile status` --------------------------------------------- */

int kf_live_status_read(struct kf_kube *k, json_t **out, struct kf_err **err)
{
	json_t *cm = NULL;
	const char *text;
	json_error_t je;
	int rc;

	*out = NULL;
	rc = kf_kube_get_json(k, "/api/v1/namespaces/" STATUS_NS "/configmaps/" STATUS_NAME, true, &cm, err);
	if (rc)
		return kf_err_wrap(err, "reading %s/%s", STATUS_NS, STATUS_NAME);
	if (!cm)
		return kf_err_set(err, KF_ENOENT, "no reconciler status in this cluster (ConfigMap %s/%s not found): is `kfboot reconcile` running here?",
				  STATUS_NS, STATUS_NAME);
	text = json_string_value(json_object_get(json_object_get(cm, "data"), "status.json"));
	*out = text ? json_loads(text, 0, &je) : NULL;
	json_decref(cm);
	if (!*out)
		return kf_err_set(err, KF_EIO, "ConfigMap %s/%s: status.json is missing or not JSON", STATUS_NS, STATUS_NAME);
	return 0;
}

void kf_live_status_text(struct kf_buf *out, const json_t *status)
{
	const json_t *envs = json_object_get(status, "environments"), *e;
	const char *ferr = json_string_value(json_object_get(status, "lastFetchError"));
	size_t i;
	json_int_t ho;

	kf_buf_addf(out, "repository %s  branch %s  head %.12s  %s%s\n",
		    json_string_value(json_object_get(status, "repository")) ?: "?",
		    json_string_value(json_object_get(status, "branch")) ?: "?",
		    json_string_value(json_object_get(status, "head")) ?: "",
		    json_string_value(json_object_get(status, "holder")) ? "leader " : "",
		    json_string_value(json_object_get(status, "holder")) ?: "");
	if (ferr)
		kf_buf_addf(out, "git: %s\n", ferr);
	kf_buf_addf(out, "%-14s %-12s %-10s %-12s %-20s %s\n", "ENVIRONMENT", "COMMIT", "RESULT", "HEALTH", "LAST CHANGE", "ERROR");
	json_array_foreach(envs, i, e) {
		const json_t *err = json_object_get(e, "error");
		char where[512] = "";

		if (json_is_object(err)) {
			const char *f = json_string_value(json_object_get(err, "file"));

			if (f)
				snprintf(where, sizeof(where), "%s:%lld:%lld: ", f,
					 (long long)json_integer_value(json_object_get(err, "line")),
					 (long long)json_integer_value(json_object_get(err, "column")));
		}
		kf_buf_addf(out, "%-14s %-12.12s %-10s %-12s %-20s %s%s\n",
			    json_string_value(json_object_get(e, "name")) ?: "",
			    json_string_value(json_object_get(e, "appliedCommit")) ?: "",
			    json_string_value(json_object_get(e, "result")) ?: "",
			    json_string_value(json_object_get(e, "health")) ?: "",
			    json_string_value(json_object_get(e, "lastChange")) ?: "",
			    where, json_is_object(err) ? json_string_value(json_object_get(err, "message")) ?: "" : "");
		ho = json_integer_value(json_object_get(json_object_get(e, "objects"), "handsOff"));
		if (ho > 0)
			kf_buf_addf(out, "%-14s %lld object(s) left alone (kfboot.io/reconcile: disabled)\n", "",
				    (long long)ho);
	}
}
