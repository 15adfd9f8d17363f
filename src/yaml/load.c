/*
 * load.c - the YAML loader: libyaml events in, jansson values out, with the
 * file:line:column of every node.
 *
 * One pass over libyaml's event stream (yaml_parser_parse) with an explicit
 * stack of open mappings and sequences; no node tree is built. Scalars are
 * resolved as Kubernetes does (resolve.c). Positions cannot be attached to
 * jansson values (true, false and null are shared singletons), so they are
 * recorded against the container that holds them:
 *
 *   (container)          -> where the mapping / sequence starts
 *   (object, key)        -> where the key and its value start
 *   (array, index)       -> where the element starts
 *
 * While loading, records are only appended to one flat array (member keys
 * go to one growing byte arena), which costs next to nothing per node. When
 * the stream is done, one open-addressing hash table (linear probing,
 * power-of-two size, 32-bit slot = record number) is built over the array.
 *
 * Anchors map to the finished jansson value, and an alias is a deep copy of
 * it (never a shared reference: callers change documents in place, and a
 * label added to metadata.labels must not appear in a selector that was
 * written as an alias of the same map). Each anchor remembers its logical
 * size (nodes after expansion), the bytes of scalar text it holds and its
 * height, so that every limit counts what an alias expands to and is
 * checked in O(1) before anything is copied: the node limit, the depth
 * limit (an alias at depth d of an anchor h levels high nests d + h deep),
 * the scalar-bytes limit, and go-yaml's alias ratio (the check Kubernetes
 * runs: past 400,000 nodes, ever fewer of them may come from aliases). A
 * "billion laughs" document or a 20,000-deep alias chain therefore fails
 * at once, with little memory, at the alias's file:line:col. The copy gets
 * position records of its own, all at the alias.
 *
 * Merge keys (<<) are applied when their mapping ends: explicit keys win,
 * and among merged maps the earlier wins. Positions of merged members point
 * into the map they came from.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "yaml.h"
#include "yaml_int.h"

#define DEFAULT_MAX_NODES ((size_t)10 * 1000 * 1000)
#define DEFAULT_MAX_DEPTH ((size_t)1000)
#define DEFAULT_MAX_BYTES ((size_t)128 * 1024 * 1024)
/* go-yaml's alias ratio bounds (yaml.v2 decode.go, allowedAliasRatio) */
#define ALIAS_RATIO_LOW 400000.0
#define ALIAS_RATIO_HIGH 4000000.0

/* key_len markers for records that are not object members */
#define REC_SELF UINT32_MAX
#define REC_INDEX (UINT32_MAX - 1)
#define REC_MAXKEY (UINT32_MAX - 16)

/*
 * One position record. For a member whose value was merged in (<<) the
 * key position is not known until the index is built: `src` names the
 * mapping it came from and vline is 0 until then.
 */
struct rec {
	const void *c; /* the container */
	uint64_t k;    /* index, or hash of the key (set when indexing) */
	uint32_t key_off, key_len;
	union {
		struct {
			uint32_t line, col;
		} key;
		const void *src;
	} u;
	uint32_t vline, vcol;
};

struct doc {
	json_t *root;
	uint32_t line, col;
};

struct kf_yaml_docs {
	char *name;
	struct doc *docs;
	size_t ndocs, adocs;
	struct rec *recs;
	size_t nrecs, arecs;
	char *keys; /* member key bytes, referenced by offset */
	size_t nkeys, akeys;
	uint32_t *slots; /* record number + 1; 0 = empty */
	size_t mask;
	json_t *keep; /* merge sources that are not part of any document */
};

struct anchor {
	char *name; /* NULL = free slot */
	json_t *v;
	size_t count;  /* logical nodes */
	size_t bytes;  /* scalar text bytes */
	size_t height; /* 0 for a scalar, 1 + the highest child otherwise */
};

struct frame {
	json_t *node;
	char *anchor;
	size_t count;      /* logical nodes in this subtree so far */
	size_t bytes0;     /* l->bytes when this node started */
	size_t height;     /* 1 + the highest child so far */
	size_t merge_base; /* first of this mapping's merge sources */
	uint32_t line, col;
	bool is_map;
	bool have_key;
	bool key_merge;
	uint32_t key_off, key_len, kline, kcol;
};

struct loader {
	struct kf_yaml_docs *d;
	const char *data;
	size_t len;
	yaml_parser_t parser;
	struct frame *stack;
	size_t depth, astack;
	json_t **merges;
	size_t nmerges, amerges;
	struct anchor *anchors;
	size_t nanchors, aanchors; /* aanchors: power of two or 0 */
	json_t *root;
	size_t total; /* logical nodes in the current document */
	size_t aliased; /* of those, how many came from aliases */
	size_t bytes;   /* scalar text bytes in the current document */
	size_t max_nodes, max_depth, max_bytes;
	struct kf_err **err;
};

/* ---- hashing ---------------------------------------------------------- */

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
	uint64_t v;

	while (n >= 8) {
		memcpy(&v, p, 8);
		h = (h ^ v) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
		p += 8;
		n -= 8;
	}
	v = 0;
	memcpy(&v, p, n);
	h = (h ^ v) * 0x94d049bb133111ebULL;
	return h ^ (h >> 29);
}

static inline uint64_t slot_hash(const void *c, uint64_t k, uint32_t kind)
{
	return mix64((uint64_t)(uintptr_t)c * 0x9E3779B97F4A7C15ULL ^ k ^
		     ((uint64_t)kind << 40));
}

static uint32_t rec_kind(const struct rec *r)
{
	return r->key_len >= REC_INDEX ? r->key_len : 0;
}

/* ---- errors ----------------------------------------------------------- */

