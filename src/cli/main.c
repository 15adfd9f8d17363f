/*
 * main.c - kfboot's entry point: global options, then one command.
 *
 * `kfboot [-v|-q] [-o text|json|yaml] [--no-color] <command> [options]`.
 * Global options may also appear after the command name; they are removed
 * before the command parses its own. An unknown command is answered with
 * the closest known one. Exit codes: 0 ok, 1 failed, 2 usage, 3 differences.
 *
 * SIGINT and SIGTERM: the first sets kf_interrupt_flag, which every loop
 * that waits (the kube client, apply waits, SSH, sleeps) checks so that the
 * command stops cleanly and says so; it also arms a two-second alarm, so a
 * command busy somewhere that does not check (a blocking read, a long
 * walk) still ends within about two seconds, with 128 + the signal number.
 * A second signal ends it at once.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "models/render.h"

static volatile sig_atomic_t first_signal;

static void hard_exit(void)
{
	static const char msg[] = "kfboot: interrupted\n";
	ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);

	(void)w;
	_exit(128 + (first_signal ? first_signal : SIGINT));
}

/* The grace period is over: whatever the command is doing, it ends now. */
static void on_alarm(int sig)
{
	(void)sig;
	hard_exit();
}

static void on_signal(int sig)
{
	if (kf_interrupt_flag) {
		/* A second ^C: the user means it. */
		hard_exit();
	}
	first_signal = sig;
	kf_interrupt_flag = 1;
	alarm(2);
}

static int parse_output(struct kf_cli *cli, const char *v)
{
	if (!strcmp(v, "text"))
		cli->output = KF_OUT_TEXT;
	else if (!strcmp(v, "json"))
		cli->output = KF_OUT_JSON;
	else if (!strcmp(v, "yaml"))
		cli->output = KF_OUT_YAML;
	else if (!strcmp(v, "wide"))
		cli->output = KF_OUT_WIDE;
	else
		return -1;
	return 0;
}

/*
 * Remove global options from argv (in place), wherever they appear before
 * "--". Returns the new argc, or -1 after printing a usage error.
 */
static int take_global_options(struct kf_cli *cli, int argc, char **argv)
{
	int out = 1;
	bool done = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;

		if (done || a[0] != '-') {
			argv[out++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			done = true;
			argv[out++] = argv[i];
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			cli->verbosity++;
		} else if (!strcmp(a, "-vv")) {
			cli->verbosity += 2;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			cli->quiet = true;
			cli->verbosity = -1;
		} else if (!strcmp(a, "--no-color")) {
			cli->color = false;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "kfboot: option '%s' needs a value: text, json, yaml or wide\n", a);
				return -1;
			}
			val = argv[++i];
		} else if (!strncmp(a, "--output=", 9)) {
			val = a + 9;
		} else if (!strncmp(a, "-o", 2) && a[2]) {
			val = a + 2;
		} else {
			argv[out++] = argv[i];
		}
		if (val && parse_output(cli, val) < 0) {
			fprintf(stderr, "kfboot: unknown output format '%s' (use text, json, yaml or wide)\n", val);
			return -1;
		}
	}
	argv[out] = NULL;
	return out;
}

int main(int argc, char **argv)
{
	struct kf_cli cli = { 0 };
	const struct kf_cmd *cmd;
	struct sigaction sa;
	const char *name;
	const char *nc = getenv("NO_COLOR");
	int rc;

	cli.argv0 = argv[0];
	cli.tty = isatty(STDERR_FILENO);
	cli.color = cli.tty && !(nc && *nc) && getenv("TERM") &&
		    strcmp(getenv("TERM"), "dumb") != 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	argc = take_global_options(&cli, argc, argv);
	if (argc < 0)
		return KF_EXIT_USAGE;
	kf_cli_set_output(cli.output);
	kf_log_set_level(cli.quiet ? KF_LOG_ERROR : KF_LOG_INFO + (cli.verbosity > 0 ? cli.verbosity : 0));
	/* Render steps after the built-in ones (kfboot render, reconcile). */
	kf_models_render_register();

	if (argc < 2) {
		kf_cmd_find("help")->run(1, (char *[]){ "help", NULL }, &cli);
		return KF_EXIT_USAGE;
	}
	name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h"))
		name = "help";
	else if (!strcmp(name, "--version"))
		name = "version";
	cmd = kf_cmd_find(name);
	if (!cmd) {
		const char *names[64];
		size_t n = 0;
		const char *guess;

		for (size_t i = 0; i < kf_commands_n && n < KF_ARRAY_SIZE(names); i++)
			names[n++] = kf_commands[i]->name;
		guess = kf_closest(name, names, n);
		fprintf(stderr, "kfboot: '%s' is not a kfboot command.", name);
		if (guess)
			fprintf(stderr, " Did you mean '%s'?", guess);
		fprintf(stderr, "\nSee 'kfboot help'.\n");
		return KF_EXIT_USAGE;
	}
	if (kf_cli_wants_help(argc - 1, argv + 1))
		return kf_cli_help(cmd);
	rc = cmd->run(argc - 1, argv + 1, &cli);
	if (kf_interrupted() && rc != KF_EXIT_USAGE)
		rc = 128 + (first_signal ? first_signal : SIGINT);
	return rc;
}
