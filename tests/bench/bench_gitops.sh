#!/usr/bin/env bash
# bench_gitops.sh - the reconciler on a repository of APPS small
# applications (default 1,000) x 4 objects (ConfigMap, ServiceAccount,
# Service, Deployment) in one environment, against kubesim:
#   - first sync: `kfboot reconcile --once` from an empty cluster (render,
#     validation with a server-side dry run, staged apply, health);
#   - no-op cycle: the same again with nothing changed (median of
#     NOOP_RUNS), with the writes the server saw (must be 0);
#   - memory: max RSS of the --once first sync and of a --once no-op cycle;
#     the long-running reconciler's RSS when idle after its first cycle and
#     its peak (VmHWM) up to then, and its peak after a commit that changes
#     all APPS Deployments (a real sync inside the loop), and the API
#     requests and writes while idle (must be 0);
#   - what a user would otherwise run: `kubectl apply --server-side` of the
#     same rendered objects (a fresh kubesim), first and no-op, for the ratio;
#     and Flux's published figure for 1,000 apps x 4 objects (4m16s).
# A benchmark, not a test: it never fails on timing. Prints one table.
# Env: KFBOOT, KF_SOURCE_DIR; APPS (1000), NOOP_RUNS (3), IDLE (10 s).
# shellcheck disable=SC2154 # tmp, KC, CTL, SIMPID come from tests/kubesim/lib.sh
set -euo pipefail