static int fail_at(struct loader *l, uint32_t line, uint32_t col,
		   const char *fmt, ...) KF_PRINTF(4, 5);

static int fail_at(struct loader *l, uint32_t line, uint32_t col,
		   const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int rc;

	va_start(ap, fmt);
	msg = kf_xvasprintf(fmt, ap);
	va_end(ap);
	rc = kf_err_set(l->err, KF_EINVAL, "%s:%" PRIu32 ":%" PRIu32 ": %s",
			l->d->name, line, col, msg);
	free(msg);
	return rc;
}

/* Line and column (1-based, in characters) of a byte offset. */
static void offset_pos(const char *data, size_t len, size_t off,
		       uint32_t *line, uint32_t *col)
{
	uint32_t ln = 1, cl = 1;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c == '\n' || (c == '\r' && (i + 1 >= len || data[i + 1] != '\n'))) {
			ln++;
			cl = 1;
		} else if ((c & 0xC0) != 0x80) {
			cl++;
		}
	}
	*line = ln;
	*col = cl;
}

/* The byte at a libyaml mark (0-based line, column in characters), or -1. */
static int byte_at_mark(const char *data, size_t len, size_t line, size_t col)
{
	size_t i = 0, ln = 0, cl = 0;

	while (i < len && ln < line) {
		if (data[i] == '\n' ||
		    (data[i] == '\r' && (i + 1 >= len || data[i + 1] != '\n')))
			ln++;
		i++;
	}
	while (i < len && cl < col) {
		i++;
		while (i < len && ((unsigned char)data[i] & 0xC0) == 0x80)
			i++;
		cl++;
	}
	return i < len ? (unsigned char)data[i] : -1;
}

/*
 * libyaml's scanner and parser problems, said in words, with what to do.
 * `at` is filled with where the construct started ("the map starts at line
 * 4, column 19") when libyaml gives a context. NULL when there is no
 * better wording than libyaml's.
 */
static const struct {
	const char *problem, *context, *words;
} yaml_words[] = {
	{ "did not find expected ',' or '}'", "flow mapping",
	  "a { } map is not closed: a ',' or '}' is missing%s; add it, or quote a value that holds ':', '{' or ','" },
	{ "did not find expected ',' or ']'", "flow sequence",
	  "a [ ] list is not closed: a ',' or ']' is missing%s; add it, or quote a value that holds ',' or '['" },
	{ "found unexpected end of stream", "quoted scalar",
	  "the file ends inside a quoted string%s: add the closing quote" },
	{ "found unexpected end of stream", NULL,
	  "the file ends in the middle of a value%s: close what is open" },
	{ "did not find expected '-' indicator", "block collection",
	  "a list entry must start with '- ' at the list's indentation%s: add '- ', or indent this line under an entry" },
	{ "found character that cannot start any token", NULL,
	  "this character cannot start a value ('@', '`' and '%%' are reserved in YAML)%s: quote the value" },
	{ "mapping values are not allowed in this context", NULL,
	  "a ':' where no map value can start%s: quote a value that holds ': ', or put the key on its own line" },
	{ "could not find expected ':'", "simple key",
	  "a key without ':'%s: add ': ' after the key, or quote the text if it is a value" },
	{ "did not find expected key", "block mapping",
	  "this line does not fit the indentation of the map around it%s: line the key up with the keys above" },
	{ "did not find expected node content", NULL,
	  "a value is missing here%s: write one, or 'null'" },
	{ "found unknown escape character", NULL,
	  "a double-quoted string has an escape YAML does not know%s: write '\\\\' for a backslash, or use single quotes" },
	{ "found undefined tag handle", NULL,
	  "an undefined tag handle ('!x!...')%s: remove the tag or quote the value" },
	{ "block sequence entries are not allowed in this context", NULL,
	  "a '- ' list cannot start on the same line as a key's value%s: put the list on the next lines, indented" },
	{ "did not find expected <document start>", NULL,
	  "something follows the end of a document%s: start a new document with '---' or remove it" },
};

static const char *yaml_context_noun(const char *context)
{
	if (strstr(context, "flow mapping"))
		return "the map starts";
	if (strstr(context, "flow sequence"))
		return "the list starts";
	if (strstr(context, "quoted scalar"))
		return "the string starts";
	if (strstr(context, "block collection") || strstr(context, "block sequence"))
		return "the list starts";
	if (strstr(context, "block mapping"))
		return "the map starts";
	if (strstr(context, "simple key"))
		return "the key starts";
	return "it starts";
}

