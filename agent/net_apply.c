/* Carrying out the network resources' link changes, and the rollback
 * window around changes on the path to the rollback target (agent/net.h).
 *
 * The first network change of a run snapshots the links, addresses and
 * default routes.  A guarded change is followed by a reachability check of
 * the target (ICMP echo); when the target does not answer within the
 * timeout, the links are put back as in that snapshot: devices created
 * since are deleted, masters, admin state, IPv4 addresses and default
 * routes restored, and the change is reported failed.  Later guarded
 * changes of the same run are then not attempted. */
#include "agent/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"
#include "util.h"

#define IFF_UP_ 1

static struct kf_nl_snap run_snap;
static bool have_run_snap, rolled_back;

static bool our_kind(const char *k)
{
	return !strcmp(k, "bond") || !strcmp(k, "bridge") || !strcmp(k, "vlan") || !strcmp(k, "macvtap") ||
	       !strcmp(k, "macvlan");
}

static int set_master(struct kf_nl *nl, const struct kf_nl_link *port, const struct kf_nl_link *master)
{
	struct kf_nl_req q;
	int r;
	kf_nl_req_init(&q);
	q.ifindex = port->ifindex;
	if (master && !strcmp(master->kind, "bond")) {
		/* a bond takes only members that are down */
		q.up = 0;
		if ((r = kf_nl_link_change(nl, &q)) < 0)
			return r;
	}
	kf_nl_req_init(&q);
	q.ifindex = port->ifindex;
	q.master = master ? master->ifindex : 0;
	if ((r = kf_nl_link_change(nl, &q)) < 0)
		return r;
	kf_nl_req_init(&q);
	q.ifindex = port->ifindex;
	q.up = 1;
	return kf_nl_link_change(nl, &q);
}

static bool has_addr(const struct kf_nl_snap *s, int ifindex, uint32_t a, int prefix)
{
	for (size_t i = 0; i < s->naddrs; i++)
		if (s->addrs[i].ifindex == ifindex && s->addrs[i].addr == a && s->addrs[i].prefix == prefix)
			return true;
	return false;
}

static bool has_route(const struct kf_nl_snap *s, int ifindex, uint32_t gw, int metric)
{
	for (size_t i = 0; i < s->nroutes; i++)
		if (s->routes[i].ifindex == ifindex && s->routes[i].gw == gw && s->routes[i].metric == metric)
			return true;
	return false;
}

/* Puts the links back as in run_snap (best effort: every step is tried). */
static void restore(struct kf_nl *nl, const struct kf_net_want *w)
{
	struct kf_nl_snap cur = { 0 };
	struct kf_net_state st = { 0 };
	if (kf_nl_dump(nl, KF_NL_ALL, &cur) < 0)
		return;
	kf_net_state_load(w->state_path, &st);
	/* devices created since the snapshot */
	for (size_t i = 0; i < cur.nlinks; i++) {
		const struct kf_nl_link *l = &cur.links[i];
		const struct kf_nl_link *o = kf_nl_by_index(&run_snap, l->ifindex);
		if (!o && our_kind(l->kind) && kf_net_owned(&st, l->name)) {
			kf_nl_link_delete(nl, l->ifindex);
			kf_net_state_del(&st, 'd', l->name, NULL);
			kf_net_state_del(&st, 'p', l->name, NULL);
		}
	}
	kf_net_state_save(w->state_path, &st);
	kf_net_state_release(&st);
	kf_nl_snap_release(&cur);
	if (kf_nl_dump(nl, KF_NL_ALL, &cur) < 0)
		return;
	/* masters, then admin state */
	for (size_t i = 0; i < run_snap.nlinks; i++) {
		const struct kf_nl_link *o = &run_snap.links[i];
		const struct kf_nl_link *l = kf_nl_by_index(&cur, o->ifindex);
		if (!l)
			continue;
		if (l->master != o->master)
			set_master(nl, l, o->master ? kf_nl_by_index(&cur, o->master) : NULL);
		struct kf_nl_req q;
		kf_nl_req_init(&q);
		q.ifindex = o->ifindex;
		q.up = (o->flags & IFF_UP_) ? 1 : 0;
		kf_nl_link_change(nl, &q);
	}
	kf_nl_snap_release(&cur);
	if (kf_nl_dump(nl, KF_NL_ALL, &cur) < 0)
		return;
	/* addresses: add back first, then remove the new ones */
	for (size_t i = 0; i < run_snap.naddrs; i++) {
		const struct kf_nl_addr *a = &run_snap.addrs[i];
		if (kf_nl_by_index(&cur, a->ifindex) && !has_addr(&cur, a->ifindex, a->addr, a->prefix))
			kf_nl_addr_add(nl, a->ifindex, a->addr, a->prefix);
	}
	for (size_t i = 0; i < cur.naddrs; i++) {
		const struct kf_nl_addr *a = &cur.addrs[i];
		if (kf_nl_by_index(&run_snap, a->ifindex) && !has_addr(&run_snap, a->ifindex, a->addr, a->prefix))
			kf_nl_addr_del(nl, a->ifindex, a->addr, a->prefix);
	}
	kf_nl_snap_release(&cur);
	if (kf_nl_dump(nl, KF_NL_ALL, &cur) < 0)
		return;
	for (size_t i = 0; i < cur.nroutes; i++) {
		const struct kf_nl_route *x = &cur.routes[i];
		if (!has_route(&run_snap, x->ifindex, x->gw, x->metric))
			kf_nl_route_del(nl, x->ifindex, x->gw, x->metric);
	}
	for (size_t i = 0; i < run_snap.nroutes; i++) {
		const struct kf_nl_route *x = &run_snap.routes[i];
		if (!has_route(&cur, x->ifindex, x->gw, x->metric))
			kf_nl_route_add(nl, x->ifindex, x->gw, x->metric);
	}
	kf_nl_snap_release(&cur);
}

