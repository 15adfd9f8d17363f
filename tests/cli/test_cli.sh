#!/usr/bin/env bash
# test_cli.sh: the command line itself: help, version (with -o json), an
# unknown command answered with the closest match and exit 2, global options
# accepted before and after the command, per-command --help.
set -euo pipefail
: "${KFBOOT:?KFBOOT must point at the built binary}"
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$KFBOOT" help >"$tmp/help" || fail "help exited $?"
grep -q '^Commands:' "$tmp/help" || fail "help lists no commands"
grep -q '^  version ' "$tmp/help" || fail "help does not list version"

"$KFBOOT" version >"$tmp/v" || fail "version exited $?"
grep -q '^kfboot [0-9]' "$tmp/v" || fail "version prints no version"
grep -q 'libssh2' "$tmp/v" || fail "version does not list libssh2"

"$KFBOOT" version -o json >"$tmp/vj"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["kfboot"]; assert d["libraries"]["libgit2"]' "$tmp/vj" \
	|| fail "version -o json is not the expected JSON"
"$KFBOOT" -o json version | grep -q '"libraries"' || fail "global -o before the command"

set +e
"$KFBOOT" vrsion >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] || fail "unknown command exits $rc, want 2"
grep -q "Did you mean 'version'" "$tmp/err" || fail "no suggestion: $(cat "$tmp/err")"

set +e
"$KFBOOT" -o xml version >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] || fail "bad -o exits $rc, want 2"
grep -q "unknown output format 'xml'" "$tmp/err" || fail "bad -o message: $(cat "$tmp/err")"

# every listed command answers --help with its usage and exit 0
awk '/^Commands:/{f=1;next} /^$/{f=0} f{print $1}' "$tmp/help" >"$tmp/cmds"
while read -r cmd; do
	"$KFBOOT" "$cmd" --help >"$tmp/h" || fail "$cmd --help exited $?"
	grep -q "usage: kfboot $cmd" "$tmp/h" || fail "$cmd --help shows no usage"
done <"$tmp/cmds"

set +e
"$KFBOOT" >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "no command exits $rc, want 2"
echo "cli: ok"
