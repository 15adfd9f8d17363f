#!/usr/bin/env bash
# test_kfp_concurrency.sh - 20 pushes in a burst, per concurrency mode,
# against kfpsim (runs held RUNNING until released) and kubesim:
#   skip:    runs the first commit and the newest only;
#   queue:   runs all 20, in commit order, one at a time (the burst is
#            pushed with no pass in between: the commits are found by
#            walking the history);
#   replace: one run left active, the 19 others terminated.
# Every request kfboot sent passed the simulator's OpenAPI validation.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
/usr/bin/python3 -c 'import jsonschema, yaml' 2>/dev/null || { echo "SKIP: python3-jsonschema missing"; exit 77; }

. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
. "$KF_SOURCE_DIR/tests/kfpsim/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

kfp_test_begin --pending 0 --running 1000
sync_repo() { "$KFBOOT" runs sync -q --repo "$1" --kubeconfig "$KC" 2>>"$tmp/stderr" || { cat "$tmp/stderr"; fail "sync failed"; }; }
names() { jq -r --arg p "$1@" 'select(.display_name | startswith($p)) | .display_name' "$KFPLOG"; }

for mode in skip queue replace; do
	step "$mode: 20 pushes"
	kfpsim_config '{"running": 1000}'
	export KFP_PIPELINE=train-$mode
	R=$tmp/repo-$mode
	kfp_repo_init "$R" "$mode"
	commits=("$(git -C "$R" rev-parse HEAD)")
	sync_repo "$R"
	for i in $(seq 2 20); do
		commits+=("$(kfp_commit "$R" pipelines/xor/train.py "print($i)")")
		[[ $mode == queue ]] || sync_repo "$R"
	done
	[[ $mode == queue ]] && sync_repo "$R"
	case $mode in
	skip)
		[[ $(names train-skip | wc -l) == 1 ]] || fail "skip: runs started while one was active: $(names train-skip)"
		kfpsim_config '{"running": 0}'
		sync_repo "$R"
		sync_repo "$R"
		want=$(printf 'train-skip@%s\ntrain-skip@%s' "${commits[0]:0:12}" "${commits[19]:0:12}")
		[[ $(names train-skip) == "$want" ]] || fail "skip: expected the first and the newest: $(names train-skip)"
		;;
	queue)
		q=$(kubectl --kubeconfig "$KC" get cm -n kfboot-system kfboot-runs-dev -o json |
			jq '.data["train-queue"] | fromjson | .queue | length')
		[[ $q == 19 ]] || fail "queue: expected 19 queued commits, journal has $q"
		kfpsim_config '{"running": 0}'
		for _ in $(seq 40); do
			sync_repo "$R"
			[[ $(names train-queue | wc -l) == 20 ]] && break
		done
		want=$(for c in "${commits[@]}"; do echo "train-queue@${c:0:12}"; done)
		[[ $(names train-queue) == "$want" ]] || fail "queue: runs not all 20 in order: $(names train-queue)"
		[[ $(jq -s '[.[] | select(.display_name | startswith("train-queue@")) | .concurrent] | max' "$KFPLOG") == 0 ]] ||
			fail "queue: a run started while another was active"
		;;
	replace)
		[[ $(names train-replace | wc -l) == 20 ]] || fail "replace: expected 20 runs: $(names train-replace | wc -l)"
		curl -sf "$KFP/kfpsim/dump" >"$tmp/dump"
		active=$(jq '[.runs[] | select(.display_name | startswith("train-replace@")) | select(.state == "RUNNING" or .state == "PENDING")] | length' "$tmp/dump")
		canceled=$(jq '[.runs[] | select(.display_name | startswith("train-replace@")) | select(.state == "CANCELED")] | length' "$tmp/dump")
		[[ $active == 1 && $canceled == 19 ]] || fail "replace: $active active, $canceled terminated"
		jq -e --arg n "train-replace@${commits[19]:0:12}" '.runs[] | select(.display_name == $n) | select(.state == "RUNNING")' "$tmp/dump" >/dev/null ||
			fail "replace: the active run is not the newest commit's"
		;;
	esac
	for c in "${commits[@]}"; do
		n=$(kfp_runs_for "$KFP_PIPELINE@${c:0:12}")
		[[ $n -le 1 ]] || fail "$mode: $n runs for commit $c"
	done
done
kfpsim_assert_valid
echo "PASS: test_kfp_concurrency"