static int parser_error(struct loader *l)
{
	yaml_parser_t *p = &l->parser;
	uint32_t line, col;
	const char *problem = p->problem ? p->problem : "unknown error";
	int c;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		fprintf(stderr, "fatal: out of memory in libyaml\n");
		abort();
	case YAML_READER_ERROR:
		/* invalid UTF-8 (or UTF-16), control characters: libyaml
		 * gives the byte offset and the offending byte or code */
		offset_pos(l->data, l->len, p->problem_offset, &line, &col);
		if (strstr(problem, "Unicode") && p->problem_value != -1)
			return fail_at(l, line, col, "invalid UTF-8: %s U+%04X",
				       problem, (unsigned)p->problem_value);
		if (strstr(problem, "UTF-8") && p->problem_value != -1)
			return fail_at(l, line, col, "invalid UTF-8: %s 0x%02X",
				       problem, (unsigned)p->problem_value & 0xFFu);
		if (strstr(problem, "UTF-8"))
			return fail_at(l, line, col, "invalid UTF-8: %s", problem);
		if (p->problem_value != -1)
			return fail_at(l, line, col, "%s (character U+%04X)",
				       problem, (unsigned)p->problem_value);
		return fail_at(l, line, col, "%s", problem);
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
		line = (uint32_t)p->problem_mark.line + 1;
		col = (uint32_t)p->problem_mark.column + 1;
		c = byte_at_mark(l->data, l->len, p->problem_mark.line,
				 p->problem_mark.column);
		if (c == '\t' || strstr(problem, "tab"))
			return fail_at(l, line, col,
				       "found a tab character where YAML allows only spaces (tabs cannot indent): indent with spaces");
		for (size_t i = 0; i < sizeof(yaml_words) / sizeof(yaml_words[0]); i++) {
			char at[96] = "";

			if (strcmp(problem, yaml_words[i].problem))
				continue;
			if (yaml_words[i].context && (!p->context || !strstr(p->context, yaml_words[i].context)))
				continue;
			if (p->context && (p->context_mark.line + 1 != line || p->context_mark.column + 1 != col))
				snprintf(at, sizeof(at), " (%s at line %zu, column %zu)", yaml_context_noun(p->context),
					 p->context_mark.line + 1, p->context_mark.column + 1);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			return fail_at(l, line, col, yaml_words[i].words, at);
#pragma GCC diagnostic pop
		}
		if (p->context)
			return fail_at(l, line, col, "%s (%s at line %zu, column %zu)",
				       problem, p->context,
				       p->context_mark.line + 1,
				       p->context_mark.column + 1);
		return fail_at(l, line, col, "%s", problem);
	default:
		return fail_at(l, 1, 1, "YAML error: %s", problem);
	}
}

/* ---- records ---------------------------------------------------------- */

static struct rec *rec_add(struct kf_yaml_docs *d)
{
	if (d->nrecs == d->arecs)
		kf_xgrow((void **)&d->recs, &d->arecs, d->nrecs + 1,
			 sizeof(*d->recs));
	return &d->recs[d->nrecs++];
}

static int key_store(struct loader *l, const char *s, size_t n,
		     uint32_t *off, uint32_t line, uint32_t col)
{
	struct kf_yaml_docs *d = l->d;

	if (n > REC_MAXKEY || d->nkeys + n > UINT32_MAX)
		return fail_at(l, line, col, "mapping key or document too large");
	if (d->nkeys + n > d->akeys)
		kf_xgrow((void **)&d->keys, &d->akeys, d->nkeys + n, 1);
	memcpy(d->keys + d->nkeys, s, n);
	*off = (uint32_t)d->nkeys;
	d->nkeys += n;
	return 0;
}

/* ---- anchors ---------------------------------------------------------- */

static struct anchor *anchor_find(struct loader *l, const char *name)
{
	size_t mask, i;

	if (!l->aanchors)
		return NULL;
	mask = l->aanchors - 1;
	for (i = hash_bytes(name, strlen(name)) & mask; l->anchors[i].name;
	     i = (i + 1) & mask)
		if (strcmp(l->anchors[i].name, name) == 0)
			return &l->anchors[i];
	return NULL;
}

static void anchor_put_slot(struct anchor *tab, size_t size, struct anchor a)
{
	size_t mask = size - 1, i;

	for (i = hash_bytes(a.name, strlen(a.name)) & mask; tab[i].name;
	     i = (i + 1) & mask)
		;
	tab[i] = a;
}

/* Takes ownership of name and of a reference to v. */
static void anchor_set(struct loader *l, char *name, json_t *v, size_t count,
		       size_t bytes, size_t height)
{
	struct anchor *a = anchor_find(l, name);

	if (a) { /* redefined: the later definition wins from here on */
		free(name);
		json_decref(a->v);
		a->v = v;
		a->count = count;
		a->bytes = bytes;
		a->height = height;
		return;
	}
	if ((l->nanchors + 1) * 2 > l->aanchors) {
		size_t size = l->aanchors ? l->aanchors * 2 : 16;
		struct anchor *tab = kf_xcalloc(size, sizeof(*tab));

		for (size_t i = 0; i < l->aanchors; i++)
			if (l->anchors[i].name)
				anchor_put_slot(tab, size, l->anchors[i]);
		free(l->anchors);
		l->anchors = tab;
		l->aanchors = size;
	}
	anchor_put_slot(l->anchors, l->aanchors,
			(struct anchor){ name, v, count, bytes, height });
	l->nanchors++;
}

static void anchors_clear(struct loader *l)
{
	for (size_t i = 0; i < l->aanchors; i++) {
		if (!l->anchors[i].name)
			continue;
		free(l->anchors[i].name);
		json_decref(l->anchors[i].v);
		l->anchors[i].name = NULL;
	}
	l->nanchors = 0;
}

/* ---- building values -------------------------------------------------- */

static int count_nodes(struct loader *l, size_t n, uint32_t line, uint32_t col)
{
	if (n > l->max_nodes || l->total > l->max_nodes - n)
		return fail_at(l, line, col,
			       "document expands to more than %zu nodes through aliases (limit reached; is this a \"billion laughs\" file?)",
			       l->max_nodes);
	l->total += n;
	return 0;
}

static int count_bytes(struct loader *l, size_t n, uint32_t line, uint32_t col)
{
	if (n > l->max_bytes || l->bytes > l->max_bytes - n)
		return fail_at(l, line, col,
			       "document holds more than %zu bytes of text once aliases are expanded (limit reached)",
			       l->max_bytes);
	l->bytes += n;
	return 0;
}

