/*
 * client.c - the Kubeflow Pipelines v2beta1 REST client (client.h).
 *
 * One libcurl easy handle per client, reused so the connection stays open;
 * requests are synchronous (the trigger path is sequential by design: it
 * must know the outcome of each step before taking the next). Response
 * bodies are read into a capped buffer. TLS is verified (system CAs or
 * ca_file). The bearer token is read from its file before every request and
 * registered with kf_redact so no log line can show it. Errors keep the
 * server's message from either error shape (googlerpcStatus or the upload
 * endpoints' {error_message, error_details}).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "kfp/client.h"
#include "kube/kube.h"

#define API "/apis/v2beta1"

struct kf_kfp {
	CURL *curl;
	char *endpoint;
	char *token_file;
	char *ca_file;
	struct kf_kfp_opts opts;
	struct kf_kfp_stats stats;
	char *down;   /* fail_fast: why KFP counts as down, or NULL */
};

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
	struct kf_buf *b = ud;

	if (kf_buf_add(b, p, sz * n))
		return 0; /* over the cap: curl stops with CURLE_WRITE_ERROR */
	return sz * n;
}

int kf_kfp_new(struct kf_kfp **out, const struct kf_kfp_opts *opts,
	       struct kf_err **err)
{
	struct kf_kfp *c;
	const char *ep = opts && opts->endpoint && *opts->endpoint ? opts->endpoint : KF_KFP_DEFAULT_ENDPOINT;
	size_t n;

	*out = NULL;
	if (!kf_str_startswith(ep, "http://") && !kf_str_startswith(ep, "https://"))
		return kf_err_set(err, KF_EINVAL, "kfp endpoint '%s': must start with http:// or https://", ep);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = kf_xcalloc(1, sizeof(*c));
	if (opts)
		c->opts = *opts;
	c->endpoint = kf_xstrdup(ep);
	n = strlen(c->endpoint);
	while (n && c->endpoint[n - 1] == '/')
		c->endpoint[--n] = 0;
	if (opts && opts->token_file && *opts->token_file)
		c->token_file = kf_xstrdup(opts->token_file);
	if (opts && opts->ca_file && *opts->ca_file)
		c->ca_file = kf_xstrdup(opts->ca_file);
	if (!c->opts.timeout)
		c->opts.timeout = 30;
	if (!c->opts.max_attempts)
		c->opts.max_attempts = 6;
	if (!c->opts.retry_base)
		c->opts.retry_base = 0.2;
	if (!c->opts.max_response)
		c->opts.max_response = 64u << 20;
	c->curl = curl_easy_init();
	if (!c->curl) {
		kf_kfp_free(c);
		return kf_err_set(err, KF_ERR, "kfp: cannot create a curl handle");
	}
	*out = c;
	return 0;
}

void kf_kfp_free(struct kf_kfp *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->endpoint);
	free(c->token_file);
	free(c->ca_file);
	free(c->down);
	free(c);
}

const char *kf_kfp_down(const struct kf_kfp *c)
{
	return c->down;
}

const struct kf_kfp_stats *kf_kfp_get_stats(const struct kf_kfp *c)
{
	return &c->stats;
}

const char *kf_kfp_endpoint(const struct kf_kfp *c)
{
	return c->endpoint;
}

bool kf_kfp_state_terminal(const char *s)
{
	return s && (!strcmp(s, "SUCCEEDED") || !strcmp(s, "SKIPPED") ||
		     !strcmp(s, "FAILED") || !strcmp(s, "CANCELED"));
}

/* The token, trimmed, or NULL when there is no token file. */
static int read_token(struct kf_kfp *c, char **out, struct kf_err **err)
{
	char *t = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!c->token_file)
		return 0;
	rc = kf_file_read(c->token_file, &t, &len, err);
	if (rc)
		return kf_err_wrap(err, "kfp: reading the bearer token");
	while (len && isspace((unsigned char)t[len - 1]))
		t[--len] = 0;
	if (!len) {
		free(t);
		return kf_err_set(err, KF_EAUTH, "kfp: token file '%s' is empty", c->token_file);
	}
	kf_redact_register(t);
	*out = t;
	return 0;
}

