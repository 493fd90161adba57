/* Unit tests: the trees serve makes its user's before switching, and the
 * owner root's writes take in them (provision/privdrop.c).  Chowning
 * needs root: without it the tests skip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/privdrop.h"
#include "util.h"

#define UID 65534
#define GID 65534

static char dir[] = "/tmp/kf-test-privdrop.XXXXXX";

static char *at(const char *rel)
{
	static char p[8][256];
	static int i;
	i = (i + 1) % 8;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, rel);
	return p[i];
}

static void touch(const char *rel)
{
	int fd = open(at(rel), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
}

static uid_t owner(const char *rel)
{
	struct stat sb;
	assert_int_equal(lstat(at(rel), &sb), 0);
	return sb.st_uid;
}

static int setup(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	strcpy(dir, "/tmp/kf-test-privdrop.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	char *cmd = kf_xasprintf("rm -rf '%s'", dir);
	int r = system(cmd);
	free(cmd);
	return r == 0 ? 0 : -1;
}

/* Directories and files become the user's; a symbolic link is neither
 * followed nor changed; a file with a second hard link (one the user may
 * have planted to a file of root's) stays as it is. */
static void test_own_tree(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(kf_mkdir_p(at("tree/a/b"), 0755), 0);
	touch("tree/a/b/file");
	touch("outside");
	assert_int_equal(symlink(at("outside"), at("tree/link")), 0);
	assert_int_equal(symlink(at("."), at("tree/a/dirlink")), 0);
	touch("root-file");
	assert_int_equal(link(at("root-file"), at("tree/planted")), 0);
	struct kf_priv p = { .drop = true, .uid = UID, .gid = GID, .user = "nobody" };
	const char *dirs[] = { at("tree"), at("tree/a") }; /* the second lies under the first */
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_priv_own(&p, dirs, 2, &e), 0);
	assert_int_equal(owner("tree"), UID);
	assert_int_equal(owner("tree/a/b"), UID);
	assert_int_equal(owner("tree/a/b/file"), UID);
	assert_int_equal(owner("tree/link"), 0);
	assert_int_equal(owner("outside"), 0);
	assert_int_equal(owner("."), 0);
	assert_int_equal(owner("tree/planted"), 0);
	assert_int_equal(owner("root-file"), 0);
	/* nothing to do without a switch; a missing tree is no error */
	struct kf_priv stay = { .uid = 0 };
	const char *missing[] = { at("none") };
	assert_int_equal(kf_priv_own(&stay, dirs, 2, &e), 0);
	assert_int_equal(kf_priv_own(&p, missing, 1, &e), 0);
	kf_err_release(&e);
}

/* Root writing into the user's tree: new directories and files take the
 * owner of the directory above them; in root's own tree nothing changes. */
static void test_follow_owner(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(kf_mkdir_p(at("user"), 0755), 0);
	assert_int_equal(chown(at("user"), UID, GID), 0);
	assert_int_equal(kf_mkdir_p(at("user/x/y"), 0755), 0);
	kf_priv_follow_owner(-1, at("user/x/y"));
	assert_int_equal(owner("user/x"), UID);
	assert_int_equal(owner("user/x/y"), UID);
	int fd = open(at("user/x/y/f"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	kf_priv_follow_owner(fd, at("user/x/y/f"));
	close(fd);
	assert_int_equal(owner("user/x/y/f"), UID);
	assert_int_equal(kf_mkdir_p(at("rootdir/z"), 0755), 0);
	kf_priv_follow_owner(-1, at("rootdir/z"));
	assert_int_equal(owner("rootdir/z"), 0);
	fd = open(at("rootdir/z/f"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	kf_priv_follow_owner(fd, at("rootdir/z/f"));
	close(fd);
	assert_int_equal(owner("rootdir/z/f"), 0);
}

/* The choice of user: a missing one is an error naming where it came
 * from; "root" keeps root. */
static void test_choose(void **state)
{
	(void)state;
	struct kf_priv p;
	struct kf_err e = KF_ERR_INIT;
	mode_t old = umask(022);
	assert_int_equal(kf_priv_choose("kf-no-such-user-x", NULL, &p, &e), -ENOENT);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0].text, "--user \"kf-no-such-user-x\": no such user");
	kf_err_release(&e);
	assert_int_equal(kf_priv_choose(NULL, "kf-no-such-user-x", &p, &e), -ENOENT);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0].text, "provisioner.user \"kf-no-such-user-x\": no such user");
	kf_err_release(&e);
	if (geteuid() == 0) {
		assert_int_equal(kf_priv_choose("root", NULL, &p, &e), 0);
		assert_false(p.drop);
		assert_int_equal(kf_priv_uid(), 0);
		assert_int_equal(kf_priv_choose("nobody", NULL, &p, &e), 0);
		assert_true(p.drop);
		assert_int_equal(p.uid, UID);
		assert_int_equal(kf_priv_uid(), UID);
		mode_t now = umask(022);
		assert_int_equal(now, 027);
	}
	umask(old);
	kf_err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_own_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow_owner, setup, teardown),
		cmocka_unit_test(test_choose),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
