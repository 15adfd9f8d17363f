/*
 * test_kfp.c - unit tests for src/kfp: the `pipelines:` section parser
 * (defaults, every error with file:line:col), pipeline package checks,
 * parameter expansion, filter encoding (the server unescapes twice), run
 * names, the recurring-run body (int64 as strings, no_catchup), the metrics
 * observer, and the client's handling of a server that is not there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "kfp/client.h"
#include "kfp/recurring.h"
#include "kfp/trigger.h"
#include "yaml/yaml.h"

static const char good_pkg[] =
	"components:\n"
	"  comp-train:\n"
	"    executorLabel: exec-train\n"
	"    inputDefinitions:\n"
	"      parameters:\n"
	"        epochs: {parameterType: NUMBER_INTEGER}\n"
	"deploymentSpec:\n"
	"  executors:\n"
	"    exec-train: {container: {image: x, command: [python], args: [train.py]}}\n"
	"pipelineInfo: {name: xor}\n"
	"root:\n"
	"  dag:\n"
	"    tasks:\n"
	"      train:\n"
	"        componentRef: {name: comp-train}\n"
	"        inputs:\n"
	"          parameters:\n"
	"            epochs: {componentInputParameter: epochs}\n"
	"  inputDefinitions:\n"
	"    parameters:\n"
	"      epochs: {parameterType: NUMBER_INTEGER}\n"
	"schemaVersion: 2.1.0\n";

static char *diags_join(struct kf_diags *d)
{
	struct kf_buf b = KF_BUF_INIT;

	kf_diags_sort(d);
	for (size_t i = 0; i < d->n; i++) {
		char *s = kf_diag_str(&d->v[i]);

		kf_buf_addf(&b, "%s\n", s);
		free(s);
	}
	return kf_buf_detach(&b, NULL);
}

static int parse_yaml(const char *text, struct kf_kfp_pipelines *ps, char **msgs)
{
	struct kf_yaml_docs *docs = NULL;
	struct kf_diags d = KF_DIAGS_INIT;
	int rc;

	assert_int_equal(kf_yaml_load_buf(&docs, "kfboot.yaml", text, strlen(text), NULL, NULL), 0);
	rc = kf_kfp_pipelines_parse(ps, json_object_get(kf_yaml_doc(docs, 0), "pipelines"), docs, "kfboot.yaml", &d);
	*msgs = diags_join(&d);
	kf_diags_release(&d);
	kf_yaml_free(docs);
	return rc;
}

static void test_kfp_pipelines__defaults(void **state)
{
	struct kf_kfp_pipelines ps;
	char *m;

	assert_int_equal(parse_yaml("pipelines:\n"
				    "  - name: xor\n"
				    "    package: pipelines/xor/pipeline.yaml\n"
				    "    environments: [dev, staging]\n"
				    "    parameters: {epochs: 10}\n", &ps, &m), 0);
	assert_string_equal(m, "");
	assert_int_equal(ps.n, 1);
	assert_string_equal(ps.v[0].experiment, "xor");
	assert_int_equal(ps.v[0].nwatch, 1);
	assert_string_equal(ps.v[0].watch[0], "pipelines/xor/**");
	assert_int_equal(ps.v[0].concurrency, KF_KFP_SKIP);
	assert_int_equal(ps.v[0].nenvs, 2);
	assert_false(ps.v[0].schedule.set);
	assert_non_null(kf_kfp_pipelines_find(&ps, "xor"));
	assert_null(kf_kfp_pipelines_find(&ps, "nope"));
	free(m);
	kf_kfp_pipelines_release(&ps);
}

static void test_kfp_pipelines__errors_have_positions(void **state)
{
	struct kf_kfp_pipelines ps;
	char *m;

	assert_int_equal(parse_yaml("pipelines:\n"
				    "  - name: xor\n"
				    "    packge: p.yaml\n"
				    "    environments: []\n"
				    "    concurrency: sometimes\n"
				    "    schedule: {cron: \"0 2 * * *\", maxConcurrency: 11}\n", &ps, &m), KF_EINVAL);
	assert_non_null(strstr(m, "kfboot.yaml:3:5: pipelines: unknown field 'packge' (did you mean 'package'?)"));
	assert_non_null(strstr(m, "package is required"));
	assert_non_null(strstr(m, "kfboot.yaml:4:5: pipeline 'xor': environments must list"));
	assert_non_null(strstr(m, "kfboot.yaml:5:5: pipelines: concurrency 'sometimes'"));
	assert_non_null(strstr(m, "must have 6 fields"));
	assert_non_null(strstr(m, "maxConcurrency: must be 1 to 10"));
	free(m);
	kf_kfp_pipelines_release(&ps);
}

static void test_kfp_pipelines__schedule(void **state)
{
	struct kf_kfp_pipelines ps;
	char *m;

	assert_int_equal(parse_yaml("pipelines:\n"
				    "  - name: a\n"
				    "    package: a.yaml\n"
				    "    environments: [dev]\n"
				    "    concurrency: queue\n"
				    "    schedule: {interval: 6h, catchup: true, enabled: false}\n", &ps, &m), 0);
	assert_true(ps.v[0].schedule.set);
	assert_null(ps.v[0].schedule.cron);
	assert_true(ps.v[0].schedule.interval == 6 * 3600);
	assert_true(ps.v[0].schedule.catchup);
	assert_false(ps.v[0].schedule.enabled);
	assert_int_equal(ps.v[0].schedule.max_concurrency, 1);
	assert_int_equal(ps.v[0].concurrency, KF_KFP_QUEUE);
	free(m);
	kf_kfp_pipelines_release(&ps);
}

static void test_kfp_package__good(void **state)
{
	struct kf_diags d = KF_DIAGS_INIT;

	assert_int_equal(kf_kfp_package_check("p.yaml", good_pkg, strlen(good_pkg), &d), 0);
	assert_int_equal(d.n, 0);
	kf_diags_release(&d);
}

static void check_broken(const char *from, const char *to, const char *want)
{
	struct kf_diags d = KF_DIAGS_INIT;
	char *pkg = kf_xstrdup(good_pkg), *p = strstr(pkg, from), *m;
	struct kf_buf b = KF_BUF_INIT;

	assert_non_null(p);
	kf_buf_add(&b, pkg, (size_t)(p - pkg));
	kf_buf_adds(&b, to);
	kf_buf_adds(&b, p + strlen(from));
	assert_int_equal(kf_kfp_package_check("p.yaml", b.buf, b.len, &d), KF_EINVAL);
	m = diags_join(&d);
	if (!strstr(m, want))
		fail_msg("wanted '%s' in '%s'", want, m);
	free(m);
	free(pkg);
	kf_buf_release(&b);
	kf_diags_release(&d);
}

static void test_kfp_package__broken(void **state)
{
	/* the checks are src/kfp/ir.c's (shared with `kfboot pipeline`) */
	check_broken("componentRef: {name: comp-train}", "componentRef: {name: comp-trian}",
		     "p.yaml:15:24: task 'train': component 'comp-trian' does not exist");
	check_broken("executorLabel: exec-train", "executorLabel: exec-tran",
		     "p.yaml:3:5: component 'comp-train': executor 'exec-tran' does not exist");
	check_broken("            epochs: {componentInputParameter", "            epoch: {componentInputParameter",
		     "p.yaml:18:13: task 'train': component 'comp-train' declares no input parameter 'epoch'");
	check_broken("pipelineInfo: {name: xor}", "pipelineInfo: {}", "p.yaml:10:15: pipelineInfo: missing 'name'");
	check_broken("schemaVersion: 2.1.0\n", "", "missing 'schemaVersion'");
	check_broken("root:\n", "rot:\n", "missing 'root'");
	check_broken("components:\n", "components: [\n", "p.yaml:3:18: ");
}

