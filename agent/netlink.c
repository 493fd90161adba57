/* rtnetlink through libnl, and the ethtool ioctl (agent/netlink.h).
 *
 * libnl's route objects do not know bond, bridge or VF attributes well, so
 * this file uses libnl for the socket, messages and attributes and reads
 * and writes the IFLA_* attributes itself. */
#include "agent/netlink.h"

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "util.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct kf_nl {
	struct nl_sock *sk;
	char why[256];
};

/* what one request's replies did */
struct reply {
	struct kf_nl *nl;
	int err;   /* negative errno from NLMSG_ERROR */
	bool done; /* ACK or end of dump */
	int (*valid)(struct nl_msg *msg, void *arg);
	void *arg;
};

int kf_nl_open(struct kf_nl **out)
{
	*out = NULL;
	struct kf_nl *nl = kf_xcalloc(1, sizeof(*nl));
	int r = 0;
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		r = -ENOMEM;
		goto out;
	}
	if (nl_connect(nl->sk, NETLINK_ROUTE) < 0) {
		r = -errno ? -errno : -EIO;
		goto out;
	}
	nl_socket_set_msg_buf_size(nl->sk, 1 << 16);
	nl_socket_set_buffer_size(nl->sk, 1 << 20, 1 << 18);
	int one = 1, fd = nl_socket_get_fd(nl->sk);
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	*out = nl;
	nl = NULL;
out:
	kf_nl_close(nl);
	return r;
}

void kf_nl_close(struct kf_nl *nl)
{
	if (!nl)
		return;
	if (nl->sk)
		nl_socket_free(nl->sk);
	free(nl);
}

const char *kf_nl_why(const struct kf_nl *nl)
{
	return nl ? nl->why : "";
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	(void)who;
	struct reply *rp = arg;
	rp->err = e->error ? e->error : -EIO;
	rp->done = true;
	/* extended ack: the TLVs follow the (capped) echoed request */
	struct nlmsghdr *h = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	if (h->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t off = NLMSG_HDRLEN + sizeof(*e);
		if (!(h->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		if (off < h->nlmsg_len) {
			struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
			if (!nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)h + NLMSG_ALIGN(off)),
				       (int)(h->nlmsg_len - NLMSG_ALIGN(off)), NULL) &&
			    tb[NLMSGERR_ATTR_MSG])
				snprintf(rp->nl->why, sizeof(rp->nl->why), "%s",
					 (const char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
		}
	}
	return NL_STOP;
}

static int on_done(struct nl_msg *msg, void *arg)
{
	(void)msg;
	((struct reply *)arg)->done = true;
	return NL_STOP;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct reply *rp = arg;
	return rp->valid ? rp->valid(msg, rp->arg) : NL_OK;
}

/* Sends msg (consumed) and reads replies until the ACK, the end of the
 * dump or an error. */
static int transact(struct kf_nl *nl, struct nl_msg *msg, int (*valid)(struct nl_msg *, void *),
		    void *arg)
{
	struct reply rp = { .nl = nl, .valid = valid, .arg = arg };
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int r = 0;
	nl->why[0] = 0;
	if (!cb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, &rp);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_done, &rp);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_done, &rp);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &rp);
	r = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	if (r < 0) {
		r = -EIO;
		goto out;
	}
	r = 0;
	while (!rp.done) {
		int n = nl_recvmsgs(nl->sk, cb);
		if (rp.err)
			break;
		if (n < 0) {
			r = -EIO;
			break;
		}
	}
	if (rp.err)
		r = rp.err;
out:
	nl_cb_put(cb);
	return r;
}

/* ---- the attributes of each kind of link (IFLA_INFO_DATA) ----
 * Every attribute the agent reads and writes, in the order it writes them:
 * the kind, the attribute, its width, and the int it is in a struct
 * kf_nl_link and a struct kf_nl_req (-1 there: not sent). */
