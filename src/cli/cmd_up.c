/*
 * cmd_up.c - `kfboot up -f PROFILE`: bring the cluster to the profile over
 * SSH (connect, facts, preflight, prepare, init, network, join, kubeconfig,
 * labels, wait), then install the profile's Kubeflow components from this
 * machine (unless --skip-kubeflow). Re-running converges: finished work is detected and
 * skipped, an added host is joined, an interrupted run resumes. A live view
 * on a terminal, plain lines otherwise; the run's log (redacted) goes to the
 * cluster's state directory. The closing summary goes to stdout.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "provision/provision.h"

extern const struct kf_cmd kf_cmd_up;

static int run_up(int argc, char **argv, struct kf_cli *cli)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "wait-timeout", required_argument, NULL, 'w' },
		{ "ignore-preflight", required_argument, NULL, 'i' },
		{ "skip-kubeflow", no_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	struct kf_prov_opts o = { 0 };
	struct kf_run_summary sum = { 0 };
	struct kf_cluster *c = NULL;
	struct kf_progress *prog = NULL;
	struct kf_err *err = NULL;
	const char *file = NULL;
	char *logpath = NULL;
	FILE *logf = NULL;
	int rc = KF_EXIT_OK;
	int opt, up;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+f:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			file = optarg;
			break;
		case 's':
			o.state_dir = optarg;
			break;
		case 'p':
			o.parallel = atoi(optarg);
			if (o.parallel < 1 || o.parallel > 1024)
				return kf_cli_usage(cli, &kf_cmd_up, "--parallel must be 1..1024");
			break;
		case 'w':
			if (kf_duration_parse(optarg, &o.wait_timeout) || o.wait_timeout <= 0)
				return kf_cli_usage(cli, &kf_cmd_up, "--wait-timeout '%s' is not a duration (e.g. 5m)", optarg);
			break;
		case 'i':
			for (const char *p = optarg; *p;) {
				size_t len = strcspn(p, ",");
				bool known = len == 3 && !strncmp(p, "all", 3);

				for (size_t k = 0; kf_preflight_checks[k] && !known; k++)
					known = strlen(kf_preflight_checks[k]) == len && !strncmp(p, kf_preflight_checks[k], len);
				if (!known)
					return kf_cli_usage(cli, &kf_cmd_up, "--ignore-preflight: unknown check '%.*s' (arch, cgroups, modules, joined, ports, memory, cpus, role, hostname, clock, all)",
							    (int)len, p);
				p += len;
				p += *p == ',';
			}
			o.ignore_preflight = optarg;
			break;
		case 'K':
			o.skip_kubeflow = true;
			break;
		default:
			return kf_cli_usage(cli, &kf_cmd_up, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return kf_cli_usage(cli, &kf_cmd_up, "unexpected argument '%s'", argv[optind]);
	if (!file)
		return kf_cli_usage(cli, &kf_cmd_up, "missing -f PROFILE");
	if (kf_prov_load_profile(&c, file, &err)) {
		rc = kf_cli_fail(cli, err);
		goto out;
	}
	logf = kf_prov_open_log(c, &o, "up", &logpath, &err);
	if (!logf) {
		rc = kf_cli_fail(cli, err);
		goto out;
	}
	kf_log_set_file(logf);
	kf_log_write(KF_LOG_DEBUG, NULL, "kfboot %s: up -f %s", KF_VERSION, file);
	prog = kf_progress_new(stderr, c, cli->tty && !cli->quiet && cli->verbosity <= 0, cli->color, cli->quiet);
	o.on_event = kf_progress_event;
	o.event_ctx = prog;
	up = kf_up(c, &o, &sum, &err);
	kf_progress_free(prog);
	prog = NULL;
	if (cli->output == KF_OUT_JSON) {
		json_t *j = json_pack("{s:s, s:b, s:i, s:i, s:f, s:O, s:s}", "cluster", c->name, "ok", up == 0,
				      "changed", sum.changed, "unchanged", sum.unchanged, "elapsed", sum.elapsed,
				      "hosts", sum.hosts, "log", logpath);

		if (sum.kubeconfig)
			json_object_set_new(j, "kubeconfig", json_string(sum.kubeconfig));
		if (sum.kubeflow_password_file)
			json_object_set_new(j, "kubeflowPasswordFile", json_string(sum.kubeflow_password_file));
		kf_cli_print_json(j);
		json_decref(j);
	}
	if (up) {
		{
			char *msg = kf_err_str(err);

			kf_log_write(KF_LOG_DEBUG, NULL, "up failed: %s", msg);
			free(msg);
		}
		rc = kf_cli_fail(cli, err);
		if (cli->output != KF_OUT_JSON)
			fprintf(stderr, "kfboot: log of this run: %s\n", logpath);
		goto out;
	}
	if (cli->output != KF_OUT_JSON && !cli->quiet) {
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
		printf("log: %s\n", logpath);
	}
out:
	kf_log_set_file(NULL);
	if (logf)
		fclose(logf);
	kf_progress_free(prog);
	kf_run_summary_release(&sum);
	kf_cluster_free(c);
	kf_err_free(err);
	free(logpath);
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
		 "  -f, --file PROFILE        the cluster profile (kind: Cluster)\n"
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
