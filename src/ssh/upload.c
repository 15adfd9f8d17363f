/*
 * upload.c - writing files on the remote host over SFTP. The bytes go to a
 * hidden temporary name in the target directory, get their mode, and are
 * renamed over the target only when complete, so a reader (or a resumed
 * run) never sees half a file. OpenSSH's SFTP rename refuses to replace an
 * existing file and libssh2 1.10 cannot send posix-rename@openssh.com, so
 * when the target exists the rename is done with `mv -f` (rename(2), still
 * atomic) over an exec channel.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ssh/internal.h"

#define CHUNK (256u << 10)
#define SFTP_TIMEOUT_MS 60000

typedef ssize_t (*reader_fn)(void *ctx, char *buf, size_t n);

struct mem_reader {
	const char *p;
	size_t left;
};

static ssize_t mem_read(void *ctx, char *buf, size_t n)
{
	struct mem_reader *m = ctx;

	if (n > m->left)
		n = m->left;
	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

static ssize_t file_read(void *ctx, char *buf, size_t n)
{
	FILE *f = ctx;
	size_t got = fread(buf, 1, n, f);

	if (got == 0 && ferror(f))
		return -1;
	return (ssize_t)got;
}

static const char *sftp_status_str(unsigned long st)
{
	switch (st) {
	case LIBSSH2_FX_NO_SUCH_FILE:
	case LIBSSH2_FX_NO_SUCH_PATH:
		return "no such file or directory";
	case LIBSSH2_FX_PERMISSION_DENIED:
		return "permission denied";
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
	case LIBSSH2_FX_QUOTA_EXCEEDED:
		return "no space left";
	case LIBSSH2_FX_FILE_ALREADY_EXISTS:
		return "file exists";
	default:
		return "failure";
	}
}

static int sftp_err(struct kf_ssh *s, struct kf_err **err, const char *what,
		    const char *path)
{
	int e = libssh2_session_last_errno(s->session);

	if (e == LIBSSH2_ERROR_SFTP_PROTOCOL && s->sftp) {
		unsigned long st = libssh2_sftp_last_error(s->sftp);
		return kf_err_set(err, st == LIBSSH2_FX_PERMISSION_DENIED ? KF_EAUTH
				  : st == LIBSSH2_FX_NO_SUCH_FILE ? KF_ENOENT : KF_EIO,
				  "%s: %s '%s': %s (SFTP status %lu)", s->label, what,
				  path, sftp_status_str(st), st);
	}
	return kf_err_from_ssh(err, s->session, e, "%s: %s '%s'", s->label, what, path);
}

static char *temp_name(const char *remote)
{
	const char *slash = strrchr(remote, '/');
	unsigned char rnd[6];
	char hex[13];
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		unsigned long x = (unsigned long)(kf_now() * 1e6) ^ (unsigned long)getpid();
		memcpy(rnd, &x, sizeof(rnd) < sizeof(x) ? sizeof(rnd) : sizeof(x));
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	if (!slash)
		return kf_xasprintf(".%s.kfboot-%s.tmp", remote, hex);
	return kf_xasprintf("%.*s/.%s.kfboot-%s.tmp", (int)(slash - remote), remote,
			    slash + 1, hex);
}

static int upload(struct kf_ssh *s, const char *remote, int mode,
		  reader_fn rd, void *ctx, struct kf_err **err)
{
	LIBSSH2_SFTP_HANDLE *h = NULL;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	char *tmp = NULL, *buf = kf_xmalloc(CHUNK);
	bool created = false;
	size_t total = 0;
	double start = kf_now();
	int rc = 0;

	if (!remote || !remote[0] || remote[strlen(remote) - 1] == '/') {
		rc = kf_err_set(err, KF_EINVAL, "%s: upload: bad remote path '%s'",
				s->label, remote ? remote : "");
		goto out;
	}
	libssh2_session_set_blocking(s->session, 1);
	libssh2_session_set_timeout(s->session, SFTP_TIMEOUT_MS);
	if (!s->sftp && !(s->sftp = libssh2_sftp_init(s->session))) {
		rc = kf_err_from_ssh(err, s->session, libssh2_session_last_errno(s->session),
				     "%s: start SFTP", s->label);
		goto out;
	}
	tmp = temp_name(remote);
	h = libssh2_sftp_open_ex(s->sftp, tmp, (unsigned)strlen(tmp),
				 LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT |
				 LIBSSH2_FXF_EXCL | LIBSSH2_FXF_TRUNC,
				 0600, LIBSSH2_SFTP_OPENFILE);
	if (!h) {
		rc = sftp_err(s, err, "upload: create", tmp);
		goto out;
	}
	created = true;
	for (;;) {
		ssize_t n = rd(ctx, buf, CHUNK), off = 0;

		if (n < 0) {
			rc = kf_err_errno(err, "%s: upload '%s': read local data", s->label, remote);
			goto out;
		}
		if (n == 0)
			break;
		while (off < n) {
			ssize_t w = libssh2_sftp_write(h, buf + off, (size_t)(n - off));
			if (w < 0) {
				rc = sftp_err(s, err, "upload: write", tmp);
				goto out;
			}
			off += w;
		}
		total += (size_t)n;
	}
	memset(&attrs, 0, sizeof(attrs));
	attrs.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
	attrs.permissions = (unsigned long)(mode & 07777);
	if (libssh2_sftp_fsetstat(h, &attrs)) {
		rc = sftp_err(s, err, "upload: set mode of", tmp);
		goto out;
	}
	rc = libssh2_sftp_close_handle(h);
	h = NULL;
	if (rc) {
		rc = sftp_err(s, err, "upload: close", tmp);
		goto out;
	}
	if (libssh2_sftp_rename_ex(s->sftp, tmp, (unsigned)strlen(tmp), remote,
				   (unsigned)strlen(remote),
				   LIBSSH2_SFTP_RENAME_OVERWRITE |
				   LIBSSH2_SFTP_RENAME_ATOMIC |
				   LIBSSH2_SFTP_RENAME_NATIVE) != 0) {
		/* the target exists: replace it atomically with mv */
		const char *argv[] = { "mv", "-f", "--", tmp, remote, NULL };
		char *cmd = kf_ssh_argv_cmd(argv);

		rc = kf_ssh_run(s, cmd, SFTP_TIMEOUT_MS / 1000.0, false, NULL, err);
		free(cmd);
		libssh2_session_set_timeout(s->session, SFTP_TIMEOUT_MS);
		if (rc) {
			kf_err_wrap(err, "upload: rename into '%s'", remote);
			goto out;
		}
	}
	created = false;
	kf_trace("ssh", "%s: uploaded %zu bytes to %s (mode %04o) in %.0f ms",
		 s->name, total, remote, (unsigned)mode, (kf_now() - start) * 1000);
out:
	if (h)
		libssh2_sftp_close_handle(h);
	if (created && s->sftp)
		libssh2_sftp_unlink_ex(s->sftp, tmp, (unsigned)strlen(tmp));
	if (s->session)
		libssh2_session_set_timeout(s->session, 0);
	free(tmp);
	free(buf);
	return rc;
}

int kf_ssh_upload(struct kf_ssh *s, const char *remote_path, const void *data,
		  size_t len, int mode, struct kf_err **err)
{
	struct mem_reader m = { data, len };

	return upload(s, remote_path, mode, mem_read, &m, err);
}

int kf_ssh_upload_file(struct kf_ssh *s, const char *local_path,
		       const char *remote_path, int mode, struct kf_err **err)
{
	FILE *f = fopen(local_path, "rb");
	int rc;

	if (!f)
		return kf_err_errno(err, "%s: upload: open '%s'", s->label, local_path);
	rc = upload(s, remote_path, mode, file_read, f, err);
	fclose(f);
	return rc;
}
