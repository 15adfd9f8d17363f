/*
 * fuzz_kubeconfig.c - libFuzzer target for the kubeconfig loader.
 *
 * Writes the input as a kubeconfig file in a private temporary directory
 * (also $HOME, so "~/" references stay inside it) and loads it the way
 * every command does (kf_kube_config_load with --kubeconfig): merging,
 * context/cluster/user lookup, type checks, server URL normalisation,
 * impersonation, proxy-url and exec plugin parsing. When it loads, a client
 * is built from it (URL and header set-up; nothing is sent, no plugin is
 * run) and the server URL is redacted. Anything that reads outside the
 * directory's harmless files (devices, /proc, /sys) is skipped: the loader
 * would honestly read what the kubeconfig names. Crashes, leaks and
 * undefined behaviour are caught by the sanitizers the target is built with.
 *
 * Build: cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DKF_FUZZ=ON
 *        cmake --build build-fuzz --target fuzz_kubeconfig
 * Run:   build-fuzz/tests/fuzz_kubeconfig tests/fuzz/corpus/kubeconfig -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/kube.h"

static char dir[64];
static char path[96];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

static bool unsafe(const uint8_t *data, size_t size)
{
	static const char *const bad[] = { "/dev", "/proc", "/sys", "..", "/run", "/var" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (memmem(data, size, bad[i], strlen(bad[i])))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kf_kubeconfig_opts o = { 0 };
	struct kf_kube_config *c = NULL;
	struct kf_kube *k = NULL;
	struct kf_err *err = NULL;
	FILE *f;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz-kubeconfig-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof(path), "%s/config", dir);
		atexit(remove_dir);
		setenv("HOME", dir, 1);
		unsetenv("KUBECONFIG");
		unsetenv("KUBERNETES_SERVICE_HOST");
	}
	if (size > 256 * 1024 || unsafe(data, size))
		return 0;
	f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	o.path = path;
	if (kf_kube_config_load(&c, &o, &err) == 0) {
		char *shown = kf_url_redact(c->server);

		/* A server URL with userinfo must have been refused, and a
		 * redacted URL never carries any. */
		if (!c->server || kf_url_has_userinfo(c->server) || strstr(shown, "***@"))
			abort();
		free(shown);
		if (kf_kube_new(&k, c, NULL, &err) == 0)
			kf_kube_free(k);
	}
	kf_err_free(err);
	kf_kube_config_free(c);
	unlink(path);
	return 0;
}
