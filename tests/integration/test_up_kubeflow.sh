#!/usr/bin/env bash
# test_up_kubeflow.sh - `kfboot up` bootstraps the cluster AND installs
# Kubeflow: 1 control plane + 1 worker (tests/nodes), whose stand-in
# `kubeadm init` starts the kubesim simulator as the control plane's API
# server (asked for by the file "kubesim" in the nodes' shared cluster
# directory), and a profile with spec.kubeflow.components: [pipelines] from
# the rendered manifests in $KF_DATA_DIR/kubeflow-manifests.
#
#  1. plan shows "install Kubeflow": the install order with dependencies,
#     where the manifests come from, the credentials (no values)
#  2. up -> every node joined and Ready, pipelines and its dependencies
#     installed through the fetched kubeconfig (deployment kubeflow/
#     ml-pipeline exists, the Dex Secret does not hold upstream's default
#     hash), the generated password is in a 0600 file and nowhere else;
#     every privileged command ran with timeout(1) inside sudo
#  3. up again -> "nothing to do": the simulator counted no write
#  4. up --skip-kubeflow sends nothing to the API server
#  5. reset stops the API server (the stand-in `kubeadm reset`)
# No network. Needs root (network namespaces); skipped otherwise.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
KF_DATA_DIR=${KF_DATA_DIR:-${KF_BUILD_DIR:-$KF_SOURCE_DIR/build}/testdata}
# shellcheck source-path=SCRIPTDIR source=prov-lib.sh
. "$KF_SOURCE_DIR/tests/integration/prov-lib.sh"
prov_need_root

SRC=$KF_DATA_DIR/kubeflow-manifests
# shellcheck disable=SC2016 # a literal bcrypt hash
DEFAULT_HASH='$2y$12$4K/VkmDd1q1Orb3xAt82zu8gk7Ad6ReFR4LCP9UeYE90NLiN9Df72'
T=$(mktemp -d /tmp/kfboot-test-upkf.XXXXXX)
prov_test_harness
[ -f "$SRC/pipelines.yaml" ] || fail "no rendered manifests in $SRC"

export HOME=$T/home XDG_STATE_HOME=$T/xdg-state XDG_CACHE_HOME=$T/xdg-cache
mkdir -p "$HOME"
prov_nodes_up 2 "$T"
# The stand-in `kubeadm init` starts kubesim as the API server (README).
printf '%s\n%s\n' "$KF_SOURCE_DIR/tests/kubesim/kubesim.py" "--crd-delay 0.2 --deploy-delay 0.2" \
	>"$KF_NODES_CLUSTER_DIR/kubesim"
prov_bundle "$T/bundle" fake
PROV_KUBEFLOW="    components: [pipelines]
    source: { path: $SRC }" prov_profile "$T/kf.yaml" tkf "$T/bundle" 2
STATE=$T/state
KC=$STATE/tkf/admin.conf
IGN=$(prov_ignore_opts "$T")
# shellcheck disable=SC2086
up() { "$KFBOOT" up -f "$T/kf.yaml" --state-dir "$STATE" $IGN "$@"; }
k() { kubectl --kubeconfig "$KC" --cache-dir "$T/kcache" "$@"; }
writes() { k get --raw /kubesim/stats | jq -r .writes; }

step "1. plan shows the phase"
"$KFBOOT" plan -f "$T/kf.yaml" --state-dir "$STATE" >"$T/out" 2>"$T/err" || fail "plan exited $?"
grep -q "^ *11 install Kubeflow" "$T/out" || fail "plan has no 'install Kubeflow'"
grep -q "manifests: rendered files in $SRC" "$T/out" || fail "plan does not say where the manifests come from"
grep -q '\. cert-manager' "$T/out" || fail "plan does not list the dependency cert-manager"
grep -q '\. pipelines (after cert-manager' "$T/out" || fail "plan does not list pipelines after its dependencies"
grep -q "kubeflow-admin-password (0600)" "$T/out" || fail "plan does not name the credentials"
[ ! -e "$STATE/tkf" ] || fail "plan wrote into the state directory"

