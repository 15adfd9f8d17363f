/*
 * test_predict.c - unit tests for src/predict: the model loader's checks
 * (each bad model names what is wrong), the forward pass on hand-checked
 * values, and the V2/V1 request decoders on good and bad requests
 * (data-driven: input, expected status, expected words in the message).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "predict/predict.h"

#define XOR_MODEL                                                              \
	"{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"xor\", \"inputs\": 2,"   \
	" \"layers\": [{\"units\": 2, \"activation\": \"tanh\","                \
	" \"weights\": [[10, 10], [10, 10]], \"bias\": [-5, -15]},"             \
	" {\"units\": 1, \"activation\": \"sigmoid\", \"weights\": [[6, -6]],"  \
	" \"bias\": [-6]}], \"classes\": [\"0\", \"1\"], \"threshold\": 0.5,"   \
	" \"meta\": {\"x\": 1}}"

static struct kf_model *xor_model(void)
{
	struct kf_model *m = NULL;
	struct kf_err *err = NULL;

	assert_int_equal(kf_model_parse(&m, XOR_MODEL, strlen(XOR_MODEL), "xor.json", &err), 0);
	return m;
}

static void test_predict_model__xor_forward(void **state)
{
	struct kf_model *m = xor_model();
	const double x[] = { 0, 0, 0, 1, 1, 0, 1, 1 };
	double p[4];
	/* tanh(+-5) and tanh(+-15) by hand: out = sigmoid(6*(h1-h2)-6) */
	double h_lo = tanh(-5), h_hi = tanh(5), a_lo = tanh(-15), a_mid = tanh(-5),
	       a_hi = tanh(5);
	double e00 = 1 / (1 + exp(-(6 * (h_lo - a_lo) - 6)));
	double e01 = 1 / (1 + exp(-(6 * (h_hi - a_mid) - 6)));
	double e11 = 1 / (1 + exp(-(6 * (tanh(15) - a_hi) - 6)));

	assert_string_equal(m->name, "xor");
	assert_int_equal(m->inputs, 2);
	assert_int_equal(m->nlayers, 2);
	kf_model_predict(m, x, 4, p);
	assert_true(fabs(p[0] - e00) < 1e-15);
	assert_true(fabs(p[1] - e01) < 1e-15);
	assert_true(fabs(p[2] - e01) < 1e-15);
	assert_true(fabs(p[3] - e11) < 1e-15);
	assert_int_equal(kf_model_class(m, p[0]), 0);
	assert_int_equal(kf_model_class(m, p[1]), 1);
	assert_int_equal(kf_model_class(m, p[3]), 0);
	kf_model_free(m);
}

static void test_predict_model__fixture_files_load(void **state)
{
	static const char *const files[] = { "xor.json", "xor8.json", "deep3.json" };
	size_t i;

	for (i = 0; i < KF_ARRAY_SIZE(files); i++) {
		char *path = kf_xasprintf("%s/tests/data/predict/%s", KF_SOURCE_DIR, files[i]);
		struct kf_model *m = NULL;
		struct kf_err *err = NULL;

		if (kf_model_load(&m, path, &err)) {
			char *msg = kf_err_str(err);

			fail_msg("%s", msg);
		}
		assert_true(m->inputs >= 2);
		kf_model_free(m);
		free(path);
	}
}

struct bad_model {
	const char *json;
	const char *want; /* substring of the message */
};