/* go-yaml's allowedAliasRatio: what Kubernetes accepts. */
static int check_alias_ratio(struct loader *l, uint32_t line, uint32_t col)
{
	double total = (double)l->total, ratio;

	if (l->aliased <= 100 || l->total <= 1000)
		return 0;
	if (total <= ALIAS_RATIO_LOW)
		ratio = 0.99;
	else if (total >= ALIAS_RATIO_HIGH)
		ratio = 0.10;
	else
		ratio = 0.99 - 0.89 * ((total - ALIAS_RATIO_LOW) /
				       (ALIAS_RATIO_HIGH - ALIAS_RATIO_LOW));
	if ((double)l->aliased / total > ratio)
		return fail_at(l, line, col,
			       "document contains excessive aliasing (%zu of %zu nodes come from aliases; is this a \"billion laughs\" file?)",
			       l->aliased, l->total);
	return 0;
}

/* Attach a finished value (we own one reference) to the open container or
 * make it the document root. */
static int add_value(struct loader *l, json_t *v, uint32_t line, uint32_t col,
		     size_t count, size_t height)
{
	struct frame *f;
	struct rec *r;
	size_t before;

	if (l->depth == 0) {
		l->root = v;
		return 0;
	}
	f = &l->stack[l->depth - 1];
	f->count += count;
	if (height + 1 > f->height)
		f->height = height + 1;
	if (!f->is_map) {
		r = rec_add(l->d);
		r->c = f->node;
		r->k = json_array_size(f->node);
		r->key_off = 0;
		r->key_len = REC_INDEX;
		r->vline = line;
		r->vcol = col;
		json_array_append_new(f->node, v);
		return 0;
	}
	f->have_key = false;
	if (f->key_merge) {
		f->key_merge = false;
		if (json_is_array(v)) {
			size_t i;
			json_t *e;

			json_array_foreach(v, i, e)
				if (!json_is_object(e))
					break;
			if (i < json_array_size(v)) {
				json_decref(v);
				return fail_at(l, line, col,
					       "map merge requires map or sequence of maps as the value");
			}
			json_array_foreach(v, i, e) {
				kf_xgrow((void **)&l->merges, &l->amerges,
					 l->nmerges + 1, sizeof(*l->merges));
				l->merges[l->nmerges++] = json_incref(e);
			}
		} else if (json_is_object(v)) {
			kf_xgrow((void **)&l->merges, &l->amerges,
				 l->nmerges + 1, sizeof(*l->merges));
			l->merges[l->nmerges++] = json_incref(v);
		} else {
			json_decref(v);
			return fail_at(l, line, col,
				       "map merge requires map or sequence of maps as the value");
		}
		/* Keep the source alive: records point at it, and its
		 * address must not be reused by a later container. */
		json_array_append_new(l->d->keep, v);
		return 0;
	}
	r = rec_add(l->d);
	r->c = f->node;
	r->k = 0;
	r->key_off = f->key_off;
	r->key_len = f->key_len;
	r->u.key.line = f->kline;
	r->u.key.col = f->kcol;
	r->vline = line;
	r->vcol = col;
	before = json_object_size(f->node);
	if (json_object_setn_new_nocheck(f->node, l->d->keys + f->key_off,
					 f->key_len, v) < 0) {
		fprintf(stderr, "fatal: out of memory\n");
		abort();
	}
	if (json_object_size(f->node) == before) {
		/* Duplicate: find where it was first defined. */
		const char *key = l->d->keys + f->key_off;
		uint32_t first = 0;

		for (size_t i = l->d->nrecs - 1; i-- > 0;) {
			struct rec *o = &l->d->recs[i];

			if (o->c == f->node && o->key_len == f->key_len &&
			    memcmp(l->d->keys + o->key_off, key, f->key_len) == 0) {
				first = o->u.key.line;
				break;
			}
		}
		return fail_at(l, f->kline, f->kcol,
			       "mapping key \"%.*s\" already defined at line %" PRIu32,
			       (int)(f->key_len > 200 ? 200 : f->key_len), key,
			       first);
	}
	return 0;
}

/* A JSON value from a resolved scalar; NULL with an error on failure. */
static json_t *scalar_value(struct loader *l, const struct kf_scalar *sc,
			    const char *s, size_t n, uint32_t line, uint32_t col)
{
	char *raw, *txt;
	size_t rawlen, txtlen;
	json_t *v;

	switch (sc->kind) {
	case KF_SC_NULL:
		return json_null();
	case KF_SC_BOOL:
		return json_boolean(sc->b);
	case KF_SC_INT:
		return json_integer((json_int_t)sc->i);
	case KF_SC_UINT:
		/* Beyond int64: Kubernetes decodes such a JSON number as a
		 * float64, so do the same. */
		return json_real((double)sc->u);
	case KF_SC_FLOAT:
		if (!isfinite(sc->f)) {
			fail_at(l, line, col,
				"cannot represent \"%.*s\" in JSON (infinity and NaN are not allowed)",
				(int)(n > 40 ? 40 : n), s);
			return NULL;
		}
		/* Kubernetes marshals the float64 to JSON text with
		 * encoding/json ("1000", not "1000.0") and reads that back
		 * as an int64 when it fits: so does 1e3, 1.0 or !!float 1
		 * reach the API server, and so must it here. */
		if (sc->f == trunc(sc->f) && sc->f >= -9223372036854775808.0 &&
		    sc->f < 9223372036854775808.0)
			return json_integer((json_int_t)sc->f);
		return json_real(sc->f);
	case KF_SC_BINARY:
		if (!kf_yaml_b64_decode(s, n, &raw, &rawlen)) {
			fail_at(l, line, col,
				"!!binary value contains invalid base64 data");
			return NULL;
		}
		/* Kubernetes sees the decoded bytes as a string; JSON
		 * replaces what is not UTF-8 with U+FFFD. */
		kf_yaml_utf8_sanitize(raw, rawlen, &txt, &txtlen);
		v = json_stringn_nocheck(txt, txtlen);
		free(raw);
		free(txt);
		return v;
	case KF_SC_STR:
	default:
		/* libyaml has checked that the input is UTF-8. */
		return json_stringn_nocheck(s, n);
	}
}

