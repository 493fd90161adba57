/* Link kind "macvtap" (resource "macvtaps"): macvtap and macvlan devices
 * on a NIC (network.macvtaps).  A changed lower device or kind, or a move
 * to or from passthru mode, means a new device: the agent recreates only
 * devices it created; other mode changes are made in place. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/net.h"
#include "types.h"
#include "util.h"

static const char *const mv_modes[] = { "vepa", "bridge", "private", "passthru" };

int kf_net_mv_mode_to_kernel(int m)
{
	static const int k[] = { 2 /* vepa */, 4 /* bridge */, 1 /* private */, 8 /* passthru */ };
	return m >= 0 && m < 4 ? k[m] : -1;
}

int kf_net_mv_mode_from_kernel(int kmode)
{
	switch (kmode) {
	case 2: return KF_MVM_VEPA;
	case 4: return KF_MVM_BRIDGE;
	case 1: return KF_MVM_PRIVATE;
	case 8: return KF_MVM_PASSTHRU;
	}
	return -1;
}

static const char *mv_kind(const struct kf_p_macvtap *m)
{
	return m->kind == KF_MV_MACVLAN ? "macvlan" : "macvtap";
}

static void mv_refs(const struct kf_p_network *n, const void *dev, struct kf_net_refs *out)
{
	(void)n;
	const struct kf_p_macvtap *m = dev;
	kf_net_ref_add(out, m, "link", m->link, "macvtap %s: link", m->name);
}

static void mv_diff(const struct kf_net_dx *d, const void *dev, const struct kf_nl_link *l)
{
	const struct kf_p_macvtap *m = dev;
	const char *lower = kf_net_ifname(d->h, m->link);
	int cur_mode = l ? kf_net_mv_mode_from_kernel(l->macvlan_mode) : -1;
	char to[64], from[64] = "";
	snprintf(to, sizeof(to), "%s on %s", mv_kind(m), lower);
	if (l)
		snprintf(from, sizeof(from), "%s on %s", l->kind, kf_nl_name(&d->h->snap, l->link));
	bool passthru_move = l && cur_mode != m->mode && (cur_mode == KF_MVM_PASSTHRU || m->mode == KF_MVM_PASSTHRU);
	if (!l || strcmp(from, to) || passthru_move) {
		snprintf(to + strlen(to), sizeof(to) - strlen(to), ", %s", mv_modes[m->mode]);
		kf_net_create(d, m, l, mv_kind(m), lower, from, to);
		return;
	}
	if (cur_mode != m->mode)
		kf_net_opt(d, m->name, "mode", cur_mode >= 0 ? mv_modes[cur_mode] : "?", mv_modes[m->mode])->val =
			kf_net_mv_mode_to_kernel(m->mode);
	kf_net_diff_link(d, l, m->mtu, m->mac);
}

static int mv_fill(const struct kf_nl_snap *s, const struct kf_net_op *op, struct kf_nl_req *r)
{
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

static int mv_set(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
		  const struct kf_nl_link *l)
{
	(void)s;
	struct kf_nl_req q;
	if (strcmp(op->opt, "mode"))
		return -EINVAL;
	kf_nl_req_init(&q);
	q.ifindex = l->ifindex;
	q.kind = l->kind;
	q.macvlan_mode = (int)op->val;
	return kf_nl_link_change(nl, &q);
}

static void mv_nd(struct kf_net_pw *pw, const void *dev)
{
	const struct kf_p_macvtap *x = dev;
	bool tap = x->kind != KF_MV_MACVLAN;
	kf_buf_printf(kf_nd_netdev(pw, x->name, mv_kind(x), x->mtu, x->mac), "\n[%s]\nMode=%s\n",
		      tap ? "MACVTAP" : "MACVLAN", mv_modes[x->mode]);
	kf_nd_line(pw, x->link, true, "%s=%s", tap ? "MACVTAP" : "MACVLAN", x->name);
}

/* NetworkManager numbers the modes in the profile's order from 1. */
static void mv_nm(struct kf_net_pw *pw, const void *dev)
{
	const struct kf_p_macvtap *x = dev;
	kf_buf_printf(kf_nm_conn(pw, x->name, "macvlan"), "\n[macvlan]\nmode=%d\nparent=%s\ntap=%s\n", x->mode + 1,
		      x->link, x->kind == KF_MV_MACVLAN ? "false" : "true");
}

static const char *const mv_kinds[] = { "macvtap", "macvlan", NULL };

const struct kf_net_kind kf_net_kind_macvtap = {
	.res = "macvtaps",
	.kinds = mv_kinds,
	KF_NET_KIND_LIST(struct kf_p_macvtap, macvtaps),
	.refs = mv_refs,
	.diff = mv_diff,
	.fill = mv_fill,
	.set = mv_set,
	.persist_nd = mv_nd,
	.persist_nm = mv_nm,
};

KF_NET_LINK_RESOURCE(macvtaps, kf_net_kind_macvtap);
