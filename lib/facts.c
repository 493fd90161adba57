/* Host facts (lib/facts.h): the model's lifecycle and its text view. */
#include "facts.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "types.h"
#include "util.h"

void kf_facts_init(struct kf_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->schema = KF_FACTS_SCHEMA;
	f->cpu.sockets = f->cpu.cores = f->cpu.threads = f->cpu.nested = -1;
	f->mem_total = -1;
	f->ksm.run = f->ksm.merge_across_nodes = -1;
	f->ksm.pages_shared = f->ksm.pages_sharing = f->ksm.pages_unshared = f->ksm.full_scans = -1;
	f->ksm.page_size = f->ksm.saved = -1;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void release_nic(struct kf_f_nic *n)
{
	free(n->name);
	free(n->mac);
	free(n->driver);
	free(n->pci);
	free(n->operstate);
	for (size_t i = 0; i < n->nirqs; i++) {
		free(n->irqs[i].name);
		free(n->irqs[i].affinity);
		free(n->irqs[i].counts);
	}
	free(n->irqs);
}

static void release_guest(struct kf_f_guest *g)
{
	free(g->name);
	for (size_t i = 0; i < g->nvcpus; i++)
		free(g->vcpus[i].affinity);
	free(g->vcpus);
	free(g->mem);
}

void kf_facts_release(struct kf_facts *f)
{
	if (!f)
		return;
	free(f->hostname);
	free(f->kernel);
	free(f->cpu.vendor);
	free(f->cpu.model);
	free(f->cpu.online);
	free(f->cpu.virt);
	free(f->cpu.kvm_module);
	free(f->numa_source);
	for (size_t i = 0; i < f->nnodes; i++) {
		free(f->nodes[i].cpus);
		free(f->nodes[i].distances);
		free(f->nodes[i].hp);
	}
	free(f->nodes);
	free(f->hp);
	free(f->thp.enabled);
	free(f->thp.defrag);
	for (size_t i = 0; i < f->nnics; i++)
		release_nic(&f->nics[i]);
	free(f->nics);
	for (size_t i = 0; i < f->ndisks; i++) {
		free(f->disks[i].name);
		free(f->disks[i].model);
		free(f->disks[i].serial);
	}
	free(f->disks);
	for (size_t i = 0; i < f->iommu.ngroups; i++)
		free_strv(f->iommu.groups[i].devices, f->iommu.groups[i].ndevices);
	free(f->iommu.groups);
	free(f->dmi.vendor);
	free(f->dmi.product);
	free(f->dmi.serial);
	free(f->dmi.uuid);
	free(f->dmi.bios_vendor);
	free(f->dmi.bios_version);
	free(f->dmi.boot);
	free(f->guests_source);
	for (size_t i = 0; i < f->nguests; i++)
		release_guest(&f->guests[i]);
	free(f->guests);
	free_strv(f->notes, f->nnotes);
	kf_facts_init(f);
}

void kf_facts_note(struct kf_facts *f, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		kf_die_oom();
	va_end(ap);
	f->notes = kf_xrealloc(f->notes, (f->nnotes + 1) * sizeof(*f->notes));
	f->notes[f->nnotes++] = s;
}

const struct kf_f_node *kf_facts_node(const struct kf_facts *f, int id)
{
	for (size_t i = 0; i < f->nnodes; i++)
		if (f->nodes[i].id == id)
			return &f->nodes[i];
	return NULL;
}

const struct kf_f_nic *kf_facts_nic(const struct kf_facts *f, const char *ref)
{
	for (size_t i = 0; i < f->nnics; i++)
		if ((f->nics[i].name && !strcmp(f->nics[i].name, ref)) ||
		    (f->nics[i].mac && !strcasecmp(f->nics[i].mac, ref)))
			return &f->nics[i];
	return NULL;
}

/* ---- text ---- */

const char *kf_facts_summary(const struct kf_facts *f, char *buf, size_t len)
{
	char m[32], h[32];
	long long hp = f->nhp ? 0 : -1;
	for (size_t i = 0; i < f->nhp; i++)
		if (f->hp[i].size > 0 && f->hp[i].free > 0)
			hp += f->hp[i].size * f->hp[i].free;
	snprintf(buf, len, "%zun %s hp %s", f->nnodes, kf_facts_size(f->mem_total, m, sizeof(m)), kf_facts_size(hp, h, sizeof(h)));
	return buf;
}

static const char *s_or(const char *s)
{
	return s ? s : "-";
}

const char *kf_facts_size(long long v, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	if (v < 0)
		return "-";
	double x = (double)v;
	int u = -1;
	while (x >= 1024 && u < 4) {
		x /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%lld", v);
	else if (x == (double)(long long)x)
		snprintf(buf, len, "%lld%c", (long long)x, units[u]);
	else
		snprintf(buf, len, "%.1f%c", x, units[u]);
	return buf;
}

static const char *num_or(long long v, char *buf, size_t len)
{
	if (v < 0)
		return "-";
	snprintf(buf, len, "%lld", v);
	return buf;
}

static const char *onoff(int v)
{
	return v < 0 ? "-" : v ? "on" : "off";
}

static void print_hp(FILE *out, const struct kf_f_hp *hp, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char b[32];
		fprintf(out, "%s%s %lld/%lld free", i ? ", " : "", kf_facts_size(hp[i].size, b, sizeof(b)), hp[i].free,
			hp[i].total);
	}
	if (!n)
		fputs("-", out);
}

static void print_cpu_mem(const struct kf_facts *f, FILE *out)
{
	char b1[32], b2[32], b3[32];
	fprintf(out, "host      %s (kernel %s)\n", s_or(f->hostname), s_or(f->kernel));
	fprintf(out, "cpu       %s (%s)\n", s_or(f->cpu.model), s_or(f->cpu.vendor));
	fprintf(out, "          %s sockets, %s cores, %s threads, online %s\n", num_or(f->cpu.sockets, b1, sizeof(b1)),
		num_or(f->cpu.cores, b2, sizeof(b2)), num_or(f->cpu.threads, b3, sizeof(b3)), s_or(f->cpu.online));
	fprintf(out, "virt      %s, module %s, nested %s\n", f->cpu.virt ? f->cpu.virt : "none",
		f->cpu.kvm_module ? f->cpu.kvm_module : "not loaded", onoff(f->cpu.nested));
	fprintf(out, "memory    %s\n", kf_facts_size(f->mem_total, b1, sizeof(b1)));
	fprintf(out, "numa      %zu node%s (%s)\n", f->nnodes, f->nnodes == 1 ? "" : "s", s_or(f->numa_source));
	for (size_t i = 0; i < f->nnodes; i++) {
		const struct kf_f_node *n = &f->nodes[i];
		fprintf(out, "  node %d  cpus %s, memory %s, free %s, distances", n->id, s_or(n->cpus),
			kf_facts_size(n->mem_total, b1, sizeof(b1)), kf_facts_size(n->mem_free, b2, sizeof(b2)));
		for (size_t k = 0; k < n->ndistances; k++)
			fprintf(out, " %d", n->distances[k]);
		fputs("\n          hugepages ", out);
		print_hp(out, n->hp, n->nhp);
		fputc('\n', out);
	}
	fputs("hugepages ", out);
	print_hp(out, f->hp, f->nhp);
	fputc('\n', out);
	fprintf(out, "thp       enabled %s, defrag %s\n", s_or(f->thp.enabled), s_or(f->thp.defrag));
	char b4[32];
	fprintf(out, "ksm       run %s, pages shared %s, sharing %s, saving %s\n", num_or(f->ksm.run, b1, sizeof(b1)),
		num_or(f->ksm.pages_shared, b2, sizeof(b2)), num_or(f->ksm.pages_sharing, b3, sizeof(b3)),
		kf_facts_size(f->ksm.saved, b4, sizeof(b4)));
}

static void print_nic(const struct kf_f_nic *n, FILE *out)
{
	fprintf(out, "  %-9s %s, driver %s, pci %s, %s, link %s, speed %s", n->name, s_or(n->mac), s_or(n->driver),
		s_or(n->pci), s_or(n->operstate), onoff(n->link), n->speed < 0 ? "-" : "");
	if (n->speed >= 0)
		fprintf(out, "%lldMb/s", n->speed);
	fprintf(out, "\n            queues rx %d tx %d", n->rx_queues, n->tx_queues);
	if (n->max_combined >= 0)
		fprintf(out, ", channels combined %lld/%lld", n->combined, n->max_combined);
	if (n->sriov_total >= 0)
		fprintf(out, ", sr-iov %d/%d vfs", n->sriov_num, n->sriov_total);
	fputc('\n', out);
	for (size_t i = 0; i < n->nirqs; i++) {
		const struct kf_f_irq *q = &n->irqs[i];
		fprintf(out, "            irq %d %s, affinity %s, per cpu", q->irq, s_or(q->name), s_or(q->affinity));
		for (size_t k = 0; k < q->ncounts; k++)
			fprintf(out, " %lld", q->counts[k]);
		fputc('\n', out);
	}
}

static void print_devices(const struct kf_facts *f, FILE *out)
{
	char b[32];
	fprintf(out, "nics      %zu\n", f->nnics);
	for (size_t i = 0; i < f->nnics; i++)
		print_nic(&f->nics[i], out);
	fprintf(out, "disks     %zu\n", f->ndisks);
	for (size_t i = 0; i < f->ndisks; i++) {
		const struct kf_f_disk *d = &f->disks[i];
		fprintf(out, "  %-9s %s, %s, model %s, serial %s\n", d->name, kf_facts_size(d->size, b, sizeof(b)),
			d->rotational < 0 ? "-" : d->rotational ? "rotational" : "non-rotational", s_or(d->model),
			s_or(d->serial));
	}
	fprintf(out, "iommu     %s, %zu group%s\n", f->iommu.enabled ? "on" : "off", f->iommu.ngroups,
		f->iommu.ngroups == 1 ? "" : "s");
	for (size_t i = 0; i < f->iommu.ngroups; i++) {
		fprintf(out, "  group %d", f->iommu.groups[i].id);
		for (size_t k = 0; k < f->iommu.groups[i].ndevices; k++)
			fprintf(out, " %s", f->iommu.groups[i].devices[k]);
		fputc('\n', out);
	}
	fprintf(out, "dmi       %s %s, serial %s, uuid %s\n", s_or(f->dmi.vendor), s_or(f->dmi.product),
		s_or(f->dmi.serial), s_or(f->dmi.uuid));
	fprintf(out, "firmware  %s, bios %s %s\n", s_or(f->dmi.boot), s_or(f->dmi.bios_vendor), s_or(f->dmi.bios_version));
}

static void print_guests(const struct kf_facts *f, FILE *out)
{
	char b[32];
	if (!f->guests_source) {
		fputs("guests    not looked at\n", out);
		return;
	}
	fprintf(out, "guests    %zu running (%s)\n", f->nguests, f->guests_source);
	for (size_t i = 0; i < f->nguests; i++) {
		const struct kf_f_guest *g = &f->guests[i];
		fprintf(out, "  %s  pid %s\n", g->name, num_or(g->pid, b, sizeof(b)));
		for (size_t k = 0; k < g->nvcpus; k++)
			fprintf(out, "    vcpu %d  cpu %s  affinity %s\n", g->vcpus[k].vcpu,
				num_or(g->vcpus[k].cpu, b, sizeof(b)), s_or(g->vcpus[k].affinity));
		fputs("    memory", out);
		for (size_t k = 0; k < g->nmem; k++)
			fprintf(out, " node%d %s", g->mem[k].node, kf_facts_size(g->mem[k].bytes, b, sizeof(b)));
		fputs(g->nmem ? "\n" : " -\n", out);
	}
}

void kf_facts_print(const struct kf_facts *f, FILE *out)
{
	print_cpu_mem(f, out);
	print_devices(f, out);
	print_guests(f, out);
	for (size_t i = 0; i < f->nnotes; i++)
		fprintf(out, "note      %s\n", f->notes[i]);
}
