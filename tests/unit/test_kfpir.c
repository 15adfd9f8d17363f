/*
 * test_kfpir.c - unit tests for src/kfp/ir.c: KFP v2 pipeline packages
 * that load (the XOR pipeline, the upstream iris example) and what their
 * accessors say, data-driven broken packages each with the exact
 * file:line:col and message expected, and the placeholder scanner. Also
 * the health rule for Katib Experiments (src/kube/health.c), which the
 * XOR study added.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "kfp/ir.h"
#include "kube/kube.h"

static char *src_path(const char *rel)
{
	const char *src = getenv("KF_SOURCE_DIR");

	return kf_xasprintf("%s/%s", src ? src : KF_SOURCE_DIR, rel);
}

static void test_kfpir_load__xor_pipeline(void **state)
{
	char *p = src_path("pipelines/xor/pipeline.yaml");
	struct kf_kfp_ir *ir = NULL;
	struct kf_err *err = NULL;
	const struct kf_kfp_task *t;
	const struct kf_kfp_param *lr;

	(void)state;
	assert_int_equal(kf_kfp_ir_load(&ir, p, &err), 0);
	assert_null(err);
	assert_string_equal(kf_kfp_ir_name(ir), "xor-study");
	assert_string_equal(kf_kfp_ir_schema_version(ir), "2.1.0");
	assert_int_equal(kf_kfp_ir_task_count(ir), 6);
	assert_string_equal(kf_kfp_ir_task(ir, 0)->name, "generate");
	assert_string_equal(kf_kfp_ir_task(ir, 5)->name, "compare");
	t = kf_kfp_ir_task_find(ir, "evaluate");
	assert_non_null(t);
	assert_string_equal(t->component, "comp-evaluate");
	assert_string_equal(t->executor, "exec-evaluate");
	assert_string_equal(t->image, "kfboot-xor:0.1.0");
	assert_int_equal(t->ndeps, 3);
	assert_null(kf_kfp_ir_task_find(ir, "nope"));
	/* every task comes after the tasks it depends on */
	for (size_t i = 0; i < kf_kfp_ir_task_count(ir); i++) {
		const struct kf_kfp_task *ti = kf_kfp_ir_task(ir, i);

		for (size_t d = 0; d < ti->ndeps; d++) {
			bool before = false;

			for (size_t j = 0; j < i; j++)
				before |= !strcmp(kf_kfp_ir_task(ir, j)->name, ti->deps[d]);
			assert_true(before);
		}
	}
	assert_int_equal(kf_kfp_ir_param_count(ir), 7);
	lr = kf_kfp_ir_param_find(ir, "learning_rate");
	assert_non_null(lr);
	assert_string_equal(lr->type, "NUMBER_DOUBLE");
	assert_true(lr->optional);
	assert_true(json_is_number(lr->def)); /* 1.0 loads as 1, as Kubernetes' YAML does */
	assert_null(kf_kfp_ir_param(ir, 7));
	kf_kfp_ir_free(ir);
	free(p);
}

static void test_kfpir_load__upstream_iris(void **state)
{
	char *p = src_path("tests/data/upstream/kfp-api/iris_pipeline_compiled.yaml");
	struct kf_kfp_ir *ir = NULL;
	struct kf_err *err = NULL;

	(void)state;
	assert_int_equal(kf_kfp_ir_load(&ir, p, &err), 0);
	assert_string_equal(kf_kfp_ir_name(ir), "iris-training-pipeline");
	assert_int_equal(kf_kfp_ir_task_count(ir), 3);
	assert_string_equal(kf_kfp_ir_task(ir, 2)->name, "train-model");
	assert_string_equal(kf_kfp_ir_task(ir, 0)->image, "python:3.11");
	kf_kfp_ir_free(ir);
	free(p);
}

static void test_kfpir_load__missing_file(void **state)
{
	struct kf_kfp_ir *ir = NULL;
	struct kf_err *err = NULL;
	char *m;

	(void)state;
	assert_true(kf_kfp_ir_load(&ir, "/nonexistent/p.yaml", &err) < 0);
	assert_null(ir);
	m = kf_err_str(err);
	assert_non_null(strstr(m, "/nonexistent/p.yaml"));
	free(m);
	kf_err_free(err);
}

/* A small valid package; the cases below break one thing each. Lines:
 * 1 schemaVersion, 2 pipelineInfo ... (see the numbers in the cases). */
