/*
 * lease.c - leader election over a coordination.k8s.io/v1 Lease, with the
 * rules of client-go's leaderelection package, so several replicas of the
 * reconciler can run and exactly one of them writes.
 *
 * Every retry period each process reads the Lease and tries to acquire or
 * renew it:
 *  - absent: create it with itself as holder (a 409 means another won);
 *  - held by someone else whose record has not changed for the lease
 *    duration: take it over (holder, acquireTime, leaseTransitions + 1);
 *    "has not changed" is measured on this process's monotonic clock from
 *    when it last saw the record change, never by comparing the holder's
 *    timestamps with our clock (no trust in clock skew);
 *  - held by itself: renew (renewTime).
 * Writes are PUTs carrying the resourceVersion that was read: when two
 * candidates race, the apiserver answers one of them 409 Conflict. A holder
 * that could not renew for the renew deadline stops leading (and says so
 * through the callback) before its lease can expire for the others. On
 * shutdown a holder releases the lease (holderIdentity cleared, duration
 * 1 s), as client-go's ReleaseOnCancel does, so a standby takes over at its
 * next retry instead of waiting out the lease. The thread uses its own kube
 * client, so it never waits behind a long apply.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "kube.h"

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

struct kf_lease {
	struct kf_kube *k;
	char *ns, *name, *identity;
	double lease_duration, renew_deadline, retry_period;
	kf_lease_fn fn;
	void *ctx;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;         /* under mu */
	bool leading;      /* under mu */
	char *holder;      /* under mu: holder as last seen */
	/* thread-only state */
	char *record;      /* the spec as last seen, to notice changes */
	double observed;   /* monotonic time the record last changed */
	double last_renew; /* monotonic time of our last successful renew */
	json_t *last;      /* the Lease as last read or written */
};

static void micro_time(char out[40])
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%s.%06uZ", base, (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

int kf_lease_new(struct kf_lease **out, const struct kf_kube_config *cfg,
		 const struct kf_lease_opts *opts, kf_lease_fn fn, void *ctx,
		 struct kf_err **err)
{
	struct kf_lease *l;
	struct kf_kube_opts ko = { .max_inflight = 2, .max_conns = 1, .http1 = true,
				   .timeout = 5, .connect_timeout = 3,
				   .max_attempts = 2, .retry_window = 4 };
	char host[256] = "kfboot";
	int rc;

	*out = NULL;
	l = kf_xcalloc(1, sizeof(*l));
	rc = kf_kube_new(&l->k, cfg, &ko, err);
	if (rc) {
		free(l);
		return kf_err_wrap(err, "lease");
	}
	gethostname(host, sizeof(host) - 1);
	l->ns = kf_xstrdup(opts && opts->ns ? opts->ns : "kfboot-system");
	l->name = kf_xstrdup(opts && opts->name ? opts->name : "kfboot-reconciler");
	l->identity = opts && opts->identity ? kf_xstrdup(opts->identity)
					     : kf_xasprintf("%s_%ld", host, (long)getpid());
	l->lease_duration = opts && opts->lease_duration > 0 ? opts->lease_duration : 15;
	l->renew_deadline = opts && opts->renew_deadline > 0 ? opts->renew_deadline : 10;
	l->retry_period = opts && opts->retry_period > 0 ? opts->retry_period : 2;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	if (l->renew_deadline >= l->lease_duration || l->retry_period >= l->renew_deadline) {
		kf_lease_free(l);
		return kf_err_set(err, KF_EINVAL, "lease: need retry period < renew deadline < lease duration");
	}
	l->fn = fn;
	l->ctx = ctx;
	*out = l;
	return 0;
}

struct kf_kube *kf_lease_client(struct kf_lease *l)
{
	return l->k;
}

bool kf_lease_leading(struct kf_lease *l)
{
	bool v;

	pthread_mutex_lock(&l->mu);
	v = l->leading;
	pthread_mutex_unlock(&l->mu);
	return v;
}

char *kf_lease_holder(struct kf_lease *l)
{
	char *h;

	pthread_mutex_lock(&l->mu);
	h = l->holder ? kf_xstrdup(l->holder) : NULL;
	pthread_mutex_unlock(&l->mu);
	return h;
}

