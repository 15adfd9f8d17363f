/*
 * cmd_promote.c - `kfboot promote MODEL --to ENV`: move an environment's
 * pin of a model to a version (by default the one its promotion.from
 * environment pins) when the promotion gates hold, as one commit pushed to
 * the GitOps repository; plus the options and set-up that `kfboot models`
 * shares (cmd_models.h).
 *
 * The soak gate reads the reconciler's status from the cluster (ConfigMap
 * kfboot-system/kfboot-status) when a kubeconfig is given; without one a
 * soak gate cannot be known and the promotion is refused unless --force.
 * Exit codes: 0 promoted (or nothing to do, or a dry run), 1 refused or
 * failed (every failed gate is named with its value), 2 usage.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_models.h"
#include "gitops/source_git.h"

enum okind { K_STR, K_BOOL };

struct mopt {
	const char *name;
	enum okind kind;
	size_t off;
};

#define M(field) offsetof(struct kf_models_cli, field)

static const struct mopt mopts[] = {
	{ "repo", K_STR, M(repo) },
	{ "branch", K_STR, M(branch) },
	{ "state-dir", K_STR, M(state_dir) },
	{ "author", K_STR, M(author) },
	{ "kubeconfig", K_STR, M(kubeconfig) },
	{ "context", K_STR, M(context) },
	{ "status-namespace", K_STR, M(status_ns) },
	{ "token-file", K_STR, M(token_file) },
	{ "username", K_STR, M(username) },
	{ "password-file", K_STR, M(password_file) },
	{ "ca-file", K_STR, M(ca_file) },
	{ "ssh-key", K_STR, M(ssh_key) },
	{ "known-hosts", K_STR, M(known_hosts) },
	{ "accept-new-host-key", K_BOOL, M(accept_new_host_key) },
	{ "to", K_STR, M(to) },
	{ "version", K_STR, M(version) },
	{ "run", K_STR, M(run) },
	{ "env", K_STR, M(env) },
	{ "run-namespace", K_STR, M(run_ns) },
	{ "domain", K_STR, M(domain) },
	{ "ingress", K_STR, M(ingress) },
	{ "dry-run", K_BOOL, M(dry_run) },
	{ "force", K_BOOL, M(force) },
};

static bool allowed_name(const char *allowed, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = allowed; p && *p;) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		if (l == n && !strncmp(p, name, n))
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}

int kf_models_cli_parse(struct kf_models_cli *m, const struct kf_cmd *cmd, const char *allowed, struct kf_cli *cli,
			int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val, *eq;
		const struct mopt *o = NULL;
		char name[64];
		size_t nl;

		if (strncmp(a, "--", 2) || !a[2]) {
			if (m->npos >= KF_ARRAY_SIZE(m->pos))
				return kf_cli_usage(cli, cmd, "unexpected argument '%s'", a);
			m->pos[m->npos++] = a;
			continue;
		}
		eq = strchr(a, '=');
		nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (nl >= sizeof(name))
			return kf_cli_usage(cli, cmd, "unknown option '%s'", a);
		memcpy(name, a + 2, nl);
		name[nl] = '\0';
		val = eq ? eq + 1 : NULL;
		for (size_t j = 0; j < KF_ARRAY_SIZE(mopts) && !o; j++)
			if (!strcmp(mopts[j].name, name))
				o = &mopts[j];
		if (!o || (!allowed_name(allowed, name) && !allowed_name("repo,branch,state-dir,token-file,username,"
									"password-file,ca-file,ssh-key,known-hosts,"
									"accept-new-host-key,kubeconfig,context,"
									"status-namespace", name)))
			return kf_cli_usage(cli, cmd, "unknown option '%s'", a);
		if (o->kind == K_BOOL && !strcmp(name, "dry-run")) {
			enum kf_dry_run dm;
			int urc = kf_cli_dry_run(cli, cmd, val, KF_DRY_DOES(KF_DRY_CLIENT), KF_DRY_CLIENT,
						 "nothing is pushed, so there is no server-side dry run", &dm);

			if (urc)
				return urc;
			m->dry_run = dm == KF_DRY_CLIENT;
			continue;
		}
		if (o->kind == K_BOOL) {
			if (val && strcmp(val, "true") && strcmp(val, "false"))
				return kf_cli_usage(cli, cmd, "option '--%s' takes true or false, not '%s'", name, val);
			*(bool *)((char *)m + o->off) = !val || !strcmp(val, "true");
			continue;
		}
		if (!val) {
			if (i + 1 >= argc)
				return kf_cli_usage(cli, cmd, "option '%s' needs a value", a);
			val = argv[++i];
		}
		*(const char **)((char *)m + o->off) = val;
	}
	if (m->token_file && m->password_file)
		return kf_cli_usage(cli, cmd, "--token-file and --password-file cannot be used together");
	return 0;
}

static void source_callbacks(void *ctx, git_remote_callbacks *cb)
{
	kf_git_source_remote_callbacks(ctx, cb);
}

int kf_models_cli_open(struct kf_models_cli *m, struct kf_err **err)
{
	struct kf_git_source_opts so = { 0 };
	char commit[41];
	int rc;

	if (!m->repo) {
		/* The current clone's origin: a promotion goes to the shared
		 * remote, never into a working tree. */
		git_repository *cur = NULL;
		git_remote *origin = NULL;

		git_libgit2_init();
		if (git_repository_open_ext(&cur, ".", 0, NULL) == 0 && git_remote_lookup(&origin, cur, "origin") == 0 &&
		    git_remote_url(origin))
			m->repo_buf = kf_xstrdup(git_remote_url(origin));
		git_remote_free(origin);
		git_repository_free(cur);
		git_libgit2_shutdown();
		if (!m->repo_buf)
			return kf_err_set(err, KF_EUSAGE, "no --repo, and the current directory is not a clone with an "
					  "'origin' remote");
		m->repo = m->repo_buf;
	}
	so.token_file = m->token_file;
	so.username = m->username;
	so.password_file = m->password_file;
	so.ca_file = m->ca_file;
	so.ssh_key_file = m->ssh_key;
	so.known_hosts_file = m->known_hosts;
	so.accept_new_host_key = m->accept_new_host_key;
	rc = kf_git_source_open(&m->src, m->repo, m->branch, m->state_dir, &so, err);
	if (!rc)
		rc = kf_git_source_fetch_retry(m->src, KF_GIT_FETCH_TRIES, commit, err);
	if (rc)
		return rc;
	m->target.repo = kf_git_source_repo(m->src);
	m->target.url = kf_git_source_remote(m->src);
	m->target.shown_url = kf_git_source_url(m->src);
	m->target.branch = kf_git_source_branch(m->src);
	m->target.callbacks = source_callbacks;
	m->target.callbacks_ctx = m->src;
	if (m->kubeconfig || m->context) {
		struct kf_kubeconfig_opts ko = { .path = m->kubeconfig, .context = m->context };
		struct kf_kube_opts kopts = { .timeout = 20, .retry_window = 20 };

		rc = kf_kube_config_load(&m->kcfg, &ko, err);
		if (!rc)
			rc = kf_kube_new(&m->k, m->kcfg, &kopts, err);
	}
	return rc;
}

