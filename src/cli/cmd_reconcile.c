/*
 * cmd_reconcile.c - `kfboot reconcile`: keep every environment of a
 * cluster equal to a git repository (src/gitops), once (--once, for CI and
 * tests) or for as long as it runs; plus the option table that `render`
 * shares (cmd_gitops.h).
 *
 * The loop runs on the main thread. With --once the exit code says whether
 * every selected environment is applied and healthy (0) or not (1); the
 * status of each environment goes to stdout (text, or -o json), and SIGINT/
 * SIGTERM interrupt it like any command (128 + the signal).
 *
 * Running continuously it is a service (systemd, a Kubernetes Pod), so its
 * signals are its own (stop_signals_*): the first SIGTERM or SIGINT asks
 * for a clean stop — the loop wakes at once, an apply in flight stops at its
 * next check, the listener closes, the lease is released — and the exit
 * code is 0. The clean stop has STOP_GRACE seconds (well inside Kubernetes'
 * default 30 s terminationGracePeriodSeconds and systemd's 90 s); past
 * them, or on a second signal, the process ends at once with 128 + the
 * first (or second) signal: 143 for SIGTERM, 130 for SIGINT. Every other
 * thread of the process blocks these signals (they are made with them
 * blocked), so they always reach the main thread.
 */
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_gitops.h"
#include "gitops/live.h"
#include "models/auto.h"

enum opt_kind { O_STR, O_MULTI, O_BOOL, O_DURATION };

struct opt {
	const char *name;
	enum opt_kind kind;
	size_t off;
	unsigned cmds; /* KF_GCMD_* that accept it */
};

#define F(field) offsetof(struct kf_gitops_cli, field)
#define BOTH (KF_GCMD_RECONCILE | KF_GCMD_RENDER)

static const struct opt opts[] = {
	{ "repo", O_STR, F(repo), BOTH },
	{ "branch", O_STR, F(branch), BOTH },
	{ "env", O_MULTI, F(envs), BOTH },
	{ "state-dir", O_STR, F(state_dir), BOTH },
	{ "token-file", O_STR, F(token_file), BOTH },
	{ "username", O_STR, F(username), BOTH },
	{ "password-file", O_STR, F(password_file), BOTH },
	{ "ca-file", O_STR, F(ca_file), BOTH },
	{ "ssh-key", O_STR, F(ssh_key), BOTH },
	{ "known-hosts", O_STR, F(known_hosts), BOTH },
	{ "accept-new-host-key", O_BOOL, F(accept_new_host_key), BOTH },
	{ "kustomize", O_STR, F(kustomize), BOTH },
	{ "kustomize-timeout", O_DURATION, F(kustomize_timeout), BOTH },
	{ "revision", O_STR, F(revision), KF_GCMD_RENDER },
	{ "once", O_BOOL, F(once), KF_GCMD_RECONCILE },
	{ "dry-run", O_BOOL, F(dry_run), KF_GCMD_RECONCILE },
	{ "interval", O_DURATION, F(interval), KF_GCMD_RECONCILE },
	{ "resync", O_DURATION, F(resync), KF_GCMD_RECONCILE },
	{ "kubeconfig", O_STR, F(kubeconfig), KF_GCMD_RECONCILE },
	{ "context", O_STR, F(context), KF_GCMD_RECONCILE },
	{ "inventory-namespace", O_STR, F(inventory_ns), KF_GCMD_RECONCILE },
	{ "listen", O_STR, F(listen), KF_GCMD_RECONCILE },
	{ "listen-port-file", O_STR, F(listen_port_file), KF_GCMD_RECONCILE },
	{ "webhook-secret-file", O_STR, F(webhook_secret_file), KF_GCMD_RECONCILE },
	{ "leader-elect", O_BOOL, F(leader_elect), KF_GCMD_RECONCILE },
	{ "no-drift", O_BOOL, F(no_drift), KF_GCMD_RECONCILE },
};

