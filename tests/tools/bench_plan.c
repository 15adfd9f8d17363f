/*
 * bench_plan.c - time every per-object phase of validation and planning
 * that kfboot runs before it talks to a server, on a manifest file given on
 * the command line (tests/bench/bench_plan.sh writes one with 100,000 small
 * objects): read and parse the YAML, build the objects, resolve kinds
 * (discovery and the CRDs in the input) with duplicate detection, sort into
 * apply order, label and hash every object, and list the ApplySet
 * group-kinds. Prints one line per phase with its time and the time per
 * object.
 *
 * For the ratio, it also runs the pairwise duplicate check kfboot used
 * before (every pair compared, O(n^2)) on the first PAIRWISE_N objects
 * (argument 2, default 20000; 0 skips it) and the sorted check on the same
 * objects.
 *
 * Usage: bench_plan FILE [PAIRWISE_N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/kube.h"

/* CPU seconds of this process (the machine may be shared: wall time
 * alone would measure the neighbours) */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu0;

static double phase(const char *name, double t0, size_t n)
{
	double t = kf_now() - t0, c = cpu_now() - cpu0;

	printf("%-28s %9.3f s wall %9.3f s cpu  %8.2f us cpu/object\n", name, t, c,
	       n ? c * 1e6 / (double)n : 0.0);
	cpu0 = cpu_now();
	return c;
}

static size_t pairwise_dups(const struct kf_objset *set, size_t n)
{
	size_t dups = 0;

	for (size_t i = 0; i < n; i++) {
		const struct kf_obj *a = &set->v[i];

		for (size_t j = i + 1; j < n; j++) {
			const struct kf_obj *b = &set->v[j];

			if (strcmp(a->name, b->name) || strcmp(a->kind, b->kind) || strcmp(a->group, b->group))
				continue;
			if ((a->ns || b->ns) && (!a->ns || !b->ns || strcmp(a->ns, b->ns)))
				continue;
			dups++;
		}
	}
	return dups;
}

int main(int argc, char **argv)
{
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_discovery *d = kf_discovery_new();
	struct kf_err *err = NULL;
	const char *paths[1];
	size_t pn = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 20000;
	double t0, total = 0;
	char *gks;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_plan FILE [PAIRWISE_N]\n");
		return 2;
	}
	paths[0] = argv[1];
	kf_discovery_add(d, "", "v1", "ConfigMap", "configmaps", true);
	kf_discovery_add(d, "", "v1", "Namespace", "namespaces", false);
	kf_discovery_add(d, "apiextensions.k8s.io", "v1", "CustomResourceDefinition",
			 "customresourcedefinitions", false);

	t0 = kf_now();
	cpu0 = cpu_now();
	if (kf_objset_load(&set, paths, 1, &dg, &err)) {
		char *m = kf_err_str(err);

		fprintf(stderr, "bench_plan: %s\n", m);
		free(m);
		return 1;
	}
	total += phase("read + parse + objects", t0, set.n);

	t0 = kf_now();
	cpu0 = cpu_now();
	if (kf_objset_resolve(&set, d, "default", &dg)) {
		fprintf(stderr, "bench_plan: %zu problem(s) resolving\n", dg.n);
		return 1;
	}
	total += phase("resolve kinds + duplicates", t0, set.n);

	t0 = kf_now();
	kf_objset_sort(&set);
	total += phase("sort (apply order)", t0, set.n);

	t0 = kf_now();
	for (size_t i = 0; i < set.n; i++) {
		json_t *md = json_object_get(set.v[i].obj, "metadata");
		json_t *labels = json_object_get(md, "labels");

		if (!json_is_object(labels)) {
			labels = json_object();
			json_object_set_new(md, "labels", labels);
		}
		json_object_set_new(labels, KF_APPLYSET_PART_OF, json_string("applyset-bench-v1"));
		kf_obj_hash(&set.v[i]);
	}
	total += phase("label + hash", t0, set.n);

	t0 = kf_now();
	gks = kf_applyset_group_kinds(&set);
	total += phase("ApplySet group-kinds", t0, set.n);
	free(gks);
	printf("%-28s %9.3f s cpu for %zu objects\n", "total", total, set.n);

	if (pn > set.n)
		pn = set.n;
	if (pn) {
		struct kf_objset sub = set;
		struct kf_diags dg2 = KF_DIAGS_INIT;
		double tp, ts;

		sub.n = pn;
		size_t dups;

		t0 = cpu_now();
		dups = pairwise_dups(&sub, pn);
		tp = cpu_now() - t0;
		t0 = cpu_now();
		kf_objset_resolve(&sub, d, "default", &dg2);
		ts = cpu_now() - t0;
		printf("duplicates on %zu objects: pairwise (before) %.3f s, resolve with sorted check (now) %.3f s cpu: %.0fx faster (%zu/%zu dups)\n",
		       pn, tp, ts, ts > 0 ? tp / ts : 0.0, dups, dg2.n);
		kf_diags_release(&dg2);
	}
	kf_diags_release(&dg);
	kf_objset_release(&set);
	kf_discovery_free(d);
	return 0;
}
