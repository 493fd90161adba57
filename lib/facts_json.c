/* Host facts as JSON (lib/facts.h, docs/facts.md): the encoder the agent
 * prints and posts, and the strict decoder the provisioner reads posted
 * documents with (bounded size, depth and item count; every field of the
 * wrong type refused, naming it), both through lib/json.h. */
#include "facts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

/* ---- encoding ---- */

static struct kf_json *jstr(const char *s)
{
	return s ? kf_json_str(s) : NULL;
}

static struct kf_json *jnum(long long v)
{
	return v < 0 ? NULL : kf_json_int(v);
}

static struct kf_json *jbool(int v)
{
	return v < 0 ? NULL : kf_json_bool(v);
}

static void put(struct kf_json *o, const char *k, struct kf_json *v)
{
	kf_json_set(o, k, v);
}

static struct kf_json *hp_json(const struct kf_f_hp *hp, size_t n)
{
	struct kf_json *a = kf_json_array();
	for (size_t i = 0; i < n; i++) {
		struct kf_json *o = kf_json_object();
		put(o, "size", jnum(hp[i].size));
		put(o, "total", jnum(hp[i].total));
		put(o, "free", jnum(hp[i].free));
		kf_json_push(a, o);
	}
	return a;
}

static struct kf_json *cpu_json(const struct kf_facts *f)
{
	struct kf_json *o = kf_json_object();
	put(o, "vendor", jstr(f->cpu.vendor));
	put(o, "model", jstr(f->cpu.model));
	put(o, "sockets", jnum(f->cpu.sockets));
	put(o, "cores", jnum(f->cpu.cores));
	put(o, "threads", jnum(f->cpu.threads));
	put(o, "online", jstr(f->cpu.online));
	put(o, "virt", jstr(f->cpu.virt));
	put(o, "kvm_module", jstr(f->cpu.kvm_module));
	put(o, "nested", jbool(f->cpu.nested));
	return o;
}

static struct kf_json *numa_json(const struct kf_facts *f)
{
	struct kf_json *o = kf_json_object(), *a = kf_json_array();
	put(o, "source", jstr(f->numa_source));
	for (size_t i = 0; i < f->nnodes; i++) {
		const struct kf_f_node *n = &f->nodes[i];
		struct kf_json *no = kf_json_object(), *d = kf_json_array();
		put(no, "id", kf_json_int(n->id));
		put(no, "cpus", jstr(n->cpus));
		put(no, "memory", jnum(n->mem_total));
		put(no, "free", jnum(n->mem_free));
		for (size_t k = 0; k < n->ndistances; k++)
			kf_json_push(d, kf_json_int(n->distances[k]));
		put(no, "distances", d);
		put(no, "hugepages", hp_json(n->hp, n->nhp));
		kf_json_push(a, no);
	}
	put(o, "nodes", a);
	return o;
}

static struct kf_json *mem_json(const struct kf_facts *f)
{
	struct kf_json *o = kf_json_object(), *t = kf_json_object(), *k = kf_json_object();
	put(o, "total", jnum(f->mem_total));
	put(o, "hugepages", hp_json(f->hp, f->nhp));
	put(t, "enabled", jstr(f->thp.enabled));
	put(t, "defrag", jstr(f->thp.defrag));
	put(o, "thp", t);
	put(k, "run", jnum(f->ksm.run));
	put(k, "pages_shared", jnum(f->ksm.pages_shared));
	put(k, "pages_sharing", jnum(f->ksm.pages_sharing));
	put(k, "pages_unshared", jnum(f->ksm.pages_unshared));
	put(k, "full_scans", jnum(f->ksm.full_scans));
	put(k, "page_size", jnum(f->ksm.page_size));
	put(k, "saved", jnum(f->ksm.saved));
	put(k, "merge_across_nodes", jbool(f->ksm.merge_across_nodes));
	put(o, "ksm", k);
	return o;
}

