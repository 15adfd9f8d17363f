/*
 * codec.c - decoding inference requests and encoding the answers.
 *
 * Requests come from anyone on the network, so this file holds every check a
 * client can fail, each with a message that says what was wrong: the body is
 * not JSON (with line and column), the tensor count, name, datatype or shape
 * is wrong, a value is not a finite number or does not fit the datatype, or
 * there are more rows than the server accepts. The fuzz target
 * tests/fuzz/fuzz_predict.c drives these decoders.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/predict.h"

void kf_batch_release(struct kf_batch *b)
{
	const struct kf_batch init = KF_BATCH_INIT;

	free(b->x);
	free(b->input_name);
	free(b->id);
	*b = init;
}

static json_t *load(const char *body, size_t len, struct kf_err **err)
{
	json_error_t je;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);

	if (!root) {
		kf_err_set(err, KF_EINVAL, "malformed JSON at line %d, column %d: %s",
			   je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		kf_err_set(err, KF_EINVAL, "the request must be a JSON object");
		return NULL;
	}
	return root;
}

static int number(const json_t *v, enum kf_dtype dt, size_t idx, double *out,
		  struct kf_err **err)
{
	double d;

	if (!json_is_number(v))
		return kf_err_set(err, KF_EINVAL,
				  "data[%zu]: must be a number (NaN and infinities are not accepted)",
				  idx);
	d = json_number_value(v);
	if (!isfinite(d))
		return kf_err_set(err, KF_EINVAL, "data[%zu]: must be finite", idx);
	if (dt == KF_FP32 && fabs(d) > FLT_MAX)
		return kf_err_set(err, KF_EINVAL,
				  "data[%zu]: %g does not fit in FP32", idx, d);
	*out = dt == KF_FP32 ? (double)(float)d : d;
	return 0;
}

/* Fill b->x from flat [N*cols] or nested [N][cols] data. */
static int fill(struct kf_batch *b, const json_t *data, struct kf_err **err)
{
	size_t n = b->rows * b->cols, i, j;
	int rc;

	if (!json_is_array(data))
		return kf_err_set(err, KF_EINVAL,
				  "inputs[0].data: must be an array of numbers");
	b->x = kf_xcalloc(n ? n : 1, sizeof(double));
	if (json_array_size(data) == n && (n == 0 || !json_is_array(json_array_get(data, 0)))) {
		for (i = 0; i < n; i++) {
			rc = number(json_array_get(data, i), b->dtype, i, &b->x[i], err);
			if (rc)
				return rc;
		}
		return 0;
	}
	if (json_array_size(data) == b->rows && b->rows &&
	    json_is_array(json_array_get(data, 0))) {
		for (i = 0; i < b->rows; i++) {
			const json_t *row = json_array_get(data, i);

			if (!json_is_array(row) || json_array_size(row) != b->cols)
				return kf_err_set(err, KF_EINVAL,
						  "inputs[0].data[%zu]: must be an array of %zu numbers (the shape's second dimension)",
						  i, b->cols);
			for (j = 0; j < b->cols; j++) {
				rc = number(json_array_get(row, j), b->dtype,
					    i * b->cols + j, &b->x[i * b->cols + j], err);
				if (rc)
					return rc;
			}
		}
		return 0;
	}
	return kf_err_set(err, KF_EINVAL,
			  "inputs[0].data: holds %zu values, the shape [%zu, %zu] needs %zu",
			  json_array_size(data), b->rows, b->cols, n);
}

