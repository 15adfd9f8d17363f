/*
 * auto.c - what the reconcile loop does about models by itself, as a hook
 * on the loop thread between passes (at most every 15 s, leader only):
 *
 * Write-back: a run the retraining trigger recorded as SUCCEEDED with a
 * report (the run journals kfboot-system/kfboot-runs-<env> hold its model
 * {uri, format} and metrics) is registered as the next version of the model
 * named like its pipeline, and pinned in the autoPin environments - one
 * commit (kf_models_register); a run already in the model file is skipped.
 * The commit carries Kfboot-Model:, so it never triggers retraining, even
 * for a pipeline whose watch paths match the model file or the pins (the
 * trigger pass leaves kfboot's own commits out: kf_kfp_commit_is_kfboot).
 *
 * Automatic promotion: for every
 * environment with `promotion.auto: true`, once per loop iteration (at most
 * every 15 s) the loop thread tries the same promotion `kfboot promote`
 * makes - the version its promotion.from environment pins, the same gates,
 * the soak from the loop's own status snapshot - and when it lands, wakes
 * the loop so the new pin is applied. It runs on the loop thread between
 * passes, so there is at most one promotion in flight (per environment and
 * overall); only a leader promotes. A refusal is logged once per
 * (environment, model, version, reason) and retried on later iterations,
 * which is how a soak gate eventually opens.
 */
#include <stdlib.h>
#include <string.h>

#include "gitops/source_git.h"
#include "kfp/journal.h"
#include "models/auto.h"
#include "models/promote.h"

struct kf_models_auto {
	struct kf_reconciler_opts ro;  /* borrowed strings */
	char *author;
	struct kf_git_source *src;
	double next;
	json_t *said;                  /* "env/model" -> last message logged */
	json_t *done;                  /* run ids registered or found registered */
	struct kf_kube_config *kcfg;
	struct kf_kube *k;
};

static void cb(void *ctx, git_remote_callbacks *c)
{
	kf_git_source_remote_callbacks(ctx, c);
}

static void say_once(struct kf_models_auto *a, const char *key, const char *msg, bool warn)
{
	const char *old = json_string_value(json_object_get(a->said, key));

	if (old && !strcmp(old, msg))
		return;
	json_object_set_new(a->said, key, json_string(msg));
	if (warn)
		kf_warn("%s", msg);
	else
		kf_info("%s", msg);
}

/* Register every succeeded run with a report that is not registered yet. */
static bool write_back(struct kf_models_auto *a, const struct kf_repo_config *cfg)
{
	json_t *journals = NULL, *j;
	struct kf_err *err = NULL;
	bool pushed = false;
	size_t i;

	if (!a->k) {
		struct kf_kubeconfig_opts ko = { .path = a->ro.kubeconfig, .context = a->ro.context };
		struct kf_kube_opts kopts = { .timeout = 20, .retry_window = 20 };

		if (kf_kube_config_load(&a->kcfg, &ko, &err) || kf_kube_new(&a->k, a->kcfg, &kopts, &err)) {
			say_once(a, "-k", err ? err->msg : "write-back: no cluster", true);
			kf_err_free(err);
			return false;
		}
	}
	if (kf_kfp_journal_list(a->k, &journals, &err)) {
		say_once(a, "-j", err ? err->msg : "write-back: cannot list run journals", true);
		kf_err_free(err);
		return false;
	}
	json_array_foreach(journals, i, j) {
		const char *pname;
		json_t *entry;

		json_object_foreach(json_object_get(j, "pipelines"), pname, entry) {
			const struct kf_repo_model *m = NULL;
			json_t *run;
			size_t n;

			for (size_t x = 0; x < cfg->nmodels; x++)
				if (!strcmp(cfg->models[x].name, pname))
					m = &cfg->models[x];
			if (!m)
				continue;
			json_array_foreach(json_object_get(entry, "runs"), n, run) {
				const char *id = json_string_value(json_object_get(run, "run_id"));
				const json_t *model = json_object_get(run, "model");
				struct kf_run_record rec = { 0 };
				struct kf_register_result res;
				struct kf_push_target t = { kf_git_source_repo(a->src), kf_git_source_remote(a->src),
							    kf_git_source_url(a->src), kf_git_source_branch(a->src), cb, a->src };
				struct kf_push_opts po = { .author = a->author };
				char *key;

				if (!id || json_object_get(a->done, id) ||
				    strcmp(json_string_value(json_object_get(run, "state")) ?: "", "SUCCEEDED") ||
				    !json_string_value(json_object_get(model, "uri")) ||
				    !json_string_value(json_object_get(model, "format")))
					continue;
				rec.run_id = id;
				rec.uri = json_string_value(json_object_get(model, "uri"));
				rec.format = json_string_value(json_object_get(model, "format"));
				rec.metrics = json_is_object(json_object_get(run, "metrics")) ? json_object_get(run, "metrics") : NULL;
				rec.source_commit = json_string_value(json_object_get(run, "commit"));
				rec.pipeline = pname;
				key = kf_xasprintf("run/%s", id);
				if (kf_models_register(&t, &po, m->name, &rec, &res, &err) == 0) {
					json_object_set_new(a->done, id, json_true());
					if (!res.existed) {
						char *msg = kf_xasprintf("registered %s %s from run %s: commit %.12s", m->name,
									 res.version, id, res.push.commit);

						say_once(a, key, msg, false);
						free(msg);
						pushed = true;
					}
				} else {
					say_once(a, key, err ? err->msg : "write-back failed", true);
				}
				kf_err_clear(&err);
				kf_register_result_release(&res);
				free(key);
			}
		}
	}
	json_decref(journals);
	return pushed;
}

