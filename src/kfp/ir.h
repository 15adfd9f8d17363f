/*
 * ir.h - KFP v2 pipeline packages (the compiled "IR" YAML): load, check,
 * and read the parts a client or a local runner needs.
 *
 * kf_kfp_ir_load() reads a package and checks it the way the KFP API server
 * and its driver would before running anything: schemaVersion 2.x,
 * pipelineInfo.name, every task of every DAG naming a component that
 * exists, every container component naming an executor that exists, task
 * inputs declared by the component (and required ones given), producers
 * of task outputs that exist and that the task depends on, no dependency
 * cycles, and placeholders in commands and args that name declared inputs
 * and outputs. Every problem carries file:line:col.
 *
 * Ownership: a struct kf_kfp_ir owns the parsed document; every pointer a
 * getter returns (strings, json_t, task structs) is borrowed from it and
 * lives until kf_kfp_ir_free(). Not thread-safe for writes; concurrent reads
 * are fine.
 */
#ifndef KF_KFP_IR_H
#define KF_KFP_IR_H

#include <jansson.h>

#include "util/util.h"
#include "yaml/yaml.h"

struct kf_kfp_ir;

/* One input parameter of the pipeline (root.inputDefinitions.parameters). */
struct kf_kfp_param {
	const char *name;
	const char *type;        /* STRING, NUMBER_INTEGER, NUMBER_DOUBLE,
				    BOOLEAN, LIST, STRUCT */
	const json_t *def;       /* defaultValue or NULL */
	bool optional;           /* isOptional, or has a default */
};

/* One task of the root DAG, in a dependency order (producers first). */
struct kf_kfp_task {
	const char *name;        /* the key under root.dag.tasks */
	const char *component;   /* componentRef.name */
	const json_t *comp;      /* components[component] */
	const json_t *task;      /* the task object itself */
	const char *executor;    /* executorLabel, NULL for a sub-DAG */
	const json_t *container; /* deploymentSpec.executors[x].container or NULL */
	const char *image;       /* container.image or NULL */
	const char **deps;       /* dependentTasks (borrowed strings) */
	size_t ndeps;
};

/* Load and check a package file / buffer. On a problem returns KF_EINVAL
 * and *err lists every problem, one "file:line:col: message" per line. */
int kf_kfp_ir_load(struct kf_kfp_ir **out, const char *path,
		   struct kf_err **err);
int kf_kfp_ir_load_buf(struct kf_kfp_ir **out, const char *name,
		       const char *data, size_t len, struct kf_err **err);
/* The same, adding every problem to diags (sorted by position) instead
 * of folding them into one error. *out is NULL when there are problems. */
int kf_kfp_ir_check(struct kf_kfp_ir **out, const char *name,
		    const char *data, size_t len, struct kf_diags *diags,
		    struct kf_err **err);
void kf_kfp_ir_free(struct kf_kfp_ir *ir);

/* pipelineInfo.name, schemaVersion. */
const char *kf_kfp_ir_name(const struct kf_kfp_ir *ir);
const char *kf_kfp_ir_schema_version(const struct kf_kfp_ir *ir);
/* The whole pipeline spec (the first document), e.g. for an upload. */
const json_t *kf_kfp_ir_spec(const struct kf_kfp_ir *ir);
/* The file name given at load time. */
const char *kf_kfp_ir_file(const struct kf_kfp_ir *ir);

size_t kf_kfp_ir_param_count(const struct kf_kfp_ir *ir);
const struct kf_kfp_param *kf_kfp_ir_param(const struct kf_kfp_ir *ir,
					   size_t i);
/* NULL when the pipeline has no such input. */
const struct kf_kfp_param *kf_kfp_ir_param_find(const struct kf_kfp_ir *ir,
						const char *name);

size_t kf_kfp_ir_task_count(const struct kf_kfp_ir *ir);
const struct kf_kfp_task *kf_kfp_ir_task(const struct kf_kfp_ir *ir,
					 size_t i);
const struct kf_kfp_task *kf_kfp_ir_task_find(const struct kf_kfp_ir *ir,
					      const char *name);

/* ---- placeholders in container commands and args -------------------- */

enum kf_kfp_ph_kind {
	KF_KFP_PH_EXECUTOR_INPUT, /* {{$}} */
	KF_KFP_PH_IN_PARAM,       /* {{$.inputs.parameters['x']}} */
	KF_KFP_PH_IN_ART_PATH,    /* {{$.inputs.artifacts['x'].path}} */
	KF_KFP_PH_IN_ART_URI,     /* {{$.inputs.artifacts['x'].uri}} */
	KF_KFP_PH_OUT_ART_PATH,   /* {{$.outputs.artifacts['x'].path}} */
	KF_KFP_PH_OUT_ART_URI,    /* {{$.outputs.artifacts['x'].uri}} */
	KF_KFP_PH_OUT_PARAM_FILE, /* {{$.outputs.parameters['x'].output_file}} */
	KF_KFP_PH_JOB_UUID,       /* {{$.pipeline_job_uuid}} (the run id) */
	KF_KFP_PH_JOB_NAME,       /* {{$.pipeline_job_name}} */
	KF_KFP_PH_TASK_NAME,      /* {{$.pipeline_task_name}} */
	KF_KFP_PH_TASK_UUID,      /* {{$.pipeline_task_uuid}} */
	KF_KFP_PH_ROOT,           /* {{$.pipeline_root}} */
	KF_KFP_PH_OTHER,          /* any other {{$...}} */
};

struct kf_kfp_ph {
	enum kf_kfp_ph_kind kind;
	size_t len;       /* of the whole placeholder, braces included */
	const char *name; /* the quoted name (not NUL-terminated) or NULL */
	size_t name_len;
};

/* The next placeholder in s: returns where it starts (and fills ph), or
 * NULL when there is none. Borrowed pointers into s. */
const char *kf_kfp_ph_next(const char *s, struct kf_kfp_ph *ph);

/* Where a node of the spec is (objects and arrays only). */
bool kf_kfp_ir_pos(const struct kf_kfp_ir *ir, const json_t *node,
		   struct kf_pos *out);

#endif
