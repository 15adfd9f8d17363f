/*
 * actions.c - building blocks for what a phase does on a host: command
 * lines with or without sudo, a node script uploaded to the staging
 * directory and run with its environment, uploads. The phases build their
 * actions with these helpers once; `plan` prints them and the runner
 * executes them, so what is shown is what runs.
 */
#include <stdlib.h>
#include <string.h>

#include "provision/internal.h"

void kf_actx_init(struct kf_actx *x, const struct kf_cluster *c,
		  const struct kf_host *h, const struct kf_facts *facts)
{
	memset(x, 0, sizeof(*x));
	x->c = c;
	x->h = h;
	x->cp = kf_cluster_control_plane(c);
	x->facts = facts;
	if (facts && facts->user)
		x->root = facts->is_root;
	else
		x->root = !h->ssh.user || !strcmp(h->ssh.user, "root");
}

struct kf_action *kf_plan_phase_add(struct kf_plan_phase *p,
				    enum kf_action_kind kind)
{
	struct kf_action *a;

	kf_xgrow((void **)&p->v, &p->alloc, p->n + 1, sizeof(*p->v));
	a = &p->v[p->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

void kf_plan_phase_release(struct kf_plan_phase *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct kf_action *a = &p->v[i];

		free(a->cmd);
		free(a->script);
		free(a->source);
		free(a->content);
		free(a->note);
		free(a->on);
	}
	free(p->v);
	free(p->when);
	memset(p, 0, sizeof(*p));
}

char *kf_sudo_unwrap(const char *cmd, const char *home)
{
	static const char pre[] = "sudo -n ";
	struct kf_buf b = KF_BUF_INIT;
	const char *p;

	if (strncmp(cmd, pre, sizeof(pre) - 1) || !home || *home != '/' || strpbrk(home, "\"$`\\\n"))
		return NULL;
	cmd += sizeof(pre) - 1;
	while ((p = strstr(cmd, "$HOME"))) {
		kf_buf_add(&b, cmd, (size_t)(p - cmd));
		kf_buf_adds(&b, home);
		cmd = p + 5;
	}
	kf_buf_adds(&b, cmd);
	return kf_buf_detach(&b, NULL);
}

char *kf_priv_cmd(const struct kf_actx *x, const char *cmd)
{
	return x->root ? kf_xstrdup(cmd) : kf_xasprintf("sudo -n %s", cmd);
}

char *kf_script_cmd(const struct kf_actx *x, const char *script,
		    const char *const *env)
{
	struct kf_buf b = KF_BUF_INIT;

	if (!x->root)
		kf_buf_adds(&b, "sudo -n ");
	if (env && env[0]) {
		kf_buf_adds(&b, "env");
		for (size_t i = 0; env[i]; i++)
			kf_buf_addf(&b, " %s", env[i]);
		kf_buf_addch(&b, ' ');
	}
	kf_buf_addf(&b, "sh \"$HOME/" KF_STAGE_REL "/%s\"", script);
	return kf_buf_detach(&b, NULL);
}

void kf_add_mkdir(struct kf_plan_phase *out, const char *sub)
{
	struct kf_action *a = kf_plan_phase_add(out, KF_ACT_RUN);

	if (sub)
		a->cmd = kf_xasprintf("mkdir -p -m 700 \"$HOME/" KF_STAGE_REL "\" \"$HOME/" KF_STAGE_REL "/%s\"", sub);
	else
		a->cmd = kf_xstrdup("mkdir -p -m 700 \"$HOME/" KF_STAGE_REL "\"");
}

int kf_add_script_run(const struct kf_actx *x, struct kf_plan_phase *out,
		      const char *script, const char *const *env)
{
	struct kf_action *a;
	size_t len = 0;

	if (!kf_script_text(script, &len))
		return kf_err_set(NULL, KF_ENOENT, "no node script '%s'", script);
	if (out->n == 0)
		kf_add_mkdir(out, NULL);
	a = kf_plan_phase_add(out, KF_ACT_UPLOAD);
	a->cmd = kf_xasprintf(KF_STAGE_REL "/%s", script);
	a->source = kf_xasprintf("scripts/node/%s", script);
	a->script = kf_xstrdup(script);
	a->size = len;
	a->mode = 0700;
	a = kf_plan_phase_add(out, KF_ACT_RUN);
	a->cmd = kf_script_cmd(x, script, env);
	a->script = kf_xstrdup(script);
	return 0;
}
