/*
 * test_kubeflow.c - unit tests for src/kubeflow: the shipped catalog loads
 * and its defaults expand to exactly upstream's example (object by object,
 * by apiVersion/kind/namespace/name, against the rendered 26.03 files in
 * tests/data/upstream, unpacked into the build tree); catalog errors carry file:line:col;
 * resolution is a stable dependency order, names cycles and suggests names;
 * default credentials are replaced everywhere and consistently; bcrypt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "kubeflow/kubeflow.h"

static char *data_path(const char *name)
{
	const char *src = getenv("KF_SOURCE_DIR");

	return kf_xasprintf("%s/tests/data/kubeflow/%s", src ? src : KF_SOURCE_DIR, name);
}

static char *manifests_path(const char *name)
{
	const char *data = getenv("KF_DATA_DIR");

	return kf_xasprintf("%s/kubeflow-manifests/%s", data ? data : KF_TEST_DATA_DIR, name);
}

static bool have_manifests(void)
{
	char *p = manifests_path("full-example.yaml");
	bool ok = access(p, R_OK) == 0;

	free(p);
	return ok;
}

static struct kf_kubeflow_catalog *load_shipped(void)
{
	struct kf_kubeflow_catalog *c = NULL;
	struct kf_diags dg = KF_DIAGS_INIT;
	char *p = kf_xasprintf("%s/manifests/kubeflow/catalog.yaml",
			       getenv("KF_SOURCE_DIR") ? getenv("KF_SOURCE_DIR") : KF_SOURCE_DIR);
	int rc = kf_kubeflow_catalog_load(&c, p, &dg, NULL);

	for (size_t i = 0; i < dg.n; i++) {
		char *s = kf_diag_str(&dg.v[i]);

		print_error("%s\n", s);
		free(s);
	}
	assert_int_equal(rc, 0);
	assert_non_null(c);
	kf_diags_release(&dg);
	free(p);
	return c;
}

/* Is there a diagnostic at line:col whose message contains `part`? */
static bool has_diag(const struct kf_diags *dg, int line, int col, const char *part)
{
	for (size_t i = 0; i < dg->n; i++)
		if (dg->v[i].line == line && (col == 0 || dg->v[i].col == col) && strstr(dg->v[i].msg, part))
			return true;
	return false;
}

static void dump_diags(const struct kf_diags *dg)
{
	for (size_t i = 0; i < dg->n; i++) {
		char *s = kf_diag_str(&dg->v[i]);

		print_message("  %s\n", s);
		free(s);
	}
}

/* ---- catalog ------------------------------------------------------ */

static void test_kubeflow_catalog__shipped_loads(void **state)
{
	struct kf_kubeflow_catalog *c = load_shipped();
	const struct kf_kubeflow_component *cm, *dex;

	assert_string_equal(c->release, "26.03");
	assert_string_equal(c->tag, "26.03");
	assert_true(c->ncomponents >= 27);
	cm = kf_kubeflow_component_find(c, "cert-manager");
	assert_non_null(cm);
	assert_int_equal(cm->health, KF_KUBEFLOW_HEALTH_LIST);
	assert_true(cm->nwaits >= 3);
	assert_string_equal(cm->manifests[0].path, "common/cert-manager/overlays/kubeflow");
	dex = kf_kubeflow_component_find(c, "dex");
	assert_string_equal(dex->manifests[0].file, "dex.yaml");
	assert_non_null(kf_kubeflow_selection_find(c, "notebooks"));
	assert_null(kf_kubeflow_component_find(c, "nope"));
	kf_kubeflow_catalog_free(c);
}