static struct kf_json *irq_json(const struct kf_f_irq *q)
{
	struct kf_json *o = kf_json_object(), *c = kf_json_array();
	put(o, "irq", kf_json_int(q->irq));
	put(o, "name", jstr(q->name));
	put(o, "affinity", jstr(q->affinity));
	for (size_t k = 0; k < q->ncounts; k++)
		kf_json_push(c, kf_json_int(q->counts[k]));
	put(o, "per_cpu", c);
	return o;
}

static struct kf_json *nic_json(const struct kf_f_nic *n)
{
	struct kf_json *o = kf_json_object(), *q = kf_json_array();
	put(o, "name", jstr(n->name));
	put(o, "mac", jstr(n->mac));
	put(o, "driver", jstr(n->driver));
	put(o, "pci", jstr(n->pci));
	put(o, "operstate", jstr(n->operstate));
	put(o, "speed", jnum(n->speed));
	put(o, "link", jbool(n->link));
	put(o, "rx_queues", kf_json_int(n->rx_queues));
	put(o, "tx_queues", kf_json_int(n->tx_queues));
	put(o, "combined", jnum(n->combined));
	put(o, "max_combined", jnum(n->max_combined));
	put(o, "sriov_totalvfs", jnum(n->sriov_total));
	put(o, "sriov_numvfs", jnum(n->sriov_num));
	for (size_t i = 0; i < n->nirqs; i++)
		kf_json_push(q, irq_json(&n->irqs[i]));
	put(o, "irqs", q);
	return o;
}

static struct kf_json *devices_json(const struct kf_facts *f, struct kf_json *top)
{
	struct kf_json *a = kf_json_array();
	for (size_t i = 0; i < f->nnics; i++)
		kf_json_push(a, nic_json(&f->nics[i]));
	put(top, "nics", a);
	a = kf_json_array();
	for (size_t i = 0; i < f->ndisks; i++) {
		struct kf_json *o = kf_json_object();
		put(o, "name", jstr(f->disks[i].name));
		put(o, "size", jnum(f->disks[i].size));
		put(o, "rotational", jbool(f->disks[i].rotational));
		put(o, "model", jstr(f->disks[i].model));
		put(o, "serial", jstr(f->disks[i].serial));
		kf_json_push(a, o);
	}
	put(top, "disks", a);
	struct kf_json *io = kf_json_object();
	a = kf_json_array();
	put(io, "enabled", kf_json_bool(f->iommu.enabled));
	for (size_t i = 0; i < f->iommu.ngroups; i++) {
		struct kf_json *g = kf_json_object(), *d = kf_json_array();
		put(g, "id", kf_json_int(f->iommu.groups[i].id));
		for (size_t k = 0; k < f->iommu.groups[i].ndevices; k++)
			kf_json_push(d, kf_json_str(f->iommu.groups[i].devices[k]));
		put(g, "devices", d);
		kf_json_push(a, g);
	}
	put(io, "groups", a);
	put(top, "iommu", io);
	struct kf_json *dmi = kf_json_object();
	put(dmi, "vendor", jstr(f->dmi.vendor));
	put(dmi, "product", jstr(f->dmi.product));
	put(dmi, "serial", jstr(f->dmi.serial));
	put(dmi, "uuid", jstr(f->dmi.uuid));
	put(dmi, "bios_vendor", jstr(f->dmi.bios_vendor));
	put(dmi, "bios_version", jstr(f->dmi.bios_version));
	put(dmi, "boot", jstr(f->dmi.boot));
	put(top, "dmi", dmi);
	return top;
}

static struct kf_json *guest_json(const struct kf_f_guest *g)
{
	struct kf_json *o = kf_json_object(), *v = kf_json_array(), *m = kf_json_array();
	put(o, "name", jstr(g->name));
	put(o, "pid", jnum(g->pid));
	for (size_t i = 0; i < g->nvcpus; i++) {
		struct kf_json *c = kf_json_object();
		put(c, "vcpu", kf_json_int(g->vcpus[i].vcpu));
		put(c, "cpu", jnum(g->vcpus[i].cpu));
		put(c, "affinity", jstr(g->vcpus[i].affinity));
		kf_json_push(v, c);
	}
	put(o, "vcpus", v);
	for (size_t i = 0; i < g->nmem; i++) {
		struct kf_json *c = kf_json_object();
		put(c, "node", kf_json_int(g->mem[i].node));
		put(c, "bytes", kf_json_int(g->mem[i].bytes));
		kf_json_push(m, c);
	}
	put(o, "memory", m);
	return o;
}

