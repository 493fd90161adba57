/* Resource "irq_affinity": manual IRQ affinity
 * (/proc/irq/N/smp_affinity_list), by IRQ number or for every IRQ of a NIC
 * (by name or MAC: the msi_irqs of its PCI function, else its lines in
 * /proc/interrupts; kf_nic_irqs).  IRQs the kernel refuses to move (managed
 * IRQs, per-CPU timers) are reported as skipped, not as failures, and
 * remembered in STATE_DIR/irq-refused ("IRQ WANTED STAYED" lines): while
 * an IRQ still has the affinity it kept then and the profile still wants
 * the same, later runs note "refused by the kernel" instead of planning
 * the same write again.  A new wanted list or a moved IRQ is tried anew.
 *
 * So that irqbalance does not move them back, each IRQ pinned here gets a
 * --banirq=N in IRQBALANCE_ARGS (/etc/sysconfig/irqbalance or
 * /etc/default/irqbalance, where the host has irqbalance and the profile
 * does not turn it off), and a running irqbalance is restarted.  Words the
 * file already has are kept; a ban is not taken back when the profile
 * stops pinning the IRQ. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/bootcmd.h"
#include "agent/engine.h"
#include "agent/host.h"
#include "agent/hostio.h"
#include "agent/resource.h"
#include "types.h"
#include "util.h"

struct aff_want {
	const struct kf_p_irqaff **v;
	size_t n;
};

struct aff_irq {
	int irq;
	char *label; /* "eth0" or NULL */
	char *cur;   /* normalised cpulist */
	const char *want;
};

struct aff_have {
	struct aff_irq *v;
	size_t n, cap;
	char *refused; /* STATE_DIR/irq-refused as read, NULL absent */
	const char *irqb_conf; /* irqbalance's config file, NULL: no irqbalance to tell */
	char *irqb_args;       /* its IRQBALANCE_ARGS, NULL unset */
};

/* kf_change.kind: the default is the affinity write */
enum aff_kind { AFF_WRITE, AFF_BANIRQ };

static void want_free(void *p)
{
	struct aff_want *w = p;
	if (w)
		free(w->v);
	free(w);
}

static void have_free(void *p)
{
	struct aff_have *h = p;
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].label);
		free(h->v[i].cur);
	}
	free(h->v);
	free(h->refused);
	free(h->irqb_args);
	free(h);
}

static int aff_parse(struct kf_ctx *ctx, void **desired)
{
	const struct kf_p_cpu *c = ctx->profile->cpu;
	*desired = NULL;
	if (!c || !c->irq_affinity.n)
		return 0;
	struct aff_want *w = kf_xcalloc(1, sizeof(*w));
	w->v = kf_xcalloc(c->irq_affinity.n, sizeof(*w->v));
	for (size_t i = 0; i < c->irq_affinity.n; i++) {
		const struct kf_p_irqaff *a = KF_LIST_AT(c->irq_affinity, struct kf_p_irqaff, i);
		struct kf_bitmap b;
		char buf[256];
		if (kf_cpulist_parse(a->cpus, &b) == 0 && !kf_bitmap_subset(&b, &ctx->host->present))
			kf_errf(ctx->err, kf_mark_of(a, "cpus"),
				"irq_affinity: CPUs %s are not all present on this host (present: %s)", a->cpus,
				kf_cpulist_fmt(&ctx->host->present, buf, sizeof(buf)));
		w->v[w->n++] = a;
	}
	*desired = w;
	return 0;
}

/* The interface name for a name or MAC; malloc'd, NULL if not found. */
static char *resolve_dev(const char *dev)
{
	uint8_t mac[6];
	if (kf_mac_parse(dev, mac) < 0) {
		char *rel = kf_xasprintf("/sys/class/net/%s", dev);
		bool ok = kf_host_exists(rel);
		free(rel);
		return ok ? kf_xstrdup(dev) : NULL;
	}
	char want[18], *dir = kf_path("/sys/class/net"), *found = NULL;
	kf_mac_fmt(mac, want);
	DIR *d = opendir(dir);
	free(dir);
	if (!d)
		return NULL;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *rel = kf_xasprintf("/sys/class/net/%s/address", de->d_name), *addr = NULL, norm[18];
		if (kf_host_read(rel, &addr) == 0 && kf_mac_norm(addr, norm) == 0 && !strcmp(norm, want))
			found = kf_xstrdup(de->d_name);
		free(addr);
		free(rel);
	}
	closedir(d);
	return found;
}

