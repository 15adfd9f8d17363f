#!/bin/bash
# nodes.sh - lightweight test nodes for kfboot: each node is a set of Linux
# namespaces (network, mount, PID, UTS) with its own address on a private
# bridge, an overlay of / (so it can write /etc for real), the stand-ins from
# standins/ shadowing kubeadm, kubelet, kubectl and the tools that would touch
# the real kernel, and a real OpenSSH sshd on port 22 of its address.
# See README.md next to this file for what is real and what is not.
#
#   nodes.sh up N STATE_DIR          start N nodes (1..16), replacing leftovers
#   nodes.sh down STATE_DIR          stop them; idempotent, safe after a crash
#   nodes.sh exec STATE_DIR NODE CMD...   run CMD inside node NODE (name or index)
#   nodes.sh ssh STATE_DIR NODE [USER] CMD  run CMD over real ssh (OpenSSH client)
#   nodes.sh status STATE_DIR        list nodes and whether sshd answers
#
# Runs as root. Everything lives in STATE_DIR (keys, known_hosts, nodes.env,
# nodes.json, per-node files, the shared "cluster" directory) and under
# /run/kfboot-nodes/ (which subnet slot is taken by which state dir). Node
# file systems are tmpfs-backed overlays inside each node's own mount
# namespace: they vanish with the node, nothing is mounted on the host.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNDIR=/run/kfboot-nodes
MAX_NODES=16
USERS="kfuser nosudo"

die() { echo "nodes.sh: $*" >&2; exit 1; }
log() { [ -n "${KF_NODES_QUIET:-}" ] || echo "nodes.sh: $*" >&2; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

# Absolute path of a state directory (created only by `up`).
abs_state() {
	[ -n "${1:-}" ] || die "missing STATE_DIR"
	realpath -m -- "$1"
}

# ---- slots: which 10.250.X.0/24 a state dir uses ---------------------------

slot_owner() { cat "$RUNDIR/slot-$1/owner" 2>/dev/null || true; }

# Remove everything a slot may have left: node processes, namespaces, links.
slot_clean() {
	local x=$1 pidf pid ns link
	for pidf in "$RUNDIR/slot-$x"/pid-*; do
		[ -e "$pidf" ] || continue
		pid=$(cat "$pidf")
		# only our own launcher (util-linux unshare), never a recycled pid
		if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kfnode-init"; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	for pidf in "$RUNDIR/slot-$x"/pid-*; do
		[ -e "$pidf" ] || continue
		pid=$(cat "$pidf")
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			# gone, or a zombie waiting for its reaper (not us)
			awk '{exit ($3 == "Z") ? 0 : 1}' "/proc/$pid/stat" 2>/dev/null && break
			[ -d "/proc/$pid" ] || break
			sleep 0.05
		done
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^kfn-$x-[0-9]+$" || true); do
		ip netns pids "$ns" 2>/dev/null | while read -r pid; do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
	for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
		grep -E "^(kfv-$x-[0-9]+|kfb-$x)$" || true); do
		ip link del "$link" 2>/dev/null || true
	done
	rm -rf "$RUNDIR/slot-$x"
}

# Claim a free slot for $STATE; print it.
slot_claim() {
	local x owner
	mkdir -p "$RUNDIR"
	for x in $(seq 1 200); do
		if mkdir "$RUNDIR/slot-$x" 2>/dev/null; then
			echo "$STATE" >"$RUNDIR/slot-$x/owner"
			echo "$x"
			return 0
		fi
		owner=$(slot_owner "$x")
		# stale: its state dir is gone or points elsewhere now
		if [ -n "$owner" ] && [ "$(cat "$owner/slot" 2>/dev/null || true)" != "$x" ]; then
			slot_clean "$x"
			if mkdir "$RUNDIR/slot-$x" 2>/dev/null; then
				echo "$STATE" >"$RUNDIR/slot-$x/owner"
				echo "$x"
				return 0
			fi
		fi
	done
	die "no free subnet slot in $RUNDIR"
}

# ---- down ------------------------------------------------------------------

