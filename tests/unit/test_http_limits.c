/* Unit tests: the server's limits against hostile clients on 127.0.0.1
 * (real libmicrohttpd, real sockets): connections per client, slow
 * requests (slowloris), header floods, token guessing, callback floods.
 * Each refusal must be answered, logged and counted in /metrics, and
 * other clients must keep being served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_fixture.h"

static int setup(void **state)
{
	struct fx *f = kf_xcalloc(1, sizeof(*f));
	f->tune.client_conns = 8;
	f->tune.request_timeout = 2;
	f->tune.rate[KF_LIMIT_AUTH] = 5;
	f->tune.rate[KF_LIMIT_CALLBACK] = 4;
	/* the idle timeout stays longer than the request deadline: the
	 * deadline, not MHD's idle timeout, must cut the slow client */
	assert_int_equal(fx_start(f, 10), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fx_stop(f);
	free(f);
	return 0;
}

/* The value of a /metrics sample ("name{labels}"), -1 when absent. */
static long metric(struct fx *f, const char *sample)
{
	const char *src = f->src;
	f->src = NULL;
	struct resp r;
	assert_int_equal(fx_get(f, "/metrics", &r), 0);
	f->src = src;
	char *key = kf_xasprintf("\n%s ", sample);
	const char *p = strstr(r.body, key);
	long v = p ? strtol(p + strlen(key), NULL, 10) : -1;
	free(key);
	resp_release(&r);
	return v;
}

static bool log_has(struct fx *f, const char *what)
{
	char *log = fx_log(f);
	bool has = strstr(log, what) != NULL;
	free(log);
	return has;
}

static int status_of(struct fx *f, const char *path)
{
	struct resp r;
	assert_int_equal(fx_get(f, path, &r), 0);
	int st = r.status;
	resp_release(&r);
	return st;
}

/* One address holds at most 8 connections: the 9th gets a 503 at once;
 * another address is still served, and so is the first once it lets go. */
static void test_client_connections(void **state)
{
	struct fx *f = *state;
	f->src = "127.0.0.2";
	int fds[8];
	for (int i = 0; i < 8; i++)
		assert_true((fds[i] = fx_connect(f)) >= 0);
	struct resp r;
	assert_int_equal(fx_get(f, "/healthz", &r), 0);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "too many connections from this address"));
	resp_release(&r);
	f->src = "127.0.0.3";
	assert_int_equal(status_of(f, "/healthz"), 200);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	f->src = "127.0.0.2";
	int st = 0;
	for (int i = 0; i < 50 && st != 200; i++) { /* the server sees the closes */
		st = status_of(f, "/healthz");
		if (st != 200)
			usleep(20000);
	}
	assert_int_equal(st, 200);
	assert_true(metric(f, "kickfleet_http_refused_total{reason=\"client_connections\"}") >= 1);
	assert_true(log_has(f, "503 to 127.0.0.2: too many connections from this address"));
}

/* A client that sends its headers one byte at a time, never idle for
 * long, is cut off at the request deadline (2 s), well before MHD's idle
 * timeout (10 s); clients meanwhile are served. */
static void test_slow_request(void **state)
{
	struct fx *f = *state;
	int fd = fx_connect(f);
	assert_true(fd >= 0);
	const char *head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bool cut = false;
	for (size_t i = 0; head[i] && !cut; i++) {
		if (send(fd, head + i, 1, MSG_NOSIGNAL) != 1)
			cut = true;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 200) > 0)
			cut = true; /* EOF: the server hung up */
		if (i == 3)
			assert_int_equal(status_of(f, "/healthz"), 200);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	close(fd);
	assert_true(cut);
	assert_true(took >= 1.5 && took < 5.0);
	assert_int_equal(metric(f, "kickfleet_http_refused_total{reason=\"slow_request\"}"), 1);
	assert_true(log_has(f, "closed a connection from 127.0.0.1: request not complete in time (slow client)"));
	/* a keep-alive client that answers in time is not cut */
	assert_int_equal(status_of(f, "/healthz"), 200);
}

