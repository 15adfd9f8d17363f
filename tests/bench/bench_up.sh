#!/usr/bin/env bash
# bench_up.sh - wall time of `kfboot up` on 1, 4 and 16 fresh test nodes
# (tests/nodes: real sshd, stand-in kubeadm/kubelet/kubectl), and of the
# same bootstrap with ansible-playbook (ansible/playbook.yml, the same node
# scripts) for comparison. Not a test: it prints figures and never fails on
# timing. Needs root.
#
#   KFBOOT=build/kfboot KF_SOURCE_DIR=. tests/bench/bench_up.sh [SIZES...]
#
# BENCH_CONTAINERD=real installs the real containerd/runc .deb files from the
# apt cache on every node (dpkg dominates, and on a 2-core machine 16 nodes
# unpacking 26 MB each is CPU-bound); the default is a minimal containerd
# package, so the figures measure kfboot: SSH, uploads, facts, phases.
# BENCH_ANSIBLE=0 skips the Ansible runs.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
# shellcheck source-path=SCRIPTDIR source=../integration/prov-lib.sh
. "$KF_SOURCE_DIR/tests/integration/prov-lib.sh"
prov_need_root
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 4 16)
mode=fake
[ "${BENCH_CONTAINERD:-}" != real ] || mode=real

T=$(mktemp -d /tmp/kfboot-bench-up.XXXXXX)
# Each run gets fresh nodes in its own directory (the stand-ins keep the
# cluster's state per nodes.sh state dir).
runs=()
cleanup() {
	for r in "${runs[@]}"; do prov_nodes_down "$r"; done
	rm -rf "$T"
}
trap cleanup EXIT
fresh() { # fresh N NAME: start N nodes in $T/NAME, stop the previous run's
	for r in "${runs[@]}"; do prov_nodes_down "$r"; done
	runs=("$T/$2")
	prov_nodes_up "$1" "$T/$2"
}
export ANSIBLE_LOCAL_TEMP=$T/ansible-local ANSIBLE_REMOTE_TEMP=/tmp/.ansible-kfboot ANSIBLE_NOCOLOR=1
prov_bundle "$T/bundle" "$([ $mode = fake ] && echo fake)"

now() { date +%s.%N; }
# Busy and total CPU time of the whole machine, in seconds (from /proc/stat).
cpu() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / {b = $2 + $3 + $4 + $7 + $8 + $9; t = b + $5 + $6; printf "%.2f %.2f\n", b / hz, t / hz}' /proc/stat; }
ncpu=$(getconf _NPROCESSORS_ONLN)
declare -A kf ans
for n in "${sizes[@]}"; do
	fresh "$n" "kf$n"
	prov_profile "$T/p$n.yaml" "bench$n" "$T/bundle" "$n"
	ign=$(prov_ignore_opts "$T/kf$n")
	read -r b0 _ < <(cpu)
	t0=$(now)
	TIMEFORMAT='%U %S'
	# shellcheck disable=SC2086
	{ time "$KFBOOT" -q up -f "$T/p$n.yaml" --state-dir "$T/state" $ign >/dev/null; } 2>"$T/times"
	t1=$(now)
	read -r b1 _ < <(cpu)
	kf[$n]=$(echo "$t1 - $t0" | bc)
	self=$(tail -n 1 "$T/times" | awk '{printf "%.2f", $1 + $2}')
	busy=$(echo "$b1 - $b0" | bc)
	t0=$(now)
	# shellcheck disable=SC2086
	"$KFBOOT" -q up -f "$T/p$n.yaml" --state-dir "$T/state" $ign >/dev/null
	t1=$(now)
	kf2=$(echo "$t1 - $t0" | bc)
	printf 'kfboot up, %2d node(s): %6.2fs (again, nothing to do: %.2fs); machine CPU busy %.1fs of %.1fs available (%d cores), kfboot itself %.2fs\n' \
		"$n" "${kf[$n]}" "$kf2" "$busy" "$(echo "${kf[$n]} * $ncpu" | bc)" "$ncpu" "$self"
	if [ "${BENCH_ANSIBLE:-1}" = 1 ] && command -v ansible-playbook >/dev/null; then
		fresh "$n" "ans$n"
		{
			echo "[control_plane]"
			echo "node1 ansible_host=$KF_NODE_1_ADDR"
			echo "[workers]"
			for i in $(seq 2 "$n"); do eval "echo node$i ansible_host=\$KF_NODE_${i}_ADDR"; done
			echo "[all:vars]"
			echo "ansible_user=kfuser"
			echo "ansible_ssh_private_key_file=$KF_NODES_KEY"
			echo "ansible_python_interpreter=/usr/bin/python3"
			echo "ansible_ssh_common_args='-o ControlMaster=no -o UserKnownHostsFile=$KF_NODES_KNOWN_HOSTS -o GlobalKnownHostsFile=/dev/null'"
			echo "cluster_name=bench$n"
			echo "k8s_version=1.31.4"
			echo "offline_bundle=$T/bundle"
		} >"$T/inv$n.ini"
		t0=$(now)
		ansible-playbook -f 32 -i "$T/inv$n.ini" "$KF_SOURCE_DIR/ansible/playbook.yml" >"$T/ansible$n.log" 2>&1 ||
			{ echo "ansible-playbook failed on $n nodes (see below)"; tail -n 20 "$T/ansible$n.log"; }
		t1=$(now)
		ans[$n]=$(echo "$t1 - $t0" | bc)
		printf 'ansible-playbook, %2d node(s): %6.2fs  (kfboot is %.1fx faster)\n' "$n" "${ans[$n]}" \
			"$(echo "${ans[$n]} / ${kf[$n]}" | bc -l)"
	fi
	rm -rf "$T/state"
done
first=${sizes[0]}
last=${sizes[${#sizes[@]}-1]}
printf 'containerd: %s; %s nodes take %.2fx the time of %s (goal: within 1.5x; all nodes share this machine'"'"'s %d cores)\n' \
	"$mode" "$last" "$(echo "${kf[$last]} / ${kf[$first]}" | bc -l)" "$first" "$ncpu"
