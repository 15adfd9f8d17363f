/*
 * test_kube.c - unit tests for src/kube: kubeconfig reading and merging,
 * the HTTP client's retries and caps (against a libmicrohttpd server on
 * loopback), manifest validation with positions, apply ordering, kubectl's
 * ApplySet id, label selectors, diff normalisation and output, the
 * skip-unchanged decision and health rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "kube/kube.h"

static char *data_path(const char *name)
{
	const char *src = getenv("KF_SOURCE_DIR");

	return kf_xasprintf("%s/tests/data/kube/%s", src ? src : KF_SOURCE_DIR, name);
}

static void set_kubeconfig_env(const char *a, const char *b)
{
	char *pa = data_path(a), *pb = b ? data_path(b) : NULL;
	char *v = pb ? kf_xasprintf("%s:%s", pa, pb) : kf_xstrdup(pa);

	setenv("KUBECONFIG", v, 1);
	unsetenv("KUBERNETES_SERVICE_HOST");
	free(pa);
	free(pb);
	free(v);
}

/* ---- kubeconfig ------------------------------------------------------ */

static void test_kube_config__merge_first_file_wins(void **state)
{
	struct kf_kube_config *c = NULL;
	struct kf_err *err = NULL;

	set_kubeconfig_env("kc-a.yaml", "kc-b.yaml");
	assert_int_equal(kf_kube_config_load(&c, NULL, &err), 0);
	assert_string_equal(c->context, "ctx-a");           /* a's current-context */
	assert_string_equal(c->server, "https://a.example:6443"); /* ctx-a from a, not b */
	assert_string_equal(c->namespace, "team-a");
	assert_int_equal(c->ca_len, 8);
	assert_memory_equal(c->ca, "FAKE CA\n", 8);        /* relative to kc-a.yaml */
	assert_memory_equal(c->cert, "CERT-A", 6);
	assert_memory_equal(c->key, "KEY-A-secret", 12);
	assert_null(c->token);                               /* user ua from a, not b */
	assert_false(c->insecure);
	kf_kube_config_free(c);
}

static void test_kube_config__current_context_from_first_file_setting_it(void **state)
{
	struct kf_kube_config *c = NULL;
	struct kf_err *err = NULL;

	set_kubeconfig_env("kc-b.yaml", "kc-a.yaml");
	assert_int_equal(kf_kube_config_load(&c, NULL, &err), 0);
	assert_string_equal(c->context, "ctx-b");
	assert_string_equal(c->server, "https://b.example:6443");
	assert_string_equal(c->token, "s3cr3t-token-value"); /* tokenFile, trimmed */
	assert_string_equal(c->namespace, "default");
	kf_kube_config_free(c);
}

static void test_kube_config__context_flag_across_files(void **state)
{
	struct kf_kubeconfig_opts o = { NULL, "ctx-shared", NULL };
	struct kf_kube_config *c = NULL;
	struct kf_err *err = NULL;

	set_kubeconfig_env("kc-a.yaml", "kc-b.yaml");
	assert_int_equal(kf_kube_config_load(&c, &o, &err), 0);
	assert_string_equal(c->server, "https://from-a.example"); /* a defines "shared" first */
	assert_true(c->insecure);
	assert_string_equal(c->token, "s3cr3t-token-value");     /* user ub only in b */
	kf_kube_config_free(c);
}

static void test_kube_config__explicit_file_is_not_merged(void **state)
{
	char *b = data_path("kc-b.yaml");
	struct kf_kubeconfig_opts o = { b, "ctx-shared", NULL };
	struct kf_kube_config *c = NULL;
	struct kf_err *err = NULL;
	char *s;

	set_kubeconfig_env("kc-a.yaml", NULL);
	assert_int_equal(kf_kube_config_load(&c, &o, &err), KF_ENOENT);
	assert_null(c);
	s = kf_err_str(err);
	assert_non_null(strstr(s, "context 'ctx-shared' is not defined"));
	free(s);
	kf_err_free(err);
	free(b);
}

static void test_kube_config__missing_cluster_names_position(void **state)
{
	struct kf_kube_config *c = NULL;
	struct kf_err *err = NULL;
	char *s;

	set_kubeconfig_env("kc-bad.yaml", NULL);
	assert_int_equal(kf_kube_config_load(&c, NULL, &err), KF_EINVAL);
	s = kf_err_str(err);
	assert_non_null(strstr(s, "kc-bad.yaml:10:14: context 'broken' refers to cluster 'missing'"));
	free(s);
	kf_err_free(err);
}

static void test_kube_config__in_cluster_service_account(void **state)
{
	char *sa = data_path("sa");
	struct kf_kubeconfig_opts o = { NULL, NULL, sa };
	struct kf_kube_config *c = NULL;
	struct kf_err *err = NULL;
	char *r;

	setenv("KUBECONFIG", "/nonexistent/kubeconfig", 1);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kf_kube_config_load(&c, &o, &err), 0);
	assert_string_equal(c->server, "https://10.96.0.1:443");
	assert_string_equal(c->context, "in-cluster");
	assert_string_equal(c->namespace, "ml-prod");
	assert_string_equal(c->token, "sa-token-value");
	/* The token is registered for redaction. */
	r = kf_redact("token is sa-token-value");
	assert_null(strstr(r, "sa-token-value"));
	free(r);
	kf_kube_config_free(c);
	unsetenv("KUBERNETES_SERVICE_HOST");
	free(sa);
}

/* ---- client against a loopback server -------------------------------- */

struct srv {
	int throttle_left; /* answer 429 this many times */
	int hits;
	size_t big;        /* size of /big */
};

