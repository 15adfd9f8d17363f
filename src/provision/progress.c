/*
 * progress.c - shows a run's events to a person. On a terminal: a live view
 * redrawn in place ten times a second, one line per host with its phase,
 * what it is doing, how long it has been at it and, on waits, a progress
 * bar. Elsewhere (a pipe, a CI log): plain lines, one per finished step,
 * "[12.3s] w2: join workers: done". The caller picks the stream; kfboot's
 * CLI passes stderr so that stdout stays for results.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provision/internal.h"

struct hstate {
	const char *name;
	const char *phase; /* title, borrowed from the static phase table */
	char *msg;
	double since;      /* elapsed at phase start */
	double progress;
	enum kf_result res;
	bool running;
};

struct kf_progress {
	FILE *f;
	bool live, color, quiet;
	struct hstate *h;
	size_t n;
	const char *phase;
	double phase_t0; /* elapsed when the current phase started */
	double elapsed;
	double t0;
	size_t drawn;   /* lines of the last frame */
	pthread_t ticker;
	bool ticking, stop;
	pthread_mutex_t lock;
	double last_wait_line;
	unsigned frame;
	struct kf_buf warnings; /* live view: printed after the last frame */
};

static struct hstate *find(struct kf_progress *p, const char *name)
{
	for (size_t i = 0; name && i < p->n; i++)
		if (!strcmp(p->h[i].name, name))
			return &p->h[i];
	return NULL;
}

static const char *res_word(enum kf_result r, const char *msg)
{
	if (msg && *msg)
		return msg;
	switch (r) {
	case KF_RES_CHANGED:
		return "done";
	case KF_RES_UNCHANGED:
		return "no change";
	case KF_RES_FAILED:
		return "failed";
	case KF_RES_NONE:
		break;
	}
	return "skipped";
}

/* Copy at most max bytes of s's first line into out, ending in "…" when cut,
 * never in the middle of a UTF-8 sequence. */
static const char *clip(const char *s, size_t max, char *out, size_t outsz)
{
	size_t n = strcspn(s, "\n");

	if (n <= max && n < outsz) {
		memcpy(out, s, n);
		out[n] = '\0';
		return out;
	}
	n = max < outsz - 4 ? max : outsz - 4;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	memcpy(out, s, n);
	memcpy(out + n, "…", sizeof("…"));
	return out;
}

static void draw(struct kf_progress *p)
{
	static const char *const spin[] = { "⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏" };
	double now = kf_now() - p->t0;
	const char *B = p->color ? "\033[1m" : "", *D = p->color ? "\033[2m" : "";
	const char *G = p->color ? "\033[32m" : "", *R = p->color ? "\033[31m" : "";
	const char *Z = p->color ? "\033[0m" : "";
	char tb[32];

	if (p->drawn)
		fprintf(p->f, "\033[%zuA", p->drawn);
	if (p->elapsed > 0)
		now = p->elapsed;
	fprintf(p->f, "\r\033[2K%s%s%s %s%s%s\n", B, p->phase ? p->phase : "starting", Z, D,
		kf_duration_fmt(now, tb), Z);
	for (size_t i = 0; i < p->n; i++) {
		struct hstate *h = &p->h[i];
		const char *icon = " ";
		struct kf_buf bar = KF_BUF_INIT;
		char msg[96];

		if (h->running)
			icon = spin[p->frame % KF_ARRAY_SIZE(spin)];
		else if (h->res == KF_RES_FAILED)
			icon = "✗";
		else if (h->res == KF_RES_CHANGED || h->res == KF_RES_UNCHANGED)
			icon = "✓";
		if (h->progress >= 0 && h->running) {
			int filled = (int)(h->progress * 10 + 0.5);

			for (int k = 0; k < 10; k++)
				kf_buf_adds(&bar, k < filled ? "█" : "░");
			kf_buf_addch(&bar, ' ');
		}
		fprintf(p->f, "\r\033[2K  %s%s%s %-12s %-20s %s%s%s%s %s%s%s\n",
			h->res == KF_RES_FAILED ? R : h->running ? "" : G, icon, Z, h->name,
			h->phase ? h->phase : "", bar.buf, D,
			clip(h->msg ? h->msg : "", 64, msg, sizeof(msg)), Z, D,
			h->running ? kf_duration_fmt(now - h->since, tb) : "", Z);
		kf_buf_release(&bar);
	}
	p->drawn = p->n + 1;
	p->frame++;
	fflush(p->f);
}

