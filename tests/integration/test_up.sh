#!/usr/bin/env bash
# test_up.sh - `kfboot up`, `status`, `kubeconfig` and `reset` against real
# sshd test nodes (tests/nodes: namespaces, an overlay of /, stand-ins for
# kubeadm/kubelet/kubectl/systemctl): 1 control plane + 3 workers, then a
# fourth worker added. No network: packages come from an offline bundle.
#
#  1. a worker whose user has no passwordless sudo: one message naming the
#     host, and nothing changed on any node
#  2. an unreachable address: one message naming the host
#  2b. an unknown host key, a changed host key, a wrong user and a missing
#     key file: each one message naming the host, nothing changed anywhere
#  3. up killed with SIGKILL while the nodes install packages, then up ->
#     every node joined and Ready; the kubeconfig is 0600 and points
#     at the control plane; the log holds no token
#  4. up again -> "nothing to do", no kubeadm call on any node
#  5. reset, then up killed right after 'init control plane'; up again
#     resumes and finishes, and kubeadm init ran once
#  6. a worker added to the profile -> only that worker prepared and joined
#  6b. a node stays NotReady -> the named wait times out and shows what it
#     last saw and the tail of kubelet's journal on that node
#  7. reset -> nothing joined, journal and kubeconfig gone; reset without
#     --yes and without a terminal refuses
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
# shellcheck source-path=SCRIPTDIR source=prov-lib.sh
. "$KF_SOURCE_DIR/tests/integration/prov-lib.sh"
prov_need_root

T=$(mktemp -d /tmp/kfboot-test-up.XXXXXX)
prov_test_harness

prov_nodes_up 5 "$T"
prov_bundle "$T/bundle"
STATE=$T/state
IGN=$(prov_ignore_opts "$T")
kf() { "$KFBOOT" "$@" --state-dir "$STATE"; }
# shellcheck disable=SC2086
up() { "$KFBOOT" up -f "$1" --state-dir "$STATE" $IGN "${@:2}"; }
calls() { # node program: how many times a stand-in ran `program` to change something
	local re=" $2 "
	case $2 in
	kubeadm) re=' kubeadm (init|join|reset|token create)' ;;
	apt-get) re=' apt-get( -o [^ ]+)* install' ;;
	esac
	prov_node_exec "$T" "$1" sh -c "grep -cE '$re' /var/log/kfboot-standins.log || [ \$? = 1 ]"
}
json_check() { /usr/bin/python3 -c "$1" "$2" || fail "$3"; }

prov_profile "$T/four.yaml" t4 "$T/bundle" 4
prov_profile "$T/five.yaml" t4 "$T/bundle" 5
prov_profile "$T/nosudo.yaml" t4 "$T/bundle" 4 node3=nosudo

step "1. a host without passwordless sudo"
set +e
up "$T/nosudo.yaml" >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "up with a nosudo host exited $rc, want 1"
grep -q "host node3: user 'nosudo' has no passwordless sudo" "$T/err" || fail "no clear sudo message"
[ "$(grep -c 'passwordless sudo' "$T/err")" = 1 ] || fail "the sudo problem is reported more than once"
grep -q "nothing was changed on any host" "$T/err" || fail "does not say nothing changed"
for n in 1 2 3 4; do
	for prog in apt-get kubeadm sysctl swapoff; do
		[ "$(calls "node$n" "$prog")" = 0 ] || fail "node$n: $prog ran although preflight failed"
	done
	# facts.sh asks `modprobe -n` (dry run); nothing may load a module
	prov_node_exec "$T" "node$n" sh -c "! grep ' modprobe ' /var/log/kfboot-standins.log | grep -qv ' -n '" ||
		fail "node$n: a module was loaded although preflight failed"
	prov_node_exec "$T" "node$n" test ! -e /home/kfuser/.kfboot || fail "node$n: staging dir created"
	prov_node_exec "$T" "node$n" test ! -e /etc/modules-load.d/kfboot-k8s.conf || fail "node$n: prepared"
done

step "2. an unreachable host"
sed "s/address: $KF_NODE_4_ADDR/address: $KF_NODES_UNUSED_ADDR/" "$T/four.yaml" >"$T/unreach.yaml"
set +e
up "$T/unreach.yaml" >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "up with an unreachable host exited $rc"
grep -q "node4" "$T/err" || fail "the unreachable host is not named"
[ "$(calls node1 apt-get)" = 0 ] || fail "something was installed although a host was unreachable"

# expect_refused NAME PROFILE PATTERN: up fails with exit 1, says PATTERN
# once about node4, and nothing was installed or written on any node.
expect_refused() {
	set +e
	up "$2" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ "$rc" = 1 ] || fail "$1: up exited $rc, want 1"
	grep -qE "$3" "$T/err" || fail "$1: message does not match '$3'"
	grep -q "node4" "$T/err" || fail "$1: the host is not named"
	for n in 1 2 3 4; do
		[ "$(calls "node$n" apt-get)" = 0 ] || fail "$1: node$n was changed"
		prov_node_exec "$T" "node$n" test ! -e /home/kfuser/.kfboot || fail "$1: node$n: staging dir created"
	done
}

