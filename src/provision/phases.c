/*
 * phases.c - the phases of `up` and `reset`, each a small unit: a title, a
 * scope, `should_run` (what the host's facts say), `dry_run` (the actions,
 * shared by `plan` and the run) and, where the generic executor is not
 * enough, `run`, `before` or `run_cluster`.
 *
 * `up`: connect, gather facts, preflight, prepare nodes, init control
 * plane, network plugin, join workers, fetch kubeconfig, labels and taints,
 * wait for nodes, install Kubeflow (kubeflow.c: it runs on this machine,
 * not over SSH). "install the reconciler" joins the list when it exists.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "provision/internal.h"

#define FLANNEL_URL "https://github.com/flannel-io/flannel/releases/download/v0.26.1/kube-flannel.yml"
#define CALICO_URL "https://raw.githubusercontent.com/projectcalico/calico/v3.29.1/manifests/calico.yaml"

static const char *role_str(const struct kf_host *h)
{
	return h->role == KF_ROLE_CONTROL_PLANE ? "control-plane" : "worker";
}

static char *envq(const char *key, const char *val)
{
	struct kf_buf b = KF_BUF_INIT;

	kf_buf_addf(&b, "%s=", key);
	kf_buf_add_shquote(&b, val);
	return kf_buf_detach(&b, NULL);
}

static void strv_free_n(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

/* ---- connect ------------------------------------------------------------ */

static int connect_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			   struct kf_err **err)
{
	const struct kf_ssh_cfg *s = &x->h->ssh;
	struct kf_action *a = kf_plan_phase_add(out, KF_ACT_LOCAL);
	struct kf_buf b = KF_BUF_INIT;

	kf_buf_addf(&b, "ssh %s@%s:%d; host key checked against %s (%s); auth: ", s->user ? s->user : "root",
		    x->h->address, s->port ? s->port : 22,
		    s->known_hosts_file ? s->known_hosts_file : "~/.ssh/known_hosts",
		    s->host_key_policy == KF_HOSTKEY_ACCEPT_NEW ? "accept-new: an unknown key is added once"
								: "strict");
	if (s->identity_file)
		kf_buf_addf(&b, "ssh-agent then key %s", s->identity_file);
	else
		kf_buf_adds(&b, "ssh-agent");
	if (s->bastion)
		kf_buf_addf(&b, ", through bastion %s@%s:%d", s->bastion->user ? s->bastion->user : "root",
			    s->bastion->address, s->bastion->port ? s->bastion->port : 22);
	a->cmd = kf_buf_detach(&b, NULL);
	return 0;
}

static int connect_run(struct kf_run *r, struct kf_rhost *h, struct kf_err **err)
{
	const struct kf_ssh_cfg *s = &h->cfg->ssh;
	struct kf_ssh_target t = { 0 }, bt = { 0 };
	int rc;

	if (h->ssh && kf_ssh_alive(h->ssh))
		return 0;
	kf_ssh_close(h->ssh);
	h->ssh = NULL;
	t.name = h->cfg->name;
	t.address = h->cfg->address;
	t.port = s->port;
	t.user = s->user;
	t.identity_file = s->identity_file;
	t.known_hosts_file = s->known_hosts_file;
	t.accept_new = s->host_key_policy == KF_HOSTKEY_ACCEPT_NEW;
	t.connect_timeout = s->connect_timeout;
	if (s->bastion) {
		bt.name = s->bastion->address;
		bt.address = s->bastion->address;
		bt.port = s->bastion->port;
		bt.user = s->bastion->user;
		bt.identity_file = s->bastion->identity_file ? s->bastion->identity_file
							     : s->identity_file;
		bt.known_hosts_file = s->known_hosts_file;
		bt.accept_new = t.accept_new;
		bt.connect_timeout = s->connect_timeout;
		t.bastion = &bt;
	}
	rc = kf_ssh_connect(&h->ssh, &t, err);
	if (!rc)
		h->reachable = true;
	h->res = KF_RES_UNCHANGED;
	return rc;
}

const struct kf_phase kf_phase_connect = {
	.id = "connect",
	.title = "connect",
	.scope = KF_SCOPE_ALL,
	.readonly = true,
	.dry_run = connect_dry_run,
	.run = connect_run,
};

/* ---- gather facts ------------------------------------------------------- */

