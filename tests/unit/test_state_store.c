/* Unit tests: the state store (provision/state.c) on each backend: SQLite
 * on a real file in a temp directory, and PostgreSQL when
 * KF_TEST_PG_DSN_FILE names a DSN file of a server the caller started
 * (tests/suites/42-state-pg.sh does, with PGHOST etc. set for psql, which
 * empties its public schema before each case). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>

#include "provision/state_backend.h"
#include "util.h"

struct fx {
	char dir[64];
	char *path;
	struct kf_state *st;
};

/* a report's flags, without version or exit code */
#define RI(d, f) (&(struct kf_report_info){ .drifted = (d), .failed = (f), .exit_code = -1 })

static const char *pg_dsn_file; /* set: the PostgreSQL group runs */

static int setup(void **state)
{
	struct fx *f = kf_xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/kf-state-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->path = kf_xasprintf("%s/state.db", f->dir);
	if (pg_dsn_file) {
		free(f->path);
		f->path = kf_xasprintf("postgresql:%s", pg_dsn_file);
		assert_int_equal(system("psql -X -q -v ON_ERROR_STOP=1 -c "
					"'DROP SCHEMA public CASCADE; CREATE SCHEMA public' "
					">/dev/null 2>&1"), 0);
	}
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_state_open(&f->st, f->path, &e), 0);
	kf_err_release(&e);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	kf_state_close(f->st);
	char *cmd = kf_xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f->path);
	free(f);
	return 0;
}

/* macs: "a,b" */
static void put(struct kf_state *st, const char *name, const char *macs)
{
	char buf[256], *save = NULL;
	const char *v[8];
	size_t n = 0;
	snprintf(buf, sizeof(buf), "%s", macs);
	for (char *m = strtok_r(buf, ",", &save); m && n < 8; m = strtok_r(NULL, ",", &save))
		v[n++] = m;
	struct kf_host_rec h = { .name = (char *)name, .macs = v, .nmacs = n, .role = "kvm-host",
				 .netboot = 1 };
	assert_int_equal(kf_state_put_host(st, &h, NULL), 0);
}

static void test_put_get_roundtrip(void **state)
{
	struct fx *f = *state;
	struct kf_host_rec h = { .name = "kvm01", .kind = KF_KIND_GUEST,
				 .macs = (const char *[]){ "52:54:00:aa:00:01" }, .nmacs = 1,
				 .role = "web", .state = KF_ST_INSTALLING, .state_since = 42,
				 .netboot = 1, .token_gen = 3, .report = "{\"a\":1}", .drift_count = 2 };
	strcpy(h.token, "ab12");
	strcpy(h.digest, "dd");
	assert_int_equal(kf_state_put_host(f->st, &h, NULL), 0);
	struct kf_host_rec g;
	assert_int_equal(kf_state_get_host(f->st, "kvm01", &g, NULL), 0);
	assert_string_equal(g.name, "kvm01");
	assert_int_equal(g.kind, KF_KIND_GUEST);
	assert_int_equal(g.nmacs, 1);
	assert_string_equal(g.macs[0], "52:54:00:aa:00:01");
	assert_string_equal(g.role, "web");
	assert_int_equal(g.state, KF_ST_INSTALLING);
	assert_int_equal(g.state_since, 42);
	assert_true(g.created > 0);
	assert_string_equal(g.token, "ab12");
	assert_int_equal(g.token_gen, 3);
	assert_string_equal(g.digest, "dd");
	assert_string_equal(g.report, "{\"a\":1}");
	assert_int_equal(g.drift_count, 2);
	kf_host_rec_release(&g);
	assert_int_equal(kf_state_get_host(f->st, "nope", &g, NULL), -ENOENT);
}

