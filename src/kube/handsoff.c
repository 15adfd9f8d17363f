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

bool kf_ap_hands_off(const struct run *r, const json_t *live)
{
	const char *a = r->o->hands_off_annotation, *v;

	if (!a || !*a || !live)
		return false;
	v = kf_ap_sget(json_object_get(json_object_get(live, "metadata"), "annotations"), a);
	return v && !strcmp(v, "disabled");
}

/* Count one member left alone and name it in the report. */
void kf_ap_hands_off_note(struct run *r, const struct member *m)
{
	json_t *list = json_object_get(r->res->report, "handsOffObjects");
	char *label = kf_ap_member_label(m);

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
