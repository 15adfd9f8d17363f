/*
 * files.c - reading model files and environment pins, and editing them
 * without re-serialising: a pin edit replaces the bytes of one scalar,
 * found through the YAML loader's positions; a new model version is
 * appended as text after the last entry, indented like it. Every edit is
 * checked by parsing the result again, so a file is never written in a
 * shape kfboot cannot read back.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"

/* ---- small helpers --------------------------------------------------------- */

static bool version_ok(const char *v)
{
	if (!v || v[0] != 'v' || !v[1])
		return false;
	for (const char *p = v + 1; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return v[1] != '0' || !v[2];
}

static long version_num(const char *v)
{
	return version_ok(v) ? strtol(v + 1, NULL, 10) : -1;
}

static void pos_of(const struct kf_yaml_docs *d, const json_t *obj, const char *key,
		   bool at_key, int *line, int *col)
{
	struct kf_pos p = { 0 };

	if ((!at_key && kf_yaml_member_pos(d, obj, key, NULL, &p)) || kf_yaml_member_pos(d, obj, key, &p, NULL)) {
		*line = p.line;
		*col = p.col;
	} else {
		*line = *col = 0;
	}
}

/* A problem at a node (msg is complete). */
static void problem_at(struct kf_diags *diags, const struct kf_yaml_docs *d, const char *file,
		       const json_t *node, const char *msg)
{
	struct kf_pos p = { 0 };

	kf_yaml_pos(d, node, &p);
	kf_diags_add(diags, file, p.line, p.col, "%s", msg);
}

/* A problem at obj[key]'s value: "<prefix><key><suffix>". */
static void problem_key(struct kf_diags *diags, const struct kf_yaml_docs *d, const char *file,
			const json_t *obj, const char *key, const char *prefix, const char *suffix)
{
	int line, col;

	pos_of(d, obj, key, false, &line, &col);
	kf_diags_add(diags, file, line, col, "%s%s%s", prefix, key, suffix);
}

/* Unknown keys of obj are problems. */
static void check_fields(struct kf_diags *diags, const struct kf_yaml_docs *d, const char *file,
			 const json_t *obj, const char *where, const char *const *known)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		bool ok = false;

		for (size_t i = 0; known[i]; i++)
			ok |= !strcmp(known[i], k);
		if (!ok) {
			int line, col;

			pos_of(d, obj, k, true, &line, &col);
			kf_diags_add(diags, file, line, col, "unknown field '%s' in %s", k, where);
		}
	}
}

static char *opt_str(struct kf_diags *diags, const struct kf_yaml_docs *d, const char *file,
		     const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		problem_key(diags, d, file, obj, key, "", ": expected a string");
		return NULL;
	}
	return kf_xstrdup(json_string_value(v));
}

static int load(struct kf_yaml_docs **docs, json_t **root, const char *name, const char *data,
		size_t len, struct kf_diags *diags, struct kf_err **err)
{
	struct kf_err *yerr = NULL;
	struct kf_yaml_opts yo = { .max_nodes = 1000000, .max_depth = 64 };

	*root = NULL;
	if (kf_yaml_load_buf(docs, name, data, len, &yo, &yerr)) {
		/* The loader says "name:line:col: message". */
		kf_diags_add(diags, NULL, 0, 0, "%s", yerr->msg);
		kf_err_free(yerr);
		return KF_EINVAL;
	}
	if (kf_yaml_count(*docs) > 1) {
		struct kf_pos p = kf_yaml_doc_pos(*docs, 1);

		kf_diags_add(diags, name, p.line, p.col, "expected one YAML document");
		return KF_EINVAL;
	}
	*root = kf_yaml_count(*docs) ? kf_yaml_doc(*docs, 0) : NULL;
	(void)err;
	return 0;
}

/* ---- model files -------------------------------------------------------------- */

