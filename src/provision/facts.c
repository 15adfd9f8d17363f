/*
 * facts.c - what kfboot knows about a host (parsed from the key=value output
 * of scripts/node/facts.sh) and the preflight checks that judge every host
 * at once from those facts, so that one report lists every problem before
 * anything is changed anywhere.
 */
#include <stdlib.h>
#include <string.h>

#include "provision/internal.h"

#define MIN_CP_MEM_GIB 1.7
#define MIN_CP_CPUS 2
#define MAX_CLOCK_SKEW 5.0 /* seconds between any two hosts */

static const char *get(const json_t *raw, const char *key)
{
	const char *v = json_string_value(json_object_get(raw, key));

	return v ? v : "";
}

int kf_facts_parse(struct kf_facts *f, const char *text, double local_mid,
		   struct kf_err **err)
{
	const char *p = text;
	json_t *raw = json_object();

	memset(f, 0, sizeof(*f));
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *eq = memchr(p, '=', len);

		if (eq && eq > p) {
			char *key = kf_xstrndup(p, (size_t)(eq - p));

			json_object_set_new(raw, key, json_stringn(eq + 1, len - (size_t)(eq - p) - 1));
			free(key);
		}
		p += len + (eol ? 1 : 0);
	}
	if (!json_object_get(raw, "hostname") || !json_object_get(raw, "joined")) {
		json_decref(raw);
		return kf_err_set(err, KF_EINVAL, "facts.sh printed no facts (is /bin/sh a POSIX shell?)");
	}
	f->raw = raw;
	f->os = get(raw, "os_pretty");
	f->arch = get(raw, "arch");
	f->hostname = get(raw, "hostname");
	f->machine_id = get(raw, "machine_id");
	f->user = get(raw, "user");
	f->home = get(raw, "home");
	f->cpus = atoi(get(raw, "cpus"));
	f->mem_gib = atof(get(raw, "mem_kib")) / (1024.0 * 1024.0);
	f->swap_gib = atof(get(raw, "swap_kib")) / (1024.0 * 1024.0);
	f->cgroup = atoi(get(raw, "cgroup"));
	f->is_root = !strcmp(get(raw, "sudo"), "root");
	f->sudo_ok = f->is_root || !strcmp(get(raw, "sudo"), "yes");
	f->clock_offset = *get(raw, "time") ? atof(get(raw, "time")) - local_mid : 0;
	f->port_6443_used = !strcmp(get(raw, "port_6443"), "used");
	f->port_10250_used = !strcmp(get(raw, "port_10250"), "used");
	f->modules_missing = get(raw, "modules_missing");
	f->prepare_todo = get(raw, "prepare_todo");
	f->control_plane = !strcmp(get(raw, "control_plane"), "yes");
	f->joined = !strcmp(get(raw, "joined"), "yes");
	f->kubelet_server = get(raw, "kubelet_server");
	f->kubelet_active = *get(raw, "kubelet_active") ? get(raw, "kubelet_active") : "unknown";
	f->cni = get(raw, "cni");
	f->nodes = json_object_get(raw, "nodes") ? get(raw, "nodes") : NULL;
	f->kubeadm_version = get(raw, "kubeadm_version");
	f->kubelet_version = get(raw, "kubelet_version");
	f->containerd_version = get(raw, "containerd_version");
	return 0;
}

void kf_facts_release(struct kf_facts *f)
{
	json_decref(f->raw);
	memset(f, 0, sizeof(*f));
}

bool kf_facts_node_ready(const char *nodes, const char *name, bool *listed)
{
	size_t n = strlen(name);

	if (listed)
		*listed = false;
	for (const char *p = nodes ? nodes : ""; *p;) {
		size_t len = strcspn(p, ",");

		if (len > n && !strncmp(p, name, n) && p[n] == ':') {
			if (listed)
				*listed = true;
			return len - n - 1 == 5 && !strncmp(p + n + 1, "Ready", 5);
		}
		p += len;
		p += *p == ',';
	}
	return false;
}

/* The host part of "https://host:port" (or of "host:port"). */
static char *url_host(const char *url)
{
	const char *p = strstr(url, "://");
	const char *end;

	p = p ? p + 3 : url;
	if (*p == '[') {
		end = strchr(p, ']');
		return end ? kf_xstrndup(p + 1, (size_t)(end - p - 1)) : kf_xstrdup(p);
	}
	end = p + strcspn(p, ":/");
	return kf_xstrndup(p, (size_t)(end - p));
}

/* Whether `check` is in the comma-separated list `ignore` ("all" = every). */
static bool ignored(const char *ignore, const char *check)
{
	size_t n = strlen(check);

	for (const char *p = ignore ? ignore : ""; *p;) {
		size_t len = strcspn(p, ",");

		if ((len == n && !strncmp(p, check, n)) || (len == 3 && !strncmp(p, "all", 3)))
			return true;
		p += len;
		p += *p == ',';
	}
	return false;
}

const char *const kf_preflight_checks[] = { "arch", "cgroups", "modules", "joined", "ports",
					    "memory", "cpus", "role", "hostname", "clock", NULL };

