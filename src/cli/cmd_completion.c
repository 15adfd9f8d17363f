/*
 * cmd_completion.c - `kfboot completion bash|zsh`: print the shell
 * completion script, as `kubectl completion` does.
 *
 * The scripts live in completion/ (kfboot.bash, _kfboot) and are built into
 * the binary with .incbin, so the installed files and what this command
 * prints are the same text. Both read commands, subcommands and flags from
 * kfboot's own help output at completion time: they cannot drift from the
 * binary they complete.
 */
#include <string.h>

#include "cli.h"

__asm__(".pushsection .rodata\n"
	".global kf_completion_bash\n"
	"kf_completion_bash:\n"
	".incbin \"" KF_SOURCE_DIR "/completion/kfboot.bash\"\n"
	".byte 0\n"
	".global kf_completion_zsh\n"
	"kf_completion_zsh:\n"
	".incbin \"" KF_SOURCE_DIR "/completion/_kfboot\"\n"
	".byte 0\n"
	".popsection\n");
extern const char kf_completion_bash[];
extern const char kf_completion_zsh[];

static int run_completion(int argc, char **argv, struct kf_cli *cli)
{
	const struct kf_cmd *self = kf_cmd_find("completion");

	if (argc != 2)
		return kf_cli_usage(cli, self, "expected one shell: bash or zsh");
	if (!strcmp(argv[1], "bash"))
		fputs(kf_completion_bash, stdout);
	else if (!strcmp(argv[1], "zsh"))
		fputs(kf_completion_zsh, stdout);
	else
		return kf_cli_usage(cli, self, "unknown shell '%s' (bash or zsh)", argv[1]);
	return KF_EXIT_OK;
}

const struct kf_cmd kf_cmd_completion = {
	.name = "completion",
	.run = run_completion,
	.summary = "print a shell completion script (bash or zsh)",
	.usage = "usage: kfboot completion bash|zsh\n\n"
		 "Print the completion script for the shell. Installed copies go to\n"
		 "share/bash-completion/completions/kfboot and share/zsh/site-functions/_kfboot;\n"
		 "to load it by hand:\n\n"
		 "  source <(kfboot completion bash)          # bash\n"
		 "  kfboot completion zsh > \"${fpath[1]}/_kfboot\"   # zsh\n",
};
