/*
 * names.c - small pure helpers of the kube module: base64, REST paths,
 * object labels for messages, kubectl's ApplySet id, label selectors.
 *
 * Nothing here talks to a server, so all of it is unit-tested directly.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "kube.h"

static const char b64std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *kf_base64_encode(const void *data, size_t len, bool url_nopad)
{
	const unsigned char *p = data;
	const char *alpha = url_nopad ? b64url : b64std;
	char *out = kf_xmalloc(4 * ((len + 2) / 3) + 1);
	size_t o = 0, i;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];

		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		out[o++] = alpha[v >> 6 & 63];
		out[o++] = alpha[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);

		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = alpha[v >> 6 & 63];
		else if (!url_nopad)
			out[o++] = '=';
		if (!url_nopad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int kf_base64_decode(const char *s, char **out, size_t *len)
{
	size_t n = strlen(s), o = 0;
	unsigned acc = 0;
	int bits = 0, pad = 0;
	char *buf = kf_xmalloc(n / 4 * 3 + 4);

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i], v;

		if (isspace(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = b64val(c);
		if (v < 0 || pad)
			goto bad;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (char)(acc >> bits & 0xff);
		}
	}
	if (pad > 2 || bits >= 6)
		goto bad;
	buf[o] = '\0';
	*out = buf;
	*len = o;
	return 0;
bad:
	free(buf);
	*out = NULL;
	*len = 0;
	return KF_EINVAL;
}

char *kf_url_escape(const char *s)
{
	struct kf_buf b = KF_BUF_INIT;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			kf_buf_addch(&b, c);
		else
			kf_buf_addf(&b, "%%%02X", c);
	}
	return kf_buf_detach(&b, NULL);
}

char *kf_rest_path(const struct kf_rest *r, const char *ns, const char *name)
{
	struct kf_buf b = KF_BUF_INIT;

	if (!r->group[0])
		kf_buf_addf(&b, "/api/%s", r->version);
	else
		kf_buf_addf(&b, "/apis/%s/%s", r->group, r->version);
	if (r->namespaced && ns)
		kf_buf_addf(&b, "/namespaces/%s", ns);
	kf_buf_addf(&b, "/%s", r->resource);
	if (name)
		kf_buf_addf(&b, "/%s", name);
	return kf_buf_detach(&b, NULL);
}

char *kf_obj_label(const struct kf_obj *o)
{
	if (o->group && o->group[0])
		return o->ns ? kf_xasprintf("%s.%s %s/%s", o->kind, o->group, o->ns, o->name)
			     : kf_xasprintf("%s.%s %s", o->kind, o->group, o->name);
	return o->ns ? kf_xasprintf("%s %s/%s", o->kind, o->ns, o->name)
		     : kf_xasprintf("%s %s", o->kind, o->name);
}

char *kf_applyset_id(const char *name, const char *ns, const char *kind,
		     const char *group)
{
	char *unenc = kf_xasprintf("%s.%s.%s.%s", name, ns ? ns : "", kind, group ? group : "");
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *b64, *id;

	SHA256((const unsigned char *)unenc, strlen(unenc), md);
	b64 = kf_base64_encode(md, sizeof(md), true);
	id = kf_xasprintf("applyset-%s-v1", b64);
	free(b64);
	free(unenc);
	return id;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *kf_applyset_group_kinds(const struct kf_objset *set)
{
	char **v = kf_xcalloc(set->n + 1, sizeof(*v));
	struct kf_buf b = KF_BUF_INIT;
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct kf_obj *o = &set->v[i];

		v[n++] = o->group && o->group[0] ? kf_xasprintf("%s.%s", o->kind, o->group)
						 : kf_xstrdup(o->kind);
	}
	qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(v[i], v[i - 1]))
			continue;
		if (b.len)
			kf_buf_addch(&b, ',');
		kf_buf_adds(&b, v[i]);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return kf_buf_detach(&b, NULL);
}

/* Label values: <= 63 chars, [A-Za-z0-9._-], alphanumeric at both ends. */
static bool label_value_ok(const char *v)
{
	size_t n = strlen(v);

	if (n > 63)
		return false;
	if (!n)
		return true;
	if (!isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr("._-", v[i]))
			return false;
	return true;
}

/* Keys: optional DNS prefix "/" and a name part that is a valid value (non-empty). */
static bool label_key_ok(const char *k)
{
	const char *slash = strchr(k, '/');
	const char *name = slash ? slash + 1 : k;

	if (slash) {
		size_t plen = (size_t)(slash - k);

		if (!plen || plen > 253)
			return false;
		for (size_t i = 0; i < plen; i++)
			if (!isalnum((unsigned char)k[i]) && k[i] != '.' && k[i] != '-')
				return false;
	}
	return *name && label_value_ok(name);
}

char *kf_label_selector(const char *key, const char *value)
{
	if (!label_key_ok(key) || !label_value_ok(value))
		return NULL;
	return kf_xasprintf("%s=%s", key, value);
}
