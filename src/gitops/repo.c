/*
 * repo.c - the repository config, kfboot.yaml (`kind: Repository`): parsed
 * from YAML with positions and validated the way profiles are: every
 * problem at once, each with file:line:col, unknown fields are errors (with
 * a "did you mean"), wrong types say what was expected.
 *
 * Environments (name, context, namespace, paths, substitute, prune,
 * autoPin, timeout, promotion with gates and soak), the KFP endpoint,
 * pipelines (package, watch pathspecs, experiment, parameters, the
 * environments they run for, concurrency, schedule) and models (versions
 * file, serving template) are all read here, even though retraining,
 * promotion and serving are built elsewhere: a typo in any of them is
 * caught before anything is applied.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gitops.h"

struct ctx {
	struct kf_yaml_docs *docs;
	struct kf_diags *dg;
	const char *file;
};

static struct kf_pos pos_of(struct ctx *x, const json_t *node)
{
	struct kf_pos p = { x->file, 1, 1 };

	if (node)
		kf_yaml_pos(x->docs, node, &p);
	return p;
}

static struct kf_pos key_pos(struct ctx *x, const json_t *obj, const char *key)
{
	struct kf_pos p = pos_of(x, obj);

	kf_yaml_member_pos(x->docs, obj, key, &p, NULL);
	return p;
}

static struct kf_pos val_pos(struct ctx *x, const json_t *obj, const char *key)
{
	struct kf_pos p = pos_of(x, obj);

	kf_yaml_member_pos(x->docs, obj, key, NULL, &p);
	return p;
}

static void KF_PRINTF(3, 4) problem(struct ctx *x, struct kf_pos p, const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	m = kf_xvasprintf(fmt, ap);
	va_end(ap);
	kf_diags_add(x->dg, p.file ? p.file : x->file, p.line, p.col, "%s", m);
	free(m);
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "a mapping";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static json_t *member(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return v && !json_is_null(v) ? v : NULL;
}

static void check_fields(struct ctx *x, const json_t *obj, const char *path,
			 const char *const *known, size_t n)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		bool found = false;
		const char *guess;

		for (size_t i = 0; i < n && !found; i++)
			found = !strcmp(key, known[i]);
		if (found)
			continue;
		guess = kf_suggest(key, known, n);
		problem(x, key_pos(x, obj, key), "unknown field '%s' %s%s%s%s%s", key,
			*path ? "in " : "at the top level", path,
			guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "");
	}
}

/* A string member; NULL when absent or wrong (reported). */
static const char *get_str(struct ctx *x, const json_t *o, const char *path, const char *key,
			   bool required, struct kf_pos parent)
{
	json_t *v = member(o, key);

	if (!v) {
		if (required)
			problem(x, parent, "%s%smissing required field '%s'", path, *path ? ": " : "", key);
		return NULL;
	}
	if (!json_is_string(v)) {
		problem(x, val_pos(x, o, key), "%s.%s: expected a string, got %s%s", path, key, type_name(v),
			json_is_number(v) || json_is_boolean(v) ? " (put it in quotes to keep it as text)" : "");
		return NULL;
	}
	if (!*json_string_value(v)) {
		problem(x, val_pos(x, o, key), "%s.%s: must not be empty", path, key);
		return NULL;
	}
	return json_string_value(v);
}

static char *dup_str(const char *s) { return s ? kf_xstrdup(s) : NULL; }

static int get_bool(struct ctx *x, const json_t *o, const char *path, const char *key, bool *out)
{
	json_t *v = member(o, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		problem(x, val_pos(x, o, key), "%s.%s: expected true or false, got %s", path, key, type_name(v));
		return -1;
	}
	*out = json_is_true(v);
	return 1;
}

static int get_duration(struct ctx *x, const json_t *o, const char *path, const char *key, double *out)
{
	json_t *v = member(o, key);
	double d;

	if (!v)
		return 0;
	if (json_is_number(v)) {
		d = json_number_value(v);
	} else if (!json_is_string(v) || kf_duration_parse(json_string_value(v), &d) < 0) {
		problem(x, val_pos(x, o, key), "%s.%s: invalid duration%s%s%s (write a number and a unit: 10s, 1m, 1h30m)", path, key,
			json_is_string(v) ? " '" : "", json_is_string(v) ? json_string_value(v) : "", json_is_string(v) ? "'" : "");
		return -1;
	}
	if (!isfinite(d) || d <= 0) {
		problem(x, val_pos(x, o, key), "%s.%s: duration must be greater than zero", path, key);
		return -1;
	}
	*out = d;
	return 1;
}

