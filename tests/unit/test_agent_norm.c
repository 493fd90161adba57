/* Unit tests of the agent's pure parts: value normalisation and the
 * parsers of host files (bracketed sysfs values, module booleans, kernel
 * command line hugepage words, shell-style defaults files, modprobe.d,
 * /proc/interrupts, IRQBALANCE_ARGS, cpuinfo, node meminfo). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/bootcmd.h"
#include "agent/host.h"
#include "agent/hostio.h"

static void test_bracket(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(kf_norm_bracket("always [madvise] never", buf, sizeof(buf)), "madvise");
	assert_string_equal(kf_norm_bracket("[always] madvise never", buf, sizeof(buf)), "always");
	assert_string_equal(kf_norm_bracket("always defer [defer+madvise] madvise never", buf, sizeof(buf)),
			    "defer+madvise");
	assert_string_equal(kf_norm_bracket("never", buf, sizeof(buf)), "never");
	assert_string_equal(kf_norm_bracket("  never\n", buf, sizeof(buf)), "never");
	assert_null(kf_norm_bracket("always [madvise", buf, sizeof(buf)));
	assert_null(kf_norm_bracket("", buf, sizeof(buf)));
}

static void test_bool(void **state)
{
	(void)state;
	assert_int_equal(kf_norm_bool("Y"), 1);
	assert_int_equal(kf_norm_bool("1"), 1);
	assert_int_equal(kf_norm_bool("N"), 0);
	assert_int_equal(kf_norm_bool("0"), 0);
	assert_int_equal(kf_norm_bool("yes"), -1);
}

static void test_cmdline_set(void **state)
{
	(void)state;
	char *s = kf_cmdline_set_hugepages("quiet hugepages=16 console=ttyS0", 1ULL << 30, "0:4,1:4");
	/* a bare hugepages= before any hugepagesz= (default size) is not ours */
	assert_string_equal(s, "quiet hugepages=16 console=ttyS0 hugepagesz=1G hugepages=0:4,1:4");
	char *t = kf_cmdline_set_hugepages(s, 2ULL << 20, "1024");
	assert_string_equal(t, "quiet hugepages=16 console=ttyS0 hugepagesz=2M hugepages=1024 hugepagesz=1G hugepages=0:4,1:4");
	char *u = kf_cmdline_set_default_hpsz(t, 1ULL << 30);
	assert_string_equal(u, "quiet hugepages=16 console=ttyS0 default_hugepagesz=1G hugepagesz=2M hugepages=1024 hugepagesz=1G hugepages=0:4,1:4");
	char *hp = kf_cmdline_hugepages(u);
	assert_string_equal(hp, "default_hugepagesz=1G hugepagesz=2M hugepages=1024 hugepagesz=1G hugepages=0:4,1:4");
	char *v = kf_cmdline_hp_value(u, 1ULL << 30);
	assert_string_equal(v, "0:4,1:4");
	char *w = kf_cmdline_set_hugepages(u, 2ULL << 20, NULL);
	assert_string_equal(w, "quiet hugepages=16 console=ttyS0 default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4");
	free(s), free(t), free(u), free(hp), free(v), free(w);
}

static void test_cmdline_norm_order(void **state)
{
	(void)state;
	/* the same reservations in another order and spelling compare equal */
	char *a = kf_cmdline_hugepages("hugepagesz=1073741824 hugepages=4 ro default_hugepagesz=2M hugepagesz=2048K hugepages=8");
	char *b = kf_cmdline_hugepages("default_hugepagesz=2M hugepagesz=2M hugepages=8 hugepagesz=1G hugepages=4 ro");
	assert_string_equal(a, b);
	assert_string_equal(a, "default_hugepagesz=2M hugepagesz=2M hugepages=8 hugepagesz=1G hugepages=4");
	char *c = kf_cmdline_hugepages("quiet");
	assert_string_equal(c, "");
	assert_null(kf_cmdline_hp_value("quiet", 1ULL << 30));
	free(a), free(b), free(c);
}

static void test_cmdline_word(void **state)
{
	(void)state;
	char *v = kf_cmdline_word("ro iommu=off quiet iommu=pt intel_iommu", "iommu");
	assert_string_equal(v, "pt");
	free(v);
	v = kf_cmdline_word("ro intel_iommu quiet", "intel_iommu");
	assert_string_equal(v, "");
	free(v);
	assert_null(kf_cmdline_word("ro intel_iommu_x=1 quiet", "intel_iommu"));
	char *s = kf_cmdline_set_word("ro iommu=off quiet iommu intel_iommu=off", "iommu", "pt");
	assert_string_equal(s, "ro iommu=pt quiet intel_iommu=off");
	char *t = kf_cmdline_set_word(s, "intel_iommu", "on");
	assert_string_equal(t, "ro iommu=pt quiet intel_iommu=on");
	char *u = kf_cmdline_set_word("", "amd_iommu", "on");
	assert_string_equal(u, "amd_iommu=on");
	free(s);
	free(t);
	free(u);
}

