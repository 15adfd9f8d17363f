/*
 * plan.c - `kfboot plan`: for every host and phase, the exact commands `up`
 * (or `reset`) would run, built offline by the phases' own dry_run
 * functions, and rendered for people (grouped by host, numbered by phase,
 * with what each node script does) or as JSON.
 *
 * Nothing here opens a connection or writes a file; the only thing read
 * besides the profile is the offline bundle's directory listing.
 */
#include <stdlib.h>
#include <string.h>

#include "provision/internal.h"

static int plan_host(struct kf_plan *p, struct kf_plan_host *ph,
		     const struct kf_phase *const *phases, size_t nphases,
		     struct kf_err **err)
{
	const struct kf_cluster *c = p->cluster;
	const struct kf_host *h = ph->host;
	bool cp = h == kf_cluster_control_plane(c);
	bool workers = false;
	int rc = 0;

	for (size_t i = 0; i < c->nhosts; i++)
		workers |= c->hosts[i].role == KF_ROLE_WORKER;
	ph->phases = kf_xcalloc(nphases, sizeof(*ph->phases));
	for (size_t i = 0; i < nphases && !rc; i++) {
		const struct kf_phase *phase = phases[i];
		struct kf_plan_phase *pp = &ph->phases[ph->n];
		struct kf_actx x;

		kf_actx_init(&x, c, h, NULL);
		x.state_dir = p->state_dir;
		if (kf_phase_applies(phase, c, h)) {
			pp->phase = phase;
			if (phase->when)
				pp->when = kf_xstrdup(phase->when);
			rc = phase->dry_run(&x, pp, err);
		} else if (cp && phase->before_dry_run && workers) {
			pp->phase = phase;
			rc = phase->before_dry_run(&x, pp, err);
		} else {
			continue;
		}
		ph->n++;
		if (rc)
			kf_err_wrap(err, "phase '%s' on %s", phase->title, h->name);
	}
	return rc;
}

int kf_plan_build(struct kf_plan **out, const struct kf_cluster *c,
		  const struct kf_prov_opts *o, bool reset, struct kf_err **err)
{
	struct kf_plan *p = kf_xcalloc(1, sizeof(*p));
	const struct kf_phase *const *phases = reset ? kf_phases_reset : kf_phases_up;
	size_t nphases = reset ? kf_phases_reset_n : kf_phases_up_n;
	int rc = 0;

	*out = NULL;
	p->cluster = c;
	p->state_dir = kf_prov_state_dir(c, o);
	if (o && o->scripts_dir)
		kf_scripts_set_dir(o->scripts_dir);
	p->hosts = kf_xcalloc(c->nhosts ? c->nhosts : 1, sizeof(*p->hosts));
	/* Control plane first, then the workers in profile order. */
	for (int pass = 0; pass < 2 && !rc; pass++) {
		for (size_t i = 0; i < c->nhosts && !rc; i++) {
			const struct kf_host *h = &c->hosts[i];
			bool is_cp = h == kf_cluster_control_plane(c);

			if ((pass == 0) != is_cp)
				continue;
			p->hosts[p->nhosts].host = h;
			rc = plan_host(p, &p->hosts[p->nhosts++], phases, nphases, err);
		}
	}
	if (rc) {
		kf_plan_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void kf_plan_free(struct kf_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nhosts; i++) {
		for (size_t j = 0; j < p->hosts[i].n; j++)
			kf_plan_phase_release(&p->hosts[i].phases[j]);
		free(p->hosts[i].phases);
	}
	free(p->hosts);
	free(p->state_dir);
	free(p);
}

/* ---- text ---------------------------------------------------------------- */

struct style {
	const char *bold, *dim, *green, *cyan, *yellow, *reset;
};

static const char *human_size(size_t n, char buf[32])
{
	if (n >= 1024 * 1024)
		snprintf(buf, 32, "%.1f MB", (double)n / (1024.0 * 1024.0));
	else if (n >= 1024)
		snprintf(buf, 32, "%.1f KB", (double)n / 1024.0);
	else
		snprintf(buf, 32, "%zu B", n);
	return buf;
}

static size_t phase_number(const struct kf_phase *ph, bool reset)
{
	const struct kf_phase *const *v = reset ? kf_phases_reset : kf_phases_up;
	size_t n = reset ? kf_phases_reset_n : kf_phases_up_n;

	for (size_t i = 0; i < n; i++)
		if (v[i] == ph)
			return i + 1;
	return 0;
}

static void render_lines(struct kf_buf *out, const char *indent, const char *prefix,
			 const char *text, const struct style *st)
{
	const char *p = text;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		kf_buf_addf(out, "%s%s%s%.*s%s\n", indent, st->dim, prefix, (int)len, p, st->reset);
		p += len + (eol ? 1 : 0);
	}
}

