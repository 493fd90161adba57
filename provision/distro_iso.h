/* Files inside an ISO 9660 image, read in place: no mount, no extraction.
 *
 * kf_iso_open() reads the image's directory tree once (Rock Ridge names
 * first, then Joliet, then plain ISO 9660 names) and indexes every file by
 * its path ("images/pxeboot/vmlinuz", no leading slash).  The handle is
 * read-only afterwards, so threads may share it (lookups and preads only).
 * `kickfleet serve` uses it to serve an imported distro's install tree
 * straight from the staged ISO: a file that is contiguous in the image (the
 * usual case) can be sent with sendfile from kf_iso_fd() at
 * offset + range start; kf_iso_pread() reads any byte range of any file. */
#ifndef KF_DISTRO_ISO_H
#define KF_DISTRO_ISO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct kf_iso;

struct kf_iso_file {
	uint64_t size;   /* bytes */
	uint64_t offset; /* where the data starts in the image */
	bool contiguous; /* the data is [offset, offset + size) of the image */
	bool dir;
	size_t idx;      /* for kf_iso_pread */
};

/* Opens path and indexes it.  Fails with every problem in e: not an ISO
 * 9660 image, a truncated image (the volume is larger than the file, or a
 * file's data lies past its end), a corrupt directory.  Pairs with
 * kf_iso_free(). */
int kf_iso_open(struct kf_iso **out, const char *path, struct kf_err *e);
void kf_iso_free(struct kf_iso *iso);

/* The image's file descriptor (owned by the handle; do not close). */
int kf_iso_fd(const struct kf_iso *iso);
/* Image size in bytes, as stat() saw it at open. */
uint64_t kf_iso_size(const struct kf_iso *iso);

/* Looks up a path ("a/b", a leading "/" and "//" are tolerated; "." and
 * ".." components are refused).  Returns 0, or -ENOENT. */
int kf_iso_lookup(const struct kf_iso *iso, const char *path, struct kf_iso_file *out);

/* Reads up to len bytes of file f from byte off; returns the count (0 at
 * the end of the file) or a negative errno. */
ssize_t kf_iso_pread(const struct kf_iso *iso, const struct kf_iso_file *f, void *buf, size_t len,
		     uint64_t off);

/* Every indexed path, sorted: i < kf_iso_count(). */
size_t kf_iso_count(const struct kf_iso *iso);
const char *kf_iso_path(const struct kf_iso *iso, size_t i, struct kf_iso_file *out);

#endif
