/*
 * session.c - opening and closing SSH sessions: a TCP connect bounded by a
 * timeout (or a tunnel through a bastion), the libssh2 handshake with host
 * key algorithms ordered so that a key already in known_hosts is the one
 * negotiated, the host key check (unknown, changed, revoked, accept-new),
 * and public key authentication (ssh-agent, then the identity file) with
 * messages that say why a login failed. Also the libssh2 error conversion
 * and the socket wait used by exec.c and upload.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssh/internal.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static atomic_int init_rc; /* atomic: read by every thread after the once */

static void do_init(void)
{
	atomic_store(&init_rc, libssh2_init(0));
}

void kf_ssh__init_once(void)
{
	pthread_once(&init_once, do_init);
}

const char *kf_ssh_name(const struct kf_ssh *s) { return s->name; }
const char *kf_ssh_user(const struct kf_ssh *s) { return s->user; }
const char *kf_ssh_label(const struct kf_ssh *s) { return s->label; }
const char *kf_ssh_hostkey_type(const struct kf_ssh *s) { return s->hk_type; }
const char *kf_ssh_hostkey_fingerprint(const struct kf_ssh *s) { return s->hk_fp; }

/* Wait until the socket is ready in the direction libssh2 is blocked on,
 * or until `deadline` (kf_now() seconds; 0 = none). Returns 0, or
 * KF_ETIMEOUT when the deadline passed. */
int kf_ssh__wait(struct kf_ssh *s, double deadline)
{
	struct pollfd pfd = { .fd = s->sock, .events = 0 };
	int dir = libssh2_session_block_directions(s->session);
	int ms = 1000;

	if (deadline > 0) {
		double left = deadline - kf_now();
		if (left <= 0)
			return KF_ETIMEOUT;
		if (left < 1.0)
			ms = (int)(left * 1000) + 1;
	}
	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND || !dir)
		pfd.events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd.events |= POLLOUT;
	if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
		return KF_EIO;
	return 0;
}

/* ---- TCP connect ------------------------------------------------------- */

/* Tune a connected socket: blocking again (libssh2 sets its own mode), no
 * Nagle delay, TCP keepalive so a dead peer is noticed. */
static void tune_socket(int fd)
{
	int one = 1, idle = 30, intvl = 10, cnt = 3;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* Connect to one address before `deadline`. Returns the socket, or -1 with
 * *why set (errno text), or -2 when the deadline passed. */
static int connect_one(const struct addrinfo *ai, double deadline,
		       const char **why)
{
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, rc, soerr = 0;
	double left;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		*why = strerror(errno);
		close(fd);
		return -1;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
		left = deadline - kf_now();
		rc = left > 0 ? poll(&pfd, 1, (int)(left * 1000) + 1) : 0;
	} while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		close(fd);
		return -2;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
		return fd;
	*why = strerror(soerr ? soerr : errno);
	close(fd);
	return -1;
}

static int tcp_connect(const char *label, const char *address, int port,
		       double timeout, int *out, struct kf_err **err)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	char portstr[16];
	const char *why = "no address";
	double deadline = kf_now() + timeout;
	int rc, fd = -1;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(address, portstr, &hints, &res);
	if (rc) {
		rc = kf_err_set(err, KF_EIO, "%s: cannot resolve '%s': %s", label,
				address, gai_strerror(rc));
		goto out;
	}
	for (ai = res; ai && fd == -1; ai = ai->ai_next)
		fd = connect_one(ai, deadline, &why);
	if (fd == -2) {
		rc = kf_err_set(err, KF_ETIMEOUT,
				"%s: connect to %s port %d: timed out after %gs (host down or unreachable?)",
				label, address, port, timeout);
	} else if (fd < 0) {
		rc = kf_err_set(err, KF_EIO, "%s: connect to %s port %d: %s", label,
				address, port, why);
	} else {
		tune_socket(fd);
		*out = fd;
		rc = 0;
	}
