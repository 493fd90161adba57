/* Limits on client connections that libmicrohttpd does not enforce, kept
 * by provision/http.c below its MHD callbacks (this file calls no
 * library):
 *   - connections per client address (the acceptor refuses the one over
 *     the limit),
 *   - a deadline for each request: its line, headers and body must have
 *     arrived within request_timeout seconds of the connection opening or
 *     of the previous answer, however slowly they trickle in (slowloris;
 *     MHD's own timeout only closes connections that send nothing at all).
 * Connections are tracked by descriptor, from kf_guard_accept (acceptor)
 * to kf_guard_drop (MHD's "closed" notice, which comes before MHD closes
 * the descriptor, so a descriptor number is never shut down after it was
 * reused).  Thread-safe. */
#ifndef KF_PROVISION_HTTP_GUARD_H
#define KF_PROVISION_HTTP_GUARD_H

#include <stdint.h>
#include <sys/socket.h>

struct kf_guard;

/* per_client: connections one address may hold (0: no limit);
 * request_timeout: seconds (0: no deadline).  NULL when out of memory. */
struct kf_guard *kf_guard_new(unsigned per_client, unsigned request_timeout);
void kf_guard_free(struct kf_guard *g);

/* A connection the acceptor took.  Returns 0 (tracked, or beyond the
 * table: untracked), or -EMFILE when its address holds per_client
 * already (nothing is tracked: the caller refuses and closes fd). */
int kf_guard_accept(struct kf_guard *g, int fd, const struct sockaddr *sa, socklen_t len);
/* The connection is gone (closed by MHD, or never handed to it). */
void kf_guard_drop(struct kf_guard *g, int fd);
/* A request of fd is complete and handled: no deadline until answered. */
void kf_guard_busy(struct kf_guard *g, int fd);
/* The answer was sent: the next request's deadline starts now. */
void kf_guard_idle(struct kf_guard *g, int fd);
/* Shuts down (both ways) every connection past its deadline, once each;
 * calls cb with the client's address for each.  Returns how many. */
unsigned kf_guard_reap(struct kf_guard *g, void (*cb)(void *arg, const char *peer), void *arg);

/* The address of sa as text into buf (at least 46 bytes). */
void kf_guard_peer(const struct sockaddr *sa, char *buf, size_t len);

#endif
