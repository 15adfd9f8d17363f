/*
 * known_hosts.c - OpenSSH known_hosts files without libssh2: parsing lines
 * (markers, comma-separated patterns with wildcards and negation, hashed
 * |1|salt|hash names, [host]:port), deciding whether a server key is known,
 * changed, revoked or new, appending a new key under a lock (accept-new),
 * SHA256 fingerprints as OpenSSH prints them, and sniffing private key files
 * (type, encrypted or not) so that auth failures can be explained.
 *
 * libssh2's own knownhost API stops at the first line it cannot parse (an
 * @cert-authority line, a key type it does not know), so we parse the files
 * ourselves; everything here is pure and tested in tests/unit/test_ssh.c.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "ssh/internal.h"

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void kf_b64_encode(struct kf_buf *out, const unsigned char *d, size_t len,
		   bool pad)
{
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
		kf_buf_addch(out, b64chars[v >> 18 & 63]);
		kf_buf_addch(out, b64chars[v >> 12 & 63]);
		kf_buf_addch(out, b64chars[v >> 6 & 63]);
		kf_buf_addch(out, b64chars[v & 63]);
	}
	if (len - i == 1) {
		unsigned v = (unsigned)d[i] << 16;
		kf_buf_addch(out, b64chars[v >> 18 & 63]);
		kf_buf_addch(out, b64chars[v >> 12 & 63]);
		if (pad)
			kf_buf_adds(out, "==");
	} else if (len - i == 2) {
		unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8;
		kf_buf_addch(out, b64chars[v >> 18 & 63]);
		kf_buf_addch(out, b64chars[v >> 12 & 63]);
		kf_buf_addch(out, b64chars[v >> 6 & 63]);
		if (pad)
			kf_buf_addch(out, '=');
	}
}

int kf_b64_decode(struct kf_buf *out, const char *s, size_t len)
{
	unsigned v = 0;
	int bits = 0;
	size_t i, npad = 0;

	for (i = 0; i < len; i++) {
		const char *p;

		if (s[i] == '=') {
			npad++;
			continue;
		}
		if (npad || s[i] == '\0' || !(p = strchr(b64chars, s[i])))
			return -1;
		v = v << 6 | (unsigned)(p - b64chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			kf_buf_addch(out, (int)(v >> bits & 0xff));
		}
	}
	if (npad > 2 || bits >= 6)
		return -1;
	return 0;
}

char *kf_ssh_fingerprint(const unsigned char *blob, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct kf_buf b = KF_BUF_INIT;

	SHA256(blob, len, md);
	kf_buf_adds(&b, "SHA256:");
	kf_b64_encode(&b, md, sizeof(md), false);
	return kf_buf_detach(&b, NULL);
}

/* Read an SSH "string" (uint32 length + bytes) at *off. */
static bool get_string(const unsigned char *d, size_t len, size_t *off,
		       const unsigned char **str, size_t *slen)
{
	uint32_t n;

	if (len - *off < 4 || *off > len)
		return false;
	n = (uint32_t)d[*off] << 24 | (uint32_t)d[*off + 1] << 16 |
	    (uint32_t)d[*off + 2] << 8 | d[*off + 3];
	*off += 4;
	if (n > len - *off)
		return false;
	*str = d + *off;
	*slen = n;
	*off += n;
	return true;
}

char *kf_ssh_blob_type(const unsigned char *blob, size_t len)
{
	const unsigned char *t;
	size_t tl, off = 0;

	if (!blob || !get_string(blob, len, &off, &t, &tl) || tl == 0 || tl > 64)
		return NULL;
	return kf_xstrndup((const char *)t, tl);
}