out:
	if (res)
		freeaddrinfo(res);
	return rc;
}

/* ---- host keys --------------------------------------------------------- */

struct kh_files {
	char *user;   /* expanded user file */
	char *global; /* or NULL */
};

static void kh_files_init(struct kh_files *f, const struct kf_ssh_target *t)
{
	f->user = kf_path_expand(t->known_hosts_file ? t->known_hosts_file
						     : "~/.ssh/known_hosts");
	if (!t->global_known_hosts_file)
		f->global = kf_xstrdup("/etc/ssh/ssh_known_hosts");
	else if (t->global_known_hosts_file[0])
		f->global = kf_path_expand(t->global_known_hosts_file);
	else
		f->global = NULL;
}

static void kh_files_release(struct kh_files *f)
{
	free(f->user);
	free(f->global);
}

static int kh_lookup(struct kf_kh_result *r, const struct kh_files *f,
		     const char *host, const unsigned char *blob, size_t len,
		     struct kf_err **err)
{
	int rc = kf_kh_check_file(r, f->user, host, blob, len, err);

	if (!rc && f->global)
		rc = kf_kh_check_file(r, f->global, host, blob, len, err);
	return rc;
}

/* Host key methods to offer: those of keys already known for the host
 * first (so we do not negotiate a type we have no entry for), then the
 * rest in a sensible order. Only what this libssh2 supports. */
static void set_hostkey_prefs(LIBSSH2_SESSION *session, const char *known)
{
	static const char *const order[] = {
		"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
		"ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa",
	};
	const char **algs = NULL;
	struct kf_buf pref = KF_BUF_INIT;
	int n = libssh2_session_supported_algs(session, LIBSSH2_METHOD_HOSTKEY, &algs);
	size_t round, i;
	int j;

	if (n <= 0)
		return;
	for (round = 0; round < 2; round++) {
		for (i = 0; i < KF_ARRAY_SIZE(order); i++) {
			const char *m = order[i];
			const char *keytype = kf_str_startswith(m, "rsa-sha2-") ? "ssh-rsa" : m;
			bool is_known = false, supported = false;
			const char *p = known;

			while (known && (p = strstr(p, keytype))) {
				size_t kl = strlen(keytype);
				if ((p == known || p[-1] == ',') && (p[kl] == ',' || !p[kl])) {
					is_known = true;
					break;
				}
				p += kl;
			}
			if (is_known != (round == 0))
				continue;
			for (j = 0; j < n; j++)
				if (strcmp(algs[j], m) == 0)
					supported = true;
			if (!supported)
				continue;
			if (pref.len)
				kf_buf_addch(&pref, ',');
			kf_buf_adds(&pref, m);
		}
	}
	libssh2_free(session, algs);
	if (pref.len) {
		kf_trace("ssh", "host key methods: %s", pref.buf);
		libssh2_session_method_pref(session, LIBSSH2_METHOD_HOSTKEY, pref.buf);
	}
	kf_buf_release(&pref);
}

