/*
 * cmd_apply.c - `kfboot apply`: staged server-side apply of manifests, with
 * an ApplySet inventory, prune and health waits; plus the flag parsing,
 * connecting and progress printing that diff, delete and kubeflow share
 * (cmd_kube.h).
 *
 * Everything is validated before anything is sent: a broken document
 * anywhere refuses the whole apply with every problem's file:line:col.
 * Progress goes to stderr (one live line on a terminal, a line per phase
 * otherwise); the summary to stdout (text, or -o json).
 */
#include <stdlib.h>
#include <string.h>

#include "cmd_kube.h"

static bool allowed_flag(const char *allowed, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = allowed; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == n && !strncmp(p, name, n))
			return true;
		p = comma ? comma + 1 : p + len;
	}
	return false;
}

int kf_kube_cli_parse(struct kf_kube_cli *c, const struct kf_cmd *cmd,
		      const char *allowed, int argc, char **argv)
{
	c->started = kf_now();
	c->files = kf_xcalloc((size_t)argc + 1, sizeof(*c->files));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		char name[64];
		size_t nl;

		if (a[0] != '-' || !a[1])
			return kf_cli_usage(c->cli, cmd, "unexpected argument '%s'", a);
		if (!strcmp(a, "-f") || !strcmp(a, "-n")) {
			snprintf(name, sizeof(name), "%s", a[1] == 'f' ? "f" : "namespace");
		} else if ((a[1] == 'f' || a[1] == 'n') && a[2] != '-') {
			snprintf(name, sizeof(name), "%s", a[1] == 'f' ? "f" : "namespace");
			val = a + 2;
		} else if (a[1] == '-') {
			eq = strchr(a, '=');
			nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			if (nl >= sizeof(name))
				return kf_cli_usage(c->cli, cmd, "unknown option '%s'", a);
			memcpy(name, a + 2, nl);
			name[nl] = '\0';
			if (eq)
				val = eq + 1;
			if (!strcmp(name, "filename"))
				snprintf(name, sizeof(name), "f");
		} else {
			return kf_cli_usage(c->cli, cmd, "unknown option '%s'", a);
		}
		if (!allowed_flag(allowed, name))
			return kf_cli_usage(c->cli, cmd, "unknown option '%s'", a);
		/* Boolean flags. */
		if (!strcmp(name, "dry-run") || !strcmp(name, "prune") || !strcmp(name, "force-prune") ||
		    !strcmp(name, "wait") || !strcmp(name, "force-conflicts") || !strcmp(name, "http1")) {
			bool on = true;

			/* kubectl's --dry-run=none|client|server; bare = server */
			if (!strcmp(name, "dry-run")) {
				enum kf_dry_run m;
				int urc = kf_cli_dry_run(c->cli, cmd, val, KF_DRY_DOES(KF_DRY_CLIENT) | KF_DRY_DOES(KF_DRY_SERVER),
							 KF_DRY_SERVER, NULL, &m);

				if (urc)
					return urc;
				c->dry_run = m != KF_DRY_NONE;
				c->dry_run_client = m == KF_DRY_CLIENT;
				continue;
			}
			if (val) {
				if (!strcmp(val, "true"))
					on = true;
				else if (!strcmp(val, "false"))
					on = false;
				else
					return kf_cli_usage(c->cli, cmd, "option '--%s' takes true or false, not '%s'", name, val);
			}
			if (!strcmp(name, "prune"))
				c->prune = on;
			else if (!strcmp(name, "force-prune"))
				c->force_prune = on;
			else if (!strcmp(name, "wait"))
				c->wait = on;
			else if (!strcmp(name, "force-conflicts"))
				c->force_conflicts = on;
			else
				c->http1 = on;
			continue;
		}
		if (!val) {
			if (i + 1 >= argc)
				return kf_cli_usage(c->cli, cmd, "option '%s' needs a value", a);
			val = argv[++i];
		}
		if (!strcmp(name, "f")) {
			c->files[c->nfiles++] = val;
		} else if (!strcmp(name, "kubeconfig")) {
			c->kubeconfig = val;
		} else if (!strcmp(name, "context")) {
			c->context = val;
		} else if (!strcmp(name, "inventory")) {
			c->inventory = val;
		} else if (!strcmp(name, "namespace")) {
			if (!*val)
				return kf_cli_usage(c->cli, cmd, "--namespace needs a name");
			c->namespace = val;
		} else if (!strcmp(name, "timeout")) {
			if (kf_duration_parse(val, &c->timeout) < 0 || c->timeout <= 0)
				return kf_cli_usage(c->cli, cmd, "--timeout: '%s' is not a duration (e.g. 90s, 10m)", val);
		} else {
			return kf_cli_usage(c->cli, cmd, "unknown option '%s'", a);
		}
	}
	return 0;
}