int kf_gitops_cli_parse(struct kf_gitops_cli *g, const struct kf_cmd *cmd, unsigned which,
			struct kf_cli *cli, int argc, char **argv)
{
	g->envs = kf_xcalloc((size_t)argc + 1, sizeof(*g->envs));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		const struct opt *o = NULL;
		char name[64];
		size_t nl;

		if (strncmp(a, "--", 2) || !a[2])
			return kf_cli_usage(cli, cmd, "unexpected argument '%s'", a);
		eq = strchr(a, '=');
		nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (nl >= sizeof(name))
			return kf_cli_usage(cli, cmd, "unknown option '%s'", a);
		memcpy(name, a + 2, nl);
		name[nl] = '\0';
		val = eq ? eq + 1 : NULL;
		for (size_t j = 0; j < KF_ARRAY_SIZE(opts) && !o; j++)
			if (!strcmp(opts[j].name, name) && (opts[j].cmds & which))
				o = &opts[j];
		if (!o)
			return kf_cli_usage(cli, cmd, "unknown option '%s'", a);
		if (o->kind == O_BOOL && !strcmp(name, "dry-run")) {
			enum kf_dry_run m;
			int urc = kf_cli_dry_run(cli, cmd, val, KF_DRY_DOES(KF_DRY_SERVER), KF_DRY_SERVER,
						 "to render and check an environment without a cluster, use "
						 "'kfboot render --repo URL --env NAME'", &m);

			if (urc)
				return urc;
			g->dry_run = m == KF_DRY_SERVER;
			continue;
		}
		if (o->kind == O_BOOL) {
			bool on = true;

			if (val && !strcmp(val, "false"))
				on = false;
			else if (val && strcmp(val, "true"))
				return kf_cli_usage(cli, cmd, "option '--%s' takes true or false, not '%s'", name, val);
			*(bool *)((char *)g + o->off) = on;
			continue;
		}
		if (!val) {
			if (i + 1 >= argc)
				return kf_cli_usage(cli, cmd, "option '%s' needs a value", a);
			val = argv[++i];
		}
		switch (o->kind) {
		case O_STR:
			*(const char **)((char *)g + o->off) = val;
			break;
		case O_MULTI:
			g->envs[g->nenvs++] = val;
			break;
		case O_DURATION: {
			double d;

			if (kf_duration_parse(val, &d) < 0 || d <= 0)
				return kf_cli_usage(cli, cmd, "--%s: '%s' is not a duration (e.g. 30s, 1m, 1h)", name, val);
			*(double *)((char *)g + o->off) = d;
			break;
		}
		default:
			break;
		}
	}
	if (!g->repo)
		return kf_cli_usage(cli, cmd, "pass --repo URL|PATH");
	if (g->token_file && g->password_file)
		return kf_cli_usage(cli, cmd, "--token-file and --password-file cannot be used together");
	return 0;
}

void kf_gitops_cli_release(struct kf_gitops_cli *g)
{
	free(g->envs);
	g->envs = NULL;
}

void kf_gitops_cli_source_opts(const struct kf_gitops_cli *g, struct kf_git_source_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->token_file = g->token_file;
	o->username = g->username;
	o->password_file = g->password_file;
	o->ca_file = g->ca_file;
	o->ssh_key_file = g->ssh_key;
	o->known_hosts_file = g->known_hosts;
	o->accept_new_host_key = g->accept_new_host_key;
}

