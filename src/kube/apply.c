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
#include "apply_int.h"

static void run_release(struct run *r)
{
	for (size_t i = 0; i < r->nlists; i++) {
		json_decref(r->lists[i].index);
	}
	free(r->lists);
	for (size_t i = 0; i < r->nmembers; i++) {
		free(r->members[i].key);
		free(r->members[i].live);
	}
	free(r->members);
	json_decref(r->state);
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
		json_t *md, *labels, *ann;

		/* Compacted by an earlier run (the reconciler's dry run):
		 * prepared again from the whole object. */
		if (kf_obj_expand(o)) {
			free(o->why);
			o->why = kf_xstrdup("its compacted body could not be parsed back");
			o->state = KF_OBJ_FAILED;
			continue;
		}
		md = json_object_get(o->obj, "metadata");
		labels = json_object_get(md, "labels");
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
		o->hands_off = false;
		if (r->o->compact && strcmp(o->kind, "CustomResourceDefinition"))
			kf_obj_compact(o);
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
		char *key = kf_ap_obj_key(o->group, o->kind, o->ns, o->name);
		struct member *m = kf_ap_find_member(r, key);
		const json_t *rec = json_object_get(r->state, key);
		json_t *live = m ? kf_ap_member_live(m) : NULL;

		if (m && kf_ap_hands_off(r, live)) {
			m->desired = true; /* not pruned either */
			kf_ap_hands_off_obj(r, o, m);
		} else if (m) {
			m->desired = true;
			if (kf_obj_unchanged(o, live, kf_ap_sget(rec, "rv"),
					     json_is_integer(json_object_get(rec, "gen")) ? (long)json_integer_value(json_object_get(rec, "gen")) : 0,
					     kf_ap_sget(rec, "mf"))) {
				o->state = KF_OBJ_UNCHANGED;
				o->skipped = true;
			}
		}
		json_decref(live);
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
			if (o->hands_off)
				break; /* counted in res->hands_off */
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
	rc = kf_ap_parse_inventory(&r, err);
	if (rc)
		goto out;
	kf_objset_sort(set);
	prepping = pthread_create(&prep, NULL, prepare_thread, &r) == 0;
	if (!prepping)
		prepare_objects(&r);

	/* 1-2: inventory and live state. */
	kf_ap_progress(&r, "inventory", 0, 0, NULL);
	rc = kf_ap_read_parent(&r, err);
	if (!rc && r.parent_exists) {
		kf_ap_plan_lists(&r);
		rc = kf_ap_list_all(&r, true, err);
	}
	if (prepping)
		pthread_join(prep, NULL);
	prepping = false;
	if (rc)
		goto out;
	if (r.parent_exists) {
		kf_ap_collect_members(&r);
		mark_unchanged(&r);
	}
	if (opts->prune) {
		ncands = kf_ap_prune_candidates(&r, &cands);
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
			char *label = kf_ap_member_label(cands[i]);

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
		char *gks = kf_ap_csv_union(r.gks_old, gks_new);
		char *nss_new = kf_ap_namespaces_csv(&r);
		char *nss = kf_ap_csv_union(r.nss_old, nss_new);
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
			key = kf_ap_obj_key(o->group, o->kind, o->ns, o->name);
			if (!json_object_get(r.state, key)) {
				json_object_set_new(r.state, key, json_object());
				need = true;
			}
			free(key);
		}
		if (need) {
			rc = kf_ap_write_parent(&r, gks, nss, true, &st, err);
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
		rc = kf_ap_apply_wave(&r, i, j, err);
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
			rc = kf_ap_prune(&r, cands, ncands, err);
			if (rc)
				goto out;
		}
	}

	/* 6 (before the wait, so that a timeout still records what was applied). */
	if (!opts->dry_run) {
		char now[65], *gks = NULL, *nss = NULL;
		bool changed;
		long st = 0;

		kf_ap_state_digest(r.state, now);
		changed = strcmp(now, r.state0) || r.parent_deferred;

		/* A member kept because it is hands off stays in the
		 * inventory: keep its kind and namespace listed. */
		if (opts->prune && !out->failed && !r.kept_undesired) {
			gks = kf_applyset_group_kinds(set);
			nss = kf_ap_namespaces_csv(&r);
		} else {
			char *a = kf_applyset_group_kinds(set), *b = kf_ap_namespaces_csv(&r);

			gks = kf_ap_csv_union(r.gks_old, a);
			nss = kf_ap_csv_union(r.nss_old, b);
			free(a);
			free(b);
		}
		changed = changed || strcmp(gks, r.gks_old ? r.gks_old : "") || strcmp(nss, r.nss_old ? r.nss_old : "");
		if (changed)
			rc = kf_ap_write_parent(&r, gks, nss, true, &st, err);
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
	/* Recorded and pruned: the health wait needs neither the state nor
	 * the members (thousands of entries each). */
	json_decref(r.state);
	r.state = NULL;
	free(cands);
	cands = NULL;
	for (size_t i = 0; i < r.nmembers; i++) {
		free(r.members[i].key);
		free(r.members[i].live);
	}
	r.nmembers = 0;

	/* 5: health. */
	if (opts->wait && !opts->dry_run && !out->failed) {
		if (!r.nlists) {
			kf_ap_plan_lists(&r);
		}
		rc = kf_ap_wait_health(&r, err);
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
	rc = kf_ap_parse_inventory(&r, err);
	if (!rc)
		rc = kf_ap_read_parent(&r, err);
	if (rc)
		goto out;
	if (!r.parent_exists) {
		rc = kf_err_set(err, KF_ENOENT, "inventory %s/%s does not exist", r.inv_ns, r.inv_name);
		goto out;
	}
	kf_ap_plan_lists(&r);
	rc = kf_ap_list_all(&r, true, err);
	if (rc)
		goto out;
	kf_ap_collect_members(&r);
	n = kf_ap_prune_candidates(&r, &cands);
	rc = kf_ap_prune(&r, cands, n, err);
	if (rc || opts->dry_run)
		goto out;
	{
		struct kf_kube_req q, *qp = &q;

		kf_kube_req_init(&q, "DELETE", kf_ap_parent_path(&r));
		rc = kf_kube_run(k, &qp, 1, err);
		if (!rc && (q.err || ((q.status < 200 || q.status > 299) && q.status != 404)))
			rc = kf_kube_req_error(err, &q);
		kf_kube_req_release(&q);
		if (!rc)
			kf_ap_delete_parts(&r, 1, r.parts_old);
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
