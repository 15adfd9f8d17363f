/*
 * ssh.h - kfboot's SSH layer (libssh2 1.10): one session per host, host keys
 * checked against known_hosts, authentication by ssh-agent then a key file,
 * remote commands with streamed output, exit status and a deadline, file
 * upload, and a hop through a bastion host.
 *
 * Lifecycle and ownership:
 *  - kf_ssh_connect() returns a session the caller owns; kf_ssh_close()
 *    frees it (NULL is fine). The target passed to connect is copied: the
 *    caller may free it afterwards.
 *  - One session is used by one thread at a time. Different sessions may be
 *    used from different threads at the same time (libssh2_init is called
 *    once, internally). A session reached through a bastion owns its own
 *    session to the bastion and a forwarding thread; both end in close.
 *  - Every error message from this module names the host, as
 *    `NAME (USER@ADDRESS:PORT)`, so callers need not repeat it.
 *
 * Host keys (see docs/ssh.md): the server's key is looked up in the target's
 * known_hosts file and in the global one (/etc/ssh/ssh_known_hosts); plain
 * and hashed (|1|salt|hash) entries, `[host]:port` for ports other than 22,
 * `!negated` and `*`/`?` wildcard patterns, and `@revoked` markers are
 * understood. `@cert-authority` lines are skipped with a warning: libssh2
 * 1.10 cannot verify host certificates. An unknown key is refused (or, with
 * accept_new, appended once to the user's file, under a lock); a changed
 * key is always refused. Errors are KF_EAUTH.
 */
#ifndef KF_SSH_H
#define KF_SSH_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

struct kf_ssh;

/* Where to connect and how. All strings are borrowed for the duration of
 * kf_ssh_connect() only (they are copied). */
struct kf_ssh_target {
	const char *name;             /* for messages ("cp1"); NULL = address */
	const char *address;          /* IP address or DNS name */
	int port;                     /* 0 = 22 */
	const char *user;             /* NULL = "root" */
	const char *identity_file;    /* private key; NULL = agent only ("~/" expanded) */
	const char *known_hosts_file; /* NULL = "~/.ssh/known_hosts" */
	const char *global_known_hosts_file; /* NULL = /etc/ssh/ssh_known_hosts, "" = none */
	bool accept_new;              /* hostKeyPolicy: accept-new */
	double connect_timeout;       /* seconds for TCP connect, handshake and auth; 0 = 10 */
	double keepalive_interval;    /* seconds; 0 = 30, < 0 = off */
	const struct kf_ssh_target *bastion; /* jump host, or NULL */
};

/*
 * Open a session: TCP connect (non-blocking, bounded by connect_timeout),
 * handshake, host key check, authentication (ssh-agent first when
 * SSH_AUTH_SOCK is set, then identity_file). Through t->bastion when set:
 * the bastion's host key is checked too (with the bastion's own settings).
 * Returns 0, KF_EAUTH (host key or authentication), KF_ETIMEOUT, KF_EIO.
 */
int kf_ssh_connect(struct kf_ssh **out, const struct kf_ssh_target *t,
		   struct kf_err **err);

/* Close the session (and its bastion hop). NULL is fine. */
void kf_ssh_close(struct kf_ssh *s);

/* Whether the session still answers (opens and closes a channel, bounded
 * by a few seconds). A dead session should be closed and reconnected. */
bool kf_ssh_alive(struct kf_ssh *s);

/* Borrowed getters. */
const char *kf_ssh_name(const struct kf_ssh *s);  /* target name */
const char *kf_ssh_user(const struct kf_ssh *s);  /* login user */
/* "NAME (USER@ADDRESS:PORT)", as used in messages. */
const char *kf_ssh_label(const struct kf_ssh *s);
/* The server's host key: type ("ssh-ed25519") and "SHA256:base64". */
const char *kf_ssh_hostkey_type(const struct kf_ssh *s);
const char *kf_ssh_hostkey_fingerprint(const struct kf_ssh *s);

/* ---- remote commands -------------------------------------------------- */

/* Filled in by kf_ssh_exec() when opts->info is set. */
struct kf_ssh_exec_info {
	int exit_status;      /* as *exit_status */
	char exit_signal[32]; /* "TERM" when killed by a signal, else "" */
	bool truncated;       /* out or errout reached max_output */
	bool timed_out;
	double elapsed;       /* seconds */
};

