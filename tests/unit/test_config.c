/*
 * test_config.c - unit tests for src/config: the Cluster profile.
 *
 * Most of the behaviour is covered data-first: every tests/data/config/
 * NAME.yaml is loaded and its diagnostics, as "line:col: message" lines in
 * position order, must equal NAME.errors exactly (an empty .errors file
 * means the profile is valid). Run with KF_UPDATE_GOLDEN=1 to rewrite the
 * .errors files after a deliberate change, then review the diff. The cases
 * below test the rules directly, the defaults and inheritance, the JSON
 * form, and the example profiles in profiles/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "config/rules.h"

static const char *source_dir(void)
{
	const char *s = getenv("KF_SOURCE_DIR");

	return s && *s ? s : KF_SOURCE_DIR;
}

static char *data_path(const char *name)
{
	return kf_xasprintf("%s/tests/data/config/%s", source_dir(), name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dir ending in suffix, sorted. */
static char **list_dir(const char *dir, const char *suffix, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t alloc = 0;

	*n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (!kf_str_endswith(e->d_name, suffix))
			continue;
		kf_xgrow((void **)&v, &alloc, *n + 1, sizeof(*v));
		v[(*n)++] = kf_xstrdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Load a profile from a string; returns the diagnostics joined by '\n'. */
static char *problems_of(const char *yaml, struct kf_cluster **out)
{
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_cluster *c = NULL;
	struct kf_buf b = KF_BUF_INIT;

	kf_cluster_load_buf(&c, "t.yaml", yaml, strlen(yaml), &d, NULL);
	kf_diags_sort(&d);
	for (size_t i = 0; i < d.n; i++)
		kf_buf_addf(&b, "%d:%d: %s\n", d.v[i].line, d.v[i].col, d.v[i].msg);
	kf_diags_release(&d);
	if (out)
		*out = c;
	else
		kf_cluster_free(c);
	return kf_buf_detach(&b, NULL);
}

#define MINIMAL                                                                \
	"apiVersion: kfboot.io/v1alpha1\n"                                     \
	"kind: Cluster\n"                                                      \
	"metadata:\n"                                                          \
	"  name: t\n"                                                          \
	"spec:\n"                                                              \
	"  hosts:\n"                                                           \
	"    - { name: cp1, address: 10.0.0.10, role: control-plane }\n"       \
	"  kubernetes:\n"                                                      \
	"    version: \"1.31.4\"\n"

/* ---- data-driven cases ------------------------------------------------ */

static void test_config_data__every_case_matches_its_errors_file(void **state)
{
	char *dir = data_path("");
	size_t n, failed = 0;
	char **names = list_dir(dir, ".yaml", &n);
	bool update = getenv("KF_UPDATE_GOLDEN") && *getenv("KF_UPDATE_GOLDEN");

	assert_true(n >= 30);
	for (size_t i = 0; i < n; i++) {
		char *path = kf_xasprintf("%s%s", dir, names[i]);
		char *epath = kf_xasprintf("%.*s.errors", (int)(strlen(path) - 5), path);
		struct kf_diags d = KF_DIAGS_INIT;
		struct kf_cluster *c = NULL;
		struct kf_err *err = NULL;
		struct kf_buf got = KF_BUF_INIT;
		char *want = NULL;
		int rc;

		rc = kf_cluster_load(&c, path, &d, &err);
		kf_diags_sort(&d);
		for (size_t j = 0; j < d.n; j++) {
			kf_buf_addf(&got, "%d:%d: %s\n", d.v[j].line, d.v[j].col, d.v[j].msg);
			/* Every problem names the file, line and column. */
			assert_string_equal(d.v[j].file, path);
			assert_true(d.v[j].line > 0 && d.v[j].col > 0);
		}
		/* Valid exactly when there is no problem; never half of each. */
		assert_int_equal(rc == 0, d.n == 0);
		assert_int_equal(c != NULL, d.n == 0);
		if (rc)
			assert_int_equal(kf_err_code(err), KF_EINVAL);
		if (update) {
			struct kf_err *werr = NULL;

			assert_int_equal(kf_file_write_atomic(epath, got.buf, got.len, 0644, &werr), 0);
		} else if (kf_file_read(epath, &want, NULL, NULL) != 0) {
			print_error("%s: no expected-errors file %s; got:\n%s", names[i], epath, got.buf);
			failed++;
		} else if (strcmp(want, got.buf)) {
			print_error("%s: problems differ\n--- want\n%s--- got\n%s", names[i], want, got.buf);
			failed++;
		}
		free(want);
		kf_buf_release(&got);
		kf_diags_release(&d);
		kf_cluster_free(c);
		kf_err_free(err);
		free(path);
		free(epath);
	}
	free_list(names, n);
	free(dir);
	assert_int_equal(failed, 0);
}

/* The four problems the foundation issue names, each with a position. */
static void test_config_data__required_cases_exist_with_positions(void **state)
{
	static const char *const cases[] = {
		"syntax-error.errors", "unknown-field.errors", "wrong-type.errors",
		"cidr-overlap.errors",
	};

	for (size_t i = 0; i < KF_ARRAY_SIZE(cases); i++) {
		char *p = data_path(cases[i]);
		char *text = NULL;
		int line = 0, col = 0;

		assert_int_equal(kf_file_read(p, &text, NULL, NULL), 0);
		assert_true(strlen(text) > 0);
		assert_int_equal(sscanf(text, "%d:%d:", &line, &col), 2);
		assert_true(line > 0 && col > 0);
		free(text);
		free(p);
	}
}

/* ---- example profiles ------------------------------------------------- */

static void test_config_profiles__examples_are_valid(void **state)
{
	char *dir = kf_xasprintf("%s/profiles/", source_dir());
	size_t n;
	char **names = list_dir(dir, ".yaml", &n);

	assert_true(n >= 3);
	for (size_t i = 0; i < n; i++) {
		char *path = kf_xasprintf("%s%s", dir, names[i]);
		struct kf_diags d = KF_DIAGS_INIT;
		struct kf_cluster *c = NULL;

		if (kf_cluster_load(&c, path, &d, NULL) != 0) {
			for (size_t j = 0; j < d.n; j++) {
				char *s = kf_diag_str(&d.v[j]);

				print_error("%s\n", s);
				free(s);
			}
		}
		assert_non_null(c);
		assert_non_null(kf_cluster_control_plane(c));
		kf_cluster_free(c);
		kf_diags_release(&d);
		free(path);
	}
	free_list(names, n);
	free(dir);
}

/* ---- defaults and inheritance ------------------------------------------ */

static void test_config_defaults__filled_in(void **state)
{
	struct kf_cluster *c = NULL;
	char *p;
	char *home = getenv("HOME") ? kf_xstrdup(getenv("HOME")) : NULL;

	setenv("HOME", "/home/tester", 1);
	p = problems_of(MINIMAL, &c);
	assert_string_equal(p, "");
	assert_non_null(c);
	assert_string_equal(c->path, "t.yaml");
	assert_string_equal(c->name, "t");
	assert_int_equal(c->nhosts, 1);
	assert_string_equal(c->hosts[0].ssh.user, "root");
	assert_int_equal(c->hosts[0].ssh.port, 22);
	assert_null(c->hosts[0].ssh.identity_file);
	assert_string_equal(c->hosts[0].ssh.known_hosts_file, "/home/tester/.ssh/known_hosts");
	assert_int_equal(c->hosts[0].ssh.host_key_policy, KF_HOSTKEY_STRICT);
	assert_true(c->hosts[0].ssh.connect_timeout == 10.0);
	assert_null(c->hosts[0].ssh.bastion);
	assert_string_equal(c->ssh.user, "root");
	assert_string_equal(c->kubernetes.version, "1.31.4");
	assert_string_equal(c->kubernetes.pod_subnet, "10.244.0.0/16");
	assert_string_equal(c->kubernetes.service_subnet, "10.96.0.0/12");
	assert_string_equal(c->kubernetes.cni, "flannel");
	assert_null(c->kubernetes.offline_bundle);
	assert_string_equal(c->kubernetes.control_plane_endpoint, "10.0.0.10");
	assert_string_equal(c->kubeflow.release, "26.03");
	assert_int_equal(c->kubeflow.ncomponents, 8);
	assert_string_equal(c->kubeflow.components[0], "pipelines");
	assert_string_equal(c->kubeflow.components[6], "profiles");
	assert_string_equal(c->kubeflow.components[7], "spark-operator");
	assert_null(c->kubeflow.source_path);
	assert_false(c->gitops.enabled);
	assert_string_equal(c->gitops.branch, "main");
	assert_true(c->gitops.interval == 60.0);
	assert_int_equal(kf_cluster_count_role(c, KF_ROLE_CONTROL_PLANE), 1);
	assert_int_equal(kf_cluster_count_role(c, KF_ROLE_WORKER), 0);
	assert_ptr_equal(kf_cluster_control_plane(c), &c->hosts[0]);
	assert_ptr_equal(kf_cluster_host(c, "cp1"), &c->hosts[0]);
	assert_null(kf_cluster_host(c, "w9"));
	kf_cluster_free(c);
	free(p);
	if (home)
		setenv("HOME", home, 1);
	free(home);
}

static void test_config_ssh__host_overrides_field_by_field(void **state)
{
	struct kf_cluster *c = NULL;
	char *p = problems_of(
		"apiVersion: kfboot.io/v1alpha1\n"
		"kind: Cluster\n"
		"metadata: { name: t }\n"
		"spec:\n"
		"  ssh:\n"
		"    user: ubuntu\n"
		"    port: 2200\n"
		"    hostKeyPolicy: accept-new\n"
		"    connectTimeout: 1m30s\n"
		"    knownHostsFile: /etc/kfboot/known_hosts\n"
		"    bastion: { address: jump.example.com }\n"
		"  hosts:\n"
		"    - { name: cp1, address: 10.0.0.10, role: control-plane }\n"
		"    - name: w1\n"
		"      address: 10.0.0.11\n"
		"      role: worker\n"
		"      ssh: { port: 2222, user: admin, bastion: { address: 10.0.0.1, user: hop, port: 2022 } }\n"
		"  kubernetes: { version: \"1.31.4\" }\n", &c);

	assert_string_equal(p, "");
	assert_non_null(c);
	/* cp1 inherits everything. */
	assert_string_equal(c->hosts[0].ssh.user, "ubuntu");
	assert_int_equal(c->hosts[0].ssh.port, 2200);
	assert_int_equal(c->hosts[0].ssh.host_key_policy, KF_HOSTKEY_ACCEPT_NEW);
	assert_true(c->hosts[0].ssh.connect_timeout == 90.0);
	assert_string_equal(c->hosts[0].ssh.known_hosts_file, "/etc/kfboot/known_hosts");
	assert_non_null(c->hosts[0].ssh.bastion);
	assert_string_equal(c->hosts[0].ssh.bastion->address, "jump.example.com");
	/* The bastion's user and port default to the host's user and 22. */
	assert_string_equal(c->hosts[0].ssh.bastion->user, "ubuntu");
	assert_int_equal(c->hosts[0].ssh.bastion->port, 22);
	assert_null(c->hosts[0].ssh.bastion->identity_file);
	/* w1 overrides port, user and the bastion; keeps the rest. */
	assert_string_equal(c->hosts[1].ssh.user, "admin");
	assert_int_equal(c->hosts[1].ssh.port, 2222);
	assert_int_equal(c->hosts[1].ssh.host_key_policy, KF_HOSTKEY_ACCEPT_NEW);
	assert_string_equal(c->hosts[1].ssh.known_hosts_file, "/etc/kfboot/known_hosts");
	assert_string_equal(c->hosts[1].ssh.bastion->address, "10.0.0.1");
	assert_string_equal(c->hosts[1].ssh.bastion->user, "hop");
	assert_int_equal(c->hosts[1].ssh.bastion->port, 2022);
	/* The spec-level defaults stay as written. */
	assert_string_equal(c->ssh.user, "ubuntu");
	assert_string_equal(c->ssh.bastion->user, "ubuntu");
	kf_cluster_free(c);
	free(p);
}

static void test_config_ssh__relative_identity_file_resolves_against_profile(void **state)
{
	char *path = data_path("identity-readable.yaml");
	struct kf_cluster *c = NULL;
	struct kf_diags d = KF_DIAGS_INIT;
	char *want = data_path("fixtures/id_test");

	assert_int_equal(kf_cluster_load(&c, path, &d, NULL), 0);
	assert_non_null(c);
	assert_string_equal(c->hosts[0].ssh.identity_file, want);
	/* The bastion takes the host's identity unless it names its own. */
	assert_string_equal(c->hosts[0].ssh.bastion->identity_file, want);
	kf_cluster_free(c);
	kf_diags_release(&d);
	free(want);
	free(path);
}

static void test_config_load__missing_file_is_an_error_not_a_problem(void **state)
{
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_cluster *c = (struct kf_cluster *)1;
	struct kf_err *err = NULL;

	assert_true(kf_cluster_load(&c, "/nonexistent/profile.yaml", &d, &err) < 0);
	assert_null(c);
	assert_int_equal(d.n, 0);
	assert_non_null(err);
	assert_int_not_equal(kf_err_code(err), KF_EINVAL);
	kf_err_free(err);
}

static void test_config_load__null_diags_still_fails(void **state)
{
	struct kf_cluster *c = NULL;
	struct kf_err *err = NULL;
	const char *bad = "apiVersion: v1\n";

	assert_int_equal(kf_cluster_load_buf(&c, "x", bad, strlen(bad), NULL, &err), KF_EINVAL);
	assert_null(c);
	kf_err_free(err);
}

static void test_config_load__every_problem_at_once(void **state)
{
	char *p = problems_of(
		"apiVersion: kfboot.io/v1\n"
		"kind: Cluster\n"
		"metadata: { name: Lab }\n"
		"spec:\n"
		"  ssh: { prot: 22 }\n"
		"  hosts:\n"
		"    - { name: cp1, address: 10.0.0.10, role: worker }\n"
		"  kubernetes: { version: \"1.31\", cni: weave }\n", NULL);
	size_t lines = 0;

	for (const char *q = p; *q; q++)
		lines += *q == '\n';
	assert_int_equal(lines, 6);
	assert_non_null(strstr(p, "1:13: unsupported apiVersion 'kfboot.io/v1'"));
	assert_non_null(strstr(p, "3:19: metadata.name: invalid name 'Lab'"));
	assert_non_null(strstr(p, "5:10: unknown field 'prot' in spec.ssh (did you mean 'port'?)"));
	assert_non_null(strstr(p, "no host has role 'control-plane'"));
	assert_non_null(strstr(p, "spec.kubernetes.version: invalid version '1.31'"));
	assert_non_null(strstr(p, "spec.kubernetes.cni: unknown value 'weave' (expected flannel or calico)"));
	free(p);
}

static void test_config_load__refuses_huge_input_before_parsing(void **state)
{
	size_t n = (4u << 20) + 1;
	char *big = kf_xmalloc(n);
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_cluster *c = NULL;

	memset(big, '#', n);
	assert_int_equal(kf_cluster_load_buf(&c, "big.yaml", big, n, &d, NULL), KF_EINVAL);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].msg, "the profile is larger than 4 MiB");
	kf_diags_release(&d);
	free(big);
}

