#!/bin/bash
# bench_predict.sh: 5,000 connections held open at once against
#   (a) kfboot-predict alone,
#   (b) kfboot-predict behind NGINX (manifests/webapp/nginx.conf with the
#       per-address limits lifted: the load generator is one address; plain
#       HTTP so that every target pays the same transport),
#   (c) NGINX serving a static file of the same size as an answer (the
#       ceiling of this machine),
#   (d) a Flask predictor with the same model in numpy under gunicorn (what
#       a course project would write),
# with h2load --h1 (latency under a fixed offered load: every connection is
# a user sending BENCH_RPS requests a second, 0.2 = one every 5 s, so 5,000
# connections offer 1,000 requests/s; the connections open over 5 s so the
# users' clocks are not in step, as real users' are not: started together,
# every client's timer fires in the same millisecond and the server sees
# one burst of 1,000 requests a second instead of a stream) and wrk (closed
# loop: the most each can do).
# Prints throughput and p50/p99 latency, and the ratios the issue aims at:
# p99 < 50 ms at 5,000 connections, >= 10x Flask, within 2x of NGINX static.
# Not a test: run by hand on an otherwise idle machine.
#   BENCH_CONNS=5000 BENCH_SECONDS=20 BENCH_RPS=0.2 tests/bench/bench_predict.sh [build-dir]
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-${KF_BUILD_DIR:-$SRC/build}}
BIN=$BUILD/kfboot-predict
DATA=$SRC/tests/data/predict
CONNS=${BENCH_CONNS:-5000}
SECS=${BENCH_SECONDS:-20}
RPS=${BENCH_RPS:-0.2}
PY=/usr/bin/python3
for t in h2load wrk nginx gunicorn openssl; do
	command -v $t >/dev/null || { echo "bench_predict: $t missing (scripts/setup.sh)"; exit 1; }
done
[ -x "$BIN" ] || { echo "bench_predict: build first ($BIN)"; exit 1; }
ulimit -n "$(ulimit -Hn)"   # as high as allowed (this machine: 20000)
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((CONNS * 3 + 100)) ] || echo "bench_predict: ulimit -n $(ulimit -n) is low for $CONNS connections through NGINX" >&2

T=$(mktemp -d)
chmod 755 "$T"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

