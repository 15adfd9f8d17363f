#!/usr/bin/env bash
# test_promote.sh - model versions in git, `kfboot promote`, `kfboot models`
# and write-back against a real git remote (a bare repository over file://)
# and the kubesim API server:
#   1. render: the pinned version of xor becomes an InferenceService in dev
#      (storageUri from the model file, labels, namespace);
#   2. promote xor --to staging with gates holding: exactly one commit,
#      pushed, with the trailers; models.yaml differs only in the pinned
#      scalar (every other byte - comments, order, quoting - kept);
#   3. a failing gate: exit 1 naming the gate and its value, no commit;
#   4. --dry-run prints the diff and the message, commits nothing;
#   5. a canary pin renders canaryTrafficPercent; an unknown version in a pin
#      is a render error with file:line:col;
#   6. rollback (an older version) is a commit saying so;
#   7. soak: without a cluster status, refused with the reason; --force
#      pushes with Kfboot-Forced: yes; with the status ConfigMap the soak
#      holds and the promotion lands;
#   8. reconcile --once applies the promoted version (InferenceService in
#      staging, made Ready by a stand-in KServe controller);
#   9. write-back: `kfboot models register` reads the run record ConfigMap,
#      appends v4 and pins it in dev (autoPin) in one commit with the
#      trailers; the same run again registers nothing; reconcile applies v4
#      in dev; `kfboot models -o json` shows versions, pins, live health and
#      a curl line;
#  10. without --repo the current clone's origin is used; a branch checked
#      out in a working tree is never moved;
#  11. promotion.auto: a running reconciler promotes dev's pin into staging
#      when the gates hold (one commit) and applies it;
#  12. write-back in the loop: a SUCCEEDED run with a report in the run
#      journal becomes v5 (one commit, dev pinned), dev applies it, and
#      staging's auto-promotion carries it on;
#  13. a remote that is down: a few tries with backoff, then one message
#      naming the remote and the tries; nothing is committed anywhere.
# Env: KFBOOT, KF_SOURCE_DIR (set by CTest). Needs git, kubectl, jq.
# shellcheck disable=SC2154 # tmp, KC, pids come from tests/kubesim/lib.sh
set -euo pipefail

: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
for t in git kubectl jq curl; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not found"; exit 77; }
done
[[ -x /usr/bin/python3 ]] || { echo "SKIP: /usr/bin/python3 not found"; exit 77; }

# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
fail() { echo "FAIL: $*" >&2; [[ -n ${KEEP:-} ]] && cp -r "$tmp" /tmp/promote-keep; exit 1; }
step() { echo "--- $*"; }
kc() { kubectl --kubeconfig "$KC" "$@"; }

R=$tmp/remote.git
W=$tmp/work
git init -q --bare -b main "$R"
git init -q -b main "$W"
g() { git -C "$W" -c user.email=t@example.com -c user.name=test "$@"; }
mkdir -p "$W/models" "$W/serving" "$W/apps" "$W/environments/dev" "$W/environments/staging" "$W/environments/prod"
cat >"$W/kfboot.yaml" <<'YAML'
apiVersion: kfboot.io/v1alpha1
kind: Repository
spec:
  environments:
    - name: dev
      namespace: ml-dev
      paths: [apps]
      autoPin: true
      timeout: 30s
    - name: staging
      namespace: ml-staging
      paths: [apps]
      timeout: 30s
      substitute: { REPLICAS: "2" }
      promotion:
        from: dev
        gates:
          - { metric: test_accuracy, min: 0.97 }
          - { metric: loss, max: 0.1 }
    - name: prod
      namespace: ml-prod
      paths: [apps]
      timeout: 30s
      promotion:
        from: staging
        gates:
          - { metric: test_accuracy, min: 0.97 }
        soak: 2s
  models:
    - name: xor
      versions: models/xor.yaml
      serving: serving/xor.yaml
