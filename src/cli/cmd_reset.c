/*
 * cmd_reset.c - `kfboot reset -f PROFILE [--yes]`: undo `up` on every host
 * (kubeadm reset, then the CNI configuration, interfaces and iptables rules
 * kubeadm reset leaves behind) and forget the cluster's journal and
 * kubeconfig. Destructive, so it asks on a terminal and refuses without
 * --yes when stdin is not one.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "provision/provision.h"

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
		{ "file", required_argument, NULL, 'f' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "yes", no_argument, NULL, 'y' },
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
	bool yes = false;
	int rc = KF_EXIT_OK;
	int opt, res;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+f:y", longopts, NULL)) != -1) {
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
				return kf_cli_usage(cli, &kf_cmd_reset, "--parallel must be 1..1024");
			break;
		case 'y':
			yes = true;
			break;
		default:
			return kf_cli_usage(cli, &kf_cmd_reset, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return kf_cli_usage(cli, &kf_cmd_reset, "unexpected argument '%s'", argv[optind]);
	if (!file)
		return kf_cli_usage(cli, &kf_cmd_reset, "missing -f PROFILE");
	if (kf_prov_load_profile(&c, file, &err)) {
		rc = kf_cli_fail(cli, err);
		goto out;
	}
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
	logf = kf_prov_open_log(c, &o, "reset", &logpath, &err);
	if (!logf) {
		rc = kf_cli_fail(cli, err);
		goto out;
	}
	kf_log_set_file(logf);
	kf_log_write(KF_LOG_DEBUG, NULL, "kfboot %s: reset -f %s", KF_VERSION, file);
	prog = kf_progress_new(stderr, c, cli->tty && !cli->quiet && cli->verbosity <= 0, cli->color, cli->quiet);
	o.on_event = kf_progress_event;
	o.event_ctx = prog;
	res = kf_reset(c, &o, &sum, &err);
	kf_progress_free(prog);
	prog = NULL;
	if (cli->output == KF_OUT_JSON) {
		json_t *j = json_pack("{s:s, s:b, s:i, s:i, s:f, s:O, s:s}", "cluster", c->name, "ok", res == 0,
				      "changed", sum.changed, "unchanged", sum.unchanged, "elapsed", sum.elapsed,
				      "hosts", sum.hosts, "log", logpath);

		kf_cli_print_json(j);
		json_decref(j);
	}
	if (res) {
		rc = kf_cli_fail(cli, err);
		goto out;
	}
	if (cli->output != KF_OUT_JSON && !cli->quiet) {
		char tb[32];

		if (sum.changed == 0)
			printf("nothing to do: no host of cluster '%s' had anything to reset (%s)\n", c->name,
			       kf_duration_fmt(sum.elapsed, tb));
		else
			printf("cluster '%s' reset on %zu host%s in %s; packages and containerd stay installed\n",
			       c->name, c->nhosts, c->nhosts == 1 ? "" : "s", kf_duration_fmt(sum.elapsed, tb));
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
		 "  -f, --file PROFILE   the cluster profile\n"
		 "  -y, --yes            do not ask\n"
		 "      --state-dir DIR  where the journal and kubeconfig live\n"
		 "      --parallel N     hosts worked on at once (default 32)\n"
		 "  -o json              a JSON summary on stdout\n",
};
