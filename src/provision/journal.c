/*
 * journal.c - the per-cluster journal of `up`: which phases finished on
 * which host, with a fingerprint of their inputs, and whether the last run
 * finished. It is saved atomically after every step, so a run killed at any
 * moment leaves a journal that is either before or after that step.
 *
 * Format (journal.json):
 *   {"version":1, "cluster":"lab", "updated":"2026-11-22T19:05:00Z",
 *    "run":{"started":"...", "finished":"..." | null, "ok":true},
 *    "hosts":{"cp1":{"prepare":{"at":"...","fingerprint":"..."}, ...}},
 *    "cluster":{...}}   (phases that run once: host NULL)
 *
 * Facts are authoritative (kf_decide): the journal decides only what the
 * facts cannot tell.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provision/internal.h"

struct kf_journal {
	char *path;
	json_t *root;
};

static json_t *now_str(void)
{
	char buf[32];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

int kf_journal_load(struct kf_journal **out, const char *path,
		    const char *cluster, struct kf_err **err)
{
	struct kf_journal *j = kf_xcalloc(1, sizeof(*j));
	char *data = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	j->path = kf_xstrdup(path);
	rc = kf_file_read(path, &data, &len, NULL);
	if (!rc) {
		json_error_t je;

		j->root = json_loadb(data, len, 0, &je);
		if (!j->root || !json_is_object(j->root)) {
			rc = kf_err_set(err, KF_EINVAL, "journal %s: line %d: %s (remove it to start afresh)",
					path, je.line, je.text);
			json_decref(j->root);
			goto out;
		}
		const char *owner = json_string_value(json_object_get(j->root, "cluster"));

		if (!owner || strcmp(owner, cluster)) {
			rc = kf_err_set(err, KF_EINVAL, "journal %s belongs to cluster '%s', not '%s'", path,
					owner ? owner : "?", cluster);
			json_decref(j->root);
			goto out;
		}
	} else {
		j->root = json_pack("{s:i, s:s, s:{}, s:{}}", "version", 1, "cluster", cluster,
				    "hosts", "phases");
		rc = 0;
	}
	if (!json_is_object(json_object_get(j->root, "hosts")))
		json_object_set_new(j->root, "hosts", json_object());
	if (!json_is_object(json_object_get(j->root, "phases")))
		json_object_set_new(j->root, "phases", json_object());
out:
	free(data);
	if (rc) {
		free(j->path);
		free(j);
		return rc;
	}
	*out = j;
	return 0;
}

void kf_journal_free(struct kf_journal *j)
{
	if (!j)
		return;
	json_decref(j->root);
	free(j->path);
	free(j);
}

int kf_journal_save(struct kf_journal *j, struct kf_err **err)
{
	char *text, *dir, *slash;
	int rc;

	if (!j)
		return 0;
	json_object_set_new(j->root, "updated", now_str());
	text = json_dumps(j->root, JSON_INDENT(2) | JSON_SORT_KEYS);
	dir = kf_xstrdup(j->path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		rc = kf_mkdir_p(dir, 0700, err);
		if (rc)
			goto out;
	}
	rc = kf_file_write_atomic(j->path, text, strlen(text), 0600, err);
out:
	free(dir);
	free(text);
	return rc;
}

static json_t *slot(struct kf_journal *j, const char *host, bool create)
{
	json_t *hosts = json_object_get(j->root, "hosts");
	json_t *s;

	if (!host)
		return json_object_get(j->root, "phases");
	s = json_object_get(hosts, host);
	if (!s && create) {
		s = json_object();
		json_object_set_new(hosts, host, s);
	}
	return s;
}

void kf_journal_done(struct kf_journal *j, const char *host, const char *phase,
		     const char *fingerprint)
{
	json_t *s, *e;

	if (!j)
		return;
	s = slot(j, host, true);
	e = json_object();
	json_object_set_new(e, "at", now_str());
	if (fingerprint)
		json_object_set_new(e, "fingerprint", json_string(fingerprint));
	json_object_set_new(s, phase, e);
}

void kf_journal_forget_host(struct kf_journal *j, const char *host)
{
	if (j)
		json_object_del(json_object_get(j->root, "hosts"), host);
}

bool kf_journal_is_done(const struct kf_journal *j, const char *host,
			const char *phase, const char *fingerprint)
{
	json_t *s, *e;
	const char *fp;

	if (!j)
		return false;
	s = slot((struct kf_journal *)j, host, false);
	e = json_object_get(s, phase);
	if (!e)
		return false;
	fp = json_string_value(json_object_get(e, "fingerprint"));
	if (fingerprint && (!fp || strcmp(fp, fingerprint)))
		return false;
	return true;
}

void kf_journal_run_begin(struct kf_journal *j, bool *interrupted)
{
	json_t *run = json_object_get(j->root, "run");

	if (interrupted)
		*interrupted = run && json_object_get(run, "started") &&
			       json_is_null(json_object_get(run, "finished"));
	run = json_object();
	json_object_set_new(run, "started", now_str());
	json_object_set_new(run, "finished", json_null());
	json_object_set_new(j->root, "run", run);
}

void kf_journal_run_end(struct kf_journal *j, bool ok)
{
	json_t *run = json_object_get(j->root, "run");

	if (!run)
		return;
	json_object_set_new(run, "finished", now_str());
	json_object_set_new(run, "ok", json_boolean(ok));
}

json_t *kf_journal_json(const struct kf_journal *j)
{
	return j ? j->root : NULL;
}

bool kf_decide(enum kf_need facts_say, bool journal_done)
{
	switch (facts_say) {
	case KF_NEED_RUN:
		return true;
	case KF_NEED_DONE:
		return false;
	case KF_NEED_UNKNOWN:
		break;
	}
	return !journal_done;
}
