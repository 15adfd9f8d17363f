/*
 * cmd_models.c - `kfboot models [MODEL]`: every version of the models in a
 * GitOps repository with its metrics and source, which environment pins
 * which (and any canary), and with a cluster the live InferenceService of
 * each environment (health by Argo CD's rule, URL, the version it serves)
 * and a ready-to-run curl line for a V2 inference request through the
 * Kubeflow ingress; and `kfboot models register --run ID --env ENV MODEL`:
 * write-back of a finished training run (its run record ConfigMap
 * kfboot-run-<id>) as the next version, pinned in every autoPin
 * environment, in one commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_models.h"

extern const struct kf_cmd kf_cmd_models;

/* Read a file at the source's head; NULL data when missing. */
static int read_head(struct kf_models_cli *m, const char *path, struct kf_buf *b, bool *found, struct kf_err **err)
{
	int rc = kf_git_source_read(m->src, kf_git_source_head(m->src), path, b, err);

	*found = !rc;
	if (rc == KF_ENOENT) {
		kf_err_clear(err);
		rc = 0;
	}
	return rc;
}

/* The InferenceServices labelled for a model, cluster-wide (NULL when none
 * or no cluster). */
static json_t *live_isvcs(struct kf_models_cli *m, const char *model, char **why)
{
	json_t *list = NULL;
	struct kf_err *e = NULL;
	char *path;

	*why = NULL;
	if (!m->k)
		return NULL;
	path = kf_xasprintf("/apis/serving.kserve.io/v1beta1/inferenceservices?labelSelector=kfboot.io%%2Fmodel%%3D%s", model);
	if (kf_kube_get_json(m->k, path, true, &list, &e)) {
		*why = kf_err_str(e);
		kf_err_free(e);
	}
	free(path);
	return list;
}

/* Host name for an InferenceService through the Kubeflow ingress: from its
 * status.url when it has one, else Kubeflow's domain template
 * {{.Name}}-{{.Namespace}}.{{.IngressDomain}}. Caller frees. */
static char *isvc_host(const json_t *isvc, const char *name, const char *ns, const char *domain)
{
	const char *url = json_string_value(json_object_get(json_object_get(isvc, "status"), "url"));

	if (url && strstr(url, "://")) {
		const char *h = strstr(url, "://") + 3;
		size_t n = strcspn(h, "/:");

		return kf_xstrndup(h, n);
	}
	return kf_xasprintf("%s-%s.%s", name, ns, domain ? domain : "example.com");
}

