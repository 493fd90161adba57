/* Link kind "bond" (resource "bonds"): bonding devices, their options and
 * members (network.bonds).  Options that exist only in some modes are
 * compared only in those modes; updelay/downdelay are compared as the
 * kernel keeps them (multiples of miimon).  The mode changes only without
 * members and while down; lacp_rate only while down. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/net.h"
#include "types.h"
#include "util.h"

#define IFF_UP_ 1

static const char *const mode_names[] = { "balance-rr", "active-backup", "balance-xor", "broadcast",
					  "802.3ad", "balance-tlb", "balance-alb" };
static const char *const hash_names[] = { "layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4",
					  "vlan+srcmac" };

static const char *name_of(const char *const *v, size_t n, int i)
{
	return i >= 0 && (size_t)i < n ? v[i] : "?";
}
#define MODE(i) name_of(mode_names, KF_ARRAY_SIZE(mode_names), i)
#define HASH(i) name_of(hash_names, KF_ARRAY_SIZE(hash_names), i)

long long kf_net_bond_delay(long long delay, long long miimon)
{
	if (delay == KF_UNSET || delay < 0)
		return KF_UNSET;
	if (miimon <= 0)
		return 0;
	return delay / miimon * miimon;
}

static bool has_hash(int mode)
{
	return mode == KF_BOND_XOR || mode == KF_BOND_8023AD || mode == KF_BOND_TLB || mode == KF_BOND_ALB;
}

static bool has_primary(int mode)
{
	return mode == KF_BOND_AB || mode == KF_BOND_TLB || mode == KF_BOND_ALB;
}

/* ---- parse ---- */

static void bond_check(struct kf_ctx *ctx, const struct kf_net_want *w, const void *dev)
{
	(void)w;
	const struct kf_p_bond *b = dev;
	if ((b->updelay != KF_UNSET || b->downdelay != KF_UNSET) && b->miimon == 0)
		kf_errf(ctx->err, kf_mark_of(b, b->updelay != KF_UNSET ? "updelay" : "downdelay"),
			"bond %s: updelay and downdelay need miimon", b->name);
}

static void bond_refs(const struct kf_p_network *n, const void *dev, struct kf_net_refs *out)
{
	(void)n;
	const struct kf_p_bond *b = dev;
	for (size_t j = 0; j < b->members.n; j++)
		kf_net_ref_add(out, b, "members", KF_LIST_STR(b->members, j), "bond %s: member", b->name);
	kf_net_ref_alias(out, b->primary);
}

static const struct kf_list *bond_ports(const void *dev)
{
	return &((const struct kf_p_bond *)dev)->members;
}

/* ---- diff ---- */

static void opt_change(const struct kf_net_dx *d, const char *bond, const char *opt, const char *from,
		       const char *to, long long val)
{
	kf_net_opt(d, bond, opt, from, to)->val = val;
}

static void opt_int(const struct kf_net_dx *d, const char *bond, const char *opt, long long have, long long want)
{
	char x[32], y[32];
	if (want == KF_UNSET || have == want)
		return;
	snprintf(x, sizeof(x), "%lld", have);
	snprintf(y, sizeof(y), "%lld", want);
	opt_change(d, bond, opt, x, y, want);
}

static void diff_primary(const struct kf_net_dx *d, const struct kf_p_bond *b, const struct kf_nl_link *l)
{
	if (!has_primary(b->mode) || !b->primary)
		return;
	const char *want = kf_net_ifname(d->h, b->primary);
	const char *cur = l && l->bond.primary ? kf_nl_name(&d->h->snap, l->bond.primary) : "none";
	if (l && !strcmp(want, cur))
		return;
	snprintf(kf_net_opt(d, b->name, "primary", cur, want)->arg, KF_IFNAMSIZ, "%s", want);
}

