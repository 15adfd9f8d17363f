#!/bin/sh
# join.sh - join this node to the cluster with `kubeadm join`. The endpoint,
# bootstrap token and CA certificate hash come from a file that kfboot
# uploads with mode 0600 (so the token is never part of an SSH command line
# or a log) and that this script removes when it is done. Idempotent: a node
# with /etc/kubernetes/kubelet.conf is already joined and is left alone.
# Runs as root.
#
# Environment:
#   KF_JOIN_ENV    file with KF_JOIN_ENDPOINT, KF_JOIN_TOKEN, KF_JOIN_CA_HASH (required)
#   KF_NODE_NAME   the node's name in the cluster (default: the hostname)
#
# step: skip when /etc/kubernetes/kubelet.conf exists
# step: kubeadm join ENDPOINT --token TOKEN --discovery-token-ca-cert-hash HASH --node-name KF_NODE_NAME, then remove KF_JOIN_ENV
set -eu
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

: "${KF_JOIN_ENV:?KF_JOIN_ENV is not set}"
die() { printf 'join.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (use sudo)"
trap 'rm -f "$KF_JOIN_ENV"' EXIT
if [ -f /etc/kubernetes/kubelet.conf ]; then
	echo "kfboot: already joined"
	echo "kfboot-result: unchanged"
	exit 0
fi
[ -f "$KF_JOIN_ENV" ] || die "no join parameters at $KF_JOIN_ENV"
KF_JOIN_ENDPOINT="" KF_JOIN_TOKEN="" KF_JOIN_CA_HASH=""
# shellcheck disable=SC1090
. "$KF_JOIN_ENV"
if [ -z "$KF_JOIN_ENDPOINT" ] || [ -z "$KF_JOIN_TOKEN" ] || [ -z "$KF_JOIN_CA_HASH" ]; then
	die "$KF_JOIN_ENV lacks KF_JOIN_ENDPOINT, KF_JOIN_TOKEN or KF_JOIN_CA_HASH"
fi
name=${KF_NODE_NAME:-$(hostname)}
echo "kfboot: kubeadm join $KF_JOIN_ENDPOINT as $name"
kubeadm join "$KF_JOIN_ENDPOINT" --token "$KF_JOIN_TOKEN" \
	--discovery-token-ca-cert-hash "$KF_JOIN_CA_HASH" --node-name "$name" \
	--cri-socket unix:///run/containerd/containerd.sock </dev/null
echo "kfboot-result: changed"
