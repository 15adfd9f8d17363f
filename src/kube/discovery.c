/*
 * discovery.c - which resources the server serves: group/version/kind to
 * REST resource name and scope (the "REST mapping").
 *
 * It asks for aggregated discovery first (apidiscovery.k8s.io/v2 on /api
 * and /apis: two requests for the whole server) and falls back to the
 * classic walk (/api, /apis, then one GET per group version, in parallel).
 * The mapping is kept in memory for the life of the object; refresh() asks
 * again after CRDs were applied or when a kind is unknown, and in the
 * classic mode only fetches group versions it has not seen.
 *
 * Like kubectl's ~/.kube/cache/discovery, the mapping is also kept on disk
 * ($XDG_CACHE_HOME/kfboot/discovery/<hash of server URL and CA>.json, 0600,
 * six hours), so that a no-op re-apply asks the server nothing about its
 * API. The file holds only group/version/kind/resource/scope and the
 * server's URL, never a credential. Data read from it is marked cached:
 * the first refresh throws it all away and asks the server, and the apply
 * engine refreshes it before its first write (kf_discovery_cached), so a
 * stale file can save requests but never decide what is written.
 * KFBOOT_NO_CACHE=1 turns it off.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kube.h"

#define ACCEPT_AGG                                                              \
	"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList," \
	"application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList," \
	"application/json"

/* Entries are allocated one by one and never moved or freed before the
 * mapping is: callers keep kf_rest pointers across refreshes. A kind the
 * server stopped serving is marked gone, not removed. */
struct dent {
	struct kf_rest r;
	bool gone;
};

struct kf_discovery {
	struct dent **v;
	size_t n, alloc;
	char **gvs; /* group versions fetched (classic mode) */
	size_t ngvs, alloc_gvs;
	char *cache_path; /* on-disk cache, NULL when off */
	char *server;     /* for the cache file */
	bool cached;      /* read from the cache, not confirmed since */
};

#define CACHE_TTL (6 * 3600.0) /* kubectl's */


static bool gv_known(const struct kf_discovery *d, const char *gv)
{
	for (size_t i = 0; i < d->ngvs; i++)
		if (!strcmp(d->gvs[i], gv))
			return true;
	return false;
}

static void gv_add(struct kf_discovery *d, const char *gv)
{
	if (gv_known(d, gv))
		return;
	kf_xgrow((void **)&d->gvs, &d->alloc_gvs, d->ngvs + 1, sizeof(*d->gvs));
	d->gvs[d->ngvs++] = kf_xstrdup(gv);
}

void kf_discovery_add(struct kf_discovery *d, const char *group,
		      const char *version, const char *kind,
		      const char *resource, bool namespaced)
{
	struct kf_rest *r;

	for (size_t i = 0; i < d->n; i++) {
		r = &d->v[i]->r;
		if (!strcmp(r->group, group) && !strcmp(r->version, version) && !strcmp(r->kind, kind)) {
			d->v[i]->gone = false;
			if (strcmp(r->resource, resource)) {
				free(r->resource);
				r->resource = kf_xstrdup(resource);
			}
			r->namespaced = namespaced;
			return;
		}
	}
	kf_xgrow((void **)&d->v, &d->alloc, d->n + 1, sizeof(*d->v));
	d->v[d->n] = kf_xcalloc(1, sizeof(**d->v));
	r = &d->v[d->n++]->r;
	r->group = kf_xstrdup(group);
	r->version = kf_xstrdup(version);
	r->kind = kf_xstrdup(kind);
	r->resource = kf_xstrdup(resource);
	r->namespaced = namespaced;
}

const struct kf_rest *kf_discovery_find(const struct kf_discovery *d,
					const char *group, const char *version,
					const char *kind)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct kf_rest *r = &d->v[i]->r;

		if (!d->v[i]->gone && !strcmp(r->kind, kind) && !strcmp(r->version, version) &&
		    !strcmp(r->group, group))
			return r;
	}
	return NULL;
}

const struct kf_rest *kf_discovery_find_gk(const struct kf_discovery *d,
					   const char *group, const char *kind)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct kf_rest *r = &d->v[i]->r;

		if (!d->v[i]->gone && !strcmp(r->kind, kind) && !strcmp(r->group, group))
			return r;
	}
	return NULL;
}

