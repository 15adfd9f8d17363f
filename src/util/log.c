/*
 * log.c - diagnostics with levels, per-subsystem tracing and a log file.
 *
 * Console lines go to stderr (results go to stdout, and only cli/ writes
 * those). The level is checked by the kf_log() macro before anything is
 * formatted. KFBOOT_TRACE=kube,ssh (or "all") turns on tracing for named
 * subsystems. Every line is passed through kf_redact() first, so a token
 * that reaches a log message by accident is still not shown. Writes are
 * serialised with a mutex: hosts are provisioned in parallel threads.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

int kf_log_level_current = KF_LOG_INFO;
volatile int kf_interrupt_flag;

static FILE *log_file;
static FILE *log_stream;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void kf_log_set_level(int level)
{
	kf_log_level_current = level;
}

void kf_log_set_file(FILE *f)
{
	pthread_mutex_lock(&log_lock);
	log_file = f;
	pthread_mutex_unlock(&log_lock);
}

void kf_log_set_stream(FILE *f)
{
	pthread_mutex_lock(&log_lock);
	log_stream = f;
	pthread_mutex_unlock(&log_lock);
}

bool kf_trace_enabled(const char *subsys)
{
	const char *env = getenv("KFBOOT_TRACE");
	size_t n = strlen(subsys);
	const char *p;

	if (!env || !*env)
		return false;
	for (p = env; *p;) {
		size_t len = strcspn(p, ", ");

		if ((len == 3 && !strncmp(p, "all", 3)) ||
		    (len == n && !strncmp(p, subsys, n)))
			return true;
		p += len;
		p += strspn(p, ", ");
	}
	return false;
}

static const char *level_name(int level)
{
	static const char *const names[] = { "error", "warning", "info", "debug", "trace" };

	return level >= 0 && level <= KF_LOG_TRACE ? names[level] : "log";
}

void kf_log_write(int level, const char *subsys, const char *fmt, ...)
{
	char *raw, *line;
	FILE *out;
	va_list ap;

	va_start(ap, fmt);
	raw = kf_xvasprintf(fmt, ap);
	va_end(ap);
	line = kf_redact(raw);
	free(raw);

	pthread_mutex_lock(&log_lock);
	out = log_stream ? log_stream : stderr;
	if (level <= kf_log_level_current || subsys) {
		if (subsys)
			fprintf(out, "trace: %s: %s\n", subsys, line);
		else if (level <= KF_LOG_WARN)
			fprintf(out, "kfboot: %s: %s\n", level_name(level), line);
		else
			fprintf(out, "%s\n", line);
		fflush(out);
	}
	if (log_file) {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(log_file, "%s.%03ldZ %-7s %s%s%s\n", stamp,
			ts.tv_nsec / 1000000, level_name(level),
			subsys ? subsys : "", subsys ? ": " : "", line);
		fflush(log_file);
	}
	pthread_mutex_unlock(&log_lock);
	free(line);
}