static void test_find_mac_any_case(void **state)
{
	struct fx *f = *state;
	put(f->st, "a", "52:54:00:aa:00:01,52:54:00:aa:01:01");
	put(f->st, "b", "52:54:00:aa:00:02");
	struct kf_host_rec g;
	assert_int_equal(kf_state_find_mac(f->st, "52:54:00:AA:01:01", &g, NULL), 0);
	assert_string_equal(g.name, "a");
	kf_host_rec_release(&g);
	/* a MAC moved to another host follows it */
	put(f->st, "b", "52:54:00:aa:00:02,52:54:00:aa:01:01");
	put(f->st, "a", "52:54:00:aa:00:01");
	assert_int_equal(kf_state_find_mac(f->st, "52:54:00:aa:01:01", &g, NULL), 0);
	assert_string_equal(g.name, "b");
	kf_host_rec_release(&g);
	assert_int_equal(kf_state_delete_host(f->st, "b", NULL), 0);
	assert_int_equal(kf_state_find_mac(f->st, "52:54:00:aa:01:01", &g, NULL), -ENOENT);
	assert_int_equal(kf_state_delete_host(f->st, "b", NULL), -ENOENT);
}

static void test_state_changes_are_idempotent(void **state)
{
	struct fx *f = *state;
	put(f->st, "kvm01", "52:54:00:aa:00:01");
	assert_int_equal(kf_state_set_state(f->st, "kvm01", KF_ST_INSTALLING, "ks fetched", NULL), 1);
	assert_int_equal(kf_state_set_state(f->st, "kvm01", KF_ST_INSTALLING, NULL, NULL), 0);
	assert_int_equal(kf_state_set_state(f->st, "kvm01", KF_ST_INSTALLED, NULL, NULL), 1);
	struct kf_host_rec g;
	assert_int_equal(kf_state_get_host(f->st, "kvm01", &g, NULL), 0);
	assert_int_equal(g.state, KF_ST_INSTALLED);
	assert_int_equal(g.netboot, 0); /* installed flips to local boot */
	kf_host_rec_release(&g);
	assert_int_equal(kf_state_set_state(f->st, "kvm01", KF_ST_INSTALLED, NULL, NULL), 0);
	/* reinstall */
	assert_int_equal(kf_state_set_netboot(f->st, "kvm01", 1, NULL), 1);
	assert_int_equal(kf_state_set_netboot(f->st, "kvm01", 1, NULL), 0);
	assert_int_equal(kf_state_get_host(f->st, "kvm01", &g, NULL), 0);
	assert_int_equal(g.state, KF_ST_NEW);
	assert_int_equal(g.netboot, 1);
	kf_host_rec_release(&g);
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_state_set_state(f->st, "ghost", KF_ST_BOOTING, NULL, &e), -ENOENT);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0].text, "unknown host \"ghost\""));
	kf_err_release(&e);
	assert_int_equal(kf_state_set_state(f->st, "kvm01", 99, NULL, NULL), -EINVAL);

	struct kf_event *ev;
	size_t n;
	assert_int_equal(kf_state_list_events(f->st, "kvm01", 0, &ev, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ev[0].detail, "new -> installing: ks fetched");
	assert_string_equal(ev[1].detail, "installing -> installed");
	assert_string_equal(ev[2].what, "netboot");
	kf_events_free(ev, n);
	assert_int_equal(kf_state_list_events(f->st, NULL, 1, &ev, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ev[0].what, "netboot");
	kf_events_free(ev, n);
}

static void test_tokens(void **state)
{
	struct fx *f = *state;
	put(f->st, "kvm01", "52:54:00:aa:00:01");
	char t1[KF_TOKEN_HEX + 1], t2[KF_TOKEN_HEX + 1];
	assert_int_equal(kf_state_rotate_token(f->st, "kvm01", t1, NULL), 0);
	assert_int_equal(strlen(t1), KF_TOKEN_HEX);
	assert_int_equal(strspn(t1, "0123456789abcdef"), KF_TOKEN_HEX);
	assert_int_equal(kf_state_rotate_token(f->st, "kvm01", t2, NULL), 0);
	assert_string_not_equal(t1, t2);
	struct kf_host_rec g;
	assert_int_equal(kf_state_get_host(f->st, "kvm01", &g, NULL), 0);
	assert_string_equal(g.token, t2);
	assert_int_equal(g.token_gen, 2);
	assert_true(g.token_issued > 0);
	kf_host_rec_release(&g);
	assert_true(kf_token_equal(t2, t2));
	assert_false(kf_token_equal(t1, t2));
	assert_false(kf_token_equal(t1, ""));
	assert_false(kf_token_equal(NULL, t1));
	char shorter[KF_TOKEN_HEX];
	memcpy(shorter, t1, KF_TOKEN_HEX - 1);
	shorter[KF_TOKEN_HEX - 1] = 0;
	assert_false(kf_token_equal(t1, shorter));
	assert_int_equal(kf_state_rotate_token(f->st, "ghost", NULL, NULL), -ENOENT);
}

/* Agent credentials: minted with the kickstart (the same one while the
 * install is open), only a hash once installed, rotation with handout and
 * pickup, the verdicts, export and import, gone with the host. */
static void test_credentials(void **state)
{
	struct fx *f = *state;
	put(f->st, "kvm01", "52:54:00:aa:00:01");
	struct kf_cred c;
	assert_int_equal(kf_state_get_cred(f->st, "kvm01", &c, NULL), 0);
	assert_string_equal(c.hash, ""); /* none yet */
	assert_int_equal(kf_cred_check(&c, "x", 0, 0), KF_CRED_NONE);
	assert_int_equal(kf_state_get_cred(f->st, "ghost", &c, NULL), -ENOENT);
	assert_int_equal(kf_state_cred_install(f->st, "ghost", (char[KF_TOKEN_HEX + 1]){ 0 }, NULL), -ENOENT);
	assert_int_equal(kf_state_cred_rotate(f->st, "kvm01", NULL), -ENOKEY);

	char a[KF_TOKEN_HEX + 1], a2[KF_TOKEN_HEX + 1], b[KF_TOKEN_HEX + 1], hex[KF_DIGEST_HEX + 1];
	struct kf_err e = KF_ERR_INIT;
	int r = kf_state_cred_install(f->st, "kvm01", a, &e);
	kf_err_print(&e, stderr);
	kf_err_release(&e);
	assert_int_equal(r, 1);
	assert_int_equal(kf_state_cred_install(f->st, "kvm01", a2, NULL), 0);
	assert_string_equal(a, a2);
	assert_int_equal(kf_state_set_state(f->st, "kvm01", KF_ST_INSTALLED, NULL, NULL), 1);
	assert_int_equal(kf_state_get_cred(f->st, "kvm01", &c, NULL), 0);
	kf_cred_hash(a, hex);
	assert_string_equal(c.hash, hex);
	assert_string_equal(c.pending, ""); /* the store keeps no credential now */
	assert_int_equal(c.gen, 1);
	assert_int_equal(kf_cred_check(&c, a, 0, 0), KF_CRED_OK);
	a2[3] = a2[3] == '0' ? '1' : '0';
	assert_int_equal(kf_cred_check(&c, a2, 0, 0), KF_CRED_WRONG);
	assert_int_equal(kf_cred_check(&c, "", 0, 0), KF_CRED_WRONG);

	/* a rotation: handed out, picked up; only the last handout counts */
	assert_int_equal(kf_state_cred_handout(f->st, "kvm01", b, NULL), -EALREADY);
	assert_int_equal(kf_state_cred_rotate(f->st, "kvm01", NULL), 0);
	assert_int_equal(kf_state_cred_handout(f->st, "kvm01", a2, NULL), 0);
	assert_int_equal(kf_state_cred_handout(f->st, "kvm01", b, NULL), 0);
	assert_int_equal(kf_state_get_cred(f->st, "kvm01", &c, NULL), 0);
	assert_true(c.rotated > 0);
	assert_int_equal(kf_cred_check(&c, a, c.rotated + 5, 0), KF_CRED_OK);
	assert_int_equal(kf_cred_check(&c, a, c.rotated + 5, 3), KF_CRED_EXPIRED);
	assert_int_equal(kf_cred_check(&c, a2, 0, 0), KF_CRED_WRONG);
	assert_int_equal(kf_cred_check(&c, b, 0, 0), KF_CRED_NEXT);
	assert_int_equal(kf_state_cred_pickup(f->st, "kvm01", NULL), 0);
	assert_int_equal(kf_state_cred_pickup(f->st, "kvm01", NULL), 0); /* twice: nothing */
	assert_int_equal(kf_state_get_cred(f->st, "kvm01", &c, NULL), 0);
	assert_int_equal(kf_cred_check(&c, b, 0, 0), KF_CRED_OK);
	assert_int_equal(kf_cred_check(&c, a, 0, 0), KF_CRED_OLD);
	assert_int_equal(c.rotated, 0);
	assert_int_equal(c.gen, 2);

	/* export carries the table; import into a fresh store gives it back */
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	assert_int_equal(kf_state_export(f->st, mem, KF_DUMP_LINES, NULL), 0);
	fclose(mem);
	assert_non_null(strstr(text, "\"table\":\"credentials\""));
	assert_null(strstr(text, b)); /* hashes only */
	char *other = kf_xasprintf("%s/other.db", f->dir);
	struct kf_state *st2 = NULL;
	size_t rows = 0;
	assert_int_equal(kf_state_open(&st2, other, NULL), 0);
	r = kf_state_import(st2, text, len, &rows, &e);
	kf_err_print(&e, stderr);
	kf_err_release(&e);
	assert_int_equal(r, 0);
	struct kf_cred c2;
	assert_int_equal(kf_state_get_cred(st2, "kvm01", &c2, NULL), 0);
	assert_memory_equal(&c, &c2, sizeof(c));
	kf_state_close(st2);
	free(other);
	free(text);

	/* a new install token drops a pending credential; the host's delete
	 * drops its row */
	assert_int_equal(kf_state_set_netboot(f->st, "kvm01", 1, NULL), 1);
	assert_int_equal(kf_state_cred_install(f->st, "kvm01", a, NULL), 1);
	assert_int_equal(kf_state_rotate_token(f->st, "kvm01", NULL, NULL), 0);
	assert_int_equal(kf_state_get_cred(f->st, "kvm01", &c, NULL), 0);
	assert_string_equal(c.pending, "");
	assert_int_equal(kf_state_cred_install(f->st, "kvm01", a2, NULL), 1);
	assert_string_not_equal(a, a2);
	assert_int_equal(kf_state_delete_host(f->st, "kvm01", NULL), 0);
	put(f->st, "kvm01", "52:54:00:aa:00:01");
	assert_int_equal(kf_state_get_cred(f->st, "kvm01", &c, NULL), 0);
	assert_string_equal(c.hash, "");
}

static void test_reports(void **state)
{
	struct fx *f = *state;
	put(f->st, "kvm01", "52:54:00:aa:00:01");
	assert_int_equal(kf_state_record_report(f->st, "kvm01", "{\"changes\":0}", RI(0, 0), NULL), 0);
	assert_int_equal(kf_state_record_report(f->st, "kvm01", "{\"changes\":3}", RI(1, 0), NULL), 0);
	assert_int_equal(kf_state_record_report(f->st, "kvm01", "{\"changes\":3}", RI(1, 0), NULL), 0);
	struct kf_host_rec g;
	assert_int_equal(kf_state_get_host(f->st, "kvm01", &g, NULL), 0);
	assert_int_equal(g.state, KF_ST_DRIFTED);
	assert_int_equal(g.drift_count, 2);
	assert_string_equal(g.report, "{\"changes\":3}");
	assert_true(g.report_time > 0);
	assert_string_equal(g.agent_version, ""); /* those reports named none */
	assert_int_equal(g.last_exit, -1);
	kf_host_rec_release(&g);
	struct kf_report_info ri = { .failed = 1, .exit_code = 4, .agent_version = "0.1.0" };
	assert_int_equal(kf_state_record_report(f->st, "kvm01", "{}", &ri, NULL), 0);
	assert_int_equal(kf_state_get_host(f->st, "kvm01", &g, NULL), 0);
	assert_int_equal(g.state, KF_ST_FAILED);
	assert_string_equal(g.agent_version, "0.1.0");
	assert_int_equal(g.last_exit, 4);
	kf_host_rec_release(&g);
}

static void test_batch_rollback_and_list(void **state)
{
	struct fx *f = *state;
	assert_int_equal(kf_state_begin(f->st, NULL), 0);
	assert_int_equal(kf_state_begin(f->st, NULL), -EBUSY);
	put(f->st, "c", "52:54:00:00:00:03");
	put(f->st, "a", "52:54:00:00:00:01");
	assert_int_equal(kf_state_end(f->st, 1, NULL), 0);
	assert_int_equal(kf_state_begin(f->st, NULL), 0);
	put(f->st, "b", "52:54:00:00:00:02");
	assert_int_equal(kf_state_end(f->st, 0, NULL), 0);
	assert_int_equal(kf_state_end(f->st, 1, NULL), -EINVAL);
	struct kf_host_rec *v;
	size_t n;
	assert_int_equal(kf_state_list_hosts(f->st, &v, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "a");
	assert_string_equal(v[1].name, "c");
	kf_host_recs_free(v, n);
	/* render's listing: name, netboot, token and digest of every row */
	struct kf_host_rec h = { .name = "c", .macs = (const char *[]){ "52:54:00:00:00:03" },
				 .nmacs = 1, .role = "kvm-host",
				 .netboot = 0, .token_gen = 1 };
	strcpy(h.token, "0123abcd");
	strcpy(h.digest, "feed");
	assert_int_equal(kf_state_put_host(f->st, &h, NULL), 0);
	struct kf_host_digest *d;
	assert_int_equal(kf_state_list_digests(f->st, &d, &n, NULL), 0);
	assert_int_equal(n, 2);
	size_t ci = strcmp(d[0].name, "c") ? 1 : 0;
	assert_string_equal(d[ci].name, "c");
	assert_string_equal(d[1 - ci].name, "a");
	assert_int_equal(d[ci].netboot, 0);
	assert_int_equal(d[1 - ci].netboot, 1);
	assert_string_equal(d[ci].token, "0123abcd");
	assert_string_equal(d[ci].digest, "feed");
	assert_string_equal(d[1 - ci].digest, "");
	free(d);
}

/* Render reads a row, a callback on another connection changes it, render
 * writes its digest: the callback's state change is kept. */
static void test_put_render_keeps_callbacks(void **state)
{
	struct fx *f = *state;
	struct kf_host_rec h = { .name = "kvm01", .macs = (const char *[]){ "52:54:00:aa:00:01" },
				 .nmacs = 1, .role = "kvm-host",
				 .state = KF_ST_NEW, .state_since = 7, .netboot = 1, .token_gen = 1 };
	strcpy(h.token, "t1");
	strcpy(h.digest, "d1");
	assert_int_equal(kf_state_put_render(f->st, &h, true, NULL), 0); /* a new row: all of h */
	struct kf_host_rec seen;
	assert_int_equal(kf_state_get_host(f->st, "kvm01", &seen, NULL), 0); /* render reads */
	assert_int_equal(seen.state, KF_ST_NEW);

	struct kf_state *other = NULL; /* kickfleet serve */
	assert_int_equal(kf_state_open(&other, f->path, NULL), 0);
	assert_int_equal(kf_state_set_state(other, "kvm01", KF_ST_INSTALLED, "callback", NULL), 1);
	assert_int_equal(kf_state_record_report(other, "kvm01", "{\"drift\":1}", RI(1, 0), NULL), 0);
	kf_state_close(other);

	/* render writes back what it read, with a new digest and MAC */
	const char *const *read_macs = seen.macs;
	seen.macs = (const char *[]){ "52:54:00:aa:00:02" };
	seen.nmacs = 1;
	strcpy(seen.digest, "d2");
	strcpy(seen.token, "stale");
	assert_int_equal(kf_state_put_render(f->st, &seen, false, NULL), 0);
	seen.macs = read_macs;
	kf_host_rec_release(&seen);
	struct kf_host_rec g;
	assert_int_equal(kf_state_get_host(f->st, "kvm01", &g, NULL), 0);
	assert_int_equal(g.state, KF_ST_DRIFTED);
	assert_int_equal(g.netboot, 0);
	assert_string_equal(g.report, "{\"drift\":1}");
	assert_int_equal(g.drift_count, 1);
	assert_string_equal(g.token, "t1"); /* render issued none: the store's stays */
	assert_string_equal(g.digest, "d2");
	assert_int_equal(g.nmacs, 1);
	assert_string_equal(g.macs[0], "52:54:00:aa:00:02");
	kf_host_rec_release(&g);
	assert_int_equal(kf_state_find_mac(f->st, "52:54:00:aa:00:01", &g, NULL), -ENOENT);
	assert_int_equal(kf_state_find_mac(f->st, "52:54:00:aa:00:02", &g, NULL), 0);
	kf_host_rec_release(&g);

	/* a token render issued (the row had none) is stored */
	h.token_gen = 5;
	strcpy(h.token, "t2");
	assert_int_equal(kf_state_put_render(f->st, &h, true, NULL), 0);
	assert_int_equal(kf_state_get_host(f->st, "kvm01", &g, NULL), 0);
	assert_string_equal(g.token, "t2");
	assert_int_equal(g.token_gen, 5);
	assert_int_equal(g.state, KF_ST_DRIFTED);
	kf_host_rec_release(&g);
}

/* A committed change survives the writer being killed (-9) right after. */
static void test_survives_kill(void **state)
{
	struct fx *f = *state;
	put(f->st, "kvm01", "52:54:00:aa:00:01");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct kf_state *st = NULL;
		if (kf_state_open(&st, f->path, NULL) < 0 ||
		    kf_state_set_state(st, "kvm01", KF_ST_INSTALLED, "child", NULL) != 1)
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	struct kf_state *st2 = NULL;
	assert_int_equal(kf_state_open(&st2, f->path, NULL), 0);
	struct kf_host_rec g;
	assert_int_equal(kf_state_get_host(st2, "kvm01", &g, NULL), 0);
	assert_int_equal(g.state, KF_ST_INSTALLED);
	kf_host_rec_release(&g);
	kf_state_close(st2);
}

/* kf_state_check: a sound store has no problem and every row counted; a
 * stored install state no reader knows (imported) is one problem. */
static void test_check(void **state)
{
	struct fx *f = *state;
	struct kf_buf out = KF_BUF_INIT;
	size_t rows = 0;
	put(f->st, "kvm01", "52:54:00:aa:00:01");
	assert_int_equal(kf_state_check(f->st, &out, &rows, NULL), 0);
	assert_int_equal(out.len, 0);
	assert_true(rows >= 2); /* the host and its MAC */
	if (pg_dsn_file) /* import wants an empty store: the rest on SQLite */
		return kf_buf_release(&out);
	struct kf_state *st = NULL;
	char *path = kf_xasprintf("%s/check.db", f->dir);
	assert_int_equal(kf_state_open(&st, path, NULL), 0);
	int was, now;
	kf_state_schema(st, &was, &now);
	char *dump = kf_xasprintf("{\"kickfleet_state\":1,\"schema\":%d}\n"
				  "{\"table\":\"hosts\",\"name\":\"bad01\",\"kind\":\"host\","
				  "\"macs\":\"\",\"role\":\"r\",\"state\":\"halfway\",\"state_since\":1,"
				  "\"created\":1,\"netboot\":1,\"token\":\"\",\"token_gen\":0,"
				  "\"token_issued\":0,\"digest\":\"\",\"report\":null,\"report_time\":0,"
				  "\"drift_count\":0,\"agent_version\":\"\",\"last_exit\":-1}\n",
				  now);
	struct kf_err e = KF_ERR_INIT;
	int r = kf_state_import(st, dump, strlen(dump), &rows, &e);
	if (r < 0)
		kf_err_print(&e, stderr);
	assert_int_equal(r, 0);
	assert_int_equal(kf_state_check(st, &out, &rows, NULL), 1);
	assert_non_null(strstr(out.s, "host bad01: state \"halfway\" out of range"));
	kf_state_close(st);
	kf_buf_release(&out);
	kf_err_release(&e);
	free(dump);
	free(path);
}

static void test_open_error_names_path(void **state)
{
	(void)state;
	struct kf_state *st = NULL;
	struct kf_err e = KF_ERR_INIT;
	assert_true(kf_state_open(&st, "/nonexistent-dir/x/state.db", &e) < 0);
	assert_null(st);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0].text, "/nonexistent-dir/x/state.db"));
	kf_err_release(&e);
	assert_string_equal(kf_install_state_name(KF_ST_DRIFTED), "drifted");
	assert_int_equal(kf_install_state_parse("installed"), KF_ST_INSTALLED);
	assert_int_equal(kf_install_state_parse("bogus"), -1);
	assert_null(kf_install_state_name(KF_ST_COUNT));
}

