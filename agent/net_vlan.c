/* Resources "vlans" (802.1Q devices on a NIC or bond, network.vlans) and
 * "macvtaps" (macvtap / macvlan devices on a NIC, network.macvtaps).  A
 * changed VLAN id or lower device, or a move to or from passthru mode,
 * means a new device: the agent recreates only devices it created. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/net.h"
#include "types.h"
#include "util.h"

static const char *const mv_modes[] = { "vepa", "bridge", "private", "passthru" };

/* ---- vlans ---- */

static int vlans_parse(struct kf_ctx *ctx, void **desired)
{
	struct kf_net_want *w = NULL;
	int r = kf_net_parse(ctx, &w);
	*desired = w;
	if (r < 0 || !w)
		return r;
	struct kf_net_ref refs[256];
	char whats[256][48];
	size_t nr = 0;
	for (size_t i = 0; i < w->net->vlans.n && nr < KF_ARRAY_SIZE(refs); i++, nr++) {
		const struct kf_p_vlan *v = KF_LIST_AT(w->net->vlans, struct kf_p_vlan, i);
		snprintf(whats[nr], sizeof(whats[nr]), "vlan %s: link", v->name);
		refs[nr] = (struct kf_net_ref){ v, "link", v->link, whats[nr] };
	}
	kf_net_check_refs(ctx, w, refs, nr);
	return 0;
}

static bool vlan_wanted(const struct kf_p_network *n, const char *name)
{
	for (size_t i = 0; i < n->vlans.n; i++)
		if (!strcmp(KF_LIST_AT(n->vlans, struct kf_p_vlan, i)->name, name))
			return true;
	return false;
}

static int vlans_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct kf_net_want *w = desired;
	const struct kf_net_have *h = actual;
	if (!w->live) {
		if (w->net->vlans.n)
			kf_plan_note(plan, "vlans", "vlans: links not managed under this --root");
		return 0;
	}
	for (size_t i = 0; i < w->net->vlans.n; i++) {
		const struct kf_p_vlan *v = KF_LIST_AT(w->net->vlans, struct kf_p_vlan, i);
		const struct kf_nl_link *l = kf_nl_by_name(&h->snap, v->name);
		const char *lower = kf_net_ifname(h, v->link);
		char to[64], from[64] = "";
		snprintf(to, sizeof(to), "vlan %lld on %s", v->id, lower);
		if (l)
			snprintf(from, sizeof(from), "%s %d on %s", l->kind, l->vlan_id, kf_nl_name(&h->snap, l->link));
		if (!l || strcmp(from, to)) {
			struct kf_net_op *op = kf_net_change(plan, "vlans", l ? KF_NOP_RECREATE : KF_NOP_CREATE, v->name,
							     l ? from : NULL, to, "%s", v->name);
			op->kind = "vlan";
			op->want = v;
			op->owned = kf_net_owned(&h->st, v->name) != NULL;
			snprintf(op->arg, sizeof(op->arg), "%s", lower);
			kf_net_guard(op, w, h);
			continue;
		}
		kf_net_diff_link(plan, "vlans", w, h, l, v->mtu, NULL);
	}
	kf_net_diff_gone(plan, "vlans", w, h, "vlan", vlan_wanted);
	return 0;
}

static int vlan_fill(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
		     struct kf_nl_req *r)
{
	(void)nl;
	const struct kf_p_vlan *v = op->want;
	const struct kf_nl_link *lower = kf_nl_by_name(s, op->arg);
	if (!lower)
		return -ENODEV;
	r->link = lower->ifindex;
	r->vlan_id = (int)v->id;
	if (v->mtu != KF_UNSET)
		r->mtu = (int)v->mtu;
	return 0;
}

static int vlans_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	return kf_net_apply(ctx, ch, vlan_fill, NULL);
}

const struct kf_resource kf_res_net_vlans = {
	.name = "vlans",
	.section = "network",
	.parse = vlans_parse,
	.probe = kf_net_probe_links,
	.diff = vlans_diff,
	.apply = vlans_apply,
	.free_desired = kf_net_want_free,
	.free_actual = kf_net_have_free,
};

/* ---- macvtaps ---- */

