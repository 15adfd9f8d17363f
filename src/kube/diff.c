/*
 * diff.c - what would apply change? Live object vs the server's dry-run
 * result of applying the desired one, both stripped of fields the server
 * sets (status, managedFields, resourceVersion, ...), as YAML, as a unified
 * diff - the way `kubectl diff` works, without an external diff program.
 *
 * The line diff trims the common head and tail and runs an LCS table on
 * the middle (manifests differ in a few places); a middle too large for
 * the table is shown as replaced wholesale, which is still a correct diff.
 *
 * Secret values never reach the output: kf_diff_mask_secrets() replaces
 * them (data and stringData) before either side is turned into text, with
 * kubectl's markers, so a diff still says which keys changed.
 */
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "yaml/yaml.h"

#define MAX_CELLS (16u * 1024 * 1024)

void kf_diff_normalize(json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	json_t *ann = json_object_get(md, "annotations");
	json_t *lab = json_object_get(md, "labels");
	static const char *const drop[] = { "managedFields", "uid", "resourceVersion", "generation",
					    "creationTimestamp", "selfLink", "deletionTimestamp",
					    "deletionGracePeriodSeconds" };

	json_object_del(obj, "status");
	for (size_t i = 0; i < KF_ARRAY_SIZE(drop); i++)
		json_object_del(md, drop[i]);
	json_object_del(ann, "kubectl.kubernetes.io/last-applied-configuration");
	json_object_del(ann, "deployment.kubernetes.io/revision");
	json_object_del(ann, KF_ANN_HASH);
	json_object_del(lab, KF_APPLYSET_PART_OF);
	if (ann && json_object_size(ann) == 0)
		json_object_del(md, "annotations");
	if (lab && json_object_size(lab) == 0)
		json_object_del(md, "labels");
}

static bool is_secret(const json_t *o)
{
	const char *kind = json_string_value(json_object_get(o, "kind"));
	const char *av = json_string_value(json_object_get(o, "apiVersion"));

	return kind && av && !strcmp(kind, "Secret") && !strcmp(av, "v1");
}

static void mask_field(json_t *a, json_t *b)
{
	const char *k;
	json_t *v;
	void *tmp;

	if (!json_is_object(a))
		a = NULL;
	if (!json_is_object(b))
		b = NULL;
	json_object_foreach_safe(a, tmp, k, v) {
		json_t *w = b ? json_object_get(b, k) : NULL;

		if (w && !json_equal(v, w)) {
			json_object_set_new(a, k, json_string("*** (before)"));
			json_object_set_new(b, k, json_string("*** (after)"));
			continue;
		}
		if (w)
			json_object_set_new(b, k, json_string("***"));
		json_object_set_new(a, k, json_string("***"));
	}
	json_object_foreach_safe(b, tmp, k, v) {
		if (!a || !json_object_get(a, k))
			json_object_set_new(b, k, json_string("***"));
	}
}

void kf_diff_mask_secrets(json_t *before, json_t *after)
{
	static const char *const fields[] = { "data", "stringData" };

	if (before && !is_secret(before))
		before = NULL;
	if (after && !is_secret(after))
		after = NULL;
	for (size_t i = 0; i < KF_ARRAY_SIZE(fields); i++)
		mask_field(json_object_get(before, fields[i]), json_object_get(after, fields[i]));
}

struct lines {
	const char **p;
	size_t *len;
	size_t n;
};

static void split(struct lines *l, const char *s)
{
	size_t alloc = 0, alloc2 = 0;

	l->p = NULL;
	l->len = NULL;
	l->n = 0;
	while (s && *s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);

		kf_xgrow((void **)&l->p, &alloc, l->n + 1, sizeof(*l->p));
		kf_xgrow((void **)&l->len, &alloc2, l->n + 1, sizeof(*l->len));
		l->p[l->n] = s;
		l->len[l->n] = len;
		l->n++;
		s = nl ? nl + 1 : s + len;
	}
}

static bool leq(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->len[i] == b->len[j] && !memcmp(a->p[i], b->p[j], a->len[i]);
}

