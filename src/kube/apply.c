/*
 * apply.c - staged server-side apply with an ApplySet inventory, prune,
 * skip-unchanged and health waits.
 *
 * The order of one run (k0sctl-style small phases):
 *  1. inventory: read the parent Secret (kubectl's ApplySet convention) and
 *     the state kfboot recorded in it (resourceVersion and generation of
 *     every member after kfboot last applied it);
 *  2. live: one label-selected LIST per kind (applyset part-of label) tells
 *     which members are unchanged (hash annotation + recorded version) and
 *     which left the set (prune candidates); prune safety is checked here,
 *     before anything is written;
 *  3. for each ordering wave (kfboot.io/apply-order, Argo CD's sync-wave):
 *     prerequisites (Namespaces, CRDs, cluster-scoped classes), then
 *     built-in kinds (while the server establishes the CRDs), then custom
 *     resources, each as soon as its own CRD is Established (then
 *     rediscover), then webhook configurations; each stage is one parallel
 *     batch of PATCH application/apply-patch+yaml requests; transient
 *     failures are retried within the stage; objects refused because a
 *     webhook is not ready are retried with backoff at the end of the wave;
 *  4. prune members that left the set, in reverse order;
 *  5. wait for health (optional), one LIST per kind per poll;
 *  6. record the new state in the parent, only when it changed.
 *
 * The recorded state (kfboot's own record; kubectl reads only the parent's
 * group-kinds annotation and the part-of labels) is JSON, deflated, and
 * split into parts of at most 512 KiB: part 0 in the parent Secret, parts
 * 1.. in Secrets "<parent>-state-<i>" next to it, written before the
 * parent, which names how many parts there are and the SHA-256 of the
 * whole, so a torn write is detected (and costs one full apply, never a
 * wrong skip). So the record stays below etcd's object limit for tens of
 * thousands of members. Before anything new is applied the record already
 * holds every desired object (an entry without a version: intent), so an
 * apply cut short never leaves applied objects outside it; if that write
 * fails, nothing is applied.
 * A no-op re-apply therefore costs one GET and one LIST per kind (and
 * discovery, unless it comes from the disk cache). The desired objects are
 * labelled and hashed on a second thread while 1 and 2 wait on the network
 * (those only read the objects' group/version/kind strings, which it does
 * not touch); it is joined before anything looks at a hash.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kube.h"

#define STATE_KEY "kfboot-state"     /* before 0.2: base64 JSON, one part */
#define STATE_Z_KEY "kfboot-state.z" /* deflated JSON, part 0 */
#define PART_KEY "part"
#define ANN_PARTS "kfboot.io/state-parts"
#define ANN_SHA "kfboot.io/state-sha256"
#define ANN_PART_OF "kfboot.io/state-of"
#define PART_MAX ((size_t)512 * 1024)
#define PARENT_KIND "Secret"
#define DEFAULT_INV_NS "kube-system"
#define DEFAULT_INV_NAME "kfboot"

enum stage { ST_PREREQ, ST_BUILTIN, ST_CUSTOM, ST_WEBHOOK, ST_N };
static const char *const stage_names[ST_N] = { "prerequisites", "apply", "custom resources", "webhooks" };

enum verdict { V_OK, V_RETRY, V_WEBHOOK, V_FAIL };

struct member {       /* a live object listed by the part-of label */
	char *key;
	json_t *live;     /* borrowed from lists */
	const struct kf_rest *rest;
	int rank;
	bool desired;
};

struct gk_list {          /* one LIST per group/kind */
	const struct kf_rest *rest;
	json_t *items;        /* array of live objects, owned */
	json_t *index;        /* key -> item, built when first needed */
	bool settled;         /* health: all ready, not listed again */
};

struct run {
	struct kf_kube *k;
	struct kf_discovery *d;
	struct kf_objset *set;
	const struct kf_apply_opts *o;
	struct kf_apply_result *res;
	double start, deadline;
	char *inv_ns, *inv_name, *id;
	bool parent_exists, parent_deferred;
	json_t *state;       /* {"key": {"rv": "..", "gen": n}} */
	json_t *state0;      /* as read */
	char *gks_old, *nss_old;
	size_t parts_old;    /* state parts the parent named when read */
	json_t *ns_names;    /* names of the set's Namespaces (classify) */
	struct gk_list *lists;
	size_t nlists;
	struct member *members;
	size_t nmembers, amembers;
	const struct kf_obj **pruned;
	size_t npruned;
};

