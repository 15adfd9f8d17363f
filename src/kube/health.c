/*
 * health.c - when is a live object "ready"?
 *
 * Rules by kind, close to what `kubectl rollout status` and kstatus check:
 * the controller must have seen the current spec (status.observedGeneration
 * >= metadata.generation) and then
 *   Deployment   updated, available and ready replicas == spec.replicas,
 *                and no Available=False condition;
 *   StatefulSet  ready and updated replicas == spec.replicas, and
 *                currentRevision == updateRevision when rolling;
 *   DaemonSet    updated and available == desiredNumberScheduled;
 *   Job          condition Complete=True (Failed=True is a failure);
 *   CRD          condition Established=True (NamesAccepted=False fails at
 *                once: a name clash never resolves by waiting);
 *   Namespace    phase Active;
 *   APIService   condition Available=True;
 *   Katib Experiment (kubeflow.org)  condition Succeeded=True (the goal or
 *                maxTrialCount was reached); Failed=True is a failure;
 *   anything else with status.conditions: Ready=True when it has a Ready
 *                condition (Ready=False with reason *Failed* is reported
 *                as still progressing: controllers retry);
 *   InferenceService (serving.kserve.io) Argo CD's rule (kf_isvc_health):
 *                healthy, or suspended (Stopped=True: nothing to wait for)
 *                is ready; degraded (a model that failed to load, an invalid
 *                spec) fails; anything else is progressing;
 *   everything else is ready once it exists.
 */
#include <string.h>

#include "kube.h"

static json_int_t ival(const json_t *o, const char *k, json_int_t def)
{
	const json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

/* Status of condition `type`: "True", "False", "Unknown" or NULL. */
static const char *cond(const json_t *status, const char *type)
{
	const json_t *conds = json_object_get(status, "conditions"), *c;
	size_t i;

	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));

		if (t && !strcmp(t, type))
			return json_string_value(json_object_get(c, "status"));
	}
	return NULL;
}

const json_t *kf_health_condition(const json_t *live, const char *type)
{
	const json_t *conds = json_object_get(json_object_get(live, "status"), "conditions"), *c;
	size_t i;

	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));

		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

static bool is_true(const char *s)
{
	return s && !strcmp(s, "True");
}

const char *kf_isvc_health_str(enum kf_isvc_health h)
{
	switch (h) {
	case KF_ISVC_HEALTHY: return "healthy";
	case KF_ISVC_PROGRESSING: return "progressing";
	case KF_ISVC_DEGRADED: return "degraded";
	case KF_ISVC_SUSPENDED: return "suspended";
	}
	return "unknown";
}

enum kf_isvc_health kf_isvc_health(const json_t *live, char **reason)
{
	const json_t *st = json_object_get(live, "status");
	const json_t *conds = json_object_get(st, "conditions"), *c;
	const json_t *ms = json_object_get(st, "modelStatus");
	const char *ts = json_string_value(json_object_get(ms, "transitionStatus"));
	const char *not_true = NULL, *not_true_reason = NULL;
	size_t i;

	if (reason)
		*reason = NULL;
	if (!json_is_object(st) || !json_object_size(st)) {
		if (reason)
			*reason = kf_xstrdup("waiting for the InferenceService to report status");
		return KF_ISVC_PROGRESSING;
	}
	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *s = json_string_value(json_object_get(c, "status"));

		if (t && !strcmp(t, "Stopped")) {
			if (is_true(s)) {
				if (reason)
					*reason = kf_xstrdup("stopped (Stopped=True)");
				return KF_ISVC_SUSPENDED;
			}
			continue;
		}
		if (t && !is_true(s) && !not_true) {
			not_true = t;
			not_true_reason = json_string_value(json_object_get(c, "message"));
			if (!not_true_reason)
				not_true_reason = json_string_value(json_object_get(c, "reason"));
		}
	}
	if (ts && strcmp(ts, "UpToDate")) {
		if (!strcmp(ts, "InProgress")) {
			if (reason)
				*reason = kf_xstrdup("model transition in progress (InProgress)");
			return KF_ISVC_PROGRESSING;
		}
		if (reason) {
			const json_t *lf = json_object_get(ms, "lastFailureInfo");
			const char *why = json_string_value(json_object_get(lf, "message"));
			const char *r = json_string_value(json_object_get(lf, "reason"));

			if (r && why)
				*reason = kf_xasprintf("%s (%s): %s", ts, r, why);
			else if (why || r)
				*reason = kf_xasprintf("%s: %s", ts, why ? why : r);
			else
				*reason = kf_xstrdup(ts);
		}
		return KF_ISVC_DEGRADED;
	}
	if (not_true || !json_array_size(conds)) {
		if (reason)
			*reason = not_true ? kf_xasprintf("%s is not True%s%s", not_true, not_true_reason ? ": " : "",
							  not_true_reason ? not_true_reason : "")
					   : kf_xstrdup("no conditions yet");
		return KF_ISVC_PROGRESSING;
	}
	return KF_ISVC_HEALTHY;
}

enum kf_health kf_health_of(const json_t *live, const char **why)
{
	const json_t *md = json_object_get(live, "metadata");
	const json_t *spec = json_object_get(live, "spec");
	const json_t *st = json_object_get(live, "status");
	const char *kind = json_string_value(json_object_get(live, "kind"));
	const char *av = json_string_value(json_object_get(live, "apiVersion"));
	json_int_t gen = ival(md, "generation", 0);
	json_int_t ogen = ival(st, "observedGeneration", -1);