static const char base[] =
	"schemaVersion: 2.1.0\n"                                   /* 1 */
	"pipelineInfo:\n"                                          /* 2 */
	"  name: p\n"                                              /* 3 */
	"components:\n"                                            /* 4 */
	"  comp-a:\n"                                              /* 5 */
	"    executorLabel: exec-a\n"                              /* 6 */
	"    inputDefinitions:\n"                                  /* 7 */
	"      parameters:\n"                                      /* 8 */
	"        num: {parameterType: NUMBER_INTEGER}\n"             /* 9 */
	"    outputDefinitions:\n"                                 /* 10 */
	"      artifacts:\n"                                       /* 11 */
	"        out: {artifactType: {schemaTitle: system.Dataset}}\n" /* 12 */
	"      parameters:\n"                                      /* 13 */
	"        v: {parameterType: NUMBER_DOUBLE}\n"              /* 14 */
	"  comp-b:\n"                                              /* 15 */
	"    executorLabel: exec-b\n"                              /* 16 */
	"    inputDefinitions:\n"                                  /* 17 */
	"      artifacts:\n"                                       /* 18 */
	"        data: {artifactType: {schemaTitle: system.Dataset}}\n" /* 19 */
	"      parameters:\n"                                      /* 20 */
	"        v: {parameterType: NUMBER_DOUBLE}\n"              /* 21 */
	"deploymentSpec:\n"                                        /* 22 */
	"  executors:\n"                                           /* 23 */
	"    exec-a:\n"                                            /* 24 */
	"      container:\n"                                       /* 25 */
	"        image: img:1\n"                                   /* 26 */
	"        command: [a]\n"                                   /* 27 */
	"        args: [\"{{$.inputs.parameters['num']}}\", \"{{$.outputs.artifacts['out'].path}}\"]\n" /* 28 */
	"    exec-b:\n"                                            /* 29 */
	"      container:\n"                                       /* 30 */
	"        image: img:1\n"                                   /* 31 */
	"        command: [b, \"{{$.inputs.artifacts['data'].path}}\", \"{{$.pipeline_job_uuid}}\"]\n" /* 32 */
	"root:\n"                                                  /* 33 */
	"  dag:\n"                                                 /* 34 */
	"    tasks:\n"                                             /* 35 */
	"      a:\n"                                               /* 36 */
	"        componentRef: {name: comp-a}\n"                   /* 37 */
	"        inputs:\n"                                        /* 38 */
	"          parameters:\n"                                  /* 39 */
	"            num: {componentInputParameter: count}\n"        /* 40 */
	"      b:\n"                                               /* 41 */
	"        componentRef: {name: comp-b}\n"                   /* 42 */
	"        dependentTasks: [a]\n"                            /* 43 */
	"        inputs:\n"                                        /* 44 */
	"          artifacts:\n"                                   /* 45 */
	"            data: {taskOutputArtifact: {producerTask: a, outputArtifactKey: out}}\n" /* 46 */
	"          parameters:\n"                                  /* 47 */
	"            v: {taskOutputParameter: {producerTask: a, outputParameterKey: v}}\n" /* 48 */
	"  inputDefinitions:\n"                                    /* 49 */
	"    parameters:\n"                                        /* 50 */
	"      count: {parameterType: NUMBER_INTEGER, defaultValue: 3}\n"; /* 51 */

struct edit {
	const char *from, *to; /* replace the first `from` in base by `to` */
	const char *want;      /* expected problem (a substring of one line) */
};

