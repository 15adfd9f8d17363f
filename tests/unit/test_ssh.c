/*
 * test_ssh.c - unit tests for the pure parts of the SSH layer: known_hosts
 * parsing and matching (plain, hashed, [host]:port, wildcards, negation,
 * @revoked, @cert-authority, comments and broken lines), accept-new
 * appending exactly once, fingerprints as OpenSSH prints them, base64, key
 * file sniffing, and shell quoting of command lines. The fixtures were made
 * with ssh-keygen (-t ed25519 / ecdsa, -H for hashed names, -l for the
 * fingerprints).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssh/internal.h"

#define KEY_A "AAAAC3NzaC1lZDI1NTE5AAAAIFaQU7G512RLGmr8MmXNjiUdyZttFSEwzUA7QR4/qtIf"
#define FP_A "SHA256:7dZaiaL+lB16glbGJgHC6sUcvM9HsLXShqFMIDRdGjY"
#define KEY_B "AAAAC3NzaC1lZDI1NTE5AAAAIE00k4mwtgI8n7SWVVY5ecIsiQaBvDndbmgqYKcslaCq"
#define KEY_C "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLn4tU9NFXk5Rr7yJ4gZGij5Ct1EbqSj6K13oVHG1FpwUR/rhLfzFgV6QT6IuuRB8uQPBuRAvXzjvQ1rpdXN4IU="
#define FP_C "SHA256:T8SJwxdTRDrASB3UAdRA4nrpb9P4OKQeMD3khGM+Xq0"
/* ssh-keygen -H of "10.0.0.5 KEY_A" and "[10.0.0.5]:2222 KEY_B" */
#define HASHED_A "|1|Q54e5gRX4bem+T3pRRm6sZbCQZI=|+JVweCF65ffOvbr3C8ghJyat2yA="
#define HASHED_B_2222 "|1|LLvl0h6db1Wxl0PQP0RFzLP4RD8=|T6sK7yIqz4tS/ydOHKfSnZnhfEc="

static struct kf_buf blob(const char *b64)
{
	struct kf_buf b = KF_BUF_INIT;

	assert_int_equal(kf_b64_decode(&b, b64, strlen(b64)), 0);
	return b;
}

/* Check `text` for host/key; returns the status, fills r (caller releases). */
static enum kf_kh_status check(struct kf_kh_result *r, const char *text,
			       const char *address, int port, const char *key)
{
	char *host = kf_kh_hostname(address, port);
	struct kf_buf k = KF_BUF_INIT;

	if (key)
		k = blob(key);
	kf_kh_result_init(r);
	kf_kh_check_text(r, text, "known_hosts", host,
			 key ? (unsigned char *)k.buf : NULL, k.len);
	kf_buf_release(&k);
	free(host);
	return r->status;
}

static void test_ssh_hostname__brackets_only_for_other_ports(void **state)
{
	char *a = kf_kh_hostname("Node1.Example", 22);
	char *b = kf_kh_hostname("10.0.0.5", 2222);
	char *c = kf_kh_hostname("10.0.0.5", 0);

	(void)state;
	assert_string_equal(a, "node1.example");
	assert_string_equal(b, "[10.0.0.5]:2222");
	assert_string_equal(c, "10.0.0.5");
	free(a);
	free(b);
	free(c);
}

static void test_ssh_known_hosts__plain_entry_matches(void **state)
{
	struct kf_kh_result r;

	(void)state;
	assert_int_equal(check(&r, "10.0.0.5 ssh-ed25519 " KEY_A " comment\n",
			       "10.0.0.5", 22, KEY_A), KF_KH_OK);
	assert_int_equal(r.line, 1);
	kf_kh_result_release(&r);
	/* a list of names, the host second */
	assert_int_equal(check(&r, "cp1,10.0.0.5 ssh-ed25519 " KEY_A "\n",
			       "10.0.0.5", 22, KEY_A), KF_KH_OK);
	kf_kh_result_release(&r);
	/* another host's entry does not count */
	assert_int_equal(check(&r, "10.0.0.6 ssh-ed25519 " KEY_A "\n",
			       "10.0.0.5", 22, KEY_A), KF_KH_UNKNOWN);
	kf_kh_result_release(&r);
}