static void test_kfp_params__expand(void **state)
{
	json_t *in = json_pack("{s:s,s:s,s:i,s:b}", "c", "${GIT_COMMIT}", "t", "${ENV}-${GIT_SHORT_COMMIT}-x",
			       "n", 5, "b", 1);
	json_t *out = kf_kfp_params_expand(in, "0123456789abcdef0123456789abcdef01234567", "dev");

	assert_string_equal(json_string_value(json_object_get(out, "c")), "0123456789abcdef0123456789abcdef01234567");
	assert_string_equal(json_string_value(json_object_get(out, "t")), "dev-0123456789ab-x");
	assert_int_equal(json_integer_value(json_object_get(out, "n")), 5);
	assert_true(json_is_true(json_object_get(out, "b")));
	json_decref(in);
	json_decref(out);
}

static void test_kfp_filter__encoding(void **state)
{
	char *f = kf_kfp_filter_eq("display_name", "xor@0123456789ab");

	assert_string_equal(f, "%7B%22predicates%22%3A%5B%7B%22key%22%3A%22display_name%22%2C%22operation%22%3A%22EQUALS%22%2C%22string_value%22%3A%22xor%400123456789ab%22%7D%5D%7D");
	free(f);
	/* '+' and '%' would be changed by the server's second unescape */
	assert_null(kf_kfp_filter_eq("name", "a+b"));
	assert_null(kf_kfp_filter_eq("name", "a%41"));
	assert_null(kf_kfp_filter_eq("name", "a b"));
}

