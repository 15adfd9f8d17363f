/*
 * watch.c - label-selected WATCH streams that survive everything a long-lived
 * process meets: server-side timeouts, dropped connections, compacted history.
 *
 * One thread owns a curl multi handle with one streaming GET per kind
 * (`?watch=1&allowWatchBookmarks=true&labelSelector=...&resourceVersion=RV`),
 * as client-go's reflector does: a stream starts with a paged LIST (every
 * object handed to the callback as KF_WATCH_LISTED, then KF_WATCH_SYNCED)
 * and watches from the list's resourceVersion; every event and BOOKMARK
 * moves the stream's resourceVersion on, so a stream the server closes
 * (timeoutSeconds, jittered) resumes exactly where it stopped; a 410 Gone,
 * as an HTTP status or as an ERROR event, re-lists; a failed connection is
 * retried with exponential backoff and jitter. A 410 is logged once (info);
 * a 410 again right after the re-list (a server whose history is shorter
 * than a LIST takes) is re-listed with backoff, never in a tight loop.
 * KFBOOT_WATCH_TIMEOUT (seconds) sets the base of timeoutSeconds for every
 * watch set of the process (default 300). The event stream is one JSON
 * object per line, read into a capped buffer. Nothing here decides what an
 * event means: the caller's callback does (drift.c).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "kube.h"

#define WATCH_LINE_CAP ((size_t)32 << 20) /* one event: a big CR fits */

struct stream {
	struct kf_watch *w;
	struct kf_rest rest;  /* own copies of the strings */
	char *ns;             /* NULL: all namespaces */
	char *rv;             /* where to resume; NULL: LIST first */
	CURL *easy;           /* while running */
	struct curl_slist *hdrs;
	struct kf_buf line;   /* partial event line */
	struct kf_backoff bo;
	double next_start;
	bool need_list, gone, bad_status;
	unsigned gone_streak; /* 410s since the stream last delivered an event */
	char *gone_msg;       /* the 410's message, for the log */
	long status;
	struct kf_buf errbody; /* body of a non-200 answer (capped) */
};

struct kf_watch {
	struct kf_kube *k;      /* LISTs, and the TLS settings of the streams */
	char *selector;         /* label selector, escaped for a query */
	kf_watch_fn fn;
	void *ctx;
	struct stream *s;
	size_t n, alloc;
	unsigned timeout;       /* timeoutSeconds base */
	CURLM *multi;
	pthread_t thread;
	bool started;
	volatile int stop;
	pthread_mutex_t mu;     /* guards stats */
	struct kf_watch_stats stats;
};

static void stat_inc(struct kf_watch *w, unsigned long *field)
{
	pthread_mutex_lock(&w->mu);
	(*field)++;
	pthread_mutex_unlock(&w->mu);
}

int kf_watch_new(struct kf_watch **out, const struct kf_kube_config *cfg,
		 const char *selector, kf_watch_fn fn, void *ctx,
		 struct kf_err **err)
{
	struct kf_watch *w;
	struct kf_kube_opts ko = { .max_inflight = 4, .max_conns = 2, .http1 = true };
	int rc;

	*out = NULL;
	w = kf_xcalloc(1, sizeof(*w));
	rc = kf_kube_new(&w->k, cfg, &ko, err);
	if (rc) {
		free(w);
		return kf_err_wrap(err, "watch");
	}
	w->selector = selector && *selector ? kf_url_escape(selector) : NULL;
	w->fn = fn;
	w->ctx = ctx;
	w->timeout = 300;
	{
		const char *t = getenv("KFBOOT_WATCH_TIMEOUT");
		char *end = NULL;
		long v = t ? strtol(t, &end, 10) : 0;

		if (t && end && !*end && v > 0 && v <= 86400)
			w->timeout = (unsigned)v;
		else if (t && *t)
			kf_warn("KFBOOT_WATCH_TIMEOUT='%s' is not a number of seconds (1-86400); using %u", t, w->timeout);
	}
	pthread_mutex_init(&w->mu, NULL);
	w->multi = curl_multi_init();
	if (!w->multi)
		abort();
	*out = w;
	return 0;
}

