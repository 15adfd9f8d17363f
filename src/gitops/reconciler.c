/*
 * reconciler.c - the reconcile loop: keeps every selected environment equal
 * to the head of one branch.
 *
 * One thread (the caller of kf_reconciler_run) owns all state: the source,
 * the parsed kfboot.yaml, the kube clients (one per kubeconfig context), the
 * status of each environment and the objects it applied last. Other threads
 * (webhook receiver, drift watches, the Lease) only hand work in with
 * kf_reconciler_wake / _enqueue_object / _set_leader, which take a mutex,
 * set a flag and write one byte to a pipe the loop polls (redis ae.c's
 * shape); they read the status through a snapshot the loop publishes after
 * every change (kf_reconciler_status_json). Work is level-triggered: a wake
 * only says "look again"; the loop always compares the remote head, the
 * last applied commit and the live state, so a missed or repeated event is
 * harmless.
 *
 * Timers: a poll (default 1 min, +-10% jitter) runs the cheap ls-remote
 * check and fetches only when the branch moved; a resync (default 1 h)
 * re-applies every environment (only what drifted is sent). A remote that
 * is down is retried with exponential backoff (capped), its error is kept in
 * the status, and the last good commit stays applied. An environment whose
 * apply failed is retried with backoff; a broken commit is not retried
 * until the next commit (or resync). Only a leader fetches or writes.
 * SIGINT/SIGTERM (kf_interrupted) or kf_reconciler_stop end the loop
 * between steps; an apply in flight stops at its next check.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gitops.h"

struct env_state {
	char *name;
	struct kf_env_status st;
	struct kf_objset applied;   /* what the last apply sent: only while the on_applied hooks run */
	char validated[41];         /* commit that passed the dry run here */
	bool drift;                 /* an object was reported changed */
	bool attempted;
	double retry_at;            /* after a failure; 0 = none */
	struct kf_backoff bo;
};

struct client {
	char *context;              /* "" = current context */
	struct kf_kube_config *cfg;
	struct kf_kube *k;
	struct kf_discovery *d;
};

struct kf_reconciler {
	/* options (owned copies) */
	char *url, *branch, *state_dir, *kubeconfig, *context, *inventory_ns;
	char **sel;
	size_t nsel;
	bool once, dry_run;
	double interval, resync, retry_max;
	struct kf_git_source_opts sopts;
	struct kf_render_opts ropts;
	bool have_ropts;
	/* loop state */
	struct kf_git_source *src;
	struct kf_repo_config *cfg;
	char cfg_commit[41];
	char *cfg_error;
	char head[41];
	struct env_state *envs;
	size_t nenvs;
	struct client *clients;
	size_t nclients;
	struct kf_reconciler_hooks *hooks;
	size_t nhooks;
	const struct kf_kfp_observer *kfp_obs; /* retraining counters, or NULL */
	double next_poll, next_resync;
	struct kf_backoff fetch_bo;
	char *fetch_error;
	long long last_fetch;
	/* shared */
	pthread_mutex_t mu;
	int pipe[2];
	unsigned wake;
	bool leader, ready;
	volatile sig_atomic_t stop; /* set by kf_reconciler_stop, maybe from a signal handler */
	struct kf_strlist drift; /* "env" names with drifted objects */
	struct kf_strlist orphans; /* inventories of removed environments, said once */
	char *orphans_envs;         /* the environment names they were looked for with */
	json_t *snapshot;
};

static char *dup_or_null(const char *s) { return s ? kf_xstrdup(s) : NULL; }

