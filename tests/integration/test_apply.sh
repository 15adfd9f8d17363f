#!/usr/bin/env bash
# test_apply.sh - `kfboot apply/diff/delete` with the real Kubeflow
# manifests against the server KF_SERVER names: `sim` (default; the kubesim
# API server simulator, TLS, client certificates) or `real` (a genuine
# kube-apiserver from realk8s; exit 77 when it cannot run here). CTest runs
# both. The real server has no controllers: during the --wait of step 1
# tests/kubesim/mark_ready.py writes ready workload status through /status,
# and the webhook configurations are left out of the manifests (the real
# server has no webhook backends: every later request they match, dry runs
# included, would fail), 647 objects instead of 675.
# Checks only the simulator supports say "sim only" and run there only:
# webhooks becoming available (4), faults (7), the discovery request counts
# (the real server does not count non-resource requests).
#   1. the whole Kubeflow example applies in ONE invocation (CRD and
#      Deployment delays on) with no "no matches for kind";
#   2. a second apply sends no writes;
#   3. diff says "no differences" (exit 0), then shows a change (exit 3);
#   4. objects guarded by a webhook installed in an earlier wave are retried
#      until the webhook's Deployment is available;
#   5. removing one document + --prune deletes exactly that object;
#   6. broken input (bad YAML, missing kind, unknown kind) is refused with
#      file:line:col and the server saw zero writes;
#   7. with faults (429 storm with Retry-After, 500s, dropped connections)
#      a fresh install still succeeds, and a re-apply afterwards is a no-op;
#   8. delete --inventory removes everything the inventory recorded.
# Discovery is cached on disk (in $tmp here): the no-op re-apply sends no
# discovery requests; KFBOOT_NO_CACHE=1 does; a cache naming a kind the
# server no longer serves cannot make kfboot write anything.
# Env: KFBOOT, KF_SOURCE_DIR, KF_DATA_DIR (set by CTest). No network.
set -euo pipefail

: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
KF_DATA_DIR=${KF_DATA_DIR:-${KF_BUILD_DIR:-$KF_SOURCE_DIR/build}/testdata}
PY=/usr/bin/python3
MANIFESTS=$KF_DATA_DIR/kubeflow-manifests/full-example.yaml
SIM=$KF_SOURCE_DIR/tests/kubesim/kubesim.py
[[ -f $MANIFESTS ]] || { echo "SKIP: $MANIFESTS not found"; exit 77; }
[[ -f $SIM ]] || { echo "SKIP: kubesim not found"; exit 77; }

# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
: "${tmp:?}"
[[ $KF_SERVER == real ]] && need_real
export XDG_CACHE_HOME=$tmp/cache
unset KFBOOT_NO_CACHE

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }


kf() { "$KFBOOT" "$@" --kubeconfig "$KC"; }

if [[ $KF_SERVER == real ]]; then
	$PY - "$MANIFESTS" "$tmp/manifests.yaml" <<'PYEOF'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
keep = [d for d in docs if "\nkind: MutatingWebhookConfiguration" not in "\n" + d
        and "\nkind: ValidatingWebhookConfiguration" not in "\n" + d]
open(sys.argv[2], "w").write("\n---\n".join(keep))
PYEOF
	MANIFESTS=$tmp/manifests.yaml
	# The same bearer token, accepted through --token-auth-file.
	printf 'kfboot-test-token-0123,token-admin,token-admin-uid,"system:masters"\n' >"$tmp/tokens.csv"
	# --request-timeout: the dry-run applies of `diff` include the 74 CRDs
	# (megabytes of schema); on a loaded 2-core machine the default 60 s
	# ended some with 504 Timeout.
	REALK8S_APISERVER_ARGS="--token-auth-file=$tmp/tokens.csv --request-timeout=5m" start_server main
	sed -e '/client-certificate-data:/d' -e 's#^\(    \)client-key-data: .*#\1token: kfboot-test-token-0123#' "$KC" >"$tmp/kc-token"
	chmod 600 "$tmp/kc-token"
	$PY "$KF_SOURCE_DIR/tests/kubesim/mark_ready.py" "$KC" >"$tmp/mark_ready.log" 2>&1 &
	marker=$!
	pids+=("$marker")
