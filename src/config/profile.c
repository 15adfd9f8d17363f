/*
 * profile.c - read a Cluster profile document (already loaded as JSON with
 * positions) into a struct kf_cluster: fill in the defaults, and check
 * every field, adding each problem to a diagnostics list with the
 * file:line:col of the offending key or value.
 *
 * The walker never stops at the first problem: a user fixing a profile
 * should see everything that is wrong in one run. Each mapping is read in
 * the same way: unknown keys are reported (with the closest known key as a
 * "did you mean"), each known key is read with a typed getter that reports
 * a wrong type at the value, required keys that are missing are reported at
 * their parent mapping, and then the value is checked against its rule
 * (rules.c). Checks that need the whole profile (duplicate hosts, the
 * control plane, subnets against host addresses, identity files shared by
 * several hosts) run once all hosts are read.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/profile.h"
#include "config/rules.h"

#define API_VERSION "kfboot.io/v1alpha1"
#define KIND "Cluster"
#define MAX_DURATION (366.0 * 24 * 3600)

enum { ABSENT = 0, PRESENT = 1, BAD = -1 };

/* A local file the profile names (identity files), checked once all hosts
 * are known so that one unreadable file shared by many hosts is reported
 * once, naming them all. */
struct file_check {
	struct kf_pos pos;
	char *written;       /* as in the profile */
	char *path;          /* expanded and resolved */
	const char *what;    /* "identity file", "bastion identity file" */
	struct kf_buf hosts; /* "'cp1', 'w1'" */
	size_t nhosts;
};

/* Where a host's SSH settings came from: 1 + index into checks, or 0. */
struct ssh_src {
	size_t id_check;
	size_t bastion_id_check;
};

/* What the walker remembers about one host beyond struct kf_host. */
struct host_src {
	struct kf_pos name_pos, addr_pos, role_pos;
	int family; /* of an IP-literal address, else 0 */
	unsigned char addr[16];
	bool role_ok;
};

struct ctx {
	const struct kf_yaml_docs *docs;
	const char *file;
	const char *basedir;
	struct kf_diags *diags;
	size_t nproblems;
	struct file_check *checks;
	size_t nchecks, achecks;
	char shown[4][160]; /* ring for user text quoted in messages */
	unsigned nshown;
};

/* ---- reporting ------------------------------------------------------- */

static void problem(struct ctx *x, struct kf_pos p, const char *fmt, ...) KF_PRINTF(3, 4);

static void problem(struct ctx *x, struct kf_pos p, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = kf_xvasprintf(fmt, ap);
	va_end(ap);
	kf_diags_add(x->diags, x->file, p.line, p.col, "%s", msg);
	free(msg);
	x->nproblems++;
}

/*
 * User text made safe to quote in a one-line message: control characters
 * escaped, long values cut. Valid until four more calls.
 */
static const char *shown(struct ctx *x, const char *s)
{
	char *out = x->shown[x->nshown++ % 4];
	size_t o = 0, max = sizeof(x->shown[0]) - 8;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (o >= max - 4) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(out + o, 5, "\\x%02x", *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
	return out;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "a mapping";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
	default:
		return "null";
	}
}

/* ---- positions ------------------------------------------------------- */

static struct kf_pos no_pos(void)
{
	struct kf_pos p = { NULL, 0, 0 };

	return p;
}

static struct kf_pos node_pos(struct ctx *x, const json_t *node)
{
	struct kf_pos p;

	if (node && (json_is_object(node) || json_is_array(node)) &&
	    kf_yaml_pos(x->docs, node, &p))
		return p;
	return no_pos();
}

static struct kf_pos key_pos(struct ctx *x, const json_t *obj, const char *key)
{
	struct kf_pos p;

	if (kf_yaml_member_pos(x->docs, obj, key, &p, NULL))
		return p;
	return node_pos(x, obj);
}

static struct kf_pos val_pos(struct ctx *x, const json_t *obj, const char *key)
{
	struct kf_pos p;

	if (kf_yaml_member_pos(x->docs, obj, key, NULL, &p))
		return p;
	return key_pos(x, obj, key);
}

static struct kf_pos idx_pos(struct ctx *x, const json_t *arr, size_t i)
{
	struct kf_pos p;

	if (kf_yaml_index_pos(x->docs, arr, i, &p))
		return p;
	return node_pos(x, arr);
}

/* ---- typed getters --------------------------------------------------- */

/* "spec.ssh" + "port" -> "spec.ssh.port" into buf. */
static const char *field(char *buf, size_t len, const char *path, const char *key)
{
	/* Paths are built from known field names and indexes only, so they
	 * fit; a cut one would still read well. */
	if (snprintf(buf, len, "%s%s%s", path, *path ? "." : "", key) < 0)
		buf[0] = '\0';
	return buf;
}

static void wrong_type(struct ctx *x, const json_t *obj, const char *path,
		       const char *key, const json_t *v, const char *expected)
{
	char f[160];
	const char *hint = "";

	if (!strcmp(expected, "a string") &&
	    (json_is_number(v) || json_is_boolean(v)))
		hint = " (put it in quotes to keep it as text)";
	problem(x, val_pos(x, obj, key), "%s: expected %s, got %s%s",
		field(f, sizeof(f), path, key), expected, type_name(v), hint);
}

/* Report a missing required field at `p`: the key that holds the
 * mapping, or the list item, which is where a reader looks for it. */
static void missing(struct ctx *x, struct kf_pos p, const char *path, const char *key)
{
	if (*path)
		problem(x, p, "%s: missing required field '%s'", path, key);
	else
		problem(x, p, "missing required field '%s'", key);
}

/* obj[key], with null meaning "not set" (as Kubernetes reads YAML). */
static json_t *member(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return v && !json_is_null(v) ? v : NULL;
}

static void check_fields(struct ctx *x, const json_t *obj, const char *path,
			 const char *const *known, size_t n)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		const char *guess;
		bool found = false;

		for (size_t i = 0; i < n && !found; i++)
			found = !strcmp(key, known[i]);
		if (found)
			continue;
		guess = kf_suggest(key, known, n);
		problem(x, key_pos(x, obj, key), "unknown field '%s' %s%s%s%s%s",
			shown(x, key), *path ? "in " : "at the top level",
			path, guess ? " (did you mean '" : "", guess ? guess : "",
			guess ? "'?)" : "");
	}
}

static int check_string(struct ctx *x, const json_t *obj, const char *path,
			const char *key, const json_t *v)
{
	char f[160];

	if (strlen(json_string_value(v)) != json_string_length(v)) {
		problem(x, val_pos(x, obj, key), "%s: must not contain a NUL character",
			field(f, sizeof(f), path, key));
		return BAD;
	}
	if (!*json_string_value(v)) {
		problem(x, val_pos(x, obj, key), "%s: must not be empty",
			field(f, sizeof(f), path, key));
		return BAD;
	}
	return PRESENT;
}