char *kf_kh_hostname(const char *address, int port)
{
	char *h, *p;

	if (port <= 0 || port == 22)
		h = kf_xstrdup(address);
	else
		h = kf_xasprintf("[%s]:%d", address, port);
	for (p = h; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return h;
}

/* OpenSSH match_pattern(): '*' any run, '?' one character. */
static bool match_here(const char *p, size_t plen, const char *s)
{
	while (plen > 0) {
		if (*p == '*') {
			p++;
			plen--;
			if (plen == 0)
				return true;
			for (; *s; s++)
				if (match_here(p, plen, s))
					return true;
			return false;
		}
		if (!*s)
			return false;
		if (*p != '?' && tolower((unsigned char)*p) != tolower((unsigned char)*s))
			return false;
		p++;
		plen--;
		s++;
	}
	return *s == '\0';
}

bool kf_kh_pattern_match(const char *pattern, const char *host)
{
	return match_here(pattern, strlen(pattern), host);
}

/* |1|base64(salt)|base64(HMAC-SHA1(salt, host)) */
static bool hashed_match(const char *entry, size_t len, const char *host)
{
	const char *bar;
	struct kf_buf salt = KF_BUF_INIT, want = KF_BUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	bool ok = false;

	if (len < 4 || memcmp(entry, "|1|", 3) != 0)
		return false;
	bar = memchr(entry + 3, '|', len - 3);
	if (!bar)
		return false;
	if (kf_b64_decode(&salt, entry + 3, (size_t)(bar - entry - 3)) ||
	    kf_b64_decode(&want, bar + 1, len - (size_t)(bar + 1 - entry)))
		goto out;
	if (!HMAC(EVP_sha1(), salt.buf, (int)salt.len,
		  (const unsigned char *)host, strlen(host), md, &mdlen))
		goto out;
	ok = want.len == mdlen && memcmp(want.buf, md, mdlen) == 0;
out:
	kf_buf_release(&salt);
	kf_buf_release(&want);
	return ok;
}

bool kf_kh_hosts_match(const char *list, const char *host)
{
	bool matched = false;
	const char *p = list;

	if (list[0] == '|')
		return hashed_match(list, strlen(list), host);
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		bool neg = n > 0 && *p == '!';
		char *pat = kf_xstrndup(p + neg, n - neg);
		bool m = kf_kh_pattern_match(pat, host);

		free(pat);
		if (m && neg)
			return false; /* a negated match wins outright */
		if (m)
			matched = true;
		p += n;
		if (*p == ',')
			p++;
	}
	return matched;
}

void kf_kh_result_init(struct kf_kh_result *r)
{
	memset(r, 0, sizeof(*r));
	kf_buf_init(&r->types, 0);
}

void kf_kh_result_release(struct kf_kh_result *r)
{
	free(r->file);
	free(r->old_fp);
	kf_buf_release(&r->types);
	memset(r, 0, sizeof(*r));
}

static void note_type(struct kf_kh_result *r, const char *type)
{
	const char *p = r->types.buf;
	size_t n = strlen(type);

	while ((p = strstr(p, type))) {
		if ((p == r->types.buf || p[-1] == ',') &&
		    (p[n] == ',' || p[n] == '\0'))
			return;
		p += n;
	}
	if (r->types.len)
		kf_buf_addch(&r->types, ',');
	kf_buf_adds(&r->types, type);
}

static void decide(struct kf_kh_result *r, enum kf_kh_status st,
		   const char *file, int line, const char *old_fp)
{
	if (st <= r->status)
		return; /* the first entry of the strongest kind decides */
	r->status = st;
	free(r->file);
	r->file = kf_xstrdup(file);
	r->line = line;
	free(r->old_fp);
	r->old_fp = old_fp ? kf_xstrdup(old_fp) : NULL;
}

/* Split one line into up to 4 whitespace-separated fields (the comment is
 * not needed). Returns the number found. Modifies the line. */
