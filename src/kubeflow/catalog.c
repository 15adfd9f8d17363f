/*
 * catalog.c - the Kubeflow component catalog (`kind: ComponentCatalog`):
 * loading it with the YAML loader, validating every field with the
 * file:line:col of each problem (all problems at once), and resolving a
 * selection of user-facing names into a stable dependency order.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kubeflow/kubeflow.h"
#include "yaml/yaml.h"

struct ctx {
	const struct kf_yaml_docs *docs;
	struct kf_diags *diags;
	const char *file;
};

static void problem(struct ctx *x, const json_t *node, const json_t *parent,
		    const char *key, const char *fmt, ...) KF_PRINTF(5, 6);

static void problem(struct ctx *x, const json_t *node, const json_t *parent,
		    const char *key, const char *fmt, ...)
{
	struct kf_pos pos = { x->file, 0, 0 };
	va_list ap;
	char *msg;

	if (parent && key)
		kf_yaml_member_pos(x->docs, parent, key, NULL, &pos);
	else if (node)
		kf_yaml_pos(x->docs, node, &pos);
	va_start(ap, fmt);
	msg = kf_xvasprintf(fmt, ap);
	va_end(ap);
	kf_diags_add(x->diags, x->file, pos.line, pos.col, "%s", msg);
	free(msg);
}

static void check_fields(struct ctx *x, const json_t *obj, const char *where,
			 const char *const *known, size_t n)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		bool ok = false;

		for (size_t i = 0; i < n && !ok; i++)
			ok = !strcmp(key, known[i]);
		if (!ok) {
			struct kf_pos pos = { x->file, 0, 0 };
			const char *guess = kf_closest(key, known, n);

			kf_yaml_member_pos(x->docs, obj, key, &pos, NULL);
			if (guess)
				kf_diags_add(x->diags, x->file, pos.line, pos.col,
					     "%s: unknown field '%s' (did you mean '%s'?)", where, key, guess);
			else
				kf_diags_add(x->diags, x->file, pos.line, pos.col,
					     "%s: unknown field '%s'", where, key);
		}
	}
}

/* A required or optional string member; NULL when absent or wrong. */
static const char *get_str(struct ctx *x, const json_t *obj, const char *where,
			   const char *key, bool required)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		if (required)
			problem(x, obj, NULL, NULL, "%s: missing '%s'", where, key);
		return NULL;
	}
	if (!json_is_string(v) || !*json_string_value(v)) {
		problem(x, v, obj, key, "%s.%s: expected a non-empty string", where, key);
		return NULL;
	}
	return json_string_value(v);
}

/* A list of non-empty strings; returns a NULL-free array (count in *n). */
static char **get_strs(struct ctx *x, const json_t *obj, const char *where,
		       const char *key, size_t *n)
{
	json_t *arr = json_object_get(obj, key), *v;
	char **out;
	size_t i;

	*n = 0;
	if (!arr || json_is_null(arr))
		return NULL;
	if (!json_is_array(arr)) {
		problem(x, arr, obj, key, "%s.%s: expected a list of names", where, key);
		return NULL;
	}
	out = kf_xcalloc(json_array_size(arr) + 1, sizeof(*out));
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || !*json_string_value(v)) {
			struct kf_pos pos = { x->file, 0, 0 };

			kf_yaml_index_pos(x->docs, arr, i, &pos);
			if (!pos.line)
				kf_yaml_member_pos(x->docs, obj, key, NULL, &pos);
			kf_diags_add(x->diags, x->file, pos.line, pos.col,
				     "%s.%s[%zu]: expected a name", where, key, i);
			continue;
		}
		out[(*n)++] = kf_xstrdup(json_string_value(v));
	}
	return out;
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* "Kind/namespace/name" or "Kind/name" (cluster-scoped). */
static int parse_ref(struct kf_kubeflow_ref *r, const char *s)
{
	const char *a = strchr(s, '/'), *b;

	if (!a || a == s || !a[1])
		return -1;
	b = strchr(a + 1, '/');
	if (b && (b == a + 1 || !b[1] || strchr(b + 1, '/')))
		return -1;
	r->kind = kf_xstrndup(s, (size_t)(a - s));
	if (b) {
		r->ns = kf_xstrndup(a + 1, (size_t)(b - a - 1));
		r->name = kf_xstrdup(b + 1);
	} else {
		r->ns = NULL;
		r->name = kf_xstrdup(a + 1);
	}
	return 0;
}

