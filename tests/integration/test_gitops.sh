#!/usr/bin/env bash
# test_gitops.sh - `kfboot reconcile` and `kfboot render` against a real git
# repository (file:// and a plain path) and the kubesim API server:
#   1. render prints the environment's objects (substitution, namespace);
#   2. a first commit is applied to two environments; a second pass sends
#      zero writes;
#   3. a changed object is updated; a removed file is pruned in the
#      environment with prune: true and kept in the one with prune: false;
#   4. a commit with a YAML error, an unresolved ${VAR}, a duplicate object,
#      an unknown kind or a broken kfboot.yaml changes nothing in that
#      environment, its status names the commit and file:line:col, the other
#      environment goes on; the next good commit applies;
#   5. --dry-run says what would change and writes nothing;
#   6. kill -9 at random points during a reconcile, 20 times: the next start
#      converges and nothing that belongs to the set was ever pruned;
#   7. each environment's kubeconfig context picks its cluster (two
#      simulators), --context overrides it, and a cluster that is down fails
#      its environment only.
# Env: KFBOOT, KF_SOURCE_DIR (set by CTest). Needs git, kubectl, jq.
# shellcheck disable=SC2154 # tmp, KC, CTL, SIMPID come from tests/kubesim/lib.sh
set -euo pipefail

: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
for t in git kubectl jq curl; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not found"; exit 77; }
done
[[ -x /usr/bin/python3 ]] || { echo "SKIP: /usr/bin/python3 not found"; exit 77; }

# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
export XDG_CACHE_HOME=$tmp/cache
fail() { echo "FAIL: $*" >&2; [[ -n ${KEEP:-} ]] && cp -r "$tmp" /tmp/gt/keep1; exit 1; }
step() { echo "--- $*"; }

start_sim main
kc() { kubectl --kubeconfig "$KC" "$@"; }

W=$tmp/work
git init -q -b main "$W"
commit() {
	git -C "$W" add -A
	git -C "$W" -c user.email=t@example.com -c user.name=test commit -qm "$1"
	git -C "$W" rev-parse HEAD
}
rec() {
	"$KFBOOT" reconcile --repo "file://$W" --state-dir "$tmp/state" --kubeconfig "$KC" --once -o json
}
envj() { jq -c --arg e "$2" '.environments[] | select(.name == $e)' "$1"; }

mkdir -p "$W/apps/base" "$W/envs/dev" "$W/envs/staging"
cat >"$W/kfboot.yaml" <<'EOF'
apiVersion: kfboot.io/v1alpha1
kind: Repository
spec:
  environments:
    - name: dev
      namespace: ml-dev
      paths: [apps/base, envs/dev]
      substitute: { REPLICAS: "1", TIER: dev }
      prune: true
    - name: staging
      namespace: ml-staging
      paths: [apps/base, envs/staging]
      substitute: { REPLICAS: "2", TIER: staging }
      prune: false
EOF
cat >"$W/apps/base/app.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  replicas: "${REPLICAS}"
  tier: ${TIER}
  color: ${COLOR:=blue}
  literal: $${NOT_A_VAR}
---
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  ports: [{ port: 80 }]
EOF
for e in dev staging; do
	cat >"$W/envs/$e/ns.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: ml-$e
EOF
	cat >"$W/envs/$e/extra.yml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
data: { env: $e }
EOF
done
c1=$(commit "first")

step "1. render (offline)"
"$KFBOOT" render --repo "$W" --env staging --state-dir "$tmp/state-render" >"$tmp/render.yaml" ||
	fail "render failed"
grep -q 'replicas: "2"' "$tmp/render.yaml" || fail "REPLICAS not substituted: $(cat "$tmp/render.yaml")"
grep -q 'color: blue' "$tmp/render.yaml" || fail "default not used"
grep -q 'literal: ${NOT_A_VAR}' "$tmp/render.yaml" || fail "escape \$\${} not kept literal"
grep -q 'namespace: ml-staging' "$tmp/render.yaml" || fail "namespace not defaulted"
[[ $(grep -c '^kind:' "$tmp/render.yaml") == 4 ]] || fail "expected 4 objects"
grep -A3 'kind: Namespace' "$tmp/render.yaml" | grep -q namespace: && fail "a Namespace got a namespace"

step "2. first commit applied to both environments"
rec >"$tmp/s1.json" || { cat "$tmp/s1.json"; fail "first reconcile failed"; }
for e in dev staging; do
	j=$(envj "$tmp/s1.json" $e)
	[[ $(jq -r .result <<<"$j") == applied && $(jq -r .commit <<<"$j") == "$c1" ]] || fail "$e: $j"
	[[ $(jq -r .health <<<"$j") == healthy ]] || fail "$e not healthy: $j"
