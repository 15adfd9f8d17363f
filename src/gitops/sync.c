/*
 * sync.c - bring one environment of a cluster to one commit.
 *
 * Everything is checked before the first write, so a broken commit changes
 * nothing in that environment:
 *  1. render (render.c): YAML, ${VAR}, identity, duplicates;
 *  2. kinds: known to the server or defined by a CRD in the set
 *     (discovery is refreshed once before a kind is called unknown);
 *  3. a server-side dry run (dryRun=All) of every object whose content or
 *     live version changed since kfboot applied it, and of the prune;
 * then the staged apply engine runs for real with the environment's ApplySet
 * inventory (kube-system/kfboot-gitops-<env> by default), prune when the
 * environment says so, and a health wait bounded by the environment's
 * timeout. The outcome is a struct kf_env_status: commit, time, result,
 * counts, health and the first problem with file:line:col.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gitops.h"
#include "live.h"

const char *kf_sync_result_str(enum kf_sync_result r)
{
	switch (r) {
	case KF_SYNC_APPLIED: return "applied";
	case KF_SYNC_INVALID: return "invalid";
	case KF_SYNC_FAILED: return "failed";
	case KF_SYNC_DRY_RUN: return "dry-run";
	default: return "pending";
	}
}

const char *kf_env_health_str(enum kf_env_health h)
{
	switch (h) {
	case KF_ENV_HEALTH_HEALTHY: return "healthy";
	case KF_ENV_HEALTH_PROGRESSING: return "progressing";
	case KF_ENV_HEALTH_DEGRADED: return "degraded";
	default: return "unknown";
	}
}

void kf_env_status_release(struct kf_env_status *s)
{
	free(s->env);
	free(s->error);
	free(s->error_file);
	json_decref(s->problems);
	json_decref(s->changes);
	memset(s, 0, sizeof(*s));
}

void kf_env_status_copy(struct kf_env_status *dst, const struct kf_env_status *src)
{
	*dst = *src;
	dst->env = src->env ? kf_xstrdup(src->env) : NULL;
	dst->error = src->error ? kf_xstrdup(src->error) : NULL;
	dst->error_file = src->error_file ? kf_xstrdup(src->error_file) : NULL;
	dst->problems = src->problems ? json_deep_copy(src->problems) : NULL;
	dst->changes = src->changes ? json_deep_copy(src->changes) : NULL;
}

static void iso_time(long long t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t) {
		buf[0] = '\0';
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *kf_env_status_json(const struct kf_env_status *s)
{
	char t[32], lc[32];
	json_t *o;

	iso_time(s->time, t);
	iso_time(s->last_change, lc);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
		      "name", s->env ? s->env : "",
		      "commit", s->commit, "appliedCommit", s->applied_commit,
		      "result", kf_sync_result_str(s->result), "health", kf_env_health_str(s->health),
		      "time", t, "lastChange", lc, "seconds", s->seconds,
		      "objects", "total", (json_int_t)s->total, "applied", (json_int_t)s->applied,
		      "unchanged", (json_int_t)s->unchanged, "pruned", (json_int_t)s->pruned,
		      "failed", (json_int_t)s->failed, "notReady", (json_int_t)s->not_ready);
	json_object_set_new(json_object_get(o, "objects"), "handsOff", json_integer((json_int_t)s->hands_off));
	if (s->error) {
		json_t *e = json_pack("{s:s}", "message", s->error);

		if (s->error_file) {
			json_object_set_new(e, "file", json_string(s->error_file));
			json_object_set_new(e, "line", json_integer(s->error_line));
			json_object_set_new(e, "column", json_integer(s->error_col));
		}
		json_object_set_new(o, "error", e);
	} else {
		json_object_set_new(o, "error", json_null());
	}
	if (s->problems)
		json_object_set(o, "problems", s->problems);
	if (s->changes)
		json_object_set(o, "changes", s->changes);
	return o;
}

char *kf_gitops_inventory(const char *inventory_ns, const char *env)
{
	return kf_xasprintf("%s/kfboot-gitops-%s", inventory_ns && *inventory_ns ? inventory_ns : "kube-system", env);
}

/* Reset what one attempt reports; keep applied_commit and last_change. */
static void begin(struct kf_env_status *st, const char *env, const char *commit)
{
	char keep[41];
	long long lc = st->last_change;

	memcpy(keep, st->applied_commit, sizeof(keep));
	kf_env_status_release(st);
	st->env = kf_xstrdup(env);
	snprintf(st->commit, sizeof(st->commit), "%s", commit);
	memcpy(st->applied_commit, keep, sizeof(keep));
	st->last_change = lc;
}

