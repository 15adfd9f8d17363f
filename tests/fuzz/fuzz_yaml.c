/*
 * fuzz_yaml.c - libFuzzer target for the YAML loader and emitter.
 *
 * Loads the input (with small limits so that the fuzzer explores rather
 * than allocates); when it loads, emits every document, loads the emitted
 * YAML back and checks that it is the same JSON value. Any difference, or
 * emitted YAML that does not load, aborts. It also aborts when a document
 * reaches one mapping or sequence by two paths: aliases and merge keys
 * must give copies, never shared values. Crashes, leaks and undefined
 * behaviour are caught by the sanitizers the target is built with.
 *
 * Build: cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DKF_FUZZ=ON
 *        cmake --build build-fuzz --target fuzz_yaml
 * Run:   build-fuzz/tests/fuzz_yaml tests/fuzz/corpus/yaml -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml/yaml.h"

/* json_equal, but with object keys compared by length: keys may hold NUL
 * bytes ("\0" in a quoted key), which jansson's json_equal cannot see. */
static bool same(const json_t *a, const json_t *b)
{
	size_t i;

	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT: {
		const char *k;
		size_t klen;
		json_t *v;

		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_keylen_foreach((json_t *)a, k, klen, v) {
			const json_t *w = json_object_getn(b, k, klen);

			if (!w || !same(v, w))
				return false;
		}
		return true;
	}
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (i = 0; i < json_array_size(a); i++)
			if (!same(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	default:
		return json_equal(a, b);
	}
}

/* Collect every mapping and sequence of a document. */
static void containers(const json_t *v, const json_t ***out, size_t *n, size_t *alloc)
{
	if (!json_is_object(v) && !json_is_array(v))
		return;
	if (*n == *alloc) {
		*alloc = *alloc ? *alloc * 2 : 64;
		*out = realloc(*out, *alloc * sizeof(**out));
		if (!*out)
			abort();
	}
	(*out)[(*n)++] = v;
	if (json_is_object(v)) {
		for (void *it = json_object_iter((json_t *)v); it;
		     it = json_object_iter_next((json_t *)v, it))
			containers(json_object_iter_value(it), out, n, alloc);
	} else {
		for (size_t i = 0; i < json_array_size(v); i++)
			containers(json_array_get(v, i), out, n, alloc);
	}
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const json_t *const *)a, y = (uintptr_t)*(const json_t *const *)b;

	return x < y ? -1 : x > y;
}

static void check_no_sharing(const json_t *doc)
{
	const json_t **v = NULL;
	size_t n = 0, alloc = 0;

	containers(doc, &v, &n, &alloc);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_ptr);
	for (size_t i = 1; i < n; i++)
		if (v[i] == v[i - 1]) {
			fprintf(stderr, "a container is shared within a document (an alias was not copied)\n");
			abort();
		}
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kf_yaml_opts opts = { 20000, 100, 1 << 20 };
	struct kf_yaml_opts again = { 2000000, 100, 1 << 26 };
	struct kf_yaml_docs *d = NULL;

	if (kf_yaml_load_buf(&d, "fuzz", (const char *)data, size, &opts, NULL))
		return 0;
	for (size_t i = 0; i < kf_yaml_count(d); i++) {
		const json_t *v = kf_yaml_doc(d, i);
		struct kf_buf b = KF_BUF_INIT;
		struct kf_yaml_docs *d2 = NULL;
		struct kf_err *err = NULL;

		check_no_sharing(v);
		if (kf_yaml_emit(&b, v, i > 0, NULL))
			abort();
		if (kf_yaml_load_buf(&d2, "emitted", b.buf, b.len, &again, &err)) {
			char *m = kf_err_str(err);

			fprintf(stderr, "emitted YAML does not load: %s\n%s\n", m,
				b.buf);
			abort();
		}
		if (kf_yaml_count(d2) != 1 || !same(v, kf_yaml_doc(d2, 0))) {
			char *s = json_dumps(v, JSON_ENCODE_ANY);

			fprintf(stderr, "round trip differs for %s\nemitted:\n%s\n",
				s ? s : "?", b.buf);
			abort();
		}
		kf_yaml_free(d2);
		kf_buf_release(&b);
	}
	kf_yaml_free(d);
	return 0;
}
