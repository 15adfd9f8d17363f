#!/usr/bin/env bash
# bench_plan.sh - time per phase of kfboot's local validation and planning
# on N small objects (default 100,000: ConfigMaps in 100 namespaces, one
# CRD and N/10 custom resources of it), with tests/tools/bench_plan.c; and
# `kfboot apply --dry-run` end to end on the same file against a kubeconfig
# whose server is a closed port (it must refuse nothing locally, so the time
# is everything kfboot does before it would connect, plus the failed
# connect). Prints the ratio of the old pairwise duplicate check to the
# sorted one. A benchmark, not a test: it never fails on timing.
#
# Env: KF_BUILD_DIR (default build), N (100000), PAIRWISE_N (20000).
set -euo pipefail
KF_SOURCE_DIR=${KF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
KF_BUILD_DIR=${KF_BUILD_DIR:-$KF_SOURCE_DIR/build}
N=${N:-100000}
PAIRWISE_N=${PAIRWISE_N:-20000}
tool=$KF_BUILD_DIR/tests/bench_plan
[ -x "$tool" ] || { echo "bench_plan: build $tool first (scripts/build.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

awk -v n="$N" 'BEGIN {
	print "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.bench.example.com"
	print "spec:\n  group: bench.example.com\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets}"
	print "  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]"
	crs = int(n / 10)
	for (i = 0; i < n - crs - 1; i++)
		printf "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%07d\n  namespace: ns-%02d\n  labels: {app: bench}\ndata:\n  key: value-%d\n", i, i % 100, i
	for (i = 0; i < crs; i++)
		printf "---\napiVersion: bench.example.com/v1\nkind: Widget\nmetadata:\n  name: w-%07d\n  namespace: ns-%02d\nspec:\n  size: %d\n", i, i % 100, i
}' > "$work/objects.yaml"
echo "bench_plan: $N objects, $(du -h "$work/objects.yaml" | cut -f1) of YAML"
"$tool" "$work/objects.yaml" "$PAIRWISE_N"