static int facts_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			 struct kf_err **err)
{
	struct kf_action *a = kf_plan_phase_add(out, KF_ACT_RUN);
	char *v = envq("KF_K8S_VERSION", x->c->kubernetes.version);

	a->cmd = kf_xasprintf("env %s sh -s", v);
	a->script = kf_xstrdup("facts.sh");
	a->stdin_script = true;
	a->note = kf_xstrdup("read-only");
	free(v);
	return 0;
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int facts_run(struct kf_run *r, struct kf_rhost *h, struct kf_err **err)
{
	struct kf_plan_phase pp = { 0 };
	struct kf_actx x;
	struct kf_ssh_exec_opts eo = { 0 };
	struct kf_buf out = KF_BUF_INIT, errout = KF_BUF_INIT;
	const char *text;
	size_t len = 0;
	int status = 0;
	double t0, t1;
	int rc;

	kf_actx_init(&x, r->c, h->cfg, NULL);
	rc = facts_dry_run(&x, &pp, err);
	if (rc)
		goto out;
	text = kf_script_text("facts.sh", &len);
	eo.stdin_data = text;
	eo.stdin_len = len;
	eo.timeout = 60;
	eo.max_output = 1 << 20;
	t0 = wall_now();
	rc = kf_ssh_exec(h->ssh, pp.v[0].cmd, &eo, &status, &out, &errout, err);
	t1 = wall_now();
	if (rc) {
		kf_err_wrap(err, "gather facts");
		goto out;
	}
	if (status) {
		kf_buf_rtrim(&errout);
		rc = kf_err_set(err, KF_ERR, "gather facts: facts.sh: exit status %d: %s", status,
				errout.buf);
		goto out;
	}
	kf_facts_release(&h->facts);
	rc = kf_facts_parse(&h->facts, out.buf, (t0 + t1) / 2, err);
	if (rc)
		goto out;
	h->have_facts = true;
	h->res = KF_RES_UNCHANGED;
	kf_log_write(KF_LOG_DEBUG, NULL, "%s: facts: %s, %s, %d CPUs, %.1f GiB, cgroup v%d, sudo %s, prepared: %s, joined: %s",
		     h->cfg->name, h->facts.os, h->facts.arch, h->facts.cpus, h->facts.mem_gib,
		     h->facts.cgroup, h->facts.is_root ? "root" : h->facts.sudo_ok ? "yes" : "no",
		     *h->facts.prepare_todo ? h->facts.prepare_todo : "yes",
		     h->facts.joined ? "yes" : "no");
out:
	kf_plan_phase_release(&pp);
	kf_buf_release(&out);
	kf_buf_release(&errout);
	return rc;
}

const struct kf_phase kf_phase_facts = {
	.id = "facts",
	.title = "gather facts",
	.scope = KF_SCOPE_ALL,
	.readonly = true,
	.dry_run = facts_dry_run,
	.run = facts_run,
};

/* ---- preflight ---------------------------------------------------------- */

static int preflight_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			     struct kf_err **err)
{
	struct kf_action *a = kf_plan_phase_add(out, KF_ACT_LOCAL);
	bool cp = x->h->role == KF_ROLE_CONTROL_PLANE;

	a->cmd = kf_xasprintf("check from facts: %s, swap (turned off by prepare), kernel modules overlay and br_netfilter, "
			      "port %s free, cgroups, %sunique hostname, clock skew; one report for all hosts, before any change",
			      x->root ? "login as root" : "passwordless sudo",
			      cp ? "6443 and 10250" : "10250",
			      cp ? "2 CPUs and 1.7 GiB memory, " : "");
	return 0;
}