/* The schema version is the file header's user_version (offset 60, big
 * endian): a new file is at the newest, reopening runs nothing, a file
 * from a newer kickfleet is refused by name and left as it is. */
static void test_schema_version(void **state)
{
	struct fx *f = *state;
	put(f->st, "kvm01", "52:54:00:aa:00:01");
	kf_state_close(f->st);
	f->st = NULL;
	unsigned char hdr[64];
	FILE *fp = fopen(f->path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fread(hdr, 1, sizeof(hdr), fp), sizeof(hdr));
	assert_true(hdr[63] >= 1 && !hdr[60] && !hdr[61] && !hdr[62]);
	assert_int_equal(kf_state_open(&f->st, f->path, NULL), 0);
	struct kf_host_rec g;
	assert_int_equal(kf_state_get_host(f->st, "kvm01", &g, NULL), 0);
	kf_host_rec_release(&g);
	kf_state_close(f->st);
	f->st = NULL;
	hdr[63] = 99;
	assert_int_equal(fseek(fp, 60, SEEK_SET), 0);
	assert_int_equal(fwrite(hdr + 60, 1, 4, fp), 4);
	assert_int_equal(fclose(fp), 0);
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_state_open(&f->st, f->path, &e), -EPROTO);
	assert_null(f->st);
	assert_non_null(strstr(e.v[0].text, "schema version 99 is newer"));
	assert_non_null(strstr(e.v[0].text, f->path));
	kf_err_release(&e);
}