static void print_text(struct kf_cli *cli, const json_t *st)
{
	const json_t *envs = json_object_get(st, "environments"), *e;
	const char *fe = json_string_value(json_object_get(st, "lastFetchError"));
	size_t i;

	if (fe)
		fprintf(stderr, "%sgit:%s %s\n", kf_cli_c(cli, KF_C_RED), kf_cli_c(cli, KF_C_RESET), fe);
	json_array_foreach(envs, i, e) {
		const char *res = json_string_value(json_object_get(e, "result"));
		const json_t *obj = json_object_get(e, "objects"), *err = json_object_get(e, "error");
		bool good = !strcmp(res, "applied") || !strcmp(res, "dry-run");

		printf("%-12s %s%-8s%s %.12s  %-11s %lld objects: %lld applied, %lld unchanged, %lld pruned",
		       json_string_value(json_object_get(e, "name")),
		       kf_cli_c(cli, good ? KF_C_GREEN : KF_C_RED), res, kf_cli_c(cli, KF_C_RESET),
		       json_string_value(json_object_get(e, "commit")),
		       json_string_value(json_object_get(e, "health")),
		       (long long)json_integer_value(json_object_get(obj, "total")),
		       (long long)json_integer_value(json_object_get(obj, "applied")),
		       (long long)json_integer_value(json_object_get(obj, "unchanged")),
		       (long long)json_integer_value(json_object_get(obj, "pruned")));
		if (json_integer_value(json_object_get(obj, "handsOff")))
			printf(", %lld hands off", (long long)json_integer_value(json_object_get(obj, "handsOff")));
		putchar('\n');
		if (json_is_object(err)) {
			const char *file = json_string_value(json_object_get(err, "file"));

			if (file && json_integer_value(json_object_get(err, "line")))
				printf("  error: %s:%lld:%lld: %s\n", file, (long long)json_integer_value(json_object_get(err, "line")),
				       (long long)json_integer_value(json_object_get(err, "column")),
				       json_string_value(json_object_get(err, "message")));
			else
				printf("  error: %s\n", json_string_value(json_object_get(err, "message")));
		}
		{
			const json_t *ch = json_object_get(e, "changes"), *c;
			size_t j;

			json_array_foreach(ch, j, c)
				printf("  would %s\n", json_string_value(c));
		}
	}
}

static int run_reconcile(int argc, char **argv, struct kf_cli *cli);

/* ---- signals of a continuously running reconciler --------------------- */

#define STOP_GRACE 10 /* seconds a clean stop may take */

static struct kf_reconciler *volatile stop_r;
static volatile sig_atomic_t stop_sig;

static void stop_exit(const char *msg, size_t len, int sig)
{
	ssize_t w = write(STDERR_FILENO, msg, len);

	(void)w;
	_exit(128 + sig);
}

static void on_stop_signal(int sig)
{
	static const char again[] = "kfboot: reconcile: second signal: exiting now\n";

	if (stop_sig)
		stop_exit(again, sizeof(again) - 1, sig);
	stop_sig = sig;
	kf_interrupt_flag = 1;
	if (stop_r)
		kf_reconciler_stop(stop_r); /* a store and a write(): signal-safe */
	alarm(STOP_GRACE);
}

static void on_stop_alarm(int sig)
{
	static const char late[] = "kfboot: reconcile: the clean stop took longer than 10 s: exiting now\n";

	(void)sig;
	stop_exit(late, sizeof(late) - 1, stop_sig ? stop_sig : SIGTERM);
}

struct stop_signals {
	struct sigaction old_int, old_term, old_alrm;
	sigset_t mask, old_mask;
	bool blocked, on;
};

/* Take SIGINT/SIGTERM over from main.c's handlers, and keep them blocked
 * while the caller makes threads (they inherit the mask). */
static void stop_signals_install(struct stop_signals *s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&s->mask);
	sigaddset(&s->mask, SIGINT);
	sigaddset(&s->mask, SIGTERM);
	sigaddset(&s->mask, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &s->mask, &s->old_mask);
	s->blocked = true;
	if (kf_interrupted())
		return; /* main.c's handler already has it: leave its grace be */
	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, &s->old_int);
	sigaction(SIGTERM, &sa, &s->old_term);
	sa.sa_handler = on_stop_alarm;
	sigaction(SIGALRM, &sa, &s->old_alrm);
	s->on = true;
}

/* The threads are made: the main thread takes the signals again. */
static void stop_signals_arm(struct stop_signals *s, struct kf_reconciler *r)
{
	stop_r = r;
	pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
}