static const char *const file_fields[] = { "apiVersion", "kind", "metadata", "spec", "versions", NULL };
static const char *const version_fields[] = { "version", "uri", "format", "metrics", "source", "created", NULL };
static const char *const source_fields[] = { "commit", "pipeline", "run", NULL };

static void version_release(struct kf_model_version *v)
{
	free(v->version);
	free(v->uri);
	free(v->format);
	json_decref(v->metrics);
	free(v->source_commit);
	free(v->source_pipeline);
	free(v->source_run);
	free(v->created);
}

void kf_model_file_free(struct kf_model_file *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nversions; i++)
		version_release(&m->versions[i]);
	free(m->versions);
	free(m->file);
	free(m->name);
	free(m);
}

static size_t line_start(const char *data, size_t len, int line);

/* Column of the '-' that starts a list entry whose map is at (line, col):
 * the first character of that line when it is a dash, else col. */
static int dash_col(const char *data, size_t len, int line, int col)
{
	size_t off = line_start(data, len, line);
	int c = 1;

	while (off < len && data[off] == ' ') {
		off++;
		c++;
	}
	return off < len && data[off] == '-' && c < col ? c : col;
}

/* The versions list: top-level `versions:` or `spec.versions`. */
static const json_t *versions_of(const json_t *root, const json_t **holder)
{
	const json_t *spec = json_object_get(root, "spec");

	*holder = root;
	if (json_object_get(root, "versions"))
		return json_object_get(root, "versions");
	if (json_is_object(spec)) {
		*holder = spec;
		return json_object_get(spec, "versions");
	}
	return NULL;
}

static void read_version(struct kf_model_version *v, const json_t *e, const struct kf_yaml_docs *d,
			 const char *file, struct kf_diags *diags)
{
	const json_t *metrics = json_object_get(e, "metrics");
	const json_t *src = json_object_get(e, "source");
	struct kf_pos p = { 0 };

	kf_yaml_pos(d, e, &p);
	v->line = p.line;
	v->col = p.col;
	check_fields(diags, d, file, e, "a model version", version_fields);
	v->version = opt_str(diags, d, file, e, "version");
	v->uri = opt_str(diags, d, file, e, "uri");
	v->format = opt_str(diags, d, file, e, "format");
	v->created = opt_str(diags, d, file, e, "created");
	v->metrics = json_object();
	if (!json_object_get(e, "version")) {
		kf_diags_add(diags, file, p.line, p.col, "a model version needs 'version' (v1, v2, ...)");
	} else if (v->version && !version_ok(v->version)) {
		char *sfx = kf_xasprintf(": '%s' is not of the form v<N> (v1, v2, ...)", v->version);

		problem_key(diags, d, file, e, "version", "", sfx);
		free(sfx);
	}
	if (!v->uri)
		kf_diags_add(diags, file, p.line, p.col, "model version '%s' needs 'uri'", v->version ? v->version : "?");
	if (!v->format)
		kf_diags_add(diags, file, p.line, p.col, "model version '%s' needs 'format'",
			     v->version ? v->version : "?");
	if (metrics && !json_is_object(metrics)) {
		problem_key(diags, d, file, e, "metrics", "", ": expected a map of metric name to number");
	} else if (metrics) {
		const char *k;
		json_t *x;

		json_object_foreach((json_t *)metrics, k, x) {
			if (json_is_number(x))
				json_object_set_new(v->metrics, k, json_real(json_number_value(x)));
			else
				problem_key(diags, d, file, metrics, k, "metrics.", ": expected a number");
		}
	}
	if (src && !json_is_object(src)) {
		problem_key(diags, d, file, e, "source", "", ": expected a map (commit, pipeline, run)");
	} else if (src) {
		check_fields(diags, d, file, src, "source", source_fields);
		v->source_commit = opt_str(diags, d, file, src, "commit");
		v->source_pipeline = opt_str(diags, d, file, src, "pipeline");
		v->source_run = opt_str(diags, d, file, src, "run");
	}
}

