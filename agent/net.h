/* What the network resources share (agent/net_*.c): the desired and actual
 * state they pass through the engine, interface names given by name or
 * MAC, the record of what the agent created, the change operations, and
 * the rollback guard.
 *
 * Every network resource parses to a struct kf_net_want (NULL when the
 * profile has no network section) and probes to a struct kf_net_have: one
 * rtnetlink snapshot plus what the resource reads from sysfs or /etc.  diff
 * compares the two without I/O and appends changes whose data is a struct
 * kf_net_op; apply carries one op out. */
#ifndef KF_AGENT_NET_H
#define KF_AGENT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/netlink.h"
#include "agent/resource.h"
#include "profile.h"

/* --- desired --- */
struct kf_net_want {
	const struct kf_p_network *net;
	bool live;          /* manage the running links (false under a fake --root) */
	char *state_path;   /* host path of the record of what the agent created */
	uint32_t target;    /* rollback target, network order; 0: none */
	int timeout;        /* rollback window, seconds */
};

/* --- the record of what the agent created (state file) --- */
struct kf_net_rec {
	char kind; /* 'd' device, 'p' port, 'm' MAC → name */
	char a[32], b[32], c[32];
};
struct kf_net_state {
	struct kf_net_rec *v;
	size_t n;
};
int kf_net_state_load(const char *path, struct kf_net_state *st);
/* Saved after each change that alters it, ordered (kf_write_ordered: no
 * fsync of the directory): after a crash the record is whole, at worst
 * the one before the last change, whose links the crash took down too. */
int kf_net_state_save(const char *path, const struct kf_net_state *st);
void kf_net_state_release(struct kf_net_state *st);
/* Parses / prints the file's text (pure; for tests). */
void kf_net_state_parse(const char *text, struct kf_net_state *st);
char *kf_net_state_text(const struct kf_net_state *st);
bool kf_net_state_has(const struct kf_net_state *st, char kind, const char *a, const char *b);
void kf_net_state_set(struct kf_net_state *st, char kind, const char *a, const char *b, const char *c);
void kf_net_state_del(struct kf_net_state *st, char kind, const char *a, const char *b);
/* Kind of device name the agent created ("bond", ...), or NULL. */
const char *kf_net_owned(const struct kf_net_state *st, const char *name);

/* --- actual --- */
struct kf_net_alias {
	const char *ref;            /* as written in the profile (name or MAC) */
	char name[KF_IFNAMSIZ];     /* the host's name, "" when not found */
};

struct kf_net_qfile {
	char *path;  /* host path */
	char *value; /* as read, trimmed; NULL when absent */
};

struct kf_net_file {
	char *path;
	char *text; /* NULL: absent */
};

struct kf_net_have {
	struct kf_nl_snap snap;
	struct kf_net_state st;
	struct kf_net_alias *alias;
	size_t nalias;
	int target_oif;              /* link of the route to the rollback target, 0 */
	struct kf_net_qfile *qf;     /* queues: sysfs values */
	size_t nqf;
	struct kf_eth_channels *ch;  /* queues: per queue entry; max_* == 0 and rx == ~0u: none */
	size_t nch;
	struct kf_net_file *files;   /* net-persist: the agent's files now on the host */
	size_t nfiles;
	char *persist_dir;           /* net-persist: resolved kind's directory, or NULL */
	int persist;                 /* net-persist: resolved enum kf_persist */
	void *own;                   /* a kind's own view (kf_net_kind.probe), freed by its free_own */
	const struct kf_net_kind *own_kind;
};
void kf_net_have_free(void *have);
void kf_net_want_free(void *want);

/* Resolves ref (a name or a MAC) through the snapshot and the recorded MAC
 * map: the host's name, or NULL when no link has it. */
const char *kf_net_lookup(const struct kf_nl_snap *s, const struct kf_net_state *st, const char *ref);
/* The resolved name of ref as probed (the ref itself when it names a
 * device the profile creates). */
