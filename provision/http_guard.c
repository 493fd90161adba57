/* Connection limits below libmicrohttpd: per-client counts and request
 * deadlines (http_guard.h). */
#include "provision/http_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Clients are counted in buckets by a hash of their address: two clients
 * sharing a bucket share its limit, which with 65536 buckets and limits
 * in the tens is a remote event, and the table has a fixed size whatever
 * the number of addresses. */
#define BUCKETS 65536
#define MAX_SLOTS (1u << 20)

struct slot {
	uint8_t used, busy, reaped;
	uint16_t bucket;
	int64_t deadline_ms; /* waiting for a request until then */
	struct sockaddr_in6 addr; /* large enough for both families */
};

struct kf_guard {
	pthread_mutex_t lock;
	unsigned per_client;
	int64_t timeout_ms;
	unsigned nslots;
	int max_fd; /* highest fd tracked so far */
	struct slot *slots;
	uint16_t count[BUCKETS];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct kf_guard *kf_guard_new(unsigned per_client, unsigned request_timeout)
{
	struct kf_guard *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	struct rlimit rl;
	rlim_t n = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
	g->nslots = n > MAX_SLOTS || n == RLIM_INFINITY ? MAX_SLOTS : (unsigned)n;
	/* calloc of this size maps zero pages: only slots used cost memory */
	g->slots = calloc(g->nslots, sizeof(*g->slots));
	if (!g->slots) {
		free(g);
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	g->per_client = per_client;
	g->timeout_ms = (int64_t)request_timeout * 1000;
	g->max_fd = -1;
	return g;
}

void kf_guard_free(struct kf_guard *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g->slots);
	free(g);
}

static uint16_t bucket_of(const struct sockaddr *sa)
{
	const unsigned char *p;
	size_t n;
	if (sa->sa_family == AF_INET) {
		p = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
	} else {
		p = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		n = 16;
	}
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return (uint16_t)(h ^ (h >> 16));
}

int kf_guard_accept(struct kf_guard *g, int fd, const struct sockaddr *sa, socklen_t len)
{
	if (fd < 0 || (unsigned)fd >= g->nslots)
		return 0;
	uint16_t b = bucket_of(sa);
	int r = 0;
	pthread_mutex_lock(&g->lock);
	if (g->per_client && g->count[b] >= g->per_client) {
		r = -EMFILE;
		goto out;
	}
	g->count[b]++;
	struct slot *s = &g->slots[fd];
	memset(s, 0, sizeof(*s));
	s->used = 1;
	s->bucket = b;
	s->deadline_ms = now_ms() + g->timeout_ms;
	memcpy(&s->addr, sa, len < sizeof(s->addr) ? len : sizeof(s->addr));
	if (fd > g->max_fd)
		g->max_fd = fd;
out:
	pthread_mutex_unlock(&g->lock);
	return r;
}

void kf_guard_drop(struct kf_guard *g, int fd)
{
	if (fd < 0 || (unsigned)fd >= g->nslots)
		return;
	pthread_mutex_lock(&g->lock);
	struct slot *s = &g->slots[fd];
	if (s->used) {
		g->count[s->bucket]--;
		s->used = 0;
	}
	pthread_mutex_unlock(&g->lock);
}

static void set_busy(struct kf_guard *g, int fd, bool busy)
{
	if (fd < 0 || (unsigned)fd >= g->nslots)
		return;
	pthread_mutex_lock(&g->lock);
	struct slot *s = &g->slots[fd];
	if (s->used) {
		s->busy = busy;
		if (!busy)
			s->deadline_ms = now_ms() + g->timeout_ms;
	}
	pthread_mutex_unlock(&g->lock);
}

void kf_guard_busy(struct kf_guard *g, int fd) { set_busy(g, fd, true); }
void kf_guard_idle(struct kf_guard *g, int fd) { set_busy(g, fd, false); }

void kf_guard_peer(const struct sockaddr *sa, char *buf, size_t len)
{
	snprintf(buf, len, "?");
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)len);
}

unsigned kf_guard_reap(struct kf_guard *g, void (*cb)(void *arg, const char *peer), void *arg)
{
	if (!g->timeout_ms)
		return 0;
	unsigned n = 0;
	int64_t now = now_ms();
	pthread_mutex_lock(&g->lock);
	for (int fd = 0; fd <= g->max_fd; fd++) {
		struct slot *s = &g->slots[fd];
		if (!s->used || s->busy || s->reaped || now < s->deadline_ms)
			continue;
		/* the descriptor is MHD's until its "closed" notice (which takes
		 * this lock): shutting it down makes MHD see the end and close */
		shutdown(fd, SHUT_RDWR);
		s->reaped = 1;
		n++;
		if (cb) {
			char peer[INET6_ADDRSTRLEN];
			kf_guard_peer((const struct sockaddr *)&s->addr, peer, sizeof(peer));
			cb(arg, peer);
		}
	}
	pthread_mutex_unlock(&g->lock);
	return n;
}
