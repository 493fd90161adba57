/* SHA-256 (lib/sha256.h): the only file that calls nettle. */
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

_Static_assert(sizeof(struct sha256_ctx) <= sizeof(((struct kf_hash *)0)->ctx),
	       "struct kf_hash too small for nettle's sha256_ctx");

void kf_hash_init(struct kf_hash *h)
{
	sha256_init((struct sha256_ctx *)(void *)h->ctx);
}

void kf_hash_update(struct kf_hash *h, const void *p, size_t n)
{
	sha256_update((struct sha256_ctx *)(void *)h->ctx, n, p);
}

void kf_hash_str(struct kf_hash *h, const char *s)
{
	kf_hash_update(h, s ? s : "", (s ? strlen(s) : 0) + 1);
}
void kf_hash_hex(struct kf_hash *h, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_digest((struct sha256_ctx *)(void *)h->ctx, sizeof(d), d);
	for (size_t i = 0; i < sizeof(d); i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[64] = 0;
}

int kf_hash_file(const char *path, char hex[65])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct kf_hash h;
	kf_hash_init(&h);
	size_t cap = 1 << 20;
	char *buf = kf_xmalloc(cap);
	int r = 0;
	for (;;) {
		ssize_t n = read(fd, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		kf_hash_update(&h, buf, (size_t)n);
	}
	free(buf);
	close(fd);
	if (!r)
		kf_hash_hex(&h, hex);
	return r;
}