/* ops: ' ' keep (a and b), '-' only a, '+' only b. */
static char *edit_script(const struct lines *a, const struct lines *b, size_t *nops)
{
	size_t pre = 0, suf = 0, n, m, o = 0;
	char *ops = kf_xmalloc(a->n + b->n + 1);

	while (pre < a->n && pre < b->n && leq(a, pre, b, pre))
		pre++;
	while (suf < a->n - pre && suf < b->n - pre && leq(a, a->n - 1 - suf, b, b->n - 1 - suf))
		suf++;
	n = a->n - pre - suf;
	m = b->n - pre - suf;
	memset(ops, ' ', pre);
	o = pre;
	if ((n + 1) * (m + 1) <= MAX_CELLS && n && m) {
		unsigned *t = kf_xcalloc((n + 1) * (m + 1), sizeof(*t));
		size_t i, j;

#define T(i, j) t[(i) * (m + 1) + (j)]
		for (i = n; i-- > 0;)
			for (j = m; j-- > 0;)
				T(i, j) = leq(a, pre + i, b, pre + j) ? T(i + 1, j + 1) + 1
					  : T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1);
		i = j = 0;
		while (i < n || j < m) {
			if (i < n && j < m && leq(a, pre + i, b, pre + j)) {
				ops[o++] = ' ';
				i++;
				j++;
			} else if (i < n && (j == m || T(i + 1, j) >= T(i, j + 1))) {
				ops[o++] = '-';
				i++;
			} else {
				ops[o++] = '+';
				j++;
			}
		}
#undef T
		free(t);
	} else {
		memset(ops + o, '-', n);
		o += n;
		memset(ops + o, '+', m);
		o += m;
	}
	memset(ops + o, ' ', suf);
	o += suf;
	*nops = o;
	return ops;
}

bool kf_diff_text(struct kf_buf *out, const char *a_name, const char *a,
		  const char *b_name, const char *b)
{
	struct lines la, lb;
	size_t nops, k = 0;
	char *ops;
	bool any = false;
	size_t *ai, *bi; /* line index in a/b before op k */

	split(&la, a);
	split(&lb, b);
	ops = edit_script(&la, &lb, &nops);
	ai = kf_xcalloc(nops + 1, sizeof(*ai));
	bi = kf_xcalloc(nops + 1, sizeof(*bi));
	for (size_t x = 0, i = 0, j = 0; x <= nops; x++) {
		ai[x] = i;
		bi[x] = j;
		if (x < nops) {
			i += ops[x] != '+';
			j += ops[x] != '-';
		}
	}
	while (k < nops) {
		size_t start, end, last_change;

		while (k < nops && ops[k] == ' ')
			k++;
		if (k >= nops)
			break;
		start = k > 3 ? k - 3 : 0;
		/* Extend while changes are within 6 context lines of each other. */
		last_change = k;
		end = k;
		while (end < nops) {
			if (ops[end] != ' ')
				last_change = end;
			else if (end - last_change > 6)
				break;
			end++;
		}
		end = last_change + 4 < nops ? last_change + 4 : nops;
		if (!any) {
			kf_buf_addf(out, "--- %s\n+++ %s\n", a_name, b_name);
			any = true;
		}
		{
			size_t acount = ai[end] - ai[start], bcount = bi[end] - bi[start];

			kf_buf_addf(out, "@@ -%zu,%zu +%zu,%zu @@\n", acount ? ai[start] + 1 : ai[start], acount,
				    bcount ? bi[start] + 1 : bi[start], bcount);
		}
		for (size_t x = start; x < end; x++) {
			if (ops[x] == '+')
				kf_buf_addf(out, "+%.*s\n", (int)lb.len[bi[x]], lb.p[bi[x]]);
			else
				kf_buf_addf(out, "%c%.*s\n", ops[x], (int)la.len[ai[x]], la.p[ai[x]]);
		}
		k = end;
	}
	free(ai);
	free(bi);
	free(ops);
	free(la.p);
	free(la.len);
	free(lb.p);
	free(lb.len);
	return any;
}

static char *to_yaml(json_t *v)
{
	struct kf_buf b = KF_BUF_INIT;

	if (!v)
		return kf_xstrdup("");
	if (kf_yaml_emit(&b, v, false, NULL) < 0) {
		char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

		kf_buf_release(&b);
		return s;
	}
	return kf_buf_detach(&b, NULL);
}

static int diff_run(struct kf_buf *out, size_t *ndiff, struct kf_kube *k,
		    struct kf_discovery *d, struct kf_objset *set,
		    bool force_conflicts, bool skip_unchanged, struct kf_err **err);

int kf_diff_run(struct kf_buf *out, size_t *ndiff, struct kf_kube *k,
		struct kf_discovery *d, struct kf_objset *set,
		bool force_conflicts, struct kf_err **err)
{
	return diff_run(out, ndiff, k, d, set, force_conflicts, false, err);
}