static void test_shvar(void **state)
{
	(void)state;
	const char *text = "# comment\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"console=tty0 quiet\"\n"
			   "GRUB_CMDLINE_LINUX_DEFAULT='splash'\n";
	char *v = kf_shvar_get(text, "GRUB_CMDLINE_LINUX");
	assert_string_equal(v, "console=tty0 quiet");
	char *d = kf_shvar_get(text, "GRUB_CMDLINE_LINUX_DEFAULT");
	assert_string_equal(d, "splash");
	assert_null(kf_shvar_get(text, "GRUB_TIMEOUT"));
	assert_null(kf_shvar_get("#GRUB_TIMEOUT=5\n", "GRUB_TIMEOUT"));
	char *n = kf_shvar_set(text, "GRUB_CMDLINE_LINUX", "x y");
	assert_string_equal(n, "# comment\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"x y\"\nGRUB_CMDLINE_LINUX_DEFAULT='splash'\n");
	char *m = kf_shvar_set("A=1", "B", "2");
	assert_string_equal(m, "A=1\nB=\"2\"\n");
	free(v), free(d), free(n), free(m);
}

static void test_modprobe(void **state)
{
	(void)state;
	const char *t = "# x\noptions kvm_intel nested=Y enable_apicv=1\noptions kvm_amd nested=0\n";
	assert_int_equal(kf_modprobe_option(t, "kvm_intel", "nested"), 1);
	assert_int_equal(kf_modprobe_option(t, "kvm_amd", "nested"), 0);
	assert_int_equal(kf_modprobe_option(t, "kvm", "nested"), -1);
	assert_int_equal(kf_modprobe_option("#options kvm_intel nested=1\n", "kvm_intel", "nested"), -1);
	assert_int_equal(kf_modprobe_option("options kvm_intel nested=1", "kvm_intel", "nested"), 1);
}

static void test_interrupts(void **state)
{
	(void)state;
	const char *t = "           CPU0       CPU1\n"
			"  0:         10          0   IO-APIC   2-edge      timer\n"
			" 40:          1          2   PCI-MSIX-0000:3b:00.0 0-edge      eth0-TxRx-0\n"
			" 41:          1          2   PCI-MSIX-0000:3b:00.0 1-edge      eth0-TxRx-1\n"
			" 42:          1          2   PCI-MSIX-0000:3b:00.0 2-edge      eth0\n"
			" 43:          1          2   PCI-MSIX-0000:3c:00.0 0-edge      eth01-TxRx-0\n"
			"NMI:          0          0   Non-maskable interrupts\n";
	int irqs[8];
	assert_int_equal(kf_interrupts_for(t, "eth0", irqs, 8), 3);
	assert_int_equal(irqs[0], 40);
	assert_int_equal(irqs[2], 42);
	assert_int_equal(kf_interrupts_for(t, "eth01", irqs, 8), 1);
	assert_int_equal(irqs[0], 43);
	assert_int_equal(kf_interrupts_for(t, "eth9", irqs, 8), 0);
}

static void test_irqb_args(void **state)
{
	(void)state;
	char *a = kf_irqb_args_set("--hintpolicy=subset", true);
	assert_string_equal(a, "--hintpolicy=subset --powerthresh=1");
	assert_true(kf_irqb_args_powersave(a));
	char *b = kf_irqb_args_set(a, false);
	assert_string_equal(b, "--hintpolicy=subset");
	assert_false(kf_irqb_args_powersave(b));
	char *c = kf_irqb_args_set(NULL, false);
	assert_string_equal(c, "");
	free(a), free(b), free(c);
}

static void test_host_parsers(void **state)
{
	(void)state;
	char id[32];
	assert_int_equal(kf_cpuinfo_vendor("processor\t: 0\nvendor_id\t: GenuineIntel\n", id, sizeof(id)),
			 KF_CPUV_INTEL);
	assert_string_equal(id, "GenuineIntel");
	assert_int_equal(kf_cpuinfo_vendor("vendor_id : AuthenticAMD\n", id, sizeof(id)), KF_CPUV_AMD);
	assert_int_equal(kf_cpuinfo_vendor("processor : 0\n", id, sizeof(id)), KF_CPUV_UNKNOWN);
	unsigned long long b = 0;
	assert_int_equal(kf_node_meminfo_total("Node 1 MemTotal:        8388608 kB\nNode 1 MemFree: 1 kB\n", &b), 0);
	assert_true(b == 8388608ULL * 1024);
	assert_int_not_equal(kf_node_meminfo_total("Node 1 MemFree: 1 kB\n", &b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bracket),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_cmdline_set),
		cmocka_unit_test(test_cmdline_norm_order),
		cmocka_unit_test(test_cmdline_word),
		cmocka_unit_test(test_shvar),
		cmocka_unit_test(test_modprobe),
		cmocka_unit_test(test_interrupts),
		cmocka_unit_test(test_irqb_args),
		cmocka_unit_test(test_host_parsers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
