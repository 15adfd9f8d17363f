/*
 * recurring.h - KFP recurring runs declared in git (`schedule:` of a
 * pipeline), reconciled like objects. KFP has no update endpoint, so each
 * recurring run kfboot creates carries the hash of its desired spec in its
 * description ("kfboot:<pipeline>:<env>:<hash12>"); a change creates the
 * new one (no_catchup unless catchup: true), then deletes the old; a
 * schedule removed from git is deleted. Exactly one per (pipeline, env).
 */
#ifndef KF_KFP_RECURRING_H
#define KF_KFP_RECURRING_H

#include "kfp/client.h"
#include "kfp/trigger.h"

/* Converge the recurring run of pipeline p in env (namespace ns). Does
 * nothing until the pipeline exists in KFP (its first triggered run
 * uploads it). version_id: pin to this version, NULL = latest. k (may be
 * NULL): the cluster holding the run journal, where "recurring": true is
 * recorded in p's entry before a recurring run is created. */
int kf_kfp_recurring_reconcile(struct kf_kfp *c, struct kf_kube *k,
			       const struct kf_kfp_pipeline *p,
			       const char *env, const char *ns,
			       const char *version_id, struct kf_err **err);
/* Delete kfboot's recurring runs in env (description "kfboot:<p>:<env>:")
 * whose pipeline is gone from `pipelines` (which may be empty), has no
 * schedule, or no longer lists env; then (k not NULL) record
 * "recurring": false in the journal entries of those pipelines. */
int kf_kfp_recurring_prune(struct kf_kfp *c, struct kf_kube *k,
			   const struct kf_kfp_pipelines *ps,
			   const char *env, const char *ns, struct kf_err **err);
/* Must a pass that has no pipeline listing env still prune there? True
 * while a journal entry of a pipeline not wanted there is not recorded
 * "recurring": false (journals older than that record count as maybe). */
int kf_kfp_recurring_prune_needed(struct kf_kube *k, const struct kf_kfp_pipelines *ps,
				  const char *env, bool *needed, struct kf_err **err);
/* The desired body (for tests): caller decrefs. */
json_t *kf_kfp_recurring_body(const struct kf_kfp_pipeline *p, const char *env,
			      const char *experiment_id, const char *pipeline_id,
			      const char *version_id);

#endif
