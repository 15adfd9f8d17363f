/*
 * auto.h - automatic promotion (promotion.auto: true) as a reconcile-loop
 * hook (auto.c). Attach before kf_reconciler_run; free after it returned.
 */
#ifndef KF_MODELS_AUTO_H
#define KF_MODELS_AUTO_H

#include "gitops/gitops.h"

struct kf_models_auto;

/* ro is copied (its strings must outlive the hook); author NULL = kfboot. */
struct kf_models_auto *kf_models_auto_attach(struct kf_reconciler *r, const struct kf_reconciler_opts *ro,
					     const char *author);
void kf_models_auto_free(struct kf_models_auto *a);

#endif
