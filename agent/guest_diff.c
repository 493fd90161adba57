/* Resource "guests": diff (pure) and placement auto (agent/guest.h).
 *
 * Only fields the profile sets are compared: the persistent config (the
 * inactive XML, normalised by lib/domxml.c) always, and for a running
 * guest the live values from the API as well.  A change libvirt can make
 * live is applied live and to the config; one it can only make to the
 * config is flagged KF_CH_RESTART on a running guest ("at guest restart"),
 * and the guest is restarted only when its entry says allow_restart. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/guest.h"
#include "types.h"
#include "util.h"

static const char *const cpu_modes[] = { "host-passthrough", "host-model", "custom" };
static const char *const numa_modes[] = { "strict", "interleave", "preferred", "restrictive" };

static bool streq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static const char *str(const char *s)
{
	return s ? s : "-";
}

/* ---- placement auto ---- */

int kf_guest_pick_node(const struct kf_domcfg *want, const struct kf_domcfg *have, const struct gnode *nodes,
		       size_t n)
{
	long long cur;
	if (have && have->numa_nodes && kf_int_parse(have->numa_nodes, &cur) == 0)
		for (size_t i = 0; i < n; i++)
			if (nodes[i].id == cur)
				return (int)cur;
	int best = -1;
	for (size_t i = 0; i < n; i++) {
		const struct gnode *a = &nodes[i];
		if (best < 0) {
			best = (int)i;
			continue;
		}
		const struct gnode *b = &nodes[best];
		bool hp = want->hugepages > 0;
		if ((hp && a->free_hp > b->free_hp) ||
		    ((!hp || a->free_hp == b->free_hp) && a->free_mem > b->free_mem) ||
		    ((!hp || a->free_hp == b->free_hp) && a->free_mem == b->free_mem && a->id < b->id))
			best = (int)i;
	}
	return best < 0 ? -1 : nodes[best].id;
}

void kf_guest_place(struct kf_domcfg *w, const struct kf_domcfg *have, const struct gnode *node)
{
	long long max = w->vcpu_max != KF_UNSET ? w->vcpu_max : have ? have->vcpu_max : KF_UNSET;
	for (size_t i = 0; i < w->nvcpupin; i++)
		free(w->vcpupin[i].cpus);
	free(w->vcpupin);
	w->vcpupin = NULL;
	w->nvcpupin = 0;
	if (max != KF_UNSET && max > 0) {
		w->vcpupin = kf_xcalloc((size_t)max, sizeof(*w->vcpupin));
		for (long long v = 0; v < max; v++)
			w->vcpupin[w->nvcpupin++] = (struct kf_dompin){ v, kf_xstrdup(node->cpus) };
	}
	if (!w->emulatorpin)
		w->emulatorpin = kf_xstrdup(node->cpus);
	free(w->numa_nodes);
	w->numa_nodes = kf_xasprintf("%d", node->id);
	if (w->numa_mode < 0)
		w->numa_mode = KF_NUMA_STRICT;
}

/* ---- changes ---- */

static void res_unref(void *p)
{
	struct gchange *c = p;
	if (!c)
		return;
	if (--c->res->refs == 0) {
		kf_domcfg_release(&c->res->want);
		free(c->res);
	}
	free(c);
}

struct gdiff {
	struct kf_plan *plan;
	struct gres *res;
	const struct ghave *have;
	bool restart; /* some change waits for a restart */
	bool pending; /* the pass against the live XML: what the config has and the guest does not yet */
};

static struct kf_change *add(struct gdiff *d, enum gkind kind, enum kf_domfield f, size_t idx, bool config,
			     bool live, const char *from, const char *to, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));
static struct kf_change *add(struct gdiff *d, enum gkind kind, enum kf_domfield f, size_t idx, bool config,
			     bool live, const char *from, const char *to, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	struct kf_change *ch = kf_plan_add(d->plan, kf_guests_name, from, to, "%s %s", d->res->g->name, what);
	struct gchange *c = kf_xcalloc(1, sizeof(*c));
	c->res = d->res;
	d->res->refs++;
	c->kind = kind;
	c->field = f;
	c->idx = idx;
	c->config = config;
	c->live = live;
	ch->data = c;
	ch->free_data = res_unref;
	return ch;
}