/* ---- JSON ------------------------------------------------------------- */

static void test_config_json__round_trips_through_the_loader(void **state)
{
	char *path = data_path("valid-full.yaml");
	struct kf_cluster *c = NULL, *c2 = NULL;
	struct kf_diags d = KF_DIAGS_INIT;
	json_t *j, *j2;
	char *text;

	assert_int_equal(kf_cluster_load(&c, path, &d, NULL), 0);
	j = kf_cluster_to_json(c);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "Cluster");
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "spec"), "hosts")), 3);
	/* JSON is YAML: the output loads back to the same cluster. */
	text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	assert_int_equal(kf_cluster_load_buf(&c2, "out.json", text, strlen(text), &d, NULL), 0);
	j2 = kf_cluster_to_json(c2);
	assert_true(json_equal(j, j2));
	free(text);
	json_decref(j);
	json_decref(j2);
	kf_cluster_free(c);
	kf_cluster_free(c2);
	kf_diags_release(&d);
	free(path);
}

/* ---- rules ------------------------------------------------------------ */

static void test_config_cidr__parses_ipv4_and_ipv6(void **state)
{
	struct kf_cidr c;
	char why[200], buf[64];

	assert_true(kf_cidr_parse("10.244.0.0/16", &c, why, sizeof(why)));
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 16);
	assert_string_equal(kf_cidr_fmt(&c, buf, sizeof(buf)), "10.244.0.0/16");
	assert_true(kf_cidr_parse("fd00:10:244::/56", &c, why, sizeof(why)));
	assert_int_equal(c.family, AF_INET6);
	assert_true(kf_cidr_parse("0.0.0.0/0", &c, why, sizeof(why)));
	assert_true(kf_cidr_parse("::/0", &c, why, sizeof(why)));

	assert_false(kf_cidr_parse("10.244.0.1/16", &c, why, sizeof(why)));
	assert_string_equal(why, "host bits are set (did you mean '10.244.0.0/16'?)");
	assert_false(kf_cidr_parse("fd00::1/64", &c, why, sizeof(why)));
	assert_string_equal(why, "host bits are set (did you mean 'fd00::/64'?)");
	assert_false(kf_cidr_parse("10.0.0.0/33", &c, why, sizeof(why)));
	assert_string_equal(why, "prefix length 33 is out of range for IPv4 (0-32)");
	assert_false(kf_cidr_parse("fd00::/129", &c, why, sizeof(why)));
	assert_false(kf_cidr_parse("10.0.0.0", &c, why, sizeof(why)));
	assert_false(kf_cidr_parse("10.0.0.0/", &c, why, sizeof(why)));
	assert_false(kf_cidr_parse("10.0.0.0/016", &c, why, sizeof(why)));
	assert_false(kf_cidr_parse("10.0.0.0/+8", &c, why, sizeof(why)));
	assert_false(kf_cidr_parse("10.0.0/8", &c, why, sizeof(why)));
	assert_string_equal(why, "'10.0.0' is not an IPv4 or IPv6 address");
	assert_false(kf_cidr_parse("/8", &c, why, sizeof(why)));
	assert_false(kf_cidr_parse("", &c, why, sizeof(why)));
}