int kf_diff_run_changed(struct kf_buf *out, size_t *ndiff, struct kf_kube *k,
			struct kf_discovery *d, struct kf_objset *set,
			bool force_conflicts, struct kf_err **err)
{
	return diff_run(out, ndiff, k, d, set, force_conflicts, true, err);
}

static int diff_run(struct kf_buf *out, size_t *ndiff, struct kf_kube *k,
		    struct kf_discovery *d, struct kf_objset *set,
		    bool force_conflicts, bool skip_unchanged, struct kf_err **err)
{
	size_t n = set->n;
	struct kf_kube_req *q = kf_xcalloc(2 * n + 1, sizeof(*q));
	struct kf_kube_req **qp = kf_xcalloc(2 * n + 1, sizeof(*qp));
	size_t nq = 0;
	int rc;

	*ndiff = 0;
	for (size_t i = 0; i < n; i++) {
		const struct kf_obj *o = &set->v[i];
		const struct kf_rest *rest = kf_discovery_find(d, o->group, o->version, o->kind);
		char *path, *body;

		if (skip_unchanged && o->state == KF_OBJ_UNCHANGED)
			continue;
		if (!rest)
			continue; /* a CR whose CRD is not installed: shown as new below */
		path = kf_rest_path(rest, o->ns, o->name);
		kf_kube_req_init(&q[nq], "GET", kf_xstrdup(path));
		q[nq].user = (void *)o;
		qp[nq] = &q[nq];
		nq++;
		kf_kube_req_init(&q[nq], "PATCH", kf_xasprintf("%s?fieldManager=kfboot&dryRun=All&force=%s", path,
							       force_conflicts ? "true" : "false"));
		body = json_dumps(o->obj, JSON_COMPACT);
		kf_kube_req_body(&q[nq], body, strlen(body), "application/apply-patch+yaml");
		q[nq].user = (void *)o;
		qp[nq] = &q[nq];
		nq++;
		free(path);
	}
	rc = kf_kube_run(k, qp, nq, err);
	for (size_t i = 0; !rc && i < n; i++) {
		const struct kf_obj *o = &set->v[i];
		struct kf_kube_req *get = NULL, *patch = NULL;
		json_t *live = NULL, *merged = NULL;
		char *a, *b, *label, *an, *bn;

		if (skip_unchanged && o->state == KF_OBJ_UNCHANGED)
			continue;

		for (size_t x = 0; x + 1 < nq; x += 2)
			if (q[x].user == o) {
				get = &q[x];
				patch = &q[x + 1];
			}
		if (get) {
			if (!get->err && get->status == 200)
				live = json_loadb(get->resp.buf, get->resp.len, 0, NULL);
			else if (get->err || get->status != 404)
				rc = kf_kube_req_error(err, get);
			if (!rc && !live && patch->status == 404 && !patch->err)
				merged = json_deep_copy(o->obj); /* its namespace is new too */
			else if (!rc && (patch->err || patch->status < 200 || patch->status > 299))
				rc = kf_kube_req_error(err, patch);
			else if (!rc)
				merged = json_loadb(patch->resp.buf, patch->resp.len, 0, NULL);
		} else {
			merged = json_deep_copy(o->obj);
		}
		if (rc) {
			label = kf_obj_label(o);
			kf_err_wrap(err, "%s", label);
			free(label);
			json_decref(live);
			break;
		}
		if (live)
			kf_diff_normalize(live);
		if (merged)
			kf_diff_normalize(merged);
		kf_diff_mask_secrets(live, merged);
		a = to_yaml(live);
		b = to_yaml(merged);
		label = o->ns ? kf_xasprintf("%s%s%s.%s.%s.%s", o->group, o->group[0] ? "." : "", o->version, o->kind, o->ns, o->name)
			      : kf_xasprintf("%s%s%s.%s.%s", o->group, o->group[0] ? "." : "", o->version, o->kind, o->name);
		an = kf_xasprintf("live/%s", label);
		bn = kf_xasprintf("merged/%s", label);
		if (kf_diff_text(out, live ? an : "/dev/null", a, bn, b))
			(*ndiff)++;
		free(a);
		free(b);
		free(an);
		free(bn);
		free(label);
		json_decref(live);
		json_decref(merged);
	}
	for (size_t x = 0; x < nq; x++)
		kf_kube_req_release(&q[x]);
	free(q);
	free(qp);
	if (rc)
		kf_err_wrap(err, "diff");
	return rc;
}
