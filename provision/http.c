/* The HTTP server's libmicrohttpd adapter: the one file that talks to
 * libmicrohttpd.  See http.h for the contract.  libmicrohttpd (and the TLS
 * stack it links) is opened when a server starts (lib/dl.h): the commands
 * that serve nothing start without it. */
#include "provision/http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dl.h"
#include "provision/http_guard.h"
#include "json.h"

/* Every libmicrohttpd function this file calls. */
#define MHD_FNS(F)                                                                       \
	F(MHD_add_connection) F(MHD_add_response_header) F(MHD_create_response_from_buffer) \
	F(MHD_create_response_from_buffer_with_free_callback) F(MHD_destroy_response)    \
	F(MHD_get_connection_info) F(MHD_get_connection_values)                          \
	F(MHD_lookup_connection_value) F(MHD_queue_response) F(MHD_start_daemon)         \
	F(MHD_stop_daemon) F(MHD_create_response_from_fd_at_offset64)                    \
	F(MHD_create_response_from_callback) F(MHD_suspend_connection) F(MHD_resume_connection) F(MHD_run)

KF_DL_TABLE(MHD_FNS)

static struct kf_dl libmhd = KF_DL("libmicrohttpd.so.12", "libmicrohttpd", "cannot serve HTTP",
				   resolve);

/* Files up to this size are read and sent from memory, larger ones with
 * sendfile. */
#define SMALL_FILE (64 * 1024)

/* ---- answers ---- */

static int queue(struct kf_httpd_req *rq, int status, struct MHD_Response *resp, uint64_t bytes)
{
	if (!resp)
		return -ENOMEM;
	enum MHD_Result ok = lib.MHD_queue_response(rq->c, (unsigned)status, resp);
	lib.MHD_destroy_response(resp);
	rq->answered = 1;
	if (!rq->busy) {
		rq->busy = 1;
		kf_guard_busy(rq->h->guard, rq->fd);
	}
	kf_httpd_count(rq->h, rq->route, status, bytes);
	/* with -v, an access log: every answer (the path carries no query, so
	 * no token is logged) */
	kf_log(KF_LOG_DEBUG, "http: %d %s %s from %s (%llu bytes)", status, rq->method, rq->path,
	       rq->peer, (unsigned long long)bytes);
	return ok == MHD_YES ? 0 : -EIO;
}

static struct MHD_Response *with_headers(struct kf_httpd_req *rq, struct MHD_Response *resp,
					 const char *ctype)
{
	if (!resp)
		return NULL;
	if (ctype)
		lib.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	for (size_t at = 0; at < rq->headers.len;) {
		const char *name = rq->headers.s + at;
		const char *value = name + strlen(name) + 1;
		lib.MHD_add_response_header(resp, name, value);
		at = (size_t)(value - rq->headers.s) + strlen(value) + 1;
	}
	kf_buf_release(&rq->headers);
	return resp;
}

void kf_httpd_add_header(struct kf_httpd_req *rq, const char *name, const char *value)
{
	kf_buf_add(&rq->headers, name, strlen(name) + 1);
	kf_buf_add(&rq->headers, value, strlen(value) + 1);
}

int kf_httpd_reply(struct kf_httpd_req *rq, int status, const char *ctype, const void *data,
		   size_t len)
{
	struct MHD_Response *r =
		lib.MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	return queue(rq, status, with_headers(rq, r, ctype), len);
}

int kf_httpd_reply_take(struct kf_httpd_req *rq, int status, const char *ctype, char *data,
			size_t len)
{
	struct MHD_Response *r = lib.MHD_create_response_from_buffer_with_free_callback(len, data, free);
	if (!r)
		free(data);
	return queue(rq, status, with_headers(rq, r, ctype), len);
}

int kf_httpd_reply_text(struct kf_httpd_req *rq, int status, const char *fmt, ...)
{
	struct kf_buf b = KF_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		kf_die_oom();
	kf_buf_add(&b, s, (size_t)n);
	kf_buf_puts(&b, "\n");
	free(s);
	size_t len = b.len;
	return kf_httpd_reply_take(rq, status, "text/plain; charset=utf-8", kf_buf_detach(&b), len);
}

