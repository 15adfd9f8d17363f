/*
 * lifecycle.c - what is installed, and taking it away: `kfboot kubeflow
 * status` and `kfboot kubeflow uninstall`.
 *
 * An installed component is one whose ApplySet parent (the Secret
 * kube-system/kubeflow-<component> that `install` writes) exists. Its
 * members are found the way kubectl finds an ApplySet's members: for every
 * group/kind the parent's `applyset.kubernetes.io/contains-group-kinds`
 * annotation lists, a LIST across namespaces with the label selector
 * `applyset.kubernetes.io/part-of=<applyset id>`. So status reads only what
 * the cluster says, never a local record, and works from any machine.
 *
 * Health of each member follows the same rules as the install's waits
 * (kf_health_of); a component's version is the tag most of its workloads'
 * images carry (e.g. 2.16.0 for Pipelines).
 *
 * Uninstall removes components in reverse dependency order through their
 * inventories (kf_apply_delete_inventory: only labelled members, never
 * anything else), and refuses to remove a component that another installed
 * component, which stays, depends on - unless forced.
 */
#include <stdlib.h>
#include <string.h>

#include "kubeflow.h"

#define INV_NS "kube-system"
#define PART_OF "applyset.kubernetes.io/part-of"
#define GROUP_KINDS "applyset.kubernetes.io/contains-group-kinds"
#define LIST_PAGE 500

static char *parent_path(const char *component)
{
	char *inv = kf_kubeflow_inventory(component);
	char *p = kf_xasprintf("/api/v1/namespaces/%s/secrets/%s", INV_NS, inv);

	free(inv);
	return p;
}

/* The component's ApplySet parent, or NULL (*out) when not installed. */
static int read_parent(json_t **out, struct kf_kube *k, const char *component,
		       struct kf_err **err)
{
	char *path = parent_path(component);
	int rc = kf_kube_get_json(k, path, true, out, err);

	free(path);
	if (rc)
		return kf_err_wrap(err, "component '%s': inventory %s/kubeflow-%s", component, INV_NS, component);
	return 0;
}

/* "Kind.group" -> kind and group ("" for core). */
static void split_gk(const char *gk, char **kind, char **group)
{
	const char *dot = strchr(gk, '.');

	*kind = dot ? kf_xstrndup(gk, (size_t)(dot - gk)) : kf_xstrdup(gk);
	*group = kf_xstrdup(dot ? dot + 1 : "");
}

static char *list_path(const struct kf_rest *r, const char *selector, const char *cont)
{
	char *sel = kf_url_escape(selector);
	char *c = cont ? kf_url_escape(cont) : NULL;
	char *p;

	if (!*r->group)
		p = kf_xasprintf("/api/%s/%s?labelSelector=%s&limit=%d%s%s", r->version, r->resource,
				 sel, LIST_PAGE, c ? "&continue=" : "", c ? c : "");
	else
		p = kf_xasprintf("/apis/%s/%s/%s?labelSelector=%s&limit=%d%s%s", r->group, r->version,
				 r->resource, sel, LIST_PAGE, c ? "&continue=" : "", c ? c : "");
	free(sel);
	free(c);
	return p;
}

/* Append every live member of kind `gk` to members (items get their
 * apiVersion and kind back: a LIST leaves them out). */
static int list_members(json_t *members, struct kf_kube *k, const struct kf_discovery *d,
			const char *gk, const char *selector, struct kf_err **err)
{
	char *kind, *group, *cont = NULL, *api;
	const struct kf_rest *r;
	int rc = 0;

	split_gk(gk, &kind, &group);
	r = kf_discovery_find_gk(d, group, kind);
	if (!r)
		goto out; /* the kind is gone (its CRD was removed): no members */
	api = *r->group ? kf_xasprintf("%s/%s", r->group, r->version) : kf_xstrdup(r->version);
	do {
		char *path = list_path(r, selector, cont);
		json_t *page = NULL, *items, *it;
		const char *next;
		size_t i;

		rc = kf_kube_get_json(k, path, true, &page, err);
		free(path);
		free(cont);
		cont = NULL;
		if (rc) {
			kf_err_wrap(err, "listing %s", gk);
			break;
		}
		if (!page)
			break;
		items = json_object_get(page, "items");
		json_array_foreach(items, i, it) {
			json_object_set_new(it, "apiVersion", json_string(api));
			json_object_set_new(it, "kind", json_string(r->kind));
			json_array_append(members, it);
		}
		next = json_string_value(json_object_get(json_object_get(page, "metadata"), "continue"));
		if (next && *next)
			cont = kf_xstrdup(next);
		json_decref(page);
	} while (cont);
	free(api);
out:
	free(cont);
	free(kind);
	free(group);
	return rc;
}

