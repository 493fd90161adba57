/* Unit tests: the SQLite state store (provision/state.c), on a real
 * database in a temp directory. */
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

#include "provision/state.h"
#include "util.h"

struct fx {
	char dir[64];
	char *path;
	struct kf_state *st;
};

/* a report's flags, without version or exit code */
#define RI(d, f) (&(struct kf_report_info){ .drifted = (d), .failed = (f), .exit_code = -1 })

static int setup(void **state)
{
	struct fx *f = kf_xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/kf-state-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->path = kf_xasprintf("%s/state.db", f->dir);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_mac_any_case, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_changes_are_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_rollback_and_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_render_keeps_callbacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_survives_kill, setup, teardown),
		cmocka_unit_test(test_open_error_names_path),
		cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
