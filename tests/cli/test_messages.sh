#!/usr/bin/env bash
# test_messages.sh: YAML errors a person understands. A broken file gets a
# message in words (not libyaml's raw text) with FILE:LINE:COL, the line
# itself and a caret under the column, and what to do next; a line that
# holds a secret (a Secret's data, a key named like a password or token)
# is shown with its value masked. Nothing contacts a server (client dry run).
# Env (set by ctest): KFBOOT.
set -euo pipefail
: "${KFBOOT:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: {a: 1, b: 2\n' >"$tmp/flow.yaml"
if "$KFBOOT" apply --dry-run=client -f "$tmp/flow.yaml" >"$tmp/out" 2>"$tmp/err"; then fail "a broken file was accepted"; fi
grep -qF "$tmp/flow.yaml:6:1: a { } map is not closed: a ',' or '}' is missing (the map starts at line 5, column 7); add it" "$tmp/err" ||
	fail "no words for an unclosed map: $(cat "$tmp/err")"
grep -q "did not find expected" "$tmp/err" && fail "libyaml's raw text is shown"

printf 'a:\n  b: 1\n c: 2\n' >"$tmp/indent.yaml"
"$KFBOOT" apply --dry-run=client -f "$tmp/indent.yaml" >/dev/null 2>"$tmp/err" && fail "bad indentation accepted"
grep -q "indent.yaml:3:2: this line does not fit the indentation" "$tmp/err" || fail "indentation message: $(cat "$tmp/err")"
grep -qx '     3 |  c: 2' "$tmp/err" || fail "the offending line is not shown: $(cat "$tmp/err")"
grep -qx '       |  ^' "$tmp/err" || fail "no caret under column 2: $(cat "$tmp/err")"

printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  password: hunter2: x\n' >"$tmp/secret.yaml"
"$KFBOOT" apply --dry-run=client -f "$tmp/secret.yaml" >/dev/null 2>"$tmp/err" && fail "bad Secret accepted"
grep -q "secret.yaml:5:" "$tmp/err" || fail "no position for the Secret's error"
grep -q "hunter2" "$tmp/err" && fail "a Secret's value was printed"
grep -qxE '     5 \|   password: (\*\*\*|\[REDACTED\])' "$tmp/err" || fail "the Secret's line is not shown masked: $(cat "$tmp/err")"

printf 'apiVersion: kfboot.io/v1alpha1\nkind: Cluster\nmetadata:\n\tname: x\n' >"$tmp/tab.yaml"
"$KFBOOT" validate -f "$tmp/tab.yaml" >"$tmp/out" 2>&1 && fail "a tab was accepted"
grep -q "tab.yaml:4:1: error: found a tab character .*: indent with spaces" "$tmp/out" || fail "tab message: $(cat "$tmp/out")"
grep -q '^     4 | ' "$tmp/out" || fail "validate shows no source line"
echo "messages: in words, with the line and a caret, secrets masked"
