/* `kickfleet distro import`: install media in, a bootable and servable
 * distro out.
 *
 *   media (ISO image, disc tree, netboot tree)
 *     -> recognised (.treeinfo, .discinfo, debian-installer/ARCH layout)
 *     -> kernel and initrd staged with their SHA-256 under
 *        HTTP_ROOT/distros/NAME/{vmlinuz,initrd.img}
 *     -> the install tree made servable: the ISO linked or copied to
 *        HTTP_ROOT/distros/NAME/media.iso (served in place, see
 *        distro_iso.h), or a disc tree linked or copied to .../tree/
 *     -> DISTROS_DIR/NAME.yaml written (lib/inventory.c reads it)
 *
 * The staging directory is built beside the old one and swapped in with one
 * rename, so a reader sees the old distro or the new one, never a mix; the
 * entry is written last.  Files are hard-linked when source and staging
 * area share a filesystem, else copied (copy_file_range) with their
 * modification time kept, so a re-import recognises unchanged files by
 * size and mtime (the rsync quick check) and unchanged kernels by SHA-256. */
#ifndef KF_PROVISION_DISTRO_H
#define KF_PROVISION_DISTRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sha256.h" /* the staged files' digests (kernel_sha256, ...) */

/* ---- what the media is (distro_media.c) ---- */

struct kf_media_info {
	const char *family;  /* "kickstart" | "preseed" */
	char *label;         /* "Rocky Linux 9.3", "Debian 12 (bookworm)" */
	char *version;       /* "9.3", "12" */
	char *arch;          /* "x86_64", "amd64" */
	char *kernel;        /* paths inside the media */
	char *initrd;
	char *kernel_sha256; /* from .treeinfo [checksums], to verify; may be NULL */
	char *initrd_sha256;
	bool tree;           /* the media is an install repository worth serving */
	const char *how;     /* ".treeinfo", ".discinfo", "netboot layout" */
};
void kf_media_info_release(struct kf_media_info *m);

/* Parses a .treeinfo (INI).  name is used in messages. */
int kf_treeinfo_parse(const char *name, const char *text, struct kf_media_info *out, struct kf_err *e);
/* Parses a .discinfo (timestamp, release, arch, discs, one a line). */
int kf_discinfo_parse(const char *name, const char *text, struct kf_media_info *out, struct kf_err *e);

/* A source of media: a directory or an ISO image (read with libarchive). */
struct kf_media_file {
	char *path; /* relative, no leading slash */
	uint64_t size;
};
struct kf_media {
	char *path;    /* the SOURCE given */
	bool iso;
	struct kf_media_file *files; /* regular files, sorted by path */
	size_t n;
	char *treeinfo, *discinfo, *versioninfo; /* small files read while listing, or NULL */
	char *versioninfo_path;
	uint64_t total; /* bytes in all files */
};
/* Lists the media (for an ISO, one pass over its headers with libarchive)
 * and keeps the small files detection needs. */
int kf_media_open(struct kf_media *m, const char *path, struct kf_err *e);
void kf_media_release(struct kf_media *m);
const struct kf_media_file *kf_media_find(const struct kf_media *m, const char *path);
/* Recognises the media; the error says what was looked for. */
int kf_media_detect(const struct kf_media *m, struct kf_media_info *out, struct kf_err *e);

/* Progress of long copies: bytes done of total so far. */
typedef void (*kf_progress_fn)(void *ctx, const char *what, uint64_t done, uint64_t total);

/* Writes the media's files `want[i]` to the paths `dest[i]` (mode 0644),
 * hashing each into hex[i] (65 bytes each).  For a directory a file may be
 * hard-linked instead when link is true. */
int kf_media_extract(const struct kf_media *m, const char *const *want, const char *const *dest,
		     size_t n, bool link, char (*hex)[65], struct kf_err *e);

/* ---- staging (distro_stage.c) ---- */

struct kf_stage_stats {
	uint64_t linked, copied, kept; /* bytes */
	size_t files;
};
/* Makes dst a copy of src (regular file): kept as a hard link of old when
 * old has src's size and mtime, else a hard link of src when link is true
 * and that works, else copied with copy_file_range and src's mtime. */
int kf_stage_file(const char *src, const char *old, const char *dst, bool link,
		  kf_progress_fn progress, void *pctx, uint64_t *done, uint64_t total,
		  struct kf_stage_stats *st, struct kf_err *e);
/* True when dst exists with src's size and mtime (or is the same inode). */
bool kf_stage_same(const char *src, const char *dst);
/* rm -rf; 0 or a negative errno. */
int kf_rm_rf(const char *path);

/* ---- the import (distro.c) ---- */

struct kf_distro_opts {
	const char *fleet;
	const char *name;
	const char *source;
	bool copy;  /* never hard-link */
	bool force; /* restage even when nothing changed */
	kf_progress_fn progress;
	void *pctx;
};

struct kf_distro_result {
	bool changed;        /* false: the same media was imported already */
	bool created;        /* the entry is new */
	struct kf_media_info info;
	char *entry_path;    /* DISTROS_DIR/NAME.yaml */
	char *stage_dir;     /* HTTP_ROOT/distros/NAME */
	char *kernel, *initrd, *tree_url, *media; /* media: staged ISO or tree dir, or NULL */
	char kernel_sha256[65], initrd_sha256[65];
	uint64_t kernel_size, initrd_size;
	struct kf_stage_stats stats;
	double seconds;
};
void kf_distro_result_release(struct kf_distro_result *r);

/* Imports opts->source as distro opts->name of the fleet.  Every error is
 * in e; on error the inventory and the staged distro are untouched. */
int kf_distro_import(const struct kf_distro_opts *opts, struct kf_distro_result *res,
		     struct kf_err *e);

/* A distro name: [A-Za-z0-9][A-Za-z0-9._-]*, at most 64 characters. */
bool kf_distro_name_ok(const char *name);

/* ---- for `kickfleet serve`: the imported distros' files (distro_serve.c) ---- */

struct kf_distro_blob {
	int fd;          /* owned by the caller: close it */
	uint64_t offset; /* the file's first byte in fd */
	uint64_t size;   /* its length: serve [offset, offset + size) of fd */
};

/* Maps a URL path below BASE/distros/ to bytes:
 *   NAME/vmlinuz, NAME/initrd.img   the staged kernel and initrd
 *   NAME/tree/PATH                  PATH in NAME's install tree: inside the
 *                                   staged ISO (HTTP_ROOT/distros/NAME/media.iso)
 *                                   or the staged directory (.../tree/PATH)
 * A Range request adds its start to offset.  Returns 0, or -ENOENT (no
 * such distro or file), -EISDIR (a directory), -EACCES (a path that tries
 * to leave: "..", ".", empty components, symlinks), -ENOTSUP (a file the
 * ISO stores in pieces, only files over 4 GiB: read it with kf_iso_pread),
 * or another negative errno.  Thread-safe: ISO indexes are cached, one per
 * image, and reread when media.iso is replaced by a re-import. */
int kf_distro_open(const char *http_root, const char *rel, struct kf_distro_blob *out);

/* Drops the cached ISO indexes (at server shutdown; optional). */
void kf_distro_cache_clear(void);

#endif