int kf_httpd_reply_error(struct kf_httpd_req *rq, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		kf_die_oom();
	int r;
	if (rq->route && (rq->route->flags & KF_HTTPD_JSON)) {
		struct kf_json *o = kf_json_object();
		kf_json_set(o, "error", kf_json_str(msg));
		char *text = kf_json_dump(o, KF_JSON_PLAIN);
		kf_json_free(o);
		char *body = kf_xasprintf("%s\n", text);
		free(text);
		kf_httpd_add_header(rq, "Cache-Control", "no-store");
		r = kf_httpd_reply_take(rq, status, "application/json", body, strlen(body));
	} else {
		r = kf_httpd_reply_text(rq, status, "%s", msg);
	}
	free(msg);
	return r;
}

/* ---- streams ---- */

/* Two references: the owner's (kf_httpd_stream_close) and the
 * connection's (the response's free callback).  mu guards the rest. */
struct kf_httpd_stream {
	pthread_mutex_t mu;
	struct MHD_Connection *c;
	struct kf_buf q;
	size_t off;      /* bytes of q already written */
	int refs;
	bool gone;       /* the connection is closed */
	bool ended;      /* the owner closed the stream */
	bool suspended;  /* waiting for data: MHD_suspend_connection */
};

static void stream_unref(struct kf_httpd_stream *s)
{
	/* called with s->mu held; releases it */
	bool last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (last) {
		pthread_mutex_destroy(&s->mu);
		kf_buf_release(&s->q);
		free(s);
	}
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct kf_httpd_stream *s = cls;
	pthread_mutex_lock(&s->mu);
	ssize_t n = 0;
	if (s->q.len > s->off) {
		size_t k = s->q.len - s->off < max ? s->q.len - s->off : max;
		memcpy(buf, s->q.s + s->off, k);
		s->off += k;
		if (s->off == s->q.len)
			s->off = s->q.len = 0;
		n = (ssize_t)k;
	} else if (s->ended) {
		n = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		/* nothing to send: out of the event loop until send or close */
		s->suspended = true;
		lib.MHD_suspend_connection(s->c);
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void stream_gone(void *cls)
{
	struct kf_httpd_stream *s = cls;
	pthread_mutex_lock(&s->mu);
	s->gone = true;
	s->suspended = false;
	stream_unref(s);
}

/* Wakes a suspended connection (with s->mu held). */
static void stream_wake(struct kf_httpd_stream *s)
{
	if (s->suspended && !s->gone) {
		s->suspended = false;
		lib.MHD_resume_connection(s->c);
	}
}

int kf_httpd_reply_stream(struct kf_httpd_req *rq, const char *ctype, struct kf_httpd_stream **out)
{
	struct kf_httpd_stream *s = kf_xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->c = rq->c;
	s->refs = 2;
	struct MHD_Response *r =
		lib.MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_gone);
	if (!r) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		*out = NULL;
		return kf_httpd_reply_text(rq, 500, "internal error");
	}
	*out = s;
	int rc = queue(rq, 200, with_headers(rq, r, ctype), 0);
	if (rc < 0) {
		/* MHD keeps no reference: the connection's is dropped here */
		pthread_mutex_lock(&s->mu);
		s->gone = true;
		s->refs--;
		pthread_mutex_unlock(&s->mu);
	}
	return rc;
}

int kf_httpd_stream_send(struct kf_httpd_stream *s, const char *data, size_t len, size_t max_queued)
{
	int r = 0;
	pthread_mutex_lock(&s->mu);
	if (s->gone || s->ended)
		r = -EPIPE;
	else if (s->q.len - s->off > max_queued) {
		s->ended = true; /* what is queued goes out, then the connection closes */
		r = -ENOBUFS;
	} else
		kf_buf_add(&s->q, data, len);
	if (!s->gone)
		stream_wake(s);
	pthread_mutex_unlock(&s->mu);
	return r;
}

void kf_httpd_stream_close(struct kf_httpd_stream *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->ended = true;
	stream_wake(s);
	stream_unref(s);
}

