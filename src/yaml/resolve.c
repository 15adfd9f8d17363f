/*
 * resolve.c - what a YAML scalar means, exactly as Kubernetes reads it.
 *
 * Kubernetes turns YAML into JSON with sigs.k8s.io/yaml, which decodes with
 * its fork of go-yaml v2 and then marshals the result with encoding/json.
 * This file reproduces go-yaml v2's resolve() (resolve.go) and the parts of
 * Go's strconv it leans on, so that a plain scalar gets the same type and
 * value here as in kubectl:
 *
 *  - the first byte picks a hint; only '+', '-', digits, '.', and the
 *    letters y Y n N t T f F o O ~ can start a non-string;
 *  - a fixed table: y/yes/on/true (in three spellings each) are true, the
 *    n/no/off/false family false, "", ~, null, Null, NULL are null,
 *    .inf/.nan in their spellings are floats;
 *  - otherwise, with underscores removed: strconv.ParseInt(s, 0, 64)
 *    (0x, 0o, 0b and leading-0 octal prefixes, a sign), then ParseUint,
 *    then a YAML-style float, then the "0b"/"-0b" forms go-yaml adds;
 *  - anything else is a string, including timestamps (go-yaml v2 hands
 *    them to interface{} as their text) and sexagesimal 1:20:30.
 *
 * Explicit tags (!!str, !!int, !!bool, !!float, !!null, !!timestamp,
 * !!binary) are checked the way go-yaml checks them: "!!float 1" becomes
 * 1.0, "!!int abc" is an error.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "yaml_int.h"

enum tag_kind {
	TAG_NONE,
	TAG_OTHER, /* custom or non-specific: the value stays a string */
	TAG_STR,
	TAG_BINARY,
	TAG_BOOL,
	TAG_INT,
	TAG_FLOAT,
	TAG_NULL,
	TAG_TIMESTAMP,
};

/* Internal result kinds: the public ones plus "looks like a timestamp". */
enum { R_TIMESTAMP = 100 };

static enum tag_kind classify_tag(const char *tag)
{
	static const struct {
		const char *name;
		enum tag_kind kind;
	} tags[] = {
		{ "str", TAG_STR },	{ "binary", TAG_BINARY },
		{ "bool", TAG_BOOL },	{ "int", TAG_INT },
		{ "float", TAG_FLOAT }, { "null", TAG_NULL },
		{ "timestamp", TAG_TIMESTAMP },
	};
	size_t plen = sizeof(KF_TAG_PREFIX) - 1;

	if (!tag || !*tag)
		return TAG_NONE;
	if (strncmp(tag, KF_TAG_PREFIX, plen) != 0)
		return TAG_OTHER;
	for (size_t i = 0; i < KF_ARRAY_SIZE(tags); i++)
		if (strcmp(tag + plen, tags[i].name) == 0)
			return tags[i].kind;
	return TAG_OTHER;
}

/* go-yaml's resolveTable: which first bytes may start a non-string. */
static char hint_of(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return 'D';
	switch (c) {
	case '+':
	case '-':
		return 'S';
	case '.':
		return '.';
	case 'y': case 'Y': case 'n': case 'N': case 't': case 'T':
	case 'f': case 'F': case 'o': case 'O': case '~':
		return 'M';
	default:
		return 0;
	}
}

