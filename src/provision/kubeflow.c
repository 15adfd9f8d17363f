/*
 * kubeflow.c - the `up` phase "install Kubeflow": after every node is
 * Ready, install the profile's spec.kubeflow components (and what they
 * depend on) in dependency order with the staged apply engine, through
 * kf_kubeflow_install (src/kubeflow/). It runs on the machine running
 * kfboot, not over SSH: the client talks to the API server with the admin
 * kubeconfig the "fetch kubeconfig" phase saved in the state directory.
 *
 * Converging is the engine's job: objects whose content and live
 * resourceVersion are unchanged since kfboot applied them are not sent, so
 * a second `up` costs a few LISTs and writes nothing; the phase then
 * reports "unchanged". The generated credentials are kept (0600) in the
 * cluster's state directory so that a re-run sends the same objects; their
 * values never reach a plan, an event or the log.
 *
 * Skipped when spec.kubeflow.components is empty, or with
 * `up --skip-kubeflow` (kf_prov_opts.skip_kubeflow).
 */
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"
#include "kubeflow/kubeflow.h"
#include "provision/internal.h"

#define KF_KUBEFLOW_WHEN "skipped when spec.kubeflow.components is empty or with `up --skip-kubeflow`; " \
	"objects unchanged since kfboot applied them are not sent again"

/* Load the catalog and resolve the profile's selection to an install order.
 * *cat and *order belong to the caller (kf_kubeflow_catalog_free, free). */
static int resolve(struct kf_kubeflow_catalog **cat,
		   const struct kf_kubeflow_component ***order, size_t *n,
		   const struct kf_cluster *c, struct kf_err **err)
{
	struct kf_diags dg = KF_DIAGS_INIT;
	int rc;

	*cat = NULL;
	*order = NULL;
	*n = 0;
	rc = kf_kubeflow_catalog_load_default(cat, &dg, err);
	if (rc) {
		if (dg.n) {
			char *s = kf_diag_str(&dg.v[0]);

			kf_err_clear(err);
			rc = kf_err_set(err, KF_EINVAL, "the Kubeflow catalog: %s", s);
			free(s);
		}
		goto out;
	}
	rc = kf_kubeflow_resolve(order, n, *cat, (const char *const *)c->kubeflow.components,
				 c->kubeflow.ncomponents, err);
	if (rc)
		kf_err_wrap(err, "spec.kubeflow.components");
out:
	kf_diags_release(&dg);
	return rc;
}

static bool in_order(const struct kf_kubeflow_component *const *order, size_t n,
		     const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(order[i]->name, name))
			return true;
	return false;
}

/* Where upstream checkouts and renders go: $XDG_CACHE_HOME/kfboot/kubeflow
 * or ~/.cache/kfboot/kubeflow (the same as `kfboot kubeflow install`). */
static char *cache_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	char *base, *dir;

	if (xdg && *xdg)
		base = kf_path_join(xdg, "kfboot");
	else
		base = kf_path_expand("~/.cache/kfboot");
	dir = kf_path_join(base, "kubeflow");
	free(base);
	return dir;
}

