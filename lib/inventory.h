/* The inventory (fleet.yaml): provisioner settings, distros, roles, hosts
 * and guests, with the cross-checks that need the whole file (duplicate
 * names/MACs/IPs, addresses outside the subnet, guests on hosts that are
 * not KVM hosts, roles whose files are missing, hugepages beyond a host's
 * memory).  Loading also loads every role's profile.  The user reference
 * is docs/inventory.md. */
#ifndef KF_INVENTORY_H
#define KF_INVENTORY_H

#include <stdbool.h>

#include "profile.h"
#include "schema.h"
#include "yamlcache.h"

enum kf_dhcp_mode { KF_DHCP_RANGE, KF_DHCP_STATIC, KF_DHCP_PROXY };
enum kf_unknown { KF_UNKNOWN_LOCALBOOT, KF_UNKNOWN_DISCOVERY, KF_UNKNOWN_IGNORE };
enum kf_family { KF_FAMILY_KICKSTART, KF_FAMILY_PRESEED };
enum kf_firmware { KF_FW_BIOS, KF_FW_UEFI, KF_FW_AUTO };
enum kf_installed_boot { KF_IB_LOCALBOOT, KF_IB_IGNORE };

struct kf_i_dhcp {
	KF_NODE_HDR;
	int mode;
	struct kf_list range; /* two IPv4 strings */
	int known_hosts_only;
	long long lease_time; /* seconds */
	const char *dns;      /* DNS server option handed out */
	const char *router;
};

struct kf_i_provisioner {
	KF_NODE_HDR;
	const char *interface;
	const char *address;
	const char *subnet; /* CIDR */
	struct kf_i_dhcp *dhcp;
	long long http_port;
	const char *state_dir;
	const char *tftp_root;
	const char *http_root; /* rendered files served over HTTP */
	int unknown_hosts;
	int installed_boot; /* what DHCP tells an installed host: localboot | ignore */
	const char *url;    /* base URL clients use, default http://ADDRESS:PORT */
	long long token_ttl; /* seconds an agent credential outlives its rotation unpicked, 0: no limit */
	int bind_install_ip; /* bool: install routes only from the host's inventory ip */
	const char *ipv6_prefix; /* ULA prefix dnsmasq announces (router advertisements only) */
	struct kf_i_tls *tls;    /* serve's HTTPS listener; NULL: none */
	const char *user;        /* whom serve and up run as after start; NULL: the default */
	const char *segment;     /* name of this network as a segment (default "default") */
	struct kf_list segments; /* of struct kf_i_segment: more install networks */
	struct kf_i_standby *standby; /* a second provisioner of this network (docs/scale.md) */
};

/* provisioner.segments (lib/inventory_segment.c): another install network
 * served by a provisioner of its own (kickfleet up --segment NAME), on a
 * store the instances share.  relay: the DHCP relay's address on the
 * segment (giaddr); the provisioner's address is then on another network.
 * standby: a second provisioner of the segment, for high availability
 * (docs/scale.md): its address and its half of the pool. */
struct kf_i_standby {
	KF_NODE_HDR;
	const char *address;
	struct kf_list range; /* two IPv4 strings */
};

struct kf_i_segment {
	KF_NODE_HDR;
	const char *name;
	const char *interface;
	const char *address;
	const char *subnet;
	const char *relay;
	struct kf_i_dhcp *dhcp;
	const char *url;
	struct kf_i_standby *standby;
};

/* provisioner.tls (lib/inventory_tls.c): serve's certificate and key. */
struct kf_i_tls {
	KF_NODE_HDR;
	const char *cert; /* PEM certificate (chain), relative to the fleet file */
	const char *key;  /* its PEM key, readable by its owner only */
	long long port;   /* the HTTPS port (8443) */
};

struct kf_i_distro {
	KF_NODE_HDR;
	const char *name;
	int family;
	const char *kernel;
	const char *initrd;
	const char *tree;
	const char *kernel_args;
	/* recorded by `kickfleet distro import` */
	const char *kernel_sha256;
	const char *initrd_sha256;
	const char *version;
	const char *arch;
	const char *source;
};

struct kf_i_role {
	KF_NODE_HDR;
	const char *name;
	const char *distro;
	const char *kickstart; /* template path, relative to the fleet file */
	const char *profile;   /* profile path, relative to the fleet file */
	const char *kernel_args;
	struct kf_list vars;   /* of struct kf_i_var */
};

struct kf_i_var {
	KF_NODE_HDR;
	const char *key;
	const char *value;
};

/* How a machine's power is driven: its BMC over IPMI (hosts), or libvirt
 * on its KVM host (guests).  `defaults: power:` may carry the settings
 * shared by every host (user, password_file, port, interface,
 * cipher_suite); the built-in defaults apply last (see kf_power_resolve).
 * There is no password field: the secret lives in password_file. */
enum kf_power_type { KF_POWER_IPMI, KF_POWER_LIBVIRT };
enum kf_ipmi_iface { KF_IPMI_LANPLUS, KF_IPMI_LAN };