static void *tick(void *arg)
{
	struct kf_progress *p = arg;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		draw(p);
		pthread_mutex_unlock(&p->lock);
		usleep(100 * 1000);
	}
	return NULL;
}

struct kf_progress *kf_progress_new(FILE *f, const struct kf_cluster *c,
				    bool live, bool color, bool quiet)
{
	struct kf_progress *p = kf_xcalloc(1, sizeof(*p));

	p->f = f;
	p->live = live && !quiet;
	p->color = color;
	p->quiet = quiet;
	p->n = c->nhosts;
	p->h = kf_xcalloc(p->n ? p->n : 1, sizeof(*p->h));
	for (size_t i = 0; i < p->n; i++) {
		p->h[i].name = c->hosts[i].name;
		p->h[i].progress = -1;
	}
	p->t0 = kf_now();
	kf_buf_init(&p->warnings, 0);
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

static void plain(struct kf_progress *p, const struct kf_prov_event *ev)
{
	char msg[64];
	const char *R = p->color ? "\033[31m" : "", *Z = p->color ? "\033[0m" : "";

	snprintf(msg, sizeof(msg), "[%.1fs]", ev->elapsed);
	switch (ev->kind) {
	case KF_EV_RUN_START:
		if (ev->msg && !p->quiet)
			fprintf(p->f, "%s %s\n", msg, ev->msg);
		break;
	case KF_EV_PHASE_START:
		if (!p->quiet)
			fprintf(p->f, "%s %s\n", msg, ev->phase_title);
		break;
	case KF_EV_HOST_END:
		if (ev->result == KF_RES_FAILED) {
			/* The error itself is reported once, at the end. */
			fprintf(p->f, "%s %s%s: %s: failed%s\n", msg, R, ev->host, ev->phase_title, Z);
		} else if (!p->quiet && ev->result != KF_RES_NONE) {
			fprintf(p->f, "%s %s: %s: %s\n", msg, ev->host, ev->phase_title,
				res_word(ev->result, ev->msg));
		}
		break;
	case KF_EV_WARNING:
		if (!p->quiet)
			fprintf(p->f, "%s %swarning:%s %s\n", msg, p->color ? "\033[33m" : "", Z, ev->msg);
		break;
	case KF_EV_WAIT:
		if (!p->quiet && ev->elapsed - p->last_wait_line >= 10) {
			p->last_wait_line = ev->elapsed;
			fprintf(p->f, "%s %s: %s: %s\n", msg, ev->host ? ev->host : "-", ev->phase_title,
				ev->msg ? ev->msg : "waiting");
		}
		break;
	default:
		break;
	}
	fflush(p->f);
}

/*
 * Live view: when a phase ends, leave a permanent line for it above the
 * redrawn frame ("✓ join workers  2 changed, 1 no change  3.2s"), so the
 * screen keeps the history of the run. Called with the lock held.
 */
static void phase_line(struct kf_progress *p, const struct kf_prov_event *ev)
{
	const char *G = p->color ? "\033[32m" : "", *R = p->color ? "\033[31m" : "";
	const char *D = p->color ? "\033[2m" : "", *Z = p->color ? "\033[0m" : "";
	size_t changed = 0, same = 0, failed = 0;
	struct kf_buf sum = KF_BUF_INIT;
	const char *icon = "✓", *col = G;
	char tb[32];

	for (size_t i = 0; i < p->n; i++) {
		if (p->h[i].phase != ev->phase_title)
			continue;
		changed += p->h[i].res == KF_RES_CHANGED;
		same += p->h[i].res == KF_RES_UNCHANGED;
		failed += p->h[i].res == KF_RES_FAILED;
	}
	if (failed || ev->result == KF_RES_FAILED) {
		icon = "✗";
		col = R;
	} else if (!changed && !same) {
		icon = "·";
		col = D;
	}
	if (changed)
		kf_buf_addf(&sum, "%zu changed", changed);
	if (same)
		kf_buf_addf(&sum, "%s%zu no change", sum.len ? ", " : "", same);
	if (failed)
		kf_buf_addf(&sum, "%s%zu failed", sum.len ? ", " : "", failed);
	if (!sum.len)
		kf_buf_adds(&sum, ev->result == KF_RES_FAILED ? "failed" : "skipped");
	if (p->drawn)
		fprintf(p->f, "\033[%zuA", p->drawn);
	fprintf(p->f, "\r\033[J%s%s%s %-22s %s%s  %s%s\n", col, icon, Z, ev->phase_title, D,
		sum.buf, kf_duration_fmt(ev->elapsed - p->phase_t0, tb), Z);
	p->drawn = 0;
	kf_buf_release(&sum);
	draw(p);
}

void kf_progress_event(void *ctx, const struct kf_prov_event *ev)
{
	struct kf_progress *p = ctx;
	struct hstate *h;

	if (!p->live) {
		plain(p, ev);
		return;
	}
	pthread_mutex_lock(&p->lock);
	if (!p->ticking) {
		p->ticking = pthread_create(&p->ticker, NULL, tick, p) == 0;
	}
	h = find(p, ev->host);
	switch (ev->kind) {
	case KF_EV_PHASE_START:
		p->phase = ev->phase_title;
		p->phase_t0 = ev->elapsed;
		break;
	case KF_EV_PHASE_END:
		phase_line(p, ev);
		break;
	case KF_EV_HOST_START:
		if (h) {
			h->phase = ev->phase_title;
			free(h->msg);
			h->msg = NULL;
			h->since = ev->elapsed;
			h->running = true;
			h->progress = -1;
			h->res = KF_RES_NONE;
		}
		break;
	case KF_EV_HOST_STATUS:
	case KF_EV_WAIT:
		if (h) {
			free(h->msg);
			h->msg = ev->msg ? kf_xstrdup(ev->msg) : NULL;
			if (ev->kind == KF_EV_WAIT)
				h->progress = ev->progress;
		}
		break;
	case KF_EV_HOST_END:
		/* A phase that does not concern the host leaves its line as it was. */
		if (h && ev->result != KF_RES_NONE) {
			const char *m = res_word(ev->result, ev->msg);

			h->phase = ev->phase_title;
			free(h->msg);
			/* First line of an error only; the whole error is printed at the end. */
			h->msg = kf_xstrndup(m, strcspn(m, "\n"));
			h->running = false;
			h->progress = -1;
			h->res = ev->result;
		}
		break;
	case KF_EV_WARNING:
		kf_buf_addf(&p->warnings, "%swarning:%s %s\n", p->color ? "\033[33m" : "",
			    p->color ? "\033[0m" : "", ev->msg);
		break;
	case KF_EV_RUN_END:
		p->elapsed = ev->elapsed;
		p->phase = ev->result == KF_RES_FAILED ? "failed" : "done";
		for (size_t i = 0; i < p->n && ev->result != KF_RES_FAILED; i++) {
			free(p->h[i].msg);
			p->h[i].msg = NULL;
			p->h[i].phase = "all phases done";
			p->h[i].res = KF_RES_CHANGED;
			p->h[i].running = false;
		}
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&p->lock);
}

void kf_progress_free(struct kf_progress *p)
{
	if (!p)
		return;
	if (p->ticking) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->ticker, NULL);
		for (size_t i = 0; i < p->n; i++)
			p->h[i].running = false;
		draw(p);
	}
	fputs(p->warnings.buf, p->f);
	kf_buf_release(&p->warnings);
	for (size_t i = 0; i < p->n; i++)
		free(p->h[i].msg);
	free(p->h);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