static void test_ssh_known_hosts__port_needs_bracket_form(void **state)
{
	struct kf_kh_result r;

	(void)state;
	assert_int_equal(check(&r, "10.0.0.5 ssh-ed25519 " KEY_A "\n",
			       "10.0.0.5", 2222, KEY_A), KF_KH_UNKNOWN);
	kf_kh_result_release(&r);
	assert_int_equal(check(&r, "[10.0.0.5]:2222 ssh-ed25519 " KEY_A "\n",
			       "10.0.0.5", 2222, KEY_A), KF_KH_OK);
	kf_kh_result_release(&r);
	/* "[host]:22" is not how OpenSSH writes port 22 */
	assert_int_equal(check(&r, "[10.0.0.5]:2222 ssh-ed25519 " KEY_A "\n",
			       "10.0.0.5", 22, KEY_A), KF_KH_UNKNOWN);
	kf_kh_result_release(&r);
}

static void test_ssh_known_hosts__hashed_entries_match(void **state)
{
	struct kf_kh_result r;

	(void)state;
	assert_int_equal(check(&r, HASHED_A " ssh-ed25519 " KEY_A "\n",
			       "10.0.0.5", 22, KEY_A), KF_KH_OK);
	kf_kh_result_release(&r);
	assert_int_equal(check(&r, HASHED_B_2222 " ssh-ed25519 " KEY_B "\n",
			       "10.0.0.5", 2222, KEY_B), KF_KH_OK);
	kf_kh_result_release(&r);
	/* the hash is of "10.0.0.5", not of another name or port */
	assert_int_equal(check(&r, HASHED_A " ssh-ed25519 " KEY_A "\n",
			       "10.0.0.6", 22, KEY_A), KF_KH_UNKNOWN);
	kf_kh_result_release(&r);
	assert_int_equal(check(&r, HASHED_A " ssh-ed25519 " KEY_A "\n",
			       "10.0.0.5", 2222, KEY_A), KF_KH_UNKNOWN);
	kf_kh_result_release(&r);
	/* a malformed hash is just no match */
	assert_false(kf_kh_hosts_match("|1|!!!|x", "10.0.0.5"));
	assert_false(kf_kh_hosts_match("|1|abc", "10.0.0.5"));
}

static void test_ssh_known_hosts__wildcards_and_negation(void **state)
{
	struct kf_kh_result r;

	(void)state;
	assert_true(kf_kh_pattern_match("10.0.0.*", "10.0.0.5"));
	assert_true(kf_kh_pattern_match("node?", "NODE7"));
	assert_false(kf_kh_pattern_match("node?", "node10"));
	assert_true(kf_kh_hosts_match("*.lab,10.0.0.*", "10.0.0.9"));
	assert_false(kf_kh_hosts_match("10.0.0.*,!10.0.0.9", "10.0.0.9"));
	assert_true(kf_kh_hosts_match("10.0.0.*,!10.0.0.9", "10.0.0.8"));
	assert_int_equal(check(&r, "[10.0.0.*]:2222 ssh-ed25519 " KEY_A "\n",
			       "10.0.0.5", 2222, KEY_A), KF_KH_OK);
	kf_kh_result_release(&r);
}

static void test_ssh_known_hosts__changed_key_is_reported(void **state)
{
	struct kf_kh_result r;

	(void)state;
	assert_int_equal(check(&r, "# old\n10.0.0.5 ssh-ed25519 " KEY_A "\n",
			       "10.0.0.5", 22, KEY_B), KF_KH_CHANGED);
	assert_int_equal(r.line, 2);
	assert_string_equal(r.file, "known_hosts");
	assert_string_equal(r.old_fp, FP_A);
	kf_kh_result_release(&r);
	/* a second line listing the new key too: the key is known */
	assert_int_equal(check(&r, "10.0.0.5 ssh-ed25519 " KEY_A "\n"
				   "10.0.0.5 ssh-ed25519 " KEY_B "\n",
			       "10.0.0.5", 22, KEY_B), KF_KH_OK);
	kf_kh_result_release(&r);
}

static void test_ssh_known_hosts__other_type_only(void **state)
{
	struct kf_kh_result r;

	(void)state;
	assert_int_equal(check(&r, "10.0.0.5 ecdsa-sha2-nistp256 " KEY_C "\n",
			       "10.0.0.5", 22, KEY_A), KF_KH_OTHER_TYPE);
	assert_string_equal(r.types.buf, "ecdsa-sha2-nistp256");
	kf_kh_result_release(&r);
}

