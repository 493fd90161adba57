/* Unit tests: boot loader renderers (pxe/), dnsmasq host/opts lines and
 * the batched atomic writer of render (provision/render_write.c). */
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
#include <sys/wait.h>
#include <unistd.h>

#include "provision/render_int.h"
#include "pxe/boot.h"

static const struct kf_boot install = {
	.host = "kvm01",
	.mode = KF_BOOT_INSTALL,
	.label = "install kvm01 (rocky9)",
	.kernel_tftp = "distro/rocky9/vmlinuz",
	.initrd_tftp = "distro/rocky9/initrd.img",
	.kernel_url = "http://10.0.0.1:8080/boot/distro/rocky9/vmlinuz",
	.initrd_url = "http://10.0.0.1:8080/boot/distro/rocky9/initrd.img",
	.args = "inst.ks=http://10.0.0.1:8080/ks/kvm01?token=abc console=ttyS0,115200",
	.serial_unit = "0",
	.serial_speed = "115200",
};

static char *run(const struct kf_loader *l, const struct kf_boot *b, int *rc)
{
	struct kf_buf out = KF_BUF_INIT;
	*rc = l->render(b, &out);
	return kf_buf_detach(&out);
}

static void test_mac_file_names(void **state)
{
	(void)state;
	char buf[24];
	assert_string_equal(kf_mac_file("52:54:00:AA:0b:01", buf), "01-52-54-00-aa-0b-01");
	char *p = kf_loader_pxelinux.path("52:54:00:aa:00:01");
	assert_string_equal(p, "pxelinux.cfg/01-52-54-00-aa-00-01");
	free(p);
	p = kf_loader_grub.path("52:54:00:aa:00:01");
	assert_string_equal(p, "grub/grub.cfg-01-52-54-00-aa-00-01");
	free(p);
	p = kf_loader_ipxe.path(NULL);
	assert_string_equal(p, "ipxe/default.ipxe");
	free(p);
	assert_int_equal(kf_loader_ipxe.root, KF_ROOT_HTTP);
	assert_int_equal(kf_loader_pxelinux.firmwares, 1u << KF_FW_BIOS);
}

static void test_pxelinux(void **state)
{
	(void)state;
	int rc;
	char *s = run(&kf_loader_pxelinux, &install, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(s, "SERIAL 0 115200\n"));
	assert_non_null(strstr(s, "  KERNEL distro/rocky9/vmlinuz\n  INITRD distro/rocky9/initrd.img\n"));
	assert_non_null(strstr(s, "  APPEND inst.ks=http://10.0.0.1:8080/ks/kvm01?token=abc console=ttyS0,115200\n"));
	free(s);
	struct kf_boot local = install;
	local.mode = KF_BOOT_LOCAL;
	s = run(&kf_loader_pxelinux, &local, &rc);
	assert_non_null(strstr(s, "DEFAULT local\n"));
	assert_non_null(strstr(s, "LOCALBOOT 0\n"));
	assert_null(strstr(s, "KERNEL"));
	free(s);
	struct kf_boot bad = install;
	bad.args = "a\nDEFAULT evil";
	free(run(&kf_loader_pxelinux, &bad, &rc));
	assert_int_equal(rc, -EINVAL);
}

static void test_grub(void **state)
{
	(void)state;
	int rc;
	char *s = run(&kf_loader_grub, &install, &rc);
	assert_int_equal(rc, 0);
	/* TFTP paths (GRUB 2.06 cannot use HTTP on other ports); the ks URL
	 * quoted because of '?' */
	assert_non_null(strstr(s, "\tlinux /distro/rocky9/vmlinuz 'inst.ks=http://10.0.0.1:8080/ks/kvm01?token=abc'"
				  " console=ttyS0,115200\n"));
	assert_non_null(strstr(s, "\tinitrd /distro/rocky9/initrd.img\n"));
	assert_non_null(strstr(s, "serial --unit=0 --speed=115200\n"));
	free(s);
	struct kf_boot http = install;
	http.grub_http = "(http,10.0.0.1)/boot";
	s = run(&kf_loader_grub, &http, &rc);
	assert_non_null(strstr(s, "\tlinux (http,10.0.0.1)/boot/distro/rocky9/vmlinuz "));
	free(s);
	struct kf_boot local = install;
	local.mode = KF_BOOT_LOCAL;
	s = run(&kf_loader_grub, &local, &rc);
	assert_non_null(strstr(s, "chainloader \"$kf_efi\"\n"));
	assert_non_null(strstr(s, "/EFI/BOOT/BOOTX64.EFI"));
	assert_non_null(strstr(s, "\nexit\n"));
	free(s);
	/* GRUB has no escape inside single quotes */
	struct kf_boot bad = install;
	bad.args = "x='y'";
	free(run(&kf_loader_grub, &bad, &rc));
	assert_int_equal(rc, -EINVAL);
	bad = install;
	bad.label = "it's";
	free(run(&kf_loader_grub, &bad, &rc));
	assert_int_equal(rc, -EINVAL);
	char *path = NULL;
	struct kf_buf b = KF_BUF_INIT;
	kf_loader_grub.entry("http://x", &path, &b);
	assert_string_equal(path, "grub/grub.cfg");
	assert_non_null(strstr(b.s, "$net_default_mac"));
	assert_non_null(strstr(b.s, "configfile \"$prefix/grub.cfg-default\""));
	free(path);
	kf_buf_release(&b);
}

