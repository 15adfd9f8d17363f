#!/bin/bash
# test_ssh.sh - the SSH layer against real OpenSSH servers: three test nodes
# from tests/nodes/nodes.sh (network namespaces, sshd on port 22 of each
# node's address) and tests/tools/kf_ssh_probe as the client. Checks exec
# output, exit status and streaming, stdin, timeouts, upload with mode,
# sudo, host key policy (unknown, accept-new once even in parallel,
# changed), auth failures (wrong user, missing key, RSA, passphrase),
# unreachable addresses, and a bastion hop; then tests/nodes/selftest.sh
# checks the stand-ins on the same nodes. Needs root; skips otherwise.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: test_ssh.sh needs root (it creates network namespaces)"
	exit 77
fi

SRC=${KF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${KF_BUILD_DIR:-$SRC/build}
PROBE=$BUILD/tests/kf_ssh_probe
NODES=$SRC/tests/nodes/nodes.sh
[ -x "$PROBE" ] || { echo "FAIL: $PROBE is not built"; exit 1; }

T=$(mktemp -d /tmp/kf-test-ssh.XXXXXX)
AGENT_PID=""
cleanup() {
	[ -z "$AGENT_PID" ] || kill "$AGENT_PID" 2>/dev/null || true
	bash "$NODES" down "$T/nodes" >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
unset SSH_AUTH_SOCK
# sanitizer builds: full stacks, and libssh2's own ECDSA leak suppressed
export ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$SRC/src/ssh/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

FAILS=0
PASSES=0
pass() { PASSES=$((PASSES + 1)); echo "ok - $1"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL - $1"; [ -z "${2:-}" ] || printf '  %s\n' "$2" | head -n 20; }
has() { grep -qF -- "$2" <<<"$1"; }

t0=$EPOCHREALTIME
KF_NODES_QUIET=1 bash "$NODES" up 3 "$T/nodes"
echo "# 3 nodes up in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')s"
# shellcheck disable=SC1091
. "$T/nodes/nodes.env"
A1=$KF_NODE_1_ADDR
A2=$KF_NODE_2_ADDR
A3=$KF_NODE_3_ADDR
KEY=$KF_NODES_KEY
KH=$KF_NODES_KNOWN_HOSTS
fp_of() { ssh-keygen -lf "$1" | awk '{print $2}'; }
FP1=$(fp_of "$KF_NODE_1_HOSTKEY")
FP2=$(fp_of "$KF_NODE_2_HOSTKEY")

# probe with the nodes' key and known_hosts; no global known_hosts file
P() { "$PROBE" -i "$KEY" -k "$KH" -g '' -t 3 "$@"; }
run() { # run CMD... ; sets OUT ERR RC
	set +e
	"$@" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# --- exec ------------------------------------------------------------------
run P -H "$A1" -u kfuser exec 'echo out; echo err >&2; exit 7'
if [ "$RC" = 7 ] && [ "$OUT" = out ] && has "$ERR" err; then pass "exec: stdout, stderr, exit status"
else fail "exec: stdout, stderr, exit status" "rc=$RC out=$OUT err=$ERR"; fi

run P -H "$A1" -u kfuser exec 'kill -TERM $$'
if [ "$RC" = 143 ] && has "$ERR" "killed by signal TERM"; then pass "exec: exit signal"
else fail "exec: exit signal" "rc=$RC err=$ERR"; fi

run P -H "$A1" -u kfuser -S exec 'echo a; sleep 1; echo b >&2'
first=$(sed -n '1s/^+\([0-9]*\) fd=1: a$/\1/p' <<<"$OUT")
second=$(grep -m1 'fd=2: b' <<<"$OUT" | sed 's/^+\([0-9]*\).*/\1/')
if [ -n "$first" ] && [ -n "$second" ] && [ "$first" -lt 700 ] && [ "$second" -ge 900 ]; then
	pass "exec: output streams as it arrives (a at ${first}ms, b at ${second}ms)"
else fail "exec: output streams as it arrives" "$OUT"; fi

head -c 300000 /dev/urandom | base64 >"$T/stdin"
run P -H "$A1" -u kfuser -r exec 'sha256sum' <"$T/stdin"
if [ "$RC" = 0 ] && [ "${OUT%% *}" = "$(sha256sum <"$T/stdin" | cut -d' ' -f1)" ]; then pass "exec: stdin data (400 KB)"
else fail "exec: stdin data" "rc=$RC out=$OUT err=$ERR"; fi

run P -H "$A1" -u kfuser -m 1000 exec 'head -c 100000 /dev/zero | tr "\0" x; echo; echo done >&2'
if [ "$RC" = 0 ] && has "$ERR" "output truncated"; then pass "exec: output cap reported, command completes"
else fail "exec: output cap" "rc=$RC err=$ERR"; fi

s=$EPOCHREALTIME
run P -H "$A1" -u kfuser -T 1 exec 'sleep 41'
el=$(awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
if [ "$RC" = 255 ] && has "$ERR" "command timed out after 1.0s" && awk -v e="$el" 'BEGIN{exit !(e < 4)}'; then
	pass "exec: per-command timeout (${el}s)"
else fail "exec: per-command timeout" "rc=$RC el=$el err=$ERR"; fi
run P -H "$A1" -u kfuser -s -T 1 exec 'sleep 42'
TIMEOUTS_AT=$EPOCHREALTIME

run P -H "$A1" -u root exec 'id -u; hostname'
if [ "$RC" = 0 ] && [ "$OUT" = "0
node1" ]; then pass "exec: root login"
else fail "exec: root login" "rc=$RC out=$OUT err=$ERR"; fi

run P -H "$A1" -u kfuser alive
if [ "$RC" = 0 ] && [ "$OUT" = alive ]; then pass "alive"
else fail "alive" "rc=$RC out=$OUT err=$ERR"; fi

# --- sudo ------------------------------------------------------------------
run P -H "$A2" -u kfuser -s exec 'id -u; touch /etc/kf-sudo-test'
if [ "$RC" = 0 ] && [ "$OUT" = 0 ] && bash "$NODES" exec "$T/nodes" 2 test -f /etc/kf-sudo-test &&
	[ ! -e /etc/kf-sudo-test ]; then
	pass "sudo: kfuser runs as root, writes the node's /etc (not the machine's)"
else fail "sudo: kfuser" "rc=$RC out=$OUT err=$ERR"; fi

run P -H "$A2" -u nosudo -s exec 'id -u'
if [ "$RC" = 1 ] && has "$ERR" "a password is required"; then pass "sudo: nosudo user is refused (sudo -n)"
else fail "sudo: nosudo" "rc=$RC out=$OUT err=$ERR"; fi

# --- upload ----------------------------------------------------------------
head -c 2000000 /dev/urandom >"$T/blob"
sum=$(sha256sum <"$T/blob" | cut -d' ' -f1)
run P -H "$A3" -u kfuser upload "$T/blob" /home/kfuser/blob.bin 0640
got=$(bash "$NODES" exec "$T/nodes" 3 sh -c 'sha256sum < /home/kfuser/blob.bin | cut -d" " -f1; stat -c "%a %U" /home/kfuser/blob.bin')
if [ "$RC" = 0 ] && [ "$got" = "$sum
640 kfuser" ]; then pass "upload: 2 MB, content and mode 0640"
else fail "upload: content and mode" "rc=$RC got=$got err=$ERR"; fi

echo "second version" >"$T/small"
run P -H "$A3" -u kfuser upload "$T/small" /home/kfuser/blob.bin 0600
got=$(bash "$NODES" exec "$T/nodes" 3 sh -c 'cat /home/kfuser/blob.bin; stat -c %a /home/kfuser/blob.bin; ls -a /home/kfuser | grep -c kfboot- || [ $? = 1 ]')
if [ "$RC" = 0 ] && [ "$got" = "second version
600
0" ]; then pass "upload: replaces an existing file atomically, no temporary left"
else fail "upload: replace" "rc=$RC got=$got err=$ERR"; fi

run P -H "$A3" -u kfuser upload "$T/small" /etc/kf-denied 0644
if [ "$RC" = 255 ] && has "$ERR" "permission denied"; then pass "upload: unwritable directory gives a clear error"
else fail "upload: unwritable directory" "rc=$RC err=$ERR"; fi

# --- host keys ---------------------------------------------------------------
: >"$T/empty_kh"
run "$PROBE" -i "$KEY" -k "$T/empty_kh" -g '' -t 3 -H "$A1" -u kfuser -n node1 exec true
if [ "$RC" = 255 ] && has "$ERR" "node1 (kfuser@$A1:22)" && has "$ERR" "host key verification failed" &&
	has "$ERR" "$FP1" && has "$ERR" "ssh-keyscan -p 22" && has "$ERR" "accept-new" && [ ! -s "$T/empty_kh" ]; then
	pass "host key: unknown key refused with fingerprint and how to accept; nothing written"
else fail "host key: unknown key" "rc=$RC err=$ERR"; fi

rm -f "$T/new_kh"
run "$PROBE" -i "$KEY" -k "$T/new_kh" -g '' -t 3 -a -H "$A1" -u kfuser exec true
run "$PROBE" -i "$KEY" -k "$T/new_kh" -g '' -t 3 -a -H "$A1" -u kfuser exec true
if [ "$RC" = 0 ] && [ "$(wc -l <"$T/new_kh")" = 1 ] && grep -q "^$A1 ssh-ed25519 " "$T/new_kh"; then
	pass "host key: accept-new adds one entry, a second connect adds none"
else fail "host key: accept-new" "rc=$RC err=$ERR $(cat "$T/new_kh" 2>/dev/null)"; fi

rm -f "$T/par_kh"
for _ in 1 2 3 4 5 6 7 8; do
	"$PROBE" -i "$KEY" -k "$T/par_kh" -g '' -t 5 -a -H "$A2" -u kfuser exec true >/dev/null 2>&1 &
done
wait
if [ "$(wc -l <"$T/par_kh")" = 1 ]; then pass "host key: 8 parallel accept-new connects add exactly one entry"
else fail "host key: parallel accept-new" "$(cat "$T/par_kh")"; fi

# node 2's key under node 1's address: node 1 now "has a different key"
echo "$A1 $(cut -d' ' -f1,2 "$KF_NODE_2_HOSTKEY")" >"$T/bad_kh"
before=$(sha256sum <"$T/bad_kh")
run "$PROBE" -i "$KEY" -k "$T/bad_kh" -g '' -t 3 -a -H "$A1" -u kfuser -n node1 exec true
if [ "$RC" = 255 ] && has "$ERR" "REMOTE HOST IDENTIFICATION HAS CHANGED" && has "$ERR" "$FP1" &&
	has "$ERR" "$FP2" && has "$ERR" "node1" && [ "$(sha256sum <"$T/bad_kh")" = "$before" ]; then
	pass "host key: changed key refused loudly even with accept-new; file untouched"
else fail "host key: changed key" "rc=$RC err=$ERR"; fi

# hashed entries and the global file
cp "$KH" "$T/hashed_kh"
ssh-keygen -H -f "$T/hashed_kh" >/dev/null 2>&1
run "$PROBE" -i "$KEY" -k "$T/empty_kh" -g "$T/hashed_kh" -t 3 -H "$A1" -u kfuser exec true
if [ "$RC" = 0 ] && ! grep -q "$A1" "$T/hashed_kh"; then pass "host key: hashed entry in the global known_hosts file"
else fail "host key: hashed global entry" "rc=$RC err=$ERR"; fi

# --- authentication -------------------------------------------------------------
run P -H "$A1" -u nosuchuser -n node1 exec true
if [ "$RC" = 255 ] && has "$ERR" "node1 (nosuchuser@$A1:22)" && has "$ERR" "authentication as 'nosuchuser' failed"; then
	pass "auth: wrong user"
else fail "auth: wrong user" "rc=$RC err=$ERR"; fi

s=$EPOCHREALTIME
run "$PROBE" -i "$T/nonexistent_key" -k "$KH" -g '' -H "$A1" -u kfuser -n node1 exec true
if [ "$RC" = 255 ] && has "$ERR" "node1" && has "$ERR" "identity file '$T/nonexistent_key' not found"; then
	pass "auth: missing key file"
else fail "auth: missing key file" "rc=$RC err=$ERR"; fi

ssh-keygen -q -t ed25519 -N 'secret phrase' -f "$T/enc_key"
run "$PROBE" -i "$T/enc_key" -k "$KH" -g '' -H "$A1" -u kfuser exec true
if [ "$RC" = 255 ] && has "$ERR" "passphrase" && has "$ERR" "ssh-add"; then pass "auth: passphrase-protected key explained"
else fail "auth: passphrase key" "rc=$RC err=$ERR"; fi

ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f "$T/rsa_key"
bash "$NODES" exec "$T/nodes" 1 sh -c "cat >> /home/kfuser/.ssh/authorized_keys" <"$T/rsa_key.pub"
run "$PROBE" -i "$T/rsa_key" -k "$KH" -g '' -H "$A1" -u kfuser exec true
if [ "$RC" = 255 ] && has "$ERR" "SHA-1" && has "$ERR" "ed25519"; then pass "auth: RSA key refused by OpenSSH 9 is explained"
elif [ "$RC" = 0 ]; then pass "auth: RSA key accepted (this libssh2 signs with rsa-sha2)"
else fail "auth: RSA key" "rc=$RC err=$ERR"; fi

ssh-keygen -q -t ecdsa -N '' -f "$T/ecdsa_key"
bash "$NODES" exec "$T/nodes" 1 sh -c "cat >> /home/kfuser/.ssh/authorized_keys" <"$T/ecdsa_key.pub"
run "$PROBE" -i "$T/ecdsa_key" -k "$KH" -g '' -H "$A1" -u kfuser exec 'echo ecdsa'
if [ "$RC" = 0 ] && [ "$OUT" = ecdsa ]; then pass "auth: ecdsa key (OpenSSH format)"
else fail "auth: ecdsa key" "rc=$RC err=$ERR"; fi

ssh-keygen -q -t rsa -b 2048 -N '' -f "$T/rsa_new"
bash "$NODES" exec "$T/nodes" 1 sh -c "cat >> /home/kfuser/.ssh/authorized_keys" <"$T/rsa_new.pub"
run "$PROBE" -i "$T/rsa_new" -k "$KH" -g '' -H "$A1" -u kfuser exec true
if [ "$RC" = 255 ] && has "$ERR" "SHA-1"; then pass "auth: RSA key in OpenSSH format explained too"
elif [ "$RC" = 0 ]; then pass "auth: RSA key (OpenSSH format) accepted"
else fail "auth: RSA key (OpenSSH format)" "rc=$RC err=$ERR"; fi

# ssh-agent first: no identity file at all, or a missing one
eval "$(ssh-agent -s -a "$T/agent.sock")" >/dev/null
AGENT_PID=$SSH_AGENT_PID
ssh-add -q "$KEY" 2>/dev/null
run "$PROBE" -k "$KH" -g '' -H "$A1" -u kfuser exec 'echo via-agent'
run2_rc=$RC
run2_out=$OUT
run "$PROBE" -i "$T/nonexistent_key" -k "$KH" -g '' -H "$A1" -u kfuser exec 'echo via-agent'
if [ "$run2_rc" = 0 ] && [ "$run2_out" = via-agent ] && [ "$RC" = 0 ] && [ "$OUT" = via-agent ]; then
	pass "auth: ssh-agent (no key file, or a missing one)"
else fail "auth: ssh-agent" "rc=$run2_rc/$RC err=$ERR"; fi
ssh-add -q -D 2>/dev/null
run "$PROBE" -k "$KH" -g '' -H "$A1" -u kfuser -n node1 exec true
if [ "$RC" = 255 ] && has "$ERR" "node1" && has "$ERR" "no ssh-agent key, and no identity file is configured"; then
	pass "auth: empty agent and no key file explained"
else fail "auth: empty agent" "rc=$RC err=$ERR"; fi
kill "$AGENT_PID" 2>/dev/null || true
AGENT_PID=""
unset SSH_AUTH_SOCK SSH_AGENT_PID

# --- several sessions in threads of one process ------------------------------------
run P -H "$A1,$A2,$A3" -u kfuser -c 3 exec 'hostname'
if [ "$RC" = 0 ] && [ "$(awk '{print $3}' <<<"$OUT" | paste -sd' ' -)" = "node1 node2 node3" ]; then
	pass "threads: one session per host in parallel threads"
else fail "threads: parallel sessions" "rc=$RC out=$OUT"; fi

# --- reachability ----------------------------------------------------------------
s=$EPOCHREALTIME
run "$PROBE" -i "$KEY" -k "$KH" -g '' -t 1 -H "$KF_NODES_UNUSED_ADDR" -u kfuser -n ghost exec true
el=$(awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
if [ "$RC" = 255 ] && has "$ERR" "ghost" && awk -v e="$el" 'BEGIN{exit !(e < 2.5)}' &&
	{ has "$ERR" "timed out after 1s" || has "$ERR" "No route to host"; }; then
	pass "connect: unreachable address fails within the timeout (${el}s)"
else fail "connect: unreachable address" "rc=$RC el=$el err=$ERR"; fi

run "$PROBE" -i "$KEY" -k "$KH" -g '' -t 1 -H 127.0.0.1 -p 1 -u kfuser exec true
if [ "$RC" = 255 ] && has "$ERR" "Connection refused"; then pass "connect: closed port"
else fail "connect: closed port" "rc=$RC err=$ERR"; fi

# the timed-out commands (plain and under sudo) were stopped on the node too
sleep "$(awk -v a="$TIMEOUTS_AT" -v b="$EPOCHREALTIME" 'BEGIN{d = 4.5 - (b - a); print (d > 0 ? d : 0)}')"
left=$(bash "$NODES" exec "$T/nodes" 1 ps -eo args | grep -c '^sleep 4[12]$' || [ $? = 1 ])
if [ "$left" = 0 ]; then pass "exec: a timed-out command is stopped on the host (also under sudo)"
else fail "exec: timed-out command still running on the node" "$left left"; fi

# --- bastion -----------------------------------------------------------------------
# shellcheck disable=SC2016 # expanded on the node
run P -H "$A2" -u kfuser -B "$A1" -U kfuser exec 'hostname; echo "$SSH_CONNECTION" | cut -d" " -f1'
if [ "$RC" = 0 ] && [ "$OUT" = "node2
$A1" ]; then pass "bastion: node1 as jump host to node2"
else fail "bastion: hop" "rc=$RC out=$OUT err=$ERR"; fi

run P -H "$A3" -u kfuser -B "$A1" -U kfuser upload "$T/blob" /home/kfuser/via-bastion 0644
got=$(bash "$NODES" exec "$T/nodes" 3 sh -c 'sha256sum < /home/kfuser/via-bastion | cut -d" " -f1')
if [ "$RC" = 0 ] && [ "$got" = "$sum" ]; then pass "bastion: 2 MB upload through the tunnel"
else fail "bastion: upload" "rc=$RC err=$ERR"; fi

grep -v "^$A1 " "$KH" >"$T/no_bastion_kh"
run "$PROBE" -i "$KEY" -k "$T/no_bastion_kh" -g '' -t 3 -H "$A2" -u kfuser -B "$A1" -U kfuser exec true
if [ "$RC" = 255 ] && has "$ERR" "through bastion" && has "$ERR" "host key verification failed" && has "$ERR" "$FP1"; then
	pass "bastion: the bastion's host key is checked too"
else fail "bastion: host key" "rc=$RC err=$ERR"; fi

run P -H "$KF_NODES_UNUSED_ADDR" -u kfuser -B "$A1" -U kfuser exec true
if [ "$RC" = 255 ] && has "$ERR" "cannot open a tunnel"; then pass "bastion: unreachable target through the bastion"
else fail "bastion: unreachable target" "rc=$RC err=$ERR"; fi

# --- the harness's stand-ins (kubeadm, kubectl, systemctl, ...) on the same nodes ---
set +e
bash "$SRC/tests/nodes/selftest.sh" "$T/nodes" >"$T/selftest" 2>&1
set -e
cat "$T/selftest"
PASSES=$((PASSES + $(grep -c '^ok - ' "$T/selftest" || [ $? = 1 ])))
FAILS=$((FAILS + $(grep -c '^FAIL - ' "$T/selftest" || [ $? = 1 ])))

# --- timing ------------------------------------------------------------------------
run env KF_PROBE_TIMING=1 "$PROBE" -i "$KEY" -k "$KH" -g '' -H "$A1" -u kfuser -c 5 exec true
echo "# timing (kfuser on node1): $(grep -o '[a-z]* [0-9.]* ms' <<<"$ERR" | paste -sd, - | sed 's/,/, /g')"

echo "# $PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
