/*
 * journal.c - the run journal kept in ConfigMaps (journal.h): read, write
 * with a resourceVersion precondition, list every environment's journal,
 * and read a run's report ConfigMap. The kfboot-system namespace is created
 * on the first write when it is missing.
 */
#include <string.h>

#include "kfp/journal.h"

static char *cm_path(const char *ns, const char *name)
{
	return kf_xasprintf("/api/v1/namespaces/%s/configmaps%s%s", ns, name ? "/" : "", name ? name : "");
}

static int do_req(struct kf_kube *k, const char *method, char *path,
		  json_t *body, long *status, json_t **out, struct kf_err **err)
{
	struct kf_kube_req r, *rp = &r;
	int rc;

	if (out)
		*out = NULL;
	kf_kube_req_init(&r, method, path);
	if (body) {
		char *s = json_dumps(body, JSON_COMPACT);

		kf_kube_req_body(&r, s, strlen(s), "application/json");
	}
	rc = kf_kube_run(k, &rp, 1, err);
	if (!rc && r.err) {
		rc = kf_err_set(err, kf_err_code(r.err), "%s", r.err->msg);
	}
	*status = r.status;
	if (!rc && out && r.status >= 200 && r.status < 300)
		*out = json_loadb(r.resp.buf, r.resp.len, 0, NULL);
	if (!rc && (r.status < 200 || r.status >= 300) && r.status != 404 && r.status != 409)
		rc = kf_kube_req_error(err, &r);
	kf_kube_req_release(&r);
	return rc;
}

int kf_kfp_journal_read(struct kf_kube *k, const char *env,
			struct kf_kfp_journal *j, struct kf_err **err)
{
	char *name = kf_xasprintf("kfboot-runs-%s", env);
	json_t *cm = NULL, *data, *v;
	const char *key;
	long st = 0;
	int rc;

	memset(j, 0, sizeof(*j));
	j->env = kf_xstrdup(env);
	j->data = json_object();
	rc = do_req(k, "GET", cm_path(KF_KFP_JOURNAL_NS, name), NULL, &st, &cm, err);
	if (rc || st == 404)
		goto out;
	j->rv = kf_xstrdup(json_string_value(json_object_get(json_object_get(cm, "metadata"), "resourceVersion")) ?: "");
	data = json_object_get(cm, "data");
	json_object_foreach(data, key, v) {
		json_t *e = json_loads(json_string_value(v) ?: "", 0, NULL);

		if (!json_is_object(e)) {
			json_decref(e);
			rc = kf_err_set(err, KF_EINVAL, "configmap %s/%s: data[%s] is not a JSON object",
					KF_KFP_JOURNAL_NS, name, key);
			goto out;
		}
		json_object_set_new(j->data, key, e);
	}
out:
	if (rc)
		kf_err_wrap(err, "run journal of environment '%s'", env);
	json_decref(cm);
	free(name);
	return rc;
}

static int ensure_ns(struct kf_kube *k, struct kf_err **err)
{
	json_t *ns = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			       "metadata", "name", KF_KFP_JOURNAL_NS);
	long st = 0;
	int rc = do_req(k, "POST", kf_xstrdup("/api/v1/namespaces"), ns, &st, NULL, err);

	json_decref(ns);
	return rc;
}

int kf_kfp_journal_write(struct kf_kube *k, struct kf_kfp_journal *j,
			 struct kf_err **err)
{
	char *name = kf_xasprintf("kfboot-runs-%s", j->env);
	json_t *cm, *data = json_object(), *res = NULL, *v;
	const char *key;
	long st = 0;
	int rc;

	json_object_foreach(j->data, key, v) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