static void test_config_cidr__dual_stack_lists(void **state)
{
	struct kf_cidr c[2];
	size_t n;
	char why[200];

	assert_true(kf_cidr_list_parse("10.244.0.0/16,fd00:10:244::/56", c, &n, why, sizeof(why)));
	assert_int_equal(n, 2);
	assert_false(kf_cidr_list_parse("10.244.0.0/16,10.245.0.0/16", c, &n, why, sizeof(why)));
	assert_string_equal(why, "a dual-stack pair needs one IPv4 and one IPv6 CIDR");
	assert_false(kf_cidr_list_parse("10.0.0.0/8,fd00::/8,fe80::/10", c, &n, why, sizeof(why)));
}

static void test_config_cidr__overlap_and_contains(void **state)
{
	struct kf_cidr a, b;
	unsigned char addr[16] = { 10, 96, 0, 10 };

	kf_cidr_parse("10.96.0.0/12", &a, NULL, 0);
	kf_cidr_parse("10.100.0.0/16", &b, NULL, 0);
	assert_true(kf_cidr_overlap(&a, &b));
	assert_true(kf_cidr_overlap(&b, &a));
	kf_cidr_parse("10.244.0.0/16", &b, NULL, 0);
	assert_false(kf_cidr_overlap(&a, &b));
	kf_cidr_parse("10.112.0.0/12", &b, NULL, 0);
	assert_false(kf_cidr_overlap(&a, &b)); /* adjacent, not overlapping */
	kf_cidr_parse("fd00::/8", &b, NULL, 0);
	assert_false(kf_cidr_overlap(&a, &b)); /* other family */
	assert_true(kf_cidr_contains(&a, AF_INET, addr));
	addr[1] = 112;
	assert_false(kf_cidr_contains(&a, AF_INET, addr));
	kf_cidr_parse("0.0.0.0/0", &b, NULL, 0);
	assert_true(kf_cidr_contains(&b, AF_INET, addr));
}

