#!/usr/bin/env bash
# test_xor_render.sh - every environment of the example platform repository
# (pipelines/platform, with pipelines/xor inside it, committed to a scratch
# git repository) renders with `kfboot render`: the objects each
# environment should have, every namespaced one in the environment's
# namespace, no ${VAR} left but Katib's own ${trialParameters.*}.
# Skipped (77) while `kfboot render` is not built in.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
if ! "$KFBOOT" help | grep -q '^  render '; then
	echo "SKIP: 'kfboot render' is not built in yet (the GitOps reconciler has not landed on this branch)"
	exit 77
fi
command -v jq >/dev/null || { echo "SKIP: no jq"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

repo=$tmp/platform
mkdir -p "$repo/pipelines"
cp -r "$KF_SOURCE_DIR/pipelines/platform/." "$repo/"
cp -r "$KF_SOURCE_DIR/pipelines/xor" "$repo/pipelines/"
git -C "$repo" init -q -b main
git -C "$repo" -c user.name=t -c user.email=t@example.com add -A
git -C "$repo" -c user.name=t -c user.email=t@example.com commit -q -m "example platform"

for env in dev staging prod; do
	"$KFBOOT" -o json render --repo "$repo" --env "$env" --state-dir "$tmp/state" >"$tmp/$env.json" 2>"$tmp/$env.err" ||
		{ cat "$tmp/$env.err"; fail "render $env"; }
	# -o json: an array of objects, or {"objects": [...]}
	jq -e 'if type == "array" then . else .objects end | length > 0' "$tmp/$env.json" >/dev/null ||
		fail "$env: no objects: $(head -c 400 "$tmp/$env.json")"
	jq 'if type == "array" then . else .objects end' "$tmp/$env.json" >"$tmp/$env.objs"
	kinds=$(jq -r '[.[] | .kind] | sort | join(",")' "$tmp/$env.objs")
	echo "$env: $kinds"
	jq -e --arg ns "ml-$env" '[.[] | select(.kind == "Profile")] | length == 1 and .[0].metadata.name == $ns' "$tmp/$env.objs" >/dev/null ||
		fail "$env: Profile ml-$env"
	jq -e --arg ns "ml-$env" '[.[] | select(.kind == "RoleBinding" or .kind == "Role" or .kind == "ServiceAccount")
		| .metadata.namespace == $ns] | length == 3 and all' "$tmp/$env.objs" >/dev/null || fail "$env: namespaces"
	n_exp=$(jq '[.[] | select(.kind == "Experiment")] | length' "$tmp/$env.objs")
	n_mon=$(jq '[.[] | select(.kind == "ConfigMap" and (.metadata.name | startswith("kfboot-")))] | length' "$tmp/$env.objs")
	case $env in
	dev) [[ $n_exp == 1 && $n_mon == 0 ]] || fail "dev: experiment $n_exp, monitoring $n_mon" ;;
	staging) [[ $n_exp == 0 && $n_mon == 0 ]] || fail "staging: experiment $n_exp, monitoring $n_mon" ;;
	prod) [[ $n_exp == 0 && $n_mon == 2 ]] || fail "prod: experiment $n_exp, monitoring $n_mon" ;;
	esac
	left=$(jq -r '.. | strings | select(test("\\$\\{")) | select(test("\\$\\{trialParameters\\.") | not)' "$tmp/$env.objs" | head -3)
	[[ -z $left ]] || fail "$env: unsubstituted: $left"
done
jq -e '[.[] | select(.kind == "Experiment")][0] | .spec.trialTemplate.trialSpec.spec.template.spec.containers[0].command
	| any(. == "--hidden=${trialParameters.hidden}")' "$tmp/dev.objs" >/dev/null || fail "Katib's variables were substituted"
echo "ok: test_xor_render"