/* The PostgreSQL store: its schema version in kf_schema, a newer one
 * refused by name; the same columns as SQLite's in every table. */
struct cols {
	char names[16][512];
};

static int cols_table(void *ctx, const char *table, size_t ncols, const char *const *cols)
{
	struct cols *c = ctx;
	for (size_t i = 0; i < kf_state_ntables; i++) {
		if (strcmp(kf_state_tables[i].name, table))
			continue;
		for (size_t k = 0; k < ncols; k++) {
			strcat(c->names[i], cols[k]);
			strcat(c->names[i], ",");
		}
	}
	return 0;
}

static int cols_row(void *ctx, const char *const *vals, const bool *is_int)
{
	(void)ctx;
	(void)vals;
	(void)is_int;
	return 0;
}

static void test_pg_schema(void **state)
{
	struct fx *f = *state;
	int was, now;
	kf_state_schema(f->st, &was, &now);
	assert_int_equal(was, 0);
	assert_int_equal(now, (int)kf_state_nmigrations);
	assert_string_equal(kf_state_backend(f->st), "postgresql");
	struct fx *sq = NULL;
	const char *keep = pg_dsn_file;
	pg_dsn_file = NULL;
	setup((void **)&sq);
	pg_dsn_file = keep;
	struct cols a = { 0 }, b = { 0 };
	struct kf_state_sink ka = { cols_table, cols_row, &a }, kb = { cols_table, cols_row, &b };
	assert_int_equal(f->st->ops->dump(f->st, &ka, NULL), 0);
	assert_int_equal(sq->st->ops->dump(sq->st, &kb, NULL), 0);
	for (size_t i = 0; i < kf_state_ntables; i++) {
		assert_true(a.names[i][0]);
		assert_string_equal(a.names[i], b.names[i]);
	}
	teardown((void **)&sq);
	kf_state_close(f->st);
	f->st = NULL;
	assert_int_equal(system("psql -X -q -c 'UPDATE kf_schema SET version = 99' >/dev/null"), 0);
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_state_open(&f->st, f->path, &e), -EPROTO);
	assert_non_null(strstr(e.v[0].text, "schema version 99 is newer"));
	kf_err_release(&e);
}

