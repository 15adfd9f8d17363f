#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016,SC2154 # `a && b || fail` is deliberate (fail exits); PID_*/PORT_* are set by printf -v
# test_reconcile_manifests.sh - manifests/kfboot/ (what `kfboot up` installs
# when the profile has spec.gitops) is valid for a strict API server: the
# placeholders filled in as up fills them, `kfboot apply` against kubesim
# applies every object, and the Deployment keeps its promises: 2 replicas,
# non-root, read-only root file system, probes on /healthz and /readyz,
# resource requests, --leader-elect, Secrets referenced, not embedded.
# Env: KFBOOT, KF_SOURCE_DIR (set by CTest).
set -euo pipefail
: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
for t in kubectl jq; do command -v "$t" >/dev/null || { echo "SKIP: $t not found"; exit 77; }; done
# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
export XDG_CACHE_HOME=$tmp/cache
fail() { echo "FAIL: $*" >&2; exit 1; }
start_sim main --deploy-delay 0.2

mkdir -p "$tmp/m"
for f in "$KF_SOURCE_DIR"/manifests/kfboot/*.yaml; do
	sed -e 's|${IMAGE}|registry.example.com/kfboot:0.1.0|; s|${REPOSITORY}|https://git.example.com/platform.git|' \
		-e 's|${BRANCH}|main|; s|${INTERVAL}|1m|' "$f" >"$tmp/m/$(basename "$f")"
done
grep -q '\${' "$tmp"/m/*.yaml && fail "a placeholder is left: $(grep -h '\${' "$tmp"/m/*.yaml)"
"$KFBOOT" apply -f "$tmp/m" --kubeconfig "$KC" --inventory kfboot-system/kfboot-install -o json >"$tmp/out.json" 2>"$tmp/err" ||
	{ cat "$tmp/err"; fail "apply of manifests/kfboot failed"; }
[[ $(jq -r .failed "$tmp/out.json") == 0 ]] || fail "failures: $(jq -c .report "$tmp/out.json")"
d=$(kubectl --kubeconfig "$KC" --cache-dir "$tmp/kc" -n kfboot-system get deploy kfboot-reconciler -o json)
jq -e '.spec.replicas == 2' <<<"$d" >/dev/null || fail "replicas"
jq -e '.spec.template.spec.securityContext.runAsNonRoot == true' <<<"$d" >/dev/null || fail "runAsNonRoot"
c='.spec.template.spec.containers[0]'
jq -e "$c.securityContext.readOnlyRootFilesystem == true and $c.securityContext.allowPrivilegeEscalation == false" <<<"$d" >/dev/null || fail "container security context"
jq -e "$c.livenessProbe.httpGet.path == \"/healthz\" and $c.readinessProbe.httpGet.path == \"/readyz\"" <<<"$d" >/dev/null || fail "probes"
jq -e "$c.resources.requests.cpu and $c.resources.requests.memory" <<<"$d" >/dev/null || fail "resource requests"
jq -e "$c.args | index(\"--leader-elect\")" <<<"$d" >/dev/null || fail "--leader-elect"
jq -e '[.spec.template.spec.volumes[] | .secret.secretName // empty] | sort == ["kfboot-git", "kfboot-webhook"]' <<<"$d" >/dev/null || fail "secrets not referenced"
grep -qi 'kind: Secret' "$tmp"/m/*.yaml && fail "a Secret is embedded in the manifests"
kubectl --kubeconfig "$KC" --cache-dir "$tmp/kc" -n kfboot-system get service/kfboot-webhooks service/kfboot-metrics \
	networkpolicy/kfboot-reconciler >/dev/null ||
	fail "services or network policy missing"
echo "PASS"