static void test_kubeflow_catalog__builtin_copy_loads(void **state)
{
	struct kf_kubeflow_catalog *c = NULL, *f = load_shipped();
	struct kf_diags dg = KF_DIAGS_INIT;
	char *saved = getenv("KFBOOT_CATALOG") ? kf_xstrdup(getenv("KFBOOT_CATALOG")) : NULL;

	/* Point the env at a missing file: load_default must then fail, not
	 * fall back silently; without it the tree's file (or the built-in copy). */
	setenv("KFBOOT_CATALOG", "/nonexistent/catalog.yaml", 1);
	assert_int_not_equal(kf_kubeflow_catalog_load_default(&c, &dg, NULL), 0);
	unsetenv("KFBOOT_CATALOG");
	assert_int_equal(kf_kubeflow_catalog_load_default(&c, &dg, NULL), 0);
	assert_int_equal(c->ncomponents, f->ncomponents);
	assert_int_equal(c->nselections, f->nselections);
	kf_kubeflow_catalog_free(c);
	if (saved)
		setenv("KFBOOT_CATALOG", saved, 1);
	free(saved);
	kf_diags_release(&dg);
	kf_kubeflow_catalog_free(f);
}

static void test_kubeflow_catalog__errors_have_positions(void **state)
{
	struct kf_kubeflow_catalog *c = NULL;
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_err *err = NULL;
	char *p = data_path("bad-fields.yaml");
	int rc = kf_kubeflow_catalog_load(&c, p, &dg, &err);

	assert_int_equal(rc, KF_EINVAL);
	assert_null(c);
	dump_diags(&dg);
	/* helth: did you mean health, at the key */
	assert_true(has_diag(&dg, 16, 7, "unknown field 'helth' (did you mean 'health'?)"));
	/* a dependency on an unknown component, at the entry */
	assert_true(has_diag(&dg, 12, 7, "depends on unknown component 'database'"));
	/* a file that is not a plain name */
	assert_true(has_diag(&dg, 17, 7, "must be a plain file name"));
	assert_true(has_diag(&dg, 20, 0, "expected 'all' or 'none'"));
	/* wait entries: a misspelt kind, a CRD with a namespace */
	assert_true(has_diag(&dg, 25, 0, "did you mean 'Deployment'"));
	assert_true(has_diag(&dg, 25, 0, "a CustomResourceDefinition has no namespace"));
	/* a selection naming an unknown component, with a suggestion */
	assert_true(has_diag(&dg, 10, 0, "unknown component 'backnd' (did you mean 'backend'?)"));
	for (size_t i = 0; i < dg.n; i++) {
		assert_non_null(dg.v[i].file);
		assert_true(dg.v[i].line > 0);
		assert_true(dg.v[i].col > 0);
	}
	kf_diags_release(&dg);
	kf_err_free(err);
	free(p);
}

static void test_kubeflow_catalog__cycle_is_named(void **state)
{
	struct kf_kubeflow_catalog *c = NULL;
	struct kf_diags dg = KF_DIAGS_INIT;
	char *p = data_path("cycle.yaml");

	assert_int_equal(kf_kubeflow_catalog_load(&c, p, &dg, NULL), KF_EINVAL);
	dump_diags(&dg);
	assert_int_equal(dg.n, 1);
	assert_int_equal(dg.v[0].line, 9);
	assert_int_equal(dg.v[0].col, 7);
	assert_string_equal(dg.v[0].msg, "dependency cycle: a -> b -> c -> a");
	kf_diags_release(&dg);
	free(p);
}

static void test_kubeflow_catalog__syntax_error_position(void **state)
{
	static const char bad[] = "apiVersion: kfboot.io/v1alpha1\nkind: ComponentCatalog\nspec: [\n";
	struct kf_kubeflow_catalog *c = NULL;
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_err *err = NULL;
	char *s;

	assert_int_not_equal(kf_kubeflow_catalog_load_buf(&c, "cat.yaml", bad, strlen(bad), &dg, &err), 0);
	s = kf_err_str(err);
	assert_non_null(strstr(s, "cat.yaml:"));
	free(s);
	kf_err_free(err);
	kf_diags_release(&dg);
}

/* ---- resolution --------------------------------------------------- */

