/* Unit tests: distros from distros_dir (distros.d/NAME.yaml), as the
 * inventory loads them: names from file names, errors at the included
 * file's FILE:LINE:COL, clashes with fleet.yaml's distros. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inventory.h"
#include "provision/distro.h"
#include "util.h"

static char dir[64];

static void put(const char *rel, const char *text)
{
	char *p = kf_xasprintf("%s/%s", dir, rel);
	char *d = kf_xstrdup(p);
	assert_int_equal(kf_mkdir_p(dirname(d), 0755), 0);
	assert_int_equal(kf_write_atomic(p, text, strlen(text), 0644), 0);
	free(d);
	free(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kf-dinc-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return kf_rm_rf(dir);
}

static int reset(void **state)
{
	(void)state;
	char *p = kf_xasprintf("%s/distros.d", dir);
	kf_rm_rf(p);
	free(p);
	p = kf_xasprintf("%s/other", dir);
	kf_rm_rf(p);
	free(p);
	put("t.ks", "text\n");
	return 0;
}

static const char *head = "provisioner: {interface: br0, address: 10.0.0.1, subnet: 10.0.0.0/24,\n"
			  "  dhcp: {range: [10.0.0.100, 10.0.0.200]}}\n";

/* Loads head + body (full checks); returns the messages, one a line, with
 * the temp dir replaced by "D". */
static char *load(const char *body, int *rc, struct kf_inventory **keep)
{
	char *text = kf_xasprintf("%s%s", head, body);
	put("fleet.yaml", text);
	free(text);
	char *path = kf_xasprintf("%s/fleet.yaml", dir);
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	*rc = kf_inventory_load(&inv, path, &e);
	struct kf_buf b = KF_BUF_INIT;
	char buf[1024];
	for (size_t i = 0; i < e.n; i++) {
		const char *m = kf_err_format(&e, i, buf, sizeof(buf));
		size_t dl = strlen(dir);
		for (const char *at; (at = strstr(m, dir)); m = at + dl) {
			kf_buf_add(&b, m, (size_t)(at - m));
			kf_buf_puts(&b, "D");
		}
		kf_buf_printf(&b, "%s\n", m);
	}
	if (keep)
		*keep = inv;
	else
		kf_inventory_free(inv);
	kf_err_release(&e);
	free(path);
	return kf_buf_detach(&b);
}

static void test_default_dir(void **state)
{
	(void)state;
	put("distros.d/rocky9.yaml", "# imported\nkernel: /srv/k\ninitrd: /srv/i\nkernel_sha256: ab\n"
				     "version: '9.3'\narch: x86_64\n");
	put("distros.d/deb12.yaml", "family: preseed\nkernel: /srv/dk\ninitrd: /srv/di\n");
	put("distros.d/README", "not yaml, ignored\n");
	put("distros.d/.hidden.yaml", "ignored: [\n");
	int rc;
	struct kf_inventory *inv = NULL;
	char *msgs = load("distros: {local: {kernel: /k, initrd: /i}}\n"
			  "roles: {r: {distro: rocky9, kickstart: t.ks}}\n",
			  &rc, &inv);
	assert_string_equal(msgs, "");
	assert_int_equal(rc, 0);
	assert_int_equal(inv->distros.n, 3);
	const struct kf_i_distro *d = kf_inventory_distro(inv, "rocky9");
	assert_non_null(d);
	assert_string_equal(d->kernel, "/srv/k");
	assert_string_equal(d->kernel_sha256, "ab");
	assert_string_equal(d->version, "9.3");
	assert_int_equal(d->family, KF_FAMILY_KICKSTART);
	/* sorted by file name after fleet.yaml's own */
	assert_string_equal(KF_LIST_AT(inv->distros, struct kf_i_distro, 0)->name, "local");
	assert_string_equal(KF_LIST_AT(inv->distros, struct kf_i_distro, 1)->name, "deb12");
	assert_int_equal(kf_inventory_distro(inv, "deb12")->family, KF_FAMILY_PRESEED);
	/* marks point into the included file */
	const struct kf_mark *m = kf_mark_of(d, "initrd");
	assert_non_null(strstr(m->file, "distros.d/rocky9.yaml"));
	assert_int_equal(m->line, 3);
	assert_int_equal(m->col, 9);
	kf_inventory_free(inv);
	free(msgs);
}