/* The JSON object key Kubernetes makes of a scalar key (sigs.k8s.io/yaml's
 * convertToJSONableObject). Returns the key stored in the arena. */
static int key_from_value(struct loader *l, const json_t *v, uint32_t *off,
			  uint32_t *len, uint32_t line, uint32_t col)
{
	char buf[48];
	const char *s = buf;
	size_t n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		s = json_string_value(v);
		n = json_string_length(v);
		break;
	case JSON_INTEGER:
		n = (size_t)snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
				     json_integer_value(v));
		break;
	case JSON_REAL:
		kf_yaml_float_key(json_real_value(v), buf);
		n = strlen(buf);
		break;
	case JSON_TRUE:
		s = "true";
		n = 4;
		break;
	case JSON_FALSE:
		s = "false";
		n = 5;
		break;
	case JSON_NULL:
		return fail_at(l, line, col,
			       "invalid map key: null (Kubernetes cannot turn it into a JSON key)");
	default:
		return fail_at(l, line, col,
			       "invalid map key: a mapping or sequence cannot be a key");
	}
	*len = (uint32_t)n;
	return key_store(l, s, n, off, line, col);
}

/* go-yaml's isMerge: the text "<<", plain and untagged or tagged !!merge. */
static bool is_merge_key(const yaml_event_t *ev)
{
	const char *tag = (const char *)ev->data.scalar.tag;

	if (ev->data.scalar.length != 2 ||
	    memcmp(ev->data.scalar.value, "<<", 2) != 0)
		return false;
	if (tag)
		return strcmp(tag, KF_TAG_PREFIX "merge") == 0;
	return ev->data.scalar.plain_implicit;
}

static int on_scalar(struct loader *l, yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	uint32_t line = (uint32_t)ev->start_mark.line + 1;
	uint32_t col = (uint32_t)ev->start_mark.column + 1;
	struct frame *f = l->depth ? &l->stack[l->depth - 1] : NULL;
	bool is_key = f && f->is_map && !f->have_key;
	struct kf_scalar sc;
	const char *why = NULL;
	json_t *v = NULL;
	int rc;

	rc = count_nodes(l, 1, line, col);
	if (!rc)
		rc = count_bytes(l, n, line, col);
	if (rc)
		return rc;
	if (is_key && is_merge_key(ev)) {
		f->have_key = true;
		f->key_merge = true;
		f->kline = line;
		f->kcol = col;
		return 0;
	}
	if (kf_yaml_resolve(&sc, (const char *)ev->data.scalar.tag,
			    ev->data.scalar.plain_implicit, s, n, &why) < 0) {
		const char *tag = (const char *)ev->data.scalar.tag;
		size_t plen = sizeof(KF_TAG_PREFIX) - 1;

		return fail_at(l, line, col, "cannot decode %s `%.*s` as a !!%s",
			       why, (int)(n > 80 ? 80 : n), s, tag + plen);
	}
	if (is_key && sc.kind == KF_SC_STR && !ev->data.scalar.anchor) {
		/* The common case: no jansson value needed for a key. */
		rc = key_store(l, s, n, &f->key_off, line, col);
		if (rc)
			return rc;
		f->key_len = (uint32_t)n;
		f->kline = line;
		f->kcol = col;
		f->have_key = true;
		return 0;
	}
	if (is_key && sc.kind == KF_SC_FLOAT && !ev->data.scalar.anchor) {
		/* ".inf: x" gives the key ".inf", though .inf is no JSON
		 * value */
		char buf[48];

		kf_yaml_float_key(sc.f, buf);
		f->key_len = (uint32_t)strlen(buf);
		rc = key_store(l, buf, f->key_len, &f->key_off, line, col);
		if (rc)
			return rc;
		f->kline = line;
		f->kcol = col;
		f->have_key = true;
		return 0;
	}
	if (is_key && sc.kind == KF_SC_UINT)
		return fail_at(l, line, col,
			       "invalid map key: %.*s is beyond int64 (Kubernetes cannot turn it into a JSON key)",
			       (int)n, s);
	v = scalar_value(l, &sc, s, n, line, col);
	if (!v)
		return KF_EINVAL;
	if (ev->data.scalar.anchor) {
		anchor_set(l, (char *)ev->data.scalar.anchor, json_incref(v), 1,
			   n, 0);
		ev->data.scalar.anchor = NULL; /* stolen */
	}
	if (is_key) {
		rc = key_from_value(l, v, &f->key_off, &f->key_len, line, col);
		json_decref(v);
		if (rc)
			return rc;
		f->kline = line;
		f->kcol = col;
		f->have_key = true;
		return 0;
	}
	return add_value(l, v, line, col, 1, 0);
}

/*
 * A deep copy of an anchored value, with position records for every
 * container, member and element in it that point at the same record of
 * the original (u.src, vline 0): build_index resolves them, so a value in
 * the copy is located where it is written. The recursion is bounded by the
 * depth limit, checked before the call.
 */
