/* Host facts (agent/host.h): read through the sysroot, NUMA topology from
 * libnuma on the real host. */
#include "agent/host.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/hostio.h"
#include "util.h"

int kf_cpuinfo_vendor(const char *cpuinfo, char *id, size_t idlen)
{
	const char *p = strstr(cpuinfo, "vendor_id");
	id[0] = 0;
	if (!p)
		return KF_CPUV_UNKNOWN;
	p = strchr(p, ':');
	if (!p)
		return KF_CPUV_UNKNOWN;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strcspn(p, " \t\n");
	if (n >= idlen)
		n = idlen - 1;
	memcpy(id, p, n);
	id[n] = 0;
	if (!strcmp(id, "GenuineIntel"))
		return KF_CPUV_INTEL;
	if (!strcmp(id, "AuthenticAMD") || !strcmp(id, "HygonGenuine"))
		return KF_CPUV_AMD;
	return KF_CPUV_UNKNOWN;
}

int kf_node_meminfo_total(const char *meminfo, unsigned long long *bytes)
{
	const char *p = strstr(meminfo, "MemTotal:");
	if (!p)
		return -EINVAL;
	char *end;
	unsigned long long kb = strtoull(p + strlen("MemTotal:"), &end, 10);
	if (end == p + strlen("MemTotal:"))
		return -EINVAL;
	*bytes = kb * 1024;
	return 0;
}

static int cmp_node(const void *a, const void *b)
{
	return ((const struct kf_numa_node *)a)->id - ((const struct kf_numa_node *)b)->id;
}

static int cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
	return x < y ? -1 : x > y;
}

static int read_cpulist(const char *path, struct kf_bitmap *b)
{
	char *s = NULL;
	int r = kf_host_read(path, &s);
	if (r < 0)
		return r;
	r = kf_cpulist_parse(s, b);
	free(s);
	return r;
}

static int probe_nodes_sysfs(struct kf_hostinfo *h, struct kf_err *e)
{
	char *dir = kf_path("/sys/devices/system/node");
	DIR *d = opendir(dir);
	int r = 0;
	size_t cap = 0;
	if (!d)
		goto out; /* no NUMA: one node made up by the caller */
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		if (strncmp(de->d_name, "node", 4) || !de->d_name[4])
			continue;
		long id = strtol(de->d_name + 4, &end, 10);
		if (*end || id < 0)
			continue;
		if ((size_t)h->nnodes == cap) {
			cap = cap ? 2 * cap : 4;
			h->nodes = kf_xrealloc(h->nodes, cap * sizeof(*h->nodes));
		}
		struct kf_numa_node *n = &h->nodes[h->nnodes++];
		memset(n, 0, sizeof(*n));
		n->id = (int)id;
		char *rel = kf_xasprintf("/sys/devices/system/node/node%ld/cpulist", id);
		r = read_cpulist(rel, &n->cpus);
		if (r < 0)
			kf_errc(e, r, NULL, "%s: %s", rel, strerror(-r));
		free(rel);
		if (r < 0)
			break;
		char *mi = NULL;
		rel = kf_xasprintf("/sys/devices/system/node/node%ld/meminfo", id);
		r = kf_host_read(rel, &mi);
		if (r == 0 && kf_node_meminfo_total(mi, &n->mem_bytes) < 0)
			r = -EINVAL;
		if (r < 0)
			kf_errc(e, r, NULL, "%s: cannot read MemTotal", rel);
		free(mi);
		free(rel);
		if (r < 0)
			break;
	}
	closedir(d);
	h->numa_sysfs = true;
	h->numa_source = "sysfs";
out:
	free(dir);
	return r;
}

static void probe_hpsizes(struct kf_hostinfo *h)
{
	char *dir = kf_path("/sys/kernel/mm/hugepages");
	DIR *d = opendir(dir);
	free(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) && h->nhpsizes < KF_MAX_HPSIZES) {
		unsigned long long kb;
		char tail[4];
		if (sscanf(de->d_name, "hugepages-%llukB%3s", &kb, tail) == 1)
			h->hpsizes[h->nhpsizes++] = kb * 1024;
	}
	closedir(d);
	qsort(h->hpsizes, (size_t)h->nhpsizes, sizeof(h->hpsizes[0]), cmp_ull);
}

int kf_host_probe(struct kf_hostinfo *h, struct kf_err *e)
{
	memset(h, 0, sizeof(*h));
	int r;
	char *s = NULL;
	if ((r = read_cpulist("/sys/devices/system/cpu/present", &h->present)) < 0)
		return kf_errc(e, r, NULL, "/sys/devices/system/cpu/present: %s", strerror(-r));
	if ((r = read_cpulist("/sys/devices/system/cpu/online", &h->online)) < 0)
		return kf_errc(e, r, NULL, "/sys/devices/system/cpu/online: %s", strerror(-r));
	if (kf_host_read("/proc/meminfo", &s) == 0)
		kf_node_meminfo_total(s, &h->mem_total);
	free(s);
	s = NULL;
	if ((r = kf_host_read("/proc/cpuinfo", &s)) < 0)
		return kf_errc(e, r, NULL, "/proc/cpuinfo: %s", strerror(-r));
	h->vendor = kf_cpuinfo_vendor(s, h->vendor_id, sizeof(h->vendor_id));
	free(s);
	probe_hpsizes(h);

	r = -ENOSYS;
	if (kf_sysroot_is_host())
		r = kf_numa_probe(h, e);
	if (r == -ENOSYS)
		r = probe_nodes_sysfs(h, e);
	if (r < 0)
		return r;
	if (!h->nnodes) {
		h->nodes = kf_xcalloc(1, sizeof(*h->nodes));
		h->nnodes = 1;
		h->nodes[0].cpus = h->present;
		h->nodes[0].mem_bytes = h->mem_total;
		h->numa_source = "none";
	}
	qsort(h->nodes, (size_t)h->nnodes, sizeof(*h->nodes), cmp_node);
	return 0;
}

void kf_host_release(struct kf_hostinfo *h)
{
	if (!h)
		return;
	free(h->nodes);
	memset(h, 0, sizeof(*h));
}

const struct kf_numa_node *kf_host_node(const struct kf_hostinfo *h, int id)
{
	for (int i = 0; i < h->nnodes; i++)
		if (h->nodes[i].id == id)
			return &h->nodes[i];
	return NULL;
}

bool kf_host_has_hpsize(const struct kf_hostinfo *h, unsigned long long bytes)
{
	for (int i = 0; i < h->nhpsizes; i++)
		if (h->hpsizes[i] == bytes)
			return true;
	return false;
}