/* The server's message from either error shape, or the body's start. */
static char *error_message(const struct kf_buf *b)
{
	json_t *j = json_loadb(b->buf, b->len, 0, NULL);
	const char *m = NULL;
	char *s;

	if (j) {
		m = json_string_value(json_object_get(j, "message"));
		if (!m)
			m = json_string_value(json_object_get(j, "error_message"));
		if (!m)
			m = json_string_value(json_object_get(j, "error"));
	}
	if (m)
		s = kf_xstrdup(m);
	else
		s = kf_xstrndup(b->buf, b->len > 200 ? 200 : b->len);
	json_decref(j);
	return s;
}

static int code_of(long status)
{
	if (status == 404)
		return KF_ENOENT;
	if (status == 409)
		return KF_ECONFLICT;
	if (status == 401 || status == 403)
		return KF_EAUTH;
	if (status == 400)
		return KF_EINVAL;
	if (status == 429 || status >= 500 || status == 0)
		return KF_EAGAIN;
	return KF_ERR;
}

struct part {
	const char *fname;
	const char *data;
	size_t len;
};

/* One attempt. */
static int attempt(struct kf_kfp *c, const char *method, const char *url,
		   const char *body, size_t body_len, const char *ctype,
		   long *status, struct kf_buf *resp, struct kf_err **err)
{
	struct curl_slist *h = NULL;
	char *tok = NULL, *hv;
	char ebuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	int rc;
	CURL *e = c->curl;

	*status = 0;
	kf_buf_reset(resp);
	rc = read_token(c, &tok, err);
	if (rc)
		return rc;
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "GET"))
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	if (body || !strcmp(method, "POST")) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
	}
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(c->opts.timeout * 1000));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "kfboot/" KF_VERSION);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Expect:");
	if (ctype) {
		hv = kf_xasprintf("Content-Type: %s", ctype);
		h = curl_slist_append(h, hv);
		free(hv);
	}
	if (tok) {
		hv = kf_xasprintf("Authorization: Bearer %s", tok);
		h = curl_slist_append(h, hv);
		memset(hv, 0, strlen(hv));
		free(hv);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	c->stats.requests++;
	kf_trace("kfp", "%s %s", method, url);
	cc = curl_easy_perform(e);
	if (cc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h); /* the header copy holding the token */
	if (tok) {
		memset(tok, 0, strlen(tok));
		free(tok);
	}
	if (cc != CURLE_OK) {
		if (cc == CURLE_WRITE_ERROR && resp->len >= resp->cap && resp->cap)
			return kf_err_set(err, KF_ETOOBIG, "response over %zu bytes", resp->cap);
		return kf_err_set(err, KF_EAGAIN, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cc));
	}
	return 0;
}

static int call_raw(struct kf_kfp *c, const char *method, const char *path,
		    const char *body, size_t body_len, const char *ctype,
		    bool retry, long *status_out, json_t **out,
		    struct kf_err **err)
{
	struct kf_backoff bo = KF_BACKOFF_INIT(c->opts.retry_base, 5.0);
	struct kf_buf resp = KF_BUF_INIT;
	char *url = kf_xasprintf("%s" API "%s", c->endpoint, path);
	long status = 0;
	unsigned n = 0;
	int rc;

