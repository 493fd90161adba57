/* Unit tests: the kickstart syntax checker (kickstart/kscheck.c) on good
 * and broken kickstarts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "kickstart/kscheck.h"

static const char good[] =
	"# a comment\n"
	"text\n"
	"url --url=http://10.0.0.1/tree\n"
	"rootpw --iscrypted $6$x\n"
	"  network --device=52:54:00:aa:00:01 --bootproto=dhcp\n"
	"%include /tmp/part.ks\n"
	"\n"
	"%packages\n"
	"@^minimal-environment\n"
	"-iwl*firmware\n"
	"%end\n"
	"%pre --erroronfail\n"
	"echo %prefix is fine in a script\n"
	"%anything goes in a script\n"
	"%end\n"
	"%post --nochroot --log=/x\n"
	"reboot is a shell word here\n"
	"%end\n"
	"%addon com_redhat_kdump --disable\n"
	"%end\n"
	"reboot\n";

static int check(const char *text, char *first, size_t len, size_t *n)
{
	struct kf_err e = KF_ERR_INIT;
	int r = kf_kscheck("t.ks", text, strlen(text), &e);
	*n = e.n;
	first[0] = 0;
	if (e.n)
		kf_err_format(&e, 0, first, len);
	kf_err_release(&e);
	return r;
}

#define BAD(text, count, msg)                                     \
	do {                                                       \
		char m_[512];                                      \
		size_t n_;                                         \
		assert_int_equal(check(text, m_, sizeof(m_), &n_), -EINVAL); \
		assert_int_equal(n_, count);                       \
		assert_string_equal(m_, msg);                      \
	} while (0)

static void test_good(void **state)
{
	(void)state;
	char m[512];
	size_t n;
	assert_int_equal(check(good, m, sizeof(m), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(check("", m, sizeof(m), &n), 0);
}

static void test_unknown_command(void **state)
{
	(void)state;
	BAD("text\nrootpww --iscrypted x\n", 1,
	    "t.ks:2:1: unknown kickstart command \"rootpww\" (did you mean \"rootpw\"?)");
	BAD("text\n   frobnicate\n", 1, "t.ks:2:4: unknown kickstart command \"frobnicate\"");
	/* a rendered value that broke a line shows up as a command */
	BAD("network --hostname=a\nreboot --x\nb=c\n", 1, "t.ks:3:1: unknown kickstart command \"b=c\"");
}

static void test_sections(void **state)
{
	(void)state;
	BAD("text\n%post\ntrue\n", 1, "t.ks:2:1: section %post is not closed (no %end)");
	BAD("%packages\nvim\n%post\ntrue\n%end\n", 1,
	    "t.ks:3:1: section %post starts inside %packages (line 1 has no %end)");
	BAD("text\n%end\n", 1, "t.ks:2:1: %end without an open section");
	BAD("%postt\n%end\n", 2, "t.ks:1:1: unknown section \"%postt\" (did you mean \"%post\"?)");
	BAD("%packages\n%bogus\n%end\n", 1, "t.ks:2:1: unknown section \"%bogus\"");
	/* every problem of a file is reported */
	BAD("bogus1\n%pre\n%pre\nbogus2\n", 3, "t.ks:1:1: unknown kickstart command \"bogus1\"");
}

static void test_empty_option(void **state)
{
	(void)state;
	/* what a template renders from an empty host.disk */
	BAD("text\nignoredisk --only-use=\"\"\n", 1,
	    "t.ks:2:12: ignoredisk: option --only-use has an empty value");
	BAD("clearpart --all --initlabel --drives=\n", 1,
	    "t.ks:1:29: clearpart: option --drives has an empty value");
	BAD("  url --url=''\r\n", 1, "t.ks:1:7: url: option --url has an empty value");
	BAD("%post --log=\"\"\ntrue\n%end\n", 1, "t.ks:1:7: %post: option --log has an empty value");
	BAD("part / --label= --fstype=\"\"\n", 2, "t.ks:1:8: part: option --label has an empty value");
	/* quoted values hold spaces, quotes and "--x=" */
	char m[512];
	size_t n;
	assert_int_equal(check("network --hostname=a --activate\n"
			       "bootloader --append=\"a \\\" --x= b\" --timeout=3\n"
			       "part / --label='x --y=' --grow\n"
			       "%pre\necho --x=\n%end\n",
			       m, sizeof(m), &n),
			 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_unknown_command),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_empty_option),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