static int split_fields(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;

	while (n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		f[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

static void check_line(struct kf_kh_result *r, char *line, const char *file,
		       int lineno, const char *host, const unsigned char *blob,
		       size_t bloblen, const char *want_type)
{
	char *f[4];
	int n = split_fields(line, f, 4), i = 0;
	const char *marker = NULL;
	struct kf_buf key = KF_BUF_INIT;
	char *ktype = NULL;

	if (n == 0 || f[0][0] == '#')
		return;
	if (f[0][0] == '@') {
		marker = f[0];
		i = 1;
	}
	if (n - i < 3) {
		r->bad_lines++;
		return;
	}
	if (!kf_kh_hosts_match(f[i], host))
		return;
	if (marker && strcmp(marker, "@cert-authority") == 0) {
		r->ca_skipped++;
		return;
	}
	if (marker && strcmp(marker, "@revoked") != 0) {
		r->bad_lines++; /* unknown marker: ignore the line, as OpenSSH does */
		return;
	}
	if (kf_b64_decode(&key, f[i + 2], strlen(f[i + 2])) ||
	    !(ktype = kf_ssh_blob_type((unsigned char *)key.buf, key.len)) ||
	    strcmp(ktype, f[i + 1]) != 0) {
		r->bad_lines++;
		goto out;
	}
	if (marker) { /* @revoked */
		if (blob && key.len == bloblen && memcmp(key.buf, blob, bloblen) == 0)
			decide(r, KF_KH_REVOKED, file, lineno, NULL);
		goto out;
	}
	note_type(r, ktype);
	if (!blob)
		goto out;
	if (key.len == bloblen && memcmp(key.buf, blob, bloblen) == 0) {
		decide(r, KF_KH_OK, file, lineno, NULL);
	} else if (want_type && strcmp(ktype, want_type) == 0) {
		char *fp = kf_ssh_fingerprint((unsigned char *)key.buf, key.len);
		decide(r, KF_KH_CHANGED, file, lineno, fp);
		free(fp);
	} else {
		decide(r, KF_KH_OTHER_TYPE, file, lineno, NULL);
	}
out:
	free(ktype);
	kf_buf_release(&key);
}

void kf_kh_check_text(struct kf_kh_result *r, const char *text,
		      const char *file, const char *host,
		      const unsigned char *blob, size_t bloblen)
{
	char *want_type = blob ? kf_ssh_blob_type(blob, bloblen) : NULL;
	const char *p = text;
	int lineno = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = kf_xstrndup(p, n);

		lineno++;
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		check_line(r, line, file, lineno, host, blob, bloblen, want_type);
		free(line);
		p += n;
		if (*p == '\n')
			p++;
	}
	free(want_type);
}

int kf_kh_check_file(struct kf_kh_result *r, const char *path,
		     const char *host, const unsigned char *blob,
		     size_t bloblen, struct kf_err **err)
{
	char *text = NULL;
	size_t len;
	int rc;

	if (access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	rc = kf_file_read(path, &text, &len, err);
	if (rc)
		return kf_err_wrap(err, "read known_hosts file '%s'", path);
	kf_kh_check_text(r, text, path, host, blob, bloblen);
	free(text);
	return 0;
}

static int read_fd(int fd, struct kf_buf *b)
{
	char tmp[8192];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		kf_buf_add(b, tmp, (size_t)n);
	}
	return 0;
}

static int write_all(int fd, const char *d, size_t len)
{
	while (len) {
		ssize_t n = write(fd, d, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		d += n;
		len -= (size_t)n;
	}
	return 0;
}

int kf_kh_append(const char *path, const char *host, const unsigned char *blob,
		 size_t bloblen, bool *added, enum kf_kh_status *status,
		 struct kf_err **err)
{
	int fd = -1, rc = 0;
	char *dir = kf_xstrdup(path), *slash, *type = NULL;
	struct kf_buf text = KF_BUF_INIT, line = KF_BUF_INIT;
	struct kf_kh_result r;

	kf_kh_result_init(&r);
	*added = false;
	*status = KF_KH_UNKNOWN;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if ((rc = kf_mkdir_p(dir, 0700, err)))
			goto out;
	}
	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = kf_err_errno(err, "open known_hosts file '%s'", path);
		goto out;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			rc = kf_err_errno(err, "lock '%s'", path);
			goto out;
		}
	}
	/* Under the lock: another connection may have added it meanwhile. */
	if (read_fd(fd, &text)) {
		rc = kf_err_errno(err, "read known_hosts file '%s'", path);
		goto out;
	}
	kf_kh_check_text(&r, text.buf, path, host, blob, bloblen);
	*status = r.status;
	if (r.status == KF_KH_OK || r.status == KF_KH_CHANGED ||
	    r.status == KF_KH_REVOKED)
		goto out;
	type = kf_ssh_blob_type(blob, bloblen);
	if (!type) {
		rc = kf_err_set(err, KF_EINVAL, "malformed host key");
		goto out;
	}
	if (text.len && text.buf[text.len - 1] != '\n')
		kf_buf_addch(&line, '\n');
	kf_buf_addf(&line, "%s %s ", host, type);
	kf_b64_encode(&line, blob, bloblen, true);
	kf_buf_addch(&line, '\n');
	if (write_all(fd, line.buf, line.len) || fsync(fd)) {
		rc = kf_err_errno(err, "append to known_hosts file '%s'", path);
		goto out;
	}
	*added = true;
out:
	if (fd >= 0)
		close(fd); /* releases the lock */
	free(dir);
	free(type);
	kf_buf_release(&text);
	kf_buf_release(&line);
	kf_kh_result_release(&r);
	return rc;
}

