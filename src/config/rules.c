/*
 * rules.c - the syntax rules for values in a Cluster profile: CIDRs, DNS
 * names, Kubernetes labels and taints, versions, host addresses, git
 * branches and URLs, and duration formatting.
 *
 * Each checker is a pure function over one string so that the profile
 * validator stays a readable list of "this field must be a ..." and the
 * tests can hit every corner of every rule directly. Reasons are short,
 * lower case, and finish a sentence the caller starts.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config/rules.h"
#include "util/util.h"

static bool fail(char *why, size_t whylen, const char *fmt, ...) KF_PRINTF(3, 4);

static bool fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_digits(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* ---- CIDRs ----------------------------------------------------------- */

int kf_cidr_bits(const struct kf_cidr *c)
{
	return c->family == AF_INET6 ? 128 : 32;
}

const char *kf_cidr_fmt(const struct kf_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%d", a, c->prefix);
	return buf;
}

/* Clear the bits after `prefix`; return true when any was set. */
static bool mask_host_bits(unsigned char *addr, int bits, int prefix)
{
	bool any = false;

	for (int i = prefix; i < bits; i++) {
		unsigned char m = (unsigned char)(0x80u >> (i % 8));

		if (addr[i / 8] & m) {
			any = true;
			addr[i / 8] &= (unsigned char)~m;
		}
	}
	return any;
}

bool kf_cidr_parse(const char *s, struct kf_cidr *out, char *why, size_t whylen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	const char *pfx;
	size_t hlen;
	struct kf_cidr c;
	long prefix;
	int bits;

	memset(&c, 0, sizeof(c));
	if (!*s)
		return fail(why, whylen, "it is empty");
	if (!slash)
		return fail(why, whylen, "a CIDR needs a prefix length, as in 10.244.0.0/16");
	hlen = (size_t)(slash - s);
	if (hlen == 0 || hlen >= sizeof(host))
		return fail(why, whylen, "'%.*s' is not an IPv4 or IPv6 address",
			    (int)(hlen < 64 ? hlen : 64), s);
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, c.addr) == 1)
		c.family = AF_INET;
	else if (inet_pton(AF_INET6, host, c.addr) == 1)
		c.family = AF_INET6;
	else
		return fail(why, whylen, "'%s' is not an IPv4 or IPv6 address", host);
	bits = kf_cidr_bits(&c);
	pfx = slash + 1;
	if (!is_digits(pfx, strlen(pfx)) || strlen(pfx) > 3 ||
	    (pfx[0] == '0' && pfx[1]))
		return fail(why, whylen, "prefix length '%s' is not a number from 0 to %d",
			    pfx, bits);
	prefix = strtol(pfx, NULL, 10);
	if (prefix > bits)
		return fail(why, whylen, "prefix length %ld is out of range for %s (0-%d)",
			    prefix, c.family == AF_INET ? "IPv4" : "IPv6", bits);
	c.prefix = (int)prefix;
	if (mask_host_bits(c.addr, bits, c.prefix)) {
		char buf[64];

		return fail(why, whylen, "host bits are set (did you mean '%s'?)",
			    kf_cidr_fmt(&c, buf, sizeof(buf)));
	}
	*out = c;
	return true;
}

bool kf_cidr_list_parse(const char *s, struct kf_cidr out[2], size_t *n,
			char *why, size_t whylen)
{
	const char *comma = strchr(s, ',');
	char *first;
	bool ok;

	*n = 0;
	if (!comma)
		return (*n = kf_cidr_parse(s, &out[0], why, whylen)) != 0;
	if (strchr(comma + 1, ','))
		return fail(why, whylen, "at most two CIDRs (one IPv4, one IPv6) may be given");
	first = kf_xstrndup(s, (size_t)(comma - s));
	ok = kf_cidr_parse(first, &out[0], why, whylen) &&
	     kf_cidr_parse(comma + 1, &out[1], why, whylen);
	free(first);
	if (!ok)
		return false;
	if (out[0].family == out[1].family)
		return fail(why, whylen, "a dual-stack pair needs one IPv4 and one IPv6 CIDR");
	*n = 2;
	return true;
}

bool kf_cidr_contains(const struct kf_cidr *c, int family, const unsigned char *addr)
{
	if (c->family != family)
		return false;
	for (int i = 0; i < c->prefix; i++) {
		unsigned char m = (unsigned char)(0x80u >> (i % 8));

		if ((c->addr[i / 8] & m) != (addr[i / 8] & m))
			return false;
	}
	return true;
}