#define LINK_AT(f) offsetof(struct kf_nl_link, f)
#define REQ_AT(f) offsetof(struct kf_nl_req, f)
static const struct nl_attr {
	const char *kind;
	int type, bytes;
	size_t link_off, req_off;
	bool boolean; /* read as 0/1 */
} nl_attrs[] = {
	{ "bond", IFLA_BOND_MODE, 1, LINK_AT(bond.mode), REQ_AT(bond.mode), false },
	{ "bond", IFLA_BOND_MIIMON, 4, LINK_AT(bond.miimon), REQ_AT(bond.miimon), false },
	{ "bond", IFLA_BOND_UPDELAY, 4, LINK_AT(bond.updelay), REQ_AT(bond.updelay), false },
	{ "bond", IFLA_BOND_DOWNDELAY, 4, LINK_AT(bond.downdelay), REQ_AT(bond.downdelay), false },
	{ "bond", IFLA_BOND_AD_LACP_RATE, 1, LINK_AT(bond.lacp_rate), REQ_AT(bond.lacp_rate), false },
	{ "bond", IFLA_BOND_XMIT_HASH_POLICY, 1, LINK_AT(bond.xmit_hash), REQ_AT(bond.xmit_hash), false },
	{ "bond", IFLA_BOND_PRIMARY, 4, LINK_AT(bond.primary), REQ_AT(bond.primary), false },
	{ "bridge", IFLA_BR_STP_STATE, 4, LINK_AT(br_stp), REQ_AT(br_stp), true },
	{ "bridge", IFLA_BR_FORWARD_DELAY, 4, LINK_AT(br_fwd_delay), REQ_AT(br_fwd_delay), false },
	{ "vlan", IFLA_VLAN_ID, 2, LINK_AT(vlan_id), REQ_AT(vlan_id), false },
	{ "macvtap", IFLA_MACVLAN_MODE, 4, LINK_AT(macvlan_mode), REQ_AT(macvlan_mode), false },
	{ "macvlan", IFLA_MACVLAN_MODE, 4, LINK_AT(macvlan_mode), REQ_AT(macvlan_mode), false },
};
#undef LINK_AT
#undef REQ_AT

static void get_info_data(struct kf_nl_link *l, struct nlattr *data)
{
	struct nlattr *a;
	int rem;
	nla_for_each_nested(a, data, rem) {
		for (size_t i = 0; i < KF_ARRAY_SIZE(nl_attrs); i++) {
			const struct nl_attr *x = &nl_attrs[i];
			if (x->type != nla_type(a) || strcmp(x->kind, l->kind) || nla_len(a) < x->bytes)
				continue;
			int v = x->bytes == 1 ? nla_get_u8(a) : x->bytes == 2 ? nla_get_u16(a) : (int)nla_get_u32(a);
			*(int *)((char *)l + x->link_off) = x->boolean ? v != 0 : v;
		}
	}
}

/* ---- reading ---- */

static void parse_linkinfo(struct kf_nl_link *l, struct nlattr *info)
{
	struct nlattr *tb[IFLA_INFO_MAX + 1];
	if (nla_parse_nested(tb, IFLA_INFO_MAX, info, NULL) < 0)
		return;
	if (tb[IFLA_INFO_KIND])
		snprintf(l->kind, sizeof(l->kind), "%s", (const char *)nla_data(tb[IFLA_INFO_KIND]));
	if (tb[IFLA_INFO_SLAVE_KIND])
		snprintf(l->slave_kind, sizeof(l->slave_kind), "%s",
			 (const char *)nla_data(tb[IFLA_INFO_SLAVE_KIND]));
	if (tb[IFLA_INFO_DATA])
		get_info_data(l, tb[IFLA_INFO_DATA]);
}

static void parse_vfs(struct kf_nl_link *l, struct nlattr *list)
{
	struct nlattr *vf;
	int rem, n = 0;
	nla_for_each_nested(vf, list, rem)
		n++;
	if (!n)
		return;
	l->vfs = kf_xcalloc((size_t)n, sizeof(*l->vfs));
	nla_for_each_nested(vf, list, rem) {
		struct nlattr *tb[IFLA_VF_MAX + 1];
		if (nla_parse_nested(tb, IFLA_VF_MAX, vf, NULL) < 0 || !tb[IFLA_VF_MAC])
			continue;
		struct kf_nl_vf *v = &l->vfs[l->nvfs++];
		const struct ifla_vf_mac *m = nla_data(tb[IFLA_VF_MAC]);
		v->vf = (int)m->vf;
		memcpy(v->mac, m->mac, 6);
		v->vlan = tb[IFLA_VF_VLAN] ? (int)((const struct ifla_vf_vlan *)nla_data(tb[IFLA_VF_VLAN]))->vlan : 0;
		v->spoofchk = tb[IFLA_VF_SPOOFCHK]
				      ? (int)((const struct ifla_vf_spoofchk *)nla_data(tb[IFLA_VF_SPOOFCHK]))->setting
				      : -1;
		v->trust = tb[IFLA_VF_TRUST]
				   ? (int)((const struct ifla_vf_trust *)nla_data(tb[IFLA_VF_TRUST]))->setting
				   : -1;
		if (v->spoofchk > 1) /* (u32)-1: not supported */
			v->spoofchk = -1;
		if (v->trust > 1)
			v->trust = -1;
	}
}

