/*
 * source.c - the git source of the reconciler: one branch of one remote,
 * fetched with libgit2 into a bare cache under the state folder, and read
 * straight from the object database (no checkout, no working tree).
 *
 * Transports are libgit2's: https/http (credentials from files: a token or
 * user + password; a CA bundle), ssh and scp-like user@host:path (a key
 * file or ssh-agent; the host key is checked here against known_hosts with
 * the SSH layer's parser, strict by default), git://, file:// and local
 * paths. Secrets read from files are registered with kf_redact and every
 * error from libgit2 goes through kf_redact, so they never reach a message.
 * A cheap "did the branch move?" check (git_remote_ls after connect) runs
 * before any fetch. Tree-to-tree diffs filtered with git_pathspec give the
 * paths a commit changed (the retraining trigger uses them).
 *
 * A source is used by one thread at a time (the reconcile loop).
 */
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/repository.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitops.h"
#include "source_git.h"
#include "ssh/internal.h"

struct kf_git_source {
	char *url;          /* what libgit2 is given */
	char *shown_url;    /* without credentials */
	char *branch;
	char *cache;        /* bare repository path */
	char *ssh_host;     /* for known_hosts */
	int ssh_port;
	git_repository *repo;
	char head[41];
	/* credentials */
	char *user, *secret;
	char *key_file, *pub_file, *known_hosts;
	bool accept_new;
	int cred_tries;
	char *cert_problem; /* why the host key was refused */
	double timeout;     /* seconds per operation */
	double deadline;    /* of the operation in progress */
};

