/* Link kind "bridge" (resource "bridges"): Linux bridges, STP, forward
 * delay, ports, and the
 * host's IPv4 addresses and default route on the bridge
 * (network.bridges).  A port that joins a bridge brings its addresses and
 * default routes with it; addresses and gateway listed in the profile are
 * then made exact. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/net.h"
#include "types.h"
#include "util.h"

/* ---- parse ---- */

static void bridge_check(struct kf_ctx *ctx, const struct kf_net_want *w, const void *dev)
{
	(void)w;
	const struct kf_p_bridge *b = dev;
	if (b->gateway && !b->addresses.n)
		kf_errf(ctx->err, kf_mark_of(b, "gateway"), "bridge %s: gateway needs addresses", b->name);
}

static void bridge_refs(const struct kf_p_network *n, const void *dev, struct kf_net_refs *out)
{
	(void)n;
	const struct kf_p_bridge *b = dev;
	for (size_t j = 0; j < b->ports.n; j++)
		kf_net_ref_add(out, b, "ports", KF_LIST_STR(b->ports, j), "bridge %s: port", b->name);
}

static const struct kf_list *bridge_ports(const void *dev)
{
	return &((const struct kf_p_bridge *)dev)->ports;
}

/* ---- diff ---- */

/* Links whose addresses and routes move onto the bridge in this run: ports
 * not yet in it, and the members of a profile device (a bond) that is such
 * a port. */
static void movers(const struct kf_net_dx *d, const struct kf_p_bridge *b, const struct kf_nl_link *l, int *v,
		   int *n)
{
	const struct kf_net_have *h = d->h;
	for (size_t i = 0; i < b->ports.n; i++) {
		const char *pname = kf_net_ifname(h, KF_LIST_STR(b->ports, i));
		const struct kf_nl_link *p = kf_nl_by_name(&h->snap, pname);
		if (p && l && p->master == l->ifindex)
			continue;
		if (p && *n < 64)
			v[(*n)++] = p->ifindex;
		const struct kf_list *members = kf_net_ports_of(d->w->net, pname);
		for (size_t k = 0; members && k < members->n; k++) {
			const struct kf_nl_link *m = kf_nl_by_name(&h->snap, kf_net_ifname(h, KF_LIST_STR(*members, k)));
			if (m && *n < 64)
				v[(*n)++] = m->ifindex;
		}
	}
}

/* The bridge's addresses once the movers brought theirs, sorted. */
static char *addrs_after(const struct kf_net_have *h, const struct kf_nl_link *l, const int *mv, int nmv)
{
	struct kf_buf after = KF_BUF_INIT;
	char *cur = l ? kf_net_addrs_str(&h->snap, l->ifindex) : kf_xstrdup("");
	kf_buf_puts(&after, cur);
	free(cur);
	for (int i = 0; i < nmv; i++) {
		char *a = kf_net_addrs_str(&h->snap, mv[i]);
		if (*a && after.len)
			kf_buf_puts(&after, ",");
		kf_buf_puts(&after, a);
		free(a);
	}
	char *tmp = kf_buf_detach(&after);
	const char *parts[128];
	struct kf_list one = { 0, parts };
	for (char *sv = NULL, *t = strtok_r(tmp, ",", &sv); t && one.n < 128; t = strtok_r(NULL, ",", &sv))
		parts[one.n++] = t;
	char *norm = kf_net_list_str(&one);
	free(tmp);
	return norm;
}

static void diff_addrs(const struct kf_net_dx *d, const struct kf_p_bridge *b, const struct kf_nl_link *l,
		       const int *mv, int nmv)
{
	char *want = kf_net_list_str(&b->addresses);
	char *after = addrs_after(d->h, l, mv, nmv);
	if (strcmp(after, want)) {
		char *cur = l ? kf_net_addrs_str(&d->h->snap, l->ifindex) : kf_xstrdup("");
		kf_net_opt(d, b->name, "addresses", cur, want)->want = b;
		free(cur);
	}
	free(after);
	free(want);
}

/* The default route goes via the gateway on the bridge or on a link
 * moving onto it, and no other default route. */
