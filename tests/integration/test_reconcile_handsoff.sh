#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016,SC2154 # `a && b || fail` is deliberate (fail exits); PID_*/PORT_* are set by printf -v
# test_reconcile_handsoff.sh - kfboot.io/reconcile: disabled on a LIVE object
# is honoured by every apply of the reconciler, not only by drift repair
# (Flux's kustomize.toolkit.fluxcd.io/reconcile: disabled). The reconciler
# runs with --no-drift, so every write below comes from a full apply (a new
# commit, or the periodic resync every 2 s):
#   1. an annotated object edited by hand survives a new commit that changes
#      it; the status counts it (objects.handsOff) and the log names it;
#   2. ... and the periodic resync;
#   3. removed from git, it is not pruned (prune: true), still counted;
#   4. back in git and the annotation removed: it is applied again (git's
#      content), handsOff back to 0;
#   5. annotated and removed from git, then the annotation removed: pruned.
# Runs against kubesim and (test name _real) a genuine kube-apiserver.
# Env: KFBOOT, KF_SOURCE_DIR (set by CTest).
set -euo pipefail
: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
# shellcheck source=tests/integration/reconcile-lib.sh
. "$KF_SOURCE_DIR/tests/integration/reconcile-lib.sh"

start_server main
git init -q -b main "$W"
mkdir -p "$W/apps"
cat >"$W/kfboot.yaml" <<'Y'
apiVersion: kfboot.io/v1alpha1
kind: Repository
spec:
  environments:
    - name: dev
      namespace: ml-ho
      paths: [apps]
      prune: true
Y
write_apps() { # V X|-: app-config's v, keep's x (- = keep not in git)
	cat >"$W/apps/app.yaml" <<Y
apiVersion: v1
kind: Namespace
metadata: {name: ml-ho}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {v: "$1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other}
data: {o: "1"}
Y
	if [[ $2 != - ]]; then
		cat >"$W/apps/keep.yaml" <<Y
apiVersion: v1
kind: ConfigMap
metadata: {name: keep}
data: {x: "$2"}
Y
	else
		rm -f "$W/apps/keep.yaml"
	fi
	rl_commit "v=$1 x=$2"
}
value() { kc -n ml-ho get cm "$1" -o jsonpath="{.data.$2}" 2>/dev/null || true; }
wait_for() { # CM KEY WANT [SECS]
	local end=$(($(date +%s) + ${4:-15}))
	while (($(date +%s) <= end)); do
		[[ $(value "$1" "$2") == "$3" ]] && return 0
		sleep 0.2
	done
	return 1
}
hands_off() { curl -sf "$(rl_url a /status)" | jq -r '.environments[] | select(.name == "dev") | .objects.handsOff'; }
logged() { grep -c "ConfigMap ml-ho/keep has kfboot.io/reconcile: disabled; hands off" "$tmp/rec-a.log" || true; }

write_apps 1 1
rl_start a --interval 1s --resync 2s --no-drift
rl_wait_ready a
wait_for app-config v 1 30 || fail "first commit not applied"
wait_for keep x 1 || fail "keep not applied"
[[ $(hands_off) == 0 ]] || fail "handsOff is $(hands_off) before any annotation"

step "1. a new commit leaves an annotated object alone"
kc -n ml-ho annotate cm keep kfboot.io/reconcile=disabled >/dev/null
kc -n ml-ho patch cm keep --type merge -p '{"data":{"x":"mine"}}' >/dev/null
write_apps 2 2
wait_for app-config v 2 || fail "commit v=2 not applied"
sleep 0.5
[[ $(value keep x) == mine ]] || fail "the annotated object was overwritten by a new commit: x=$(value keep x)"
[[ $(hands_off) == 1 ]] || fail "status objects.handsOff is '$(hands_off)', not 1"
(($(logged) >= 1)) || fail "the log does not name the object left alone"
grep -q "hands off)" "$tmp/rec-a.log" || fail "the applied line does not count hands off"

step "2. the periodic resync leaves it alone too"
n=$(logged)
sleep 4.5
(($(logged) > n)) || fail "no resync ran in 4.5 s (log lines $n -> $(logged))"
[[ $(value keep x) == mine ]] || fail "the annotated object was overwritten by a resync"

step "3. removed from git: not pruned"
write_apps 3 -
wait_for app-config v 3 || fail "commit v=3 not applied"
sleep 2.5 # a resync after it
[[ $(value keep x) == mine ]] || fail "the annotated object was pruned"
[[ $(hands_off) == 1 ]] || fail "status objects.handsOff is '$(hands_off)' after removal from git, not 1"

step "4. annotation removed: applied again"
write_apps 4 4
wait_for app-config v 4 || fail "commit v=4 not applied"
sleep 0.5
[[ $(value keep x) == mine ]] || fail "still annotated, yet overwritten"
kc -n ml-ho annotate cm keep kfboot.io/reconcile- >/dev/null
t0=$(date +%s.%N)
wait_for keep x 4 10 || fail "not applied again after the annotation was removed: x=$(value keep x)"
echo "picked up again after $(echo "$(date +%s.%N) - $t0" | bc) s (resync every 2 s, no drift watch)"
for _ in $(seq 30); do [[ $(hands_off) == 0 ]] && break; sleep 0.2; done
[[ $(hands_off) == 0 ]] || fail "handsOff is '$(hands_off)' after the annotation was removed"

step "5. annotated and removed from git, then released: pruned"
kc -n ml-ho annotate cm keep kfboot.io/reconcile=disabled >/dev/null
write_apps 5 -
wait_for app-config v 5 || fail "commit v=5 not applied"
sleep 2.5
kc -n ml-ho get cm keep >/dev/null 2>&1 || fail "the annotated object was pruned"
kc -n ml-ho annotate cm keep kfboot.io/reconcile- >/dev/null
for _ in $(seq 50); do kc -n ml-ho get cm keep >/dev/null 2>&1 || break; sleep 0.2; done
kc -n ml-ho get cm keep >/dev/null 2>&1 && fail "not pruned after the annotation was removed"
[[ $(value other o) == 1 ]] || fail "another object was touched"

kill -TERM "$PID_a"
wait "$PID_a" || fail "reconciler exited $? on SIGTERM"
echo "PASS"
