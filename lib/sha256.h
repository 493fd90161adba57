/* SHA-256, the one digest (content digests of render inputs, templates,
 * staged boot files, ETags): the adapter to nettle, which uses the CPU's
 * SHA instructions where there are any.  Not for secrets: tokens come from
 * getrandom().  The provisioner's only: the agent is linked without it
 * (and without libnettle). */
#ifndef KF_SHA256_H
#define KF_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* A running digest; may be copied to fork a common prefix. */
struct kf_hash {
	uint64_t ctx[16]; /* a struct sha256_ctx */
};

void kf_hash_init(struct kf_hash *h);
void kf_hash_update(struct kf_hash *h, const void *p, size_t n);
/* Adds a string (NULL as "") and its terminating NUL, so that ("ab","c")
 * and ("a","bc") differ. */
void kf_hash_str(struct kf_hash *h, const char *s);
/* Ends the digest: 64 lower-case hex characters and a NUL into hex. */
void kf_hash_hex(struct kf_hash *h, char hex[65]);
/* SHA-256 of a whole file; 0 or a negative errno. */
int kf_hash_file(const char *path, char hex[65]);

#endif
