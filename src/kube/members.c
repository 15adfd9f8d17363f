/*
 * members.c - the live state of an inventory: one label-selected LIST per
 * group/kind (metadata only where that is enough), paged, and the members
 * found in them, sorted for lookups.
 *
 * Only what the engine reads of a listed object is kept, item by item as
 * each page is read (kf_list_scan), so memory follows the number of
 * members, not the size of their manifests. A member (skip-unchanged,
 * prune) keeps kind, apiVersion and the metadata those read (name,
 * namespace, uid, resourceVersion, generation, deletionTimestamp, labels,
 * annotations), with the managedFields fingerprint instead of the
 * managedFields when the recorded resourceVersion differs (the only case
 * kf_obj_unchanged looks at them), as compact JSON parsed again where it
 * is read (kf_ap_member_live): a parsed tree costs several times that. A
 * health wait keeps only each object's verdict (kf_health_of) by key.
 */
#include "apply_int.h"

static void add_list_rest(struct run *r, const struct kf_rest *rest)
{
	for (size_t i = 0; i < r->nlists; i++)
		if (!strcmp(r->lists[i].rest->group, rest->group) && !strcmp(r->lists[i].rest->kind, rest->kind))
			return;
	r->lists = kf_xrealloc(r->lists, (r->nlists + 1) * sizeof(*r->lists));
	r->lists[r->nlists++] = (struct gk_list){ .rest = rest };
}

