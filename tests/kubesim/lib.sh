# lib.sh - shell helpers for tests and benchmarks that run kubesim.
# Source it after setting KF_SOURCE_DIR. Sourcing makes a scratch directory
# $tmp and a list pids=() of background processes; both are cleaned up on
# exit. fail() must exist before start_sim is called.
#
#   kubesim_certs                 make the throwaway CA and certificates in $tmp/certs
#   start_sim NAME [ARGS...]      start a simulator; sets KC (kubeconfig),
#                                 CTL (control URL) and SIMPID
#   stats / reset_stats / writes  the simulator's request counters
# shellcheck shell=bash disable=SC2154

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

KUBESIM_PY=${KUBESIM_PY:-/usr/bin/python3}
KUBESIM=$KF_SOURCE_DIR/tests/kubesim/kubesim.py

kubesim_certs() {
	bash "$KF_SOURCE_DIR/tests/kubesim/mkcerts.sh" "$tmp/certs" >/dev/null 2>&1
}

start_sim() {
	local name=$1
	shift
	mkdir -p "$tmp/$name"
	[[ -d $tmp/certs ]] || kubesim_certs
	"$KUBESIM_PY" "$KUBESIM" --certs "$tmp/certs" --port-file "$tmp/$name/port" \
		--pid-file "$tmp/$name/pid" --kubeconfig-out "$tmp/$name/kubeconfig" \
		--control-port 0 --control-port-file "$tmp/$name/cport" "$@" \
		>"$tmp/$name/log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		[[ -s $tmp/$name/cport && -s $tmp/$name/kubeconfig && -s $tmp/$name/pid ]] && break
		sleep 0.1
	done
	[[ -s $tmp/$name/cport ]] || { cat "$tmp/$name/log"; fail "simulator $name did not start"; }
	# shellcheck disable=SC2034 # used by the sourcing script
	KC=$tmp/$name/kubeconfig
	CTL=http://127.0.0.1:$(cat "$tmp/$name/cport")
	# shellcheck disable=SC2034
	SIMPID=$(cat "$tmp/$name/pid")
}

stats() { curl -sf "$CTL/kubesim/stats"; }
reset_stats() { curl -sf -X POST "$CTL/kubesim/stats/reset" >/dev/null; }
writes() { stats | jq -r '.writes'; }
