/*
 * ir.c - load and check a KFP v2 pipeline package (IR YAML).
 *
 * The package is read with the positioned YAML loader, then checked in one
 * pass that collects every problem with its file:line:col (the user fixes
 * them all at once): the top-level sections, each component and executor,
 * and each DAG (the root and any sub-DAG component) task by task — the
 * component it names, its dependencies (which must exist and form no
 * cycle), its inputs (declared by the component, required ones present,
 * each bound to a pipeline input, a constant or an output of a task it
 * depends on) and the placeholders of the executor's command and args.
 * A valid package keeps the root tasks in dependency order for a runner.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

#define IR_MAX_BYTES (32u << 20) /* the KFP API server's upload limit */
#define IR_MAX_DAG_DEPTH 32

struct kf_kfp_ir {
	char *file;
	struct kf_yaml_docs *docs;
	json_t *spec;
	const char *name, *schema;
	struct kf_kfp_param *params;
	size_t nparams;
	struct kf_kfp_task *tasks;
	size_t ntasks;
};

/* The state of one check. */
struct ck {
	struct kf_kfp_ir *ir;
	struct kf_diags *diags;
	const json_t *components, *executors;
};

static void vadd(struct ck *c, const json_t *node, const json_t *obj,
		 const char *key, const char *fmt, va_list ap) KF_PRINTF(5, 0);

static void vadd(struct ck *c, const json_t *node, const json_t *obj,
		 const char *key, const char *fmt, va_list ap)
{
	struct kf_pos p = { 0 };
	char *msg = kf_xvasprintf(fmt, ap);

	if (obj && key)
		kf_yaml_member_pos(c->ir->docs, obj, key, &p, NULL);
	if (!p.line && node)
		kf_yaml_pos(c->ir->docs, node, &p);
	if (!p.line && obj)
		kf_yaml_pos(c->ir->docs, obj, &p);
	if (!p.line)
		p = kf_yaml_doc_pos(c->ir->docs, 0);
	kf_diags_add(c->diags, c->ir->file, p.line, p.col, "%s", msg);
	free(msg);
}

/* A problem at node (an object or array). */
static void KF_PRINTF(3, 4) at(struct ck *c, const json_t *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(c, node, NULL, NULL, fmt, ap);
	va_end(ap);
}

/* A problem at obj[key] (the key), or at obj when the key is missing. */
static void KF_PRINTF(4, 5) at_key(struct ck *c, const json_t *obj, const char *key,
				   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(c, NULL, obj, key, fmt, ap);
	va_end(ap);
}

/* obj[key] when it is an object; a problem when it is there but is not. */
static const json_t *get_obj(struct ck *c, const json_t *obj, const char *key,
			     const char *where, bool required)
{
	const json_t *v = json_object_get(obj, key);

	if (!v) {
		if (required)
			at(c, obj, "%s: missing '%s'", where, key);
		return NULL;
	}
	if (!json_is_object(v)) {
		at_key(c, obj, key, "%s: '%s' must be a mapping", where, key);
		return NULL;
	}
	return v;
}

static const char *get_str(struct ck *c, const json_t *obj, const char *key,
			   const char *where, bool required)
{
	const json_t *v = json_object_get(obj, key);

	if (!v) {
		if (required)
			at(c, obj, "%s: missing '%s'", where, key);
		return NULL;
	}
	if (!json_is_string(v) || !*json_string_value(v)) {
		at_key(c, obj, key, "%s: '%s' must be a non-empty string", where, key);
		return NULL;
	}
	return json_string_value(v);
}

/* ---- placeholders ------------------------------------------------------ */

static bool ph_name(const char *in, const char *prefix, const char *suffix,
		    struct kf_kfp_ph *ph)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	const char *q, *end;
	char quote;

	if (strncmp(in, prefix, pl))
		return false;
	q = in + pl;
	if (*q != '[' || (q[1] != '\'' && q[1] != '"'))
		return false;
	quote = q[1];
	end = strchr(q + 2, quote);
	if (!end || end[1] != ']' || end == q + 2)
		return false;
	if (strncmp(end + 2, suffix, sl) || strncmp(end + 2 + sl, "}}", 2))
		return false;
	ph->name = q + 2;
	ph->name_len = (size_t)(end - (q + 2));
	return true;
}