void kf_strlist_add(struct kf_strlist *l, const char *s)
{
	kf_xgrow((void **)&l->v, &l->alloc, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = kf_xstrdup(s);
}

void kf_strlist_release(struct kf_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->alloc = 0;
}

/* libgit2's last error, redacted, as a kf_err of `code`. */
static int git_fail(struct kf_git_source *s, struct kf_err **err, int code,
		    const char *what)
{
	const git_error *ge = git_error_last();
	char *msg = kf_redact(ge && ge->message ? ge->message : "unknown error");
	int rc;

	if (s && s->cert_problem)
		rc = kf_err_set(err, KF_EAUTH, "%s '%s': %s", what, s->shown_url, s->cert_problem);
	else
		rc = kf_err_set(err, code, "%s '%s': %s", what, s ? s->shown_url : "?", msg);
	free(msg);
	return rc;
}

/* Classify a network failure of libgit2: credentials and host keys are
 * KF_EAUTH, everything else transient. */
static int net_code(int gerr)
{
	if (gerr == GIT_EAUTH || gerr == GIT_ECERTIFICATE)
		return KF_EAUTH;
	return KF_EAGAIN;
}

static char *read_secret(const char *path, struct kf_err **err)
{
	char *data = NULL, *p;
	size_t len = 0;
	char *ex = kf_path_expand(path);

	if (kf_file_read(ex, &data, &len, err) < 0) {
		free(ex);
		return NULL;
	}
	free(ex);
	for (p = data + strlen(data); p > data && (p[-1] == '\n' || p[-1] == '\r' || p[-1] == ' ');)
		*--p = '\0';
	kf_redact_register(data);
	return data;
}

/* Split off "user:password@" from an http(s) URL; register the password. */
static void parse_url(struct kf_git_source *s, const char *url)
{
	const char *scheme = strstr(url, "://");
	struct kf_buf b = KF_BUF_INIT;

	s->ssh_port = 22;
	if (scheme) {
		const char *auth = scheme + 3, *slash = strchr(auth, '/');
		const char *at = strchr(auth, '@');
		const char *hoststart = auth;

		if (at && (!slash || at < slash)) {
			const char *colon = memchr(auth, ':', (size_t)(at - auth));

			if (colon) {
				char *pw = kf_xstrndup(colon + 1, (size_t)(at - colon - 1));

				kf_redact_register(pw);
				free(pw);
			}
			hoststart = at + 1;
			kf_buf_add(&b, url, (size_t)(auth - url));
			if (colon)
				kf_buf_add(&b, auth, (size_t)(colon - auth)), kf_buf_adds(&b, "@");
			else
				kf_buf_add(&b, auth, (size_t)(at + 1 - auth));
			kf_buf_adds(&b, at + 1);
			s->shown_url = kf_buf_detach(&b, NULL);
		} else {
			s->shown_url = kf_xstrdup(url);
		}
		if (!strncmp(url, "ssh://", 6)) {
			const char *end = hoststart + strcspn(hoststart, "/");
			const char *colon;

			if (*hoststart == '[') {
				const char *rb = strchr(hoststart, ']');

				s->ssh_host = kf_xstrndup(hoststart + 1, rb ? (size_t)(rb - hoststart - 1) : 0);
				colon = rb && rb[1] == ':' ? rb + 1 : NULL;
			} else {
				colon = memchr(hoststart, ':', (size_t)(end - hoststart));
				s->ssh_host = kf_xstrndup(hoststart, colon ? (size_t)(colon - hoststart) : (size_t)(end - hoststart));
			}
			if (colon)
				s->ssh_port = atoi(colon + 1);
		}
	} else {
		/* scp-like user@host:path, or a local path */
		const char *colon = strchr(url, ':'), *slash = strchr(url, '/');

		s->shown_url = kf_xstrdup(url);
		if (colon && (!slash || colon < slash)) {
			const char *at = memchr(url, '@', (size_t)(colon - url));
			const char *h = at ? at + 1 : url;

			s->ssh_host = kf_xstrndup(h, (size_t)(colon - h));
		}
	}
}

static int cred_cb(git_credential **out, const char *url, const char *user_from_url,
		   unsigned int allowed, void *payload)
{
	struct kf_git_source *s = payload;

	(void)url;
	if (++s->cred_tries > 2) {
		git_error_set_str(GIT_ERROR_NET, "authentication failed (credentials refused)");
		return GIT_EAUTH;
	}
	if (allowed & GIT_CREDENTIAL_SSH_KEY) {
		const char *u = user_from_url ? user_from_url : "git";

		if (s->key_file)
			return git_credential_ssh_key_new(out, u, s->pub_file, s->key_file, NULL);
		if (!getenv("SSH_AUTH_SOCK")) {
			git_error_set_str(GIT_ERROR_NET, "no ssh key: give a key file or run an ssh-agent (SSH_AUTH_SOCK)");
			return GIT_EAUTH;
		}
		return git_credential_ssh_key_from_agent(out, u);
	}
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user_from_url ? user_from_url : "git");
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && s->secret)
		return git_credential_userpass_plaintext_new(out, s->user ? s->user : "x-access-token", s->secret);
	git_error_set_str(GIT_ERROR_NET, "the server asks for credentials: give a token or password file");
	return GIT_EAUTH;
}