ports() { $PY -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])' "$1"; }
wait_port() { for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$1$2" && return 0; sleep 0.05; done; echo "no server on $1"; return 1; }

read -r APP NGX NGXH FLASK < <(ports 4)
BODY='{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[0.9,0.1]}]}'
printf '%s' "$BODY" >"$T/body.json"

# (a) the app: threads = cores
"$BIN" -m "$DATA/xor.json" -l 127.0.0.1 -p "$APP" -q --max-connections 20000 &
PIDS+=($!)
wait_port "$APP" /healthz
curl -s "http://127.0.0.1:$APP/v2/models/xor/infer" -d "$BODY" >"$T/answer.json"

# (b), (c): NGINX from the manifest, limits lifted, plain HTTP, plus a static file
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
	-keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null
mkdir -p "$T/www"
cp "$T/answer.json" "$T/www/static.json"
sh "$DATA/nginx-derive.sh" "$T/nginx" "$NGX" "$NGXH" "127.0.0.1:$APP" "$T/tls.crt" "$T/tls.key" bench \
	<"$SRC/manifests/webapp/nginx.conf" |
	sed -e "s|listen 127.0.0.1:$NGX ssl http2;|listen 127.0.0.1:$NGX backlog=65535;|" \
	    -e "s|^\( *\)location / {|\1location = /static.json { root $T/www; default_type application/json; }\n\1location / {|" \
	    >"$T/nginx.conf"
nginx -p "$T/nginx" -c "$T/nginx.conf" -g 'daemon off;' 2>"$T/nginx.log" &
PIDS+=($!)
wait_port "$NGX" /v2/health/live || { cat "$T/nginx.log"; exit 1; }

# (d) Flask + numpy under gunicorn: 2 x cores + 1 workers, 4 threads each,
# keep-alive on (sync workers close every connection after one answer,
# which h2load cannot use; this is the kinder setting for Flask)
cat >"$T/flask_app.py" <<EOF
import json
import numpy as np
from flask import Flask, jsonify, request

model = json.load(open("$DATA/xor.json"))
layers = [(np.array(l["weights"]), np.array(l["bias"]), l["activation"]) for l in model["layers"]]
act = {"tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
       "relu": lambda v: np.maximum(v, 0), "identity": lambda v: v}
app = Flask(__name__)

@app.post("/v2/models/xor/infer")
def infer():
    inp = request.get_json()["inputs"][0]
    a = np.array(inp["data"], dtype=np.float64).reshape(inp["shape"])
    for w, b, f in layers:
        a = act[f](a @ w.T + b)
    p = a[:, 0]
    return jsonify({"model_name": "xor", "model_version": "1", "outputs": [
        {"name": "probability", "datatype": inp["datatype"], "shape": [len(p), 1], "data": p.tolist()},
        {"name": "class", "datatype": "INT64", "shape": [len(p)], "data": [int(v >= 0.5) for v in p]}]})
EOF
(cd "$T" && exec gunicorn --log-level warning -w $(( $(nproc) * 2 + 1 )) -k gthread --threads 4 --keep-alive 30 -b "127.0.0.1:$FLASK" --backlog 2048 flask_app:app) &
PIDS+=($!)
for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$FLASK/v2/models/xor/infer" -H 'Content-Type: application/json' -d "$BODY" && break; sleep 0.1; done

cat >"$T/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
EOF

declare -A RATE P50 P99 ERR WRK WP50 WP99
run() {
	local key=$1 url=$2 method=$3
	local data=()
	[ "$method" = POST ] && data=(-d "$T/body.json" -H 'Content-Type: application/json')
	local n ramp
	n=$($PY -c "import sys; print(max(1, round(float(sys.argv[1]) * float(sys.argv[2]))))" "$RPS" "$SECS")
	ramp=$(( (CONNS + 49) / 50 ))   # connections opened per 100 ms: all open after 5 s
	echo "-- ($key) $url: h2load --h1, $CONNS connections opened over 5 s, $RPS requests/s each, $n requests each" >&2
	rm -f "$T/h2.log"
	timeout $((SECS * 3 + 60)) h2load --h1 -t "$(nproc)" -c "$CONNS" -n $((CONNS * n)) --rps "$RPS" \
		--rate "$ramp" --rate-period 100ms "${data[@]}" --log-file "$T/h2.log" "$url" >"$T/h2.out" 2>&1 || true
	grep -E '^(finished|requests|status codes|traffic|errors)' "$T/h2.out" >&2 || tail -3 "$T/h2.out" >&2
	read -r "RATE[$key]" "P50[$key]" "P99[$key]" "ERR[$key]" < <($PY - "$T/h2.log" <<'EOF'
import sys
lat, starts, ok, err = [], [], 0, 0
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 3:
        continue
    starts.append(int(f[0]))
    if f[1] == "200":
        ok += 1
        lat.append(int(f[2]) / 1000.0)
    else:
        err += 1
lat.sort()
pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
span = (max(starts) - min(starts)) / 1e6 if len(starts) > 1 else 1.0
print("%.0f %.1f %.1f %d" % (ok / (span or 1.0), pct(0.50), pct(0.99), err))
EOF
)
	# requests that never got an answer (connection refused or reset) are
	# not in the log: add h2load's own count of failed requests
	local failed
	failed=$(awk '/^requests:/ { for (i = 2; i < NF; i++) if ($(i + 1) == "failed,") print $i }' "$T/h2.out")
	ERR[$key]=$(( ${ERR[$key]:-0} + ${failed:-0} ))
	echo "-- ($key) wrk, $CONNS connections, closed loop, ${SECS}s" >&2
	local lua=()
	[ "$method" = POST ] && lua=(-s "$T/post.lua")
	timeout $((SECS * 3 + 60)) wrk -t "$(nproc)" -c "$CONNS" -d "${SECS}s" --timeout 5s --latency "${lua[@]}" "$url" >"$T/wrk.out" 2>&1 || true
	grep -E 'Requests/sec|Socket errors|Non-2xx|  50%|  99%' "$T/wrk.out" >&2 || tail -3 "$T/wrk.out" >&2
	WRK[$key]=$(awk '/Requests\/sec/ {print $2}' "$T/wrk.out")
	WP50[$key]=$(awk '$1 == "50%" {print $2}' "$T/wrk.out")
	WP99[$key]=$(awk '$1 == "99%" {print $2}' "$T/wrk.out")
}

echo "bench_predict: $(nproc) cores, $CONNS connections, answer $(wc -c <"$T/answer.json") bytes, load average $(cut -d' ' -f1-3 /proc/loadavg)"
run a "http://127.0.0.1:$APP/v2/models/xor/infer" POST
run b "http://127.0.0.1:$NGX/v2/models/xor/infer" POST
run c "http://127.0.0.1:$NGX/static.json" GET
run d "http://127.0.0.1:$FLASK/v2/models/xor/infer" POST

echo
printf '%-34s %12s %9s %9s %9s | %12s %9s %9s\n' target "h2load ok/s" p50_ms p99_ms errors "wrk req/s" p50 p99
for k in a b c d; do
	case $k in
	a) name="(a) kfboot-predict";; b) name="(b) NGINX -> kfboot-predict";;
	c) name="(c) NGINX static file";; d) name="(d) Flask + gunicorn";;
	esac
	printf '%-34s %12s %9s %9s %9s | %12s %9s %9s\n' "$name" "${RATE[$k]}" "${P50[$k]}" "${P99[$k]}" "${ERR[$k]}" \
		"${WRK[$k]:-?}" "${WP50[$k]:-?}" "${WP99[$k]:-?}"
done
$PY - "${WRK[a]:-0}" "${WRK[b]:-0}" "${WRK[c]:-0}" "${WRK[d]:-0}" "${P99[a]}" "${P99[b]}" <<'EOF'
import sys
a, b, c, d = (float(x or 0) for x in sys.argv[1:5])
p99a, p99b = float(sys.argv[5]), float(sys.argv[6])
r = lambda x, y: (x / y) if y else float("inf")
print()
print("throughput (wrk): kfboot-predict / Flask = %.1fx (aim >= 10x)" % r(a, d))
print("throughput (wrk): NGINX static / kfboot-predict = %.2fx (aim <= 2x)" % r(c, a))
print("throughput (wrk): NGINX static / NGINX -> kfboot-predict = %.2fx" % r(c, b))
print("p99 at the offered load (h2load): alone %.1f ms, behind NGINX %.1f ms (aim < 50 ms)" % (p99a, p99b))
EOF