/* A DSN file readable by others is refused; a DSN that does not parse or
 * a server that refuses is named without the DSN or its password. */
static void test_pg_dsn_file(void **state)
{
	struct fx *f = *state;
	char *dsn = kf_xasprintf("%s/dsn", f->dir), *where = kf_xasprintf("postgresql:%s", dsn);
	struct kf_err e = KF_ERR_INIT;
	struct kf_state *st = NULL;
	const char *bad = "host=/nonexistent password=s3cr3t-pw\n";
	assert_int_equal(kf_write_atomic(dsn, bad, strlen(bad), 0644), 0);
	assert_int_equal(kf_state_open(&st, where, &e), -EACCES);
	assert_non_null(strstr(e.v[0].text, "readable by group or others"));
	assert_non_null(strstr(e.v[0].text, dsn));
	kf_err_release(&e);
	assert_int_equal(chmod(dsn, 0600), 0);
	assert_true(kf_state_open(&st, where, &e) < 0);
	assert_null(strstr(e.v[0].text, "s3cr3t-pw"));
	assert_non_null(strstr(e.v[0].text, "cannot connect"));
	kf_err_release(&e);
	bad = "host='unterminated password=s3cr3t-pw";
	assert_int_equal(kf_write_atomic(dsn, bad, strlen(bad), 0600), 0);
	assert_int_equal(kf_state_open(&st, where, &e), -EINVAL);
	assert_null(strstr(e.v[0].text, "s3cr3t-pw"));
	assert_non_null(strstr(e.v[0].text, "does not parse"));
	kf_err_release(&e);
	assert_null(st);
	free(dsn);
	free(where);
}