json_t *kf_models_cli_status(struct kf_models_cli *m, char **why)
{
	json_t *cm = NULL, *st = NULL;
	struct kf_err *e = NULL;
	char *path;
	const char *text;

	*why = NULL;
	if (!m->k) {
		*why = kf_xstrdup("no cluster given (--kubeconfig)");
		return NULL;
	}
	path = kf_xasprintf("/api/v1/namespaces/%s/configmaps/kfboot-status", m->status_ns ? m->status_ns : "kfboot-system");
	if (kf_kube_get_json(m->k, path, true, &cm, &e)) {
		char *s = kf_err_str(e);

		*why = kf_xasprintf("cannot read the reconciler status: %s", s);
		free(s);
		kf_err_free(e);
	} else if (!cm) {
		*why = kf_xasprintf("no reconciler status in the cluster (%s)", path);
	} else {
		json_error_t je;

		text = json_string_value(json_object_get(json_object_get(cm, "data"), "status.json"));
		st = text ? json_loads(text, 0, &je) : NULL;
		if (!st)
			*why = kf_xstrdup("the reconciler status (kfboot-status) has no readable status.json");
	}
	json_decref(cm);
	free(path);
	return st;
}

void kf_models_cli_release(struct kf_models_cli *m)
{
	kf_kube_free(m->k);
	kf_kube_config_free(m->kcfg);
	kf_git_source_free(m->src);
	free(m->repo_buf);
	m->repo_buf = NULL;
	m->k = NULL;
	m->kcfg = NULL;
	m->src = NULL;
}

