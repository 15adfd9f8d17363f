/*
 * buf.c - a growable, always NUL-terminated string buffer.
 *
 * Modelled on git's strbuf: `buf` is never NULL (it points at a shared empty
 * string until the first append), so it can be printed at any time. An
 * optional cap bounds the length, for data read from the network: an append
 * that would pass the cap fails with KF_ETOOBIG and changes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"

char kf_buf_empty[1];

void kf_buf_init(struct kf_buf *b, size_t hint)
{
	b->buf = kf_buf_empty;
	b->len = b->alloc = b->cap = 0;
	if (hint)
		kf_buf_grow(b, hint);
}

void kf_buf_release(struct kf_buf *b)
{
	size_t cap = b->cap;

	if (b->alloc)
		free(b->buf);
	kf_buf_init(b, 0);
	b->cap = cap;
}

char *kf_buf_detach(struct kf_buf *b, size_t *len)
{
	char *p;
	size_t cap = b->cap;

	if (len)
		*len = b->len;
	p = b->alloc ? b->buf : kf_xstrdup("");
	kf_buf_init(b, 0);
	b->cap = cap;
	return p;
}

void kf_buf_reset(struct kf_buf *b)
{
	kf_buf_setlen(b, 0);
}

int kf_buf_grow(struct kf_buf *b, size_t extra)
{
	size_t need;

	if (b->cap && (extra > b->cap || b->len > b->cap - extra))
		return KF_ETOOBIG;
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	if (!b->alloc)
		b->buf = NULL;
	kf_xgrow((void **)&b->buf, &b->alloc, need, 1);
	if (b->len == 0)
		b->buf[0] = '\0';
	return 0;
}

int kf_buf_add(struct kf_buf *b, const void *data, size_t len)
{
	if (kf_buf_grow(b, len))
		return KF_ETOOBIG;
	if (len)
		memcpy(b->buf + b->len, data, len);
	kf_buf_setlen(b, b->len + len);
	return 0;
}

int kf_buf_adds(struct kf_buf *b, const char *s)
{
	return kf_buf_add(b, s, strlen(s));
}

int kf_buf_addch(struct kf_buf *b, int c)
{
	char ch = (char)c;

	return kf_buf_add(b, &ch, 1);
}

int kf_buf_vaddf(struct kf_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return KF_EINVAL;
	if (kf_buf_grow(b, (size_t)n))
		return KF_ETOOBIG;
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int kf_buf_addf(struct kf_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = kf_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

void kf_buf_setlen(struct kf_buf *b, size_t len)
{
	if (!b->alloc) {
		/* Only 0 is a valid length for the shared empty buffer. */
		if (len == 0)
			return;
		kf_buf_grow(b, len);
	}
	b->len = len;
	b->buf[len] = '\0';
}

int kf_buf_add_shquote(struct kf_buf *b, const char *s)
{
	/* POSIX shell single quotes; a ' becomes '\''. Safe words stay bare. */
	const char *p;
	bool plain = *s != '\0';

	for (p = s; *p && plain; p++)
		plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			       "0123456789@%_-+=:,./", *p) != NULL;
	if (plain)
		return kf_buf_adds(b, s);
	if (kf_buf_addch(b, '\''))
		return KF_ETOOBIG;
	for (p = s; *p; p++) {
		int r = *p == '\'' ? kf_buf_adds(b, "'\\''") : kf_buf_addch(b, *p);
		if (r)
			return r;
	}
	return kf_buf_addch(b, '\'');
}

void kf_buf_rtrim(struct kf_buf *b)
{
	size_t n = b->len;

	while (n > 0 && strchr(" \t\r\n", b->buf[n - 1]))
		n--;
	kf_buf_setlen(b, n);
}