	*why = NULL;
	if (!kind || !av)
		return KF_HEALTH_READY;
	if (json_object_get(md, "deletionTimestamp")) {
		*why = "being deleted";
		return KF_HEALTH_PROGRESSING;
	}
	if (!strcmp(kind, "InferenceService") && !strncmp(av, "serving.kserve.io/", 18)) {
		switch (kf_isvc_health(live, NULL)) {
		case KF_ISVC_HEALTHY:
		case KF_ISVC_SUSPENDED:
			return KF_HEALTH_READY;
		case KF_ISVC_DEGRADED:
			*why = "InferenceService degraded (model failed to load or invalid spec)";
			return KF_HEALTH_FAILED;
		case KF_ISVC_PROGRESSING:
			break;
		}
		*why = "InferenceService not ready";
		return KF_HEALTH_PROGRESSING;
	}
	if (!strcmp(kind, "Deployment") && !strcmp(av, "apps/v1")) {
		json_int_t want = ival(spec, "replicas", 1);

		if (ogen < gen) {
			*why = "controller has not seen the new spec";
			return KF_HEALTH_PROGRESSING;
		}
		if (ival(st, "updatedReplicas", 0) < want) {
			*why = "replicas not updated";
			return KF_HEALTH_PROGRESSING;
		}
		if (ival(st, "availableReplicas", 0) < want || (cond(st, "Available") && !is_true(cond(st, "Available")))) {
			*why = "replicas not available";
			return KF_HEALTH_PROGRESSING;
		}
		return KF_HEALTH_READY;
	}
	if (!strcmp(kind, "StatefulSet") && !strcmp(av, "apps/v1")) {
		json_int_t want = ival(spec, "replicas", 1);
		const char *cur = json_string_value(json_object_get(st, "currentRevision"));
		const char *upd = json_string_value(json_object_get(st, "updateRevision"));

		if (ogen < gen) {
			*why = "controller has not seen the new spec";
			return KF_HEALTH_PROGRESSING;
		}
		if (ival(st, "readyReplicas", 0) < want || ival(st, "updatedReplicas", want) < want) {
			*why = "replicas not ready";
			return KF_HEALTH_PROGRESSING;
		}
		if (cur && upd && strcmp(cur, upd)) {
			*why = "rollout in progress";
			return KF_HEALTH_PROGRESSING;
		}
		return KF_HEALTH_READY;
	}
	if (!strcmp(kind, "DaemonSet") && !strcmp(av, "apps/v1")) {
		json_int_t want = ival(st, "desiredNumberScheduled", -1);

		if (ogen < gen || want < 0) {
			*why = "controller has not seen the new spec";
			return KF_HEALTH_PROGRESSING;
		}
		if (ival(st, "updatedNumberScheduled", 0) < want || ival(st, "numberAvailable", 0) < want) {
			*why = "pods not updated and available";
			return KF_HEALTH_PROGRESSING;
		}
		return KF_HEALTH_READY;
	}
	if (!strcmp(kind, "Job") && !strcmp(av, "batch/v1")) {
		if (is_true(cond(st, "Failed"))) {
			*why = "job failed";
			return KF_HEALTH_FAILED;
		}
		if (!is_true(cond(st, "Complete"))) {
			*why = "job not complete";
			return KF_HEALTH_PROGRESSING;
		}
		return KF_HEALTH_READY;
	}
	if (!strcmp(kind, "CustomResourceDefinition")) {
		const char *na = cond(st, "NamesAccepted");

		if (na && !strcmp(na, "False")) {
			*why = "names not accepted";
			return KF_HEALTH_FAILED;
		}
		if (!is_true(cond(st, "Established"))) {
			*why = "not established";
			return KF_HEALTH_PROGRESSING;
		}
		return KF_HEALTH_READY;
	}
	if (!strcmp(kind, "APIService")) {
		if (!is_true(cond(st, "Available"))) {
			*why = "API service not available";
			return KF_HEALTH_PROGRESSING;
		}
		return KF_HEALTH_READY;
	}
	if (!strcmp(kind, "Experiment") && kf_str_startswith(av, "kubeflow.org/")) {
		if (is_true(cond(st, "Failed"))) {
			*why = "experiment failed";
			return KF_HEALTH_FAILED;
		}
		if (!is_true(cond(st, "Succeeded"))) {
			*why = "experiment not succeeded";
			return KF_HEALTH_PROGRESSING;
		}
		return KF_HEALTH_READY;
	}
	if (!strcmp(kind, "Namespace") && !strcmp(av, "v1")) {
		const char *ph = json_string_value(json_object_get(st, "phase"));

		if (ph && strcmp(ph, "Active")) {
			*why = "namespace not active";
			return KF_HEALTH_PROGRESSING;
		}
		return KF_HEALTH_READY;
	}
	if (cond(st, "Ready")) {
		if (ogen >= 0 && ogen < gen) {
			*why = "controller has not seen the new spec";
			return KF_HEALTH_PROGRESSING;
		}
		if (!is_true(cond(st, "Ready"))) {
			*why = "not Ready";
			return KF_HEALTH_PROGRESSING;
		}
	}
	return KF_HEALTH_READY;
}
