#!/usr/bin/env bash
# test_kubeflow.sh - `kfboot kubeflow install` against the kubesim API server
# simulator (TLS, client certificates) with the rendered Kubeflow 26.03
# manifests (tests/data/upstream, unpacked into $KF_DATA_DIR):
#   1. the default selection (= upstream's example, 27 components, 675
#      objects) installs in ONE invocation, component by component;
#   2. a second install sends no writes;
#   3. the Dex Secret holds a bcrypt hash of the password from
#      --password-file, and no default password hash, OIDC client secret,
#      cookie secret, S3 key or default email is stored anywhere;
#   4. each component has its own ApplySet inventory;
#   5. --components pipelines installs only pipelines and its dependencies;
#   6. a broken document refuses the install before anything is sent;
#   7. --dry-run changes nothing;
#   8. the upstream path (--release): a local git repository (file://, no
#      network here) with a tiny kustomization, cloned with libgit2 at a tag
#      and rendered with kustomize / kubectl kustomize, then installed;
#   9. with injected faults (429/500/dropped connections) an install succeeds.
# KF_SERVER=real runs the same steps against a genuine kube-apiserver
# (realk8s; exit 77 when it cannot run here): the webhook configurations
# are left out of the manifests (the real server has no webhook backends:
# 647 objects), tests/kubesim/mark_ready.py writes ready workload status
# through /status so the health waits between components complete, and
# step 9 (faults) is sim only. CTest runs both.
# Env: KFBOOT, KF_SOURCE_DIR, KF_DATA_DIR (set by CTest). No network.
set -euo pipefail

: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
KF_DATA_DIR=${KF_DATA_DIR:-${KF_BUILD_DIR:-$KF_SOURCE_DIR/build}/testdata}
PY=/usr/bin/python3
SRC=$KF_DATA_DIR/kubeflow-manifests
SIM=$KF_SOURCE_DIR/tests/kubesim/kubesim.py
FIX=$KF_SOURCE_DIR/tests/data/kubeflow/upstream-fixture
[[ -f $SRC/full-example.yaml ]] || { echo "SKIP: $SRC not found"; exit 77; }
[[ -f $SIM ]] || { echo "SKIP: kubesim not found"; exit 77; }
command -v kubectl >/dev/null || { echo "SKIP: kubectl not installed (the checks read the server with it)"; exit 77; }

# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
: "${tmp:?}"
if [[ $KF_SERVER == real ]]; then
	need_real
	mkdir -p "$tmp/src"
	for f in "$SRC"/*.yaml; do
		$PY - "$f" "$tmp/src/$(basename "$f")" <<'PYEOF'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
keep = [d for d in docs if "\nkind: MutatingWebhookConfiguration" not in "\n" + d
        and "\nkind: ValidatingWebhookConfiguration" not in "\n" + d]
open(sys.argv[2], "w").write("\n---\n".join(keep))
PYEOF
	done
	SRC=$tmp/src
fi
TOTAL=$(grep -c '^kind:' "$SRC/full-example.yaml")
# serve NAME [SIM-ARGS...]: start_server; on the real server also the
# stand-in for the controllers (ready status through /status).
serve() {
	start_server "$@"
	if [[ $KF_SERVER == real ]]; then
		$PY "$KF_SOURCE_DIR/tests/kubesim/mark_ready.py" "$KC" >>"$tmp/mark_ready.log" 2>&1 &
		pids+=($!)
	fi
}

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
export HOME=$tmp/home XDG_STATE_HOME=$tmp/xdg-state XDG_CACHE_HOME=$tmp/xdg-cache
mkdir -p "$HOME"

k() { kubectl --kubeconfig "$KC" --cache-dir "$tmp/kcache" "$@"; }
kfi() { "$KFBOOT" kubeflow install --kubeconfig "$KC" "$@"; }

printf 'correct-horse-battery\n' >"$tmp/password"
chmod 600 "$tmp/password"

serve main --crd-delay 0.5 --deploy-delay 0.5
echo "server: $KF_SERVER ($TOTAL objects)"
KC_MAIN=$KC CTL_MAIN=$CTL

step "1. the default selection in one invocation"
t0=$(date +%s.%N)
kfi --source "$SRC" --state-dir "$tmp/state" --password-file "$tmp/password" --admin-email ops@corp.example \
	--timeout 5m -o json >"$tmp/first.json" 2>"$tmp/first.err" || { tail -30 "$tmp/first.err"; fail "install failed"; }
t1=$(date +%s.%N)
grep -qi "no matches for kind" "$tmp/first.err" && fail "saw 'no matches for kind'"
[[ $(jq -r .components "$tmp/first.json") == 27 ]] || fail "expected 27 components: $(jq -c .components "$tmp/first.json")"
[[ $(jq -r .applied "$tmp/first.json") == "$TOTAL" ]] || fail "expected $TOTAL applied: $(jq -c '{applied,failed}' "$tmp/first.json")"
[[ $(jq -r .failed "$tmp/first.json") == 0 ]] || fail "failures on first install"
grep -q '^\[1/27\] kubeflow-namespace' "$tmp/first.err" || fail "no per-component progress on stderr"
grep -q '^\[27/27\] ' "$tmp/first.err" || fail "progress does not reach 27/27"
grep -q 'correct-horse-battery' "$tmp/first.err" "$tmp/first.json" && fail "the password was printed"
printf 'first install: %.1fs\n' "$(echo "$t1 - $t0" | bc)"
# Dependency order: cert-manager healthy before the components that use it.
cm=$(grep -n '^\[[0-9]*/27\] cert-manager: done' "$tmp/first.err" | cut -d: -f1)
pl=$(grep -n '^\[[0-9]*/27\] pipelines: applying' "$tmp/first.err" | cut -d: -f1)
[[ -n $cm && -n $pl && $cm -lt $pl ]] || fail "pipelines started before cert-manager was healthy"