int kf_model_file_parse(struct kf_model_file **out, const char *name, const char *data, size_t len,
			struct kf_diags *diags, struct kf_err **err)
{
	struct kf_yaml_docs *d = NULL;
	struct kf_model_file *m = kf_xcalloc(1, sizeof(*m));
	const json_t *root, *list, *holder, *e;
	size_t before = diags->n, i;
	int rc;

	*out = NULL;
	m->file = kf_xstrdup(name);
	rc = load(&d, (json_t **)&root, name, data, len, diags, err);
	if (rc)
		goto out;
	if (!json_is_object(root)) {
		kf_diags_add(diags, name, 1, 1, "expected a model file (kind: Model, versions: [...])");
		goto out;
	}
	check_fields(diags, d, name, root, "a model file", file_fields);
	{
		const json_t *kind = json_object_get(root, "kind");

		if (kind && (!json_is_string(kind) || strcmp(json_string_value(kind), "Model")))
			problem_key(diags, d, name, root, "kind", "", ": expected 'Model'");
	}
	m->name = kf_xstrdup(json_string_value(json_object_get(json_object_get(root, "metadata"), "name")) ?: "");
	list = versions_of(root, &holder);
	if (list && !json_is_array(list)) {
		problem_key(diags, d, name, holder, "versions", "", ": expected a list of versions");
		list = NULL;
	}
	m->versions = kf_xcalloc(json_array_size(list) + 1, sizeof(*m->versions));
	json_array_foreach(list, i, e) {
		if (!json_is_object(e)) {
			problem_at(diags, d, name, list, "versions: every entry must be a map");
			continue;
		}
		read_version(&m->versions[m->nversions], e, d, name, diags);
		for (size_t j = 0; j < m->nversions; j++)
			if (m->versions[m->nversions].version && m->versions[j].version &&
			    !strcmp(m->versions[j].version, m->versions[m->nversions].version))
				kf_diags_add(diags, name, m->versions[m->nversions].line, m->versions[m->nversions].col,
					     "version '%s' is listed twice (first at line %d)",
					     m->versions[j].version, m->versions[j].line);
		m->last_line = m->versions[m->nversions].line;
		m->item_col = dash_col(data, len, m->versions[m->nversions].line, m->versions[m->nversions].col);
		m->nversions++;
	}
out:
	kf_yaml_free(d);
	if (diags->n > before || rc) {
		kf_diags_sort(diags);
		kf_model_file_free(m);
		return KF_EINVAL;
	}
	*out = m;
	return 0;
}

const struct kf_model_version *kf_model_file_find(const struct kf_model_file *m, const char *version)
{
	for (size_t i = 0; m && version && i < m->nversions; i++)
		if (m->versions[i].version && !strcmp(m->versions[i].version, version))
			return &m->versions[i];
	return NULL;
}

const struct kf_model_version *kf_model_file_find_run(const struct kf_model_file *m, const char *run_id)
{
	for (size_t i = 0; m && run_id && i < m->nversions; i++)
		if (m->versions[i].source_run && !strcmp(m->versions[i].source_run, run_id))
			return &m->versions[i];
	return NULL;
}

char *kf_model_file_next_version(const struct kf_model_file *m)
{
	long hi = 0;

	for (size_t i = 0; m && i < m->nversions; i++)
		if (version_num(m->versions[i].version) > hi)
			hi = version_num(m->versions[i].version);
	return kf_xasprintf("v%ld", hi + 1);
}

/* Byte offset of the start of 1-based line `line` (len when past the end). */
static size_t line_start(const char *data, size_t len, int line)
{
	size_t off = 0;

	for (int l = 1; l < line && off < len; l++) {
		const char *nl = memchr(data + off, '\n', len - off);

		if (!nl)
			return len;
		off = (size_t)(nl - data) + 1;
	}
	return off;
}