static void test_config_names__dns_labels_and_label_keys(void **state)
{
	char why[200];

	assert_true(kf_dns1123_label("cp1", why, sizeof(why)));
	assert_true(kf_dns1123_label("a-b-9", why, sizeof(why)));
	assert_false(kf_dns1123_label("CP1", why, sizeof(why)));
	assert_false(kf_dns1123_label("-a", why, sizeof(why)));
	assert_false(kf_dns1123_label("a.b", why, sizeof(why)));
	assert_false(kf_dns1123_label("", why, sizeof(why)));
	assert_false(kf_dns1123_label("a123456789012345678901234567890123456789012345678901234567890123", why, sizeof(why)));

	assert_true(kf_label_key_valid("gpu", why, sizeof(why)));
	assert_true(kf_label_key_valid("node-role.kubernetes.io/worker", why, sizeof(why)));
	assert_true(kf_label_key_valid("example.com/Some_Name.v1", why, sizeof(why)));
	assert_false(kf_label_key_valid("Example.com/x", why, sizeof(why)));
	assert_false(kf_label_key_valid("a/b/c", why, sizeof(why)));
	assert_false(kf_label_key_valid("/x", why, sizeof(why)));
	assert_false(kf_label_key_valid("x/", why, sizeof(why)));
	assert_false(kf_label_key_valid("_x", why, sizeof(why)));
	assert_false(kf_label_key_valid("has space", why, sizeof(why)));
	assert_true(kf_label_value_valid("", why, sizeof(why)));
	assert_true(kf_label_value_valid("true", why, sizeof(why)));
	assert_true(kf_label_value_valid("A-1.b_2", why, sizeof(why)));
	assert_false(kf_label_value_valid("-x", why, sizeof(why)));
	assert_false(kf_label_value_valid("a b", why, sizeof(why)));
}

