#!/usr/bin/env bash
# test_kfp_kill.sh - exactly once under kill -9: 100 pushes, each followed
# by a retraining pass (`kfboot runs sync`, the reconciler's trigger step)
# that is killed with SIGKILL after a random delay; every fifth pass is
# instead killed at a named point of the trigger path (after the version
# upload, after the enqueue, after the intent, between POST /runs and the
# journal write, after the record), and some passes get a 500 returned
# after KFP created the run. Then passes run undisturbed until the queue
# drains. Counted from the simulator's log: exactly one run per (pipeline,
# commit), none missed, one at a time (queue).
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
/usr/bin/python3 -c 'import jsonschema, yaml' 2>/dev/null || { echo "SKIP: python3-jsonschema missing"; exit 77; }

. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
. "$KF_SOURCE_DIR/tests/kfpsim/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
N=${KFP_KILL_ITERATIONS:-100}

kfp_test_begin --pending 0 --running 0
R=$tmp/repo
kfp_repo_init "$R" queue
commits=("$(git -C "$R" rev-parse HEAD)")
# first sight of the pipeline runs the current commit once; how long an
# undisturbed pass takes here sets the range of the random kill delays, so
# that kills land mid-flight on a fast machine and on a loaded one alike
t0=$EPOCHREALTIME
"$KFBOOT" runs sync -q --repo "$R" --kubeconfig "$KC" >/dev/null 2>>"$tmp/stderr" || { cat "$tmp/stderr"; fail "first sync"; }
pass_ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
((pass_ms >= 40)) || pass_ms=40
echo "an undisturbed pass: ${pass_ms} ms; kills land within that"
points=(after-upload after-enqueue after-intent after-post after-record)
RANDOM=${KFP_KILL_SEED:-4242}
killed=0 crashed=0

step "$N pushes, each pass killed"
for i in $(seq 1 "$N"); do
	commits+=("$(kfp_commit "$R" pipelines/xor/train.py "print($i)")")
	if ((i % 7 == 3)); then
		kfpsim_faults '[{"method":"POST","path":"/runs$","kind":"500-after","count":1}]'
	fi
	if ((i % 5 == 0)); then
		p=${points[$(((i / 5) % ${#points[@]}))]}
		if ! (KFBOOT_KFP_CRASH_AT=$p exec "$KFBOOT" runs sync -q --repo "$R" --kubeconfig "$KC" >/dev/null 2>&1); then
			crashed=$((crashed + 1))
		fi
		continue
	fi
	"$KFBOOT" runs sync -q --repo "$R" --kubeconfig "$KC" >/dev/null 2>&1 &
	pid=$!
	d=$((RANDOM % pass_ms))
	sleep "$((d / 1000)).$(printf '%03d' $((d % 1000)))"
	if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
	wait "$pid" 2>/dev/null || true
done
echo "killed by the test: $killed, by a named crash point: $crashed"
((killed >= N / 4)) || fail "only $killed passes were killed mid-flight: the delays are too long for this machine"

step "drain: passes without kills until every commit ran"
kfpsim_faults '[]'
for _ in $(seq $((N + 40))); do
	"$KFBOOT" runs sync -q --repo "$R" --kubeconfig "$KC" >/dev/null 2>>"$tmp/stderr" || { cat "$tmp/stderr"; fail "sync failed"; }
	[[ $(wc -l <"$KFPLOG") -ge $((N + 1)) ]] && break
done
"$KFBOOT" runs sync -q --repo "$R" --kubeconfig "$KC" >/dev/null 2>>"$tmp/stderr" || fail "last sync"

step "count from the simulator's log"
missing=0 dup=0
for c in "${commits[@]}"; do
	n=$(kfp_runs_for "xor@${c:0:12}")
	((n == 0)) && missing=$((missing + 1))
	((n > 1)) && { dup=$((dup + 1)); echo "duplicate: $c ($n runs)"; }
done
total=$(wc -l <"$KFPLOG")
echo "commits: ${#commits[@]}, runs: $total, missing: $missing, duplicated: $dup"
((dup == 0)) || fail "$dup commit(s) ran more than once"
((missing == 0)) || fail "$missing commit(s) never ran"
((total == ${#commits[@]})) || fail "$total runs for ${#commits[@]} commits"
want=$(for c in "${commits[@]}"; do echo "xor@${c:0:12}"; done)
[[ $(jq -r .display_name "$KFPLOG") == "$want" ]] || fail "runs not in commit order"
[[ $(jq -s 'map(.concurrent) | max' "$KFPLOG") == 0 ]] || fail "two runs were active at once"
kfpsim_assert_valid
echo "PASS: test_kfp_kill"
