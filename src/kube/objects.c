/*
 * objects.c - the desired objects: loaded from manifest files, checked,
 * resolved against discovery, and put in apply order.
 *
 * Everything that can be checked without a server is checked here, before
 * anything is sent: YAML syntax, apiVersion/kind/metadata.name, duplicate
 * objects, ordering annotations, and (with discovery) kinds that neither
 * the server serves nor a CustomResourceDefinition in the input provides.
 * Every problem is reported with the file:line:col of the document or of
 * the offending value, all of them at once.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube.h"
#include "yaml/yaml.h"

/* ---- kind ranks ------------------------------------------------------- */

struct rank_ent {
	const char *group, *kind;
	int rank;
};

/* Built-in kinds, in the order Helm installs them (ranks leave room). */
static const struct rank_ent ranks[] = {
	{ "", "Namespace", 0 },
	{ "apiextensions.k8s.io", "CustomResourceDefinition", 1 },
	{ "scheduling.k8s.io", "PriorityClass", 2 },
	{ "storage.k8s.io", "StorageClass", 2 },
	{ "node.k8s.io", "RuntimeClass", 2 },
	{ "networking.k8s.io", "IngressClass", 2 },
	{ "", "PersistentVolume", 2 },
	{ "networking.k8s.io", "NetworkPolicy", 10 },
	{ "", "ResourceQuota", 11 },
	{ "", "LimitRange", 12 },
	{ "policy", "PodDisruptionBudget", 13 },
	{ "", "ServiceAccount", 14 },
	{ "", "Secret", 15 },
	{ "", "ConfigMap", 16 },
	{ "", "PersistentVolumeClaim", 17 },
	{ "rbac.authorization.k8s.io", "ClusterRole", 18 },
	{ "rbac.authorization.k8s.io", "ClusterRoleBinding", 19 },
	{ "rbac.authorization.k8s.io", "Role", 20 },
	{ "rbac.authorization.k8s.io", "RoleBinding", 21 },
	{ "", "Service", 22 },
	{ "apps", "DaemonSet", 23 },
	{ "", "Pod", 24 },
	{ "", "ReplicationController", 25 },
	{ "apps", "ReplicaSet", 26 },
	{ "apps", "Deployment", 27 },
	{ "autoscaling", "HorizontalPodAutoscaler", 28 },
	{ "apps", "StatefulSet", 29 },
	{ "batch", "Job", 30 },
	{ "batch", "CronJob", 31 },
	{ "networking.k8s.io", "Ingress", 32 },
	{ "apiregistration.k8s.io", "APIService", 33 },
	{ "admissionregistration.k8s.io", "ValidatingAdmissionPolicy", 34 },
	{ "admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", 35 },
	{ "admissionregistration.k8s.io", "MutatingWebhookConfiguration", 90 },
	{ "admissionregistration.k8s.io", "ValidatingWebhookConfiguration", 91 },
};

#define RANK_CUSTOM 50

int kf_kube_kind_rank(const char *group, const char *kind)
{
	for (size_t i = 0; i < KF_ARRAY_SIZE(ranks); i++)
		if (!strcmp(ranks[i].kind, kind) && !strcmp(ranks[i].group, group))
			return ranks[i].rank;
	return RANK_CUSTOM;
}

/* ---- loading ---------------------------------------------------------- */

