# reconcile-lib.sh - shared set-up for the test_reconcile_*.sh tests and the
# reconcile benchmark: a kubesim API server, a git repository with one
# environment (dev), and `kfboot reconcile` processes with --listen.
# Source after setting KFBOOT and KF_SOURCE_DIR. Needs git, kubectl, jq, curl.
#
#   rl_repo                    make $W (kfboot.yaml + apps/app.yaml), commit
#   rl_commit MSG              commit everything in $W
#   rl_set_value V             change data.v of ConfigMap app-config
#   rl_start NAME ARGS...      start a reconciler; sets PORT_<NAME>, PID_<NAME>
#   rl_url NAME PATH           http://127.0.0.1:<port>PATH
#   rl_wait_value V [SECS]     wait until ml-dev/app-config has data.v = V
#   rl_sig BODY                "sha256=<hex>" HMAC of BODY with $SECRET
#   rl_metric NAME PATTERN     sum of the samples of a metric family matching PATTERN
# shellcheck shell=bash disable=SC2154

for t in git kubectl jq curl openssl; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not found"; exit 77; }
done
[[ -x /usr/bin/python3 ]] || { echo "SKIP: /usr/bin/python3 not found"; exit 77; }
"$KFBOOT" reconcile --help 2>&1 | grep -q -- --listen || { echo "SKIP: this kfboot has no 'reconcile --listen'"; exit 77; }

# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
export XDG_CACHE_HOME=$tmp/cache
fail() { echo "FAIL: $*" >&2; for f in "$tmp"/rec-*.log; do [[ -f $f ]] && { echo "== $f"; tail -30 "$f"; }; done >&2; exit 1; }
step() { echo "--- $*"; }
kc() { kubectl --kubeconfig "$KC" --cache-dir "$tmp/kcache" "$@"; }

SECRET=kfboot-test-webhook-secret-0123456789
printf '%s\n' "$SECRET" >"$tmp/webhook-secret"
chmod 600 "$tmp/webhook-secret"
W=$tmp/work

rl_commit() {
	git -C "$W" add -A
	git -C "$W" -c user.email=t@example.com -c user.name=test commit -qm "$1"
}

rl_repo() {
	git init -q -b main "$W"
	mkdir -p "$W/apps"
	cat >"$W/kfboot.yaml" <<'Y'
apiVersion: kfboot.io/v1alpha1
kind: Repository
spec:
  environments:
    - name: dev
      namespace: ml-dev
      paths: [apps]
      prune: true
Y
	cat >"$W/apps/ns.yaml" <<'Y'
apiVersion: v1
kind: Namespace
metadata: {name: ml-dev}
Y
	cat >"$W/apps/app.yaml" <<'Y'
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {v: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other}
data: {x: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
Y
	rl_commit first
}

rl_set_value() {
	sed -i "s/data: {v: \"[^\"]*\"}/data: {v: \"$1\"}/" "$W/apps/app.yaml"
	rl_commit "v=$1"
}

rl_start() {
	local name=$1
	shift
	rm -f "$tmp/port-$name"
	"$KFBOOT" reconcile --repo "file://$W" --state-dir "$tmp/state-$name" --kubeconfig "$KC" \
		--listen 127.0.0.1:0 --listen-port-file "$tmp/port-$name" \
		--webhook-secret-file "$tmp/webhook-secret" "$@" >"$tmp/rec-$name.log" 2>&1 &
	pids+=($!)
	printf -v "PID_$name" %s "$!"
	for _ in $(seq 100); do [[ -s $tmp/port-$name ]] && break; sleep 0.1; done
	[[ -s $tmp/port-$name ]] || fail "reconciler $name did not start listening"
	printf -v "PORT_$name" %s "$(cat "$tmp/port-$name")"
}

rl_url() {
	local v="PORT_$1"
	echo "http://127.0.0.1:${!v}$2"
}

rl_wait_ready() {
	for _ in $(seq 300); do
		curl -sf "$(rl_url "$1" /readyz)" >/dev/null && return 0
		sleep 0.1
	done
	fail "reconciler $1 not ready after 30 s"
}

rl_value() { kc -n ml-dev get cm app-config -o jsonpath='{.data.v}' 2>/dev/null || true; }

rl_wait_value() {
	local want=$1 secs=${2:-10} end
	end=$(($(date +%s) + secs))
	while (($(date +%s) <= end)); do
		[[ $(rl_value) == "$want" ]] && return 0
		sleep 0.1
	done
	return 1
}

rl_sig() { printf 'sha256=%s' "$(printf '%s' "$1" | openssl dgst -sha256 -hmac "$SECRET" | awk '{print $NF}')"; }

# Sum of the samples of family $2 whose line matches $3 (a grep -E pattern).
rl_metric() {
	curl -sf "$(rl_url "$1" /metrics)" | grep -E "^$2(\{| )" | grep -E -- "${3:-.}" |
		awk '{s += $NF} END {printf "%d\n", s}'
}
