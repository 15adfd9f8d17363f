/*
 * models.h - model versions in git, environment pins, promotion gates, and
 * byte-preserving edits of the files that hold them.
 *
 * A model file (`kind: Model`, named by `models[].versions` in kfboot.yaml)
 * lists every version of one model: version (v1, v2, ...), uri, format,
 * metrics (name -> number), source {commit, pipeline, run}, created. An
 * environment pins versions in `environments/<env>/models.yaml`:
 *
 *   xor: v3
 *   other: {version: v3, canary: {version: v4, percent: 10}}
 *
 * Edits never re-serialise a file: a pin edit replaces the bytes of one
 * scalar (found through the loader's positions) and keeps every other
 * byte - comments, order, quoting; a new version is appended as text after
 * the last one, indented like it.
 *
 * Ownership: `_parse` results are freed with the matching `_free`; getters
 * borrow. Library code never prints.
 */
#ifndef KF_MODELS_H
#define KF_MODELS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"
#include "yaml/yaml.h"

/* ---- model files --------------------------------------------------------- */

struct kf_model_version {
	char *version;        /* "v3" */
	char *uri;
	char *format;         /* e.g. "kfboot.io/mlp-v1" */
	json_t *metrics;      /* object name -> number, owned, never NULL */
	char *source_commit;  /* may be NULL */
	char *source_pipeline;
	char *source_run;
	char *created;        /* RFC 3339, may be NULL */
	int line, col;        /* where the entry starts */
};

struct kf_model_file {
	char *file;           /* name used in positions */
	char *name;           /* metadata.name */
	struct kf_model_version *versions;
	size_t nversions;
	int last_line;        /* line where the last version's entry starts (0: none) */
	int item_col;         /* column of the versions list's '-' (0: none) */
};

/*
 * Parse and validate a model file; every problem goes to diags with
 * file:line:col (unknown fields, missing uri/format, a version not of the
 * form v<N>, duplicate versions, metrics that are not numbers).
 * KF_EINVAL when any was found.
 */
int kf_model_file_parse(struct kf_model_file **out, const char *name,
			const char *data, size_t len, struct kf_diags *diags,
			struct kf_err **err);
void kf_model_file_free(struct kf_model_file *m);
/* Borrowed; NULL when the file has no such version. */
const struct kf_model_version *kf_model_file_find(const struct kf_model_file *m,
						  const char *version);
/* "v<N+1>" where N is the highest version number in the file. Caller frees. */
char *kf_model_file_next_version(const struct kf_model_file *m);
/* The version registered from this run (source.run), or NULL. */
const struct kf_model_version *kf_model_file_find_run(const struct kf_model_file *m,
						      const char *run_id);
/*
 * Append a version to the file's text (data, len), keeping every byte that
 * is there: the entry goes after the last version's entry, indented like
 * it (or under a `versions:` key, created when missing). v->metrics may be
 * empty. The result is checked by parsing it again.
 */
int kf_model_file_append(struct kf_buf *out, const char *name,
			 const char *data, size_t len,
			 const struct kf_model_version *v, struct kf_err **err);

/* ---- pins ------------------------------------------------------------------ */

struct kf_model_pin {
	char *model;
	char *version;          /* the stable version */
	char *canary_version;   /* NULL when no canary */
	int canary_percent;     /* 0..100 */
	struct kf_pos version_pos;  /* where the version scalar starts */
	int line, col;              /* where the pin starts (the key) */
};

struct kf_model_pins {
	char *file;
	struct kf_model_pin *v;
	size_t n;
};

/* Parse `environments/<env>/models.yaml` (an empty file: no pins). */
int kf_model_pins_parse(struct kf_model_pins **out, const char *name,
			const char *data, size_t len, struct kf_diags *diags,
			struct kf_err **err);
void kf_model_pins_free(struct kf_model_pins *p);
const struct kf_model_pin *kf_model_pins_find(const struct kf_model_pins *p,
					      const char *model);

/*
 * Move `model`'s pinned (stable) version to `version`, changing only the
 * bytes of that scalar (its quoting kept); a canary is left as it is, but
 * when the new version equals the canary's version the canary is done and
 * the pin becomes a plain scalar. A model not pinned yet gets a line
 * `model: version` appended. The result is checked by parsing it again.
 */
int kf_model_pins_set(struct kf_buf *out, const char *name, const char *data,
		      size_t len, const char *model, const char *version,
		      struct kf_err **err);

/* ---- gates ------------------------------------------------------------------ */

struct kf_gate {
	const char *metric;
	bool has_min, has_max;
	double min, max;
};

struct kf_gate_input {
	const struct kf_gate *gates;
	size_t ngates;
	double soak;            /* required seconds live and healthy in the source env; 0 = none */
	double soaked;          /* observed seconds (from the status); < 0 = unknown */
	const json_t *metrics;  /* the version's metrics */
};

/*
 * Evaluate every gate. *report is a JSON array of {gate, value, want, ok}
 * (the soak as {gate: "soak", ...}); *summary a "; "-joined line for the
 * commit trailer (`test_accuracy 0.991 >= 0.97; soak 2h >= 1h`) and
 * *failed a line naming every failed gate with its value (or NULL when all
 * held). Returns true when all held.
 */
bool kf_gates_check(const struct kf_gate_input *in, json_t **report,
		    char **summary, char **failed);
/* A duration as "2h", "1h30m", "45s" (whole seconds). Caller frees. */
char *kf_models_fmt_duration(double seconds);

#endif