static void test_kfp_commit__is_kfboot(void **state)
{
	(void)state;
	/* what src/models writes: write-back and promotion */
	assert_true(kf_kfp_commit_is_kfboot("register xor v4 from run r; pin in dev\n\nKfboot-Model: xor v4\n"
					    "Kfboot-Source-Commit: 3f2a\nKfboot-Run: r\n"));
	assert_true(kf_kfp_commit_is_kfboot("promote xor v3 to prod (was v2)\n\nKfboot-Promote: xor v3 staging -> prod\n"
					    "Kfboot-Gates: test_accuracy 0.991 >= 0.97\nKfboot-Forced: yes\n"));
	/* trailing blank lines, CRLF */
	assert_true(kf_kfp_commit_is_kfboot("register\r\n\r\nKfboot-Model: xor v1\r\n\n\n"));
	/* a person's commits: no body, a subject, a middle paragraph, not at
	 * the start of a line, another trailer */
	assert_false(kf_kfp_commit_is_kfboot("Kfboot-Model: xor v9\n"));
	assert_false(kf_kfp_commit_is_kfboot("fix\n\nKfboot-Model: xor v9 in a middle paragraph\n\nSigned-off-by: A <a@b>\n"));
	assert_false(kf_kfp_commit_is_kfboot("fix\n\nsee Kfboot-Model: xor\n"));
	assert_false(kf_kfp_commit_is_kfboot("fix\n\nKfboot-Model:xor\n"));
	assert_false(kf_kfp_commit_is_kfboot("train a better xor\n"));
	assert_false(kf_kfp_commit_is_kfboot(""));
	assert_false(kf_kfp_commit_is_kfboot(NULL));
}

static void test_kfp_names__run_name(void **state)
{
	char *n = kf_kfp_run_name("xor", "3f2a9c1d0e4b5a6978800112233445566778899a");

	assert_string_equal(n, "xor@3f2a9c1d0e4b");
	free(n);
	assert_true(kf_kfp_state_terminal("SUCCEEDED"));
	assert_true(kf_kfp_state_terminal("CANCELED"));
	assert_false(kf_kfp_state_terminal("RUNNING"));
	assert_false(kf_kfp_state_terminal("CANCELING"));
	assert_false(kf_kfp_state_terminal(NULL));
}