step "2. a second install sends no writes"
reset_stats
t0=$(date +%s.%N)
kfi --source "$SRC" --state-dir "$tmp/state" --password-file "$tmp/password" --admin-email ops@corp.example \
	-o json >"$tmp/second.json" 2>"$tmp/second.err" || { tail -20 "$tmp/second.err"; fail "second install failed"; }
t1=$(date +%s.%N)
w=$(stats | jq -r .writes)
[[ $w == 0 ]] || fail "a no-op re-install wrote $w times: $(stats | jq -c .by_resource | head -c 800)"
[[ $(jq -r .unchanged "$tmp/second.json") == "$TOTAL" ]] || fail "expected $TOTAL unchanged"
printf 'no-op re-install: %.1fs, %s requests, 0 writes\n' "$(echo "$t1 - $t0" | bc)" "$(stats | jq -r .total)"

step "3. credentials: Dex holds the new hash; no default is stored"
hash=$(k get secret -n auth dex-passwords -o json | jq -r '.data.DEX_USER_PASSWORD // empty' | base64 -d)
[[ -z $hash ]] && hash=$(k get secret -n auth dex-passwords -o json | jq -r '.stringData.DEX_USER_PASSWORD // empty')
[[ $hash == '$2y$'* ]] || fail "Dex password is not a bcrypt hash"
$PY -W ignore - "$hash" <<'EOF' || fail "the Dex hash does not verify the password from --password-file"
import crypt, sys
h = sys.argv[1]
sys.exit(0 if crypt.crypt("correct-horse-battery", h) == h else 1)
EOF
k get cm -n auth dex -o jsonpath='{.data.config\.yaml}' | grep -q 'email: ops@corp.example' || fail "Dex user email not set"
[[ $(k get profile kubeflow-user-example-com -o jsonpath='{.spec.owner.name}') == ops@corp.example ]] ||
	fail "the default profile is not owned by the admin"
k get secrets -A -o json >"$tmp/secrets.json"
k get configmaps -A -o json >"$tmp/configmaps.json"
k get profiles -o json >"$tmp/profiles.json"
$PY - "$tmp/secrets.json" "$tmp/configmaps.json" "$tmp/profiles.json" <<'EOF' || fail "a default credential reached the server"
import base64, json, sys
defaults = {
    "$2y$12$4K/VkmDd1q1Orb3xAt82zu8gk7Ad6ReFR4LCP9UeYE90NLiN9Df72": "Dex default password hash (12341234)",
    "pUBnBOY80SnXgjibTYM9ZWNzY2xreNGQok": "OIDC client secret",
    "7d16fee92f8d11b8940b081b3f8b8acb": "oauth2-proxy cookie secret",
    "minio123": "KFP S3 secret key",
    "user@example.com": "default user email",
}
bad = 0
for f in sys.argv[1:]:
    for o in json.load(open(f))["items"]:
        vals = []
        for k, v in (o.get("data") or {}).items():
            vals.append(v)
            if o["kind"] == "Secret":
                try: vals.append(base64.b64decode(v).decode())
                except Exception: pass
        vals += list((o.get("stringData") or {}).values())
        vals.append(json.dumps(o.get("spec") or {}))
        for v in vals:
            for d, what in defaults.items():
                if d in v:
                    print("default %s in %s %s/%s" % (what, o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]))
                    bad += 1