static void test_ipxe(void **state)
{
	(void)state;
	int rc;
	char *s = run(&kf_loader_ipxe, &install, &rc);
	assert_int_equal(rc, 0);
	assert_true(!strncmp(s, "#!ipxe\n", 7));
	assert_non_null(strstr(s, "kernel http://10.0.0.1:8080/boot/distro/rocky9/vmlinuz initrd=initrd.img inst.ks="));
	assert_non_null(strstr(s, "initrd --name initrd.img http://10.0.0.1:8080/boot/distro/rocky9/initrd.img\nboot\n"));
	free(s);
	struct kf_boot local = install;
	local.mode = KF_BOOT_LOCAL;
	s = run(&kf_loader_ipxe, &local, &rc);
	assert_non_null(strstr(s, "\nexit\n"));
	free(s);
	struct kf_boot bad = install;
	bad.args = "x=${root-path}";
	free(run(&kf_loader_ipxe, &bad, &rc));
	assert_int_equal(rc, -EINVAL);
	char *path = NULL;
	struct kf_buf b = KF_BUF_INIT;
	kf_loader_ipxe.entry("http://10.0.0.1:8080", &path, &b);
	assert_string_equal(path, "ipxe/boot.ipxe");
	assert_non_null(strstr(b.s, "chain --autofree http://10.0.0.1:8080/ipxe/01-${netX/mac:hexhyp}.ipxe ||"));
	free(path);
	kf_buf_release(&b);
}

static void test_dnsmasq_lines(void **state)
{
	(void)state;
	const char *macs[] = { "52:54:00:aa:00:01", "52:54:00:aa:01:01" };
	struct kf_buf b = KF_BUF_INIT;
	kf_dnsmasq_host(&b, "kvm01", macs, 2, "10.0.0.11", false, false);
	assert_string_equal(b.s, "# kickfleet: kvm01\n"
				 "52:54:00:aa:00:01,52:54:00:aa:01:01,set:kf-kvm01,10.0.0.11,kvm01\n");
	b.len = 0;
	kf_dnsmasq_host(&b, "kvm01", macs, 1, "10.0.0.11", true, false);
	assert_non_null(strstr(b.s, "\n52:54:00:aa:00:01,set:kf-kvm01,kvm01\n")); /* proxy: no address */
	b.len = 0;
	kf_dnsmasq_host(&b, "kvm01", macs, 2, "10.0.0.11", false, true);
	assert_non_null(strstr(b.s, "\n52:54:00:aa:00:01,52:54:00:aa:01:01,ignore\n"));
	b.len = 0;
	kf_dnsmasq_opts(&b, "kvm01", macs, 2, KF_FW_BIOS, false);
	assert_non_null(strstr(b.s, "\ntag:kf-kvm01,tag:bios,209,pxelinux.cfg/01-52-54-00-aa-00-01\n"));
	b.len = 0;
	kf_dnsmasq_opts(&b, "kvm01", macs, 2, KF_FW_UEFI, false);
	assert_null(strstr(b.s, "209"));
	kf_buf_release(&b);
	assert_int_equal(kf_item_name_ok("kvm-01.lab"), 0);
	assert_int_equal(kf_item_name_ok("../etc"), -EINVAL);
	assert_int_equal(kf_item_name_ok("a/b"), -EINVAL);
	assert_int_equal(kf_item_name_ok(""), -EINVAL);
	assert_int_equal(kf_item_name_ok("-x"), -EINVAL);
}

/* A batch that dies before its commit (a child that puts and exits)
 * leaves temps and its journal; the next batch given the journal sweeps
 * them.  A committed batch leaves no journal. */
