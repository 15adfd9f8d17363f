/*
 * drift.c - notice, within a second, that someone changed or deleted an
 * object an environment applied, and hand that object's key to the
 * reconcile loop, which re-applies it (level-triggered: the loop reads the
 * current state, so a missed or repeated event is harmless).
 *
 * After each successful apply the reconciler tells us what it wrote: every
 * object with the resourceVersion and generation it had after the apply and
 * its kfboot.io/applied-hash. We open one label-selected WATCH per kind with
 * the environment's ApplySet selector (applyset.kubernetes.io/part-of=<id>),
 * so the server only sends events about the environment's members. An event
 * is drift unless it is explained:
 *  - it carries the resourceVersion kfboot applied (our own write; its
 *    managedFields fingerprint becomes the baseline);
 *  - its managedFields fingerprint (who owns which non-status fields,
 *    kf_obj_fields_fp) and hash annotation are the baseline's: only status
 *    moved (controllers) — the most common event of all;
 *  - the live object says `kfboot.io/reconcile: disabled`: hands off;
 *  - it is not a member we know (a stale label).
 * A DELETED member is drift; so is a member missing from a re-LIST (deleted
 * while the stream was down). An idle environment therefore costs its open
 * watches and nothing else.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gitops/gitops.h"
#include "gitops/live.h"

struct rec {
	char *key;
	char *rv;          /* resourceVersion after kfboot's apply */
	char hash[65];
	long gen;
	char fp[33];       /* baseline fingerprint; "" unknown */
	char *seen_rv;     /* last event's */
	char seen_fp[33];
	bool listed;       /* seen in the current re-LIST */
	bool disabled;
	struct rec *next;  /* hash chain */
};

struct env {
	char *name;
	char *selector;     /* applyset.kubernetes.io/part-of=<id> */
	char *server;       /* the cluster, to notice a change */
	char *kinds;        /* "g/v/resource,..." the watch serves */
	struct kf_watch *w;
	struct rec **tab;
	size_t ntab, nrec;
	struct kf_drift *d;
};

struct kf_drift {
	char *inventory_ns;
	kf_drift_fn fn;
	void *ctx;
	pthread_mutex_t mu;  /* guards envs' records and counters */
	pthread_mutex_t ctl; /* serialises applied/stop (the loop and the lease
			      * threads); never taken by watch callbacks */
	struct env **envs;
	size_t nenvs, alloc;
	unsigned long repairs;
};

void kf_drift_new(struct kf_drift **out, const char *inventory_ns,
		  kf_drift_fn fn, void *ctx)
{
	struct kf_drift *d = kf_xcalloc(1, sizeof(*d));

	d->inventory_ns = kf_xstrdup(inventory_ns ? inventory_ns : "kube-system");
	d->fn = fn;
	d->ctx = ctx;
	pthread_mutex_init(&d->mu, NULL);
	pthread_mutex_init(&d->ctl, NULL);
	*out = d;
}

char *kf_drift_key(const json_t *obj)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *slash = av ? strchr(av, '/') : NULL;

	if (!av || !kind || !name)
		return NULL;
	return kf_xasprintf("%.*s/%s/%s/%s", slash ? (int)(slash - av) : 0, av, kind, ns ? ns : "", name);
}

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct rec *rec_find(struct env *e, const char *key)
{
	if (!e->ntab)
		return NULL;
	for (struct rec *r = e->tab[hash_str(key) % e->ntab]; r; r = r->next)
		if (!strcmp(r->key, key))
			return r;
	return NULL;
}

static void rec_free(struct rec *r)
{
	free(r->key);
	free(r->rv);
	free(r->seen_rv);
	free(r);
}

static void env_clear_recs(struct env *e)
{
	for (size_t i = 0; i < e->ntab; i++) {
		struct rec *r = e->tab[i], *n;

		for (; r; r = n) {
			n = r->next;
			rec_free(r);
		}
	}
	free(e->tab);
	e->tab = NULL;
	e->ntab = e->nrec = 0;
}

