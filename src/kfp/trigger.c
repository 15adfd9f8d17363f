/*
 * trigger.c - one trigger pass for (pipeline, environment, commit): the
 * exactly-once protocol, the concurrency modes and the run records
 * (trigger.h, docs/retraining.md). Also parses the `pipelines:` section of
 * kfboot.yaml and checks pipeline packages (kfp/ir.h) before anything is
 * uploaded.
 *
 * Every decision is taken from the journal as read at the start of a step
 * and written back with a resourceVersion precondition; a conflict means
 * another writer got there first, and the step starts again from a fresh
 * read. Steps are idempotent, so a pass repeated after a crash converges.
 *
 * Test hook: KFBOOT_KFP_CRASH_AT=<point> makes the process SIGKILL itself
 * at a named point (after-upload, after-enqueue, after-intent, after-post,
 * after-record) so tests can hit the narrow windows deterministically.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "kfp/ir.h"
#include "kfp/trigger.h"
#include "yaml/yaml.h"

static void crash_point(const char *name)
{
	const char *p = getenv("KFBOOT_KFP_CRASH_AT");

	if (p && !strcmp(p, name))
		kill(getpid(), SIGKILL);
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *kf_kfp_concurrency_str(enum kf_kfp_concurrency c)
{
	return c == KF_KFP_QUEUE ? "queue" : c == KF_KFP_REPLACE ? "replace" : "skip";
}

char *kf_kfp_run_name(const char *pipeline, const char *commit)
{
	return kf_xasprintf("%s@%.12s", pipeline, commit);
}

/* ---- metrics --------------------------------------------------------- */

static void m_created(void *ctx, const char *pipeline, const char *env, double latency)
{
	struct kf_kfp_metrics *km = ctx;
	const char *v[] = { pipeline, env, "created" };

	kf_metric_add(km->runs, v, 1);
	if (latency >= 0)
		kf_metric_observe(km->latency, v, latency);
}

static void m_state(void *ctx, const char *pipeline, const char *env, const char *state)
{
	struct kf_kfp_metrics *km = ctx;
	const char *v[] = { pipeline, env, state };

	kf_metric_add(km->runs, v, 1);
}

int kf_kfp_metrics_register(struct kf_metrics *m, struct kf_kfp_metrics *km,
			    struct kf_kfp_observer *out, struct kf_err **err)
{
	static const char *const l3[] = { "pipeline", "env", "state" };
	static const double bounds[] = { 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300 };

	km->runs = kf_metrics_counter(m, "kfboot_kfp_runs_total",
				      "Kubeflow Pipelines runs kfboot created (state=created) and the states it saw them reach.",
				      3, l3, err);
	if (!km->runs)
		return KF_EINVAL;
	km->latency = kf_metrics_histogram(m, "kfboot_kfp_push_to_run_seconds",
					   "Seconds from a git push to the pipeline run it triggered being created.",
					   2, l3, bounds, KF_ARRAY_SIZE(bounds), err);
	if (!km->latency)
		return KF_EINVAL;
	out->run_created = m_created;
	out->run_state = m_state;
	out->ctx = km;
	return 0;
}

/* ---- configuration --------------------------------------------------- */

static void diag_at(struct kf_diags *d, const struct kf_yaml_docs *docs,
		    const char *file, const json_t *obj, const char *key,
		    const char *fmt, ...) KF_PRINTF(6, 7);
static void diag_at(struct kf_diags *d, const struct kf_yaml_docs *docs,
		    const char *file, const json_t *obj, const char *key,
		    const char *fmt, ...)
{
	struct kf_pos pos = { 0 };
	va_list ap;
	char *m;

	if (docs && obj && key)
		kf_yaml_member_pos(docs, obj, key, &pos, NULL);
	else if (docs && obj)
		kf_yaml_pos(docs, obj, &pos);
	va_start(ap, fmt);
	m = kf_xvasprintf(fmt, ap);
	va_end(ap);
	kf_diags_add(d, file, pos.line, pos.col, "%s", m);
	free(m);
}

static char **str_list(const json_t *v, size_t *n)
{
	char **out;
	size_t i;
	json_t *it;

	*n = json_array_size(v);
	out = kf_xcalloc(*n + 1, sizeof(*out));
	json_array_foreach(v, i, it)
		out[i] = kf_xstrdup(json_string_value(it) ?: "");
	return out;
}

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) > 100)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static void parse_schedule(struct kf_kfp_schedule *s, const json_t *v,
			   const struct kf_yaml_docs *docs, const char *file,
			   struct kf_diags *d)
{
	const char *key;
	json_t *x;
	static const char *const known[] = { "cron", "interval", "maxConcurrency", "catchup", "enabled" };

