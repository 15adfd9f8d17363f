/*
 * cmd_kubeflow.c - `kfboot kubeflow list|install|status|uninstall`: the
 * Kubeflow component catalog, what a selection expands to, the install of
 * the selected components in dependency order with the staged apply engine
 * (src/kubeflow/), what is installed and how healthy it is, and removing
 * components through their inventories, dependents first. Progress goes to stderr (component i/N,
 * objects, elapsed); the summary to stdout (text, or -o json). The admin
 * password is never printed: only the path of the file that holds it.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_kube.h"
#include "config/config.h"
#include "kubeflow/kubeflow.h"

extern const struct kf_cmd kf_cmd_kubeflow;

struct kf_opts {
	const char *components;   /* comma separated */
	const char *source, *release, *repository, *catalog, *profile;
	const char *kubeconfig, *context, *admin_email, *password_file;
	const char *state_dir, *cache_dir;
	double timeout;
	bool dry_run, no_wait, force, all;
	char **args;   /* positional arguments (uninstall's components) */
	int nargs;
};

static char **split_commas(const char *s, size_t *n)
{
	char **v = kf_xcalloc(strlen(s) + 2, sizeof(*v));

	*n = 0;
	for (const char *p = s; *p;) {
		size_t len = strcspn(p, ",");

		if (len)
			v[(*n)++] = kf_xstrndup(p, len);
		p += len;
		p += *p == ',';
	}
	return v;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Options of each subcommand (getopt letters). */
#define OPTS_LIST "cCfO"
#define OPTS_INSTALL "cSrRCfOkxtdWepsD"
#define OPTS_STATUS "Ckx"
#define OPTS_UNINSTALL "CkxtdFA"

static int parse(struct kf_opts *o, struct kf_cli *cli, int argc, char **argv,
		 const char *sub, const char *allowed)
{
	static const struct option longopts[] = {
		{ "components", required_argument, NULL, 'c' },
		{ "source", required_argument, NULL, 'S' },
		{ "release", required_argument, NULL, 'r' },
		{ "repository", required_argument, NULL, 'R' },
		{ "catalog", required_argument, NULL, 'C' },
		{ "filename", required_argument, NULL, 'f' },
		{ "file", required_argument, NULL, 'O' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "context", required_argument, NULL, 'x' },
		{ "timeout", required_argument, NULL, 't' },
		{ "dry-run", optional_argument, NULL, 'd' },
		{ "no-wait", no_argument, NULL, 'W' },
		{ "admin-email", required_argument, NULL, 'e' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "cache-dir", required_argument, NULL, 'D' },
		{ "force", no_argument, NULL, 'F' },
		{ "all", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	bool positional = !strcmp(sub, "uninstall");
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, positional ? "f:" : "+f:", longopts, NULL)) != -1) {
		if (opt == '?' || opt == ':')
			return kf_cli_usage(cli, &kf_cmd_kubeflow, "unknown or incomplete option '%s'", argv[optind - 1]);
		if (!strchr(allowed, opt))
			return kf_cli_usage(cli, &kf_cmd_kubeflow, "option '%s' is not an option of 'kubeflow %s'",
					    argv[optind - 1], sub);
		switch (opt) {
		case 'c': o->components = optarg; break;
		case 'S': o->source = optarg; break;
		case 'r': o->release = optarg; break;
		case 'R': o->repository = optarg; break;
		case 'C': o->catalog = optarg; break;
		case 'O':
			kf_cli_deprecated(cli, "--file", "-f/--filename");
			o->profile = optarg;
			break;
		case 'f': o->profile = optarg; break;
		case 'k': o->kubeconfig = optarg; break;
		case 'x': o->context = optarg; break;
		case 'd': {
			enum kf_dry_run m;
			int urc = kf_cli_dry_run(cli, &kf_cmd_kubeflow, optarg, KF_DRY_DOES(KF_DRY_SERVER), KF_DRY_SERVER,
						 "to check manifests without a cluster, use 'kfboot apply --dry-run=client -f FILE'",
						 &m);

			if (urc)
				return urc;
			o->dry_run = m == KF_DRY_SERVER;
			break;
		}
		case 'W': o->no_wait = true; break;
		case 'e': o->admin_email = optarg; break;
		case 'p': o->password_file = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'D': o->cache_dir = optarg; break;
		case 'F': o->force = true; break;
		case 'A': o->all = true; break;
		case 't':
			if (kf_duration_parse(optarg, &o->timeout) || o->timeout <= 0)
				return kf_cli_usage(cli, &kf_cmd_kubeflow, "--timeout: '%s' is not a duration (e.g. 90s, 10m)", optarg);
			break;
		default:
			return kf_cli_usage(cli, &kf_cmd_kubeflow, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc && !positional)
		return kf_cli_usage(cli, &kf_cmd_kubeflow, "unexpected argument '%s'", argv[optind]);
	o->args = argv + optind;
	o->nargs = argc - optind;
	if (o->source && o->release)
		return kf_cli_usage(cli, &kf_cmd_kubeflow, "--source and --release exclude each other");
	return 0;
}

static void print_diags(struct kf_cli *cli, struct kf_diags *dg)
{
	kf_cli_print_diags(cli, dg);
}

static int load_catalog(struct kf_kubeflow_catalog **cat, struct kf_cli *cli, const struct kf_opts *o,
			struct kf_err **err)
{
	struct kf_diags dg = KF_DIAGS_INIT;
	int rc = o->catalog ? kf_kubeflow_catalog_load(cat, o->catalog, &dg, err)
			    : kf_kubeflow_catalog_load_default(cat, &dg, err);

	print_diags(cli, &dg);
	kf_diags_release(&dg);
	return rc;
}

static const char *health_str(const struct kf_kubeflow_component *c)
{
	return c->health == KF_KUBEFLOW_HEALTH_ALL ? "all workloads" :
	       c->health == KF_KUBEFLOW_HEALTH_NONE ? "applied" : "listed objects";
}

static json_t *component_json(const struct kf_kubeflow_component *c)
{
	json_t *deps = json_array(), *mf = json_array(), *waits = json_array();
	json_t *j;

	for (size_t i = 0; i < c->ndeps; i++)
		json_array_append_new(deps, json_string(c->deps[i]));
	for (size_t i = 0; i < c->nmanifests; i++)
		json_array_append_new(mf, json_pack("{s:s, s:s}", "path", c->manifests[i].path,
						     "file", c->manifests[i].file));
	for (size_t i = 0; i < c->nwaits; i++) {
		char *s = kf_xasprintf("%s/%s%s%s", c->waits[i].kind, c->waits[i].ns ? c->waits[i].ns : "",
				       c->waits[i].ns ? "/" : "", c->waits[i].name);

		json_array_append_new(waits, json_string(s));
		free(s);
	}
	j = json_pack("{s:s, s:o, s:o, s:s}", "name", c->name, "manifests", mf, "dependsOn", deps,
		      "health", c->health == KF_KUBEFLOW_HEALTH_ALL ? "all" :
		      c->health == KF_KUBEFLOW_HEALTH_NONE ? "none" : "wait");
	if (c->summary)
		json_object_set_new(j, "summary", json_string(c->summary));
	if (c->ns)
		json_object_set_new(j, "namespace", json_string(c->ns));
	if (c->nwaits)
		json_object_set_new(j, "wait", waits);
	else
		json_decref(waits);
	return j;
}

/* The selection asked for: --components, else the profile's, else NULL (defaults). */
static int selection(char ***names, size_t *n, struct kf_cluster **prof, struct kf_cli *cli,
		     const struct kf_opts *o, struct kf_err **err)
{
	*names = NULL;
	*n = 0;
	if (o->profile) {
		struct kf_diags dg = KF_DIAGS_INIT;
		int rc = kf_cluster_load(prof, o->profile, &dg, err);

		print_diags(cli, &dg);
		kf_diags_release(&dg);
		if (rc)
			return rc;
	}
	if (o->components) {
		*names = split_commas(o->components, n);
		if (!*n)
			return kf_err_set(err, KF_EUSAGE, "--components: no component named");
	} else if (*prof && (*prof)->kubeflow.ncomponents) {
		*names = kf_xcalloc((*prof)->kubeflow.ncomponents + 1, sizeof(**names));
		for (size_t i = 0; i < (*prof)->kubeflow.ncomponents; i++)
			(*names)[(*n)++] = kf_xstrdup((*prof)->kubeflow.components[i]);
	}
	return 0;
}

static int run_list(int argc, char **argv, struct kf_cli *cli)
{
	struct kf_opts o = { 0 };
	struct kf_kubeflow_catalog *cat = NULL;
	struct kf_cluster *prof = NULL;
	const struct kf_kubeflow_component **order = NULL;
	struct kf_err *err = NULL;
	char **names = NULL;
	size_t nnames = 0, n = 0;
	int rc, exit_code = KF_EXIT_OK;

	rc = parse(&o, cli, argc, argv, "list", OPTS_LIST);
	if (rc)
		return rc;
	rc = load_catalog(&cat, cli, &o, &err);
	if (!rc)
		rc = selection(&names, &nnames, &prof, cli, &o, &err);
	if (!rc)
		rc = kf_kubeflow_resolve(&order, &n, cat, (const char *const *)names, nnames, &err);
	if (rc) {
		exit_code = kf_cli_fail(cli, err);
		goto out;
	}
	if (kf_cli_structured(cli)) {
		json_t *comps = json_array(), *sels = json_array(), *defs = json_array(), *sel = json_array(),
		       *ord = json_array(), *j;

		for (size_t i = 0; i < cat->ncomponents; i++)
			json_array_append_new(comps, component_json(&cat->components[i]));
		for (size_t i = 0; i < cat->nselections; i++) {
			json_t *cs = json_array();

			for (size_t k = 0; k < cat->selections[i].ncomponents; k++)
				json_array_append_new(cs, json_string(cat->selections[i].components[k]));
			json_array_append_new(sels, json_pack("{s:s, s:o}", "name", cat->selections[i].name,
							      "components", cs));
		}
		for (size_t i = 0; i < cat->ndefaults; i++)
			json_array_append_new(defs, json_string(cat->defaults[i]));
		for (size_t i = 0; i < nnames; i++)
			json_array_append_new(sel, json_string(names[i]));
		for (size_t i = 0; !nnames && i < cat->ndefaults; i++)
			json_array_append_new(sel, json_string(cat->defaults[i]));
		for (size_t i = 0; i < n; i++)
			json_array_append_new(ord, json_string(order[i]->name));
		j = json_pack("{s:s, s:{s:s, s:s}, s:o, s:o, s:o, s:o, s:o}", "release", cat->release,
			      "upstream", "repository", cat->repository, "tag", cat->tag,
			      "defaults", defs, "selections", sels, "components", comps,
			      "selected", sel, "order", ord);
		kf_cli_print_json(j);
		json_decref(j);
		goto out;
	}
	printf("Kubeflow %s (upstream %s at tag %s)\n\n", cat->release, cat->repository, cat->tag);
	printf("Selections (spec.kubeflow.components, --components):\n");
	for (size_t i = 0; i < cat->nselections; i++) {
		bool def = false;

		for (size_t k = 0; k < cat->ndefaults && !def; k++)
			def = !strcmp(cat->defaults[k], cat->selections[i].name);
		printf("  %-18s%s ", cat->selections[i].name, def ? "*" : " ");
		for (size_t k = 0; k < cat->selections[i].ncomponents; k++)
			printf("%s%s", k ? ", " : "", cat->selections[i].components[k]);
		putchar('\n');
	}
	printf("  (* = default)\n\nComponents:\n");
	for (size_t i = 0; i < cat->ncomponents; i++) {
		const struct kf_kubeflow_component *c = &cat->components[i];

		printf("  %-26s %-30s health: %-14s deps: ", c->name, c->manifests[0].file, health_str(c));
		for (size_t k = 0; k < c->ndeps; k++)
			printf("%s%s", k ? ", " : "", c->deps[k]);
		printf("%s\n", c->ndeps ? "" : "-");
	}
	printf("\nInstall order for %s (%zu components):\n", nnames ? "the selection" : "the defaults", n);
	for (size_t i = 0; i < n; i++)
		printf("  %2zu. %s\n", i + 1, order[i]->name);
out:
	free(order);
	free_strv(names, nnames);
	kf_cluster_free(prof);
	kf_kubeflow_catalog_free(cat);
	kf_err_free(err);
	return exit_code;
}

/* ---- install ------------------------------------------------------- */

struct install_ui {
	struct kf_cli *cli;
	struct kf_kube_cli *kc;
};

static void on_component(void *ctx, const struct kf_kubeflow_progress *p)
{
	struct install_ui *ui = ctx;
	char el[32];

	if (ui->cli->quiet)
		return;
	kf_kube_cli_progress_done(ui->kc);
	kf_duration_fmt(p->elapsed, el);
	fprintf(stderr, "%s[%zu/%zu] %s%s: %s (%zu objects) [%s]\n", kf_cli_c(ui->cli, KF_C_BOLD), p->index,
		p->total, p->component, kf_cli_c(ui->cli, KF_C_RESET), p->what, p->objects, el);
	fflush(stderr);
}

static char *default_dir(const char *override, const char *kind, const char *name)
{
	const char *xdg = getenv(strcmp(kind, "cache") ? "XDG_STATE_HOME" : "XDG_CACHE_HOME");
	char *base, *dir;

	if (override)
		return kf_path_expand(override);
	if (xdg && *xdg)
		base = kf_path_join(xdg, "kfboot");
	else
		base = kf_path_expand(strcmp(kind, "cache") ? "~/.local/state/kfboot" : "~/.cache/kfboot");
	dir = kf_path_join(base, name);
	free(base);
	return dir;
}

static void print_install(struct kf_cli *cli, const struct kf_kubeflow_install_result *res,
			  const struct kf_kubeflow_install_opts *io, const struct kf_kube *k, int rc)
{
	const struct kf_kube_stats *st = kf_kube_get_stats(k);
	const char *email = io->creds.email;
	char el[32];

	kf_duration_fmt(res->elapsed, el);
	if (kf_cli_structured(cli)) {
		json_t *j = json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:{s:I, s:I}}",
				      "ok", rc == 0, "dryRun", io->dry_run,
				      "components", (json_int_t)res->ncomponents, "total", (json_int_t)res->total,
				      "applied", (json_int_t)res->applied, "unchanged", (json_int_t)res->unchanged,
				      "failed", (json_int_t)res->failed, "pruned", (json_int_t)res->pruned,
				      "seconds", res->elapsed, "requests", "sent", (json_int_t)st->requests,
				      "retries", (json_int_t)st->retries);

		if (res->report)
			json_object_set(j, "perComponent", json_object_get(res->report, "components"));
		if (res->generated_password_file)
			json_object_set_new(j, "passwordFile", json_string(res->generated_password_file));
		kf_cli_print_json(j);
		json_decref(j);
		return;
	}
	printf("%skubeflow: %zu components, %zu objects: %zu applied, %zu unchanged, %zu failed, %zu pruned in %s (%lu requests)\n",
	       io->dry_run ? "dry run: " : "", res->ncomponents, res->total, res->applied, res->unchanged,
	       res->failed, res->pruned, el, st->requests);
	if (rc)
		return;
	if (res->generated_password_file)
		printf("admin login: %s; a password was generated into %s (mode 0600)\n",
		       email ? email : "admin@example.com", res->generated_password_file);
}

