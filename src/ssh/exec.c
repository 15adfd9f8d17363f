/*
 * exec.c - running commands on a session: a channel per command, driven in
 * non-blocking mode by one poll loop that sends stdin, streams stdout and
 * stderr to the caller as they arrive (never blocking one on the other, so
 * a chatty command cannot stall on a full window), enforces the deadline,
 * sends keepalives while it waits, and collects the exit status or signal.
 * Also the shell quoting helpers used to build command lines.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ssh/internal.h"

#define DEFAULT_MAX_OUTPUT (16u << 20)
#define READ_CHUNK 32768

char *kf_ssh_quote(const char *arg)
{
	struct kf_buf b = KF_BUF_INIT;

	kf_buf_add_shquote(&b, arg);
	return kf_buf_detach(&b, NULL);
}

char *kf_ssh_argv_cmd(const char *const *argv)
{
	struct kf_buf b = KF_BUF_INIT;
	size_t i;

	for (i = 0; argv[i]; i++) {
		if (i)
			kf_buf_addch(&b, ' ');
		kf_buf_add_shquote(&b, argv[i]);
	}
	return kf_buf_detach(&b, NULL);
}

char *kf_ssh_sudo_cmd(const char *cmd)
{
	struct kf_buf b = KF_BUF_INIT;

	kf_buf_adds(&b, "sudo -n sh -c ");
	kf_buf_add_shquote(&b, cmd);
	return kf_buf_detach(&b, NULL);
}

static int signal_number(const char *name)
{
	static const struct { const char *n; int v; } sigs[] = {
		{ "HUP", 1 }, { "INT", 2 }, { "QUIT", 3 }, { "ILL", 4 },
		{ "ABRT", 6 }, { "FPE", 8 }, { "KILL", 9 }, { "USR1", 10 },
		{ "SEGV", 11 }, { "USR2", 12 }, { "PIPE", 13 }, { "ALRM", 14 },
		{ "TERM", 15 },
	};
	size_t i;

	for (i = 0; i < KF_ARRAY_SIZE(sigs); i++)
		if (strcmp(name, sigs[i].n) == 0)
			return sigs[i].v;
	return 127; /* unknown: 128 + 127 = 255 */
}

struct sink {
	const struct kf_ssh_exec_opts *o;
	struct kf_buf *buf[3];
	size_t cap;
	bool truncated;
};

static void deliver(struct sink *k, int fd, const char *data, size_t n)
{
	struct kf_buf *b = k->buf[fd];

	if (k->o->on_output)
		k->o->on_output(k->o->ctx, fd, data, n);
	if (!b)
		return;
	if (b->len + n > k->cap) {
		k->truncated = true;
		n = b->len < k->cap ? k->cap - b->len : 0;
	}
	if (n && kf_buf_add(b, data, n))
		k->truncated = true; /* the caller's own cap */
}

/* Close and free a channel without blocking for long (after a timeout or
 * an error the peer may not answer). */
static void channel_drop(struct kf_ssh *s, LIBSSH2_CHANNEL *ch)
{
	double until = kf_now() + 0.5;

	while (libssh2_channel_close(ch) == LIBSSH2_ERROR_EAGAIN &&
	       kf_ssh__wait(s, until) == 0)
		;
	while (libssh2_channel_free(ch) == LIBSSH2_ERROR_EAGAIN &&
	       kf_ssh__wait(s, until) == 0)
		;
}

int kf_ssh_exec(struct kf_ssh *s, const char *cmd,
		const struct kf_ssh_exec_opts *opts, int *exit_status,
		struct kf_buf *out, struct kf_buf *errout, struct kf_err **err)
{
	static const struct kf_ssh_exec_opts none;
	const struct kf_ssh_exec_opts *o = opts ? opts : &none;
	double start = kf_now(), deadline = o->timeout > 0 ? start + o->timeout : 0;
	struct sink k = { o, { NULL, out, errout }, 0, false };
	LIBSSH2_CHANNEL *ch = NULL;
	const char *in = o->stdin_data;
	size_t inleft = in ? o->stdin_len : 0;
	bool eof_sent = false, timed_out = false, sudo;
	char *wrapped = NULL, *buf = kf_xmalloc(READ_CHUNK), *sig = NULL;
	const char *run = cmd;
	size_t siglen = 0;
	int rc = 0, status = -1;

