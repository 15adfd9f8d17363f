/*
 * emit.c - JSON (jansson) to block-style YAML that loads back to the same
 * JSON, here and in Kubernetes.
 *
 * Mappings are written in block style with 2-space indentation, sequences
 * inside mappings without extra indentation (as kubectl writes them), keys
 * in the object's own order. A string is written plain only when that is
 * safe: it would not resolve to another type (resolve.c decides, with
 * go-yaml's rules), it has no indicator at its start, no ": " or " #", no
 * leading or trailing space and nothing unprintable. Multi-line strings
 * become literal block scalars (|, |-, |+) when every line can be carried
 * as it is; everything else is double-quoted with escapes. Reals always
 * carry a '.' so that they load back as floats, with the shortest digits
 * that give back the same double.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml.h"
#include "yaml_int.h"

/* libyaml refuses simple (implicit) keys longer than 1024 characters. */
#define MAX_SIMPLE_KEY 1000
/* Recursion bound for hand-built values (the loader stops at 1000). */
#define MAX_DEPTH 5000

struct emitter {
	struct kf_buf *out;
	int rc;
	size_t depth;
	const char *why; /* what went wrong, with rc */
};

static void put(struct emitter *e, const char *s, size_t n)
{
	if (!e->rc)
		e->rc = kf_buf_add(e->out, s, n);
}

static void puts_(struct emitter *e, const char *s)
{
	put(e, s, strlen(s));
}

static void indent(struct emitter *e, size_t n)
{
	static const char spaces[] = "                                ";

	while (n > 0) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		put(e, spaces, k);
		n -= k;
	}
}

/* Decode one UTF-8 character (input is valid UTF-8, or arbitrary bytes in
 * a json_t built by hand: then each bad byte counts as one character). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xE0) == 0xC0)
		len = 2, *cp = c & 0x1F;
	else if ((c & 0xF0) == 0xE0)
		len = 3, *cp = c & 0x0F;
	else if ((c & 0xF8) == 0xF0)
		len = 4, *cp = c & 0x07;
	else
		goto bad;
	if (len > n)
		goto bad;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto bad;
		*cp = *cp << 6 | (s[i] & 0x3F);
	}
	return len;
bad:
	*cp = 0xFFFFFFFF;
	return 1;
}

/* YAML's printable set, minus the characters YAML 1.1 treats as line
 * breaks (NEL, LS, PS) and the byte order mark. */
static bool printable(uint32_t cp)
{
	if (cp == 0x09 || cp == 0x0A || (cp >= 0x20 && cp <= 0x7E))
		return true;
	if (cp == 0x85 || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF)
		return false;
	return (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
	       (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Is every character printable (tab and newline allowed as told)? */
static bool all_printable(const char *s, size_t n, bool tab, bool nl)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		uint32_t cp;

		if (u[i] < 0x80) {
			if ((u[i] == '\t' && !tab) || (u[i] == '\n' && !nl) ||
			    !printable(u[i]))
				return false;
			i++;
			continue;
		}
		i += utf8_next(u + i, n - i, &cp);
		if (!printable(cp))
			return false;
	}
	return true;
}

static bool can_be_plain(const char *s, size_t n)
{
	unsigned char c;

	if (n == 0 || n > MAX_SIMPLE_KEY)
		return false;
	c = (unsigned char)s[0];
	if (strchr("?:,[]{}#&*!|>'\"%@`=", c) || c == ' ')
		return false;
	if (c == '-' && (n == 1 || s[1] == ' '))
		return false;
	if (s[n - 1] == ' ' || s[n - 1] == ':')
		return false;
	/* document markers when they start a line (a key at column 0) */
	if (n >= 3 && (memcmp(s, "---", 3) == 0 || memcmp(s, "...", 3) == 0))
		return false;
	if (n == 2 && memcmp(s, "<<", 2) == 0)
		return false; /* would be a merge key */
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] == ':' && s[i + 1] == ' ')
			return false;
		if (s[i] == ' ' && s[i + 1] == '#')
			return false;
	}
	if (!all_printable(s, n, false, false))
		return false;
	return !kf_yaml_plain_is_special(s, n);
}

