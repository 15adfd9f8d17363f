#!/usr/bin/env bash
# Tests of the Kubernetes API server simulator (tests/kubesim) with the real kubectl:
# TLS + client certificates, discovery, server-side apply, CRDs becoming Established,
# apply conflicts, stale PUTs, selectors, 401, webhooks, watch, faults, and finally the
# full Kubeflow example applied with kubectl's documented retry loop.
set -euo pipefail

SRC=${KF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DATA=${KF_DATA_DIR:-${KF_BUILD_DIR:-$SRC/build}/testdata}
SIM=$SRC/tests/kubesim/kubesim.py
PY=${PYTHON:-python3}
KUBECTL_BIN=${KUBECTL:-kubectl}
command -v "$KUBECTL_BIN" >/dev/null || { echo "FAIL: kubectl not found" >&2; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl not found" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kubesim-test.XXXXXX")
pid=""
cleanup() {
  local rc=$?
  if [[ -n "$pid" ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 && -f "$tmp/sim.log" ]]; then
    echo "---- kubesim log (last 40 lines) ----" >&2
    tail -n 40 "$tmp/sim.log" >&2 || true
  fi
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT INT TERM

export HOME=$tmp/home
mkdir -p "$HOME"
fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*" >&2; fails=$((fails + 1)); }
check() { # check "description" command...
  local d=$1; shift
  if "$@"; then pass "$d"; else fail "$d"; fi
}
contains() { grep -q -- "$2" <<<"$1" || { echo "     got: $(head -c 600 <<<"$1")" >&2; return 1; }; }
eq() { [[ "$1" == "$2" ]] || { echo "     got: '$1', want: '$2'" >&2; return 1; }; }

start_sim() {
  rm -f "$tmp/port" "$tmp/cport"
  "$PY" "$SIM" --certs "$tmp/certs" --port 0 --port-file "$tmp/port" --pid-file "$tmp/pid" \
    --kubeconfig-out "$tmp/kubeconfig" --token "t0k3n-$$" \
    --token-kubeconfig-out "$tmp/kubeconfig-token" \
    --control-port 0 --control-port-file "$tmp/cport" "$@" >"$tmp/sim.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    [[ -s "$tmp/port" && -s "$tmp/cport" ]] && break
    kill -0 "$pid" 2>/dev/null || { echo "kubesim died" >&2; cat "$tmp/sim.log" >&2; exit 1; }
    sleep 0.1
  done
  [[ -s "$tmp/port" ]] || { echo "kubesim did not start" >&2; exit 1; }
  PORT=$(cat "$tmp/port")
  CPORT=$(cat "$tmp/cport")
  API=https://127.0.0.1:$PORT
  CTL=http://127.0.0.1:$CPORT
}
stop_sim() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

k() { "$KUBECTL_BIN" --kubeconfig "$tmp/kubeconfig" --cache-dir "$tmp/kcache" "$@"; }
c() { # curl with the admin client certificate; prints body, then the HTTP code on the last line
  curl -sS --cacert "$tmp/certs/ca.crt" --cert "$tmp/certs/client.crt" \
    --key "$tmp/certs/client.key" -w '\n%{http_code}' "$@"
}

# ------------------------------------------------------------------ part 0: unit tests
if "$PY" "$SRC/tests/kubesim/selftest.py" >"$tmp/selftest.log" 2>&1; then
  pass "kubesim selftest.py ($(grep -o 'Ran [0-9]* tests' "$tmp/selftest.log"))"
else
  cat "$tmp/selftest.log" >&2
  fail "kubesim selftest.py"
fi

# ------------------------------------------------------------------ part 1: basics
# generous delays: the checks "not Established yet" and "webhook down" must not race a
# loaded machine
start_sim --crd-delay 8 --deploy-delay 6
echo "# kubesim on $API (control $CTL)"

out=$(k version -o json 2>&1) || fail "kubectl version exited $?"
check "kubectl version reaches the server" contains "$out" '"gitVersion": "v1.32.0-kubesim"'

out=$(curl -sS --cacert "$tmp/certs/ca.crt" -w '\n%{http_code}' "$API/api/v1/namespaces")
check "no credentials -> 401 Status" contains "$out" '"reason":"Unauthorized"'
check "no credentials -> HTTP 401" contains "$(tail -n1 <<<"$out")" '^401$'
out=$(curl -sS --cacert "$tmp/certs/ca.crt" -H "Authorization: Bearer wrong" \
  -w '\n%{http_code}' "$API/api/v1/namespaces")
check "wrong token -> 401" contains "$(tail -n1 <<<"$out")" '^401$'
out=$("$KUBECTL_BIN" --kubeconfig "$tmp/kubeconfig-token" --cache-dir "$tmp/kcache2" get ns default -o name 2>&1)
check "token kubeconfig works" contains "$out" 'namespace/default'

out=$(k api-resources 2>&1)
check "discovery lists deployments" contains "$out" 'deployments .*deploy .*apps/v1 .*true .*Deployment'
check "discovery lists CRDs" contains "$out" 'customresourcedefinitions .*crd,crds'

cat >"$tmp/ns-crd.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels: {team: blue}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
EOF
cat >"$tmp/cr.yaml" <<'EOF'
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: demo}
spec: {size: 3, color: red}
EOF

out=$(k apply --server-side -f "$tmp/ns-crd.yaml" 2>&1)
check "apply namespace + CRD" contains "$out" 'customresourcedefinition.apiextensions.k8s.io/widgets.example.com serverside-applied'
out=$(c "$API/apis/example.com/v1/namespaces/demo/widgets")
# the real server answers the plain-text 404 of its mux here, not a Status
check "CR endpoint 404 before the CRD is Established" contains "$out" '^404 page not found$'
out=$(k apply --server-side -f "$tmp/cr.yaml" 2>&1) && fail "expected an error from: k apply --server-side -f \"\$tmp/cr.yaml\" 2>&1"
check "kubectl refuses the CR before Established" contains "$out" 'no matches for kind "Widget" in version "example.com/v1"'
out=$(k get crd widgets.example.com -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')
check "CRD not Established yet" contains "$out" 'False'
out=$(k wait --for condition=established --timeout=60s crd/widgets.example.com 2>&1)
check "CRD becomes Established" contains "$out" 'condition met'
out=$(k apply --server-side -f "$tmp/cr.yaml" 2>&1)
check "CR applied after Established" contains "$out" 'widget.example.com/w1 serverside-applied'
out=$(k get wd -n demo 2>&1)
check "get CR by short name with printer column" contains "$out" 'w1 .*3 '
out=$(k get widget w1 -n demo -o jsonpath='{.spec.color}/{.metadata.generation}')
check "CR content and generation" contains "$out" '^red/1$'

rv1=$(k get widget w1 -n demo -o jsonpath='{.metadata.resourceVersion}')
k apply --server-side -f "$tmp/cr.yaml" >/dev/null 2>&1
rv2=$(k get widget w1 -n demo -o jsonpath='{.metadata.resourceVersion}')
check "identical re-apply keeps resourceVersion ($rv1)" eq "$rv1" "$rv2"

out=$(k apply --server-side -f - 2>&1 <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-nons, namespace: missing}
data: {a: "1"}
EOF
) && fail "expected an error from: k apply --server-side -f - 2>&1"
check "object in a missing namespace -> NotFound" contains "$out" 'namespaces "missing" not found'

# apply conflict between two field managers
cat >"$tmp/cm.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm1
  namespace: demo
  labels: {app: web, tier: front}
data: {color: blue, size: "1"}
EOF
k apply --server-side --field-manager=alice -f "$tmp/cm.yaml" >/dev/null
out=$(k apply --server-side --field-manager=bob -f - 2>&1 <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1, namespace: demo}
data: {color: red, size: "1"}
EOF
) && fail "expected an error from: k apply --server-side --field-manager=bob -f - 2>&1"
check "SSA conflict reported with the real message" contains "$out" 'Apply failed with 1 conflict: conflict with "alice": .data.color'
out=$(k apply --server-side --field-manager=bob --force-conflicts -f - 2>&1 <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1, namespace: demo}
data: {color: red}
EOF
)
check "force-conflicts takes ownership" contains "$out" 'configmap/cm1 serverside-applied'
out=$(k get cm cm1 -n demo -o jsonpath='{.data.color}' --show-managed-fields)
check "forced value stored" contains "$out" '^red$'
mf=$(k get cm cm1 -n demo -o json --show-managed-fields)
check "managedFields has both managers" contains "$mf" '"manager": "bob"'
# alice drops 'size' from her config: the field goes away (nobody else owns it)
out=$(k apply --server-side --field-manager=alice -f - 2>&1 <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm1
  namespace: demo
  labels: {app: web, tier: front}
data: {}
EOF
)
out=$(k get cm cm1 -n demo -o jsonpath='{.data}')
check "field removed when its only manager stops applying it" eq "$out" '{"color":"red"}'

