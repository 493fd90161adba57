/* Resource "hugepages": hugepage pools per page size, per NUMA node
 * (/sys/devices/system/node/nodeN/hugepages/hugepages-SIZEkB/nr_hugepages)
 * or global (/sys/kernel/mm/hugepages/...), plus boot-time reservations
 * and default_hugepagesz on the kernel command line (agent/bootcmd.h).
 *
 * What the kernel granted is read back: a shortfall is a failure with the
 * numbers, except for pages of 1G and more, which are then reserved on the
 * kernel command line and reported as needing a reboot.  A pool of such
 * pages that is short but already reserved there is pending, not a change. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/bootcmd.h"
#include "agent/host.h"
#include "agent/hostio.h"
#include "agent/resource.h"
#include "types.h"
#include "util.h"

#define GIGA (1ULL << 30)
#define MiB(x) ((unsigned long long)(x) >> 20)

enum hp_kind { HP_POOL, HP_CMDLINE }; /* kf_change.kind: data is a slot, or the hp_want */

struct slot {
	unsigned long long size;
	int nid;          /* -1: global pool */
	long long count;
	const char *pool_value; /* hugepages= value of its pool (points into want) */
};

struct hp_want {
	struct slot *slots; /* runtime pools (boot: false) */
	int nslots;
	unsigned long long boot_size[8];
	char *boot_value[8]; /* hugepages= values of boot pools */
	int nboot;
	char *values[8];     /* owned pool values, by pool */
	int nvalues;
	unsigned long long defsize;
	bool need_cmdline;   /* read the boot loader's defaults at all */
	bool manage_cmdline; /* boot pools or defsize: the command line is desired state */
};

struct hp_have {
	long long *count;    /* per slot */
	char *cmdline;       /* the next boot's (agent/bootcmd.h), NULL when there is none */
	char *running;       /* the hugepage words of /proc/cmdline, NULL when unknown */
};

static void want_free(void *p)
{
	struct hp_want *w = p;
	if (!w)
		return;
	for (int i = 0; i < w->nvalues; i++)
		free(w->values[i]);
	free(w->slots);
	free(w);
}

static void have_free(void *p)
{
	struct hp_have *h = p;
	if (!h)
		return;
	free(h->count);
	free(h->cmdline);
	free(h->running);
	free(h);
}

static const char *szname(unsigned long long size, char *buf, size_t len)
{
	return kf_size_fmt(size, buf, len);
}

static void add_slot(struct hp_want *w, unsigned long long size, int nid, long long count, const char *value)
{
	w->slots = kf_xrealloc(w->slots, (size_t)(w->nslots + 1) * sizeof(*w->slots));
	w->slots[w->nslots++] = (struct slot){ size, nid, count, value };
}

/* Checks one pool against the host; adds per-node byte totals to pernode. */
static void check_pool(struct kf_ctx *ctx, const struct kf_p_hugepages *h, unsigned long long *pernode)
{
	const struct kf_hostinfo *host = ctx->host;
	unsigned long long size = (unsigned long long)h->size;
	char sz[32];
	if (!kf_host_has_hpsize(host, size)) {
		struct kf_buf have = KF_BUF_INIT;
		for (int i = 0; i < host->nhpsizes; i++)
			kf_buf_printf(&have, "%s%s", i ? ", " : "", szname(host->hpsizes[i], sz, sizeof(sz)));
		kf_errf(ctx->err, kf_mark_of(h, "size"), "hugepages: this host has no %s pages (it has: %s)",
			szname(size, sz, sizeof(sz)), have.len ? have.s : "none");
		kf_buf_release(&have);
	}
	if (h->count != KF_UNSET && size * (unsigned long long)h->count > host->mem_total && host->mem_total)
		kf_errf(ctx->err, kf_mark_of(h, "count"),
			"hugepages: %lld %s pages need %llu MiB, the host has %llu MiB", h->count,
			szname(size, sz, sizeof(sz)), MiB(size * (unsigned long long)h->count), MiB(host->mem_total));
	for (size_t j = 0; j < h->per_node.n; j++) {
		const struct kf_p_nodecount *nc = KF_LIST_AT(h->per_node, struct kf_p_nodecount, j);
		const struct kf_numa_node *node = kf_host_node(host, (int)nc->nid);
		if (!node) {
			char list[256];
			struct kf_bitmap ids = { 0 };
			for (int i = 0; i < host->nnodes; i++)
				kf_bitmap_set(&ids, (unsigned)host->nodes[i].id);
			kf_errf(ctx->err, &nc->node->mark, "hugepages: node %lld does not exist on this host (nodes: %s)",
				nc->nid, kf_cpulist_fmt(&ids, list, sizeof(list)));
			continue;
		}
		unsigned long long need = size * (unsigned long long)nc->count;
		if (need > node->mem_bytes)
			kf_errf(ctx->err, &nc->node->mark,
				"hugepages: %lld %s pages need %llu MiB, node %d has %llu MiB", nc->count,
				szname(size, sz, sizeof(sz)), MiB(need), node->id, MiB(node->mem_bytes));
		else
			pernode[node - host->nodes] += need;
	}
}

