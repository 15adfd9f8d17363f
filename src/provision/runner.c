/*
 * runner.c - runs a list of phases over the hosts of a cluster: phases in
 * order, and within a phase the hosts in parallel on a bounded pool of
 * threads (32 by default), with a barrier between phases so that a failure
 * anywhere stops the run before the next phase changes anything. Each host
 * keeps one SSH session for the whole run.
 *
 * For every phase and host it asks the phase's facts (should_run), then the
 * journal (kf_decide), runs what is needed, records it in the journal
 * (saved atomically after every host-phase), and reports progress through
 * the event callback. The run's log file gets every script's output,
 * redacted; commands whose output holds secrets are not logged at all.
 *
 * Test hook: KFBOOT_TEST_KILL_AFTER_PHASE=<id> kills the process with
 * SIGKILL right after phase <id> finished and the journal was saved.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "provision/internal.h"

void kf_run_summary_release(struct kf_run_summary *s)
{
	if (!s)
		return;
	free(s->kubeconfig);
	free(s->kubeflow_password_file);
	json_decref(s->hosts);
	memset(s, 0, sizeof(*s));
}

/* s without a leading "phase 'TITLE' on " (the summary line says it). */
static const char *strip_phase(const char *s)
{
	const char *q;

	if (strncmp(s, "phase '", 7))
		return s;
	q = strstr(s + 7, "' on ");
	return q ? q + 5 : s;
}

/* ---- the pool ------------------------------------------------------------------ */

struct pool {
	struct kf_run *r;
	const struct kf_phase *ph;
	struct kf_rhost **todo;
	size_t n, next;
	pthread_mutex_t lock;
};

static char *fingerprint_of(struct kf_run *r, const struct kf_phase *ph,
			    const struct kf_rhost *h)
{
	struct kf_actx x;

	if (!ph->fingerprint)
		return NULL;
	kf_rhost_actx(r, h, &x);
	return ph->fingerprint(&x);
}