static const struct edit cases[] = {
	{ "schemaVersion: 2.1.0", "schemaVersion: 3.0.0",
	  "p.yaml:1:1: schemaVersion '3.0.0' is not supported (2.0.0 or 2.1.0)" },
	{ "schemaVersion: 2.1.0\n", "",
	  "p.yaml:1:1: pipeline: missing 'schemaVersion'" },
	{ "  name: p\n", "  name: My_Pipeline\n",
	  "p.yaml:3:3: pipelineInfo.name 'My_Pipeline' must be lower-case letters, digits and '-'" },
	{ "  name: p\n", "  description: x\n",
	  "p.yaml:3:3: pipelineInfo: missing 'name'" },
	{ "componentRef: {name: comp-b}", "componentRef: {name: comp-c}",
	  "p.yaml:42:24: task 'b': component 'comp-c' does not exist" },
	{ "executorLabel: exec-b", "executorLabel: exec-x",
	  "p.yaml:16:5: component 'comp-b': executor 'exec-x' does not exist in deploymentSpec.executors" },
	{ "dependentTasks: [a]", "dependentTasks: [a, z]",
	  "p.yaml:43:25: task 'b': depends on task 'z', which does not exist" },
	{ "dependentTasks: [a]", "dependentTasks: []",
	  "p.yaml:46:41: task 'b': input 'data' comes from task 'a', which is not in its dependentTasks" },
	{ "            num: {componentInputParameter: count}\n", "            mum: {componentInputParameter: count}\n",
	  "p.yaml:40:13: task 'a': component 'comp-a' declares no input parameter 'mum'" },
	{ "            num: {componentInputParameter: count}\n", "            num: {componentInputParameter: cnt}\n",
	  "p.yaml:40:19: task 'a': input 'num': the pipeline has no input parameter 'cnt'" },
	{ "outputParameterKey: v}", "outputParameterKey: w}",
	  "p.yaml:48:56: task 'b': input 'v': component 'comp-a' has no output parameter 'w'" },
	{ "outputArtifactKey: out}", "outputArtifactKey: nope}",
	  "p.yaml:46:58: task 'b': input 'data': component 'comp-a' has no output artifact 'nope'" },
	{ "            v: {taskOutputParameter: {producerTask: a, outputParameterKey: v}}\n", "",
	  "p.yaml:42:9: task 'b': required input parameter 'v' of component 'comp-b' is not given" },
	{ "{{$.inputs.parameters['num']}}", "{{$.inputs.parameters['k']}}",
	  "p.yaml:28:15: component 'comp-a': args[0] uses input parameter 'k', which the component does not declare" },
	{ "{{$.outputs.artifacts['out'].path}}", "{{$.outputs.artifacts['o'].path}}",
	  "p.yaml:28:15: component 'comp-a': args[1] uses output artifact 'o', which the component does not declare" },
	{ "        image: img:1\n        command: [a]", "        command: [a]",
	  "p.yaml:26:9: executor 'exec-a': missing 'image'" },
	{ "        num: {parameterType: NUMBER_INTEGER}", "        num: {parameterType: INT}",
	  "p.yaml:9:15: component 'comp-a': parameter 'num': unknown parameterType 'INT'" },
	{ "      a:\n        componentRef: {name: comp-a}\n",
	  "      a:\n        componentRef: {name: comp-a}\n        dependentTasks: [b]\n",
	  "task 'a' is part of a dependency cycle" },
	{ "  name: p\n", "  name: p\n  name: q\n", "p.yaml:4:3: mapping key \"name\" already defined at line 3" },
};

static void test_kfpir_check__errors_with_positions(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < KF_ARRAY_SIZE(cases); i++) {
		const struct edit *c = &cases[i];
		const char *at = strstr(base, c->from);
		struct kf_buf b = KF_BUF_INIT;
		struct kf_kfp_ir *ir = NULL;
		struct kf_err *err = NULL;
		char *msg;

		assert_non_null(at);
		kf_buf_add(&b, base, (size_t)(at - base));
		kf_buf_adds(&b, c->to);
		kf_buf_adds(&b, at + strlen(c->from));
		if (kf_kfp_ir_load_buf(&ir, "p.yaml", b.buf, b.len, &err) == 0) {
			print_error("case %zu: loaded, want: %s\n", i, c->want);
			fail();
		}
		assert_null(ir);
		msg = kf_err_str(err);
		if (!strstr(msg, c->want)) {
			print_error("case %zu:\n got: %s\nwant: %s\n", i, msg, c->want);
			bad++;
		}
		free(msg);
		kf_err_free(err);
		kf_buf_release(&b);
	}
	assert_int_equal(bad, 0);
}

static void test_kfpir_check__base_is_valid_and_all_problems_reported(void **state)
{
	struct kf_kfp_ir *ir = NULL;
	struct kf_diags diags = KF_DIAGS_INIT;
	struct kf_err *err = NULL;
	struct kf_buf b = KF_BUF_INIT;
	const char *p;

	(void)state;
	assert_int_equal(kf_kfp_ir_load_buf(&ir, "p.yaml", base, strlen(base), &err), 0);
	assert_int_equal(kf_kfp_ir_task_count(ir), 2);
	kf_kfp_ir_free(ir);
	assert_int_equal(kf_kfp_ir_load_buf(&ir, "l.yaml", "- a\n- b\n", 8, &err), KF_EINVAL);
	assert_string_equal(err->msg, "l.yaml:1:1: a pipeline package must be a YAML mapping");
	kf_err_clear(&err);
	/* two problems at once, sorted by position */
	kf_buf_adds(&b, base);
	p = strstr(b.buf, "comp-b}");
	memcpy((char *)p, "comp-x}", 7);
	p = strstr(b.buf, "2.1.0");
	memcpy((char *)p, "9.9.9", 5);
	assert_int_equal(kf_kfp_ir_check(&ir, "p.yaml", b.buf, b.len, &diags, &err), KF_EINVAL);
	assert_null(ir);
	assert_int_equal(diags.n, 2);
	assert_int_equal(diags.v[0].line, 1);
	assert_int_equal(diags.v[1].line, 42);
	kf_diags_release(&diags);
	kf_err_free(err);
	kf_buf_release(&b);
}