step "2. up: nodes joined, pipelines installed"
t0=$(date +%s)
KFBOOT_TRACE=ssh up >"$T/out" 2>"$T/err" || fail "up exited $?"
echo "up took $(($(date +%s) - t0))s"
# Privileged commands run with timeout(1) inside sudo (a deadline stops them).
grep -q "exec: .*sudo -n timeout -k 5 [0-9]* sh -c 'env KF_K8S_VERSION" "$T/err" ||
	fail "prepare.sh did not run with timeout(1) inside sudo"
grep "exec: " "$T/err" | grep "sudo -n" | grep -qv "sudo -n timeout" &&
	fail "a command ran under sudo without a deadline: $(grep "exec: " "$T/err" | grep "sudo -n" | grep -v "sudo -n timeout" | head -n 1)"
grep -q "cluster 'tkf' is up: 2 nodes Ready" "$T/out" || fail "no 'is up' summary"
grep -q "node1: install Kubeflow: .* applied" "$T/err" || fail "no progress line for install Kubeflow"
"$KFBOOT" status -f "$T/kf.yaml" --state-dir "$STATE" -o json >"$T/status.json" || fail "status exited $?"
[ "$(jq '[.hosts[] | select(.joined and .node == "Ready")] | length' "$T/status.json")" = 2 ] ||
	fail "not every node is joined and Ready: $(jq -c '[.hosts[] | {name, joined, node}]' "$T/status.json")"
k get deployment -n kubeflow ml-pipeline -o name >/dev/null || fail "deployment kubeflow/ml-pipeline missing"
k get deployment -n cert-manager cert-manager -o name >/dev/null || fail "dependency cert-manager missing"
k get secret -n kube-system kubeflow-pipelines -o name >/dev/null || fail "no ApplySet inventory kube-system/kubeflow-pipelines"
hash=$(k get secret -n auth dex-passwords -o json | jq -r '.data.DEX_USER_PASSWORD // empty' | base64 -d)
[ -n "$hash" ] || hash=$(k get secret -n auth dex-passwords -o json | jq -r '.stringData.DEX_USER_PASSWORD // empty')
[ -n "$hash" ] || fail "Secret auth/dex-passwords has no DEX_USER_PASSWORD"
[ "$hash" != "$DEFAULT_HASH" ] || fail "Dex still holds upstream's default password hash"
# shellcheck disable=SC2016 # a literal prefix
case $hash in '$2y$'*) ;; *) fail "Dex password is not a bcrypt hash" ;; esac
pwfile=$STATE/tkf/kubeflow-admin-password
[ -s "$pwfile" ] || fail "no generated password file"
[ "$(stat -c %a "$pwfile")" = 600 ] || fail "password file mode $(stat -c %a "$pwfile")"
grep -q "a password was generated into $pwfile" "$T/out" || fail "the summary does not name the password file"
pw=$(cat "$pwfile")
grep -rqF "$pw" "$T/out" "$T/err" "$STATE/tkf/logs" && fail "the generated password was printed or logged"

step "3. up again: nothing new"
before=$(writes)
up >"$T/out" 2>"$T/err" || fail "second up exited $?"
after=$(writes)
[ "$before" = "$after" ] || fail "second up wrote $((after - before)) times to the API server"
grep -q "^nothing to do" "$T/out" || fail "second up did not say 'nothing to do'"
grep -q "node1: install Kubeflow: .*(nothing sent)" "$T/err" || fail "install Kubeflow did not report 'nothing sent'"

step "4. up --skip-kubeflow"
up --skip-kubeflow >"$T/out" 2>"$T/err" || fail "up --skip-kubeflow exited $?"
[ "$(writes)" = "$after" ] || fail "up --skip-kubeflow wrote to the API server"
grep -q "^nothing to do" "$T/out" || fail "up --skip-kubeflow did not say 'nothing to do'"
step "5. reset stops the API server"
"$KFBOOT" reset -f "$T/kf.yaml" --state-dir "$STATE" --yes >"$T/out" 2>"$T/err" || fail "reset exited $?"
prov_node_exec "$T" node1 sh -c '! pgrep -f "[k]ubesim.py" >/dev/null' || fail "kubesim still runs after reset"
echo "PASS: test_up_kubeflow"
