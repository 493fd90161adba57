/* Unit tests: the in-place ISO 9660 reader and kf_distro_open, on images
 * xorriso builds from a tree the test writes (Rock Ridge + Joliet, Joliet
 * only, plain ISO 9660), compared byte for byte with the tree and with
 * what libarchive extracts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/distro.h"
#include "provision/distro_iso.h"
#include "util.h"

static char dir[64];
static char *tree, *iso_rr, *iso_joliet, *iso_plain;

/* A pseudo-random, position-dependent pattern: a wrong offset shows. */
static unsigned char *pattern(size_t n, unsigned seed)
{
	unsigned char *p = kf_xmalloc(n ? n : 1);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

static const struct {
	const char *path;
	size_t size;
} files[] = {
	{ ".treeinfo", 120 },
	{ "images/pxeboot/vmlinuz", 300001 },
	{ "images/pxeboot/initrd.img", 1048576 + 7 },
	{ "Packages/a-very-long-package-name-1.2.3-4.el9.x86_64.rpm", 4096 },
	{ "Packages/empty.rpm", 0 },
	{ "repodata/repomd.xml", 2047 },
	{ "a/b/c/d/e/f/g/h/i/deep.txt", 10 },
};

static void write_tree(void)
{
	for (size_t i = 0; i < KF_ARRAY_SIZE(files); i++) {
		char *p = kf_xasprintf("%s/%s", tree, files[i].path);
		char *d = kf_xstrdup(p);
		assert_int_equal(kf_mkdir_p(dirname(d), 0755), 0);
		unsigned char *b = pattern(files[i].size, (unsigned)i + 1);
		assert_int_equal(kf_write_atomic(p, b, files[i].size, 0644), 0);
		free(b);
		free(d);
		free(p);
	}
}

static int mkiso(const char *out, const char *opts)
{
	char *cmd = kf_xasprintf("xorriso -as mkisofs -quiet %s -V TEST -o '%s' '%s' 2>/dev/null", opts,
				 out, tree);
	int r = system(cmd);
	free(cmd);
	return r;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kf-iso-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	tree = kf_xasprintf("%s/tree", dir);
	iso_rr = kf_xasprintf("%s/rr.iso", dir);
	iso_joliet = kf_xasprintf("%s/joliet.iso", dir);
	iso_plain = kf_xasprintf("%s/plain.iso", dir);
	write_tree();
	if (mkiso(iso_rr, "-R -J") || mkiso(iso_joliet, "--norock -J -joliet-long") || mkiso(iso_plain, "--norock"))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kf_distro_cache_clear();
	int r = kf_rm_rf(dir);
	free(tree);
	free(iso_rr);
	free(iso_joliet);
	free(iso_plain);
	return r;
}

static void check_file(struct kf_iso *iso, const char *path, size_t size, unsigned seed)
{
	struct kf_iso_file f;
	assert_int_equal(kf_iso_lookup(iso, path, &f), 0);
	assert_false(f.dir);
	assert_int_equal(f.size, size);
	assert_true(f.contiguous);
	unsigned char *want = pattern(size, seed), *got = kf_xmalloc(size + 16);
	/* whole file */
	assert_int_equal(kf_iso_pread(iso, &f, got, size + 16, 0), (ssize_t)size);
	assert_memory_equal(got, want, size);
	/* the same bytes straight from the image at the file's offset */
	if (size) {
		assert_int_equal(pread(kf_iso_fd(iso), got, size, (off_t)f.offset), (ssize_t)size);
		assert_memory_equal(got, want, size);
	}
	/* odd ranges, and past the end */
	if (size > 5000) {
		assert_int_equal(kf_iso_pread(iso, &f, got, 4097, 2049), 4097);
		assert_memory_equal(got, want + 2049, 4097);
		assert_int_equal(kf_iso_pread(iso, &f, got, 100, size - 10), 10);
		assert_memory_equal(got, want + size - 10, 10);
	}
	assert_int_equal(kf_iso_pread(iso, &f, got, 10, size), 0);
	free(want);
	free(got);
}

static void check_image(const char *path, bool long_names)
{
	struct kf_iso *iso = NULL;
	struct kf_err e = KF_ERR_INIT;
	int r = kf_iso_open(&iso, path, &e);
	if (r < 0)
		kf_err_print(&e, stderr);
	assert_int_equal(r, 0);
	for (size_t i = 0; i < KF_ARRAY_SIZE(files); i++) {
		if (!long_names && (files[i].path[0] == '.' || strlen(files[i].path) > 30))
			continue;
		check_file(iso, files[i].path, files[i].size, (unsigned)i + 1);
	}
	struct kf_iso_file f;
	assert_int_equal(kf_iso_lookup(iso, "/images//pxeboot/vmlinuz", &f), 0);
	assert_int_equal(kf_iso_lookup(iso, "images", &f), 0);
	assert_true(f.dir);
	char c;
	assert_int_equal(kf_iso_pread(iso, &f, &c, 1, 0), -EISDIR);
	assert_int_equal(kf_iso_lookup(iso, "images/../images/pxeboot/vmlinuz", &f), -ENOENT);
	assert_int_equal(kf_iso_lookup(iso, "nothing", &f), -ENOENT);
	kf_iso_free(iso);
	kf_err_release(&e);
}

static void test_rock_ridge(void **state)
{
	(void)state;
	check_image(iso_rr, true);
}

static void test_joliet(void **state)
{
	(void)state;
	check_image(iso_joliet, true);
}

/* Without extensions the names are upper-case 8.3-ish; vmlinuz survives. */
static void test_plain_iso9660(void **state)
{
	(void)state;
	struct kf_iso *iso = NULL;
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_iso_open(&iso, iso_plain, &e), 0);
	struct kf_iso_file f;
	assert_int_equal(kf_iso_lookup(iso, "IMAGES/PXEBOOT/VMLINUZ", &f), 0);
	assert_int_equal(f.size, files[1].size);
	kf_iso_free(iso);
}