sys.exit(1 if bad else 0)
EOF
a=$(k get secret -n auth dex-oidc-client -o jsonpath='{.data.OIDC_CLIENT_SECRET}' | base64 -d)
b=$(k get secret -n oauth2-proxy -o json | jq -r '.items[] | select(.data["client-secret"]) | .data["client-secret"]' | base64 -d)
[[ -n $a && $a == "$b" ]] || fail "Dex and oauth2-proxy do not share the OIDC client secret"
[[ $(stat -c %a "$tmp/state/kubeflow-credentials.json") == 600 ]] || fail "credentials file is not 0600"

step "3b. a new password: the hash changes and Dex's pods roll; nothing else is written"
sum0=$(k get deploy -n auth dex -o jsonpath='{.spec.template.metadata.annotations.kfboot\.io/credentials-checksum}')
[[ -n $sum0 ]] || fail "no credentials checksum on the Dex Deployment"
printf 'another-long-password\n' >"$tmp/password2"
reset_stats
kfi --source "$SRC" --state-dir "$tmp/state" --password-file "$tmp/password2" -o json >"$tmp/rot.json" 2>"$tmp/rot.err" ||
	{ tail -20 "$tmp/rot.err"; fail "install with a new password failed"; }
[[ $(jq -r .applied "$tmp/rot.json") == 2 ]] || fail "expected 2 objects changed (Secret, Deployment): $(jq -c '[.perComponent[] | select(.applied > 0) | {name, applied}]' "$tmp/rot.json")"
hash=$(k get secret -n auth dex-passwords -o json | jq -r '.data.DEX_USER_PASSWORD // empty' | base64 -d)
$PY -W ignore -c 'import crypt,sys; h=sys.argv[1]; sys.exit(0 if crypt.crypt("another-long-password", h) == h else 1)' "$hash" ||
	fail "the Dex hash does not verify the new password"
sum1=$(k get deploy -n auth dex -o jsonpath='{.spec.template.metadata.annotations.kfboot\.io/credentials-checksum}')
[[ $sum1 != "$sum0" ]] || fail "the Dex pod template did not change"
k get cm -n auth dex -o jsonpath='{.data.config\.yaml}' | grep -q 'email: ops@corp.example' || fail "the kept admin email was not reused"

step "4. one ApplySet inventory per component"
n=$(k get secrets -n kube-system -o json | jq '[.items[] | select(.metadata.name | startswith("kubeflow-"))
	| select(.metadata.labels["applyset.kubernetes.io/id"])] | length')
[[ $n == 27 ]] || fail "expected 27 inventories, found $n"
k get secret -n kube-system kubeflow-pipelines >/dev/null || fail "no inventory kubeflow-pipelines"

step "5. --components pipelines: only pipelines and its dependencies"
serve sel --crd-delay 0.5 --deploy-delay 1
kfi --source "$SRC" --state-dir "$tmp/state-sel" --components pipelines --timeout 5m -o json \
	>"$tmp/sel.json" 2>"$tmp/sel.err" || { tail -20 "$tmp/sel.err"; fail "install of pipelines failed"; }
names=$(jq -r '[.perComponent[].name] | join(",")' "$tmp/sel.json")
[[ $names == kubeflow-namespace,cert-manager,istio-crds,istio-namespace,istio-install,dex,oauth2-proxy,kubeflow-roles,kubeflow-istio-resources,pipelines ]] ||
	fail "unexpected components: $names"
want=0
for f in kubeflow-namespace cert-manager istio-crds istio-namespace istio-install dex oauth2-proxy kubeflow-roles kubeflow-istio-resources pipelines; do
	want=$((want + $(grep -c '^kind:' "$SRC/$f.yaml")))
done
[[ $(jq -r .applied "$tmp/sel.json") == "$want" ]] || fail "expected $want objects, applied $(jq -r .applied "$tmp/sel.json")"
k get deploy -n kubeflow ml-pipeline >/dev/null || fail "ml-pipeline missing"
k get deploy -n kubeflow katib-controller >/dev/null 2>&1 && fail "katib was installed"
k get crd inferenceservices.serving.kserve.io >/dev/null 2>&1 && fail "kserve was installed"
pwfile=$(jq -r .passwordFile "$tmp/sel.json")
[[ $pwfile == "$tmp/state-sel/kubeflow-admin-password" && $(stat -c %a "$pwfile") == 600 ]] ||
	fail "no generated 0600 password file: $pwfile"
grep -qF "$(cat "$pwfile")" "$tmp/sel.json" "$tmp/sel.err" && fail "the generated password was printed"