static json_t *model_json(struct kf_models_cli *m, const struct kf_repo_config *cfg, const struct kf_repo_model *rm,
			  struct kf_err **err)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_diags d = KF_DIAGS_INIT;
	struct kf_model_file *mf = NULL;
	json_t *o = json_pack("{s:s, s:s, s:s?}", "name", rm->name, "file", rm->versions, "serving", rm->serving);
	json_t *versions = json_array(), *envs = json_array(), *live = NULL;
	char *lwhy = NULL;
	bool found;

	if (read_head(m, rm->versions, &b, &found, err))
		goto fail;
	if (found && kf_model_file_parse(&mf, rm->versions, b.buf, b.len, &d, err)) {
		char *s = d.n ? kf_diag_str(&d.v[0]) : kf_xstrdup(rm->versions);

		kf_err_set(err, KF_EINVAL, "%s", s);
		free(s);
		goto fail;
	}
	for (size_t i = 0; mf && i < mf->nversions; i++) {
		const struct kf_model_version *v = &mf->versions[i];

		json_array_append_new(versions, json_pack("{s:s, s:s, s:s, s:O, s:s?, s:s?, s:s?, s:s?}", "version",
							  v->version, "uri", v->uri, "format", v->format, "metrics",
							  v->metrics, "commit", v->source_commit, "pipeline",
							  v->source_pipeline, "run", v->source_run, "created", v->created));
	}
	live = live_isvcs(m, rm->name, &lwhy);
	for (size_t i = 0; i < cfg->nenvs; i++) {
		const struct kf_repo_env *e = &cfg->envs[i];
		char *path = kf_models_pins_path(e->name);
		struct kf_model_pins *p = NULL;
		const struct kf_model_pin *pin;
		json_t *ej;
		size_t k;
		json_t *it;

		kf_buf_reset(&b);
		kf_diags_release(&d);
		if (read_head(m, path, &b, &found, err)) {
			free(path);
			goto fail;
		}
		pin = found && !kf_model_pins_parse(&p, path, b.buf, b.len, &d, NULL) ? kf_model_pins_find(p, rm->name) : NULL;
		free(path);
		if (!pin) {
			kf_model_pins_free(p);
			continue;
		}
		ej = json_pack("{s:s, s:s, s:s}", "env", e->name, "namespace", e->namespace ? e->namespace : "default",
			       "version", pin->version);
		if (pin->canary_version)
			json_object_set_new(ej, "canary", json_pack("{s:s, s:i}", "version", pin->canary_version, "percent",
								   pin->canary_percent));
		json_array_foreach(json_object_get(live, "items"), k, it) {
			const json_t *md = json_object_get(it, "metadata");
			const char *ns = json_string_value(json_object_get(md, "namespace"));
			const char *nm = json_string_value(json_object_get(md, "name"));
			char *reason = NULL, *host, *curl;
			enum kf_isvc_health h;

			if (!ns || !nm || strcmp(ns, e->namespace ? e->namespace : "default"))
				continue;
			h = kf_isvc_health(it, &reason);
			host = isvc_host(it, nm, ns, m->domain);
			curl = kf_xasprintf("curl -sS -H 'Host: %s' -H 'Content-Type: application/json' "
					    "http://%s/v2/models/%s/infer -d '{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,2],"
					    "\"datatype\":\"FP32\",\"data\":[[0,1]]}]}'",
					    host, m->ingress ? m->ingress : "localhost:8080", nm);
			json_object_set_new(ej, "live", json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s}", "name", nm,
								  "health", kf_isvc_health_str(h), "host", host, "reason", reason,
								  "url", json_string_value(json_object_get(json_object_get(it, "status"), "url")),
								  "version", json_string_value(json_object_get(json_object_get(md, "labels"), "kfboot.io/model-version")),
								  "curl", curl));
			free(reason);
			free(host);
			free(curl);
		}
		json_array_append_new(envs, ej);
		kf_model_pins_free(p);
	}
	json_object_set_new(o, "versions", versions);
	json_object_set_new(o, "environments", envs);
	if (lwhy)
		json_object_set_new(o, "liveError", json_string(lwhy));
	free(lwhy);
	json_decref(live);
	kf_model_file_free(mf);
	kf_diags_release(&d);
	kf_buf_release(&b);
	return o;
fail:
	free(lwhy);
	json_decref(live);
	json_decref(o);
	json_decref(versions);
	json_decref(envs);
	kf_model_file_free(mf);
	kf_diags_release(&d);
	kf_buf_release(&b);
	return NULL;
}