static int outputs(struct kf_batch *b, const json_t *outs, struct kf_err **err)
{
	size_t i;

	if (!outs)
		return 0;
	if (!json_is_array(outs) || json_array_size(outs) == 0)
		return kf_err_set(err, KF_EINVAL,
				  "outputs: must be a non-empty array of {\"name\": ...}");
	b->want_prob = b->want_class = false;
	for (i = 0; i < json_array_size(outs); i++) {
		const json_t *o = json_array_get(outs, i);
		const char *name = json_string_value(json_object_get(o, "name"));

		if (!name)
			return kf_err_set(err, KF_EINVAL,
					  "outputs[%zu]: must be an object with a \"name\"", i);
		if (!strcmp(name, "probability"))
			b->want_prob = true;
		else if (!strcmp(name, "class"))
			b->want_class = true;
		else
			return kf_err_set(err, KF_EINVAL,
					  "outputs[%zu]: unknown output; this model has \"probability\" and \"class\"",
					  i);
	}
	return 0;
}

int kf_decode_v2(const char *body, size_t len, size_t cols, size_t max_rows,
		 struct kf_batch *out, struct kf_err **err)
{
	json_t *root = load(body, len, err);
	const json_t *inputs, *in, *v, *shape;
	const char *dt;
	json_int_t d0, d1;
	int rc = KF_EINVAL;

	if (!root)
		return KF_EINVAL;
	v = json_object_get(root, "id");
	if (v) {
		if (!json_is_string(v)) {
			kf_err_set(err, KF_EINVAL, "id: must be a string");
			goto out;
		}
		out->id = kf_xstrdup(json_string_value(v));
	}
	v = json_object_get(root, "parameters");
	if (v && !json_is_object(v)) {
		kf_err_set(err, KF_EINVAL, "parameters: must be an object");
		goto out;
	}
	inputs = json_object_get(root, "inputs");
	if (!json_is_array(inputs) || json_array_size(inputs) != 1) {
		kf_err_set(err, KF_EINVAL,
			   "inputs: must be an array holding exactly one tensor");
		goto out;
	}
	in = json_array_get(inputs, 0);
	if (!json_is_object(in)) {
		kf_err_set(err, KF_EINVAL, "inputs[0]: must be an object");
		goto out;
	}
	v = json_object_get(in, "name");
	if (!json_is_string(v)) {
		kf_err_set(err, KF_EINVAL, "inputs[0].name: must be a string");
		goto out;
	}
	out->input_name = kf_xstrdup(json_string_value(v));
	dt = json_string_value(json_object_get(in, "datatype"));
	if (!dt) {
		kf_err_set(err, KF_EINVAL, "inputs[0].datatype: must be \"FP32\" or \"FP64\"");
		goto out;
	}
	if (!strcmp(dt, "FP32")) {
		out->dtype = KF_FP32;
	} else if (!strcmp(dt, "FP64")) {
		out->dtype = KF_FP64;
	} else {
		kf_err_set(err, KF_EINVAL,
			   "inputs[0].datatype: this model takes FP32 or FP64");
		goto out;
	}
	shape = json_object_get(in, "shape");
	if (!json_is_array(shape) || json_array_size(shape) < 1 ||
	    json_array_size(shape) > 2) {
		kf_err_set(err, KF_EINVAL,
			   "inputs[0].shape: must be [rows, %zu] (or [%zu] for one row)",
			   cols, cols);
		goto out;
	}
	if (json_array_size(shape) == 1) {
		d0 = 1;
		v = json_array_get(shape, 0);
	} else {
		v = json_array_get(shape, 0);
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			kf_err_set(err, KF_EINVAL,
				   "inputs[0].shape[0]: the number of rows must be a positive integer");
			goto out;
		}
		d0 = json_integer_value(v);
		v = json_array_get(shape, 1);
	}
	if (!json_is_integer(v) || json_integer_value(v) != (json_int_t)cols) {
		kf_err_set(err, KF_EINVAL,
			   "inputs[0].shape: each row must have %zu values (the model's inputs)",
			   cols);
		goto out;
	}
	d1 = json_integer_value(v);
	if ((size_t)d0 > max_rows) {
		rc = kf_err_set(err, KF_ETOOBIG,
				"inputs[0].shape: %lld rows is over the limit of %zu per request",
				(long long)d0, max_rows);
		goto out;
	}
	out->rows = (size_t)d0;
	out->cols = (size_t)d1;
	if (fill(out, json_object_get(in, "data"), err))
		goto out;
	if (outputs(out, json_object_get(root, "outputs"), err))
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc)
		kf_batch_release(out);
	return rc;
}

