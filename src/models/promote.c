/*
 * promote.c - the two kinds of commits kfboot makes to a GitOps repository
 * about models, each made fresh on the remote tip by push.c's edit callback
 * (so a retry after a non-fast-forward re-reads every file and re-checks
 * every rule):
 *  - promotion: move one environment's pin to a version when the gates of
 *    its `promotion` block hold (metric thresholds on the version's
 *    recorded metrics; soak = live and healthy in the source environment,
 *    from the reconciler's status). Only the pinned scalar changes; a
 *    failed gate refuses unless forced, and a forced commit says so.
 *  - write-back: append a training run's model as the next version and pin
 *    it in the autoPin environments, once per run (found by source.run).
 * Trailers name what the commit did (Kfboot-Promote, Kfboot-Gates,
 * Kfboot-Forced, Kfboot-Model, Kfboot-Source-Commit, Kfboot-Run).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kfp/trigger.h"
#include "models/promote.h"

char *kf_models_pins_path(const char *env)
{
	return kf_xasprintf("environments/%s/models.yaml", env);
}

static long vnum(const char *v)
{
	return v && v[0] == 'v' ? strtol(v + 1, NULL, 10) : -1;
}

static long long parse_iso(const char *s)
{
	struct tm tm = { 0 };

	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return 0;
	return (long long)timegm(&tm);
}

/* The pin of model in env at commit: its stable version (caller frees), or
 * NULL (no file, no pin, unreadable). */
static char *pin_at(git_repository *repo, const char *commit, const char *env, const char *model)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_model_pins *p = NULL;
	char *path = kf_models_pins_path(env), *v = NULL;

	if (kf_push_read_file(repo, commit, path, &b, NULL) == 0 &&
	    kf_model_pins_parse(&p, path, b.buf, b.len, &d, NULL) == 0 && kf_model_pins_find(p, model))
		v = kf_xstrdup(kf_model_pins_find(p, model)->version);
	kf_model_pins_free(p);
	kf_diags_release(&d);
	kf_buf_release(&b);
	free(path);
	return v;
}

double kf_models_soaked(git_repository *repo, const json_t *status, const char *env, const char *model,
			const char *version, double now, char **why)
{
	const json_t *envs = json_object_get(status, "environments"), *e, *found = NULL;
	const char *applied, *result, *health;
	char *pin;
	git_oid oid;
	git_commit *c = NULL;
	long long since = 0;
	size_t i;

	*why = NULL;
	if (!status) {
		*why = kf_xstrdup("no reconciler status (no cluster given or reachable)");
		return -1;
	}
	json_array_foreach(envs, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "name")) ?: "", env))
			found = e;
	if (!found) {
		*why = kf_xasprintf("%s has not been reconciled yet", env);
		return 0;
	}
	applied = json_string_value(json_object_get(found, "appliedCommit"));
	result = json_string_value(json_object_get(found, "result")) ?: "?";
	health = json_string_value(json_object_get(found, "health")) ?: "?";
	if (!applied || !*applied || strcmp(result, "applied") || strcmp(health, "healthy")) {
		*why = kf_xasprintf("%s is not applied and healthy (result %s, health %s)", env, result, health);
		return 0;
	}
	pin = pin_at(repo, applied, env, model);
	if (!pin || strcmp(pin, version)) {
		*why = kf_xasprintf("%s runs %s %s, not %s (commit %.12s)", env, model, pin ? pin : "nothing", version,
				    applied);
		free(pin);
		return 0;
	}
	free(pin);
	/* Walk back (first parent) while the pin is the same. */
	if (git_oid_fromstr(&oid, applied) < 0 || git_commit_lookup(&c, repo, &oid) < 0) {
		*why = kf_xasprintf("the applied commit %.12s is not in the fetched history", applied);
		return -1;
	}
	for (int n = 0; c && n < 10000; n++) {
		git_commit *p = NULL;
		char hex[41];

		since = (long long)git_commit_time(c);
		if (git_commit_parentcount(c) == 0 || git_commit_parent(&p, c, 0) < 0)
			break;
		git_oid_tostr(hex, sizeof(hex), git_commit_id(p));
		pin = pin_at(repo, hex, env, model);
		git_commit_free(c);
		c = p;
		if (!pin || strcmp(pin, version)) {
			free(pin);
			break;
		}
		free(pin);
	}
	git_commit_free(c);
	{
		long long lc = parse_iso(json_string_value(json_object_get(found, "lastChange")));

		if (lc > since)
			since = lc;
	}
	return now > (double)since ? now - (double)since : 0;
}