static char *order_str(const struct kf_kubeflow_component **v, size_t n)
{
	struct kf_buf b = KF_BUF_INIT;

	for (size_t i = 0; i < n; i++)
		kf_buf_addf(&b, "%s%s", i ? "," : "", v[i]->name);
	return kf_buf_detach(&b, NULL);
}

static void test_kubeflow_resolve__stable_dependency_order(void **state)
{
	struct kf_kubeflow_catalog *c = NULL;
	struct kf_diags dg = KF_DIAGS_INIT;
	const struct kf_kubeflow_component **v = NULL;
	const char *names[] = { "worker", "app" };
	char *p = data_path("small.yaml"), *s;
	size_t n;

	assert_int_equal(kf_kubeflow_catalog_load(&c, p, &dg, NULL), 0);
	assert_int_equal(kf_kubeflow_resolve(&v, &n, c, NULL, 0, NULL), 0);
	s = order_str(v, n);
	assert_string_equal(s, "db,api,web,worker");
	free(s);
	free(v);
	/* The same set, named differently, gives the same order. */
	assert_int_equal(kf_kubeflow_resolve(&v, &n, c, names, 2, NULL), 0);
	s = order_str(v, n);
	assert_string_equal(s, "db,api,web,worker");
	free(s);
	free(v);
	kf_kubeflow_catalog_free(c);
	free(p);
}

static void test_kubeflow_resolve__shipped_dependencies_first(void **state)
{
	struct kf_kubeflow_catalog *c = load_shipped();
	const struct kf_kubeflow_component **v = NULL;
	const char *names[] = { "pipelines" };
	size_t n;
	char *s;

	assert_int_equal(kf_kubeflow_resolve(&v, &n, c, names, 1, NULL), 0);
	s = order_str(v, n);
	/* pipelines -> cert-manager, istio, dex, oauth2-proxy, kubeflow-namespace, kubeflow-roles ... */
	assert_string_equal(s, "kubeflow-namespace,cert-manager,istio-crds,istio-namespace,istio-install,dex,"
			       "oauth2-proxy,kubeflow-roles,kubeflow-istio-resources,pipelines");
	free(s);
	free(v);
	/* Every component of the default order comes after its dependencies. */
	assert_int_equal(kf_kubeflow_resolve(&v, &n, c, NULL, 0, NULL), 0);
	assert_int_equal(n, 27);
	for (size_t i = 0; i < n; i++)
		for (size_t d = 0; d < v[i]->ndeps; d++) {
			bool before = false;

			for (size_t j = 0; j < i && !before; j++)
				before = !strcmp(v[j]->name, v[i]->deps[d]);
			assert_true(before);
		}
	free(v);
	kf_kubeflow_catalog_free(c);
}

static void test_kubeflow_resolve__every_profile_name_resolves(void **state)
{
	/* The names a Cluster profile accepts (src/config) all mean something here. */
	static const char *const names[] = {
		"pipelines", "katib", "kserve", "trainer", "notebooks", "dashboard",
		"profiles", "tensorboards", "volumes", "model-registry",
		"spark-operator", "training-operator", "pvcviewer",
		"cert-manager", "istio", "dex", "oauth2-proxy", "knative",
	};
	struct kf_kubeflow_catalog *c = load_shipped();

	for (size_t i = 0; i < KF_ARRAY_SIZE(names); i++) {
		const struct kf_kubeflow_component **v = NULL;
		size_t n = 0;

		assert_true(kf_kubeflow_component_known(names[i]));
		assert_int_equal(kf_kubeflow_resolve(&v, &n, c, &names[i], 1, NULL), 0);
		assert_true(n >= 1);
		free(v);
	}
	/* and every default is one of them */
	for (size_t i = 0; i < c->ndefaults; i++)
		assert_true(kf_kubeflow_component_known(c->defaults[i]));
	kf_kubeflow_catalog_free(c);
}