bool kf_cidr_overlap(const struct kf_cidr *a, const struct kf_cidr *b)
{
	/* Two prefixes overlap exactly when the shorter one contains the
	 * other's network address. */
	if (a->family != b->family)
		return false;
	if (a->prefix <= b->prefix)
		return kf_cidr_contains(a, b->family, b->addr);
	return kf_cidr_contains(b, a->family, a->addr);
}

/* ---- names ----------------------------------------------------------- */

bool kf_dns1123_label(const char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);

	if (n == 0)
		return fail(why, whylen, "it is empty");
	if (n > 63)
		return fail(why, whylen, "it is longer than 63 characters");
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 'A' && ch <= 'Z')
			return fail(why, whylen, "it must be lower case");
		if (!is_lower_alnum(ch) && ch != '-')
			return fail(why, whylen, "only lower-case letters, digits and '-' are allowed");
	}
	if (s[0] == '-' || s[n - 1] == '-')
		return fail(why, whylen, "it must start and end with a letter or digit");
	return true;
}

bool kf_dns1123_subdomain(const char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);
	const char *p = s;

	if (n == 0)
		return fail(why, whylen, "it is empty");
	if (n > 253)
		return fail(why, whylen, "it is longer than 253 characters");
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		if (len == 0)
			return fail(why, whylen, "it has an empty part between dots");
		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)p[i];

			if (ch >= 'A' && ch <= 'Z')
				return fail(why, whylen, "it must be lower case");
			if (!is_lower_alnum(ch) && ch != '-')
				return fail(why, whylen, "only lower-case letters, digits, '-' and '.' are allowed");
		}
		if (p[0] == '-' || p[len - 1] == '-')
			return fail(why, whylen, "each part must start and end with a letter or digit");
		if (!dot)
			break;
		p = dot + 1;
	}
	return true;
}

bool kf_hostname_valid(const char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);
	const char *p = s;

	if (n == 0)
		return fail(why, whylen, "it is empty");
	if (n > 253)
		return fail(why, whylen, "a host name is at most 253 characters");
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		if (len == 0) {
			if (!dot && p != s)
				break; /* a trailing dot: fully qualified */
			return fail(why, whylen, "a host name has no empty parts between dots");
		}
		if (len > 63)
			return fail(why, whylen, "each part of a host name is at most 63 characters");
		for (size_t i = 0; i < len; i++)
			if (!is_alnum((unsigned char)p[i]) && p[i] != '-')
				return fail(why, whylen, "'%c' is not allowed in a host name", p[i]);
		if (p[0] == '-' || p[len - 1] == '-')
			return fail(why, whylen, "each part of a host name must start and end with a letter or digit");
		if (!dot)
			break;
		p = dot + 1;
	}
	return true;
}

/* The name part of a label key, and a label value: [A-Za-z0-9._-],
 * alphanumeric at both ends, at most 63. */
static bool qualified_name_part(const char *s, size_t n, const char *what,
				char *why, size_t whylen)
{
	if (n == 0)
		return fail(why, whylen, "the %s is empty", what);
	if (n > 63)
		return fail(why, whylen, "the %s is longer than 63 characters", what);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!is_alnum(ch) && ch != '-' && ch != '_' && ch != '.')
			return fail(why, whylen, "only letters, digits, '-', '_' and '.' are allowed in the %s", what);
	}
	if (!is_alnum((unsigned char)s[0]) || !is_alnum((unsigned char)s[n - 1]))
		return fail(why, whylen, "the %s must start and end with a letter or digit", what);
	return true;
}

bool kf_label_key_valid(const char *s, char *why, size_t whylen)
{
	const char *slash = strchr(s, '/');
	char tmp[128];

	if (!*s)
		return fail(why, whylen, "it is empty");
	if (!slash)
		return qualified_name_part(s, strlen(s), "name", why, whylen);
	if (strchr(slash + 1, '/'))
		return fail(why, whylen, "a key has at most one '/'");
	if (slash == s)
		return fail(why, whylen, "the prefix before '/' is empty");
	{
		char *prefix = kf_xstrndup(s, (size_t)(slash - s));
		bool ok = kf_dns1123_subdomain(prefix, tmp, sizeof(tmp));

		free(prefix);
		if (!ok)
			return fail(why, whylen, "the prefix must be a DNS subdomain: %s", tmp);
	}
	return qualified_name_part(slash + 1, strlen(slash + 1), "name", why, whylen);
}

