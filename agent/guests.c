/* Resource "guests": per-guest tuning and guest creation through libvirt
 * (lib/virt.h), the domain XML edited with lib/domxml.h.  This file holds
 * parse (with the checks against the host), probe and apply; the diff and
 * the placement are in agent/guest_diff.c (agent/guest.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/guest.h"
#include "agent/host.h"
#include "agent/hostio.h"
#include "agent/passthrough.h"
#include "types.h"
#include "util.h"

const char kf_guests_name[] = "guests";

/* ---- parse ---- */

static void no_such_cpus(struct kf_ctx *ctx, const struct kf_mark *m, const struct kf_p_guest *g,
			 const char *what, const char *cpus)
{
	struct kf_bitmap b, bad = { 0 };
	char list[256], have[256];
	if (!ctx->host || kf_cpulist_parse(cpus, &b) < 0)
		return;
	for (unsigned c = 0; c <= (unsigned)(kf_bitmap_last(&b) < 0 ? 0 : kf_bitmap_last(&b)); c++)
		if (kf_bitmap_test(&b, c) && !kf_bitmap_test(&ctx->host->present, c))
			kf_bitmap_set(&bad, c);
	if (kf_bitmap_count(&bad))
		kf_errf(ctx->err, m, "guest %s: %s pinned to CPU %s, which this host does not have (CPUs: %s)",
			g->name, what, kf_cpulist_fmt(&bad, list, sizeof(list)),
			kf_cpulist_fmt(&ctx->host->present, have, sizeof(have)));
}

static void no_such_nodes(struct kf_ctx *ctx, const struct kf_mark *m, const struct kf_p_guest *g,
			  const char *what, const char *nodes)
{
	struct kf_bitmap b, ids = { 0 };
	char list[256];
	if (!ctx->host || !nodes || kf_cpulist_parse(nodes, &b) < 0)
		return;
	for (int i = 0; i < ctx->host->nnodes; i++)
		kf_bitmap_set(&ids, (unsigned)ctx->host->nodes[i].id);
	if (!kf_bitmap_subset(&b, &ids))
		kf_errf(ctx->err, m, "guest %s: %s names NUMA node %s, this host has nodes %s", g->name, what,
			nodes, kf_cpulist_fmt(&ids, list, sizeof(list)));
}

static void no_such_pci(struct kf_ctx *ctx, const struct kf_mark *m, const struct kf_p_guest *g,
			const char *what, const char *pci)
{
	char buf[32];
	if (kf_pci_norm(pci, buf, sizeof(buf)) < 0)
		return; /* the schema said so already */
	char *rel = kf_xasprintf("/sys/bus/pci/devices/%s", buf);
	if (!kf_host_exists(rel))
		kf_errf(ctx->err, m, "guest %s: %s %s does not exist on this host (no %s)", g->name, what, buf, rel);
	free(rel);
}

/* What the host needs for a NIC: vhost_net for driver vhost, no more
 * queues than the host has CPUs to serve them. */
static void check_nic_host(struct kf_ctx *ctx, const struct kf_p_guest *g, const struct kf_p_nic *n, size_t i)
{
	if (n->driver == KF_DRV_VHOST) {
		const char *missing = !kf_host_exists("/sys/module/vhost_net") ? "/sys/module/vhost_net"
				      : !kf_host_exists("/dev/vhost-net")     ? "/dev/vhost-net"
										: NULL;
		if (missing)
			kf_errf(ctx->err, kf_mark_of(n, "driver"),
				"guest %s: interface %zu asks for vhost but vhost_net is not loaded on this host "
				"(no %s; modprobe vhost_net, and list it in /etc/modules-load.d)",
				g->name, i, missing);
	}
	unsigned cpus = ctx->host ? kf_bitmap_count(&ctx->host->present) : 0;
	if (n->queues != KF_UNSET && cpus && n->queues > (long long)cpus)
		kf_errf(ctx->err, kf_mark_of(n, "queues"),
			"guest %s: interface %zu has %lld queues, more than this host's %u CPUs", g->name, i,
			n->queues, cpus);
}