static const char *const health_kinds[] = {
	"Deployment", "StatefulSet", "DaemonSet", "Job", "CustomResourceDefinition",
};

static void read_health(struct ctx *x, struct kf_kubeflow_component *c,
			const json_t *comp, const char *where)
{
	static const char *const fields[] = { "workloads", "wait" };
	json_t *h = json_object_get(comp, "health"), *w, *v;
	const char *s;
	size_t i;

	c->health = KF_KUBEFLOW_HEALTH_ALL;
	if (!h || json_is_null(h))
		return;
	if (!json_is_object(h)) {
		problem(x, h, comp, "health", "%s.health: expected {workloads: all|none} or {wait: [...]}", where);
		return;
	}
	check_fields(x, h, "health", fields, KF_ARRAY_SIZE(fields));
	w = json_object_get(h, "wait");
	s = json_string_value(json_object_get(h, "workloads"));
	if (json_object_get(h, "workloads") && (!s || (strcmp(s, "all") && strcmp(s, "none"))))
		problem(x, NULL, h, "workloads", "%s.health.workloads: expected 'all' or 'none'", where);
	if (w && s)
		problem(x, NULL, h, "wait", "%s.health: give either 'workloads' or 'wait', not both", where);
	if (s && !strcmp(s, "none"))
		c->health = KF_KUBEFLOW_HEALTH_NONE;
	if (!w)
		return;
	if (!json_is_array(w) || !json_array_size(w)) {
		problem(x, NULL, h, "wait", "%s.health.wait: expected a non-empty list of Kind/namespace/name", where);
		return;
	}
	c->health = KF_KUBEFLOW_HEALTH_LIST;
	c->waits = kf_xcalloc(json_array_size(w), sizeof(*c->waits));
	json_array_foreach(w, i, v) {
		struct kf_kubeflow_ref r = { 0 };
		struct kf_pos pos = { x->file, 0, 0 };
		bool known = false;

		kf_yaml_index_pos(x->docs, w, i, &pos);
		if (!pos.line)
			kf_yaml_member_pos(x->docs, h, "wait", NULL, &pos);
		if (!json_is_string(v) || parse_ref(&r, json_string_value(v))) {
			kf_diags_add(x->diags, x->file, pos.line, pos.col,
				     "%s.health.wait[%zu]: expected Kind/namespace/name or Kind/name", where, i);
			continue;
		}
		for (size_t k = 0; k < KF_ARRAY_SIZE(health_kinds) && !known; k++)
			known = !strcmp(r.kind, health_kinds[k]);
		if (!known) {
			const char *g = kf_closest(r.kind, health_kinds, KF_ARRAY_SIZE(health_kinds));

			kf_diags_add(x->diags, x->file, pos.line, pos.col,
				     "%s.health.wait[%zu]: cannot wait for kind '%s'%s%s%s", where, i, r.kind,
				     g ? " (did you mean '" : "", g ? g : "", g ? "'?)" : "");
		} else if (!strcmp(r.kind, "CustomResourceDefinition") != !r.ns) {
			kf_diags_add(x->diags, x->file, pos.line, pos.col,
				     "%s.health.wait[%zu]: %s", where, i,
				     r.ns ? "a CustomResourceDefinition has no namespace" : "expected Kind/namespace/name");
		}
		c->waits[c->nwaits++] = r;
	}
}

