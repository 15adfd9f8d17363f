/*
 * cmd_validate.c - `kfboot validate -f FILE...`: check Cluster profiles and
 * report every problem, one line each, as FILE:LINE:COL: error: MESSAGE.
 *
 * Text output goes to stdout (the problems are the result), sorted by
 * position, followed by a one-line summary per file. `-o json` prints one
 * object per file (an array when there are several); `-o yaml` prints each
 * valid profile with its defaults filled in, so a user can see exactly what
 * kfboot will do, and sends problems to stderr. The exit status is 1 when
 * any file has a problem.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config/config.h"
#include "yaml/yaml.h"

static const struct kf_cmd *self(void);

struct result {
	const char *file;
	struct kf_cluster *cluster; /* NULL when invalid */
	struct kf_diags diags;
};

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* Load one file; a file that cannot be read becomes a diagnostic too. */
static void check_file(struct result *r, const char *file)
{
	struct kf_err *err = NULL;
	size_t before;

	memset(r, 0, sizeof(*r));
	r->file = file;
	before = r->diags.n;
	if (kf_cluster_load(&r->cluster, file, &r->diags, &err) < 0 && r->diags.n == before) {
		char *msg = kf_err_str(err);

		kf_diags_add(&r->diags, file, 0, 0, "%s", msg);
		free(msg);
	}
	kf_diags_sort(&r->diags);
	kf_err_free(err);
}

static void print_text(FILE *f, const struct result *r, const struct kf_cli *cli,
		       bool color)
{
	const char *red = color ? kf_cli_c(cli, KF_C_RED) : "";
	const char *bold = color ? kf_cli_c(cli, KF_C_BOLD) : "";
	const char *green = color ? kf_cli_c(cli, KF_C_GREEN) : "";
	const char *reset = color ? kf_cli_c(cli, KF_C_RESET) : "";

	for (size_t i = 0; i < r->diags.n; i++) {
		const struct kf_diag *d = &r->diags.v[i];

		if (d->line > 0) {
			fprintf(f, "%s%s:%d:%d:%s %serror:%s %s\n", bold, r->file, d->line,
				d->col > 0 ? d->col : 1, reset, red, reset, d->msg);
			if (!cli->quiet)
				kf_cli_show_source(f, r->file, d->line, d->col);
		}
		else
			fprintf(f, "%s%s:%s %serror:%s %s\n", bold, r->file, reset, red, reset, d->msg);
	}
	if (cli->quiet)
		return;
	if (r->cluster) {
		size_t cp = kf_cluster_count_role(r->cluster, KF_ROLE_CONTROL_PLANE);
		size_t w = kf_cluster_count_role(r->cluster, KF_ROLE_WORKER);

		fprintf(f, "%s: %sok%s (%zu control plane, %zu %s)\n", r->file, green, reset,
			cp, w, plural(w, "worker", "workers"));
	} else {
		fprintf(f, "%s: %zu %s\n", r->file, r->diags.n,
			plural(r->diags.n, "problem", "problems"));
	}
}

static json_t *result_json(const struct result *r)
{
	json_t *errors = json_array();
	json_t *o;

	for (size_t i = 0; i < r->diags.n; i++) {
		const struct kf_diag *d = &r->diags.v[i];

		json_array_append_new(errors, json_pack("{s:i, s:i, s:s}", "line", d->line,
							"col", d->col, "message", d->msg));
	}
	o = json_pack("{s:s, s:b, s:o}", "file", r->file, "valid", r->cluster != NULL,
		      "errors", errors);
	if (r->cluster) {
		json_object_set_new(o, "controlPlanes",
				    json_integer((json_int_t)kf_cluster_count_role(r->cluster, KF_ROLE_CONTROL_PLANE)));
		json_object_set_new(o, "workers",
				    json_integer((json_int_t)kf_cluster_count_role(r->cluster, KF_ROLE_WORKER)));
	}
	return o;
}

static int print_yaml(const struct result *r, bool several)
{
	struct kf_buf out = KF_BUF_INIT;
	struct kf_err *err = NULL;
	json_t *j = kf_cluster_to_json(r->cluster);
	int result = 0;

	if (several)
		printf("# %s\n", r->file);
	if (kf_yaml_emit(&out, j, several, &err) < 0) {
		result = kf_cli_fail(NULL, err);
		goto out;
	}
	fwrite(out.buf, 1, out.len, stdout);
out:
	json_decref(j);
	kf_buf_release(&out);
	kf_err_free(err);
	return result;
}

