/*
 * push.c - commit a small edit on top of a remote branch and push it with
 * libgit2, without a checkout: fetch the branch into a bare repository,
 * let the caller compute the new file contents from the tip, write the
 * blobs, update the tip's tree in place (git_tree_update), create a commit
 * with the tip as its only parent and push it. A push that is rejected
 * because the branch moved (non-fast-forward, a stale or locked ref) is
 * retried from a fresh fetch after a jittered backoff, with the edit made
 * again on the new tip; nothing is ever forced. For a local remote (a path
 * or file://) libgit2's transport would overwrite the branch without a
 * check, so the new objects are written straight into the remote's object
 * database and the branch is moved with a compare-and-swap
 * (git_reference_create_matching) in the remote itself. No temporary ref
 * is ever made there: another pusher's fetch lists the remote's refs and
 * would fail on one that vanished between the listing and the lookup.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "models/push.h"

void kf_push_change_add(struct kf_push_change *c, const char *path, const char *data, size_t len)
{
	if (c->n >= KF_PUSH_MAX_FILES)
		abort();
	c->path[c->n] = kf_xstrdup(path);
	kf_buf_init(&c->data[c->n], len + 1);
	kf_buf_add(&c->data[c->n], data, len);
	c->n++;
}

static void change_release(struct kf_push_change *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->path[i]);
		kf_buf_release(&c->data[i]);
	}
	kf_buf_release(&c->message);
	memset(c, 0, sizeof(*c));
}

static const char *gmsg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

int kf_push_parse_author(const char *s, char **name, char **email, struct kf_err **err)
{
	const char *lt = s ? strchr(s, '<') : NULL;
	const char *gt = lt ? strchr(lt, '>') : NULL;
	size_t nl;

	*name = *email = NULL;
	if (!lt || !gt || gt[1] || gt == lt + 1)
		return kf_err_set(err, KF_EUSAGE, "author '%s': expected \"Name <email>\"", s ? s : "");
	nl = (size_t)(lt - s);
	while (nl && s[nl - 1] == ' ')
		nl--;
	if (!nl)
		return kf_err_set(err, KF_EUSAGE, "author '%s': expected \"Name <email>\" (no name)", s);
	*name = kf_xstrndup(s, nl);
	*email = kf_xstrndup(lt + 1, (size_t)(gt - lt - 1));
	return 0;
}

int kf_push_read_file(git_repository *repo, const char *commit, const char *path, struct kf_buf *out,
		      struct kf_err **err)
{
	git_oid oid;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	int rc = 0;

	kf_buf_reset(out);
	if (git_oid_fromstr(&oid, commit) < 0 || git_commit_lookup(&c, repo, &oid) < 0 ||
	    git_commit_tree(&tree, c) < 0) {
		rc = kf_err_set(err, KF_ERR, "commit %.12s: %s", commit, gmsg());
		goto out;
	}
	if (git_tree_entry_bypath(&e, tree, path) < 0 || git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
		rc = kf_err_set(err, KF_ENOENT, "%s: not in commit %.12s", path, commit);
		goto out;
	}
	if (git_blob_lookup(&blob, repo, git_tree_entry_id(e)) < 0) {
		rc = kf_err_set(err, KF_ERR, "%s: %s", path, gmsg());
		goto out;
	}
	kf_buf_add(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
out:
	git_blob_free(blob);
	git_tree_entry_free(e);
	git_tree_free(tree);
	git_commit_free(c);
	return rc;
}

#define KF_PUSH_FETCH_TRIES 4

static bool is_local(const char *url)
{
	if (!strncmp(url, "file://", 7))
		return true;
	if (strstr(url, "://"))
		return false;
	/* user@host:path (scp-like) is ssh */
	return url[0] == '/' || url[0] == '.' || !strchr(url, ':');
}

/* The caller's callbacks (credentials, certificates, deadlines) keep their
 * own payload; ours (the push status) wrap them. */
struct cbwrap {
	git_remote_callbacks inner;
	char *rejected;       /* the server's reason, when it refused the update */
};

static int w_cred(git_credential **out, const char *url, const char *user, unsigned int allowed, void *p)
{
	struct cbwrap *w = p;

	return w->inner.credentials ? w->inner.credentials(out, url, user, allowed, w->inner.payload) : GIT_PASSTHROUGH;
}