step "2b. host keys and authentication"
grep -v "^$KF_NODE_4_ADDR " "$KF_NODES_KNOWN_HOSTS" >"$T/kh-unknown"
sed "s|knownHostsFile: .*|knownHostsFile: $T/kh-unknown|" "$T/four.yaml" >"$T/unknown.yaml"
cp "$T/kh-unknown" "$T/kh-unknown.before"
expect_refused "unknown host key" "$T/unknown.yaml" "SHA256:"
cmp -s "$T/kh-unknown" "$T/kh-unknown.before" || fail "unknown host key: known_hosts was written"

# node4's address with node2's key: a changed host key
key2=$(grep "^$KF_NODE_2_ADDR " "$KF_NODES_KNOWN_HOSTS" | cut -d' ' -f2-)
{ cat "$T/kh-unknown"; echo "$KF_NODE_4_ADDR $key2"; } >"$T/kh-changed"
sed "s|knownHostsFile: .*|knownHostsFile: $T/kh-changed|" "$T/four.yaml" >"$T/changed.yaml"
expect_refused "changed host key" "$T/changed.yaml" "CHANGED"
# accept-new never accepts a changed key either
sed "s|knownHostsFile: .*|knownHostsFile: $T/kh-changed\n    hostKeyPolicy: accept-new|" "$T/four.yaml" >"$T/changed-an.yaml"
expect_refused "changed host key with accept-new" "$T/changed-an.yaml" "CHANGED"

prov_profile "$T/wronguser.yaml" t4 "$T/bundle" 4 node4=nobody-here
expect_refused "wrong user" "$T/wronguser.yaml" "nobody-here"

# a key file that does not exist: refused before anything is contacted
sed "s|identityFile: .*|identityFile: $T/no-such-key|" "$T/four.yaml" >"$T/nokey.yaml"
set +e
up "$T/nokey.yaml" >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "missing key file: up exited $rc, want 1"
grep -q "no-such-key" "$T/err" || fail "missing key file: the file is not named"
grep -qE "nokey.yaml:[0-9]+:[0-9]+" "$T/err" || fail "missing key file: no file:line:col"
[ "$(calls node1 apt-get)" = 0 ] || fail "missing key file: something was installed"

step "3. up: 1 control plane + 3 workers, the first attempt killed (SIGKILL) while installing packages"
# shellcheck disable=SC2086
"$KFBOOT" up -f "$T/four.yaml" --state-dir "$STATE" $IGN >"$T/out" 2>"$T/err" &
upid=$!
for _ in $(seq 200); do
	[ "$(calls node2 apt-get)" != 0 ] && break
	sleep 0.05
done
kill -KILL "$upid" 2>/dev/null || true
wait "$upid" 2>/dev/null || true
[ "$(calls node2 apt-get)" != 0 ] || fail "the first attempt never reached the package install"
# the interrupted install may still be running on the nodes; up waits for dpkg's lock
up "$T/four.yaml" >"$T/out" 2>"$T/err" || fail "up after a killed up exited $?"
grep -q "cluster 't4' is up" "$T/out" || fail "no success line"
kf status -f "$T/four.yaml" -o json >"$T/status.json" || fail "status exited $?"
json_check 'import json,sys
d=json.load(open(sys.argv[1]))
assert len(d["hosts"]) == 4, d
for h in d["hosts"]:
    assert h["reachable"] and h["joined"] and h["node"] == "Ready", h' "$T/status.json" "not every node joined and Ready"
