/* Facts about devices (agent/facts_int.h): NICs with their queues, SR-IOV
 * and IRQs (counts per CPU from /proc/interrupts), disks, IOMMU groups and
 * DMI, all from sysfs and /proc through the sysroot; ethtool channels on
 * the live host only. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/facts_int.h"
#include "agent/hostio.h"
#include "agent/netlink.h"
#include "types.h"
#include "util.h"

/* ---- /proc/interrupts ---- */

struct irqline {
	int irq;
	char *name;
	long long *counts;
};

struct irqtab {
	struct irqline *v;
	size_t n, ncpu;
};

static void parse_irqline(struct irqtab *t, char *line)
{
	char *end, *p = line;
	while (*p == ' ')
		p++;
	long irq = strtol(p, &end, 10);
	if (end == p || *end != ':')
		return;
	struct irqline l = { (int)irq, NULL, kf_xcalloc(t->ncpu ? t->ncpu : 1, sizeof(long long)) };
	p = end + 1;
	for (size_t c = 0; c < t->ncpu; c++) {
		l.counts[c] = strtoll(p, &end, 10);
		if (end == p)
			break;
		p = end;
	}
	kf_rstrip(p);
	char *last = strrchr(p, ' ');
	l.name = kf_xstrdup(last ? last + 1 : p);
	t->v = kf_xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
	t->v[t->n++] = l;
}

static void load_irqs(struct irqtab *t)
{
	memset(t, 0, sizeof(*t));
	char *text = NULL;
	if (kf_host_read("/proc/interrupts", &text) < 0)
		return;
	char *save = NULL;
	char *line = strtok_r(text, "\n", &save);
	for (const char *p = line; p && (p = strstr(p, "CPU")); p += 3)
		t->ncpu++;
	while ((line = strtok_r(NULL, "\n", &save)))
		parse_irqline(t, line);
	free(text);
}

static void free_irqs(struct irqtab *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].counts);
	}
	free(t->v);
}

static const struct irqline *irq_of(const struct irqtab *t, int irq)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].irq == irq)
			return &t->v[i];
	return NULL;
}

/* ---- NICs ---- */

static void nic_irqs(struct kf_f_nic *n, const struct irqtab *t)
{
	int irqs[256];
	size_t ni = 0;
	if (kf_nic_irqs(n->name, irqs, KF_ARRAY_SIZE(irqs), &ni) < 0)
		ni = 0;
	n->irqs = ni ? kf_xcalloc(ni, sizeof(*n->irqs)) : NULL;
	for (size_t i = 0; i < ni; i++) {
		struct kf_f_irq *q = &n->irqs[n->nirqs++];
		const struct irqline *l = irq_of(t, irqs[i]);
		q->irq = irqs[i];
		q->affinity = fx_str("/proc/irq/%d/smp_affinity_list", irqs[i]);
		if (l) {
			q->name = kf_xstrdup(l->name);
			q->ncounts = t->ncpu;
			q->counts = kf_xcalloc(t->ncpu ? t->ncpu : 1, sizeof(long long));
			memcpy(q->counts, l->counts, t->ncpu * sizeof(long long));
		}
	}
}

static int count_prefix(char **names, size_t n, const char *prefix)
{
	int c = 0;
	for (size_t i = 0; i < n; i++)
		c += !strncmp(names[i], prefix, strlen(prefix));
	return c;
}

static void probe_nic(struct kf_f_nic *n, const char *name, const struct irqtab *t)
{
	n->name = kf_xstrdup(name);
	n->mac = fx_str("/sys/class/net/%s/address", name);
	n->driver = fx_link_base("/sys/class/net/%s/device/driver", name);
	n->pci = kf_nic_pci(name, NULL);
	n->operstate = fx_str("/sys/class/net/%s/operstate", name);
	n->speed = fx_ll("/sys/class/net/%s/speed", name);
	long long carrier = fx_ll("/sys/class/net/%s/carrier", name);
	n->link = carrier < 0 ? -1 : carrier > 0;
	char **q = NULL;
	size_t nq = fx_list(&q, "/sys/class/net/%s/queues", name);
	n->rx_queues = count_prefix(q, nq, "rx-");
	n->tx_queues = count_prefix(q, nq, "tx-");
	fx_list_free(q, nq);
	n->combined = n->max_combined = -1;
	struct kf_eth_channels ch;
	if (kf_sysroot_is_host() && kf_eth_channels_get(name, &ch) == 0) {
		n->combined = ch.combined;
		n->max_combined = ch.max_combined;
	}
	n->sriov_total = (int)fx_ll("/sys/class/net/%s/device/sriov_totalvfs", name);
	n->sriov_num = n->sriov_total < 0 ? -1 : (int)fx_ll("/sys/class/net/%s/device/sriov_numvfs", name);
	nic_irqs(n, t);
}

static void probe_nics(struct kf_facts *f)
{
	char **names = NULL;
	size_t nn = fx_list(&names, "/sys/class/net");
	struct irqtab t;
	load_irqs(&t);
	f->nics = nn ? kf_xcalloc(nn, sizeof(*f->nics)) : NULL;
	for (size_t i = 0; i < nn; i++) {
		char *dev = kf_xasprintf("/sys/class/net/%s/device", names[i]);
		bool physical = kf_host_exists(dev);
		free(dev);
		if (physical) /* bridges, bonds, veths and lo have no device */
			probe_nic(&f->nics[f->nnics++], names[i], &t);
	}
	free_irqs(&t);
	fx_list_free(names, nn);
}

