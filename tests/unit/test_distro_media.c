/* Unit tests: recognising install media (.treeinfo, .discinfo, netboot
 * layout), distro names, directory listing and staging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/distro.h"
#include "util.h"

static char dir[64];
static char *datadir;

static char *data(const char *name)
{
	char *p = kf_xasprintf("%s/tests/data/distro/treeinfo/%s", datadir, name), *text = NULL;
	size_t len;
	assert_int_equal(kf_read_file(p, 1 << 20, &text, &len), 0);
	free(p);
	return text;
}

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
	const char *top = getenv("TOP");
	if (top) {
		datadir = kf_xstrdup(top);
	} else {
		char exe[4096];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			return -1;
		exe[n] = 0;
		/* build/tests/NAME or build/asan/tests/NAME */
		datadir = kf_xstrdup(dirname(dirname(dirname(exe))));
		if (!strcmp(basename(datadir), "build")) {
			char *up = kf_xstrdup(dirname(datadir));
			free(datadir);
			datadir = up;
		}
	}
	snprintf(dir, sizeof(dir), "/tmp/kf-distro-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(datadir);
	return kf_rm_rf(dir);
}

static void test_treeinfo_productmd(void **state)
{
	(void)state;
	char *t = data("rhel9.treeinfo");
	struct kf_media_info m;
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_treeinfo_parse("rhel9", t, &m, &e), 0);
	assert_string_equal(m.family, "kickstart");
	assert_string_equal(m.label, "Red Hat Enterprise Linux 9.4");
	assert_string_equal(m.version, "9.4");
	assert_string_equal(m.arch, "x86_64");
	assert_string_equal(m.kernel, "images/pxeboot/vmlinuz");
	assert_string_equal(m.initrd, "images/pxeboot/initrd.img");
	/* sha256 sums are kept, lower case, for verification */
	assert_string_equal(m.initrd_sha256,
			    "ab00000000000000000000000000000000000000000000000000000000000001");
	assert_string_equal(m.kernel_sha256,
			    "cd00000000000000000000000000000000000000000000000000000000000002");
	assert_true(m.tree);
	assert_string_equal(m.how, ".treeinfo");
	kf_media_info_release(&m);
	free(t);
}

static void test_treeinfo_general_only(void **state)
{
	(void)state;
	char *t = data("centos7.treeinfo");
	struct kf_media_info m;
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_treeinfo_parse("c7", t, &m, &e), 0);
	assert_string_equal(m.label, "CentOS 7");
	assert_string_equal(m.version, "7");
	assert_string_equal(m.arch, "x86_64");
	/* an md5 sum is not a sha256 one */
	assert_null(m.kernel_sha256);
	assert_null(m.initrd_sha256);
	kf_media_info_release(&m);
	free(t);
}

static void test_treeinfo_default_images(void **state)
{
	(void)state;
	char *t = data("aarch64-noimages.treeinfo");
	struct kf_media_info m;
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_treeinfo_parse("a", t, &m, &e), 0);
	assert_string_equal(m.arch, "aarch64");
	assert_string_equal(m.label, "AlmaLinux 9.3");
	assert_string_equal(m.kernel, "images/pxeboot/vmlinuz");
	assert_string_equal(m.initrd, "images/pxeboot/initrd.img");
	kf_media_info_release(&m);
	free(t);
}

static void expect_error(int (*fn)(const char *, const char *, struct kf_media_info *, struct kf_err *),
			 const char *file, const char *want)
{
	char *t = data(file);
	struct kf_media_info m;
	struct kf_err e = KF_ERR_INIT;
	char buf[512];
	assert_true(fn(file, t, &m, &e) < 0);
	assert_int_equal(e.n, 1);
	assert_string_equal(kf_err_format(&e, 0, buf, sizeof(buf)), want);
	kf_err_release(&e);
	free(t);
}

