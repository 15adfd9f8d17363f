/*
 * model.c - the "kfboot.io/mlp-v1" model: load a small multi-layer
 * perceptron from JSON, check every field (each error names the file and the
 * JSON path of the bad value, or the line and column of a syntax error), and
 * evaluate it in double precision, row by row.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/predict.h"

static const char *const act_names[] = { "identity", "tanh", "relu",
					 "sigmoid" };

void kf_model_free(struct kf_model *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nlayers; i++) {
		free(m->layers[i].w);
		free(m->layers[i].b);
	}
	free(m->layers);
	free(m->name);
	free(m->classes[0]);
	free(m->classes[1]);
	json_decref(m->meta);
	free(m);
}

static bool valid_model_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') ||
		      (i > 0 && (c == '-' || c == '_' || c == '.'))))
			return false;
	}
	return true;
}

/* A positive integer field no larger than max. */
static int get_count(const json_t *o, const char *key, size_t max,
		     const char *where, size_t *out, struct kf_err **err)
{
	const json_t *v = json_object_get(o, key);

	if (!v)
		return kf_err_set(err, KF_EINVAL, "%s: missing \"%s\"", where,
				  key);
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    (json_int_t)max < json_integer_value(v))
		return kf_err_set(err, KF_EINVAL,
				  "%s: \"%s\" must be an integer from 1 to %zu",
				  where, key, max);
	*out = (size_t)json_integer_value(v);
	return 0;
}

/* An array of exactly n finite numbers into dst. */
static int get_vector(const json_t *a, size_t n, double *dst, const char *what,
		      const char *unit, struct kf_err **err)
{
	size_t i;

	if (!json_is_array(a))
		return kf_err_set(err, KF_EINVAL, "%s: must be an array of %zu numbers",
				  what, n);
	if (json_array_size(a) != n)
		return kf_err_set(err, KF_EINVAL,
				  "%s: has %zu values, expected %zu (one per %s)",
				  what, json_array_size(a), n, unit);
	for (i = 0; i < n; i++) {
		const json_t *v = json_array_get(a, i);

		if (!json_is_number(v) || !isfinite(json_number_value(v)))
			return kf_err_set(err, KF_EINVAL,
					  "%s[%zu]: must be a finite number", what, i);
		dst[i] = json_number_value(v);
	}
	return 0;
}

static int parse_layer(struct kf_model *m, size_t li, const json_t *jl,
		       size_t ins, const char *origin, struct kf_err **err)
{
	struct kf_layer *l = &m->layers[li];
	char where[64], what[96];
	const json_t *act, *w;
	size_t u, k;
	int rc;

	snprintf(where, sizeof(where), "layers[%zu]", li);
	if (!json_is_object(jl))
		return kf_err_set(err, KF_EINVAL, "%s: must be an object", where);
	rc = get_count(jl, "units", KF_MODEL_MAX_UNITS, where, &l->units, err);
	if (rc)
		return rc;
	l->ins = ins;
	act = json_object_get(jl, "activation");
	if (!json_is_string(act))
		return kf_err_set(err, KF_EINVAL,
				  "%s.activation: must be one of identity, tanh, relu, sigmoid",
				  where);
	for (k = 0; k < KF_ARRAY_SIZE(act_names); k++) {
		if (!strcmp(json_string_value(act), act_names[k]))
			break;
	}
	if (k == KF_ARRAY_SIZE(act_names))
		return kf_err_set(err, KF_EINVAL,
				  "%s.activation: \"%s\" is not one of identity, tanh, relu, sigmoid",
				  where, json_string_value(act));
	l->act = (enum kf_activation)k;

	w = json_object_get(jl, "weights");
	if (!json_is_array(w))
		return kf_err_set(err, KF_EINVAL,
				  "%s.weights: must be an array of %zu rows (one per unit)",
				  where, l->units);
	if (json_array_size(w) != l->units)
		return kf_err_set(err, KF_EINVAL,
				  "%s.weights: has %zu rows, the layer has %zu units",
				  where, json_array_size(w), l->units);
	l->w = kf_xcalloc(l->units * ins, sizeof(double));
	l->b = kf_xcalloc(l->units, sizeof(double));
	for (u = 0; u < l->units; u++) {
		snprintf(what, sizeof(what), "%s.weights[%zu]", where, u);
		rc = get_vector(json_array_get(w, u), ins, l->w + u * ins, what,
				"input of the layer", err);
		if (rc)
			return rc;
	}
	snprintf(what, sizeof(what), "%s.bias", where);
	return get_vector(json_object_get(jl, "bias"), l->units, l->b, what,
			  "unit", err);
}