static void print_model(const json_t *o)
{
	const json_t *v, *e;
	size_t i;

	printf("%s  (%s)\n", json_string_value(json_object_get(o, "name")), json_string_value(json_object_get(o, "file")));
	printf("  %-8s %-40s %s\n", "VERSION", "METRICS", "SOURCE");
	json_array_foreach(json_object_get(o, "versions"), i, v) {
		struct kf_buf mb = KF_BUF_INIT;
		const char *k;
		json_t *x;

		json_object_foreach(json_object_get(v, "metrics"), k, x)
			kf_buf_addf(&mb, "%s%s=%g", mb.len ? " " : "", k, json_number_value(x));
		printf("  %-8s %-40s %s%s%.12s\n", json_string_value(json_object_get(v, "version")), mb.len ? mb.buf : "-",
		       json_string_value(json_object_get(v, "run")) ? "run " : "",
		       json_string_value(json_object_get(v, "run")) ?: "",
		       json_string_value(json_object_get(v, "commit")) ? "" : "");
		kf_buf_release(&mb);
	}
	json_array_foreach(json_object_get(o, "environments"), i, e) {
		const json_t *c = json_object_get(e, "canary"), *l = json_object_get(e, "live");

		printf("  %s pins %s", json_string_value(json_object_get(e, "env")), json_string_value(json_object_get(e, "version")));
		if (c)
			printf(" (canary %s at %lld%%)", json_string_value(json_object_get(c, "version")),
			       (long long)json_integer_value(json_object_get(c, "percent")));
		if (l) {
			printf("; live %s %s", json_string_value(json_object_get(l, "version")) ?: "?",
			       json_string_value(json_object_get(l, "health")));
			if (json_string_value(json_object_get(l, "reason")))
				printf(" (%s)", json_string_value(json_object_get(l, "reason")));
			if (json_string_value(json_object_get(l, "url")))
				printf(" %s", json_string_value(json_object_get(l, "url")));
			printf("\n    %s\n", json_string_value(json_object_get(l, "curl")));
		} else {
			printf("\n");
		}
	}
}

/* ---- models register ---------------------------------------------------- */

/* Source commit and pipeline of a run from the retraining journal
 * (kfboot-system/kfboot-runs-<env>); both NULL when not found. */
static void journal_lookup(struct kf_kube *k, const char *env, const char *run, char **commit, char **pipeline)
{
	char *path = kf_xasprintf("/api/v1/namespaces/kfboot-system/configmaps/kfboot-runs-%s", env);
	json_t *cm = NULL;
	const char *key;
	json_t *v;

	*commit = *pipeline = NULL;
	if (kf_kube_get_json(k, path, true, &cm, NULL) == 0 && cm) {
		json_object_foreach(json_object_get(cm, "data"), key, v) {
			json_t *e = json_loads(json_string_value(v) ?: "", 0, NULL), *r;
			size_t i;

			json_array_foreach(json_object_get(e, "runs"), i, r) {
				const char *id = json_string_value(json_object_get(r, "run_id"));

				if (id && !strcmp(id, run) && !*commit) {
					*commit = kf_xstrdup(json_string_value(json_object_get(r, "commit")) ?: "");
					*pipeline = kf_xstrdup(key);
				}
			}
			json_decref(e);
		}
	}
	json_decref(cm);
	free(path);
}