KF_SOURCE_DIR=${KF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
KFBOOT=${KFBOOT:-$KF_SOURCE_DIR/build/kfboot}
APPS=${APPS:-1000}
NOOP_RUNS=${NOOP_RUNS:-3}
IDLE=${IDLE:-10}
KUBECTL_COMPARE=${KUBECTL_COMPARE:-1} # 0: skip the kubectl runs (they take minutes)

# shellcheck source=tests/kubesim/lib.sh
. "$KF_SOURCE_DIR/tests/kubesim/lib.sh"
export XDG_CACHE_HOME=$tmp/cache
fail() { echo "bench_gitops: $*" >&2; exit 1; }
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

W=$tmp/repo
git init -q -b main "$W"
mkdir -p "$W/apps"
cat >"$W/kfboot.yaml" <<'EOF'
apiVersion: kfboot.io/v1alpha1
kind: Repository
spec:
  environments:
    - name: bench
      namespace: bench
      paths: [apps]
      substitute: { IMAGE: "registry.example/app:1.0" }
      prune: true
      timeout: 10m
EOF
printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n' >"$W/apps/0-namespace.yaml"
for i in $(seq -w 1 "$APPS"); do
	cat >"$W/apps/app-$i.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-$i
data:
  greeting: hello from app $i
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app-$i
---
apiVersion: v1
kind: Service
metadata:
  name: app-$i
spec:
  selector: { app: app-$i }
  ports: [{ port: 80, targetPort: 8080 }]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-$i
spec:
  replicas: 1
  selector: { matchLabels: { app: app-$i } }
  template:
    metadata: { labels: { app: app-$i } }
    spec:
      serviceAccountName: app-$i
      containers: [{ name: app, image: "\${IMAGE}" }]
EOF
done
git -C "$W" add -A
git -C "$W" -c user.email=b@example.com -c user.name=bench commit -qm "$APPS apps"
objects=$((APPS * 4 + 1))

start_sim kf
rec() { "$KFBOOT" reconcile --repo "$W" --state-dir "$tmp/state" --kubeconfig "$KC" --once -q "$@"; }
rss_of() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

t0=$(now)
/usr/bin/time -f %M -o "$tmp/first.rss" "$KFBOOT" reconcile --repo "$W" --state-dir "$tmp/state" \
	--kubeconfig "$KC" --once -o json >"$tmp/first.json" 2>"$tmp/first.err" ||
	{ tail -5 "$tmp/first.err"; fail "first sync failed"; }
first=$(sub "$(now)" "$t0")
[[ $(jq -r '.environments[0].objects.applied' "$tmp/first.json") == "$objects" ]] ||
	fail "first sync applied $(jq -c '.environments[0].objects' "$tmp/first.json"), expected $objects"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
first_rss=$(mib "$(cat "$tmp/first.rss")")

noop_w=()
noop_writes=0
noop_rss=0
for _ in $(seq "$NOOP_RUNS"); do
	reset_stats
	t0=$(now)
	/usr/bin/time -f %M -o "$tmp/noop.rss" "$KFBOOT" reconcile --repo "$W" --state-dir "$tmp/state" \
		--kubeconfig "$KC" --once >/dev/null 2>&1 || fail "no-op cycle failed"
	noop_w+=("$(sub "$(now)" "$t0")")
	r=$(cat "$tmp/noop.rss")
	((r > noop_rss)) && noop_rss=$r
	noop_writes=$((noop_writes + $(writes)))
	noop_req=$(stats | jq -r .total)
done
noop=$(printf '%s\n' "${noop_w[@]}" | median)

# The long-running reconciler: its first cycle (a no-op apply), then IDLE
# seconds of polling the remote every second with nothing to do.
"$KFBOOT" reconcile --repo "$W" --state-dir "$tmp/state" --kubeconfig "$KC" --interval 1s \
	>"$tmp/loop.out" 2>"$tmp/loop.err" &
LOOP=$!
pids+=("$LOOP")
for _ in $(seq 6000); do grep -q 'applied (' "$tmp/loop.err" && break; sleep 0.1; done
grep -q 'applied (' "$tmp/loop.err" || fail "the loop's first cycle did not finish: $(tail -3 "$tmp/loop.err")"
reset_stats
sleep "$IDLE"
vm() { awk -v k="^$1:" '$0 ~ k { printf "%.1f", $2 / 1024 }' "/proc/$LOOP/status"; }
loop_rss=$(vm VmRSS)
loop_hwm=$(vm VmHWM)
loop_writes=$(writes)
loop_req=$(stats | jq -r .total)
# A commit that changes every Deployment (a new image): the loop's peak
# while it syncs real changes, and its RSS once idle again.
sed -i 's|registry.example/app:1.0|registry.example/app:1.1|' "$W/kfboot.yaml"
git -C "$W" -c user.email=b@example.com -c user.name=bench commit -qam "new image"
for _ in $(seq 6000); do [[ $(grep -c 'applied (' "$tmp/loop.err") -ge 2 ]] && break; sleep 0.1; done
[[ $(grep -c 'applied (' "$tmp/loop.err") -ge 2 ]] || fail "the loop did not apply the new commit: $(tail -3 "$tmp/loop.err")"
grep 'applied (' "$tmp/loop.err" | tail -1 | grep -q "($APPS applied" ||
	fail "the new commit should apply $APPS objects: $(grep 'applied (' "$tmp/loop.err" | tail -1)"
sleep 2
change_hwm=$(vm VmHWM)
change_rss=$(vm VmRSS)
kill -TERM "$LOOP"
wait "$LOOP" || true

# kubectl on the same rendered objects, against a fresh simulator.
kfirst=0 knoop=0 knoop_writes=-
if [[ $KUBECTL_COMPARE == 1 ]]; then
"$KFBOOT" render --repo "$W" --env bench --state-dir "$tmp/state" >"$tmp/rendered.yaml" 2>/dev/null
start_sim kc
t0=$(now)
kubectl --kubeconfig "$KC" apply --server-side -f "$tmp/rendered.yaml" >/dev/null
kubectl --kubeconfig "$KC" wait --for=condition=Available deployment --all -n bench --timeout=10m >/dev/null
kfirst=$(sub "$(now)" "$t0")
reset_stats
t0=$(now)
kubectl --kubeconfig "$KC" apply --server-side -f "$tmp/rendered.yaml" >/dev/null
knoop=$(sub "$(now)" "$t0")
knoop_writes=$(writes)
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1fx", a / b; else printf "-" }'; }
echo
echo "bench_gitops: $APPS apps x 4 objects (+1 Namespace) = $objects objects, one environment, kubesim"
printf '%-44s %10s %12s %s\n' "" "kfboot" "kubectl" "ratio (kubectl / kfboot)"
printf '%-44s %9ss %11ss %s\n' "first sync (apply + health)" "$first" "$kfirst" "$(ratio "$kfirst" "$first")"
printf '%-44s %9ss %11ss %s\n' "no-op cycle (median of $NOOP_RUNS, whole process)" "$noop" "$knoop" "$(ratio "$knoop" "$noop")"
printf '%-44s %10s %12s\n' "writes in the no-op cycles" "$noop_writes" "$knoop_writes"
printf '%-44s %10s\n' "requests per no-op cycle" "$noop_req"
printf '%-44s %9sM\n' "max RSS, first sync (--once)" "$first_rss"
printf '%-44s %9sM\n' "max RSS, no-op cycle (--once, worst run)" "$(mib "$noop_rss")"
printf '%-44s %9sM  (peak %sM, VmHWM)\n' "RSS of the idle reconciler (after a cycle)" "$loop_rss" "$loop_hwm"
printf '%-44s %9sM  (idle after: %sM)\n' "peak, loop syncing $APPS changed Deployments" "$change_hwm" "$change_rss"
printf '%-44s %10s  (%s API requests)\n' "writes while idle ${IDLE}s (git check every 1s)" "$loop_writes" "$loop_req"
printf '%-44s %10s\n' "Flux, published, 1,000 apps x 4 objects" "256s"
printf '%-44s %10s\n' "first sync vs Flux's figure" "$(ratio 256 "$first")"
