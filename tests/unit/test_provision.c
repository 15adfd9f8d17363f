/*
 * test_provision.c - unit tests for src/provision: the kubeadm configuration
 * and join parameters kfboot generates, the parsing of the join command,
 * facts and preflight (one report, every problem, ignorable checks), the
 * journal and the resume decision, which phases concern which hosts, the
 * plan (text and JSON) and the admin kubeconfig rewrite and merge. Nothing
 * here needs a network or a test node.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/internal.h"
#include "provision/provision.h"

static const char *LAB =
	"apiVersion: kfboot.io/v1alpha1\n"
	"kind: Cluster\n"
	"metadata: { name: lab }\n"
	"spec:\n"
	"  ssh: { user: ubuntu }\n"
	"  hosts:\n"
	"    - { name: cp1, address: 10.0.0.10, role: control-plane }\n"
	"    - name: w1\n"
	"      address: 10.0.0.11\n"
	"      role: worker\n"
	"      labels: { gpu: \"true\" }\n"
	"      taints: [\"nvidia.com/gpu=true:NoSchedule\"]\n"
	"    - { name: w2, address: 10.0.0.12, role: worker, ssh: { user: root, port: 2222 } }\n"
	"  kubernetes:\n"
	"    version: \"1.31.4\"\n"
	"    podSubnet: 10.200.0.0/16\n"
	"    serviceSubnet: 10.96.0.0/12\n";

static struct kf_cluster *load(const char *yaml)
{
	struct kf_cluster *c = NULL;
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_err *err = NULL;
	int rc = kf_cluster_load_buf(&c, "test.yaml", yaml, strlen(yaml), &d, &err);

	if (rc) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.v[i].msg);
	}
	assert_int_equal(rc, 0);
	kf_diags_release(&d);
	kf_err_free(err);
	return c;
}

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/kf-test-provision.XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return kf_xstrdup(d);
}

static void rm_rf(const char *dir)
{
	char *cmd = kf_xasprintf("rm -rf '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* ---- kubeadm ------------------------------------------------------------- */

static void test_provision_kubeadm__init_config_from_profile(void **state)
{
	struct kf_cluster *c = load(LAB);
	struct kf_buf b = KF_BUF_INIT;

	assert_int_equal(kf_kubeadm_init_config(&b, c, NULL), 0);
	assert_non_null(strstr(b.buf, "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n"));
	assert_non_null(strstr(b.buf, "kind: ClusterConfiguration\n"));
	assert_non_null(strstr(b.buf, "kind: KubeletConfiguration\ncgroupDriver: systemd\n"));
	assert_non_null(strstr(b.buf, "  advertiseAddress: 10.0.0.10\n"));
	assert_non_null(strstr(b.buf, "  name: cp1\n"));
	assert_non_null(strstr(b.buf, "kubernetesVersion: v1.31.4\n"));
	assert_non_null(strstr(b.buf, "controlPlaneEndpoint: \"10.0.0.10:6443\"\n"));
	assert_non_null(strstr(b.buf, "  podSubnet: 10.200.0.0/16\n"));
	assert_non_null(strstr(b.buf, "  serviceSubnet: 10.96.0.0/12\n"));
	assert_non_null(strstr(b.buf, "clusterName: lab\n"));
	/* No taints on the control plane: kubeadm's default taint applies. */
	assert_null(strstr(b.buf, "taints:"));
	kf_buf_release(&b);
	kf_cluster_free(c);
}

static void test_provision_kubeadm__api_version_follows_kubernetes(void **state)
{
	char *old = kf_xstrdup(LAB);
	char *p = strstr(old, "1.31.4");
	struct kf_cluster *c;
	struct kf_buf b = KF_BUF_INIT;

	memcpy(p, "1.30.8", 6);
	c = load(old);
	assert_int_equal(kf_kubeadm_init_config(&b, c, NULL), 0);
	assert_non_null(strstr(b.buf, "apiVersion: kubeadm.k8s.io/v1beta3\n"));
	assert_null(strstr(b.buf, "v1beta4"));
	kf_buf_release(&b);
	kf_cluster_free(c);
	free(old);
}