static int get_str(struct ctx *x, const json_t *obj, const char *path,
		   const char *key, const char **out)
{
	json_t *v = member(obj, key);

	*out = NULL;
	if (!v)
		return ABSENT;
	if (!json_is_string(v)) {
		wrong_type(x, obj, path, key, v, "a string");
		return BAD;
	}
	if (check_string(x, obj, path, key, v) != PRESENT)
		return BAD;
	*out = json_string_value(v);
	return PRESENT;
}

/* A required string: a missing one is reported at `parent`. */
static int need_str(struct ctx *x, const json_t *obj, struct kf_pos parent,
		    const char *path, const char *key, const char **out)
{
	int r = get_str(x, obj, path, key, out);

	if (r == ABSENT)
		missing(x, parent, path, key);
	return r;
}

static int get_typed(struct ctx *x, const json_t *obj, const char *path,
		     const char *key, json_type t, const char *tname, json_t **out)
{
	json_t *v = member(obj, key);

	*out = NULL;
	if (!v)
		return ABSENT;
	if (json_typeof(v) != t) {
		wrong_type(x, obj, path, key, v, tname);
		return BAD;
	}
	*out = v;
	return PRESENT;
}

static int get_map(struct ctx *x, const json_t *obj, const char *path,
		   const char *key, json_t **out)
{
	return get_typed(x, obj, path, key, JSON_OBJECT, "a mapping", out);
}

static int get_list(struct ctx *x, const json_t *obj, const char *path,
		    const char *key, json_t **out)
{
	return get_typed(x, obj, path, key, JSON_ARRAY, "a list", out);
}

static int get_port(struct ctx *x, const json_t *obj, const char *path,
		    const char *key, int *out)
{
	json_t *v = member(obj, key);
	char f[160];
	json_int_t n;

	if (!v)
		return ABSENT;
	if (json_is_real(v)) {
		problem(x, val_pos(x, obj, key), "%s: expected a whole port number, got %g",
			field(f, sizeof(f), path, key), json_real_value(v));
		return BAD;
	}
	if (!json_is_integer(v)) {
		wrong_type(x, obj, path, key, v, "a port number");
		return BAD;
	}
	n = json_integer_value(v);
	if (n < 1 || n > 65535) {
		problem(x, val_pos(x, obj, key), "%s: port %lld is out of range (1-65535)",
			field(f, sizeof(f), path, key), (long long)n);
		return BAD;
	}
	*out = (int)n;
	return PRESENT;
}

static int get_duration(struct ctx *x, const json_t *obj, const char *path,
			const char *key, double *out)
{
	json_t *v = member(obj, key);
	char f[160];
	double d;

	if (!v)
		return ABSENT;
	field(f, sizeof(f), path, key);
	if (json_is_number(v)) {
		d = json_number_value(v);
	} else if (json_is_string(v)) {
		if (check_string(x, obj, path, key, v) != PRESENT)
			return BAD;
		if (kf_duration_parse(json_string_value(v), &d) < 0) {
			problem(x, val_pos(x, obj, key), "%s: invalid duration '%s' (write a number and a unit: 10s, 1m, 1h30m, 250ms)",
				f, shown(x, json_string_value(v)));
			return BAD;
		}
	} else {
		wrong_type(x, obj, path, key, v, "a duration such as '10s'");
		return BAD;
	}
	if (!isfinite(d) || d > MAX_DURATION) {
		problem(x, val_pos(x, obj, key), "%s: duration is longer than a year", f);
		return BAD;
	}
	if (d <= 0) {
		problem(x, val_pos(x, obj, key), "%s: duration must be greater than zero", f);
		return BAD;
	}
	*out = d;
	return PRESENT;
}

/* One of a fixed set of words, with a "did you mean". */
static int get_enum(struct ctx *x, const json_t *obj, const char *path,
		    const char *key, const char *const *words, size_t n,
		    const char **out)
{
	const char *s, *guess;
	struct kf_buf list = KF_BUF_INIT;
	char f[160];
	int r = get_str(x, obj, path, key, &s);

	*out = NULL;
	if (r != PRESENT)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(s, words[i])) {
			*out = words[i];
			return PRESENT;
		}
	}
	for (size_t i = 0; i < n; i++)
		kf_buf_addf(&list, "%s%s", i ? (i + 1 == n ? " or " : ", ") : "", words[i]);
	guess = kf_suggest(s, words, n);
	if (guess)
		problem(x, val_pos(x, obj, key), "%s: unknown value '%s' (did you mean '%s'?)",
			field(f, sizeof(f), path, key), shown(x, s), guess);
	else
		problem(x, val_pos(x, obj, key), "%s: unknown value '%s' (expected %s)",
			field(f, sizeof(f), path, key), shown(x, s), list.buf);
	kf_buf_release(&list);
	return BAD;
}

/* ---- paths ----------------------------------------------------------- */

/* Expand "~/" and resolve a relative path against the profile's folder. */
static char *resolve_path(struct ctx *x, const char *written)
{
	char *p = kf_path_expand(written);
	char *joined;

	if (p[0] == '/' || !x->basedir)
		return p;
	joined = kf_path_join(x->basedir, p);
	free(p);
	return joined;
}

static size_t add_file_check(struct ctx *x, struct kf_pos pos, const char *written,
			     const char *path, const char *what)
{
	struct file_check *fc;

	kf_xgrow((void **)&x->checks, &x->achecks, x->nchecks + 1, sizeof(*x->checks));
	fc = &x->checks[x->nchecks++];
	memset(fc, 0, sizeof(*fc));
	fc->pos = pos;
	fc->written = kf_xstrdup(written);
	fc->path = kf_xstrdup(path);
	fc->what = what;
	kf_buf_init(&fc->hosts, 0);
	return x->nchecks; /* 1-based */
}

static void file_check_use(struct ctx *x, size_t idx, const char *host)
{
	struct file_check *fc;

	if (!idx || !host)
		return;
	fc = &x->checks[idx - 1];
	kf_buf_addf(&fc->hosts, "%s'%s'", fc->nhosts ? ", " : "", host);
	fc->nhosts++;
}

