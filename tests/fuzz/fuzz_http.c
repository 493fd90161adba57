/* libFuzzer target: the HTTP request path of `kickfleet serve`, whole:
 * each input is the raw bytes a client sends on one connection (one or
 * more pipelined requests), handed to the real server (libmicrohttpd's
 * parser, the unescape hook, routing, the path and header checks, query
 * and token parsing, the kickstart, profile, callback, facts and
 * discovery handlers with their bodies, static files) over a socket
 * pair, the server run in this thread until it lets the connection go.
 * "@@TOKEN_kvm01@@" (any host of tests/data/http/fleet) in an input
 * becomes that host's install token and "@@CRED_kvm01@@" its agent
 * credential, so that the fuzzer reaches the routes behind them; the seeds are the hostile corpus tests/data/http/corpus.
 * The fleet is rendered once into a temporary directory (under /dev/shm
 * when there is one: callbacks write the state store).  Must never
 * crash, leak or hang.  `make fuzz` runs it for longer; `make check`
 * briefly. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inventory.h"
#include "provision/render.h"
#include "provision/serve.h"
#include "provision/state.h"
#include "util.h"

static struct kf_serve *srv;
static struct kf_inventory *inv;
static char dir[64];

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb, (void)type, (void)ftw;
	return remove(p);
}

static void cleanup(void)
{
	kf_serve_free(srv);
	kf_inventory_free(inv);
	if (dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, struct kf_err *e)
{
	fprintf(stderr, "fuzz_http: %s\n", what);
	if (e)
		kf_err_print(e, stderr);
	exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	const char *top = getenv("TOP");
	snprintf(dir, sizeof(dir), "%s/kf-fuzz-http.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		die("cannot create a temporary directory", NULL);
	atexit(cleanup);
	char *fleet = kf_xasprintf("%s/tests/data/http/fleet/fleet.yaml", top && *top ? top : ".");
	struct kf_err e = KF_ERR_INIT, warn = KF_ERR_INIT;
	if (kf_inventory_load(&inv, fleet, &e) < 0)
		die("cannot load the test fleet (run from the source tree or set TOP)", &e);
	free(fleet);
	struct kf_render_opts ro = { .outdir = dir };
	struct kf_render_stats rs = { 0 };
	if (kf_render_all(inv, &ro, &rs, &warn, &e) < 0)
		die("cannot render the test fleet", &e);
	kf_err_release(&warn);
	char *p = kf_xasprintf("%s/tftp/pxelinux.0", dir);
	if (kf_write_atomic(p, "pxelinux", 8, 0644) < 0)
		die("cannot write a boot file", NULL);
	free(p);
	kf_log_level = KF_LOG_ERR; /* every refusal is a warning: keep them quiet */
	struct kf_serve_opts o = { .listen_addr = "127.0.0.1", .port_set = true, .outdir = dir,
				   .agent_path = "/dev/null", .external = true,
				   .render = kf_serve_render_default,
				   .rate = { KF_HTTPD_UNLIMITED, KF_HTTPD_UNLIMITED, KF_HTTPD_UNLIMITED } };
	if (kf_serve_start(&srv, inv, &o, &e) < 0)
		die("cannot start the server", &e);
	kf_err_release(&e);
	return 0;
}

/* The input with @@TOKEN_host@@ replaced by the host's install token and
 * @@CRED_host@@ by its agent credential (a host the store does not know:
 * left as it is). */
static char *with_tokens(const char *in, size_t len, size_t *outlen)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_state *st = kf_serve_state(srv, NULL);
	for (size_t i = 0; i < len;) {
		const char *t = memmem(in + i, len - i, "@@TOKEN_", 8);
		const char *c = memmem(in + i, len - i, "@@CRED_", 7);
		bool cred = c && (!t || c < t);
		const char *m = cred ? c : t;
		const char *name = m ? m + (cred ? 7 : 8) : NULL;
		const char *end = m ? memmem(name, len - (size_t)(name - in), "@@", 2) : NULL;
		if (!end || end - name > 63) {
			kf_buf_add(&b, in + i, len - i);
			break;
		}
		kf_buf_add(&b, in + i, (size_t)(m - (in + i)));
		char host[64], secret[KF_TOKEN_HEX + 1];
		snprintf(host, sizeof(host), "%.*s", (int)(end - name), name);
		struct kf_host_rec rec = { 0 };
		if (st && kf_state_get_host(st, host, &rec, NULL) == 0 &&
		    (!cred || kf_state_cred_install(st, host, secret, NULL) >= 0)) {
			kf_serve_wrote(srv);
			kf_buf_puts(&b, cred ? secret : rec.token);
		} else {
			kf_buf_add(&b, m, (size_t)(end + 2 - m));
		}
		kf_host_rec_release(&rec);
		i = (size_t)(end + 2 - in);
	}
	*outlen = b.len;
	return kf_buf_detach(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;
	char *req = with_tokens((const char *)data, size, &len);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	struct kf_httpd *h = kf_serve_http(srv);
	if (kf_httpd_add(h, sv[1]) < 0) {
		close(sv[0]);
		free(req);
		return 0;
	}
	/* feed the input while the server reads, then read its answers
	 * until it hangs up (our side half-closed, so it does once it has
	 * answered), or until nothing moves for a while (a server that stops
	 * reading a body it refused): then our side closes too */
	size_t off = 0;
	char buf[65536];
	for (int idle = 0; idle < 64;) {
		bool moved = false;
		if (off < len) {
			ssize_t n = send(sv[0], req + off, len - off, MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n, moved = true;
			else if (n < 0 && errno != EAGAIN)
				off = len;
			if (off == len)
				shutdown(sv[0], SHUT_WR);
		} else if (!len) {
			shutdown(sv[0], SHUT_WR);
		}
		unsigned left = kf_httpd_run(h);
		while (recv(sv[0], buf, sizeof(buf), 0) > 0)
			moved = true;
		if (!left)
			break;
		idle = moved ? 0 : idle + 1;
	}
	close(sv[0]);
	/* the connection is gone: the server must let it go at once */
	int rounds = 0;
	while (kf_httpd_run(h))
		if (++rounds > 100000)
			abort();
	free(req);
	return 0;
}
