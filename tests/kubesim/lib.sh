# lib.sh - shell helpers for tests and benchmarks that run kubesim or a
# genuine kube-apiserver (realk8s). Source it after setting KF_SOURCE_DIR.
# Sourcing makes a scratch directory $tmp and a list pids=() of background
# processes; both are cleaned up on exit (and every realk8s started here is
# stopped). fail() must exist before a server is started.
#
#   kubesim_certs                 make the throwaway CA and certificates in $tmp/certs
#   start_sim NAME [ARGS...]      start a simulator; sets KC (kubeconfig),
#                                 CTL (control URL) and SIMPID
#   start_real NAME               start realk8s (kube-apiserver + etcd); sets KC
#                                 and SIMPID (the apiserver's pid); CTL is empty
#   stop_real NAME                stop that realk8s before the script ends
#   start_server NAME [ARGS...]   the server $KF_SERVER names (sim, the default,
#                                 or real); ARGS go to the simulator only
#   need_real                     exit 77 (skipped) unless realk8s can run here
#   sim_only WHAT                 true on the simulator; on the real server
#                                 prints "sim only: WHAT" and returns 1
#   stats / reset_stats / writes  request counters of the current server: the
#                                 simulator's own, or for realk8s the client
#                                 requests in apiserver_request_total
#   compact_history               forget the watch history up to now, so that a
#                                 watch resumed from an older resourceVersion
#                                 gets 410 Expired: kubesim's POST /kubesim/compact
#                                 (which also ends open watches); on realk8s an
#                                 etcd compaction at the current revision through
#                                 etcd's JSON gateway (watches are served by etcd
#                                 only with REALK8S_APISERVER_ARGS=--watch-cache=false
#                                 set before start_server; open streams go on
#                                 until they time out)
# shellcheck shell=bash disable=SC2154

tmp=$(mktemp -d)
pids=()
realdirs=()
KF_SERVER=${KF_SERVER:-sim}
REALK8S=${KF_REALK8S:-$KF_SOURCE_DIR/../shared/realk8s/realk8s}
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for d in "${realdirs[@]}"; do bash "$REALK8S" stop "$d" >/dev/null 2>&1 || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

KUBESIM_PY=${KUBESIM_PY:-/usr/bin/python3}
KUBESIM=$KF_SOURCE_DIR/tests/kubesim/kubesim.py

kubesim_certs() {
	bash "$KF_SOURCE_DIR/tests/kubesim/mkcerts.sh" "$tmp/certs" >/dev/null 2>&1
}

start_sim() {
	local name=$1
	shift
	mkdir -p "$tmp/$name"
	[[ -d $tmp/certs ]] || kubesim_certs
	"$KUBESIM_PY" "$KUBESIM" --certs "$tmp/certs" --port-file "$tmp/$name/port" \
		--pid-file "$tmp/$name/pid" --kubeconfig-out "$tmp/$name/kubeconfig" \
		--control-port 0 --control-port-file "$tmp/$name/cport" "$@" \
		>"$tmp/$name/log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		[[ -s $tmp/$name/cport && -s $tmp/$name/kubeconfig && -s $tmp/$name/pid ]] && break
		sleep 0.1
	done
	[[ -s $tmp/$name/cport ]] || { cat "$tmp/$name/log"; fail "simulator $name did not start"; }
	# shellcheck disable=SC2034 # used by the sourcing script
	KC=$tmp/$name/kubeconfig
	CTL=http://127.0.0.1:$(cat "$tmp/$name/cport")
	# shellcheck disable=SC2034
	SIMPID=$(cat "$tmp/$name/pid")
}

writes() { stats | jq -r '.writes'; }

need_real() {
	if ! bash "$REALK8S" available >/dev/null 2>&1; then
		echo "SKIP: realk8s is not available here ($REALK8S)"
		exit 77
	fi
}

sim_only() {
	[[ $KF_SERVER == sim ]] && return 0
	echo "sim only: $* (skipped on the real server)"
	return 1
}

# The binaries are unpacked once per build tree (about 130 MB) and linked
# into each server's directory; realk8s reuses binaries it finds there.
realk8s_bins() {
	local cache=${KF_BUILD_DIR:-$tmp}/realk8s-cache b
	mkdir -p "$cache"
	(
		flock 9
		for b in kube-apiserver etcd; do
			[[ -x $cache/$b ]] && continue
			xz -dc "$(dirname "$REALK8S")/$b.xz" >"$cache/$b.tmp" && chmod 0755 "$cache/$b.tmp" && mv "$cache/$b.tmp" "$cache/$b"
		done
	) 9>"$cache/.lock"
	echo "$cache"
}