/* Every named identity file must be a readable regular file. */
static void run_file_checks(struct ctx *x)
{
	for (size_t i = 0; i < x->nchecks; i++) {
		struct file_check *fc = &x->checks[i];
		const char *why = NULL;
		char both[600];
		struct stat st;

		if (access(fc->path, R_OK) != 0)
			why = strerror(errno);
		else if (stat(fc->path, &st) != 0)
			why = strerror(errno);
		else if (!S_ISREG(st.st_mode))
			why = "not a regular file";
		if (!why)
			continue;
		if (strcmp(fc->written, fc->path))
			snprintf(both, sizeof(both), "'%s' (%s)", shown(x, fc->written), shown(x, fc->path));
		else
			snprintf(both, sizeof(both), "'%s'", shown(x, fc->written));
		if (fc->nhosts)
			problem(x, fc->pos, "host%s %s: %s %s is not readable: %s",
				fc->nhosts > 1 ? "s" : "", fc->hosts.buf, fc->what, both, why);
		else
			problem(x, fc->pos, "%s %s is not readable: %s", fc->what, both, why);
	}
}

/* ---- ssh ------------------------------------------------------------- */

static const char *const ssh_fields[] = {
	"user", "port", "identityFile", "knownHostsFile", "hostKeyPolicy",
	"connectTimeout", "bastion",
};
static const char *const bastion_fields[] = { "address", "user", "port", "identityFile" };
static const char *const hostkey_words[] = { "strict", "accept-new" };

/* The control-plane host (validation checks there is exactly one), or
 * NULL. Here, below config.c, because the walker needs it too. */
const struct kf_host *kf_cluster_control_plane(const struct kf_cluster *c)
{
	for (size_t i = 0; c && i < c->nhosts; i++)
		if (c->hosts[i].role == KF_ROLE_CONTROL_PLANE)
			return &c->hosts[i];
	return NULL;
}

void kf_ssh_cfg_release(struct kf_ssh_cfg *cfg)
{
	free(cfg->user);
	free(cfg->identity_file);
	free(cfg->known_hosts_file);
	if (cfg->bastion) {
		free(cfg->bastion->address);
		free(cfg->bastion->user);
		free(cfg->bastion->identity_file);
		free(cfg->bastion);
	}
	memset(cfg, 0, sizeof(*cfg));
}

static char *dup_or_null(const char *s)
{
	return s ? kf_xstrdup(s) : NULL;
}

static void ssh_cfg_copy(struct kf_ssh_cfg *dst, const struct kf_ssh_cfg *src)
{
	*dst = *src;
	dst->user = dup_or_null(src->user);
	dst->identity_file = dup_or_null(src->identity_file);
	dst->known_hosts_file = dup_or_null(src->known_hosts_file);
	if (src->bastion) {
		dst->bastion = kf_xcalloc(1, sizeof(*dst->bastion));
		dst->bastion->address = dup_or_null(src->bastion->address);
		dst->bastion->user = dup_or_null(src->bastion->user);
		dst->bastion->port = src->bastion->port;
		dst->bastion->identity_file = dup_or_null(src->bastion->identity_file);
	}
}

static void ssh_defaults(struct kf_ssh_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->user = kf_xstrdup("root");
	cfg->port = 22;
	cfg->known_hosts_file = kf_path_expand("~/.ssh/known_hosts");
	cfg->host_key_policy = KF_HOSTKEY_STRICT;
	cfg->connect_timeout = 10;
}

/* The bastion's unset fields come from the host it leads to. */
static void ssh_finish(struct kf_ssh_cfg *cfg)
{
	struct kf_bastion *b = cfg->bastion;

	if (!b)
		return;
	if (!b->user)
		b->user = kf_xstrdup(cfg->user);
	if (!b->port)
		b->port = 22;
	if (!b->identity_file)
		b->identity_file = dup_or_null(cfg->identity_file);
}

static bool user_valid(struct ctx *x, const json_t *obj, const char *path,
		       const char *key, const char *s)
{
	char f[160];

	field(f, sizeof(f), path, key);
	if (strchr(s, '@')) {
		problem(x, val_pos(x, obj, key), "%s: invalid user '%s': give the user alone; the address goes in 'address'",
			f, shown(x, s));
		return false;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == ':' || *p == '/' || *p == 0x7f) {
			problem(x, val_pos(x, obj, key), "%s: invalid user '%s': no spaces, control characters, ':' or '/'",
				f, shown(x, s));
			return false;
		}
	}
	return true;
}

static void read_bastion(struct ctx *x, const json_t *obj, struct kf_pos at,
			 const char *path, struct kf_ssh_cfg *cfg, struct ssh_src *src)
{
	struct kf_bastion *b = kf_xcalloc(1, sizeof(*b));
	const char *s;
	unsigned char addr[16];
	char why[256], f[160];
	int family;

	check_fields(x, obj, path, bastion_fields, KF_ARRAY_SIZE(bastion_fields));
	if (need_str(x, obj, at, path, "address", &s) == PRESENT) {
		if (kf_address_valid(s, &family, addr, why, sizeof(why)))
			b->address = kf_xstrdup(s);
		else
			problem(x, val_pos(x, obj, "address"), "%s: invalid address '%s': %s",
				field(f, sizeof(f), path, "address"), shown(x, s), why);
	}
	if (get_str(x, obj, path, "user", &s) == PRESENT && user_valid(x, obj, path, "user", s))
		b->user = kf_xstrdup(s);
	get_port(x, obj, path, "port", &b->port);
	src->bastion_id_check = 0;
	if (get_str(x, obj, path, "identityFile", &s) == PRESENT) {
		b->identity_file = resolve_path(x, s);
		src->bastion_id_check = add_file_check(x, val_pos(x, obj, "identityFile"), s,
						       b->identity_file, "bastion identity file");
	}
	if (cfg->bastion) {
		struct kf_ssh_cfg old = { 0 };

		old.bastion = cfg->bastion;
		kf_ssh_cfg_release(&old);
	}
	cfg->bastion = b;
}

/* Apply the fields an ssh mapping sets on top of cfg. */
static void read_ssh(struct ctx *x, const json_t *obj, const char *path,
		     struct kf_ssh_cfg *cfg, struct ssh_src *src)
{
	const char *s;
	json_t *m;
	char sub[160];

	check_fields(x, obj, path, ssh_fields, KF_ARRAY_SIZE(ssh_fields));
	if (get_str(x, obj, path, "user", &s) == PRESENT && user_valid(x, obj, path, "user", s)) {
		free(cfg->user);
		cfg->user = kf_xstrdup(s);
	}
	get_port(x, obj, path, "port", &cfg->port);
	if (get_str(x, obj, path, "identityFile", &s) == PRESENT) {
		free(cfg->identity_file);
		cfg->identity_file = resolve_path(x, s);
		src->id_check = add_file_check(x, val_pos(x, obj, "identityFile"), s,
					       cfg->identity_file, "identity file");
	}
	if (get_str(x, obj, path, "knownHostsFile", &s) == PRESENT) {
		free(cfg->known_hosts_file);
		cfg->known_hosts_file = resolve_path(x, s);
	}
	if (get_enum(x, obj, path, "hostKeyPolicy", hostkey_words,
		     KF_ARRAY_SIZE(hostkey_words), &s) == PRESENT)
		cfg->host_key_policy = !strcmp(s, "strict") ? KF_HOSTKEY_STRICT : KF_HOSTKEY_ACCEPT_NEW;
	get_duration(x, obj, path, "connectTimeout", &cfg->connect_timeout);
	if (get_map(x, obj, path, "bastion", &m) == PRESENT)
		read_bastion(x, m, key_pos(x, obj, "bastion"),
			     field(sub, sizeof(sub), path, "bastion"), cfg, src);
}