static int w_cert(git_cert *cert, int valid, const char *host, void *p)
{
	struct cbwrap *w = p;

	return w->inner.certificate_check ? w->inner.certificate_check(cert, valid, host, w->inner.payload)
					  : GIT_PASSTHROUGH;
}

static int w_transfer(const git_indexer_progress *st, void *p)
{
	struct cbwrap *w = p;

	return w->inner.transfer_progress ? w->inner.transfer_progress(st, w->inner.payload) : 0;
}

static int w_sideband(const char *str, int len, void *p)
{
	struct cbwrap *w = p;

	return w->inner.sideband_progress ? w->inner.sideband_progress(str, len, w->inner.payload) : 0;
}

static int w_update_ref(const char *refname, const char *status, void *p)
{
	struct cbwrap *w = p;

	(void)refname;
	if (status && !w->rejected)
		w->rejected = kf_xstrdup(status);
	return 0;
}

static void init_callbacks(const struct kf_push_target *t, struct cbwrap *w, git_remote_callbacks *cb)
{
	memset(w, 0, sizeof(*w));
	git_remote_init_callbacks(&w->inner, GIT_REMOTE_CALLBACKS_VERSION);
	if (t->callbacks)
		t->callbacks(t->callbacks_ctx, &w->inner);
	git_remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb->credentials = w_cred;
	cb->certificate_check = w_cert;
	cb->transfer_progress = w_transfer;
	cb->sideband_progress = w_sideband;
	cb->push_update_reference = w_update_ref;
	cb->payload = w;
}

/* Fetch the branch; *tip is its commit. */
static int fetch_tip(const struct kf_push_target *t, git_oid *tip, struct kf_err **err)
{
	git_remote *remote = NULL;
	git_fetch_options fo;
	char spec[PATH_MAX], ref[PATH_MAX];
	char *specs[1] = { spec };
	git_strarray refspecs = { specs, 1 };
	struct cbwrap w;
	int rc = 0, g;

	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	init_callbacks(t, &w, &fo.callbacks);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	snprintf(spec, sizeof(spec), "+refs/heads/%s:refs/remotes/origin/%s", t->branch, t->branch);
	snprintf(ref, sizeof(ref), "refs/remotes/origin/%s", t->branch);
	if (git_remote_create_anonymous(&remote, t->repo, t->url) < 0) {
		rc = kf_err_set(err, KF_EINVAL, "remote %s: %s", t->shown_url, gmsg());
		goto out;
	}
	g = git_remote_fetch(remote, &refspecs, &fo, NULL);
	if (g < 0) {
		/* Anything but a refused credential may pass (a remote that is
		 * down, a ref that vanished while listed): retried. */
		rc = kf_err_set(err, g == GIT_EAUTH ? KF_EAUTH : KF_EAGAIN, "fetch %s (%s): %s", t->shown_url, t->branch,
				gmsg());
		goto out;
	}
	if (git_reference_name_to_id(tip, t->repo, ref) < 0)
		rc = kf_err_set(err, KF_ENOENT, "%s: no branch '%s'", t->shown_url, t->branch);
out:
	git_remote_free(remote);
	return rc;
}

