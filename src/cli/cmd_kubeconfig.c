/*
 * cmd_kubeconfig.c - `kfboot kubeconfig -f PROFILE [--merge FILE]`: print
 * the cluster's admin kubeconfig (the copy `up` saved, or fetched from the
 * control plane when there is none), or merge it into a kubeconfig file
 * (entries named after the cluster are replaced; the file stays 0600).
 */
#include <stdlib.h>
#include <string.h>

#include "profile_opts.h"

extern const struct kf_cmd kf_cmd_kubeconfig;

static int run_kubeconfig(int argc, char **argv, struct kf_cli *cli)
{
	static const struct option longopts[] = {
		{ "merge", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct kf_profile_opts po = { 0 };
	struct kf_cluster *c = NULL;
	struct kf_err *err = NULL;
	struct kf_buf conf = KF_BUF_INIT;
	const char *merge = NULL;
	char *target = NULL;
	bool fetched = false;
	int rc;

	rc = kf_profile_opts_parse(&po, cli, &kf_cmd_kubeconfig, argc, argv, 0, longopts, NULL,
				   kf_profile_opt_value, &merge);
	if (rc)
		return rc;
	rc = kf_profile_opts_load(&c, &po, cli);
	if (rc)
		goto out;
	if (kf_kubeconfig_get(&conf, c, &po.o, &fetched, &err)) {
		rc = kf_cli_fail(cli, err);
		goto out;
	}
	if (fetched)
		fprintf(stderr, "kfboot: fetched the admin kubeconfig from the control plane\n");
	if (merge) {
		target = kf_path_expand(merge);
		if (kf_kubeconfig_merge(target, conf.buf, &err)) {
			rc = kf_cli_fail(cli, err);
			goto out;
		}
		if (!cli->quiet)
			printf("merged cluster '%s' (context '%s') into %s\n", c->name, c->name, target);
	} else {
		fwrite(conf.buf, 1, conf.len, stdout);
	}
out:
	if (conf.alloc)
		memset(conf.buf, 0, conf.len);
	kf_buf_release(&conf);
	kf_cluster_free(c);
	kf_err_free(err);
	free(target);
	return rc;
}

const struct kf_cmd kf_cmd_kubeconfig = {
	.name = "kubeconfig",
	.run = run_kubeconfig,
	.summary = "print the cluster's admin kubeconfig, or merge it into a file",
	.usage = "usage: kfboot kubeconfig -f PROFILE [--merge FILE] [--state-dir DIR]\n"
		 "\n"
		 "Print the admin kubeconfig `kfboot up` saved for the cluster (fetched from the\n"
		 "control plane when there is no local copy). Its server is the control plane's\n"
		 "address, and its cluster, user and context are named after the cluster.\n"
		 "\n"
		 "  -f, --filename PROFILE  the cluster profile\n"
		 "      --merge FILE     merge into FILE (e.g. ~/.kube/config) instead of printing:\n"
		 "                       entries of the same names are replaced, current-context is\n"
		 "                       set only when FILE has none; written atomically, mode 0600\n"
		 "      --state-dir DIR  where the kubeconfig lives\n",
};
