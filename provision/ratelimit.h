/* A per-key rate limiter: at most N events a minute per key (a client
 * address, a host name), counted in fixed one-minute windows over a
 * table of a fixed size (when it is full, the key with the oldest window
 * gives up its slot).  Shared by the server's limits: discovery posts
 * per address, callbacks per host, failed token checks per address.
 * Thread-safe. */
#ifndef KF_PROVISION_RATELIMIT_H
#define KF_PROVISION_RATELIMIT_H

#include <stdbool.h>

struct kf_rate;

/* per_minute 0: no limit.  Never NULL (aborts when out of memory). */
struct kf_rate *kf_rate_new(unsigned per_minute, unsigned slots);
void kf_rate_free(struct kf_rate *r);
/* Counts one event of key: 0 within the limit, 1 for the first event
 * over it this minute (log it), 2 for the ones after. */
int kf_rate_take(struct kf_rate *r, const char *key);
/* Whether key is over its limit this minute, counting nothing. */
bool kf_rate_over(struct kf_rate *r, const char *key);
unsigned kf_rate_limit(const struct kf_rate *r);

#endif