void kf_promote_result_release(struct kf_promote_result *r)
{
	free(r->version);
	free(r->from_env);
	free(r->previous);
	json_decref(r->gates);
	free(r->gates_summary);
	free(r->gates_failed);
	free(r->soak_why);
	free(r->path);
	free(r->diff);
	free(r->message);
	memset(r, 0, sizeof(*r));
}

/* Lines of a text (pointers into it; the last one may lack a newline). */
struct lines {
	const char **v;
	size_t *len;
	size_t n;
};

static void split_lines(struct lines *l, const char *t, size_t n)
{
	size_t cap = 1;

	for (size_t i = 0; i < n; i++)
		cap += t[i] == '\n';
	l->v = kf_xcalloc(cap, sizeof(*l->v));
	l->len = kf_xcalloc(cap, sizeof(*l->len));
	l->n = 0;
	for (size_t s = 0; s < n;) {
		const char *nl = memchr(t + s, '\n', n - s);
		size_t e = nl ? (size_t)(nl - t) : n;

		l->v[l->n] = t + s;
		l->len[l->n++] = e - s;
		s = e + 1;
	}
}

static bool line_eq(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->len[i] == b->len[j] && !memcmp(a->v[i], b->v[j], a->len[i]);
}

/* A unified diff (one hunk, no context) of an edit that changed one region. */
static char *diff_text(const char *path, const char *a, size_t alen, const char *b, size_t blen)
{
	struct kf_buf o = KF_BUF_INIT;
	struct lines la, lb;
	size_t pre = 0, suf = 0;

	split_lines(&la, a, alen);
	split_lines(&lb, b, blen);
	while (pre < la.n && pre < lb.n && line_eq(&la, pre, &lb, pre))
		pre++;
	while (suf < la.n - pre && suf < lb.n - pre && line_eq(&la, la.n - 1 - suf, &lb, lb.n - 1 - suf))
		suf++;
	kf_buf_addf(&o, "--- a/%s\n+++ b/%s\n@@ -%zu,%zu +%zu,%zu @@\n", path, path, pre + 1, la.n - pre - suf,
		    pre + 1, lb.n - pre - suf);
	for (size_t i = pre; i < la.n - suf; i++)
		kf_buf_addf(&o, "-%.*s\n", (int)la.len[i], la.v[i]);
	for (size_t i = pre; i < lb.n - suf; i++)
		kf_buf_addf(&o, "+%.*s\n", (int)lb.len[i], lb.v[i]);
	free(la.v);
	free(la.len);
	free(lb.v);
	free(lb.len);
	return kf_buf_detach(&o, NULL);
}

/* Read and parse kfboot.yaml at tip. */
static int load_config(git_repository *repo, const char *tip, struct kf_repo_config **cfg, struct kf_err **err)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_diags d = KF_DIAGS_INIT;
	int rc = kf_push_read_file(repo, tip, KF_REPO_CONFIG_FILE, &b, err);

	if (!rc && kf_repo_config_parse(cfg, KF_REPO_CONFIG_FILE, b.buf, b.len, &d, err)) {
		struct kf_buf m = KF_BUF_INIT;

		for (size_t i = 0; i < d.n && i < 5; i++) {
			char *s = kf_diag_str(&d.v[i]);

			kf_buf_addf(&m, "%s%s", i ? "; " : "", s);
			free(s);
		}
		kf_err_clear(err);
		rc = kf_err_set(err, KF_EINVAL, "%s (commit %.12s)", m.len ? m.buf : "kfboot.yaml is invalid", tip);
		kf_buf_release(&m);
	}
	kf_diags_release(&d);
	kf_buf_release(&b);
	return rc;
}

static const struct kf_repo_model *find_model(const struct kf_repo_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nmodels; i++)
		if (!strcmp(cfg->models[i].name, name))
			return &cfg->models[i];
	return NULL;
}

/* Read and parse a model's version file at tip. */
static int load_model(git_repository *repo, const char *tip, const struct kf_repo_model *m,
		      struct kf_model_file **out, struct kf_buf *text, struct kf_err **err)
{
	struct kf_diags d = KF_DIAGS_INIT;
	int rc = kf_push_read_file(repo, tip, m->versions, text, err);

