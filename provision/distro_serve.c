/* `kickfleet serve`'s view of the imported distros: URL paths below
 * BASE/distros/ mapped to file descriptors and byte ranges (distro.h), the
 * install tree read in place from the staged ISO through a cache of ISO
 * indexes (distro_iso.h). */
#include "provision/distro.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/distro_iso.h"
#include "util.h"

struct cached {
	char *path;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	struct kf_iso *iso;
};

#define CACHE_MAX 64
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached cache[CACHE_MAX];
static size_t cache_n;

void kf_distro_cache_clear(void)
{
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < cache_n; i++) {
		free(cache[i].path);
		kf_iso_free(cache[i].iso);
	}
	cache_n = 0;
	pthread_mutex_unlock(&cache_lock);
}

/* Each component a plain name: no "", ".", "..". */
static bool rel_ok(const char *rel)
{
	if (!*rel || rel[0] == '/')
		return false;
	for (const char *p = rel; *p;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (!n || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p = *end ? end + 1 : end;
		if (*end && !*p)
			return false;
	}
	return true;
}

/* Opens rel under dir refusing symlinks on the way; an fd or -errno. */
static int open_nofollow(const char *dir, const char *rel)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *copy = kf_xstrdup(rel), *save = NULL, *next;
	for (char *c = strtok_r(copy, "/", &save); c; c = next) {
		next = strtok_r(NULL, "/", &save);
		int nfd = openat(fd, c, O_NOFOLLOW | O_CLOEXEC | (next ? O_PATH | O_DIRECTORY : O_RDONLY));
		int err = errno;
		close(fd);
		if (nfd < 0) {
			free(copy);
			return err == ELOOP || err == ENOTDIR ? -EACCES : -err;
		}
		fd = nfd;
	}
	free(copy);
	return fd;
}

/* The file at path inside the ISO at iso_path, opened anew (own offset). */
static int open_in_iso(const char *iso_path, const char *path, struct kf_distro_blob *out)
{
	struct stat st;
	int fd = open(iso_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	pthread_mutex_lock(&cache_lock);
	struct cached *c = NULL;
	for (size_t i = 0; i < cache_n && !c; i++)
		if (!strcmp(cache[i].path, iso_path))
			c = &cache[i];
	if (c && (c->dev != st.st_dev || c->ino != st.st_ino || c->mtime.tv_sec != st.st_mtim.tv_sec ||
		  c->mtime.tv_nsec != st.st_mtim.tv_nsec)) {
		kf_iso_free(c->iso);
		c->iso = NULL;
	}
	if (!c && cache_n == CACHE_MAX) { /* evict the oldest */
		free(cache[0].path);
		kf_iso_free(cache[0].iso);
		memmove(cache, cache + 1, (CACHE_MAX - 1) * sizeof(*cache));
		cache_n--;
	}
	if (!c) {
		c = &cache[cache_n++];
		memset(c, 0, sizeof(*c));
		c->path = kf_xstrdup(iso_path);
	}
	int r = 0;
	if (!c->iso) {
		struct kf_err e = KF_ERR_INIT;
		/* index the very file fd refers to */
		char *self = kf_xasprintf("/proc/self/fd/%d", fd);
		r = kf_iso_open(&c->iso, self, &e);
		free(self);
		if (r < 0) {
			char buf[512];
			kf_log(KF_LOG_ERR, "%s", e.n ? kf_err_format(&e, 0, buf, sizeof(buf)) : iso_path);
		}
		kf_err_release(&e);
		c->dev = st.st_dev;
		c->ino = st.st_ino;
		c->mtime = st.st_mtim;
	}
	struct kf_iso_file f;
	if (!r)
		r = kf_iso_lookup(c->iso, path, &f);
	pthread_mutex_unlock(&cache_lock);
	if (!r && f.dir)
		r = -EISDIR;
	if (!r && !f.contiguous)
		r = -ENOTSUP;
	if (r < 0) {
		close(fd);
		return r;
	}
	out->fd = fd;
	out->offset = f.offset;
	out->size = f.size;
	return 0;
}

int kf_distro_open(const char *http_root, const char *rel, struct kf_distro_blob *out)
{
	out->fd = -1;
	if (!rel_ok(rel))
		return -EACCES;
	const char *slash = strchr(rel, '/');
	if (!slash)
		return -EISDIR;
	char *name = strndup(rel, (size_t)(slash - rel));
	if (!name)
		kf_die_oom();
	if (!kf_distro_name_ok(name)) {
		free(name);
		return -ENOENT;
	}
	char *dir = kf_xasprintf("%s/distros/%s", http_root, name);
	char *iso = kf_xasprintf("%s/media.iso", dir);
	const char *sub = slash + 1;
	int r;
	struct stat st;
	if (!strncmp(sub, "tree/", 5) && lstat(iso, &st) == 0) {
		r = open_in_iso(iso, sub + 5, out);
	} else if (!strcmp(sub, "tree")) {
		r = -EISDIR;
	} else if (!strncmp(sub, "tree/", 5) || !strcmp(sub, "vmlinuz") || !strcmp(sub, "initrd.img")) {
		r = open_nofollow(dir, sub);
		if (r >= 0) {
			int fd = r;
			r = fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EISDIR;
			if (r < 0) {
				close(fd);
			} else {
				out->fd = fd;
				out->offset = 0;
				out->size = (uint64_t)st.st_size;
			}
		}
	} else {
		r = -ENOENT; /* media.iso, .files: not for clients */
	}
	free(name);
	free(dir);
	free(iso);
	return r;
}
