/* The provisioner's HTTP server: provision/http.c is the one file that
 * talks to libmicrohttpd.  (The prefix is kf_httpd_ because the agent's
 * client side, agent/http.h, owns kf_http_.)
 *
 * A server is a listening socket, worker threads (each an MHD epoll
 * loop) and a routing table.  One acceptor thread takes every new
 * connection and hands it to the worker that holds the fewest, so that
 * clients share the workers evenly.  Each route names a path (exact, or a
 * prefix when it ends with '/'), the methods it takes, the largest body it
 * accepts and a handler.
 * The adapter refuses, before any handler runs:
 *   - URLs and headers beyond the per-connection memory limit (414 / 431),
 *   - paths that are not absolute, hold control characters (also %00) or
 *     a ".." segment (400),
 *   - methods a route does not take (405), unknown paths (404),
 *   - bodies larger than the route allows (413), more header lines than
 *     max_headers (431), a connection over the per-client limit (503,
 *     written by the acceptor), and closes connections idle for longer
 *     than the timeout or whose request has not arrived within
 *     request_timeout (slow clients, http_guard.h).
 * Each refusal is counted in /metrics (kickfleet_http_refused_total) and
 * logged, at most 20 lines a second.
 * Handlers answer exactly once with one of the kf_httpd_reply* functions;
 * a handler that does not answer gets a 500. */
#ifndef KF_PROVISION_HTTP_H
#define KF_PROVISION_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

enum {
	KF_HTTPD_GET = 1 << 0,  /* GET also answers HEAD */
	KF_HTTPD_POST = 1 << 1,
};

/* Route flags. */
enum {
	KF_HTTPD_JSON = 1 << 0, /* refusals and kf_httpd_reply_error answer {"error": "..."} */
};

struct kf_httpd;
struct kf_httpd_req;

typedef void (*kf_httpd_fn)(struct kf_httpd_req *rq, void *ctx);

struct kf_httpd_route {
	const char *name;  /* label in /metrics: "ks", "static" */
	unsigned methods;  /* KF_HTTPD_GET | KF_HTTPD_POST */
	const char *path;  /* exact path, or a prefix when it ends with '/' */
	kf_httpd_fn fn;
	size_t max_body;   /* bytes; 0: no body accepted */
	unsigned flags;    /* KF_HTTPD_JSON */
};

struct kf_httpd_opts {
	const char *addr;    /* IPv4 address to bind; NULL: 127.0.0.1 */
	unsigned port;       /* 0: any free port (see kf_httpd_port) */
	unsigned threads;    /* worker threads; 0: kf_httpd_default_threads() */
	unsigned timeout;    /* seconds a connection may stay idle; 0: 30 */
	size_t conn_memory;  /* bytes for request line + headers; 0: 8 KiB */
	unsigned max_conns;  /* 0: 4096 */
	unsigned per_client; /* connections one address may hold; 0: 128,
			      * KF_HTTPD_UNLIMITED: no limit (over it: 503) */
	unsigned request_timeout; /* seconds a request (line, headers, body) may
				   * take to arrive, from the connection's start
				   * or the previous answer; 0: 20,
				   * KF_HTTPD_UNLIMITED: no deadline */
	unsigned max_headers; /* header lines per request; 0: 64 (over: 431) */
	const char *tls_cert; /* PEM text of the certificate (chain); with
			       * tls_key, the server speaks only HTTPS */
	const char *tls_key;  /* PEM text of its private key */
	bool external;       /* no socket, no threads: the caller hands over
			      * connections (kf_httpd_add) and runs the server
			      * (kf_httpd_run) in its own thread (fuzzing) */
};
#define KF_HTTPD_UNLIMITED (~0u)

/* Binds and starts serving; routes (n of them) and ctx stay borrowed until
 * kf_httpd_stop.  Returns 0 with *out set, or a negative errno. */
int kf_httpd_start(struct kf_httpd **out, const struct kf_httpd_opts *o,
		   const struct kf_httpd_route *routes, size_t n, void *ctx, struct kf_err *e);
/* An external server (opts.external): takes the connected socket fd
 * (a peer of 127.0.0.1; closed when the connection ends); 0 or a
 * negative errno (fd closed). */
int kf_httpd_add(struct kf_httpd *h, int fd);
/* Runs an external server once without blocking (reads, handlers,
 * writes); returns how many connections it still holds. */
unsigned kf_httpd_run(struct kf_httpd *h);
/* Stops accepting, waits for the workers, frees h (NULL is fine). */
void kf_httpd_stop(struct kf_httpd *h);
/* A gate for every server of the process: while held, servers bind and
 * start their threads but accept no connection (clients wait in the
 * backlog).  serve holds it from before binding until it has switched
 * users (provision/privdrop.h), so that no request is answered as root. */
void kf_httpd_hold(void);
void kf_httpd_release(void);
/* A TLS server (opts.tls_cert) takes a new certificate and key (PEM
 * text, copied): connections accepted from now on are served by new
 * workers that present it; those already open finish on the old workers,
 * which stop once their last connection has closed.  Returns 0, or a
 * negative errno with e set (the old certificate stays). */
int kf_httpd_set_tls(struct kf_httpd *h, const char *cert, const char *key, struct kf_err *e);
/* The port actually bound. */
unsigned kf_httpd_port(const struct kf_httpd *h);
/* Worker threads when none are asked for: two per CPU the process may
 * run on, so that a handler waiting on the disk (a state write, the
 * re-render after "installed") does not stall every client of a CPU. */
