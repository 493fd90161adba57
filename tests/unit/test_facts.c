/* Unit tests: host facts as JSON (lib/facts_json.c): a document survives
 * decode → encode unchanged, and the decoder refuses hostile documents
 * (wrong types, too deep, too big, too many items, bad schema) naming the
 * field; numa_maps sums per node (agent/facts_guest.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/facts_int.h"
#include "agent/facts_probe.h"
#include "facts.h"
#include "util.h"

static void fill(struct kf_facts *f)
{
	kf_facts_init(f);
	f->hostname = kf_xstrdup("kvm01");
	f->cpu.model = kf_xstrdup("Xeon \"quoted\" \\ model");
	f->cpu.sockets = 2;
	f->cpu.cores = 8;
	f->cpu.threads = 16;
	f->cpu.nested = 1;
	f->mem_total = 1LL << 36;
	f->nnodes = 2;
	f->nodes = kf_xcalloc(2, sizeof(*f->nodes));
	for (int i = 0; i < 2; i++) {
		f->nodes[i].id = i;
		f->nodes[i].cpus = kf_xstrdup(i ? "8-15" : "0-7");
		f->nodes[i].mem_total = 1LL << 35;
		f->nodes[i].mem_free = -1;
		f->nodes[i].ndistances = 2;
		f->nodes[i].distances = kf_xcalloc(2, sizeof(int));
		f->nodes[i].distances[0] = i ? 21 : 10;
		f->nodes[i].distances[1] = i ? 10 : 21;
		f->nodes[i].nhp = 1;
		f->nodes[i].hp = kf_xcalloc(1, sizeof(struct kf_f_hp));
		f->nodes[i].hp[0] = (struct kf_f_hp){ 1 << 30, 4, 2 };
	}
	f->nnics = 1;
	f->nics = kf_xcalloc(1, sizeof(*f->nics));
	f->nics[0] = (struct kf_f_nic){ .name = kf_xstrdup("eth0"), .mac = kf_xstrdup("52:54:00:00:00:01"),
					.speed = 10000, .link = 1, .rx_queues = 4, .tx_queues = 4, .combined = -1,
					.max_combined = -1, .sriov_total = 8, .sriov_num = 0 };
	kf_facts_note(f, "a note");
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct kf_facts f, g;
	struct kf_err e = KF_ERR_INIT;
	fill(&f);
	char *a = kf_facts_json(&f, true);
	assert_int_equal(kf_facts_from_json(&g, a, strlen(a), &e), 0);
	char *b = kf_facts_json(&g, true);
	assert_string_equal(a, b);
	assert_non_null(kf_facts_node(&g, 1));
	assert_null(kf_facts_node(&g, 2));
	assert_non_null(kf_facts_nic(&g, "52:54:00:00:00:01"));
	assert_non_null(kf_facts_nic(&g, "eth0"));
	free(a);
	free(b);
	kf_facts_release(&f);
	kf_facts_release(&g);
	kf_err_release(&e);
}

/* Decoding doc fails with code, and the message contains want. */
static void refused(const char *doc, int code, const char *want)
{
	struct kf_facts f;
	struct kf_err e = KF_ERR_INIT;
	char buf[512];
	assert_int_equal(kf_facts_from_json(&f, doc, strlen(doc), &e), code);
	assert_true(e.n > 0);
	const char *msg = kf_err_format(&e, 0, buf, sizeof(buf));
	if (!strstr(msg, want))
		fail_msg("\"%s\" does not say \"%s\"", msg, want);
	kf_err_release(&e);
	assert_null(f.nics);
}