		json_object_set_new(data, key, json_string(s ? s : "{}"));
		free(s);
	}
	cm = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s,s:s}},s:o}", "apiVersion", "v1", "kind", "ConfigMap",
		       "metadata", "name", name, "namespace", KF_KFP_JOURNAL_NS, "labels",
		       "kfboot.io/journal", "runs", "kfboot.io/environment", j->env,
		       "app.kubernetes.io/managed-by", "kfboot", "data", data);
	if (j->rv) {
		json_object_set_new(json_object_get(cm, "metadata"), "resourceVersion", json_string(j->rv));
		rc = do_req(k, "PUT", cm_path(KF_KFP_JOURNAL_NS, name), cm, &st, &res, err);
	} else {
		rc = do_req(k, "POST", cm_path(KF_KFP_JOURNAL_NS, NULL), cm, &st, &res, err);
		if (!rc && st == 404) {
			rc = ensure_ns(k, err);
			if (!rc)
				rc = do_req(k, "POST", cm_path(KF_KFP_JOURNAL_NS, NULL), cm, &st, &res, err);
		}
	}
	if (!rc && st == 409)
		rc = kf_err_set(err, KF_ECONFLICT, "configmap %s/%s was changed by someone else", KF_KFP_JOURNAL_NS, name);
	else if (!rc && st == 404)
		rc = kf_err_set(err, KF_ECONFLICT, "configmap %s/%s was deleted", KF_KFP_JOURNAL_NS, name);
	if (!rc) {
		free(j->rv);
		j->rv = kf_xstrdup(json_string_value(json_object_get(json_object_get(res, "metadata"), "resourceVersion")) ?: "");
	}
	json_decref(res);
	json_decref(cm);
	free(name);
	return rc;
}

void kf_kfp_journal_release(struct kf_kfp_journal *j)
{
	free(j->env);
	free(j->rv);
	json_decref(j->data);
	memset(j, 0, sizeof(*j));
}

json_t *kf_kfp_journal_entry(struct kf_kfp_journal *j, const char *pipeline)
{
	json_t *e = json_object_get(j->data, pipeline);

	if (!e) {
		e = json_pack("{s:s,s:[],s:[],s:s}", "last", "", "queue", "runs", "status", "");
		json_object_set_new(j->data, pipeline, e);
	}
	return e;
}

int kf_kfp_journal_list(struct kf_kube *k, json_t **out, struct kf_err **err)
{
	json_t *list = NULL, *items, *it, *res = json_array();
	long st = 0;
	size_t i;
	int rc;

	*out = NULL;
	rc = do_req(k, "GET", kf_xasprintf("/api/v1/namespaces/%s/configmaps?labelSelector=kfboot.io%%2Fjournal%%3Druns",
					   KF_KFP_JOURNAL_NS), NULL, &st, &list, err);
	if (rc) {
		json_decref(res);
		return kf_err_wrap(err, "listing run journals");
	}
	items = json_object_get(list, "items");
	json_array_foreach(items, i, it) {
		const char *env = json_string_value(json_object_get(json_object_get(json_object_get(it, "metadata"), "labels"),
								    "kfboot.io/environment"));
		json_t *p = json_object(), *v;
		const char *key;

		json_object_foreach(json_object_get(it, "data"), key, v) {
			json_t *e = json_loads(json_string_value(v) ?: "", 0, NULL);

			if (e)
				json_object_set_new(p, key, e);
		}
		json_array_append_new(res, json_pack("{s:s,s:o}", "env", env ? env : "?", "pipelines", p));
	}
	json_decref(list);
	*out = res;
	return 0;
}

int kf_kfp_report_read(struct kf_kube *k, const char *ns, const char *run_id,
		       json_t **out, struct kf_err **err)
{
	char *name = kf_xasprintf("kfboot-run-%s", run_id);
	json_t *cm = NULL, *data, *r;
	long st = 0;
	int rc;

	*out = NULL;
	rc = do_req(k, "GET", cm_path(ns, name), NULL, &st, &cm, err);
	if (!rc && st == 404)
		rc = KF_ENOENT;
	if (rc)
		goto out;
	data = json_object_get(cm, "data");
	r = json_object();
	json_object_set_new(r, "metrics", json_loads(json_string_value(json_object_get(data, "metrics.json")) ?: "{}", 0, NULL) ?: json_object());
	json_object_set_new(r, "model", json_loads(json_string_value(json_object_get(data, "model.json")) ?: "{}", 0, NULL) ?: json_object());
	*out = r;
out:
	json_decref(cm);
	free(name);
	return rc;
}