static int hp_parse(struct kf_ctx *ctx, void **desired)
{
	const struct kf_p_memory *m = ctx->profile->memory;
	*desired = NULL;
	if (!m || (!m->hugepages.n && m->default_hugepage_size == KF_UNSET))
		return 0;
	struct hp_want *w = kf_xcalloc(1, sizeof(*w));
	unsigned long long *pernode = kf_xcalloc((size_t)ctx->host->nnodes, sizeof(*pernode));
	for (size_t i = 0; i < m->hugepages.n && i < 8; i++) {
		const struct kf_p_hugepages *h = KF_LIST_AT(m->hugepages, struct kf_p_hugepages, i);
		unsigned long long size = (unsigned long long)h->size;
		check_pool(ctx, h, pernode);
		struct kf_buf v = KF_BUF_INIT;
		if (h->per_node.n) {
			for (size_t j = 0; j < h->per_node.n; j++) {
				const struct kf_p_nodecount *nc = KF_LIST_AT(h->per_node, struct kf_p_nodecount, j);
				kf_buf_printf(&v, "%s%lld:%lld", j ? "," : "", nc->nid, nc->count);
			}
		} else {
			kf_buf_printf(&v, "%lld", h->count);
		}
		char *value = w->values[w->nvalues++] = kf_buf_detach(&v);
		if (h->boot == 1) {
			w->boot_size[w->nboot] = size;
			w->boot_value[w->nboot++] = value;
			w->need_cmdline = w->manage_cmdline = true;
			continue;
		}
		if (size >= GIGA)
			w->need_cmdline = true;
		if (h->per_node.n)
			for (size_t j = 0; j < h->per_node.n; j++) {
				const struct kf_p_nodecount *nc = KF_LIST_AT(h->per_node, struct kf_p_nodecount, j);
				add_slot(w, size, (int)nc->nid, nc->count, value);
			}
		else
			add_slot(w, size, -1, h->count, value);
	}
	for (int i = 0; i < ctx->host->nnodes; i++)
		if (pernode[i] > ctx->host->nodes[i].mem_bytes)
			kf_errf(ctx->err, kf_mark_of(m, "hugepages"),
				"hugepages: the pools need %llu MiB on node %d, which has %llu MiB",
				MiB(pernode[i]), ctx->host->nodes[i].id, MiB(ctx->host->nodes[i].mem_bytes));
	free(pernode);
	if (m->default_hugepage_size != KF_UNSET) {
		w->defsize = (unsigned long long)m->default_hugepage_size;
		w->need_cmdline = w->manage_cmdline = true;
	}
	*desired = w;
	return 0;
}

static char *slot_path(const struct slot *s)
{
	if (s->nid < 0)
		return kf_xasprintf("/sys/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages", s->size >> 10);
	return kf_xasprintf("/sys/devices/system/node/node%d/hugepages/hugepages-%llukB/nr_hugepages", s->nid,
			    s->size >> 10);
}

static char *slot_what(const struct slot *s)
{
	char sz[32];
	if (s->nid < 0)
		return kf_xasprintf("%s pages", szname(s->size, sz, sizeof(sz)));
	return kf_xasprintf("node%d %s pages", s->nid, szname(s->size, sz, sizeof(sz)));
}

static int hp_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	const struct hp_want *w = desired;
	struct hp_have *a = kf_xcalloc(1, sizeof(*a));
	*actual = a;
	a->count = kf_xcalloc((size_t)w->nslots + 1, sizeof(*a->count));
	int ret = 0;
	for (int i = 0; i < w->nslots; i++) {
		char *path = slot_path(&w->slots[i]);
		int r = kf_host_read_ll(path, &a->count[i]);
		if (r < 0)
			ret = kf_errc(ctx->fail, r, NULL, "%s: %s", path, strerror(-r));
		free(path);
	}
	if (w->need_cmdline) {
		char *run = w->manage_cmdline ? kf_cmdline_running() : NULL;
		a->running = run ? kf_cmdline_hugepages(run) : NULL;
		free(run);
		int r = kf_bootcmd_read(&a->cmdline);
		if (r < 0 && r != -ENOENT)
			ret = kf_errc(ctx->fail, r, NULL, "%s: %s", kf_bootcmd_file(), strerror(-r));
	}
	return ret;
}

/* The command line the profile wants, from the current one. */
static char *want_cmdline(const struct hp_want *w, const char *cur)
{
	char *s = kf_xstrdup(cur ? cur : "");
	for (int i = 0; i < w->nboot; i++) {
		char *n = kf_cmdline_set_hugepages(s, w->boot_size[i], w->boot_value[i]);
		free(s);
		s = n;
	}
	if (w->defsize) {
		char *n = kf_cmdline_set_default_hpsz(s, w->defsize);
		free(s);
		s = n;
	}
	return s;
}