static void test_provision_kubeadm__endpoint_keeps_an_explicit_port(void **state)
{
	struct kf_buf y = KF_BUF_INIT;
	struct kf_cluster *c;
	char *ep;

	kf_buf_adds(&y, LAB);
	kf_buf_adds(&y, "    controlPlaneEndpoint: k8s.example.com:8443\n");
	c = load(y.buf);
	ep = kf_cluster_endpoint(c);
	assert_string_equal(ep, "k8s.example.com:8443");
	free(ep);
	kf_cluster_free(c);
	kf_buf_reset(&y);
	kf_buf_adds(&y, LAB);
	kf_buf_adds(&y, "    controlPlaneEndpoint: k8s.example.com\n");
	c = load(y.buf);
	ep = kf_cluster_endpoint(c);
	assert_string_equal(ep, "k8s.example.com:6443");
	free(ep);
	kf_cluster_free(c);
	kf_buf_release(&y);
}

static void test_provision_kubeadm__parse_join_command(void **state)
{
	char *ep, *tok, *hash;
	struct kf_err *err = NULL;
	const char *out = "kubeadm join 10.0.0.10:6443 --token abcdef.0123456789abcdef "
			  "--discovery-token-ca-cert-hash sha256:1234abcd \n";

	assert_int_equal(kf_kubeadm_parse_join(out, &ep, &tok, &hash, &err), 0);
	assert_string_equal(ep, "10.0.0.10:6443");
	assert_string_equal(tok, "abcdef.0123456789abcdef");
	assert_string_equal(hash, "sha256:1234abcd");
	free(ep);
	free(tok);
	free(hash);
	/* Continuation lines as kubeadm init prints them. */
	assert_int_equal(kf_kubeadm_parse_join("W1122 warning\nkubeadm join a:6443 --token x.y \\\n"
					       "\t--discovery-token-ca-cert-hash sha256:ff\n",
					       &ep, &tok, &hash, &err), 0);
	assert_string_equal(ep, "a:6443");
	assert_string_equal(hash, "sha256:ff");
	free(ep);
	free(tok);
	free(hash);
}

static void test_provision_kubeadm__parse_join_error_hides_the_token(void **state)
{
	char *ep, *tok, *hash, *msg;
	struct kf_err *err = NULL;

	assert_int_not_equal(kf_kubeadm_parse_join("kubeadm join 10.0.0.10:6443 --token abcdef.0123456789abcdef\n",
						   &ep, &tok, &hash, &err), 0);
	assert_null(ep);
	assert_null(tok);
	msg = kf_err_str(err);
	assert_non_null(strstr(msg, "--discovery-token-ca-cert-hash"));
	assert_null(strstr(msg, "0123456789abcdef"));
	free(msg);
	kf_err_free(err);
}

static void test_provision_kubeadm__join_env_is_shell_assignments(void **state)
{
	struct kf_buf b = KF_BUF_INIT;

	assert_int_equal(kf_kubeadm_join_env(&b, "10.0.0.10:6443", "abcdef.0123456789abcdef", "sha256:ff", NULL), 0);
	assert_non_null(strstr(b.buf, "\nKF_JOIN_ENDPOINT=10.0.0.10:6443\n"));
	assert_non_null(strstr(b.buf, "\nKF_JOIN_TOKEN=abcdef.0123456789abcdef\n"));
	assert_non_null(strstr(b.buf, "\nKF_JOIN_CA_HASH=sha256:ff\n"));
	kf_buf_reset(&b);
	assert_int_equal(kf_kubeadm_join_env(&b, "x", "a'b", "h", NULL), 0);
	assert_non_null(strstr(b.buf, "KF_JOIN_TOKEN='a'\\''b'\n"));
	assert_int_not_equal(kf_kubeadm_join_env(&b, "x", NULL, "h", NULL), 0);
	kf_buf_release(&b);
}

/* ---- facts and preflight --------------------------------------------------- */

