/* Unit tests: inventory cross-checks, on fleets written to a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inventory.h"
#include "util.h"

static char dir[64];

static void put(const char *name, const char *text)
{
	char *p = kf_xasprintf("%s/%s", dir, name);
	assert_int_equal(kf_write_atomic(p, text, strlen(text), 0644), 0);
	free(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kf-inv-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	put("host.yaml", "kvm: {nested: true}\nmemory:\n  hugepages:\n    - {size: 1G, count: 8}\n");
	put("plain.yaml", "memory: {numa_balancing: false}\n");
	put("t.ks", "text\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = kf_xasprintf("rm -rf '%s'", dir);
	int r = system(cmd);
	free(cmd);
	return r;
}

static const char *head =
	"provisioner: {interface: br0, address: 10.0.0.1, subnet: 10.0.0.0/24,\n"
	"  dhcp: {range: [10.0.0.100, 10.0.0.200]}}\n"
	"distros: {d: {kernel: /k, initrd: /i}}\n"
	"roles:\n"
	"  kvm: {distro: d, kickstart: t.ks, profile: host.yaml}\n"
	"  plain: {distro: d, kickstart: t.ks, profile: plain.yaml}\n";

/* Loads head + body; returns the messages joined by newlines. */
static char *check(const char *body, int *rc)
{
	char *text = kf_xasprintf("%s%s", head, body);
	put("fleet.yaml", text);
	free(text);
	char *path = kf_xasprintf("%s/fleet.yaml", dir);
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	*rc = kf_inventory_load(&inv, path, &e);
	kf_inventory_free(inv);
	struct kf_buf b = KF_BUF_INIT;
	char buf[1024];
	for (size_t i = 0; i < e.n; i++) {
		/* drop the temp dir from the file name */
		const char *m = kf_err_format(&e, i, buf, sizeof(buf));
		if (!strncmp(m, dir, strlen(dir)))
			m += strlen(dir) + 1;
		kf_buf_printf(&b, "%s\n", m);
	}
	kf_err_release(&e);
	free(path);
	return kf_buf_detach(&b);
}

static void expect(const char *body, const char *want)
{
	int rc;
	char *got = check(body, &rc);
	assert_string_equal(got, want);
	if (want[0])
		assert_int_not_equal(rc, 0);
	else
		assert_int_equal(rc, 0);
	free(got);
}

static void test_valid(void **state)
{
	(void)state;
	expect("hosts:\n  - {name: a, mac: 52:54:00:00:00:01, ip: 10.0.0.11, role: kvm, memory: 64G}\n"
	       "guests:\n  - {name: g, host: a, mac: 52:54:00:00:01:01, role: plain}\n",
	       "");
}

static void test_duplicates(void **state)
{
	(void)state;
	expect("hosts:\n"
	       "  - {name: a, mac: 52:54:00:00:00:01, ip: 10.0.0.11, role: kvm}\n"
	       "  - {name: a, macs: [52:54:00:00:00:02, 52:54:00:00:00:01], ip: 10.0.0.11, role: kvm}\n"
	       "  - {name: b, mac: 52:54:00:00:00:03, ip: 10.0.0.1, role: kvm}\n",
	       "fleet.yaml:9:12: host name a is used twice (first at line 8)\n"
	       "fleet.yaml:9:21: MAC 52:54:00:00:00:01 is used twice (first by a at line 8)\n"
	       "fleet.yaml:10:43: IP 10.0.0.1 is used twice (first by the provisioner at line 1)\n"
	       "fleet.yaml:9:65: IP 10.0.0.11 is used twice (first by a at line 8)\n");
}

/* Many hosts, clashes far apart and out of order, an IP given three times:
 * the same messages in the same order as with a handful. */
