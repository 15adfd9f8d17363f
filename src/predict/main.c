/*
 * main.c - kfboot-predict: serves a "kfboot.io/mlp-v1" model over the Open
 * Inference Protocol V2 (so it runs as a KServe custom predictor,
 * kserve-container on port 8080), KServe's V1 predict API, a page for
 * customers, /metrics and /healthz, on libmicrohttpd's epoll thread pool.
 *
 * With --upstream URL it still validates every request here (a bad one never
 * reaches the model server) and then asks another V2 server, for example a
 * KServe InferenceService, over a pool of keep-alive connections; a failure
 * there is a 502, a timeout a 504.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http/http.h"
#include "predict/predict.h"

struct app {
	struct kf_model *model;
	struct kf_metrics *metrics;
	struct kf_metric *m_rows, *m_upstream_err;
	struct kf_upstream *up;
	char *upstream_model;
	char *page;
	size_t page_len;
	size_t max_rows;
};

static const char usage[] =
	"usage: kfboot-predict --model FILE [options]\n"
	"\n"
	"Serve a kfboot.io/mlp-v1 model: Open Inference Protocol V2 under /v2,\n"
	"KServe V1 under /v1, a page for customers at /, /metrics, /healthz.\n"
	"\n"
	"  -m, --model FILE          the model (JSON, format kfboot.io/mlp-v1)\n"
	"  -l, --listen ADDR         address to listen on (default 0.0.0.0)\n"
	"  -p, --port N              port (default 8080; 0 = any free port)\n"
	"      --port-file FILE      write the port there once listening\n"
	"  -t, --threads N           worker threads (default: the cores; x8 with\n"
	"                            --upstream, whose requests block a thread)\n"
	"      --max-connections N   open connections (default 10000)\n"
	"      --timeout SECONDS     close idle connections after this (default 30)\n"
	"      --max-body BYTES      request body cap, 413 above (default 262144)\n"
	"      --max-rows N          rows per request, 413 above (default 4096)\n"
	"      --upstream URL        forward inference to this V2 server\n"
	"      --upstream-model NAME the model name there (default: this model's)\n"
	"      --upstream-connections N  keep-alive connections to it (default 32)\n"
	"      --upstream-timeout SECONDS  per request (default 5)\n"
	"  -v, --verbose             more logging (-vv for libmicrohttpd's)\n"
	"  -q, --quiet               errors only\n"
	"  -h, --help                this text\n"
	"      --version             the version\n";

/* ---- helpers ---------------------------------------------------------------- */

static void api_headers(struct kf_http_req *r)
{
	kf_http_resp_header(r, "Cache-Control", "no-store");
}

static void page_headers(struct kf_http_req *r)
{
	kf_http_resp_header(r, "Content-Security-Policy", KF_PAGE_CSP);
	kf_http_resp_header(r, "X-Frame-Options", "DENY");
	kf_http_resp_header(r, "Referrer-Policy", "no-referrer");
	kf_http_resp_header(r, "Cache-Control", "no-cache");
}

/*
 * Split a subpath "m", "m/ready", "m/versions/v", "m/versions/v/infer" into
 * model, version (may be empty) and action (may be empty). Returns false on
 * any other shape. Writes into caller buffers of 128 bytes.
 */
static bool split_model_path(const char *sub, char model[128], char version[128],
			     char action[128])
{
	const char *parts[5];
	size_t lens[5], n = 0;
	const char *p = sub;

	model[0] = version[0] = action[0] = '\0';
	while (n < 5) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 0 || len >= 128)
			return false;
		parts[n] = p;
		lens[n++] = len;
		if (!slash)
			break;
		p = slash + 1;
	}
	if (n == 5)
		return false;
	memcpy(model, parts[0], lens[0]);
	model[lens[0]] = '\0';
	if (n == 1)
		return true;
	if (n == 2) {
		memcpy(action, parts[1], lens[1]);
		action[lens[1]] = '\0';
		return true;
	}
	if (lens[1] != 8 || strncmp(parts[1], "versions", 8))
		return false;
	memcpy(version, parts[2], lens[2]);
	version[lens[2]] = '\0';
	if (n == 4) {
		memcpy(action, parts[3], lens[3]);
		action[lens[3]] = '\0';
	}
	return true;
}