start_real() {
	local name=$1 cache env
	need_real
	cache=$(realk8s_bins)
	mkdir -p "$tmp/$name/bin"
	ln -sf "$cache/kube-apiserver" "$cache/etcd" "$tmp/$name/bin/"
	realdirs+=("$tmp/$name")
	env=$(bash "$REALK8S" start "$tmp/$name" 2>"$tmp/$name/start.err") ||
		{ cat "$tmp/$name/start.err"; tail -20 "$tmp/$name/logs/kube-apiserver.log" 2>/dev/null; fail "realk8s $name did not start"; }
	# shellcheck disable=SC2034
	KC=$(sed -n 's/^export KUBECONFIG=//p' <<<"$env")
	# shellcheck disable=SC2034
	SIMPID=$(sed -n 's/^export REALK8S_APISERVER_PID=//p' <<<"$env")
	CTL=
	reset_stats
}

# stop_real NAME: stop a realk8s this script started (frees its CPU and memory early).
stop_real() {
	bash "$REALK8S" stop "$tmp/$1" >/dev/null 2>&1 || true
}

start_server() {
	local name=$1
	shift
	case $KF_SERVER in
	sim) start_sim "$name" "$@" ;;
	real) start_real "$name" ;;
	*) fail "KF_SERVER must be sim or real, not '$KF_SERVER'" ;;
	esac
}

# Client requests counted by the real server, as "VERB[/dry] n" lines: the
# apiserver's own loopback requests (system_client) are left out.
real_counts() {
	kubectl --kubeconfig "$KC" get --raw /metrics | awk '
		/^apiserver_request_total\{/ && /component="apiserver"/ && /system_client=""/ {
			match($0, /verb="[A-Z]+"/); v = substr($0, RSTART + 6, RLENGTH - 7)
			if ($0 ~ /dry_run="All"/) v = v "/dry"
			n[v] += $NF
		}
		END { for (v in n) print v, n[v] }'
}

real_stats() {
	local base
	base=$tmp/realcounts.$(basename "$(dirname "$KC")")
	real_counts | awk -v base="$base" '
		BEGIN { while ((getline l < base) > 0) { split(l, f, " "); b[f[1]] = f[2] } }
		{ d[$1] = $2 - b[$1] }
		END {
			for (v in d) { t += d[v]; if (v ~ /^(POST|PUT|PATCH|APPLY|DELETE|DELETECOLLECTION)$/) w += d[v] }
			printf "{\"total\": %d, \"writes\": %d, \"storage_writes\": %d, \"requests\": {\"delete\": %d, \"apply\": %d, \"list\": %d, \"get\": %d}}\n",
				t, w, w, d["DELETE"], d["APPLY"], d["LIST"], d["GET"]
		}'
}

compact_history() {
	if [[ -n $CTL ]]; then
		curl -sf -X POST "$CTL/kubesim/compact" >/dev/null || fail "POST /kubesim/compact failed"
		return
	fi
	local etcd rev
	etcd=$(tr '\0' '\n' <"/proc/$SIMPID/cmdline" | sed -n 's/^--etcd-servers=//p')
	[[ -n $etcd ]] || fail "no --etcd-servers in the apiserver's command line"
	rev=$(curl -sf -X POST "$etcd/v3/kv/range" -d '{"key":"Lw=="}' | jq -r .header.revision)
	[[ $rev =~ ^[0-9]+$ ]] || fail "etcd did not say its revision"
	curl -sf -X POST "$etcd/v3/kv/compaction" -d "{\"revision\":\"$rev\",\"physical\":true}" >/dev/null ||
		fail "etcd compaction at revision $rev failed"
}

stats() {
	if [[ -z $CTL ]]; then real_stats; else curl -sf "$CTL/kubesim/stats"; fi
}
reset_stats() {
	if [[ -z $CTL ]]; then
		real_counts >"$tmp/realcounts.$(basename "$(dirname "$KC")")"
	else
		curl -sf -X POST "$CTL/kubesim/stats/reset" >/dev/null
	fi
}
