/*
 * subst.c - variable substitution in rendered YAML, with Flux's post-build
 * semantics: ${VAR} is replaced by the environment's value, ${VAR:=default}
 * (or ${VAR:-default}) by the value or, when it is unset or empty, the
 * default; $${VAR} is the escape and leaves the literal text ${VAR}. $VAR
 * without braces is not touched. A variable with no value and no default is
 * an error naming file:line:col, never an empty string. Documents annotated
 * `kustomize.toolkit.fluxcd.io/substitute: disabled` (Flux's opt-out) are
 * copied unchanged, and so are full-line comments.
 *
 * It works on text, before parsing, as Flux does: `replicas: ${REPLICAS}`
 * becomes the integer the value spells.
 */
#include <ctype.h>
#include <string.h>

#include "gitops.h"

#define OPT_OUT "kustomize.toolkit.fluxcd.io/substitute: disabled"

static const char *lookup(const struct kf_subst_vars *v, const char *name, size_t n)
{
	for (size_t i = 0; v && i < v->n; i++)
		if (strlen(v->keys[i]) == n && !memcmp(v->keys[i], name, n))
			return v->vals[i];
	return NULL;
}

/* End of the document that starts at `p` (the next "---" line or end). */
static const char *doc_end(const char *p, const char *end)
{
	const char *l = p;

	while (l < end) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));

		if (l != p && end - l >= 3 && !memcmp(l, "---", 3) &&
		    (l + 3 == end || l[3] == '\n' || l[3] == ' ' || l[3] == '\r'))
			return l;
		l = nl ? nl + 1 : end;
	}
	return end;
}

static bool contains(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	for (; end - p >= (ptrdiff_t)n; p++)
		if (*p == needle[0] && !memcmp(p, needle, n))
			return true;
	return false;
}

int kf_subst(struct kf_buf *out, const char *in, size_t len, const char *file,
	     const struct kf_subst_vars *vars, struct kf_diags *diags)
{
	const char *p = in, *end = in + len;
	size_t before = diags->n;
	int line = 1;

	while (p < end) {
		const char *dend = doc_end(p, end);
		bool skip = contains(p, dend, OPT_OUT);
		const char *ls = p; /* start of the current line */

		while (p < dend) {
			if (p == ls) {
				const char *q = p;

				while (q < dend && (*q == ' ' || *q == '\t'))
					q++;
				if (skip || (q < dend && *q == '#')) {
					const char *nl = memchr(p, '\n', (size_t)(dend - p));
					const char *e2 = nl ? nl + 1 : dend;

					kf_buf_add(out, p, (size_t)(e2 - p));
					if (nl)
						line++;
					p = ls = e2;
					continue;
				}
			}
			if (*p == '\n') {
				kf_buf_addch(out, '\n');
				line++;
				p++;
				ls = p;
				continue;
			}
			if (p[0] == '$' && dend - p >= 3 && p[1] == '$' && p[2] == '{') {
				kf_buf_adds(out, "${");
				p += 3;
				continue;
			}
			if (p[0] == '$' && dend - p >= 2 && p[1] == '{') {
				const char *name = p + 2, *q = name, *def = NULL, *close;
				const char *val;
				size_t nlen;

				if (q < dend && (isalpha((unsigned char)*q) || *q == '_'))
					while (q < dend && (isalnum((unsigned char)*q) || *q == '_'))
						q++;
				nlen = (size_t)(q - name);
				if (!nlen) {
					kf_buf_addch(out, *p++);
					continue;
				}
				if (q + 1 < dend && q[0] == ':' && (q[1] == '=' || q[1] == '-'))
					def = q + 2;
				close = def ? def : q;
				while (close < dend && *close != '}' && *close != '\n')
					close++;
				if (close >= dend || *close != '}' || (!def && close != q)) {
					/* Not a well-formed reference: keep the text. */
					kf_buf_addch(out, *p++);
					continue;
				}
				val = lookup(vars, name, nlen);
				if (def && (!val || !*val))
					kf_buf_add(out, def, (size_t)(close - def));
				else if (val)
					kf_buf_adds(out, val);
				else
					kf_diags_add(diags, file, line, (int)(p - ls) + 1,
						     "variable '%.*s' is not set and has no default (add it to the environment's substitute, or write ${%.*s:=default})",
						     (int)nlen, name, (int)nlen, name);
				p = close + 1;
				continue;
			}
			kf_buf_addch(out, *p++);
		}
	}
	return diags->n > before ? KF_EINVAL : 0;
}