static void run_host(struct kf_run *r, const struct kf_phase *ph, struct kf_rhost *h)
{
	struct kf_err *e = NULL;
	int rc;

	h->res = KF_RES_NONE;
	h->phase = ph;
	free(h->status);
	h->status = NULL;
	kf_run_event(r, KF_EV_HOST_START, ph, h, KF_RES_NONE, NULL, -1);
	if (ph->run) {
		rc = ph->run(r, h, &e);
	} else {
		struct kf_plan_phase pp = { 0 };
		struct kf_actx x;

		kf_rhost_actx(r, h, &x);
		rc = ph->dry_run(&x, &pp, &e);
		if (!rc)
			rc = kf_run_actions(r, h, &pp, &e);
		kf_plan_phase_release(&pp);
	}
	if (rc) {
		char *msg;

		{
			/* SSH errors already begin "NAME (USER@ADDRESS:PORT)". */
			char *inner = kf_err_str(e);
			size_t nl = strlen(h->cfg->name);

			if (!strncmp(inner, h->cfg->name, nl) && !strncmp(inner + nl, " (", 2))
				kf_err_set(&e, kf_err_code(e), "phase '%s' on %s", ph->title, inner);
			else
				kf_err_wrap(&e, "phase '%s' on %s", ph->title, h->cfg->name);
			free(inner);
		}
		msg = kf_err_str(e);
		h->failed = true;
		h->res = KF_RES_FAILED;
		if (!h->err)
			h->err = e;
		else
			kf_err_free(e);
		kf_run_event(r, KF_EV_HOST_END, ph, h, KF_RES_FAILED, msg, -1);
		free(msg);
		if (ph->cleanup)
			ph->cleanup(r, h);
		return;
	}
	if (h->res == KF_RES_NONE)
		h->res = ph->readonly ? KF_RES_UNCHANGED : KF_RES_CHANGED;
	pthread_mutex_lock(&r->lock);
	if (!ph->readonly && r->journal) {
		char *fp = fingerprint_of(r, ph, h);

		kf_journal_done(r->journal, h->cfg->name, ph->id, fp);
		kf_journal_save(r->journal, NULL);
		free(fp);
	}
	if (!ph->readonly) {
		if (h->res == KF_RES_CHANGED) {
			r->sum->changed++;
			r->any_changed = true;
		} else {
			r->sum->unchanged++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	kf_run_event(r, KF_EV_HOST_END, ph, h, h->res,
		     h->res == KF_RES_CHANGED ? "done" : ph->readonly ? "ok" : "no change", -1);
}

static void *pool_worker(void *arg)
{
	struct pool *p = arg;

	for (;;) {
		struct kf_rhost *h;

		pthread_mutex_lock(&p->lock);
		h = p->next < p->n ? p->todo[p->next++] : NULL;
		pthread_mutex_unlock(&p->lock);
		if (!h)
			break;
		run_host(p->r, p->ph, h);
	}
	return NULL;
}

static void run_pool(struct kf_run *r, const struct kf_phase *ph,
		     struct kf_rhost **todo, size_t n)
{
	struct pool p = { .r = r, .ph = ph, .todo = todo, .n = n };
	size_t nthreads = (size_t)(r->o.parallel > 0 ? r->o.parallel : 32);
	pthread_t *tids;
	size_t started = 0;

	if (nthreads > n)
		nthreads = n;
	if (nthreads <= 1) {
		for (size_t i = 0; i < n; i++)
			run_host(r, ph, todo[i]);
		return;
	}
	pthread_mutex_init(&p.lock, NULL);
	tids = kf_xcalloc(nthreads, sizeof(*tids));
	for (size_t i = 0; i < nthreads; i++)
		if (pthread_create(&tids[i], NULL, pool_worker, &p) == 0)
			started++;
	if (!started)
		pool_worker(&p);
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	pthread_mutex_destroy(&p.lock);
}

/* ---- phases ---------------------------------------------------------------------- */

static int phase_error(struct kf_run *r, const struct kf_phase *ph, struct kf_err **err)
{
	struct kf_rhost *first = NULL;
	struct kf_buf all = KF_BUF_INIT;
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < r->nhosts; i++) {
		struct kf_rhost *h = &r->hosts[i];
		char *s;

		if (!h->err || h->phase != ph)
			continue;
		n++;
		if (!first)
			first = h;
		s = kf_err_str(h->err);
		kf_buf_adds(&all, "\n  ");
		kf_add_indented(&all, strip_phase(s), "    ");
		free(s);
	}
	if (!first) {
		kf_buf_release(&all);
		return kf_err_set(err, KF_ERR, "phase '%s' failed", ph->title);
	}
	kf_err_free(*err);
	*err = first->err;
	first->err = NULL;
	rc = kf_err_code(*err);
	if (n > 1)
		kf_err_set(err, rc, "phase '%s' failed on %zu hosts:%s", ph->title, n, all.buf);
	kf_buf_release(&all);
	return rc;
}

static int run_phase(struct kf_run *r, const struct kf_phase *ph, struct kf_err **err)
{
	struct kf_rhost **todo = kf_xcalloc(r->nhosts, sizeof(*todo));
	size_t n = 0;
	int rc = 0;

	kf_run_event(r, KF_EV_PHASE_START, ph, NULL, KF_RES_NONE, NULL, -1);
	if (ph->run_cluster) {
		rc = ph->run_cluster(r, err);
		goto out;
	}
	for (size_t i = 0; i < r->nhosts; i++) {
		struct kf_rhost *h = &r->hosts[i];
		const char *why = NULL;
		enum kf_need need;
		bool journal_done;
		char *fp;

		if (h->failed || !kf_phase_applies(ph, r->c, h->cfg))
			continue;
		h->phase = ph;
		need = ph->should_run ? ph->should_run(r, h, &why) : KF_NEED_RUN;
		fp = fingerprint_of(r, ph, h);
		journal_done = r->journal && kf_journal_is_done(r->journal, h->cfg->name, ph->id, fp);
		free(fp);
		if (kf_decide(need, journal_done)) {
			todo[n++] = h;
			continue;
		}
		pthread_mutex_lock(&r->lock);
		r->sum->unchanged++;
		pthread_mutex_unlock(&r->lock);
		kf_run_event(r, KF_EV_HOST_END, ph, h, KF_RES_UNCHANGED,
			     why ? why : "done in an earlier run (journal)", -1);
	}
	if (n && ph->before) {
		rc = ph->before(r, err);
		if (rc) {
			kf_err_wrap(err, "phase '%s'", ph->title);
			goto out;
		}
	}
	run_pool(r, ph, todo, n);
	for (size_t i = 0; i < n; i++)
		if (todo[i]->res == KF_RES_FAILED) {
			rc = phase_error(r, ph, err);
			break;
		}
out:
	kf_run_event(r, KF_EV_PHASE_END, ph, NULL, rc ? KF_RES_FAILED : KF_RES_NONE, NULL, -1);
	free(todo);
	return rc;
}

/* ---- runs ------------------------------------------------------------------------- */

static void run_init(struct kf_run *r, const struct kf_cluster *c,
		     const struct kf_prov_opts *o, struct kf_run_summary *sum)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	if (o)
		r->o = *o;
	r->nhosts = c->nhosts;
	r->hosts = kf_xcalloc(c->nhosts ? c->nhosts : 1, sizeof(*r->hosts));
	for (size_t i = 0; i < c->nhosts; i++) {
		r->hosts[i].cfg = &c->hosts[i];
		r->hosts[i].index = i;
		r->hosts[i].run = r;
		if (&c->hosts[i] == kf_cluster_control_plane(c))
			r->cp = &r->hosts[i];
	}
	r->state_dir = kf_prov_state_dir(c, o);
	r->kubeconfig_path = kf_path_join(r->state_dir, "admin.conf");
	r->t0 = kf_now();
	r->sum = sum;
	memset(sum, 0, sizeof(*sum));
	sum->hosts = json_object();
	pthread_mutex_init(&r->lock, NULL);
	if (o && o->scripts_dir)
		kf_scripts_set_dir(o->scripts_dir);
}

