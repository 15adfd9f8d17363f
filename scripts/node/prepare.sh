#!/bin/sh
# prepare.sh - make a Debian/Ubuntu host ready to run kubelet: kernel
# modules, sysctl, swap off, containerd with the systemd cgroup driver, and
# kubelet/kubeadm/kubectl pinned to one version, from pkgs.k8s.io or from a
# directory of .deb files (offline bundle). Idempotent: every step checks
# first and does nothing when its work is already done. Runs as root.
#
# Environment:
#   KF_K8S_VERSION  Kubernetes version, e.g. 1.31.4 (required)
#   KF_BUNDLE_DIR   directory of .deb files to install instead of using the network
#
# step: load kernel modules overlay and br_netfilter, persist them in /etc/modules-load.d/kfboot-k8s.conf
# step: set net.bridge.bridge-nf-call-iptables, net.bridge.bridge-nf-call-ip6tables, net.ipv4.ip_forward = 1 in /etc/sysctl.d/99-kfboot-k8s.conf
# step: turn swap off now and comment out swap lines in /etc/fstab
# step: install kubelet, kubeadm, kubectl (pinned, held) and containerd: from KF_BUNDLE_DIR (apt-get install ./*.deb) or pkgs.k8s.io (apt)
# step: write /etc/containerd/config.toml with SystemdCgroup = true, restart containerd, enable kubelet
set -eu
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

: "${KF_K8S_VERSION:?KF_K8S_VERSION is not set}"
KF_BUNDLE_DIR=${KF_BUNDLE_DIR:-}
changed=0

log() { printf 'kfboot: %s\n' "$*"; }
die() { printf 'prepare.sh: %s\n' "$*" >&2; exit 1; }
# Wait for dpkg's lock instead of failing: an earlier run that was
# interrupted (kfboot killed, connection lost) may still be installing.
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }

[ "$(id -u)" = 0 ] || die "must run as root (use sudo)"
export DEBIAN_FRONTEND=noninteractive

# Kernel modules.
mods=/etc/modules-load.d/kfboot-k8s.conf
if [ ! -f "$mods" ] || ! grep -qx br_netfilter "$mods"; then
	log "loading kernel modules overlay, br_netfilter"
	modprobe overlay </dev/null
	modprobe br_netfilter </dev/null
	printf 'overlay\nbr_netfilter\n' >"$mods"
	changed=1
fi

# sysctl.
conf=/etc/sysctl.d/99-kfboot-k8s.conf
want='net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
	log "setting sysctl for bridged traffic and forwarding"
	printf '%s\n' "$want" >"$conf"
	sysctl -p "$conf" >/dev/null </dev/null || echo "prepare.sh: warning: sysctl -p $conf failed; kubeadm's preflight will say what is missing" >&2
	changed=1
fi

# Swap.
if [ "$(awk 'NR > 1' /proc/swaps 2>/dev/null | wc -l)" != 0 ]; then
	log "turning swap off"
	swapoff -a </dev/null
	changed=1
fi
if grep -Eq '^[^#].*[[:space:]]swap[[:space:]]' /etc/fstab 2>/dev/null; then
	log "commenting out swap in /etc/fstab"
	sed -i.kfboot.bak -E 's/^([^#].*[[:space:]]swap[[:space:]].*)$/# \1  # disabled by kfboot/' /etc/fstab
	changed=1
fi

# Packages.
ver() {
	command -v "$1" >/dev/null 2>&1 || return 0
	"$@" </dev/null 2>/dev/null | grep -o 'v\{0,1\}[0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*' | head -n 1 | sed 's/^v//'
}
have_k8s() {
	[ "$(ver kubeadm version -o short)" = "$KF_K8S_VERSION" ] &&
		[ "$(ver kubelet --version)" = "$KF_K8S_VERSION" ] &&
		[ "$(ver kubectl version --client)" = "$KF_K8S_VERSION" ]
}
if ! have_k8s || ! command -v containerd >/dev/null 2>&1; then
	if [ -n "$KF_BUNDLE_DIR" ]; then
		log "installing packages from the offline bundle $KF_BUNDLE_DIR"
		set -- "$KF_BUNDLE_DIR"/*.deb
		[ -e "$1" ] || die "no .deb files in $KF_BUNDLE_DIR"
		# apt-get (not dpkg -i) orders the local packages by their dependencies;
		# nothing is fetched when the bundle is complete.
		apt_get install -y -q --no-install-recommends --allow-downgrades --allow-change-held-packages \
			"$@" </dev/null >/dev/null || die "installing the offline bundle $KF_BUNDLE_DIR failed"
	else
		minor=$(printf '%s' "$KF_K8S_VERSION" | cut -d. -f1,2)
		log "installing kubelet/kubeadm/kubectl $KF_K8S_VERSION from pkgs.k8s.io (v$minor)"
		apt_get update -q </dev/null >/dev/null
		apt_get install -y -q --no-install-recommends ca-certificates curl gpg </dev/null >/dev/null
		mkdir -p /etc/apt/keyrings && chmod 755 /etc/apt/keyrings
		curl -fsSL "https://pkgs.k8s.io/core:/stable:/v$minor/deb/Release.key" |
			gpg --dearmor --batch --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
		echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v$minor/deb/ /" \
			>/etc/apt/sources.list.d/kubernetes.list
		apt_get update -q </dev/null >/dev/null
		apt-mark unhold kubelet kubeadm kubectl </dev/null >/dev/null 2>&1 || true
		apt_get install -y -q --allow-downgrades --allow-change-held-packages --no-install-recommends containerd \
			"kubelet=$KF_K8S_VERSION-*" "kubeadm=$KF_K8S_VERSION-*" "kubectl=$KF_K8S_VERSION-*" </dev/null >/dev/null
	fi
	apt-mark hold kubelet kubeadm kubectl </dev/null >/dev/null 2>&1 || true
	have_k8s || die "kubeadm/kubelet/kubectl are not at $KF_K8S_VERSION after installing"
	command -v containerd >/dev/null 2>&1 ||
		die "containerd is not installed (an offline bundle needs the containerd and runc .deb files too)"
	changed=1
fi

# containerd with the systemd cgroup driver.
cfg=/etc/containerd/config.toml
if ! grep -q 'SystemdCgroup = true' "$cfg" 2>/dev/null; then
	log "configuring containerd (SystemdCgroup = true)"
	mkdir -p /etc/containerd
	if containerd config default >"$cfg.kfboot.tmp" 2>/dev/null </dev/null && grep -q SystemdCgroup "$cfg.kfboot.tmp"; then
		sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' "$cfg.kfboot.tmp"
	else
		cat >"$cfg.kfboot.tmp" <<'TOML'
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
TOML
	fi
	mv "$cfg.kfboot.tmp" "$cfg"
	systemctl restart containerd </dev/null
	changed=1
fi
if [ "$(systemctl is-enabled kubelet </dev/null 2>/dev/null)" != enabled ]; then
	systemctl enable kubelet </dev/null >/dev/null 2>&1
	changed=1
fi

if [ "$changed" = 1 ]; then echo "kfboot-result: changed"; else echo "kfboot-result: unchanged"; fi
