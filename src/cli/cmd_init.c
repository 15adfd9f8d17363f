/*
 * cmd_init.c - `kfboot init`: write a commented starter Cluster profile.
 *
 * The profile is written to stdout, or to a file that is never replaced
 * unless --force says so (the write is atomic). Addresses given with
 * --control-plane and --worker fill in the hosts; without them the profile
 * holds example addresses to edit. Whatever is written has been validated
 * first, so `kfboot init | kfboot validate -f -` always passes, and a bad
 * --name or address is refused before anything is written.
 *
 * The output file is -f/--filename, not -o: -o is kfboot's global output
 * format option (text, json, yaml) and is taken before commands run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "config/config.h"

static const struct kf_cmd *self(void);

struct init_host {
	char *name;
	const char *address;
	bool control_plane;
};

/* "  key: value" with its comment starting at a fixed column. */
static void commented(struct kf_buf *b, const char *text, const char *comment)
{
	size_t start = b->len;

	kf_buf_adds(b, text);
	do
		kf_buf_addch(b, ' ');
	while (b->len - start < 32);
	kf_buf_addf(b, "# %s\n", comment);
}

static void add_host(struct kf_buf *b, const struct init_host *h)
{
	kf_buf_addf(b, "    - name: %s\n", h->name);
	kf_buf_addf(b, "      address: %s\n", h->address);
	kf_buf_addf(b, "      role: %s\n", h->control_plane ? "control-plane" : "worker");
}

static void render(struct kf_buf *b, const char *name, const char *user,
		   const struct init_host *hosts, size_t n)
{
	char *line;

	kf_buf_adds(b,
		"# kfboot cluster profile (kind: Cluster). Every field is described in\n"
		"# docs/profile.md; commented-out lines show optional settings.\n"
		"# Check it with:  kfboot validate -f THIS_FILE\n"
		"apiVersion: kfboot.io/v1alpha1\n"
		"kind: Cluster\n"
		"metadata:\n");
	line = kf_xasprintf("  name: %s", name);
	commented(b, line, "lower-case letters, digits and '-'");
	free(line);
	kf_buf_adds(b,
		"spec:\n"
		"  # SSH settings for every host. A host may override any of them in its\n"
		"  # own `ssh:` mapping.\n"
		"  ssh:\n");
	line = kf_xasprintf("    user: %s", user);
	commented(b, line, "root, or a user with password-less sudo");
	free(line);
	kf_buf_adds(b,
		"    port: 22\n"
		"    # identityFile: ~/.ssh/id_ed25519  # unset: the keys in ssh-agent (SSH_AUTH_SOCK)\n"
		"    knownHostsFile: ~/.ssh/known_hosts\n"
		"    hostKeyPolicy: strict       # strict | accept-new (trust a new host's key once)\n"
		"    connectTimeout: 10s\n"
		"    # bastion: { address: jump.example.com, user: jump, port: 22 }\n"
		"  # Exactly one control-plane host; any number of workers. Host names\n"
		"  # become Kubernetes node names.\n"
		"  hosts:\n");
	for (size_t i = 0; i < n; i++) {
		add_host(b, &hosts[i]);
		if (i == n - 1 && !hosts[i].control_plane)
			kf_buf_adds(b,
				"      # labels: { gpu: \"true\" }\n"
				"      # taints: [\"nvidia.com/gpu=true:NoSchedule\"]\n"
				"      # ssh: { port: 2222 }     # overrides spec.ssh for this host\n");
	}
	kf_buf_adds(b,
		"  kubernetes:\n"
		"    version: \"1.31.4\"           # MAJOR.MINOR.PATCH, in quotes\n"
		"    podSubnet: 10.244.0.0/16    # must not overlap serviceSubnet or your hosts\n"
		"    serviceSubnet: 10.96.0.0/12\n"
		"    cni: flannel                # flannel | calico\n"
		"  kubeflow:\n"
		"    release: \"26.03\"\n"
		"    # Their dependencies (cert-manager, Istio, Dex, oauth2-proxy, Knative)\n"
		"    # are added for you.\n"
		"    components: [pipelines, katib, kserve, trainer, notebooks, dashboard, profiles]\n"
		"  # What the in-cluster reconciler follows once the cluster is up:\n"
		"  # gitops:\n"
		"  #   repository: https://git.example.com/ml/platform.git\n"
		"  #   branch: main\n"
		"  #   interval: 1m\n");
}

/* "w1=10.0.0.11" or "10.0.0.11" (named by position). */
static void parse_host(struct init_host *h, const char *arg, bool cp, size_t nth)
{
	const char *eq = strchr(arg, '=');

	h->control_plane = cp;
	if (eq) {
		h->name = kf_xstrndup(arg, (size_t)(eq - arg));
		h->address = eq + 1;
	} else {
		h->name = cp ? kf_xstrdup("cp1") : kf_xasprintf("w%zu", nth);
		h->address = arg;
	}
}

/*
 * Values are written into the YAML unquoted, so they may hold only
 * characters that cannot change its structure (no spaces, '#', quotes,
 * brackets...). Anything else would be refused or, worse, cut short
 * ("10.0.0.1 #x" reads as 10.0.0.1), so refuse it here.
 */
static bool plain_safe(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:=-", *p))
			return false;
	return true;
}