static int kubeflow_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			    struct kf_err **err)
{
	const struct kf_cluster *c = x->c;
	const char *state = x->state_dir ? x->state_dir : "<state>";
	struct kf_kubeflow_catalog *cat = NULL;
	const struct kf_kubeflow_component **order = NULL;
	struct kf_action *a;
	struct kf_buf b = KF_BUF_INIT;
	size_t n = 0;
	int rc;

	if (!c->kubeflow.ncomponents) {
		free(out->when);
		out->when = kf_xstrdup("nothing: spec.kubeflow.components is empty");
		return 0;
	}
	rc = resolve(&cat, &order, &n, c, err);
	if (rc)
		goto out;
	a = kf_plan_phase_add(out, KF_ACT_LOCAL);
	a->cmd = kf_xasprintf("on this machine, with %s/admin.conf: Kubeflow %s, %zu component%s in dependency order, "
			      "each with server-side apply (field manager kfboot, ApplySet inventory kube-system/kubeflow-<name>) "
			      "and waited for until healthy (deadline 10m per component) before the next",
			      state, c->kubeflow.release ? c->kubeflow.release : cat->release, n, n == 1 ? "" : "s");
	a = kf_plan_phase_add(out, KF_ACT_LOCAL);
	if (c->kubeflow.source_path) {
		a->cmd = kf_xasprintf("manifests: rendered files in %s (local; nothing is downloaded)",
				      c->kubeflow.source_path);
	} else {
		char *cache = cache_dir();

		a->cmd = kf_xasprintf("manifests: %s at tag %s, cloned into %s and rendered with kustomize build (or kubectl kustomize)",
				      cat->repository, cat->tag, cache);
		free(cache);
	}
	for (size_t i = 0; i < n; i++) {
		const struct kf_kubeflow_component *k = order[i];

		kf_buf_reset(&b);
		kf_buf_addf(&b, "%2zu. %s", i + 1, k->name);
		if (k->ndeps) {
			kf_buf_adds(&b, " (after ");
			for (size_t j = 0; j < k->ndeps; j++)
				kf_buf_addf(&b, "%s%s", j ? ", " : "", k->deps[j]);
			kf_buf_adds(&b, ")");
		}
		kf_buf_adds(&b, ": ");
		for (size_t j = 0; j < k->nmanifests; j++)
			kf_buf_addf(&b, "%s%s", j ? ", " : "",
				    c->kubeflow.source_path ? k->manifests[j].file : k->manifests[j].path);
		a = kf_plan_phase_add(out, KF_ACT_LOCAL);
		a->cmd = kf_buf_detach(&b, NULL);
	}
	kf_buf_reset(&b);
	kf_buf_adds(&b, "credentials in place of upstream's defaults (values never shown):");
	if (in_order(order, n, "dex"))
		kf_buf_addf(&b, " Dex user admin@example.com with a password generated into %s/kubeflow-admin-password (0600) "
			    "unless one is kept, stored as a bcrypt hash; OIDC client secret;", state);
	if (in_order(order, n, "oauth2-proxy"))
		kf_buf_adds(&b, " oauth2-proxy cookie secret;");
	if (in_order(order, n, "pipelines"))
		kf_buf_adds(&b, " KFP artifact store (S3) secret key;");
	kf_buf_addf(&b, " random values kept in %s/kubeflow-credentials.json (0600) and reused by later runs", state);
	a = kf_plan_phase_add(out, KF_ACT_LOCAL);
	a->cmd = kf_buf_detach(&b, NULL);
out:
	kf_buf_release(&b);
	free(order);
	kf_kubeflow_catalog_free(cat);
	return rc;
}

/* ---- run --------------------------------------------------------------------- */

struct install_ctx {
	struct kf_run *r;
	size_t index, total;
	const char *component;
	double last;
};

static void on_component(void *ctx, const struct kf_kubeflow_progress *p)
{
	struct install_ctx *ic = ctx;
	char msg[256];

	ic->index = p->index;
	ic->total = p->total;
	ic->component = p->component;
	snprintf(msg, sizeof(msg), "[%zu/%zu] %s: %s (%zu objects)", p->index, p->total, p->component,
		 p->what, p->objects);
	kf_log_write(KF_LOG_DEBUG, NULL, "%s: install Kubeflow: %s", ic->r->cp->cfg->name, msg);
	kf_run_event(ic->r, KF_EV_WAIT, &kf_phase_kubeflow, ic->r->cp, KF_RES_NONE, msg,
		     p->total ? (double)(p->index - 1) / (double)p->total : -1);
}

static void on_apply(void *ctx, const struct kf_apply_progress *p)
{
	struct install_ctx *ic = ctx;
	double now = kf_now();
	char msg[256];

	/* The engine reports often; a few updates a second are enough. */
	if (now - ic->last < 0.2 && p->done != p->total)
		return;
	ic->last = now;
	snprintf(msg, sizeof(msg), "[%zu/%zu] %s: %s %zu/%zu%s%s", ic->index, ic->total,
		 ic->component ? ic->component : "-", p->phase, p->done, p->total, p->detail ? "; " : "",
		 p->detail ? p->detail : "");
	kf_run_event(ic->r, KF_EV_WAIT, &kf_phase_kubeflow, ic->r->cp, KF_RES_NONE, msg,
		     ic->total && ic->index ? ((double)(ic->index - 1) +
					       (p->total ? (double)p->done / (double)p->total : 0)) / (double)ic->total
					    : -1);
}

/* The problems kf_kubeflow_install found in its input, as one error. */
static int diags_error(struct kf_err **err, struct kf_diags *dg)
{
	struct kf_buf b = KF_BUF_INIT;
	int rc;

	kf_diags_sort(dg);
	for (size_t i = 0; i < dg->n && i < 20; i++) {
		char *s = kf_diag_str(&dg->v[i]);

		kf_buf_addf(&b, "\n  %s", s);
		free(s);
	}
	if (dg->n > 20)
		kf_buf_addf(&b, "\n  (%zu more)", dg->n - 20);
	kf_err_clear(err);
	rc = kf_err_set(err, KF_EINVAL, "%zu problem%s in the Kubeflow manifests; nothing was applied:%s", dg->n,
			dg->n == 1 ? "" : "s", b.buf);
	kf_buf_release(&b);
	return rc;
}

