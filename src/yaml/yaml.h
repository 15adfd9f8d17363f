/*
 * yaml.h - YAML -> JSON (jansson) with the file:line:column of every node,
 * and JSON -> YAML for output.
 *
 * The loader runs on libyaml's event API and resolves scalars the way
 * Kubernetes does (sigs.k8s.io/yaml: YAML 1.1 rules; yes/no/on/off are
 * booleans, 0755 is octal, ~ is null, timestamps stay strings, quoted
 * scalars stay strings). Multi-document streams, anchors and aliases (an alias
 * is a deep copy of the anchored value, never a shared one; the node,
 * depth and byte limits count what aliases expand to), merge keys (<<). Duplicate keys, tabs in
 * indentation, invalid UTF-8 and syntax errors fail with the position.
 *
 * Ownership: a struct kf_yaml_docs owns its documents and their position
 * table. kf_yaml_doc() borrows; json_incref() a document to keep it beyond
 * kf_yaml_free(). Position lookups key on container pointers, so they stay
 * valid only while the container is unchanged and the docs object is alive.
 */
#ifndef KF_YAML_H
#define KF_YAML_H

#include <jansson.h>

#include "util/util.h"

/* A position in a source file; `file` is borrowed from the docs object. */
struct kf_pos {
	const char *file;
	int line; /* 1-based */
	int col;  /* 1-based */
};

struct kf_yaml_docs;

struct kf_yaml_opts {
	size_t max_nodes; /* nodes per document after alias expansion;
			     0 = default (10M) */
	size_t max_depth; /* nesting, counting what aliases expand to;
			     0 = default (1000) */
	size_t max_bytes; /* scalar text bytes per document after alias
			     expansion; 0 = default (128 MiB) */
};

/* Load every document of a file / buffer. `name` is used in positions and
 * messages. Errors read "name:line:col: what is wrong". */
int kf_yaml_load_file(struct kf_yaml_docs **out, const char *path,
		      const struct kf_yaml_opts *opts, struct kf_err **err);
int kf_yaml_load_buf(struct kf_yaml_docs **out, const char *name,
		     const char *data, size_t len,
		     const struct kf_yaml_opts *opts, struct kf_err **err);
void kf_yaml_free(struct kf_yaml_docs *d);

/* Number of documents (an empty document counts and is JSON null). */
size_t kf_yaml_count(const struct kf_yaml_docs *d);
/* Borrowed document root. */
json_t *kf_yaml_doc(const struct kf_yaml_docs *d, size_t i);
/* Where document i starts (its first node, or the '---'). */
struct kf_pos kf_yaml_doc_pos(const struct kf_yaml_docs *d, size_t i);
/* The file name given at load time. */
const char *kf_yaml_name(const struct kf_yaml_docs *d);

/* Position of an object or array node (not scalars: jansson shares true,
 * false and null). Returns false when unknown. */
bool kf_yaml_pos(const struct kf_yaml_docs *d, const json_t *node,
		 struct kf_pos *out);
/* Position of obj[key]: of the key itself and of its value. Either out
 * pointer may be NULL. */
bool kf_yaml_member_pos(const struct kf_yaml_docs *d, const json_t *obj,
			const char *key, struct kf_pos *key_pos,
			struct kf_pos *val_pos);
/* Position of arr[i]. */
bool kf_yaml_index_pos(const struct kf_yaml_docs *d, const json_t *arr,
		       size_t i, struct kf_pos *out);

/* Emit a JSON value as YAML (block style, 2-space indent) that loads back
 * to the same JSON: strings that would resolve to another type are quoted.
 * Several documents: call once per document; it writes the "---" itself
 * when `doc_start` is true. */
int kf_yaml_emit(struct kf_buf *out, const json_t *v, bool doc_start,
		 struct kf_err **err);

#endif