static bool planned(const struct gdiff *d, const char *what)
{
	size_t n = strlen(d->res->g->name);
	for (size_t i = 0; i < d->plan->n; i++) {
		const char *w = d->plan->v[i].what;
		if (d->plan->v[i].resource == kf_guests_name && !strncmp(w, d->res->g->name, n) && w[n] == ' ' &&
		    !strcmp(w + n + 1, what))
			return true;
	}
	return false;
}

/* A config-only change: on a running guest it waits for a restart.  In
 * the pending pass (from is the running guest's value), a field the
 * config already has but the guest does not is pending restart: shown
 * on every run until the guest restarts, never applied. */
static void add_cfg(struct gdiff *d, enum kf_domfield f, size_t idx, const char *from, const char *to,
		    const char *what)
{
	if (d->pending) {
		if (planned(d, what))
			return;
		struct kf_change *ch = add(d, GK_FIELD, f, idx, false, false, from, to, "%s", what);
		ch->flags |= KF_CH_PENDING | KF_CH_RESTART;
		d->restart = true;
		return;
	}
	struct kf_change *ch = add(d, GK_FIELD, f, idx, true, false, from, to, "%s", what);
	if (d->have->running) {
		ch->flags |= KF_CH_RESTART;
		d->restart = true;
	}
}

/* A change libvirt makes live and in the config; from shows both values
 * when they differ. */
static void add_both(struct gdiff *d, enum kf_domfield f, size_t idx, bool cfg_d, bool live_d,
		     const char *cfg_v, const char *live_v, const char *to, const char *what)
{
	char from[256];
	if (d->pending || (!cfg_d && !live_d))
		return; /* the live values come from the API, not the live XML */
	if (live_d && !streq(cfg_v, live_v))
		snprintf(from, sizeof(from), "%s (live %s)", str(cfg_v), str(live_v));
	else
		snprintf(from, sizeof(from), "%s", str(cfg_v));
	add(d, GK_FIELD, f, idx, cfg_d, live_d, from, to, "%s", what);
}

static void diff_vcpus(struct gdiff *d)
{
	const struct kf_domcfg *w = &d->res->want, *c = &d->have->cfg;
	const struct kf_vlive *l = d->have->have_live ? &d->have->live : NULL;
	char a[32], b[32], lv[32];
	if (w->vcpu_max == KF_UNSET)
		return;
	if (c->vcpu_max != w->vcpu_max) {
		snprintf(a, sizeof(a), "%lld", c->vcpu_max);
		snprintf(b, sizeof(b), "%lld", w->vcpu_max);
		add_cfg(d, KF_DF_VCPUS, 0, c->vcpu_max == KF_UNSET ? NULL : a, b, "vcpus.max");
	}
	if (d->pending)
		return; /* vcpus.current: live through the API */
	bool cfg_d = c->vcpu_current != w->vcpu_current;
	bool live_d = l && l->vcpus != w->vcpu_current && w->vcpu_current <= l->vcpus_max;
	snprintf(a, sizeof(a), "%lld", c->vcpu_current);
	snprintf(b, sizeof(b), "%lld", w->vcpu_current);
	snprintf(lv, sizeof(lv), "%lld", l ? l->vcpus : 0);
	if (cfg_d && !live_d && l && l->vcpus != w->vcpu_current) {
		/* more than the running guest's maximum: at its restart */
		add_cfg(d, KF_DF_VCPUS, 0, a, b, "vcpus.current");
		return;
	}
	add_both(d, KF_DF_VCPUS, 0, cfg_d, live_d, a, lv, b, "vcpus.current");
}