static int parse_obj(struct kf_model *m, const json_t *root,
		     const char *origin, struct kf_err **err)
{
	const json_t *v, *layers, *classes;
	size_t i, ins;
	int rc;

	if (!json_is_object(root))
		return kf_err_set(err, KF_EINVAL, "the model must be a JSON object");
	v = json_object_get(root, "format");
	if (!json_is_string(v) || strcmp(json_string_value(v), KF_MODEL_FORMAT))
		return kf_err_set(err, KF_EINVAL,
				  "format: must be \"%s\"", KF_MODEL_FORMAT);
	v = json_object_get(root, "name");
	if (!json_is_string(v) || !valid_model_name(json_string_value(v)))
		return kf_err_set(err, KF_EINVAL,
				  "name: must be 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit");
	m->name = kf_xstrdup(json_string_value(v));
	rc = get_count(root, "inputs", KF_MODEL_MAX_INPUTS, "model", &m->inputs,
		       err);
	if (rc)
		return rc;

	layers = json_object_get(root, "layers");
	if (!json_is_array(layers) || json_array_size(layers) == 0 ||
	    json_array_size(layers) > KF_MODEL_MAX_LAYERS)
		return kf_err_set(err, KF_EINVAL,
				  "layers: must be an array of 1 to %d layers",
				  KF_MODEL_MAX_LAYERS);
	m->nlayers = json_array_size(layers);
	m->layers = kf_xcalloc(m->nlayers, sizeof(*m->layers));
	ins = m->inputs;
	m->max_units = m->inputs;
	for (i = 0; i < m->nlayers; i++) {
		rc = parse_layer(m, i, json_array_get(layers, i), ins, origin, err);
		if (rc)
			return rc;
		ins = m->layers[i].units;
		if (ins > m->max_units)
			m->max_units = ins;
	}
	if (m->layers[m->nlayers - 1].units != 1 ||
	    m->layers[m->nlayers - 1].act != KF_ACT_SIGMOID)
		return kf_err_set(err, KF_EINVAL,
				  "layers[%zu]: the last layer must have 1 unit with activation sigmoid (the probability of classes[1])",
				  m->nlayers - 1);

	classes = json_object_get(root, "classes");
	if (!classes) {
		m->classes[0] = kf_xstrdup("0");
		m->classes[1] = kf_xstrdup("1");
	} else {
		if (!json_is_array(classes) || json_array_size(classes) != 2 ||
		    !json_is_string(json_array_get(classes, 0)) ||
		    !json_is_string(json_array_get(classes, 1)))
			return kf_err_set(err, KF_EINVAL,
					  "classes: must be an array of 2 strings");
		m->classes[0] = kf_xstrdup(json_string_value(json_array_get(classes, 0)));
		m->classes[1] = kf_xstrdup(json_string_value(json_array_get(classes, 1)));
	}
	v = json_object_get(root, "threshold");
	m->threshold = 0.5;
	if (v) {
		if (!json_is_number(v) || !(json_number_value(v) > 0) ||
		    !(json_number_value(v) < 1))
			return kf_err_set(err, KF_EINVAL,
					  "threshold: must be a number between 0 and 1 (exclusive)");
		m->threshold = json_number_value(v);
	}
	v = json_object_get(root, "meta");
	if (v) {
		if (!json_is_object(v))
			return kf_err_set(err, KF_EINVAL, "meta: must be an object");
		m->meta = json_incref((json_t *)v);
	}
	return 0;
}

int kf_model_parse(struct kf_model **out, const char *text, size_t len,
		   const char *origin, struct kf_err **err)
{
	struct kf_model *m = kf_xcalloc(1, sizeof(*m));
	json_error_t je;
	json_t *root;
	int rc;

	*out = NULL;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		rc = kf_err_set(err, KF_EINVAL, "%s:%d:%d: %s", origin, je.line,
				je.column, je.text);
		goto out;
	}
	rc = parse_obj(m, root, origin, err);
	if (rc)
		kf_err_wrap(err, "%s", origin);
out:
	json_decref(root);
	if (rc)
		kf_model_free(m);
	else
		*out = m;
	return rc;
}

int kf_model_load(struct kf_model **out, const char *path,
		  struct kf_err **err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = kf_file_read(path, &text, &len, err);
	if (rc)
		return kf_err_wrap(err, "model");
	rc = kf_model_parse(out, text, len, path, err);
	free(text);
	return rc;
}

static double activate(enum kf_activation a, double v)
{
	switch (a) {
	case KF_ACT_TANH:
		return tanh(v);
	case KF_ACT_RELU:
		return v > 0 ? v : 0;
	case KF_ACT_SIGMOID:
		if (v >= 0)
			return 1.0 / (1.0 + exp(-v));
		else {
			double e = exp(v);

			return e / (1.0 + e);
		}
	case KF_ACT_IDENTITY:
	default:
		return v;
	}
}

void kf_model_predict(const struct kf_model *m, const double *x, size_t rows,
		      double *prob)
{
	double stackbuf[2 * 64];
	double *scratch = stackbuf, *a, *b, *t;
	size_t r, li, u, k;

	if (m->max_units > 64)
		scratch = kf_xmalloc(2 * m->max_units * sizeof(double));
	for (r = 0; r < rows; r++) {
		a = scratch;
		b = scratch + m->max_units;
		memcpy(a, x + r * m->inputs, m->inputs * sizeof(double));
		for (li = 0; li < m->nlayers; li++) {
			const struct kf_layer *l = &m->layers[li];

			for (u = 0; u < l->units; u++) {
				const double *w = l->w + u * l->ins;
				double s = l->b[u];

				for (k = 0; k < l->ins; k++)
					s += w[k] * a[k];
				b[u] = activate(l->act, s);
			}
			t = a;
			a = b;
			b = t;
		}
		prob[r] = a[0];
	}
	if (scratch != stackbuf)
		free(scratch);
}