static const char *sget(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

static void progress(struct run *r, const char *phase, size_t done, size_t total,
		     const char *detail)
{
	struct kf_apply_progress p = { phase, done, total, detail, kf_now() - r->start };

	if (r->o->progress)
		r->o->progress(r->o->progress_ctx, &p);
}

static char *obj_key(const char *group, const char *kind, const char *ns, const char *name)
{
	return kf_xasprintf("%s/%s/%s/%s", group, kind, ns ? ns : "", name);
}

static char *live_key(const json_t *live)
{
	const char *av = sget(live, "apiVersion"), *slash;
	const json_t *md = json_object_get(live, "metadata");
	char *group, *key;

	if (!av)
		return NULL;
	slash = strchr(av, '/');
	group = slash ? kf_xstrndup(av, (size_t)(slash - av)) : kf_xstrdup("");
	key = obj_key(group, sget(live, "kind") ? sget(live, "kind") : "", sget(md, "namespace"),
		      sget(md, "name") ? sget(md, "name") : "");
	free(group);
	return key;
}

static enum stage stage_of(const struct kf_obj *o)
{
	if (o->rank <= 2)
		return ST_PREREQ;
	if (o->rank >= 90)
		return ST_WEBHOOK;
	if (o->rank == 50 || o->rank == 33)
		return ST_CUSTOM;
	return ST_BUILTIN;
}

/* ---- inventory parent ----------------------------------------------- */

static int parse_inventory(struct run *r, struct kf_err **err)
{
	const char *inv = r->o->inventory;
	const char *slash = inv ? strchr(inv, '/') : NULL;

	if (!inv || !*inv) {
		r->inv_ns = kf_xstrdup(DEFAULT_INV_NS);
		r->inv_name = kf_xstrdup(DEFAULT_INV_NAME);
	} else if (slash) {
		r->inv_ns = kf_xstrndup(inv, (size_t)(slash - inv));
		r->inv_name = kf_xstrdup(slash + 1);
	} else {
		r->inv_ns = kf_xstrdup(DEFAULT_INV_NS);
		r->inv_name = kf_xstrdup(inv);
	}
	if (!*r->inv_ns || !*r->inv_name || strchr(r->inv_name, '/'))
		return kf_err_set(err, KF_EUSAGE, "inventory '%s': use NAME or NAMESPACE/NAME", inv);
	r->id = kf_applyset_id(r->inv_name, r->inv_ns, PARENT_KIND, "");
	return 0;
}

static char *parent_path(const struct run *r)
{
	return kf_xasprintf("/api/v1/namespaces/%s/secrets/%s", r->inv_ns, r->inv_name);
}

static char *part_path(const struct run *r, size_t i)
{
	return kf_xasprintf("/api/v1/namespaces/%s/secrets/%s-state-%zu", r->inv_ns, r->inv_name, i);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
	for (size_t i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The state as deflated JSON. */
static void state_encode(const json_t *state, struct kf_buf *z)
{
	char *js = json_dumps(state, JSON_SORT_KEYS | JSON_COMPACT);
	size_t n = strlen(js);
	uLongf zl = compressBound((uLong)n);

	kf_buf_reset(z);
	kf_buf_grow(z, (size_t)zl + 1);
	if (compress2((Bytef *)z->buf, &zl, (const Bytef *)js, (uLong)n, 6) != Z_OK) {
		fprintf(stderr, "fatal: out of memory (deflate)\n");
		abort();
	}
	kf_buf_setlen(z, (size_t)zl);
	free(js);
}

/* Inflate and parse; NULL when the bytes are not a deflated JSON object. */
static json_t *state_decode(const char *z, size_t zlen)
{
	z_stream s;
	struct kf_buf out = KF_BUF_INIT;
	json_t *st = NULL;
	int zr = Z_OK;

	memset(&s, 0, sizeof(s));
	if (inflateInit(&s) != Z_OK)
		return NULL;
	s.next_in = (Bytef *)z;
	s.avail_in = (uInt)zlen;
	while (zr == Z_OK) {
		kf_buf_grow(&out, 1 << 20);
		s.next_out = (Bytef *)out.buf + out.len;
		s.avail_out = (uInt)(out.alloc - out.len - 1);
		zr = inflate(&s, Z_NO_FLUSH);
		kf_buf_setlen(&out, (size_t)((char *)s.next_out - out.buf));
		if (zr == Z_OK && s.avail_in == 0 && s.avail_out != 0)
			zr = Z_DATA_ERROR; /* truncated */
	}
	inflateEnd(&s);
	if (zr == Z_STREAM_END) {
		st = json_loadb(out.buf, out.len, 0, NULL);
		if (st && !json_is_object(st)) {
			json_decref(st);
			st = NULL;
		}
	}
	kf_buf_release(&out);
	return st;
}

/* Append the decoded base64 value data[key] of a Secret to z. */
static bool part_append(const json_t *secret, const char *key, struct kf_buf *z)
{
	const char *b64 = sget(json_object_get(secret, "data"), key);
	char *raw = NULL;
	size_t len = 0;

	if (!b64 || kf_base64_decode(b64, &raw, &len) != 0)
		return false;
	kf_buf_add(z, raw, len);
	free(raw);
	return true;
}

/* The recorded state from the parent and its parts; NULL (after a
 * warning) when it is missing, torn or unreadable. */
static json_t *read_state(struct run *r, const json_t *parent, struct kf_err **err, int *rc)
{
	const json_t *ann = json_object_get(json_object_get(parent, "metadata"), "annotations");
	const char *parts = sget(ann, ANN_PARTS), *sha = sget(ann, ANN_SHA);
	const char *legacy = sget(json_object_get(parent, "data"), STATE_KEY);
	struct kf_buf z = KF_BUF_INIT;
	json_t *st = NULL;
	size_t n = parts ? (size_t)strtoul(parts, NULL, 10) : 0;
	char hex[65];
	bool ok;

	*rc = 0;
	if (!parts && legacy) { /* one base64 JSON value */
		char *raw = NULL;
		size_t len = 0;

		if (kf_base64_decode(legacy, &raw, &len) == 0)
			st = json_loadb(raw, len, 0, NULL);
		free(raw);
		if (st && !json_is_object(st)) {
			json_decref(st);
			st = NULL;
		}
		goto out;
	}
	if (!parts)
		return NULL;
	r->parts_old = n;
	ok = n >= 1 && n <= 4096 && sha && part_append(parent, STATE_Z_KEY, &z);
	for (size_t i = 1; ok && i < n; i++) {
		char *path = part_path(r, i);
		json_t *p = NULL;

		*rc = kf_kube_get_json(r->k, path, true, &p, err);
		free(path);
		if (*rc) {
			kf_buf_release(&z);
			return NULL;
		}
		ok = p && part_append(p, PART_KEY, &z);
		json_decref(p);
	}
	if (ok) {
		sha256_hex(z.buf, z.len, hex);
		ok = !strcmp(hex, sha);
	}
	if (ok)
		st = state_decode(z.buf, z.len);
out:
	kf_buf_release(&z);
	if (!st)
		kf_warn("inventory %s/%s: recorded state is unreadable or incomplete; every object will be applied",
			r->inv_ns, r->inv_name);
	return st;
}

static int read_parent(struct run *r, struct kf_err **err)
{
	char *path = parent_path(r);
	json_t *p = NULL;
	const json_t *md, *ann;
	const char *id, *tool;
	int rc = kf_kube_get_json(r->k, path, true, &p, err);

	free(path);
	if (rc)
		return kf_err_wrap(err, "inventory %s/%s", r->inv_ns, r->inv_name);
	r->state = json_object();
	if (!p)
		goto out;
	r->parent_exists = true;
	md = json_object_get(p, "metadata");
	ann = json_object_get(md, "annotations");
	id = sget(json_object_get(md, "labels"), KF_APPLYSET_ID_LABEL);
	tool = sget(ann, KF_APPLYSET_TOOLING);
	if (!id || strcmp(id, r->id)) {
		rc = kf_err_set(err, KF_ECONFLICT, "inventory %s/%s: Secret exists but is not an ApplySet parent with id %s",
				r->inv_ns, r->inv_name, r->id);
		goto out;
	}
	if (tool && !kf_str_startswith(tool, "kfboot/")) {
		rc = kf_err_set(err, KF_ECONFLICT, "inventory %s/%s is managed by '%s', not kfboot", r->inv_ns, r->inv_name, tool);
		goto out;
	}
	r->gks_old = kf_xstrdup(sget(ann, KF_APPLYSET_GKS) ? sget(ann, KF_APPLYSET_GKS) : "");
	r->nss_old = kf_xstrdup(sget(ann, KF_APPLYSET_NSS) ? sget(ann, KF_APPLYSET_NSS) : "");
	{
		json_t *st = read_state(r, p, err, &rc);

		if (st) {
			json_decref(r->state);
			r->state = st;
		}
		if (rc)
			kf_err_wrap(err, "inventory %s/%s", r->inv_ns, r->inv_name);
	}
out:
	r->state0 = json_deep_copy(r->state);
	json_decref(p);
	return rc;
}

/* Comma-separated union of two sorted lists, sorted. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *csv_union(const char *a, const char *b)
{
	char *all = kf_xasprintf("%s,%s", a ? a : "", b ? b : "");
	char **v = NULL, *save = NULL;
	size_t n = 0, alloc = 0;
	struct kf_buf out = KF_BUF_INIT;

	for (char *t = strtok_r(all, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!*t)
			continue;
		kf_xgrow((void **)&v, &alloc, n + 1, sizeof(*v));
		v[n++] = t;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(v[i], v[i - 1]))
			continue;
		if (out.len)
			kf_buf_addch(&out, ',');
		kf_buf_adds(&out, v[i]);
	}
	free(v);
	free(all);
	return kf_buf_detach(&out, NULL);
}

static char *namespaces_csv(const struct run *r)
{
	struct kf_buf b = KF_BUF_INIT;
	char *out;

	for (size_t i = 0; i < r->set->n; i++) {
		const char *ns = r->set->v[i].ns;

		if (ns && strcmp(ns, r->inv_ns)) {
			if (b.len)
				kf_buf_addch(&b, ',');
			kf_buf_adds(&b, ns);
		}
	}
	out = csv_union(b.buf, "");
	kf_buf_release(&b);
	return out;
}

/* Parts 1..n-1 of the deflated state z, each its own Secret, in parallel. */
static int write_parts(struct run *r, const struct kf_buf *z, size_t n, long *status, struct kf_err **err)
{
	struct kf_kube_req *q = kf_xcalloc(n + 1, sizeof(*q));
	struct kf_kube_req **qp = kf_xcalloc(n + 1, sizeof(*qp));
	char *owner = kf_xasprintf("%s/%s", r->inv_ns, r->inv_name);
	size_t nq = 0;
	int rc;

	for (size_t i = 1; i < n; i++) {
		size_t off = i * PART_MAX, len = z->len - off < PART_MAX ? z->len - off : PART_MAX;
		char *b64 = kf_base64_encode(z->buf + off, len, false);
		char *name = kf_xasprintf("%s-state-%zu", r->inv_name, i), *path = part_path(r, i), *s;
		json_t *body = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:{s:s}}",
					 "apiVersion", "v1", "kind", "Secret", "metadata", "name", name,
					 "namespace", r->inv_ns, "annotations", ANN_PART_OF, owner,
					 "type", "Opaque", "data", PART_KEY, b64);

		s = json_dumps(body, JSON_COMPACT);
		kf_kube_req_init(&q[nq], "PATCH", kf_xasprintf("%s?fieldManager=kfboot&force=true", path));
		kf_kube_req_body(&q[nq], s, strlen(s), "application/apply-patch+yaml");
		qp[nq] = &q[nq];
		nq++;
		json_decref(body);
		free(b64);
		free(name);
		free(path);
	}
	rc = kf_kube_run(r->k, qp, nq, err);
	for (size_t i = 0; !rc && i < nq; i++) {
		*status = q[i].status;
		if (q[i].err || q[i].status < 200 || q[i].status > 299)
			rc = kf_kube_req_error(err, &q[i]);
	}
	for (size_t i = 0; i < nq; i++)
		kf_kube_req_release(&q[i]);
	free(q);
	free(qp);
	free(owner);
	return rc;
}

/* Delete parts from..to-1 (left from a larger record); failures only warn:
 * an unused part is never read. */
static void delete_parts(struct run *r, size_t from, size_t to)
{
	struct kf_kube_req *q, **qp;
	struct kf_err *e = NULL;
	size_t nq = 0;

	if (from >= to)
		return;
	q = kf_xcalloc(to - from + 1, sizeof(*q));
	qp = kf_xcalloc(to - from + 1, sizeof(*qp));
	for (size_t i = from; i < to; i++) {
		kf_kube_req_init(&q[nq], "DELETE", part_path(r, i));
		qp[nq] = &q[nq];
		nq++;
	}
	if (kf_kube_run(r->k, qp, nq, &e) == 0) {
		for (size_t i = 0; i < nq; i++)
			if (q[i].err || ((q[i].status < 200 || q[i].status > 299) && q[i].status != 404))
				kf_warn("inventory %s/%s: could not delete unused state part %zu (status %ld)",
					r->inv_ns, r->inv_name, from + i, q[i].status);
	}
	kf_err_free(e);
	for (size_t i = 0; i < nq; i++)
		kf_kube_req_release(&q[i]);
	free(q);
	free(qp);
}

static int write_parent(struct run *r, const char *gks, const char *nss,
			bool with_state, long *status, struct kf_err **err)
{
	json_t *body = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:s, s:s}}}",
				 "apiVersion", "v1", "kind", "Secret", "metadata",
				 "name", r->inv_name, "namespace", r->inv_ns,
				 "labels", KF_APPLYSET_ID_LABEL, r->id,
				 "annotations", KF_APPLYSET_TOOLING, "kfboot/v" KF_VERSION,
				 KF_APPLYSET_GKS, gks);
	struct kf_kube_req q, *qp = &q;
	struct kf_buf z = KF_BUF_INIT;
	size_t nparts = 0;
	char *s;
	int rc;

	if (with_state) {
		char hex[65], num[32];
		char *b64;
		json_t *ann = json_object_get(json_object_get(body, "metadata"), "annotations");

		state_encode(r->state, &z);
		nparts = z.len ? (z.len + PART_MAX - 1) / PART_MAX : 1;
		if (nparts > 1) {
			rc = write_parts(r, &z, nparts, status, err);
			if (rc) {
				kf_buf_release(&z);
				json_decref(body);
				return kf_err_wrap(err, "inventory %s/%s: state part", r->inv_ns, r->inv_name);
			}
		}
		sha256_hex(z.buf, z.len, hex);
		snprintf(num, sizeof(num), "%zu", nparts);
		json_object_set_new(ann, ANN_PARTS, json_string(num));
		json_object_set_new(ann, ANN_SHA, json_string(hex));
		b64 = kf_base64_encode(z.buf, z.len < PART_MAX ? z.len : PART_MAX, false);
		json_object_set_new(body, "data", json_pack("{s:s}", STATE_Z_KEY, b64));
		free(b64);
		kf_buf_release(&z);
	}
	if (nss && *nss)
		json_object_set_new(json_object_get(json_object_get(body, "metadata"), "annotations"),
				    KF_APPLYSET_NSS, json_string(nss));
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	{
		char *pp = parent_path(r);

		kf_kube_req_init(&q, "PATCH", kf_xasprintf("%s?fieldManager=kfboot&force=true", pp));
		free(pp);
	}
	kf_kube_req_body(&q, s, strlen(s), "application/apply-patch+yaml");
	rc = kf_kube_run(r->k, &qp, 1, err);
	*status = q.status;
	if (!rc && (q.err || q.status < 200 || q.status > 299))
		rc = kf_kube_req_error(err, &q);
	kf_kube_req_release(&q);
	if (rc) {
		kf_err_wrap(err, "inventory %s/%s", r->inv_ns, r->inv_name);
	} else {
		r->parent_exists = true;
		if (with_state) {
			delete_parts(r, nparts, r->parts_old);
			r->parts_old = nparts;
		}
	}
	return rc;
}