static int preflight_run_cluster(struct kf_run *r, struct kf_err **err)
{
	const struct kf_facts **facts = kf_xcalloc(r->nhosts, sizeof(*facts));
	struct kf_buf problems = KF_BUF_INIT, warnings = KF_BUF_INIT;
	int rc;

	for (size_t i = 0; i < r->nhosts; i++)
		facts[i] = r->hosts[i].have_facts ? &r->hosts[i].facts : NULL;
	rc = kf_preflight(r->c, facts, r->o.ignore_preflight, &problems, &warnings);
	if (warnings.len) {
		char *save = NULL;

		for (char *l = strtok_r(warnings.buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			kf_run_event(r, KF_EV_WARNING, &kf_phase_preflight, NULL, KF_RES_NONE, l, -1);
	}
	for (size_t i = 0; i < r->nhosts; i++) {
		struct kf_rhost *h = &r->hosts[i];
		char *tag = kf_xasprintf("host %s:", h->cfg->name);
		size_t nl = strlen(tag);
		bool bad = false;

		for (const char *p = problems.buf; *p;) {
			if (!strncmp(p, tag, nl))
				bad = true;
			p = strchr(p, '\n');
			p = p ? p + 1 : "";
		}
		kf_run_event(r, KF_EV_HOST_END, &kf_phase_preflight, h,
			     bad ? KF_RES_FAILED : KF_RES_UNCHANGED, bad ? "problems found" : "ok", -1);
		free(tag);
	}
	if (rc) {
		struct kf_buf lines = KF_BUF_INIT;
		size_t n = 0;

		kf_buf_rtrim(&problems);
		for (const char *p = problems.buf; p; p = strchr(p + 1, '\n'))
			n++;
		kf_add_indented(&lines, problems.buf, "  ");
		rc = kf_err_set(err, KF_EINVAL, "preflight found %zu problem%s; nothing was changed on any host:\n  %s",
				n, n == 1 ? "" : "s", lines.buf);
		kf_buf_release(&lines);
	}
	free(facts);
	kf_buf_release(&problems);
	kf_buf_release(&warnings);
	return rc;
}

const struct kf_phase kf_phase_preflight = {
	.id = "preflight",
	.title = "preflight",
	.scope = KF_SCOPE_ALL,
	.readonly = true,
	.dry_run = preflight_dry_run,
	.run_cluster = preflight_run_cluster,
};

/* ---- prepare nodes -------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .deb files of the offline bundle, sorted. */
static int bundle_list(const char *dir, char ***out, size_t *n, struct kf_err **err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t alloc = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return kf_err_errno(err, "offline bundle '%s'", dir);
	while ((e = readdir(d))) {
		if (!kf_str_endswith(e->d_name, ".deb"))
			continue;
		kf_xgrow((void **)out, &alloc, *n + 1, sizeof(**out));
		(*out)[(*n)++] = kf_xstrdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_str);
	return 0;
}

static enum kf_need prepare_should_run(const struct kf_run *r, const struct kf_rhost *h,
				       const char **why)
{
	if (!h->have_facts)
		return KF_NEED_UNKNOWN;
	if (!*h->facts.prepare_todo) {
		*why = "already prepared";
		return KF_NEED_DONE;
	}
	return KF_NEED_RUN;
}

static int prepare_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			   struct kf_err **err)
{
	const char *bundle = x->c->kubernetes.offline_bundle;
	char *env[3] = { 0 };
	char **debs = NULL;
	size_t ndebs = 0;
	int rc = 0;

	env[0] = envq("KF_K8S_VERSION", x->c->kubernetes.version);
	if (bundle) {
		rc = bundle_list(bundle, &debs, &ndebs, err);
		if (rc)
			goto out;
		if (!ndebs) {
			rc = kf_err_set(err, KF_EINVAL, "offline bundle '%s' has no .deb files", bundle);
			goto out;
		}
		kf_add_mkdir(out, "bundle");
		for (size_t i = 0; i < ndebs; i++) {
			struct kf_action *a = kf_plan_phase_add(out, KF_ACT_UPLOAD);
			struct stat st;

			a->source = kf_path_join(bundle, debs[i]);
			a->cmd = kf_xasprintf(KF_STAGE_REL "/bundle/%s", debs[i]);
			a->mode = 0600;
			if (!stat(a->source, &st))
				a->size = (size_t)st.st_size;
		}
		env[1] = kf_xstrdup("KF_BUNDLE_DIR=" KF_STAGE_SH_IN("bundle"));
	}
	rc = kf_add_script_run(x, out, "prepare.sh", (const char *const *)env);
out:
	strv_free_n(env, 2);
	strv_free_n(debs, ndebs);
	free(debs);
	return rc;
}

const struct kf_phase kf_phase_prepare = {
	.id = "prepare",
	.title = "prepare nodes",
	.scope = KF_SCOPE_ALL,
	.should_run = prepare_should_run,
	.dry_run = prepare_dry_run,
	.when = "skipped when facts show modules, sysctl, swap, containerd and the pinned packages already in place",
};

/* ---- init control plane ----------------------------------------------------- */

static enum kf_need init_should_run(const struct kf_run *r, const struct kf_rhost *h,
				    const char **why)
{
	if (!h->have_facts)
		return KF_NEED_UNKNOWN;
	if (h->facts.control_plane) {
		*why = "already initialised";
		return KF_NEED_DONE;
	}
	return KF_NEED_RUN;
}

static int init_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			struct kf_err **err)
{
	struct kf_buf cfg = KF_BUF_INIT;
	struct kf_action *a;
	const char *env[] = { "KF_KUBEADM_CONFIG=" KF_STAGE_SH_IN("kubeadm.yaml"), NULL };
	int rc;

	rc = kf_kubeadm_init_config(&cfg, x->c, err);
	if (rc)
		goto out;
	kf_add_mkdir(out, NULL);
	a = kf_plan_phase_add(out, KF_ACT_UPLOAD);
	a->cmd = kf_xstrdup(KF_STAGE_REL "/kubeadm.yaml");
	a->size = cfg.len;
	a->mode = 0600;
	a->content = kf_buf_detach(&cfg, NULL);
	a->note = kf_xstrdup("kubeadm configuration");
	rc = kf_add_script_run(x, out, "init-control-plane.sh", env);
out:
	kf_buf_release(&cfg);
	return rc;
}

const struct kf_phase kf_phase_init = {
	.id = "init",
	.title = "init control plane",
	.scope = KF_SCOPE_CONTROL_PLANE,
	.should_run = init_should_run,
	.dry_run = init_dry_run,
	.when = "skipped when /etc/kubernetes/admin.conf and the API server manifest exist",
};

/* ---- network plugin -------------------------------------------------------- */

static enum kf_need network_should_run(const struct kf_run *r, const struct kf_rhost *h,
				       const char **why)
{
	if (!h->have_facts)
		return KF_NEED_UNKNOWN;
	if (h->facts.cni && !strcmp(h->facts.cni, r->c->kubernetes.cni)) {
		*why = "already applied";
		return KF_NEED_DONE;
	}
	return KF_NEED_RUN;
}

static const char *cni_file(const struct kf_cluster *c)
{
	return !strcmp(c->kubernetes.cni, "calico") ? "calico.yaml" : "kube-flannel.yml";
}