int kf_httpd_reply_fd(struct kf_httpd_req *rq, int fd, const char *ctype)
{
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return kf_httpd_reply_text(rq, 404, "not found");
	}
	return kf_httpd_reply_fd_span(rq, fd, 0, (uint64_t)sb.st_size, ctype);
}

int kf_httpd_reply_fd_span(struct kf_httpd_req *rq, int fd, uint64_t base, uint64_t size,
			   const char *ctype)
{
	uint64_t off = 0, len = size;
	int rr = kf_httpd_parse_range(kf_httpd_header(rq, MHD_HTTP_HEADER_RANGE), size, &off, &len);
	if (rr < 0) {
		close(fd);
		char cr[64];
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
		kf_httpd_add_header(rq, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		return kf_httpd_reply_text(rq, 416, "range not satisfiable");
	}
	struct MHD_Response *r = NULL;
	if (len <= SMALL_FILE) {
		/* small files go out with their headers in one write */
		char *buf = kf_xmalloc(len ? len : 1);
		size_t got = 0;
		while (got < len) {
			ssize_t n = pread(fd, buf + got, len - got, (off_t)(base + off + got));
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		close(fd);
		if (got != len) {
			free(buf);
			return kf_httpd_reply_text(rq, 500, "internal error");
		}
		r = lib.MHD_create_response_from_buffer_with_free_callback(len, buf, free);
		if (!r)
			free(buf);
	} else {
		r = lib.MHD_create_response_from_fd_at_offset64(len, fd, base + off);
		if (!r)
			close(fd);
	}
	if (!r)
		return kf_httpd_reply_text(rq, 500, "internal error");
	lib.MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (rr > 0) {
		char cr[96];
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)off,
			 (unsigned long long)(off + len - 1), (unsigned long long)size);
		lib.MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	return queue(rq, rr > 0 ? 206 : 200, with_headers(rq, r, ctype), len);
}

int kf_httpd_reply_file(struct kf_httpd_req *rq, const char *root, const char *rel)
{
	if (!*rel)
		return kf_httpd_reply_text(rq, 404, "not found");
	int dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return kf_httpd_reply_text(rq, 404, "not found");
	int r = kf_httpd_reply_file_at(rq, dirfd, rel);
	close(dirfd);
	return r;
}

int kf_httpd_reply_file_at(struct kf_httpd_req *rq, int dirfd, const char *rel)
{
	if (!*rel)
		return kf_httpd_reply_text(rq, 404, "not found");
	uint64_t size = 0;
	int fd = kf_httpd_open_at(dirfd, rel, &size);
	if (fd == -EACCES) {
		kf_log(KF_LOG_WARN, "http: refused %s %s from %s: outside the served tree", rq->method,
		       rq->path, rq->peer);
		return kf_httpd_reply_text(rq, 403, "forbidden");
	}
	if (fd < 0)
		return kf_httpd_reply_text(rq, 404, "not found");
	return kf_httpd_reply_fd_span(rq, fd, 0, size, kf_httpd_ctype(rel));
}

/* ---- request accessors ---- */

const char *kf_httpd_method(const struct kf_httpd_req *rq) { return rq->method; }
const char *kf_httpd_path(const struct kf_httpd_req *rq) { return rq->path; }
const char *kf_httpd_rest(const struct kf_httpd_req *rq) { return rq->rest ? rq->rest : ""; }
const char *kf_httpd_peer(const struct kf_httpd_req *rq) { return rq->peer; }
bool kf_httpd_is_tls(const struct kf_httpd_req *rq) { return rq->h->o.tls_cert != NULL; }

const char *kf_httpd_route_name(const struct kf_httpd_req *rq)
{
	return rq->route ? rq->route->name : "none";
}

struct arg_count {
	const char *name;
	int n;
};

static enum MHD_Result count_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	(void)kind;
	(void)value;
	struct arg_count *ac = cls;
	ac->n += key && !strcmp(key, ac->name);
	return MHD_YES;
}

const char *kf_httpd_arg(const struct kf_httpd_req *rq, const char *name)
{
	/* an argument given twice is ambiguous: treated as absent */
	struct arg_count ac = { name, 0 };
	lib.MHD_get_connection_values(rq->c, MHD_GET_ARGUMENT_KIND, count_arg, &ac);
	if (ac.n != 1)
		return NULL;
	return lib.MHD_lookup_connection_value(rq->c, MHD_GET_ARGUMENT_KIND, name);
}

