/* Files beneath a served root, without libmicrohttpd: the part of the
 * HTTP server (http.h) that opens what the static routes send. */
#include "provision/http.h"

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