/* The tag of an image reference ("repo/x:1.2@sha256:..." -> "1.2"), or NULL. */
static char *image_tag(const char *image)
{
	const char *at = strchr(image, '@');
	size_t len = at ? (size_t)(at - image) : strlen(image);
	const char *slash = memrchr(image, '/', len);
	const char *colon = memrchr(slash ? slash : image, ':', len - (size_t)((slash ? slash : image) - image));

	if (!colon)
		return NULL;
	return kf_xstrndup(colon + 1, len - (size_t)(colon + 1 - image));
}

/* The tag most workloads' first containers carry, counting first only the
 * images named after the component (trainer's own controller, not the
 * JobSet it bundles); NULL when there are none. */
static char *component_version(const json_t *members, const char *name)
{
	json_t *count = json_object();
	const json_t *m;
	const char *key, *best = NULL;
	json_t *v;
	json_int_t best_n = 0;
	char *out = NULL;
	size_t i;
	bool any = false;

again:
	json_array_foreach(members, i, m) {
		const char *kind = json_string_value(json_object_get(m, "kind"));
		const json_t *c0;
		const char *image;
		char *tag;

		if (!kind || (strcmp(kind, "Deployment") && strcmp(kind, "StatefulSet") && strcmp(kind, "DaemonSet")))
			continue;
		c0 = json_array_get(json_object_get(json_object_get(json_object_get(json_object_get(m, "spec"),
							"template"), "spec"), "containers"), 0);
		image = json_string_value(json_object_get(c0, "image"));
		if (!image || (!any && !strstr(image, name)))
			continue;
		tag = image_tag(image);
		if (!tag)
			continue;
		json_object_set_new(count, tag, json_integer(json_integer_value(json_object_get(count, tag)) + 1));
		free(tag);
	}
	if (!any && !json_object_size(count)) {
		any = true; /* no image named after the component: count them all */
		goto again;
	}
	json_object_foreach(count, key, v) {
		if (json_integer_value(v) > best_n || (json_integer_value(v) == best_n && best && strcmp(key, best) < 0)) {
			best = key;
			best_n = json_integer_value(v);
		}
	}
	if (best)
		out = kf_xstrdup(best);
	json_decref(count);
	return out;
}

static json_t *component_status(const struct kf_kubeflow_component *c, const json_t *parent,
				const json_t *members)
{
	const json_t *md = json_object_get(parent, "metadata");
	const char *created = json_string_value(json_object_get(md, "creationTimestamp"));
	json_t *waiting = json_array(), *s;
	size_t ready = 0, progressing = 0, failed = 0, i;
	const json_t *m;
	char *version = component_version(members, c->name);
	const char *health;

	json_array_foreach(members, i, m) {
		const char *why = NULL;
		const json_t *mmd = json_object_get(m, "metadata");
		const char *ns = json_string_value(json_object_get(mmd, "namespace"));

		switch (kf_health_of(m, &why)) {
		case KF_HEALTH_READY:
			ready++;
			continue;
		case KF_HEALTH_PROGRESSING:
			progressing++;
			break;
		case KF_HEALTH_FAILED:
			failed++;
			break;
		}
		if (json_array_size(waiting) < 5)
			json_array_append_new(waiting, json_sprintf("%s %s%s%s%s%s",
				json_string_value(json_object_get(m, "kind")), ns ? ns : "", ns ? "/" : "",
				json_string_value(json_object_get(mmd, "name")), why ? ": " : "", why ? why : ""));
	}
	health = failed ? "Degraded" : progressing ? "Progressing" : "Healthy";
	s = json_pack("{s:s, s:b, s:s?, s:I, s:I, s:I, s:I, s:s, s:s?, s:o}",
		      "component", c->name, "installed", 1, "version", version,
		      "objects", (json_int_t)json_array_size(members), "ready", (json_int_t)ready,
		      "progressing", (json_int_t)progressing, "failed", (json_int_t)failed,
		      "health", health, "installedAt", created, "waitingFor", waiting);
	free(version);
	return s;
}