/* More than 64 header lines, each tiny (the whole head well under the
 * 8 KiB memory limit): 431, logged, counted. */
static void test_header_flood(void **state)
{
	struct fx *f = *state;
	struct kf_buf b = KF_BUF_INIT;
	kf_buf_puts(&b, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
	for (int i = 0; i < 70; i++)
		kf_buf_printf(&b, "X%d: 1\r\n", i);
	kf_buf_puts(&b, "\r\n");
	struct resp r;
	assert_int_equal(fx_raw(f, b.s, b.len, &r), 0);
	assert_int_equal(r.status, 431);
	resp_release(&r);
	kf_buf_release(&b);
	assert_int_equal(metric(f, "kickfleet_http_refused_total{reason=\"too_many_headers\"}"), 1);
	assert_true(log_has(f, "431 GET /healthz from 127.0.0.1: 72 header lines (at most 64)"));
}

/* Token guessing: after 5 failed checks in a minute an address gets 429
 * even with the right token; another address is not affected. */
static void test_token_guessing(void **state)
{
	struct fx *f = *state;
	char t[KF_TOKEN_HEX + 1];
	fx_token(f, "kvm01", t);
	f->src = "127.0.0.2";
	for (int i = 0; i < 5; i++) {
		char *p = kf_xasprintf("/ks/kvm01?token=%064d", i);
		assert_int_equal(status_of(f, p), 403);
		free(p);
	}
	char *good = kf_xasprintf("/ks/kvm01?token=%s", t);
	assert_int_equal(status_of(f, "/ks/kvm01?token=00"), 429);
	assert_int_equal(status_of(f, good), 429);
	f->src = "127.0.0.3";
	assert_int_equal(status_of(f, good), 200);
	free(good);
	assert_int_equal(metric(f, "kickfleet_rate_limited_total{limit=\"auth\"}"), 2);
	char *log = fx_log(f);
	const char *line = "429 GET /ks/kvm01 from 127.0.0.2: more than 5 failed token checks from this address a minute";
	const char *first = strstr(log, line);
	assert_non_null(first);
	assert_null(strstr(first + 1, line)); /* said once a minute */
	assert_null(strstr(log, t));
	free(log);
}

/* A host's callbacks: 4 a minute here; the 5th is 429 and changes nothing. */
static void test_callback_flood(void **state)
{
	struct fx *f = *state;
	char t[KF_TOKEN_HEX + 1], c[KF_TOKEN_HEX + 1];
	fx_cred(f, "kvm02", c);
	char *p = kf_xstrdup("/cb/kvm02/report");
	char *auth = kf_xasprintf("Authorization: Bearer %s\r\n", c);
	const char *body = "{\"drift\": 0, \"failures\": 0}";
	struct resp r;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(fx_req(f, "POST", p, auth, body, &r), 0);
		assert_int_equal(r.status, 200);
		resp_release(&r);
	}
	assert_int_equal(fx_req(f, "POST", p, auth, "{\"drift\": 1, \"failures\": 0}", &r), 0);
	free(auth);
	assert_int_equal(r.status, 429);
	assert_non_null(fx_header(&r, "Retry-After"));
	resp_release(&r);
	free(p);
	struct kf_host_rec h = fx_host(f, "kvm02");
	assert_int_equal(h.state, KF_ST_CONFIGURED); /* not drifted: the 5th was refused */
	kf_host_rec_release(&h);
	assert_int_equal(metric(f, "kickfleet_rate_limited_total{limit=\"callback\"}"), 1);
	assert_true(log_has(f, "more than 4 callbacks of this host a minute (kvm02;"));
	/* another host is not limited by it */
	fx_token(f, "kvm01", t);
	p = kf_xasprintf("/cb/kvm01/installing?token=%s", t);
	assert_int_equal(fx_req(f, "POST", p, NULL, "", &r), 0);
	assert_int_equal(r.status, 200);
	resp_release(&r);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_client_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_guessing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_flood, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
