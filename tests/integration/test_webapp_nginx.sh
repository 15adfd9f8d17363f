#!/bin/bash
# test_webapp_nginx.sh: the web app behind the real NGINX, with TLS, using
# manifests/webapp/nginx.conf (only ports and paths rewritten, by
# tests/data/predict/nginx-derive.sh). Checks:
#  - V2 and V1 answers through NGINX; security headers; server_tokens off;
#  - a 1 MiB body gets 413; unknown paths (/metrics, /healthz too) get 404
#    and wrong methods 405; plain HTTP on the TLS port 400, the HTTP port
#    redirects; TLS 1.1 is refused, TLS 1.2 and 1.3 work;
#  - one address over the rate limit gets 429 while 127.0.0.2 is served;
#  - 1,000 slow clients trickling headers are cut off by the header timeout
#    while normal requests keep succeeding;
#  - the page, loaded in headless Chromium over TLS through NGINX, shows the
#    prediction for a point given in its URL (screenshot kept when
#    KF_WEBAPP_SCREENSHOT names a file).
set -euo pipefail

BIN=${KF_BUILD_DIR:?}/kfboot-predict
SRC=${KF_SOURCE_DIR:?}
DATA=$SRC/tests/data/predict
PY=/usr/bin/python3
[ -x "$BIN" ] || { echo "SKIP: $BIN not built"; exit 77; }
for t in nginx openssl curl; do
	command -v $t >/dev/null || { echo "SKIP: $t missing (apt-get install nginx openssl curl)"; exit 77; }
done
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || { echo "SKIP: chromium missing (apt-get install chromium fonts-dejavu-core)"; exit 77; }
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"

T=$(mktemp -d)
chmod 755 "$T"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# ---- certificates: a throwaway CA and a server certificate for localhost
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=kfboot test CA" -keyout "$T/ca.key" -out "$T/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
	-keyout "$T/tls.key" -out "$T/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$T/ext"
openssl x509 -req -in "$T/tls.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
	-days 2 -extfile "$T/ext" -out "$T/tls.crt" 2>/dev/null

# ---- the app
"$BIN" -m "$DATA/xor.json" -l 127.0.0.1 -p 0 --port-file "$T/app.port" -q &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/app.port" ] && break; sleep 0.05; done
APP=$(cat "$T/app.port")

