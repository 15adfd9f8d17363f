#!/usr/bin/env bash
# test_structure.sh: inside every module, no two files call each other in a
# loop (tests/tools/file_loops.py reads the object files' symbols with nm).
# A module reads top-down: orchestration calls helpers, never back.
# Env (set by ctest): KF_SOURCE_DIR, KF_BUILD_DIR.
set -euo pipefail
: "${KF_SOURCE_DIR:?}" "${KF_BUILD_DIR:?}"
command -v nm >/dev/null || { echo "SKIP: nm not found (binutils)"; exit 77; }
mods=()
for d in "$KF_SOURCE_DIR"/src/*/; do
	m=$(basename "$d")
	[ "$m" = cli ] && continue   # the executable's files: one command each
	[ -d "$KF_BUILD_DIR/CMakeFiles/kf_$m.dir" ] && mods+=("$m")
done
python3 "$KF_SOURCE_DIR/tests/tools/file_loops.py" "$KF_BUILD_DIR" "${mods[@]}"
