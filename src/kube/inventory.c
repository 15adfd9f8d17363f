/*
 * inventory.c - the ApplySet parent Secret and kfboot's record in it: which
 * inventory a run uses, reading the parent and the recorded state (deflated
 * JSON split into parts of at most 512 KiB, part 0 in the parent, the rest
 * in "<parent>-state-<i>" Secrets, checked by a SHA-256 the parent names),
 * and writing them back (parts first, then the parent) with kubectl's
 * ApplySet labels and annotations.
 */
#include "apply_int.h"

int kf_ap_parse_inventory(struct run *r, struct kf_err **err)
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

char *kf_ap_parent_path(const struct run *r)
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

/* A digest of the state's canonical JSON (sorted keys, compact): equal
 * digests, equal states (a digest instead of a copy of the state as read:
 * thousands of entries). */
void kf_ap_state_digest(const json_t *state, char out[65])
{
	char *js = json_dumps(state, JSON_SORT_KEYS | JSON_COMPACT);

	kf_sha256_hex(js ? js : "", js ? strlen(js) : 0, out);
	free(js);
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
	const char *b64 = kf_ap_sget(json_object_get(secret, "data"), key);
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
	const char *parts = kf_ap_sget(ann, ANN_PARTS), *sha = kf_ap_sget(ann, ANN_SHA);
	const char *legacy = kf_ap_sget(json_object_get(parent, "data"), STATE_KEY);
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

int kf_ap_read_parent(struct run *r, struct kf_err **err)
{
	char *path = kf_ap_parent_path(r);
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
	id = kf_ap_sget(json_object_get(md, "labels"), KF_APPLYSET_ID_LABEL);
	tool = kf_ap_sget(ann, KF_APPLYSET_TOOLING);
	if (!id || strcmp(id, r->id)) {
		rc = kf_err_set(err, KF_ECONFLICT, "inventory %s/%s: Secret exists but is not an ApplySet parent with id %s",
				r->inv_ns, r->inv_name, r->id);
		goto out;
	}
	if (tool && !kf_str_startswith(tool, "kfboot/")) {
		rc = kf_err_set(err, KF_ECONFLICT, "inventory %s/%s is managed by '%s', not kfboot", r->inv_ns, r->inv_name, tool);
		goto out;
	}
	r->gks_old = kf_xstrdup(kf_ap_sget(ann, KF_APPLYSET_GKS) ? kf_ap_sget(ann, KF_APPLYSET_GKS) : "");
	r->nss_old = kf_xstrdup(kf_ap_sget(ann, KF_APPLYSET_NSS) ? kf_ap_sget(ann, KF_APPLYSET_NSS) : "");
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
	kf_ap_state_digest(r->state, r->state0);
	json_decref(p);
	return rc;
}

char *kf_ap_csv_union(const char *a, const char *b)
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
		qsort(v, n, sizeof(*v), kf_ap_cmp_str);
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

char *kf_ap_namespaces_csv(const struct run *r)
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
	out = kf_ap_csv_union(b.buf, "");
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
void kf_ap_delete_parts(struct run *r, size_t from, size_t to)
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

int kf_ap_write_parent(struct run *r, const char *gks, const char *nss,
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
		char *pp = kf_ap_parent_path(r);

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
			kf_ap_delete_parts(r, nparts, r->parts_old);
			r->parts_old = nparts;
		}
	}
	return rc;
}
