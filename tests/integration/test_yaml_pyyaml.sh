#!/usr/bin/env bash
# test_yaml_pyyaml.sh - kfboot's YAML loader must read real manifests
# exactly as Kubernetes does: every document of the Kubeflow manifests
# (full-example.yaml and every other .yaml there) and the KFP pipeline
# files are compared, object by object, with an independent parser
# (PyYAML's pure-Python SafeLoader, timestamps kept as strings, keys turned
# into strings as sigs.k8s.io/yaml does). See yaml_compare.py.
#
# Also checks that the comparison is not vacuous: on tests/data/yaml/
# k8s-tricky.yaml the go-yaml-v2 mode agrees with kfboot and plain YAML 1.1
# does not (y/n are booleans for Kubernetes, 1e3 a float, ...).
#
# Env (set by ctest): KF_SOURCE_DIR, KF_DATA_DIR, KF_BUILD_DIR.
set -euo pipefail

src=${KF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
data=${KF_DATA_DIR:-${KF_BUILD_DIR:-$src/build}/testdata}
build=${KF_BUILD_DIR:-$src/build}
tool=$build/tests/yaml2json
py=/usr/bin/python3
cmp=$src/tests/integration/yaml_compare.py

fail() { echo "FAIL: $*" >&2; exit 1; }

[ -x "$tool" ] || fail "$tool not built (cmake --build $build --target yaml2json)"
"$py" -c 'import yaml' 2>/dev/null || fail "$py cannot import yaml (apt-get install python3-yaml)"

manifests=$data/kubeflow-manifests
[ -f "$manifests/full-example.yaml" ] || fail "$manifests/full-example.yaml missing"

# 1. The comparison can tell Kubernetes' rules from YAML 1.1.
tricky=$src/tests/data/yaml/k8s-tricky.yaml
"$py" "$cmp" --tool "$tool" --mode k8s "$tricky" ||
	fail "kfboot differs from go-yaml v2 rules on $tricky"
if out=$("$py" "$cmp" --tool "$tool" --mode yaml11 "$tricky"); then
	fail "plain YAML 1.1 should differ from kfboot on $tricky"
fi
grep -q 'FAIL .*k8s-tricky.yaml: \[yaml11\] document 0 (ConfigMap/tricky): \$.data.short-bools\[0\]: bool true vs string "y"' <<<"$out" ||
	fail "unexpected yaml11 difference report: $out"

# 2. Every manifest, document by document, in both modes.
mapfile -t files < <(find "$manifests" -name '*.yaml' | sort; ls "$data"/kfp-api/*.yaml)
[ "${#files[@]}" -ge 30 ] || fail "expected 30+ YAML files, found ${#files[@]}"
out=$("$py" "$cmp" --tool "$tool" "${files[@]}") || { echo "$out"; fail "documents differ"; }
echo "$out" | tail -n 1
echo "$out" | grep -q 'full-example.yaml (675 documents)' || fail "full-example.yaml: not 675 documents"
echo "$out" | grep -q ' 0 files differ$' || fail "summary line missing"
echo "PASS"
