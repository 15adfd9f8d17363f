#!/usr/bin/env bash
# test_xor.sh - the XOR study end to end with the local runner, offline:
# the hidden-layer model reaches >= 0.98 test accuracy and the linear one
# <= 0.7 with the default seed and three others; dims = 3 works (no
# scatter plot, a clear note); the plots are valid PNGs; -o json; a bad
# parameter and a crashing component fail the run with the task named and
# its dependents not run.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
PY=/usr/bin/python3
if ! $PY -c 'import numpy, matplotlib' 2>/dev/null; then
	echo "SKIP: /usr/bin/python3 lacks numpy or matplotlib (scripts/setup.sh installs them)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
PIPE=$KF_SOURCE_DIR/pipelines/xor/pipeline.yaml

"$KFBOOT" pipeline validate "$PIPE" >"$tmp/v" || { cat "$tmp/v"; fail "pipeline.yaml does not validate"; }
grep -q "ok (pipeline 'xor-study', 6 tasks" "$tmp/v" || fail "validate: $(cat "$tmp/v")"

acc() { jq -r ".$2" "$1/compare/metrics"; }
check_png() {
	$PY - "$@" <<'PYEOF' || fail "not a valid PNG: $*"
import sys, matplotlib.image as mi
for p in sys.argv[1:]:
    with open(p, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", p
    a = mi.imread(p, format="png")
    assert a.ndim == 3 and a.shape[0] > 100 and a.shape[1] > 100, (p, a.shape)
PYEOF
}

# 1. default seed: a full run, summary, PNGs, metrics
"$KFBOOT" pipeline run --local "$PIPE" --out "$tmp/s1" --run-id test-run-1 >"$tmp/out" 2>"$tmp/err" ||
	{ cat "$tmp/out" "$tmp/err"; fail "default run failed"; }
grep -q "Run test-run-1 of pipeline 'xor-study'.*succeeded" "$tmp/out" || fail "no summary: $(cat "$tmp/out")"
for t in generate scatter train-linear train-hidden evaluate compare; do
	grep -Eq "^  $t +succeeded" "$tmp/out" || fail "task $t not in the summary as succeeded"
done
check_png "$tmp/s1/scatter/plot" "$tmp/s1/compare/loss_plot" "$tmp/s1/compare/accuracy_plot" "$tmp/s1/compare/regions_plot"
[[ $(jq -r .run_id "$tmp/s1/compare/metrics") == test-run-1 ]] || fail "run id not substituted"
jq -e '.format == "kfboot.io/mlp-v1" and .inputs == 2 and (.layers | length) == 2 and .layers[0].units == 8
	and (.layers[0].weights | length) == 8 and (.layers[0].weights[0] | length) == 2
	and .layers[1].activation == "sigmoid" and .classes == ["0","1"] and .threshold == 0.5' \
	"$tmp/s1/train-hidden/model" >/dev/null || fail "hidden model file not in the agreed format"
jq -e '(.layers | length) == 1 and .layers[0].units == 1 and .meta.hidden == 0' "$tmp/s1/train-linear/model" >/dev/null ||
	fail "linear model file not one sigmoid layer"
grep -q '^accuracy=0\.[0-9]*$' "$tmp/s1/train-hidden/stdout.log" && grep -q '^loss=' "$tmp/s1/train-hidden/stdout.log" ||
	fail "train does not print accuracy= / loss= lines"
jq -e '(.loss | length) == 1000 and (.accuracy | length) == 1000 and (.accuracy | max) <= 1' \
	"$tmp/s1/train-hidden/history" >/dev/null || fail "history is not per epoch"
echo "seed 1: hidden $(acc "$tmp/s1" test_accuracy) linear $(acc "$tmp/s1" linear_test_accuracy)"

# 2. three other seeds (-p, typed), -o json
for seed in 2 3 4; do
	"$KFBOOT" -o json pipeline run --local "$PIPE" -p seed=$seed --out "$tmp/s$seed" -q \
		>"$tmp/s$seed.json" 2>"$tmp/err" || { cat "$tmp/err"; fail "seed $seed run failed"; }
	jq -e '.ok == true and .parameters.seed == '$seed' and (.tasks | length) == 6
		and all(.tasks[]; .state == "succeeded")' "$tmp/s$seed.json" >/dev/null || fail "seed $seed: json summary"
	echo "seed $seed: hidden $(acc "$tmp/s$seed" test_accuracy) linear $(acc "$tmp/s$seed" linear_test_accuracy)"
done
for seed in 1 2 3 4; do
	h=$(acc "$tmp/s$seed" test_accuracy)
	l=$(acc "$tmp/s$seed" linear_test_accuracy)
	awk -v h="$h" -v l="$l" 'BEGIN { exit !(h >= 0.98 && l <= 0.7 && l >= 0) }' ||
		fail "seed $seed: hidden $h (want >= 0.98), linear $l (want <= 0.7)"
done

# 3. dims = 3: no scatter plot, a note; no decision regions; still accurate
"$KFBOOT" pipeline run --local "$PIPE" -p dims=3 --out "$tmp/d3" >"$tmp/out" 2>"$tmp/err" ||
	{ cat "$tmp/out" "$tmp/err"; fail "dims=3 run failed"; }
grep -q "scatter: skipped: the data has 3 dimensions" "$tmp/d3/scatter/stdout.log" || fail "scatter says nothing for dims=3"
[[ ! -e $tmp/d3/scatter/plot && ! -e $tmp/d3/compare/regions_plot ]] || fail "dims=3 wrote a 2-d plot"
grep -q "plot .*(not written)" "$tmp/out" || fail "summary does not say the plot was not written"
check_png "$tmp/d3/compare/loss_plot" "$tmp/d3/compare/accuracy_plot"
h=$(acc "$tmp/d3" test_accuracy)
awk -v h="$h" 'BEGIN { exit !(h >= 0.95) }' || fail "dims=3: hidden accuracy $h"
echo "dims 3: hidden $h linear $(acc "$tmp/d3" linear_test_accuracy)"

# 4. options refused before anything runs
if "$KFBOOT" pipeline run --local "$PIPE" -p seeds=2 --out "$tmp/x" 2>"$tmp/err"; then fail "unknown parameter accepted"; fi
grep -q "no parameter 'seeds' (did you mean 'seed'?)" "$tmp/err" || fail "unknown parameter: $(cat "$tmp/err")"
if "$KFBOOT" pipeline run --local "$PIPE" -p epochs=many --out "$tmp/x" 2>"$tmp/err"; then fail "bad integer accepted"; fi
grep -q "parameter 'epochs': 'many' is not an integer" "$tmp/err" || fail "bad integer: $(cat "$tmp/err")"
[[ ! -e $tmp/x ]] || fail "a refused run created its output directory"
mkdir "$tmp/full" && touch "$tmp/full/precious"
if "$KFBOOT" pipeline run --local "$PIPE" --out "$tmp/full" 2>"$tmp/err"; then fail "non-empty --out accepted"; fi
grep -q "is not empty" "$tmp/err" || fail "non-empty out: $(cat "$tmp/err")"

# 5. a bad parameter the component refuses: both trainings fail, nothing after them runs
set +e
"$KFBOOT" pipeline run --local "$PIPE" -p learning_rate=-1 --out "$tmp/bad" -j 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[[ $rc == 1 ]] || fail "bad parameter: exit $rc, want 1"
grep -q "task 'train-linear' failed: exit status 2" "$tmp/err" || fail "failing task not named: $(cat "$tmp/err")"
grep -q "learning-rate: -1 must be > 0" "$tmp/out" || fail "stderr tail not shown: $(cat "$tmp/out")"
jq -e '[.tasks[] | {(.name): .state}] | add | .generate == "succeeded" and .["train-linear"] == "failed"
	and .evaluate == "not run" and .compare == "not run"' "$tmp/bad/run.json" >/dev/null ||
	fail "states after a bad parameter: $(jq -c '[.tasks[] | [.name, .state]]' "$tmp/bad/run.json")"
[[ ! -e $tmp/bad/evaluate/stdout.log && ! -e $tmp/bad/compare ]] || fail "a dependent of a failed task ran"

# 6. a crashing component (a copy of the scripts whose evaluate raises)
mkdir "$tmp/crash"
cp "$KF_SOURCE_DIR"/pipelines/xor/*.py "$PIPE" "$tmp/crash/"
printf 'def main(argv):\n    raise RuntimeError("evaluate crashed on purpose")\n' >"$tmp/crash/evaluate.py"
set +e
"$KFBOOT" pipeline run --local "$tmp/crash/pipeline.yaml" --out "$tmp/c" >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[[ $rc == 1 ]] || fail "crash: exit $rc, want 1"
grep -q "task 'evaluate' failed: exit status 1" "$tmp/err" || fail "crash: task not named: $(cat "$tmp/err")"
grep -q "RuntimeError: evaluate crashed on purpose" "$tmp/out" || fail "crash: traceback tail not shown"
jq -e '[.tasks[] | {(.name): .state}] | add | .["train-hidden"] == "succeeded" and .evaluate == "failed"
	and .compare == "not run"' "$tmp/c/run.json" >/dev/null || fail "crash: states"
[[ ! -e $tmp/c/compare ]] || fail "crash: compare ran"

# 7. an image without a mapping fails that task with the way out in the message
sed 's/kfboot-xor:0.1.0/registry.example.com\/other:1/' "$PIPE" >"$tmp/other.yaml"
if "$KFBOOT" pipeline run --local "$tmp/other.yaml" --out "$tmp/o" >"$tmp/out" 2>"$tmp/err"; then fail "unmapped image ran"; fi
grep -q "image 'registry.example.com/other:1' has no local command: pass --image-map" "$tmp/err" || fail "unmapped: $(cat "$tmp/err")"
"$KFBOOT" pipeline run --local "$tmp/other.yaml" --out "$tmp/o2" -p n_train=2000 -p epochs=50 \
	--image-map "registry.example.com/other=$PY $KF_SOURCE_DIR/pipelines/xor/xor.py" >/dev/null 2>"$tmp/err" ||
	{ cat "$tmp/err"; fail "--image-map without a tag did not apply"; }
echo "ok: test_xor"
