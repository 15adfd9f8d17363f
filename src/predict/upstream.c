/*
 * upstream.c - forwarding inference to another Open Inference Protocol V2
 * server (a KServe InferenceService) over a pool of keep-alive connections.
 *
 * Each pooled libcurl easy handle keeps its connection open between
 * requests; a worker thread takes a handle from the pool (waiting when all
 * are busy), sends the request with a connect timeout and a total timeout,
 * and puts the handle back. A timeout is reported as KF_ETIMEOUT (the server
 * answers 504), any other transport failure as KF_EIO (502).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "predict/predict.h"

#define UPSTREAM_BODY_MAX (8u * 1024 * 1024)

struct kf_upstream {
	char *base;
	long connect_ms, timeout_ms;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	CURL **free_handles;
	size_t nfree, created, max;
	struct curl_slist *headers;
};

int kf_upstream_new(struct kf_upstream **out, const char *url, size_t conns,
		    double connect_timeout, double timeout, struct kf_err **err)
{
	struct kf_upstream *u;
	size_t n;

	*out = NULL;
	if (!kf_str_startswith(url, "http://") && !kf_str_startswith(url, "https://"))
		return kf_err_set(err, KF_EINVAL,
				  "upstream '%s': must be an http:// or https:// URL", url);
	u = kf_xcalloc(1, sizeof(*u));
	u->base = kf_xstrdup(url);
	n = strlen(u->base);
	while (n && u->base[n - 1] == '/')
		u->base[--n] = '\0';
	u->max = conns ? conns : 16;
	u->connect_ms = (long)(connect_timeout * 1000);
	u->timeout_ms = (long)(timeout * 1000);
	if (u->connect_ms < 1)
		u->connect_ms = 1;
	if (u->timeout_ms < 1)
		u->timeout_ms = 1;
	u->free_handles = kf_xcalloc(u->max, sizeof(CURL *));
	u->headers = curl_slist_append(NULL, "Content-Type: application/json");
	u->headers = curl_slist_append(u->headers, "Expect:");
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	*out = u;
	return 0;
}

void kf_upstream_free(struct kf_upstream *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < u->nfree; i++)
		curl_easy_cleanup(u->free_handles[i]);
	free(u->free_handles);
	curl_slist_free_all(u->headers);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cond);
	free(u->base);
	free(u);
}

static CURL *take(struct kf_upstream *u)
{
	CURL *c = NULL;

	pthread_mutex_lock(&u->lock);
	while (!u->nfree && u->created >= u->max)
		pthread_cond_wait(&u->cond, &u->lock);
	if (u->nfree)
		c = u->free_handles[--u->nfree];
	else
		u->created++;
	pthread_mutex_unlock(&u->lock);
	if (!c)
		c = curl_easy_init();
	return c;
}

static void give_back(struct kf_upstream *u, CURL *c)
{
	pthread_mutex_lock(&u->lock);
	if (c)
		u->free_handles[u->nfree++] = c;
	else
		u->created--;
	pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	if (kf_buf_add(ud, p, sz * n))
		return 0; /* over the cap: abort the transfer */
	return sz * n;
}

int kf_upstream_post(struct kf_upstream *u, const char *path,
		     const char *body, size_t len, long *status,
		     struct kf_buf *resp, struct kf_err **err)
{
	CURL *c = take(u);
	char *url = kf_xasprintf("%s%s", u->base, path);
	CURLcode cc;
	int rc = 0;

	*status = 0;
	kf_buf_reset(resp);
	resp->cap = UPSTREAM_BODY_MAX;
	if (!c) {
		give_back(u, NULL);
		free(url);
		return kf_err_set(err, KF_EIO, "upstream: cannot create a connection");
	}
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, u->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, u->connect_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, u->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cc = curl_easy_perform(c);
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = kf_err_set(err, KF_ETIMEOUT,
				"upstream %s did not answer within %ld ms", u->base,
				u->timeout_ms);
	} else if (cc != CURLE_OK) {
		rc = kf_err_set(err, KF_EIO, "upstream %s: %s", u->base,
				curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	}
	give_back(u, c);
	free(url);
	return rc;
}