static int network_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			   struct kf_err **err)
{
	const char *cni = x->c->kubernetes.cni;
	const char *bundle = x->c->kubernetes.offline_bundle;
	char *local = bundle ? kf_path_join(bundle, cni_file(x->c)) : NULL;
	char *env[4] = { 0 };
	struct stat st;
	int rc;

	env[0] = envq("KF_CNI", cni);
	if (local && !stat(local, &st)) {
		struct kf_action *a;

		kf_add_mkdir(out, NULL);
		a = kf_plan_phase_add(out, KF_ACT_UPLOAD);
		a->source = local;
		local = NULL;
		a->cmd = kf_xasprintf(KF_STAGE_REL "/%s", cni_file(x->c));
		a->size = (size_t)st.st_size;
		a->mode = 0600;
		env[1] = kf_xasprintf("KF_CNI_MANIFEST=\"$HOME/" KF_STAGE_REL "/%s\"", cni_file(x->c));
	} else {
		env[1] = envq("KF_CNI_MANIFEST", !strcmp(cni, "calico") ? CALICO_URL : FLANNEL_URL);
	}
	env[2] = envq("KF_POD_SUBNET", x->c->kubernetes.pod_subnet);
	rc = kf_add_script_run(x, out, "network.sh", (const char *const *)env);
	if (!rc && bundle && local)
		out->v[out->n - 1].note = kf_xasprintf("no %s in the offline bundle: the control plane downloads it",
						       cni_file(x->c));
	strv_free_n(env, 3);
	free(local);
	return rc;
}

const struct kf_phase kf_phase_network = {
	.id = "network",
	.title = "network plugin",
	.scope = KF_SCOPE_CONTROL_PLANE,
	.should_run = network_should_run,
	.dry_run = network_dry_run,
	.when = "skipped when /etc/kubernetes/kfboot-cni names the profile's plugin",
};

/* ---- join workers ----------------------------------------------------------- */

static enum kf_need join_should_run(const struct kf_run *r, const struct kf_rhost *h,
				    const char **why)
{
	if (!h->have_facts)
		return KF_NEED_UNKNOWN;
	if (h->facts.joined) {
		*why = "already joined";
		return KF_NEED_DONE;
	}
	return KF_NEED_RUN;
}

#define TOKEN_CMD "kubeadm token create --ttl 30m --print-join-command"

static int join_before_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			       struct kf_err **err)
{
	struct kf_action *a = kf_plan_phase_add(out, KF_ACT_RUN);

	a->cmd = kf_priv_cmd(x, TOKEN_CMD);
	a->secret = true;
	a->note = kf_xstrdup("once, when a worker needs joining; the output holds a bootstrap token: kept in memory, never logged");
	return 0;
}

static int join_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			struct kf_err **err)
{
	struct kf_buf params = KF_BUF_INIT;
	char *env[3] = { 0 };
	struct kf_action *a;
	char *ep = kf_cluster_endpoint(x->c);
	int rc;

	rc = kf_kubeadm_join_env(&params, x->join_endpoint ? x->join_endpoint : ep,
				 x->join_token ? x->join_token : "<token>",
				 x->join_hash ? x->join_hash : "<sha256:ca-cert-hash>", err);
	if (rc)
		goto out;
	kf_add_mkdir(out, NULL);
	a = kf_plan_phase_add(out, KF_ACT_UPLOAD);
	a->cmd = kf_xstrdup(KF_STAGE_REL "/join.env");
	a->size = params.len;
	a->mode = 0600;
	a->secret = x->join_token != NULL;
	a->content = kf_buf_detach(&params, NULL);
	a->note = kf_xstrdup("join parameters with the bootstrap token; join.sh removes the file");
	env[0] = kf_xstrdup("KF_JOIN_ENV=" KF_STAGE_SH_IN("join.env"));
	env[1] = envq("KF_NODE_NAME", x->h->name);
	rc = kf_add_script_run(x, out, "join.sh", (const char *const *)env);
out:
	strv_free_n(env, 2);
	kf_buf_release(&params);
	free(ep);
	return rc;
}

static int join_before(struct kf_run *r, struct kf_err **err)
{
	struct kf_actx x;
	struct kf_buf out = KF_BUF_INIT;
	char *cmd;
	int rc;

	kf_rhost_actx(r, r->cp, &x);
	cmd = kf_priv_cmd(&x, TOKEN_CMD);
	out.cap = 64 * 1024;
	rc = kf_run_priv(r, r->cp, cmd, 120, true, &out, err);
	if (rc) {
		kf_err_wrap(err, "create a join token on %s", r->cp->cfg->name);
		goto out;
	}
	free(r->join_endpoint);
	free(r->join_token);
	free(r->join_hash);
	rc = kf_kubeadm_parse_join(out.buf, &r->join_endpoint, &r->join_token, &r->join_hash, err);
	if (rc)
		goto out;
	kf_redact_register(r->join_token);
	{
		/* The token's secret half alone, too ("abcdef.0123..."). */
		const char *dot = strchr(r->join_token, '.');

		if (dot)
			kf_redact_register(dot + 1);
	}
out:
	/* Wipe the output: it held the token. */
	if (out.alloc)
		memset(out.buf, 0, out.len);
	kf_buf_release(&out);
	free(cmd);
	return rc;
}

/* A failed join must not leave the token behind in the staging directory
 * (join.sh removes it itself, unless it never ran). */
static void join_cleanup(struct kf_run *r, struct kf_rhost *h)
{
	struct kf_err *e = NULL;

	if (h->ssh)
		kf_run_priv(r, h, "rm -f \"$HOME/" KF_STAGE_REL "/join.env\"", 20, false, NULL, &e);
	kf_err_free(e);
}