static char *refused_path(const struct kf_ctx *ctx)
{
	return kf_xasprintf("%s/irq-refused", ctx->state_dir ? ctx->state_dir : KF_STATE_DIR_DEFAULT);
}

static void add_irq(struct aff_have *h, int irq, const char *label, const char *want)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].irq == irq)
			return; /* the first entry naming an IRQ wins */
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 16;
		h->v = kf_xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	h->v[h->n++] = (struct aff_irq){ irq, label ? kf_xstrdup(label) : NULL, NULL, want };
}

static void probe_irqbalance(const struct kf_ctx *ctx, struct aff_have *h)
{
	const struct kf_p_cpu *c = ctx->profile->cpu;
	if (c && c->irqbalance && c->irqbalance->mode == KF_IRQB_OFF)
		return;
	h->irqb_conf = kf_host_exists("/etc/sysconfig/irqbalance") ? "/etc/sysconfig/irqbalance"
		       : kf_host_exists("/etc/default/irqbalance") ? "/etc/default/irqbalance"
								   : NULL;
	char *text = NULL;
	if (h->irqb_conf && kf_host_read(h->irqb_conf, &text) == 0)
		h->irqb_args = kf_shvar_get(text, "IRQBALANCE_ARGS");
	free(text);
}

static int aff_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	const struct aff_want *w = desired;
	struct aff_have *h = kf_xcalloc(1, sizeof(*h));
	*actual = h;
	for (size_t i = 0; i < w->n; i++) {
		const struct kf_p_irqaff *a = w->v[i];
		if (!a->device) {
			add_irq(h, (int)a->irq, NULL, a->cpus);
			continue;
		}
		char *name = resolve_dev(a->device);
		if (!name) {
			kf_errf(ctx->fail, NULL, "no network device \"%s\" on this host", a->device);
			continue;
		}
		int irqs[256];
		size_t n = 0;
		int r = kf_nic_irqs(name, irqs, KF_ARRAY_SIZE(irqs), &n);
		if (r < 0)
			kf_errf(ctx->fail, NULL, "/proc/interrupts: %s", strerror(-r));
		else if (!n)
			kf_errf(ctx->fail, NULL, "network device %s has no IRQs", name);
		for (size_t j = 0; j < n; j++)
			add_irq(h, irqs[j], name, a->cpus);
		free(name);
	}
	for (size_t i = 0; i < h->n; i++) {
		char path[64], *s = NULL, norm[1024];
		snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list", h->v[i].irq);
		int r = kf_host_read(path, &s);
		if (r < 0)
			kf_errf(ctx->fail, NULL, "irq %d: %s: %s", h->v[i].irq, path,
				r == -ENOENT ? "no such IRQ" : strerror(-r));
		else
			h->v[i].cur = kf_xstrdup(kf_cpulist_norm(s, norm, sizeof(norm)) == 0 ? norm : s);
		free(s);
	}
	char *rel = refused_path(ctx);
	kf_host_read(rel, &h->refused);
	free(rel);
	probe_irqbalance(ctx, h);
	return 0;
}

/* True when text (the irq-refused file) says the kernel refused to move
 * irq from cur to want. */
static bool was_refused(const char *text, int irq, const char *want, const char *cur)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%d %s %s", irq, want, cur);
	for (const char *p = text; p && *p && n > 0 && (size_t)n < sizeof(line);) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len == (size_t)n && !strncmp(p, line, len))
			return true;
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

static void diff_banirq(const struct aff_have *h, struct kf_plan *plan)
{
	if (!h->irqb_conf || !h->n)
		return;
	int *irqs = kf_xcalloc(h->n, sizeof(*irqs));
	for (size_t i = 0; i < h->n; i++)
		irqs[i] = h->v[i].irq;
	char *to = kf_irqb_args_banirq(h->irqb_args, irqs, h->n);
	free(irqs);
	if (!to)
		return;
	struct kf_change *ch = kf_plan_add(plan, "irq_affinity", h->irqb_args, to,
					   "IRQBALANCE_ARGS --banirq");
	ch->kind = AFF_BANIRQ;
	ch->data = (void *)h->irqb_conf; /* a static string */
	free(to);
}