/* Blobs, tree and commit for the change on top of tip. */
static int make_commit(const struct kf_push_target *t, const git_signature *sig, const git_oid *tip,
		       const struct kf_push_change *c, git_oid *out, struct kf_err **err)
{
	git_commit *parent = NULL;
	git_tree *tree = NULL, *newtree = NULL;
	git_tree_update upd[KF_PUSH_MAX_FILES];
	git_oid blob[KF_PUSH_MAX_FILES], tree_id;
	int rc = 0;

	if (git_commit_lookup(&parent, t->repo, tip) < 0 || git_commit_tree(&tree, parent) < 0) {
		rc = kf_err_set(err, KF_ERR, "reading the tip: %s", gmsg());
		goto out;
	}
	for (size_t i = 0; i < c->n; i++) {
		git_tree_entry *old = NULL;

		if (git_blob_create_from_buffer(&blob[i], t->repo, c->data[i].buf, c->data[i].len) < 0) {
			rc = kf_err_set(err, KF_ERR, "writing %s: %s", c->path[i], gmsg());
			goto out;
		}
		memset(&upd[i], 0, sizeof(upd[i]));
		upd[i].action = GIT_TREE_UPDATE_UPSERT;
		upd[i].id = blob[i];
		upd[i].path = c->path[i];
		upd[i].filemode = GIT_FILEMODE_BLOB;
		if (git_tree_entry_bypath(&old, tree, c->path[i]) == 0) {
			if (git_tree_entry_filemode(old) == GIT_FILEMODE_BLOB_EXECUTABLE)
				upd[i].filemode = GIT_FILEMODE_BLOB_EXECUTABLE;
			git_tree_entry_free(old);
		}
	}
	if (git_tree_create_updated(&tree_id, t->repo, tree, c->n, upd) < 0 ||
	    git_tree_lookup(&newtree, t->repo, &tree_id) < 0) {
		rc = kf_err_set(err, KF_ERR, "writing the tree: %s", gmsg());
		goto out;
	}
	if (git_commit_create(out, t->repo, NULL, sig, sig, "UTF-8", c->message.buf, newtree, 1,
			      (const git_commit **)&parent) < 0)
		rc = kf_err_set(err, KF_ERR, "writing the commit: %s", gmsg());
out:
	git_tree_free(newtree);
	git_tree_free(tree);
	git_commit_free(parent);
	return rc;
}

/* A rejection worth a new attempt: the branch moved under us. */
static bool moved_reason(const char *why)
{
	static const char *const words[] = { "non-fast-forward", "fetch first", "stale", "lock", "failed to update",
					     "not fast", "cannot push non-fastforwardable", NULL };

	for (size_t i = 0; why && words[i]; i++)
		if (strstr(why, words[i]))
			return true;
	return false;
}

/*
 * Copy what `dst` lacks of the tree `id` from `src`: a subtree already
 * there is complete (git writes an object only after all it points to), so
 * the walk stops at it. Tree entries are written before their tree.
 */
static int copy_tree(git_odb *src, git_odb *dst, const git_oid *id, git_repository *srepo, int depth)
{
	git_tree *tree = NULL;
	git_odb_object *o = NULL;
	git_oid w;
	int rc = -1;

	if (git_odb_exists(dst, id))
		return 0;
	if (depth > 64 || git_tree_lookup(&tree, srepo, id) < 0)
		return -1;
	for (size_t i = 0; i < git_tree_entrycount(tree); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		const git_oid *eid = git_tree_entry_id(e);

		if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
			if (copy_tree(src, dst, eid, srepo, depth + 1) < 0)
				goto out;
		} else if (git_tree_entry_type(e) == GIT_OBJECT_BLOB && !git_odb_exists(dst, eid)) {
			if (git_odb_read(&o, src, eid) < 0 ||
			    git_odb_write(&w, dst, git_odb_object_data(o), git_odb_object_size(o), GIT_OBJECT_BLOB) < 0)
				goto out;
			git_odb_object_free(o);
			o = NULL;
		}
	}
	if (git_odb_read(&o, src, id) < 0 ||
	    git_odb_write(&w, dst, git_odb_object_data(o), git_odb_object_size(o), GIT_OBJECT_TREE) < 0)
		goto out;
	rc = 0;
out:
	git_odb_object_free(o);
	git_tree_free(tree);
	return rc;
}

/* The commit and the objects of its tree the remote lacks (its parent, the
 * remote's tip, is there already). */
static int copy_commit(git_repository *srepo, git_repository *drepo, const git_oid *commit)
{
	git_odb *src = NULL, *dst = NULL;
	git_commit *c = NULL;
	git_odb_object *o = NULL;
	git_oid w;
	int rc = -1;

	if (git_repository_odb(&src, srepo) < 0 || git_repository_odb(&dst, drepo) < 0 ||
	    git_commit_lookup(&c, srepo, commit) < 0 ||
	    copy_tree(src, dst, git_commit_tree_id(c), srepo, 0) < 0 || git_odb_read(&o, src, commit) < 0 ||
	    git_odb_write(&w, dst, git_odb_object_data(o), git_odb_object_size(o), GIT_OBJECT_COMMIT) < 0)
		goto out;
	rc = 0;
out:
	git_odb_object_free(o);
	git_commit_free(c);
	git_odb_free(dst);
	git_odb_free(src);
	return rc;
}

