/* A kickstart syntax checker: every command line names a known kickstart
 * command, every section (%pre, %post, %packages, ...) is closed by %end,
 * sections do not nest, no option of a command or section line has an
 * empty value (--opt=, --opt="": Anaconda refuses them).  Used on rendered kickstarts by `kickfleet check`
 * and render, and by the tests on good and broken files. */
#ifndef KF_KICKSTART_KSCHECK_H
#define KF_KICKSTART_KSCHECK_H

#include <stddef.h>

#include "err.h"

/* Checks text (len bytes) named name in messages (NAME:LINE:COL: ...).
 * Returns 0 when clean, else -EINVAL with every problem in e. */
int kf_kscheck(const char *name, const char *text, size_t len, struct kf_err *e);

#endif
