/*
 * cmd_reset.c - `kfboot reset -f PROFILE [--yes]`: undo `up` on every host
 * (kubeadm reset, then the CNI configuration, interfaces and iptables rules
 * kubeadm reset leaves behind) and forget the cluster's journal and
 * kubeconfig. Destructive, so it asks on a terminal and refuses without
 * --yes when stdin is not one.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile_opts.h"

extern const struct kf_cmd kf_cmd_reset;

static bool confirm(const struct kf_cluster *c)
{
	char line[256];

	fprintf(stderr, "This resets cluster '%s' on %zu host%s (", c->name, c->nhosts, c->nhosts == 1 ? "" : "s");
	for (size_t i = 0; i < c->nhosts; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", c->hosts[i].name);
	fprintf(stderr, "): kubeadm reset, CNI configuration, iptables rules.\n"
			"Workloads and cluster data are lost. Type the cluster name to go on: ");
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return !strcmp(line, c->name);
}

static int run_reset(int argc, char **argv, struct kf_cli *cli)
{
	static const struct option longopts[] = {
		{ "yes", no_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 },
	};
	struct kf_profile_opts po = { 0 };
	struct kf_profile_run run = { 0 };
	struct kf_run_summary sum = { 0 };
	struct kf_cluster *c = NULL;
	struct kf_err *err = NULL;
	bool yes = false;
	int rc, res;

	rc = kf_profile_opts_parse(&po, cli, &kf_cmd_reset, argc, argv, KF_PO_PARALLEL, longopts, "y",
				   kf_profile_opt_flag, &yes);
	if (rc)
		return rc;
	rc = kf_profile_opts_load(&c, &po, cli);
	if (rc)
		goto out;
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "kfboot: refusing to reset cluster '%s' without --yes: stdin is not a terminal to ask on\n",
				c->name);
			rc = KF_EXIT_USAGE;
			goto out;
		}
		if (!confirm(c)) {
			fprintf(stderr, "kfboot: reset cancelled; nothing was changed\n");
			rc = KF_EXIT_FAIL;
			goto out;
		}
	}
	rc = kf_profile_run_begin(&run, &po, c, cli, "reset");
	if (rc)
		goto out;
	res = kf_reset(c, &po.o, &sum, &err);
	rc = kf_profile_run_report(&run, cli, c, res, &sum, NULL, err, false);
	if (rc)
		goto out;
	if (!kf_cli_structured(cli) && !cli->quiet) {
		char tb[32];

		if (sum.changed == 0)
			printf("nothing to do: no host of cluster '%s' had anything to reset (%s)\n", c->name,
			       kf_duration_fmt(sum.elapsed, tb));
		else
			printf("cluster '%s' reset on %zu host%s in %s; packages and containerd stay installed\n",
			       c->name, c->nhosts, c->nhosts == 1 ? "" : "s", kf_duration_fmt(sum.elapsed, tb));
		printf("log: %s\n", run.path);
	}
out:
	kf_profile_run_release(&run);
	kf_run_summary_release(&sum);
	kf_cluster_free(c);
	kf_err_free(err);
	return rc;
}

const struct kf_cmd kf_cmd_reset = {
	.name = "reset",
	.run = run_reset,
	.summary = "undo `up`: kubeadm reset plus CNI and iptables clean-up on every host",
	.usage = "usage: kfboot reset -f PROFILE [--yes] [--state-dir DIR] [--parallel N]\n"
		 "\n"
		 "Run `kubeadm reset` on every host of the profile, then remove what it leaves:\n"
		 "CNI configuration (/etc/cni/net.d), CNI interfaces, iptables/ip6tables rules,\n"
		 "IPVS tables, kfboot's staging directory; then forget the cluster's journal and\n"
		 "kubeconfig. Packages, containerd and kernel settings stay.\n"
		 "`kfboot plan --reset -f PROFILE` shows the exact commands.\n"
		 "\n"
		 "On a terminal it asks for the cluster name first; without a terminal it refuses\n"
		 "unless --yes is given.\n"
		 "\n"
		 "  -f, --filename PROFILE  the cluster profile\n"
		 "  -y, --yes            do not ask\n"
		 "      --state-dir DIR  where the journal and kubeconfig live\n"
		 "      --parallel N     hosts worked on at once (default 32)\n"
		 "  -o json              a JSON summary on stdout\n",
};
