/*
 * metrics.c - the reconciler's Prometheus families, registered in the HTTP
 * layer's registry (src/http) and fed from the reconcile loop's observer
 * hooks, the webhook handlers, the drift watches and every kube client's
 * request observer. GET /metrics renders the registry.
 *
 * Families (all prefixed kfboot_):
 *   reconcile_total{environment,result}           counter
 *   reconcile_duration_seconds{environment}        histogram
 *   applied_commit_info{environment,commit}        gauge, 1 for the commit applied now
 *   objects_applied_total / objects_pruned_total{environment} counters
 *   drift_repairs_total{environment}               counter
 *   webhook_deliveries_total{source,result}        counter
 *   git_duration_seconds{operation}                histogram (check, fetch)
 *   git_errors_total{operation}                    counter
 *   api_requests_total{verb,code}                  counter
 *   leader                                         gauge (1 when this replica leads)
 * Label values come from a small fixed set or from names the user chose
 * (environments); never from a URL or a request body.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gitops/gitops.h"
#include "gitops/live.h"
#include "http/http.h"

struct kf_gitops_metrics {
	struct kf_metric *reconciles, *duration, *commit, *applied, *pruned;
	struct kf_metric *drift, *webhooks, *git_time, *git_errors, *api, *leader;
	pthread_mutex_t mu;
	char **envs, **commits; /* last commit reported per environment */
	size_t nenvs;
};

int kf_gitops_metrics_new(struct kf_gitops_metrics **out, struct kf_metrics *m,
			  struct kf_err **err)
{
	static const double dur_bounds[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600 };
	static const double git_bounds[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
	static const char *env[] = { "environment" };
	static const char *env_result[] = { "environment", "result" };
	static const char *env_commit[] = { "environment", "commit" };
	static const char *src_result[] = { "source", "result" };
	static const char *op[] = { "operation" };
	static const char *verb_code[] = { "verb", "code" };
	struct kf_gitops_metrics *gm = kf_xcalloc(1, sizeof(*gm));

	*out = NULL;
	if (!(gm->reconciles = kf_metrics_counter(m, "kfboot_reconcile_total", "Environment reconciles by result.", 2, env_result, err)) ||
	    !(gm->duration = kf_metrics_histogram(m, "kfboot_reconcile_duration_seconds", "Time to reconcile one environment.", 1, env, dur_bounds, KF_ARRAY_SIZE(dur_bounds), err)) ||
	    !(gm->commit = kf_metrics_gauge(m, "kfboot_applied_commit_info", "The commit applied to each environment (1 for the current one).", 2, env_commit, err)) ||
	    !(gm->applied = kf_metrics_counter(m, "kfboot_objects_applied_total", "Objects written by server-side apply.", 1, env, err)) ||
	    !(gm->pruned = kf_metrics_counter(m, "kfboot_objects_pruned_total", "Objects deleted because they left the repository.", 1, env, err)) ||
	    !(gm->drift = kf_metrics_counter(m, "kfboot_drift_repairs_total", "Changed or deleted managed objects handed to the loop for repair.", 1, env, err)) ||
	    !(gm->webhooks = kf_metrics_counter(m, "kfboot_webhook_deliveries_total", "Webhook deliveries by sender and result.", 2, src_result, err)) ||
	    !(gm->git_time = kf_metrics_histogram(m, "kfboot_git_duration_seconds", "Time of git remote checks and fetches.", 1, op, git_bounds, KF_ARRAY_SIZE(git_bounds), err)) ||
	    !(gm->git_errors = kf_metrics_counter(m, "kfboot_git_errors_total", "Failed git remote checks and fetches.", 1, op, err)) ||
	    !(gm->api = kf_metrics_counter(m, "kfboot_api_requests_total", "Kubernetes API requests by verb and HTTP status (0: no answer).", 2, verb_code, err)) ||
	    !(gm->leader = kf_metrics_gauge(m, "kfboot_leader", "1 when this replica holds the lease and writes.", 0, NULL, err))) {
		free(gm);
		return kf_err_wrap(err, "metrics");
	}
	pthread_mutex_init(&gm->mu, NULL);
	kf_metric_set(gm->leader, NULL, 0);
	*out = gm;
	return 0;
}

void kf_gitops_metrics_free(struct kf_gitops_metrics *gm)
{
	if (!gm)
		return;
	for (size_t i = 0; i < gm->nenvs; i++) {
		free(gm->envs[i]);
		free(gm->commits[i]);
	}
	free(gm->envs);
	free(gm->commits);
	pthread_mutex_destroy(&gm->mu);
	free(gm);
}

void kf_gitops_metrics_webhook(struct kf_gitops_metrics *gm, const char *source,
			       enum kf_webhook_result r)
{
	const char *v[] = { source, kf_webhook_result_str(r) };