static int on_link(struct nl_msg *msg, void *arg)
{
	struct kf_nl_snap *s = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	if (h->nlmsg_type != RTM_NEWLINK)
		return NL_OK;
	struct ifinfomsg *ifi = nlmsg_data(h);
	struct nlattr *tb[IFLA_MAX + 1];
	if (nlmsg_parse(h, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 || !tb[IFLA_IFNAME])
		return NL_OK;
	s->links = kf_xrealloc(s->links, (s->nlinks + 1) * sizeof(*s->links));
	struct kf_nl_link *l = &s->links[s->nlinks++];
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	snprintf(l->name, sizeof(l->name), "%s", (const char *)nla_data(tb[IFLA_IFNAME]));
	if (tb[IFLA_MASTER]) l->master = (int)nla_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_LINK]) l->link = (int)nla_get_u32(tb[IFLA_LINK]);
	if (tb[IFLA_MTU]) l->mtu = nla_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_OPERSTATE]) l->operstate = nla_get_u8(tb[IFLA_OPERSTATE]);
	if (tb[IFLA_NUM_RX_QUEUES]) l->num_rx = nla_get_u32(tb[IFLA_NUM_RX_QUEUES]);
	if (tb[IFLA_NUM_TX_QUEUES]) l->num_tx = nla_get_u32(tb[IFLA_NUM_TX_QUEUES]);
	if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6) {
		memcpy(l->mac, nla_data(tb[IFLA_ADDRESS]), 6);
		l->has_mac = true;
	}
	if (tb[IFLA_PERM_ADDRESS] && nla_len(tb[IFLA_PERM_ADDRESS]) == 6) {
		static const uint8_t zero[6];
		memcpy(l->perm_mac, nla_data(tb[IFLA_PERM_ADDRESS]), 6);
		l->has_perm_mac = memcmp(l->perm_mac, zero, 6) != 0;
	}
	if (tb[IFLA_LINKINFO])
		parse_linkinfo(l, tb[IFLA_LINKINFO]);
	if (tb[IFLA_VFINFO_LIST])
		parse_vfs(l, tb[IFLA_VFINFO_LIST]);
	return NL_OK;
}

static int on_addr(struct nl_msg *msg, void *arg)
{
	struct kf_nl_snap *s = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct ifaddrmsg *ifa = nlmsg_data(h);
	struct nlattr *tb[IFA_MAX + 1];
	if (h->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET ||
	    nlmsg_parse(h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return NL_OK;
	struct nlattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || nla_len(a) != 4)
		return NL_OK;
	s->addrs = kf_xrealloc(s->addrs, (s->naddrs + 1) * sizeof(*s->addrs));
	struct kf_nl_addr *x = &s->addrs[s->naddrs++];
	x->ifindex = (int)ifa->ifa_index;
	x->prefix = ifa->ifa_prefixlen;
	memcpy(&x->addr, nla_data(a), 4);
	return NL_OK;
}

static int on_route(struct nl_msg *msg, void *arg)
{
	struct kf_nl_snap *s = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct rtmsg *rt = nlmsg_data(h);
	struct nlattr *tb[RTA_MAX + 1];
	if (h->nlmsg_type != RTM_NEWROUTE || rt->rtm_family != AF_INET || rt->rtm_dst_len ||
	    rt->rtm_type != RTN_UNICAST || nlmsg_parse(h, sizeof(*rt), tb, RTA_MAX, NULL) < 0)
		return NL_OK;
	unsigned table = tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) : rt->rtm_table;
	if (table != RT_TABLE_MAIN || !tb[RTA_OIF])
		return NL_OK;
	s->routes = kf_xrealloc(s->routes, (s->nroutes + 1) * sizeof(*s->routes));
	struct kf_nl_route *x = &s->routes[s->nroutes++];
	x->ifindex = (int)nla_get_u32(tb[RTA_OIF]);
	x->gw = tb[RTA_GATEWAY] ? nla_get_u32(tb[RTA_GATEWAY]) : 0;
	x->metric = tb[RTA_PRIORITY] ? (int)nla_get_u32(tb[RTA_PRIORITY]) : 0;
	return NL_OK;
}

