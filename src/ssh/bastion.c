/*
 * bastion.c - reaching a host through a jump host. libssh2 1.10 has no
 * custom transport, so the inner session runs over one end of a socketpair
 * and a thread copies bytes between the other end and a `direct-tcpip`
 * channel opened on the session to the bastion. The pump thread is the only
 * user of the bastion session while the tunnel runs (one session, one
 * thread); it ends when either side closes or when kf_ssh_close() asks.
 *
 * This file sits below session.c: it never opens or closes a session
 * itself. tunnel_start takes the bastion session from the caller and
 * tunnel_stop hands it back, so the caller (kf_ssh_close) closes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ssh/internal.h"

#define PUMP_BUF 65536

static bool would_block(ssize_t n)
{
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

static void *pump_main(void *arg)
{
	struct kf_ssh *s = arg;
	struct kf_ssh *b = s->bastion;
	LIBSSH2_CHANNEL *ch = s->tunnel;
	char *down = kf_xmalloc(PUMP_BUF), *up = kf_xmalloc(PUMP_BUF);
	size_t dlen = 0, doff = 0, ulen = 0, uoff = 0;
	bool fd_eof = false;
	double next_ka = kf_now() + (b->keepalive_interval > 0 ? b->keepalive_interval : 1e9);
	const char *why = "closed";

	while (!atomic_load(&s->pump_stop)) {
		bool progress = false;
		struct pollfd pfd[2];
		ssize_t n;
		int dir, nfd = 1;

		if (dlen == 0) { /* bastion channel -> inner session */
			n = libssh2_channel_read(ch, down, PUMP_BUF);
			if (n > 0) {
				dlen = (size_t)n;
				doff = 0;
				progress = true;
			} else if (n == 0 && libssh2_channel_eof(ch)) {
				why = "the bastion closed the tunnel";
				break;
			} else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
				why = "reading from the bastion failed";
				break;
			}
		}
		if (dlen) {
			n = send(s->pump_fd, down + doff, dlen - doff, MSG_NOSIGNAL);
			if (n > 0) {
				doff += (size_t)n;
				if (doff == dlen)
					dlen = 0;
				progress = true;
			} else if (!would_block(n)) {
				why = "the session closed";
				break;
			}
		}
		if (ulen == 0 && !fd_eof) { /* inner session -> bastion channel */
			n = recv(s->pump_fd, up, PUMP_BUF, 0);
			if (n > 0) {
				ulen = (size_t)n;
				uoff = 0;
				progress = true;
			} else if (n == 0) {
				fd_eof = true;
			} else if (!would_block(n)) {
				fd_eof = true;
			}
		}
		if (ulen) {
			n = libssh2_channel_write(ch, up + uoff, ulen - uoff);
			if (n > 0) {
				uoff += (size_t)n;
				if (uoff == ulen)
					ulen = 0;
				progress = true;
			} else if (n != LIBSSH2_ERROR_EAGAIN) {
				why = "writing to the bastion failed";
				break;
			}
		}
		if (fd_eof && ulen == 0) {
			why = "the session closed";
			break;
		}
		if (kf_now() >= next_ka) {
			int next = 0;
			libssh2_keepalive_send(b->session, &next);
			next_ka = kf_now() + b->keepalive_interval;
		}
		if (progress)
			continue;
		dir = libssh2_session_block_directions(b->session);
		pfd[0].fd = b->sock;
		pfd[0].events = (short)(((dir & LIBSSH2_SESSION_BLOCK_OUTBOUND) ? POLLOUT : 0) |
					((dir & LIBSSH2_SESSION_BLOCK_INBOUND) || !dir ? POLLIN : 0));
		pfd[1].fd = s->pump_fd;
		pfd[1].events = (short)((dlen ? POLLOUT : 0) | (!ulen && !fd_eof ? POLLIN : 0));
		if (pfd[1].events)
			nfd = 2;
		poll(pfd, (nfds_t)nfd, 500);
	}
	kf_trace("ssh", "%s: tunnel through %s ends: %s", s->label, b->label, why);
	shutdown(s->pump_fd, SHUT_RDWR); /* the inner session sees EOF */
	free(down);
	free(up);
	return NULL;
}

int kf_ssh__tunnel_start(struct kf_ssh *s, struct kf_ssh *b, double timeout,
			 int *fd, struct kf_err **err)
{
	int sv[2] = { -1, -1 }, rc;

	s->bastion = b; /* from here on, kf_ssh_close(s) frees b */
	libssh2_session_set_blocking(b->session, 1);
	libssh2_session_set_timeout(b->session, (long)(timeout * 1000));
	s->tunnel = libssh2_channel_direct_tcpip_ex(b->session, s->address,
						    s->port, "127.0.0.1", 22);
	if (!s->tunnel) {
		return kf_err_from_ssh(err, b->session,
				       libssh2_session_last_errno(b->session),
				       "%s: bastion %s cannot open a tunnel to %s port %d",
				       s->label, b->label, s->address, s->port);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return kf_err_errno(err, "%s: socketpair", s->label);
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
	s->pump_fd = sv[1];
	libssh2_session_set_timeout(b->session, 0);
	libssh2_session_set_blocking(b->session, 0);
	rc = pthread_create(&s->pump, NULL, pump_main, s);
	if (rc) {
		close(sv[0]);
		errno = rc;
		return kf_err_errno(err, "%s: start the tunnel thread", s->label);
	}
	s->pump_started = true;
	*fd = sv[0];
	kf_trace("ssh", "%s: tunnel through %s open", s->label, b->label);
	return 0;
}

struct kf_ssh *kf_ssh__tunnel_stop(struct kf_ssh *s)
{
	struct kf_ssh *b = s->bastion;

	if (s->pump_started) {
		atomic_store(&s->pump_stop, 1);
		pthread_join(s->pump, NULL);
		s->pump_started = false;
	}
	if (s->pump_fd >= 0) {
		close(s->pump_fd);
		s->pump_fd = -1;
	}
	if (s->tunnel) {
		libssh2_session_set_blocking(s->bastion->session, 1);
		libssh2_session_set_timeout(s->bastion->session, 2000);
		libssh2_channel_free(s->tunnel);
		s->tunnel = NULL;
	}
	s->bastion = NULL;
	return b;
}