static void test_config_taints__split_and_effects(void **state)
{
	char *k, *v, *e;
	char why[200];

	assert_true(kf_taint_split("gpu=true:NoSchedule", &k, &v, &e, why, sizeof(why)));
	assert_string_equal(k, "gpu");
	assert_string_equal(v, "true");
	assert_string_equal(e, "NoSchedule");
	free(k), free(v), free(e);
	assert_true(kf_taint_split("dedicated:NoExecute", &k, &v, &e, why, sizeof(why)));
	assert_string_equal(k, "dedicated");
	assert_null(v);
	free(k), free(e);
	assert_false(kf_taint_split("gpu=true", &k, &v, &e, why, sizeof(why)));
	assert_true(kf_taint_effect_valid("PreferNoSchedule"));
	assert_false(kf_taint_effect_valid("noschedule"));
}

static void test_config_version__major_minor_patch(void **state)
{
	char why[200];

	assert_true(kf_k8s_version_valid("1.31.4", why, sizeof(why)));
	assert_true(kf_k8s_version_valid("1.30.10", why, sizeof(why)));
	assert_false(kf_k8s_version_valid("1.31", why, sizeof(why)));
	assert_false(kf_k8s_version_valid("v1.31.4", why, sizeof(why)));
	assert_string_equal(why, "write it without the 'v' (did you mean '1.31.4'?)");
	assert_false(kf_k8s_version_valid("1.31.4.1", why, sizeof(why)));
	assert_false(kf_k8s_version_valid("1.031.4", why, sizeof(why)));
	assert_false(kf_k8s_version_valid("1.31.4-rc.1", why, sizeof(why)));
	assert_false(kf_k8s_version_valid("2.0.0", why, sizeof(why)));
	assert_false(kf_k8s_version_valid("", why, sizeof(why)));
	assert_false(kf_k8s_version_valid("1..4", why, sizeof(why)));
}