done
[[ $(kc get cm app-config -n ml-staging -o jsonpath='{.data.replicas}') == 2 ]] || fail "staging app-config"
[[ $(kc get cm app-config -n ml-dev -o jsonpath='{.data.tier}') == dev ]] || fail "dev app-config"
reset_stats
rec >"$tmp/s2.json" || fail "second reconcile failed"
[[ $(writes) == 0 ]] || fail "a no-op reconcile wrote $(writes) times: $(stats)"

step "3. a changed object is updated; a removed file is pruned (dev) or kept (staging)"
sed -i 's/color: ${COLOR:=blue}/color: ${COLOR:=green}/' "$W/apps/base/app.yaml"
rm "$W/envs/dev/extra.yml" "$W/envs/staging/extra.yml"
commit "change color, drop extra" >/dev/null
rec >"$tmp/s3.json" || { cat "$tmp/s3.json"; fail "reconcile of the second commit failed"; }
[[ $(kc get cm app-config -n ml-dev -o jsonpath='{.data.color}') == green ]] || fail "dev not updated"
[[ $(kc get cm app-config -n ml-staging -o jsonpath='{.data.color}') == green ]] || fail "staging not updated"
kc get cm extra -n ml-dev >/dev/null 2>&1 && fail "dev/extra not pruned (prune: true)"
kc get cm extra -n ml-staging >/dev/null 2>&1 || fail "staging/extra pruned although prune: false"
[[ $(envj "$tmp/s3.json" dev | jq -r .objects.pruned) == 1 ]] || fail "dev pruned count: $(envj "$tmp/s3.json" dev)"

step "4. broken commits change nothing in their environment; the others go on"
rv_before=$(kc get cm app-config -n ml-dev -o jsonpath='{.metadata.resourceVersion}')
n=0
check_broken() { # name file line col
	local what=$1 file=$2 line=$3 col=$4 c j
	n=$((n + 1))
	cat >"$W/envs/staging/marker.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: marker
data: { count: "$n" }
EOF
	c=$(commit "broken: $what")
	if rec >"$tmp/b$n.json" 2>"$tmp/b$n.err"; then fail "$what: --once exited 0"; fi
	j=$(envj "$tmp/b$n.json" dev)
	# A broken kfboot.yaml names no environment: the status says it once.
	[[ $file == kfboot.yaml ]] && j=$(jq -c '.configError + {result: "invalid", appliedCommit: ""}' "$tmp/b$n.json")
	[[ $(jq -r .result <<<"$j") == invalid ]] || fail "$what: dev result: $j"
	[[ $(jq -r .commit <<<"$j") == "$c" ]] || fail "$what: status does not name commit $c: $j"
	[[ $(jq -r .appliedCommit <<<"$j") != "$c" ]] || fail "$what: broken commit recorded as applied"
	[[ $(jq -r '.error // . | .file' <<<"$j") == "$file" ]] || fail "$what: error file: $j"
	[[ $(jq -r '.error // . | .line' <<<"$j") == "$line" && $(jq -r '.error // . | .column' <<<"$j") == "$col" ]] ||
		fail "$what: expected $file:$line:$col: $j"
	[[ $(kc get cm app-config -n ml-dev -o jsonpath='{.metadata.resourceVersion}') == "$rv_before" ]] ||
		fail "$what: dev was written"
	kc get cm broken -n ml-dev >/dev/null 2>&1 && fail "$what: part of the broken commit was applied"
	if [[ $file != kfboot.yaml ]]; then
		[[ $(envj "$tmp/b$n.json" staging | jq -r .result) == applied ]] || fail "$what: staging did not go on"
		[[ $(kc get cm marker -n ml-staging -o jsonpath='{.data.count}') == "$n" ]] || fail "$what: staging not applied"
	fi
	echo "    $what: $(jq -r '.error // . | "\(.file):\(.line):\(.column): \(.message)"' <<<"$j")"
}
good() { # remove the broken file, check the next commit applies
	rm -f "$@"
	local c
	c=$(commit "fix")
	rec >"$tmp/good.json" || { cat "$tmp/good.json"; fail "good commit after a broken one did not apply"; }
	[[ $(envj "$tmp/good.json" dev | jq -r .appliedCommit) == "$c" ]] || fail "fix not applied"
	rv_before=$(kc get cm app-config -n ml-dev -o jsonpath='{.metadata.resourceVersion}')
}

