/* Facts about CPUs, NUMA nodes and memory (agent/facts_int.h): the host's
 * topology from sysfs and /proc/cpuinfo, nodes through kf_host_probe
 * (libnuma on the live host, agent/host_numa.c), hugepage pools per size
 * and per node, THP and KSM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/facts_int.h"
#include "agent/host.h"
#include "agent/hostio.h"
#include "types.h"
#include "util.h"

/* The value of the first "key : value" line of cpuinfo, malloc'd or NULL. */
static char *cpuinfo_field(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, kl) || (p[kl] != ' ' && p[kl] != '\t' && p[kl] != ':'))
			continue;
		const char *v = strchr(p, ':');
		if (!v)
			return NULL;
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		size_t n = strcspn(v, "\n");
		char *s = kf_xasprintf("%.*s", (int)n, v);
		return *kf_rstrip(s) ? s : (free(s), NULL);
	}
	return NULL;
}

static bool has_flag(const char *flags, const char *flag)
{
	size_t n = strlen(flag);
	for (const char *p = flags; p && (p = strstr(p, flag)); p += n)
		if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

/* Sockets, cores and threads from each present CPU's topology files. */
static void probe_topology(struct kf_facts *f, const struct kf_bitmap *present)
{
	int last = kf_bitmap_last(present), ncores = 0, threads = 0;
	struct kf_bitmap pkgs = { 0 };
	long long (*cores)[2] = kf_xcalloc((size_t)last + 2, sizeof(*cores));
	for (int c = 0; c <= last; c++) {
		if (!kf_bitmap_test(present, (unsigned)c))
			continue;
		threads++;
		long long pkg = fx_ll("/sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
		long long core = fx_ll("/sys/devices/system/cpu/cpu%d/topology/core_id", c);
		if (pkg < 0 || core < 0)
			continue;
		if (pkg < KF_MAX_CPUS)
			kf_bitmap_set(&pkgs, (unsigned)pkg);
		int k = 0;
		while (k < ncores && (cores[k][0] != pkg || cores[k][1] != core))
			k++;
		if (k == ncores) {
			cores[ncores][0] = pkg;
			cores[ncores][1] = core;
			ncores++;
		}
	}
	free(cores);
	f->cpu.threads = threads;
	f->cpu.sockets = ncores ? (int)kf_bitmap_count(&pkgs) : -1;
	f->cpu.cores = ncores ? ncores : -1;
}

static void probe_kvm(struct kf_facts *f)
{
	static const char *const mods[] = { "kvm_intel", "kvm_amd" };
	for (size_t i = 0; i < KF_ARRAY_SIZE(mods); i++) {
		char *rel = kf_xasprintf("/sys/module/%s", mods[i]);
		bool loaded = kf_host_exists(rel);
		free(rel);
		if (!loaded)
			continue;
		f->cpu.kvm_module = kf_xstrdup(mods[i]);
		char *s = fx_str("/sys/module/%s/parameters/nested", mods[i]);
		f->cpu.nested = s ? kf_norm_bool(s) : -1;
		free(s);
		return;
	}
}

void kf_facts_probe_cpu(struct kf_facts *f)
{
	char buf[1024];
	f->hostname = fx_str("/proc/sys/kernel/hostname");
	f->kernel = fx_str("/proc/sys/kernel/osrelease");
	char *info = NULL;
	if (kf_host_read("/proc/cpuinfo", &info) == 0) {
		f->cpu.vendor = cpuinfo_field(info, "vendor_id");
		f->cpu.model = cpuinfo_field(info, "model name");
		char *flags = cpuinfo_field(info, "flags");
		if (has_flag(flags, "vmx"))
			f->cpu.virt = kf_xstrdup("vmx");
		else if (has_flag(flags, "svm"))
			f->cpu.virt = kf_xstrdup("svm");
		free(flags);
	} else {
		kf_facts_note(f, "/proc/cpuinfo cannot be read");
	}
	free(info);
	struct kf_bitmap present = { 0 }, online = { 0 };
	char *s = fx_str("/sys/devices/system/cpu/present");
	if (s && kf_cpulist_parse(s, &present) == 0)
		probe_topology(f, &present);
	free(s);
	s = fx_str("/sys/devices/system/cpu/online");
	if (s && kf_cpulist_parse(s, &online) == 0)
		f->cpu.online = kf_xstrdup(kf_cpulist_fmt(&online, buf, sizeof(buf)));
	free(s);
	probe_kvm(f);
}

/* Pools of every size under dir ("/sys/kernel/mm/hugepages" or a node's). */
static struct kf_f_hp *probe_hp(const char *dir, size_t *n)
{
	char **names = NULL;
	size_t nn = fx_list(&names, "%s", dir);
	struct kf_f_hp *v = nn ? kf_xcalloc(nn, sizeof(*v)) : NULL;
	*n = 0;
	for (size_t i = 0; i < nn; i++) {
		unsigned long long kb;
		char tail[4];
		if (sscanf(names[i], "hugepages-%llukB%3s", &kb, tail) != 1)
			continue;
		struct kf_f_hp *h = &v[(*n)++];
		h->size = (long long)kb * 1024;
		h->total = fx_ll("%s/%s/nr_hugepages", dir, names[i]);
		h->free = fx_ll("%s/%s/free_hugepages", dir, names[i]);
	}
	fx_list_free(names, nn);
	/* the names sort as text: 1048576kB before 2048kB */
	for (size_t i = 1; i < *n; i++)
		for (size_t k = i; k > 0 && v[k - 1].size > v[k].size; k--) {
			struct kf_f_hp t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	return v;
}

/* "Node 0 MemFree:  123 kB" in bytes, -1 when absent. */
static long long node_meminfo(const char *text, const char *key)
{
	const char *p = text ? strstr(text, key) : NULL;
	if (!p)
		return -1;
	return strtoll(p + strlen(key), NULL, 10) * 1024;
}

static void probe_node(struct kf_facts *f, const struct kf_hostinfo *h, int i)
{
	char buf[1024];
	struct kf_f_node *n = &f->nodes[i];
	const struct kf_numa_node *hn = &h->nodes[i];
	n->id = hn->id;
	n->cpus = kf_xstrdup(kf_cpulist_fmt(&hn->cpus, buf, sizeof(buf)));
	n->mem_total = (long long)hn->mem_bytes;
	char *mi = fx_str("/sys/devices/system/node/node%d/meminfo", n->id);
	n->mem_free = node_meminfo(mi, "MemFree:");
	free(mi);
	n->distances = kf_xcalloc((size_t)h->nnodes, sizeof(int));
	char *d = fx_str("/sys/devices/system/node/node%d/distance", n->id), *p = d;
	for (int k = 0; k < h->nnodes; k++) {
		int v = kf_numa_distance(n->id, h->nodes[k].id);
		char *end = p;
		long sv = p ? strtol(p, &end, 10) : 0;
		if (p && end != p) {
			if (v <= 0)
				v = (int)sv;
			p = end;
		}
		n->distances[n->ndistances++] = v > 0 ? v : -1;
	}
	free(d);
	char *dir = kf_xasprintf("/sys/devices/system/node/node%d/hugepages", n->id);
	n->hp = probe_hp(dir, &n->nhp);
	free(dir);
}

static void probe_ksm(struct kf_facts *f)
{
	const char *k = "/sys/kernel/mm/ksm";
	f->ksm.run = (int)fx_ll("%s/run", k);
	f->ksm.pages_shared = fx_ll("%s/pages_shared", k);
	f->ksm.pages_sharing = fx_ll("%s/pages_sharing", k);
	f->ksm.pages_unshared = fx_ll("%s/pages_unshared", k);
	f->ksm.full_scans = fx_ll("%s/full_scans", k);
	f->ksm.merge_across_nodes = (int)fx_ll("%s/merge_across_nodes", k);
	f->ksm.page_size = sysconf(_SC_PAGESIZE);
	if (f->ksm.pages_sharing >= 0)
		f->ksm.saved = f->ksm.pages_sharing * f->ksm.page_size;
}

void kf_facts_probe_memory(struct kf_facts *f)
{
	char buf[64];
	struct kf_err e = KF_ERR_INIT;
	struct kf_hostinfo h;
	if (kf_host_probe(&h, &e) == 0) {
		f->mem_total = h.mem_total ? (long long)h.mem_total : -1;
		if (h.numa_sysfs) {
			f->numa_source = kf_xstrdup(h.numa_source);
			f->nodes = kf_xcalloc((size_t)h.nnodes, sizeof(*f->nodes));
			for (int i = 0; i < h.nnodes; i++, f->nnodes++)
				probe_node(f, &h, i);
		}
	} else {
		kf_facts_note(f, "numa: %s", kf_err_format(&e, 0, (char[256]){ 0 }, 256));
	}
	kf_host_release(&h);
	kf_err_release(&e);
	f->hp = probe_hp("/sys/kernel/mm/hugepages", &f->nhp);
	char *s = fx_str("/sys/kernel/mm/transparent_hugepage/enabled");
	if (s && kf_norm_bracket(s, buf, sizeof(buf)))
		f->thp.enabled = kf_xstrdup(buf);
	free(s);
	s = fx_str("/sys/kernel/mm/transparent_hugepage/defrag");
	if (s && kf_norm_bracket(s, buf, sizeof(buf)))
		f->thp.defrag = kf_xstrdup(buf);
	free(s);
	probe_ksm(f);
}

void kf_facts_probe_check_host(struct kf_facts *f, const struct kf_hostinfo *h)
{
	char buf[1024];
	f->cpu.threads = (int)kf_bitmap_count(&h->present);
	f->cpu.online = kf_xstrdup(kf_cpulist_fmt(&h->online, buf, sizeof(buf)));
	f->mem_total = h->mem_total ? (long long)h->mem_total : -1;
	if (h->numa_sysfs) {
		f->nodes = kf_xcalloc((size_t)h->nnodes, sizeof(*f->nodes));
		for (int i = 0; i < h->nnodes; i++, f->nnodes++) {
			f->nodes[i].id = h->nodes[i].id;
			f->nodes[i].cpus = kf_xstrdup(kf_cpulist_fmt(&h->nodes[i].cpus, buf, sizeof(buf)));
			f->nodes[i].mem_total = (long long)h->nodes[i].mem_bytes;
			f->nodes[i].mem_free = -1;
		}
	}
	f->hp = h->nhpsizes ? kf_xcalloc((size_t)h->nhpsizes, sizeof(*f->hp)) : NULL;
	for (int i = 0; i < h->nhpsizes; i++, f->nhp++)
		f->hp[i] = (struct kf_f_hp){ (long long)h->hpsizes[i], -1, -1 };
}