const char *kf_httpd_header(const struct kf_httpd_req *rq, const char *name)
{
	return lib.MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND, name);
}

const char *kf_httpd_body(const struct kf_httpd_req *rq, size_t *len)
{
	if (len)
		*len = rq->body_len;
	return rq->body;
}

/* ---- dispatch ---- */

static const struct kf_httpd_route *match(struct kf_httpd *h, const char *path, const char **rest)
{
	for (size_t i = 0; i < h->nroutes; i++) {
		const struct kf_httpd_route *r = &h->routes[i];
		size_t n = strlen(r->path);
		if (n && r->path[n - 1] == '/') {
			if (!strncmp(path, r->path, n)) {
				*rest = path + n;
				return r;
			}
		} else if (!strcmp(path, r->path)) {
			*rest = "";
			return r;
		}
	}
	return NULL;
}

/* Paths reach handlers only when absolute, free of control characters and
 * of "." / ".." segments. */
static int url_ok(const char *path)
{
	return path[0] == '/' && (!path[1] || kf_httpd_rel_ok(path + 1));
}

static unsigned method_bit(const char *m)
{
	if (!strcmp(m, MHD_HTTP_METHOD_GET) || !strcmp(m, MHD_HTTP_METHOD_HEAD))
		return KF_HTTPD_GET;
	if (!strcmp(m, MHD_HTTP_METHOD_POST))
		return KF_HTTPD_POST;
	return 0;
}

static void req_free(struct kf_httpd_req *rq)
{
	if (!rq)
		return;
	kf_buf_release(&rq->headers);
	free(rq->body);
	free(rq);
}

static struct kf_httpd_req *req_new(struct kf_httpd *h, struct MHD_Connection *c, const char *url,
				    const char *method)
{
	struct kf_httpd_req *rq = kf_xcalloc(1, sizeof(*rq));
	rq->h = h;
	rq->c = c;
	rq->method = method;
	rq->path = url;
	rq->fd = -1;
	const union MHD_ConnectionInfo *fi =
		lib.MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (fi)
		rq->fd = fi->connect_fd;
	strcpy(rq->peer, "?");
	const union MHD_ConnectionInfo *ci =
		lib.MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, rq->peer,
				  sizeof(rq->peer));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, rq->peer,
				  sizeof(rq->peer));
	}
	return rq;
}

/* First call of a request: route it and refuse what no handler should see.
 * Returns 1 when an answer was queued already. */
/* 413 for a body over the route's limit, with a log line. */
static void too_large(struct kf_httpd_req *rq)
{
	kf_httpd_refusal(rq->h, REF_BODY, "413 %s %s from %s: body too large (at most %zu bytes)",
		kf_httpd_method(rq), kf_httpd_path(rq), kf_httpd_peer(rq), rq->route->max_body);
	/* the rest of the body is not read: the connection ends with the answer */
	kf_httpd_add_header(rq, MHD_HTTP_HEADER_CONNECTION, "close");
	kf_httpd_reply_error(rq, 413, "body too large (at most %zu bytes)", rq->route->max_body);
}