static int cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct kf_git_source *s = payload;
	const git_cert_hostkey *hk;
	struct kf_kh_result r;
	struct kf_err *e = NULL;
	char *name, *fp, *ex;
	int rc = GIT_ECERTIFICATE;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return valid ? 0 : GIT_PASSTHROUGH; /* TLS: libgit2's own verification */
	hk = (const git_cert_hostkey *)cert;
	if (!(hk->type & GIT_CERT_SSH_RAW) || !hk->hostkey) {
		free(s->cert_problem);
		s->cert_problem = kf_xstrdup("host key not available for checking");
		return GIT_ECERTIFICATE;
	}
	name = kf_kh_hostname(s->ssh_host ? s->ssh_host : host, s->ssh_port);
	fp = kf_ssh_fingerprint((const unsigned char *)hk->hostkey, hk->hostkey_len);
	kf_kh_result_init(&r);
	ex = kf_path_expand(s->known_hosts ? s->known_hosts : "~/.ssh/known_hosts");
	kf_kh_check_file(&r, ex, name, (const unsigned char *)hk->hostkey, hk->hostkey_len, &e);
	kf_err_clear(&e);
	if (!s->known_hosts)
		kf_kh_check_file(&r, "/etc/ssh/ssh_known_hosts", name, (const unsigned char *)hk->hostkey, hk->hostkey_len, &e);
	kf_err_clear(&e);
	free(s->cert_problem);
	s->cert_problem = NULL;
	switch (r.status) {
	case KF_KH_OK:
		rc = 0;
		break;
	case KF_KH_CHANGED:
		s->cert_problem = kf_xasprintf("host key for %s CHANGED (now %s; %s:%d lists %s): refusing to connect",
					       name, fp, r.file ? r.file : "?", r.line, r.old_fp ? r.old_fp : "?");
		break;
	case KF_KH_REVOKED:
		s->cert_problem = kf_xasprintf("host key %s of %s is revoked (%s:%d)", fp, name, r.file ? r.file : "?", r.line);
		break;
	default:
		if (s->accept_new) {
			char *type = kf_ssh_blob_type((const unsigned char *)hk->hostkey, hk->hostkey_len);
			bool added = false;
			enum kf_kh_status st = KF_KH_UNKNOWN;

			if (kf_kh_append(ex, name, (const unsigned char *)hk->hostkey, hk->hostkey_len, &added, &st, &e) == 0 &&
			    st != KF_KH_CHANGED)
				rc = 0;
			else
				s->cert_problem = kf_xasprintf("host key %s of %s could not be recorded", fp, name);
			kf_err_clear(&e);
			free(type);
		} else {
			s->cert_problem = kf_xasprintf("unknown host key for %s (%s): not in %s; add it (ssh-keyscan) or allow accept-new",
						       name, fp, ex);
		}
	}
	kf_kh_result_release(&r);
	free(ex);
	free(fp);
	free(name);
	if (rc)
		git_error_set_str(GIT_ERROR_SSH, s->cert_problem);
	return rc;
}

/* libgit2 1.5 has no network timeouts of its own: a transfer that is still
 * running at the deadline (or when the user interrupts) is cancelled from
 * its progress callbacks. */
static int over_deadline(struct kf_git_source *s)
{
	if (kf_interrupted()) {
		git_error_set_str(GIT_ERROR_NET, "interrupted");
		return -1;
	}
	if (kf_now() > s->deadline) {
		git_error_set_str(GIT_ERROR_NET, "timed out");
		return -1;
	}
	return 0;
}

static int transfer_cb(const git_indexer_progress *st, void *payload)
{
	(void)st;
	return over_deadline(payload);
}

static int sideband_cb(const char *str, int len, void *payload)
{
	(void)str;
	(void)len;
	return over_deadline(payload);
}

static void callbacks(struct kf_git_source *s, git_remote_callbacks *cb)
{
	git_remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb->credentials = cred_cb;
	cb->certificate_check = cert_cb;
	cb->transfer_progress = transfer_cb;
	cb->sideband_progress = sideband_cb;
	cb->payload = s;
	s->deadline = kf_now() + s->timeout;
	s->cred_tries = 0;
	free(s->cert_problem);
	s->cert_problem = NULL;
}

char *kf_gitops_default_state_dir(void)
{
	const char *x = getenv("XDG_STATE_HOME");

	if (x && *x)
		return kf_path_join(x, "kfboot");
	return kf_path_expand("~/.local/state/kfboot");
}

static void load_head(struct kf_git_source *s)
{
	char ref[PATH_MAX];
	git_oid oid;

	s->head[0] = '\0';
	snprintf(ref, sizeof(ref), "refs/remotes/origin/%s", s->branch);
	if (git_reference_name_to_id(&oid, s->repo, ref) == 0)
		git_oid_tostr(s->head, sizeof(s->head), &oid);
}

int kf_git_source_open(struct kf_git_source **out, const char *url,
		       const char *branch, const char *state_dir,
		       const struct kf_git_source_opts *opts,
		       struct kf_err **err)
{
	struct kf_git_source *s = kf_xcalloc(1, sizeof(*s));
	struct kf_git_source_opts none = { 0 };
	char hash[65], *dir = NULL, *sd = NULL;
	int rc = 0;

