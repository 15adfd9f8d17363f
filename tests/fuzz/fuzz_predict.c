/*
 * fuzz_predict.c - libFuzzer target for kfboot-predict's request decoding:
 * the V2 infer and V1 predict decoders (every byte a network client can
 * send reaches them) and, when a request decodes, the forward pass and the
 * answer's encoding. Invariants checked beyond the sanitizers: a decoded
 * batch has 1..max_rows rows of the model's width, only finite values, and
 * probabilities in [0, 1]; a refused request leaves no batch behind and says
 * why.
 *
 * Build: cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DKF_FUZZ=ON
 *        cmake --build build-fuzz --target fuzz_predict
 * Run:   build-fuzz/tests/fuzz_predict tests/fuzz/corpus/predict -max_total_time=60
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "predict/predict.h"

#define MODEL                                                                  \
	"{\"format\": \"kfboot.io/mlp-v1\", \"name\": \"xor\", \"inputs\": 2,"   \
	" \"layers\": [{\"units\": 2, \"activation\": \"tanh\","                \
	" \"weights\": [[10, 10], [10, 10]], \"bias\": [-5, -15]},"             \
	" {\"units\": 1, \"activation\": \"sigmoid\", \"weights\": [[6, -6]],"  \
	" \"bias\": [-6]}]}"

static struct kf_model *model;

static void check(const struct kf_batch *b, int rc, const struct kf_err *err,
		  bool v2)
{
	double *p;
	json_t *o;
	size_t i;

	if (rc) {
		if (!err || !err->msg || b->x || (rc != KF_EINVAL && rc != KF_ETOOBIG))
			abort();
		return;
	}
	if (b->rows < 1 || b->rows > 64 || b->cols != 2 || !b->x)
		abort();
	for (i = 0; i < b->rows * b->cols; i++) {
		if (!isfinite(b->x[i]))
			abort();
	}
	p = calloc(b->rows, sizeof(double));
	kf_model_predict(model, b->x, b->rows, p);
	for (i = 0; i < b->rows; i++) {
		if (!(p[i] >= 0 && p[i] <= 1))
			abort();
	}
	o = v2 ? kf_encode_v2(model, b, p) : kf_encode_v1(model, b, p);
	if (!o)
		abort();
	free(json_dumps(o, JSON_COMPACT));
	json_decref(o);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kf_batch b = KF_BATCH_INIT;
	struct kf_err *err = NULL;
	int rc;

	if (!model && kf_model_parse(&model, MODEL, strlen(MODEL), "fuzz", NULL))
		abort();
	rc = kf_decode_v2((const char *)data, size, 2, 64, &b, &err);
	check(&b, rc, err, true);
	kf_batch_release(&b);
	kf_err_clear(&err);
	rc = kf_decode_v1((const char *)data, size, 2, 64, &b, &err);
	check(&b, rc, err, false);
	kf_batch_release(&b);
	kf_err_clear(&err);
	return 0;
}