static enum MHD_Result srv_handler(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version, const char *upload,
				   size_t *upload_size, void **con_cls)
{
	struct srv *s = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned code = 200;

	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	s->hits++;
	if (!strcmp(url, "/big")) {
		char *body = kf_xmalloc(s->big);

		memset(body, 'x', s->big);
		resp = MHD_create_response_from_buffer(s->big, body, MHD_RESPMEM_MUST_FREE);
	} else if (s->throttle_left > 0) {
		static const char msg[] = "{\"kind\":\"Status\",\"message\":\"slow down\"}";

		s->throttle_left--;
		code = 429;
		resp = MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(resp, "Retry-After", "0");
	} else {
		static const char ok[] = "{\"ok\":true}";

		resp = MHD_create_response_from_buffer(strlen(ok), (void *)ok, MHD_RESPMEM_PERSISTENT);
	}
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static struct MHD_Daemon *srv_start(struct srv *s, struct kf_kube **k, const struct kf_kube_opts *o)
{
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
						NULL, NULL, srv_handler, s, MHD_OPTION_END);
	const union MHD_DaemonInfo *info;
	struct kf_kube_config cfg = { 0 };
	struct kf_err *err = NULL;

	assert_non_null(d);
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	cfg.server = kf_xasprintf("http://127.0.0.1:%u", (unsigned)info->port);
	assert_int_equal(kf_kube_new(k, &cfg, o, &err), 0);
	free(cfg.server);
	return d;
}

static void test_kube_client__retries_429_then_succeeds(void **state)
{
	struct srv s = { 3, 0, 0 };
	struct kf_kube_opts o = { 0 };
	struct kf_kube *k = NULL;
	struct MHD_Daemon *d = srv_start(&s, &k, &o);
	json_t *j = NULL;
	struct kf_err *err = NULL;

	assert_int_equal(kf_kube_get_json(k, "/api", false, &j, &err), 0);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(s.hits, 4);
	assert_int_equal(kf_kube_get_stats(k)->retries, 3);
	json_decref(j);
	kf_kube_free(k);
	MHD_stop_daemon(d);
}

static void test_kube_client__throttling_bounded_by_window(void **state)
{
	struct srv s = { 100, 0, 0 };
	struct kf_kube_opts o = { .retry_window = 0.5 };
	struct kf_kube *k = NULL;
	struct MHD_Daemon *d = srv_start(&s, &k, &o);
	json_t *j = NULL;
	struct kf_err *err = NULL;
	char *msg;

	assert_int_equal(kf_kube_get_json(k, "/api", false, &j, &err), KF_EAGAIN);
	assert_true(s.hits >= 2 && s.hits < 100);
	msg = kf_err_str(err);
	assert_non_null(strstr(msg, "429: slow down"));
	free(msg);
	kf_err_free(err);
	kf_kube_free(k);
	MHD_stop_daemon(d);
}

static void test_kube_client__caps_response_size(void **state)
{
	struct srv s = { 0, 0, 100000 };
	struct kf_kube_opts o = { .max_response = 4096 };
	struct kf_kube *k = NULL;
	struct MHD_Daemon *d = srv_start(&s, &k, &o);
	json_t *j = NULL;
	struct kf_err *err = NULL;

	assert_int_equal(kf_kube_get_json(k, "/big", false, &j, &err), KF_ETOOBIG);
	assert_int_equal(s.hits, 1); /* not retried */
	kf_err_free(err);
	kf_kube_free(k);
	MHD_stop_daemon(d);
}

static void test_kube_client__many_requests_in_parallel(void **state)
{
	struct srv s = { 0, 0, 0 };
	struct kf_kube_opts o = { 0 };
	struct kf_kube *k = NULL;
	struct MHD_Daemon *d = srv_start(&s, &k, &o);
	struct kf_kube_req q[50], *qp[50];
	struct kf_err *err = NULL;

	for (int i = 0; i < 50; i++) {
		kf_kube_req_init(&q[i], "GET", kf_xasprintf("/api/%d", i));
		qp[i] = &q[i];
	}
	assert_int_equal(kf_kube_run(k, qp, 50, &err), 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(q[i].status, 200);
		kf_kube_req_release(&q[i]);
	}
	assert_int_equal(s.hits, 50);
	kf_kube_free(k);
	MHD_stop_daemon(d);
}

/* ---- manifests ------------------------------------------------------- */

static const char manifest[] =
	"apiVersion: admissionregistration.k8s.io/v1\n"    /* 1 */
	"kind: ValidatingWebhookConfiguration\n"
	"metadata: {name: vwc}\n"
	"---\n"
	"apiVersion: apps/v1\n"                             /* 5 */
	"kind: Deployment\n"
	"metadata: {name: web, namespace: app}\n"
	"---\n"
	"apiVersion: example.com/v1\n"                      /* 9 */
	"kind: Widget\n"
	"metadata: {name: w1, namespace: app}\n"
	"---\n"
	"apiVersion: apiextensions.k8s.io/v1\n"             /* 13 */
	"kind: CustomResourceDefinition\n"
	"metadata: {name: widgets.example.com}\n"
	"spec:\n"
	"  group: example.com\n"
	"  scope: Namespaced\n"
	"  names: {kind: Widget, plural: widgets}\n"
	"  versions: [{name: v1, served: true, storage: true}]\n"
	"---\n"
	"apiVersion: v1\n"                                  /* 22 */
	"kind: Namespace\n"
	"metadata: {name: app}\n"
	"---\n"
	"apiVersion: v1\n"                                  /* 26 */
	"kind: ConfigMap\n"
	"metadata:\n"
	"  name: early\n"
	"  annotations: {argocd.argoproj.io/sync-wave: \"-1\"}\n"
	"---\n"
	"apiVersion: v1\n"                                  /* 32 */
	"kind: ConfigMap\n"
	"metadata: {name: cfg}\n";

static struct kf_discovery *builtin_discovery(void)
{
	struct kf_discovery *d = kf_discovery_new();

