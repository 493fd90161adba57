/* Facts about running guests (agent/facts_int.h): for each, where its
 * vCPUs run (virsh vcpuinfo) and how much of its memory sits on each NUMA
 * node (numastat -p).  By default the guests are the QEMU processes under
 * /proc ("-name guest=NAME") and their vCPUs the "CPU N/KVM" threads, the
 * same task files libvirt reads for virsh vcpuinfo, without loading
 * libvirt or asking its daemon (40-70 ms and 16 MB more per run); with a
 * connection URI, on the live host, guests and vCPUs come from libvirt
 * (lib/virt.c).
 *
 * Memory per node is the QEMU process's numa_maps, a walk of every page
 * table entry of the process in the kernel (about 1 ms per 64 MiB guest,
 * seconds for big guests on 4 KiB pages).  On a host with one node every
 * resident page is on it, and where the kernel sums its per-CPU RSS
 * counters for /proc/PID/status (6.16 and later) the same bytes come from
 * there without the walk (kf_status_resident, less the vDSO's resident
 * pages, which numa_maps leaves out).
 *
 * Everything under /proc is read relative to one directory fd with small
 * fixed buffers: a host has hundreds of processes to look at. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

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

/* The kB number of a "Key:  123 kB" line of a status text, -1 when absent. */
static long long status_kb(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ':')
			return strtoll(p + kl + 1, NULL, 10);
	return -1;
}

long long kf_status_resident(const char *status)
{
	long long rss = status_kb(status, "VmRSS"), huge = status_kb(status, "HugetlbPages");
	return rss < 0 ? -1 : (rss + (huge > 0 ? huge : 0)) * 1024;
}