YAML
cat >"$W/models/xor.yaml" <<'YAML'
# Versions of the xor model (write-back appends here).
apiVersion: kfboot.io/v1
kind: Model
metadata:
  name: xor
versions:
  - version: v1
    uri: s3://models/xor/v1/model.bin
    format: kfboot-mlp
    metrics: {test_accuracy: 0.98, loss: 0.05}
    source: {commit: a1b2c3d4a1b2c3d4a1b2c3d4a1b2c3d4a1b2c3d4, pipeline: xor-train, run: run-a}
    created: "2026-12-01T10:00:00Z"
  - version: v2
    uri: s3://models/xor/v2/model.bin
    format: kfboot-mlp
    metrics: {test_accuracy: 0.991, loss: 0.02}
    source: {commit: "2222222222222222222222222222222222222222", pipeline: xor-train, run: run-b}
    created: "2026-12-02T10:00:00Z"
  - version: v3
    uri: s3://models/xor/v3/model.bin
    format: kfboot-mlp
    metrics: {test_accuracy: 0.62, loss: 0.4}
    source: {commit: c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3, pipeline: xor-train, run: run-c}
    created: "2026-12-03T10:00:00Z"
YAML
cat >"$W/serving/xor.yaml" <<'YAML'
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ${MODEL_NAME}
  annotations:
    kfboot.io/format: ${MODEL_FORMAT}
spec:
  predictor:
    minReplicas: ${REPLICAS:=1}
    model:
      modelFormat: {name: sklearn}
      protocolVersion: v2
      storageUri: ${MODEL_URI}
YAML
cat >"$W/apps/cm.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data: {tier: ml}
YAML
printf '# dev: write-back pins new versions here (autoPin)\nxor: v2\n' >"$W/environments/dev/models.yaml"
cat >"$W/environments/staging/models.yaml" <<'YAML'
# staging pins - promoted from dev
other: 'v7'   # not a model kfboot knows: kept as is
xor: "v1"   # quoted on purpose
YAML
printf 'xor: v1\n' >"$W/environments/prod/models.yaml"
# "other" is not in kfboot.yaml: declare it so the pins file renders.
sed -i 's|^  models:|  models:\n    - name: other\n      versions: models/other.yaml|' "$W/kfboot.yaml"
printf 'kind: Model\nversions:\n  - {version: v7, uri: s3://o/v7, format: f}\n' >"$W/models/other.yaml"
g add -A
g commit -qm "initial"
g push -q "$R" main
REPO=file://$R
ST=$tmp/state
count() { git -C "$R" rev-list --count main; }
show() { git -C "$R" show "main:$1"; }
kfb() { "$KFBOOT" "$@" --repo "$REPO" --state-dir "$ST"; }