static void test_kubeflow_resolve__unknown_name_suggests(void **state)
{
	struct kf_kubeflow_catalog *c = load_shipped();
	const struct kf_kubeflow_component **v = NULL;
	const char *names[] = { "katib", "pipelnes" };
	struct kf_err *err = NULL;
	size_t n;
	char *s;

	assert_int_equal(kf_kubeflow_resolve(&v, &n, c, names, 2, &err), KF_EINVAL);
	assert_null(v);
	s = kf_err_str(err);
	assert_string_equal(s, "unknown Kubeflow component 'pipelnes' (did you mean 'pipelines'?)");
	free(s);
	kf_err_free(err);
	kf_kubeflow_catalog_free(c);
}

static void test_kubeflow_resolve__cycle_error_names_it(void **state)
{
	/* A catalog that passed loading cannot have a cycle; build one by hand. */
	struct kf_kubeflow_catalog c = { 0 };
	struct kf_kubeflow_component comps[2] = { 0 };
	char *da[] = { "b" }, *db[] = { "a" }, *defs[] = { "a" };
	const struct kf_kubeflow_component **v = NULL;
	struct kf_err *err = NULL;
	size_t n;
	char *s;

	comps[0].name = "a";
	comps[0].deps = da;
	comps[0].ndeps = 1;
	comps[1].name = "b";
	comps[1].deps = db;
	comps[1].ndeps = 1;
	c.components = comps;
	c.ncomponents = 2;
	c.defaults = defs;
	c.ndefaults = 1;
	assert_int_equal(kf_kubeflow_resolve(&v, &n, &c, NULL, 0, &err), KF_EINVAL);
	s = kf_err_str(err);
	assert_string_equal(s, "dependency cycle: a -> b -> a");
	free(s);
	kf_err_free(err);
}

/* ---- the defaults are upstream's example -------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Identity keys "apiVersion kind namespace name" of every object, sorted. */
static char **identities(struct kf_objset *set, size_t *n)
{
	char **v = kf_xcalloc(set->n + 1, sizeof(*v));

	for (size_t i = 0; i < set->n; i++) {
		json_t *o = set->v[i].obj, *md = json_object_get(o, "metadata");
		const char *ns = json_string_value(json_object_get(md, "namespace"));

		v[i] = kf_xasprintf("%s %s %s %s", json_string_value(json_object_get(o, "apiVersion")),
				    json_string_value(json_object_get(o, "kind")), ns ? ns : "",
				    json_string_value(json_object_get(md, "name")));
	}
	qsort(v, set->n, sizeof(*v), cmp_str);
	*n = set->n;
	return v;
}

static void test_kubeflow_defaults__equal_full_example(void **state)
{
	struct kf_kubeflow_catalog *c;
	const struct kf_kubeflow_component **v = NULL;
	struct kf_objset mine = KF_OBJSET_INIT, full = KF_OBJSET_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	const char **paths;
	char *fp, **a, **b;
	size_t n, np = 0, na, nb;

	if (!have_manifests()) {
		skip();
		return;
	}
	c = load_shipped();
	assert_int_equal(kf_kubeflow_resolve(&v, &n, c, NULL, 0, NULL), 0);
	paths = kf_xcalloc(2 * n + 1, sizeof(*paths));
	for (size_t i = 0; i < n; i++)
		for (size_t m = 0; m < v[i]->nmanifests; m++)
			paths[np++] = manifests_path(v[i]->manifests[m].file);
	assert_int_equal(np, 27);
	assert_int_equal(kf_objset_load(&mine, paths, np, &dg, NULL), 0);
	fp = manifests_path("full-example.yaml");
	assert_int_equal(kf_objset_load(&full, (const char *const *)&fp, 1, &dg, NULL), 0);
	assert_int_equal(dg.n, 0);
	a = identities(&mine, &na);
	b = identities(&full, &nb);
	for (size_t i = 0, j = 0; i < na || j < nb;) {
		int d = i >= na ? 1 : j >= nb ? -1 : strcmp(a[i], b[j]);

		if (d < 0)
			print_error("only in the default selection: %s\n", a[i++]);
		else if (d > 0)
			print_error("only in full-example.yaml: %s\n", b[j++]);
		else
			i++, j++;
	}
	assert_int_equal(na, 675);
	assert_int_equal(nb, 675);
	for (size_t i = 0; i < na; i++)
		assert_string_equal(a[i], b[i]);
	for (size_t i = 0; i < na; i++)
		free(a[i]);
	for (size_t i = 0; i < nb; i++)
		free(b[i]);
	free(a);
	free(b);
	for (size_t i = 0; i < np; i++)
		free((char *)paths[i]);
	free(paths);
	free(fp);
	free(v);
	kf_objset_release(&mine);
	kf_objset_release(&full);
	kf_kubeflow_catalog_free(c);
}