int kf_preflight(const struct kf_cluster *c, const struct kf_facts *const *facts,
		 const char *ignore, struct kf_buf *problems, struct kf_buf *warnings)
{
	struct kf_buf tmp_p = KF_BUF_INIT, tmp_w = KF_BUF_INIT;
	struct kf_buf *P = problems ? problems : &tmp_p;
	struct kf_buf *W = warnings ? warnings : &tmp_w;
	char *ep = kf_cluster_endpoint(c);
	char *ep_host = url_host(ep);
	double omin = 0, omax = 0;
	const char *tmin = NULL, *tmax = NULL;
	size_t start = P->len;
	int rc;

	for (size_t i = 0; i < c->nhosts; i++) {
		const struct kf_host *h = &c->hosts[i];
		const struct kf_facts *f = facts[i];
		bool cp = h->role == KF_ROLE_CONTROL_PLANE;
		bool ours = false;

		if (!f) {
			kf_buf_addf(P, "host %s: no facts (the host was not reached)\n", h->name);
			continue;
		}
		if (!f->sudo_ok)
			kf_buf_addf(P, "host %s: user '%s' has no passwordless sudo (kfboot runs `sudo -n`; add a NOPASSWD rule or log in as root)\n",
				    h->name, f->user);
		if (strcmp(f->arch, "x86_64") && strcmp(f->arch, "aarch64"))
			kf_buf_addf(ignored(ignore, "arch") ? W : P, "host %s: architecture '%s' is not supported (x86_64 or aarch64)\n", h->name, f->arch);
		if (!f->cgroup)
			kf_buf_addf(ignored(ignore, "cgroups") ? W : P, "host %s: no cgroup filesystem at /sys/fs/cgroup (kubelet needs cgroups v1 or v2)\n", h->name);
		else if (f->cgroup == 1)
			kf_buf_addf(W, "host %s: cgroups v1: works, but Kubernetes 1.31+ puts cgroup v1 in maintenance mode; prefer v2\n", h->name);
		if (*f->modules_missing)
			kf_buf_addf(ignored(ignore, "modules") ? W : P, "host %s: kernel module%s %s not available (not loaded, no module file)\n", h->name,
				    strchr(f->modules_missing, ' ') ? "s" : "", f->modules_missing);
		if (f->swap_gib > 0)
			kf_buf_addf(W, "host %s: swap is on (%.1f GiB): prepare turns it off and disables it in /etc/fstab\n",
				    h->name, f->swap_gib);
		/* A node that already runs our kubelet/API server uses the ports. */
		ours = f->joined && (!*f->kubelet_server || strstr(f->kubelet_server, ep_host));
		if (f->joined && *f->kubelet_server && !strstr(f->kubelet_server, ep_host))
			kf_buf_addf(ignored(ignore, "joined") ? W : P, "host %s: already joined to another cluster (kubelet talks to %s, this cluster is %s); run `kubeadm reset` there first\n",
				    h->name, f->kubelet_server, ep);
		if (!ours && f->port_10250_used)
			kf_buf_addf(ignored(ignore, "ports") ? W : P, "host %s: port 10250 (kubelet) is in use\n", h->name);
		if (cp && !f->control_plane && f->port_6443_used)
			kf_buf_addf(ignored(ignore, "ports") ? W : P, "host %s: port 6443 (API server) is in use\n", h->name);
		if (cp && f->mem_gib < MIN_CP_MEM_GIB)
			kf_buf_addf(ignored(ignore, "memory") ? W : P, "host %s: %.1f GiB of memory; a control plane needs at least %.1f GiB\n", h->name,
				    f->mem_gib, MIN_CP_MEM_GIB);
		if (cp && f->cpus < MIN_CP_CPUS)
			kf_buf_addf(ignored(ignore, "cpus") ? W : P, "host %s: %d CPU%s; a control plane needs at least %d\n", h->name, f->cpus,
				    f->cpus == 1 ? "" : "s", MIN_CP_CPUS);
		if (!cp && f->control_plane)
			kf_buf_addf(ignored(ignore, "role") ? W : P, "host %s: is a control plane already, but the profile makes it a worker\n", h->name);
		if (*f->kubeadm_version && f->joined &&
		    strcmp(f->kubeadm_version, c->kubernetes.version[0] == 'v' ? c->kubernetes.version + 1
									   : c->kubernetes.version))
			kf_buf_addf(W, "host %s: runs kubeadm %s but the profile says %s; kfboot does not upgrade clusters\n",
				    h->name, f->kubeadm_version, c->kubernetes.version);
		if (!tmin || f->clock_offset < omin) {
			omin = f->clock_offset;
			tmin = h->name;
		}
		if (!tmax || f->clock_offset > omax) {
			omax = f->clock_offset;
			tmax = h->name;
		}
		/* Hostnames and machine IDs must be unique. */
		for (size_t j = 0; j < i; j++) {
			const struct kf_facts *g = facts[j];

			if (!g)
				continue;
			if (*f->hostname && !strcmp(f->hostname, g->hostname))
				kf_buf_addf(ignored(ignore, "hostname") ? W : P, "host %s: hostname '%s' is also the hostname of %s (hostnames must be unique)\n",
					    h->name, f->hostname, c->hosts[j].name);
			if (*f->machine_id && !strcmp(f->machine_id, g->machine_id))
				kf_buf_addf(W, "host %s: machine-id is the same as %s's (cloned image?): regenerate /etc/machine-id\n",
					    h->name, c->hosts[j].name);
		}
	}
	if (tmin && tmax && omax - omin > MAX_CLOCK_SKEW)
		kf_buf_addf(ignored(ignore, "clock") ? W : P, "host %s: clock is %.1f s ahead of %s's (more than %.0f s breaks certificates); sync with NTP\n",
			    tmax, omax - omin, tmin, MAX_CLOCK_SKEW);
	rc = P->len > start ? KF_EINVAL : 0;
	free(ep);
	free(ep_host);
	kf_buf_release(&tmp_p);
	kf_buf_release(&tmp_w);
	return rc;
}