const char *kf_kfp_ph_next(const char *s, struct kf_kfp_ph *ph)
{
	static const struct {
		const char *text;
		enum kf_kfp_ph_kind kind;
	} plain[] = {
		{ "{{$}}", KF_KFP_PH_EXECUTOR_INPUT },
		{ "{{$.pipeline_job_uuid}}", KF_KFP_PH_JOB_UUID },
		{ "{{$.pipeline_job_name}}", KF_KFP_PH_JOB_NAME },
		{ "{{$.pipeline_task_name}}", KF_KFP_PH_TASK_NAME },
		{ "{{$.pipeline_task_uuid}}", KF_KFP_PH_TASK_UUID },
		{ "{{$.pipeline_root}}", KF_KFP_PH_ROOT },
	};
	static const struct {
		const char *prefix, *suffix;
		enum kf_kfp_ph_kind kind;
	} named[] = {
		{ "{{$.inputs.parameters", "", KF_KFP_PH_IN_PARAM },
		{ "{{$.inputs.artifacts", ".path", KF_KFP_PH_IN_ART_PATH },
		{ "{{$.inputs.artifacts", ".uri", KF_KFP_PH_IN_ART_URI },
		{ "{{$.outputs.artifacts", ".path", KF_KFP_PH_OUT_ART_PATH },
		{ "{{$.outputs.artifacts", ".uri", KF_KFP_PH_OUT_ART_URI },
		{ "{{$.outputs.parameters", ".output_file", KF_KFP_PH_OUT_PARAM_FILE },
	};
	const char *p = strstr(s, "{{$"), *end;

	if (!p)
		return NULL;
	memset(ph, 0, sizeof(*ph));
	for (size_t i = 0; i < KF_ARRAY_SIZE(plain); i++)
		if (!strncmp(p, plain[i].text, strlen(plain[i].text))) {
			ph->kind = plain[i].kind;
			ph->len = strlen(plain[i].text);
			return p;
		}
	for (size_t i = 0; i < KF_ARRAY_SIZE(named); i++)
		if (ph_name(p, named[i].prefix, named[i].suffix, ph)) {
			ph->kind = named[i].kind;
			ph->len = (size_t)(ph->name + ph->name_len - p) + 2 +
				  strlen(named[i].suffix) + 2;
			return p;
		}
	ph->kind = KF_KFP_PH_OTHER;
	end = strstr(p, "}}");
	ph->len = end ? (size_t)(end + 2 - p) : strlen(p);
	return p;
}

/* Is name declared under comp.<defs>.<section>? */
static bool declared(const json_t *comp, const char *defs, const char *section,
		     const char *name, size_t len)
{
	const json_t *sec = json_object_get(json_object_get(comp, defs), section);
	const char *k;
	const json_t *v;

	json_object_foreach((json_t *)sec, k, v)
		if (strlen(k) == len && !strncmp(k, name, len))
			return true;
	return false;
}

static void check_placeholders(struct ck *c, const char *cname, const json_t *comp,
			       const json_t *container, const char *field)
{
	const json_t *arr = json_object_get(container, field), *v;
	size_t i;

	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v), *p;
		struct kf_kfp_ph ph;

		if (!s)
			continue;
		while ((p = kf_kfp_ph_next(s, &ph)) != NULL) {
			const char *defs = NULL, *sec = NULL, *what = NULL;

			switch (ph.kind) {
			case KF_KFP_PH_IN_PARAM:
				defs = "inputDefinitions", sec = "parameters", what = "input parameter";
				break;
			case KF_KFP_PH_IN_ART_PATH:
			case KF_KFP_PH_IN_ART_URI:
				defs = "inputDefinitions", sec = "artifacts", what = "input artifact";
				break;
			case KF_KFP_PH_OUT_ART_PATH:
			case KF_KFP_PH_OUT_ART_URI:
				defs = "outputDefinitions", sec = "artifacts", what = "output artifact";
				break;
			case KF_KFP_PH_OUT_PARAM_FILE:
				defs = "outputDefinitions", sec = "parameters", what = "output parameter";
				break;
			default:
				break;
			}
			if (defs && !declared(comp, defs, sec, ph.name, ph.name_len))
				at(c, arr, "component '%s': %s[%zu] uses %s '%.*s', which the component does not declare",
				   cname, field, i, what, (int)ph.name_len, ph.name);
			s = p + ph.len;
		}
	}
}

