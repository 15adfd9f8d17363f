#!/usr/bin/env bash
# bench_retrain_loop.sh - how long the retraining step holds the reconcile
# loop's thread, per pipeline, read from the loop's own debug line
# ("dev: retraining step for 'xor' took 0.068 s (triggered)") of
# `kfboot reconcile --once -v -v`, against kubesim (run journal) and kfpsim
# (strict KFP API simulator), for RUNS rounds of three kinds of pass:
#   watched    a push touching the pipeline (a version upload and a run)
#   unwatched  a push touching nothing watched
#   same       the same commit again (what every resync does)
# and then with KFP refusing connections (and, with HUNG=1, with a KFP that
# accepts connections and never answers: about 45 s per pass).
#
# The ratio printed is the step's share of the whole `reconcile --once`
# process for the same pass (process start, fetch, render, apply, step).
# A benchmark, not a test: never fails on timing.
#
# Env: KFBOOT, KF_SOURCE_DIR; RUNS (10); HUNG (0).
set -euo pipefail

KF_SOURCE_DIR=${KF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
KFBOOT=${KFBOOT:-$KF_SOURCE_DIR/build/kfboot}
RUNS=${RUNS:-10}
/usr/bin/python3 -c 'import jsonschema, yaml' 2>/dev/null || { echo "bench_retrain_loop: python3-jsonschema missing (scripts/setup.sh)"; exit 1; }

. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
. "$KF_SOURCE_DIR/tests/kfpsim/lib.sh"
fail() { echo "bench_retrain_loop: $*" >&2; exit 1; }
export XDG_CACHE_HOME=$tmp/cache

start_sim kube
kubectl --kubeconfig "$KC" create namespace ml-dev >/dev/null
start_kfpsim --pending 0 --running 0
R=$tmp/repo
kfp_repo_init "$R" skip
CTX=$(kubectl --kubeconfig "$KC" config current-context)
now() { date +%s.%N; }
# rec KIND: one pass; appends the step's time to $tmp/KIND and the whole
# process's to $tmp/KIND.all
rec() {
	local t0 t1
	t0=$(now)
	"$KFBOOT" reconcile --repo "file://$R" --state-dir "$tmp/state" --kubeconfig "$KC" --context "$CTX" --once -v -v \
		>/dev/null 2>"$tmp/rec.err" || { cat "$tmp/rec.err"; fail "reconcile ($1)"; }
	t1=$(now)
	grep -o "retraining step for 'xor' took [0-9.]* s" "$tmp/rec.err" | awk '{print $6}' >>"$tmp/$1"
	awk -v a="$t1" -v b="$t0" 'BEGIN {print a - b}' >>"$tmp/$1.all"
}
rec first
for i in $(seq "$RUNS"); do
	kfp_commit "$R" pipelines/xor/train.py "print($i)" >/dev/null
	rec watched
	kfp_commit "$R" README.md "r$i" >/dev/null
	rec unwatched
	rec same
done
kfpsim_assert_valid

pct() { sort -n "$1" | awk -v p="$2" '{v[NR]=$1} END {i=int((NR*p+99)/100); if (i<1) i=1; printf "%.3f", v[i]}'; }
echo "retraining step holding the loop, one pipeline, $RUNS passes of each kind (seconds)"
for k in watched unwatched same; do
	[[ $(wc -l <"$tmp/$k") == "$RUNS" ]] || fail "no timing line for every '$k' pass"
	printf '  %-10s step p50 %s  p95 %s   whole reconcile --once p50 %s   ratio step/whole p50 %.2f\n' "$k" \
		"$(pct "$tmp/$k" 50)" "$(pct "$tmp/$k" 95)" "$(pct "$tmp/$k.all" 50)" \
		"$(awk -v a="$(pct "$tmp/$k" 50)" -v b="$(pct "$tmp/$k.all" 50)" 'BEGIN {print a / b}')"
done

# KFP down: the loop's client gives up after one request's 3 attempts
down() { # KIND PORT
	sed -i "s|endpoint: .*|endpoint: http://127.0.0.1:$2|" "$R/kfboot.yaml"
	git -C "$R" commit -qam "kfp at port $2"
	kfp_commit "$R" pipelines/xor/train.py "print('$1')" >/dev/null
	local t0 t1
	t0=$(now)
	"$KFBOOT" reconcile --repo "file://$R" --state-dir "$tmp/state" --kubeconfig "$KC" --context "$CTX" --once -v -v \
		>/dev/null 2>"$tmp/rec.err" || true
	t1=$(now)
	printf '  KFP %-8s whole reconcile --once %.2f s (the step: %s)\n' "$1" "$(awk -v a="$t1" -v b="$t0" 'BEGIN {print a - b}')" \
		"$(grep -o "took [0-9.]* s" "$tmp/rec.err" | head -1)"
}
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
down refused "$(free_port)"
if [[ ${HUNG:-0} == 1 ]]; then
	/usr/bin/python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64); print(s.getsockname()[1], flush=True); time.sleep(3600)' >"$tmp/hport" &
	pids+=($!)
	for _ in $(seq 50); do [[ -s $tmp/hport ]] && break; sleep 0.1; done
	down hung "$(cat "$tmp/hport")"
fi