const struct kf_phase kf_phase_join = {
	.id = "join",
	.title = "join workers",
	.scope = KF_SCOPE_WORKERS,
	.should_run = join_should_run,
	.dry_run = join_dry_run,
	.before = join_before,
	.before_dry_run = join_before_dry_run,
	.cleanup = join_cleanup,
	.when = "skipped on a worker that has /etc/kubernetes/kubelet.conf",
};


/* ---- fetch kubeconfig ------------------------------------------------------- */

static int kubeconfig_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			      struct kf_err **err)
{
	struct kf_action *a = kf_plan_phase_add(out, KF_ACT_RUN);
	char *ep = kf_cluster_endpoint(x->c);

	a->cmd = kf_priv_cmd(x, "cat /etc/kubernetes/admin.conf");
	a->secret = true;
	a->note = kf_xstrdup("output holds the admin credentials: never logged");
	a = kf_plan_phase_add(out, KF_ACT_LOCAL);
	a->cmd = kf_xasprintf("write %s/admin.conf (mode 0600): server https://%s, context %s",
			      x->state_dir ? x->state_dir : "<state>", ep, x->c->name);
	free(ep);
	return 0;
}

static int kubeconfig_run(struct kf_run *r, struct kf_rhost *h, struct kf_err **err)
{
	struct kf_actx x;
	struct kf_buf raw = KF_BUF_INIT, conf = KF_BUF_INIT;
	char *cmd, *old = NULL;
	size_t oldlen = 0;
	int rc;

	kf_rhost_actx(r, h, &x);
	cmd = kf_priv_cmd(&x, "cat /etc/kubernetes/admin.conf");
	raw.cap = 1 << 20;
	rc = kf_run_priv(r, h, cmd, 60, true, &raw, err);
	if (rc)
		goto out;
	rc = kf_kubeconfig_rewrite(&conf, raw.buf, r->c, err);
	if (rc)
		goto out;
	rc = kf_mkdir_p(r->state_dir, 0700, err);
	if (rc)
		goto out;
	if (!kf_file_read(r->kubeconfig_path, &old, &oldlen, NULL) && oldlen == conf.len &&
	    !memcmp(old, conf.buf, oldlen)) {
		h->res = KF_RES_UNCHANGED;
		goto out;
	}
	rc = kf_file_write_atomic(r->kubeconfig_path, conf.buf, conf.len, 0600, err);
	if (rc)
		goto out;
	h->res = KF_RES_CHANGED;
out:
	if (raw.alloc)
		memset(raw.buf, 0, raw.len);
	if (conf.alloc)
		memset(conf.buf, 0, conf.len);
	kf_buf_release(&raw);
	kf_buf_release(&conf);
	free(old);
	free(cmd);
	return rc;
}

const struct kf_phase kf_phase_kubeconfig = {
	.id = "kubeconfig",
	.title = "fetch kubeconfig",
	.scope = KF_SCOPE_CONTROL_PLANE,
	.readonly = true,
	.dry_run = kubeconfig_dry_run,
	.run = kubeconfig_run,
	.when = "reports 'unchanged' when the local copy is already the same",
};

/* ---- labels and taints ------------------------------------------------------ */

static bool single_node(const struct kf_cluster *c)
{
	return c->nhosts == 1;
}

static int labels_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			  struct kf_err **err)
{
	const struct kf_host *h = x->h;
	struct kf_actx cpx;

	/* The commands run on the control plane, with its login user. */
	kf_actx_init(&cpx, x->c, x->cp, NULL);
	cpx.root = x->cp == x->h ? x->root : cpx.root;
	for (size_t i = 0; i < h->nlabels; i++) {
		struct kf_action *a = kf_plan_phase_add(out, KF_ACT_RUN);
		struct kf_buf b = KF_BUF_INIT;
		char *kv = kf_xasprintf("%s=%s", h->label_keys[i], h->label_values[i]);
		char *cmd;

		kf_buf_addf(&b, KF_KUBECTL " label node ");
		kf_buf_add_shquote(&b, h->name);
		kf_buf_addch(&b, ' ');
		kf_buf_add_shquote(&b, kv);
		kf_buf_adds(&b, " --overwrite");
		cmd = kf_buf_detach(&b, NULL);
		a->cmd = kf_priv_cmd(&cpx, cmd);
		a->on = x->cp != h ? kf_xstrdup(x->cp->name) : NULL;
		free(cmd);
		free(kv);
	}
	for (size_t i = 0; i < h->ntaints; i++) {
		struct kf_action *a = kf_plan_phase_add(out, KF_ACT_RUN);
		struct kf_buf b = KF_BUF_INIT;
		char *t = h->taints[i].value
				  ? kf_xasprintf("%s=%s:%s", h->taints[i].key, h->taints[i].value, h->taints[i].effect)
				  : kf_xasprintf("%s:%s", h->taints[i].key, h->taints[i].effect);
		char *cmd;

		kf_buf_adds(&b, KF_KUBECTL " taint node ");
		kf_buf_add_shquote(&b, h->name);
		kf_buf_addch(&b, ' ');
		kf_buf_add_shquote(&b, t);
		kf_buf_adds(&b, " --overwrite");
		cmd = kf_buf_detach(&b, NULL);
		a->cmd = kf_priv_cmd(&cpx, cmd);
		a->on = x->cp != h ? kf_xstrdup(x->cp->name) : NULL;
		free(cmd);
		free(t);
	}
	if (h->role == KF_ROLE_CONTROL_PLANE && single_node(x->c) && !h->ntaints) {
		struct kf_action *a = kf_plan_phase_add(out, KF_ACT_RUN);
		char *cmd = kf_xasprintf(KF_KUBECTL " taint node %s node-role.kubernetes.io/control-plane:NoSchedule- 2>/dev/null || true",
					 h->name);

		a->cmd = kf_priv_cmd(&cpx, cmd);
		a->on = x->cp != h ? kf_xstrdup(x->cp->name) : NULL;
		a->note = kf_xstrdup("a single-node cluster: let pods run on the control plane");
		free(cmd);
	}
	if (!out->n) {
		free(out->when);
		out->when = kf_xstrdup("nothing: no labels or taints in the profile");
	}
	return 0;
}