/* ---- sections ------------------------------------------------------------ */

static bool valid_param_type(const char *t)
{
	static const char *const types[] = { "STRING", "NUMBER_INTEGER", "NUMBER_DOUBLE",
					     "BOOLEAN", "LIST", "STRUCT", "TASK_FINAL_STATUS" };

	for (size_t i = 0; i < KF_ARRAY_SIZE(types); i++)
		if (!strcmp(t, types[i]))
			return true;
	return false;
}

static void check_defs(struct ck *c, const json_t *owner, const char *key,
		       const char *where)
{
	const json_t *defs = get_obj(c, owner, key, where, false), *v;
	const json_t *params, *arts;
	const char *k;

	if (!defs)
		return;
	params = get_obj(c, defs, "parameters", where, false);
	arts = get_obj(c, defs, "artifacts", where, false);
	json_object_foreach((json_t *)params, k, v) {
		const char *t;

		if (!json_is_object(v)) {
			at_key(c, params, k, "%s: parameter '%s' must be a mapping", where, k);
			continue;
		}
		t = get_str(c, v, "parameterType", where, true);
		if (t && !valid_param_type(t))
			at_key(c, v, "parameterType", "%s: parameter '%s': unknown parameterType '%s'",
			       where, k, t);
	}
	json_object_foreach((json_t *)arts, k, v) {
		const json_t *at_ = json_is_object(v) ? get_obj(c, v, "artifactType", where, true) : NULL;

		if (!json_is_object(v))
			at_key(c, arts, k, "%s: artifact '%s' must be a mapping", where, k);
		else if (at_ && !json_object_get(at_, "schemaTitle") && !json_object_get(at_, "instanceSchema"))
			at(c, at_, "%s: artifact '%s': artifactType needs a schemaTitle", where, k);
	}
}

static void check_executor(struct ck *c, const char *label, const json_t *ex)
{
	const json_t *ct;
	char *where = kf_xasprintf("executor '%s'", label);

	if (!json_is_object(ex)) {
		at_key(c, c->executors, label, "%s must be a mapping", where);
		goto out;
	}
	ct = json_object_get(ex, "container");
	if (!ct) {
		if (!json_object_get(ex, "importer") && !json_object_get(ex, "resolver"))
			at(c, ex, "%s: needs a container, importer or resolver", where);
		goto out;
	}
	if (!json_is_object(ct)) {
		at_key(c, ex, "container", "%s: container must be a mapping", where);
		goto out;
	}
	get_str(c, ct, "image", where, true);
	for (int f = 0; f < 2; f++) {
		const char *field = f ? "args" : "command";
		const json_t *arr = json_object_get(ct, field), *v;
		size_t i;

		if (!arr)
			continue;
		if (!json_is_array(arr)) {
			at_key(c, ct, field, "%s: '%s' must be a list of strings", where, field);
			continue;
		}
		json_array_foreach(arr, i, v)
			if (!json_is_string(v))
				at(c, arr, "%s: %s[%zu] must be a string", where, field, i);
	}
	if (!json_object_get(ct, "command") && !json_object_get(ct, "args"))
		at(c, ct, "%s: the container has neither command nor args", where);
out:
	free(where);
}

