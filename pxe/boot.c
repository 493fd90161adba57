/* What the boot loaders share: the table of them and the per-MAC file name
 * each one builds its paths from. */
#include "pxe/boot.h"

const struct kf_loader *const kf_loaders[] = {
	&kf_loader_pxelinux, &kf_loader_grub, &kf_loader_ipxe, NULL,
};

const char *kf_mac_file(const char *mac, char *buf)
{
	size_t n = 0;
	buf[n++] = '0';
	buf[n++] = '1';
	buf[n++] = '-';
	for (const char *p = mac; *p && n < 20; p++)
		buf[n++] = *p == ':' ? '-' : (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
	buf[n] = 0;
	return buf;
}
