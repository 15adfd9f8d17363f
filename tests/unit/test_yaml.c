/*
 * test_yaml.c - unit tests for src/yaml: scalar resolution as Kubernetes
 * does it (a table: input, expected JSON or expected error), map keys,
 * positions of keys, values, elements and containers, multi-document
 * streams, anchors, aliases and merge keys, every error kind with its
 * exact line:col, the alias expansion limit ("billion laughs"), and the
 * emitter round trip (tricky strings and the whole full-example.yaml).
 *
 * Data-driven cases live in tests/data/yaml/: scalars.tsv and errors.tsv.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"
#include "yaml/yaml.h"

/* ---- helpers ---------------------------------------------------------- */

static struct kf_yaml_docs *load_ok(const char *text)
{
	struct kf_yaml_docs *d = NULL;
	struct kf_err *err = NULL;
	int rc = kf_yaml_load_buf(&d, "t.yaml", text, strlen(text), NULL, &err);

	if (rc) {
		char *m = kf_err_str(err);

		fail_msg("load failed for [%s]: %s", text, m);
		free(m);
	}
	kf_err_free(err);
	return d;
}

/* Load and return the error string (caller frees); fails if it loads. */
static char *load_err(const char *text, size_t len,
		      const struct kf_yaml_opts *opts)
{
	struct kf_yaml_docs *d = NULL;
	struct kf_err *err = NULL;
	char *m;
	int rc = kf_yaml_load_buf(&d, "t.yaml", text, len, opts, &err);

	if (rc == 0) {
		kf_yaml_free(d);
		fail_msg("expected an error for [%s]", text);
	}
	assert_null(d);
	assert_int_equal(kf_err_code(err), KF_EINVAL);
	m = kf_err_str(err);
	kf_err_free(err);
	return m;
}

static void assert_pos(struct kf_pos p, int line, int col)
{
	if (p.line != line || p.col != col)
		fail_msg("position %d:%d, expected %d:%d", p.line, p.col, line,
			 col);
	assert_string_equal(p.file, "t.yaml");
}