/* ---- credentials -------------------------------------------------- */

static char *mkstate(void)
{
	char tmpl[] = "/tmp/kf-kubeflow-test-XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return kf_xstrdup(tmpl);
}

static void rmstate(const char *dir)
{
	const char *files[] = { "kubeflow-credentials.json", "kubeflow-admin-password", "pw" };

	for (size_t i = 0; i < KF_ARRAY_SIZE(files); i++) {
		char *p = kf_path_join(dir, files[i]);

		unlink(p);
		free(p);
	}
	rmdir(dir);
}

static void test_kubeflow_bcrypt__hash_verifies(void **state)
{
	char *h = NULL;

	assert_int_equal(kf_kubeflow_bcrypt(&h, "correct horse", 4, NULL), 0);
	assert_memory_equal(h, "$2y$04$", 7);
	assert_int_equal(strlen(h), 60);
	assert_true(kf_kubeflow_bcrypt_check("correct horse", h));
	assert_false(kf_kubeflow_bcrypt_check("correct horsf", h));
	/* upstream's default hash is 12341234 */
	assert_true(kf_kubeflow_bcrypt_check("12341234",
					     "$2y$12$4K/VkmDd1q1Orb3xAt82zu8gk7Ad6ReFR4LCP9UeYE90NLiN9Df72"));
	free(h);
}

static const char *secret_val(struct kf_objset *set, const char *ns, const char *prefix, const char *key,
			      bool *b64)
{
	for (size_t i = 0; i < set->n; i++) {
		json_t *o = set->v[i].obj, *md = json_object_get(o, "metadata");
		const char *n = json_string_value(json_object_get(md, "name"));
		const char *s = json_string_value(json_object_get(md, "namespace"));
		const char *v;

		if (strcmp(json_string_value(json_object_get(o, "kind")), "Secret") || !s || strcmp(s, ns) ||
		    strncmp(n, prefix, strlen(prefix)))
			continue;
		if ((v = json_string_value(json_object_get(json_object_get(o, "stringData"), key)))) {
			*b64 = false;
			return v;
		}
		if ((v = json_string_value(json_object_get(json_object_get(o, "data"), key)))) {
			*b64 = true;
			return v;
		}
	}
	return NULL;
}

/* A Secret value, decoded when it is in `data`. */
static char *secret_plain(struct kf_objset *set, const char *ns, const char *prefix, const char *key)
{
	bool b64 = false;
	const char *v = secret_val(set, ns, prefix, key, &b64);
	char *out = NULL;
	size_t len;

	assert_non_null(v);
	if (!b64)
		return kf_xstrdup(v);
	assert_int_equal(kf_base64_decode(v, &out, &len), 0);
	return out;
}

