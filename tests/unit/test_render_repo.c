/* Unit tests: the agent's package repositories placed under the HTTP root
 * by render (provision/render_repo.c): found through $KICKFLEET_PACKAGES,
 * placed, left alone when unchanged, an old build's files removed, and a
 * clear error when there are none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/render.h"
#include "util.h"

struct fx {
	char dir[64];
	char *pkg, *http;
};

static void put(const char *root, const char *rel, const char *text)
{
	char *p = kf_xasprintf("%s/%s", root, rel), *d = kf_xstrdup(p);
	*strrchr(d, '/') = 0;
	assert_int_equal(kf_mkdir_p(d, 0755), 0);
	assert_int_equal(kf_write_atomic(p, text, strlen(text), 0644), 0);
	free(d);
	free(p);
}

static bool has(const char *root, const char *rel)
{
	char *p = kf_xasprintf("%s/%s", root, rel);
	bool r = access(p, F_OK) == 0;
	free(p);
	return r;
}

static int setup(void **state)
{
	struct fx *f = kf_xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/kf-test-repo.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->pkg = kf_xasprintf("%s/packages", f->dir);
	f->http = kf_xasprintf("%s/http", f->dir);
	put(f->pkg, "rpm/kickfleet-agent-1.0-1.el9.x86_64.rpm", "rpm 1.0");
	put(f->pkg, "rpm/repodata/repomd.xml", "<repomd/>");
	put(f->pkg, "rpm/repodata/abc-primary.xml.gz", "primary");
	put(f->pkg, "deb/kickfleet-agent_1.0-1_amd64.deb", "deb 1.0");
	put(f->pkg, "deb/Packages", "Package: kickfleet-agent");
	put(f->pkg, "deb/Release", "Origin: kickfleet");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char *cmd = kf_xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f->pkg);
	free(f->http);
	free(f);
	unsetenv("KICKFLEET_PACKAGES");
	return 0;
}

static void test_find(void **state)
{
	struct fx *f = *state;
	struct kf_err e = KF_ERR_INIT;
	char *dir = NULL, buf[512];
	setenv("KICKFLEET_PACKAGES", f->pkg, 1);
	assert_int_equal(kf_render_packages_find(&dir, &e), 0);
	assert_string_equal(dir, f->pkg);
	free(dir);
	/* without deb/Release it is not a package directory */
	char *rel = kf_xasprintf("%s/deb/Release", f->pkg);
	assert_int_equal(unlink(rel), 0);
	assert_int_equal(kf_render_packages_find(&dir, &e), -ENOENT);
	assert_null(dir);
	kf_err_format(&e, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "render: the agent's packages are not in $KICKFLEET_PACKAGES"));
	assert_non_null(strstr(buf, "make packages"));
	free(rel);
	kf_err_release(&e);
}

static void test_place(void **state)
{
	struct fx *f = *state;
	struct kf_err e = KF_ERR_INIT;
	size_t n = 99;
	assert_int_equal(kf_render_packages_place(f->pkg, f->http, true, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_false(has(f->http, "repo"));

	assert_int_equal(kf_render_packages_place(f->pkg, f->http, false, &n, &e), 0);
	assert_int_equal(n, 6);
	assert_true(has(f->http, "repo/rpm/repodata/repomd.xml"));
	assert_true(has(f->http, "repo/rpm/kickfleet-agent-1.0-1.el9.x86_64.rpm"));
	assert_true(has(f->http, "repo/deb/Release"));
	assert_int_equal(kf_render_packages_place(f->pkg, f->http, false, &n, &e), 0);
	assert_int_equal(n, 0);

	/* a new build: a new version, the old one's files go */
	char *old = kf_xasprintf("%s/rpm/kickfleet-agent-1.0-1.el9.x86_64.rpm", f->pkg);
	assert_int_equal(unlink(old), 0);
	put(f->pkg, "rpm/kickfleet-agent-1.1-1.el9.x86_64.rpm", "rpm 1.1");
	put(f->pkg, "rpm/repodata/repomd.xml", "<repomd new/>");
	assert_int_equal(kf_render_packages_place(f->pkg, f->http, false, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_true(has(f->http, "repo/rpm/kickfleet-agent-1.1-1.el9.x86_64.rpm"));
	assert_false(has(f->http, "repo/rpm/kickfleet-agent-1.0-1.el9.x86_64.rpm"));
	char *text = NULL, *path = kf_xasprintf("%s/repo/rpm/repodata/repomd.xml", f->http);
	size_t len = 0;
	assert_int_equal(kf_read_file(path, 1 << 20, &text, &len), 0);
	assert_string_equal(text, "<repomd new/>");
	free(text);
	free(path);
	free(old);
	kf_err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_place, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
