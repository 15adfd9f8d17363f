#!/usr/bin/env bash
# test_xor_shape.sh - pipelines/xor/pipeline.yaml has the shape of a package
# the KFP SDK compiles: every key path it uses (names of components,
# executors, tasks, parameters and artifacts replaced by *) occurs, with the
# same kind of value, in the upstream compiled example
# (tests/data/upstream/kfp-api/iris_pipeline_compiled.yaml), apart from a
# short list of IR features the example happens not to use; and the
# sections every compiled package has are there. Then kfboot's own
# package validation accepts it.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
PY=/usr/bin/python3
$PY -c 'import yaml' 2>/dev/null || { echo "SKIP: /usr/bin/python3 has no yaml module"; exit 77; }
IRIS=${KF_DATA_DIR:-$KF_SOURCE_DIR/tests/data/upstream}/kfp-api/iris_pipeline_compiled.yaml
[[ -f $IRIS ]] || IRIS=$KF_SOURCE_DIR/tests/data/upstream/kfp-api/iris_pipeline_compiled.yaml
$PY - "$IRIS" "$KF_SOURCE_DIR/pipelines/xor/pipeline.yaml" <<'PYEOF'
import sys, yaml
NAMED = {"components", "executors", "tasks", "parameters", "artifacts"}
# IR features the iris example does not use but the KFP v2 IR defines
# (pipeline_spec.proto): constants, task output parameters, output
# parameters of a component, a pipeline description.
EXTRA = {
    "pipelineInfo.description",
    "components.*.outputDefinitions.parameters",
    "components.*.outputDefinitions.parameters.*",
    "components.*.outputDefinitions.parameters.*.parameterType",
    "root.dag.tasks.*.inputs.parameters.*.runtimeValue",
    "root.dag.tasks.*.inputs.parameters.*.taskOutputParameter",
    "root.dag.tasks.*.inputs.parameters.*.runtimeValue.constant",
    "root.dag.tasks.*.inputs.parameters.*.taskOutputParameter.outputParameterKey",
    "root.dag.tasks.*.inputs.parameters.*.taskOutputParameter.producerTask",
}
def kind(v):
    return "map" if isinstance(v, dict) else "list" if isinstance(v, list) else "scalar"
def walk(node, path, out):
    if isinstance(node, dict):
        for k, v in node.items():
            key = "*" if path and path[-1] in NAMED else str(k)
            p = path + (key,)
            out.setdefault(".".join(p), set()).add(kind(v))
            walk(v, p, out)
    elif isinstance(node, list):
        for v in node:
            walk(v, path, out)
    return out
iris = walk(yaml.safe_load(open(sys.argv[1])), (), {})
xor = walk(yaml.safe_load(open(sys.argv[2])), (), {})
bad = []
for p, kinds in sorted(xor.items()):
    if p in EXTRA:
        continue
    if p not in iris:
        bad.append("path not in the upstream example: " + p)
    elif kinds != iris[p]:
        bad.append("%s: %s here, %s upstream" % (p, sorted(kinds), sorted(iris[p])))
for required in ("schemaVersion", "pipelineInfo.name", "components.*.executorLabel",
                 "deploymentSpec.executors.*.container.image",
                 "deploymentSpec.executors.*.container.command",
                 "deploymentSpec.executors.*.container.args",
                 "root.dag.tasks.*.componentRef.name", "root.dag.tasks.*.taskInfo.name",
                 "root.dag.tasks.*.dependentTasks",
                 "root.dag.tasks.*.inputs.artifacts.*.taskOutputArtifact.producerTask",
                 "root.inputDefinitions.parameters.*.defaultValue"):
    if required not in xor:
        bad.append("missing: " + required)
doc = yaml.safe_load(open(sys.argv[2]))
if doc.get("schemaVersion") != "2.1.0":
    bad.append("schemaVersion is not 2.1.0")
used = set()
for t in doc["root"]["dag"]["tasks"].values():
    used.add(t["componentRef"]["name"])
    assert t["taskInfo"]["name"]
if used != set(doc["components"]):
    bad.append("components not used by a task: %s" % sorted(set(doc["components"]) - used))
if bad:
    print("\n".join(bad)); sys.exit(1)
print("shape: %d key paths, all in the upstream example or the listed IR extras" % len(xor))
PYEOF
"$KFBOOT" pipeline validate "$KF_SOURCE_DIR/pipelines/xor/pipeline.yaml"
"$KFBOOT" pipeline validate "$IRIS"
echo "ok: test_xor_shape"