#define FACTS_OK                                                               \
	"os_pretty=Debian GNU/Linux 12 (bookworm)\narch=x86_64\ncpus=2\nmem_kib=4000000\n" \
	"swap_kib=0\ncgroup=2\nhostname=%s\nmachine_id=%s\nuser=%s\nuid=1000\nhome=/home/u\n" \
	"sudo=%s\ntime=%s\nmodules_missing=\nport_6443=free\nport_10250=free\n"              \
	"kubeadm_version=\nkubelet_version=\nprepare_todo=modules sysctl\ncontrol_plane=no\n"  \
	"joined=no\nkubelet_server=\ncni=\n"

static void facts(struct kf_facts *f, const char *host, const char *user, const char *sudo,
		  const char *time)
{
	char *text = kf_xasprintf(FACTS_OK, host, host, user, sudo, time);

	assert_int_equal(kf_facts_parse(f, text, 1000.0, NULL), 0);
	free(text);
}

static void test_provision_facts__parse(void **state)
{
	struct kf_facts f;

	facts(&f, "h1", "kfuser", "yes", "1002.5");
	assert_string_equal(f.hostname, "h1");
	assert_int_equal(f.cpus, 2);
	assert_true(f.mem_gib > 3.8 && f.mem_gib < 3.9);
	assert_int_equal(f.cgroup, 2);
	assert_true(f.sudo_ok);
	assert_false(f.is_root);
	assert_false(f.joined);
	assert_string_equal(f.prepare_todo, "modules sysctl");
	assert_true(f.clock_offset > 2.4 && f.clock_offset < 2.6);
	kf_facts_release(&f);
	assert_int_not_equal(kf_facts_parse(&f, "garbage\n", 0, NULL), 0);
}

static void test_provision_preflight__every_problem_in_one_report(void **state)
{
	struct kf_cluster *c = load(LAB);
	struct kf_facts f[3];
	const struct kf_facts *fp[3] = { &f[0], &f[1], &f[2] };
	struct kf_buf p = KF_BUF_INIT, w = KF_BUF_INIT;

	facts(&f[0], "same", "ubuntu", "yes", "1000");
	facts(&f[1], "same", "ubuntu", "yes", "1000");
	facts(&f[2], "w2", "x", "no", "1030");
	assert_int_equal(kf_preflight(c, fp, NULL, &p, &w), KF_EINVAL);
	assert_non_null(strstr(p.buf, "host w2: user 'x' has no passwordless sudo"));
	assert_non_null(strstr(p.buf, "host w1: hostname 'same' is also the hostname of cp1"));
	assert_non_null(strstr(p.buf, "host w2: clock is 30.0 s ahead of cp1's"));
	/* cgroup v2, enough memory and CPUs: no other problem. */
	assert_null(strstr(p.buf, "memory"));
	kf_buf_release(&p);
	kf_buf_release(&w);
	for (int i = 0; i < 3; i++)
		kf_facts_release(&f[i]);
	kf_cluster_free(c);
}

static void test_provision_preflight__ignored_checks_warn_but_sudo_never(void **state)
{
	struct kf_cluster *c = load(LAB);
	struct kf_facts f[3];
	const struct kf_facts *fp[3] = { &f[0], &f[1], &f[2] };
	struct kf_buf p = KF_BUF_INIT, w = KF_BUF_INIT;
	char *small = kf_xasprintf(FACTS_OK, "cp1", "m1", "root", "root", "1000");
	char *s = strstr(small, "mem_kib=4000000");

	memcpy(s, "mem_kib=1000000", 15);
	assert_int_equal(kf_facts_parse(&f[0], small, 1000, NULL), 0);
	facts(&f[1], "w1", "ubuntu", "yes", "1000");
	facts(&f[2], "w2", "root", "root", "1000");
	assert_int_equal(kf_preflight(c, fp, NULL, &p, &w), KF_EINVAL);
	assert_non_null(strstr(p.buf, "host cp1: 1.0 GiB of memory; a control plane needs at least 1.7 GiB"));
	kf_buf_reset(&p);
	kf_buf_reset(&w);
	assert_int_equal(kf_preflight(c, fp, "memory", &p, &w), 0);
	assert_non_null(strstr(w.buf, "host cp1: 1.0 GiB of memory"));
	kf_facts_release(&f[1]);
	facts(&f[1], "w1", "ubuntu", "no", "1000");
	kf_buf_reset(&p);
	assert_int_equal(kf_preflight(c, fp, "all", &p, &w), KF_EINVAL);
	assert_non_null(strstr(p.buf, "host w1: user 'ubuntu' has no passwordless sudo"));
	kf_buf_release(&p);
	kf_buf_release(&w);
	for (int i = 0; i < 3; i++)
		kf_facts_release(&f[i]);
	kf_cluster_free(c);
	free(small);
}

