#!/bin/sh
# network.sh - install the pod network plugin (flannel or calico) from the
# control plane with kubectl, using the admin kubeconfig. For flannel the
# manifest's pod network is set to the cluster's podSubnet. Idempotent: the
# applied plugin is recorded in /etc/kubernetes/kfboot-cni and not applied
# again. Runs as root.
#
# Environment:
#   KF_CNI           flannel | calico (required)
#   KF_CNI_MANIFEST  a local file or an https:// URL of the manifest (required)
#   KF_POD_SUBNET    the cluster's pod subnet (flannel), default 10.244.0.0/16
#
# step: skip when /etc/kubernetes/kfboot-cni already names KF_CNI
# step: fetch the manifest (file or URL), set flannel's Network to KF_POD_SUBNET
# step: kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f MANIFEST, record /etc/kubernetes/kfboot-cni
set -eu

: "${KF_CNI:?KF_CNI is not set}"
: "${KF_CNI_MANIFEST:?KF_CNI_MANIFEST is not set}"
KF_POD_SUBNET=${KF_POD_SUBNET:-10.244.0.0/16}
marker=/etc/kubernetes/kfboot-cni
kc=/etc/kubernetes/admin.conf
die() { printf 'network.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (use sudo)"
[ -f "$kc" ] || die "no $kc: the control plane is not initialised"
if [ "$(cat "$marker" 2>/dev/null)" = "$KF_CNI" ]; then
	echo "kfboot: $KF_CNI already applied"
	echo "kfboot-result: unchanged"
	exit 0
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
case $KF_CNI_MANIFEST in
https://* | http://*)
	echo "kfboot: downloading $KF_CNI_MANIFEST"
	curl -fsSL "$KF_CNI_MANIFEST" -o "$tmp" </dev/null || die "cannot download $KF_CNI_MANIFEST"
	;;
*)
	cp "$KF_CNI_MANIFEST" "$tmp" || die "cannot read $KF_CNI_MANIFEST"
	;;
esac
if [ "$KF_CNI" = flannel ]; then
	sed -i "s#\"Network\": \"[0-9./]*\"#\"Network\": \"$KF_POD_SUBNET\"#" "$tmp"
fi
echo "kfboot: applying $KF_CNI"
kubectl --kubeconfig "$kc" apply -f "$tmp" </dev/null >/dev/null
printf '%s\n' "$KF_CNI" >"$marker"
echo "kfboot-result: changed"