static void test_ssh_known_hosts__revoked_wins(void **state)
{
	struct kf_kh_result r;

	(void)state;
	assert_int_equal(check(&r, "10.0.0.5 ssh-ed25519 " KEY_A "\n"
				   "@revoked * ssh-ed25519 " KEY_A "\n",
			       "10.0.0.5", 22, KEY_A), KF_KH_REVOKED);
	assert_int_equal(r.line, 2);
	kf_kh_result_release(&r);
	/* revoking another key changes nothing */
	assert_int_equal(check(&r, "10.0.0.5 ssh-ed25519 " KEY_A "\n"
				   "@revoked * ssh-ed25519 " KEY_B "\n",
			       "10.0.0.5", 22, KEY_A), KF_KH_OK);
	kf_kh_result_release(&r);
}

static void test_ssh_known_hosts__cert_authority_skipped(void **state)
{
	struct kf_kh_result r;

	(void)state;
	assert_int_equal(check(&r, "@cert-authority *.lab,10.0.0.* ssh-ed25519 " KEY_A "\n",
			       "10.0.0.5", 22, KEY_A), KF_KH_UNKNOWN);
	assert_int_equal(r.ca_skipped, 1);
	kf_kh_result_release(&r);
	/* not counted for hosts it does not cover */
	assert_int_equal(check(&r, "@cert-authority *.lab ssh-ed25519 " KEY_A "\n",
			       "10.0.0.5", 22, KEY_A), KF_KH_UNKNOWN);
	assert_int_equal(r.ca_skipped, 0);
	kf_kh_result_release(&r);
}

static void test_ssh_known_hosts__comments_and_bad_lines_ignored(void **state)
{
	struct kf_kh_result r;
	const char *text =
		"# a comment\n"
		"\n"
		"   \t\n"
		"10.0.0.5 ssh-ed25519\n"                       /* no key */
		"10.0.0.5 ssh-ed25519 not*base64\n"            /* bad base64 */
		"10.0.0.5 ssh-rsa " KEY_A "\n"                 /* type mismatch */
		"@unknown-marker 10.0.0.5 ssh-ed25519 " KEY_B "\n"
		"10.0.0.5 sk-ssh-ed25519@openssh.com AAAA\n"   /* unknown type */
		"10.0.0.5 ssh-ed25519 " KEY_A "\r\n";          /* CRLF */

	(void)state;
	assert_int_equal(check(&r, text, "10.0.0.5", 22, KEY_A), KF_KH_OK);
	assert_int_equal(r.line, 9);
	assert_int_equal(r.bad_lines, 5);
	kf_kh_result_release(&r);
}

static void test_ssh_known_hosts__types_collected_without_key(void **state)
{
	struct kf_kh_result r;

	(void)state;
	assert_int_equal(check(&r, "10.0.0.5 ecdsa-sha2-nistp256 " KEY_C "\n"
				   "10.0.0.5 ssh-ed25519 " KEY_A "\n"
				   HASHED_A " ssh-ed25519 " KEY_A "\n"
				   "10.0.0.6 ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQ==\n",
			       "10.0.0.5", 22, NULL), KF_KH_UNKNOWN);
	assert_string_equal(r.types.buf, "ecdsa-sha2-nistp256,ssh-ed25519");
	kf_kh_result_release(&r);
}

static void test_ssh_known_hosts__results_accumulate_across_files(void **state)
{
	struct kf_kh_result r;
	struct kf_buf a = blob(KEY_A);

	(void)state;
	kf_kh_result_init(&r);
	/* user file says changed, the global file lists the key: OK wins */
	kf_kh_check_text(&r, "h ssh-ed25519 " KEY_B "\n", "user", "h",
			 (unsigned char *)a.buf, a.len);
	assert_int_equal(r.status, KF_KH_CHANGED);
	kf_kh_check_text(&r, "h ssh-ed25519 " KEY_A "\n", "global", "h",
			 (unsigned char *)a.buf, a.len);
	assert_int_equal(r.status, KF_KH_OK);
	assert_string_equal(r.file, "global");
	kf_kh_result_release(&r);
	kf_buf_release(&a);
}

