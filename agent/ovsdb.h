/* The agent's one adapter to Open vSwitch: OVSDB's JSON-RPC (RFC 7047)
 * over ovsdb-server's unix socket, its JSON through lib/json.c.
 *
 * Reads: one select of the bridges, ports and interfaces the agent looks
 * at (struct kf_ovs_snap).  Writes: each call is one transaction that also
 * bumps Open_vSwitch.next_cfg, and returns once ovs-vswitchd has applied
 * it (cur_cfg caught up), so the kernel or tap devices of a new bridge or
 * internal port exist when it returns.  Every function returns 0 or a
 * negative errno; the server's error text of the last failure is kept in
 * the handle (kf_ovs_why). */
#ifndef KF_AGENT_OVSDB_H
#define KF_AGENT_OVSDB_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/netlink.h"

#define KF_OVS_SOCK "/run/openvswitch/db.sock" /* host path (under --root) */
#define KF_OVS_MAXIF 8

struct kf_ovs; /* an open connection */

struct kf_ovs_bridge {
	char name[KF_IFNAMSIZ];
	char datapath[16]; /* datapath_type: "" (system) or "netdev" */
	bool stp;
};

/* A port as the agent describes it (and compares it): one interface
 * named as the port, a bond of several, or an internal port with a tag. */
struct kf_ovs_port {
	char name[KF_IFNAMSIZ];
	char bridge[KF_IFNAMSIZ];
	char ifaces[KF_OVS_MAXIF][KF_IFNAMSIZ];
	int nif;
	bool internal;          /* its interface is of type internal */
	long long tag;          /* -1: none */
	char bond_mode[16];     /* "" unless a bond */
	char lacp[8];           /* "", "active", "passive", "off" */
	bool lacp_fast;         /* other_config:lacp-time=fast */
	long long updelay, downdelay; /* bond_updelay / bond_downdelay, ms */
};

struct kf_ovs_snap {
	struct kf_ovs_bridge *br;
	size_t nbr;
	struct kf_ovs_port *ports; /* every port of every bridge, the bridges' own included */
	size_t nports;
};

int kf_ovs_open(const char *sock, struct kf_ovs **out);
void kf_ovs_close(struct kf_ovs *o);
const char *kf_ovs_why(const struct kf_ovs *o);

int kf_ovs_dump(struct kf_ovs *o, struct kf_ovs_snap *s);
void kf_ovs_snap_release(struct kf_ovs_snap *s);
const struct kf_ovs_bridge *kf_ovs_bridge(const struct kf_ovs_snap *s, const char *name);
/* The port called name (of any bridge), or NULL. */
const struct kf_ovs_port *kf_ovs_port(const struct kf_ovs_snap *s, const char *name);

/* A bridge with its internal port of the same name. */
int kf_ovs_add_bridge(struct kf_ovs *o, const struct kf_ovs_bridge *b);
int kf_ovs_set_bridge(struct kf_ovs *o, const struct kf_ovs_bridge *b);
int kf_ovs_del_bridge(struct kf_ovs *o, const char *name);
/* Adds p to p->bridge, replacing a port of that name there. */
int kf_ovs_put_port(struct kf_ovs *o, const struct kf_ovs_port *p);
int kf_ovs_del_port(struct kf_ovs *o, const char *bridge, const char *name);

#endif