struct kf_ssh_exec_opts {
	double timeout;         /* seconds; <= 0 = none */
	const void *stdin_data; /* sent, then EOF; NULL = EOF at once */
	size_t stdin_len;
	/* Called as output arrives, fd 1 (stdout) or 2 (stderr), in the
	 * calling thread. Must not use this session. May be NULL. */
	void (*on_output)(void *ctx, int fd, const char *data, size_t len);
	void *ctx;
	size_t max_output;      /* cap per buffer (out, errout); 0 = 16 MiB.
				 * Beyond it, bytes still go to on_output but
				 * are not stored; info->truncated is set. */
	bool sudo;              /* wrap in `sudo -n sh -c` unless the user is root */
	struct kf_ssh_exec_info *info; /* optional, written */
};

/*
 * Run `cmd` with the user's shell on the remote host. The command's own
 * failure is not an error: the function returns 0 and sets *exit_status
 * (0..255; 128 + signal number when killed by a signal, like a shell).
 * out and errout (either may be NULL) receive stdout and stderr.
 * opts may be NULL (no timeout, no stdin).
 * Errors: KF_ETIMEOUT when opts->timeout passed (the channel is closed; what
 * arrived so far stays in out/errout), KF_EIO when the connection failed.
 * libssh2 1.10 cannot send signals, so with a timeout the command runs as
 * `timeout -k 5 T+2 "$SHELL" -c CMD` (opts->sudo: `sudo -n timeout ... sh -c
 * CMD`) when the host has timeout(1): the remote side stops it shortly
 * after our deadline. A command that calls sudo itself cannot be stopped
 * that way (sudo ignores signals from its own process group): use
 * opts->sudo.
 */
int kf_ssh_exec(struct kf_ssh *s, const char *cmd,
		const struct kf_ssh_exec_opts *opts, int *exit_status,
		struct kf_buf *out, struct kf_buf *errout, struct kf_err **err);

/*
 * kf_ssh_exec() for callers that only want success: a non-zero exit status
 * is an error (KF_ERR) whose message quotes the last lines of stderr
 * (`exit status 1: <stderr tail>`). out may be NULL. timeout <= 0 = none.
 */
int kf_ssh_run(struct kf_ssh *s, const char *cmd, double timeout, bool sudo,
	       struct kf_buf *out, struct kf_err **err);

/* ---- upload ------------------------------------------------------------ */

/*
 * Write `data` to `remote_path` with permission bits `mode` (e.g. 0644) as
 * the login user, over SFTP: into a temporary name in the same directory,
 * then renamed over remote_path, so a partial upload never looks complete.
 * The directory must exist and be writable by the login user (upload to a
 * staging directory and `sudo install` for system paths).
 */
int kf_ssh_upload(struct kf_ssh *s, const char *remote_path, const void *data,
		  size_t len, int mode, struct kf_err **err);
/* The same from a local file (streamed, any size). */
int kf_ssh_upload_file(struct kf_ssh *s, const char *local_path,
		       const char *remote_path, int mode, struct kf_err **err);

/* ---- command lines ----------------------------------------------------- */

/* One argument quoted for a POSIX shell ('it'\''s'). Caller frees. */
char *kf_ssh_quote(const char *arg);
/* argv (NULL-terminated) joined into a shell command line, each argument
 * quoted only when it needs it. Caller frees. */
char *kf_ssh_argv_cmd(const char *const *argv);
/* `sudo -n sh -c 'CMD'` (sudo never prompts; it fails instead). Caller
 * frees. */
char *kf_ssh_sudo_cmd(const char *cmd);

/* ---- errors ------------------------------------------------------------ */

/*
 * Set *err from a libssh2 return code `rc` and the session's last error
 * message: "<context>: <libssh2 message> (libssh2 error N)". session may be
 * NULL. Returns the kf code (KF_ETIMEOUT, KF_EAUTH, KF_EIO).
 */
struct _LIBSSH2_SESSION;
int kf_err_from_ssh(struct kf_err **err, struct _LIBSSH2_SESSION *session,
		    int rc, const char *fmt, ...) KF_PRINTF(4, 5);

#endif
