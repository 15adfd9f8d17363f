/*
 * config.c - loading a Cluster profile: read the file, parse it with the
 * YAML loader, insist on exactly one document, hand it to the walker in
 * profile.c, and give back either a complete cluster or every problem as a
 * positioned diagnostic. Also the getters, freeing, and the JSON form used
 * by `-o json` / `-o yaml`.
 *
 * A profile is small; anything larger than PROFILE_MAX_BYTES, deeper than
 * a few dozen levels or with more than PROFILE_MAX_NODES nodes (after alias
 * expansion) is refused before any of it is looked at.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/profile.h"
#include "config/rules.h"

#define PROFILE_MAX_BYTES (4u << 20)
#define PROFILE_MAX_NODES 100000
#define PROFILE_MAX_DEPTH 64

/*
 * The loader says "name:line:col: what is wrong" (perhaps after some
 * context). Turn that into a positioned diagnostic.
 */
static void add_loader_problem(struct kf_diags *diags, const char *name,
			       const struct kf_err *yerr)
{
	char *msg = kf_err_str(yerr);
	size_t nlen = strlen(name);
	const char *p = msg, *text = msg;
	int line = 0, col = 0;

	while ((p = strstr(p, name)) != NULL) {
		const char *q = p + nlen;
		char *end;
		long l, c = 0;

		if (*q != ':' || q[1] < '0' || q[1] > '9') {
			p++;
			continue;
		}
		l = strtol(q + 1, &end, 10);
		if (*end == ':' && end[1] >= '0' && end[1] <= '9')
			c = strtol(end + 1, &end, 10);
		if (*end == ':') {
			line = (int)(l > 0 && l < 1000000000 ? l : 0);
			col = (int)(c > 0 && c < 1000000000 ? c : 0);
			text = end + 1;
			while (*text == ' ')
				text++;
		}
		break;
	}
	kf_diags_add(diags, name, line, col, "%s", text);
	free(msg);
}

static size_t check_documents(struct kf_diags *diags, const char *name,
			      const struct kf_yaml_docs *docs)
{
	size_t n = kf_yaml_count(docs);
	struct kf_pos p;

	if (n == 0 || json_is_null(kf_yaml_doc(docs, 0))) {
		p = n ? kf_yaml_doc_pos(docs, 0) : (struct kf_pos){ NULL, 1, 1 };
		kf_diags_add(diags, name, p.line ? p.line : 1, p.col ? p.col : 1,
			     "the profile is empty (expected a Cluster profile; 'kfboot init' writes one)");
		return 1;
	}
	if (n == 2 && json_is_null(kf_yaml_doc(docs, 1))) {
		p = kf_yaml_doc_pos(docs, 1);
		kf_diags_add(diags, name, p.line, p.col,
			     "an empty second YAML document follows the profile (remove the trailing '---')");
		return 1;
	}
	if (n > 1) {
		p = kf_yaml_doc_pos(docs, 1);
		kf_diags_add(diags, name, p.line, p.col,
			     "a profile is one YAML document, but this file holds %zu (the second starts here)", n);
		return 1;
	}
	return 0;
}

static int load(struct kf_cluster **out, const char *name, const char *data,
		size_t len, const char *basedir, struct kf_diags *diags,
		struct kf_err **err)
{
	struct kf_yaml_opts opts = { PROFILE_MAX_NODES, PROFILE_MAX_DEPTH, 0 };
	struct kf_diags local = KF_DIAGS_INIT;
	struct kf_yaml_docs *docs = NULL;
	struct kf_cluster *c = NULL;
	struct kf_err *yerr = NULL;
	size_t problems = 0;
	int result = 0;

	*out = NULL;
	if (!diags)
		diags = &local;
	if (len > PROFILE_MAX_BYTES) {
		kf_diags_add(diags, name, 0, 0, "the profile is larger than %u MiB", PROFILE_MAX_BYTES >> 20);
		problems = 1;
		goto out;
	}
	if (kf_yaml_load_buf(&docs, name, data, len, &opts, &yerr) < 0) {
		add_loader_problem(diags, name, yerr);
		problems = 1;
		goto out;
	}
	problems = check_documents(diags, name, docs);
	if (kf_yaml_count(docs) == 0 || json_is_null(kf_yaml_doc(docs, 0)))
		goto out;
	c = kf_xcalloc(1, sizeof(*c));
	c->path = kf_xstrdup(name);
	problems += kf_profile_read(c, docs, kf_yaml_doc(docs, 0), name, basedir, diags);
out:
	if (problems) {
		kf_cluster_free(c);
		result = kf_err_set(err, KF_EINVAL, "%s: %zu problem%s in the profile", name,
				    problems, problems == 1 ? "" : "s");
	} else {
		*out = c;
	}
	kf_err_free(yerr);
	kf_yaml_free(docs);
	kf_diags_release(&local);
	return result;
}