static const json_t *component_of(struct ck *c, const json_t *task, const char *tname,
				  const char **cname)
{
	const json_t *ref = json_object_get(task, "componentRef");
	const char *n = json_string_value(json_object_get(ref, "name"));
	const json_t *comp;

	*cname = NULL;
	if (!json_is_object(ref) || !n) {
		at(c, task, "task '%s': missing componentRef.name", tname);
		return NULL;
	}
	comp = json_object_get(c->components, n);
	if (!comp) {
		at_key(c, ref, "name", "task '%s': component '%s' does not exist", tname, n);
		return NULL;
	}
	*cname = n;
	return json_is_object(comp) ? comp : NULL;
}

static bool in_deps(const json_t *task, const char *producer)
{
	const json_t *deps = json_object_get(task, "dependentTasks"), *d;
	size_t i;

	json_array_foreach(deps, i, d)
		if (json_is_string(d) && !strcmp(json_string_value(d), producer))
			return true;
	return false;
}

/* A taskOutputParameter / taskOutputArtifact binding. */
static void check_producer(struct ck *c, const json_t *tasks, const json_t *task,
			   const char *tname, const json_t *ref, const char *keyfield,
			   const char *section, const char *input)
{
	const char *prod = json_string_value(json_object_get(ref, "producerTask"));
	const char *key = json_string_value(json_object_get(ref, keyfield));
	const json_t *pt;
	const char *pcname;
	const json_t *pcomp;

	if (!prod || !key) {
		at(c, ref, "task '%s': input '%s': needs producerTask and %s", tname, input, keyfield);
		return;
	}
	pt = json_object_get(tasks, prod);
	if (!pt) {
		at_key(c, ref, "producerTask", "task '%s': input '%s': producer task '%s' does not exist",
		       tname, input, prod);
		return;
	}
	if (!in_deps(task, prod))
		at_key(c, ref, "producerTask", "task '%s': input '%s' comes from task '%s', which is not in its dependentTasks",
		       tname, input, prod);
	pcname = json_string_value(json_object_get(json_object_get(pt, "componentRef"), "name"));
	pcomp = pcname ? json_object_get(c->components, pcname) : NULL;
	if (pcomp && !declared(pcomp, "outputDefinitions", section, key, strlen(key)))
		at_key(c, ref, keyfield, "task '%s': input '%s': component '%s' has no output %s '%s'",
		       tname, input, pcname, !strcmp(section, "parameters") ? "parameter" : "artifact", key);
}

static void check_task_inputs(struct ck *c, const json_t *dag_defs, const json_t *tasks,
			      const json_t *task, const char *tname, const json_t *comp,
			      const char *cname)
{
	const json_t *inputs = get_obj(c, task, "inputs", "task", false);

	for (int a = 0; a < 2; a++) {
		const char *section = a ? "artifacts" : "parameters";
		const json_t *given = inputs ? json_object_get(inputs, section) : NULL;
		const json_t *decl = json_object_get(json_object_get(comp, "inputDefinitions"), section);
		const char *k;
		const json_t *v;

		if (given && !json_is_object(given)) {
			at_key(c, inputs, section, "task '%s': inputs.%s must be a mapping", tname, section);
			given = NULL;
		}
		json_object_foreach((json_t *)given, k, v) {
			const json_t *r;

			if (!declared(comp, "inputDefinitions", section, k, strlen(k))) {
				at_key(c, given, k, "task '%s': component '%s' declares no input %s '%s'",
				       tname, cname, a ? "artifact" : "parameter", k);
				continue;
			}
			if (!json_is_object(v)) {
				at_key(c, given, k, "task '%s': input '%s' must be a mapping", tname, k);
				continue;
			}
			if (!a && (r = json_object_get(v, "componentInputParameter"))) {
				const char *n = json_string_value(r);

				if (!n || !declared(dag_defs, "inputDefinitions", "parameters", n, strlen(n)))
					at_key(c, v, "componentInputParameter", "task '%s': input '%s': the pipeline has no input parameter '%s'",
					       tname, k, n ? n : "?");
			} else if (!a && (r = json_object_get(v, "taskOutputParameter"))) {
				check_producer(c, tasks, task, tname, r, "outputParameterKey", "parameters", k);
			} else if (!a && (json_object_get(v, "runtimeValue") || json_object_get(v, "taskFinalStatus"))) {
				const json_t *rv = json_object_get(v, "runtimeValue");

				if (rv && !json_object_get(rv, "constant"))
					at_key(c, v, "runtimeValue", "task '%s': input '%s': runtimeValue needs a constant", tname, k);
			} else if (a && (r = json_object_get(v, "taskOutputArtifact"))) {
				check_producer(c, tasks, task, tname, r, "outputArtifactKey", "artifacts", k);
			} else if (a && (r = json_object_get(v, "componentInputArtifact"))) {
				const char *n = json_string_value(r);

				if (!n || !declared(dag_defs, "inputDefinitions", "artifacts", n, strlen(n)))
					at_key(c, v, "componentInputArtifact", "task '%s': input '%s': the pipeline has no input artifact '%s'",
					       tname, k, n ? n : "?");
			} else {
				at_key(c, given, k, "task '%s': input '%s' has no source (%s)", tname, k,
				       a ? "taskOutputArtifact or componentInputArtifact"
					 : "componentInputParameter, taskOutputParameter or runtimeValue");
			}
		}
		json_object_foreach((json_t *)decl, k, v) {
			bool opt = json_is_true(json_object_get(v, "isOptional")) ||
				   json_object_get(v, "defaultValue");

			if (!opt && !json_object_get(given, k))
				at(c, task, "task '%s': required input %s '%s' of component '%s' is not given",
				   tname, a ? "artifact" : "parameter", k, cname);
		}
	}
}