static void test_treeinfo_errors(void **state)
{
	(void)state;
	expect_error(kf_treeinfo_parse, "noarch.treeinfo", "noarch.treeinfo: no arch in [tree] or [general]");
	expect_error(kf_treeinfo_parse, "notini.treeinfo",
		     "notini.treeinfo: not a .treeinfo (no [general], [release] or [tree] section)");
	expect_error(kf_discinfo_parse, "short.discinfo",
		     "short.discinfo: not a .discinfo (want a timestamp, a release and an arch, one a line)");
}

static void test_discinfo(void **state)
{
	(void)state;
	char *t = data("centos7.discinfo");
	struct kf_media_info m;
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_discinfo_parse("d", t, &m, &e), 0);
	assert_string_equal(m.label, "CentOS 7");
	assert_string_equal(m.version, "7");
	assert_string_equal(m.arch, "x86_64");
	assert_string_equal(m.kernel, "images/pxeboot/vmlinuz");
	assert_string_equal(m.how, ".discinfo");
	kf_media_info_release(&m);
	free(t);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(kf_distro_name_ok("rocky9"));
	assert_true(kf_distro_name_ok("rhel-9.4_x86"));
	assert_false(kf_distro_name_ok(""));
	assert_false(kf_distro_name_ok(".hidden"));
	assert_false(kf_distro_name_ok("a/b"));
	assert_false(kf_distro_name_ok(".."));
	assert_false(kf_distro_name_ok("-x"));
	assert_false(kf_distro_name_ok("a b"));
	char long_name[80];
	memset(long_name, 'a', 65);
	long_name[65] = 0;
	assert_false(kf_distro_name_ok(long_name));
}

/* A netboot tree as dpkg -x lays it out: text and gtk, text preferred. */
static void test_netboot_layout(void **state)
{
	(void)state;
	const char *base = "nb/usr/lib/debian-installer/images/12/amd64";
	char *p;
	p = kf_xasprintf("%s/text/debian-installer/amd64/linux", base);
	put(p, "kernel");
	free(p);
	p = kf_xasprintf("%s/text/debian-installer/amd64/initrd.gz", base);
	put(p, "initrd");
	free(p);
	p = kf_xasprintf("%s/gtk/debian-installer/amd64/linux", base);
	put(p, "gtk kernel");
	free(p);
	p = kf_xasprintf("%s/gtk/debian-installer/amd64/initrd.gz", base);
	put(p, "gtk initrd");
	free(p);
	p = kf_xasprintf("%s/text/version.info", base);
	put(p, "Debian version:  12 (bookworm)\nInstaller build: 20230607+deb12u15\n");
	free(p);
	/* a linux without initrd.gz beside it does not count */
	put("nb/other/debian-installer/i386/linux", "x");

	char *src = kf_xasprintf("%s/nb", dir);
	struct kf_media m;
	struct kf_media_info info;
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_media_open(&m, src, &e), 0);
	assert_false(m.iso);
	assert_int_equal(m.n, 6);
	assert_int_equal(kf_media_detect(&m, &info, &e), 0);
	assert_string_equal(info.family, "preseed");
	assert_string_equal(info.arch, "amd64");
	assert_string_equal(info.version, "12");
	assert_string_equal(info.label, "Debian 12 (bookworm)");
	assert_false(info.tree);
	assert_non_null(strstr(info.kernel, "/text/debian-installer/amd64/linux"));
	assert_non_null(strstr(info.initrd, "/text/debian-installer/amd64/initrd.gz"));

	/* extraction hashes what it stages; a directory source may be linked */
	char *dest[2] = { kf_xasprintf("%s/k", dir), kf_xasprintf("%s/i", dir) };
	const char *want[2] = { info.kernel, info.initrd };
	char hex[2][65];
	assert_int_equal(kf_media_extract(&m, want, (const char *const *)dest, 2, true, hex, &e), 0);
	/* sha256("kernel") */
	assert_string_equal(hex[0], "6923dd1bc0460082c5d55a831908c24a282860b7f1cd6c2b79cf1bc8857c639c");
	char check[65];
	assert_int_equal(kf_hash_file(dest[0], check), 0);
	assert_string_equal(check, hex[0]);
	free(dest[0]);
	free(dest[1]);
	kf_media_info_release(&info);
	kf_media_release(&m);
	free(src);
	kf_err_release(&e);
}