static void test_provision_preflight__joined_elsewhere_is_a_problem(void **state)
{
	struct kf_cluster *c = load(LAB);
	struct kf_facts f[3];
	const struct kf_facts *fp[3] = { &f[0], &f[1], &f[2] };
	struct kf_buf p = KF_BUF_INIT;
	char *t = kf_xasprintf(FACTS_OK, "w1", "w1", "root", "root", "1000");
	char *j = strstr(t, "joined=no\nkubelet_server=\n");

	facts(&f[0], "cp1", "ubuntu", "yes", "1000");
	facts(&f[2], "w2", "root", "root", "1000");
	/* Same length replacement keeps the template simple. */
	*j = '\0';
	{
		char *t2 = kf_xasprintf("%sjoined=yes\nkubelet_server=https://192.168.9.9:6443\nport_10250=used\n", t);

		assert_int_equal(kf_facts_parse(&f[1], t2, 1000, NULL), 0);
		free(t2);
	}
	assert_int_equal(kf_preflight(c, fp, NULL, &p, NULL), KF_EINVAL);
	assert_non_null(strstr(p.buf, "host w1: already joined to another cluster (kubelet talks to https://192.168.9.9:6443"));
	kf_buf_release(&p);
	for (int i = 0; i < 3; i++)
		kf_facts_release(&f[i]);
	kf_cluster_free(c);
	free(t);
}

static void test_provision_facts__node_ready(void **state)
{
	bool listed;

	assert_true(kf_facts_node_ready("cp1:Ready,w1:NotReady,w10:Ready", "cp1", &listed));
	assert_true(listed);
	assert_false(kf_facts_node_ready("cp1:Ready,w1:NotReady,w10:Ready", "w1", &listed));
	assert_true(listed);
	assert_false(kf_facts_node_ready("cp1:Ready,w10:Ready", "w1", &listed));
	assert_false(listed);
	assert_false(kf_facts_node_ready(NULL, "w1", &listed));
}

/* ---- journal and resume ------------------------------------------------------ */

static void test_provision_journal__facts_first_then_journal(void **state)
{
	/* Facts decide when they can; the journal only when they cannot. */
	assert_true(kf_decide(KF_NEED_RUN, true));
	assert_true(kf_decide(KF_NEED_RUN, false));
	assert_false(kf_decide(KF_NEED_DONE, false));
	assert_false(kf_decide(KF_NEED_DONE, true));
	assert_false(kf_decide(KF_NEED_UNKNOWN, true));
	assert_true(kf_decide(KF_NEED_UNKNOWN, false));
}

static void test_provision_journal__resume_after_an_interrupted_run(void **state)
{
	char *dir = tmpdir();
	char *path = kf_path_join(dir, "lab/journal.json");
	struct kf_journal *j = NULL;
	struct stat st;
	bool interrupted = true;

	assert_int_equal(kf_journal_load(&j, path, "lab", NULL), 0);
	kf_journal_run_begin(j, &interrupted);
	assert_false(interrupted);
	kf_journal_done(j, "cp1", "prepare", NULL);
	kf_journal_done(j, "w1", "labels", "fp1");
	assert_int_equal(kf_journal_save(j, NULL), 0);
	kf_journal_free(j);
	/* Killed here: the run never ended. */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(kf_journal_load(&j, path, "lab", NULL), 0);
	assert_true(kf_journal_is_done(j, "cp1", "prepare", NULL));
	assert_false(kf_journal_is_done(j, "cp1", "init", NULL));
	assert_true(kf_journal_is_done(j, "w1", "labels", "fp1"));
	assert_false(kf_journal_is_done(j, "w1", "labels", "fp2")); /* profile changed */
	kf_journal_run_begin(j, &interrupted);
	assert_true(interrupted);
	kf_journal_run_end(j, true);
	kf_journal_forget_host(j, "w1");
	assert_false(kf_journal_is_done(j, "w1", "labels", "fp1"));
	assert_int_equal(kf_journal_save(j, NULL), 0);
	kf_journal_free(j);
	assert_int_equal(kf_journal_load(&j, path, "lab", NULL), 0);
	kf_journal_run_begin(j, &interrupted);
	assert_false(interrupted);
	kf_journal_free(j);
	/* Another cluster's journal is refused. */
	assert_int_not_equal(kf_journal_load(&j, path, "prod", NULL), 0);
	rm_rf(dir);
	free(path);
	free(dir);
}

