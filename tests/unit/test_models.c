/*
 * test_models.c - unit tests for src/models: model files (kind: Model) and
 * their validation messages with file:line:col, environment pins (plain and
 * canary), the byte-preserving pin edit (the whole text is compared, so a
 * changed comment, order or quote fails), appending a version (indentation,
 * metrics, source) and the next version number, and the promotion gates
 * with their report, trailer summary and failure line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/models.h"
#include "models/push.h"
#include "models/promote.h"
#include "kube/kube.h"
#include <git2/sys/repository.h>

static const char model_text[] =
	"# xor model versions\n"
	"apiVersion: kfboot.io/v1\n"
	"kind: Model\n"
	"metadata:\n"
	"  name: xor\n"
	"versions:\n"
	"  - version: v1\n"
	"    uri: s3://models/xor/v1\n"
	"    format: kfboot.io/mlp-v1\n"
	"    metrics:\n"
	"      test_accuracy: 0.75\n"
	"    source: {commit: abc123, pipeline: xor-train, run: run-1}\n"
	"    created: \"2026-12-01T10:00:00Z\"\n"
	"  # the good one\n"
	"  - version: v2\n"
	"    uri: s3://models/xor/v2\n"
	"    format: kfboot.io/mlp-v1\n"
	"    metrics: {test_accuracy: 0.991, loss: 0.02}\n"
	"\n"
	"# trailing comment\n";

/* Diagnostics as "file:line:col: msg" lines. */
static char *diags_text(struct kf_diags *d)
{
	struct kf_buf b = KF_BUF_INIT;

	for (size_t i = 0; i < d->n; i++) {
		char *s = kf_diag_str(&d->v[i]);

		kf_buf_addf(&b, "%s\n", s);
		free(s);
	}
	return kf_buf_detach(&b, NULL);
}

static char *model_errors(const char *text)
{
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_model_file *m = NULL;
	struct kf_err *err = NULL;
	int rc = kf_model_file_parse(&m, "models/xor.yaml", text, strlen(text), &d, &err);
	char *s = diags_text(&d);

	assert_int_equal(rc, d.n ? KF_EINVAL : 0);
	assert_true(rc ? m == NULL : m != NULL);
	kf_model_file_free(m);
	kf_diags_release(&d);
	kf_err_free(err);
	return s;
}