/* Depth-first search for a dependency cycle; state 1 = on the stack. */
static bool cycle_from(const json_t *tasks, const char *name, json_t *state)
{
	const json_t *deps = json_object_get(json_object_get(tasks, name), "dependentTasks"), *d;
	json_int_t st = json_integer_value(json_object_get(state, name));
	size_t i;

	if (st == 1)
		return true;
	if (st == 2)
		return false;
	json_object_set_new(state, name, json_integer(1));
	json_array_foreach(deps, i, d) {
		const char *n = json_string_value(d);

		if (n && json_object_get(tasks, n) && cycle_from(tasks, n, state))
			return true;
	}
	json_object_set_new(state, name, json_integer(2));
	return false;
}

static void check_dag(struct ck *c, const json_t *owner, const char *where, int depth,
		      json_t *seen)
{
	const json_t *dag = get_obj(c, owner, "dag", where, true);
	const json_t *tasks = dag ? get_obj(c, dag, "tasks", where, true) : NULL, *t;
	const char *tname;

	if (!tasks)
		return;
	if (!json_object_size(tasks))
		at(c, tasks, "%s: the DAG has no tasks", where);
	json_object_foreach((json_t *)tasks, tname, t) {
		const json_t *comp, *deps, *d;
		const char *cname;
		size_t i;

		if (!json_is_object(t)) {
			at_key(c, tasks, tname, "task '%s' must be a mapping", tname);
			continue;
		}
		deps = json_object_get(t, "dependentTasks");
		if (deps && !json_is_array(deps))
			at_key(c, t, "dependentTasks", "task '%s': dependentTasks must be a list", tname);
		json_array_foreach(deps, i, d) {
			const char *n = json_string_value(d);

			if (!n)
				at(c, deps, "task '%s': dependentTasks[%zu] must be a string", tname, i);
			else if (!strcmp(n, tname))
				at(c, deps, "task '%s' depends on itself", tname);
			else if (!json_object_get(tasks, n))
				at(c, deps, "task '%s': depends on task '%s', which does not exist", tname, n);
		}
		comp = component_of(c, t, tname, &cname);
		if (!comp)
			continue;
		check_task_inputs(c, owner, tasks, t, tname, comp, cname);
		if (json_object_get(comp, "dag") && !json_object_get(seen, cname)) {
			char *w = kf_xasprintf("component '%s'", cname);

			json_object_set_new(seen, cname, json_true());
			if (depth >= IR_MAX_DAG_DEPTH)
				at(c, comp, "%s: DAGs nested more than %d deep", w, IR_MAX_DAG_DEPTH);
			else
				check_dag(c, comp, w, depth + 1, seen);
			free(w);
		}
	}
	json_object_foreach((json_t *)tasks, tname, t) {
		json_t *state = json_object();

		if (cycle_from(tasks, tname, state)) {
			at_key(c, tasks, tname, "%s: task '%s' is part of a dependency cycle", where, tname);
			json_decref(state);
			break;
		}
		json_decref(state);
	}
}