static void diff_cpu(struct gdiff *d)
{
	const struct kf_domcfg *w = &d->res->want, *c = &d->have->cfg;
	char a[128], b[128];
	/* libvirt runs host-model as the custom model it expanded to */
	bool expanded = d->pending && w->cpu_mode == KF_CPU_HOSTMODEL && c->cpu_mode == KF_CPU_CUSTOM;
	if (w->cpu_mode >= 0 && !expanded &&
	    (c->cpu_mode != w->cpu_mode || (w->cpu_mode == KF_CPU_CUSTOM && !streq(c->cpu_model, w->cpu_model)))) {
		snprintf(a, sizeof(a), "%s%s%s", c->cpu_mode >= 0 ? cpu_modes[c->cpu_mode] : "-",
			 c->cpu_mode == KF_CPU_CUSTOM ? " " : "", c->cpu_mode == KF_CPU_CUSTOM ? c->cpu_model : "");
		snprintf(b, sizeof(b), "%s%s%s", cpu_modes[w->cpu_mode], w->cpu_mode == KF_CPU_CUSTOM ? " " : "",
			 w->cpu_mode == KF_CPU_CUSTOM ? w->cpu_model : "");
		add_cfg(d, KF_DF_CPU, 0, a, b, "cpu_mode");
	}
	if (w->cores != KF_UNSET && (c->sockets != w->sockets || c->dies != w->dies || c->cores != w->cores ||
				     c->threads != w->threads)) {
		snprintf(a, sizeof(a), "%lld/%lld/%lld/%lld", c->sockets, c->dies, c->cores, c->threads);
		snprintf(b, sizeof(b), "%lld/%lld/%lld/%lld", w->sockets, w->dies, w->cores, w->threads);
		add_cfg(d, KF_DF_TOPOLOGY, 0, c->cores == KF_UNSET ? NULL : a, b,
			"topology (sockets/dies/cores/threads)");
	}
}

static const char *find_pin(const struct kf_dompin *v, size_t n, long long id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id)
			return v[i].cpus;
	return NULL;
}

static void diff_pins(struct gdiff *d)
{
	const struct kf_domcfg *w = &d->res->want, *c = &d->have->cfg;
	const struct kf_vlive *l = d->have->have_live ? &d->have->live : NULL;
	char what[64];
	for (size_t i = 0; i < w->nvcpupin; i++) {
		const struct kf_dompin *p = &w->vcpupin[i];
		const char *cv = find_pin(c->vcpupin, c->nvcpupin, p->id);
		/* live: the vCPUs online now or after this plan's hotplug
		 * (apply pins a vCPU that is still offline in the config only) */
		const char *lv = NULL;
		if (l && p->id < (long long)l->nvcpupin &&
		    (p->id < l->vcpus || (w->vcpu_current != KF_UNSET && p->id < w->vcpu_current)))
			lv = l->vcpupin[p->id];
		snprintf(what, sizeof(what), "vcpupin %lld", p->id);
		add_both(d, KF_DF_VCPUPIN, i, !streq(cv, p->cpus), lv && !streq(lv, p->cpus), cv, lv, p->cpus, what);
	}
	if (w->emulatorpin) {
		const char *lv = l ? l->emulatorpin : NULL;
		add_both(d, KF_DF_EMULATORPIN, 0, !streq(c->emulatorpin, w->emulatorpin),
			 lv && !streq(lv, w->emulatorpin), c->emulatorpin, lv, w->emulatorpin, "emulatorpin");
	}
	if (w->iothreads != KF_UNSET && c->iothreads != w->iothreads) {
		char a[32], b[32];
		snprintf(a, sizeof(a), "%lld", c->iothreads);
		snprintf(b, sizeof(b), "%lld", w->iothreads);
		add_cfg(d, KF_DF_IOTHREADS, 0, a, b, "iothreads");
	}
	for (size_t i = 0; i < w->niothreadpin; i++) {
		const struct kf_dompin *p = &w->iothreadpin[i];
		const char *cv = find_pin(c->iothreadpin, c->niothreadpin, p->id);
		const char *lv = NULL;
		for (size_t j = 0; l && j < l->niothreads; j++)
			if (l->iothread_ids[j] == p->id)
				lv = l->iothread_pins[j];
		snprintf(what, sizeof(what), "iothreadpin %lld", p->id);
		add_both(d, KF_DF_IOTHREADPIN, i, !streq(cv, p->cpus), lv && !streq(lv, p->cpus), cv, lv, p->cpus,
			 what);
	}
}