static void test_predict_model__bad_models_refused(void **state)
{
	static const struct bad_model cases[] = {
		{ "{\"format\": ", "m.json:1:" },
		{ "[]", "must be a JSON object" },
		{ "{\"format\": \"other\"}", "format: must be \"kfboot.io/mlp-v1\"" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"../x\"}", "name:" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"x\"}", "missing \"inputs\"" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"x\", \"inputs\": 0}", "\"inputs\" must be an integer from 1" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"x\", \"inputs\": 2, \"layers\": []}", "layers: must be an array of 1 to" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"x\", \"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"softmax\", \"weights\": [[1,1]], \"bias\": [0]}]}",
		  "layers[0].activation: \"softmax\" is not one of" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"x\", \"inputs\": 2, \"layers\": [{\"units\": 2, \"activation\": \"tanh\", \"weights\": [[1,1]], \"bias\": [0,0]}]}",
		  "layers[0].weights: has 1 rows, the layer has 2 units" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"x\", \"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"sigmoid\", \"weights\": [[1,1,1]], \"bias\": [0]}]}",
		  "layers[0].weights[0]: has 3 values, expected 2" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"x\", \"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"sigmoid\", \"weights\": [[1,\"a\"]], \"bias\": [0]}]}",
		  "layers[0].weights[0][1]: must be a finite number" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"x\", \"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"sigmoid\", \"weights\": [[1,1]], \"bias\": []}]}",
		  "layers[0].bias: has 0 values, expected 1" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"x\", \"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"tanh\", \"weights\": [[1,1]], \"bias\": [0]}]}",
		  "the last layer must have 1 unit with activation sigmoid" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"x\", \"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"sigmoid\", \"weights\": [[1,1]], \"bias\": [0]}], \"classes\": [\"a\"]}",
		  "classes: must be an array of 2 strings" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"x\", \"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"sigmoid\", \"weights\": [[1,1]], \"bias\": [0]}], \"threshold\": 1}",
		  "threshold: must be a number between 0 and 1" },
		{ "{\"format\": \"kfboot.io/mlp-v1\", \"format\": \"kfboot.io/mlp-v1\"}", "m.json:1:" },
	};
	size_t i;

	for (i = 0; i < KF_ARRAY_SIZE(cases); i++) {
		struct kf_model *m = NULL;
		struct kf_err *err = NULL;
		char *msg;

		assert_int_equal(kf_model_parse(&m, cases[i].json, strlen(cases[i].json),
						"m.json", &err), KF_EINVAL);
		assert_null(m);
		msg = kf_err_str(err);
		if (!strstr(msg, cases[i].want) || !strstr(msg, "m.json"))
			fail_msg("case %zu: message '%s' lacks '%s'", i, msg, cases[i].want);
		free(msg);
		kf_err_free(err);
	}
}

static void test_predict_model__missing_file(void **state)
{
	struct kf_model *m = NULL;
	struct kf_err *err = NULL;
	char *msg;

	assert_int_not_equal(kf_model_load(&m, "/nonexistent/model.json", &err), 0);
	msg = kf_err_str(err);
	assert_non_null(strstr(msg, "/nonexistent/model.json"));
	free(msg);
	kf_err_free(err);
}

static void test_predict_decode__v2_good(void **state)
{
	struct kf_batch b = KF_BATCH_INIT;
	struct kf_err *err = NULL;
	const char *flat = "{\"id\": \"r1\", \"inputs\": [{\"name\": \"x\", \"shape\": [2, 2],"
			   " \"datatype\": \"FP32\", \"data\": [0.1, 0.2, 1, 0]}]}";
	const char *nested = "{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 2],"
			     " \"datatype\": \"FP64\", \"data\": [[0.1, 0.2], [1, 0]]}],"
			     " \"outputs\": [{\"name\": \"class\"}], \"parameters\": {}}";
	const char *one = "{\"inputs\": [{\"name\": \"x\", \"shape\": [2],"
			  " \"datatype\": \"FP64\", \"data\": [3, 4]}]}";
	struct kf_model *m = xor_model();
	double p[2];
	json_t *o;
	char *s;

	assert_int_equal(kf_decode_v2(flat, strlen(flat), 2, 10, &b, &err), 0);
	assert_int_equal(b.rows, 2);
	assert_int_equal(b.dtype, KF_FP32);
	assert_string_equal(b.id, "r1");
	assert_true(b.x[0] == (double)0.1f);
	assert_true(b.x[2] == 1);
	kf_model_predict(m, b.x, b.rows, p);
	o = kf_encode_v2(m, &b, p);
	s = json_dumps(o, JSON_COMPACT);
	assert_non_null(strstr(s, "\"model_name\":\"xor\""));
	assert_non_null(strstr(s, "\"id\":\"r1\""));
	assert_non_null(strstr(s, "\"name\":\"probability\",\"datatype\":\"FP32\",\"shape\":[2,1]"));
	assert_non_null(strstr(s, "\"name\":\"class\",\"datatype\":\"INT64\",\"shape\":[2],\"data\":[0,1]"));
	free(s);
	json_decref(o);
	kf_batch_release(&b);

	assert_int_equal(kf_decode_v2(nested, strlen(nested), 2, 10, &b, &err), 0);
	assert_int_equal(b.rows, 2);
	assert_true(b.x[1] == 0.2);
	assert_false(b.want_prob);
	assert_true(b.want_class);
	kf_batch_release(&b);

	assert_int_equal(kf_decode_v2(one, strlen(one), 2, 10, &b, &err), 0);
	assert_int_equal(b.rows, 1);
	assert_true(b.x[1] == 4);
	kf_batch_release(&b);
	kf_model_free(m);
}

