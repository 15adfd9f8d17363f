#!/usr/bin/env bash
# test_plan.sh - `kfboot plan -f profiles/lab.yaml` works offline (run with
# no network at all when we can make a network namespace), writes nothing,
# and shows every host with every phase and the exact commands; -o json
# says the same for machines; --reset shows the reset plan; a broken profile
# is reported with its position and exit status 1.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
lab=$KF_SOURCE_DIR/profiles/lab.yaml

# No network: a fresh network namespace has only a downed loopback.
offline=()
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
	offline=(unshare -n)
fi
mkdir -p "$T/home"
run() { HOME=$T/home XDG_STATE_HOME="" "${offline[@]}" "$KFBOOT" "$@"; }

run plan -f "$lab" >"$T/plan" 2>"$T/err" || fail "plan exited $? ($(cat "$T/err"))"
[ ! -s "$T/err" ] || fail "plan wrote to stderr: $(cat "$T/err")"
[ -z "$(find "$T/home" -mindepth 1)" ] || fail "plan wrote files: $(find "$T/home" -mindepth 1)"
grep -q "^Plan for cluster 'lab': 1 control plane + 2 workers, Kubernetes 1.31.4, flannel" "$T/plan" ||
	fail "no headline: $(head -n 2 "$T/plan")"
grep -q "Nothing was contacted or changed" "$T/plan" || fail "plan does not say it changed nothing"
grep -q "^Phases: 1 connect · 2 gather facts · 3 preflight" "$T/plan" || fail "no phase overview"
for h in cp1 w1 w2; do
	grep -q "^$h  " "$T/plan" || fail "host $h missing"
done
for p in "connect" "gather facts" "preflight" "prepare nodes" "init control plane" "network plugin" \
	"join workers" "fetch kubeconfig" "labels and taints" "wait for nodes"; do
	grep -q "^ *[0-9]* $p" "$T/plan" || fail "phase '$p' missing"
done
# exact commands, per host and user
# shellcheck disable=SC2016 # $HOME is literal: the remote shell expands it
grep -qF '$ sudo -n env KF_K8S_VERSION=1.31.4 sh "$HOME/.kfboot/prepare.sh"' "$T/plan" || fail "prepare command"
grep -q 'ubuntu@10.0.0.12:2222' "$T/plan" || fail "w2's port"
grep -q 'label node w1 gpu=true --overwrite' "$T/plan" || fail "w1's label"
grep -q '│ kind: ClusterConfiguration' "$T/plan" || fail "kubeadm configuration not shown"
[ "$(grep -c '^ *[0-9]* wait for nodes' "$T/plan")" = 1 ] || fail "wait appears under more than the control plane"
# w1 has no init phase
awk '/^w1  /{f=1} /^w2  /{f=0} f' "$T/plan" | grep -q "init control plane" && fail "w1 shows init"

run plan -f "$lab" -o json >"$T/plan.json" || fail "plan -o json exited $?"
/usr/bin/python3 - "$T/plan.json" <<'PY' || fail "plan -o json is not the expected JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["cluster"] == "lab"
hosts = {h["name"]: h for h in d["hosts"]}
assert list(hosts) == ["cp1", "w1", "w2"], list(hosts)
cp = [p["id"] for p in hosts["cp1"]["phases"]]
assert cp == ["connect", "facts", "preflight", "prepare", "init", "network", "join",
              "kubeconfig", "labels", "wait", "kubeflow", "reconciler"], cp
w1 = [p["id"] for p in hosts["w1"]["phases"]]
assert w1 == ["connect", "facts", "preflight", "prepare", "join", "labels"], w1
cmds = [a.get("command", "") for p in hosts["w1"]["phases"] for a in p["actions"]]
assert any("join.sh" in c for c in cmds), cmds
PY

run plan -f "$lab" --reset >"$T/reset" || fail "plan --reset exited $?"
grep -q "^Reset plan for cluster 'lab'" "$T/reset" || fail "reset plan headline"
grep -q 'reset.sh' "$T/reset" || fail "reset plan does not run reset.sh"

printf 'apiVersion: kfboot.io/v1alpha1\nkind: Cluster\nmetadata: { name: x }\nspec:\n  hostz: []\n' >"$T/bad.yaml"
set +e
run plan -f "$T/bad.yaml" >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "broken profile exited $rc, want 1"
grep -q "bad.yaml:5:3" "$T/err" || fail "broken profile without position: $(cat "$T/err")"
set +e
run plan >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "plan without -f exited $rc, want 2"
echo "PASS: test_plan${offline[*]:+ (in a network namespace without network)}"