/* ---- hosts ----------------------------------------------------------- */

static const char *const host_fields[] = { "name", "address", "role", "ssh", "labels", "taints" };
static const char *const role_words[] = { "control-plane", "worker" };
static const char *const taint_fields[] = { "key", "value", "effect" };
static const char *const effect_words[] = { "NoSchedule", "PreferNoSchedule", "NoExecute" };

static void read_labels(struct ctx *x, struct kf_host *h, const json_t *obj,
			const char *path)
{
	size_t n = json_object_size(obj), i = 0;
	const char *key;
	json_t *v;
	char why[256];

	h->label_keys = kf_xcalloc(n ? n : 1, sizeof(char *));
	h->label_values = kf_xcalloc(n ? n : 1, sizeof(char *));
	json_object_foreach((json_t *)obj, key, v) {
		bool ok = true;

		if (!kf_label_key_valid(key, why, sizeof(why))) {
			problem(x, key_pos(x, obj, key), "%s: invalid label key '%s': %s",
				path, shown(x, key), why);
			ok = false;
		}
		if (!json_is_string(v)) {
			const char *hint = json_is_boolean(v) || json_is_number(v) ?
				" (label values are text: put it in quotes)" : "";

			problem(x, val_pos(x, obj, key), "%s: label '%s': expected a string, got %s%s",
				path, shown(x, key), type_name(v), hint);
			ok = false;
		} else if (strlen(json_string_value(v)) != json_string_length(v) ||
			   !kf_label_value_valid(json_string_value(v), why, sizeof(why))) {
			if (strlen(json_string_value(v)) != json_string_length(v))
				snprintf(why, sizeof(why), "it contains a NUL character");
			problem(x, val_pos(x, obj, key), "%s: invalid value '%s' for label '%s': %s",
				path, shown(x, json_string_value(v)), shown(x, key), why);
			ok = false;
		}
		if (!ok)
			continue;
		h->label_keys[i] = kf_xstrdup(key);
		h->label_values[i] = kf_xstrdup(json_string_value(v));
		i++;
	}
	h->nlabels = i;
}

static bool taint_parts_valid(struct ctx *x, struct kf_pos pos, const char *path,
			      const char *key, const char *value, const char *effect)
{
	char why[256];
	bool ok = true;

	if (!kf_label_key_valid(key, why, sizeof(why))) {
		problem(x, pos, "%s: invalid taint key '%s': %s", path, shown(x, key), why);
		ok = false;
	}
	if (value && !kf_label_value_valid(value, why, sizeof(why))) {
		problem(x, pos, "%s: invalid taint value '%s': %s", path, shown(x, value), why);
		ok = false;
	}
	if (!kf_taint_effect_valid(effect)) {
		const char *guess = kf_suggest(effect, effect_words, KF_ARRAY_SIZE(effect_words));

		if (guess)
			problem(x, pos, "%s: unknown taint effect '%s' (did you mean '%s'?)",
				path, shown(x, effect), guess);
		else
			problem(x, pos, "%s: unknown taint effect '%s' (expected NoSchedule, PreferNoSchedule or NoExecute)",
				path, shown(x, effect));
		ok = false;
	}
	return ok;
}

static void read_taints(struct ctx *x, struct kf_host *h, const json_t *arr,
			const char *path)
{
	size_t n = json_array_size(arr);

	h->taints = kf_xcalloc(n ? n : 1, sizeof(*h->taints));
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(arr, i);
		struct kf_pos pos = idx_pos(x, arr, i);
		char *key = NULL, *value = NULL, *effect = NULL;
		char p[160], why[256];
		bool ok = false;

		if (snprintf(p, sizeof(p), "%s[%zu]", path, i) < 0)
			p[0] = '\0';
		if (json_is_string(t)) {
			const char *s = json_string_value(t);

			if (strlen(s) != json_string_length(t))
				problem(x, pos, "%s: must not contain a NUL character", p);
			else if (!kf_taint_split(s, &key, &value, &effect, why, sizeof(why)))
				problem(x, pos, "%s: invalid taint '%s': %s", p, shown(x, s), why);
			else
				ok = taint_parts_valid(x, pos, p, key, value, effect);
		} else if (json_is_object(t)) {
			const char *k, *v = NULL, *e;
			int rk, rv, re;

			check_fields(x, t, p, taint_fields, KF_ARRAY_SIZE(taint_fields));
			rk = need_str(x, t, pos, p, "key", &k);
			rv = ABSENT;
			if (member(t, "value") && json_is_string(member(t, "value")) &&
			    json_string_length(member(t, "value")) == 0)
				v = ""; /* an empty value is allowed */
			else
				rv = get_str(x, t, p, "value", &v);
			re = need_str(x, t, pos, p, "effect", &e);
			if (rk == PRESENT && rv != BAD && re == PRESENT) {
				key = kf_xstrdup(k);
				value = dup_or_null(v);
				effect = kf_xstrdup(e);
				ok = taint_parts_valid(x, val_pos(x, t, "key"), p, key, value, effect);
			}
		} else {
			problem(x, pos, "%s: expected a taint (key=value:Effect, or a mapping with key, value and effect), got %s",
				p, type_name(t));
		}
		if (ok) {
			struct kf_taint *dst = &h->taints[h->ntaints++];

			dst->key = key;
			dst->value = value;
			dst->effect = effect;
		} else {
			free(key);
			free(value);
			free(effect);
		}
	}
}

