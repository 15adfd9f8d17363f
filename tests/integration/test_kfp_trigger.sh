#!/usr/bin/env bash
# test_kfp_trigger.sh - retraining from git against kfpsim (strict KFP API
# simulator, bearer token, multi-user) and kubesim (run journal, reports):
#   1. a pipeline seen for the first time runs once: one version
#      xor@<sha12>, one run with the same display name, parameters expanded;
#   2. a push touching nothing watched starts nothing; one touching a
#      watched path starts exactly one run; repeating sync or a manual
#      trigger for the same commit starts nothing more;
#   3. a broken package uploads nothing and shows a clear status with
#      file:line:col; the fix runs;
#   4. runs are followed to SUCCEEDED and their report ConfigMap read:
#      `kfboot runs` shows metrics, `runs compare` shows both runs;
#   5. faults: 429 and a dropped connection on reads are retried, a 500
#      returned after the run was created leaves exactly one run;
#   6. recurring runs: created with no_catchup, replaced when changed in git
#      (new created, old deleted: exactly one), catchup: true honoured,
#      deleted when removed from git;
#   7. the example platform repository (pipelines/platform) with the XOR
#      study's compiled pipeline runs once in dev;
#   8. the token never shows in any output; every request kfboot sent
#      passed the simulator's OpenAPI validation.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
/usr/bin/python3 -c 'import jsonschema, yaml' 2>/dev/null || { echo "SKIP: python3-jsonschema missing"; exit 77; }

. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
. "$KF_SOURCE_DIR/tests/kfpsim/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
export XDG_CACHE_HOME=$tmp/cache

echo "kfp-test-token-$RANDOM$RANDOM$RANDOM" >"$tmp/kfp-token"
start_sim kube
kubectl --kubeconfig "$KC" create namespace ml-dev >/dev/null
KPORT=$(cat "$tmp/kube/port")
start_kfpsim --token-file "$tmp/kfp-token" --multi-user --pending 0.2 --running 0.6 \
	--kube-server "https://127.0.0.1:$KPORT" --kube-certs "$tmp/certs"
R=$tmp/repo
kfp_repo_init "$R" queue
kf() { "$KFBOOT" "$@" --repo "$R" --kubeconfig "$KC" 2>>"$tmp/stderr"; }
kfq() { "$KFBOOT" "$@" --kubeconfig "$KC" 2>>"$tmp/stderr"; }
c1=$(git -C "$R" rev-parse HEAD)

step "1. first sight of the pipeline: one version, one run"
kf runs sync >"$tmp/out" || { cat "$tmp/stderr"; fail "sync failed"; }
[[ $(kfp_runs_for "xor@${c1:0:12}") == 1 ]] || fail "expected one run for c1: $(cat "$KFPLOG")"
curl -sf "$KFP/kfpsim/dump" >"$tmp/dump"
[[ $(jq --arg n "xor@${c1:0:12}" '[.versions[] | select(.name == $n)] | length' "$tmp/dump") == 1 ]] || fail "no version xor@sha12"
jq -e --arg c "$c1" --arg t "dev-${c1:0:12}" 'select(.parameters.commit == $c and .parameters.tag == $t and .parameters.neighbors == 3)' "$KFPLOG" >/dev/null ||
	fail "parameters not expanded: $(cat "$KFPLOG")"

# queue mode: a newer commit waits while c1's run is active; from here on
# runs finish at once so each watched push starts its own run right away
kfpsim_config '{"pending": 0, "running": 0}'

step "2. unwatched push: nothing; watched push: one; repeats: nothing"
c2=$(kfp_commit "$R" README.md "docs only")
kf runs sync >/dev/null || fail "sync c2"
[[ $(wc -l <"$KFPLOG") == 1 ]] || fail "a push touching nothing watched started a run"
c3=$(kfp_commit "$R" pipelines/xor/train.py "print('v2')")
kf runs sync >/dev/null || fail "sync c3"
[[ $(kfp_runs_for "xor@${c3:0:12}") == 1 ]] || fail "watched push did not start exactly one run"
kf runs sync >/dev/null || fail "sync c3 again"
kf runs trigger xor --env dev >/dev/null || fail "trigger c3"
[[ $(kfp_runs_for "xor@${c3:0:12}") == 1 ]] || fail "repeat sync/trigger started another run for c3"
[[ $(wc -l <"$KFPLOG") == 2 ]] || fail "expected 2 runs in total: $(cat "$KFPLOG")"
[[ $(kfp_runs_for "xor@${c2:0:12}") == 0 ]] || fail "c2 ran"