	s->set = true;
	s->max_concurrency = 1;
	s->enabled = true;
	if (!json_is_object(v)) {
		diag_at(d, docs, file, v, NULL, "schedule: must be a mapping%s", "");
		return;
	}
	json_object_foreach((json_t *)v, key, x) {
		size_t i;

		for (i = 0; i < KF_ARRAY_SIZE(known); i++)
			if (!strcmp(key, known[i]))
				break;
		if (i == KF_ARRAY_SIZE(known))
			diag_at(d, docs, file, v, key, "schedule: unknown field '%s'", key);
	}
	if ((x = json_object_get(v, "cron"))) {
		const char *c = json_string_value(x);
		int fields = 0;

		for (const char *p = c ? c : ""; *p;) {
			while (*p == ' ')
				p++;
			if (*p)
				fields++;
			while (*p && *p != ' ')
				p++;
		}
		if (!c || fields != 6)
			diag_at(d, docs, file, v, "cron", "schedule.cron: '%s' must have 6 fields, seconds first (\"0 0 2 * * *\")", c ? c : "");
		else
			s->cron = kf_xstrdup(c);
	}
	if ((x = json_object_get(v, "interval"))) {
		const char *iv = json_string_value(x);

		if (!iv || kf_duration_parse(iv, &s->interval) || s->interval < 1)
			diag_at(d, docs, file, v, "interval", "schedule.interval: '%s' is not a duration of at least 1s", iv ? iv : "");
	}
	if (!!s->cron == !!s->interval)
		diag_at(d, docs, file, v, NULL, "schedule: give exactly one of cron and interval%s", "");
	if ((x = json_object_get(v, "maxConcurrency"))) {
		if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 10)
			diag_at(d, docs, file, v, "maxConcurrency", "schedule.maxConcurrency: must be 1 to 10%s", "");
		else
			s->max_concurrency = (int)json_integer_value(x);
	}
	if ((x = json_object_get(v, "catchup")))
		s->catchup = json_is_true(x);
	if ((x = json_object_get(v, "enabled")))
		s->enabled = !json_is_false(x);
}

int kf_kfp_pipelines_parse(struct kf_kfp_pipelines *out, const json_t *arr,
			   const struct kf_yaml_docs *docs, const char *file,
			   struct kf_diags *diags)
{
	static const char *const known[] = { "name", "package", "watch", "experiment", "parameters",
					     "environments", "concurrency", "schedule" };
	size_t i, before = diags->n;
	json_t *pe;

	memset(out, 0, sizeof(*out));
	if (!arr)
		return 0;
	if (!json_is_array(arr)) {
		diag_at(diags, docs, file, arr, NULL, "pipelines: must be a list%s", "");
		return KF_EINVAL;
	}
	out->v = kf_xcalloc(json_array_size(arr) + 1, sizeof(*out->v));
	json_array_foreach(arr, i, pe) {
		struct kf_kfp_pipeline *p = &out->v[out->n++];
		const char *key, *s;
		json_t *x;

		if (!json_is_object(pe)) {
			diag_at(diags, docs, file, pe, NULL, "pipelines: each entry must be a mapping%s", "");
			continue;
		}
		json_object_foreach(pe, key, x) {
			size_t k;

			for (k = 0; k < KF_ARRAY_SIZE(known); k++)
				if (!strcmp(key, known[k]))
					break;
			if (k == KF_ARRAY_SIZE(known)) {
				const char *near = kf_closest(key, known, KF_ARRAY_SIZE(known));
				char *m = kf_xasprintf("pipelines: unknown field '%s'%s%s%s", key,
						       near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");

				diag_at(diags, docs, file, pe, key, "%s", m);
				free(m);
			}
		}
		s = json_string_value(json_object_get(pe, "name"));
		if (!s || !name_ok(s))
			diag_at(diags, docs, file, pe, s ? "name" : NULL,
				"pipelines: name '%s' must be lower-case letters, digits, '-', '_', '.'", s ? s : "");
		p->name = kf_xstrdup(s ? s : "");
		for (size_t k = 0; k + 1 < out->n; k++)
			if (!strcmp(out->v[k].name, p->name) && *p->name)
				diag_at(diags, docs, file, pe, "name", "pipelines: '%s' is declared twice", p->name);
		s = json_string_value(json_object_get(pe, "package"));
		if (!s || !*s)
			diag_at(diags, docs, file, pe, NULL, "pipeline '%s': package is required", p->name);
		p->package = kf_xstrdup(s ? s : "");
		x = json_object_get(pe, "watch");
		if (x && !json_is_array(x))
			diag_at(diags, docs, file, pe, "watch", "pipeline '%s': watch must be a list of pathspecs", p->name);
		if (json_is_array(x))
			p->watch = str_list(x, &p->nwatch);
		else {
			/* default: the package's directory */
			const char *slash = strrchr(p->package, '/');

			p->watch = kf_xcalloc(2, sizeof(char *));
			p->watch[0] = slash ? kf_xasprintf("%.*s/**", (int)(slash - p->package), p->package)
					    : kf_xstrdup(p->package);
			p->nwatch = 1;
		}
		s = json_string_value(json_object_get(pe, "experiment"));
		p->experiment = kf_xstrdup(s && *s ? s : p->name);
		x = json_object_get(pe, "parameters");
		if (x && !json_is_object(x))
			diag_at(diags, docs, file, pe, "parameters", "pipeline '%s': parameters must be a mapping", p->name);
		p->parameters = json_is_object(x) ? json_deep_copy(x) : json_object();
		x = json_object_get(pe, "environments");
		if (!json_is_array(x) || !json_array_size(x))
			diag_at(diags, docs, file, pe, x ? "environments" : NULL,
				"pipeline '%s': environments must list at least one environment", p->name);
		p->envs = json_is_array(x) ? str_list(x, &p->nenvs) : kf_xcalloc(1, sizeof(char *));
		s = json_string_value(json_object_get(pe, "concurrency"));
		if (!s || !strcmp(s, "skip"))
			p->concurrency = KF_KFP_SKIP;
		else if (!strcmp(s, "queue"))
			p->concurrency = KF_KFP_QUEUE;
		else if (!strcmp(s, "replace"))
			p->concurrency = KF_KFP_REPLACE;
		else
			diag_at(diags, docs, file, pe, "concurrency", "pipelines: concurrency '%s' must be skip, queue or replace", s);
		if ((x = json_object_get(pe, "schedule")))
			parse_schedule(&p->schedule, x, docs, file, diags);
	}
	return diags->n > before ? KF_EINVAL : 0;
}

void kf_kfp_pipelines_release(struct kf_kfp_pipelines *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		struct kf_kfp_pipeline *p = &ps->v[i];

		free(p->name);
		free(p->package);
		for (size_t k = 0; k < p->nwatch; k++)
			free(p->watch[k]);
		free(p->watch);
		free(p->experiment);
		json_decref(p->parameters);
		for (size_t k = 0; k < p->nenvs; k++)
			free(p->envs[k]);
		free(p->envs);
		free(p->schedule.cron);
	}
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}