int kf_reconciler_new(struct kf_reconciler **out, const struct kf_reconciler_opts *o, struct kf_err **err)
{
	struct kf_reconciler *r;

	*out = NULL;
	if (!o->url || !*o->url)
		return kf_err_set(err, KF_EUSAGE, "no repository: pass --repo URL|PATH");
	r = kf_xcalloc(1, sizeof(*r));
	r->url = kf_xstrdup(o->url);
	r->branch = kf_xstrdup(o->branch ? o->branch : "main");
	r->state_dir = o->state_dir ? kf_xstrdup(o->state_dir) : kf_gitops_default_state_dir();
	r->kubeconfig = dup_or_null(o->kubeconfig);
	r->context = dup_or_null(o->context);
	r->inventory_ns = dup_or_null(o->inventory_ns);
	r->sel = kf_xcalloc(o->nenvs + 1, sizeof(*r->sel));
	for (size_t i = 0; i < o->nenvs; i++)
		r->sel[r->nsel++] = kf_xstrdup(o->envs[i]);
	r->once = o->once;
	r->dry_run = o->dry_run;
	r->interval = o->interval > 0 ? o->interval : 60;
	r->resync = o->resync > 0 ? o->resync : 3600;
	r->retry_max = o->retry_max > 0 ? o->retry_max : 300;
	r->sopts = o->source; /* strings borrowed: they must outlive kf_reconciler_open below */
	if (o->render) {
		r->ropts = *o->render;
		r->have_ropts = true;
	}
	r->leader = o->start_as_leader;
	r->fetch_bo = (struct kf_backoff)KF_BACKOFF_INIT(1, r->retry_max);
	pthread_mutex_init(&r->mu, NULL);
	if (pipe2(r->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		int rc = kf_err_errno(err, "pipe");

		kf_reconciler_free(r);
		return rc;
	}
	if (kf_git_source_open(&r->src, r->url, r->branch, r->state_dir, &r->sopts, err) < 0) {
		int rc = err ? kf_err_code(*err) : KF_ERR;

		kf_reconciler_free(r);
		return rc ? rc : KF_ERR;
	}
	r->snapshot = json_object();
	*out = r;
	return 0;
}

static void env_free(struct env_state *e)
{
	free(e->name);
	kf_env_status_release(&e->st);
	kf_objset_release(&e->applied);
}

void kf_reconciler_free(struct kf_reconciler *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nenvs; i++)
		env_free(&r->envs[i]);
	free(r->envs);
	for (size_t i = 0; i < r->nclients; i++) {
		kf_discovery_free(r->clients[i].d);
		kf_kube_free(r->clients[i].k);
		kf_kube_config_free(r->clients[i].cfg);
		free(r->clients[i].context);
	}
	free(r->clients);
	kf_git_source_free(r->src);
	kf_repo_config_free(r->cfg);
	for (size_t i = 0; i < r->nsel; i++)
		free(r->sel[i]);
	free(r->sel);
	free(r->url);
	free(r->branch);
	free(r->state_dir);
	free(r->kubeconfig);
	free(r->context);
	free(r->inventory_ns);
	kf_strlist_release(&r->orphans);
	free(r->orphans_envs);
	free(r->cfg_error);
	free(r->fetch_error);
	free(r->hooks);
	kf_strlist_release(&r->drift);
	json_decref(r->snapshot);
	if (r->pipe[0] > 0) {
		close(r->pipe[0]);
		close(r->pipe[1]);
	}
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void kf_reconciler_set_kfp_observer(struct kf_reconciler *r, const struct kf_kfp_observer *obs)
{
	r->kfp_obs = obs;
}

void kf_reconciler_add_hooks(struct kf_reconciler *r, const struct kf_reconciler_hooks *h)
{
	r->hooks = kf_xrealloc(r->hooks, (r->nhooks + 1) * sizeof(*r->hooks));
	r->hooks[r->nhooks++] = *h;
}

/* ---- thread-safe entry points ------------------------------------------ */

static void poke(struct kf_reconciler *r)
{
	char c = 1;
	ssize_t n = write(r->pipe[1], &c, 1); /* a full pipe already says "wake" */

	(void)n;
}

void kf_reconciler_stop(struct kf_reconciler *r)
{
	r->stop = 1; /* a plain store, so that a signal handler may call this */
	poke(r);
}

void kf_reconciler_wake(struct kf_reconciler *r, unsigned what)
{
	pthread_mutex_lock(&r->mu);
	r->wake |= what;
	pthread_mutex_unlock(&r->mu);
	poke(r);
}

void kf_reconciler_enqueue_object(struct kf_reconciler *r, const char *env, const char *object_key)
{
	bool found = false;

	kf_trace("gitops", "drift reported: %s %s", env, object_key ? object_key : "");
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->drift.n && !found; i++)
		found = !strcmp(r->drift.v[i], env);
	if (!found)
		kf_strlist_add(&r->drift, env);
	pthread_mutex_unlock(&r->mu);
	poke(r);
}

