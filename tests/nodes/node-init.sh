#!/bin/sh
# node-init.sh - PID 1 of one test node, started by nodes.sh inside the
# node's own network, mount, PID and UTS namespaces. It builds the node's
# root file system (a tmpfs-backed overlay of the machine's /, with the
# shared template and the node's own /etc files on top), mounts /proc, /sys,
# /sys/fs/cgroup and /proc/sys read-only where writing would reach the real
# kernel, binds the
# cluster's shared directory, and then becomes the node's sshd.
#
#   node-init.sh kfnode-init STATE_DIR INDEX
# (the first argument only marks the process so nodes.sh can recognise it)
set -eu

state=$2
i=$3
nd=$state/nodes/node$i
fs=$nd/fs
r=$fs/root

# The upper layer cannot live on the file system it overlays (the kernel
# refuses overlapping layers), so it lives on a tmpfs private to this node.
mount -t tmpfs -o size=8g,mode=0755 kfnode "$fs"
mkdir -p "$fs/upper" "$fs/work" "$r"
cp -a "$state/template/." "$fs/upper/"
cp -a "$nd/etc/." "$fs/upper/etc/"
mount -t overlay kfnode -o "lowerdir=/,upperdir=$fs/upper,workdir=$fs/work" "$r"

mount -t proc proc "$r/proc"
mount --bind "$r/proc/sys" "$r/proc/sys"
mount -o remount,bind,ro "$r/proc/sys"
if mount --bind "$r/proc/sysrq-trigger" "$r/proc/sysrq-trigger" 2>/dev/null; then
	mount -o remount,bind,ro "$r/proc/sysrq-trigger" 2>/dev/null || true
fi
mount -t sysfs -o ro sysfs "$r/sys"
# The machine's cgroup file systems (v2, or a tmpfs of v1 hierarchies), as
# nodes.sh recorded them, mounted again read-only, so facts and preflight
# see what a real host shows (`ip netns exec` replaced /sys, so they cannot
# simply be bound). Best effort: a node without them still starts.
if [ -s "$state/cgroup-mounts" ]; then
	while read -r mp type opts; do
		opts=$(printf '%s' "$opts" | tr ',' '\n' | grep -vx -e rw -e ro | paste -sd, -)
		case $type in
		tmpfs) mount -t tmpfs -o "mode=755" tmpfs "$r$mp" ;;
		cgroup2) mkdir -p "$r$mp" 2>/dev/null || true
			mount -t cgroup2 -o ro cgroup2 "$r$mp" ;;
		*) mkdir -p "$r$mp" 2>/dev/null || true
			mount -t "$type" -o "ro${opts:+,$opts}" "$type" "$r$mp" ;;
		esac
	done <"$state/cgroup-mounts" 2>/dev/null || true
	mount -o remount,ro "$r/sys/fs/cgroup" 2>/dev/null || true
fi
mount --rbind /dev "$r/dev"
mount -t tmpfs -o mode=0755 tmpfs "$r/run"
mkdir -p "$r/run/sshd" "$r/run/lock"
mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"
mkdir -p "$r/var/lib/kfboot-sim"
mount --bind "$state/cluster" "$r/var/lib/kfboot-sim"

hostname "node$i"
cd /
exec chroot "$r" /usr/sbin/sshd -D -e -f /etc/kfnode/sshd_config
