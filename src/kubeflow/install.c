/*
 * install.c - installing Kubeflow components with the staged apply engine.
 *
 * One install: resolve the selection into a dependency order; find every
 * component's rendered files (a local directory, or upstream fetched and
 * rendered into a cache); load and validate all of them as one set (so a
 * custom resource may use a CRD of a component it depends on) - any
 * problem refuses the whole install before a request is sent; replace the
 * default credentials; then apply component by component, each with its
 * own ApplySet inventory (kube-system/kubeflow-<component>, with prune, so
 * a later release that drops an object removes it), waiting for the
 * component's health before the next one.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kubeflow/kubeflow.h"

#define HEALTH_POLL 0.5

char *kf_kubeflow_inventory(const char *component)
{
	return kf_xasprintf("kubeflow-%s", component);
}

void kf_kubeflow_install_result_release(struct kf_kubeflow_install_result *r)
{
	if (!r)
		return;
	free(r->generated_password_file);
	json_decref(r->report);
	memset(r, 0, sizeof(*r));
}

static void progress(const struct kf_kubeflow_install_opts *o, size_t i, size_t n,
		     const char *comp, const char *what, size_t objects, double start)
{
	struct kf_kubeflow_progress p = { i, n, comp, what, objects, kf_now() - start };

	if (o->progress)
		o->progress(o->progress_ctx, &p);
}

/* The group and version a health reference's kind lives in. */
static void ref_gv(const char *kind, const char **group, const char **version)
{
	if (!strcmp(kind, "Job")) {
		*group = "batch";
		*version = "v1";
	} else if (!strcmp(kind, "CustomResourceDefinition")) {
		*group = "apiextensions.k8s.io";
		*version = "v1";
	} else {
		*group = "apps";
		*version = "v1";
	}
}

/* Wait until every object a component lists in health.wait is healthy. */
static int wait_listed(struct kf_kube *k, struct kf_discovery *d,
		       const struct kf_kubeflow_component *c, double deadline,
		       struct kf_err **err)
{
	int rc = 0;

	for (;;) {
		const char *waiting = NULL;
		char *label = NULL;

		for (size_t i = 0; i < c->nwaits && !waiting; i++) {
			const struct kf_kubeflow_ref *r = &c->waits[i];
			const char *g, *v, *why = NULL;
			const struct kf_rest *rest;
			json_t *live = NULL;
			char *path;

			ref_gv(r->kind, &g, &v);
			rest = kf_discovery_find(d, g, v, r->kind);
			if (!rest)
				return kf_err_set(err, KF_ENOENT, "health: the server does not serve %s", r->kind);
			path = kf_rest_path(rest, r->ns, r->name);
			rc = kf_kube_get_json(k, path, true, &live, err);
			free(path);
			if (rc)
				return kf_err_wrap(err, "health of %s %s%s%s", r->kind, r->ns ? r->ns : "",
						   r->ns ? "/" : "", r->name);
			if (!live || kf_health_of(live, &why) != KF_HEALTH_READY) {
				waiting = r->name;
				free(label);
				label = kf_xasprintf("%s %s%s%s (%s)", r->kind, r->ns ? r->ns : "", r->ns ? "/" : "",
						     r->name, live ? (why ? why : "not ready") : "not found");
			}
			json_decref(live);
		}
		if (!waiting) {
			free(label);
			return 0;
		}
		if (kf_interrupted()) {
			free(label);
			return kf_err_set(err, KF_ECANCEL, "interrupted");
		}
		if (kf_now() > deadline) {
			rc = kf_err_set(err, KF_ETIMEOUT, "not healthy in time: waiting for %s", label);
			free(label);
			return rc;
		}
		free(label);
		kf_sleep(HEALTH_POLL);
	}
}

/* Which component an object came from: by its file. */
static size_t owner_of(const struct kf_obj *o, char **files, const size_t *file_comp, size_t nfiles)
{
	for (size_t i = 0; i < nfiles; i++)
		if (!strcmp(o->file, files[i]))
			return file_comp[i];
	return (size_t)-1;
}

static json_t *component_report(const char *name, size_t objects,
				const struct kf_apply_result *res, double secs)
{
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:f}", "name", name,
			      "objects", (json_int_t)objects, "applied", (json_int_t)res->applied,
			      "unchanged", (json_int_t)res->unchanged, "failed", (json_int_t)res->failed,
			      "pruned", (json_int_t)res->pruned, "seconds", secs);

	if (res->report)
		json_object_update(j, res->report);
	return j;
}

int kf_kubeflow_install(struct kf_kubeflow_install_result *out,
			struct kf_kube *k, struct kf_discovery *d,
			const struct kf_kubeflow_install_opts *o,
			struct kf_diags *diags, struct kf_err **err)
{
	const struct kf_kubeflow_component **order = NULL;
	struct kf_objset all = KF_OBJSET_INIT, *sets = NULL;
	struct kf_kubeflow_creds creds = { 0 };
	char *src_dir = NULL, **files = NULL;
	size_t n = 0, nfiles = 0, *file_comp = NULL, *owner = NULL, nchanged = 0;
	bool *lacks_ns = NULL;
	double start = kf_now();
	json_t *comps = json_array();
	int rc;

	memset(out, 0, sizeof(*out));
	rc = kf_kubeflow_resolve(&order, &n, o->catalog, o->components, o->ncomponents, err);
	if (rc)
		goto out;
	out->ncomponents = n;

