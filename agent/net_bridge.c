/* Resource "bridges": Linux bridges, STP, forward delay, ports, and the
 * host's IPv4 addresses and default route on the bridge
 * (network.bridges).  A port that joins a bridge brings its addresses and
 * default routes with it; addresses and gateway listed in the profile are
 * then made exact. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/net.h"
#include "types.h"
#include "util.h"

static int bridges_parse(struct kf_ctx *ctx, void **desired)
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
	for (size_t i = 0; i < n->bridges.n; i++) {
		const struct kf_p_bridge *b = KF_LIST_AT(n->bridges, struct kf_p_bridge, i);
		for (size_t j = 0; j < b->ports.n && nr < KF_ARRAY_SIZE(refs); j++, nr++) {
			snprintf(whats[nr], sizeof(whats[nr]), "bridge %s: port", b->name);
			refs[nr] = (struct kf_net_ref){ b, "ports", KF_LIST_STR(b->ports, j), whats[nr] };
		}
		if (b->gateway && !b->addresses.n)
			kf_errf(ctx->err, kf_mark_of(b, "gateway"), "bridge %s: gateway needs addresses",
				b->name);
	}
	kf_net_check_refs(ctx, w, refs, nr);
	return 0;
}

static bool bridge_wanted(const struct kf_p_network *n, const char *name)
{
	for (size_t i = 0; i < n->bridges.n; i++)
		if (!strcmp(KF_LIST_AT(n->bridges, struct kf_p_bridge, i)->name, name))
			return true;
	return false;
}

/* Links whose addresses and routes move onto the bridge in this run: ports
 * not yet in it, and the members of a profile bond that is such a port. */
static void movers(const struct kf_net_want *w, const struct kf_net_have *h, const struct kf_p_bridge *b,
		   const struct kf_nl_link *l, int *v, int *n)
{
	for (size_t i = 0; i < b->ports.n; i++) {
		const char *pname = kf_net_ifname(h, KF_LIST_STR(b->ports, i));
		const struct kf_nl_link *p = kf_nl_by_name(&h->snap, pname);
		if (p && l && p->master == l->ifindex)
			continue;
		if (p && *n < 64)
			v[(*n)++] = p->ifindex;
		for (size_t j = 0; j < w->net->bonds.n; j++) {
			const struct kf_p_bond *bd = KF_LIST_AT(w->net->bonds, struct kf_p_bond, j);
			if (strcmp(bd->name, pname))
				continue;
			for (size_t k = 0; k < bd->members.n; k++) {
				const struct kf_nl_link *m = kf_nl_by_name(&h->snap, kf_net_ifname(h, KF_LIST_STR(bd->members, k)));
				if (m && *n < 64)
					v[(*n)++] = m->ifindex;
			}
		}
	}
}

static void diff_l3(struct kf_plan *plan, const struct kf_net_want *w, const struct kf_net_have *h,
		    const struct kf_p_bridge *b, const struct kf_nl_link *l)
{
	int mv[64], nmv = 0;
	movers(w, h, b, l, mv, &nmv);
	if (b->addresses.n) {
		char *want = kf_net_list_str(&b->addresses);
		char *cur = l ? kf_net_addrs_str(&h->snap, l->ifindex) : kf_xstrdup("");
		/* what the bridge will have once the ports brought theirs */
		struct kf_buf after = KF_BUF_INIT;
		kf_buf_puts(&after, cur);
		for (int i = 0; i < nmv; i++) {
			char *a = kf_net_addrs_str(&h->snap, mv[i]);
			if (*a && after.len)
				kf_buf_puts(&after, ",");
			kf_buf_puts(&after, a);
			free(a);
		}
		struct kf_list one = { 0 };
		char *after_s = kf_buf_detach(&after);
		/* normalise order */
		char *tmp = kf_xstrdup(after_s);
		size_t cnt = 0;
		const char *parts[128];
		for (char *sv = NULL, *t = strtok_r(tmp, ",", &sv); t && cnt < 128; t = strtok_r(NULL, ",", &sv))
			parts[cnt++] = t;
		one.n = cnt;
		one.v = parts;
		char *after_norm = kf_net_list_str(&one);
		if (strcmp(after_norm, want)) {
			struct kf_net_op *op = kf_net_change(plan, "bridges", KF_NOP_ADDRS, b->name, cur, want,
							     "%s addresses", b->name);
			op->want = b;
			kf_net_guard(op, w, h);
		}
		free(after_norm);
		free(tmp);
		free(after_s);
		free(want);
		free(cur);
	}
	if (b->gateway) {
		uint32_t g;
		kf_ipv4_parse(b->gateway, &g);
		g = htonl(g);
		bool ok = l != NULL, other = false;
		bool found = false;
		for (size_t i = 0; i < h->snap.nroutes; i++) {
			const struct kf_nl_route *x = &h->snap.routes[i];
			bool moving = false;
			for (int k = 0; k < nmv; k++)
				moving |= x->ifindex == mv[k];
			if (x->gw == g && ((l && x->ifindex == l->ifindex) || moving))
				found = true;
			else
				other = true;
		}
		ok = found && !other;
		if (!ok) {
			char from[64] = "none";
			for (size_t i = 0; i < h->snap.nroutes; i++) {
				char ip[16];
				kf_ipv4_fmt(ntohl(h->snap.routes[i].gw), ip);
				snprintf(from, sizeof(from), "%s via %s", ip, kf_nl_name(&h->snap, h->snap.routes[i].ifindex));
				break;
			}
			char to[64];
			snprintf(to, sizeof(to), "%s via %s", b->gateway, b->name);
			struct kf_net_op *op = kf_net_change(plan, "bridges", KF_NOP_GATEWAY, b->name, from, to,
							     "default route");
			op->want = b;
			kf_net_guard(op, w, h);
		}
	}
}

