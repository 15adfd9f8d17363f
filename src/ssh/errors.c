/*
 * errors.c - libssh2's failures as kfboot errors: the libssh2 code mapped
 * to a KF_E* code (timeouts, authentication, would-block, the rest as I/O)
 * and the session's own last message added to the context. At the bottom
 * of the module: session.c, bastion.c, exec.c and upload.c all use it.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "ssh/internal.h"

int kf_err_from_ssh(struct kf_err **err, LIBSSH2_SESSION *session, int rc,
		    const char *fmt, ...)
{
	char *ctx, *msg = NULL;
	int code, len = 0;
	va_list ap;

	va_start(ap, fmt);
	ctx = kf_xvasprintf(fmt, ap);
	va_end(ap);
	if (session)
		libssh2_session_last_error(session, &msg, &len, 0);
	switch (rc) {
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
		code = KF_ETIMEOUT;
		break;
	case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
	case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
	case LIBSSH2_ERROR_KEYFILE_AUTH_FAILED:
		code = KF_EAUTH;
		break;
	case LIBSSH2_ERROR_EAGAIN:
		code = KF_EAGAIN;
		break;
	default:
		code = KF_EIO;
	}
	if (msg && len > 0)
		kf_err_set(err, code, "%s: %.*s (libssh2 error %d)", ctx, len, msg, rc);
	else
		kf_err_set(err, code, "%s: libssh2 error %d", ctx, rc);
	free(ctx);
	return code;
}
