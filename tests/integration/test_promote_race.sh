#!/usr/bin/env bash
# test_promote_race.sh - ten promotions and write-backs racing against one
# remote, as ten machines would (separate caches): every push lands (or
# reports a real conflict), no commit is lost, the history stays linear.
# Run twice: against `git http-backend` over HTTPS with a token (the
# server's compare-and-swap of the branch), and against a bare repository
# over file:// (kfboot's own compare-and-swap). Five processes register
# runs r0..r4 of xor (each appends a version and pins it in dev), five
# promote xor v2 into environments e0..e4.
# Env: KFBOOT, KF_SOURCE_DIR (set by CTest). Needs git, kubectl, jq.
# shellcheck disable=SC2154 # tmp, KC, pids come from tests/kubesim/lib.sh
set -euo pipefail

: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
for t in git kubectl jq; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not found"; exit 77; }
done
[[ -x /usr/bin/python3 ]] || { echo "SKIP: /usr/bin/python3 not found"; exit 77; }
git http-backend </dev/null >/dev/null 2>&1 || [[ -x $(git --exec-path)/git-http-backend ]] || { echo "SKIP: git http-backend not found"; exit 77; }

# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
fail() { echo "FAIL: $*" >&2; [[ -n ${KEEP:-} ]] && rm -rf /tmp/race-keep && cp -r "$tmp" /tmp/race-keep; exit 1; }
step() { echo "--- $*"; }
kc() { kubectl --kubeconfig "$KC" "$@"; }

start_sim main
kc create namespace ml-dev >/dev/null
for i in 0 1 2 3 4; do
	kc -n ml-dev create configmap "kfboot-run-r$i" \
		--from-literal=metrics.json="{\"test_accuracy\": 0.9$i}" \
		--from-literal=model.json="{\"uri\": \"s3://models/xor/r$i/model.bin\", \"format\": \"kfboot-mlp\"}" >/dev/null
done

# The repository: dev (autoPin) and five environments promoting from dev.
seed() { # DIR: a bare repository with the initial commit
	local W=$tmp/seed-$RANDOM
	git init -q --bare -b main "$1"
	git init -q -b main "$W"
	mkdir -p "$W/models" "$W/environments/dev"
	{
		printf 'apiVersion: kfboot.io/v1alpha1\nkind: Repository\nspec:\n  environments:\n'
		printf '    - {name: dev, namespace: ml-dev, paths: [models], autoPin: true}\n'
		for i in 0 1 2 3 4; do
			printf '    - {name: e%s, namespace: ml-e%s, paths: [models], promotion: {from: dev}}\n' "$i" "$i"
			mkdir -p "$W/environments/e$i"
			printf '# e%s pins\nxor: v1  # keep this comment\n' "$i" >"$W/environments/e$i/models.yaml"
		done
		printf '  models:\n    - {name: xor, versions: models/xor.yaml}\n'
	} >"$W/kfboot.yaml"
	printf 'kind: Model\nmetadata: {name: xor}\nversions:\n  - {version: v1, uri: s3://x/v1, format: kfboot-mlp}\n  - {version: v2, uri: s3://x/v2, format: kfboot-mlp}\n' >"$W/models/xor.yaml"
	printf 'xor: v1\n' >"$W/environments/dev/models.yaml"
	git -C "$W" add -A
	git -C "$W" -c user.email=t@example.com -c user.name=test commit -qm initial
	git -C "$W" push -q "$1" main
}