int kf_kube_cli_connect(struct kf_kube_cli *c, struct kf_err **err)
{
	struct kf_kubeconfig_opts ko = { c->kubeconfig, c->context, NULL };
	struct kf_kube_opts opts = { 0 };
	int rc;

	rc = kf_kube_config_load(&c->cfg, &ko, err);
	if (rc)
		return rc;
	if (c->namespace) { /* -n wins over the context's namespace */
		free(c->cfg->namespace);
		c->cfg->namespace = kf_xstrdup(c->namespace);
	}
	if (c->cfg->insecure)
		fprintf(stderr, "kfboot: %swarning:%s cluster '%s' sets insecure-skip-tls-verify: the server's certificate is NOT verified\n",
			kf_cli_c(c->cli, KF_C_YELLOW), kf_cli_c(c->cli, KF_C_RESET), c->cfg->cluster ? c->cfg->cluster : "?");
	opts.http1 = c->http1;
	/* --timeout is one deadline for everything the command asks the server. */
	if (c->timeout > 0)
		opts.deadline = (c->started > 0 ? c->started : kf_now()) + c->timeout;
	rc = kf_kube_new(&c->k, c->cfg, &opts, err);
	if (!rc)
		rc = kf_discovery_load(&c->d, c->k, err);
	if (rc)
		kf_err_wrap(err, "context '%s' (%s)", c->cfg->context, c->cfg->server);
	return rc;
}

static void print_diags(struct kf_kube_cli *c, struct kf_diags *dg)
{
	kf_cli_print_diags(c->cli, dg);
}

int kf_kube_cli_read(struct kf_kube_cli *c, struct kf_objset *set,
		     struct kf_err **err)
{
	struct kf_diags dg = KF_DIAGS_INIT;
	int rc;

	rc = kf_objset_load(set, c->files, c->nfiles, &dg, err);
	c->loaded = true;
	if (rc && dg.n) {
		print_diags(c, &dg);
		kf_err_clear(err);
		rc = kf_err_set(err, KF_EINVAL, "%zu problem(s) in the input; nothing was sent", dg.n);
	}
	kf_diags_release(&dg);
	return rc;
}

int kf_kube_cli_load(struct kf_kube_cli *c, struct kf_objset *set,
		     struct kf_err **err)
{
	struct kf_diags dg = KF_DIAGS_INIT;
	int rc = 0;

	if (!c->loaded)
		rc = kf_objset_load(set, c->files, c->nfiles, &dg, err);
	if (rc && !dg.n)
		goto out;
	/* Check kinds too, so that every problem is reported at once. */
	kf_err_clear(err);
	rc = kf_objset_resolve_fresh(set, c->d, c->k, c->cfg->namespace, &dg, err);
	if (rc && !dg.n)
		goto out;
	if (dg.n) {
		print_diags(c, &dg);
		rc = kf_err_set(err, KF_EINVAL, "%zu problem(s) in the input; nothing was applied", dg.n);
	}
out:
	kf_diags_release(&dg);
	return rc;
}

void kf_kube_cli_progress_done(struct kf_kube_cli *c)
{
	if (c->line_open) {
		fputc('\n', stderr);
		c->line_open = false;
	}
}

void kf_kube_cli_progress(void *ctx, const struct kf_apply_progress *p)
{
	struct kf_kube_cli *c = ctx;
	char el[32];
	bool same = c->last_phase && !strcmp(c->last_phase, p->phase);

	if (c->cli->quiet)
		return;
	kf_duration_fmt(p->elapsed, el);
	if (c->cli->tty) {
		if (!same)
			kf_kube_cli_progress_done(c);
		fprintf(stderr, "\r\033[K[%s] %s", el, p->phase);
		if (p->total)
			fprintf(stderr, ": %zu/%zu%s", p->done, p->total, !strcmp(p->phase, "wait") ? " ready" : "");
		if (p->detail)
			fprintf(stderr, "; %s", p->detail);
		c->line_open = true;
	} else {
		/* Without a terminal: phase changes and details, not every tick. */
		if (same && !p->detail && p->done != p->total)
			return;
		fprintf(stderr, "[%s] %s", el, p->phase);
		if (p->total)
			fprintf(stderr, ": %zu/%zu%s", p->done, p->total, !strcmp(p->phase, "wait") ? " ready" : "");
		if (p->detail)
			fprintf(stderr, "; %s", p->detail);
		fputc('\n', stderr);
	}
	c->last_phase = p->phase;
	fflush(stderr);
}

