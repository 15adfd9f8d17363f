#!/usr/bin/env bash
# shellcheck disable=SC2154 # tmp comes from tests/kubesim/lib.sh
# test_xor_platform.sh - the example platform repository (pipelines/platform)
# and the Katib experiment against the API simulator with Kubeflow's CRDs
# (Katib, KServe, Profiles from the 26.03 manifests) installed: every object
# passes a server-side dry run with strict field validation, and a broken
# InferenceService is refused (so the dry run checks something). Also: each
# environment's pin names a version of models/xor.yaml whose metrics pass
# the environment's gates; the monitoring ConfigMaps match monitoring/; the
# scrape configuration is one Prometheus accepts; the compare step writes
# its run report ConfigMap through a service account token (plain HTTPS).
# Rendering with `kfboot render` is tested by test_xor_render.sh.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
PY=/usr/bin/python3
$PY -c 'import yaml, numpy, matplotlib' 2>/dev/null || { echo "SKIP: /usr/bin/python3 lacks yaml, numpy or matplotlib"; exit 77; }
command -v kubectl >/dev/null || { echo "SKIP: no kubectl"; exit 77; }
MANIFESTS=${KF_DATA_DIR:?}/kubeflow-manifests
P=$KF_SOURCE_DIR/pipelines/platform
# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

step "1. repository consistency: pins, gates, generated monitoring files"
$PY - "$P" <<'PYEOF' || fail "repository consistency"
import json, os, sys, yaml
root = sys.argv[1]
repo = yaml.safe_load(open(os.path.join(root, "kfboot.yaml")))
assert repo["kind"] == "Repository" and repo["apiVersion"] == "kfboot.io/v1alpha1"
envs = {e["name"]: e for e in repo["spec"]["environments"]}
assert list(envs) == ["dev", "staging", "prod"], list(envs)
model = yaml.safe_load(open(os.path.join(root, "models/xor.yaml")))
assert model["kind"] == "Model"
versions = {v["version"]: v for v in model["spec"]["versions"]}
for v in versions.values():
    for k in ("version", "uri", "format", "metrics", "source", "created"):
        assert k in v, "model version lacks " + k
    assert v["format"] == "kfboot.io/mlp-v1"
for name, e in envs.items():
    pins = yaml.safe_load(open(os.path.join(root, "environments", name, "models.yaml")))
    ver = pins["xor"] if isinstance(pins["xor"], str) else pins["xor"]["version"]
    assert ver in versions, "%s pins unknown version %s" % (name, ver)
    for g in e.get("promotion", {}).get("gates", []):
        assert versions[ver]["metrics"][g["metric"]] >= g["min"], (name, g)
    prof = yaml.safe_load(open(os.path.join(root, "environments", name, "resources", "profile.yaml")))
    assert prof["kind"] == "Profile" and prof["metadata"]["name"] == e["namespace"], name
    assert prof["spec"]["owner"]["kind"] == "User" and "@" in prof["spec"]["owner"]["name"]
    for p in e["paths"]:
        assert os.path.exists(os.path.join(root, p)) or p.startswith("pipelines/xor/"), p
assert envs["staging"]["promotion"] == {"from": "dev", "gates": [{"metric": "test_accuracy", "min": 0.97}]}
assert envs["prod"]["promotion"]["from"] == "staging" and envs["prod"]["promotion"]["soak"] == "1h"
pl = repo["spec"]["pipelines"][0]
assert pl["watch"] == ["pipelines/xor/**"] and pl["environments"] == ["dev"] and pl["schedule"]["cron"]
assert "pipelines/xor/katib-experiment.yaml" in envs["dev"]["paths"]
# the pipeline's parameters are ones the package declares
pkg = yaml.safe_load(open(os.path.join(root, "..", "xor", "pipeline.yaml")))
declared = set(pkg["root"]["inputDefinitions"]["parameters"])
assert set(pl["parameters"]) <= declared, set(pl["parameters"]) - declared
# monitoring ConfigMaps are what gen-configmaps.py makes of monitoring/
docs = list(yaml.safe_load_all(open(os.path.join(root, "apps/monitoring/monitoring.yaml"))))
dash = json.loads(docs[0]["data"]["kfboot-xor.json"])
assert dash == json.load(open(os.path.join(root, "monitoring/grafana-dashboard.json"))), "dashboard ConfigMap is stale"
assert docs[1]["data"]["prometheus.yml"] == open(os.path.join(root, "monitoring/prometheus-scrape.yaml")).read(), "scrape ConfigMap is stale"
assert len(dash["panels"]) >= 8 and all("gridPos" in p for p in dash["panels"])
exprs = " ".join(t["expr"] for p in dash["panels"] for t in p.get("targets", []))
assert "kfboot_reconcile" in exprs and "kfboot_predict" in exprs
print("consistent: 3 environments, pins and gates hold, monitoring files in sync")
PYEOF