static void diff_opts(const struct kf_net_dx *d, const struct kf_p_bond *b, const struct kf_nl_link *l)
{
	const struct kf_nl_bond *k = &l->bond;
	opt_int(d, b->name, "miimon", k->miimon, b->miimon);
	long long miimon = b->miimon != KF_UNSET ? b->miimon : k->miimon;
	opt_int(d, b->name, "updelay", k->updelay, kf_net_bond_delay(b->updelay, miimon));
	opt_int(d, b->name, "downdelay", k->downdelay, kf_net_bond_delay(b->downdelay, miimon));
	if (b->mode == KF_BOND_8023AD && b->lacp_rate >= 0 && k->lacp_rate != b->lacp_rate)
		opt_change(d, b->name, "lacp_rate", k->lacp_rate ? "fast" : "slow", b->lacp_rate ? "fast" : "slow",
			   b->lacp_rate);
	if (has_hash(b->mode) && b->xmit_hash_policy >= 0 && k->xmit_hash != b->xmit_hash_policy)
		opt_change(d, b->name, "xmit_hash_policy", HASH(k->xmit_hash), HASH(b->xmit_hash_policy),
			   b->xmit_hash_policy);
	diff_primary(d, b, l);
}

static void bond_diff(const struct kf_net_dx *d, const void *dev, const struct kf_nl_link *l)
{
	const struct kf_p_bond *b = dev;
	char to[48];
	snprintf(to, sizeof(to), "bond %s", MODE(b->mode));
	if (!l || strcmp(l->kind, "bond")) {
		kf_net_create(d, b, l, "bond", NULL, l ? l->kind : NULL, to);
	} else {
		if (l->bond.mode != b->mode)
			opt_change(d, b->name, "mode", MODE(l->bond.mode), MODE(b->mode), b->mode);
		diff_opts(d, b, l);
		kf_net_diff_link(d, l, b->mtu, b->mac);
	}
	kf_net_diff_ports(d, b->name, &b->members);
	if (!l)
		diff_primary(d, b, NULL); /* once the members are in */
}

/* ---- apply ---- */

static int bond_fill(const struct kf_nl_snap *s, const struct kf_net_op *op, struct kf_nl_req *r)
{
	(void)s; /* primary is set once the member is in (a later change) */
	const struct kf_p_bond *b = op->want;
	static uint8_t mac[6];
	r->bond.mode = b->mode;
	if (b->miimon != KF_UNSET)
		r->bond.miimon = (int)b->miimon;
	long long up = kf_net_bond_delay(b->updelay, b->miimon), down = kf_net_bond_delay(b->downdelay, b->miimon);
	if (up != KF_UNSET)
		r->bond.updelay = (int)up;
	if (down != KF_UNSET)
		r->bond.downdelay = (int)down;
	if (b->mode == KF_BOND_8023AD && b->lacp_rate >= 0)
		r->bond.lacp_rate = b->lacp_rate;
	if (has_hash(b->mode) && b->xmit_hash_policy >= 0)
		r->bond.xmit_hash = b->xmit_hash_policy;
	if (b->mtu != KF_UNSET)
		r->mtu = (int)b->mtu;
	if (b->mac && kf_mac_parse(b->mac, mac) == 0)
		r->mac = mac;
	return 0;
}

static int set_up(struct kf_nl *nl, int ifindex, int up)
{
	struct kf_nl_req q;
	kf_nl_req_init(&q);
	q.ifindex = ifindex;
	q.up = up;
	return kf_nl_link_change(nl, &q);
}

/* The mode of a bond changes only without members and while down. */
static int set_mode(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
		    const struct kf_nl_link *l)
{
	int members[64], n = 0, r;
	for (size_t i = 0; i < s->nlinks && n < 64; i++)
		if (s->links[i].master == l->ifindex) {
			members[n++] = s->links[i].ifindex;
			kf_net_set_master(nl, &s->links[i], NULL);
		}
	if ((r = set_up(nl, l->ifindex, 0)) < 0)
		return r;
	struct kf_nl_req q;
	kf_nl_req_init(&q);
	q.ifindex = l->ifindex;
	q.kind = "bond";
	q.bond.mode = (int)op->val;
	r = kf_nl_link_change(nl, &q);
	set_up(nl, l->ifindex, 1);
	for (int i = 0; i < n; i++) {
		const struct kf_nl_link *m = kf_nl_by_index(s, members[i]);
		int e = m ? kf_net_set_master(nl, m, l) : 0;
		if (!r)
			r = e;
	}
	return r;
}

