/*
 * cli.c - output helpers shared by every command: errors, usage, JSON,
 * colour.
 *
 * Errors go to stderr as one line, "kfboot: error: <context>: <cause>", or
 * as a JSON object with -o json so that machines can read failures too.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "yaml/yaml.h"

static void show_msg_source(FILE *f, const char *msg);

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
		show_msg_source(stderr, safe);
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

int kf_cli_dry_run(struct kf_cli *cli, const struct kf_cmd *cmd, const char *val, unsigned does,
		   enum kf_dry_run bare, const char *hint, enum kf_dry_run *mode)
{
	static const char *const names[] = { "none", "client", "server" };
	enum kf_dry_run m;

	if (!val || !strcmp(val, "true"))
		m = bare;
	else if (!strcmp(val, "false") || !strcmp(val, "none"))
		m = KF_DRY_NONE;
	else if (!strcmp(val, "client"))
		m = KF_DRY_CLIENT;
	else if (!strcmp(val, "server"))
		m = KF_DRY_SERVER;
	else
		return kf_cli_usage(cli, cmd, "--dry-run takes none, client or server, not '%s'", val);
	if (m != KF_DRY_NONE && !(does & KF_DRY_DOES(m)))
		return kf_cli_usage(cli, cmd, "--dry-run=%s: the dry run of '%s' is %s-side%s%s", names[m], cmd->name,
				    names[bare], hint ? "; " : "", hint ? hint : "");
	*mode = m;
	return 0;
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

/* Does a line's key (or the key it is under) name something secret? */
static bool secret_key(const char *line)
{
	static const char *const words[] = { "pass", "token", "secret", "key", "cert", "auth", "credential", NULL };
	char low[128];
	size_t i = 0;
	const char *colon = strchr(line, ':');

	if (!colon)
		return false;
	for (const char *p = line; p < colon && i + 1 < sizeof(low); p++)
		low[i++] = (char)tolower((unsigned char)*p);
	low[i] = 0;
	for (size_t w = 0; words[w]; w++)
		if (strstr(low, words[w]))
			return true;
	return false;
}

void kf_cli_show_source(FILE *f, const char *file, int line, int col)
{
	FILE *in;
	char buf[4096];
	int n = 0;
	bool in_data = false, mask;
	int data_indent = -1;

	if (!file || line <= 0 || !strcmp(file, "-") || !strcmp(file, "/dev/stdin"))
		return;
	in = fopen(file, "r");
	if (!in)
		return;
	while (fgets(buf, sizeof(buf), in)) {
		int indent = (int)strspn(buf, " ");

		n++;
		/* Lines under a Secret's data/stringData are never shown. */
		if (in_data && indent <= data_indent && buf[indent] != '\n' && buf[indent] != '#')
			in_data = false;
		if (n == line)
			break;
		if (!strncmp(buf + indent, "data:", 5) || !strncmp(buf + indent, "stringData:", 11)) {
			in_data = true;
			data_indent = indent;
		}
	}
	fclose(in);
	if (n != line)
		return;
	buf[strcspn(buf, "\r\n")] = 0;
	/* URLs with credentials (scheme://user:password@host) lose them */
	for (char *u = strstr(buf, "://"); u; u = strstr(u + 3, "://")) {
		char *auth = u + 3;
		size_t span = strcspn(auth, "/ \t\"'?#");
		char *at = memchr(auth, '@', span);

		if (at) {
			memmove(auth + 3, at, strlen(at) + 1);
			memcpy(auth, "***", 3);
		}
	}
	mask = in_data || secret_key(buf);
	if (mask) {
		char *colon = strchr(buf, ':');

		if (colon && colon[1])
			snprintf(colon + 1, sizeof(buf) - (size_t)(colon + 1 - buf), " ***");
	}
	if (strlen(buf) > 160)
		strcpy(buf + 157, "...");
	{
		char *safe = kf_redact(buf); /* and every secret kfboot knows of */

		fprintf(f, "%6d | %s\n       | %*s^\n", line, safe, col > 1 ? col - 1 : 0, "");
		free(safe);
	}
}

/* "PATH:LINE:COL: ..." at the start of msg: the path (caller frees), line
 * and column; false when msg does not start so. */
static bool msg_position(const char *msg, char **path, int *line, int *col)
{
	for (const char *p = strchr(msg, ':'); p; p = strchr(p + 1, ':')) {
		char *end;
		long l = strtol(p + 1, &end, 10), c;

		if (end == p + 1 || *end != ':')
			continue;
		c = strtol(end + 1, &end, 10);
		if (*end != ':' || l <= 0 || c <= 0)
			continue;
		*path = kf_xstrndup(msg, (size_t)(p - msg));
		*line = (int)l;
		*col = (int)c;
		return true;
	}
	return false;
}

/* The source line of the first "PATH:LINE:COL:" in msg, when it names a file. */
static void show_msg_source(FILE *f, const char *msg)
{
	char *path = NULL;
	int line, col;

	if (msg_position(msg, &path, &line, &col))
		kf_cli_show_source(f, path, line, col);
	free(path);
}

void kf_cli_print_diags(struct kf_cli *cli, struct kf_diags *dg)
{
	kf_diags_sort(dg);
	for (size_t i = 0; i < dg->n; i++) {
		char *s = kf_diag_str(&dg->v[i]);

		fprintf(stderr, "%s%s%s\n", kf_cli_c(cli, KF_C_RED), s, kf_cli_c(cli, KF_C_RESET));
		if (!kf_cli_structured(cli) && dg->v[i].file)
			kf_cli_show_source(stderr, dg->v[i].file, dg->v[i].line, dg->v[i].col);
		else if (!kf_cli_structured(cli))
			show_msg_source(stderr, dg->v[i].msg);
		free(s);
	}
}