size_t kf_discovery_count(const struct kf_discovery *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++)
		n += !d->v[i]->gone;
	return n;
}

/* Forget every mapping (before a full refetch); entries stay allocated. */
static void clear(struct kf_discovery *d)
{
	for (size_t i = 0; i < d->n; i++)
		d->v[i]->gone = true;
	for (size_t i = 0; i < d->ngvs; i++)
		free(d->gvs[i]);
	d->ngvs = 0;
}

void kf_discovery_free(struct kf_discovery *d)
{
	if (!d)
		return;
	clear(d);
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i]->r.group);
		free(d->v[i]->r.version);
		free(d->v[i]->r.kind);
		free(d->v[i]->r.resource);
		free(d->v[i]);
	}
	free(d->gvs);
	free(d->v);
	free(d->cache_path);
	free(d->server);
	free(d);
}

bool kf_discovery_cached(const struct kf_discovery *d)
{
	return d && d->cached;
}

/* ---- on-disk cache ---------------------------------------------------- */

char *kf_discovery_cache_path(const struct kf_kube_config *cfg)
{
	const char *off = getenv("KFBOOT_NO_CACHE");
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	struct kf_buf id = KF_BUF_INIT;
	char hex[65], *dir = NULL, *path = NULL;

	if ((off && *off && strcmp(off, "0")) || !cfg || !cfg->server)
		goto out;
	if (xdg && xdg[0] == '/')
		dir = kf_xasprintf("%s/kfboot/discovery", xdg);
	else if (home && *home)
		dir = kf_xasprintf("%s/.cache/kfboot/discovery", home);
	else
		goto out;
	/* The server's identity: its URL, the CA that vouches for it and the
	 * name checked in its certificate (a cluster recreated at the same
	 * address gets a new CA, hence a new file). */
	kf_buf_adds(&id, cfg->server);
	kf_buf_addch(&id, '\n');
	if (cfg->ca)
		kf_buf_add(&id, cfg->ca, cfg->ca_len);
	kf_buf_addch(&id, '\n');
	kf_buf_adds(&id, cfg->tls_server_name ? cfg->tls_server_name : "");
	kf_sha256_hex(id.buf ? id.buf : "", id.len, hex);
	hex[32] = '\0';
	path = kf_xasprintf("%s/%s.json", dir, hex);
out:
	kf_buf_release(&id);
	free(dir);
	return path;
}

int kf_discovery_cache_save(const struct kf_discovery *d, const char *path,
			    const char *server, struct kf_err **err)
{
	json_t *doc = json_object(), *res = json_array();
	char *dir = kf_xstrdup(path), *slash = strrchr(dir, '/'), *s = NULL;
	int rc = 0;

	for (size_t i = 0; i < d->n; i++) {
		const struct kf_rest *r = &d->v[i]->r;

		if (d->v[i]->gone)
			continue;
		json_array_append_new(res, json_pack("[s,s,s,s,b]", r->group, r->version, r->kind,
						     r->resource, r->namespaced));
	}
	json_object_set_new(doc, "version", json_integer(1));
	json_object_set_new(doc, "server", json_string(server ? server : ""));
	json_object_set_new(doc, "resources", res);
	s = json_dumps(doc, JSON_COMPACT);
	if (slash) {
		*slash = '\0';
		rc = kf_mkdir_p(dir, 0700, err);
	}
	if (!rc)
		rc = kf_file_write_atomic(path, s, strlen(s), 0600, err);
	free(s);
	free(dir);
	json_decref(doc);
	return rc;
}