	if (out)
		*out = NULL;
	if (c->down) {
		c->stats.refused++;
		free(url);
		if (status_out)
			*status_out = 0;
		return kf_err_set(err, KF_EAGAIN, "%s %s: not sent, KFP did not answer earlier (%s)", method, path,
				  c->down);
	}
	resp.cap = c->opts.max_response;
	for (;;) {
		kf_err_clear(err);
		rc = attempt(c, method, url, body, body_len, ctype, &status, &resp, err);
		if (rc && rc != KF_EAGAIN)
			goto out;
		if (!rc && status >= 200 && status < 300)
			break;
		if (!rc) {
			char *m = error_message(&resp);

			rc = kf_err_set(err, code_of(status), "HTTP %ld: %s", status, m);
			free(m);
		}
		if (rc != KF_EAGAIN || !retry || ++n >= c->opts.max_attempts || kf_interrupted()) {
			if (rc == KF_EAGAIN && retry && c->opts.fail_fast && !c->down)
				c->down = kf_xstrdup((*err)->msg);
			goto out;
		}
		c->stats.retries++;
		kf_sleep(kf_backoff_next(&bo));
	}
	if (out) {
		json_error_t je;

		*out = resp.len ? json_loadb(resp.buf, resp.len, 0, &je) : json_object();
		if (!*out) {
			rc = kf_err_set(err, KF_ERR, "response is not JSON: %s", je.text);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc)
		kf_err_wrap(err, "kfp %s %s", method, path);
	if (status_out)
		*status_out = status;
	kf_buf_release(&resp);
	free(url);
	return rc;
}

int kf_kfp_call(struct kf_kfp *c, const char *method, const char *path,
		const json_t *body, bool retry, long *status, json_t **out,
		struct kf_err **err)
{
	char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc = call_raw(c, method, path, b, b ? strlen(b) : 0,
			  b ? "application/json" : NULL, retry, status, out, err);

