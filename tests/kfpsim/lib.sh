# lib.sh - start the KFP simulator from a test. Source after
# tests/kubesim/lib.sh (which owns $tmp, pids=() and the EXIT trap).
#
#   start_kfpsim [ARGS...]   start kfpsim; sets KFP (API base URL, no path),
#                            KFPLOG (its JSONL run log) and KFPSIMPID
#   kfpsim_stats             GET /kfpsim/stats
#   kfpsim_faults JSON       replace the fault list
#   kfpsim_config JSON       change the clock (pending, running, fail_match, hold, release)
#   kfpsim_assert_valid      fail unless every request passed schema validation
# shellcheck shell=bash disable=SC2154

KFPSIM=$KF_SOURCE_DIR/tests/kfpsim/kfpsim.py

start_kfpsim() {
	mkdir -p "$tmp/kfpsim"
	local api=${KF_DATA_DIR:-$KF_SOURCE_DIR/tests/data/upstream}/kfp-api/kfp_api_single_file.swagger.json
	[[ -f $api ]] || api=$KF_SOURCE_DIR/tests/data/upstream/kfp-api/kfp_api_single_file.swagger.json
	/usr/bin/python3 "$KFPSIM" --api "$api" --port-file "$tmp/kfpsim/port" \
		--pid-file "$tmp/kfpsim/pid" --run-log "$tmp/kfpsim/runs.jsonl" "$@" \
		>"$tmp/kfpsim/log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		[[ -s $tmp/kfpsim/port ]] && break
		sleep 0.1
	done
	[[ -s $tmp/kfpsim/port ]] || { cat "$tmp/kfpsim/log"; fail "kfpsim did not start"; }
	KFP=http://127.0.0.1:$(cat "$tmp/kfpsim/port")
	KFPLOG=$tmp/kfpsim/runs.jsonl
	touch "$KFPLOG"
	KFPSIMPID=$(cat "$tmp/kfpsim/pid")
	export KFP KFPLOG KFPSIMPID
}

kfpsim_stats() { curl -sf "$KFP/kfpsim/stats"; }
kfpsim_faults() { curl -sf -X POST -d "$1" "$KFP/kfpsim/faults" >/dev/null; }
kfpsim_config() { curl -sf -X POST -d "$1" "$KFP/kfpsim/config" >/dev/null; }
kfpsim_assert_valid() {
	local n
	n=$(kfpsim_stats | jq -r .rejected)
	if [[ $n != 0 ]]; then
		kfpsim_stats | jq -r '.rejections[]' >&2
		fail "kfpsim refused $n request(s) that did not match the OpenAPI document"
	fi
}