/* ---- phases --------------------------------------------------------------------- */

static void test_provision_phases__order_and_scope(void **state)
{
	static const char *const want[] = { "connect", "facts", "preflight", "prepare", "init",
					    "network", "join", "kubeconfig", "labels", "wait", "kubeflow",
					    "reconciler" };
	struct kf_cluster *c = load(LAB);
	const struct kf_host *cp = kf_cluster_host(c, "cp1"), *w1 = kf_cluster_host(c, "w1");

	assert_int_equal(kf_phases_up_n, KF_ARRAY_SIZE(want));
	for (size_t i = 0; i < kf_phases_up_n; i++)
		assert_string_equal(kf_phase_id(kf_phases_up[i]), want[i]);
	assert_true(kf_phase_applies(kf_phase_find("prepare"), c, cp));
	assert_true(kf_phase_applies(kf_phase_find("prepare"), c, w1));
	assert_true(kf_phase_applies(kf_phase_find("init"), c, cp));
	assert_false(kf_phase_applies(kf_phase_find("init"), c, w1));
	assert_false(kf_phase_applies(kf_phase_find("join"), c, cp));
	assert_true(kf_phase_applies(kf_phase_find("join"), c, w1));
	assert_int_equal(kf_phase_scope(kf_phase_find("wait")), KF_SCOPE_CONTROL_PLANE);
	assert_string_equal(kf_phase_title(kf_phase_find("join")), "join workers");
	assert_null(kf_phase_find("install kubeflow"));
	assert_string_equal(kf_phase_title(kf_phase_find("kubeflow")), "install Kubeflow");
	assert_int_equal(kf_phase_scope(kf_phase_find("kubeflow")), KF_SCOPE_CLUSTER);
	assert_true(kf_phase_applies(kf_phase_find("kubeflow"), c, cp));
	assert_false(kf_phase_applies(kf_phase_find("kubeflow"), c, w1));
	assert_string_equal(kf_phase_id(kf_phases_reset[kf_phases_reset_n - 2]), "reset");
	kf_cluster_free(c);
}

/* ---- plan ----------------------------------------------------------------------- */

