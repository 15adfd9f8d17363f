#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016,SC2154 # `a && b || fail` is deliberate (fail exits); PID_*/PORT_* are set by printf -v
# test_reconcile_watch410.sh - a running reconciler's drift watches meet a
# compacted history (410 Gone / Expired) and recover:
#   1. drift is repaired before (the watches work);
#   2. the history is compacted while the streams are behind: every stream
#      that resumes gets 410 Expired, re-lists, logs it once;
#   3. a drift made after it (an edit, a deletion) is still repaired;
#   4. no loop: one "expired" line per stream, a handful of watch requests.
# kubesim: POST /kubesim/compact (history forgotten, open watches ended).
# Real kube-apiserver (test name _real): started with --watch-cache=false so
# that watches are served by etcd, whose compaction (through etcd's JSON
# gateway) expires the resourceVersions; the streams reach it when they time
# out (KFBOOT_WATCH_TIMEOUT=3: timeoutSeconds 3-6 s).
# Env: KFBOOT, KF_SOURCE_DIR (set by CTest).
set -euo pipefail
: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
# shellcheck source=tests/integration/reconcile-lib.sh
. "$KF_SOURCE_DIR/tests/integration/reconcile-lib.sh"

export REALK8S_APISERVER_ARGS=--watch-cache=false
# No bookmarks from kubesim during the test: a bookmark would move a stream
# to the newest resourceVersion and the resume would not be behind.
start_server main --bookmark-interval 3600
git init -q -b main "$W"
mkdir -p "$W/apps"
cat >"$W/kfboot.yaml" <<'Y'
apiVersion: kfboot.io/v1alpha1
kind: Repository
spec:
  environments:
    - name: dev
      namespace: ml-w
      paths: [apps]
      prune: true
Y
cat >"$W/apps/app.yaml" <<'Y'
apiVersion: v1
kind: Namespace
metadata: {name: ml-w}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {v: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other}
data: {x: "1"}
Y
rl_commit first
value() { kc -n ml-w get cm "$1" -o jsonpath="{.data.$2}" 2>/dev/null || true; }
wait_for() { # CM KEY WANT [SECS]
	local end=$(($(date +%s) + ${4:-10}))
	while (($(date +%s) <= end)); do
		[[ $(value "$1" "$2") == "$3" ]] && return 0
		sleep 0.1
	done
	return 1
}
expired() { grep -c "watch $1: resourceVersion [0-9]* expired (410 Gone" "$tmp/rec-a.log" || true; }

KFBOOT_WATCH_TIMEOUT=3 rl_start a --interval 1h
rl_wait_ready a
wait_for app-config v 1 30 || fail "first commit not applied"
sleep 1

step "1. drift is repaired (the watches work)"
kc -n ml-w patch cm app-config --type merge -p '{"data":{"v":"hacked"}}' >/dev/null
wait_for app-config v 1 || fail "edit not repaired before the compaction"

step "2. compacted history: 410, re-list, logged once"
# Writes the streams do not see (another namespace, no part-of label) put
# their resourceVersions behind the newest one.
for i in 1 2 3; do kc -n default create cm "unrelated-$i" --from-literal=i="$i" >/dev/null; done
[[ $(expired configmaps) == 0 ]] || fail "a 410 before the compaction"
reset_stats
compact_history
t0=$(date +%s.%N)
for _ in $(seq 150); do (($(expired configmaps) >= 1)) && break; sleep 0.1; done
(($(expired configmaps) >= 1)) || fail "no 410 seen by the configmaps stream within 15 s"
echo "410 seen and re-listed after $(echo "$(date +%s.%N) - $t0" | bc) s:"
grep "expired (410 Gone" "$tmp/rec-a.log"

step "3. drift after the 410 is repaired"
sleep 0.5
kc -n ml-w patch cm app-config --type merge -p '{"data":{"v":"after-410"}}' >/dev/null
t0=$(date +%s.%N)
wait_for app-config v 1 || fail "edit after the 410 not repaired: v=$(value app-config v)"
echo "edit after the 410 repaired in $(echo "$(date +%s.%N) - $t0" | bc) s"
kc -n ml-w delete cm other --wait=false >/dev/null
wait_for other x 1 || fail "deletion after the 410 not repaired"

step "4. no loop"
sleep 4
n=$(expired configmaps)
[[ $n == 1 ]] || fail "the configmaps stream logged $n expiries, not 1"
n=$(expired namespaces)
((n <= 1)) || fail "the namespaces stream logged $n expiries"
s=$(stats)
watches=$(jq -r '.requests.watch // 0' <<<"$s")
lists=$(jq -r '.requests.list // 0' <<<"$s")
echo "since the compaction: $watches watch requests, $lists lists"
if sim_only "counting watch and list requests"; then
	# two streams; each: the 410 answer, the watch after the re-list, and
	# a resume every 3-6 s (KFBOOT_WATCH_TIMEOUT) for about 10 s. The lists
	# are the two re-lists and those of the drift repairs' applies (four
	# repairs, a few lists each); a re-list loop would make hundreds.
	((watches <= 16)) || fail "$watches watch requests in ~10 s: a reconnect loop"
	((lists <= 40)) || fail "$lists lists in ~10 s: a re-list loop"
fi

kill -TERM "$PID_a"
wait "$PID_a" || fail "reconciler exited $? on SIGTERM"
echo "PASS"