static int aff_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	(void)desired;
	const struct aff_have *h = actual;
	diff_banirq(h, plan);
	for (size_t i = 0; i < h->n; i++) {
		const struct aff_irq *q = &h->v[i];
		if (!q->cur || !strcmp(q->cur, q->want))
			continue;
		if (was_refused(h->refused, q->irq, q->want, q->cur)) {
			kf_plan_note(plan, "irq_affinity", "irq %d%s%s%s: refused by the kernel (stays %s, wanted %s)",
				     q->irq, q->label ? " (" : "", q->label ? q->label : "", q->label ? ")" : "", q->cur,
				     q->want);
			continue;
		}
		struct kf_change *ch;
		if (q->label)
			ch = kf_plan_add(plan, "irq_affinity", q->cur, q->want, "irq %d (%s)", q->irq, q->label);
		else
			ch = kf_plan_add(plan, "irq_affinity", q->cur, q->want, "irq %d", q->irq);
		char path[64];
		snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list", q->irq);
		kf_change_syswrite(ch, path, q->want);
	}
	return 0;
}

static const char *norm_list(const char *s, char *buf, size_t len)
{
	return kf_cpulist_norm(s, buf, len) == 0 ? buf : NULL;
}

/* Adds "IRQ WANT CUR" to the irq-refused file, dropping older lines of
 * the same IRQ. */
static int remember_refused(struct kf_ctx *ctx, const struct kf_change *ch)
{
	int irq;
	if (sscanf(ch->what, "irq %d", &irq) != 1 || !ch->from)
		return -EINVAL;
	char *rel = refused_path(ctx), *old = NULL, prefix[16];
	struct kf_buf b = { 0 };
	kf_host_read(rel, &old);
	int n = snprintf(prefix, sizeof(prefix), "%d ", irq);
	for (char *p = old, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len && strncmp(p, prefix, (size_t)n))
			kf_buf_printf(&b, "%.*s\n", (int)len, p);
	}
	kf_buf_printf(&b, "%d %s %s\n", irq, ch->to, ch->from);
	char *text = kf_buf_detach(&b);
	int r = kf_etc_write(rel, text);
	free(text);
	free(old);
	free(rel);
	return r;
}

/* Adds the bans to the file as it is now (irqbalance's own resource may
 * have changed IRQBALANCE_ARGS earlier in the run), then restarts a
 * running irqbalance on the real host. */
static int apply_banirq(struct kf_change *ch)
{
	const char *conf = ch->data;
	char *text = NULL, *full = kf_path("%s", conf);
	int r = kf_read_file(full, 1u << 20, &text, NULL);
	free(full);
	if (r < 0) {
		ch->reason = kf_xasprintf("%s: %s", conf, strerror(-r));
		return r;
	}
	int irqs[256];
	size_t n = 0;
	for (const char *p = ch->to; (p = strstr(p, "--banirq=")) && n < KF_ARRAY_SIZE(irqs); p++)
		irqs[n++] = atoi(p + strlen("--banirq="));
	char *cur = kf_shvar_get(text, "IRQBALANCE_ARGS"), *args = kf_irqb_args_banirq(cur, irqs, n);
	char *next = args ? kf_shvar_set(text, "IRQBALANCE_ARGS", args) : NULL;
	if (next && (r = kf_etc_write(conf, next)) < 0)
		ch->reason = kf_xasprintf("%s: %s", conf, strerror(-r));
	if (r == 0 && !kf_sysroot_is_host())
		ch->reason = kf_xstrdup("irqbalance is not restarted under --root");
	else if (r == 0 && kf_proc_running("irqbalance")) {
		const char *argv[] = { "systemctl", "try-restart", "irqbalance.service", NULL };
		int e = kf_host_run(argv);
		if (e != 0)
			ch->reason = kf_xasprintf("written; systemctl try-restart irqbalance.service: %s",
						  e < 0 ? strerror(-e) : "failed");
	}
	free(next);
	free(args);
	free(cur);
	free(text);
	return r;
}

static int aff_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	if (ch->kind == AFF_BANIRQ)
		return apply_banirq(ch);
	int r = kf_apply_syswrite(ch, norm_list);
	if (r < 0) {
		/* not fatal: the kernel decides which IRQs may move */
		ch->status = KF_ST_SKIPPED;
		char *why = kf_xasprintf("refused by the kernel: %s", ch->reason ? ch->reason : strerror(-r));
		int e = remember_refused(ctx, ch);
		free(ch->reason);
		ch->reason = e < 0 ? kf_xasprintf("%s (not remembered: %s)", why, strerror(-e)) : why;
		if (e < 0)
			free(why);
	}
	return 0;
}

const struct kf_resource kf_res_irq_affinity = {
	.name = "irq_affinity",
	.section = "cpu",
	.parse = aff_parse,
	.probe = aff_probe,
	.diff = aff_diff,
	.apply = aff_apply,
	.free_desired = want_free,
	.free_actual = have_free,
};
