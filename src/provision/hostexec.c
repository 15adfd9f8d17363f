/*
 * hostexec.c - doing things on one host for a run: reporting events
 * (progress callback, the JSON summary, the log), building a host's action
 * context, running one command over its SSH session (through the SSH
 * layer's sudo with timeout(1) inside, output streamed line by line into
 * the log unless it holds secrets, "kfboot: " status lines and
 * "kfboot-result: " markers read as they come), and running a phase's
 * action list (commands and uploads).
 *
 * It sits below both runner.c (which schedules phases over hosts) and
 * phases.c (which defines what each phase does): neither is called from
 * here.
 */
#include <stdlib.h>
#include <string.h>

#include "provision/internal.h"

static const char *res_str(enum kf_result r)
{
	switch (r) {
	case KF_RES_CHANGED:
		return "changed";
	case KF_RES_UNCHANGED:
		return "unchanged";
	case KF_RES_FAILED:
		return "failed";
	case KF_RES_NONE:
		break;
	}
	return "skipped";
}

void kf_run_event(struct kf_run *r, enum kf_event_kind kind,
		  const struct kf_phase *ph, const struct kf_rhost *h,
		  enum kf_result res, const char *msg, double progress)
{
	struct kf_prov_event ev = { 0 };

	ev.kind = kind;
	ev.phase_id = ph ? ph->id : NULL;
	ev.phase_title = ph ? ph->title : NULL;
	ev.host = h ? h->cfg->name : NULL;
	ev.result = res;
	ev.msg = msg;
	ev.elapsed = kf_now() - r->t0;
	ev.progress = progress;
	pthread_mutex_lock(&r->lock);
	if (kind == KF_EV_HOST_END && h && ph && r->sum && r->sum->hosts && res != KF_RES_NONE) {
		json_t *hj = json_object_get(r->sum->hosts, h->cfg->name);

		if (!hj) {
			hj = json_object();
			json_object_set_new(r->sum->hosts, h->cfg->name, hj);
		}
		json_object_set_new(hj, ph->id, json_string(res_str(res)));
	}
	if (r->o.on_event)
		r->o.on_event(r->o.event_ctx, &ev);
	pthread_mutex_unlock(&r->lock);
	/* To the log file; on the console only with -vv (the progress shows them). */
	if (kind == KF_EV_WARNING)
		kf_log_write(KF_LOG_TRACE, NULL, "warning: %s", msg ? msg : "");
	if (kind == KF_EV_HOST_END)
		kf_log_write(KF_LOG_TRACE, NULL, "%s: %s: %s%s%s", h ? h->cfg->name : "-",
			     ph ? ph->title : "run", res_str(res), msg ? ": " : "", msg ? msg : "");
	if (kind == KF_EV_PHASE_END)
		kf_log_write(KF_LOG_TRACE, NULL, "phase '%s' %s", ph ? ph->title : "?",
			     res == KF_RES_FAILED ? "failed" : "finished");
}

void kf_rhost_actx(const struct kf_run *r, const struct kf_rhost *h,
		   struct kf_actx *x)
{
	kf_actx_init(x, r->c, h->cfg, h->have_facts ? &h->facts : NULL);
	x->state_dir = r->state_dir;
	x->join_endpoint = r->join_endpoint;
	x->join_token = r->join_token;
	x->join_hash = r->join_hash;
}

/* ---- executing commands ----------------------------------------------------- */

struct out_ctx {
	struct kf_run *r;
	struct kf_rhost *h;
	bool secret;
	struct kf_buf line[3];
};

static void on_line(struct out_ctx *oc, int fd, const char *line)
{
	struct kf_rhost *h = oc->h;

	if (fd == 1 && kf_str_startswith(line, "kfboot-result: ")) {
		const char *v = line + 15;

		if (!strcmp(v, "changed"))
			h->res = KF_RES_CHANGED;
		else if (!strcmp(v, "unchanged") && h->res != KF_RES_CHANGED)
			h->res = KF_RES_UNCHANGED;
		return;
	}
	if (fd == 1 && kf_str_startswith(line, "kfboot: ")) {
		free(h->status);
		h->status = kf_xstrdup(line + 8);
		kf_run_event(oc->r, KF_EV_HOST_STATUS, h->phase, h, KF_RES_NONE, h->status, -1);
	}
	kf_log_write(KF_LOG_DEBUG, NULL, "%s: %s %s", h->cfg->name, fd == 2 ? "!" : "|", line);
}

static void on_output(void *ctx, int fd, const char *data, size_t len)
{
	struct out_ctx *oc = ctx;
	struct kf_buf *b = &oc->line[fd == 2 ? 2 : 1];

	if (oc->secret)
		return;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n') {
			on_line(oc, fd, b->buf);
			kf_buf_reset(b);
		} else if (b->len < 4096) {
			kf_buf_addch(b, data[i]);
		}
	}
}

static void flush_lines(struct out_ctx *oc)
{
	for (int fd = 1; fd <= 2; fd++) {
		if (oc->line[fd].len)
			on_line(oc, fd, oc->line[fd].buf);
		kf_buf_release(&oc->line[fd]);
	}
}

/* Append s with every line after the first indented by `ind`. */
void kf_add_indented(struct kf_buf *b, const char *s, const char *ind)
{
	for (; *s; s++) {
		kf_buf_addch(b, *s);
		if (*s == '\n' && s[1])
			kf_buf_adds(b, ind);
	}
}