# stale resourceVersion on PUT
rv=$(k get cm cm1 -n demo -o jsonpath='{.metadata.resourceVersion}')
body='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1","namespace":"demo","resourceVersion":"'$rv'"},"data":{"color":"green"}}'
out=$(c -X PUT -H 'Content-Type: application/json' -d "$body" "$API/api/v1/namespaces/demo/configmaps/cm1")
check "PUT with current resourceVersion -> 200" contains "$(tail -n1 <<<"$out")" '^200$'
out=$(c -X PUT -H 'Content-Type: application/json' -d "$body" "$API/api/v1/namespaces/demo/configmaps/cm1")
check "PUT with stale resourceVersion -> 409" contains "$(tail -n1 <<<"$out")" '^409$'
check "stale PUT message" contains "$out" 'Operation cannot be fulfilled on configmaps \\"cm1\\": the object has been modified'
k get cm cm1 -n demo -o yaml >"$tmp/cm1.yaml"
sed -i 's/resourceVersion: .*/resourceVersion: "1"/' "$tmp/cm1.yaml"
out=$(k replace -f "$tmp/cm1.yaml" 2>&1) && fail "expected an error from: k replace -f \"\$tmp/cm1.yaml\" 2>&1"
check "kubectl replace with stale resourceVersion -> Conflict" contains "$out" 'the object has been modified'

