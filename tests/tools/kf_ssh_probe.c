/*
 * kf_ssh_probe.c - a small driver for the SSH layer, used by
 * tests/integration/test_ssh.sh: connect to a host (optionally through a
 * bastion), then run a command, upload a file, or check that the session
 * is alive. Remote stdout/stderr are copied to ours as they arrive; the
 * probe exits with the remote exit status, or 255 with the error message
 * ("kf_ssh_probe: ...") on stderr when the SSH layer failed.
 *
 *   kf_ssh_probe -H ADDR [-p PORT] [-u USER] [-i KEY] [-k KNOWN_HOSTS]
 *       [-g GLOBAL_KNOWN_HOSTS] [-n NAME] [-a] [-t CONNECT_TIMEOUT]
 *       [-T CMD_TIMEOUT] [-B BASTION_ADDR -U BASTION_USER [-P PORT]]
 *       [-s] [-S] [-m MAX_OUTPUT] [-r] [-c COUNT]
 *       exec CMD | upload LOCAL REMOTE MODE | alive | info
 *
 *   -a accept-new, -s sudo, -S stamp each output chunk ("+MS fd=N: data")
 *   on stdout, -r send our stdin to the command, -c run CMD COUNT times on
 *   one session (prints per-command timings on stderr).
 *
 *   With -H ADDR1,ADDR2,... (exec only) every host gets its own session in
 *   its own thread, all at once; the probe prints "ADDR STATUS STDOUT" per
 *   host in the order given and exits 0 only if every command exited 0.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssh/ssh.h"

static double t0;
static bool stamp;

static void on_output(void *ctx, int fd, const char *data, size_t len)
{
	(void)ctx;
	if (stamp) {
		printf("+%.0f fd=%d: %.*s\n", (kf_now() - t0) * 1000, fd, (int)len, data);
		fflush(stdout);
		return;
	}
	fwrite(data, 1, len, fd == 2 ? stderr : stdout);
	fflush(fd == 2 ? stderr : stdout);
}

struct job {
	struct kf_ssh_target t;
	const char *cmd;
	const struct kf_ssh_exec_opts *o;
	int count;
	int status;
	char *result; /* stdout, or the error */
};

static void *job_main(void *arg)
{
	struct job *j = arg;
	struct kf_ssh *s = NULL;
	struct kf_err *err = NULL;
	struct kf_buf out = KF_BUF_INIT;
	int i;

	j->status = 255;
	if (kf_ssh_connect(&s, &j->t, &err) == 0) {
		for (i = 0; i < j->count; i++) {
			kf_buf_reset(&out);
			if (kf_ssh_exec(s, j->cmd, j->o, &j->status, &out, NULL, &err)) {
				j->status = 255;
				break;
			}
		}
	}
	if (err) {
		j->result = kf_err_str(err);
		kf_err_free(err);
	} else {
		kf_buf_rtrim(&out);
		j->result = kf_buf_detach(&out, NULL);
	}
	kf_buf_release(&out);
	kf_ssh_close(s);
	return NULL;
}

/* -H a,b,c: one thread and one session per host. */
static int run_parallel(const struct kf_ssh_target *proto, const char *cmd,
			const struct kf_ssh_exec_opts *o, int count)
{
	char *list = kf_xstrdup(proto->address), *save = NULL, *a;
	struct job *jobs = NULL;
	pthread_t *th = NULL;
	size_t n = 0, alloc = 0, tha = 0, i;
	int rc = 0;
	double start = kf_now();

	for (a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		kf_xgrow((void **)&jobs, &alloc, n + 1, sizeof(*jobs));
		kf_xgrow((void **)&th, &tha, n + 1, sizeof(*th));
		memset(&jobs[n], 0, sizeof(jobs[n]));
		jobs[n].t = *proto;
		jobs[n].t.address = a;
		jobs[n].t.name = a;
		jobs[n].cmd = cmd;
		jobs[n].o = o;
		jobs[n].count = count;
		n++;
	}
	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, job_main, &jobs[i]);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < n; i++) {
		printf("%s %d %s\n", jobs[i].t.address, jobs[i].status, jobs[i].result);
		if (jobs[i].status)
			rc = 1;
		free(jobs[i].result);
	}
	if (getenv("KF_PROBE_TIMING"))
		fprintf(stderr, "kf_ssh_probe: %zu hosts in parallel: %.1f ms\n", n,
			(kf_now() - start) * 1000);
	free(jobs);
	free(th);
	free(list);
	return rc;
}

static int fail(struct kf_err *err)
{
	char *m = kf_err_str(err);

	fprintf(stderr, "kf_ssh_probe: %s\n", m);
	free(m);
	kf_err_free(err);
	return 255;
}