static json_t *copy_value(struct loader *l, const json_t *v)
{
	json_t *c, *e;
	struct rec *r;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		size_t klen;

		c = json_object();
		r = rec_add(l->d);
		*r = (struct rec){ .c = c, .key_len = REC_SELF, .u.src = v };
		json_object_keylen_foreach((json_t *)v, k, klen, e) {
			uint32_t off = 0;

			if (key_store(l, k, klen, &off, 1, 1)) {
				json_decref(c);
				return NULL;
			}
			json_t *ce = copy_value(l, e);

			if (!ce) {
				json_decref(c);
				return NULL;
			}
			r = rec_add(l->d);
			*r = (struct rec){ .c = c, .key_off = off,
					   .key_len = (uint32_t)klen, .u.src = v };
			json_object_setn_new_nocheck(c, l->d->keys + off, klen, ce);
		}
		return c;
	}
	case JSON_ARRAY:
		c = json_array();
		r = rec_add(l->d);
		*r = (struct rec){ .c = c, .key_len = REC_SELF, .u.src = v };
		json_array_foreach(v, i, e) {
			json_t *ce = copy_value(l, e);

			if (!ce) {
				json_decref(c);
				return NULL;
			}
			r = rec_add(l->d);
			*r = (struct rec){ .c = c, .k = i, .key_len = REC_INDEX,
					   .u.src = v };
			json_array_append_new(c, ce);
		}
		return c;
	default:
		/* strings and numbers are copied too; true, false and
		 * null are jansson's shared constants */
		return json_copy((json_t *)v);
	}
}

static int on_alias(struct loader *l, yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	uint32_t line = (uint32_t)ev->start_mark.line + 1;
	uint32_t col = (uint32_t)ev->start_mark.column + 1;
	struct frame *f = l->depth ? &l->stack[l->depth - 1] : NULL;
	struct anchor *a = anchor_find(l, name);
	int rc;

	if (!a) {
		for (size_t i = 0; i < l->depth; i++)
			if (l->stack[i].anchor &&
			    strcmp(l->stack[i].anchor, name) == 0)
				return fail_at(l, line, col,
					       "anchor '%s' value contains itself",
					       name);
		return fail_at(l, line, col, "unknown anchor '%s' referenced",
			       name);
	}
	rc = count_nodes(l, a->count, line, col);
	if (!rc)
		rc = count_bytes(l, a->bytes, line, col);
	if (rc)
		return rc;
	l->aliased += a->count;
	rc = check_alias_ratio(l, line, col);
	if (rc)
		return rc;
	if (a->height && l->depth + a->height > l->max_depth)
		return fail_at(l, line, col,
			       "alias *%s nests deeper than %zu levels once expanded",
			       name, l->max_depth);
	if (f && f->is_map && !f->have_key) {
		rc = key_from_value(l, a->v, &f->key_off, &f->key_len, line,
				    col);
		if (rc)
			return rc;
		f->kline = line;
		f->kcol = col;
		f->have_key = true;
		return 0;
	}
	if ((f && f->is_map && f->key_merge) ||
	    (f && !f->is_map && l->depth >= 2 &&
	     l->stack[l->depth - 2].is_map &&
	     l->stack[l->depth - 2].key_merge)) {
		/* A merge source (<<: *a or <<: [*a, *b]) is only read:
		 * apply_merges copies what it takes, and positions of merged
		 * members point into the anchored map. */
		return add_value(l, json_incref(a->v), line, col, a->count,
				 a->height);
	}
	{
		json_t *v = copy_value(l, a->v);

		if (!v)
			return KF_EINVAL;
		return add_value(l, v, line, col, a->count, a->height);
	}
}

static int on_start(struct loader *l, yaml_event_t *ev, bool is_map)
{
	uint32_t line = (uint32_t)ev->start_mark.line + 1;
	uint32_t col = (uint32_t)ev->start_mark.column + 1;
	struct frame *f;
	struct rec *r;
	int rc;

	if (l->depth && l->stack[l->depth - 1].is_map &&
	    !l->stack[l->depth - 1].have_key)
		return fail_at(l, line, col,
			       "invalid map key: a mapping or sequence cannot be a key");
	if (l->depth >= l->max_depth)
		return fail_at(l, line, col, "nesting deeper than %zu levels",
			       l->max_depth);
	rc = count_nodes(l, 1, line, col);
	if (rc)
		return rc;
	kf_xgrow((void **)&l->stack, &l->astack, l->depth + 1,
		 sizeof(*l->stack));
	f = &l->stack[l->depth++];
	memset(f, 0, sizeof(*f));
	f->is_map = is_map;
	f->node = is_map ? json_object() : json_array();
	if (!f->node) {
		fprintf(stderr, "fatal: out of memory\n");
		abort();
	}
	f->count = 1;
	f->height = 1;
	f->bytes0 = l->bytes;
	f->line = line;
	f->col = col;
	f->merge_base = l->nmerges;
	if (is_map) {
		f->anchor = (char *)ev->data.mapping_start.anchor;
		ev->data.mapping_start.anchor = NULL;
	} else {
		f->anchor = (char *)ev->data.sequence_start.anchor;
		ev->data.sequence_start.anchor = NULL;
	}
	r = rec_add(l->d);
	r->c = f->node;
	r->k = 0;
	r->key_off = 0;
	r->key_len = REC_SELF;
	r->vline = line;
	r->vcol = col;
	return 0;
}

/* Merge the sources collected for the mapping in f: explicit keys win,
 * earlier sources win over later ones. */
static int apply_merges(struct loader *l, struct frame *f)
{
	for (size_t m = f->merge_base; m < l->nmerges; m++) {
		json_t *src = l->merges[m];
		void *it;

		for (it = json_object_iter(src); it;
		     it = json_object_iter_next(src, it)) {
			const char *key = json_object_iter_key(it);
			size_t klen = json_object_iter_key_len(it);
			struct rec *r;
			uint32_t off = 0;
			int rc;

			if (json_object_getn(f->node, key, klen))
				continue;
			rc = key_store(l, key, klen, &off, f->line, f->col);
			if (rc)
				return rc;
			{
				json_t *cv = copy_value(l, json_object_iter_value(it));

				if (!cv)
					return KF_EINVAL;
				json_object_setn_new_nocheck(f->node, key, klen, cv);
			}
			r = rec_add(l->d);
			r->c = f->node;
			r->k = 0;
			r->key_off = off;
			r->key_len = (uint32_t)klen;
			r->u.src = src;
			r->vline = 0; /* resolved when indexing */
			r->vcol = 0;
		}
	}
	for (size_t m = f->merge_base; m < l->nmerges; m++)
		json_decref(l->merges[m]);
	l->nmerges = f->merge_base;
	return 0;
}

