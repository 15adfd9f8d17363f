/*
 * kubeconfig.c - the admin kubeconfig kfboot fetches from the control plane:
 * rewritten for use from outside (server address, names after the cluster)
 * and merged into a user's kubeconfig file. Credentials stay in memory and
 * in files of mode 0600; the client key is registered with the redactor so
 * that it cannot reach a log line.
 */
#include <stdlib.h>
#include <string.h>

#include "provision/internal.h"
#include "yaml/yaml.h"

char *kf_kubeconfig_path(const struct kf_cluster *c, const struct kf_prov_opts *o)
{
	char *dir = kf_prov_state_dir(c, o);
	char *p = kf_path_join(dir, "admin.conf");

	free(dir);
	return p;
}

static json_t *first_named(json_t *arr, const char *field)
{
	json_t *e = json_array_get(arr, 0);

	return e ? json_object_get(e, field) : NULL;
}

int kf_kubeconfig_rewrite(struct kf_buf *out, const char *admin_conf,
			  const struct kf_cluster *c, struct kf_err **err)
{
	struct kf_yaml_docs *docs = NULL;
	json_t *doc, *cluster, *user, *ctx, *root = NULL;
	char *ep = kf_cluster_endpoint(c);
	char *server = kf_xasprintf("https://%s", ep);
	char *uname = kf_xasprintf("%s-admin", c->name);
	const char *key;
	int rc;

	rc = kf_yaml_load_buf(&docs, "admin.conf", admin_conf, strlen(admin_conf), NULL, err);
	if (rc)
		goto out;
	doc = kf_yaml_count(docs) ? kf_yaml_doc(docs, 0) : NULL;
	cluster = first_named(json_object_get(doc, "clusters"), "cluster");
	user = first_named(json_object_get(doc, "users"), "user");
	if (!json_is_object(cluster) || !json_is_object(user)) {
		rc = kf_err_set(err, KF_EINVAL, "admin.conf has no cluster or user entry");
		goto out;
	}
	key = json_string_value(json_object_get(user, "client-key-data"));
	if (key)
		kf_redact_register(key);
	key = json_string_value(json_object_get(user, "token"));
	if (key)
		kf_redact_register(key);
	cluster = json_deep_copy(cluster);
	user = json_deep_copy(user);
	json_object_set_new(cluster, "server", json_string(server));
	ctx = json_pack("{s:s, s:s}", "cluster", c->name, "user", uname);
	root = json_pack("{s:s, s:s, s:[{s:s, s:o}], s:[{s:s, s:o}], s:[{s:s, s:o}], s:s, s:{}}",
			 "apiVersion", "v1", "kind", "Config",
			 "clusters", "name", c->name, "cluster", cluster,
			 "users", "name", uname, "user", user,
			 "contexts", "name", c->name, "context", ctx,
			 "current-context", c->name, "preferences");
	rc = kf_yaml_emit(out, root, false, err);
out:
	json_decref(root);
	kf_yaml_free(docs);
	free(ep);
	free(server);
	free(uname);
	return rc;
}

/* Replace or append the entry named like `e` in doc[list]. */
static void upsert(json_t *doc, const char *list, json_t *e)
{
	json_t *arr = json_object_get(doc, list);
	const char *name = json_string_value(json_object_get(e, "name"));
	size_t i;
	json_t *v;

	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(doc, list, arr);
	}
	json_array_foreach(arr, i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));

		if (n && name && !strcmp(n, name)) {
			json_array_set(arr, i, e);
			return;
		}
	}
	json_array_append(arr, e);
}

int kf_kubeconfig_merge(const char *path, const char *add, struct kf_err **err)
{
	struct kf_yaml_docs *adocs = NULL, *odocs = NULL;
	json_t *doc = NULL, *a;
	struct kf_buf out = KF_BUF_INIT;
	char *old = NULL;
	size_t oldlen = 0;
	const char *lists[] = { "clusters", "users", "contexts" };
	const char *cur;
	int rc;

	rc = kf_yaml_load_buf(&adocs, "kubeconfig", add, strlen(add), NULL, err);
	if (rc)
		goto out;
	a = kf_yaml_count(adocs) ? kf_yaml_doc(adocs, 0) : NULL;
	if (!json_is_object(a)) {
		rc = kf_err_set(err, KF_EINVAL, "kubeconfig to merge is empty");
		goto out;
	}
	if (!kf_file_read(path, &old, &oldlen, NULL) && oldlen) {
		rc = kf_yaml_load_buf(&odocs, path, old, oldlen, NULL, err);
		if (rc)
			goto out;
		doc = kf_yaml_count(odocs) ? kf_yaml_doc(odocs, 0) : NULL;
		doc = json_is_object(doc) ? json_deep_copy(doc) : NULL;
	}
	if (!doc)
		doc = json_pack("{s:s, s:s, s:{}}", "apiVersion", "v1", "kind", "Config", "preferences");
	for (size_t i = 0; i < KF_ARRAY_SIZE(lists); i++) {
		size_t k;
		json_t *e;

		json_array_foreach(json_object_get(a, lists[i]), k, e)
			upsert(doc, lists[i], e);
	}
	cur = json_string_value(json_object_get(doc, "current-context"));
	if (!cur || !*cur)
		json_object_set(doc, "current-context", json_object_get(a, "current-context"));
	rc = kf_yaml_emit(&out, doc, false, err);
	if (!rc)
		rc = kf_file_write_atomic(path, out.buf, out.len, 0600, err);
	if (rc)
		kf_err_wrap(err, "merge into %s", path);
out:
	if (out.alloc)
		memset(out.buf, 0, out.len);
	kf_buf_release(&out);
	json_decref(doc);
	kf_yaml_free(adocs);
	kf_yaml_free(odocs);
	free(old);
	return rc;
}