static char *labels_fingerprint(const struct kf_actx *x)
{
	struct kf_plan_phase pp = { 0 };
	struct kf_buf b = KF_BUF_INIT;
	char hex[65];

	if (labels_dry_run(x, &pp, NULL) == 0)
		for (size_t i = 0; i < pp.n; i++)
			kf_buf_addf(&b, "%s\n", pp.v[i].cmd);
	kf_plan_phase_release(&pp);
	kf_sha256_hex(b.buf, b.len, hex);
	kf_buf_release(&b);
	return kf_xstrndup(hex, 16);
}

static int labels_run_cluster(struct kf_run *r, struct kf_err **err)
{
	int rc = 0;

	for (size_t i = 0; i < r->nhosts && !rc; i++) {
		struct kf_rhost *h = &r->hosts[i];
		struct kf_plan_phase pp = { 0 };
		struct kf_actx x;
		char *fp;

		if (h->failed)
			continue;
		kf_rhost_actx(r, h, &x);
		labels_dry_run(&x, &pp, NULL);
		fp = labels_fingerprint(&x);
		if (!pp.n) {
			kf_run_event(r, KF_EV_HOST_END, &kf_phase_labels, h, KF_RES_NONE,
				     "no labels or taints", -1);
		} else if (r->journal && kf_journal_is_done(r->journal, h->cfg->name, "labels", fp) &&
			   h->facts.joined) {
			kf_run_event(r, KF_EV_HOST_END, &kf_phase_labels, h, KF_RES_UNCHANGED,
				     "already labelled (journal)", -1);
			r->sum->unchanged++;
		} else {
			kf_run_event(r, KF_EV_HOST_START, &kf_phase_labels, h, KF_RES_NONE, NULL, -1);
			for (size_t j = 0; j < pp.n && !rc; j++)
				rc = kf_run_priv(r, r->cp, pp.v[j].cmd, 60, false, NULL, err);
			if (rc) {
				kf_err_wrap(err, "%s", h->cfg->name);
				kf_run_event(r, KF_EV_HOST_END, &kf_phase_labels, h, KF_RES_FAILED, NULL, -1);
				r->sum->failed++;
			} else {
				pthread_mutex_lock(&r->lock);
				kf_journal_done(r->journal, h->cfg->name, "labels", fp);
				kf_journal_save(r->journal, NULL);
				pthread_mutex_unlock(&r->lock);
				kf_run_event(r, KF_EV_HOST_END, &kf_phase_labels, h, KF_RES_CHANGED, "done", -1);
				r->sum->changed++;
				r->any_changed = true;
			}
		}
		free(fp);
		kf_plan_phase_release(&pp);
	}
	return rc;
}

const struct kf_phase kf_phase_labels = {
	.id = "labels",
	.title = "labels and taints",
	.scope = KF_SCOPE_ALL,
	.dry_run = labels_dry_run,
	.run_cluster = labels_run_cluster,
	.fingerprint = labels_fingerprint,
	.when = "skipped for a host whose labels and taints the journal shows applied",
};

/* ---- wait for nodes ---------------------------------------------------------- */

#define NODES_CMD KF_KUBECTL " get nodes --no-headers"

static int wait_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			struct kf_err **err)
{
	struct kf_action *a = kf_plan_phase_add(out, KF_ACT_LOCAL);
	struct kf_buf names = KF_BUF_INIT;

	for (size_t i = 0; i < x->c->nhosts; i++)
		kf_buf_addf(&names, "%s%s", i ? ", " : "", x->c->hosts[i].name);
	a->cmd = kf_xasprintf("wait 'nodes Ready' (deadline 5m or --wait-timeout, every 2s) until %s %s Ready; "
			      "on timeout show what it last saw and the tail of kubelet's journal on hosts not Ready",
			      names.buf, x->c->nhosts == 1 ? "is" : "are");
	a = kf_plan_phase_add(out, KF_ACT_RUN);
	a->cmd = kf_priv_cmd(x, NODES_CMD);
	kf_buf_release(&names);
	return 0;
}

/* From `kubectl get nodes --no-headers` output: how many of the profile's
 * hosts are Ready; notready[i] and `missing` name the others. */
static size_t count_ready(const struct kf_run *r, const char *out, bool *notready,
			  struct kf_buf *missing)
{
	struct kf_buf nodes = KF_BUF_INIT;
	char *save = NULL, *copy = kf_xstrdup(out);
	size_t ready = 0;