/* go-yaml's resolveMap. */
static bool lookup_map(const char *s, size_t n, struct kf_scalar *out)
{
	static const struct {
		const char *text;
		enum kf_scalar_kind kind;
		int v; /* bool value, or for floats: 0 NaN, 1 +Inf, -1 -Inf */
	} map[] = {
		{ "y", KF_SC_BOOL, 1 },	      { "Y", KF_SC_BOOL, 1 },
		{ "yes", KF_SC_BOOL, 1 },     { "Yes", KF_SC_BOOL, 1 },
		{ "YES", KF_SC_BOOL, 1 },     { "true", KF_SC_BOOL, 1 },
		{ "True", KF_SC_BOOL, 1 },    { "TRUE", KF_SC_BOOL, 1 },
		{ "on", KF_SC_BOOL, 1 },      { "On", KF_SC_BOOL, 1 },
		{ "ON", KF_SC_BOOL, 1 },      { "n", KF_SC_BOOL, 0 },
		{ "N", KF_SC_BOOL, 0 },	      { "no", KF_SC_BOOL, 0 },
		{ "No", KF_SC_BOOL, 0 },      { "NO", KF_SC_BOOL, 0 },
		{ "false", KF_SC_BOOL, 0 },   { "False", KF_SC_BOOL, 0 },
		{ "FALSE", KF_SC_BOOL, 0 },   { "off", KF_SC_BOOL, 0 },
		{ "Off", KF_SC_BOOL, 0 },     { "OFF", KF_SC_BOOL, 0 },
		{ "~", KF_SC_NULL, 0 },	      { "null", KF_SC_NULL, 0 },
		{ "Null", KF_SC_NULL, 0 },    { "NULL", KF_SC_NULL, 0 },
		{ ".nan", KF_SC_FLOAT, 0 },   { ".NaN", KF_SC_FLOAT, 0 },
		{ ".NAN", KF_SC_FLOAT, 0 },   { ".inf", KF_SC_FLOAT, 1 },
		{ ".Inf", KF_SC_FLOAT, 1 },   { ".INF", KF_SC_FLOAT, 1 },
		{ "+.inf", KF_SC_FLOAT, 1 },  { "+.Inf", KF_SC_FLOAT, 1 },
		{ "+.INF", KF_SC_FLOAT, 1 },  { "-.inf", KF_SC_FLOAT, -1 },
		{ "-.Inf", KF_SC_FLOAT, -1 }, { "-.INF", KF_SC_FLOAT, -1 },
	};

	if (n > 5)
		return false;
	for (size_t i = 0; i < KF_ARRAY_SIZE(map); i++) {
		if (map[i].text[0] != s[0] || strlen(map[i].text) != n ||
		    memcmp(map[i].text, s, n) != 0)
			continue;
		out->kind = map[i].kind;
		out->b = map[i].v != 0;
		if (map[i].kind == KF_SC_FLOAT)
			out->f = map[i].v == 0 ? NAN
					       : (map[i].v > 0 ? INFINITY : -INFINITY);
		return true;
	}
	return false;
}

static int digit_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/* strconv.ParseUint(s, base, 64) for base 0 or 2 (no underscores left). */
static bool go_parse_uint(const char *s, size_t n, int base, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	if (base == 0) {
		base = 10;
		if (s[0] == '0') {
			int c1 = n >= 3 ? tolower((unsigned char)s[1]) : 0;

			if (c1 == 'b' || c1 == 'o' || c1 == 'x') {
				base = c1 == 'b' ? 2 : (c1 == 'o' ? 8 : 16);
				s += 2;
				n -= 2;
			} else {
				base = 8;
				s++;
				n--;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		int d = digit_value((unsigned char)s[i]);

		if (d >= base)
			return false;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return false; /* out of range: Go reports ErrRange */
		v = v * (uint64_t)base + (uint64_t)d;
	}
	*out = v;
	return true;
}

/* strconv.ParseInt(s, base, 64). */
static bool go_parse_int(const char *s, size_t n, int base, int64_t *out)
{
	bool neg = false;
	uint64_t u;

	if (n == 0)
		return false;
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		s++;
		n--;
	}
	if (!go_parse_uint(s, n, base, &u))
		return false;
	if (!neg && u > (uint64_t)INT64_MAX)
		return false;
	if (neg && u > (uint64_t)INT64_MAX + 1)
		return false;
	if (neg)
		*out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
	else
		*out = (int64_t)u;
	return true;
}

/* go-yaml's yamlStyleFloat:
 * ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool yaml_style_float(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i < n && s[i] == '.') {
		i++;
		for (d = i; i < n && isdigit((unsigned char)s[i]); i++)
			;
		if (i == d)
			return false;
	} else {
		for (d = i; i < n && isdigit((unsigned char)s[i]); i++)
			;
		if (i == d)
			return false;
		if (i < n && s[i] == '.')
			for (i++; i < n && isdigit((unsigned char)s[i]); i++)
				;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < n && isdigit((unsigned char)s[i]); i++)
			;
		if (i == d)
			return false;
	}
	return i == n;
}

/* strtod over a NUL-terminated decimal; false on overflow (Go: ErrRange)
 * or when it does not consume everything. */
static bool parse_decimal(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || end == s)
		return false;
	if (errno == ERANGE && isinf(v))
		return false;
	*out = v;
	return true;
}

