/*
 * bench_yaml.c - how much the YAML loader costs over libyaml itself.
 *
 * Reads one file into memory and times, best of N runs:
 *   raw   libyaml's event parse alone (yaml_parser_parse, events dropped)
 *   load  kf_yaml_load_buf: the same parse plus scalar resolution, jansson
 *         values, position records and the position index
 *   free  kf_yaml_free of what load built (reported, not in the ratio)
 *   emit  kf_yaml_emit of every document (reported, not in the ratio)
 * and prints MB/s of each and the ratio load/raw (the goal is <= 2).
 *
 * Usage: bench_yaml [FILE] [RUNS]
 *   FILE defaults to $KF_DATA_DIR (the build tree's testdata/), kubeflow-manifests/
 *   full-example.yaml; RUNS defaults to 7.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

#include "util/util.h"
#include "yaml/yaml.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* libyaml events only; returns the number of events or -1. */
static long raw_parse(const char *data, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	long n = 0;
	bool done = false;

	if (!yaml_parser_initialize(&p))
		return -1;
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			n = -1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		n++;
	}
	yaml_parser_delete(&p);
	return n;
}

int main(int argc, char **argv)
{
	const char *datadir = getenv("KF_DATA_DIR");
	char *path = argc > 1 ? kf_xstrdup(argv[1])
			      : kf_xasprintf("%s/kubeflow-manifests/full-example.yaml",
					     datadir ? datadir : KF_TEST_DATA_DIR);
	int runs = argc > 2 ? atoi(argv[2]) : 7;
	double best_raw = 1e9, best_load = 1e9, best_free = 1e9, best_emit = 1e9;
	struct kf_err *err = NULL;
	char *data = NULL;
	size_t len = 0, ndocs = 0, out_len = 0;
	long events = 0;
	double mb;
	int rc = 1;

	if (runs < 1)
		runs = 1;
	if (kf_file_read(path, &data, &len, &err) < 0) {
		char *m = kf_err_str(err);

		fprintf(stderr, "bench_yaml: %s\n", m);
		free(m);
		goto out;
	}
	mb = (double)len / 1e6;
	for (int r = 0; r < runs; r++) {
		struct kf_yaml_docs *d = NULL;
		struct kf_buf b = KF_BUF_INIT;
		double t0, t1, t2, t3, t4, t5, t6;

		t0 = now();
		events = raw_parse(data, len);
		t1 = now();
		if (events < 0) {
			fprintf(stderr, "bench_yaml: %s: libyaml cannot parse it\n",
				path);
			goto out;
		}
		if (kf_yaml_load_buf(&d, path, data, len, NULL, &err) < 0) {
			char *m = kf_err_str(err);

			fprintf(stderr, "bench_yaml: %s\n", m);
			free(m);
			goto out;
		}
		t2 = now();
		ndocs = kf_yaml_count(d);
		kf_buf_init(&b, len + len / 4);
		t3 = now();
		for (size_t i = 0; i < ndocs; i++)
			kf_yaml_emit(&b, kf_yaml_doc(d, i), true, NULL);
		t4 = now();
		out_len = b.len;
		kf_buf_release(&b);
		t5 = now();
		kf_yaml_free(d);
		t6 = now();
		if (t1 - t0 < best_raw)
			best_raw = t1 - t0;
		if (t2 - t1 < best_load)
			best_load = t2 - t1;
		if (t4 - t3 < best_emit)
			best_emit = t4 - t3;
		if (t6 - t5 < best_free)
			best_free = t6 - t5;
	}
	printf("file:  %s (%.1f MB, %zu documents, %ld libyaml events)\n", path,
	       mb, ndocs, events);
	printf("runs:  %d (best of)\n", runs);
	printf("raw:   %7.1f MB/s  %7.1f ms  libyaml event parse only\n",
	       mb / best_raw, best_raw * 1e3);
	printf("load:  %7.1f MB/s  %7.1f ms  kf_yaml_load_buf (JSON + positions)\n",
	       mb / best_load, best_load * 1e3);
	printf("ratio: %7.2f     load / raw (goal: <= 2.00)\n",
	       best_load / best_raw);
	printf("emit:  %7.1f MB/s  %7.1f ms  kf_yaml_emit, %.1f MB of YAML\n",
	       (double)out_len / 1e6 / best_emit, best_emit * 1e3,
	       (double)out_len / 1e6);
	printf("free:  %7.1f ms\n", best_free * 1e3);
	rc = 0;
out:
	kf_err_free(err);
	free(data);
	free(path);
	return rc;
}