static void read_component(struct ctx *x, struct kf_kubeflow_component *c,
			   const json_t *comp, size_t idx)
{
	static const char *const fields[] = {
		"name", "summary", "path", "file", "manifests", "namespace", "dependsOn", "health",
	};
	char where[96];
	struct kf_pos pos = { x->file, 0, 0 };
	const char *s;
	json_t *mf;

	kf_yaml_pos(x->docs, comp, &pos);
	c->line = pos.line;
	c->col = pos.col;
	snprintf(where, sizeof(where), "spec.components[%zu]", idx);
	if (!json_is_object(comp)) {
		problem(x, comp, NULL, NULL, "%s: expected a mapping", where);
		return;
	}
	check_fields(x, comp, where, fields, KF_ARRAY_SIZE(fields));
	if ((s = get_str(x, comp, where, "name", true)))
		c->name = kf_xstrdup(s);
	if ((s = get_str(x, comp, where, "summary", false)))
		c->summary = kf_xstrdup(s);
	if ((s = get_str(x, comp, where, "namespace", false)))
		c->ns = kf_xstrdup(s);
	mf = json_object_get(comp, "manifests");
	if (mf && (json_object_get(comp, "path") || json_object_get(comp, "file"))) {
		problem(x, NULL, comp, "manifests", "%s: give either path/file or manifests, not both", where);
	} else if (mf) {
		json_t *m;
		size_t i;

		if (!json_is_array(mf) || !json_array_size(mf)) {
			problem(x, NULL, comp, "manifests", "%s.manifests: expected a non-empty list of {path, file}", where);
		} else {
			c->manifests = kf_xcalloc(json_array_size(mf), sizeof(*c->manifests));
			json_array_foreach(mf, i, m) {
				static const char *const mfields[] = { "path", "file" };
				char w2[128];
				const char *p, *f;

				snprintf(w2, sizeof(w2), "%s.manifests[%zu]", where, i);
				if (!json_is_object(m)) {
					problem(x, m, NULL, NULL, "%s: expected {path, file}", w2);
					continue;
				}
				check_fields(x, m, w2, mfields, KF_ARRAY_SIZE(mfields));
				p = get_str(x, m, w2, "path", true);
				f = get_str(x, m, w2, "file", true);
				if (p && f) {
					c->manifests[c->nmanifests].path = kf_xstrdup(p);
					c->manifests[c->nmanifests++].file = kf_xstrdup(f);
				}
			}
		}
	} else {
		const char *p = get_str(x, comp, where, "path", true);
		const char *f = get_str(x, comp, where, "file", true);

		if (p && f) {
			c->manifests = kf_xcalloc(1, sizeof(*c->manifests));
			c->manifests[0].path = kf_xstrdup(p);
			c->manifests[0].file = kf_xstrdup(f);
			c->nmanifests = 1;
		}
	}
	for (size_t i = 0; i < c->nmanifests; i++) {
		const char *f = c->manifests[i].file;

		if (strchr(f, '/') || !strcmp(f, "..") || !strcmp(f, "."))
			problem(x, comp, NULL, NULL, "%s: file '%s' must be a plain file name", where, f);
		if (c->manifests[i].path[0] == '/' || strstr(c->manifests[i].path, ".."))
			problem(x, comp, NULL, NULL, "%s: path '%s' must be relative to the repository root", where,
				c->manifests[i].path);
	}
	c->deps = get_strs(x, comp, where, "dependsOn", &c->ndeps);
	read_health(x, c, comp, where);
}

static void component_release(struct kf_kubeflow_component *c)
{
	free(c->name);
	free(c->summary);
	free(c->ns);
	for (size_t i = 0; i < c->nmanifests; i++) {
		free(c->manifests[i].path);
		free(c->manifests[i].file);
	}
	free(c->manifests);
	free_strs(c->deps, c->ndeps);
	for (size_t i = 0; i < c->nwaits; i++) {
		free(c->waits[i].kind);
		free(c->waits[i].ns);
		free(c->waits[i].name);
	}
	free(c->waits);
}

void kf_kubeflow_catalog_free(struct kf_kubeflow_catalog *c)
{
	if (!c)
		return;
	free(c->file);
	free(c->release);
	free(c->repository);
	free(c->tag);
	for (size_t i = 0; i < c->ncomponents; i++)
		component_release(&c->components[i]);
	free(c->components);
	for (size_t i = 0; i < c->nselections; i++) {
		free(c->selections[i].name);
		free_strs(c->selections[i].components, c->selections[i].ncomponents);
	}
	free(c->selections);
	free_strs(c->defaults, c->ndefaults);
	free(c);
}

const struct kf_kubeflow_component *
kf_kubeflow_component_find(const struct kf_kubeflow_catalog *c, const char *name)
{
	for (size_t i = 0; c && i < c->ncomponents; i++)
		if (c->components[i].name && !strcmp(c->components[i].name, name))
			return &c->components[i];
	return NULL;
}

