/*
 * kf_live_probe.c - drives src/kube/watch.c and src/kube/lease.c from shell
 * tests against kubesim and a real kube-apiserver, one line per fact on
 * stdout so a test can assert on it.
 *
 *   kf_live_probe lease KUBECONFIG IDENTITY [LEASE RENEW RETRY]
 *       Take part in the election of kfboot-system/kfboot-reconciler.
 *       Prints "leading T" / "standby T" (T = seconds since the epoch) on
 *       every change; while leading, writes ConfigMap
 *       kfboot-system/probe-writes (data.writer = IDENTITY, data.n = a
 *       counter) every 0.5 s, so a test can see who writes. SIGTERM releases
 *       the lease and exits 0.
 *   kf_live_probe watch KUBECONFIG SELECTOR GROUP/VERSION/RESOURCE[/ns]...
 *       Watch the kinds with the selector; prints
 *       "EVENT ns/name rv" per event and "synced RESOURCE" after a LIST.
 *       Runs until SIGTERM; prints the watch counters on exit
 *       ("stats connects=N relists=N gone=N events=N bookmarks=N errors=N").
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/kube.h"

static volatile sig_atomic_t stop_flag;

static void on_sig(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_lead(void *ctx, bool leading)
{
	(void)ctx;
	printf("%s %.3f\n", leading ? "leading" : "standby", wall());
	fflush(stdout);
}

static int write_probe(struct kf_kube *k, const char *id, unsigned long n)
{
	struct kf_kube_req r, *rp = &r;
	char *body = kf_xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"probe-writes\",\"namespace\":\"kfboot-system\"},\"data\":{\"writer\":\"%s\",\"n\":\"%lu\"}}", id, n);
	int rc = 0;

	kf_kube_req_init(&r, "PATCH", kf_xstrdup("/api/v1/namespaces/kfboot-system/configmaps/probe-writes?fieldManager=probe-" "writer&force=true"));
	kf_kube_req_body(&r, body, strlen(body), "application/apply-patch+yaml");
	if (kf_kube_run(k, &rp, 1, NULL) || r.status / 100 != 2)
		rc = -1;
	kf_kube_req_release(&r);
	return rc;
}

static int load_cfg(const char *path, struct kf_kube_config **cfg)
{
	struct kf_kubeconfig_opts ko = { .path = path };
	struct kf_err *e = NULL;

	if (kf_kube_config_load(cfg, &ko, &e)) {
		char *m = kf_err_str(e);

		fprintf(stderr, "kf_live_probe: %s\n", m);
		free(m);
		kf_err_free(e);
		return -1;
	}
	return 0;
}

static int run_lease(int argc, char **argv)
{
	struct kf_kube_config *cfg = NULL;
	struct kf_lease_opts lo = { .identity = argv[3] };
	struct kf_lease *l = NULL;
	struct kf_kube *k = NULL;
	struct kf_err *e = NULL;
	unsigned long n = 0;
	int rc = 1;

	if (argc >= 7) {
		lo.lease_duration = atof(argv[4]);
		lo.renew_deadline = atof(argv[5]);
		lo.retry_period = atof(argv[6]);
	}
	if (load_cfg(argv[2], &cfg))
		return 1;
	if (kf_kube_new(&k, cfg, NULL, &e) || kf_lease_new(&l, cfg, &lo, on_lead, NULL, &e) ||
	    kf_lease_start(l, &e))
		goto out;
	printf("standby %.3f\n", wall());
	fflush(stdout);
	while (!stop_flag) {
		usleep(500000);
		if (kf_lease_leading(l) && !stop_flag && write_probe(k, argv[3], ++n))
			fprintf(stderr, "probe write failed\n");
	}
	rc = 0;
out:
	if (e) {
		char *m = kf_err_str(e);

		fprintf(stderr, "kf_live_probe: %s\n", m);
		free(m);
		kf_err_free(e);
	}
	kf_lease_free(l);
	kf_kube_free(k);
	kf_kube_config_free(cfg);
	return rc;
}

static void on_event(void *ctx, const struct kf_watch_event *ev)
{
	static const char *names[] = { "ADDED", "MODIFIED", "DELETED", "LISTED", "SYNCED" };
	const json_t *md = json_object_get(ev->obj, "metadata");

	(void)ctx;
	if (ev->type == KF_WATCH_SYNCED)
		printf("synced %s\n", ev->rest->resource);
	else
		printf("%s %s/%s %s\n", names[ev->type],
		       json_string_value(json_object_get(md, "namespace")) ?: "",
		       json_string_value(json_object_get(md, "name")) ?: "",
		       json_string_value(json_object_get(md, "resourceVersion")) ?: "");
	fflush(stdout);
}

static int run_watch(int argc, char **argv)
{
	struct kf_kube_config *cfg = NULL;
	struct kf_watch *w = NULL;
	struct kf_watch_stats st;
	struct kf_err *e = NULL;
	int rc = 1;

	if (load_cfg(argv[2], &cfg))
		return 1;
	if (kf_watch_new(&w, cfg, argv[3], on_event, NULL, &e))
		goto out;
	if (getenv("PROBE_WATCH_TIMEOUT"))
		kf_watch_set_timeout(w, (unsigned)atoi(getenv("PROBE_WATCH_TIMEOUT")));
	for (int i = 4; i < argc; i++) {
		char *spec = kf_xstrdup(argv[i]), *parts[4] = { 0 };
		int np = 0;
		struct kf_rest r = { 0 };

		for (char *t = strtok(spec, "/"); t && np < 4; t = strtok(NULL, "/"))
			parts[np++] = t;
		if (np < 3) {
			fprintf(stderr, "kf_live_probe: want GROUP/VERSION/RESOURCE[/ns] ('core' for the core group): %s\n", argv[i]);
			free(spec);
			goto out;
		}
		r.group = strcmp(parts[0], "core") ? parts[0] : "";
		r.version = parts[1];
		r.resource = parts[2];
		r.kind = parts[2];
		r.namespaced = true;
		kf_watch_add(w, &r, np > 3 ? parts[3] : NULL);
		free(spec);
	}
	if (kf_watch_start(w, &e))
		goto out;
	while (!stop_flag)
		usleep(100000);
	kf_watch_get_stats(w, &st);
	printf("stats connects=%lu relists=%lu gone=%lu events=%lu bookmarks=%lu errors=%lu\n",
	       st.connects, st.relists, st.gone, st.events, st.bookmarks, st.errors);
	rc = 0;
out:
	if (e) {
		char *m = kf_err_str(e);

		fprintf(stderr, "kf_live_probe: %s\n", m);
		free(m);
		kf_err_free(e);
	}
	kf_watch_free(w);
	kf_kube_config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 };

	sa.sa_handler = on_sig;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "lease"))
		return run_lease(argc, argv);
	if (argc >= 5 && !strcmp(argv[1], "watch"))
		return run_watch(argc, argv);
	fprintf(stderr, "usage: kf_live_probe lease KUBECONFIG IDENTITY [LEASE RENEW RETRY]\n"
			"       kf_live_probe watch KUBECONFIG SELECTOR GROUP/VERSION/RESOURCE[/ns]...\n");
	return 2;
}
