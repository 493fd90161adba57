/* Facts about running guests (agent/facts_int.h): for each, where its
 * vCPUs run (virsh vcpuinfo) and how much of its memory sits on each NUMA
 * node (numastat -p).  By default the guests are the QEMU processes under
 * /proc ("-name guest=NAME") and their vCPUs the "CPU N/KVM" threads, the
 * same task files libvirt reads for virsh vcpuinfo, without loading
 * libvirt or asking its daemon (40-70 ms and 16 MB more per run); with a
 * connection URI, on the live host, guests and vCPUs come from libvirt
 * (lib/virt.c).  Memory per node is the QEMU process's numa_maps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/facts_int.h"
#include "agent/hostio.h"
#include "util.h"
#include "virt.h"

#define MAX_NODES 64

int kf_numa_maps_sum(const char *text, long long *mem, int max)
{
	int top = 0;
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		long long pages[MAX_NODES] = { 0 }, kb = 4;
		int hi = 0;
		for (const char *p = line; p < line + len;) {
			const char *w = p;
			p += strcspn(p, " \n");
			if (w[0] == 'N' && w[1] >= '0' && w[1] <= '9') {
				char *end;
				long n = strtol(w + 1, &end, 10);
				if (*end == '=' && n >= 0 && n < max && n < MAX_NODES) {
					pages[n] += strtoll(end + 1, NULL, 10);
					hi = hi > n + 1 ? hi : (int)n + 1;
				}
			} else if (!strncmp(w, "kernelpagesize_kB=", 18)) {
				kb = strtoll(w + 18, NULL, 10);
			}
			while (*p == ' ')
				p++;
		}
		for (int n = 0; n < hi; n++)
			mem[n] += pages[n] * kb * 1024;
		top = top > hi ? top : hi;
		line = nl ? nl + 1 : NULL;
	}
	return top;
}

/* The guest name of a QEMU command line ("-name guest=NAME,..." or
 * "-name NAME"), malloc'd, or NULL. */
static char *qemu_name(const char *cmdline, size_t len)
{
	for (const char *p = cmdline; p < cmdline + len; p += strlen(p) + 1) {
		if (strcmp(p, "-name"))
			continue;
		const char *v = p + strlen(p) + 1;
		if (v >= cmdline + len)
			return NULL;
		if (!strncmp(v, "guest=", 6))
			v += 6;
		size_t n = strcspn(v, ",");
		return n ? kf_xasprintf("%.*s", (int)n, v) : NULL;
	}
	return NULL;
}

/* QEMU processes under /proc, as guests with a name and a pid. */
static void scan_qemu(struct kf_facts *f)
{
	char **pids = NULL;
	size_t np = fx_list(&pids, "/proc");
	for (size_t i = 0; i < np; i++) {
		if (!(pids[i][0] >= '1' && pids[i][0] <= '9'))
			continue;
		char *comm = fx_str("/proc/%s/comm", pids[i]);
		bool qemu = comm && !strncmp(comm, "qemu", 4);
		free(comm);
		if (!qemu)
			continue;
		char *path = kf_path("/proc/%s/cmdline", pids[i]), *cmd = NULL;
		size_t len = 0;
		char *name = kf_read_file(path, 1 << 20, &cmd, &len) == 0 ? qemu_name(cmd, len) : NULL;
		free(cmd);
		free(path);
		if (!name)
			continue;
		f->guests = kf_xrealloc(f->guests, (f->nguests + 1) * sizeof(*f->guests));
		struct kf_f_guest *g = &f->guests[f->nguests++];
		memset(g, 0, sizeof(*g));
		g->name = name;
		g->pid = strtoll(pids[i], NULL, 10);
	}
	fx_list_free(pids, np);
}