	if (rc == KF_ENOENT) {
		kf_err_clear(err);
		kf_buf_reset(text);
		rc = 0;
	}
	if (!rc && kf_model_file_parse(out, m->versions, text->buf, text->len, &d, err)) {
		char *s = d.n ? kf_diag_str(&d.v[0]) : kf_xstrdup(m->versions);

		rc = kf_err_set(err, KF_EINVAL, "%s", s);
		free(s);
	}
	kf_diags_release(&d);
	return rc;
}

struct promote_ctx {
	const struct kf_promote_opts *o;
	struct kf_promote_result *r;
	char *expected;           /* the target's pin seen by the first attempt ("" = none) */
};

static int promote_edit(void *vctx, git_repository *repo, const char *tip, struct kf_push_change *c,
			struct kf_err **err)
{
	struct promote_ctx *x = vctx;
	const struct kf_promote_opts *o = x->o;
	struct kf_promote_result *r = x->r;
	struct kf_repo_config *cfg = NULL;
	const struct kf_repo_env *env;
	const struct kf_repo_model *rm;
	struct kf_model_file *mf = NULL;
	const struct kf_model_version *mv;
	struct kf_buf mtext = KF_BUF_INIT, pins = KF_BUF_INIT, out = KF_BUF_INIT;
	struct kf_gate *gates = NULL;
	char *cur = NULL;
	int rc;

	kf_promote_result_release(r);
	rc = load_config(repo, tip, &cfg, err);
	if (rc)
		goto out;
	env = kf_repo_config_env(cfg, o->env);
	rm = find_model(cfg, o->model);
	if (!env) {
		rc = kf_err_set(err, KF_EINVAL, "kfboot.yaml: no environment '%s'", o->env);
		goto out;
	}
	if (!rm) {
		rc = kf_err_set(err, KF_EINVAL, "kfboot.yaml: no model '%s' under models:", o->model);
		goto out;
	}
	rc = load_model(repo, tip, rm, &mf, &mtext, err);
	if (rc)
		goto out;
	if (env->has_promotion && env->promotion.from)
		r->from_env = kf_xstrdup(env->promotion.from);
	if (o->version) {
		r->version = kf_xstrdup(o->version);
	} else if (r->from_env) {
		r->version = pin_at(repo, tip, r->from_env, o->model);
		if (!r->version) {
			rc = kf_err_set(err, KF_EINVAL, "%s pins no version of '%s' to promote (give --version)",
					r->from_env, o->model);
			goto out;
		}
	} else {
		rc = kf_err_set(err, KF_EUSAGE, "environment '%s' has no promotion.from: give --version", o->env);
		goto out;
	}
	mv = kf_model_file_find(mf, r->version);
	if (!mv) {
		rc = kf_err_set(err, KF_EINVAL, "%s: model '%s' has no version '%s'", rm->versions, o->model, r->version);
		goto out;
	}
	r->path = kf_models_pins_path(o->env);
	rc = kf_push_read_file(repo, tip, r->path, &pins, err);
	if (rc == KF_ENOENT) {
		kf_err_clear(err);
		rc = 0;
	}
	if (rc)
		goto out;
	cur = pin_at(repo, tip, o->env, o->model);
	r->previous = cur ? kf_xstrdup(cur) : NULL;
	/* The edit must still make sense on this tip. */
	if (!x->expected) {
		x->expected = kf_xstrdup(cur ? cur : "");
	} else if (strcmp(x->expected, cur ? cur : "") && !(cur && !strcmp(cur, r->version))) {
		rc = kf_err_set(err, KF_ECONFLICT, "%s: the pin of '%s' moved from %s to %s meanwhile; not promoting %s over it",
				r->path, o->model, *x->expected ? x->expected : "nothing", cur ? cur : "nothing", r->version);
		goto out;
	}
	if (cur && !strcmp(cur, r->version)) {
		const struct kf_model_pin *pin = NULL;
		struct kf_model_pins *pp = NULL;
		struct kf_diags d = KF_DIAGS_INIT;
		bool canary = false;

		if (kf_model_pins_parse(&pp, r->path, pins.buf, pins.len, &d, NULL) == 0) {
			pin = kf_model_pins_find(pp, o->model);
			canary = pin && pin->canary_version;
		}
		kf_model_pins_free(pp);
		kf_diags_release(&d);
		if (!canary) {
			rc = KF_PUSH_NOOP;
			goto out;
		}
	}
	r->rollback = cur && vnum(r->version) < vnum(cur);
	/* Gates. */
	{
		size_t ng = env->has_promotion ? env->promotion.ngates : 0;
		struct kf_gate_input in = { 0 };

		gates = kf_xcalloc(ng + 1, sizeof(*gates));
		for (size_t i = 0; i < ng; i++) {
			const struct kf_repo_gate *g = &env->promotion.gates[i];

			gates[i] = (struct kf_gate){ g->metric, g->has_min, g->has_max, g->min, g->max };
		}
		in.gates = gates;
		in.ngates = ng;
		in.metrics = mv->metrics;
		/* The soak gates a roll-forward; a rollback to an older version
		 * skips it (the metric gates still apply). */
		if (env->has_promotion && env->promotion.soak > 0 && !r->rollback) {
			in.soak = env->promotion.soak;
			in.soaked = r->from_env ? kf_models_soaked(repo, o->status, r->from_env, o->model, r->version,
								    o->now > 0 ? o->now : (double)time(NULL), &r->soak_why)
						: -1;
			if (!r->from_env)
				r->soak_why = kf_xstrdup("no promotion.from environment to soak in");
		}
		r->gates_ok = kf_gates_check(&in, &r->gates, &r->gates_summary, &r->gates_failed);
	}
	if (!r->gates_ok && !o->force) {
		rc = kf_err_set(err, KF_EINVAL, "gates failed: %s", r->gates_failed);
		goto out;
	}
	r->forced = !r->gates_ok;
	rc = kf_model_pins_set(&out, r->path, pins.buf, pins.len, o->model, r->version, err);
	if (rc)
		goto out;
	r->diff = diff_text(r->path, pins.buf, pins.len, out.buf, out.len);
	kf_push_change_add(c, r->path, out.buf, out.len);
	kf_buf_addf(&c->message, "%s %s %s to %s", r->rollback ? "rollback" : "promote", o->model, r->version, o->env);
	if (cur)
		kf_buf_addf(&c->message, " (was %s)", cur);
	/* "Kfboot-Promote: xor v3 staging -> prod" */
	kf_buf_addf(&c->message, "\n\nKfboot-Promote: %s %s %s%s-> %s\n", o->model, r->version,
		    r->from_env ? r->from_env : "", r->from_env ? " " : "", o->env);
	kf_buf_addf(&c->message, "Kfboot-Gates: %s\n", *r->gates_summary ? r->gates_summary : "none");
	if (r->forced)
		kf_buf_addf(&c->message, "Kfboot-Forced: yes\n");
	r->message = kf_xstrdup(c->message.buf);
out:
	free(gates);
	free(cur);
	kf_buf_release(&mtext);
	kf_buf_release(&pins);
	kf_buf_release(&out);
	kf_model_file_free(mf);
	kf_repo_config_free(cfg);
	return rc;
}