static void test_provision_plan__every_host_and_phase(void **state)
{
	struct kf_cluster *c = load(LAB);
	struct kf_prov_opts o = { .state_dir = "/st" };
	struct kf_plan *p = NULL;
	struct kf_buf b = KF_BUF_INIT;

	assert_int_equal(kf_plan_build(&p, c, &o, false, NULL), 0);
	kf_plan_render(&b, p, false, false);
	assert_non_null(strstr(b.buf, "Plan for cluster 'lab': 1 control plane + 2 workers, Kubernetes 1.31.4, flannel"));
	assert_non_null(strstr(b.buf, "Nothing was contacted or changed."));
	assert_non_null(strstr(b.buf, "\ncp1  10.0.0.10  control-plane  ubuntu@10.0.0.10:22\n"));
	assert_non_null(strstr(b.buf, "\nw2  10.0.0.12  worker  root@10.0.0.12:2222\n"));
	for (size_t i = 0; i < kf_phases_up_n; i++)
		assert_non_null(strstr(b.buf, kf_phase_title(kf_phases_up[i])));
	/* Exact commands: sudo for ubuntu, none for root. */
	assert_non_null(strstr(b.buf, "$ sudo -n env KF_K8S_VERSION=1.31.4 sh \"$HOME/.kfboot/prepare.sh\""));
	assert_non_null(strstr(b.buf, "$ env KF_K8S_VERSION=1.31.4 sh \"$HOME/.kfboot/prepare.sh\""));
	assert_non_null(strstr(b.buf, "$ sudo -n kubeadm token create --ttl 30m --print-join-command"));
	assert_non_null(strstr(b.buf, "label node w1 gpu=true --overwrite  (on cp1)"));
	assert_non_null(strstr(b.buf, "taint node w1 nvidia.com/gpu=true:NoSchedule --overwrite"));
	/* The generated kubeadm config is shown; the token only as a placeholder. */
	assert_non_null(strstr(b.buf, "│ kind: ClusterConfiguration"));
	assert_non_null(strstr(b.buf, "│ KF_JOIN_TOKEN='<token>'"));
	/* Script steps come from the scripts themselves. */
	assert_non_null(strstr(b.buf, "· turn swap off now"));
	assert_non_null(strstr(b.buf, "/st/lab/admin.conf"));
	/* Phase numbers line up across hosts: w1 has no init, so no "5". */
	{
		const char *w1 = strstr(b.buf, "\nw1 ");

		assert_non_null(w1);
		assert_non_null(strstr(w1, "   4 prepare nodes"));
		assert_null(strstr(w1, "init control plane"));
	}
	kf_buf_release(&b);
	kf_plan_free(p);
	kf_cluster_free(c);
}

/* Commands built with "sudo -n " run through the SSH layer's sudo (inside
 * timeout(1)); "$HOME" is the login user's, as the login shell expanded it. */
static void test_provision_sudo__unwrap(void **state)
{
	char *s = kf_sudo_unwrap("sudo -n env A=\"$HOME/.kfboot/b\" sh \"$HOME/.kfboot/prepare.sh\"", "/home/kfuser");

	assert_string_equal(s, "env A=\"/home/kfuser/.kfboot/b\" sh \"/home/kfuser/.kfboot/prepare.sh\"");
	free(s);
	s = kf_sudo_unwrap("sudo -n kubeadm token create", NULL);
	assert_null(s);
	assert_null(kf_sudo_unwrap("env sh \"$HOME/x\"", "/root"));
	assert_null(kf_sudo_unwrap("sudo -n sh \"$HOME/x\"", "/home/a\"b"));
	assert_null(kf_sudo_unwrap("sudo -n sh \"$HOME/x\"", "relative"));
	s = kf_sudo_unwrap("sudo -n kubectl get nodes", "/home/u");
	assert_string_equal(s, "kubectl get nodes");
	free(s);
}

/* "install Kubeflow" in the plan: the install order with dependencies, the
 * source of the manifests and which credentials it generates, never values;
 * nothing with an empty component list. */
static void test_provision_plan__kubeflow(void **state)
{
	char *yaml = kf_xasprintf("%s  kubeflow: { components: [pipelines], source: { path: /tmp } }\n", LAB);
	char *none = kf_xasprintf("%s  kubeflow: { components: [] }\n", LAB);
	struct kf_cluster *c = load(yaml), *c0 = load(none);
	struct kf_prov_opts o = { .state_dir = "/st" };
	struct kf_plan *p = NULL;
	struct kf_buf b = KF_BUF_INIT;
	const char *kf, *cm, *pl;

	assert_int_equal(kf_plan_build(&p, c, &o, false, NULL), 0);
	kf_plan_render(&b, p, false, false);
	kf = strstr(b.buf, "  11 install Kubeflow");
	assert_non_null(kf);
	assert_null(strstr(strstr(b.buf, "\nw1 "), "install Kubeflow"));
	assert_non_null(strstr(kf, "on this machine, with /st/lab/admin.conf"));
	assert_non_null(strstr(kf, "manifests: rendered files in /tmp"));
	cm = strstr(kf, ". cert-manager");
	pl = strstr(kf, ". pipelines (after cert-manager");
	assert_non_null(cm);
	assert_non_null(pl);
	assert_true(cm < pl);
	assert_non_null(strstr(kf, "pipelines.yaml"));
	assert_non_null(strstr(kf, "/st/lab/kubeflow-admin-password (0600)"));
	assert_non_null(strstr(kf, "KFP artifact store (S3) secret key"));
	assert_null(strstr(b.buf, "$2y$"));
	kf_buf_release(&b);
	kf_plan_free(p);

	assert_int_equal(kf_plan_build(&p, c0, &o, false, NULL), 0);
	kf_buf_init(&b, 0);
	kf_plan_render(&b, p, false, false);
	assert_non_null(strstr(b.buf, "install Kubeflow  (nothing: spec.kubeflow.components is empty)"));
	kf_buf_release(&b);
	kf_plan_free(p);
	kf_cluster_free(c);
	kf_cluster_free(c0);
	free(yaml);
	free(none);
}