/* Expand \n \t \xHH in a test-table field. */
static size_t unescape(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = in; *p && n + 1 < cap; p++) {
		if (p[0] == '\\' && p[1] == 'n') {
			out[n++] = '\n';
			p++;
		} else if (p[0] == '\\' && p[1] == 't') {
			out[n++] = '\t';
			p++;
		} else if (p[0] == '\\' && p[1] == 'x' && p[2] && p[3]) {
			char hex[3] = { p[2], p[3], 0 };

			out[n++] = (char)strtol(hex, NULL, 16);
			p += 3;
		} else if (p[0] == '\\' && p[1] == '\\') {
			out[n++] = '\\';
			p++;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	return n;
}

static char *data_path(const char *name)
{
	return kf_xasprintf("%s/tests/data/yaml/%s", KF_SOURCE_DIR, name);
}

/* Iterate over the tab-separated lines of a data file, skipping comments
 * and blank lines. Calls fn with the fields. */
static void each_row(const char *file,
		     void (*fn)(int lineno, char **f, size_t nf))
{
	char *path = data_path(file);
	FILE *fp = fopen(path, "r");
	char line[4096];
	int lineno = 0, rows = 0;

	if (!fp)
		fail_msg("cannot open %s", path);
	while (fgets(line, sizeof(line), fp)) {
		char *f[4] = { 0 };
		size_t nf = 0;
		char *p = line, *tab;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		while (nf < 4) {
			f[nf++] = p;
			tab = strchr(p, '\t');
			if (!tab)
				break;
			*tab = '\0';
			p = tab + 1;
		}
		fn(lineno, f, nf);
		rows++;
	}
	fclose(fp);
	free(path);
	assert_true(rows > 10);
}

/* ---- scalars (tests/data/yaml/scalars.tsv) ---------------------------- */

/* Row: YAML text of a value <TAB> expected JSON, or "error: substring". */
static void scalar_row(int lineno, char **f, size_t nf)
{
	char in[1024], yaml[1100], *expect = f[1];
	struct kf_yaml_docs *d = NULL;
	struct kf_err *err = NULL;
	int rc;

	if (nf < 2)
		fail_msg("scalars.tsv:%d: needs two fields", lineno);
	unescape(f[0], in, sizeof(in));
	snprintf(yaml, sizeof(yaml), "v: %s\n", in);
	rc = kf_yaml_load_buf(&d, "t.yaml", yaml, strlen(yaml), NULL, &err);
	if (strncmp(expect, "error: ", 7) == 0) {
		char *m;

		if (rc == 0)
			fail_msg("scalars.tsv:%d: [%s] loaded, expected error %s",
				 lineno, f[0], expect);
		m = kf_err_str(err);
		if (!strstr(m, expect + 7))
			fail_msg("scalars.tsv:%d: [%s] error [%s], expected [%s]",
				 lineno, f[0], m, expect + 7);
		free(m);
	} else {
		json_error_t jerr;
		json_t *want = json_loads(expect, JSON_DECODE_ANY, &jerr);
		json_t *got;
		char *gs;

		if (!want)
			fail_msg("scalars.tsv:%d: bad expected JSON %s", lineno,
				 expect);
		if (rc != 0) {
			char *m = kf_err_str(err);

			fail_msg("scalars.tsv:%d: [%s] failed: %s", lineno, f[0],
				 m);
		}
		got = json_object_get(kf_yaml_doc(d, 0), "v");
		gs = json_dumps(got, JSON_ENCODE_ANY);
		if (!json_equal(got, want))
			fail_msg("scalars.tsv:%d: [%s] gave %s, expected %s",
				 lineno, f[0], gs, expect);
		free(gs);
		json_decref(want);
	}
	kf_yaml_free(d);
	kf_err_free(err);
}

static void test_yaml_scalar__table_matches_kubernetes(void **state)
{
	each_row("scalars.tsv", scalar_row);
}

/* Row: YAML mapping text <TAB> expected JSON document, or "error: ...". */
static void doc_row(int lineno, char **f, size_t nf)
{
	char in[2048];
	struct kf_yaml_docs *d = NULL;
	struct kf_err *err = NULL;
	size_t n;
	int rc;

	if (nf < 2)
		fail_msg("docs.tsv:%d: needs two fields", lineno);
	n = unescape(f[0], in, sizeof(in));
	rc = kf_yaml_load_buf(&d, "t.yaml", in, n, NULL, &err);
	if (strncmp(f[1], "error: ", 7) == 0) {
		char *m;

		if (rc == 0)
			fail_msg("docs.tsv:%d: [%s] loaded, expected %s", lineno,
				 f[0], f[1]);
		m = kf_err_str(err);
		if (strcmp(m, f[1] + 7) != 0)
			fail_msg("docs.tsv:%d: [%s]\n  error    [%s]\n  expected [%s]",
				 lineno, f[0], m, f[1] + 7);
		free(m);
	} else {
		json_error_t jerr;
		json_t *want = json_loads(f[1], 0, &jerr);
		json_t *got = json_array();
		char *gs;

		if (!want)
			fail_msg("docs.tsv:%d: bad expected JSON %s", lineno, f[1]);
		if (rc != 0) {
			char *m = kf_err_str(err);

			fail_msg("docs.tsv:%d: [%s] failed: %s", lineno, f[0], m);
		}
		for (size_t i = 0; i < kf_yaml_count(d); i++)
			json_array_append(got, kf_yaml_doc(d, i));
		gs = json_dumps(got, JSON_COMPACT);
		if (!json_equal(got, want))
			fail_msg("docs.tsv:%d: [%s] gave %s, expected %s", lineno,
				 f[0], gs, f[1]);
		free(gs);
		json_decref(want);
		json_decref(got);
	}
	kf_yaml_free(d);
	kf_err_free(err);
}

static void test_yaml_docs__table_of_streams_and_errors(void **state)
{
	each_row("docs.tsv", doc_row);
}

/* ---- positions -------------------------------------------------------- */

static const char pod[] =
	"# a comment\n"			 /* 1 */
	"apiVersion: v1\n"		 /* 2 */
	"kind: Pod\n"			 /* 3 */
	"metadata:\n"			 /* 4 */
	"  name: web\n"			 /* 5 */
	"  labels: {app: web, on: yes}\n" /* 6 */
	"spec:\n"			 /* 7 */
	"  containers:\n"		 /* 8 */
	"  - name: c\n"			 /* 9 */
	"    args: [a, \"b\", 3]\n"	 /* 10 */
	"    env:\n"			 /* 11 */
	"      - name: X\n"		 /* 12 */
	"        value: null\n";	 /* 13 */

static void test_yaml_pos__keys_and_values(void **state)
{
	struct kf_yaml_docs *d = load_ok(pod);
	json_t *root = kf_yaml_doc(d, 0), *md, *labels;
	struct kf_pos k, v;

	assert_true(kf_yaml_member_pos(d, root, "kind", &k, &v));
	assert_pos(k, 3, 1);
	assert_pos(v, 3, 7);
	assert_true(kf_yaml_member_pos(d, root, "metadata", &k, &v));
	assert_pos(k, 4, 1);
	assert_pos(v, 5, 3); /* a block mapping starts at its first key */
	md = json_object_get(root, "metadata");
	assert_true(kf_yaml_pos(d, md, &v));
	assert_pos(v, 5, 3);
	assert_true(kf_yaml_member_pos(d, md, "name", NULL, &v));
	assert_pos(v, 5, 9);
	labels = json_object_get(md, "labels");
	assert_true(kf_yaml_pos(d, labels, &v));
	assert_pos(v, 6, 11);
	/* "on: yes" -> key "true", value true */
	assert_true(json_is_true(json_object_get(labels, "true")));
	assert_true(kf_yaml_member_pos(d, labels, "true", &k, &v));
	assert_pos(k, 6, 22);
	assert_pos(v, 6, 26);
	assert_false(kf_yaml_member_pos(d, labels, "nope", &k, &v));
	assert_false(kf_yaml_member_pos(d, labels, "on", &k, &v));
	kf_yaml_free(d);
}

static void test_yaml_pos__array_elements_and_nesting(void **state)
{
	struct kf_yaml_docs *d = load_ok(pod);
	json_t *spec = json_object_get(kf_yaml_doc(d, 0), "spec");
	json_t *cs = json_object_get(spec, "containers");
	json_t *c0 = json_array_get(cs, 0);
	json_t *args = json_object_get(c0, "args");
	json_t *env = json_object_get(c0, "env");
	json_t *e0 = json_array_get(env, 0);
	struct kf_pos p, k;

	assert_true(kf_yaml_pos(d, cs, &p));
	assert_pos(p, 9, 3);
	assert_true(kf_yaml_index_pos(d, cs, 0, &p));
	assert_pos(p, 9, 5);
	assert_true(kf_yaml_pos(d, c0, &p));
	assert_pos(p, 9, 5);
	assert_true(kf_yaml_index_pos(d, args, 0, &p));
	assert_pos(p, 10, 12);
	assert_true(kf_yaml_index_pos(d, args, 1, &p));
	assert_pos(p, 10, 15);
	assert_true(kf_yaml_index_pos(d, args, 2, &p));
	assert_pos(p, 10, 20);
	assert_false(kf_yaml_index_pos(d, args, 3, &p));
	assert_true(kf_yaml_index_pos(d, env, 0, &p));
	assert_pos(p, 12, 9);
	/* a null value is found through its parent */
	assert_true(json_is_null(json_object_get(e0, "value")));
	assert_true(kf_yaml_member_pos(d, e0, "value", &k, &p));
	assert_pos(k, 13, 9);
	assert_pos(p, 13, 16);
	/* scalars and foreign values have no position of their own */
	assert_false(kf_yaml_pos(d, json_object_get(e0, "value"), &p));
	{
		json_t *other = json_object();

		assert_false(kf_yaml_pos(d, other, &p));
		json_decref(other);
	}
	kf_yaml_free(d);
}

static void test_yaml_pos__multi_document(void **state)
{
	static const char text[] = "a: 1\n"
				   "---\n"
				   "# only a comment\n"
				   "---\n"
				   "- x\n"
				   "- {b: 2}\n"
				   "--- hello\n";
	struct kf_yaml_docs *d = load_ok(text);
	json_t *seq;
	struct kf_pos p;

	assert_int_equal(kf_yaml_count(d), 4);
	assert_pos(kf_yaml_doc_pos(d, 0), 1, 1);
	assert_pos(kf_yaml_doc_pos(d, 1), 2, 1);
	assert_true(json_is_null(kf_yaml_doc(d, 1)));
	assert_pos(kf_yaml_doc_pos(d, 2), 4, 1);
	seq = kf_yaml_doc(d, 2);
	assert_true(kf_yaml_pos(d, seq, &p));
	assert_pos(p, 5, 1);
	assert_true(kf_yaml_index_pos(d, seq, 1, &p));
	assert_pos(p, 6, 3);
	assert_true(kf_yaml_member_pos(d, json_array_get(seq, 1), "b", &p,
				       NULL));
	assert_pos(p, 6, 4);
	assert_string_equal(json_string_value(kf_yaml_doc(d, 3)), "hello");
	assert_null(kf_yaml_doc(d, 4));
	assert_string_equal(kf_yaml_name(d), "t.yaml");
	kf_yaml_free(d);
}

static void test_yaml_pos__columns_count_characters(void **state)
{
	struct kf_yaml_docs *d = load_ok("\xc3\xa9t\xc3\xa9: \xc3\xa0 b\nx: [\xe2\x82\xac, y]\n");
	json_t *x = json_object_get(kf_yaml_doc(d, 0), "x");
	struct kf_pos p;

	assert_true(kf_yaml_member_pos(d, kf_yaml_doc(d, 0), "\xc3\xa9t\xc3\xa9",
				       NULL, &p));
	assert_pos(p, 1, 6);
	assert_true(kf_yaml_index_pos(d, x, 1, &p));
	assert_pos(p, 2, 8);
	kf_yaml_free(d);
}

/* ---- anchors, aliases, merge keys ------------------------------------- */

static void test_yaml_alias__copies_value_and_position(void **state)
{
	static const char text[] = "base: &b\n"
				   "  x: 1\n"
				   "copy: *b\n"
				   "list: [&s str, *s]\n";
	struct kf_yaml_docs *d = load_ok(text);
	json_t *root = kf_yaml_doc(d, 0);
	json_t *list = json_object_get(root, "list");
	struct kf_pos p, k;

	/* an alias is a copy: equal, never the same value */
	assert_ptr_not_equal(json_object_get(root, "base"),
			     json_object_get(root, "copy"));
	assert_true(json_equal(json_object_get(root, "base"),
			       json_object_get(root, "copy")));
	assert_ptr_not_equal(json_array_get(list, 0), json_array_get(list, 1));
	assert_true(kf_yaml_member_pos(d, root, "copy", NULL, &p));
	assert_pos(p, 3, 7); /* where the alias is */
	assert_true(kf_yaml_pos(d, json_object_get(root, "copy"), &p));
	assert_pos(p, 1, 7); /* the copy itself: where the anchored node is */
	assert_true(kf_yaml_pos(d, json_object_get(root, "base"), &p));
	assert_pos(p, 1, 7);
	assert_true(kf_yaml_member_pos(d, json_object_get(root, "copy"), "x",
				       &k, &p));
	assert_pos(k, 2, 3); /* and what is in it where it is written */
	assert_pos(p, 2, 6);
	assert_string_equal(json_string_value(json_array_get(list, 1)), "str");
	kf_yaml_free(d);
}

/* Changing the value reached through one path must not change the other:
 * the ApplySet part-of label added to metadata.labels never reaches a
 * selector written as an alias of the same map. */
static void test_yaml_alias__copy_is_not_shared(void **state)
{
	static const char text[] =
		"metadata:\n"
		"  labels: &l {app: web}\n"
		"spec:\n"
		"  selector:\n"
		"    matchLabels: *l\n";
	struct kf_yaml_docs *d = load_ok(text);
	json_t *root = kf_yaml_doc(d, 0);
	json_t *labels = json_object_get(json_object_get(root, "metadata"),
					 "labels");
	json_t *sel = json_object_get(json_object_get(json_object_get(root, "spec"),
						      "selector"),
				      "matchLabels");

	json_object_set_new(labels, "applyset.kubernetes.io/part-of",
			    json_string("applyset-x"));
	assert_int_equal(json_object_size(sel), 1);
	assert_null(json_object_get(sel, "applyset.kubernetes.io/part-of"));
	assert_int_equal(json_object_size(labels), 2);
	kf_yaml_free(d);
}

static void test_yaml_alias__merge_copies_values(void **state)
{
	static const char text[] =
		"base: &b {inner: {a: 1}}\n"
		"one: {<<: *b}\n"
		"two: {<<: [*b]}\n";
	struct kf_yaml_docs *d = load_ok(text);
	json_t *root = kf_yaml_doc(d, 0);
	json_t *b = json_object_get(json_object_get(root, "base"), "inner");
	json_t *one = json_object_get(json_object_get(root, "one"), "inner");
	json_t *two = json_object_get(json_object_get(root, "two"), "inner");

	assert_ptr_not_equal(b, one);
	assert_ptr_not_equal(b, two);
	assert_ptr_not_equal(one, two);
	json_object_set_new(one, "x", json_true());
	assert_int_equal(json_object_size(b), 1);
	assert_int_equal(json_object_size(two), 1);
	kf_yaml_free(d);
}

/* A chain of aliases, each one level deeper, nests as deep as the chain:
 * the depth limit counts it, with the alias's position, at once. */
static void test_yaml_alias__deep_chain_refused(void **state)
{
	struct kf_buf b = KF_BUF_INIT;
	char *m;

	kf_buf_adds(&b, "a0: &a0 [x]\n");
	for (int i = 1; i < 20000; i++)
		kf_buf_addf(&b, "a%d: &a%d [*a%d]\n", i, i, i - 1);
	m = load_err(b.buf, b.len, NULL);
	/* each level copies the whole chain below it: the alias ratio (or
	 * the depth limit) stops it long before it is deep enough to hurt */
	assert_true(kf_str_startswith(m, "t.yaml:"));
	assert_true(strstr(m, "excessive aliasing") ||
		    strstr(m, "nests deeper than 1000 levels"));
	free(m);
	kf_buf_release(&b);
}

static void test_yaml_alias__depth_counts_expansion(void **state)
{
	static const char text[] = "a: &a [[[x]]]\nb: [[*a]]\n";
	struct kf_yaml_opts o = { 0, 5, 0 };
	struct kf_yaml_docs *d = NULL;
	char *m = load_err(text, strlen(text), &o);

	/* root map, [, [ and the three levels of *a: 6 */
	assert_string_equal(m, "t.yaml:2:6: alias *a nests deeper than 5 levels once expanded");
	free(m);
	o.max_depth = 6;
	assert_int_equal(kf_yaml_load_buf(&d, "t.yaml", text, strlen(text), &o,
					  NULL),
			 0);
	kf_yaml_free(d);
}

static void test_yaml_alias__bytes_limit_counts_aliases(void **state)
{
	static const char text[] = "a: &a 0123456789\nb: [*a, *a]\n";
	struct kf_yaml_opts o = { 0, 0, 25 };
	struct kf_yaml_docs *d = NULL;
	char *m = load_err(text, strlen(text), &o);

	/* a b: 2 bytes of keys, 10 of value, then each *a adds 10 */
	assert_string_equal(m, "t.yaml:2:9: document holds more than 25 bytes of text once aliases are expanded (limit reached)");
	free(m);
	o.max_bytes = 32;
	assert_int_equal(kf_yaml_load_buf(&d, "t.yaml", text, strlen(text), &o,
					  NULL),
			 0);
	kf_yaml_free(d);
}

static void test_yaml_alias__node_limit_still_applies(void **state)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_yaml_opts o = { 5000, 0, 0 };
	char *m;

	/* few aliases of a big map: within the ratio, beyond the limit */
	kf_buf_adds(&b, "a: &a {");
	for (int i = 0; i < 2000; i++)
		kf_buf_addf(&b, "%sk%d: v", i ? ", " : "", i);
	kf_buf_adds(&b, "}\nb: *a\n");
	m = load_err(b.buf, b.len, &o);
	assert_true(kf_str_startswith(m, "t.yaml:2:4: document expands to more than 5000 nodes"));
	free(m);
	kf_buf_release(&b);
}