static void skip(struct kf_run *r, const char *why)
{
	kf_run_event(r, KF_EV_HOST_END, &kf_phase_kubeflow, r->cp, KF_RES_NONE, why, -1);
	kf_log_write(KF_LOG_DEBUG, NULL, "install Kubeflow: skipped: %s", why);
}

static int kubeflow_run_cluster(struct kf_run *r, struct kf_err **err)
{
	const struct kf_cluster *c = r->c;
	struct kf_kubeconfig_opts ko = { 0 };
	struct kf_kube_opts kopts = { 0 };
	struct kf_kube_config *cfg = NULL;
	struct kf_kube *k = NULL;
	struct kf_discovery *d = NULL;
	struct kf_kubeflow_catalog *cat = NULL;
	const struct kf_kubeflow_component **order = NULL;
	struct kf_kubeflow_install_opts io = { 0 };
	struct kf_kubeflow_install_result res = { 0 };
	struct kf_diags dg = KF_DIAGS_INIT;
	struct install_ctx ic = { .r = r };
	enum kf_result result = KF_RES_NONE;
	char *cache = NULL, *msg = NULL;
	size_t n = 0;
	int rc = 0;

	if (!r->cp)
		goto out;
	if (r->o.skip_kubeflow) {
		skip(r, "skipped (--skip-kubeflow)");
		goto out;
	}
	if (!c->kubeflow.ncomponents) {
		skip(r, "no components in spec.kubeflow");
		goto out;
	}
	kf_run_event(r, KF_EV_HOST_START, &kf_phase_kubeflow, r->cp, KF_RES_NONE, NULL, -1);
	rc = resolve(&cat, &order, &n, c, err);
	if (rc)
		goto out;
	ko.path = r->kubeconfig_path;
	rc = kf_kube_config_load(&cfg, &ko, err);
	if (!rc)
		rc = kf_kube_new(&k, cfg, &kopts, err);
	if (!rc)
		rc = kf_discovery_load(&d, k, err);
	if (rc) {
		kf_err_wrap(err, "API server %s (kubeconfig %s)", cfg ? cfg->server : "?", r->kubeconfig_path);
		goto out;
	}
	cache = cache_dir();
	io.catalog = cat;
	io.components = (const char *const *)c->kubeflow.components;
	io.ncomponents = c->kubeflow.ncomponents;
	io.source_dir = c->kubeflow.source_path;
	io.release = c->kubeflow.source_path ? NULL : c->kubeflow.release;
	io.cache_dir = cache;
	io.creds.state_dir = r->state_dir;
	io.progress = on_component;
	io.progress_ctx = &ic;
	io.apply_progress = on_apply;
	io.apply_progress_ctx = &ic;
	rc = kf_kubeflow_install(&res, k, d, &io, &dg, err);
	if (dg.n)
		rc = diags_error(err, &dg);
	if (rc)
		goto out;
	result = res.applied || res.pruned ? KF_RES_CHANGED : KF_RES_UNCHANGED;
	msg = kf_xasprintf("%zu component%s, %zu objects: %zu applied, %zu unchanged%s", res.ncomponents,
			   res.ncomponents == 1 ? "" : "s", res.total, res.applied, res.unchanged,
			   result == KF_RES_CHANGED ? "" : " (nothing sent)");
	kf_log_write(KF_LOG_DEBUG, NULL, "install Kubeflow: %s in %.1fs, %lu requests", msg, res.elapsed,
		     kf_kube_get_stats(k)->requests);
	pthread_mutex_lock(&r->lock);
	if (res.generated_password_file && !r->sum->kubeflow_password_file)
		r->sum->kubeflow_password_file = kf_xstrdup(res.generated_password_file);
	if (r->journal) {
		kf_journal_done(r->journal, r->cp->cfg->name, kf_phase_kubeflow.id, NULL);
		kf_journal_save(r->journal, NULL);
	}
	pthread_mutex_unlock(&r->lock);
out:
	kf_run_local_phase_end(r, &kf_phase_kubeflow, rc, result, msg, err);
	kf_kubeflow_install_result_release(&res);
	kf_diags_release(&dg);
	kf_discovery_free(d);
	kf_kube_free(k);
	kf_kube_config_free(cfg);
	free(order);
	kf_kubeflow_catalog_free(cat);
	free(cache);
	free(msg);
	return rc;
}

const struct kf_phase kf_phase_kubeflow = {
	.id = "kubeflow",
	.title = "install Kubeflow",
	.scope = KF_SCOPE_CLUSTER,
	.dry_run = kubeflow_dry_run,
	.run_cluster = kubeflow_run_cluster,
	.when = KF_KUBEFLOW_WHEN,
};