/*
 * Push `commit` as the new tip. Returns 0, KF_EAGAIN when the branch moved
 * (retry), another error when refused for another reason.
 */
static int push_commit(const struct kf_push_target *t, const git_oid *expected, const git_oid *commit,
		       struct kf_err **err)
{
	git_remote *remote = NULL;
	git_repository *rrepo = NULL;
	git_push_options po;
	struct cbwrap ps;
	char tmpref[128], spec[PATH_MAX], hex[41];
	char *specs[1] = { spec };
	git_strarray refspecs = { specs, 1 };
	int rc = 0, g;

	memset(&ps, 0, sizeof(ps));
	if (is_local(t->url)) {
		/* Like git's receive.denyCurrentBranch: a branch checked out in
		 * a working tree is not moved under it. */
		const char *p = !strncmp(t->url, "file://", 7) ? t->url + 7 : t->url;
		git_reference *head = NULL;
		char branch[PATH_MAX];

		if (git_repository_open(&rrepo, p) < 0) {
			rc = kf_err_set(err, KF_ERR, "remote %s: %s", t->shown_url, gmsg());
			goto out;
		}
		if (!git_repository_is_bare(rrepo) && git_repository_head(&head, rrepo) == 0 &&
		    !strcmp(git_reference_shorthand(head), t->branch)) {
			git_reference_free(head);
			rc = kf_err_set(err, KF_EINVAL, "%s: branch '%s' is checked out in that working tree; push to a bare "
					"repository or to the clone's remote URL (--repo URL)", t->shown_url, t->branch);
			goto out;
		}
		git_reference_free(head);
		if (copy_commit(t->repo, rrepo, commit) < 0) {
			rc = kf_err_set(err, KF_ERR, "push to %s: writing objects: %s", t->shown_url, gmsg());
			goto out;
		}
		snprintf(branch, sizeof(branch), "refs/heads/%s", t->branch);
		g = git_reference_create_matching(NULL, rrepo, branch, commit, 1, expected, "kfboot push");
		if (g == GIT_EMODIFIED || g == GIT_ELOCKED)
			rc = kf_err_set(err, KF_EAGAIN, "push to %s: the branch moved", t->shown_url);
		else if (g < 0)
			rc = kf_err_set(err, KF_ERR, "push to %s: %s", t->shown_url, gmsg());
		goto out;
	}

	git_oid_tostr(hex, sizeof(hex), commit);
	snprintf(tmpref, sizeof(tmpref), "refs/kfboot/push/%ld-%.12s", (long)getpid(), hex);
	if (git_reference_create(NULL, t->repo, tmpref, commit, 1, NULL) < 0) {
		rc = kf_err_set(err, KF_ERR, "local ref: %s", gmsg());
		goto out;
	}
	snprintf(spec, sizeof(spec), "%s:refs/heads/%s", tmpref, t->branch);
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	init_callbacks(t, &ps, &po.callbacks);
	if (git_remote_create_anonymous(&remote, t->repo, t->url) < 0) {
		rc = kf_err_set(err, KF_EINVAL, "remote %s: %s", t->shown_url, gmsg());
		goto drop;
	}
	g = git_remote_push(remote, &refspecs, &po);
	if (g < 0) {
		const char *m = gmsg();

		if (g == GIT_ENONFASTFORWARD || moved_reason(m))
			rc = kf_err_set(err, KF_EAGAIN, "push to %s: %s", t->shown_url, m);
		else
			rc = kf_err_set(err, g == GIT_EAUTH ? KF_EAUTH : KF_ERR, "push to %s: %s", t->shown_url, m);
	} else if (ps.rejected) {
		rc = kf_err_set(err, moved_reason(ps.rejected) ? KF_EAGAIN : KF_ERR, "push to %s refused: %s",
				t->shown_url, ps.rejected);
	}
drop: {
	git_reference *lr = NULL;

	if (git_reference_lookup(&lr, t->repo, tmpref) == 0) {
		git_reference_delete(lr);
		git_reference_free(lr);
	}
}
out:
	git_repository_free(rrepo);
	git_remote_free(remote);
	free(ps.rejected);
	return rc;
}