void kf_watch_add(struct kf_watch *w, const struct kf_rest *rest, const char *ns)
{
	struct stream *s;

	kf_xgrow((void **)&w->s, &w->alloc, w->n + 1, sizeof(*w->s));
	s = &w->s[w->n++];
	memset(s, 0, sizeof(*s));
	s->w = w;
	s->rest.group = kf_xstrdup(rest->group ? rest->group : "");
	s->rest.version = kf_xstrdup(rest->version);
	s->rest.kind = kf_xstrdup(rest->kind);
	s->rest.resource = kf_xstrdup(rest->resource);
	s->rest.namespaced = rest->namespaced;
	s->ns = ns && rest->namespaced ? kf_xstrdup(ns) : NULL;
	s->need_list = true;
	s->bo = (struct kf_backoff)KF_BACKOFF_INIT(0.5, 30.0);
	kf_buf_init(&s->line, 0);
	s->line.cap = WATCH_LINE_CAP;
	kf_buf_init(&s->errbody, 0);
	s->errbody.cap = 64 << 10;
}

void kf_watch_set_timeout(struct kf_watch *w, unsigned seconds)
{
	w->timeout = seconds ? seconds : 300;
}

struct kf_kube *kf_watch_client(struct kf_watch *w)
{
	return w->k;
}

void kf_watch_get_stats(struct kf_watch *w, struct kf_watch_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->stats;
	pthread_mutex_unlock(&w->mu);
}

static void set_rv(struct stream *s, const json_t *obj)
{
	const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

	if (rv && *rv) {
		free(s->rv);
		s->rv = kf_xstrdup(rv);
	}
}

/* One line of the event stream. Returns false to abort the stream. */
static bool on_event(struct stream *s, const char *line, size_t len)
{
	struct kf_watch *w = s->w;
	json_error_t je;
	json_t *ev = json_loadb(line, len, 0, &je);
	const char *type;
	json_t *obj;
	bool ok = true;

	if (!ev) {
		kf_warn("watch %s: event is not JSON: %s", s->rest.resource, je.text);
		return false;
	}
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		ok = false;
	} else if (!strcmp(type, "BOOKMARK")) {
		set_rv(s, obj);
		s->gone_streak = 0;
		stat_inc(w, &w->stats.bookmarks);
	} else if (!strcmp(type, "ERROR")) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));

		if (code == 410) {
			const char *m = json_string_value(json_object_get(obj, "message"));

			s->gone = true;
			free(s->gone_msg);
			s->gone_msg = m ? kf_xstrdup(m) : NULL;
			stat_inc(w, &w->stats.gone);
		} else {
			kf_warn("watch %s: error event %lld: %s", s->rest.resource, (long long)code,
				json_string_value(json_object_get(obj, "message")) ?: "");
		}
		ok = false;
	} else {
		struct kf_watch_event e = { KF_WATCH_MODIFIED, &s->rest, obj };

		if (!strcmp(type, "ADDED"))
			e.type = KF_WATCH_ADDED;
		else if (!strcmp(type, "DELETED"))
			e.type = KF_WATCH_DELETED;
		set_rv(s, obj);
		s->gone_streak = 0;
		stat_inc(w, &w->stats.events);
		w->fn(w->ctx, &e);
	}
	json_decref(ev);
	return ok;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct stream *s = ud;
	size_t n = size * nmemb;
	char *nl;

	if (!s->status)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200) {
		s->bad_status = true;
		kf_buf_add(&s->errbody, ptr, n); /* capped: the rest is dropped */
		return n;
	}
	if (kf_buf_add(&s->line, ptr, n) < 0) {
		kf_warn("watch %s: event larger than %zu bytes", s->rest.resource, WATCH_LINE_CAP);
		return 0;
	}
	while ((nl = memchr(s->line.buf, '\n', s->line.len))) {
		size_t l = (size_t)(nl - s->line.buf);
		bool ok = l == 0 || on_event(s, s->line.buf, l);

		memmove(s->line.buf, nl + 1, s->line.len - l - 1);
		kf_buf_setlen(&s->line, s->line.len - l - 1);
		if (!ok)
			return 0;
	}
	return n;
}

