#!/usr/bin/env bash
# test_kubesim_differential.sh - kubesim answers like the real server: the
# same probes (tests/kubesim/differential.py: status codes, Status bodies,
# server-side apply and managedFields, defaulting, dry runs, discovery,
# watches, 410, object-size limits) sent to a genuine kube-apiserver
# (realk8s) and to kubesim; any difference not listed as known (and
# explained in docs/testing.md) fails. Skipped (77) when realk8s cannot run.
# Env: KF_SOURCE_DIR (set by CTest).
set -euo pipefail
: "${KF_SOURCE_DIR:?}"
# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
: "${tmp:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
need_real

start_real real
KC_REAL=$KC
start_sim sim
"$KUBESIM_PY" "$KF_SOURCE_DIR/tests/kubesim/differential.py" --a "$KC_REAL" --b "$KC" --known-ok -v \
	--json "$tmp/answers.json" || fail "kubesim and the real kube-apiserver answer differently (see DIFF lines)"
echo "PASS"