static void test_model_file_parse(void **state)
{
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_model_file *m = NULL;
	const struct kf_model_version *v;
	char *next;

	(void)state;
	assert_int_equal(kf_model_file_parse(&m, "models/xor.yaml", model_text, strlen(model_text), &d, NULL), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(m->name, "xor");
	assert_int_equal(m->nversions, 2);
	v = kf_model_file_find(m, "v1");
	assert_non_null(v);
	assert_string_equal(v->uri, "s3://models/xor/v1");
	assert_string_equal(v->format, "kfboot.io/mlp-v1");
	assert_string_equal(v->source_commit, "abc123");
	assert_string_equal(v->source_pipeline, "xor-train");
	assert_string_equal(v->source_run, "run-1");
	assert_string_equal(v->created, "2026-12-01T10:00:00Z");
	assert_int_equal(v->line, 7);
	assert_true(json_number_value(json_object_get(v->metrics, "test_accuracy")) == 0.75);
	v = kf_model_file_find(m, "v2");
	assert_non_null(v);
	assert_null(v->source_run);
	assert_true(json_number_value(json_object_get(v->metrics, "test_accuracy")) == 0.991);
	assert_null(kf_model_file_find(m, "v3"));
	assert_ptr_equal(kf_model_file_find_run(m, "run-1"), kf_model_file_find(m, "v1"));
	assert_null(kf_model_file_find_run(m, "run-2"));
	next = kf_model_file_next_version(m);
	assert_string_equal(next, "v3");
	free(next);
	kf_model_file_free(m);
}

static void test_model_file_next_version(void **state)
{
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_model_file *m = NULL;
	const char *t = "kind: Model\nversions:\n- {version: v2, uri: a, format: f}\n"
			"- {version: v10, uri: b, format: f}\n- {version: v9, uri: c, format: f}\n";
	char *next;

	(void)state;
	assert_int_equal(kf_model_file_parse(&m, "m.yaml", t, strlen(t), &d, NULL), 0);
	next = kf_model_file_next_version(m);
	assert_string_equal(next, "v11");
	free(next);
	kf_model_file_free(m);
	/* An empty file starts at v1. */
	assert_int_equal(kf_model_file_parse(&m, "m.yaml", "kind: Model\n", 12, &d, NULL), 0);
	next = kf_model_file_next_version(m);
	assert_string_equal(next, "v1");
	free(next);
	kf_model_file_free(m);
}

static void test_model_file_errors(void **state)
{
	char *s;

	(void)state;
	s = model_errors("kind: Model\nversions:\n  - version: v1\n    uri: a\n    colour: red\n");
	assert_string_equal(s, "models/xor.yaml:3:5: model version 'v1' needs 'format'\n"
			       "models/xor.yaml:5:5: unknown field 'colour' in a model version\n");
	free(s);
	s = model_errors("kind: Model\nversions:\n  - version: 3\n    uri: a\n    format: f\n");
	assert_string_equal(s, "models/xor.yaml:3:14: version: expected a string\n");
	free(s);
	s = model_errors("kind: Model\nversions:\n  - version: version3\n    uri: a\n    format: f\n");
	assert_string_equal(s, "models/xor.yaml:3:14: version: 'version3' is not of the form v<N> (v1, v2, ...)\n");
	free(s);
	s = model_errors("kind: Model\nversions:\n  - {version: v1, uri: a, format: f}\n"
			 "  - {version: v1, uri: b, format: f}\n");
	assert_string_equal(s, "models/xor.yaml:4:5: version 'v1' is listed twice (first at line 3)\n");
	free(s);
	s = model_errors("kind: Model\nversions:\n  - version: v1\n    uri: a\n    format: f\n"
			 "    metrics:\n      acc: high\n");
	assert_string_equal(s, "models/xor.yaml:7:12: metrics.acc: expected a number\n");
	free(s);
	s = model_errors("kind: Modle\nversions: []\n");
	assert_string_equal(s, "models/xor.yaml:1:7: kind: expected 'Model'\n");
	free(s);
	s = model_errors("kind: Model\nversions: {v1: x}\n");
	assert_string_equal(s, "models/xor.yaml:2:11: versions: expected a list of versions\n");
	free(s);
	s = model_errors("kind: Model\nversions:\n  - version: v1\n    uri: a\n    format: f\n"
			 "    source: {commit: a, branch: b}\n");
	assert_string_equal(s, "models/xor.yaml:6:25: unknown field 'branch' in source\n");
	free(s);
	s = model_errors("kind: Model\nversions: [\n");
	assert_non_null(strstr(s, "models/xor.yaml:"));
	free(s);
	s = model_errors(model_text);
	assert_string_equal(s, "");
	free(s);
}

static const char pins_text[] =
	"# staging pins: edit with kfboot promote\n"
	"other: 'v7'   # pinned by hand\n"
	"xor: v3 # stable\n"
	"canaried: {version: v3, canary: {version: v4, percent: 10}}\n"
	"block:\n"
	"  version: \"v1\"\n"
	"  canary:\n"
	"    version: v2\n"
	"    percent: 25\n";

static void test_pins_parse(void **state)
{
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_model_pins *p = NULL;
	const struct kf_model_pin *pin;

	(void)state;
	assert_int_equal(kf_model_pins_parse(&p, "environments/staging/models.yaml", pins_text,
					     strlen(pins_text), &d, NULL), 0);
	assert_int_equal(p->n, 4);
	pin = kf_model_pins_find(p, "xor");
	assert_string_equal(pin->version, "v3");
	assert_null(pin->canary_version);
	assert_int_equal(pin->line, 3);
	assert_int_equal(pin->col, 1);
	assert_int_equal(pin->version_pos.line, 3);
	assert_int_equal(pin->version_pos.col, 6);
	pin = kf_model_pins_find(p, "other");
	assert_string_equal(pin->version, "v7");
	pin = kf_model_pins_find(p, "canaried");
	assert_string_equal(pin->version, "v3");
	assert_string_equal(pin->canary_version, "v4");
	assert_int_equal(pin->canary_percent, 10);
	pin = kf_model_pins_find(p, "block");
	assert_string_equal(pin->version, "v1");
	assert_string_equal(pin->canary_version, "v2");
	assert_int_equal(pin->canary_percent, 25);
	assert_null(kf_model_pins_find(p, "nope"));
	kf_model_pins_free(p);
	/* Empty and comment-only files have no pins. */
	assert_int_equal(kf_model_pins_parse(&p, "e.yaml", "# none yet\n", 11, &d, NULL), 0);
	assert_int_equal(p->n, 0);
	kf_model_pins_free(p);
	assert_int_equal(kf_model_pins_parse(&p, "e.yaml", "", 0, &d, NULL), 0);
	assert_int_equal(p->n, 0);
	kf_model_pins_free(p);
	assert_int_equal(d.n, 0);
}

static char *pins_errors(const char *text)
{
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_model_pins *p = NULL;
	int rc = kf_model_pins_parse(&p, "models.yaml", text, strlen(text), &d, NULL);
	char *s = diags_text(&d);

	assert_int_equal(rc, d.n ? KF_EINVAL : 0);
	kf_model_pins_free(p);
	kf_diags_release(&d);
	return s;
}

static void test_pins_errors(void **state)
{
	char *s;

	(void)state;
	s = pins_errors("xor: 3\n");
	assert_string_equal(s, "models.yaml:1:1: pin 'xor': expected a version (v1, v2, ...) or {version, canary}\n");
	free(s);
	s = pins_errors("a: v1\nxor: {version: v3, canary: {version: v4, percent: 150}}\n");
	assert_string_equal(s, "models.yaml:2:51: canary.percent: expected a whole number from 0 to 100\n");
	free(s);
	s = pins_errors("xor: {version: v3, canary: {version: four, percent: 5}}\n");
	assert_string_equal(s, "models.yaml:1:38: canary.version: expected a version (v1, v2, ...)\n");
	free(s);
	s = pins_errors("xor: {version: v3, weight: 5}\n");
	assert_string_equal(s, "models.yaml:1:20: unknown field 'weight' in a pin\n");
	free(s);
	s = pins_errors("- xor\n");
	assert_string_equal(s, "models.yaml:1:1: expected a map of model name to version (xor: v3)\n");
	free(s);
}

/* Set a pin and compare the whole resulting text. */
static void expect_set(const char *in, const char *model, const char *version, const char *want)
{
	struct kf_buf out = KF_BUF_INIT;
	struct kf_err *err = NULL;
	int rc = kf_model_pins_set(&out, "models.yaml", in, strlen(in), model, version, &err);

	if (rc)
		fail_msg("set %s=%s: %s", model, version, err->msg);
	assert_string_equal(out.buf, want);
	kf_buf_release(&out);
}

static void test_pins_set(void **state)
{
	(void)state;
	/* Plain: only the scalar changes; comments, order, quoting kept. */
	expect_set(pins_text, "xor", "v4",
		   "# staging pins: edit with kfboot promote\n"
		   "other: 'v7'   # pinned by hand\n"
		   "xor: v4 # stable\n"
		   "canaried: {version: v3, canary: {version: v4, percent: 10}}\n"
		   "block:\n"
		   "  version: \"v1\"\n"
		   "  canary:\n"
		   "    version: v2\n"
		   "    percent: 25\n");
	/* Quoted scalars keep their quotes; a longer version shifts nothing else. */
	expect_set(pins_text, "other", "v12",
		   "# staging pins: edit with kfboot promote\n"
		   "other: 'v12'   # pinned by hand\n"
		   "xor: v3 # stable\n"
		   "canaried: {version: v3, canary: {version: v4, percent: 10}}\n"
		   "block:\n"
		   "  version: \"v1\"\n"
		   "  canary:\n"
		   "    version: v2\n"
		   "    percent: 25\n");
	/* The stable version of a canary pin moves; the canary stays. */
	expect_set(pins_text, "canaried", "v2",
		   "# staging pins: edit with kfboot promote\n"
		   "other: 'v7'   # pinned by hand\n"
		   "xor: v3 # stable\n"
		   "canaried: {version: v2, canary: {version: v4, percent: 10}}\n"
		   "block:\n"
		   "  version: \"v1\"\n"
		   "  canary:\n"
		   "    version: v2\n"
		   "    percent: 25\n");
	expect_set(pins_text, "block", "v0",
		   "# staging pins: edit with kfboot promote\n"
		   "other: 'v7'   # pinned by hand\n"
		   "xor: v3 # stable\n"
		   "canaried: {version: v3, canary: {version: v4, percent: 10}}\n"
		   "block:\n"
		   "  version: \"v0\"\n"
		   "  canary:\n"
		   "    version: v2\n"
		   "    percent: 25\n");
	/* Promoting the canary: the pin becomes the plain version. */
	expect_set(pins_text, "canaried", "v4",
		   "# staging pins: edit with kfboot promote\n"
		   "other: 'v7'   # pinned by hand\n"
		   "xor: v3 # stable\n"
		   "canaried: v4\n"
		   "block:\n"
		   "  version: \"v1\"\n"
		   "  canary:\n"
		   "    version: v2\n"
		   "    percent: 25\n");
	/* A block-style canary pin is promoted too. */
	expect_set(pins_text, "block", "v2",
		   "# staging pins: edit with kfboot promote\n"
		   "other: 'v7'   # pinned by hand\n"
		   "xor: v3 # stable\n"
		   "canaried: {version: v3, canary: {version: v4, percent: 10}}\n"
		   "block: v2\n");
	/* A new pin is appended. */
	expect_set("# pins\nxor: v1", "new", "v5", "# pins\nxor: v1\nnew: v5\n");
	expect_set("", "xor", "v1", "xor: v1\n");
	expect_set("# nothing pinned yet\n", "xor", "v1", "# nothing pinned yet\nxor: v1\n");
}

static void test_pins_set_errors(void **state)
{
	struct kf_buf out = KF_BUF_INIT;
	struct kf_err *err = NULL;

	(void)state;
	assert_int_equal(kf_model_pins_set(&out, "models.yaml", "xor: v1\n", 8, "xor", "latest", &err), KF_EINVAL);
	assert_string_equal(err->msg, "'latest' is not a version (v1, v2, ...)");
	kf_err_free(err);
	err = NULL;
	assert_int_equal(kf_model_pins_set(&out, "models.yaml", "xor: 5\n", 7, "xor", "v2", &err), KF_EINVAL);
	assert_string_equal(err->msg, "models.yaml:1:1: pin 'xor': expected a version (v1, v2, ...) or {version, canary}");
	kf_err_free(err);
	kf_buf_release(&out);
}

static void test_model_file_append(void **state)
{
	struct kf_buf out = KF_BUF_INIT;
	struct kf_err *err = NULL;
	struct kf_model_version v = { 0 };
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_model_file *m = NULL;

	(void)state;
	v.version = "v3";
	v.uri = "s3://models/xor/v3";
	v.format = "kfboot.io/mlp-v1";
	v.metrics = json_pack("{s:f, s:i}", "test_accuracy", 0.995, "epochs", 200);
	v.source_commit = "0123456789abcdef0123456789abcdef01234567";
	v.source_pipeline = "xor-train";
	v.source_run = "7f3c-run";
	v.created = "2026-12-05T17:00:00Z";
	if (kf_model_file_append(&out, "models/xor.yaml", model_text, strlen(model_text), &v, &err))
		fail_msg("%s", err->msg);
	assert_string_equal(out.buf,
			    "# xor model versions\n"
			    "apiVersion: kfboot.io/v1\n"
			    "kind: Model\n"
			    "metadata:\n"
			    "  name: xor\n"
			    "versions:\n"
			    "  - version: v1\n"
			    "    uri: s3://models/xor/v1\n"
			    "    format: kfboot.io/mlp-v1\n"
			    "    metrics:\n"
			    "      test_accuracy: 0.75\n"
			    "    source: {commit: abc123, pipeline: xor-train, run: run-1}\n"
			    "    created: \"2026-12-01T10:00:00Z\"\n"
			    "  # the good one\n"
			    "  - version: v2\n"
			    "    uri: s3://models/xor/v2\n"
			    "    format: kfboot.io/mlp-v1\n"
			    "    metrics: {test_accuracy: 0.991, loss: 0.02}\n"
			    "  - version: v3\n"
			    "    uri: s3://models/xor/v3\n"
			    "    format: kfboot.io/mlp-v1\n"
			    "    metrics:\n"
			    "      test_accuracy: 0.995\n"
			    "      epochs: 200\n"
			    "    source:\n"
			    "      commit: \"0123456789abcdef0123456789abcdef01234567\"\n"
			    "      pipeline: xor-train\n"
			    "      run: \"7f3c-run\"\n"
			    "    created: \"2026-12-05T17:00:00Z\"\n"
			    "\n"
			    "# trailing comment\n");
	assert_int_equal(kf_model_file_parse(&m, "m", out.buf, out.len, &d, NULL), 0);
	assert_int_equal(m->nversions, 3);
	assert_string_equal(kf_model_file_find_run(m, "7f3c-run")->version, "v3");
	kf_model_file_free(m);
	/* The same version twice is a conflict. */
	assert_int_equal(kf_model_file_append(&out, "models/xor.yaml", model_text, strlen(model_text),
					      &(struct kf_model_version){ .version = "v2", .uri = "u", .format = "f" }, &err),
			 KF_ECONFLICT);
	kf_err_free(err);
	err = NULL;
	/* Unindented list, followed by another key. */
	{
		const char *t = "kind: Model\nversions:\n- version: v1\n  uri: u1\n  format: f\nmetadata:\n  name: x\n";

		if (kf_model_file_append(&out, "m.yaml", t, strlen(t),
					 &(struct kf_model_version){ .version = "v2", .uri = "u2", .format = "f" }, &err))
			fail_msg("%s", err->msg);
		assert_string_equal(out.buf, "kind: Model\nversions:\n- version: v1\n  uri: u1\n  format: f\n"
					     "- version: v2\n  uri: u2\n  format: f\nmetadata:\n  name: x\n");
	}
	/* No versions yet: a list is started. */
	{
		const char *t = "kind: Model\nmetadata: {name: x}";

		if (kf_model_file_append(&out, "m.yaml", t, strlen(t),
					 &(struct kf_model_version){ .version = "v1", .uri = "u:1", .format = "f" }, &err))
			fail_msg("%s", err->msg);
		assert_string_equal(out.buf, "kind: Model\nmetadata: {name: x}\nversions:\n- version: v1\n  uri: u:1\n  format: f\n");
	}
	json_decref(v.metrics);
	kf_buf_release(&out);
}

static void test_gates(void **state)
{
	struct kf_gate gates[] = {
		{ .metric = "test_accuracy", .has_min = true, .min = 0.97 },
		{ .metric = "loss", .has_max = true, .max = 0.05 },
	};
	json_t *metrics = json_pack("{s:f, s:f}", "test_accuracy", 0.991, "loss", 0.02);
	struct kf_gate_input in = { gates, 2, 3600, 7200, metrics };
	json_t *report = NULL;
	char *summary = NULL, *failed = NULL;

	(void)state;
	assert_true(kf_gates_check(&in, &report, &summary, &failed));
	assert_string_equal(summary, "test_accuracy 0.991 >= 0.97; loss 0.02 <= 0.05; soak 2h >= 1h");
	assert_null(failed);
	assert_int_equal(json_array_size(report), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(report, 0), "gate")), "test_accuracy");
	assert_string_equal(json_string_value(json_object_get(json_array_get(report, 0), "want")), ">= 0.97");
	assert_true(json_is_true(json_object_get(json_array_get(report, 2), "ok")));
	json_decref(report);
	free(summary);

	/* Every failure is named with its value. */
	json_object_set_new(metrics, "test_accuracy", json_real(0.9));
	json_object_del(metrics, "loss");
	in.soaked = 1800;
	assert_false(kf_gates_check(&in, &report, &summary, &failed));
	assert_string_equal(failed, "test_accuracy 0.9 < 0.97; loss missing (want <= 0.05); soak 30m < 1h");
	assert_string_equal(summary, failed);
	json_decref(report);
	free(summary);
	free(failed);

	/* Unknown soak fails; no soak gate ignores it. */
	in.soaked = -1;
	in.ngates = 0;
	assert_false(kf_gates_check(&in, NULL, &summary, &failed));
	assert_string_equal(failed, "soak unknown (want >= 1h)");
	free(summary);
	free(failed);
	in.soak = 0;
	assert_true(kf_gates_check(&in, NULL, &summary, &failed));
	assert_string_equal(summary, "");
	assert_null(failed);
	free(summary);
	json_decref(metrics);
}