static void test_write_batch_journal(void **state)
{
	(void)state;
	char dir[] = "/tmp/kf-wbj-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *a = kf_xasprintf("%s/sub/a", dir), *j = kf_xasprintf("%s/render.journal", dir);
	char *temps = kf_xasprintf("test -n \"$(find %s -name '.*.kf-tmp.*')\"", dir);
	struct kf_err e = KF_ERR_INIT;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct kf_wbatch *wb = kf_wbatch_new(false);
		_exit(kf_wbatch_journal(wb, j, NULL) == 0 && kf_wbatch_put(wb, a, "x\n", 2, 0644, NULL) == 1
			      ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(system(temps), 0);
	assert_int_equal(access(j, F_OK), 0);
	struct kf_wbatch *wb = kf_wbatch_new(false);
	assert_int_equal(kf_wbatch_journal(wb, j, &e), 1);
	assert_int_not_equal(system(temps), 0);
	assert_int_equal(access(j, F_OK), -1);
	assert_int_equal(kf_wbatch_put(wb, a, "y\n", 2, 0644, &e), 1);
	assert_int_equal(access(j, F_OK), 0);
	assert_int_equal(kf_wbatch_commit(wb, &e), 0);
	assert_int_equal(access(j, F_OK), -1);
	kf_wbatch_free(wb);
	wb = kf_wbatch_new(false);
	assert_int_equal(kf_wbatch_journal(wb, j, &e), 0);
	kf_wbatch_free(wb);
	char *cmd = kf_xasprintf("rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(temps);
	free(a);
	free(j);
}

static void test_write_batch(void **state)
{
	(void)state;
	char dir[] = "/tmp/kf-wb-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *a = kf_xasprintf("%s/sub/a", dir), *b = kf_xasprintf("%s/b", dir);
	struct kf_err e = KF_ERR_INIT;

	struct kf_wbatch *wb = kf_wbatch_new(false);
	assert_int_equal(kf_wbatch_put(wb, a, "one\n", 4, 0600, &e), 1);
	assert_int_equal(kf_wbatch_put(wb, b, "two\n", 4, 0644, &e), 1);
	assert_int_equal(access(a, F_OK), -1); /* nothing visible before commit */
	assert_int_equal(kf_wbatch_commit(wb, &e), 0);
	kf_wbatch_free(wb);
	struct stat st;
	assert_int_equal(stat(a, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char *text = NULL;
	assert_int_equal(kf_read_file(a, 100, &text, NULL), 0);
	assert_string_equal(text, "one\n");
	free(text);

	/* same content: not queued; a dropped batch leaves old files and no temps */
	wb = kf_wbatch_new(false);
	assert_int_equal(kf_wbatch_put(wb, a, "one\n", 4, 0600, &e), 0);
	assert_int_equal(kf_wbatch_put(wb, b, "new\n", 4, 0644, &e), 1);
	assert_int_equal(kf_wbatch_remove(wb, a), 1);
	kf_wbatch_free(wb);
	assert_int_equal(kf_read_file(b, 100, &text, NULL), 0);
	assert_string_equal(text, "two\n");
	free(text);
	assert_int_equal(access(a, F_OK), 0);
	char *cmd = kf_xasprintf("test -z \"$(find %s -name '*.kf-tmp*')\"", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);

	/* removal on commit; dry run touches nothing */
	wb = kf_wbatch_new(true);
	assert_int_equal(kf_wbatch_put(wb, b, "dry\n", 4, 0644, &e), 1);
	assert_int_equal(kf_wbatch_remove(wb, a), 1);
	assert_int_equal(kf_wbatch_commit(wb, &e), 0);
	kf_wbatch_free(wb);
	assert_int_equal(access(a, F_OK), 0);
	wb = kf_wbatch_new(false);
	assert_int_equal(kf_wbatch_remove(wb, a), 1);
	assert_int_equal(kf_wbatch_remove(wb, "/nonexistent/x"), 0);
	assert_int_equal(kf_wbatch_commit(wb, &e), 0);
	kf_wbatch_free(wb);
	assert_int_equal(access(a, F_OK), -1);

	/* a path given up by one host and taken by another in the same batch
	 * (a MAC that moved) stays */
	wb = kf_wbatch_new(false);
	assert_int_equal(kf_wbatch_remove(wb, b), 1);
	assert_int_equal(kf_wbatch_put(wb, b, "moved\n", 6, 0644, &e), 1);
	assert_int_equal(kf_wbatch_commit(wb, &e), 0);
	assert_int_equal(kf_wbatch_removed(wb), 0);
	kf_wbatch_free(wb);
	assert_int_equal(kf_read_file(b, 100, &text, NULL), 0);
	assert_string_equal(text, "moved\n");
	free(text);
	wb = kf_wbatch_new(false);
	assert_int_equal(kf_wbatch_put(wb, b, "moved\n", 6, 0644, &e), 0); /* unchanged, still claimed */
	assert_int_equal(kf_wbatch_remove(wb, b), 1);
	assert_int_equal(kf_wbatch_commit(wb, &e), 0);
	assert_int_equal(kf_wbatch_removed(wb), 0);
	kf_wbatch_free(wb);
	assert_int_equal(access(b, F_OK), 0);

	/* an unwritable place is an error naming the file */
	wb = kf_wbatch_new(false);
	assert_true(kf_wbatch_put(wb, "/proc/kf-no/x", "x", 1, 0644, &e) < 0);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0].text, "/proc/kf-no"));
	kf_wbatch_free(wb);
	kf_err_release(&e);
	cmd = kf_xasprintf("rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac_file_names),
		cmocka_unit_test(test_pxelinux),
		cmocka_unit_test(test_grub),
		cmocka_unit_test(test_ipxe),
		cmocka_unit_test(test_dnsmasq_lines),
		cmocka_unit_test(test_write_batch),
		cmocka_unit_test(test_write_batch_journal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