	k.cap = o->max_output ? o->max_output : DEFAULT_MAX_OUTPUT;
	if (o->info)
		o->info->exit_signal[0] = '\0';
	if (exit_status)
		*exit_status = -1;
	sudo = o->sudo && strcmp(s->user, "root") != 0;
	if (o->timeout > 0) {
		/* libssh2 1.10 cannot signal the remote process, so the remote
		 * side stops it a little after our own deadline: timeout(1)
		 * inside sudo (sudo does not relay a signal from its own process
		 * group), else around the login shell, so the command is parsed
		 * as it would be without the wrapper. */
		char *q = kf_ssh_quote(cmd);
		double t = ceil(o->timeout) + 2;

		if (sudo)
			wrapped = kf_xasprintf("command -v timeout >/dev/null 2>&1 && exec sudo -n timeout -k 5 %.0f sh -c %s; exec sudo -n sh -c %s",
					       t, q, q);
		else
			wrapped = kf_xasprintf("command -v timeout >/dev/null 2>&1 && exec timeout -k 5 %.0f \"$SHELL\" -c %s; exec \"$SHELL\" -c %s",
					       t, q, q);
		free(q);
		run = wrapped;
	} else if (sudo) {
		run = wrapped = kf_ssh_sudo_cmd(cmd);
	}
	kf_trace("ssh", "%s: exec: %s", s->name, run);
	libssh2_session_set_blocking(s->session, 0);

	while (!(ch = libssh2_channel_open_session(s->session))) {
		rc = libssh2_session_last_errno(s->session);
		if (rc != LIBSSH2_ERROR_EAGAIN) {
			rc = kf_err_from_ssh(err, s->session, rc, "%s: open a channel", s->label);
			goto out;
		}
		if (kf_ssh__wait(s, deadline)) {
			timed_out = true;
			goto out;
		}
	}
	while ((rc = libssh2_channel_exec(ch, run)) == LIBSSH2_ERROR_EAGAIN) {
		if (kf_ssh__wait(s, deadline)) {
			timed_out = true;
			goto out;
		}
	}
	if (rc) {
		rc = kf_err_from_ssh(err, s->session, rc, "%s: start command", s->label);
		goto out;
	}