int kf_decode_v1(const char *body, size_t len, size_t cols, size_t max_rows,
		 struct kf_batch *out, struct kf_err **err)
{
	json_t *root = load(body, len, err);
	const json_t *inst;
	size_t i, j;
	int rc = KF_EINVAL;

	if (!root)
		return KF_EINVAL;
	inst = json_object_get(root, "instances");
	if (!json_is_array(inst) || json_array_size(inst) == 0) {
		kf_err_set(err, KF_EINVAL,
			   "instances: must be a non-empty array of rows of %zu numbers",
			   cols);
		goto out;
	}
	if (json_array_size(inst) > max_rows) {
		rc = kf_err_set(err, KF_ETOOBIG,
				"instances: %zu rows is over the limit of %zu per request",
				json_array_size(inst), max_rows);
		goto out;
	}
	out->rows = json_array_size(inst);
	out->cols = cols;
	out->dtype = KF_FP64;
	out->x = kf_xcalloc(out->rows * cols, sizeof(double));
	for (i = 0; i < out->rows; i++) {
		const json_t *row = json_array_get(inst, i);

		if (!json_is_array(row) || json_array_size(row) != cols) {
			kf_err_set(err, KF_EINVAL,
				   "instances[%zu]: must be an array of %zu numbers (the model's inputs)",
				   i, cols);
			goto out;
		}
		for (j = 0; j < cols; j++) {
			const json_t *v = json_array_get(row, j);

			if (!json_is_number(v) || !isfinite(json_number_value(v))) {
				kf_err_set(err, KF_EINVAL,
					   "instances[%zu][%zu]: must be a finite number",
					   i, j);
				goto out;
			}
			out->x[i * cols + j] = json_number_value(v);
		}
	}
	rc = 0;
out:
	json_decref(root);
	if (rc)
		kf_batch_release(out);
	return rc;
}

json_t *kf_encode_v2(const struct kf_model *m, const struct kf_batch *b,
		     const double *prob)
{
	json_t *o = json_object(), *outs = json_array();
	size_t i;

	json_object_set_new(o, "model_name", json_string(m->name));
	json_object_set_new(o, "model_version", json_string("1"));
	if (b->id)
		json_object_set_new(o, "id", json_stringn(b->id, strlen(b->id)));
	if (b->want_prob) {
		json_t *data = json_array();

		for (i = 0; i < b->rows; i++)
			json_array_append_new(data, json_real(b->dtype == KF_FP32
								 ? (double)(float)prob[i]
								 : prob[i]));
		json_array_append_new(outs,
			json_pack("{s:s, s:s, s:[I, i], s:o}", "name", "probability",
				  "datatype", b->dtype == KF_FP32 ? "FP32" : "FP64",
				  "shape", (json_int_t)b->rows, 1, "data", data));
	}
	if (b->want_class) {
		json_t *data = json_array();

		for (i = 0; i < b->rows; i++)
			json_array_append_new(data, json_integer(kf_model_class(m, prob[i])));
		json_array_append_new(outs,
			json_pack("{s:s, s:s, s:[I], s:o}", "name", "class",
				  "datatype", "INT64", "shape", (json_int_t)b->rows,
				  "data", data));
	}
	json_object_set_new(o, "outputs", outs);
	return o;
}

json_t *kf_encode_v1(const struct kf_model *m, const struct kf_batch *b,
		     const double *prob)
{
	json_t *o = json_object(), *p = json_array(), *c = json_array();
	size_t i;

	for (i = 0; i < b->rows; i++) {
		json_array_append_new(p, json_real(prob[i]));
		json_array_append_new(c, json_string(m->classes[kf_model_class(m, prob[i])]));
	}
	json_object_set_new(o, "predictions", p);
	json_object_set_new(o, "classes", c);
	return o;
}