	kf_discovery_add(d, "", "v1", "Namespace", "namespaces", false);
	kf_discovery_add(d, "", "v1", "ConfigMap", "configmaps", true);
	kf_discovery_add(d, "apps", "v1", "Deployment", "deployments", true);
	kf_discovery_add(d, "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false);
	kf_discovery_add(d, "admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
			 "validatingwebhookconfigurations", false);
	return d;
}

static void test_kube_order__prereqs_first_webhooks_last_waves_win(void **state)
{
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_discovery *d = builtin_discovery();
	const char *want[] = { "early", "app", "widgets.example.com", "cfg", "web", "w1", "vwc" };

	assert_int_equal(kf_objset_load_buf(&set, "m.yaml", manifest, strlen(manifest), &dg, NULL), 0);
	assert_int_equal(kf_objset_resolve(&set, d, "team", &dg), 0);
	assert_int_equal(dg.n, 0);
	kf_objset_sort(&set);
	assert_int_equal(set.n, KF_ARRAY_SIZE(want));
	for (size_t i = 0; i < set.n; i++)
		assert_string_equal(set.v[i].name, want[i]);
	/* Default namespace for namespaced objects without one; none for cluster-scoped. */
	assert_string_equal(set.v[0].ns, "team");
	assert_null(set.v[1].ns);
	assert_true(set.v[5].namespaced); /* from the CRD in the set */
	kf_objset_release(&set);
	kf_diags_release(&dg);
	kf_discovery_free(d);
}

static void test_kube_validate__every_problem_with_position(void **state)
{
	static const char bad[] =
		"apiVersion: v1\n"
		"kind: ConfigMap\n"
		"metadata: {name: ok}\n"
		"---\n"
		"apiVersion: v1\n"
		"metadata: {name: nokind}\n"
		"---\n"
		"apiVersion: example.com/v1\n"
		"kind: Gadget\n"
		"metadata: {name: g}\n"
		"---\n"
		"apiVersion: v1\n"
		"kind: ConfigMap\n"
		"metadata: {generateName: x-}\n";
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_discovery *d = builtin_discovery();
	char *s;

	assert_int_equal(kf_objset_load_buf(&set, "bad.yaml", bad, strlen(bad), &dg, NULL), KF_EINVAL);
	assert_int_equal(kf_objset_resolve(&set, d, "default", &dg), KF_EINVAL);
	kf_diags_sort(&dg);
	assert_int_equal(dg.n, 3);
	s = kf_diag_str(&dg.v[0]);
	assert_string_equal(s, "bad.yaml:5:1: object has no kind");
	free(s);
	s = kf_diag_str(&dg.v[1]);
	assert_non_null(strstr(s, "bad.yaml:9:7: unknown kind 'Gadget'"));
	free(s);
	s = kf_diag_str(&dg.v[2]);
	assert_non_null(strstr(s, "bad.yaml:14:"));
	assert_non_null(strstr(s, "generateName"));
	free(s);
	kf_objset_release(&set);
	kf_diags_release(&dg);
	kf_discovery_free(d);
}

static void test_kube_validate__bad_yaml_and_duplicates(void **state)
{
	static const char dup[] =
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n---\n"
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n";
	static const char broken[] = "apiVersion: v1\nkind: [ConfigMap\n";
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_discovery *d = builtin_discovery();
	char *s;

	assert_int_equal(kf_objset_load_buf(&set, "dup.yaml", dup, strlen(dup), &dg, NULL), 0);
	assert_int_equal(kf_objset_resolve(&set, d, "default", &dg), KF_EINVAL);
	assert_int_equal(dg.n, 1);
	s = kf_diag_str(&dg.v[0]);
	assert_non_null(strstr(s, "defined twice (first at dup.yaml:1:1)"));
	free(s);
	assert_int_equal(kf_objset_load_buf(&set, "broken.yaml", broken, strlen(broken), &dg, NULL), KF_EINVAL);
	s = kf_diag_str(&dg.v[1]);
	assert_true(kf_str_startswith(s, "broken.yaml:"));
	free(s);
	kf_objset_release(&set);
	kf_diags_release(&dg);
	kf_discovery_free(d);
}

/* Many objects, a few defined three times: each later definition is
 * reported once, against the first (sorted detection, not pairwise), and
 * objects that differ only by namespace or kind are not duplicates. */
static void test_kube_validate__duplicates_among_many(void **state)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_discovery *d = builtin_discovery();
	const int n = 20000;
	char *s;

	/* cm-i in ns-(i % 7); cm-0 and cm-1 again at the end, cm-0 a third
	 * time; a Deployment cm-0 and a cm-0 in another namespace are not
	 * duplicates */
	for (int i = 0; i < n - 2; i++)
		kf_buf_addf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: ns-%d}\n",
			    i, i % 7);
	kf_buf_adds(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-0, namespace: ns-0}\n"
		    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-1, namespace: ns-1}\n");
	kf_buf_adds(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-0, namespace: ns-0}\n"
		    "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cm-0, namespace: ns-0}\n"
		    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-0, namespace: ns-9}\n");
	assert_int_equal(kf_objset_load_buf(&set, "many.yaml", b.buf, b.len, &dg, NULL), 0);
	assert_int_equal(kf_objset_resolve(&set, d, "default", &dg), KF_EINVAL);
	/* cm-0: 2 later copies; cm-1: 1 later copy. Pairwise detection
	 * reported cm-0's third copy twice (against each earlier one). */
	assert_int_equal(dg.n, 3);
	kf_diags_sort(&dg);
	for (size_t i = 0; i < dg.n; i++) {
		s = kf_diag_str(&dg.v[i]);
		assert_non_null(strstr(s, "is defined twice (first at many.yaml:"));
		if (strstr(s, "ns-0/cm-0 "))
			assert_non_null(strstr(s, "(first at many.yaml:2:1)"));
		free(s);
	}
	kf_objset_release(&set);
	kf_diags_release(&dg);
	kf_discovery_free(d);
	kf_buf_release(&b);
}

/* kubectl diff's masking: values never shown, changes still visible. */
static void test_kube_diff__secrets_masked_like_kubectl(void **state)
{
	json_t *live = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"},"
				  "\"data\":{\"same\":\"c2FtZQ==\",\"changed\":\"b2xk\",\"gone\":\"eA==\"}}", 0, NULL);
	json_t *merged = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"},"
				    "\"data\":{\"same\":\"c2FtZQ==\",\"changed\":\"bmV3\",\"added\":\"eQ==\"},"
				    "\"stringData\":{\"password\":\"hunter2\"}}", 0, NULL);
	json_t *cm = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"k\":\"visible\"}}", 0, NULL);
	json_t *want_live = json_loads("{\"same\":\"***\",\"changed\":\"*** (before)\",\"gone\":\"***\"}", 0, NULL);
	json_t *want_merged = json_loads("{\"same\":\"***\",\"changed\":\"*** (after)\",\"added\":\"***\"}", 0, NULL);
	struct kf_buf out = KF_BUF_INIT;
	char *a, *b;

	kf_diff_mask_secrets(live, merged);
	assert_true(json_equal(json_object_get(live, "data"), want_live));
	assert_true(json_equal(json_object_get(merged, "data"), want_merged));
	assert_string_equal(json_string_value(json_object_get(json_object_get(merged, "stringData"), "password")),
			    "***");
	kf_diff_mask_secrets(NULL, cm);
	assert_string_equal(json_string_value(json_object_get(json_object_get(cm, "data"), "k")), "visible");
	a = json_dumps(live, JSON_INDENT(1) | JSON_SORT_KEYS);
	b = json_dumps(merged, JSON_INDENT(1) | JSON_SORT_KEYS);
	assert_true(kf_diff_text(&out, "live", a, "merged", b));
	assert_null(strstr(out.buf, "b2xk"));
	assert_null(strstr(out.buf, "bmV3"));
	assert_null(strstr(out.buf, "hunter2"));
	assert_non_null(strstr(out.buf, "-  \"changed\": \"*** (before)\""));
	free(a);
	free(b);
	kf_buf_release(&out);
	json_decref(live);
	json_decref(merged);
	json_decref(cm);
	json_decref(want_live);
	json_decref(want_merged);
}

