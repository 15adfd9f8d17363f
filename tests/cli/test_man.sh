#!/usr/bin/env bash
# test_man.sh: the committed man page (docs/kfboot.1) is exactly what
# scripts/gen-man.sh makes from the built binary's --help texts, and it
# renders without warnings. Regenerate: scripts/gen-man.sh build/kfboot > docs/kfboot.1
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
sh "$KF_SOURCE_DIR/scripts/gen-man.sh" "$KFBOOT" >"$tmp"
if ! diff -u "$KF_SOURCE_DIR/docs/kfboot.1" "$tmp"; then
	echo "FAIL: docs/kfboot.1 is out of date; run scripts/gen-man.sh $KFBOOT > docs/kfboot.1" >&2
	exit 1
fi
if command -v groff >/dev/null; then
	warn=$(groff -man -Tutf8 -ww "$tmp" 2>&1 >/dev/null) || { echo "FAIL: groff failed: $warn" >&2; exit 1; }
	[ -z "$warn" ] || { echo "FAIL: groff warnings: $warn" >&2; exit 1; }
fi
for cmd in validate plan up apply kubeflow; do
	grep -q "^\.SS $cmd\$" "$tmp" || { echo "FAIL: no section for $cmd" >&2; exit 1; }
done
echo "man page: up to date"
