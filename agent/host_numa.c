/* The one file that talks to libnuma: NUMA nodes, their CPUs and memory
 * on the real host.  libnuma's own diagnostics are turned into ours. */
#include <errno.h>
#include <numa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/host.h"
#include "util.h"

/* libnuma calls these (weak symbols in the library) instead of printing. */
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
	if (numa_available() < 0)
		return -ENOSYS;
	int max = numa_max_node();
	struct bitmask *cpus = numa_allocate_cpumask();
	if (!cpus)
		kf_die_oom();
	int r = 0;
	h->nodes = kf_xcalloc((size_t)max + 1, sizeof(*h->nodes));
	h->nnodes = 0;
	for (int n = 0; n <= max; n++) {
		if (!numa_bitmask_isbitset(numa_nodes_ptr, (unsigned)n))
			continue;
		struct kf_numa_node *node = &h->nodes[h->nnodes++];
		node->id = n;
		long long size = numa_node_size64(n, NULL);
		if (size < 0) {
			r = kf_errc(e, -EIO, NULL, "libnuma: cannot read the memory of node %d", n);
			goto out;
		}
		node->mem_bytes = (unsigned long long)size;
		numa_bitmask_clearall(cpus);
		if (numa_node_to_cpus(n, cpus) < 0) {
			r = kf_errc(e, -errno ? -errno : -EIO, NULL, "libnuma: cannot read the CPUs of node %d", n);
			goto out;
		}
		for (unsigned c = 0; c < cpus->size && c < KF_MAX_CPUS; c++)
			if (numa_bitmask_isbitset(cpus, c))
				kf_bitmap_set(&node->cpus, c);
	}
	h->numa_sysfs = true;
	h->numa_source = "libnuma";
out:
	numa_free_cpumask(cpus);
	return r;
}