/* The working directory, or NULL when it cannot be known. */
static char *cwd(void)
{
	return getcwd(NULL, 0);
}

/*
 * Relative paths in a profile resolve against its folder, made absolute so
 * that what -o yaml prints means the same from any directory. A profile
 * read from a device (/dev/stdin) or /proc resolves them against the
 * working directory. NULL: the working directory is unknown; paths stay
 * relative.
 */
static char *profile_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *real;

	if (kf_str_startswith(path, "/dev/") || kf_str_startswith(path, "/proc/") || !slash)
		return cwd();
	if (slash == path)
		return kf_xstrdup("/");
	dir = kf_xstrndup(path, (size_t)(slash - path));
	if (dir[0] == '/')
		return dir;
	real = realpath(dir, NULL);
	if (real) {
		free(dir);
		return real;
	}
	return dir;
}

int kf_cluster_load(struct kf_cluster **out, const char *path,
		    struct kf_diags *diags, struct kf_err **err)
{
	char *data = NULL, *dir = NULL;
	size_t len = 0;
	int result;

	*out = NULL;
	result = kf_file_read(path, &data, &len, err);
	if (result)
		goto out;
	dir = profile_dir(path);
	result = load(out, path, data, len, dir, diags, err);
out:
	free(data);
	free(dir);
	return result;
}

int kf_cluster_load_buf(struct kf_cluster **out, const char *name,
			const char *data, size_t len, struct kf_diags *diags,
			struct kf_err **err)
{
	char *dir = cwd();
	int result = load(out, name, data, len, dir, diags, err);

	free(dir);
	return result;
}

void kf_cluster_free(struct kf_cluster *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->name);
	kf_ssh_cfg_release(&c->ssh);
	for (size_t i = 0; i < c->nhosts; i++) {
		struct kf_host *h = &c->hosts[i];

		free(h->name);
		free(h->address);
		kf_ssh_cfg_release(&h->ssh);
		for (size_t j = 0; j < h->nlabels; j++) {
			free(h->label_keys[j]);
			free(h->label_values[j]);
		}
		free(h->label_keys);
		free(h->label_values);
		for (size_t j = 0; j < h->ntaints; j++) {
			free(h->taints[j].key);
			free(h->taints[j].value);
			free(h->taints[j].effect);
		}
		free(h->taints);
	}
	free(c->hosts);
	free(c->kubernetes.version);
	free(c->kubernetes.pod_subnet);
	free(c->kubernetes.service_subnet);
	free(c->kubernetes.cni);
	free(c->kubernetes.offline_bundle);
	free(c->kubernetes.control_plane_endpoint);
	free(c->kubeflow.release);
	for (size_t i = 0; i < c->kubeflow.ncomponents; i++)
		free(c->kubeflow.components[i]);
	free(c->kubeflow.components);
	free(c->kubeflow.source_path);
	free(c->gitops.repository);
	free(c->gitops.branch);
	free(c->gitops.image);
	free(c);
}

const struct kf_host *kf_cluster_host(const struct kf_cluster *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->nhosts; i++)
		if (c->hosts[i].name && !strcmp(c->hosts[i].name, name))
			return &c->hosts[i];
	return NULL;
}

size_t kf_cluster_count_role(const struct kf_cluster *c, enum kf_role role)
{
	size_t n = 0;

	for (size_t i = 0; c && i < c->nhosts; i++)
		n += c->hosts[i].role == role;
	return n;
}

const char *kf_role_str(enum kf_role role)
{
	return role == KF_ROLE_WORKER ? "worker" : "control-plane";
}

const char *kf_hostkey_policy_str(enum kf_hostkey_policy p)
{
	return p == KF_HOSTKEY_ACCEPT_NEW ? "accept-new" : "strict";
}

/* ---- JSON ------------------------------------------------------------ */