static void emit_double_quoted(struct emitter *e, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	char esc[16];

	put(e, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t start = i;
		uint32_t cp;
		size_t len;

		/* runs of plain ASCII are copied at once */
		while (i < n && u[i] >= 0x20 && u[i] < 0x7F && u[i] != '"' &&
		       u[i] != '\\')
			i++;
		if (i > start)
			put(e, s + start, i - start);
		if (i >= n)
			break;
		len = utf8_next(u + i, n - i, &cp);
		switch (cp) {
		case '"':
			puts_(e, "\\\"");
			break;
		case '\\':
			puts_(e, "\\\\");
			break;
		case '\0':
			puts_(e, "\\0");
			break;
		case '\a':
			puts_(e, "\\a");
			break;
		case '\b':
			puts_(e, "\\b");
			break;
		case '\t':
			puts_(e, "\\t");
			break;
		case '\n':
			puts_(e, "\\n");
			break;
		case '\v':
			puts_(e, "\\v");
			break;
		case '\f':
			puts_(e, "\\f");
			break;
		case '\r':
			puts_(e, "\\r");
			break;
		case 0x1B:
			puts_(e, "\\e");
			break;
		case 0x85:
			puts_(e, "\\N");
			break;
		case 0x2028:
			puts_(e, "\\L");
			break;
		case 0x2029:
			puts_(e, "\\P");
			break;
		default:
			if (cp == 0xFFFFFFFF) {
				/* not UTF-8 (a hand-built json_t): keep the byte */
				snprintf(esc, sizeof(esc), "\\x%02X", u[i]);
				puts_(e, esc);
			} else if (printable(cp)) {
				put(e, s + i, len);
			} else if (cp <= 0xFF) {
				snprintf(esc, sizeof(esc), "\\x%02X", (unsigned)cp);
				puts_(e, esc);
			} else if (cp <= 0xFFFF) {
				snprintf(esc, sizeof(esc), "\\u%04X", (unsigned)cp);
				puts_(e, esc);
			} else {
				snprintf(esc, sizeof(esc), "\\U%08X", (unsigned)cp);
				puts_(e, esc);
			}
			break;
		}
		i += len;
	}
	put(e, "\"", 1);
}

/*
 * A literal block scalar keeps every character of every line, so it can
 * carry a multi-line string whose characters are all printable (no tabs:
 * libyaml rejects some of them near indentation), whose first non-empty
 * line does not start with a space (that would need an indentation
 * indicator) and which has no line of only spaces before it.
 */
static bool can_be_literal(const char *s, size_t n)
{
	size_t i = 0;

	if (!memchr(s, '\n', n))
		return false;
	if (!all_printable(s, n, false, true))
		return false;
	while (i < n && s[i] == '\n')
		i++;
	if (i == n || s[i] == ' ')
		return false;
	return true;
}

static void emit_literal(struct emitter *e, const char *s, size_t n, size_t ind)
{
	size_t trailing = 0, i = 0;

	while (trailing < n && s[n - 1 - trailing] == '\n')
		trailing++;
	puts_(e, trailing == 0 ? "|-" : (trailing == 1 ? "|" : "|+"));
	put(e, "\n", 1);
	while (i < n) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - s) : n;

		if (end > i) {
			indent(e, ind);
			put(e, s + i, end - i);
		}
		put(e, "\n", 1);
		i = nl ? end + 1 : n;
	}
	/* The last line always ends with a newline; "|-" strips it again. */
}

static void emit_real(struct emitter *e, double f)
{
	char buf[64];
	int prec;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, f);
		if (strtod(buf, NULL) == f)
			break;
	}
	if (!strpbrk(buf, ".eEn")) {
		puts_(e, buf);
		puts_(e, ".0");
		return;
	}
	if (!strchr(buf, '.') && strpbrk(buf, "eE")) {
		/* 1e+20 -> 1.0e+20, which YAML 1.1 tools also read as a float */
		char *x = strpbrk(buf, "eE");

		put(e, buf, (size_t)(x - buf));
		puts_(e, ".0");
		puts_(e, x);
		return;
	}
	puts_(e, buf);
}

/* A string scalar in value position and the end of its line; `ind` is
 * where the lines of a block scalar go. */
static void emit_string_line(struct emitter *e, const char *s, size_t n,
			     size_t ind)
{
	if (can_be_plain(s, n)) {
		put(e, s, n);
	} else if (can_be_literal(s, n)) {
		emit_literal(e, s, n, ind); /* ends its own last line */
		return;
	} else {
		emit_double_quoted(e, s, n);
	}
	put(e, "\n", 1);
}