static int check_hostkey(struct kf_ssh *s, const struct kf_ssh_target *t,
			 const struct kh_files *f, struct kf_err **err)
{
	size_t len = 0;
	int type = 0, rc = 0;
	const unsigned char *blob =
		(const unsigned char *)libssh2_session_hostkey(s->session, &len, &type);
	char *host = kf_kh_hostname(s->address, s->port);
	struct kf_kh_result r;
	bool added = false;
	enum kf_kh_status st;

	kf_kh_result_init(&r);
	if (!blob) {
		rc = kf_err_from_ssh(err, s->session, LIBSSH2_ERROR_HOSTKEY_INIT,
				     "%s: no host key from server", s->label);
		goto out;
	}
	s->hk_type = kf_ssh_blob_type(blob, len);
	s->hk_fp = kf_ssh_fingerprint(blob, len);
	if (!s->hk_type)
		s->hk_type = kf_xstrdup("unknown");
	kf_trace("ssh", "%s: host key %s %s", s->label, s->hk_type, s->hk_fp);
	if ((rc = kh_lookup(&r, f, host, blob, len, err))) {
		kf_err_wrap(err, "%s", s->label);
		goto out;
	}
	if (r.ca_skipped)
		kf_warn("%s: ignoring %d @cert-authority line(s) for %s: libssh2 1.10 cannot verify host certificates; checking plain host keys only",
			s->name, r.ca_skipped, host);
	st = r.status;
	if (st == KF_KH_UNKNOWN && t->accept_new) {
		rc = kf_kh_append(f->user, host, blob, len, &added, &st, err);
		if (rc) {
			kf_err_wrap(err, "%s: accept-new", s->label);
			goto out;
		}
		if (added)
			kf_info("%s: added %s key %s for %s to %s (accept-new)",
				s->name, s->hk_type, s->hk_fp, host, f->user);
		if (st == KF_KH_UNKNOWN)
			st = KF_KH_OK;
		else if (st != KF_KH_OK) {
			/* someone else wrote a different key meanwhile: look again
			 * to name it */
			kf_kh_result_release(&r);
			kf_kh_result_init(&r);
			kh_lookup(&r, f, host, blob, len, NULL);
		}
	}
	switch (st) {
	case KF_KH_OK:
		break;
	case KF_KH_REVOKED:
		rc = kf_err_set(err, KF_EAUTH,
				"%s: the %s host key %s of %s is marked @revoked in %s:%d; refusing to connect",
				s->label, s->hk_type, s->hk_fp, host, r.file, r.line);
		break;
	case KF_KH_CHANGED:
		rc = kf_err_set(err, KF_EAUTH,
				"%s: WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED for %s: the server now offers %s key %s, but %s:%d lists %s; someone could be intercepting the connection (man-in-the-middle), or the host was reinstalled; if you know it was, remove the old entry with `ssh-keygen -R '%s' -f %s` and connect again",
				s->label, host, s->hk_type, s->hk_fp, r.file,
				r.line, r.old_fp ? r.old_fp : "another key",
				host, r.file);
		break;
	case KF_KH_OTHER_TYPE:
		rc = kf_err_set(err, KF_EAUTH,
				"%s: host key verification failed: known_hosts (%s:%d) lists %s for %s but the server offered %s key %s; refusing (add the new key with `ssh-keyscan -p %d -t %s %s >> %s` if you trust it)",
				s->label, r.file, r.line, r.types.buf, host,
				s->hk_type, s->hk_fp, s->port, s->hk_type,
				s->address, f->user);
		break;
	case KF_KH_UNKNOWN:
		rc = kf_err_set(err, KF_EAUTH,
				"%s: host key verification failed: the %s key of %s is not known (fingerprint %s, not in %s%s%s); check the fingerprint, then add it with `ssh-keyscan -p %d -t %s %s >> %s`, or set `hostKeyPolicy: accept-new` in the profile",
				s->label, s->hk_type, host, s->hk_fp, f->user,
				f->global ? " or " : "", f->global ? f->global : "",
				s->port, s->hk_type, s->address, f->user);
		break;
	}
out:
	free(host);
	kf_kh_result_release(&r);
	return rc;
}

/* ---- authentication ----------------------------------------------------- */