# create / AlreadyExists / invalid names / namespace mismatch
out=$(k create configmap proto-cm -n demo --from-literal=a=b 2>&1)
check "kubectl create configmap (protobuf body)" contains "$out" 'configmap/proto-cm created'
out=$(k get cm proto-cm -n demo -o jsonpath='{.data.a}')
check "protobuf body decoded" eq "$out" "b"
out=$(k create deployment proto-dep -n demo --image=x 2>&1) && fail "expected an error from: k create deployment proto-dep -n demo --image=x 2>&1"
check "protobuf body of an undecoded kind -> 415" contains "$out" 'kubesim decodes protobuf only for'
k delete cm proto-cm -n demo >/dev/null
mkcm() { printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: demo}\n' "$1" | k create -f - 2>&1; }
out=$(mkcm cm1) && fail "expected an error from: mkcm cm1"
check "create existing -> AlreadyExists" contains "$out" 'configmaps "cm1" already exists'
out=$(mkcm Bad_Name) && fail "expected an error from: mkcm Bad_Name"
check "invalid name -> Invalid (422)" contains "$out" 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'
out=$(c -X POST -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"other"}}' \
  "$API/api/v1/namespaces/demo/configmaps")
check "namespace mismatch -> 400" contains "$(tail -n1 <<<"$out")" '^400$'
out=$(c -X POST -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}' "$API/api/v1/namespaces/demo/configmaps")
check "missing name -> 422" contains "$out" 'metadata.name: Required value: name or generateName is required'
out=$(c -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
  --data-binary $'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y1\n' \
  "$API/api/v1/namespaces/demo/configmaps/y1")
check "apply without fieldManager -> 422" contains "$out" 'fieldManager: Required value: is required for apply patch'
out=$(c -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
  --data-binary $'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y1\ndata:\n  k: |\n    multi\n    line\n' \
  "$API/api/v1/namespaces/demo/configmaps/y1?fieldManager=yaml-client")