step "3. broken package: nothing uploaded, clear status"
nver=$(kfpsim_stats | jq .versions)
sed -i 's/name: comp-train-model/name: comp-train-modle/' "$R/pipelines/xor/pipeline.yaml"
git -C "$R" commit -qam "typo in the package"
c4=$(git -C "$R" rev-parse HEAD)
: >"$tmp/stderr"
if kf runs sync >/dev/null; then fail "sync of a broken package succeeded"; fi
grep -q "pipelines/xor/pipeline.yaml:[0-9]*:[0-9]*: task 'train-model': component 'comp-train-modle' does not exist" "$tmp/stderr" ||
	fail "no file:line:col error: $(cat "$tmp/stderr")"
[[ $(kfpsim_stats | jq .versions) == "$nver" ]] || fail "a broken package was uploaded"
[[ $(kfp_runs_for "xor@${c4:0:12}") == 0 ]] || fail "broken package ran"
: >"$tmp/stderr"
kfq runs >/dev/null
grep -q "xor/dev: package invalid, nothing uploaded" "$tmp/stderr" || fail "status not shown by kfboot runs: $(cat "$tmp/stderr")"
sed -i 's/name: comp-train-modle/name: comp-train-model/' "$R/pipelines/xor/pipeline.yaml"
echo "print('v2.1')" >>"$R/pipelines/xor/train.py"
git -C "$R" commit -qam "fix the package"
c5=$(git -C "$R" rev-parse HEAD)
kf runs sync >/dev/null || fail "sync c5"
[[ $(kfp_runs_for "xor@${c5:0:12}") == 1 ]] || fail "fixed package did not run"
: >"$tmp/stderr"
kfq runs >/dev/null
[[ ! -s $tmp/stderr ]] || fail "status not cleared after the fix: $(cat "$tmp/stderr")"

step "4. runs followed to SUCCEEDED, reports read"
for _ in $(seq 40); do
	kf runs sync >/dev/null || true
	n=$(kfq runs -o json | jq '[.[] | select(.state == "SUCCEEDED" and .metrics.test_accuracy != null)] | length')
	[[ $n == 3 ]] && break
	sleep 0.3
done
kfq runs -o json >"$tmp/runs.json"
[[ $(jq '[.[] | select(.state == "SUCCEEDED" and .metrics.test_accuracy != null and .model.uri != null)] | length' "$tmp/runs.json") == 3 ]] ||
	fail "runs not recorded with reports: $(cat "$tmp/runs.json")"
kfq runs --env dev --pipeline xor >"$tmp/table"
grep -q "test_accuracy=" "$tmp/table" || fail "table lacks metrics: $(cat "$tmp/table")"
ra=$(jq -r '.[0].run_id' "$tmp/runs.json")
rb=$(jq -r '.[1].run_id' "$tmp/runs.json")
kfq runs compare "$ra" "$rb" >"$tmp/cmp" || fail "compare failed"
grep -q "test_accuracy" "$tmp/cmp" || fail "compare lacks metrics: $(cat "$tmp/cmp")"
grep -q "commit" "$tmp/cmp" || fail "compare lacks parameters: $(cat "$tmp/cmp")"

step "5. faults: 429 and drops retried; 500 after create gives exactly one run"
kfpsim_faults '[{"method":"GET","path":"/experiments$","kind":"429","count":2},
 {"method":"GET","path":"/pipelines/names/","kind":"drop","count":1},
 {"method":"POST","path":"/runs$","kind":"500-after","count":1}]'
c6=$(kfp_commit "$R" pipelines/xor/train.py "print('v3')")
kf runs sync >"$tmp/out" || { cat "$tmp/stderr"; fail "sync with faults"; }
[[ $(kfpsim_stats | jq .faults) == 4 ]] || fail "faults not all injected: $(kfpsim_stats | jq -c .faults)"
[[ $(kfp_runs_for "xor@${c6:0:12}") == 1 ]] || fail "500 after create: $(kfp_runs_for "xor@${c6:0:12}") runs"
grep -q "1 started" "$tmp/out" || grep -q "1 adopted" "$tmp/out" || fail "pass output: $(cat "$tmp/out")"

