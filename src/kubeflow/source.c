/*
 * source.c - the upstream source of Kubeflow's manifests: kubeflow/manifests
 * cloned at a release tag with libgit2 into a cache directory, and each
 * component's kustomize path rendered with `kustomize build` or `kubectl
 * kustomize` (whichever is on PATH) into a directory of rendered files -
 * the same layout a local (offline) source has, so the install reads both
 * the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kubeflow/kubeflow.h"

extern char **environ;

static int err_from_git(struct kf_err **err, int code, const char *what)
{
	const git_error *e = git_error_last();

	return kf_err_set(err, KF_EIO, "%s: %s (libgit2 %d)", what, e && e->message ? e->message : "unknown error", code);
}

/* A tag name safe to use in a path and a refspec. */
static bool tag_ok(const char *tag)
{
	if (!tag || !*tag || tag[0] == '.' || tag[0] == '-' || strstr(tag, ".."))
		return false;
	for (const char *p = tag; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
		      *p == '.' || *p == '-' || *p == '_'))
			return false;
	return true;
}

/* Check out refs/tags/<tag> (detached) in repo. */
static int checkout_tag(git_repository *repo, const char *tag, struct kf_err **err)
{
	git_object *obj = NULL;
	git_checkout_options co;
	char *spec = kf_xasprintf("refs/tags/%s^{commit}", tag);
	int rc, g;

	g = git_revparse_single(&obj, repo, spec);
	if (g) {
		rc = kf_err_set(err, KF_ENOENT, "tag '%s' not found in the repository", tag);
		goto out;
	}
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE;
	g = git_checkout_tree(repo, obj, &co);
	if (!g)
		g = git_repository_set_head_detached(repo, git_object_id(obj));
	rc = g ? err_from_git(err, g, "checkout") : 0;
out:
	git_object_free(obj);
	free(spec);
	return rc;
}

static int fetch(char **out_dir, const char *url, const char *tag, const char *cache_dir,
		 struct kf_err **err)
{
	git_repository *repo = NULL;
	git_clone_options opts;
	char *dir = NULL, *tmp = NULL, *name = kf_xasprintf("manifests-%s", tag);
	struct stat st;
	int rc = 0, g;

	git_clone_options_init(&opts, GIT_CLONE_OPTIONS_VERSION);
	dir = kf_path_join(cache_dir, name);
	if (stat(dir, &st) == 0) {
		g = git_repository_open(&repo, dir);
		if (!g && !checkout_tag(repo, tag, err))
			goto done;
		kf_err_clear(err);
		git_repository_free(repo);
		repo = NULL;
	}
	tmp = kf_xasprintf("%s.tmp-%ld", dir, (long)getpid());
	opts.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
	g = git_clone(&repo, url, tmp, &opts);
	if (g) {
		rc = err_from_git(err, g, "clone");
		goto out;
	}
	rc = checkout_tag(repo, tag, err);
	if (rc)
		goto out;
	git_repository_free(repo);
	repo = NULL;
	if (stat(dir, &st) == 0) {
		char *old = kf_xasprintf("%s.old-%ld", dir, (long)getpid());

		if (rename(dir, old) == 0) {
			char *cmd_dir = old;
			pid_t pid;
			char *argv[] = { "rm", "-rf", "--", cmd_dir, NULL };

			if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
				waitpid(pid, NULL, 0);
		}
		free(old);
	}
	if (rename(tmp, dir) != 0) {
		rc = kf_err_errno(err, "rename '%s'", tmp);
		goto out;
	}
	g = git_repository_open(&repo, dir);
	if (g) {
		rc = err_from_git(err, g, "open");
		goto out;
	}
done:
	*out_dir = dir;
	dir = NULL;
out:
	if (rc && tmp) {
		pid_t pid;
		char *argv[] = { "rm", "-rf", "--", tmp, NULL };

		if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
			waitpid(pid, NULL, 0);
	}
	git_repository_free(repo);
	free(tmp);
	free(dir);
	free(name);
	return rc;
}