static void diff_numa(struct gdiff *d)
{
	const struct kf_domcfg *w = &d->res->want, *c = &d->have->cfg;
	const struct kf_vlive *l = d->have->have_live ? &d->have->live : NULL;
	char a[128], b[128], lv[128], what[64];
	if (w->numa_nodes) {
		snprintf(a, sizeof(a), "%s %s", c->numa_mode >= 0 ? numa_modes[c->numa_mode] : "-", str(c->numa_nodes));
		snprintf(b, sizeof(b), "%s %s", numa_modes[w->numa_mode < 0 ? 0 : w->numa_mode], w->numa_nodes);
		bool mode_d = c->numa_mode != (w->numa_mode < 0 ? 0 : w->numa_mode);
		bool cfg_d = mode_d || !streq(c->numa_nodes, w->numa_nodes);
		/* live, libvirt changes the nodeset of a strict policy only */
		bool live_d = l && l->numa_mode == KF_NUMA_STRICT && l->numa_nodes &&
			      !streq(l->numa_nodes, w->numa_nodes) && !mode_d;
		snprintf(lv, sizeof(lv), "%s %s", l && l->numa_mode >= 0 ? numa_modes[l->numa_mode] : "-",
			 str(l ? l->numa_nodes : NULL));
		if (cfg_d && mode_d)
			add_cfg(d, KF_DF_NUMATUNE, 0, c->numa_mode < 0 ? NULL : a, b, "numatune");
		else
			add_both(d, KF_DF_NUMATUNE, 0, cfg_d, live_d, a, lv, b, "numatune");
	}
	for (size_t i = 0; i < w->nmemnodes; i++) {
		const struct kf_dommemnode *m = &w->memnodes[i], *h = NULL;
		for (size_t j = 0; j < c->nmemnodes; j++)
			if (c->memnodes[j].cell == m->cell)
				h = &c->memnodes[j];
		if (h && h->mode == m->mode && streq(h->nodes, m->nodes))
			continue;
		if (h)
			snprintf(a, sizeof(a), "%s %s", h->mode >= 0 ? numa_modes[h->mode] : "-", str(h->nodes));
		snprintf(b, sizeof(b), "%s %s", numa_modes[m->mode], m->nodes);
		snprintf(what, sizeof(what), "memnode %lld", m->cell);
		add_cfg(d, KF_DF_MEMNODE, i, h ? a : NULL, b, what);
	}
}

