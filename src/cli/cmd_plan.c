/*
 * cmd_plan.c - `kfboot plan -f PROFILE`: for every host and phase, the
 * exact commands `kfboot up` (or, with --reset, `kfboot reset`) would run,
 * without contacting any host or writing any file. Text for people, or
 * `-o json` for machines.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "provision/provision.h"
#include "yaml/yaml.h"

extern const struct kf_cmd kf_cmd_plan;

/* -o json or -o yaml. */
static void print_doc(struct kf_cli *cli, const json_t *j)
{
	struct kf_buf b = KF_BUF_INIT;

	if (cli->output == KF_OUT_YAML && kf_yaml_emit(&b, j, false, NULL) == 0)
		fwrite(b.buf, 1, b.len, stdout);
	else
		kf_cli_print_json(j);
	kf_buf_release(&b);
}

static int run_plan(int argc, char **argv, struct kf_cli *cli)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "reset", no_argument, NULL, 'r' },
		{ "state-dir", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct kf_prov_opts o = { 0 };
	struct kf_cluster *c = NULL;
	struct kf_plan *plan = NULL;
	struct kf_err *err = NULL;
	const char *file = NULL;
	bool reset = false;
	int rc = KF_EXIT_OK;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+f:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			file = optarg;
			break;
		case 'r':
			reset = true;
			break;
		case 's':
			o.state_dir = optarg;
			break;
		default:
			return kf_cli_usage(cli, &kf_cmd_plan, "unknown or incomplete option '%s'",
					    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return kf_cli_usage(cli, &kf_cmd_plan, "unexpected argument '%s'", argv[optind]);
	if (!file)
		return kf_cli_usage(cli, &kf_cmd_plan, "missing -f PROFILE");
	if (kf_prov_load_profile(&c, file, &err) ||
	    kf_plan_build(&plan, c, &o, reset, &err)) {
		rc = kf_cli_fail(cli, err);
		goto out;
	}
	if (cli->output != KF_OUT_TEXT) {
		json_t *j = kf_plan_to_json(plan);

		print_doc(cli, j);
		json_decref(j);
	} else {
		struct kf_buf b = KF_BUF_INIT;

		kf_plan_render(&b, plan, cli->color && isatty(STDOUT_FILENO), cli->verbosity > 0);
		fwrite(b.buf, 1, b.len, stdout);
		kf_buf_release(&b);
	}
out:
	kf_plan_free(plan);
	kf_cluster_free(c);
	kf_err_free(err);
	return rc;
}

const struct kf_cmd kf_cmd_plan = {
	.name = "plan",
	.run = run_plan,
	.summary = "show, per host and phase, the commands `up` would run (offline)",
	.usage = "usage: kfboot plan -f PROFILE [--reset] [--state-dir DIR] [-v] [-o json]\n"
		 "\n"
		 "Print, for every host of the cluster profile and every phase of `kfboot up`,\n"
		 "the exact commands kfboot would run over SSH, the files it would upload\n"
		 "(with the generated kubeadm configuration) and what each node script does.\n"
		 "Nothing is contacted and nothing is changed: plan works offline.\n"
		 "\n"
		 "  -f, --file PROFILE   the cluster profile (kind: Cluster)\n"
		 "      --reset          show what `kfboot reset` would run instead\n"
		 "      --state-dir DIR  where the journal and kubeconfig live\n"
		 "                       (default ~/.local/state/kfboot/<cluster>)\n"
		 "  -v                   also show every generated file and every bundle file\n"
		 "  -o json|yaml         the plan as JSON or YAML\n",
};
