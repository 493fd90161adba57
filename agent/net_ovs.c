/* Link kind "ovs" (resource "ovs"): Open vSwitch bridges, the
 * bridges of network.bridges with backend: ovs, live through OVSDB
 * (agent/ovsdb.c).  The kind takes over, from the other kinds' lists, the
 * bonds that are ports of an OVS bridge (an OVS bond: active-backup, or
 * balance-slb / balance-tcp, with LACP for 802.3ad) and the VLANs whose
 * link is an OVS bridge (an internal port of that name with the VLAN's
 * tag).  Each port is compared as OVS describes it (interfaces, tag, bond
 * mode, LACP): a port that differs is replaced in one transaction.
 * Addresses and the default route on the bridge are the Linux bridge's
 * (kf_net_bridge_l3).  ovsdb keeps the configuration across reboots; the
 * bridge's addresses go into its networkd .network.  A rollback deletes
 * the bridges and ports this run added and puts back ports it replaced or
 * removed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/hostio.h"
#include "agent/net.h"
#include "agent/ovsdb.h"
#include "types.h"
#include "util.h"

#define BRIDGES offsetof(struct kf_p_network, bridges)
#define BONDS offsetof(struct kf_p_network, bonds)
#define VLANS offsetof(struct kf_p_network, vlans)

static const struct kf_p_bridge *ovs_bridge(const struct kf_p_network *n, const char *name)
{
	for (size_t i = 0; name && i < n->bridges.n; i++) {
		const struct kf_p_bridge *b = KF_LIST_AT(n->bridges, struct kf_p_bridge, i);
		if (kf_bridge_ovs(n, b) && !strcmp(b->name, name))
			return b;
	}
	return NULL;
}

/* The OVS bridge listing port, or NULL. */
static const struct kf_p_bridge *ovs_bridge_of(const struct kf_p_network *n, const char *port)
{
	for (size_t i = 0; i < n->bridges.n; i++) {
		const struct kf_p_bridge *b = KF_LIST_AT(n->bridges, struct kf_p_bridge, i);
		for (size_t j = 0; kf_bridge_ovs(n, b) && j < b->ports.n; j++)
			if (!strcmp(KF_LIST_STR(b->ports, j), port))
				return b;
	}
	return NULL;
}

static const struct kf_p_bond *bond_named(const struct kf_p_network *n, const char *name)
{
	for (size_t i = 0; i < n->bonds.n; i++)
		if (!strcmp(KF_LIST_AT(n->bonds, struct kf_p_bond, i)->name, name))
			return KF_LIST_AT(n->bonds, struct kf_p_bond, i);
	return NULL;
}

static bool ovs_takes(const struct kf_p_network *n, size_t off, const void *dev)
{
	if (off == BRIDGES)
		return kf_bridge_ovs(n, dev);
	if (off == BONDS)
		return ovs_bridge_of(n, ((const struct kf_p_bond *)dev)->name) != NULL;
	if (off == VLANS)
		return ovs_bridge(n, ((const struct kf_p_vlan *)dev)->link) != NULL;
	return false;
}

/* OVS's bond_mode for the profile's mode, or NULL when OVS has none. */
static const char *bond_mode(const struct kf_p_bond *b)
{
	switch (b->mode) {
	case KF_BOND_AB: return "active-backup";
	case KF_BOND_8023AD: return b->xmit_hash_policy == KF_XH_L34 ? "balance-tcp" : "balance-slb";
	case KF_BOND_XOR:
	case KF_BOND_TLB:
	case KF_BOND_ALB: return "balance-slb";
	}
	return NULL;
}

/* ---- parse ---- */

static void check_bond(struct kf_ctx *ctx, const struct kf_p_bridge *br, const struct kf_p_bond *b)
{
	if (!bond_mode(b))
		kf_errf(ctx->err, kf_mark_of(b, "mode"),
			"bond %s: Open vSwitch bridge %s has no such bond mode (active-backup, balance-xor, "
			"balance-tlb, balance-alb or 802.3ad)",
			b->name, br->name);
	if (b->members.n > KF_OVS_MAXIF)
		kf_errf(ctx->err, kf_mark_of(b, "members"), "bond %s: at most %d members on Open vSwitch", b->name,
			KF_OVS_MAXIF);
}