bool kf_label_value_valid(const char *s, char *why, size_t whylen)
{
	if (!*s)
		return true;
	return qualified_name_part(s, strlen(s), "value", why, whylen);
}

bool kf_taint_effect_valid(const char *s)
{
	return !strcmp(s, "NoSchedule") || !strcmp(s, "PreferNoSchedule") ||
	       !strcmp(s, "NoExecute");
}

bool kf_taint_split(const char *s, char **key, char **value, char **effect,
		    char *why, size_t whylen)
{
	const char *colon = strrchr(s, ':');
	const char *eq;

	*key = *value = *effect = NULL;
	if (!colon)
		return fail(why, whylen, "a taint is written key[=value]:Effect, as in gpu=true:NoSchedule");
	eq = memchr(s, '=', (size_t)(colon - s));
	if (eq) {
		*key = kf_xstrndup(s, (size_t)(eq - s));
		*value = kf_xstrndup(eq + 1, (size_t)(colon - eq - 1));
	} else {
		*key = kf_xstrndup(s, (size_t)(colon - s));
	}
	*effect = kf_xstrdup(colon + 1);
	return true;
}

/* ---- versions, addresses, refs, durations ---------------------------- */

bool kf_k8s_version_valid(const char *s, char *why, size_t whylen)
{
	const char *p = s;
	int parts = 0;

	if (s[0] == 'v' && s[1] >= '0' && s[1] <= '9')
		return fail(why, whylen, "write it without the 'v' (did you mean '%s'?)", s + 1);
	while (*p) {
		size_t n = strspn(p, "0123456789");

		if (n == 0 || n > 5)
			break;
		if (n > 1 && p[0] == '0')
			return fail(why, whylen, "version numbers have no leading zeros");
		parts++;
		p += n;
		if (*p == '.' && parts < 3)
			p++;
		else
			break;
	}
	if (parts != 3 || *p)
		return fail(why, whylen, "expected MAJOR.MINOR.PATCH, as in 1.31.4");
	if (strncmp(s, "1.", 2) != 0)
		return fail(why, whylen, "only Kubernetes 1.x exists");
	return true;
}

bool kf_address_valid(const char *s, int *family, unsigned char addr[16],
		      char *why, size_t whylen)
{
	char tmp[160];
	const char *colon;

	*family = 0;
	if (!*s)
		return fail(why, whylen, "it is empty");
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		goto literal;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = AF_INET6;
		goto literal;
	}
	if (strstr(s, "://"))
		return fail(why, whylen, "an address is a host name or IP, not a URL");
	if (strchr(s, '@'))
		return fail(why, whylen, "put the user in ssh.user, not in the address");
	if (s[0] == '[')
		return fail(why, whylen, "write an IPv6 address without brackets");
	colon = strchr(s, ':');
	if (colon && !strchr(colon + 1, ':') && is_digits(colon + 1, strlen(colon + 1)))
		return fail(why, whylen, "put the port in ssh.port, not in the address");
	if (!kf_hostname_valid(s, tmp, sizeof(tmp)))
		return fail(why, whylen, "not an IP address, and not a valid host name: %s", tmp);
	{
		/* All digits and dots but no IPv4 literal: a typo, not a name. */
		size_t n = strspn(s, "0123456789.");

		if (n == strlen(s))
			return fail(why, whylen, "it is not a valid IPv4 address");
	}
	return true;
literal:
	{
		static const unsigned char zero[16];

		if (!memcmp(addr, zero, *family == AF_INET ? 4 : 16))
			return fail(why, whylen, "the unspecified address cannot be a host");
	}
	return true;
}

