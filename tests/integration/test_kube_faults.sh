#!/usr/bin/env bash
# shellcheck disable=SC2154 # PORT_<name> are set by start_fake (printf -v)
# test_kube_faults.sh - the Kubernetes client when the server is missing,
# hung, failing or refusing (issue 9 items 7, 8 and 9), against
# kube_fake_server.py and kubesim. Each check bounds the time a command may
# take; on the code before the fix each one took from 20 s to minutes.
set -euo pipefail
# shellcheck source=tests/integration/kube-client-lib.sh
. "$KF_SOURCE_DIR/tests/integration/kube-client-lib.sh"

mkca ca
mkcert srv ca server
cm_yaml
TOKEN=kf-test-token-77aa01bd
CA="certificate-authority-data: $(b64 "$tmp/ca.crt")"

# ---- 7. unreachable or hung server -----------------------------------------
# Connection refused: a port nobody listens on.
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
kubeconfig "$tmp/kc-refused" "https://127.0.0.1:$port" "$CA" -- "token: $TOKEN"
run_timed rc secs "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-refused"
[[ $rc == 1 ]] || fail "refused: exit $rc"
lt "$secs" 3 || fail "refused: took ${secs}s"
grep -q "cannot connect to https://127.0.0.1:$port" "$tmp/out" || fail "refused: message: $(cat "$tmp/out")"
pass "connection refused: exit 1 in ${secs}s naming the address"

# A name that does not resolve (.invalid never does, RFC 6761).
kubeconfig "$tmp/kc-dns" "https://kfboot-test.invalid:6443" "$CA" -- "token: $TOKEN"
run_timed rc secs "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-dns"
[[ $rc == 1 ]] || fail "dns: exit $rc"
lt "$secs" 11 || fail "dns: took ${secs}s"
grep -q "kfboot-test.invalid" "$tmp/out" || fail "dns: message: $(cat "$tmp/out")"
pass "DNS failure: exit 1 in ${secs}s naming the host"

# TLS failure: plain HTTP where TLS is expected.
start_fake plain "" plain
kubeconfig "$tmp/kc-plain" "https://127.0.0.1:$PORT_plain" "$CA" -- "token: $TOKEN"
run_timed rc secs "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-plain"
[[ $rc == 1 ]] || fail "tls: exit $rc"
lt "$secs" 3 || fail "tls: took ${secs}s: $(cat "$tmp/out")"
grep -q "TLS failed with https://127.0.0.1:$PORT_plain" "$tmp/out" || fail "tls: message: $(cat "$tmp/out")"
pass "TLS failure: exit 1 in ${secs}s naming the address"

# A server that accepts and never answers: --timeout is one overall deadline.
start_fake hang srv hang
kubeconfig "$tmp/kc-hang" "https://127.0.0.1:$PORT_hang" "$CA" -- "token: $TOKEN"
for cmd in "apply --dry-run -f $tmp/cm.yaml" "diff -f $tmp/cm.yaml" "delete --inventory x"; do
	# shellcheck disable=SC2086
	run_timed rc secs "$KFBOOT" $cmd --kubeconfig "$tmp/kc-hang" --timeout 2s
	[[ $rc != 0 ]] || fail "hung server ($cmd): exit 0"
	lt "$secs" 4 || fail "hung server ($cmd): --timeout 2s took ${secs}s"
	grep -q "deadline (--timeout) passed" "$tmp/out" || fail "hung server ($cmd): message: $(cat "$tmp/out")"
	pass "hung server, ${cmd%% *} --timeout 2s: ends in ${secs}s saying the deadline passed"
done