static char *lease_path(const struct kf_lease *l, bool item)
{
	return item ? kf_xasprintf("/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", l->ns, l->name)
		    : kf_xasprintf("/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->ns);
}

/* Send obj (POST to the collection or PUT to the item). 0, KF_ECONFLICT
 * (lost a race), or another error. On success l->last is the answer. */
static int lease_write(struct kf_lease *l, json_t *obj, bool create, struct kf_err **err)
{
	struct kf_kube_req r, *rp = &r;
	char *body = json_dumps(obj, JSON_COMPACT);
	int rc;

	kf_kube_req_init(&r, create ? "POST" : "PUT", lease_path(l, !create));
	kf_kube_req_body(&r, body, strlen(body), "application/json");
	r.no_retry = true;
	rc = kf_kube_run(l->k, &rp, 1, err);
	if (rc)
		goto out;
	if (r.err || r.status < 200 || r.status > 299) {
		rc = kf_kube_req_error(err, &r);
		if (r.status == 409)
			rc = KF_ECONFLICT;
		goto out;
	}
	json_decref(l->last);
	l->last = json_loadb(r.resp.buf, r.resp.len, 0, NULL);
out:
	kf_kube_req_release(&r);
	return rc;
}

static void set_holder(struct kf_lease *l, const char *h)
{
	pthread_mutex_lock(&l->mu);
	free(l->holder);
	l->holder = h && *h ? kf_xstrdup(h) : NULL;
	pthread_mutex_unlock(&l->mu);
}

/* client-go's tryAcquireOrRenew. 0 when we hold the lease afterwards. */
static int try_acquire_or_renew(struct kf_lease *l, struct kf_err **err)
{
	char now_s[40], *path = lease_path(l, true), *rec;
	json_t *cur = NULL, *spec, *obj = NULL;
	const char *holder;
	double now = kf_now(), dur;
	json_int_t transitions;
	int rc;

	micro_time(now_s);
	rc = kf_kube_get_json(l->k, path, true, &cur, err);
	free(path);
	if (rc)
		return rc;
	if (!cur) {
		obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:i, s:s, s:s, s:i}}",
				"apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
				"metadata", "name", l->name, "namespace", l->ns,
				"spec", "holderIdentity", l->identity,
				"leaseDurationSeconds", (int)(l->lease_duration + 0.5),
				"acquireTime", now_s, "renewTime", now_s, "leaseTransitions", 0);
		rc = lease_write(l, obj, true, err);
		json_decref(obj);
		if (!rc) {
			l->observed = now;
			set_holder(l, l->identity);
		}
		return rc;
	}
	spec = json_object_get(cur, "spec");
	if (!spec) {
		spec = json_object();
		json_object_set_new(cur, "spec", spec);
	}
	holder = json_string_value(json_object_get(spec, "holderIdentity"));
	dur = (double)json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	if (dur <= 0)
		dur = l->lease_duration;
	rec = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
	if (!l->record || strcmp(rec, l->record)) {
		free(l->record);
		l->record = rec;
		l->observed = now;
	} else {
		free(rec);
	}
	set_holder(l, holder);
	if (holder && *holder && strcmp(holder, l->identity) && l->observed + dur > now) {
		json_decref(cur);
		return kf_err_set(err, KF_ECONFLICT, "lease %s/%s is held by %s", l->ns, l->name, holder);
	}
	/* Ours to take or renew: keep metadata (resourceVersion) as read. */
	transitions = json_integer_value(json_object_get(spec, "leaseTransitions"));
	if (!holder || strcmp(holder, l->identity)) {
		json_object_set_new(spec, "acquireTime", json_string(now_s));
		json_object_set_new(spec, "leaseTransitions", json_integer(transitions + (holder && *holder ? 1 : 0)));
	}
	json_object_set_new(spec, "holderIdentity", json_string(l->identity));
	json_object_set_new(spec, "leaseDurationSeconds", json_integer((json_int_t)(l->lease_duration + 0.5)));
	json_object_set_new(spec, "renewTime", json_string(now_s));
	rc = lease_write(l, cur, false, err);
	json_decref(cur);
	if (!rc) {
		free(l->record);
		l->record = json_dumps(json_object_get(l->last, "spec"), JSON_COMPACT | JSON_SORT_KEYS);
		l->observed = now;
		set_holder(l, l->identity);
	}
	return rc;
}

static void set_leading(struct kf_lease *l, bool v)
{
	pthread_mutex_lock(&l->mu);
	if (l->leading == v) {
		pthread_mutex_unlock(&l->mu);
		return;
	}
	l->leading = v;
	pthread_mutex_unlock(&l->mu);
	kf_info("lease %s/%s: %s (%s)", l->ns, l->name, v ? "leading" : "stopped leading", l->identity);
	if (l->fn)
		l->fn(l->ctx, v);
}