/* After the clean stop: cancel the grace, give main.c its handlers back. */
static void stop_signals_release(struct stop_signals *s)
{
	if (!s->blocked)
		return;
	pthread_sigmask(SIG_BLOCK, &s->mask, NULL);
	stop_r = NULL;
	if (s->on) {
		alarm(0);
		sigaction(SIGINT, &s->old_int, NULL);
		sigaction(SIGTERM, &s->old_term, NULL);
		sigaction(SIGALRM, &s->old_alrm, NULL);
	}
	pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
	s->blocked = s->on = false;
}

const struct kf_cmd kf_cmd_reconcile = {
	.name = "reconcile",
	.run = run_reconcile,
	.summary = "keep every environment of the cluster equal to a git repository (GitOps)",
	.usage =
		"usage: kfboot reconcile --repo URL|PATH [--branch B] [--env NAME]... [--once] [--dry-run[=server]]\n"
		"                        [--interval D] [--resync D] [--state-dir DIR] [--kubeconfig F]\n"
		"                        [--context C] [--token-file F | --username U --password-file F]\n"
		"                        [--ca-file F] [--ssh-key F] [--known-hosts F] [-o json]\n"
		"                        [--listen ADDR:PORT] [--webhook-secret-file F] [--leader-elect]\n"
		"                        [--no-drift]\n"
		"       kfboot reconcile status [--kubeconfig F] [--context C] [-o json]\n"
		"\n"
		"Follow one branch of a git repository whose root holds kfboot.yaml (kind: Repository)\n"
		"and apply each environment it defines to the cluster of that environment's kubeconfig\n"
		"context: render (plain YAML and kustomize, ${VAR} substitution), validate everything\n"
		"(YAML, duplicates, kinds, a server-side dry run) before the first write, then a staged\n"
		"server-side apply with one ApplySet inventory per environment, prune when the\n"
		"environment says 'prune: true', and a health wait. A broken commit changes nothing in\n"
		"that environment; its status names the commit and file:line:col. The remote is checked\n"
		"every --interval (ls-remote; fetched only when the branch moved) and every environment\n"
		"is re-applied every --resync (only what drifted is sent).\n"
		"\n"
		"  --repo URL|PATH        https://, ssh://, user@host:path, git://, file:// or a local path\n"
		"  --branch B             branch to follow (default main)\n"
		"  --env NAME             reconcile only this environment (repeatable; default all)\n"
		"  --once                 one pass; exit 0 when every environment is applied and healthy\n"
		"  --dry-run[=MODE]       server (the default): render, validate and server-side dry\n"
		"                         run; print what would change; write nothing; none: a real\n"
		"                         run (client is refused: see kfboot render)\n"
		"  --interval D           how often to check the remote (default 1m, jittered)\n"
		"  --resync D             how often to re-apply everything (default 1h)\n"
		"  --state-dir DIR        git cache (default ~/.local/state/kfboot)\n"
		"  --kubeconfig F         kubeconfig file (default: KUBECONFIG, then ~/.kube/config)\n"
		"  --context C            kubeconfig context for every environment (overrides 'context')\n"
		"  --inventory-namespace N  namespace of the inventories (default kube-system)\n"
		"  --token-file F         https: a token (e.g. a GitHub or GitLab access token)\n"
		"  --username U           https: basic auth user (with --password-file)\n"
		"  --password-file F      https: basic auth password\n"
		"  --ca-file F            https: CA bundle to verify the server with\n"
		"  --ssh-key F            ssh: private key file (default: ssh-agent)\n"
		"  --known-hosts F        ssh: known_hosts file (default ~/.ssh/known_hosts)\n"
		"  --accept-new-host-key  ssh: record an unknown host key instead of refusing it\n"
		"  --kustomize PATH       kustomize binary (default kustomize, else kubectl kustomize)\n"
		"  --kustomize-timeout D  deadline for one kustomize build (default 1m)\n"
		"  --listen ADDR:PORT     serve webhooks (POST /hooks/github, /hooks/gitlab,\n"
		"                         /hooks/generic), /metrics, /healthz, /readyz, /status and a\n"
		"                         status page (GET /) on this address (port 0 picks one)\n"
		"  --listen-port-file F   write the port --listen bound to this file\n"
		"  --webhook-secret-file F  the webhook secret (HMAC-SHA256 key; GitLab token); without\n"
		"                         it every delivery is refused with 401\n"
		"  --leader-elect         take part in the election of Lease kfboot-system/\n"
		"                         kfboot-reconciler: only the holder fetches, applies and prunes\n"
		"  --no-drift             do not watch applied objects for drift between commits\n"
		"\n"
		"Between commits the objects each environment applied are watched and a changed or\n"
		"deleted one is re-applied at once. An object whose live copy carries\n"
		"kfboot.io/reconcile: disabled is left alone by every apply (not applied, not pruned)\n"
		"until the annotation is removed.\n"
		"The status is also kept in ConfigMap kfboot-system/kfboot-status (when that namespace\n"
		"exists); 'kfboot reconcile status' prints it.\n"
		"\n"
		"SIGTERM or SIGINT stops the loop cleanly (exit 0); a second signal, or a stop that\n"
		"takes longer than 10 s, ends it at once with 128 + the signal.\n"
		"\n"
		"Credentials are read from files and never printed. See docs/gitops.md.\n",
};

