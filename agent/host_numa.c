/* The one file that talks to libnuma: NUMA nodes, their CPUs and memory
 * on the real host.  libnuma's own diagnostics are turned into ours. */
#include <errno.h>
#include <numa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/host.h"
#include "dl.h"
#include "util.h"

/* libnuma is opened at first use (lib/dl.h): its constructor reads
 * /proc/self/status and sysfs, which a run on a sysroot or one that probes
 * no host does not need.  numa_nodes_ptr is a variable: the table holds
 * its address.  Without libnuma, nodes come from sysfs (agent/host.c). */
#define NUMA_FNS(F)                                                                       \
	F(numa_allocate_cpumask) F(numa_available) F(numa_bitmask_clearall)              \
	F(numa_bitmask_free) F(numa_bitmask_isbitset) F(numa_distance) F(numa_max_node) F(numa_node_size64) \
	F(numa_node_to_cpus) F(numa_nodes_ptr)

KF_DL_TABLE(NUMA_FNS)

static struct kf_dl libnuma = KF_DL("libnuma.so.1", "libnuma", "NUMA nodes are read from sysfs", resolve);

/* libnuma calls these (weak symbols in the library) instead of printing;
 * the agent's link line exports them for the dlopened library. */
void numa_warn(int num, char *fmt, ...)
{
	(void)num;
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kf_log(KF_LOG_DEBUG, "libnuma: %s", kf_rstrip(buf));
}

void numa_error(char *where)
{
	kf_log(KF_LOG_DEBUG, "libnuma: %s failed", where);
}

int kf_numa_probe(struct kf_hostinfo *h, struct kf_err *e)
{
	if (kf_dl_load(&libnuma, NULL) < 0) {
		kf_log(KF_LOG_DEBUG, "%s", libnuma.why);
		return -ENOSYS;
	}
	if (lib.numa_available() < 0)
		return -ENOSYS;
	int max = lib.numa_max_node();
	struct bitmask *cpus = lib.numa_allocate_cpumask();
	if (!cpus)
		kf_die_oom();
	int r = 0;
	h->nodes = kf_xcalloc((size_t)max + 1, sizeof(*h->nodes));
	h->nnodes = 0;
	for (int n = 0; n <= max; n++) {
		if (!lib.numa_bitmask_isbitset(*lib.numa_nodes_ptr, (unsigned)n))
			continue;
		struct kf_numa_node *node = &h->nodes[h->nnodes++];
		node->id = n;
		long long size = lib.numa_node_size64(n, NULL);
		if (size < 0) {
			r = kf_errc(e, -EIO, NULL, "libnuma: cannot read the memory of node %d", n);
			goto out;
		}
		node->mem_bytes = (unsigned long long)size;
		lib.numa_bitmask_clearall(cpus);
		if (lib.numa_node_to_cpus(n, cpus) < 0) {
			r = kf_errc(e, -errno ? -errno : -EIO, NULL, "libnuma: cannot read the CPUs of node %d", n);
			goto out;
		}
		for (unsigned c = 0; c < cpus->size && c < KF_MAX_CPUS; c++)
			if (lib.numa_bitmask_isbitset(cpus, c))
				kf_bitmap_set(&node->cpus, c);
	}
	h->numa_sysfs = true;
	h->numa_source = "libnuma";
out:
	lib.numa_bitmask_free(cpus); /* numa_free_cpumask, an inline of numa.h */
	return r;
}

int kf_numa_distance(int a, int b)
{
	if (libnuma.state != 1) /* only after kf_numa_probe found libnuma */
		return 0;
	int d = lib.numa_distance(a, b);
	return d > 0 ? d : 0;
}