struct bad_req {
	bool v2;
	const char *body;
	int code;
	const char *want;
};

static void test_predict_decode__bad_requests(void **state)
{
	static const struct bad_req cases[] = {
		{ true, "", KF_EINVAL, "malformed JSON" },
		{ true, "{\"inputs\": [", KF_EINVAL, "malformed JSON at line 1" },
		{ true, "[1,2]", KF_EINVAL, "must be a JSON object" },
		{ true, "{}", KF_EINVAL, "inputs: must be an array holding exactly one tensor" },
		{ true, "{\"inputs\": []}", KF_EINVAL, "exactly one tensor" },
		{ true, "{\"inputs\": [1]}", KF_EINVAL, "inputs[0]: must be an object" },
		{ true, "{\"inputs\": [{\"shape\": [1, 2], \"datatype\": \"FP32\", \"data\": [1, 2]}]}", KF_EINVAL, "inputs[0].name" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"INT64\", \"data\": [1, 2]}]}", KF_EINVAL, "FP32 or FP64" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"data\": [1, 2]}]}", KF_EINVAL, "datatype" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, 3]}]}", KF_EINVAL, "each row must have 2 values" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2, 1], \"datatype\": \"FP32\", \"data\": [1, 2]}]}", KF_EINVAL, "shape: must be [rows, 2]" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [0, 2], \"datatype\": \"FP32\", \"data\": []}]}", KF_EINVAL, "positive integer" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [-1, 2], \"datatype\": \"FP32\", \"data\": []}]}", KF_EINVAL, "positive integer" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": [1, 2, 3]}]}", KF_EINVAL, "holds 3 values, the shape [2, 2] needs 4" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": [[1, 2], [3]]}]}", KF_EINVAL, "data[1]: must be an array of 2 numbers" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP32\", \"data\": [1, \"NaN\"]}]}", KF_EINVAL, "data[1]: must be a number" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP32\", \"data\": [1, NaN]}]}", KF_EINVAL, "malformed JSON" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP32\", \"data\": [1, 1e300]}]}", KF_EINVAL, "does not fit in FP32" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP64\", \"data\": [1, 1e999]}]}", KF_EINVAL, "malformed JSON" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP64\", \"data\": [1, null]}]}", KF_EINVAL, "must be a number" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [11, 2], \"datatype\": \"FP64\", \"data\": []}]}", KF_ETOOBIG, "11 rows is over the limit of 10" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [99999999999999, 2], \"datatype\": \"FP64\", \"data\": []}]}", KF_ETOOBIG, "over the limit" },
		{ true, "{\"id\": 5, \"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP64\", \"data\": [1, 2]}]}", KF_EINVAL, "id: must be a string" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP64\", \"data\": [1, 2]}], \"outputs\": [{\"name\": \"logits\"}]}", KF_EINVAL, "unknown output" },
		{ true, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP64\", \"data\": [1, 2]}], \"parameters\": 3}", KF_EINVAL, "parameters: must be an object" },
		{ false, "{\"instances\": []}", KF_EINVAL, "instances: must be a non-empty array" },
		{ false, "{\"instances\": [[1, 2], [3]]}", KF_EINVAL, "instances[1]: must be an array of 2 numbers" },
		{ false, "{\"instances\": [[1, true]]}", KF_EINVAL, "instances[0][1]: must be a finite number" },
		{ false, "{\"instances\": [[1,2],[1,2],[1,2],[1,2],[1,2],[1,2],[1,2],[1,2],[1,2],[1,2],[1,2]]}", KF_ETOOBIG, "11 rows is over the limit" },
		{ false, "{\"inputs\": [[1, 2]]}", KF_EINVAL, "instances" },
		{ false, "nope", KF_EINVAL, "malformed JSON" },
	};
	size_t i;

	for (i = 0; i < KF_ARRAY_SIZE(cases); i++) {
		struct kf_batch b = KF_BATCH_INIT;
		struct kf_err *err = NULL;
		const char *body = cases[i].body;
		int rc = cases[i].v2 ? kf_decode_v2(body, strlen(body), 2, 10, &b, &err)
				     : kf_decode_v1(body, strlen(body), 2, 10, &b, &err);

		if (rc != cases[i].code || !err || !strstr(err->msg, cases[i].want))
			fail_msg("case %zu (%s): rc %d, message '%s', want %d '%s'", i, body,
				 rc, err ? err->msg : "(none)", cases[i].code, cases[i].want);
		assert_null(b.x);
		kf_err_free(err);
	}
}

