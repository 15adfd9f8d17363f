/*
 * recurring.c - recurring runs declared in git, reconciled against KFP
 * (recurring.h). The desired spec is hashed into the description, which is
 * how kfboot finds its own recurring runs and tells a changed schedule from
 * an unchanged one without an update endpoint. Order on change: create the
 * new, then delete the old, so a crash in between leaves two (the next pass
 * deletes the stale one) rather than none.
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

int kf_kfp_recurring_reconcile(struct kf_kfp *c, const struct kf_kfp_pipeline *p,
			       const char *env, const char *ns,
			       const char *version_id, struct kf_err **err)
{
	json_t *pl = NULL, *body = NULL, *list = NULL, *it, *created = NULL;
	char *eid = NULL, *pre = prefix_of(p->name, env), *desc = NULL, *dump, hash[65];
	const char *keep = NULL;
	size_t i;
	int rc;

	if (!p->schedule.set)
		goto prune;
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
	rc = kf_kfp_recurring_list(c, eid, NULL, &list, err);
	if (rc)
		goto out;
	json_array_foreach(list, i, it)
		if (!strcmp(js(it, "description"), desc)) {
			keep = js(it, "recurring_run_id");
			break;
		}
	if (!keep) {
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
prune:
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

int kf_kfp_recurring_prune(struct kf_kfp *c, const struct kf_kfp_pipelines *ps,
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
		const struct kf_kfp_pipeline *p;
		bool wanted = false;

		if (!kf_str_startswith(d, "kfboot:"))
			continue;
		pname = kf_xstrdup(d + 7);
		colon = strchr(pname, ':');
		if (!colon || !kf_str_startswith(colon + 1, env) || (colon + 1)[strlen(env)] != ':') {
			free(pname);
			continue; /* another environment's */
		}
		*colon = 0;
		p = kf_kfp_pipelines_find(ps, pname);
		if (p && p->schedule.set)
			for (size_t e = 0; e < p->nenvs; e++)
				wanted |= !strcmp(p->envs[e], env);
		free(pname);
		if (wanted)
			continue;
		rc = kf_kfp_recurring_delete(c, js(it, "recurring_run_id"), err);
		if (rc)
			break;
	}
	json_decref(list);
	return rc;
}