static int run_validate(int argc, char **argv, struct kf_cli *cli)
{
	const char **files = kf_xcalloc((size_t)argc + 1, sizeof(char *));
	struct result *res = NULL;
	size_t nfiles = 0, nbad = 0;
	bool opts_done = false;
	int result = KF_EXIT_OK;
	json_t *all = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts_done || a[0] != '-' || !strcmp(a, "-")) {
			files[nfiles++] = !strcmp(a, "-") ? "/dev/stdin" : a;
		} else if (!strcmp(a, "--")) {
			opts_done = true;
		} else if (!strcmp(a, "-f") || !strcmp(a, "--filename") || !strcmp(a, "--file")) {
			if (!strcmp(a, "--file"))
				kf_cli_deprecated(cli, "--file", "-f/--filename");
			if (i + 1 >= argc) {
				result = kf_cli_usage(cli, self(), "option '%s' needs a file", a);
				goto out;
			}
			a = argv[++i];
			files[nfiles++] = !strcmp(a, "-") ? "/dev/stdin" : a;
		} else if (!strncmp(a, "--filename=", 11)) {
			files[nfiles++] = a + 11;
		} else if (!strncmp(a, "--file=", 7)) {
			kf_cli_deprecated(cli, "--file", "-f/--filename");
			files[nfiles++] = a + 7;
		} else if (!strncmp(a, "-f", 2)) {
			files[nfiles++] = a + 2;
		} else {
			result = kf_cli_usage(cli, self(), "unknown option '%s'", a);
			goto out;
		}
	}
	if (!nfiles) {
		result = kf_cli_usage(cli, self(), "no profile given (use -f FILE)");
		goto out;
	}

	res = kf_xcalloc(nfiles, sizeof(*res));
	if (cli->output == KF_OUT_JSON && nfiles > 1)
		all = json_array();
	for (size_t i = 0; i < nfiles; i++) {
		struct result *r = &res[i];

		check_file(r, files[i]);
		if (!r->cluster)
			nbad++;
		switch (cli->output) {
		case KF_OUT_JSON:
			if (all) {
				json_array_append_new(all, result_json(r));
			} else {
				json_t *o = result_json(r);

				kf_cli_print_json(o);
				json_decref(o);
			}
			break;
		case KF_OUT_YAML:
			if (r->cluster) {
				if (print_yaml(r, nfiles > 1))
					nbad++;
			} else {
				print_text(stderr, r, cli, cli->color);
			}
			break;
		case KF_OUT_TEXT:
		default:
			print_text(stdout, r, cli, cli->color && isatty(STDOUT_FILENO));
			break;
		}
	}
	if (all)
		kf_cli_print_json(all);
	if (nbad)
		result = KF_EXIT_FAIL;
out:
	for (size_t i = 0; res && i < nfiles; i++) {
		kf_cluster_free(res[i].cluster);
		kf_diags_release(&res[i].diags);
	}
	free(res);
	free(files);
	json_decref(all);
	return result;
}

const struct kf_cmd kf_cmd_validate = {
	.name = "validate",
	.run = run_validate,
	.summary = "check cluster profiles and report every problem",
	.usage =
	"usage: kfboot validate [-o text|json|yaml] -f FILE [-f FILE...]\n"
	"\n"
	"Check Cluster profiles (kind: Cluster, see docs/profile.md) without\n"
	"connecting to anything, and report every problem at once, one per line:\n"
	"\n"
	"  FILE:LINE:COL: error: MESSAGE\n"
	"\n"
	"Options:\n"
	"  -f, --filename FILE  a profile to check; repeat for several. '-' reads\n"
	"                    standard input. Files may also be given without -f.\n"
	"\n"
	"Output:\n"
	"  text   problems sorted by position, then 'FILE: ok (1 control plane,\n"
	"         2 workers)' or 'FILE: N problems'. -q leaves out the summaries.\n"
	"  json   {\"file\", \"valid\", \"errors\": [{\"line\", \"col\", \"message\"}]},\n"
	"         an array of them for several files.\n"
	"  yaml   each valid profile with every default filled in (problems go\n"
	"         to stderr).\n"
	"\n"
	"Exit status: 0 when every profile is valid, 1 when any has a problem,\n"
	"2 on a usage error.\n",
};

static const struct kf_cmd *self(void)
{
	return &kf_cmd_validate;
}
