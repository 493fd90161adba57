/* The certificate and key files of serve's HTTPS listener: read as PEM
 * text for provision/http.c, the key refused unless it is root-only
 * (owned by the user serve runs as, no access for group or others). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/privdrop.h"
#include "provision/serve.h"
#include "util.h"

/* PEM files larger than this are not certificates or keys. */
#define PEM_MAX (1024 * 1024)

static int read_pem(const char *what, const char *path, bool private, char **out,
		    struct kf_err *e)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r = 0;
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		r = kf_errc(e, -errno, NULL, "serve: TLS %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		r = kf_errc(e, -EINVAL, NULL, "serve: TLS %s %s: not a regular file", what, path);
		goto out;
	}
	/* the user serve switches to after start may own it: it reads it
	 * again on SIGHUP (provision/privdrop.h) */
	if (private && ((sb.st_mode & 077) || (sb.st_uid != geteuid() && sb.st_uid != kf_priv_uid()))) {
		r = kf_errc(e, -EPERM, NULL,
			    "serve: TLS %s %s: mode %04o owner %u: must be readable by its owner only "
			    "(chown %u, chmod 600)",
			    what, path, (unsigned)(sb.st_mode & 07777), (unsigned)sb.st_uid,
			    (unsigned)kf_priv_uid());
		goto out;
	}
	size_t len = 0;
	close(fd);
	fd = -1;
	r = kf_read_file(path, PEM_MAX, out, &len);
	if (r < 0) {
		r = kf_errc(e, r, NULL, "serve: TLS %s %s: %s", what, path, strerror(-r));
		goto out;
	}
	if (!strstr(*out, "-----BEGIN ")) {
		r = kf_errc(e, -EINVAL, NULL, "serve: TLS %s %s: no PEM block in it", what, path);
		if (private)
			kf_serve_tls_wipe(*out);
		else
			free(*out);
		*out = NULL;
	}
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int kf_serve_tls_read(const char *cert_path, const char *key_path, char **cert, char **key,
		      struct kf_err *e)
{
	*cert = *key = NULL;
	int r = read_pem("certificate", cert_path, false, cert, e);
	if (r == 0 && (r = read_pem("key", key_path, true, key, e)) < 0) {
		free(*cert);
		*cert = NULL;
	}
	return r;
}

void kf_serve_tls_wipe(char *key)
{
	if (!key)
		return;
	explicit_bzero(key, strlen(key));
	free(key);
}