void kf_reconciler_set_leader(struct kf_reconciler *r, bool leader)
{
	pthread_mutex_lock(&r->mu);
	if (leader && !r->leader)
		r->wake |= KF_WAKE_SOURCE | KF_WAKE_RESYNC; /* a new leader looks at everything */
	r->leader = leader;
	pthread_mutex_unlock(&r->mu);
	poke(r);
}

bool kf_reconciler_is_leader(struct kf_reconciler *r)
{
	bool l;

	pthread_mutex_lock(&r->mu);
	l = r->leader;
	pthread_mutex_unlock(&r->mu);
	return l;
}

bool kf_reconciler_ready(struct kf_reconciler *r)
{
	bool v;

	pthread_mutex_lock(&r->mu);
	v = r->ready;
	pthread_mutex_unlock(&r->mu);
	return v;
}

json_t *kf_reconciler_status_json(struct kf_reconciler *r)
{
	json_t *v;

	pthread_mutex_lock(&r->mu);
	v = json_deep_copy(r->snapshot);
	json_object_set_new(v, "leader", json_boolean(r->leader));
	pthread_mutex_unlock(&r->mu);
	return v;
}

/* ---- loop-thread helpers ------------------------------------------------ */

static void publish(struct kf_reconciler *r)
{
	json_t *s = json_object(), *envs = json_array();
	char t[32] = "";
	bool ready = r->nenvs > 0;

	if (r->last_fetch) {
		time_t tt = (time_t)r->last_fetch;
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	json_object_set_new(s, "repository", json_string(kf_git_source_url(r->src)));
	json_object_set_new(s, "branch", json_string(r->branch));
	json_object_set_new(s, "head", json_string(r->head));
	json_object_set_new(s, "lastFetch", json_string(t));
	json_object_set_new(s, "lastFetchError", r->fetch_error ? json_string(r->fetch_error) : json_null());
	if (r->cfg_error) {
		const char *p = strstr(r->cfg_error, KF_REPO_CONFIG_FILE ":");
		int line = 0, col = 0, used = 0;
		json_t *ce = json_pack("{s:s, s:s, s:s}", "commit", r->cfg_commit, "file", KF_REPO_CONFIG_FILE,
				       "message", r->cfg_error);

		if (p && sscanf(p + strlen(KF_REPO_CONFIG_FILE), ":%d:%d: %n", &line, &col, &used) == 2) {
			json_object_set_new(ce, "line", json_integer(line));
			json_object_set_new(ce, "column", json_integer(col));
		}
		json_object_set_new(s, "configError", ce);
	} else {
		json_object_set_new(s, "configError", json_null());
	}
	for (size_t i = 0; i < r->nenvs; i++) {
		json_array_append_new(envs, kf_env_status_json(&r->envs[i].st));
		ready = ready && r->envs[i].attempted;
	}
	json_object_set_new(s, "environments", envs);
	pthread_mutex_lock(&r->mu);
	json_decref(r->snapshot);
	r->snapshot = s;
	r->ready = ready;
	pthread_mutex_unlock(&r->mu);
}

static struct env_state *env_find(struct kf_reconciler *r, const char *name)
{
	for (size_t i = 0; i < r->nenvs; i++)
		if (!strcmp(r->envs[i].name, name))
			return &r->envs[i];
	return NULL;
}

static struct env_state *env_add(struct kf_reconciler *r, const char *name)
{
	struct env_state *e;

	r->envs = kf_xrealloc(r->envs, (r->nenvs + 1) * sizeof(*r->envs));
	e = &r->envs[r->nenvs++];
	memset(e, 0, sizeof(*e));
	e->name = kf_xstrdup(name);
	e->st.env = kf_xstrdup(name);
	e->bo = (struct kf_backoff)KF_BACKOFF_INIT(2, r->retry_max);
	return e;
}

/* The environments to follow: the selected ones, or every one in the
 * config (kept in the config's order; state of known ones is kept). */
static void sync_env_list(struct kf_reconciler *r)
{
	if (r->nsel) {
		for (size_t i = 0; i < r->nsel; i++)
			if (!env_find(r, r->sel[i]))
				env_add(r, r->sel[i]);
		return;
	}
	for (size_t i = 0; r->cfg && i < r->cfg->nenvs; i++)
		if (!env_find(r, r->cfg->envs[i].name))
			env_add(r, r->cfg->envs[i].name);
}

static double jitter(double d)
{
	return d * (0.9 + 0.2 * ((double)rand() / RAND_MAX));
}

static void fire_fetch(struct kf_reconciler *r, const char *what, double secs, const struct kf_err *e)
{
	for (size_t i = 0; i < r->nhooks; i++)
		if (r->hooks[i].on_fetch)
			r->hooks[i].on_fetch(r->hooks[i].ctx, what, secs, e);
}

/* ls-remote, then fetch when the branch moved (or nothing is known yet).
 * Returns 0 when r->head is current. */
static int source_step(struct kf_reconciler *r, struct kf_err **err)
{
	bool moved = true;
	char commit[41];
	double t0 = kf_now();
	int rc;

	rc = kf_git_source_check(r->src, &moved, err);
	fire_fetch(r, "check", kf_now() - t0, rc ? *err : NULL);
	if (!rc && (moved || !*r->head)) {
		t0 = kf_now();
		if (moved)
			rc = kf_git_source_fetch(r->src, commit, err);
		else
			memcpy(commit, kf_git_source_head(r->src), 41);
		fire_fetch(r, "fetch", kf_now() - t0, rc ? *err : NULL);
		if (!rc) {
			if (strcmp(commit, r->head))
				kf_info("%s %s: at commit %.12s", kf_git_source_url(r->src), r->branch, commit);
			memcpy(r->head, commit, 41);
		}
	}
	r->last_fetch = (long long)time(NULL);
	free(r->fetch_error);
	r->fetch_error = NULL;
	if (rc) {
		r->fetch_error = kf_err_str(*err);
		return rc;
	}
	return 0;
}

/* Parse kfboot.yaml of r->head once per commit. */
static int load_config(struct kf_reconciler *r)
{
	struct kf_repo_config *c = NULL;
	struct kf_err *e = NULL;

	if (!strcmp(r->cfg_commit, r->head))
		return r->cfg_error ? KF_EINVAL : 0;
	memcpy(r->cfg_commit, r->head, 41);
	free(r->cfg_error);
	r->cfg_error = NULL;
	if (kf_repo_config_load(&c, r->src, r->head, &e) < 0) {
		r->cfg_error = kf_err_str(e);
		kf_err_free(e);
		kf_warn("%s", r->cfg_error);
		return KF_EINVAL;
	}
	kf_repo_config_free(r->cfg);
	r->cfg = c;
	sync_env_list(r);
	return 0;
}

static int client_for(struct kf_reconciler *r, const char *context, struct client **out, struct kf_err **err)
{
	const char *ctx = r->context ? r->context : context ? context : "";
	struct kf_kubeconfig_opts ko = { r->kubeconfig, *ctx ? ctx : NULL, NULL };
	struct client c = { 0 };
	int rc;

	for (size_t i = 0; i < r->nclients; i++) {
		if (!strcmp(r->clients[i].context, ctx)) {
			*out = &r->clients[i];
			return 0;
		}
	}
	rc = kf_kube_config_load(&c.cfg, &ko, err);
	if (!rc) {
		if (c.cfg->insecure)
			kf_warn("context '%s' sets insecure-skip-tls-verify: the server's certificate is NOT verified", c.cfg->context);
		rc = kf_kube_new(&c.k, c.cfg, NULL, err);
	}
	if (!rc)
		rc = kf_discovery_load(&c.d, c.k, err);
	if (rc) {
		kf_err_wrap(err, "context '%s'", *ctx ? ctx : "(current)");
		kf_discovery_free(c.d);
		kf_kube_free(c.k);
		kf_kube_config_free(c.cfg);
		return rc;
	}
	c.context = kf_xstrdup(ctx);
	r->clients = kf_xrealloc(r->clients, (r->nclients + 1) * sizeof(*r->clients));
	r->clients[r->nclients] = c;
	*out = &r->clients[r->nclients++];
	return 0;
}

/*
 * An environment kfboot applied before and that kfboot.yaml no longer lists
 * is not visited again: its objects stay where they are (kfboot never
 * deletes a whole environment on its own). Say so once per inventory, with
 * the command that removes them: one LIST of ApplySet parents per cluster
 * at start and whenever the list of environments changes.
 */
static void warn_orphans(struct kf_reconciler *r)
{
	static const char prefix[] = "kfboot-gitops-";
	const char *ns = r->inventory_ns && *r->inventory_ns ? r->inventory_ns : "kube-system";
	struct kf_kube *seen[16];
	size_t nseen = 0;
	struct kf_buf names = KF_BUF_INIT;

	if (!r->cfg)
		return;
	for (size_t i = 0; i < r->cfg->nenvs; i++)
		kf_buf_addf(&names, "%s\n", r->cfg->envs[i].name);
	if (r->orphans_envs && !strcmp(r->orphans_envs, names.buf ? names.buf : "")) {
		kf_buf_release(&names);
		return;
	}
	free(r->orphans_envs);
	r->orphans_envs = kf_xstrdup(names.buf ? names.buf : "");
	kf_buf_release(&names);
	for (size_t i = 0; i < r->cfg->nenvs && nseen < KF_ARRAY_SIZE(seen); i++) {
		struct client *c = NULL;
		struct kf_err *e = NULL;
		json_t *list = NULL, *item;
		bool dup = false;
		size_t j;
		char *path;

		if (client_for(r, r->cfg->envs[i].context, &c, &e)) {
			kf_err_free(e); /* sync_one says why, for its environment */
			continue;
		}
		for (j = 0; j < nseen && !dup; j++)
			dup = seen[j] == c->k;
		if (dup)
			continue;
		seen[nseen++] = c->k;
		path = kf_xasprintf("/api/v1/namespaces/%s/secrets?labelSelector=applyset.kubernetes.io%%2Fid", ns);
		if (kf_kube_get_json(c->k, path, true, &list, &e)) {
			kf_debug("looking for inventories of removed environments: %s", e->msg);
			kf_err_free(e);
		}
		free(path);
		json_array_foreach(json_object_get(list, "items"), j, item) {
			const char *name = json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
			char *key;
			bool said = false;

			if (!name || strncmp(name, prefix, sizeof(prefix) - 1) || !name[sizeof(prefix) - 1] ||
			    kf_repo_config_env(r->cfg, name + sizeof(prefix) - 1))
				continue;
			key = kf_xasprintf("%s/%s/%s", c->context, ns, name);
			for (size_t k = 0; k < r->orphans.n && !said; k++)
				said = !strcmp(r->orphans.v[k], key);
			if (!said) {
				kf_warn("inventory %s/%s: environment '%s' is not in %s (removed from it, or another "
					"repository's); its objects are left in place. If it was removed, "
					"'kfboot delete --inventory %s/%s' removes them",
					ns, name, name + sizeof(prefix) - 1, KF_REPO_CONFIG_FILE, ns, name);
				kf_strlist_add(&r->orphans, key);
			}
			free(key);
		}
		json_decref(list);
	}
}

static void sync_one(struct kf_reconciler *r, struct env_state *e, const char *reason)
{
	const struct kf_repo_env *env = r->cfg ? kf_repo_config_env(r->cfg, e->name) : NULL;
	struct kf_sync_opts so = { 0 };
	struct kf_err *err = NULL;
	struct client *c = NULL;
	int rc;

	e->attempted = true;
	e->drift = false;
	if (!env) {
		char *m = kf_xasprintf("environment '%s' is not defined in %s at commit %.12s", e->name,
				       KF_REPO_CONFIG_FILE, r->head);

		kf_env_status_release(&e->st);
		e->st.env = kf_xstrdup(e->name);
		snprintf(e->st.commit, sizeof(e->st.commit), "%s", r->head);
		e->st.result = KF_SYNC_INVALID;
		e->st.error = m;
		e->st.error_file = kf_xstrdup(KF_REPO_CONFIG_FILE);
		e->st.time = (long long)time(NULL);
		goto hooks;
	}
	rc = client_for(r, env->context, &c, &err);
	if (rc) {
		char keep[41];

		memcpy(keep, e->st.applied_commit, sizeof(keep));
		kf_env_status_release(&e->st);
		e->st.env = kf_xstrdup(e->name);
		memcpy(e->st.applied_commit, keep, sizeof(keep));
		snprintf(e->st.commit, sizeof(e->st.commit), "%s", r->head);
		e->st.result = KF_SYNC_FAILED;
		e->st.error = kf_err_str(err);
		e->st.time = (long long)time(NULL);
		goto failed;
	}
	so.dry_run = r->dry_run;
	so.skip_dry_run = !r->dry_run && !strcmp(e->validated, r->head);
	so.wait = true;
	so.inventory_ns = r->inventory_ns;
	so.render = r->have_ropts ? &r->ropts : NULL;
	rc = kf_gitops_sync_env(&e->st, c->k, c->d, r->src, r->head, r->cfg, env, &so, &e->applied, &err);
	if (e->st.result == KF_SYNC_FAILED && e->st.error && !strstr(e->st.error, "context '")) {
		/* Say which cluster: environments may each have their own. */
		char *m = kf_xasprintf("context '%s' (%s): %s", c->cfg->context ? c->cfg->context : "?",
				       c->cfg->server ? c->cfg->server : "?", e->st.error);

		free(e->st.error);
		e->st.error = m;
	}
	if (e->st.result == KF_SYNC_APPLIED || e->st.result == KF_SYNC_DRY_RUN)
		memcpy(e->validated, r->head, 41);
	if (e->st.result == KF_SYNC_APPLIED) {
		e->retry_at = 0;
		e->bo.attempt = 0;
		if (e->st.health == KF_ENV_HEALTH_HEALTHY)
			kf_info("%s: commit %.12s applied (%zu applied, %zu unchanged, %zu pruned, %zu hands off)", e->name,
				r->head, e->st.applied, e->st.unchanged, e->st.pruned, e->st.hands_off);
		for (size_t i = 0; i < r->nhooks; i++)
			if (r->hooks[i].on_applied)
				r->hooks[i].on_applied(r->hooks[i].ctx, e->name, c->k, c->d, &e->applied);
		/* retraining: changed paths since the last triggering commit -> runs */
		if (kf_gitops_retrain_env(r->src, r->head, r->cfg, env, c->k, r->kfp_obs, &err)) {
			char *m = kf_err_str(err);

			kf_warn("%s: %s", e->name, m);
			free(m);
			kf_err_clear(&err);
		}
		/* Not kept: a drift repair renders the applied commit again, and
		 * thousands of parsed objects are most of an idle process's RSS. */
		kf_objset_release(&e->applied);
		goto hooks;
	}
	if (e->st.result == KF_SYNC_INVALID || e->st.result == KF_SYNC_DRY_RUN) {
		if (rc && err) {
			char *m = kf_err_str(err);

			kf_warn("%s", m);
			free(m);
		}
		goto hooks;
	}
failed:
	if (r->stop || kf_interrupted()) {
		/* Asked to stop: the apply was cut short on purpose; the
		 * next start converges (what was sent is in the inventory). */
		kf_info("%s: apply of %.12s stopped: shutting down", e->name, r->head);
		goto hooks;
	}
	{
		double d = kf_backoff_next(&e->bo);

		if (d < 1)
			d = 1;
		e->retry_at = kf_now() + d;
		kf_warn("%s: %s (retrying in %.0f s)", e->name, e->st.error ? e->st.error : "failed", d);
	}
hooks:
	kf_err_free(err);
	for (size_t i = 0; i < r->nhooks; i++)
		if (r->hooks[i].on_reconcile)
			r->hooks[i].on_reconcile(r->hooks[i].ctx, &e->st, reason);
	publish(r);
}

/* When the config at head is broken, every environment reports it (and
 * keeps what it applied). */
static void config_invalid(struct kf_reconciler *r)
{
	if (!r->nenvs)
		sync_env_list(r);
	for (size_t i = 0; i < r->nenvs; i++) {
		struct env_state *e = &r->envs[i];
		char keep[41];
		const char *m = r->cfg_error;
		int line = 0, col = 0, used = 0;

		if (!strcmp(e->st.commit, r->head) && e->st.result == KF_SYNC_INVALID)
			continue;
		memcpy(keep, e->st.applied_commit, sizeof(keep));
		kf_env_status_release(&e->st);
		e->st.env = kf_xstrdup(e->name);
		memcpy(e->st.applied_commit, keep, sizeof(keep));
		snprintf(e->st.commit, sizeof(e->st.commit), "%s", r->head);
		e->st.result = KF_SYNC_INVALID;
		e->st.error = kf_xstrdup(m);
		e->st.error_file = kf_xstrdup(KF_REPO_CONFIG_FILE);
		{
			const char *p = strstr(m, KF_REPO_CONFIG_FILE ":");

			if (p && sscanf(p + strlen(KF_REPO_CONFIG_FILE), ":%d:%d: %n", &line, &col, &used) == 2) {
				e->st.error_line = line;
				e->st.error_col = col;
			}
		}
		e->st.time = (long long)time(NULL);
		e->attempted = true;
		for (size_t j = 0; j < r->nhooks; j++)
			if (r->hooks[j].on_reconcile)
				r->hooks[j].on_reconcile(r->hooks[j].ctx, &e->st, "commit");
	}
	publish(r);
}

static bool env_ok(const struct env_state *e, bool dry_run)
{
	if (dry_run)
		return e->st.result == KF_SYNC_DRY_RUN;
	return e->st.result == KF_SYNC_APPLIED && e->st.health == KF_ENV_HEALTH_HEALTHY;
}

int kf_reconciler_run(struct kf_reconciler *r, struct kf_err **err)
{
	bool first = true;
	int rc = 0, tries = 0;

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	r->next_poll = 0;
	r->next_resync = kf_now() + r->resync;
	publish(r);
	for (;;) {
		unsigned wake;
		bool leader, resync, do_source;
		struct kf_strlist drift = KF_STRLIST_INIT;
		double now, wait_until;

		if (r->stop || kf_interrupted()) {
			rc = r->once ? kf_err_set(err, KF_ECANCEL, "interrupted") : 0;
			break;
		}
		pthread_mutex_lock(&r->mu);
		wake = r->wake;
		r->wake = 0;
		leader = r->leader;
		drift = r->drift;
		memset(&r->drift, 0, sizeof(r->drift));
		pthread_mutex_unlock(&r->mu);
		now = kf_now();
		resync = (wake & KF_WAKE_RESYNC) || now >= r->next_resync;
		do_source = first || (wake & KF_WAKE_SOURCE) || now >= r->next_poll;

		if (leader && do_source) {
			struct kf_err *e = NULL;

			if (source_step(r, &e) < 0) {
				double d = kf_backoff_next(&r->fetch_bo);

				d = d < 1 ? 1 : d;
				kf_warn("%s (retrying in %.0f s; the last applied commit stays)", r->fetch_error, d);
				r->next_poll = kf_now() + d;
				publish(r);
				if (r->once && (++tries >= 3 || kf_err_code(e) == KF_EAUTH || kf_err_code(e) == KF_ENOENT)) {
					rc = kf_err_code(e) ? kf_err_code(e) : KF_ERR;
					if (err) {
						kf_err_free(*err);
						*err = e;
						e = NULL;
					}
					kf_err_free(e);
					break;
				}
				kf_err_free(e);
			} else {
				r->fetch_bo.attempt = 0;
				r->next_poll = kf_now() + jitter(r->interval);
				first = false;
			}
		}
		if (leader && *r->head && !first) {
			bool cfg_ok = load_config(r) == 0;

			if (!cfg_ok) {
				config_invalid(r);
			} else {
				sync_env_list(r);
				warn_orphans(r);
				for (size_t i = 0; i < r->nenvs && !r->stop && !kf_interrupted(); i++) {
					struct env_state *e = &r->envs[i];
					bool drifted = false;
					const char *reason = NULL;

					for (size_t j = 0; j < drift.n && !drifted; j++)
						drifted = !strcmp(drift.v[j], e->name);
					if (strcmp(e->st.commit, r->head) || !e->attempted)
						reason = "commit";
					else if (e->st.result == KF_SYNC_FAILED && e->retry_at && kf_now() >= e->retry_at)
						reason = "retry";
					else if (resync && e->st.result != KF_SYNC_INVALID)
						reason = "resync";
					else if ((drifted || e->drift) && e->st.result == KF_SYNC_APPLIED)
						reason = "drift";
					if (reason && (!r->dry_run || !strcmp(reason, "commit")))
						sync_one(r, e, reason);
				}
			}
			if (resync)
				r->next_resync = kf_now() + r->resync;
		}
		kf_strlist_release(&drift);
		if (r->once && !first) {
			bool ok = r->nenvs > 0 && !r->cfg_error;

			for (size_t i = 0; i < r->nenvs; i++)
				ok = ok && env_ok(&r->envs[i], r->dry_run);
			if (!ok)
				rc = kf_err_set(err, KF_ERR, "not every environment is %s", r->dry_run ? "valid" : "applied and healthy");
			break;
		}
		/* A sync parses and lists thousands of objects and frees them:
		 * give the pages back before sleeping, so that an idle
		 * reconciler's RSS is what it keeps, not its peak (glibc). */
		malloc_trim(0);
		for (size_t i = 0; i < r->nhooks; i++)
			if (r->hooks[i].on_idle)
				r->hooks[i].on_idle(r->hooks[i].ctx, r);
		/* Sleep until the next timer or a wake. */
		wait_until = r->next_poll < r->next_resync ? r->next_poll : r->next_resync;
		for (size_t i = 0; i < r->nenvs; i++)
			if (r->envs[i].retry_at && r->envs[i].st.result == KF_SYNC_FAILED && r->envs[i].retry_at < wait_until)
				wait_until = r->envs[i].retry_at;
		now = kf_now();
		if (wait_until > now) {
			struct pollfd pfd = { r->pipe[0], POLLIN, 0 };
			double ms = (wait_until - now) * 1000 + 1;

			if (poll(&pfd, 1, ms > 3600000 ? 3600000 : (int)ms) > 0) {
				char buf[256];

				while (read(r->pipe[0], buf, sizeof(buf)) > 0)
					;
			}
		}
	}
	publish(r);
	return rc;
}