void kf_ap_plan_lists(struct run *r)
{
	char *gks = r->gks_old ? kf_xstrdup(r->gks_old) : kf_xstrdup(""), *save = NULL;

	for (size_t i = 0; i < r->set->n; i++) {
		const struct kf_obj *o = &r->set->v[i];
		const struct kf_rest *rest = kf_discovery_find(r->d, o->group, o->version, o->kind);

		if (!rest)
			rest = kf_discovery_find_gk(r->d, o->group, o->kind);
		if (rest)
			add_list_rest(r, rest);
	}
	/* Kinds recorded before (maybe no longer in the set): only prune
	 * (and delete) needs them. */
	if (!r->o->prune && r->set->n)
		*gks = '\0';
	for (char *t = strtok_r(gks, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *dot = strchr(t, '.');
		const struct kf_rest *rest;

		if (dot)
			*dot = '\0';
		rest = kf_discovery_find_gk(r->d, dot ? dot + 1 : "", t);
		if (rest)
			add_list_rest(r, rest);
	}
	free(gks);
}

/* kind and apiVersion: LIST items lack them, or are PartialObjectMetadata. */
static void fill_kind(json_t *it, const struct kf_rest *rest)
{
	const char *kind = kf_ap_sget(it, "kind");

	if (kind && strcmp(kind, "PartialObjectMetadata"))
		return;
	json_object_set_new(it, "kind", json_string(rest->kind));
	json_object_set_new(it, "apiVersion", rest->group[0] ? json_sprintf("%s/%s", rest->group, rest->version)
							     : json_string(rest->version));
}

static void copy_key(json_t *dst, const json_t *src, const char *k)
{
	json_t *v = json_object_get(src, k);

	if (v)
		json_object_set(dst, k, v);
}

/* What a member needs: kind, apiVersion, the metadata prune and
 * kf_obj_unchanged read, and the managedFields fingerprint when the record
 * cannot vouch for the live version (kf_obj_fields_fp finds it there). */
static json_t *trim_member(const struct run *r, json_t *it)
{
	static const char *const keep[] = { "name", "namespace", "uid", "resourceVersion", "generation",
					    "deletionTimestamp", "labels", "annotations" };
	json_t *out = json_object(), *md = json_object_get(it, "metadata"), *m = json_object();

	copy_key(out, it, "kind");
	copy_key(out, it, "apiVersion");
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		copy_key(m, md, keep[i]);
	if (json_object_get(md, "managedFields")) {
		char *key = kf_ap_live_key(it);
		const char *rec_rv = kf_ap_sget(json_object_get(r->state, key ? key : ""), "rv");
		const char *rv = kf_ap_sget(md, "resourceVersion");

		if (!rec_rv || !rv || strcmp(rec_rv, rv)) {
			char fp[33];

			kf_obj_fields_fp(it, fp);
			json_object_set_new(out, KF_LIVE_FIELDS_FP, json_string(fp));
		}
		free(key);
	}
	json_object_set_new(out, "metadata", m);
	return out;
}

struct page {
	struct run *r;
	struct gk_list *gl;
	bool metadata_only;
};

/* One item of a page into its list, trimmed (kf_list_scan frees it). */
static int add_item(void *ctx, json_t *it)
{
	struct page *pg = ctx;

	if (!json_is_object(it))
		return 0;
	fill_kind(it, pg->gl->rest);
	if (pg->metadata_only) {
		struct run *r = pg->r;
		json_t *t = trim_member(r, it);
		struct member *m;

		if (strcmp(kf_ap_nz(kf_ap_sget(json_object_get(json_object_get(t, "metadata"), "labels"), KF_APPLYSET_PART_OF)), r->id)) {
			json_decref(t); /* never touch what is not labelled ours */
			return 0;
		}
		kf_xgrow((void **)&r->members, &r->amembers, r->nmembers + 1, sizeof(*r->members));
		m = &r->members[r->nmembers++];
		m->key = kf_ap_live_key(t);
		if (!m->key)
			m->key = kf_xstrdup("");
		m->live = json_dumps(t, JSON_COMPACT);
		m->rest = pg->gl->rest;
		m->rank = kf_kube_kind_rank(m->rest->group, m->rest->kind);
		m->desired = false;
		json_decref(t);
	} else {
		/* Health: only the verdict, by key (the first wins). */
		char *key = kf_ap_live_key(it);
		const char *why = NULL;
		enum kf_health h = kf_health_of(it, &why);

		if (!pg->gl->index)
			pg->gl->index = json_object();
		if (key && !json_object_get(pg->gl->index, key))
			json_object_set_new(pg->gl->index, key, why ? json_pack("[i, s]", (int)h, why) : json_pack("[i]", (int)h));
		free(key);
	}
	return 0;
}

/* LIST every planned kind by label (following continue tokens). */
int kf_ap_list_all(struct run *r, bool metadata_only, struct kf_err **err)
{
	struct kf_kube_req *q = kf_xcalloc(r->nlists + 1, sizeof(*q));
	struct kf_kube_req **qp = kf_xcalloc(r->nlists + 1, sizeof(*qp));
	char *sel = kf_label_selector(KF_APPLYSET_PART_OF, r->id);
	char **cont = kf_xcalloc(r->nlists + 1, sizeof(*cont));
	size_t pending, pages = 0;
	int rc = 0;

	if (metadata_only) {
		for (size_t i = 0; i < r->nmembers; i++) {
			free(r->members[i].key);
			free(r->members[i].live);
		}
		r->nmembers = 0;
	}
	for (size_t i = 0; i < r->nlists; i++) {
		if (r->lists[i].settled) {
			cont[i] = kf_xstrdup(""); /* nothing to fetch */
			continue;
		}
		json_decref(r->lists[i].index);
		r->lists[i].index = NULL;
	}
	do {
		size_t nq = 0;

		pending = 0;
		for (size_t i = 0; i < r->nlists; i++) {
			char *coll, *esc;

			if (cont[i] && !*cont[i])
				continue; /* finished */
			coll = kf_rest_path(r->lists[i].rest, NULL, NULL);
			esc = cont[i] ? kf_url_escape(cont[i]) : NULL;
			kf_kube_req_init(&q[nq], "GET", kf_xasprintf("%s?labelSelector=%s&limit=500%s%s", coll, sel,
								     esc ? "&continue=" : "", esc ? esc : ""));
			free(esc);
			free(coll);
			if (metadata_only)
				q[nq].accept = ACCEPT_META;
			q[nq].user = (void *)(uintptr_t)i;
			qp[nq] = &q[nq];
			nq++;
		}
		rc = kf_kube_run(r->k, qp, nq, err);
		for (size_t j = 0; j < nq; j++) {
			size_t i = (size_t)(uintptr_t)q[j].user;
			struct page pg = { r, &r->lists[i], metadata_only };
			json_t *meta = NULL;
			const char *c;

			free(cont[i]);
			cont[i] = kf_xstrdup("");
			if (rc)
				continue;
			if (q[j].status == 404 && !q[j].err)
				continue; /* kind not served (yet): no members */
			if (q[j].err || q[j].status < 200 || q[j].status > 299) {
				rc = kf_kube_req_error(err, &q[j]);
				continue;
			}
			if (kf_list_scan(q[j].resp.buf, q[j].resp.len, add_item, &pg, &meta)) {
				rc = kf_err_set(err, KF_EIO, "GET %s: response is not JSON", q[j].path);
				continue;
			}
			/* The page's bytes are not needed any more. */
			kf_kube_req_release(&q[j]);
			c = kf_ap_sget(meta, "continue");
			if (c && *c) {
				free(cont[i]);
				cont[i] = kf_xstrdup(c);
				pending++;
			}
			json_decref(meta);
		}
		for (size_t j = 0; j < nq; j++)
			kf_kube_req_release(&q[j]);
		if (pending && ++pages > 1000)
			rc = kf_err_set(err, KF_ETOOBIG, "more than 1000 pages of inventory members");
	} while (!rc && pending);
	for (size_t i = 0; i < r->nlists; i++)
		free(cont[i]);
	free(cont);
	free(q);
	free(qp);
	free(sel);
	if (rc)
		kf_err_wrap(err, "listing inventory members");
	return rc;
}

static int cmp_member_key(const void *pa, const void *pb)
{
	return strcmp(((const struct member *)pa)->key, ((const struct member *)pb)->key);
}

void kf_ap_collect_members(struct run *r)
{
	/* sorted by key: find_member is a binary search (a linear one made
	 * marking n unchanged objects O(n^2)) */
	if (r->nmembers > 1)
		qsort(r->members, r->nmembers, sizeof(*r->members), cmp_member_key);
}

json_t *kf_ap_member_live(const struct member *m)
{
	json_t *live = m->live ? json_loads(m->live, 0, NULL) : NULL;

	return live ? live : json_object();
}

char *kf_ap_member_label(const struct member *m)
{
	json_t *live = kf_ap_member_live(m);
	const json_t *md = json_object_get(live, "metadata");
	const char *ns = kf_ap_sget(md, "namespace"), *name = kf_ap_nz(kf_ap_sget(md, "name"));
	const char *g = m->rest->group, *k = m->rest->kind;
	char *out;

	if (ns)
		out = g[0] ? kf_xasprintf("%s.%s %s/%s", k, g, ns, name) : kf_xasprintf("%s %s/%s", k, ns, name);
	else
		out = g[0] ? kf_xasprintf("%s.%s %s", k, g, name) : kf_xasprintf("%s %s", k, name);
	json_decref(live);
	return out;
}

struct member *kf_ap_find_member(struct run *r, const char *key)
{
	struct member k = { .key = (char *)key };

	if (!r->nmembers)
		return NULL;
	return bsearch(&k, r->members, r->nmembers, sizeof(*r->members), cmp_member_key);
}