bool kf_endpoint_valid(const char *s, char *why, size_t whylen)
{
	unsigned char addr[16];
	char *host = NULL;
	const char *port = NULL;
	int family;
	bool ok = true;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return fail(why, whylen, "missing ']'");
		host = kf_xstrndup(s + 1, (size_t)(close - s - 1));
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			ok = fail(why, whylen, "expected ':' and a port after ']'");
		if (ok && inet_pton(AF_INET6, host, addr) != 1)
			ok = fail(why, whylen, "'%s' is not an IPv6 address", host);
	} else {
		const char *colon = strchr(s, ':');

		if (colon && strchr(colon + 1, ':')) {
			/* a bare IPv6 address, without a port */
			host = kf_xstrdup(s);
		} else if (colon) {
			host = kf_xstrndup(s, (size_t)(colon - s));
			port = colon + 1;
		} else {
			host = kf_xstrdup(s);
		}
		if (ok && !kf_address_valid(host, &family, addr, why, whylen))
			ok = false;
	}
	if (ok && port) {
		long p = is_digits(port, strlen(port)) && strlen(port) <= 5 ? strtol(port, NULL, 10) : -1;

		if (p < 1 || p > 65535)
			ok = fail(why, whylen, "port '%s' is not a number from 1 to 65535", port);
	}
	free(host);
	return ok;
}

bool kf_git_branch_valid(const char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);

	if (n == 0)
		return fail(why, whylen, "it is empty");
	if (s[0] == '-')
		return fail(why, whylen, "a branch name cannot start with '-'");
	if (s[0] == '/' || s[n - 1] == '/' || strstr(s, "//"))
		return fail(why, whylen, "a branch name cannot start or end with '/' or hold '//'");
	if (s[n - 1] == '.' || strstr(s, "..") || strstr(s, "/.") || s[0] == '.')
		return fail(why, whylen, "a branch name cannot hold '..' or a part starting with '.', or end with '.'");
	if (kf_str_endswith(s, ".lock") || strstr(s, ".lock/"))
		return fail(why, whylen, "a branch name part cannot end with '.lock'");
	if (strstr(s, "@{") || !strcmp(s, "@"))
		return fail(why, whylen, "a branch name cannot be '@' or hold '@{'");
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f || ch == ' ' || strchr("~^:?*[\\", ch))
			return fail(why, whylen, "a branch name cannot hold spaces, control characters or any of ~^:?*[\\");
	}
	if (!strcmp(s, "HEAD"))
		return fail(why, whylen, "'HEAD' is not a branch name");
	return true;
}

bool kf_git_url_valid(const char *s, char *why, size_t whylen)
{
	static const char *const schemes[] = { "https://", "http://", "ssh://",
					       "git://", "file://" };
	const char *at, *colon;

	if (!*s)
		return fail(why, whylen, "it is empty");
	for (size_t i = 0; i < KF_ARRAY_SIZE(schemes); i++) {
		if (kf_str_startswith(s, schemes[i])) {
			const char *rest = s + strlen(schemes[i]);

			if (!*rest || (i < 4 && *rest == '/'))
				return fail(why, whylen, "the URL has no host");
			for (const char *p = s; *p; p++)
				if ((unsigned char)*p <= ' ')
					return fail(why, whylen, "a URL cannot hold spaces or control characters");
			return true;
		}
	}
	if (strstr(s, "://"))
		return fail(why, whylen, "use an https://, http://, ssh://, git:// or file:// URL");
	/* scp-like: [user@]host:path, the way git reads it */
	at = strchr(s, '@');
	colon = strchr(s, ':');
	if (colon && colon > s && colon[1] && (!at || at < colon) &&
	    !strchr(s, ' ') && (!strchr(s, '/') || strchr(s, '/') > colon))
		return true;
	return fail(why, whylen, "use a URL (https://host/repo.git) or user@host:path");
}

const char *kf_config_duration_fmt(double seconds, char *buf, size_t len)
{
	double whole = (double)(long long)seconds;

	if (seconds < 0)
		seconds = 0;
	if (seconds > 0 && seconds < 1 && (double)(long long)(seconds * 1000) == seconds * 1000) {
		snprintf(buf, len, "%lldms", (long long)(seconds * 1000));
	} else if (whole == seconds && seconds < 1e12) {
		long long s = (long long)seconds;
		long long h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
		int off = 0;

		buf[0] = '\0';
		if (h && off >= 0 && (size_t)off < len)
			off += snprintf(buf + off, len - (size_t)off, "%lldh", h);
		if (m && off >= 0 && (size_t)off < len)
			off += snprintf(buf + off, len - (size_t)off, "%lldm", m);
		if ((sec || (!h && !m)) && off >= 0 && (size_t)off < len)
			snprintf(buf + off, len - (size_t)off, "%llds", sec);
	} else {
		snprintf(buf, len, "%gs", seconds);
	}
	return buf;
}