static void test_duration(void **state)
{
	const struct {
		double s;
		const char *want;
	} cases[] = { { 0, "0s" }, { 45, "45s" }, { 3600, "1h" }, { 5400, "1h30m" }, { 90061, "1d1h1m1s" }, { -3, "0s" } };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = kf_models_fmt_duration(cases[i].s);

		assert_string_equal(s, cases[i].want);
		free(s);
	}
}


/* ---- push: real bare repositories, no network ---------------------------- */

struct pushenv {
	char dir[64];
	char *remote_path;
	git_repository *remote;
	git_repository *cache, *cache2;
};

/* A commit on the remote's main with the given pins file content. */
static void remote_commit(git_repository *r, const char *pins, const char *msg)
{
	git_oid blob, readme, tree_id, commit, parent_id;
	git_treebuilder *tb = NULL;
	git_tree *empty = NULL, *tree = NULL;
	git_commit *parent = NULL;
	git_signature *sig = NULL;
	git_tree_update upd[2] = { { 0 }, { 0 } };
	git_oid empty_id;

	assert_int_equal(git_blob_create_from_buffer(&blob, r, pins, strlen(pins)), 0);
	assert_int_equal(git_blob_create_from_buffer(&readme, r, "# models\n", 9), 0);
	assert_int_equal(git_treebuilder_new(&tb, r, NULL), 0);
	assert_int_equal(git_treebuilder_write(&empty_id, tb), 0);
	assert_int_equal(git_tree_lookup(&empty, r, &empty_id), 0);
	upd[0].action = upd[1].action = GIT_TREE_UPDATE_UPSERT;
	upd[0].filemode = upd[1].filemode = GIT_FILEMODE_BLOB;
	upd[0].id = blob;
	upd[0].path = "environments/staging/models.yaml";
	upd[1].id = readme;
	upd[1].path = "README.md";
	assert_int_equal(git_tree_create_updated(&tree_id, r, empty, 2, upd), 0);
	assert_int_equal(git_tree_lookup(&tree, r, &tree_id), 0);
	assert_int_equal(git_signature_now(&sig, "test", "test@localhost"), 0);
	if (git_reference_name_to_id(&parent_id, r, "refs/heads/main") == 0)
		assert_int_equal(git_commit_lookup(&parent, r, &parent_id), 0);
	assert_int_equal(git_commit_create(&commit, r, "refs/heads/main", sig, sig, NULL, msg, tree, parent ? 1 : 0,
					   (const git_commit **)&parent), 0);
	git_commit_free(parent);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(empty);
	git_treebuilder_free(tb);
}

