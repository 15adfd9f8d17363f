#!/usr/bin/env bash
# test_flags.sh: one CLI dialect, said the same way everywhere.
#   1. every flag a command's --help names is in its man page
#      (kfboot-<command>(1), generated at build time) and in docs/cli.md;
#   2. docs/cli.md's per-command table is what scripts/gen-cli-doc.sh makes
#      from the binary (no stale rows);
#   3. a short flag always stands for the same long flag, the one the
#      dialect table of docs/cli.md gives it;
#   4. a command that takes --kubeconfig also takes --context;
#   5. the old spelling --file still works and says what replaces it.
# Env (set by ctest): KFBOOT, KF_SOURCE_DIR, KF_BUILD_DIR.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}" "${KF_BUILD_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
doc=$KF_SOURCE_DIR/docs/cli.md
man1=$KF_BUILD_DIR/man/man1
[ -f "$man1/kfboot.1" ] || fail "no generated man pages in $man1 (build the kf_man target)"

flags_of() { # every -x / --long token of a command's usage and option lines
	"$KFBOOT" "$1" --help | grep -E '^usage:|^[[:space:]]+(kfboot|\[|-)' |
		grep -oE -- '(^|[[:space:][,|])--?[A-Za-z][A-Za-z0-9-]*' |
		sed -E 's/^[[:space:][,|]+//' | sort -u
}
global=" -o --output -q --quiet -v --verbose --no-color -h --help "
dialect=$(sed -n '/^## The dialect/,/^### /p' "$doc")

mapfile -t cmds < <("$KFBOOT" help | awk '/^Commands:/{f=1;next} /^$/{f=0} f{print $1}')
[ "${#cmds[@]}" -gt 10 ] || fail "kfboot help lists only ${#cmds[@]} commands"
for c in "${cmds[@]}"; do
	page=$(sed -e 's/\\-/-/g' -e 's/\\e/\\/g' "$man1/kfboot-$c.1")
	rows=$(grep -E "^\| $c \| " "$doc" || true)
	mapfile -t fl < <(flags_of "$c")
	for f in "${fl[@]}"; do
		# 1. man page and docs
		grep -qF -- "$f" <<<"$page" || fail "kfboot-$c(1) does not mention $f"
		if [[ $global != *" $f "* ]]; then
			grep -qE -- "(^|[^A-Za-z0-9-])$f([^A-Za-z0-9-]|$)" <<<"$rows" ||
				fail "docs/cli.md has no row for '$c $f' (run scripts/gen-cli-doc.sh --update build/kfboot)"
		fi
	done
	# 3. short flags pair with the dialect's long flag
	while read -r short long; do
		[ -n "$short" ] || continue
		grep -qF -- "\`$short, $long\`" <<<"$dialect" ||
			fail "$c pairs $short with $long; docs/cli.md's dialect does not"
	done < <("$KFBOOT" "$c" --help | grep -oE -- '(^|[[:space:]])-[A-Za-z], --[a-z][a-z0-9-]*' |
		sed -E 's/^[[:space:]]+//; s/,//')
	# 4. --kubeconfig goes with --context
	if printf '%s\n' "${fl[@]}" | grep -qx -- --kubeconfig; then
		printf '%s\n' "${fl[@]}" | grep -qx -- --context || fail "$c takes --kubeconfig but not --context"
	fi
done

# 2. the generated table is up to date
want=$(sh "$KF_SOURCE_DIR/scripts/gen-cli-doc.sh" "$KFBOOT")
have=$(sed -n '/<!-- flags:begin -->/,/<!-- flags:end -->/p' "$doc" | sed '1d;$d')
[ "$want" = "$have" ] || {
	diff <(echo "$want") <(echo "$have") | head -20
	fail "docs/cli.md's flag table is stale: scripts/gen-cli-doc.sh --update build/kfboot"
}

# 5. the deprecated spelling
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$("$KFBOOT" validate --file "$KF_SOURCE_DIR/profiles/lab.yaml" 2>"$tmp/err") || fail "validate --file failed"
grep -q "ok" <<<"$out" || fail "validate --file did not validate"
grep -q "'--file' is deprecated.*-f/--filename" "$tmp/err" || fail "no deprecation note for --file: $(cat "$tmp/err")"
"$KFBOOT" -q validate --file "$KF_SOURCE_DIR/profiles/lab.yaml" 2>"$tmp/err2" >/dev/null
[ ! -s "$tmp/err2" ] || fail "-q still prints the deprecation note"
# 6. kubectl's --dry-run=none|client|server everywhere: the command's own
# mode and none are taken (no usage error), the other mode is refused
# (exit 2) naming what the command's dry run is and what to use instead,
# an unknown mode names the three.
dry() { # EXPECT(ok|refused) ARGS...: ok = anything but a usage error
	local want=$1 rc=0
	shift
	"$KFBOOT" "$@" >"$tmp/dout" 2>"$tmp/derr" </dev/null || rc=$?
	if [ "$want" = refused ]; then
		[ "$rc" = 2 ] || fail "kfboot $*: exit $rc, want 2"
		grep -q -- "--dry-run=.*: the dry run of '$1' is .*-side; " "$tmp/derr" || fail "kfboot $*: $(cat "$tmp/derr")"
	else
		[ "$rc" != 2 ] || fail "kfboot $*: a usage error: $(cat "$tmp/derr")"
	fi
}
kc="--kubeconfig $tmp/none"
# shellcheck disable=SC2086 # $kc is two words on purpose
{
	dry ok kubeflow install --dry-run=server $kc; dry ok kubeflow install --dry-run=none $kc
	dry refused kubeflow install --dry-run=client $kc
	dry ok reconcile --repo "$tmp/none" --dry-run=server --once; dry refused reconcile --repo "$tmp/none" --dry-run=client
	dry ok promote xor --to e --repo "$tmp/none" --dry-run=client; dry refused promote xor --to e --repo "$tmp/none" --dry-run=server
	dry ok delete --inventory x --dry-run=server $kc; dry ok apply -f "$tmp/none" --dry-run=client
}
"$KFBOOT" reconcile --repo "$tmp/none" --dry-run=maybe 2>"$tmp/derr" && fail "--dry-run=maybe accepted"
grep -q "none, client or server, not 'maybe'" "$tmp/derr" || fail "--dry-run=maybe: $(cat "$tmp/derr")"
echo "flags: ${#cmds[@]} commands agree with their man pages and docs/cli.md"
