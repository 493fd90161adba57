/* Unit tests: value types (sizes, cpulists, masks, MACs, IPv4, PCI, bools). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "types.h"

static void test_size_parse(void **state)
{
	(void)state;
	uint64_t b;
	assert_int_equal(kf_size_parse("4096", &b), 0);
	assert_int_equal(b, 4096);
	assert_int_equal(kf_size_parse("2M", &b), 0);
	assert_int_equal(b, 2u << 20);
	assert_int_equal(kf_size_parse("8G", &b), 0);
	assert_int_equal(b, 8ull << 30);
	assert_int_equal(kf_size_parse("1GiB", &b), 0);
	assert_int_equal(b, 1ull << 30);
	assert_int_equal(kf_size_parse("512k", &b), 0);
	assert_int_equal(b, 512u << 10);
	assert_int_equal(kf_size_parse("2MB", &b), 0);
	assert_int_equal(b, 2u << 20);
	assert_int_equal(kf_size_parse("1T", &b), 0);
	assert_int_equal(b, 1ull << 40);
	assert_int_not_equal(kf_size_parse("", &b), 0);
	assert_int_not_equal(kf_size_parse("G", &b), 0);
	assert_int_not_equal(kf_size_parse("8Q", &b), 0);
	assert_int_not_equal(kf_size_parse("-1G", &b), 0);
	assert_int_not_equal(kf_size_parse("1.5G", &b), 0);
	assert_int_not_equal(kf_size_parse("8 G", &b), 0);
	assert_int_not_equal(kf_size_parse("99999999999999999999", &b), 0);
	assert_int_not_equal(kf_size_parse("17179869184P", &b), 0); /* overflow */
}

static void test_size_fmt(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(kf_size_fmt(2u << 20, buf, sizeof(buf)), "2M");
	assert_string_equal(kf_size_fmt(1ull << 30, buf, sizeof(buf)), "1G");
	assert_string_equal(kf_size_fmt(1536ull << 20, buf, sizeof(buf)), "1536M");
	assert_string_equal(kf_size_fmt(1000, buf, sizeof(buf)), "1000");
	assert_string_equal(kf_size_fmt(0, buf, sizeof(buf)), "0");
	assert_string_equal(kf_size_fmt(3ull << 40, buf, sizeof(buf)), "3T");
}