kc=$STATE/t4/admin.conf
[ "$(stat -c %a "$kc")" = 600 ] || fail "kubeconfig mode is $(stat -c %a "$kc")"
grep -q "server: https://$KF_NODE_1_ADDR:6443" "$kc" || fail "kubeconfig server not rewritten"
kf kubeconfig -f "$T/four.yaml" | grep -q "current-context: t4" || fail "kubeconfig command"
kf kubeconfig -f "$T/four.yaml" --merge "$T/merged" >/dev/null || fail "kubeconfig --merge"
[ "$(stat -c %a "$T/merged")" = 600 ] || fail "merged kubeconfig mode"
cat "$KF_NODES_CLUSTER_DIR"/tokens/* 2>/dev/null | awk '{print $1}' >"$T/secrets"
[ -s "$T/secrets" ] || fail "no bootstrap token on the control plane"
while read -r tok; do
	! grep -rq "$tok" "$STATE" "$T/out" "$T/err" || fail "a bootstrap token secret reached a log or output"
done <"$T/secrets"

step "4. up again changes nothing"
before=$(calls node1 kubeadm)
apt_before=()
for n in 1 2 3 4; do apt_before[n]=$(calls "node$n" apt-get); done
up "$T/four.yaml" >"$T/out" 2>"$T/err" || fail "second up exited $?"
grep -q "nothing to do" "$T/out" || fail "second up does not say nothing to do"
for n in 1 2 3 4; do
	[ "$(calls "node$n" apt-get)" = "${apt_before[n]}" ] || fail "node$n: apt-get ran again"
done
[ "$(calls node1 kubeadm)" = "$before" ] || fail "second up ran kubeadm on the control plane"

step "5. an interrupted up resumes"
kf reset -f "$T/four.yaml" --yes >"$T/out" 2>"$T/err" || fail "reset exited $?"
inits=$(prov_node_exec "$T" node1 sh -c "grep -c 'kubeadm init' /var/log/kfboot-standins.log || [ \$? = 1 ]")
set +e
KFBOOT_TEST_KILL_AFTER_PHASE=init up "$T/four.yaml" >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" = 137 ] || fail "up with the kill hook exited $rc, want 137 (SIGKILL)"
json_check 'import json,sys
d=json.load(open(sys.argv[1]))
assert d["run"]["finished"] is None, d["run"]
assert "init" in d["hosts"]["node1"], d' "$STATE/t4/journal.json" "journal does not show an unfinished run after init"
up "$T/four.yaml" >"$T/out" 2>"$T/err" || fail "resumed up exited $?"
grep -q "resuming" "$T/err" || fail "the resumed run does not say it resumes"
grep -q "node1: init control plane: already initialised" "$T/err" || fail "init was not detected as done"
grep -q "node2: join workers: done" "$T/err" || fail "the resumed run did not join the workers"
[ "$(prov_node_exec "$T" node1 sh -c "grep -c 'kubeadm init' /var/log/kfboot-standins.log")" = $((inits + 1)) ] ||
	fail "kubeadm init ran more than once"

step "6. a worker added to the profile joins alone"
b2=$(calls node2 kubeadm)
up "$T/five.yaml" >"$T/out" 2>"$T/err" || fail "up with node5 exited $?"
grep -q "node5: prepare nodes: done" "$T/err" || fail "node5 was not prepared"
grep -q "node5: join workers: done" "$T/err" || fail "node5 was not joined"
for n in 2 3 4; do
	grep -q "node$n: join workers: already joined" "$T/err" || fail "node$n was not left alone"
	grep -q "node$n: prepare nodes: already prepared" "$T/err" || fail "node$n was prepared again"
done
[ "$(calls node2 kubeadm)" = "$b2" ] || fail "kubeadm ran on node2 again"
kf status -f "$T/five.yaml" -o json >"$T/status.json"
json_check 'import json,sys
d=json.load(open(sys.argv[1]))
assert [h["node"] for h in d["hosts"]] == ["Ready"] * 5, d' "$T/status.json" "not 5 nodes Ready"

step "6b. a node that does not become Ready: the wait says what it saw"
mkdir -p "$KF_NODES_CLUSTER_DIR/nodes/node3"
touch "$KF_NODES_CLUSTER_DIR/nodes/node3/notready"
set +e
up "$T/five.yaml" --wait-timeout 3s >"$T/out" 2>"$T/err"
rc=$?
set -e
rm -f "$KF_NODES_CLUSTER_DIR/nodes/node3/notready"
[ "$rc" = 1 ] || fail "up with a NotReady node exited $rc, want 1"
grep -q "wait 'nodes Ready' timed out after" "$T/err" || fail "the wait is not named"
grep -q "not Ready: node3" "$T/err" || fail "the NotReady node is not named"
grep -q "node3 *NotReady" "$T/err" || fail "the last kubectl output is not shown"
grep -q "kubelet journal on node3:" "$T/err" || fail "no kubelet journal tail"

step "7. reset"
set +e
kf reset -f "$T/five.yaml" </dev/null >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "reset without --yes and without a terminal exited $rc, want 2"
grep -q "without --yes" "$T/err" || fail "no refusal message"
kf reset -f "$T/five.yaml" --yes >"$T/out" 2>"$T/err" || fail "reset exited $?"
kf status -f "$T/five.yaml" -o json >"$T/status.json"
json_check 'import json,sys
d=json.load(open(sys.argv[1]))
assert not any(h["joined"] for h in d["hosts"]), d' "$T/status.json" "hosts still joined after reset"
if [ -e "$STATE/t4/journal.json" ] || [ -e "$STATE/t4/admin.conf" ]; then
	fail "reset left the journal or kubeconfig"
fi
for n in 1 2 5; do
	prov_node_exec "$T" "node$n" sh -c '! ls /etc/cni/net.d/* >/dev/null 2>&1' || fail "node$n: CNI config left"
done
echo "PASS: test_up"
