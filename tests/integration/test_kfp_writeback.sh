#!/usr/bin/env bash
# test_kfp_writeback.sh - kfboot's own commits never trigger retraining,
# even when a pipeline's watch paths match what they change. The pipeline
# watches `models/**` as well as its code; commits are made with real git
# against kfpsim (strict OpenAPI validation) and kubesim (run journal):
#   1. first sight: one run;
#   2. a write-back commit (trailer Kfboot-Model:) changing models/xor.yaml:
#      no run, in `kfboot runs sync` and in `kfboot reconcile --once`;
#      a promotion commit (Kfboot-Promote:): no run;
#   3. the same change by a person (no trailer): one run - the watch
#      matches, so it was the trailer that kept the others out; a message
#      quoting the trailer in its subject or a middle paragraph is a
#      person's commit;
#   4. a person's push to the code with a write-back on top, seen in one
#      pass: exactly one run, for the person's commit (not the write-back);
#   5. queue mode: person, write-back, person, promotion in one burst: runs
#      for the two people's commits only, in order;
#   6. first sight of a pipeline whose newest commit is a write-back: one
#      run, for the newest commit that is not;
#   7. every request passed kfpsim's validation.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
/usr/bin/python3 -c 'import jsonschema, yaml' 2>/dev/null || { echo "SKIP: python3-jsonschema missing"; exit 77; }

. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
. "$KF_SOURCE_DIR/tests/kfpsim/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

kfp_test_begin --token --pending 0 --running 0
CTX=$(kubectl --kubeconfig "$KC" config current-context)
R=$tmp/repo
setup() { # DIR PIPELINE CONCURRENCY: a repository whose pipeline also watches models/**
	local dir=$1
	KFP_PIPELINE=$2 kfp_repo_init "$dir" "$3"
	sed -i 's|watch: \["pipelines/xor/\*\*"\]|watch: ["pipelines/xor/**", "models/**"]|' "$dir/kfboot.yaml"
	grep -q '"models/\*\*"' "$dir/kfboot.yaml" || fail "watch not set"
	mkdir -p "$dir/models"
	printf 'kind: Model\nversions: []\n' >"$dir/models/xor.yaml"
	git -C "$dir" add -A
	git -C "$dir" commit -qm "watch models too"
}
sync() { "$KFBOOT" runs sync --repo "$1" --kubeconfig "$KC" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "runs sync"; }; }
rec() {
	"$KFBOOT" reconcile --repo "file://$R" --state-dir "$tmp/state" --kubeconfig "$KC" --context "$CTX" --once \
		>"$tmp/rec.out" 2>"$tmp/rec.err" || { cat "$tmp/rec.out" "$tmp/rec.err"; fail "reconcile failed"; }
	if grep -q "retraining" "$tmp/rec.err"; then cat "$tmp/rec.err"; fail "retraining step reported a problem"; fi
}
# commit DIR PATH TEXT MESSAGE: append TEXT to PATH, commit with MESSAGE; prints the sha
commit() {
	printf '%s\n' "$3" >>"$1/$2"
	git -C "$1" add -A
	git -C "$1" commit -qm "$4"
	git -C "$1" rev-parse HEAD
}
writeback() { commit "$1" models/xor.yaml "# v$RANDOM" "$(printf 'register xor v%s from run r1\n\nKfboot-Model: xor v%s\nKfboot-Source-Commit: %s\nKfboot-Run: r1' "$2" "$2" "$(git -C "$1" rev-parse HEAD)")"; }
promotion() { commit "$1" models/xor.yaml "# pin $RANDOM" "$(printf 'promote xor v%s to dev\n\nKfboot-Promote: xor v%s staging -> dev\nKfboot-Gates: none' "$2" "$2")"; }
nruns() { wc -l <"$KFPLOG"; }

setup "$R" xor skip

step "1. first sight: one run"
sync "$R"
[[ $(nruns) == 1 ]] || fail "expected one run: $(cat "$KFPLOG")"