/* ---- kfboot promote ----------------------------------------------------- */

static json_t *result_json(const struct kf_models_cli *m, const struct kf_promote_result *r, int rc)
{
	json_t *o = json_pack("{s:s, s:s?, s:s?, s:s, s:s?, s:b, s:b, s:b, s:b, s:b}", "model", m->pos[0], "version",
			      r->version, "from", r->from_env, "to", m->to, "previous", r->previous, "rollback",
			      r->rollback, "gatesOk", r->gates_ok, "forced", r->forced, "dryRun", m->dry_run, "noop",
			      r->push.noop);

	json_object_set(o, "gates", r->gates ? r->gates : json_array());
	if (r->gates_failed)
		json_object_set_new(o, "gatesFailed", json_string(r->gates_failed));
	if (r->soak_why)
		json_object_set_new(o, "soakNote", json_string(r->soak_why));
	json_object_set_new(o, "commit", *r->push.commit && !m->dry_run ? json_string(r->push.commit) : json_null());
	json_object_set_new(o, "parent", json_string(r->push.parent));
	json_object_set_new(o, "attempts", json_integer(r->push.attempts));
	if (r->diff)
		json_object_set_new(o, "diff", json_string(r->diff));
	if (r->message)
		json_object_set_new(o, "message", json_string(r->message));
	json_object_set_new(o, "result", json_string(rc ? "refused" : r->push.noop ? "unchanged" : m->dry_run ? "dry-run" : "pushed"));
	return o;
}

static int run_promote(int argc, char **argv, struct kf_cli *cli)
{
	extern const struct kf_cmd kf_cmd_promote;
	struct kf_models_cli m = { 0 };
	struct kf_promote_result r = { 0 };
	struct kf_promote_opts po = { 0 };
	struct kf_push_opts pu = { 0 };
	struct kf_err *err = NULL;
	json_t *status = NULL;
	char *why = NULL;
	int rc, ex = KF_EXIT_OK;

	if (kf_cli_wants_help(argc, argv))
		return kf_cli_help(&kf_cmd_promote);
	rc = kf_models_cli_parse(&m, &kf_cmd_promote, "to,version,dry-run,force,author", cli, argc, argv);
	if (rc)
		return rc;
	if (m.npos != 1)
		return kf_cli_usage(cli, &kf_cmd_promote, "name one model");
	if (!m.to)
		return kf_cli_usage(cli, &kf_cmd_promote, "pass --to ENV");
	if (m.author) {
		char *n = NULL, *e = NULL;

		rc = kf_push_parse_author(m.author, &n, &e, &err);
		free(n);
		free(e);
		if (rc) {
			ex = kf_cli_usage(cli, &kf_cmd_promote, "%s", err->msg);
			kf_err_free(err);
			return ex;
		}
	}
	rc = kf_models_cli_open(&m, &err);
	if (rc)
		goto fail;
	status = kf_models_cli_status(&m, &why);
	po.model = m.pos[0];
	po.env = m.to;
	po.version = m.version;
	po.force = m.force;
	po.status = status;
	pu.author = m.author;
	pu.dry_run = m.dry_run;
	rc = kf_promote(&m.target, &pu, &po, &r, &err);
	if (rc && r.gates_failed && !m.force) {
		/* Refused by the gates: name every one, nothing committed. */
		if (kf_cli_structured(cli)) {
			json_t *o = result_json(&m, &r, rc);

			kf_cli_print_json(o);
			json_decref(o);
		}
		fprintf(stderr, "kfboot: error: refusing to promote %s %s to %s: gates failed: %s\n", m.pos[0],
			r.version ? r.version : "?", m.to, r.gates_failed);
		if (r.soak_why)
			fprintf(stderr, "kfboot: soak: %s%s\n", r.soak_why,
				status ? "" : "; a soak gate needs the cluster's status (--kubeconfig) or --force");
		ex = KF_EXIT_FAIL;
		goto out;
	}
	if (rc)
		goto fail;
	if (kf_cli_structured(cli)) {
		json_t *o = result_json(&m, &r, 0);

		kf_cli_print_json(o);
		json_decref(o);
	} else if (r.push.noop) {
		printf("%s already pins %s %s: nothing to do\n", m.to, m.pos[0], r.version ? r.version : "");
	} else {
		if (m.dry_run)
			printf("%s\n%s", r.diff, r.message);
		if (r.forced)
			fprintf(stderr, "kfboot: warning: gates failed (%s); --force: the commit says so (Kfboot-Forced: yes)\n",
				r.gates_failed);
		if (m.dry_run)
			printf("\ndry run: nothing committed\n");
		else
			printf("%s %s %s to %s: commit %.12s pushed to %s (%s)%s%s%s\n  gates: %s\n",
			       r.rollback ? "rolled back" : "promoted", m.pos[0], r.version, m.to, r.push.commit,
			       m.target.shown_url, m.target.branch, r.previous ? "; was " : "",
			       r.previous ? r.previous : "", r.push.attempts > 1 ? " (after a retry)" : "",
			       *r.gates_summary ? r.gates_summary : "none");
	}
	goto out;
fail:
	ex = kf_cli_fail(cli, err);
out:
	free(why);
	json_decref(status);
	kf_promote_result_release(&r);
	kf_err_free(err);
	kf_models_cli_release(&m);
	return ex;
}