	*out = NULL;
	if (!opts)
		opts = &none;
	git_libgit2_init();
	/* Bound libgit2's object cache (commits and trees; default 256 MiB):
	 * a reconciler reads each tree once per cycle. */
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)(16 << 20));
	if (!url || !*url) {
		rc = kf_err_set(err, KF_EUSAGE, "no repository URL");
		goto out;
	}
	/* A local path: make it absolute (libgit2 and the cache key want one). */
	if (!strstr(url, "://") && (url[0] == '/' || url[0] == '.' || !strchr(url, ':'))) {
		char real[PATH_MAX];

		if (!realpath(url, real)) {
			rc = kf_err_errno(err, "repository '%s'", url);
			goto out;
		}
		s->url = kf_xstrdup(real);
	} else {
		s->url = kf_xstrdup(url);
	}
	parse_url(s, s->url);
	s->branch = kf_xstrdup(branch && *branch ? branch : "main");
	if (opts->token_file) {
		s->secret = read_secret(opts->token_file, err);
		if (!s->secret) {
			rc = kf_err_wrap(err, "token file");
			goto out;
		}
	} else if (opts->password_file) {
		s->secret = read_secret(opts->password_file, err);
		if (!s->secret) {
			rc = kf_err_wrap(err, "password file");
			goto out;
		}
	}
	s->user = opts->username ? kf_xstrdup(opts->username) : NULL;
	if (opts->ssh_key_file) {
		char *pub;

		s->key_file = kf_path_expand(opts->ssh_key_file);
		if (access(s->key_file, R_OK) < 0) {
			rc = kf_err_errno(err, "ssh key file '%s'", s->key_file);
			goto out;
		}
		pub = opts->ssh_pubkey_file ? kf_path_expand(opts->ssh_pubkey_file) : kf_xasprintf("%s.pub", s->key_file);
		if (access(pub, R_OK) == 0)
			s->pub_file = pub;
		else
			free(pub);
	}
	s->known_hosts = opts->known_hosts_file ? kf_path_expand(opts->known_hosts_file) : NULL;
	s->timeout = opts->timeout > 0 ? opts->timeout : 60;
	s->accept_new = opts->accept_new_host_key;
	if (opts->ca_file) {
		char *ca = kf_path_expand(opts->ca_file);

		if (access(ca, R_OK) < 0) {
			rc = kf_err_errno(err, "CA file '%s'", ca);
			free(ca);
			goto out;
		}
		if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, ca, NULL) < 0) {
			free(ca);
			rc = git_fail(s, err, KF_EINVAL, "CA bundle for");
			goto out;
		}
		free(ca);
	}
	sd = state_dir ? kf_xstrdup(state_dir) : kf_gitops_default_state_dir();
	kf_sha256_hex(s->shown_url, strlen(s->shown_url), hash);
	hash[16] = '\0';
	dir = kf_xasprintf("%s/git", sd);
	rc = kf_mkdir_p(dir, 0700, err);
	if (rc)
		goto out;
	s->cache = kf_xasprintf("%s/%s.git", dir, hash);
	if (git_repository_open_bare(&s->repo, s->cache) < 0 &&
	    git_repository_init(&s->repo, s->cache, 1) < 0) {
		rc = kf_err_set(err, KF_EIO, "git cache '%s': %s", s->cache,
				git_error_last() ? git_error_last()->message : "cannot create");
		goto out;
	}
	/* The cache runs on an empty configuration: no ~/.gitconfig or
	 * /etc/gitconfig settings (insteadOf, credential helpers, proxies)
	 * change what a reconciler fetches, and libgit2 1.5 leaks a regex match
	 * buffer for every configuration entry it scans when it makes a remote. */
	{
		git_config *empty = NULL;

		if (git_config_new(&empty) == 0) {
			git_repository_set_config(s->repo, empty);
			git_config_free(empty);
		}
	}
	load_head(s);
out:
	free(dir);
	free(sd);
	if (rc)
		kf_git_source_free(s);
	else
		*out = s;
	return rc;
}