static void test_yaml_merge__explicit_keys_and_earlier_maps_win(void **state)
{
	static const char text[] =
		"a: &a {x: 1, p: 1, z: 1}\n"		    /* 1 */
		"b: &b {p: 2, w: 2}\n"			    /* 2 */
		"one:\n"				    /* 3 */
		"  <<: *a\n"				    /* 4 */
		"  x: own\n"				    /* 5 */
		"many:\n"				    /* 6 */
		"  x: own\n"				    /* 7 */
		"  <<: [*b, *a]\n"			    /* 8 */
		"inline:\n"				    /* 9 */
		"  <<: {k: v}\n"			    /* 10 */
		"quoted: {\"<<\": {k: v}}\n"		    /* 11 */
		"tagged: {!!merge \"<<\": {k: t}}\n";	    /* 12 */
	struct kf_yaml_docs *d = load_ok(text);
	json_t *root = kf_yaml_doc(d, 0);
	json_t *want = json_loads(
		"{\"a\":{\"x\":1,\"p\":1,\"z\":1},\"b\":{\"p\":2,\"w\":2},"
		"\"one\":{\"x\":\"own\",\"p\":1,\"z\":1},"
		"\"many\":{\"x\":\"own\",\"p\":2,\"w\":2,\"z\":1},"
		"\"inline\":{\"k\":\"v\"},\"quoted\":{\"<<\":{\"k\":\"v\"}},"
		"\"tagged\":{\"k\":\"t\"}}",
		0, NULL);
	struct kf_pos k, v;

	assert_non_null(want);
	assert_true(json_equal(root, want));
	/* merged members point into the map they came from */
	assert_true(kf_yaml_member_pos(d, json_object_get(root, "many"), "p",
				       &k, &v));
	assert_pos(k, 2, 8);
	assert_pos(v, 2, 11);
	assert_true(kf_yaml_member_pos(d, json_object_get(root, "one"), "x",
				       &k, &v));
	assert_pos(k, 5, 3);
	assert_true(kf_yaml_member_pos(d, json_object_get(root, "inline"), "k",
				       &k, &v));
	assert_pos(k, 10, 8);
	json_decref(want);
	kf_yaml_free(d);
}

