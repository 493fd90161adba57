/* Staging distro files: keep, hard-link or copy, with progress. */
#define _XOPEN_SOURCE 700
#include "provision/distro.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define CHUNK (64u << 20)

bool kf_stage_same(const char *src, const char *dst)
{
	struct stat a, b;
	if (stat(src, &a) < 0 || stat(dst, &b) < 0 || !S_ISREG(a.st_mode) || !S_ISREG(b.st_mode))
		return false;
	if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return true;
	return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
	       a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

/* read/write fallback where copy_file_range cannot be used. */
static int copy_rw(int in, int out, uint64_t from, uint64_t size, kf_progress_fn progress,
		   void *pctx, const char *what, uint64_t *done, uint64_t total)
{
	size_t cap = 1u << 20;
	char *buf = kf_xmalloc(cap);
	int r = 0;
	uint64_t pos = from;
	while (pos < size) {
		ssize_t n = pread(in, buf, cap, (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		for (ssize_t w = 0; w < n;) {
			ssize_t k = pwrite(out, buf + w, (size_t)(n - w), (off_t)(pos + (uint64_t)w));
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				r = -errno;
				goto out;
			}
			w += k;
		}
		pos += (uint64_t)n;
		*done += (uint64_t)n;
		if (progress && !(pos % (64u << 20)))
			progress(pctx, what, *done, total);
	}
out:
	free(buf);
	return r;
}

static int copy_file(const char *src, const char *dst, kf_progress_fn progress, void *pctx,
		     uint64_t *done, uint64_t total, struct kf_err *e)
{
	int in = -1, out = -1, r = 0;
	struct stat st;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0) {
		r = kf_errc(e, -errno, NULL, "%s: %s", src, strerror(errno));
		goto out;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		r = kf_errc(e, -errno, NULL, "%s: %s", dst, strerror(errno));
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size, pos = 0;
	while (pos < size) {
		loff_t ioff = (loff_t)pos, ooff = (loff_t)pos;
		size_t want = size - pos < CHUNK ? (size_t)(size - pos) : CHUNK;
		ssize_t n = copy_file_range(in, &ioff, out, &ooff, want, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0 || errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
			    errno == EINVAL) {
				r = copy_rw(in, out, pos, size, progress, pctx, dst, done, total);
				pos = size;
				break;
			}
			r = -errno;
			break;
		}
		pos += (uint64_t)n;
		*done += (uint64_t)n;
		if (progress)
			progress(pctx, dst, *done, total);
	}
	if (r < 0) {
		kf_errc(e, r, NULL, "copying %s to %s: %s", src, dst, strerror(-r));
		goto out;
	}
	/* the source's mtime makes the next import's quick check work */
	struct timespec ts[2] = { st.st_atim, st.st_mtim };
	if (futimens(out, ts) < 0 || fdatasync(out) < 0)
		r = kf_errc(e, -errno, NULL, "%s: %s", dst, strerror(errno));
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (r < 0 && out >= 0)
		unlink(dst);
	return r;
}

int kf_stage_file(const char *src, const char *old, const char *dst, bool link_ok,
		  kf_progress_fn progress, void *pctx, uint64_t *done, uint64_t total,
		  struct kf_stage_stats *st, struct kf_err *e)
{
	struct stat s;
	if (stat(src, &s) < 0)
		return kf_errc(e, -errno, NULL, "%s: %s", src, strerror(errno));
	uint64_t size = (uint64_t)s.st_size;
	st->files++;
	if (old && kf_stage_same(src, old) && link(old, dst) == 0) {
		st->kept += size;
		*done += size;
		return 0;
	}
	if (link_ok && link(src, dst) == 0) {
		st->linked += size;
		*done += size;
		return 0;
	}
	int r = copy_file(src, dst, progress, pctx, done, total, e);
	if (!r)
		st->copied += size;
	return r;
}

static int rm_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	int r = type == FTW_DP ? rmdir(path) : unlink(path);
	return r < 0 && errno != ENOENT ? -errno : 0;
}

int kf_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	int r = nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
	return r < 0 ? (errno ? -errno : -EIO) : r;
}