static void test_kubeflow_creds__defaults_replaced_everywhere(void **state)
{
	static const char *const defaults[] = {
		"$2y$12$4K/VkmDd1q1Orb3xAt82zu8gk7Ad6ReFR4LCP9UeYE90NLiN9Df72", /* 12341234 */
		"cFVCbkJPWTgwU25YZ2ppYlRZTTlaV056WTJ4cmVOR1Fvaw==",             /* OIDC client secret */
		"pUBnBOY80SnXgjibTYM9ZWNzY2xreNGQok",
		"N2QxNmZlZTkyZjhkMTFiODk0MGIwODFiM2Y4YjhhY2I=",                 /* cookie secret */
		"7d16fee92f8d11b8940b081b3f8b8acb",
		"minio123",
		"user@example.com",
	};
	const char *files[] = { "dex.yaml", "oauth2-proxy.yaml", "pipelines.yaml", "user-namespace.yaml" };
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_kubeflow_creds cr = { 0 }, cr2 = { 0 };
	struct kf_kubeflow_creds_opts co = { 0 };
	char *paths[4], *dir = mkstate(), *pwf = kf_path_join(dir, "pw"), *gen = NULL, *all, *a, *b;
	size_t changed = 0;
	bool b64a;
	json_t *arr = json_array();

	if (!have_manifests()) {
		free(pwf);
		rmstate(dir);
		free(dir);
		json_decref(arr);
		skip();
		return;
	}
	for (size_t i = 0; i < 4; i++)
		paths[i] = manifests_path(files[i]);
	assert_int_equal(kf_objset_load(&set, (const char *const *)paths, 4, &dg, NULL), 0);
	assert_int_equal(kf_file_write_atomic(pwf, "s3cret-pass\n", 12, 0600, NULL), 0);
	co.state_dir = dir;
	co.email = "ops@corp.example";
	co.password_file = pwf;
	assert_int_equal(kf_kubeflow_creds_prepare(&cr, &gen, &co, NULL), 0);
	assert_null(gen); /* the admin gave a password */
	assert_string_equal(cr.username, "ops");
	assert_true(kf_kubeflow_bcrypt_check("s3cret-pass", cr.password_hash));
	assert_int_equal(kf_kubeflow_creds_rewrite(&changed, &set, &cr, NULL), 0);
	/* dex-passwords, dex config, dex-oidc-client, oauth2-proxy secret,
	 * minio secret, profile, and the dex and oauth2-proxy Deployments
	 * (a checksum of their credentials in the pod template) */
	assert_int_equal(changed, 8);

	for (size_t i = 0; i < set.n; i++)
		json_array_append(arr, set.v[i].obj);
	all = json_dumps(arr, JSON_COMPACT);
	for (size_t i = 0; i < KF_ARRAY_SIZE(defaults); i++) {
		if (strstr(all, defaults[i]))
			print_error("default still present: %s\n", defaults[i]);
		assert_null(strstr(all, defaults[i]));
	}
	assert_non_null(strstr(all, "ops@corp.example"));
	/* The OIDC client secret is the same on both sides. */
	a = secret_plain(&set, "auth", "dex-oidc-client", "OIDC_CLIENT_SECRET");
	b = secret_plain(&set, "oauth2-proxy", "oauth2-proxy", "client-secret");
	assert_string_equal(a, b);
	assert_string_equal(a, cr.oidc_secret);
	free(a);
	free(b);
	a = secret_plain(&set, "oauth2-proxy", "oauth2-proxy", "cookie-secret");
	assert_int_equal(strlen(a), 32);
	free(a);
	assert_string_equal(secret_val(&set, "auth", "dex-passwords", "DEX_USER_PASSWORD", &b64a), cr.password_hash);

	/* A second prepare keeps everything (so a re-install sends no writes). */
	assert_int_equal(kf_kubeflow_creds_prepare(&cr2, &gen, &co, NULL), 0);
	assert_string_equal(cr.password_hash, cr2.password_hash);
	assert_string_equal(cr.oidc_secret, cr2.oidc_secret);
	assert_string_equal(cr.cookie_secret, cr2.cookie_secret);
	assert_string_equal(cr.s3_secret, cr2.s3_secret);
	/* Rewriting again changes nothing. */
	assert_int_equal(kf_kubeflow_creds_rewrite(&changed, &set, &cr2, NULL), 0);
	assert_int_equal(changed, 0);

	free(all);
	json_decref(arr);
	kf_kubeflow_creds_release(&cr);
	kf_kubeflow_creds_release(&cr2);
	kf_objset_release(&set);
	kf_diags_release(&dg);
	for (size_t i = 0; i < 4; i++)
		free(paths[i]);
	free(pwf);
	rmstate(dir);
	free(dir);
}