const char *kf_net_ifname(const struct kf_net_have *h, const char *ref);
/* True when name is a device of a link kind the profile defines. */
bool kf_net_defined(const struct kf_p_network *n, const char *name);

/* --- parse / probe helpers shared by the resources --- */

/* Common parse: NULL want (and 0) when there is no network section. */
int kf_net_parse(struct kf_ctx *ctx, struct kf_net_want **out);
/* A reference of the profile to a link by name or MAC. */
struct kf_net_ref {
	const void *obj;   /* profile struct, for the mark */
	const char *key;
	const char *value; /* name or MAC */
	char *what;        /* "bond bond0: member" */
	bool alias_only;   /* resolved by probe, not checked by parse (a bond's primary) */
};
struct kf_net_refs {
	struct kf_net_ref *v;
	size_t n;
};
/* Appends a reference parse checks (and probe resolves). */
void kf_net_ref_add(struct kf_net_refs *r, const void *obj, const char *key, const char *value,
		    const char *what_fmt, ...) __attribute__((format(printf, 5, 6)));
/* Appends a name probe resolves and parse does not check. */
void kf_net_ref_alias(struct kf_net_refs *r, const char *value);
void kf_net_refs_release(struct kf_net_refs *r);
/* Adds "FILE:L:C: WHAT "X" does not exist on this host" for each missing
 * reference (only when want->live). */
void kf_net_check_refs(struct kf_ctx *ctx, const struct kf_net_want *w, const struct kf_net_refs *refs);
/* Common probe: snapshot (when live), state, aliases of every reference in
 * the network section, route to the rollback target. */
int kf_net_probe(struct kf_ctx *ctx, const struct kf_net_want *w, struct kf_net_have **out);
/* kf_net_probe with the resource interface's signature (net-persist's). */
int kf_net_probe_links(struct kf_ctx *ctx, const void *desired, void **actual);
/* Drops the run's cached link snapshot (after any change). */
void kf_net_cache_drop(void);

/* --- changes --- */
enum kf_net_opk {
	KF_NOP_CREATE,   /* dev of kind, with want's attributes, then up */
	KF_NOP_DELETE,   /* an owned dev */
	KF_NOP_RECREATE, /* delete + create (owned only) */
	KF_NOP_MTU,
	KF_NOP_MAC,
	KF_NOP_UP,
	KF_NOP_MASTER,   /* arg joins dev (moving its IPv4 addresses and default routes) */
	KF_NOP_RELEASE,  /* arg leaves dev */
	KF_NOP_OPT,      /* one option of the link kind: opt, val, arg (kind->set) */
	KF_NOP_CHANNELS,
	KF_NOP_SYSFS,    /* write text to path */
	KF_NOP_NUMVFS,
	KF_NOP_VF,
	KF_NOP_FILE,     /* write text to path (atomic), or remove it when text is NULL */
};

struct kf_net_kind;