static void diff_memory(struct gdiff *d)
{
	const struct kf_domcfg *w = &d->res->want, *c = &d->have->cfg;
	const struct kf_vlive *l = d->have->have_live ? &d->have->live : NULL;
	char a[64], b[64], lv[64];
	if (w->memory != KF_UNSET && c->memory != w->memory)
		add_cfg(d, KF_DF_MEMORY, 0, kf_domcfg_size_str(c->memory, a, sizeof(a)),
			kf_domcfg_size_str(w->memory, b, sizeof(b)), "memory");
	if (w->current_memory != KF_UNSET) {
		bool balloon = c->balloon == KF_BALLOON_VIRTIO;
		long long live_max = w->memory != KF_UNSET && w->memory != c->memory ? c->memory : w->memory;
		bool live_d = l && balloon && l->balloon != w->current_memory &&
			      (live_max == KF_UNSET || w->current_memory <= live_max);
		add_both(d, KF_DF_CURMEM, 0, c->current_memory != w->current_memory, live_d,
			 kf_domcfg_size_str(c->current_memory, a, sizeof(a)),
			 kf_domcfg_size_str(l ? l->balloon : KF_UNSET, lv, sizeof(lv)),
			 kf_domcfg_size_str(w->current_memory, b, sizeof(b)), "memory.current");
	}
	if (w->balloon >= 0 || w->stats_period != KF_UNSET) {
		int wm = w->balloon >= 0 ? w->balloon : KF_BALLOON_VIRTIO;
		bool model_d = c->balloon != wm;
		bool period_d = wm == KF_BALLOON_VIRTIO && w->stats_period != KF_UNSET && c->stats_period != w->stats_period;
		bool live_d = !model_d && d->have->running && wm == KF_BALLOON_VIRTIO && w->stats_period != KF_UNSET &&
			      d->have->live_stats_period != KF_UNSET && d->have->live_stats_period != w->stats_period;
		snprintf(a, sizeof(a), "%s stats %llds", c->balloon == KF_BALLOON_VIRTIO ? "virtio" : "none",
			 c->stats_period == KF_UNSET ? 0 : c->stats_period);
		snprintf(lv, sizeof(lv), "%s stats %llds", c->balloon == KF_BALLOON_VIRTIO ? "virtio" : "none",
			 d->have->live_stats_period == KF_UNSET ? 0 : d->have->live_stats_period);
		if (wm == KF_BALLOON_VIRTIO && w->stats_period != KF_UNSET)
			snprintf(b, sizeof(b), "virtio stats %llds", w->stats_period);
		else
			snprintf(b, sizeof(b), "%s", wm == KF_BALLOON_VIRTIO ? "virtio" : "none");
		if (model_d)
			add_cfg(d, KF_DF_BALLOON, 0, a, b, "balloon");
		else
			add_both(d, KF_DF_BALLOON, 0, period_d, live_d, a, lv, b, "balloon");
	}
}

static void memtune_str(char *buf, size_t len, const struct kf_domcfg *w, long long hard, long long soft,
			long long swap, long long min)
{
	char x[32];
	const long long wv[] = { w->hard_limit, w->soft_limit, w->swap_hard_limit, w->min_guarantee };
	const long long hv[] = { hard, soft, swap, min };
	static const char *const names[] = { "hard", "soft", "swap_hard", "min_guarantee" };
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < 4 && o < len; i++)
		if (wv[i] != KF_UNSET)
			o += (size_t)snprintf(buf + o, len - o, "%s%s %s", o ? " " : "", names[i],
					      kf_domcfg_size_str(hv[i], x, sizeof(x)));
}

static bool memtune_differs(const struct kf_domcfg *w, long long hard, long long soft, long long swap,
			    long long min)
{
	return (w->hard_limit != KF_UNSET && w->hard_limit != hard) ||
	       (w->soft_limit != KF_UNSET && w->soft_limit != soft) ||
	       (w->swap_hard_limit != KF_UNSET && w->swap_hard_limit != swap) ||
	       (w->min_guarantee != KF_UNSET && w->min_guarantee != min);
}

static void diff_memtune(struct gdiff *d)
{
	const struct kf_domcfg *w = &d->res->want, *c = &d->have->cfg;
	const struct kf_vlive *l = d->have->have_live ? &d->have->live : NULL;
	char a[160], b[160], lv[160];
	if (w->hard_limit == KF_UNSET && w->soft_limit == KF_UNSET && w->swap_hard_limit == KF_UNSET &&
	    w->min_guarantee == KF_UNSET)
		return;
	bool cfg_d = memtune_differs(w, c->hard_limit, c->soft_limit, c->swap_hard_limit, c->min_guarantee);
	bool live_d = l && memtune_differs(w, l->hard_limit, l->soft_limit, l->swap_hard_limit, l->min_guarantee);
	memtune_str(a, sizeof(a), w, c->hard_limit, c->soft_limit, c->swap_hard_limit, c->min_guarantee);
	memtune_str(b, sizeof(b), w, w->hard_limit, w->soft_limit, w->swap_hard_limit, w->min_guarantee);
	if (l)
		memtune_str(lv, sizeof(lv), w, l->hard_limit, l->soft_limit, l->swap_hard_limit, l->min_guarantee);
	add_both(d, KF_DF_MEMTUNE, 0, cfg_d, live_d, a, l ? lv : NULL, b, "memtune");
}

