#!/usr/bin/env bash
# test_inventory_scale.sh: one ApplySet inventory keeps 20,000 members
# (issue 9, item 10). The simulator refuses what etcd and the apiserver
# refuse (a Secret's data over 1 MiB, a stored object over 1.5 MiB), so a
# record kept in one Secret fails here as it does on a real cluster.
#  1. apply 20,000 ConfigMaps with long names under --inventory: exit 0,
#     every object applied; the record is split (kfboot.io/state-parts > 1)
#     and every part is below the limits;
#  2. a re-apply sends no object (the whole record was read back);
#  3. prune down to 2,000 objects: the record shrinks and the unused parts
#     are deleted; `kfboot delete` removes the parent and every part.
# Runs against kubesim; with KF_INVENTORY_SERVER=real against a genuine
# kube-apiserver (realk8s), skipped (77) when that is absent.
# N (default 20000) sets the number of objects.
set -euo pipefail
: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
N=${N:-20000}
SERVER=${KF_INVENTORY_SERVER:-sim}
REALK8S=${KF_REALK8S:-$KF_SOURCE_DIR/../shared/realk8s/realk8s}
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
command -v kubectl >/dev/null || { echo "SKIP: kubectl not found"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq not found"; exit 77; }

# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
# shellcheck disable=SC2154 # tmp, pids and cleanup come from lib.sh
export XDG_CACHE_HOME=$tmp/cache

if [[ $SERVER == real ]]; then
	[[ -x $REALK8S ]] && "$REALK8S" available >/dev/null 2>&1 ||
		{ echo "SKIP: realk8s not available at $REALK8S"; exit 77; }
	eval "$("$REALK8S" start "$tmp/k8s")"
	trap '"$REALK8S" stop "$tmp/k8s" >/dev/null 2>&1 || true; cleanup' EXIT
	KC=$KUBECONFIG
else
	start_sim main
fi
kf() { "$KFBOOT" "$@" --kubeconfig "$KC"; }
k() { kubectl --kubeconfig "$KC" "$@"; }

# names of 200 characters, pseudo-random hex (they do not compress away):
# ~6,000 of them already filled one Secret; the same names every run
gen() { # gen COUNT FILE
	awk -v n="$1" 'BEGIN {
		srand(12345)
		print "apiVersion: v1\nkind: Namespace\nmetadata: {name: inv-scale}"
		for (i = 0; i < n; i++) {
			pad = ""
			for (j = 0; j < 180; j++)
				pad = pad substr("0123456789abcdef", int(rand() * 16) + 1, 1)
			printf "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%s-%07d, namespace: inv-scale}\ndata: {i: \"%d\"}\n", pad, i, i
		}
	}' >"$2"
}

step "1. apply $N ConfigMaps under one inventory ($SERVER)"
gen "$N" "$tmp/all.yaml"
kf apply -f "$tmp/all.yaml" --inventory scale --timeout 30m -o json >"$tmp/first.json" 2>"$tmp/first.err" ||
	{ tail -5 "$tmp/first.err"; fail "apply of $N objects failed"; }
[[ $(jq -r .applied "$tmp/first.json") == $((N + 1)) ]] || fail "applied: $(jq -c '{applied,failed}' "$tmp/first.json")"
k get secret -n kube-system scale -o json >"$tmp/parent.json"
parts=$(jq -r '.metadata.annotations["kfboot.io/state-parts"]' "$tmp/parent.json")
[[ $parts =~ ^[0-9]+$ && $parts -ge 2 ]] || fail "expected the record split in parts, got '$parts'"
jq -e '.metadata.annotations["applyset.kubernetes.io/contains-group-kinds"] == "ConfigMap,Namespace"' "$tmp/parent.json" >/dev/null ||
	fail "parent lacks kubectl's group-kinds annotation"
for ((i = 1; i < parts; i++)); do
	size=$(k get secret -n kube-system "scale-state-$i" -o json | wc -c)
	[[ $size -lt 1048576 ]] || fail "part $i is $size bytes"
done
[[ $(wc -c <"$tmp/parent.json") -lt 1048576 ]] || fail "parent is too large"
members=$(k get configmap -n inv-scale -l "applyset.kubernetes.io/part-of=$(jq -r '.metadata.labels["applyset.kubernetes.io/id"]' "$tmp/parent.json")" -o name | wc -l)
[[ $members == "$N" ]] || fail "kubectl lists $members members by the part-of label, want $N"

step "2. re-apply: nothing sent"
kf apply -f "$tmp/all.yaml" --inventory scale --timeout 30m -o json >"$tmp/second.json" 2>"$tmp/second.err" ||
	{ tail -5 "$tmp/second.err"; fail "re-apply failed"; }
[[ $(jq -r .unchanged "$tmp/second.json") == $((N + 1)) ]] ||
	fail "re-apply: $(jq -c '{applied,unchanged,failed}' "$tmp/second.json") (the record was not read back whole)"

step "3. prune to $((N / 10)); delete"
gen $((N / 10)) "$tmp/few.yaml"
kf apply -f "$tmp/few.yaml" --inventory scale --prune --force-prune --timeout 30m -o json >"$tmp/third.json" 2>"$tmp/third.err" ||
	{ tail -5 "$tmp/third.err"; fail "prune failed"; }
[[ $(jq -r .pruned "$tmp/third.json") == $((N - N / 10)) ]] || fail "pruned: $(jq -c '{pruned,failed}' "$tmp/third.json")"
parts2=$(k get secret -n kube-system scale -o json | jq -r '.metadata.annotations["kfboot.io/state-parts"]')
[[ $parts2 -lt $parts ]] || fail "record did not shrink ($parts -> $parts2 parts)"
k get secret -n kube-system "scale-state-$((parts - 1))" >/dev/null 2>&1 && fail "unused part $((parts - 1)) left behind"
kf delete --inventory scale --timeout 30m >/dev/null 2>"$tmp/del.err" || { tail -5 "$tmp/del.err"; fail "delete failed"; }
left=$(k get secret -n kube-system -o name | grep -c 'secret/scale' || [[ $? == 1 ]])
[[ $left == 0 ]] || fail "$left inventory Secrets left after delete"
echo "ok: $N objects in one inventory ($parts parts) on $SERVER"
