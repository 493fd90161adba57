/* Small shared helpers: allocation that never returns NULL, atomic file
 * writes, reading whole files, the sysroot path prefix, and logging. */
#ifndef KF_UTIL_H
#define KF_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define KF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

_Noreturn void kf_die_oom(void);
void *kf_xmalloc(size_t n);
void *kf_xcalloc(size_t n, size_t size);
void *kf_xrealloc(void *p, size_t n);
char *kf_xstrdup(const char *s);
char *kf_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable string. */
struct kf_buf {
	char *s;
	size_t len, cap;
};
#define KF_BUF_INIT {0}
void kf_buf_add(struct kf_buf *b, const char *s, size_t n);
void kf_buf_puts(struct kf_buf *b, const char *s);
void kf_buf_printf(struct kf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the string (never NULL) and leaves b empty; the caller frees it. */
char *kf_buf_detach(struct kf_buf *b);
void kf_buf_release(struct kf_buf *b);

/* Reads a whole file (at most max bytes; -EFBIG beyond) into a NUL
 * terminated malloc'd buffer.  Returns 0 or a negative errno. */
int kf_read_file(const char *path, size_t max, char **out, size_t *len);

/* Writes data to path atomically: a temp file in the same directory,
 * fsync, rename, fsync of the directory.  mode applies to the new file.
 * Returns 0 or a negative errno; on failure path is untouched. */
int kf_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* The same without the fsync of the directory: the data is on disk before
 * the rename, so after a crash path holds the old or the new content,
 * whole, on any filesystem; only the rename itself may be lost (the
 * filesystem's next journal commit, or any later fsync, makes it
 * durable).  For files a later run brings up to date anyway: the agent's
 * configuration of the next boot and its records (agent/hostio.h). */
int kf_write_ordered(const char *path, const void *data, size_t len, mode_t mode);
/* The same without the fsyncs: readers see the old or the new file, but
 * after a crash the new one may be lost or torn (for caches that check
 * what they read). */
int kf_write_replace(const char *path, const void *data, size_t len, mode_t mode);

/* mkdir -p; returns 0 or a negative errno. */
int kf_mkdir_p(const char *path, mode_t mode);

/* Sysroot: every host path the agent touches goes through kf_path(), so
 * tests can run the real code against a fake tree.  The root defaults to
 * "/"; kf_path returns a malloc'd root-prefixed path. */
void kf_sysroot_set(const char *root);
const char *kf_sysroot(void);
bool kf_sysroot_is_host(void);
char *kf_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The directory of the running program (malloc'd: build/ for a tree
 * build), NULL when /proc/self/exe cannot be read. */
char *kf_self_dir(void);

/* Trims trailing whitespace in place and returns s. */
char *kf_rstrip(char *s);

/* FNV-1a of a string, for the small hash tables of loaders and checks. */
size_t kf_str_hash(const char *s);

/* Edit distance, capped: used for "did you mean" suggestions. */
int kf_levenshtein(const char *a, const char *b);

/* Logging to stderr with the program's name; KF_LOG_DEBUG only when
 * kf_log_level is raised (-v). */
enum kf_log_level { KF_LOG_ERR, KF_LOG_WARN, KF_LOG_INFO, KF_LOG_DEBUG };
extern int kf_log_level;
extern const char *kf_progname;
void kf_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
