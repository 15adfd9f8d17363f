/*
 * test_util.c - unit tests for src/util: error chains, diagnostics, string
 * buffers (including caps), redaction of secrets, atomic files, durations,
 * backoff and "did you mean".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

static void test_util_err__wrap_builds_one_line(void **state)
{
	struct kf_err *err = NULL;
	char *s;

	assert_int_equal(kf_err_set(&err, KF_EIO, "exit status %d", 1), KF_EIO);
	assert_int_equal(kf_err_wrap(&err, "kubeadm join"), KF_EIO);
	kf_err_wrap(&err, "phase '%s' on %s", "join workers", "w2");
	s = kf_err_str(err);
	assert_string_equal(s, "phase 'join workers' on w2: kubeadm join: exit status 1");
	assert_int_equal(kf_err_code(err), KF_EIO);
	free(s);
	kf_err_free(err);
}

static void test_util_err__set_replaces_previous(void **state)
{
	struct kf_err *err = NULL;
	char *s;

	kf_err_set(&err, KF_EIO, "first");
	kf_err_set(&err, KF_EINVAL, "second");
	s = kf_err_str(err);
	assert_string_equal(s, "second");
	assert_int_equal(kf_err_code(err), KF_EINVAL);
	free(s);
	kf_err_clear(&err);
	assert_null(err);
	/* A NULL err pointer is allowed and still returns the code. */
	assert_int_equal(kf_err_set(NULL, KF_ETIMEOUT, "x"), KF_ETIMEOUT);
}

static void test_util_diags__sorted_with_positions(void **state)
{
	struct kf_diags d = KF_DIAGS_INIT;
	char *s;

	kf_diags_add(&d, "p.yaml", 9, 3, "second");
	kf_diags_add(&d, "p.yaml", 2, 7, "first");
	kf_diags_add(&d, NULL, 0, 0, "no position");
	kf_diags_sort(&d);
	assert_int_equal(d.n, 3);
	s = kf_diag_str(&d.v[0]);
	assert_string_equal(s, "no position");
	free(s);
	s = kf_diag_str(&d.v[1]);
	assert_string_equal(s, "p.yaml:2:7: first");
	free(s);
	s = kf_diag_str(&d.v[2]);
	assert_string_equal(s, "p.yaml:9:3: second");
	free(s);
	kf_diags_release(&d);
}

static void test_util_buf__grows_and_detaches(void **state)
{
	struct kf_buf b = KF_BUF_INIT;
	char *p;
	size_t len;

	assert_string_equal(b.buf, "");
	for (int i = 0; i < 1000; i++)
		assert_int_equal(kf_buf_addf(&b, "%d,", i % 10), 0);
	assert_int_equal(b.len, 2000);
	assert_int_equal(b.buf[b.len], '\0');
	p = kf_buf_detach(&b, &len);
	assert_int_equal(len, 2000);
	assert_string_equal(b.buf, "");
	assert_int_equal(b.len, 0);
	free(p);
	kf_buf_release(&b);
}

static void test_util_buf__cap_refuses_and_keeps_content(void **state)
{
	struct kf_buf b = KF_BUF_INIT;

	b.cap = 8;
	assert_int_equal(kf_buf_adds(&b, "12345"), 0);
	assert_int_equal(kf_buf_adds(&b, "6789"), KF_ETOOBIG);
	assert_string_equal(b.buf, "12345");
	assert_int_equal(kf_buf_adds(&b, "678"), 0);
	assert_int_equal(kf_buf_addch(&b, 'x'), KF_ETOOBIG);
	assert_int_equal(kf_buf_addf(&b, "%s", "y"), KF_ETOOBIG);
	assert_string_equal(b.buf, "12345678");
	kf_buf_release(&b);
}

static void test_util_buf__shell_quoting(void **state)
{
	struct kf_buf b = KF_BUF_INIT;

	kf_buf_add_shquote(&b, "plain-word_1.2/x");
	kf_buf_addch(&b, ' ');
	kf_buf_add_shquote(&b, "it's a test");
	kf_buf_addch(&b, ' ');
	kf_buf_add_shquote(&b, "");
	assert_string_equal(b.buf, "plain-word_1.2/x 'it'\\''s a test' ''");
	kf_buf_release(&b);
}

struct redact_case {
	const char *in;
	const char *out;
};