static void run_release(struct kf_run *r)
{
	for (size_t i = 0; i < r->nhosts; i++) {
		struct kf_rhost *h = &r->hosts[i];

		kf_ssh_close(h->ssh);
		kf_facts_release(&h->facts);
		kf_err_free(h->err);
		free(h->res_msg);
		free(h->status);
		kf_buf_release(&h->line);
	}
	free(r->hosts);
	kf_journal_free(r->journal);
	free(r->state_dir);
	free(r->kubeconfig_path);
	if (r->join_token) {
		memset(r->join_token, 0, strlen(r->join_token));
		free(r->join_token);
	}
	free(r->join_endpoint);
	free(r->join_hash);
	pthread_mutex_destroy(&r->lock);
}

/* One `up` or `reset` per cluster at a time: an exclusive lock on
 * <state>/<cluster>/lock, held until the process ends or unlock_state().
 * The file holds the holder's pid, for the message. */
static int lock_state(const char *state_dir, int *fd_out, struct kf_err **err)
{
	char *path = kf_path_join(state_dir, "lock");
	char pid[32] = "";
	int fd = -1, rc;

	rc = kf_mkdir_p(state_dir, 0700, err);
	if (rc)
		goto out;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = kf_err_errno(err, "lock file %s", path);
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);

		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		rc = kf_err_set(err, KF_ECONFLICT, "another kfboot up or reset is working on this cluster (pid %s, lock %s)",
				*pid ? pid : "?", path);
		close(fd);
		fd = -1;
		goto out;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, strlen(pid), 0) < 0)
		kf_log_write(KF_LOG_DEBUG, NULL, "cannot write the pid into %s", path);
out:
	free(path);
	*fd_out = fd;
	return rc;
}

static void unlock_state(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void kill_hook(const struct kf_phase *ph)
{
	const char *k = getenv("KFBOOT_TEST_KILL_AFTER_PHASE");

	if (k && !strcmp(k, ph->id)) {
		kf_log_write(KF_LOG_DEBUG, NULL, "KFBOOT_TEST_KILL_AFTER_PHASE=%s: killing myself", k);
		raise(SIGKILL);
	}
}

static int run_phases(struct kf_run *r, const struct kf_phase *const *phases,
		      size_t n, struct kf_err **err)
{
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		if (kf_interrupted()) {
			rc = kf_err_set(err, KF_ECANCEL, "interrupted before phase '%s'", phases[i]->title);
			break;
		}
		rc = run_phase(r, phases[i], err);
		if (!rc)
			kill_hook(phases[i]);
	}
	return rc;
}

