/* dnsmasq files: the base config (run with --conf-file, never the
 * system's dnsmasq.conf), one hostsdir file and one optsdir file per host.
 * dnsmasq re-reads those directories on SIGHUP. */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "pxe/boot.h"
#include "types.h"

/* An interface given by MAC is looked up in /sys/class/net. */
static const char *iface_name(const char *iface, char *buf, size_t len)
{
	uint8_t want[6], have[6];
	if (kf_mac_parse(iface, want) < 0)
		return iface;
	DIR *d = opendir("/sys/class/net");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[512], addr[64] = "";
		snprintf(path, sizeof(path), "/sys/class/net/%s/address", de->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(addr, sizeof(addr), f) && kf_mac_parse(kf_rstrip(addr), have) == 0 &&
		    !memcmp(want, have, 6)) {
			snprintf(buf, len, "%s", de->d_name);
			fclose(f);
			closedir(d);
			return buf;
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	return iface; /* dnsmasq --test will say it does not exist */
}

void kf_dnsmasq_conf(const struct kf_inventory *inv, const struct kf_dnsmasq_paths *p,
		     struct kf_buf *out)
{
	const struct kf_i_provisioner *pr = inv->provisioner;
	const struct kf_i_dhcp *d = pr->dhcp;
	uint32_t net = 0;
	int prefix = 24;
	kf_cidr_parse(pr->subnet, &net, &prefix);
	uint32_t mask = prefix ? 0xffffffffu << (32 - prefix) : 0;
	char netbuf[16], maskbuf[16], ifbuf[256];
	kf_ipv4_fmt(net & mask, netbuf);
	kf_ipv4_fmt(mask, maskbuf);
	int mode = d ? d->mode : KF_DHCP_RANGE;
	long long lease = d && d->lease_time != KF_UNSET ? d->lease_time : 3600;

	kf_buf_printf(out,
		      "# kickfleet: dnsmasq configuration, written by `kickfleet render`.\n"
		      "# Run: dnsmasq --keep-in-foreground --conf-file=%s/dnsmasq.conf\n"
		      "# DHCP only (port=0: no DNS); TFTP is in.tftpd's, HTTP kickfleet serve's.\n"
		      "port=0\n"
		      "interface=%s\n"
		      "bind-dynamic\n"
		      "log-dhcp\n"
		      "pid-file=%s/dnsmasq.pid\n"
		      "dhcp-leasefile=%s/dnsmasq.leases\n",
		      p->dir, iface_name(pr->interface, ifbuf, sizeof(ifbuf)), p->dir, p->dir);
	switch (mode) {
	case KF_DHCP_STATIC:
		kf_buf_printf(out, "dhcp-range=%s,static,%s,%lld\n", netbuf, maskbuf, lease);
		break;
	case KF_DHCP_PROXY:
		kf_buf_printf(out, "# proxy DHCP: another server hands out addresses\n"
				   "dhcp-range=%s,proxy,%s\n", netbuf, maskbuf);
		break;
	default:
		kf_buf_printf(out, "dhcp-range=%s,%s,%s,%lld\n", KF_LIST_STR(d->range, 0),
			      KF_LIST_STR(d->range, 1), maskbuf, lease);
	}
	kf_buf_printf(out, "dhcp-hostsdir=%s/hosts\ndhcp-optsdir=%s/opts\n", p->dir, p->dir);
	if (!d || d->known_hosts_only != 0)
		kf_buf_puts(out, "# only MACs of the inventory get an answer\ndhcp-ignore=tag:!known\n");
	if (d && d->dns)
		kf_buf_printf(out, "dhcp-option=option:dns-server,%s\n", d->dns);
	if (d && d->router && mode != KF_DHCP_PROXY)
		kf_buf_printf(out, "dhcp-option=option:router,%s\n", d->router);
	if (pr->ipv6_prefix) {
		/* router advertisements only (no DHCPv6): iPXE stops waiting ~13 s for one */
		const char *slash = strchr(pr->ipv6_prefix, '/');
		kf_buf_printf(out, "enable-ra\ndhcp-range=%.*s,ra-only,%s\n",
			      (int)(slash ? (size_t)(slash - pr->ipv6_prefix) : strlen(pr->ipv6_prefix)),
			      pr->ipv6_prefix, slash ? slash + 1 : "64");
	}

	kf_buf_printf(out,
		      "\n# client tells: DHCP option 93 (client architecture), UEFI HTTP boot, iPXE\n"
		      "dhcp-match=set:bios,option:client-arch,0\n"
		      "dhcp-match=set:efi64,option:client-arch,7\n"
		      "dhcp-match=set:efi64,option:client-arch,9\n"
		      "dhcp-match=set:arm64,option:client-arch,11\n"
		      "dhcp-vendorclass=set:httpboot,HTTPClient\n"
		      "dhcp-userclass=set:ipxe,iPXE\n"
		      "\n# iPXE gets its HTTP script (this also breaks the chainload loop)\n"
		      "dhcp-boot=tag:ipxe,%s/ipxe/boot.ipxe\n"
		      "# UEFI HTTP boot: iPXE's EFI image over HTTP, then the script\n"
		      "dhcp-option-force=tag:httpboot,60,HTTPClient\n"
		      "dhcp-boot=tag:httpboot,tag:!ipxe,%s/boot/ipxe.efi\n",
		      p->base_url, p->base_url);
	if (mode == KF_DHCP_PROXY) {
		kf_buf_puts(out,
			    "# proxy DHCP: boot menus per architecture (pxelinux: \".0\" is added)\n"
			    "pxe-prompt=\"kickfleet\",0\n"
			    "pxe-service=tag:!ipxe,x86PC,\"kickfleet BIOS (pxelinux)\",pxelinux\n"
			    "pxe-service=tag:!ipxe,X86-64_EFI,\"kickfleet UEFI (GRUB)\",grubnetx64.efi\n"
			    "pxe-service=tag:!ipxe,BC_EFI,\"kickfleet UEFI (GRUB)\",grubnetx64.efi\n");
	} else {
		kf_buf_puts(out,
			    "# BIOS: pxelinux; UEFI x64: GRUB's network image (both over TFTP)\n"
			    "dhcp-boot=tag:bios,tag:!ipxe,pxelinux.0\n"
			    "dhcp-boot=tag:efi64,tag:!ipxe,tag:!httpboot,grubnetx64.efi\n");
	}
	kf_buf_puts(out, "# arm64 (11) is told apart but no arm64 loader is staged: it gets no file\n");
	if (inv->provisioner->unknown_hosts == KF_UNKNOWN_IGNORE)
		kf_buf_puts(out, "# unknown_hosts: ignore\ndhcp-ignore=tag:!known\n");
}

void kf_dnsmasq_host(struct kf_buf *out, const char *name, const char *const *macs, size_t n,
		     const char *ip, bool proxy, bool ignore)
{
	/* dhcp-hostsdir lines are what follows "dhcp-host=" in a config file:
	 * dnsmasq reads the whole line as the value ("bad hex constant" on a
	 * line with the keyword, and the host is silently not reserved) */
	kf_buf_printf(out, "# kickfleet: %s%s\n", name,
		      ignore ? " (not booting from the network: not answered, boots locally)" : "");
	for (size_t i = 0; i < n; i++)
		kf_buf_printf(out, "%s,", macs[i]);
	if (ignore) {
		kf_buf_puts(out, "ignore\n");
		return;
	}
	kf_buf_printf(out, "set:kf-%s", name);
	if (ip && !proxy)
		kf_buf_printf(out, ",%s", ip);
	kf_buf_printf(out, ",%s\n", name);
}

void kf_dnsmasq_opts(struct kf_buf *out, const char *name, const char *const *macs, size_t n,
		     int firmware, bool ignore)
{
	kf_buf_printf(out, "# kickfleet: %s\n", name);
	if (ignore || n == 0)
		return;
	if (firmware != KF_FW_UEFI) {
		char f[24];
		/* dhcp-optsdir lines are values of dhcp-option (no keyword, and
		 * no "force": sent when the client asks; pxelinux finds
		 * pxelinux.cfg/01-MAC by itself when it does not) */
		kf_buf_printf(out, "# pxelinux: the config file of this host (option 209)\n"
				   "tag:kf-%s,tag:bios,209,pxelinux.cfg/%s\n",
			      name, kf_mac_file(macs[0], f));
	}
}