static int bond_set(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
		    const struct kf_nl_link *l)
{
	if (!strcmp(op->opt, "mode"))
		return set_mode(nl, s, op, l);
	struct kf_nl_req q;
	kf_nl_req_init(&q);
	q.ifindex = l->ifindex;
	q.kind = "bond";
	bool down = false;
	if (!strcmp(op->opt, "miimon")) q.bond.miimon = (int)op->val;
	else if (!strcmp(op->opt, "updelay")) q.bond.updelay = (int)op->val;
	else if (!strcmp(op->opt, "downdelay")) q.bond.downdelay = (int)op->val;
	else if (!strcmp(op->opt, "xmit_hash_policy")) q.bond.xmit_hash = (int)op->val;
	else if (!strcmp(op->opt, "lacp_rate")) { q.bond.lacp_rate = (int)op->val; down = true; }
	else if (!strcmp(op->opt, "primary")) {
		const struct kf_nl_link *p = kf_nl_by_name(s, op->arg);
		if (!p)
			return -ENODEV;
		q.bond.primary = p->ifindex;
	} else
		return -EINVAL;
	int r;
	down = down && (l->flags & IFF_UP_);
	if (down && (r = set_up(nl, l->ifindex, 0)) < 0)
		return r;
	r = kf_nl_link_change(nl, &q);
	if (down) {
		int e = set_up(nl, l->ifindex, 1);
		if (!r)
			r = e;
	}
	return r;
}

/* ---- persistence ---- */

static void bond_nd(struct kf_net_pw *pw, const void *dev)
{
	const struct kf_p_bond *x = dev;
	struct kf_buf *b = kf_nd_netdev(pw, x->name, "bond", x->mtu, x->mac);
	kf_buf_printf(b, "\n[Bond]\nMode=%s\n", MODE(x->mode));
	if (x->miimon != KF_UNSET)
		kf_buf_printf(b, "MIIMonitorSec=%lldms\n", x->miimon);
	long long up = kf_net_bond_delay(x->updelay, x->miimon), dn = kf_net_bond_delay(x->downdelay, x->miimon);
	if (up != KF_UNSET)
		kf_buf_printf(b, "UpDelaySec=%lldms\n", up);
	if (dn != KF_UNSET)
		kf_buf_printf(b, "DownDelaySec=%lldms\n", dn);
	if (x->mode == KF_BOND_8023AD && x->lacp_rate >= 0)
		kf_buf_printf(b, "LACPTransmitRate=%s\n", x->lacp_rate ? "fast" : "slow");
	if (x->xmit_hash_policy >= 0)
		kf_buf_printf(b, "TransmitHashPolicy=%s\n", HASH(x->xmit_hash_policy));
	for (size_t j = 0; x->primary && j < x->members.n; j++)
		if (!strcmp(x->primary, KF_LIST_STR(x->members, j)))
			kf_nd_line(pw, x->primary, false, "PrimarySlave=yes");
}

static void bond_nm(struct kf_net_pw *pw, const void *dev)
{
	const struct kf_p_bond *x = dev;
	struct kf_buf *b = kf_nm_conn(pw, x->name, "bond");
	kf_buf_printf(b, "\n[bond]\nmode=%s\n", MODE(x->mode));
	if (x->miimon != KF_UNSET)
		kf_buf_printf(b, "miimon=%lld\n", x->miimon);
	long long up = kf_net_bond_delay(x->updelay, x->miimon), dn = kf_net_bond_delay(x->downdelay, x->miimon);
	if (up != KF_UNSET)
		kf_buf_printf(b, "updelay=%lld\n", up);
	if (dn != KF_UNSET)
		kf_buf_printf(b, "downdelay=%lld\n", dn);
	if (x->mode == KF_BOND_8023AD && x->lacp_rate >= 0)
		kf_buf_printf(b, "lacp_rate=%s\n", x->lacp_rate ? "fast" : "slow");
	if (x->xmit_hash_policy >= 0)
		kf_buf_printf(b, "xmit_hash_policy=%s\n", HASH(x->xmit_hash_policy));
	if (x->primary)
		kf_buf_printf(b, "primary=%s\n", x->primary);
}

static const char *const bond_kinds[] = { "bond", NULL };

const struct kf_net_kind kf_net_kind_bond = {
	.res = "bonds",
	.kinds = bond_kinds,
	KF_NET_KIND_LIST(struct kf_p_bond, bonds),
	.check = bond_check,
	.refs = bond_refs,
	.ports = bond_ports,
	.diff = bond_diff,
	.fill = bond_fill,
	.set = bond_set,
	.ports_down = true,
	.port_of = "bond",
	.persist_nd = bond_nd,
	.persist_nm = bond_nm,
};

KF_NET_LINK_RESOURCE(bonds, kf_net_kind_bond);