/* ---- live state: one LIST per group/kind ---------------------------- */

static void add_list_rest(struct run *r, const struct kf_rest *rest)
{
	for (size_t i = 0; i < r->nlists; i++)
		if (!strcmp(r->lists[i].rest->group, rest->group) && !strcmp(r->lists[i].rest->kind, rest->kind))
			return;
	r->lists = kf_xrealloc(r->lists, (r->nlists + 1) * sizeof(*r->lists));
	r->lists[r->nlists++] = (struct gk_list){ .rest = rest };
}

static void plan_lists(struct run *r)
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

/* Metadata is all that skip-unchanged and prune need: the server sends
 * PartialObjectMetadataList (much smaller than full CRDs), or plain JSON. */
#define ACCEPT_META "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"

/* LIST every planned kind by label (following continue tokens). */
static int list_all(struct run *r, bool metadata_only, struct kf_err **err)
{
	struct kf_kube_req *q = kf_xcalloc(r->nlists + 1, sizeof(*q));
	struct kf_kube_req **qp = kf_xcalloc(r->nlists + 1, sizeof(*qp));
	char *sel = kf_label_selector(KF_APPLYSET_PART_OF, r->id);
	char **cont = kf_xcalloc(r->nlists + 1, sizeof(*cont));
	size_t pending, pages = 0;
	int rc = 0;

	for (size_t i = 0; i < r->nlists; i++) {
		if (r->lists[i].settled) {
			cont[i] = kf_xstrdup(""); /* nothing to fetch */
			continue;
		}
		json_decref(r->lists[i].items);
		r->lists[i].items = json_array();
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
			json_t *body = NULL;
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
			body = json_loadb(q[j].resp.buf, q[j].resp.len, 0, NULL);
			if (!body) {
				rc = kf_err_set(err, KF_EIO, "GET %s: response is not JSON", q[j].path);
				continue;
			}
			json_array_extend(r->lists[i].items, json_object_get(body, "items"));
			c = sget(json_object_get(body, "metadata"), "continue");
			if (c && *c) {
				free(cont[i]);
				cont[i] = kf_xstrdup(c);
				pending++;
			}
			json_decref(body);
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

static void collect_members(struct run *r)
{
	for (size_t i = 0; i < r->nlists; i++) {
		json_t *it;
		size_t j;

		json_array_foreach(r->lists[i].items, j, it) {
			const char *kind = sget(it, "kind");
			struct member *m;

			/* LIST items lack kind/apiVersion, or are PartialObjectMetadata: fill them in. */
			if (!kind || !strcmp(kind, "PartialObjectMetadata")) {
				const struct kf_rest *rest = r->lists[i].rest;

				json_object_set_new(it, "kind", json_string(rest->kind));
				json_object_set_new(it, "apiVersion", rest->group[0] ? json_sprintf("%s/%s", rest->group, rest->version)
										     : json_string(rest->version));
			}
			if (strcmp(nz(sget(json_object_get(json_object_get(it, "metadata"), "labels"), KF_APPLYSET_PART_OF)), r->id))
				continue; /* never touch what is not labelled ours */
			kf_xgrow((void **)&r->members, &r->amembers, r->nmembers + 1, sizeof(*r->members));
			m = &r->members[r->nmembers++];
			m->key = live_key(it);
			m->live = it;
			m->rest = r->lists[i].rest;
			m->rank = kf_kube_kind_rank(m->rest->group, m->rest->kind);
			m->desired = false;
			if (!m->key)
				m->key = kf_xstrdup("");
		}
	}
	/* sorted by key: find_member is a binary search (a linear one made
	 * marking n unchanged objects O(n^2)) */
	if (r->nmembers > 1)
		qsort(r->members, r->nmembers, sizeof(*r->members), cmp_member_key);
}

static struct member *find_member(struct run *r, const char *key)
{
	struct member k = { .key = (char *)key };

	if (!r->nmembers)
		return NULL;
	return bsearch(&k, r->members, r->nmembers, sizeof(*r->members), cmp_member_key);
}

/* ---- applying ------------------------------------------------------- */

static bool contains(const char *hay, const char *needle)
{
	return hay && strstr(hay, needle);
}

static enum verdict classify(struct run *r, const struct kf_kube_req *q, char **why)
{
	char *msg;

	*why = NULL;
	if (!q->err && q->status >= 200 && q->status <= 299)
		return V_OK;
	if (q->err) {
		*why = kf_xstrdup(q->err->msg);
		/* The client already retried what a retry can fix. */
		return kf_err_code(q->err) == KF_EAGAIN ? V_RETRY : V_FAIL;
	}
	msg = kf_kube_status_message(q);
	*why = kf_xasprintf("%ld: %s", q->status, msg ? msg : q->resp.len && q->resp.len < 300 ? q->resp.buf : "no message");
	if (contains(msg, "failed calling webhook") || contains(msg, "no endpoints available") ||
	    contains(msg, "connection refused") || (contains(msg, "webhook") && q->status >= 500)) {
		free(msg);
		return V_WEBHOOK;
	}
	if (q->status == 429 || q->status >= 500) {
		free(msg);
		/* A 500 that says the request is wrong stays wrong. */
		return kf_kube_req_invalid(q) ? V_FAIL : V_RETRY;
	}
	if (q->status == 404) {
		/* A namespace from the set still being created, or a CRD just
		 * established but not served yet: retry; anything else fails. */
		bool ns_in_set = false;
		const char *p = msg ? strstr(msg, "namespaces \"") : NULL;

		if (!r->ns_names) { /* Namespaces of the set, built once */
			r->ns_names = json_object();
			for (size_t i = 0; i < r->set->n; i++) {
				const struct kf_obj *o = &r->set->v[i];

				if (!strcmp(o->kind, "Namespace") && !o->group[0])
					json_object_set_new(r->ns_names, o->name, json_true());
			}
		}
		while (p && !ns_in_set) {
			const char *name = p + strlen("namespaces \""), *end = strchr(name, '"');

			if (end && kf_str_startswith(end, "\" not found")) {
				char *ns = kf_xstrndup(name, (size_t)(end - name));

				ns_in_set = json_object_get(r->ns_names, ns) != NULL;
				free(ns);
			}
			p = strstr(name, "namespaces \"");
		}
		free(msg);
		return ns_in_set || !contains(*why, "namespaces \"") ? V_RETRY : V_FAIL;
	}
	free(msg);
	return V_FAIL;
}

/* A 409 whose Status names FieldManagerConflict causes (server-side apply
 * conflicts), as opposed to "the object has been modified". */
static bool is_manager_conflict(const struct kf_kube_req *q)
{
	json_t *j = json_loadb(q->resp.buf, q->resp.len, 0, NULL);
	const json_t *c;
	size_t i;
	bool yes = false;

	json_array_foreach(json_object_get(json_object_get(j, "details"), "causes"), i, c) {
		const char *t = sget(c, "reason") ? sget(c, "reason") : sget(c, "type");

		yes = yes || (t && !strcmp(t, "FieldManagerConflict"));
	}
	json_decref(j);
	return yes;
}

static const struct kf_rest *rest_of(struct run *r, const struct kf_obj *o)
{
	const struct kf_rest *rest = kf_discovery_find(r->d, o->group, o->version, o->kind);
	size_t i;

	if (rest)
		return rest;
	/* A CRD in the set provides it: map from the CRD itself. */
	for (i = 0; i < r->set->n; i++) {
		const struct kf_obj *c = &r->set->v[i];
		const json_t *spec = json_object_get(c->obj, "spec");
		const json_t *names = json_object_get(spec, "names");

		if (strcmp(c->kind, "CustomResourceDefinition"))
			continue;
		if (sget(spec, "group") && !strcmp(sget(spec, "group"), o->group) && sget(names, "kind") &&
		    !strcmp(sget(names, "kind"), o->kind) && sget(names, "plural")) {
			kf_discovery_add(r->d, o->group, o->version, o->kind, sget(names, "plural"),
					 !sget(spec, "scope") || !strcmp(sget(spec, "scope"), "Namespaced"));
			return kf_discovery_find(r->d, o->group, o->version, o->kind);
		}
	}
	return NULL;
}

static void record(struct run *r, struct kf_obj *o, const struct kf_kube_req *q)
{
	json_t *resp = json_loadb(q->resp.buf, q->resp.len, 0, NULL);
	const json_t *md = json_object_get(resp, "metadata");
	const char *rv = sget(md, "resourceVersion");
	const json_t *gen = json_object_get(md, "generation");

	free(o->rv);
	o->rv = rv ? kf_xstrdup(rv) : NULL;
	o->generation = json_is_integer(gen) ? (long)json_integer_value(gen) : 0;
	if (!r->o->dry_run && rv) {
		char *key = obj_key(o->group, o->kind, o->ns, o->name);

		json_t *ent = json_pack("{s:s}", "rv", rv);
		char fp[33];

		if (o->generation)
			json_object_set_new(ent, "gen", json_integer(o->generation));
		if (json_object_get(md, "managedFields")) {
			kf_obj_fields_fp(resp, fp);
			json_object_set_new(ent, "mf", json_string(fp));
		}
		json_object_set_new(r->state, key, ent);
		free(key);
	}
	json_decref(resp);
}

/* PATCH every object in idx[] once, in parallel; set their states. */
static int apply_batch(struct run *r, struct kf_obj **objs, size_t n, struct kf_err **err)
{
	struct kf_kube_req *q = kf_xcalloc(n + 1, sizeof(*q));
	struct kf_kube_req **qp = kf_xcalloc(n + 1, sizeof(*qp));
	size_t nq = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		struct kf_obj *o = objs[i];
		const struct kf_rest *rest = rest_of(r, o);
		char *path, *body;

		if (r->o->dry_run && !kf_discovery_find(r->d, o->group, o->version, o->kind) &&
		    strcmp(o->kind, "CustomResourceDefinition")) {
			/* Its CRD is only in the input: the server cannot check it. */
			o->state = KF_OBJ_UNCHANGED;
			free(o->why);
			o->why = kf_xstrdup("not checked: its CustomResourceDefinition is not installed yet (dry run)");
			continue;
		}
		if (!rest) {
			o->state = KF_OBJ_RETRY;
			free(o->why);
			o->why = kf_xasprintf("no REST mapping for %s/%s %s yet", o->group, o->version, o->kind);
			continue;
		}
		path = kf_rest_path(rest, o->ns, o->name);
		kf_kube_req_init(&q[nq], "PATCH", kf_xasprintf("%s?fieldManager=kfboot&force=%s%s", path,
							       r->o->force_conflicts ? "true" : "false",
							       r->o->dry_run ? "&dryRun=All" : ""));
		free(path);
		body = json_dumps(o->obj, JSON_COMPACT);
		kf_kube_req_body(&q[nq], body, strlen(body), "application/apply-patch+yaml");
		q[nq].no_retry = true; /* 5xx is judged here (webhooks) */
		q[nq].user = o;
		qp[nq] = &q[nq];
		nq++;
	}
	rc = kf_kube_run(r->k, qp, nq, err);
	for (size_t i = 0; !rc && i < nq; i++) {
		struct kf_obj *o = q[i].user;
		char *why = NULL;
		enum verdict v = classify(r, &q[i], &why);

		free(o->why);
		o->why = why;
		switch (v) {
		case V_OK:
			o->state = KF_OBJ_APPLIED;
			record(r, o, &q[i]);
			break;
		case V_RETRY:
		case V_WEBHOOK:
			o->state = KF_OBJ_RETRY;
			if (r->o->dry_run && q[i].status == 404) {
				/* Its namespace or CRD is created by this apply: a dry
				 * run cannot check it. */
				char *w = kf_xasprintf("not checked: %s (created by this apply; dry run)", o->why);

				free(o->why);
				o->why = w;
				o->state = KF_OBJ_UNCHANGED;
			}
			break;
		case V_FAIL:
			o->state = KF_OBJ_FAILED;
			/* Only a field-manager conflict is what --force-conflicts
			 * is for; a stale resourceVersion is not. */
			if (q[i].status == 409 && !r->o->force_conflicts && is_manager_conflict(&q[i])) {
				char *w = kf_xasprintf("%s (another field manager owns these fields; --force-conflicts takes them over)", o->why);

				free(o->why);
				o->why = w;
			}
			break;
		}
	}
	for (size_t i = 0; i < nq; i++)
		kf_kube_req_release(&q[i]);
	free(q);
	free(qp);
	return rc;
}

static bool is_webhook_why(const char *why)
{
	return contains(why, "webhook") || contains(why, "no endpoints available") || contains(why, "connection refused");
}

/*
 * Apply objs[] until each is applied or failed; objects refused for a
 * not-ready webhook are left in RETRY state when `defer_webhooks`.
 */
static int apply_until(struct run *r, struct kf_obj **objs, size_t n, bool defer_webhooks,
		       const char *phase, struct kf_err **err)
{
	struct kf_backoff bo = KF_BACKOFF_INIT(0.5, 10.0);
	struct kf_obj **pending = kf_xcalloc(n + 1, sizeof(*pending));
	size_t nt = n;
	unsigned rounds = 0;
	int rc = 0;

	memcpy(pending, objs, n * sizeof(*pending));
	while (nt) {
		size_t keep = 0, done = 0;

		rc = apply_batch(r, pending, nt, err);
		if (rc)
			break;
		for (size_t i = 0; i < nt; i++) {
			if (pending[i]->state != KF_OBJ_RETRY)
				continue;
			if (defer_webhooks && is_webhook_why(pending[i]->why))
				continue;
			pending[keep++] = pending[i];
		}
		for (size_t i = 0; i < n; i++)
			done += objs[i]->state == KF_OBJ_APPLIED || objs[i]->state == KF_OBJ_UNCHANGED;
		nt = keep;
		if (!nt)
			break;
		{
			double delay = kf_backoff_next(&bo);
			char *detail = kf_xasprintf("%zu to retry (%s)", nt, pending[0]->why ? pending[0]->why : "transient");

			if (delay < 0.2)
				delay = 0.2;
			progress(r, phase, done, n, detail);
			free(detail);
			/* Webhooks get until the deadline; other transient
			 * failures a bounded number of rounds. */
			if (++rounds > 12) {
				size_t k2 = 0;

				for (size_t i = 0; i < nt; i++) {
					if (is_webhook_why(pending[i]->why))
						pending[k2++] = pending[i];
					else
						pending[i]->state = KF_OBJ_FAILED;
				}
				nt = k2;
				if (!nt)
					break;
			}
			if (kf_now() + delay > r->deadline) {
				for (size_t i = 0; i < nt; i++)
					pending[i]->state = KF_OBJ_FAILED;
				break;
			}
			kf_sleep(delay);
			if (kf_interrupted()) {
				rc = kf_err_set(err, KF_ECANCEL, "interrupted");
				break;
			}
		}
	}
	free(pending);
	return rc;
}

/*
 * CRD waits.  The CRDs a wave applies are polled with one label-selected
 * LIST per round; est[i] records which of them are Established.  A custom
 * resource whose CRD is in the wave is sent as soon as that one CRD is
 * Established (its REST mapping comes from the CRD itself, see rest_of),
 * not after every CRD of the wave: with 74 CRDs the server establishes
 * them over seconds, and the custom resources of the first ones overlap
 * with the wait for the last.  Discovery is refreshed once all are.
 */
static bool is_applied_crd(const struct kf_obj *o)
{
	return !strcmp(o->kind, "CustomResourceDefinition") && o->state == KF_OBJ_APPLIED;
}

/* One LIST of the wave's CRDs; sets est[] and counts. Fails at once on a
 * CRD whose names were not accepted (it never becomes Established). */
static int poll_crds(struct run *r, struct kf_obj **pre, size_t npre, bool *est, size_t *ready,
		     const char **waiting, struct kf_err **err)
{
	const struct kf_rest *rest = kf_discovery_find(r->d, "apiextensions.k8s.io", "v1", "CustomResourceDefinition");
	char *sel, *coll, *path;
	json_t *list = NULL, *it;
	size_t j;
	int rc;

	*ready = 0;
	*waiting = NULL;
	if (!rest)
		return kf_err_set(err, KF_ERR, "the server does not serve apiextensions.k8s.io/v1 CustomResourceDefinition");
	sel = kf_label_selector(KF_APPLYSET_PART_OF, r->id);
	coll = kf_rest_path(rest, NULL, NULL);
	path = kf_xasprintf("%s?labelSelector=%s", coll, sel);
	rc = kf_kube_get_json(r->k, path, false, &list, err);
	for (size_t i = 0; !rc && i < npre; i++) {
		struct kf_obj *o = pre[i];

		if (!is_applied_crd(o))
			continue;
		if (!est[i]) {
			json_array_foreach(json_object_get(list, "items"), j, it) {
				const char *why;
				enum kf_health h;

				if (strcmp(nz(sget(json_object_get(it, "metadata"), "name")), o->name))
					continue;
				if (!sget(it, "kind"))
					json_object_set_new(it, "kind", json_string("CustomResourceDefinition"));
				if (!sget(it, "apiVersion"))
					json_object_set_new(it, "apiVersion", json_string("apiextensions.k8s.io/v1"));
				h = kf_health_of(it, &why);
				if (h == KF_HEALTH_FAILED) {
					/* It will never be Established: say why now. */
					const json_t *na = kf_health_condition(it, "NamesAccepted");

					rc = kf_err_set(err, KF_EINVAL, "CRD %s (%s:%d:%d): NamesAccepted=False: %s: %s", o->name,
							o->file, o->line, o->col, nz(sget(na, "reason")),
							sget(na, "message") ? sget(na, "message") : why ? why : "");
					break;
				}
				est[i] = h == KF_HEALTH_READY;
				break;
			}
		}
		if (est[i])
			(*ready)++;
		else if (!*waiting)
			*waiting = o->name;
	}
	json_decref(list);
	free(sel);
	free(coll);
	free(path);
	return rc;
}

/* Index in pre[] of the CRD (applied by this wave) that serves o, or -1. */
static long crd_of(struct kf_obj **pre, size_t npre, const struct kf_obj *o)
{
	for (size_t i = 0; i < npre; i++) {
		const json_t *spec = json_object_get(pre[i]->obj, "spec");

		if (!is_applied_crd(pre[i]))
			continue;
		if (!strcmp(nz(sget(spec, "group")), o->group) &&
		    !strcmp(nz(sget(json_object_get(spec, "names"), "kind")), o->kind))
			return (long)i;
	}
	return -1;
}

/*
 * The custom-resource stage of a wave, interleaved with the wait for the
 * wave's CRDs: every round sends the custom resources whose CRD is
 * Established (or not in this wave), then polls the CRDs still pending.
 * Returns when every CRD is Established and every object was sent; those
 * refused by a webhook that is not up yet go to retry[] for the end of the
 * wave.  With no CRD in the wave this is one plain stage.
 */
static int apply_custom(struct run *r, struct kf_obj **pre, size_t npre, struct kf_obj **objs, size_t n,
			struct kf_obj **retry, size_t *nretry, struct kf_err **err)
{
	struct kf_backoff bo = KF_BACKOFF_INIT(0.05, 1.0);
	bool *est = kf_xcalloc(npre + 1, sizeof(*est));
	struct kf_obj **batch = kf_xcalloc(n + 1, sizeof(*batch));
	size_t want = 0, ready = 0, sent = 0;
	const char *waiting = NULL;
	int rc = 0;

	for (size_t i = 0; i < npre; i++)
		want += is_applied_crd(pre[i]);
	if (r->o->dry_run)
		want = 0;
	for (;;) {
		size_t nb = 0;

		for (size_t i = 0; i < n; i++) {
			long c;

			if (objs[i]->state != KF_OBJ_PENDING)
				continue;
			c = want ? crd_of(pre, npre, objs[i]) : -1;
			if (c < 0 || est[c])
				batch[nb++] = objs[i];
		}
		if (nb) {
			progress(r, stage_names[ST_CUSTOM], sent, n, NULL);
			rc = apply_until(r, batch, nb, true, stage_names[ST_CUSTOM], err);
			if (rc)
				break;
			for (size_t i = 0; i < nb; i++) {
				if (batch[i]->state == KF_OBJ_RETRY)
					retry[(*nretry)++] = batch[i];
				else if (batch[i]->state == KF_OBJ_PENDING)
					batch[i]->state = KF_OBJ_FAILED;
			}
			sent += nb;
			bo.attempt = 0;
		}
		if (ready >= want && sent >= n)
			break;
		if (nb == 0 || ready < want) {
			char *detail;

			rc = poll_crds(r, pre, npre, est, &ready, &waiting, err);
			if (rc)
				break;
			detail = waiting ? kf_xasprintf("waiting for CRD %s", waiting) : NULL;
			progress(r, "CRDs", ready, want, detail);
			free(detail);
			if (ready >= want)
				continue;
		}
		if (nb)
			continue; /* something was sent: look again at once */
		if (kf_now() > r->deadline) {
			rc = kf_err_set(err, KF_ETIMEOUT, "CRDs not Established in time (%zu/%zu; waiting for %s)", ready,
					want, waiting ? waiting : "?");
			break;
		}
		kf_sleep(0.05 + kf_backoff_next(&bo));
		if (kf_interrupted()) {
			rc = kf_err_set(err, KF_ECANCEL, "interrupted");
			break;
		}
	}
	if (!rc && want)
		rc = kf_discovery_refresh(r->d, r->k, err); /* new kinds are served: learn them */
	free(est);
	free(batch);
	return rc;
}

static void maybe_write_deferred_parent(struct run *r, struct kf_err **err)
{
	long st = 0;
	char *gks, *nss;

	if (!r->parent_deferred)
		return;
	{
		char *now = kf_applyset_group_kinds(r->set);

		gks = csv_union(r->gks_old, now);
		free(now);
	}
	nss = namespaces_csv(r);
	if (write_parent(r, gks, nss, true, &st, err) == 0)
		r->parent_deferred = false;
	else
		kf_err_clear(err);
	free(gks);
	free(nss);
}

static int apply_wave(struct run *r, size_t from, size_t to, struct kf_err **err)
{
	struct kf_obj **objs = kf_xcalloc(to - from + 1, sizeof(*objs));
	struct kf_obj **pre = kf_xcalloc(to - from + 1, sizeof(*pre));
	struct kf_obj **retry = kf_xcalloc(to - from + 1, sizeof(*retry));
	size_t nretry = 0, npre = 0;
	int rc = 0;

	/* Prerequisites, then built-in kinds while the server establishes the
	 * CRDs, then custom resources each as soon as its own CRD is
	 * Established (apply_custom), then webhook configurations. */
	for (int st = 0; st < ST_N && !rc; st++) {
		size_t n = 0;

		for (size_t i = from; i < to; i++) {
			struct kf_obj *o = &r->set->v[i];

			if ((int)stage_of(o) == st && o->state == KF_OBJ_PENDING)
				objs[n++] = o;
		}
		if (st == ST_CUSTOM) {
			rc = apply_custom(r, pre, npre, objs, n, retry, &nretry, err);
			continue;
		}
		if (!n)
			continue;
		progress(r, stage_names[st], 0, n, NULL);
		/* Prerequisites are needed by everything after them: a webhook
		 * refusing one is waited for here, not deferred. */
		rc = apply_until(r, objs, n, st != ST_PREREQ, stage_names[st], err);
		if (rc)
			break;
		for (size_t i = 0; i < n; i++)
			if (objs[i]->state == KF_OBJ_RETRY)
				retry[nretry++] = objs[i];
		{
			size_t ok = 0;

			for (size_t i = 0; i < n; i++)
				ok += objs[i]->state == KF_OBJ_APPLIED;
			progress(r, stage_names[st], ok, n, NULL);
		}
		if (st == ST_PREREQ) {
			maybe_write_deferred_parent(r, err);
			memcpy(pre, objs, n * sizeof(*pre));
			npre = n;
		}
	}
	if (!rc && nretry) {
		/* Webhooks not ready yet: retry with backoff until the deadline. */
		for (size_t i = 0; i < nretry; i++)
			retry[i]->state = KF_OBJ_PENDING;
		progress(r, "retry", 0, nretry, "waiting for webhooks");
		rc = apply_until(r, retry, nretry, false, "retry", err);
	}
	free(objs);
	free(pre);
	free(retry);
	return rc;
}

/* ---- prune ---------------------------------------------------------- */

static int cmp_member_rev(const void *pa, const void *pb)
{
	const struct member *a = *(struct member *const *)pa, *b = *(struct member *const *)pb;

	if (a->rank != b->rank)
		return a->rank > b->rank ? -1 : 1;
	return strcmp(a->key, b->key);
}

/* "Kind.group ns/name" of a listed member, like kf_obj_label. */
static char *member_label(const struct member *m)
{
	const json_t *md = json_object_get(m->live, "metadata");
	const char *ns = sget(md, "namespace"), *name = nz(sget(md, "name"));
	const char *g = m->rest->group, *k = m->rest->kind;

	if (ns)
		return g[0] ? kf_xasprintf("%s.%s %s/%s", k, g, ns, name) : kf_xasprintf("%s %s/%s", k, ns, name);
	return g[0] ? kf_xasprintf("%s.%s %s", k, g, name) : kf_xasprintf("%s %s", k, name);
}

static bool prune_disabled(const struct member *m)
{
	const char *v = sget(json_object_get(json_object_get(m->live, "metadata"), "annotations"), KF_ANN_PRUNE);

	return v && !strcmp(v, "disabled");
}

/* Members not in the desired set, in reverse apply order. */
static size_t prune_candidates(struct run *r, struct member ***out)
{
	struct member **v = kf_xcalloc(r->nmembers + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < r->nmembers; i++) {
		struct member *m = &r->members[i];

		if (m->desired)
			continue;
		if (prune_disabled(m)) {
			r->res->prune_skipped++;
			continue;
		}
		v[n++] = m;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_member_rev);
	*out = v;
	return n;
}

static int prune(struct run *r, struct member **c, size_t n, struct kf_err **err)
{
	json_t *pruned = json_array();
	size_t i = 0;
	int rc = 0;

	progress(r, "prune", 0, n, NULL);
	while (i < n && !rc) {
		/* One batch per rank: webhooks, custom resources, ..., CRDs, Namespaces. */
		size_t j = i, nq = 0;
		struct kf_kube_req *q = kf_xcalloc(n + 1, sizeof(*q));
		struct kf_kube_req **qp = kf_xcalloc(n + 1, sizeof(*qp));

		while (j < n && c[j]->rank == c[i]->rank)
			j++;
		for (size_t x = i; x < j; x++) {
			const json_t *md = json_object_get(c[x]->live, "metadata");
			char *path = kf_rest_path(c[x]->rest, sget(md, "namespace"), sget(md, "name"));
			const char *uid = sget(md, "uid");

			kf_kube_req_init(&q[nq], "DELETE", kf_xasprintf("%s?propagationPolicy=Background%s", path,
								       r->o->dry_run ? "&dryRun=All" : ""));
			free(path);
			if (uid) {
				/* Preconditions: delete exactly the object we listed. */
				char *b = kf_xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"preconditions\":{\"uid\":\"%s\"}}", uid);

				kf_kube_req_body(&q[nq], b, strlen(b), "application/json");
			}
			q[nq].user = c[x];
			qp[nq] = &q[nq];
			nq++;
		}
		rc = kf_kube_run(r->k, qp, nq, err);
		for (size_t x = 0; !rc && x < nq; x++) {
			struct member *m = q[x].user;
			char *label = member_label(m);

			if (q[x].err || ((q[x].status < 200 || q[x].status > 299) && q[x].status != 404)) {
				rc = kf_kube_req_error(err, &q[x]);
				kf_err_wrap(err, "prune %s", label);
			} else {
				json_array_append_new(pruned, json_string(label));
				json_object_del(r->state, m->key);
				r->res->pruned++;
			}
			free(label);
		}
		for (size_t x = 0; x < nq; x++)
			kf_kube_req_release(&q[x]);
		free(q);
		free(qp);
		progress(r, "prune", r->res->pruned, n, NULL);
		i = j;
	}
	json_object_set_new(r->res->report, "prunedObjects", pruned);
	return rc;
}

