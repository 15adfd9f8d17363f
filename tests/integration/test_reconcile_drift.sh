#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016,SC2154 # `a && b || fail` is deliberate (fail exits); PID_*/PORT_* are set by printf -v
# test_reconcile_drift.sh - drift repair between commits (kubesim, file://):
#   1. an edited managed object is restored;
#   2. a deleted managed object is restored;
#   3. an object annotated kfboot.io/reconcile=disabled is left alone, and
#      taken back (the hand edit undone) once the annotation is removed;
#   4. an idle reconciler sends no write and no request but its watches
#      (counted by kubesim over 5 s).
# Env: KFBOOT, KF_SOURCE_DIR (set by CTest).
set -euo pipefail
: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
# shellcheck source=tests/integration/reconcile-lib.sh
. "$KF_SOURCE_DIR/tests/integration/reconcile-lib.sh"

start_sim main --deploy-delay 0.2
rl_repo
rl_start a --interval 1h
rl_wait_ready a
[[ $(rl_value) == 1 ]] || fail "first commit not applied"
sleep 1

step "1. an edited object is restored"
kc -n ml-dev patch cm app-config --type merge -p '{"data":{"v":"hacked"}}' >/dev/null
t0=$(date +%s.%N)
rl_wait_value 1 10 || fail "edited object not restored: v=$(rl_value)"
echo "edit -> repaired in $(echo "$(date +%s.%N) - $t0" | bc) s"
kc -n ml-dev scale deploy web --replicas 3 >/dev/null
for _ in $(seq 100); do
	[[ $(kc -n ml-dev get deploy web -o jsonpath='{.spec.replicas}') == 1 ]] && break
	sleep 0.1
done
[[ $(kc -n ml-dev get deploy web -o jsonpath='{.spec.replicas}') == 1 ]] || fail "scaled Deployment not restored"

step "2. a deleted object is restored"
kc -n ml-dev delete cm app-config --wait=false >/dev/null
rl_wait_value 1 10 || fail "deleted object not restored"

step "3. kfboot.io/reconcile=disabled leaves an object alone"
kc -n ml-dev annotate cm other kfboot.io/reconcile=disabled >/dev/null
kc -n ml-dev patch cm other --type merge -p '{"data":{"x":"mine"}}' >/dev/null
sleep 3
[[ $(kc -n ml-dev get cm other -o jsonpath='{.data.x}') == mine ]] || fail "annotated object was changed back"
grep -q "other has kfboot.io/reconcile\|/ConfigMap/ml-dev/other was" "$tmp/rec-a.log" &&
	grep -q "/ConfigMap/ml-dev/other was" "$tmp/rec-a.log" && fail "annotated object reported as drift"
[[ $(rl_metric a kfboot_drift_repairs_total) -ge 2 ]] || fail "drift repairs not counted"
kc -n ml-dev annotate cm other kfboot.io/reconcile- >/dev/null
for _ in $(seq 100); do
	[[ $(kc -n ml-dev get cm other -o jsonpath='{.data.x}') == 1 ]] && break
	sleep 0.1
done
[[ $(kc -n ml-dev get cm other -o jsonpath='{.data.x}') == 1 ]] || fail "annotation removed, yet the hand edit stays"

step "4. an idle reconciler sends no write"
sleep 2
reset_stats
sleep 5
s=$(stats)
w=$(jq -r .writes <<<"$s")
others=$(jq -r '([.requests | to_entries[] | select(.key != "watch") | .value] | add) // 0' <<<"$s")
echo "idle 5 s: writes=$w, requests other than watches=$others"
[[ $w == 0 ]] || fail "idle reconciler wrote $w times: $(jq -c .by_resource <<<"$s")"
[[ $others == 0 ]] || fail "idle reconciler sent $others requests: $(jq -c .by_resource <<<"$s")"

kill -TERM "$PID_a"
wait "$PID_a" || true
echo "PASS"