static void ovs_check(struct kf_ctx *ctx, const struct kf_net_want *w, const void *dev)
{
	const struct kf_p_bridge *b = dev;
	if (w->live && !kf_host_exists(KF_OVS_SOCK))
		kf_errf(ctx->err, kf_mark_of(b, "backend"),
			"bridge %s: backend ovs, but Open vSwitch is not running on this host (no %s)", b->name,
			KF_OVS_SOCK);
	if (b->forward_delay != KF_UNSET)
		kf_errf(ctx->err, kf_mark_of(b, "forward_delay"), "bridge %s: forward_delay is for linux bridges",
			b->name);
	if (b->mac)
		kf_errf(ctx->err, kf_mark_of(b, "mac"), "bridge %s: mac is for linux bridges", b->name);
	for (size_t i = 0; i < b->ports.n; i++) {
		const struct kf_p_bond *bond = bond_named(w->net, KF_LIST_STR(b->ports, i));
		if (bond)
			check_bond(ctx, b, bond);
	}
}

/* Its ports, the members of its bonds, the VLANs on it. */
static void ovs_refs(const struct kf_p_network *n, const void *dev, struct kf_net_refs *out)
{
	const struct kf_p_bridge *b = dev;
	for (size_t i = 0; i < b->ports.n; i++) {
		const char *p = KF_LIST_STR(b->ports, i);
		const struct kf_p_bond *bond = bond_named(n, p);
		for (size_t j = 0; bond && j < bond->members.n; j++)
			kf_net_ref_add(out, bond, "members", KF_LIST_STR(bond->members, j), "bond %s: member", bond->name);
		if (!bond)
			kf_net_ref_add(out, b, "ports", p, "bridge %s: port", b->name);
	}
	for (size_t i = 0; i < n->vlans.n; i++) {
		const struct kf_p_vlan *v = KF_LIST_AT(n->vlans, struct kf_p_vlan, i);
		if (!strcmp(v->link, b->name))
			kf_net_ref_add(out, v, "name", v->name, "vlan %s", v->name);
	}
}

static const struct kf_list *ovs_ports(const void *dev)
{
	return &((const struct kf_p_bridge *)dev)->ports;
}

/* ---- probe ---- */

static int ovsk_probe(struct kf_ctx *ctx, const struct kf_net_want *w, struct kf_net_have *h)
{
	(void)w;
	struct kf_ovs *o = NULL;
	struct kf_ovs_snap *s = kf_xcalloc(1, sizeof(*s));
	char *sock = kf_path(KF_OVS_SOCK);
	h->own = s;
	int r = kf_ovs_open(sock, &o);
	if (r == 0)
		r = kf_ovs_dump(o, s);
	if (r < 0)
		kf_errc(ctx->fail, r, NULL, "cannot read %s: %s%s%s", KF_OVS_SOCK, strerror(-r),
			*kf_ovs_why(o) ? ": " : "", kf_ovs_why(o));
	kf_ovs_close(o);
	free(sock);
	return r;
}

static void ovs_free_own(void *own)
{
	if (own)
		kf_ovs_snap_release(own);
	free(own);
}

static bool ovs_exists(const struct kf_net_have *h, const char *name)
{
	return h->own && kf_ovs_bridge(h->own, name);
}

/* ---- diff ---- */