static void test_hostile(void **state)
{
	(void)state;
	refused("[1]", -EINVAL, "bad JSON: expected an object");
	refused("{\"schema\": 2}", -EINVAL, "schema: expected 1");
	refused("{\"schema\": \"1\"}", -EINVAL, "schema: expected an integer");
	refused("{\"schema\": 1, \"cpu\": {\"threads\": \"many\"}}", -EINVAL, "cpu.threads: expected an integer");
	refused("{\"schema\": 1, \"nics\": [{\"name\": \"eth0\", \"mac\": 5}]}", -EINVAL, "nics[0].mac: expected a string");
	refused("{\"schema\": 1, \"nics\": [7]}", -EINVAL, "nics[0]: expected an object");
	refused("{\"schema\": 1, \"memory\": {\"total\": -5}}", -EINVAL, "memory.total: expected a number >= 0");
	refused("{\"schema\": 1} x", -EINVAL, "trailing data");
	refused("{\"schema\": 1, \"a\": [[[[[[[[[[1]]]]]]]]]]}", -E2BIG, "nested deeper");
	struct kf_buf b = KF_BUF_INIT;
	kf_buf_puts(&b, "{\"schema\": 1, \"notes\": [");
	for (int i = 0; i < KF_FACTS_MAX_ITEMS + 1; i++)
		kf_buf_puts(&b, i ? ",\"x\"" : "\"x\"");
	kf_buf_puts(&b, "]}");
	refused(b.s, -E2BIG, "notes: too many items");
	kf_buf_release(&b);
	char *big = kf_xcalloc(KF_FACTS_MAX_BYTES + 2, 1);
	memset(big, ' ', KF_FACTS_MAX_BYTES + 1);
	big[0] = '{';
	big[KF_FACTS_MAX_BYTES] = '}';
	refused(big, -E2BIG, "at most");
	free(big);
}

static void test_numa_maps(void **state)
{
	(void)state;
	long long mem[4] = { 0 };
	const char *t = "7f00 default anon=3 N0=2 N1=1 kernelpagesize_kB=4\n"
			"7f10 bind:1 huge anon=2 N1=2 kernelpagesize_kB=2048\n"
			"7f20 default file=/x N3=1 kernelpagesize_kB=4\n";
	assert_int_equal(kf_numa_maps_sum(t, mem, 4), 4);
	assert_int_equal(mem[0], 2 * 4096);
	assert_int_equal(mem[1], 4096 + 2 * (2 << 20));
	assert_int_equal(mem[2], 0);
	assert_int_equal(mem[3], 4096);
}

static void test_status_resident(void **state)
{
	(void)state;
	assert_int_equal(kf_status_resident("Name:\tqemu-system-x86\nVmRSS:\t   43928 kB\n"
					    "RssAnon:\t   21320 kB\nHugetlbPages:\t  524288 kB\n"),
			 (43928LL + 524288) * 1024);
	assert_int_equal(kf_status_resident("VmRSS:\t12 kB\n"), 12 * 1024);
	/* a kernel thread has no VmRSS; "VmRSSx" is another key */
	assert_int_equal(kf_status_resident("Name:\tkthreadd\nVmRSSx:\t1 kB\n"), -1);
	assert_true(kf_kernel_sums_rss("6.16.0"));
	assert_true(kf_kernel_sums_rss("6.18.44-fc-v1252"));
	assert_true(kf_kernel_sums_rss("7.0.1-100.fc44.x86_64"));
	assert_false(kf_kernel_sums_rss("6.15.9-arch1"));
	assert_false(kf_kernel_sums_rss("6.1.0-18-amd64"));
	assert_false(kf_kernel_sums_rss("5.14.0-427.el9.x86_64"));
	assert_false(kf_kernel_sums_rss(NULL));
	assert_false(kf_kernel_sums_rss("linux"));
}

static void test_facts_url(void **state)
{
	(void)state;
	char *u = kf_facts_url("http://10.0.0.1:8080/cb/kvm01/report?token=ab");
	assert_string_equal(u, "http://10.0.0.1:8080/facts/kvm01?token=ab");
	free(u);
	u = kf_facts_url("http://h/base/cb/kvm01/report");
	assert_string_equal(u, "http://h/base/facts/kvm01");
	free(u);
	assert_null(kf_facts_url("http://h/report"));
	assert_null(kf_facts_url("http://h/cb/kvm01/installed?token=x"));
	assert_null(kf_facts_url("http://h/cb//report"));
	assert_null(kf_facts_url("http://h/cb/kvm01/reports"));
	assert_null(kf_facts_url(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_numa_maps),
		cmocka_unit_test(test_status_resident),
		cmocka_unit_test(test_facts_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