/* ---- health --------------------------------------------------------- */

static size_t list_of(const struct run *r, const struct kf_obj *o)
{
	for (size_t l = 0; l < r->nlists; l++)
		if (!strcmp(r->lists[l].rest->group, o->group) && !strcmp(r->lists[l].rest->kind, o->kind))
			return l;
	return (size_t)-1;
}

/* The listed object for o: a hash lookup in an index of the list built
 * once per LIST (a scan of the list per object was O(n^2) per poll). */
static const json_t *find_live(struct run *r, size_t l, const struct kf_obj *o)
{
	struct gk_list *gl = &r->lists[l];
	char *key = obj_key(o->group, o->kind, o->ns, o->name);
	const json_t *live;

	if (!gl->index) {
		json_t *it;
		size_t j;

		gl->index = json_object();
		json_array_foreach(gl->items, j, it) {
			char *lk;

			if (!sget(it, "kind")) {
				json_object_set_new(it, "kind", json_string(gl->rest->kind));
				json_object_set_new(it, "apiVersion", gl->rest->group[0]
					? json_sprintf("%s/%s", gl->rest->group, gl->rest->version)
					: json_string(gl->rest->version));
			}
			lk = live_key(it);
			if (lk && !json_object_get(gl->index, lk)) /* the first wins */
				json_object_set(gl->index, lk, it);
			free(lk);
		}
	}
	live = json_object_get(gl->index, key);
	free(key);
	return live;
}