/* Byte offset of 1-based (line, col), col counted in characters (UTF-8). */
static size_t offset_of(const char *data, size_t len, int line, int col)
{
	size_t off = line_start(data, len, line);

	for (int c = 1; c < col && off < len && data[off] != '\n'; c++) {
		off++;
		while (off < len && ((unsigned char)data[off] & 0xC0) == 0x80)
			off++;
	}
	return off;
}

/* A YAML-safe scalar: plain when it is, else double-quoted JSON. */
static void add_scalar(struct kf_buf *b, const char *s)
{
	bool plain = *s && !strchr("-?:,[]{}#&*!|>'\"%@` ", *s);

	for (const char *p = s; plain && *p; p++)
		plain = isalnum((unsigned char)*p) || strchr("._/-+:", *p);
	if (plain && (strstr(s, ": ") || s[strlen(s) - 1] == ':'))
		plain = false;
	if (plain && (!strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "null") || !strcmp(s, "yes") ||
		      !strcmp(s, "no") || !strcmp(s, "on") || !strcmp(s, "off") || isdigit((unsigned char)*s)))
		plain = false;
	if (plain) {
		kf_buf_adds(b, s);
	} else {
		json_t *js = json_string(s);
		char *q = json_dumps(js, JSON_ENCODE_ANY);

		kf_buf_adds(b, q);
		free(q);
		json_decref(js);
	}
}

static void add_version_entry(struct kf_buf *b, const struct kf_model_version *v, int dash_col)
{
	char ind[64];
	int n = dash_col > 1 ? dash_col - 1 : 0;
	const char *k;
	json_t *x;

	if (n > 40)
		n = 40;
	memset(ind, ' ', (size_t)n);
	ind[n] = 0;
	kf_buf_addf(b, "%s- version: ", ind);
	add_scalar(b, v->version);
	kf_buf_addf(b, "\n%s  uri: ", ind);
	add_scalar(b, v->uri);
	kf_buf_addf(b, "\n%s  format: ", ind);
	add_scalar(b, v->format);
	kf_buf_adds(b, "\n");
	if (v->metrics && json_object_size(v->metrics)) {
		kf_buf_addf(b, "%s  metrics:\n", ind);
		json_object_foreach(v->metrics, k, x) {
			kf_buf_addf(b, "%s    ", ind);
			add_scalar(b, k);
			kf_buf_addf(b, ": %.17g\n", json_number_value(x));
		}
	}
	if (v->source_commit || v->source_pipeline || v->source_run) {
		kf_buf_addf(b, "%s  source:\n", ind);
		if (v->source_commit) {
			kf_buf_addf(b, "%s    commit: ", ind);
			add_scalar(b, v->source_commit);
			kf_buf_adds(b, "\n");
		}
		if (v->source_pipeline) {
			kf_buf_addf(b, "%s    pipeline: ", ind);
			add_scalar(b, v->source_pipeline);
			kf_buf_adds(b, "\n");
		}
		if (v->source_run) {
			kf_buf_addf(b, "%s    run: ", ind);
			add_scalar(b, v->source_run);
			kf_buf_adds(b, "\n");
		}
	}
	if (v->created) {
		kf_buf_addf(b, "%s  created: ", ind);
		add_scalar(b, v->created);
		kf_buf_adds(b, "\n");
	}
}

/* Indentation (in columns) of the line starting at off; -1 for a blank or
 * comment-only line. */
static int indent_at(const char *data, size_t len, size_t off)
{
	int n = 0;

	while (off < len && data[off] == ' ') {
		off++;
		n++;
	}
	if (off >= len || data[off] == '\n' || data[off] == '#' || data[off] == '\r')
		return -1;
	return n;
}