static int run_install(int argc, char **argv, struct kf_cli *cli)
{
	struct kf_opts o = { 0 };
	struct kf_kube_cli kc = { 0 };
	struct kf_kubeflow_catalog *cat = NULL;
	struct kf_cluster *prof = NULL;
	struct kf_kubeflow_install_opts io = { 0 };
	struct kf_kubeflow_install_result res = { 0 };
	struct kf_diags dg = KF_DIAGS_INIT;
	struct install_ui ui = { cli, &kc };
	struct kf_err *err = NULL;
	char **names = NULL, *state = NULL, *cache = NULL, *source = NULL;
	size_t nnames = 0;
	int rc, exit_code = KF_EXIT_OK;

	rc = parse(&o, cli, argc, argv, "install", OPTS_INSTALL);
	if (rc)
		return rc;
	kc.cli = cli;
	kc.kubeconfig = o.kubeconfig;
	kc.context = o.context;
	rc = load_catalog(&cat, cli, &o, &err);
	if (!rc)
		rc = selection(&names, &nnames, &prof, cli, &o, &err);
	if (rc)
		goto fail;
	/* Fail on a bad selection before connecting. */
	{
		const struct kf_kubeflow_component **order = NULL;
		size_t n;

		rc = kf_kubeflow_resolve(&order, &n, cat, (const char *const *)names, nnames, &err);
		free(order);
		if (rc)
			goto fail;
	}
	if (o.source)
		source = kf_path_expand(o.source);
	else if (!o.release && prof && prof->kubeflow.source_path)
		source = kf_xstrdup(prof->kubeflow.source_path);
	rc = kf_kube_cli_connect(&kc, &err);
	if (rc)
		goto fail;
	state = default_dir(o.state_dir, "state", prof ? prof->name : kc.cfg->context ? kc.cfg->context : "default");
	cache = default_dir(o.cache_dir, "cache", "kubeflow");
	io.catalog = cat;
	io.components = (const char *const *)names;
	io.ncomponents = nnames;
	io.source_dir = source;
	io.release = o.release ? o.release : prof ? prof->kubeflow.release : NULL;
	io.repository = o.repository;
	io.cache_dir = cache;
	io.creds.state_dir = state;
	io.creds.email = o.admin_email;
	io.creds.password_file = o.password_file;
	io.dry_run = o.dry_run;
	io.no_wait = o.no_wait;
	io.timeout = o.timeout;
	io.progress = on_component;
	io.progress_ctx = &ui;
	io.apply_progress = kf_kube_cli_progress;
	io.apply_progress_ctx = &kc;
	rc = kf_kubeflow_install(&res, kc.k, kc.d, &io, &dg, &err);
	kf_kube_cli_progress_done(&kc);
	print_diags(cli, &dg);
	if (!dg.n)
		print_install(cli, &res, &io, kc.k, rc);
	if (rc)
		goto fail;
	goto out;
fail:
	exit_code = err && kf_err_code(err) == KF_EUSAGE ? kf_cli_usage(cli, &kf_cmd_kubeflow, "%s", err->msg)
							 : kf_cli_fail(cli, err);
out:
	kf_diags_release(&dg);
	kf_kubeflow_install_result_release(&res);
	kf_kube_cli_release(&kc);
	free_strv(names, nnames);
	kf_cluster_free(prof);
	kf_kubeflow_catalog_free(cat);
	kf_err_free(err);
	free(state);
	free(cache);
	free(source);
	return exit_code;
}

