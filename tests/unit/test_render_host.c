/* Unit tests: kf_render_host(), the one-host re-render the server calls
 * after an "installed" callback, and kf_render_all() against the state
 * store: local boot, whether dnsmasq needs a SIGHUP, tokens kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inventory.h"
#include "provision/render.h"
#include "provision/state.h"
#include "util.h"

struct fx {
	char dir[64];
	char *out;
	struct kf_inventory *inv;
};

static void write_file(const char *dir, const char *name, const char *text)
{
	char *p = kf_xasprintf("%s/%s", dir, name);
	assert_int_equal(kf_write_atomic(p, text, strlen(text), 0644), 0);
	free(p);
}

static char *slurp(struct fx *f, const char *rel)
{
	char *p = kf_xasprintf("%s/%s", f->out, rel), *text = NULL;
	if (kf_read_file(p, 1 << 20, &text, NULL) < 0)
		text = NULL;
	free(p);
	return text;
}

static int setup_mode(void **state, const char *installed_boot)
{
	struct fx *f = kf_xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/kf-render-host.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->out = kf_xasprintf("%s/out", f->dir);
	write_file(f->dir, "t.ks", "text\nnetwork --hostname={{ host.name }}\nreboot\n");
	char *fleet = kf_xasprintf(
		"provisioner:\n"
		"  interface: br0\n  address: 10.9.0.1\n  subnet: 10.9.0.0/24\n"
		"  installed_boot: %s\n"
		"  dhcp: {mode: static}\n"
		"distros:\n  d: {kernel: /nonexistent/k, initrd: /nonexistent/i}\n"
		"roles:\n  r: {distro: d, kickstart: t.ks}\n"
		"hosts:\n"
		"  - {name: a, mac: \"52:54:00:00:00:01\", ip: 10.9.0.11, role: r, firmware: auto}\n"
		"  - {name: b, mac: \"52:54:00:00:00:02\", ip: 10.9.0.12, role: r, firmware: bios}\n",
		installed_boot);
	write_file(f->dir, "fleet.yaml", fleet);
	free(fleet);
	char *path = kf_xasprintf("%s/fleet.yaml", f->dir);
	struct kf_err e = KF_ERR_INIT;
	int r = kf_inventory_load(&f->inv, path, &e);
	if (r < 0)
		kf_err_print(&e, stderr);
	assert_int_equal(r, 0);
	free(path);
	struct kf_render_opts o = { .outdir = f->out };
	struct kf_render_stats st;
	assert_int_equal(kf_render_all(f->inv, &o, &st, &e, &e), 0);
	assert_int_equal(st.added, 2);
	kf_err_release(&e);
	*state = f;
	return 0;
}

static int setup_localboot(void **state) { return setup_mode(state, "localboot"); }
static int setup_ignore(void **state) { return setup_mode(state, "ignore"); }

static int teardown(void **state)
{
	struct fx *f = *state;
	kf_inventory_free(f->inv);
	char *cmd = kf_xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f->out);
	free(f);
	return 0;
}

static void test_installed_flips_to_local_boot(void **state)
{
	struct fx *f = *state;
	char *db = kf_render_state_path(f->inv, f->out);
	struct kf_state *st = NULL;
	assert_int_equal(kf_state_open(&st, db, NULL), 0);
	struct kf_host_rec before;
	assert_int_equal(kf_state_get_host(st, "a", &before, NULL), 0);

	char *p = slurp(f, "tftp/pxelinux.cfg/01-52-54-00-00-00-01");
	assert_non_null(strstr(p, "inst.ks="));
	free(p);
	assert_int_equal(kf_state_set_state(st, "a", KF_ST_INSTALLED, "callback", NULL), 1);
	struct kf_render_opts o = { .outdir = f->out };
	bool hup = true;
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_render_host(f->inv, st, &o, "a", &hup, &e), 0);
	assert_false(hup); /* localboot: dnsmasq's files did not change */
	p = slurp(f, "tftp/pxelinux.cfg/01-52-54-00-00-00-01");
	assert_non_null(strstr(p, "LOCALBOOT 0"));
	free(p);
	p = slurp(f, "tftp/grub/grub.cfg-01-52-54-00-00-00-01");
	assert_non_null(strstr(p, "chainloader"));
	free(p);
	p = slurp(f, "http/ipxe/01-52-54-00-00-00-01.ipxe");
	assert_non_null(strstr(p, "\nexit\n"));
	free(p);
	/* the other host is untouched */
	p = slurp(f, "tftp/pxelinux.cfg/01-52-54-00-00-00-02");
	assert_non_null(strstr(p, "inst.ks="));
	free(p);
	/* idempotent: a second callback re-renders nothing */
	assert_int_equal(kf_state_set_state(st, "a", KF_ST_INSTALLED, "callback", NULL), 0);
	assert_int_equal(kf_render_host(f->inv, st, &o, "a", &hup, &e), 0);
	assert_false(hup);
	struct kf_host_rec after;
	assert_int_equal(kf_state_get_host(st, "a", &after, NULL), 0);
	assert_string_equal(after.token, before.token); /* the token is kept */
	assert_string_not_equal(after.digest, before.digest);
	kf_host_rec_release(&after);
	kf_host_rec_release(&before);

	/* a full render agrees: nothing left to do */
	struct kf_render_stats stats;
	assert_int_equal(kf_render_all(f->inv, &o, &stats, &e, &e), 0);
	assert_int_equal(stats.changed + stats.added + stats.removed, 0);
	assert_int_equal(stats.written, 0);

	/* unknown names */
	assert_int_equal(kf_render_host(f->inv, st, &o, "nosuch", &hup, &e), -ENOENT);
	assert_non_null(strstr(e.v[e.n - 1].text, "no host or guest \"nosuch\""));
	kf_err_release(&e);
	kf_state_close(st);
	free(db);
}

