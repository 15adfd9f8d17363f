/*
 * internal.h - what the files of src/ssh/ share: the session structure and
 * the pure helpers (known_hosts parsing and matching, fingerprints, key file
 * sniffing) that tests/unit/test_ssh.c exercises directly. Not for other
 * modules: they use ssh.h.
 */
#ifndef KF_SSH_INTERNAL_H
#define KF_SSH_INTERNAL_H

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <pthread.h>
#include <stdatomic.h>

#include "ssh/ssh.h"

struct kf_ssh {
	char *name;
	char *address;
	char *user;
	char *label;   /* "name (user@address:port)" */
	int port;
	int sock;      /* TCP socket, or our end of the bastion socketpair */
	LIBSSH2_SESSION *session;
	LIBSSH2_SFTP *sftp; /* opened on first upload */
	char *hk_type;
	char *hk_fp;
	double keepalive_interval;
	double connect_timeout;

	/* Bastion hop: the session to the bastion and the thread that copies
	 * bytes between the direct-tcpip channel and pump_fd. */
	struct kf_ssh *bastion;
	LIBSSH2_CHANNEL *tunnel;
	int pump_fd;
	pthread_t pump;
	bool pump_started;
	atomic_int pump_stop;
};

/* Session helpers shared by exec.c and upload.c (session.c). */
int kf_ssh__wait(struct kf_ssh *s, double deadline);
void kf_ssh__init_once(void);

/* Bastion (bastion.c): open the tunnel from b to (address, port) and start
 * the pump; on success *fd is the socket the inner session should use and
 * s holds b until tunnel_stop, which stops the pump, frees the channel and
 * returns the bastion session (or NULL) for the caller to close. */
int kf_ssh__tunnel_start(struct kf_ssh *s, struct kf_ssh *b, double timeout,
			 int *fd, struct kf_err **err);
struct kf_ssh *kf_ssh__tunnel_stop(struct kf_ssh *s);

/* ---- pure helpers (known_hosts.c) --------------------------------------- */

/* Base64 (standard alphabet). decode ignores nothing: any invalid byte is
 * an error (-1). */
void kf_b64_encode(struct kf_buf *out, const unsigned char *data, size_t len,
		   bool pad);
int kf_b64_decode(struct kf_buf *out, const char *s, size_t len);

/* "SHA256:" + unpadded base64 of the SHA-256 of the key blob, as OpenSSH
 * prints it. Caller frees. */
char *kf_ssh_fingerprint(const unsigned char *blob, size_t len);

/* The type name stored at the start of a key blob ("ssh-ed25519"), or NULL
 * if the blob is malformed. Caller frees. */
char *kf_ssh_blob_type(const unsigned char *blob, size_t len);

/* The name known_hosts uses for a host: "addr" for port 22, else
 * "[addr]:port" (lower case). Caller frees. */
char *kf_kh_hostname(const char *address, int port);

/* Whether `host` matches one OpenSSH pattern (`*`, `?`; case-insensitive). */
bool kf_kh_pattern_match(const char *pattern, const char *host);
/* Whether `host` matches a comma-separated list with `!negations`, or a
 * hashed `|1|salt|hash` entry. */
bool kf_kh_hosts_match(const char *list, const char *host);

enum kf_kh_status {
	KF_KH_UNKNOWN = 0,  /* no entry for the host */
	KF_KH_OTHER_TYPE,   /* entries exist, none of this key's type */
	KF_KH_CHANGED,      /* an entry of this type with another key */
	KF_KH_OK,           /* the key is listed */
	KF_KH_REVOKED,      /* the key is marked @revoked */
};

struct kf_kh_result {
	enum kf_kh_status status;
	char *file;         /* where the deciding entry is (OK/CHANGED/REVOKED) */
	int line;
	char *old_fp;       /* CHANGED: fingerprint of the listed key */
	struct kf_buf types;/* key types listed for the host, comma-separated */
	int ca_skipped;     /* @cert-authority lines for the host (ignored) */
	int bad_lines;      /* lines that could not be parsed (ignored) */
};

void kf_kh_result_init(struct kf_kh_result *r);
void kf_kh_result_release(struct kf_kh_result *r);

/*
 * Look the key `blob` (NULL: only collect the types known for the host) up
 * in the text of one known_hosts file named `file`, for `host` (as made by
 * kf_kh_hostname). Accumulates into r: call once per file; the strongest
 * finding wins (REVOKED > OK > CHANGED > OTHER_TYPE > UNKNOWN).
 */
void kf_kh_check_text(struct kf_kh_result *r, const char *text,
		      const char *file, const char *host,
		      const unsigned char *blob, size_t bloblen);

/* The same on a file; a missing file counts as empty. */
int kf_kh_check_file(struct kf_kh_result *r, const char *path,
		     const char *host, const unsigned char *blob,
		     size_t bloblen, struct kf_err **err);

/*
 * accept-new: append "host type base64" to `path` unless the key is already
 * there, under an exclusive flock so that parallel connections add it once.
 * Creates the file (0644) and its directory (0700). *added says whether a
 * line was written. If, under the lock, the file now holds another key of
 * this type for the host, nothing is written and *status says CHANGED.
 */
int kf_kh_append(const char *path, const char *host, const unsigned char *blob,
		 size_t bloblen, bool *added, enum kf_kh_status *status,
		 struct kf_err **err);

/* What a private key file holds, from its text (no decryption). */
struct kf_keyinfo {
	char type[40];      /* "ssh-ed25519", "ssh-rsa", ... or "" if unknown */
	bool encrypted;
	bool openssh_format;
	struct kf_buf pub;  /* public key blob (OpenSSH format only) */
};
void kf_keyinfo_init(struct kf_keyinfo *k);
void kf_keyinfo_release(struct kf_keyinfo *k);
int kf_keyinfo_parse(struct kf_keyinfo *k, const char *text, size_t len);

#endif
