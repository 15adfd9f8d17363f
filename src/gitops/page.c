/*
 * page.c - the reconciler's status page (GET /): one self-contained HTML
 * document, inline CSS, no scripts, fonts or images from anywhere, so it
 * works behind any proxy and in an air-gapped cluster. It refreshes itself
 * every 10 seconds (a meta refresh). One table row per environment:
 * environment, commit applied (and the commit attempted, when different),
 * result, health, last change, error with its file:line:col. Everything
 * taken from the status snapshot is HTML-escaped: commit messages, file
 * names and error texts come from the repository, which the page must not
 * trust.
 */
#include <string.h>

#include "gitops/live.h"

static void esc(struct kf_buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': kf_buf_adds(b, "&amp;"); break;
		case '<': kf_buf_adds(b, "&lt;"); break;
		case '>': kf_buf_adds(b, "&gt;"); break;
		case '"': kf_buf_adds(b, "&quot;"); break;
		case '\'': kf_buf_adds(b, "&#39;"); break;
		default: kf_buf_addch(b, *s);
		}
	}
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* A CSS class from a fixed set, never from input. */
static const char *cls(const char *v)
{
	static const char *const good[] = { "applied", "healthy", "dry-run" };
	static const char *const warn[] = { "progressing", "none", "unknown", "" };

	for (size_t i = 0; i < KF_ARRAY_SIZE(good); i++)
		if (!strcmp(v, good[i]))
			return "ok";
	for (size_t i = 0; i < KF_ARRAY_SIZE(warn); i++)
		if (!strcmp(v, warn[i]))
			return "wait";
	return "bad";
}

static void short_sha(struct kf_buf *b, const char *sha)
{
	kf_buf_addf(b, "<code title=\"");
	esc(b, sha);
	kf_buf_adds(b, "\">");
	{
		char s[13];

		snprintf(s, sizeof(s), "%s", sha);
		esc(b, s);
	}
	kf_buf_adds(b, "</code>");
}

static void row(struct kf_buf *b, const json_t *e)
{
	const char *commit = str(e, "commit"), *applied = str(e, "appliedCommit");
	const char *result = str(e, "result"), *health = str(e, "health");
	const json_t *err = json_object_get(e, "error");
	long long ho = (long long)json_integer_value(json_object_get(json_object_get(e, "objects"), "handsOff"));

	kf_buf_adds(b, "<tr class=\"env\"><th scope=\"row\">");
	esc(b, str(e, "name"));
	kf_buf_adds(b, "</th><td>");
	if (*applied)
		short_sha(b, applied);
	else
		kf_buf_adds(b, "&mdash;");
	if (*commit && strcmp(commit, applied)) {
		kf_buf_adds(b, " <small>(tried ");
		short_sha(b, commit);
		kf_buf_adds(b, ")</small>");
	}
	kf_buf_addf(b, "</td><td><span class=\"%s\">", cls(result));
	esc(b, result);
	kf_buf_adds(b, "</span>");
	if (ho > 0)
		kf_buf_addf(b, " <small title=\"kfboot.io/reconcile: disabled\">%lld hands off</small>", ho);
	kf_buf_addf(b, "</td><td><span class=\"%s\">", cls(health));
	esc(b, health);
	kf_buf_adds(b, "</span></td><td>");
	esc(b, *str(e, "lastChange") ? str(e, "lastChange") : "never");
	kf_buf_adds(b, "</td><td class=\"err\">");
	if (json_is_object(err)) {
		const char *file = str(err, "file");

		if (*file) {
			kf_buf_adds(b, "<code>");
			esc(b, file);
			kf_buf_addf(b, ":%lld:%lld</code> ", (long long)json_integer_value(json_object_get(err, "line")),
				    (long long)json_integer_value(json_object_get(err, "column")));
		}
		esc(b, str(err, "message"));
	}
	kf_buf_adds(b, "</td></tr>\n");
}

void kf_status_page_html(struct kf_buf *out, const json_t *status)
{
	const json_t *envs = json_object_get(status, "environments"), *e;
	const char *ferr = str(status, "lastFetchError");
	size_t i;

	kf_buf_adds(out,
		    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		    "<meta http-equiv=\"refresh\" content=\"10\">\n"
		    "<title>kfboot reconcile</title>\n<style>\n"
		    "body{font:15px/1.4 system-ui,sans-serif;margin:2rem;color:#1d2330;background:#f7f8fa}\n"
		    "h1{font-size:1.3rem;margin:0 0 .3rem}p.meta{color:#555;margin:.2rem 0 1rem}\n"
		    "table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 3px #0002}\n"
		    "th,td{padding:.55rem .8rem;border-bottom:1px solid #e3e6eb;text-align:left;vertical-align:top}\n"
		    "thead th{background:#eef1f5;font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}\n"
		    "code{font:13px ui-monospace,monospace}small{color:#666}\n"
		    "span.ok,span.wait,span.bad{padding:.1rem .5rem;border-radius:1rem;font-size:.85rem}\n"
		    ".ok{background:#dff5e3;color:#146c2e}.wait{background:#fff3cd;color:#7a5a00}\n"
		    ".bad{background:#fde2e1;color:#a4161a}td.err{color:#a4161a;max-width:40rem;word-break:break-word}\n"
		    "p.fetcherr{color:#a4161a}\n"
		    "</style></head><body>\n<h1>kfboot reconcile</h1>\n<p class=\"meta\">");
	esc(out, str(status, "repository"));
	kf_buf_adds(out, " &middot; branch <code>");
	esc(out, str(status, "branch"));
	kf_buf_adds(out, "</code> &middot; head ");
	if (*str(status, "head"))
		short_sha(out, str(status, "head"));
	else
		kf_buf_adds(out, "&mdash;");
	kf_buf_addf(out, " &middot; %s", json_is_true(json_object_get(status, "leader")) ? "leader" : "standby");
	if (*str(status, "lastFetch")) {
		kf_buf_adds(out, " &middot; last fetch ");
		esc(out, str(status, "lastFetch"));
	}
	kf_buf_adds(out, "</p>\n");
	if (*ferr) {
		kf_buf_adds(out, "<p class=\"fetcherr\">git: ");
		esc(out, ferr);
		kf_buf_adds(out, "</p>\n");
	}
	kf_buf_adds(out, "<table>\n<thead><tr><th>Environment</th><th>Commit</th><th>Result</th>"
			 "<th>Health</th><th>Last change</th><th>Error</th></tr></thead>\n<tbody>\n");
	json_array_foreach(envs, i, e)
		row(out, e);
	kf_buf_adds(out, "</tbody></table>\n</body></html>\n");
}
