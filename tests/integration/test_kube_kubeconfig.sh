#!/usr/bin/env bash
# shellcheck disable=SC2154 # PORT_<name> are set by start_fake (printf -v)
# test_kube_kubeconfig.sh - kubeconfig fields the client must honour or
# refuse (issue 9 items 4 and 5): SSL_CERT_FILE, impersonation, a numeric
# token, proxy-url, tls-server-name, exec credential plugins, credentials and
# query strings in URLs, insecure-skip-tls-verify with a CA; against
# kube_fake_server.py, which records the headers and proxy requests it saw.
set -euo pipefail
# shellcheck source=tests/integration/kube-client-lib.sh
. "$KF_SOURCE_DIR/tests/integration/kube-client-lib.sh"

mkca goodca
mkca evilca
mkcert evil evilca server
mkcert good goodca server
cm_yaml
TOKEN=kf-test-token-5f2c9a7e1d
start_fake evil evil normal
start_fake good good normal
EVIL=https://127.0.0.1:$PORT_evil
GOOD=https://127.0.0.1:$PORT_good
kubeconfig "$tmp/kc-noca" "$EVIL" -- "token: $TOKEN"

# SSL_CERT_FILE replaces the system store when the kubeconfig has no CA (as for kubectl).
kubeconfig "$tmp/kc-noca-good" "$GOOD" -- "token: $TOKEN"
SSL_CERT_FILE=$tmp/goodca.crt "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-noca-good" -q >"$tmp/out" 2>&1 ||
	fail "SSL_CERT_FILE was not honoured: $(cat "$tmp/out")"
: >"$tmp/evil.log"
SSL_CERT_FILE=$tmp/goodca.crt "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-noca" -q >"$tmp/out" 2>&1 &&
	fail "SSL_CERT_FILE: a server outside it was trusted"
[[ ! -s $tmp/evil.log ]] || fail "requests reached a server outside SSL_CERT_FILE"
pass "SSL_CERT_FILE replaces the system store"

CA="certificate-authority-data: $(b64 "$tmp/goodca.crt")"

# ---- 4. kubeconfig fields -------------------------------------------------
: >"$tmp/good.log"
kubeconfig "$tmp/kc-as" "$GOOD" "$CA" -- "token: $TOKEN" "as: jane" "as-uid: \"42\"" "as-groups: [dev, ops]" \
	"as-user-extra: {scopes: [view]}"
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-as" -q >"$tmp/out" 2>&1 || fail "impersonation: $(cat "$tmp/out")"
for h in "Impersonate-User: jane" "Impersonate-Uid: 42" "Impersonate-Group: dev" "Impersonate-Group: ops" "Impersonate-Extra-scopes: view"; do
	jq -s -e --arg h "$h" 'map(select(.path == "/api")) | length > 0 and all(any(.impersonate[]; . == $h))' "$tmp/good.log" >/dev/null ||
		fail "impersonation: '$h' not sent: $(head -1 "$tmp/good.log")"
done
pass "as, as-uid, as-groups, as-user-extra become Impersonate-* headers"

kubeconfig "$tmp/kc-asg" "$GOOD" "$CA" -- "token: $TOKEN" "as-groups: [dev]"
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-asg" >"$tmp/out" 2>&1 && fail "as-groups without as was accepted"
grep -q "kc-asg:[0-9]*:[0-9]*: .*as-groups" "$tmp/out" || fail "as-groups without as: $(cat "$tmp/out")"
pass "as-groups without as is refused with file:line:col"

# A token YAML reads as a number: refused (kubectl: cannot unmarshal number into string).
kubeconfig "$tmp/kc-num" "$GOOD" "$CA" -- "token: 123456789"
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-num" >"$tmp/out" 2>&1 && fail "a numeric token was silently accepted"
grep -q "kc-num:[0-9]*:[0-9]*: 'token' of user 'u' must be a string, not a number (quote it)" "$tmp/out" ||
	fail "numeric token: $(cat "$tmp/out")"