static int push_setup(void **state)
{
	struct pushenv *e = kf_xcalloc(1, sizeof(*e));
	char *c;

	git_libgit2_init();
	snprintf(e->dir, sizeof(e->dir), "/tmp/kf-test-push-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	e->remote_path = kf_xasprintf("%s/remote.git", e->dir);
	assert_int_equal(git_repository_init(&e->remote, e->remote_path, 1), 0);
	git_repository_set_head(e->remote, "refs/heads/main");
	remote_commit(e->remote, "# staging\nxor: v1 # live\n", "initial");
	c = kf_xasprintf("%s/cache.git", e->dir);
	assert_int_equal(git_repository_init(&e->cache, c, 1), 0);
	free(c);
	c = kf_xasprintf("%s/cache2.git", e->dir);
	assert_int_equal(git_repository_init(&e->cache2, c, 1), 0);
	free(c);
	/* Like the GitOps cache: an empty configuration (libgit2 1.5 leaks a
	 * match buffer per configuration entry when it makes a remote). */
	{
		git_config *empty = NULL;

		assert_int_equal(git_config_new(&empty), 0);
		git_repository_set_config(e->cache, empty);
		git_repository_set_config(e->cache2, empty);
		git_config_free(empty);
	}
	*state = e;
	return 0;
}

static int push_teardown(void **state)
{
	struct pushenv *e = *state;
	char *cmd = kf_xasprintf("rm -rf '%s'", e->dir);

	git_repository_free(e->remote);
	git_repository_free(e->cache);
	git_repository_free(e->cache2);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", e->dir);
	free(cmd);
	free(e->remote_path);
	free(e);
	git_libgit2_shutdown();
	return 0;
}

struct pin_edit {
	const char *model, *from, *to;
	int calls;
	/* run once, before the first edit: another writer moves the branch */
	struct pushenv *race;
	const char *race_to;
};

static int pin_edit_fn(void *ctx, git_repository *repo, const char *tip, struct kf_push_change *c,
		       struct kf_err **err);

static void push_pin(struct pushenv *e, git_repository *cache, const char *to, const char *from,
		     struct kf_push_result *res, int want_rc, struct pin_edit *pe_in)
{
	struct kf_push_target t = { .repo = cache, .url = e->remote_path, .branch = "main" };
	struct kf_push_opts o = { .author = "Release Bot <bot@example.com>", .backoff = 0.01 };
	struct pin_edit pe = { .model = "xor", .from = from, .to = to };
	struct kf_err *err = NULL;
	int rc;

	if (pe_in)
		pe = *pe_in;
	rc = kf_push_edit(&t, &o, pin_edit_fn, &pe, res, &err);
	if (rc != want_rc)
		fail_msg("push: rc %d (%s), want %d", rc, err ? err->msg : "", want_rc);
	kf_err_free(err);
}

static int pin_edit_fn(void *ctx, git_repository *repo, const char *tip, struct kf_push_change *c,
		       struct kf_err **err)
{
	struct pin_edit *pe = ctx;
	struct kf_buf cur = KF_BUF_INIT, out = KF_BUF_INIT;
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_model_pins *p = NULL;
	const struct kf_model_pin *pin;
	int rc;

	pe->calls++;
	if (pe->race) {
		struct kf_push_result r;
		struct pushenv *e = pe->race;

		pe->race = NULL;
		push_pin(e, e->cache2, pe->race_to, NULL, &r, 0, NULL);
		assert_int_equal(r.attempts, 1);
	}
	rc = kf_push_read_file(repo, tip, "environments/staging/models.yaml", &cur, err);
	if (rc)
		goto out;
	rc = kf_model_pins_parse(&p, "models.yaml", cur.buf, cur.len, &d, err);
	if (rc)
		goto out;
	pin = kf_model_pins_find(p, pe->model);
	if (pin && !strcmp(pin->version, pe->to)) {
		rc = KF_PUSH_NOOP;
		goto out;
	}
	if (pe->from && (!pin || strcmp(pin->version, pe->from))) {
		rc = kf_err_set(err, KF_ECONFLICT, "pin is %s, expected %s", pin ? pin->version : "none", pe->from);
		goto out;
	}
	rc = kf_model_pins_set(&out, "models.yaml", cur.buf, cur.len, pe->model, pe->to, err);
	if (rc)
		goto out;
	kf_push_change_add(c, "environments/staging/models.yaml", out.buf, out.len);
	kf_buf_addf(&c->message, "promote xor %s\n\nKfboot-Promote: xor %s staging\n", pe->to, pe->to);
out:
	kf_diags_release(&d);
	kf_model_pins_free(p);
	kf_buf_release(&cur);
	kf_buf_release(&out);
	return rc;
}

static char *remote_pins(struct pushenv *e, git_oid *tip)
{
	struct kf_buf b = KF_BUF_INIT;
	char hex[41];

	assert_int_equal(git_reference_name_to_id(tip, e->remote, "refs/heads/main"), 0);
	git_oid_tostr(hex, sizeof(hex), tip);
	assert_int_equal(kf_push_read_file(e->remote, hex, "environments/staging/models.yaml", &b, NULL), 0);
	return kf_buf_detach(&b, NULL);
}

static void test_push_simple(void **state)
{
	struct pushenv *e = *state;
	struct kf_push_result res;
	git_oid tip, init;
	git_commit *c = NULL;
	char *pins, hex[41];

	assert_int_equal(git_reference_name_to_id(&init, e->remote, "refs/heads/main"), 0);
	push_pin(e, e->cache, "v2", "v1", &res, 0, NULL);
	assert_int_equal(res.attempts, 1);
	assert_false(res.noop);
	pins = remote_pins(e, &tip);
	assert_string_equal(pins, "# staging\nxor: v2 # live\n");
	free(pins);
	git_oid_tostr(hex, sizeof(hex), &tip);
	assert_string_equal(hex, res.commit);
	assert_int_equal(git_commit_lookup(&c, e->remote, &tip), 0);
	assert_int_equal(git_commit_parentcount(c), 1);
	assert_true(git_oid_equal(git_commit_parent_id(c, 0), &init));
	assert_string_equal(git_commit_author(c)->name, "Release Bot");
	assert_string_equal(git_commit_author(c)->email, "bot@example.com");
	assert_string_equal(git_commit_message(c), "promote xor v2\n\nKfboot-Promote: xor v2 staging\n");
	git_commit_free(c);
	/* The README is the same blob: only one file changed. */
	{
		struct kf_buf b = KF_BUF_INIT;

		assert_int_equal(kf_push_read_file(e->remote, hex, "README.md", &b, NULL), 0);
		assert_string_equal(b.buf, "# models\n");
		kf_buf_release(&b);
	}
	/* Again: nothing to do, nothing pushed. */
	push_pin(e, e->cache, "v2", "v1", &res, 0, NULL);
	assert_true(res.noop);
	assert_string_equal(res.commit, "");
	assert_true(git_reference_name_to_id(&init, e->remote, "refs/heads/main") == 0 && git_oid_equal(&init, &tip));
	/* The expected pin is gone: a real conflict, nothing pushed. */
	push_pin(e, e->cache, "v3", "v1", &res, KF_ECONFLICT, NULL);
	assert_true(git_reference_name_to_id(&init, e->remote, "refs/heads/main") == 0 && git_oid_equal(&init, &tip));
}

static void test_push_race(void **state)
{
	struct pushenv *e = *state;
	struct kf_push_result res;
	struct pin_edit pe = { .model = "xor", .to = "v5", .race = e, .race_to = "v4" };
	git_oid tip, init;
	git_commit *c = NULL, *p = NULL;
	char *pins;

	assert_int_equal(git_reference_name_to_id(&init, e->remote, "refs/heads/main"), 0);
	/* Another writer moves the branch after our fetch: our first push is
	 * rejected, the edit is made again on the new tip, and both land. */
	push_pin(e, e->cache, "v5", NULL, &res, 0, &pe);
	assert_int_equal(res.attempts, 2);
	pins = remote_pins(e, &tip);
	assert_string_equal(pins, "# staging\nxor: v5 # live\n");
	free(pins);
	assert_int_equal(git_commit_lookup(&c, e->remote, &tip), 0);
	assert_int_equal(git_commit_parent(&p, c, 0), 0);
	assert_string_equal(git_commit_summary(p), "promote xor v4");
	assert_true(git_oid_equal(git_commit_parent_id(p, 0), &init));
	git_commit_free(p);
	git_commit_free(c);
}

static void test_push_author(void **state)
{
	char *n = NULL, *m = NULL;
	struct kf_err *err = NULL;

	(void)state;
	assert_int_equal(kf_push_parse_author("A B <a@b>", &n, &m, NULL), 0);
	assert_string_equal(n, "A B");
	assert_string_equal(m, "a@b");
	free(n);
	free(m);
	assert_int_equal(kf_push_parse_author("nobody", &n, &m, &err), KF_EUSAGE);
	assert_string_equal(err->msg, "author 'nobody': expected \"Name <email>\"");
	kf_err_free(err);
	assert_int_equal(kf_push_parse_author(" <a@b>", &n, &m, NULL), KF_EUSAGE);
	assert_int_equal(kf_push_parse_author("A <a@b> x", &n, &m, NULL), KF_EUSAGE);
}

/* ---- InferenceService health (src/kube/health.c) on real status shapes --- */

static json_t *load_isvc(const char *name)
{
	const char *src = getenv("KF_SOURCE_DIR");
	char *path = kf_xasprintf("%s/tests/data/models/%s", src && *src ? src : KF_SOURCE_DIR, name);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);

	if (!j)
		fail_msg("%s: %s", path, je.text);
	free(path);
	return j;
}