/* The listing matches libarchive's, path for path and size for size. */
static void test_same_as_libarchive(void **state)
{
	(void)state;
	struct kf_media m;
	struct kf_err e = KF_ERR_INIT;
	struct kf_iso *iso = NULL;
	assert_int_equal(kf_media_open(&m, iso_rr, &e), 0);
	assert_true(m.iso);
	assert_int_equal(kf_iso_open(&iso, iso_rr, &e), 0);
	size_t nfiles = 0;
	for (size_t i = 0; i < kf_iso_count(iso); i++) {
		struct kf_iso_file f;
		const char *p = kf_iso_path(iso, i, &f);
		if (f.dir)
			continue;
		const struct kf_media_file *mf = kf_media_find(&m, p);
		assert_non_null(mf);
		assert_int_equal(mf->size, f.size);
		nfiles++;
	}
	assert_int_equal(nfiles, m.n);
	assert_int_equal(m.n, KF_ARRAY_SIZE(files));
	kf_iso_free(iso);
	kf_media_release(&m);
}

static void expect_open_error(const char *path, const char *what)
{
	struct kf_iso *iso = NULL;
	struct kf_err e = KF_ERR_INIT;
	char buf[512];
	assert_true(kf_iso_open(&iso, path, &e) < 0);
	assert_null(iso);
	assert_true(e.n >= 1);
	const char *msg = kf_err_format(&e, 0, buf, sizeof(buf));
	if (!strstr(msg, what))
		fprintf(stderr, "got: %s\n", msg);
	assert_non_null(strstr(msg, what));
	kf_err_release(&e);
}

static void test_bad_images(void **state)
{
	(void)state;
	char *cut = kf_xasprintf("%s/cut.iso", dir), *text = kf_xasprintf("%s/text.iso", dir);
	char *buf = NULL;
	size_t len;
	assert_int_equal(kf_read_file(iso_rr, 64 << 20, &buf, &len), 0);
	/* cut in half: the volume is larger than the file */
	assert_int_equal(kf_write_atomic(cut, buf, len / 2, 0644), 0);
	expect_open_error(cut, "truncated image (the volume is");
	/* only the descriptors survive */
	assert_int_equal(kf_write_atomic(cut, buf, 17 * 2048, 0644), 0);
	expect_open_error(cut, "truncated image");
	assert_int_equal(kf_write_atomic(text, "hello\n", 6, 0644), 0);
	expect_open_error(text, "not an ISO 9660 image");
	expect_open_error(dir, "not a regular file");
	free(buf);
	free(cut);
	free(text);
}