step "2. the Prometheus scrape configuration"
if command -v promtool >/dev/null; then
	if promtool check config "$P/monitoring/prometheus-scrape.yaml" >"$tmp/prom" 2>&1; then
		cat "$tmp/prom"
	elif grep -q "field kubernetes_sd_configs not found" "$tmp/prom"; then
		# Debian's Prometheus is built without Kubernetes service discovery:
		# check everything else by giving each job a file_sd instead.
		echo "note: this promtool lacks kubernetes_sd_configs (Debian build); checking the rest with file_sd_configs"
		$PY - "$P/monitoring/prometheus-scrape.yaml" "$tmp/prom-file-sd.yaml" <<'PYEOF'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
for j in c["scrape_configs"]:
    assert j.pop("kubernetes_sd_configs")
    j["file_sd_configs"] = [{"files": ["targets/*.json"]}]
yaml.safe_dump(c, open(sys.argv[2], "w"))
PYEOF
		promtool check config "$tmp/prom-file-sd.yaml" || fail "scrape configuration"
	else
		cat "$tmp/prom"
		fail "promtool refused the scrape configuration"
	fi
else
	echo "note: no promtool here; scrape configuration not checked"
fi

step "3. simulator with Kubeflow's Katib, KServe and Profile CRDs"
start_sim main --token "xor-test-token-0123456789"
kc() { kubectl --kubeconfig "$KC" "$@"; }
$PY - "$MANIFESTS"/katib.yaml "$MANIFESTS"/kserve.yaml "$MANIFESTS"/profiles.yaml >"$tmp/crds.yaml" <<'PYEOF'
import sys, yaml
out = []
for f in sys.argv[1:]:
    out += [d for d in yaml.safe_load_all(open(f)) if d and d.get("kind") == "CustomResourceDefinition"]
yaml.safe_dump_all(out, sys.stdout)
PYEOF
"$KFBOOT" apply -f "$tmp/crds.yaml" --kubeconfig "$KC" --wait --timeout 2m >"$tmp/crd.out" 2>&1 ||
	{ cat "$tmp/crd.out"; fail "installing the CRDs"; }
for crd in experiments.kubeflow.org inferenceservices.serving.kserve.io profiles.kubeflow.org; do
	kc get crd "$crd" -o name >/dev/null || fail "CRD $crd missing"
done
# Kubeflow's profile controller makes the namespaces of the Profiles; no
# controller runs here, so the test makes them.
for ns in ml-dev ml-staging ml-prod; do kc create namespace "$ns" >/dev/null; done

dry() { # NS FILE...
	local ns=$1
	shift
	for f in "$@"; do
		kc apply --server-side --dry-run=server --field-manager=kfboot --validate=strict -n "$ns" -f "$f" \
			>>"$tmp/dry.out" 2>"$tmp/dry.err" || { cat "$tmp/dry.err"; fail "server-side dry run of $f in $ns"; }
	done
}

