#!/usr/bin/env bash
# test_input_limits.sh: hostile or broken input files fail fast and clearly,
# before kfboot contacts any server (issue 9, items 2, 6 and 12). The
# kubeconfig points at a closed loopback port: a command that tried to
# connect before reading its files would report a connection failure (after
# retries) instead of the file's file:line:col.
#  - a broken manifest fails `apply --dry-run` and `diff` in well under 2 s
#    with its position, and nothing mentions the server;
#  - `-f /dev/zero` is refused at once as a device; a file over the input
#    cap (KFBOOT_MAX_FILE_SIZE) is refused by size, also for profiles
#    (`validate`) and kubeconfigs;
#  - a symlink loop under `-f DIR` is an error naming the path, not a hang;
#    a FIFO named *.yaml in a directory is skipped, not waited on;
#  - a 20,000-deep YAML alias chain is refused with file:line:col by apply
#    --dry-run and diff, never a crash.
set -euo pipefail
: "${KFBOOT:?KFBOOT must point at the built binary}"
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

run() { # run SECONDS CMD...: sets rc, out, err, secs; a timeout is rc 124
	local limit=$1 t0 t1
	shift
	t0=$(date +%s%N)
	set +e
	timeout -s KILL "$limit" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	set -e
	t1=$(date +%s%N)
	secs=$(( (t1 - t0) / 1000000 ))
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# a port nobody listens on: bind one, note it, close it
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
cat >"$tmp/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:$port", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: abc}
contexts:
- name: x
  context: {cluster: c, user: u, namespace: default}
current-context: x
KC
chmod 600 "$tmp/kubeconfig"
export KUBECONFIG=$tmp/kubeconfig

# -- item 12: broken files fail before any connection ----------------------
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\ndata: {}\n' >"$tmp/broken.yaml"
for cmd in "apply --dry-run" diff; do
	# shellcheck disable=SC2086
	run 10 "$KFBOOT" $cmd -f "$tmp/broken.yaml"
	[ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" -lt 128 ] || fail "$cmd broken: exit $rc: $err"
	[ "$secs" -lt 2000 ] || fail "$cmd broken: took ${secs} ms (did it wait for the server?)"
	grep -q "broken.yaml:[0-9]*:[0-9]*:" <<<"$err" || fail "$cmd broken: no file:line:col: $err"
	grep -qi "127.0.0.1\|connect" <<<"$err" && fail "$cmd broken: it contacted the server: $err"
done

# -- item 6: devices, size cap, symlink loops, FIFOs ------------------------
run 10 "$KFBOOT" apply --dry-run -f /dev/zero
[ "$rc" != 0 ] && [ "$rc" -lt 124 ] || fail "/dev/zero: exit $rc"
[ "$secs" -lt 2000 ] || fail "/dev/zero: took ${secs} ms"
grep -q "/dev/zero' is a character device" <<<"$err" || fail "/dev/zero: $err"

head -c 3000 /dev/urandom | base64 >"$tmp/big.yaml"
KFBOOT_MAX_FILE_SIZE=1000 run 10 "$KFBOOT" apply --dry-run -f "$tmp/big.yaml"
[ "$rc" != 0 ] && [ "$rc" -lt 124 ] || fail "big: exit $rc"
grep -q "big.yaml' is [0-9]* bytes, more than the 1000-byte limit" <<<"$err" || fail "big: $err"
cp "$tmp/big.yaml" "$tmp/big-profile.yaml"
KFBOOT_MAX_FILE_SIZE=1000 run 10 "$KFBOOT" validate -f "$tmp/big-profile.yaml"
[ "$rc" != 0 ] && [ "$rc" -lt 124 ] || fail "big profile: exit $rc"
grep -q "more than the 1000-byte limit" <<<"$err$out" || fail "big profile: $err $out"
head -c 3000 /dev/zero | tr '\0' '#' >"$tmp/big-kubeconfig"
KFBOOT_MAX_FILE_SIZE=1000 KUBECONFIG=$tmp/big-kubeconfig run 10 "$KFBOOT" delete --inventory x
[ "$rc" != 0 ] && [ "$rc" -lt 124 ] || fail "big kubeconfig: exit $rc"
grep -q "more than the 1000-byte limit" <<<"$err" || fail "big kubeconfig: $err"

mkdir -p "$tmp/loop/sub"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n' >"$tmp/loop/sub/ok.yaml"
ln -s .. "$tmp/loop/sub/back"
run 10 "$KFBOOT" apply --dry-run -f "$tmp/loop"
[ "$rc" != 0 ] && [ "$rc" -lt 124 ] || fail "symlink loop: exit $rc (124 = hung): $err"
grep -q "loop/sub/back' is a symbolic link loop" <<<"$err" || fail "symlink loop: $err"
grep -qi "connect" <<<"$err" && fail "symlink loop: it contacted the server: $err"

mkdir "$tmp/fifo"
mkfifo "$tmp/fifo/pipe.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok\n' >"$tmp/fifo/z.yaml"
run 10 "$KFBOOT" apply --dry-run -f "$tmp/fifo"
[ "$rc" != 124 ] || fail "FIFO in a directory: hung"
grep -q "skipping '.*pipe.yaml': not a regular file" <<<"$err" || fail "FIFO: not skipped: $err"
grep -q "z.yaml:" <<<"$err" || fail "FIFO: the other file was not read: $err"

# -- item 2: a 20,000-deep alias chain -------------------------------------
/usr/bin/python3 - "$tmp/chain.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: chain}\ndata:\n  a0: &a0 [x]\n")
    for i in range(1, 20000):
        f.write("  a%d: &a%d [*a%d]\n" % (i, i, i - 1))
PY
for cmd in "apply --dry-run" diff; do
	# shellcheck disable=SC2086
	run 20 "$KFBOOT" $cmd -f "$tmp/chain.yaml"
	[ "$rc" != 0 ] && [ "$rc" -lt 124 ] || fail "$cmd alias chain: exit $rc (crash or hang): $err"
	grep -Eq "chain.yaml:[0-9]+:[0-9]+: (document contains excessive aliasing|alias \*a[0-9]+ nests deeper)" <<<"$err" ||
		fail "$cmd alias chain: $err"
done
echo "ok: input limits and local-first checks"
