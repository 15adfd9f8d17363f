/*
 * xalloc.c - allocation that never returns NULL.
 *
 * Like git and tmux, kfboot treats running out of memory as fatal: every
 * allocation goes through these wrappers, which print a message and abort,
 * so the rest of the code does not carry an error path for each malloc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void oom(size_t n)
{
	fprintf(stderr, "kfboot: fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *kf_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *kf_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom(n * size);
	return p;
}

void *kf_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom(n);
	return q;
}

char *kf_xstrdup(const char *s)
{
	return kf_xstrndup(s, strlen(s));
}

char *kf_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = kf_xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *kf_xvasprintf(const char *fmt, va_list ap)
{
	char *p;
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0) {
		fprintf(stderr, "kfboot: fatal: bad format string '%s'\n", fmt);
		abort();
	}
	p = kf_xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *kf_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = kf_xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void kf_xgrow(void **v, size_t *alloc, size_t need, size_t sz)
{
	size_t n = *alloc;

	if (need <= n)
		return;
	n = n ? n : 8;
	while (n < need)
		n = n + n / 2 + 8;
	if (n > SIZE_MAX / sz)
		oom(SIZE_MAX);
	*v = kf_xrealloc(*v, n * sz);
	*alloc = n;
}