	/* 1. Where the rendered files are. */
	if (o->source_dir) {
		src_dir = kf_xstrdup(o->source_dir);
	} else {
		if (!o->cache_dir) {
			rc = kf_err_set(err, KF_EINVAL, "no source directory and no cache directory for the upstream manifests");
			goto out;
		}
		rc = kf_kubeflow_fetch_render(&src_dir, o->repository ? o->repository : o->catalog->repository,
					      o->release ? o->release : o->catalog->tag, o->cache_dir,
					      order, n, err);
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < n; i++)
		nfiles += order[i]->nmanifests;
	files = kf_xcalloc(nfiles + 1, sizeof(*files));
	file_comp = kf_xcalloc(nfiles + 1, sizeof(*file_comp));
	nfiles = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t m = 0; m < order[i]->nmanifests; m++) {
			struct stat st;
			char *p = kf_path_join(src_dir, order[i]->manifests[m].file);

			if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
				kf_diags_add(diags, o->catalog->file, order[i]->line, order[i]->col,
					     "component '%s': rendered file '%s' not found in '%s'", order[i]->name,
					     order[i]->manifests[m].file, src_dir);
			files[nfiles] = p;
			file_comp[nfiles++] = i;
		}
	}
	if (diags->n) {
		rc = kf_err_set(err, KF_EINVAL, "%zu problem(s) with the source; nothing was applied", diags->n);
		goto out;
	}

	/* 2. Load and validate everything before anything is sent. */
	rc = kf_objset_load(&all, (const char *const *)files, nfiles, diags, err);
	if (rc && !diags->n)
		goto out;
	kf_err_clear(err);
	lacks_ns = kf_xcalloc(all.n + 1, sizeof(*lacks_ns));
	owner = kf_xcalloc(all.n + 1, sizeof(*owner));
	for (size_t i = 0; i < all.n; i++) {
		owner[i] = owner_of(&all.v[i], files, file_comp, nfiles);
		lacks_ns[i] = !all.v[i].ns;
	}
	rc = kf_objset_resolve(&all, d, "default", diags);
	if (diags->n) {
		rc = kf_err_set(err, KF_EINVAL, "%zu problem(s) in the manifests; nothing was applied", diags->n);
		goto out;
	}
	for (size_t i = 0; i < all.n; i++) {
		struct kf_obj *ob = &all.v[i];
		const struct kf_kubeflow_component *c = owner[i] < n ? order[owner[i]] : NULL;

		if (c && c->ns && lacks_ns[i] && ob->namespaced) {
			free(ob->ns);
			ob->ns = kf_xstrdup(c->ns);
			json_object_set_new(json_object_get(ob->obj, "metadata"), "namespace", json_string(c->ns));
		}
	}

	/* 3. Credentials. */
	{
		struct kf_kubeflow_creds_opts co = o->creds;

		co.no_write = co.no_write || o->dry_run;
		rc = kf_kubeflow_creds_prepare(&creds, &out->generated_password_file, &co, err);
	}
	if (!rc)
		rc = kf_kubeflow_creds_rewrite(&nchanged, &all, &creds, err);
	if (rc) {
		kf_err_wrap(err, "default credentials");
		goto out;
	}
	kf_debug("kubeflow: default credentials replaced in %zu objects", nchanged);

	/* 4. One set per component (the objects move; `all` keeps none). */
	sets = kf_xcalloc(n + 1, sizeof(*sets));
	for (size_t i = 0; i < all.n; i++) {
		struct kf_objset *s = &sets[owner[i] < n ? owner[i] : 0];

		kf_xgrow((void **)&s->v, &s->alloc, s->n + 1, sizeof(*s->v));
		s->v[s->n++] = all.v[i];
	}
	all.n = 0;

	/* 5. Apply in dependency order. */
	for (size_t i = 0; i < n; i++) {
		const struct kf_kubeflow_component *c = order[i];
		struct kf_apply_opts ao = { 0 };
		struct kf_apply_result res = { 0 };
		char *inv = kf_kubeflow_inventory(c->name);
		double t0 = kf_now();

		progress(o, i + 1, n, c->name, "applying", sets[i].n, start);
		ao.dry_run = o->dry_run;
		ao.force_conflicts = true; /* as upstream: --server-side --force-conflicts */
		ao.prune = !o->dry_run;
		ao.wait = !o->dry_run && !o->no_wait && c->health == KF_KUBEFLOW_HEALTH_ALL;
		ao.inventory = inv;
		ao.default_ns = c->ns ? c->ns : "default";
		ao.timeout = o->timeout > 0 ? o->timeout : 600;
		ao.progress = o->apply_progress;
		ao.progress_ctx = o->apply_progress_ctx;
		rc = kf_apply_run(&res, k, d, &sets[i], &ao, err);
		if (!rc && !o->dry_run && !o->no_wait && c->health == KF_KUBEFLOW_HEALTH_LIST) {
			progress(o, i + 1, n, c->name, "waiting", sets[i].n, start);
			rc = wait_listed(k, d, c, t0 + ao.timeout, err);
		}
		out->total += res.total;
		out->applied += res.applied;
		out->unchanged += res.unchanged;
		out->failed += res.failed;
		out->pruned += res.pruned;
		json_array_append_new(comps, component_report(c->name, sets[i].n, &res, kf_now() - t0));
		kf_apply_result_release(&res);
		free(inv);
		if (rc) {
			kf_err_wrap(err, "component '%s' (%zu/%zu)", c->name, i + 1, n);
			goto out;
		}
		progress(o, i + 1, n, c->name, "done", sets[i].n, start);
	}
out:
	out->elapsed = kf_now() - start;
	out->report = json_pack("{s:o}", "components", comps);
	for (size_t i = 0; sets && i < n; i++)
		kf_objset_release(&sets[i]);
	free(sets);
	kf_objset_release(&all);
	kf_kubeflow_creds_release(&creds);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	free(file_comp);
	free(owner);
	free(lacks_ns);
	free(order);
	free(src_dir);
	return rc;
}