void kf_git_source_free(struct kf_git_source *s)
{
	if (!s)
		return;
	git_repository_free(s->repo);
	free(s->url);
	free(s->shown_url);
	free(s->branch);
	free(s->cache);
	free(s->ssh_host);
	free(s->user);
	free(s->secret);
	free(s->key_file);
	free(s->pub_file);
	free(s->known_hosts);
	free(s->cert_problem);
	free(s);
	git_libgit2_shutdown();
}

const char *kf_git_source_url(const struct kf_git_source *s) { return s->shown_url; }
const char *kf_git_source_branch(const struct kf_git_source *s) { return s->branch; }
const char *kf_git_source_head(const struct kf_git_source *s) { return s->head; }

int kf_git_source_check(struct kf_git_source *s, bool *moved, struct kf_err **err)
{
	git_remote *remote = NULL;
	git_remote_callbacks cb;
	const git_remote_head **heads;
	size_t n;
	char ref[PATH_MAX], hex[41] = "";
	int rc = 0, g;

	*moved = false;
	snprintf(ref, sizeof(ref), "refs/heads/%s", s->branch);
	callbacks(s, &cb);
	if (git_remote_create_anonymous(&remote, s->repo, s->url) < 0) {
		rc = git_fail(s, err, KF_EINVAL, "remote");
		goto out;
	}
	g = git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL);
	if (g < 0) {
		rc = git_fail(s, err, net_code(g), "ls-remote");
		goto out;
	}
	if (git_remote_ls(&heads, &n, remote) < 0) {
		rc = git_fail(s, err, KF_EAGAIN, "ls-remote");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(heads[i]->name, ref))
			git_oid_tostr(hex, sizeof(hex), &heads[i]->oid);
	if (!*hex) {
		rc = kf_err_set(err, KF_ENOENT, "ls-remote '%s': no branch '%s'", s->shown_url, s->branch);
		goto out;
	}
	*moved = strcmp(hex, s->head) != 0;
	kf_trace("git", "ls-remote %s %s: %s%s", s->shown_url, s->branch, hex, *moved ? " (moved)" : "");
out:
	if (remote)
		git_remote_disconnect(remote);
	git_remote_free(remote);
	return rc;
}

int kf_git_source_fetch(struct kf_git_source *s, char commit[41], struct kf_err **err)
{
	git_remote *remote = NULL;
	git_fetch_options fo;
	char spec[PATH_MAX * 2 + 32], ref[PATH_MAX];
	char *specs[1] = { spec };
	git_strarray refspecs = { specs, 1 };
	git_oid oid;
	int rc = 0, g;

	commit[0] = '\0';
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	callbacks(s, &fo.callbacks);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	fo.prune = GIT_FETCH_NO_PRUNE;
	snprintf(spec, sizeof(spec), "+refs/heads/%s:refs/remotes/origin/%s", s->branch, s->branch);
	if (git_remote_create_anonymous(&remote, s->repo, s->url) < 0) {
		rc = git_fail(s, err, KF_EINVAL, "remote");
		goto out;
	}
	g = git_remote_fetch(remote, &refspecs, &fo, NULL);
	if (g < 0) {
		rc = git_fail(s, err, net_code(g), "fetch");
		goto out;
	}
	snprintf(ref, sizeof(ref), "refs/remotes/origin/%s", s->branch);
	if (git_reference_name_to_id(&oid, s->repo, ref) < 0) {
		rc = kf_err_set(err, KF_ENOENT, "fetch '%s': no branch '%s'", s->shown_url, s->branch);
		goto out;
	}
	git_oid_tostr(s->head, sizeof(s->head), &oid);
	memcpy(commit, s->head, 41);
out:
	git_remote_free(remote);
	return rc;
}