const struct kf_kubeflow_selection *
kf_kubeflow_selection_find(const struct kf_kubeflow_catalog *c, const char *name)
{
	for (size_t i = 0; c && i < c->nselections; i++)
		if (c->selections[i].name && !strcmp(c->selections[i].name, name))
			return &c->selections[i];
	return NULL;
}

static const char **component_names(const struct kf_kubeflow_catalog *c, size_t *n)
{
	const char **v = kf_xcalloc(c->ncomponents + c->nselections + 1, sizeof(*v));

	*n = 0;
	for (size_t i = 0; i < c->nselections; i++)
		if (c->selections[i].name)
			v[(*n)++] = c->selections[i].name;
	for (size_t i = 0; i < c->ncomponents; i++)
		if (c->components[i].name)
			v[(*n)++] = c->components[i].name;
	return v;
}

/* Depth-first search for a cycle through component i; fills path. */
static bool find_cycle(const struct kf_kubeflow_catalog *c, size_t i, int *color,
		       size_t *stack, size_t depth, struct kf_buf *path)
{
	const struct kf_kubeflow_component *comp = &c->components[i];

	color[i] = 1;
	stack[depth] = i;
	for (size_t d = 0; d < comp->ndeps; d++) {
		const struct kf_kubeflow_component *dep = kf_kubeflow_component_find(c, comp->deps[d]);
		size_t j;

		if (!dep)
			continue;
		j = (size_t)(dep - c->components);
		if (color[j] == 1) {
			size_t k = depth;

			while (stack[k] != j)
				k--;
			for (; k <= depth; k++)
				kf_buf_addf(path, "%s -> ", c->components[stack[k]].name);
			kf_buf_adds(path, dep->name);
			return true;
		}
		if (color[j] == 0 && find_cycle(c, j, color, stack, depth + 1, path))
			return true;
	}
	color[i] = 2;
	return false;
}

static void check_graph(struct ctx *x, struct kf_kubeflow_catalog *c)
{
	size_t nnames;
	const char **names = component_names(c, &nnames);
	int *color;
	size_t *stack;

	for (size_t i = 0; i < c->ncomponents; i++) {
		struct kf_kubeflow_component *comp = &c->components[i];

		if (!comp->name)
			continue;
		for (size_t j = 0; j < i; j++)
			if (c->components[j].name && !strcmp(c->components[j].name, comp->name))
				kf_diags_add(x->diags, x->file, comp->line, comp->col,
					     "component '%s' is defined twice (first at line %d)", comp->name,
					     c->components[j].line);
		for (size_t d = 0; d < comp->ndeps; d++) {
			if (kf_kubeflow_component_find(c, comp->deps[d]))
				continue;
			const char *g = kf_closest(comp->deps[d], names + (nnames - c->ncomponents), c->ncomponents);

			kf_diags_add(x->diags, x->file, comp->line, comp->col,
				     "component '%s' depends on unknown component '%s'%s%s%s", comp->name,
				     comp->deps[d], g ? " (did you mean '" : "", g ? g : "", g ? "'?)" : "");
		}
	}
	color = kf_xcalloc(c->ncomponents + 1, sizeof(*color));
	stack = kf_xcalloc(c->ncomponents + 1, sizeof(*stack));
	for (size_t i = 0; i < c->ncomponents; i++) {
		struct kf_buf path = KF_BUF_INIT;

		if (color[i] || !c->components[i].name)
			continue;
		if (find_cycle(c, i, color, stack, 0, &path)) {
			const char *first = path.buf;
			const char *arrow = strstr(first, " -> ");
			char *start = kf_xstrndup(first, arrow ? (size_t)(arrow - first) : strlen(first));
			const struct kf_kubeflow_component *sc = kf_kubeflow_component_find(c, start);

			kf_diags_add(x->diags, x->file, sc ? sc->line : 0, sc ? sc->col : 0,
				     "dependency cycle: %s", path.buf);
			free(start);
			kf_buf_release(&path);
			break; /* one cycle is enough to fix first */
		}
		kf_buf_release(&path);
	}
	free(color);
	free(stack);
	free(names);
}