static void check_guest(struct kf_ctx *ctx, const struct kf_p_guest *g)
{
	const struct kf_p_pinning *p = g->pinning;
	if (p) {
		for (size_t i = 0; i < p->vcpus.n; i++) {
			const struct kf_p_pin *pin = KF_LIST_AT(p->vcpus, struct kf_p_pin, i);
			char what[32];
			snprintf(what, sizeof(what), "vCPU %lld", pin->id);
			no_such_cpus(ctx, &pin->node->mark, g, what, pin->cpus);
		}
		for (size_t i = 0; i < p->iothreads.n; i++) {
			const struct kf_p_pin *pin = KF_LIST_AT(p->iothreads, struct kf_p_pin, i);
			char what[32];
			snprintf(what, sizeof(what), "iothread %lld", pin->id);
			no_such_cpus(ctx, &pin->node->mark, g, what, pin->cpus);
		}
		if (p->emulator)
			no_such_cpus(ctx, kf_mark_of(p, "emulator"), g, "emulator", p->emulator);
		if (p->placement == KF_PLACE_AUTO && g->numatune && g->numatune->nodes)
			kf_errf(ctx->err, kf_mark_of(g->numatune, "nodes"),
				"guest %s: placement auto chooses the NUMA node, do not also give numatune.nodes",
				g->name);
		if (p->placement == KF_PLACE_AUTO && !g->vcpus)
			kf_errf(ctx->err, kf_mark_of(p, NULL), "guest %s: placement auto needs vcpus", g->name);
	}
	if (g->numatune) {
		no_such_nodes(ctx, kf_mark_of(g->numatune, "nodes"), g, "numatune", g->numatune->nodes);
		for (size_t i = 0; i < g->numatune->memnodes.n; i++) {
			const struct kf_p_memnode *m = KF_LIST_AT(g->numatune->memnodes, struct kf_p_memnode, i);
			no_such_nodes(ctx, kf_mark_of(m, "nodes"), g, "memnode", m->nodes);
		}
		if (!g->numatune->nodes && !g->numatune->memnodes.n &&
		    !(p && p->placement == KF_PLACE_AUTO))
			kf_errf(ctx->err, kf_mark_of(g->numatune, NULL), "guest %s: numatune needs nodes or memnodes",
				g->name);
	}
	if (g->memory_backing && g->memory_backing->hugepages != KF_UNSET && ctx->host &&
	    ctx->host->nhpsizes &&
	    !kf_host_has_hpsize(ctx->host, (unsigned long long)g->memory_backing->hugepages)) {
		char sz[32];
		kf_errf(ctx->err, kf_mark_of(g->memory_backing, "hugepages"),
			"guest %s: this host has no %s hugepages", g->name,
			kf_size_fmt((uint64_t)g->memory_backing->hugepages, sz, sizeof(sz)));
	}
	for (size_t i = 0; i < g->interfaces.n; i++) {
		const struct kf_p_nic *n = KF_LIST_AT(g->interfaces, struct kf_p_nic, i);
		if (n->type == KF_NIC_HOSTDEV)
			no_such_pci(ctx, kf_mark_of(n, "source"), g, "VF", n->source);
		check_nic_host(ctx, g, n, i);
	}
	for (size_t i = 0; i < g->hostdevs.n; i++) {
		const struct kf_p_hostdev *h = KF_LIST_AT(g->hostdevs, struct kf_p_hostdev, i);
		no_such_pci(ctx, kf_mark_of(h, "pci"), g, "hostdev", h->pci);
		kf_passthrough_check_hostdev(ctx, g, h);
	}
	if (g->define == 1 && !g->interfaces.n)
		kf_errf(ctx->err, kf_mark_of(g, "define"),
			"guest %s: a guest the agent defines needs an interface to boot from the network", g->name);
}

static void free_desired(void *p)
{
	struct gdesired *d = p;
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		kf_domcfg_release(&d->v[i].cfg);
	free(d->v);
	if (d->sess)
		kf_virt_close(d->sess->virt);
	free(d->sess);
	free(d);
}