int kf_promote(const struct kf_push_target *t, const struct kf_push_opts *o_push, const struct kf_promote_opts *o,
	       struct kf_promote_result *r, struct kf_err **err)
{
	struct promote_ctx x = { o, r, NULL };
	struct kf_push_result pr;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = kf_push_edit(t, o_push, promote_edit, &x, &pr, err);
	r->push = pr;
	free(x.expected);
	return rc;
}

/* ---- write-back ------------------------------------------------------------- */

void kf_register_result_release(struct kf_register_result *r)
{
	free(r->version);
	for (size_t i = 0; i < r->npinned; i++)
		free(r->pinned_envs[i]);
	free(r->pinned_envs);
	free(r->message);
	memset(r, 0, sizeof(*r));
}

struct register_ctx {
	const char *model;
	const struct kf_run_record *run;
	struct kf_register_result *r;
};

static int register_edit(void *vctx, git_repository *repo, const char *tip, struct kf_push_change *c,
			 struct kf_err **err)
{
	struct register_ctx *x = vctx;
	struct kf_register_result *r = x->r;
	const struct kf_run_record *run = x->run;
	struct kf_repo_config *cfg = NULL;
	const struct kf_repo_model *rm;
	struct kf_model_file *mf = NULL;
	const struct kf_model_version *had;
	struct kf_buf mtext = KF_BUF_INIT, out = KF_BUF_INIT;
	struct kf_model_version v = { 0 };
	char created[32];
	int rc;