int kf_model_file_append(struct kf_buf *out, const char *name, const char *data, size_t len,
			 const struct kf_model_version *v, struct kf_err **err)
{
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_model_file *m = NULL;
	struct kf_buf entry = KF_BUF_INIT;
	int rc = kf_model_file_parse(&m, name, data, len, &dg, err);
	size_t at;

	if (rc) {
		char *first = dg.n ? kf_diag_str(&dg.v[0]) : kf_xasprintf("%s: cannot be read", name);

		rc = kf_err_set(err, KF_EINVAL, "%s", first);
		free(first);
		goto out;
	}
	if (kf_model_file_find(m, v->version)) {
		rc = kf_err_set(err, KF_ECONFLICT, "%s: version '%s' is already there", name, v->version);
		goto out;
	}
	if (m->nversions) {
		/* After the last entry's last line of content: the entry ends
		 * at the first later line indented at or left of its dash that
		 * is not blank or a comment; blank lines and comments after its
		 * content stay after the new entry. */
		size_t off = line_start(data, len, m->last_line + 1);

		at = off;
		while (off < len) {
			int ind = indent_at(data, len, off);
			const char *nl = memchr(data + off, '\n', len - off);
			size_t next = nl ? (size_t)(nl - data) + 1 : len;

			if (ind >= 0 && ind <= m->item_col - 1)
				break;
			if (ind >= 0)
				at = next;
			off = next;
		}
		add_version_entry(&entry, v, m->item_col);
	} else {
		/* No version yet: a `versions:` list at the end of the file. */
		at = len;
		add_version_entry(&entry, v, 1);
		{
			struct kf_buf t = KF_BUF_INIT;

			kf_buf_adds(&t, "versions:\n");
			kf_buf_add(&t, entry.buf, entry.len);
			kf_buf_release(&entry);
			entry = t;
		}
		if (strstr(data, "\nversions:") || !strncmp(data, "versions:", 9)) {
			rc = kf_err_set(err, KF_EINVAL, "%s: an empty 'versions' list cannot be extended in place; "
					"write 'versions:' with no value or remove it", name);
			goto out;
		}
	}
	kf_buf_reset(out);
	kf_buf_add(out, data, at);
	if (at > 0 && data[at - 1] != '\n')
		kf_buf_adds(out, "\n");
	kf_buf_add(out, entry.buf, entry.len);
	kf_buf_add(out, data + at, len - at);
	/* Check: it reads back with the new version. */
	kf_model_file_free(m);
	m = NULL;
	kf_diags_release(&dg);
	rc = kf_model_file_parse(&m, name, out->buf, out->len, &dg, err);
	if (rc || !kf_model_file_find(m, v->version))
		rc = kf_err_set(err, KF_ERR, "%s: appending version '%s' made a file that does not read back (%s)",
				name, v->version, dg.n ? dg.v[0].msg : "version missing");
out:
	kf_buf_release(&entry);
	kf_diags_release(&dg);
	kf_model_file_free(m);
	return rc;
}

/* ---- pins ---------------------------------------------------------------------- */

void kf_model_pins_free(struct kf_model_pins *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].model);
		free(p->v[i].version);
		free(p->v[i].canary_version);
	}
	free(p->v);
	free(p->file);
	free(p);
}

static const char *const pin_fields[] = { "version", "canary", NULL };
static const char *const canary_fields[] = { "version", "percent", NULL };

int kf_model_pins_parse(struct kf_model_pins **out, const char *name, const char *data, size_t len,
			struct kf_diags *diags, struct kf_err **err)
{
	struct kf_yaml_docs *d = NULL;
	struct kf_model_pins *p = kf_xcalloc(1, sizeof(*p));
	json_t *root = NULL;
	const char *k;
	json_t *v;
	size_t before = diags->n;
	int rc;

