/* pxelinux (BIOS): pxelinux.cfg/01-MAC, kernel and initrd over TFTP. */
#include <errno.h>
#include <string.h>

#include "pxe/boot.h"

static char *pxelinux_path(const char *mac)
{
	char f[24];
	return mac ? kf_xasprintf("pxelinux.cfg/%s", kf_mac_file(mac, f))
		   : kf_xstrdup("pxelinux.cfg/default");
}

static int pxelinux_render(const struct kf_boot *b, struct kf_buf *out)
{
	if (strpbrk(b->args ? b->args : "", "\r\n") || strpbrk(b->label ? b->label : "", "\r\n") ||
	    (b->overlay_tftp && strpbrk(b->overlay_tftp, ", \r\n")))
		return -EINVAL;
	kf_buf_printf(out, "# kickfleet: %s (%s)\n", b->host ? b->host : "unknown MACs",
		      b->mode == KF_BOOT_LOCAL ? "local boot" : b->mode == KF_BOOT_INSTALL ? "install" : "discovery");
	if (b->serial_unit)
		kf_buf_printf(out, "SERIAL %s %s\n", b->serial_unit, b->serial_speed);
	kf_buf_puts(out, "PROMPT 0\nTIMEOUT 1\n");
	if (b->mode == KF_BOOT_LOCAL) {
		kf_buf_puts(out, "DEFAULT local\n\nLABEL local\n  MENU LABEL boot from the local disk\n"
				 "  LOCALBOOT 0\n");
		return 0;
	}
	const char *label = b->mode == KF_BOOT_INSTALL ? "install" : "discovery";
	/* IPAPPEND 2: BOOTIF=01-MAC, the boot NIC (discovery posts as it) */
	kf_buf_printf(out, "DEFAULT %s\n\nLABEL %s\n  MENU LABEL %s\n  KERNEL %s\n  INITRD %s%s%s\n"
			   "  APPEND %s\n  IPAPPEND 2\n",
		      label, label, b->label, b->kernel_tftp, b->initrd_tftp, b->overlay_tftp ? "," : "",
		      b->overlay_tftp ? b->overlay_tftp : "", b->args);
	return 0;
}

const struct kf_loader kf_loader_pxelinux = {
	.name = "pxelinux",
	.root = KF_ROOT_TFTP,
	.firmwares = 1u << KF_FW_BIOS,
	.path = pxelinux_path,
	.render = pxelinux_render,
	.entry = NULL,
};