/* Connect with the shared kube flags (kubeconfig, context). */
static int connect_kube(struct kf_kube_cli *kc, struct kf_cli *cli, const struct kf_opts *o,
			struct kf_err **err)
{
	kc->cli = cli;
	kc->kubeconfig = o->kubeconfig;
	kc->context = o->context;
	kc->timeout = o->timeout;
	return kf_kube_cli_connect(kc, err);
}

static void print_status_text(const json_t *items)
{
	const json_t *it, *w;
	size_t i, j;

	if (!json_array_size(items)) {
		printf("No Kubeflow component is installed (no inventory kube-system/kubeflow-<component>).\n");
		return;
	}
	printf("%-26s %-12s %8s %7s  %s\n", "COMPONENT", "VERSION", "OBJECTS", "READY", "HEALTH");
	json_array_foreach(items, i, it) {
		const char *v = json_string_value(json_object_get(it, "version"));

		printf("%-26s %-12s %8lld %7lld  %s\n", json_string_value(json_object_get(it, "component")),
		       v ? v : "-", (long long)json_integer_value(json_object_get(it, "objects")),
		       (long long)json_integer_value(json_object_get(it, "ready")),
		       json_string_value(json_object_get(it, "health")));
		json_array_foreach(json_object_get(it, "waitingFor"), j, w)
			printf("    waiting for %s\n", json_string_value(w));
	}
}