static void test_util_redact__known_shapes(void **state)
{
	static const struct redact_case cases[] = {
		{ "kubeadm join 10.0.0.10:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:1234",
		  "kubeadm join 10.0.0.10:6443 --token [REDACTED] --discovery-token-ca-cert-hash sha256:1234" },
		{ "token abcdef.0123456789abcdef expires", "token [REDACTED] expires" },
		{ "Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer [REDACTED]" },
		{ "token: s3cr3tvalue", "token: [REDACTED]" },
		{ "{\"password\": \"hunter22\"}", "{\"password\": \"[REDACTED]\"}" },
		{ "client-key-data: LS0tLS1CRUdJTi", "client-key-data: [REDACTED]" },
		{ "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\nafter",
		  "[REDACTED]\nafter" },
		{ "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
		  "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----" },
		{ "user kfuser has no passwordless sudo", "user kfuser has no passwordless sudo" },
		{ "kubeadm token create --print-join-command", "kubeadm token create --print-join-command" },
		{ "applying Secret kubeflow/mysql-secret", "applying Secret kubeflow/mysql-secret" },
	};

	for (size_t i = 0; i < KF_ARRAY_SIZE(cases); i++) {
		char *r = kf_redact(cases[i].in);

		assert_string_equal(r, cases[i].out);
		free(r);
	}
}

static void test_util_redact__registered_secret_everywhere(void **state)
{
	char *r;

	kf_redact_register("Zq9-very-secret");
	kf_redact_register("abc"); /* too short: ignored */
	r = kf_redact("a Zq9-very-secret b Zq9-very-secret abc");
	assert_string_equal(r, "a [REDACTED] b [REDACTED] abc");
	free(r);
	kf_redact_clear();
	r = kf_redact("Zq9-very-secret");
	assert_string_equal(r, "Zq9-very-secret");
	free(r);
}

