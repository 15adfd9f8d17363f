/*
 * util.h - kfboot's shared utilities: errors with context chains, growable
 * string buffers, allocation that aborts on failure, logging with levels and
 * per-subsystem tracing, secret redaction, files (atomic write), hashing,
 * time and backoff, and small helpers ("did you mean").
 *
 * This module depends on nothing of ours; every other module depends on it.
 *
 * Conventions used across kfboot:
 *  - Functions return 0 on success or a negative KF_E* code, and take
 *    `struct kf_err **err` as their last argument. `err` may be NULL when the
 *    caller does not want the detail. On failure *err is set (or replaced).
 *  - `x_new(&out, ...)` / `x_free(x)` for heap objects, `x_init(&x)` /
 *    `x_release(&x)` for values on the stack. `_detach` hands memory to the
 *    caller. A const pointer returned by a getter is borrowed.
 *  - Allocation failure aborts with a message (kf_xmalloc and friends).
 */
#ifndef KF_UTIL_H
#define KF_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define KF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define KF_UNUSED __attribute__((unused))

/* ---- error codes ------------------------------------------------------ */

enum kf_code {
	KF_OK = 0,
	KF_ERR = -1,      /* generic failure */
	KF_EINVAL = -2,   /* bad input (file, flag, value) */
	KF_ENOENT = -3,   /* something named does not exist */
	KF_EIO = -4,      /* I/O or system call failed */
	KF_ETIMEOUT = -5, /* a deadline passed */
	KF_EAUTH = -6,    /* authentication or host-key verification failed */
	KF_ECONFLICT = -7,/* conflict (apply field manager, stale version) */
	KF_EUSAGE = -8,   /* command-line usage error */
	KF_EAGAIN = -9,   /* transient: worth retrying */
	KF_ETOOBIG = -10, /* a size or count limit was exceeded */
	KF_ECANCEL = -11, /* interrupted by the user */
	KF_EDIFF = -12,   /* differences found (diff, plan --detailed-exitcode) */
};

/* Short name of a code ("invalid input", "timed out", ...). */
const char *kf_code_str(int code);

/* ---- errors with a cause chain --------------------------------------- */

struct kf_err {
	int code;
	char *msg;
	struct kf_err *cause;
};

/*
 * Set *err to a new error (replacing and freeing any previous one) with a
 * printf-style message. Returns `code` so callers can write
 * `return kf_err_set(err, KF_EINVAL, "bad %s", x);`. err may be NULL.
 */
int kf_err_set(struct kf_err **err, int code, const char *fmt, ...) KF_PRINTF(3, 4);
int kf_err_vset(struct kf_err **err, int code, const char *fmt, va_list ap) KF_PRINTF(3, 0);

/*
 * Add context to an existing error: the new message is printed before the
 * old one ("phase 'join' on w2: kubeadm join: exit status 1"). Returns the
 * code of the error. If *err is NULL a generic KF_ERR error is created.
 */
int kf_err_wrap(struct kf_err **err, const char *fmt, ...) KF_PRINTF(2, 3);

/* The whole chain joined with ": ". Caller frees. */
char *kf_err_str(const struct kf_err *err);

/* Code of the error (0 for NULL). */
int kf_err_code(const struct kf_err *err);

/* Free the chain. NULL is fine. */
void kf_err_free(struct kf_err *err);

/* Free *err and set it to NULL. */
void kf_err_clear(struct kf_err **err);

/* Make an error from errno: "<what>: <strerror>". Returns KF_EIO/KF_ENOENT. */
int kf_err_errno(struct kf_err **err, const char *fmt, ...) KF_PRINTF(2, 3);

/* ---- diagnostics: many positioned problems reported at once ---------- */

struct kf_diag {
	char *file;   /* may be NULL */
	int line;     /* 1-based; 0 when unknown */
	int col;      /* 1-based; 0 when unknown */
	char *msg;
};

struct kf_diags {
	struct kf_diag *v;
	size_t n, alloc;
};

#define KF_DIAGS_INIT { NULL, 0, 0 }
void kf_diags_add(struct kf_diags *d, const char *file, int line, int col,
		  const char *fmt, ...) KF_PRINTF(5, 6);