# ---- NGINX with the manifest's config
read -r HTTPS HTTP < <($PY -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
sh "$DATA/nginx-derive.sh" "$T/nginx" "$HTTPS" "$HTTP" "127.0.0.1:$APP" "$T/tls.crt" "$T/tls.key" \
	<"$SRC/manifests/webapp/nginx.conf" >"$T/nginx.conf"
nginx -t -p "$T/nginx" -c "$T/nginx.conf" -g 'daemon off;' 2>"$T/nginx-t.log" || { cat "$T/nginx-t.log"; fail "nginx -t"; }
nginx -p "$T/nginx" -c "$T/nginx.conf" -g 'daemon off;' 2>"$T/nginx.log" &
PIDS+=($!)
for _ in $(seq 100); do curl -s -o /dev/null --cacert "$T/ca.crt" "https://localhost:$HTTPS/v2/health/live" && break; sleep 0.05; done
U="https://localhost:$HTTPS"
C=(curl -s --cacert "$T/ca.crt" --max-time 10)

# status METHOD PATH [curl args...]: print the status code
status() { local m=$1 p=$2; shift 2; "${C[@]}" -o "$T/body" -w '%{http_code}' -X "$m" "$U$p" "$@"; }
expect() {
	local want=$1; shift
	local got
	got=$(status "$@")
	[ "$got" = "$want" ] || fail "$1 $2: got $got, want $want: $(head -c 200 "$T/body")"
	printf '%-7s %-34s -> %s %s\n' "$1" "$2" "$got" "$(head -c 80 "$T/body" | tr "\n" " ")"
}

echo "== answers and headers through NGINX over TLS"
expect 200 POST /v2/models/xor/infer -H 'Content-Type: application/json' \
	-d '{"inputs":[{"name":"x","datatype":"FP32","shape":[2,2],"data":[0.9,0.1,0.9,0.9]}]}'
grep -q '"name":"class","datatype":"INT64","shape":\[2\],"data":\[1,0\]' "$T/body" || fail "V2 answer: $(cat "$T/body")"
expect 200 POST /v1/models/xor:predict -d '{"instances":[[0,1],[1,1]]}'
grep -q '"classes":\["1","0"\]' "$T/body" || fail "V1 answer: $(cat "$T/body")"
expect 200 GET /v2/models/xor/ready
expect 200 GET /
"${C[@]}" -D "$T/headers" -o /dev/null "$U/"
tr -d '\r' <"$T/headers" >"$T/h"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self';.*frame-ancestors 'none'" "$T/h" || fail "CSP: $(cat "$T/h")"
grep -qi "unsafe-inline\|unsafe-eval" "$T/h" && fail "CSP has an inline-script hole"
[ "$(grep -ci '^content-security-policy:' "$T/h")" = 1 ] || fail "more than one CSP header"
grep -qi '^x-content-type-options: nosniff$' "$T/h" || fail "nosniff missing"
grep -qi '^strict-transport-security: max-age=' "$T/h" || fail "HSTS missing"
grep -qi '^server: nginx$' "$T/h" || fail "server_tokens: $(grep -i '^server:' "$T/h")"
echo "headers: CSP without inline script, nosniff, HSTS, frame-ancestors 'none', 'Server: nginx' without version"

echo "== bodies, paths and methods"
head -c 1048576 /dev/zero | tr '\0' '1' >"$T/1mib"
expect 413 POST /v2/models/xor/infer -H 'Content-Type: application/json' --data-binary @"$T/1mib"
grep -q '"error"' "$T/body" || fail "413 without a JSON error"
for p in /metrics /healthz /nope /v2/models/xor/explain /v1/models/xor:explain /app.js.map /.env /v2/models/../metrics; do
	expect 404 GET "$p" --path-as-is
done
expect 405 DELETE /
expect 405 PUT /v2/models/xor/infer -d x
expect 405 GET /v2/models/xor/infer
expect 405 POST /v2/models/xor/ready -d x
expect 405 POST / -d x
got=$(status TRACE /)
[ "${got:0:1}" = 4 ] || fail "TRACE / got $got"
echo "TRACE   /                                  -> $got"
got=$(curl -s -o /dev/null -w '%{http_code}' "http://localhost:$HTTPS/")
[ "$got" = 400 ] || fail "plain HTTP on the TLS port: $got"
echo "plain HTTP on the TLS port -> 400"
got=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://localhost:$HTTP/v2/health/live")
[ "$got" = "301 https://localhost/v2/health/live" ] || fail "HTTP port: $got"
echo "HTTP port -> $got"

echo "== TLS versions"
for v in tls1_1 tls1; do
	if echo | openssl s_client -connect "127.0.0.1:$HTTPS" -servername localhost -"$v" -cipher 'DEFAULT:@SECLEVEL=0' >"$T/s" 2>&1; then
		fail "$v accepted: $(grep -i protocol "$T/s")"
	fi
	grep -qi 'protocol version\|unsupported protocol\|no protocols available\|wrong version' "$T/s" || fail "$v: $(tail -3 "$T/s")"
	echo "$v refused: $(grep -oi 'alert protocol version\|unsupported protocol\|no protocols available\|wrong version number' "$T/s" | head -1)"
done
for v in tls1_2 tls1_3; do
	echo | openssl s_client -connect "127.0.0.1:$HTTPS" -servername localhost -"$v" -CAfile "$T/ca.crt" -verify_return_error >"$T/s" 2>&1 ||
		fail "$v refused: $(tail -3 "$T/s")"
	echo "$v: $(grep -m1 -o 'Cipher is [A-Z0-9_-]*' "$T/s")"
done

echo "== chromium renders a prediction through NGINX over TLS"
SPKI=$(openssl x509 -in "$T/tls.crt" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
CHROME=("$CHROMIUM" --headless=new --no-sandbox --disable-gpu --no-first-run --user-data-dir="$T/chrome"
	--ignore-certificate-errors-spki-list="$SPKI" --virtual-time-budget=15000)
timeout 90 "${CHROME[@]}" --dump-dom "$U/?x=0.9,0.1" >"$T/dom.html" 2>"$T/chrome.log" || true
grep -o '<p id="result"[^>]*>[^<]*' "$T/dom.html" || { tail -5 "$T/chrome.log"; fail "no result in the page"; }
grep -q 'data-class="1".*>Class 1 with probability 0\.99[0-9]* (x = 0.9, 0.1)' "$T/dom.html" || fail "the page does not show class 1 for (0.9, 0.1)"
timeout 90 "${CHROME[@]}" --dump-dom "$U/?x=0.1,0.2" >"$T/dom2.html" 2>>"$T/chrome.log" || true
grep -q 'data-class="0".*>Class 0 with probability 0\.9' "$T/dom2.html" || fail "the page does not show class 0 for (0.1, 0.2): $(grep -o '<p id="result"[^>]*>[^<]*' "$T/dom2.html")"
echo "page shows: $(grep -o '>Class [^<]*' "$T/dom2.html")"
# the page asked the API through NGINX: the app counted the page, its assets and the grid
grep -q 'id="mapbox" class=""' "$T/dom.html" || fail "the decision-region map was not shown"
timeout 90 "${CHROME[@]}" --window-size=480,760 --screenshot="$T/webapp.png" "$U/?x=0.9,0.1" >/dev/null 2>>"$T/chrome.log" || true
[ -s "$T/webapp.png" ] || fail "no screenshot"
if [ -n "${KF_WEBAPP_SCREENSHOT:-}" ]; then cp "$T/webapp.png" "$KF_WEBAPP_SCREENSHOT"; echo "screenshot: $KF_WEBAPP_SCREENSHOT"; fi

echo "== flood: rate limit per address"
$PY "$DATA/check_nginx.py" rate "$HTTPS" "$T/ca.crt"

echo "== slow clients: 1,000 trickling headers"
$PY "$DATA/check_nginx.py" slow "$HTTPS" "$T/ca.crt" 1000 5

echo "== NGINX and the app are still up"
expect 200 GET /v2/health/ready --interface 127.0.0.6
echo "PASS"
