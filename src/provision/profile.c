/*
 * profile.c - loading a Cluster profile for the provisioning commands: one
 * error that lists every problem the validator found, each with its
 * file:line:col, so the user fixes them all in one go; where a cluster's
 * files live (its state directory); and the log file of one run
 * (<state>/logs/<command>-<time>-<pid>.log, mode 0600).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "provision/internal.h"

char *kf_prov_state_dir(const struct kf_cluster *c, const struct kf_prov_opts *o)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	char *base, *dir;

	if (o && o->state_dir && *o->state_dir)
		base = kf_path_expand(o->state_dir);
	else if (xdg && *xdg)
		base = kf_path_join(xdg, "kfboot");
	else
		base = kf_path_expand("~/.local/state/kfboot");
	dir = kf_path_join(base, c->name);
	free(base);
	return dir;
}

int kf_prov_load_profile(struct kf_cluster **out, const char *path,
			 struct kf_err **err)
{
	struct kf_diags diags = KF_DIAGS_INIT;
	struct kf_buf b = KF_BUF_INIT;
	int rc;

	*out = NULL;
	rc = kf_cluster_load(out, path, &diags, err);
	if (rc && diags.n) {
		kf_diags_sort(&diags);
		for (size_t i = 0; i < diags.n; i++) {
			char *s = kf_diag_str(&diags.v[i]);

			kf_buf_addf(&b, "\n  %s", s);
			free(s);
		}
		rc = kf_err_set(err, KF_EINVAL, "profile %s has %zu problem%s:%s", path, diags.n,
				diags.n == 1 ? "" : "s", b.buf);
	} else if (rc) {
		kf_err_wrap(err, "profile %s", path);
	}
	kf_buf_release(&b);
	kf_diags_release(&diags);
	return rc;
}

FILE *kf_prov_open_log(const struct kf_cluster *c, const struct kf_prov_opts *o,
		       const char *what, char **path, struct kf_err **err)
{
	char *state = kf_prov_state_dir(c, o);
	char *dir = kf_path_join(state, "logs");
	char stamp[32];
	time_t t = time(NULL);
	struct tm tm;
	FILE *f = NULL;
	int fd;

	*path = NULL;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (kf_mkdir_p(dir, 0700, err))
		goto out;
	*path = kf_xasprintf("%s/%s-%s-%d.log", dir, what, stamp, (int)getpid());
	fd = open(*path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "a"))) {
		kf_err_errno(err, "log file %s", *path);
		if (fd >= 0)
			close(fd);
		free(*path);
		*path = NULL;
	}
out:
	free(dir);
	free(state);
	return f;
}