static int macvtaps_parse(struct kf_ctx *ctx, void **desired)
{
	struct kf_net_want *w = NULL;
	int r = kf_net_parse(ctx, &w);
	*desired = w;
	if (r < 0 || !w)
		return r;
	struct kf_net_ref refs[256];
	char whats[256][48];
	size_t nr = 0;
	for (size_t i = 0; i < w->net->macvtaps.n && nr < KF_ARRAY_SIZE(refs); i++, nr++) {
		const struct kf_p_macvtap *m = KF_LIST_AT(w->net->macvtaps, struct kf_p_macvtap, i);
		snprintf(whats[nr], sizeof(whats[nr]), "macvtap %s: link", m->name);
		refs[nr] = (struct kf_net_ref){ m, "link", m->link, whats[nr] };
	}
	kf_net_check_refs(ctx, w, refs, nr);
	return 0;
}

static bool mv_wanted(const struct kf_p_network *n, const char *name)
{
	for (size_t i = 0; i < n->macvtaps.n; i++)
		if (!strcmp(KF_LIST_AT(n->macvtaps, struct kf_p_macvtap, i)->name, name))
			return true;
	return false;
}

static const char *mv_kind(const struct kf_p_macvtap *m)
{
	return m->kind == KF_MV_MACVLAN ? "macvlan" : "macvtap";
}

static int macvtaps_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct kf_net_want *w = desired;
	const struct kf_net_have *h = actual;
	if (!w->live) {
		if (w->net->macvtaps.n)
			kf_plan_note(plan, "macvtaps", "macvtaps: links not managed under this --root");
		return 0;
	}
	for (size_t i = 0; i < w->net->macvtaps.n; i++) {
		const struct kf_p_macvtap *m = KF_LIST_AT(w->net->macvtaps, struct kf_p_macvtap, i);
		const struct kf_nl_link *l = kf_nl_by_name(&h->snap, m->name);
		const char *lower = kf_net_ifname(h, m->link);
		int cur_mode = l ? kf_net_mv_mode_from_kernel(l->macvlan_mode) : -1;
		char to[64], from[64] = "";
		snprintf(to, sizeof(to), "%s on %s", mv_kind(m), lower);
		if (l)
			snprintf(from, sizeof(from), "%s on %s", l->kind, kf_nl_name(&h->snap, l->link));
		bool passthru_move = l && cur_mode != m->mode &&
				     (cur_mode == KF_MVM_PASSTHRU || m->mode == KF_MVM_PASSTHRU);
		if (!l || strcmp(from, to) || passthru_move) {
			snprintf(to + strlen(to), sizeof(to) - strlen(to), ", %s", mv_modes[m->mode]);
			struct kf_net_op *op = kf_net_change(plan, "macvtaps", l ? KF_NOP_RECREATE : KF_NOP_CREATE,
							     m->name, l ? from : NULL, to, "%s", m->name);
			op->kind = mv_kind(m);
			op->want = m;
			op->owned = kf_net_owned(&h->st, m->name) != NULL;
			snprintf(op->arg, sizeof(op->arg), "%s", lower);
			kf_net_guard(op, w, h);
			continue;
		}
		if (cur_mode != m->mode) {
			struct kf_net_op *op = kf_net_change(plan, "macvtaps", KF_NOP_MV_MODE, m->name,
							     cur_mode >= 0 ? mv_modes[cur_mode] : "?", mv_modes[m->mode],
							     "%s mode", m->name);
			op->val = kf_net_mv_mode_to_kernel(m->mode);
			kf_net_guard(op, w, h);
		}
		kf_net_diff_link(plan, "macvtaps", w, h, l, m->mtu, m->mac);
	}
	kf_net_diff_gone(plan, "macvtaps", w, h, "macvtap", mv_wanted);
	kf_net_diff_gone(plan, "macvtaps", w, h, "macvlan", mv_wanted);
	return 0;
}

static int mv_fill(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
		   struct kf_nl_req *r)
{
	(void)nl;
	const struct kf_p_macvtap *m = op->want;
	static uint8_t mac[6];
	const struct kf_nl_link *lower = kf_nl_by_name(s, op->arg);
	if (!lower)
		return -ENODEV;
	r->link = lower->ifindex;
	r->macvlan_mode = kf_net_mv_mode_to_kernel(m->mode);
	if (m->mtu != KF_UNSET)
		r->mtu = (int)m->mtu;
	if (m->mac && kf_mac_parse(m->mac, mac) == 0)
		r->mac = mac;
	return 0;
}

static int macvtaps_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	return kf_net_apply(ctx, ch, mv_fill, NULL);
}

const struct kf_resource kf_res_net_macvtaps = {
	.name = "macvtaps",
	.section = "network",
	.parse = macvtaps_parse,
	.probe = kf_net_probe_links,
	.diff = macvtaps_diff,
	.apply = macvtaps_apply,
	.free_desired = kf_net_want_free,
	.free_actual = kf_net_have_free,
};