int kf_git_source_fetch_retry(struct kf_git_source *s, int tries, char commit[41], struct kf_err **err)
{
	struct kf_backoff bo = KF_BACKOFF_INIT(0.5, 4);
	struct kf_err *e = NULL;
	int rc;

	for (int n = 1;; n++) {
		rc = kf_git_source_fetch(s, commit, &e);
		if (rc != KF_EAGAIN || n >= tries || kf_interrupted())
			break;
		double d = kf_backoff_next(&bo);

		kf_debug("%s; try %d of %d in %.1fs", e->msg, n + 1, tries, d);
		kf_err_clear(&e);
		kf_sleep(d);
	}
	if (rc == KF_EAGAIN && tries > 1)
		rc = kf_err_set(err, rc, "%s (gave up after %d attempts)", e->msg, tries);
	else if (rc)
		rc = kf_err_set(err, rc, "%s", e->msg);
	kf_err_free(e);
	return rc;
}

int kf_git_source_resolve(struct kf_git_source *s, const char *rev, char commit[41],
			  struct kf_err **err)
{
	git_object *obj = NULL, *peeled = NULL;
	char buf[PATH_MAX];
	int rc = 0;

	commit[0] = '\0';
	if (!rev || !*rev || !strcmp(rev, "HEAD")) {
		if (!*s->head)
			return kf_err_set(err, KF_ENOENT, "'%s': nothing fetched yet", s->shown_url);
		memcpy(commit, s->head, 41);
		return 0;
	}
	if (git_revparse_single(&obj, s->repo, rev) < 0) {
		snprintf(buf, sizeof(buf), "refs/remotes/origin/%s", rev);
		if (git_revparse_single(&obj, s->repo, buf) < 0)
			return kf_err_set(err, KF_ENOENT, "revision '%s' not found in '%s' (branch %s)", rev, s->shown_url, s->branch);
	}
	if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
		rc = kf_err_set(err, KF_EINVAL, "revision '%s' is not a commit", rev);
		goto out;
	}
	git_oid_tostr(commit, 41, git_object_id(peeled));
out:
	git_object_free(peeled);
	git_object_free(obj);
	return rc;
}

static int commit_tree(struct kf_git_source *s, const char *commit, git_tree **tree,
		       struct kf_err **err)
{
	git_oid oid;
	git_commit *c = NULL;
	int rc = 0;

	*tree = NULL;
	if (git_oid_fromstr(&oid, commit) < 0 || git_commit_lookup(&c, s->repo, &oid) < 0)
		return kf_err_set(err, KF_ENOENT, "commit %.12s not found in the cache of '%s'", commit, s->shown_url);
	if (git_commit_tree(tree, c) < 0)
		rc = git_fail(s, err, KF_EIO, "tree of commit in");
	git_commit_free(c);
	return rc;
}

int kf_git_source_commit_info(struct kf_git_source *s, const char *commit, char **summary,
			      long long *time, struct kf_err **err)
{
	git_oid oid;
	git_commit *c = NULL;
	const char *sum;

	if (git_oid_fromstr(&oid, commit) < 0 || git_commit_lookup(&c, s->repo, &oid) < 0)
		return kf_err_set(err, KF_ENOENT, "commit %.12s not found", commit);
	sum = git_commit_summary(c);
	if (summary)
		*summary = kf_xstrdup(sum ? sum : "");
	if (time)
		*time = (long long)git_commit_time(c);
	git_commit_free(c);
	return 0;
}