static void test_kfp_recurring__body(void **state)
{
	struct kf_kfp_pipeline p = { 0 };
	json_t *b;

	p.name = "xor";
	p.parameters = json_pack("{s:s}", "env", "${ENV}");
	p.schedule.set = true;
	p.schedule.cron = "0 0 2 * * *";
	p.schedule.max_concurrency = 3;
	p.schedule.enabled = true;
	b = kf_kfp_recurring_body(&p, "dev", "E", "P", NULL);
	assert_string_equal(json_string_value(json_object_get(b, "max_concurrency")), "3");
	assert_true(json_is_true(json_object_get(b, "no_catchup")));
	assert_string_equal(json_string_value(json_object_get(b, "mode")), "ENABLE");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(b, "trigger"), "cron_schedule"), "cron")),
			    "0 0 2 * * *");
	assert_null(json_object_get(json_object_get(b, "pipeline_version_reference"), "pipeline_version_id"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(b, "runtime_config"), "parameters"), "env")),
			    "dev");
	json_decref(b);
	p.schedule.cron = NULL;
	p.schedule.interval = 21600;
	p.schedule.catchup = true;
	p.schedule.enabled = false;
	b = kf_kfp_recurring_body(&p, "dev", "E", "P", "V");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(b, "trigger"), "periodic_schedule"), "interval_second")),
			    "21600");
	assert_true(json_is_false(json_object_get(b, "no_catchup")));
	assert_string_equal(json_string_value(json_object_get(b, "mode")), "DISABLE");
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "pipeline_version_reference"), "pipeline_version_id")), "V");
	json_decref(b);
	json_decref(p.parameters);
}

static void test_kfp_metrics__observer(void **state)
{
	struct kf_metrics *m;
	struct kf_kfp_metrics km;
	struct kf_kfp_observer obs;
	struct kf_buf b = KF_BUF_INIT;
	const char *created[] = { "xor", "dev", "created" }, *ok[] = { "xor", "dev", "SUCCEEDED" };

	kf_metrics_new(&m);
	assert_int_equal(kf_kfp_metrics_register(m, &km, &obs, NULL), 0);
	obs.run_created(obs.ctx, "xor", "dev", 0.3);
	obs.run_created(obs.ctx, "xor", "dev", -1);
	obs.run_state(obs.ctx, "xor", "dev", "SUCCEEDED");
	assert_true(kf_metric_get(km.runs, created) == 2);
	assert_true(kf_metric_get(km.runs, ok) == 1);
	assert_true(kf_metric_get(km.latency, created) == 1);
	kf_metrics_render(m, &b);
	assert_non_null(strstr(b.buf, "kfboot_kfp_push_to_run_seconds_bucket{pipeline=\"xor\",env=\"dev\",le=\"0.5\"} 1"));
	kf_buf_release(&b);
	kf_metrics_free(m);
}

static void test_kfp_client__unreachable_and_bad_endpoint(void **state)
{
	struct kf_kfp_opts o = { 0 };
	struct kf_kfp *c = NULL;
	struct kf_err *err = NULL;
	json_t *out = NULL;
	long status = -1;

	o.endpoint = "ftp://x";
	assert_int_equal(kf_kfp_new(&c, &o, &err), KF_EINVAL);
	kf_err_clear(&err);
	o.endpoint = "http://127.0.0.1:1/";
	o.max_attempts = 2;
	o.retry_base = 0.01;
	o.timeout = 2;
	assert_int_equal(kf_kfp_new(&c, &o, &err), 0);
	assert_string_equal(kf_kfp_endpoint(c), "http://127.0.0.1:1");
	assert_int_equal(kf_kfp_call(c, "GET", "/healthz", NULL, true, &status, &out, &err), KF_EAGAIN);
	assert_int_equal(status, 0);
	assert_int_equal(kf_kfp_get_stats(c)->requests, 2);
	assert_int_equal(kf_kfp_get_stats(c)->retries, 1);
	kf_err_clear(&err);
	/* POST /runs is never repeated */
	{
		json_t *run = json_object();

		assert_int_not_equal(kf_kfp_run_create(c, run, &out, &err), 0);
		assert_null(out);
		json_decref(run);
	}
	assert_int_equal(kf_kfp_get_stats(c)->requests, 3);
	kf_err_clear(&err);
	kf_kfp_free(c);
}

