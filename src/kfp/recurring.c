/*
 * recurring.c - recurring runs declared in git, reconciled against KFP
 * (recurring.h). The desired spec is hashed into the description, which is
 * how kfboot finds its own recurring runs and tells a changed schedule from
 * an unchanged one without an update endpoint. Order on change: create the
 * new, then delete the old, so a crash in between leaves two (the next pass
 * deletes the stale one) rather than none.
 *
 * Removal has to work also when nothing is left in git to say where to
 * look (the last scheduled pipeline removed from kfboot.yaml): each
 * pipeline's entry in the run journal carries "recurring": true, written
 * before a recurring run is created, and false once a prune has deleted
 * whatever it had in that environment. A pass with no pipeline listing the
 * environment asks KFP only while an entry is not known to be clear
 * (kf_kfp_recurring_prune_needed); a repository that never used KFP costs
 * one journal read.
 */
#include <stdlib.h>
#include <string.h>

#include "kfp/recurring.h"

static const char *js(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

json_t *kf_kfp_recurring_body(const struct kf_kfp_pipeline *p, const char *env,
			      const char *experiment_id, const char *pipeline_id,
			      const char *version_id)
{
	const struct kf_kfp_schedule *s = &p->schedule;
	json_t *trig, *b, *ref;
	char *mc = kf_xasprintf("%d", s->max_concurrency), *dn = kf_xasprintf("%s-%s-schedule", p->name, env);

	if (s->cron) {
		trig = json_pack("{s:{s:s}}", "cron_schedule", "cron", s->cron);
	} else {
		char *iv = kf_xasprintf("%.0f", s->interval);

		trig = json_pack("{s:{s:s}}", "periodic_schedule", "interval_second", iv);
		free(iv);
	}
	ref = json_pack("{s:s}", "pipeline_id", pipeline_id);
	if (version_id)
		json_object_set_new(ref, "pipeline_version_id", json_string(version_id));
	b = json_pack("{s:s,s:s,s:o,s:{s:o},s:o,s:s,s:s,s:b}", "display_name", dn,
		      "experiment_id", experiment_id, "pipeline_version_reference", ref,
		      "runtime_config", "parameters", kf_kfp_params_expand(p->parameters, "", env),
		      "trigger", trig, "max_concurrency", mc, "mode", s->enabled ? "ENABLE" : "DISABLE",
		      "no_catchup", !s->catchup);
	free(mc);
	free(dn);
	return b;
}

static char *prefix_of(const char *pipeline, const char *env)
{
	return kf_xasprintf("kfboot:%s:%s:", pipeline, env);
}

/* Is a recurring run of pipeline p in env wanted by git? */
static bool wanted(const struct kf_kfp_pipelines *ps, const char *pipeline, const char *env)
{
	const struct kf_kfp_pipeline *p = ps ? kf_kfp_pipelines_find(ps, pipeline) : NULL;

	if (p && p->schedule.set)
		for (size_t e = 0; e < p->nenvs; e++)
			if (!strcmp(p->envs[e], env))
				return true;
	return false;
}

/* Set "recurring" of the journal entries of env: of `pipeline` to true
 * (before creating one), or (pipeline NULL) to false for every pipeline
 * not wanted by ps (after a prune). Retried on write conflicts. */
static int mark(struct kf_kube *k, const char *env, const char *pipeline,
		const struct kf_kfp_pipelines *ps, struct kf_err **err)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		struct kf_kfp_journal j;
		bool dirty = false;
		const char *key;
		json_t *e;
		int rc = kf_kfp_journal_read(k, env, &j, err);

		if (rc)
			return rc;
		if (pipeline) {
			e = kf_kfp_journal_entry(&j, pipeline);
			if (!json_is_true(json_object_get(e, "recurring"))) {
				json_object_set_new(e, "recurring", json_true());
				dirty = true;
			}
		} else {
			json_object_foreach(j.data, key, e)
				if (!json_is_false(json_object_get(e, "recurring")) && !wanted(ps, key, env)) {
					json_object_set_new(e, "recurring", json_false());
					dirty = true;
				}
		}
		rc = dirty ? kf_kfp_journal_write(k, &j, err) : 0;
		kf_kfp_journal_release(&j);
		if (rc != KF_ECONFLICT)
			return rc;
		kf_err_clear(err);
		kf_sleep(0.05 * (attempt + 1));
	}
	return kf_err_set(err, KF_ECONFLICT, "run journal of '%s' keeps changing under us", env);
}