static void read_host(struct ctx *x, struct kf_host *h, struct host_src *hs,
		      const json_t *obj, const char *path, struct kf_pos pos,
		      const struct kf_ssh_cfg *spec_ssh, const struct ssh_src *spec_src)
{
	struct ssh_src src = *spec_src;
	const char *s;
	json_t *m;
	char why[256], f[160], sub[160];

	h->pos = pos;
	check_fields(x, obj, path, host_fields, KF_ARRAY_SIZE(host_fields));
	if (need_str(x, obj, pos, path, "name", &s) == PRESENT) {
		hs->name_pos = val_pos(x, obj, "name");
		if (kf_dns1123_label(s, why, sizeof(why)))
			h->name = kf_xstrdup(s);
		else
			problem(x, hs->name_pos, "%s: invalid host name '%s': %s (it becomes the Kubernetes node name, a DNS-1123 label)",
				field(f, sizeof(f), path, "name"), shown(x, s), why);
	}
	if (need_str(x, obj, pos, path, "address", &s) == PRESENT) {
		hs->addr_pos = val_pos(x, obj, "address");
		if (kf_address_valid(s, &hs->family, hs->addr, why, sizeof(why)))
			h->address = kf_xstrdup(s);
		else
			problem(x, hs->addr_pos, "%s: invalid address '%s': %s",
				field(f, sizeof(f), path, "address"), shown(x, s), why);
	}
	if (member(obj, "role") && json_is_string(member(obj, "role")) &&
	    (!strcmp(json_string_value(member(obj, "role")), "master") ||
	     !strcmp(json_string_value(member(obj, "role")), "controller"))) {
		problem(x, val_pos(x, obj, "role"), "%s: unknown value '%s' (did you mean 'control-plane'?)",
			field(f, sizeof(f), path, "role"), shown(x, json_string_value(member(obj, "role"))));
	} else if (get_enum(x, obj, path, "role", role_words, KF_ARRAY_SIZE(role_words), &s) == PRESENT) {
		hs->role_pos = val_pos(x, obj, "role");
		hs->role_ok = true;
		h->role = !strcmp(s, "worker") ? KF_ROLE_WORKER : KF_ROLE_CONTROL_PLANE;
	} else if (!member(obj, "role")) {
		missing(x, pos, path, "role");
	}

	ssh_cfg_copy(&h->ssh, spec_ssh);
	if (get_map(x, obj, path, "ssh", &m) == PRESENT)
		read_ssh(x, m, field(sub, sizeof(sub), path, "ssh"), &h->ssh, &src);
	ssh_finish(&h->ssh);
	file_check_use(x, src.id_check, h->name);
	if (h->ssh.bastion)
		file_check_use(x, src.bastion_id_check, h->name);

	if (get_map(x, obj, path, "labels", &m) == PRESENT)
		read_labels(x, h, m, field(sub, sizeof(sub), path, "labels"));
	if (get_list(x, obj, path, "taints", &m) == PRESENT)
		read_taints(x, h, m, field(sub, sizeof(sub), path, "taints"));
}

/* The same SSH endpoint: address (IP bytes, or the name without case),
 * port and bastion. Two hosts behind one address on different ports
 * (port forwarding) are fine. */
static bool same_endpoint(const struct kf_host *a, const struct host_src *as,
			  const struct kf_host *b, const struct host_src *bs)
{
	const char *ba = a->ssh.bastion && a->ssh.bastion->address ? a->ssh.bastion->address : "";
	const char *bb = b->ssh.bastion && b->ssh.bastion->address ? b->ssh.bastion->address : "";

	if (a->ssh.port != b->ssh.port || strcasecmp(ba, bb))
		return false;
	if (as->family || bs->family)
		return as->family == bs->family &&
		       !memcmp(as->addr, bs->addr, as->family == AF_INET ? 4 : 16);
	return !strcasecmp(a->address, b->address);
}

/* Where to report a repeat: at its own value, or, when an alias repeats
 * the very same node, at the list entry that holds the alias. */
static struct kf_pos repeat_pos(struct kf_pos repeat, struct kf_pos first,
				const struct kf_host *h)
{
	if (repeat.line == first.line && repeat.col == first.col && h->pos.line)
		return h->pos;
	return repeat;
}

static void check_hosts(struct ctx *x, struct kf_cluster *c, struct host_src *hs,
			const json_t *spec)
{
	size_t ncp = 0, first_cp = 0;

	for (size_t i = 0; i < c->nhosts; i++) {
		struct kf_host *h = &c->hosts[i];

		for (size_t j = 0; j < i && h->name; j++) {
			if (c->hosts[j].name && !strcmp(c->hosts[j].name, h->name)) {
				problem(x, repeat_pos(hs[i].name_pos, hs[j].name_pos, h),
					"duplicate host name '%s' (first at line %d)",
					h->name, hs[j].name_pos.line);
				break;
			}
		}
		for (size_t j = 0; j < i && h->address; j++) {
			if (c->hosts[j].address && same_endpoint(&c->hosts[j], &hs[j], h, &hs[i])) {
				problem(x, repeat_pos(hs[i].addr_pos, hs[j].addr_pos, h),
					"duplicate host address '%s' (first at line %d, host '%s')",
					h->address, hs[j].addr_pos.line,
					c->hosts[j].name ? c->hosts[j].name : "?");
				break;
			}
		}
		if (!hs[i].role_ok || h->role != KF_ROLE_CONTROL_PLANE)
			continue;
		if (ncp++ == 0) {
			first_cp = i;
			continue;
		}
		problem(x, hs[i].role_pos, "second control-plane host '%s' (the first is '%s' at line %d): kfboot v1 supports exactly one control-plane node; make this host a worker (a highly available control plane would also need kubernetes.controlPlaneEndpoint)",
			h->name ? h->name : "?", c->hosts[first_cp].name ? c->hosts[first_cp].name : "?",
			c->hosts[first_cp].pos.line);
	}
	if (ncp == 0 && c->nhosts > 0) {
		bool all_roles = true;

		for (size_t i = 0; i < c->nhosts; i++)
			all_roles = all_roles && hs[i].role_ok;
		/* Only when every role was readable: otherwise the real problem
		 * is already reported. */
		if (all_roles)
			problem(x, key_pos(x, spec, "hosts"), "spec.hosts: no host has role 'control-plane'; a cluster needs exactly one");
	}
}

/* ---- kubernetes ------------------------------------------------------ */

static const char *const kube_fields[] = {
	"version", "podSubnet", "serviceSubnet", "cni", "offlineBundle",
	"controlPlaneEndpoint",
};
static const char *const cni_words[] = { "flannel", "calico" };

#define DEFAULT_POD_SUBNET "10.244.0.0/16"
#define DEFAULT_SERVICE_SUBNET "10.96.0.0/12"

struct subnet {
	const char *name;    /* "podSubnet" */
	const char *text;    /* as given or the default */
	bool given;
	struct kf_pos pos;
	struct kf_cidr cidr[2];
	size_t n;            /* 0 when it did not parse */
};

static void read_subnet(struct ctx *x, const json_t *k, struct subnet *sn,
			const char *def, char **dst)
{
	const char *s;
	char why[256];
	int r = k ? get_str(x, k, "spec.kubernetes", sn->name, &s) : ABSENT;

	sn->given = r == PRESENT;
	sn->text = r == PRESENT ? s : def;
	sn->pos = k && r == PRESENT ? val_pos(x, k, sn->name) : no_pos();
	*dst = kf_xstrdup(sn->text);
	if (r == BAD)
		return;
	if (!kf_cidr_list_parse(sn->text, sn->cidr, &sn->n, why, sizeof(why))) {
		sn->n = 0;
		problem(x, sn->pos, "spec.kubernetes.%s: invalid CIDR '%s': %s",
			sn->name, shown(x, sn->text), why);
	}
}