const struct kf_cmd kf_cmd_promote = {
	.name = "promote",
	.run = run_promote,
	.summary = "promote a model version into an environment (a gated commit)",
	.usage =
		"usage: kfboot promote MODEL --to ENV [--version V] [--repo URL|PATH] [--branch B]\n"
		"                      [--dry-run[=client]] [--force] [--author \"Name <email>\"] [-o json]\n"
		"\n"
		"Move ENV's pin of MODEL (environments/ENV/models.yaml) to a version, as one\n"
		"commit pushed to the repository's branch. The version defaults to what the\n"
		"environment's promotion.from environment pins; an older version than the\n"
		"one pinned is a rollback. Only the pinned scalar changes; every other byte\n"
		"of the file is kept. Promoting a canary's version ends the canary.\n"
		"\n"
		"Gates (kfboot.yaml environments[].promotion): metric thresholds (min/max)\n"
		"on the version's recorded metrics, and soak: live and healthy in the source\n"
		"environment for at least that long, from the reconciler's status in the\n"
		"cluster (ConfigMap kfboot-system/kfboot-status; needs --kubeconfig). A\n"
		"failing gate refuses with exit 1 and names every failed gate with its\n"
		"value; nothing is committed. A rollback skips the soak.\n"
		"\n"
		"The commit carries trailers Kfboot-Promote (\"xor v3 staging -> prod\") and\n"
		"Kfboot-Gates (\"test_accuracy 0.991 >= 0.97; soak 2h >= 1h\"). A push rejected\n"
		"because the branch moved is made again on the new tip (gates re-checked)\n"
		"and retried with backoff; nothing is ever forced.\n"
		"\n"
		"options:\n"
		"  --to ENV               the environment to promote into (required)\n"
		"  --version V            the version (default: what promotion.from pins)\n"
		"  --repo URL|PATH        the GitOps repository (default: the current\n"
		"                         clone's origin remote)\n"
		"  --branch B             its branch (default: main)\n"
		"  --dry-run[=MODE]       client (the default): print the change of models.yaml and\n"
		"                         the commit message; commit nothing; none: a real run\n"
		"  --force                push even when gates fail (the commit says\n"
		"                         Kfboot-Forced: yes)\n"
		"  --author \"N <E>\"     commit author (default: kfboot <kfboot@localhost>)\n"
		"  --kubeconfig FILE      the cluster whose status gives the soak\n"
		"  --context NAME         kubeconfig context\n"
		"  --status-namespace NS  where the status ConfigMap is (default: kfboot-system)\n"
		"  --state-dir DIR        git cache (default: ~/.local/state/kfboot)\n"
		KF_GIT_CRED_HELP
		"  -o json                the result as JSON\n"
		"\n"
		"exit status: 0 promoted, unchanged or dry run; 1 refused or failed; 2 usage\n",
};
