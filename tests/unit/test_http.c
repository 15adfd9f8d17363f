/*
 * test_http.c - unit tests for src/http: a real server on an ephemeral
 * loopback port driven by libcurl (routes, 404/405/413, headers, query
 * arguments, raw bodies, request metrics, many concurrent clients), the
 * metrics registry's exposition text, and webhook HMAC verification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <ctype.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "http/http.h"

/* ---- a client ------------------------------------------------------------ */

struct reply {
	long code;
	struct kf_buf body;
	struct kf_buf headers;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	kf_buf_add(ud, p, sz * n);
	return sz * n;
}

/* Send one request; returns the curl result. */
static CURLcode fetch(unsigned port, const char *method, const char *path,
		      const char *body, long bodylen, const char *extra_header,
		      struct reply *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char *url = kf_xasprintf("http://127.0.0.1:%u%s", port, path);
	CURLcode rc;

	kf_buf_init(&out->body, 0);
	kf_buf_init(&out->headers, 0);
	out->code = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, bodylen);
	}
	h = curl_slist_append(h, "Expect:");
	if (extra_header)
		h = curl_slist_append(h, extra_header);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(url);
	return rc;
}

static void reply_release(struct reply *r)
{
	kf_buf_release(&r->body);
	kf_buf_release(&r->headers);
}

/* ---- a server -------------------------------------------------------------- */

struct fixture {
	struct kf_metrics *metrics;
	struct kf_http_server *srv;
	unsigned port;
};

static void h_hello(struct kf_http_req *r, void *ud)
{
	json_t *o = json_pack("{s:s, s:s?}", "hello", "world", "q",
			      kf_http_req_query(r, "q"));

	kf_http_resp_header(r, "X-Test", "yes");
	kf_http_respond_json(r, 200, o);
	json_decref(o);
}

static void h_echo(struct kf_http_req *r, void *ud)
{
	size_t len;
	const char *b = kf_http_req_body(r, &len);
	const char *ct = kf_http_req_header(r, "content-type");

	kf_http_respond(r, 200, ct ? ct : "application/octet-stream", b, len);
}

static void h_items(struct kf_http_req *r, void *ud)
{
	kf_http_respond_text(r, 200, "item=%s", kf_http_req_subpath(r));
}

static void h_silent(struct kf_http_req *r, void *ud)
{
	(void)r; /* forgets to answer: the server must say 500 */
}

static void h_hook(struct kf_http_req *r, void *ud)
{
	size_t len;
	const char *b = kf_http_req_body(r, &len);

	if (!kf_http_hmac_sha256_verify(ud, b, len,
					kf_http_req_header(r, "X-Hub-Signature-256"))) {
		kf_http_respond_error(r, 401, "bad signature");
		return;
	}
	kf_http_respond_text(r, 202, "accepted");
}

static int setup(void **state)
{
	struct fixture *f = kf_xcalloc(1, sizeof(*f));
	struct kf_http_opts o = KF_HTTP_OPTS_INIT;
	struct kf_err *err = NULL;

	kf_metrics_new(&f->metrics);
	o.bind = "127.0.0.1";
	o.port = 0;
	o.threads = 2;
	o.body_max = 1000;
	o.timeout_s = 5;
	o.metrics = f->metrics;
	o.metrics_prefix = "t";
	assert_int_equal(kf_http_server_new(&f->srv, &o, &err), 0);
	kf_http_server_route(f->srv, "GET", "/hello", KF_HTTP_EXACT, "hello",
			     h_hello, NULL);
	kf_http_server_route(f->srv, "POST", "/echo", KF_HTTP_EXACT, "echo",
			     h_echo, NULL);
	kf_http_server_route(f->srv, "GET", "/items/", KF_HTTP_PREFIX, "items",
			     h_items, NULL);
	kf_http_server_route(f->srv, "DELETE", "/items/", KF_HTTP_PREFIX,
			     "items", h_items, NULL);
	kf_http_server_route(f->srv, "GET", "/silent", KF_HTTP_EXACT, NULL,
			     h_silent, NULL);
	kf_http_server_route(f->srv, "POST", "/hook", KF_HTTP_EXACT, "hook",
			     h_hook, "It's a Secret to Everybody");
	assert_int_equal(kf_http_server_start(f->srv, &err), 0);
	f->port = kf_http_server_port(f->srv);
	assert_true(f->port > 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	kf_http_server_free(f->srv);
	kf_metrics_free(f->metrics);
	free(f);
	return 0;
}

/* ---- server tests -------------------------------------------------------- */

static void test_http_route__exact_json_and_headers(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	assert_int_equal(fetch(f->port, "GET", "/hello?q=a%20b", NULL, 0, NULL, &r),
			 CURLE_OK);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.body.buf, "{\"hello\":\"world\",\"q\":\"a b\"}");
	assert_non_null(strstr(r.headers.buf, "X-Test: yes"));
	assert_non_null(strstr(r.headers.buf, "Content-Type: application/json"));
	assert_non_null(strstr(r.headers.buf, "X-Content-Type-Options: nosniff"));
	reply_release(&r);

	/* HEAD is answered by the GET route, without a body */
	assert_int_equal(fetch(f->port, "HEAD", "/hello", NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.code, 200);
	assert_int_equal(r.body.len, 0);
	reply_release(&r);

	/* exact means exact */
	assert_int_equal(fetch(f->port, "GET", "/hello/x", NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.code, 404);
	assert_string_equal(r.body.buf, "{\"error\":\"not found\"}");
	reply_release(&r);
}

static void test_http_route__prefix_subpath(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	assert_int_equal(fetch(f->port, "GET", "/items/abc/def", NULL, 0, NULL, &r),
			 CURLE_OK);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.body.buf, "item=abc/def");
	reply_release(&r);
	assert_int_equal(fetch(f->port, "DELETE", "/items/9", NULL, 0, NULL, &r),
			 CURLE_OK);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.body.buf, "item=9");
	reply_release(&r);
}