static int screen(struct kf_httpd_req *rq)
{
	struct kf_httpd *h = rq->h;
	rq->route = match(h, rq->path, &rq->rest); /* first: its error format */
	if (!url_ok(rq->path)) {
		char shown[96];
		kf_httpd_refusal(h, REF_PATH, "400 %s %s from %s: bad path (\"..\", \".\", control characters or backslashes)",
			rq->method, kf_httpd_shown(rq->path, shown, sizeof(shown)), rq->peer);
		return kf_httpd_reply_error(rq, 400, "bad path"), 1;
	}
	int nh = lib.MHD_get_connection_values(rq->c, MHD_HEADER_KIND, NULL, NULL);
	if (h->max_headers && nh > (int)h->max_headers) {
		kf_httpd_refusal(h, REF_HEADERS, "431 %s %s from %s: %d header lines (at most %u)", rq->method,
			rq->path, rq->peer, nh, h->max_headers);
		return kf_httpd_reply_error(rq, 431, "too many header lines (at most %u)", h->max_headers), 1;
	}
	if (!rq->route)
		return kf_httpd_reply_text(rq, 404, "not found"), 1;
	unsigned mb = method_bit(rq->method);
	if (!(mb & rq->route->methods)) {
		kf_httpd_add_header(rq, MHD_HTTP_HEADER_ALLOW,
				    rq->route->methods & KF_HTTPD_POST
					    ? (rq->route->methods & KF_HTTPD_GET ? "GET, HEAD, POST" : "POST")
					    : "GET, HEAD");
		return kf_httpd_reply_error(rq, 405, "method not allowed"), 1;
	}
	const char *te = kf_httpd_header(rq, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (te && strcasecmp(te, "chunked")) {
		/* else MHD waits for a body it cannot delimit until the timeout */
		char shown[64];
		kf_httpd_refusal(h, REF_HEAD, "501 %s %s from %s: transfer coding \"%s\" (only chunked)",
			rq->method, rq->path, rq->peer, kf_httpd_shown(te, shown, sizeof(shown)));
		kf_httpd_add_header(rq, MHD_HTTP_HEADER_CONNECTION, "close");
		return kf_httpd_reply_text(rq, 501, "unsupported transfer coding"), 1;
	}
	if (te && !rq->route->max_body)
		return too_large(rq), 1;
	const char *cl = kf_httpd_header(rq, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		if (errno || *end || *cl < '0' || *cl > '9')
			return kf_httpd_reply_error(rq, 400, "bad content-length"), 1;
		if (n > rq->route->max_body)
			return too_large(rq), 1;
	}
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	(void)version;
	struct kf_httpd *h = cls;
	struct kf_httpd_req *rq = *con_cls;
	if (!rq)
		*con_cls = rq = req_new(h, c, url, method);
	if (!rq->started) {
		/* the head is in: from the URI callback on, rq had the raw URI */
		rq->started = 1;
		rq->method = method;
		rq->path = url;
		if (screen(rq))
			rq->refused = 1;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (rq->refused)
			return MHD_YES;
		if (rq->body_len + n > rq->route->max_body) {
			/* MHD takes an answer only before the body or after it:
			 * the rest is read and dropped (within the request
			 * deadline), then the 413 goes out */
			free(rq->body);
			rq->body = NULL;
			rq->body_len = 0;
			rq->refused = rq->too_large = 1;
			return MHD_YES;
		}
		rq->body = kf_xrealloc(rq->body, rq->body_len + n + 1);
		memcpy(rq->body + rq->body_len, upload, n);
		rq->body_len += n;
		rq->body[rq->body_len] = 0;
		return MHD_YES;
	}
	if (rq->too_large && !rq->answered)
		too_large(rq);
	if (rq->refused || rq->answered)
		return MHD_YES;
	rq->busy = 1;
	kf_guard_busy(h->guard, rq->fd);
	rq->route->fn(rq, h->ctx);
	if (!rq->answered) {
		kf_log(KF_LOG_ERR, "http: route %s did not answer %s %s", rq->route->name, method, url);
		kf_httpd_reply_text(rq, 500, "internal error");
	}
	return MHD_YES;
}

/* A connection's own context (MHD's socket context): the request made
 * at its URI callback, which MHD does not always end with on_completed
 * (a head it refuses); freed with the connection then. */
struct conn {
	struct kf_httpd_req *rq;
};

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct kf_httpd *h = cls;
	struct kf_httpd_req *rq = *con_cls;
	if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
		__atomic_fetch_add(&h->req_timeouts, 1, __ATOMIC_RELAXED);
	else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK &&
		 toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
		__atomic_fetch_add(&h->req_errors, 1, __ATOMIC_RELAXED);
	if (rq && !rq->started && toe == MHD_REQUEST_TERMINATED_WITH_ERROR)
		kf_httpd_refusal(h, REF_HEAD, "refused a request from %s: its headers are malformed or over the limits",
			rq->peer);
	if (rq && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		kf_guard_idle(h->guard, rq->fd);
	const union MHD_ConnectionInfo *ci =
		lib.MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *cn = ci ? ci->socket_context : NULL;
	if (cn && cn->rq == rq)
		cn->rq = NULL;
	req_free(rq);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct worker *w = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_ctx = kf_xcalloc(1, sizeof(struct conn));
		__atomic_fetch_add(&w->h->conns_open, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&w->h->conns_total, 1, __ATOMIC_RELAXED);
	} else {
		struct conn *cn = *socket_ctx;
		if (cn)
			req_free(cn->rq);
		free(cn);
		*socket_ctx = NULL;
		/* before MHD closes the descriptor: the guard lets go of it */
		const union MHD_ConnectionInfo *fi =
			lib.MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (fi)
			kf_guard_drop(w->h->guard, fi->connect_fd);
		__atomic_fetch_sub(&w->h->conns_open, 1, __ATOMIC_RELAXED);
		__atomic_fetch_sub(&w->load, 1, __ATOMIC_RELAXED);
	}
}

