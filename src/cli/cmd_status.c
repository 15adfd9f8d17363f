/*
 * cmd_status.c - `kfboot status -f PROFILE`: per host, whether it answers
 * over SSH, its facts (OS, CPUs, memory, cgroups), kubelet's state, whether
 * it is prepared and joined, and how the control plane sees it. Read-only:
 * the facts script is fed on stdin, nothing is uploaded or changed.
 */
#include <stdlib.h>
#include <string.h>

#include "profile_opts.h"
#include "yaml/yaml.h"

extern const struct kf_cmd kf_cmd_status;

static const char *s_or(json_t *o, const char *k, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v && *v ? v : dflt;
}

static const char *yn(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return !v ? "-" : json_is_true(v) ? "yes" : "no";
}

static int run_status(int argc, char **argv, struct kf_cli *cli)
{
	struct kf_profile_opts po = { 0 };
	struct kf_cluster *c = NULL;
	struct kf_err *err = NULL;
	json_t *st = NULL, *h;
	size_t i, unreachable = 0;
	int rc;

	rc = kf_profile_opts_parse(&po, cli, &kf_cmd_status, argc, argv, 0, NULL, NULL, NULL, NULL);
	if (rc)
		return rc;
	rc = kf_profile_opts_load(&c, &po, cli);
	if (rc)
		goto out;
	if (kf_status(c, &po.o, &st, &err)) {
		rc = kf_cli_fail(cli, err);
		goto out;
	}
	json_array_foreach(json_object_get(st, "hosts"), i, h)
		unreachable += !json_is_true(json_object_get(h, "reachable"));
	if (cli->output == KF_OUT_JSON) {
		kf_cli_print_json(st);
		goto out;
	}
	if (cli->output == KF_OUT_YAML) {
		struct kf_buf b = KF_BUF_INIT;

		if (kf_yaml_emit(&b, st, false, &err) == 0)
			fwrite(b.buf, 1, b.len, stdout);
		kf_buf_release(&b);
		goto out;
	}
	printf("%s%-12s %-15s %-13s %-9s %-22s %-4s %-4s %-10s %-8s %-6s %s%s\n", kf_cli_c(cli, KF_C_BOLD),
	       "HOST", "ADDRESS", "ROLE", "REACHABLE", "OS", "CPUS", "MEM", "KUBELET", "PREPARED", "JOINED", "NODE",
	       kf_cli_c(cli, KF_C_RESET));
	json_array_foreach(json_object_get(st, "hosts"), i, h) {
		char mem[16] = "-", cpus[8] = "-", os[64];
		const char *osn = s_or(h, "os", "-");

		/* "Debian GNU/Linux 12 (bookworm)" -> "Debian GNU/Linux 12" */
		snprintf(os, sizeof(os), "%.*s", (int)(strstr(osn, " (") ? (size_t)(strstr(osn, " (") - osn) : strlen(osn)), osn);

		if (json_object_get(h, "memoryGiB"))
			snprintf(mem, sizeof(mem), "%.0fG", json_real_value(json_object_get(h, "memoryGiB")));
		if (json_object_get(h, "cpus"))
			snprintf(cpus, sizeof(cpus), "%d", (int)json_integer_value(json_object_get(h, "cpus")));
		printf("%-12s %-15s %-13s %-9s %-22.22s %-4s %-4s %-10s %-8s %-6s %s\n", s_or(h, "name", "?"),
		       s_or(h, "address", "?"), s_or(h, "role", "?"), yn(h, "reachable"), os, cpus,
		       mem, s_or(h, "kubelet", "-"), yn(h, "prepared"), yn(h, "joined"), s_or(h, "node", "-"));
	}
	json_array_foreach(json_object_get(st, "hosts"), i, h) {
		if (json_object_get(h, "error"))
			fprintf(stderr, "%s: %s\n", s_or(h, "name", "?"), s_or(h, "error", ""));
	}
	if (unreachable)
		rc = KF_EXIT_FAIL;
out:
	json_decref(st);
	kf_cluster_free(c);
	kf_err_free(err);
	return rc;
}

const struct kf_cmd kf_cmd_status = {
	.name = "status",
	.run = run_status,
	.summary = "per host: reachable, facts, kubelet, joined (read-only)",
	.usage = "usage: kfboot status -f PROFILE [-o json]\n"
		 "\n"
		 "Connect to every host of the profile and show whether it answers, its OS, CPUs\n"
		 "and memory, kubelet's state, whether it is prepared and joined, and how the\n"
		 "control plane's `kubectl get nodes` sees it. Changes nothing on any host.\n"
		 "Exit status 1 when a host cannot be reached.\n"
		 "\n"
		 "  -f, --filename PROFILE  the cluster profile\n"
		 "  -o json|yaml         everything, including every fact, as JSON or YAML\n",
};