static void test_yaml_alias__billion_laughs_fails_fast(void **state)
{
	struct kf_buf b = KF_BUF_INIT;
	struct timespec t0, t1;
	char *m;
	double secs;

	kf_buf_adds(&b, "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\n");
	for (char c = 'b'; c <= 'j'; c++) {
		kf_buf_addf(&b, "%c: &%c [", c, c);
		for (int i = 0; i < 10; i++)
			kf_buf_addf(&b, "%s*%c", i ? "," : "", c - 1);
		kf_buf_adds(&b, "]\n");
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	m = load_err(b.buf, b.len, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 0.1);
	/* go-yaml's alias ratio (what Kubernetes enforces) stops it at d:
	 * past 1,000 nodes of which more than 99% come from aliases */
	assert_non_null(strstr(m, "excessive aliasing"));
	assert_true(kf_str_startswith(m, "t.yaml:4:"));
	free(m);
	kf_buf_release(&b);
}

static void test_yaml_alias__limit_is_configurable(void **state)
{
	static const char text[] = "a: &a [1, 2, 3]\nb: [*a, *a]\n";
	struct kf_yaml_opts small = { 8, 0, 0 }, opts = { 15, 0, 0 };
	struct kf_yaml_docs *d = NULL;
	char *m = load_err(text, strlen(text), &small);

	/* map, key a, [1,2,3] (4), key b, [ ] -> 8; each *a adds 4 -> 16 */
	assert_string_equal(m, "t.yaml:2:5: document expands to more than 8 nodes through aliases (limit reached; is this a \"billion laughs\" file?)");
	free(m);
	m = load_err(text, strlen(text), &opts);
	assert_true(kf_str_startswith(m, "t.yaml:2:9: "));
	free(m);
	opts.max_nodes = 16;
	assert_int_equal(kf_yaml_load_buf(&d, "t.yaml", text, strlen(text),
					  &opts, NULL),
			 0);
	kf_yaml_free(d);
}

/* ---- errors (tests/data/yaml/docs.tsv covers the messages) ------------- */

static void test_yaml_error__invalid_utf8_has_position(void **state)
{
	static const char text[] = "a: ok\nb: x\xff\n";
	char *m = load_err(text, sizeof(text) - 1, NULL);

	assert_string_equal(m, "t.yaml:2:5: invalid UTF-8: invalid leading UTF-8 octet 0xFF");
	free(m);
}

static void test_yaml_error__depth_limit(void **state)
{
	static const char text[] = "a:\n  b:\n    - [1]\n";
	struct kf_yaml_opts o = { 0, 3, 0 };
	char *m = load_err(text, strlen(text), &o);

	assert_string_equal(m, "t.yaml:3:7: nesting deeper than 3 levels");
	free(m);
}

static void test_yaml_error__default_depth_limit(void **state)
{
	struct kf_buf b = KF_BUF_INIT;
	char *m;

	for (int i = 0; i < 1001; i++)
		kf_buf_addch(&b, '[');
	m = load_err(b.buf, b.len, NULL);
	assert_string_equal(m, "t.yaml:1:1001: nesting deeper than 1000 levels");
	free(m);
	kf_buf_release(&b);
}

static void test_yaml_load__file_names_positions_and_empty_input(void **state)
{
	char *path = data_path("k8s-tricky.yaml");
	struct kf_yaml_docs *d = NULL;
	struct kf_pos p;

	assert_int_equal(kf_yaml_load_file(&d, path, NULL, NULL), 0);
	assert_int_equal(kf_yaml_count(d), 3);
	assert_string_equal(kf_yaml_name(d), path);
	assert_true(kf_yaml_member_pos(d, kf_yaml_doc(d, 0), "kind", NULL, &p));
	assert_string_equal(p.file, path);
	assert_int_equal(p.line, 5);
	assert_int_equal(p.col, 7);
	kf_yaml_free(d);
	free(path);
	assert_int_equal(kf_yaml_load_buf(&d, NULL, NULL, 0, NULL, NULL), 0);
	assert_int_equal(kf_yaml_count(d), 0);
	assert_null(kf_yaml_doc(d, 0));
	assert_string_equal(kf_yaml_name(d), "<input>");
	kf_yaml_free(d);
	kf_yaml_free(NULL);
}

static void test_yaml_error__load_file_missing(void **state)
{
	struct kf_yaml_docs *d = NULL;
	struct kf_err *err = NULL;

	assert_true(kf_yaml_load_file(&d, "/nonexistent/x.yaml", NULL, &err) < 0);
	assert_null(d);
	assert_non_null(err);
	kf_err_free(err);
}

/* ---- emitter ---------------------------------------------------------- */

static void roundtrip(const json_t *v)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_yaml_docs *d = NULL;
	struct kf_err *err = NULL;

	assert_int_equal(kf_yaml_emit(&b, v, true, NULL), 0);
	if (kf_yaml_load_buf(&d, "emitted", b.buf, b.len, NULL, &err)) {
		char *m = kf_err_str(err);

		fail_msg("emitted YAML does not load: %s\n%s", m, b.buf);
	}
	assert_int_equal(kf_yaml_count(d), 1);
	if (!json_equal(kf_yaml_doc(d, 0), v)) {
		char *s = json_dumps(kf_yaml_doc(d, 0), JSON_ENCODE_ANY);

		fail_msg("round trip changed the value:\n%s\nloaded back as %s",
			 b.buf, s);
	}
	kf_yaml_free(d);
	kf_buf_release(&b);
}