/* Moves port's IPv4 addresses and default routes to master. */
static void move_l3(struct kf_nl *nl, const struct kf_nl_snap *s, int port, int master)
{
	for (size_t i = 0; i < s->naddrs; i++) {
		const struct kf_nl_addr *a = &s->addrs[i];
		if (a->ifindex != port)
			continue;
		kf_nl_addr_add(nl, master, a->addr, a->prefix);
		kf_nl_addr_del(nl, port, a->addr, a->prefix);
	}
	for (size_t i = 0; i < s->nroutes; i++) {
		const struct kf_nl_route *x = &s->routes[i];
		if (x->ifindex != port)
			continue;
		kf_nl_route_del(nl, port, x->gw, x->metric);
		kf_nl_route_add(nl, master, x->gw, x->metric);
	}
}

static int set_addrs(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_nl_link *l,
		     const struct kf_list *want)
{
	int r = 0;
	for (size_t i = 0; i < want->n; i++) {
		uint32_t a;
		int p;
		if (kf_cidr_parse(KF_LIST_STR(*want, i), &a, &p) < 0)
			continue;
		if (!has_addr(s, l->ifindex, htonl(a), p)) {
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

static int bond_opt(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
		    const struct kf_nl_link *l)
{
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
	if (down && (l->flags & IFF_UP_)) {
		struct kf_nl_req d;
		kf_nl_req_init(&d);
		d.ifindex = l->ifindex;
		d.up = 0;
		if ((r = kf_nl_link_change(nl, &d)) < 0)
			return r;
	}
	r = kf_nl_link_change(nl, &q);
	if (down && (l->flags & IFF_UP_)) {
		struct kf_nl_req u;
		kf_nl_req_init(&u);
		u.ifindex = l->ifindex;
		u.up = 1;
		int e = kf_nl_link_change(nl, &u);
		if (!r)
			r = e;
	}
	return r;
}

/* The mode of a bond changes only without members and while down. */
static int bond_mode(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
		     const struct kf_nl_link *l)
{
	int members[64], n = 0, r;
	for (size_t i = 0; i < s->nlinks && n < 64; i++)
		if (s->links[i].master == l->ifindex) {
			members[n++] = s->links[i].ifindex;
			set_master(nl, &s->links[i], NULL);
		}
	struct kf_nl_req q;
	kf_nl_req_init(&q);
	q.ifindex = l->ifindex;
	q.up = 0;
	if ((r = kf_nl_link_change(nl, &q)) < 0)
		return r;
	kf_nl_req_init(&q);
	q.ifindex = l->ifindex;
	q.kind = "bond";
	q.bond.mode = (int)op->val;
	r = kf_nl_link_change(nl, &q);
	kf_nl_req_init(&q);
	q.ifindex = l->ifindex;
	q.up = 1;
	kf_nl_link_change(nl, &q);
	for (int i = 0; i < n; i++) {
		const struct kf_nl_link *m = kf_nl_by_index(s, members[i]);
		int e = m ? set_master(nl, m, l) : 0;
		if (!r)
			r = e;
	}
	return r;
}

static int do_op(struct kf_ctx *ctx, struct kf_nl *nl, const struct kf_nl_snap *s, struct kf_change *ch,
		 kf_net_fill_fn fill, struct kf_net_state *st)
{
	(void)ctx;
	struct kf_net_op *op = ch->data;
	const struct kf_nl_link *l = kf_nl_by_name(s, op->dev);
	struct kf_nl_req q;
	int r;
	kf_nl_req_init(&q);
	if (l)
		q.ifindex = l->ifindex;
	switch (op->op) {
	case KF_NOP_RECREATE:
	case KF_NOP_DELETE:
		if (!op->owned || !kf_net_owned(st, op->dev)) {
			ch->reason = kf_xasprintf("%s was not created by the agent; not deleting it", op->dev);
			return -EPERM;
		}
		if (l && (r = kf_nl_link_delete(nl, l->ifindex)) < 0)
			return r;
		kf_net_state_del(st, 'd', op->dev, NULL);
		kf_net_state_del(st, 'p', op->dev, NULL);
		if (op->op == KF_NOP_DELETE)
			return 0;
		/* fall through */
	case KF_NOP_CREATE:
		kf_nl_req_init(&q);
		q.name = op->dev;
		q.kind = op->kind;
		q.up = 1;
		if (fill && (r = fill(nl, s, op, &q)) < 0)
			return r;
		if ((r = kf_nl_link_create(nl, &q)) < 0)
			return r;
		kf_net_state_set(st, 'd', op->dev, op->kind, NULL);
		return 0;
	case KF_NOP_MTU:
		q.mtu = (int)op->val;
		break;
	case KF_NOP_MAC: {
		uint8_t mac[6];
		if (kf_mac_parse(op->text, mac) < 0)
			return -EINVAL;
		q.mac = mac;
		if (!l)
			return -ENODEV;
		return kf_nl_link_change(nl, &q);
	}
	case KF_NOP_UP:
		q.up = 1;
		break;
	case KF_NOP_MASTER:
	case KF_NOP_RELEASE: {
		const struct kf_nl_link *p = kf_nl_by_name(s, op->arg);
		if (!p || !l)
			return -ENODEV;
		if (op->op == KF_NOP_RELEASE) {
			if ((r = set_master(nl, p, NULL)) < 0)
				return r;
			kf_net_state_del(st, 'p', op->dev, op->arg);
			return 0;
		}
		if ((r = set_master(nl, p, l)) < 0)
			return r;
		move_l3(nl, s, p->ifindex, l->ifindex);
		kf_net_state_set(st, 'p', op->dev, op->arg, NULL);
		if (op->ref && strcmp(op->ref, op->arg)) {
			char mac[18];
			if (kf_mac_norm(op->ref, mac) == 0)
				kf_net_state_set(st, 'm', mac, op->arg, NULL);
		}
		return 0;
	}
	case KF_NOP_BOND:
		return l ? bond_opt(nl, s, op, l) : -ENODEV;
	case KF_NOP_BOND_MODE:
		return l ? bond_mode(nl, s, op, l) : -ENODEV;
	case KF_NOP_BR_STP:
		q.kind = "bridge";
		q.br_stp = (int)op->val;
		break;
	case KF_NOP_BR_FWD:
		q.kind = "bridge";
		q.br_fwd_delay = (int)op->val;
		break;
	case KF_NOP_MV_MODE:
		q.kind = l ? l->kind : "macvtap";
		q.macvlan_mode = (int)op->val;
		break;
	case KF_NOP_ADDRS:
		return l ? set_addrs(nl, s, l, &((const struct kf_p_bridge *)op->want)->addresses) : -ENODEV;
	case KF_NOP_GATEWAY:
		return l ? set_gateway(nl, s, l, ((const struct kf_p_bridge *)op->want)->gateway) : -ENODEV;
	default:
		return -ENOSYS;
	}
	if (!l)
		return -ENODEV;
	return kf_nl_link_change(nl, &q);
}

int kf_net_apply(struct kf_ctx *ctx, struct kf_change *ch, kf_net_fill_fn fill,
		 int (*own)(struct kf_ctx *, struct kf_nl *, struct kf_change *))
{
	struct kf_net_op *op = ch->data;
	const struct kf_net_want *w = op->w;
	struct kf_nl *nl = NULL;
	struct kf_nl_snap s = { 0 };
	struct kf_net_state st = { 0 };
	int r;
	kf_net_cache_drop();
	if (op->guarded && rolled_back) {
		ch->reason = kf_xstrdup("not attempted: an earlier change was rolled back");
		return -ECANCELED;
	}
	if ((r = kf_nl_open(&nl)) < 0)
		goto out;
	if (!have_run_snap) {
		if ((r = kf_nl_dump(nl, KF_NL_ALL, &run_snap)) < 0)
			goto out;
		have_run_snap = true;
	}
	if ((r = kf_nl_dump(nl, KF_NL_ALL, &s)) < 0)
		goto out;
	kf_net_state_load(w->state_path, &st);
	char *before = kf_net_state_text(&st);
	if (op->op >= KF_NOP_CHANNELS && own)
		r = own(ctx, nl, ch);
	else
		r = do_op(ctx, nl, &s, ch, fill, &st);
	char *after = kf_net_state_text(&st);
	int e = strcmp(before, after) ? kf_net_state_save(w->state_path, &st) : 0;
	free(before);
	free(after);
	if (e < 0 && r == 0 && !ch->reason)
		ch->reason = kf_xasprintf("cannot record the change in %s: %s", w->state_path, strerror(-e));
	if (r == 0 && op->guarded && w->target) {
		char ip[16];
		kf_ipv4_fmt(ntohl(w->target), ip);
		if (kf_nl_ping(w->target, w->timeout * 1000) < 0) {
			restore(nl, w);
			rolled_back = true;
			ch->reason = kf_xasprintf("%s unreachable for %ds after the change; previous links restored",
						  ip, w->timeout);
			r = -EHOSTUNREACH;
		}
	}
out:
	if (r < 0 && !ch->reason) {
		const char *why = nl ? kf_nl_why(nl) : "";
		ch->reason = kf_xasprintf("%s%s%s", strerror(-r), *why ? ": " : "", why);
	}
	kf_net_state_release(&st);
	kf_nl_snap_release(&s);
	kf_nl_close(nl);
	return r;
}