/* Serialise pushers that share one cache (a CLI and a reconciler on one
 * machine): fetches into one bare repository must not interleave. */
static int lock_cache(git_repository *repo, struct kf_err **err)
{
	char *p = kf_xasprintf("%s/kfboot-push.lock", git_repository_path(repo));
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		kf_err_set(err, KF_EIO, "%s: %s", p, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	free(p);
	return fd;
}

int kf_push_edit(const struct kf_push_target *t0, const struct kf_push_opts *o, kf_push_edit_fn fn, void *ctx,
		 struct kf_push_result *res, struct kf_err **err)
{
	struct kf_push_target t = *t0;
	struct kf_push_opts none = { 0 };
	struct kf_push_change c = { 0 };
	git_signature *sig = NULL;
	char *name = NULL, *email = NULL;
	double wait;
	int rc, lock = -1, max;
	bool fetching;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);

	memset(res, 0, sizeof(*res));
	if (!o)
		o = &none;
	if (!t.shown_url)
		t.shown_url = t.url;
	max = o->max_attempts > 0 ? o->max_attempts : 10;
	wait = o->backoff > 0 ? o->backoff : 0.2;
	rc = kf_push_parse_author(o->author ? o->author : "kfboot <kfboot@localhost>", &name, &email, err);
	if (rc)
		goto out;
	if (git_signature_now(&sig, name, email) < 0) {
		rc = kf_err_set(err, KF_EUSAGE, "author '%s': %s", o->author, gmsg());
		goto out;
	}
	lock = lock_cache(t.repo, err);
	if (lock < 0) {
		rc = KF_EIO;
		goto out;
	}
	for (int attempt = 1;; attempt++) {
		git_oid tip, commit;
		struct kf_err *perr = NULL;

		res->attempts = attempt;
		rc = fetch_tip(&t, &tip, &perr);
		if (rc)
			goto retry;
		git_oid_tostr(res->parent, sizeof(res->parent), &tip);
		change_release(&c);
		rc = fn(ctx, t.repo, res->parent, &c, err);
		if (rc == KF_PUSH_NOOP) {
			res->noop = true;
			rc = 0;
			goto out;
		}
		if (rc)
			goto out;
		rc = make_commit(&t, sig, &tip, &c, &commit, err);
		if (rc)
			goto out;
		git_oid_tostr(res->commit, sizeof(res->commit), &commit);
		if (o->dry_run)
			goto out;
		rc = push_commit(&t, &tip, &commit, &perr);
		if (!rc) {
			char ref[PATH_MAX];

			snprintf(ref, sizeof(ref), "refs/remotes/origin/%s", t.branch);
			git_reference_create(NULL, t.repo, ref, &commit, 1, "kfboot push");
			goto out;
		}
		res->commit[0] = '\0';
retry:
		/* A remote that does not answer gets a few tries, not ten. */
		fetching = rc == KF_EAGAIN && !strncmp(perr->msg, "fetch ", 6);
		if (rc != KF_EAGAIN || attempt >= (fetching && max > KF_PUSH_FETCH_TRIES ? KF_PUSH_FETCH_TRIES : max)) {
			if (fetching)
				rc = kf_err_set(err, KF_EAGAIN, "%s (gave up after %d attempts)", perr->msg, attempt);
			else if (rc == KF_EAGAIN)
				rc = kf_err_set(err, KF_ECONFLICT, "%s (gave up after %d attempts: the branch kept moving)",
						perr->msg, attempt);
			else
				rc = kf_err_set(err, rc, "%s", perr->msg);
			kf_err_free(perr);
			goto out;
		}
		kf_debug("push: %s; attempt %d of %d in %.2fs", perr->msg, attempt + 1, max, wait);
		kf_err_free(perr);
		kf_sleep(wait * (0.5 + (double)rand_r(&seed) / RAND_MAX));
		wait = wait * 2 > 5 ? 5 : wait * 2;
	}
out:
	if (lock >= 0)
		close(lock);
	change_release(&c);
	git_signature_free(sig);
	free(name);
	free(email);
	return rc;
}