step "4. server-side dry run of every object, per environment"
dry ml-dev "$KF_SOURCE_DIR/pipelines/xor/katib-experiment.yaml"
grep -q "experiment.kubeflow.org/xor-mlp-hpo serverside-applied (server dry run)" "$tmp/dry.out" || fail "experiment: $(cat "$tmp/dry.out")"
n_objects=1
for env in dev staging prod; do
	ns=ml-$env
	mapfile -t files < <(cd "$P" && $PY - "$env" <<'PYEOF'
import os, sys, yaml
repo = yaml.safe_load(open("kfboot.yaml"))
env = [e for e in repo["spec"]["environments"] if e["name"] == sys.argv[1]][0]
for p in env["paths"]:
    if p.startswith("pipelines/"):
        continue  # the Katib experiment, dry-run above
    if os.path.isdir(p):
        for f in sorted(os.listdir(p)):
            assert f != "models.yaml", "pins must stay out of the paths"
            if f.endswith(".yaml"):
                print(os.path.abspath(os.path.join(p, f)))
    else:
        print(os.path.abspath(p))
PYEOF
)
	[[ ${#files[@]} -ge 2 ]] || fail "$env: no files found"
	dry "$ns" "${files[@]}"
	# the serving template with this environment's pin filled in
	ver=$($PY -c 'import sys,yaml; p=yaml.safe_load(open(sys.argv[1]))["xor"]; print(p if isinstance(p,str) else p["version"])' "$P/environments/$env/models.yaml")
	uri=$($PY -c 'import sys,yaml; print([v for v in yaml.safe_load(open(sys.argv[1]))["spec"]["versions"] if v["version"]==sys.argv[2]][0]["uri"])' "$P/models/xor.yaml" "$ver")
	sed -e "s|\${MODEL_NAME}|xor|g" -e "s|\${MODEL_VERSION}|$ver|g" -e "s|\${MODEL_URI}|$uri|g" \
		-e "s|\${REPLICAS:=1}|1|g" "$P/serving/xor.yaml" >"$tmp/isvc-$env.yaml"
	grep -q '\${' "$tmp/isvc-$env.yaml" && fail "serving template has a variable the test does not know"
	dry "$ns" "$tmp/isvc-$env.yaml"
	n_objects=$((n_objects + $(cat "${files[@]}" "$tmp/isvc-$env.yaml" | grep -c '^kind:')))
done
grep -q "inferenceservice.serving.kserve.io/xor serverside-applied (server dry run)" "$tmp/dry.out" || fail "isvc not dry-run"
grep -q "profile.kubeflow.org/ml-prod serverside-applied (server dry run)" "$tmp/dry.out" || fail "profile not dry-run"
echo "$n_objects objects passed the server-side dry run"
[[ $(kc get experiments -A -o name | wc -l) == 0 ]] || fail "a dry run created something"

step "5. broken objects are refused (the dry run checks schemas)"
sed 's/containerPort: 8080/containerPortt: 8080/' "$tmp/isvc-dev.yaml" >"$tmp/bad-isvc.yaml"
if kc apply --server-side --dry-run=server --validate=strict -n ml-dev -f "$tmp/bad-isvc.yaml" >/dev/null 2>"$tmp/bad.err"; then
	fail "an InferenceService with an unknown field passed the dry run"
fi
grep -q "containerPortt" "$tmp/bad.err" || fail "refusal does not name the field: $(cat "$tmp/bad.err")"
cat "$tmp/bad.err"
# Katib's Experiment CRD has no schema (x-kubernetes-preserve-unknown-fields),
# so the server accepts any spec: check what Katib's webhook would.
$PY - "$KF_SOURCE_DIR/pipelines/xor/katib-experiment.yaml" <<'PYEOF' || fail "katib experiment"
import re, sys, yaml
e = yaml.safe_load(open(sys.argv[1]))
s = e["spec"]
assert e["apiVersion"] == "kubeflow.org/v1beta1" and e["kind"] == "Experiment"
assert s["objective"] == {"type": "maximize", "goal": 0.98, "objectiveMetricName": "test_accuracy",
                          "additionalMetricNames": ["accuracy", "loss"]}, s["objective"]
assert s["metricsCollectorSpec"]["collector"]["kind"] == "StdOut"
names = {p["name"] for p in s["parameters"]}
assert names == {"learning_rate", "hidden"}
for p in s["parameters"]:
    assert p["parameterType"] in ("int", "double") and float(p["feasibleSpace"]["min"]) < float(p["feasibleSpace"]["max"])
tt = s["trialTemplate"]
refs = {t["name"]: t["reference"] for t in tt["trialParameters"]}
assert set(refs.values()) <= names
job = tt["trialSpec"]
assert job["kind"] == "Job" and job["apiVersion"] == "batch/v1"
pod = job["spec"]["template"]
assert pod["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
c = [c for c in pod["spec"]["containers"] if c["name"] == tt["primaryContainerName"]]
assert len(c) == 1 and c[0]["command"][:2] == ["xor", "trial"]
used = set(re.findall(r"\$\{trialParameters\.(\w+)\}", " ".join(c[0]["command"])))
assert used == set(refs), (used, refs)
print("katib experiment: objective, StdOut collector, parameters and trial template consistent")
PYEOF
# The trial command prints what the StdOut collector's filter reads.
$PY "$KF_SOURCE_DIR/pipelines/xor/xor.py" trial --hidden=8 --learning-rate=1.0 --epochs=300 --n-train=2000 >"$tmp/trial.out"
grep -Eq '^test_accuracy=[0-9.]+$' "$tmp/trial.out" && grep -Eq '^accuracy=[0-9.]+$' "$tmp/trial.out" &&
	grep -Eq '^loss=[0-9.]+$' "$tmp/trial.out" || fail "trial output: $(cat "$tmp/trial.out")"

step "6. compare writes the run report ConfigMap with a service account token"
sa=$tmp/sa
mkdir -p "$sa"
printf '%s' "xor-test-token-0123456789" >"$sa/token"
printf 'ml-dev' >"$sa/namespace"
cp "$tmp/certs/ca.crt" "$sa/ca.crt"
server=$(kc config view --minify -o jsonpath='{.clusters[0].cluster.server}')
"$KFBOOT" pipeline run --local "$KF_SOURCE_DIR/pipelines/xor/pipeline.yaml" --out "$tmp/run" --run-id report-test-1 \
	-p n_train=2000 -p epochs=200 -q >"$tmp/run.out" 2>"$tmp/run.err" ||
	{ cat "$tmp/run.out" "$tmp/run.err"; fail "local run for the report"; }
# The same step, run again as it would run in the cluster:
args=$(jq -r '.tasks[] | select(.name == "compare") | .dir' "$tmp/run/run.json")
KFBOOT_SA_DIR=$sa KFBOOT_API_SERVER=$server $PY "$KF_SOURCE_DIR/pipelines/xor/xor.py" compare \
	--test "$tmp/run/generate/test_data" --linear-model "$tmp/run/train-linear/model" \
	--hidden-model "$tmp/run/train-hidden/model" --linear-history "$tmp/run/train-linear/history" \
	--hidden-history "$tmp/run/train-hidden/history" --evaluation "$tmp/run/evaluate/metrics" \
	--linear-accuracy "$(cat "$tmp/run/evaluate/outputs/linear_accuracy")" \
	--hidden-accuracy "$(cat "$tmp/run/evaluate/outputs/hidden_accuracy")" \
	--run-id report-test-1 --model-uri "minio://mlpipeline/v2/artifacts/xor-study/report-test-1/train-hidden/model" \
	--loss-plot "$args/l.png" --accuracy-plot "$args/a.png" --regions-plot "$args/r.png" \
	--metrics-out "$args/m.json" --report always >"$tmp/cmp.out" 2>&1 || { cat "$tmp/cmp.out"; fail "compare with a report"; }
grep -q "run report written: configmap ml-dev/kfboot-run-report-test-1" "$tmp/cmp.out" || fail "$(cat "$tmp/cmp.out")"
kc get configmap -n ml-dev kfboot-run-report-test-1 -o json >"$tmp/cm.json"
jq -e '.metadata.labels["kfboot.io/run-id"] == "report-test-1"' "$tmp/cm.json" >/dev/null || fail "label"
jq -r '.data["metrics.json"]' "$tmp/cm.json" | jq -e '.test_accuracy > 0.9 and .run_id == "report-test-1"' >/dev/null || fail "metrics.json"
jq -r '.data["model.json"]' "$tmp/cm.json" | jq -e '.format == "kfboot.io/mlp-v1" and (.uri | startswith("minio://"))' >/dev/null || fail "model.json"
# a wrong token is refused with a clear message
printf 'wrong-token-xxxxxxxxxxxxxxxx' >"$sa/token"
if KFBOOT_SA_DIR=$sa KFBOOT_API_SERVER=$server $PY "$KF_SOURCE_DIR/pipelines/xor/xor.py" compare \
	--test "$tmp/run/generate/test_data" --linear-model "$tmp/run/train-linear/model" \
	--hidden-model "$tmp/run/train-hidden/model" --linear-history "$tmp/run/train-linear/history" \
	--hidden-history "$tmp/run/train-hidden/history" --evaluation "$tmp/run/evaluate/metrics" \
	--linear-accuracy 0.5 --hidden-accuracy 0.99 --run-id report-test-2 \
	--loss-plot "$args/l.png" --accuracy-plot "$args/a.png" --regions-plot "$args/r.png" \
	--metrics-out "$args/m.json" >"$tmp/cmp2.out" 2>&1; then
	fail "a wrong token wrote a report"
fi
grep -q "run report: configmap ml-dev/kfboot-run-report-test-2: HTTP 401" "$tmp/cmp2.out" || fail "$(cat "$tmp/cmp2.out")"
echo "ok: test_xor_platform"