/* Called by MHD once the request line is in, before the headers: the
 * request exists from here, so that one whose headers MHD refuses (431,
 * 400) reaches on_completed and is counted and logged. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)uri; /* raw, with the query: it may hold a token */
	struct kf_httpd_req *rq = req_new(cls, c, "", "");
	const union MHD_ConnectionInfo *ci =
		lib.MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *cn = ci ? ci->socket_context : NULL;
	if (cn) {
		req_free(cn->rq); /* the previous request's, if MHD dropped it */
		cn->rq = rq;
	}
	return rq;
}

/* Decodes %XX in place; a decoded NUL becomes 0x01 so that the path check
 * refuses it instead of the string ending early. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (*r == '%' && r[1] && r[2]) {
			char hex[3] = { r[1], r[2], 0 }, *end;
			unsigned long v = strtoul(hex, &end, 16);
			if (!*end && hex[0] != '+' && hex[0] != '-' && hex[0] != ' ') {
				*w++ = v ? (char)v : 0x01;
				r += 2;
				continue;
			}
		}
		*w++ = *r;
	}
	*w = 0;
	return (size_t)(w - s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (kf_log_level < KF_LOG_DEBUG)
		return;
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	kf_log(KF_LOG_DEBUG, "http: %s", kf_rstrip(buf));
}

/* ---- listening: one acceptor, least-loaded worker ---- */

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Every REAP_MS the acceptor shuts down connections past their deadline. */
#define REAP_MS 200

static void reap_retired(struct kf_httpd *h);

/* The acceptor thread owns the listening socket and gives each new
 * connection to the worker with the fewest open ones.  (With MHD's own
 * thread pool every worker accepts from the shared socket, and a burst
 * of clients lands mostly on whichever worker is awake: 1000 clients
 * split 700 / 300 over two workers, and those of the busier one wait
 * twice as long.)  A connection MHD drops before it starts (out of
 * memory) stays counted: only the balance suffers. */
static void *acceptor(void *arg)
{
	struct kf_httpd *h = arg;
	struct timespec last = { 0 };
	kf_httpd_gate_wait(h);
	while (!__atomic_load_n(&h->stopping, __ATOMIC_ACQUIRE)) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 >= REAP_MS) {
			kf_guard_reap(h->guard, kf_httpd_reaped, h);
			pthread_mutex_lock(&h->wlock);
			reap_retired(h);
			pthread_mutex_unlock(&h->wlock);
			last = now;
		}
		struct pollfd pfd = { .fd = h->lfd, .events = POLLIN };
		if (poll(&pfd, 1, REAP_MS) <= 0)
			continue;
		pthread_mutex_lock(&h->wlock);
		struct worker *w = kf_httpd_least_loaded(h);
		if (__atomic_load_n(&w->load, __ATOMIC_RELAXED) >= h->per_worker) {
			/* every worker is full: new clients wait in the backlog */
			pthread_mutex_unlock(&h->wlock);
			pause_ms(10);
			continue;
		}
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(h->lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int err = errno;
			pthread_mutex_unlock(&h->wlock);
			if (__atomic_load_n(&h->stopping, __ATOMIC_ACQUIRE))
				break;
			if (err != EINTR && err != EAGAIN && err != ECONNABORTED && err != EPROTO) {
				/* out of descriptors or memory: the client waits */
				kf_log(KF_LOG_DEBUG, "http: accept: %s", strerror(err));
				pause_ms(10);
			}
			continue;
		}
		if (kf_guard_accept(h->guard, fd, (struct sockaddr *)&ss, len) < 0) {
			pthread_mutex_unlock(&h->wlock);
			kf_httpd_refuse_client(h, fd, (struct sockaddr *)&ss);
			continue;
		}
		/* counted first: the worker may close it before MHD_add_connection returns */
		__atomic_fetch_add(&w->load, 1, __ATOMIC_RELAXED);
		if (lib.MHD_add_connection(w->d, fd, (struct sockaddr *)&ss, len) != MHD_YES) {
			__atomic_fetch_sub(&w->load, 1, __ATOMIC_RELAXED); /* MHD closed fd */
			kf_guard_drop(h->guard, fd);
		}
		pthread_mutex_unlock(&h->wlock);
	}
	return NULL;
}