static void check_names(struct ctx *x, struct kf_kubeflow_catalog *c, const json_t *node,
			const json_t *parent, const char *key, char **v, size_t n,
			bool selections_ok, const char *where)
{
	size_t nn;
	const char **names = component_names(c, &nn);

	for (size_t i = 0; i < n; i++) {
		bool ok = kf_kubeflow_component_find(c, v[i]) ||
			  (selections_ok && kf_kubeflow_selection_find(c, v[i]));

		if (!ok) {
			const char *const *cands = selections_ok ? names : names + (nn - c->ncomponents);
			size_t ncand = selections_ok ? nn : c->ncomponents;
			const char *g = kf_closest(v[i], cands, ncand);

			problem(x, node, parent, key, "%s: unknown %s '%s'%s%s%s", where,
				selections_ok ? "selection or component" : "component", v[i],
				g ? " (did you mean '" : "", g ? g : "", g ? "'?)" : "");
		}
	}
	free(names);
}

static void read_catalog(struct ctx *x, struct kf_kubeflow_catalog *c, const json_t *root)
{
	static const char *const top[] = { "apiVersion", "kind", "metadata", "spec" };
	static const char *const specf[] = { "release", "upstream", "defaults", "selections", "components" };
	static const char *const upf[] = { "repository", "tag" };
	const json_t *spec, *up, *sels, *comps, *v;
	const char *s;
	size_t i;

	if (!json_is_object(root)) {
		kf_diags_add(x->diags, x->file, 1, 1, "expected a ComponentCatalog mapping");
		return;
	}
	check_fields(x, root, "catalog", top, KF_ARRAY_SIZE(top));
	s = get_str(x, root, "catalog", "apiVersion", true);
	if (s && strcmp(s, "kfboot.io/v1alpha1"))
		problem(x, NULL, root, "apiVersion", "apiVersion: expected 'kfboot.io/v1alpha1', got '%s'", s);
	s = get_str(x, root, "catalog", "kind", true);
	if (s && strcmp(s, "ComponentCatalog"))
		problem(x, NULL, root, "kind", "kind: expected 'ComponentCatalog', got '%s'", s);
	spec = json_object_get(root, "spec");
	if (!json_is_object(spec)) {
		problem(x, spec, spec ? root : NULL, spec ? "spec" : NULL, "spec: %s",
			spec ? "expected a mapping" : "missing");
		return;
	}
	check_fields(x, spec, "spec", specf, KF_ARRAY_SIZE(specf));
	if ((s = get_str(x, spec, "spec", "release", true)))
		c->release = kf_xstrdup(s);
	up = json_object_get(spec, "upstream");
	if (json_is_object(up)) {
		check_fields(x, up, "spec.upstream", upf, KF_ARRAY_SIZE(upf));
		if ((s = get_str(x, up, "spec.upstream", "repository", true)))
			c->repository = kf_xstrdup(s);
		if ((s = get_str(x, up, "spec.upstream", "tag", true)))
			c->tag = kf_xstrdup(s);
	} else {
		problem(x, up, up ? spec : NULL, up ? "upstream" : NULL, "spec.upstream: %s",
			up ? "expected {repository, tag}" : "missing");
	}
	comps = json_object_get(spec, "components");
	if (!json_is_array(comps) || !json_array_size(comps)) {
		problem(x, comps, comps ? spec : NULL, comps ? "components" : NULL,
			"spec.components: expected a non-empty list");
	} else {
		c->components = kf_xcalloc(json_array_size(comps), sizeof(*c->components));
		json_array_foreach(comps, i, v)
			read_component(x, &c->components[c->ncomponents++], v, i);
	}
	sels = json_object_get(spec, "selections");
	if (sels && !json_is_array(sels)) {
		problem(x, NULL, spec, "selections", "spec.selections: expected a list");
	} else if (sels) {
		c->selections = kf_xcalloc(json_array_size(sels) + 1, sizeof(*c->selections));
		json_array_foreach(sels, i, v) {
			static const char *const self[] = { "name", "components" };
			struct kf_kubeflow_selection *sel = &c->selections[c->nselections++];
			char where[64];

			snprintf(where, sizeof(where), "spec.selections[%zu]", i);
			if (!json_is_object(v)) {
				problem(x, v, NULL, NULL, "%s: expected {name, components}", where);
				continue;
			}
			check_fields(x, v, where, self, KF_ARRAY_SIZE(self));
			if ((s = get_str(x, v, where, "name", true)))
				sel->name = kf_xstrdup(s);
			sel->components = get_strs(x, v, where, "components", &sel->ncomponents);
			if (!sel->ncomponents && !json_object_get(v, "components"))
				problem(x, v, NULL, NULL, "%s: missing 'components'", where);
		}
	}
	c->defaults = get_strs(x, spec, "spec", "defaults", &c->ndefaults);
	if (!json_object_get(spec, "defaults"))
		problem(x, spec, NULL, NULL, "spec: missing 'defaults'");

	/* Cross references, once every name is known. */
	check_graph(x, c);
	for (i = 0; i < c->nselections; i++) {
		json_t *sv = json_array_get(sels, i);
		char where[64];

		snprintf(where, sizeof(where), "spec.selections[%zu].components", i);
		check_names(x, c, NULL, sv, "components", c->selections[i].components,
			    c->selections[i].ncomponents, false, where);
		for (size_t j = 0; j < i; j++)
			if (c->selections[i].name && c->selections[j].name &&
			    !strcmp(c->selections[i].name, c->selections[j].name))
				problem(x, NULL, sv, "name", "selection '%s' is defined twice", c->selections[i].name);
	}
	check_names(x, c, NULL, spec, "defaults", c->defaults, c->ndefaults, true, "spec.defaults");
}

