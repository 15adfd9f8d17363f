/*
 * waits.c - waiting until every applied object is healthy: one LIST per
 * kind per poll (kept as one verdict per object), lookups by index, kinds
 * that are all ready not listed again, and a report of what is still not
 * ready at the deadline.
 */
#include "apply_int.h"

static size_t list_of(const struct run *r, const struct kf_obj *o)
{
	for (size_t l = 0; l < r->nlists; l++)
		if (!strcmp(r->lists[l].rest->group, o->group) && !strcmp(r->lists[l].rest->kind, o->kind))
			return l;
	return (size_t)-1;
}

/* The verdict on o's listed object ([health, why?]), or NULL when it was
 * not listed: a hash lookup in the index kf_ap_list_all built from the
 * LIST (a scan of the list per object was O(n^2) per poll). */
static const json_t *find_verdict(struct run *r, size_t l, const struct kf_obj *o)
{
	char *key = kf_ap_obj_key(o->group, o->kind, o->ns, o->name);
	const json_t *v = json_object_get(r->lists[l].index, key);

	free(key);
	return v;
}

/*
 * Poll until every applied object is healthy: one full LIST per kind per
 * poll, and a kind whose objects are all ready is not listed again (an
 * object that became ready stays counted as ready).
 */
int kf_ap_wait_health(struct run *r, struct kf_err **err)
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

		rc = kf_ap_list_all(r, false, err);
		if (rc)
			break;
		json_decref(not_ready);
		not_ready = json_array();
		memset(unready, 0, (r->nlists + 1) * sizeof(*unready));
		for (size_t i = 0; i < r->set->n; i++) {
			struct kf_obj *o = &r->set->v[i];
			size_t l = list_of(r, o);
			const json_t *v;
			const char *why = "not found";
			enum kf_health h = KF_HEALTH_PROGRESSING;

			if (o->state == KF_OBJ_FAILED || o->hands_off)
				continue;
			total++;
			if (ok[i]) {
				ready++;
				continue;
			}
			v = l != (size_t)-1 ? find_verdict(r, l, o) : NULL;
			if (v) {
				h = (enum kf_health)json_integer_value(json_array_get(v, 0));
				why = json_string_value(json_array_get(v, 1));
			}
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
		kf_ap_progress(r, "wait", ready, total, detail);
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