static int run_register(struct kf_models_cli *m, struct kf_cli *cli, struct kf_err **err)
{
	struct kf_repo_config *cfg = NULL;
	const struct kf_repo_env *env;
	struct kf_register_result r = { 0 };
	struct kf_push_opts pu = { .author = m->author, .dry_run = m->dry_run };
	struct kf_run_record rec = { 0 };
	json_t *cm = NULL, *metrics = NULL, *model = NULL;
	char *path = NULL, *commit = NULL, *pipeline = NULL;
	const char *ns;
	int rc;

	rc = kf_repo_config_load(&cfg, m->src, kf_git_source_head(m->src), err);
	if (rc)
		goto out;
	env = kf_repo_config_env(cfg, m->env);
	if (!env) {
		rc = kf_err_set(err, KF_EINVAL, "kfboot.yaml: no environment '%s'", m->env);
		goto out;
	}
	if (!m->k) {
		rc = kf_err_set(err, KF_EUSAGE, "the run record is in the cluster: pass --kubeconfig");
		goto out;
	}
	ns = m->run_ns ? m->run_ns : env->namespace ? env->namespace : "default";
	path = kf_xasprintf("/api/v1/namespaces/%s/configmaps/kfboot-run-%s", ns, m->run);
	rc = kf_kube_get_json(m->k, path, true, &cm, err);
	if (rc)
		goto out;
	if (!cm) {
		rc = kf_err_set(err, KF_ENOENT, "no run record %s/kfboot-run-%s (the run's last step writes it)", ns, m->run);
		goto out;
	}
	{
		const json_t *data = json_object_get(cm, "data");
		json_error_t je;

		metrics = json_loads(json_string_value(json_object_get(data, "metrics.json")) ?: "{}", 0, &je);
		model = json_loads(json_string_value(json_object_get(data, "model.json")) ?: "", 0, &je);
		if (!json_is_object(metrics) || !json_is_object(model) ||
		    !json_string_value(json_object_get(model, "uri")) || !json_string_value(json_object_get(model, "format"))) {
			rc = kf_err_set(err, KF_EINVAL, "run record %s/kfboot-run-%s: needs metrics.json (an object) and "
					"model.json {uri, format}", ns, m->run);
			goto out;
		}
	}
	journal_lookup(m->k, m->env, m->run, &commit, &pipeline);
	rec.run_id = m->run;
	rec.uri = json_string_value(json_object_get(model, "uri"));
	rec.format = json_string_value(json_object_get(model, "format"));
	rec.metrics = metrics;
	rec.source_commit = commit && *commit ? commit : NULL;
	rec.pipeline = pipeline;
	rc = kf_models_register(&m->target, &pu, m->pos[1], &rec, &r, err);
	if (rc)
		goto out;
	if (kf_cli_structured(cli)) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s?, s:i, s:b}", "model", m->pos[1], "version", r.version, "run",
				      m->run, "existed", r.existed, "commit",
				      *r.push.commit && !m->dry_run ? r.push.commit : NULL, "attempts", r.push.attempts,
				      "dryRun", m->dry_run);
		json_t *pe = json_array();

		for (size_t i = 0; i < r.npinned; i++)
			json_array_append_new(pe, json_string(r.pinned_envs[i]));
		json_object_set_new(o, "pinned", pe);
		if (r.message)
			json_object_set_new(o, "message", json_string(r.message));
		kf_cli_print_json(o);
		json_decref(o);
	} else if (r.existed) {
		printf("run %s is already registered as %s %s: nothing to do\n", m->run, m->pos[1], r.version);
	} else if (m->dry_run) {
		printf("%s\ndry run: nothing committed\n", r.message);
	} else {
		printf("registered %s %s from run %s: commit %.12s pushed", m->pos[1], r.version, m->run, r.push.commit);
		for (size_t i = 0; i < r.npinned; i++)
			printf("%s%s", i ? ", " : "; pinned in ", r.pinned_envs[i]);
		printf("\n");
	}
out:
	kf_register_result_release(&r);
	json_decref(cm);
	json_decref(metrics);
	json_decref(model);
	free(path);
	free(commit);
	free(pipeline);
	kf_repo_config_free(cfg);
	return rc;
}

static int run_models(int argc, char **argv, struct kf_cli *cli)
{
	struct kf_models_cli m = { 0 };
	struct kf_repo_config *cfg = NULL;
	struct kf_err *err = NULL;
	json_t *all = json_array();
	bool reg;
	int rc, ex = KF_EXIT_OK;

	if (kf_cli_wants_help(argc, argv))
		return kf_cli_help(&kf_cmd_models);
	rc = kf_models_cli_parse(&m, &kf_cmd_models, "run,env,run-namespace,dry-run,author,domain,ingress", cli, argc, argv);
	if (rc)
		return rc;
	reg = m.npos && !strcmp(m.pos[0], "register");
	if (reg && (m.npos != 2 || !m.run || !m.env))
		return kf_cli_usage(cli, &kf_cmd_models, "usage: kfboot models register MODEL --run ID --env ENV");
	if (!reg && m.npos > 1)
		return kf_cli_usage(cli, &kf_cmd_models, "name at most one model");
	rc = kf_models_cli_open(&m, &err);
	if (rc)
		goto fail;
	if (reg) {
		rc = run_register(&m, cli, &err);
		if (rc)
			goto fail;
		goto out;
	}
	rc = kf_repo_config_load(&cfg, m.src, kf_git_source_head(m.src), &err);
	if (rc)
		goto fail;
	for (size_t i = 0; i < cfg->nmodels; i++) {
		json_t *o;

		if (m.npos && strcmp(cfg->models[i].name, m.pos[0]))
			continue;
		o = model_json(&m, cfg, &cfg->models[i], &err);
		if (!o)
			goto fail;
		json_array_append_new(all, o);
	}
	if (m.npos && !json_array_size(all)) {
		kf_err_set(&err, KF_ENOENT, "kfboot.yaml: no model '%s'", m.pos[0]);
		goto fail;
	}
	if (kf_cli_structured(cli)) {
		kf_cli_print_json(all);
	} else {
		size_t i;
		json_t *o;

		json_array_foreach(all, i, o)
			print_model(o);
		if (!json_array_size(all))
			printf("no models in kfboot.yaml\n");
	}
	goto out;
fail:
	ex = kf_cli_fail(cli, err);
out:
	json_decref(all);
	kf_repo_config_free(cfg);
	kf_err_free(err);
	kf_models_cli_release(&m);
	return ex;
}