else
	start_server main --crd-delay 2 --deploy-delay 3 --token "kfboot-test-token-0123" \
		--token-kubeconfig-out "$tmp/kc-token"
fi
TOTAL=$(grep -c '^kind:' "$MANIFESTS")
echo "server: $KF_SERVER ($TOTAL objects)"
KC_MAIN=$KC CTL_MAIN=$CTL

step "1. one-shot install of $TOTAL objects"
kf apply -f "$MANIFESTS" --inventory kf-test --wait --timeout 5m -o json >"$tmp/first.json" 2>"$tmp/first.err" ||
	{ cat "$tmp/first.err"; fail "first apply failed"; }
grep -qi "no matches for kind" "$tmp/first.err" && fail "saw 'no matches for kind'"
[[ $(jq -r .applied "$tmp/first.json") == "$TOTAL" ]] || fail "expected $TOTAL applied: $(jq -c '{applied,failed}' "$tmp/first.json")"
[[ $(jq -r .ready "$tmp/first.json") == "$TOTAL" ]] || fail "not every object ready after --wait: $(jq -c .notReady "$tmp/first.json" | head -c 600)"
grep -q 'wait: ' "$tmp/first.err" || fail "no health progress on stderr"
[[ $(jq -r .failed "$tmp/first.json") == 0 ]] || fail "failures on first apply: $(jq -c .failed "$tmp/first.json" | head -c 600)"
n=$(kubectl --kubeconfig "$KC" get crd -o name | wc -l)
[[ $n -ge 74 ]] || fail "expected 74 CRDs, found $n"
if [[ $KF_SERVER == real ]]; then
	kill "$marker"
	# Nothing but mark_ready.py made them ready: the wait really waited.
	[[ $(kubectl --kubeconfig "$KC" get deploy -n auth dex -o jsonpath='{.status.conditions[0].message}') == *mark_ready* ]] ||
		fail "dex Deployment is ready without mark_ready.py"
fi

step "2. re-apply sends no writes"
reset_stats
kf apply -f "$MANIFESTS" --inventory kf-test -o json >"$tmp/second.json" 2>"$tmp/second.err" ||
	{ tail -20 "$tmp/second.err"; cat "$tmp/second.json"; fail "second apply failed"; }
w=$(writes)
total=$(stats | jq -r .total)
[[ $w == 0 ]] || fail "no-op re-apply wrote $w times: $(stats | jq -c .by_resource)"
[[ $(jq -r .unchanged "$tmp/second.json") == "$TOTAL" ]] || fail "expected $TOTAL unchanged"
if sim_only "discovery request counts"; then
	[[ $(stats | jq -r '.requests.discovery // 0') == 0 ]] || fail "no-op re-apply asked for discovery (cache not used): $(stats | jq -c .requests)"