static void test_kubeflow_creds__generated_password_file(void **state)
{
	struct kf_kubeflow_creds cr = { 0 };
	struct kf_kubeflow_creds_opts co = { 0 };
	char *dir = mkstate(), *gen = NULL, *pw = NULL, *kept = NULL;
	struct stat st;
	size_t len;

	co.state_dir = dir;
	assert_int_equal(kf_kubeflow_creds_prepare(&cr, &gen, &co, NULL), 0);
	assert_non_null(gen);
	assert_string_equal(cr.email, "admin@example.com");
	assert_int_equal(stat(gen, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(kf_file_read(gen, &pw, &len, NULL), 0);
	assert_true(len >= 20);
	pw[strcspn(pw, "\n")] = '\0';
	assert_true(kf_kubeflow_bcrypt_check(pw, cr.password_hash));
	/* The kept file is private too and does not hold the password itself. */
	kept = kf_path_join(dir, "kubeflow-credentials.json");
	assert_int_equal(stat(kept, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	{
		char *text = NULL;

		assert_int_equal(kf_file_read(kept, &text, &len, NULL), 0);
		assert_null(strstr(text, pw));
		free(text);
	}
	/* The password is redacted wherever it would be logged. */
	{
		char *line = kf_xasprintf("password is %s", pw), *r = kf_redact(line);

		assert_null(strstr(r, pw));
		free(line);
		free(r);
	}
	free(pw);
	free(gen);
	free(kept);
	kf_kubeflow_creds_release(&cr);
	rmstate(dir);
	free(dir);
}

static void test_kubeflow_creds__bad_email_refused(void **state)
{
	struct kf_kubeflow_creds cr = { 0 };
	struct kf_kubeflow_creds_opts co = { 0 };
	struct kf_err *err = NULL;
	char *dir = mkstate(), *gen = NULL;

	co.state_dir = dir;
	co.email = "not-an-email";
	assert_int_equal(kf_kubeflow_creds_prepare(&cr, &gen, &co, &err), KF_EINVAL);
	assert_non_null(strstr(err->msg, "not an email address"));
	assert_null(gen);
	kf_err_free(err);
	rmstate(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kubeflow_catalog__shipped_loads),
		cmocka_unit_test(test_kubeflow_catalog__builtin_copy_loads),
		cmocka_unit_test(test_kubeflow_catalog__errors_have_positions),
		cmocka_unit_test(test_kubeflow_catalog__cycle_is_named),
		cmocka_unit_test(test_kubeflow_catalog__syntax_error_position),
		cmocka_unit_test(test_kubeflow_resolve__stable_dependency_order),
		cmocka_unit_test(test_kubeflow_resolve__shipped_dependencies_first),
		cmocka_unit_test(test_kubeflow_resolve__every_profile_name_resolves),
		cmocka_unit_test(test_kubeflow_resolve__unknown_name_suggests),
		cmocka_unit_test(test_kubeflow_resolve__cycle_error_names_it),
		cmocka_unit_test(test_kubeflow_defaults__equal_full_example),
		cmocka_unit_test(test_kubeflow_bcrypt__hash_verifies),
		cmocka_unit_test(test_kubeflow_creds__defaults_replaced_everywhere),
		cmocka_unit_test(test_kubeflow_creds__generated_password_file),
		cmocka_unit_test(test_kubeflow_creds__bad_email_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
