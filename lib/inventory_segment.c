/* Segments: the provisioner's own network and provisioner.segments, each
 * an install network with its interface, address, subnet and DHCP pool,
 * served by a provisioner of its own (kickfleet render/serve/up
 * --segment NAME) on a state store the instances share.  A host's segment
 * is the one it names, else the one whose subnet holds its ip, else the
 * provisioner's own; a guest's the one whose subnet holds its ip, else
 * its KVM host's.  docs/scale.md is the user's side. */
#include "inventory.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"
#include "util.h"

#define FLD(S, k, t, m, ...) { .key = k, .type = t, .off = offsetof(S, m), __VA_ARGS__ }

#define S struct kf_i_standby
static const struct kf_field standby_fields[] = {
	FLD(S, "address", KF_T_IPV4, address, .flags = KF_F_REQUIRED,
	    .doc = "the standby provisioner's address on the network"),
	FLD(S, "range", KF_T_LIST, range, .elem = KF_T_IPV4,
	    .doc = "its half of the pool: first and last address (dhcp mode range)"),
	{ 0 }
};
#undef S
const struct kf_schema kf_standby_schema = { .name = "standby", .size = sizeof(struct kf_i_standby),
					     .fields = standby_fields };

#define S struct kf_i_segment
static const struct kf_field segment_fields[] = {
	FLD(S, "name", KF_T_STR, name, .doc = "segment name"),
	FLD(S, "interface", KF_T_IFACE, interface, .flags = KF_F_REQUIRED,
	    .doc = "interface its provisioner's dnsmasq serves DHCP on"),
	FLD(S, "address", KF_T_IPV4, address, .flags = KF_F_REQUIRED,
	    .doc = "its provisioner's address (next-server and URLs of its hosts)"),
	FLD(S, "subnet", KF_T_CIDR, subnet, .flags = KF_F_REQUIRED, .doc = "the segment's network"),
	FLD(S, "relay", KF_T_IPV4, relay,
	    .doc = "the DHCP relay's address in the subnet (giaddr): the provisioner is on another network"),
	FLD(S, "dhcp", KF_T_STRUCT, dhcp, .sub = &kf_dhcp_section_schema, .doc = "DHCP settings"),
	FLD(S, "url", KF_T_STR, url, .doc = "base URL its hosts use (default http://ADDRESS:HTTP_PORT)"),
	FLD(S, "standby", KF_T_STRUCT, standby, .sub = &kf_standby_schema,
	    .doc = "a second provisioner of the segment: its address and its half of the pool"),
	{ 0 }
};
#undef S
const struct kf_schema kf_segment_schema = { .name = "segment", .size = sizeof(struct kf_i_segment),
					     .fields = segment_fields };

/* One network, the provisioner's own or a segment, for the checks. */
struct net {
	const char *name;
	const void *obj; /* the struct its keys are in, for marks */
	const char *address, *subnet, *relay;
	const struct kf_i_dhcp *dhcp;
	const struct kf_i_standby *standby;
	uint32_t net;
	int prefix;
};

const char *kf_inventory_main_segment(const struct kf_inventory *inv)
{
	return inv->provisioner->segment ? inv->provisioner->segment : "default";
}

/* nets[0] the provisioner's, then the segments; returns the count. */
static size_t nets_of(const struct kf_inventory *inv, struct net *v)
{
	const struct kf_i_provisioner *p = inv->provisioner;
	v[0] = (struct net){ kf_inventory_main_segment(inv), p, p->address, p->subnet, NULL,
			     p->dhcp, p->standby, 0, 0 };
	for (size_t i = 0; i < p->segments.n; i++) {
		const struct kf_i_segment *s = KF_LIST_AT(p->segments, struct kf_i_segment, i);
		v[i + 1] = (struct net){ s->name, s, s->address, s->subnet, s->relay, s->dhcp,
					 s->standby, 0, 0 };
	}
	size_t n = p->segments.n + 1;
	for (size_t i = 0; i < n; i++)
		if (!v[i].subnet || kf_cidr_parse(v[i].subnet, &v[i].net, &v[i].prefix) < 0)
			v[i].prefix = -1;
	return n;
}

static bool in_net(const struct net *n, const char *ip)
{
	uint32_t a;
	return n->prefix >= 0 && ip && kf_ipv4_parse(ip, &a) == 0 && kf_ipv4_in(a, n->net, n->prefix);
}

static void check_in(const struct net *n, const void *obj, const char *key, const char *ip,
		     const char *what, struct kf_err *e)
{
	if (ip && n->prefix >= 0 && !in_net(n, ip))
		kf_errf(e, kf_mark_of(obj, key), "segment %s: %s %s is outside subnet %s", n->name, what,
			ip, n->subnet);
}

static void check_range(const struct net *n, const void *obj, const struct kf_list *range,
			struct kf_err *e)
{
	for (size_t i = 0; i < range->n; i++)
		check_in(n, obj, "range", KF_LIST_STR(*range, i), "dhcp range address", e);
}