char *kf_facts_json(const struct kf_facts *f, bool pretty)
{
	struct kf_json *o = kf_json_object();
	put(o, "schema", kf_json_int(f->schema));
	put(o, "hostname", jstr(f->hostname));
	put(o, "kernel", jstr(f->kernel));
	put(o, "cpu", cpu_json(f));
	put(o, "numa", numa_json(f));
	put(o, "memory", mem_json(f));
	devices_json(f, o);
	struct kf_json *g = kf_json_object(), *a = kf_json_array();
	put(g, "source", jstr(f->guests_source));
	for (size_t i = 0; i < f->nguests; i++)
		kf_json_push(a, guest_json(&f->guests[i]));
	put(g, "running", a);
	put(o, "guests", g);
	a = kf_json_array();
	for (size_t i = 0; i < f->nnotes; i++)
		kf_json_push(a, kf_json_str(f->notes[i]));
	put(o, "notes", a);
	char *s = kf_json_dump(o, pretty ? KF_JSON_PRETTY : KF_JSON_PLAIN);
	kf_json_free(o);
	return s;
}

/* ---- decoding ---- */

#define MAX_STR 4096
#define STR_(x) #x
#define STR(x) STR_(x)
#define SCHEMA_STR STR(KF_FACTS_SCHEMA)

struct dec {
	struct kf_err *e;
	int r;
	size_t items;
	char path[128];
};

static int bad_code(struct dec *d, int code, const char *key, const char *why)
{
	if (!d->r)
		d->r = kf_errc(d->e, code, NULL, "facts: %s%s%s: %s", d->path, *d->path ? "." : "", key, why);
	return d->r;
}

static int bad(struct dec *d, const char *key, const char *why)
{
	return bad_code(d, -EINVAL, key, why);
}

/* The member key of o when it has the type t; NULL when absent or null
 * (and on a wrong type, which is an error). */
static const struct kf_json *get(struct dec *d, const struct kf_json *o, const char *key, enum kf_json_type t)
{
	const struct kf_json *v = kf_json_member(o, key);
	if (!v || kf_json_type(v) == KF_JSON_NULL)
		return NULL;
	if (kf_json_type(v) != t) {
		bad(d, key, t == KF_JSON_INT ? "expected an integer"
			  : t == KF_JSON_STRING ? "expected a string"
			  : t == KF_JSON_BOOL ? "expected true or false"
			  : t == KF_JSON_ARRAY ? "expected an array"
					       : "expected an object");
		return NULL;
	}
	return v;
}

static char *dstr(struct dec *d, const struct kf_json *o, const char *key)
{
	const struct kf_json *v = get(d, o, key, KF_JSON_STRING);
	if (!v)
		return NULL;
	size_t n = 0;
	const char *s = kf_json_str_of(v, &n);
	if (n > MAX_STR || memchr(s, 0, n)) {
		bad(d, key, n > MAX_STR ? "string too long" : "string holds a NUL byte");
		return NULL;
	}
	return kf_xstrdup(s);
}

static long long dnum(struct dec *d, const struct kf_json *o, const char *key)
{
	const struct kf_json *v = get(d, o, key, KF_JSON_INT);
	if (!v)
		return -1;
	int64_t x = kf_json_int_of(v);
	if (x < 0) {
		bad(d, key, "expected a number >= 0");
		return -1;
	}
	return x;
}

static int dbool(struct dec *d, const struct kf_json *o, const char *key)
{
	const struct kf_json *v = get(d, o, key, KF_JSON_BOOL);
	return v ? kf_json_bool_of(v) : -1;
}