static void test_kfp_client__fail_fast(void **state)
{
	struct kf_kfp_opts o = { 0 };
	struct kf_kfp *c = NULL;
	struct kf_err *err = NULL;
	json_t *out = NULL, *run = json_object();
	long status = -1;

	(void)state;
	o.endpoint = "http://127.0.0.1:1";
	o.max_attempts = 2;
	o.retry_base = 0.01;
	o.timeout = 2;
	o.fail_fast = true;
	assert_int_equal(kf_kfp_new(&c, &o, &err), 0);
	/* a request sent once (POST /runs) that gets no answer does not trip it */
	assert_int_not_equal(kf_kfp_run_create(c, run, &out, &err), 0);
	kf_err_clear(&err);
	assert_null(kf_kfp_down(c));
	assert_int_equal(kf_kfp_get_stats(c)->requests, 1);
	/* a retryable one that used all its attempts does */
	assert_int_equal(kf_kfp_call(c, "GET", "/healthz", NULL, true, &status, &out, &err), KF_EAGAIN);
	kf_err_clear(&err);
	assert_non_null(kf_kfp_down(c));
	assert_int_equal(kf_kfp_get_stats(c)->requests, 3);
	/* then nothing more is sent, and the error says why */
	assert_int_equal(kf_kfp_call(c, "GET", "/experiments", NULL, true, &status, &out, &err), KF_EAGAIN);
	assert_non_null(strstr(err->msg, "did not answer earlier"));
	kf_err_clear(&err);
	assert_int_not_equal(kf_kfp_run_create(c, run, &out, &err), 0);
	kf_err_clear(&err);
	assert_int_equal(kf_kfp_get_stats(c)->requests, 3);
	assert_int_equal(kf_kfp_get_stats(c)->refused, 2);
	assert_int_equal(status, 0);
	json_decref(run);
	kf_kfp_free(c);
}

static void test_kfp_client__token_file_missing(void **state)
{
	struct kf_kfp_opts o = { 0 };
	struct kf_kfp *c = NULL;
	struct kf_err *err = NULL;
	json_t *out = NULL;
	char *s;

	o.endpoint = "http://127.0.0.1:1";
	o.token_file = "/nonexistent/token";
	assert_int_equal(kf_kfp_new(&c, &o, &err), 0);
	assert_int_not_equal(kf_kfp_healthz(c, &out, &err), 0);
	s = kf_err_str(err);
	assert_non_null(strstr(s, "bearer token"));
	free(s);
	kf_err_free(err);
	kf_kfp_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kfp_pipelines__defaults),
		cmocka_unit_test(test_kfp_pipelines__errors_have_positions),
		cmocka_unit_test(test_kfp_pipelines__schedule),
		cmocka_unit_test(test_kfp_package__good),
		cmocka_unit_test(test_kfp_package__broken),
		cmocka_unit_test(test_kfp_params__expand),
		cmocka_unit_test(test_kfp_filter__encoding),
		cmocka_unit_test(test_kfp_names__run_name),
		cmocka_unit_test(test_kfp_commit__is_kfboot),
		cmocka_unit_test(test_kfp_recurring__body),
		cmocka_unit_test(test_kfp_metrics__observer),
		cmocka_unit_test(test_kfp_client__unreachable_and_bad_endpoint),
		cmocka_unit_test(test_kfp_client__fail_fast),
		cmocka_unit_test(test_kfp_client__token_file_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