/* 404 for another model name (quoted, shortened: it is the client's text). */
static bool check_model(struct app *a, struct kf_http_req *r, const char *name,
			const char *version)
{
	if (strcmp(name, a->model->name)) {
		kf_http_respond_error(r, 404,
				      "model '%.64s' is not served here (this server serves '%s')",
				      name, a->model->name);
		return false;
	}
	if (version[0] && strcmp(version, "1")) {
		kf_http_respond_error(r, 404, "model '%s' has only version '1'",
				      a->model->name);
		return false;
	}
	return true;
}

/* ---- plain routes ----------------------------------------------------------- */

static void h_page(struct kf_http_req *r, void *ud)
{
	struct app *a = ud;

	page_headers(r);
	kf_http_respond_static(r, 200, "text/html; charset=utf-8", a->page,
			       a->page_len);
}

static void h_js(struct kf_http_req *r, void *ud)
{
	kf_http_resp_header(r, "Cache-Control", "no-cache");
	kf_http_respond_static(r, 200, "text/javascript; charset=utf-8",
			       kf_page_js, strlen(kf_page_js));
}

static void h_css(struct kf_http_req *r, void *ud)
{
	kf_http_resp_header(r, "Cache-Control", "no-cache");
	kf_http_respond_static(r, 200, "text/css; charset=utf-8", kf_page_css,
			       strlen(kf_page_css));
}

