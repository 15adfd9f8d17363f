/*
 * handsoff.c - the apply engine's "hands off" hook: a member of the
 * inventory whose live copy carries kf_apply_opts.hands_off_annotation with
 * the value "disabled" (kfboot.io/reconcile for the GitOps reconciler, as
 * Flux honours kustomize.toolkit.fluxcd.io/reconcile: disabled) is left
 * alone by the whole run: not applied (apply.c, mark_unchanged), not pruned
 * (prune.c, candidates) and not waited for (waits.c). The live copy is the
 * one the run's label-selected LIST already read, so the hook costs no
 * request. The member's record in the inventory is kept as it was: once the
 * annotation is gone its live resourceVersion no longer matches the record
 * and the next run applies it again.
 */
#include "apply_int.h"

bool kf_ap_hands_off(const struct run *r, const struct member *m)
{
	const char *a = r->o->hands_off_annotation, *v;

	if (!a || !*a || !m || !m->live)
		return false;
	v = kf_ap_sget(json_object_get(json_object_get(m->live, "metadata"), "annotations"), a);
	return v && !strcmp(v, "disabled");
}

/* "Kind[.group] [ns/]name", as kf_obj_label writes a desired object. */
static char *label_of(const struct member *m)
{
	const json_t *md = json_object_get(m->live, "metadata");
	const char *ns = kf_ap_sget(md, "namespace"), *name = kf_ap_nz(kf_ap_sget(md, "name"));
	const char *g = m->rest->group, *k = m->rest->kind;

	return kf_xasprintf("%s%s%s %s%s%s", k, g[0] ? "." : "", g, ns ? ns : "", ns ? "/" : "", name);
}

/* Count one member left alone and name it in the report. */
void kf_ap_hands_off_note(struct run *r, const struct member *m)
{
	json_t *list = json_object_get(r->res->report, "handsOffObjects");
	char *label = label_of(m);

	if (!list) {
		list = json_array();
		json_object_set_new(r->res->report, "handsOffObjects", list);
	}
	json_array_append_new(list, json_string(label));
	r->res->hands_off++;
	free(label);
}

void kf_ap_hands_off_obj(struct run *r, struct kf_obj *o, const struct member *m)
{
	o->state = KF_OBJ_UNCHANGED;
	o->skipped = true;
	o->hands_off = true;
	kf_ap_hands_off_note(r, m);
}
