#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kf_log_level = KF_LOG_INFO;
const char *kf_progname = "kickfleet";

_Noreturn void kf_die_oom(void)
{
	fputs("out of memory\n", stderr);
	abort();
}

void *kf_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		kf_die_oom();
	return p;
}

void *kf_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		kf_die_oom();
	return p;
}

void *kf_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		kf_die_oom();
	return p;
}

char *kf_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		kf_die_oom();
	return p;
}

char *kf_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		kf_die_oom();
	return p;
}

void kf_buf_add(struct kf_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->s = kf_xrealloc(b->s, cap);
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

void kf_buf_puts(struct kf_buf *b, const char *s)
{
	kf_buf_add(b, s, strlen(s));
}

void kf_buf_printf(struct kf_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		kf_die_oom();
	kf_buf_add(b, p, (size_t)n);
	free(p);
}

char *kf_buf_detach(struct kf_buf *b)
{
	char *s = b->s ? b->s : kf_xstrdup("");
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void kf_buf_release(struct kf_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

int kf_read_file(const char *path, size_t max, char **out, size_t *lenp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = 0;
	struct kf_buf b = KF_BUF_INIT;
	struct stat sb;
	/* a big regular file in one read; others by chunks of at least 8 KiB:
	 * /proc and sysfs files say 0 or 4096 bytes, and a sysctl read from
	 * an offset other than 0 gives nothing, so one read must take it all */
	size_t want = 8192;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size < max &&
	    (size_t)sb.st_size >= want)
		want = (size_t)sb.st_size + 1;
	for (;;) {
		if (b.cap - b.len < want + 1) {
			b.cap = b.len + want + 1;
			b.s = kf_xrealloc(b.s, b.cap);
		}
		ssize_t n = read(fd, b.s + b.len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			r = -EFBIG;
			goto out;
		}
		b.len += (size_t)n;
		want = 8192;
	}
	if (!b.s)
		b.s = kf_xmalloc(1);
	b.s[b.len] = 0;
	if (lenp)
		*lenp = b.len;
	*out = kf_buf_detach(&b);
out:
	kf_buf_release(&b);
	close(fd);
	return r;
}

static int fsync_dir(const char *path)
{
	char *copy = kf_xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	/* Some filesystems (e.g. sysfs-like test trees) refuse fsync on dirs. */
	return r == -EINVAL ? 0 : r;
}

/* sync: 0 none, 1 the file's data before the rename, 2 also the
 * directory after it */
static int write_replace(const char *path, const void *data, size_t len, mode_t mode, int sync)
{
	char *tmp = kf_xasprintf("%s.kf-tmp.XXXXXX", path);
	int r = 0;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || (sync && fsync(fd) < 0)) {
		r = -errno;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto out;
	}
	r = sync > 1 ? fsync_dir(path) : 0;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

int kf_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_replace(path, data, len, mode, 2);
}

int kf_write_ordered(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_replace(path, data, len, mode, 1);
}

int kf_write_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_replace(path, data, len, mode, 0);
}

int kf_mkdir_p(const char *path, mode_t mode)
{
	char *p = kf_xstrdup(path);
	int r = 0;
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == 0) {
			char c = *s;
			*s = 0;
			if (mkdir(p, mode) < 0 && errno != EEXIST) {
				r = -errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return r;
}

static char *sysroot;

void kf_sysroot_set(const char *root)
{
	free(sysroot);
	sysroot = NULL;
	if (root && strcmp(root, "/") != 0) {
		size_t n = strlen(root);
		while (n > 1 && root[n - 1] == '/')
			n--;
		sysroot = strndup(root, n);
		if (!sysroot)
			kf_die_oom();
	}
}

const char *kf_sysroot(void)
{
	return sysroot ? sysroot : "/";
}

bool kf_sysroot_is_host(void)
{
	return sysroot == NULL;
}

char *kf_path(const char *fmt, ...)
{
	va_list ap;
	char *rel = NULL;
	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		kf_die_oom();
	va_end(ap);
	if (!sysroot)
		return rel;
	char *full = kf_xasprintf("%s%s%s", sysroot, rel[0] == '/' ? "" : "/", rel);
	free(rel);
	return full;
}

char *kf_self_dir(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	return kf_xstrdup(self);
}

char *kf_rstrip(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

size_t kf_str_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

int kf_levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	int d[65][65];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int cost = a[i - 1] != b[j - 1];
			int v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

void kf_log(int level, const char *fmt, ...)
{
	if (level > kf_log_level)
		return;
	static const char *const names[] = { "error", "warning", "", "debug" };
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", kf_progname);
	if (level != KF_LOG_INFO)
		fprintf(stderr, "%s: ", names[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