static void test_duplicates_among_many(void **state)
{
	(void)state;
	struct kf_buf b = KF_BUF_INIT;
	kf_buf_puts(&b, "hosts:\n");
	for (int i = 0; i < 200; i++) /* lines 8..207 */
		kf_buf_printf(&b, "  - {name: h%03d, mac: 52:54:00:00:%02x:%02x, ip: 10.0.0.%d, role: plain}\n",
			      199 - i, i / 100, i % 100, 2 + (199 - i) % 98);
	kf_buf_puts(&b, "  - {name: h150, mac: 52:54:00:00:00:07, ip: 10.0.0.250, role: plain}\n"
			"  - {name: late, macs: [52:54:00:00:01:2c, 52:54:00:00:01:63], role: plain}\n");
	int rc;
	char *got = check(b.s, &rc);
	kf_buf_release(&b);
	assert_int_not_equal(rc, 0);
	/* IPs 10.0.0.2..99 are each used two or three times: look at a few */
	assert_non_null(strstr(got, "fleet.yaml:208:12: host name h150 is used twice (first at line 57)\n"));
	assert_non_null(strstr(got, "fleet.yaml:208:23: MAC 52:54:00:00:00:07 is used twice "
				    "(first by h192 at line 15)\n"
				    "fleet.yaml:209:24: MAC 52:54:00:00:01:2c is used twice "
				    "(first by h055 at line 152)\n"
				    "fleet.yaml:209:24: MAC 52:54:00:00:01:63 is used twice "
				    "(first by h000 at line 207)\n"));
	assert_non_null(strstr(got, "fleet.yaml:109:46: IP 10.0.0.2 is used twice (first by h196 at line 11)\n"
				    "fleet.yaml:207:46: IP 10.0.0.2 is used twice (first by h196 at line 11)\n"));
	assert_non_null(strstr(got, "fleet.yaml:155:46: IP 10.0.0.54 is used twice (first by h150 at line 57)\n"));
	free(got);
}

static void test_subnet_and_refs(void **state)
{
	(void)state;
	expect("hosts:\n"
	       "  - {name: a, mac: 52:54:00:00:00:01, ip: 10.0.1.11, role: kvm}\n"
	       "  - {name: p, mac: 52:54:00:00:00:02, role: plain}\n"
	       "  - {name: x, mac: 52:54:00:00:00:03, role: nope}\n"
	       "guests:\n"
	       "  - {name: g1, host: zz, mac: 52:54:00:00:01:01, role: plain}\n"
	       "  - {name: g2, host: p, mac: 52:54:00:00:01:02, role: plain}\n",
	       "fleet.yaml:8:43: host a: ip 10.0.1.11 is outside subnet 10.0.0.0/24\n"
	       "fleet.yaml:10:45: host x: unknown role \"nope\"\n"
	       "fleet.yaml:12:22: guest g1: unknown host \"zz\"\n"
	       "fleet.yaml:13:22: guest g2: host p is not a KVM host (its role plain has no kvm or libvirt section)\n");
}

static void test_hugepages_vs_memory(void **state)
{
	(void)state;
	expect("hosts:\n  - {name: a, mac: 52:54:00:00:00:01, role: kvm, memory: 4G}\n",
	       "fleet.yaml:8:58: host a: role kvm reserves 8G of hugepages but the host has 4G\n");
}

/* Power settings: a host's own keys, then defaults: power:, then the
 * built-in defaults; guests go through libvirt on their host. */
/* Segments: each host's own (named, or the subnet holding its ip; a
 * guest without ip its KVM host's), and an instance's view of one. */
static void test_segments(void **state)
{
	(void)state;
	put("fleet.yaml",
	    "provisioner:\n"
	    "  {interface: br0, address: 10.0.0.1, subnet: 10.0.0.0/24, segment: r1,\n"
	    "   dhcp: {range: [10.0.0.100, 10.0.0.200]},\n"
	    "   segments: {r2: {interface: br0, address: 10.0.0.3, subnet: 10.2.0.0/24, relay: 10.2.0.1,\n"
	    "     dhcp: {range: [10.2.0.100, 10.2.0.149]},\n"
	    "     standby: {address: 10.0.0.4, range: [10.2.0.150, 10.2.0.199]}}}}\n"
	    "distros: {d: {kernel: /k, initrd: /i}}\n"
	    "roles: {kvm: {distro: d, kickstart: t.ks, profile: host.yaml}}\n"
	    "hosts:\n"
	    "  - {name: a, mac: 52:54:00:00:00:01, ip: 10.0.0.11, role: kvm}\n"
	    "  - {name: b, mac: 52:54:00:00:00:02, ip: 10.2.0.11, role: kvm}\n"
	    "  - {name: c, mac: 52:54:00:00:00:03, segment: r2, role: kvm}\n"
	    "  - {name: d, mac: 52:54:00:00:00:04, role: kvm}\n"
	    "guests:\n"
	    "  - {name: g, host: c, mac: 52:54:00:00:01:01, role: kvm}\n");
	char *path = kf_xasprintf("%s/fleet.yaml", dir);
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	/* no --segment: the provisioner's own, r1 */
	assert_int_equal(kf_inventory_load_segment(&inv, path, NULL, false, &e), 0);
	assert_string_equal(inv->segment, "r1");
	static const bool r1[] = { true, false, false, true, false }, r2[] = { false, true, true, false, true };
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(kf_inventory_item_here(inv, i), r1[i]);
	kf_inventory_free(inv);
	assert_int_equal(kf_inventory_load_segment(&inv, path, "r2", false, &e), 0);
	assert_string_equal(inv->provisioner->address, "10.0.0.3");
	assert_string_equal(inv->provisioner->subnet, "10.2.0.0/24");
	assert_string_equal(KF_LIST_STR(inv->provisioner->dhcp->range, 0), "10.2.0.100");
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(kf_inventory_item_here(inv, i), r2[i]);
	assert_true(kf_inventory_name_here(inv, "g"));
	assert_false(kf_inventory_name_here(inv, "a"));
	assert_false(kf_inventory_name_here(inv, "nobody"));
	kf_inventory_free(inv);
	assert_int_equal(kf_inventory_load_segment(&inv, path, "r2", true, &e), 0);
	assert_string_equal(inv->provisioner->address, "10.0.0.4");
	assert_string_equal(KF_LIST_STR(inv->provisioner->dhcp->range, 0), "10.2.0.150");
	assert_null(inv->provisioner->url);
	kf_inventory_free(inv);
	assert_int_equal(e.n, 0);
	assert_int_equal(kf_inventory_load_segment(&inv, path, "r9", false, &e), -ENOENT);
	assert_null(inv);
	assert_int_equal(kf_inventory_load_segment(&inv, path, "r1", true, &e), -ENOENT);
	assert_int_equal(e.n, 2);
	kf_err_release(&e);
	free(path);
}

