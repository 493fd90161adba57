/* Unit tests: the hostile request corpus (tests/data/http/corpus/NAME.req,
 * made by tests/data/http/gen.sh) against a live server on 127.0.0.1.
 * Each case must get the status listed in corpus/expected, no answer may
 * leak a kickstart or a token, the server must keep answering, and its
 * memory must stay bounded.  KF_CORPUS_PRINT=1 prints what each case got. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>

#include "http_fixture.h"

static int setup(void **state)
{
	struct fx *f = kf_xcalloc(1, sizeof(*f));
	/* each case alone decides its status: the per-address rate limits
	 * (which the token cases would reach) are test_http_limits.c's */
	f->tune.rate[KF_LIMIT_AUTH] = KF_HTTPD_UNLIMITED;
	f->tune.rate[KF_LIMIT_CALLBACK] = KF_HTTPD_UNLIMITED;
	assert_int_equal(fx_start(f, 3), 0);
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

/* The next mark at or after in[i]: @@TOKEN_host@@ (host's install token)
 * or @@CRED_host@@ (its agent credential); *cred says which. */
static const char *next_mark(const char *in, size_t len, size_t i, bool *cred)
{
	const char *t = memmem(in + i, len - i, "@@TOKEN_", 8);
	const char *c = memmem(in + i, len - i, "@@CRED_", 7);
	*cred = c && (!t || c < t);
	return *cred ? c : t;
}

/* Replaces each mark with the host's secret. */
static char *subst_tokens(struct fx *f, const char *in, size_t len, size_t *outlen)
{
	struct kf_buf b = KF_BUF_INIT;
	for (size_t i = 0; i < len;) {
		bool cred;
		const char *m = next_mark(in, len, i, &cred);
		if (!m) {
			kf_buf_add(&b, in + i, len - i);
			break;
		}
		kf_buf_add(&b, in + i, (size_t)(m - (in + i)));
		const char *name = m + (cred ? 7 : 8);
		const char *end = memmem(name, len - (size_t)(name - in), "@@", 2);
		assert_non_null(end);
		char host[64];
		snprintf(host, sizeof(host), "%.*s", (int)(end - name), name);
		char tok[KF_TOKEN_HEX + 1];
		if (cred)
			fx_cred(f, host, tok);
		else
			fx_token(f, host, tok);
		kf_buf_puts(&b, tok);
		i = (size_t)(end + 2 - in);
	}
	*outlen = b.len;
	return kf_buf_detach(&b);
}

static long rss_kib(void)
{
	char *s = NULL;
	size_t n;
	long v = -1;
	if (kf_read_file("/proc/self/status", 1 << 16, &s, &n) == 0) {
		char *p = strstr(s, "VmRSS:");
		if (p)
			v = strtol(p + 6, NULL, 10);
	}
	free(s);
	return v;
}

static bool status_ok(const char *want, int got)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", want);
	for (char *save = NULL, *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
		if (!strcmp(t, "close") ? got == 0 : atoi(t) == got)
			return true;
	}
	return false;
}

static void test_corpus(void **state)
{
	struct fx *f = *state;
	char *dir = kf_xasprintf("%s/tests/data/http/corpus", fx_top());
	char *exp_path = kf_xasprintf("%s/expected", dir), *expected = NULL;
	size_t elen;
	assert_int_equal(kf_read_file(exp_path, 1 << 20, &expected, &elen), 0);
	bool print = getenv("KF_CORPUS_PRINT") != NULL;
	long rss0 = rss_kib();
	int ncases = 0, bad = 0;
	char tok[KF_TOKEN_HEX + 1];
	fx_token(f, "kvm01", tok);
	for (int round = 0; round < 3; round++) {
		DIR *d = opendir(dir);
		assert_non_null(d);
		struct dirent *de;
		while ((de = readdir(d))) {
			size_t nl = strlen(de->d_name);
			if (nl < 5 || strcmp(de->d_name + nl - 4, ".req"))
				continue;
			char name[256];
			snprintf(name, sizeof(name), "%.*s", (int)(nl - 4), de->d_name);
			char *p = kf_xasprintf("%s/%s", dir, de->d_name), *raw = NULL;
			size_t len, slen;
			assert_int_equal(kf_read_file(p, 1 << 24, &raw, &len), 0);
			char *req = subst_tokens(f, raw, len, &slen);
			struct resp r;
			assert_int_equal(fx_raw(f, req, slen, &r), 0);
			/* the expected line: "NAME STATUS" */
			char key[300], want[64] = "";
			snprintf(key, sizeof(key), "\n%s ", name);
			const char *line = strstr(expected, key);
			if (line)
				sscanf(line + strlen(key), "%63s", want);
			if (round == 0) {
				ncases++;
				if (print)
					printf("%s %d\n", name, r.status);
				if (!*want || !status_ok(want, r.status)) {
					printf("corpus: %s: got %d, want %s\n", name, r.status, *want ? want : "(no entry)");
					bad++;
				}
			}
			/* nothing secret in any answer */
			if (memmem(r.body, r.body_len, "testhash", 8) || memmem(r.body, r.body_len, tok, KF_TOKEN_HEX)) {
				printf("corpus: %s: the answer leaks a kickstart or a token\n", name);
				bad++;
			}
			resp_release(&r);
			free(req);
			free(raw);
			free(p);
			/* still alive */
			assert_int_equal(fx_get(f, "/healthz", &r), 0);
			assert_int_equal(r.status, 200);
			resp_release(&r);
		}
		closedir(d);
	}
	long rss1 = rss_kib();
	printf("corpus: %d cases x 3 rounds, RSS %ld KiB -> %ld KiB\n", ncases, rss0, rss1);
	assert_true(ncases >= 30);
	assert_int_equal(bad, 0);
	/* bounded: three rounds of hostile input cost less than 32 MiB */
	assert_true(rss1 - rss0 < 32 * 1024);
	/* the kvm01 host was not moved by any of it */
	struct kf_host_rec h = fx_host(f, "kvm01");
	assert_int_equal(h.state, KF_ST_NEW);
	assert_int_equal(h.report == NULL, 1);
	kf_host_rec_release(&h);
	free(expected);
	free(exp_path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_corpus, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