int kf_discovery_cache_load(struct kf_discovery *d, const char *path,
			    const char *server, double ttl)
{
	struct stat st;
	json_t *doc = NULL, *e;
	size_t i;
	int rc = -1;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	if (ttl > 0 && difftime(time(NULL), st.st_mtime) > ttl)
		goto out; /* too old: ask the server */
	doc = json_load_file(path, 0, NULL);
	if (!json_is_object(doc) || json_integer_value(json_object_get(doc, "version")) != 1 ||
	    !json_is_string(json_object_get(doc, "server")) ||
	    strcmp(json_string_value(json_object_get(doc, "server")), server ? server : "") ||
	    !json_array_size(json_object_get(doc, "resources")))
		goto out;
	json_array_foreach(json_object_get(doc, "resources"), i, e) {
		const char *g = json_string_value(json_array_get(e, 0));
		const char *v = json_string_value(json_array_get(e, 1));
		const char *k = json_string_value(json_array_get(e, 2));
		const char *r = json_string_value(json_array_get(e, 3));
		const json_t *ns = json_array_get(e, 4);

		if (!g || !v || !*v || !k || !*k || !r || !*r || !json_is_boolean(ns)) {
			clear(d); /* damaged: none of it */
			goto out;
		}
		kf_discovery_add(d, g, v, k, r, json_is_true(ns));
	}
	d->cached = true;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

static void save(struct kf_discovery *d)
{
	struct kf_err *e = NULL;

	if (d->cache_path && kf_discovery_cache_save(d, d->cache_path, d->server, &e)) {
		char *m = kf_err_str(e);

		kf_debug("discovery cache not written: %s", m);
		free(m);
	}
	kf_err_free(e);
}

/* Add an APIResourceList (classic) for group/version. */
static void add_resource_list(struct kf_discovery *d, const char *group,
			      const char *version, const json_t *list)
{
	const json_t *res = json_object_get(list, "resources"), *e;
	size_t i;

	json_array_foreach(res, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *kind = json_string_value(json_object_get(e, "kind"));

		if (!name || !kind || strchr(name, '/'))
			continue;
		kf_discovery_add(d, group, version, kind, name,
				 json_is_true(json_object_get(e, "namespaced")));
	}
}

/* Add an APIGroupDiscoveryList (aggregated). */
static void add_aggregated(struct kf_discovery *d, const json_t *list)
{
	const json_t *items = json_object_get(list, "items"), *g;
	size_t i;

	json_array_foreach(items, i, g) {
		const char *group = json_string_value(json_object_get(json_object_get(g, "metadata"), "name"));
		const json_t *vers = json_object_get(g, "versions"), *v;
		size_t j;

		if (!group)
			group = "";
		json_array_foreach(vers, j, v) {
			const char *ver = json_string_value(json_object_get(v, "version"));
			const json_t *res = json_object_get(v, "resources"), *r;
			size_t k;

			if (!ver)
				continue;
			{
				char *gv = group[0] ? kf_xasprintf("%s/%s", group, ver) : kf_xstrdup(ver);

				gv_add(d, gv);
				free(gv);
			}
			json_array_foreach(res, k, r) {
				const char *name = json_string_value(json_object_get(r, "resource"));
				const json_t *rk = json_object_get(r, "responseKind");
				const char *kind = json_string_value(json_object_get(rk, "kind"));
				const char *scope = json_string_value(json_object_get(r, "scope"));

				if (!name || !kind || strchr(name, '/'))
					continue;
				kf_discovery_add(d, group, ver, kind, name, scope && !strcmp(scope, "Namespaced"));
			}
		}
	}
}

static bool is_aggregated(const json_t *j)
{
	const char *kind = json_string_value(json_object_get(j, "kind"));

	return kind && !strcmp(kind, "APIGroupDiscoveryList");
}

static int parse_resp(json_t **out, struct kf_kube_req *r, struct kf_err **err)
{
	json_error_t je;

	*out = NULL;
	if (r->err || r->status < 200 || r->status > 299)
		return kf_kube_req_error(err, r);
	*out = json_loadb(r->resp.buf, r->resp.len, 0, &je);
	if (!*out)
		return kf_err_set(err, KF_EIO, "GET %s: response is not JSON: %s", r->path, je.text);
	return 0;
}

static int fetch(struct kf_discovery *d, struct kf_kube *k, struct kf_err **err)
{
	struct kf_kube_req top[2], *tp[2] = { &top[0], &top[1] };
	struct kf_kube_req *gvr = NULL, **gvp = NULL;
	json_t *api = NULL, *apis = NULL;
	size_t ngv = 0;
	int rc;

	kf_kube_req_init(&top[0], "GET", kf_xstrdup("/api"));
	kf_kube_req_init(&top[1], "GET", kf_xstrdup("/apis"));
	top[0].accept = top[1].accept = ACCEPT_AGG;
	rc = kf_kube_run(k, tp, 2, err);
	if (!rc)
		rc = parse_resp(&api, &top[0], err);
	if (!rc)
		rc = parse_resp(&apis, &top[1], err);
	if (rc)
		goto out;
	if (is_aggregated(api) && is_aggregated(apis)) {
		add_aggregated(d, api);
		add_aggregated(d, apis);
		goto out;
	}
	/* Classic: one GET per group version not fetched yet. */
	{
		const json_t *vers = json_object_get(api, "versions"), *v, *groups, *g;
		size_t i, j, cap;

		groups = json_object_get(apis, "groups");
		cap = json_array_size(vers) + 1;
		json_array_foreach(groups, i, g)
			cap += json_array_size(json_object_get(g, "versions"));
		gvr = kf_xcalloc(cap, sizeof(*gvr));
		gvp = kf_xcalloc(cap, sizeof(*gvp));
		json_array_foreach(vers, i, v) {
			const char *ver = json_string_value(v);

			if (!ver || gv_known(d, ver))
				continue;
			kf_kube_req_init(&gvr[ngv], "GET", kf_xasprintf("/api/%s", ver));
			gvr[ngv].user = (void *)ver;
			gvp[ngv] = &gvr[ngv];
			ngv++;
		}
		json_array_foreach(groups, i, g) {
			json_array_foreach(json_object_get(g, "versions"), j, v) {
				const char *gv = json_string_value(json_object_get(v, "groupVersion"));

				if (!gv || gv_known(d, gv))
					continue;
				kf_kube_req_init(&gvr[ngv], "GET", kf_xasprintf("/apis/%s", gv));
				gvr[ngv].user = (void *)gv;
				gvp[ngv] = &gvr[ngv];
				ngv++;
			}
		}
	}
	rc = kf_kube_run(k, gvp, ngv, err);
	for (size_t i = 0; !rc && i < ngv; i++) {
		const char *gv = gvr[i].user, *slash = strchr(gv, '/');
		char *group = slash ? kf_xstrndup(gv, (size_t)(slash - gv)) : kf_xstrdup("");
		json_t *list = NULL;

		if (gvr[i].status == 404 || gvr[i].status == 503) {
			/* An aggregated API that is down: not fatal for discovery. */
			free(group);
			continue;
		}
		rc = parse_resp(&list, &gvr[i], err);
		if (!rc) {
			add_resource_list(d, group, slash ? slash + 1 : gv, list);
			gv_add(d, gv);
		}
		json_decref(list);
		free(group);
	}
out:
	for (size_t i = 0; i < ngv; i++)
		kf_kube_req_release(&gvr[i]);
	free(gvr);
	free(gvp);
	kf_kube_req_release(&top[0]);
	kf_kube_req_release(&top[1]);
	json_decref(api);
	json_decref(apis);
	if (rc)
		kf_err_wrap(err, "discovery");
	return rc;
}

struct kf_discovery *kf_discovery_new(void)
{
	return kf_xcalloc(1, sizeof(struct kf_discovery));
}

int kf_discovery_load(struct kf_discovery **out, struct kf_kube *k,
		      struct kf_err **err)
{
	struct kf_discovery *d = kf_xcalloc(1, sizeof(*d));
	const struct kf_kube_config *cfg = kf_kube_cfg(k);
	int rc = 0;

	d->cache_path = kf_discovery_cache_path(cfg);
	d->server = kf_xstrdup(cfg && cfg->server ? cfg->server : "");
	if (d->cache_path && kf_discovery_cache_load(d, d->cache_path, d->server, CACHE_TTL) == 0) {
		kf_debug("discovery: %zu resources from %s", kf_discovery_count(d), d->cache_path);
		goto out;
	}
	rc = fetch(d, k, err);
	if (rc) {
		kf_discovery_free(d);
		d = NULL;
		goto out;
	}
	save(d);
out:
	*out = d;
	return rc;
}

int kf_discovery_refresh(struct kf_discovery *d, struct kf_kube *k,
			 struct kf_err **err)
{
	int rc;

	if (d->cached) {
		/* Cached data may name kinds the server no longer serves: start over. */
		clear(d);
		d->cached = false;
	}
	rc = fetch(d, k, err);
	if (!rc)
		save(d);
	return rc;
}
