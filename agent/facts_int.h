/* Internals of `kickfleet-agent facts` (agent/facts*.c): one probe per
 * area filling lib/facts.h's model, and the sysroot readers they share.
 * Every path is host-relative and goes through kf_path(). */
#ifndef KF_AGENT_FACTS_INT_H
#define KF_AGENT_FACTS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "facts.h"

/* A file's trimmed text (malloc'd), NULL when it cannot be read or is empty. */
char *fx_str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A file's integer, -1 when it cannot be read or parsed. */
long long fx_ll(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last component of a symlink's target (malloc'd), or NULL. */
char *fx_link_base(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The entries of a directory (without . and ..) in name order, numbers
 * in numeric order ("2" before "10"); *names malloc'd.  Returns how many
 * (0 when the directory does not exist). */
size_t fx_list(char ***names, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fx_list_free(char **names, size_t n);

/* agent/facts_cpu.c: host, CPU, NUMA nodes, memory, hugepages, THP, KSM */
void kf_facts_probe_cpu(struct kf_facts *f);
void kf_facts_probe_memory(struct kf_facts *f);
/* agent/facts_dev.c: NICs with their IRQs, disks, IOMMU, DMI */
void kf_facts_probe_devices(struct kf_facts *f);
/* The parts of the two above that kf_facts_check reads (see
 * kf_facts_probe_check): CPUs, nodes, memory and hugepage sizes from the
 * engine's kf_hostinfo; NIC names, MACs, SR-IOV totals, IOMMU on. */
struct kf_hostinfo;
void kf_facts_probe_check_host(struct kf_facts *f, const struct kf_hostinfo *h);
void kf_facts_probe_check_devices(struct kf_facts *f);
/* agent/facts_guest.c: running guests (the QEMU processes under /proc, or
 * libvirt at uri on the live host) */
void kf_facts_probe_guests(struct kf_facts *f, const char *uri);

/* "N0=12 N1=4 kernelpagesize_kB=4" lines of a numa_maps text summed per
 * node in bytes into mem (nodes 0..max-1); returns the highest node + 1
 * (pure, for tests). */
int kf_numa_maps_sum(const char *text, long long *mem, int max);
/* A process's resident bytes from its /proc/PID/status text: VmRSS plus
 * HugetlbPages; -1 without a VmRSS line (pure, for tests). */
long long kf_status_resident(const char *status);
/* Whether a kernel of this release sums its per-CPU RSS counters for
 * /proc/PID/status (6.16 and later), so VmRSS is exact (pure). */
bool kf_kernel_sums_rss(const char *osrelease);

#endif
