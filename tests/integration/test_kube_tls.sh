#!/usr/bin/env bash
# shellcheck disable=SC2154 # PORT_<name> are set by start_fake (printf -v)
# test_kube_tls.sh - the Kubernetes client trusts exactly the kubeconfig's
# CA (issue 9 item 1), against real TLS servers that record what reached
# them (kube_fake_server.py: whether an Authorization header or a client
# certificate arrived). test_kube_kubeconfig.sh covers the rest of the
# kubeconfig (items 4 and 5) and runs without namespaces.
#
# Item 1, CA trust. The "system store" is simulated without touching the
# machine's: in a private mount namespace (unshare -m) a directory holding
# only an "evil" CA, both as the bundle ca-certificates.crt and under its
# OpenSSL subject hash (<hash>.0), is bind-mounted over /etc/ssl/certs,
# which is libcurl's default CA bundle (CURLOPT_CAINFO) and CA directory
# (CURLOPT_CAPATH) on Debian; the mount disappears with the namespace. A control run with a kubeconfig without a CA shows that this
# store is in effect (the evil server is trusted); a kubeconfig naming the
# "good" CA must then be refused by the evil server's certificate, before
# any token or client certificate is sent. Without the fix libcurl loads
# its default bundle next to the kubeconfig's CA, trusts the evil server
# and sends it the token. Skipped (77) when mount namespaces are not
# available.
set -euo pipefail
# shellcheck source=tests/integration/kube-client-lib.sh
. "$KF_SOURCE_DIR/tests/integration/kube-client-lib.sh"

mkca goodca
mkca evilca
mkcert evil evilca server
mkcert good goodca server
mkcert client goodca client
cm_yaml
TOKEN=kf-test-token-5f2c9a7e1d
mkdir "$tmp/store"
cp "$tmp/evilca.crt" "$tmp/store/ca-certificates.crt"
cp "$tmp/evilca.crt" "$tmp/store/$(openssl x509 -hash -noout -in "$tmp/evilca.crt").0"
in_store() { # run a command with the simulated system store
	unshare -m --propagation private bash -c \
		'mount --bind "$1" /etc/ssl/certs && shift && exec "$@"' _ "$tmp/store" "$@"
}
[[ -d /etc/ssl/certs ]] && unshare -m --propagation private bash -c "mount --bind '$tmp/store' /etc/ssl/certs" 2>/dev/null ||
	{ echo "SKIP: cannot bind-mount in a private mount namespace (needs root/CAP_SYS_ADMIN)"; exit 77; }

start_fake evil evil normal --client-ca "$tmp/goodca.crt"
start_fake good good normal --client-ca "$tmp/goodca.crt"
EVIL=https://127.0.0.1:$PORT_evil
GOOD=https://127.0.0.1:$PORT_good

# ---- 1. CA trust ---------------------------------------------------------
kubeconfig "$tmp/kc-noca" "$EVIL" -- "token: $TOKEN"
in_store "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-noca" -q >"$tmp/out" 2>&1 ||
	fail "control: without a CA in the kubeconfig the simulated system store should be trusted: $(cat "$tmp/out")"
grep -q '"auth": true' "$tmp/evil.log" || fail "control: the server saw no token"
pass "control: the simulated system store is in effect (no CA in kubeconfig: system store trusted)"
: >"$tmp/evil.log"

kubeconfig "$tmp/kc-token" "$EVIL" "certificate-authority-data: $(b64 "$tmp/goodca.crt")" -- "token: $TOKEN"
rc=0
in_store "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-token" >"$tmp/out" 2>&1 || rc=$?
[[ $rc != 0 ]] || fail "a server whose certificate comes from a system-trusted CA, not the kubeconfig's, was accepted"
[[ ! -s $tmp/evil.log ]] || fail "requests reached the impostor: $(cat "$tmp/evil.log")"
grep -q "TLS failed with $EVIL" "$tmp/out" || fail "the error does not say TLS failed with the server: $(cat "$tmp/out")"
grep -q "$TOKEN" "$tmp/out" && fail "the token was printed"
pass "kubeconfig CA given: the system-trusted impostor is refused, no token sent"

kubeconfig "$tmp/kc-cert" "$EVIL" "certificate-authority-data: $(b64 "$tmp/goodca.crt")" -- \
	"client-certificate-data: $(b64 "$tmp/client.crt")" "client-key-data: $(b64 "$tmp/client.key")"
in_store "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-cert" >"$tmp/out" 2>&1 &&
	fail "impostor accepted (client certificate user)"
[[ ! -s $tmp/evil.log ]] || fail "requests reached the impostor: $(cat "$tmp/evil.log")"
pass "kubeconfig CA given: no client certificate reaches the impostor"

kubeconfig "$tmp/kc-good" "$GOOD" "certificate-authority-data: $(b64 "$tmp/goodca.crt")" -- "token: $TOKEN"
in_store "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-good" -q >"$tmp/out" 2>&1 ||
	fail "the server with a certificate from the kubeconfig's CA was refused: $(cat "$tmp/out")"
grep -q '"auth": true' "$tmp/good.log" || fail "the real server got no token"
pass "the kubeconfig's CA is trusted"

echo "PASS"