static void h_healthz(struct kf_http_req *r, void *ud)
{
	api_headers(r);
	kf_http_respond_static(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

static void h_metrics(struct kf_http_req *r, void *ud)
{
	struct app *a = ud;
	struct kf_buf b = KF_BUF_INIT;

	kf_metrics_render(a->metrics, &b);
	api_headers(r);
	kf_http_respond(r, 200, KF_METRICS_CONTENT_TYPE, b.buf, b.len);
	kf_buf_release(&b);
}

static void h_live(struct kf_http_req *r, void *ud)
{
	static const char body[] = "{\"live\":true}";

	api_headers(r);
	kf_http_respond_static(r, 200, "application/json", body, sizeof(body) - 1);
}

static void h_ready(struct kf_http_req *r, void *ud)
{
	static const char body[] = "{\"ready\":true}";

	api_headers(r);
	kf_http_respond_static(r, 200, "application/json", body, sizeof(body) - 1);
}

static void h_server_meta(struct kf_http_req *r, void *ud)
{
	json_t *o = json_pack("{s:s, s:s, s:[]}", "name", "kfboot-predict",
			      "version", KF_VERSION, "extensions");

	api_headers(r);
	kf_http_respond_json(r, 200, o);
	json_decref(o);
}

static json_t *model_meta(const struct app *a)
{
	return json_pack(
		"{s:s, s:[s], s:s, s:[{s:s, s:s, s:[i, I]}], s:[{s:s, s:s, s:[i, i]}, {s:s, s:s, s:[i]}]}",
		"name", a->model->name, "versions", "1", "platform", "kfboot-mlp-v1",
		"inputs", "name", "x", "datatype", "FP64", "shape", -1,
		(json_int_t)a->model->inputs,
		"outputs", "name", "probability", "datatype", "FP64", "shape", -1, 1,
		"name", "class", "datatype", "INT64", "shape", -1);
}

/* GET /v2/models/{m}[/versions/{v}][/ready] */
static void h_v2_model_get(struct kf_http_req *r, void *ud)
{
	struct app *a = ud;
	char model[128], version[128], action[128];
	json_t *o;

	api_headers(r);
	if (!split_model_path(kf_http_req_subpath(r), model, version, action) ||
	    (action[0] && strcmp(action, "ready"))) {
		kf_http_respond_error(r, 404, "not found");
		return;
	}
	if (!check_model(a, r, model, version))
		return;
	if (action[0]) {
		o = json_pack("{s:s, s:b}", "name", a->model->name, "ready", 1);
	} else {
		o = model_meta(a);
	}
	kf_http_respond_json(r, 200, o);
	json_decref(o);
}

/* ---- inference ---------------------------------------------------------------- */

static int status_for(int code)
{
	return code == KF_ETOOBIG ? 413 : 400;
}

/* Ask the upstream V2 server for the probabilities of b's rows. On failure
 * the client has its answer already. */
static int ask_upstream(struct app *a, struct kf_http_req *r,
			const struct kf_batch *b, double *prob)
{
	json_t *req, *data, *resp = NULL, *outs, *out = NULL;
	struct kf_buf body = KF_BUF_INIT;
	struct kf_err *err = NULL;
	char *text, *path, *msg;
	long status = 0;
	size_t i, n = 0, stride = 1, col = 0;
	int rc;

	data = json_array();
	for (i = 0; i < b->rows * b->cols; i++)
		json_array_append_new(data, json_real(b->x[i]));
	req = json_pack("{s:[{s:s, s:s, s:[I, I], s:o}]}", "inputs", "name",
			b->input_name ? b->input_name : "x", "datatype", "FP64",
			"shape", (json_int_t)b->rows, (json_int_t)b->cols, "data",
			data);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	path = kf_xasprintf("/v2/models/%s/infer", a->upstream_model);
	rc = kf_upstream_post(a->up, path, text, strlen(text), &status, &body, &err);
	free(path);
	free(text);
	if (rc) {
		msg = kf_err_str(err);
		kf_warn("%s", msg);
		kf_metric_add(a->m_upstream_err,
			      (const char *[]){ rc == KF_ETIMEOUT ? "timeout" : "transport" }, 1);
		kf_http_respond_error(r, rc == KF_ETIMEOUT ? 504 : 502, "%s",
				      rc == KF_ETIMEOUT ? "the model server did not answer in time"
							: "the model server cannot be reached");
		free(msg);
		kf_err_free(err);
		kf_buf_release(&body);
		return -1;
	}
	resp = json_loadb(body.buf, body.len, 0, NULL);
	if (status != 200) {
		const char *e = json_string_value(json_object_get(resp, "error"));

		kf_metric_add(a->m_upstream_err, (const char *[]){ "status" }, 1);
		kf_warn("upstream answered %ld: %.200s", status, e ? e : body.buf);
		if (status >= 400 && status < 500 && status != 404)
			kf_http_respond_error(r, (unsigned)status, "model server: %.200s",
					      e ? e : "request refused");
		else
			kf_http_respond_error(r, 502, "the model server answered %ld", status);
		rc = -1;
		goto out;
	}
	/* the "probability" output, else the first output; N values, or N x 2
	 * (per-class probabilities, as scikit-learn's predict_proba gives) */
	outs = json_object_get(resp, "outputs");
	for (i = 0; i < json_array_size(outs); i++) {
		json_t *o = json_array_get(outs, i);

		const char *name = json_string_value(json_object_get(o, "name"));

		if (!out)
			out = o;
		if (name && !strcmp(name, "probability")) {
			out = o;
			break;
		}
	}
	data = json_object_get(out, "data");
	n = json_array_size(data);
	if (n == 2 * b->rows) {
		stride = 2;
		col = 1;
	}
	if (!out || (n != b->rows && n != 2 * b->rows)) {
		kf_metric_add(a->m_upstream_err, (const char *[]){ "answer" }, 1);
		kf_http_respond_error(r, 502, "the model server's answer has no usable output");
		rc = -1;
		goto out;
	}
	for (i = 0; i < b->rows; i++) {
		json_t *v = json_array_get(data, i * stride + col);

		if (!json_is_number(v)) {
			kf_metric_add(a->m_upstream_err, (const char *[]){ "answer" }, 1);
			kf_http_respond_error(r, 502, "the model server's answer holds a non-number");
			rc = -1;
			goto out;
		}
		prob[i] = json_number_value(v);
	}
	rc = 0;
out:
	json_decref(resp);
	kf_buf_release(&body);
	return rc;
}

static void infer(struct app *a, struct kf_http_req *r, bool v2)
{
	struct kf_batch b = KF_BATCH_INIT;
	struct kf_err *err = NULL;
	const char *body;
	size_t len;
	double *prob = NULL;
	json_t *o;
	int rc;

	body = kf_http_req_body(r, &len);
	rc = v2 ? kf_decode_v2(body, len, a->model->inputs, a->max_rows, &b, &err)
		: kf_decode_v1(body, len, a->model->inputs, a->max_rows, &b, &err);
	if (rc) {
		kf_http_respond_error(r, (unsigned)status_for(rc), "%s",
				      err && err->msg ? err->msg : "bad request");
		kf_err_free(err);
		return;
	}
	prob = kf_xcalloc(b.rows, sizeof(double));
	if (a->up) {
		if (ask_upstream(a, r, &b, prob))
			goto out;
	} else {
		kf_model_predict(a->model, b.x, b.rows, prob);
	}
	kf_metric_add(a->m_rows, (const char *[]){ v2 ? "v2" : "v1" }, (double)b.rows);
	o = v2 ? kf_encode_v2(a->model, &b, prob) : kf_encode_v1(a->model, &b, prob);
	kf_http_respond_json(r, 200, o);
	json_decref(o);
out:
	free(prob);
	kf_batch_release(&b);
}

/* POST /v2/models/{m}[/versions/{v}]/infer */
static void h_v2_infer(struct kf_http_req *r, void *ud)
{
	struct app *a = ud;
	char model[128], version[128], action[128];

	api_headers(r);
	if (!split_model_path(kf_http_req_subpath(r), model, version, action) ||
	    strcmp(action, "infer")) {
		kf_http_respond_error(r, 404, "not found (POST /v2/models/%s/infer)",
				      a->model->name);
		return;
	}
	if (check_model(a, r, model, version))
		infer(a, r, true);
}

/* GET /v1/models */
static void h_v1_list(struct kf_http_req *r, void *ud)
{
	struct app *a = ud;
	json_t *o = json_pack("{s:[s]}", "models", a->model->name);

	api_headers(r);
	kf_http_respond_json(r, 200, o);
	json_decref(o);
}

/* GET /v1/models/{m} */
static void h_v1_model(struct kf_http_req *r, void *ud)
{
	struct app *a = ud;
	json_t *o;

	api_headers(r);
	if (!check_model(a, r, kf_http_req_subpath(r), ""))
		return;
	o = json_pack("{s:s, s:b}", "name", a->model->name, "ready", 1);
	kf_http_respond_json(r, 200, o);
	json_decref(o);
}

/* POST /v1/models/{m}:predict */
static void h_v1_predict(struct kf_http_req *r, void *ud)
{
	struct app *a = ud;
	const char *sub = kf_http_req_subpath(r);
	size_t n = strlen(sub);
	char model[128];

	api_headers(r);
	if (n <= 8 || n - 8 >= sizeof(model) || strcmp(sub + n - 8, ":predict")) {
		kf_http_respond_error(r, 404, "not found (POST /v1/models/%s:predict)",
				      a->model->name);
		return;
	}
	memcpy(model, sub, n - 8);
	model[n - 8] = '\0';
	if (check_model(a, r, model, ""))
		infer(a, r, false);
}

/* ---- main ------------------------------------------------------------------ */

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

enum {
	OPT_PORT_FILE = 256, OPT_MAXCONN, OPT_TIMEOUT, OPT_MAXBODY, OPT_MAXROWS,
	OPT_UPSTREAM, OPT_UPMODEL, OPT_UPCONN, OPT_UPTIMEOUT, OPT_VERSION,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "threads", required_argument, NULL, 't' },
		{ "max-connections", required_argument, NULL, OPT_MAXCONN },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "max-body", required_argument, NULL, OPT_MAXBODY },
		{ "max-rows", required_argument, NULL, OPT_MAXROWS },
		{ "upstream", required_argument, NULL, OPT_UPSTREAM },
		{ "upstream-model", required_argument, NULL, OPT_UPMODEL },
		{ "upstream-connections", required_argument, NULL, OPT_UPCONN },
		{ "upstream-timeout", required_argument, NULL, OPT_UPTIMEOUT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct kf_http_opts ho = KF_HTTP_OPTS_INIT;
	struct kf_http_server *srv = NULL;
	struct app a;
	struct kf_err *err = NULL;
	const char *model_path = NULL, *port_file = NULL, *upstream = NULL;
	unsigned long v, up_conns = 32;
	double up_timeout = 5, d;
	int c, verbose = 0, quiet = 0, rc = 1, sig;
	bool threads_set = false;
	sigset_t set;

	memset(&a, 0, sizeof(a));
	a.max_rows = 4096;
	ho.bind = "0.0.0.0";
	ho.port = 8080;
	ho.body_max = 256 * 1024;
	ho.metrics_prefix = "kfboot_predict";

	while ((c = getopt_long(argc, argv, "m:l:p:t:vqh", longopts, NULL)) != -1) {
		const char *bad = NULL;

		switch (c) {
		case 'm': model_path = optarg; break;
		case 'l': ho.bind = optarg; break;
		case 'p':
			if (parse_uint(optarg, 65535, &v)) bad = "--port";
			else ho.port = (unsigned)v;
			break;
		case OPT_PORT_FILE: port_file = optarg; break;
		case 't':
			if (parse_uint(optarg, 1024, &v) || !v) bad = "--threads";
			else { ho.threads = (unsigned)v; threads_set = true; }
			break;
		case OPT_MAXCONN:
			if (parse_uint(optarg, 1000000, &v) || !v) bad = "--max-connections";
			else ho.conn_limit = (unsigned)v;
			break;
		case OPT_TIMEOUT:
			if (kf_duration_parse(optarg, &d) || d < 1 || d > 86400) bad = "--timeout";
			else ho.timeout_s = (unsigned)d;
			break;
		case OPT_MAXBODY:
			if (parse_uint(optarg, 1UL << 30, &v) || !v) bad = "--max-body";
			else ho.body_max = v;
			break;
		case OPT_MAXROWS:
			if (parse_uint(optarg, 1000000, &v) || !v) bad = "--max-rows";
			else a.max_rows = v;
			break;
		case OPT_UPSTREAM: upstream = optarg; break;
		case OPT_UPMODEL: a.upstream_model = kf_xstrdup(optarg); break;
		case OPT_UPCONN:
			if (parse_uint(optarg, 4096, &v) || !v) bad = "--upstream-connections";
			else up_conns = v;
			break;
		case OPT_UPTIMEOUT:
			if (kf_duration_parse(optarg, &up_timeout) || up_timeout <= 0)
				bad = "--upstream-timeout";
			break;
		case 'v': verbose++; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		case OPT_VERSION: printf("kfboot-predict %s\n", KF_VERSION); return 0;
		default: fputs(usage, stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "kfboot-predict: %s: '%s' is not a valid value\n", bad, optarg);
			return 2;
		}
	}
	if (optind < argc || !model_path) {
		fprintf(stderr, "kfboot-predict: %s\n%s",
			model_path ? "unexpected argument" : "--model FILE is required", usage);
		free(a.upstream_model);
		return 2;
	}
	kf_log_set_level(quiet ? KF_LOG_ERROR : KF_LOG_INFO + verbose);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	if (kf_model_load(&a.model, model_path, &err))
		goto out;
	if (upstream) {
		if (kf_upstream_new(&a.up, upstream, up_conns, 2, up_timeout, &err))
			goto out;
		if (!a.upstream_model)
			a.upstream_model = kf_xstrdup(a.model->name);
		if (!threads_set) {
			long n = sysconf(_SC_NPROCESSORS_ONLN);

			ho.threads = (unsigned)(n > 0 ? n : 1) * 8;
		}
	}
	a.page = kf_page_html(a.model);
	a.page_len = strlen(a.page);

	kf_metrics_new(&a.metrics);
	ho.metrics = a.metrics;
	{
		struct kf_metric *info = kf_metrics_gauge(
			a.metrics, "kfboot_predict_model_info",
			"The model being served (value 1).", 2,
			(const char *[]){ "model", "inputs" }, &err);
		char ins[32];

		a.m_rows = kf_metrics_counter(a.metrics, "kfboot_predict_rows_total",
					      "Rows predicted, by API.", 1,
					      (const char *[]){ "api" }, &err);
		a.m_upstream_err = kf_metrics_counter(
			a.metrics, "kfboot_predict_upstream_errors_total",
			"Failed requests to the upstream model server, by kind.", 1,
			(const char *[]){ "kind" }, &err);
		if (!info || !a.m_rows || !a.m_upstream_err)
			goto out;
		snprintf(ins, sizeof(ins), "%zu", a.model->inputs);
		kf_metric_set(info, (const char *[]){ a.model->name, ins }, 1);
	}

	if (kf_http_server_new(&srv, &ho, &err))
		goto out;
	kf_http_server_route(srv, "GET", "/", KF_HTTP_EXACT, "page", h_page, &a);
	kf_http_server_route(srv, "GET", "/app.js", KF_HTTP_EXACT, "asset", h_js, &a);
	kf_http_server_route(srv, "GET", "/app.css", KF_HTTP_EXACT, "asset", h_css, &a);
	kf_http_server_route(srv, "GET", "/healthz", KF_HTTP_EXACT, "healthz", h_healthz, &a);
	kf_http_server_route(srv, "GET", "/metrics", KF_HTTP_EXACT, "metrics", h_metrics, &a);
	kf_http_server_route(srv, "GET", "/v2/health/live", KF_HTTP_EXACT, "v2_health", h_live, &a);
	kf_http_server_route(srv, "GET", "/v2/health/ready", KF_HTTP_EXACT, "v2_health", h_ready, &a);
	kf_http_server_route(srv, "GET", "/v2", KF_HTTP_EXACT, "v2_meta", h_server_meta, &a);
	kf_http_server_route(srv, "GET", "/v2/models/", KF_HTTP_PREFIX, "v2_model", h_v2_model_get, &a);
	kf_http_server_route(srv, "POST", "/v2/models/", KF_HTTP_PREFIX, "v2_infer", h_v2_infer, &a);
	kf_http_server_route(srv, "GET", "/v1/models", KF_HTTP_EXACT, "v1_model", h_v1_list, &a);
	kf_http_server_route(srv, "GET", "/v1/models/", KF_HTTP_PREFIX, "v1_model", h_v1_model, &a);
	kf_http_server_route(srv, "POST", "/v1/models/", KF_HTTP_PREFIX, "v1_predict", h_v1_predict, &a);

	/* the worker threads inherit this mask: signals reach sigwait below */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (kf_http_server_start(srv, &err))
		goto out;
	if (port_file) {
		char buf[16];
		int n = snprintf(buf, sizeof(buf), "%u\n", kf_http_server_port(srv));

		if (kf_file_write_atomic(port_file, buf, (size_t)n, 0644, &err))
			goto out;
	}
	kf_info("kfboot-predict: serving model '%s' (%zu inputs, %zu layers) on %s port %u%s%s",
		a.model->name, a.model->inputs, a.model->nlayers, ho.bind,
		kf_http_server_port(srv), a.up ? ", upstream " : "", a.up ? upstream : "");
	sigwait(&set, &sig);
	kf_info("kfboot-predict: signal %d, stopping", sig);
	rc = 0;
out:
	if (err) {
		char *msg = kf_err_str(err);

		fprintf(stderr, "kfboot-predict: %s\n", msg);
		free(msg);
		kf_err_free(err);
	}
	kf_http_server_free(srv);
	kf_metrics_free(a.metrics);
	kf_upstream_free(a.up);
	kf_model_free(a.model);
	free(a.upstream_model);
	free(a.page);
	curl_global_cleanup();
	return rc;
}