static const char *sget(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void diag_at(struct kf_diags *dg, const struct kf_yaml_docs *docs,
		    const json_t *obj, const char *key, struct kf_pos fallback,
		    const char *msg)
{
	struct kf_pos p = fallback;

	if (!key || !kf_yaml_member_pos(docs, obj, key, NULL, &p))
		kf_yaml_pos(docs, obj, &p);
	kf_diags_add(dg, p.file ? p.file : kf_yaml_name(docs), p.line, p.col, "%s", msg);
}

/* Parse an ordering annotation; false when it is not an integer. */
static bool parse_order(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return *s && !*end && !errno;
}

static void add_object(struct kf_objset *set, const struct kf_yaml_docs *docs,
		       json_t *o, struct kf_pos pos, struct kf_diags *dg);

static void add_list(struct kf_objset *set, const struct kf_yaml_docs *docs,
		     json_t *o, struct kf_pos pos, struct kf_diags *dg)
{
	json_t *items = json_object_get(o, "items"), *it;
	size_t i;

	if (!json_is_array(items)) {
		diag_at(dg, docs, o, "items", pos, "a List needs an 'items' list");
		return;
	}
	json_array_foreach(items, i, it) {
		struct kf_pos ip = pos;

		kf_yaml_index_pos(docs, items, i, &ip);
		add_object(set, docs, it, ip, dg);
	}
}

static void add_object(struct kf_objset *set, const struct kf_yaml_docs *docs,
		       json_t *o, struct kf_pos pos, struct kf_diags *dg)
{
	const char *av, *kind, *name, *ns, *slash;
	json_t *md, *ann;
	struct kf_obj *ob;
	struct kf_pos kp = pos;
	long order = 0;

	if (!json_is_object(o)) {
		kf_diags_add(dg, pos.file, pos.line, pos.col, "a Kubernetes object must be a map");
		return;
	}
	av = sget(o, "apiVersion");
	kind = sget(o, "kind");
	md = json_object_get(o, "metadata");
	if (!av || !*av) {
		diag_at(dg, docs, o, json_object_get(o, "apiVersion") ? "apiVersion" : NULL, pos,
			"object has no apiVersion");
		return;
	}
	if (!kind || !*kind) {
		diag_at(dg, docs, o, json_object_get(o, "kind") ? "kind" : NULL, pos, "object has no kind");
		return;
	}
	if (!strcmp(kind, "List") && !strcmp(av, "v1")) {
		add_list(set, docs, o, pos, dg);
		return;
	}
	if (!json_is_object(md)) {
		diag_at(dg, docs, o, md ? "metadata" : NULL, pos, "object has no metadata map");
		return;
	}
	name = sget(md, "name");
	if (!name || !*name) {
		diag_at(dg, docs, md, json_object_get(md, "name") ? "name" : NULL, pos,
			sget(md, "generateName") ? "metadata.name is required (apply cannot use generateName)"
						 : "object has no metadata.name");
		return;
	}
	ns = sget(md, "namespace");
	ann = json_object_get(md, "annotations");
	if (ann && !json_is_object(ann)) {
		diag_at(dg, docs, md, "annotations", pos, "metadata.annotations must be a map");
		return;
	}
	if (json_object_get(md, "labels") && !json_is_object(json_object_get(md, "labels"))) {
		diag_at(dg, docs, md, "labels", pos, "metadata.labels must be a map");
		return;
	}
	{
		const char *keys[] = { KF_ANN_ORDER, KF_ANN_WAVE };

		for (size_t i = 0; i < 2; i++) {
			const char *v = sget(ann, keys[i]);

			if (!v)
				continue;
			if (!parse_order(v, &order)) {
				char *m = kf_xasprintf("annotation %s: '%s' is not an integer", keys[i], v);

				diag_at(dg, docs, ann, keys[i], pos, m);
				free(m);
				return;
			}
			break;
		}
	}
	kf_yaml_member_pos(docs, o, "kind", NULL, &kp);
	kf_xgrow((void **)&set->v, &set->alloc, set->n + 1, sizeof(*set->v));
	ob = &set->v[set->n++];
	memset(ob, 0, sizeof(*ob));
	ob->obj = json_incref(o);
	slash = strchr(av, '/');
	ob->group = slash ? kf_xstrndup(av, (size_t)(slash - av)) : kf_xstrdup("");
	ob->version = kf_xstrdup(slash ? slash + 1 : av);
	ob->kind = kf_xstrdup(kind);
	ob->name = kf_xstrdup(name);
	ob->ns = ns && *ns ? kf_xstrdup(ns) : NULL;
	ob->file = kf_xstrdup(pos.file ? pos.file : kf_yaml_name(docs));
	ob->line = pos.line;
	ob->col = pos.col;
	ob->kind_line = kp.line;
	ob->kind_col = kp.col;
	ob->order = order;
	ob->rank = kf_kube_kind_rank(ob->group, ob->kind);
}

static void add_docs(struct kf_objset *set, const struct kf_yaml_docs *docs,
		     struct kf_diags *dg)
{
	for (size_t i = 0; i < kf_yaml_count(docs); i++) {
		json_t *d = kf_yaml_doc(docs, i);

		if (!d || json_is_null(d))
			continue;
		struct kf_pos p = kf_yaml_doc_pos(docs, i);

		kf_yaml_pos(docs, d, &p); /* the map itself, rather than its '---' */
		add_object(set, docs, d, p, dg);
	}
}

/* Turn "file:line:col: msg" from the YAML loader into a diag. */
static void diag_from_err(struct kf_diags *dg, const char *name, struct kf_err *e)
{
	char *s = kf_err_str(e);

	kf_diags_add(dg, NULL, 0, 0, "%s", s && *s ? s : name);
	free(s);
}

int kf_objset_load_buf(struct kf_objset *set, const char *name,
		       const char *data, size_t len, struct kf_diags *diags,
		       struct kf_err **err)
{
	struct kf_yaml_docs *docs = NULL;
	struct kf_err *e = NULL;
	size_t before = diags->n;

	if (kf_yaml_load_buf(&docs, name, data, len, NULL, &e) < 0) {
		diag_from_err(diags, name, e);
		kf_err_free(e);
	} else {
		add_docs(set, docs, diags);
		kf_yaml_free(docs);
	}
	if (diags->n > before)
		return kf_err_set(err, KF_EINVAL, "%zu problem(s) in the input", diags->n - before);
	return 0;
}

static bool manifest_name(const char *n)
{
	return kf_str_endswith(n, ".yaml") || kf_str_endswith(n, ".yml") || kf_str_endswith(n, ".json");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directories being walked, outermost first: a directory that is
 * its own ancestor (a symlink loop) is an error naming both paths. */
struct walk {
	const struct walk *up;
	const char *path;
	dev_t dev;
	ino_t ino;
};

static int load_path(struct kf_objset *set, const char *path, const struct walk *up,
		     struct kf_diags *dg, struct kf_err **err)
{
	struct kf_yaml_docs *docs = NULL;
	struct kf_err *e = NULL;
	struct stat st;
	int rc = 0;

	if (!strcmp(path, "-") && !up) {
		struct kf_buf b = KF_BUF_INIT;
		char chunk[65536];
		ssize_t got;
		size_t max = kf_file_max();

		while ((got = read(0, chunk, sizeof(chunk))) > 0) {
			kf_buf_add(&b, chunk, (size_t)got);
			if (b.len > max) {
				kf_buf_release(&b);
				return kf_err_set(err, KF_ETOOBIG, "<stdin>: more than the %zu-byte limit on input files (set KFBOOT_MAX_FILE_SIZE to change it)",
						  max);
			}
		}
		kf_objset_load_buf(set, "<stdin>", b.buf, b.len, dg, NULL);
		kf_buf_release(&b);
		return 0;
	}
	if (stat(path, &st) < 0) {
		if (errno == ELOOP)
			return kf_err_set(err, KF_EINVAL, "'%s': symbolic link loop", path);
		return kf_err_errno(err, "'%s'", path);
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *dir;
		struct dirent *de;
		char **names = NULL;
		size_t n = 0, alloc = 0;
		struct walk here = { up, path, st.st_dev, st.st_ino };

		for (const struct walk *w = up; w; w = w->up)
			if (w->dev == st.st_dev && w->ino == st.st_ino)
				return kf_err_set(err, KF_EINVAL,
						  "'%s' is a symbolic link loop: it leads back to '%s'", path, w->path);
		dir = opendir(path);
		if (!dir)
			return kf_err_errno(err, "'%s'", path);
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.')
				continue;
			kf_xgrow((void **)&names, &alloc, n + 1, sizeof(*names));
			names[n++] = kf_path_join(path, de->d_name);
		}
		closedir(dir);
		qsort(names, n, sizeof(*names), cmp_str);
		for (size_t i = 0; i < n; i++) {
			struct stat s2;

			if (rc) {
				free(names[i]);
				continue;
			}
			if (stat(names[i], &s2) < 0) {
				if (errno == ELOOP)
					rc = kf_err_set(err, KF_EINVAL, "'%s': symbolic link loop", names[i]);
				else if (errno != ENOENT) /* a dangling link is no manifest */
					rc = kf_err_errno(err, "'%s'", names[i]);
			} else if (S_ISDIR(s2.st_mode)) {
				rc = load_path(set, names[i], &here, dg, err);
			} else if (!manifest_name(names[i])) {
				/* not a manifest */
			} else if (!S_ISREG(s2.st_mode)) {
				kf_warn("skipping '%s': not a regular file (a device, FIFO or socket)", names[i]);
			} else {
				rc = load_path(set, names[i], &here, dg, err);
			}
			free(names[i]);
		}
		free(names);
		return rc;
	}
	if (kf_yaml_load_file(&docs, path, NULL, &e) < 0) {
		diag_from_err(dg, path, e);
		kf_err_free(e);
		return 0;
	}
	add_docs(set, docs, dg);
	kf_yaml_free(docs);
	return 0;
}

int kf_objset_load(struct kf_objset *set, const char *const *paths,
		   size_t npaths, struct kf_diags *diags, struct kf_err **err)
{
	size_t before = diags->n;
	int rc = 0;

	for (size_t i = 0; i < npaths && !rc; i++)
		rc = load_path(set, paths[i], NULL, diags, err);
	if (rc)
		return rc;
	if (diags->n > before)
		return kf_err_set(err, KF_EINVAL, "%zu problem(s) in the input", diags->n - before);
	return 0;
}

void kf_objset_release(struct kf_objset *set)
{
	for (size_t i = 0; i < set->n; i++) {
		struct kf_obj *o = &set->v[i];

		json_decref(o->obj);
		free(o->body);
		free(o->group);
		free(o->version);
		free(o->kind);
		free(o->ns);
		free(o->name);
		free(o->file);
		free(o->why);
		free(o->rv);
	}
	free(set->v);
	set->v = NULL;
	set->n = set->alloc = 0;
}

/* ---- resolving against discovery and the CRDs in the set ------------- */

/*
 * The CRDs of a set, sorted by the group and kind they define, so that
 * "which CRD in the input serves this kind?" is a binary search and not a
 * scan of every object (that scan made resolving n custom resources
 * O(n^2)).
 */
struct crd_ent {
	const char *group, *kind;
	const struct kf_obj *o;
};

struct crd_index {
	struct crd_ent *v;
	size_t n;
};

static int cmp_crd(const void *pa, const void *pb)
{
	const struct crd_ent *a = pa, *b = pb;
	int c = strcmp(a->group, b->group);

	return c ? c : strcmp(a->kind, b->kind);
}

/* cmp_crd, then input order (the objects are one array) */
static int cmp_crd_order(const void *pa, const void *pb)
{
	const struct crd_ent *a = pa, *b = pb;
	int c = cmp_crd(a, b);

	return c ? c : a->o < b->o ? -1 : a->o > b->o;
}

static void crd_index_build(struct crd_index *x, const struct kf_objset *set)
{
	size_t alloc = 0;

	x->v = NULL;
	x->n = 0;
	for (size_t i = 0; i < set->n; i++) {
		const struct kf_obj *c = &set->v[i];
		const json_t *spec;
		const char *g, *k;

		if (strcmp(c->kind, "CustomResourceDefinition") || strcmp(c->group, "apiextensions.k8s.io"))
			continue;
		spec = json_object_get(c->obj, "spec");
		g = sget(spec, "group");
		k = sget(json_object_get(spec, "names"), "kind");
		if (!g || !k)
			continue;
		kf_xgrow((void **)&x->v, &alloc, x->n + 1, sizeof(*x->v));
		x->v[x->n++] = (struct crd_ent){ g, k, c };
	}
	if (x->n > 1)
		qsort(x->v, x->n, sizeof(*x->v), cmp_crd_order);
}

/* A CRD in the set that serves group/version/kind: its scope. */
static bool crd_provides(const struct crd_index *x, const char *group,
			 const char *version, const char *kind, bool *namespaced,
			 const char **plural, bool *other_version)
{
	struct crd_ent key = { group, kind, NULL };
	size_t lo = 0, hi = x->n;

	while (lo < hi) { /* the first entry >= key */
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_crd(&x->v[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < x->n && cmp_crd(&x->v[i], &key) == 0; i++) {
		const struct kf_obj *c = x->v[i].o;
		const json_t *spec, *vers, *v;
		const char *scope;
		size_t j;

		spec = json_object_get(c->obj, "spec");
		scope = sget(spec, "scope");
		vers = json_object_get(spec, "versions");
		json_array_foreach(vers, j, v) {
			const char *vn = sget(v, "name");
			const json_t *served = json_object_get(v, "served");

			if (vn && !strcmp(vn, version) && !json_is_false(served)) {
				*namespaced = !scope || !strcmp(scope, "Namespaced");
				*plural = sget(json_object_get(spec, "names"), "plural");
				return true;
			}
		}
		*other_version = true;
	}
	return false;
}

/* Identity of an object for duplicate detection: group, kind, namespace
 * (none sorts as ""; a namespaced object always has one here), name. */
static int cmp_ident(const void *pa, const void *pb)
{
	const struct kf_obj *a = *(const struct kf_obj *const *)pa;
	const struct kf_obj *b = *(const struct kf_obj *const *)pb;
	int c;

	if ((c = strcmp(a->name, b->name)))
		return c;
	if ((c = strcmp(a->kind, b->kind)))
		return c;
	if ((c = strcmp(a->group, b->group)))
		return c;
	if ((c = strcmp(a->ns ? a->ns : "", b->ns ? b->ns : "")))
		return c;
	if (!a->ns != !b->ns)
		return a->ns ? 1 : -1;
	return a < b ? -1 : a > b; /* input order among equals */
}

/* Every object defined twice, each later definition reported against the
 * first: sort pointers by identity, O(n log n). */
static void find_duplicates(const struct kf_objset *set, struct kf_diags *diags)
{
	const struct kf_obj **v;

	if (set->n < 2)
		return;
	v = kf_xcalloc(set->n, sizeof(*v));
	for (size_t i = 0; i < set->n; i++)
		v[i] = &set->v[i];
	qsort(v, set->n, sizeof(*v), cmp_ident);
	for (size_t i = 0, first = 0; i < set->n; i++) {
		const struct kf_obj *a, *b = v[i];

		if (i == 0)
			continue;
		a = v[i - 1];
		if (strcmp(a->name, b->name) || strcmp(a->kind, b->kind) || strcmp(a->group, b->group) ||
		    !a->ns != !b->ns || (a->ns && strcmp(a->ns, b->ns))) {
			first = i;
			continue;
		}
		a = v[first];
		kf_diags_add(diags, b->file, b->line, b->col,
			     "%s %s%s%s is defined twice (first at %s:%d:%d)", b->kind,
			     b->ns ? b->ns : "", b->ns ? "/" : "", b->name, a->file, a->line, a->col);
	}
	free(v);
}

int kf_objset_resolve(struct kf_objset *set, const struct kf_discovery *d,
		      const char *default_ns, struct kf_diags *diags)
{
	size_t before = diags->n;
	struct crd_index crds;

	crd_index_build(&crds, set);
	for (size_t i = 0; i < set->n; i++) {
		struct kf_obj *o = &set->v[i];
		const struct kf_rest *r = kf_discovery_find(d, o->group, o->version, o->kind);
		json_t *md = json_object_get(o->obj, "metadata");
		bool nsd = false, other = false;
		const char *plural = NULL;

		if (r) {
			nsd = r->namespaced;
		} else if (!crd_provides(&crds, o->group, o->version, o->kind, &nsd, &plural, &other)) {
			const char *av = sget(o->obj, "apiVersion");

			if (other || kf_discovery_find_gk(d, o->group, o->kind))
				kf_diags_add(diags, o->file, o->kind_line, o->kind_col,
					     "kind '%s' is not served at version '%s' (apiVersion '%s')",
					     o->kind, o->version, av);
			else
				kf_diags_add(diags, o->file, o->kind_line, o->kind_col,
					     "unknown kind '%s' in apiVersion '%s': the server does not serve it and no CustomResourceDefinition in the input provides it",
					     o->kind, av);
			continue;
		}
		o->namespaced = nsd;
		if (nsd && !o->ns)
			o->ns = kf_xstrdup(default_ns ? default_ns : "default");
		if (!nsd && o->ns) {
			free(o->ns);
			o->ns = NULL;
			json_object_del(md, "namespace");
		}
		if (nsd)
			json_object_set_new(md, "namespace", json_string(o->ns));
	}
	free(crds.v);
	/* Duplicates (after namespaces are known). */
	find_duplicates(set, diags);
	return diags->n > before ? KF_EINVAL : 0;
}

int kf_objset_check_mapping(const struct kf_objset *set, const struct kf_discovery *d,
			    struct kf_err **err)
{
	int rc = 0;
	struct crd_index crds;

	crd_index_build(&crds, set);
	for (size_t i = 0; i < set->n && !rc; i++) {
		const struct kf_obj *o = &set->v[i];
		const struct kf_rest *r = kf_discovery_find(d, o->group, o->version, o->kind);
		bool nsd = false, other = false;
		const char *plural = NULL;

		if (r)
			nsd = r->namespaced;
		else if (!crd_provides(&crds, o->group, o->version, o->kind, &nsd, &plural, &other))
			rc = kf_err_set(err, KF_EINVAL, "%s:%d:%d: kind '%s' (%s%s%s) is no longer served by the server",
					o->file, o->kind_line, o->kind_col, o->kind, o->group,
					o->group[0] ? "/" : "", o->version);
		if (!rc && nsd != o->namespaced)
			rc = kf_err_set(err, KF_EINVAL, "%s:%d:%d: kind '%s' is %s on the server now",
					o->file, o->kind_line, o->kind_col, o->kind,
					nsd ? "namespaced" : "cluster-scoped");
	}
	free(crds.v);
	return rc;
}

int kf_objset_resolve_fresh(struct kf_objset *set, struct kf_discovery *d,
			    struct kf_kube *k, const char *default_ns,
			    struct kf_diags *diags, struct kf_err **err)
{
	struct kf_diags first = KF_DIAGS_INIT;
	int rc;

	if (kf_objset_resolve(set, d, default_ns, &first) == 0) {
		kf_diags_release(&first);
		return 0;
	}
	kf_diags_release(&first);
	rc = kf_discovery_refresh(d, k, err);
	if (rc)
		return rc;
	return kf_objset_resolve(set, d, default_ns, diags);
}

static int cmp_obj(const void *pa, const void *pb)
{
	const struct kf_obj *a = pa, *b = pb;
	int c;

	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	if ((c = strcmp(a->group, b->group)))
		return c;
	if ((c = strcmp(a->kind, b->kind)))
		return c;
	if ((c = strcmp(a->ns ? a->ns : "", b->ns ? b->ns : "")))
		return c;
	return strcmp(a->name, b->name);
}

void kf_objset_sort(struct kf_objset *set)
{
	if (set->n)
		qsort(set->v, set->n, sizeof(*set->v), cmp_obj);
}

/* ---- hashing and skip-unchanged --------------------------------------- */

/*
 * The canonical form that is hashed: exactly the bytes of
 * json_dumps(JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY) (so hashes
 * recorded on live objects stay valid), streamed into SHA-256 through a
 * small buffer instead of building a string of the whole object.
 */
struct canon {
	EVP_MD_CTX *md;
	size_t len;
	unsigned char buf[16384];
};

static void canon_flush(struct canon *c)
{
	if (c->len)
		EVP_DigestUpdate(c->md, c->buf, c->len);
	c->len = 0;
}

static void canon_add(struct canon *c, const void *p, size_t n)
{
	if (n > sizeof(c->buf) - c->len) {
		canon_flush(c);
		if (n > sizeof(c->buf)) {
			EVP_DigestUpdate(c->md, p, n);
			return;
		}
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
}

static void canon_ch(struct canon *c, char ch)
{
	if (c->len == sizeof(c->buf))
		canon_flush(c);
	c->buf[c->len++] = (unsigned char)ch;
}

/* Jansson's string escaping (without JSON_ENSURE_ASCII/ESCAPE_SLASH). */
static void canon_str(struct canon *c, const char *s, size_t n)
{
	size_t run = 0;

	canon_ch(c, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[8];
		const char *e = NULL;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		canon_add(c, s + run, i - run);
		run = i + 1;
		switch (ch) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", ch);
			e = esc;
		}
		canon_add(c, e, strlen(e));
	}
	canon_add(c, s + run, n - run);
	canon_ch(c, '"');
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void canon_value(struct canon *c, const json_t *v)
{
	char num[32];

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		const char *stack[32], **keys = n <= 32 ? stack : kf_xcalloc(n, sizeof(*keys));
		const char *k;
		json_t *x;

		json_object_foreach((json_t *)v, k, x)
			keys[i++] = k;
		qsort(keys, n, sizeof(*keys), cmp_key);
		canon_ch(c, '{');
		for (i = 0; i < n; i++) {
			if (i)
				canon_ch(c, ',');
			canon_str(c, keys[i], strlen(keys[i]));
			canon_ch(c, ':');
			canon_value(c, json_object_get(v, keys[i]));
		}
		canon_ch(c, '}');
		if (keys != stack)
			free(keys);
		break;
	}
	case JSON_ARRAY:
		canon_ch(c, '[');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				canon_ch(c, ',');
			canon_value(c, json_array_get(v, i));
		}
		canon_ch(c, ']');
		break;
	case JSON_STRING:
		canon_str(c, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		canon_add(c, num, strlen(num));
		break;
	case JSON_REAL: {
		/* Rare in manifests: jansson's own number formatting. */
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		canon_add(c, s, strlen(s));
		free(s);
		break;
	}
	case JSON_TRUE:
		canon_add(c, "true", 4);
		break;
	case JSON_FALSE:
		canon_add(c, "false", 5);
		break;
	case JSON_NULL:
		canon_add(c, "null", 4);
		break;
	}
}

static void canon_sha256(const json_t *v, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	struct canon *c = kf_xcalloc(1, sizeof(*c));
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	c->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
	canon_value(c, v);
	canon_flush(c);
	EVP_DigestFinal_ex(c->md, md, &mdlen);
	for (unsigned int i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	EVP_MD_CTX_free(c->md);
	free(c);
}

void kf_obj_hash(struct kf_obj *o)
{
	json_t *md = json_object_get(o->obj, "metadata");
	json_t *ann = json_object_get(md, "annotations");
	json_t *saved = json_incref(json_object_get(ann, KF_ANN_HASH));
	bool drop_map = ann && json_object_size(ann) == (saved ? 1u : 0u);

	/* Hash the object as if the hash annotation (and an annotations map
	 * left empty without it) were not there; no copy of the object. */
	if (drop_map)
		json_incref(ann);
	if (saved)
		json_object_del(ann, KF_ANN_HASH);
	if (drop_map)
		json_object_del(md, "annotations");
	canon_sha256(o->obj, o->hash);
	if (drop_map)
		json_object_set_new(md, "annotations", ann);
	if (saved)
		json_object_set_new(ann, KF_ANN_HASH, saved);
}

void kf_obj_compact(struct kf_obj *o)
{
	json_t *md = json_object_get(o->obj, "metadata"), *v;
	const char *k;
	void *tmp;

	if (o->body || !o->obj)
		return;
	o->body = json_dumps(o->obj, JSON_COMPACT);
	if (!o->body)
		return; /* not serializable: stays whole */
	o->body_len = strlen(o->body);
	/* In place: what stays keeps the place it was parsed into, and
	 * nothing new is allocated for it. */
	json_object_foreach_safe(o->obj, tmp, k, v)
		if (strcmp(k, "apiVersion") && strcmp(k, "kind") && strcmp(k, "metadata"))
			json_object_del(o->obj, k);
	json_object_foreach_safe(md, tmp, k, v)
		if (strcmp(k, "name") && strcmp(k, "namespace"))
			json_object_del(md, k);
}

int kf_obj_expand(struct kf_obj *o)
{
	json_t *full;

	if (!o->body)
		return 0;
	full = json_loadb(o->body, o->body_len, 0, NULL);
	if (!full)
		return -1;
	json_decref(o->obj);
	o->obj = full;
	free(o->body);
	o->body = NULL;
	o->body_len = 0;
	return 0;
}

/* Every key of want is in have with an equal string value. */
static bool map_contains(const json_t *have, const json_t *want)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)want, k, v) {
		const json_t *h = json_object_get(have, k);

		if (!h || !json_equal((json_t *)h, v))
			return false;
	}
	return true;
}