pass "a token YAML reads as a number is refused with file:line:col"

# proxy-url: the connection goes through the proxy (CONNECT), with its credentials.
start_fake proxy "" normal --proxy
kubeconfig "$tmp/kc-proxy" "$GOOD" "$CA" "proxy-url: http://puser:proxy-pw-77@127.0.0.1:$PORT_proxy" -- "token: $TOKEN"
NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-proxy" -q >"$tmp/out" 2>&1 ||
	fail "proxy-url: $(cat "$tmp/out")"
grep -q "\"proxy\": \"CONNECT 127.0.0.1:$PORT_good" "$tmp/proxy.log" || fail "proxy-url: nothing went through the proxy"
grep -q '"auth": true' "$tmp/proxy.log" || fail "proxy-url: no Proxy-Authorization"
pass "proxy-url is used (CONNECT through it, with its credentials)"
kill "${fpids[-1]}"; wait "${fpids[-1]}" 2>/dev/null || true
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-proxy" --timeout 5s >"$tmp/out" 2>&1 && fail "a dead proxy worked?"
grep -q "proxy-pw-77" "$tmp/out" && fail "the proxy password was printed: $(cat "$tmp/out")"
pass "a dead proxy: error without the proxy password"

# tls-server-name: verified for that name, connected to the server address.
kubeconfig "$tmp/kc-sni" "$GOOD" "$CA" "tls-server-name: localhost" -- "token: $TOKEN"
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-sni" -q >"$tmp/out" 2>&1 || fail "tls-server-name: $(cat "$tmp/out")"
kubeconfig "$tmp/kc-sni-bad" "$GOOD" "$CA" "tls-server-name: wrong.example" -- "token: $TOKEN"
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-sni-bad" >"$tmp/out" 2>&1 && fail "tls-server-name: wrong name accepted"
pass "tls-server-name"

# Exec credential plugin (client.authentication.k8s.io/v1).
cat >"$tmp/plugin.sh" <<PLUG
#!/bin/sh
echo run >>"$tmp/plugin.runs"
printf '%s\n' "\$KUBERNETES_EXEC_INFO" >"$tmp/plugin.info"
printf '%s\n' "\$PLUGIN_SETTING" >"$tmp/plugin.env"
exp=\$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token-3b9f8c21","expirationTimestamp":"%s"}}\n' "\$exp"
PLUG
chmod +x "$tmp/plugin.sh"
: >"$tmp/good.log"
kubeconfig "$tmp/kc-exec" "$GOOD" "$CA" -- "exec:" "  apiVersion: client.authentication.k8s.io/v1" "  command: ./plugin.sh" \
	"  interactiveMode: Never" "  provideClusterInfo: true" "  env: [{name: PLUGIN_SETTING, value: from-kubeconfig}]"
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-exec" -o json >"$tmp/out" 2>"$tmp/err" </dev/null ||
	fail "exec plugin: $(cat "$tmp/err")"
grep -q '"auth": true' "$tmp/good.log" || fail "exec plugin: no token reached the server"
[[ $(wc -l <"$tmp/plugin.runs") == 1 ]] || fail "exec plugin: ran $(wc -l <"$tmp/plugin.runs") times; the credential should be cached until it expires"
jq -e '.kind == "ExecCredential" and .apiVersion == "client.authentication.k8s.io/v1" and .spec.interactive == false and (.spec.cluster.server | startswith("https://127.0.0.1"))' \
	"$tmp/plugin.info" >/dev/null || fail "exec plugin: KUBERNETES_EXEC_INFO: $(cat "$tmp/plugin.info")"
[[ $(cat "$tmp/plugin.env") == from-kubeconfig ]] || fail "exec plugin: env not passed"
grep -q exec-token-3b9f8c21 "$tmp/out" "$tmp/err" && fail "exec plugin: the token was printed"
pass "exec plugin: run once with KUBERNETES_EXEC_INFO and env, token used and cached"

