#!/usr/bin/env bash
# test_docs.sh: the documentation stands alone. Every relative link in
# README.md and docs/*.md resolves to a file of this repository, and no page
# points outside it (no ../shared, no design notes that are not in the tree;
# the optional real-server kit, realk8s, may be named).
# Env (set by ctest): KF_SOURCE_DIR.
set -euo pipefail
: "${KF_SOURCE_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$KF_SOURCE_DIR"
bad=0 n=0
for md in README.md docs/*.md; do
	dir=$(dirname "$md")
	while IFS= read -r link; do
		target=${link%%#*}
		[ -n "$target" ] || continue
		case $target in http://* | https://* | mailto:*) continue ;; esac
		n=$((n + 1))
		if [ ! -e "$dir/$target" ]; then
			echo "$md: broken link ($link)" >&2
			bad=$((bad + 1))
		fi
	done < <(grep -oE '\]\([^) ]+\)' "$md" | sed -E 's/^\]\(//; s/\)$//')
done
[ "$bad" = 0 ] || fail "$bad broken link(s)"
out=$(grep -nE '\.\./shared|DESIGN\.md|KFP-NOTES\.md' README.md docs/*.md | grep -v realk8s || true)
[ -z "$out" ] || fail "docs point outside the repository:
$out"
echo "docs: $n relative links resolve; nothing points outside the tree"
