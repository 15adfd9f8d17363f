#!/usr/bin/env bash
# test_kfp_schedules.sh - recurring runs removed from git are deleted in
# KFP in every way they can leave git, through the reconcile loop
# (`kfboot reconcile --once`) and through `kfboot runs sync`, against
# kfpsim (strict OpenAPI validation) and kubesim (run journal):
#   1. pipelines a (dev, staging) and b (dev) with schedules: three
#      recurring runs, one per (pipeline, environment);
#   2. a's experiment changed: still exactly one per (pipeline, env), in the
#      new experiment (the old one, in the old experiment, is deleted);
#   3. pipeline b removed from kfboot.yaml (one of several): its recurring
#      run is deleted;
#   4. staging dropped from a's environments: a/staging deleted, a/dev kept;
#   5. pipeline a removed too - the LAST pipeline, no `pipelines:` left:
#      its recurring run is deleted; the next passes do not ask KFP again
#      and report no problem;
#   6. a back with a schedule, then its schedule removed while it is the
#      only pipeline: deleted; a back again, then removed from kfboot.yaml:
#      deleted (the journal's record is set again when one is created);
#   7. the same last-pipeline removal through `kfboot runs sync` (and then
#      no more KFP requests);
#   8. every request kfboot sent passed kfpsim's validation.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
/usr/bin/python3 -c 'import jsonschema, yaml' 2>/dev/null || { echo "SKIP: python3-jsonschema missing"; exit 77; }

. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
. "$KF_SOURCE_DIR/tests/kfpsim/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

kfp_test_begin --token --pending 0 --running 0
kubectl --kubeconfig "$KC" create namespace ml-staging >/dev/null
CTX=$(kubectl --kubeconfig "$KC" config current-context)
R=$tmp/repo
mkdir -p "$R/pipelines/a" "$R/pipelines/b" "$R/environments/dev" "$R/environments/staging"
git -C "$R" init -q -b main
git -C "$R" config user.email t@example.com
git -C "$R" config user.name test
cp "$KFP_PKG_SRC" "$R/pipelines/a/pipeline.yaml"
cp "$KFP_PKG_SRC" "$R/pipelines/b/pipeline.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n' >"$R/environments/dev/cm.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n' >"$R/environments/staging/cm.yaml"

