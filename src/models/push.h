/*
 * push.h - commit one or two file edits on top of a remote branch and push
 * them, without a checkout, never forcing and never losing a push.
 *
 * The caller gives a bare repository (the GitOps fetch cache), the remote
 * URL and branch, how to get credentials (the source's remote callbacks),
 * and an edit function. Each attempt fetches the branch, calls the edit
 * function on the tip (it reads what it needs, re-checks that the edit
 * still makes sense, and returns the new file contents and the message),
 * writes blobs, a tree (git_tree_update on the tip's tree) and a commit
 * whose only parent is the tip, and pushes it. A non-fast-forward
 * rejection (the branch moved meanwhile) starts a new attempt after a
 * backoff; any other rejection is final. Local remotes (a path or file://)
 * are updated with a compare-and-swap of the branch, since libgit2's local
 * transport overwrites refs without checking.
 */
#ifndef KF_MODELS_PUSH_H
#define KF_MODELS_PUSH_H

#include <git2.h>
#include <stdbool.h>

#include "util/util.h"

/* The edit made by one attempt: a few files, and the commit message. */
#define KF_PUSH_MAX_FILES 8
struct kf_push_change {
	char *path[KF_PUSH_MAX_FILES]; /* repository-relative */
	struct kf_buf data[KF_PUSH_MAX_FILES];
	size_t n;
	struct kf_buf message;
};
/* Add a file (path and data copied). At most KF_PUSH_MAX_FILES. */
void kf_push_change_add(struct kf_push_change *c, const char *path, const char *data, size_t len);

/* Returned by an edit function when there is nothing to do (the remote
 * already has what the edit would make). */
#define KF_PUSH_NOOP 1

/*
 * Make the edit on top of commit `tip` (40 hex) of `repo`: fill `c`.
 * Return 0 to commit it, KF_PUSH_NOOP when nothing needs to change, or an
 * error (KF_ECONFLICT when the edit no longer makes sense on this tip,
 * KF_EINVAL when a gate no longer holds, ...), which ends the push.
 */
typedef int (*kf_push_edit_fn)(void *ctx, git_repository *repo, const char *tip,
			       struct kf_push_change *c, struct kf_err **err);

struct kf_push_target {
	git_repository *repo;     /* bare repository used as the local side */
	const char *url;          /* given to libgit2 (may carry credentials) */
	const char *shown_url;    /* for messages; NULL = url */
	const char *branch;
	/* fills credentials/certificate callbacks; NULL = none (local paths) */
	void (*callbacks)(void *ctx, git_remote_callbacks *cb);
	void *callbacks_ctx;
};

struct kf_push_opts {
	const char *author;       /* "Name <email>"; NULL = "kfboot <kfboot@localhost>" */
	int max_attempts;         /* 0 = 10 */
	double backoff;           /* first wait, seconds; 0 = 0.2 (doubles, jittered, capped at 5 s) */
	bool dry_run;             /* make the commit locally but do not push */
};

struct kf_push_result {
	char commit[41];          /* the commit pushed ("" when none) */
	char parent[41];          /* the tip it was made on */
	int attempts;
	bool noop;
};

/*
 * Run the edit and push (see above). 0 when pushed (or noop, or dry run);
 * KF_ECONFLICT when the remote kept moving for every attempt or the edit
 * function reported a conflict; the edit function's error otherwise.
 */
int kf_push_edit(const struct kf_push_target *t, const struct kf_push_opts *o,
		 kf_push_edit_fn fn, void *ctx, struct kf_push_result *res,
		 struct kf_err **err);

/* Read `path` from commit `commit` of repo. KF_ENOENT when missing. */
int kf_push_read_file(git_repository *repo, const char *commit, const char *path,
		      struct kf_buf *out, struct kf_err **err);
/* Parse "Name <email>"; KF_EUSAGE when malformed. */
int kf_push_parse_author(const char *s, char **name, char **email, struct kf_err **err);

#endif