static const char *ann(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"), key));
}

static void drifted(struct env *e, struct rec *r, const char *what)
{
	struct kf_drift *d = e->d;

	d->repairs++;
	kf_info("%s: %s was %s; repairing", e->name, r->key, what);
	d->fn(d->ctx, e->name, r->key);
}

/* On the watch thread. */
static void on_event(void *ctx, const struct kf_watch_event *ev)
{
	struct env *e = ctx;
	struct kf_drift *d = e->d;
	const json_t *md;
	const char *rv, *h;
	char *key, fp[33];
	struct rec *r;
	long gen;

	pthread_mutex_lock(&d->mu);
	if (ev->type == KF_WATCH_SYNCED) {
		/* Members of this kind missing from the LIST were deleted
		 * while nobody watched. */
		for (size_t i = 0; i < e->ntab; i++)
			for (r = e->tab[i]; r; r = r->next) {
				const char *k2 = strchr(r->key, '/');

				if (!k2 || strncmp(k2 + 1, ev->rest->kind, strlen(ev->rest->kind)) ||
				    k2[1 + strlen(ev->rest->kind)] != '/' ||
				    strncmp(r->key, ev->rest->group, (size_t)(k2 - r->key)) ||
				    strlen(ev->rest->group) != (size_t)(k2 - r->key))
					continue;
				if (!r->listed && !r->disabled)
					drifted(e, r, "deleted");
				r->listed = false;
			}
		goto out;
	}
	key = kf_drift_key(ev->obj);
	r = key ? rec_find(e, key) : NULL;
	free(key);
	if (!r)
		goto out;
	h = ann(ev->obj, KF_ANN_RECONCILE);
	r->disabled = h && !strcmp(h, "disabled");
	if (r->disabled) {
		kf_debug("%s: %s has %s: disabled; left alone", e->name, r->key, KF_ANN_RECONCILE);
		r->listed = true;
		goto out;
	}
	if (ev->type == KF_WATCH_DELETED) {
		drifted(e, r, "deleted");
		goto out;
	}
	md = json_object_get(ev->obj, "metadata");
	rv = json_string_value(json_object_get(md, "resourceVersion"));
	gen = (long)json_integer_value(json_object_get(md, "generation"));
	h = ann(ev->obj, KF_ANN_HASH);
	kf_obj_fields_fp(ev->obj, fp);
	if (ev->type == KF_WATCH_LISTED)
		r->listed = true;
	free(r->seen_rv);
	r->seen_rv = rv ? kf_xstrdup(rv) : NULL;
	memcpy(r->seen_fp, fp, sizeof(fp));
	if (rv && r->rv && !strcmp(rv, r->rv)) {
		memcpy(r->fp, fp, sizeof(fp)); /* our own write */
		goto out;
	}
	if (h && !strcmp(h, r->hash) && (!r->gen || !gen || gen == r->gen)) {
		if (r->fp[0] && !strcmp(fp, r->fp))
			goto out; /* only status moved */
		/* No baseline yet and this is the first LIST (the watch started
		 * after the apply, or after a restart): an object that still
		 * carries our hash and generation is taken as ours. */
		if (!r->fp[0] && ev->type == KF_WATCH_LISTED && (!r->gen || gen == r->gen)) {
			memcpy(r->fp, fp, sizeof(fp));
			goto out;
		}
	}
	drifted(e, r, "changed");
out:
	pthread_mutex_unlock(&d->mu);
}

static struct env *env_get(struct kf_drift *d, const char *name)
{
	struct env *e;

