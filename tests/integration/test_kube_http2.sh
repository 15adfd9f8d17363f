#!/usr/bin/env bash
# test_kube_http2.sh - kfboot's Kubernetes client multiplexes over ONE HTTP/2
# connection (TLS + ALPN, client certificate) with a bounded number of
# streams in flight. The server is a small Node.js http2 server
# (tests/data/kube/h2server.js) that counts sessions and concurrent streams;
# kubesim speaks HTTP/1.1 only. Skipped when node is not installed.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
command -v node >/dev/null || { echo "SKIP: node not installed"; exit 77; }
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

bash "$KF_SOURCE_DIR/tests/kubesim/mkcerts.sh" "$tmp/certs" >/dev/null 2>&1
node "$KF_SOURCE_DIR/tests/data/kube/h2server.js" "$tmp/certs" "$tmp/port" "$tmp/stats.json" &
pid=$!
for _ in $(seq 50); do [[ -s $tmp/port ]] && break; sleep 0.1; done
[[ -s $tmp/port ]] || fail "h2 server did not start"
b64() { base64 -w0 "$1"; }
cat >"$tmp/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: h2
  cluster:
    server: https://127.0.0.1:$(cat "$tmp/port")
    certificate-authority-data: $(b64 "$tmp/certs/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$tmp/certs/client.crt")
    client-key-data: $(b64 "$tmp/certs/client.key")
contexts:
- name: h2
  context: {cluster: h2, user: admin}
current-context: h2
KC
for i in $(seq 1 200); do
	printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm%d, namespace: default}\ndata: {a: "%d"}\n' "$i" "$i"
done >"$tmp/cms.yaml"
"$KFBOOT" apply -f "$tmp/cms.yaml" --kubeconfig "$tmp/kubeconfig" -q -o json >"$tmp/out.json" || fail "apply failed"
jq -e '.applied == 200 and .requests.http2 == true' "$tmp/out.json" >/dev/null || fail "unexpected result: $(cat "$tmp/out.json")"
sessions=$(jq .sessions "$tmp/stats.json")
maxin=$(jq .maxInflight "$tmp/stats.json")
[[ $sessions == 1 ]] || fail "expected 1 connection, server saw $sessions"
[[ $maxin -gt 8 && $maxin -le 64 ]] || fail "expected between 9 and 64 streams in flight, saw $maxin"
echo "PASS: 1 connection, up to $maxin streams in flight"
