/*
 * file.c - reading files, writing them atomically, and paths.
 *
 * kf_file_write_atomic() is how kfboot writes anything a later run depends
 * on (journals, kubeconfigs, known_hosts): write to a temporary file in the
 * same directory, fsync it, set its mode, rename it over the target and fsync
 * the directory, so a crash leaves either the old file or the new one.
 *
 * kf_file_read() is how kfboot reads every input (profiles, manifests,
 * kubeconfigs, keys): it refuses what is not a regular file or a pipe
 * (devices such as /dev/zero, sockets, directories) before reading a byte,
 * and anything larger than the input cap (64 MiB by default,
 * KFBOOT_MAX_FILE_SIZE to change it), by its size when the file has one
 * and as soon as the cap is passed when it is a pipe or still growing.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define DEFAULT_MAX_FILE ((size_t)64 * 1024 * 1024)

static size_t max_override;

void kf_file_set_max(size_t max)
{
	max_override = max;
}

size_t kf_file_max(void)
{
	const char *env = getenv("KFBOOT_MAX_FILE_SIZE");
	char *end = NULL;
	unsigned long long v;

	if (max_override)
		return max_override;
	if (env && *env) {
		errno = 0;
		v = strtoull(env, &end, 10);
		if (!errno && end && !*end && v > 0)
			return (size_t)v;
	}
	return DEFAULT_MAX_FILE;
}

static const char *file_type(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

int kf_file_read(const char *path, char **out, size_t *len, struct kf_err **err)
{
	struct kf_buf b = KF_BUF_INIT;
	size_t max = kf_file_max();
	struct stat st;
	int fd, result = 0, fl;

	*out = NULL;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return kf_err_errno(err, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		result = kf_err_errno(err, "cannot read '%s'", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		result = kf_err_set(err, KF_EINVAL, "'%s' is %s; kfboot reads only regular files (and pipes)",
				    path, file_type(st.st_mode));
		goto out;
	}
	if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max) {
		result = kf_err_set(err, KF_ETOOBIG, "'%s' is %lld bytes, more than the %zu-byte limit on input files (set KFBOOT_MAX_FILE_SIZE to change it)",
				    path, (long long)st.st_size, max);
		goto out;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	for (;;) {
		ssize_t n;

		if (b.len > max) {
			result = kf_err_set(err, KF_ETOOBIG, "'%s' is more than the %zu-byte limit on input files (set KFBOOT_MAX_FILE_SIZE to change it)",
					    path, max);
			goto out;
		}
		kf_buf_grow(&b, 65536);
		n = read(fd, b.buf + b.len, b.alloc - b.len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			result = kf_err_errno(err, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		kf_buf_setlen(&b, b.len + (size_t)n);
	}
	if (len)
		*len = b.len;
	*out = kf_buf_detach(&b, NULL);
out:
	close(fd);
	kf_buf_release(&b);
	return result;
}

int kf_file_write_atomic(const char *path, const void *data, size_t len,
			 mode_t mode, struct kf_err **err)
{
	char *tmp = kf_xasprintf("%s.tmp.XXXXXX", path);
	char *dircopy = kf_xstrdup(path);
	const char *p = data;
	int fd, dfd, result = 0;

	fd = mkstemp(tmp);
	if (fd < 0) {
		result = kf_err_errno(err, "cannot create a temporary file next to '%s'", path);
		goto out;
	}
	if (fchmod(fd, mode) < 0) {
		result = kf_err_errno(err, "cannot set the mode of '%s'", tmp);
		goto fail;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			result = kf_err_errno(err, "cannot write '%s'", tmp);
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		result = kf_err_errno(err, "cannot sync '%s'", tmp);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		result = kf_err_errno(err, "cannot close '%s'", tmp);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		result = kf_err_errno(err, "cannot rename '%s' to '%s'", tmp, path);
		goto fail;
	}
	dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	free(dircopy);
	return result;
}

int kf_mkdir_p(const char *path, mode_t mode, struct kf_err **err)
{
	char *copy = kf_xstrdup(path);
	int result = 0;

	for (char *p = copy + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(copy, mode) < 0 && errno != EEXIST) {
				result = kf_err_errno(err, "cannot create directory '%s'", copy);
				goto out;
			}
			*p = c;
			if (!c)
				break;
		}
	}
out:
	free(copy);
	return result;
}

char *kf_path_expand(const char *path)
{
	const char *home;

	if (!path)
		return NULL;
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
		home = getenv("HOME");
		if (!home || !*home)
			home = "/";
		return kf_xasprintf("%s%s", home, path + 1);
	}
	return kf_xstrdup(path);
}

char *kf_path_join(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (b[0] == '/')
		return kf_xstrdup(b);
	if (n && a[n - 1] == '/')
		return kf_xasprintf("%s%s", a, b);
	return kf_xasprintf("%s/%s", a, b);
}