check "apply with a YAML body -> 201" contains "$(tail -n1 <<<"$out")" '^201$'
check "YAML block scalar decoded" contains "$out" '"k":"multi\\nline\\n"'
out=$(c -X PATCH -H 'Content-Type: application/apply-patch+yaml' -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"},"data":{"a":"b"}}' \
  "$API/api/v1/namespaces/demo/configmaps/dry?fieldManager=x&dryRun=All")
check "dryRun=All apply answers 201" contains "$(tail -n1 <<<"$out")" '^201$'
out=$(c "$API/api/v1/namespaces/demo/configmaps/dry")
check "dryRun=All stored nothing" contains "$(tail -n1 <<<"$out")" '^404$'
out=$(c -X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"data":{"m":"1"}}' \
  "$API/api/v1/namespaces/demo/configmaps/y1")
check "merge patch" contains "$out" '"m":"1"'
out=$(c -X PATCH -H 'Content-Type: application/json-patch+json' -d '[{"op":"add","path":"/data/j","value":"2"}]' \
  "$API/api/v1/namespaces/demo/configmaps/y1")
check "json patch" contains "$out" '"j":"2"'

# label selectors
mkcm sel-a >/dev/null && k label cm sel-a -n demo env=prod tier=db >/dev/null
mkcm sel-b >/dev/null && k label cm sel-b -n demo env=dev >/dev/null
mkcm sel-c >/dev/null && k label cm sel-c -n demo app=web >/dev/null
out=$(k get cm -n demo -l 'env in (prod,staging)' -o name)
check "label selector: in" eq "$out" "configmap/sel-a"
out=$(k get cm -n demo -l 'env,env!=prod' -o name)
check "label selector: exists + !=" eq "$out" "configmap/sel-b"
out=$(k get cm -n demo -l '!env,app=web' -o name)
check "label selector: !key + =" eq "$out" "configmap/sel-c"
out=$(k get cm -n demo -l 'env notin (dev)' -o name | sort | tr '\n' ' ')
check "label selector: notin" eq "$out" "configmap/cm1 configmap/sel-a configmap/sel-c configmap/y1 "
out=$(k get cm -n demo --field-selector metadata.name=sel-b -o name)
check "field selector metadata.name" eq "$out" "configmap/sel-b"
out=$(c "$API/api/v1/namespaces/demo/configmaps?limit=2")
check "limit returns a continue token" contains "$out" '"continue":"'

# watch
c -N "$API/api/v1/namespaces/demo/configmaps?watch=1&timeoutSeconds=60&labelSelector=w%3D1" >"$tmp/watch.out" 2>&1 &
wpid=$!
sleep 0.5
mkcm watched >/dev/null
k label cm watched -n demo w=1 >/dev/null
k delete cm watched -n demo >/dev/null
for _ in $(seq 100); do grep -q '"type":"DELETED"' "$tmp/watch.out" && break; sleep 0.2; done
kill "$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true
check "watch stream: ADDED on label match" grep -q '"type":"ADDED".*"name":"watched"' "$tmp/watch.out"
check "watch stream: DELETED" grep -q '"type":"DELETED".*"name":"watched"' "$tmp/watch.out"

# delete
out=$(k delete widget w1 -n demo 2>&1)
check "delete CR" contains "$out" 'widget.example.com "w1" deleted'
out=$(k get widget w1 -n demo 2>&1) && fail "expected an error from: k get widget w1 -n demo 2>&1"
check "deleted CR is NotFound" contains "$out" 'widgets.example.com "w1" not found'

# deployments roll out; webhook refuses guarded kinds until its backend is available
cat >"$tmp/webhook.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: guard, namespace: demo}
spec:
  selector: {app: guard}
  ports: [{port: 443, targetPort: 9443}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: guard, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: guard}}
  template:
    metadata: {labels: {app: guard}}
    spec:
      containers: [{name: guard, image: example.com/guard:1}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: guard}
webhooks:
- name: guard.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  clientConfig:
    service: {name: guard, namespace: demo, path: /validate}
  rules:
  - apiGroups: ["example.com"]
    apiVersions: ["v1"]
    operations: [CREATE, UPDATE]
    resources: [widgets]
