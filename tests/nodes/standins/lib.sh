# shellcheck shell=sh disable=SC2034
# lib.sh - shared by the kfboot test-node stand-ins (sourced, never run).
# State of one node lives under /var/lib/kfboot-standins (in the node's own
# overlay); state of the "cluster" (what the API server would know: tokens,
# CA, endpoint, registered nodes) lives under /var/lib/kfboot-sim, a
# directory shared by every node of one nodes.sh run. Every call is appended
# to /var/log/kfboot-standins.log.

SI_STATE=/var/lib/kfboot-standins
SI_SIM=/var/lib/kfboot-sim
SI_LOG=/var/log/kfboot-standins.log
SI_PROG=${0##*/}
SI_LIB=/usr/local/lib/kfboot-standins
SI_KUBE_PKGS="kubeadm kubelet kubectl kubernetes-cni cri-tools"

# Record this call: time, program, arguments.
si_record() {
	{
		printf '%s %s' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SI_PROG"
		for a in "$@"; do printf ' %s' "$a"; done
		printf '\n'
	} >>"$SI_LOG" 2>/dev/null || true
}

si_die() {
	printf '%s\n' "$1" >&2
	exit "${2:-1}"
}

# Whether word $1 is in the space-separated list $2.
si_in_list() {
	case " $2 " in *" $1 "*) return 0 ;; esac
	return 1
}

si_is_root() { [ "$(id -u)" = 0 ]; }

# Append a line to a unit's journal (read by the journalctl stand-in).
si_journal() {
	mkdir -p "$SI_STATE/journal"
	printf '%s %s %s[%s]: %s\n' "$(date '+%b %d %H:%M:%S')" "$(hostname)" \
		"$1" "$$" "$2" >>"$SI_STATE/journal/$1.log"
}

# Installed version of a stand-in package ("" when not installed).
si_pkg_version() { cat "$SI_STATE/packages/$1" 2>/dev/null || true; }

# "v1.31.4" from the installed kubeadm/kubelet/kubectl package version.
si_kube_version() {
	v=$(si_pkg_version "$1")
	[ -n "$v" ] || v=1.31.4-1.1
	printf 'v%s\n' "${v%%-*}"
}

# Value of a sysctl as the node sees it: what the stand-in sysctl set, or
# the kernel's value (read-only in the node).
si_sysctl_get() {
	if [ -f "$SI_STATE/sysctl/$1" ]; then
		cat "$SI_STATE/sysctl/$1"
		return 0
	fi
	p=/proc/sys/$(printf '%s' "$1" | tr . /)
	[ -r "$p" ] && cat "$p"
}

si_module_loaded() {
	[ -f "$SI_STATE/modules/$1" ] || grep -q "^$1 " /proc/modules 2>/dev/null
}

# Unit state for the systemctl stand-in.
si_unit() {
	case $1 in
	*.service | *.socket | *.timer | *.target | *.mount) printf '%s\n' "$1" ;;
	*) printf '%s.service\n' "$1" ;;
	esac
}

si_unit_exists() {
	for d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system /run/systemd/system; do
		[ -e "$d/$1" ] && return 0
	done
	return 1
}

si_unit_active() { [ -f "$SI_STATE/units/$1.active" ]; }

# An ISO-ish age for kubectl ("42s", "5m", "3h").
si_age() {
	now=$(date +%s)
	d=$((now - $1))
	if [ "$d" -lt 120 ]; then
		printf '%ss\n' "$d"
	elif [ "$d" -lt 7200 ]; then
		printf '%sm\n' $((d / 60))
	else
		printf '%sh\n' $((d / 3600))
	fi
}
