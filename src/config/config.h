/*
 * config.h - the Cluster profile (`kind: Cluster`, DESIGN.md 3.1): loading,
 * defaults and validation.
 *
 * kf_cluster_load() parses one profile file, fills in defaults (host ssh
 * settings inherit spec.ssh field by field), and validates everything,
 * adding every problem it finds to `diags` with file:line:col. It returns
 * KF_EINVAL when any problem was found (and then *out is NULL), so callers
 * never act on a half-valid profile.
 *
 * Ownership: the caller frees the result with kf_cluster_free(); every
 * string in it is owned by the cluster.
 */
#ifndef KF_CONFIG_H
#define KF_CONFIG_H

#include <jansson.h>

#include "util/util.h"
#include "yaml/yaml.h"

enum kf_role { KF_ROLE_CONTROL_PLANE, KF_ROLE_WORKER };
enum kf_hostkey_policy { KF_HOSTKEY_STRICT, KF_HOSTKEY_ACCEPT_NEW };

struct kf_bastion {
	char *address;
	char *user;
	int port;
	char *identity_file; /* defaults to the host's */
};

/* SSH settings of one host after defaults (spec.ssh, then host.ssh). */
struct kf_ssh_cfg {
	char *user;                    /* default "root" */
	int port;                      /* default 22 */
	char *identity_file;           /* expanded (~), may be NULL: agent only */
	char *known_hosts_file;        /* expanded, default ~/.ssh/known_hosts */
	enum kf_hostkey_policy host_key_policy; /* default strict */
	double connect_timeout;        /* seconds, default 10 */
	struct kf_bastion *bastion;    /* NULL when none */
};

struct kf_taint {
	char *key;
	char *value;  /* may be NULL */
	char *effect; /* NoSchedule | PreferNoSchedule | NoExecute */
};

struct kf_host {
	char *name;
	char *address;
	enum kf_role role;
	struct kf_ssh_cfg ssh;
	char **label_keys, **label_values; /* nlabels each */
	size_t nlabels;
	struct kf_taint *taints;
	size_t ntaints;
	struct kf_pos pos; /* where the host entry starts */
};

struct kf_cluster {
	char *path;  /* the file it was loaded from */
	char *name;  /* metadata.name */
	struct kf_ssh_cfg ssh; /* spec.ssh defaults */
	struct kf_host *hosts;
	size_t nhosts;
	struct {
		char *version;        /* "1.31.4" */
		char *pod_subnet;     /* default 10.244.0.0/16 */
		char *service_subnet; /* default 10.96.0.0/12 */
		char *cni;            /* flannel (default) | calico */
		char *offline_bundle; /* directory of .deb packages to upload, or NULL */
		char *control_plane_endpoint; /* default: the control plane's address */
	} kubernetes;
	struct {
		char *release;        /* default "26.03" */
		char **components;    /* as written, dependencies not yet added */
		size_t ncomponents;
		char *source_path;    /* local rendered manifests, or NULL (upstream) */
	} kubeflow;
	struct {
		bool enabled;         /* spec.gitops present */
		char *repository;
		char *branch;         /* default main */
		double interval;      /* seconds, default 60 */
		char *image;          /* the reconciler's image, default kfboot:<version> */
	} gitops;
};

int kf_cluster_load(struct kf_cluster **out, const char *path,
		    struct kf_diags *diags, struct kf_err **err);
/* Same, from a buffer; `name` is used in positions. */
int kf_cluster_load_buf(struct kf_cluster **out, const char *name,
			const char *data, size_t len, struct kf_diags *diags,
			struct kf_err **err);
void kf_cluster_free(struct kf_cluster *c);

/* The first control-plane host (validation guarantees there is one). */
const struct kf_host *kf_cluster_control_plane(const struct kf_cluster *c);
const struct kf_host *kf_cluster_host(const struct kf_cluster *c, const char *name);

/* The cluster as JSON, defaults filled in (for -o json / -o yaml). */
json_t *kf_cluster_to_json(const struct kf_cluster *c);

/* ---- additions ---------------------------------------------------------
 * Relative paths in a profile (identityFile, knownHostsFile, offlineBundle,
 * kubeflow.source.path) resolve against the folder of the profile file;
 * kf_cluster_load_buf() resolves them against the working directory. The
 * cluster holds them absolute.
 * Every diagnostic carries the file name given to the loader.
 */

/* Number of hosts with this role. */
size_t kf_cluster_count_role(const struct kf_cluster *c, enum kf_role role);
/* "control-plane" / "worker"; "strict" / "accept-new". */
const char *kf_role_str(enum kf_role role);
const char *kf_hostkey_policy_str(enum kf_hostkey_policy p);
/* True for a Kubeflow component name a profile may list. */
bool kf_kubeflow_component_known(const char *name);

#endif