static void check_components(struct ck *c)
{
	const char *k;
	const json_t *comp;

	json_object_foreach((json_t *)c->components, k, comp) {
		char *where = kf_xasprintf("component '%s'", k);
		const char *label;

		if (!json_is_object(comp)) {
			at_key(c, c->components, k, "%s must be a mapping", where);
			free(where);
			continue;
		}
		check_defs(c, comp, "inputDefinitions", where);
		check_defs(c, comp, "outputDefinitions", where);
		label = json_string_value(json_object_get(comp, "executorLabel"));
		if (!label && !json_object_get(comp, "dag")) {
			at(c, comp, "%s: needs an executorLabel or a dag", where);
		} else if (label) {
			const json_t *ex = json_object_get(c->executors, label);

			if (!ex) {
				at_key(c, comp, "executorLabel", "%s: executor '%s' does not exist in deploymentSpec.executors",
				       where, label);
			} else if (json_is_object(json_object_get(ex, "container"))) {
				check_placeholders(c, k, comp, json_object_get(ex, "container"), "command");
				check_placeholders(c, k, comp, json_object_get(ex, "container"), "args");
			}
		}
		free(where);
	}
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 128 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* Root tasks in dependency order (Kahn; ties in file order). */
static void order_tasks(struct kf_kfp_ir *ir)
{
	const json_t *tasks = json_object_get(json_object_get(json_object_get(ir->spec, "root"), "dag"), "tasks");
	size_t n = json_object_size(tasks), done = 0;
	bool *placed = kf_xcalloc(n ? n : 1, sizeof(*placed));
	const char **names = kf_xcalloc(n ? n : 1, sizeof(*names));
	const char *k;
	const json_t *t;
	size_t i = 0;

	json_object_foreach((json_t *)tasks, k, t)
		names[i++] = k;
	ir->tasks = kf_xcalloc(n ? n : 1, sizeof(*ir->tasks));
	while (done < n) {
		bool progress = false;

		for (i = 0; i < n; i++) {
			const json_t *task = json_object_get(tasks, names[i]), *deps, *d;
			struct kf_kfp_task *o;
			bool ready = true;
			size_t j;

			if (placed[i])
				continue;
			deps = json_object_get(task, "dependentTasks");
			json_array_foreach(deps, j, d)
				for (size_t m = 0; m < n; m++)
					if (!placed[m] && !strcmp(names[m], json_string_value(d)))
						ready = false;
			if (!ready)
				continue;
			placed[i] = true;
			progress = true;
			o = &ir->tasks[done++];
			o->name = names[i];
			o->task = task;
			o->component = json_string_value(json_object_get(json_object_get(task, "componentRef"), "name"));
			o->comp = json_object_get(json_object_get(ir->spec, "components"), o->component);
			o->executor = json_string_value(json_object_get(o->comp, "executorLabel"));
			if (o->executor) {
				const json_t *ex = json_object_get(json_object_get(json_object_get(ir->spec, "deploymentSpec"), "executors"), o->executor);

				o->container = json_object_get(ex, "container");
				o->image = json_string_value(json_object_get(o->container, "image"));
			}
			o->ndeps = json_array_size(deps);
			o->deps = kf_xcalloc(o->ndeps ? o->ndeps : 1, sizeof(*o->deps));
			json_array_foreach(deps, j, d)
				o->deps[j] = json_string_value(d);
		}
		if (!progress)
			break; /* cannot happen after the cycle check */
	}
	ir->ntasks = done;
	free(placed);
	free(names);
}

static void collect_params(struct kf_kfp_ir *ir)
{
	const json_t *ps = json_object_get(json_object_get(json_object_get(ir->spec, "root"), "inputDefinitions"), "parameters");
	const char *k;
	const json_t *v;
	size_t i = 0;

	ir->params = kf_xcalloc(json_object_size(ps) + 1, sizeof(*ir->params));
	json_object_foreach((json_t *)ps, k, v) {
		struct kf_kfp_param *p = &ir->params[i++];

		p->name = k;
		p->type = json_string_value(json_object_get(v, "parameterType"));
		p->def = json_object_get(v, "defaultValue");
		p->optional = p->def || json_is_true(json_object_get(v, "isOptional"));
	}
	ir->nparams = i;
}

static void check_spec(struct ck *c)
{
	struct kf_kfp_ir *ir = c->ir;
	const json_t *spec = ir->spec, *info, *dep, *root;
	const char *sv;
	json_t *seen;

	sv = get_str(c, spec, "schemaVersion", "pipeline", true);
	if (sv && strcmp(sv, "2.1.0") && strcmp(sv, "2.0.0"))
		at_key(c, spec, "schemaVersion", "schemaVersion '%s' is not supported (2.0.0 or 2.1.0)", sv);
	ir->schema = sv;
	info = get_obj(c, spec, "pipelineInfo", "pipeline", true);
	if (info) {
		ir->name = get_str(c, info, "name", "pipelineInfo", true);
		if (ir->name && !valid_name(ir->name))
			at_key(c, info, "name", "pipelineInfo.name '%s' must be lower-case letters, digits and '-' (at most 128)",
			       ir->name);
	}
	c->components = get_obj(c, spec, "components", "pipeline", true);
	dep = get_obj(c, spec, "deploymentSpec", "pipeline", true);
	c->executors = dep ? get_obj(c, dep, "executors", "deploymentSpec", true) : NULL;
	{
		const char *k;
		const json_t *ex;

		json_object_foreach((json_t *)c->executors, k, ex)
			check_executor(c, k, ex);
	}
	if (c->components)
		check_components(c);
	root = get_obj(c, spec, "root", "pipeline", true);
	if (!root)
		return;
	check_defs(c, root, "inputDefinitions", "root");
	seen = json_object();
	if (c->components)
		check_dag(c, root, "root", 0, seen);
	json_decref(seen);
}

int kf_kfp_ir_check(struct kf_kfp_ir **out, const char *name, const char *data,
		    size_t len, struct kf_diags *diags, struct kf_err **err)
{
	struct kf_kfp_ir *ir = kf_xcalloc(1, sizeof(*ir));
	struct kf_err *yerr = NULL;
	struct ck c = { ir, diags, NULL, NULL };
	size_t before = diags->n;
	int rc;

	*out = NULL;
	ir->file = kf_xstrdup(name);
	if (len > IR_MAX_BYTES) {
		kf_diags_add(diags, name, 0, 0, "the package is larger than %u MiB", IR_MAX_BYTES >> 20);
		rc = KF_ETOOBIG;
		goto out;
	}
	if (kf_yaml_load_buf(&ir->docs, name, data, len, NULL, &yerr) < 0) {
		char *m = kf_err_str(yerr);

		/* The loader's message already starts with name:line:col. */
		kf_diags_add(diags, NULL, 0, 0, "%s", m);
		free(m);
		kf_err_free(yerr);
		rc = KF_EINVAL;
		goto out;
	}
	ir->spec = kf_yaml_count(ir->docs) ? kf_yaml_doc(ir->docs, 0) : NULL;
	if (!json_is_object(ir->spec)) {
		struct kf_pos p = kf_yaml_count(ir->docs) ? kf_yaml_doc_pos(ir->docs, 0) : (struct kf_pos){ 0 };

		kf_diags_add(diags, name, p.line, p.col, "a pipeline package must be a YAML mapping");
		rc = KF_EINVAL;
		goto out;
	}
	if (kf_yaml_count(ir->docs) > 2) {
		struct kf_pos p = kf_yaml_doc_pos(ir->docs, 2);

		kf_diags_add(diags, name, p.line, p.col,
			     "a pipeline package has one document (and optionally a platform spec): found %zu",
			     kf_yaml_count(ir->docs));
	}
	check_spec(&c);
	if (diags->n > before) {
		rc = KF_EINVAL;
		goto out;
	}
	collect_params(ir);
	order_tasks(ir);
	*out = ir;
	ir = NULL;
	rc = 0;
out:
	kf_diags_sort(diags);
	if (rc < 0)
		kf_err_set(err, rc, "%s: %zu problem%s in the pipeline package", name,
			   diags->n - before, diags->n - before == 1 ? "" : "s");
	kf_kfp_ir_free(ir);
	return rc;
}

int kf_kfp_ir_load_buf(struct kf_kfp_ir **out, const char *name, const char *data,
		       size_t len, struct kf_err **err)
{
	struct kf_diags diags = KF_DIAGS_INIT;
	int rc = kf_kfp_ir_check(out, name, data, len, &diags, err);

	if (rc < 0 && diags.n) {
		struct kf_buf b = KF_BUF_INIT;

		for (size_t i = 0; i < diags.n; i++) {
			char *s = kf_diag_str(&diags.v[i]);

			kf_buf_addf(&b, "%s%s", i ? "\n" : "", s);
			free(s);
		}
		kf_err_set(err, rc, "%s", b.buf);
		kf_buf_release(&b);
	}
	kf_diags_release(&diags);
	return rc;
}

int kf_kfp_ir_load(struct kf_kfp_ir **out, const char *path, struct kf_err **err)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = kf_file_read(path, &data, &len, err);
	if (rc < 0)
		return kf_err_wrap(err, "pipeline package");
	rc = kf_kfp_ir_load_buf(out, path, data, len, err);
	free(data);
	return rc;
}