struct kf_i_power {
	KF_NODE_HDR;
	int type;            /* enum kf_power_type, -1: the kind's own */
	const char *address; /* BMC address (host name or IPv4) */
	long long port;
	const char *user;
	const char *password_file;
	int interface;       /* enum kf_ipmi_iface */
	long long cipher_suite;
	const char *uri;     /* libvirt: URI of the guest's KVM host */
};

struct kf_i_defaults {
	KF_NODE_HDR;
	struct kf_i_power *power; /* shared power settings, NULL if none */
	const char *root_password_hash;
	const char *console;
	const char *timezone;
	const char *kernel_args;
	struct kf_list ssh_keys; /* of const char * */
	struct kf_list vars;     /* of struct kf_i_var */
};

struct kf_i_host {
	KF_NODE_HDR;
	const char *name;
	const char *mac;
	struct kf_list macs; /* of const char * */
	const char *ip;
	const char *role;
	int firmware;
	long long memory;    /* declared RAM, for the hugepage check */
	const char *disk;
	int netboot;         /* bool: install from the network on next boot */
	struct kf_list vars; /* of struct kf_i_var */
	struct kf_i_power *power; /* its BMC, NULL if none */
	const char *segment; /* install network; NULL: the one whose subnet holds ip */
};

struct kf_i_guest {
	KF_NODE_HDR;
	const char *name;
	const char *host;
	const char *mac;
	const char *ip;
	const char *role;
	long long vcpus;
	long long memory;
	long long disk;
	int firmware;
	struct kf_list vars;
	struct kf_i_power *power; /* NULL: libvirt on its host, implied */
};

enum kf_state_backend { KF_STATE_SQLITE, KF_STATE_POSTGRESQL };

/* Where the provisioner keeps its state (lib/inventory_state.c). */
struct kf_i_state {
	KF_NODE_HDR;
	int backend;          /* enum kf_state_backend */
	const char *dsn_file; /* postgresql: the file holding the connection string */
};

struct kf_inventory {
	KF_NODE_HDR;
	struct kf_i_provisioner *provisioner;
	struct kf_i_state *state; /* NULL: SQLite in state_dir */
	struct kf_list distros; /* of struct kf_i_distro, fleet.yaml's then distros.d's */
	const char *distros_dir; /* one distro per NAME.yaml, default distros.d if present */
	struct kf_list roles;   /* of struct kf_i_role */
	struct kf_i_defaults *defaults;
	struct kf_list hosts;   /* of struct kf_i_host */
	struct kf_list guests;  /* of struct kf_i_guest */

	/* derived, owned */
	const char *path;
	const char *dir;                /* directory of the fleet file */
	struct kf_profile **profiles;   /* one per role, same order; NULL if missing */
	struct kf_doc *doc;
	struct kf_doc **incdocs;        /* the distros_dir files, n_incdocs of them */
	size_t n_incdocs;
	struct kf_arena arena;
	enum kf_cache_use cache_use;    /* how the fleet file was parsed */
	/* segments (lib/inventory_segment.c) */
	const char **item_seg;          /* per host then guest: its segment's name */
	const char *segment;            /* the one selected (kf_inventory_select), NULL: all */
};

extern const struct kf_schema kf_inventory_schema;
extern const struct kf_schema kf_power_schema;

/* One machine's power settings with the defaults applied (the host's own,
 * then `defaults: power:`, then port 623, lanplus, cipher suite 3).
 * Strings are borrowed from the inventory except password_file, the
 * resolved path (owned; kf_power_cfg_release). */
struct kf_power_cfg {
	const char *name;     /* host or guest name */
	int type;             /* enum kf_power_type */
	const char *address;
	int port;
	const char *user;
	char *password_file;
	int interface;        /* enum kf_ipmi_iface */
	int cipher_suite;
	const char *uri;      /* libvirt URI; NULL: qemu+ssh://root@KVMHOST/system */
	const char *kvm_host; /* guests: the host they run on (its ip, else name) */
	int firmware;         /* enum kf_firmware: the boot type a one-time PXE boot asks for */
};
/* Fills *out for the host or guest named name.  -ENOENT when there is no
 * such machine, -ENODEV when a host has no power section (a message in
 * e either way). */
int kf_power_resolve(const struct kf_inventory *inv, const char *name, struct kf_power_cfg *out,
		     struct kf_err *e);
void kf_power_cfg_release(struct kf_power_cfg *c);
/* The inventory cross-checks of power sections (run by kf_inventory_load):
 * complete settings after defaults, password files present and readable by
 * their owner only. */
void kf_inventory_check_power(struct kf_inventory *inv, struct kf_err *e);

/* A file named in the inventory (rel, relative to the fleet file) resolved
 * to a path (malloc'd). */
char *kf_inventory_secret_path(const struct kf_inventory *inv, const char *rel);
/* A secret file (password, connection string) must exist, be a regular
 * file and be readable by its owner only; errors at obj's key, naming
 * what ("state: dsn_file"). */
