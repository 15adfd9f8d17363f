/*
 * test_gitops_live.c - unit tests of the reconciler's live parts that need
 * no server: webhook delivery checks (signatures, tokens, duplicates,
 * branches), drift object keys, the status page (one row per environment,
 * everything escaped) and the status text of `kfboot reconcile status`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/hmac.h>

#include "gitops/live.h"

struct hdrs {
	const char *k[8], *v[8];
	size_t n;
};

static const char *get_hdr(void *ctx, const char *name)
{
	struct hdrs *h = ctx;

	for (size_t i = 0; i < h->n; i++)
		if (!strcasecmp(h->k[i], name))
			return h->v[i];
	return NULL;
}

static void add(struct hdrs *h, const char *k, const char *v)
{
	h->k[h->n] = k;
	h->v[h->n++] = v;
}

static void sign(const char *secret, const char *body, char out[80])
{
	unsigned char md[32];
	unsigned int len = 0;

	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, strlen(body), md, &len);
	strcpy(out, "sha256=");
	for (unsigned i = 0; i < len; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

#define PUSH_MAIN "{\"ref\":\"refs/heads/main\",\"after\":\"abc\"}"
#define PUSH_OTHER "{\"ref\":\"refs/heads/feature\"}"

static enum kf_webhook_result gh(struct kf_webhook *w, const char *event, const char *id,
				 const char *sig, const char *body)
{
	struct hdrs h = { 0 };
	const char *why;

	if (event)
		add(&h, "X-GitHub-Event", event);
	if (id)
		add(&h, "X-GitHub-Delivery", id);
	if (sig)
		add(&h, "X-Hub-Signature-256", sig);
	return kf_webhook_check(w, KF_HOOK_GITHUB, get_hdr, &h, body, strlen(body), &why);
}

static void test_gitops_live_webhook__github(void **state)
{
	struct kf_webhook *w;
	char sig[80], sig_other[80], bad[80];

	(void)state;
	kf_webhook_new(&w, "s3cret-key", "main");
	sign("s3cret-key", PUSH_MAIN, sig);
	sign("s3cret-key", PUSH_OTHER, sig_other);
	sign("wrong-key", PUSH_MAIN, bad);
	assert_int_equal(gh(w, "push", "1", NULL, PUSH_MAIN), KF_HOOK_UNAUTHORIZED);
	assert_int_equal(gh(w, "push", "2", bad, PUSH_MAIN), KF_HOOK_UNAUTHORIZED);
	assert_int_equal(gh(w, "push", "3", "sha256=zz", PUSH_MAIN), KF_HOOK_UNAUTHORIZED);
	/* a valid signature of another body */
	assert_int_equal(gh(w, "push", "4", sig_other, PUSH_MAIN), KF_HOOK_UNAUTHORIZED);
	assert_int_equal(gh(w, "push", "5", sig, PUSH_MAIN), KF_HOOK_ACCEPTED);
	assert_int_equal(gh(w, "push", "5", sig, PUSH_MAIN), KF_HOOK_DUPLICATE);
	assert_int_equal(gh(w, "push", "6", sig_other, PUSH_OTHER), KF_HOOK_IGNORED);
	assert_int_equal(gh(w, "issues", "7", sig, PUSH_MAIN), KF_HOOK_IGNORED);
	{
		const char *ping = "{\"zen\":\"z\"}";
		char ps[80];

		sign("s3cret-key", ping, ps);
		assert_int_equal(gh(w, "ping", "8", ps, ping), KF_HOOK_PING);
	}
	{
		const char *notjson = "payload=%7B%7D";
		char ns[80];

		sign("s3cret-key", notjson, ns);
		assert_int_equal(gh(w, "push", "9", ns, notjson), KF_HOOK_BAD_REQUEST);
	}
	kf_webhook_free(w);
}