/* The array at key (its length in *n), counted against the item bound. */
static const struct kf_json *darr(struct dec *d, const struct kf_json *o, const char *key, size_t *n)
{
	const struct kf_json *a = get(d, o, key, KF_JSON_ARRAY);
	*n = kf_json_len(a);
	d->items += *n;
	if (d->items > KF_FACTS_MAX_ITEMS) {
		bad_code(d, -E2BIG, key, "too many items");
		*n = 0;
		return NULL;
	}
	return a;
}

/* Element i of a, which must be an object; names it "key[i]" in d->path
 * while the caller decodes it (restored by leave). */
static const struct kf_json *enter(struct dec *d, const struct kf_json *a, size_t i, const char *key, size_t *saved)
{
	const struct kf_json *o = kf_json_at(a, i);
	*saved = strlen(d->path);
	char idx[48];
	snprintf(idx, sizeof(idx), "%s%s[%zu]", *saved ? "." : "", key, i);
	snprintf(d->path + *saved, sizeof(d->path) - *saved, "%s", idx);
	if (kf_json_type(o) != KF_JSON_OBJECT) {
		d->path[*saved] = 0;
		snprintf(idx, sizeof(idx), "%s[%zu]", key, i);
		bad(d, idx, "expected an object");
		return NULL;
	}
	return o;
}

static void leave(struct dec *d, size_t saved)
{
	d->path[saved] = 0;
}

static struct kf_f_hp *dhp(struct dec *d, const struct kf_json *o, size_t *n)
{
	const struct kf_json *a = darr(d, o, "hugepages", n);
	struct kf_f_hp *v = *n ? kf_xcalloc(*n, sizeof(*v)) : NULL;
	for (size_t i = 0; i < *n && !d->r; i++) {
		size_t s;
		const struct kf_json *h = enter(d, a, i, "hugepages", &s);
		v[i] = (struct kf_f_hp){ dnum(d, h, "size"), dnum(d, h, "total"), dnum(d, h, "free") };
		leave(d, s);
	}
	return v;
}

static int dint(struct dec *d, const struct kf_json *o, const char *key)
{
	long long v = dnum(d, o, key);
	if (v > 1 << 30)
		bad(d, key, "number too large");
	return (int)v;
}

static void dec_cpu(struct dec *d, const struct kf_json *top, struct kf_facts *f)
{
	const struct kf_json *o = get(d, top, "cpu", KF_JSON_OBJECT);
	snprintf(d->path, sizeof(d->path), "cpu");
	f->cpu.vendor = dstr(d, o, "vendor");
	f->cpu.model = dstr(d, o, "model");
	f->cpu.sockets = dint(d, o, "sockets");
	f->cpu.cores = dint(d, o, "cores");
	f->cpu.threads = dint(d, o, "threads");
	f->cpu.online = dstr(d, o, "online");
	f->cpu.virt = dstr(d, o, "virt");
	f->cpu.kvm_module = dstr(d, o, "kvm_module");
	f->cpu.nested = dbool(d, o, "nested");
	d->path[0] = 0;
}

static void dec_node(struct dec *d, const struct kf_json *o, struct kf_f_node *n)
{
	n->id = dint(d, o, "id");
	n->cpus = dstr(d, o, "cpus");
	n->mem_total = dnum(d, o, "memory");
	n->mem_free = dnum(d, o, "free");
	const struct kf_json *a = darr(d, o, "distances", &n->ndistances);
	n->distances = n->ndistances ? kf_xcalloc(n->ndistances, sizeof(int)) : NULL;
	for (size_t k = 0; k < n->ndistances && !d->r; k++) {
		const struct kf_json *v = kf_json_at(a, k);
		if (kf_json_type(v) != KF_JSON_INT || kf_json_int_of(v) < 0 ||
		    kf_json_int_of(v) > 255)
			bad(d, "distances", "expected numbers 0-255");
		n->distances[k] = (int)kf_json_int_of(v);
	}
	n->hp = dhp(d, o, &n->nhp);
}