/*
 * Sizes the control plane will refuse: the controller manager gives each
 * node a /24 (IPv4) or /64 (IPv6) of the pod subnet and wants it within 16
 * bits of the subnet; kube-apiserver takes at most 2^20 service addresses,
 * and kubeadm gives the cluster DNS service the tenth.
 */
static void check_subnet_sizes(struct ctx *x, const struct subnet *pod,
			       const struct subnet *svc, size_t nhosts)
{
	char buf[64];

	for (size_t i = 0; i < pod->n; i++) {
		const struct kf_cidr *c = &pod->cidr[i];
		int node = c->family == AF_INET ? 24 : 64;

		kf_cidr_fmt(c, buf, sizeof(buf));
		if (c->prefix > node) {
			problem(x, pod->pos, "spec.kubernetes.podSubnet: '%s' is smaller than the range each node gets (/%d)",
				buf, node);
		} else if (c->prefix < node - 16) {
			problem(x, pod->pos, "spec.kubernetes.podSubnet: '%s' is too large: each node gets a /%d, which must be within 16 bits of the subnet (use /%d or longer)",
				buf, node, node - 16);
		} else if (nhosts > ((size_t)1 << (node - c->prefix))) {
			problem(x, pod->pos, "spec.kubernetes.podSubnet: '%s' has room for %zu nodes (a /%d each) but the profile has %zu hosts",
				buf, (size_t)1 << (node - c->prefix), node, nhosts);
		}
	}
	for (size_t i = 0; i < svc->n; i++) {
		const struct kf_cidr *c = &svc->cidr[i];
		int bits = kf_cidr_bits(c);

		kf_cidr_fmt(c, buf, sizeof(buf));
		if (c->prefix < bits - 20)
			problem(x, svc->pos, "spec.kubernetes.serviceSubnet: '%s' is too large: kube-apiserver allows at most 2^20 service addresses (/%d or longer)",
				buf, bits - 20);
		else if (c->prefix > bits - 4)
			problem(x, svc->pos, "spec.kubernetes.serviceSubnet: '%s' is too small: it needs at least 16 addresses (/%d or shorter)",
				buf, bits - 4);
	}
}

static void check_subnet_overlap(struct ctx *x, const struct subnet *pod,
				 const struct subnet *svc)
{
	char a[64], b[64];

	for (size_t i = 0; i < pod->n; i++) {
		for (size_t j = 0; j < svc->n; j++) {
			if (!kf_cidr_overlap(&pod->cidr[i], &svc->cidr[j]))
				continue;
			kf_cidr_fmt(&pod->cidr[i], a, sizeof(a));
			kf_cidr_fmt(&svc->cidr[j], b, sizeof(b));
			if (svc->given && pod->given)
				problem(x, svc->pos, "spec.kubernetes.serviceSubnet: '%s' overlaps podSubnet '%s' (line %d)",
					b, a, pod->pos.line);
			else if (svc->given)
				problem(x, svc->pos, "spec.kubernetes.serviceSubnet: '%s' overlaps the default podSubnet '%s'",
					b, a);
			else
				problem(x, pod->pos, "spec.kubernetes.podSubnet: '%s' overlaps the default serviceSubnet '%s'",
					a, b);
		}
	}
}

/* A node whose own address lies in the pod or service range is routed
 * into the overlay: its traffic disappears. */
static void check_hosts_outside(struct ctx *x, const struct kf_cluster *c,
				const struct host_src *hs, const struct subnet *sn)
{
	char buf[64];

	for (size_t i = 0; i < c->nhosts; i++) {
		if (!hs[i].family || !c->hosts[i].address)
			continue;
		for (size_t j = 0; j < sn->n; j++) {
			if (!kf_cidr_contains(&sn->cidr[j], hs[i].family, hs[i].addr))
				continue;
			problem(x, hs[i].addr_pos, "address '%s' of host '%s' lies inside %s '%s'%s: traffic to it would be routed into the cluster network",
				c->hosts[i].address, c->hosts[i].name ? c->hosts[i].name : "?",
				sn->name, kf_cidr_fmt(&sn->cidr[j], buf, sizeof(buf)),
				sn->given ? "" : " (the default)");
		}
	}
}

static void read_kubernetes(struct ctx *x, struct kf_cluster *c, const json_t *spec,
			    struct kf_pos at, const struct host_src *hs)
{
	const char *path = "spec.kubernetes";
	struct subnet pod = { .name = "podSubnet" }, svc = { .name = "serviceSubnet" };
	json_t *k = NULL;
	const char *s;
	char why[256];
	int r = get_map(x, spec, "spec", "kubernetes", &k);

	if (r == ABSENT)
		missing(x, at, "spec", "kubernetes");
	if (k) {
		check_fields(x, k, path, kube_fields, KF_ARRAY_SIZE(kube_fields));
		if (need_str(x, k, key_pos(x, spec, "kubernetes"), path, "version", &s) == PRESENT) {
			if (kf_k8s_version_valid(s, why, sizeof(why)))
				c->kubernetes.version = kf_xstrdup(s);
			else
				problem(x, val_pos(x, k, "version"), "spec.kubernetes.version: invalid version '%s': %s",
					shown(x, s), why);
		}
	}
	read_subnet(x, k, &pod, DEFAULT_POD_SUBNET, &c->kubernetes.pod_subnet);
	read_subnet(x, k, &svc, DEFAULT_SERVICE_SUBNET, &c->kubernetes.service_subnet);
	check_subnet_sizes(x, &pod, &svc, c->nhosts);
	check_subnet_overlap(x, &pod, &svc);
	check_hosts_outside(x, c, hs, &pod);
	check_hosts_outside(x, c, hs, &svc);

	c->kubernetes.cni = kf_xstrdup("flannel");
	if (k && get_enum(x, k, path, "cni", cni_words, KF_ARRAY_SIZE(cni_words), &s) == PRESENT) {
		free(c->kubernetes.cni);
		c->kubernetes.cni = kf_xstrdup(s);
	}
	if (k && get_str(x, k, path, "offlineBundle", &s) == PRESENT) {
		char *p = resolve_path(x, s);
		struct stat st;

		if (stat(p, &st) == 0 && !S_ISDIR(st.st_mode))
			problem(x, val_pos(x, k, "offlineBundle"), "spec.kubernetes.offlineBundle: '%s' is not a folder",
				shown(x, s));
		else if (stat(p, &st) != 0 || access(p, R_OK | X_OK) != 0)
			problem(x, val_pos(x, k, "offlineBundle"), "spec.kubernetes.offlineBundle: cannot read folder '%s': %s",
				shown(x, s), strerror(errno));
		c->kubernetes.offline_bundle = p;
	}
	if (k && get_str(x, k, path, "controlPlaneEndpoint", &s) == PRESENT) {
		if (kf_endpoint_valid(s, why, sizeof(why)))
			c->kubernetes.control_plane_endpoint = kf_xstrdup(s);
		else
			problem(x, val_pos(x, k, "controlPlaneEndpoint"), "spec.kubernetes.controlPlaneEndpoint: invalid endpoint '%s': %s",
				shown(x, s), why);
	}
}

