/* Shared by the test_http_*.c tests: a kickfleet server on 127.0.0.1 (a
 * free port) over the test fleet in tests/data/http/fleet, with its tree
 * in a temp directory, and a raw HTTP/1.1 client. */
#ifndef KF_TEST_HTTP_FIXTURE_H
#define KF_TEST_HTTP_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "inventory.h"
#include "provision/render.h"
#include "provision/serve.h"
#include "provision/state.h"
#include "util.h"

struct fx {
	char dir[64];
	char *top;
	struct kf_inventory *inv;
	struct kf_serve *srv;
	unsigned port;
	char logpath[96];
	int saved_stderr;
	int renders; /* render hook calls */
	/* set before fx_start: the limits (client_conns, request_timeout,
	 * rate[]) given to the server; 0: its defaults */
	struct kf_serve_opts tune;
	const char *src; /* clients connect from this address (NULL: any) */
};

static inline const char *fx_top(void)
{
	const char *t = getenv("TOP");
	return t && *t ? t : ".";
}

static inline void fx_write(const char *dir, const char *rel, const void *data, size_t len)
{
	char *p = kf_xasprintf("%s/%s", dir, rel);
	char *slash = strrchr(p, '/');
	*slash = 0;
	kf_mkdir_p(p, 0755);
	*slash = '/';
	unlink(p); /* never write through a hard link into a staged loader */
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(data, 1, len, f) != len) {
		fprintf(stderr, "fixture: cannot write %s\n", p);
		abort();
	}
	fclose(f);
	free(p);
}

/* The state of one host, fresh from the store. */
static inline struct kf_host_rec fx_host(struct fx *f, const char *name)
{
	struct kf_host_rec h = { 0 };
	struct kf_state *st = kf_serve_state(f->srv, NULL);
	if (!st || kf_state_get_host(st, name, &h, NULL) < 0) {
		fprintf(stderr, "fixture: no host %s in the state\n", name);
		abort();
	}
	return h;
}

static inline void fx_token(struct fx *f, const char *name, char *out)
{
	struct kf_host_rec h = fx_host(f, name);
	strcpy(out, h.token);
	kf_host_rec_release(&h);
}

/* The agent credential of name's install, as its kickstart carries it
 * (minted at the first call). */
static inline void fx_cred(struct fx *f, const char *name, char *out)
{
	struct kf_state *st = kf_serve_state(f->srv, NULL);
	if (!st || kf_state_cred_install(st, name, out, NULL) < 0) {
		fprintf(stderr, "fixture: no agent credential for %s\n", name);
		abort();
	}
	kf_serve_wrote(f->srv);
}

/* Renders the fleet into f->dir (the real renderer), stages a few boot
 * files, and starts the server. */