# A 401 for the plugin's token: the plugin is asked again (once), as client-go does.
start_fake rot good normal --accept-token fresh-token-91c0d2e4
cat >"$tmp/plugin-rot.sh" <<PLUG
#!/bin/sh
echo run >>"$tmp/rot.runs"
if [ "\$(wc -l <"$tmp/rot.runs")" -gt 1 ]; then t=fresh-token-91c0d2e4; else t=revoked-token-0a7e33; fi
printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s"}}\n' "\$t"
PLUG
chmod +x "$tmp/plugin-rot.sh"
kubeconfig "$tmp/kc-rot" "https://127.0.0.1:$PORT_rot" "$CA" -- "exec:" "  apiVersion: client.authentication.k8s.io/v1beta1" \
	"  command: $tmp/plugin-rot.sh"
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-rot" -q >"$tmp/out" 2>&1 </dev/null ||
	fail "exec plugin after a 401: $(cat "$tmp/out")"
[[ $(wc -l <"$tmp/rot.runs") == 2 ]] || fail "exec plugin after a 401: ran $(wc -l <"$tmp/rot.runs") times, expected 2"
pass "a 401 for the plugin's credential runs the plugin again once"

printf '#!/bin/sh\necho "no credentials, log in first" >&2\nexit 3\n' >"$tmp/plugin-bad.sh"
chmod +x "$tmp/plugin-bad.sh"
kubeconfig "$tmp/kc-exec-bad" "$GOOD" "$CA" -- "exec:" "  apiVersion: client.authentication.k8s.io/v1" \
	"  command: $tmp/plugin-bad.sh" "  interactiveMode: Never" "  installHint: install the frobnicator"
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-exec-bad" >"$tmp/out" 2>&1 </dev/null && fail "a failing exec plugin was accepted"
grep -q "of user 'u' (.*kc-exec-bad:[0-9]*:[0-9]*): exited with status 3" "$tmp/out" || fail "failing exec plugin: $(cat "$tmp/out")"
grep -q "log in first" "$tmp/out" || fail "the plugin's stderr should pass through"
pass "a failing exec plugin: error names the user entry, its place and why"

# ---- 5. URLs ----------------------------------------------------------------
kubeconfig "$tmp/kc-ui" "https://admin:hunter2-secret@127.0.0.1:1" "$CA" -- "token: $TOKEN"
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-ui" -v >"$tmp/out" 2>&1 && fail "userinfo in server accepted"
grep -q "hunter2-secret" "$tmp/out" && fail "the password in the server URL was printed: $(cat "$tmp/out")"
grep -q "kc-ui:[0-9]*:[0-9]*: server of cluster 'c' has credentials in its URL" "$tmp/out" || fail "userinfo: $(cat "$tmp/out")"
pass "credentials in a server URL are refused and never echoed"

: >"$tmp/good.log"
kubeconfig "$tmp/kc-q" "$GOOD/?watch=1#frag" "$CA" -- "token: $TOKEN"
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-q" -q >"$tmp/out" 2>&1 || fail "server URL with query and fragment: $(cat "$tmp/out")"
jq -s -e 'any(.[]; .path == "/api")' "$tmp/good.log" >/dev/null || fail "query/fragment: requests went to the wrong paths: $(cut -c1-200 "$tmp/good.log")"
grep -q 'watch=1\|frag' "$tmp/good.log" && fail "the server URL's query leaked into requests"
pass "a query string and fragment in the server URL do not corrupt request paths"

kubeconfig "$tmp/kc-insec" "$GOOD" "$CA" "insecure-skip-tls-verify: true" -- "token: $TOKEN"
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-insec" >"$tmp/out" 2>&1 && fail "insecure-skip-tls-verify with a CA was accepted"
grep -q "kc-insec:[0-9]*:[0-9]*: .*insecure-skip-tls-verify together with a certificate authority" "$tmp/out" || fail "insecure+CA: $(cat "$tmp/out")"
pass "insecure-skip-tls-verify with a CA is refused (as kubectl does)"
echo "PASS"
