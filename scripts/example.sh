#!/bin/sh
# example.sh: set up, build, and run kfboot's main job on the bundled
# example, offline: validate the example profiles and print the plan for
# the lab profile (what `kfboot up` would do, per host and phase); run the
# XOR study locally with the local runner (pipelines/xor) and render the
# example platform repository (pipelines/platform) when `kfboot render` is
# built in.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "example: building kfboot (build/)"
if ! ./scripts/build.sh >"$log" 2>&1; then
	cat "$log" >&2
	exit 1
fi
KFBOOT=./build/kfboot
for f in profiles/*.yaml; do
	if $KFBOOT help | grep -q '^  validate '; then
		$KFBOOT validate -f "$f"
	fi
done
if $KFBOOT help | grep -q '^  plan '; then
	$KFBOOT plan -f profiles/lab.yaml
fi

# The XOR study (pipelines/xor), run locally by the local runner: offline,
# a few seconds of CPU. Prints both test accuracies and where the plots are.
if $KFBOOT help | grep -q '^  pipeline ' && /usr/bin/python3 -c 'import numpy, matplotlib' 2>/dev/null; then
	out=build/example/xor
	echo "example: the XOR study, locally: kfboot pipeline run --local pipelines/xor/pipeline.yaml --out $out"
	rm -rf "$out"
	$KFBOOT pipeline run --local pipelines/xor/pipeline.yaml --out "$out" --run-id example -q
	/usr/bin/python3 - "$out/compare/metrics" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
print("example: XOR test accuracy: hidden layer (%d tanh units) %.3f, linear %.3f"
      % (m["hidden_units"], m["test_accuracy"], m["linear_test_accuracy"]))
PYEOF
	echo "example: XOR plots (PNG): $out/scatter/plot $out/compare/loss_plot $out/compare/accuracy_plot $out/compare/regions_plot"
else
	echo "example: the XOR study needs /usr/bin/python3 with numpy and matplotlib (scripts/setup.sh installs them, as root)"
fi

# The example platform repository (pipelines/platform), rendered per
# environment when the GitOps reconciler is built in.
if $KFBOOT help | grep -q '^  render '; then
	repo=$(mktemp -d)
	trap 'rm -f "$log"; rm -rf "$repo" "$repo.state"' EXIT
	mkdir -p "$repo/pipelines"
	cp -r pipelines/platform/. "$repo/"
	cp -r pipelines/xor "$repo/pipelines/"
	git -C "$repo" init -q -b main
	git -C "$repo" -c user.name=example -c user.email=example@example.com add -A
	git -C "$repo" -c user.name=example -c user.email=example@example.com commit -q -m "example platform"
	for env in dev staging prod; do
		$KFBOOT render --repo "$repo" --env "$env" --state-dir "$repo.state" >"$repo/.render-$env"
		n=$(grep -c '^kind:' "$repo/.render-$env" || true)
		echo "example: platform environment $env renders: $n objects"
	done
else
	echo "example: kfboot render is not built in yet: the example platform repository (pipelines/platform) was not rendered"
fi