cmd_down() {
	need_root
	STATE=$(abs_state "${1:-}")
	local x d
	# every slot this state dir owns (normally one)
	for d in "$RUNDIR"/slot-*; do
		[ -d "$d" ] || continue
		if [ "$(slot_owner "${d##*/slot-}")" = "$STATE" ]; then
			slot_clean "${d##*/slot-}"
		fi
	done
	if [ -f "$STATE/slot" ]; then
		x=$(cat "$STATE/slot")
		# nodes of a half-started run may exist without the slot record
		if [ ! -d "$RUNDIR/slot-$x" ] || [ "$(slot_owner "$x")" = "$STATE" ]; then
			slot_clean "$x"
		fi
		rm -f "$STATE/slot"
	fi
	rm -rf "$STATE/nodes" "$STATE/template"
	log "down: $STATE"
}

# ---- up --------------------------------------------------------------------

# The part of the node's file system every node shares: users, sudoers,
# authorized keys, stand-ins, whiteouts hiding real kube binaries.
make_template() {
	local t=$STATE/template u uid home f p
	rm -rf "$t"
	mkdir -p "$t/etc/sudoers.d" "$t/root/.ssh" "$t/home" "$t/usr/local/bin" \
		"$t/usr/local/lib/kfboot-standins" "$t/var/lib/kfboot-standins" "$t/var/log"
	for f in passwd group shadow gshadow; do
		[ -f "/etc/$f" ] || continue
		grep -vE "^(kfuser|nosudo):" "/etc/$f" >"$t/etc/$f" || true
		chmod --reference="/etc/$f" "$t/etc/$f"
		chown --reference="/etc/$f" "$t/etc/$f"
	done
	uid=2901
	for u in $USERS; do
		home=/home/$u
		echo "$u:x:$uid:$uid:kfboot test user:$home:/bin/bash" >>"$t/etc/passwd"
		echo "$u:x:$uid:" >>"$t/etc/group"
		# '*' = no password, but not locked: key login works with UsePAM no
		[ -f "$t/etc/shadow" ] && echo "$u:*:19000:0:99999:7:::" >>"$t/etc/shadow"
		[ -f "$t/etc/gshadow" ] && echo "$u:!::" >>"$t/etc/gshadow"
		mkdir -p "$t$home/.ssh"
		cp -a /etc/skel/. "$t$home/" 2>/dev/null || true
		cp "$STATE/keys/id_ed25519.pub" "$t$home/.ssh/authorized_keys"
		chmod 700 "$t$home/.ssh"
		chmod 600 "$t$home/.ssh/authorized_keys"
		chown -R "$uid:$uid" "$t$home"
		uid=$((uid + 1))
	done
	echo "kfuser ALL=(ALL:ALL) NOPASSWD: ALL" >"$t/etc/sudoers.d/kfboot-test"
	chmod 440 "$t/etc/sudoers.d/kfboot-test"
	cp "$STATE/keys/id_ed25519.pub" "$t/root/.ssh/authorized_keys"
	chmod 700 "$t/root/.ssh"
	chmod 600 "$t/root/.ssh/authorized_keys"
	# a quiet root shell: the machine's /root/.bashrc may start slow tools
	printf '# kfboot test node\n' >"$t/root/.bashrc"

	cp "$HERE"/standins/* "$t/usr/local/lib/kfboot-standins/"
	chmod 755 "$t"/usr/local/lib/kfboot-standins/*
	chmod 644 "$t/usr/local/lib/kfboot-standins/lib.sh"
	: >"$t/var/log/kfboot-standins.log"
	chmod 666 "$t/var/log/kfboot-standins.log"
	# Tools that would touch the real kernel or services: stand-ins on PATH
	# and at the real paths, so an absolute /usr/sbin/sysctl is covered too.
	for f in systemctl journalctl modprobe lsmod sysctl swapoff swapon apt-get apt-mark; do
		ln -sf "/usr/local/lib/kfboot-standins/$f" "$t/usr/local/bin/$f"
	done
	for f in systemctl journalctl sysctl swapoff swapon modprobe lsmod; do
		for p in /usr/bin/$f /usr/sbin/$f; do
			if [ -e "$p" ]; then
				mkdir -p "$t${p%/*}"
				ln -sf "/usr/local/lib/kfboot-standins/$f" "$t$p"
			fi
		done
	done
	# Real kube binaries on this machine must not show through: a fresh
	# node has none until the stand-in apt-get "installs" them.
	for f in kubeadm kubelet kubectl; do
		for p in /usr/bin/$f /usr/local/bin/$f /usr/sbin/$f; do
			if [ -e "$p" ] || [ -L "$p" ]; then
				mkdir -p "$t${p%/*}"
				rm -f "$t$p"
				mknod "$t$p" c 0 0 # overlayfs whiteout
			fi
		done
	done
}

# Per-node files (host key, sshd config, identity), then start it.
start_node() {
	local i=$1 x=$2
	local nd=$STATE/nodes/node$i addr=10.250.$x.$((10 + i))
	local ns=kfn-$x-$i veth=kfv-$x-$i
	local e=$nd/etc
	mkdir -p "$e/kfnode" "$nd/fs"
	ssh-keygen -q -t ed25519 -N '' -C "node$i" -f "$e/kfnode/ssh_host_ed25519_key"
	chmod 600 "$e/kfnode/ssh_host_ed25519_key"
	cat >"$e/kfnode/sshd_config" <<EOF
ListenAddress $addr
Port 22
HostKey /etc/kfnode/ssh_host_ed25519_key
PidFile /run/sshd.pid
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AuthorizedKeysFile .ssh/authorized_keys
AllowTcpForwarding yes
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
EOF
	echo "node$i" >"$e/hostname"
	head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$e/machine-id"
	echo >>"$e/machine-id"
	{
		echo "127.0.0.1 localhost"
		echo "::1 localhost ip6-localhost ip6-loopback"
		for j in $(seq 1 "$N"); do echo "10.250.$x.$((10 + j)) node$j"; done
	} >"$e/hosts"

	ip netns add "$ns"
	ip link add "$veth" type veth peer name eth0 netns "$ns"
	ip link set "$veth" master "kfb-$x" up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$addr/24" dev eth0
	ip -n "$ns" link set eth0 up
	# No default route: a node reaches its subnet (other nodes, the
	# machine at .1) and nothing else, so no test traffic leaves.

	# The launcher (util-linux unshare) is pid-N; its child is the node's
	# PID 1. Killing the launcher kills the child (--kill-child), which
	# ends every process of the node and its mounts.
	setsid ip netns exec "$ns" \
		setpriv --bounding-set -sys_module,-sys_time,-sys_boot \
		unshare --mount --uts --pid --fork --kill-child --propagation private \
		/bin/sh "$HERE/node-init.sh" kfnode-init "$STATE" "$i" \
		</dev/null >"$nd/node.log" 2>&1 &
	echo $! >"$RUNDIR/slot-$x/pid-$i"
	echo $! >"$nd/pid"
}

wait_sshd() {
	local addr=$1 nd=$2 t
	for t in $(seq 1 100); do
		if timeout 1 bash -c "exec 3<>/dev/tcp/$addr/22" 2>/dev/null; then
			return 0
		fi
		[ -d "/proc/$(cat "$nd/pid")" ] || { cat "$nd/node.log" >&2; return 1; }
		sleep 0.05
		: "$t"
	done
	cat "$nd/node.log" >&2
	return 1
}

cmd_up() {
	need_root
	N=${1:-}
	if ! [[ "$N" =~ ^[0-9]+$ ]] || [ "$N" -lt 1 ] || [ "$N" -gt $MAX_NODES ]; then
		die "up: N must be 1..$MAX_NODES"
	fi
	STATE=$(abs_state "${2:-}")
	mkdir -p "$STATE"
	local x i t0 pids=() fail=0
	t0=$EPOCHREALTIME
	cmd_down "$STATE" 2>/dev/null
	command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || die "sshd not installed (openssh-server)"
	x=$(slot_claim)
	echo "$x" >"$STATE/slot"
	mkdir -p "$STATE/keys" "$STATE/nodes" "$STATE/cluster"
	chmod 755 "$STATE/cluster"
	if [ ! -f "$STATE/keys/id_ed25519" ]; then
		ssh-keygen -q -t ed25519 -N '' -C kfboot-test -f "$STATE/keys/id_ed25519"
	fi
	make_template
	# the machine's cgroup mounts, for node-init.sh to mount read-only
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break
		if ($5 ~ "^/sys/fs/cgroup(/|$)" && $(i + 1) ~ /^(cgroup2?|tmpfs)$/) print $5, $(i + 1), $(i + 3) }' \
		/proc/self/mountinfo >"$STATE/cgroup-mounts"
	ip link add "kfb-$x" type bridge
	ip addr add "10.250.$x.1/24" dev "kfb-$x"
	ip link set "kfb-$x" up
	for i in $(seq 1 "$N"); do
		start_node "$i" "$x" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || fail=1; done
	[ $fail = 0 ] || { cmd_down "$STATE"; die "up: a node failed to start"; }
	for i in $(seq 1 "$N"); do
		wait_sshd "10.250.$x.$((10 + i))" "$STATE/nodes/node$i" || {
			cmd_down "$STATE"
			die "up: sshd on node$i did not start (see above)"
		}
	done
	write_descriptions "$x"
	log "up: $N node(s) on 10.250.$x.0/24 in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')s; see $STATE/nodes.env"
}

write_descriptions() {
	local x=$1 i addr kh=$STATE/known_hosts env=$STATE/nodes.env json=$STATE/nodes.json
	: >"$kh"
	{
		echo "# kfboot test nodes (tests/nodes/nodes.sh)"
		echo "KF_NODES_STATE=$STATE"
		echo "KF_NODES_N=$N"
		echo "KF_NODES_SUBNET=10.250.$x.0/24"
		echo "KF_NODES_GATEWAY=10.250.$x.1"
		echo "KF_NODES_UNUSED_ADDR=10.250.$x.250"
		echo "KF_NODES_KEY=$STATE/keys/id_ed25519"
		echo "KF_NODES_KNOWN_HOSTS=$kh"
		echo "KF_NODES_USER=kfuser"
		echo "KF_NODES_NOSUDO_USER=nosudo"
		echo "KF_NODES_CLUSTER_DIR=$STATE/cluster"
	} >"$env"
	printf '{\n  "subnet": "10.250.%s.0/24",\n  "key": "%s",\n  "known_hosts": "%s",\n  "users": {"sudo": "kfuser", "nosudo": "nosudo", "root": "root"},\n  "nodes": [' \
		"$x" "$STATE/keys/id_ed25519" "$kh" >"$json"
	for i in $(seq 1 "$N"); do
		addr=10.250.$x.$((10 + i))
		echo "$addr $(cut -d' ' -f1,2 "$STATE/nodes/node$i/etc/kfnode/ssh_host_ed25519_key.pub")" >>"$kh"
		{
			echo "KF_NODE_${i}_NAME=node$i"
			echo "KF_NODE_${i}_ADDR=$addr"
			echo "KF_NODE_${i}_HOSTKEY=$STATE/nodes/node$i/etc/kfnode/ssh_host_ed25519_key.pub"
		} >>"$env"
		[ "$i" = 1 ] || printf ',' >>"$json"
		printf '\n    {"name": "node%s", "address": "%s", "port": 22, "host_key": "%s"}' \
			"$i" "$addr" "$STATE/nodes/node$i/etc/kfnode/ssh_host_ed25519_key.pub" >>"$json"
	done
	printf '\n  ]\n}\n' >>"$json"
}

# ---- exec / ssh / status ------------------------------------------------------

node_dir() {
	local n=$2
	[[ "$n" =~ ^[0-9]+$ ]] && n=node$n
	[ -f "$1/nodes/$n/pid" ] || die "no node '$2' in $1 (is it up?)"
	echo "$1/nodes/$n"
}

# PID 1 of the node, as the host sees it.
node_init_pid() {
	local upid child
	upid=$(cat "$1/pid")
	child=$(awk '{print $1}' "/proc/$upid/task/$upid/children" 2>/dev/null || true)
	[ -n "$child" ] || die "node $(basename "$1") is not running"
	echo "$child"
}

cmd_exec() {
	need_root
	local state nd pid
	state=$(abs_state "${1:-}")
	nd=$(node_dir "$state" "${2:-}")
	shift 2
	[ $# -gt 0 ] || die "exec: missing command"
	pid=$(node_init_pid "$nd")
	exec nsenter -t "$pid" -m -u -n -p -r -w \
		env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root TERM=dumb LANG=C.UTF-8 "$@"
}

cmd_ssh() {
	local state nd addr user=kfuser
	state=$(abs_state "${1:-}")
	nd=$(node_dir "$state" "${2:-}")
	shift 2
	if [ $# -gt 1 ] && [[ "$1" =~ ^(root|kfuser|nosudo)$ ]]; then
		user=$1
		shift
	fi
	addr=$(awk '/^ListenAddress/ {print $2}' "$nd/etc/kfnode/sshd_config")
	exec ssh -F /dev/null -i "$state/keys/id_ed25519" -o IdentitiesOnly=yes \
		-o UserKnownHostsFile="$state/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 \
		"$user@$addr" "$@"
}

cmd_status() {
	local state nd addr
	state=$(abs_state "${1:-}")
	for nd in "$state"/nodes/node*; do
		[ -d "$nd" ] || continue
		addr=$(awk '/^ListenAddress/ {print $2}' "$nd/etc/kfnode/sshd_config")
		if timeout 1 bash -c "exec 3<>/dev/tcp/$addr/22" 2>/dev/null; then
			echo "$(basename "$nd") $addr up"
		else
			echo "$(basename "$nd") $addr down"
		fi
	done
}

case "${1:-}" in
up) shift; cmd_up "$@" ;;
down) shift; cmd_down "$@" ;;
exec) shift; cmd_exec "$@" ;;
ssh) shift; cmd_ssh "$@" ;;
status) shift; cmd_status "$@" ;;
*) sed -n '2,/^set -euo/p' "$0" | sed -n '/^#   nodes.sh/p' | sed 's/^# *//' >&2; exit 2 ;;
esac