/*
 * Poll until every applied object is healthy: one full LIST per kind per
 * poll, and a kind whose objects are all ready is not listed again (an
 * object that became ready stays counted as ready).
 */
static int wait_health(struct run *r, struct kf_err **err)
{
	struct kf_backoff bo = KF_BACKOFF_INIT(0.5, 3.0);
	bool *ok = kf_xcalloc(r->set->n + 1, sizeof(*ok));
	size_t *unready = kf_xcalloc(r->nlists + 1, sizeof(*unready));
	json_t *not_ready = NULL;
	int rc = 0;

	for (size_t l = 0; l < r->nlists; l++)
		r->lists[l].settled = false;
	for (;;) {
		size_t ready = 0, total = 0;
		char *detail = NULL;

		rc = list_all(r, false, err);
		if (rc)
			break;
		json_decref(not_ready);
		not_ready = json_array();
		memset(unready, 0, (r->nlists + 1) * sizeof(*unready));
		for (size_t i = 0; i < r->set->n; i++) {
			struct kf_obj *o = &r->set->v[i];
			size_t l = list_of(r, o);
			const json_t *live;
			const char *why = "not found";
			enum kf_health h = KF_HEALTH_PROGRESSING;

			if (o->state == KF_OBJ_FAILED)
				continue;
			total++;
			if (ok[i]) {
				ready++;
				continue;
			}
			live = l != (size_t)-1 ? find_live(r, l, o) : NULL;
			if (live)
				h = kf_health_of(live, &why);
			if (h == KF_HEALTH_READY) {
				ok[i] = true;
				ready++;
			} else {
				char *label = kf_obj_label(o);

				if (l != (size_t)-1)
					unready[l]++;
				json_array_append_new(not_ready, json_pack("{s:s, s:s, s:b}", "object", label, "why", why ? why : "",
									   "failed", h == KF_HEALTH_FAILED));
				if (!detail)
					detail = kf_xasprintf("waiting for %s%s%s (%s)", o->ns ? o->ns : "", o->ns ? "/" : "", o->name,
							      why ? why : "not ready");
				free(label);
			}
		}
		for (size_t l = 0; l < r->nlists; l++)
			r->lists[l].settled = !unready[l];
		r->res->ready = ready;
		r->res->not_ready = total - ready;
		progress(r, "wait", ready, total, detail);
		free(detail);
		if (ready >= total)
			break;
		if (kf_now() > r->deadline) {
			rc = kf_err_set(err, KF_ETIMEOUT, "%zu of %zu objects not ready before the deadline", total - ready, total);
			break;
		}
		kf_sleep(kf_backoff_next(&bo) + 0.5);
		if (kf_interrupted()) {
			rc = kf_err_set(err, KF_ECANCEL, "interrupted");
			break;
		}
	}
	for (size_t l = 0; l < r->nlists; l++)
		r->lists[l].settled = false;
	if (not_ready)
		json_object_set_new(r->res->report, "notReady", not_ready);
	free(ok);
	free(unready);
	return rc;
}