const struct kf_cmd kf_cmd_models = {
	.name = "models",
	.run = run_models,
	.summary = "model versions, pins, live serving; register a run's model (write-back)",
	.usage =
		"usage: kfboot models [MODEL] [--repo URL|PATH] [--branch B] [--kubeconfig FILE] [-o json]\n"
		"       kfboot models register MODEL --run ID --env ENV [--repo URL|PATH] [--kubeconfig FILE]\n"
		"                      [--dry-run[=client]] [--author \"Name <email>\"] [-o json]\n"
		"\n"
		"The first form lists every version of the models in kfboot.yaml (metrics,\n"
		"source run), which environment pins which (and any canary), and with a\n"
		"cluster the live InferenceService of each environment: health (Argo CD's\n"
		"rule: healthy, progressing, degraded with the reason, suspended), URL, the\n"
		"version it serves, and a curl line for a V2 inference request through the\n"
		"Kubeflow ingress (Host header from the InferenceService's URL, else\n"
		"Kubeflow's domain template NAME-NAMESPACE.DOMAIN).\n"
		"\n"
		"register (write-back) reads the run record ConfigMap kfboot-run-ID in the\n"
		"environment's namespace (metrics.json, model.json {uri, format}) and the\n"
		"source commit from the retraining journal, appends the next version to\n"
		"the model file and pins it in every environment with autoPin: true, in\n"
		"one commit with trailers Kfboot-Model, Kfboot-Source-Commit and Kfboot-Run.\n"
		"A run already registered (source.run) registers nothing.\n"
		"\n"
		"options:\n"
		"  --repo URL|PATH        the GitOps repository (default: the current\n"
		"                         clone's origin remote)\n"
		"  --branch B             its branch (default: main)\n"
		"  --kubeconfig FILE      the cluster (live serving; run records)\n"
		"  --context NAME         kubeconfig context\n"
		"  --domain D             Kubeflow's ingress domain (default: example.com)\n"
		"  --ingress HOST:PORT    where the Kubeflow ingress answers (default:\n"
		"                         localhost:8080, after kubectl port-forward -n\n"
		"                         istio-system svc/istio-ingressgateway 8080:80)\n"
		"  --run ID, --env ENV    register: the run and the environment it ran for\n"
		"  --run-namespace NS     register: where the run record is (default: the\n"
		"                         environment's namespace)\n"
		"  --dry-run[=MODE]       register: client (the default): print the commit message;\n"
		"                         commit nothing; none: a real run\n"
		"  --author \"N <E>\"     commit author (default: kfboot <kfboot@localhost>)\n"
		"  --state-dir DIR        git cache (default: ~/.local/state/kfboot)\n"
		KF_GIT_CRED_HELP
		"  -o json                the result as JSON\n",
};
