#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016,SC2154 # `a && b || fail` is deliberate (fail exits); PID_*/PORT_* are set by printf -v
# bench_reconcile_latency.sh - how fast `kfboot reconcile` follows git and
# repairs drift (kubesim, a file:// repository, one environment):
#   webhook: commit, POST a signed GitHub push, until /status shows the commit applied
#   polling: commit, no webhook (--interval 2s), until /status shows it applied
#   drift:   change a managed ConfigMap through the API, until it is restored
# Prints p50/p95 of each and the ratio against what Flux does by default
# (interval 1m: a push waits 30 s on average without a webhook receiver, a
# drift is repaired at the next interval, 30 s on average).
# Usage: KFBOOT=build/kfboot KF_SOURCE_DIR=. tests/bench/bench_reconcile_latency.sh [N]
set -euo pipefail
: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
N=${1:-20}
# shellcheck source=tests/integration/reconcile-lib.sh
. "$KF_SOURCE_DIR/tests/integration/reconcile-lib.sh"
now() { date +%s.%N; }
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((NR-1)*p/100)+1; printf "%.3f", a[i]}'; }

start_sim main --deploy-delay 0.2
rl_repo
# Talk to kubesim directly (curl with the kubeconfig's client certificate):
# kubectl's start-up would dominate the drift figures.
kc config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$tmp/c.crt"
kc config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$tmp/c.key"
kc config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$tmp/ca.crt"
SERVER=$(kc config view --raw -o jsonpath='{.clusters[0].cluster.server}')
api() { curl -sf --cacert "$tmp/ca.crt" --cert "$tmp/c.crt" --key "$tmp/c.key" "$@"; }
CM=$SERVER/api/v1/namespaces/ml-dev/configmaps/app-config

applied_head() { curl -sf "$(rl_url "$1" /status)" | jq -r '.environments[0].appliedCommit'; }
wait_applied() { # NAME SHA
	for _ in $(seq 6000); do [[ $(applied_head "$1") == "$2" ]] && return 0; sleep 0.01; done
	fail "commit $2 not applied"
}

rl_start hook --interval 1h
rl_wait_ready hook
BODY='{"ref":"refs/heads/main"}'
SIG=$(rl_sig "$BODY")
: >"$tmp/hook.txt"
for i in $(seq "$N"); do
	rl_set_value "h$i"
	sha=$(git -C "$W" rev-parse HEAD)
	t0=$(now)
	curl -sf -o /dev/null -X POST -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: b$i" -H "X-Hub-Signature-256: $SIG" \
		-H "Content-Type: application/json" --data-binary "$BODY" "$(rl_url hook /hooks/github)"
	wait_applied hook "$sha"
	echo "$(now) - $t0" | bc >>"$tmp/hook.txt"
done

: >"$tmp/drift.txt"
for i in $(seq "$N"); do
	sleep 0.3
	want=$(api "$CM" | jq -r .data.v)
	t0=$(now)
	api -X PATCH -H "Content-Type: application/merge-patch+json" -d '{"data":{"v":"drifted"}}' "$CM" >/dev/null
	for _ in $(seq 3000); do [[ $(api "$CM" | jq -r .data.v) == "$want" ]] && break; sleep 0.005; done
	[[ $(api "$CM" | jq -r .data.v) == "$want" ]] || fail "drift not repaired"
	echo "$(now) - $t0" | bc >>"$tmp/drift.txt"
done
kill -TERM "$PID_hook"
wait "$PID_hook" || true

rl_start poll --interval 2s
rl_wait_ready poll
: >"$tmp/poll.txt"
for i in $(seq "$((N < 10 ? N : 10))"); do
	rl_set_value "p$i"
	sha=$(git -C "$W" rev-parse HEAD)
	t0=$(now)
	wait_applied poll "$sha"
	echo "$(now) - $t0" | bc >>"$tmp/poll.txt"
done
kill -TERM "$PID_poll"
wait "$PID_poll" || true

report() { # NAME FILE BASELINE_SECONDS BASELINE_TEXT
	local p50 p95
	p50=$(pct 50 <"$2")
	p95=$(pct 95 <"$2")
	printf '%-28s n=%-3d p50 %6.3f s  p95 %6.3f s   vs %s: %.0fx faster (p50)\n' "$1" "$(wc -l <"$2")" "$p50" "$p95" "$4" \
		"$(echo "$3 / $p50" | bc -l)"
}
echo
report "push -> applied (webhook)" "$tmp/hook.txt" 30 "Flux 1m poll, 30 s mean"
report "push -> applied (poll 2s)" "$tmp/poll.txt" 1 "the 2 s interval alone, 1 s mean (a poll is a poll: Flux at 2 s would match)"
report "drift -> repaired" "$tmp/drift.txt" 30 "Flux 1m interval, 30 s mean"