race() { # NAME URL [credential options...]
	local name=$1 url=$2
	shift 2
	local R=$tmp/$name
	local start
	start=$(git -C "$R" rev-list --count main)
	local ps=()
	for i in 0 1 2 3 4; do
		"$KFBOOT" models register xor --run "r$i" --env dev --repo "$url" --branch main \
			--state-dir "$tmp/st-$name-r$i" --kubeconfig "$KC" -o json "$@" >"$tmp/$name-r$i.json" 2>"$tmp/$name-r$i.err" &
		ps+=($!)
		"$KFBOOT" promote xor --to "e$i" --version v2 --repo "$url" --state-dir "$tmp/st-$name-p$i" -o json "$@" \
			>"$tmp/$name-p$i.json" 2>"$tmp/$name-p$i.err" &
		ps+=($!)
	done
	local bad=0
	for p in "${ps[@]}"; do wait "$p" || bad=$((bad + 1)); done
	if ((bad)); then
		cat "$tmp/$name"-*.err >&2
		fail "$name: $bad of 10 processes failed"
	fi
	# Every reported commit is on the branch; no commit lost.
	local total attempts=0
	total=$(git -C "$R" rev-list --count main)
	[[ $total == $((start + 10)) ]] || fail "$name: $((total - start)) commits landed, want 10"
	for f in "$tmp/$name"-*.json; do
		c=$(jq -r .commit "$f")
		git -C "$R" merge-base --is-ancestor "$c" main || fail "$name: commit $c of $f is not on main"
		attempts=$((attempts + $(jq -r .attempts "$f")))
	done
	# Linear: no merges, first-parent history is the whole history.
	[[ -z $(git -C "$R" rev-list --merges main) ]] || fail "$name: merge commits"
	[[ $(git -C "$R" rev-list --count --first-parent main) == "$total" ]] || fail "$name: history not linear"
	# Each run registered once, versions v3..v7, dev pins the highest.
	git -C "$R" show main:models/xor.yaml >"$tmp/$name-xor.yaml"
	for i in 0 1 2 3 4; do
		[[ $(grep -c "run: r$i\$" "$tmp/$name-xor.yaml") == 1 ]] || fail "$name: run r$i registered $(grep -c "run: r$i\$" "$tmp/$name-xor.yaml") times"
	done
	for v in v3 v4 v5 v6 v7; do
		grep -q "version: $v\$" "$tmp/$name-xor.yaml" || fail "$name: no $v"
	done
	[[ $(git -C "$R" show main:environments/dev/models.yaml) == "xor: v7" ]] || fail "$name: dev pin $(git -C "$R" show main:environments/dev/models.yaml)"
	for i in 0 1 2 3 4; do
		[[ $(git -C "$R" show "main:environments/e$i/models.yaml") == "$(printf '# e%s pins\nxor: v2  # keep this comment' "$i")" ]] ||
			fail "$name: e$i pins: $(git -C "$R" show "main:environments/e$i/models.yaml")"
	done
	echo "$name: 10 pushes landed, linear history of $total commits, $attempts attempts in all"
}

step "1. git http-backend over HTTPS with a token"
bash "$KF_SOURCE_DIR/tests/kubesim/mkcerts.sh" "$tmp/gcerts" >/dev/null
TOKEN="ghp_kfbootRaceToken0123456789"
printf '%s\n' "$TOKEN" >"$tmp/token"
chmod 600 "$tmp/token"
mkdir -p "$tmp/srv"
seed "$tmp/srv/repo.git"
git -C "$tmp/srv/repo.git" config http.receivepack true
/usr/bin/python3 "$KF_SOURCE_DIR/tests/data/gitops/git_https_server.py" --root "$tmp/srv" \
	--cert "$tmp/gcerts/server.crt" --key "$tmp/gcerts/server.key" --port-file "$tmp/hport" \
	--token "$TOKEN" >"$tmp/https.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -s $tmp/hport ]] && break; sleep 0.1; done
[[ -s $tmp/hport ]] || fail "git https server did not start"
ln -s "$tmp/srv/repo.git" "$tmp/https"
race https "https://localhost:$(cat "$tmp/hport")/repo.git" --token-file "$tmp/token" --ca-file "$tmp/gcerts/ca.crt"
! grep -rq "$TOKEN" "$tmp"/https-*.err "$tmp"/https-*.json || fail "the token was printed"

step "2. a bare repository over file://"
seed "$tmp/file"
race file "file://$tmp/file"
echo PASS
