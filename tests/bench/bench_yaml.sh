#!/usr/bin/env bash
# bench_yaml.sh - YAML loader throughput against libyaml's raw event parse.
#
# Builds nothing: runs the bench_yaml tool from a build directory given as
# the first argument or in $KF_BUILD_DIR (default: build). Further
# arguments go to the tool: [FILE] [RUNS]. Prints MB/s of the raw libyaml
# parse and of kf_yaml_load_buf and their ratio (goal: <= 2). Never fails
# on timing; fails only if the tool is missing or cannot load the file.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${KF_BUILD_DIR:-$here/build}}
[ $# -gt 0 ] && shift
tool=$build/tests/bench_yaml
if [ ! -x "$tool" ]; then
	echo "bench_yaml.sh: $tool not found; build it first:" >&2
	echo "  cmake --build $build --target bench_yaml" >&2
	exit 1
fi
export KF_DATA_DIR=${KF_DATA_DIR:-$build/testdata}
"$tool" "$@"