/* One dump request: type with its family header hdr, read by valid into s. */
static int dump_one(struct kf_nl *nl, int type, const void *hdr, size_t len, bool vfs,
		    int (*valid)(struct nl_msg *, void *), struct kf_nl_snap *s)
{
	struct nl_msg *m = nlmsg_alloc_simple(type, NLM_F_REQUEST | NLM_F_DUMP);
	if (!m || nlmsg_append(m, (void *)hdr, len, NLMSG_ALIGNTO) < 0 ||
	    (vfs && nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_VF) < 0)) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	return transact(nl, m, valid, s);
}

int kf_nl_dump(struct kf_nl *nl, unsigned what, struct kf_nl_snap *s)
{
	const struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	const struct ifaddrmsg ifa = { .ifa_family = AF_INET };
	const struct rtmsg rt = { .rtm_family = AF_INET };
	int r = 0;
	memset(s, 0, sizeof(*s));
	if ((what & KF_NL_LINKS) && (r = dump_one(nl, RTM_GETLINK, &ifi, sizeof(ifi), true, on_link, s)) < 0)
		goto out;
	if ((what & KF_NL_ADDRS) && (r = dump_one(nl, RTM_GETADDR, &ifa, sizeof(ifa), false, on_addr, s)) < 0)
		goto out;
	if (what & KF_NL_ROUTES)
		r = dump_one(nl, RTM_GETROUTE, &rt, sizeof(rt), false, on_route, s);
out:
	if (r < 0)
		kf_nl_snap_release(s);
	return r;
}

void kf_nl_snap_release(struct kf_nl_snap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nlinks; i++)
		free(s->links[i].vfs);
	free(s->links);
	free(s->addrs);
	free(s->routes);
	memset(s, 0, sizeof(*s));
}

void kf_nl_snap_copy(struct kf_nl_snap *dst, const struct kf_nl_snap *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->nlinks = src->nlinks;
	dst->naddrs = src->naddrs;
	dst->nroutes = src->nroutes;
	dst->links = kf_xcalloc(src->nlinks + 1, sizeof(*dst->links));
	dst->addrs = kf_xcalloc(src->naddrs + 1, sizeof(*dst->addrs));
	dst->routes = kf_xcalloc(src->nroutes + 1, sizeof(*dst->routes));
	if (src->nlinks)
		memcpy(dst->links, src->links, src->nlinks * sizeof(*dst->links));
	if (src->naddrs)
		memcpy(dst->addrs, src->addrs, src->naddrs * sizeof(*dst->addrs));
	if (src->nroutes)
		memcpy(dst->routes, src->routes, src->nroutes * sizeof(*dst->routes));
	for (size_t i = 0; i < src->nlinks; i++) {
		const struct kf_nl_link *l = &src->links[i];
		if (!l->nvfs)
			continue;
		dst->links[i].vfs = kf_xcalloc((size_t)l->nvfs, sizeof(*l->vfs));
		memcpy(dst->links[i].vfs, l->vfs, (size_t)l->nvfs * sizeof(*l->vfs));
	}
}

const struct kf_nl_link *kf_nl_by_name(const struct kf_nl_snap *s, const char *name)
{
	for (size_t i = 0; i < s->nlinks; i++)
		if (!strcmp(s->links[i].name, name))
			return &s->links[i];
	return NULL;
}

const struct kf_nl_link *kf_nl_by_index(const struct kf_nl_snap *s, int ifindex)
{
	for (size_t i = 0; i < s->nlinks; i++)
		if (s->links[i].ifindex == ifindex)
			return &s->links[i];
	return NULL;
}