/* ---- disks ---- */

/* E:KEY=value of the device's udev database entry, malloc'd or NULL. */
static char *udev_prop(const char *devno, const char *key)
{
	char *text = NULL, *v = NULL;
	char *rel = kf_xasprintf("/run/udev/data/b%s", devno);
	if (devno && kf_host_read(rel, &text) == 0) {
		char *want = kf_xasprintf("E:%s=", key), *p = strstr(text, want);
		if (p && (p == text || p[-1] == '\n')) {
			p += strlen(want);
			v = kf_xasprintf("%.*s", (int)strcspn(p, "\n"), p);
		}
		free(want);
	}
	free(text);
	free(rel);
	return v;
}

static void probe_disk(struct kf_f_disk *d, const char *name)
{
	d->name = kf_xstrdup(name);
	long long sectors = fx_ll("/sys/block/%s/size", name);
	d->size = sectors < 0 ? -1 : sectors * 512;
	d->rotational = (int)fx_ll("/sys/block/%s/queue/rotational", name);
	char *devno = fx_str("/sys/block/%s/dev", name);
	d->model = fx_str("/sys/block/%s/device/model", name);
	if (!d->model)
		d->model = udev_prop(devno, "ID_MODEL");
	d->serial = fx_str("/sys/block/%s/device/serial", name);
	if (!d->serial)
		d->serial = fx_str("/sys/block/%s/serial", name);
	if (!d->serial)
		d->serial = udev_prop(devno, "ID_SERIAL_SHORT");
	free(devno);
}

static void probe_disks(struct kf_facts *f)
{
	char **names = NULL;
	size_t nn = fx_list(&names, "/sys/block");
	f->disks = nn ? kf_xcalloc(nn, sizeof(*f->disks)) : NULL;
	for (size_t i = 0; i < nn; i++) {
		char *dev = kf_xasprintf("/sys/block/%s/device", names[i]);
		bool physical = kf_host_exists(dev);
		free(dev);
		if (physical) /* loop, ram, zram, dm and md devices have no device */
			probe_disk(&f->disks[f->ndisks++], names[i]);
	}
	fx_list_free(names, nn);
}

/* ---- IOMMU, DMI ---- */

static void probe_iommu(struct kf_facts *f)
{
	char **names = NULL;
	size_t nn = fx_list(&names, "/sys/kernel/iommu_groups");
	f->iommu.groups = nn ? kf_xcalloc(nn, sizeof(*f->iommu.groups)) : NULL;
	for (size_t i = 0; i < nn; i++) {
		char *end;
		long id = strtol(names[i], &end, 10);
		if (*end || id < 0)
			continue;
		struct kf_f_group *g = &f->iommu.groups[f->iommu.ngroups++];
		g->id = (int)id;
		g->ndevices = fx_list(&g->devices, "/sys/kernel/iommu_groups/%s/devices", names[i]);
	}
	fx_list_free(names, nn);
	char **units = NULL;
	size_t nu = fx_list(&units, "/sys/class/iommu");
	fx_list_free(units, nu);
	f->iommu.enabled = nu > 0 || f->iommu.ngroups > 0;
}

static void probe_dmi(struct kf_facts *f)
{
	const char *d = "/sys/class/dmi/id";
	f->dmi.vendor = fx_str("%s/sys_vendor", d);
	f->dmi.product = fx_str("%s/product_name", d);
	f->dmi.serial = fx_str("%s/product_serial", d);
	f->dmi.uuid = fx_str("%s/product_uuid", d);
	f->dmi.bios_vendor = fx_str("%s/bios_vendor", d);
	f->dmi.bios_version = fx_str("%s/bios_version", d);
	f->dmi.boot = kf_xstrdup(kf_host_exists("/sys/firmware/efi") ? "uefi" : "bios");
}

/* What kf_facts_check reads of the devices: each physical NIC's name, MAC
 * and SR-IOV total, whether an IOMMU is on. */
void kf_facts_probe_check_devices(struct kf_facts *f)
{
	char **names = NULL;
	size_t nn = fx_list(&names, "/sys/class/net");
	f->nics = nn ? kf_xcalloc(nn, sizeof(*f->nics)) : NULL;
	for (size_t i = 0; i < nn; i++) {
		char *dev = kf_xasprintf("/sys/class/net/%s/device", names[i]);
		bool physical = kf_host_exists(dev);
		free(dev);
		if (!physical)
			continue;
		struct kf_f_nic *n = &f->nics[f->nnics++];
		n->name = kf_xstrdup(names[i]);
		n->mac = fx_str("/sys/class/net/%s/address", names[i]);
		n->sriov_total = (int)fx_ll("/sys/class/net/%s/device/sriov_totalvfs", names[i]);
	}
	fx_list_free(names, nn);
	char **g = NULL, **u = NULL;
	size_t ng = fx_list(&g, "/sys/kernel/iommu_groups"), nu = fx_list(&u, "/sys/class/iommu");
	f->iommu.enabled = ng > 0 || nu > 0;
	fx_list_free(g, ng);
	fx_list_free(u, nu);
}

void kf_facts_probe_devices(struct kf_facts *f)
{
	probe_nics(f);
	probe_disks(f);
	probe_iommu(f);
	probe_dmi(f);
}