/* ---- the run -------------------------------------------------------- */

static void run_release(struct run *r)
{
	for (size_t i = 0; i < r->nlists; i++) {
		json_decref(r->lists[i].items);
		json_decref(r->lists[i].index);
	}
	free(r->lists);
	for (size_t i = 0; i < r->nmembers; i++)
		free(r->members[i].key);
	free(r->members);
	json_decref(r->state);
	json_decref(r->state0);
	json_decref(r->ns_names);
	free(r->inv_ns);
	free(r->inv_name);
	free(r->id);
	free(r->gks_old);
	free(r->nss_old);
	free(r->pruned);
}

static void prepare_objects(struct run *r)
{
	for (size_t i = 0; i < r->set->n; i++) {
		struct kf_obj *o = &r->set->v[i];
		json_t *md = json_object_get(o->obj, "metadata");
		json_t *labels = json_object_get(md, "labels");
		json_t *ann;

		if (!json_is_object(labels)) {
			labels = json_object();
			json_object_set_new(md, "labels", labels);
		}
		json_object_set_new(labels, KF_APPLYSET_PART_OF, json_string(r->id));
		kf_obj_hash(o);
		ann = json_object_get(md, "annotations");
		if (!json_is_object(ann)) {
			ann = json_object();
			json_object_set_new(md, "annotations", ann);
		}
		json_object_set_new(ann, KF_ANN_HASH, json_string(o->hash));
		o->state = KF_OBJ_PENDING;
	}
}