static void diff_backing(struct gdiff *d)
{
	const struct kf_domcfg *w = &d->res->want, *c = &d->have->cfg;
	char a[64], b[64], x[32];
	if (w->hugepages != KF_UNSET && (c->hugepages != w->hugepages || !streq(c->hugepage_nodes, w->hugepage_nodes))) {
		snprintf(a, sizeof(a), "%s%s%s", kf_domcfg_size_str(c->hugepages, x, sizeof(x)),
			 c->hugepage_nodes ? " nodeset " : "", c->hugepage_nodes ? c->hugepage_nodes : "");
		snprintf(b, sizeof(b), "%s%s%s", kf_domcfg_size_str(w->hugepages, x, sizeof(x)),
			 w->hugepage_nodes ? " nodeset " : "", w->hugepage_nodes ? w->hugepage_nodes : "");
		add_cfg(d, KF_DF_HUGEPAGES, 0, c->hugepages == KF_UNSET ? NULL : a, b, "memory_backing.hugepages");
	}
	if (w->nosharepages >= 0 && c->nosharepages != w->nosharepages)
		add_cfg(d, KF_DF_NOSHAREPAGES, 0, c->nosharepages ? "true" : "false", w->nosharepages ? "true" : "false",
			"memory_backing.nosharepages");
	if (w->locked >= 0 && c->locked != w->locked)
		add_cfg(d, KF_DF_LOCKED, 0, c->locked ? "true" : "false", w->locked ? "true" : "false",
			"memory_backing.locked");
}

static const struct kf_domnic *match_nic(const struct kf_domcfg *c, const struct kf_domnic *w, size_t idx)
{
	if (w->mac)
		for (size_t i = 0; i < c->nnics; i++)
			if (streq(c->nics[i].mac, w->mac))
				return &c->nics[i];
	return idx < c->nnics ? &c->nics[idx] : NULL;
}

static bool nic_differs(const struct kf_domnic *h, const struct kf_domnic *w)
{
	if (!h || h->type != w->type || !streq(h->source, w->source))
		return true;
	if (w->type == KF_NIC_DIRECT && h->mode != w->mode)
		return true;
	if (w->type == KF_NIC_BRIDGE && h->ovs != w->ovs)
		return true;
	if (w->mac && !streq(h->mac, w->mac))
		return true;
	if (w->type == KF_NIC_HOSTDEV)
		return false;
	return (w->model >= 0 && h->model != w->model) || (w->driver >= 0 && h->driver != w->driver) ||
	       (w->queues != KF_UNSET && h->queues != w->queues);
}

static void diff_devices(struct gdiff *d)
{
	const struct kf_domcfg *w = &d->res->want, *c = &d->have->cfg;
	char a[256], b[256], what[64];
	for (size_t i = 0; i < w->nnics; i++) {
		const struct kf_domnic *h = match_nic(c, &w->nics[i], i);
		if (!nic_differs(h, &w->nics[i]))
			continue;
		snprintf(what, sizeof(what), "interface %zu", i);
		add_cfg(d, KF_DF_NIC, i, h ? kf_domnic_str(h, a, sizeof(a)) : NULL,
			kf_domnic_str(&w->nics[i], b, sizeof(b)), what);
	}
	for (size_t i = 0; i < w->nhostdevs; i++) {
		const struct kf_domhostdev *h = NULL;
		for (size_t j = 0; j < c->nhostdevs; j++)
			if (streq(c->hostdevs[j].pci, w->hostdevs[i].pci))
				h = &c->hostdevs[j];
		if (h && h->managed == w->hostdevs[i].managed)
			continue;
		snprintf(what, sizeof(what), "hostdev %s", w->hostdevs[i].pci);
		add_cfg(d, KF_DF_HOSTDEV, i, h ? (h->managed ? "managed" : "unmanaged") : NULL,
			w->hostdevs[i].managed ? "managed" : "unmanaged", what);
	}
}

