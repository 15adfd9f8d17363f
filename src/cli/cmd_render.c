/*
 * cmd_render.c - `kfboot render`: what one environment of a repository
 * renders to at a commit, as YAML on stdout, without a cluster. The same
 * render pipeline the reconciler uses (src/gitops/render.c): plain YAML
 * and kustomize, ${VAR} substitution, the environment's namespace; every
 * problem is printed with file:line:col and the exit code is 1.
 *
 * Namespaces are defaulted from a built-in list of cluster-scoped kinds
 * and the CRDs in the set (the reconciler asks the server instead).
 */
#include <stdlib.h>
#include <string.h>

#include "cmd_gitops.h"

static int run_render(int argc, char **argv, struct kf_cli *cli);

const struct kf_cmd kf_cmd_render = {
	.name = "render",
	.run = run_render,
	.summary = "print what an environment of a GitOps repository renders to (offline)",
	.usage =
		"usage: kfboot render --repo URL|PATH --env NAME [--revision REV] [--branch B]\n"
		"                     [--state-dir DIR] [credential options of reconcile] [-o json]\n"
		"\n"
		"Fetch the branch (or use the cached copy when the remote cannot be reached and\n"
		"--revision names a cached commit), read kfboot.yaml and the environment's paths at\n"
		"REV (default: the branch head) straight from the commit, and print the rendered\n"
		"objects as YAML documents (-o json: a JSON list). Nothing is sent to any cluster.\n"
		"Problems are printed with file:line:col and the exit code is 1.\n"
		"\n"
		"  --repo URL|PATH   the repository (see kfboot reconcile --help)\n"
		"  --env NAME        the environment to render\n"
		"  --revision REV    a commit, tag or branch (default: the head of --branch)\n"
		"  --branch B        branch to fetch (default main)\n"
		"  --state-dir DIR   where the git cache lives (default ~/.local/state/kfboot)\n",
};

static int run_render(int argc, char **argv, struct kf_cli *cli)
{
	struct kf_gitops_cli g = { 0 };
	struct kf_git_source_opts so;
	struct kf_git_source *src = NULL;
	struct kf_repo_config *cfg = NULL;
	struct kf_render_opts ro = { 0 };
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_err *err = NULL;
	const struct kf_repo_env *env;
	char commit[41];
	int rc, exit_code;

	exit_code = kf_gitops_cli_parse(&g, &kf_cmd_render, KF_GCMD_RENDER, cli, argc, argv);
	if (exit_code)
		goto out;
	if (g.nenvs != 1) {
		exit_code = kf_cli_usage(cli, &kf_cmd_render, "pass exactly one --env NAME");
		goto out;
	}
	kf_gitops_cli_source_opts(&g, &so);
	rc = kf_git_source_open(&src, g.repo, g.branch, g.state_dir, &so, &err);
	if (!rc) {
		rc = kf_git_source_fetch_retry(src, KF_GIT_FETCH_TRIES, commit, &err);
		if (rc && g.revision) {
			char *m = kf_err_str(err);

			kf_warn("%s; using the cached copy", m);
			free(m);
			kf_err_clear(&err);
			rc = 0;
		}
	}
	if (!rc)
		rc = kf_git_source_resolve(src, g.revision, commit, &err);
	if (!rc)
		rc = kf_repo_config_load(&cfg, src, commit, &err);
	if (rc) {
		exit_code = kf_cli_fail(cli, err);
		goto out;
	}
	env = kf_repo_config_env(cfg, g.envs[0]);
	if (!env) {
		kf_err_set(&err, KF_EINVAL, "%s at commit %.12s has no environment '%s'", KF_REPO_CONFIG_FILE, commit, g.envs[0]);
		exit_code = kf_cli_fail(cli, err);
		goto out;
	}
	ro.kustomize = g.kustomize;
	ro.kustomize_timeout = g.kustomize_timeout;
	rc = kf_gitops_render_env(&set, src, commit, cfg, env, &ro, &dg, &err);
	if (rc) {
		kf_diags_sort(&dg);
		for (size_t i = 0; i < dg.n; i++) {
			char *s = kf_diag_str(&dg.v[i]);

			fprintf(stderr, "%s%s%s\n", kf_cli_c(cli, KF_C_RED), s, kf_cli_c(cli, KF_C_RESET));
			free(s);
		}
		exit_code = kf_cli_fail(cli, err);
		goto out;
	}
	if (kf_cli_structured(cli)) {
		json_t *arr = json_array();

		for (size_t i = 0; i < set.n; i++)
			json_array_append(arr, set.v[i].obj);
		kf_cli_print_json(arr);
		json_decref(arr);
	} else {
		struct kf_buf b = KF_BUF_INIT;

		for (size_t i = 0; i < set.n; i++) {
			kf_buf_addf(&b, "---\n# Source: %s:%d:%d\n", set.v[i].file, set.v[i].line, set.v[i].col);
			kf_yaml_emit(&b, set.v[i].obj, false, NULL);
		}
		fwrite(b.buf, 1, b.len, stdout);
		kf_buf_release(&b);
	}
	kf_debug("environment '%s' at commit %.12s: %zu objects", env->name, commit, set.n);
out:
	kf_objset_release(&set);
	kf_diags_release(&dg);
	kf_repo_config_free(cfg);
	kf_git_source_free(src);
	kf_gitops_cli_release(&g);
	kf_err_free(err);
	return exit_code;
}