static json_t *get_typed(struct ctx *x, const json_t *o, const char *path, const char *key, json_type t)
{
	json_t *v = member(o, key);

	if (!v)
		return NULL;
	if (json_typeof(v) != t) {
		problem(x, val_pos(x, o, key), "%s.%s: expected %s, got %s", path, key,
			t == JSON_OBJECT ? "a mapping" : "a list", type_name(v));
		return NULL;
	}
	return v;
}

/* A list of non-empty strings. */
static char **get_strings(struct ctx *x, const json_t *o, const char *path, const char *key, size_t *n)
{
	json_t *arr = get_typed(x, o, path, key, JSON_ARRAY), *it;
	char **v = NULL;
	size_t i;

	*n = 0;
	if (!arr)
		return NULL;
	v = kf_xcalloc(json_array_size(arr) + 1, sizeof(*v));
	json_array_foreach(arr, i, it) {
		struct kf_pos p = pos_of(x, arr);

		kf_yaml_index_pos(x->docs, arr, i, &p);
		if (!json_is_string(it) || !*json_string_value(it)) {
			problem(x, p, "%s.%s[%zu]: expected a non-empty string, got %s", path, key, i,
				json_is_string(it) ? "an empty string" : type_name(it));
			continue;
		}
		v[(*n)++] = kf_xstrdup(json_string_value(it));
	}
	return v;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool dns_label(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	return true;
}

/* A repository-relative path: no leading '/', no '..' component. */
static bool repo_path_ok(const char *p)
{
	const char *c = p;

	if (p[0] == '/')
		return false;
	while (*c) {
		size_t len = strcspn(c, "/");

		if (len == 2 && c[0] == '.' && c[1] == '.')
			return false;
		c += len;
		if (*c == '/')
			c++;
	}
	return true;
}

static void check_path(struct ctx *x, struct kf_pos p, const char *field, const char *v)
{
	if (!repo_path_ok(v))
		problem(x, p, "%s: '%s' must be a path inside the repository (relative, without '..')", field, v);
}

static char *norm_repo_path(const char *p)
{
	char *s;
	size_t n;

	while (p[0] == '.' && p[1] == '/')
		p += 2;
	if (!strcmp(p, "."))
		p = "";
	s = kf_xstrdup(p);
	n = strlen(s);
	while (n && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

static bool var_name_ok(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

static void parse_gates(struct ctx *x, const json_t *prom, const char *path, struct kf_repo_promotion *pr)
{
	static const char *const gate_fields[] = { "metric", "min", "max" };
	json_t *gates = get_typed(x, prom, path, "gates", JSON_ARRAY), *g;
	size_t i;

	if (!gates)
		return;
	pr->gates = kf_xcalloc(json_array_size(gates) + 1, sizeof(*pr->gates));
	json_array_foreach(gates, i, g) {
		struct kf_repo_gate *gt = &pr->gates[pr->ngates];
		char gp[320];
		struct kf_pos p = pos_of(x, gates);
		json_t *v;

		kf_yaml_index_pos(x->docs, gates, i, &p);
		snprintf(gp, sizeof(gp), "%s.gates[%zu]", path, i);
		if (!json_is_object(g)) {
			problem(x, p, "%s: expected a mapping, got %s", gp, type_name(g));
			continue;
		}
		check_fields(x, g, gp, gate_fields, KF_ARRAY_SIZE(gate_fields));
		gt->pos = p;
		gt->metric = dup_str(get_str(x, g, gp, "metric", true, p));
		if ((v = member(g, "min"))) {
			if (json_is_number(v))
				gt->min = json_number_value(v), gt->has_min = true;
			else
				problem(x, val_pos(x, g, "min"), "%s.min: expected a number, got %s", gp, type_name(v));
		}
		if ((v = member(g, "max"))) {
			if (json_is_number(v))
				gt->max = json_number_value(v), gt->has_max = true;
			else
				problem(x, val_pos(x, g, "max"), "%s.max: expected a number, got %s", gp, type_name(v));
		}
		if (!member(g, "min") && !member(g, "max"))
			problem(x, p, "%s: a gate needs 'min' or 'max'", gp);
		else if (gt->has_min && gt->has_max && gt->min > gt->max)
			problem(x, p, "%s: min %g is greater than max %g", gp, gt->min, gt->max);
		pr->ngates++;
	}
}

static void parse_env(struct ctx *x, const json_t *e, struct kf_pos p, size_t idx, struct kf_repo_env *env)
{
	static const char *const fields[] = { "name", "context", "namespace", "paths", "substitute", "prune",
					      "autoPin", "promotion", "timeout" };
	static const char *const prom_fields[] = { "from", "gates", "soak", "auto" };
	char path[96], pp[160];
	const char *s;
	json_t *sub, *prom, *v;
	const char *key;

	snprintf(path, sizeof(path), "spec.environments[%zu]", idx);
	env->pos = p;
	env->timeout = 300;
	check_fields(x, e, path, fields, KF_ARRAY_SIZE(fields));
	s = get_str(x, e, path, "name", true, p);
	if (s && !dns_label(s))
		problem(x, val_pos(x, e, "name"), "%s.name: '%s' is not a valid name (lower-case letters, digits and '-', at most 63)", path, s);
	env->name = dup_str(s);
	env->context = dup_str(get_str(x, e, path, "context", false, p));
	s = get_str(x, e, path, "namespace", false, p);
	if (s && !dns_label(s))
		problem(x, val_pos(x, e, "namespace"), "%s.namespace: '%s' is not a valid namespace name", path, s);
	env->namespace = dup_str(s);
	if (!member(e, "paths")) {
		problem(x, p, "%s: missing required field 'paths'", path);
	} else {
		char **paths = get_strings(x, e, path, "paths", &env->npaths);
		json_t *arr = member(e, "paths");

		env->paths = paths;
		for (size_t i = 0; i < env->npaths; i++) {
			struct kf_pos ip = pos_of(x, arr);
			char f[256];

			kf_yaml_index_pos(x->docs, arr, i, &ip);
			snprintf(f, sizeof(f), "%s.paths[%zu]", path, i);
			check_path(x, ip, f, paths[i]);
			{
				char *n = norm_repo_path(paths[i]);

				free(paths[i]);
				paths[i] = n;
			}
		}
		if (json_is_array(arr) && !json_array_size(arr))
			problem(x, val_pos(x, e, "paths"), "%s.paths: list at least one path", path);
	}
	sub = get_typed(x, e, path, "substitute", JSON_OBJECT);
	if (sub) {
		size_t n = json_object_size(sub);

		env->sub_keys = kf_xcalloc(n + 1, sizeof(char *));
		env->sub_vals = kf_xcalloc(n + 1, sizeof(char *));
		json_object_foreach(sub, key, v) {
			char buf[64];
			const char *val = NULL;

			if (!var_name_ok(key)) {
				problem(x, key_pos(x, sub, key), "%s.substitute: '%s' is not a variable name (letters, digits and '_', not starting with a digit)", path, key);
				continue;
			}
			if (json_is_string(v)) {
				val = json_string_value(v);
			} else if (json_is_integer(v)) {
				snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
				val = buf;
			} else if (json_is_real(v)) {
				snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
				val = buf;
			} else if (json_is_boolean(v)) {
				val = json_is_true(v) ? "true" : "false";
			} else {
				problem(x, val_pos(x, sub, key), "%s.substitute.%s: expected a string, got %s", path, key, type_name(v));
				continue;
			}
			env->sub_keys[env->nsub] = kf_xstrdup(key);
			env->sub_vals[env->nsub++] = kf_xstrdup(val);
		}
	}
	get_bool(x, e, path, "prune", &env->prune);
	get_bool(x, e, path, "autoPin", &env->auto_pin);
	get_duration(x, e, path, "timeout", &env->timeout);
	prom = get_typed(x, e, path, "promotion", JSON_OBJECT);
	if (prom) {
		struct kf_pos pp2 = val_pos(x, e, "promotion");

		snprintf(pp, sizeof(pp), "%s.promotion", path);
		env->has_promotion = true;
		check_fields(x, prom, pp, prom_fields, KF_ARRAY_SIZE(prom_fields));
		env->promotion.from = dup_str(get_str(x, prom, pp, "from", true, pp2));
		parse_gates(x, prom, pp, &env->promotion);
		get_duration(x, prom, pp, "soak", &env->promotion.soak);
		get_bool(x, prom, pp, "auto", &env->promotion.automatic);
	}
}

static void parse_pipeline(struct ctx *x, const json_t *pl, struct kf_pos p, size_t idx, struct kf_repo_pipeline *out)
{
	static const char *const fields[] = { "name", "package", "watch", "experiment", "parameters", "environments",
					      "concurrency", "schedule" };
	static const char *const sched_fields[] = { "cron", "interval", "maxConcurrency", "catchup", "enabled" };
	static const char *const conc[] = { "skip", "queue", "replace" };
	char path[96], sp[160];
	const char *s;
	json_t *params, *sched, *v;

	snprintf(path, sizeof(path), "spec.pipelines[%zu]", idx);
	out->pos = p;
	check_fields(x, pl, path, fields, KF_ARRAY_SIZE(fields));
	s = get_str(x, pl, path, "name", true, p);
	if (s && !dns_label(s))
		problem(x, val_pos(x, pl, "name"), "%s.name: '%s' is not a valid name (lower-case letters, digits and '-', at most 63)", path, s);
	out->name = dup_str(s);
	s = get_str(x, pl, path, "package", true, p);
	if (s) {
		char f[256];

		snprintf(f, sizeof(f), "%s.package", path);
		check_path(x, val_pos(x, pl, "package"), f, s);
	}
	out->package = dup_str(s);
	out->watch = get_strings(x, pl, path, "watch", &out->nwatch);
	s = get_str(x, pl, path, "experiment", false, p);
	out->experiment = dup_str(s ? s : out->name);
	params = get_typed(x, pl, path, "parameters", JSON_OBJECT);
	out->parameters = params ? json_deep_copy(params) : json_object();
	out->environments = get_strings(x, pl, path, "environments", &out->nenvironments);
	out->concurrency = KF_CONC_SKIP;
	s = get_str(x, pl, path, "concurrency", false, p);
	if (s) {
		size_t i;

		for (i = 0; i < 3 && strcmp(s, conc[i]); i++)
			;
		if (i < 3)
			out->concurrency = (enum kf_concurrency)i;
		else
			problem(x, val_pos(x, pl, "concurrency"), "%s.concurrency: unknown value '%s' (expected skip, queue or replace)", path, s);
	}
	sched = get_typed(x, pl, path, "schedule", JSON_OBJECT);
	if (sched) {
		struct kf_pos spos = val_pos(x, pl, "schedule");

		snprintf(sp, sizeof(sp), "%s.schedule", path);
		out->has_schedule = true;
		out->schedule.max_concurrency = 1;
		out->schedule.enabled = true;
		check_fields(x, sched, sp, sched_fields, KF_ARRAY_SIZE(sched_fields));
		/* cron or interval (KFP's cron_schedule / periodic_schedule) */
		if (member(sched, "interval")) {
			if (member(sched, "cron"))
				problem(x, val_pos(x, sched, "interval"), "%s: give cron or interval, not both", sp);
			if (get_duration(x, sched, sp, "interval", &out->schedule.interval) > 0 && out->schedule.interval < 1)
				problem(x, val_pos(x, sched, "interval"), "%s.interval: must be at least 1s", sp);
		}
		get_bool(x, sched, sp, "enabled", &out->schedule.enabled);
		s = get_str(x, sched, sp, "cron", !member(sched, "interval"), spos);
		if (s) {
			int fields_n = 0;
			bool in = false;

			for (const char *c = s; *c; c++) {
				if (!isspace((unsigned char)*c) && !in)
					fields_n++;
				in = !isspace((unsigned char)*c);
			}
			if (fields_n != 6)
				problem(x, val_pos(x, sched, "cron"), "%s.cron: '%s' has %d fields; KFP wants 6 (seconds minutes hours day-of-month month day-of-week)", sp, s, fields_n);
		}
		out->schedule.cron = dup_str(s);
		if ((v = member(sched, "maxConcurrency"))) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10)
				problem(x, val_pos(x, sched, "maxConcurrency"), "%s.maxConcurrency: expected a whole number from 1 to 10", sp);
			else
				out->schedule.max_concurrency = (int)json_integer_value(v);
		}
		get_bool(x, sched, sp, "catchup", &out->schedule.catchup);
	}
}

static void parse_model(struct ctx *x, const json_t *m, struct kf_pos p, size_t idx, struct kf_repo_model *out)
{
	static const char *const fields[] = { "name", "versions", "serving" };
	char path[96], f[256];
	const char *s;

	snprintf(path, sizeof(path), "spec.models[%zu]", idx);
	out->pos = p;
	check_fields(x, m, path, fields, KF_ARRAY_SIZE(fields));
	s = get_str(x, m, path, "name", true, p);
	if (s && !dns_label(s))
		problem(x, val_pos(x, m, "name"), "%s.name: '%s' is not a valid name (lower-case letters, digits and '-', at most 63)", path, s);
	out->name = dup_str(s);
	s = get_str(x, m, path, "versions", true, p);
	if (s) {
		snprintf(f, sizeof(f), "%s.versions", path);
		check_path(x, val_pos(x, m, "versions"), f, s);
	}
	out->versions = dup_str(s);
	s = get_str(x, m, path, "serving", false, p);
	if (s) {
		snprintf(f, sizeof(f), "%s.serving", path);
		check_path(x, val_pos(x, m, "serving"), f, s);
	}
	out->serving = dup_str(s);
}

/* Cross-references: unique names, promotion sources, pipeline envs. */
static void check_refs(struct ctx *x, struct kf_repo_config *c)
{
	for (size_t i = 0; i < c->nenvs; i++) {
		struct kf_repo_env *e = &c->envs[i];

		if (!e->name)
			continue;
		for (size_t j = 0; j < i; j++)
			if (c->envs[j].name && !strcmp(c->envs[j].name, e->name))
				problem(x, e->pos, "spec.environments[%zu]: environment '%s' is defined twice (first at line %d)",
					i, e->name, c->envs[j].pos.line);
		if (e->has_promotion && e->promotion.from) {
			if (!strcmp(e->promotion.from, e->name))
				problem(x, e->pos, "spec.environments[%zu].promotion.from: an environment cannot promote from itself", i);
			else if (!kf_repo_config_env(c, e->promotion.from))
				problem(x, e->pos, "spec.environments[%zu].promotion.from: unknown environment '%s'", i, e->promotion.from);
		}
	}
	for (size_t i = 0; i < c->npipelines; i++) {
		struct kf_repo_pipeline *p = &c->pipelines[i];

		for (size_t j = 0; p->name && j < i; j++)
			if (c->pipelines[j].name && !strcmp(c->pipelines[j].name, p->name))
				problem(x, p->pos, "spec.pipelines[%zu]: pipeline '%s' is defined twice", i, p->name);
		for (size_t j = 0; j < p->nenvironments; j++)
			if (!kf_repo_config_env(c, p->environments[j]))
				problem(x, p->pos, "spec.pipelines[%zu].environments: unknown environment '%s'", i, p->environments[j]);
	}
	for (size_t i = 0; i < c->nmodels; i++)
		for (size_t j = 0; c->models[i].name && j < i; j++)
			if (c->models[j].name && !strcmp(c->models[j].name, c->models[i].name))
				problem(x, c->models[i].pos, "spec.models[%zu]: model '%s' is defined twice", i, c->models[i].name);
}

const struct kf_repo_env *kf_repo_config_env(const struct kf_repo_config *c, const char *name)
{
	for (size_t i = 0; i < c->nenvs; i++)
		if (c->envs[i].name && !strcmp(c->envs[i].name, name))
			return &c->envs[i];
	return NULL;
}

int kf_repo_config_parse(struct kf_repo_config **out, const char *name, const char *data, size_t len,
			 struct kf_diags *diags, struct kf_err **err)
{
	static const char *const top[] = { "apiVersion", "kind", "metadata", "spec" };
	static const char *const spec_fields[] = { "environments", "kfp", "pipelines", "models" };
	static const char *const kfp_fields[] = { "endpoint", "tokenFile" };
	struct kf_repo_config *c = kf_xcalloc(1, sizeof(*c));
	struct ctx x = { NULL, diags, name };
	size_t before = diags->n;
	struct kf_err *e = NULL;
	json_t *doc, *spec, *arr, *it, *kfp;
	const char *s;
	size_t i;
	int rc = 0;

	*out = NULL;
	c->file = kf_xstrdup(name);
	if (kf_yaml_load_buf(&x.docs, name, data, len, NULL, &e) < 0) {
		char *m = kf_err_str(e);

		kf_diags_add(diags, NULL, 0, 0, "%s", m);
		free(m);
		kf_err_free(e);
		goto out;
	}
	if (kf_yaml_count(x.docs) != 1 || !json_is_object(kf_yaml_doc(x.docs, 0))) {
		struct kf_pos p = kf_yaml_count(x.docs) ? kf_yaml_doc_pos(x.docs, kf_yaml_count(x.docs) > 1 ? 1 : 0) : (struct kf_pos){ name, 1, 1 };

		problem(&x, p, "%s", kf_yaml_count(x.docs) > 1 ? "expected one document, found several"
								 : "expected a mapping with apiVersion, kind and spec");
		goto out;
	}
	doc = kf_yaml_doc(x.docs, 0);
	check_fields(&x, doc, "", top, KF_ARRAY_SIZE(top));
	s = get_str(&x, doc, "", "apiVersion", true, pos_of(&x, doc));
	if (s && strcmp(s, "kfboot.io/v1alpha1"))
		problem(&x, val_pos(&x, doc, "apiVersion"), "apiVersion: expected 'kfboot.io/v1alpha1', got '%s'", s);
	s = get_str(&x, doc, "", "kind", true, pos_of(&x, doc));
	if (s && strcmp(s, "Repository"))
		problem(&x, val_pos(&x, doc, "kind"), "kind: expected 'Repository', got '%s'%s", s,
			!strcmp(s, "Cluster") ? " (this is a cluster profile: the repository's kfboot.yaml has kind: Repository)" : "");
	get_typed(&x, doc, "", "metadata", JSON_OBJECT);
	spec = get_typed(&x, doc, "", "spec", JSON_OBJECT);
	if (!spec) {
		if (!member(doc, "spec"))
			problem(&x, pos_of(&x, doc), "missing required field 'spec'");
		goto out;
	}
	check_fields(&x, spec, "spec", spec_fields, KF_ARRAY_SIZE(spec_fields));
	arr = get_typed(&x, spec, "spec", "environments", JSON_ARRAY);
	if (!member(spec, "environments"))
		problem(&x, key_pos(&x, doc, "spec"), "spec: missing required field 'environments'");
	else if (arr && !json_array_size(arr))
		problem(&x, val_pos(&x, spec, "environments"), "spec.environments: list at least one environment");
	if (arr) {
		c->envs = kf_xcalloc(json_array_size(arr) + 1, sizeof(*c->envs));
		json_array_foreach(arr, i, it) {
			struct kf_pos p = pos_of(&x, arr);

			kf_yaml_index_pos(x.docs, arr, i, &p);
			if (!json_is_object(it)) {
				problem(&x, p, "spec.environments[%zu]: expected a mapping, got %s", i, type_name(it));
				continue;
			}
			parse_env(&x, it, p, i, &c->envs[c->nenvs++]);
		}
	}
	kfp = get_typed(&x, spec, "spec", "kfp", JSON_OBJECT);
	if (kfp) {
		check_fields(&x, kfp, "spec.kfp", kfp_fields, KF_ARRAY_SIZE(kfp_fields));
		s = get_str(&x, kfp, "spec.kfp", "endpoint", false, pos_of(&x, kfp));
		if (s && strncmp(s, "http://", 7) && strncmp(s, "https://", 8))
			problem(&x, val_pos(&x, kfp, "endpoint"), "spec.kfp.endpoint: '%s' must be an http:// or https:// URL", s);
		c->kfp.endpoint = dup_str(s);
		c->kfp.token_file = dup_str(get_str(&x, kfp, "spec.kfp", "tokenFile", false, pos_of(&x, kfp)));
	}
	if (!c->kfp.endpoint)
		c->kfp.endpoint = kf_xstrdup("http://ml-pipeline.kubeflow.svc.cluster.local:8888");
	arr = get_typed(&x, spec, "spec", "pipelines", JSON_ARRAY);
	if (arr) {
		c->pipelines = kf_xcalloc(json_array_size(arr) + 1, sizeof(*c->pipelines));
		json_array_foreach(arr, i, it) {
			struct kf_pos p = pos_of(&x, arr);

			kf_yaml_index_pos(x.docs, arr, i, &p);
			if (!json_is_object(it)) {
				problem(&x, p, "spec.pipelines[%zu]: expected a mapping, got %s", i, type_name(it));
				continue;
			}
			parse_pipeline(&x, it, p, i, &c->pipelines[c->npipelines++]);
		}
	}
	arr = get_typed(&x, spec, "spec", "models", JSON_ARRAY);
	if (arr) {
		c->models = kf_xcalloc(json_array_size(arr) + 1, sizeof(*c->models));
		json_array_foreach(arr, i, it) {
			struct kf_pos p = pos_of(&x, arr);

			kf_yaml_index_pos(x.docs, arr, i, &p);
			if (!json_is_object(it)) {
				problem(&x, p, "spec.models[%zu]: expected a mapping, got %s", i, type_name(it));
				continue;
			}
			parse_model(&x, it, p, i, &c->models[c->nmodels++]);
		}
	}
	check_refs(&x, c);
out:
	/* Positions in the config point into the docs' file name: re-point
	 * them at c->file, which lives as long as the config. */
	for (i = 0; i < c->nenvs; i++)
		c->envs[i].pos.file = c->file;
	for (i = 0; i < c->npipelines; i++)
		c->pipelines[i].pos.file = c->file;
	for (i = 0; i < c->nmodels; i++)
		c->models[i].pos.file = c->file;
	for (i = 0; i < c->nenvs; i++)
		for (size_t j = 0; j < c->envs[i].promotion.ngates; j++)
			c->envs[i].promotion.gates[j].pos.file = c->file;
	kf_yaml_free(x.docs);
	if (diags->n > before) {
		rc = kf_err_set(err, KF_EINVAL, "%s: %zu problem(s)", name, diags->n - before);
		kf_repo_config_free(c);
	} else {
		*out = c;
	}
	return rc;
}

void kf_repo_config_free(struct kf_repo_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nenvs; i++) {
		struct kf_repo_env *e = &c->envs[i];

		free(e->name);
		free(e->context);
		free(e->namespace);
		free_strings(e->paths, e->npaths);
		free_strings(e->sub_keys, e->nsub);
		free_strings(e->sub_vals, e->nsub);
		free(e->promotion.from);
		for (size_t j = 0; j < e->promotion.ngates; j++)
			free(e->promotion.gates[j].metric);
		free(e->promotion.gates);
	}
	free(c->envs);
	for (size_t i = 0; i < c->npipelines; i++) {
		struct kf_repo_pipeline *p = &c->pipelines[i];

		free(p->name);
		free(p->package);
		free_strings(p->watch, p->nwatch);
		free(p->experiment);
		json_decref(p->parameters);
		free_strings(p->environments, p->nenvironments);
		free(p->schedule.cron);
	}
	free(c->pipelines);
	for (size_t i = 0; i < c->nmodels; i++) {
		free(c->models[i].name);
		free(c->models[i].versions);
		free(c->models[i].serving);
	}
	free(c->models);
	free(c->kfp.endpoint);
	free(c->kfp.token_file);
	free(c->file);
	free(c);
}

int kf_repo_config_load(struct kf_repo_config **out, struct kf_git_source *src, const char *commit,
			struct kf_err **err)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	int rc;

	*out = NULL;
	rc = kf_git_source_read(src, commit, KF_REPO_CONFIG_FILE, &b, err);
	if (rc) {
		if (rc == KF_ENOENT)
			rc = kf_err_set(err, KF_EINVAL, "commit %.12s has no %s at the repository root", commit, KF_REPO_CONFIG_FILE);
		goto out;
	}
	rc = kf_repo_config_parse(out, KF_REPO_CONFIG_FILE, b.buf, b.len, &dg, err);
	if (rc && dg.n) {
		struct kf_buf m = KF_BUF_INIT;

		kf_diags_sort(&dg);
		for (size_t i = 0; i < dg.n; i++) {
			char *s = kf_diag_str(&dg.v[i]);

			kf_buf_addf(&m, "%s%s", i ? "; " : "", s);
			free(s);
		}
		rc = kf_err_set(err, KF_EINVAL, "commit %.12s: %s", commit, m.buf);
		kf_buf_release(&m);
	}
out:
	kf_diags_release(&dg);
	kf_buf_release(&b);
	return rc;
}