static void on_idle(void *ctx, struct kf_reconciler *r)
{
	struct kf_models_auto *a = ctx;
	struct kf_repo_config *cfg = NULL;
	struct kf_err *err = NULL;
	json_t *status = NULL;
	char head[41];
	bool pushed = false;

	if (kf_now() < a->next || !kf_reconciler_is_leader(r) || a->ro.dry_run)
		return;
	a->next = kf_now() + 15;
	if (!a->src && kf_git_source_open(&a->src, a->ro.url, a->ro.branch, a->ro.state_dir, &a->ro.source, &err))
		goto fail;
	if (kf_git_source_fetch(a->src, head, &err) || kf_repo_config_load(&cfg, a->src, head, &err))
		goto fail;
	if (cfg->nmodels && write_back(a, cfg))
		pushed = true;
	status = kf_reconciler_status_json(r);
	for (size_t i = 0; i < cfg->nenvs; i++) {
		const struct kf_repo_env *e = &cfg->envs[i];

		if (!e->has_promotion || !e->promotion.automatic || !e->promotion.from)
			continue;
		for (size_t j = 0; j < cfg->nmodels; j++) {
			struct kf_push_target t = { kf_git_source_repo(a->src), kf_git_source_remote(a->src),
						    kf_git_source_url(a->src), kf_git_source_branch(a->src), cb, a->src };
			struct kf_push_opts po = { .author = a->author };
			struct kf_promote_opts o = { .model = cfg->models[j].name, .env = e->name, .status = status };
			struct kf_promote_result res;
			char *key = kf_xasprintf("%s/%s", e->name, cfg->models[j].name), *msg;
			int rc = kf_promote(&t, &po, &o, &res, &err);

			if (!rc && !res.push.noop) {
				msg = kf_xasprintf("auto-promoted %s %s %s -> %s: commit %.12s (%s)", o.model, res.version,
						   e->promotion.from, e->name, res.push.commit, res.gates_summary);
				pushed = true;
				say_once(a, key, msg, false);
			} else if (rc && res.gates_failed) {
				msg = kf_xasprintf("auto-promotion of %s %s to %s waits: %s", o.model, res.version ? res.version : "?",
						   e->name, res.gates_failed);
				say_once(a, key, msg, false);
			} else if (rc && kf_err_code(err) != KF_EINVAL) {
				msg = kf_xasprintf("auto-promotion of %s to %s: %s", o.model, e->name, err ? err->msg : "failed");
				say_once(a, key, msg, true);
			} else {
				msg = NULL; /* nothing pinned to promote, or nothing to do */
			}
			kf_err_clear(&err);
			free(msg);
			free(key);
			kf_promote_result_release(&res);
		}
	}
	if (pushed)
		kf_reconciler_wake(r, KF_WAKE_SOURCE);
	goto out;
fail:
	say_once(a, "-", err ? err->msg : "auto-promotion: cannot read the repository", true);
	kf_err_clear(&err);
out:
	json_decref(status);
	kf_repo_config_free(cfg);
}

struct kf_models_auto *kf_models_auto_attach(struct kf_reconciler *r, const struct kf_reconciler_opts *ro,
					     const char *author)
{
	struct kf_models_auto *a = kf_xcalloc(1, sizeof(*a));
	struct kf_reconciler_hooks h = { 0 };

	a->ro = *ro;
	a->author = author ? kf_xstrdup(author) : NULL;
	a->said = json_object();
	a->done = json_object();
	h.ctx = a;
	h.on_idle = on_idle;
	kf_reconciler_add_hooks(r, &h);
	return a;
}

void kf_models_auto_free(struct kf_models_auto *a)
{
	if (!a)
		return;
	kf_git_source_free(a->src);
	kf_kube_free(a->k);
	kf_kube_config_free(a->kcfg);
	json_decref(a->said);
	json_decref(a->done);
	free(a->author);
	free(a);
}
