/* SHA-256 (FIPS 180-4), for content digests (render inputs, templates).
 * Not for secrets: tokens come from getrandom(). */
#ifndef KF_SHA256_H
#define KF_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct kf_sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t fill;
};

void kf_sha256_init(struct kf_sha256 *c);
void kf_sha256_update(struct kf_sha256 *c, const void *data, size_t n);
/* Writes the digest as 64 lower-case hex characters and a NUL into hex. */
void kf_sha256_hex(struct kf_sha256 *c, char hex[65]);
/* Adds a string and its terminating NUL, so that ("ab","c") != ("a","bc"). */
void kf_sha256_str(struct kf_sha256 *c, const char *s);

#endif