static void expect_isvc(const char *file, enum kf_isvc_health want, const char *want_reason, enum kf_health want_apply)
{
	json_t *j = load_isvc(file);
	char *reason = NULL;
	const char *why;

	assert_int_equal(kf_isvc_health(j, &reason), want);
	if (want_reason)
		assert_string_equal(reason, want_reason);
	else
		assert_null(reason);
	assert_int_equal(kf_health_of(j, &why), want_apply);
	free(reason);
	json_decref(j);
}

static void test_isvc_health(void **state)
{
	json_t *empty = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "serving.kserve.io/v1beta1", "kind",
				  "InferenceService", "metadata", "name", "xor");
	char *reason = NULL;

	(void)state;
	expect_isvc("isvc-ready.json", KF_ISVC_HEALTHY, NULL, KF_HEALTH_READY);
	expect_isvc("isvc-progressing.json", KF_ISVC_PROGRESSING, "model transition in progress (InProgress)",
		    KF_HEALTH_PROGRESSING);
	expect_isvc("isvc-stopped.json", KF_ISVC_SUSPENDED, "stopped (Stopped=True)", KF_HEALTH_READY);
	expect_isvc("isvc-failed-load.json", KF_ISVC_DEGRADED,
		    "BlockedByFailedLoad (ModelLoadFailed): Container failed with: model file not found.", KF_HEALTH_FAILED);
	expect_isvc("isvc-invalid-spec.json", KF_ISVC_DEGRADED,
		    "InvalidSpec (NoSupportingRuntime): Specified runtime does not support specified framework/version",
		    KF_HEALTH_FAILED);
	assert_int_equal(kf_isvc_health(empty, &reason), KF_ISVC_PROGRESSING);
	assert_string_equal(reason, "waiting for the InferenceService to report status");
	free(reason);
	/* A condition False with the model up to date: progressing, naming it
	 * (Argo CD's rule: only modelStatus makes it degraded). */
	json_object_set_new(empty, "status", json_pack("{s:[{s:s,s:s},{s:s,s:s,s:s}], s:{s:s}}", "conditions", "type",
						       "Ready", "status", "True", "type", "IngressReady", "status",
						       "False", "message", "no gateway", "modelStatus",
						       "transitionStatus", "UpToDate"));
	assert_int_equal(kf_isvc_health(empty, &reason), KF_ISVC_PROGRESSING);
	assert_string_equal(reason, "IngressReady is not True: no gateway");
	free(reason);
	assert_string_equal(kf_isvc_health_str(KF_ISVC_SUSPENDED), "suspended");
	json_decref(empty);
}

