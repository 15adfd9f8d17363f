/*
 * cmd_delete.c - `kfboot delete --inventory NAME`: delete every object an
 * ApplySet inventory recorded (found by its part-of label, in reverse apply
 * order: webhooks and custom resources before CRDs and Namespaces), except
 * those annotated kfboot.io/prune: disabled, then the inventory itself.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd_kube.h"

static int run_delete(int argc, char **argv, struct kf_cli *cli)
{
	struct kf_kube_cli c = { 0 };
	struct kf_apply_result res = { 0 };
	struct kf_apply_opts ao = { 0 };
	struct kf_err *err = NULL;
	int rc, exit_code = KF_EXIT_OK;

	c.cli = cli;
	rc = kf_kube_cli_parse(&c, &kf_cmd_delete, "kubeconfig,context,inventory,timeout,dry-run,http1", argc, argv);
	if (rc) {
		exit_code = rc;
		goto out;
	}
	if (!c.inventory) {
		exit_code = kf_cli_usage(cli, &kf_cmd_delete, "which inventory? pass --inventory [NS/]NAME");
		goto out;
	}
	if (c.dry_run_client) {
		exit_code = kf_cli_usage(cli, &kf_cmd_delete, "--dry-run=client: the members are found on the server; use --dry-run=server");
		goto out;
	}
	rc = kf_kube_cli_connect(&c, &err);
	if (rc) {
		exit_code = kf_cli_fail(cli, err);
		goto out;
	}
	ao.dry_run = c.dry_run;
	ao.inventory = c.inventory;
	ao.timeout = c.timeout;
	ao.progress = kf_kube_cli_progress;
	ao.progress_ctx = &c;
	rc = kf_apply_delete_inventory(&res, c.k, c.d, &ao, &err);
	kf_kube_cli_progress_done(&c);
	if (kf_cli_structured(cli)) {
		json_t *o = json_pack("{s:b, s:b, s:I, s:I}", "ok", rc == 0, "dryRun", c.dry_run,
				      "deleted", (json_int_t)res.pruned, "kept", (json_int_t)res.prune_skipped);

		if (res.report)
			json_object_update(o, res.report);
		kf_cli_print_json(o);
		json_decref(o);
	} else {
		const json_t *p;
		size_t i;

		json_array_foreach(json_object_get(res.report, "prunedObjects"), i, p)
			printf("%sdeleted %s\n", c.dry_run ? "(dry run) " : "", json_string_value(p));
		printf("%zu deleted, %zu kept (kfboot.io/prune: disabled)\n", res.pruned, res.prune_skipped);
	}
	if (rc)
		exit_code = kf_cli_fail(cli, err);
out:
	kf_apply_result_release(&res);
	kf_kube_cli_release(&c);
	kf_err_free(err);
	return exit_code;
}

const struct kf_cmd kf_cmd_delete = {
	.name = "delete",
	.run = run_delete,
	.summary = "delete everything an apply inventory recorded",
	.usage =
		"usage: kfboot delete --inventory [NS/]NAME [--dry-run[=server|none]] [--context C]\n"
		"                     [--kubeconfig F] [--timeout D] [-o json]\n"
		"\n"
		"Delete every object labelled as a member of the inventory (kubectl's ApplySet\n"
		"part-of label), in reverse apply order, then the inventory Secret. Objects\n"
		"annotated kfboot.io/prune: disabled are kept. Objects without kfboot's label are\n"
		"never touched.\n"
		"\n"
		"  --inventory [NS/]N   ApplySet parent Secret whose members go\n"
		"  --dry-run[=MODE]     server (the default): every delete as a server-side dry run;\n"
		"                       none: really delete (client is refused: the members are\n"
		"                       found on the server)\n"
		"  --context C          kubeconfig context\n"
		"  --kubeconfig F       kubeconfig file (default: KUBECONFIG, then ~/.kube/config)\n"
		"  --timeout D          overall deadline (e.g. 90s, 10m)\n",
};