void kf_kube_cli_release(struct kf_kube_cli *c)
{
	kf_discovery_free(c->d);
	kf_kube_free(c->k);
	kf_kube_config_free(c->cfg);
	free(c->files);
}

static void print_summary(struct kf_kube_cli *c, const struct kf_apply_result *res, int rc)
{
	const struct kf_kube_stats *st = kf_kube_get_stats(c->k);
	char el[32];

	kf_duration_fmt(res->elapsed, el);
	if (kf_cli_structured(c->cli)) {
		json_t *o = json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:{s:I, s:I, s:b}}",
				      "ok", rc == 0, "dryRun", c->dry_run,
				      "total", (json_int_t)res->total, "applied", (json_int_t)res->applied,
				      "unchanged", (json_int_t)res->unchanged, "failed", (json_int_t)res->failed,
				      "pruned", (json_int_t)res->pruned, "ready", (json_int_t)res->ready,
				      "seconds", res->elapsed, "requests", "sent", (json_int_t)st->requests,
				      "retries", (json_int_t)st->retries, "http2", st->http2);

		if (c->dry_run)
			json_object_set_new(o, "notChecked", json_integer((json_int_t)res->unchecked));
		if (res->report)
			json_object_update(o, res->report);
		kf_cli_print_json(o);
		json_decref(o);
		return;
	}
	if (res->report) {
		const json_t *failed = json_object_get(res->report, "failedObjects"), *f;
		const json_t *pruned = json_object_get(res->report, "prunedObjects"), *p;
		const json_t *nr = json_object_get(res->report, "notReady"), *x;
		size_t i;

		json_array_foreach(failed, i, f)
			fprintf(stderr, "%sfailed:%s %s (%s): %s\n", kf_cli_c(c->cli, KF_C_RED), kf_cli_c(c->cli, KF_C_RESET),
				json_string_value(json_object_get(f, "object")), json_string_value(json_object_get(f, "source")),
				json_string_value(json_object_get(f, "error")));
		json_array_foreach(pruned, i, p)
			printf("pruned %s\n", json_string_value(p));
		if (rc)
			json_array_foreach(nr, i, x)
				fprintf(stderr, "not ready: %s: %s\n", json_string_value(json_object_get(x, "object")),
					json_string_value(json_object_get(x, "why")));
	}
	if (c->dry_run && res->unchecked)
		printf("dry run: %zu objects not checked (their namespace or CRD is created by this apply)\n", res->unchecked);
	printf("%s%zu objects: %zu applied, %zu unchanged, %zu failed, %zu pruned%s in %s (%lu requests, %lu retries, %s)\n",
	       c->dry_run ? "dry run: " : "", res->total, res->applied, res->unchanged, res->failed, res->pruned,
	       c->wait ? (res->not_ready ? ", not all ready" : ", all ready") : "", el,
	       st->requests, st->retries, st->http2 ? "HTTP/2" : "HTTP/1.1");
}

/* --dry-run=client: what was read and checked; nothing was sent. */
static int print_client_dry_run(struct kf_kube_cli *c, const struct kf_objset *set)
{
	const char *ns = c->namespace ? c->namespace : NULL;

	if (kf_cli_structured(c->cli)) {
		json_t *objs = json_array(), *j;

		for (size_t i = 0; i < set->n; i++) {
			char *l = kf_obj_label(&set->v[i]);

			json_array_append_new(objs, json_string(l));
			free(l);
		}
		j = json_pack("{s:b, s:s, s:I, s:o}", "ok", 1, "dryRun", "client", "total", (json_int_t)set->n,
			      "objects", objs);
		kf_cli_print_json(j);
		json_decref(j);
		return KF_EXIT_OK;
	}
	if (!c->cli->quiet)
		for (size_t i = 0; i < set->n; i++) {
			char *l = kf_obj_label(&set->v[i]);

			printf("%s%s%s (client dry run)\n", l, !set->v[i].ns && ns ? " in namespace " : "",
			       !set->v[i].ns && ns ? ns : "");
			free(l);
		}
	printf("client dry run: %zu objects read and checked; nothing was sent\n", set->n);
	return KF_EXIT_OK;
}

