#!/bin/sh
# init-control-plane.sh - create the control plane with `kubeadm init` from a
# kubeadm configuration file (ClusterConfiguration + InitConfiguration +
# KubeletConfiguration) that kfboot generates and uploads. Idempotent: a node
# that already has an API server manifest and admin.conf is left alone.
# Runs as root.
#
# Environment:
#   KF_KUBEADM_CONFIG  path of the kubeadm configuration on this node (required)
#
# step: skip when /etc/kubernetes/admin.conf and manifests/kube-apiserver.yaml exist
# step: kubeadm init --config KF_KUBEADM_CONFIG --skip-token-print
set -eu

: "${KF_KUBEADM_CONFIG:?KF_KUBEADM_CONFIG is not set}"
die() { printf 'init-control-plane.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (use sudo)"
if [ -f /etc/kubernetes/admin.conf ] && [ -f /etc/kubernetes/manifests/kube-apiserver.yaml ]; then
	echo "kfboot: control plane already initialised"
	echo "kfboot-result: unchanged"
	exit 0
fi
[ -f "$KF_KUBEADM_CONFIG" ] || die "no kubeadm configuration at $KF_KUBEADM_CONFIG"
echo "kfboot: kubeadm init"
kubeadm init --config "$KF_KUBEADM_CONFIG" --skip-token-print </dev/null
echo "kfboot-result: changed"