static bool mac_device_kind(const char *kind)
{
	/* virtual devices that copy or share a NIC's MAC */
	return !strcmp(kind, "bond") || !strcmp(kind, "bridge") || !strcmp(kind, "vlan") ||
	       !strcmp(kind, "macvtap") || !strcmp(kind, "macvlan") || !strcmp(kind, "team");
}

const struct kf_nl_link *kf_nl_by_mac(const struct kf_nl_snap *s, const uint8_t mac[6])
{
	for (size_t i = 0; i < s->nlinks; i++)
		if (s->links[i].has_perm_mac && !memcmp(s->links[i].perm_mac, mac, 6))
			return &s->links[i];
	for (size_t i = 0; i < s->nlinks; i++)
		if (!s->links[i].has_perm_mac && s->links[i].has_mac && !mac_device_kind(s->links[i].kind) &&
		    !memcmp(s->links[i].mac, mac, 6))
			return &s->links[i];
	return NULL;
}

const char *kf_nl_name(const struct kf_nl_snap *s, int ifindex)
{
	const struct kf_nl_link *l = kf_nl_by_index(s, ifindex);
	return l ? l->name : "";
}

bool kf_nl_has_addr(const struct kf_nl_snap *s, int ifindex, uint32_t addr, int prefix)
{
	for (size_t i = 0; i < s->naddrs; i++)
		if (s->addrs[i].ifindex == ifindex && s->addrs[i].addr == addr && s->addrs[i].prefix == prefix)
			return true;
	return false;
}

/* ---- writing links ---- */

void kf_nl_req_init(struct kf_nl_req *r)
{
	memset(r, 0, sizeof(*r));
	r->link = r->mtu = r->master = r->up = -1;
	r->bond = (struct kf_nl_bond){ -1, -1, -1, -1, -1, -1, -1 };
	r->br_stp = r->br_fwd_delay = r->vlan_id = r->macvlan_mode = -1;
}

/* IFLA_INFO_DATA with the attributes of the request's kind it sets; none
 * when it sets none. */
static int put_info_data(struct nl_msg *m, const struct kf_nl_req *r)
{
	struct nlattr *data = NULL;
	for (size_t i = 0; i < KF_ARRAY_SIZE(nl_attrs); i++) {
		const struct nl_attr *x = &nl_attrs[i];
		int v = *(const int *)((const char *)r + x->req_off);
		if (strcmp(x->kind, r->kind) || v < 0)
			continue;
		if (!data && !(data = nla_nest_start(m, IFLA_INFO_DATA)))
			return -ENOMEM;
		int e = x->bytes == 1   ? nla_put_u8(m, x->type, (uint8_t)v)
			: x->bytes == 2 ? nla_put_u16(m, x->type, (uint16_t)v)
					: nla_put_u32(m, x->type, (uint32_t)v);
		if (e < 0)
			return -ENOMEM;
	}
	if (data)
		nla_nest_end(m, data);
	return 0;
}

static int link_msg(struct kf_nl *nl, const struct kf_nl_req *r, bool create)
{
	int flags = NLM_F_REQUEST | NLM_F_ACK | (create ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWLINK, flags);
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = create ? 0 : r->ifindex };
	if (r->up >= 0) {
		ifi.ifi_change = IFF_UP;
		ifi.ifi_flags = r->up ? IFF_UP : 0;
	}
	if (!m || nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0)
		goto oom;
	if (create && r->name && nla_put_string(m, IFLA_IFNAME, r->name) < 0)
		goto oom;
	if (r->link > 0 && nla_put_u32(m, IFLA_LINK, (uint32_t)r->link) < 0)
		goto oom;
	if (r->mtu > 0 && nla_put_u32(m, IFLA_MTU, (uint32_t)r->mtu) < 0)
		goto oom;
	if (r->mac && nla_put(m, IFLA_ADDRESS, 6, r->mac) < 0)
		goto oom;
	if (r->master >= 0 && nla_put_u32(m, IFLA_MASTER, (uint32_t)r->master) < 0)
		goto oom;
	if (r->kind) {
		struct nlattr *info = nla_nest_start(m, IFLA_LINKINFO);
		if (!info || nla_put_string(m, IFLA_INFO_KIND, r->kind) < 0 || put_info_data(m, r) < 0)
			goto oom;
		nla_nest_end(m, info);
	}
	return transact(nl, m, NULL, NULL);