static void test_yaml_emit__tricky_strings_round_trip(void **state)
{
	static const char *const strs[] = {
		"", " ", "yes", "No", "y", "n", "on", "OFF", "~", "null", "true",
		"12", "-12", "0x1F", "0755", "0o17", "0b101", "1_000", "1e3",
		".5", ".inf", "-.Inf", ".nan", "1.", "+1", "2001-12-14",
		"2001-12-14T21:59:43.10Z", "190:20:30", "1:20", "-1:30.5", "1:2:",
		"a: b", "a:b", "a #b",
		"a#b", "#x", "- x", "-x", "--flag=1", "-", "?", ":", ":x", "?x",
		"[a]", "{a}", "*x", "&x", "!x", "|", ">", "'", "\"", "%x", "@x",
		"`x`", "<<", "=", "---", "...", "--- x", "a\nb", "a\nb\n",
		"a\nb\n\n", "\na", "\n", " a\nb", "a\n b", "a \nb ", "tab\there",
		"\ttab", "cr\r\nlf", "nul\\0", "bell\x07", "\xc2\x85nel",
		"\xe2\x80\xa8ls", "\xef\xbb\xbf\x62om", "\xc3\xa9t\xc3\xa9",
		"emoji \xf0\x9f\x98\x80", "trailing ", "x:", "back\\slash",
		"quote\"d", "\x7f", "\xc2\x80", "a\n\n\nb", "#!/bin/sh\necho hi\n",
		"key: |\n  nested\n", "  lead\n", "\n\n", "a\n---\nb", "a\n...\n",
	};
	json_t *arr = json_array(), *obj = json_object(), *nul;

	for (size_t i = 0; i < KF_ARRAY_SIZE(strs); i++) {
		json_t *s = json_string(strs[i]);

		assert_non_null(s);
		roundtrip(s);
		json_array_append(arr, s);
		json_object_set(obj, strs[i], s);
		json_decref(s);
	}
	nul = json_stringn("a\0b", 3);
	roundtrip(nul);
	json_array_append_new(arr, nul);
	roundtrip(arr);
	roundtrip(obj);
	json_decref(arr);
	json_decref(obj);
}