static int run_status(int argc, char **argv, struct kf_cli *cli)
{
	struct kf_opts o = { 0 };
	struct kf_kube_cli kc = { 0 };
	struct kf_kubeflow_catalog *cat = NULL;
	struct kf_err *err = NULL;
	json_t *items = NULL;
	int rc, exit_code = KF_EXIT_OK;

	rc = parse(&o, cli, argc, argv, "status", OPTS_STATUS);
	if (rc)
		return rc;
	rc = load_catalog(&cat, cli, &o, &err);
	if (!rc)
		rc = connect_kube(&kc, cli, &o, &err);
	if (!rc)
		rc = kf_kubeflow_status(&items, kc.k, kc.d, cat, &err);
	if (rc) {
		exit_code = kf_cli_fail(cli, err);
		goto out;
	}
	if (kf_cli_structured(cli)) {
		json_t *v = json_pack("{s:O}", "components", items);

		kf_cli_print_json(v);
		json_decref(v);
	} else {
		print_status_text(items);
	}
	{
		const json_t *it;
		size_t i;

		json_array_foreach(items, i, it)
			if (strcmp(json_string_value(json_object_get(it, "health")), "Healthy"))
				exit_code = KF_EXIT_FAIL;
	}
out:
	json_decref(items);
	kf_kube_cli_release(&kc);
	kf_kubeflow_catalog_free(cat);
	kf_err_free(err);
	return exit_code;
}