static void set_str(json_t *o, const char *key, const char *s)
{
	if (s)
		json_object_set_new(o, key, json_string(s));
}

static void set_duration(json_t *o, const char *key, double seconds)
{
	char buf[64];

	json_object_set_new(o, key, json_string(kf_config_duration_fmt(seconds, buf, sizeof(buf))));
}

static json_t *ssh_json(const struct kf_ssh_cfg *s)
{
	json_t *o = json_object();

	set_str(o, "user", s->user);
	json_object_set_new(o, "port", json_integer(s->port));
	set_str(o, "identityFile", s->identity_file);
	set_str(o, "knownHostsFile", s->known_hosts_file);
	set_str(o, "hostKeyPolicy", kf_hostkey_policy_str(s->host_key_policy));
	set_duration(o, "connectTimeout", s->connect_timeout);
	if (s->bastion) {
		json_t *b = json_object();

		set_str(b, "address", s->bastion->address);
		set_str(b, "user", s->bastion->user);
		json_object_set_new(b, "port", json_integer(s->bastion->port));
		set_str(b, "identityFile", s->bastion->identity_file);
		json_object_set_new(o, "bastion", b);
	}
	return o;
}

static json_t *host_json(const struct kf_host *h)
{
	json_t *o = json_object();

	set_str(o, "name", h->name);
	set_str(o, "address", h->address);
	set_str(o, "role", kf_role_str(h->role));
	json_object_set_new(o, "ssh", ssh_json(&h->ssh));
	if (h->nlabels) {
		json_t *l = json_object();

		for (size_t i = 0; i < h->nlabels; i++)
			set_str(l, h->label_keys[i], h->label_values[i]);
		json_object_set_new(o, "labels", l);
	}
	if (h->ntaints) {
		json_t *a = json_array();

		for (size_t i = 0; i < h->ntaints; i++) {
			json_t *t = json_object();

			set_str(t, "key", h->taints[i].key);
			set_str(t, "value", h->taints[i].value);
			set_str(t, "effect", h->taints[i].effect);
			json_array_append_new(a, t);
		}
		json_object_set_new(o, "taints", a);
	}
	return o;
}

json_t *kf_cluster_to_json(const struct kf_cluster *c)
{
	json_t *root = json_object(), *meta = json_object(), *spec = json_object();
	json_t *hosts = json_array(), *kube = json_object(), *kf = json_object();
	json_t *comps = json_array();

	json_object_set_new(root, "apiVersion", json_string("kfboot.io/v1alpha1"));
	json_object_set_new(root, "kind", json_string("Cluster"));
	set_str(meta, "name", c->name);
	json_object_set_new(root, "metadata", meta);

	json_object_set_new(spec, "ssh", ssh_json(&c->ssh));
	for (size_t i = 0; i < c->nhosts; i++)
		json_array_append_new(hosts, host_json(&c->hosts[i]));
	json_object_set_new(spec, "hosts", hosts);

	set_str(kube, "version", c->kubernetes.version);
	set_str(kube, "podSubnet", c->kubernetes.pod_subnet);
	set_str(kube, "serviceSubnet", c->kubernetes.service_subnet);
	set_str(kube, "cni", c->kubernetes.cni);
	set_str(kube, "controlPlaneEndpoint", c->kubernetes.control_plane_endpoint);
	set_str(kube, "offlineBundle", c->kubernetes.offline_bundle);
	json_object_set_new(spec, "kubernetes", kube);

	set_str(kf, "release", c->kubeflow.release);
	for (size_t i = 0; i < c->kubeflow.ncomponents; i++)
		json_array_append_new(comps, json_string(c->kubeflow.components[i]));
	json_object_set_new(kf, "components", comps);
	if (c->kubeflow.source_path)
		json_object_set_new(kf, "source", json_pack("{s:s}", "path", c->kubeflow.source_path));
	json_object_set_new(spec, "kubeflow", kf);

	if (c->gitops.enabled) {
		json_t *g = json_object();

		set_str(g, "repository", c->gitops.repository);
		set_str(g, "branch", c->gitops.branch);
		set_duration(g, "interval", c->gitops.interval);
		set_str(g, "image", c->gitops.image);
		json_object_set_new(spec, "gitops", g);
	}
	json_object_set_new(root, "spec", spec);
	return root;
}
