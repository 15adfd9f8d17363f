/*
 * yaml2json.c - print every document of a YAML file as one JSON array,
 * through kfboot's loader. Used by the PyYAML comparison test and handy
 * for seeing what Kubernetes would see in a file.
 *
 * Usage: yaml2json FILE   (exit 1 with "file:line:col: message" on error)
 */
#include <stdio.h>
#include <stdlib.h>

#include "yaml/yaml.h"

int main(int argc, char **argv)
{
	struct kf_yaml_docs *docs = NULL;
	struct kf_err *err = NULL;
	json_t *all = NULL;
	char *msg;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: yaml2json FILE\n");
		return 2;
	}
	if (kf_yaml_load_file(&docs, argv[1], NULL, &err) < 0) {
		msg = kf_err_str(err);
		fprintf(stderr, "yaml2json: %s\n", msg);
		free(msg);
		goto out;
	}
	all = json_array();
	for (size_t i = 0; i < kf_yaml_count(docs); i++)
		json_array_append(all, kf_yaml_doc(docs, i));
	if (json_dumpf(all, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) < 0 ||
	    fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
		fprintf(stderr, "yaml2json: cannot write output\n");
		goto out;
	}
	rc = 0;
out:
	json_decref(all);
	kf_yaml_free(docs);
	kf_err_free(err);
	return rc;
}