int kf_httpd_add(struct kf_httpd *h, int fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (kf_guard_accept(h->guard, fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -EMFILE;
	}
	__atomic_fetch_add(&h->w[0].load, 1, __ATOMIC_RELAXED);
	if (lib.MHD_add_connection(h->w[0].d, fd, (struct sockaddr *)&sa, sizeof(sa)) != MHD_YES) {
		__atomic_fetch_sub(&h->w[0].load, 1, __ATOMIC_RELAXED);
		kf_guard_drop(h->guard, fd);
		return -EIO;
	}
	return 0;
}

unsigned kf_httpd_run(struct kf_httpd *h)
{
	lib.MHD_run(h->w[0].d);
	return __atomic_load_n(&h->w[0].load, __ATOMIC_RELAXED);
}

/* Starts nw workers into w (zeroed by the caller) presenting cert and key
 * (NULL: plain HTTP). */
static int start_workers(struct kf_httpd *h, struct worker *w, unsigned nw, const char *cert,
			 const char *key, struct kf_err *e)
{
	const struct kf_httpd_opts *o = &h->o;
	unsigned flags = o->external ? MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME
				     : MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_NO_LISTEN_SOCKET |
					       MHD_USE_TURBO | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key },
		{ MHD_OPTION_END, 0, NULL },
	};
	if (cert)
		flags |= MHD_USE_TLS;
	for (unsigned i = 0; i < nw; i++) {
		w[i].h = h;
		w[i].d = lib.MHD_start_daemon(
			flags, 0, NULL, NULL, on_request, h,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->conn_memory ? o->conn_memory : (size_t)8192,
			MHD_OPTION_CONNECTION_LIMIT, h->per_worker,
			MHD_OPTION_CONNECTION_TIMEOUT, o->timeout ? o->timeout : 30u,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, &w[i],
			MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
			MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			MHD_OPTION_ARRAY, cert ? tls : tls + 2,
			MHD_OPTION_END);
		if (!w[i].d) {
			int err = errno ? errno : ENOMEM;
			return kf_errc(e, -err, NULL, "http: cannot start worker thread %u%s: %s", i + 1,
				       cert ? " (TLS: is the certificate or key bad?)" : "",
				       strerror(err));
		}
	}
	return 0;
}

static void stop_workers(struct worker *w, unsigned nw)
{
	for (unsigned i = 0; i < nw; i++)
		if (w[i].d)
			lib.MHD_stop_daemon(w[i].d);
	free(w);
}

/* Workers of an older certificate, stopped once idle (the acceptor). */
struct retired {
	struct worker *w;
	unsigned nw;
	struct retired *next;
};

/* With wlock held: stops the retired workers that hold no connection. */
static void reap_retired(struct kf_httpd *h)
{
	for (struct retired **p = &h->retired; *p;) {
		struct retired *r = *p;
		unsigned load = 0;
		for (unsigned i = 0; i < r->nw; i++)
			load += __atomic_load_n(&r->w[i].load, __ATOMIC_RELAXED);
		if (load) {
			p = &r->next;
			continue;
		}
		*p = r->next;
		stop_workers(r->w, r->nw);
		free(r);
	}
}

