#!/bin/bash
# test_predict.sh: kfboot-predict on loopback, for real.
#  - V2 (FP64, FP32) and V1 answers equal an independent numpy evaluation of
#    the same weights, for the hand-picked XOR net, a 2-8-1 net (the XOR
#    trainer's shape) and a 3-input 4-layer net with every activation;
#  - every bad request (malformed JSON, wrong shape or datatype, NaN, too
#    many rows, unknown model, body over the cap, unknown path or method)
#    gets its 4xx with {"error": ...} and the server keeps serving;
#  - /metrics passes promtool and holds the families we expect;
#  - --upstream forwards to another kfboot-predict (same answers), and says
#    502 when the upstream is down and 504 when it does not answer in time;
#  - a bad model file is refused at start with its path in the message.
set -euo pipefail

BIN=${KF_BUILD_DIR:?}/kfboot-predict
SRC=${KF_SOURCE_DIR:?}
DATA=$SRC/tests/data/predict
PY=/usr/bin/python3
[ -x "$BIN" ] || { echo "SKIP: $BIN not built"; exit 77; }
$PY -c 'import numpy' 2>/dev/null || { echo "SKIP: /usr/bin/python3 has no numpy (apt-get install python3-numpy)"; exit 77; }
command -v promtool >/dev/null || { echo "SKIP: promtool missing (apt-get install prometheus)"; exit 77; }

T=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

# start NAME ARGS...: run kfboot-predict on an ephemeral port; sets PORT
start() {
	local name=$1; shift
	"$BIN" -l 127.0.0.1 -p 0 --port-file "$T/$name.port" "$@" 2>"$T/$name.log" &
	PIDS+=($!)
	LASTPID=$!
	for _ in $(seq 100); do
		[ -s "$T/$name.port" ] && break
		kill -0 "$LASTPID" 2>/dev/null || { cat "$T/$name.log"; echo "FAIL: $name did not start"; exit 1; }
		sleep 0.05
	done
	PORT=$(cat "$T/$name.port")
}

echo "== answers match numpy"
for m in xor xor8 deep3; do
	start "$m" -m "$DATA/$m.json"
	$PY "$DATA/check_predict.py" answers "http://127.0.0.1:$PORT" "$DATA/$m.json"
done

echo "== bad requests get a 4xx and the server keeps serving"
start bad -m "$DATA/xor.json" --max-body 65536 --max-rows 4096
BADPID=$LASTPID
$PY "$DATA/check_predict.py" bad "http://127.0.0.1:$PORT" xor 65536
kill -0 "$BADPID" || { echo "FAIL: the server died"; exit 1; }

echo "== /metrics passes promtool"
curl -fsS "http://127.0.0.1:$PORT/metrics" >"$T/metrics.txt"
promtool check metrics <"$T/metrics.txt"
for fam in kfboot_predict_http_requests_total kfboot_predict_http_request_duration_seconds \
	kfboot_predict_http_requests_in_flight kfboot_predict_rows_total kfboot_predict_model_info; do
	grep -q "^# TYPE $fam " "$T/metrics.txt" || { echo "FAIL: /metrics lacks $fam"; exit 1; }
done
grep -q '^kfboot_predict_http_requests_total{route="v2_infer",method="POST",code="400"} [1-9]' "$T/metrics.txt" ||
	{ echo "FAIL: 400s not counted"; exit 1; }
grep -q '^kfboot_predict_http_requests_total{route="v2_infer",method="POST",code="413"} [1-9]' "$T/metrics.txt" ||
	{ echo "FAIL: 413s not counted"; exit 1; }
grep -q '^kfboot_predict_http_requests_total{route="unmatched",method="other",code="405"} [1-9]' "$T/metrics.txt" ||
	{ echo "FAIL: unknown methods not counted under a bounded label"; exit 1; }
echo "promtool: ok; $(grep -c '^kfboot_predict' "$T/metrics.txt") samples"

echo "== --upstream forwards over keep-alive connections"
start origin -m "$DATA/xor8.json"
ORIGIN=$PORT
ORIGINPID=$LASTPID
start front -m "$DATA/xor8.json" --upstream "http://127.0.0.1:$ORIGIN" --upstream-timeout 1
FRONT=$PORT
$PY "$DATA/check_predict.py" answers "http://127.0.0.1:$FRONT" "$DATA/xor8.json"
rows_origin=$(curl -fsS "http://127.0.0.1:$ORIGIN/metrics" | awk '/^kfboot_predict_rows_total\{api="v2"\}/ {print $2}')
[ "${rows_origin:-0}" -ge 600 ] || { echo "FAIL: the origin saw $rows_origin rows, the front did not forward"; exit 1; }
echo "origin predicted $rows_origin rows for the front"
# a bad request is refused by the front without bothering the origin
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$FRONT/v2/models/xor8/infer" -d '{"inputs":[]}')
[ "$code" = 400 ] || { echo "FAIL: front answered $code to a bad request"; exit 1; }

# upstream down: 502
kill "$ORIGINPID"; wait "$ORIGINPID" 2>/dev/null || true
code=$(curl -s -o "$T/502.json" -w '%{http_code}' "http://127.0.0.1:$FRONT/v1/models/xor8:predict" -d '{"instances":[[0,1]]}')
if [ "$code" != 502 ] || ! grep -q '"error"' "$T/502.json"; then
	echo "FAIL: upstream down gave $code"; cat "$T/502.json"; exit 1
fi
echo "upstream down -> 502 $(cat "$T/502.json")"

# upstream that accepts but never answers: 504 after --upstream-timeout
$PY - "$T/hang.port" <<'EOF' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
EOF
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/hang.port" ] && break; sleep 0.05; done
start front2 -m "$DATA/xor8.json" --upstream "http://127.0.0.1:$(cat "$T/hang.port")" --upstream-timeout 1
t0=$(date +%s.%N)
code=$(curl -s -o "$T/504.json" -w '%{http_code}' "http://127.0.0.1:$PORT/v2/models/xor8/infer" \
	-d '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[0,1]}]}')
t1=$(date +%s.%N)
[ "$code" = 504 ] || { echo "FAIL: hanging upstream gave $code"; exit 1; }
awk -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; if (d < 0.9 || d > 3) { print "FAIL: 504 after " d " s"; exit 1 } print "hanging upstream -> 504 after " d " s" }'
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null

echo "== bad model files are refused with their path"
printf '{"format": "kfboot.io/mlp-v1", "name": "x", "inputs": 2, "layers": [{"units": 1, "activation": "sigmoid", "weights": [[1]], "bias": [0]}]}' >"$T/bad.json"
if "$BIN" -m "$T/bad.json" -p 0 2>"$T/badmodel.log"; then echo "FAIL: bad model accepted"; exit 1; fi
grep -q "$T/bad.json: layers\[0\].weights\[0\]: has 1 values, expected 2" "$T/badmodel.log" ||
	{ echo "FAIL: message: $(cat "$T/badmodel.log")"; exit 1; }
cat "$T/badmodel.log"
if "$BIN" -m "$DATA/xor.json" --port nope 2>/dev/null; then echo "FAIL: bad --port accepted"; exit 1; fi

echo "PASS"