/* Check the rendered profile; print its problems against the options. */
static int check_rendered(const struct kf_buf *b)
{
	struct kf_diags diags = KF_DIAGS_INIT;
	struct kf_cluster *c = NULL;
	int result = 0;

	if (kf_cluster_load_buf(&c, "init", b->buf, b->len, &diags, NULL) < 0) {
		kf_diags_sort(&diags);
		for (size_t i = 0; i < diags.n; i++)
			fprintf(stderr, "kfboot init: %s\n", diags.v[i].msg);
		result = -1;
	}
	kf_cluster_free(c);
	kf_diags_release(&diags);
	return result;
}

static int run_init(int argc, char **argv, struct kf_cli *cli)
{
	struct init_host *hosts = kf_xcalloc((size_t)argc + 3, sizeof(*hosts));
	const char *file = NULL, *name = "my-cluster", *user = "root";
	const char *cp = NULL;
	struct kf_buf b = KF_BUF_INIT;
	struct kf_err *err = NULL;
	size_t n = 0, nworkers = 0;
	bool force = false;
	int result = KF_EXIT_OK;
	struct stat st;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = NULL;

		if (!strcmp(a, "--force")) {
			force = true;
			continue;
		}
		if (!strcmp(a, "--file")) {
			kf_cli_deprecated(cli, "--file", "-f/--filename");
			a = "-f";
		}
		if (!strcmp(a, "-f") || !strcmp(a, "--filename") || !strcmp(a, "--name") ||
		    !strcmp(a, "--user") || !strcmp(a, "--control-plane") || !strcmp(a, "--worker")) {
			if (i + 1 >= argc) {
				result = kf_cli_usage(cli, self(), "option '%s' needs a value", a);
				goto out;
			}
			v = argv[++i];
			if (strcmp(a, "-f") && strcmp(a, "--filename") && !plain_safe(v)) {
				result = kf_cli_usage(cli, self(), "invalid %s '%s': use letters, digits and . - _ : = only",
						      a, v);
				goto out;
			}
		} else if (a[0] != '-' && !file) {
			file = a;
			continue;
		} else {
			result = kf_cli_usage(cli, self(), "unknown option '%s'", a);
			goto out;
		}
		if (!strcmp(a, "-f") || !strcmp(a, "--filename"))
			file = v;
		else if (!strcmp(a, "--name"))
			name = v;
		else if (!strcmp(a, "--user"))
			user = v;
		else if (!strcmp(a, "--control-plane") && cp) {
			result = kf_cli_usage(cli, self(), "only one --control-plane: kfboot v1 runs one control-plane node");
			goto out;
		} else if (!strcmp(a, "--control-plane")) {
			cp = v;
		} else {
			nworkers++;
			parse_host(&hosts[nworkers], v, false, nworkers);
		}
	}
	if (!cp && !nworkers) {
		/* Example addresses to edit: one control plane, two workers. */
		parse_host(&hosts[0], "10.0.0.10", true, 0);
		parse_host(&hosts[1], "10.0.0.11", false, 1);
		parse_host(&hosts[2], "10.0.0.12", false, 2);
		n = 3;
	} else {
		parse_host(&hosts[0], cp ? cp : "10.0.0.10", true, 0);
		n = 1 + nworkers;
	}
	render(&b, name, user, hosts, n);
	if (check_rendered(&b) < 0) {
		result = KF_EXIT_USAGE;
		goto out;
	}
	if (!file || !strcmp(file, "-")) {
		fwrite(b.buf, 1, b.len, stdout);
		goto out;
	}
	if (!force && lstat(file, &st) == 0) {
		kf_err_set(&err, KF_EINVAL, "'%s' already exists (use --force to replace it)", file);
		result = kf_cli_fail(cli, err);
		goto out;
	}
	if (kf_file_write_atomic(file, b.buf, b.len, 0644, &err) < 0) {
		kf_err_wrap(&err, "init");
		result = kf_cli_fail(cli, err);
		goto out;
	}
	if (!cli->quiet)
		fprintf(stderr, "wrote %s; edit the hosts, then run 'kfboot validate -f %s'\n",
			file, file);
out:
	for (size_t i = 0; i < (size_t)argc + 3; i++)
		free(hosts[i].name);
	free(hosts);
	kf_buf_release(&b);
	kf_err_free(err);
	return result;
}

const struct kf_cmd kf_cmd_init = {
	.name = "init",
	.run = run_init,
	.summary = "write a commented starter cluster profile",
	.usage =
	"usage: kfboot init [-f FILE [--force]] [--name NAME] [--user USER]\n"
	"                   [--control-plane [NAME=]ADDRESS] [--worker [NAME=]ADDRESS]...\n"
	"\n"
	"Write a commented Cluster profile to start from (docs/profile.md\n"
	"describes every field). It validates as written.\n"
	"\n"
	"Options:\n"
	"  -f, --filename FILE      write to FILE instead of standard output; an\n"
	"                           existing FILE is kept unless --force is given\n"
	"  --force                  replace FILE if it exists\n"
	"  --name NAME              metadata.name (default my-cluster)\n"
	"  --user USER              the SSH user (default root)\n"
	"  --control-plane ADDRESS  the control-plane host (named cp1 unless NAME= is given)\n"
	"  --worker ADDRESS         a worker host; repeat for more (named w1, w2, ...)\n"
	"\n"
	"Without --control-plane or --worker the profile holds one control plane\n"
	"and two workers at example addresses (10.0.0.10-12) to edit.\n"
	"\n"
	"Example:\n"
	"  kfboot init -f lab.yaml --name lab --user ubuntu \\\n"
	"      --control-plane 10.0.0.10 --worker 10.0.0.11 --worker gpu1=10.0.0.12\n",
};

static const struct kf_cmd *self(void)
{
	return &kf_cmd_init;
}