static void test_gitops_live_webhook__gitlab_generic_nosecret(void **state)
{
	struct kf_webhook *w, *none;
	struct hdrs h = { 0 };
	const char *why;
	char sig[80];

	(void)state;
	kf_webhook_new(&w, "gl-token-123", "main");
	add(&h, "X-Gitlab-Event", "Push Hook");
	add(&h, "X-Gitlab-Event-UUID", "u1");
	add(&h, "X-Gitlab-Token", "gl-token-12");
	assert_int_equal(kf_webhook_check(w, KF_HOOK_GITLAB, get_hdr, &h, PUSH_MAIN, strlen(PUSH_MAIN), &why),
			 KF_HOOK_UNAUTHORIZED);
	h.v[2] = "gl-token-123";
	assert_int_equal(kf_webhook_check(w, KF_HOOK_GITLAB, get_hdr, &h, PUSH_MAIN, strlen(PUSH_MAIN), &why),
			 KF_HOOK_ACCEPTED);
	/* generic: no ref is fine; a ref to another branch is not */
	memset(&h, 0, sizeof(h));
	sign("gl-token-123", "{}", sig);
	add(&h, "X-Kfboot-Signature-256", sig);
	assert_int_equal(kf_webhook_check(w, KF_HOOK_GENERIC, get_hdr, &h, "{}", 2, &why), KF_HOOK_ACCEPTED);
	sign("gl-token-123", PUSH_OTHER, sig);
	assert_int_equal(kf_webhook_check(w, KF_HOOK_GENERIC, get_hdr, &h, PUSH_OTHER, strlen(PUSH_OTHER), &why),
			 KF_HOOK_IGNORED);
	/* without a secret everything is refused, even a "valid" empty-key HMAC */
	kf_webhook_new(&none, NULL, "main");
	sign("", "{}", sig);
	h.v[0] = sig;
	assert_int_equal(kf_webhook_check(none, KF_HOOK_GENERIC, get_hdr, &h, "{}", 2, &why), KF_HOOK_UNAUTHORIZED);
	kf_webhook_free(none);
	kf_webhook_free(w);
}

static void test_gitops_live_drift__key(void **state)
{
	json_t *cm = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
			       "metadata", "name", "a", "namespace", "dev");
	json_t *crb = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "rbac.authorization.k8s.io/v1",
				"kind", "ClusterRoleBinding", "metadata", "name", "b");
	char *k1 = kf_drift_key(cm), *k2 = kf_drift_key(crb);

	(void)state;
	assert_string_equal(k1, "/ConfigMap/dev/a");
	assert_string_equal(k2, "rbac.authorization.k8s.io/ClusterRoleBinding//b");
	assert_null(kf_drift_key(json_object_get(cm, "metadata")));
	free(k1);
	free(k2);
	json_decref(cm);
	json_decref(crb);
}

static const char *status_doc =
	"{\"repository\":\"https://git.example.com/p.git\",\"branch\":\"main\",\"head\":\"0123456789abcdef\","
	"\"leader\":true,\"lastFetch\":\"2026-01-01T00:00:00Z\",\"lastFetchError\":null,\"environments\":["
	"{\"name\":\"dev\",\"commit\":\"aaaaaaaaaaaaaaaa\",\"appliedCommit\":\"aaaaaaaaaaaaaaaa\",\"result\":\"applied\","
	"\"health\":\"healthy\",\"lastChange\":\"2026-01-01T00:00:00Z\",\"error\":null,\"objects\":{\"handsOff\":2}},"
	"{\"name\":\"staging\",\"commit\":\"bbbbbbbbbbbbbbbb\",\"appliedCommit\":\"aaaaaaaaaaaaaaaa\",\"result\":\"invalid\","
	"\"health\":\"healthy\",\"lastChange\":\"\",\"error\":{\"message\":\"<script>alert(1)</script>\",\"file\":\"apps/x.yaml\",\"line\":3,\"column\":5}},"
	"{\"name\":\"prod\",\"commit\":\"\",\"appliedCommit\":\"\",\"result\":\"none\",\"health\":\"unknown\",\"lastChange\":\"\",\"error\":null}]}";

static void test_gitops_live_page__rows_escaped(void **state)
{
	json_t *st = json_loads(status_doc, 0, NULL);
	struct kf_buf b = KF_BUF_INIT;
	size_t rows = 0;

	(void)state;
	assert_non_null(st);
	kf_status_page_html(&b, st);
	for (const char *p = b.buf; (p = strstr(p, "<tr class=\"env\">")); p++)
		rows++;
	assert_int_equal(rows, 3);
	assert_null(strstr(b.buf, "<script>"));
	assert_non_null(strstr(b.buf, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(b.buf, "apps/x.yaml:3:5"));
	assert_non_null(strstr(b.buf, "(tried <code title=\"bbbbbbbbbbbbbbbb\">bbbbbbbbbbbb</code>)"));
	assert_non_null(strstr(b.buf, ">2 hands off</small>"));
	assert_null(strstr(b.buf, "0 hands off"));
	assert_null(strstr(b.buf, "http://"));  /* no external assets */
	assert_null(strstr(b.buf, "https://git.example.com/p.git\""));
	kf_buf_release(&b);
	kf_live_status_text(&b, st);
	assert_non_null(strstr(b.buf, "staging"));
	assert_non_null(strstr(b.buf, "apps/x.yaml:3:5: <script>"));
	assert_non_null(strstr(b.buf, "2 object(s) left alone (kfboot.io/reconcile: disabled)"));
	kf_buf_release(&b);
	json_decref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gitops_live_webhook__github),
		cmocka_unit_test(test_gitops_live_webhook__gitlab_generic_nosecret),
		cmocka_unit_test(test_gitops_live_drift__key),
		cmocka_unit_test(test_gitops_live_page__rows_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
