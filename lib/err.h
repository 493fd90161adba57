/* Error reporting: every failure carries its context in a struct kf_err.
 *
 * Functions return 0 or a negative errno and add a message to the kf_err
 * the caller passed.  Messages that come from input carry a mark
 * (file:line:col) and read "FILE:LINE:COL: message"; all of them are kept,
 * so one run reports every error of a file.  Messages are lowercase, with
 * no full stop, and name the thing they are about. */
#ifndef KF_ERR_H
#define KF_ERR_H

#include <stddef.h>
#include <stdio.h>

/* A position in an input file; line and col are 1-based, 0 when unknown.
 * file is borrowed (usually owned by the loaded document). */
struct kf_mark {
	const char *file;
	int line;
	int col;
};

struct kf_errmsg {
	char *file; /* owned copy, may be NULL */
	int line, col;
	char *text; /* the message alone, without the position */
};

struct kf_err {
	struct kf_errmsg *v;
	size_t n, cap;
	size_t dropped; /* messages beyond KF_ERR_MAX */
};

#define KF_ERR_MAX 200
#define KF_ERR_INIT {0}

void kf_err_init(struct kf_err *e);
/* Frees the messages; e itself stays usable (empty). */
void kf_err_release(struct kf_err *e);

/* Adds a message at mark m (NULL: no position).  Returns -EINVAL, so that
 * callers can write `return kf_errf(e, m, "...")`. */
int kf_errf(struct kf_err *e, const struct kf_mark *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, with an explicit return code (a negative errno). */
int kf_errc(struct kf_err *e, int code, const struct kf_mark *m, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Moves all of src's messages to the end of dst. */
void kf_err_move(struct kf_err *dst, struct kf_err *src);

/* Prints every message, one a line, prefixed with "FILE:LINE:COL: " where
 * known, in order of file, then position, then insertion. */
void kf_err_print(const struct kf_err *e, FILE *f);

/* The i-th message formatted as it would print, into buf. */
const char *kf_err_format(const struct kf_err *e, size_t i, char *buf, size_t len);

#endif