cat >"$W/envs/dev/broken.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
data:
  a: [1, 2
EOF
cat >"$W/envs/dev/a-ok.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: broken-neighbour
EOF
check_broken "YAML error" envs/dev/broken.yaml 7 1
good "$W/envs/dev/broken.yaml" "$W/envs/dev/a-ok.yaml"

cat >"$W/envs/dev/broken.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
data:
  x: "${UNDEFINED_VAR}"
EOF
check_broken "unresolved variable" envs/dev/broken.yaml 6 7
grep -q "UNDEFINED_VAR" "$tmp/b$n.json" || fail "message does not name the variable"
good "$W/envs/dev/broken.yaml"

cat >"$W/envs/dev/zz-dup.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
---
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  ports: [{ port: 81 }]
EOF
check_broken "duplicate object" envs/dev/zz-dup.yaml 6 1
grep -q "duplicate object" "$tmp/b$n.json" || fail "no 'duplicate object' message"
grep -q "apps/base/app.yaml" "$tmp/b$n.json" || fail "duplicate message does not name the other place"
good "$W/envs/dev/zz-dup.yaml"

cat >"$W/envs/dev/broken.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
---
apiVersion: example.com/v1
kind: Frobnicator
metadata:
  name: x
EOF
check_broken "unknown kind" envs/dev/broken.yaml 7 7
good "$W/envs/dev/broken.yaml"

cp "$W/kfboot.yaml" "$tmp/kfboot.yaml.good"
sed -i 's/      prune: true/      prnue: true/' "$W/kfboot.yaml"
check_broken "kfboot.yaml typo" kfboot.yaml 9 7
grep -q "did you mean 'prune'" "$tmp/b$n.json" || fail "no suggestion for the typo"
cp "$tmp/kfboot.yaml.good" "$W/kfboot.yaml"
good

step "5. --dry-run says what would change and writes nothing"
sed -i 's/color: ${COLOR:=green}/color: ${COLOR:=red}/' "$W/apps/base/app.yaml"
commit "red" >/dev/null
reset_stats
"$KFBOOT" reconcile --repo "$W" --state-dir "$tmp/state" --kubeconfig "$KC" --dry-run >"$tmp/dry.txt" ||
	{ cat "$tmp/dry.txt"; fail "dry run failed"; }
# Server-side dry-run PATCHes count as requests, never as stored writes.
[[ $(stats | jq -r .storage_writes) == 0 ]] || fail "dry run wrote: $(stats)"
grep -q 'would apply ConfigMap ml-dev/app-config' "$tmp/dry.txt" || fail "dry run does not name the change: $(cat "$tmp/dry.txt")"
[[ $(kc get cm app-config -n ml-dev -o jsonpath='{.data.color}') == green ]] || fail "dry run changed the object"

step "6. kill -9 at random points during a reconcile, 20 times"
mkdir -p "$W/envs/dev/many"
gen() { # round: 300 ConfigMaps (values change every round) + 5 new ones per round
	local r=$1 i
	: >"$W/envs/dev/many/cms.yaml"
	for i in $(seq 1 $((300 + 5 * r))); do
		printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  round: "%d"\n---\n' "$i" "$r" >>"$W/envs/dev/many/cms.yaml"
	done
}
gen 0
commit "many" >/dev/null
rec >/dev/null || fail "reconcile of 300 objects failed"
count() { kc get cm -n ml-dev -o name | grep -c '/cm-' || true; }
prev=$(count)
[[ $prev == 300 ]] || fail "expected 300 ConfigMaps, found $prev"
for r in $(seq 1 20); do
	gen "$r"
	commit "round $r" >/dev/null
	rec >/dev/null 2>&1 &
	p=$!
	sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	now=$(count)
	((now >= prev)) || fail "round $r: objects that belong were deleted ($prev -> $now)"
	prev=$now
	kc get cm app-config -n ml-dev >/dev/null || fail "round $r: app-config gone"
done
rec >"$tmp/final.json" || { cat "$tmp/final.json"; fail "the run after 20 kills did not converge"; }
[[ $(count) == $((300 + 5 * 20)) ]] || fail "expected $((300 + 5 * 20)) ConfigMaps after converging, found $(count)"
[[ $(kc get cm cm-7 -n ml-dev -o jsonpath='{.data.round}') == 20 ]] || fail "cm-7 not at round 20"
reset_stats
rec >/dev/null || fail "no-op after converging failed"
[[ $(writes) == 0 ]] || fail "no-op after converging wrote $(writes) times"
step "7. each environment's context picks its cluster; --context overrides; an unreachable one does not stop the other"
KC_A=$KC
start_sim second
KC_B=$KC
SIM_B=$SIMPID
sed -e 's/kubesim-admin/admin-a/g' -e 's/\bkubesim\b/ctx-a/g' "$KC_A" >"$tmp/kc-a"
sed -e 's/kubesim-admin/admin-b/g' -e 's/\bkubesim\b/ctx-b/g' "$KC_B" >"$tmp/kc-b"
W2=$tmp/work2
git init -q -b main "$W2"
mkdir -p "$W2/app"
cat >"$W2/kfboot.yaml" <<'EOF'
apiVersion: kfboot.io/v1alpha1
kind: Repository
spec:
  environments:
    - { name: east, context: ctx-a, namespace: default, paths: [app], substitute: { WHERE: east } }
    - { name: west, context: ctx-b, namespace: default, paths: [app], substitute: { WHERE: west } }
EOF
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: where-${WHERE}\ndata: { round: "1" }\n' >"$W2/app/cm.yaml"
git -C "$W2" add -A
git -C "$W2" -c user.email=t@example.com -c user.name=test commit -qm one
multi() { KUBECONFIG="$tmp/kc-a:$tmp/kc-b" "$KFBOOT" reconcile --repo "$W2" --state-dir "$tmp/state2" --once "$@"; }
multi -o json >"$tmp/ctx.json" || { cat "$tmp/ctx.json"; fail "two contexts: reconcile failed"; }
kubectl --kubeconfig "$KC_A" get cm where-east >/dev/null || fail "east not in cluster a"
kubectl --kubeconfig "$KC_B" get cm where-west >/dev/null || fail "west not in cluster b"
kubectl --kubeconfig "$KC_A" get cm where-west >/dev/null 2>&1 && fail "west applied to cluster a"
multi --context ctx-b --env east >/dev/null || fail "--context override failed"
kubectl --kubeconfig "$KC_B" get cm where-east >/dev/null || fail "--context ctx-b did not send east to cluster b"
kill "$SIM_B"
sed -i 's/round: "1"/round: "2"/' "$W2/app/cm.yaml"
git -C "$W2" -c user.email=t@example.com -c user.name=test commit -qam two
if multi -o json >"$tmp/ctx2.json" 2>/dev/null; then fail "a cluster that is down still gave exit 0"; fi
[[ $(envj "$tmp/ctx2.json" east | jq -r .result) == applied ]] || fail "east did not go on: $(cat "$tmp/ctx2.json")"
[[ $(envj "$tmp/ctx2.json" west | jq -r .result) == failed ]] || fail "west: $(envj "$tmp/ctx2.json" west)"
[[ $(envj "$tmp/ctx2.json" west | jq -r .error.message) == *ctx-b* ]] || fail "west's error does not name its context"
[[ $(kubectl --kubeconfig "$KC_A" get cm where-east -o jsonpath='{.data.round}') == 2 ]] || fail "east not updated"

step "8. an environment removed from kfboot.yaml: its objects stay, one warning says how to remove them"
KC=$KC_A
grep -q -- '- name: staging' "$W/kfboot.yaml" || fail "no staging in kfboot.yaml: $(cat "$W/kfboot.yaml")"
sed -i '/- name: staging/,/prune: false/d' "$W/kfboot.yaml"
commit "drop staging" >/dev/null
rec >"$tmp/s8.json" 2>"$tmp/s8.err" || { cat "$tmp/s8.err" "$tmp/s8.json"; fail "reconcile after dropping staging"; }
cat "$tmp/s8.err"
grep -q "inventory kube-system/kfboot-gitops-staging: environment 'staging' is not in kfboot.yaml.*'kfboot delete --inventory kube-system/kfboot-gitops-staging' removes them" "$tmp/s8.err" ||
	fail "no warning about staging's objects"
[[ $(grep -c "environment 'staging' is not in" "$tmp/s8.err") == 1 ]] || fail "the warning is not said exactly once"
# step 7's repository applied 'east' to this cluster too: it is named as well
grep -q "environment 'east' is not in kfboot.yaml (removed from it, or another repository's)" "$tmp/s8.err" || fail "east's inventory not named"
kc get cm app-config -n ml-staging >/dev/null || fail "staging's objects were removed by the reconciler"
"$KFBOOT" delete --inventory kube-system/kfboot-gitops-staging --kubeconfig "$KC" >"$tmp/del8.out" 2>&1 || { cat "$tmp/del8.out"; fail "delete --inventory of the removed environment"; }
! kc get cm app-config -n ml-staging >/dev/null 2>&1 || fail "delete --inventory left staging's app-config"
rec >"$tmp/s8b.json" 2>"$tmp/s8b.err" || fail "reconcile after the delete"
! grep -q "environment 'staging' is not in" "$tmp/s8b.err" || fail "still warned after the inventory was deleted"
echo "PASS"