static void test_config_address__literals_names_and_mistakes(void **state)
{
	unsigned char a[16];
	int fam;
	char why[200];

	assert_true(kf_address_valid("10.0.0.10", &fam, a, why, sizeof(why)));
	assert_int_equal(fam, AF_INET);
	assert_true(kf_address_valid("fd00::10", &fam, a, why, sizeof(why)));
	assert_int_equal(fam, AF_INET6);
	assert_true(kf_address_valid("node1.example.com", &fam, a, why, sizeof(why)));
	assert_int_equal(fam, 0);
	assert_true(kf_address_valid("Node-1", &fam, a, why, sizeof(why)));
	assert_false(kf_address_valid("ubuntu@10.0.0.1", &fam, a, why, sizeof(why)));
	assert_string_equal(why, "put the user in ssh.user, not in the address");
	assert_false(kf_address_valid("10.0.0.1:22", &fam, a, why, sizeof(why)));
	assert_string_equal(why, "put the port in ssh.port, not in the address");
	assert_false(kf_address_valid("ssh://host", &fam, a, why, sizeof(why)));
	assert_false(kf_address_valid("[fd00::1]", &fam, a, why, sizeof(why)));
	assert_false(kf_address_valid("10.0.0.256", &fam, a, why, sizeof(why)));
	assert_false(kf_address_valid("0.0.0.0", &fam, a, why, sizeof(why)));
	assert_false(kf_address_valid("a..b", &fam, a, why, sizeof(why)));
	assert_false(kf_address_valid("bad_name", &fam, a, why, sizeof(why)));

	assert_true(kf_endpoint_valid("10.0.0.10", why, sizeof(why)));
	assert_true(kf_endpoint_valid("api.example.com:6443", why, sizeof(why)));
	assert_true(kf_endpoint_valid("[fd00::1]:6443", why, sizeof(why)));
	assert_true(kf_endpoint_valid("fd00::1", why, sizeof(why)));
	assert_false(kf_endpoint_valid("api.example.com:0", why, sizeof(why)));
	assert_false(kf_endpoint_valid("api.example.com:http", why, sizeof(why)));
	assert_false(kf_endpoint_valid("[fd00::1", why, sizeof(why)));
}