/* ---- applyset, selectors --------------------------------------------- */

static void test_kube_applyset__id_matches_kubectl(void **state)
{
	/* kubectl v1.32 `apply --prune --applyset=kfboot-test -n default`
	 * labelled its parent Secret with exactly this id. */
	char *id = kf_applyset_id("kfboot-test", "default", "Secret", "");

	assert_string_equal(id, "applyset-KxnQasVpfUW6d-iAoxNUYuVMaHEeqxphUqcaIWgPhKw-v1");
	free(id);
}

static void test_kube_applyset__group_kinds_sorted_unique(void **state)
{
	static const char m[] =
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n---\n"
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\n"
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: c}\n";
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	char *g;

	assert_int_equal(kf_objset_load_buf(&set, "m", m, strlen(m), &dg, NULL), 0);
	g = kf_applyset_group_kinds(&set);
	assert_string_equal(g, "ConfigMap,Deployment.apps");
	free(g);
	kf_objset_release(&set);
	kf_diags_release(&dg);
}

static void test_kube_selector__checks_label_syntax(void **state)
{
	char *s = kf_label_selector(KF_APPLYSET_PART_OF, "applyset-abc_-x-v1");

	assert_string_equal(s, "applyset.kubernetes.io/part-of=applyset-abc_-x-v1");
	free(s);
	assert_null(kf_label_selector("app", "has space"));
	assert_null(kf_label_selector("app", "-leading"));
	assert_null(kf_label_selector("bad key!", "x"));
	assert_null(kf_label_selector("app", "0123456789012345678901234567890123456789012345678901234567890123"));
}

static void test_kube_base64__roundtrip_and_url_form(void **state)
{
	char *e = kf_base64_encode("\xfb\xff", 2, false), *dec = NULL;
	size_t len = 0;

	assert_string_equal(e, "+/8=");
	free(e);
	e = kf_base64_encode("\xfb\xff", 2, true);
	assert_string_equal(e, "-_8");
	assert_int_equal(kf_base64_decode(e, &dec, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(dec, "\xfb\xff", 2);
	free(dec);
	free(e);
	assert_int_equal(kf_base64_decode("a$b=", &dec, &len), KF_EINVAL);
	e = kf_url_escape("eyJ2Ijo+/=_-.~");
	assert_string_equal(e, "eyJ2Ijo%2B%2F%3D_-.~");
	free(e);
}

/* ---- diff ----------------------------------------------------------- */

static void test_kube_diff__normalize_strips_server_fields(void **state)
{
	json_t *o = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
			       "\"uid\":\"u\",\"resourceVersion\":\"7\",\"generation\":2,\"creationTimestamp\":\"t\","
			       "\"managedFields\":[{}],\"labels\":{\"applyset.kubernetes.io/part-of\":\"x\"},"
			       "\"annotations\":{\"kfboot.io/applied-hash\":\"h\",\"keep\":\"me\"}},"
			       "\"data\":{\"k\":\"v\"},\"status\":{\"x\":1}}", 0, NULL);
	json_t *want = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
				  "\"annotations\":{\"keep\":\"me\"}},\"data\":{\"k\":\"v\"}}", 0, NULL);

	kf_diff_normalize(o);
	assert_true(json_equal(o, want));
	json_decref(o);
	json_decref(want);
}

static void test_kube_diff__unified_output(void **state)
{
	struct kf_buf b = KF_BUF_INIT;
	const char *a = "a\nb\nc\nd\ne\nf\ng\nh\n";
	const char *c = "a\nb\nc\nD\ne\nf\ng\nh\ni\n";

	assert_false(kf_diff_text(&b, "x", a, "y", a));
	assert_int_equal(b.len, 0);
	assert_true(kf_diff_text(&b, "live/x", a, "merged/x", c));
	assert_string_equal(b.buf, "--- live/x\n+++ merged/x\n@@ -1,8 +1,9 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n h\n+i\n");
	kf_buf_release(&b);
	assert_true(kf_diff_text(&b, "/dev/null", "", "merged/y", "x: 1\n"));
	assert_string_equal(b.buf, "--- /dev/null\n+++ merged/y\n@@ -0,0 +1,1 @@\n+x: 1\n");
	kf_buf_release(&b);
}

/* ---- skip unchanged ------------------------------------------------- */

static void make_obj(struct kf_objset *set)
{
	static const char m[] =
		"apiVersion: apps/v1\nkind: Deployment\n"
		"metadata: {name: web, namespace: app, labels: {app: web}}\nspec: {replicas: 1}\n";
	struct kf_diags dg = KF_DIAGS_INIT;

	assert_int_equal(kf_objset_load_buf(set, "m", m, strlen(m), &dg, NULL), 0);
	kf_obj_hash(&set->v[0]);
	json_object_set_new(json_object_get(set->v[0].obj, "metadata"), "annotations",
			    json_pack("{s:s}", KF_ANN_HASH, set->v[0].hash));
	kf_diags_release(&dg);
}

