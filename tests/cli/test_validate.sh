#!/usr/bin/env bash
# test_validate.sh: `kfboot validate` and `kfboot init` as a user runs them.
# Every example profile in profiles/ validates (exit 0); every bad case in
# tests/data/config/ exits 1 and prints exactly its expected errors, each as
# FILE:LINE:COL: error: MESSAGE; -o json and -o yaml say the same thing in
# their formats; `kfboot init` output validates, and init never overwrites
# a file without --force.
set -euo pipefail
: "${KFBOOT:?KFBOOT must point at the built binary}"
: "${KF_SOURCE_DIR:?KF_SOURCE_DIR must point at the source tree}"
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data="$KF_SOURCE_DIR/tests/data/config"
checked=0

# run CMD...: sets $rc, $out (stdout) and $err (stderr) without tripping set -e
run() {
	set +e
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set -e
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# -- the example profiles are valid, from any working directory -----------
for f in "$KF_SOURCE_DIR"/profiles/*.yaml; do
	run "$KFBOOT" validate -f "$f"
	[ "$rc" = 0 ] || fail "$f: exit $rc, want 0: $out $err"
	[[ "$out" == "$f: ok (1 control plane, "* ]] || fail "$f: unexpected output: $out"
	checked=$((checked + 1))
done
run "$KFBOOT" validate -f "$KF_SOURCE_DIR/profiles/lab.yaml"
[ "$out" = "$KF_SOURCE_DIR/profiles/lab.yaml: ok (1 control plane, 2 workers)" ] || fail "lab summary: $out"
(cd / && "$KFBOOT" validate -q -f "$data/identity-readable.yaml") \
	|| fail "a relative identityFile must resolve against the profile's folder"

# -- every data case: exit status and exact messages with positions --------
for f in "$data"/*.yaml; do
	want="${f%.yaml}.errors"
	[ -f "$want" ] || fail "$f has no expected-errors file"
	run "$KFBOOT" validate -f "$f"
	if [ ! -s "$want" ]; then
		[ "$rc" = 0 ] || fail "$f: exit $rc, want 0: $out"
		continue
	fi
	[ "$rc" = 1 ] || fail "$f: exit $rc, want 1"
	n=$(wc -l <"$want")
	# every problem line names the file, line and column
	# (source lines and their carets, "   7 | ..." and "     | ^", are not problems)
	{ grep -v -e "^$f: [0-9]* problems\?\$" -e '^ *[0-9]* | ' -e '^ *| ' "$tmp/out" >"$tmp/lines" || [ $? = 1 ]; } # 1: no lines left
	[ "$(wc -l <"$tmp/lines")" = "$n" ] || fail "$f: $(wc -l <"$tmp/lines") problem lines, want $n:
$out"
	if grep -qv "^$f:[0-9][0-9]*:[0-9][0-9]*: error: " "$tmp/lines"; then
		fail "$f: a line without FILE:LINE:COL: $(grep -v "^$f:[0-9]*:[0-9]*: error: " "$tmp/lines" | head -1)"
	fi
	sed "s|^$f:\([0-9]*:[0-9]*\): error: |\1: |" "$tmp/lines" >"$tmp/got"
	diff -u "$want" "$tmp/got" >&2 || fail "$f: messages differ from $(basename "$want")"
	tail -1 "$tmp/out" | grep -q "^$f: $n problems\?\$" || fail "$f: no summary line"
	checked=$((checked + 1))
done

# the four problems the foundation issue names
for c in syntax-error unknown-field wrong-type cidr-overlap; do
	run "$KFBOOT" validate -f "$data/$c.yaml"
	[ "$rc" = 1 ] || fail "$c: exit $rc, want 1"
	echo "$out" | grep -q "^$data/$c.yaml:[0-9]*:[0-9]*: error: " || fail "$c: no FILE:LINE:COL"
done

# -- several files: exit 1 when any is bad, each reported -------------------
run "$KFBOOT" validate -f "$KF_SOURCE_DIR/profiles/lab.yaml" -f "$data/cidr-overlap.yaml"
[ "$rc" = 1 ] || fail "two files, one bad: exit $rc"
echo "$out" | grep -q "lab.yaml: ok" || fail "two files: the good one is not reported"
echo "$out" | grep -q "cidr-overlap.yaml: 1 problem" || fail "two files: the bad one is not reported"

# -- JSON --------------------------------------------------------------------
run "$KFBOOT" validate -o json -f "$data/cidr-overlap.yaml"
[ "$rc" = 1 ] || fail "-o json on a bad file: exit $rc"
python3 - "$tmp/out" "$data/cidr-overlap.yaml" <<'EOF' || fail "-o json: unexpected document"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["file"] == sys.argv[2], d
assert d["valid"] is False
e = d["errors"][0]
assert (e["line"], e["col"]) == (11, 20), e
assert "overlaps podSubnet" in e["message"], e
EOF
run "$KFBOOT" -o json validate -f "$KF_SOURCE_DIR/profiles/lab.yaml" -f "$data/unknown-field.yaml"
python3 - "$tmp/out" <<'EOF' || fail "-o json with two files: unexpected document"
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, list) and len(d) == 2
assert d[0]["valid"] is True and d[0]["errors"] == [] and d[0]["workers"] == 2
assert d[1]["valid"] is False and len(d[1]["errors"]) == 8
EOF

# -- YAML: the profile with defaults, which validates again ------------------
for f in "$KF_SOURCE_DIR"/profiles/*.yaml; do
	"$KFBOOT" validate -o yaml -f "$f" >"$tmp/full.yaml" || fail "$f: -o yaml failed"
	grep -q '^    connectTimeout: 10s\|^    connectTimeout: 20s' "$tmp/full.yaml" || fail "$f: -o yaml lacks defaults"
	run "$KFBOOT" validate -f "$tmp/full.yaml"
	[ "$rc" = 0 ] || fail "$f: the -o yaml output does not validate: $out"
done
for f in "$data"/valid-*.yaml "$data"/identity-readable.yaml; do
	"$KFBOOT" validate -o yaml -f "$f" >"$tmp/full.yaml" || fail "$f: -o yaml failed"
	run "$KFBOOT" validate -f "$tmp/full.yaml"
	[ "$rc" = 0 ] || fail "$f: the -o yaml output does not validate: $out"
	"$KFBOOT" validate -o yaml -f "$tmp/full.yaml" >"$tmp/again.yaml"
	cmp -s "$tmp/full.yaml" "$tmp/again.yaml" || fail "$f: -o yaml is not stable: $(diff "$tmp/full.yaml" "$tmp/again.yaml")"
done
run "$KFBOOT" validate -o yaml -f "$data/unknown-field.yaml"
[ "$rc" = 1 ] || fail "-o yaml on a bad file: exit $rc"
[ -z "$out" ] || fail "-o yaml on a bad file printed YAML"
echo "$err" | grep -q "unknown-field.yaml:9:5: error: " || fail "-o yaml: problems not on stderr"

# -- unreadable input and usage ------------------------------------------------
run "$KFBOOT" validate -f "$tmp/missing.yaml"
[ "$rc" = 1 ] || fail "missing file: exit $rc"
echo "$out" | grep -q "cannot open '$tmp/missing.yaml'" || fail "missing file: $out"
run "$KFBOOT" validate
[ "$rc" = 2 ] || fail "no file: exit $rc, want 2"
run "$KFBOOT" validate --bogus -f x
[ "$rc" = 2 ] || fail "unknown option: exit $rc, want 2"
"$KFBOOT" validate --help | grep -q "usage: kfboot validate" || fail "validate --help"

# -- init ----------------------------------------------------------------------
"$KFBOOT" init | "$KFBOOT" validate -q -f - || fail "kfboot init | kfboot validate -f - fails"
"$KFBOOT" init --name lab --user ubuntu --control-plane 192.168.1.10 \
	--worker 192.168.1.11 --worker gpu1=192.168.1.12 >"$tmp/init.yaml"
run "$KFBOOT" validate -f "$tmp/init.yaml"
[ "$out" = "$tmp/init.yaml: ok (1 control plane, 2 workers)" ] || fail "init with hosts: $out"
grep -q "name: gpu1" "$tmp/init.yaml" || fail "init: NAME=ADDRESS not used"
grep -q "^#" "$tmp/init.yaml" || fail "init: the profile has no comments"

run "$KFBOOT" init -f "$tmp/p.yaml" --name first
[ "$rc" = 0 ] || fail "init -f: exit $rc: $err"
"$KFBOOT" validate -q -f "$tmp/p.yaml" || fail "init -f output does not validate"
run "$KFBOOT" init -f "$tmp/p.yaml" --name second
[ "$rc" = 1 ] || fail "init over an existing file: exit $rc, want 1"
echo "$err" | grep -q "already exists" || fail "init overwrite message: $err"
grep -q "name: first" "$tmp/p.yaml" || fail "init replaced a file without --force"
run "$KFBOOT" init -f "$tmp/p.yaml" --name second --force
[ "$rc" = 0 ] || fail "init --force: exit $rc"
grep -q "name: second" "$tmp/p.yaml" || fail "init --force did not replace the file"

run "$KFBOOT" init --name Not_Valid
[ "$rc" = 2 ] || fail "init with a bad name: exit $rc, want 2"
echo "$err" | grep -q "invalid name 'Not_Valid'" || fail "init bad name message: $err"
[ -z "$out" ] || fail "init with a bad name still printed a profile"
# a value that YAML would cut short or restructure is refused, not written
run "$KFBOOT" init --worker "10.0.0.11 #comment"
[ "$rc" = 2 ] || fail "init with a '#' in an address: exit $rc, want 2"
[ -z "$out" ] || fail "init with a '#' in an address still printed a profile"
"$KFBOOT" init --help | grep -q "usage: kfboot init" || fail "init --help"

echo "test_validate: $checked files checked"