static void test_config_git__branches_and_urls(void **state)
{
	char why[200];

	assert_true(kf_git_branch_valid("main", why, sizeof(why)));
	assert_true(kf_git_branch_valid("release/1.0", why, sizeof(why)));
	assert_false(kf_git_branch_valid("-x", why, sizeof(why)));
	assert_false(kf_git_branch_valid("a..b", why, sizeof(why)));
	assert_false(kf_git_branch_valid("a b", why, sizeof(why)));
	assert_false(kf_git_branch_valid("x.lock", why, sizeof(why)));
	assert_false(kf_git_branch_valid("a/", why, sizeof(why)));
	assert_false(kf_git_branch_valid("HEAD", why, sizeof(why)));

	assert_true(kf_git_url_valid("https://git.example.com/ml/platform.git", why, sizeof(why)));
	assert_true(kf_git_url_valid("ssh://git@git.example.com:2222/ml.git", why, sizeof(why)));
	assert_true(kf_git_url_valid("file:///srv/git/ml.git", why, sizeof(why)));
	assert_true(kf_git_url_valid("git@github.example:ml/platform.git", why, sizeof(why)));
	assert_false(kf_git_url_valid("ftp://x/y", why, sizeof(why)));
	assert_false(kf_git_url_valid("https://", why, sizeof(why)));
	assert_false(kf_git_url_valid("platform", why, sizeof(why)));
}

static void test_config_duration__formats_parse_back(void **state)
{
	static const double cases[] = { 10, 60, 90, 3600, 5400, 0.25, 1.5, 86400 };
	static const char *const want[] = { "10s", "1m", "1m30s", "1h", "1h30m", "250ms", "1.5s", "24h" };
	char buf[64];

	for (size_t i = 0; i < KF_ARRAY_SIZE(cases); i++) {
		double back = -1;

		assert_string_equal(kf_config_duration_fmt(cases[i], buf, sizeof(buf)), want[i]);
		assert_int_equal(kf_duration_parse(buf, &back), 0);
		assert_true(back == cases[i]);
	}
}

static void test_config_components__known_names(void **state)
{
	assert_true(kf_kubeflow_component_known("pipelines"));
	assert_true(kf_kubeflow_component_known("kserve"));
	assert_false(kf_kubeflow_component_known("pipeline"));
	assert_string_equal(kf_role_str(KF_ROLE_WORKER), "worker");
	assert_string_equal(kf_hostkey_policy_str(KF_HOSTKEY_ACCEPT_NEW), "accept-new");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_data__every_case_matches_its_errors_file),
		cmocka_unit_test(test_config_data__required_cases_exist_with_positions),
		cmocka_unit_test(test_config_profiles__examples_are_valid),
		cmocka_unit_test(test_config_defaults__filled_in),
		cmocka_unit_test(test_config_ssh__host_overrides_field_by_field),
		cmocka_unit_test(test_config_ssh__relative_identity_file_resolves_against_profile),
		cmocka_unit_test(test_config_load__missing_file_is_an_error_not_a_problem),
		cmocka_unit_test(test_config_load__null_diags_still_fails),
		cmocka_unit_test(test_config_load__every_problem_at_once),
		cmocka_unit_test(test_config_load__refuses_huge_input_before_parsing),
		cmocka_unit_test(test_config_json__round_trips_through_the_loader),
		cmocka_unit_test(test_config_cidr__parses_ipv4_and_ipv6),
		cmocka_unit_test(test_config_cidr__dual_stack_lists),
		cmocka_unit_test(test_config_cidr__overlap_and_contains),
		cmocka_unit_test(test_config_names__dns_labels_and_label_keys),
		cmocka_unit_test(test_config_taints__split_and_effects),
		cmocka_unit_test(test_config_version__major_minor_patch),
		cmocka_unit_test(test_config_address__literals_names_and_mistakes),
		cmocka_unit_test(test_config_git__branches_and_urls),
		cmocka_unit_test(test_config_duration__formats_parse_back),
		cmocka_unit_test(test_config_components__known_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