void kf_obj_fields_fp(const json_t *live, char out[33])
{
	const json_t *mf = json_object_get(json_object_get(live, "metadata"), "managedFields"), *e;
	const char *pre = sget(live, KF_LIVE_FIELDS_FP);
	json_t *keep;
	char hex[65], *s;
	size_t i;

	if (!mf && pre && strlen(pre) == 32) {
		memcpy(out, pre, 33);
		return;
	}
	keep = json_array();
	json_array_foreach(mf, i, e) {
		const char *sub = sget(e, "subresource");

		/* Only status writes are left out: a write through the scale
		 * subresource (kubectl scale) changes spec.replicas. */
		if (!sub || strcmp(sub, "status"))
			json_array_append(keep, (json_t *)e);
	}
	s = json_dumps(keep, JSON_SORT_KEYS | JSON_COMPACT);
	kf_sha256_hex(s, strlen(s), hex);
	memcpy(out, hex, 32);
	out[32] = '\0';
	free(s);
	json_decref(keep);
}

bool kf_obj_unchanged(const struct kf_obj *o, const json_t *live,
		      const char *rec_rv, long rec_gen, const char *rec_fp)
{
	const json_t *lmd = json_object_get(live, "metadata");
	const json_t *dmd;
	const char *h = sget(json_object_get(lmd, "annotations"), KF_ANN_HASH);
	const char *rv = sget(lmd, "resourceVersion");
	const json_t *gen = json_object_get(lmd, "generation");
	json_t *full;
	bool same;

	if (!h || strcmp(h, o->hash) || !rv)
		return false;
	if (json_object_get(lmd, "deletionTimestamp"))
		return false;
	if (rec_rv && !strcmp(rec_rv, rv))
		return true;
	if (rec_fp) {
		char fp[33];

		kf_obj_fields_fp(live, fp);
		/* A scale write may leave no managedFields trace but moves
		 * the generation. */
		if (!strcmp(fp, rec_fp) &&
		    (!json_is_integer(gen) || rec_gen <= 0 || json_integer_value(gen) == rec_gen))
			return true;
	}
	/* The object changed since; a status-only change keeps its generation. */
	if (!json_is_integer(gen) || rec_gen <= 0 || json_integer_value(gen) != rec_gen)
		return false;
	/* A compacted object's labels and annotations are in its body. */
	full = o->body ? json_loadb(o->body, o->body_len, 0, NULL) : NULL;
	if (o->body && !full)
		return false;
	dmd = json_object_get(full ? full : o->obj, "metadata");
	same = !(json_object_get(dmd, "labels") &&
		 !map_contains(json_object_get(lmd, "labels"), json_object_get(dmd, "labels"))) &&
	       !(json_object_get(dmd, "annotations") &&
		 !map_contains(json_object_get(lmd, "annotations"), json_object_get(dmd, "annotations")));
	json_decref(full);
	return same;
}