static int hp_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct hp_want *w = desired;
	const struct hp_have *a = actual;
	/* shrink first: it frees memory for the pools that grow */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < w->nslots; i++) {
			const struct slot *s = &w->slots[i];
			long long have = a->count[i];
			if (have == s->count || (pass == 0) != (have > s->count))
				continue;
			char from[32], to[32], *what = slot_what(s);
			snprintf(from, sizeof(from), "%lld", have);
			snprintf(to, sizeof(to), "%lld", s->count);
			struct kf_change *ch = kf_plan_add(plan, "hugepages", from, to, "%s", what);
			free(what);
			ch->data = (void *)s;
			if (s->size >= GIGA && have < s->count && a->cmdline) {
				char *v = kf_cmdline_hp_value(a->cmdline, s->size);
				if (v && !strcmp(v, s->pool_value)) {
					ch->flags |= KF_CH_PENDING | KF_CH_REBOOT;
					ch->reason = kf_xasprintf("reserved on the kernel command line (hugepages=%s): needs reboot", v);
				}
				free(v);
			}
		}
	}
	if (w->manage_cmdline) {
		char *next = want_cmdline(w, a->cmdline);
		char *have = kf_cmdline_hugepages(a->cmdline ? a->cmdline : "");
		char *want = kf_cmdline_hugepages(next);
		if (strcmp(have, want)) {
			struct kf_change *ch = kf_plan_add(plan, "hugepages", *have ? have : NULL, want,
							   "boot hugepages (%s)", kf_bootcmd_where());
			ch->flags |= KF_CH_REBOOT;
			ch->kind = HP_CMDLINE;
			ch->data = (void *)w;
			kf_bootcmd_pend(ch);
		} else {
			kf_bootcmd_reboot_due(plan, "hugepages", "boot hugepages", want, a->running);
		}
		free(next);
		free(have);
		free(want);
	}
	return 0;
}

struct hp_edit {
	const struct hp_want *w;
	const struct slot *fallback; /* only this pool's reservation, after a runtime shortfall */
};

static char *hp_edit(const char *cur, const void *arg)
{
	const struct hp_edit *e = arg;
	return e->fallback ? kf_cmdline_set_hugepages(cur, e->fallback->size, e->fallback->pool_value)
			   : want_cmdline(e->w, cur);
}

static int write_cmdline(struct kf_change *ch, const struct hp_want *w, const struct slot *fallback)
{
	struct hp_edit e = { w, fallback };
	return kf_bootcmd_edit(ch, hp_edit, &e);
}

static int hp_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	(void)ctx;
	if (ch->kind == HP_CMDLINE)
		return write_cmdline(ch, ch->data, NULL);
	const struct slot *s = ch->data;
	char *path = slot_path(s), *back = NULL, val[32], sz[32];
	snprintf(val, sizeof(val), "%lld", s->count);
	int r = kf_sys_write(path, val, &back);
	long long got = -1;
	if (r < 0) {
		ch->reason = kf_xasprintf("%s: writing %s: %s", path, val, strerror(-r));
		goto out;
	}
	if (kf_int_parse(back, &got) < 0 || got != s->count) {
		const char *where = s->nid < 0 ? "" : " on node";
		char nodebuf[16] = "";
		if (s->nid >= 0)
			snprintf(nodebuf, sizeof(nodebuf), " %d", s->nid);
		char *msg = kf_xasprintf("asked for %lld %s pages%s%s, kernel granted %s", s->count,
					 szname(s->size, sz, sizeof(sz)), where, nodebuf, back);
		r = -ENOMEM;
		if (s->size >= GIGA && got < s->count) {
			r = write_cmdline(ch, NULL, s);
			if (r == 0) {
				free(ch->reason); /* the boot loader's note: the message says it all */
				ch->reason = kf_xasprintf("%s; reserved on the kernel command line (hugepages=%s), needs reboot",
							  msg, s->pool_value);
				free(msg);
				goto out;
			}
			char *both = kf_xasprintf("%s; and reserving them on the kernel command line failed: %s", msg,
						  ch->reason ? ch->reason : strerror(-r));
			free(ch->reason);
			ch->reason = NULL;
			free(msg);
			msg = both;
		}
		free(ch->reason);
		ch->reason = msg;
	}
out:
	free(back);
	free(path);
	return r;
}

const struct kf_resource kf_res_hugepages = {
	.name = "hugepages",
	.section = "memory",
	.parse = hp_parse,
	.probe = hp_probe,
	.diff = hp_diff,
	.apply = hp_apply,
	.free_desired = want_free,
	.free_actual = have_free,
};
