/*
 * source_git.h - libgit2-level access to a git source, for code that writes
 * to the same remote (src/models pushes promotions and write-backs through
 * the source's cache and credentials). Implemented in source.c.
 */
#ifndef KF_GITOPS_SOURCE_GIT_H
#define KF_GITOPS_SOURCE_GIT_H

#include <git2.h>

#include "gitops/gitops.h"

/* The bare cache repository (borrowed). */
git_repository *kf_git_source_repo(struct kf_git_source *src);
/* The URL as given to libgit2 (may carry credentials: never print it). */
const char *kf_git_source_remote(const struct kf_git_source *src);
/* Fill credentials, certificate check and deadline callbacks (payload:
 * src), as for a fetch. `src` is a struct kf_git_source *. */
void kf_git_source_remote_callbacks(void *src, git_remote_callbacks *cb);

#endif
