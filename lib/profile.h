/* The role profile: a host's desired state, as the agent applies it.
 *
 * Every section is optional; what a profile leaves out, the agent leaves
 * alone.  Values follow lib/schema.h's conventions: -1 / KF_UNSET / NULL
 * mean "not given", sizes are bytes, CPU lists and MACs are normalised.
 * The reference for users is docs/profile.md (generated parts come from
 * the tables in profile.c through `kickfleet-agent schema`). */
#ifndef KF_PROFILE_H
#define KF_PROFILE_H

#include "schema.h"

/* --- agent and libvirt settings --- */
enum kf_agent_mode { KF_AGENT_APPLY, KF_AGENT_CHECK };
struct kf_p_agent {
	KF_NODE_HDR;
	int mode;            /* what the timer runs: apply | check */
	const char *interval; /* systemd time span, e.g. "30min" */
	const char *report;  /* URL to POST reports to */
	const char *state_dir;
};

struct kf_p_libvirt {
	KF_NODE_HDR;
	const char *uri;       /* default qemu:///system */
	const char *pool;      /* storage pool for new guests' disks */
	const char *pool_path; /* directory for the pool if it must be created */
	int domain_type;       /* enum kf_domtype: hypervisor of guests the agent defines */
};
enum kf_domtype { KF_DOMTYPE_AUTO, KF_DOMTYPE_KVM, KF_DOMTYPE_QEMU };

/* --- kvm --- */
enum kf_kvm_vendor { KF_VENDOR_AUTO, KF_VENDOR_INTEL, KF_VENDOR_AMD };
struct kf_p_kvm {
	KF_NODE_HDR;
	int nested; /* bool */
	int vendor; /* auto | intel | amd */
};

/* --- memory --- */
struct kf_p_nodecount {
	KF_NODE_HDR;
	long long nid; /* key "node" */
	long long count;
};

struct kf_p_hugepages {
	KF_NODE_HDR;
	long long size;         /* page size in bytes (2M, 1G) */
	long long count;        /* total, spread over NUMA nodes by the kernel */
	struct kf_list per_node; /* of struct kf_p_nodecount */
	int boot;               /* bool: reserve at boot (kernel command line) */
};

enum kf_thp_enabled { KF_THP_ALWAYS, KF_THP_MADVISE, KF_THP_NEVER };
enum kf_thp_defrag { KF_THPD_ALWAYS, KF_THPD_DEFER, KF_THPD_DEFER_MADVISE, KF_THPD_MADVISE, KF_THPD_NEVER };
struct kf_p_thp {
	KF_NODE_HDR;
	int enabled; /* enum kf_thp_enabled */
	int defrag;  /* enum kf_thp_defrag */
};

struct kf_p_ksm {
	KF_NODE_HDR;
	int enabled;
	long long pages_to_scan;
	long long sleep_millisecs;
	int merge_across_nodes;
};

struct kf_p_memory {
	KF_NODE_HDR;
	struct kf_list hugepages; /* of struct kf_p_hugepages */
	long long default_hugepage_size;
	struct kf_p_thp *transparent_hugepages;
	struct kf_p_ksm *ksm;
	int numa_balancing;
};

/* --- cpu --- */
enum kf_irqb_mode { KF_IRQB_PERFORMANCE, KF_IRQB_POWERSAVE, KF_IRQB_OFF };
struct kf_p_irqbalance {
	KF_NODE_HDR;
	int mode;
	const char *banned_cpus;
};

struct kf_p_irqaff {
	KF_NODE_HDR;
	const char *device; /* every IRQ of this NIC (name or MAC) */
	long long irq;      /* or one IRQ by number */
	const char *cpus;
};

struct kf_p_cpu {
	KF_NODE_HDR;
	const char *online;
	struct kf_p_irqbalance *irqbalance;
	struct kf_list irq_affinity; /* of struct kf_p_irqaff */
	const char *isolated; /* isolcpus= on the kernel command line */
};

/* --- network --- */
enum kf_persist { KF_PERSIST_AUTO, KF_PERSIST_NETWORKD, KF_PERSIST_NM, KF_PERSIST_NONE };
enum kf_netbackend { KF_NETBE_LINUX, KF_NETBE_OVS };
enum kf_ovs_datapath { KF_OVS_SYSTEM, KF_OVS_NETDEV };
enum kf_bond_mode { KF_BOND_RR, KF_BOND_AB, KF_BOND_XOR, KF_BOND_BCAST, KF_BOND_8023AD,
		    KF_BOND_TLB, KF_BOND_ALB };