static void test_ignore_needs_sighup(void **state)
{
	struct fx *f = *state;
	char *db = kf_render_state_path(f->inv, f->out);
	struct kf_state *st = NULL;
	assert_int_equal(kf_state_open(&st, db, NULL), 0);
	assert_int_equal(kf_state_set_state(st, "a", KF_ST_INSTALLED, NULL, NULL), 1);
	struct kf_render_opts o = { .outdir = f->out };
	bool hup = false;
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_render_host(f->inv, st, &o, "a", &hup, &e), 0);
	assert_true(hup); /* installed_boot: ignore changes the host's dnsmasq file */
	char *p = slurp(f, "dnsmasq/hosts/a");
	assert_non_null(strstr(p, "\n52:54:00:00:00:01,ignore\n"));
	free(p);
	/* reinstall: back to the network, and dnsmasq must hear of it again */
	assert_int_equal(kf_state_set_netboot(st, "a", 1, NULL), 1);
	assert_int_equal(kf_render_host(f->inv, st, &o, "a", &hup, &e), 0);
	assert_true(hup);
	p = slurp(f, "dnsmasq/hosts/a");
	assert_non_null(strstr(p, "set:kf-a,10.9.0.11,a\n"));
	free(p);
	p = slurp(f, "tftp/pxelinux.cfg/01-52-54-00-00-00-01");
	assert_non_null(strstr(p, "inst.ks="));
	free(p);
	kf_err_release(&e);
	kf_state_close(st);
	free(db);
}

/* The fixture's inventory with its hosts replaced by hosts_yaml. */
static struct kf_inventory *reload(struct fx *f, const char *hosts_yaml)
{
	char *path = kf_xasprintf("%s/fleet.yaml", f->dir), *text = NULL;
	assert_int_equal(kf_read_file(path, 1 << 16, &text, NULL), 0);
	char *cut = strstr(text, "hosts:\n");
	assert_non_null(cut);
	*cut = 0;
	char *fleet = kf_xasprintf("%shosts:\n%s", text, hosts_yaml);
	write_file(f->dir, "fleet.yaml", fleet);
	struct kf_inventory *inv = NULL;
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_inventory_load(&inv, path, &e), 0);
	kf_err_release(&e);
	free(fleet);
	free(text);
	free(path);
	return inv;
}

/* dnsmasq reads new hostsdir/optsdir files through inotify: a new host
 * needs no SIGHUP; a removed one does (dnsmasq keeps what it read) */
static void test_new_host_needs_no_sighup(void **state)
{
	struct fx *f = *state;
	const char *ab = "  - {name: a, mac: \"52:54:00:00:00:01\", ip: 10.9.0.11, role: r}\n"
			 "  - {name: b, mac: \"52:54:00:00:00:02\", ip: 10.9.0.12, role: r}\n";
	char *abc = kf_xasprintf("%s  - {name: c, mac: \"52:54:00:00:00:03\", ip: 10.9.0.13, role: r}\n",
				 ab);
	struct kf_inventory *inv = reload(f, abc);
	struct kf_render_opts o = { .outdir = f->out };
	struct kf_err e = KF_ERR_INIT;
	bool hup = true;
	assert_int_equal(kf_render_host(inv, NULL, &o, "c", &hup, &e), 0);
	assert_false(hup);
	char *p = slurp(f, "dnsmasq/hosts/c");
	assert_non_null(p);
	assert_non_null(strstr(p, "set:kf-c,10.9.0.13,c\n"));
	free(p);
	kf_inventory_free(inv);
	/* and c gone again: its files removed, dnsmasq must forget it */
	inv = reload(f, ab);
	struct kf_render_stats st;
	assert_int_equal(kf_render_all(inv, &o, &st, &e, &e), 0);
	assert_int_equal(st.removed, 1);
	assert_true(st.dnsmasq_changed);
	p = slurp(f, "dnsmasq/hosts/c");
	assert_null(p);
	kf_inventory_free(inv);
	free(abc);
	kf_err_release(&e);
}