static inline int fx_start(struct fx *f, unsigned timeout)
{
	strcpy(f->dir, "/tmp/kf-http-test.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	char *fleet = kf_xasprintf("%s/tests/data/http/fleet/fleet.yaml", fx_top());
	struct kf_err e = KF_ERR_INIT;
	int r = kf_inventory_load(&f->inv, fleet, &e);
	free(fleet);
	if (r < 0) {
		kf_err_print(&e, stderr);
		return -1;
	}
	struct kf_render_opts ro = { .outdir = f->dir };
	struct kf_render_stats rs = { 0 };
	struct kf_err warn = KF_ERR_INIT;
	r = kf_render_all(f->inv, &ro, &rs, &warn, &e);
	kf_err_release(&warn);
	if (r < 0) {
		kf_err_print(&e, stderr);
		return -1;
	}
	/* static files: 100000 bytes of a pattern, a symlink out, one in */
	char *blob = malloc(100000);
	for (int i = 0; i < 100000; i++)
		blob[i] = (char)('a' + i % 26);
	fx_write(f->dir, "tftp/pxelinux.0", blob, 100000);
	fx_write(f->dir, "http/trees/deb12/README", "tree\n", 5);
	fx_write(f->dir, "agent-bin", "\177ELF-agent", 10);
	free(blob);
	char *p = kf_xasprintf("%s/tftp/escape", f->dir);
	if (symlink("/etc/passwd", p) < 0)
		return -1;
	free(p);
	p = kf_xasprintf("%s/tftp/inside", f->dir);
	if (symlink("pxelinux.0", p) < 0)
		return -1;
	free(p);

	/* the server's log lines go to a file the tests read */
	snprintf(f->logpath, sizeof(f->logpath), "%s/serve.log", f->dir);
	fflush(stderr);
	f->saved_stderr = dup(2);
	int lfd = open(f->logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
	dup2(lfd, 2);
	close(lfd);

	char *agent = kf_xasprintf("%s/agent-bin", f->dir);
	struct kf_serve_opts o = { .listen_addr = "127.0.0.1", .port_set = true, .listen_port = 0,
				   .outdir = f->dir, .agent_path = agent, .threads = 2,
				   .timeout = timeout, .render = kf_serve_render_default,
				   .client_conns = f->tune.client_conns,
				   .request_timeout = f->tune.request_timeout };
	memcpy(o.rate, f->tune.rate, sizeof(o.rate));
	r = kf_serve_start(&f->srv, f->inv, &o, &e);
	free(agent);
	if (r < 0) {
		kf_err_print(&e, stderr);
		return -1;
	}
	f->port = kf_serve_port(f->srv);
	kf_err_release(&e);
	return 0;
}

static inline void fx_stop(struct fx *f)
{
	kf_serve_free(f->srv);
	f->srv = NULL;
	kf_inventory_free(f->inv);
	f->inv = NULL;
	if (f->saved_stderr > 0) {
		fflush(stderr);
		dup2(f->saved_stderr, 2);
		close(f->saved_stderr);
		f->saved_stderr = 0;
	}
	if (f->dir[0] && !getenv("KF_KEEP")) {
		char *cmd = kf_xasprintf("rm -rf '%s'", f->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "fixture: cannot remove %s\n", f->dir);
		free(cmd);
	}
}

/* The server's log so far. */
static inline char *fx_log(struct fx *f)
{
	fflush(stderr);
	char *s = NULL;
	size_t n;
	if (kf_read_file(f->logpath, 1 << 24, &s, &n) < 0)
		return kf_xstrdup("");
	return s;
}

struct resp {
	int status; /* 0: the server closed without an answer */
	char *head;
	char *body;
	size_t body_len;
	size_t raw_len;
};

static inline void resp_release(struct resp *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static inline int fx_connect(struct fx *f)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (f->src) {
		struct sockaddr_in me = { .sin_family = AF_INET };
		inet_pton(AF_INET, f->src, &me.sin_addr);
		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
			close(fd);
			return -1;
		}
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	struct timeval tv = { .tv_sec = 20 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Reads until the server closes (requests say Connection: close). */
static inline void fx_read_all(int fd, struct resp *r)
{
	struct kf_buf b = KF_BUF_INIT;
	char buf[65536];
	ssize_t n;
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		kf_buf_add(&b, buf, (size_t)n);
	memset(r, 0, sizeof(*r));
	r->raw_len = b.len;
	char *raw = kf_buf_detach(&b);
	if (!strncmp(raw, "HTTP/1.", 7) && strlen(raw) > 12)
		r->status = atoi(raw + 9);
	char *sep = strstr(raw, "\r\n\r\n");
	if (sep) {
		r->head = kf_xstrdup(raw);
		r->head[sep - raw] = 0;
		r->body_len = r->raw_len - (size_t)(sep + 4 - raw);
		r->body = kf_xmalloc(r->body_len + 1);
		memcpy(r->body, sep + 4, r->body_len);
		r->body[r->body_len] = 0;
	} else {
		r->head = kf_xstrdup(raw);
		r->body = kf_xstrdup("");
	}
	free(raw);
}

/* Sends raw bytes, half-closes nothing (the request says close), and
 * reads the answer. */
static inline int fx_raw(struct fx *f, const void *req, size_t len, struct resp *r)
{
	int fd = fx_connect(f);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, (const char *)req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* the server may hang up early (413, 414) */
		off += (size_t)n;
	}
	fx_read_all(fd, r);
	close(fd);
	return 0;
}

/* METHOD PATH with optional extra header lines ("Range: ...\r\n") and body. */
static inline int fx_req(struct fx *f, const char *method, const char *path, const char *headers,
		  const char *body, struct resp *r)
{
	char *req = kf_xasprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
				 "Content-Length: %zu\r\n\r\n%s",
				 method, path, headers ? headers : "", body ? strlen(body) : 0,
				 body ? body : "");
	int rc = fx_raw(f, req, strlen(req), r);
	free(req);
	return rc;
}

static inline int fx_get(struct fx *f, const char *path, struct resp *r)
{
	char *req = kf_xasprintf("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
				 path);
	int rc = fx_raw(f, req, strlen(req), r);
	free(req);
	return rc;
}

/* The value of a header in a response head, or NULL (static buffer). */
static inline const char *fx_header(const struct resp *r, const char *name)
{
	static char val[512];
	size_t n = strlen(name);
	for (const char *p = r->head; p && (p = strstr(p, "\r\n")); p += 2) {
		if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':') {
			const char *v = p + 3 + n;
			while (*v == ' ')
				v++;
			size_t l = strcspn(v, "\r");
			if (l >= sizeof(val))
				l = sizeof(val) - 1;
			memcpy(val, v, l);
			val[l] = 0;
			return val;
		}
	}
	return NULL;
}

#endif