step "6. recurring runs"
kfp_write_config "$R" queue '      schedule: { cron: "0 0 2 * * *", maxConcurrency: 1 }'
git -C "$R" commit -qam "nightly"
kf runs sync >/dev/null || fail "sync schedule"
curl -sf "$KFP/kfpsim/dump" | jq '.recurring_runs' >"$tmp/rr1"
[[ $(jq length "$tmp/rr1") == 1 ]] || fail "expected one recurring run: $(cat "$tmp/rr1")"
jq -e '.[0] | .no_catchup == true and .trigger.cron_schedule.cron == "0 0 2 * * *" and .max_concurrency == "1" and .mode == "ENABLE"' "$tmp/rr1" >/dev/null ||
	fail "recurring run spec: $(cat "$tmp/rr1")"
id1=$(jq -r '.[0].recurring_run_id' "$tmp/rr1")
kf runs sync >/dev/null || fail "sync schedule again"
[[ $(curl -sf "$KFP/kfpsim/dump" | jq -r '.recurring_runs[].recurring_run_id') == "$id1" ]] || fail "unchanged schedule was replaced"
kfp_write_config "$R" queue '      schedule: { cron: "0 30 3 * * *", maxConcurrency: 2, catchup: true }'
git -C "$R" commit -qam "schedule change"
kf runs sync >/dev/null || fail "sync schedule change"
curl -sf "$KFP/kfpsim/dump" | jq '.recurring_runs' >"$tmp/rr2"
[[ $(jq length "$tmp/rr2") == 1 ]] || fail "expected exactly one recurring run after a change: $(cat "$tmp/rr2")"
jq -e --arg old "$id1" '.[0] | .recurring_run_id != $old and .trigger.cron_schedule.cron == "0 30 3 * * *" and .no_catchup == false and .max_concurrency == "2"' "$tmp/rr2" >/dev/null ||
	fail "changed recurring run: $(cat "$tmp/rr2")"
kfp_write_config "$R" queue ''
git -C "$R" commit -qam "no schedule"
kf runs sync >/dev/null || fail "sync schedule removal"
[[ $(curl -sf "$KFP/kfpsim/dump" | jq '.recurring_runs | length') == 0 ]] || fail "removed schedule not deleted"

step "7. the example platform repository (pipelines/platform) with the XOR study's compiled pipeline"
P=$tmp/platform
cp -r "$KF_SOURCE_DIR/pipelines/platform" "$P"
mkdir -p "$P/pipelines"
cp -r "$KF_SOURCE_DIR/pipelines/xor" "$P/pipelines/xor"
git -C "$P" init -q -b main
git -C "$P" -c user.email=t@example.com -c user.name=t add -A
git -C "$P" -c user.email=t@example.com -c user.name=t commit -qm platform
cp=$(git -C "$P" rev-parse HEAD)
kubectl --kubeconfig "$KC" create namespace ml-staging >/dev/null
kubectl --kubeconfig "$KC" create namespace ml-prod >/dev/null
"$KFBOOT" runs sync --repo "$P" --kubeconfig "$KC" --kfp-endpoint "$KFP" --kfp-token-file "$tmp/kfp-token" \
	>"$tmp/out" 2>>"$tmp/stderr" || { cat "$tmp/stderr"; fail "sync of the example platform repository"; }
[[ $(jq -c --arg n "xor@${cp:0:12}" 'select(.display_name == $n)' "$KFPLOG" | wc -l) == 1 ]] ||
	fail "the example's xor pipeline did not run once: $(cat "$tmp/out")"

step "8. no token in any output; every request valid"
kf runs sync -v -v >/dev/null 2>&1 || true
KFBOOT_TRACE=all "$KFBOOT" runs sync -v -v --repo "$R" --kubeconfig "$KC" >>"$tmp/stderr" 2>&1 || true
if grep -rqF "$(cat "$tmp/kfp-token")" "$tmp/stderr" "$tmp/out" "$tmp/table" "$tmp/cmp" "$tmp/runs.json"; then
	fail "the bearer token appeared in kfboot's output"
fi
kfpsim_assert_valid
echo "PASS: test_kfp_trigger"