bool kf_kernel_sums_rss(const char *osrelease)
{
	int major = 0, minor = 0;
	if (!osrelease || sscanf(osrelease, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 16);
}

/* How the guests of this run are read: the (sys)root's /proc as a
 * directory fd, a buffer for the files too big for the stack, and whether
 * memory comes from status (one node, a kernel that sums its counters). */
struct gscan {
	int proc;
	struct kf_buf big;
	bool from_status;
	long long vdso_pages; /* pages of a process's vDSO (ours), live host */
};

/* Reads rel under dir into buf (NUL terminated, at most size - 1 bytes);
 * its length, or -1. */
static ssize_t read_at(int dir, const char *rel, char *buf, size_t size)
{
	int fd = openat(dir, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t n = 0;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0)
		return -1;
	buf[len] = 0;
	return (ssize_t)len;
}

/* A whole file of any size into g->big; its length, or -1. */
static ssize_t read_big(struct gscan *g, const char *rel)
{
	int fd = openat(g->proc, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct kf_buf *b = &g->big;
	b->len = 0;
	ssize_t n;
	for (;;) {
		if (b->cap - b->len < 65536 + 1) {
			b->cap = b->cap ? 2 * b->cap + 65536 : 262144;
			b->s = kf_xrealloc(b->s, b->cap);
		}
		n = read(fd, b->s + b->len, b->cap - 1 - b->len);
		if (n <= 0)
			break;
		b->len += (size_t)n;
	}
	close(fd);
	if (n < 0)
		return -1;
	b->s[b->len] = 0;
	return (ssize_t)b->len;
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

/* One process of /proc: a guest when its comm starts with "qemu" and its
 * command line names one. */
static void scan_pid(struct kf_facts *f, struct gscan *g, const char *pid)
{
	char rel[64], comm[32];
	snprintf(rel, sizeof(rel), "%s/comm", pid);
	if (read_at(g->proc, rel, comm, sizeof(comm)) < 4 || strncmp(comm, "qemu", 4))
		return;
	snprintf(rel, sizeof(rel), "%s/cmdline", pid);
	ssize_t len = read_big(g, rel);
	char *name = len > 0 ? qemu_name(g->big.s, (size_t)len) : NULL;
	if (!name)
		return;
	f->guests = kf_xrealloc(f->guests, (f->nguests + 1) * sizeof(*f->guests));
	struct kf_f_guest *q = &f->guests[f->nguests++];
	memset(q, 0, sizeof(*q));
	q->name = name;
	q->pid = strtoll(pid, NULL, 10);
}

/* QEMU processes under /proc, as guests with a name and a pid. */
static void scan_qemu(struct kf_facts *f, struct gscan *g)
{
	char **pids = NULL;
	size_t np = fx_list(&pids, "/proc");
	for (size_t i = 0; i < np; i++)
		if (pids[i][0] >= '1' && pids[i][0] <= '9')
			scan_pid(f, g, pids[i]);
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

/* A task's vCPU number from the comm in its stat ("12 (CPU 3/KVM) S ..."),
 * -1 when it is not a vCPU thread. */
static int stat_vcpu(const char *stat)
{
	const char *c = strchr(stat, '(');
	int vcpu;
	char kind[8];
	if (!c || sscanf(c + 1, "CPU %d/%7[A-Z]", &vcpu, kind) != 2)
		return -1;
	return vcpu;
}

/* One thread of a QEMU process: a vCPU with the CPU it last ran on (its
 * stat) and its affinity (status), or nothing. */
static void proc_vcpu(struct gscan *g, struct kf_f_guest *q, const char *tid)
{
	char rel[96], stat[1024], status[4096];
	snprintf(rel, sizeof(rel), "%lld/task/%s/stat", q->pid, tid);
	if (read_at(g->proc, rel, stat, sizeof(stat)) <= 0)
		return;
	int vcpu = stat_vcpu(stat);
	if (vcpu < 0)
		return;
	q->vcpus = kf_xrealloc(q->vcpus, (q->nvcpus + 1) * sizeof(*q->vcpus));
	struct kf_f_vcpu *v = &q->vcpus[q->nvcpus++];
	v->vcpu = vcpu;
	v->cpu = stat_cpu(stat);
	v->affinity = NULL;
	snprintf(rel, sizeof(rel), "%lld/task/%s/status", q->pid, tid);
	const char *a = read_at(g->proc, rel, status, sizeof(status)) > 0 ? strstr(status, "Cpus_allowed_list:") : NULL;
	if (a) {
		a += 18 + strspn(a + 18, " \t");
		v->affinity = kf_xasprintf("%.*s", (int)strcspn(a, "\n"), a);
	}
}

/* vCPU threads ("CPU 3/KVM", "CPU 3/TCG") of a QEMU process. */
static void proc_vcpus(struct gscan *g, struct kf_f_guest *q)
{
	char **tids = NULL;
	size_t nt = fx_list(&tids, "/proc/%lld/task", q->pid);
	for (size_t i = 0; i < nt; i++)
		proc_vcpu(g, q, tids[i]);
	fx_list_free(tids, nt);
	for (size_t i = 1; i < q->nvcpus; i++) /* threads in tid order: by vCPU number */
		for (size_t k = i; k > 0 && q->vcpus[k - 1].vcpu > q->vcpus[k].vcpu; k--) {
			struct kf_f_vcpu t = q->vcpus[k];
			q->vcpus[k] = q->vcpus[k - 1];
			q->vcpus[k - 1] = t;
		}
}

/* Pages of this process's vDSO: the same image the kernel maps into every
 * process (live host only), 0 when unknown. */
static long long own_vdso_pages(void)
{
	unsigned long base = getauxval(AT_SYSINFO_EHDR);
	char maps[16384];
	int self = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ssize_t n = base && self >= 0 ? read_at(self, "maps", maps, sizeof(maps)) : -1;
	if (self >= 0)
		close(self);
	const char *p = n > 0 ? strstr(maps, "[vdso]") : NULL;
	while (p && p > maps && p[-1] != '\n')
		p--;
	unsigned long lo, hi;
	if (!p || sscanf(p, "%lx-%lx", &lo, &hi) != 2 || lo != base || hi <= lo)
		return 0;
	return (long long)((hi - lo) / (unsigned long)sysconf(_SC_PAGESIZE));
}

/* Resident pages of process q's vDSO (found by its auxv's AT_SYSINFO_EHDR,
 * counted in its pagemap), 0 when they cannot be read. */
static long long vdso_resident(struct gscan *g, long long pid)
{
	char rel[64];
	unsigned long aux[128], base = 0;
	uint64_t ent[16];
	snprintf(rel, sizeof(rel), "%lld/auxv", pid);
	ssize_t n = g->vdso_pages > 0 ? read_at(g->proc, rel, (char *)aux, sizeof(aux)) : -1;
	for (ssize_t i = 0; i + 1 < n / (ssize_t)sizeof(*aux) && aux[i]; i += 2)
		if (aux[i] == AT_SYSINFO_EHDR)
			base = aux[i + 1];
	snprintf(rel, sizeof(rel), "%lld/pagemap", pid);
	int fd = base ? openat(g->proc, rel, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0)
		return 0;
	long long pages = g->vdso_pages < 16 ? g->vdso_pages : 16, resident = 0;
	unsigned long psz = (unsigned long)sysconf(_SC_PAGESIZE);
	n = pread(fd, ent, (size_t)pages * sizeof(*ent), (off_t)(base / psz * sizeof(*ent)));
	close(fd);
	for (ssize_t i = 0; i < n / (ssize_t)sizeof(*ent); i++)
		resident += (ent[i] >> 63) & 1;
	return resident;
}

static void guest_memory(struct kf_facts *f, struct gscan *g, struct kf_f_guest *q)
{
	char rel[64], status[8192];
	long long mem[MAX_NODES] = { 0 };
	int n = 0;
	if (q->pid <= 0)
		return;
	if (g->from_status) {
		snprintf(rel, sizeof(rel), "%lld/status", q->pid);
		long long b = read_at(g->proc, rel, status, sizeof(status)) > 0 ? kf_status_resident(status) : -1;
		int node = f->nodes[0].id;
		if (b >= 0 && node >= 0 && node < MAX_NODES) {
			mem[node] = b - vdso_resident(g, q->pid) * sysconf(_SC_PAGESIZE);
			n = node + 1;
		}
	} else {
		snprintf(rel, sizeof(rel), "%lld/numa_maps", q->pid);
		if (read_big(g, rel) >= 0)
			n = kf_numa_maps_sum(g->big.s, mem, MAX_NODES);
	}
	q->mem = n ? kf_xcalloc((size_t)n, sizeof(*q->mem)) : NULL;
	for (int k = 0; k < n; k++)
		if (mem[k])
			q->mem[q->nmem++] = (struct kf_f_nodemem){ k, mem[k] };
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
	char *proc = kf_path("/proc");
	struct gscan g = { .proc = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC), .big = KF_BUF_INIT };
	free(proc);
	g.from_status = f->nnodes == 1 && kf_kernel_sums_rss(f->kernel);
	if (g.from_status && kf_sysroot_is_host())
		g.vdso_pages = own_vdso_pages();
	if (g.proc >= 0)
		scan_qemu(f, &g);
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
			proc_vcpus(&g, &f->guests[i]);
		guest_memory(f, &g, &f->guests[i]);
	}
	if (f->nguests)
		qsort(f->guests, f->nguests, sizeof(*f->guests), cmp_guest);
	f->guests_source = kf_xstrdup(lv ? "libvirt" : "proc");
	kf_buf_release(&g.big);
	if (g.proc >= 0)
		close(g.proc);
}
