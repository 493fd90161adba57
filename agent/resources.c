/* The resource table, in apply order (agent/resource.h).
 *
 * Kernel modules and memory first (hugepages before guests can take the
 * memory), then CPUs (online before affinity), then network, then guests, then the agent's own timer.
 * A new resource is one file plus one row here, with its extern. */
#include "agent/engine.h"
#include "agent/resource.h"

/* kvm */
extern const struct kf_resource kf_res_kvm;         /* agent/kvm.c */
/* memory */
extern const struct kf_resource kf_res_hugepages;   /* agent/hugepages.c */
extern const struct kf_resource kf_res_thp;         /* agent/thp.c */
extern const struct kf_resource kf_res_ksm;         /* agent/ksm.c */
extern const struct kf_resource kf_res_numa_balancing; /* agent/numabal.c */
/* cpu */
extern const struct kf_resource kf_res_cpu_online;  /* agent/cpu_online.c */
extern const struct kf_resource kf_res_irqbalance;  /* agent/irqbalance.c */
extern const struct kf_resource kf_res_irq_affinity; /* agent/irq_affinity.c */
extern const struct kf_resource kf_res_isolcpus;    /* agent/isolcpus.c */
/* network (agent/net*.c): declare its resources here */
extern const struct kf_resource kf_res_net_bonds, kf_res_net_vlans, kf_res_net_bridges, kf_res_net_ovs,
	kf_res_net_macvtaps, kf_res_net_queues, kf_res_net_sriov, kf_res_net_persist;
/* passthrough */
extern const struct kf_resource kf_res_passthrough; /* agent/passthrough.c */
/* guests */
extern const struct kf_resource kf_res_guests;      /* agent/guests.c */
/* agent */
extern const struct kf_resource kf_res_agent_timer; /* agent/timer.c */

const struct kf_resource *const kf_resources[] = {
	&kf_res_kvm,
	&kf_res_hugepages,
	&kf_res_thp,
	&kf_res_ksm,
	&kf_res_numa_balancing,
	&kf_res_cpu_online,
	&kf_res_irqbalance,
	&kf_res_irq_affinity,
	&kf_res_isolcpus,
	/* ---- network rows go here, after cpu (section "network") ---- */
	&kf_res_net_sriov,    /* VFs before anything is built on them */
	&kf_res_net_bonds,
	&kf_res_net_vlans,
	&kf_res_net_bridges,
	&kf_res_net_ovs,      /* Open vSwitch bridges, their bonds and VLAN ports */
	&kf_res_net_macvtaps,
	&kf_res_net_queues,   /* channels → IRQ affinity → RPS/XPS */
	&kf_res_net_persist,
	/* ---- PCI devices to vfio-pci before guests use them (section "passthrough") ---- */
	&kf_res_passthrough,
	/* ---- guests row goes last (section "guests") ---- */
	&kf_res_guests,
	/* ---- the agent's own timer (section "agent") ---- */
	&kf_res_agent_timer,
};

const size_t kf_nresources = sizeof(kf_resources) / sizeof(kf_resources[0]);