	free(b);
	return rc;
}

char *kf_kfp_filter_eq(const char *key, const char *value)
{
	json_t *f;
	char *s, *e;

	for (const char *p = value; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._@-", *p))
			return NULL;
	f = json_pack("{s:[{s:s,s:s,s:s}]}", "predicates", "key", key,
		      "operation", "EQUALS", "string_value", value);
	s = json_dumps(f, JSON_COMPACT);
	e = kf_url_escape(s);
	free(s);
	json_decref(f);
	return e;
}

int kf_kfp_healthz(struct kf_kfp *c, json_t **out, struct kf_err **err)
{
	return kf_kfp_call(c, "GET", "/healthz", NULL, true, NULL, out, err);
}

/* Every item under `key` of a paged list at `path` (which has a '?'). */
static int list_all(struct kf_kfp *c, const char *path, const char *key,
		    json_t **out, struct kf_err **err)
{
	json_t *all = json_array(), *page = NULL;
	char *tok = NULL;
	int rc = 0;

	for (int guard = 0; guard < 10000; guard++) {
		char *esc = tok ? kf_url_escape(tok) : NULL;
		char *p = kf_xasprintf("%s&page_size=100%s%s", path, esc ? "&page_token=" : "", esc ? esc : "");
		const char *next;

		free(esc);
		rc = kf_kfp_call(c, "GET", p, NULL, true, NULL, &page, err);
		free(p);
		if (rc)
			break;
		if (json_is_array(json_object_get(page, key)))
			json_array_extend(all, json_object_get(page, key));
		next = json_string_value(json_object_get(page, "next_page_token"));
		free(tok);
		tok = next && *next ? kf_xstrdup(next) : NULL;
		json_decref(page);
		page = NULL;
		if (!tok)
			break;
	}
	free(tok);
	if (rc) {
		json_decref(all);
		return rc;
	}
	*out = all;
	return 0;
}

static int find_experiment(struct kf_kfp *c, const char *ns, const char *name,
			   char **id_out, struct kf_err **err)
{
	char *f = kf_kfp_filter_eq("display_name", name);
	char *nse = kf_url_escape(ns);
	char *p;
	json_t *arr = NULL, *it;
	size_t i;
	int rc;

	*id_out = NULL;
	if (!f) {
		free(nse);
		return kf_err_set(err, KF_EINVAL, "experiment name '%s': use only letters, digits and . _ @ -", name);
	}
	p = kf_xasprintf("/experiments?filter=%s%s%s", f, *ns ? "&namespace=" : "", *ns ? nse : "");
	rc = list_all(c, p, "experiments", &arr, err);
	if (!rc) {
		json_array_foreach(arr, i, it) {
			if (!strcmp(json_string_value(json_object_get(it, "display_name")) ?: "", name)) {
				*id_out = kf_xstrdup(json_string_value(json_object_get(it, "experiment_id")) ?: "");
				break;
			}
		}
		if (!*id_out)
			rc = KF_ENOENT;
	}
	json_decref(arr);
	free(p);
	free(f);
	free(nse);
	return rc;
}

int kf_kfp_experiment_ensure(struct kf_kfp *c, const char *ns,
			     const char *name, char **id_out,
			     struct kf_err **err)
{
	json_t *body, *res = NULL;
	int rc;

	rc = find_experiment(c, ns, name, id_out, err);
	if (rc != KF_ENOENT)
		return rc;
	body = json_pack("{s:s,s:s}", "display_name", name, "description", "created by kfboot");
	if (*ns)
		json_object_set_new(body, "namespace", json_string(ns));
	rc = kf_kfp_call(c, "POST", "/experiments", body, true, NULL, &res, err);
	json_decref(body);
	if (rc == KF_ECONFLICT) {
		kf_err_clear(err);
		return find_experiment(c, ns, name, id_out, err);
	}
	if (!rc)
		*id_out = kf_xstrdup(json_string_value(json_object_get(res, "experiment_id")) ?: "");
	json_decref(res);
	return rc;
}

int kf_kfp_pipeline_get(struct kf_kfp *c, const char *ns, const char *name,
			json_t **out, struct kf_err **err)
{
	char *n = kf_url_escape(name), *s = kf_url_escape(ns);
	char *p = kf_xasprintf("/pipelines/names/%s%s%s", n, *ns ? "?namespace=" : "", *ns ? s : "");
	int rc = kf_kfp_call(c, "GET", p, NULL, true, NULL, out, err);

	free(n);
	free(s);
	free(p);
	return rc;
}

static int upload(struct kf_kfp *c, const char *path, const char *fname,
		  const char *data, size_t len, json_t **out, struct kf_err **err)
{
	struct kf_buf b = KF_BUF_INIT;
	char bnd[65], *ct;
	int rc;

	kf_sha256_hex(data, len, bnd);
	bnd[40] = 0;
	kf_buf_addf(&b, "--kfboot%s\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=\"%s\"\r\n"
		    "Content-Type: application/octet-stream\r\n\r\n", bnd, fname);
	kf_buf_add(&b, data, len);
	kf_buf_addf(&b, "\r\n--kfboot%s--\r\n", bnd);
	ct = kf_xasprintf("multipart/form-data; boundary=kfboot%s", bnd);
	/* repeating an upload is safe: a second copy ends in a 409 */
	rc = call_raw(c, "POST", path, b.buf, b.len, ct, true, NULL, out, err);
	free(ct);
	kf_buf_release(&b);
	return rc;
}

int kf_kfp_pipeline_upload(struct kf_kfp *c, const char *ns, const char *name,
			   const char *fname, const char *data, size_t len,
			   json_t **out, struct kf_err **err)
{
	char *n = kf_url_escape(name), *s = kf_url_escape(ns);
	char *p = kf_xasprintf("/pipelines/upload?name=%s%s%s", n, *ns ? "&namespace=" : "", *ns ? s : "");
	int rc = upload(c, p, fname, data, len, out, err);

	free(n);
	free(s);
	free(p);
	return rc;
}

int kf_kfp_version_upload(struct kf_kfp *c, const char *pipeline_id,
			  const char *name, const char *fname,
			  const char *data, size_t len, json_t **out,
			  struct kf_err **err)
{
	char *n = kf_url_escape(name), *i = kf_url_escape(pipeline_id);
	char *p = kf_xasprintf("/pipelines/upload_version?pipelineid=%s&name=%s", i, n);
	int rc = upload(c, p, fname, data, len, out, err);

	free(n);
	free(i);
	free(p);
	return rc;
}

int kf_kfp_version_find(struct kf_kfp *c, const char *pipeline_id,
			const char *name, json_t **out, struct kf_err **err)
{
	char *f = kf_kfp_filter_eq("name", name), *i = kf_url_escape(pipeline_id), *p;
	json_t *arr = NULL, *it;
	size_t k;
	int rc;

	*out = NULL;
	if (!f) {
		free(i);
		return kf_err_set(err, KF_EINVAL, "version name '%s': use only letters, digits and . _ @ -", name);
	}
	p = kf_xasprintf("/pipelines/%s/versions?filter=%s", i, f);
	rc = list_all(c, p, "pipeline_versions", &arr, err);
	if (!rc) {
		json_array_foreach(arr, k, it) {
			if (!strcmp(json_string_value(json_object_get(it, "name")) ?: "", name)) {
				*out = json_incref(it);
				break;
			}
		}
		if (!*out)
			rc = kf_err_set(err, KF_ENOENT, "pipeline version '%s' not found", name);
	}
	json_decref(arr);
	free(p);
	free(f);
	free(i);
	return rc;
}

int kf_kfp_run_create(struct kf_kfp *c, const json_t *run, json_t **out,
		      struct kf_err **err)
{
	return kf_kfp_call(c, "POST", "/runs", run, false, NULL, out, err);
}

int kf_kfp_run_get(struct kf_kfp *c, const char *run_id, json_t **out,
		   struct kf_err **err)
{
	char *i = kf_url_escape(run_id), *p = kf_xasprintf("/runs/%s", i);
	int rc = kf_kfp_call(c, "GET", p, NULL, true, NULL, out, err);

	free(i);
	free(p);
	return rc;
}

int kf_kfp_runs_find(struct kf_kfp *c, const char *experiment_id,
		     const char *display, json_t **out, struct kf_err **err)
{
	char *f = kf_kfp_filter_eq("display_name", display), *e = kf_url_escape(experiment_id), *p;
	int rc;

	*out = NULL;
	if (!f) {
		free(e);
		return kf_err_set(err, KF_EINVAL, "run name '%s': use only letters, digits and . _ @ -", display);
	}
	p = kf_xasprintf("/runs?experiment_id=%s&filter=%s&sort_by=created_at%%20desc", e, f);
	rc = list_all(c, p, "runs", out, err);
	free(p);
	free(f);
	free(e);
	return rc;
}

static int post_id(struct kf_kfp *c, const char *coll, const char *id,
		   const char *verb, struct kf_err **err)
{
	char *i = kf_url_escape(id), *p = kf_xasprintf("/%s/%s%s", coll, i, verb);
	json_t *res = NULL;
	int rc = kf_kfp_call(c, *verb ? "POST" : "DELETE", p, NULL, true, NULL, &res, err);

	json_decref(res);
	free(i);
	free(p);
	return rc;
}

int kf_kfp_run_terminate(struct kf_kfp *c, const char *run_id,
			 struct kf_err **err)
{
	return post_id(c, "runs", run_id, ":terminate", err);
}

int kf_kfp_recurring_create(struct kf_kfp *c, const json_t *body,
			    json_t **out, struct kf_err **err)
{
	return kf_kfp_call(c, "POST", "/recurringruns", body, false, NULL, out, err);
}

int kf_kfp_recurring_list(struct kf_kfp *c, const char *experiment_id,
			  const char *ns, json_t **out, struct kf_err **err)
{
	char *e = kf_url_escape(experiment_id ? experiment_id : ns ? ns : "");
	char *p = kf_xasprintf("/recurringruns?%s=%s", experiment_id ? "experiment_id" : "namespace", e);
	/* this list answers with camelCase "recurringRuns" */
	int rc = list_all(c, p, "recurringRuns", out, err);

	free(e);
	free(p);
	return rc;
}

int kf_kfp_recurring_delete(struct kf_kfp *c, const char *id,
			    struct kf_err **err)
{
	int rc = post_id(c, "recurringruns", id, "", err);

	if (rc == KF_ENOENT) { /* a retried DELETE may find it gone */
		kf_err_clear(err);
		rc = 0;
	}
	return rc;
}

int kf_kfp_recurring_enable(struct kf_kfp *c, const char *id, bool enable,
			    struct kf_err **err)
{
	return post_id(c, "recurringruns", id, enable ? ":enable" : ":disable", err);
}