const struct kf_kfp_pipeline *kf_kfp_pipelines_find(const struct kf_kfp_pipelines *ps,
						    const char *name)
{
	for (size_t i = 0; i < ps->n; i++)
		if (!strcmp(ps->v[i].name, name))
			return &ps->v[i];
	return NULL;
}

/* ---- package check --------------------------------------------------- */

int kf_kfp_package_check(const char *name, const char *data, size_t len,
			 struct kf_diags *d)
{
	struct kf_kfp_ir *ir = NULL;
	struct kf_err *e = NULL;
	size_t before = d->n;
	int rc;

	/* the same checks as `kfboot pipeline validate` and the local runner */
	rc = kf_kfp_ir_check(&ir, name, data, len, d, &e);
	if (rc && d->n == before) {
		char *s = kf_err_str(e);

		kf_diags_add(d, name, 0, 0, "%s", s ? s : "invalid pipeline package");
		free(s);
	}
	kf_err_free(e);
	kf_kfp_ir_free(ir);
	return rc ? KF_EINVAL : 0;
}

/* ---- parameters ------------------------------------------------------ */

static char *subst(const char *s, const char *commit, const char *env)
{
	struct kf_buf b = KF_BUF_INIT;

	while (*s) {
		if (kf_str_startswith(s, "${GIT_COMMIT}")) {
			kf_buf_adds(&b, commit);
			s += 13;
		} else if (kf_str_startswith(s, "${GIT_SHORT_COMMIT}")) {
			kf_buf_addf(&b, "%.12s", commit);
			s += 19;
		} else if (kf_str_startswith(s, "${ENV}")) {
			kf_buf_adds(&b, env);
			s += 6;
		} else {
			kf_buf_addch(&b, *s++);
		}
	}
	return kf_buf_detach(&b, NULL);
}

json_t *kf_kfp_params_expand(const json_t *params, const char *commit,
			     const char *env)
{
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach((json_t *)params, k, v) {
		if (json_is_string(v)) {
			char *s = subst(json_string_value(v), commit, env);

			json_object_set_new(out, k, json_string(s));
			free(s);
		} else {
			json_object_set(out, k, v);
		}
	}
	return out;
}

/* ---- the pass -------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

static void set_status(struct kf_kfp_trigger_result *res, const char *fmt, const char *a)
{
	free(res->status);
	res->status = kf_xasprintf("%s%s", fmt, a);
}

/* Add (or update by run_id) a run record; keep the newest KF_KFP_RUNS_KEPT. */
static void record_run(json_t *entry, const json_t *intent, const json_t *run)
{
	json_t *runs = json_object_get(entry, "runs"), *r, *it;
	const char *id = jstr(run, "run_id");
	size_t i;

	json_array_foreach(runs, i, it)
		if (!strcmp(jstr(it, "run_id"), id))
			return;
	r = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O}", "commit", jstr(intent, "commit"),
		      "display", jstr(intent, "display"), "run_id", id, "state", jstr(run, "state"),
		      "created_at", jstr(run, "created_at"), "version_id", jstr(intent, "version_id"),
		      "parameters", json_object_get(intent, "parameters") ?: json_object());
	if (*jstr(run, "finished_at"))
		json_object_set_new(r, "finished_at", json_string(jstr(run, "finished_at")));
	json_array_append_new(runs, r);
	while (json_array_size(runs) > KF_KFP_RUNS_KEPT)
		json_array_remove(runs, 0);
}

