/* Unit tests: reading and writing whole files (lib/util.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* /proc says such files have 0 bytes, and a sysctl read from an offset
 * other than 0 gives nothing: the whole value must come in one read. */
static void test_read_proc(void **state)
{
	(void)state;
	char *s = NULL;
	size_t n = 0;
	assert_int_equal(kf_read_file("/proc/sys/kernel/ostype", 1 << 20, &s, &n), 0);
	assert_string_equal(s, "Linux\n");
	assert_int_equal(n, 6);
	free(s);
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	assert_non_null(f);
	char want[64] = "";
	assert_non_null(fgets(want, sizeof(want), f));
	fclose(f);
	assert_int_equal(kf_read_file("/proc/sys/kernel/pid_max", 1 << 20, &s, &n), 0);
	assert_string_equal(s, want);
	free(s);
}

static void test_read_write_big(void **state)
{
	(void)state;
	char dir[] = "/tmp/kf-test-util.XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	size_t big = 300000;
	char *data = kf_xmalloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)('a' + i % 26);
	assert_int_equal(kf_write_replace(path, data, big, 0640), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	char *s = NULL;
	size_t n = 0;
	assert_int_equal(kf_read_file(path, 1 << 20, &s, &n), 0);
	assert_int_equal(n, big);
	assert_memory_equal(s, data, big);
	assert_int_equal(s[n], 0);
	free(s);
	assert_int_equal(kf_read_file(path, big - 1, &s, &n), -EFBIG);
	assert_int_equal(kf_write_atomic(path, "", 0, 0600), 0);
	assert_int_equal(kf_read_file(path, 10, &s, &n), 0);
	assert_int_equal(n, 0);
	assert_string_equal(s, "");
	free(s);
	/* ordered: the same file, mode and nothing left beside it */
	assert_int_equal(kf_write_ordered(path, "ordered\n", 8, 0604), 0);
	assert_int_equal(kf_read_file(path, 10, &s, &n), 0);
	assert_string_equal(s, "ordered\n");
	free(s);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0604);
	DIR *d = opendir(dir);
	assert_non_null(d);
	int entries = 0;
	for (struct dirent *de; (de = readdir(d));)
		entries += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(entries, 1);
	assert_int_equal(kf_write_ordered("/nonexistent-kickfleet/f", "x", 1, 0644), -ENOENT);
	assert_int_equal(kf_read_file("/nonexistent-kickfleet/f", 10, &s, &n), -ENOENT);
	free(data);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_proc),
		cmocka_unit_test(test_read_write_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
