#!/usr/bin/env bash
# test_ansible.sh - ansible/playbook.yml runs the same node scripts as
# `kfboot up`: it passes --syntax-check, brings three test nodes (1 control
# plane + 2 workers) to a joined cluster, changes nothing when run again,
# writes the same kubeadm configuration kfboot generates, and `kfboot up`
# afterwards finds nothing to do (one source of truth on the nodes).
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}"
# shellcheck source-path=SCRIPTDIR source=prov-lib.sh
. "$KF_SOURCE_DIR/tests/integration/prov-lib.sh"
fail() { echo "FAIL: $*" >&2; [ -s "$T/out" ] && tail -n 40 "$T/out" >&2; exit 1; }

command -v ansible-playbook >/dev/null || fail "ansible-playbook is not installed (scripts/setup.sh)"
T=$(mktemp -d /tmp/kfboot-test-ansible.XXXXXX)
export ANSIBLE_LOCAL_TEMP=$T/ansible-local ANSIBLE_REMOTE_TEMP=/tmp/.ansible-kfboot
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_HOST_KEY_CHECKING=True
PLAY=$KF_SOURCE_DIR/ansible/playbook.yml

ansible-playbook -i "$KF_SOURCE_DIR/ansible/inventory.example.ini" "$PLAY" --syntax-check >"$T/out" 2>&1 ||
	fail "syntax check"
prov_need_root
trap 'prov_nodes_down "$T"; rm -rf "$T"' EXIT
prov_nodes_up 3 "$T"
prov_bundle "$T/bundle"
prov_profile "$T/three.yaml" ans "$T/bundle" 3

cat >"$T/inventory.ini" <<INV
[control_plane]
node1 ansible_host=$KF_NODE_1_ADDR

[workers]
node2 ansible_host=$KF_NODE_2_ADDR
node3 ansible_host=$KF_NODE_3_ADDR

[all:vars]
ansible_user=kfuser
ansible_ssh_private_key_file=$KF_NODES_KEY
ansible_python_interpreter=/usr/bin/python3
ansible_ssh_common_args='-o ControlMaster=no -o UserKnownHostsFile=$KF_NODES_KNOWN_HOSTS -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes'
cluster_name=ans
k8s_version=1.31.4
offline_bundle=$T/bundle
INV

ansible-playbook -i "$T/inventory.ini" "$PLAY" >"$T/out" 2>&1 || fail "first run of the playbook"
grep -qE 'node3 +: ok=[0-9]+ +changed=[1-9]' "$T/out" || fail "first run changed nothing on node3"
"$KFBOOT" status -f "$T/three.yaml" --state-dir "$T/state" -o json >"$T/status.json" || fail "kfboot status"
/usr/bin/python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
assert [(h["joined"], h["node"]) for h in d["hosts"]] == [(True, "Ready")] * 3, d' "$T/status.json" ||
	fail "the playbook did not join every node"

ansible-playbook -i "$T/inventory.ini" "$PLAY" >"$T/out" 2>&1 || fail "second run of the playbook"
for n in node1 node2 node3; do
	grep -qE "$n +: ok=[0-9]+ +changed=0 " "$T/out" || fail "second run changed something on $n"
done

# The playbook's kubeadm configuration is the one kfboot generates.
prov_node_exec "$T" node1 cat /etc/kubernetes/kfboot-kubeadm.yaml >"$T/ansible-kubeadm.yaml"
"$KFBOOT" plan -f "$T/three.yaml" -o json | /usr/bin/python3 -c 'import json,sys
d = json.load(sys.stdin)
for p in d["hosts"][0]["phases"]:
    for a in p["actions"]:
        if a.get("path", "").endswith("/kubeadm.yaml"):
            sys.stdout.write(a["content"])' >"$T/kfboot-kubeadm.yaml"
diff -u "$T/kfboot-kubeadm.yaml" "$T/ansible-kubeadm.yaml" >"$T/out" || fail "kubeadm configuration differs"

# kfboot sees the Ansible-made cluster as done.
# shellcheck disable=SC2046
"$KFBOOT" up -f "$T/three.yaml" --state-dir "$T/state" $(prov_ignore_opts "$T") >"$T/out" 2>&1 ||
	fail "kfboot up after the playbook"
grep -q "nothing to do" "$T/out" || fail "kfboot up after the playbook changed something"
echo "PASS: test_ansible"
