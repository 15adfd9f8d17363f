#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016,SC2154 # `a && b || fail` is deliberate (fail exits); PID_*/PORT_* are set by printf -v
# test_reconcile_lease.sh - two `kfboot reconcile --leader-elect` on one
# cluster (kubesim):
#   1. exactly one holds Lease kfboot-system/kfboot-reconciler and applies;
#      the standby sends no write (its own API request counters) and still
#      serves /healthz, /readyz and /metrics;
#   2. kill -9 of the leader: the standby takes over within the lease
#      duration plus one retry period (15 s + 2 s: client-go's bound, the
#      standby cannot know when the holder's last renewal happened), then
#      applies a new commit;
#   3. SIGTERM releases the lease: a restarted standby takes over at its
#      next retry (about 2 s), not after the lease duration.
# Env: KFBOOT, KF_SOURCE_DIR (set by CTest).
set -euo pipefail
: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
# shellcheck source=tests/integration/reconcile-lib.sh
. "$KF_SOURCE_DIR/tests/integration/reconcile-lib.sh"

start_sim main --deploy-delay 0.2
kc create namespace kfboot-system >/dev/null
rl_repo
leader_of() { curl -sf "$(rl_url "$1" /status)" | jq -r .leader; }
writes_of() { rl_metric "$1" kfboot_api_requests_total 'verb="(patch|create|delete)"'; }

step "1. one leader, one standby"
rl_start a --leader-elect --interval 2s
sleep 1
rl_start b --leader-elect --interval 2s
for _ in $(seq 100); do [[ $(leader_of a) == true ]] && break; sleep 0.1; done
[[ $(leader_of a) == true ]] || fail "a did not take the lease"
[[ $(leader_of b) == false ]] || fail "b leads too"
rl_wait_value 1 20 || fail "the leader did not apply"
rl_set_value 2
rl_wait_value 2 20 || fail "the leader did not apply a new commit"
sleep 2
[[ $(writes_of b) == 0 ]] || fail "the standby wrote: $(curl -s "$(rl_url b /metrics)" | grep kfboot_api_requests_total)"
[[ $(rl_metric b kfboot_api_requests_total 'verb="update"') == 0 ]] || fail "the standby updated something"
[[ $(curl -s "$(rl_url b /healthz)") == ok ]] || fail "standby /healthz"
curl -sf "$(rl_url b /readyz)" >/dev/null || fail "standby not ready"
[[ $(rl_metric b kfboot_leader) == 0 && $(rl_metric a kfboot_leader) == 1 ]] || fail "kfboot_leader gauges wrong"
holder=$(kc -n kfboot-system get lease kfboot-reconciler -o jsonpath='{.spec.holderIdentity}')
[[ $holder == "$(curl -sf "$(rl_url a /status)" | jq -r .identity)" ]] || fail "lease holder $holder is not a"

step "2. kill -9 of the leader: the standby takes over"
kill -9 "$PID_a"
t0=$(date +%s.%N)
for _ in $(seq 250); do [[ $(leader_of b) == true ]] && break; sleep 0.1; done
t1=$(date +%s.%N)
[[ $(leader_of b) == true ]] || fail "b did not take over within 25 s"
took=$(echo "$t1 - $t0" | bc)
echo "takeover after kill -9: $took s (lease 15 s, retry 2 s)"
(($(echo "$took <= 17.5" | bc))) || fail "takeover took $took s (> lease duration + retry period)"
rl_set_value 3
rl_wait_value 3 20 || fail "the new leader did not apply a new commit"

step "3. SIGTERM releases the lease"
rl_start c --leader-elect --interval 2s
sleep 1
[[ $(leader_of c) == false ]] || fail "c leads while b holds the lease"
kill -TERM "$PID_b"
t0=$(date +%s.%N)
wait "$PID_b" || true
[[ -z $(kc -n kfboot-system get lease kfboot-reconciler -o jsonpath='{.spec.holderIdentity}') ]] ||
	[[ $(leader_of c) == true ]] || fail "the lease was not released on SIGTERM"
for _ in $(seq 100); do [[ $(leader_of c) == true ]] && break; sleep 0.1; done
took=$(echo "$(date +%s.%N) - $t0" | bc)
[[ $(leader_of c) == true ]] || fail "c did not take the released lease"
echo "takeover after SIGTERM: $took s"
(($(echo "$took <= 5" | bc))) || fail "takeover after a release took $took s"
grep -q "released" "$tmp/rec-b.log" || fail "b did not say it released the lease"
kill -TERM "$PID_c"
wait "$PID_c" || true
echo "PASS"