static json_t *live_of(const char *hash, const char *rv, int gen, const char *app)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:i, s:{s:s}, s:{s:s}}}", "apiVersion", "apps/v1",
			 "kind", "Deployment", "metadata", "name", "web", "namespace", "app", "resourceVersion", rv,
			 "generation", gen, "labels", "app", app, "annotations", KF_ANN_HASH, hash);
}

static void test_kube_unchanged__hash_and_version_decide(void **state)
{
	struct kf_objset set = KF_OBJSET_INIT;
	const struct kf_obj *o;
	json_t *l;
	char hash0[65];

	make_obj(&set);
	o = &set.v[0];
	/* The hash ignores the hash annotation itself. */
	memcpy(hash0, o->hash, sizeof(hash0));
	kf_obj_hash(&set.v[0]);
	assert_string_equal(hash0, o->hash);

	l = live_of(o->hash, "10", 1, "web");
	assert_true(kf_obj_unchanged(o, l, "10", 1, NULL));   /* same rv */
	assert_true(kf_obj_unchanged(o, l, "9", 1, NULL));    /* status-only change: same generation */
	assert_false(kf_obj_unchanged(o, l, "9", 0, NULL));   /* no generation recorded */
	assert_false(kf_obj_unchanged(o, l, NULL, 2, NULL));  /* spec changed by someone */
	/* A controller's own annotation changed the fingerprint, not the spec. */
	assert_true(kf_obj_unchanged(o, l, "9", 1, "00000000000000000000000000000000"));
	json_decref(l);
	l = live_of(o->hash, "11", 1, "changed");
	assert_false(kf_obj_unchanged(o, l, "10", 1, NULL));  /* label drift */
	json_decref(l);
	l = live_of("other", "10", 1, "web");
	assert_false(kf_obj_unchanged(o, l, "10", 1, NULL));  /* desired content changed */
	json_decref(l);
	kf_objset_release(&set);
}

static void test_kube_unchanged__status_writes_do_not_count(void **state)
{
	struct kf_objset set = KF_OBJSET_INIT;
	const struct kf_obj *o;
	json_t *l, *mf;
	char fp0[33], fp1[33];

	make_obj(&set);
	o = &set.v[0];
	l = live_of(o->hash, "10", 0, "web");
	mf = json_pack("[{s:s, s:s, s:s}]", "manager", "kfboot", "operation", "Apply", "time", "t1");
	json_object_set_new(json_object_get(l, "metadata"), "managedFields", mf);
	kf_obj_fields_fp(l, fp0);
	/* A controller writes status: new rv, same fingerprint. */
	json_array_append_new(mf, json_pack("{s:s, s:s, s:s, s:s}", "manager", "kcm", "operation", "Update",
					    "subresource", "status", "time", "t2"));
	json_object_set_new(json_object_get(l, "metadata"), "resourceVersion", json_string("11"));
	kf_obj_fields_fp(l, fp1);
	assert_string_equal(fp0, fp1);
	assert_true(kf_obj_unchanged(o, l, "10", 0, fp0));
	/* Someone edits the spec: a new non-status entry. */
	json_array_append_new(mf, json_pack("{s:s, s:s, s:s}", "manager", "kubectl-edit", "operation", "Update", "time", "t3"));
	json_object_set_new(json_object_get(l, "metadata"), "resourceVersion", json_string("12"));
	assert_false(kf_obj_unchanged(o, l, "10", 0, fp0));
	json_decref(l);
	kf_objset_release(&set);
}

/* A trimmed listed object carries its fingerprint instead of managedFields. */
static void test_kube_unchanged__precomputed_fingerprint(void **state)
{
	struct kf_objset set = KF_OBJSET_INIT;
	const struct kf_obj *o;
	json_t *l, *mf;
	char fp0[33], fp1[33];

	(void)state;
	make_obj(&set);
	o = &set.v[0];
	l = live_of(o->hash, "11", 0, "web");
	mf = json_pack("[{s:s, s:s, s:s}]", "manager", "kfboot", "operation", "Apply", "time", "t1");
	json_object_set_new(json_object_get(l, "metadata"), "managedFields", mf);
	kf_obj_fields_fp(l, fp0);
	json_object_del(json_object_get(l, "metadata"), "managedFields");
	json_object_set_new(l, KF_LIVE_FIELDS_FP, json_string(fp0));
	kf_obj_fields_fp(l, fp1);
	assert_string_equal(fp0, fp1);
	assert_true(kf_obj_unchanged(o, l, "10", 0, fp0));
	json_object_set_new(l, KF_LIVE_FIELDS_FP, json_string("0123456789abcdef0123456789abcdef"));
	assert_false(kf_obj_unchanged(o, l, "10", 0, fp0));
	json_decref(l);
	kf_objset_release(&set);
}

/* ---- LIST responses, item by item ------------------------------------- */

struct scan_seen {
	json_t *names;
	int stop_at;
};

static int scan_collect(void *ctx, json_t *item)
{
	struct scan_seen *s = ctx;
	const char *n = json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));

	json_array_append_new(s->names, json_string(n ? n : "?"));
	return s->stop_at && (int)json_array_size(s->names) == s->stop_at ? 7 : 0;
}

static void test_kube_list_scan__items_one_by_one(void **state)
{
	const char *body = " {\"kind\":\"DeploymentList\",\"apiVersion\":\"apps/v1\",\n"
			   "  \"items\": [ {\"metadata\":{\"name\":\"a\",\"annotations\":{\"x\":\"]}\\\"{[\"}}},"
			   "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"v\":[1,2.5e3,true,null,{\"k\":[]}]}} ],"
			   "\"extra\":{\"nested\":[\"}\",{\"a\":\"\\\\\"}]},"
			   "\"metadata\":{\"resourceVersion\":\"42\",\"continue\":\"tok\"} }\n";
	struct scan_seen s = { json_array(), 0 };
	json_t *meta = NULL;

	(void)state;
	assert_int_equal(kf_list_scan(body, strlen(body), scan_collect, &s, &meta), 0);
	assert_int_equal(json_array_size(s.names), 2);
	assert_string_equal(json_string_value(json_array_get(s.names, 0)), "a");
	assert_string_equal(json_string_value(json_array_get(s.names, 1)), "b");
	assert_non_null(meta);
	assert_string_equal(json_string_value(json_object_get(meta, "continue")), "tok");
	json_decref(meta);
	/* The callback's nonzero result stops the scan and is returned. */
	json_array_clear(s.names);
	s.stop_at = 1;
	assert_int_equal(kf_list_scan(body, strlen(body), scan_collect, &s, &meta), 7);
	assert_int_equal(json_array_size(s.names), 1);
	assert_null(meta);
	s.stop_at = 0;
	/* Empty and null item lists; no metadata. */
	json_array_clear(s.names);
	assert_int_equal(kf_list_scan("{\"items\":[]}", 12, scan_collect, &s, &meta), 0);
	assert_null(meta);
	assert_int_equal(kf_list_scan("{\"items\":null,\"metadata\":{}}", 28, scan_collect, &s, NULL), 0);
	assert_int_equal(kf_list_scan("{}", 2, scan_collect, &s, &meta), 0);
	assert_int_equal(json_array_size(s.names), 0);
	json_decref(s.names);
}