step "6. a broken document refuses the install; nothing is sent"
serve broken
mkdir -p "$tmp/broken"
for f in "$SRC"/*.yaml; do ln -s "$f" "$tmp/broken/"; done
rm "$tmp/broken/katib.yaml"
sed 's/^kind: Deployment$/kind Deployment/' "$SRC/katib.yaml" >"$tmp/broken/katib.yaml"
reset_stats
set +e
kfi --source "$tmp/broken" --state-dir "$tmp/state-b" --components katib >"$tmp/broken.out" 2>"$tmp/broken.err"
rc=$?
set -e
[[ $rc == 1 ]] || fail "broken input should fail with 1, got $rc"
grep -qE 'katib\.yaml:[0-9]+:[0-9]+:' "$tmp/broken.err" || fail "no file:line:col: $(head -5 "$tmp/broken.err")"
[[ $(stats | jq -r .writes) == 0 ]] || fail "the server saw writes for broken input"
set +e
kfi --source "$tmp/broken" --state-dir "$tmp/state-b" --components pipelnes >/dev/null 2>"$tmp/typo.err"
set -e
grep -q "did you mean 'pipelines'" "$tmp/typo.err" || fail "no suggestion for a misspelt component"

step "7. --dry-run changes nothing"
KC_B=$KC CTL_B=$CTL
KC=$KC_MAIN CTL=$CTL_MAIN
sw0=$(stats | jq -r .storage_writes)
kfi --source "$SRC" --state-dir "$tmp/state-b" --components profiles,katib --admin-email someone@else.example --dry-run >/dev/null 2>"$tmp/dry.err" ||
	{ tail "$tmp/dry.err"; fail "dry run failed"; }
[[ $(stats | jq -r .storage_writes) == "$sw0" ]] || fail "dry run stored something"
[[ ! -e $tmp/state-b ]] || fail "dry run (or refused installs) wrote the state dir: $(ls "$tmp/state-b")"
KC=$KC_B CTL=$CTL_B

step "8. upstream: git tag (libgit2, file://) rendered with kustomize"
{ # kubectl (required above) provides `kubectl kustomize`
	cp -r "$FIX/repo" "$tmp/repo"
	git -C "$tmp/repo" init -q
	git -C "$tmp/repo" add -A
	git -C "$tmp/repo" -c user.name=t -c user.email=t@example.com commit -qm fixture
	git -C "$tmp/repo" tag v0.1
	# a later commit must not be what is installed
	sed -i 's/hello:1.0/hello:2.0/' "$tmp/repo/apps/app/base/deployment.yaml"
	git -C "$tmp/repo" -c user.name=t -c user.email=t@example.com commit -qam later
	reset_stats
	kfi --catalog "$FIX/catalog.yaml" --release v0.1 --repository "file://$tmp/repo" \
		--cache-dir "$tmp/cache" --state-dir "$tmp/state-up" >"$tmp/up.out" 2>"$tmp/up.err" ||
		{ cat "$tmp/up.err"; fail "upstream install failed"; }
	[[ $(k get deploy -n kf-fixture prod-hello -o jsonpath='{.spec.template.spec.containers[0].image}') == registry.example.com/hello:1.0 ]] ||
		fail "the tagged version was not installed"
	k get cm -n kf-fixture -o name | grep -q 'prod-hello-config-' || fail "the generated ConfigMap is missing"
	[[ -f $tmp/cache/rendered-v0.1/app.yaml ]] || fail "no rendered file in the cache"
	set +e
	PATH=/nonexistent "$KFBOOT" kubeflow install --kubeconfig "$KC" --catalog "$FIX/catalog.yaml" --release v0.1 \
		--repository "file://$tmp/repo" --cache-dir "$tmp/cache2" --state-dir "$tmp/state-up" >/dev/null 2>"$tmp/nokust.err"
	set -e
	grep -q "needs 'kustomize' or 'kubectl' on PATH" "$tmp/nokust.err" || fail "no clear error without kustomize: $(cat "$tmp/nokust.err")"
}

step "9. with injected faults (429s with Retry-After, 500s, dropped connections) the install still succeeds"
if sim_only "fault injection"; then
start_sim faults --faults '{"throttle_rate":0.05,"retry_after":1,"error_rate":0.03,"drop_rate":0.01,"seed":7}'
kfi --source "$SRC" --state-dir "$tmp/state-f" --components katib --timeout 3m -o json >"$tmp/f.json" 2>"$tmp/f.err" ||
	{ tail -20 "$tmp/f.err"; fail "install with faults failed"; }
[[ $(jq -r .failed "$tmp/f.json") == 0 ]] || fail "objects failed under faults"
inj=$(curl -sf "$CTL/kubesim/faults" | jq '.injected | .throttle + .error + .drop')
[[ $inj -gt 0 ]] || fail "no faults were injected"
echo "faults injected: $inj; retries: $(jq -r .requests.retries "$tmp/f.json")"
fi

echo "PASS"
