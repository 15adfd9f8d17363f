/*
 * predict.h - the prediction server's pieces, kept apart from its main() so
 * that the unit tests and the fuzz target can use them:
 *
 *  - the model: a small multi-layer perceptron stored as JSON in the format
 *    "kfboot.io/mlp-v1" (the XOR study writes it), loaded, validated with
 *    messages naming the file and the JSON path of a bad value, and evaluated
 *    in double precision;
 *  - the request codecs: the Open Inference Protocol V2 infer request and
 *    KServe's V1 predict request decoded into a row-major matrix of doubles
 *    (every check a client can fail is here: malformed JSON, shape,
 *    datatype, non-finite numbers, too many rows), and the answers encoded;
 *  - the upstream pool: forwarding inference to another V2 server over
 *    keep-alive connections;
 *  - the customer page's assets.
 *
 * The model format (one JSON object):
 *   {"format": "kfboot.io/mlp-v1", "name": "xor", "inputs": 2,
 *    "layers": [{"units": 8, "activation": "tanh",
 *                "weights": [[one value per input] one row per unit],
 *                "bias": [one per unit]}, ...,
 *               {"units": 1, "activation": "sigmoid", ...}],
 *    "classes": ["0", "1"], "threshold": 0.5, "meta": {...}}
 * Activations: identity, tanh, relu, sigmoid. The last layer has one sigmoid
 * unit: the probability of classes[1]; a row is classes[1] when that
 * probability is >= threshold.
 */
#ifndef KF_PREDICT_H
#define KF_PREDICT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "util/util.h"

#define KF_MODEL_FORMAT "kfboot.io/mlp-v1"
#define KF_MODEL_MAX_INPUTS 1024
#define KF_MODEL_MAX_UNITS 4096
#define KF_MODEL_MAX_LAYERS 32

enum kf_activation {
	KF_ACT_IDENTITY,
	KF_ACT_TANH,
	KF_ACT_RELU,
	KF_ACT_SIGMOID,
};

struct kf_layer {
	size_t units, ins;
	enum kf_activation act;
	double *w; /* units x ins, row-major */
	double *b; /* units */
};

struct kf_model {
	char *name;
	size_t inputs;
	struct kf_layer *layers;
	size_t nlayers;
	size_t max_units;
	char *classes[2];
	double threshold;
	json_t *meta; /* may be NULL */
};

/* Parse and validate a model from text; `origin` names it in errors. */
int kf_model_parse(struct kf_model **out, const char *text, size_t len,
		   const char *origin, struct kf_err **err);
/* Read and parse a model file. */
int kf_model_load(struct kf_model **out, const char *path,
		  struct kf_err **err);
void kf_model_free(struct kf_model *m);

/* Probability of classes[1] for each of `rows` rows of x (rows x inputs). */
void kf_model_predict(const struct kf_model *m, const double *x, size_t rows,
		      double *prob);
/* The class index (0 or 1) for a probability. */
static inline int kf_model_class(const struct kf_model *m, double p)
{
	return p >= m->threshold ? 1 : 0;
}

/* ---- requests ------------------------------------------------------------ */

enum kf_dtype { KF_FP64, KF_FP32 };

/* A decoded request: `rows` x `cols` doubles, row-major. */
struct kf_batch {
	size_t rows, cols;
	double *x;
	enum kf_dtype dtype;  /* V2: the input's datatype; answers use it */
	char *input_name;     /* V2 */
	char *id;             /* V2 request id, echoed; may be NULL */
	bool want_prob, want_class; /* V2 "outputs" (both when absent) */
};

#define KF_BATCH_INIT { 0, 0, NULL, KF_FP64, NULL, NULL, true, true }
void kf_batch_release(struct kf_batch *b);

/*
 * Decode a V2 infer request for a model with `cols` inputs. One input
 * tensor, datatype FP32 or FP64, shape [N, cols] (or [cols] for one row),
 * data flat or nested row-major, N*cols finite numbers; 1 <= N <= max_rows.
 * Optional "id" (string), "parameters" (object), "outputs" (names among
 * "probability", "class"). Returns 0, KF_EINVAL (the client's mistake: 400)
 * or KF_ETOOBIG (too many rows: 413), with a message for the client.
 */
int kf_decode_v2(const char *body, size_t len, size_t cols, size_t max_rows,
		 struct kf_batch *out, struct kf_err **err);
/* Decode a V1 predict request {"instances": [[x, ...], ...]}. */
int kf_decode_v1(const char *body, size_t len, size_t cols, size_t max_rows,
		 struct kf_batch *out, struct kf_err **err);

/*
 * The V2 answer: {"model_name", "model_version": "1", "id"?, "outputs": [
 *   {"name": "probability", "datatype": <input's>, "shape": [N, 1], "data"},
 *   {"name": "class", "datatype": "INT64", "shape": [N], "data": [0|1...]}]}
 * (outputs filtered as requested).
 */
json_t *kf_encode_v2(const struct kf_model *m, const struct kf_batch *b,
		     const double *prob);
/* The V1 answer: {"predictions": [p, ...], "classes": [label, ...]}. */
json_t *kf_encode_v1(const struct kf_model *m, const struct kf_batch *b,
		     const double *prob);

/* ---- upstream V2 server --------------------------------------------------- */

struct kf_upstream;

/* A pool of up to `conns` keep-alive connections to base URL `url`
 * ("http://host:port"), each request bounded by `timeout` seconds. */
int kf_upstream_new(struct kf_upstream **out, const char *url, size_t conns,
		    double connect_timeout, double timeout, struct kf_err **err);
void kf_upstream_free(struct kf_upstream *u);
/*
 * POST `body` (JSON) to base URL + `path`. On an answer from upstream returns
 * 0 with its status in *status and its body in *resp (capped at 8 MiB);
 * KF_ETIMEOUT when it did not answer in time (the caller says 504), KF_EIO
 * for any other failure (502).
 */
int kf_upstream_post(struct kf_upstream *u, const char *path,
		     const char *body, size_t len, long *status,
		     struct kf_buf *resp, struct kf_err **err);

/* ---- the customer page ---------------------------------------------------- */

/* The page's HTML for this model (caller frees), and the static assets. */
char *kf_page_html(const struct kf_model *m);
extern const char kf_page_js[];
extern const char kf_page_css[];
/* The Content-Security-Policy the page is written for (no inline script or
 * style, nothing from other origins, no framing). */
#define KF_PAGE_CSP                                                            \
	"default-src 'none'; script-src 'self'; style-src 'self'; "           \
	"img-src 'self'; connect-src 'self'; base-uri 'none'; "              \
	"form-action 'self'; frame-ancestors 'none'"

#endif
