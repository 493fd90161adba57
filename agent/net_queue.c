/* Resource "queues": NIC channel counts (ethtool), then RPS, RFS and XPS
 * per queue in sysfs, and net.core.rps_sock_flow_entries
 * (network.queues, network.rps_sock_flow_entries).
 *
 * Changing the channel count recreates the queues (and a NIC's IRQs), so a
 * channel change is one step that sets the channels, then the IRQ
 * affinity the cpu section gives the device, then RPS/XPS on every new
 * queue; per-queue changes are planned only for devices whose channels
 * stay.  The kernel keeps flow counts as powers of two: so does the diff. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/hostio.h"
#include "agent/host.h"
#include "agent/net.h"
#include "types.h"
#include "util.h"

static long long pow2(long long v)
{
	long long p = 1;
	if (v <= 0)
		return 0;
	while (p < v)
		p <<= 1;
	return p;
}

static int queues_parse(struct kf_ctx *ctx, void **desired)
{
	struct kf_net_want *w = NULL;
	int r = kf_net_parse(ctx, &w);
	*desired = w;
	if (r < 0 || !w)
		return r;
	struct kf_net_refs refs = { 0 };
	for (size_t i = 0; i < w->net->queues.n; i++) {
		const struct kf_p_queue *q = KF_LIST_AT(w->net->queues, struct kf_p_queue, i);
		kf_net_ref_add(&refs, q, "device", q->device, "queues: device");
		const char *keys[] = { "rps_cpus", "xps_cpus" };
		const char *vals[] = { q->rps_cpus, q->xps_cpus };
		for (int k = 0; k < 2 && ctx->host; k++) {
			struct kf_bitmap b;
			if (!vals[k] || kf_cpulist_parse(vals[k], &b) < 0)
				continue;
			if (!kf_bitmap_subset(&b, &ctx->host->present))
				kf_errf(ctx->err, kf_mark_of(q, keys[k]), "queues %s: %s \"%s\" names CPUs this host does not have",
					q->device, keys[k], vals[k]);
		}
	}
	kf_net_check_refs(ctx, w, &refs);
	kf_net_refs_release(&refs);
	return 0;
}

static void add_qf(struct kf_net_have *h, char *path)
{
	h->qf = kf_xrealloc(h->qf, (h->nqf + 1) * sizeof(*h->qf));
	struct kf_net_qfile *f = &h->qf[h->nqf++];
	f->path = path;
	f->value = NULL;
	if (kf_host_read(path, &f->value) < 0)
		f->value = NULL;
}

static const char *qf_get(const struct kf_net_have *h, const char *path)
{
	for (size_t i = 0; i < h->nqf; i++)
		if (!strcmp(h->qf[i].path, path))
			return h->qf[i].value;
	return NULL;
}

/* Number of rx-N or tx-N queues of dev in sysfs. */
static int count_queues(const char *dev, const char *pfx)
{
	char *dir = kf_path("/sys/class/net/%s/queues", dev);
	DIR *d = opendir(dir);
	int n = 0;
	free(dir);
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, pfx, 3))
			n++;
	closedir(d);
	return n;
}

static int queues_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	const struct kf_net_want *w = desired;
	struct kf_net_have *h = NULL;
	int r = kf_net_probe(ctx, desired, &h);
	*actual = h;
	if (r < 0 || !w->live)
		return r;
	h->nch = w->net->queues.n;
	h->ch = kf_xcalloc(h->nch ? h->nch : 1, sizeof(*h->ch));
	for (size_t i = 0; i < w->net->queues.n; i++) {
		const struct kf_p_queue *q = KF_LIST_AT(w->net->queues, struct kf_p_queue, i);
		const char *dev = kf_net_ifname(h, q->device);
		h->ch[i].rx = ~0u;
		if ((q->combined != KF_UNSET || q->rx != KF_UNSET || q->tx != KF_UNSET) &&
		    kf_eth_channels_get(dev, &h->ch[i]) < 0)
			h->ch[i].rx = ~0u;
		int nrx = count_queues(dev, "rx-"), ntx = count_queues(dev, "tx-");
		for (int k = 0; k < nrx; k++) {
			if (q->rps_cpus)
				add_qf(h, kf_xasprintf("/sys/class/net/%s/queues/rx-%d/rps_cpus", dev, k));
			if (q->rps_flow_cnt != KF_UNSET)
				add_qf(h, kf_xasprintf("/sys/class/net/%s/queues/rx-%d/rps_flow_cnt", dev, k));
		}
		for (int k = 0; k < ntx && q->xps_cpus; k++)
			add_qf(h, kf_xasprintf("/sys/class/net/%s/queues/tx-%d/xps_cpus", dev, k));
	}
	if (w->net->rps_sock_flow_entries != KF_UNSET)
		add_qf(h, kf_xstrdup("/proc/sys/net/core/rps_sock_flow_entries"));
	return 0;
}