static void test_kfpir_placeholders__scan(void **state)
{
	const char *s = "x{{$.inputs.parameters['lr']}}-{{$.outputs.artifacts[\"m\"].path}}"
			"{{$}}{{$.pipeline_job_uuid}}{{$.outputs.parameters['v'].output_file}}{{$.weird}}";
	struct kf_kfp_ph ph;
	const char *p;

	(void)state;
	p = kf_kfp_ph_next(s, &ph);
	assert_ptr_equal(p, s + 1);
	assert_int_equal(ph.kind, KF_KFP_PH_IN_PARAM);
	assert_int_equal(ph.name_len, 2);
	assert_memory_equal(ph.name, "lr", 2);
	assert_int_equal(ph.len, strlen("{{$.inputs.parameters['lr']}}"));
	p = kf_kfp_ph_next(p + ph.len, &ph);
	assert_int_equal(ph.kind, KF_KFP_PH_OUT_ART_PATH);
	assert_memory_equal(ph.name, "m", 1);
	p = kf_kfp_ph_next(p + ph.len, &ph);
	assert_int_equal(ph.kind, KF_KFP_PH_EXECUTOR_INPUT);
	p = kf_kfp_ph_next(p + ph.len, &ph);
	assert_int_equal(ph.kind, KF_KFP_PH_JOB_UUID);
	p = kf_kfp_ph_next(p + ph.len, &ph);
	assert_int_equal(ph.kind, KF_KFP_PH_OUT_PARAM_FILE);
	assert_memory_equal(ph.name, "v", 1);
	p = kf_kfp_ph_next(p + ph.len, &ph);
	assert_int_equal(ph.kind, KF_KFP_PH_OTHER);
	assert_int_equal(ph.len, strlen("{{$.weird}}"));
	assert_null(kf_kfp_ph_next(p + ph.len, &ph));
	assert_null(kf_kfp_ph_next("{{ not one }}", &ph));
}

static void test_kfpir_health__katib_experiment(void **state)
{
	const char *why;
	json_t *e = json_loads("{\"apiVersion\":\"kubeflow.org/v1beta1\",\"kind\":\"Experiment\","
			       "\"status\":{\"conditions\":[{\"type\":\"Created\",\"status\":\"True\"},"
			       "{\"type\":\"Running\",\"status\":\"True\"}]}}", 0, NULL);
	json_t *conds = json_object_get(json_object_get(e, "status"), "conditions");

	(void)state;
	assert_int_equal(kf_health_of(e, &why), KF_HEALTH_PROGRESSING);
	assert_string_equal(why, "experiment not succeeded");
	json_array_append_new(conds, json_pack("{s:s,s:s}", "type", "Succeeded", "status", "True"));
	assert_int_equal(kf_health_of(e, &why), KF_HEALTH_READY);
	json_array_append_new(conds, json_pack("{s:s,s:s}", "type", "Failed", "status", "True"));
	assert_int_equal(kf_health_of(e, &why), KF_HEALTH_FAILED);
	assert_string_equal(why, "experiment failed");
	json_object_del(e, "status");
	assert_int_equal(kf_health_of(e, &why), KF_HEALTH_PROGRESSING);
	json_decref(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kfpir_load__xor_pipeline),
		cmocka_unit_test(test_kfpir_load__upstream_iris),
		cmocka_unit_test(test_kfpir_load__missing_file),
		cmocka_unit_test(test_kfpir_check__errors_with_positions),
		cmocka_unit_test(test_kfpir_check__base_is_valid_and_all_problems_reported),
		cmocka_unit_test(test_kfpir_placeholders__scan),
		cmocka_unit_test(test_kfpir_health__katib_experiment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
