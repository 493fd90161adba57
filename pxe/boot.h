/* Boot configuration renderers: one struct kf_loader per boot loader
 * (pxelinux for BIOS, GRUB for UEFI, iPXE), each filling the same small
 * interface, plus the dnsmasq files and the loader staging.
 *
 * Every renderer turns a struct kf_boot (what one MAC should do: install,
 * boot locally, or discovery) into the text of its per-MAC file.  Files are
 * named after the MAC the way each loader looks them up; `01-` is the ARP
 * hardware type of Ethernet. */
#ifndef KF_PXE_BOOT_H
#define KF_PXE_BOOT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "inventory.h"
#include "util.h"

enum kf_boot_mode { KF_BOOT_INSTALL, KF_BOOT_LOCAL, KF_BOOT_DISCOVERY };
/* The discovery image under the TFTP root (also BASE/boot/ over HTTP). */
#define KF_DISCOVERY_IMAGE "discovery/initrd.img"

enum kf_boot_root { KF_ROOT_DNSMASQ, KF_ROOT_TFTP, KF_ROOT_HTTP, KF_ROOT_COUNT };

struct kf_boot {
	const char *host;        /* NULL for the default (unknown MAC) config */
	int mode;                /* enum kf_boot_mode */
	const char *label;       /* menu label, e.g. "install kvm01 (rocky9)" */
	const char *kernel_tftp; /* TFTP-relative: distro/rocky9/vmlinuz */
	const char *initrd_tftp;
	const char *kernel_url;  /* over HTTP: BASE/boot/distro/rocky9/vmlinuz */
	const char *initrd_url;
	/* discovery: an initrd laid over initrd (its /init replaces the
	 * distro's), TFTP-relative and over HTTP; NULL otherwise */
	const char *overlay_tftp;
	const char *overlay_url;
	const char *grub_http;   /* "(http,ADDR)" when GRUB can use HTTP (port 80), else NULL */
	const char *args;        /* kernel command line */
	const char *serial_unit; /* "0" for ttyS0; NULL: no serial console */
	const char *serial_speed;
};

struct kf_loader {
	const char *name;
	int root;          /* enum kf_boot_root the files live under */
	unsigned firmwares; /* 1 << KF_FW_BIOS | 1 << KF_FW_UEFI: which hosts get a file */
	/* Per-MAC file path relative to the root (mac normalised, lower case
	 * with ':'), or the default config's path when mac is NULL; malloc'd. */
	char *(*path)(const char *mac);
	/* Appends the config for b; -EINVAL if a value cannot be written
	 * safely (a quote or newline where the syntax has no escape). */
	int (*render)(const struct kf_boot *b, struct kf_buf *out);
	/* The loader's fixed entry file (GRUB's grub.cfg, iPXE's boot.ipxe):
	 * fills *path (malloc'd, relative to root) and appends its text; NULL
	 * when the loader needs none. */
	void (*entry)(const char *base_url, char **path, struct kf_buf *out);
};

extern const struct kf_loader kf_loader_pxelinux;
extern const struct kf_loader kf_loader_grub;
extern const struct kf_loader kf_loader_ipxe;

/* ---- shared by the loaders (pxe/boot.c) ---- */

/* All of them, NULL terminated. */
extern const struct kf_loader *const kf_loaders[];

/* "52:54:00:aa:00:01" -> "01-52-54-00-aa-00-01" into buf (21 bytes). */
const char *kf_mac_file(const char *mac, char *buf);

/* ---- dnsmasq (pxe/dnsmasq.c) ---- */

struct kf_dnsmasq_paths {
	const char *dir;       /* where dnsmasq.conf, hosts/, opts/ live */
	const char *tftp_root;
	const char *base_url;  /* BASE of docs/http.md */
};

/* The base config, run with dnsmasq --conf-file=DIR/dnsmasq.conf. */
void kf_dnsmasq_conf(const struct kf_inventory *inv, const struct kf_dnsmasq_paths *p,
		     struct kf_buf *out);
/* The hostsdir file of one host: its MACs, tag kf-NAME, address, name;
 * `ignore` tells dnsmasq not to answer it at all. */
void kf_dnsmasq_host(struct kf_buf *out, const char *name, const char *const *macs, size_t n,
		     const char *ip, bool proxy, bool ignore);
/* The optsdir file of one host: options for its tag. */
void kf_dnsmasq_opts(struct kf_buf *out, const char *name, const char *const *macs, size_t n,
		     int firmware, bool ignore);

/* ---- loader staging (pxe/stage.c) ---- */

/* Puts the loaders from Debian's packages (pxelinux, syslinux-common,
 * grub-efi-amd64-bin or -signed, ipxe) and each distro's kernel and initrd
 * into tftp_root, as hard links or copies (tftpd chroots, so no symlinks);
 * files already there with the same size and time are left alone.
 * Missing sources are warnings (pointing at the package), added to warn.
 * Returns the number of files staged or a negative errno. */
int kf_stage_loaders(const struct kf_inventory *inv, const char *tftp_root, bool dry_run,
		     struct kf_err *warn, struct kf_err *e);

/* Hard links (or copies) src to dst through a temp name, creating dst's
 * directory; 0 if dst already holds the same file (same inode, or same
 * size and time), 1 if staged, or a negative errno (with context in e). */
int kf_stage_link(const char *src, const char *dst, struct kf_err *e);

#endif