/*
 * Resolve the intent of `entry` (the journal as read): find the run by
 * display name, create it when there is none. On success the run is
 * recorded in the entry, the intent removed (the caller writes).
 */
static int resolve_intent(struct kf_kfp_trigger *t, json_t *entry,
			  struct kf_kfp_trigger_result *res, struct kf_err **err)
{
	json_t *intent = json_object_get(entry, "intent"), *found = NULL, *run = NULL, *body;
	int rc;

	rc = kf_kfp_runs_find(t->kfp, jstr(intent, "experiment_id"), jstr(intent, "display"), &found, err);
	if (rc)
		return rc;
	if (json_array_size(found)) {
		run = json_incref(json_array_get(found, json_array_size(found) - 1)); /* the oldest */
		res->adopted++;
	} else {
		body = json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:{s:O}}", "display_name", jstr(intent, "display"),
				 "description", "kfboot: commit", "experiment_id", jstr(intent, "experiment_id"),
				 "pipeline_version_reference", "pipeline_id", jstr(intent, "pipeline_id"),
				 "pipeline_version_id", jstr(intent, "version_id"),
				 "runtime_config", "parameters", json_object_get(intent, "parameters") ?: json_object());
		json_object_set_new(body, "description",
				    json_sprintf("kfboot: %s of %s at commit %s", t->p->name, t->env, jstr(intent, "commit")));
		rc = kf_kfp_run_create(t->kfp, body, &run, err);
		json_decref(body);
		if (rc) {
			/* the run may exist all the same (a 500 after creating it,
			 * a dropped connection): the list decides */
			struct kf_err *e2 = NULL;

			json_decref(found);
			found = NULL;
			if (!kf_kfp_runs_find(t->kfp, jstr(intent, "experiment_id"), jstr(intent, "display"), &found, &e2) &&
			    json_array_size(found)) {
				kf_err_clear(err);
				run = json_incref(json_array_get(found, json_array_size(found) - 1));
				rc = 0;
			}
			kf_err_free(e2);
			if (rc) {
				json_decref(found);
				return rc; /* the intent stays: the next pass resolves it */
			}
		}
		crash_point("after-post");
		res->started++;
		if (t->obs && t->obs->run_created) {
			double pushed = json_real_value(json_object_get(intent, "t"));

			t->obs->run_created(t->obs->ctx, t->p->name, t->env, pushed > 0 ? wall_now() - pushed : -1);
		}
	}
	record_run(entry, intent, run);
	json_object_del(entry, "intent");
	json_decref(run);
	json_decref(found);
	return 0;
}

/* Update records of runs that are not terminal yet; read reports. */
static int follow_runs(struct kf_kfp_trigger *t, json_t *entry, bool *changed,
		       struct kf_err **err)
{
	json_t *runs = json_object_get(entry, "runs"), *r;
	size_t i;

	json_array_foreach(runs, i, r) {
		json_t *live = NULL, *rep = NULL;
		const char *st;
		struct kf_err *e2 = NULL;

		if (kf_kfp_state_terminal(jstr(r, "state")) && json_object_get(r, "report_checked"))
			continue;
		if (!kf_kfp_state_terminal(jstr(r, "state"))) {
			int rc = kf_kfp_run_get(t->kfp, jstr(r, "run_id"), &live, err);

			if (rc == KF_ENOENT) { /* deleted in KFP */
				kf_err_clear(err);
				json_object_set_new(r, "state", json_string("CANCELED"));
				*changed = true;
				continue;
			}
			if (rc)
				return rc;
			st = jstr(live, "state");
			if (strcmp(st, jstr(r, "state"))) {
				json_object_set_new(r, "state", json_string(st));
				*changed = true;
				if (t->obs && t->obs->run_state)
					t->obs->run_state(t->obs->ctx, t->p->name, t->env, st);
			}
			if (*jstr(live, "finished_at"))
				json_object_set_new(r, "finished_at", json_string(jstr(live, "finished_at")));
			json_decref(live);
		}
		if (!strcmp(jstr(r, "state"), "SUCCEEDED") && t->kube) {
			int rc = kf_kfp_report_read(t->kube, t->ns, jstr(r, "run_id"), &rep, &e2);

			json_int_t tries = json_integer_value(json_object_get(r, "report_tries")) + 1;

			if (!rc) {
				json_object_set(r, "metrics", json_object_get(rep, "metrics"));
				json_object_set(r, "model", json_object_get(rep, "model"));
				json_object_del(r, "report");
				json_object_del(r, "report_tries");
			} else {
				/* the last step may still be writing it: look again
				 * in the next passes before giving up */
				json_object_set_new(r, "report", json_string(rc == KF_ENOENT ? "no report ConfigMap" : e2->msg));
				json_object_set_new(r, "report_tries", json_integer(tries));
				*changed = true;
			}
			json_decref(rep);
			kf_err_free(e2);
			if (rc && tries < KF_KFP_REPORT_TRIES)
				continue;
		}
		if (kf_kfp_state_terminal(jstr(r, "state"))) {
			json_object_set_new(r, "report_checked", json_true());
			*changed = true;
		}
	}
	return 0;
}

