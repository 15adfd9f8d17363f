#!/bin/bash
# selftest.sh - checks that the stand-ins on running test nodes behave like
# the tools they replace and agree with each other: a fresh node has no
# kube tools, kubeadm's preflight refuses an unprepared node, node
# preparation (apt source, pinned packages, modules, sysctl, container
# runtime unit) makes it pass, `kubeadm init` prints a join command that
# works on a worker, wrong tokens and CA hashes are refused, joined nodes are
# Ready in `kubectl get nodes`, and `kubeadm reset` undoes it.
#
#   selftest.sh STATE_DIR      (nodes.sh up 3 STATE_DIR first; needs 3 nodes)
# Prints "ok - ..." / "FAIL - ..." lines; exits 1 if anything failed. The
# nodes are reset afterwards (cluster state cleared).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${1:?usage: selftest.sh STATE_DIR}
FAILS=0
ok() { echo "ok - stand-ins: $1"; }
bad() { FAILS=$((FAILS + 1)); echo "FAIL - stand-ins: $1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | head -n 15 | sed 's/^/  /'; }
on() { local n=$1; shift; bash "$HERE/nodes.sh" exec "$STATE" "$n" "$@"; }
run() { # node script -> OUT, RC
	set +e
	OUT=$(on "$1" sh -c "$2" 2>&1)
	RC=$?
	set -e
}
has() { grep -qF -- "$2" <<<"$1"; }

# shellcheck disable=SC1091
. "$STATE/nodes.env"
A1=$KF_NODE_1_ADDR

run 1 'command -v kubeadm kubelet kubectl'
if [ "$RC" != 0 ] && [ -z "$OUT" ]; then ok "a fresh node has no kubeadm, kubelet, kubectl"
else bad "fresh node has kube tools" "$OUT"; fi

run 1 'kubeadm init 2>&1'
if [ "$RC" = 127 ]; then ok "kubeadm is not installed before the package"
else bad "kubeadm before install" "$OUT"; fi

run 1 'apt-get install -y kubeadm 2>&1'
if [ "$RC" = 100 ] && has "$OUT" "Unable to locate package kubeadm"; then ok "apt-get needs the Kubernetes apt source"
else bad "apt-get without source" "$OUT"; fi

PREP='set -e
echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.31/deb/ /" >/etc/apt/sources.list.d/kubernetes.list
apt-get update -q >/dev/null
apt-get install -y kubeadm=1.31.4-1.1 kubelet=1.31.4-1.1 kubectl=1.31.4-1.1 >/dev/null
apt-mark hold kubeadm kubelet kubectl >/dev/null
systemctl enable --now kubelet >/dev/null'
for n in 1 2 3; do on "$n" sh -c "$PREP"; done

run 1 'kubeadm init 2>&1'
if [ "$RC" = 1 ] && has "$OUT" "[ERROR FileContent--proc-sys-net-ipv4-ip_forward]" && has "$OUT" "[ERROR CRI]"; then
	ok "kubeadm preflight refuses an unprepared node (ip_forward, CRI)"
else bad "kubeadm preflight on an unprepared node" "$OUT"; fi

run 1 'sysctl -w net.bridge.bridge-nf-call-iptables=1 2>&1'
if [ "$RC" != 0 ] && has "$OUT" "cannot stat /proc/sys/net/bridge/bridge-nf-call-iptables"; then
	ok "net.bridge.* needs br_netfilter first"
else bad "sysctl net.bridge before modprobe" "$OUT"; fi

run 1 'apt-get install -y kubeadm=1.31.5-1.1 2>&1'
if [ "$RC" = 100 ] && has "$OUT" "Held packages were changed"; then ok "held packages need --allow-change-held-packages"
else bad "apt-get held package" "$OUT"; fi

NODEPREP='set -e
modprobe overlay
modprobe br_netfilter
printf "net.bridge.bridge-nf-call-iptables = 1\nnet.ipv4.ip_forward = 1\n" >/etc/sysctl.d/99-kubernetes.conf
sysctl --system >/dev/null
swapoff -a
printf "[Service]\nExecStart=/usr/bin/containerd\n" >/lib/systemd/system/containerd.service
systemctl enable --now containerd >/dev/null'
for n in 1 2 3; do on "$n" sh -c "$NODEPREP"; done
run 2 'sysctl -n net.ipv4.ip_forward; lsmod | grep -c br_netfilter; systemctl is-active containerd; systemctl is-active kubelet; journalctl -u kubelet -n 1'
if [ "$OUT" = "1
1
active
activating
$(tail -n 1 <<<"$OUT")" ] && has "$OUT" "failed to load kubelet config file"; then
	ok "sysctl, lsmod, systemctl, journalctl agree (kubelet crash-loops until configured)"
else bad "node preparation state" "$OUT"; fi

cat >"$STATE/kubeadm-config.yaml" <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: $A1
  bindPort: 6443
nodeRegistration:
  name: node1
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.31.4
networking:
  podSubnet: 10.244.0.0/16
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
EOF
on 1 sh -c 'cat > /root/kubeadm.yaml' <"$STATE/kubeadm-config.yaml"
run 1 'kubeadm init --config /root/kubeadm.yaml --pod-network-cidr 10.244.0.0/16 2>&1'
if [ "$RC" = 1 ] && has "$OUT" "can not mix '--config' with arguments [pod-network-cidr]"; then ok "kubeadm init refuses --config mixed with flags"
else bad "kubeadm init --config + flags" "$OUT"; fi

run 1 'kubeadm init --config /root/kubeadm.yaml 2>&1'
JOIN=$(tail -n 2 <<<"$OUT" | tr -d '\\\n\t' | sed 's/  */ /g')
if [ "$RC" = 0 ] && has "$OUT" "Your Kubernetes control-plane has initialized successfully!" &&
	[[ "$JOIN" =~ ^kubeadm\ join\ $A1:6443\ --token\ [a-z0-9]{6}\.[a-z0-9]{16}\ --discovery-token-ca-cert-hash\ sha256:[0-9a-f]{64}\ ?$ ]]; then
	ok "kubeadm init prints a real-looking join command"
else bad "kubeadm init" "$OUT"; fi

run 1 'stat -c %a /etc/kubernetes/admin.conf; systemctl is-active kubelet; grep cgroupDriver /var/lib/kubelet/config.yaml;
	openssl x509 -pubkey -noout -in /etc/kubernetes/pki/ca.crt | openssl pkey -pubin -outform der | sha256sum | cut -d" " -f1'
hash=${JOIN##*sha256:}
hash=${hash%% *}
if [ "$OUT" = "600
active
cgroupDriver: systemd
$hash" ]; then ok "admin.conf 0600, kubelet active, CA hash computed as kubeadm does"
else bad "init results" "$OUT"; fi

BADTOKEN=$(sed -E 's/--token [^ ]+/--token abcdef.0123456789abcdef/' <<<"$JOIN")
run 3 "$BADTOKEN 2>&1"
if [ "$RC" = 1 ] && has "$OUT" 'could not find a JWS signature in the cluster-info ConfigMap for token ID "abcdef"'; then
	ok "join with a wrong token is refused"
else bad "join wrong token" "$OUT"; fi

BADHASH=$(sed -E 's/sha256:[0-9a-f]+/sha256:0000000000000000000000000000000000000000000000000000000000000000/' <<<"$JOIN")
run 3 "$BADHASH 2>&1"
if [ "$RC" = 1 ] && has "$OUT" "are pinned"; then ok "join with a wrong CA hash is refused"
else bad "join wrong hash" "$OUT"; fi

run 2 "$JOIN 2>&1"
if [ "$RC" = 0 ] && has "$OUT" "This node has joined the cluster"; then ok "kubeadm join with the printed command"
else bad "kubeadm join" "$OUT"; fi

run 2 "$JOIN 2>&1"
if [ "$RC" = 1 ] && has "$OUT" "[ERROR FileAvailable--etc-kubernetes-kubelet.conf]"; then ok "a second join is refused (kubelet.conf exists)"
else bad "second join" "$OUT"; fi

run 1 'kubeadm token create --print-join-command'
JOIN3=$OUT
run 3 "$JOIN3 2>&1"
if [ "$RC" = 0 ]; then ok "kubeadm token create --print-join-command gives a working join command"
else bad "token create + join" "$OUT"; fi

run 1 'kubectl get nodes 2>&1'
if [ "$RC" = 1 ] && has "$OUT" "localhost:8080 was refused"; then ok "kubectl without a kubeconfig fails like the real one"
else bad "kubectl without kubeconfig" "$OUT"; fi

# shellcheck disable=SC2016 # expanded in the node
run 1 'export KUBECONFIG=/etc/kubernetes/admin.conf; kubectl get nodes --no-headers | awk "{print \$1, \$2, \$3, \$5}";
	kubectl label node node2 gpu=true >/dev/null; kubectl taint node node2 gpu=true:NoSchedule >/dev/null;
	kubectl get nodes -o json | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(len(d[\"items\"]), [i[\"metadata\"][\"labels\"].get(\"gpu\") for i in d[\"items\"]], [len(i[\"spec\"][\"taints\"]) for i in d[\"items\"]])"'
if [ "$OUT" = "node1 Ready control-plane v1.31.4
node2 Ready <none> v1.31.4
node3 Ready <none> v1.31.4
3 [None, 'true', None] [1, 1, 0]" ]; then ok "kubectl get nodes shows joined nodes Ready; label, taint, -o json"
else bad "kubectl get nodes" "$OUT"; fi

run 3 'kubeadm reset -f >/dev/null 2>&1; ls /etc/kubernetes/kubelet.conf 2>&1; systemctl is-active kubelet'
run 1 'KUBECONFIG=/etc/kubernetes/admin.conf kubectl get nodes -o name'
if [ "$OUT" = "node/node1
node/node2" ]; then ok "kubeadm reset on a worker removes it from the cluster"
else bad "reset worker" "$OUT"; fi

run 1 'grep -c "^.* kubeadm init --config /root/kubeadm.yaml$" /var/log/kfboot-standins.log'
if [ "$OUT" -ge 1 ]; then ok "every call is recorded in /var/log/kfboot-standins.log"
else bad "call log" "$OUT"; fi

for n in 1 2; do on "$n" kubeadm reset -f >/dev/null 2>&1 || true; done
if [ -z "$(ls -A "$STATE/cluster" 2>/dev/null)" ]; then ok "kubeadm reset on the control plane clears the cluster"
else bad "reset control plane" "$(ls -A "$STATE/cluster")"; fi

[ "$FAILS" = 0 ]