EOF
k apply --server-side -f "$tmp/webhook.yaml" >/dev/null
out=$(k apply --server-side -f "$tmp/cr.yaml" 2>&1) && fail "expected an error from: k apply --server-side -f \"\$tmp/cr.yaml\" 2>&1"
check "webhook down -> InternalError with the real message shape" contains "$out" 'Internal error occurred: failed calling webhook "guard.example.com": failed to call webhook: Post "https://guard.demo.svc:443/validate?timeout=10s": dial tcp 10.96.[0-9.]*:443: connect: connection refused'
out=$(k rollout status deployment/guard -n demo --timeout=60s 2>&1)
check "deployment rolls out" contains "$out" 'successfully rolled out'
out=$(k get deploy guard -n demo -o jsonpath='{.status.availableReplicas}/{.status.observedGeneration}')
check "deployment status" eq "$out" "1/1"
out=$(k apply --server-side -f "$tmp/cr.yaml" 2>&1)
check "webhook up -> CR accepted" contains "$out" 'widget.example.com/w1 serverside-applied'

# immutable fields, scale and status subresources, strategic merge patch, finalizers
out=$(k apply --server-side -f - 2>&1 <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: guard, namespace: demo}
spec:
  selector: {matchLabels: {app: other}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: guard, image: example.com/guard:1}]
EOF
) && fail "expected an error from: k apply --server-side -f - 2>&1"
check "changing a Deployment selector -> field is immutable" contains "$out" 'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map\[string\]string{"app":"other"}, MatchExpressions:\[\]v1.LabelSelectorRequirement(nil)}: field is immutable'
out=$(k scale deployment guard -n demo --replicas=3 2>&1)
check "kubectl scale (scale subresource)" contains "$out" 'deployment.apps/guard scaled'
out=$(k get deploy guard -n demo -o jsonpath='{.spec.replicas}/{.metadata.generation}/{.status.observedGeneration}')
check "scale bumps generation, status catches up later" eq "$out" "3/2/1"
out=$(c -X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"replicas":9},"status":{"replicas":7}}' \
  "$API/apis/apps/v1/namespaces/demo/deployments/guard/status")
out=$(head -n -1 <<<"$out" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["spec"]["replicas"], d["status"]["replicas"])')
check "status subresource changes only status" eq "$out" "3 7"
k patch deployment guard -n demo -p '{"spec":{"template":{"spec":{"containers":[{"name":"guard","image":"example.com/guard:2"}]}}}}' >/dev/null
out=$(k get deploy guard -n demo -o jsonpath='{.spec.template.spec.containers[0].image}')
check "strategic merge patch merges containers by name" eq "$out" "example.com/guard:2"
out=$(k patch widget w1 -n demo --type=strategic -p '{"spec":{"size":1}}' 2>&1) && fail "expected an error from: k patch widget w1 -n demo --type=strategic -p '{\"spec\":{\"size\":1}}' 2>&1"
check "strategic merge patch on a custom resource -> 415" contains "$out" 'UnsupportedMediaType\|unknown format\|is not supported'
k apply --server-side -f - >/dev/null <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: held, namespace: demo, finalizers: [example.com/hold]}
EOF
k delete cm held -n demo --wait=false >/dev/null
out=$(k get cm held -n demo -o jsonpath='{.metadata.deletionTimestamp}')
check "object with a finalizer stays with deletionTimestamp" test -n "$out"
k patch cm held -n demo --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null
out=$(k get cm held -n demo 2>&1) && fail "expected an error from: k get cm held -n demo 2>&1"
check "removing the last finalizer deletes it" contains "$out" 'configmaps "held" not found'
out=$(c -X DELETE "$API/api/v1/namespaces/demo/configmaps?labelSelector=env")
check "delete collection returns the deleted list" contains "$out" '"kind":"ConfigMapList"'
out=$(k get cm -n demo -l env -o name)
check "delete collection deleted the selected objects" eq "$out" ""

