# shellcheck shell=bash
# prov-lib.sh - helpers shared by the provisioning tests and benchmark
# (test_up.sh, test_ansible.sh, tests/bench/bench_up.sh): start test nodes
# (tests/nodes/nodes.sh), build an offline bundle, write a Cluster profile
# for them. Sourced, never run. No network: packages come from the bundle.
#
# The bundle holds stand-in Kubernetes packages (the apt-get stand-in on the
# nodes "installs" kubeadm/kubelet/kubectl from any file named like
# kubeadm_1.31.4-1.1_amd64.deb), the real containerd and runc .deb files
# when the machine's apt cache has them (MACHINE-NOTES: containerd is a
# Debian package), otherwise a minimal containerd package built here with
# dpkg-deb, and a flannel manifest.

PROV_NODES=${KF_SOURCE_DIR:?}/tests/nodes/nodes.sh

prov_need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: $(basename "$0") needs root (network namespaces for the test nodes)"
		exit 77
	fi
}

# prov_nodes_up N DIR: start N nodes with their state in DIR/nodes.
prov_nodes_up() {
	KF_NODES_QUIET=1 bash "$PROV_NODES" up "$1" "$2/nodes" >/dev/null
	# shellcheck disable=SC1091
	. "$2/nodes/nodes.env"
}

prov_nodes_down() {
	KF_NODES_QUIET=1 bash "$PROV_NODES" down "$1/nodes" >/dev/null 2>&1 || true
}

# prov_node_exec DIR NODE CMD...: run CMD inside a node (as root, no ssh).
prov_node_exec() {
	local d=$1
	shift
	bash "$PROV_NODES" exec "$d/nodes" "$@"
}

# A minimal "containerd" package: a binary that answers --version and
# `config default`, and a systemd unit (for the systemctl stand-in).
prov_fake_containerd_deb() {
	local out=$1 w
	w=$(mktemp -d)
	mkdir -p "$w/pkg/DEBIAN" "$w/pkg/usr/bin" "$w/pkg/lib/systemd/system"
	cat >"$w/pkg/DEBIAN/control" <<'CTL'
Package: containerd
Version: 1.6.20~kfboot-test
Architecture: all
Maintainer: kfboot tests <tests@kfboot.invalid>
Description: stand-in containerd for kfboot tests
CTL
	cat >"$w/pkg/usr/bin/containerd" <<'BIN'
#!/bin/sh
case "$1" in
--version) echo "containerd kfboot-test 1.6.20" ;;
config) printf 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = false\n' ;;
*) exit 0 ;;
esac
BIN
	chmod 755 "$w/pkg/usr/bin/containerd"
	printf '[Unit]\nDescription=containerd (kfboot test)\n[Service]\nExecStart=/usr/bin/containerd\n' \
		>"$w/pkg/lib/systemd/system/containerd.service"
	dpkg-deb --build --root-owner-group "$w/pkg" "$out/containerd_1.6.20~kfboot-test_all.deb" >/dev/null
	rm -rf "$w"
}

# prov_bundle DIR [fake]: an offline bundle in DIR. With "fake", always the
# minimal containerd (fast: for benchmarks of kfboot itself).
prov_bundle() {
	local b=$1 p c r
	mkdir -p "$b"
	for p in kubeadm kubelet kubectl; do
		echo "kfboot test stand-in package" >"$b/${p}_1.31.4-1.1_amd64.deb"
	done
	echo "kfboot test stand-in package" >"$b/kubernetes-cni_1.5.1-1.1_amd64.deb"
	echo "kfboot test stand-in package" >"$b/cri-tools_1.31.1-1.1_amd64.deb"
	c=$(find /var/cache/apt/archives -maxdepth 1 -name 'containerd_*.deb' 2>/dev/null | head -n 1)
	r=$(find /var/cache/apt/archives -maxdepth 1 -name 'runc_*.deb' 2>/dev/null | head -n 1)
	if [ "${2:-}" != fake ] && [ -n "$c" ] && [ -n "$r" ]; then
		cp "$c" "$r" "$b/"
	else
		prov_fake_containerd_deb "$b"
	fi
	cat >"$b/kube-flannel.yml" <<'YML'
apiVersion: v1
kind: Namespace
metadata:
  name: kube-flannel
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: kube-flannel-cfg
  namespace: kube-flannel
data:
  net-conf.json: |
    { "Network": "10.244.0.0/16", "Backend": { "Type": "vxlan" } }
YML
}

# prov_profile FILE NAME BUNDLE NHOSTS [HOST=USER ...]: a profile for the
# first NHOSTS nodes (node1 = control plane), user kfuser unless overridden.
# No Kubeflow (the stand-in control plane has no API server) unless
# PROV_KUBEFLOW holds the lines of a spec.kubeflow section (test_up_kubeflow.sh).
prov_profile() {
	local f=$1 name=$2 bundle=$3 n=$4 i addr user
	shift 4
	{
		echo "apiVersion: kfboot.io/v1alpha1"
		echo "kind: Cluster"
		echo "metadata:"
		echo "  name: $name"
		echo "spec:"
		echo "  ssh:"
		echo "    user: kfuser"
		echo "    identityFile: $KF_NODES_KEY"
		echo "    knownHostsFile: $KF_NODES_KNOWN_HOSTS"
		echo "    connectTimeout: 2s"
		echo "  hosts:"
		for i in $(seq 1 "$n"); do
			eval "addr=\$KF_NODE_${i}_ADDR"
			user=""
			for o in "$@"; do
				case $o in "node$i="*) user=${o#*=} ;; esac
			done
			if [ "$i" = 1 ]; then
				echo "    - { name: node1, address: $addr, role: control-plane }"
			elif [ -n "$user" ]; then
				echo "    - { name: node$i, address: $addr, role: worker, ssh: { user: $user } }"
			else
				echo "    - { name: node$i, address: $addr, role: worker }"
			fi
		done
		echo "  kubernetes:"
		echo "    version: \"1.31.4\""
		echo "    offlineBundle: $bundle"
		echo "  kubeflow:"
		if [ -n "${PROV_KUBEFLOW:-}" ]; then
			printf '%s\n' "$PROV_KUBEFLOW"
		else
			echo "    components: []"
		fi
	} >"$f"
}

# Preflight checks the test nodes cannot pass (no cgroup mount inside a
# node's fresh /sys): print the --ignore-preflight option, or nothing.
prov_ignore_opts() {
	local t
	t=$(prov_node_exec "$1" node1 stat -fc %T /sys/fs/cgroup 2>/dev/null || true)
	case $t in
	cgroup2fs | tmpfs) ;;
	*) echo "--ignore-preflight cgroups" ;;
	esac
}

# prov_test_harness: for a test script whose scratch directory is $T: stop
# the nodes and remove $T on exit; fail() prints the last lines of $T/out and
# $T/err; step() announces a step.
prov_test_harness() {
	# shellcheck disable=SC2329 # called through the trap
	cleanup() {
		prov_nodes_down "$T"
		rm -rf "$T"
	}
	trap cleanup EXIT
}
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/out "$T"/err; do [ -s "$f" ] && { echo "--- $f" >&2; tail -n 40 "$f" >&2; }; done
	exit 1
}
step() { echo "--- $*"; }
