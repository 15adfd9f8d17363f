/*
 * exec.c - exec credential plugins (client.authentication.k8s.io), run as
 * kubectl runs them.
 *
 * The plugin named by a kubeconfig user's `exec` map is started with our
 * environment plus its `env` entries and KUBERNETES_EXEC_INFO, a JSON
 * ExecCredential whose spec says whether it may talk to the user (only
 * when stdin is a terminal and interactiveMode allows it; otherwise stdin
 * is /dev/null) and, with provideClusterInfo, which cluster it is for.
 * Its stderr passes through (plugins prompt and explain there); its stdout
 * (capped at 1 MiB) must be an ExecCredential of the same apiVersion whose
 * status holds a token or a client certificate and key, and optionally an
 * expirationTimestamp: the client caches the credential until then (and
 * asks again, once, when the server answers 401 to it). A
 * plugin that does not finish by the deadline, or when the user presses
 * ^C, is killed. What it printed is never logged: it holds secrets.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kube.h"

extern char **environ;

#define EXEC_MAX_OUTPUT ((size_t)1 << 20)

/* RFC 3339 ("2026-12-05T17:00:00Z", fractions and offsets allowed) to a
 * Unix time; -1 when it is not one. */
static time_t parse_rfc3339(const char *s)
{
	struct tm tm;
	const char *p;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	t = timegm(&tm);
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) >= 6 && p[3] == ':') {
		int off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;

		t = *p == '+' ? t - off : t + off;
		p += 6;
	} else {
		return -1;
	}
	return *p ? -1 : t;
}

static char *exec_info(const struct kf_kube_exec *x, const struct kf_kube_config *cfg,
		       bool interactive)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:b}}", "kind", "ExecCredential", "apiVersion", x->api_version,
			      "spec", "interactive", interactive);
	char *s;

	if (x->provide_cluster_info && cfg) {
		json_t *cl = json_pack("{s:s}", "server", cfg->server ? cfg->server : "");

		if (cfg->tls_server_name)
			json_object_set_new(cl, "tls-server-name", json_string(cfg->tls_server_name));
		if (cfg->insecure)
			json_object_set_new(cl, "insecure-skip-tls-verify", json_true());
		if (cfg->ca) {
			char *b = kf_base64_encode(cfg->ca, cfg->ca_len, false);

			json_object_set_new(cl, "certificate-authority-data", json_string(b));
			free(b);
		}
		if (cfg->proxy_url)
			json_object_set_new(cl, "proxy-url", json_string(cfg->proxy_url));
		json_object_set_new(json_object_get(o, "spec"), "cluster", cl);
	}
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* Our environment, then the plugin's env entries (which win), then
 * KUBERNETES_EXEC_INFO. */
static char **build_env(const struct kf_kube_exec *x, const char *info)
{
	size_t n = 0, m = 0, out = 0;
	char **env;

	while (environ && environ[n])
		n++;
	while (x->env && x->env[m])
		m++;
	env = kf_xcalloc(n + m + 2, sizeof(*env));
	for (size_t i = 0; i < n; i++) {
		bool replaced = !strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21);

		for (size_t j = 0; j < m && !replaced; j++) {
			size_t l = strcspn(x->env[j], "=");

			replaced = !strncmp(environ[i], x->env[j], l + 1);
		}
		if (!replaced)
			env[out++] = kf_xstrdup(environ[i]);
	}
	for (size_t j = 0; j < m; j++)
		env[out++] = kf_xstrdup(x->env[j]);
	env[out++] = kf_xasprintf("KUBERNETES_EXEC_INFO=%s", info);
	return env;
}

static void env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

static int fail(struct kf_err **err, int code, const struct kf_kube_exec *x,
		const char *fmt, ...) KF_PRINTF(4, 5);

static int fail(struct kf_err **err, int code, const struct kf_kube_exec *x,
		const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = kf_xvasprintf(fmt, ap);
	va_end(ap);
	code = kf_err_set(err, code, "exec plugin '%s' of user '%s' (%s): %s", x->command, x->user, x->where, msg);
	free(msg);
	return code;
}

