/*
 * listscan.c - reading a Kubernetes LIST response one item at a time.
 *
 * jansson builds a whole document or nothing, and a page of 500 full
 * Deployments parsed at once costs ten times its bytes in small
 * allocations. This walks the body's top-level object, finds "items" and
 * "metadata" by skipping over the other values (strings, escapes and
 * nesting are followed, nothing is decoded), parses each element of
 * "items" on its own and hands it to the caller, who keeps what it needs;
 * the element's tree is freed before the next one is parsed. So the peak
 * is the response bytes plus one item, whatever the page size.
 */
#include <string.h>

#include "kube.h"

static const char *ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Past the string that starts at p ('"'), or NULL if it never ends. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Past the value that starts at p, or NULL when it is cut short or its
 * brackets do not pair. Only the structure is checked here: what is kept
 * is parsed (and so validated) by jansson. */
static const char *skip_value(const char *p, const char *end)
{
	char stack[256];
	size_t depth = 0;

	if (p >= end)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p != '{' && *p != '[') {
		const char *s = p;

		while (p < end && !strchr(",}] \t\r\n", *p))
			p++;
		return p > s ? p : NULL;
	}
	while (p < end) {
		switch (*p) {
		case '"':
			p = skip_string(p, end);
			if (!p)
				return NULL;
			continue;
		case '{':
		case '[':
			if (depth == sizeof(stack))
				return NULL;
			stack[depth++] = *p == '{' ? '}' : ']';
			break;
		case '}':
		case ']':
			if (!depth || stack[depth - 1] != *p)
				return NULL;
			if (--depth == 0)
				return p + 1;
			break;
		default:
			break;
		}
		p++;
	}
	return NULL;
}

static bool key_is(const char *k, const char *kend, const char *want)
{
	size_t n = strlen(want);

	return (size_t)(kend - k) == n + 2 && !memcmp(k + 1, want, n);
}

/* 0, or -1 when the array is not well formed; *fn_rc is what stopped it. */
static int scan_items(const char **pp, const char *end, kf_list_item_fn fn, void *ctx, int *fn_rc)
{
	const char *p = *pp;

	if (p < end && *p == 'n') { /* "items": null */
		p = skip_value(p, end);
		if (!p)
			return -1;
		*pp = p;
		return 0;
	}
	if (p >= end || *p != '[')
		return -1;
	p = ws(p + 1, end);
	if (p < end && *p == ']') {
		*pp = p + 1;
		return 0;
	}
	for (;;) {
		const char *e = skip_value(p, end);
		json_t *it;
		int rc;

		if (!e)
			return -1;
		it = json_loadb(p, (size_t)(e - p), JSON_DECODE_ANY, NULL);
		if (!it)
			return -1;
		rc = fn(ctx, it);
		json_decref(it);
		if (rc) {
			*fn_rc = rc;
			return 0;
		}
		p = ws(e, end);
		if (p < end && *p == ',') {
			p = ws(p + 1, end);
			continue;
		}
		if (p < end && *p == ']') {
			*pp = p + 1;
			return 0;
		}
		return -1;
	}
}

int kf_list_scan(const char *buf, size_t len, kf_list_item_fn fn, void *ctx, json_t **meta)
{
	const char *p = buf, *end = buf + len;
	bool seen_items = false;
	int rc = 0;

	if (meta)
		*meta = NULL;
	p = ws(p, end);
	if (p >= end || *p != '{')
		goto bad;
	p = ws(p + 1, end);
	if (p < end && *p == '}') {
		p++;
		goto done;
	}
	for (;;) {
		const char *k = p, *kend, *v;

		if (p >= end || *p != '"')
			goto bad;
		kend = skip_string(p, end);
		if (!kend)
			goto bad;
		p = ws(kend, end);
		if (p >= end || *p != ':')
			goto bad;
		p = ws(p + 1, end);
		if (key_is(k, kend, "items") && !seen_items) {
			seen_items = true;
			if (scan_items(&p, end, fn, ctx, &rc))
				goto bad;
			if (rc)
				goto failed;
		} else if (key_is(k, kend, "metadata") && meta && !*meta) {
			v = skip_value(p, end);
			if (!v)
				goto bad;
			*meta = json_loadb(p, (size_t)(v - p), JSON_DECODE_ANY, NULL);
			if (!*meta)
				goto bad;
			p = v;
		} else {
			p = skip_value(p, end);
			if (!p)
				goto bad;
		}
		p = ws(p, end);
		if (p < end && *p == ',') {
			p = ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}') {
			p++;
			break;
		}
		goto bad;
	}
done:
	if (ws(p, end) != end)
		goto bad;
	return 0;
bad:
	rc = -1;
failed:
	if (meta) {
		json_decref(*meta);
		*meta = NULL;
	}
	return rc;
}
