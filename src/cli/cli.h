/*
 * cli.h - the command table and the shared state of one kfboot invocation.
 *
 * Each command lives in src/cli/cmd_<name>.c and exports one
 * `const struct kf_cmd kf_cmd_<name>`; commands.c lists them. Only cli/
 * prints results or chooses exit codes; library code returns errors.
 */
#ifndef KF_CLI_H
#define KF_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "util/util.h"

/* Exit codes (STYLE.md). */
enum {
	KF_EXIT_OK = 0,
	KF_EXIT_FAIL = 1,
	KF_EXIT_USAGE = 2,
	KF_EXIT_DIFF = 3,
};

enum kf_output { KF_OUT_TEXT, KF_OUT_JSON, KF_OUT_YAML, KF_OUT_WIDE };

/* Global options, parsed by main before the command runs. */
struct kf_cli {
	const char *argv0;
	int verbosity;          /* -v adds one, -q sets -1 */
	bool quiet;             /* -q */
	enum kf_output output;  /* -o text|json|yaml|wide (wide: text with more columns) */
	bool color;             /* a terminal and neither --no-color nor NO_COLOR */
	bool tty;               /* stderr is a terminal (live progress) */
};

struct kf_cmd {
	const char *name;
	/* argv[0] is the command name; global options are already removed. */
	int (*run)(int argc, char **argv, struct kf_cli *cli);
	unsigned flags;
	const char *summary; /* one line for `kfboot help` */
	const char *usage;   /* full text for `kfboot <cmd> --help` */
};

extern const struct kf_cmd *const kf_commands[];
extern const size_t kf_commands_n;
const struct kf_cmd *kf_cmd_find(const char *name);

/* Print "kfboot: error: <chain>" (or a JSON object with -o json) to stderr
 * and return KF_EXIT_FAIL. */
int kf_cli_fail(struct kf_cli *cli, const struct kf_err *err);
/* The line `line` of `file` and a caret under `col`, as compilers show
 * them (nothing when the file cannot be read). A value under a Secret's
 * data/stringData, or of a key that names a password, token, key,
 * certificate or secret, is shown as ***, and so is the userinfo of any
 * URL on the line. */
void kf_cli_show_source(FILE *f, const char *file, int line, int col);
/* Sort and print problems (FILE:LINE:COL: message), each with its line. */
struct kf_diags;
void kf_cli_print_diags(struct kf_cli *cli, struct kf_diags *dg);
/* An old spelling of a flag was used: say once, on stderr, what replaces
 * it (unless -q). It keeps working for one release. */
void kf_cli_deprecated(struct kf_cli *cli, const char *old, const char *now);
/*
 * kubectl's --dry-run[=none|client|server]. `val` is what follows '=' (NULL
 * for the bare flag, which means `bare`; true and false are also taken).
 * `does` is the one mode this command's dry run is (`bare` for every
 * command but apply, which does both): another mode is a usage error that
 * says what the command's dry run is and `hint` (what to use instead).
 * Sets *mode and returns 0, or returns KF_EXIT_USAGE.
 */
enum kf_dry_run { KF_DRY_NONE, KF_DRY_CLIENT, KF_DRY_SERVER };
int kf_cli_dry_run(struct kf_cli *cli, const struct kf_cmd *cmd, const char *val, unsigned does,
		   enum kf_dry_run bare, const char *hint, enum kf_dry_run *mode);
#define KF_DRY_DOES(m) (1u << (m))
/* Print a usage error for cmd and return KF_EXIT_USAGE. */
int kf_cli_usage(struct kf_cli *cli, const struct kf_cmd *cmd, const char *fmt, ...) KF_PRINTF(3, 4);
/* True when argv holds -h or --help. */
bool kf_cli_wants_help(int argc, char **argv);
/* Print cmd's usage to stdout and return 0. */
int kf_cli_help(const struct kf_cmd *cmd);
/* Print a result to stdout: indented JSON, or YAML when -o yaml was given
 * (kf_cli_set_output). Steals nothing. */
void kf_cli_print_json(const json_t *v);
/* Set by main from -o; kf_cli_print_json follows it. */
void kf_cli_set_output(enum kf_output o);
/* True for -o json and -o yaml: print the structured result. */
static inline bool kf_cli_structured(const struct kf_cli *cli)
{
	return cli->output == KF_OUT_JSON || cli->output == KF_OUT_YAML;
}
/* Colour helpers: return the escape or "" depending on cli->color. */
const char *kf_cli_c(const struct kf_cli *cli, const char *esc);
#define KF_C_RED "\033[31m"
#define KF_C_GREEN "\033[32m"
#define KF_C_YELLOW "\033[33m"
#define KF_C_BOLD "\033[1m"
#define KF_C_DIM "\033[2m"
#define KF_C_RESET "\033[0m"

#endif