static int run_apply(int argc, char **argv, struct kf_cli *cli)
{
	struct kf_kube_cli c = { 0 };
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_apply_result res = { 0 };
	struct kf_apply_opts ao = { 0 };
	struct kf_err *err = NULL;
	int rc, exit_code = KF_EXIT_OK;

	c.cli = cli;
	rc = kf_kube_cli_parse(&c, &kf_cmd_apply, "f,kubeconfig,context,namespace,inventory,timeout,dry-run,prune,force-prune,wait,force-conflicts,http1",
			       argc, argv);
	if (rc) {
		exit_code = rc;
		goto out;
	}
	if (!c.nfiles) {
		exit_code = kf_cli_usage(cli, &kf_cmd_apply, "nothing to apply: pass -f FILE|DIR");
		goto out;
	}
	if (c.prune && !c.inventory) {
		exit_code = kf_cli_usage(cli, &kf_cmd_apply, "--prune needs --inventory NAME (what to prune is what the inventory recorded)");
		goto out;
	}
	/* Local files first: nothing waits on the network for a broken file. */
	rc = kf_kube_cli_read(&c, &set, &err);
	if (!rc && c.dry_run_client) {
		exit_code = print_client_dry_run(&c, &set);
		goto out;
	}
	if (!rc)
		rc = kf_kube_cli_connect(&c, &err);
	if (!rc)
		rc = kf_kube_cli_load(&c, &set, &err);
	if (rc) {
		exit_code = kf_cli_fail(cli, err);
		goto out;
	}
	ao.dry_run = c.dry_run;
	ao.force_conflicts = c.force_conflicts;
	ao.prune = c.prune;
	ao.force_prune = c.force_prune;
	ao.wait = c.wait;
	ao.inventory = c.inventory;
	ao.default_ns = c.cfg->namespace;
	ao.timeout = c.timeout;
	ao.progress = kf_kube_cli_progress;
	ao.progress_ctx = &c;
	rc = kf_apply_run(&res, c.k, c.d, &set, &ao, &err);
	kf_kube_cli_progress_done(&c);
	print_summary(&c, &res, rc);
	if (rc)
		exit_code = kf_cli_fail(cli, err);
out:
	kf_apply_result_release(&res);
	kf_objset_release(&set);
	kf_kube_cli_release(&c);
	kf_err_free(err);
	return exit_code;
}

const struct kf_cmd kf_cmd_apply = {
	.name = "apply",
	.run = run_apply,
	.summary = "apply manifests to a cluster: staged server-side apply, prune, health",
	.usage =
		"usage: kfboot apply -f FILE|DIR... [--prune --inventory [NS/]NAME] [--dry-run[=server|client|none]]\n"
		"                    [--wait] [--force-conflicts] [--force-prune] [-n NS] [--context C]\n"
		"                    [--kubeconfig F] [--timeout D] [-o json]\n"
		"\n"
		"Apply every object in the files (directories are read recursively: .yaml, .yml,\n"
		".json; '-' is stdin) with server-side apply (field manager 'kfboot'), in stages:\n"
		"Namespaces and CRDs first (then it waits until the CRDs are Established), then the\n"
		"other kinds, custom resources, and webhook configurations last. The annotations\n"
		"kfboot.io/apply-order and argocd.argoproj.io/sync-wave order waves. Objects\n"
		"refused because a webhook is not ready are retried until --timeout (default 10m).\n"
		"Nothing is sent when any document is broken.\n"
		"\n"
		"  -f, --filename F     file or directory (repeatable)\n"
		"  --inventory [NS/]N   ApplySet parent Secret (default kube-system/kfboot)\n"
		"  --prune              delete members of the inventory that left the set\n"
		"  --force-prune        allow a prune that deletes more than half of the inventory\n"
		"  --dry-run[=MODE]     server (the default): server-side dry run (dryRun=All);\n"
		"                       client: read and check the files, contact nothing;\n"
		"                       none: a real apply. Nothing is changed by a dry run.\n"
		"  -n, --namespace NS   namespace for namespaced objects that name none\n"
		"                       (default: the context's, else \"default\")\n"
		"  --wait               wait until every object is healthy\n"
		"  --force-conflicts    take over fields owned by other field managers\n"
		"  --context C          kubeconfig context (\"in-cluster\" for a pod's service account)\n"
		"  --kubeconfig F       kubeconfig file (default: KUBECONFIG, then ~/.kube/config)\n"
		"  --timeout D          overall deadline (e.g. 90s, 10m)\n"
		"\n"
		"Objects whose content and live version did not change since kfboot applied them\n"
		"are not sent again. See docs/apply.md.\n",
};