/* `kfboot reconcile status`: the status the reconciler keeps in the cluster. */
static int run_status(int argc, char **argv, struct kf_cli *cli)
{
	struct kf_kubeconfig_opts ko = { 0 };
	struct kf_kube_config *cfg = NULL;
	struct kf_kube *k = NULL;
	struct kf_err *err = NULL;
	json_t *st = NULL;
	int exit_code = KF_EXIT_OK;

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if ((!strcmp(a, "--kubeconfig") || !strcmp(a, "--context")) && i + 1 < argc) {
			*(a[2] == 'k' ? &ko.path : &ko.context) = argv[++i];
		} else if (!strncmp(a, "--kubeconfig=", 13)) {
			ko.path = a + 13;
		} else if (!strncmp(a, "--context=", 10)) {
			ko.context = a + 10;
		} else {
			return kf_cli_usage(cli, &kf_cmd_reconcile, "reconcile status: unexpected argument '%s'", a);
		}
	}
	if (kf_kube_config_load(&cfg, &ko, &err) || kf_kube_new(&k, cfg, NULL, &err) ||
	    kf_live_status_read(k, &st, &err)) {
		exit_code = kf_cli_fail(cli, err);
		goto out;
	}
	if (kf_cli_structured(cli)) {
		kf_cli_print_json(st);
	} else {
		struct kf_buf b = KF_BUF_INIT;

		kf_live_status_text(&b, st);
		fputs(b.buf, stdout);
		kf_buf_release(&b);
	}
out:
	json_decref(st);
	kf_kube_free(k);
	kf_kube_config_free(cfg);
	kf_err_free(err);
	return exit_code;
}

/* The live parts: listener, drift watches, election, status ConfigMap. */
static int live_start(struct kf_live **live, struct kf_kube_config **cfg,
		      const struct kf_gitops_cli *g, struct kf_reconciler *r,
		      struct kf_err **err)
{
	struct kf_kubeconfig_opts ko = { .path = g->kubeconfig, .context = g->context };
	struct kf_live_opts lo = { 0 };

	*live = NULL;
	if (g->once && !g->listen)
		return 0;
	lo.listen = g->listen;
	lo.port_file = g->listen_port_file;
	lo.webhook_secret_file = g->webhook_secret_file;
	lo.branch = g->branch;
	lo.inventory_ns = g->inventory_ns;
	lo.drift = !g->no_drift && !g->once && !g->dry_run;
	lo.elect = g->leader_elect;
	if (!g->dry_run && kf_kube_config_load(cfg, &ko, err) == 0)
		lo.cluster = *cfg;
	else if (g->leader_elect)
		return kf_err_wrap(err, "--leader-elect");
	else
		kf_err_clear(err);
	return kf_live_start(live, r, &lo, err);
}