static void render_action(struct kf_buf *out, const struct kf_action *a,
			  const struct style *st, bool verbose, bool show_content)
{
	const char *ind = "       ";
	char sz[32];

	switch (a->kind) {
	case KF_ACT_RUN:
		kf_buf_addf(out, "%s%s$%s %s", ind, st->green, st->reset, a->cmd);
		if (a->stdin_script && a->script)
			kf_buf_addf(out, " %s< %s%s", st->dim, a->script, st->reset);
		if (a->on)
			kf_buf_addf(out, "  %s(on %s)%s", st->dim, a->on, st->reset);
		kf_buf_addch(out, '\n');
		if (a->script) {
			char **steps = kf_script_steps(a->script);

			for (char **s = steps; s && *s; s++)
				kf_buf_addf(out, "%s    %s· %s%s\n", ind, st->dim, *s, st->reset);
			kf_strv_free(steps);
		}
		if (a->note)
			kf_buf_addf(out, "%s    %s%s%s\n", ind, st->dim, a->note, st->reset);
		break;
	case KF_ACT_UPLOAD:
		kf_buf_addf(out, "%s%s↑%s ~/%s", ind, st->cyan, st->reset, a->cmd);
		kf_buf_addf(out, "  %s", st->dim);
		if (a->source)
			kf_buf_addf(out, "from %s, ", a->source);
		else
			kf_buf_adds(out, "generated, ");
		if (a->size)
			kf_buf_addf(out, "%s, ", human_size(a->size, sz));
		kf_buf_addf(out, "mode %04o", a->mode);
		if (a->note)
			kf_buf_addf(out, ": %s", a->note);
		kf_buf_addf(out, "%s\n", st->reset);
		if (a->content && (show_content || verbose)) {
			if (a->secret)
				kf_buf_addf(out, "%s    %s(content holds a secret: not shown)%s\n", ind, st->dim, st->reset);
			else
				render_lines(out, "           ", "│ ", a->content, st);
		}
		break;
	case KF_ACT_LOCAL:
		kf_buf_addf(out, "%s%s•%s %s\n", ind, st->yellow, st->reset, a->cmd);
		break;
	}
}

/* Uploads of many files from one directory (an offline bundle) as one line. */
static size_t render_upload_group(struct kf_buf *out, const struct kf_plan_phase *pp,
				  size_t i, const struct style *st)
{
	const struct kf_action *a = &pp->v[i];
	const char *slash = strrchr(a->cmd, '/');
	size_t dirlen = slash ? (size_t)(slash - a->cmd) : 0;
	size_t j = i, total = 0;
	char sz[32];

	while (j < pp->n && pp->v[j].kind == KF_ACT_UPLOAD && pp->v[j].source &&
	       !pp->v[j].script && dirlen && !strncmp(pp->v[j].cmd, a->cmd, dirlen + 1) &&
	       !strchr(pp->v[j].cmd + dirlen + 1, '/')) {
		total += pp->v[j].size;
		j++;
	}
	if (j - i < 3)
		return 0;
	{
		const char *src = a->source;
		const char *ss = strrchr(src, '/');
		int srclen = ss ? (int)(ss - src) : (int)strlen(src);

		kf_buf_addf(out, "       %s↑%s ~/%.*s/  %s%zu files from %.*s/, %s, mode %04o%s\n",
			    st->cyan, st->reset, (int)dirlen, a->cmd, st->dim, j - i, srclen, src,
			    human_size(total, sz), a->mode, st->reset);
	}
	return j - i;
}

