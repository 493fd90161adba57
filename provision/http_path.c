/* Files beneath a served root, Range headers and printable paths, without
 * libmicrohttpd: the part of the HTTP server (http.h) that opens what the
 * static routes send. */
#include "provision/http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

/* Without openat2: walk the components, refusing every symlink. */
static int open_walk(int dirfd, const char *rel)
{
	char *copy = kf_xstrdup(rel), *save = NULL;
	int fd = dup(dirfd), r = 0;
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	char *next = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = next) {
		next = strtok_r(NULL, "/", &save);
		int flags = O_NOFOLLOW | O_CLOEXEC | (next ? O_PATH | O_DIRECTORY : O_RDONLY);
		int nfd = openat(fd, c, flags);
		if (nfd < 0) {
			r = errno == ELOOP || errno == ENOTDIR ? -EACCES : -errno;
			goto out;
		}
		close(fd);
		fd = nfd;
	}
	r = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

int kf_httpd_rel_ok(const char *rel)
{
	if (!*rel || *rel == '/')
		return 0;
	for (const char *p = rel; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
			return 0;
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if ((n == 2 && p[0] == '.' && p[1] == '.') || (n == 1 && p[0] == '.'))
			return 0;
		p += n + (p[n] == '/');
	}
	return 1;
}

int kf_httpd_open_beneath(const char *root, const char *rel)
{
	if (!kf_httpd_rel_ok(rel))
		return -EACCES;
	int dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	int fd = kf_httpd_open_at(dirfd, rel, NULL);
	close(dirfd);
	return fd;
}

int kf_httpd_open_at(int dirfd, const char *rel, uint64_t *size)
{
	if (!kf_httpd_rel_ok(rel))
		return -EACCES;
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
	int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = open_walk(dirfd, rel);
	else if (fd < 0)
		fd = errno == EXDEV || errno == ELOOP ? -EACCES : -errno;
	if (fd < 0)
		return fd == -ENOTDIR ? -ENOENT : fd;
	/* O_NONBLOCK kept a FIFO from blocking the open; it does not matter
	 * for the regular files read from here */
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	if (size)
		*size = (uint64_t)sb.st_size;
	return fd;
}

const char *kf_httpd_ctype(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".json", "application/json" },   { ".yaml", "application/yaml" },
		{ ".yml", "application/yaml" },    { ".ipxe", "text/plain; charset=utf-8" },
		{ ".cfg", "text/plain; charset=utf-8" }, { ".ks", "text/plain; charset=utf-8" },
		{ ".txt", "text/plain; charset=utf-8" }, { ".html", "text/html; charset=utf-8" },
		{ ".xml", "application/xml" },     { ".iso", "application/x-iso9660-image" },
		{ ".css", "text/css; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
		{ ".png", "image/png" },           { ".svg", "image/svg+xml" },
	};
	const char *dot = strrchr(name, '.');
	const char *slash = strrchr(name, '/');
	if (dot && (!slash || dot > slash))
		for (size_t i = 0; i < KF_ARRAY_SIZE(types); i++)
			if (!strcasecmp(dot, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

/* Parses one "bytes=A-B" / "bytes=A-" / "bytes=-N" range against size.
 * Returns 1 with [*off, *off + *len) for a satisfiable range, 0 to send the
 * whole file (absent, malformed or several ranges), -1 unsatisfiable. */
int kf_httpd_parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	if (!h || strncmp(h, "bytes=", 6))
		return 0;
	h += 6;
	if (strchr(h, ','))
		return 0;
	char *end;
	if (*h == '-') {
		if (h[1] < '0' || h[1] > '9')
			return 0;
		errno = 0;
		unsigned long long n = strtoull(h + 1, &end, 10);
		if (errno || *end)
			return 0;
		if (n == 0 || size == 0)
			return -1;
		if (n > size)
			n = size;
		*off = size - n;
		*len = n;
		return 1;
	}
	if (*h < '0' || *h > '9')
		return 0;
	errno = 0;
	unsigned long long a = strtoull(h, &end, 10);
	if (errno || *end != '-')
		return 0;
	unsigned long long b = size ? size - 1 : 0;
	if (end[1]) {
		char *end2;
		if (end[1] < '0' || end[1] > '9')
			return 0;
		b = strtoull(end + 1, &end2, 10);
		if (errno || *end2 || b < a)
			return 0;
		if (b >= size)
			b = size - 1;
	}
	if (a >= size)
		return -1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

const char *kf_httpd_shown(const char *s, char *buf, size_t len)
{
	size_t o = 0;
	for (; *s && o + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f || c == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (*s && o + 4 <= len)
		memcpy(buf + o, "...", 3), o += 3;
	buf[o < len ? o : len - 1] = 0;
	return buf;
}