/* render writes "~ a" to its log after it read a's row and before it
 * writes the row back: the hook starts a callback from another connection
 * (kickfleet serve's thread) right there.  The callback waits for render's
 * transaction, lands after it, and is kept. */
struct interleave {
	const char *db;
	int fired;
	int result;
	pthread_t th;
};

static void *callback_thread(void *arg)
{
	struct interleave *iv = arg;
	struct kf_state *other = NULL;
	iv->result = kf_state_open(&other, iv->db, NULL);
	if (iv->result == 0)
		iv->result = kf_state_set_state(other, "a", KF_ST_INSTALLED, "callback", NULL);
	kf_state_close(other);
	return NULL;
}

static ssize_t callback_between(void *cookie, const char *buf, size_t len)
{
	struct interleave *iv = cookie;
	if (!iv->fired && !strncmp(buf, "~ a", 3)) {
		iv->fired = 1;
		assert_int_equal(pthread_create(&iv->th, NULL, callback_thread, iv), 0);
		usleep(50 * 1000); /* let it reach the database while render holds the row */
	}
	return (ssize_t)len;
}

static void test_callback_during_render_is_kept(void **state)
{
	struct fx *f = *state;
	char *db = kf_render_state_path(f->inv, f->out);
	struct interleave iv = { .db = db };
	FILE *log = fopencookie(&iv, "w", (cookie_io_functions_t){ .write = callback_between });
	assert_non_null(log);
	setvbuf(log, NULL, _IONBF, 0);
	struct kf_render_opts o = { .outdir = f->out, .force = true, .log = log };
	bool hup = false;
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_render_host(f->inv, NULL, &o, "a", &hup, &e), 0);
	fclose(log);
	assert_true(iv.fired > 0);
	pthread_join(iv.th, NULL);
	assert_int_equal(iv.result, 1);
	struct kf_state *st = NULL;
	assert_int_equal(kf_state_open(&st, db, NULL), 0);
	struct kf_host_rec g;
	assert_int_equal(kf_state_get_host(st, "a", &g, NULL), 0);
	assert_int_equal(g.state, KF_ST_INSTALLED);
	assert_int_equal(g.netboot, 0);
	kf_host_rec_release(&g);
	/* the callback's own re-render finds the digest stale (netboot is in
	 * it) and writes local boot */
	o = (struct kf_render_opts){ .outdir = f->out };
	assert_int_equal(kf_render_host(f->inv, st, &o, "a", &hup, &e), 0);
	char *p = slurp(f, "tftp/pxelinux.cfg/01-52-54-00-00-00-01");
	assert_non_null(strstr(p, "LOCALBOOT 0"));
	free(p);
	/* so does a full render: the install state is not touched */
	struct kf_render_stats stats;
	assert_int_equal(kf_render_all(f->inv, &o, &stats, &e, &e), 0);
	assert_int_equal(stats.changed, 0);
	assert_int_equal(kf_state_get_host(st, "a", &g, NULL), 0);
	assert_int_equal(g.state, KF_ST_INSTALLED);
	kf_host_rec_release(&g);
	kf_err_release(&e);
	kf_state_close(st);
	free(db);
}

/* The server opens its own store: kf_render_host(st = NULL) opens it. */
static void test_without_open_state(void **state)
{
	struct fx *f = *state;
	struct kf_render_opts o = { .outdir = f->out };
	bool hup = true;
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_render_host(f->inv, NULL, &o, "b", &hup, &e), 0);
	assert_false(hup); /* nothing changed */
	kf_err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_installed_flips_to_local_boot, setup_localboot, teardown),
		cmocka_unit_test_setup_teardown(test_ignore_needs_sighup, setup_ignore, teardown),
		cmocka_unit_test_setup_teardown(test_without_open_state, setup_localboot, teardown),
		cmocka_unit_test_setup_teardown(test_new_host_needs_no_sighup, setup_localboot, teardown),
		cmocka_unit_test_setup_teardown(test_callback_during_render_is_kept, setup_localboot,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
