/*
 * stages.c - applying one ordering wave: prerequisites, built-in kinds,
 * custom resources as soon as their own CRD is Established, webhook
 * configurations last; each stage a parallel batch of server-side apply
 * requests, failures classified (retry, webhook not ready, fail), webhook
 * refusals retried with backoff to the deadline.
 */
#include "apply_int.h"

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
		const char *t = kf_ap_sget(c, "reason") ? kf_ap_sget(c, "reason") : kf_ap_sget(c, "type");

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
		if (kf_ap_sget(spec, "group") && !strcmp(kf_ap_sget(spec, "group"), o->group) && kf_ap_sget(names, "kind") &&
		    !strcmp(kf_ap_sget(names, "kind"), o->kind) && kf_ap_sget(names, "plural")) {
			kf_discovery_add(r->d, o->group, o->version, o->kind, kf_ap_sget(names, "plural"),
					 !kf_ap_sget(spec, "scope") || !strcmp(kf_ap_sget(spec, "scope"), "Namespaced"));
			return kf_discovery_find(r->d, o->group, o->version, o->kind);
		}
	}
	return NULL;
}

void kf_ap_record(struct run *r, struct kf_obj *o, const struct kf_kube_req *q)
{
	json_t *resp = json_loadb(q->resp.buf, q->resp.len, 0, NULL);
	const json_t *md = json_object_get(resp, "metadata");
	const char *rv = kf_ap_sget(md, "resourceVersion");
	const json_t *gen = json_object_get(md, "generation");

	free(o->rv);
	o->rv = rv ? kf_xstrdup(rv) : NULL;
	o->generation = json_is_integer(gen) ? (long)json_integer_value(gen) : 0;
	if (!r->o->dry_run && rv) {
		char *key = kf_ap_obj_key(o->group, o->kind, o->ns, o->name);

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

/* Objects per round of parallel requests in apply_batch: a few times what
 * is in flight at once (64 over HTTP/2), so the connections stay busy,
 * while only this many request bodies and answers are held at a time. */
#define APPLY_CHUNK 256

/* PATCH objs[0..n) once, in parallel; set their states. */
static int apply_chunk(struct run *r, struct kf_obj **objs, size_t n, struct kf_err **err)
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
		body = o->body ? kf_xstrndup(o->body, o->body_len) : json_dumps(o->obj, JSON_COMPACT);
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
			kf_ap_record(r, o, &q[i]);
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

/* PATCH every object in objs[] once, in parallel, in rounds of
 * APPLY_CHUNK; set their states. */
static int apply_batch(struct run *r, struct kf_obj **objs, size_t n, struct kf_err **err)
{
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i += APPLY_CHUNK)
		rc = apply_chunk(r, objs + i, n - i < APPLY_CHUNK ? n - i : APPLY_CHUNK, err);
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
			kf_ap_progress(r, phase, done, n, detail);
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

				if (strcmp(kf_ap_nz(kf_ap_sget(json_object_get(it, "metadata"), "name")), o->name))
					continue;
				if (!kf_ap_sget(it, "kind"))
					json_object_set_new(it, "kind", json_string("CustomResourceDefinition"));
				if (!kf_ap_sget(it, "apiVersion"))
					json_object_set_new(it, "apiVersion", json_string("apiextensions.k8s.io/v1"));
				h = kf_health_of(it, &why);
				if (h == KF_HEALTH_FAILED) {
					/* It will never be Established: say why now. */
					const json_t *na = kf_health_condition(it, "NamesAccepted");

					rc = kf_err_set(err, KF_EINVAL, "CRD %s (%s:%d:%d): NamesAccepted=False: %s: %s", o->name,
							o->file, o->line, o->col, kf_ap_nz(kf_ap_sget(na, "reason")),
							kf_ap_sget(na, "message") ? kf_ap_sget(na, "message") : why ? why : "");
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
		if (!strcmp(kf_ap_nz(kf_ap_sget(spec, "group")), o->group) &&
		    !strcmp(kf_ap_nz(kf_ap_sget(json_object_get(spec, "names"), "kind")), o->kind))
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
			kf_ap_progress(r, kf_ap_stage_names[ST_CUSTOM], sent, n, NULL);
			rc = apply_until(r, batch, nb, true, kf_ap_stage_names[ST_CUSTOM], err);
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
			kf_ap_progress(r, "CRDs", ready, want, detail);
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

		gks = kf_ap_csv_union(r->gks_old, now);
		free(now);
	}
	nss = kf_ap_namespaces_csv(r);
	if (kf_ap_write_parent(r, gks, nss, true, &st, err) == 0)
		r->parent_deferred = false;
	else
		kf_err_clear(err);
	free(gks);
	free(nss);
}

int kf_ap_apply_wave(struct run *r, size_t from, size_t to, struct kf_err **err)
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

			if ((int)kf_ap_stage_of(o) == st && o->state == KF_OBJ_PENDING)
				objs[n++] = o;
		}
		if (st == ST_CUSTOM) {
			rc = apply_custom(r, pre, npre, objs, n, retry, &nretry, err);
			continue;
		}
		if (!n)
			continue;
		kf_ap_progress(r, kf_ap_stage_names[st], 0, n, NULL);
		/* Prerequisites are needed by everything after them: a webhook
		 * refusing one is waited for here, not deferred. */
		rc = apply_until(r, objs, n, st != ST_PREREQ, kf_ap_stage_names[st], err);
		if (rc)
			break;
		for (size_t i = 0; i < n; i++)
			if (objs[i]->state == KF_OBJ_RETRY)
				retry[nretry++] = objs[i];
		{
			size_t ok = 0;

			for (size_t i = 0; i < n; i++)
				ok += objs[i]->state == KF_OBJ_APPLIED;
			kf_ap_progress(r, kf_ap_stage_names[st], ok, n, NULL);
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
		kf_ap_progress(r, "retry", 0, nretry, "waiting for webhooks");
		rc = apply_until(r, retry, nretry, false, "retry", err);
	}
	free(objs);
	free(pre);
	free(retry);
	return rc;
}