static void test_ssh_known_hosts__append_adds_once(void **state)
{
	char dir[] = "/tmp/kf-test-ssh-XXXXXX";
	char *path, *text = NULL;
	struct kf_buf a = blob(KEY_A), b = blob(KEY_B);
	enum kf_kh_status st;
	bool added;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = kf_xasprintf("%s/sub/known_hosts", dir);
	assert_int_equal(kf_kh_append(path, "[10.0.0.5]:2222", (unsigned char *)a.buf,
				      a.len, &added, &st, NULL), 0);
	assert_true(added);
	assert_int_equal(st, KF_KH_UNKNOWN);
	assert_int_equal(kf_kh_append(path, "[10.0.0.5]:2222", (unsigned char *)a.buf,
				      a.len, &added, &st, NULL), 0);
	assert_false(added);
	assert_int_equal(st, KF_KH_OK);
	/* a different key for the same host is never appended */
	assert_int_equal(kf_kh_append(path, "[10.0.0.5]:2222", (unsigned char *)b.buf,
				      b.len, &added, &st, NULL), 0);
	assert_false(added);
	assert_int_equal(st, KF_KH_CHANGED);
	assert_int_equal(kf_file_read(path, &text, &len, NULL), 0);
	assert_string_equal(text, "[10.0.0.5]:2222 ssh-ed25519 " KEY_A "\n");
	free(text);
	unlink(path);
	free(path);
	path = kf_xasprintf("%s/sub", dir);
	rmdir(path);
	free(path);
	rmdir(dir);
	kf_buf_release(&a);
	kf_buf_release(&b);
}

static void test_ssh_known_hosts__append_after_line_without_newline(void **state)
{
	char dir[] = "/tmp/kf-test-ssh-XXXXXX";
	char *path, *text = NULL;
	struct kf_buf a = blob(KEY_A);
	enum kf_kh_status st;
	bool added;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = kf_xasprintf("%s/known_hosts", dir);
	assert_int_equal(kf_file_write_atomic(path, "other ssh-ed25519 " KEY_B, strlen("other ssh-ed25519 " KEY_B), 0644, NULL), 0);
	assert_int_equal(kf_kh_append(path, "10.0.0.5", (unsigned char *)a.buf,
				      a.len, &added, &st, NULL), 0);
	assert_true(added);
	assert_int_equal(kf_file_read(path, &text, &len, NULL), 0);
	assert_string_equal(text, "other ssh-ed25519 " KEY_B "\n10.0.0.5 ssh-ed25519 " KEY_A "\n");
	free(text);
	unlink(path);
	free(path);
	rmdir(dir);
	kf_buf_release(&a);
}

static void test_ssh_fingerprint__matches_openssh(void **state)
{
	struct kf_buf a = blob(KEY_A), c = blob(KEY_C);
	char *fa = kf_ssh_fingerprint((unsigned char *)a.buf, a.len);
	char *fc = kf_ssh_fingerprint((unsigned char *)c.buf, c.len);
	char *ta = kf_ssh_blob_type((unsigned char *)a.buf, a.len);
	char *tc = kf_ssh_blob_type((unsigned char *)c.buf, c.len);

	(void)state;
	assert_string_equal(fa, FP_A);
	assert_string_equal(fc, FP_C);
	assert_string_equal(ta, "ssh-ed25519");
	assert_string_equal(tc, "ecdsa-sha2-nistp256");
	assert_null(kf_ssh_blob_type((unsigned char *)"\0\0\1\0abc", 7));
	assert_null(kf_ssh_blob_type(NULL, 0));
	free(fa);
	free(fc);
	free(ta);
	free(tc);
	kf_buf_release(&a);
	kf_buf_release(&c);
}

static void test_ssh_b64__roundtrip_and_errors(void **state)
{
	static const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *padded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	size_t i;

	(void)state;
	for (i = 0; i < KF_ARRAY_SIZE(in); i++) {
		struct kf_buf e = KF_BUF_INIT, d = KF_BUF_INIT;

		kf_b64_encode(&e, (const unsigned char *)in[i], strlen(in[i]), true);
		assert_string_equal(e.buf, padded[i]);
		assert_int_equal(kf_b64_decode(&d, e.buf, e.len), 0);
		assert_string_equal(d.buf, in[i]);
		kf_buf_reset(&e);
		kf_b64_encode(&e, (const unsigned char *)in[i], strlen(in[i]), false);
		assert_null(strchr(e.buf, '='));
		kf_buf_release(&e);
		kf_buf_release(&d);
	}
	{
		struct kf_buf d = KF_BUF_INIT;
		assert_int_equal(kf_b64_decode(&d, "Zm9v!", 5), -1);
		assert_int_equal(kf_b64_decode(&d, "Zg==Zg", 6), -1);
		assert_int_equal(kf_b64_decode(&d, "Z", 1), -1);
		kf_buf_release(&d);
	}
}