# SIGTERM / SIGINT end a command within ~2 s whatever it does: waiting on a
# hung server, or blocked reading manifests from a pipe that never ends.
sigtest() { # sigtest SIG what cmd...
	local sig=$1 what=$2 t0 t1 pid rc=0
	shift 2
	"$@" >"$tmp/out" 2>&1 <"${SIG_STDIN:-/dev/null}" &
	pid=$!
	sleep 1
	if [[ -n ${SIG_MAY_END:-} ]] && ! kill -0 "$pid" 2>/dev/null; then
		# Input checks may refuse it before the signal comes: fine, if so.
		wait "$pid" || rc=$?
		[[ $rc != 0 ]] || fail "$what: exit 0"
		pass "$what: ended by itself within 1 s (exit $rc)"
		return
	fi
	t0=$(date +%s.%N)
	kill -"$sig" "$pid"
	for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	t1=$(date +%s.%N)
	if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fail "$what: still running 6 s after SIG$sig"; fi
	wait "$pid" || rc=$?
	local secs
	secs=$(echo "$t1 - $t0" | bc)
	lt "$secs" 3.5 || fail "$what: SIG$sig took ${secs}s"
	[[ $rc -ge 128 ]] || fail "$what: exit $rc after SIG$sig"
	pass "$what: SIG$sig ended it in ${secs}s (exit $rc)"
}
sigtest TERM "apply against a hung server" "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-hang"
sigtest INT "apply against a hung server" "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-hang"
start_fake ok srv normal
kubeconfig "$tmp/kc-ok" "https://127.0.0.1:$PORT_ok" "$CA" -- "token: $TOKEN"
mkfifo "$tmp/fifo"
exec 7<>"$tmp/fifo" # held open: the reader never sees EOF
SIG_STDIN=$tmp/fifo sigtest TERM "apply -f - blocked reading an endless pipe" "$KFBOOT" apply --dry-run -f - --kubeconfig "$tmp/kc-ok"
exec 7>&-
# A directory whose symlinks loop (two ways each level: the walk is
# exponential): whatever the walk does, SIGTERM ends it.
mkdir -p "$tmp/loop/d"
ln -s "$tmp/loop/d" "$tmp/loop/d/self"
ln -s "$tmp/loop/d" "$tmp/loop/d/again"
SIG_MAY_END=1 sigtest TERM "apply -f DIR over a symlink loop" "$KFBOOT" apply --dry-run -f "$tmp/loop/d" --kubeconfig "$tmp/kc-ok"

# ---- 8. retries only where they help ---------------------------------------
start_fake inv srv invalid500
kubeconfig "$tmp/kc-inv" "https://127.0.0.1:$PORT_inv" "$CA" -- "token: $TOKEN"
run_timed rc secs "$KFBOOT" apply -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-inv"
[[ $rc == 1 ]] || fail "invalid 500: exit $rc"
lt "$secs" 5 || fail "invalid 500: took ${secs}s (retried?)"
patches=$(grep -c '"PATCH"' "$tmp/inv.log" || true)
[[ $patches == 1 ]] || fail "invalid 500: the request was sent $patches times"
grep -q "field not declared in schema" "$tmp/out" || fail "invalid 500: message: $(cat "$tmp/out")"
pass "a 500 saying the request is invalid is not retried (1 PATCH, ${secs}s)"

start_fake ra srv retry-after-date
kubeconfig "$tmp/kc-ra" "https://127.0.0.1:$PORT_ra" "$CA" -- "token: $TOKEN"
"$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-ra" -q >"$tmp/out" 2>&1 || fail "Retry-After date: $(cat "$tmp/out")"
gap=$(jq -s '[.[] | select(.path == "/api")] | .[1].t - .[0].t' "$tmp/ra.log")
lt 1.0 "$gap" || fail "Retry-After as an HTTP date was not honoured: retried after ${gap}s"
pass "503 with Retry-After as an HTTP date: retried after ${gap}s"

start_fake big srv retry-after-big
kubeconfig "$tmp/kc-big" "https://127.0.0.1:$PORT_big" "$CA" -- "token: $TOKEN"
run_timed rc secs "$KFBOOT" apply --dry-run -f "$tmp/cm.yaml" --kubeconfig "$tmp/kc-big" --timeout 3s
[[ $rc == 1 ]] || fail "Retry-After 3600: exit $rc"
lt "$secs" 5 || fail "Retry-After 3600 with --timeout 3s: took ${secs}s"
grep -q "the server asks to retry after 30s" "$tmp/out" || fail "Retry-After cap/deadline message: $(cat "$tmp/out")"
pass "Retry-After: 3600 is capped (30 s) and never waited past --timeout (${secs}s)"