/* "a/b/" -> "a/b"; "./a" -> "a"; "" and "." -> "". */
static char *norm_path(const char *p)
{
	char *s;
	size_t n;

	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	if (!strcmp(p, "."))
		p = "";
	s = kf_xstrdup(p);
	n = strlen(s);
	while (n && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

int kf_git_source_stat(struct kf_git_source *s, const char *commit, const char *path,
		       enum kf_git_entry *out, struct kf_err **err)
{
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	char *p = norm_path(path);
	int rc;

	*out = KF_GIT_NONE;
	rc = commit_tree(s, commit, &tree, err);
	if (rc)
		goto out;
	if (!*p) {
		*out = KF_GIT_DIR;
		goto out;
	}
	if (git_tree_entry_bypath(&e, tree, p) == 0) {
		git_object_t t = git_tree_entry_type(e);

		*out = t == GIT_OBJECT_TREE ? KF_GIT_DIR : t == GIT_OBJECT_BLOB ? KF_GIT_FILE : KF_GIT_NONE;
	}
out:
	git_tree_entry_free(e);
	git_tree_free(tree);
	free(p);
	return rc;
}

int kf_git_source_read(struct kf_git_source *s, const char *commit, const char *path,
		       struct kf_buf *out, struct kf_err **err)
{
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	char *p = norm_path(path);
	int rc;

	rc = commit_tree(s, commit, &tree, err);
	if (rc)
		goto out;
	if (git_tree_entry_bypath(&e, tree, p) < 0 || git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
		rc = kf_err_set(err, KF_ENOENT, "%s: no such file in commit %.12s", p, commit);
		goto out;
	}
	if (git_blob_lookup(&blob, s->repo, git_tree_entry_id(e)) < 0) {
		rc = git_fail(s, err, KF_EIO, "blob in");
		goto out;
	}
	kf_buf_reset(out);
	kf_buf_add(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
out:
	git_blob_free(blob);
	git_tree_entry_free(e);
	git_tree_free(tree);
	free(p);
	return rc;
}

struct walk {
	struct kf_strlist *out;
	const char *prefix;
	const char *export_dir;
	git_repository *repo;
	int rc;
	struct kf_err **err;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct walk *w = payload;
	char *full;

	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		return 0;
	full = kf_xasprintf("%s%s%s%s", w->prefix, *w->prefix ? "/" : "", root, git_tree_entry_name(e));
	kf_strlist_add(w->out, full);
	free(full);
	return 0;
}

int kf_git_source_list(struct kf_git_source *s, const char *commit, const char *dir,
		       struct kf_strlist *out, struct kf_err **err)
{
	git_tree *tree = NULL, *sub = NULL;
	git_tree_entry *e = NULL;
	char *p = norm_path(dir);
	struct walk w = { out, p, NULL, s->repo, 0, err };
	size_t before = out->n;
	int rc;

	rc = commit_tree(s, commit, &tree, err);
	if (rc)
		goto out;
	if (*p) {
		if (git_tree_entry_bypath(&e, tree, p) < 0 || git_tree_entry_type(e) != GIT_OBJECT_TREE) {
			rc = kf_err_set(err, KF_ENOENT, "%s: no such folder in commit %.12s", p, commit);
			goto out;
		}
		if (git_tree_lookup(&sub, s->repo, git_tree_entry_id(e)) < 0) {
			rc = git_fail(s, err, KF_EIO, "tree in");
			goto out;
		}
	}
	git_tree_walk(sub ? sub : tree, GIT_TREEWALK_PRE, list_cb, &w);
	qsort(out->v + before, out->n - before, sizeof(*out->v), cmp_str);
out:
	git_tree_free(sub);
	git_tree_entry_free(e);
	git_tree_free(tree);
	free(p);
	return rc;
}

static int export_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct walk *w = payload;
	git_object_t t = git_tree_entry_type(e);
	git_filemode_t mode = git_tree_entry_filemode(e);
	char *path = kf_xasprintf("%s/%s%s", w->export_dir, root, git_tree_entry_name(e));
	git_blob *blob = NULL;
	int fd = -1;

	if (t == GIT_OBJECT_TREE) {
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			w->rc = kf_err_errno(w->err, "'%s'", path);
		goto out;
	}
	/* Regular files only: links could point outside the export. */
	if (t != GIT_OBJECT_BLOB || (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE))
		goto out;
	if (git_blob_lookup(&blob, w->repo, git_tree_entry_id(e)) < 0) {
		w->rc = kf_err_set(w->err, KF_EIO, "blob %s missing", git_tree_entry_name(e));
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0700 : 0600);
	if (fd < 0 || write(fd, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob)) != (ssize_t)git_blob_rawsize(blob))
		w->rc = kf_err_errno(w->err, "'%s'", path);
out:
	if (fd >= 0)
		close(fd);
	git_blob_free(blob);
	free(path);
	return w->rc ? -1 : 0;
}

int kf_git_source_export(struct kf_git_source *s, const char *commit, const char *dir,
			 struct kf_err **err)
{
	git_tree *tree = NULL;
	struct walk w = { NULL, "", dir, s->repo, 0, err };
	int rc;

	rc = commit_tree(s, commit, &tree, err);
	if (rc)
		return rc;
	git_tree_walk(tree, GIT_TREEWALK_PRE, export_cb, &w);
	git_tree_free(tree);
	return w.rc;
}

int kf_git_source_changed_paths(struct kf_git_source *s, const char *from, const char *to,
				const char *const *pathspecs, size_t npathspecs,
				struct kf_strlist *out, struct kf_err **err)
{
	git_tree *a = NULL, *b = NULL;
	git_diff *diff = NULL;
	git_pathspec *ps = NULL;
	git_strarray arr = { (char **)pathspecs, npathspecs };
	struct kf_strlist all = KF_STRLIST_INIT;
	size_t before = out->n;
	int rc;

	if (from && *from) {
		rc = commit_tree(s, from, &a, err);
		if (rc)
			goto out;
	}
	rc = commit_tree(s, to, &b, err);
	if (rc)
		goto out;
	if (npathspecs && git_pathspec_new(&ps, &arr) < 0) {
		rc = git_fail(s, err, KF_EINVAL, "pathspec for");
		goto out;
	}
	if (git_diff_tree_to_tree(&diff, s->repo, a, b, NULL) < 0) {
		rc = git_fail(s, err, KF_EIO, "diff in");
		goto out;
	}
	for (size_t i = 0; i < git_diff_num_deltas(diff); i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		const char *paths[2] = { d->old_file.path, d->new_file.path };

		for (int j = 0; j < 2; j++) {
			if (!paths[j] || (j == 1 && paths[0] && !strcmp(paths[0], paths[1])))
				continue;
			if (ps && git_pathspec_matches_path(ps, 0, paths[j]) != 1)
				continue;
			kf_strlist_add(&all, paths[j]);
		}
	}
	qsort(all.v, all.n, sizeof(*all.v), cmp_str);
	for (size_t i = 0; i < all.n; i++)
		if (!i || strcmp(all.v[i], all.v[i - 1]))
			kf_strlist_add(out, all.v[i]);
	(void)before;
out:
	kf_strlist_release(&all);
	git_pathspec_free(ps);
	git_diff_free(diff);
	git_tree_free(a);
	git_tree_free(b);
	return rc;
}

int kf_git_source_first_parents(struct kf_git_source *s, const char *from, const char *to,
				size_t max, struct kf_strlist *out, struct kf_err **err)
{
	git_oid f, t;
	git_commit *c = NULL;
	size_t start = out->n;

	if (git_oid_fromstr(&t, to) < 0 || git_commit_lookup(&c, s->repo, &t) < 0)
		return kf_err_set(err, KF_ENOENT, "commit %.12s not found in the cache of '%s'", to, s->shown_url);
	if (!from || git_oid_fromstr(&f, from) < 0)
		memset(&f, 0, sizeof(f));
	while (c && out->n - start < max && !git_oid_equal(git_commit_id(c), &f)) {
		git_commit *parent = NULL;
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), git_commit_id(c));
		kf_strlist_add(out, hex);
		if (git_commit_parentcount(c) == 0 || git_commit_parent(&parent, c, 0) < 0)
			parent = NULL;
		git_commit_free(c);
		c = parent;
	}
	git_commit_free(c);
	/* oldest first */
	for (size_t i = start, j = out->n; i + 1 < j; i++, j--) {
		char *x = out->v[i];

		out->v[i] = out->v[j - 1];
		out->v[j - 1] = x;
	}
	return 0;
}

/* ---- libgit2-level access (source_git.h) ------------------------------- */

git_repository *kf_git_source_repo(struct kf_git_source *s) { return s->repo; }
const char *kf_git_source_remote(const struct kf_git_source *s) { return s->url; }

void kf_git_source_remote_callbacks(void *src, git_remote_callbacks *cb)
{
	callbacks(src, cb);
}