static void test_yaml_emit__numbers_and_nesting_round_trip(void **state)
{
	static const char *const docs[] = {
		"[0, -1, 9223372036854775807, -9223372036854775808]",
		"[1.5, -0.25, 0.1, 1e300, 1.5e-300, 123456789.123, 1e21, 5e-324]",
		"[1e20, 9.3e18, -9.3e18, 1.7976931348623157e308, 1e-7]",
		"[true, false, null, {}, [], [[]], [{}], {\"a\": []}]",
		"{\"a\": {\"b\": {\"c\": [1, [2, [3, {\"d\": [4]}]]]}}}",
		"[[1, 2], [[3]], {\"x\": [{\"y\": null}]}]",
		"{\"list\": [{\"a\": 1, \"b\": [1, 2]}, {\"c\": {\"d\": \"e\"}}]}",
	};

	for (size_t i = 0; i < KF_ARRAY_SIZE(docs); i++) {
		json_t *v = json_loads(docs[i], 0, NULL);

		assert_non_null(v);
		roundtrip(v);
		json_decref(v);
	}
}

static void test_yaml_emit__integral_reals_load_as_integers(void **state)
{
	/* Any YAML spelling of 1.0 reaches Kubernetes as the JSON integer 1,
	 * so a hand-built integral real comes back as an integer. */
	json_t *v = json_loads("[1.0, -0.0, 1e3]", 0, NULL);
	json_t *want = json_loads("[1, 0, 1000]", 0, NULL);
	struct kf_buf b = KF_BUF_INIT;
	struct kf_yaml_docs *d = NULL;

	assert_int_equal(kf_yaml_emit(&b, v, false, NULL), 0);
	assert_string_equal(b.buf, "- 1.0\n- -0.0\n- 1000.0\n");
	assert_int_equal(kf_yaml_load_buf(&d, "t", b.buf, b.len, NULL, NULL), 0);
	assert_true(json_equal(kf_yaml_doc(d, 0), want));
	kf_yaml_free(d);
	kf_buf_release(&b);
	json_decref(v);
	json_decref(want);
}

