#!/bin/sh
# facts.sh - report what kfboot needs to know about a node, one key=value per
# line. Read-only: it changes nothing, so `kfboot status` and preflight can
# run it on any host. Runs as the login user; reads privileged state through
# `sudo -n` when that works. kfboot feeds it on stdin (`sh -s`), so commands
# here must not read stdin.
#
# step: read OS, architecture, CPUs, memory, swap, cgroup version, hostname, machine-id
# step: check passwordless sudo, kernel modules, ports 6443 and 10250
# step: detect containerd, kubelet, kubeadm, kubectl and whether the node is prepared, initialised or joined
set -u
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

KF_K8S_VERSION=${KF_K8S_VERSION:-}
KF_CONFIG_DIR=${KF_CONFIG_DIR:-/etc/kubernetes}

say() { printf '%s=%s\n' "$1" "$2"; }

uid=$(id -u)
SUDO=""
if [ "$uid" = 0 ]; then
	sudo_state=root
elif sudo -n true </dev/null >/dev/null 2>&1; then
	sudo_state=yes
	SUDO="sudo -n"
else
	sudo_state=no
fi
priv() { $SUDO "$@" </dev/null; }

os_id=unknown os_version=unknown os_pretty=unknown
if [ -r /etc/os-release ]; then
	# shellcheck disable=SC1091
	. /etc/os-release
	os_id=${ID:-unknown}
	os_version=${VERSION_ID:-unknown}
	os_pretty=${PRETTY_NAME:-unknown}
fi
say os_id "$os_id"
say os_version "$os_version"
say os_pretty "$os_pretty"
say arch "$(uname -m)"
say kernel "$(uname -r)"
say cpus "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 0)"
say mem_kib "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
say swap_kib "$(awk 'NR > 1 {s += $3} END {print s + 0}' /proc/swaps 2>/dev/null || echo 0)"
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
	say cgroup 2
elif [ -d /sys/fs/cgroup/memory ]; then
	say cgroup 1
else
	say cgroup none
fi
say hostname "$(hostname 2>/dev/null || cat /etc/hostname)"
say machine_id "$(cat /etc/machine-id 2>/dev/null)"
say user "$(id -un)"
say uid "$uid"
say home "$HOME"
say sudo "$sudo_state"
say time "$(date +%s.%N)"

missing=""
for m in overlay br_netfilter; do
	if [ -d "/sys/module/$m" ] || modprobe -n -q "$m" </dev/null 2>/dev/null ||
		modinfo "$m" >/dev/null 2>&1 </dev/null; then
		:
	else
		missing="$missing $m"
	fi
done
say modules_missing "${missing# }"

# Listening TCP ports, from /proc (ss may be missing); 6443 = 0x192B, 10250 = 0x280A.
listening() {
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p="$1" 'NR > 1 && $4 == "0A" { split($2, a, ":"); if (a[2] == p) f = 1 } END { exit !f }'
}
if listening 192B; then say port_6443 used; else say port_6443 free; fi
if listening 280A; then say port_10250 used; else say port_10250 free; fi

ver() {
	command -v "$1" >/dev/null 2>&1 || return 0
	"$@" </dev/null 2>/dev/null | grep -o 'v\{0,1\}[0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*' | head -n 1 | sed 's/^v//'
}
kubeadm_v=$(ver kubeadm version -o short)
kubelet_v=$(ver kubelet --version)
kubectl_v=$(ver kubectl version --client)
say containerd_version "$(ver containerd --version)"
say kubeadm_version "$kubeadm_v"
say kubelet_version "$kubelet_v"
say kubectl_version "$kubectl_v"
if command -v systemctl >/dev/null 2>&1; then
	st=$(systemctl is-active kubelet </dev/null 2>/dev/null)
	say kubelet_active "${st:-unknown}"
else
	say kubelet_active unknown
fi

# Prepared: everything prepare.sh does is in place.
todo=""
[ -f /etc/modules-load.d/kfboot-k8s.conf ] || todo="$todo modules"
[ -f /etc/sysctl.d/99-kfboot-k8s.conf ] || todo="$todo sysctl"
[ "$(awk 'NR > 1' /proc/swaps 2>/dev/null | wc -l)" = 0 ] || todo="$todo swap"
grep -q 'SystemdCgroup = true' /etc/containerd/config.toml 2>/dev/null || todo="$todo containerd"
if [ -n "$KF_K8S_VERSION" ]; then
	[ "$kubeadm_v" = "$KF_K8S_VERSION" ] || todo="$todo kubeadm"
	[ "$kubelet_v" = "$KF_K8S_VERSION" ] || todo="$todo kubelet"
	[ "$kubectl_v" = "$KF_K8S_VERSION" ] || todo="$todo kubectl"
fi
say prepare_todo "${todo# }"

if priv test -f "$KF_CONFIG_DIR/admin.conf" && priv test -f "$KF_CONFIG_DIR/manifests/kube-apiserver.yaml"; then
	say control_plane yes
else
	say control_plane no
fi
if priv test -f "$KF_CONFIG_DIR/kubelet.conf"; then
	say joined yes
	say kubelet_server "$(priv sed -n 's/^ *server: *//p' "$KF_CONFIG_DIR/kubelet.conf" | head -n 1)"
else
	say joined no
	say kubelet_server ""
fi
say cni "$(priv cat "$KF_CONFIG_DIR/kfboot-cni" 2>/dev/null)"

# On an initialised control plane: the nodes and whether they are Ready.
if priv test -f "$KF_CONFIG_DIR/admin.conf" && command -v kubectl >/dev/null 2>&1; then
	nodes=$(priv kubectl --kubeconfig "$KF_CONFIG_DIR/admin.conf" get nodes --no-headers 2>/dev/null |
		awk '{printf "%s%s:%s", sep, $1, $2; sep = ","}')
	say nodes "$nodes"
fi
exit 0