static bool commit_known(json_t *entry, const char *commit)
{
	json_t *it;
	size_t i;

	if (!strcmp(jstr(json_object_get(entry, "intent"), "commit"), commit))
		return true;
	json_array_foreach(json_object_get(entry, "queue"), i, it)
		if (!strcmp(jstr(it, "commit"), commit))
			return true;
	json_array_foreach(json_object_get(entry, "runs"), i, it)
		if (!strcmp(jstr(it, "commit"), commit))
			return true;
	return false;
}

/* Upload (or find) the version for commit; fills ids. */
static int ensure_version(struct kf_kfp_trigger *t, const char *commit,
			  const char *pkg, size_t pkg_len, char **pid, char **vid,
			  char **eid, struct kf_kfp_trigger_result *res,
			  struct kf_err **err)
{
	json_t *pl = NULL, *ver = NULL;
	char *vname = kf_kfp_run_name(t->p->name, commit);
	const char *base = strrchr(t->p->package, '/');
	char *fname = kf_xstrdup(base ? base + 1 : t->p->package);
	int rc;

	*pid = *vid = *eid = NULL;
	if (!kf_str_endswith(fname, ".yaml") && !kf_str_endswith(fname, ".yml") && !kf_str_endswith(fname, ".json")) {
		char *f2 = kf_xasprintf("%s.yaml", fname);

		free(fname);
		fname = f2;
	}
	rc = kf_kfp_experiment_ensure(t->kfp, t->ns, t->p->experiment, eid, err);
	if (rc)
		goto out;
	rc = kf_kfp_pipeline_get(t->kfp, t->ns, t->p->name, &pl, err);
	if (rc == KF_ENOENT) {
		kf_err_clear(err);
		rc = kf_kfp_pipeline_upload(t->kfp, t->ns, t->p->name, fname, pkg, pkg_len, &pl, err);
		if (rc == KF_ECONFLICT) {
			kf_err_clear(err);
			rc = kf_kfp_pipeline_get(t->kfp, t->ns, t->p->name, &pl, err);
		}
	}
	if (rc)
		goto out;
	*pid = kf_xstrdup(jstr(pl, "pipeline_id"));
	rc = kf_kfp_version_upload(t->kfp, *pid, vname, fname, pkg, pkg_len, &ver, err);
	if (rc == KF_ECONFLICT) {
		kf_err_clear(err);
		rc = kf_kfp_version_find(t->kfp, *pid, vname, &ver, err);
	}
	if (rc == KF_EINVAL)
		set_status(res, "KFP refused the package: ", (*err)->msg);
	if (rc)
		goto out;
	*vid = kf_xstrdup(jstr(ver, "pipeline_version_id"));
	crash_point("after-upload");
out:
	json_decref(pl);
	json_decref(ver);
	free(vname);
	free(fname);
	return rc;
}

static bool has_active(json_t *entry)
{
	json_t *it;
	size_t i;

	json_array_foreach(json_object_get(entry, "runs"), i, it)
		if (!kf_kfp_state_terminal(jstr(it, "state")))
			return true;
	return false;
}

/* One read-modify-write step on the journal, retried on conflicts. */
enum step { STEP_RESOLVE, STEP_FOLLOW, STEP_ENQUEUE, STEP_START };

struct enqueue_arg {
	const char *commit, *pid, *vid, *eid;
};