static void test_yaml_emit__output_is_readable(void **state)
{
	json_t *v = json_loads("{\"kind\": \"Pod\", \"metadata\": {\"name\": \"x\","
			       " \"labels\": {\"on\": \"yes\"}}, \"spec\": {\"args\":"
			       " [\"-v\", \"1\"], \"script\": \"echo a\\necho b\\n\","
			       " \"n\": 3, \"f\": 1.5, \"e\": {}}}",
			       0, NULL);
	struct kf_buf b = KF_BUF_INIT;

	assert_int_equal(kf_yaml_emit(&b, v, false, NULL), 0);
	assert_string_equal(b.buf, "kind: Pod\n"
				   "metadata:\n"
				   "  name: x\n"
				   "  labels:\n"
				   "    \"on\": \"yes\"\n"
				   "spec:\n"
				   "  args:\n"
				   "  - -v\n"
				   "  - \"1\"\n"
				   "  script: |\n"
				   "    echo a\n"
				   "    echo b\n"
				   "  \"n\": 3\n" /* n is false */
				   "  f: 1.5\n"
				   "  e: {}\n");
	kf_buf_release(&b);
	json_decref(v);
}

static void test_yaml_emit__quotes_what_yaml11_tools_would_change(void **state)
{
	static const char *const quoted[] = {
		"yes", "y", "~", "12", "1e3", "0o17", ".inf", "2001-12-14",
		"190:20:30", "-1:30.5", "<<", "=", "- a", "a: b", "#c", "",
	};
	static const char *const plain[] = {
		"a b", "-v", "--flag=x", "a:b", "a#b", "1:2:x", "190:70", "x1",
		"http://example.com/a?b=c#d", "\xc3\xa9t\xc3\xa9",
	};

	for (size_t i = 0; i < KF_ARRAY_SIZE(quoted) + KF_ARRAY_SIZE(plain); i++) {
		bool q = i < KF_ARRAY_SIZE(quoted);
		const char *str = q ? quoted[i] : plain[i - KF_ARRAY_SIZE(quoted)];
		json_t *v = json_string(str);
		struct kf_buf b = KF_BUF_INIT;

		assert_int_equal(kf_yaml_emit(&b, v, false, NULL), 0);
		if ((b.buf[0] == '"') != q)
			fail_msg("[%s] emitted as %s", str, b.buf);
		kf_buf_release(&b);
		json_decref(v);
	}
}

