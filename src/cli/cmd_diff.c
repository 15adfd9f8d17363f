/*
 * cmd_diff.c - `kfboot diff`: what `kfboot apply` would change, as a
 * unified diff of each live object against the server's dry-run result of
 * applying the desired one, without status, managedFields and other fields
 * the server sets. Exit 3 when anything differs, 0 when nothing does.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd_kube.h"

static int run_diff(int argc, char **argv, struct kf_cli *cli)
{
	struct kf_kube_cli c = { 0 };
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_buf out = KF_BUF_INIT;
	struct kf_apply_result plan = { 0 };
	struct kf_apply_opts ao = { 0 };
	struct kf_err *err = NULL;
	size_t ndiff = 0, nprune = 0;
	int rc, exit_code = KF_EXIT_OK;

	c.cli = cli;
	rc = kf_kube_cli_parse(&c, &kf_cmd_diff, "f,kubeconfig,context,namespace,inventory,prune,timeout,force-conflicts,http1", argc, argv);
	if (rc) {
		exit_code = rc;
		goto out;
	}
	if (!c.nfiles) {
		exit_code = kf_cli_usage(cli, &kf_cmd_diff, "nothing to diff: pass -f FILE|DIR");
		goto out;
	}
	/* Local files first: nothing waits on the network for a broken file. */
	rc = kf_kube_cli_read(&c, &set, &err);
	if (!rc)
		rc = kf_kube_cli_connect(&c, &err);
	if (!rc)
		rc = kf_kube_cli_load(&c, &set, &err);
	if (!rc) {
		/* What the inventory says is unchanged needs no dry run. */
		ao.plan_only = true;
		ao.prune = c.prune;
		ao.force_prune = true;
		ao.inventory = c.inventory;
		ao.default_ns = c.cfg->namespace;
		rc = kf_apply_run(&plan, c.k, c.d, &set, &ao, &err);
	}
	if (!rc)
		rc = kf_diff_run_changed(&out, &ndiff, c.k, c.d, &set, c.force_conflicts, &err);
	if (rc) {
		exit_code = kf_cli_fail(cli, err);
		goto out;
	}
	nprune = json_array_size(json_object_get(plan.report, "toPrune"));
	if (kf_cli_structured(cli)) {
		json_t *o = json_pack("{s:I, s:I, s:I, s:s, s:O}", "objects", (json_int_t)set.n, "different",
				      (json_int_t)ndiff, "unchangedSinceApply", (json_int_t)plan.unchanged,
				      "diff", out.buf, "toPrune", json_object_get(plan.report, "toPrune"));

		kf_cli_print_json(o);
		json_decref(o);
	} else {
		const json_t *p;
		size_t i;

		fwrite(out.buf, 1, out.len, stdout);
		json_array_foreach(json_object_get(plan.report, "toPrune"), i, p)
			printf("would prune %s\n", json_string_value(p));
		if (!cli->quiet)
			fprintf(stderr, "%zu of %zu objects differ (%zu unchanged since kfboot applied them)%s\n", ndiff,
				set.n, plan.unchanged, nprune ? "; some would be pruned" : "");
	}
	exit_code = ndiff || nprune ? KF_EXIT_DIFF : KF_EXIT_OK;
out:
	kf_apply_result_release(&plan);
	kf_buf_release(&out);
	kf_objset_release(&set);
	kf_kube_cli_release(&c);
	kf_err_free(err);
	return exit_code;
}

const struct kf_cmd kf_cmd_diff = {
	.name = "diff",
	.run = run_diff,
	.summary = "show what apply would change (unified diff; exit 3 when different)",
	.usage =
		"usage: kfboot diff -f FILE|DIR... [--inventory [NS/]NAME [--prune]] [-n NS] [--context C]\n"
		"                   [--kubeconfig F] [--force-conflicts] [--timeout D] [-o json]\n"
		"\n"
		"Compare each live object with the result of a server-side dry-run apply of the\n"
		"desired one, both without status, managedFields, resourceVersion and the other\n"
		"fields the server sets, and print a unified diff. Objects that do not exist yet\n"
		"are shown as new. Objects the inventory (same as apply's; default\n"
		"kube-system/kfboot) shows unchanged since kfboot applied them are not asked\n"
		"about at all. --prune also lists the members that apply --prune would delete.\n"
		"Secret values are shown as *** (changed or unchanged), as kubectl shows them.\n"
		"\n"
		"  -f, --filename F     file or directory (repeatable; '-' is stdin)\n"
		"  --inventory [NS/]N   ApplySet parent Secret (default kube-system/kfboot)\n"
		"  --prune              also list what apply --prune would delete\n"
		"  -n, --namespace NS   namespace for namespaced objects that name none\n"
		"  --force-conflicts    compare as apply --force-conflicts would apply\n"
		"  --context C          kubeconfig context\n"
		"  --kubeconfig F       kubeconfig file (default: KUBECONFIG, then ~/.kube/config)\n"
		"  --timeout D          overall deadline (e.g. 90s, 10m)\n"
		"\n"
		"Exit status: 0 no differences, 3 differences, 1 error.\n",
};
