/*
 * cli.c - output helpers shared by every command: errors, usage, JSON,
 * colour.
 *
 * Errors go to stderr as one line, "kfboot: error: <context>: <cause>", or
 * as a JSON object with -o json so that machines can read failures too.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "yaml/yaml.h"

int kf_cli_fail(struct kf_cli *cli, const struct kf_err *err)
{
	char *msg = kf_err_str(err);
	char *safe = kf_redact(msg);

	if (cli && cli->output == KF_OUT_JSON) {
		json_t *o = json_pack("{s:s, s:s}", "error", safe, "kind",
				      kf_code_str(kf_err_code(err)));
		char *s = json_dumps(o, JSON_COMPACT);

		fprintf(stderr, "%s\n", s);
		free(s);
		json_decref(o);
	} else {
		fprintf(stderr, "kfboot: %serror:%s %s\n", kf_cli_c(cli, KF_C_RED),
			kf_cli_c(cli, KF_C_RESET), safe);
	}
	free(msg);
	free(safe);
	return KF_EXIT_FAIL;
}

int kf_cli_usage(struct kf_cli *cli, const struct kf_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kfboot %s: ", cmd ? cmd->name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd)
		fprintf(stderr, "Try 'kfboot %s --help'.\n", cmd->name);
	return KF_EXIT_USAGE;
}

bool kf_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

int kf_cli_help(const struct kf_cmd *cmd)
{
	fputs(cmd->usage, stdout);
	if (cmd->usage[0] && cmd->usage[strlen(cmd->usage) - 1] != '\n')
		fputc('\n', stdout);
	return KF_EXIT_OK;
}

static enum kf_output print_format = KF_OUT_JSON;

void kf_cli_set_output(enum kf_output o)
{
	print_format = o == KF_OUT_YAML ? KF_OUT_YAML : KF_OUT_JSON;
}

void kf_cli_print_json(const json_t *v)
{
	char *s;

	if (print_format == KF_OUT_YAML) {
		struct kf_buf b = KF_BUF_INIT;

		if (kf_yaml_emit(&b, v, false, NULL) == 0) {
			fwrite(b.buf, 1, b.len, stdout);
			kf_buf_release(&b);
			return;
		}
		kf_buf_release(&b);
	}
	s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
	}
}

const char *kf_cli_c(const struct kf_cli *cli, const char *esc)
{
	return cli && cli->color ? esc : "";
}

void kf_cli_deprecated(struct kf_cli *cli, const char *old, const char *now)
{
	static const char *said;

	if (cli->quiet || (said && !strcmp(said, old)))
		return;
	said = old;
	fprintf(stderr, "kfboot: warning: '%s' is deprecated and goes in the next release; use %s\n", old, now);
}