static void on_uninstall(void *ctx, const char *component)
{
	struct kf_kube_cli *kc = ctx;

	kf_kube_cli_progress_done(kc);
	if (!kc->cli->quiet)
		fprintf(stderr, "uninstall: %s\n", component);
}

static int run_uninstall(int argc, char **argv, struct kf_cli *cli)
{
	struct kf_opts o = { 0 };
	struct kf_kube_cli kc = { 0 };
	struct kf_kubeflow_catalog *cat = NULL;
	struct kf_kubeflow_uninstall_opts uo = { 0 };
	struct kf_err *err = NULL;
	json_t *report = NULL;
	int rc, exit_code = KF_EXIT_OK;

	rc = parse(&o, cli, argc, argv, "uninstall", OPTS_UNINSTALL);
	if (rc)
		return rc;
	if (!o.nargs && !o.all)
		return kf_cli_usage(cli, &kf_cmd_kubeflow, "name the components to uninstall, or --all");
	if (o.nargs && o.all)
		return kf_cli_usage(cli, &kf_cmd_kubeflow, "--all and component names exclude each other");
	rc = load_catalog(&cat, cli, &o, &err);
	if (!rc)
		rc = connect_kube(&kc, cli, &o, &err);
	if (rc)
		goto fail;
	uo.catalog = cat;
	uo.components = (const char *const *)o.args;
	uo.ncomponents = (size_t)o.nargs;
	uo.force = o.force;
	uo.dry_run = o.dry_run;
	uo.timeout = o.timeout;
	uo.progress = on_uninstall;
	uo.progress_ctx = &kc;
	uo.apply_progress = kf_kube_cli_progress;
	uo.apply_progress_ctx = &kc;
	rc = kf_kubeflow_uninstall(&report, kc.k, kc.d, &uo, &err);
	kf_kube_cli_progress_done(&kc);
	if (rc)
		goto fail;
	if (kf_cli_structured(cli)) {
		kf_cli_print_json(report);
	} else {
		const json_t *it;
		size_t i;

		json_array_foreach(json_object_get(report, "components"), i, it) {
			if (json_is_true(json_object_get(it, "notInstalled")))
				printf("%s: not installed\n", json_string_value(json_object_get(it, "component")));
			else
				printf("%s: %s %lld objects (%.1fs)\n", json_string_value(json_object_get(it, "component")),
				       o.dry_run ? "would delete" : "deleted",
				       (long long)json_integer_value(json_object_get(it, "deleted")),
				       json_real_value(json_object_get(it, "seconds")));
		}
	}
	goto out;
fail:
	exit_code = err && kf_err_code(err) == KF_EUSAGE ? kf_cli_usage(cli, &kf_cmd_kubeflow, "%s", err->msg)
							 : kf_cli_fail(cli, err);
out:
	json_decref(report);
	kf_kube_cli_release(&kc);
	kf_kubeflow_catalog_free(cat);
	kf_err_free(err);
	return exit_code;
}

