/* A profile against a host's facts: what it asks that the host cannot give
 * (lib/facts.h, kf_facts_check). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "facts.h"
#include "profile.h"
#include "types.h"
#include "util.h"

struct fc {
	const struct kf_facts *f;
	const char *host; /* "host kvm01: " or "" */
	struct kf_err *w;
	struct kf_bitmap cpus; /* the CPUs the host has */
	bool cpus_known;
};

static void warn(struct fc *c, const struct kf_mark *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void warn(struct fc *c, const struct kf_mark *m, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kf_errf(c->w, m, "warning: %s%s", c->host, msg);
}

static const char *sz(long long v, char *buf, size_t len)
{
	return kf_size_fmt((uint64_t)v, buf, len);
}

/* The host's CPUs: its nodes' lists, the online list, else 0..threads-1. */
static void host_cpus(struct fc *c)
{
	const struct kf_facts *f = c->f;
	struct kf_bitmap b;
	memset(&c->cpus, 0, sizeof(c->cpus));
	for (size_t i = 0; i < f->nnodes; i++)
		if (f->nodes[i].cpus && kf_cpulist_parse(f->nodes[i].cpus, &b) == 0) {
			for (int k = 0; k <= kf_bitmap_last(&b); k++)
				if (kf_bitmap_test(&b, (unsigned)k))
					kf_bitmap_set(&c->cpus, (unsigned)k);
			c->cpus_known = true;
		}
	if (f->cpu.online && kf_cpulist_parse(f->cpu.online, &b) == 0) {
		for (int k = 0; k <= kf_bitmap_last(&b); k++)
			if (kf_bitmap_test(&b, (unsigned)k))
				kf_bitmap_set(&c->cpus, (unsigned)k);
		c->cpus_known = true;
	}
	for (int k = 0; !c->cpus_known && k < f->cpu.threads; k++)
		kf_bitmap_set(&c->cpus, (unsigned)k);
	c->cpus_known = c->cpus_known || f->cpu.threads > 0;
}

/* A cpulist of the profile naming CPUs the host does not have. */
static void cpus(struct fc *c, const struct kf_mark *m, const char *what, const char *list)
{
	struct kf_bitmap b, bad = { 0 };
	char l1[256], l2[256];
	if (!list || !c->cpus_known || kf_cpulist_parse(list, &b) < 0)
		return;
	for (int k = 0; k <= kf_bitmap_last(&b); k++)
		if (kf_bitmap_test(&b, (unsigned)k) && !kf_bitmap_test(&c->cpus, (unsigned)k))
			kf_bitmap_set(&bad, (unsigned)k);
	if (kf_bitmap_count(&bad))
		warn(c, m, "%s: CPU %s does not exist (the host has CPUs %s)", what,
		     kf_cpulist_fmt(&bad, l1, sizeof(l1)), kf_cpulist_fmt(&c->cpus, l2, sizeof(l2)));
}

/* A NIC of the profile (name or MAC) the host does not have; NULL then. */
static const struct kf_f_nic *nic(struct fc *c, const void *obj, const char *key, const char *what,
				  const char *ref)
{
	if (!ref)
		return NULL;
	const struct kf_f_nic *n = kf_facts_nic(c->f, ref);
	if (!n) {
		struct kf_buf have = KF_BUF_INIT;
		for (size_t i = 0; i < c->f->nnics; i++)
			kf_buf_printf(&have, "%s%s", i ? ", " : "", c->f->nics[i].name);
		warn(c, kf_mark_of(obj, key), "%s: NIC %s is not there (the host has %s)", what, ref,
		     have.s ? have.s : "none");
		kf_buf_release(&have);
	}
	return n;
}

static void hugepages(struct fc *c, const struct kf_p_hugepages *h)
{
	const struct kf_facts *f = c->f;
	char a[32], b[32], s[32];
	bool have = !f->nhp;
	for (size_t i = 0; i < f->nhp; i++)
		have = have || f->hp[i].size == h->size;
	if (!have)
		warn(c, kf_mark_of(h, "size"), "hugepages: the host has no %s pages", sz(h->size, s, sizeof(s)));
	if (h->count != KF_UNSET && f->mem_total > 0 && h->count * h->size > f->mem_total)
		warn(c, kf_mark_of(h, "count"), "hugepages: %lld %s pages are %s, the host has %s", h->count,
		     sz(h->size, s, sizeof(s)), sz(h->count * h->size, a, sizeof(a)), sz(f->mem_total, b, sizeof(b)));
	for (size_t j = 0; j < h->per_node.n; j++) {
		const struct kf_p_nodecount *nc = KF_LIST_AT(h->per_node, struct kf_p_nodecount, j);
		const struct kf_f_node *n = kf_facts_node(f, (int)nc->nid);
		if (!n && f->nnodes) {
			struct kf_bitmap ids = { 0 };
			for (size_t i = 0; i < f->nnodes; i++)
				kf_bitmap_set(&ids, (unsigned)f->nodes[i].id);
			warn(c, &nc->node->mark, "hugepages: node %lld does not exist (the host has nodes %s)", nc->nid,
			     kf_cpulist_fmt(&ids, a, sizeof(a)));
		}
		else if (n && n->mem_total > 0 && nc->count * h->size > n->mem_total)
			warn(c, &nc->node->mark, "hugepages: %lld %s pages on node %d are %s, the node has %s",
			     nc->count, sz(h->size, s, sizeof(s)), n->id, sz(nc->count * h->size, a, sizeof(a)),
			     sz(n->mem_total, b, sizeof(b)));
	}
}

static void cpu_section(struct fc *c, const struct kf_p_cpu *p)
{
	cpus(c, kf_mark_of(p, "online"), "cpu.online", p->online);
	if (p->irqbalance)
		cpus(c, kf_mark_of(p->irqbalance, "banned_cpus"), "irqbalance", p->irqbalance->banned_cpus);
	for (size_t i = 0; i < p->irq_affinity.n; i++) {
		const struct kf_p_irqaff *a = KF_LIST_AT(p->irq_affinity, struct kf_p_irqaff, i);
		nic(c, a, "device", "irq_affinity", a->device);
		cpus(c, kf_mark_of(a, "cpus"), "irq_affinity", a->cpus);
	}
}

static void network(struct fc *c, const struct kf_p_network *p)
{
	for (size_t i = 0; i < p->queues.n; i++) {
		const struct kf_p_queue *q = KF_LIST_AT(p->queues, struct kf_p_queue, i);
		nic(c, q, "device", "queues", q->device);
		cpus(c, kf_mark_of(q, "rps_cpus"), "queues", q->rps_cpus);
		cpus(c, kf_mark_of(q, "xps_cpus"), "queues", q->xps_cpus);
	}
	for (size_t i = 0; i < p->sriov.n; i++) {
		const struct kf_p_sriov *s = KF_LIST_AT(p->sriov, struct kf_p_sriov, i);
		const struct kf_f_nic *n = nic(c, s, "device", "sriov", s->device);
		if (!n || s->vfs == KF_UNSET)
			continue;
		if (n->sriov_total < 0)
			warn(c, kf_mark_of(s, "vfs"), "sriov %s: the NIC has no SR-IOV", s->device);
		else if (s->vfs > n->sriov_total)
			warn(c, kf_mark_of(s, "vfs"), "sriov %s: %lld VFs, the NIC has at most %d (totalvfs)",
			     s->device, s->vfs, n->sriov_total);
	}
}

static void guest(struct fc *c, const struct kf_p_guest *g)
{
	char what[160];
	snprintf(what, sizeof(what), "guest %s", g->name);
	if (g->pinning) {
		for (size_t i = 0; i < g->pinning->vcpus.n; i++) {
			const struct kf_p_pin *pin = KF_LIST_AT(g->pinning->vcpus, struct kf_p_pin, i);
			cpus(c, &pin->node->mark, what, pin->cpus);
		}
		for (size_t i = 0; i < g->pinning->iothreads.n; i++) {
			const struct kf_p_pin *pin = KF_LIST_AT(g->pinning->iothreads, struct kf_p_pin, i);
			cpus(c, &pin->node->mark, what, pin->cpus);
		}
		cpus(c, kf_mark_of(g->pinning, "emulator"), what, g->pinning->emulator);
	}
	const char *pci = NULL;
	const void *obj = NULL;
	const char *key = NULL;
	for (size_t i = 0; i < g->interfaces.n; i++) {
		const struct kf_p_nic *n = KF_LIST_AT(g->interfaces, struct kf_p_nic, i);
		if (n->type == KF_NIC_DIRECT)
			nic(c, n, "source", what, n->source);
		if (n->type == KF_NIC_HOSTDEV && !pci)
			pci = n->source, obj = n, key = "source";
	}
	if (g->hostdevs.n && !pci) {
		const struct kf_p_hostdev *h = KF_LIST_AT(g->hostdevs, struct kf_p_hostdev, 0);
		pci = h->pci, obj = h, key = "pci";
	}
	if (pci && !c->f->iommu.enabled)
		warn(c, kf_mark_of(obj, key),
		     "%s: passthrough of %s needs an IOMMU, the host has none (firmware VT-d/AMD-Vi, "
		     "intel_iommu=on)", what, pci);
}

void kf_facts_check(const struct kf_profile *p, const struct kf_facts *f, const char *host, struct kf_err *w)
{
	char who[160] = "";
	if (host)
		snprintf(who, sizeof(who), "host %s: ", host);
	struct fc c = { .f = f, .host = who, .w = w };
	host_cpus(&c);
	if (p->memory)
		for (size_t i = 0; i < p->memory->hugepages.n; i++)
			hugepages(&c, KF_LIST_AT(p->memory->hugepages, struct kf_p_hugepages, i));
	if (p->cpu)
		cpu_section(&c, p->cpu);
	if (p->network)
		network(&c, p->network);
	for (size_t i = 0; i < p->guests.n; i++)
		guest(&c, KF_LIST_AT(p->guests, struct kf_p_guest, i));
}