	kf_metric_add(gm->webhooks, v, 1);
}

void kf_gitops_metrics_drift(struct kf_gitops_metrics *gm, const char *env)
{
	const char *v[] = { env };

	kf_metric_add(gm->drift, v, 1);
}

void kf_gitops_metrics_api(struct kf_gitops_metrics *gm, const char *verb, long code)
{
	char c[16];
	const char *v[] = { verb, c };

	snprintf(c, sizeof(c), "%ld", code);
	kf_metric_add(gm->api, v, 1);
}

void kf_gitops_metrics_kube_observer(void *gm, const char *verb, long status)
{
	kf_gitops_metrics_api(gm, verb, status);
}

void kf_gitops_metrics_leader(struct kf_gitops_metrics *gm, bool leader)
{
	kf_metric_set(gm->leader, NULL, leader ? 1 : 0);
}

static void on_fetch(void *ctx, const char *what, double seconds, const struct kf_err *err)
{
	struct kf_gitops_metrics *gm = ctx;
	const char *v[] = { what };

	kf_metric_observe(gm->git_time, v, seconds);
	if (err)
		kf_metric_add(gm->git_errors, v, 1);
}

/* The info metric has one series at 1 per environment: the old commit's
 * series drops to 0 when a new one is applied. */
static void set_commit(struct kf_gitops_metrics *gm, const char *env, const char *commit)
{
	size_t i;

	pthread_mutex_lock(&gm->mu);
	for (i = 0; i < gm->nenvs && strcmp(gm->envs[i], env); i++)
		;
	if (i == gm->nenvs) {
		gm->envs = kf_xrealloc(gm->envs, (gm->nenvs + 1) * sizeof(*gm->envs));
		gm->commits = kf_xrealloc(gm->commits, (gm->nenvs + 1) * sizeof(*gm->commits));
		gm->envs[i] = kf_xstrdup(env);
		gm->commits[i] = NULL;
		gm->nenvs++;
	}
	if (!gm->commits[i] || strcmp(gm->commits[i], commit)) {
		if (gm->commits[i]) {
			const char *old[] = { env, gm->commits[i] };

			kf_metric_set(gm->commit, old, 0);
		}
		free(gm->commits[i]);
		gm->commits[i] = kf_xstrdup(commit);
	}
	{
		const char *v[] = { env, commit };

		kf_metric_set(gm->commit, v, 1);
	}
	pthread_mutex_unlock(&gm->mu);
}

static void on_reconcile(void *ctx, const struct kf_env_status *st, const char *reason)
{
	struct kf_gitops_metrics *gm = ctx;
	const char *env = st->env ? st->env : "";
	const char *v[] = { env, kf_sync_result_str(st->result) };
	const char *e[] = { env };

	(void)reason;
	kf_metric_add(gm->reconciles, v, 1);
	kf_metric_observe(gm->duration, e, st->seconds);
	if (st->result == KF_SYNC_APPLIED) {
		kf_metric_add(gm->applied, e, (double)st->applied);
		kf_metric_add(gm->pruned, e, (double)st->pruned);
	}
	if (st->applied_commit[0])
		set_commit(gm, env, st->applied_commit);
}

static void on_applied(void *ctx, const char *env, struct kf_kube *k,
		       struct kf_discovery *d, const struct kf_objset *set)
{
	(void)env;
	(void)d;
	(void)set;
	/* The loop's clients are made by the loop: count their requests
	 * from the first apply on (idempotent). */
	kf_kube_set_observer(k, kf_gitops_metrics_kube_observer, ctx);
}

void kf_gitops_metrics_attach(struct kf_gitops_metrics *gm, struct kf_reconciler *r)
{
	struct kf_reconciler_hooks h = { 0 };

	h.ctx = gm;
	h.on_fetch = on_fetch;
	h.on_reconcile = on_reconcile;
	h.on_applied = on_applied;
	kf_reconciler_add_hooks(r, &h);
}
