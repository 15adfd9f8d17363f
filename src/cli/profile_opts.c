/*
 * profile_opts.c - the option parsing, profile loading, log file and
 * progress set-up that `plan`, `up`, `reset`, `status` and `kubeconfig`
 * share (profile_opts.h), so each of those command files keeps only what
 * is its own: its options, what it runs and how it prints the result.
 */
#include <stdlib.h>
#include <string.h>

#include "profile_opts.h"

enum { OPT_FILE = 'f', OPT_STATE_DIR = 0x1000, OPT_PARALLEL, OPT_FILE_OLD };

int kf_profile_opt_flag(void *ctx, int opt, const char *arg, struct kf_cli *cli,
			const struct kf_cmd *cmd)
{
	(void)opt;
	(void)arg;
	(void)cli;
	(void)cmd;
	*(bool *)ctx = true;
	return 0;
}

int kf_profile_opt_value(void *ctx, int opt, const char *arg, struct kf_cli *cli,
			 const struct kf_cmd *cmd)
{
	(void)opt;
	(void)cli;
	(void)cmd;
	*(const char **)ctx = arg;
	return 0;
}

int kf_profile_opts_parse(struct kf_profile_opts *po, struct kf_cli *cli,
			  const struct kf_cmd *cmd, int argc, char **argv,
			  unsigned flags, const struct option *extra,
			  const char *shortopts, kf_profile_opt_fn fn, void *ctx)
{
	struct option *longopts;
	char *shorts = kf_xasprintf("+f:%s", shortopts ? shortopts : "");
	size_t n = 0, nextra = 0;
	int opt, rc = 0;

	while (extra && extra[nextra].name)
		nextra++;
	longopts = kf_xcalloc(nextra + 5, sizeof(*longopts));
	longopts[n++] = (struct option){ "filename", required_argument, NULL, OPT_FILE };
	longopts[n++] = (struct option){ "file", required_argument, NULL, OPT_FILE_OLD };
	longopts[n++] = (struct option){ "state-dir", required_argument, NULL, OPT_STATE_DIR };
	if (flags & KF_PO_PARALLEL)
		longopts[n++] = (struct option){ "parallel", required_argument, NULL, OPT_PARALLEL };
	for (size_t i = 0; i < nextra; i++)
		longopts[n++] = extra[i];
	optind = 1;
	opterr = 0;
	while (!rc && (opt = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_FILE_OLD:
			kf_cli_deprecated(cli, "--file", "-f/--filename");
			/* fall through */
		case OPT_FILE:
			po->file = optarg;
			break;
		case OPT_STATE_DIR:
			po->o.state_dir = optarg;
			break;
		case OPT_PARALLEL:
			po->o.parallel = atoi(optarg);
			if (po->o.parallel < 1 || po->o.parallel > 1024)
				rc = kf_cli_usage(cli, cmd, "--parallel must be 1..1024");
			break;
		case '?':
		case ':':
			rc = kf_cli_usage(cli, cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
			break;
		default:
			rc = fn ? fn(ctx, opt, optarg, cli, cmd)
				: kf_cli_usage(cli, cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
			break;
		}
	}
	if (rc)
		goto out;
	if (optind < argc)
		rc = kf_cli_usage(cli, cmd, "unexpected argument '%s'", argv[optind]);
	else if (!po->file)
		rc = kf_cli_usage(cli, cmd, "missing -f PROFILE");
out:
	free(longopts);
	free(shorts);
	return rc;
}

int kf_profile_opts_load(struct kf_cluster **out, const struct kf_profile_opts *po,
			 struct kf_cli *cli)
{
	struct kf_err *err = NULL;
	int rc = KF_EXIT_OK;

	if (kf_prov_load_profile(out, po->file, &err))
		rc = kf_cli_fail(cli, err);
	kf_err_free(err);
	return rc;
}

int kf_profile_run_begin(struct kf_profile_run *run, struct kf_profile_opts *po,
			 const struct kf_cluster *c, struct kf_cli *cli,
			 const char *what)
{
	struct kf_err *err = NULL;
	int rc = KF_EXIT_OK;

	memset(run, 0, sizeof(*run));
	run->what = what;
	run->log = kf_prov_open_log(c, &po->o, what, &run->path, &err);
	if (!run->log) {
		rc = kf_cli_fail(cli, err);
		goto out;
	}
	kf_log_set_file(run->log);
	kf_log_write(KF_LOG_DEBUG, NULL, "kfboot %s: %s -f %s", KF_VERSION, what, po->file);
	run->prog = kf_progress_new(stderr, c, cli->tty && !cli->quiet && cli->verbosity <= 0, cli->color,
				    cli->quiet);
	po->o.on_event = kf_progress_event;
	po->o.event_ctx = run->prog;
out:
	kf_err_free(err);
	return rc;
}

void kf_profile_run_end(struct kf_profile_run *run)
{
	kf_progress_free(run->prog);
	run->prog = NULL;
}

void kf_profile_run_release(struct kf_profile_run *run)
{
	kf_profile_run_end(run);
	kf_log_set_file(NULL);
	if (run->log)
		fclose(run->log);
	free(run->path);
	memset(run, 0, sizeof(*run));
}

int kf_profile_run_report(struct kf_profile_run *run, struct kf_cli *cli,
			  const struct kf_cluster *c, int res,
			  const struct kf_run_summary *sum, json_t *extra,
			  const struct kf_err *err, bool show_log)
{
	int rc = KF_EXIT_OK;

	kf_profile_run_end(run);
	if (kf_cli_structured(cli)) {
		json_t *j = json_pack("{s:s, s:b, s:i, s:i, s:f, s:O, s:s}", "cluster", c->name, "ok", res == 0,
				      "changed", sum->changed, "unchanged", sum->unchanged, "elapsed", sum->elapsed,
				      "hosts", sum->hosts, "log", run->path);

		if (extra)
			json_object_update(j, extra);
		kf_cli_print_json(j);
		json_decref(j);
	}
	json_decref(extra);
	if (!res)
		return rc;
	if (show_log) {
		char *msg = kf_err_str(err);

		kf_log_write(KF_LOG_DEBUG, NULL, "%s failed: %s", run->what, msg);
		free(msg);
	}
	rc = kf_cli_fail(cli, err);
	if (show_log && !kf_cli_structured(cli))
		fprintf(stderr, "kfboot: log of this run: %s\n", run->path);
	return rc;
}
