/*
 * rules.h - the syntax rules a Cluster profile's values must follow, each a
 * small pure function so that tests can exercise them directly: CIDRs
 * (IPv4 and IPv6), DNS-1123 names, Kubernetes label keys and values,
 * taints, Kubernetes versions, host addresses, git branch names and
 * durations.
 *
 * Checkers return true when the value is valid. When it is not, and `why`
 * is not NULL, they write a short lower-case reason into why (at most
 * `whylen` bytes, NUL-terminated) that completes a sentence such as
 * "invalid label key 'x': <why>".
 *
 * This header is internal to config/ and its tests.
 */
#ifndef KF_CONFIG_RULES_H
#define KF_CONFIG_RULES_H

#include <stdbool.h>
#include <stddef.h>

/* ---- CIDRs ----------------------------------------------------------- */

struct kf_cidr {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char addr[16];  /* network address, 4 or 16 bytes used */
	int prefix;              /* prefix length */
};

/* Parse "10.244.0.0/16" or "fd00::/64": the address must parse with
 * inet_pton, the prefix must be a decimal in range for the family, and no
 * host bits may be set (the reason then suggests the masked network). */
bool kf_cidr_parse(const char *s, struct kf_cidr *out, char *why, size_t whylen);
/* Parse a comma-separated list of at most two CIDRs of different families
 * (dual stack: "10.244.0.0/16,fd00:10:244::/56"). *n receives the count. */
bool kf_cidr_list_parse(const char *s, struct kf_cidr out[2], size_t *n,
			char *why, size_t whylen);
/* Number of address bits of the family: 32 or 128. */
int kf_cidr_bits(const struct kf_cidr *c);
/* True when the two networks share any address (same family only). */
bool kf_cidr_overlap(const struct kf_cidr *a, const struct kf_cidr *b);
/* True when the address (4 or 16 bytes of c->family) lies inside c. */
bool kf_cidr_contains(const struct kf_cidr *c, int family, const unsigned char *addr);
/* Format as "a.b.c.d/n" into buf (at least 64 bytes). */
const char *kf_cidr_fmt(const struct kf_cidr *c, char *buf, size_t len);

/* ---- names ----------------------------------------------------------- */

/* RFC 1123 label as Kubernetes uses it: 1-63 lower-case alphanumerics or
 * '-', starting and ending with an alphanumeric. */
bool kf_dns1123_label(const char *s, char *why, size_t whylen);
/* RFC 1123 subdomain: 1-253 bytes of dot-separated labels. */
bool kf_dns1123_subdomain(const char *s, char *why, size_t whylen);
/* A host name for SSH (RFC 1123, letters of either case, dots allowed). */
bool kf_hostname_valid(const char *s, char *why, size_t whylen);

/* Kubernetes label key: [prefix/]name; prefix a DNS-1123 subdomain of at
 * most 253 bytes, name 1-63 of [A-Za-z0-9._-] starting and ending with an
 * alphanumeric. */
bool kf_label_key_valid(const char *s, char *why, size_t whylen);
/* Kubernetes label value: empty, or like a label key's name part. */
bool kf_label_value_valid(const char *s, char *why, size_t whylen);

/* Taint effect: NoSchedule, PreferNoSchedule or NoExecute. */
bool kf_taint_effect_valid(const char *s);
/* Split "key[=value]:Effect" into freshly allocated parts (value may be
 * NULL). Only the shape is checked here: key, value and effect are checked
 * by the caller with the functions above. */
bool kf_taint_split(const char *s, char **key, char **value, char **effect,
		    char *why, size_t whylen);

/* ---- versions, addresses, refs, durations ---------------------------- */

/* "1.31.4": three decimal numbers without leading zeros, major 1. */
bool kf_k8s_version_valid(const char *s, char *why, size_t whylen);

/* A host address: an IPv4 or IPv6 literal, or a DNS name. Catches the
 * usual mistakes with a hint (user@host, host:port, [v6], URLs). When it is
 * an IP literal, *family is AF_INET or AF_INET6 and addr holds its bytes;
 * otherwise *family is 0. */
bool kf_address_valid(const char *s, int *family, unsigned char addr[16],
		      char *why, size_t whylen);

/* "host", "host:port" or "[v6]:port". */
bool kf_endpoint_valid(const char *s, char *why, size_t whylen);

/* A git branch name (the rules of git check-ref-format --branch). */
bool kf_git_branch_valid(const char *s, char *why, size_t whylen);

/* A git remote: a URL (https, http, ssh, git, file) or scp-like
 * "user@host:path". */
bool kf_git_url_valid(const char *s, char *why, size_t whylen);

/* Format seconds the way a profile writes them, so that the output parses
 * back to the same value: "10s", "1m", "1h30m", "250ms", "1.5s". */
const char *kf_config_duration_fmt(double seconds, char *buf, size_t len);

#endif