static char *collection(const struct stream *s)
{
	return kf_rest_path(&s->rest, s->ns, NULL);
}

/* LIST the kind (paged), hand every object over, resume from the list's RV. */
static int relist(struct stream *s, struct kf_err **err)
{
	struct kf_watch *w = s->w;
	char *base = collection(s), *cont = NULL;
	int rc = 0;

	stat_inc(w, &w->stats.relists);
	do {
		struct kf_buf p = KF_BUF_INIT;
		json_t *list = NULL, *items, *it;
		const char *next;
		size_t i;

		kf_buf_addf(&p, "%s?limit=500", base);
		if (w->selector)
			kf_buf_addf(&p, "&labelSelector=%s", w->selector);
		if (cont) {
			char *e = kf_url_escape(cont);

			kf_buf_addf(&p, "&continue=%s", e);
			free(e);
		}
		rc = kf_kube_get_json(w->k, p.buf, false, &list, err);
		kf_buf_release(&p);
		if (rc)
			break;
		items = json_object_get(list, "items");
		json_array_foreach(items, i, it) {
			struct kf_watch_event e = { KF_WATCH_LISTED, &s->rest, it };

			/* Items of a List carry no apiVersion/kind: give them theirs. */
			if (!json_object_get(it, "kind"))
				json_object_set_new(it, "kind", json_string(s->rest.kind));
			if (!json_object_get(it, "apiVersion"))
				json_object_set_new(it, "apiVersion", *s->rest.group ?
						    json_sprintf("%s/%s", s->rest.group, s->rest.version) :
						    json_string(s->rest.version));

			w->fn(w->ctx, &e);
		}
		free(cont);
		cont = NULL;
		next = json_string_value(json_object_get(json_object_get(list, "metadata"), "continue"));
		if (next && *next)
			cont = kf_xstrdup(next);
		else
			set_rv(s, list);
		json_decref(list);
	} while (cont && !w->stop);
	free(cont);
	free(base);
	if (!rc) {
		struct kf_watch_event e = { KF_WATCH_SYNCED, &s->rest, NULL };

		w->fn(w->ctx, &e);
		s->need_list = false;
	}
	return rc;
}

static void stream_stop(struct stream *s)
{
	if (!s->easy)
		return;
	curl_multi_remove_handle(s->w->multi, s->easy);
	curl_easy_cleanup(s->easy);
	kf_kube_hdrs_free(s->hdrs);
	s->easy = NULL;
	s->hdrs = NULL;
}

static void stream_start(struct stream *s)
{
	struct kf_watch *w = s->w;
	struct kf_buf p = KF_BUF_INIT;
	char *base = collection(s);
	/* client-go: timeout in [min, 2*min) so streams do not reconnect in step */
	unsigned t = w->timeout + (unsigned)(rand() % (int)(w->timeout ? w->timeout : 1));

	kf_buf_addf(&p, "%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%u", base, t);
	if (w->selector)
		kf_buf_addf(&p, "&labelSelector=%s", w->selector);
	if (s->rv)
		kf_buf_addf(&p, "&resourceVersion=%s", s->rv);
	free(base);
	s->easy = kf_kube_easy_new(w->k, p.buf, &s->hdrs);
	kf_trace("kube", "GET %s (watch)", p.buf);
	kf_buf_release(&p);
	kf_buf_reset(&s->line);
	kf_buf_reset(&s->errbody);
	s->status = 0;
	s->gone = s->bad_status = false;
	curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	/* A stream that hears nothing (not even a bookmark) for this long is
	 * dead even if TCP does not know it yet. */
	curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_TIME, (long)(2 * t + 60));
	curl_multi_add_handle(w->multi, s->easy);
	stat_inc(w, &w->stats.connects);
}