static void dec_numa_mem(struct dec *d, const struct kf_json *top, struct kf_facts *f)
{
	const struct kf_json *o = get(d, top, "numa", KF_JSON_OBJECT);
	snprintf(d->path, sizeof(d->path), "numa");
	f->numa_source = dstr(d, o, "source");
	const struct kf_json *a = darr(d, o, "nodes", &f->nnodes);
	f->nodes = f->nnodes ? kf_xcalloc(f->nnodes, sizeof(*f->nodes)) : NULL;
	for (size_t i = 0; i < f->nnodes && !d->r; i++) {
		size_t s;
		const struct kf_json *no = enter(d, a, i, "nodes", &s);
		if (no)
			dec_node(d, no, &f->nodes[i]);
		leave(d, s);
	}
	o = get(d, top, "memory", KF_JSON_OBJECT);
	snprintf(d->path, sizeof(d->path), "memory");
	f->mem_total = dnum(d, o, "total");
	f->hp = dhp(d, o, &f->nhp);
	const struct kf_json *t = get(d, o, "thp", KF_JSON_OBJECT);
	f->thp.enabled = dstr(d, t, "enabled");
	f->thp.defrag = dstr(d, t, "defrag");
	const struct kf_json *k = get(d, o, "ksm", KF_JSON_OBJECT);
	f->ksm.run = dint(d, k, "run");
	f->ksm.pages_shared = dnum(d, k, "pages_shared");
	f->ksm.pages_sharing = dnum(d, k, "pages_sharing");
	f->ksm.pages_unshared = dnum(d, k, "pages_unshared");
	f->ksm.full_scans = dnum(d, k, "full_scans");
	f->ksm.page_size = dnum(d, k, "page_size");
	f->ksm.saved = dnum(d, k, "saved");
	f->ksm.merge_across_nodes = dbool(d, k, "merge_across_nodes");
	d->path[0] = 0;
}

static void dec_irqs(struct dec *d, const struct kf_json *o, struct kf_f_nic *n)
{
	const struct kf_json *a = darr(d, o, "irqs", &n->nirqs);
	n->irqs = n->nirqs ? kf_xcalloc(n->nirqs, sizeof(*n->irqs)) : NULL;
	for (size_t i = 0; i < n->nirqs && !d->r; i++) {
		size_t s;
		const struct kf_json *q = enter(d, a, i, "irqs", &s);
		struct kf_f_irq *x = &n->irqs[i];
		x->irq = dint(d, q, "irq");
		x->name = dstr(d, q, "name");
		x->affinity = dstr(d, q, "affinity");
		const struct kf_json *c = darr(d, q, "per_cpu", &x->ncounts);
		x->counts = x->ncounts ? kf_xcalloc(x->ncounts, sizeof(long long)) : NULL;
		for (size_t k = 0; k < x->ncounts && !d->r; k++) {
			const struct kf_json *v = kf_json_at(c, k);
			if (kf_json_type(v) != KF_JSON_INT)
				bad(d, "per_cpu", "expected numbers");
			x->counts[k] = kf_json_int_of(v);
		}
		leave(d, s);
	}
}

static void dec_nic(struct dec *d, const struct kf_json *o, struct kf_f_nic *n)
{
	n->name = dstr(d, o, "name");
	n->mac = dstr(d, o, "mac");
	n->driver = dstr(d, o, "driver");
	n->pci = dstr(d, o, "pci");
	n->operstate = dstr(d, o, "operstate");
	n->speed = dnum(d, o, "speed");
	n->link = dbool(d, o, "link");
	n->rx_queues = dint(d, o, "rx_queues");
	n->tx_queues = dint(d, o, "tx_queues");
	n->combined = dnum(d, o, "combined");
	n->max_combined = dnum(d, o, "max_combined");
	n->sriov_total = dint(d, o, "sriov_totalvfs");
	n->sriov_num = dint(d, o, "sriov_numvfs");
	if (!n->name && !d->r)
		bad(d, "name", "missing");
	dec_irqs(d, o, n);
}

