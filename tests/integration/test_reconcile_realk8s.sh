#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016,SC2154 # `a && b || fail` is deliberate (fail exits); PID_*/PORT_* are set by printf -v
# test_reconcile_realk8s.sh - the Lease election (src/kube/lease.c) and the
# label-selected watch streams (src/kube/watch.c) against a genuine
# kube-apiserver (realk8s), through tests/tools/kf_live_probe:
#   1. two candidates: one leads and writes, kill -9 -> the other takes over
#      within lease duration + retry period; SIGTERM releases the lease;
#   2. a watch with a label selector sees a labelled object's changes and
#      deletion, never an unlabelled object's; it resumes after the server
#      closes it (timeoutSeconds) without re-listing.
# Exit 77 when realk8s is not available.
# Env: KF_SOURCE_DIR, KF_BUILD_DIR (set by CTest).
set -euo pipefail
: "${KF_SOURCE_DIR:?}"
KF_BUILD_DIR=${KF_BUILD_DIR:-$KF_SOURCE_DIR/build}
REALK8S=${KF_REALK8S:-$KF_SOURCE_DIR/../shared/realk8s/realk8s}
PROBE=$KF_BUILD_DIR/tests/kf_live_probe
[[ -x $REALK8S ]] && "$REALK8S" available >/dev/null 2>&1 || { echo "SKIP: realk8s not available"; exit 77; }
[[ -x $PROBE ]] || { echo "SKIP: $PROBE not built"; exit 77; }
command -v kubectl >/dev/null || { echo "SKIP: kubectl not found"; exit 77; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$REALK8S" stop "$tmp/k8s" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -5 "$tmp"/*.out "$tmp"/*.err 2>/dev/null >&2; exit 1; }
step() { echo "--- $*"; }

eval "$("$REALK8S" start "$tmp/k8s")"
KC=$KUBECONFIG
kc() { kubectl --kubeconfig "$KC" --cache-dir "$tmp/kcache" "$@"; }
kc create namespace kfboot-system >/dev/null

step "1. election on a real apiserver"
"$PROBE" lease "$KC" one >"$tmp/one.out" 2>"$tmp/one.err" &
p1=$!
pids+=("$p1")
for _ in $(seq 100); do grep -q leading "$tmp/one.out" && break; sleep 0.1; done
grep -q leading "$tmp/one.out" || fail "one did not lead"
"$PROBE" lease "$KC" two >"$tmp/two.out" 2>"$tmp/two.err" &
p2=$!
pids+=("$p2")
sleep 3
grep -q leading "$tmp/two.out" && fail "two leads while one holds the lease"
[[ $(kc -n kfboot-system get cm probe-writes -o jsonpath='{.data.writer}') == one ]] || fail "writes not from the holder"
kill -9 "$p1"
t0=$(date +%s.%N)
for _ in $(seq 250); do grep -q leading "$tmp/two.out" && break; sleep 0.1; done
grep -q leading "$tmp/two.out" || fail "two did not take over"
t1=$(awk '/^leading/ {print $2}' "$tmp/two.out")
took=$(echo "$t1 - $t0" | bc)
echo "takeover after kill -9: $took s"
(($(echo "$took <= 17.5" | bc))) || fail "takeover took $took s"
for _ in $(seq 30); do [[ $(kc -n kfboot-system get cm probe-writes -o jsonpath='{.data.writer}') == two ]] && break; sleep 0.1; done
[[ $(kc -n kfboot-system get cm probe-writes -o jsonpath='{.data.writer}') == two ]] || fail "the new holder does not write"
kill -TERM "$p2"
wait "$p2" || true
[[ -z $(kc -n kfboot-system get lease kfboot-reconciler -o jsonpath='{.spec.holderIdentity}') ]] || fail "SIGTERM did not release the lease"

step "2. label-selected watch on a real apiserver"
kc create namespace w >/dev/null
kc -n w create configmap mine --from-literal=a=1 >/dev/null
kc -n w label configmap mine kfboot.io/probe=yes >/dev/null
kc -n w create configmap theirs --from-literal=a=1 >/dev/null
PROBE_WATCH_TIMEOUT=2 "$PROBE" watch "$KC" kfboot.io/probe=yes core/v1/configmaps/w >"$tmp/w.out" 2>"$tmp/w.err" &
pw=$!
pids+=("$pw")
for _ in $(seq 50); do grep -q "^synced" "$tmp/w.out" && break; sleep 0.1; done
grep -q "^LISTED w/mine" "$tmp/w.out" || fail "LIST did not return the labelled object"
sleep 5 # the server closes the stream (timeoutSeconds 2..4): it must resume
kc -n w patch configmap mine --type merge -p '{"data":{"a":"2"}}' >/dev/null
kc -n w patch configmap theirs --type merge -p '{"data":{"a":"2"}}' >/dev/null
kc -n w delete configmap mine >/dev/null
for _ in $(seq 50); do grep -q "^DELETED w/mine" "$tmp/w.out" && break; sleep 0.1; done
kill -TERM "$pw"
wait "$pw" || true
grep -q "^MODIFIED w/mine" "$tmp/w.out" || fail "no MODIFIED event after the stream was resumed"
grep -q "^DELETED w/mine" "$tmp/w.out" || fail "no DELETED event"
grep -q "theirs" "$tmp/w.out" && fail "an unlabelled object's event came through"
st=$(grep '^stats' "$tmp/w.out")
echo "$st"
[[ $st =~ relists=1\  ]] || fail "the stream re-listed after a server timeout: $st"
[[ $st =~ connects=([0-9]+) ]] && ((BASH_REMATCH[1] >= 2)) || fail "the stream was not resumed: $st"
echo "PASS"