int kf_kubeflow_catalog_load_buf(struct kf_kubeflow_catalog **out,
				 const char *name, const char *data, size_t len,
				 struct kf_diags *diags, struct kf_err **err)
{
	struct kf_yaml_docs *docs = NULL;
	struct kf_kubeflow_catalog *c = kf_xcalloc(1, sizeof(*c));
	struct ctx x = { NULL, diags, name };
	size_t before = diags->n;
	int rc;

	*out = NULL;
	c->file = kf_xstrdup(name);
	rc = kf_yaml_load_buf(&docs, name, data, len, NULL, err);
	if (rc) {
		kf_err_wrap(err, "catalog");
		goto out;
	}
	x.docs = docs;
	if (kf_yaml_count(docs) != 1) {
		kf_diags_add(diags, name, kf_yaml_count(docs) > 1 ? kf_yaml_doc_pos(docs, 1).line : 1, 1,
			     "expected exactly one document, found %zu", kf_yaml_count(docs));
	} else {
		read_catalog(&x, c, kf_yaml_doc(docs, 0));
	}
	if (diags->n > before) {
		rc = kf_err_set(err, KF_EINVAL, "catalog '%s': %zu problem(s)", name, diags->n - before);
		goto out;
	}
	*out = c;
	c = NULL;
out:
	kf_yaml_free(docs);
	kf_kubeflow_catalog_free(c);
	return rc;
}

int kf_kubeflow_catalog_load(struct kf_kubeflow_catalog **out, const char *path,
			     struct kf_diags *diags, struct kf_err **err)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = kf_file_read(path, &data, &len, err);
	if (rc) {
		kf_err_wrap(err, "catalog");
		goto out;
	}
	rc = kf_kubeflow_catalog_load_buf(out, path, data, len, diags, err);
out:
	free(data);
	return rc;
}

const char *kf_kubeflow_catalog_default_path(void)
{
	const char *env = getenv("KFBOOT_CATALOG");

	if (env && *env)
		return env;
	return KF_SOURCE_DIR "/manifests/kubeflow/catalog.yaml";
}

/*
 * The catalog is also built into the binary (the assembler includes the
 * file at compile time), so that an installed kfboot needs no source tree.
 * A build from a tree whose catalog changed since the object was compiled
 * still reads the file itself: the file wins when it is there.
 */
__asm__(".pushsection .rodata\n"
	".hidden kf_catalog_builtin\n"
	".global kf_catalog_builtin\n"
	"kf_catalog_builtin:\n"
	".incbin \"" KF_SOURCE_DIR "/manifests/kubeflow/catalog.yaml\"\n"
	".byte 0\n"
	".popsection\n");
extern const char kf_catalog_builtin[];

int kf_kubeflow_catalog_load_default(struct kf_kubeflow_catalog **out,
				     struct kf_diags *diags, struct kf_err **err)
{
	const char *path = kf_kubeflow_catalog_default_path();

