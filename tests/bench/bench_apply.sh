#!/usr/bin/env bash
# bench_apply.sh - kfboot apply vs `kubectl apply --server-side` on the
# Kubeflow example manifests (675 objects, 74 CRDs), each against its own
# fresh kubesim with the same settings (CRD and Deployment delays on).
#
# kubectl runs in the loop upstream documents (kubeflow/manifests README):
#   while ! kustomize build example | kubectl apply --server-side --force-conflicts -f -; do
#     echo "Retrying to apply resources"; sleep 20; done
# (the manifests are pre-rendered, so `cat FILE` replaces `kustomize build`).
#
# For each tool: wall time of the first install, wall time of a no-op
# re-apply, requests the server received, and the server's CPU time during
# each (utime+stime of the simulator process from /proc/<pid>/stat), with
# ratios (the no-op is the median of NOOP_RUNS runs, default 5), and the
# client's own CPU time. A benchmark, not a test: it never fails on timing.
#
# KF_SERVER=real runs it against a genuine kube-apiserver (realk8s, one
# fresh server per tool) instead: the webhook configurations are left out
# (the real server has no webhook backends), requests are the client
# requests the server counted (apiserver_request_total; discovery is not
# counted there), server CPU is the kube-apiserver's, and the floor is that
# CPU time divided by the cores: the wall time of an install that did
# nothing but wait for the server's own work.
#
# Env: KFBOOT (binary), KF_SOURCE_DIR, KF_DATA_DIR; RETRY_SLEEP (default
# 20, upstream's); CRD_DELAY (2), DEPLOY_DELAY (3) for the simulator;
# KF_SERVER (sim or real), KF_REALK8S (the realk8s script).
set -euo pipefail