/* Run the command; its stdout in *out. */
static int run_plugin(const struct kf_kube_exec *x, char **env, bool interactive,
		      double deadline, struct kf_buf *out, struct kf_err **err)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2] = { -1, -1 };
	char **argv;
	size_t nargs = 0;
	pid_t pid = -1;
	int rc = 0, status = 0, sprc;
	bool killed = false; /* reaped after a kill */

	while (x->args && x->args[nargs])
		nargs++;
	argv = kf_xcalloc(nargs + 2, sizeof(*argv));
	argv[0] = x->command;
	for (size_t i = 0; i < nargs; i++)
		argv[i + 1] = x->args[i];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = kf_err_errno(err, "exec plugin: pipe");
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	if (!interactive)
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	sprc = posix_spawnp(&pid, x->command, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	pipefd[1] = -1;
	if (sprc) {
		rc = fail(err, KF_EAUTH, x, "cannot run it: %s%s%s", strerror(sprc),
			  x->install_hint ? "; " : "", x->install_hint ? x->install_hint : "");
		pid = -1;
		goto out;
	}
	for (;;) {
		struct pollfd p = { pipefd[0], POLLIN, 0 };
		double left = deadline - kf_now();
		char buf[4096];
		ssize_t n;

		if (kf_interrupted()) {
			rc = kf_err_set(err, KF_ECANCEL, "interrupted");
			break;
		}
		if (left <= 0) {
			rc = fail(err, KF_ETIMEOUT, x, "did not finish before the deadline");
			break;
		}
		if (poll(&p, 1, left > 0.2 ? 200 : (int)(left * 1000) + 1) <= 0)
			continue;
		n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (kf_buf_add(out, buf, (size_t)n) < 0) {
			rc = fail(err, KF_ETOOBIG, x, "printed more than %zu bytes", EXEC_MAX_OUTPUT);
			break;
		}
	}
	/* Its stdout is closed; wait for it to exit (not past the deadline). */
	while (!rc && waitpid(pid, &status, WNOHANG) == 0) {
		if (kf_interrupted())
			rc = kf_err_set(err, KF_ECANCEL, "interrupted");
		else if (kf_now() > deadline)
			rc = fail(err, KF_ETIMEOUT, x, "did not exit before the deadline");
		else
			kf_sleep(0.02);
	}
	if (rc) {
		kill(pid, SIGTERM);
		for (int i = 0; i < 20 && !killed; i++) {
			killed = waitpid(pid, &status, WNOHANG) != 0;
			if (!killed)
				kf_sleep(0.05);
		}
		if (!killed) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
		}
	}
	pid = -1;
	if (rc)
		goto out;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		rc = fail(err, KF_EAUTH, x, "command not found%s%s", x->install_hint ? "; " : "",
			  x->install_hint ? x->install_hint : "");
	} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		rc = fail(err, KF_EAUTH, x, "%s %d", WIFEXITED(status) ? "exited with status" : "killed by signal",
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	free(argv);
	return rc;
}

int kf_kube_exec_run(const struct kf_kube_exec *x, const struct kf_kube_config *cfg,
		     double deadline, char **token, char **cert, size_t *cert_len,
		     char **key, size_t *key_len, double *expires, struct kf_err **err)
{
	struct kf_buf out = KF_BUF_INIT;
	bool interactive = isatty(STDIN_FILENO) && strcmp(x->interactive, "Never");
	char *info = NULL, **env = NULL;
	const json_t *st;
	const char *tok, *cd, *kd, *exp, *kind, *av;
	json_t *j = NULL;
	int rc;

	*expires = 0;
	if (!strcmp(x->interactive, "Always") && !interactive) {
		rc = fail(err, KF_EAUTH, x, "interactiveMode is Always but standard input is not a terminal");
		goto out;
	}
	if (deadline <= 0)
		deadline = kf_now() + 60;
	out.cap = EXEC_MAX_OUTPUT;
	info = exec_info(x, cfg, interactive);
	env = build_env(x, info);
	kf_trace("kube", "running exec credential plugin %s for user %s", x->command, x->user);
	rc = run_plugin(x, env, interactive, deadline, &out, err);
	if (rc)
		goto out;
	j = json_loadb(out.buf, out.len, 0, NULL);
	kind = json_string_value(json_object_get(j, "kind"));
	av = json_string_value(json_object_get(j, "apiVersion"));
	st = json_object_get(j, "status");
	if (!json_is_object(j) || !kind || strcmp(kind, "ExecCredential")) {
		rc = fail(err, KF_EAUTH, x, "its output is not an ExecCredential (JSON with kind: ExecCredential)");
		goto out;
	}
	if (!av || strcmp(av, x->api_version)) {
		rc = fail(err, KF_EAUTH, x, "it answered with apiVersion '%s', the kubeconfig asks for '%s'", av ? av : "", x->api_version);
		goto out;
	}
	tok = json_string_value(json_object_get(st, "token"));
	cd = json_string_value(json_object_get(st, "clientCertificateData"));
	kd = json_string_value(json_object_get(st, "clientKeyData"));
	exp = json_string_value(json_object_get(st, "expirationTimestamp"));
	if (!(tok && *tok) && !(cd && *cd && kd && *kd)) {
		rc = fail(err, KF_EAUTH, x, "its ExecCredential has neither status.token nor status.clientCertificateData and clientKeyData");
		goto out;
	}
	if (!!(cd && *cd) != !!(kd && *kd)) {
		rc = fail(err, KF_EAUTH, x, "its ExecCredential has a client certificate without a key, or a key without a certificate");
		goto out;
	}
	if (exp && *exp) {
		time_t t = parse_rfc3339(exp);

		if (t < 0) {
			rc = fail(err, KF_EAUTH, x, "status.expirationTimestamp '%s' is not an RFC 3339 time", exp);
			goto out;
		}
		*expires = kf_now() + difftime(t, time(NULL));
	}
	if (*token) {
		memset(*token, 0, strlen(*token));
		free(*token);
	}
	*token = tok && *tok ? kf_xstrdup(tok) : NULL;
	if (cd && *cd) {
		free(*cert);
		if (*key) {
			memset(*key, 0, *key_len);
			free(*key);
		}
		*cert = kf_xstrdup(cd);
		*cert_len = strlen(cd);
		*key = kf_xstrdup(kd);
		*key_len = strlen(kd);
		kf_redact_register(*key);
	}
	if (*token)
		kf_redact_register(*token);
out:
	json_decref(j);
	if (out.len)
		memset(out.buf, 0, out.len);
	kf_buf_release(&out);
	env_free(env);
	free(info);
	return rc;
}