static void set_error(struct kf_env_status *st, const char *file, int line, int col, const char *msg)
{
	free(st->error);
	free(st->error_file);
	st->error = kf_redact(msg);
	st->error_file = file ? kf_xstrdup(file) : NULL;
	st->error_line = line;
	st->error_col = col;
}

static void set_diags(struct kf_env_status *st, struct kf_diags *dg)
{
	kf_diags_sort(dg);
	st->problems = json_array();
	for (size_t i = 0; i < dg->n; i++) {
		char *s = kf_diag_str(&dg->v[i]);

		json_array_append_new(st->problems, json_string(s));
		free(s);
	}
	if (dg->n) {
		const struct kf_diag *d = &dg->v[0];

		set_error(st, d->file, d->line, d->col, d->msg);
		/* Loader errors carry "file:line:col: msg" in the message itself. */
		if (!d->file) {
			const char *m = d->msg, *c1 = strchr(m, ':');
			int line = 0, col = 0, used = 0;

			if (c1 && sscanf(c1, ":%d:%d: %n", &line, &col, &used) == 2 && used) {
				char *file = kf_xstrndup(m, (size_t)(c1 - m));

				set_error(st, file, line, col, c1 + used);
				free(file);
			}
		}
	}
}

/* Hands off: count the objects the apply left alone and say which. */
static void note_hands_off(struct kf_env_status *st, const struct kf_apply_result *res)
{
	const json_t *v;
	size_t i;

	st->hands_off = res->hands_off;
	json_array_foreach(json_object_get(res->report, "handsOffObjects"), i, v)
		kf_info("%s: %s has %s: disabled; hands off (not applied, not pruned)", st->env,
			json_string_value(v), KF_ANN_RECONCILE);
}

static void reset_states(struct kf_objset *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->v[i].why);
		set->v[i].why = NULL;
		set->v[i].state = KF_OBJ_PENDING;
		set->v[i].skipped = false;
	}
}

/* The first failed object of a report into the status (file:line:col). */
static void error_from_report(struct kf_env_status *st, const json_t *report, const char *prefix)
{
	const json_t *f = json_array_get(json_object_get(report, "failedObjects"), 0);
	const char *src, *obj, *why;
	char *file = NULL, *msg;
	int line = 0, col = 0;

	if (!f)
		return;
	src = json_string_value(json_object_get(f, "source"));
	obj = json_string_value(json_object_get(f, "object"));
	why = json_string_value(json_object_get(f, "error"));
	if (src) {
		const char *c2 = strrchr(src, ':'), *c1 = NULL;

		for (const char *p = src; c2 && p < c2; p++)
			if (*p == ':')
				c1 = p;
		if (c1 && c2) {
			file = kf_xstrndup(src, (size_t)(c1 - src));
			line = atoi(c1 + 1);
			col = atoi(c2 + 1);
		}
	}
	msg = kf_xasprintf("%s%s: %s", prefix, obj ? obj : "?", why ? why : "failed");
	set_error(st, file, line, col, msg);
	free(msg);
	free(file);
	st->problems = json_array();
	{
		size_t i;
		const json_t *x;

		json_array_foreach(json_object_get(report, "failedObjects"), i, x)
			json_array_append_new(st->problems, json_sprintf("%s: %s%s: %s",
				json_string_value(json_object_get(x, "source")), prefix,
				json_string_value(json_object_get(x, "object")),
				json_string_value(json_object_get(x, "error"))));
	}
}

int kf_gitops_sync_env(struct kf_env_status *st, struct kf_kube *k, struct kf_discovery *d,
		       struct kf_git_source *src, const char *commit, const struct kf_repo_config *cfg,
		       const struct kf_repo_env *env, const struct kf_sync_opts *opts,
		       struct kf_objset *rendered, struct kf_err **err)
{
	struct kf_render_opts ro = { 0 };
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_apply_opts ao = { 0 };
	struct kf_apply_result res = { 0 };
	const char *ns = env->namespace ? env->namespace : "default";
	char *inv = kf_gitops_inventory(opts->inventory_ns, env->name);
	double t0 = kf_now();
	int rc;

	begin(st, env->name, commit);
	if (opts->render)
		ro = *opts->render;
	ro.d = d;
	/* 1. render */
	rc = kf_gitops_render_env(&set, src, commit, cfg, env, &ro, &dg, err);
	if (rc && !dg.n)
		goto failed;
	/* 2. kinds */
	if (!rc) {
		rc = kf_objset_resolve_fresh(&set, d, k, ns, &dg, err);
		if (rc && !dg.n)
			goto failed;
	}
	if (dg.n) {
		st->result = KF_SYNC_INVALID;
		set_diags(st, &dg);
		rc = kf_err_set(err, KF_EINVAL, "environment '%s': commit %.12s is invalid: %s%s%d:%d: %s (nothing was applied)",
				env->name, commit, st->error_file ? st->error_file : "", st->error_file ? ":" : "",
				st->error_line, st->error_col, st->error);
		goto out;
	}
	kf_err_clear(err);
	st->total = set.n;

