/*
 * misc.c - hashing, time, backoff, durations and string helpers.
 *
 * Small pieces every module needs: SHA-256 in hex (OpenSSL), a monotonic
 * clock, exponential backoff with full jitter (so many hosts or requests
 * retrying at once do not move in lockstep), Go-style durations as users
 * write them in profiles ("1m30s"), and the edit distance behind every
 * "did you mean" suggestion.
 */
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util.h"

void kf_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

double kf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void kf_sleep(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !kf_interrupted())
		;
}

double kf_backoff_next(struct kf_backoff *b)
{
	double ceiling = b->base * pow(b->factor > 1 ? b->factor : 2.0, b->attempt);
	unsigned int r = 0;

	if (ceiling > b->max)
		ceiling = b->max;
	if (b->attempt < 64)
		b->attempt++;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (unsigned int)rand();
	/* Full jitter, but never less than a tenth of the base. */
	return fmax(b->base / 10, ceiling * ((double)r / (double)UINT32_MAX));
}

int kf_duration_parse(const char *s, double *out)
{
	double total = 0;
	const char *p = s;
	bool any = false;

	if (!s || !*s)
		return KF_EINVAL;
	while (*p) {
		char *end;
		double v;

		errno = 0;
		v = strtod(p, &end);
		if (end == p || errno || v < 0 || !isfinite(v))
			return KF_EINVAL;
		p = end;
		if (!strncmp(p, "ms", 2)) {
			v /= 1000;
			p += 2;
		} else if (*p == 'h') {
			v *= 3600;
			p++;
		} else if (*p == 'm') {
			v *= 60;
			p++;
		} else if (*p == 's') {
			p++;
		} else if (*p == '\0' && !any) {
			/* a bare number means seconds */
		} else {
			return KF_EINVAL;
		}
		total += v;
		any = true;
	}
	*out = total;
	return 0;
}

const char *kf_duration_fmt(double seconds, char buf[32])
{
	if (seconds < 0)
		seconds = 0;
	if (seconds < 1)
		snprintf(buf, 32, "%.0fms", seconds * 1000);
	else if (seconds < 60)
		snprintf(buf, 32, "%.1fs", seconds);
	else if (seconds < 3600)
		snprintf(buf, 32, "%dm%02ds", (int)seconds / 60, (int)seconds % 60);
	else
		snprintf(buf, 32, "%dh%02dm", (int)seconds / 3600, ((int)seconds % 3600) / 60);
	return buf;
}

size_t kf_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = kf_xmalloc((lb + 1) * sizeof(*row));
	size_t result;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	result = row[lb];
	free(row);
	return result;
}

const char *kf_closest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	size_t limit = strlen(word) / 3;

	if (limit < 1)
		limit = 1;
	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (!cands[i])
			continue;
		d = kf_edit_distance(word, cands[i]);
		if (d < best_d) {
			best_d = d;
			best = cands[i];
		}
	}
	/* A prefix ("val" for "validate") is a likely intent too. */
	if (best && best_d > limit) {
		for (size_t i = 0; i < n; i++)
			if (cands[i] && strlen(word) >= 2 && kf_str_startswith(cands[i], word))
				return cands[i];
		return NULL;
	}
	return best;
}

bool kf_str_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool kf_str_endswith(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* The authority of url: [*start, *end), after "scheme://" up to / ? or #.
 * False when url has no "://". */
static bool url_authority(const char *url, const char **start, const char **end)
{
	const char *p = url ? strstr(url, "://") : NULL;

	if (!p)
		return false;
	*start = p + 3;
	*end = *start + strcspn(*start, "/?#");
	return true;
}

static const char *url_at(const char *start, const char *end)
{
	const char *at = NULL;

	for (const char *q = start; q < end; q++)
		if (*q == '@')
			at = q; /* the last '@' ends the userinfo */
	return at;
}

bool kf_url_has_userinfo(const char *url)
{
	const char *a, *e;

	return url_authority(url, &a, &e) && url_at(a, e);
}

char *kf_url_redact(const char *url)
{
	const char *a, *e, *at;
	struct kf_buf b = KF_BUF_INIT;

	if (!url)
		return kf_xstrdup("");
	if (!url_authority(url, &a, &e) || !(at = url_at(a, e)))
		return kf_xstrdup(url);
	kf_buf_add(&b, url, (size_t)(a - url));
	kf_buf_adds(&b, "***");
	kf_buf_adds(&b, at);
	return kf_buf_detach(&b, NULL);
}

/* Two strings of one length that differ by one swap of neighbours. */
static bool one_transposition(const char *a, const char *b)
{
	size_t n = strlen(a), i = 0;

	if (n != strlen(b) || n < 2)
		return false;
	while (i < n && a[i] == b[i])
		i++;
	if (i + 1 >= n || a[i] != b[i + 1] || a[i + 1] != b[i])
		return false;
	return !strcmp(a + i + 2, b + i + 2);
}

const char *kf_suggest(const char *word, const char *const *cands, size_t n)
{
	const char *guess = kf_closest(word, cands, n);

	for (size_t i = 0; i < n && !guess; i++)
		if (cands[i] && (!strcasecmp(word, cands[i]) || one_transposition(word, cands[i])))
			guess = cands[i];
	return guess;
}