static void test_no_dir(void **state)
{
	(void)state;
	int rc;
	char *msgs = load("distros: {d: {kernel: /k, initrd: /i}}\n"
			  "roles: {r: {distro: d, kickstart: t.ks}}\n",
			  &rc, NULL);
	assert_int_equal(rc, 0);
	free(msgs);
	/* an explicit distros_dir must exist */
	msgs = load("distros_dir: nowhere\nroles: {}\n", &rc, NULL);
	assert_true(rc < 0);
	assert_string_equal(msgs, "D/fleet.yaml:3:14: distros_dir D/nowhere: No such file or directory\n");
	free(msgs);
	msgs = load("distros_dir: ''\nroles: {}\n", &rc, NULL);
	assert_true(rc < 0);
	assert_string_equal(msgs, "D/fleet.yaml:3:14: distros_dir: empty path\n");
	free(msgs);
}

static void test_explicit_dir(void **state)
{
	(void)state;
	put("other/alma.yaml", "kernel: /a\ninitrd: /b\n");
	put("distros.d/ignored.yaml", "kernel: /x\ninitrd: /y\n");
	int rc;
	struct kf_inventory *inv = NULL;
	char *msgs = load("distros_dir: other\nroles: {r: {distro: alma, kickstart: t.ks}}\n", &rc, &inv);
	assert_string_equal(msgs, "");
	assert_int_equal(rc, 0);
	assert_int_equal(inv->distros.n, 1);
	assert_null(kf_inventory_distro(inv, "ignored"));
	kf_inventory_free(inv);
	free(msgs);
}

static void test_errors_in_included_file(void **state)
{
	(void)state;
	put("distros.d/bad.yaml", "kernel: /k\ninitrd: /i\nfamily: kikcstart\nkernal: /x\n");
	put("distros.d/empty.yaml", "");
	put("distros.d/named.yaml", "name: other\nkernel: /k\ninitrd: /i\n");
	put("distros.d/noinitrd.yaml", "kernel: /k\n");
	int rc;
	char *msgs = load("roles: {}\n", &rc, NULL);
	assert_true(rc < 0);
	assert_string_equal(msgs,
			    "D/distros.d/bad.yaml:3:9: family: \"kikcstart\" is not one of kickstart, preseed (did you mean \"kickstart\"?)\n"
			    "D/distros.d/bad.yaml:4:1: unknown key \"kernal\" in distro (did you mean \"kernel\"?)\n"
			    "D/distros.d/empty.yaml:1:1: empty file, expected the mapping of distro empty\n"
			    "D/distros.d/named.yaml:1:7: distro name \"other\" differs from the file name \"named\"\n"
			    "D/distros.d/noinitrd.yaml:1:1: distro: missing required key \"initrd\"\n");
	free(msgs);
}

static void test_clash(void **state)
{
	(void)state;
	put("distros.d/rocky9.yaml", "kernel: /k\ninitrd: /i\n");
	int rc;
	char *msgs = load("distros:\n  rocky9: {kernel: /k, initrd: /i}\nroles: {}\n", &rc, NULL);
	assert_true(rc < 0);
	assert_string_equal(msgs,
			    "D/distros.d/rocky9.yaml:1:1: distro rocky9 is also defined in D/fleet.yaml at line 4\n");
	free(msgs);
}

/* A role may name a distro that is not imported yet: the shallow load the
 * import uses does not run cross-checks, the full one does. */
static void test_shallow(void **state)
{
	(void)state;
	put("fleet.yaml", "provisioner: {interface: br0, address: 10.0.0.1, subnet: 10.0.0.0/24,\n"
			  "  dhcp: {range: [10.0.0.100, 10.0.0.200]}}\n"
			  "roles: {r: {distro: later, kickstart: t.ks}}\n");
	char *path = kf_xasprintf("%s/fleet.yaml", dir);
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	assert_true(kf_inventory_load(&inv, path, &e) < 0);
	assert_null(inv);
	kf_err_release(&e);
	assert_int_equal(kf_inventory_load_shallow(&inv, path, &e), 0);
	char *dd = kf_inventory_distros_dir(inv, false);
	assert_null(dd);
	dd = kf_inventory_distros_dir(inv, true);
	char *want = kf_xasprintf("%s/distros.d", dir);
	assert_string_equal(dd, want);
	free(want);
	free(dd);
	kf_inventory_free(inv);
	/* schema errors still fail */
	put("fleet.yaml", "provisioner: {interface: br0}\n");
	assert_true(kf_inventory_load_shallow(&inv, path, &e) < 0);
	kf_err_release(&e);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_default_dir, reset),
		cmocka_unit_test_setup(test_no_dir, reset),
		cmocka_unit_test_setup(test_explicit_dir, reset),
		cmocka_unit_test_setup(test_errors_in_included_file, reset),
		cmocka_unit_test_setup(test_clash, reset),
		cmocka_unit_test_setup(test_shallow, reset),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