fi
echo "no-op re-apply: $total requests, 0 writes, 0 discovery"
cache=$(ls "$XDG_CACHE_HOME"/kfboot/discovery/*.json)
[[ $(stat -c %a "$cache") == 600 ]] || fail "discovery cache mode $(stat -c %a "$cache")"
grep -q 'kfboot-test-token\|PRIVATE KEY' "$cache" && fail "credentials in the discovery cache"
reset_stats
KFBOOT_NO_CACHE=1 kf apply -f "$MANIFESTS" --inventory kf-test -q 2>/dev/null || fail "apply with KFBOOT_NO_CACHE failed"
if sim_only "discovery request counts"; then
	[[ $(stats | jq -r '.requests.discovery // 0') == 2 ]] || fail "KFBOOT_NO_CACHE=1 still used the cache: $(stats | jq -c .requests)"
fi
# A stale cache that names a kind the server does not serve: refreshed
# before anything is written, and the apply is refused.
cp "$cache" "$tmp/cache.good"
jq -c '.resources += [["example.com","v1","Widget","widgets",true]]' "$tmp/cache.good" >"$cache"
printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\n' >"$tmp/widget.yaml"
reset_stats
kf apply -f "$tmp/widget.yaml" --inventory kf-widget -q 2>"$tmp/widget.err" && fail "stale cache: applied a kind the server does not serve"
grep -q "widget.yaml:2:7" "$tmp/widget.err" || fail "stale cache: no position: $(cat "$tmp/widget.err")"
[[ $(writes) == 0 ]] || fail "stale cache: $(writes) writes"
if sim_only "discovery request counts"; then
	[[ $(stats | jq -r '.requests.discovery // 0') == 2 ]] || fail "stale cache not refreshed: $(stats | jq -c .requests)"
fi
# Drift by another field manager is repaired, and only that object is sent.
kubectl --kubeconfig "$KC" label deployment dex -n auth app=drifted --overwrite >/dev/null
kf apply -f "$MANIFESTS" --inventory kf-test --force-conflicts -o json >"$tmp/drift.json" 2>/dev/null || fail "drift repair failed"
[[ $(jq -r .applied "$tmp/drift.json") == 1 ]] || fail "expected exactly the drifted object re-applied: $(jq -c '{applied,unchanged}' "$tmp/drift.json")"
[[ $(kubectl --kubeconfig "$KC" get deployment dex -n auth -o jsonpath='{.metadata.labels.app}') == dex ]] || fail "drifted label not repaired"
# Bearer token from a tokenFile (relative to the kubeconfig); never traced.
printf 'kfboot-test-token-0123\n' >"$tmp/token.txt"
sed 's#token: .*#tokenFile: token.txt#' "$tmp/kc-token" >"$tmp/kc-tokenfile"
KFBOOT_TRACE=all "$KFBOOT" -vv apply -f "$MANIFESTS" --inventory kf-test --kubeconfig "$tmp/kc-tokenfile" >"$tmp/token.out" 2>&1 ||
	fail "apply with a tokenFile failed: $(tail -3 "$tmp/token.out")"
grep -q 'kfboot-test-token-0123' "$tmp/token.out" && fail "the token appears in the output"
# tls-server-name: verify the certificate for that name, connect to the server address.
sed 's#^\(    server: .*\)$#\1\n    tls-server-name: localhost#' "$KC" >"$tmp/kc-sni"
"$KFBOOT" apply -f "$MANIFESTS" --inventory kf-test --kubeconfig "$tmp/kc-sni" -q >/dev/null || fail "tls-server-name: localhost was refused"
sed 's#tls-server-name: localhost#tls-server-name: wrong.example#' "$tmp/kc-sni" >"$tmp/kc-sni-bad"
if "$KFBOOT" apply -f "$MANIFESTS" --inventory kf-test --kubeconfig "$tmp/kc-sni-bad" -q >"$tmp/sni.out" 2>&1; then
	fail "a certificate not valid for tls-server-name was accepted"
fi
grep -q 'wrong.example' "$tmp/sni.out" || fail "unexpected error: $(cat "$tmp/sni.out")"

step "3. diff"
sw0=$(stats | jq -r .storage_writes)
kf diff -f "$MANIFESTS" >"$tmp/diff.out" 2>"$tmp/diff.err" ||
	fail "diff of an applied set should exit 0 (got $?): $(head -40 "$tmp/diff.out"; tail -5 "$tmp/diff.err")"
[[ $(stats | jq -r .storage_writes) == "$sw0" ]] || fail "diff changed something on the server"
# With the inventory, objects unchanged since kfboot applied them cost nothing.
reset_stats
kf diff -f "$MANIFESTS" --inventory kf-test >/dev/null 2>&1 || fail "diff --inventory of an applied set should exit 0"
[[ $(stats | jq -r .total) -lt 60 ]] || fail "diff --inventory of an unchanged set sent $(stats | jq -r .total) requests"
$PY - "$MANIFESTS" "$tmp/changed.yaml" <<'EOF'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
out = []
for d in docs:
    if "kind: ConfigMap" in d and "\n  name: dex\n" in d:
        d = d.replace("\ndata:\n", "\ndata:\n  kfboot-test: changed\n", 1)
    out.append(d)
open(sys.argv[2], "w").write("\n---\n".join(out))
EOF
set +e
kf diff -f "$tmp/changed.yaml" --inventory kf-test >"$tmp/diff2.out" 2>"$tmp/diff2.err"
rc=$?
set -e
[[ $rc == 3 ]] || fail "diff of a changed set should exit 3, got $rc: $(tail -5 "$tmp/diff2.err")"
grep -q '^+  kfboot-test: changed' "$tmp/diff2.out" || fail "diff does not show the change: $(cat "$tmp/diff2.out")"
grep -q 'managedFields\|resourceVersion' "$tmp/diff2.out" && fail "diff shows server-set fields"

step "4. webhook-guarded objects are retried until the webhook is up"
if sim_only "a webhook whose Deployment becomes available"; then
kf apply -f "$KF_SOURCE_DIR/tests/data/kube/webhook-waves.yaml" --inventory hooked --timeout 2m >"$tmp/wh.out" 2>"$tmp/wh.err" ||
	{ cat "$tmp/wh.err"; fail "apply with a webhook coming up failed"; }
grep -q 'failed calling webhook' "$tmp/wh.err" || fail "expected the ConfigMaps to be refused by the webhook first: $(cat "$tmp/wh.err")"
grep -q ' 0 failed' "$tmp/wh.out" || fail "objects failed: $(cat "$tmp/wh.out")"
kubectl --kubeconfig "$KC" get configmap guarded-1 guarded-2 -n hooked >/dev/null || fail "guarded ConfigMaps missing"
kf delete --inventory hooked >/dev/null 2>&1 || fail "delete --inventory hooked failed"
fi

step "5. prune deletes exactly the removed document"
$PY - "$MANIFESTS" "$tmp/minus1.yaml" <<'EOF'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
out = [d for d in docs if not ("kind: ConfigMap" in d and "\n  name: dex\n" in d)]
assert len(out) == len(docs) - 1
open(sys.argv[2], "w").write("\n---\n".join(out))
EOF
reset_stats
kf apply -f "$tmp/minus1.yaml" --inventory kf-test --prune -o json >"$tmp/prune.json" 2>/dev/null || fail "prune apply failed"
[[ $(jq -r .pruned "$tmp/prune.json") == 1 ]] || fail "expected 1 pruned: $(jq -c .pruned "$tmp/prune.json")"
[[ $(jq -r '.pruned' "$tmp/prune.json") == 1 && $(stats | jq -r '.requests.delete // 0') == 1 ]] || fail "expected exactly one DELETE"
kubectl --kubeconfig "$KC" get configmap dex -n auth >/dev/null 2>&1 && fail "auth/dex still exists"
kubectl --kubeconfig "$KC" get deployment dex -n auth >/dev/null 2>&1 || fail "auth/dex Deployment was wrongly pruned"
# Objects without our label are never pruned, even when asked to remove most of the set.
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-ours\n  namespace: default\n' |
	kubectl --kubeconfig "$KC" apply --server-side --field-manager=someone-else -f - >/dev/null
echo 'apiVersion: v1
kind: Namespace
metadata:
  name: auth' >"$tmp/tiny.yaml"
set +e
kf apply -f "$tmp/tiny.yaml" --inventory kf-test --prune >"$tmp/refuse.out" 2>&1
rc=$?
set -e
{ [[ $rc != 0 ]] && grep -q refusing "$tmp/refuse.out"; } || fail "a prune of most of the inventory was not refused: $(cat "$tmp/refuse.out")"

step "6. broken input is refused with file:line:col, zero writes"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  namespace: auth\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n' >"$tmp/badyaml.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  namespace: auth\n---\napiVersion: v1\nmetadata:\n  name: nokind\n' >"$tmp/nokind.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  namespace: auth\n---\napiVersion: example.com/v1\nkind: Gizmo\nmetadata:\n  name: g\n' >"$tmp/unknown.yaml"
for f in badyaml nokind unknown; do
	reset_stats
	set +e
	kf apply -f "$MANIFESTS" -f "$tmp/$f.yaml" --inventory kf-test >"$tmp/$f.out" 2>&1
	rc=$?
	set -e
	[[ $rc == 1 ]] || fail "$f: expected exit 1, got $rc"
	grep -Eq "$f\.yaml:[0-9]+:[0-9]+: " "$tmp/$f.out" || fail "$f: no file:line:col in: $(cat "$tmp/$f.out")"
	[[ $(writes) == 0 ]] || fail "$f: the server saw writes"
	echo "$f: $(grep -E "$f\.yaml:" "$tmp/$f.out" | head -1)"
done

# A misspelt field (`datta:`) in a server-side apply: the real server
# refuses the object (HTTP 500, "field not declared in schema") whatever
# fieldValidation says. kubesim used to drop the field and store the object,
# so a client reporting success for it passed here; now it fails on both.
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\n  namespace: default\ndatta:\n  k: v\n' >"$tmp/typo.yaml"
reset_stats
set +e
kf apply -f "$tmp/typo.yaml" --inventory kf-typo --timeout 10s >"$tmp/typo.out" 2>&1
rc=$?
set -e
[[ $rc != 0 ]] || fail "an object with a misspelt field was reported applied: $(cat "$tmp/typo.out")"
grep -q '\.datta: field not declared in schema' "$tmp/typo.out" || fail "the server's reason is not shown: $(cat "$tmp/typo.out")"
kubectl --kubeconfig "$KC" get configmap typo -n default >/dev/null 2>&1 && fail "the misspelt object was stored"
echo "typo: $(grep -o 'field not declared in schema' "$tmp/typo.out" | head -1) (exit $rc)"

step "7. faults: 429 storm, 500s, dropped connections"
if sim_only "fault injection"; then
start_sim faults --crd-delay 1 --deploy-delay 2 \
	--faults '{"throttle_count": 60, "retry_after": 1, "error_rate": 0.05, "drop_count": 4, "seed": 7}'
kf apply -f "$MANIFESTS" --inventory kf-test --timeout 5m -o json >"$tmp/faults.json" 2>"$tmp/faults.err" ||
	{ tail -20 "$tmp/faults.err"; fail "apply under faults failed"; }
[[ $(jq -r .applied "$tmp/faults.json") == "$TOTAL" ]] || fail "not everything applied under faults"
curl -sf "$CTL/kubesim/faults" | jq -c .injected
curl -sf -X POST "$CTL/kubesim/faults" -d '{}' >/dev/null
reset_stats
kf apply -f "$MANIFESTS" --inventory kf-test -o json >"$tmp/after.json" 2>/dev/null || fail "re-apply after faults failed"
[[ $(writes) == 0 ]] || fail "re-apply after faults wrote $(writes) times (something was lost)"
fi

step "8. delete --inventory"
CTL_FAULTS=$CTL KC_FAULTS=$KC
KC=$KC_MAIN CTL=$CTL_MAIN
kf delete --inventory kf-test >"$tmp/delete.out" 2>&1 || { cat "$tmp/delete.out"; fail "delete failed"; }
# The real server removes a deleted CRD only after its finalizer has deleted
# every custom resource of it (asynchronously, inside the apiserver): wait.
for _ in $(seq 120); do
	n=$(kubectl --kubeconfig "$KC" get crd -o name | wc -l)
	[[ $n == 0 || $KF_SERVER == sim ]] && break
	sleep 1
done
[[ $n == 0 ]] || fail "$n CRDs left after delete: $(kubectl --kubeconfig "$KC" get crd -o name | head -5)"
kubectl --kubeconfig "$KC" get secret kf-test -n kube-system >/dev/null 2>&1 && fail "inventory Secret left"
kubectl --kubeconfig "$KC" get configmap not-ours -n default >/dev/null 2>&1 || fail "an object without kfboot's label was deleted"
KC=$KC_FAULTS CTL=$CTL_FAULTS
echo "PASS"