static void test_kube_list_scan__malformed_refused(void **state)
{
	static const char *const bad[] = {
		"", "[]", "null", "{", "{\"items\":[{\"a\":1}", "{\"items\":[{\"a\":1},]}",
		"{\"items\":[{\"a\":tru}]}", "{\"items\":[{\"a\":1]}]}", "{\"items\":{}}",
		"{\"metadata\":{\"a\":}}", "{\"x\":\"unterminated}", "{\"items\":[]} trailing",
		"{\"items\":[] \"metadata\":{}}", "{\"x\" 1}",
	};
	struct scan_seen s = { json_array(), 0 };
	json_t *meta = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kf_list_scan(bad[i], strlen(bad[i]), scan_collect, &s, &meta), -1);
		assert_null(meta);
	}
	json_decref(s.names);
}

/* ---- health --------------------------------------------------------- */

static void test_kube_health__rules_by_kind(void **state)
{
	const char *why;
	json_t *d = json_loads("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"generation\":2},"
			       "\"spec\":{\"replicas\":2},\"status\":{\"observedGeneration\":1,\"updatedReplicas\":2,"
			       "\"availableReplicas\":2}}", 0, NULL);
	json_t *j = json_loads("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"status\":{\"conditions\":"
			       "[{\"type\":\"Failed\",\"status\":\"True\"}]}}", 0, NULL);
	json_t *c = json_loads("{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
			       "\"status\":{\"conditions\":[{\"type\":\"Established\",\"status\":\"True\"}]}}", 0, NULL);
	json_t *cr = json_loads("{\"apiVersion\":\"x.io/v1\",\"kind\":\"Thing\",\"metadata\":{\"generation\":1},"
				"\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}", 0, NULL);
	json_t *cm = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}", 0, NULL);

	assert_int_equal(kf_health_of(d, &why), KF_HEALTH_PROGRESSING);
	assert_string_equal(why, "controller has not seen the new spec");
	json_object_set_new(json_object_get(d, "status"), "observedGeneration", json_integer(2));
	assert_int_equal(kf_health_of(d, &why), KF_HEALTH_READY);
	json_object_set_new(json_object_get(d, "status"), "availableReplicas", json_integer(1));
	assert_int_equal(kf_health_of(d, &why), KF_HEALTH_PROGRESSING);
	assert_int_equal(kf_health_of(j, &why), KF_HEALTH_FAILED);
	assert_int_equal(kf_health_of(c, &why), KF_HEALTH_READY);
	assert_int_equal(kf_health_of(cr, &why), KF_HEALTH_PROGRESSING);
	assert_int_equal(kf_health_of(cm, &why), KF_HEALTH_READY);
	json_decref(d);
	json_decref(j);
	json_decref(c);
	json_decref(cr);
	json_decref(cm);
}

