/* The HTTP server's sockets, without libmicrohttpd: the listening socket,
 * the worker a new connection goes to, and the answers the acceptor
 * writes itself (provision/http.c runs the acceptor). */
#include "provision/http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "provision/http_guard.h"
#include "util.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_held;

void kf_httpd_hold(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_held = true;
	pthread_mutex_unlock(&gate_lock);
}

void kf_httpd_release(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_held = false;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

void kf_httpd_gate_wait(struct kf_httpd *h)
{
	pthread_mutex_lock(&gate_lock);
	while (gate_held && !__atomic_load_n(&h->stopping, __ATOMIC_ACQUIRE)) {
		struct timespec t; /* a stop does not signal the gate: look again now and then */
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 100000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&gate_cond, &gate_lock, &t);
	}
	pthread_mutex_unlock(&gate_lock);
}

/* SO_REUSEADDR (a restart binds at once) but not SO_REUSEPORT: a second
 * server on the same port fails instead of sharing its clients. */
static int listen_on(const struct sockaddr_in *sa, int backlog)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int on = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 || listen(fd, backlog) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

unsigned kf_httpd_default_threads(void)
{
	/* the CPUs this process may run on (taskset, a systemd CPUAffinity=),
	 * not every CPU of the machine */
	cpu_set_t set;
	long c = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
							      : sysconf(_SC_NPROCESSORS_ONLN);
	return c > 0 ? 2 * (unsigned)c : 2;
}

/* The listening socket and the port it got. */
int kf_httpd_bind_port(struct kf_httpd *h, const struct sockaddr_in *sa, const char *addr,
		       unsigned port, struct kf_err *e)
{
	h->lfd = listen_on(sa, 1024);
	if (h->lfd < 0)
		return kf_errc(e, h->lfd, NULL, "http: cannot listen on %s:%u: %s", addr, port,
			       strerror(-h->lfd));
	struct sockaddr_in bound;
	socklen_t blen = sizeof(bound);
	h->port = getsockname(h->lfd, (struct sockaddr *)&bound, &blen) == 0 ? ntohs(bound.sin_port)
									    : port;
	return 0;
}

struct worker *kf_httpd_least_loaded(struct kf_httpd *h)
{
	struct worker *best = &h->w[0];
	unsigned min = __atomic_load_n(&best->load, __ATOMIC_RELAXED);
	for (unsigned i = 1; i < h->nw; i++) {
		unsigned l = __atomic_load_n(&h->w[i].load, __ATOMIC_RELAXED);
		if (l < min) {
			min = l;
			best = &h->w[i];
		}
	}
	return best;
}

void kf_httpd_reaped(void *arg, const char *peer)
{
	kf_httpd_refusal(arg, REF_SLOW, "closed a connection from %s: request not complete in time (slow client)",
		peer);
}

/* The answer to a client over its connection limit, written straight
 * to the new socket (MHD never sees it). */
void kf_httpd_refuse_client(struct kf_httpd *h, int fd, const struct sockaddr *sa)
{
	static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\n"
				  "Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
				  "Content-Length: 40\r\nRetry-After: 5\r\n\r\n"
				  "too many connections from this address\n";
	char peer[INET6_ADDRSTRLEN];
	kf_guard_peer(sa, peer, sizeof(peer));
	kf_httpd_refusal(h, REF_CLIENT_CONNS, "503 to %s: too many connections from this address", peer);
	ssize_t n = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	close(fd);
}
