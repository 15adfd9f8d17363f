#!/bin/sh
# join.sh - join this node to the cluster with `kubeadm join` and a
# JoinConfiguration file that kfboot uploads (mode 0600; it holds the
# bootstrap token, so the token never appears on a command line). The file
# is removed afterwards. Idempotent: a node with /etc/kubernetes/kubelet.conf
# is already joined and is left alone. Runs as root.
#
# Environment:
#   KF_JOIN_CONFIG  path of the JoinConfiguration on this node (required)
#
# step: skip when /etc/kubernetes/kubelet.conf exists
# step: kubeadm join --config KF_JOIN_CONFIG, then remove KF_JOIN_CONFIG
set -eu

: "${KF_JOIN_CONFIG:?KF_JOIN_CONFIG is not set}"
die() { printf 'join.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (use sudo)"
trap 'rm -f "$KF_JOIN_CONFIG"' EXIT
if [ -f /etc/kubernetes/kubelet.conf ]; then
	echo "kfboot: already joined"
	echo "kfboot-result: unchanged"
	exit 0
fi
[ -f "$KF_JOIN_CONFIG" ] || die "no join configuration at $KF_JOIN_CONFIG"
echo "kfboot: kubeadm join"
kubeadm join --config "$KF_JOIN_CONFIG" </dev/null
echo "kfboot-result: changed"