/* The first of `names` found on PATH, as a full path; NULL when none. */
static char *which(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL, *found = NULL;

	if (!path || !*path)
		return NULL;
	copy = kf_xstrdup(path);
	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *p = kf_path_join(*d ? d : ".", name);

		if (access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

/* Run `tool build|kustomize DIR > out`, stderr to errfile. */
static int render(const char *tool, bool is_kubectl, const char *dir, const char *out,
		  const char *errfile, struct kf_err **err)
{
	posix_spawn_file_actions_t fa;
	char *tmp = kf_xasprintf("%s.tmp", out);
	char *argv[] = { (char *)tool, is_kubectl ? "kustomize" : "build", (char *)dir, NULL };
	pid_t pid;
	int status = 0, rc = 0, e;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	e = posix_spawn(&pid, tool, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (e) {
		errno = e;
		rc = kf_err_errno(err, "running '%s'", tool);
		goto out;
	}
	if (waitpid(pid, &status, 0) < 0) {
		rc = kf_err_errno(err, "waiting for '%s'", tool);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		char *msg = NULL;
		size_t len = 0;

		if (kf_file_read(errfile, &msg, &len, NULL) == 0)
			while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
				msg[--len] = '\0';
		rc = kf_err_set(err, KF_ERR, "%s %s %s: %s %d%s%s", tool, argv[1], dir,
				WIFEXITED(status) ? "exit status" : "killed by signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
				msg && *msg ? ": " : "", msg && *msg ? msg : "");
		free(msg);
		goto out;
	}
	if (rename(tmp, out) != 0)
		rc = kf_err_errno(err, "rename '%s'", tmp);
out:
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

int kf_kubeflow_fetch_render(char **out_dir, const char *repository,
			     const char *tag, const char *cache_dir,
			     const struct kf_kubeflow_component *const *comps,
			     size_t ncomps, struct kf_err **err)
{
	char *repo_dir = NULL, *rendered = NULL, *tool = NULL, *errfile = NULL, *rname = NULL;
	bool is_kubectl = false;
	int rc;

	*out_dir = NULL;
	git_libgit2_init();
	if (!tag_ok(tag)) {
		rc = kf_err_set(err, KF_EINVAL, "release '%s' is not a tag name", tag ? tag : "");
		goto out;
	}
	tool = which("kustomize");
	if (!tool) {
		tool = which("kubectl");
		is_kubectl = tool != NULL;
	}
	if (!tool) {
		rc = kf_err_set(err, KF_ENOENT, "rendering upstream manifests needs 'kustomize' or 'kubectl' on PATH; neither was found (or pass --source DIR with rendered files)");
		goto out;
	}
	rc = kf_mkdir_p(cache_dir, 0700, err);
	if (rc)
		goto out;
	rc = fetch(&repo_dir, repository, tag, cache_dir, err);
	if (rc) {
		kf_err_wrap(err, "fetching %s at tag %s", repository, tag);
		goto out;
	}
	rname = kf_xasprintf("rendered-%s", tag);
	rendered = kf_path_join(cache_dir, rname);
	rc = kf_mkdir_p(rendered, 0700, err);
	if (rc)
		goto out;
	errfile = kf_path_join(rendered, ".render.err");
	for (size_t i = 0; i < ncomps && !rc; i++) {
		for (size_t m = 0; m < comps[i]->nmanifests && !rc; m++) {
			char *src = kf_path_join(repo_dir, comps[i]->manifests[m].path);
			char *dst = kf_path_join(rendered, comps[i]->manifests[m].file);

			rc = render(tool, is_kubectl, src, dst, errfile, err);
			if (rc)
				kf_err_wrap(err, "component '%s': rendering '%s'", comps[i]->name,
					    comps[i]->manifests[m].path);
			free(src);
			free(dst);
		}
	}
	unlink(errfile);
	if (!rc) {
		*out_dir = rendered;
		rendered = NULL;
	}
out:
	free(repo_dir);
	free(rendered);
	free(rname);
	free(tool);
	free(errfile);
	git_libgit2_shutdown();
	return rc;
}
