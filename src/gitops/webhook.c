/*
 * webhook.c - decide what a webhook delivery from GitHub, GitLab or any
 * other sender means for the reconciler, without trusting it until it
 * proves it knows the secret.
 *
 * The order of checks is the security argument:
 *  1. authenticity, before anything in the body is read: GitHub's
 *     X-Hub-Signature-256 and our X-Kfboot-Signature-256 are
 *     "sha256=<hex HMAC-SHA256 of the raw body>" (kf_http_hmac_sha256_verify,
 *     constant time); GitLab's X-Gitlab-Token is the secret itself, compared
 *     as SHA-256 digests with CRYPTO_memcmp so neither its length nor a
 *     common prefix leaks through timing. Missing or wrong: UNAUTHORIZED.
 *  2. duplicates: a sender redelivers (GitHub's X-GitHub-Delivery, GitLab's
 *     X-Gitlab-Event-UUID, X-Kfboot-Delivery); the last 1024 ids are kept.
 *  3. meaning: a GitHub `ping` is answered; a push to the followed branch
 *     wakes the loop; pushes to other branches, tags and other events are
 *     acknowledged and ignored.
 * Waking is all a delivery can do: the loop then asks the remote where the
 * branch is (it never takes a commit id from the body), so a burst of
 * deliveries coalesces into one check and at most one more fetch.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "gitops/live.h"
#include "http/http.h"

#define SEEN_MAX 1024
#define ID_MAX 128

struct kf_webhook {
	char *secret;
	char *ref;            /* "refs/heads/<branch>" */
	pthread_mutex_t mu;
	char seen[SEEN_MAX][ID_MAX];
	size_t nseen, next;
};

static const char *const result_names[KF_HOOK_NRESULTS] = {
	"accepted", "ignored", "ping", "duplicate", "unauthorized", "bad_request",
};

const char *kf_webhook_result_str(enum kf_webhook_result r)
{
	return (unsigned)r < KF_HOOK_NRESULTS ? result_names[r] : "unknown";
}

void kf_webhook_new(struct kf_webhook **out, const char *secret,
		    const char *branch)
{
	struct kf_webhook *w = kf_xcalloc(1, sizeof(*w));

	w->secret = kf_xstrdup(secret ? secret : "");
	kf_redact_register(w->secret);
	w->ref = kf_xasprintf("refs/heads/%s", branch && *branch ? branch : "main");
	pthread_mutex_init(&w->mu, NULL);
	*out = w;
}

void kf_webhook_free(struct kf_webhook *w)
{
	if (!w)
		return;
	OPENSSL_cleanse(w->secret, strlen(w->secret));
	free(w->secret);
	free(w->ref);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int kf_webhook_secret_load(const char *path, char **out, struct kf_err **err)
{
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = kf_file_read(path, &data, &len, err);
	if (rc)
		return kf_err_wrap(err, "webhook secret");
	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	if (!len) {
		free(data);
		return kf_err_set(err, KF_EINVAL, "webhook secret '%s' is empty", path);
	}
	if (!stat(path, &st) && (st.st_mode & 0077) && !S_ISLNK(st.st_mode))
		kf_warn("webhook secret '%s' can be read by other users (mode %03o); use 0600", path,
			(unsigned)(st.st_mode & 0777));
	kf_redact_register(data);
	*out = data;
	return 0;
}

/* Constant time in the content and length of `given`. */
static bool token_equal(const char *secret, const char *given)
{
	unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)secret, strlen(secret), a);
	SHA256((const unsigned char *)given, strlen(given), b);
	return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

/* True when the id was seen already; remembers it otherwise. */
static bool seen_before(struct kf_webhook *w, const char *id)
{
	bool dup = false;

	if (!id || !*id || strlen(id) >= ID_MAX)
		return false;
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->nseen && !dup; i++)
		dup = !strcmp(w->seen[i], id);
	if (!dup) {
		snprintf(w->seen[w->next], ID_MAX, "%s", id);
		w->next = (w->next + 1) % SEEN_MAX;
		if (w->nseen < SEEN_MAX)
			w->nseen++;
	}
	pthread_mutex_unlock(&w->mu);
	return dup;
}

enum kf_webhook_result kf_webhook_check(struct kf_webhook *w,
					enum kf_webhook_kind kind,
					kf_header_fn hdr, void *hctx,
					const char *body, size_t len,
					const char **why)
{
	const char *sig, *id, *event = NULL, *ref;
	enum kf_webhook_result res;
	json_t *j = NULL;
	bool ok;

	*why = "";
	/* 1. authenticity */
	switch (kind) {
	case KF_HOOK_GITHUB:
		sig = hdr(hctx, "X-Hub-Signature-256");
		break;
	case KF_HOOK_GITLAB:
		sig = hdr(hctx, "X-Gitlab-Token");
		break;
	default:
		sig = hdr(hctx, "X-Kfboot-Signature-256");
		break;
	}
	if (!*w->secret) {
		*why = "no webhook secret is configured (--webhook-secret-file)";
		return KF_HOOK_UNAUTHORIZED;
	}
	if (!sig || !*sig) {
		*why = "missing signature";
		return KF_HOOK_UNAUTHORIZED;
	}
	ok = kind == KF_HOOK_GITLAB ? token_equal(w->secret, sig)
				    : kf_http_hmac_sha256_verify(w->secret, body, len, sig);
	if (!ok) {
		*why = kind == KF_HOOK_GITLAB ? "bad token" : "bad signature";
		return KF_HOOK_UNAUTHORIZED;
	}
	/* 2. duplicates */
	switch (kind) {
	case KF_HOOK_GITHUB:
		id = hdr(hctx, "X-GitHub-Delivery");
		event = hdr(hctx, "X-GitHub-Event");
		break;
	case KF_HOOK_GITLAB:
		id = hdr(hctx, "X-Gitlab-Event-UUID");
		if (!id)
			id = hdr(hctx, "Idempotency-Key");
		event = hdr(hctx, "X-Gitlab-Event");
		break;
	default:
		id = hdr(hctx, "X-Kfboot-Delivery");
		break;
	}
	if (seen_before(w, id)) {
		*why = "delivery already seen";
		return KF_HOOK_DUPLICATE;
	}
	/* 3. meaning */
	if (kind == KF_HOOK_GITHUB && event && !strcmp(event, "ping")) {
		*why = "pong";
		return KF_HOOK_PING;
	}
	if (kind == KF_HOOK_GITHUB && (!event || strcmp(event, "push"))) {
		*why = "not a push event";
		return KF_HOOK_IGNORED;
	}
	if (kind == KF_HOOK_GITLAB && (!event || strcmp(event, "Push Hook"))) {
		*why = "not a Push Hook";
		return KF_HOOK_IGNORED;
	}
	j = len ? json_loadb(body, len, 0, NULL) : NULL;
	if (!j && kind != KF_HOOK_GENERIC) {
		*why = "body is not JSON (set the content type to application/json)";
		return KF_HOOK_BAD_REQUEST;
	}
	ref = json_string_value(json_object_get(j, "ref"));
	if (!ref && kind != KF_HOOK_GENERIC) {
		*why = "push without a ref";
		res = KF_HOOK_BAD_REQUEST;
	} else if (ref && strcmp(ref, w->ref)) {
		*why = "push to another branch";
		res = KF_HOOK_IGNORED;
	} else {
		*why = "push to the followed branch";
		res = KF_HOOK_ACCEPTED;
	}
	json_decref(j);
	return res;
}