static struct gres *resolve(const struct gwant *w, const struct ghave *h, const struct gactual *a,
			    const struct kf_p_libvirt *lv)
{
	struct gres *res = kf_xcalloc(1, sizeof(*res));
	res->refs = 1; /* the diff's own reference, dropped at its end */
	res->g = w->g;
	res->lv = lv;
	kf_domcfg_copy(&res->want, &w->cfg);
	if (w->auto_place && a->nnodes) {
		int id = kf_guest_pick_node(&res->want, h->exists ? &h->cfg : NULL, a->nodes, a->nnodes);
		for (size_t i = 0; i < a->nnodes; i++)
			if (a->nodes[i].id == id)
				kf_guest_place(&res->want, h->exists ? &h->cfg : NULL, &a->nodes[i]);
	}
	return res;
}

static void diff_guest(struct kf_ctx *ctx, const struct gdesired *ds, const struct gwant *w, const struct ghave *h,
		       const struct gactual *a, struct kf_plan *plan)
{
	struct gdiff d = { .plan = plan, .res = resolve(w, h, a, ds->lv), .have = h };
	const struct kf_p_guest *g = w->g;
	if (!h->exists) {
		if (g->define == 1)
			add(&d, GK_DEFINE, 0, 0, true, false, NULL,
			    g->start != 0 ? "defined (network boot), started" : "defined (network boot)", "%s",
			    "domain");
		else
			kf_errf(ctx->fail, NULL, "guest %s: not defined in libvirt (define: true creates it)", g->name);
		goto out;
	}
	diff_vcpus(&d);
	diff_cpu(&d);
	diff_pins(&d);
	diff_numa(&d);
	diff_memory(&d);
	diff_memtune(&d);
	diff_backing(&d);
	diff_devices(&d);
	if (g->autostart >= 0 && h->autostart != g->autostart)
		add(&d, GK_AUTOSTART, 0, 0, false, false, h->autostart ? "true" : "false",
		    g->autostart ? "true" : "false", "autostart");
	if (h->have_live_cfg) {
		/* the same fields against what the guest runs with */
		struct ghave live = *h;
		live.cfg = h->live_cfg;
		d.have = &live;
		d.pending = true;
		diff_vcpus(&d);
		diff_cpu(&d);
		diff_pins(&d);
		diff_numa(&d);
		diff_memory(&d);
		diff_backing(&d);
		diff_devices(&d);
		d.have = h;
	}
	if (d.restart && g->allow_restart == 1)
		add(&d, GK_RESTART, 0, 0, false, false, "running", "restarted (allow_restart)", "restart");
out:
	if (--d.res->refs == 0) {
		kf_domcfg_release(&d.res->want);
		free(d.res);
	}
}

/* Nested KVM (kvm.nested) runs KVM inside a guest only when the guest
 * sees the host's virtualisation extensions: host-passthrough or
 * host-model CPU, else a warning naming it. */
static void nested_note(const struct kf_ctx *ctx, const struct gwant *w, const struct ghave *h, struct kf_plan *plan)
{
	const struct kf_p_kvm *k = ctx->profile ? ctx->profile->kvm : NULL;
	if (!k || k->nested != 1)
		return;
	int mode = w->cfg.cpu_mode >= 0 ? w->cfg.cpu_mode : h->exists ? h->cfg.cpu_mode : -1;
	if (mode == KF_CPU_PASSTHROUGH || mode == KF_CPU_HOSTMODEL)
		return;
	kf_plan_note(plan, kf_guests_name,
		     "warning: guest %s: nested KVM needs cpu_mode host-passthrough or host-model, it has %s: "
		     "it cannot run guests of its own with KVM",
		     w->g->name, mode >= 0 ? cpu_modes[mode] : "libvirt's default CPU");
}

int kf_guests_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	const struct gdesired *ds = desired;
	const struct gactual *a = actual;
	for (size_t i = 0; i < ds->n && i < a->n; i++) {
		diff_guest(ctx, ds, &ds->v[i], &a->v[i], a, plan);
		nested_note(ctx, &ds->v[i], &a->v[i], plan);
	}
	return 0;
}
