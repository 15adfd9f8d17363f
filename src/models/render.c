/*
 * render.c - the render step that turns model pins into serving objects.
 *
 * For every model of kfboot.yaml with a serving template, when the
 * environment pins it (environments/<env>/models.yaml), the template is
 * substituted with ${MODEL_NAME}, ${MODEL_VERSION}, ${MODEL_URI},
 * ${MODEL_FORMAT} and the environment's own substitutions, and parsed into
 * objects that join the environment's set. Each object is labelled
 * kfboot.io/model and kfboot.io/model-version.
 *
 * A canary pin {version: v3, canary: {version: v4, percent: 10}} renders
 * the template with the canary version (v4) as the latest spec and sets
 * spec.predictor.canaryTrafficPercent: 10 on an InferenceService. KServe
 * (Knative mode) then routes 10% to the latest revision and 90% to the
 * previously rolled-out one (v3's), provided v3 was rolled out before;
 * without a previous revision all traffic goes to the latest. Promoting the
 * canary (the pin becomes v4) drops the field: 100% to the latest. An
 * unknown version in a pin, or a template problem, is a render problem
 * with file:line:col, so nothing is applied in that environment.
 */
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "models/promote.h"
#include "models/render.h"

static void label(json_t *obj, const char *k, const char *v)
{
	json_t *md = json_object_get(obj, "metadata"), *labels;

	if (!json_is_object(md))
		return;
	labels = json_object_get(md, "labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(md, "labels", labels);
	}
	json_object_set_new(labels, k, json_string(v));
}

static int read_opt(struct kf_render *r, const char *path, struct kf_buf *b, bool *found, struct kf_err **err)
{
	int rc = kf_git_source_read(r->src, r->commit, path, b, err);

	*found = rc == 0;
	if (rc == KF_ENOENT) {
		kf_err_clear(err);
		rc = 0;
	}
	return rc;
}