/* The standby's address and pool: inside the subnet, its pool apart
 * from the primary's. */
static void check_standby(const struct net *n, struct kf_err *e)
{
	const struct kf_i_standby *sb = n->standby;
	if (!n->relay)
		check_in(n, sb, "address", sb->address, "standby address", e);
	check_range(n, sb, &sb->range, e);
	bool pool = !n->dhcp || n->dhcp->mode == KF_DHCP_RANGE;
	if (pool && sb->range.n != 2) {
		kf_errf(e, kf_mark_of(sb, sb->range.n ? "range" : NULL),
			"segment %s: standby needs range: [FIRST, LAST], its half of the pool", n->name);
		return;
	}
	if (!pool && sb->range.n) {
		kf_errf(e, kf_mark_of(sb, "range"), "segment %s: standby range is for dhcp mode range",
			n->name);
		return;
	}
	if (!pool || !n->dhcp || n->dhcp->range.n != 2)
		return;
	uint32_t a0, a1, b0, b1;
	kf_ipv4_parse(KF_LIST_STR(n->dhcp->range, 0), &a0);
	kf_ipv4_parse(KF_LIST_STR(n->dhcp->range, 1), &a1);
	kf_ipv4_parse(KF_LIST_STR(sb->range, 0), &b0);
	kf_ipv4_parse(KF_LIST_STR(sb->range, 1), &b1);
	if (b0 > b1)
		kf_errf(e, kf_mark_of(sb, "range"), "segment %s: standby range starts after it ends",
			n->name);
	else if (b0 <= a1 && a0 <= b1)
		kf_errf(e, kf_mark_of(sb, "range"),
			"segment %s: standby range overlaps the dhcp range (each hands out its own half)",
			n->name);
}

