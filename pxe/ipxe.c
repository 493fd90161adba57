/* iPXE: ipxe/boot.ipxe chains ipxe/01-MAC.ipxe (else ipxe/default.ipxe),
 * both served over HTTP; kernel and initrd over HTTP. */
#include <errno.h>
#include <string.h>

#include "pxe/boot.h"

static char *ipxe_path(const char *mac)
{
	char f[24];
	return mac ? kf_xasprintf("ipxe/%s.ipxe", kf_mac_file(mac, f)) : kf_xstrdup("ipxe/default.ipxe");
}

/* iPXE expands ${...} everywhere and has no quoting for it. */
static bool unsafe(const char *s)
{
	return strstr(s, "${") || strpbrk(s, "\r\n");
}

static int ipxe_render(const struct kf_boot *b, struct kf_buf *out)
{
	kf_buf_printf(out, "#!ipxe\n# kickfleet: %s (%s)\n", b->host ? b->host : "unknown MACs",
		      b->mode == KF_BOOT_LOCAL ? "local boot" : b->mode == KF_BOOT_INSTALL ? "install" : "discovery");
	if (b->mode == KF_BOOT_LOCAL) {
		kf_buf_puts(out, "# back to the firmware, which boots the local disk\nexit\n");
		return 0;
	}
	if (unsafe(b->args) || unsafe(b->kernel_url) || unsafe(b->initrd_url) || unsafe(b->label) ||
	    (b->overlay_url && unsafe(b->overlay_url)))
		return -EINVAL;
	if (!b->overlay_url) {
		kf_buf_printf(out, "echo %s\nkernel %s initrd=initrd.img %s\ninitrd --name initrd.img %s\nboot\n",
			      b->label, b->kernel_url, b->args, b->initrd_url);
		return 0;
	}
	/* discovery: the overlay after the distro's initrd; the boot NIC's
	 * MAC from iPXE itself (the only ${...} in the script) */
	kf_buf_printf(out,
		      "echo %s\nkernel %s initrd=initrd.img initrd=overlay.img %s kickfleet.mac=${netX/mac}\n"
		      "initrd --name initrd.img %s\ninitrd --name overlay.img %s\nboot\n",
		      b->label, b->kernel_url, b->args, b->initrd_url, b->overlay_url);
	return 0;
}

static void ipxe_entry(const char *base_url, char **path, struct kf_buf *out)
{
	*path = kf_xstrdup("ipxe/boot.ipxe");
	kf_buf_printf(out,
		      "#!ipxe\n"
		      "# kickfleet: iPXE entry; the script of the booting NIC's MAC, else the\n"
		      "# one for unknown MACs\n"
		      "chain --autofree %s/ipxe/01-${netX/mac:hexhyp}.ipxe || "
		      "chain --autofree %s/ipxe/default.ipxe || exit\n",
		      base_url, base_url);
}

const struct kf_loader kf_loader_ipxe = {
	.name = "ipxe",
	.root = KF_ROOT_HTTP,
	.firmwares = 1u << KF_FW_BIOS | 1u << KF_FW_UEFI,
	.path = ipxe_path,
	.render = ipxe_render,
	.entry = ipxe_entry,
};