/* Wait up to `secs`; true when asked to stop. */
static bool wait_stop(struct kf_lease *l, double secs)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)secs;
	ts.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->mu);
	while (!l->stop)
		if (pthread_cond_timedwait(&l->cv, &l->mu, &ts))
			break;
	stop = l->stop;
	pthread_mutex_unlock(&l->mu);
	return stop;
}

static void *lease_main(void *arg)
{
	struct kf_lease *l = arg;
	char *last_msg = NULL;

	for (;;) {
		struct kf_err *e = NULL;
		int rc = try_acquire_or_renew(l, &e);
		double now = kf_now(), next;
		bool leading = kf_lease_leading(l);

		if (!rc) {
			l->last_renew = now;
			set_leading(l, true);
		} else if (leading) {
			char *h = kf_lease_holder(l);

			/* Someone else holds it now, or we could not renew in time. */
			if ((h && strcmp(h, l->identity)) || now - l->last_renew > l->renew_deadline)
				set_leading(l, false);
			free(h);
		}
		if (rc && rc != KF_ECONFLICT) {
			char *m = kf_err_str(e);

			if (!last_msg || strcmp(m, last_msg))
				kf_warn("lease %s/%s: %s", l->ns, l->name, m);
			free(last_msg);
			last_msg = m;
		}
		kf_err_free(e);
		/* The holder renews every retry period. A candidate retries with
		 * client-go's jitter (x1.2), but no later than the moment the
		 * current record would expire. */
		next = l->retry_period;
		if (!kf_lease_leading(l)) {
			double expiry = l->observed + l->lease_duration - kf_now();

			next *= 1.0 + 0.2 * ((double)rand() / RAND_MAX);
			if (expiry > 0.01 && expiry < next)
				next = expiry + 0.01;
		}
		if (wait_stop(l, next))
			break;
	}
	free(last_msg);
	return NULL;
}

int kf_lease_start(struct kf_lease *l, struct kf_err **err)
{
	if (pthread_create(&l->thread, NULL, lease_main, l))
		return kf_err_errno(err, "lease: starting a thread");
	l->started = true;
	return 0;
}

/*
 * One PUT outside kf_kube_run: the release happens during shutdown, after
 * SIGTERM set the interrupt flag that makes kf_kube_run refuse new work.
 */
static int put_now(struct kf_lease *l, json_t *obj, struct kf_err **err)
{
	struct curl_slist *hdrs = NULL;
	char *path = lease_path(l, true), *body = json_dumps(obj, JSON_COMPACT);
	CURL *e = kf_kube_easy_new(l->k, path, &hdrs);
	CURLcode res;
	long st = 0;
	int rc = 0;

	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	res = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
	if (res != CURLE_OK)
		rc = kf_err_set(err, KF_EIO, "PUT %s: %s", path, curl_easy_strerror(res));
	else if (st < 200 || st > 299)
		rc = kf_err_set(err, st == 409 ? KF_ECONFLICT : KF_ERR, "PUT %s: HTTP %ld", path, st);
	curl_easy_cleanup(e);
	kf_kube_hdrs_free(hdrs);
	free(body);
	free(path);
	return rc;
}

/* Give the lease up: clear the holder so a standby need not wait it out. */
static void release(struct kf_lease *l)
{
	json_t *spec;
	char now_s[40];
	struct kf_err *e = NULL;

	if (!l->last)
		return;
	spec = json_object_get(l->last, "spec");
	if (!spec || strcmp(json_string_value(json_object_get(spec, "holderIdentity")) ?: "", l->identity))
		return;
	micro_time(now_s);
	json_object_set_new(spec, "holderIdentity", json_string(""));
	json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
	json_object_set_new(spec, "renewTime", json_string(now_s));
	json_object_set_new(spec, "acquireTime", json_string(now_s));
	if (put_now(l, l->last, &e)) {
		char *m = kf_err_str(e);

		kf_warn("lease %s/%s: release failed: %s", l->ns, l->name, m);
		free(m);
		kf_err_free(e);
	} else {
		kf_info("lease %s/%s: released", l->ns, l->name);
	}
}

void kf_lease_free(struct kf_lease *l)
{
	if (!l)
		return;
	if (l->started) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
		if (kf_lease_leading(l)) {
			/* Stop writing first, then let the others in. */
			set_leading(l, false);
			release(l);
		}
	}
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	json_decref(l->last);
	kf_kube_free(l->k);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l->holder);
	free(l->record);
	free(l);
}
