/*
 * render.h - the "models" render step (render.c): model pins and serving
 * templates into objects. Register it once at start-up, before any render.
 */
#ifndef KF_MODELS_RENDER_H
#define KF_MODELS_RENDER_H

#include "gitops/gitops.h"

/* Add the step with kf_render_add_step (idempotent; not thread-safe). */
void kf_models_render_register(void);

#endif
