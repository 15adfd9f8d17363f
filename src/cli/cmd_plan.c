/*
 * cmd_plan.c - `kfboot plan -f PROFILE`: for every host and phase, the
 * exact commands `kfboot up` (or, with --reset, `kfboot reset`) would run,
 * without contacting any host or writing any file. Text for people, or
 * `-o json` for machines.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile_opts.h"
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
		{ "reset", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct kf_profile_opts po = { 0 };
	struct kf_cluster *c = NULL;
	struct kf_plan *plan = NULL;
	struct kf_err *err = NULL;
	bool reset = false;
	int rc;

	rc = kf_profile_opts_parse(&po, cli, &kf_cmd_plan, argc, argv, 0, longopts, NULL, kf_profile_opt_flag,
				   &reset);
	if (rc)
		return rc;
	rc = kf_profile_opts_load(&c, &po, cli);
	if (rc)
		goto out;
	if (kf_plan_build(&plan, c, &po.o, reset, &err)) {
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
		if (cli->quiet) {
			/* -q: the one-line summary only. */
			const char *nl = strchr(b.buf, '\n');

			fwrite(b.buf, 1, nl ? (size_t)(nl - b.buf + 1) : b.len, stdout);
		} else {
			fwrite(b.buf, 1, b.len, stdout);
		}
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
		 "  -f, --filename PROFILE  the cluster profile (kind: Cluster)\n"
		 "      --reset          show what `kfboot reset` would run instead\n"
		 "      --state-dir DIR  where the journal and kubeconfig live\n"
		 "                       (default ~/.local/state/kfboot/<cluster>)\n"
		 "  -v                   also show every generated file and every bundle file\n"
		 "  -q                   only the plan's one-line summary\n"
		 "  -o json|yaml         the plan as JSON or YAML\n",
};