static void dec_iommu(struct dec *d, const struct kf_json *top, struct kf_facts *f)
{
	const struct kf_json *o = get(d, top, "iommu", KF_JSON_OBJECT);
	snprintf(d->path, sizeof(d->path), "iommu");
	f->iommu.enabled = dbool(d, o, "enabled") == 1;
	const struct kf_json *a = darr(d, o, "groups", &f->iommu.ngroups);
	f->iommu.groups = f->iommu.ngroups ? kf_xcalloc(f->iommu.ngroups, sizeof(*f->iommu.groups)) : NULL;
	for (size_t i = 0; i < f->iommu.ngroups && !d->r; i++) {
		size_t s;
		const struct kf_json *g = enter(d, a, i, "groups", &s);
		struct kf_f_group *x = &f->iommu.groups[i];
		x->id = dint(d, g, "id");
		const struct kf_json *dv = darr(d, g, "devices", &x->ndevices);
		x->devices = x->ndevices ? kf_xcalloc(x->ndevices, sizeof(char *)) : NULL;
		for (size_t k = 0; k < x->ndevices && !d->r; k++) {
			const struct kf_json *v = kf_json_at(dv, k);
			if (kf_json_type(v) != KF_JSON_STRING || strlen(kf_json_str_of(v, NULL)) > 64)
				bad(d, "devices", "expected PCI addresses");
			else
				x->devices[k] = kf_xstrdup(kf_json_str_of(v, NULL));
		}
		leave(d, s);
	}
	d->path[0] = 0;
}

static void dec_devices(struct dec *d, const struct kf_json *top, struct kf_facts *f)
{
	const struct kf_json *a = darr(d, top, "nics", &f->nnics);
	f->nics = f->nnics ? kf_xcalloc(f->nnics, sizeof(*f->nics)) : NULL;
	for (size_t i = 0; i < f->nnics && !d->r; i++) {
		size_t s;
		const struct kf_json *o = enter(d, a, i, "nics", &s);
		if (o)
			dec_nic(d, o, &f->nics[i]);
		leave(d, s);
	}
	a = darr(d, top, "disks", &f->ndisks);
	f->disks = f->ndisks ? kf_xcalloc(f->ndisks, sizeof(*f->disks)) : NULL;
	for (size_t i = 0; i < f->ndisks && !d->r; i++) {
		size_t s;
		const struct kf_json *o = enter(d, a, i, "disks", &s);
		struct kf_f_disk *x = &f->disks[i];
		x->name = dstr(d, o, "name");
		x->size = dnum(d, o, "size");
		x->rotational = dbool(d, o, "rotational");
		x->model = dstr(d, o, "model");
		x->serial = dstr(d, o, "serial");
		leave(d, s);
	}
	dec_iommu(d, top, f);
	const struct kf_json *o = get(d, top, "dmi", KF_JSON_OBJECT);
	snprintf(d->path, sizeof(d->path), "dmi");
	f->dmi.vendor = dstr(d, o, "vendor");
	f->dmi.product = dstr(d, o, "product");
	f->dmi.serial = dstr(d, o, "serial");
	f->dmi.uuid = dstr(d, o, "uuid");
	f->dmi.bios_vendor = dstr(d, o, "bios_vendor");
	f->dmi.bios_version = dstr(d, o, "bios_version");
	f->dmi.boot = dstr(d, o, "boot");
	d->path[0] = 0;
}