static void test_unknown_media(void **state)
{
	(void)state;
	put("empty/README", "nothing here\n");
	char *src = kf_xasprintf("%s/empty", dir);
	struct kf_media m;
	struct kf_media_info info;
	struct kf_err e = KF_ERR_INIT;
	char buf[1024];
	assert_int_equal(kf_media_open(&m, src, &e), 0);
	assert_true(kf_media_detect(&m, &info, &e) < 0);
	const char *msg = kf_err_format(&e, 0, buf, sizeof(buf));
	assert_non_null(strstr(msg, "unknown install media"));
	assert_non_null(strstr(msg, ".treeinfo"));
	assert_non_null(strstr(msg, "debian-installer/ARCH/linux"));
	kf_media_release(&m);
	kf_err_release(&e);

	/* .treeinfo naming kernels that are not there */
	put("nokern/.treeinfo", "[general]\narch = x86_64\nversion = 9\n");
	free(src);
	src = kf_xasprintf("%s/nokern", dir);
	assert_int_equal(kf_media_open(&m, src, &e), 0);
	assert_true(kf_media_detect(&m, &info, &e) < 0);
	assert_int_equal(e.n, 2);
	assert_non_null(strstr(kf_err_format(&e, 0, buf, sizeof(buf)),
			       ".treeinfo names the kernel images/pxeboot/vmlinuz, which is not on the media"));
	kf_media_release(&m);
	kf_err_release(&e);
	free(src);
}

static void test_sha256(void **state)
{
	(void)state;
	struct kf_hash h;
	char hex[65];
	kf_hash_init(&h);
	kf_hash_update(&h, "abc", 3);
	kf_hash_hex(&h, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	kf_hash_init(&h);
	kf_hash_hex(&h, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* Staging keeps the old copy when size and mtime match, copies with the
 * source's mtime otherwise. */
static void test_stage_file(void **state)
{
	(void)state;
	put("st/src", "0123456789");
	char *src = kf_xasprintf("%s/st/src", dir), *a = kf_xasprintf("%s/st/a", dir),
	     *b = kf_xasprintf("%s/st/b", dir);
	struct kf_stage_stats st = { 0 };
	struct kf_err e = KF_ERR_INIT;
	uint64_t done = 0;
	assert_int_equal(kf_stage_file(src, NULL, a, false, NULL, NULL, &done, 10, &st, &e), 0);
	assert_int_equal(st.copied, 10);
	assert_int_equal(done, 10);
	assert_true(kf_stage_same(src, a));
	struct stat s1, s2;
	assert_int_equal(stat(src, &s1), 0);
	assert_int_equal(stat(a, &s2), 0);
	assert_true(s1.st_ino != s2.st_ino);
	assert_int_equal(kf_stage_file(src, a, b, false, NULL, NULL, &done, 10, &st, &e), 0);
	assert_int_equal(st.kept, 10);
	/* a changed source is copied again */
	put("st/src", "01234567890");
	assert_false(kf_stage_same(src, a));
	unlink(b);
	assert_int_equal(kf_stage_file(src, a, b, true, NULL, NULL, &done, 10, &st, &e), 0);
	assert_int_equal(st.linked, 11);
	assert_int_equal(stat(b, &s2), 0);
	assert_int_equal(stat(src, &s1), 0);
	assert_true(s1.st_ino == s2.st_ino);
	free(src);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_treeinfo_productmd),
		cmocka_unit_test(test_treeinfo_general_only),
		cmocka_unit_test(test_treeinfo_default_images),
		cmocka_unit_test(test_treeinfo_errors),
		cmocka_unit_test(test_discinfo),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_netboot_layout),
		cmocka_unit_test(test_unknown_media),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_stage_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