void kf_inventory_check_secret(const struct kf_inventory *inv, const void *obj, const char *key,
			       const char *rel, const char *what, struct kf_err *e);

extern const struct kf_schema kf_dhcp_section_schema;
extern const struct kf_schema kf_segment_schema;
extern const struct kf_schema kf_standby_schema;
/* The segments' checks (run by kf_inventory_load): names, subnets that
 * overlap, addresses and ranges outside their subnet, each host's and
 * guest's segment (given or derived from its ip) into inv->item_seg, and
 * each ip inside its segment's subnet. */
void kf_inventory_check_segments(struct kf_inventory *inv, struct kf_err *e);
/* The name of the provisioner's own network as a segment. */
const char *kf_inventory_main_segment(const struct kf_inventory *inv);
/* Selects segment name (and its standby with standby): inv->provisioner
 * becomes that segment's network (interface, address, subnet, DHCP, URL)
 * and only its hosts and guests are rendered and served.  -ENOENT with a
 * message for an unknown name or a segment without standby. */
int kf_inventory_select(struct kf_inventory *inv, const char *name, bool standby,
			struct kf_err *e);
/* kf_inventory_load, then kf_inventory_select when segment or standby
 * is given or the inventory has segments (segment NULL: the provisioner's
 * own): an instance serves one segment. */
int kf_inventory_load_segment(struct kf_inventory **out, const char *path, const char *segment,
			      bool standby, struct kf_err *e);
/* Whether the index-th host (index < hosts.n) or guest is served here:
 * it is of the selected segment, else of the provisioner's own (always in
 * an inventory without segments). */
bool kf_inventory_item_here(const struct kf_inventory *inv, size_t index);
/* The same by name; false also for a name not in the inventory. */
bool kf_inventory_name_here(const struct kf_inventory *inv, const char *name);

extern const struct kf_schema kf_tls_section_schema;
/* provisioner.tls's checks (run by kf_inventory_load): the certificate
 * readable, the key readable by its owner only, at their keys. */
void kf_inventory_check_tls(struct kf_inventory *inv, struct kf_err *e);

extern const struct kf_schema kf_state_section_schema;
/* The state section's checks (run by kf_inventory_load): dsn_file with
 * postgresql only, present and readable by its owner only. */
void kf_inventory_check_state(struct kf_inventory *inv, struct kf_err *e);
/* "postgresql:PATH" (the DSN file resolved) for kf_state_open, or NULL
 * when the state is SQLite in state_dir. */
char *kf_inventory_state_location(const struct kf_inventory *inv);

/* Loads fleet.yaml, its roles' profiles, and runs every cross-check.
 * Returns 0 with *out (free with kf_inventory_free) or a negative errno
 * with every error in e. */
int kf_inventory_load(struct kf_inventory **out, const char *path, struct kf_err *e);
/* The same from a buffer; relative paths resolve against name's directory. */
int kf_inventory_load_buf(struct kf_inventory **out, const char *name, const char *buf, size_t len,
			  struct kf_err *e);
/* Loads fleet.yaml and its distros_dir like kf_inventory_load, without the
 * cross-checks and without loading profiles: for commands that add to an
 * inventory that may not validate yet (a role naming a distro about to be
 * imported).  Schema errors still fail. */
int kf_inventory_load_shallow(struct kf_inventory **out, const char *path, struct kf_err *e);
/* The directory distro files are read from (malloc'd), or NULL when the
 * fleet sets no distros_dir and distros.d does not exist.  want_default:
 * return the default path even if it does not exist (for writers). */
char *kf_inventory_distros_dir(const struct kf_inventory *inv, bool want_default);
void kf_inventory_free(struct kf_inventory *inv);
void kf_inventory_print(const struct kf_inventory *inv, FILE *f);

const struct kf_i_role *kf_inventory_role(const struct kf_inventory *inv, const char *name);
const struct kf_i_distro *kf_inventory_distro(const struct kf_inventory *inv, const char *name);
const struct kf_i_host *kf_inventory_host(const struct kf_inventory *inv, const char *name);
const struct kf_profile *kf_inventory_role_profile(const struct kf_inventory *inv,
						   const char *role);
/* Resolves a path from the inventory (relative to the fleet file's dir);
 * malloc'd. */
char *kf_inventory_path(const struct kf_inventory *inv, const char *rel);
/* The most MACs a host may have (check refuses more). */
#define KF_MAX_MACS 16
/* The MACs of a host: its `mac` then its `macs`, deduplicated.  Returns the
 * count and fills at most max pointers. */
size_t kf_host_macs(const struct kf_i_host *h, const char **out, size_t max);

/* The host or guest (a struct kf_i_host or kf_i_guest, for kf_mark_of)
 * that has MAC mac (any case) or is named name (either may be NULL);
 * *owner gets its name.  NULL when there is none (lib/inventory_find.c). */
const void *kf_inventory_find(const struct kf_inventory *inv, const char *mac, const char *name,
			      const char **owner);

#endif