oom:
	nlmsg_free(m);
	return -ENOMEM;
}

int kf_nl_link_create(struct kf_nl *nl, const struct kf_nl_req *r)
{
	if (!r->name || !r->kind)
		return -EINVAL;
	return link_msg(nl, r, true);
}

int kf_nl_link_change(struct kf_nl *nl, const struct kf_nl_req *r)
{
	if (r->ifindex <= 0)
		return -EINVAL;
	return link_msg(nl, r, false);
}

int kf_nl_link_delete(struct kf_nl *nl, int ifindex)
{
	struct nl_msg *m = nlmsg_alloc_simple(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	if (!m || nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	return transact(nl, m, NULL, NULL);
}

/* ---- addresses and routes ---- */

static int addr_msg(struct kf_nl *nl, int type, int flags, int ifindex, uint32_t addr, int prefix)
{
	struct nl_msg *m = nlmsg_alloc_simple(type, NLM_F_REQUEST | NLM_F_ACK | flags);
	struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_prefixlen = (uint8_t)prefix,
				 .ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = (uint32_t)ifindex };
	uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
	uint32_t bcast = (addr & mask) | ~mask;
	if (!m || nlmsg_append(m, &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(m, IFA_LOCAL, addr) < 0 || nla_put_u32(m, IFA_ADDRESS, addr) < 0 ||
	    (type == RTM_NEWADDR && prefix < 31 && nla_put_u32(m, IFA_BROADCAST, bcast) < 0)) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	return transact(nl, m, NULL, NULL);
}

int kf_nl_addr_add(struct kf_nl *nl, int ifindex, uint32_t addr, int prefix)
{
	return addr_msg(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, addr, prefix);
}

int kf_nl_addr_del(struct kf_nl *nl, int ifindex, uint32_t addr, int prefix)
{
	return addr_msg(nl, RTM_DELADDR, 0, ifindex, addr, prefix);
}

static int route_msg(struct kf_nl *nl, int type, int flags, int ifindex, uint32_t gw, int metric)
{
	struct nl_msg *m = nlmsg_alloc_simple(type, NLM_F_REQUEST | NLM_F_ACK | flags);
	struct rtmsg rt = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN,
			    .rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE,
			    .rtm_type = RTN_UNICAST };
	if (!gw)
		rt.rtm_scope = RT_SCOPE_LINK;
	if (!m || nlmsg_append(m, &rt, sizeof(rt), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(m, RTA_OIF, (uint32_t)ifindex) < 0 || (gw && nla_put_u32(m, RTA_GATEWAY, gw) < 0) ||
	    (metric && nla_put_u32(m, RTA_PRIORITY, (uint32_t)metric) < 0)) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	return transact(nl, m, NULL, NULL);
}

int kf_nl_route_add(struct kf_nl *nl, int ifindex, uint32_t gw, int metric)
{
	return route_msg(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, ifindex, gw, metric);
}

int kf_nl_route_del(struct kf_nl *nl, int ifindex, uint32_t gw, int metric)
{
	return route_msg(nl, RTM_DELROUTE, 0, ifindex, gw, metric);
}

static int on_getroute(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct rtmsg *rt = nlmsg_data(h);
	struct nlattr *tb[RTA_MAX + 1];
	if (h->nlmsg_type == RTM_NEWROUTE && nlmsg_parse(h, sizeof(*rt), tb, RTA_MAX, NULL) == 0 &&
	    tb[RTA_OIF])
		*(int *)arg = (int)nla_get_u32(tb[RTA_OIF]);
	return NL_OK;
}

int kf_nl_route_get(struct kf_nl *nl, uint32_t dst, int *oif)
{
	*oif = 0;
	struct nl_msg *m = nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK);
	struct rtmsg rt = { .rtm_family = AF_INET, .rtm_dst_len = 32 };
	if (!m || nlmsg_append(m, &rt, sizeof(rt), NLMSG_ALIGNTO) < 0 || nla_put_u32(m, RTA_DST, dst) < 0) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	int r = transact(nl, m, on_getroute, oif);
	if (!r && !*oif)
		r = -ENETUNREACH;
	return r;
}

/* ---- SR-IOV ---- */

int kf_nl_vf_set(struct kf_nl *nl, int ifindex, int vf, const uint8_t *mac, int vlan, int trust,
		 int spoofchk)
{
	struct nl_msg *m = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nlattr *list, *info;
	if (!m || nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    !(list = nla_nest_start(m, IFLA_VFINFO_LIST)) || !(info = nla_nest_start(m, IFLA_VF_INFO)))
		goto oom;
	if (mac) {
		struct ifla_vf_mac v = { .vf = (uint32_t)vf };
		memcpy(v.mac, mac, 6);
		if (nla_put(m, IFLA_VF_MAC, sizeof(v), &v) < 0)
			goto oom;
	}
	if (vlan >= 0) {
		struct ifla_vf_vlan v = { .vf = (uint32_t)vf, .vlan = (uint32_t)vlan };
		if (nla_put(m, IFLA_VF_VLAN, sizeof(v), &v) < 0)
			goto oom;
	}
	if (trust >= 0) {
		struct ifla_vf_trust v = { .vf = (uint32_t)vf, .setting = (uint32_t)trust };
		if (nla_put(m, IFLA_VF_TRUST, sizeof(v), &v) < 0)
			goto oom;
	}
	if (spoofchk >= 0) {
		struct ifla_vf_spoofchk v = { .vf = (uint32_t)vf, .setting = (uint32_t)spoofchk };
		if (nla_put(m, IFLA_VF_SPOOFCHK, sizeof(v), &v) < 0)
			goto oom;
	}
	nla_nest_end(m, info);
	nla_nest_end(m, list);
	return transact(nl, m, NULL, NULL);
oom:
	nlmsg_free(m);
	return -ENOMEM;
}

/* ---- ethtool ---- */

static int ethtool(const char *ifname, void *data)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = data;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int kf_eth_channels_get(const char *ifname, struct kf_eth_channels *c)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	int r = ethtool(ifname, &ch);
	if (r < 0)
		return r;
	*c = (struct kf_eth_channels){ ch.max_rx, ch.max_tx, ch.max_other, ch.max_combined,
				       ch.rx_count, ch.tx_count, ch.other_count, ch.combined_count };
	return 0;
}