	for (;;) {
		bool progress = false, idle[3] = { false, false, false };
		int fd, next = 0;
		ssize_t n;

		if (inleft) {
			n = libssh2_channel_write(ch, in, inleft);
			if (n > 0) {
				in += n;
				inleft -= (size_t)n;
				progress = true;
			} else if (n != LIBSSH2_ERROR_EAGAIN) {
				/* the command may have exited without reading its
				 * input: stop sending, keep collecting output */
				kf_trace("ssh", "%s: stdin write failed (%zd)", s->name, n);
				inleft = 0;
			}
		}
		if (!inleft && !eof_sent) {
			n = libssh2_channel_send_eof(ch);
			if (n != LIBSSH2_ERROR_EAGAIN)
				eof_sent = true;
		}
		for (fd = 1; fd <= 2; fd++) {
			n = libssh2_channel_read_ex(ch, fd == 2 ? SSH_EXTENDED_DATA_STDERR : 0,
						    buf, READ_CHUNK);
			if (n > 0) {
				deliver(&k, fd, buf, (size_t)n);
				progress = true;
			} else if (n == 0 || n == LIBSSH2_ERROR_EAGAIN) {
				idle[fd] = true;
			} else {
				rc = kf_err_from_ssh(err, s->session, (int)n,
						     "%s: read command output", s->label);
				goto out;
			}
		}
		if (idle[1] && idle[2] && libssh2_channel_eof(ch))
			break;
		/* checked on every round: a chatty command must time out too */
		if (deadline && kf_now() >= deadline) {
			timed_out = true;
			goto out;
		}
		if (progress)
			continue;
		libssh2_keepalive_send(s->session, &next);
		if (kf_ssh__wait(s, deadline)) {
			timed_out = true;
			goto out;
		}
	}
	while ((rc = libssh2_channel_close(ch)) == LIBSSH2_ERROR_EAGAIN)
		if (kf_ssh__wait(s, deadline)) {
			timed_out = true;
			goto out;
		}
	while ((rc = libssh2_channel_wait_closed(ch)) == LIBSSH2_ERROR_EAGAIN)
		if (kf_ssh__wait(s, deadline)) {
			timed_out = true;
			goto out;
		}
	status = libssh2_channel_get_exit_status(ch);
	libssh2_channel_get_exit_signal(ch, &sig, &siglen, NULL, NULL, NULL, NULL);
	if (sig && siglen) {
		char name[32];

		snprintf(name, sizeof(name), "%.*s", (int)siglen, sig);
		status = 128 + signal_number(name);
		if (o->info)
			snprintf(o->info->exit_signal, sizeof(o->info->exit_signal), "%s", name);
	}
	if (sig)
		libssh2_free(s->session, sig);
	while (libssh2_channel_free(ch) == LIBSSH2_ERROR_EAGAIN &&
	       kf_ssh__wait(s, kf_now() + 2) == 0)
		;
	ch = NULL;
	rc = 0;
	if (exit_status)
		*exit_status = status;
	kf_trace("ssh", "%s: exit status %d after %.0f ms", s->name, status,
		 (kf_now() - start) * 1000);
out:
	if (timed_out) {
		char d[32];
		rc = kf_err_set(err, KF_ETIMEOUT, "%s: command timed out after %s",
				s->label, kf_duration_fmt(o->timeout, d));
	}
	if (ch)
		channel_drop(s, ch);
	libssh2_session_set_blocking(s->session, 1);
	if (o->info) {
		o->info->exit_status = status;
		o->info->truncated = k.truncated;
		o->info->timed_out = timed_out;
		o->info->elapsed = kf_now() - start;
	}
	free(wrapped);
	free(buf);
	return rc;
}

/* The last few lines of a command's output, on one line, for messages. */
static void add_tail(struct kf_buf *msg, const struct kf_buf *b)
{
	size_t end = b->len, startpos, lines = 0;
	const size_t max = 600;

	while (end && strchr(" \t\r\n", b->buf[end - 1]))
		end--;
	startpos = end;
	while (startpos > 0 && end - startpos < max) {
		if (b->buf[startpos - 1] == '\n' && ++lines == 3)
			break;
		startpos--;
	}
	if (startpos > 0)
		kf_buf_adds(msg, "...");
	for (; startpos < end; startpos++) {
		char c = b->buf[startpos];
		if (c == '\n')
			kf_buf_adds(msg, " | ");
		else if (c != '\r')
			kf_buf_addch(msg, c);
	}
}

int kf_ssh_run(struct kf_ssh *s, const char *cmd, double timeout, bool sudo,
	       struct kf_buf *out, struct kf_err **err)
{
	struct kf_ssh_exec_opts o = { .timeout = timeout, .sudo = sudo };
	struct kf_buf errout = KF_BUF_INIT, mine = KF_BUF_INIT, msg = KF_BUF_INIT;
	struct kf_buf *o1 = out ? out : &mine;
	int status = 0, rc;

	rc = kf_ssh_exec(s, cmd, &o, &status, o1, &errout, err);
	if (rc)
		goto out;
	if (status != 0) {
		kf_buf_addf(&msg, "exit status %d", status);
		if (sudo && strcmp(s->user, "root") != 0 &&
		    strstr(errout.buf, "a password is required"))
			kf_buf_addf(&msg, " (user '%s' has no passwordless sudo)", s->user);
		if (errout.len || o1->len) {
			kf_buf_adds(&msg, ": ");
			add_tail(&msg, errout.len ? &errout : o1);
		}
		rc = kf_err_set(err, KF_ERR, "%s: %s", s->label, msg.buf);
	}
out:
	kf_buf_release(&errout);
	kf_buf_release(&mine);
	kf_buf_release(&msg);
	return rc;
}
