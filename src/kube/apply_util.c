/*
 * apply_util.c - small helpers every file of the staged apply uses: JSON
 * getters, progress reports, object keys, which stage an object belongs
 * to. At the bottom: it calls nothing of the other apply files.
 */
#include "apply_int.h"

const char *const kf_ap_stage_names[ST_N] = { "prerequisites", "apply", "custom resources", "webhooks" };


const char *kf_ap_sget(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *kf_ap_nz(const char *s)
{
	return s ? s : "";
}

void kf_ap_progress(struct run *r, const char *phase, size_t done, size_t total,
		     const char *detail)
{
	struct kf_apply_progress p = { phase, done, total, detail, kf_now() - r->start };

	if (r->o->progress)
		r->o->progress(r->o->progress_ctx, &p);
}

char *kf_ap_obj_key(const char *group, const char *kind, const char *ns, const char *name)
{
	return kf_xasprintf("%s/%s/%s/%s", group, kind, ns ? ns : "", name);
}

char *kf_ap_live_key(const json_t *live)
{
	const char *av = kf_ap_sget(live, "apiVersion"), *slash;
	const json_t *md = json_object_get(live, "metadata");
	char *group, *key;

	if (!av)
		return NULL;
	slash = strchr(av, '/');
	group = slash ? kf_xstrndup(av, (size_t)(slash - av)) : kf_xstrdup("");
	key = kf_ap_obj_key(group, kf_ap_sget(live, "kind") ? kf_ap_sget(live, "kind") : "", kf_ap_sget(md, "namespace"),
		      kf_ap_sget(md, "name") ? kf_ap_sget(md, "name") : "");
	free(group);
	return key;
}

enum stage kf_ap_stage_of(const struct kf_obj *o)
{
	if (o->rank <= 2)
		return ST_PREREQ;
	if (o->rank >= 90)
		return ST_WEBHOOK;
	if (o->rank == 50 || o->rank == 33)
		return ST_CUSTOM;
	return ST_BUILTIN;
}

/* Comma-separated union of two sorted lists, sorted. */
int kf_ap_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}
