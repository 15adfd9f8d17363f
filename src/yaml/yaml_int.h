/*
 * yaml_int.h - private interface between the files of the yaml module:
 * scalar resolution (resolve.c), used by the loader (load.c) and by the
 * emitter (emit.c) to decide which strings need quotes.
 */
#ifndef KF_YAML_INT_H
#define KF_YAML_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a scalar resolves to, following go-yaml v2 (what Kubernetes runs). */
enum kf_scalar_kind {
	KF_SC_STR,    /* the text itself */
	KF_SC_NULL,
	KF_SC_BOOL,
	KF_SC_INT,    /* fits int64 */
	KF_SC_UINT,   /* > INT64_MAX, fits uint64 (Go: uint64) */
	KF_SC_FLOAT,  /* finite, infinite or NaN */
	KF_SC_BINARY, /* !!binary: the text is base64 to decode */
};

struct kf_scalar {
	enum kf_scalar_kind kind;
	bool b;
	int64_t i;
	uint64_t u;
	double f;
};

/* The long form of the standard tags, as libyaml reports them. */
#define KF_TAG_PREFIX "tag:yaml.org,2002:"

/*
 * Resolve one scalar. `tag` is the tag libyaml reported (NULL or "" for
 * none), `plain` whether the scalar was plain (unquoted, not a block
 * scalar). On a tag the value does not fit ("!!int abc"), returns -1 and
 * points *why at a static description of the resolved type ("!!str") for
 * the caller's message.
 */
int kf_yaml_resolve(struct kf_scalar *out, const char *tag, bool plain,
		    const char *s, size_t n, const char **why);

/* Would this text, written as a plain scalar, load as something other
 * than the same string? (The emitter quotes it when true.) */
bool kf_yaml_plain_is_special(const char *s, size_t n);

/* Format a float map key as Go's strconv.FormatFloat(f, 'g', -1, 32), with
 * go-yaml's names for the infinities and NaN. out holds 48 bytes. */
void kf_yaml_float_key(double f, char out[48]);

/* Standard base64 (with padding; CR and LF ignored, as Go's decoder does).
 * Returns false on bad input. *out is kf_xmalloc'd, NUL-terminated. */
bool kf_yaml_b64_decode(const char *s, size_t n, char **out, size_t *outlen);

/* Replace each byte that is not part of valid UTF-8 with U+FFFD, as Go's
 * encoding/json does when it marshals a string. *out is kf_xmalloc'd. */
void kf_yaml_utf8_sanitize(const char *s, size_t n, char **out,
			   size_t *outlen);

#endif
