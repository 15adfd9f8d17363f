/*
 * journal.h - the run journal: one ConfigMap per environment,
 * kfboot-system/kfboot-runs-<env> (labels kfboot.io/journal=runs,
 * kfboot.io/environment=<env>), holding one JSON entry per pipeline under
 * data[<pipeline>]:
 *
 *   {"last":    "<commit that last triggered it>",
 *    "queue":   [{"commit","pipeline_id","version_id","experiment_id","t"}],
 *    "intent":  {"commit","display","pipeline_id","version_id",
 *                "experiment_id","parameters","t"}   -- before POST /runs
 *    "runs":    [{"commit","display","run_id","state","created_at",
 *                 "finished_at","parameters","metrics","model"}],  newest last
 *    "status":  "<last problem, or empty>",
 *    "recurring": true | false}  -- may have a recurring run here (recurring.h)
 *
 * Every write carries the resourceVersion that was read (a stale write
 * fails with KF_ECONFLICT and the caller re-reads). The same ConfigMaps are
 * the run records `kfboot runs` shows: they live in the cluster, so every
 * replica and a laptop see the same.
 */
#ifndef KF_KFP_JOURNAL_H
#define KF_KFP_JOURNAL_H

#include <jansson.h>

#include "kube/kube.h"
#include "util/util.h"

#define KF_KFP_JOURNAL_NS "kfboot-system"
#define KF_KFP_RUNS_KEPT 50
/* passes that look for a finished run's report before giving up */
#define KF_KFP_REPORT_TRIES 10

struct kf_kfp_journal {
	char *env;
	char *rv;     /* NULL: the ConfigMap does not exist yet */
	json_t *data; /* pipeline -> entry (parsed) */
};

/* Read (an absent ConfigMap gives an empty journal). */
int kf_kfp_journal_read(struct kf_kube *k, const char *env,
			struct kf_kfp_journal *j, struct kf_err **err);
/* Create or replace with j->rv as precondition; j->rv is updated.
 * KF_ECONFLICT when someone wrote it since it was read. */
int kf_kfp_journal_write(struct kf_kube *k, struct kf_kfp_journal *j,
			 struct kf_err **err);
void kf_kfp_journal_release(struct kf_kfp_journal *j);
/* The entry of `pipeline` (borrowed; created empty when missing). */
json_t *kf_kfp_journal_entry(struct kf_kfp_journal *j, const char *pipeline);
/* Every journal: array of {"env": name, "pipelines": {...}}. */
int kf_kfp_journal_list(struct kf_kube *k, json_t **out, struct kf_err **err);
/* The report ConfigMap kfboot-run-<run id> in ns: {"metrics":{..},"model":{..}}
 * or KF_ENOENT. */
int kf_kfp_report_read(struct kf_kube *k, const char *ns, const char *run_id,
		       json_t **out, struct kf_err **err);

#endif