int kf_kubeflow_status(json_t **out, struct kf_kube *k, const struct kf_discovery *d,
		       const struct kf_kubeflow_catalog *cat, struct kf_err **err)
{
	const struct kf_kubeflow_component **order = NULL;
	const char **all = kf_xcalloc(cat->ncomponents + 1, sizeof(*all));
	json_t *res = json_array();
	size_t n = 0;
	int rc;

	*out = NULL;
	for (size_t i = 0; i < cat->ncomponents; i++)
		all[i] = cat->components[i].name;
	rc = kf_kubeflow_resolve(&order, &n, cat, all, cat->ncomponents, err);
	for (size_t i = 0; !rc && i < n; i++) {
		json_t *parent = NULL, *members;
		const char *id, *gks;
		char *sel = NULL;

		rc = read_parent(&parent, k, order[i]->name, err);
		if (rc || !parent)
			continue;
		members = json_array();
		id = json_string_value(json_object_get(json_object_get(json_object_get(parent, "metadata"), "labels"),
							 "applyset.kubernetes.io/id"));
		gks = json_string_value(json_object_get(json_object_get(json_object_get(parent, "metadata"), "annotations"),
							 GROUP_KINDS));
		if (id)
			sel = kf_label_selector(PART_OF, id);
		if (sel && gks && *gks) {
			char *copy = kf_xstrdup(gks), *save = NULL;

			for (char *gk = strtok_r(copy, ",", &save); !rc && gk; gk = strtok_r(NULL, ",", &save))
				rc = list_members(members, k, d, gk, sel, err);
			free(copy);
		}
		if (!rc)
			json_array_append_new(res, component_status(order[i], parent, members));
		else
			kf_err_wrap(err, "component '%s'", order[i]->name);
		free(sel);
		json_decref(members);
		json_decref(parent);
	}
	free(order);
	free(all);
	if (rc) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return 0;
}

/* Is `name` among the first n entries of v? */
static bool in_list(const char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], name))
			return true;
	return false;
}

/* Expand selection names to their components (no dependencies added);
 * unknown names are errors. Returns a malloc'd array of borrowed names. */
static int expand_names(const char ***out, size_t *nout, const struct kf_kubeflow_catalog *cat,
			const char *const *names, size_t n, struct kf_err **err)
{
	const char **v = NULL;
	size_t nv = 0;

	for (size_t i = 0; i < n; i++) {
		const struct kf_kubeflow_selection *s = kf_kubeflow_selection_find(cat, names[i]);
		const struct kf_kubeflow_component *c = kf_kubeflow_component_find(cat, names[i]);

		if (!s && !c) {
			free(v);
			return kf_err_set(err, KF_EUSAGE, "unknown component '%s' (see 'kfboot kubeflow list')", names[i]);
		}
		if (c && !in_list(v, nv, c->name)) {
			v = kf_xrealloc(v, (nv + 1) * sizeof(*v));
			v[nv++] = c->name;
		}
		for (size_t j = 0; s && !c && j < s->ncomponents; j++) {
			if (in_list(v, nv, s->components[j]))
				continue;
			v = kf_xrealloc(v, (nv + 1) * sizeof(*v));
			v[nv++] = s->components[j];
		}
	}
	*out = v;
	*nout = nv;
	return 0;
}