static void *prepare_thread(void *arg)
{
	prepare_objects(arg);
	return NULL;
}

static void mark_unchanged(struct run *r)
{
	for (size_t i = 0; i < r->set->n; i++) {
		struct kf_obj *o = &r->set->v[i];
		char *key = obj_key(o->group, o->kind, o->ns, o->name);
		struct member *m = find_member(r, key);
		const json_t *rec = json_object_get(r->state, key);

		if (m) {
			m->desired = true;
			if (kf_obj_unchanged(o, m->live, sget(rec, "rv"),
					     json_is_integer(json_object_get(rec, "gen")) ? (long)json_integer_value(json_object_get(rec, "gen")) : 0,
					     sget(rec, "mf"))) {
				o->state = KF_OBJ_UNCHANGED;
				o->skipped = true;
			}
		}
		free(key);
	}
}

static void fill_report(struct run *r)
{
	json_t *failed = json_array();

	for (size_t i = 0; i < r->set->n; i++) {
		struct kf_obj *o = &r->set->v[i];

		switch (o->state) {
		case KF_OBJ_APPLIED:
			r->res->applied++;
			break;
		case KF_OBJ_UNCHANGED:
			if (o->why && kf_str_startswith(o->why, "not checked"))
				r->res->unchecked++;
			else
				r->res->unchanged++;
			break;
		default: {
			char *label = kf_obj_label(o);
			char *where = kf_xasprintf("%s:%d:%d", o->file, o->line, o->col);

			r->res->failed++;
			json_array_append_new(failed, json_pack("{s:s, s:s, s:s}", "object", label, "source", where,
								"error", o->why ? o->why : "not applied"));
			free(label);
			free(where);
		}
		}
	}
	json_object_set_new(r->res->report, "failedObjects", failed);
}

