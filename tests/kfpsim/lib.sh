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

# kfp_test_begin [--token] [KFPSIM ARGS...]: the start every retraining
# test shares: a git cache inside $tmp, kubesim (start_sim kube: $KC) with
# namespace ml-dev, and kfpsim with ARGS. With --token first: a bearer
# token in $tmp/kfp-token (0600), required by kfpsim (--token-file,
# --multi-user).
kfp_test_begin() {
	export XDG_CACHE_HOME=$tmp/cache
	local tok=()
	if [[ ${1:-} == --token ]]; then
		shift
		echo "kfp-test-token-$RANDOM$RANDOM$RANDOM" >"$tmp/kfp-token"
		chmod 600 "$tmp/kfp-token"
		tok=(--token-file "$tmp/kfp-token" --multi-user)
	fi
	start_sim kube
	kubectl --kubeconfig "$KC" create namespace ml-dev >/dev/null
	start_kfpsim "${tok[@]}" "$@"
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

# ---- a GitOps repository for retraining tests -------------------------
#   kfp_repo_init DIR CONCURRENCY [SCHEDULE_YAML]   kfboot.yaml + a valid package, first commit
#   kfp_commit DIR PATH TEXT                        write PATH, commit; prints the sha
#   kfp_runs_for NAME                               runs in the simulator's log with display NAME
KFP_PKG_SRC=$KF_SOURCE_DIR/tests/data/upstream/kfp-api/iris_pipeline_compiled.yaml

kfp_write_config() { # DIR CONCURRENCY [SCHEDULE]
	local dir=$1 conc=$2 sched=${3:-}
	cat >"$dir/kfboot.yaml" <<YAML
apiVersion: kfboot.io/v1alpha1
kind: Repository
spec:
  environments:
    - name: dev
      context: dev
      namespace: ml-dev
      paths: [environments/dev]
  kfp:
    endpoint: $KFP
    tokenFile: $tmp/kfp-token
  pipelines:
    - name: ${KFP_PIPELINE:-xor}
      package: pipelines/xor/pipeline.yaml
      watch: ["pipelines/xor/**"]
      experiment: ${KFP_PIPELINE:-xor}
      parameters: { neighbors: 3, standard_scaler: true, commit: "\${GIT_COMMIT}", tag: "\${ENV}-\${GIT_SHORT_COMMIT}" }
      environments: [dev]
      concurrency: $conc
$sched
YAML
}

kfp_repo_init() {
	local dir=$1
	mkdir -p "$dir/pipelines/xor" "$dir/environments/dev"
	git -C "$dir" init -q -b main
	git -C "$dir" config user.email t@example.com
	git -C "$dir" config user.name test
	kfp_write_config "$dir" "$2" "${3:-}"
	cp "$KFP_PKG_SRC" "$dir/pipelines/xor/pipeline.yaml"
	echo "print('train')" >"$dir/pipelines/xor/train.py"
	echo "# platform" >"$dir/README.md"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n' >"$dir/environments/dev/cm.yaml"
	git -C "$dir" add -A
	git -C "$dir" commit -qm init
	[[ -f $tmp/kfp-token ]] || { echo "kfp-test-token-$RANDOM$RANDOM" >"$tmp/kfp-token"; chmod 600 "$tmp/kfp-token"; }
}

kfp_commit() {
	local dir=$1 path=$2 text=$3
	mkdir -p "$(dirname "$dir/$path")"
	printf '%s\n' "$text" >>"$dir/$path"
	git -C "$dir" add -A
	git -C "$dir" commit -qm "change $path"
	git -C "$dir" rev-parse HEAD
}

kfp_runs_for() { jq -c --arg n "$1" 'select(.display_name == $n)' "$KFPLOG" | wc -l; }