static void test_cpulist(void **state)
{
	(void)state;
	struct kf_bitmap b;
	char buf[256];
	assert_int_equal(kf_cpulist_parse("0-3,8,10-11", &b), 0);
	assert_int_equal(kf_bitmap_count(&b), 7);
	assert_true(kf_bitmap_test(&b, 8));
	assert_false(kf_bitmap_test(&b, 9));
	assert_string_equal(kf_cpulist_fmt(&b, buf, sizeof(buf)), "0-3,8,10-11");
	assert_int_equal(kf_cpulist_norm("3,2,1,0, 5", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0-3,5");
	assert_int_equal(kf_cpulist_norm("0-7:2", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0,2,4,6");
	assert_int_equal(kf_cpulist_norm("", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_not_equal(kf_cpulist_parse("3-1", &b), 0);
	assert_int_not_equal(kf_cpulist_parse("a", &b), 0);
	assert_int_not_equal(kf_cpulist_parse("1,,2", &b), 0);
	assert_int_not_equal(kf_cpulist_parse("1-", &b), 0);
	assert_int_not_equal(kf_cpulist_parse("0-8192", &b), 0);
	assert_int_not_equal(kf_cpulist_parse("0-7:0", &b), 0);
	assert_int_equal(kf_cpulist_parse("5,100", &b), 0);
	assert_int_equal(kf_bitmap_last(&b), 100);
}

static void test_cpumask(void **state)
{
	(void)state;
	struct kf_bitmap b;
	char buf[256];
	assert_int_equal(kf_cpumask_parse("ff\n", &b), 0);
	assert_string_equal(kf_cpulist_fmt(&b, buf, sizeof(buf)), "0-7");
	assert_int_equal(kf_cpumask_parse("00000001,00000000", &b), 0);
	assert_string_equal(kf_cpulist_fmt(&b, buf, sizeof(buf)), "32");
	assert_string_equal(kf_cpumask_fmt(&b, buf, sizeof(buf)), "1,00000000");
	assert_int_equal(kf_cpulist_parse("0-3", &b), 0);
	assert_string_equal(kf_cpumask_fmt(&b, buf, sizeof(buf)), "f");
	assert_int_not_equal(kf_cpumask_parse("xyz", &b), 0);
	assert_int_not_equal(kf_cpumask_parse("", &b), 0);
}

static void test_mac(void **state)
{
	(void)state;
	char buf[18];
	assert_int_equal(kf_mac_norm("52:54:00:AA:00:01", buf), 0);
	assert_string_equal(buf, "52:54:00:aa:00:01");
	assert_int_equal(kf_mac_norm("52-54-00-aa-00-0F", buf), 0);
	assert_string_equal(buf, "52:54:00:aa:00:0f");
	assert_int_not_equal(kf_mac_norm("52:54:00:aa:00", buf), 0);
	assert_int_not_equal(kf_mac_norm("52:54:00:aa:00:0g", buf), 0);
	assert_int_not_equal(kf_mac_norm("52:54-00:aa:00:01", buf), 0);
	assert_int_not_equal(kf_mac_norm("525400aa0001", buf), 0);
	assert_int_not_equal(kf_mac_norm("52:54:00:aa:00:011", buf), 0);
	assert_int_not_equal(kf_mac_norm("52:54:00:aa:00: 1", buf), 0);
	assert_int_not_equal(kf_mac_norm("52:54:00:aa:00:+1", buf), 0);
	assert_int_equal(kf_mac_norm("fF:0a:A0:99:Ab:cD", buf), 0);
	assert_string_equal(buf, "ff:0a:a0:99:ab:cd");
}

static void test_ipv4(void **state)
{
	(void)state;
	uint32_t a, n;
	int p;
	char buf[16];
	assert_int_equal(kf_ipv4_parse("10.250.0.1", &a), 0);
	assert_string_equal(kf_ipv4_fmt(a, buf), "10.250.0.1");
	assert_string_equal(kf_ipv4_fmt(0, buf), "0.0.0.0");
	assert_string_equal(kf_ipv4_fmt(0xffffffffu, buf), "255.255.255.255");
	assert_string_equal(kf_ipv4_fmt(0x0a64090au, buf), "10.100.9.10");
	assert_int_not_equal(kf_ipv4_parse("10.250.0", &a), 0);
	assert_int_not_equal(kf_ipv4_parse("10.250.0.256", &a), 0);
	assert_int_equal(kf_cidr_parse("10.250.0.0/24", &n, &p), 0);
	assert_int_equal(p, 24);
	assert_true(kf_ipv4_in(a, n, p));
	kf_ipv4_parse("10.250.1.1", &a);
	assert_false(kf_ipv4_in(a, n, p));
	assert_true(kf_ipv4_in(a, n, 0));
	assert_int_not_equal(kf_cidr_parse("10.250.0.0/33", &n, &p), 0);
	assert_int_not_equal(kf_cidr_parse("10.250.0.0", &n, &p), 0);
	assert_int_not_equal(kf_cidr_parse("10.250.0.0/", &n, &p), 0);
	assert_int_not_equal(kf_cidr_parse("10.250.0.0/-1", &n, &p), 0);
}

static void test_pci_bool_int(void **state)
{
	(void)state;
	char buf[32];
	bool b;
	long long x;
	assert_int_equal(kf_pci_norm("0000:06:00.0", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0000:06:00.0");
	assert_int_equal(kf_pci_norm("06:1F.7", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0000:06:1f.7");
	assert_int_not_equal(kf_pci_norm("06:20.0", buf, sizeof(buf)), 0);
	assert_int_not_equal(kf_pci_norm("06:00.8", buf, sizeof(buf)), 0);
	assert_int_not_equal(kf_pci_norm("eth0", buf, sizeof(buf)), 0);
	assert_int_equal(kf_bool_parse("Yes", &b), 0);
	assert_true(b);
	assert_int_equal(kf_bool_parse("off", &b), 0);
	assert_false(b);
	assert_int_not_equal(kf_bool_parse("maybe", &b), 0);
	assert_int_equal(kf_int_parse("0x10", &x), 0);
	assert_int_equal(x, 16);
	assert_int_equal(kf_int_parse("-5", &x), 0);
	assert_int_equal(x, -5);
	assert_int_not_equal(kf_int_parse("5x", &x), 0);
	assert_int_not_equal(kf_int_parse(" 5", &x), 0);
	assert_int_not_equal(kf_int_parse("99999999999999999999", &x), 0);
}

static void test_timespan(void **state)
{
	(void)state;
	unsigned long long u;
	assert_int_equal(kf_timespan_parse("30min", &u), 0);
	assert_true(u == 1800ULL * 1000000);
	assert_int_equal(kf_timespan_parse("1h 30min", &u), 0);
	assert_true(u == 5400ULL * 1000000);
	assert_int_equal(kf_timespan_parse("1h30m", &u), 0);
	assert_true(u == 5400ULL * 1000000);
	assert_int_equal(kf_timespan_parse("45", &u), 0);
	assert_true(u == 45ULL * 1000000);
	assert_int_equal(kf_timespan_parse("20 s", &u), 0);
	assert_true(u == 20ULL * 1000000);
	assert_int_equal(kf_timespan_parse("250ms", &u), 0);
	assert_true(u == 250000);
	assert_int_equal(kf_timespan_parse("2d", &u), 0);
	assert_true(u == 2ULL * 86400 * 1000000);
	assert_int_equal(kf_timespan_parse("1M", &u), 0); /* a month, not a minute */
	assert_true(u == 2629800ULL * 1000000);
	assert_int_not_equal(kf_timespan_parse("", &u), 0);
	assert_int_not_equal(kf_timespan_parse("min", &u), 0);
	assert_int_not_equal(kf_timespan_parse("10 parsecs", &u), 0);
	assert_int_not_equal(kf_timespan_parse("1.5h", &u), 0);
	assert_int_not_equal(kf_timespan_parse("-5s", &u), 0);
	assert_int_not_equal(kf_timespan_parse("99999999999999999999y", &u), 0);
	assert_int_not_equal(kf_timespan_parse(NULL, &u), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_parse), cmocka_unit_test(test_size_fmt),
		cmocka_unit_test(test_cpulist),    cmocka_unit_test(test_cpumask),
		cmocka_unit_test(test_mac),        cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_pci_bool_int), cmocka_unit_test(test_timespan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