	if (getenv("KFBOOT_CATALOG") && *getenv("KFBOOT_CATALOG"))
		return kf_kubeflow_catalog_load(out, path, diags, err);
	if (access(path, R_OK) == 0)
		return kf_kubeflow_catalog_load(out, path, diags, err);
	return kf_kubeflow_catalog_load_buf(out, "<built-in>/manifests/kubeflow/catalog.yaml",
					    kf_catalog_builtin, strlen(kf_catalog_builtin), diags, err);
}

/* ---- resolution ------------------------------------------------------ */

/* Mark a component and, recursively, what it depends on. */
static void mark_component(bool *want, const struct kf_kubeflow_catalog *c,
			   const struct kf_kubeflow_component *comp)
{
	if (want[comp - c->components])
		return;
	want[comp - c->components] = true;
	for (size_t i = 0; i < comp->ndeps; i++) {
		const struct kf_kubeflow_component *dep = kf_kubeflow_component_find(c, comp->deps[i]);

		if (dep)
			mark_component(want, c, dep);
	}
}

/* A user-given name: a selection first, else a component. */
static int mark(bool *want, const struct kf_kubeflow_catalog *c, const char *name,
		struct kf_err **err)
{
	const struct kf_kubeflow_selection *sel = kf_kubeflow_selection_find(c, name);
	const struct kf_kubeflow_component *comp;
	int rc;

	if (sel) {
		for (size_t i = 0; i < sel->ncomponents; i++) {
			comp = kf_kubeflow_component_find(c, sel->components[i]);
			if (!comp)
				return kf_err_set(err, KF_EINVAL, "selection '%s': unknown component '%s'", name,
						  sel->components[i]);
			mark_component(want, c, comp);
		}
		return 0;
	}
	comp = kf_kubeflow_component_find(c, name);
	if (!comp) {
		size_t n;
		const char **names = component_names(c, &n);
		const char *g = kf_closest(name, names, n);

		rc = kf_err_set(err, KF_EINVAL, "unknown Kubeflow component '%s'%s%s%s", name,
				g ? " (did you mean '" : "", g ? g : "", g ? "'?)" : "");
		free(names);
		return rc;
	}
	mark_component(want, c, comp);
	return 0;
}

int kf_kubeflow_resolve(const struct kf_kubeflow_component ***out, size_t *n,
			const struct kf_kubeflow_catalog *c,
			const char *const *names, size_t nnames,
			struct kf_err **err)
{
	size_t nc = c->ncomponents, done = 0;
	bool *want = kf_xcalloc(nc + 1, sizeof(*want));
	bool *placed = kf_xcalloc(nc + 1, sizeof(*placed));
	const struct kf_kubeflow_component **order = kf_xcalloc(nc + 1, sizeof(*order));
	size_t nwant = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!names || !nnames) {
		names = (const char *const *)c->defaults;
		nnames = c->ndefaults;
	}
	for (size_t i = 0; i < nnames && !rc; i++)
		rc = mark(want, c, names[i], err);
	if (rc)
		goto out;
	for (size_t i = 0; i < nc; i++)
		nwant += want[i];
	/* Kahn's algorithm; the first ready component in catalog order goes next. */
	while (done < nwant) {
		size_t pick = nc;

		for (size_t i = 0; i < nc && pick == nc; i++) {
			bool ready = want[i] && !placed[i];

			for (size_t d = 0; ready && d < c->components[i].ndeps; d++) {
				const struct kf_kubeflow_component *dep =
					kf_kubeflow_component_find(c, c->components[i].deps[d]);

				ready = dep && placed[dep - c->components];
			}
			if (ready)
				pick = i;
		}
		if (pick == nc) {
			struct kf_buf path = KF_BUF_INIT;
			int *color = kf_xcalloc(nc + 1, sizeof(*color));
			size_t *stack = kf_xcalloc(nc + 1, sizeof(*stack));

			for (size_t i = 0; i < nc && !path.len; i++)
				if (want[i] && !placed[i] && !color[i])
					find_cycle(c, i, color, stack, 0, &path);
			rc = kf_err_set(err, KF_EINVAL, "dependency cycle: %s", path.len ? path.buf : "(unknown)");
			kf_buf_release(&path);
			free(color);
			free(stack);
			goto out;
		}
		placed[pick] = true;
		order[done++] = &c->components[pick];
	}
	*out = order;
	*n = done;
	order = NULL;
out:
	free(order);
	free(want);
	free(placed);
	return rc;
}
