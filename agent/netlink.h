/* The agent's one adapter to libnl (rtnetlink) and to the ethtool ioctl.
 *
 * Reads: one dump gives every link of the agent's network namespace with
 * its kind, master, MACs, MTU, state, queue counts and the attributes of
 * bonds, bridges, VLANs, macvlan/macvtap and SR-IOV VFs, plus the IPv4
 * addresses and default routes (struct kf_nl_snap).  Writes: create,
 * change and delete links (struct kf_nl_req), addresses, default routes,
 * VF settings, and ethtool channel counts.
 *
 * Every function returns 0 or a negative errno (the kernel's own, not
 * libnl's codes); the kernel's extended-ack text of the last failure is
 * kept in the handle (kf_nl_why).  Netlink acts on the network namespace
 * the agent runs in; it is not redirected by --root. */
#ifndef KF_AGENT_NETLINK_H
#define KF_AGENT_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KF_IFNAMSIZ 16

struct kf_nl; /* an open rtnetlink socket */

/* Kernel bond values (they match the profile's enum order). */
struct kf_nl_bond {
	int mode, miimon, updelay, downdelay; /* delays in ms */
	int lacp_rate, xmit_hash, primary;    /* primary: ifindex or 0 */
};

struct kf_nl_vf {
	int vf;
	uint8_t mac[6];
	int vlan;
	int spoofchk, trust; /* -1 when the driver does not say */
};

struct kf_nl_link {
	int ifindex;
	char name[KF_IFNAMSIZ];
	char kind[16];       /* "bond", "bridge", "vlan", "macvtap", "veth", ...; "" for a NIC */
	char slave_kind[16]; /* "bond", "bridge" when enslaved */
	int master, link;    /* ifindex or 0 (link: the lower device of a VLAN/macvtap) */
	uint8_t mac[6], perm_mac[6];
	bool has_mac, has_perm_mac;
	unsigned mtu, flags; /* flags: IFF_UP, ... */
	unsigned operstate;  /* IF_OPER_* */
	unsigned num_rx, num_tx;
	struct kf_nl_bond bond;      /* kind "bond" */
	int br_stp, br_fwd_delay;    /* kind "bridge": 0/1, centiseconds */
	int vlan_id;                 /* kind "vlan" */
	int macvlan_mode;            /* kind "macvtap"/"macvlan": MACVLAN_MODE_* */
	struct kf_nl_vf *vfs;
	int nvfs;
};

struct kf_nl_addr {
	int ifindex;
	uint32_t addr; /* network order */
	int prefix;
};

struct kf_nl_route {
	int ifindex;
	uint32_t gw; /* network order; 0: no gateway */
	int metric;
};

struct kf_nl_snap {
	struct kf_nl_link *links;
	size_t nlinks;
	struct kf_nl_addr *addrs; /* IPv4, every link */
	size_t naddrs;
	struct kf_nl_route *routes; /* IPv4 default routes of the main table */
	size_t nroutes;
};

enum { KF_NL_LINKS = 1, KF_NL_ADDRS = 2, KF_NL_ROUTES = 4, KF_NL_ALL = 7 };

/* Opens a socket; pairs with kf_nl_close (accepts NULL). */
int kf_nl_open(struct kf_nl **out);
void kf_nl_close(struct kf_nl *nl);
/* The kernel's message for the last failed request ("" when none). */
const char *kf_nl_why(const struct kf_nl *nl);

/* Fills s with what `what` asks for (KF_NL_* bits); release with
 * kf_nl_snap_release (s may then be reused). */
int kf_nl_dump(struct kf_nl *nl, unsigned what, struct kf_nl_snap *s);
void kf_nl_snap_release(struct kf_nl_snap *s);
/* Deep copy of src into dst. */
void kf_nl_snap_copy(struct kf_nl_snap *dst, const struct kf_nl_snap *src);
const struct kf_nl_link *kf_nl_by_name(const struct kf_nl_snap *s, const char *name);
const struct kf_nl_link *kf_nl_by_index(const struct kf_nl_snap *s, int ifindex);
/* The link whose permanent MAC is mac, else whose current MAC is, skipping
 * the agent's own kinds of virtual devices. */
const struct kf_nl_link *kf_nl_by_mac(const struct kf_nl_snap *s, const uint8_t mac[6]);
/* Name of ifindex, or "" */
const char *kf_nl_name(const struct kf_nl_snap *s, int ifindex);
/* True when the snapshot has IPv4 address addr/prefix on ifindex. */
bool kf_nl_has_addr(const struct kf_nl_snap *s, int ifindex, uint32_t addr, int prefix);

/* A link to create or change.  Fields left at their "unset" value (as set
 * by kf_nl_req_init: -1, NULL, 0 for ifindex) are not sent. */
struct kf_nl_req {
	int ifindex;      /* change: the link; create: 0 */
	const char *name; /* create: the new name */
	const char *kind; /* create: "bond", "bridge", "vlan", "macvtap", "macvlan" */
	int link;         /* create vlan/macvtap: lower ifindex */
	int mtu;
	const uint8_t *mac;
	int master;       /* 0: release from master, >0: enslave */
	int up;           /* 0 down, 1 up */
	struct kf_nl_bond bond;
	int br_stp, br_fwd_delay;
	int vlan_id;
	int macvlan_mode;
};
void kf_nl_req_init(struct kf_nl_req *r);
int kf_nl_link_create(struct kf_nl *nl, const struct kf_nl_req *r);
int kf_nl_link_change(struct kf_nl *nl, const struct kf_nl_req *r);
int kf_nl_link_delete(struct kf_nl *nl, int ifindex);

int kf_nl_addr_add(struct kf_nl *nl, int ifindex, uint32_t addr, int prefix);
int kf_nl_addr_del(struct kf_nl *nl, int ifindex, uint32_t addr, int prefix);
int kf_nl_route_add(struct kf_nl *nl, int ifindex, uint32_t gw, int metric);
int kf_nl_route_del(struct kf_nl *nl, int ifindex, uint32_t gw, int metric);
/* The output link of the route to dst (network order), in *oif. */
int kf_nl_route_get(struct kf_nl *nl, uint32_t dst, int *oif);

/* Sets what is >= 0 (vlan, trust, spoofchk) and mac when not NULL. */
int kf_nl_vf_set(struct kf_nl *nl, int ifindex, int vf, const uint8_t *mac, int vlan, int trust,
		 int spoofchk);

/* ethtool channel counts (SIOCETHTOOL); -EOPNOTSUPP when the driver has none. */
struct kf_eth_channels {
	unsigned max_rx, max_tx, max_other, max_combined;
	unsigned rx, tx, other, combined;
};
int kf_eth_channels_get(const char *ifname, struct kf_eth_channels *c);
int kf_eth_channels_set(const char *ifname, const struct kf_eth_channels *c);

/* ICMP echo to dst until a reply comes or timeout_ms passes: 0 on a reply,
 * -ETIMEDOUT, or another negative errno. */
int kf_nl_ping(uint32_t dst, int timeout_ms);

#endif