/* ---- kubeflow -------------------------------------------------------- */

static const char *const kubeflow_fields[] = { "release", "components", "source" };
static const char *const source_fields[] = { "path" };
static const char *const release_words[] = { "26.03" };

/* The user-facing components of Kubeflow 26.03. Their dependencies
 * (cert-manager, istio, dex, oauth2-proxy, knative) are added by the
 * installer; naming one here is allowed and changes nothing. */
static const char *const component_words[] = {
	"pipelines", "katib", "kserve", "trainer", "notebooks", "dashboard",
	"profiles", "tensorboards", "volumes", "model-registry",
	"spark-operator", "training-operator", "pvcviewer",
	"cert-manager", "istio", "dex", "oauth2-proxy", "knative",
};
static const char *const default_components[] = {
	"pipelines", "katib", "kserve", "trainer", "notebooks", "dashboard", "profiles",
	"spark-operator",
};

bool kf_kubeflow_component_known(const char *name)
{
	for (size_t i = 0; i < KF_ARRAY_SIZE(component_words); i++)
		if (!strcmp(name, component_words[i]))
			return true;
	return false;
}

static void read_components(struct ctx *x, struct kf_cluster *c, const json_t *arr)
{
	size_t n = json_array_size(arr);

	c->kubeflow.components = kf_xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(arr, i);
		struct kf_pos pos = idx_pos(x, arr, i);
		const char *s, *guess;
		bool dup = false;

		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
			problem(x, pos, "spec.kubeflow.components[%zu]: expected a component name, got %s",
				i, json_is_string(v) ? "a string with a NUL character" : type_name(v));
			continue;
		}
		s = json_string_value(v);
		if (!kf_kubeflow_component_known(s)) {
			guess = kf_suggest(s, component_words, KF_ARRAY_SIZE(component_words));
			if (guess)
				problem(x, pos, "spec.kubeflow.components[%zu]: unknown component '%s' (did you mean '%s'?)",
					i, shown(x, s), guess);
			else
				problem(x, pos, "spec.kubeflow.components[%zu]: unknown component '%s' (known: pipelines, katib, kserve, trainer, notebooks, dashboard, profiles, tensorboards, volumes, model-registry, spark-operator, training-operator, pvcviewer)",
					i, shown(x, s));
			continue;
		}
		for (size_t j = 0; j < c->kubeflow.ncomponents && !dup; j++)
			dup = !strcmp(c->kubeflow.components[j], s);
		if (dup) {
			problem(x, pos, "spec.kubeflow.components[%zu]: component '%s' is listed twice", i, s);
			continue;
		}
		c->kubeflow.components[c->kubeflow.ncomponents++] = kf_xstrdup(s);
	}
}

static void read_kubeflow(struct ctx *x, struct kf_cluster *c, const json_t *spec)
{
	const char *path = "spec.kubeflow";
	json_t *k = NULL, *m;
	const char *s;

	get_map(x, spec, "spec", "kubeflow", &k);
	if (k)
		check_fields(x, k, path, kubeflow_fields, KF_ARRAY_SIZE(kubeflow_fields));
	c->kubeflow.release = kf_xstrdup(release_words[0]);
	if (k && get_enum(x, k, path, "release", release_words,
			  KF_ARRAY_SIZE(release_words), &s) == PRESENT) {
		free(c->kubeflow.release);
		c->kubeflow.release = kf_xstrdup(s);
	}
	if (k && get_list(x, k, path, "components", &m) == PRESENT) {
		read_components(x, c, m);
	} else if (!k || !json_object_get(k, "components") ||
		   json_is_null(json_object_get(k, "components"))) {
		size_t n = KF_ARRAY_SIZE(default_components);

		c->kubeflow.components = kf_xcalloc(n, sizeof(char *));
		for (size_t i = 0; i < n; i++)
			c->kubeflow.components[i] = kf_xstrdup(default_components[i]);
		c->kubeflow.ncomponents = n;
	}
	if (k && get_map(x, k, path, "source", &m) == PRESENT) {
		check_fields(x, m, "spec.kubeflow.source", source_fields, KF_ARRAY_SIZE(source_fields));
		if (get_str(x, m, "spec.kubeflow.source", "path", &s) == PRESENT) {
			char *p = resolve_path(x, s);

			if (access(p, R_OK) != 0)
				problem(x, val_pos(x, m, "path"), "spec.kubeflow.source.path: cannot read '%s': %s",
					shown(x, s), strerror(errno));
			c->kubeflow.source_path = p;
		}
	}
}

/* ---- gitops ---------------------------------------------------------- */

static const char *const gitops_fields[] = { "repository", "branch", "interval", "image" };

static void read_gitops(struct ctx *x, struct kf_cluster *c, const json_t *spec)
{
	const char *path = "spec.gitops";
	json_t *g = NULL;
	const char *s;
	char why[256];

	c->gitops.branch = kf_xstrdup("main");
	c->gitops.interval = 60;
	if (get_map(x, spec, "spec", "gitops", &g) != PRESENT)
		return;
	c->gitops.enabled = true;
	check_fields(x, g, path, gitops_fields, KF_ARRAY_SIZE(gitops_fields));
	if (need_str(x, g, key_pos(x, spec, "gitops"), path, "repository", &s) == PRESENT) {
		if (kf_git_url_valid(s, why, sizeof(why)) &&
		    (!strncmp(s, "file://", 7) || s[0] == '/' || s[0] == '.'))
			/* the reconciler runs in the cluster: it cannot read this machine */
			problem(x, val_pos(x, g, "repository"),
				"spec.gitops.repository: '%s' is a path on this machine; the reconciler runs in the cluster and needs a remote (https://, ssh://, git://, user@host:path)",
				shown(x, s));
		else if (kf_git_url_valid(s, why, sizeof(why)))
			c->gitops.repository = kf_xstrdup(s);
		else
			problem(x, val_pos(x, g, "repository"), "spec.gitops.repository: invalid repository '%s': %s",
				shown(x, s), why);
	}
	if (get_str(x, g, path, "branch", &s) == PRESENT) {
		if (kf_git_branch_valid(s, why, sizeof(why))) {
			free(c->gitops.branch);
			c->gitops.branch = kf_xstrdup(s);
		} else {
			problem(x, val_pos(x, g, "branch"), "spec.gitops.branch: invalid branch '%s': %s",
				shown(x, s), why);
		}
	}
	if (get_duration(x, g, path, "interval", &c->gitops.interval) == PRESENT &&
	    (c->gitops.interval < 10 || c->gitops.interval > 86400))
		problem(x, val_pos(x, g, "interval"), "spec.gitops.interval: must be between 10s and 24h (use webhooks for faster reaction)");
	c->gitops.image = kf_xstrdup("kfboot:" KF_VERSION);
	if (get_str(x, g, path, "image", &s) == PRESENT) {
		/* an image reference: [registry/]name[:tag][@digest], no spaces */
		if (!*s || strpbrk(s, " \t\n\"'$") || s[strlen(s) - 1] == ':' || s[0] == '/' || s[0] == ':') {
			problem(x, val_pos(x, g, "image"), "spec.gitops.image: invalid image reference '%s'", shown(x, s));
		} else {
			free(c->gitops.image);
			c->gitops.image = kf_xstrdup(s);
		}
	}
}