unsigned kf_httpd_default_threads(void);

/* ---- a request, as a handler sees it (valid during the handler) ---- */
const char *kf_httpd_method(const struct kf_httpd_req *rq);
/* The decoded path, without the query. */
const char *kf_httpd_path(const struct kf_httpd_req *rq);
/* The part of the path after the route's prefix ("" for exact routes). */
const char *kf_httpd_rest(const struct kf_httpd_req *rq);
/* A query argument, decoded; NULL when absent. */
const char *kf_httpd_arg(const struct kf_httpd_req *rq, const char *name);
const char *kf_httpd_header(const struct kf_httpd_req *rq, const char *name);
/* The body (POST), NUL terminated; NULL and 0 when there is none. */
const char *kf_httpd_body(const struct kf_httpd_req *rq, size_t *len);
/* Whether rq came over TLS (a server started with opts.tls_cert). */
bool kf_httpd_is_tls(const struct kf_httpd_req *rq);
/* The client's address, "127.0.0.1". */
const char *kf_httpd_peer(const struct kf_httpd_req *rq);

/* ---- answers: exactly one per request ---- */
/* Copies data. */
int kf_httpd_reply(struct kf_httpd_req *rq, int status, const char *ctype, const void *data,
		   size_t len);
/* Takes ownership of data (malloc'd). */
int kf_httpd_reply_take(struct kf_httpd_req *rq, int status, const char *ctype, char *data,
			size_t len);
/* text/plain, formatted, a newline added. */
int kf_httpd_reply_text(struct kf_httpd_req *rq, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An error: {"error": "MESSAGE"} on KF_HTTPD_JSON routes, else the
 * message as text/plain.  The adapter's own refusals (404, 405, 413, ...)
 * take the same form. */
int kf_httpd_reply_error(struct kf_httpd_req *rq, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Adds a header to the answer about to be sent (call before replying). */
void kf_httpd_add_header(struct kf_httpd_req *rq, const char *name, const char *value);
/* A regular file, sent with sendfile; honours one "Range: bytes=" range
 * (206, or 416 when unsatisfiable).  Takes ownership of fd. */
int kf_httpd_reply_fd(struct kf_httpd_req *rq, int fd, const char *ctype);
/* Replies with the bytes [base, base + size) of fd as one file (Range
 * requests are relative to base); takes ownership of fd. */
int kf_httpd_reply_fd_span(struct kf_httpd_req *rq, int fd, uint64_t base, uint64_t size,
			   const char *ctype);
/* The file rel under the directory root (kf_httpd_open_beneath), or the
 * matching 4xx: 404 missing or not a regular file, 403 escaping root. */
int kf_httpd_reply_file(struct kf_httpd_req *rq, const char *root, const char *rel);

/* Opens rel (a relative path) read-only under root so that nothing can
 * leave root: no "..", no absolute paths, no symlink that resolves
 * outside (openat2 RESOLVE_BENEATH; without it, no symlinks at all).
 * Returns an fd of a regular file, or -ENOENT, -EACCES (escape), -EISDIR
 * (not a regular file), or another negative errno. */
int kf_httpd_open_beneath(const char *root, const char *rel);
/* Whether rel is relative, free of control characters and backslashes,
 * and of "." and ".." segments (what every path of a request must be). */
int kf_httpd_rel_ok(const char *rel);

/* The same under an open directory (O_PATH is enough); dirfd stays the
 * caller's.  With size non-NULL, sets it to the file's size. */
int kf_httpd_open_at(int dirfd, const char *rel, uint64_t *size);
int kf_httpd_reply_file_at(struct kf_httpd_req *rq, int dirfd, const char *rel);

/* A content type from the name's extension. */
const char *kf_httpd_ctype(const char *name);

/* ---- streams (server-sent events) ---- */
struct kf_httpd_stream;
/* Answers rq with 200 and a body that stays open: what kf_httpd_stream_send
 * queues is written as soon as the client can take it.  *out holds one
 * reference for the caller (end it with kf_httpd_stream_close); the
 * connection holds its own until the client goes away. */
int kf_httpd_reply_stream(struct kf_httpd_req *rq, const char *ctype,
			  struct kf_httpd_stream **out);
/* Queues len bytes.  0, -EPIPE when the client is gone, -ENOBUFS when
 * more than max_queued bytes wait already (a client that does not read:
 * its stream is ended).  Any thread. */
int kf_httpd_stream_send(struct kf_httpd_stream *s, const char *data, size_t len,
			 size_t max_queued);
/* Ends the stream after what is queued and drops the caller's reference;
 * s is gone after it (NULL is fine). */
void kf_httpd_stream_close(struct kf_httpd_stream *s);

/* Appends the server's own metrics (Prometheus text format): requests by
 * route and status, bytes sent, connections, refusals. */
void kf_httpd_metrics(struct kf_httpd *h, struct kf_buf *out);

/* s made fit for a log line into buf: control characters, bytes past
 * ASCII and backslashes as \xNN, cut at len with "...".  Returns buf. */
const char *kf_httpd_shown(const char *s, char *buf, size_t len);

/* Called by the handler-facing code to count; exposed for the log line. */
const char *kf_httpd_route_name(const struct kf_httpd_req *rq);

#endif
