/* The discovery image (docs/discovery.md): what an unknown MAC boots when
 * the inventory says `unknown_hosts: discovery`.  The distro's kernel and
 * initrd (for the kernel's modules) with this initrd laid over it: an
 * uncompressed newc cpio holding /init (pxe/discovery/init), busybox
 * (busybox-static), kickfleet-agent with the loader, glibc and libcurl
 * chain it needs, all under /kickfleet/.  Nothing secret goes in: the
 * provisioner's URL and the MAC come from the kernel command line. */
#ifndef KF_PROVISION_DISCOVERY_H
#define KF_PROVISION_DISCOVERY_H

#include "err.h"
#include "util.h"

/* Appends the image to out.  The inputs, each found in this order:
 *   the agent     $KICKFLEET_AGENT, kickfleet-agent beside this program
 *   busybox       $KICKFLEET_BUSYBOX, /bin/busybox, /usr/bin/busybox
 *                 (statically linked: busybox-static)
 *   the scripts   $KICKFLEET_DATADIR/discovery, pxe/discovery in the
 *                 source tree, DATADIR/discovery
 *   libraries     the agent's and libcurl.so.4's DT_NEEDED closure, from
 *                 the system's library directories
 * Entries carry mtime 0 and fixed owners, so the same inputs give the
 * same bytes.  Returns 0, or a negative errno naming what is missing. */
int kf_discovery_image(struct kf_buf *out, struct kf_err *e);

/* The shared libraries an ELF file names (DT_NEEDED), appended to *names
 * (malloc'd strings, *n grown); *interp gets its PT_INTERP (malloc'd) or
 * NULL for a static file.  Returns 0, or -ENOEXEC for a file that is not
 * a well-formed 64-bit ELF. */
int kf_elf_needed(const char *data, size_t len, char ***names, size_t *n, char **interp);

#endif