/* ---- the document ---------------------------------------------------- */

static const char *const root_fields[] = { "apiVersion", "kind", "metadata", "spec" };
static const char *const metadata_fields[] = { "name" };
static const char *const spec_fields[] = { "ssh", "hosts", "kubernetes", "kubeflow", "gitops" };

static void read_metadata(struct ctx *x, struct kf_cluster *c, const json_t *root,
			  struct kf_pos doc)
{
	json_t *m;
	const char *s;
	char why[256];
	int r = get_map(x, root, "", "metadata", &m);

	if (r == ABSENT)
		missing(x, doc, "", "metadata");
	if (r != PRESENT)
		return;
	check_fields(x, m, "metadata", metadata_fields, KF_ARRAY_SIZE(metadata_fields));
	if (need_str(x, m, key_pos(x, root, "metadata"), "metadata", "name", &s) != PRESENT)
		return;
	if (kf_dns1123_label(s, why, sizeof(why)))
		c->name = kf_xstrdup(s);
	else
		problem(x, val_pos(x, m, "name"), "metadata.name: invalid name '%s': %s",
			shown(x, s), why);
}

static void read_spec(struct ctx *x, struct kf_cluster *c, const json_t *spec,
		      struct kf_pos at)
{
	struct kf_ssh_cfg raw;
	struct ssh_src src = { 0, 0 };
	struct host_src *hs = NULL;
	json_t *m, *hosts;
	int r;

	check_fields(x, spec, "spec", spec_fields, KF_ARRAY_SIZE(spec_fields));

	ssh_defaults(&raw);
	if (get_map(x, spec, "spec", "ssh", &m) == PRESENT)
		read_ssh(x, m, "spec.ssh", &raw, &src);

	r = get_list(x, spec, "spec", "hosts", &hosts);
	if (r == ABSENT)
		missing(x, at, "spec", "hosts");
	if (r == PRESENT && json_array_size(hosts) == 0)
		problem(x, val_pos(x, spec, "hosts"), "spec.hosts: the list is empty; a cluster needs one control-plane host");
	if (r == PRESENT && json_array_size(hosts) > 0) {
		size_t n = json_array_size(hosts);

		c->hosts = kf_xcalloc(n, sizeof(*c->hosts));
		hs = kf_xcalloc(n, sizeof(*hs));
		for (size_t i = 0; i < n; i++) {
			json_t *h = json_array_get(hosts, i);
			char path[64];

			snprintf(path, sizeof(path), "spec.hosts[%zu]", i);
			if (!json_is_object(h)) {
				problem(x, idx_pos(x, hosts, i), "%s: expected a mapping with name, address and role, got %s",
					path, type_name(h));
				continue;
			}
			read_host(x, &c->hosts[c->nhosts], &hs[c->nhosts], h, path,
				  idx_pos(x, hosts, i), &raw, &src);
			c->nhosts++;
		}
		check_hosts(x, c, hs, spec);
	}
	ssh_finish(&raw);
	c->ssh = raw;

	read_kubernetes(x, c, spec, at, hs);
	if (!c->kubernetes.control_plane_endpoint) {
		const struct kf_host *cp = kf_cluster_control_plane(c);

		if (cp && cp->address)
			c->kubernetes.control_plane_endpoint = strchr(cp->address, ':') ?
				kf_xasprintf("[%s]", cp->address) : kf_xstrdup(cp->address);
	}
	read_kubeflow(x, c, spec);
	read_gitops(x, c, spec);
	free(hs);
}

size_t kf_profile_read(struct kf_cluster *c, const struct kf_yaml_docs *docs,
		       const json_t *root, const char *file,
		       const char *basedir, struct kf_diags *diags)
{
	struct ctx x;
	struct kf_pos doc = kf_yaml_doc_pos(docs, 0);
	const char *s;
	json_t *spec;
	int r;

	memset(&x, 0, sizeof(x));
	x.docs = docs;
	x.file = file;
	x.basedir = basedir;
	x.diags = diags;
	if (!doc.line) {
		doc.line = 1;
		doc.col = 1;
	}

	if (!json_is_object(root)) {
		problem(&x, doc, "expected a Cluster profile (a mapping with apiVersion, kind, metadata and spec), got %s",
			type_name(root));
		goto out;
	}
	check_fields(&x, root, "", root_fields, KF_ARRAY_SIZE(root_fields));
	if (need_str(&x, root, doc, "", "apiVersion", &s) == PRESENT && strcmp(s, API_VERSION))
		problem(&x, val_pos(&x, root, "apiVersion"), "unsupported apiVersion '%s' (expected '" API_VERSION "')",
			shown(&x, s));
	if (need_str(&x, root, doc, "", "kind", &s) == PRESENT && strcmp(s, KIND)) {
		if (!strcmp(s, "Repository"))
			problem(&x, val_pos(&x, root, "kind"), "kind 'Repository' is a GitOps repository config (kfboot.yaml), not a cluster profile (expected kind 'Cluster')");
		else
			problem(&x, val_pos(&x, root, "kind"), "unknown kind '%s' (expected '" KIND "')",
				shown(&x, s));
	}
	read_metadata(&x, c, root, doc);
	r = get_map(&x, root, "", "spec", &spec);
	if (r == ABSENT)
		missing(&x, doc, "", "spec");
	if (r == PRESENT)
		read_spec(&x, c, spec, key_pos(&x, root, "spec"));
	run_file_checks(&x);
out:
	for (size_t i = 0; i < x.nchecks; i++) {
		free(x.checks[i].written);
		free(x.checks[i].path);
		kf_buf_release(&x.checks[i].hosts);
	}
	free(x.checks);
	return x.nproblems;
}