/* "file:line:col: msg" (parts that are unknown are left out). Caller frees. */
char *kf_diag_str(const struct kf_diag *d);
/* Sort by file, line, column (stable). */
void kf_diags_sort(struct kf_diags *d);
void kf_diags_release(struct kf_diags *d);

/* ---- allocation (aborts on failure) ---------------------------------- */

void *kf_xmalloc(size_t n);
void *kf_xcalloc(size_t n, size_t size);
void *kf_xrealloc(void *p, size_t n);
char *kf_xstrdup(const char *s);
char *kf_xstrndup(const char *s, size_t n);
char *kf_xasprintf(const char *fmt, ...) KF_PRINTF(1, 2);
char *kf_xvasprintf(const char *fmt, va_list ap) KF_PRINTF(1, 0);
/* Grow *v (of *alloc elements of size sz) so that it holds at least `need`. */
void kf_xgrow(void **v, size_t *alloc, size_t need, size_t sz);

/* ---- growable string buffer ------------------------------------------ */

/*
 * `buf` is never NULL and always NUL-terminated; `len` excludes the NUL.
 * `cap` (0 = none) limits len: an append that would exceed it fails with
 * KF_ETOOBIG and leaves the buffer unchanged. Use a cap for network input.
 * After kf_buf_detach() the caller owns the bytes and the buffer is empty.
 */
struct kf_buf {
	char *buf;
	size_t len;
	size_t alloc;
	size_t cap;
};

extern char kf_buf_empty[];
#define KF_BUF_INIT { kf_buf_empty, 0, 0, 0 }

void kf_buf_init(struct kf_buf *b, size_t hint);
void kf_buf_release(struct kf_buf *b);
char *kf_buf_detach(struct kf_buf *b, size_t *len);
void kf_buf_reset(struct kf_buf *b);
int kf_buf_grow(struct kf_buf *b, size_t extra);
int kf_buf_add(struct kf_buf *b, const void *data, size_t len);
int kf_buf_adds(struct kf_buf *b, const char *s);
int kf_buf_addch(struct kf_buf *b, int c);
int kf_buf_addf(struct kf_buf *b, const char *fmt, ...) KF_PRINTF(2, 3);
int kf_buf_vaddf(struct kf_buf *b, const char *fmt, va_list ap) KF_PRINTF(2, 0);
void kf_buf_setlen(struct kf_buf *b, size_t len);
/* Append s with JSON/shell-safe quoting helpers. */
int kf_buf_add_shquote(struct kf_buf *b, const char *s);
void kf_buf_rtrim(struct kf_buf *b);

/* ---- logging --------------------------------------------------------- */

enum kf_log_level {
	KF_LOG_ERROR = 0,
	KF_LOG_WARN = 1,
	KF_LOG_INFO = 2,
	KF_LOG_DEBUG = 3,
	KF_LOG_TRACE = 4,
};

extern int kf_log_level_current;

void kf_log_set_level(int level);
/* Also append every log line (all levels up to DEBUG, redacted, with a
 * timestamp) to this file. NULL turns it off. The caller keeps ownership. */
void kf_log_set_file(FILE *f);
/* Where console log lines go (default stderr). */
void kf_log_set_stream(FILE *f);

/* Format and write one line; prefer the macros below, which check the
 * level before formatting anything. The line is redacted (kf_redact). */
void kf_log_write(int level, const char *subsys, const char *fmt, ...) KF_PRINTF(3, 4);

#define kf_log(level, ...)                                                     \
	do {                                                                   \
		if ((level) <= kf_log_level_current)                           \
			kf_log_write((level), NULL, __VA_ARGS__);              \
	} while (0)
#define kf_error(...) kf_log(KF_LOG_ERROR, __VA_ARGS__)
#define kf_warn(...) kf_log(KF_LOG_WARN, __VA_ARGS__)
#define kf_info(...) kf_log(KF_LOG_INFO, __VA_ARGS__)
#define kf_debug(...) kf_log(KF_LOG_DEBUG, __VA_ARGS__)

/* Tracing per subsystem: KFBOOT_TRACE=kube,ssh,git (or "all"). */
bool kf_trace_enabled(const char *subsys);
#define kf_trace(subsys, ...)                                                  \
	do {                                                                   \
		if (kf_trace_enabled(subsys))                                  \
			kf_log_write(KF_LOG_TRACE, (subsys), __VA_ARGS__);     \
	} while (0)

/* ---- secret redaction ------------------------------------------------ */