int kf_kfp_recurring_prune_needed(struct kf_kube *k, const struct kf_kfp_pipelines *ps,
				  const char *env, bool *needed, struct kf_err **err)
{
	struct kf_kfp_journal j;
	const char *key;
	json_t *e;
	int rc = kf_kfp_journal_read(k, env, &j, err);

	*needed = false;
	if (rc == KF_EAUTH) {
		/* not allowed to read kfboot-system: retraining was never set
		 * up here (its RBAC grants this), so kfboot created nothing */
		kf_debug("%s: no access to the run journal, no recurring runs to prune", env);
		kf_err_clear(err);
		rc = 0;
	}
	if (!rc)
		json_object_foreach(j.data, key, e)
			*needed |= !json_is_false(json_object_get(e, "recurring")) && !wanted(ps, key, env);
	kf_kfp_journal_release(&j);
	return rc;
}

int kf_kfp_recurring_reconcile(struct kf_kfp *c, struct kf_kube *k,
			       const struct kf_kfp_pipeline *p,
			       const char *env, const char *ns,
			       const char *version_id, struct kf_err **err)
{
	json_t *pl = NULL, *body = NULL, *list = NULL, *it, *created = NULL;
	char *eid = NULL, *pre = prefix_of(p->name, env), *desc = NULL, *dump, hash[65];
	const char *keep = NULL;
	size_t i;
	int rc;

	if (!p->schedule.set)
		goto done;
	rc = kf_kfp_pipeline_get(c, ns, p->name, &pl, err);
	if (rc == KF_ENOENT) { /* not uploaded yet: the first triggered run does it */
		kf_err_clear(err);
		rc = 0;
		goto out;
	}
	if (!rc)
		rc = kf_kfp_experiment_ensure(c, ns, p->experiment, &eid, err);
	if (rc)
		goto out;
	body = kf_kfp_recurring_body(p, env, eid, js(pl, "pipeline_id"), version_id);
	dump = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	kf_sha256_hex(dump, strlen(dump), hash);
	free(dump);
	desc = kf_xasprintf("%s%.12s", pre, hash);
	json_object_set_new(body, "description", json_string(desc));
	/* the whole namespace, not the experiment: when `experiment:` changed,
	 * the old one lives in the old experiment and must go too */
	rc = kf_kfp_recurring_list(c, NULL, ns, &list, err);
	if (rc)
		goto out;
	json_array_foreach(list, i, it)
		if (!strcmp(js(it, "description"), desc)) {
			keep = js(it, "recurring_run_id");
			break;
		}
	if (!keep) {
		/* journal first: a removal from git must find it even when no
		 * pipeline is left to say where to look */
		if (k && (rc = mark(k, env, p->name, NULL, err)))
			goto out;
		rc = kf_kfp_recurring_create(c, body, &created, err);
		if (rc) {
			/* created all the same? the next pass sees it by its
			 * description; do not delete the old one now */
			goto out;
		}
		keep = js(created, "recurring_run_id");
	}
	/* delete every other recurring run of ours for (pipeline, env) */
	json_array_foreach(list, i, it) {
		if (!kf_str_startswith(js(it, "description"), pre) || !strcmp(js(it, "recurring_run_id"), keep))
			continue;
		rc = kf_kfp_recurring_delete(c, js(it, "recurring_run_id"), err);
		if (rc)
			goto out;
	}
	goto out;
done:
	rc = 0;
out:
	if (rc)
		kf_err_wrap(err, "recurring run of '%s' in '%s'", p->name, env);
	json_decref(created);
	json_decref(list);
	json_decref(body);
	json_decref(pl);
	free(eid);
	free(desc);
	free(pre);
	return rc;
}

int kf_kfp_recurring_prune(struct kf_kfp *c, struct kf_kube *k,
			   const struct kf_kfp_pipelines *ps,
			   const char *env, const char *ns, struct kf_err **err)
{
	json_t *list = NULL, *it;
	size_t i;
	int rc;

	rc = kf_kfp_recurring_list(c, NULL, ns, &list, err);
	if (rc)
		return kf_err_wrap(err, "recurring runs in '%s'", ns);
	json_array_foreach(list, i, it) {
		const char *d = js(it, "description");
		char *pname, *colon;
		bool keep;

		if (!kf_str_startswith(d, "kfboot:"))
			continue; /* not kfboot's */
		pname = kf_xstrdup(d + 7);
		colon = strchr(pname, ':');
		if (!colon || !kf_str_startswith(colon + 1, env) || (colon + 1)[strlen(env)] != ':') {
			free(pname);
			continue; /* another environment's */
		}
		*colon = 0;
		keep = wanted(ps, pname, env);
		free(pname);
		if (keep)
			continue;
		rc = kf_kfp_recurring_delete(c, js(it, "recurring_run_id"), err);
		if (rc)
			break;
	}
	json_decref(list);
	/* every unwanted pipeline is now known to have none here */
	if (!rc && k)
		rc = mark(k, env, NULL, ps, err);
	if (rc)
		kf_err_wrap(err, "recurring runs in '%s'", ns);
	return rc;
}