	for (size_t i = 0; i < d->nenvs; i++)
		if (!strcmp(d->envs[i]->name, name))
			return d->envs[i];
	e = kf_xcalloc(1, sizeof(*e));
	e->name = kf_xstrdup(name);
	e->d = d;
	kf_xgrow((void **)&d->envs, &d->alloc, d->nenvs + 1, sizeof(*d->envs));
	d->envs[d->nenvs++] = e;
	return e;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int applied_locked(struct kf_drift *d, const char *env, struct kf_kube *k,
			  struct kf_discovery *disc, const struct kf_objset *set,
			  struct kf_err **err)
{
	struct env *e;
	const struct kf_rest **rests = kf_xcalloc(set->n + 1, sizeof(*rests));
	char **kinds = kf_xcalloc(set->n + 1, sizeof(*kinds));
	size_t nk = 0;
	struct kf_buf sig = KF_BUF_INIT;
	const char *server = kf_kube_cfg(k)->server;
	char *id, *sel;
	int rc = 0;

	{
		/* The part-of value the apply engine gives the environment's
		 * members: the ApplySet id of its parent Secret. */
		char *inv = kf_gitops_inventory(d->inventory_ns, env);
		const char *slash = strchr(inv, '/');

		id = kf_applyset_id(slash ? slash + 1 : inv, d->inventory_ns, "Secret", "");
		sel = kf_xasprintf("%s=%s", KF_APPLYSET_PART_OF, id);
		free(id);
		free(inv);
	}
	/* The kinds to watch, deduplicated and sorted: the streams' identity. */
	for (size_t i = 0; i < set->n; i++) {
		const struct kf_obj *o = &set->v[i];
		const struct kf_rest *rest = kf_discovery_find(disc, o->group ? o->group : "", o->version, o->kind);
		char *s;
		bool dup = false;

		if (!rest)
			continue;
		s = kf_xasprintf("%s/%s/%s", rest->group, rest->version, rest->resource);
		for (size_t j = 0; j < nk && !dup; j++)
			dup = !strcmp(kinds[j], s);
		if (dup) {
			free(s);
			continue;
		}
		rests[nk] = rest;
		kinds[nk++] = s;
	}
	{
		char **sorted = kf_xcalloc(nk + 1, sizeof(*sorted));

		memcpy(sorted, kinds, nk * sizeof(*kinds));
		qsort(sorted, nk, sizeof(*sorted), cmp_str);
		for (size_t j = 0; j < nk; j++)
			kf_buf_addf(&sig, "%s,", sorted[j]);
		free(sorted);
	}