static void test_writeback_trailer(void **state)
{
	(void)state;
	assert_true(kf_models_commit_is_writeback("register xor v4\n\nKfboot-Model: xor v4\nKfboot-Run: 7f3c\n"));
	assert_true(kf_models_commit_is_writeback("promote xor v3 to prod\n\nKfboot-Promote: xor v3 staging -> prod\n"));
	assert_false(kf_models_commit_is_writeback("fix: mention Kfboot-Model: in the docs\n"));
	assert_false(kf_models_commit_is_writeback("train a better xor\n"));
	assert_false(kf_models_commit_is_writeback(NULL));
}

/* Soak from a status snapshot, on the push test's remote (staging pins
 * from the seed commit "xor: v1"). */
static void test_soaked(void **state)
{
	struct pushenv *e = *state;
	git_oid tip;
	git_commit *c = NULL;
	char hex[41], *why = NULL;
	json_t *st;
	double now, t0, s;

	assert_int_equal(git_reference_name_to_id(&tip, e->remote, "refs/heads/main"), 0);
	git_oid_tostr(hex, sizeof(hex), &tip);
	assert_int_equal(git_commit_lookup(&c, e->remote, &tip), 0);
	t0 = (double)git_commit_time(c);
	git_commit_free(c);
	now = t0 + 7200;
	/* No status: unknown. */
	assert_true(kf_models_soaked(e->remote, NULL, "staging", "xor", "v1", now, &why) < 0);
	assert_non_null(strstr(why, "no reconciler status"));
	free(why);
	st = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s}]}", "environments", "name", "staging", "appliedCommit", hex,
		       "result", "applied", "health", "healthy", "lastChange", "2000-01-01T00:00:00Z");
	s = kf_models_soaked(e->remote, st, "staging", "xor", "v1", now, &why);
	assert_true(s == 7200);
	assert_null(why);
	/* The last change counts when it is later than the pin's commit. */
	json_object_set_new(json_array_get(json_object_get(st, "environments"), 0), "lastChange", json_string("2100-01-01T00:00:00Z"));
	assert_true(kf_models_soaked(e->remote, st, "staging", "xor", "v1", now, &why) == 0);
	free(why);
	json_object_set_new(json_array_get(json_object_get(st, "environments"), 0), "lastChange", json_string("2000-01-01T00:00:00Z"));
	/* Another version, an unhealthy environment, an unknown one: 0 with a reason. */
	assert_true(kf_models_soaked(e->remote, st, "staging", "xor", "v2", now, &why) == 0);
	assert_non_null(strstr(why, "staging runs xor v1, not v2"));
	free(why);
	json_object_set_new(json_array_get(json_object_get(st, "environments"), 0), "health", json_string("degraded"));
	assert_true(kf_models_soaked(e->remote, st, "staging", "xor", "v1", now, &why) == 0);
	assert_non_null(strstr(why, "health degraded"));
	free(why);
	assert_true(kf_models_soaked(e->remote, st, "prod", "xor", "v1", now, &why) == 0);
	assert_non_null(strstr(why, "prod has not been reconciled"));
	free(why);
	json_decref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_file_parse),
		cmocka_unit_test(test_model_file_next_version),
		cmocka_unit_test(test_model_file_errors),
		cmocka_unit_test(test_pins_parse),
		cmocka_unit_test(test_pins_errors),
		cmocka_unit_test(test_pins_set),
		cmocka_unit_test(test_pins_set_errors),
		cmocka_unit_test(test_model_file_append),
		cmocka_unit_test(test_gates),
		cmocka_unit_test(test_duration),
		cmocka_unit_test_setup_teardown(test_push_simple, push_setup, push_teardown),
		cmocka_unit_test_setup_teardown(test_push_race, push_setup, push_teardown),
		cmocka_unit_test(test_push_author),
		cmocka_unit_test(test_isvc_health),
		cmocka_unit_test(test_writeback_trailer),
		cmocka_unit_test_setup_teardown(test_soaked, push_setup, push_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
