/* Loader staging: boot loaders from Debian's packages and each distro's
 * kernel and initrd, hard-linked or copied into the TFTP root (in.tftpd
 * chroots there, so symlinks to the outside would not resolve). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pxe/boot.h"

struct source {
	const char *dest;
	const char *pkg;
	const char *paths[3];
};

static const struct source loaders[] = {
	{ "pxelinux.0", "pxelinux", { "/usr/lib/PXELINUX/pxelinux.0" } },
	{ "ldlinux.c32", "syslinux-common", { "/usr/lib/syslinux/modules/bios/ldlinux.c32" } },
	{ "grubnetx64.efi", "grub-efi-amd64-bin or grub-efi-amd64-signed",
	  { "/usr/lib/grub/x86_64-efi/monolithic/grubnetx64.efi",
	    "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed" } },
	{ "ipxe.efi", "ipxe", { "/usr/lib/ipxe/ipxe.efi", "/boot/ipxe.efi" } },
	{ "snponly.efi", "ipxe", { "/usr/lib/ipxe/snponly.efi" } },
	{ "undionly.kpxe", "ipxe", { "/usr/lib/ipxe/undionly.kpxe" } },
};

static int copy_file(const char *src, const char *dst, const struct stat *sst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, r = 0;
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		r = -errno;
		goto out;
	}
	char buf[1 << 16];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0) {
				r = -errno;
				goto out;
			}
			off += w;
		}
	}
	if (n < 0) {
		r = -errno;
		goto out;
	}
	struct timespec ts[2] = { sst->st_atim, sst->st_mtim };
	if (futimens(out, ts) < 0 || fsync(out) < 0)
		r = -errno;
out:
	if (out >= 0 && close(out) < 0 && r == 0)
		r = -errno;
	close(in);
	return r;
}

int kf_stage_link(const char *src, const char *dst, struct kf_err *e)
{
	char real[PATH_MAX];
	if (!realpath(src, real))
		return -errno;
	struct stat s, d;
	if (stat(real, &s) < 0)
		return -errno;
	if (stat(dst, &d) == 0 &&
	    ((s.st_dev == d.st_dev && s.st_ino == d.st_ino) ||
	     (s.st_size == d.st_size && s.st_mtim.tv_sec == d.st_mtim.tv_sec)))
		return 0;
	char *dir = kf_xstrdup(dst);
	int r = kf_mkdir_p(dirname(dir), 0755);
	free(dir);
	char *tmp = kf_xasprintf("%s.kf-tmp", dst);
	unlink(tmp);
	if (r == 0 && link(real, tmp) < 0)
		r = copy_file(real, tmp, &s);
	if (r == 0 && rename(tmp, dst) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		kf_errc(e, r, NULL, "stage %s from %s: %s", dst, real, strerror(-r));
	}
	free(tmp);
	return r < 0 ? r : 1;
}

static int stage(const char *src, const char *root, const char *rel, bool dry_run, struct kf_err *e)
{
	if (dry_run)
		return access(src, R_OK) == 0 ? 0 : -errno;
	char *dst = kf_xasprintf("%s/%s", root, rel);
	int r = kf_stage_link(src, dst, e);
	free(dst);
	return r;
}

/* GRUB's modules beside its network image: grubnetx64.efi has no http
 * module built in and loads it (and any other it lacks) from
 * $prefix/x86_64-efi, i.e. TFTP_ROOT/grub/x86_64-efi, as grub-mknetdir
 * lays it out.  Without them `linux (http,ADDR)/...` fails with "disk
 * `http,ADDR' not found". */
#define KF_GRUB_MODDIR "/usr/lib/grub/x86_64-efi"

static int stage_grub_modules(const char *tftp_root, bool dry_run, struct kf_err *warn,
			      struct kf_err *e)
{
	DIR *d = opendir(KF_GRUB_MODDIR);
	if (!d) {
		kf_errf(warn, NULL, "GRUB modules not found at %s (install the package grub-efi-amd64-bin)",
			KF_GRUB_MODDIR);
		return 0;
	}
	int staged = 0, r = 0;
	struct dirent *de;
	while (r >= 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 5 || (strcmp(de->d_name + n - 4, ".mod") && strcmp(de->d_name + n - 4, ".lst")))
			continue;
		char *src = kf_xasprintf(KF_GRUB_MODDIR "/%s", de->d_name);
		char *rel = kf_xasprintf("grub/x86_64-efi/%s", de->d_name);
		r = stage(src, tftp_root, rel, dry_run, e);
		staged += r > 0;
		free(src);
		free(rel);
	}
	closedir(d);
	return r < 0 ? r : staged;
}

int kf_stage_loaders(const struct kf_inventory *inv, const char *tftp_root, bool dry_run,
		     struct kf_err *warn, struct kf_err *e)
{
	int staged = 0;
	size_t before = e->n;
	for (size_t i = 0; i < KF_ARRAY_SIZE(loaders); i++) {
		const struct source *l = &loaders[i];
		const char *src = NULL;
		for (size_t j = 0; j < 3 && l->paths[j] && !src; j++)
			if (access(l->paths[j], R_OK) == 0)
				src = l->paths[j];
		if (!src) {
			kf_errf(warn, NULL, "loader %s not found at %s (install the package %s)", l->dest,
				l->paths[0], l->pkg);
			continue;
		}
		int r = stage(src, tftp_root, l->dest, dry_run, e);
		staged += r > 0;
		if (!strcmp(l->dest, "grubnetx64.efi")) {
			r = stage_grub_modules(tftp_root, dry_run, warn, e);
			staged += r > 0 ? r : 0;
		}
	}
	for (size_t i = 0; i < inv->distros.n; i++) {
		const struct kf_i_distro *d = KF_LIST_AT(inv->distros, struct kf_i_distro, i);
		const char *what[2][2] = { { d->kernel, "vmlinuz" }, { d->initrd, "initrd.img" } };
		for (int k = 0; k < 2; k++) {
			char *src = kf_inventory_path(inv, what[k][0]);
			char *rel = kf_xasprintf("distro/%s/%s", d->name, what[k][1]);
			if (access(src, R_OK) < 0)
				kf_errf(warn, kf_mark_of(d, k ? "initrd" : "kernel"),
					"distro %s: %s %s not found, not staged", d->name,
					k ? "initrd" : "kernel", src);
			else
				staged += stage(src, tftp_root, rel, dry_run, e) > 0;
			free(src);
			free(rel);
		}
	}
	return e->n > before ? -EIO : staged;
}