	/* "name status ..." lines into the facts' "name:status,..." form. */
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[256], status[64];

		if (sscanf(l, "%255s %63s", name, status) == 2)
			kf_buf_addf(&nodes, "%s%s:%s", nodes.len ? "," : "", name, status);
	}
	kf_buf_reset(missing);
	for (size_t i = 0; i < r->nhosts; i++) {
		bool listed = false;

		notready[i] = !kf_facts_node_ready(nodes.buf, r->hosts[i].cfg->name, &listed);
		if (!notready[i]) {
			ready++;
			continue;
		}
		kf_buf_addf(missing, "%s%s%s", missing->len ? ", " : "", r->hosts[i].cfg->name,
			    listed ? "" : " (not registered)");
	}
	free(copy);
	kf_buf_release(&nodes);
	return ready;
}

/* The tail of kubelet's journal on every host that is not Ready. */
static void kubelet_tails(struct kf_run *r, const bool *notready, struct kf_buf *out)
{
	for (size_t i = 0; i < r->nhosts; i++) {
		struct kf_rhost *o = &r->hosts[i];
		struct kf_buf t = KF_BUF_INIT;
		struct kf_err *e = NULL;
		struct kf_actx ox;
		char *jc;

		if (!notready[i] || !o->ssh)
			continue;
		kf_rhost_actx(r, o, &ox);
		jc = kf_priv_cmd(&ox, "journalctl -u kubelet -n 15 --no-pager");
		if (kf_run_priv(r, o, jc, 20, false, &t, &e)) {
			char *s = kf_err_str(e);

			kf_buf_reset(&t);
			kf_buf_addf(&t, "(no kubelet journal: %s)", s);
			free(s);
		}
		kf_err_free(e);
		kf_buf_rtrim(&t);
		kf_buf_addf(out, "\n  kubelet journal on %s:\n    ", o->cfg->name);
		kf_add_indented(out, t.buf, "    ");
		kf_buf_release(&t);
		free(jc);
	}
}

/* The named wait "nodes Ready": poll every 2 s until every host of the
 * profile is Ready, or the deadline passes; then say what it last saw. */
static int wait_run(struct kf_run *r, struct kf_rhost *h, struct kf_err **err)
{
	struct kf_actx x;
	struct kf_buf out = KF_BUF_INIT, missing = KF_BUF_INIT;
	double timeout = r->o.wait_timeout > 0 ? r->o.wait_timeout : 300;
	double start = kf_now();
	bool *notready = kf_xcalloc(r->nhosts, sizeof(*notready));
	char *cmd;
	size_t ready;
	int rc = 0;

	kf_rhost_actx(r, h, &x);
	cmd = kf_priv_cmd(&x, NODES_CMD);
	for (bool first = true;; first = false) {
		struct kf_err *e = NULL;
		char msg[256];

		kf_buf_reset(&out);
		if (kf_run_priv(r, h, cmd, 30, false, &out, &e)) {
			/* What it saw is the error. */
			char *s = kf_err_str(e);

			kf_buf_reset(&out);
			kf_buf_adds(&out, s);
			free(s);
		}
		kf_err_free(e);
		ready = count_ready(r, out.buf, notready, &missing);
		if (ready == r->nhosts) {
			h->res = first ? KF_RES_UNCHANGED : KF_RES_CHANGED;
			break;
		}
		snprintf(msg, sizeof(msg), "nodes Ready: %zu/%zu, waiting for %s", ready, r->nhosts,
			 missing.buf);
		kf_run_event(r, KF_EV_WAIT, &kf_phase_wait, h, KF_RES_NONE, msg,
			     (double)ready / (double)r->nhosts);
		if (kf_now() - start > timeout || kf_interrupted()) {
			struct kf_buf tails = KF_BUF_INIT, seen = KF_BUF_INIT;
			char tbuf[32];

			kubelet_tails(r, notready, &tails);
			kf_buf_rtrim(&out);
			kf_add_indented(&seen, out.len ? out.buf : "(nothing)", "    ");
			rc = kf_err_set(err, kf_interrupted() ? KF_ECANCEL : KF_ETIMEOUT,
					"wait 'nodes Ready' %s after %s: %zu of %zu Ready, not Ready: %s; last seen from `kubectl get nodes`:\n    %s%s",
					kf_interrupted() ? "interrupted" : "timed out",
					kf_duration_fmt(kf_now() - start, tbuf), ready, r->nhosts, missing.buf,
					seen.buf, tails.buf);
			kf_buf_release(&seen);
			kf_buf_release(&tails);
			break;
		}
		kf_sleep(2);
	}
	kf_buf_release(&out);
	kf_buf_release(&missing);
	free(notready);
	free(cmd);
	return rc;
}

const struct kf_phase kf_phase_wait = {
	.id = "wait",
	.title = "wait for nodes",
	.scope = KF_SCOPE_CONTROL_PLANE,
	.readonly = true,
	.dry_run = wait_dry_run,
	.run = wait_run,
};

/* ---- reset ------------------------------------------------------------------- */