static bool list_has(const char *list, const char *word)
{
	const char *p = list;
	size_t n = strlen(word);

	while (list && (p = strstr(p, word))) {
		if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

static const char rsa_hint[] =
	"libssh2 1.10 signs RSA keys only with SHA-1 (ssh-rsa), which OpenSSH 8.8 and later refuse by default; use an ed25519 key (ssh-keygen -t ed25519) or an ecdsa key";

/* Try the agent's identities. Returns 0 when authenticated, 1 when none was
 * accepted (with *rsa_refused set if an RSA identity was refused). */
static int auth_agent(struct kf_ssh *s, bool *rsa_refused, int *tried)
{
	LIBSSH2_AGENT *agent = libssh2_agent_init(s->session);
	struct libssh2_agent_publickey *id = NULL, *prev = NULL;
	bool connected = false;
	int rc = 1;

	if (!agent)
		goto out;
	if (libssh2_agent_connect(agent)) {
		kf_debug("%s: ssh-agent: cannot connect to SSH_AUTH_SOCK; trying the key file", s->name);
		goto out;
	}
	connected = true;
	if (libssh2_agent_list_identities(agent))
		goto out;
	while (libssh2_agent_get_identity(agent, &id, prev) == 0) {
		char *type = kf_ssh_blob_type(id->blob, id->blob_len);

		prev = id;
		(*tried)++;
		if (libssh2_agent_userauth(agent, s->user, id) == 0) {
			kf_trace("ssh", "%s: authenticated with agent key %s", s->label,
				 type ? type : "?");
			free(type);
			rc = 0;
			break;
		}
		if (type && strcmp(type, "ssh-rsa") == 0)
			*rsa_refused = true;
		free(type);
	}
out:
	if (connected)
		libssh2_agent_disconnect(agent);
	if (agent)
		libssh2_agent_free(agent);
	return rc;
}

static int authenticate(struct kf_ssh *s, const char *keyfile,
			struct kf_err **err)
{
	char *methods, *text = NULL, *fp = NULL;
	size_t tlen = 0;
	bool rsa_refused = false;
	int tried = 0, rc;
	struct kf_keyinfo ki;

	kf_keyinfo_init(&ki);
	methods = libssh2_userauth_list(s->session, s->user,
					(unsigned)strlen(s->user));
	if (!methods) {
		if (libssh2_userauth_authenticated(s->session)) {
			rc = 0;
			goto out;
		}
		rc = kf_err_from_ssh(err, s->session,
				     libssh2_session_last_errno(s->session),
				     "%s: ask for authentication methods", s->label);
		goto out;
	}
	if (!list_has(methods, "publickey")) {
		rc = kf_err_set(err, KF_EAUTH,
				"%s: the server does not accept public key authentication for user '%s' (it offers: %s)",
				s->label, s->user, methods);
		goto out;
	}
	if (getenv("SSH_AUTH_SOCK") && getenv("SSH_AUTH_SOCK")[0] &&
	    auth_agent(s, &rsa_refused, &tried) == 0) {
		rc = 0;
		goto out;
	}
	if (!keyfile) {
		rc = kf_err_set(err, KF_EAUTH,
				"%s: authentication as '%s' failed: %s, and no identity file is configured%s%s",
				s->label, s->user,
				tried ? "ssh-agent offered no key the server accepted" : "no ssh-agent key",
				rsa_refused ? "; " : "", rsa_refused ? rsa_hint : "");
		goto out;
	}
	if (kf_file_read(keyfile, &text, &tlen, NULL) == 0)
		kf_keyinfo_parse(&ki, text, tlen);
	if (ki.encrypted) {
		rc = kf_err_set(err, KF_EAUTH,
				"%s: identity file '%s' is protected by a passphrase, which kfboot cannot ask for; load it into ssh-agent (ssh-add %s) and set SSH_AUTH_SOCK",
				s->label, keyfile, keyfile);
		goto out;
	}
	rc = libssh2_userauth_publickey_fromfile_ex(s->session, s->user,
						    (unsigned)strlen(s->user),
						    NULL, keyfile, NULL);
	if (rc == 0) {
		kf_trace("ssh", "%s: authenticated with %s", s->label, keyfile);
		goto out;
	}
	if (ki.pub.len)
		fp = kf_ssh_fingerprint((unsigned char *)ki.pub.buf, ki.pub.len);
	if (rc == LIBSSH2_ERROR_FILE) {
		rc = kf_err_from_ssh(err, s->session, rc,
				     "%s: cannot use identity file '%s' (supported: ed25519 and ecdsa keys in OpenSSH format, RSA in PEM)",
				     s->label, keyfile);
		if (rc != KF_EAUTH)
			rc = kf_err_set(err, KF_EAUTH, "%s", (*err)->msg);
	} else if (strcmp(ki.type, "ssh-rsa") == 0 &&
		   (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
		    rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)) {
		rc = kf_err_set(err, KF_EAUTH,
				"%s: the server refused the RSA key '%s' for user '%s': %s",
				s->label, keyfile, s->user, rsa_hint);
	} else if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
		   rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) {
		char *desc = fp ? kf_xasprintf(" (%s %s)", ki.type, fp) : kf_xstrdup("");

		rc = kf_err_set(err, KF_EAUTH,
				"%s: authentication as '%s' failed: the server refused the key '%s'%s%s; check the user name and that the public key is in ~%s/.ssh/authorized_keys on the host",
				s->label, s->user, keyfile, desc,
				tried ? " and the ssh-agent keys" : "", s->user);
		free(desc);
	} else {
		rc = kf_err_from_ssh(err, s->session, rc,
				     "%s: authentication as '%s' with '%s'",
				     s->label, s->user, keyfile);
	}
out:
	free(text);
	free(fp);
	kf_keyinfo_release(&ki);
	return rc;
}

/* ---- connect / close ---------------------------------------------------- */

static struct kf_ssh *ssh_new(const struct kf_ssh_target *t)
{
	struct kf_ssh *s = kf_xcalloc(1, sizeof(*s));

	s->address = kf_xstrdup(t->address);
	s->name = kf_xstrdup(t->name && t->name[0] ? t->name : t->address);
	s->user = kf_xstrdup(t->user && t->user[0] ? t->user : "root");
	s->port = t->port > 0 ? t->port : 22;
	s->label = kf_xasprintf("%s (%s@%s:%d)", s->name, s->user, s->address, s->port);
	s->sock = -1;
	s->pump_fd = -1;
	s->connect_timeout = t->connect_timeout > 0 ? t->connect_timeout : 10;
	s->keepalive_interval = t->keepalive_interval == 0 ? 30 : t->keepalive_interval;
	atomic_init(&s->pump_stop, 0);
	return s;
}

int kf_ssh_connect(struct kf_ssh **out, const struct kf_ssh_target *t,
		   struct kf_err **err)
{
	struct kf_ssh *s = NULL, *b = NULL;
	struct kh_files files = { NULL, NULL };
	struct kf_kh_result known;
	char *keyfile = NULL, *host = NULL;
	double start = kf_now(), deadline;
	int rc;

	*out = NULL;
	kf_kh_result_init(&known);
	if (!t || !t->address || !t->address[0]) {
		rc = kf_err_set(err, KF_EINVAL, "ssh: no address to connect to");
		goto out;
	}
	kf_ssh__init_once();
	if (atomic_load(&init_rc)) {
		rc = kf_err_set(err, KF_EIO, "ssh: libssh2_init failed (%d)",
				atomic_load(&init_rc));
		goto out;
	}
	s = ssh_new(t);
	deadline = start + s->connect_timeout;
	kh_files_init(&files, t);
	if (t->identity_file && t->identity_file[0]) {
		struct stat st;

		keyfile = kf_path_expand(t->identity_file);
		if (stat(keyfile, &st) != 0) {
			bool agent = getenv("SSH_AUTH_SOCK") && getenv("SSH_AUTH_SOCK")[0];
			if (!agent) {
				rc = kf_err_set(err, KF_EAUTH,
						"%s: identity file '%s' not found (%s) and no ssh-agent (SSH_AUTH_SOCK is not set)",
						s->label, keyfile, strerror(errno));
				goto out;
			}
			kf_debug("%s: identity file '%s' not found; relying on ssh-agent",
				 s->name, keyfile);
			free(keyfile);
			keyfile = NULL;
		}
	}

	if (t->bastion) {
		int fd = -1;

		rc = kf_ssh_connect(&b, t->bastion, err);
		if (rc) {
			kf_err_wrap(err, "%s: through bastion", s->label);
			goto out;
		}
		rc = kf_ssh__tunnel_start(s, b, s->connect_timeout, &fd, err);
		b = NULL; /* s owns it now */
		if (rc)
			goto out;
		s->sock = fd;
	} else {
		rc = tcp_connect(s->label, s->address, s->port, s->connect_timeout,
				 &s->sock, err);
		if (rc)
			goto out;
	}
	kf_trace("ssh", "%s: connected in %.0f ms", s->label, (kf_now() - start) * 1000);

	s->session = libssh2_session_init();
	if (!s->session) {
		rc = kf_err_set(err, KF_EIO, "%s: libssh2_session_init failed", s->label);
		goto out;
	}
	libssh2_session_set_blocking(s->session, 1);
	{
		double left = deadline - kf_now();
		libssh2_session_set_timeout(s->session, left > 0.1 ? (long)(left * 1000) : 100);
	}
	host = kf_kh_hostname(s->address, s->port);
	kh_lookup(&known, &files, host, NULL, 0, NULL);
	set_hostkey_prefs(s->session, known.types.len ? known.types.buf : NULL);

	rc = libssh2_session_handshake(s->session, s->sock);
	if (rc) {
		rc = kf_err_from_ssh(err, s->session, rc, "%s: SSH handshake", s->label);
		goto out;
	}
	if ((rc = check_hostkey(s, t, &files, err)))
		goto out;
	{
		/* Authentication may need a round trip per key: give it the rest
		 * of the connect time, but at least a few seconds. */
		double left = deadline - kf_now();
		libssh2_session_set_timeout(s->session, (long)((left > 5 ? left : 5) * 1000));
	}
	if ((rc = authenticate(s, keyfile, err)))
		goto out;
	if (s->keepalive_interval > 0)
		libssh2_keepalive_config(s->session, 1, (unsigned)s->keepalive_interval);
	libssh2_session_set_timeout(s->session, 0);
	kf_trace("ssh", "%s: session ready in %.0f ms", s->label, (kf_now() - start) * 1000);
	rc = 0;
out:
	if (rc) {
		kf_ssh_close(s);
		kf_ssh_close(b);
	} else {
		*out = s;
	}
	free(keyfile);
	free(host);
	kh_files_release(&files);
	kf_kh_result_release(&known);
	return rc;
}

bool kf_ssh_alive(struct kf_ssh *s)
{
	LIBSSH2_CHANNEL *ch;
	int next = 0;
	bool ok;

	if (!s || !s->session)
		return false;
	if (libssh2_keepalive_send(s->session, &next) != 0)
		return false;
	libssh2_session_set_timeout(s->session, 5000);
	ch = libssh2_channel_open_session(s->session);
	ok = ch != NULL;
	if (ch)
		libssh2_channel_free(ch);
	libssh2_session_set_timeout(s->session, 0);
	return ok;
}

void kf_ssh_close(struct kf_ssh *s)
{
	if (!s)
		return;
	if (s->session) {
		libssh2_session_set_blocking(s->session, 1);
		libssh2_session_set_timeout(s->session, 2000);
		if (s->sftp)
			libssh2_sftp_shutdown(s->sftp);
		libssh2_session_disconnect(s->session, "kfboot: done");
		libssh2_session_free(s->session);
	}
	if (s->sock >= 0)
		close(s->sock);
	/* The tunnel goes first, then the bastion session it ran over. */
	kf_ssh_close(kf_ssh__tunnel_stop(s));
	free(s->name);
	free(s->address);
	free(s->user);
	free(s->label);
	free(s->hk_type);
	free(s->hk_fp);
	free(s);
}