static void test_yaml_emit__refuses_absurd_nesting(void **state)
{
	json_t *root = json_array(), *cur = root;
	struct kf_buf b = KF_BUF_INIT;
	struct kf_err *err = NULL;
	char *m;

	for (int i = 0; i < 6000; i++) {
		json_t *next = json_array();

		json_array_append_new(cur, next);
		cur = next;
	}
	kf_buf_adds(&b, "kept");
	assert_int_equal(kf_yaml_emit(&b, root, false, &err), KF_ETOOBIG);
	assert_string_equal(b.buf, "kept"); /* nothing half-written */
	m = kf_err_str(err);
	assert_string_equal(m, "yaml emit: nesting deeper than 5000 levels");
	free(m);
	kf_err_free(err);
	kf_buf_release(&b);
	json_decref(root);
}

static void test_yaml_emit__long_key_uses_explicit_form(void **state)
{
	json_t *v = json_object();
	char key[1501];

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	json_object_set_new(v, key, json_integer(1));
	roundtrip(v);
	json_decref(v);
}

static void test_yaml_emit__full_example_round_trips(void **state)
{
	char *path = kf_xasprintf("%s/kubeflow-manifests/full-example.yaml",
				  getenv("KF_DATA_DIR") ? getenv("KF_DATA_DIR") : KF_TEST_DATA_DIR);
	struct kf_yaml_docs *d = NULL, *d2 = NULL;
	struct kf_buf b = KF_BUF_INIT;
	struct kf_err *err = NULL;
	FILE *fp = fopen(path, "r");

	if (!fp) {
		free(path);
		skip();
	}
	fclose(fp);
	assert_int_equal(kf_yaml_load_file(&d, path, NULL, &err), 0);
	assert_int_equal(kf_yaml_count(d), 675);
	for (size_t i = 0; i < kf_yaml_count(d); i++)
		assert_int_equal(kf_yaml_emit(&b, kf_yaml_doc(d, i), true, NULL),
				 0);
	assert_int_equal(kf_yaml_load_buf(&d2, "emitted", b.buf, b.len, NULL,
					  &err),
			 0);
	assert_int_equal(kf_yaml_count(d2), kf_yaml_count(d));
	for (size_t i = 0; i < kf_yaml_count(d); i++)
		if (!json_equal(kf_yaml_doc(d, i), kf_yaml_doc(d2, i)))
			fail_msg("document %zu differs after the round trip", i);
	kf_yaml_free(d);
	kf_yaml_free(d2);
	kf_buf_release(&b);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_scalar__table_matches_kubernetes),
		cmocka_unit_test(test_yaml_docs__table_of_streams_and_errors),
		cmocka_unit_test(test_yaml_pos__keys_and_values),
		cmocka_unit_test(test_yaml_pos__array_elements_and_nesting),
		cmocka_unit_test(test_yaml_pos__multi_document),
		cmocka_unit_test(test_yaml_pos__columns_count_characters),
		cmocka_unit_test(test_yaml_alias__copies_value_and_position),
		cmocka_unit_test(test_yaml_alias__copy_is_not_shared),
		cmocka_unit_test(test_yaml_alias__merge_copies_values),
		cmocka_unit_test(test_yaml_alias__deep_chain_refused),
		cmocka_unit_test(test_yaml_alias__depth_counts_expansion),
		cmocka_unit_test(test_yaml_alias__bytes_limit_counts_aliases),
		cmocka_unit_test(test_yaml_alias__node_limit_still_applies),
		cmocka_unit_test(test_yaml_merge__explicit_keys_and_earlier_maps_win),
		cmocka_unit_test(test_yaml_alias__billion_laughs_fails_fast),
		cmocka_unit_test(test_yaml_alias__limit_is_configurable),
		cmocka_unit_test(test_yaml_error__invalid_utf8_has_position),
		cmocka_unit_test(test_yaml_error__depth_limit),
		cmocka_unit_test(test_yaml_error__default_depth_limit),
		cmocka_unit_test(test_yaml_load__file_names_positions_and_empty_input),
		cmocka_unit_test(test_yaml_error__load_file_missing),
		cmocka_unit_test(test_yaml_emit__tricky_strings_round_trip),
		cmocka_unit_test(test_yaml_emit__numbers_and_nesting_round_trip),
		cmocka_unit_test(test_yaml_emit__integral_reals_load_as_integers),
		cmocka_unit_test(test_yaml_emit__output_is_readable),
		cmocka_unit_test(test_yaml_emit__quotes_what_yaml11_tools_would_change),
		cmocka_unit_test(test_yaml_emit__refuses_absurd_nesting),
		cmocka_unit_test(test_yaml_emit__long_key_uses_explicit_form),
		cmocka_unit_test(test_yaml_emit__full_example_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
