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

int kf_net_set_master(struct kf_nl *nl, const struct kf_nl_link *port, const struct kf_nl_link *master)
{
	const struct kf_net_kind *k = master ? kf_net_kind_of(master->kind) : NULL;
	struct kf_nl_req q;
	int r;
	kf_nl_req_init(&q);
	q.ifindex = port->ifindex;
	if (k && k->ports_down) {
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

static bool has_route(const struct kf_nl_snap *s, int ifindex, uint32_t gw, int metric)
{
	for (size_t i = 0; i < s->nroutes; i++)
		if (s->routes[i].ifindex == ifindex && s->routes[i].gw == gw && s->routes[i].metric == metric)
			return true;
	return false;
}

/* Deletes the devices the agent created since the snapshot (the kinds
 * not made through rtnetlink undo their own changes first). */
static void restore_created(struct kf_nl *nl, const struct kf_net_want *w, const struct kf_nl_snap *cur)
{
	struct kf_net_state st = { 0 };
	kf_net_state_load(w->state_path, &st);
	for (size_t i = 0; kf_net_kinds[i]; i++)
		if (kf_net_kinds[i]->restore)
			kf_net_kinds[i]->restore(&st);
	for (size_t i = 0; i < cur->nlinks; i++) {
		const struct kf_nl_link *l = &cur->links[i];
		if (!kf_nl_by_index(&run_snap, l->ifindex) && kf_net_kind_of(l->kind) && kf_net_owned(&st, l->name)) {
			kf_nl_link_delete(nl, l->ifindex);
			kf_net_state_del(&st, 'd', l->name, NULL);
			kf_net_state_del(&st, 'p', l->name, NULL);
		}
	}
	kf_net_state_save(w->state_path, &st);
	kf_net_state_release(&st);
}

/* Masters, then admin state. */
static void restore_links(struct kf_nl *nl, const struct kf_nl_snap *cur)
{
	for (size_t i = 0; i < run_snap.nlinks; i++) {
		const struct kf_nl_link *o = &run_snap.links[i];
		const struct kf_nl_link *l = kf_nl_by_index(cur, o->ifindex);
		if (!l)
			continue;
		if (l->master != o->master)
			kf_net_set_master(nl, l, o->master ? kf_nl_by_index(cur, o->master) : NULL);
		struct kf_nl_req q;
		kf_nl_req_init(&q);
		q.ifindex = o->ifindex;
		q.up = (o->flags & IFF_UP_) ? 1 : 0;
		kf_nl_link_change(nl, &q);
	}
}

/* Addresses: add back first, then remove the new ones. */
static void restore_addrs(struct kf_nl *nl, const struct kf_nl_snap *cur)
{
	for (size_t i = 0; i < run_snap.naddrs; i++) {
		const struct kf_nl_addr *a = &run_snap.addrs[i];
		if (kf_nl_by_index(cur, a->ifindex) && !kf_nl_has_addr(cur, a->ifindex, a->addr, a->prefix))
			kf_nl_addr_add(nl, a->ifindex, a->addr, a->prefix);
	}
	for (size_t i = 0; i < cur->naddrs; i++) {
		const struct kf_nl_addr *a = &cur->addrs[i];
		if (kf_nl_by_index(&run_snap, a->ifindex) && !kf_nl_has_addr(&run_snap, a->ifindex, a->addr, a->prefix))
			kf_nl_addr_del(nl, a->ifindex, a->addr, a->prefix);
	}
}

static void restore_routes(struct kf_nl *nl, const struct kf_nl_snap *cur)
{
	for (size_t i = 0; i < cur->nroutes; i++) {
		const struct kf_nl_route *x = &cur->routes[i];
		if (!has_route(&run_snap, x->ifindex, x->gw, x->metric))
			kf_nl_route_del(nl, x->ifindex, x->gw, x->metric);
	}
	for (size_t i = 0; i < run_snap.nroutes; i++) {
		const struct kf_nl_route *x = &run_snap.routes[i];
		if (!has_route(cur, x->ifindex, x->gw, x->metric))
			kf_nl_route_add(nl, x->ifindex, x->gw, x->metric);
	}
}

/* Puts the links back as in run_snap (best effort: every step is tried,
 * each on a fresh dump). */
static void restore(struct kf_nl *nl, const struct kf_net_want *w)
{
	void (*const steps[])(struct kf_nl *, const struct kf_nl_snap *) = { restore_links, restore_addrs,
									       restore_routes };
	struct kf_nl_snap cur = { 0 };
	if (kf_nl_dump(nl, KF_NL_ALL, &cur) < 0)
		return;
	restore_created(nl, w, &cur);
	for (size_t i = 0; i < KF_ARRAY_SIZE(steps); i++) {
		kf_nl_snap_release(&cur);
		if (kf_nl_dump(nl, KF_NL_ALL, &cur) < 0)
			return;
		steps[i](nl, &cur);
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

/* CREATE, and the two halves of RECREATE: only devices the agent made go. */
static int op_delete(struct kf_nl *nl, const struct kf_nl_link *l, struct kf_change *ch, struct kf_net_state *st)
{
	const struct kf_net_op *op = ch->data;
	int r;
	if (!op->owned || !kf_net_owned(st, op->dev)) {
		ch->reason = kf_xasprintf("%s was not created by the agent; not deleting it", op->dev);
		return -EPERM;
	}
	const char *was = kf_net_owned(st, op->dev);
	if (op->lk->destroy && !strcmp(was, op->lk->kinds[0]))
		r = op->lk->destroy(ch);
	else
		r = l ? kf_nl_link_delete(nl, l->ifindex) : 0;
	if (r < 0)
		return r;
	kf_net_state_del(st, 'd', op->dev, NULL);
	kf_net_state_del(st, 'p', op->dev, NULL);
	return 0;
}

static int op_create(struct kf_nl *nl, const struct kf_nl_snap *s, struct kf_change *ch, struct kf_net_state *st)
{
	const struct kf_net_op *op = ch->data;
	struct kf_nl_req q;
	int r;
	if (op->lk->create) {
		if ((r = op->lk->create(nl, ch)) < 0)
			return r;
		kf_net_state_set(st, 'd', op->dev, op->kind, NULL);
		return 0;
	}
	kf_nl_req_init(&q);
	q.name = op->dev;
	q.kind = op->kind;
	q.up = 1;
	if ((r = op->lk->fill(s, op, &q)) < 0 || (r = kf_nl_link_create(nl, &q)) < 0)
		return r;
	kf_net_state_set(st, 'd', op->dev, op->kind, NULL);
	return 0;
}

/* MASTER and RELEASE: arg joins or leaves dev (l), through the kind's
 * port when it has one. */
static int op_master(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_nl_link *l,
		     struct kf_change *ch, struct kf_net_state *st)
{
	const struct kf_net_op *op = ch->data;
	const struct kf_nl_link *p = kf_nl_by_name(s, op->arg);
	bool join = op->op == KF_NOP_MASTER;
	int r;
	if (!op->lk->port && (!p || !l))
		return -ENODEV;
	if (op->lk->port)
		r = op->lk->port(nl, ch, join);
	else
		r = kf_net_set_master(nl, p, join ? l : NULL);
	if (r < 0)
		return r;
	if (!join) {
		kf_net_state_del(st, 'p', op->dev, op->arg);
		return 0;
	}
	if (p && l)
		move_l3(nl, s, p->ifindex, l->ifindex);
	kf_net_state_set(st, 'p', op->dev, op->arg, NULL);
	char mac[18];
	if (op->ref && strcmp(op->ref, op->arg) && kf_mac_norm(op->ref, mac) == 0)
		kf_net_state_set(st, 'm', mac, op->arg, NULL);
	return 0;
}

/* MTU, MAC, UP: a plain change of an existing link. */
static int op_link(struct kf_nl *nl, const struct kf_nl_link *l, const struct kf_net_op *op)
{
	struct kf_nl_req q;
	uint8_t mac[6];
	kf_nl_req_init(&q);
	if (op->op == KF_NOP_MAC && kf_mac_parse(op->text, mac) < 0)
		return -EINVAL;
	if (!l)
		return -ENODEV;
	q.ifindex = l->ifindex;
	if (op->op == KF_NOP_MTU)
		q.mtu = (int)op->val;
	else if (op->op == KF_NOP_MAC)
		q.mac = mac;
	else
		q.up = 1;
	return kf_nl_link_change(nl, &q);
}

/* Carries out an op of a link kind; what is the kind's own goes to its set. */
static int do_op(struct kf_nl *nl, const struct kf_nl_snap *s, struct kf_change *ch, struct kf_net_state *st)
{
	struct kf_net_op *op = ch->data;
	const struct kf_nl_link *l = kf_nl_by_name(s, op->dev);
	int r;
	switch (op->op) {
	case KF_NOP_DELETE:
		return op_delete(nl, l, ch, st);
	case KF_NOP_RECREATE:
		if ((r = op_delete(nl, l, ch, st)) < 0)
			return r;
		/* fall through */
	case KF_NOP_CREATE:
		return op_create(nl, s, ch, st);
	case KF_NOP_MTU:
	case KF_NOP_MAC:
	case KF_NOP_UP:
		return op_link(nl, l, op);
	case KF_NOP_MASTER:
	case KF_NOP_RELEASE:
		return op_master(nl, s, l, ch, st);
	case KF_NOP_OPT:
		if (!op->lk->set)
			return -ENOSYS;
		return l ? op->lk->set(nl, s, op, l) : -ENODEV;
	}
	return -ENOSYS;
}

int kf_net_apply(struct kf_ctx *ctx, struct kf_change *ch,
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
	if (own)
		r = own(ctx, nl, ch);
	else if (op->lk)
		r = do_op(nl, &s, ch, &st);
	else
		r = -ENOSYS;
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

int kf_net_link_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	return kf_net_apply(ctx, ch, NULL);
}