static void test_power_resolve(void **state)
{
	(void)state;
	put("pw", "x\n");
	char *pw = kf_xasprintf("%s/pw", dir);
	assert_int_equal(chmod(pw, 0600), 0);
	free(pw);
	char *text = kf_xasprintf(
		"%sdefaults: {power: {user: admin, password_file: pw, cipher_suite: 17}}\n"
		"hosts:\n"
		"  - {name: a, mac: 52:54:00:00:00:01, ip: 10.0.0.11, role: kvm, firmware: uefi,\n"
		"     power: {address: 10.9.0.1}}\n"
		"  - {name: b, mac: 52:54:00:00:00:02, role: kvm,\n"
		"     power: {address: bmc-b, port: 16230, user: root, interface: lan, cipher_suite: 3}}\n"
		"  - {name: c, mac: 52:54:00:00:00:03, role: kvm}\n"
		"guests:\n"
		"  - {name: g, host: a, mac: 52:54:00:00:01:01, role: plain}\n", head);
	put("fleet.yaml", text);
	free(text);
	char *path = kf_xasprintf("%s/fleet.yaml", dir);
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	assert_int_equal(kf_inventory_load(&inv, path, &e), 0);
	struct kf_power_cfg c;
	assert_int_equal(kf_power_resolve(inv, "a", &c, &e), 0);
	assert_int_equal(c.type, KF_POWER_IPMI);
	assert_string_equal(c.address, "10.9.0.1");
	assert_int_equal(c.port, 623);
	assert_string_equal(c.user, "admin");
	char *want = kf_xasprintf("%s/pw", dir);
	assert_string_equal(c.password_file, want);
	free(want);
	assert_int_equal(c.interface, KF_IPMI_LANPLUS);
	assert_int_equal(c.cipher_suite, 17);
	assert_int_equal(c.firmware, KF_FW_UEFI);
	kf_power_cfg_release(&c);
	assert_int_equal(kf_power_resolve(inv, "b", &c, &e), 0);
	assert_int_equal(c.port, 16230);
	assert_string_equal(c.user, "root");
	assert_int_equal(c.interface, KF_IPMI_LAN);
	assert_int_equal(c.cipher_suite, 3);
	kf_power_cfg_release(&c);
	assert_int_equal(kf_power_resolve(inv, "c", &c, &e), -ENODEV);
	assert_int_equal(kf_power_resolve(inv, "g", &c, &e), 0);
	assert_int_equal(c.type, KF_POWER_LIBVIRT);
	assert_string_equal(c.kvm_host, "10.0.0.11");
	assert_null(c.uri);
	assert_int_equal(kf_power_resolve(inv, "nope", &c, &e), -ENOENT);
	kf_err_release(&e);
	kf_inventory_free(inv);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_duplicates_among_many),
		cmocka_unit_test(test_subnet_and_refs),
		cmocka_unit_test(test_hugepages_vs_memory),
		cmocka_unit_test(test_power_resolve),
		cmocka_unit_test(test_segments),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