int kf_httpd_set_tls(struct kf_httpd *h, const char *cert, const char *key, struct kf_err *e)
{
	if (!h->o.tls_cert || h->o.external)
		return kf_errc(e, -EINVAL, NULL, "http: not a TLS server");
	struct worker *w = kf_xcalloc(h->nw, sizeof(*w));
	int r = start_workers(h, w, h->nw, cert, key, e);
	if (r < 0) {
		stop_workers(w, h->nw);
		return r;
	}
	struct retired *old = kf_xcalloc(1, sizeof(*old));
	pthread_mutex_lock(&h->wlock);
	old->w = h->w;
	old->nw = h->nw;
	old->next = h->retired;
	h->retired = old;
	h->w = w;
	pthread_mutex_unlock(&h->wlock);
	return 0;
}

int kf_httpd_start(struct kf_httpd **out, const struct kf_httpd_opts *o,
		   const struct kf_httpd_route *routes, size_t n, void *ctx, struct kf_err *e)
{
	*out = NULL;
	int r = kf_dl_load(&libmhd, e);
	if (r < 0)
		return r;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port) };
	const char *addr = o->addr ? o->addr : "127.0.0.1";
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return kf_errc(e, -EINVAL, NULL, "http: bad listen address \"%s\"", addr);
	struct kf_httpd *h = kf_xcalloc(1, sizeof(*h));
	h->o = *o;
	h->routes = routes;
	h->nroutes = n;
	h->ctx = ctx;
	h->stats = kf_xcalloc(n + 1, sizeof(*h->stats));
	h->nw = o->threads ? o->threads : kf_httpd_default_threads();
	unsigned max = o->max_conns ? o->max_conns : 4096u;
	h->per_worker = (max + h->nw - 1) / h->nw;
	h->max_headers = o->max_headers ? o->max_headers : 64;
	pthread_mutex_init(&h->log_lock, NULL);
	pthread_mutex_init(&h->wlock, NULL);
	h->guard = kf_guard_new(o->per_client == KF_HTTPD_UNLIMITED ? 0 : o->per_client ? o->per_client : 128,
				o->request_timeout == KF_HTTPD_UNLIMITED ? 0
				: o->request_timeout			 ? o->request_timeout
									 : 20);
	if (!h->guard)
		kf_die_oom();
	h->lfd = -1;
	if (o->external) {
		h->nw = 1;
	} else if ((r = kf_httpd_bind_port(h, &sa, addr, o->port, e)) < 0) {
		goto fail;
	}
	h->w = kf_xcalloc(h->nw, sizeof(*h->w));
	if ((r = start_workers(h, h->w, h->nw, o->tls_cert, o->tls_key, e)) < 0)
		goto fail;
	if (o->external) {
		*out = h;
		return 0;
	}
	int pe = pthread_create(&h->acceptor, NULL, acceptor, h);
	if (pe) {
		r = kf_errc(e, -pe, NULL, "http: cannot start the acceptor thread: %s", strerror(pe));
		goto fail;
	}
	h->accepting = 1;
	*out = h;
	return 0;
fail:
	kf_httpd_stop(h);
	return r;
}

void kf_httpd_stop(struct kf_httpd *h)
{
	if (!h)
		return;
	if (h->accepting) {
		__atomic_store_n(&h->stopping, 1, __ATOMIC_RELEASE);
		shutdown(h->lfd, SHUT_RDWR); /* wakes the acceptor's accept4 (EINVAL) */
		pthread_join(h->acceptor, NULL);
	}
	if (h->lfd >= 0)
		close(h->lfd);
	if (h->w)
		stop_workers(h->w, h->nw);
	while (h->retired) {
		struct retired *r = h->retired;
		h->retired = r->next;
		stop_workers(r->w, r->nw);
		free(r);
	}
	free(h->stats);
	kf_guard_free(h->guard);
	pthread_mutex_destroy(&h->log_lock);
	pthread_mutex_destroy(&h->wlock);
	free(h);
}

unsigned kf_httpd_port(const struct kf_httpd *h)
{
	return h->port;
}