enum kf_lacp_rate { KF_LACP_SLOW, KF_LACP_FAST };
enum kf_xmit_hash { KF_XH_L2, KF_XH_L34, KF_XH_L23, KF_XH_E23, KF_XH_E34 };

struct kf_p_bond {
	KF_NODE_HDR;
	const char *name;
	int mode;
	struct kf_list members; /* of const char * (names or MACs) */
	long long miimon, updelay, downdelay;
	int lacp_rate;
	int xmit_hash_policy;
	const char *primary;
	long long mtu;
	const char *mac;
};

struct kf_p_bridge {
	KF_NODE_HDR;
	const char *name;
	struct kf_list ports;     /* of const char * */
	int stp;
	long long forward_delay; /* seconds */
	long long mtu;
	struct kf_list addresses; /* of const char * CIDR */
	const char *gateway;
	const char *mac;
	int backend;  /* enum kf_netbackend, -1: network.backend (kf_bridge_ovs) */
	int datapath; /* enum kf_ovs_datapath, -1: system */
};

struct kf_p_vlan {
	KF_NODE_HDR;
	const char *name;
	const char *link;
	long long id;
	long long mtu;
};

enum kf_macvlan_kind { KF_MV_MACVTAP, KF_MV_MACVLAN };
enum kf_macvlan_mode { KF_MVM_VEPA, KF_MVM_BRIDGE, KF_MVM_PRIVATE, KF_MVM_PASSTHRU };
struct kf_p_macvtap {
	KF_NODE_HDR;
	const char *name;
	const char *link;
	int mode;
	int kind; /* macvtap | macvlan */
	const char *mac;
	long long mtu;
};

struct kf_p_queue {
	KF_NODE_HDR;
	const char *device;
	long long combined, rx, tx;
	const char *rps_cpus;
	long long rps_flow_cnt;
	const char *xps_cpus;
};

struct kf_p_vf {
	KF_NODE_HDR;
	long long index;
	const char *mac;
	long long vlan;
	int trust;
	int spoofchk;
};

struct kf_p_sriov {
	KF_NODE_HDR;
	const char *device;
	long long vfs;
	struct kf_list vf; /* of struct kf_p_vf */
};

struct kf_p_rollback {
	KF_NODE_HDR;
	const char *target;  /* address that must stay reachable, default: the provisioner */
	long long timeout;   /* seconds */
};

struct kf_p_network {
	KF_NODE_HDR;
	int persist; /* enum kf_persist */
	int backend; /* enum kf_netbackend */
	struct kf_list bonds;    /* of struct kf_p_bond */
	struct kf_list bridges;  /* of struct kf_p_bridge */
	struct kf_list vlans;    /* of struct kf_p_vlan */
	struct kf_list macvtaps; /* of struct kf_p_macvtap */
	struct kf_list queues;   /* of struct kf_p_queue */
	long long rps_sock_flow_entries;
	struct kf_list sriov;    /* of struct kf_p_sriov */
	struct kf_p_rollback *rollback;
};

/* True when bridge b of network n is an Open vSwitch bridge. */
static inline bool kf_bridge_ovs(const struct kf_p_network *n, const struct kf_p_bridge *b)
{
	return (b->backend >= 0 ? b->backend : n->backend) == KF_NETBE_OVS;
}

/* --- guests --- */
struct kf_p_vcpus {
	KF_NODE_HDR;
	long long max;
	long long current;
};

struct kf_p_topology {
	KF_NODE_HDR;
	long long sockets, dies, cores, threads;
};

struct kf_p_pin {
	KF_NODE_HDR;
	long long id; /* vCPU or iothread number */
	const char *cpus;
};

enum kf_placement { KF_PLACE_MANUAL, KF_PLACE_AUTO };
struct kf_p_pinning {
	KF_NODE_HDR;
	int placement;
	struct kf_list vcpus;     /* of struct kf_p_pin */
	const char *emulator;
	struct kf_list iothreads; /* of struct kf_p_pin */
};

enum kf_numa_mode { KF_NUMA_STRICT, KF_NUMA_INTERLEAVE, KF_NUMA_PREFERRED, KF_NUMA_RESTRICTIVE };
struct kf_p_memnode {
	KF_NODE_HDR;
	long long cell;
	int mode;
	const char *nodes;
};

struct kf_p_numatune {
	KF_NODE_HDR;
	int mode;
	const char *nodes;
	struct kf_list memnodes; /* of struct kf_p_memnode */
};

