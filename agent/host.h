/* Facts about the host the agent runs on, probed once per run before the
 * resources parse: NUMA nodes with their CPUs and memory, present and
 * online CPUs, hugepage sizes the kernel offers, and the CPU vendor.
 * Resources use them to refuse profiles the host cannot satisfy (a node
 * it does not have, more hugepages than a node's memory) with the
 * profile's file:line:col. */
#ifndef KF_AGENT_HOST_H
#define KF_AGENT_HOST_H

#include <stdbool.h>

#include "err.h"
#include "types.h"

enum kf_cpu_vendor { KF_CPUV_UNKNOWN, KF_CPUV_INTEL, KF_CPUV_AMD };

struct kf_numa_node {
	int id;
	struct kf_bitmap cpus;
	unsigned long long mem_bytes; /* MemTotal of the node */
};

#define KF_MAX_HPSIZES 8

struct kf_hostinfo {
	struct kf_numa_node *nodes; /* in id order */
	int nnodes;
	bool numa_sysfs;             /* /sys/devices/system/node exists (else one fake node 0) */
	const char *numa_source;     /* "libnuma" or "sysfs" */
	struct kf_bitmap present, online;
	unsigned long long mem_total;
	unsigned long long hpsizes[KF_MAX_HPSIZES]; /* bytes, ascending */
	int nhpsizes;
	int vendor;                  /* enum kf_cpu_vendor */
	char vendor_id[32];          /* as in /proc/cpuinfo: GenuineIntel, AuthenticAMD */
};

/* Probes the facts through the sysroot; on the real host (root "/") the
 * NUMA topology comes from libnuma (agent/host_numa.c).  Returns 0, or a
 * negative errno with a message in e.  Pairs with kf_host_release(). */
int kf_host_probe(struct kf_hostinfo *h, struct kf_err *e);
void kf_host_release(struct kf_hostinfo *h);

const struct kf_numa_node *kf_host_node(const struct kf_hostinfo *h, int id);
bool kf_host_has_hpsize(const struct kf_hostinfo *h, unsigned long long bytes);

/* Vendor from /proc/cpuinfo text (pure). */
int kf_cpuinfo_vendor(const char *cpuinfo, char *id, size_t idlen);
/* "Node 0 MemTotal:  16315784 kB" from a node's meminfo text, in bytes (pure). */
int kf_node_meminfo_total(const char *meminfo, unsigned long long *bytes);

/* libnuma adapter: fills nodes from libnuma; -ENOSYS when NUMA is not
 * available on this kernel. */
int kf_numa_probe(struct kf_hostinfo *h, struct kf_err *e);
/* The distance between two nodes from libnuma, once kf_numa_probe has
 * loaded it; 0 otherwise (read sysfs then). */
int kf_numa_distance(int a, int b);

#endif