static void test_predict_encode__v1(void **state)
{
	struct kf_model *m = xor_model();
	struct kf_batch b = KF_BATCH_INIT;
	struct kf_err *err = NULL;
	const char *body = "{\"instances\": [[0, 1], [1, 1]]}";
	double p[2];
	json_t *o;

	assert_int_equal(kf_decode_v1(body, strlen(body), 2, 10, &b, &err), 0);
	kf_model_predict(m, b.x, b.rows, p);
	o = kf_encode_v1(m, &b, p);
	assert_true(json_real_value(json_array_get(json_object_get(o, "predictions"), 0)) == p[0]);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "classes"), 0)), "1");
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "classes"), 1)), "0");
	json_decref(o);
	kf_batch_release(&b);
	kf_model_free(m);
}

static void test_predict_page__no_inline_script(void **state)
{
	struct kf_model *m = xor_model();
	char *html = kf_page_html(m);

	assert_non_null(strstr(html, "<script src=\"/app.js\" defer></script>"));
	/* exactly one <script, and it has a src: CSP script-src 'self' holds */
	assert_null(strstr(strstr(html, "<script") + 1, "<script"));
	assert_null(strstr(html, "style=\""));
	/* no event-handler attributes (onclick= and friends), no javascript: */
	for (const char *p = strstr(html, " on"); p; p = strstr(p + 1, " on")) {
		size_t k = 3;

		while (p[k] >= 'a' && p[k] <= 'z')
			k++;
		assert_true(p[k] != '=');
	}
	assert_null(strstr(html, "javascript:"));
	assert_non_null(strstr(html, "data-model=\"xor\""));
	assert_non_null(strstr(html, "id=\"x1\""));
	assert_null(strstr(html, "http://"));
	assert_null(strstr(html, "https://"));
	assert_null(strstr(kf_page_js, "http"));
	free(html);
	kf_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_predict_model__xor_forward),
		cmocka_unit_test(test_predict_model__fixture_files_load),
		cmocka_unit_test(test_predict_model__bad_models_refused),
		cmocka_unit_test(test_predict_model__missing_file),
		cmocka_unit_test(test_predict_decode__v2_good),
		cmocka_unit_test(test_predict_decode__bad_requests),
		cmocka_unit_test(test_predict_encode__v1),
		cmocka_unit_test(test_predict_page__no_inline_script),
	};

	return cmocka_run_group_tests_name("predict", tests, NULL, NULL);
}
