/*
 * commands.c - the command table.
 *
 * One line per command, in the order `kfboot help` lists them. A command
 * appears here only when it works end to end.
 */
#include <string.h>

#include "cli.h"

extern const struct kf_cmd kf_cmd_help;
extern const struct kf_cmd kf_cmd_version;
extern const struct kf_cmd kf_cmd_validate, kf_cmd_init;
extern const struct kf_cmd kf_cmd_apply;
extern const struct kf_cmd kf_cmd_diff;
extern const struct kf_cmd kf_cmd_delete;
extern const struct kf_cmd kf_cmd_kubeflow;
extern const struct kf_cmd kf_cmd_plan;
extern const struct kf_cmd kf_cmd_up, kf_cmd_reset, kf_cmd_status, kf_cmd_kubeconfig;
extern const struct kf_cmd kf_cmd_completion;
extern const struct kf_cmd kf_cmd_pipeline;
extern const struct kf_cmd kf_cmd_reconcile, kf_cmd_render;
extern const struct kf_cmd kf_cmd_runs;
extern const struct kf_cmd kf_cmd_promote, kf_cmd_models;

const struct kf_cmd *const kf_commands[] = {
	&kf_cmd_help,
	&kf_cmd_validate, &kf_cmd_init,
	&kf_cmd_version,
	&kf_cmd_apply,
	&kf_cmd_diff,
	&kf_cmd_delete,
	&kf_cmd_kubeflow,
	&kf_cmd_plan,
	&kf_cmd_up,
	&kf_cmd_reset,
	&kf_cmd_status,
	&kf_cmd_kubeconfig,
	&kf_cmd_pipeline,
	&kf_cmd_completion,
	&kf_cmd_reconcile,
	&kf_cmd_render,
	&kf_cmd_runs,
	&kf_cmd_promote,
	&kf_cmd_models,
};

const size_t kf_commands_n = KF_ARRAY_SIZE(kf_commands);

const struct kf_cmd *kf_cmd_find(const char *name)
{
	for (size_t i = 0; i < kf_commands_n; i++)
		if (!strcmp(kf_commands[i]->name, name))
			return kf_commands[i];
	return NULL;
}
