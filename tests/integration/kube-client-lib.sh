# kube-client-lib.sh - shared by test_kube_tls.sh and test_kube_faults.sh:
# throwaway CAs and certificates made with openssl, the fake API server
# (kube_fake_server.py) and kubeconfig writing. Source after `set -euo
# pipefail`; defines $tmp (removed on exit), fail, pass, start_fake,
# mkcert, kubeconfig, elapsed.
# shellcheck shell=bash
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
PY=${KUBESIM_PY:-/usr/bin/python3}
FAKE=$KF_SOURCE_DIR/tests/integration/kube_fake_server.py
tmp=$(mktemp -d)
fpids=()
cleanup() {
	for p in "${fpids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
export KFBOOT_NO_CACHE=1 HOME=$tmp XDG_CACHE_HOME=$tmp/cache
unset KUBECONFIG https_proxy HTTPS_PROXY http_proxy HTTP_PROXY all_proxy ALL_PROXY
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
b64() { base64 -w0 "$1"; }

# mkca NAME: $tmp/NAME.crt/.key, a self-signed EC CA.
mkca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=kfboot test $1" -keyout "$tmp/$1.key" -out "$tmp/$1.crt" 2>/dev/null
}
# mkcert NAME CA [server|client]: $tmp/NAME.crt/.key signed by CA.
mkcert() {
	local ext
	if [[ ${3:-server} == server ]]; then
		ext="subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
	else
		ext="extendedKeyUsage=clientAuth"
	fi
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1/O=system:masters" \
		-keyout "$tmp/$1.key" -out "$tmp/$1.csr" 2>/dev/null
	openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/$2.crt" -CAkey "$tmp/$2.key" -CAcreateserial \
		-days 2 -extfile <(printf '%s\n' "$ext") -out "$tmp/$1.crt" 2>/dev/null
}

# start_fake NAME CERT MODE [extra args]: sets PORT_<NAME>; log in $tmp/NAME.log.
start_fake() {
	local name=$1 cert=$2 mode=$3
	shift 3
	local args=(--port-file "$tmp/$name.port" --log "$tmp/$name.log" --mode "$mode")
	[[ -n $cert ]] && args+=(--cert "$tmp/$cert.crt" --key "$tmp/$cert.key")
	"$PY" "$FAKE" "${args[@]}" "$@" 2>"$tmp/$name.err" &
	fpids+=($!)
	for _ in $(seq 100); do [[ -s $tmp/$name.port ]] && break; sleep 0.05; done
	[[ -s $tmp/$name.port ]] || { cat "$tmp/$name.err"; fail "fake server $name did not start"; }
	printf -v "PORT_$name" '%s' "$(cat "$tmp/$name.port")"
	: >"$tmp/$name.log"
}

# kubeconfig FILE SERVER [cluster yaml lines] -- [user yaml lines]
kubeconfig() {
	local f=$1 server=$2
	shift 2
	local cl=() us=() into=cl
	for a in "$@"; do
		if [[ $a == -- ]]; then into=us; continue; fi
		if [[ $into == cl ]]; then cl+=("$a"); else us+=("$a"); fi
	done
	{
		echo "apiVersion: v1"
		echo "kind: Config"
		echo "clusters:"
		echo "- name: c"
		echo "  cluster:"
		echo "    server: $server"
		for l in "${cl[@]}"; do echo "    $l"; done
		echo "users:"
		echo "- name: u"
		echo "  user:"
		if ((${#us[@]})); then for l in "${us[@]}"; do echo "    $l"; done; else echo "    {}"; fi
		echo "contexts:"
		echo "- name: x"
		echo "  context: {cluster: c, user: u}"
		echo "current-context: x"
	} >"$f"
}

cm_yaml() {
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm1, namespace: default}\ndata: {a: "1"}\n' >"$tmp/cm.yaml"
}

# run_timed VAR_RC VAR_SECS cmd...: output in $tmp/out
run_timed() {
	local _t0 _t1 _rc=0
	_t0=$(date +%s.%N)
	"${@:3}" >"$tmp/out" 2>&1 </dev/null || _rc=$?
	_t1=$(date +%s.%N)
	printf -v "$1" '%s' "$_rc"
	printf -v "$2" '%s' "$(echo "$_t1 - $_t0" | bc)"
}
# lt A B: A < B (decimals)
lt() { [[ $(echo "$1 < $2" | bc) == 1 ]]; }
