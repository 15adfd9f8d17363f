/*
 * cmd_up.c - `kfboot up -f PROFILE`: bring the cluster to the profile over
 * SSH (connect, facts, preflight, prepare, init, network, join, kubeconfig,
 * labels, wait), then install the profile's Kubeflow components from this
 * machine (unless --skip-kubeflow). Re-running converges: finished work is detected and
 * skipped, an added host is joined, an interrupted run resumes. A live view
 * on a terminal, plain lines otherwise; the run's log (redacted) goes to the
 * cluster's state directory. The closing summary goes to stdout.
 */
#include <stdlib.h>
#include <string.h>

#include "profile_opts.h"

extern const struct kf_cmd kf_cmd_up;

enum { OPT_WAIT_TIMEOUT = 1, OPT_IGNORE_PREFLIGHT, OPT_SKIP_KUBEFLOW };

static int up_option(void *ctx, int opt, const char *arg, struct kf_cli *cli,
		     const struct kf_cmd *cmd)
{
	struct kf_prov_opts *o = ctx;

	switch (opt) {
	case OPT_WAIT_TIMEOUT:
		if (kf_duration_parse(arg, &o->wait_timeout) || o->wait_timeout <= 0)
			return kf_cli_usage(cli, cmd, "--wait-timeout '%s' is not a duration (e.g. 5m)", arg);
		return 0;
	case OPT_IGNORE_PREFLIGHT:
		for (const char *p = arg; *p;) {
			size_t len = strcspn(p, ",");
			bool known = len == 3 && !strncmp(p, "all", 3);

			for (size_t k = 0; kf_preflight_checks[k] && !known; k++)
				known = strlen(kf_preflight_checks[k]) == len && !strncmp(p, kf_preflight_checks[k], len);
			if (!known)
				return kf_cli_usage(cli, cmd, "--ignore-preflight: unknown check '%.*s' (arch, cgroups, modules, joined, ports, memory, cpus, role, hostname, clock, all)",
						    (int)len, p);
			p += len;
			p += *p == ',';
		}
		o->ignore_preflight = arg;
		return 0;
	case OPT_SKIP_KUBEFLOW:
		o->skip_kubeflow = true;
		return 0;
	}
	return kf_cli_usage(cli, cmd, "unknown or incomplete option");
}

static int run_up(int argc, char **argv, struct kf_cli *cli)
{
	static const struct option longopts[] = {
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		{ "ignore-preflight", required_argument, NULL, OPT_IGNORE_PREFLIGHT },
		{ "skip-kubeflow", no_argument, NULL, OPT_SKIP_KUBEFLOW },
		{ NULL, 0, NULL, 0 },
	};
	struct kf_profile_opts po = { 0 };
	struct kf_profile_run run = { 0 };
	struct kf_run_summary sum = { 0 };
	struct kf_cluster *c = NULL;
	struct kf_err *err = NULL;
	int rc, up;

	rc = kf_profile_opts_parse(&po, cli, &kf_cmd_up, argc, argv, KF_PO_PARALLEL, longopts, NULL,
				   up_option, &po.o);
	if (rc)
		return rc;
	rc = kf_profile_opts_load(&c, &po, cli);
	if (!rc)
		rc = kf_profile_run_begin(&run, &po, c, cli, "up");
	if (rc)
		goto out;
	up = kf_up(c, &po.o, &sum, &err);
	{
		json_t *extra = json_object();

		if (sum.kubeconfig)
			json_object_set_new(extra, "kubeconfig", json_string(sum.kubeconfig));
		if (sum.kubeflow_password_file)
			json_object_set_new(extra, "kubeflowPasswordFile", json_string(sum.kubeflow_password_file));
		rc = kf_profile_run_report(&run, cli, c, up, &sum, extra, err, true);
	}
	if (rc)
		goto out;
	if (!kf_cli_structured(cli) && !cli->quiet) {
		char tb[32];
		const char *B = kf_cli_c(cli, KF_C_BOLD), *Z = kf_cli_c(cli, KF_C_RESET);

		if (sum.changed == 0)
			printf("%snothing to do:%s cluster '%s' already matches the profile (%zu host%s, %d steps checked in %s)\n",
			       B, Z, c->name, c->nhosts, c->nhosts == 1 ? "" : "s", sum.unchanged,
			       kf_duration_fmt(sum.elapsed, tb));
		else
			printf("%scluster '%s' is up:%s %zu node%s Ready; %d step%s changed, %d already done, in %s\n",
			       B, c->name, Z, c->nhosts, c->nhosts == 1 ? "" : "s", sum.changed,
			       sum.changed == 1 ? "" : "s", sum.unchanged, kf_duration_fmt(sum.elapsed, tb));
		if (sum.kubeconfig)
			printf("kubeconfig: %s\n  export KUBECONFIG=%s\n", sum.kubeconfig, sum.kubeconfig);
		if (sum.kubeflow_password_file)
			printf("Kubeflow admin login: admin@example.com; a password was generated into %s (mode 0600)\n",
			       sum.kubeflow_password_file);
		printf("log: %s\n", run.path);
	}
out:
	kf_profile_run_release(&run);
	kf_run_summary_release(&sum);
	kf_cluster_free(c);
	kf_err_free(err);
	return rc;
}

const struct kf_cmd kf_cmd_up = {
	.name = "up",
	.run = run_up,
	.summary = "bootstrap or converge the cluster of a profile over SSH",
	.usage = "usage: kfboot up -f PROFILE [--state-dir DIR] [--parallel N] [--wait-timeout DURATION]\n"
		 "                         [--ignore-preflight CHECKS] [--skip-kubeflow]\n"
		 "\n"
		 "Connect to every host of the profile, check them all (one report before any\n"
		 "change), prepare them, create the control plane, install the network plugin,\n"
		 "join the workers, fetch the admin kubeconfig, apply labels and taints, wait\n"
		 "for every node to be Ready, then install the Kubeflow components of\n"
		 "spec.kubeflow in dependency order (from this machine, with the fetched\n"
		 "kubeconfig). `kfboot plan` shows the exact commands.\n"
		 "\n"
		 "Running it again converges: work the hosts' facts show done is skipped (\"nothing\n"
		 "to do\" when all is), a host added to the profile is prepared and joined alone,\n"
		 "and an interrupted run picks up where it stopped (journal in the state dir).\n"
		 "\n"
		 "  -f, --filename PROFILE    the cluster profile (kind: Cluster)\n"
		 "      --state-dir DIR       journal, kubeconfig and logs (default\n"
		 "                            ~/.local/state/kfboot; the cluster's files go to DIR/<cluster>)\n"
		 "      --parallel N          hosts worked on at once (default 32)\n"
		 "      --wait-timeout DUR    deadline for all nodes to be Ready (default 5m)\n"
		 "      --ignore-preflight CHECKS  only warn about these preflight checks (comma-\n"
		 "                            separated): arch, cgroups, modules, joined, ports,\n"
		 "                            memory, cpus, role, hostname, clock, or all; a missing\n"
		 "                            passwordless sudo always stops `up`\n"
		 "      --skip-kubeflow       leave out the phase \"install Kubeflow\" (a plain\n"
		 "                            Kubernetes cluster; a later `up` without it installs)\n"
		 "  -o json                   a JSON summary on stdout\n"
		 "  -q                        print failures only\n"
		 "  -v                        also print every command and script line (as in\n"
		 "                            the log file); plain lines instead of the live view\n",
};
