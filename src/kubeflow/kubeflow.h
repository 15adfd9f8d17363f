/*
 * kubeflow.h - the Kubeflow component catalog and its install.
 *
 * The catalog (manifests/kubeflow/catalog.yaml, `kind: ComponentCatalog`)
 * says, for every Kubeflow component, where its rendered manifests come
 * from (kustomize path in kubeflow/manifests at the release tag, and the
 * rendered file name in a local directory), what it depends on, and what
 * "healthy" means for it. Selections map the user-facing names of a Cluster
 * profile (pipelines, katib, ...) to sets of components.
 *
 * Install: resolve the selection to a dependency order, load and validate
 * every component's objects before anything is sent, replace the default
 * credentials (Dex user, OIDC client and cookie secrets, KFP S3 key), then
 * apply component by component with the staged apply engine (one ApplySet
 * inventory "kubeflow-<component>" each), waiting for each component's
 * health before the next.
 *
 * Ownership: `_load`/`_free` and `_init`/`_release` pairs; getters borrow
 * from the catalog. Library code never prints: progress goes through a
 * callback, and generated secrets never leave this module except into the
 * objects applied and 0600 files in the state directory.
 */
#ifndef KF_KUBEFLOW_H
#define KF_KUBEFLOW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube/kube.h"
#include "util/util.h"

/* ---- catalog -------------------------------------------------------- */

enum kf_kubeflow_health {
	KF_KUBEFLOW_HEALTH_ALL,  /* every workload of the component, CRDs Established */
	KF_KUBEFLOW_HEALTH_LIST, /* the objects in `waits` */
	KF_KUBEFLOW_HEALTH_NONE, /* applied is enough */
};

struct kf_kubeflow_ref {  /* an object to wait for */
	char *kind;       /* "Deployment", "StatefulSet", "DaemonSet", "Job", "CustomResourceDefinition" */
	char *ns;         /* NULL for cluster-scoped kinds */
	char *name;
};

struct kf_kubeflow_manifest {
	char *path;       /* kustomize path in kubeflow/manifests */
	char *file;       /* rendered file name in a local source directory */
};

struct kf_kubeflow_component {
	char *name;
	char *summary;                         /* may be NULL */
	struct kf_kubeflow_manifest *manifests;
	size_t nmanifests;
	char *ns;                              /* namespace for namespaced objects without one, or NULL */
	char **deps;
	size_t ndeps;
	enum kf_kubeflow_health health;
	struct kf_kubeflow_ref *waits;
	size_t nwaits;
	int line, col;                         /* where the entry starts */
};

struct kf_kubeflow_selection {
	char *name;
	char **components;
	size_t ncomponents;
};

struct kf_kubeflow_catalog {
	char *file;                 /* where it was loaded from */
	char *release;              /* "26.03" */
	char *repository;           /* upstream git URL */
	char *tag;                  /* upstream tag */
	struct kf_kubeflow_component *components;
	size_t ncomponents;
	struct kf_kubeflow_selection *selections;
	size_t nselections;
	char **defaults;            /* selection names */
	size_t ndefaults;
};

/*
 * Load and validate a catalog: unknown fields, missing names, duplicate
 * components, dependencies on unknown components and dependency cycles are
 * added to diags with file:line:col; KF_EINVAL is returned when there were
 * any (and *out is NULL).
 */
int kf_kubeflow_catalog_load(struct kf_kubeflow_catalog **out, const char *path,
			     struct kf_diags *diags, struct kf_err **err);
int kf_kubeflow_catalog_load_buf(struct kf_kubeflow_catalog **out,
				 const char *name, const char *data, size_t len,
				 struct kf_diags *diags, struct kf_err **err);
void kf_kubeflow_catalog_free(struct kf_kubeflow_catalog *c);
/* The catalog shipped with kfboot: $KFBOOT_CATALOG, else
 * <source dir>/manifests/kubeflow/catalog.yaml. Borrowed/static. */
const char *kf_kubeflow_catalog_default_path(void);
/* Load the catalog shipped with kfboot: $KFBOOT_CATALOG, else the file in
 * the source tree when it is there, else the copy built into the binary. */