static int cmp_if(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* What a port is to OVS, for the plan and the comparison (a bond's
 * interfaces sorted: OVSDB keeps them as a set). */
static void port_desc(const struct kf_ovs_port *port, char *out, size_t n)
{
	struct kf_ovs_port sorted = *port;
	const struct kf_ovs_port *p = &sorted;
	qsort(sorted.ifaces, (size_t)sorted.nif, KF_IFNAMSIZ, cmp_if);
	int k = snprintf(out, n, "%s", p->internal ? "internal" : p->bond_mode[0] ? p->bond_mode : "port");
	for (int i = 0; i < p->nif && !p->internal && (p->bond_mode[0] || strcmp(p->ifaces[i], p->name)); i++)
		k += snprintf(out + k, n > (size_t)k ? n - (size_t)k : 0, "%s%s", i ? "," : " ", p->ifaces[i]);
	if (p->tag >= 0)
		k += snprintf(out + k, n > (size_t)k ? n - (size_t)k : 0, " tag %lld", p->tag);
	if (p->lacp[0] && strcmp(p->lacp, "off"))
		k += snprintf(out + k, n > (size_t)k ? n - (size_t)k : 0, " lacp %s%s", p->lacp,
			      p->lacp_fast ? " fast" : "");
	if (p->updelay || p->downdelay)
		snprintf(out + k, n > (size_t)k ? n - (size_t)k : 0, " delay %lld/%lld", p->updelay, p->downdelay);
}

static void bond_port(const struct kf_net_have *h, const struct kf_p_bond *b, struct kf_ovs_port *p)
{
	snprintf(p->bond_mode, sizeof(p->bond_mode), "%s", bond_mode(b) ? bond_mode(b) : "");
	for (size_t i = 0; i < b->members.n && p->nif < KF_OVS_MAXIF; i++)
		snprintf(p->ifaces[p->nif++], KF_IFNAMSIZ, "%s", kf_net_ifname(h, KF_LIST_STR(b->members, i)));
	if (b->mode == KF_BOND_8023AD) {
		snprintf(p->lacp, sizeof(p->lacp), "active");
		p->lacp_fast = b->lacp_rate == KF_LACP_FAST;
	}
	long long miimon = b->miimon != KF_UNSET ? b->miimon : 100;
	p->updelay = b->updelay != KF_UNSET ? kf_net_bond_delay(b->updelay, miimon) : 0;
	p->downdelay = b->downdelay != KF_UNSET ? kf_net_bond_delay(b->downdelay, miimon) : 0;
}

/* The port the profile wants called ref on bridge br. */
static void want_port(const struct kf_net_have *h, const struct kf_p_network *n, const struct kf_p_bridge *br,
		      const char *ref, struct kf_ovs_port *p)
{
	const struct kf_p_bond *b = bond_named(n, ref);
	memset(p, 0, sizeof(*p));
	p->tag = -1;
	snprintf(p->bridge, sizeof(p->bridge), "%s", br->name);
	snprintf(p->name, sizeof(p->name), "%s", b ? ref : kf_net_ifname(h, ref));
	if (b) {
		bond_port(h, b, p);
		return;
	}
	memcpy(p->ifaces[p->nif++], p->name, KF_IFNAMSIZ);
	for (size_t i = 0; i < n->vlans.n; i++) {
		const struct kf_p_vlan *v = KF_LIST_AT(n->vlans, struct kf_p_vlan, i);
		if (!strcmp(v->name, ref) && !strcmp(v->link, br->name)) {
			p->internal = true;
			p->tag = v->id;
		}
	}
}

/* op's data: the port wanted and, for the rollback, the one it replaces. */
struct port_op {
	struct kf_ovs_port want, had;
	bool replaces;
};

static void port_change(const struct kf_net_dx *d, const struct kf_p_bridge *br, const char *ref,
			const struct kf_ovs_port *want, const struct kf_ovs_port *had)
{
	char from[160] = "none", to[160];
	port_desc(want, to, sizeof(to));
	if (had)
		port_desc(had, from, sizeof(from));
	struct kf_net_op *op;
	if (had && !strcmp(had->bridge, br->name)) {
		op = kf_net_change(d->plan, d->k->res, KF_NOP_OPT, br->name, from, to, "%s port %s", br->name,
				   want->name);
		op->opt = "port";
	} else {
		op = kf_net_change(d->plan, d->k->res, KF_NOP_MASTER, br->name, had ? had->bridge : "none", br->name,
				   "%s master", want->name);
		op->ref = ref;
	}
	snprintf(op->arg, sizeof(op->arg), "%s", want->name);
	struct port_op *po = kf_xcalloc(1, sizeof(*po));
	po->want = *want;
	if (had)
		po->had = *had;
	po->replaces = had != NULL;
	op->priv = po;
}

static void diff_ports(const struct kf_net_dx *d, const struct kf_p_bridge *br, const struct kf_ovs_snap *s)
{
	const struct kf_p_network *n = d->w->net;
	struct kf_ovs_port want;
	char a[160], b[160];
	for (size_t i = 0; i <= br->ports.n + n->vlans.n; i++) {
		const char *ref = i < br->ports.n ? KF_LIST_STR(br->ports, i) : NULL;
		if (i >= br->ports.n && i - br->ports.n < n->vlans.n) {
			const struct kf_p_vlan *v = KF_LIST_AT(n->vlans, struct kf_p_vlan, i - br->ports.n);
			ref = strcmp(v->link, br->name) ? NULL : v->name;
		}
		if (!ref)
			continue;
		want_port(d->h, n, br, ref, &want);
		const struct kf_ovs_port *had = kf_ovs_port(s, want.name);
		if (had) {
			port_desc(had, a, sizeof(a));
			port_desc(&want, b, sizeof(b));
		}
		if (!had || strcmp(had->bridge, br->name) || strcmp(a, b))
			port_change(d, br, ref, &want, had);
	}
	/* ports the agent added that the profile dropped */
	for (size_t i = 0; i < d->h->st.n; i++) {
		const struct kf_net_rec *r = &d->h->st.v[i];
		const struct kf_ovs_port *had = r->kind == 'p' && !strcmp(r->a, br->name) ? kf_ovs_port(s, r->b) : NULL;
		bool wanted = false;
		for (size_t j = 0; had && j < br->ports.n; j++)
			wanted |= !strcmp(kf_net_ifname(d->h, KF_LIST_STR(br->ports, j)), r->b);
		for (size_t j = 0; had && j < n->vlans.n; j++) {
			const struct kf_p_vlan *v = KF_LIST_AT(n->vlans, struct kf_p_vlan, j);
			wanted |= !strcmp(v->link, br->name) && !strcmp(v->name, r->b);
		}
		if (!had || wanted || strcmp(had->bridge, br->name))
			continue;
		struct kf_net_op *op = kf_net_change(d->plan, d->k->res, KF_NOP_RELEASE, br->name, br->name, "none",
						     "%s master", r->b);
		snprintf(op->arg, sizeof(op->arg), "%.15s", r->b);
		struct port_op *po = kf_xcalloc(1, sizeof(*po));
		po->had = *had;
		po->replaces = true;
		op->priv = po;
	}
}

static void ovsk_diff(const struct kf_net_dx *d, const void *dev, const struct kf_nl_link *l)
{
	const struct kf_p_bridge *b = dev;
	const struct kf_ovs_snap *s = d->h->own;
	const struct kf_ovs_bridge *ob = s ? kf_ovs_bridge(s, b->name) : NULL;
	const char *dp = b->datapath == KF_OVS_NETDEV ? "netdev" : "system";
	char to[64];
	if (!s)
		return; /* probe failed and said why */
	snprintf(to, sizeof(to), "ovs bridge %s, stp %s", dp, b->stp == 1 ? "on" : "off");
	if (!ob) {
		/* a link of that name that the agent made of another kind goes first */
		const struct kf_nl_link *other = l && kf_net_kind_of(l->kind) ? l : NULL;
		kf_net_create(d, b, other, "ovs", NULL, other ? other->kind : NULL, to);
		l = NULL;
	} else {
		const char *have_dp = strcmp(ob->datapath, "netdev") ? "system" : "netdev";
		if (strcmp(have_dp, dp))
			kf_net_opt(d, b->name, "datapath", have_dp, dp)->want = b;
		if (ob->stp != (b->stp == 1))
			kf_net_opt(d, b->name, "stp", ob->stp ? "on" : "off", b->stp == 1 ? "on" : "off")->want = b;
	}
	diff_ports(d, b, s);
	if (l)
		kf_net_diff_link(d, l, b->mtu, NULL);
	kf_net_bridge_l3(d, b, l);
}

/* ---- apply ---- */

/* The run's changes, undone in reverse on a rollback. */
struct undo {
	enum { U_DEL_BRIDGE, U_DEL_PORT, U_PUT_PORT } what;
	struct kf_ovs_port port; /* name, bridge (the bridge's name for U_DEL_BRIDGE) */
};
static struct undo undo_log[256];
static size_t nundo;

static void log_undo(int what, const struct kf_ovs_port *p)
{
	if (nundo < KF_ARRAY_SIZE(undo_log))
		undo_log[nundo++] = (struct undo){ what, *p };
}

/* Opens OVSDB, runs one call and closes it again; sets ch->reason. */
static int with_ovs(struct kf_change *ch, int (*fn)(struct kf_ovs *, const void *), const void *arg)
{
	struct kf_ovs *o = NULL;
	char *sock = kf_path(KF_OVS_SOCK);
	int r = kf_ovs_open(sock, &o);
	if (r == 0)
		r = fn(o, arg);
	if (r < 0 && ch && !ch->reason)
		ch->reason = kf_xasprintf("%s%s%s", *kf_ovs_why(o) ? kf_ovs_why(o) : sock, ": ", strerror(-r));
	kf_ovs_close(o);
	free(sock);
	return r;
}

static int call_add_bridge(struct kf_ovs *o, const void *b) { return kf_ovs_add_bridge(o, b); }
static int call_set_bridge(struct kf_ovs *o, const void *b) { return kf_ovs_set_bridge(o, b); }
static int call_del_bridge(struct kf_ovs *o, const void *name) { return kf_ovs_del_bridge(o, name); }
static int call_put_port(struct kf_ovs *o, const void *p) { return kf_ovs_put_port(o, p); }
static int call_del_port(struct kf_ovs *o, const void *p)
{
	const struct kf_ovs_port *x = p;
	return kf_ovs_del_port(o, x->bridge, x->name);
}

static void bridge_spec(const struct kf_p_bridge *b, struct kf_ovs_bridge *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", b->name);
	snprintf(out->datapath, sizeof(out->datapath), "%s", b->datapath == KF_OVS_NETDEV ? "netdev" : "system");
	out->stp = b->stp == 1;
}

/* Sets the link called name up (ovs-vswitchd leaves the devices it makes
 * down). */
static int set_up(struct kf_nl *nl, const char *name)
{
	struct kf_nl_snap s = { 0 };
	int r = kf_nl_dump(nl, KF_NL_LINKS, &s);
	const struct kf_nl_link *l = r ? NULL : kf_nl_by_name(&s, name);
	if (l && !(l->flags & 1 /* IFF_UP */)) {
		struct kf_nl_req q;
		kf_nl_req_init(&q);
		q.ifindex = l->ifindex;
		q.up = 1;
		r = kf_nl_link_change(nl, &q);
	}
	kf_nl_snap_release(&s);
	return r;
}

static int ovs_create(struct kf_nl *nl, struct kf_change *ch)
{
	const struct kf_net_op *op = ch->data;
	struct kf_ovs_bridge b;
	bridge_spec(op->want, &b);
	int r = with_ovs(ch, call_add_bridge, &b);
	if (r == 0) {
		struct kf_ovs_port p = { .tag = -1 };
		snprintf(p.bridge, sizeof(p.bridge), "%s", b.name);
		log_undo(U_DEL_BRIDGE, &p);
		r = set_up(nl, b.name);
	}
	return r;
}

static int ovs_destroy(struct kf_change *ch)
{
	const struct kf_net_op *op = ch->data;
	return with_ovs(ch, call_del_bridge, op->dev);
}

static int ovs_port(struct kf_nl *nl, struct kf_change *ch, bool join)
{
	const struct kf_net_op *op = ch->data;
	const struct port_op *po = op->priv;
	int r;
	if (!join) {
		if ((r = with_ovs(ch, call_del_port, &po->had)) == 0)
			log_undo(U_PUT_PORT, &po->had);
		return r;
	}
	if ((r = with_ovs(ch, call_put_port, &po->want)) < 0)
		return r;
	log_undo(po->replaces ? U_PUT_PORT : U_DEL_PORT, po->replaces ? &po->had : &po->want);
	for (int i = 0; i < po->want.nif && r == 0; i++)
		r = set_up(nl, po->want.ifaces[i]);
	return r;
}

static int ovs_set(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
		   const struct kf_nl_link *l)
{
	if (!strcmp(op->opt, "addresses") || !strcmp(op->opt, "gateway"))
		return kf_net_bridge_set_l3(nl, s, op, l);
	if (!strcmp(op->opt, "port")) {
		const struct port_op *po = op->priv;
		int r = with_ovs(NULL, call_put_port, &po->want);
		if (r == 0)
			log_undo(U_PUT_PORT, &po->had);
		return r;
	}
	struct kf_ovs_bridge b;
	bridge_spec(op->want, &b);
	return with_ovs(NULL, call_set_bridge, &b);
}

static void ovs_restore(struct kf_net_state *st)
{
	while (nundo) {
		const struct undo *u = &undo_log[--nundo];
		if (u->what == U_DEL_BRIDGE) {
			with_ovs(NULL, call_del_bridge, u->port.bridge);
			kf_net_state_del(st, 'd', u->port.bridge, NULL);
			kf_net_state_del(st, 'p', u->port.bridge, NULL);
		} else if (u->what == U_DEL_PORT) {
			with_ovs(NULL, call_del_port, &u->port);
			kf_net_state_del(st, 'p', u->port.bridge, u->port.name);
		} else {
			with_ovs(NULL, call_put_port, &u->port);
		}
	}
}

/* ---- persistence: ovsdb keeps the switch; networkd the addresses ---- */

static void ovs_nd(struct kf_net_pw *pw, const void *dev)
{
	const struct kf_p_bridge *b = dev;
	kf_net_pw_l3(pw, b->name, &b->addresses, b->gateway);
}

static const char *const ovs_kinds[] = { "ovs", NULL };

const struct kf_net_kind kf_net_kind_ovs = {
	.res = "ovs",
	.kinds = ovs_kinds,
	KF_NET_KIND_LIST(struct kf_p_bridge, bridges),
	.check = ovs_check,
	.refs = ovs_refs,
	.ports = ovs_ports,
	.diff = ovsk_diff,
	.set = ovs_set,
	.persist_nd = ovs_nd,
	.takes = ovs_takes,
	.probe = ovsk_probe,
	.free_own = ovs_free_own,
	.exists = ovs_exists,
	.create = ovs_create,
	.destroy = ovs_destroy,
	.port = ovs_port,
	.restore = ovs_restore,
};

KF_NET_LINK_RESOURCE(ovs, kf_net_kind_ovs);