step "1. render: the pinned version becomes an InferenceService"
kfb render --env dev -o json >"$tmp/r1.json" || fail "render dev"
isvc=$(jq -c '[.. | objects | select(.kind? == "InferenceService")][0]' "$tmp/r1.json")
[[ $(jq -r .spec.predictor.model.storageUri <<<"$isvc") == s3://models/xor/v2/model.bin ]] || fail "dev storageUri: $isvc"
[[ $(jq -r '.metadata.labels["kfboot.io/model-version"]' <<<"$isvc") == v2 ]] || fail "version label: $isvc"
[[ $(jq -r .metadata.namespace <<<"$isvc") == ml-dev ]] || fail "namespace: $isvc"
[[ $(jq -r '.spec.predictor.canaryTrafficPercent // "none"' <<<"$isvc") == none ]] || fail "no canary expected"

step "2. promote xor --to staging: one commit, trailers, only the scalar changed"
before=$(count)
show environments/staging/models.yaml >"$tmp/staging.before"
kfb promote xor --to staging --author "Release Bot <bot@example.com>" >"$tmp/p2.out" 2>&1 || { cat "$tmp/p2.out"; fail "promote staging"; }
cat "$tmp/p2.out"
[[ $(count) == $((before + 1)) ]] || fail "expected exactly one commit"
show environments/staging/models.yaml >"$tmp/staging.after"
sed 's|xor: "v1"|xor: "v2"|' "$tmp/staging.before" | cmp - "$tmp/staging.after" || fail "models.yaml changed beyond the pinned scalar"
msg=$(git -C "$R" log -1 --format=%B main)
grep -qx 'Kfboot-Promote: xor v2 dev -> staging' <<<"$msg" || fail "trailer Kfboot-Promote: $msg"
grep -qx 'Kfboot-Gates: test_accuracy 0.991 >= 0.97; loss 0.02 <= 0.1' <<<"$msg" || fail "trailer Kfboot-Gates: $msg"
[[ $(git -C "$R" log -1 --format='%an <%ae>' main) == "Release Bot <bot@example.com>" ]] || fail "author"
[[ $(git -C "$R" diff --name-only main~1 main) == environments/staging/models.yaml ]] || fail "other files changed"
# Again: nothing to do.
kfb promote xor --to staging >"$tmp/p2b.out" 2>&1 || fail "second promote"
grep -q "nothing to do" "$tmp/p2b.out" || fail "second promote should do nothing: $(cat "$tmp/p2b.out")"
[[ $(count) == $((before + 1)) ]] || fail "a no-op made a commit"

step "3. a failing gate: refused, every failed gate named, no commit"
before=$(count)
set +e
kfb promote xor --to staging --version v3 >"$tmp/p3.out" 2>&1
rc=$?
set -e
cat "$tmp/p3.out"
[[ $rc == 1 ]] || fail "failing gate: exit $rc"
grep -q 'gates failed: test_accuracy 0.62 < 0.97; loss 0.4 > 0.1' "$tmp/p3.out" || fail "failed gates not named"
[[ $(count) == "$before" ]] || fail "a refused promotion made a commit"
kfb promote xor --to staging --version v3 -o json >"$tmp/p3.json" 2>/dev/null && fail "json: should fail"
[[ $(jq -r .result "$tmp/p3.json") == refused && $(jq '[.gates[] | select(.ok == false)] | length' "$tmp/p3.json") == 2 ]] || fail "json refusal: $(cat "$tmp/p3.json")"

step "4. --dry-run prints the change and commits nothing"
kfb promote xor --to prod --version v2 --dry-run --force >"$tmp/p4.out" 2>&1 || { cat "$tmp/p4.out"; fail "dry run"; }
cat "$tmp/p4.out"
grep -qx -- '-xor: v1' "$tmp/p4.out" || fail "dry run diff (-)"
grep -qx -- '+xor: v2' "$tmp/p4.out" || fail "dry run diff (+)"
grep -q '^Kfboot-Promote: xor v2 staging -> prod$' "$tmp/p4.out" || fail "dry run message"
grep -q 'nothing committed' "$tmp/p4.out" || fail "dry run says so"
[[ $(count) == "$before" ]] || fail "a dry run made a commit"

step "5. canary pins render canaryTrafficPercent; an unknown version is a render error"
printf '# staging pins - promoted from dev\nother: '"'"'v7'"'"'   # not a model kfboot knows: kept as is\nxor: {version: v2, canary: {version: v1, percent: 10}}\n' >"$W/environments/staging/models.yaml"
g fetch -q "$R" main && g reset -q --soft FETCH_HEAD
g add -A && g commit -qm "canary v1 in staging" && g push -q "$R" HEAD:main
kfb render --env staging -o json >"$tmp/r5.json" || fail "render staging"
isvc=$(jq -c '[.. | objects | select(.kind? == "InferenceService")][0]' "$tmp/r5.json")
[[ $(jq -r .spec.predictor.canaryTrafficPercent <<<"$isvc") == 10 ]] || fail "canaryTrafficPercent: $isvc"
[[ $(jq -r .spec.predictor.model.storageUri <<<"$isvc") == s3://models/xor/v1/model.bin ]] || fail "canary renders the canary version: $isvc"
[[ $(jq -r .spec.predictor.minReplicas <<<"$isvc") == 2 ]] || fail "env substitution in the template: $isvc"
printf 'xor: v9\n' >"$W/environments/dev/models.yaml"
g add -A && g commit -qm "bad pin" && g push -q "$R" HEAD:main
set +e
kfb render --env dev >"$tmp/r5b.out" 2>&1
rc=$?
set -e
[[ $rc != 0 ]] || fail "an unknown version rendered"
grep -q "environments/dev/models.yaml:1:6: model 'xor' has no version 'v9'" "$tmp/r5b.out" || fail "unknown version not named with file:line:col: $(cat "$tmp/r5b.out")"
printf '# dev: write-back pins new versions here (autoPin)\nxor: v2\n' >"$W/environments/dev/models.yaml"
g add -A && g commit -qm "fix pin" && g push -q "$R" HEAD:main

step "6. promoting the canary ends it; rollback is a promotion of an older version"
kfb promote xor --to staging --version v1 >"$tmp/p6.out" 2>&1 || { cat "$tmp/p6.out"; fail "promote canary"; }
[[ $(show environments/staging/models.yaml | tail -1) == "xor: v1" ]] || fail "canary promotion: $(show environments/staging/models.yaml)"
kfb promote xor --to staging --version v2 >"$tmp/p6b.out" 2>&1 || { cat "$tmp/p6b.out"; fail "forward"; }
kfb promote xor --to staging --version v1 >"$tmp/p6c.out" 2>&1 || { cat "$tmp/p6c.out"; fail "rollback"; }
cat "$tmp/p6c.out"
grep -q "rolled back xor v1 to staging" "$tmp/p6c.out" || fail "rollback output"
[[ $(git -C "$R" log -1 --format=%s main) == "rollback xor v1 to staging (was v2)" ]] || fail "rollback subject"
kfb promote xor --to staging --version v2 >/dev/null 2>&1 || fail "forward again"

step "7. soak: refused without a status, --force says so, holds with the status"
before=$(count)
set +e
kfb promote xor --to prod >"$tmp/p7.out" 2>&1
rc=$?
set -e
cat "$tmp/p7.out"
[[ $rc == 1 ]] || fail "soak without status: exit $rc"
grep -q 'soak unknown (want >= 2s)' "$tmp/p7.out" || fail "soak refusal: the gate"
grep -q 'no cluster given' "$tmp/p7.out" || fail "soak refusal: the reason"
[[ $(count) == "$before" ]] || fail "refused soak made a commit"
start_sim main
kc create namespace kfboot-system >/dev/null
head=$(git -C "$R" rev-parse main)
long_ago=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)
jq -n --arg c "$head" --arg t "$long_ago" '{environments: [{name: "staging", commit: $c, appliedCommit: $c, result: "applied", health: "healthy", lastChange: $t}]}' >"$tmp/status.json"
kc -n kfboot-system create configmap kfboot-status --from-file=status.json="$tmp/status.json" >/dev/null
sleep 2.2
kfb promote xor --to prod --kubeconfig "$KC" >"$tmp/p7b.out" 2>&1 || { cat "$tmp/p7b.out"; fail "promote prod with soak"; }
cat "$tmp/p7b.out"
msg=$(git -C "$R" log -1 --format=%B main)
grep -Eq '^Kfboot-Gates: test_accuracy 0.991 >= 0.97; soak [0-9]+s >= 2s$' <<<"$msg" || fail "soak trailer: $msg"
! grep -q Kfboot-Forced <<<"$msg" || fail "not forced"
kfb promote xor --to prod --version v3 --force >"$tmp/p7c.out" 2>&1 || { cat "$tmp/p7c.out"; fail "forced"; }
grep -q 'Kfboot-Forced: yes' <<<"$(git -C "$R" log -1 --format=%B main)" || fail "forced commit must say so"
grep -q 'warning: gates failed' "$tmp/p7c.out" || fail "forced must warn"
kfb promote xor --to prod --version v2 >/dev/null 2>&1 || fail "rollback prod to v2"

step "8. reconcile --once applies the promoted version"
kc apply -f - >/dev/null <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: inferenceservices.serving.kserve.io
spec:
  group: serving.kserve.io
  names: {kind: InferenceService, listKind: InferenceServiceList, plural: inferenceservices, singular: inferenceservice, shortNames: [isvc]}
  scope: Namespaced
  versions:
    - name: v1beta1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
YAML
# a CRD is served only once Established (the simulator takes a moment, as a real server does)
kc wait --for condition=established crd/inferenceservices.serving.kserve.io --timeout=60s >/dev/null ||
	fail "the InferenceService CRD never became Established"
for ns in ml-dev ml-staging ml-prod; do kc create namespace "$ns" >/dev/null; done
# A stand-in KServe controller: every InferenceService becomes Ready.
ready='{"status":{"url":"http://xor-NS.example.com","conditions":[{"type":"PredictorReady","status":"True"},{"type":"IngressReady","status":"True"},{"type":"Ready","status":"True"},{"type":"Stopped","status":"False"}],"modelStatus":{"transitionStatus":"UpToDate","states":{"activeModelState":"Loaded","targetModelState":"Loaded"}}}}'
(
	while :; do
		for ns in ml-dev ml-staging ml-prod; do
			if kc -n "$ns" get inferenceservice xor >/dev/null 2>&1; then
				kc -n "$ns" patch inferenceservice xor --subresource=status --type=merge -p "${ready//NS/$ns}" >/dev/null 2>&1 || true
			fi
		done
		sleep 0.3
	done
) &
pids+=($!)
"$KFBOOT" reconcile --repo "$REPO" --state-dir "$ST" --kubeconfig "$KC" --once --env staging -o json >"$tmp/rec8.json" 2>"$tmp/rec8.err" || { cat "$tmp/rec8.json" "$tmp/rec8.err"; fail "reconcile staging"; }
[[ $(kc -n ml-staging get inferenceservice xor -o jsonpath='{.spec.predictor.model.storageUri}') == s3://models/xor/v2/model.bin ]] || fail "staging serves v2"

step "9. write-back from a run record: one commit, v4 pinned in dev, applied"
cat >"$tmp/run.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: kfboot-run-7f3c
  namespace: ml-dev
  labels: {kfboot.io/run-id: 7f3c}
data:
  metrics.json: '{"test_accuracy": 0.995, "loss": 0.01}'
  model.json: '{"uri": "s3://models/xor/7f3c/model.bin", "format": "kfboot-mlp"}'
YAML
kc apply -f "$tmp/run.yaml" >/dev/null
jq -n '{runs: [{commit: "4444444444444444444444444444444444444444", run_id: "7f3c", state: "SUCCEEDED"}]}' >"$tmp/journal.json"
kc -n kfboot-system create configmap kfboot-runs-dev --from-file=xor-train="$tmp/journal.json" >/dev/null
before=$(count)
kfb models register xor --run 7f3c --env dev --kubeconfig "$KC" >"$tmp/p9.out" 2>&1 || { cat "$tmp/p9.out"; fail "register"; }
cat "$tmp/p9.out"
[[ $(count) == $((before + 1)) ]] || fail "write-back: one commit"
msg=$(git -C "$R" log -1 --format=%B main)
for t in 'Kfboot-Model: xor v4' 'Kfboot-Run: 7f3c' 'Kfboot-Source-Commit: 4444444444444444444444444444444444444444'; do
	grep -qx "$t" <<<"$msg" || fail "write-back trailer $t: $msg"
done
[[ $(git -C "$R" diff --name-only main~1 main | tr '\n' ' ') == "environments/dev/models.yaml models/xor.yaml " ]] || fail "write-back files"
show models/xor.yaml | grep -q 'run: "7f3c"' || fail "v4 source.run"
[[ $(show environments/dev/models.yaml | tail -1) == "xor: v4" ]] || fail "dev pinned v4"
[[ $(show environments/staging/models.yaml | tail -1) == *"v2"* ]] || fail "staging untouched"
kfb models register xor --run 7f3c --env dev --kubeconfig "$KC" >"$tmp/p9b.out" 2>&1 || fail "register again"
grep -q 'already registered as xor v4' "$tmp/p9b.out" || fail "same run twice: $(cat "$tmp/p9b.out")"
[[ $(count) == $((before + 1)) ]] || fail "the same run registered twice"
"$KFBOOT" reconcile --repo "$REPO" --state-dir "$ST" --kubeconfig "$KC" --once --env dev -o json >"$tmp/rec9.json" 2>"$tmp/rec9.err" || { cat "$tmp/rec9.json" "$tmp/rec9.err"; fail "reconcile dev"; }
[[ $(kc -n ml-dev get inferenceservice xor -o jsonpath='{.spec.predictor.model.storageUri}') == s3://models/xor/7f3c/model.bin ]] || fail "dev serves v4"
kfb models xor --kubeconfig "$KC" -o json >"$tmp/m.json" || fail "models"
jq -e '.[0].versions | map(.version) == ["v1","v2","v3","v4"]' "$tmp/m.json" >/dev/null || fail "versions: $(cat "$tmp/m.json")"
jq -e '.[0].environments[] | select(.env == "dev") | .live.health == "healthy" and .live.version == "v4"' "$tmp/m.json" >/dev/null || fail "dev live: $(cat "$tmp/m.json")"
jq -r '.[0].environments[] | select(.env == "dev") | .live.curl' "$tmp/m.json" | grep -q "Host: xor-ml-dev.example.com.*/v2/models/xor/infer" || fail "curl line"
kfb models --kubeconfig "$KC" >"$tmp/m.txt" || fail "models text"
cat "$tmp/m.txt"
grep -q "staging pins v2" "$tmp/m.txt" || fail "models text pins"

step "10. no --repo: the clone's origin; a working tree's checked-out branch is never moved"
git -C "$W" remote add origin "$R"
before=$(count)
(cd "$W" && "$KFBOOT" promote xor --to staging --version v1 --state-dir "$ST") >"$tmp/p10.out" 2>&1 || { cat "$tmp/p10.out"; fail "promote from a clone"; }
[[ $(count) == $((before + 1)) ]] || fail "promote from a clone: one commit on origin"
g fetch -q origin main && g reset -q --hard origin/main
wt_head=$(git -C "$W" rev-parse HEAD)
set +e
"$KFBOOT" promote xor --to staging --version v2 --repo "$W" --state-dir "$ST" >"$tmp/p10b.out" 2>&1
rc=$?
set -e
[[ $rc == 1 ]] || fail "push into a working tree: exit $rc"
grep -q "checked out in that working tree" "$tmp/p10b.out" || fail "working tree refusal: $(cat "$tmp/p10b.out")"
[[ $(git -C "$W" rev-parse HEAD) == "$wt_head" ]] || fail "the working tree's branch moved"

step "11. promotion.auto: the running reconciler promotes by itself when the gates hold"
sed -i 's/^        from: dev$/        from: dev\n        auto: true/' "$W/kfboot.yaml"
g add -A && g commit -qm "staging: auto-promote from dev" && g push -q origin HEAD:main
"$KFBOOT" reconcile --repo "$REPO" --state-dir "$ST" --kubeconfig "$KC" --env dev --env staging --interval 1s \
	>"$tmp/rec11.out" 2>&1 &
recpid=$!
pids+=("$recpid")
for _ in $(seq 120); do
	[[ $(kc -n ml-staging get inferenceservice xor -o jsonpath='{.spec.predictor.model.storageUri}') == s3://models/xor/7f3c/model.bin ]] && break
	sleep 0.5
done
kill "$recpid"
wait "$recpid" || true
cat "$tmp/rec11.out"
[[ $(kc -n ml-staging get inferenceservice xor -o jsonpath='{.spec.predictor.model.storageUri}') == s3://models/xor/7f3c/model.bin ]] || fail "auto-promotion not applied in staging"
all_msgs=$(git -C "$R" log --format=%B main)
grep -qx 'Kfboot-Promote: xor v4 dev -> staging' <<<"$all_msgs" || fail "no auto-promotion commit"
grep -q 'auto-promoted xor v4 dev -> staging' "$tmp/rec11.out" || fail "auto-promotion not logged"
[[ $(grep -c '^promote xor v4 to staging' <<<"$all_msgs") == 1 ]] || fail "auto-promotion committed more than once"

step "12. the running reconciler writes back a succeeded run (journal with a report) and applies it"
jq -n '{runs: [{run_id: "9a9a", commit: "5555555555555555555555555555555555555555", state: "SUCCEEDED",
	metrics: {test_accuracy: 0.999, loss: 0.001}, model: {uri: "s3://models/xor/9a9a/model.bin", format: "kfboot-mlp"}},
	{run_id: "8b8b", state: "FAILED"}]}' >"$tmp/j12.json"
kc -n kfboot-system create configmap kfboot-runs-auto --from-file=xor="$tmp/j12.json" >/dev/null
kc -n kfboot-system label configmap kfboot-runs-auto kfboot.io/journal=runs kfboot.io/environment=dev >/dev/null
before=$(count)
"$KFBOOT" reconcile --repo "$REPO" --state-dir "$ST" --kubeconfig "$KC" --env dev --env staging --interval 1s \
	>"$tmp/rec12.out" 2>&1 &
recpid=$!
pids+=("$recpid")
for _ in $(seq 120); do
	[[ $(kc -n ml-staging get inferenceservice xor -o jsonpath='{.spec.predictor.model.storageUri}') == s3://models/xor/9a9a/model.bin ]] && break
	sleep 0.5
done
kill "$recpid"
wait "$recpid" || true
cat "$tmp/rec12.out"
[[ $(kc -n ml-dev get inferenceservice xor -o jsonpath='{.spec.predictor.model.storageUri}') == s3://models/xor/9a9a/model.bin ]] || fail "write-back not applied in dev"
[[ $(kc -n ml-staging get inferenceservice xor -o jsonpath='{.spec.predictor.model.storageUri}') == s3://models/xor/9a9a/model.bin ]] || fail "auto-promotion of the written-back version not applied in staging"
all_msgs=$(git -C "$R" log --format=%B main)
[[ $(grep -cx 'Kfboot-Model: xor v5' <<<"$all_msgs") == 1 ]] || fail "one write-back commit for run 9a9a"
grep -qx 'Kfboot-Run: 9a9a' <<<"$all_msgs" || fail "write-back trailer Kfboot-Run"
[[ $(count) == $((before + 2)) ]] || fail "write-back + auto-promotion: $(( $(count) - before )) commits"
! grep -q 8b8b <<<"$(show models/xor.yaml)" || fail "a failed run was registered"

step "13. a remote that is down: retried with backoff, then a clear final message"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
before=$(count)
rc=0
"$KFBOOT" promote xor --to staging --version v1 --repo "git://127.0.0.1:$port/repo.git" --state-dir "$tmp/st13" \
	>"$tmp/p13.out" 2>&1 || rc=$?
cat "$tmp/p13.out"
((rc != 0)) || fail "a promotion to a remote that is down succeeded"
grep -q "fetch 'git://127.0.0.1:$port/repo.git': .*(gave up after 4 attempts)" "$tmp/p13.out" || fail "no final message naming the remote and the tries"
[[ $(count) == "$before" ]] || fail "a commit appeared"
echo "PASS"
