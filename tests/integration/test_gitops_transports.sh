#!/usr/bin/env bash
# test_gitops_transports.sh - the reconciler's git source against real git
# servers on loopback, applying to kubesim:
#   1. git:// (git daemon): a commit is applied;
#   2. https:// (git http-backend behind a TLS CGI server with a localhost
#      certificate from a throwaway CA): token from a file, CA bundle option;
#      no token -> a clear error; no CA -> refused; the token never appears
#      in any output, not even when it is written into the URL;
#   3. ssh:// (a plain sshd on loopback): key file, host key checked against
#      known_hosts: known -> applied; unknown or changed -> refused;
#   4. kustomize: a path holding a kustomization.yaml is rendered with
#      kustomize (or kubectl kustomize) from an export of the commit;
#   5. a remote that goes down while the loop runs: retries with backoff,
#      the error is reported, nothing applied is touched; when it comes back
#      the new commit is applied; SIGTERM ends the loop cleanly.
# Env: KFBOOT, KF_SOURCE_DIR (set by CTest).
# shellcheck disable=SC2154 # tmp, KC, CTL, SIMPID come from tests/kubesim/lib.sh
set -euo pipefail

: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
for t in git kubectl jq curl openssl; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not found"; exit 77; }
done
[[ -x /usr/bin/python3 ]] || { echo "SKIP: /usr/bin/python3 not found"; exit 77; }

# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
export XDG_CACHE_HOME=$tmp/cache
unset SSH_AUTH_SOCK
# sanitizer builds: libgit2's and libssh2's own leaks over ssh are suppressed
export LSAN_OPTIONS="suppressions=$KF_SOURCE_DIR/tests/data/gitops/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
fail() { echo "FAIL: $*" >&2; [[ -n ${KEEP:-} ]] && cp -r "$tmp" /tmp/gt/keep; exit 1; }
step() { echo "--- $*"; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_sim main
kc() { kubectl --kubeconfig "$KC" "$@"; }

W=$tmp/work
SRV=$tmp/srv
git init -q -b main "$W"
mkdir -p "$W/apps" "$W/kust/base" "$W/kust/overlay" "$SRV"
cat >"$W/kfboot.yaml" <<'EOF'
apiVersion: kfboot.io/v1alpha1
kind: Repository
spec:
  environments:
    - name: dev
      namespace: ml-dev
      paths: [apps]
      substitute: { WHO: git }
      prune: true
    - name: kust
      namespace: ml-kust
      paths: [kust/overlay]
      substitute: { SIZE: "3" }
EOF
cat >"$W/apps/all.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: ml-dev
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: who
data:
  who: ${WHO}
  round: "0"
EOF
cat >"$W/kust/base/kustomization.yaml" <<'EOF'
resources: [cm.yaml]
EOF
cat >"$W/kust/base/cm.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: sized
data:
  size: "${SIZE}"
EOF
cat >"$W/kust/overlay/kustomization.yaml" <<'EOF'
resources: [../base]
namePrefix: prod-
commonLabels: { tier: kust }
EOF
commit() {
	git -C "$W" add -A
	git -C "$W" -c user.email=t@example.com -c user.name=test commit -qm "$1"
	git -C "$W" push -q "$SRV/repo.git" main
	git -C "$W" rev-parse HEAD
}
git clone -q --bare "$W" "$SRV/repo.git" 2>/dev/null || true
git -C "$SRV/repo.git" config http.receivepack false
c1=$(commit "first")
rec() { # URL [args]: one pass over dev, status JSON on stdout
	local url=$1
	shift
	"$KFBOOT" reconcile --repo "$url" --env dev --state-dir "$tmp/state" --kubeconfig "$KC" --once -o json "$@"
}
round() { # N: commit a new value of data.round
	sed -i "s/round: \"[0-9]*\"/round: \"$1\"/" "$W/apps/all.yaml"
	commit "round $1"
}
applied_round() { kc get cm who -n ml-dev -o jsonpath='{.data.round}' 2>/dev/null || true; }

step "1. git:// (git daemon)"
GP=$(free_port)
start_daemon() {
	git daemon --reuseaddr --export-all --base-path="$SRV" --listen=127.0.0.1 --port="$GP" \
		--pid-file="$tmp/gitd.pid" "$SRV" >"$tmp/gitd.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do
		git ls-remote "git://127.0.0.1:$GP/repo.git" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "git daemon did not start: $(cat "$tmp/gitd.log")"
}
start_daemon
rec "git://127.0.0.1:$GP/repo.git" >"$tmp/g1.json" || { cat "$tmp/g1.json"; fail "git:// reconcile failed"; }
[[ $(jq -r '.environments[0].appliedCommit' "$tmp/g1.json") == "$c1" ]] || fail "git://: $c1 not applied"
[[ $(kc get cm who -n ml-dev -o jsonpath='{.data.who}') == git ]] || fail "git://: object not applied"

step "2. https:// (git http-backend, TLS with a localhost certificate, token auth)"
bash "$KF_SOURCE_DIR/tests/kubesim/mkcerts.sh" "$tmp/gcerts" >/dev/null
TOKEN="ghp_kfbootTestToken0123456789abcdef"
printf '%s\n' "$TOKEN" >"$tmp/token"
chmod 600 "$tmp/token"
/usr/bin/python3 "$KF_SOURCE_DIR/tests/data/gitops/git_https_server.py" --root "$SRV" \
	--cert "$tmp/gcerts/server.crt" --key "$tmp/gcerts/server.key" --port-file "$tmp/hport" \
	--token "$TOKEN" >"$tmp/https.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -s $tmp/hport ]] && break; sleep 0.1; done
HURL=https://localhost:$(cat "$tmp/hport")/repo.git
c2=$(round 2)
rec "$HURL" --token-file "$tmp/token" --ca-file "$tmp/gcerts/ca.crt" >"$tmp/h1.json" 2>"$tmp/h1.err" ||
	{ cat "$tmp/h1.json" "$tmp/h1.err"; fail "https reconcile failed"; }
[[ $(applied_round) == 2 && $(jq -r '.environments[0].appliedCommit' "$tmp/h1.json") == "$c2" ]] ||
	fail "https: round 2 not applied"
if rec "$HURL" --ca-file "$tmp/gcerts/ca.crt" --state-dir "$tmp/state-h2" >"$tmp/h2.json" 2>"$tmp/h2.err"; then
	fail "https without a token succeeded"
fi
grep -q "credentials" "$tmp/h2.err" || fail "https without a token: unclear error: $(cat "$tmp/h2.err")"
if rec "$HURL" --token-file "$tmp/token" --state-dir "$tmp/state-h3" >"$tmp/h3.json" 2>"$tmp/h3.err"; then
	fail "https with an unknown CA succeeded"
fi
grep -qi "certificate" "$tmp/h3.err" || fail "https with an unknown CA: unclear error: $(cat "$tmp/h3.err")"
# The token written into the URL is hidden too (a 404 makes the error quote the URL).
if rec "https://x:$TOKEN@localhost:$(cat "$tmp/hport")/nope.git" --ca-file "$tmp/gcerts/ca.crt" \
	--state-dir "$tmp/state-h4" >"$tmp/h4.json" 2>"$tmp/h4.err"; then
	fail "https to a missing repository succeeded"
fi
grep -q 'https://x@localhost' "$tmp/h4.err" || fail "URL not shown without its password: $(cat "$tmp/h4.err")"
if grep -l -- "$TOKEN" "$tmp"/h*.json "$tmp"/h*.err; then fail "the token appears in output"; fi

step "3. ssh:// (sshd on loopback, key file, known_hosts strict)"
# sshd wants its privilege separation folder (/run/sshd): root only.
if [[ $(id -u) != 0 || ! -x /usr/sbin/sshd ]]; then
	echo "    (ssh step skipped: needs root and /usr/sbin/sshd)"
	round 4 >/dev/null
else
	S=$tmp/sshd
	mkdir -p "$S" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$S/host_key"
	ssh-keygen -q -t ed25519 -N '' -f "$S/other_host_key"
	ssh-keygen -q -t ed25519 -N '' -f "$S/user_key"
	cp "$S/user_key.pub" "$S/authorized_keys"
	chmod 600 "$S/host_key" "$S/authorized_keys"
	SP=$(free_port)
	cat >"$S/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SP
HostKey $S/host_key
PidFile $S/pid
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
EOF
	/usr/sbin/sshd -D -f "$S/sshd_config" -E "$S/log" &
	pids+=($!)
	for _ in $(seq 50); do [[ -s $S/pid ]] && break; sleep 0.1; done
	echo "[127.0.0.1]:$SP $(cut -d' ' -f1,2 "$S/host_key.pub")" >"$S/known_hosts"
	echo "[127.0.0.1]:$SP $(cut -d' ' -f1,2 "$S/other_host_key.pub")" >"$S/wrong_known_hosts"
	: >"$S/empty_known_hosts"
	SURL="ssh://$(id -un)@127.0.0.1:$SP$SRV/repo.git"
	c3=$(round 3)
	rec "$SURL" --ssh-key "$S/user_key" --known-hosts "$S/known_hosts" >"$tmp/s1.json" 2>"$tmp/s1.err" ||
		{ cat "$tmp/s1.json" "$tmp/s1.err" "$S/log"; fail "ssh reconcile failed"; }
	[[ $(applied_round) == 3 && $(jq -r '.environments[0].appliedCommit' "$tmp/s1.json") == "$c3" ]] ||
		fail "ssh: round 3 not applied"
	round 4 >/dev/null
	if rec "$SURL" --ssh-key "$S/user_key" --known-hosts "$S/empty_known_hosts" --state-dir "$tmp/state-s2" \
		>"$tmp/s2.json" 2>"$tmp/s2.err"; then fail "ssh with an unknown host key succeeded"; fi
	grep -q "unknown host key" "$tmp/s2.err" || fail "unknown host key: unclear error: $(cat "$tmp/s2.err")"
	if rec "$SURL" --ssh-key "$S/user_key" --known-hosts "$S/wrong_known_hosts" --state-dir "$tmp/state-s3" \
		>"$tmp/s3.json" 2>"$tmp/s3.err"; then fail "ssh with a changed host key succeeded"; fi
	grep -q "CHANGED" "$tmp/s3.err" || fail "changed host key: unclear error: $(cat "$tmp/s3.err")"
	[[ $(applied_round) == 3 ]] || fail "a refused host key still applied something"
fi

step "4. kustomize (kustomize build, or kubectl kustomize)"
"$KFBOOT" render --repo "git://127.0.0.1:$GP/repo.git" --env kust --state-dir "$tmp/state" >"$tmp/k.yaml" 2>"$tmp/k.err" ||
	{ cat "$tmp/k.err"; fail "render of a kustomization failed"; }
grep -q 'name: prod-sized' "$tmp/k.yaml" || fail "kustomize namePrefix missing: $(cat "$tmp/k.yaml")"
grep -q 'size: 3' "$tmp/k.yaml" || fail "substitution after kustomize missing"
grep -q 'namespace: ml-kust' "$tmp/k.yaml" || fail "namespace not defaulted after kustomize"
grep -q 'tier: kust' "$tmp/k.yaml" || fail "commonLabels missing"

step "5. the remote goes down while the loop runs, then comes back"
"$KFBOOT" reconcile --repo "git://127.0.0.1:$GP/repo.git" --env dev --state-dir "$tmp/state" \
	--kubeconfig "$KC" --interval 1s >"$tmp/loop.out" 2>"$tmp/loop.err" &
LOOP=$!
pids+=("$LOOP")
for _ in $(seq 100); do [[ $(applied_round) == 4 ]] && break; sleep 0.1; done
[[ $(applied_round) == 4 ]] || fail "loop: round 4 not applied: $(cat "$tmp/loop.err")"
kill "$(cat "$tmp/gitd.pid")"
sleep 0.5
round 5 >/dev/null
sleep 3
grep -q "retrying in" "$tmp/loop.err" || fail "loop: no retry reported: $(cat "$tmp/loop.err")"
[[ $(applied_round) == 4 ]] || fail "loop: something changed while the remote was down"
kill -0 "$LOOP" || fail "loop died when the remote went down"
start_daemon
for _ in $(seq 300); do [[ $(applied_round) == 5 ]] && break; sleep 0.1; done
[[ $(applied_round) == 5 ]] || fail "loop: round 5 not applied after the remote came back: $(tail -5 "$tmp/loop.err")"
t0=$(date +%s%N)
kill -TERM "$LOOP"
rc=0
wait "$LOOP" || rc=$?
t1=$(date +%s%N)
[[ $rc == 0 ]] || fail "loop exited $rc on SIGTERM"
(((t1 - t0) / 1000000 < 3000)) || fail "loop took $(((t1 - t0) / 1000000)) ms to stop"
echo "PASS"