void kf_plan_render(struct kf_buf *out, const struct kf_plan *p, bool color,
		    bool verbose)
{
	static const struct style plain = { "", "", "", "", "", "" };
	static const struct style ansi = { "\033[1m", "\033[2m", "\033[32m", "\033[36m", "\033[33m", "\033[0m" };
	const struct style *st = color ? &ansi : &plain;
	const struct kf_cluster *c = p->cluster;
	bool reset = false;
	size_t nworkers = 0;
	bool shown_join = false;

	for (size_t i = 0; i < c->nhosts; i++)
		nworkers += c->hosts[i].role == KF_ROLE_WORKER;
	for (size_t i = 0; i < p->nhosts && !reset; i++)
		for (size_t j = 0; j < p->hosts[i].n; j++)
			reset |= p->hosts[i].phases[j].phase == &kf_phase_reset_node;

	kf_buf_addf(out, "%s%s cluster '%s'%s: 1 control plane + %zu worker%s, Kubernetes %s, %s",
		    st->bold, reset ? "Reset plan for" : "Plan for", c->name, st->reset, nworkers,
		    nworkers == 1 ? "" : "s", c->kubernetes.version, c->kubernetes.cni);
	if (c->kubernetes.offline_bundle)
		kf_buf_addf(out, ", offline bundle %s", c->kubernetes.offline_bundle);
	kf_buf_addf(out, "\n%sprofile %s · state %s%s\n", st->dim, c->path ? c->path : "-",
		    p->state_dir, st->reset);
	kf_buf_addf(out, "%sPhases:", st->dim);
	{
		const struct kf_phase *const *v = reset ? kf_phases_reset : kf_phases_up;
		size_t n = reset ? kf_phases_reset_n : kf_phases_up_n;

		for (size_t i = 0; i < n; i++)
			kf_buf_addf(out, "%s %zu %s", i ? " ·" : "", i + 1, v[i]->title);
	}
	kf_buf_addf(out, "%s\n", st->reset);
	kf_buf_addf(out, "%sNothing was contacted or changed. `kfboot %s` runs these phases in order, hosts in parallel;\n"
			 "a phase whose work a host's facts show done is skipped on that host.%s\n",
		    st->dim, reset ? "reset" : "up", st->reset);

	for (size_t i = 0; i < p->nhosts; i++) {
		const struct kf_plan_host *ph = &p->hosts[i];
		const struct kf_host *h = ph->host;

		kf_buf_addf(out, "\n%s%s%s  %s  %s%s  %s@%s:%d%s\n", st->bold, h->name, st->reset,
			    h->address, st->dim, kf_host_role_str(h), h->ssh.user ? h->ssh.user : "root",
			    h->address, h->ssh.port ? h->ssh.port : 22, st->reset);
		for (size_t j = 0; j < ph->n; j++) {
			const struct kf_plan_phase *pp = &ph->phases[j];
			bool show_content = true;

			kf_buf_addf(out, "  %2zu %s%s%s", phase_number(pp->phase, reset), st->bold,
				    pp->phase->title, st->reset);
			if (pp->when)
				kf_buf_addf(out, "  %s(%s)%s", st->dim, pp->when, st->reset);
			kf_buf_addch(out, '\n');
			if (pp->phase == &kf_phase_join && h->role == KF_ROLE_WORKER) {
				show_content = !shown_join;
				shown_join = true;
			}
			for (size_t k = 0; k < pp->n;) {
				size_t used = 0;

				if (!verbose && pp->v[k].kind == KF_ACT_UPLOAD)
					used = render_upload_group(out, pp, k, st);
				if (!used) {
					render_action(out, &pp->v[k], st, verbose, show_content);
					used = 1;
				}
				k += used;
			}
		}
	}
	kf_buf_addf(out, "\n%sRun `kfboot %s -f %s` to apply%s.%s\n", st->dim, reset ? "reset" : "up",
		    c->path ? c->path : "PROFILE", reset ? " (it asks first)" : "", st->reset);
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *action_json(const struct kf_action *a)
{
	json_t *o = json_object();

	switch (a->kind) {
	case KF_ACT_RUN:
		json_object_set_new(o, "type", json_string("run"));
		json_object_set_new(o, "command", json_string(a->cmd));
		if (a->script) {
			char **steps = kf_script_steps(a->script);
			json_t *s = json_array();

			json_object_set_new(o, "script", json_string(a->script));
			json_object_set_new(o, "scriptOnStdin", json_boolean(a->stdin_script));
			for (char **q = steps; q && *q; q++)
				json_array_append_new(s, json_string(*q));
			json_object_set_new(o, "steps", s);
			kf_strv_free(steps);
		}
		if (a->on)
			json_object_set_new(o, "on", json_string(a->on));
		if (a->secret)
			json_object_set_new(o, "secretOutput", json_true());
		break;
	case KF_ACT_UPLOAD:
		json_object_set_new(o, "type", json_string("upload"));
		json_object_set_new(o, "path", json_sprintf("~/%s", a->cmd));
		if (a->source)
			json_object_set_new(o, "source", json_string(a->source));
		json_object_set_new(o, "size", json_integer((json_int_t)a->size));
		json_object_set_new(o, "mode", json_sprintf("%04o", a->mode));
		if (a->content && !a->secret)
			json_object_set_new(o, "content", json_string(a->content));
		break;
	case KF_ACT_LOCAL:
		json_object_set_new(o, "type", json_string("local"));
		json_object_set_new(o, "description", json_string(a->cmd));
		break;
	}
	if (a->note)
		json_object_set_new(o, "note", json_string(a->note));
	return o;
}

json_t *kf_plan_to_json(const struct kf_plan *p)
{
	const struct kf_cluster *c = p->cluster;
	json_t *root = json_object(), *hosts = json_array();

	json_object_set_new(root, "cluster", json_string(c->name));
	if (c->path)
		json_object_set_new(root, "profile", json_string(c->path));
	json_object_set_new(root, "stateDir", json_string(p->state_dir));
	json_object_set_new(root, "kubernetes",
			    json_pack("{s:s, s:s, s:s, s:s}", "version", c->kubernetes.version,
				      "cni", c->kubernetes.cni, "podSubnet", c->kubernetes.pod_subnet,
				      "serviceSubnet", c->kubernetes.service_subnet));
	if (c->kubernetes.offline_bundle)
		json_object_set_new(json_object_get(root, "kubernetes"), "offlineBundle",
				    json_string(c->kubernetes.offline_bundle));
	for (size_t i = 0; i < p->nhosts; i++) {
		const struct kf_plan_host *ph = &p->hosts[i];
		json_t *hj = json_object(), *phases = json_array();

		json_object_set_new(hj, "name", json_string(ph->host->name));
		json_object_set_new(hj, "address", json_string(ph->host->address));
		json_object_set_new(hj, "role", json_string(kf_host_role_str(ph->host)));
		json_object_set_new(hj, "user", json_string(ph->host->ssh.user ? ph->host->ssh.user : "root"));
		json_object_set_new(hj, "port", json_integer(ph->host->ssh.port ? ph->host->ssh.port : 22));
		for (size_t j = 0; j < ph->n; j++) {
			const struct kf_plan_phase *pp = &ph->phases[j];
			json_t *pj = json_object(), *acts = json_array();

			json_object_set_new(pj, "id", json_string(pp->phase->id));
			json_object_set_new(pj, "title", json_string(pp->phase->title));
			if (pp->when)
				json_object_set_new(pj, "skippedWhen", json_string(pp->when));
			for (size_t k = 0; k < pp->n; k++)
				json_array_append_new(acts, action_json(&pp->v[k]));
			json_object_set_new(pj, "actions", acts);
			json_array_append_new(phases, pj);
		}
		json_object_set_new(hj, "phases", phases);
		json_array_append_new(hosts, hj);
	}
	json_object_set_new(root, "hosts", hosts);
	return root;
}