struct kf_net_op {
	int op;
	char dev[KF_IFNAMSIZ];
	char arg[KF_IFNAMSIZ];
	const char *kind;  /* device kind for CREATE/RECREATE/DELETE */
	const char *opt;   /* KF_NOP_OPT: the option ("mode", "stp", ...) */
	long long val;
	const void *want;  /* the profile struct (bond, bridge, vlan, macvtap, queue, vf) */
	const struct kf_p_network *net;
	const char *ref;   /* arg as the profile names it (for the MAC map) */
	char *path, *text;
	struct kf_eth_channels ch;
	bool guarded;      /* may cut the path to the rollback target */
	bool owned;        /* dev was created by the agent */
	const struct kf_net_want *w; /* outlives the op (the engine frees it after apply) */
	const struct kf_net_kind *lk; /* the link kind whose diff made the op, or NULL */
	void *priv;        /* the kind's own data for the op, freed with it */
};
void kf_net_op_free(void *op);
/* Adds a change carrying a new op; returns the op to fill. */
struct kf_net_op *kf_net_change(struct kf_plan *plan, const char *res, int opk, const char *dev,
				const char *from, const char *to, const char *what_fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* Devices on the path to the rollback target: its link, that link's
 * masters, and the profile's bonds/bridges taking one of them (pure). */
bool kf_net_on_path(const struct kf_net_want *w, const struct kf_net_have *h, const char *dev);
/* Sets op->guarded from the path to the target. */
void kf_net_guard(struct kf_net_op *op, const struct kf_net_want *w, const struct kf_net_have *h);

/* Applies an op; own carries out the resource's own ops (those from
 * KF_NOP_CHANNELS on); NULL for the link kinds, whose ops the shared code
 * carries out (calling op->lk's fill and set).  Sets ch->reason on
 * failure.  Guarded ops run inside the rollback window. */
int kf_net_apply(struct kf_ctx *ctx, struct kf_change *ch,
		 int (*own)(struct kf_ctx *, struct kf_nl *, struct kf_change *));
/* Moves port in or out (master NULL) of master, bringing it down first
 * when the master's kind wants that, and up after. */
int kf_net_set_master(struct kf_nl *nl, const struct kf_nl_link *port, const struct kf_nl_link *master);

/* --- link kinds ---
 * One kind of link the agent builds (bonds, bridges, VLANs, macvtaps),
 * one file each (agent/net_bond.c, ...), like iproute2's ip/iplink_*.c.
 * The shared skeleton (agent/net_common.c) parses, probes, diffs and
 * applies every kind the same way and calls these for what differs. */
struct kf_net_dx; /* one diff in progress: plan, kind, want, have */
struct kf_net_pw; /* persistence files being written (agent/net_persist.c) */

struct kf_net_kind {
	const char *res;          /* resource name, for the plan: "bonds" */
	const char *const *kinds; /* the kernel kinds it creates, NULL terminated */
	size_t list_off;          /* its list in struct kf_p_network (KF_NET_KIND_LIST) */
	size_t size, name_off;    /* one entry's size, its name's offset */
	/* Parse: profile errors of one device (optional). */
	void (*check)(struct kf_ctx *ctx, const struct kf_net_want *w, const void *dev);
	/* The links one device names (members, ports, lower link). */
	void (*refs)(const struct kf_p_network *n, const void *dev, struct kf_net_refs *out);
	/* Its ports (a bond's members, a bridge's ports), or NULL (optional). */
	const struct kf_list *(*ports)(const void *dev);
	/* Diff one device against its link l (NULL: absent). */
	void (*diff)(const struct kf_net_dx *d, const void *dev, const struct kf_nl_link *l);
	/* Completes the create request of op (op->want is the device). */
	int (*fill)(const struct kf_nl_snap *s, const struct kf_net_op *op, struct kf_nl_req *r);
	/* Carries out a KF_NOP_OPT op on its link l (optional). */
	int (*set)(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
		   const struct kf_nl_link *l);
	bool ports_down;          /* ports join only while down (bonds) */
	/* Persistence: the master type its ports get in the files ("bond":
	 * networkd Bond=, NetworkManager slave-type=bond), NULL: none. */
	const char *port_of;
	/* Writes one device into systemd-networkd's / NetworkManager's
	 * files (kf_nd_* / kf_nm_* below); NULL: nothing to write. */
	void (*persist_nd)(struct kf_net_pw *pw, const void *dev);
	void (*persist_nm)(struct kf_net_pw *pw, const void *dev);
	/* Devices of other kinds' lists it takes over (off: that list's
	 * list_off); a kind with takes has only the devices of its own list
	 * it takes.  Optional. */
	bool (*takes)(const struct kf_p_network *n, size_t off, const void *dev);
	/* Kinds not made through rtnetlink (Open vSwitch); NULL for the
	 * kernel's.  probe reads the kind's own view into h->own after the
	 * common probe; exists says whether a device it created is still
	 * there (diff deletes those the profile dropped); create, destroy and
	 * port do what rtnetlink does for the other kinds (fill and the link
	 * create, the link delete, a port joining or leaving its master: the
	 * shared code still records ownership and moves addresses), setting
	 * ch->reason on failure; restore undoes the run's changes on a
	 * rollback (and their records in st), before the links are put back. */
	int (*probe)(struct kf_ctx *ctx, const struct kf_net_want *w, struct kf_net_have *h);
	void (*free_own)(void *own);
	bool (*exists)(const struct kf_net_have *h, const char *name);
	int (*create)(struct kf_nl *nl, struct kf_change *ch);
	int (*destroy)(struct kf_change *ch);
	int (*port)(struct kf_nl *nl, struct kf_change *ch, bool join);
	void (*restore)(struct kf_net_state *st);
};
#define KF_NET_KIND_LIST(type, field)                                             \
	.list_off = offsetof(struct kf_p_network, field), .size = sizeof(type), \
	.name_off = offsetof(type, name)

/* Every link kind (NULL terminated; agent/net_common.c lists them). */
extern const struct kf_net_kind *const kf_net_kinds[];
/* The profile's devices of kind k: how many, the i-th, its name. */
size_t kf_net_kind_n(const struct kf_net_kind *k, const struct kf_p_network *n);
const void *kf_net_kind_dev(const struct kf_net_kind *k, const struct kf_p_network *n, size_t i);
const char *kf_net_kind_name(const struct kf_net_kind *k, const void *dev);
/* True when dev of k's list is k's (no other kind takes it). */
bool kf_net_kind_has(const struct kf_net_kind *k, const struct kf_p_network *n, const void *dev);
/* The kind that creates kernel kind k ("macvlan"), or NULL. */
const struct kf_net_kind *kf_net_kind_of(const char *k);
/* Ports of the profile's device called name (NULL when none). */
const struct kf_list *kf_net_ports_of(const struct kf_p_network *n, const char *name);

/* The skeleton: parse, diff and apply of a link kind's resource. */
int kf_net_link_parse(struct kf_ctx *ctx, const struct kf_net_kind *k, void **desired);
int kf_net_link_probe(struct kf_ctx *ctx, const struct kf_net_kind *k, const void *desired, void **actual);
int kf_net_link_diff(const struct kf_net_kind *k, const void *desired, const void *actual,
		     struct kf_plan *plan);
int kf_net_link_apply(struct kf_ctx *ctx, struct kf_change *ch);
/* Defines kf_res_net_NAME, the resource "NAME" of link kind lk (a struct
 * kf_net_kind), from the skeleton. */
#define KF_NET_LINK_RESOURCE(NAME, lk)                                                        \
	static int NAME##_parse(struct kf_ctx *ctx, void **desired)                           \
	{                                                                                     \
		return kf_net_link_parse(ctx, &(lk), desired);                                \
	}                                                                                     \
	static int NAME##_probe(struct kf_ctx *ctx, const void *desired, void **actual)       \
	{                                                                                     \
		return kf_net_link_probe(ctx, &(lk), desired, actual);                        \
	}                                                                                     \
	static int NAME##_diff(struct kf_ctx *ctx, const void *desired, const void *actual,   \
			       struct kf_plan *plan)                                          \
	{                                                                                     \
		(void)ctx;                                                                    \
		return kf_net_link_diff(&(lk), desired, actual, plan);                        \
	}                                                                                     \
	const struct kf_resource kf_res_net_##NAME = {                                        \
		.name = #NAME,                                                                \
		.section = "network",                                                         \
		.parse = NAME##_parse,                                                        \
		.probe = NAME##_probe,                                                        \
		.diff = NAME##_diff,                                                          \
		.apply = kf_net_link_apply,                                                   \
		.free_desired = kf_net_want_free,                                             \
		.free_actual = kf_net_have_free,                                              \
	}