static void test_provision_plan__json_and_offline_bundle(void **state)
{
	char *dir = tmpdir();
	struct kf_buf y = KF_BUF_INIT;
	struct kf_cluster *c;
	struct kf_plan *p = NULL;
	struct kf_buf b = KF_BUF_INIT;
	json_t *j, *cp, *phase;
	size_t i;
	const char *debs[] = { "kubeadm_1.31.4-1.1_amd64.deb", "kubelet_1.31.4-1.1_amd64.deb",
			       "kubectl_1.31.4-1.1_amd64.deb", "containerd_1.6.20_amd64.deb" };

	for (i = 0; i < KF_ARRAY_SIZE(debs); i++) {
		char *f = kf_path_join(dir, debs[i]);

		assert_int_equal(kf_file_write_atomic(f, "x", 1, 0644, NULL), 0);
		free(f);
	}
	{
		char *f = kf_path_join(dir, "kube-flannel.yml");

		assert_int_equal(kf_file_write_atomic(f, "kind: List\n", 11, 0644, NULL), 0);
		free(f);
	}
	kf_buf_adds(&y, LAB);
	kf_buf_addf(&y, "    offlineBundle: %s\n", dir);
	c = load(y.buf);
	assert_int_equal(kf_plan_build(&p, c, NULL, false, NULL), 0);
	kf_plan_render(&b, p, false, false);
	assert_non_null(strstr(b.buf, "4 files from"));
	assert_non_null(strstr(b.buf, "KF_BUNDLE_DIR=\"$HOME/.kfboot/bundle\""));
	assert_non_null(strstr(b.buf, "KF_CNI_MANIFEST=\"$HOME/.kfboot/kube-flannel.yml\""));
	j = kf_plan_to_json(p);
	assert_string_equal(json_string_value(json_object_get(j, "cluster")), "lab");
	assert_int_equal(json_array_size(json_object_get(j, "hosts")), 3);
	cp = json_array_get(json_object_get(j, "hosts"), 0);
	assert_string_equal(json_string_value(json_object_get(cp, "role")), "control-plane");
	json_array_foreach(json_object_get(cp, "phases"), i, phase) {
		if (!strcmp(json_string_value(json_object_get(phase, "id")), "prepare")) {
			json_t *acts = json_object_get(phase, "actions");
			json_t *last = json_array_get(acts, json_array_size(acts) - 1);

			assert_string_equal(json_string_value(json_object_get(last, "script")), "prepare.sh");
			assert_true(json_array_size(json_object_get(last, "steps")) >= 4);
		}
	}
	json_decref(j);
	kf_buf_release(&b);
	kf_plan_free(p);
	kf_cluster_free(c);
	kf_buf_release(&y);
	rm_rf(dir);
	free(dir);
}

static void test_provision_plan__reset(void **state)
{
	struct kf_cluster *c = load(LAB);
	struct kf_plan *p = NULL;
	struct kf_buf b = KF_BUF_INIT;

	assert_int_equal(kf_plan_build(&p, c, NULL, true, NULL), 0);
	kf_plan_render(&b, p, false, false);
	assert_non_null(strstr(b.buf, "Reset plan for cluster 'lab'"));
	assert_non_null(strstr(b.buf, "KF_STAGE_DIR=\"$HOME/.kfboot\" sh \"$HOME/.kfboot/reset.sh\""));
	assert_non_null(strstr(b.buf, "· flush and delete iptables"));
	assert_null(strstr(b.buf, "kubeadm init"));
	kf_buf_release(&b);
	kf_plan_free(p);
	kf_cluster_free(c);
}