/* What `kickfleet serve` calls: staged files and tree files, from a staged
 * ISO or a staged directory, and every path that tries to leave. */
static void test_distro_open(void **state)
{
	(void)state;
	char *root = kf_xasprintf("%s/http", dir);
	char *d1 = kf_xasprintf("%s/distros/isod", root), *d2 = kf_xasprintf("%s/distros/dird", root);
	assert_int_equal(kf_mkdir_p(d1, 0755), 0);
	assert_int_equal(kf_mkdir_p(d2, 0755), 0);
	char *p = kf_xasprintf("%s/media.iso", d1);
	assert_int_equal(link(iso_rr, p), 0);
	free(p);
	p = kf_xasprintf("%s/tree", d2);
	assert_int_equal(symlink(tree, p) == 0 ? 0 : -1, 0);
	free(p);
	p = kf_xasprintf("%s/vmlinuz", d2);
	assert_int_equal(kf_write_atomic(p, "KERNEL", 6, 0644), 0);
	free(p);

	struct kf_distro_blob b;
	unsigned char *want = pattern(files[1].size, 2), *got = kf_xmalloc(files[1].size);
	assert_int_equal(kf_distro_open(root, "isod/tree/images/pxeboot/vmlinuz", &b), 0);
	assert_int_equal(b.size, files[1].size);
	assert_true(b.offset > 0);
	/* a Range request: bytes 1000-1999 */
	assert_int_equal(pread(b.fd, got, 1000, (off_t)(b.offset + 1000)), 1000);
	assert_memory_equal(got, want + 1000, 1000);
	close(b.fd);
	/* again, from the cache */
	assert_int_equal(kf_distro_open(root, "isod/tree/images/pxeboot/vmlinuz", &b), 0);
	assert_int_equal(pread(b.fd, got, files[1].size, (off_t)b.offset), (ssize_t)files[1].size);
	assert_memory_equal(got, want, files[1].size);
	close(b.fd);

	assert_int_equal(kf_distro_open(root, "dird/vmlinuz", &b), 0);
	assert_int_equal(b.offset, 0);
	assert_int_equal(b.size, 6);
	close(b.fd);
	/* the staged tree must not be a symlink: refused */
	assert_int_equal(kf_distro_open(root, "dird/tree/images/pxeboot/vmlinuz", &b), -EACCES);

	assert_int_equal(kf_distro_open(root, "isod/tree/images", &b), -EISDIR);
	assert_int_equal(kf_distro_open(root, "isod/tree/nothing", &b), -ENOENT);
	assert_int_equal(kf_distro_open(root, "isod/media.iso", &b), -ENOENT);
	assert_int_equal(kf_distro_open(root, "isod/tree/../media.iso", &b), -EACCES);
	assert_int_equal(kf_distro_open(root, "../distros/isod/vmlinuz", &b), -EACCES);
	assert_int_equal(kf_distro_open(root, "/etc/passwd", &b), -EACCES);
	assert_int_equal(kf_distro_open(root, "isod//tree/x", &b), -EACCES);
	assert_int_equal(kf_distro_open(root, ".isod.new-1/vmlinuz", &b), -ENOENT);
	assert_int_equal(kf_distro_open(root, "nodistro/vmlinuz", &b), -ENOENT);
	assert_int_equal(b.fd, -1);

	/* a re-import replaces media.iso: the next open sees the new image */
	p = kf_xasprintf("%s/media.iso", d1);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(link(iso_joliet, p), 0);
	assert_int_equal(kf_distro_open(root, "isod/tree/images/pxeboot/initrd.img", &b), 0);
	assert_int_equal(b.size, files[2].size);
	close(b.fd);
	free(p);
	free(want);
	free(got);
	free(d1);
	free(d2);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rock_ridge),
		cmocka_unit_test(test_joliet),
		cmocka_unit_test(test_plain_iso9660),
		cmocka_unit_test(test_same_as_libarchive),
		cmocka_unit_test(test_bad_images),
		cmocka_unit_test(test_distro_open),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