/* What a kind's diff is given, and the helpers it plans with.  Every op
 * planned during a kind's diff gets its guard and kind afterwards. */
struct kf_net_dx {
	struct kf_plan *plan;
	const struct kf_net_kind *k;
	const struct kf_net_want *w;
	const struct kf_net_have *h;
};
/* Creates dev (l NULL) or recreates it (l of another kind or shape):
 * from/to describe the two; lower is the link it sits on, or NULL. */
struct kf_net_op *kf_net_create(const struct kf_net_dx *d, const void *dev, const struct kf_nl_link *l,
				const char *kind, const char *lower, const char *from, const char *to);
/* Sets option opt of dev ("DEV OPT" in the plan). */
struct kf_net_op *kf_net_opt(const struct kf_net_dx *d, const char *dev, const char *opt, const char *from,
			     const char *to);
/* mtu, mac and admin state of an existing link. */
void kf_net_diff_link(const struct kf_net_dx *d, const struct kf_nl_link *l, long long mtu, const char *mac);
/* Ports/members of master: enslave the missing, release those the agent
 * enslaved and the profile no longer lists. */
void kf_net_diff_ports(const struct kf_net_dx *d, const char *master, const struct kf_list *ports);

/* A bridge's IPv4 addresses and default route (network.bridges: the
 * Linux and the Open vSwitch kinds share them, agent/net_bridge.c): the
 * diff (KF_NOP_OPT "addresses" / "gateway", op->want the bridge) and
 * carrying those out on the bridge's link l. */
