/*
 * err.c - errors with a chain of context, and positioned diagnostics.
 *
 * A struct kf_err is created where something fails (kf_err_set) and each
 * layer on the way out adds what it knows (kf_err_wrap), so the user reads
 * one line that explains itself: "up: phase 'join' on w2: exit status 1".
 * kf_diags collects many positioned problems (validation reports every
 * problem at once rather than stopping at the first).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *kf_code_str(int code)
{
	switch (code) {
	case KF_OK: return "ok";
	case KF_EINVAL: return "invalid input";
	case KF_ENOENT: return "not found";
	case KF_EIO: return "i/o error";
	case KF_ETIMEOUT: return "timed out";
	case KF_EAUTH: return "authentication failed";
	case KF_ECONFLICT: return "conflict";
	case KF_EUSAGE: return "usage error";
	case KF_EAGAIN: return "temporary failure";
	case KF_ETOOBIG: return "too large";
	case KF_ECANCEL: return "interrupted";
	case KF_EDIFF: return "differences found";
	default: return "failed";
	}
}

int kf_err_vset(struct kf_err **err, int code, const char *fmt, va_list ap)
{
	struct kf_err *e;

	if (code == 0)
		code = KF_ERR;
	if (!err)
		return code;
	e = kf_xcalloc(1, sizeof(*e));
	e->code = code;
	e->msg = kf_xvasprintf(fmt, ap);
	kf_err_free(*err);
	*err = e;
	return code;
}

int kf_err_set(struct kf_err **err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = kf_err_vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int kf_err_wrap(struct kf_err **err, const char *fmt, ...)
{
	struct kf_err *e;
	va_list ap;

	if (!err)
		return KF_ERR;
	e = kf_xcalloc(1, sizeof(*e));
	va_start(ap, fmt);
	e->msg = kf_xvasprintf(fmt, ap);
	va_end(ap);
	e->cause = *err;
	e->code = *err ? (*err)->code : KF_ERR;
	*err = e;
	return e->code;
}

int kf_err_errno(struct kf_err **err, const char *fmt, ...)
{
	int saved = errno;
	int code = saved == ENOENT ? KF_ENOENT : KF_EIO;
	char *what;
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	what = kf_xvasprintf(fmt, ap);
	va_end(ap);
	kf_err_set(err, code, "%s: %s", what, strerror(saved));
	free(what);
	errno = saved;
	return code;
}

char *kf_err_str(const struct kf_err *err)
{
	struct kf_buf b = KF_BUF_INIT;

	for (; err; err = err->cause) {
		if (b.len)
			kf_buf_adds(&b, ": ");
		kf_buf_adds(&b, err->msg ? err->msg : kf_code_str(err->code));
	}
	if (!b.len)
		kf_buf_adds(&b, "unknown error");
	return kf_buf_detach(&b, NULL);
}

int kf_err_code(const struct kf_err *err)
{
	return err ? err->code : 0;
}

void kf_err_free(struct kf_err *err)
{
	while (err) {
		struct kf_err *next = err->cause;
		free(err->msg);
		free(err);
		err = next;
	}
}

void kf_err_clear(struct kf_err **err)
{
	if (err) {
		kf_err_free(*err);
		*err = NULL;
	}
}

void kf_diags_add(struct kf_diags *d, const char *file, int line, int col,
		  const char *fmt, ...)
{
	struct kf_diag *g;
	va_list ap;

	kf_xgrow((void **)&d->v, &d->alloc, d->n + 1, sizeof(*d->v));
	g = &d->v[d->n++];
	g->file = file ? kf_xstrdup(file) : NULL;
	g->line = line;
	g->col = col;
	va_start(ap, fmt);
	g->msg = kf_xvasprintf(fmt, ap);
	va_end(ap);
}

char *kf_diag_str(const struct kf_diag *d)
{
	struct kf_buf b = KF_BUF_INIT;

	if (d->file)
		kf_buf_addf(&b, "%s:", d->file);
	if (d->line > 0) {
		kf_buf_addf(&b, "%d:", d->line);
		if (d->col > 0)
			kf_buf_addf(&b, "%d:", d->col);
	}
	if (b.len)
		kf_buf_addch(&b, ' ');
	kf_buf_adds(&b, d->msg);
	return kf_buf_detach(&b, NULL);
}

static int diag_cmp(const struct kf_diag *a, const struct kf_diag *b)
{
	int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");

	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return 0;
}

void kf_diags_sort(struct kf_diags *d)
{
	/* Insertion sort: stable, and diagnostics lists are short. */
	for (size_t i = 1; i < d->n; i++) {
		struct kf_diag t = d->v[i];
		size_t j = i;

		while (j > 0 && diag_cmp(&d->v[j - 1], &t) > 0) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = t;
	}
}

void kf_diags_release(struct kf_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->alloc = 0;
}