int kf_kubeflow_catalog_load_default(struct kf_kubeflow_catalog **out,
				     struct kf_diags *diags, struct kf_err **err);

/* Borrowed; NULL when unknown. */
const struct kf_kubeflow_component *
kf_kubeflow_component_find(const struct kf_kubeflow_catalog *c, const char *name);
const struct kf_kubeflow_selection *
kf_kubeflow_selection_find(const struct kf_kubeflow_catalog *c, const char *name);

/*
 * Expand names (selection names or component names; NULL/0 = the catalog's
 * defaults) with every dependency into a dependency order: a component
 * comes after everything it depends on; among components whose
 * dependencies are met, catalog order wins (stable). *out is a malloc'd
 * array of borrowed pointers. An unknown name is an error with "did you
 * mean"; a cycle is an error naming it ("a -> b -> a").
 */
int kf_kubeflow_resolve(const struct kf_kubeflow_component ***out, size_t *n,
			const struct kf_kubeflow_catalog *c,
			const char *const *names, size_t nnames,
			struct kf_err **err);

/* ---- credentials ---------------------------------------------------- */

/*
 * The credentials kfboot puts in place of upstream's defaults. Every value
 * is registered with kf_redact_register. They are kept (0600) in
 * <state_dir>/kubeflow-credentials.json so that a re-install sends the same
 * objects (no writes) and the OIDC/cookie secrets stay consistent.
 */
struct kf_kubeflow_creds {
	char *email;          /* Dex static user's email (login) */
	char *username;       /* its user name (the email's local part) */
	char *password_hash;  /* bcrypt $2y$ */
	char *oidc_secret;    /* OIDC client secret (Dex <-> oauth2-proxy) */
	char *cookie_secret;  /* oauth2-proxy cookie secret (32 characters) */
	char *s3_secret;      /* KFP artifact store (SeaweedFS) secret key */
};

struct kf_kubeflow_creds_opts {
	const char *state_dir;     /* required */
	const char *email;         /* NULL: the kept one, else "admin@example.com" */
	const char *password_file; /* NULL: the kept one, else generate into
				      <state_dir>/kubeflow-admin-password */
	bool no_write;             /* dry run: read what is kept, write nothing */
};

/*
 * Prepare the credentials: reuse what is kept in the state dir when it
 * still matches (the bcrypt hash is reused when it verifies the password),
 * generate the rest with RAND_bytes. *generated is the path of a newly
 * written password file (caller frees) or NULL.
 */
int kf_kubeflow_creds_prepare(struct kf_kubeflow_creds *out, char **generated,
			      const struct kf_kubeflow_creds_opts *o,
			      struct kf_err **err);
void kf_kubeflow_creds_release(struct kf_kubeflow_creds *c);

/* bcrypt ($2y$, cost 12 - or `cost` when > 0) of a password. */
int kf_kubeflow_bcrypt(char **out, const char *password, int cost,
		       struct kf_err **err);
/* True when hash is the bcrypt hash of password. */
bool kf_kubeflow_bcrypt_check(const char *password, const char *hash);

/*
 * Replace the default credentials in the objects of a set: Secret
 * auth/dex-passwords DEX_USER_PASSWORD, the static user in ConfigMap
 * auth/dex (config.yaml), the owner of the default Profile, the OIDC client
 * secret (auth/dex-oidc-client and every Secret value equal to it), the
 * oauth2-proxy cookie secret, and the KFP S3 secret key. *nchanged counts
 * the objects changed. The KFP MySQL root password is left alone (the
 * server is initialised with MYSQL_ALLOW_EMPTY_PASSWORD; docs/kubeflow.md).
 */
int kf_kubeflow_creds_rewrite(size_t *nchanged, struct kf_objset *set,
			      const struct kf_kubeflow_creds *c,
			      struct kf_err **err);

/* ---- sources -------------------------------------------------------- */

/*
 * Fetch kubeflow/manifests (or `repository`) at `tag` into
 * <cache_dir>/manifests-<tag> with libgit2 (reused when present), and
 * render every manifest of the components with `kustomize build` or
 * `kubectl kustomize` (the first on PATH) into <cache_dir>/rendered-<tag>/.
 * *out_dir (caller frees) is then a local source directory.
 */
