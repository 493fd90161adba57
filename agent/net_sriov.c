/* Resource "sriov": the number of VFs of a physical function (sysfs
 * sriov_numvfs, through 0 when it changes, as the kernel requires) and
 * each listed VF's MAC, VLAN, trust and spoof checking (rtnetlink
 * IFLA_VF_*), network.sriov. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/hostio.h"
#include "agent/net.h"
#include "types.h"
#include "util.h"

static int sriov_parse(struct kf_ctx *ctx, void **desired)
{
	struct kf_net_want *w = NULL;
	int r = kf_net_parse(ctx, &w);
	*desired = w;
	if (r < 0 || !w)
		return r;
	struct kf_net_refs refs = { 0 };
	for (size_t i = 0; i < w->net->sriov.n; i++) {
		const struct kf_p_sriov *s = KF_LIST_AT(w->net->sriov, struct kf_p_sriov, i);
		kf_net_ref_add(&refs, s, "device", s->device, "sriov: device");
	}
	kf_net_check_refs(ctx, w, &refs);
	kf_net_refs_release(&refs);
	if (!w->live)
		return 0;
	/* the host's limit, when the device exists and says it */
	for (size_t i = 0; i < w->net->sriov.n; i++) {
		const struct kf_p_sriov *s = KF_LIST_AT(w->net->sriov, struct kf_p_sriov, i);
		char *p = kf_xasprintf("/sys/class/net/%s/device/sriov_totalvfs", s->device);
		long long total;
		if (kf_host_read_ll(p, &total) == 0 && s->vfs > total)
			kf_errf(ctx->err, kf_mark_of(s, "vfs"), "sriov %s: %lld VFs, the device has at most %lld",
				s->device, s->vfs, total);
		free(p);
	}
	return 0;
}

static int sriov_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	const struct kf_net_want *w = desired;
	struct kf_net_have *h = NULL;
	int r = kf_net_probe(ctx, desired, &h);
	*actual = h;
	if (r < 0 || !w->live)
		return r;
	for (size_t i = 0; i < w->net->sriov.n; i++) {
		const struct kf_p_sriov *s = KF_LIST_AT(w->net->sriov, struct kf_p_sriov, i);
		h->qf = kf_xrealloc(h->qf, (h->nqf + 1) * sizeof(*h->qf));
		struct kf_net_qfile *f = &h->qf[h->nqf++];
		f->path = kf_xasprintf("/sys/class/net/%s/device/sriov_numvfs", kf_net_ifname(h, s->device));
		if (kf_host_read(f->path, &f->value) < 0)
			f->value = NULL;
	}
	return 0;
}

static const struct kf_nl_vf *find_vf(const struct kf_nl_link *l, long long idx)
{
	for (int i = 0; l && i < l->nvfs; i++)
		if (l->vfs[i].vf == idx)
			return &l->vfs[i];
	return NULL;
}

static void diff_vf(struct kf_plan *plan, const struct kf_net_want *w, const char *dev,
		    const struct kf_p_vf *vf, const struct kf_nl_vf *cur)
{
	char have[96], want[96], mac[18] = "";
	if (cur)
		kf_mac_fmt(cur->mac, mac);
	bool diff = !cur || (vf->mac && strcmp(vf->mac, mac)) || (vf->vlan != KF_UNSET && cur->vlan != vf->vlan) ||
		    (vf->trust >= 0 && cur->trust != vf->trust) || (vf->spoofchk >= 0 && cur->spoofchk != vf->spoofchk);
	if (!diff)
		return;
	if (cur)
		snprintf(have, sizeof(have), "mac %s vlan %d trust %d spoofchk %d", mac, cur->vlan, cur->trust, cur->spoofchk);
	snprintf(want, sizeof(want), "mac %s vlan %lld trust %d spoofchk %d", vf->mac ? vf->mac : "-",
		 vf->vlan != KF_UNSET ? vf->vlan : -1, vf->trust, vf->spoofchk);
	struct kf_net_op *op = kf_net_change(plan, "sriov", KF_NOP_VF, dev, cur ? have : NULL, want, "%s vf %lld", dev,
					     vf->index);
	op->want = vf;
	op->w = w;
}

static int sriov_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct kf_net_want *w = desired;
	const struct kf_net_have *h = actual;
	if (!w->live) {
		if (w->net->sriov.n)
			kf_plan_note(plan, "sriov", "sriov: not managed under this --root");
		return 0;
	}
	for (size_t i = 0; i < w->net->sriov.n && i < h->nqf; i++) {
		const struct kf_p_sriov *s = KF_LIST_AT(w->net->sriov, struct kf_p_sriov, i);
		const char *dev = kf_net_ifname(h, s->device);
		const char *cur = h->qf[i].value;
		long long n = -1;
		if (!cur || kf_int_parse(cur, &n) < 0) {
			kf_plan_note(plan, "sriov", "%s: no SR-IOV (no sriov_numvfs)", dev);
			continue;
		}
		char to[32];
		snprintf(to, sizeof(to), "%lld", s->vfs);
		if (n != s->vfs) {
			struct kf_net_op *op = kf_net_change(plan, "sriov", KF_NOP_NUMVFS, dev, cur, to, "%s vfs", dev);
			op->path = kf_xstrdup(h->qf[i].path);
			op->val = s->vfs;
			op->w = w;
		}
		const struct kf_nl_link *l = kf_nl_by_name(&h->snap, dev);
		for (size_t j = 0; j < s->vf.n; j++) {
			const struct kf_p_vf *vf = KF_LIST_AT(s->vf, struct kf_p_vf, j);
			diff_vf(plan, w, dev, vf, n == s->vfs ? find_vf(l, vf->index) : NULL);
		}
	}
	return 0;
}

static int sriov_own(struct kf_ctx *ctx, struct kf_nl *nl, struct kf_change *ch)
{
	(void)ctx;
	struct kf_net_op *op = ch->data;
	if (op->op == KF_NOP_NUMVFS) {
		char *cur = NULL;
		int r = kf_host_read(op->path, &cur);
		if (r == 0 && strcmp(cur, "0") && op->val)
			r = kf_sys_write(op->path, "0", NULL);
		free(cur);
		char v[32];
		snprintf(v, sizeof(v), "%lld", op->val);
		return r < 0 ? r : kf_sys_write(op->path, v, NULL);
	}
	if (op->op != KF_NOP_VF)
		return -ENOSYS;
	const struct kf_p_vf *vf = op->want;
	struct kf_nl_snap s = { 0 };
	int r = kf_nl_dump(nl, KF_NL_LINKS, &s);
	const struct kf_nl_link *l = r == 0 ? kf_nl_by_name(&s, op->dev) : NULL;
	uint8_t mac[6];
	if (!r && !l)
		r = -ENODEV;
	if (!r)
		r = kf_nl_vf_set(nl, l->ifindex, (int)vf->index, vf->mac && kf_mac_parse(vf->mac, mac) == 0 ? mac : NULL,
				 vf->vlan != KF_UNSET ? (int)vf->vlan : -1, vf->trust, vf->spoofchk);
	kf_nl_snap_release(&s);
	return r;
}

static int sriov_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	return kf_net_apply(ctx, ch, sriov_own);
}

const struct kf_resource kf_res_net_sriov = {
	.name = "sriov",
	.section = "network",
	.parse = sriov_parse,
	.probe = sriov_probe,
	.diff = sriov_diff,
	.apply = sriov_apply,
	.free_desired = kf_net_want_free,
	.free_actual = kf_net_have_free,
};