/* ---- kubeconfig -------------------------------------------------------------------- */

static const char *ADMIN =
	"apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n"
	"    server: https://cp1.internal:6443\n  name: kubernetes\ncontexts:\n- context:\n"
	"    cluster: kubernetes\n    user: kubernetes-admin\n  name: kubernetes-admin@kubernetes\n"
	"current-context: kubernetes-admin@kubernetes\nusers:\n- name: kubernetes-admin\n  user:\n"
	"    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZU0VDUkVUS0VZ\n";

static void test_provision_kubeconfig__rewrite_and_merge(void **state)
{
	struct kf_cluster *c = load(LAB);
	struct kf_buf b = KF_BUF_INIT;
	char *dir = tmpdir();
	char *path = kf_path_join(dir, "config");
	char *data = NULL, *red;
	size_t len;
	struct stat st;
	const char *other = "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: { server: https://o:6443 }\n"
			    "contexts:\n- name: other\n  context: { cluster: other, user: other }\n"
			    "users:\n- name: other\n  user: { token: abcdefghijkl }\ncurrent-context: other\n";

	assert_int_equal(kf_kubeconfig_rewrite(&b, ADMIN, c, NULL), 0);
	assert_non_null(strstr(b.buf, "server: https://10.0.0.10:6443"));
	assert_non_null(strstr(b.buf, "current-context: lab"));
	assert_non_null(strstr(b.buf, "name: lab-admin"));
	/* The client key is now a registered secret. */
	red = kf_redact("key S0VZU0VDUkVUS0VZ here");
	assert_null(strstr(red, "S0VZU0VDUkVUS0VZ"));
	free(red);
	assert_int_equal(kf_file_write_atomic(path, other, strlen(other), 0644, NULL), 0);
	assert_int_equal(kf_kubeconfig_merge(path, b.buf, NULL), 0);
	assert_int_equal(kf_kubeconfig_merge(path, b.buf, NULL), 0); /* twice: no duplicates */
	assert_int_equal(kf_file_read(path, &data, &len, NULL), 0);
	assert_non_null(strstr(data, "name: other"));
	assert_non_null(strstr(data, "current-context: other")); /* kept */
	assert_non_null(strstr(data, "server: https://10.0.0.10:6443"));
	assert_null(strstr(strstr(data, "name: lab-admin") + 1, "name: lab-admin"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(data);
	kf_buf_release(&b);
	rm_rf(dir);
	free(path);
	free(dir);
	kf_cluster_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provision_kubeadm__init_config_from_profile),
		cmocka_unit_test(test_provision_kubeadm__api_version_follows_kubernetes),
		cmocka_unit_test(test_provision_kubeadm__endpoint_keeps_an_explicit_port),
		cmocka_unit_test(test_provision_kubeadm__parse_join_command),
		cmocka_unit_test(test_provision_kubeadm__parse_join_error_hides_the_token),
		cmocka_unit_test(test_provision_kubeadm__join_env_is_shell_assignments),
		cmocka_unit_test(test_provision_facts__parse),
		cmocka_unit_test(test_provision_facts__node_ready),
		cmocka_unit_test(test_provision_preflight__every_problem_in_one_report),
		cmocka_unit_test(test_provision_preflight__ignored_checks_warn_but_sudo_never),
		cmocka_unit_test(test_provision_preflight__joined_elsewhere_is_a_problem),
		cmocka_unit_test(test_provision_journal__facts_first_then_journal),
		cmocka_unit_test(test_provision_journal__resume_after_an_interrupted_run),
		cmocka_unit_test(test_provision_phases__order_and_scope),
		cmocka_unit_test(test_provision_plan__every_host_and_phase),
		cmocka_unit_test(test_provision_sudo__unwrap),
		cmocka_unit_test(test_provision_plan__kubeflow),
		cmocka_unit_test(test_provision_plan__json_and_offline_bundle),
		cmocka_unit_test(test_provision_plan__reset),
		cmocka_unit_test(test_provision_kubeconfig__rewrite_and_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