static void dec_guest(struct dec *d, const struct kf_json *o, struct kf_f_guest *g)
{
	g->name = dstr(d, o, "name");
	g->pid = dnum(d, o, "pid");
	const struct kf_json *a = darr(d, o, "vcpus", &g->nvcpus);
	g->vcpus = g->nvcpus ? kf_xcalloc(g->nvcpus, sizeof(*g->vcpus)) : NULL;
	for (size_t i = 0; i < g->nvcpus && !d->r; i++) {
		size_t s;
		const struct kf_json *c = enter(d, a, i, "vcpus", &s);
		g->vcpus[i].vcpu = dint(d, c, "vcpu");
		g->vcpus[i].cpu = dint(d, c, "cpu");
		g->vcpus[i].affinity = dstr(d, c, "affinity");
		leave(d, s);
	}
	a = darr(d, o, "memory", &g->nmem);
	g->mem = g->nmem ? kf_xcalloc(g->nmem, sizeof(*g->mem)) : NULL;
	for (size_t i = 0; i < g->nmem && !d->r; i++) {
		size_t s;
		const struct kf_json *c = enter(d, a, i, "memory", &s);
		g->mem[i].node = dint(d, c, "node");
		g->mem[i].bytes = dnum(d, c, "bytes");
		leave(d, s);
	}
}

static void dec_rest(struct dec *d, const struct kf_json *top, struct kf_facts *f)
{
	const struct kf_json *o = get(d, top, "guests", KF_JSON_OBJECT);
	snprintf(d->path, sizeof(d->path), "guests");
	f->guests_source = dstr(d, o, "source");
	const struct kf_json *a = darr(d, o, "running", &f->nguests);
	f->guests = f->nguests ? kf_xcalloc(f->nguests, sizeof(*f->guests)) : NULL;
	for (size_t i = 0; i < f->nguests && !d->r; i++) {
		size_t s;
		const struct kf_json *g = enter(d, a, i, "running", &s);
		if (g)
			dec_guest(d, g, &f->guests[i]);
		leave(d, s);
	}
	d->path[0] = 0;
	a = darr(d, top, "notes", &f->nnotes);
	f->notes = f->nnotes ? kf_xcalloc(f->nnotes, sizeof(char *)) : NULL;
	for (size_t i = 0; i < f->nnotes && !d->r; i++) {
		const struct kf_json *v = kf_json_at(a, i);
		if (kf_json_type(v) != KF_JSON_STRING || strlen(kf_json_str_of(v, NULL)) > MAX_STR)
			bad(d, "notes", "expected strings");
		else
			f->notes[i] = kf_xstrdup(kf_json_str_of(v, NULL));
	}
}

static int parse_doc(const char *json, size_t len, struct kf_json **out, struct kf_err *e)
{
	*out = NULL;
	if (len > KF_FACTS_MAX_BYTES)
		return kf_errc(e, -E2BIG, NULL, "facts: document of %zu bytes (at most %d)", len, KF_FACTS_MAX_BYTES);
	struct kf_err pe = KF_ERR_INIT;
	int r = kf_json_parse_object_bounded(json, len, KF_FACTS_MAX_DEPTH, out, &pe);
	if (r == 0 && !*out)
		r = kf_errf(&pe, NULL, "empty document");
	if (r < 0) {
		char buf[256];
		kf_errc(e, r, NULL, "facts: %s", kf_err_format(&pe, 0, buf, sizeof(buf)));
	}
	kf_err_release(&pe);
	return r;
}

int kf_facts_from_json(struct kf_facts *f, const char *json, size_t len, struct kf_err *e)
{
	kf_facts_init(f);
	struct kf_json *top = NULL;
	int r = parse_doc(json, len, &top, e);
	if (r < 0)
		return r;
	struct dec d = { .e = e };
	const struct kf_json *v = get(&d, top, "schema", KF_JSON_INT);
	if (!d.r && (!v || kf_json_int_of(v) != KF_FACTS_SCHEMA))
		bad(&d, "schema", "expected " SCHEMA_STR);
	f->hostname = dstr(&d, top, "hostname");
	f->kernel = dstr(&d, top, "kernel");
	dec_cpu(&d, top, f);
	dec_numa_mem(&d, top, f);
	dec_devices(&d, top, f);
	dec_rest(&d, top, f);
	kf_json_free(top);
	if (d.r) {
		kf_facts_release(f);
		return d.r == -E2BIG ? -E2BIG : -EINVAL;
	}
	return 0;
}