int main(int argc, char **argv)
{
	struct kf_ssh_target t = { 0 }, b = { 0 };
	struct kf_ssh_exec_opts o = { 0 };
	struct kf_ssh_exec_info info;
	struct kf_ssh *s = NULL;
	struct kf_err *err = NULL;
	struct kf_buf in = KF_BUF_INIT, out = KF_BUF_INIT, errout = KF_BUF_INIT;
	const char *verb;
	int c, status = 0, count = 1, i, rc;
	double tc;

	while ((c = getopt(argc, argv, "H:p:u:i:k:g:n:at:T:B:U:P:sSm:rc:")) != -1) {
		switch (c) {
		case 'H': t.address = optarg; break;
		case 'p': t.port = atoi(optarg); break;
		case 'u': t.user = optarg; break;
		case 'i': t.identity_file = optarg; b.identity_file = optarg; break;
		case 'k': t.known_hosts_file = optarg; b.known_hosts_file = optarg; break;
		case 'g': t.global_known_hosts_file = optarg; b.global_known_hosts_file = optarg; break;
		case 'n': t.name = optarg; break;
		case 'a': t.accept_new = true; break;
		case 't': t.connect_timeout = atof(optarg); b.connect_timeout = t.connect_timeout; break;
		case 'T': o.timeout = atof(optarg); break;
		case 'B': b.address = optarg; b.name = "bastion"; t.bastion = &b; break;
		case 'U': b.user = optarg; break;
		case 'P': b.port = atoi(optarg); break;
		case 's': o.sudo = true; break;
		case 'S': stamp = true; break;
		case 'm': o.max_output = (size_t)atol(optarg); break;
		case 'r': {
			char tmp[4096];
			size_t n;
			while ((n = fread(tmp, 1, sizeof(tmp), stdin)) > 0)
				kf_buf_add(&in, tmp, n);
			o.stdin_data = in.buf;
			o.stdin_len = in.len;
			break;
		}
		case 'c': count = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: see the comment at the top of kf_ssh_probe.c\n");
			return 2;
		}
	}
	if (optind >= argc || !t.address) {
		fprintf(stderr, "kf_ssh_probe: need -H ADDR and a verb\n");
		return 2;
	}
	verb = argv[optind];
	if (strchr(t.address, ',')) {
		if (strcmp(verb, "exec") != 0 || optind + 1 >= argc) {
			fprintf(stderr, "kf_ssh_probe: several hosts only with exec CMD\n");
			return 2;
		}
		rc = run_parallel(&t, argv[optind + 1], &o, count);
		kf_buf_release(&in);
		return rc;
	}
	t0 = kf_now();
	rc = kf_ssh_connect(&s, &t, &err);
	tc = kf_now() - t0;
	if (rc)
		return fail(err);
	if (getenv("KF_PROBE_TIMING"))
		fprintf(stderr, "kf_ssh_probe: connect %.1f ms\n", tc * 1000);
	if (strcmp(verb, "exec") == 0 && optind + 1 < argc) {
		o.on_output = on_output;
		o.info = &info;
		for (i = 0; i < count; i++) {
			double ts = kf_now();
			t0 = ts;
			kf_buf_reset(&out);
			kf_buf_reset(&errout);
			rc = kf_ssh_exec(s, argv[optind + 1], &o, &status, &out, &errout, &err);
			if (rc)
				break;
			if (getenv("KF_PROBE_TIMING"))
				fprintf(stderr, "kf_ssh_probe: exec %.1f ms\n", (kf_now() - ts) * 1000);
		}
		if (!rc && info.exit_signal[0])
			fprintf(stderr, "kf_ssh_probe: killed by signal %s\n", info.exit_signal);
		if (!rc && info.truncated)
			fprintf(stderr, "kf_ssh_probe: output truncated\n");
	} else if (strcmp(verb, "upload") == 0 && optind + 3 < argc) {
		rc = kf_ssh_upload_file(s, argv[optind + 1], argv[optind + 2],
					(int)strtol(argv[optind + 3], NULL, 8), &err);
	} else if (strcmp(verb, "alive") == 0) {
		status = kf_ssh_alive(s) ? 0 : 1;
		printf("%s\n", status ? "dead" : "alive");
	} else if (strcmp(verb, "info") == 0) {
		printf("%s %s %s\n", kf_ssh_label(s), kf_ssh_hostkey_type(s),
		       kf_ssh_hostkey_fingerprint(s));
	} else {
		fprintf(stderr, "kf_ssh_probe: unknown verb or missing arguments\n");
		rc = 0;
		status = 2;
	}
	kf_ssh_close(s);
	kf_buf_release(&in);
	kf_buf_release(&out);
	kf_buf_release(&errout);
	if (rc)
		return fail(err);
	return status;
}