static int on_end(struct loader *l)
{
	struct frame f = l->stack[--l->depth];
	int rc = 0;

	if (f.is_map && f.merge_base < l->nmerges)
		rc = apply_merges(l, &f);
	if (rc) {
		free(f.anchor);
		json_decref(f.node);
		return rc;
	}
	if (f.anchor)
		anchor_set(l, f.anchor, json_incref(f.node), f.count,
			   l->bytes - f.bytes0, f.height);
	return add_value(l, f.node, f.line, f.col, f.count, f.height);
}

/* ---- the index -------------------------------------------------------- */

/* The first slot to probe for a record; member records get the hash of
 * their key (r->k) on the way. */
static size_t rec_slot(const struct kf_yaml_docs *d, struct rec *r)
{
	if (rec_kind(r) == 0)
		r->k = hash_bytes(d->keys + r->key_off, r->key_len);
	return slot_hash(r->c, r->k, rec_kind(r)) & d->mask;
}

static void index_insert(struct kf_yaml_docs *d, size_t i, size_t s)
{
	while (d->slots[s])
		s = (s + 1) & d->mask;
	d->slots[s] = (uint32_t)(i + 1);
}

static const struct rec *index_find(const struct kf_yaml_docs *d,
				    const void *c, uint64_t k, uint32_t kind,
				    const char *key, size_t klen)
{
	size_t s;

	if (!d->slots)
		return NULL;
	for (s = slot_hash(c, k, kind) & d->mask; d->slots[s];
	     s = (s + 1) & d->mask) {
		const struct rec *r = &d->recs[d->slots[s] - 1];

		if (r->c != c || r->k != k || rec_kind(r) != kind)
			continue;
		if (kind == 0 && (r->key_len != klen ||
				  memcmp(d->keys + r->key_off, key, klen) != 0))
			continue;
		return r;
	}
	return NULL;
}

static void build_index(struct kf_yaml_docs *d)
{
	size_t size = 16;

	while (size < d->nrecs * 2)
		size *= 2;
	d->slots = kf_xcalloc(size, sizeof(*d->slots));
	d->mask = size - 1;
	/*
	 * Every insert touches a random slot, a cache miss on a big file:
	 * prefetch the slot of the record AHEAD places further on, so that
	 * the misses overlap instead of adding up.
	 */
	enum { AHEAD = 16 };
	size_t ring[AHEAD];

	for (size_t i = 0; i < d->nrecs + AHEAD; i++) {
		if (i >= AHEAD && d->recs[i - AHEAD].vline != 0)
			index_insert(d, i - AHEAD, ring[i % AHEAD]);
		if (i < d->nrecs && d->recs[i].vline != 0) {
			ring[i % AHEAD] = rec_slot(d, &d->recs[i]);
			__builtin_prefetch(&d->slots[ring[i % AHEAD]], 1);
		}
	}
	/* Merged members and the records of alias copies, in order: their
	 * source is already indexed (a copy of a copy comes after it). */
	for (size_t i = 0; i < d->nrecs; i++) {
		struct rec *r = &d->recs[i];
		const struct rec *o;

		if (r->vline != 0)
			continue;
		if (rec_kind(r) == REC_SELF || rec_kind(r) == REC_INDEX) {
			o = index_find(d, r->u.src, rec_kind(r) == REC_INDEX ? r->k : 0,
				       rec_kind(r), NULL, 0);
			r->vline = o ? o->vline : 0;
			r->vcol = o ? o->vcol : 0;
			if (o)
				index_insert(d, i, rec_slot(d, r));
			continue;
		}
		o = index_find(d, r->u.src,
			       hash_bytes(d->keys + r->key_off, r->key_len), 0,
			       d->keys + r->key_off, r->key_len);
		r->u.key.line = o ? o->u.key.line : 0;
		r->u.key.col = o ? o->u.key.col : 0;
		r->vline = o ? o->vline : 0;
		r->vcol = o ? o->vcol : 0;
		if (o)
			index_insert(d, i, rec_slot(d, r));
	}
}

/* ---- loading ---------------------------------------------------------- */

static void loader_release(struct loader *l)
{
	while (l->depth) {
		struct frame *f = &l->stack[--l->depth];

		free(f->anchor);
		json_decref(f->node);
	}
	free(l->stack);
	for (size_t m = 0; m < l->nmerges; m++)
		json_decref(l->merges[m]);
	free(l->merges);
	anchors_clear(l);
	free(l->anchors);
	json_decref(l->root);
	yaml_parser_delete(&l->parser);
}

static void docs_add(struct kf_yaml_docs *d, json_t *root, uint32_t line,
		     uint32_t col)
{
	kf_xgrow((void **)&d->docs, &d->adocs, d->ndocs + 1, sizeof(*d->docs));
	d->docs[d->ndocs].root = root;
	d->docs[d->ndocs].line = line;
	d->docs[d->ndocs].col = col;
	d->ndocs++;
}