int kf_up(const struct kf_cluster *c, const struct kf_prov_opts *o,
	  struct kf_run_summary *sum, struct kf_err **err)
{
	struct kf_run r;
	char *jpath;
	bool interrupted = false;
	int lockfd = -1;
	int rc;

	run_init(&r, c, o, sum);
	jpath = kf_path_join(r.state_dir, "journal.json");
	rc = lock_state(r.state_dir, &lockfd, err);
	if (rc)
		goto out;
	rc = kf_journal_load(&r.journal, jpath, c->name, err);
	if (rc)
		goto out;
	kf_journal_run_begin(r.journal, &interrupted);
	rc = kf_journal_save(r.journal, err);
	if (rc)
		goto out;
	kf_run_event(&r, KF_EV_RUN_START, NULL, NULL, KF_RES_NONE,
		     interrupted ? "the previous run did not finish: resuming (facts show what is done)" : NULL, -1);
	rc = run_phases(&r, kf_phases_up, kf_phases_up_n, err);
	kf_journal_run_end(r.journal, rc == 0);
	kf_journal_save(r.journal, NULL);
	if (!rc) {
		struct stat st;

		if (!stat(r.kubeconfig_path, &st))
			sum->kubeconfig = kf_xstrdup(r.kubeconfig_path);
	}
	sum->elapsed = kf_now() - r.t0;
	kf_run_event(&r, KF_EV_RUN_END, NULL, NULL,
		     rc ? KF_RES_FAILED : r.any_changed ? KF_RES_CHANGED : KF_RES_UNCHANGED, NULL, -1);
out:
	unlock_state(lockfd);
	free(jpath);
	run_release(&r);
	return rc;
}

int kf_reset(const struct kf_cluster *c, const struct kf_prov_opts *o,
	     struct kf_run_summary *sum, struct kf_err **err)
{
	struct kf_run r;
	int lockfd = -1;
	int rc;

	run_init(&r, c, o, sum);
	rc = lock_state(r.state_dir, &lockfd, err);
	if (rc) {
		run_release(&r);
		return rc;
	}
	kf_run_event(&r, KF_EV_RUN_START, NULL, NULL, KF_RES_NONE, NULL, -1);
	rc = run_phases(&r, kf_phases_reset, kf_phases_reset_n, err);
	sum->elapsed = kf_now() - r.t0;
	kf_run_event(&r, KF_EV_RUN_END, NULL, NULL,
		     rc ? KF_RES_FAILED : r.any_changed ? KF_RES_CHANGED : KF_RES_UNCHANGED, NULL, -1);
	unlock_state(lockfd);
	run_release(&r);
	return rc;
}

/* ---- status ------------------------------------------------------------------------ */

