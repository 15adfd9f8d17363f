/*
 * gates.c - promotion gates: metric thresholds (min/max) on the metrics a
 * training run recorded for a model version, and a soak time (how long the
 * version has been live and healthy in the source environment). The result
 * is a JSON report for -o json, a one-line summary for the commit trailer
 * (`Kfboot-Gates: test_accuracy 0.991 >= 0.97; soak 2h >= 1h`) and a line
 * naming every gate that failed with its value, for the refusal message.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"

/* "2h", "1h30m", "45s", "0s": the largest units, zero parts left out. */
char *kf_models_fmt_duration(double seconds)
{
	struct kf_buf b = KF_BUF_INIT;
	long long s = seconds > 0 ? (long long)floor(seconds) : 0;
	long long d = s / 86400, h = (s % 86400) / 3600, m = (s % 3600) / 60, r = s % 60;

	if (d)
		kf_buf_addf(&b, "%lldd", d);
	if (h)
		kf_buf_addf(&b, "%lldh", h);
	if (m)
		kf_buf_addf(&b, "%lldm", m);
	if (r || !b.len)
		kf_buf_addf(&b, "%llds", r);
	return kf_buf_detach(&b, NULL);
}

static void add_item(json_t *report, struct kf_buf *sum, struct kf_buf *fail, const char *gate,
		     json_t *value, const char *want, bool ok, const char *text)
{
	json_t *it = json_pack("{s:s, s:o, s:s, s:b}", "gate", gate, "value", value ? value : json_null(),
			       "want", want, "ok", ok);

	json_array_append_new(report, it);
	if (sum->len)
		kf_buf_adds(sum, "; ");
	kf_buf_adds(sum, text);
	if (!ok) {
		if (fail->len)
			kf_buf_adds(fail, "; ");
		kf_buf_adds(fail, text);
	}
}

static void check_bound(json_t *report, struct kf_buf *sum, struct kf_buf *fail, const char *metric,
			const json_t *val, bool is_min, double bound, bool *all)
{
	char *want = kf_xasprintf("%s %.15g", is_min ? ">=" : "<=", bound);
	char *text;
	bool ok;

	if (!json_is_number(val)) {
		ok = false;
		text = kf_xasprintf("%s missing (want %s)", metric, want);
		add_item(report, sum, fail, metric, NULL, want, ok, text);
	} else {
		double v = json_number_value(val);

		ok = is_min ? v >= bound : v <= bound;
		text = kf_xasprintf("%s %.15g %s %.15g", metric, v,
				    ok ? (is_min ? ">=" : "<=") : (is_min ? "<" : ">"), bound);
		add_item(report, sum, fail, metric, json_real(v), want, ok, text);
	}
	*all &= ok;
	free(text);
	free(want);
}

bool kf_gates_check(const struct kf_gate_input *in, json_t **report, char **summary, char **failed)
{
	struct kf_buf sum = KF_BUF_INIT, fail = KF_BUF_INIT;
	json_t *rep = json_array();
	bool all = true;

	for (size_t i = 0; i < in->ngates; i++) {
		const struct kf_gate *g = &in->gates[i];
		const json_t *val = in->metrics ? json_object_get(in->metrics, g->metric) : NULL;

		if (g->has_min)
			check_bound(rep, &sum, &fail, g->metric, val, true, g->min, &all);
		if (g->has_max)
			check_bound(rep, &sum, &fail, g->metric, val, false, g->max, &all);
	}
	if (in->soak > 0) {
		char *want_d = kf_models_fmt_duration(in->soak);
		char *want = kf_xasprintf(">= %s", want_d);
		char *text;
		bool ok = in->soaked >= in->soak;

		if (in->soaked < 0) {
			text = kf_xasprintf("soak unknown (want %s)", want);
			add_item(rep, &sum, &fail, "soak", NULL, want, false, text);
		} else {
			char *got = kf_models_fmt_duration(in->soaked);

			text = kf_xasprintf("soak %s %s %s", got, ok ? ">=" : "<", want_d);
			add_item(rep, &sum, &fail, "soak", json_real(in->soaked), want, ok, text);
			free(got);
		}
		all &= ok;
		free(text);
		free(want);
		free(want_d);
	}
	if (report)
		*report = rep;
	else
		json_decref(rep);
	if (summary)
		*summary = kf_buf_detach(&sum, NULL);
	if (failed)
		*failed = fail.len ? kf_buf_detach(&fail, NULL) : NULL;
	kf_buf_release(&sum);
	kf_buf_release(&fail);
	return all;
}