static int run(struct loader *l)
{
	yaml_event_t ev;
	uint32_t dline = 1, dcol = 1;
	bool done = false;
	int rc = 0;

	while (!done && rc == 0) {
		if (!yaml_parser_parse(&l->parser, &ev))
			return parser_error(l);
		switch (ev.type) {
		case YAML_SCALAR_EVENT:
			rc = on_scalar(l, &ev);
			break;
		case YAML_ALIAS_EVENT:
			rc = on_alias(l, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = on_start(l, &ev, false);
			break;
		case YAML_MAPPING_START_EVENT:
			rc = on_start(l, &ev, true);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			rc = on_end(l);
			break;
		case YAML_DOCUMENT_START_EVENT:
			dline = (uint32_t)ev.start_mark.line + 1;
			dcol = (uint32_t)ev.start_mark.column + 1;
			l->root = NULL;
			l->total = 0;
			l->aliased = 0;
			l->bytes = 0;
			break;
		case YAML_DOCUMENT_END_EVENT:
			docs_add(l->d, l->root ? l->root : json_null(), dline,
				 dcol);
			l->root = NULL;
			anchors_clear(l);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	return rc;
}

int kf_yaml_load_buf(struct kf_yaml_docs **out, const char *name,
		     const char *data, size_t len,
		     const struct kf_yaml_opts *opts, struct kf_err **err)
{
	struct loader l;
	struct kf_yaml_docs *d;
	int rc;

	*out = NULL;
	d = kf_xcalloc(1, sizeof(*d));
	d->name = kf_xstrdup(name ? name : "<input>");
	d->keep = json_array();
	memset(&l, 0, sizeof(l));
	l.d = d;
	l.data = data;
	l.len = len;
	l.err = err;
	l.max_nodes = opts && opts->max_nodes ? opts->max_nodes : DEFAULT_MAX_NODES;
	l.max_depth = opts && opts->max_depth ? opts->max_depth : DEFAULT_MAX_DEPTH;
	l.max_bytes = opts && opts->max_bytes ? opts->max_bytes : DEFAULT_MAX_BYTES;
	if (!yaml_parser_initialize(&l.parser)) {
		fprintf(stderr, "fatal: out of memory\n");
		abort();
	}
	yaml_parser_set_input_string(&l.parser,
				     (const unsigned char *)(data ? data : ""),
				     data ? len : 0);
	/* A rough guess that saves most regrowing of the record array. */
	kf_xgrow((void **)&d->recs, &d->arecs, len / 24 + 16, sizeof(*d->recs));
	kf_xgrow((void **)&d->keys, &d->akeys, len / 8 + 64, 1);
	rc = run(&l);
	loader_release(&l);
	if (rc) {
		kf_yaml_free(d);
		return rc;
	}
	build_index(d);
	*out = d;
	return 0;
}

int kf_yaml_load_file(struct kf_yaml_docs **out, const char *path,
		      const struct kf_yaml_opts *opts, struct kf_err **err)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = kf_file_read(path, &data, &len, err);
	if (rc)
		goto out;
	rc = kf_yaml_load_buf(out, path, data, len, opts, err);
out:
	free(data);
	return rc;
}

void kf_yaml_free(struct kf_yaml_docs *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->ndocs; i++)
		json_decref(d->docs[i].root);
	free(d->docs);
	json_decref(d->keep);
	free(d->recs);
	free(d->keys);
	free(d->slots);
	free(d->name);
	free(d);
}

/* ---- lookups ---------------------------------------------------------- */

size_t kf_yaml_count(const struct kf_yaml_docs *d)
{
	return d ? d->ndocs : 0;
}

json_t *kf_yaml_doc(const struct kf_yaml_docs *d, size_t i)
{
	return d && i < d->ndocs ? d->docs[i].root : NULL;
}

struct kf_pos kf_yaml_doc_pos(const struct kf_yaml_docs *d, size_t i)
{
	struct kf_pos p = { d ? d->name : NULL, 0, 0 };

	if (d && i < d->ndocs) {
		p.line = (int)d->docs[i].line;
		p.col = (int)d->docs[i].col;
	}
	return p;
}

const char *kf_yaml_name(const struct kf_yaml_docs *d)
{
	return d ? d->name : NULL;
}

bool kf_yaml_pos(const struct kf_yaml_docs *d, const json_t *node,
		 struct kf_pos *out)
{
	const struct rec *r;

	if (!d || !node || !(json_is_object(node) || json_is_array(node)))
		return false;
	r = index_find(d, node, 0, REC_SELF, NULL, 0);
	if (!r)
		return false;
	if (out)
		*out = (struct kf_pos){ d->name, (int)r->vline, (int)r->vcol };
	return true;
}

bool kf_yaml_member_pos(const struct kf_yaml_docs *d, const json_t *obj,
			const char *key, struct kf_pos *key_pos,
			struct kf_pos *val_pos)
{
	const struct rec *r;
	size_t klen;

	if (!d || !json_is_object(obj) || !key)
		return false;
	klen = strlen(key);
	r = index_find(d, obj, hash_bytes(key, klen), 0, key, klen);
	if (!r)
		return false;
	if (key_pos)
		*key_pos = (struct kf_pos){ d->name, (int)r->u.key.line,
					    (int)r->u.key.col };
	if (val_pos)
		*val_pos = (struct kf_pos){ d->name, (int)r->vline,
					    (int)r->vcol };
	return true;
}

bool kf_yaml_index_pos(const struct kf_yaml_docs *d, const json_t *arr,
		       size_t i, struct kf_pos *out)
{
	const struct rec *r;

	if (!d || !json_is_array(arr))
		return false;
	r = index_find(d, arr, (uint64_t)i, REC_INDEX, NULL, 0);
	if (!r)
		return false;
	if (out)
		*out = (struct kf_pos){ d->name, (int)r->vline, (int)r->vcol };
	return true;
}
