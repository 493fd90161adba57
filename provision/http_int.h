/* The HTTP server's private parts, shared by provision/http.c (the
 * libmicrohttpd adapter) and provision/http_stats.c (its counters and
 * refusal log, which call nothing from libmicrohttpd).  Not for other
 * files: they see http.h. */
#ifndef KF_PROVISION_HTTP_INT_H
#define KF_PROVISION_HTTP_INT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "provision/http.h"

struct MHD_Connection;
struct MHD_Daemon;
struct kf_guard;
struct retired;
struct sockaddr;

/* Status codes counted one by one in /metrics; others go to "other". */
static const int counted_status[] = { 200, 204, 206, 304, 400, 403, 404, 405, 409,
				      410, 413, 416, 429, 431, 500, 501, 503 };
#define NSTATUS (KF_ARRAY_SIZE(counted_status) + 1)

struct route_stats {
	uint64_t by_status[NSTATUS];
};

/* Refusals before any handler, counted by reason in /metrics. */
enum refusal {
	REF_CLIENT_CONNS, /* one address holds too many connections */
	REF_SLOW,         /* a request not complete within its deadline */
	REF_HEADERS,      /* more header lines than allowed */
	REF_BODY,         /* a body over the route's limit */
	REF_PATH,         /* a path with "..", control characters, ... */
	REF_HEAD,         /* the request line or headers refused by the parser */
	REF_COUNT,
};

/* One worker thread: an MHD daemon with its own epoll loop and no
 * listening socket of its own; the acceptor hands it connections. */
struct worker {
	struct kf_httpd *h;
	struct MHD_Daemon *d;
	unsigned load; /* connections handed to it and not closed yet */
};

struct kf_httpd {
	const struct kf_httpd_route *routes;
	size_t nroutes;
	void *ctx;
	unsigned port;
	int lfd;             /* the listening socket, the acceptor's */
	struct worker *w;    /* the workers new connections go to */
	unsigned nw;
	struct retired *retired; /* workers of an older certificate, until idle */
	pthread_mutex_t wlock; /* w, nw and retired (the acceptor, a reload) */
	struct kf_httpd_opts o; /* as started (the workers' options) */
	unsigned per_worker; /* connections one worker takes at most */
	pthread_t acceptor;
	int accepting;       /* the acceptor thread was started */
	int stopping;
	struct route_stats *stats; /* nroutes + 1: the last is "unrouted" */
	uint64_t bytes_sent;
	uint64_t conns_open, conns_total, req_errors, req_timeouts;
	uint64_t refused[REF_COUNT];
	struct kf_guard *guard;
	unsigned max_headers;
	pthread_mutex_t log_lock;
	time_t log_sec;
	unsigned log_n, log_dropped;
};

struct kf_httpd_req {
	struct kf_httpd *h;
	struct MHD_Connection *c;
	const char *method;
	const char *path;
	const struct kf_httpd_route *route; /* NULL: none matched */
	const char *rest;
	char *body;
	size_t body_len;
	int refused;   /* a 4xx was queued while the body was arriving */
	int too_large; /* the body grew past the limit: 413 once it is read */
	int answered;
	int started;   /* on_request saw it (else MHD's parser refused it) */
	int fd;        /* the connection's socket */
	int busy;      /* told the guard: no deadline until the answer is sent */
	struct kf_buf headers; /* added before the reply: "name\0value\0"... */
	char peer[INET6_ADDRSTRLEN];
};

/* Counts one answer of route (NULL: unrouted) with its status and body
 * bytes. */
void kf_httpd_count(struct kf_httpd *h, const struct kf_httpd_route *route, int status,
		    uint64_t bytes);

/* Counts one refusal and logs its line (WARN), within the log budget. */
void kf_httpd_refusal(struct kf_httpd *h, enum refusal why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parses one Range header against a file of size bytes (http_path.c).
 * Returns 1 with [*off, *off + *len) for a satisfiable range, 0 to send
 * the whole file (absent, malformed or several ranges), -1 unsatisfiable. */
int kf_httpd_parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len);

/* ---- sockets (http_listen.c) ---- */
/* Binds and listens on sa (h->lfd), setting h->port. */
int kf_httpd_bind_port(struct kf_httpd *h, const struct sockaddr_in *sa, const char *addr,
		       unsigned port, struct kf_err *e);
/* The current worker with the fewest open connections (wlock held). */
struct worker *kf_httpd_least_loaded(struct kf_httpd *h);
/* The acceptor, before its first accept: waits while kf_httpd_hold holds
 * the gate, or until h stops. */
void kf_httpd_gate_wait(struct kf_httpd *h);
/* The guard's callback for a connection closed past its deadline. */
void kf_httpd_reaped(void *arg, const char *peer);
/* Answers 503 to a client over its connection limit and closes fd. */
void kf_httpd_refuse_client(struct kf_httpd *h, int fd, const struct sockaddr *sa);

#endif