static int run_group(const char *name, const char *dsn)
{
	pg_dsn_file = dsn;
	const struct CMUnitTest both[] = {
		cmocka_unit_test_setup_teardown(test_put_get_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_mac_any_case, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_changes_are_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_rollback_and_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_render_keeps_callbacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_survives_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	};
	const struct CMUnitTest sqlite_only[] = {
		cmocka_unit_test(test_open_error_names_path),
		cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
	};
	const struct CMUnitTest pg_only[] = {
		cmocka_unit_test_setup_teardown(test_pg_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_dsn_file, setup, teardown),
	};
	int r = _cmocka_run_group_tests(name, both, KF_ARRAY_SIZE(both), NULL, NULL);
	if (dsn)
		return r + _cmocka_run_group_tests("postgresql only", pg_only, KF_ARRAY_SIZE(pg_only),
						   NULL, NULL);
	return r + _cmocka_run_group_tests("sqlite only", sqlite_only, KF_ARRAY_SIZE(sqlite_only),
					   NULL, NULL);
}

int main(void)
{
	int r = run_group("sqlite", NULL);
	const char *dsn = getenv("KF_TEST_PG_DSN_FILE");
	if (dsn && *dsn)
		r += run_group("postgresql", dsn);
	else
		printf("[  NOTE    ] KF_TEST_PG_DSN_FILE is not set: the PostgreSQL cases run in "
		       "tests/suites/42-state-pg.sh\n");
	return r;
}