	pthread_mutex_lock(&d->mu);
	e = env_get(d, env);
	pthread_mutex_unlock(&d->mu);
	/* Restart the streams only when what they watch changed. Stopping
	 * joins the watch thread, which takes d->mu in its callback: never
	 * hold the lock here. */
	if (e->w && (strcmp(e->kinds, sig.buf) || strcmp(e->server, server) || strcmp(e->selector, sel))) {
		kf_watch_free(e->w);
		e->w = NULL;
	}
	pthread_mutex_lock(&d->mu);
	{
		/* Carry what the watch saw over to the new records. */
		struct rec **old = e->tab;
		size_t nold = e->ntab;
		size_t ntab = set->n * 2 + 16;

		e->tab = kf_xcalloc(ntab, sizeof(*e->tab));
		e->ntab = ntab;
		e->nrec = 0;
		for (size_t i = 0; i < set->n; i++) {
			const struct kf_obj *o = &set->v[i];
			char *key = kf_drift_key(o->obj);
			struct rec *r, *prev = NULL;
			size_t b;

			if (!key)
				continue;
			r = kf_xcalloc(1, sizeof(*r));
			r->key = key;
			r->rv = o->rv ? kf_xstrdup(o->rv) : NULL;
			r->gen = o->generation;
			memcpy(r->hash, o->hash, sizeof(r->hash));
			if (nold)
				for (prev = old[hash_str(key) % nold]; prev && strcmp(prev->key, key); prev = prev->next)
					;
			if (prev) {
				r->disabled = prev->disabled;
				r->listed = prev->listed;
				if (!r->rv && !strcmp(prev->hash, r->hash)) {
					/* Skipped as unchanged: nothing was written,
					 * what we knew still holds. */
					r->rv = prev->rv ? kf_xstrdup(prev->rv) : NULL;
					r->gen = prev->gen;
					memcpy(r->fp, prev->fp, sizeof(r->fp));
				} else if (prev->seen_rv && r->rv && !strcmp(prev->seen_rv, r->rv)) {
					/* The watch already saw our write. */
					memcpy(r->fp, prev->seen_fp, sizeof(r->fp));
				}
				if (prev->seen_rv) {
					r->seen_rv = kf_xstrdup(prev->seen_rv);
					memcpy(r->seen_fp, prev->seen_fp, sizeof(r->seen_fp));
				}
			}
			b = hash_str(key) % ntab;
			r->next = e->tab[b];
			e->tab[b] = r;
			e->nrec++;
		}
		for (size_t i = 0; i < nold; i++) {
			struct rec *r = old[i], *n;

			for (; r; r = n) {
				n = r->next;
				rec_free(r);
			}
		}
		free(old);
	}
	pthread_mutex_unlock(&d->mu);
	if (!e->w && nk) {
		free(e->kinds);
		free(e->server);
		free(e->selector);
		e->kinds = kf_buf_detach(&sig, NULL);
		e->server = kf_xstrdup(server);
		e->selector = kf_xstrdup(sel);
		rc = kf_watch_new(&e->w, kf_kube_cfg(k), sel, on_event, e, err);
		if (!rc) {
			for (size_t j = 0; j < nk; j++)
				kf_watch_add(e->w, rests[j], NULL);
			rc = kf_watch_start(e->w, err);
		}
		if (rc) {
			kf_watch_free(e->w);
			e->w = NULL;
			kf_err_wrap(err, "%s: drift watches", env);
		} else {
			kf_debug("%s: watching %zu kinds for drift (%s)", env, nk, sel);
		}
	}
	kf_buf_release(&sig);
	for (size_t j = 0; j < nk; j++)
		free(kinds[j]);
	free(kinds);
	free(rests);
	free(sel);
	return rc;
}

int kf_drift_applied(struct kf_drift *d, const char *env, struct kf_kube *k,
		     struct kf_discovery *disc, const struct kf_objset *set,
		     struct kf_err **err)
{
	int rc;

	pthread_mutex_lock(&d->ctl);
	rc = applied_locked(d, env, k, disc, set, err);
	pthread_mutex_unlock(&d->ctl);
	return rc;
}

void kf_drift_stop(struct kf_drift *d)
{
	pthread_mutex_lock(&d->ctl);
	for (size_t i = 0; i < d->nenvs; i++) {
		struct env *e = d->envs[i];

		kf_watch_free(e->w); /* joins: outside the lock */
		e->w = NULL;
		pthread_mutex_lock(&d->mu);
		env_clear_recs(e);
		pthread_mutex_unlock(&d->mu);
	}
	pthread_mutex_unlock(&d->ctl);
}

unsigned long kf_drift_repairs(struct kf_drift *d)
{
	unsigned long n;

	pthread_mutex_lock(&d->mu);
	n = d->repairs;
	pthread_mutex_unlock(&d->mu);
	return n;
}

size_t kf_drift_streams(struct kf_drift *d)
{
	size_t n = 0;

	pthread_mutex_lock(&d->ctl);
	for (size_t i = 0; i < d->nenvs; i++)
		n += d->envs[i]->w ? 1 : 0;
	pthread_mutex_unlock(&d->ctl);
	return n;
}

void kf_drift_free(struct kf_drift *d)
{
	if (!d)
		return;
	kf_drift_stop(d);
	for (size_t i = 0; i < d->nenvs; i++) {
		struct env *e = d->envs[i];

		free(e->name);
		free(e->selector);
		free(e->server);
		free(e->kinds);
		free(e);
	}
	free(d->envs);
	free(d->inventory_ns);
	pthread_mutex_destroy(&d->mu);
	pthread_mutex_destroy(&d->ctl);
	free(d);
}