# config PIPELINE_BLOCKS...: kfboot.yaml with these `pipelines:` entries
# (none: no `pipelines:` at all)
pipeline() { # NAME EXPERIMENT ENVS SCHEDULE
	cat <<YAML
    - name: $1
      package: pipelines/$1/pipeline.yaml
      watch: ["pipelines/$1/**"]
      experiment: $2
      parameters: { neighbors: 3, standard_scaler: true }
      environments: [$3]
YAML
	[[ -z $4 ]] || echo "      schedule: $4"
}
config() {
	cat >"$R/kfboot.yaml" <<YAML
apiVersion: kfboot.io/v1alpha1
kind: Repository
spec:
  environments:
    - name: dev
      context: dev
      namespace: ml-dev
      paths: [environments/dev]
    - name: staging
      context: dev
      namespace: ml-staging
      paths: [environments/staging]
  kfp:
    endpoint: $KFP
    tokenFile: $tmp/kfp-token
YAML
	if (($#)); then
		echo "  pipelines:" >>"$R/kfboot.yaml"
		printf '%s\n' "$@" >>"$R/kfboot.yaml"
	fi
	git -C "$R" add -A
	git -C "$R" commit -qm "config $RANDOM"
}
rec() {
	"$KFBOOT" reconcile --repo "file://$R" --state-dir "$tmp/state" --kubeconfig "$KC" --context "$CTX" --once \
		>"$tmp/rec.out" 2>"$tmp/rec.err" || { cat "$tmp/rec.out" "$tmp/rec.err"; fail "reconcile failed"; }
	if grep -q "retraining\|recurring" "$tmp/rec.err"; then cat "$tmp/rec.err"; fail "retraining step reported a problem"; fi
}
rr() { curl -sf "$KFP/kfpsim/dump" | jq -c '[.recurring_runs[] | {d: .description, e: .experiment_id}] | sort'; }
nrr() { curl -sf "$KFP/kfpsim/dump" | jq '.recurring_runs | length'; }
# descriptions are kfboot:<pipeline>:<env>:<hash>
has() { curl -sf "$KFP/kfpsim/dump" | jq -e --arg p "kfboot:$1:$2:" '[.recurring_runs[] | select(.description | startswith($p))] | length == 1' >/dev/null; }

step "1. two scheduled pipelines: one recurring run per (pipeline, environment)"
config "$(pipeline a a 'dev, staging' '{ interval: 6h }')" "$(pipeline b b dev '{ cron: "0 0 2 * * *" }')"
rec
[[ $(nrr) == 3 ]] || fail "expected 3 recurring runs: $(rr)"
has a dev && has a staging && has b dev || fail "recurring runs: $(rr)"

step "2. a's experiment changed: still one per (pipeline, environment), in the new experiment"
config "$(pipeline a a-nightly 'dev, staging' '{ interval: 6h }')" "$(pipeline b b dev '{ cron: "0 0 2 * * *" }')"
rec
[[ $(nrr) == 3 ]] || fail "an experiment change left the old recurring runs: $(rr)"
# experiments are per namespace: each of a's recurring runs must be in its
# namespace's a-nightly
curl -sf "$KFP/kfpsim/dump" | jq '(.experiments | map({(.experiment_id): .display_name}) | add) as $x |
	[.recurring_runs[] | select(.description | startswith("kfboot:a:")) | $x[.experiment_id]]' >"$tmp/exps"
jq -e '. == ["a-nightly", "a-nightly"]' "$tmp/exps" >/dev/null || fail "a's recurring runs are not in the new experiment: $(cat "$tmp/exps") $(rr)"

step "3. pipeline b removed from kfboot.yaml (one of several): deleted"
config "$(pipeline a a-nightly 'dev, staging' '{ interval: 6h }')"
rec
[[ $(nrr) == 2 ]] && ! has b dev 2>/dev/null || fail "b's recurring run not deleted: $(rr)"

step "4. staging dropped from a's environments: a/staging deleted"
config "$(pipeline a a-nightly dev '{ interval: 6h }')"
rec
[[ $(nrr) == 1 ]] && has a dev || fail "a/staging not deleted: $(rr)"

step "5. the last pipeline removed from kfboot.yaml: deleted; KFP not asked again"
config
rec
[[ $(nrr) == 0 ]] || fail "the last pipeline's recurring run is still there: $(rr)"
n1=$(kfpsim_stats | jq .requests)
echo "# note" >>"$R/environments/dev/cm.yaml"
git -C "$R" commit -qam "unrelated"
rec
n2=$(kfpsim_stats | jq .requests)
[[ $n1 == "$n2" ]] || fail "KFP was asked $((n2 - n1)) more time(s) with nothing left to delete"

step "6. only pipeline's schedule removed: deleted; re-added then pipeline removed: deleted"
config "$(pipeline a a dev '{ interval: 6h }')"
rec
[[ $(nrr) == 1 ]] || fail "re-added schedule not created: $(rr)"
config "$(pipeline a a dev '')"
rec
[[ $(nrr) == 0 ]] || fail "the only schedule removed, its recurring run stays: $(rr)"
config "$(pipeline a a dev '{ interval: 12h }')"
rec
[[ $(nrr) == 1 ]] || fail "schedule not created again: $(rr)"
config
rec
[[ $(nrr) == 0 ]] || fail "removed again, the recurring run stays: $(rr)"

step "7. the same through kfboot runs sync"
config "$(pipeline a a dev '{ cron: "0 0 3 * * *" }')"
"$KFBOOT" runs sync --repo "$R" --kubeconfig "$KC" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "runs sync"; }
[[ $(nrr) == 1 ]] || fail "runs sync did not create the recurring run: $(rr)"
config
"$KFBOOT" runs sync --repo "$R" --kubeconfig "$KC" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "runs sync without pipelines"; }
[[ $(nrr) == 0 ]] || fail "runs sync left the last pipeline's recurring run: $(rr)"
n1=$(kfpsim_stats | jq .requests)
"$KFBOOT" runs sync --repo "$R" --kubeconfig "$KC" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "runs sync with nothing to do"; }
[[ $(kfpsim_stats | jq .requests) == "$n1" ]] || fail "runs sync asked KFP with nothing left to delete"

step "8. every request valid"
kfpsim_assert_valid
echo "PASS: test_kfp_schedules"