static int step(struct kf_kfp_trigger *t, enum step s, const struct enqueue_arg *eq,
		struct kf_kfp_trigger_result *res, struct kf_err **err)
{
	for (int attempt = 0; attempt < 20; attempt++) {
		struct kf_kfp_journal j;
		json_t *entry, *queue;
		bool dirty = false;
		int rc = kf_kfp_journal_read(t->kube, t->env, &j, err);

		if (rc)
			return rc;
		entry = kf_kfp_journal_entry(&j, t->p->name);
		queue = json_object_get(entry, "queue");
		switch (s) {
		case STEP_RESOLVE:
			if (json_object_get(entry, "intent")) {
				rc = resolve_intent(t, entry, res, err);
				dirty = !rc;
			}
			break;
		case STEP_FOLLOW:
			rc = follow_runs(t, entry, &dirty, err);
			break;
		case STEP_ENQUEUE:
			if (!commit_known(entry, eq->commit)) {
				json_array_append_new(queue, json_pack("{s:s,s:s,s:s,s:s,s:f}", "commit", eq->commit,
								       "pipeline_id", eq->pid, "version_id", eq->vid,
								       "experiment_id", eq->eid, "t",
								       t->pushed_at > 0 ? t->pushed_at : wall_now()));
				dirty = true;
			}
			if (strcmp(jstr(entry, "last"), eq->commit)) {
				json_object_set_new(entry, "last", json_string(eq->commit));
				dirty = true;
			}
			if (*jstr(entry, "status")) {
				json_object_set_new(entry, "status", json_string(""));
				dirty = true;
			}
			break;
		case STEP_START: {
			json_t *item = NULL, *intent;
			size_t n = json_array_size(queue);

			if (!n || json_object_get(entry, "intent"))
				break;
			if (has_active(entry)) {
				if (t->p->concurrency == KF_KFP_QUEUE)
					break;
				if (t->p->concurrency == KF_KFP_SKIP) {
					if (n > 1) { /* only the newest waits */
						json_t *last = json_incref(json_array_get(queue, n - 1));

						json_array_clear(queue);
						json_array_append_new(queue, last);
						dirty = true;
					}
					break;
				}
				/* replace: terminate what is active, then start */
				json_t *it;
				size_t i;

				json_array_foreach(json_object_get(entry, "runs"), i, it) {
					if (kf_kfp_state_terminal(jstr(it, "state")))
						continue;
					rc = kf_kfp_run_terminate(t->kfp, jstr(it, "run_id"), err);
					if (rc == KF_ENOENT) {
						kf_err_clear(err);
						rc = 0;
					}
					if (rc)
						break;
					json_object_set_new(it, "state", json_string("CANCELING"));
					res->terminated++;
				}
				if (rc)
					break;
			}
			if (t->p->concurrency == KF_KFP_QUEUE) {
				item = json_incref(json_array_get(queue, 0));
				json_array_remove(queue, 0);
			} else {
				item = json_incref(json_array_get(queue, n - 1));
				json_array_clear(queue);
			}
			{
				char *disp = kf_kfp_run_name(t->p->name, jstr(item, "commit"));
				json_t *params = kf_kfp_params_expand(t->p->parameters, jstr(item, "commit"), t->env);

				intent = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:f}", "commit", jstr(item, "commit"),
						   "display", disp, "pipeline_id", jstr(item, "pipeline_id"),
						   "version_id", jstr(item, "version_id"), "experiment_id",
						   jstr(item, "experiment_id"), "parameters", params, "t",
						   json_number_value(json_object_get(item, "t")));
				free(disp);
			}
			json_object_set_new(entry, "intent", intent);
			json_decref(item);
			dirty = true;
			break;
		}
		}
		if (!rc && dirty) {
			rc = kf_kfp_journal_write(t->kube, &j, err);
			if (rc == KF_ECONFLICT) {
				kf_err_clear(err);
				kf_kfp_journal_release(&j);
				kf_sleep(0.05 * (attempt + 1));
				continue;
			}
			if (!rc && s == STEP_ENQUEUE)
				crash_point("after-enqueue");
			if (!rc && s == STEP_START)
				crash_point("after-intent");
			if (!rc && s == STEP_RESOLVE)
				crash_point("after-record");
		}
		kf_kfp_journal_release(&j);
		if (rc)
			return rc;
		/* a started intent is resolved right away */
		if (s == STEP_START && dirty)
			return step(t, STEP_RESOLVE, NULL, res, err);
		return 0;
	}
	return kf_err_set(err, KF_ECONFLICT, "run journal of '%s' keeps changing under us", t->env);
}

/* Write the status line of the pipeline's entry (a broken package, ...). */
static int write_status(struct kf_kfp_trigger *t, const char *status, struct kf_err **err)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		struct kf_kfp_journal j;
		json_t *entry;
		int rc = kf_kfp_journal_read(t->kube, t->env, &j, err);

		if (rc)
			return rc;
		entry = kf_kfp_journal_entry(&j, t->p->name);
		if (!strcmp(jstr(entry, "status"), status)) {
			kf_kfp_journal_release(&j);
			return 0;
		}
		json_object_set_new(entry, "status", json_string(status));
		rc = kf_kfp_journal_write(t->kube, &j, err);
		kf_kfp_journal_release(&j);
		if (rc != KF_ECONFLICT)
			return rc;
		kf_err_clear(err);
	}
	return kf_err_set(err, KF_ECONFLICT, "run journal of '%s' keeps changing under us", t->env);
}

/* ---- kfboot's own commits ------------------------------------------ */

static bool blank_line(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return false;
	return true;
}

bool kf_kfp_commit_is_kfboot(const char *message)
{
	const char *end, *p, *para = NULL;

	if (!message)
		return false;
	end = message + strlen(message);
	/* the last paragraph: after the last blank line that has text after it */
	for (p = message; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;

		if (blank_line(p, eol ? eol : end) && !blank_line(next, end))
			para = next;
		p = next;
	}
	if (!para)
		return false; /* a subject (and no body) has no trailers */
	for (p = para; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!strncmp(p, "Kfboot-Model: ", 14) || !strncmp(p, "Kfboot-Promote: ", 16))
			return true;
		p = eol ? eol + 1 : end;
	}
	return false;
}