/*
 * strconv.ParseFloat for a text that starts with '.' (go-yaml's '.' hint):
 * decimal digits with Go's underscore rule (only between digits), an
 * optional exponent.
 */
static bool go_parse_float_dot(const char *s, size_t n, double *out)
{
	char buf[128];
	size_t i = 1, k = 0, digits = 0;
	char prev = '.';

	if (n >= sizeof(buf))
		return false; /* no float this long starts with '.' in practice */
	buf[k++] = '.';
	for (; i < n; i++) {
		char c = s[i];

		if (isdigit((unsigned char)c)) {
			digits++;
		} else if (c == '_') {
			if (!isdigit((unsigned char)prev) || i + 1 >= n ||
			    !isdigit((unsigned char)s[i + 1]))
				return false;
			prev = c;
			continue;
		} else if (c == 'e' || c == 'E' || c == '+' || c == '-') {
			/* exponent and its sign; syntax checked by strtod */
		} else {
			return false;
		}
		buf[k++] = c;
		prev = c;
	}
	buf[k] = '\0';
	if (!digits || !yaml_style_float(buf, k))
		return false;
	return parse_decimal(buf, out);
}

/* Go's time.Parse for go-yaml's timestamp layouts, enough to tell whether
 * a text is a timestamp: 2006-1-2, 2006-1-2T15:4:5.999999999Z07:00 (T or
 * t), 2006-1-2 15:4:5.999999999. */
static bool num(const char *s, size_t n, size_t *i, int min_d, int max_d,
		int lo, int hi)
{
	int v = 0, d = 0;

	while (*i < n && d < max_d && isdigit((unsigned char)s[*i])) {
		v = v * 10 + (s[*i] - '0');
		(*i)++;
		d++;
	}
	return d >= min_d && v >= lo && v <= hi;
}

static bool looks_timestamp(const char *s, size_t n)
{
	size_t i = 0;
	char sep;

	if (!num(s, n, &i, 4, 4, 0, 9999) || i >= n || s[i++] != '-')
		return false;
	if (!num(s, n, &i, 1, 2, 1, 12) || i >= n || s[i++] != '-')
		return false;
	if (!num(s, n, &i, 1, 2, 1, 31))
		return false;
	if (i == n)
		return true;
	sep = s[i++];
	if (sep != 'T' && sep != 't' && sep != ' ')
		return false;
	if (!num(s, n, &i, 1, 2, 0, 23) || i >= n || s[i++] != ':' ||
	    !num(s, n, &i, 1, 2, 0, 59) || i >= n || s[i++] != ':' ||
	    !num(s, n, &i, 1, 2, 0, 59))
		return false;
	if (i < n && s[i] == '.') {
		i++;
		if (!num(s, n, &i, 1, 9, 0, 999999999))
			return false;
	}
	if (sep == ' ')
		return i == n;
	if (i < n && s[i] == 'Z')
		return i + 1 == n;
	if (i >= n || (s[i] != '+' && s[i] != '-'))
		return false;
	i++;
	if (!num(s, n, &i, 2, 2, 0, 23) || i >= n || s[i++] != ':' ||
	    !num(s, n, &i, 2, 2, 0, 59))
		return false;
	return i == n;
}

/* The int / float attempts of go-yaml's 'D' and 'S' hints, on the text
 * with its underscores removed. */
static bool resolve_number(const char *plain, size_t n, struct kf_scalar *out)
{
	int64_t iv;
	uint64_t uv;

	if (go_parse_int(plain, n, 0, &iv)) {
		out->kind = KF_SC_INT;
		out->i = iv;
		return true;
	}
	if (go_parse_uint(plain, n, 0, &uv)) {
		out->kind = KF_SC_UINT;
		out->u = uv;
		return true;
	}
	if (yaml_style_float(plain, n) && parse_decimal(plain, &out->f)) {
		out->kind = KF_SC_FLOAT;
		return true;
	}
	if (n > 2 && strncmp(plain, "0b", 2) == 0) {
		if (go_parse_int(plain + 2, n - 2, 2, &iv)) {
			out->kind = KF_SC_INT;
			out->i = iv;
			return true;
		}
		if (go_parse_uint(plain + 2, n - 2, 2, &uv)) {
			out->kind = KF_SC_UINT;
			out->u = uv;
			return true;
		}
	} else if (n > 3 && strncmp(plain, "-0b", 3) == 0) {
		/* ParseInt("-" + plain[3:], 2, 64) */
		uint64_t mag;

		if (go_parse_uint(plain + 3, n - 3, 2, &mag) &&
		    mag <= (uint64_t)INT64_MAX + 1) {
			out->kind = KF_SC_INT;
			out->i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN
								 : -(int64_t)mag;
			return true;
		}
	}
	return false;
}