/* Field 39 of a task's stat (the CPU it last ran on), -1 when unknown. */
static int stat_cpu(const char *stat)
{
	const char *p = stat ? strrchr(stat, ')') : NULL;
	if (!p)
		return -1;
	p++;
	for (int field = 3; field < 39 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? atoi(p + 1) : -1;
}

/* vCPU threads ("CPU 3/KVM", "CPU 3/TCG") of a QEMU process. */
static void proc_vcpus(struct kf_f_guest *g)
{
	char **tids = NULL;
	size_t nt = fx_list(&tids, "/proc/%lld/task", g->pid);
	for (size_t i = 0; i < nt; i++) {
		char *comm = fx_str("/proc/%lld/task/%s/comm", g->pid, tids[i]);
		int vcpu;
		char kind[8];
		if (comm && sscanf(comm, "CPU %d/%7s", &vcpu, kind) == 2) {
			g->vcpus = kf_xrealloc(g->vcpus, (g->nvcpus + 1) * sizeof(*g->vcpus));
			struct kf_f_vcpu *v = &g->vcpus[g->nvcpus++];
			char *stat = fx_str("/proc/%lld/task/%s/stat", g->pid, tids[i]);
			char *status = fx_str("/proc/%lld/task/%s/status", g->pid, tids[i]);
			char *a = status ? strstr(status, "Cpus_allowed_list:") : NULL;
			v->vcpu = vcpu;
			v->cpu = stat_cpu(stat);
			v->affinity = a ? kf_xasprintf("%.*s", (int)strcspn(a + 19 + strspn(a + 19, " \t"), "\n"),
						       a + 19 + strspn(a + 19, " \t"))
					: NULL;
			free(stat);
			free(status);
		}
		free(comm);
	}
	fx_list_free(tids, nt);
	for (size_t i = 1; i < g->nvcpus; i++) /* threads in tid order: by vCPU number */
		for (size_t k = i; k > 0 && g->vcpus[k - 1].vcpu > g->vcpus[k].vcpu; k--) {
			struct kf_f_vcpu t = g->vcpus[k];
			g->vcpus[k] = g->vcpus[k - 1];
			g->vcpus[k - 1] = t;
		}
}

static void guest_memory(struct kf_f_guest *g)
{
	char *path = kf_path("/proc/%lld/numa_maps", g->pid), *text = NULL;
	long long mem[MAX_NODES] = { 0 };
	if (g->pid > 0 && kf_read_file(path, 64u << 20, &text, NULL) == 0) {
		int n = kf_numa_maps_sum(text, mem, MAX_NODES);
		g->mem = n ? kf_xcalloc((size_t)n, sizeof(*g->mem)) : NULL;
		for (int k = 0; k < n; k++)
			if (mem[k])
				g->mem[g->nmem++] = (struct kf_f_nodemem){ k, mem[k] };
	}
	free(text);
	free(path);
}

/* Guests and vCPUs from libvirt; the pids of the processes scan_qemu found. */
static int libvirt_guests(struct kf_facts *f, const char *uri, struct kf_err *e)
{
	struct kf_virt *v = NULL;
	char **names = NULL;
	size_t n = 0;
	int r = kf_virt_open(&v, uri, e);
	if (r < 0 || (r = kf_virt_running(v, &names, &n, e)) < 0)
		goto out;
	struct kf_f_guest *g = kf_xcalloc(n ? n : 1, sizeof(*g));
	for (size_t i = 0; i < n; i++) {
		g[i].name = kf_xstrdup(names[i]);
		g[i].pid = -1;
		for (size_t k = 0; k < f->nguests; k++)
			if (!strcmp(f->guests[k].name, names[i]))
				g[i].pid = f->guests[k].pid;
		struct kf_vdom *d = NULL;
		struct kf_vcpuinfo *vi = NULL;
		size_t nv = 0;
		if (kf_virt_lookup(v, names[i], &d, e) == 0 && kf_vdom_vcpuinfo(d, &vi, &nv, e) == 0) {
			g[i].vcpus = kf_xcalloc(nv ? nv : 1, sizeof(*g[i].vcpus));
			for (size_t k = 0; k < nv; k++)
				g[i].vcpus[g[i].nvcpus++] = (struct kf_f_vcpu){ vi[k].vcpu, vi[k].cpu, vi[k].affinity };
			free(vi);
		}
		kf_vdom_free(d);
	}
	for (size_t k = 0; k < f->nguests; k++)
		free(f->guests[k].name);
	free(f->guests);
	f->guests = g;
	f->nguests = n;
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	kf_virt_close(v);
	return r;
}

static int cmp_guest(const void *a, const void *b)
{
	return strcmp(((const struct kf_f_guest *)a)->name, ((const struct kf_f_guest *)b)->name);
}

void kf_facts_probe_guests(struct kf_facts *f, const char *uri)
{
	scan_qemu(f);
	bool lv = false;
	if (uri && kf_sysroot_is_host()) {
		struct kf_err e = KF_ERR_INIT;
		char buf[512];
		lv = libvirt_guests(f, uri, &e) == 0;
		if (!lv)
			kf_facts_note(f, "guests from /proc: %s", kf_err_format(&e, 0, buf, sizeof(buf)));
		kf_err_release(&e);
	}
	for (size_t i = 0; i < f->nguests; i++) {
		if (!lv)
			proc_vcpus(&f->guests[i]);
		guest_memory(&f->guests[i]);
	}
	if (f->nguests)
		qsort(f->guests, f->nguests, sizeof(*f->guests), cmp_guest);
	f->guests_source = kf_xstrdup(lv ? "libvirt" : "proc");
}