enum kf_balloon { KF_BALLOON_VIRTIO, KF_BALLOON_NONE };
struct kf_p_gmemory {
	KF_NODE_HDR;
	long long size;
	long long current;
	int balloon;
	long long stats_period;
};

struct kf_p_memtune {
	KF_NODE_HDR;
	long long hard_limit, soft_limit, swap_hard_limit, min_guarantee;
};

struct kf_p_backing {
	KF_NODE_HDR;
	long long hugepages; /* page size */
	const char *nodeset;
	int nosharepages;
	int locked;
};

enum kf_nic_type { KF_NIC_BRIDGE, KF_NIC_DIRECT, KF_NIC_NETWORK, KF_NIC_HOSTDEV };
enum kf_nic_mode { KF_NICM_VEPA, KF_NICM_BRIDGE, KF_NICM_PRIVATE, KF_NICM_PASSTHROUGH };
enum kf_nic_model { KF_MODEL_VIRTIO, KF_MODEL_E1000, KF_MODEL_E1000E, KF_MODEL_RTL8139 };
enum kf_nic_driver { KF_DRV_VHOST, KF_DRV_QEMU };
struct kf_p_nic {
	KF_NODE_HDR;
	int type;
	const char *source; /* bridge, host NIC, network name, or VF PCI address */
	int mode;
	int model;
	int driver;
	long long queues;
	const char *mac;
};

struct kf_p_hostdev {
	KF_NODE_HDR;
	const char *pci;
	int managed;
};

/* --- passthrough: PCI devices handed to vfio-pci on the host --- */
struct kf_p_pcidev {
	KF_NODE_HDR;
	const char *pci; /* normalised 0000:06:00.0 */
};
struct kf_p_passthrough {
	KF_NODE_HDR;
	int iommu;           /* bool: keep the IOMMU words on the kernel command line */
	struct kf_list devices; /* of struct kf_p_pcidev */
};

enum kf_cpu_mode { KF_CPU_PASSTHROUGH, KF_CPU_HOSTMODEL, KF_CPU_CUSTOM };
struct kf_p_guest {
	KF_NODE_HDR;
	const char *name;
	const char *mac;      /* first NIC's MAC for a guest the agent defines */
	long long disk;       /* size of the disk created for a new guest */
	int define;           /* bool: define the guest if it does not exist */
	int start;            /* bool: start it after defining */
	int autostart;
	int allow_restart;    /* bool: may restart the guest for config-only changes */
	struct kf_p_vcpus *vcpus;
	int cpu_mode;
	const char *cpu_model;
	struct kf_p_topology *topology;
	struct kf_p_pinning *pinning;
	long long iothreads;
	struct kf_p_numatune *numatune;
	struct kf_p_gmemory *memory;
	struct kf_p_memtune *memtune;
	struct kf_p_backing *memory_backing;
	struct kf_list interfaces; /* of struct kf_p_nic */
	struct kf_list hostdevs;   /* of struct kf_p_hostdev */
};

struct kf_profile {
	KF_NODE_HDR;
	const char *role;
	struct kf_p_agent *agent;
	struct kf_p_libvirt *libvirt;
	struct kf_p_kvm *kvm;
	struct kf_p_memory *memory;
	struct kf_p_cpu *cpu;
	struct kf_p_network *network;
	struct kf_list guests; /* of struct kf_p_guest */
	/* In a guest's role: the host-side tuning of every guest of this role,
	 * merged by the provisioner into its KVM host's `guests:` list
	 * (docs/http.md).  The guest's own agent ignores it. */
	struct kf_p_guest *host_tuning;
	struct kf_p_passthrough *passthrough;

	/* owned */
	struct kf_doc *doc;
	struct kf_arena arena;
};

extern const struct kf_schema kf_profile_schema;

/* Loads and validates a profile; every error goes to e.  Returns 0 with
 * *out set (free with kf_profile_free), or a negative errno and *out NULL. */
int kf_profile_load(struct kf_profile **out, const char *path, struct kf_err *e);
int kf_profile_load_buf(struct kf_profile **out, const char *name, const char *buf, size_t len,
			struct kf_err *e);
void kf_profile_free(struct kf_profile *p);

/* Prints the profile as normalised YAML. */
void kf_profile_print(const struct kf_profile *p, FILE *f);

/* Total bytes of hugepages the profile reserves (all sizes, all nodes). */
unsigned long long kf_profile_hugepage_bytes(const struct kf_profile *p);

#endif