# A 409 for a stale object (resourceVersion) must not suggest --force-conflicts.
mkdir -p "$tmp/sim"
"$PY" "$KF_SOURCE_DIR/tests/kubesim/kubesim.py" --certs "$tmp/sim/certs" --port-file "$tmp/sim/port" \
	--pid-file "$tmp/sim/pid" --kubeconfig-out "$tmp/sim/kubeconfig" >"$tmp/sim/log" 2>&1 &
fpids+=($!)
for _ in $(seq 100); do [[ -s $tmp/sim/kubeconfig && -s $tmp/sim/port ]] && break; sleep 0.1; done
[[ -s $tmp/sim/kubeconfig ]] || { cat "$tmp/sim/log"; fail "kubesim did not start"; }
"$KFBOOT" apply -f "$tmp/cm.yaml" --kubeconfig "$tmp/sim/kubeconfig" -q >"$tmp/out" 2>&1 || fail "kubesim: first apply failed: $(cat "$tmp/out")"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm1, namespace: default, resourceVersion: "1"}\ndata: {a: "2"}\n' >"$tmp/stale.yaml"
"$KFBOOT" apply -f "$tmp/stale.yaml" --kubeconfig "$tmp/sim/kubeconfig" >"$tmp/out" 2>&1 && fail "stale resourceVersion applied"
grep -q "the object has been modified" "$tmp/out" || fail "stale 409: message: $(cat "$tmp/out")"
grep -q -- "--force-conflicts" "$tmp/out" && fail "a stale-object 409 suggests --force-conflicts: $(cat "$tmp/out")"
pass "409 for a stale resourceVersion does not suggest --force-conflicts"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm1, namespace: default}\ndata: {a: "3"}\n' >"$tmp/cm-b.yaml"
# A real field-manager conflict still suggests it: another manager owns data.a.
curl -sf --cacert "$tmp/sim/certs/ca.crt" --cert "$tmp/sim/certs/client.crt" --key "$tmp/sim/certs/client.key" \
	-X PATCH -H 'Content-Type: application/apply-patch+yaml' \
	"https://127.0.0.1:$(cat "$tmp/sim/port")/api/v1/namespaces/default/configmaps/cm1?fieldManager=other&force=true" \
	--data-binary 'apiVersion: v1
kind: ConfigMap
metadata: {name: cm1, namespace: default}
data: {a: "9"}' >/dev/null || fail "kubesim: could not take data.a over with another manager"
"$KFBOOT" apply -f "$tmp/cm-b.yaml" --kubeconfig "$tmp/sim/kubeconfig" >"$tmp/out" 2>&1 && fail "a field-manager conflict was applied"
grep -q -- "--force-conflicts takes them over" "$tmp/out" || fail "field-manager 409: message: $(cat "$tmp/out")"
pass "409 for a field-manager conflict still suggests --force-conflicts"

# ---- 9. a CRD whose names are not accepted fails at once --------------------
start_fake crd srv crd-conflict
kubeconfig "$tmp/kc-crd" "https://127.0.0.1:$PORT_crd" "$CA" -- "token: $TOKEN"
cat >"$tmp/crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: GadgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
YAML
run_timed rc secs "$KFBOOT" apply -f "$tmp/crd.yaml" --kubeconfig "$tmp/kc-crd" --timeout 60s
[[ $rc == 1 ]] || fail "CRD NamesAccepted=False: exit $rc: $(cat "$tmp/out")"
lt "$secs" 10 || fail "CRD NamesAccepted=False: took ${secs}s"
grep -q 'CRD widgets.example.com (.*crd.yaml:1:1): NamesAccepted=False: ListKindConflict: "GadgetList" is already in use' "$tmp/out" ||
	fail "CRD message: $(cat "$tmp/out")"
pass "CRD with NamesAccepted=False fails in ${secs}s with the condition's reason"
echo PASS
