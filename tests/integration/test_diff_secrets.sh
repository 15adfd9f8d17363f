#!/usr/bin/env bash
# test_diff_secrets.sh: Secret values never reach diff or --dry-run output
# (issue 9, item 3). Against kubesim: apply a Secret, change one data value
# and add stringData; `kfboot diff` shows which keys changed with kubectl's
# markers (*** (before) / *** (after), *** for the rest) and none of the
# values, plain or base64; `apply --dry-run` (text and -o json, with
# tracing on) prints none of them either.
set -euo pipefail
: "${KFBOOT:?set KFBOOT to the kfboot binary}"
: "${KF_SOURCE_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
# shellcheck disable=SC2154 # tmp, pids and cleanup come from lib.sh
export XDG_CACHE_HOME=$tmp/cache
start_sim main
kf() { "$KFBOOT" "$@" --kubeconfig "$KC"; }

old=$(printf 'old-password-1' | base64)
new=$(printf 'new-password-2' | base64)
same=$(printf 'same-value-3' | base64)
cat >"$tmp/v1.yaml" <<Y
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: default}
data: {password: $old, user: $same}
Y
cat >"$tmp/v2.yaml" <<Y
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: default}
data: {password: $new, user: $same}
stringData: {token: plain-token-4}
Y
kf apply -f "$tmp/v1.yaml" --inventory sec >/dev/null 2>"$tmp/a.err" || { cat "$tmp/a.err"; fail "apply"; }

set +e
kf diff -f "$tmp/v2.yaml" --inventory sec >"$tmp/diff.out" 2>"$tmp/diff.err"
rc=$?
set -e
[[ $rc == 3 ]] || { cat "$tmp/diff.err"; fail "diff exit $rc, want 3 (differences)"; }
grep -q 'password: "\*\*\* (before)"' "$tmp/diff.out" || fail "no before marker: $(cat "$tmp/diff.out")"
grep -q 'password: "\*\*\* (after)"' "$tmp/diff.out" || fail "no after marker: $(cat "$tmp/diff.out")"
grep -q 'user: "\?\*\*\*"\?$' "$tmp/diff.out" || fail "unchanged key not masked: $(cat "$tmp/diff.out")"

KFBOOT_TRACE=all kf apply --dry-run -f "$tmp/v2.yaml" --inventory sec >"$tmp/dry.out" 2>"$tmp/dry.err" ||
	{ cat "$tmp/dry.err"; fail "dry run"; }
kf apply --dry-run -f "$tmp/v2.yaml" --inventory sec -o json >"$tmp/dry.json" 2>>"$tmp/dry.err" || fail "dry run -o json"
for v in old-password-1 new-password-2 same-value-3 plain-token-4 "$old" "$new" "$same"; do
	for f in diff.out diff.err dry.out dry.err dry.json; do
		grep -qF -- "$v" "$tmp/$f" && fail "$f shows a secret value ($v)"
	done
done
echo "ok: Secret values masked in diff and dry-run output"