static int bridges_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct kf_net_want *w = desired;
	const struct kf_net_have *h = actual;
	if (!w->live) {
		if (w->net->bridges.n)
			kf_plan_note(plan, "bridges", "bridges: links not managed under this --root");
		return 0;
	}
	for (size_t i = 0; i < w->net->bridges.n; i++) {
		const struct kf_p_bridge *b = KF_LIST_AT(w->net->bridges, struct kf_p_bridge, i);
		const struct kf_nl_link *l = kf_nl_by_name(&h->snap, b->name);
		if (!l || strcmp(l->kind, "bridge")) {
			int opk = l ? KF_NOP_RECREATE : KF_NOP_CREATE;
			struct kf_net_op *op = kf_net_change(plan, "bridges", opk, b->name, l ? l->kind : NULL,
							     b->stp == 1 ? "bridge, stp on" : "bridge, stp off", "%s", b->name);
			op->kind = "bridge";
			op->want = b;
			op->owned = kf_net_owned(&h->st, b->name) != NULL;
			kf_net_guard(op, w, h);
			if (l)
				l = NULL; /* ports and addresses: as for a new bridge */
		} else {
			int stp = b->stp == 1;
			if (l->br_stp != stp) {
				struct kf_net_op *op = kf_net_change(plan, "bridges", KF_NOP_BR_STP, b->name,
								     l->br_stp ? "on" : "off", stp ? "on" : "off", "%s stp", b->name);
				op->val = stp;
				kf_net_guard(op, w, h);
			}
			if (b->forward_delay != KF_UNSET && (l->br_fwd_delay + 50) / 100 != b->forward_delay) {
				char x[16], y[16];
				snprintf(x, sizeof(x), "%d", (l->br_fwd_delay + 50) / 100);
				snprintf(y, sizeof(y), "%lld", b->forward_delay);
				struct kf_net_op *op = kf_net_change(plan, "bridges", KF_NOP_BR_FWD, b->name, x, y,
								     "%s forward_delay", b->name);
				op->val = b->forward_delay * 100;
				kf_net_guard(op, w, h);
			}
		}
		/* ports first: a joining port can lower the bridge's MTU */
		kf_net_diff_ports(plan, "bridges", w, h, b->name, &b->ports);
		if (l) {
			kf_net_diff_link(plan, "bridges", w, h, l, b->mtu, b->mac);
		} else if (b->mtu != KF_UNSET && b->ports.n) {
			char to[24];
			snprintf(to, sizeof(to), "%lld", b->mtu);
			struct kf_net_op *op = kf_net_change(plan, "bridges", KF_NOP_MTU, b->name, "ports' MTU", to,
							     "%s mtu", b->name);
			op->val = b->mtu;
			kf_net_guard(op, w, h);
		}
		diff_l3(plan, w, h, b, l);
	}
	kf_net_diff_gone(plan, "bridges", w, h, "bridge", bridge_wanted);
	return 0;
}

static int bridge_fill(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
		       struct kf_nl_req *r)
{
	(void)nl;
	(void)s;
	const struct kf_p_bridge *b = op->want;
	static uint8_t mac[6];
	r->br_stp = b->stp == 1;
	if (b->forward_delay != KF_UNSET)
		r->br_fwd_delay = (int)(b->forward_delay * 100);
	if (b->mtu != KF_UNSET)
		r->mtu = (int)b->mtu;
	if (b->mac && kf_mac_parse(b->mac, mac) == 0)
		r->mac = mac;
	return 0;
}

static int bridges_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	return kf_net_apply(ctx, ch, bridge_fill, NULL);
}

const struct kf_resource kf_res_net_bridges = {
	.name = "bridges",
	.section = "network",
	.parse = bridges_parse,
	.probe = kf_net_probe_links,
	.diff = bridges_diff,
	.apply = bridges_apply,
	.free_desired = kf_net_want_free,
	.free_actual = kf_net_have_free,
};