	*out = NULL;
	p->file = kf_xstrdup(name);
	rc = load(&d, &root, name, data, len, diags, err);
	if (rc || !root || json_is_null(root))
		goto out;
	if (!json_is_object(root)) {
		kf_diags_add(diags, name, 1, 1, "expected a map of model name to version (xor: v3)");
		goto out;
	}
	p->v = kf_xcalloc(json_object_size(root) + 1, sizeof(*p->v));
	json_object_foreach(root, k, v) {
		struct kf_model_pin *pin = &p->v[p->n];
		struct kf_pos kp = { 0 }, vp = { 0 };
		const json_t *ver = v;
		const json_t *holder = root;
		const char *vkey = k;

		kf_yaml_member_pos(d, root, k, &kp, &vp);
		pin->line = kp.line;
		pin->col = kp.col;
		if (json_is_object(v)) {
			const json_t *c = json_object_get(v, "canary");

			check_fields(diags, d, name, v, "a pin", pin_fields);
			ver = json_object_get(v, "version");
			holder = v;
			vkey = "version";
			if (c && !json_is_object(c)) {
				problem_key(diags, d, name, v, "canary", "", ": expected {version, percent}");
			} else if (c) {
				const json_t *pc = json_object_get(c, "percent");

				check_fields(diags, d, name, c, "a canary", canary_fields);
				pin->canary_version = opt_str(diags, d, name, c, "version");
				if (!pin->canary_version || !version_ok(pin->canary_version))
					problem_key(diags, d, name, c, "version", "canary.", ": expected a version (v1, v2, ...)");
				if (!json_is_integer(pc) || json_integer_value(pc) < 0 || json_integer_value(pc) > 100)
					problem_key(diags, d, name, c, "percent", "canary.", ": expected a whole number from 0 to 100");
				else
					pin->canary_percent = (int)json_integer_value(pc);
			}
		}
		if (!json_is_string(ver) || !version_ok(json_string_value(ver))) {
			kf_diags_add(diags, name, kp.line, kp.col, "pin '%s': expected a version (v1, v2, ...) or {version, canary}", k);
		} else {
			pin->version = kf_xstrdup(json_string_value(ver));
			kf_yaml_member_pos(d, holder, vkey, NULL, &pin->version_pos);
			pin->version_pos.file = NULL;
		}
		pin->model = kf_xstrdup(k);
		p->n++;
	}
out:
	kf_yaml_free(d);
	if (diags->n > before || rc) {
		kf_diags_sort(diags);
		kf_model_pins_free(p);
		return KF_EINVAL;
	}
	*out = p;
	return 0;
}

const struct kf_model_pin *kf_model_pins_find(const struct kf_model_pins *p, const char *model)
{
	for (size_t i = 0; p && model && i < p->n; i++)
		if (!strcmp(p->v[i].model, model))
			return &p->v[i];
	return NULL;
}

/* [start, end) of the scalar token at off: quoted or plain. */
static size_t scalar_end(const char *data, size_t len, size_t off)
{
	if (off < len && (data[off] == '"' || data[off] == '\'')) {
		char q = data[off];

		for (size_t i = off + 1; i < len && data[i] != '\n'; i++) {
			if (q == '"' && data[i] == '\\') {
				i++;
				continue;
			}
			if (data[i] == q) {
				if (q == '\'' && i + 1 < len && data[i + 1] == '\'') {
					i++;
					continue;
				}
				return i + 1;
			}
		}
		return off;
	}
	while (off < len && !strchr(" \t\r\n,}]#", data[off]))
		off++;
	return off;
}