static void diff_gateway(const struct kf_net_dx *d, const struct kf_p_bridge *b, const struct kf_nl_link *l,
			 const int *mv, int nmv)
{
	const struct kf_nl_snap *s = &d->h->snap;
	uint32_t g;
	bool found = false, other = false;
	kf_ipv4_parse(b->gateway, &g);
	g = htonl(g);
	for (size_t i = 0; i < s->nroutes; i++) {
		const struct kf_nl_route *x = &s->routes[i];
		bool moving = false;
		for (int k = 0; k < nmv; k++)
			moving |= x->ifindex == mv[k];
		if (x->gw == g && ((l && x->ifindex == l->ifindex) || moving))
			found = true;
		else
			other = true;
	}
	if (found && !other)
		return;
	char from[64] = "none", to[64], ip[16];
	if (s->nroutes) {
		kf_ipv4_fmt(ntohl(s->routes[0].gw), ip);
		snprintf(from, sizeof(from), "%s via %s", ip, kf_nl_name(s, s->routes[0].ifindex));
	}
	snprintf(to, sizeof(to), "%s via %s", b->gateway, b->name);
	struct kf_net_op *op = kf_net_change(d->plan, d->k->res, KF_NOP_OPT, b->name, from, to, "default route");
	op->opt = "gateway";
	op->want = b;
}

void kf_net_bridge_l3(const struct kf_net_dx *d, const struct kf_p_bridge *b, const struct kf_nl_link *l)
{
	int mv[64], nmv = 0;
	movers(d, b, l, mv, &nmv);
	if (b->addresses.n)
		diff_addrs(d, b, l, mv, nmv);
	if (b->gateway)
		diff_gateway(d, b, l, mv, nmv);
}

static void diff_opts(const struct kf_net_dx *d, const struct kf_p_bridge *b, const struct kf_nl_link *l)
{
	int stp = b->stp == 1;
	if (l->br_stp != stp)
		kf_net_opt(d, b->name, "stp", l->br_stp ? "on" : "off", stp ? "on" : "off")->val = stp;
	if (b->forward_delay != KF_UNSET && (l->br_fwd_delay + 50) / 100 != b->forward_delay) {
		char x[16], y[16];
		snprintf(x, sizeof(x), "%d", (l->br_fwd_delay + 50) / 100);
		snprintf(y, sizeof(y), "%lld", b->forward_delay);
		kf_net_opt(d, b->name, "forward_delay", x, y)->val = b->forward_delay * 100;
	}
}

static void bridge_diff(const struct kf_net_dx *d, const void *dev, const struct kf_nl_link *l)
{
	const struct kf_p_bridge *b = dev;
	if (!l || strcmp(l->kind, "bridge")) {
		kf_net_create(d, b, l, "bridge", NULL, l ? l->kind : NULL,
			      b->stp == 1 ? "bridge, stp on" : "bridge, stp off");
		l = NULL; /* ports and addresses: as for a new bridge */
	} else {
		diff_opts(d, b, l);
	}
	/* ports first: a joining port can lower the bridge's MTU */
	kf_net_diff_ports(d, b->name, &b->ports);
	if (l) {
		kf_net_diff_link(d, l, b->mtu, b->mac);
	} else if (b->mtu != KF_UNSET && b->ports.n) {
		char to[24];
		snprintf(to, sizeof(to), "%lld", b->mtu);
		kf_net_change(d->plan, d->k->res, KF_NOP_MTU, b->name, "ports' MTU", to, "%s mtu", b->name)->val =
			b->mtu;
	}
	kf_net_bridge_l3(d, b, l);
}

/* ---- apply ---- */