int kf_apply_run(struct kf_apply_result *out, struct kf_kube *k,
		 struct kf_discovery *d, struct kf_objset *set,
		 const struct kf_apply_opts *opts, struct kf_err **err)
{
	struct run r = { 0 };
	struct member **cands = NULL;
	size_t ncands = 0;
	bool applying = false, prepping = false;
	pthread_t prep;
	int rc;

	memset(out, 0, sizeof(*out));
	out->report = json_object();
	r.k = k;
	r.d = d;
	r.set = set;
	r.o = opts;
	r.res = out;
	r.start = kf_now();
	r.deadline = r.start + (opts->timeout > 0 ? opts->timeout : 600);
	out->total = set->n;

	if (opts->prune && !opts->inventory) {
		rc = kf_err_set(err, KF_EUSAGE, "--prune needs --inventory NAME");
		goto out;
	}
	rc = parse_inventory(&r, err);
	if (rc)
		goto out;
	kf_objset_sort(set);
	prepping = pthread_create(&prep, NULL, prepare_thread, &r) == 0;
	if (!prepping)
		prepare_objects(&r);

	/* 1-2: inventory and live state. */
	progress(&r, "inventory", 0, 0, NULL);
	rc = read_parent(&r, err);
	if (!rc && r.parent_exists) {
		plan_lists(&r);
		rc = list_all(&r, true, err);
	}
	if (prepping)
		pthread_join(prep, NULL);
	prepping = false;
	if (rc)
		goto out;
	if (r.parent_exists) {
		collect_members(&r);
		mark_unchanged(&r);
	}
	if (opts->prune) {
		ncands = prune_candidates(&r, &cands);
		if (ncands && ncands * 2 > r.nmembers && !opts->force_prune) {
			rc = kf_err_set(err, KF_EINVAL,
					"prune would delete %zu of the %zu objects in inventory %s/%s; refusing (pass --force-prune if this is intended)",
					ncands, r.nmembers, r.inv_ns, r.inv_name);
			goto out;
		}
	}

	if (opts->plan_only) {
		json_t *would = json_array();

		for (size_t i = 0; i < set->n; i++) {
			if (set->v[i].state == KF_OBJ_UNCHANGED) {
				out->unchanged++;
			} else {
				char *label = kf_obj_label(&set->v[i]);

				out->to_apply++;
				json_array_append_new(would, json_string(label));
				free(label);
			}
		}
		json_object_set_new(out->report, "toApply", would);
		would = json_array();
		for (size_t i = 0; i < ncands; i++) {
			char *label = member_label(cands[i]);

			json_array_append_new(would, json_string(label));
			free(label);
		}
		json_object_set_new(out->report, "toPrune", would);
		goto out;
	}

	/* Discovery read from the disk cache decides nothing that is sent:
	 * before the first write (or dry run) ask the server and check that
	 * every kind is still served with the scope it was resolved with. */
	if (kf_discovery_cached(d)) {
		bool sends = !r.parent_exists || ncands;

		for (size_t i = 0; i < set->n && !sends; i++)
			sends = set->v[i].state != KF_OBJ_UNCHANGED;
		if (sends) {
			rc = kf_discovery_refresh(d, k, err);
			if (!rc)
				rc = kf_objset_check_mapping(set, d, err);
			if (rc) {
				kf_err_wrap(err, "nothing was sent");
				goto out;
			}
		}
	}

	/* The parent first, with the union of old and new kinds. */
	if (!opts->dry_run) {
		char *gks_new = kf_applyset_group_kinds(set);
		char *gks = csv_union(r.gks_old, gks_new);
		char *nss_new = namespaces_csv(&r);
		char *nss = csv_union(r.nss_old, nss_new);
		bool need = !r.parent_exists || strcmp(gks, r.gks_old ? r.gks_old : "") ||
			    strcmp(nss, r.nss_old ? r.nss_old : "");
		long st = 0;

		/* Intent: every object about to be applied is in the record
		 * before it is applied (an entry without a version). */
		for (size_t i = 0; i < set->n; i++) {
			const struct kf_obj *o = &set->v[i];
			char *key;

			if (o->state == KF_OBJ_UNCHANGED)
				continue;
			key = obj_key(o->group, o->kind, o->ns, o->name);
			if (!json_object_get(r.state, key)) {
				json_object_set_new(r.state, key, json_object());
				need = true;
			}
			free(key);
		}
		if (need) {
			rc = write_parent(&r, gks, nss, true, &st, err);
			if (rc && st == 404) {
				/* Its namespace may come with the set. */
				kf_err_clear(err);
				r.parent_deferred = true;
				rc = 0;
			}
		}
		free(gks_new);
		free(gks);
		free(nss_new);
		free(nss);
		if (rc)
			goto out;
	}

	/* 3: waves. */
	applying = true;
	for (size_t i = 0; i < set->n && !rc;) {
		size_t j = i;

		while (j < set->n && set->v[j].order == set->v[i].order)
			j++;
		rc = apply_wave(&r, i, j, err);
		i = j;
	}
	if (rc)
		goto out;
	fill_report(&r);

	/* 4: prune (only when everything applied). */
	if (opts->prune && ncands) {
		if (out->failed) {
			kf_warn("not pruning: %zu object(s) failed to apply", out->failed);
		} else {
			rc = prune(&r, cands, ncands, err);
			if (rc)
				goto out;
		}
	}

	/* 6 (before the wait, so that a timeout still records what was applied). */
	if (!opts->dry_run) {
		bool changed = !json_equal(r.state, r.state0) || r.parent_deferred;
		char *gks = NULL, *nss = NULL;
		long st = 0;

		if (opts->prune && !out->failed) {
			gks = kf_applyset_group_kinds(set);
			nss = namespaces_csv(&r);
		} else {
			char *a = kf_applyset_group_kinds(set), *b = namespaces_csv(&r);

			gks = csv_union(r.gks_old, a);
			nss = csv_union(r.nss_old, b);
			free(a);
			free(b);
		}
		changed = changed || strcmp(gks, r.gks_old ? r.gks_old : "") || strcmp(nss, r.nss_old ? r.nss_old : "");
		if (changed)
			rc = write_parent(&r, gks, nss, true, &st, err);
		free(gks);
		free(nss);
		if (rc && !opts->inventory) {
			/* The default inventory only saves work next time. */
			char *m = err ? kf_err_str(*err) : kf_xstrdup("unknown error");

			kf_warn("could not record the inventory (%s); the next apply will send everything again", m);
			free(m);
			kf_err_clear(err);
			rc = 0;
		}
		if (rc)
			goto out;
	}

	/* 5: health. */
	if (opts->wait && !opts->dry_run && !out->failed) {
		if (!r.nlists) {
			plan_lists(&r);
		}
		rc = wait_health(&r, err);
		if (rc)
			goto out;
	}
	if (out->failed)
		rc = kf_err_set(err, KF_ERR, "%zu of %zu objects failed to apply", out->failed, out->total);
out:
	if (applying && !json_object_get(out->report, "failedObjects"))
		fill_report(&r);
	out->elapsed = kf_now() - r.start;
	free(cands);
	run_release(&r);
	return rc;
}

int kf_apply_delete_inventory(struct kf_apply_result *out, struct kf_kube *k,
			      struct kf_discovery *d,
			      const struct kf_apply_opts *opts,
			      struct kf_err **err)
{
	struct kf_objset empty = KF_OBJSET_INIT;
	struct run r = { 0 };
	struct member **cands = NULL;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	out->report = json_object();
	r.k = k;
	r.d = d;
	r.set = &empty;
	r.o = opts;
	r.res = out;
	r.start = kf_now();
	r.deadline = r.start + (opts->timeout > 0 ? opts->timeout : 600);
	if (!opts->inventory) {
		rc = kf_err_set(err, KF_EUSAGE, "delete needs --inventory NAME");
		goto out;
	}
	rc = parse_inventory(&r, err);
	if (!rc)
		rc = read_parent(&r, err);
	if (rc)
		goto out;
	if (!r.parent_exists) {
		rc = kf_err_set(err, KF_ENOENT, "inventory %s/%s does not exist", r.inv_ns, r.inv_name);
		goto out;
	}
	plan_lists(&r);
	rc = list_all(&r, true, err);
	if (rc)
		goto out;
	collect_members(&r);
	n = prune_candidates(&r, &cands);
	rc = prune(&r, cands, n, err);
	if (rc || opts->dry_run)
		goto out;
	{
		struct kf_kube_req q, *qp = &q;

		kf_kube_req_init(&q, "DELETE", parent_path(&r));
		rc = kf_kube_run(k, &qp, 1, err);
		if (!rc && (q.err || ((q.status < 200 || q.status > 299) && q.status != 404)))
			rc = kf_kube_req_error(err, &q);
		kf_kube_req_release(&q);
		if (!rc)
			delete_parts(&r, 1, r.parts_old);
	}
out:
	out->elapsed = kf_now() - r.start;
	free(cands);
	run_release(&r);
	return rc;
}

void kf_apply_result_release(struct kf_apply_result *r)
{
	json_decref(r->report);
	r->report = NULL;
}