/* A scalar value and the end of its line. */
static void emit_scalar_line(struct emitter *e, const json_t *v, size_t ind)
{
	char buf[32];

	switch (json_typeof(v)) {
	case JSON_STRING:
		emit_string_line(e, json_string_value(v), json_string_length(v),
				 ind);
		return;
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		puts_(e, buf);
		break;
	case JSON_REAL:
		emit_real(e, json_real_value(v));
		break;
	case JSON_TRUE:
		puts_(e, "true");
		break;
	case JSON_FALSE:
		puts_(e, "false");
		break;
	case JSON_NULL:
		puts_(e, "null");
		break;
	default:
		break;
	}
	put(e, "\n", 1);
}

static bool is_block(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) > 0) ||
	       (json_is_array(v) && json_array_size(v) > 0);
}

static void emit_node(struct emitter *e, const json_t *v, size_t ind,
		      bool first_inline);

/* What follows "key:" or "-": a space and a scalar, or a newline and a
 * block. */
static void emit_after_indicator(struct emitter *e, const json_t *v,
				 size_t ind, bool in_seq)
{
	if (json_is_object(v) && json_object_size(v) == 0) {
		puts_(e, " {}\n");
	} else if (json_is_array(v) && json_array_size(v) == 0) {
		puts_(e, " []\n");
	} else if (is_block(v)) {
		if (in_seq) {
			/* "- key: value" and "- - x": the block starts on the
			 * same line, two columns in */
			put(e, " ", 1);
			emit_node(e, v, ind + 2, true);
		} else if (json_is_array(v)) {
			put(e, "\n", 1);
			emit_node(e, v, ind, false);
		} else {
			put(e, "\n", 1);
			emit_node(e, v, ind + 2, false);
		}
	} else {
		put(e, " ", 1);
		emit_scalar_line(e, v, ind + 2);
	}
}

static void emit_key(struct emitter *e, const char *k, size_t n)
{
	if (can_be_plain(k, n))
		put(e, k, n);
	else
		emit_double_quoted(e, k, n);
}

static void emit_node(struct emitter *e, const json_t *v, size_t ind,
		      bool first_inline)
{
	bool first = true;

	if (e->rc)
		return;
	if (++e->depth > MAX_DEPTH) {
		e->rc = KF_ETOOBIG;
		e->why = "nesting deeper than 5000 levels";
		return;
	}
	if (json_is_object(v)) {
		void *it;

		for (it = json_object_iter((json_t *)v); it;
		     it = json_object_iter_next((json_t *)v, it)) {
			const char *k = json_object_iter_key(it);
			size_t klen = json_object_iter_key_len(it);
			const json_t *val = json_object_iter_value(it);

			if (!(first && first_inline))
				indent(e, ind);
			first = false;
			if (klen > MAX_SIMPLE_KEY) {
				/* explicit key: "? key" then ": value" */
				puts_(e, "? ");
				emit_double_quoted(e, k, klen);
				put(e, "\n", 1);
				indent(e, ind);
				put(e, ":", 1);
			} else {
				emit_key(e, k, klen);
				put(e, ":", 1);
			}
			emit_after_indicator(e, val, ind, false);
		}
	} else if (json_is_array(v)) {
		size_t i;
		const json_t *el;

		json_array_foreach((json_t *)v, i, el) {
			if (!(first && first_inline))
				indent(e, ind);
			first = false;
			put(e, "-", 1);
			emit_after_indicator(e, el, ind, true);
		}
	} else {
		emit_scalar_line(e, v, ind + 2);
	}
	e->depth--;
}

int kf_yaml_emit(struct kf_buf *out, const json_t *v, bool doc_start,
		 struct kf_err **err)
{
	struct emitter e = { out, 0, 0, "output too large" };
	size_t start = out->len;

	if (!v)
		return kf_err_set(err, KF_EINVAL, "yaml emit: no value");
	if (doc_start)
		puts_(&e, "---\n");
	if (json_is_object(v) && json_object_size(v) == 0)
		puts_(&e, "{}\n");
	else if (json_is_array(v) && json_array_size(v) == 0)
		puts_(&e, "[]\n");
	else
		emit_node(&e, v, 0, false);
	if (e.rc) {
		kf_buf_setlen(out, start);
		return kf_err_set(err, e.rc, "yaml emit: %s", e.why);
	}
	return 0;
}
