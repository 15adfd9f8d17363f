#!/bin/sh
# example.sh: set up, build, and run kfboot's main job on the bundled
# example, offline: validate the example profiles and print the plan for
# the lab profile (what `kfboot up` would do, per host and phase).
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