/* ---- private key files -------------------------------------------------- */

void kf_keyinfo_init(struct kf_keyinfo *k)
{
	memset(k, 0, sizeof(*k));
	kf_buf_init(&k->pub, 0);
}

void kf_keyinfo_release(struct kf_keyinfo *k)
{
	kf_buf_release(&k->pub);
}

static void set_type(struct kf_keyinfo *k, const char *t, size_t n)
{
	if (n >= sizeof(k->type))
		n = sizeof(k->type) - 1;
	memcpy(k->type, t, n);
	k->type[n] = '\0';
}

int kf_keyinfo_parse(struct kf_keyinfo *k, const char *text, size_t len)
{
	static const char oss_begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
	static const char oss_end[] = "-----END OPENSSH PRIVATE KEY-----";
	const char *b = strstr(text, oss_begin), *e;
	struct kf_buf raw = KF_BUF_INIT, b64 = KF_BUF_INIT;
	const unsigned char *s, *d;
	size_t sl, off, i;
	int rc = -1;

	(void)len;
	if (!b) {
		/* PEM: the header says the algorithm (and Proc-Type: ENCRYPTED). */
		k->encrypted = strstr(text, "ENCRYPTED") != NULL;
		if (strstr(text, "-----BEGIN RSA PRIVATE KEY-----"))
			set_type(k, "ssh-rsa", 7);
		else if (strstr(text, "-----BEGIN EC PRIVATE KEY-----"))
			set_type(k, "ecdsa", 5);
		else if (strstr(text, "-----BEGIN DSA PRIVATE KEY-----"))
			set_type(k, "ssh-dss", 7);
		else if (!strstr(text, "PRIVATE KEY-----"))
			return -1;
		return 0;
	}
	k->openssh_format = true;
	b += sizeof(oss_begin) - 1;
	e = strstr(b, oss_end);
	if (!e)
		return -1;
	for (; b < e; b++)
		if (!isspace((unsigned char)*b))
			kf_buf_addch(&b64, *b);
	if (kf_b64_decode(&raw, b64.buf, b64.len))
		goto out;
	d = (const unsigned char *)raw.buf;
	if (raw.len < 15 || memcmp(d, "openssh-key-v1\0", 15) != 0)
		goto out;
	off = 15;
	if (!get_string(d, raw.len, &off, &s, &sl)) /* cipher */
		goto out;
	k->encrypted = !(sl == 4 && memcmp(s, "none", 4) == 0);
	if (!get_string(d, raw.len, &off, &s, &sl) || /* kdf */
	    !get_string(d, raw.len, &off, &s, &sl) || /* kdf options */
	    raw.len - off < 4)
		goto out;
	off += 4; /* number of keys: we look at the first */
	if (!get_string(d, raw.len, &off, &s, &sl))
		goto out;
	kf_buf_add(&k->pub, s, sl);
	off = 0;
	if (!get_string(s, sl, &off, &d, &i))
		goto out;
	set_type(k, (const char *)d, i);
	rc = 0;
out:
	kf_buf_release(&raw);
	kf_buf_release(&b64);
	return rc;
}