/* Build an OpenSSH private key file around a public key blob. */
static char *openssh_key(const char *cipher, const struct kf_buf *pub)
{
	struct kf_buf raw = KF_BUF_INIT, out = KF_BUF_INIT, b64 = KF_BUF_INIT;
	const char *kdf = strcmp(cipher, "none") ? "bcrypt" : "none";
	size_t i;

#define PUT_STR(s, n)                                                          \
	do {                                                                   \
		unsigned char l[4] = { (unsigned char)((n) >> 24), (unsigned char)((n) >> 16), \
				       (unsigned char)((n) >> 8), (unsigned char)(n) }; \
		kf_buf_add(&raw, l, 4);                                        \
		kf_buf_add(&raw, (s), (n));                                    \
	} while (0)
	kf_buf_add(&raw, "openssh-key-v1", 15);
	PUT_STR(cipher, strlen(cipher));
	PUT_STR(kdf, strlen(kdf));
	PUT_STR("", 0);
	kf_buf_add(&raw, "\0\0\0\1", 4);
	PUT_STR(pub->buf, pub->len);
	PUT_STR("private part (not read)", 23);
#undef PUT_STR
	kf_b64_encode(&b64, (unsigned char *)raw.buf, raw.len, true);
	kf_buf_adds(&out, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
	for (i = 0; i < b64.len; i += 70) {
		kf_buf_add(&out, b64.buf + i, b64.len - i < 70 ? b64.len - i : 70);
		kf_buf_addch(&out, '\n');
	}
	kf_buf_adds(&out, "-----END OPENSSH PRIVATE KEY-----\n");
	kf_buf_release(&raw);
	kf_buf_release(&b64);
	return kf_buf_detach(&out, NULL);
}

static void test_ssh_keyinfo__openssh_format(void **state)
{
	struct kf_buf a = blob(KEY_A), c = blob(KEY_C);
	char *plain = openssh_key("none", &a), *enc = openssh_key("aes256-ctr", &c);
	struct kf_keyinfo k;

	(void)state;
	kf_keyinfo_init(&k);
	assert_int_equal(kf_keyinfo_parse(&k, plain, strlen(plain)), 0);
	assert_string_equal(k.type, "ssh-ed25519");
	assert_false(k.encrypted);
	assert_true(k.openssh_format);
	assert_int_equal(k.pub.len, a.len);
	assert_memory_equal(k.pub.buf, a.buf, a.len);
	kf_keyinfo_release(&k);

	kf_keyinfo_init(&k);
	assert_int_equal(kf_keyinfo_parse(&k, enc, strlen(enc)), 0);
	assert_string_equal(k.type, "ecdsa-sha2-nistp256");
	assert_true(k.encrypted);
	kf_keyinfo_release(&k);

	kf_keyinfo_init(&k);
	assert_int_equal(kf_keyinfo_parse(&k, "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", 80), -1);
	kf_keyinfo_release(&k);
	free(plain);
	free(enc);
	kf_buf_release(&a);
	kf_buf_release(&c);
}

static void test_ssh_keyinfo__pem_headers(void **state)
{
	struct kf_keyinfo k;

	(void)state;
	kf_keyinfo_init(&k);
	assert_int_equal(kf_keyinfo_parse(&k, "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n", 70), 0);
	assert_string_equal(k.type, "ssh-rsa");
	assert_false(k.encrypted);
	kf_keyinfo_release(&k);
	kf_keyinfo_init(&k);
	assert_int_equal(kf_keyinfo_parse(&k, "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nMIIE\n-----END RSA PRIVATE KEY-----\n", 90), 0);
	assert_true(k.encrypted);
	kf_keyinfo_release(&k);
	kf_keyinfo_init(&k);
	assert_int_equal(kf_keyinfo_parse(&k, "not a key at all", 16), -1);
	kf_keyinfo_release(&k);
}

static void test_ssh_quote__shell_words(void **state)
{
	const char *argv[] = { "kubeadm", "join", "10.0.0.5:6443", "--token", "it's $x", "", NULL };
	char *q1 = kf_ssh_quote("plain-word_1.2/x=y");
	char *q2 = kf_ssh_quote("it's");
	char *q3 = kf_ssh_quote("");
	char *q4 = kf_ssh_quote("a b;rm -rf /");
	char *cmd = kf_ssh_argv_cmd(argv);
	char *sudo = kf_ssh_sudo_cmd("echo 'hi' > /etc/x");

	(void)state;
	assert_string_equal(q1, "plain-word_1.2/x=y");
	assert_string_equal(q2, "'it'\\''s'");
	assert_string_equal(q3, "''");
	assert_string_equal(q4, "'a b;rm -rf /'");
	assert_string_equal(cmd, "kubeadm join 10.0.0.5:6443 --token 'it'\\''s $x' ''");
	assert_string_equal(sudo, "sudo -n sh -c 'echo '\\''hi'\\'' > /etc/x'");
	free(q1);
	free(q2);
	free(q3);
	free(q4);
	free(cmd);
	free(sudo);
}

static void test_ssh_connect__rejects_missing_address(void **state)
{
	struct kf_ssh_target t = { 0 };
	struct kf_ssh *s = (struct kf_ssh *)1;
	struct kf_err *err = NULL;

	(void)state;
	assert_int_equal(kf_ssh_connect(&s, &t, &err), KF_EINVAL);
	assert_null(s);
	assert_non_null(err);
	kf_err_free(err);
}

static void test_ssh_connect__missing_key_file_fails_before_network(void **state)
{
	/* 192.0.2.1 (TEST-NET-1) is never contacted: the key check comes first */
	struct kf_ssh_target t = { .name = "w1", .address = "192.0.2.1", .user = "kf",
				   .identity_file = "/nonexistent/id_ed25519",
				   .connect_timeout = 0.5 };
	struct kf_ssh *s = NULL;
	struct kf_err *err = NULL;
	char *msg;

	(void)state;
	unsetenv("SSH_AUTH_SOCK");
	assert_int_equal(kf_ssh_connect(&s, &t, &err), KF_EAUTH);
	msg = kf_err_str(err);
	assert_non_null(strstr(msg, "w1 (kf@192.0.2.1:22)"));
	assert_non_null(strstr(msg, "identity file '/nonexistent/id_ed25519' not found"));
	free(msg);
	kf_err_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ssh_hostname__brackets_only_for_other_ports),
		cmocka_unit_test(test_ssh_known_hosts__plain_entry_matches),
		cmocka_unit_test(test_ssh_known_hosts__port_needs_bracket_form),
		cmocka_unit_test(test_ssh_known_hosts__hashed_entries_match),
		cmocka_unit_test(test_ssh_known_hosts__wildcards_and_negation),
		cmocka_unit_test(test_ssh_known_hosts__changed_key_is_reported),
		cmocka_unit_test(test_ssh_known_hosts__other_type_only),
		cmocka_unit_test(test_ssh_known_hosts__revoked_wins),
		cmocka_unit_test(test_ssh_known_hosts__cert_authority_skipped),
		cmocka_unit_test(test_ssh_known_hosts__comments_and_bad_lines_ignored),
		cmocka_unit_test(test_ssh_known_hosts__types_collected_without_key),
		cmocka_unit_test(test_ssh_known_hosts__results_accumulate_across_files),
		cmocka_unit_test(test_ssh_known_hosts__append_adds_once),
		cmocka_unit_test(test_ssh_known_hosts__append_after_line_without_newline),
		cmocka_unit_test(test_ssh_fingerprint__matches_openssh),
		cmocka_unit_test(test_ssh_b64__roundtrip_and_errors),
		cmocka_unit_test(test_ssh_keyinfo__openssh_format),
		cmocka_unit_test(test_ssh_keyinfo__pem_headers),
		cmocka_unit_test(test_ssh_quote__shell_words),
		cmocka_unit_test(test_ssh_connect__rejects_missing_address),
		cmocka_unit_test(test_ssh_connect__missing_key_file_fails_before_network),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