int kf_status(const struct kf_cluster *c, const struct kf_prov_opts *o,
	      json_t **out, struct kf_err **err)
{
	struct kf_run r;
	struct kf_run_summary sum;
	struct kf_rhost **todo;
	json_t *root, *hosts;
	const char *cp_nodes = NULL;

	run_init(&r, c, o, &sum);
	todo = kf_xcalloc(r.nhosts ? r.nhosts : 1, sizeof(*todo));
	for (size_t i = 0; i < r.nhosts; i++)
		todo[i] = &r.hosts[i];
	run_pool(&r, &kf_phase_connect, todo, r.nhosts);
	{
		size_t n = 0;

		for (size_t i = 0; i < r.nhosts; i++)
			if (r.hosts[i].ssh)
				todo[n++] = &r.hosts[i];
		run_pool(&r, &kf_phase_facts, todo, n);
	}
	if (r.cp && r.cp->have_facts)
		cp_nodes = r.cp->facts.nodes;
	root = json_object();
	hosts = json_array();
	json_object_set_new(root, "cluster", json_string(c->name));
	for (size_t i = 0; i < r.nhosts; i++) {
		struct kf_rhost *h = &r.hosts[i];
		json_t *hj = json_object();
		bool listed = false, ready;

		json_object_set_new(hj, "name", json_string(h->cfg->name));
		json_object_set_new(hj, "address", json_string(h->cfg->address));
		json_object_set_new(hj, "role", json_string(kf_host_role_str(h->cfg)));
		json_object_set_new(hj, "reachable", json_boolean(h->ssh != NULL));
		if (h->err) {
			char *s = kf_err_str(h->err);

			json_object_set_new(hj, "error", json_string(s));
			free(s);
		}
		if (h->have_facts) {
			const struct kf_facts *f = &h->facts;

			json_object_set_new(hj, "os", json_string(f->os));
			json_object_set_new(hj, "arch", json_string(f->arch));
			json_object_set_new(hj, "cpus", json_integer(f->cpus));
			json_object_set_new(hj, "memoryGiB", json_real((double)(int)(f->mem_gib * 10) / 10));
			json_object_set_new(hj, "cgroup", json_integer(f->cgroup));
			json_object_set_new(hj, "hostname", json_string(f->hostname));
			json_object_set_new(hj, "sudo", json_boolean(f->sudo_ok));
			json_object_set_new(hj, "prepared", json_boolean(!*f->prepare_todo));
			if (*f->prepare_todo)
				json_object_set_new(hj, "toPrepare", json_string(f->prepare_todo));
			json_object_set_new(hj, "kubelet", json_string(f->kubelet_active));
			json_object_set_new(hj, "kubeletVersion", json_string(f->kubelet_version));
			json_object_set_new(hj, "containerdVersion", json_string(f->containerd_version));
			json_object_set_new(hj, "joined", json_boolean(f->joined));
			if (h == r.cp)
				json_object_set_new(hj, "controlPlane", json_boolean(f->control_plane));
			if (h == r.cp && *f->cni)
				json_object_set_new(hj, "cni", json_string(f->cni));
			json_object_set_new(hj, "clockOffset", json_real((double)(int)(f->clock_offset * 1000) / 1000));
			json_object_set_new(hj, "facts", json_incref(f->raw));
		}
		if (cp_nodes) {
			ready = kf_facts_node_ready(cp_nodes, h->cfg->name, &listed);
			json_object_set_new(hj, "node", json_string(!listed ? "not registered" : ready ? "Ready" : "NotReady"));
		}
		json_array_append_new(hosts, hj);
	}
	json_object_set_new(root, "hosts", hosts);
	*out = root;
	free(todo);
	kf_run_summary_release(&sum);
	run_release(&r);
	(void)err;
	return 0;
}

/* ---- kubeconfig ------------------------------------------------------------------ */

int kf_kubeconfig_get(struct kf_buf *out, const struct kf_cluster *c,
		      const struct kf_prov_opts *o, bool *fetched,
		      struct kf_err **err)
{
	struct kf_run r;
	struct kf_run_summary sum;
	char *data = NULL;
	size_t len = 0;
	int rc;

	*fetched = false;
	run_init(&r, c, o, &sum);
	if (kf_file_read(r.kubeconfig_path, &data, &len, NULL) == 0) {
		kf_buf_add(out, data, len);
		rc = 0;
		goto out;
	}
	if (!r.cp) {
		rc = kf_err_set(err, KF_EINVAL, "profile has no control-plane host");
		goto out;
	}
	rc = kf_phase_connect.run(&r, r.cp, err);
	if (!rc)
		rc = kf_phase_kubeconfig.run(&r, r.cp, err);
	if (rc) {
		kf_err_wrap(err, "fetch the admin kubeconfig from %s", r.cp->cfg->name);
		goto out;
	}
	rc = kf_file_read(r.kubeconfig_path, &data, &len, err);
	if (!rc) {
		kf_buf_add(out, data, len);
		*fetched = true;
	}
out:
	if (data) {
		memset(data, 0, len);
		free(data);
	}
	kf_run_summary_release(&sum);
	run_release(&r);
	return rc;
}