/* go-yaml's resolve() for a text; returns a kf_scalar_kind or R_TIMESTAMP. */
static int resolve_text(const char *s, size_t n, bool want_ts,
			struct kf_scalar *out)
{
	char stack[96];
	char *plain = stack;
	size_t k = 0;
	char hint;
	int kind = KF_SC_STR;

	memset(out, 0, sizeof(*out));
	if (n == 0) {
		out->kind = KF_SC_NULL;
		return KF_SC_NULL;
	}
	hint = hint_of((unsigned char)s[0]);
	if (!hint)
		return KF_SC_STR;
	if (lookup_map(s, n, out))
		return (int)out->kind;
	out->kind = KF_SC_STR;
	if (hint == 'M')
		return KF_SC_STR;
	if (hint == '.') {
		if (go_parse_float_dot(s, n, &out->f)) {
			out->kind = KF_SC_FLOAT;
			return KF_SC_FLOAT;
		}
		return KF_SC_STR;
	}
	/* 'D' or 'S' */
	if (want_ts && looks_timestamp(s, n))
		return R_TIMESTAMP;
	/* Numbers are short; a long text starting with a digit is a string
	 * unless it is all digits (a huge integer becomes a float in Go). */
	if (n >= sizeof(stack))
		plain = kf_xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			plain[k++] = s[i];
	plain[k] = '\0';
	if (resolve_number(plain, k, out))
		kind = (int)out->kind;
	else
		out->kind = KF_SC_STR;
	if (plain != stack)
		free(plain);
	return kind;
}

static const char *short_tag(int kind)
{
	switch (kind) {
	case KF_SC_NULL:
		return "!!null";
	case KF_SC_BOOL:
		return "!!bool";
	case KF_SC_INT:
	case KF_SC_UINT:
		return "!!int";
	case KF_SC_FLOAT:
		return "!!float";
	case R_TIMESTAMP:
		return "!!timestamp";
	default:
		return "!!str";
	}
}

int kf_yaml_resolve(struct kf_scalar *out, const char *tag, bool plain,
		    const char *s, size_t n, const char **why)
{
	enum tag_kind t = classify_tag(tag);
	int r;
	bool ok;

	memset(out, 0, sizeof(*out));
	out->kind = KF_SC_STR;
	switch (t) {
	case TAG_NONE:
		if (!plain)
			return 0;
		if (resolve_text(s, n, true, out) == R_TIMESTAMP)
			out->kind = KF_SC_STR;
		return 0;
	case TAG_OTHER:
	case TAG_STR:
		return 0;
	case TAG_BINARY:
		out->kind = KF_SC_BINARY;
		return 0;
	default:
		break;
	}
	r = resolve_text(s, n, t == TAG_TIMESTAMP, out);
	switch (t) {
	case TAG_BOOL:
		ok = r == KF_SC_BOOL;
		break;
	case TAG_INT:
		ok = r == KF_SC_INT || r == KF_SC_UINT;
		break;
	case TAG_NULL:
		ok = r == KF_SC_NULL;
		break;
	case TAG_TIMESTAMP:
		ok = r == R_TIMESTAMP;
		out->kind = KF_SC_STR; /* go-yaml v2 keeps the text */
		break;
	case TAG_FLOAT:
		ok = r == KF_SC_FLOAT;
		if (r == KF_SC_INT) {
			out->kind = KF_SC_FLOAT;
			out->f = (double)out->i;
			ok = true;
		}
		break;
	default:
		ok = false;
		break;
	}
	if (!ok) {
		*why = short_tag(r);
		return -1;
	}
	return 0;
}