	kf_register_result_release(r);
	rc = load_config(repo, tip, &cfg, err);
	if (rc)
		goto out;
	rm = find_model(cfg, x->model);
	if (!rm) {
		rc = kf_err_set(err, KF_EINVAL, "kfboot.yaml: no model '%s' under models:", x->model);
		goto out;
	}
	rc = load_model(repo, tip, rm, &mf, &mtext, err);
	if (rc)
		goto out;
	had = kf_model_file_find_run(mf, run->run_id);
	if (had) {
		r->version = kf_xstrdup(had->version);
		r->existed = true;
		rc = KF_PUSH_NOOP;
		goto out;
	}
	if (!run->created) {
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	r->version = kf_model_file_next_version(mf);
	v.version = r->version;
	v.uri = (char *)run->uri;
	v.format = (char *)run->format;
	v.metrics = (json_t *)run->metrics;
	v.source_commit = (char *)run->source_commit;
	v.source_pipeline = (char *)run->pipeline;
	v.source_run = (char *)run->run_id;
	v.created = (char *)(run->created ? run->created : created);
	if (mtext.len == 0) {
		/* A model file that does not exist yet. */
		kf_buf_addf(&mtext, "apiVersion: kfboot.io/v1\nkind: Model\nmetadata:\n  name: %s\n", x->model);
	}
	rc = kf_model_file_append(&out, rm->versions, mtext.buf, mtext.len, &v, err);
	if (rc)
		goto out;
	kf_push_change_add(c, rm->versions, out.buf, out.len);
	r->pinned_envs = kf_xcalloc(cfg->nenvs + 1, sizeof(char *));
	for (size_t i = 0; i < cfg->nenvs; i++) {
		const struct kf_repo_env *e = &cfg->envs[i];
		char *path;
		struct kf_buf pins = KF_BUF_INIT;

		if (!e->auto_pin)
			continue;
		if (c->n >= KF_PUSH_MAX_FILES) {
			rc = kf_err_set(err, KF_ETOOBIG, "more than %d autoPin environments", KF_PUSH_MAX_FILES - 1);
			goto out;
		}
		path = kf_models_pins_path(e->name);
		rc = kf_push_read_file(repo, tip, path, &pins, err);
		if (rc == KF_ENOENT) {
			kf_err_clear(err);
			rc = 0;
		}
		if (!rc)
			rc = kf_model_pins_set(&out, path, pins.buf, pins.len, x->model, r->version, err);
		if (!rc) {
			kf_push_change_add(c, path, out.buf, out.len);
			r->pinned_envs[r->npinned++] = kf_xstrdup(e->name);
		}
		kf_buf_release(&pins);
		free(path);
		if (rc)
			goto out;
	}
	kf_buf_addf(&c->message, "register %s %s from run %s", x->model, r->version, run->run_id);
	if (r->npinned) {
		kf_buf_adds(&c->message, "; pin in ");
		for (size_t i = 0; i < r->npinned; i++)
			kf_buf_addf(&c->message, "%s%s", i ? ", " : "", r->pinned_envs[i]);
	}
	kf_buf_addf(&c->message, "\n\n" KF_TRAILER_MODEL ": %s %s\n", x->model, r->version);
	if (run->source_commit)
		kf_buf_addf(&c->message, "Kfboot-Source-Commit: %s\n", run->source_commit);
	kf_buf_addf(&c->message, "Kfboot-Run: %s\n", run->run_id);
	r->message = kf_xstrdup(c->message.buf);
out:
	kf_buf_release(&mtext);
	kf_buf_release(&out);
	kf_model_file_free(mf);
	kf_repo_config_free(cfg);
	return rc;
}

int kf_models_register(const struct kf_push_target *t, const struct kf_push_opts *o_push, const char *model,
		       const struct kf_run_record *run, struct kf_register_result *r, struct kf_err **err)
{
	struct register_ctx x = { model, run, r };
	struct kf_push_result pr;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!run->run_id || !*run->run_id || !run->uri || !run->format)
		return kf_err_set(err, KF_EINVAL, "a run record needs a run id, uri and format");
	rc = kf_push_edit(t, o_push, register_edit, &x, &pr, err);
	r->push = pr;
	return rc;
}

bool kf_models_commit_is_writeback(const char *message)
{
	/* one definition, shared with the retraining trigger (which must
	 * never start a run for one of these commits) */
	return kf_kfp_commit_is_kfboot(message);
}