int kf_kubeflow_uninstall(json_t **report, struct kf_kube *k, struct kf_discovery *d,
			  const struct kf_kubeflow_uninstall_opts *o, struct kf_err **err)
{
	const struct kf_kubeflow_catalog *cat = o->catalog;
	const struct kf_kubeflow_component **order = NULL;
	const char **all = kf_xcalloc(cat->ncomponents + 1, sizeof(*all));
	const char **installed = kf_xcalloc(cat->ncomponents + 1, sizeof(*installed));
	const char **remove = NULL;
	size_t n = 0, ninst = 0, nremove = 0;
	json_t *removed = json_array();
	int rc;

	*report = NULL;
	for (size_t i = 0; i < cat->ncomponents; i++)
		all[i] = cat->components[i].name;
	rc = kf_kubeflow_resolve(&order, &n, cat, all, cat->ncomponents, err);
	/* What is installed, in dependency order. */
	for (size_t i = 0; !rc && i < n; i++) {
		json_t *parent = NULL;

		rc = read_parent(&parent, k, order[i]->name, err);
		if (!rc && parent)
			installed[ninst++] = order[i]->name;
		json_decref(parent);
	}
	if (rc)
		goto out;
	if (o->ncomponents) {
		rc = expand_names(&remove, &nremove, cat, o->components, o->ncomponents, err);
		if (rc)
			goto out;
	} else {
		remove = kf_xcalloc(ninst + 1, sizeof(*remove));
		memcpy(remove, installed, ninst * sizeof(*remove));
		nremove = ninst;
	}
	/* Refuse to take away what an installed component that stays needs. */
	if (!o->force) {
		struct kf_buf why = KF_BUF_INIT;

		for (size_t i = 0; i < ninst; i++) {
			const struct kf_kubeflow_component *c = kf_kubeflow_component_find(cat, installed[i]);

			if (in_list(remove, nremove, c->name))
				continue;
			for (size_t j = 0; j < c->ndeps; j++)
				if (in_list(remove, nremove, c->deps[j]) && in_list(installed, ninst, c->deps[j]))
					kf_buf_addf(&why, "%s'%s' needs '%s'", why.len ? ", " : "", c->name, c->deps[j]);
		}
		if (why.len) {
			rc = kf_err_set(err, KF_EINVAL,
					"refusing to uninstall: %s (remove those too, or use --force)", why.buf);
			kf_buf_release(&why);
			goto out;
		}
		kf_buf_release(&why);
	}
	/* Reverse dependency order: dependents before what they depend on. */
	for (size_t i = ninst; i-- > 0;) {
		struct kf_apply_opts ao = { 0 };
		struct kf_apply_result res;
		char *inv;
		int one;

		if (!in_list(remove, nremove, installed[i]))
			continue;
		inv = kf_kubeflow_inventory(installed[i]);
		ao.inventory = inv;
		ao.dry_run = o->dry_run;
		ao.timeout = o->timeout;
		ao.progress = o->apply_progress;
		ao.progress_ctx = o->apply_progress_ctx;
		if (o->progress)
			o->progress(o->progress_ctx, installed[i]);
		one = kf_apply_delete_inventory(&res, k, d, &ao, err);
		json_array_append_new(removed, json_pack("{s:s, s:I, s:f}", "component", installed[i],
							 "deleted", (json_int_t)res.pruned, "seconds", res.elapsed));
		kf_apply_result_release(&res);
		free(inv);
		if (one) {
			rc = kf_err_wrap(err, "uninstall '%s'", installed[i]);
			goto out;
		}
	}
	/* Named components that were not installed are reported, not errors. */
	for (size_t i = 0; i < nremove; i++)
		if (!in_list(installed, ninst, remove[i]))
			json_array_append_new(removed, json_pack("{s:s, s:b}", "component", remove[i], "notInstalled", 1));
out:
	if (!rc)
		*report = json_pack("{s:o, s:b}", "components", removed, "dryRun", o->dry_run);
	else
		json_decref(removed);
	free(order);
	free(all);
	free(installed);
	free(remove);
	return rc;
}