/* YAML 1.1 base-60 numbers (190:20:30, -1:30.5): strings for go-yaml,
 * numbers for PyYAML and other YAML 1.1 tools. */
static bool looks_sexagesimal(const char *s, size_t n)
{
	size_t i = 0, groups = 0;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i >= n || !isdigit((unsigned char)s[i]))
		return false;
	while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '_'))
		i++;
	while (i < n && s[i] == ':') { /* :[0-5]?[0-9] */
		i++;
		if (i + 1 < n && s[i] >= '0' && s[i] <= '5' &&
		    isdigit((unsigned char)s[i + 1]))
			i += 2;
		else if (i < n && isdigit((unsigned char)s[i]))
			i++;
		else
			return false;
		groups++;
	}
	if (!groups)
		return false;
	if (i < n && s[i] == '.')
		for (i++; i < n && (isdigit((unsigned char)s[i]) || s[i] == '_'); i++)
			;
	return i == n;
}

bool kf_yaml_plain_is_special(const char *s, size_t n)
{
	struct kf_scalar sc;
	int r = resolve_text(s, n, true, &sc);

	/* Timestamps and base-60 numbers load back as strings here and in
	 * Kubernetes, but YAML 1.1 tools (PyYAML) read them as dates and
	 * numbers: quote them too. */
	return r != KF_SC_STR || looks_sexagesimal(s, n);
}

void kf_yaml_float_key(double f, char out[48])
{
	float ff = (float)f;
	char e[48];
	int nd = 1, exp;
	char *p;

	if (isnan(ff)) {
		snprintf(out, 48, ".nan");
		return;
	}
	if (isinf(ff)) {
		snprintf(out, 48, ff > 0 ? ".inf" : "-.inf");
		return;
	}
	if (ff == 0) {
		snprintf(out, 48, signbit(ff) ? "-0" : "0");
		return;
	}
	/* Shortest digits that read back as the same float32. */
	for (nd = 1; nd <= 9; nd++) {
		snprintf(e, sizeof(e), "%.*e", nd - 1, (double)ff);
		if (strtof(e, NULL) == ff)
			break;
	}
	p = strchr(e, 'e');
	exp = p ? atoi(p + 1) : 0;
	if (exp < -4 || exp >= 6) {
		snprintf(out, 48, "%s", e);
	} else {
		int dp = exp + 1; /* digits before the point */
		int decimals = nd - dp > 0 ? nd - dp : 0;

		snprintf(out, 48, "%.*f", decimals, (double)ff);
	}
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

bool kf_yaml_b64_decode(const char *s, size_t n, char **out, size_t *outlen)
{
	unsigned char *o = kf_xmalloc(n / 4 * 3 + 4);
	size_t k = 0, q = 0, pad = 0;
	uint32_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;

		if (c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			if (q < 2)
				goto bad;
			pad++;
			acc <<= 6;
			q++;
			if (q == 4) {
				o[k++] = (unsigned char)(acc >> 16);
				if (pad == 1)
					o[k++] = (unsigned char)(acc >> 8);
				q = 0;
				acc = 0;
			}
			continue;
		}
		if (pad)
			goto bad; /* data after padding */
		v = b64_value(c);
		if (v < 0)
			goto bad;
		acc = acc << 6 | (uint32_t)v;
		if (++q == 4) {
			o[k++] = (unsigned char)(acc >> 16);
			o[k++] = (unsigned char)(acc >> 8);
			o[k++] = (unsigned char)acc;
			q = 0;
			acc = 0;
		}
	}
	if (q != 0)
		goto bad; /* Go's StdEncoding requires padding */
	o[k] = '\0';
	*out = (char *)o;
	*outlen = k;
	return true;
bad:
	free(o);
	return false;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

void kf_yaml_utf8_sanitize(const char *s, size_t n, char **out, size_t *outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	char *o = kf_xmalloc(n * 3 + 1);
	size_t k = 0;

	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(u + i, n - i);

		if (len == 0) {
			memcpy(o + k, "\xEF\xBF\xBD", 3);
			k += 3;
			i++;
			continue;
		}
		memcpy(o + k, s + i, len);
		k += len;
		i += len;
	}
	o[k] = '\0';
	*out = o;
	*outlen = k;
}