/* Is `commit` a write-back or promotion kfboot made? parent (optional)
 * gets its first parent. Without an info callback nothing is. */
static int kfboot_commit(struct kf_kfp_trigger *t, const char *commit, bool *yes,
			 char **parent, struct kf_err **err)
{
	char *msg = NULL, *par = NULL;
	int rc = 0;

	*yes = false;
	if (parent)
		*parent = NULL;
	if (!t->info)
		return 0;
	rc = t->info(t->source_ctx, commit, &msg, &par, err);
	if (!rc)
		*yes = kf_kfp_commit_is_kfboot(msg);
	free(msg);
	if (parent && !rc)
		*parent = par;
	else
		free(par);
	return rc;
}

/* The newest first-parent ancestor of `commit` (itself included) that is
 * not kfboot's, looking at most 100 commits back; NULL when there is none. */
static int newest_user_commit(struct kf_kfp_trigger *t, const char *commit, char **out,
			      struct kf_err **err)
{
	char *c = kf_xstrdup(commit);
	int rc = 0;

	*out = NULL;
	for (int i = 0; i < 100 && c; i++) {
		bool kb;
		char *par = NULL;

		rc = kfboot_commit(t, c, &kb, &par, err);
		if (rc)
			break;
		if (!kb) {
			free(par);
			*out = c; /* found */
			return 0;
		}
		free(c);
		c = par;
	}
	free(c);
	return rc;
}

/*
 * Changes since `last` when kfboot's own commits are among the first-parent
 * commits after it: only the other commits' changes count (each against
 * its parent in the walk), and the run is for the newest commit that is not
 * kfboot's. *run stays NULL when nothing triggers.
 */
static int user_changes(struct kf_kfp_trigger *t, const char *last, char **walk, size_t nwalk,
			const bool *kb, char **run, struct kf_err **err)
{
	bool trig = false;
	int rc = 0;

	*run = NULL;
	for (size_t i = 0; i < nwalk && !rc && !trig; i++)
		if (!kb[i])
			rc = t->changed(t->source_ctx, i ? walk[i - 1] : last, walk[i],
					(const char *const *)t->p->watch, t->p->nwatch, &trig, err);
	if (rc || !trig)
		return rc;
	for (size_t i = nwalk; i-- > 0;)
		if (!kb[i]) {
			*run = kf_xstrdup(walk[i]);
			break;
		}
	return 0;
}

/* The commits that trigger the pipeline, oldest first (owned strings).
 * kfboot's own commits (write-backs, promotions) never do: their changes
 * are left out of the comparison and no run is for one of them. */
static int triggering_commits(struct kf_kfp_trigger *t, char ***out, size_t *nout,
			      struct kf_err **err)
{
	struct kf_kfp_journal j;
	json_t *entry;
	const char *last;
	char **walk = NULL, *run = NULL;
	bool *kb = NULL, any_kb = false;
	size_t nwalk = 0;
	bool trig = false;
	int rc;

	*out = NULL;
	*nout = 0;
	rc = kf_kfp_journal_read(t->kube, t->env, &j, err);
	if (rc)
		return rc;
	entry = kf_kfp_journal_entry(&j, t->p->name);
	last = jstr(entry, "last");
	if (commit_known(entry, t->commit) || !strcmp(last, t->commit))
		goto out; /* already queued, started or run */
	if (t->force) {
		trig = true; /* by hand: the commit asked for, whoever made it */
		goto out;
	}
	if (!*last) {
		/* a pipeline seen for the first time: once, for the newest
		 * commit that is not a write-back or promotion */
		rc = newest_user_commit(t, t->commit, &run, err);
		if (!rc && run && strcmp(run, t->commit) && commit_known(entry, run)) {
			free(run);
			run = NULL;
		} else if (!rc && !run) {
			trig = true; /* 100 of kfboot's commits in a row: the newest */
		}
		goto out;
	}
	if (t->commits && t->info && t->changed) {
		/* are kfboot's own commits among those since last? */
		rc = t->commits(t->source_ctx, last, t->commit, &walk, &nwalk, err);
		if (rc)
			goto out;
		kb = kf_xcalloc(nwalk + 1, sizeof(*kb));
		for (size_t i = 0; i < nwalk && !rc; i++) {
			rc = kfboot_commit(t, walk[i], &kb[i], NULL, err);
			any_kb |= kb[i];
		}
		if (rc)
			goto out;
	}
	if (t->p->concurrency == KF_KFP_QUEUE && t->commits) {
		/* every triggering commit runs: look at each one since last */
		if (!walk) {
			rc = t->commits(t->source_ctx, last, t->commit, &walk, &nwalk, err);
			if (rc)
				goto out;
		}
		*out = kf_xcalloc(nwalk + 1, sizeof(char *));
		for (size_t i = 0; i < nwalk && !rc; i++) {
			bool ch = false;

			if (kb && kb[i])
				continue; /* a write-back or promotion */
			rc = t->changed(t->source_ctx, i ? walk[i - 1] : last, walk[i],
					(const char *const *)t->p->watch, t->p->nwatch, &ch, err);
			if (!rc && ch && !commit_known(entry, walk[i]))
				(*out)[(*nout)++] = kf_xstrdup(walk[i]);
		}
		goto out;
	}
	if (any_kb) {
		rc = user_changes(t, last, walk, nwalk, kb, &run, err);
		if (!rc && run && commit_known(entry, run)) {
			free(run);
			run = NULL;
		}
		goto out;
	}
	if (t->changed)
		rc = t->changed(t->source_ctx, last, t->commit, (const char *const *)t->p->watch,
				t->p->nwatch, &trig, err);
out:
	if (!rc && run && !*out) {
		*out = kf_xcalloc(2, sizeof(char *));
		(*out)[(*nout)++] = run;
		run = NULL;
	} else if (!rc && trig && !*out) {
		*out = kf_xcalloc(2, sizeof(char *));
		(*out)[(*nout)++] = kf_xstrdup(t->commit);
	}
	free(run);
	free(kb);
	for (size_t i = 0; i < nwalk; i++)
		free(walk[i]);
	free(walk);
	kf_kfp_journal_release(&j);
	return rc;
}

