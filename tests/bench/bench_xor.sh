#!/usr/bin/env bash
# bench_xor.sh - wall time of the XOR study: through the local runner
# (`kfboot pipeline run --local`, independent tasks in parallel) and per
# component, against what a user would otherwise run: the same six
# component scripts one after the other by hand. Also the CPU time, so
# the "seconds on one core" claim can be checked on a busy machine.
#
#   tests/bench/bench_xor.sh [BUILD_DIR] [RUNS]     (default: build, 3 runs)
#
# Prints the median of RUNS. Never fails on timing; fails only when a run
# fails.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${KF_BUILD_DIR:-$here/build}}
runs=${2:-3}
KFBOOT=$build/kfboot
PY=/usr/bin/python3
X=$here/pipelines/xor
[[ -x $KFBOOT ]] || { echo "bench_xor.sh: $KFBOOT not found; build first (./scripts/build.sh)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
now() { date +%s.%N; }

: >"$tmp/runner"; : >"$tmp/manual"; : >"$tmp/cpu"
for r in $(seq "$runs"); do
	t0=$(now)
	"$KFBOOT" pipeline run --local "$X/pipeline.yaml" --out "$tmp/run$r" -q >/dev/null 2>"$tmp/err" ||
		{ cat "$tmp/err"; exit 1; }
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' >>"$tmp/runner"
	jq -r '.tasks[] | "\(.name) \(.seconds)"' "$tmp/run$r/run.json" >>"$tmp/tasks"

	d=$tmp/manual$r
	mkdir -p "$d"
	t0=$(now)
	before=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
	(
		set -e
		$PY "$X/generate.py" --train-out "$d/train" --test-out "$d/test"
		$PY "$X/scatter.py" --train "$d/train" --test "$d/test" --out "$d/scatter.png"
		$PY "$X/train.py" --train "$d/train" --hidden 0 --name xor-linear --model-out "$d/lm" --history-out "$d/lh"
		$PY "$X/train.py" --train "$d/train" --hidden 8 --model-out "$d/hm" --history-out "$d/hh"
		$PY "$X/evaluate.py" --test "$d/test" --linear-model "$d/lm" --hidden-model "$d/hm" --metrics-out "$d/ev" \
			--linear-accuracy-out "$d/la" --hidden-accuracy-out "$d/ha"
		$PY "$X/compare.py" --test "$d/test" --linear-model "$d/lm" --hidden-model "$d/hm" \
			--linear-history "$d/lh" --hidden-history "$d/hh" --evaluation "$d/ev" \
			--linear-accuracy "$(cat "$d/la")" --hidden-accuracy "$(cat "$d/ha")" --run-id bench \
			--loss-plot "$d/l.png" --accuracy-plot "$d/a.png" --regions-plot "$d/r.png" --metrics-out "$d/m.json" \
			--report never
	) >/dev/null
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' >>"$tmp/manual"
	# CPU seconds of the children (utime + stime of waited-for children, in ticks)
	after=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
	awk -v a="$before" -v b="$after" -v hz="$(getconf CLK_TCK)" 'BEGIN { print (b - a) / hz }' >>"$tmp/cpu"
done

runner=$(median <"$tmp/runner")
manual=$(median <"$tmp/manual")
cpu=$(median <"$tmp/cpu")
echo "XOR study (10,000 train / 1,000 test points, 1,000 epochs, 2 models), median of $runs runs on $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg):"
printf '  kfboot pipeline run --local   %6.2f s wall\n' "$runner"
printf '  the six scripts by hand       %6.2f s wall, %.2f s CPU (one core at a time)\n' "$manual" "$cpu"
printf '  ratio (by hand / runner)      %6.2fx\n' "$(awk -v m="$manual" -v r="$runner" 'BEGIN { print m / r }')"
echo "  per component (local runner, median wall seconds):"
for t in generate scatter train-linear train-hidden evaluate compare; do
	printf '    %-14s %6.2f\n' "$t" "$(awk -v t="$t" '$1 == t { print $2 }' "$tmp/tasks" | median)"
done