void kf_net_bridge_l3(const struct kf_net_dx *d, const struct kf_p_bridge *b, const struct kf_nl_link *l);
int kf_net_bridge_set_l3(struct kf_nl *nl, const struct kf_nl_snap *s, const struct kf_net_op *op,
			 const struct kf_nl_link *l);

/* --- persistence (agent/net_persist.c) ---
 * What a kind's persist_nd / persist_nm write a device with.  The shared
 * code has already given every link the profile names its role (its
 * master, from the kinds' ports and port_of) and writes the .network
 * files, the keyfiles' heads and IP sections and the NICs' keyfiles. */
/* networkd: begins name's .netdev with [NetDev] (Name, Kind, MTUBytes,
 * MACAddress unless KF_UNSET / NULL): the kind appends its sections to
 * the buffer returned. */
struct kf_buf *kf_nd_netdev(struct kf_net_pw *pw, const char *name, const char *kind, long long mtu,
			    const char *mac);
void kf_nd_end(struct kf_net_pw *pw);
/* networkd: a line in the [Network] section of ref's .network, before its
 * addresses or, tail, after them (the links on top of it: "VLAN=x"). */
void kf_nd_line(struct kf_net_pw *pw, const char *ref, bool tail, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* NetworkManager: begins ref's keyfile, [connection] of type with its
 * master: the kind appends its sections to the buffer returned; the
 * [ipv4]/[ipv6] sections follow when the kind returns. */
struct kf_buf *kf_nm_conn(struct kf_net_pw *pw, const char *ref, const char *type);
void kf_nm_end(struct kf_net_pw *pw);
/* Both: the IPv4 addresses (and default route) of ref; none by default. */
void kf_net_pw_l3(struct kf_net_pw *pw, const char *ref, const struct kf_list *addrs, const char *gateway);

/* The persistence files for the profile's devices, for kind (enum
 * kf_persist; none gives no files): host paths and texts, malloc'd (pure). */
int kf_net_render(const struct kf_p_network *n, int kind, struct kf_net_file **files, size_t *nfiles);

/* Pure helpers, for the resources and the unit tests. */
/* "2" for the profile's mode index etc. */
int kf_net_mv_mode_to_kernel(int profile_mode);
int kf_net_mv_mode_from_kernel(int kmode);
/* updelay/downdelay as the kernel keeps them: a multiple of miimon. */
long long kf_net_bond_delay(long long delay, long long miimon);
/* "10.0.0.1/24,10.0.0.2/24" for a link's addresses in the snapshot, sorted. */
char *kf_net_addrs_str(const struct kf_nl_snap *s, int ifindex);
/* The profile's list, normalised and sorted the same way. */
char *kf_net_list_str(const struct kf_list *cidrs);

#endif