int kf_eth_channels_set(const char *ifname, const struct kf_eth_channels *c)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_SCHANNELS, .rx_count = c->rx, .tx_count = c->tx,
				       .other_count = c->other, .combined_count = c->combined };
	return ethtool(ifname, &ch);
}

/* ---- reachability ---- */

static uint16_t csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void send_echo(int fd, uint32_t dst, uint16_t id, uint16_t seq)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = dst };
	struct icmphdr req = { .type = ICMP_ECHO };
	req.un.echo.id = htons(id);
	req.un.echo.sequence = htons(seq);
	req.checksum = csum(&req, sizeof(req));
	sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa));
}

/* Reads one datagram: true when it is dst's echo reply (to id on a raw
 * socket, which gets the IP header and every ICMP message). */
static bool read_reply(int fd, bool raw, uint32_t dst, uint16_t id)
{
	uint8_t buf[1500];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
	if (n <= 0 || from.sin_addr.s_addr != dst)
		return false;
	size_t off = raw ? (size_t)(buf[0] & 0xf) * 4 : 0;
	if ((size_t)n < off + sizeof(struct icmphdr))
		return false;
	const struct icmphdr *rep = (const struct icmphdr *)(buf + off);
	return rep->type == ICMP_ECHOREPLY && (!raw || ntohs(rep->un.echo.id) == id);
}

int kf_nl_ping(uint32_t dst, int timeout_ms)
{
	bool raw = true;
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0) {
		raw = false;
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
	}
	if (fd < 0)
		return -errno;
	uint16_t id = (uint16_t)(getpid() ^ 0x4b46), seq = 0;
	long long end = now_ms() + timeout_ms, next = 0;
	int r = -ETIMEDOUT;
	while (now_ms() < end) {
		if (now_ms() >= next) {
			send_echo(fd, dst, id, ++seq);
			next = now_ms() + 200;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long wait = next - now_ms();
		if (poll(&pfd, 1, wait < 0 ? 0 : (int)wait) > 0 && read_reply(fd, raw, dst, id)) {
			r = 0;
			break;
		}
	}
	close(fd);
	return r;
}
