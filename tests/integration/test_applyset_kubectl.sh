#!/usr/bin/env bash
# test_applyset_kubectl.sh - kfboot's ApplySet inventories and kubectl's
# (`KUBECTL_APPLYSET=true kubectl apply --prune --applyset=...`) are the same
# sets, against the server KF_SERVER names (sim or real; CTest runs both):
#   1. kfboot -> kubectl: a set kfboot applied (parent Secret ia/kf-set) is
#      refused by kubectl while its tooling annotation says kfboot (the
#      ApplySet convention: one tool mutates a set); after a hand-over (the
#      tooling annotation set to kubectl) kubectl's --prune with one member
#      left prunes exactly the two others kfboot recorded, so kubectl read
#      kfboot's id label, part-of labels and contains-group-kinds as its own;
#   2. kubectl -> kfboot: a set kubectl applied (ib/k-set) carries the id
#      kfboot computes for that parent; kfboot refuses to apply or diff it
#      (managed by kubectl); after a hand-over kfboot --prune with one member
#      left prunes exactly kubectl's two others and records the set in
#      kubectl's format.
# Env: KFBOOT, KF_SOURCE_DIR (set by CTest); KF_SERVER=sim|real.
set -euo pipefail

: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
command -v kubectl >/dev/null || { echo "SKIP: kubectl not installed"; exit 77; }

# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
[[ $KF_SERVER == real ]] && need_real
: "${tmp:?}"
export XDG_CACHE_HOME=$tmp/cache

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
k() { kubectl --kubeconfig "$KC" --cache-dir "$tmp/kcache" "$@"; }
kset() { KUBECTL_APPLYSET=true k apply --server-side --prune "$@"; }
kf() { "$KFBOOT" "$@" --kubeconfig "$KC"; }
members() { k get configmaps,serviceaccounts -n "$1" -o name | grep -v "^serviceaccount/default$" | sort | tr "\n" " "; }
set3() { # NS PREFIX: two ConfigMaps and a ServiceAccount
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s1\n  namespace: %s\n---\n' "$2" "$1"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s2\n  namespace: %s\n---\n' "$2" "$1"
	printf 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: %ss\n  namespace: %s\n' "$2" "$1"
}
set1() { printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s1\n  namespace: %s\n' "$2" "$1"; }

start_server main
echo "server: $KF_SERVER"
k create namespace ia >/dev/null
k create namespace ib >/dev/null
set3 ia a >"$tmp/a3.yaml"
set1 ia a >"$tmp/a1.yaml"
set3 ib b >"$tmp/b3.yaml"
set1 ib b >"$tmp/b1.yaml"

step "1. kfboot -> kubectl"
kf apply -f "$tmp/a3.yaml" --inventory ia/kf-set -q >/dev/null || fail "kfboot apply failed"
id=$(k get secret kf-set -n ia -o jsonpath='{.metadata.labels.applyset\.kubernetes\.io/id}')
[[ $id == applyset-*-v1 ]] || fail "no ApplySet id label on kfboot's parent: '$id'"
[[ $(k get configmap a2 -n ia -o jsonpath='{.metadata.labels.applyset\.kubernetes\.io/part-of}') == "$id" ]] ||
	fail "members do not carry the parent's id"
if kset -n ia --applyset=secret/kf-set -f "$tmp/a1.yaml" >"$tmp/k1.out" 2>&1; then
	fail "kubectl changed a set whose tooling is kfboot: $(cat "$tmp/k1.out")"
fi
grep -q 'managed by tooling "kfboot"' "$tmp/k1.out" || fail "kubectl's refusal does not name kfboot: $(cat "$tmp/k1.out")"
[[ $(members ia) == "configmap/a1 configmap/a2 serviceaccount/as " ]] || fail "kubectl's refusal changed objects: $(members ia)"
k annotate secret kf-set -n ia applyset.kubernetes.io/tooling=kubectl/v1.32.0 --overwrite >/dev/null
kset -n ia --applyset=secret/kf-set -f "$tmp/a1.yaml" >"$tmp/k2.out" 2>&1 || fail "kubectl --prune on the handed-over set failed: $(cat "$tmp/k2.out")"
grep -q 'configmap/a2 pruned' "$tmp/k2.out" && grep -q 'serviceaccount/as pruned' "$tmp/k2.out" ||
	fail "kubectl did not prune kfboot's members: $(cat "$tmp/k2.out")"
[[ $(members ia) == "configmap/a1 " ]] || fail "after kubectl's prune: $(members ia)"
[[ $(k get secret kf-set -n ia -o jsonpath='{.metadata.labels.applyset\.kubernetes\.io/id}') == "$id" ]] ||
	fail "kubectl computed another id for the same parent"
echo "kubectl pruned kfboot's members a2, as (id $id)"

step "2. kubectl -> kfboot"
kset -n ib --applyset=secret/k-set -f "$tmp/b3.yaml" >/dev/null 2>&1 || fail "kubectl applyset apply failed"
kid=$(k get secret k-set -n ib -o jsonpath='{.metadata.labels.applyset\.kubernetes\.io/id}')
[[ $(k get configmap b2 -n ib -o jsonpath='{.metadata.labels.applyset\.kubernetes\.io/part-of}') == "$kid" ]] ||
	fail "kubectl's members do not carry its id"
for cmd in apply diff; do
	set +e
	kf "$cmd" -f "$tmp/b1.yaml" --inventory ib/k-set >"$tmp/$cmd.out" 2>&1
	rc=$?
	set -e
	[[ $rc != 0 ]] || fail "kfboot $cmd took a set whose tooling is kubectl"
	grep -q "managed by 'kubectl/" "$tmp/$cmd.out" || fail "kfboot $cmd: refusal does not name kubectl: $(cat "$tmp/$cmd.out")"
done
[[ $(members ib) == "configmap/b1 configmap/b2 serviceaccount/bs " ]] || fail "kfboot's refusal changed objects: $(members ib)"
k annotate secret k-set -n ib applyset.kubernetes.io/tooling=kfboot/v0.1.0 --overwrite >/dev/null
kf apply -f "$tmp/b1.yaml" --inventory ib/k-set --prune --force-prune -o json >"$tmp/kp.json" 2>/dev/null ||
	fail "kfboot --prune on the handed-over set failed"
[[ $(jq -r .pruned "$tmp/kp.json") == 2 ]] || fail "kfboot pruned $(jq -r .pruned "$tmp/kp.json"), want 2"
[[ $(members ib) == "configmap/b1 " ]] || fail "after kfboot's prune: $(members ib)"
[[ $(k get secret k-set -n ib -o jsonpath='{.metadata.labels.applyset\.kubernetes\.io/id}') == "$kid" ]] ||
	fail "kfboot computed another id than kubectl for the same parent"
[[ $(k get secret k-set -n ib -o jsonpath='{.metadata.annotations.applyset\.kubernetes\.io/contains-group-kinds}') == ConfigMap ]] ||
	fail "contains-group-kinds not updated in kubectl's format"
echo "kfboot pruned kubectl's members b2, bs (id $kid)"
echo "PASS"