static int run_reconcile(int argc, char **argv, struct kf_cli *cli)
{
	struct kf_gitops_cli g = { 0 };
	struct kf_live *live = NULL;
	struct kf_kube_config *live_cfg = NULL;
	struct kf_reconciler_opts ro = { 0 };
	struct kf_render_opts rend = { 0 };
	struct kf_reconciler *r = NULL;
	struct kf_models_auto *autop = NULL;
	struct kf_err *err = NULL;
	struct stop_signals sigs = { .blocked = false };
	bool service;
	int rc, exit_code;

	if (argc > 1 && !strcmp(argv[1], "status"))
		return run_status(argc, argv, cli);
	/* glibc malloc, set before any thread starts. One arena: a sync's
	 * objects are labelled, hashed and compacted on a second thread, and
	 * a thread's own arena keeps its pages while the main one keeps the
	 * parsed YAML it freed; with one arena each reuses the other's (peak
	 * RSS of a 4,000-object sync 36 -> 32 MiB; the threads allocate
	 * little, so the shared lock costs nothing measurable). A fixed mmap
	 * threshold: LIST pages and state of a MiB or more stay in mmaps that
	 * go back to the system when freed, instead of raising the threshold
	 * and fragmenting the heap (about 1 MiB less at the peak). */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	exit_code = kf_gitops_cli_parse(&g, &kf_cmd_reconcile, KF_GCMD_RECONCILE, cli, argc, argv);
	if (exit_code)
		goto out;
	ro.url = g.repo;
	ro.branch = g.branch;
	ro.state_dir = g.state_dir;
	kf_gitops_cli_source_opts(&g, &ro.source);
	ro.envs = g.envs;
	ro.nenvs = g.nenvs;
	ro.once = g.once;
	ro.dry_run = g.dry_run;
	ro.interval = g.interval;
	ro.resync = g.resync;
	ro.kubeconfig = g.kubeconfig;
	ro.context = g.context;
	ro.inventory_ns = g.inventory_ns;
	ro.start_as_leader = !g.leader_elect;
	rend.kustomize = g.kustomize;
	rend.kustomize_timeout = g.kustomize_timeout;
	ro.render = &rend;
	if (g.dry_run && !g.once)
		ro.once = true; /* a dry run is one look, not a loop */
	service = !ro.once;
	if (service)
		stop_signals_install(&sigs);
	rc = kf_reconciler_new(&r, &ro, &err);
	if (rc) {
		exit_code = kf_cli_fail(cli, err);
		goto out;
	}
	/* promotion.auto: true (src/models/auto.c) */
	autop = kf_models_auto_attach(r, &ro, NULL);
	rc = live_start(&live, &live_cfg, &g, r, &err);
	if (rc) {
		exit_code = kf_cli_fail(cli, err);
		goto out;
	}
	if (service)
		stop_signals_arm(&sigs, r);
	rc = kf_reconciler_run(r, &err);
	if (service && stop_sig)
		kf_info("%s: stopping (a second signal, or %d s, ends it at once)",
			stop_sig == SIGTERM ? "SIGTERM" : "SIGINT", STOP_GRACE);
	kf_live_free(live); /* stop serving, release the lease */
	live = NULL;
	if (ro.once) {
		json_t *st = kf_reconciler_status_json(r);

		if (kf_cli_structured(cli))
			kf_cli_print_json(st);
		else
			print_text(cli, st);
		json_decref(st);
	}
	exit_code = rc ? kf_cli_fail(cli, err) : KF_EXIT_OK;
	/* SIGTERM/SIGINT is how a long-running reconciler is asked to stop:
	 * a clean stop is a success, not an interruption. */
	if (service && !rc) {
		if (stop_sig)
			kf_info("stopped cleanly");
		kf_interrupt_flag = 0;
	}
out:
	kf_live_free(live);
	kf_kube_config_free(live_cfg);
	kf_reconciler_free(r);
	kf_models_auto_free(autop);
	stop_signals_release(&sigs);
	kf_gitops_cli_release(&g);
	kf_err_free(err);
	return exit_code;
}