void kf_kfp_ir_free(struct kf_kfp_ir *ir)
{
	if (!ir)
		return;
	for (size_t i = 0; i < ir->ntasks; i++)
		free(ir->tasks[i].deps);
	free(ir->tasks);
	free(ir->params);
	kf_yaml_free(ir->docs);
	free(ir->file);
	free(ir);
}

const char *kf_kfp_ir_name(const struct kf_kfp_ir *ir) { return ir->name; }
const char *kf_kfp_ir_schema_version(const struct kf_kfp_ir *ir) { return ir->schema; }
const json_t *kf_kfp_ir_spec(const struct kf_kfp_ir *ir) { return ir->spec; }
const char *kf_kfp_ir_file(const struct kf_kfp_ir *ir) { return ir->file; }
size_t kf_kfp_ir_param_count(const struct kf_kfp_ir *ir) { return ir->nparams; }
size_t kf_kfp_ir_task_count(const struct kf_kfp_ir *ir) { return ir->ntasks; }

const struct kf_kfp_param *kf_kfp_ir_param(const struct kf_kfp_ir *ir, size_t i)
{
	return i < ir->nparams ? &ir->params[i] : NULL;
}

const struct kf_kfp_param *kf_kfp_ir_param_find(const struct kf_kfp_ir *ir, const char *name)
{
	for (size_t i = 0; i < ir->nparams; i++)
		if (!strcmp(ir->params[i].name, name))
			return &ir->params[i];
	return NULL;
}

const struct kf_kfp_task *kf_kfp_ir_task(const struct kf_kfp_ir *ir, size_t i)
{
	return i < ir->ntasks ? &ir->tasks[i] : NULL;
}

const struct kf_kfp_task *kf_kfp_ir_task_find(const struct kf_kfp_ir *ir, const char *name)
{
	for (size_t i = 0; i < ir->ntasks; i++)
		if (!strcmp(ir->tasks[i].name, name))
			return &ir->tasks[i];
	return NULL;
}

bool kf_kfp_ir_pos(const struct kf_kfp_ir *ir, const json_t *node, struct kf_pos *out)
{
	return kf_yaml_pos(ir->docs, node, out);
}