KF_SOURCE_DIR=${KF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
KF_DATA_DIR=${KF_DATA_DIR:-$KF_SOURCE_DIR/build/testdata}
KFBOOT=${KFBOOT:-$KF_SOURCE_DIR/build/kfboot}
KUBECTL=${KUBECTL:-kubectl}
RETRY_SLEEP=${RETRY_SLEEP:-20}
NOOP_RUNS=${NOOP_RUNS:-5}
CRD_DELAY=${CRD_DELAY:-2}
DEPLOY_DELAY=${DEPLOY_DELAY:-3}
MANIFESTS=${MANIFESTS:-$KF_DATA_DIR/kubeflow-manifests/full-example.yaml}
TCK=$(getconf CLK_TCK)

# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"

fail() { echo "bench_apply: $*" >&2; exit 1; }
now() { date +%s.%N; }
cpu() { awk -v t="$TCK" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$SIMPID/stat"; }
requests() { stats | jq -r .total; }
reset() { reset_stats; }
: "${tmp:?}"
CORES=$(nproc)
if [[ $KF_SERVER == real ]]; then
	need_real
	"${KUBESIM_PY:-/usr/bin/python3}" - "$MANIFESTS" "$tmp/manifests.yaml" <<'PYEOF'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
keep = [d for d in docs if "\nkind: MutatingWebhookConfiguration" not in "\n" + d
        and "\nkind: ValidatingWebhookConfiguration" not in "\n" + d]
open(sys.argv[2], "w").write("\n---\n".join(keep))
PYEOF
	MANIFESTS=$tmp/manifests.yaml
fi
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

# measure NAME CMD...: sets W (wall s), R (requests), C (server CPU s),
# U (client CPU s: user+sys of the command and its children).
measure() {
	local t0 c0 u0 u1
	shift
	reset
	c0=$(cpu)
	t0=$(now)
	u0=$(child_cpu)
	"$@" >"$tmp/out.$RANDOM" 2>&1
	u1=$(child_cpu)
	W=$(sub "$(now)" "$t0")
	R=$(requests)
	C=$(sub "$(cpu)" "$c0")
	U=$(sub "$u1" "$u0")
}
# user+sys CPU of the finished children of this shell ($$ is the main shell
# even inside $(...)): cutime + cstime from /proc/$$/stat.
child_cpu() {
	awk -v t="$TCK" '{ printf "%.2f", ($16 + $17) / t }' "/proc/$$/stat"
}
# median_noop CMD...: the no-op re-apply NOOP_RUNS times; W/R/C/U of the median wall.
median_noop() {
	local runs=() i
	for ((i = 0; i < NOOP_RUNS; i++)); do
		measure noop "$@"
		runs+=("$W $R $C $U")
	done
	read -r W R C U < <(printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(((NOOP_RUNS + 1) / 2))p")
}

kubectl_loop() {
	local tries=0
	while ! cat "$MANIFESTS" | $KUBECTL --kubeconfig "$KC" apply --server-side --force-conflicts -f - >>"$tmp/kubectl.log" 2>&1; do
		tries=$((tries + 1))
		echo "Retrying to apply resources" >>"$tmp/kubectl.log"
		sleep "$RETRY_SLEEP"
	done
	echo "$tries" >"$tmp/kubectl.retries"
}
kubectl_once() { $KUBECTL --kubeconfig "$KC" apply --server-side --force-conflicts -f "$MANIFESTS" >/dev/null 2>&1; }
kfboot_apply() { "$KFBOOT" apply -f "$MANIFESTS" --kubeconfig "$KC" --inventory bench -q; }

echo "manifests: $MANIFESTS ($(grep -c '^kind:' "$MANIFESTS") objects)"
if [[ $KF_SERVER == real ]]; then
	echo "server: realk8s (kube-apiserver v1.32 + etcd), webhook configurations left out; $CORES cores; kubectl retry sleep ${RETRY_SLEEP}s"
else
	echo "simulator: --crd-delay $CRD_DELAY --deploy-delay $DEPLOY_DELAY; kubectl retry sleep ${RETRY_SLEEP}s"
fi

start_server kfboot --crd-delay "$CRD_DELAY" --deploy-delay "$DEPLOY_DELAY"
measure first kfboot_apply
kf_w1=$W kf_r1=$R kf_c1=$C kf_u1=$U
median_noop kfboot_apply
kf_w2=$W kf_r2=$R kf_c2=$C kf_u2=$U

[[ $KF_SERVER == real ]] && stop_real kfboot # an idle apiserver still costs CPU
start_server kubectl --crd-delay "$CRD_DELAY" --deploy-delay "$DEPLOY_DELAY"
measure first kubectl_loop
ku_w1=$W ku_r1=$R ku_c1=$C ku_u1=$U
median_noop kubectl_once
ku_w2=$W ku_r2=$R ku_c2=$C ku_u2=$U
retries=$(cat "$tmp/kubectl.retries" 2>/dev/null || echo "?")
nomatch=$(grep -c 'no matches for kind\|ensure CRDs are installed' "$tmp/kubectl.log" || true)
webhook=$(grep -c 'failed calling webhook' "$tmp/kubectl.log" || true)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }
printf '\n%-28s %12s %12s %10s\n' "" "kfboot" "kubectl" "kubectl/kfboot"
printf '%-28s %12s %12s %10s\n' "first install wall (s)" "$kf_w1" "$ku_w1" "$(ratio "$ku_w1" "$kf_w1")"
printf '%-28s %12s %12s %10s\n' "first install requests" "$kf_r1" "$ku_r1" "$(ratio "$ku_r1" "$kf_r1")"
printf '%-28s %12s %12s %10s\n' "first install server CPU (s)" "$kf_c1" "$ku_c1" "$(ratio "$ku_c1" "$kf_c1")"
printf '%-28s %12s %12s %10s\n' "first install client CPU (s)" "$kf_u1" "$ku_u1" "$(ratio "$ku_u1" "$kf_u1")"
printf '%-28s %12s %12s %10s\n' "no-op re-apply wall (s)" "$kf_w2" "$ku_w2" "$(ratio "$ku_w2" "$kf_w2")"
printf '%-28s %12s %12s %10s\n' "no-op re-apply requests" "$kf_r2" "$ku_r2" "$(ratio "$ku_r2" "$kf_r2")"
printf '%-28s %12s %12s %10s\n' "no-op server CPU (s)" "$kf_c2" "$ku_c2" "$(ratio "$ku_c2" "$kf_c2")"
printf '%-28s %12s %12s %10s\n' "no-op client CPU (s)" "$kf_u2" "$ku_u2" "$(ratio "$ku_u2" "$kf_u2")"
floor() { awk -v c="$1" -v n="$CORES" 'BEGIN { printf "%.2f", c / n }'; }
printf '%-28s %12s %12s\n' "floor: server CPU / cores (s)" "$(floor "$kf_c1")" "$(floor "$ku_c1")"
printf '%-28s %12s %12s\n' "first install wall / floor" "$(ratio "$kf_w1" "$(floor "$kf_c1")")" "$(ratio "$ku_w1" "$(floor "$ku_c1")")"
echo
echo "(no-op: median of $NOOP_RUNS runs; load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "kubectl needed $retries retries of the whole apply; its errors: $nomatch 'no matches for kind' / 'ensure CRDs are installed', $webhook 'failed calling webhook'"