int kf_kubeflow_fetch_render(char **out_dir, const char *repository,
			     const char *tag, const char *cache_dir,
			     const struct kf_kubeflow_component *const *comps,
			     size_t ncomps, struct kf_err **err);

/* ---- install -------------------------------------------------------- */

struct kf_kubeflow_progress {
	size_t index, total;    /* component index (1-based) of total */
	const char *component;
	const char *what;       /* "applying", "waiting", "done", "unchanged" */
	size_t objects;         /* objects of the component */
	double elapsed;         /* since the install started */
};

typedef void (*kf_kubeflow_progress_fn)(void *ctx, const struct kf_kubeflow_progress *p);

struct kf_kubeflow_install_opts {
	const struct kf_kubeflow_catalog *catalog;
	const char *const *components;  /* NULL/0 = the catalog's defaults */
	size_t ncomponents;
	const char *source_dir;         /* local rendered files; NULL = upstream */
	const char *release;            /* upstream tag; NULL = the catalog's */
	const char *repository;         /* upstream repository; NULL = the catalog's */
	const char *cache_dir;          /* for upstream; required then */
	struct kf_kubeflow_creds_opts creds;
	bool dry_run;                   /* server-side dry run */
	bool no_wait;                   /* skip health waits */
	double timeout;                 /* per component; 0 = 10 min */
	kf_kubeflow_progress_fn progress;
	void *progress_ctx;
	kf_apply_progress_fn apply_progress; /* the engine's own progress */
	void *apply_progress_ctx;
};

struct kf_kubeflow_install_result {
	size_t ncomponents;
	size_t total, applied, unchanged, failed, pruned;
	double elapsed;
	char *generated_password_file;  /* a password was generated here, or NULL */
	json_t *report;                 /* {"components":[{name, objects, applied, unchanged, seconds, ...}]} */
};

/*
 * Install the selected components (module comment). Problems in the input
 * (a missing rendered file, a broken document, a kind no CRD provides)
 * refuse the whole install before anything is sent; they go to diags with
 * file:line:col. Returns 0 when every component was applied and healthy.
 */
int kf_kubeflow_install(struct kf_kubeflow_install_result *out,
			struct kf_kube *k, struct kf_discovery *d,
			const struct kf_kubeflow_install_opts *o,
			struct kf_diags *diags, struct kf_err **err);
void kf_kubeflow_install_result_release(struct kf_kubeflow_install_result *r);

/* Inventory name of a component: "kubeflow-<name>". Caller frees. */
char *kf_kubeflow_inventory(const char *component);

/* ---- lifecycle: status and uninstall (lifecycle.c) ------------------- */

/*
 * Every installed component (its inventory parent exists), in dependency
 * order: *out is a JSON array of {component, installed, version, objects,
 * ready, progressing, failed, health ("Healthy", "Progressing",
 * "Degraded"), installedAt, waitingFor: [up to 5 "Kind ns/name: why"]}.
 * Members are found by kubectl's ApplySet conventions (contains-group-kinds
 * annotation, part-of label), so only the cluster is read.
 */
int kf_kubeflow_status(json_t **out, struct kf_kube *k, const struct kf_discovery *d,
		       const struct kf_kubeflow_catalog *cat, struct kf_err **err);

struct kf_kubeflow_uninstall_opts {
	const struct kf_kubeflow_catalog *catalog;
	const char *const *components;  /* components or selections; NULL/0 = all installed */
	size_t ncomponents;
	bool force;                     /* remove even what an installed component needs */
	bool dry_run;                   /* server-side dry run of the deletes */
	double timeout;
	void (*progress)(void *ctx, const char *component);
	void *progress_ctx;
	kf_apply_progress_fn apply_progress;
	void *apply_progress_ctx;
};

/*
 * Delete the named components through their inventories, dependents
 * first. Refuses (KF_EINVAL, naming each pair) when an installed component
 * that is not being removed depends on one that is, unless o->force.
 * *report: {components: [{component, deleted, seconds} | {component,
 * notInstalled: true}], dryRun}.
 */
int kf_kubeflow_uninstall(json_t **report, struct kf_kube *k, struct kf_discovery *d,
			  const struct kf_kubeflow_uninstall_opts *o, struct kf_err **err);

#endif
