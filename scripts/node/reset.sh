#!/bin/sh
# reset.sh - undo what kfboot's `up` did to a node: `kubeadm reset`, then
# what kubeadm reset leaves behind: CNI configuration, CNI network
# interfaces, iptables/ip6tables rules and IPVS tables, kfboot's marker and
# the login user's staging directory. Packages, containerd configuration,
# kernel modules and sysctl settings stay. Idempotent. Runs as root.
#
# Environment:
#   KF_STAGE_DIR  the login user's kfboot staging directory, removed (optional)
#
# step: kubeadm reset -f (when kubeadm exists and the node has Kubernetes state)
# step: remove /etc/cni/net.d/*, /var/lib/cni, interfaces cni0, flannel.1, vxlan.calico, tunl0
# step: flush and delete iptables and ip6tables rules (filter, nat, mangle), ipvsadm --clear
# step: remove /etc/kubernetes/kfboot-cni and KF_STAGE_DIR
set -eu

KF_STAGE_DIR=${KF_STAGE_DIR:-}
changed=0
die() { printf 'reset.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (use sudo)"

has_state() {
	[ -f /etc/kubernetes/kubelet.conf ] || [ -f /etc/kubernetes/admin.conf ] ||
		[ -n "$(ls -A /etc/kubernetes/manifests 2>/dev/null)" ] || [ -d /var/lib/etcd/member ]
}
if command -v kubeadm >/dev/null 2>&1 && has_state; then
	echo "kfboot: kubeadm reset"
	kubeadm reset -f </dev/null >/dev/null
	changed=1
fi
if [ -n "$(ls -A /etc/cni/net.d 2>/dev/null)" ] || [ -d /var/lib/cni ]; then
	echo "kfboot: removing CNI configuration"
	rm -rf /etc/cni/net.d/* /var/lib/cni
	changed=1
fi
for l in cni0 flannel.1 vxlan.calico tunl0; do
	if ip link show "$l" >/dev/null 2>&1; then
		ip link delete "$l" >/dev/null 2>&1 || true
		changed=1
	fi
done
for ipt in iptables ip6tables; do
	command -v "$ipt" >/dev/null 2>&1 || continue
	if [ "$("$ipt"-save 2>/dev/null | grep -c -E '^(-A|:KUBE|:FLANNEL|:cali)')" != 0 ]; then
		echo "kfboot: flushing $ipt rules"
		for t in filter nat mangle; do
			"$ipt" -t "$t" -F 2>/dev/null || true
			"$ipt" -t "$t" -X 2>/dev/null || true
		done
		changed=1
	fi
done
if command -v ipvsadm >/dev/null 2>&1 && [ -n "$(ipvsadm -Ln 2>/dev/null | awk 'NR > 3')" ]; then
	ipvsadm --clear
	changed=1
fi
if [ -f /etc/kubernetes/kfboot-cni ]; then
	rm -f /etc/kubernetes/kfboot-cni
	changed=1
fi
if [ -n "$KF_STAGE_DIR" ] && [ -d "$KF_STAGE_DIR" ]; then
	rm -rf "$KF_STAGE_DIR"
	changed=1
fi
if [ "$changed" = 1 ]; then echo "kfboot-result: changed"; else echo "kfboot-result: unchanged"; fi