# kubectl's ApplySet prune (what kfboot's inventory follows)
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: as1, namespace: demo}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: as2, namespace: demo}\n' >"$tmp/as.yaml"
KUBECTL_APPLYSET=true k apply --server-side --prune --applyset=configmaps/set1 -n demo -f "$tmp/as.yaml" >/dev/null
head -n 3 "$tmp/as.yaml" >"$tmp/as1.yaml"
out=$(KUBECTL_APPLYSET=true k apply --server-side --prune --applyset=configmaps/set1 -n demo -f "$tmp/as1.yaml" 2>&1)
check "kubectl applyset prune" contains "$out" 'configmap/as2 pruned'

# faults: 429 with Retry-After (kubectl retries), 500, dropped connection, stats
curl -sS -X POST "$CTL/kubesim/stats/reset" >/dev/null
curl -sS -X POST -d '{"throttle_count": 2, "retry_after": 1, "verbs": ["get"]}' "$CTL/kubesim/faults" >/dev/null
out=$(k get cm cm1 -n demo -o name 2>&1)
check "kubectl retries 429 + Retry-After and succeeds" eq "$out" "configmap/cm1"
out=$(curl -sS -X POST -d '{"error_count": 1}' "$CTL/kubesim/faults")
out=$(c "$API/api/v1/namespaces/demo/configmaps/cm1")
check "injected 500" contains "$out" '"reason":"InternalError"'
curl -sS -X POST -d '{"drop_count": 1}' "$CTL/kubesim/faults" >/dev/null
set +e
c "$API/api/v1/namespaces/demo/configmaps/cm1" >/dev/null 2>&1
rc=$?
set -e
check "dropped connection (curl exit $rc)" test "$rc" -ne 0
curl -sS -X DELETE "$CTL/kubesim/faults" >/dev/null
out=$(curl -sS "$CTL/kubesim/stats")
check "stats: counts by verb" contains "$out" '"get":'
check "stats: faults injected" contains "$out" '"throttle":2'
check "stats: cpu time" contains "$out" '"cpu":{"user":'
out=$(c -X POST "$API/kubesim/stats/reset")
check "control endpoints also on the API port (authenticated)" contains "$(tail -n1 <<<"$out")" '^200$'

# namespace deletion removes content
out=$(k delete ns demo --timeout=20s 2>&1)
check "delete namespace" contains "$out" 'namespace "demo" deleted'
out=$(k get cm -n demo -o name 2>&1)
check "namespace content gone" test -z "$out"
out=$(k delete ns default 2>&1) && fail "expected an error from: k delete ns default 2>&1"
check "default namespace protected" contains "$out" 'namespaces "default" is forbidden: this namespace may not be deleted'
stop_sim

# ------------------------------------------------------------------ part 2: Kubeflow example
FULL=$DATA/kubeflow-manifests/full-example.yaml
if [[ -f "$FULL" ]]; then
  start_sim
  t0=$(date +%s.%N)
  ok=0
  for i in $(seq 1 10); do
    if k apply --server-side -f "$FULL" >"$tmp/kf-$i.log" 2>&1; then
      ok=$i
      break
    fi
    echo "# try $i: $(grep -vc 'serverside-applied' "$tmp/kf-$i.log") lines of errors, e.g.: $(grep -v 'serverside-applied' "$tmp/kf-$i.log" | head -n1 | cut -c1-160)"
    sleep 2
  done
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  check "kubectl apply --server-side full-example.yaml succeeds (try $ok, ${secs}s)" test "$ok" -gt 0
  n=$(k get crd -o name | wc -l)
  check "all 74 CRDs stored ($n)" test "$n" -ge 74
  n=$(k get deploy -A -o name | wc -l)
  check "49 deployments stored ($n)" test "$n" -ge 49
  out=$(k get certificates.cert-manager.io -A -o name | wc -l)
  check "cert-manager Certificates stored ($out)" test "$out" -ge 6
  out=$(curl -sS "$CTL/kubesim/stats")
  echo "# stats: $(cut -c1-300 <<<"$out")"
  stop_sim
else
  echo "# $FULL missing: Kubeflow part skipped" >&2
  fail "Kubeflow manifests not found at $FULL"
fi

if [[ $fails -ne 0 ]]; then
  echo "$fails check(s) failed" >&2
  exit 1
fi
echo "all kubesim checks passed"