static int reset_sudo_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			      struct kf_err **err)
{
	struct kf_action *a = kf_plan_phase_add(out, KF_ACT_LOCAL);

	a->cmd = kf_xstrdup(x->root ? "check from facts: login as root" : "check from facts: passwordless sudo");
	return 0;
}

static int reset_sudo_run_cluster(struct kf_run *r, struct kf_err **err)
{
	struct kf_buf problems = KF_BUF_INIT;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < r->nhosts; i++) {
		struct kf_rhost *h = &r->hosts[i];
		bool bad = h->have_facts && !h->facts.is_root && !h->facts.sudo_ok;

		if (bad) {
			kf_buf_addf(&problems, "\n  host %s: user '%s' has no passwordless sudo", h->cfg->name,
				    h->facts.user ? h->facts.user : "?");
			n++;
		}
		kf_run_event(r, KF_EV_HOST_END, &kf_phase_reset_sudo, h,
			     bad ? KF_RES_FAILED : KF_RES_UNCHANGED, bad ? "no sudo" : "ok", -1);
	}
	if (n)
		rc = kf_err_set(err, KF_EINVAL, "preflight found %zu problem%s; nothing was changed on any host:%s", n,
				n == 1 ? "" : "s", problems.buf);
	kf_buf_release(&problems);
	return rc;
}

const struct kf_phase kf_phase_reset_sudo = {
	.id = "preflight",
	.title = "preflight",
	.scope = KF_SCOPE_ALL,
	.readonly = true,
	.dry_run = reset_sudo_dry_run,
	.run_cluster = reset_sudo_run_cluster,
};

static int reset_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			 struct kf_err **err)
{
	const char *env[] = { "KF_STAGE_DIR=" KF_STAGE_SH, NULL };

	return kf_add_script_run(x, out, "reset.sh", env);
}

const struct kf_phase kf_phase_reset_node = {
	.id = "reset",
	.title = "reset node",
	.scope = KF_SCOPE_ALL,
	.dry_run = reset_dry_run,
};

static int forget_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			  struct kf_err **err)
{
	struct kf_action *a = kf_plan_phase_add(out, KF_ACT_LOCAL);

	a->cmd = kf_xasprintf("remove %s/journal.json and %s/admin.conf",
			      x->state_dir ? x->state_dir : "<state>", x->state_dir ? x->state_dir : "<state>");
	return 0;
}

static int forget_run_cluster(struct kf_run *r, struct kf_err **err)
{
	char *j = kf_path_join(r->state_dir, "journal.json");
	bool had = false;

	had |= unlink(j) == 0;
	had |= unlink(r->kubeconfig_path) == 0;
	free(j);
	kf_run_event(r, KF_EV_HOST_END, &kf_phase_reset_state, r->cp,
		     had ? KF_RES_CHANGED : KF_RES_UNCHANGED,
		     had ? "journal and kubeconfig removed" : "nothing to remove", -1);
	if (had) {
		r->sum->changed++;
		r->any_changed = true;
	}
	return 0;
}

const struct kf_phase kf_phase_reset_state = {
	.id = "forget",
	.title = "forget local state",
	.scope = KF_SCOPE_CLUSTER,
	.dry_run = forget_dry_run,
	.run_cluster = forget_run_cluster,
};

/* ---- lists -------------------------------------------------------------------- */

const struct kf_phase *const kf_phases_up[] = {
	&kf_phase_connect,
	&kf_phase_facts,
	&kf_phase_preflight,
	&kf_phase_prepare,
	&kf_phase_init,
	&kf_phase_network,
	&kf_phase_join,
	&kf_phase_kubeconfig,
	&kf_phase_labels,
	&kf_phase_wait,
	&kf_phase_kubeflow,
	&kf_phase_reconciler, /* reconciler.c: when the profile has spec.gitops */
};
const size_t kf_phases_up_n = KF_ARRAY_SIZE(kf_phases_up);

const struct kf_phase *const kf_phases_reset[] = {
	&kf_phase_connect,
	&kf_phase_facts,
	&kf_phase_reset_sudo,
	&kf_phase_reset_node,
	&kf_phase_reset_state,
};
const size_t kf_phases_reset_n = KF_ARRAY_SIZE(kf_phases_reset);

const char *kf_phase_id(const struct kf_phase *ph)
{
	return ph->id;
}

const char *kf_phase_title(const struct kf_phase *ph)
{
	return ph->title;
}

enum kf_scope kf_phase_scope(const struct kf_phase *ph)
{
	return ph->scope;
}

bool kf_phase_applies(const struct kf_phase *ph, const struct kf_cluster *c,
		      const struct kf_host *h)
{
	switch (ph->scope) {
	case KF_SCOPE_ALL:
		return true;
	case KF_SCOPE_CONTROL_PLANE:
	case KF_SCOPE_CLUSTER:
		return h == kf_cluster_control_plane(c);
	case KF_SCOPE_WORKERS:
		return h->role == KF_ROLE_WORKER;
	}
	return false;
}

const struct kf_phase *kf_phase_find(const char *id)
{
	for (size_t i = 0; i < kf_phases_up_n; i++)
		if (!strcmp(kf_phases_up[i]->id, id))
			return kf_phases_up[i];
	return NULL;
}

const char *kf_host_role_str(const struct kf_host *h)
{
	return role_str(h);
}