/* The last `n` lines of s. */
static const char *tail_lines(const char *s, int n)
{
	const char *p = s + strlen(s);

	while (p > s && (p[-1] == '\n' || p[-1] == ' '))
		p--;
	while (p > s) {
		if (p[-1] == '\n' && --n == 0)
			break;
		p--;
	}
	return p;
}

static int exec_cmd(struct kf_run *r, struct kf_rhost *h, const char *cmd,
		    double timeout, bool secret, const void *in, size_t inlen,
		    struct kf_buf *out, struct kf_err **err)
{
	struct out_ctx oc = { .r = r, .h = h, .secret = secret };
	struct kf_ssh_exec_opts eo = { 0 };
	struct kf_buf errout = KF_BUF_INIT;
	struct kf_buf tmp = KF_BUF_INIT;
	char *unwrapped = kf_sudo_unwrap(cmd, h->have_facts ? h->facts.home : NULL);
	int status = 0;
	int rc;

	for (int i = 0; i < 3; i++)
		kf_buf_init(&oc.line[i], 0);
	eo.timeout = timeout;
	eo.on_output = on_output;
	eo.ctx = &oc;
	eo.stdin_data = in;
	eo.stdin_len = inlen;
	eo.max_output = out && out->cap ? out->cap : 4 << 20;
	errout.cap = 0;
	if (!secret)
		kf_log_write(KF_LOG_DEBUG, NULL, "%s: $ %s", h->cfg->name, cmd);
	else
		kf_log_write(KF_LOG_DEBUG, NULL, "%s: $ %s (output not logged)", h->cfg->name, cmd);
	/* Under sudo through the SSH layer: timeout(1) runs inside sudo, so a
	 * command that hangs is stopped on the host at the deadline. */
	eo.sudo = unwrapped != NULL;
	rc = kf_ssh_exec(h->ssh, unwrapped ? unwrapped : cmd, &eo, &status, out ? out : &tmp, &errout, err);
	flush_lines(&oc);
	if (rc)
		goto out;
	if (status) {
		const char *t;

		kf_buf_rtrim(&errout);
		t = secret ? "" : tail_lines(errout.buf, 6);
		if (!*t && !secret && out) {
			kf_buf_rtrim(out);
			t = tail_lines(out->buf, 6);
		}
		{
			struct kf_buf m = KF_BUF_INIT;

			kf_add_indented(&m, t, "    ");
			rc = kf_err_set(err, KF_ERR, "exit status %d%s%s", status, *t ? ":\n    " : "", m.buf);
			kf_buf_release(&m);
		}
	}
out:
	kf_buf_release(&errout);
	kf_buf_release(&tmp);
	free(unwrapped);
	return rc;
}

int kf_run_priv(struct kf_run *r, struct kf_rhost *h, const char *cmd,
		double timeout, bool secret, struct kf_buf *out,
		struct kf_err **err)
{
	int rc = exec_cmd(r, h, cmd, timeout, secret, NULL, 0, out, err);

	if (rc && !secret)
		kf_err_wrap(err, "`%s`", cmd);
	return rc;
}

int kf_run_actions(struct kf_run *r, struct kf_rhost *h,
		   const struct kf_plan_phase *pp, struct kf_err **err)
{
	double timeout = r->o.script_timeout > 0 ? r->o.script_timeout : 1800;
	int rc = 0;

	for (size_t i = 0; i < pp->n && !rc; i++) {
		const struct kf_action *a = &pp->v[i];

		if (kf_interrupted()) {
			rc = kf_err_set(err, KF_ECANCEL, "interrupted");
			break;
		}
		switch (a->kind) {
		case KF_ACT_RUN:
			rc = exec_cmd(r, h, a->cmd, timeout, a->secret, NULL, 0, NULL, err);
			if (rc)
				kf_err_wrap(err, "%s", a->script ? a->script : a->cmd);
			break;
		case KF_ACT_UPLOAD:
			if (a->script) {
				size_t len = 0;
				const char *text = kf_script_text(a->script, &len);

				rc = kf_ssh_upload(h->ssh, a->cmd, text, len, a->mode, err);
			} else if (a->source) {
				rc = kf_ssh_upload_file(h->ssh, a->source, a->cmd, a->mode, err);
			} else {
				rc = kf_ssh_upload(h->ssh, a->cmd, a->content, strlen(a->content), a->mode, err);
			}
			if (rc)
				kf_err_wrap(err, "upload ~/%s", a->cmd);
			else
				kf_log_write(KF_LOG_DEBUG, NULL, "%s: uploaded ~/%s (%zu bytes)", h->cfg->name,
					     a->cmd, a->size);
			break;
		case KF_ACT_LOCAL:
			break;
		}
	}
	return rc;
}

void kf_run_local_phase_end(struct kf_run *r, const struct kf_phase *ph, int rc,
			    enum kf_result result, const char *msg, struct kf_err **err)
{
	char *s;

	if (!rc) {
		pthread_mutex_lock(&r->lock);
		if (result == KF_RES_CHANGED) {
			r->sum->changed++;
			r->any_changed = true;
		} else {
			r->sum->unchanged++;
		}
		pthread_mutex_unlock(&r->lock);
		kf_run_event(r, KF_EV_HOST_END, ph, r->cp, result, msg, -1);
		return;
	}
	kf_err_wrap(err, "phase '%s' on this machine", ph->title);
	s = kf_err_str(*err);
	kf_run_event(r, KF_EV_HOST_END, ph, r->cp, KF_RES_FAILED, s, -1);
	free(s);
	pthread_mutex_lock(&r->lock);
	r->sum->failed++;
	pthread_mutex_unlock(&r->lock);
}