static void test_http_route__wrong_method_405_with_allow(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	assert_int_equal(fetch(f->port, "POST", "/hello", "x", 1, NULL, &r), CURLE_OK);
	assert_int_equal(r.code, 405);
	assert_non_null(strstr(r.headers.buf, "Allow: GET, HEAD"));
	assert_non_null(strstr(r.body.buf, "\"error\""));
	reply_release(&r);
	assert_int_equal(fetch(f->port, "PUT", "/items/1", "x", 1, NULL, &r), CURLE_OK);
	assert_int_equal(r.code, 405);
	assert_non_null(strstr(r.headers.buf, "Allow: GET, HEAD, DELETE"));
	reply_release(&r);
	assert_int_equal(fetch(f->port, "BREW", "/echo", NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.code, 405);
	assert_non_null(strstr(r.headers.buf, "Allow: POST"));
	reply_release(&r);
}

static void test_http_body__raw_bytes_and_cap(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char bin[1000];
	char *big;
	size_t i;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 7);
	/* exactly at the cap: accepted, bytes intact (NULs included) */
	assert_int_equal(fetch(f->port, "POST", "/echo", bin, sizeof(bin),
			       "Content-Type: application/x-test", &r), CURLE_OK);
	assert_int_equal(r.code, 200);
	assert_int_equal(r.body.len, sizeof(bin));
	assert_memory_equal(r.body.buf, bin, sizeof(bin));
	assert_non_null(strstr(r.headers.buf, "Content-Type: application/x-test"));
	reply_release(&r);

	/* one byte over: 413 with a JSON error */
	big = kf_xcalloc(1, 1001);
	memset(big, 'a', 1001);
	assert_int_equal(fetch(f->port, "POST", "/echo", big, 1001, NULL, &r), CURLE_OK);
	assert_int_equal(r.code, 413);
	assert_non_null(strstr(r.body.buf, "over 1000 bytes"));
	reply_release(&r);
	free(big);

	/* a big body sent in full after the early 413: the client still reads
	 * the answer */
	big = kf_xcalloc(1, 3 * 1024 * 1024);
	memset(big, 'c', 3 * 1024 * 1024);
	for (i = 0; i < 5; i++) {
		assert_int_equal(fetch(f->port, "POST", "/echo", big, 3 * 1024 * 1024,
				       NULL, &r), CURLE_OK);
		assert_int_equal(r.code, 413);
		reply_release(&r);
	}
	free(big);

	/* the server still answers */
	assert_int_equal(fetch(f->port, "GET", "/hello", NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.code, 200);
	reply_release(&r);
}

static void test_http_body__chunked_over_cap_is_cut(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char *big = kf_xcalloc(1, 5001);

	memset(big, 'b', 5000);
	/* no Content-Length: the server reads until the cap, then closes */
	fetch(f->port, "POST", "/echo", big, 5000, "Transfer-Encoding: chunked", &r);
	assert_true(r.code != 200);
	reply_release(&r);
	free(big);
	assert_int_equal(fetch(f->port, "GET", "/hello", NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.code, 200);
	reply_release(&r);
}

static void test_http_handler__no_answer_is_500(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	assert_int_equal(fetch(f->port, "GET", "/silent", NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.code, 500);
	reply_release(&r);
}

static void test_http_hook__signature_checked(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	/* GitHub's documented example: secret "It's a Secret to Everybody",
	 * payload "Hello, World!" */
	const char *good = "X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
	const char *bad = "X-Hub-Signature-256: sha256=857107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

	assert_int_equal(fetch(f->port, "POST", "/hook", "Hello, World!", 13, good, &r),
			 CURLE_OK);
	assert_int_equal(r.code, 202);
	reply_release(&r);
	assert_int_equal(fetch(f->port, "POST", "/hook", "Hello, World!", 13, bad, &r),
			 CURLE_OK);
	assert_int_equal(r.code, 401);
	reply_release(&r);
	assert_int_equal(fetch(f->port, "POST", "/hook", "Hello, World!", 13, NULL, &r),
			 CURLE_OK);
	assert_int_equal(r.code, 401);
	reply_release(&r);
}

struct hammer {
	unsigned port;
	int ok;
};

static void *hammer_run(void *ud)
{
	struct hammer *h = ud;
	int i;

	for (i = 0; i < 25; i++) {
		struct reply r;

		if (fetch(h->port, "GET", "/hello", NULL, 0, NULL, &r) == CURLE_OK &&
		    r.code == 200)
			h->ok++;
		reply_release(&r);
	}
	return NULL;
}

/* The value of the sample line starting with `prefix` (0 when absent). */
static double sample(struct kf_metrics *m, const char *prefix)
{
	struct kf_buf out = KF_BUF_INIT;
	const char *p;
	double v = 0; /* absent = never incremented */

	kf_metrics_render(m, &out);
	p = strstr(out.buf, prefix);
	if (p)
		v = strtod(p + strlen(prefix), NULL);
	kf_buf_release(&out);
	return v;
}

static void test_http_metrics__requests_recorded(void **state)
{
	const char *ok = "t_http_requests_total{route=\"hello\",method=\"GET\",code=\"200\"} ";
	const char *nf = "t_http_requests_total{route=\"unmatched\",method=\"GET\",code=\"404\"} ";
	const char *cnt = "t_http_request_duration_seconds_count{route=\"hello\"} ";
	double ok0, nf0, cnt0;
	struct fixture *f = *state;
	struct hammer h[8];
	pthread_t t[8];
	struct kf_buf out = KF_BUF_INIT;
	size_t i;
	int total = 0;

	ok0 = sample(f->metrics, ok);
	nf0 = sample(f->metrics, nf);
	cnt0 = sample(f->metrics, cnt);
	for (i = 0; i < 8; i++) {
		h[i].port = f->port;
		h[i].ok = 0;
		assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		total += h[i].ok;
	}
	assert_int_equal(total, 200);
	{
		struct reply r;

		assert_int_equal(fetch(f->port, "GET", "/nope", NULL, 0, NULL, &r), CURLE_OK);
		reply_release(&r);
	}
	/* the completion callback may run just after the client has its answer */
	for (i = 0; i < 100; i++) {
		if (sample(f->metrics, ok) == ok0 + 200 &&
		    sample(f->metrics, nf) == nf0 + 1 &&
		    sample(f->metrics, "t_http_requests_in_flight ") == 0)
			break;
		kf_sleep(0.01);
	}
	assert_true(sample(f->metrics, ok) == ok0 + 200);
	assert_true(sample(f->metrics, nf) == nf0 + 1);
	assert_true(sample(f->metrics, cnt) == cnt0 + 200);
	assert_true(sample(f->metrics, "t_http_requests_in_flight ") == 0);
	kf_metrics_render(f->metrics, &out);
	assert_non_null(strstr(out.buf, "# TYPE t_http_requests_total counter\n"));
	assert_non_null(strstr(out.buf, "# TYPE t_http_request_duration_seconds histogram\n"));
	assert_non_null(strstr(out.buf, "t_http_request_duration_seconds_bucket{route=\"hello\",le=\"+Inf\"} "));
	assert_non_null(strstr(out.buf, "# TYPE t_http_requests_in_flight gauge\n"));
	kf_buf_release(&out);
}

static void test_http_server__bad_bind_and_busy_port(void **state)
{
	struct fixture *f = *state;
	struct kf_http_opts o = KF_HTTP_OPTS_INIT;
	struct kf_http_server *s = NULL;
	struct kf_err *err = NULL;
	char *msg;

	o.bind = "not-an-address";
	assert_int_equal(kf_http_server_new(&s, &o, &err), 0);
	assert_int_equal(kf_http_server_start(s, &err), KF_EINVAL);
	msg = kf_err_str(err);
	assert_non_null(strstr(msg, "not-an-address"));
	free(msg);
	kf_err_clear(&err);
	kf_http_server_free(s);

	o.bind = "127.0.0.1";
	o.port = f->port;
	assert_int_equal(kf_http_server_new(&s, &o, &err), 0);
	assert_int_equal(kf_http_server_start(s, &err), KF_EIO);
	kf_err_clear(&err);
	kf_http_server_free(s);
}

/* ---- metrics registry ---------------------------------------------------- */

static void test_http_metrics__exposition_text(void **state)
{
	struct kf_metrics *m;
	struct kf_metric *c, *g, *h, *plain;
	struct kf_buf out = KF_BUF_INIT;
	static const char *const ln[] = { "path", "code" };
	static const char *const hl[] = { "op" };
	const double bounds[] = { 0.1, 1 };
	struct kf_err *err = NULL;

	kf_metrics_new(&m);
	c = kf_metrics_counter(m, "x_requests_total", "Requests.\nWith \\ newline.",
			       2, ln, &err);
	g = kf_metrics_gauge(m, "x_temp", "Temperature.", 0, NULL, &err);
	h = kf_metrics_histogram(m, "x_seconds", "Latency.", 1, hl, bounds, 2, &err);
	plain = kf_metrics_counter(m, "x_empty_total", "Never touched.", 0, NULL, &err);
	assert_non_null(c);
	assert_non_null(g);
	assert_non_null(h);
	assert_non_null(plain);
	kf_metric_add(c, (const char *[]){ "/a\"b\\c\nd", "200" }, 1);
	kf_metric_add(c, (const char *[]){ "/a\"b\\c\nd", "200" }, 2);
	kf_metric_add(c, (const char *[]){ "/", "404" }, 1);
	kf_metric_add(c, (const char *[]){ "/", "404" }, -5); /* ignored */
	kf_metric_set(g, NULL, 21.5);
	kf_metric_add(g, NULL, -1);
	kf_metric_observe(h, (const char *[]){ "get" }, 0.05);
	kf_metric_observe(h, (const char *[]){ "get" }, 0.1);
	kf_metric_observe(h, (const char *[]){ "get" }, 0.5);
	kf_metric_observe(h, (const char *[]){ "get" }, 7);
	kf_metrics_render(m, &out);
	assert_string_equal(out.buf,
		"# HELP x_requests_total Requests.\\nWith \\\\ newline.\n"
		"# TYPE x_requests_total counter\n"
		"x_requests_total{path=\"/a\\\"b\\\\c\\nd\",code=\"200\"} 3\n"
		"x_requests_total{path=\"/\",code=\"404\"} 1\n"
		"# HELP x_temp Temperature.\n"
		"# TYPE x_temp gauge\n"
		"x_temp 20.5\n"
		"# HELP x_seconds Latency.\n"
		"# TYPE x_seconds histogram\n"
		"x_seconds_bucket{op=\"get\",le=\"0.1\"} 2\n"
		"x_seconds_bucket{op=\"get\",le=\"1\"} 3\n"
		"x_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
		"x_seconds_sum{op=\"get\"} 7.65\n"
		"x_seconds_count{op=\"get\"} 4\n"
		"# HELP x_empty_total Never touched.\n"
		"# TYPE x_empty_total counter\n");
	assert_true(kf_metric_get(c, (const char *[]){ "/", "404" }) == 1);
	assert_true(kf_metric_get(h, (const char *[]){ "get" }) == 4);
	assert_true(kf_metric_get(c, (const char *[]){ "/", "500" }) == 0);
	kf_buf_release(&out);
	kf_metrics_free(m);
}

static void test_http_metrics__bad_names_refused(void **state)
{
	struct kf_metrics *m;
	struct kf_err *err = NULL;
	static const char *const le[] = { "le" };
	static const char *const bad[] = { "9x" };
	const double down[] = { 1, 0.5 };

	kf_metrics_new(&m);
	assert_null(kf_metrics_counter(m, "1abc", "x", 0, NULL, &err));
	assert_int_equal(kf_err_code(err), KF_EINVAL);
	kf_err_clear(&err);
	assert_null(kf_metrics_counter(m, "a-b", "x", 0, NULL, &err));
	kf_err_clear(&err);
	assert_null(kf_metrics_histogram(m, "h", "x", 1, le, NULL, 0, &err));
	kf_err_clear(&err);
	assert_null(kf_metrics_gauge(m, "g", "x", 1, bad, &err));
	kf_err_clear(&err);
	assert_null(kf_metrics_histogram(m, "h2", "x", 0, NULL, down, 2, &err));
	kf_err_clear(&err);
	assert_non_null(kf_metrics_counter(m, "ok_total", "x", 0, NULL, &err));
	assert_null(kf_metrics_counter(m, "ok_total", "x", 0, NULL, &err));
	assert_int_equal(kf_err_code(err), KF_ECONFLICT);
	kf_err_clear(&err);
	kf_metrics_free(m);
}

static void *count_run(void *ud)
{
	struct kf_metric *c = ud;
	int i;

	for (i = 0; i < 10000; i++)
		kf_metric_add(c, (const char *[]){ i % 2 ? "odd" : "even" }, 1);
	return NULL;
}

static void test_http_metrics__thread_safe(void **state)
{
	struct kf_metrics *m;
	struct kf_metric *c;
	static const char *const l[] = { "k" };
	pthread_t t[4];
	int i;

	kf_metrics_new(&m);
	c = kf_metrics_counter(m, "n_total", "n", 1, l, NULL);
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, count_run, c);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_true(kf_metric_get(c, (const char *[]){ "odd" }) == 20000);
	assert_true(kf_metric_get(c, (const char *[]){ "even" }) == 20000);
	kf_metrics_free(m);
}

/* ---- HMAC ---------------------------------------------------------------- */

static void test_http_hmac__vectors(void **state)
{
	/* RFC 4231 test case 2 */
	const char *data = "what do ya want for nothing?";
	const char *mac = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
	char *sig = kf_xasprintf("sha256=%s", mac);
	char *upper = kf_xstrdup(sig);
	size_t i;

	assert_true(kf_http_hmac_sha256_verify("Jefe", data, strlen(data), sig));
	assert_true(kf_http_hmac_sha256_verify("Jefe", data, strlen(data), mac));
	for (i = 7; upper[i]; i++)
		upper[i] = (char)toupper((unsigned char)upper[i]);
	assert_true(kf_http_hmac_sha256_verify("Jefe", data, strlen(data), upper));
	/* wrong key, body, truncated, not hex, wrong prefix, empty secret */
	assert_false(kf_http_hmac_sha256_verify("jefe", data, strlen(data), sig));
	assert_false(kf_http_hmac_sha256_verify("Jefe", data, strlen(data) - 1, sig));
	sig[strlen(sig) - 1] = '\0';
	assert_false(kf_http_hmac_sha256_verify("Jefe", data, strlen(data), sig));
	strcat(sig, "g");
	assert_false(kf_http_hmac_sha256_verify("Jefe", data, strlen(data), sig));
	assert_false(kf_http_hmac_sha256_verify("Jefe", data, strlen(data),
						"sha1=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
	assert_false(kf_http_hmac_sha256_verify("", data, strlen(data), mac));
	assert_false(kf_http_hmac_sha256_verify("Jefe", data, strlen(data), NULL));
	assert_false(kf_http_hmac_sha256_verify("Jefe", data, strlen(data), ""));
	free(sig);
	free(upper);
}

int main(void)
{
	const struct CMUnitTest server[] = {
		cmocka_unit_test(test_http_route__exact_json_and_headers),
		cmocka_unit_test(test_http_route__prefix_subpath),
		cmocka_unit_test(test_http_route__wrong_method_405_with_allow),
		cmocka_unit_test(test_http_body__raw_bytes_and_cap),
		cmocka_unit_test(test_http_body__chunked_over_cap_is_cut),
		cmocka_unit_test(test_http_handler__no_answer_is_500),
		cmocka_unit_test(test_http_hook__signature_checked),
		cmocka_unit_test(test_http_metrics__requests_recorded),
		cmocka_unit_test(test_http_server__bad_bind_and_busy_port),
	};
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(test_http_metrics__exposition_text),
		cmocka_unit_test(test_http_metrics__bad_names_refused),
		cmocka_unit_test(test_http_metrics__thread_safe),
		cmocka_unit_test(test_http_hmac__vectors),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests_name("http server", server, setup, teardown);
	rc |= cmocka_run_group_tests_name("http metrics and hmac", plain, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
