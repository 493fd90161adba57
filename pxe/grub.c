/* GRUB (UEFI): grub/grub.cfg finds grub/grub.cfg-01-MAC by the booting
 * NIC's MAC, else grub/grub.cfg-default.  GRUB 2.06 speaks HTTP on port
 * 80 only, so kernel and initrd come over TFTP unless the provisioner's
 * HTTP port is 80. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pxe/boot.h"

static char *grub_path(const char *mac)
{
	char f[24];
	return mac ? kf_xasprintf("grub/grub.cfg-%s", kf_mac_file(mac, f))
		   : kf_xstrdup("grub/grub.cfg-default");
}

/* Appends one word, single-quoted when GRUB would treat a character in it
 * specially.  GRUB has no escape inside single quotes. */
static int word(struct kf_buf *out, const char *s, size_t n)
{
	bool plain = n > 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'' || (unsigned char)s[i] < 0x20)
			return -EINVAL;
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@%+=:,./_-()", s[i]))
			plain = false;
	}
	if (plain) {
		kf_buf_add(out, s, n);
	} else {
		kf_buf_add(out, "'", 1);
		kf_buf_add(out, s, n);
		kf_buf_add(out, "'", 1);
	}
	return 0;
}

static int words(struct kf_buf *out, const char *s)
{
	while (*s) {
		size_t n = strcspn(s, " ");
		if (n) {
			kf_buf_add(out, " ", 1);
			if (word(out, s, n) < 0)
				return -EINVAL;
		}
		s += n + (s[n] == ' ');
	}
	return 0;
}

static int grub_render(const struct kf_boot *b, struct kf_buf *out)
{
	kf_buf_printf(out, "# kickfleet: %s (%s)\n", b->host ? b->host : "unknown MACs",
		      b->mode == KF_BOOT_LOCAL ? "local boot" : b->mode == KF_BOOT_INSTALL ? "install" : "discovery");
	if (b->serial_unit)
		kf_buf_printf(out, "serial --unit=%s --speed=%s\nterminal_input serial console\n"
				   "terminal_output serial console\n",
			      b->serial_unit, b->serial_speed);
	if (b->mode == KF_BOOT_LOCAL) {
		kf_buf_puts(out,
			    "set timeout=0\n"
			    "insmod part_gpt\ninsmod part_msdos\ninsmod fat\ninsmod chain\n"
			    "# chainload the EFI loader on the local disk's system partition\n"
			    "for kf_efi in /EFI/rocky/shimx64.efi /EFI/redhat/shimx64.efi "
			    "/EFI/centos/shimx64.efi /EFI/debian/shimx64.efi /EFI/BOOT/BOOTX64.EFI; do\n"
			    "\tif search --no-floppy --file --set=kf_esp \"$kf_efi\"; then\n"
			    "\t\tset root=\"$kf_esp\"\n"
			    "\t\tchainloader \"$kf_efi\"\n"
			    "\t\tboot\n"
			    "\tfi\n"
			    "done\n"
			    "# nothing found: back to the firmware, which boots its next entry\n"
			    "exit\n");
		return 0;
	}
	if (strchr(b->label, '\'') || strpbrk(b->label, "\r\n"))
		return -EINVAL;
	kf_buf_printf(out, "set default=0\nset timeout=1\nmenuentry '%s' {\n\tlinux ", b->label);
	const char *dev = b->grub_http ? b->grub_http : "";
	char *kernel = kf_xasprintf("%s/%s", dev, b->kernel_tftp);
	char *initrd = kf_xasprintf("%s/%s", dev, b->initrd_tftp);
	char *overlay = b->overlay_tftp ? kf_xasprintf("%s/%s", dev, b->overlay_tftp) : NULL;
	int r = word(out, kernel, strlen(kernel));
	if (r == 0)
		r = words(out, b->args);
	/* discovery: the boot NIC's MAC, expanded by GRUB (unquoted) */
	if (r == 0 && overlay)
		kf_buf_puts(out, " kickfleet.mac=$net_default_mac");
	if (r == 0) {
		kf_buf_puts(out, "\n\tinitrd ");
		r = word(out, initrd, strlen(initrd));
	}
	if (r == 0 && overlay) {
		kf_buf_puts(out, " ");
		r = word(out, overlay, strlen(overlay));
	}
	free(kernel);
	free(initrd);
	free(overlay);
	if (r < 0)
		return r;
	kf_buf_puts(out, "\n}\n");
	return 0;
}

static void grub_entry(const char *base_url, char **path, struct kf_buf *out)
{
	(void)base_url;
	*path = kf_xstrdup("grub/grub.cfg");
	kf_buf_puts(out,
		    "# kickfleet: GRUB entry; loads the config of the booting NIC's MAC,\n"
		    "# else the one for unknown MACs\n"
		    "regexp --set=1:kf_m1 --set=2:kf_m2 --set=3:kf_m3 --set=4:kf_m4 --set=5:kf_m5 "
		    "--set=6:kf_m6 '^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):"
		    "([0-9a-f]{2}):([0-9a-f]{2})$' \"$net_default_mac\"\n"
		    "set kf_cfg=\"$prefix/grub.cfg-01-$kf_m1-$kf_m2-$kf_m3-$kf_m4-$kf_m5-$kf_m6\"\n"
		    "if [ -n \"$kf_m6\" -a -s \"$kf_cfg\" ]; then\n"
		    "\tconfigfile \"$kf_cfg\"\n"
		    "fi\n"
		    "configfile \"$prefix/grub.cfg-default\"\n");
}

const struct kf_loader kf_loader_grub = {
	.name = "grub",
	.root = KF_ROOT_TFTP,
	.firmwares = 1u << KF_FW_UEFI,
	.path = grub_path,
	.render = grub_render,
	.entry = grub_entry,
};