static void check_nets(const struct net *v, size_t n, struct kf_err *e)
{
	for (size_t i = 1; i < n; i++) {
		const struct kf_i_segment *s = v[i].obj;
		if (!strcmp(v[i].name, v[0].name))
			kf_errf(e, kf_mark_of(s, NULL), "segment %s: the provisioner's own network has this "
							"name (provisioner.segment)", v[i].name);
		if (!v[i].relay)
			check_in(&v[i], s, "address", s->address, "address", e);
		check_in(&v[i], s, "relay", s->relay, "relay", e);
		if (s->dhcp)
			check_range(&v[i], s->dhcp, &s->dhcp->range, e);
		if (!s->dhcp || s->dhcp->mode == KF_DHCP_RANGE)
			if (!s->dhcp || s->dhcp->range.n != 2)
				kf_errf(e, kf_mark_of(s, s->dhcp ? "dhcp" : NULL),
					"segment %s: dhcp mode range needs range: [FIRST, LAST]", v[i].name);
		for (size_t j = 0; j < i; j++) {
			if (v[i].prefix < 0 || v[j].prefix < 0)
				continue;
			int p = v[i].prefix < v[j].prefix ? v[i].prefix : v[j].prefix;
			if (kf_ipv4_in(v[i].net, v[j].net, p))
				kf_errf(e, kf_mark_of(s, "subnet"),
					"segment %s: subnet %s overlaps subnet %s of segment %s (line %d)",
					v[i].name, v[i].subnet, v[j].subnet, v[j].name,
					kf_mark_of(v[j].obj, "subnet")->line);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (v[i].standby)
			check_standby(&v[i], e);
}

static const struct net *net_named(const struct net *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

static const struct net *net_holding(const struct net *v, size_t n, const char *ip)
{
	for (size_t i = 0; i < n; i++)
		if (in_net(&v[i], ip))
			return &v[i];
	return NULL;
}

/* One machine's segment: the one named (key "segment" of obj), else the
 * one holding ip, else dflt; NULL after an error. */
static const struct net *machine_net(const struct net *v, size_t n, const char *what,
				     const char *name, const void *obj, const char *seg,
				     const char *ip, const struct net *dflt, struct kf_err *e)
{
	const struct net *nt = NULL;
	if (seg) {
		if (!(nt = net_named(v, n, seg)))
			kf_errf(e, kf_mark_of(obj, "segment"), "%s %s: unknown segment \"%s\"", what, name,
				seg);
		else if (ip && nt->prefix >= 0 && !in_net(nt, ip))
			kf_errf(e, kf_mark_of(obj, "ip"), "%s %s: ip %s is outside subnet %s of segment %s",
				what, name, ip, nt->subnet, nt->name);
		return nt;
	}
	if (!ip)
		return dflt;
	if (!(nt = net_holding(v, n, ip)))
		kf_errf(e, kf_mark_of(obj, "ip"), "%s %s: ip %s is outside the subnet of every segment",
			what, name, ip);
	return nt;
}

void kf_inventory_check_segments(struct kf_inventory *inv, struct kf_err *e)
{
	const struct kf_i_provisioner *p = inv->provisioner;
	size_t n = p->segments.n + 1, nh = inv->hosts.n;
	struct net *v = kf_xcalloc(n, sizeof(*v));
	nets_of(inv, v);
	check_nets(v, n, e);
	inv->item_seg = kf_arena_alloc(&inv->arena, (nh + inv->guests.n + 1) * sizeof(char *));
	for (size_t i = 0; i < nh; i++) {
		const struct kf_i_host *h = KF_LIST_AT(inv->hosts, struct kf_i_host, i);
		const struct net *nt = machine_net(v, n, "host", h->name, h, h->segment,
						   p->segments.n ? h->ip : NULL, &v[0], e);
		inv->item_seg[i] = nt ? nt->name : NULL;
	}
	for (size_t i = 0; i < inv->guests.n; i++) {
		const struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
		const struct net *dflt = &v[0];
		for (size_t j = 0; j < nh; j++)
			if (!strcmp(KF_LIST_AT(inv->hosts, struct kf_i_host, j)->name, g->host))
				dflt = inv->item_seg[j] ? net_named(v, n, inv->item_seg[j]) : NULL;
		const struct net *nt = machine_net(v, n, "guest", g->name, g, NULL,
						   p->segments.n ? g->ip : NULL, dflt, e);
		inv->item_seg[nh + i] = nt ? nt->name : NULL;
	}
	free(v);
}

/* The segment's network over a copy of the provisioner's settings. */
static struct kf_i_provisioner *project(struct kf_inventory *inv, const struct kf_i_segment *s)
{
	struct kf_i_provisioner *c = kf_arena_alloc(&inv->arena, sizeof(*c));
	*c = *inv->provisioner;
	if (s) {
		c->node = s->node;
		c->interface = s->interface;
		c->address = s->address;
		c->subnet = s->subnet;
		c->dhcp = s->dhcp;
		c->url = s->url;
		c->standby = s->standby;
		c->segment = s->name;
		c->ipv6_prefix = NULL;
	}
	c->segments = (struct kf_list){ 0 };
	return c;
}

int kf_inventory_select(struct kf_inventory *inv, const char *name, bool standby,
			struct kf_err *e)
{
	const struct kf_i_provisioner *p = inv->provisioner;
	const struct kf_i_segment *seg = NULL;
	if (!name)
		name = kf_inventory_main_segment(inv);
	if (strcmp(name, kf_inventory_main_segment(inv))) {
		for (size_t i = 0; i < p->segments.n && !seg; i++)
			if (!strcmp(KF_LIST_AT(p->segments, struct kf_i_segment, i)->name, name))
				seg = KF_LIST_AT(p->segments, struct kf_i_segment, i);
		if (!seg)
			return kf_errc(e, -ENOENT, NULL, "%s: unknown segment \"%s\"", inv->path, name);
	}
	struct kf_i_provisioner *c = project(inv, seg);
	if (standby) {
		if (!c->standby)
			return kf_errc(e, -ENOENT, NULL, "%s: segment %s has no standby", inv->path, name);
		c->address = c->standby->address;
		c->url = NULL; /* not the primary's: the standby's own, from its address */
		if (c->standby->range.n == 2) {
			struct kf_i_dhcp *d = kf_arena_alloc(&inv->arena, sizeof(*d));
			*d = *c->dhcp;
			d->range = c->standby->range;
			c->dhcp = d;
		}
	}
	inv->provisioner = c;
	inv->segment = kf_arena_strdup(&inv->arena, name);
	return 0;
}

int kf_inventory_load_segment(struct kf_inventory **out, const char *path, const char *segment,
			      bool standby, struct kf_err *e)
{
	int r = kf_inventory_load(out, path, e);
	if (r < 0 || (!segment && !standby && !(*out)->provisioner->segments.n))
		return r;
	if ((r = kf_inventory_select(*out, segment, standby, e)) < 0) {
		kf_inventory_free(*out);
		*out = NULL;
	}
	return r;
}

bool kf_inventory_item_here(const struct kf_inventory *inv, size_t index)
{
	const char *here = inv->segment;
	if (!here && inv->provisioner->segments.n)
		here = kf_inventory_main_segment(inv); /* this machine's trees are its own network's */
	if (!here)
		return true;
	const char *s = inv->item_seg ? inv->item_seg[index] : NULL;
	return s && !strcmp(s, here);
}

bool kf_inventory_name_here(const struct kf_inventory *inv, const char *name)
{
	for (size_t i = 0; i < inv->hosts.n; i++)
		if (!strcmp(KF_LIST_AT(inv->hosts, struct kf_i_host, i)->name, name))
			return kf_inventory_item_here(inv, i);
	for (size_t i = 0; i < inv->guests.n; i++)
		if (!strcmp(KF_LIST_AT(inv->guests, struct kf_i_guest, i)->name, name))
			return kf_inventory_item_here(inv, inv->hosts.n + i);
	return false;
}
