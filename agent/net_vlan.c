/* Link kind "vlan" (resource "vlans"): 802.1Q devices on a NIC or bond
 * (network.vlans).  A changed VLAN id or lower device means a new device:
 * the agent recreates only devices it created. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/net.h"
#include "types.h"
#include "util.h"

static void vlan_refs(const struct kf_p_network *n, const void *dev, struct kf_net_refs *out)
{
	(void)n;
	const struct kf_p_vlan *v = dev;
	kf_net_ref_add(out, v, "link", v->link, "vlan %s: link", v->name);
}

static void vlan_diff(const struct kf_net_dx *d, const void *dev, const struct kf_nl_link *l)
{
	const struct kf_p_vlan *v = dev;
	const char *lower = kf_net_ifname(d->h, v->link);
	char to[64], from[64] = "";
	snprintf(to, sizeof(to), "vlan %lld on %s", v->id, lower);
	if (l)
		snprintf(from, sizeof(from), "%s %d on %s", l->kind, l->vlan_id, kf_nl_name(&d->h->snap, l->link));
	if (!l || strcmp(from, to))
		kf_net_create(d, v, l, "vlan", lower, from, to);
	else
		kf_net_diff_link(d, l, v->mtu, NULL);
}

static int vlan_fill(const struct kf_nl_snap *s, const struct kf_net_op *op, struct kf_nl_req *r)
{
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

static void vlan_nd(struct kf_net_pw *pw, const void *dev)
{
	const struct kf_p_vlan *x = dev;
	kf_buf_printf(kf_nd_netdev(pw, x->name, "vlan", x->mtu, NULL), "\n[VLAN]\nId=%lld\n", x->id);
	kf_nd_line(pw, x->link, true, "VLAN=%s", x->name);
}

static void vlan_nm(struct kf_net_pw *pw, const void *dev)
{
	const struct kf_p_vlan *x = dev;
	kf_buf_printf(kf_nm_conn(pw, x->name, "vlan"), "\n[vlan]\nid=%lld\nparent=%s\n", x->id, x->link);
}

static const char *const vlan_kinds[] = { "vlan", NULL };

const struct kf_net_kind kf_net_kind_vlan = {
	.res = "vlans",
	.kinds = vlan_kinds,
	KF_NET_KIND_LIST(struct kf_p_vlan, vlans),
	.refs = vlan_refs,
	.diff = vlan_diff,
	.fill = vlan_fill,
	.persist_nd = vlan_nd,
	.persist_nm = vlan_nm,
};

KF_NET_LINK_RESOURCE(vlans, kf_net_kind_vlan);