/* Render one model's template for a pin into r->set. */
static int render_model(struct kf_render *r, const struct kf_repo_model *m, const struct kf_model_pin *pin,
			const char *pins_path, struct kf_err **err)
{
	struct kf_buf text = KF_BUF_INIT, tmpl = KF_BUF_INIT, out = KF_BUF_INIT;
	struct kf_model_file *mf = NULL;
	const struct kf_model_version *mv, *cv = NULL, *live;
	const char **keys = NULL, **vals = NULL;
	size_t n = 0, before;
	bool found;
	int rc;

	rc = read_opt(r, m->versions, &text, &found, err);
	if (rc)
		goto out;
	if (!found) {
		kf_diags_add(r->diags, pins_path, pin->line, pin->col, "model '%s': its versions file %s is not in the commit",
			     m->name, m->versions);
		goto out;
	}
	if (kf_model_file_parse(&mf, m->versions, text.buf, text.len, r->diags, err))
		goto out;
	mv = kf_model_file_find(mf, pin->version);
	if (!mv)
		kf_diags_add(r->diags, pins_path, pin->version_pos.line, pin->version_pos.col,
			     "model '%s' has no version '%s' (%s)", m->name, pin->version, m->versions);
	if (pin->canary_version) {
		cv = kf_model_file_find(mf, pin->canary_version);
		if (!cv)
			kf_diags_add(r->diags, pins_path, pin->line, pin->col, "model '%s' has no version '%s' (canary; %s)",
				     m->name, pin->canary_version, m->versions);
	}
	if (!mv || (pin->canary_version && !cv))
		goto out;
	live = cv ? cv : mv;
	rc = read_opt(r, m->serving, &tmpl, &found, err);
	if (rc)
		goto out;
	if (!found) {
		kf_diags_add(r->diags, KF_REPO_CONFIG_FILE, m->pos.line, m->pos.col,
			     "model '%s': serving template %s is not in the commit", m->name, m->serving);
		goto out;
	}
	keys = kf_xcalloc(r->env->nsub + 5, sizeof(*keys));
	vals = kf_xcalloc(r->env->nsub + 5, sizeof(*vals));
	keys[n] = "MODEL_NAME", vals[n++] = m->name;
	keys[n] = "MODEL_VERSION", vals[n++] = live->version;
	keys[n] = "MODEL_URI", vals[n++] = live->uri;
	keys[n] = "MODEL_FORMAT", vals[n++] = live->format;
	for (size_t i = 0; i < r->env->nsub; i++)
		if (strncmp(r->env->sub_keys[i], "MODEL_", 6)) {
			keys[n] = r->env->sub_keys[i];
			vals[n++] = r->env->sub_vals[i];
		}
	{
		struct kf_subst_vars v = { keys, vals, n };

		if (kf_subst(&out, tmpl.buf, tmpl.len, m->serving, &v, r->diags))
			goto out;
	}
	before = r->set.n;
	kf_objset_load_buf(&r->set, m->serving, out.buf, out.len, r->diags, NULL);
	for (size_t i = before; i < r->set.n; i++) {
		struct kf_obj *o = &r->set.v[i];
		json_t *spec = json_object_get(o->obj, "spec");

		label(o->obj, "kfboot.io/model", m->name);
		label(o->obj, "kfboot.io/model-version", live->version);
		if (!o->ns) {
			const char *ns = r->env->namespace ? r->env->namespace : "default";

			o->ns = kf_xstrdup(ns);
			o->namespaced = true;
			json_object_set_new(json_object_get(o->obj, "metadata"), "namespace", json_string(ns));
		}
		if (!strcmp(o->kind, "InferenceService") && json_is_object(json_object_get(spec, "predictor"))) {
			json_t *pred = json_object_get(spec, "predictor");

			if (cv) {
				json_object_set_new(pred, "canaryTrafficPercent", json_integer(pin->canary_percent));
				label(o->obj, "kfboot.io/model-stable-version", mv->version);
			} else {
				json_object_del(pred, "canaryTrafficPercent");
			}
		}
		for (size_t j = 0; j < i; j++) {
			struct kf_obj *p = &r->set.v[j];

			if (!strcmp(p->kind, o->kind) && !strcmp(p->group, o->group) && !strcmp(p->name, o->name) &&
			    !strcmp(p->ns ? p->ns : "", o->ns ? o->ns : "")) {
				char *l = kf_obj_label(o);

				kf_diags_add(r->diags, o->file, o->line, o->col, "duplicate object %s (also at %s:%d:%d)", l,
					     p->file, p->line, p->col);
				free(l);
			}
		}
	}
out:
	free(keys);
	free(vals);
	kf_model_file_free(mf);
	kf_buf_release(&text);
	kf_buf_release(&tmpl);
	kf_buf_release(&out);
	return rc;
}

static int step_models(struct kf_render *r, void *ctx, struct kf_err **err)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_model_pins *pins = NULL;
	char *path = kf_models_pins_path(r->env->name);
	bool found = false;
	int rc;

	(void)ctx;
	if (!r->cfg->nmodels) {
		rc = 0;
		goto out;
	}
	rc = read_opt(r, path, &b, &found, err);
	if (rc || !found)
		goto out;
	if (kf_model_pins_parse(&pins, path, b.buf, b.len, r->diags, err))
		goto out;
	for (size_t i = 0; i < pins->n; i++) {
		const struct kf_repo_model *m = NULL;

		for (size_t j = 0; j < r->cfg->nmodels; j++)
			if (!strcmp(r->cfg->models[j].name, pins->v[i].model))
				m = &r->cfg->models[j];
		if (!m) {
			kf_diags_add(r->diags, path, pins->v[i].line, pins->v[i].col,
				     "no model '%s' in kfboot.yaml (models:)", pins->v[i].model);
			continue;
		}
		if (!m->serving)
			continue;
		rc = render_model(r, m, &pins->v[i], path, err);
		if (rc)
			break;
	}
out:
	kf_model_pins_free(pins);
	kf_buf_release(&b);
	free(path);
	return rc;
}

static const struct kf_render_step models_step = { "models", step_models, NULL };

void kf_models_render_register(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	kf_render_add_step(&models_step);
}
