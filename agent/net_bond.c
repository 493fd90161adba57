/* Resource "bonds": bonding devices, their options and members
 * (network.bonds).  Options that exist only in some modes are compared
 * only in those modes; updelay/downdelay are compared as the kernel keeps
 * them (multiples of miimon). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/net.h"
#include "types.h"
#include "util.h"

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

static bool has_hash(int mode)
{
	return mode == KF_BOND_XOR || mode == KF_BOND_8023AD || mode == KF_BOND_TLB || mode == KF_BOND_ALB;
}

static bool has_primary(int mode)
{
	return mode == KF_BOND_AB || mode == KF_BOND_TLB || mode == KF_BOND_ALB;
}

static int bonds_parse(struct kf_ctx *ctx, void **desired)
{
	struct kf_net_want *w = NULL;
	int r = kf_net_parse(ctx, &w);
	*desired = w;
	if (r < 0 || !w)
		return r;
	const struct kf_p_network *n = w->net;
	struct kf_net_ref refs[256];
	char whats[256][48];
	size_t nr = 0;
	for (size_t i = 0; i < n->bonds.n; i++) {
		const struct kf_p_bond *b = KF_LIST_AT(n->bonds, struct kf_p_bond, i);
		for (size_t j = 0; j < b->members.n && nr < KF_ARRAY_SIZE(refs); j++, nr++) {
			snprintf(whats[nr], sizeof(whats[nr]), "bond %s: member", b->name);
			refs[nr] = (struct kf_net_ref){ b, "members", KF_LIST_STR(b->members, j), whats[nr] };
		}
		if ((b->updelay != KF_UNSET || b->downdelay != KF_UNSET) && b->miimon == 0)
			kf_errf(ctx->err, kf_mark_of(b, b->updelay != KF_UNSET ? "updelay" : "downdelay"),
				"bond %s: updelay and downdelay need miimon", b->name);
	}
	kf_net_check_refs(ctx, w, refs, nr);
	return 0;
}

static bool bond_wanted(const struct kf_p_network *n, const char *name)
{
	for (size_t i = 0; i < n->bonds.n; i++)
		if (!strcmp(KF_LIST_AT(n->bonds, struct kf_p_bond, i)->name, name))
			return true;
	return false;
}

static void opt_change(struct kf_plan *plan, const struct kf_net_want *w, const struct kf_net_have *h,
		       const char *bond, const char *opt, const char *from, const char *to, long long val)
{
	struct kf_net_op *op = kf_net_change(plan, "bonds", KF_NOP_BOND, bond, from, to, "%s %s", bond, opt);
	op->opt = opt;
	op->val = val;
	kf_net_guard(op, w, h);
}

static void diff_opts(struct kf_plan *plan, const struct kf_net_want *w, const struct kf_net_have *h,
		      const struct kf_p_bond *b, const struct kf_nl_link *l)
{
	char x[32], y[32];
	const struct kf_nl_bond *k = &l->bond;
	if (b->miimon != KF_UNSET && k->miimon != b->miimon) {
		snprintf(x, sizeof(x), "%d", k->miimon);
		snprintf(y, sizeof(y), "%lld", b->miimon);
		opt_change(plan, w, h, b->name, "miimon", x, y, b->miimon);
	}
	long long miimon = b->miimon != KF_UNSET ? b->miimon : k->miimon;
	long long up = kf_net_bond_delay(b->updelay, miimon), down = kf_net_bond_delay(b->downdelay, miimon);
	if (up != KF_UNSET && k->updelay != up) {
		snprintf(x, sizeof(x), "%d", k->updelay);
		snprintf(y, sizeof(y), "%lld", up);
		opt_change(plan, w, h, b->name, "updelay", x, y, up);
	}
	if (down != KF_UNSET && k->downdelay != down) {
		snprintf(x, sizeof(x), "%d", k->downdelay);
		snprintf(y, sizeof(y), "%lld", down);
		opt_change(plan, w, h, b->name, "downdelay", x, y, down);
	}
	if (b->mode == KF_BOND_8023AD && b->lacp_rate >= 0 && k->lacp_rate != b->lacp_rate)
		opt_change(plan, w, h, b->name, "lacp_rate", k->lacp_rate ? "fast" : "slow",
			   b->lacp_rate ? "fast" : "slow", b->lacp_rate);
	if (has_hash(b->mode) && b->xmit_hash_policy >= 0 && k->xmit_hash != b->xmit_hash_policy)
		opt_change(plan, w, h, b->name, "xmit_hash_policy", HASH(k->xmit_hash), HASH(b->xmit_hash_policy),
			   b->xmit_hash_policy);
	if (has_primary(b->mode) && b->primary) {
		const char *want = kf_net_ifname(h, b->primary);
		const char *cur = k->primary ? kf_nl_name(&h->snap, k->primary) : "none";
		if (strcmp(want, cur)) {
			struct kf_net_op *op = kf_net_change(plan, "bonds", KF_NOP_BOND, b->name, cur, want,
							     "%s primary", b->name);
			op->opt = "primary";
			snprintf(op->arg, sizeof(op->arg), "%s", want);
			kf_net_guard(op, w, h);
		}
	}
}

static int bonds_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct kf_net_want *w = desired;
	const struct kf_net_have *h = actual;
	if (!w->live) {
		if (w->net->bonds.n)
			kf_plan_note(plan, "bonds", "bonds: links not managed under this --root");
		return 0;
	}
	for (size_t i = 0; i < w->net->bonds.n; i++) {
		const struct kf_p_bond *b = KF_LIST_AT(w->net->bonds, struct kf_p_bond, i);
		const struct kf_nl_link *l = kf_nl_by_name(&h->snap, b->name);
		char to[48];
		snprintf(to, sizeof(to), "bond %s", MODE(b->mode));
		if (!l || strcmp(l->kind, "bond")) {
			int opk = l ? KF_NOP_RECREATE : KF_NOP_CREATE;
			struct kf_net_op *op = kf_net_change(plan, "bonds", opk, b->name, l ? l->kind : NULL, to,
							     "%s", b->name);
			op->kind = "bond";
			op->want = b;
			op->owned = kf_net_owned(&h->st, b->name) != NULL;
			kf_net_guard(op, w, h);
		} else {
			if (l->bond.mode != b->mode) {
				struct kf_net_op *op = kf_net_change(plan, "bonds", KF_NOP_BOND_MODE, b->name,
								     MODE(l->bond.mode), MODE(b->mode), "%s mode", b->name);
				op->val = b->mode;
				kf_net_guard(op, w, h);
			}
			diff_opts(plan, w, h, b, l);
			kf_net_diff_link(plan, "bonds", w, h, l, b->mtu, b->mac);
		}
		kf_net_diff_ports(plan, "bonds", w, h, b->name, &b->members);
		if (!l && has_primary(b->mode) && b->primary) {
			const char *want = kf_net_ifname(h, b->primary);
			struct kf_net_op *op = kf_net_change(plan, "bonds", KF_NOP_BOND, b->name, "none", want,
							     "%s primary", b->name);
			op->opt = "primary";
			snprintf(op->arg, sizeof(op->arg), "%s", want);
			kf_net_guard(op, w, h);
		}
	}
	kf_net_diff_gone(plan, "bonds", w, h, "bond", bond_wanted);
	return 0;
}

static int bond_fill(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
		     struct kf_nl_req *r)
{
	(void)nl;
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
	(void)s; /* primary is set once the member is in (a later change) */
	if (b->mtu != KF_UNSET)
		r->mtu = (int)b->mtu;
	if (b->mac && kf_mac_parse(b->mac, mac) == 0)
		r->mac = mac;
	return 0;
}

static int bonds_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	return kf_net_apply(ctx, ch, bond_fill, NULL);
}

const struct kf_resource kf_res_net_bonds = {
	.name = "bonds",
	.section = "network",
	.parse = bonds_parse,
	.probe = kf_net_probe_links,
	.diff = bonds_diff,
	.apply = bonds_apply,
	.free_desired = kf_net_want_free,
	.free_actual = kf_net_have_free,
};