/* A bridge NIC on an Open vSwitch bridge of the profile gets its
 * virtualport. */
static void ovs_nics(const struct kf_p_network *n, struct kf_domcfg *c)
{
	for (size_t i = 0; n && i < c->nnics; i++)
		for (size_t j = 0; c->nics[i].type == KF_NIC_BRIDGE && c->nics[i].source && j < n->bridges.n; j++) {
			const struct kf_p_bridge *b = KF_LIST_AT(n->bridges, struct kf_p_bridge, j);
			c->nics[i].ovs |= kf_bridge_ovs(n, b) && !strcmp(b->name, c->nics[i].source);
		}
}

static int parse(struct kf_ctx *ctx, void **out)
{
	const struct kf_profile *p = ctx->profile;
	*out = NULL;
	if (!p->guests.n)
		return 0;
	size_t before = ctx->err->n;
	struct gdesired *d = kf_xcalloc(1, sizeof(*d));
	d->lv = p->libvirt;
	d->uri = p->libvirt && p->libvirt->uri ? p->libvirt->uri : "qemu:///system";
	d->n = p->guests.n;
	d->v = kf_xcalloc(d->n, sizeof(*d->v));
	d->sess = kf_xcalloc(1, sizeof(*d->sess));
	for (size_t i = 0; i < d->n; i++) {
		const struct kf_p_guest *g = KF_LIST_AT(p->guests, struct kf_p_guest, i);
		check_guest(ctx, g);
		d->v[i].g = g;
		d->v[i].auto_place = g->pinning && g->pinning->placement == KF_PLACE_AUTO;
		kf_domcfg_from_guest(&d->v[i].cfg, g);
		ovs_nics(p->network, &d->v[i].cfg);
	}
	if (ctx->err->n > before) {
		free_desired(d);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

/* ---- probe ---- */

static int session(struct kf_ctx *ctx, const struct gdesired *d)
{
	if (!d->sess->virt) {
		int r = kf_virt_open(&d->sess->virt, d->uri, ctx->fail);
		if (r < 0)
			return r;
	}
	ctx->virt = d->sess->virt;
	return 0;
}

static unsigned long long meminfo_free(const char *text)
{
	const char *p = strstr(text, "MemFree:");
	return p ? strtoull(p + strlen("MemFree:"), NULL, 10) * 1024 : 0;
}

/* The NUMA facts placement auto needs: the host's nodes (libnuma or the
 * sysroot, agent/host.h) with their free memory and free hugepages. */
static void probe_nodes(struct kf_ctx *ctx, const struct gdesired *d, struct gactual *a)
{
	const struct kf_hostinfo *h = ctx->host;
	unsigned long long hp = 0;
	bool any = false;
	for (size_t i = 0; i < d->n; i++) {
		any |= d->v[i].auto_place;
		if (d->v[i].auto_place && d->v[i].cfg.hugepages > 0)
			hp = (unsigned long long)d->v[i].cfg.hugepages;
	}
	if (!any || !h)
		return;
	a->nnodes = (size_t)h->nnodes;
	a->nodes = kf_xcalloc(a->nnodes ? a->nnodes : 1, sizeof(*a->nodes));
	for (size_t i = 0; i < a->nnodes; i++) {
		struct gnode *n = &a->nodes[i];
		char buf[1024], *s = NULL, *rel;
		n->id = h->nodes[i].id;
		n->cpus = kf_xstrdup(kf_cpulist_fmt(&h->nodes[i].cpus, buf, sizeof(buf)));
		rel = h->numa_sysfs ? kf_xasprintf("/sys/devices/system/node/node%d/meminfo", n->id)
				    : kf_xstrdup("/proc/meminfo");
		if (kf_host_read(rel, &s) == 0)
			n->free_mem = meminfo_free(s);
		free(s);
		free(rel);
		n->hp_size = hp;
		if (hp) {
			long long v;
			rel = h->numa_sysfs
				      ? kf_xasprintf("/sys/devices/system/node/node%d/hugepages/hugepages-%llukB/free_hugepages",
						     n->id, hp / 1024)
				      : kf_xasprintf("/sys/kernel/mm/hugepages/hugepages-%llukB/free_hugepages", hp / 1024);
			if (kf_host_read_ll(rel, &v) == 0 && v > 0)
				n->free_hp = (unsigned long long)v * hp;
			free(rel);
		}
	}
}

static void free_actual(void *p)
{
	struct gactual *a = p;
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		kf_domcfg_release(&a->v[i].cfg);
		kf_domcfg_release(&a->v[i].live_cfg);
		kf_vlive_release(&a->v[i].live);
	}
	free(a->v);
	for (size_t i = 0; i < a->nnodes; i++)
		free(a->nodes[i].cpus);
	free(a->nodes);
	free(a);
}

static int probe_one(struct kf_ctx *ctx, const struct gwant *w, struct ghave *h)
{
	struct kf_vdom *dom = NULL;
	char *xml = NULL;
	int r = kf_virt_lookup(ctx->virt, w->g->name, &dom, ctx->fail);
	kf_domcfg_init(&h->cfg);
	kf_domcfg_init(&h->live_cfg);
	h->autostart = -1;
	h->live_stats_period = KF_UNSET;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	h->exists = true;
	if ((r = kf_vdom_xml(dom, true, &xml, ctx->fail)) < 0 || (r = kf_domxml_parse(xml, &h->cfg, ctx->fail)) < 0 ||
	    (r = kf_vdom_is_running(dom, &h->running, ctx->fail)) < 0)
		goto out;
	if (w->g->autostart >= 0 && (r = kf_vdom_get_autostart(dom, &h->autostart, ctx->fail)) < 0)
		goto out;
	if (h->running) {
		const struct kf_domcfg *c = &w->cfg;
		unsigned what = 0;
		if (c->nvcpupin || w->auto_place)
			what |= KF_VLIVE_VCPUPIN;
		if (c->emulatorpin || w->auto_place)
			what |= KF_VLIVE_EMULATORPIN;
		if (c->niothreadpin)
			what |= KF_VLIVE_IOTHREADS;
		if (c->hard_limit != KF_UNSET || c->soft_limit != KF_UNSET || c->swap_hard_limit != KF_UNSET ||
		    c->min_guarantee != KF_UNSET)
			what |= KF_VLIVE_MEMTUNE;
		if (c->numa_nodes || w->auto_place)
			what |= KF_VLIVE_NUMA;
		if (c->current_memory != KF_UNSET)
			what |= KF_VLIVE_BALLOON;
		if ((r = kf_vdom_live(dom, what, &h->live, ctx->fail)) < 0)
			goto out;
		h->have_live = true;
		/* the live XML: the balloon stats period is only there, and a
		 * config-only change waits for a restart while it differs */
		free(xml);
		xml = NULL;
		if ((r = kf_vdom_xml(dom, false, &xml, ctx->fail)) < 0 ||
		    (r = kf_domxml_parse(xml, &h->live_cfg, ctx->fail)) < 0)
			goto out;
		h->have_live_cfg = true;
		h->live_stats_period = h->live_cfg.stats_period;
	}
out:
	free(xml);
	kf_vdom_free(dom);
	return r;
}

static int probe(struct kf_ctx *ctx, const void *desired, void **out)
{
	const struct gdesired *d = desired;
	*out = NULL;
	int r = session(ctx, d);
	if (r < 0)
		return r;
	struct gactual *a = kf_xcalloc(1, sizeof(*a));
	a->n = d->n;
	a->v = kf_xcalloc(d->n, sizeof(*a->v));
	for (size_t i = 0; i < d->n; i++) {
		kf_domcfg_init(&a->v[i].cfg);
		kf_domcfg_init(&a->v[i].live_cfg);
		a->v[i].autostart = -1;
	}
	for (size_t i = 0; i < d->n; i++) {
		r = probe_one(ctx, &d->v[i], &a->v[i]);
		if (r < 0) {
			free_actual(a);
			return r;
		}
	}
	probe_nodes(ctx, d, a);
	*out = a;
	return 0;
}

/* ---- apply ---- */

static int apply_config(struct kf_ctx *ctx, struct kf_vdom *dom, const struct gchange *c)
{
	char *xml = NULL, *out = NULL;
	struct kf_domxml *x = NULL;
	int r;
	if ((r = kf_vdom_xml(dom, true, &xml, ctx->fail)) < 0 || (r = kf_domxml_load(&x, xml, ctx->fail)) < 0 ||
	    (r = kf_domxml_set(x, &c->res->want, c->field, c->idx, ctx->fail)) < 0)
		goto out;
	out = kf_domxml_dump(x);
	r = kf_virt_define(ctx->virt, out, NULL, ctx->fail);
out:
	free(out);
	free(xml);
	kf_domxml_free(x);
	return r;
}

static int apply_live(struct kf_ctx *ctx, struct kf_vdom *dom, const struct gchange *c)
{
	const struct kf_domcfg *w = &c->res->want;
	struct kf_err *e = ctx->fail;
	switch (c->field) {
	case KF_DF_VCPUS: return kf_vdom_set_vcpus_live(dom, w->vcpu_current, e);
	case KF_DF_VCPUPIN: {
		/* unplugged by an earlier change of this plan: the config pins it */
		long long online;
		int r = kf_vdom_vcpus_online(dom, &online, e);
		if (r < 0 || w->vcpupin[c->idx].id >= online)
			return r;
		return kf_vdom_pin_vcpu_live(dom, w->vcpupin[c->idx].id, w->vcpupin[c->idx].cpus, e);
	}
	case KF_DF_EMULATORPIN: return kf_vdom_pin_emulator_live(dom, w->emulatorpin, e);
	case KF_DF_IOTHREADPIN:
		return kf_vdom_pin_iothread_live(dom, w->iothreadpin[c->idx].id, w->iothreadpin[c->idx].cpus, e);
	case KF_DF_NUMATUNE: return kf_vdom_set_numa_nodes_live(dom, w->numa_nodes, e);
	case KF_DF_CURMEM: return kf_vdom_set_balloon_live(dom, w->current_memory, e);
	case KF_DF_BALLOON: return kf_vdom_set_stats_period_live(dom, w->stats_period, e);
	case KF_DF_MEMTUNE:
		return kf_vdom_set_memtune_live(dom, w->hard_limit, w->soft_limit, w->swap_hard_limit,
						w->min_guarantee, e);
	default: return 0;
	}
}

static int apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	const struct gchange *c = ch->data;
	const struct kf_p_guest *g = c->res->g;
	struct kf_vdom *dom = NULL;
	int r;
	if (!ctx->virt)
		return -ENOTCONN;
	if (c->kind == GK_DEFINE)
		return kf_virt_guest_install(ctx->virt, c->res->lv, g, &c->res->want, ctx->fail);
	if ((r = kf_virt_lookup(ctx->virt, g->name, &dom, ctx->fail)) < 0) {
		if (r == -ENOENT)
			kf_errf(ctx->fail, NULL, "guest %s: no longer exists", g->name);
		return r;
	}
	switch (c->kind) {
	case GK_AUTOSTART: r = kf_vdom_set_autostart(dom, g->autostart, ctx->fail); break;
	case GK_RESTART: r = kf_vdom_restart(dom, 60, ctx->fail); break;
	case GK_FIELD:
		r = 0;
		if (c->config)
			r = apply_config(ctx, dom, c);
		if (r == 0 && c->live)
			r = apply_live(ctx, dom, c);
		break;
	case GK_DEFINE: break;
	}
	kf_vdom_free(dom);
	return r;
}

const struct kf_resource kf_res_guests = {
	.name = kf_guests_name,
	.section = "guests",
	.parse = parse,
	.probe = probe,
	.diff = kf_guests_diff,
	.apply = apply,
	.free_desired = free_desired,
	.free_actual = free_actual,
};