/* Remember a secret value (token, password, key) so that it is replaced by
 * "[REDACTED]" wherever kf_redact() or the logger sees it. Values shorter
 * than 4 bytes are ignored. Thread-safe. */
void kf_redact_register(const char *secret);
void kf_redact_clear(void);
/*
 * Return a copy of s with registered secrets and well-known secret shapes
 * replaced by "[REDACTED]": kubeadm bootstrap tokens (abcdef.0123456789abcdef),
 * "Authorization: Bearer ...", values of keys named token, password, secret,
 * client-key-data, (and --token/--password flags), and PEM private key blocks.
 * Caller frees.
 */
char *kf_redact(const char *s);

/* ---- files ----------------------------------------------------------- */

/* Read a whole file (NUL-terminated; len excludes the NUL). Refuses
 * devices, sockets and directories, and files past kf_file_max() bytes. */
int kf_file_read(const char *path, char **out, size_t *len, struct kf_err **err);
/* The cap on input files: kf_file_set_max() if set, else
 * $KFBOOT_MAX_FILE_SIZE, else 64 MiB. */
size_t kf_file_max(void);
void kf_file_set_max(size_t max); /* 0 = back to the default */
/* Write to a temporary file in the same directory, fsync, chmod `mode`,
 * rename over `path`, fsync the directory. Readers never see a partial file. */
int kf_file_write_atomic(const char *path, const void *data, size_t len,
			 mode_t mode, struct kf_err **err);
/* mkdir -p. */
int kf_mkdir_p(const char *path, mode_t mode, struct kf_err **err);
/* Expand a leading "~/" with $HOME. Caller frees. */
char *kf_path_expand(const char *path);
/* Join two path parts with one '/'. Caller frees. */
char *kf_path_join(const char *a, const char *b);

/* ---- hashing and encoding (OpenSSL) ---------------------------------- */

/* out must hold 65 bytes: lowercase hex SHA-256 and a NUL. */
void kf_sha256_hex(const void *data, size_t len, char out[65]);

/* ---- time and backoff ------------------------------------------------ */

/* Monotonic seconds. */
double kf_now(void);
/* Sleep for seconds (fractions allowed); returns early on EINTR only when
 * kf_interrupted() is set. */
void kf_sleep(double seconds);

/* Exponential backoff with full jitter: next delay in [0, min(max, base*factor^n)]. */
struct kf_backoff {
	double base;   /* first delay, seconds */
	double max;    /* cap, seconds */
	double factor; /* growth, e.g. 2 */
	unsigned attempt;
};
#define KF_BACKOFF_INIT(base, max) { (base), (max), 2.0, 0 }
double kf_backoff_next(struct kf_backoff *b);

/*
 * Parse a Go-style duration ("90s", "1m", "1h30m", "250ms", "2") into
 * seconds. A bare number means seconds. Returns 0 or KF_EINVAL.
 */
int kf_duration_parse(const char *s, double *out);
/* Format seconds for humans: "850ms", "12.3s", "4m05s". buf of 32 bytes. */
const char *kf_duration_fmt(double seconds, char buf[32]);

/* Set by the SIGINT/SIGTERM handler the CLI installs. */
extern volatile int kf_interrupt_flag;
static inline bool kf_interrupted(void) { return kf_interrupt_flag != 0; }

/* ---- small helpers --------------------------------------------------- */

/* Levenshtein distance (bytes). */
size_t kf_edit_distance(const char *a, const char *b);
/* The candidate closest to word, if close enough to be a likely typo
 * (distance <= max(1, len/3)); NULL otherwise. */
const char *kf_closest(const char *word, const char *const *cands, size_t n);
/* kf_closest, plus the typos edit distance rates too far: a different
 * case ("identityfile") and two neighbours swapped ("prot"). For "did you
 * mean" on field names. */
const char *kf_suggest(const char *word, const char *const *cands, size_t n);

/* A URL for messages and logs: any userinfo ("user:password@") in its
 * authority is replaced by "***@" so that no credential embedded in a URL
 * is ever shown. Caller frees. */
char *kf_url_redact(const char *url);
/* True when url's authority carries userinfo. */
bool kf_url_has_userinfo(const char *url);

bool kf_str_startswith(const char *s, const char *prefix);
bool kf_str_endswith(const char *s, const char *suffix);

#endif