static void chan_str(const struct kf_eth_channels *c, char *buf, size_t len)
{
	snprintf(buf, len, "combined %u rx %u tx %u", c->combined, c->rx, c->tx);
}

/* The channel counts the profile asks for, others kept; false when the
 * driver has none or they already match. */
static bool want_channels(const struct kf_p_queue *q, const struct kf_eth_channels *cur, struct kf_eth_channels *to)
{
	if (cur->rx == ~0u)
		return false;
	*to = *cur;
	if (q->combined != KF_UNSET) to->combined = (unsigned)q->combined;
	if (q->rx != KF_UNSET) to->rx = (unsigned)q->rx;
	if (q->tx != KF_UNSET) to->tx = (unsigned)q->tx;
	return to->combined != cur->combined || to->rx != cur->rx || to->tx != cur->tx;
}

static void diff_mask(struct kf_plan *plan, const struct kf_net_want *w, const struct kf_net_have *h,
		      const char *dev, const char *path, const char *cpulist, const char *what)
{
	const char *cur = qf_get(h, path);
	struct kf_bitmap want, have;
	char from[256] = "(absent)", to[256], mask[256];
	if (kf_cpulist_parse(cpulist, &want) < 0)
		return;
	if (cur && kf_cpumask_parse(cur, &have) == 0) {
		if (kf_bitmap_equal(&want, &have))
			return;
		kf_cpulist_fmt(&have, from, sizeof(from));
		if (!from[0])
			snprintf(from, sizeof(from), "none");
	}
	kf_cpulist_fmt(&want, to, sizeof(to));
	kf_cpumask_fmt(&want, mask, sizeof(mask));
	struct kf_net_op *op = kf_net_change(plan, "queues", KF_NOP_SYSFS, dev, from, to, "%s", what);
	op->path = kf_xstrdup(path);
	op->text = kf_xstrdup(mask);
	op->w = w;
	(void)h;
}

static void diff_int(struct kf_plan *plan, const struct kf_net_want *w, const struct kf_net_have *h,
		     const char *dev, const char *path, long long want, const char *what)
{
	const char *cur = qf_get(h, path);
	long long have;
	char to[32];
	if (cur && kf_int_parse(cur, &have) == 0 && have == want)
		return;
	snprintf(to, sizeof(to), "%lld", want);
	struct kf_net_op *op = kf_net_change(plan, "queues", KF_NOP_SYSFS, dev, cur ? cur : "(absent)", to, "%s", what);
	op->path = kf_xstrdup(path);
	op->text = kf_xstrdup(to);
	op->w = w;
}

static int queues_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct kf_net_want *w = desired;
	const struct kf_net_have *h = actual;
	if (!w->live) {
		if (w->net->queues.n)
			kf_plan_note(plan, "queues", "queues: not managed under this --root");
		return 0;
	}
	for (size_t i = 0; i < w->net->queues.n && i < h->nch; i++) {
		const struct kf_p_queue *q = KF_LIST_AT(w->net->queues, struct kf_p_queue, i);
		const char *dev = kf_net_ifname(h, q->device);
		struct kf_eth_channels to;
		if ((q->combined != KF_UNSET || q->rx != KF_UNSET || q->tx != KF_UNSET) && h->ch[i].rx == ~0u)
			kf_plan_note(plan, "queues", "%s: the driver has no channel counts", dev);
		if (want_channels(q, &h->ch[i], &to)) {
			char a[64], b[64];
			chan_str(&h->ch[i], a, sizeof(a));
			chan_str(&to, b, sizeof(b));
			struct kf_net_op *op = kf_net_change(plan, "queues", KF_NOP_CHANNELS, dev, a, b, "%s channels", dev);
			op->ch = to;
			op->want = q;
			op->net = w->net;
			op->w = w;
			continue; /* the step sets RPS/XPS on the new queues too */
		}
		for (size_t k = 0; k < h->nqf; k++) {
			const char *p = h->qf[k].path;
			char pfx[64];
			snprintf(pfx, sizeof(pfx), "/sys/class/net/%s/queues/", dev);
			if (strncmp(p, pfx, strlen(pfx)))
				continue;
			const char *qn = p + strlen(pfx); /* rx-3/rps_cpus */
			char what[96];
			snprintf(what, sizeof(what), "%s %.*s %s", dev, (int)strcspn(qn, "/"), qn, strchr(qn, '/') + 1);
			if (strstr(qn, "/rps_cpus"))
				diff_mask(plan, w, h, dev, p, q->rps_cpus, what);
			else if (strstr(qn, "/xps_cpus"))
				diff_mask(plan, w, h, dev, p, q->xps_cpus, what);
			else if (strstr(qn, "/rps_flow_cnt"))
				diff_int(plan, w, h, dev, p, pow2(q->rps_flow_cnt), what);
		}
	}
	if (w->net->rps_sock_flow_entries != KF_UNSET)
		diff_int(plan, w, h, "", "/proc/sys/net/core/rps_sock_flow_entries", pow2(w->net->rps_sock_flow_entries),
			 "net.core.rps_sock_flow_entries");
	return 0;
}

