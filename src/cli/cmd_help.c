/*
 * cmd_help.c - `kfboot help [COMMAND]`: the list of commands, or one
 * command's usage.
 */
#include <string.h>

#include "cli.h"

static int run_help(int argc, char **argv, struct kf_cli *cli)
{
	if (argc > 1) {
		const struct kf_cmd *cmd = kf_cmd_find(argv[1]);

		if (!cmd) {
			fprintf(stderr, "kfboot help: no command '%s'\n", argv[1]);
			return KF_EXIT_USAGE;
		}
		return kf_cli_help(cmd);
	}
	printf("usage: kfboot [-v | -q] [-o text|json|yaml] [--no-color] <command> [options]\n\n");
	printf("kfboot takes an ML platform from bare machines to a Kubeflow cluster\n"
	       "that keeps itself in line with git.\n\n");
	printf("Commands:\n");
	for (size_t i = 0; i < kf_commands_n; i++)
		printf("  %-12s %s\n", kf_commands[i]->name, kf_commands[i]->summary);
	printf("\nGlobal options:\n"
	       "  -v, --verbose         more detail (repeat for debug output)\n"
	       "  -q, --quiet           only errors\n"
	       "  -o, --output FORMAT   text (default), json or yaml\n"
	       "  --no-color            no colours (also NO_COLOR=1)\n"
	       "\nEnvironment: KFBOOT_TRACE=kube,ssh,git,yaml (or all) traces subsystems.\n"
	       "See 'kfboot help <command>' or 'man kfboot'.\n");
	return KF_EXIT_OK;
}

const struct kf_cmd kf_cmd_help = {
	.name = "help",
	.run = run_help,
	.summary = "show the commands, or one command's usage",
	.usage = "usage: kfboot help [COMMAND]\n\n"
		 "Without COMMAND, list kfboot's commands; with it, print its usage.\n",
};