static void test_util_file__atomic_write_sets_mode(void **state)
{
	char dir[] = "/tmp/kfboot-test-XXXXXX";
	char *path, *data = NULL, *nested;
	struct kf_err *err = NULL;
	struct stat st;
	size_t len = 0;

	assert_non_null(mkdtemp(dir));
	path = kf_path_join(dir, "kubeconfig");
	assert_int_equal(kf_file_write_atomic(path, "old", 3, 0644, &err), 0);
	assert_int_equal(kf_file_write_atomic(path, "secret\n", 7, 0600, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(kf_file_read(path, &data, &len, &err), 0);
	assert_int_equal(len, 7);
	assert_string_equal(data, "secret\n");
	free(data);
	unlink(path);

	assert_int_not_equal(kf_file_read(path, &data, &len, &err), 0);
	assert_int_equal(kf_err_code(err), KF_ENOENT);
	assert_non_null(strstr(err->msg, "kubeconfig"));
	kf_err_clear(&err);

	nested = kf_path_join(dir, "a/b/c");
	assert_int_equal(kf_mkdir_p(nested, 0700, &err), 0);
	assert_int_equal(kf_mkdir_p(nested, 0700, &err), 0);
	assert_int_equal(stat(nested, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	rmdir(nested);
	free(nested);
	nested = kf_path_join(dir, "a/b");
	rmdir(nested);
	free(nested);
	nested = kf_path_join(dir, "a");
	rmdir(nested);
	free(nested);
	rmdir(dir);
	free(path);
}

static void test_util_path__expand_home(void **state)
{
	char *p;

	setenv("HOME", "/home/u", 1);
	p = kf_path_expand("~/.ssh/id_ed25519");
	assert_string_equal(p, "/home/u/.ssh/id_ed25519");
	free(p);
	p = kf_path_expand("/etc/x");
	assert_string_equal(p, "/etc/x");
	free(p);
	p = kf_path_expand("~user/x");
	assert_string_equal(p, "~user/x");
	free(p);
	p = kf_path_join("/a/", "b");
	assert_string_equal(p, "/a/b");
	free(p);
}

static void test_util_duration__parse_go_style(void **state)
{
	static const struct { const char *in; double want; } ok[] = {
		{ "90s", 90 }, { "1m", 60 }, { "1h30m", 5400 }, { "250ms", 0.25 },
		{ "2", 2 }, { "1m30s", 90 }, { "0.5s", 0.5 },
	};
	static const char *const bad[] = { "", "x", "-1s", "5d", "1m2", "s" };
	double v;

	for (size_t i = 0; i < KF_ARRAY_SIZE(ok); i++) {
		assert_int_equal(kf_duration_parse(ok[i].in, &v), 0);
		assert_true(v > ok[i].want - 1e-9 && v < ok[i].want + 1e-9);
	}
	for (size_t i = 0; i < KF_ARRAY_SIZE(bad); i++)
		assert_int_equal(kf_duration_parse(bad[i], &v), KF_EINVAL);
}

static void test_util_duration__format(void **state)
{
	char buf[32];

	assert_string_equal(kf_duration_fmt(0.85, buf), "850ms");
	assert_string_equal(kf_duration_fmt(12.34, buf), "12.3s");
	assert_string_equal(kf_duration_fmt(245, buf), "4m05s");
	assert_string_equal(kf_duration_fmt(3700, buf), "1h01m");
}

static void test_util_backoff__bounded_and_growing(void **state)
{
	struct kf_backoff b = KF_BACKOFF_INIT(0.1, 2.0);
	double maxseen = 0;

	for (int i = 0; i < 50; i++) {
		double d = kf_backoff_next(&b);

		assert_true(d >= 0.01 - 1e-12);
		assert_true(d <= 2.0 + 1e-12);
		if (d > maxseen)
			maxseen = d;
	}
	/* With 50 draws capped at 2s, full jitter must exceed the base. */
	assert_true(maxseen > 0.1);
}

static void test_util_closest__suggests_typos_only(void **state)
{
	static const char *const words[] = { "validate", "version", "plan", "apply" };

	assert_string_equal(kf_closest("valdiate", words, 4), "validate");
	assert_string_equal(kf_closest("aply", words, 4), "apply");
	assert_string_equal(kf_closest("val", words, 4), "validate");
	assert_null(kf_closest("kubernetes", words, 4));
	assert_int_equal(kf_edit_distance("kitten", "sitting"), 3);
}

static void test_util_sha256__known_vector(void **state)
{
	char hex[65];

	kf_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_util_trace__subsystem_list(void **state)
{
	setenv("KFBOOT_TRACE", "kube, ssh", 1);
	assert_true(kf_trace_enabled("kube"));
	assert_true(kf_trace_enabled("ssh"));
	assert_false(kf_trace_enabled("git"));
	assert_false(kf_trace_enabled("ku"));
	setenv("KFBOOT_TRACE", "all", 1);
	assert_true(kf_trace_enabled("git"));
	unsetenv("KFBOOT_TRACE");
	assert_false(kf_trace_enabled("kube"));
}

static void test_util_log__file_lines_are_redacted(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	FILE *console = fopen("/dev/null", "w");

	kf_log_set_stream(console);
	kf_log_set_file(f);
	kf_log_set_level(KF_LOG_INFO);
	kf_info("joining with --token %s", "abcdef.0123456789abcdef");
	kf_debug("not shown at info level %d", 1);
	kf_log_set_file(NULL);
	kf_log_set_stream(NULL);
	fclose(f);
	fclose(console);
	assert_non_null(strstr(buf, "--token [REDACTED]"));
	assert_null(strstr(buf, "0123456789abcdef"));
	assert_null(strstr(buf, "not shown"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util_err__wrap_builds_one_line),
		cmocka_unit_test(test_util_err__set_replaces_previous),
		cmocka_unit_test(test_util_diags__sorted_with_positions),
		cmocka_unit_test(test_util_buf__grows_and_detaches),
		cmocka_unit_test(test_util_buf__cap_refuses_and_keeps_content),
		cmocka_unit_test(test_util_buf__shell_quoting),
		cmocka_unit_test(test_util_redact__known_shapes),
		cmocka_unit_test(test_util_redact__registered_secret_everywhere),
		cmocka_unit_test(test_util_file__atomic_write_sets_mode),
		cmocka_unit_test(test_util_path__expand_home),
		cmocka_unit_test(test_util_duration__parse_go_style),
		cmocka_unit_test(test_util_duration__format),
		cmocka_unit_test(test_util_backoff__bounded_and_growing),
		cmocka_unit_test(test_util_closest__suggests_typos_only),
		cmocka_unit_test(test_util_sha256__known_vector),
		cmocka_unit_test(test_util_trace__subsystem_list),
		cmocka_unit_test(test_util_log__file_lines_are_redacted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