int kf_model_pins_set(struct kf_buf *out, const char *name, const char *data, size_t len,
		      const char *model, const char *version, struct kf_err **err)
{
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_model_pins *p = NULL, *back = NULL;
	const struct kf_model_pin *pin;
	int rc;

	if (!version_ok(version))
		return kf_err_set(err, KF_EINVAL, "'%s' is not a version (v1, v2, ...)", version);
	rc = kf_model_pins_parse(&p, name, data, len, &dg, err);
	if (rc) {
		char *first = dg.n ? kf_diag_str(&dg.v[0]) : kf_xstrdup(name);

		rc = kf_err_set(err, KF_EINVAL, "%s", first);
		free(first);
		goto out;
	}
	kf_buf_reset(out);
	pin = kf_model_pins_find(p, model);
	if (!pin) {
		kf_buf_add(out, data, len);
		if (len && data[len - 1] != '\n')
			kf_buf_adds(out, "\n");
		kf_buf_addf(out, "%s: %s\n", model, version);
	} else if (pin->canary_version && !strcmp(pin->canary_version, version)) {
		/* The canary is promoted: the whole pin becomes a plain scalar.
		 * Its value spans from after "model:" to the end of the flow
		 * mapping or block; only flow-style pins are rewritten here. */
		size_t key = offset_of(data, len, pin->line, pin->col);
		const char *colon = memchr(data + key, ':', len - key);
		size_t vstart, vend;

		if (!colon) {
			rc = kf_err_set(err, KF_ERR, "%s:%d:%d: cannot find the pin's value", name, pin->line, pin->col);
			goto out;
		}
		vstart = (size_t)(colon - data) + 1;
		while (vstart < len && data[vstart] == ' ')
			vstart++;
		if (vstart < len && data[vstart] == '{') {
			int depth = 0;

			for (vend = vstart; vend < len; vend++) {
				if (data[vend] == '{')
					depth++;
				else if (data[vend] == '}' && --depth == 0)
					break;
			}
			if (vend >= len) {
				rc = kf_err_set(err, KF_EINVAL, "%s:%d:%d: unterminated pin", name, pin->line, pin->col);
				goto out;
			}
			vend++;
		} else if (vstart >= len || strchr("#\r\n", data[vstart])) {
			/* A block map: it ends at the first later line of content
			 * indented at or left of the key. */
			const char *nl = memchr(data + vstart, '\n', len - vstart);
			size_t off = nl ? (size_t)(nl - data) + 1 : len;

			vend = len;
			while (off < len) {
				int ind = indent_at(data, len, off);

				nl = memchr(data + off, '\n', len - off);
				if (ind >= 0 && ind <= pin->col - 1) {
					vend = off;
					break;
				}
				off = nl ? (size_t)(nl - data) + 1 : len;
			}
			kf_buf_add(out, data, (size_t)(colon - data) + 1);
			kf_buf_addf(out, " %s\n", version);
			kf_buf_add(out, data + vend, len - vend);
			goto check;
		} else {
			rc = kf_err_set(err, KF_EINVAL, "%s:%d:%d: the pin of '%s' with a canary is neither a flow nor "
					"a block map; edit it by hand", name, pin->line, pin->col, model);
			goto out;
		}
		kf_buf_add(out, data, vstart);
		kf_buf_adds(out, version);
		kf_buf_add(out, data + vend, len - vend);
	} else {
		size_t start = offset_of(data, len, pin->version_pos.line, pin->version_pos.col);
		size_t end = scalar_end(data, len, start);
		char q = data[start] == '"' || data[start] == '\'' ? data[start] : 0;

		if (end <= start) {
			rc = kf_err_set(err, KF_ERR, "%s:%d:%d: cannot find the version of '%s'", name,
					pin->version_pos.line, pin->version_pos.col, model);
			goto out;
		}
		kf_buf_add(out, data, start);
		if (q)
			kf_buf_addf(out, "%c%s%c", q, version, q);
		else
			kf_buf_adds(out, version);
		kf_buf_add(out, data + end, len - end);
	}
check:
	kf_diags_release(&dg);
	rc = kf_model_pins_parse(&back, name, out->buf, out->len, &dg, err);
	if (rc || !kf_model_pins_find(back, model) || strcmp(kf_model_pins_find(back, model)->version, version))
		rc = kf_err_set(err, KF_ERR, "%s: the edit of '%s' does not read back", name, model);
out:
	kf_diags_release(&dg);
	kf_model_pins_free(p);
	kf_model_pins_free(back);
	return rc;
}
