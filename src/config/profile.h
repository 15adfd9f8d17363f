/*
 * profile.h - internal to config/: the walker that reads one profile
 * document into a struct kf_cluster, filling defaults and adding every
 * problem to a diagnostics list. config.c owns loading and freeing.
 */
#ifndef KF_CONFIG_PROFILE_H
#define KF_CONFIG_PROFILE_H

#include "config/config.h"

/*
 * Read `root` (document 0 of `docs`) into c, which must be zeroed. `file`
 * names the profile in diagnostics; relative paths in the profile resolve
 * against `basedir` (NULL: the working directory). Returns the number of
 * problems added to diags.
 */
size_t kf_profile_read(struct kf_cluster *c, const struct kf_yaml_docs *docs,
		       const json_t *root, const char *file,
		       const char *basedir, struct kf_diags *diags);

/* Free the members of an SSH configuration (not cfg itself). */
void kf_ssh_cfg_release(struct kf_ssh_cfg *cfg);

#endif