static int run_kubeflow(int argc, char **argv, struct kf_cli *cli)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return argc < 2 ? kf_cli_usage(cli, &kf_cmd_kubeflow, "expected 'list', 'install', 'status' or 'uninstall'")
				: kf_cli_help(&kf_cmd_kubeflow);
	if (kf_cli_wants_help(argc, argv))
		return kf_cli_help(&kf_cmd_kubeflow);
	if (!strcmp(argv[1], "list"))
		return run_list(argc - 1, argv + 1, cli);
	if (!strcmp(argv[1], "install"))
		return run_install(argc - 1, argv + 1, cli);
	if (!strcmp(argv[1], "status"))
		return run_status(argc - 1, argv + 1, cli);
	if (!strcmp(argv[1], "uninstall"))
		return run_uninstall(argc - 1, argv + 1, cli);
	return kf_cli_usage(cli, &kf_cmd_kubeflow, "unknown subcommand '%s' (expected 'list', 'install', 'status' or 'uninstall')", argv[1]);
}

const struct kf_cmd kf_cmd_kubeflow = {
	.name = "kubeflow",
	.run = run_kubeflow,
	.summary = "install, inspect and remove Kubeflow components; list the catalog",
	.usage =
		"usage: kfboot kubeflow list [--components a,b] [-f PROFILE] [--catalog F] [-o json]\n"
		"       kfboot kubeflow install [--components a,b] [--source DIR | --release TAG]\n"
		"                               [-f PROFILE] [--kubeconfig F] [--context C] [--timeout D]\n"
		"                               [--dry-run[=server]] [--admin-email E] [--password-file F]\n"
		"                               [--state-dir D] [--cache-dir D] [--repository URL] [-o json]\n"
		"       kfboot kubeflow status [--kubeconfig F] [--context C] [-o json]\n"
		"       kfboot kubeflow uninstall COMPONENT...|--all [--force] [--dry-run[=server]]\n"
		"                                 [--kubeconfig F] [--context C] [--timeout D] [-o json]\n"
		"\n"
		"list shows the component catalog (manifests/kubeflow/catalog.yaml), the selections\n"
		"a profile may name, and the install order a selection expands to.\n"
		"\n"
		"install applies the selected components and their dependencies, one at a time in\n"
		"dependency order, each with its own ApplySet inventory (kube-system/kubeflow-<name>),\n"
		"waiting for each to be healthy before the next. Every file is loaded and validated\n"
		"first: nothing is applied when any document is broken. The default credentials are\n"
		"replaced: the Dex user gets --admin-email (default admin@example.com) and the password\n"
		"in --password-file, or a generated one written to <state-dir>/kubeflow-admin-password\n"
		"(0600; only its path is printed); the OIDC client secret, the oauth2-proxy cookie\n"
		"secret and the KFP S3 secret key get random values, kept in the state dir (0600).\n"
		"\n"
		"  --components a,b   selections or components (default: the profile's, else the\n"
		"                     catalog's defaults = upstream's example)\n"
		"  --source DIR       directory of rendered files (offline; default: the profile's\n"
		"                     spec.kubeflow.source.path)\n"
		"  --release TAG      render upstream kubeflow/manifests at TAG (git clone into the\n"
		"                     cache dir, then kustomize build / kubectl kustomize)\n"
		"  --repository URL   upstream repository (a mirror; default: the catalog's)\n"
		"  -f, --filename F   a Cluster profile (components, source, release, state dir)\n"
		"  --timeout D        deadline per component (default 10m)\n"
		"  --dry-run[=MODE]   server (the default): server-side dry run, nothing is\n"
		"                     changed; none: a real run (client is refused: see apply)\n"
		"  --no-wait          do not wait for health\n"
		"  --admin-email E    the Dex admin's email (default admin@example.com)\n"
		"  --password-file F  the admin password (default: generate one into the state dir)\n"
		"  --kubeconfig F     kubeconfig file (default: KUBECONFIG, then ~/.kube/config)\n"
		"  --context C        kubeconfig context\n"
		"  --state-dir D      where credentials are kept (default $XDG_STATE_HOME/kfboot/<name>)\n"
		"  --cache-dir D      upstream checkout and renders (default $XDG_CACHE_HOME/kfboot/kubeflow)\n"
		"  --catalog F        another catalog file\n"
		"\n"
		"status lists every installed component (its inventory exists) in dependency order:\n"
		"the version its workloads' images carry, its objects (found by the ApplySet labels),\n"
		"how many are ready, and its health with what it still waits for. Exit status 1 when\n"
		"any component is not healthy.\n"
		"\n"
		"uninstall deletes components (or selections) through their inventories, dependents\n"
		"first; objects without kfboot's labels are never touched. It refuses to remove a\n"
		"component that another installed component needs.\n"
		"  --all              every installed component\n"
		"  --force            remove it even when an installed component needs it\n"
		"See docs/kubeflow.md.\n",
};