static int bridge_fill(const struct kf_nl_snap *s, const struct kf_net_op *op, struct kf_nl_req *r)
{
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

/* The IPv4 addresses of l become exactly want. */
static int set_addrs(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_nl_link *l,
		     const struct kf_list *want)
{
	int r = 0;
	for (size_t i = 0; i < want->n; i++) {
		uint32_t a;
		int p;
		if (kf_cidr_parse(KF_LIST_STR(*want, i), &a, &p) < 0)
			continue;
		if (!kf_nl_has_addr(s, l->ifindex, htonl(a), p)) {
			int e = kf_nl_addr_add(nl, l->ifindex, htonl(a), p);
			if (e < 0 && e != -EEXIST && !r)
				r = e;
		}
	}
	for (size_t i = 0; i < s->naddrs; i++) {
		const struct kf_nl_addr *x = &s->addrs[i];
		if (x->ifindex != l->ifindex)
			continue;
		bool keep = false;
		for (size_t j = 0; j < want->n; j++) {
			uint32_t a;
			int p;
			if (kf_cidr_parse(KF_LIST_STR(*want, j), &a, &p) == 0 && htonl(a) == x->addr && p == x->prefix)
				keep = true;
		}
		if (!keep) {
			int e = kf_nl_addr_del(nl, l->ifindex, x->addr, x->prefix);
			if (e < 0 && !r)
				r = e;
		}
	}
	return r;
}

/* The only default route goes via gw on l. */
static int set_gateway(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_nl_link *l, const char *gw)
{
	uint32_t g;
	if (kf_ipv4_parse(gw, &g) < 0)
		return -EINVAL;
	g = htonl(g);
	for (size_t i = 0; i < s->nroutes; i++) {
		const struct kf_nl_route *x = &s->routes[i];
		if (x->ifindex != l->ifindex || x->gw != g)
			kf_nl_route_del(nl, x->ifindex, x->gw, x->metric);
	}
	for (size_t i = 0; i < s->nroutes; i++)
		if (s->routes[i].ifindex == l->ifindex && s->routes[i].gw == g)
			return 0;
	return kf_nl_route_add(nl, l->ifindex, g, 0);
}

int kf_net_bridge_set_l3(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
			 const struct kf_nl_link *l)
{
	const struct kf_p_bridge *b = op->want;
	if (!strcmp(op->opt, "addresses"))
		return set_addrs(nl, s, l, &b->addresses);
	if (!strcmp(op->opt, "gateway"))
		return set_gateway(nl, s, l, b->gateway);
	return -EINVAL;
}

static int bridge_set(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
		      const struct kf_nl_link *l)
{
	struct kf_nl_req q;
	if (!strcmp(op->opt, "addresses") || !strcmp(op->opt, "gateway"))
		return kf_net_bridge_set_l3(nl, s, op, l);
	kf_nl_req_init(&q);
	q.ifindex = l->ifindex;
	q.kind = "bridge";
	if (!strcmp(op->opt, "stp"))
		q.br_stp = (int)op->val;
	else if (!strcmp(op->opt, "forward_delay"))
		q.br_fwd_delay = (int)op->val;
	else
		return -EINVAL;
	return kf_nl_link_change(nl, &q);
}

/* ---- persistence ---- */

static void bridge_nd(struct kf_net_pw *pw, const void *dev)
{
	const struct kf_p_bridge *x = dev;
	struct kf_buf *b = kf_nd_netdev(pw, x->name, "bridge", x->mtu, x->mac);
	kf_buf_printf(b, "\n[Bridge]\nSTP=%s\n", x->stp == 1 ? "yes" : "no");
	if (x->forward_delay != KF_UNSET)
		kf_buf_printf(b, "ForwardDelaySec=%lld\n", x->forward_delay);
	kf_net_pw_l3(pw, x->name, &x->addresses, x->gateway);
}

static void bridge_nm(struct kf_net_pw *pw, const void *dev)
{
	const struct kf_p_bridge *x = dev;
	struct kf_buf *b = kf_nm_conn(pw, x->name, "bridge");
	kf_buf_printf(b, "\n[bridge]\nstp=%s\n", x->stp == 1 ? "true" : "false");
	if (x->forward_delay != KF_UNSET)
		kf_buf_printf(b, "forward-delay=%lld\n", x->forward_delay);
	if (x->mac)
		kf_buf_printf(b, "mac-address=%s\n", x->mac);
	kf_net_pw_l3(pw, x->name, &x->addresses, x->gateway);
}

static const char *const bridge_kinds[] = { "bridge", NULL };

const struct kf_net_kind kf_net_kind_bridge = {
	.res = "bridges",
	.kinds = bridge_kinds,
	KF_NET_KIND_LIST(struct kf_p_bridge, bridges),
	.check = bridge_check,
	.refs = bridge_refs,
	.ports = bridge_ports,
	.diff = bridge_diff,
	.fill = bridge_fill,
	.set = bridge_set,
	.port_of = "bridge",
	.persist_nd = bridge_nd,
	.persist_nm = bridge_nm,
};

KF_NET_LINK_RESOURCE(bridges, kf_net_kind_bridge);