	ao.inventory = inv;
	ao.default_ns = ns;
	ao.prune = env->prune;
	/* The repository is the source of truth: a field someone changed by
	 * hand (kubectl edit/patch/scale) is taken back, or drift could never
	 * be repaired (Argo CD applies with --force-conflicts too). */
	ao.force_conflicts = true;
	ao.timeout = opts->apply_timeout > 0 ? opts->apply_timeout : env->timeout > 0 ? env->timeout : 600;
	/* Nothing after the apply reads more of an object than its identity,
	 * labels and annotations: keep each one as the JSON it is sent as. */
	ao.compact = true;
	ao.progress = opts->progress;
	ao.progress_ctx = opts->progress_ctx;
	/* Objects whose live copy says kfboot.io/reconcile: disabled are left
	 * alone by every apply, as by drift repair (hands off). */
	ao.hands_off_annotation = KF_ANN_RECONCILE;

	/* 3. server-side dry run of what would change */
	if (opts->dry_run || !opts->skip_dry_run) {
		ao.dry_run = true;
		rc = kf_apply_run(&res, k, d, &set, &ao, err);
		if (res.failed) {
			st->result = KF_SYNC_INVALID;
			error_from_report(st, res.report, "server-side dry run refused ");
			rc = kf_err_set(err, KF_EINVAL, "environment '%s': commit %.12s: %s:%d:%d: %s (nothing was applied)",
					env->name, commit, st->error_file ? st->error_file : "?", st->error_line,
					st->error_col, st->error);
			goto out;
		}
		if (rc)
			goto failed;
		if (opts->dry_run) {
			const json_t *pruned = json_object_get(res.report, "prunedObjects"), *p;
			size_t i;

			st->changes = json_array();
			for (i = 0; i < set.n; i++) {
				if (set.v[i].state == KF_OBJ_UNCHANGED && !(set.v[i].why && kf_str_startswith(set.v[i].why, "not checked")))
					continue;
				{
					char *l = kf_obj_label(&set.v[i]);

					json_array_append_new(st->changes, json_sprintf("apply %s", l));
					free(l);
				}
			}
			json_array_foreach(pruned, i, p)
				json_array_append_new(st->changes, json_sprintf("prune %s", json_string_value(p)));
			st->applied = res.applied;
			st->unchanged = res.unchanged;
			st->pruned = res.pruned;
			note_hands_off(st, &res);
			st->result = KF_SYNC_DRY_RUN;
			goto out;
		}
		kf_apply_result_release(&res);
		memset(&res, 0, sizeof(res));
		reset_states(&set);
	}

	/* 4. apply */
	ao.dry_run = false;
	ao.wait = opts->wait;
	rc = kf_apply_run(&res, k, d, &set, &ao, err);
	st->applied = res.applied;
	st->unchanged = res.unchanged;
	st->pruned = res.pruned;
	st->failed = res.failed;
	st->not_ready = res.not_ready;
	note_hands_off(st, &res);
	if (res.applied || res.pruned)
		st->last_change = (long long)time(NULL);
	if (rc) {
		if (res.failed)
			error_from_report(st, res.report, "");
		goto failed;
	}
	st->result = KF_SYNC_APPLIED;
	st->health = !opts->wait ? KF_ENV_HEALTH_UNKNOWN : res.not_ready ? KF_ENV_HEALTH_PROGRESSING : KF_ENV_HEALTH_HEALTHY;
	snprintf(st->applied_commit, sizeof(st->applied_commit), "%s", commit);
	if (rendered) {
		kf_objset_release(rendered);
		*rendered = set;
		memset(&set, 0, sizeof(set));
	}
	goto out;
failed:
	st->result = KF_SYNC_FAILED;
	if (res.not_ready)
		st->health = KF_ENV_HEALTH_DEGRADED;
	if (!st->error) {
		char *m = err && *err ? kf_err_str(*err) : kf_xstrdup("failed");

		set_error(st, NULL, 0, 0, m);
		free(m);
	}
	if (!err || !*err)
		kf_err_set(err, KF_ERR, "environment '%s': %s", env->name, st->error);
	else
		kf_err_wrap(err, "environment '%s' at commit %.12s", env->name, commit);
	rc = rc ? rc : KF_ERR;
out:
	st->time = (long long)time(NULL);
	st->seconds = kf_now() - t0;
	kf_apply_result_release(&res);
	kf_objset_release(&set);
	kf_diags_release(&dg);
	free(inv);
	return rc;
}
