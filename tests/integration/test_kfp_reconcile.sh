#!/usr/bin/env bash
# test_kfp_reconcile.sh - retraining wired into the reconcile loop:
# `kfboot reconcile --once` over a file:// repository, kubesim as the
# cluster and kfpsim as KFP. After each environment's sync the trigger step
# runs: first sight -> one run; a push touching only unwatched files -> no
# run; a push touching the pipeline -> exactly one run for that commit; a
# second reconcile of the same commit -> nothing more; a schedule declared
# in git (interval, disabled) becomes one recurring run and is deleted when
# removed; a KFP that drops every connection costs the loop one request's
# attempts (then the step stops; the next pass starts the commit's run,
# once). Every request kfboot sent passed kfpsim's OpenAPI validation.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
/usr/bin/python3 -c 'import jsonschema, yaml' 2>/dev/null || { echo "SKIP: python3-jsonschema missing"; exit 77; }

. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
. "$KF_SOURCE_DIR/tests/kfpsim/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

kfp_test_begin --token --pending 0 --running 0
R=$tmp/repo
CTX=$(kubectl --kubeconfig "$KC" config current-context)
kfp_repo_init "$R" queue
rec() {
	"$KFBOOT" reconcile --repo "file://$R" --state-dir "$tmp/state" --kubeconfig "$KC" --context "$CTX" --once \
		>"$tmp/rec.out" 2>"$tmp/rec.err" || { cat "$tmp/rec.out" "$tmp/rec.err"; fail "reconcile failed"; }
	if grep -q "retraining" "$tmp/rec.err"; then cat "$tmp/rec.err"; fail "retraining step reported a problem"; fi
}

step "1. first reconcile: the environment is applied and the pipeline runs once"
rec
c1=$(git -C "$R" rev-parse HEAD)
[[ $(kfp_runs_for "xor@${c1:0:12}") == 1 ]] || fail "no run after the first reconcile: $(cat "$tmp/rec.err")"
kubectl --kubeconfig "$KC" get cm -n ml-dev x >/dev/null || fail "the environment was not applied"

step "2. unwatched push: no run; watched push: one; same commit again: none"
kfp_commit "$R" environments/dev/cm.yaml "  # note" >/dev/null
rec
[[ $(wc -l <"$KFPLOG") == 1 ]] || fail "an unwatched push started a run"
c3=$(kfp_commit "$R" pipelines/xor/train.py "print('v2')")
rec
[[ $(kfp_runs_for "xor@${c3:0:12}") == 1 ]] || fail "watched push: $(kfp_runs_for "xor@${c3:0:12}") runs"
rec
[[ $(wc -l <"$KFPLOG") == 2 ]] || fail "a second reconcile of the same commit started a run"

step "3. a schedule (interval, disabled) declared in git becomes one recurring run; removed, it is deleted"
kfp_write_config "$R" queue '      schedule: { interval: 6h, enabled: false }'
git -C "$R" commit -qam "six-hourly, off for now"
rec
curl -sf "$KFP/kfpsim/dump" | jq '.recurring_runs' >"$tmp/rr"
jq -e 'length == 1 and (.[0] | .trigger.periodic_schedule.interval_second == "21600" and .mode == "DISABLE" and .no_catchup == true)' "$tmp/rr" >/dev/null ||
	fail "recurring run: $(cat "$tmp/rr")"
kfp_write_config "$R" queue ''
git -C "$R" commit -qam "no schedule"
rec
[[ $(curl -sf "$KFP/kfpsim/dump" | jq '.recurring_runs | length') == 0 ]] || fail "schedule removed from git not deleted"

step "4. KFP drops every connection: the step stops after one request's 3 attempts; back, the commit runs once"
c4=$(kfp_commit "$R" pipelines/xor/train.py "print('v4')")
f0=$(kfpsim_stats | jq .faults)
kfpsim_faults '[{"path": ".", "kind": "drop", "count": 1000}]'
"$KFBOOT" reconcile --repo "file://$R" --state-dir "$tmp/state" --kubeconfig "$KC" --context "$CTX" --once \
	>"$tmp/rec.out" 2>"$tmp/rec.err" || { cat "$tmp/rec.err"; fail "a KFP that is down failed the sync"; }
f1=$(kfpsim_stats | jq .faults)
kfpsim_faults '[]'
[[ $((f1 - f0)) == 3 ]] || { cat "$tmp/rec.err"; fail "with KFP down the step sent $((f1 - f0)) requests, expected 3 (one request's attempts)"; }
grep -q "retraining: .*did not answer; 0 more pipeline(s) and the recurring-run clean-up wait for the next pass" "$tmp/rec.err" ||
	fail "no clear warning: $(cat "$tmp/rec.err")"
kubectl --kubeconfig "$KC" get cm -n ml-dev x >/dev/null || fail "the environment was not applied"
[[ $(kfp_runs_for "xor@${c4:0:12}") == 0 ]] || fail "a run was created while KFP was down"
rec
[[ $(kfp_runs_for "xor@${c4:0:12}") == 1 ]] || fail "KFP back: $(kfp_runs_for "xor@${c4:0:12}") runs for the commit"
rec
[[ $(kfp_runs_for "xor@${c4:0:12}") == 1 ]] || fail "a later pass started another run"
kfpsim_assert_valid
echo "PASS: test_kfp_reconcile"
