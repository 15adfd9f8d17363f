/*
 * reconciler.c - the `up` phase "install the reconciler": when the profile
 * has spec.gitops, apply manifests/kfboot/ (namespace kfboot-system, RBAC,
 * a 2-replica Deployment of `kfboot reconcile --leader-elect`, Services,
 * NetworkPolicy) to the new cluster, after Kubeflow, with the staged apply
 * engine (ApplySet inventory kfboot-system/kfboot-install) and wait for it.
 *
 * The manifests are compiled into the binary (.incbin, like the Kubeflow
 * catalog), so an installed kfboot needs no source tree; ${IMAGE},
 * ${REPOSITORY}, ${BRANCH} and ${INTERVAL} are filled in from the profile.
 * Re-running `up` converges: an unchanged installation sends no write.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "config/rules.h"
#include "kube/kube.h"

#define KF_MANIFEST(f) ".incbin \"" KF_SOURCE_DIR "/manifests/kfboot/" f "\"\n.ascii \"\\n---\\n\"\n"
__asm__(".pushsection .rodata\n"
	".hidden kf_reconciler_manifests\n"
	".global kf_reconciler_manifests\n"
	"kf_reconciler_manifests:\n"
	KF_MANIFEST("namespace.yaml")
	KF_MANIFEST("rbac.yaml")
	KF_MANIFEST("deployment.yaml")
	KF_MANIFEST("service.yaml")
	KF_MANIFEST("networkpolicy.yaml")
	".byte 0\n"
	".popsection\n");
extern const char kf_reconciler_manifests[];

#define INVENTORY "kfboot-system/kfboot-install"

/* The manifests with the profile's values in place of the placeholders. */
static char *render(const struct kf_cluster *c)
{
	const char *keys[] = { "${IMAGE}", "${REPOSITORY}", "${BRANCH}", "${INTERVAL}" };
	char interval[32];
	const char *vals[4];
	struct kf_buf b = KF_BUF_INIT;
	const char *p = kf_reconciler_manifests;

	kf_config_duration_fmt(c->gitops.interval, interval, sizeof(interval));
	vals[0] = c->gitops.image;
	vals[1] = c->gitops.repository;
	vals[2] = c->gitops.branch;
	vals[3] = interval;
	while (*p) {
		size_t i;

		for (i = 0; i < KF_ARRAY_SIZE(keys); i++)
			if (!strncmp(p, keys[i], strlen(keys[i])))
				break;
		if (i < KF_ARRAY_SIZE(keys)) {
			kf_buf_adds(&b, vals[i] ? vals[i] : "");
			p += strlen(keys[i]);
		} else {
			kf_buf_addch(&b, *p++);
		}
	}
	return kf_buf_detach(&b, NULL);
}

static int reconciler_dry_run(const struct kf_actx *x, struct kf_plan_phase *out,
			      struct kf_err **err)
{
	const struct kf_cluster *c = x->c;
	struct kf_action *a;
	char interval[32];

	(void)err;
	if (!c->gitops.enabled) {
		free(out->when);
		out->when = kf_xstrdup("nothing: the profile has no spec.gitops");
		return 0;
	}
	kf_config_duration_fmt(c->gitops.interval, interval, sizeof(interval));
	a = kf_plan_phase_add(out, KF_ACT_LOCAL);
	a->cmd = kf_xasprintf("on this machine: server-side apply of manifests/kfboot (namespace kfboot-system, service account "
			      "and RBAC, Deployment kfboot-reconciler with 2 replicas and --leader-elect, Services "
			      "kfboot-webhooks and kfboot-metrics, NetworkPolicy; inventory %s), waited for until available",
			      INVENTORY);
	a = kf_plan_phase_add(out, KF_ACT_LOCAL);
	a->cmd = kf_xasprintf("the reconciler follows %s branch %s every %s (image %s); Secrets kfboot-git and "
			      "kfboot-webhook are referenced, not created",
			      c->gitops.repository ? c->gitops.repository : "?", c->gitops.branch, interval,
			      c->gitops.image ? c->gitops.image : "?");
	return 0;
}

static int reconciler_run_cluster(struct kf_run *r, struct kf_err **err)
{
	const struct kf_cluster *c = r->c;
	struct kf_kubeconfig_opts ko = { 0 };
	struct kf_kube_config *cfg = NULL;
	struct kf_kube *k = NULL;
	struct kf_discovery *d = NULL;
	struct kf_objset set = KF_OBJSET_INIT;
	struct kf_diags dg = KF_DIAGS_INIT;
	struct kf_apply_opts ao = { 0 };
	struct kf_apply_result res = { 0 };
	enum kf_result result = KF_RES_NONE;
	char *text = NULL, *msg = NULL;
	int rc = 0;

	if (!r->cp)
		goto out;
	if (!c->gitops.enabled) {
		kf_run_event(r, KF_EV_HOST_END, &kf_phase_reconciler, r->cp, KF_RES_NONE, "no spec.gitops", -1);
		goto out;
	}
	kf_run_event(r, KF_EV_HOST_START, &kf_phase_reconciler, r->cp, KF_RES_NONE, NULL, -1);
	text = render(c);
	rc = kf_objset_load_buf(&set, "manifests/kfboot", text, strlen(text), &dg, err);
	if (!rc) {
		ko.path = r->kubeconfig_path;
		rc = kf_kube_config_load(&cfg, &ko, err);
	}
	if (!rc)
		rc = kf_kube_new(&k, cfg, NULL, err);
	if (!rc)
		rc = kf_discovery_load(&d, k, err);
	if (!rc && kf_objset_resolve(&set, d, "kfboot-system", &dg))
		rc = kf_err_set(err, KF_EINVAL, "manifests/kfboot: %s", dg.n ? dg.v[0].msg : "invalid");
	if (rc)
		goto out;
	ao.inventory = INVENTORY;
	ao.prune = true;
	ao.wait = true;
	ao.timeout = 300;
	rc = kf_apply_run(&res, k, d, &set, &ao, err);
	if (rc) {
		kf_err_wrap(err, "installing the reconciler (is image '%s' available to the nodes?)", c->gitops.image);
		goto out;
	}
	result = res.applied || res.pruned ? KF_RES_CHANGED : KF_RES_UNCHANGED;
	msg = kf_xasprintf("%zu objects: %zu applied, %zu unchanged; following %s (%s)", res.total, res.applied,
			   res.unchanged, c->gitops.repository, c->gitops.branch);
out:
	kf_run_local_phase_end(r, &kf_phase_reconciler, rc, result, msg, err);
	kf_apply_result_release(&res);
	kf_objset_release(&set);
	kf_diags_release(&dg);
	kf_discovery_free(d);
	kf_kube_free(k);
	kf_kube_config_free(cfg);
	free(text);
	free(msg);
	return rc;
}

const struct kf_phase kf_phase_reconciler = {
	.id = "reconciler",
	.title = "install the reconciler",
	.scope = KF_SCOPE_CLUSTER,
	.dry_run = reconciler_dry_run,
	.run_cluster = reconciler_run_cluster,
	.when = "when the profile has spec.gitops",
};