/* IRQ affinity of dev as the cpu section says, after its IRQs changed. */
static void irq_affinity(struct kf_ctx *ctx, const char *dev, const char *ref)
{
	const struct kf_p_cpu *cpu = ctx->profile->cpu;
	for (size_t i = 0; cpu && i < cpu->irq_affinity.n; i++) {
		const struct kf_p_irqaff *a = KF_LIST_AT(cpu->irq_affinity, struct kf_p_irqaff, i);
		if (!a->device || (strcmp(a->device, dev) && strcmp(a->device, ref)))
			continue;
		char *dir = kf_path("/sys/class/net/%s/device/msi_irqs", dev);
		DIR *d = opendir(dir);
		free(dir);
		if (!d)
			continue;
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			char *p = kf_xasprintf("/proc/irq/%s/smp_affinity_list", de->d_name);
			kf_sys_write(p, a->cpus, NULL);
			free(p);
		}
		closedir(d);
	}
}

static int write_all(const char *dev, const char *sub, const char *file, const char *text)
{
	int n = count_queues(dev, sub), r = 0;
	for (int k = 0; k < n; k++) {
		char *p = kf_xasprintf("/sys/class/net/%s/queues/%s%d/%s", dev, sub, k, file);
		int e = kf_sys_write(p, text, NULL);
		if (e < 0 && !r)
			r = e;
		free(p);
	}
	return r;
}

static int queues_own(struct kf_ctx *ctx, struct kf_nl *nl, struct kf_change *ch)
{
	(void)nl;
	struct kf_net_op *op = ch->data;
	if (op->op == KF_NOP_SYSFS)
		return kf_sys_write(op->path, op->text, NULL);
	if (op->op != KF_NOP_CHANNELS)
		return -ENOSYS;
	const struct kf_p_queue *q = op->want;
	int r = kf_eth_channels_set(op->dev, &op->ch);
	if (r < 0)
		return r;
	irq_affinity(ctx, op->dev, q->device);
	struct kf_bitmap b;
	char mask[256];
	if (q->rps_cpus && kf_cpulist_parse(q->rps_cpus, &b) == 0 &&
	    (r = write_all(op->dev, "rx-", "rps_cpus", kf_cpumask_fmt(&b, mask, sizeof(mask)))) < 0)
		return r;
	if (q->rps_flow_cnt != KF_UNSET) {
		char v[32];
		snprintf(v, sizeof(v), "%lld", pow2(q->rps_flow_cnt));
		if ((r = write_all(op->dev, "rx-", "rps_flow_cnt", v)) < 0)
			return r;
	}
	if (q->xps_cpus && kf_cpulist_parse(q->xps_cpus, &b) == 0)
		r = write_all(op->dev, "tx-", "xps_cpus", kf_cpumask_fmt(&b, mask, sizeof(mask)));
	return r;
}

static int queues_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	return kf_net_apply(ctx, ch, queues_own);
}

const struct kf_resource kf_res_net_queues = {
	.name = "queues",
	.section = "network",
	.parse = queues_parse,
	.probe = queues_probe,
	.diff = queues_diff,
	.apply = queues_apply,
	.free_desired = kf_net_want_free,
	.free_actual = kf_net_have_free,
};
