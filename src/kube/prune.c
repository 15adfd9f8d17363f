/*
 * prune.c - deleting the members of an inventory that left the set, in
 * reverse apply order, with uid preconditions; never an object without the
 * part-of label, never one annotated kfboot.io/prune: disabled, never one
 * that is hands off (handsoff.c), and never more than half of the
 * inventory unless forced.
 */
#include "apply_int.h"

static int cmp_member_rev(const void *pa, const void *pb)
{
	const struct member *a = *(struct member *const *)pa, *b = *(struct member *const *)pb;

	if (a->rank != b->rank)
		return a->rank > b->rank ? -1 : 1;
	return strcmp(a->key, b->key);
}

/* "Kind.group ns/name" of a listed member, like kf_obj_label. */
static bool prune_disabled(const struct member *m)
{
	json_t *live = kf_ap_member_live(m);
	const char *v = kf_ap_sget(json_object_get(json_object_get(live, "metadata"), "annotations"), KF_ANN_PRUNE);
	bool off = v && !strcmp(v, "disabled");

	json_decref(live);
	return off;
}

/* Members not in the desired set, in reverse apply order. */
size_t kf_ap_prune_candidates(struct run *r, struct member ***out)
{
	struct member **v = kf_xcalloc(r->nmembers + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < r->nmembers; i++) {
		struct member *m = &r->members[i];

		json_t *live;
		bool off;

		if (m->desired)
			continue;
		live = kf_ap_member_live(m);
		off = kf_ap_hands_off(r, live);
		json_decref(live);
		if (off) {
			kf_ap_hands_off_note(r, m);
			r->kept_undesired = true;
			continue;
		}
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

int kf_ap_prune(struct run *r, struct member **c, size_t n, struct kf_err **err)
{
	json_t *pruned = json_array();
	size_t i = 0;
	int rc = 0;

	kf_ap_progress(r, "prune", 0, n, NULL);
	while (i < n && !rc) {
		/* One batch per rank: webhooks, custom resources, ..., CRDs, Namespaces. */
		size_t j = i, nq = 0;
		struct kf_kube_req *q = kf_xcalloc(n + 1, sizeof(*q));
		struct kf_kube_req **qp = kf_xcalloc(n + 1, sizeof(*qp));

		while (j < n && c[j]->rank == c[i]->rank)
			j++;
		for (size_t x = i; x < j; x++) {
			json_t *live = kf_ap_member_live(c[x]);
			const json_t *md = json_object_get(live, "metadata");
			char *path = kf_rest_path(c[x]->rest, kf_ap_sget(md, "namespace"), kf_ap_sget(md, "name"));
			const char *uid = kf_ap_sget(md, "uid");

			kf_kube_req_init(&q[nq], "DELETE", kf_xasprintf("%s?propagationPolicy=Background%s", path,
								       r->o->dry_run ? "&dryRun=All" : ""));
			free(path);
			if (uid) {
				/* Preconditions: delete exactly the object we listed. */
				char *b = kf_xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"preconditions\":{\"uid\":\"%s\"}}", uid);

				kf_kube_req_body(&q[nq], b, strlen(b), "application/json");
			}
			json_decref(live);
			q[nq].user = c[x];
			qp[nq] = &q[nq];
			nq++;
		}
		rc = kf_kube_run(r->k, qp, nq, err);
		for (size_t x = 0; !rc && x < nq; x++) {
			struct member *m = q[x].user;
			char *label = kf_ap_member_label(m);

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
		kf_ap_progress(r, "prune", r->res->pruned, n, NULL);
		i = j;
	}
	json_object_set_new(r->res->report, "prunedObjects", pruned);
	return rc;
}
