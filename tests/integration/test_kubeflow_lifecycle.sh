#!/usr/bin/env bash
# test_kubeflow_lifecycle.sh - `kfboot kubeflow status` and `kfboot kubeflow
# uninstall` against the kubesim API server simulator (TLS, client certs):
#   1. after `install --components trainer` (3 components), status lists
#      exactly those three in dependency order, healthy, with the object
#      counts the install applied and the version the images carry;
#   2. uninstall refuses to remove what an installed component needs and
#      deletes nothing;
#   3. uninstall --dry-run deletes nothing;
#   4. uninstall trainer deletes exactly its objects (an unlabelled object
#      beside them stays); status then lists the other two;
#   5. uninstall --all removes the rest; status says nothing is installed;
#   6. an unknown component is a usage error (exit 2).
# Env: KFBOOT, KF_SOURCE_DIR, KF_DATA_DIR (set by CTest). No network.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
KF_DATA_DIR=${KF_DATA_DIR:-${KF_BUILD_DIR:-$KF_SOURCE_DIR/build}/testdata}
SRC=$KF_DATA_DIR/kubeflow-manifests
[[ -f $SRC/trainer.yaml ]] || { echo "SKIP: $SRC not found"; exit 77; }
command -v kubectl >/dev/null || { echo "SKIP: kubectl not found"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq not found"; exit 77; }

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
export HOME=$tmp/home XDG_STATE_HOME=$tmp/xdg-state XDG_CACHE_HOME=$tmp/xdg-cache
mkdir -p "$HOME"
kf() { "$KFBOOT" "$@" --kubeconfig "$KC"; }
k() { kubectl --kubeconfig "$KC" --cache-dir "$tmp/kcache" "$@"; }

start_sim main --crd-delay 0.2 --deploy-delay 0.2

step "1. status after installing trainer"
kf kubeflow install --components trainer --source "$SRC" --state-dir "$tmp/state" --timeout 3m \
	-o json >"$tmp/install.json" 2>"$tmp/install.err" || { tail -20 "$tmp/install.err"; fail "install failed"; }
kf kubeflow status -o json >"$tmp/status.json" || fail "status failed on a healthy install"
[[ $(jq -r '[.components[].component] | join(",")' "$tmp/status.json") == kubeflow-namespace,kubeflow-roles,trainer ]] ||
	fail "status lists $(jq -c '[.components[].component]' "$tmp/status.json")"
[[ $(jq -r '[.components[].health] | unique | join(",")' "$tmp/status.json") == Healthy ]] ||
	fail "not all healthy: $(jq -c . "$tmp/status.json")"
for c in kubeflow-namespace kubeflow-roles trainer; do
	want=$(jq -r --arg c "$c" '.perComponent[] | select(.name == $c) | .objects' "$tmp/install.json")
	got=$(jq -r --arg c "$c" '.components[] | select(.component == $c) | .objects' "$tmp/status.json")
	[[ -n $want && $want == "$got" ]] || fail "$c: install applied $want objects, status counts $got"
done
img=$(grep -m1 -oE 'image: [^ ]*trainer[^ ]*:[^ @]+' "$SRC/trainer.yaml" | sed 's/.*://')
[[ $(jq -r '.components[] | select(.component == "trainer") | .version' "$tmp/status.json") == "$img" ]] ||
	fail "trainer version is not the image tag $img: $(jq -c '.components[2]' "$tmp/status.json")"
grep -qE '^trainer +[^ ]+ +[0-9]+ +[0-9]+  Healthy' <<<"$(kf kubeflow status)" || fail "text status has no trainer row"

step "2. uninstall refuses to remove what trainer needs"
k create configmap bystander -n kubeflow --from-literal=a=b >/dev/null
reset_stats
set +e
kf kubeflow uninstall kubeflow-roles 2>"$tmp/refuse.err"
rc=$?
set -e
[[ $rc == 1 ]] || fail "uninstall of a needed component exited $rc"
grep -q "'trainer' needs 'kubeflow-roles'" "$tmp/refuse.err" || fail "refusal does not say why: $(cat "$tmp/refuse.err")"
[[ $(writes) == 0 ]] || fail "a refused uninstall wrote"

step "3. uninstall --dry-run deletes nothing"
kf kubeflow uninstall trainer --dry-run >"$tmp/dry.out" 2>&1 || { cat "$tmp/dry.out"; fail "dry run failed"; }
grep -q "trainer: would delete" "$tmp/dry.out" || fail "dry run does not say what it would delete"
kf kubeflow status -o json | jq -e '.components | length == 3' >/dev/null || fail "dry run removed something"

step "4. uninstall trainer"
n=$(jq -r '.components[] | select(.component == "trainer") | .objects' "$tmp/status.json")
kf kubeflow uninstall trainer -o json >"$tmp/un.json" 2>"$tmp/un.err" || { cat "$tmp/un.err"; fail "uninstall trainer failed"; }
[[ $(jq -r '.components[0].deleted' "$tmp/un.json") == "$n" ]] || fail "deleted $(jq -c . "$tmp/un.json"), expected $n objects"
grep -q trainer <<<"$(k get deploy -A -o name)" && fail "a trainer Deployment is still there"
k get configmap bystander -n kubeflow >/dev/null || fail "an unlabelled object was deleted"
[[ $(kf kubeflow status -o json | jq -r '[.components[].component] | join(",")') == kubeflow-namespace,kubeflow-roles ]] ||
	fail "status after uninstall is wrong"

step "5. uninstall --all"
kf kubeflow uninstall --all >"$tmp/all.out" 2>&1 || { cat "$tmp/all.out"; fail "uninstall --all failed"; }
grep -q "^kubeflow-roles: deleted" "$tmp/all.out" || fail "kubeflow-roles not reported"
grep -q "No Kubeflow component is installed" <<<"$(kf kubeflow status)" || fail "status after --all: $(kf kubeflow status)"

step "6. an unknown component"
set +e
kf kubeflow uninstall no-such-thing 2>"$tmp/unk.err"
rc=$?
set -e
[[ $rc == 2 ]] || fail "unknown component exited $rc"
grep -q "unknown component 'no-such-thing'" "$tmp/unk.err" || fail "unknown component message: $(cat "$tmp/unk.err")"
echo "kubeflow lifecycle: ok"