step "2. write-back and promotion commits touching a watched path: no run"
w1=$(writeback "$R" 2)
sync "$R"
[[ $(kfp_runs_for "xor@${w1:0:12}") == 0 && $(nruns) == 1 ]] || fail "a write-back commit triggered a run (runs sync): $(cat "$KFPLOG")"
w2=$(writeback "$R" 3)
rec
[[ $(kfp_runs_for "xor@${w2:0:12}") == 0 && $(nruns) == 1 ]] || fail "a write-back commit triggered a run (reconcile): $(cat "$KFPLOG")"
p1=$(promotion "$R" 3)
rec
sync "$R"
[[ $(kfp_runs_for "xor@${p1:0:12}") == 0 && $(nruns) == 1 ]] || fail "a promotion commit triggered a run: $(cat "$KFPLOG")"

step "3. the same change by a person: one run"
h1=$(commit "$R" models/xor.yaml "# by hand" "edit the model file by hand")
rec
[[ $(kfp_runs_for "xor@${h1:0:12}") == 1 && $(nruns) == 2 ]] || fail "a person's change to a watched path did not run: $(cat "$KFPLOG")"
h2=$(commit "$R" models/xor.yaml "# again" "Kfboot-Model: xor v9 (a subject is no trailer)")
sync "$R"
[[ $(kfp_runs_for "xor@${h2:0:12}") == 1 && $(nruns) == 3 ]] || fail "a person's commit with a trailer-like subject was taken for kfboot's: $(cat "$KFPLOG")"
h3=$(commit "$R" models/xor.yaml "# and again" "$(printf 'tune\n\nKfboot-Model: xor v9 quoted in a middle paragraph\n\nSigned-off-by: A <a@example.com>')")
sync "$R"
[[ $(kfp_runs_for "xor@${h3:0:12}") == 1 && $(nruns) == 4 ]] || fail "a person's commit quoting a trailer in its body was taken for kfboot's: $(cat "$KFPLOG")"

step "4. a person's push with a write-back on top, seen in one pass: one run, for the person's commit"
u=$(commit "$R" pipelines/xor/train.py "print(4)" "better features")
w3=$(writeback "$R" 4)
rec
[[ $(kfp_runs_for "xor@${u:0:12}") == 1 ]] || fail "the person's commit did not run: $(cat "$KFPLOG")"
[[ $(kfp_runs_for "xor@${w3:0:12}") == 0 && $(nruns) == 5 ]] || fail "the write-back ran: $(cat "$KFPLOG")"
rec
sync "$R"
[[ $(nruns) == 5 ]] || fail "a later pass started another run: $(cat "$KFPLOG")"

step "5. queue mode: person, write-back, person, promotion: the two people's commits run, in order"
Q=$tmp/queue
setup "$Q" xorq queue
sync "$Q"
[[ $(kfp_runs_for "xorq@$(git -C "$Q" rev-parse --short=12 HEAD)") == 1 ]] || fail "queue pipeline's first run"
n0=$(nruns)
q1=$(commit "$Q" pipelines/xor/train.py "print(5)" "q1")
qw=$(writeback "$Q" 2)
q2=$(commit "$Q" models/xor.yaml "# by hand" "q2: a person edits the model file")
qp=$(promotion "$Q" 2)
for _ in 1 2 3 4; do sync "$Q"; done
tail -n +$((n0 + 1)) "$KFPLOG" | jq -r .display_name >"$tmp/q"
printf '%s\n' "xorq@${q1:0:12}" "xorq@${q2:0:12}" | diff - "$tmp/q" >/dev/null ||
	fail "queue mode ran $(tr '\n' ' ' <"$tmp/q"), expected q1 then q2 (write-back ${qw:0:12}, promotion ${qp:0:12} must not run)"

step "6. first sight at a write-back commit: one run, for the newest commit that is not"
F=$tmp/first
setup "$F" xorf skip
f1=$(git -C "$F" rev-parse HEAD)
fw=$(writeback "$F" 1)
sync "$F"
[[ $(kfp_runs_for "xorf@${f1:0:12}") == 1 && $(kfp_runs_for "xorf@${fw:0:12}") == 0 ]] ||
	fail "first sight ran the write-back: $(grep xorf "$KFPLOG")"

step "7. every request valid"
kfpsim_assert_valid
echo "PASS: test_kfp_writeback"