int kf_kfp_trigger_run(struct kf_kfp_trigger *t,
		       struct kf_kfp_trigger_result *res, struct kf_err **err)
{
	char **cands = NULL;
	size_t ncands = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	/* 1. a pass that died left an intent: finish it first */
	rc = step(t, STEP_RESOLVE, NULL, res, err);
	/* 2. follow runs */
	if (!rc)
		rc = step(t, STEP_FOLLOW, NULL, res, err);
	if (rc || !t->commit)
		goto start;
	/* 3. is the package sound, and which commits trigger the pipeline? */
	{
		struct kf_diags dg = KF_DIAGS_INIT;

		if (kf_kfp_package_check(t->p->package, t->package, t->package_len, &dg)) {
			struct kf_buf b = KF_BUF_INIT;

			kf_diags_sort(&dg);
			for (size_t i = 0; i < dg.n; i++) {
				char *s = kf_diag_str(&dg.v[i]);

				kf_buf_addf(&b, "%s%s", i ? "; " : "", s);
				free(s);
			}
			kf_diags_release(&dg);
			set_status(res, "package invalid, nothing uploaded: ", b.buf);
			rc = write_status(t, res->status, err);
			if (!rc)
				rc = kf_err_set(err, KF_EINVAL, "%s", res->status);
			kf_buf_release(&b);
			goto out;
		}
		/* the package is sound again: an old complaint no longer holds */
		rc = write_status(t, "", err);
		if (rc)
			goto out;
	}
	rc = triggering_commits(t, &cands, &ncands, err);
	for (size_t i = 0; i < ncands && !rc; i++) {
		struct kf_diags dg = KF_DIAGS_INIT;
		struct enqueue_arg eq;
		char *pid = NULL, *vid = NULL, *eid = NULL, *pkg = NULL;
		const char *data = t->package;
		size_t len = t->package_len;

		if (strcmp(cands[i], t->commit)) {
			/* an older commit of a burst (queue): its own package */
			rc = t->read(t->source_ctx, cands[i], t->p->package, &pkg, &len, err);
			if (rc == KF_ENOENT || (!rc && kf_kfp_package_check(t->p->package, pkg, len, &dg))) {
				/* nothing sound to run at that commit */
				kf_err_clear(err);
				kf_diags_release(&dg);
				free(pkg);
				rc = 0;
				continue;
			}
			if (rc)
				break;
			data = pkg;
		}
		rc = ensure_version(t, cands[i], data, len, &pid, &vid, &eid, res, err);
		if (rc && res->status)
			write_status(t, res->status, NULL);
		if (!rc) {
			eq.commit = cands[i];
			eq.pid = pid;
			eq.vid = vid;
			eq.eid = eid;
			rc = step(t, STEP_ENQUEUE, &eq, res, err);
		}
		if (!rc)
			res->triggered = true;
		free(pid);
		free(vid);
		free(eid);
		free(pkg);
	}
	if (rc)
		goto out;
start:
	/* 4. start what the concurrency mode allows */
	if (!rc)
		rc = step(t, STEP_START, NULL, res, err);
out:
	if (rc)
		kf_err_wrap(err, "pipeline '%s' in '%s'", t->p->name, t->env);
	for (size_t i = 0; i < ncands; i++)
		free(cands[i]);
	free(cands);
	return rc;
}

void kf_kfp_trigger_result_release(struct kf_kfp_trigger_result *r)
{
	free(r->status);
	r->status = NULL;
}