static void test_kube_rest__paths(void **state)
{
	struct kf_rest core = { "", "v1", "ConfigMap", "configmaps", true };
	struct kf_rest crd = { "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false };
	char *p;

	p = kf_rest_path(&core, "ns", "a");
	assert_string_equal(p, "/api/v1/namespaces/ns/configmaps/a");
	free(p);
	p = kf_rest_path(&core, NULL, NULL);
	assert_string_equal(p, "/api/v1/configmaps");
	free(p);
	p = kf_rest_path(&crd, "ignored", "x.y");
	assert_string_equal(p, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.y");
	free(p);
}

/* The discovery cache: written 0600 with nothing but the mapping and the
 * server's URL, read back only for the same server and within its age, and
 * marked cached so that the engine refreshes it before writing. */
static void test_kube_discovery__disk_cache(void **state)
{
	char dir[] = "/tmp/kf-disc-XXXXXX";
	struct kf_kube_config cfg = { 0 };
	struct kf_discovery *d = kf_discovery_new(), *e = kf_discovery_new();
	struct kf_err *err = NULL;
	const struct kf_rest *r;
	const char *damaged = "{\"version\":1,\"server\":\"https://10.0.0.1:6443\",\"resources\":[[\"\",\"v1\"]]}";
	char *path, *path2, *text = NULL, *cmd;
	struct stat st;
	size_t len = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("XDG_CACHE_HOME", dir, 1);
	unsetenv("KFBOOT_NO_CACHE");
	cfg.server = "https://10.0.0.1:6443";
	cfg.ca = "CA-PEM";
	cfg.ca_len = 6;
	cfg.token = "s3cret-token";
	path = kf_discovery_cache_path(&cfg);
	assert_non_null(path);
	assert_true(kf_str_startswith(path, dir));
	cfg.ca = "OTHER-CA";
	cfg.ca_len = 8;
	path2 = kf_discovery_cache_path(&cfg);
	assert_string_not_equal(path, path2); /* a recreated cluster: another file */
	setenv("KFBOOT_NO_CACHE", "1", 1);
	assert_null(kf_discovery_cache_path(&cfg));
	unsetenv("KFBOOT_NO_CACHE");

	kf_discovery_add(d, "", "v1", "ConfigMap", "configmaps", true);
	kf_discovery_add(d, "kubeflow.org", "v1", "Profile", "profiles", false);
	assert_int_equal(kf_discovery_cache_save(d, path, cfg.server, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(kf_file_read(path, &text, &len, NULL), 0);
	assert_null(strstr(text, "s3cret")); /* no credentials */
	assert_null(strstr(text, "CA-PEM"));

	/* Another server's file, or too old: not used. */
	assert_int_equal(kf_discovery_cache_load(e, path, "https://10.0.0.2:6443", 0), -1);
	assert_int_equal(kf_discovery_count(e), 0);
	assert_false(kf_discovery_cached(e));
	utime(path, &(struct utimbuf){ .actime = time(NULL) - 7 * 3600, .modtime = time(NULL) - 7 * 3600 });
	assert_int_equal(kf_discovery_cache_load(e, path, cfg.server, 6 * 3600), -1);
	assert_int_equal(kf_discovery_cache_load(e, path, cfg.server, 0), 0);
	assert_true(kf_discovery_cached(e));
	assert_int_equal(kf_discovery_count(e), 2);
	r = kf_discovery_find(e, "kubeflow.org", "v1", "Profile");
	assert_non_null(r);
	assert_string_equal(r->resource, "profiles");
	assert_false(r->namespaced);
	assert_true(kf_discovery_find(e, "", "v1", "ConfigMap")->namespaced);
	kf_discovery_free(e);

	/* A damaged file is ignored. */
	assert_int_equal(kf_file_write_atomic(path, damaged, strlen(damaged), 0600, NULL), 0);
	e = kf_discovery_new();
	assert_int_equal(kf_discovery_cache_load(e, path, cfg.server, 0), -1);
	assert_int_equal(kf_discovery_count(e), 0);

	kf_discovery_free(e);
	kf_discovery_free(d);
	free(text);
	free(path);
	free(path2);
	cmd = kf_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	unsetenv("XDG_CACHE_HOME");
}

/* The hash is SHA-256 of exactly what json_dumps(sorted, compact) writes
 * (hashes recorded on live objects by earlier versions stay valid). */
static void test_kube_hash__canonical_form_matches_jansson(void **state)
{
	static const char *const docs[] = {
		"{\"z\":1,\"a\":{\"y\":[3,-2,{\"b\":null,\"a\":true}],\"x\":false},\"m\":[],\"e\":{}}",
		"{\"s\":\"q\\\"b\\\\s/\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f caf\\u00e9 \\u2028 \\ud83d\\ude00\"}",
		"{\"r\":[1.5,1e100,-0.25,3.0],\"i\":9223372036854775807,\"n\":-9223372036854775807}",
		"{\"k\\\"ey\\n\":\"v\",\"K\":\"\",\"\":\"empty key\",\"\\u00e9\":1,\"e\":2}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct kf_obj o = { 0 };
		json_error_t je;
		char want[65], *s;

		o.obj = json_loads(docs[i], 0, &je);
		if (!o.obj)
			fail_msg("doc %zu: %s", i, je.text);
		s = json_dumps(o.obj, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
		kf_sha256_hex(s, strlen(s), want);
		kf_obj_hash(&o);
		if (strcmp(want, o.hash))
			fail_msg("doc %zu: canonical form differs from %s", i, s);
		free(s);
		json_decref(o.obj);
	}
}

/* ---- kubeconfig fields, types and URLs (issue 9) --------------------- */

static int load_text(const char *text, struct kf_kube_config **c, char **msg)
{
	char path[] = "/tmp/test-kube-kc-XXXXXX";
	int fd = mkstemp(path);
	struct kf_kubeconfig_opts o = { path, NULL, NULL };
	struct kf_err *err = NULL;
	int rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	*c = NULL;
	rc = kf_kube_config_load(c, &o, &err);
	*msg = err ? kf_err_str(err) : NULL;
	kf_err_free(err);
	unlink(path);
	return rc;
}

#define KC_HEAD "apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts:\n- {name: x, context: {cluster: c, user: u}}\n"

static void test_kube_config__wrong_types_and_urls_refused(void **state)
{
	struct kf_kube_config *c;
	char *msg;

	(void)state;
	/* A token YAML reads as a number: refused with its position. */
	assert_int_equal(load_text(KC_HEAD "clusters:\n- {name: c, cluster: {server: 'https://h:1'}}\n"
				   "users:\n- name: u\n  user:\n    token: 123456789\n", &c, &msg), KF_EINVAL);
	assert_non_null(strstr(msg, ":11:12: 'token' of user 'u' must be a string, not a number (quote it)"));
	free(msg);
	/* Credentials in the server URL: refused, never echoed. */
	assert_int_equal(load_text(KC_HEAD "clusters:\n- {name: c, cluster: {server: 'https://adm:s3cr3t-pw@h:1'}}\n"
				   "users:\n- {name: u, user: {token: abcdefgh}}\n", &c, &msg), KF_EINVAL);
	assert_non_null(strstr(msg, "has credentials in its URL"));
	assert_null(strstr(msg, "s3cr3t-pw"));
	free(msg);
	/* insecure-skip-tls-verify with a CA: refused, as kubectl does. */
	assert_int_equal(load_text(KC_HEAD "clusters:\n- {name: c, cluster: {server: 'https://h:1', insecure-skip-tls-verify: true, "
				   "certificate-authority-data: Zm9vYmFy}}\nusers:\n- {name: u, user: {token: abcdefgh}}\n", &c, &msg), KF_EINVAL);
	assert_non_null(strstr(msg, "insecure-skip-tls-verify together with a certificate authority"));
	free(msg);
	/* Query and fragment are not part of the base URL; the prefix is. */
	assert_int_equal(load_text(KC_HEAD "clusters:\n- {name: c, cluster: {server: 'https://h:1/k8s/c-1/?a=b#f'}}\n"
				   "users:\n- {name: u, user: {token: abcdefgh}}\n", &c, &msg), 0);
	assert_string_equal(c->server, "https://h:1/k8s/c-1");
	kf_kube_config_free(c);
	free(msg);
}

static void test_kube_config__impersonation_proxy_exec(void **state)
{
	struct kf_kube_config *c;
	char *msg;

	(void)state;
	assert_int_equal(load_text(KC_HEAD "clusters:\n- {name: c, cluster: {server: 'https://h:1', proxy-url: 'socks5://p:1080'}}\n"
				   "users:\n- name: u\n  user:\n    as: jane\n    as-uid: '7'\n    as-groups: [a, b]\n"
				   "    as-user-extra: {k: [v1, v2]}\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
				   "      command: bin/tok\n      args: [x]\n      interactiveMode: Never\n", &c, &msg), 0);
	assert_string_equal(c->as_user, "jane");
	assert_string_equal(c->as_uid, "7");
	assert_string_equal(c->as_groups[1], "b");
	assert_string_equal(c->as_extra[1], "k=v2");
	assert_string_equal(c->proxy_url, "socks5://p:1080");
	assert_non_null(c->exec);
	assert_true(kf_str_endswith(c->exec->command, "/bin/tok") && c->exec->command[0] == '/');
	assert_string_equal(c->exec->args[0], "x");
	kf_kube_config_free(c);
	/* v1 without interactiveMode, and v1alpha1, are refused naming the user. */
	assert_int_equal(load_text(KC_HEAD "clusters:\n- {name: c, cluster: {server: 'https://h:1'}}\n"
				   "users:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: t}\n",
				   &c, &msg), KF_EINVAL);
	assert_non_null(strstr(msg, "exec plugin of user 'u': apiVersion 'client.authentication.k8s.io/v1alpha1' is not supported"));
	free(msg);
	assert_int_equal(load_text(KC_HEAD "clusters:\n- {name: c, cluster: {server: 'https://h:1'}}\n"
				   "users:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1, command: t}\n",
				   &c, &msg), KF_EINVAL);
	assert_non_null(strstr(msg, "interactiveMode must be set"));
	free(msg);
}

static void test_kube_url__redact_userinfo(void **state)
{
	char *s;

	(void)state;
	s = kf_url_redact("http://user:pw@proxy:3128/x?y=z@w");
	assert_string_equal(s, "http://***@proxy:3128/x?y=z@w");
	free(s);
	s = kf_url_redact("https://h:6443/p");
	assert_string_equal(s, "https://h:6443/p");
	free(s);
	assert_true(kf_url_has_userinfo("https://a@b"));
	assert_false(kf_url_has_userinfo("https://b/a@c"));
}

static void test_kube_client__invalid_request_is_final(void **state)
{
	struct kf_kube_req r;
	const char *bad = "{\"kind\":\"Status\",\"code\":500,\"reason\":\"InternalError\",\"message\":"
			  "\"failed to create typed patch object (x): .data.y: field not declared in schema\"}";
	const char *busy = "{\"kind\":\"Status\",\"code\":500,\"reason\":\"InternalError\",\"message\":\"etcdserver: request timed out\"}";

	(void)state;
	kf_kube_req_init(&r, "PATCH", kf_xstrdup("/x"));
	r.status = 500;
	kf_buf_add(&r.resp, bad, strlen(bad));
	assert_true(kf_kube_req_invalid(&r));
	kf_buf_release(&r.resp);
	kf_buf_add(&r.resp, busy, strlen(busy));
	assert_false(kf_kube_req_invalid(&r));
	kf_kube_req_release(&r);
}

static void test_kube_health__crd_names_not_accepted(void **state)
{
	json_t *crd = json_loads("{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
				 "\"metadata\":{\"name\":\"a.b\"},\"status\":{\"conditions\":[{\"type\":\"NamesAccepted\","
				 "\"status\":\"False\",\"reason\":\"ListKindConflict\",\"message\":\"in use\"}]}}", 0, NULL);
	const char *why = NULL;

	(void)state;
	assert_int_equal(kf_health_of(crd, &why), KF_HEALTH_FAILED);
	assert_string_equal(json_string_value(json_object_get(kf_health_condition(crd, "NamesAccepted"), "reason")),
			    "ListKindConflict");
	assert_null(kf_health_condition(crd, "Established"));
	json_decref(crd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kube_config__merge_first_file_wins),
		cmocka_unit_test(test_kube_config__current_context_from_first_file_setting_it),
		cmocka_unit_test(test_kube_config__context_flag_across_files),
		cmocka_unit_test(test_kube_config__explicit_file_is_not_merged),
		cmocka_unit_test(test_kube_config__missing_cluster_names_position),
		cmocka_unit_test(test_kube_config__in_cluster_service_account),
		cmocka_unit_test(test_kube_client__retries_429_then_succeeds),
		cmocka_unit_test(test_kube_client__throttling_bounded_by_window),
		cmocka_unit_test(test_kube_client__caps_response_size),
		cmocka_unit_test(test_kube_client__many_requests_in_parallel),
		cmocka_unit_test(test_kube_order__prereqs_first_webhooks_last_waves_win),
		cmocka_unit_test(test_kube_validate__every_problem_with_position),
		cmocka_unit_test(test_kube_validate__bad_yaml_and_duplicates),
		cmocka_unit_test(test_kube_validate__duplicates_among_many),
		cmocka_unit_test(test_kube_diff__secrets_masked_like_kubectl),
		cmocka_unit_test(test_kube_applyset__id_matches_kubectl),
		cmocka_unit_test(test_kube_applyset__group_kinds_sorted_unique),
		cmocka_unit_test(test_kube_selector__checks_label_syntax),
		cmocka_unit_test(test_kube_base64__roundtrip_and_url_form),
		cmocka_unit_test(test_kube_diff__normalize_strips_server_fields),
		cmocka_unit_test(test_kube_diff__unified_output),
		cmocka_unit_test(test_kube_unchanged__hash_and_version_decide),
		cmocka_unit_test(test_kube_unchanged__status_writes_do_not_count),
		cmocka_unit_test(test_kube_health__rules_by_kind),
		cmocka_unit_test(test_kube_rest__paths),
		cmocka_unit_test(test_kube_discovery__disk_cache),
		cmocka_unit_test(test_kube_hash__canonical_form_matches_jansson),
		cmocka_unit_test(test_kube_config__wrong_types_and_urls_refused),
		cmocka_unit_test(test_kube_config__impersonation_proxy_exec),
		cmocka_unit_test(test_kube_url__redact_userinfo),
		cmocka_unit_test(test_kube_client__invalid_request_is_final),
		cmocka_unit_test(test_kube_health__crd_names_not_accepted),
		cmocka_unit_test(test_kube_unchanged__precomputed_fingerprint),
		cmocka_unit_test(test_kube_list_scan__items_one_by_one),
		cmocka_unit_test(test_kube_list_scan__malformed_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