/* A stream ended: decide how it resumes. */
static void stream_done(struct stream *s, CURLcode res)
{
	struct kf_watch *w = s->w;
	long st = 0;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &st);
	if (st == 410 || s->gone) {
		/* The server no longer has the history from our resourceVersion
		 * on (compacted): what happened since can only be learnt by a
		 * new LIST. Said once per expiry, not per retry. */
		if (st == 410)
			stat_inc(w, &w->stats.gone);
		s->need_list = true;
		if (s->gone_streak++ == 0) {
			kf_info("watch %s: resourceVersion %s expired (410 Gone%s%s); re-listing", s->rest.resource,
				s->rv ? s->rv : "", s->gone_msg ? ": " : "", s->gone_msg ? s->gone_msg : "");
			s->next_start = kf_now();
		} else {
			double d = kf_backoff_next(&s->bo);

			kf_debug("watch %s: 410 Gone again right after a re-list; re-listing in %.1fs", s->rest.resource, d);
			s->next_start = kf_now() + d;
		}
	} else if (res == CURLE_OK && st == 200) {
		/* timeoutSeconds ran out: resume at once */
		s->bo.attempt = 0;
		s->gone_streak = 0;
		s->next_start = kf_now();
	} else {
		double d = kf_backoff_next(&s->bo);

		stat_inc(w, &w->stats.errors);
		if (st && st != 200)
			kf_warn("watch %s: HTTP %ld: %.200s; retrying in %.1fs", s->rest.resource, st, s->errbody.buf, d);
		else
			kf_debug("watch %s: %s; retrying in %.1fs", s->rest.resource, curl_easy_strerror(res), d);
		s->next_start = kf_now() + d;
	}
	stream_stop(s);
}

static void *watch_main(void *arg)
{
	struct kf_watch *w = arg;

	while (!w->stop) {
		double now = kf_now(), wake = now + 1.0;
		int running = 0, msgs, ms;
		CURLMsg *m;

		for (size_t i = 0; i < w->n && !w->stop; i++) {
			struct stream *s = &w->s[i];

			if (s->easy)
				continue;
			if (s->next_start > now) {
				if (s->next_start < wake)
					wake = s->next_start;
				continue;
			}
			if (s->need_list) {
				struct kf_err *e = NULL;

				if (relist(s, &e)) {
					double d = kf_backoff_next(&s->bo);
					char *msg = kf_err_str(e);

					kf_warn("watch %s: list failed: %s; retrying in %.1fs", s->rest.resource, msg, d);
					free(msg);
					kf_err_free(e);
					stat_inc(w, &w->stats.errors);
					s->next_start = kf_now() + d;
					continue;
				}
			}
			stream_start(s);
		}
		curl_multi_perform(w->multi, &running);
		while ((m = curl_multi_info_read(w->multi, &msgs))) {
			struct stream *s = NULL;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			stream_done(s, m->data.result);
		}
		ms = (int)((wake - kf_now()) * 1000);
		if (ms < 0)
			ms = 0;
		curl_multi_poll(w->multi, NULL, 0, ms > 1000 ? 1000 : ms, NULL);
	}
	return NULL;
}

int kf_watch_start(struct kf_watch *w, struct kf_err **err)
{
	sigset_t block, old;
	int rc;

	/* SIGINT, SIGTERM and SIGALRM are for the thread that owns the
	 * process (a long-running command waits for them in poll()): the
	 * stream thread never takes them. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&w->thread, NULL, watch_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		errno = rc;
		return kf_err_errno(err, "watch: starting a thread");
	}
	w->started = true;
	return 0;
}

void kf_watch_free(struct kf_watch *w)
{
	if (!w)
		return;
	if (w->started) {
		w->stop = 1;
		curl_multi_wakeup(w->multi);
		pthread_join(w->thread, NULL);
	}
	for (size_t i = 0; i < w->n; i++) {
		struct stream *s = &w->s[i];

		stream_stop(s);
		free(s->rest.group);
		free(s->rest.version);
		free(s->rest.kind);
		free(s->rest.resource);
		free(s->ns);
		free(s->rv);
		free(s->gone_msg);
		kf_buf_release(&s->line);
		kf_buf_release(&s->errbody);
	}
	free(w->s);
	curl_multi_cleanup(w->multi);
	kf_kube_free(w->k);
	free(w->selector);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
