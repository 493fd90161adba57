/* Profile schema tables, semantic checks and loading. */
#include "profile.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "types.h"
#include "util.h"
#include "yamldoc.h"

#define FLD(S, k, t, m, ...) { .key = k, .type = t, .off = offsetof(S, m), __VA_ARGS__ }
#define END { 0 }
#define SCHEMA(var, nm, S, ...) \
	const struct kf_schema var = { .name = nm, .size = sizeof(S), __VA_ARGS__ }

#define MAXB(x) ((long long)(x))
#define GiB (1LL << 30)
#define TiB (1LL << 40)

static const char *const agent_modes[] = { "apply", "check", NULL };
static const char *const vendors[] = { "auto", "intel", "amd", NULL };
static const char *const thp_enabled[] = { "always", "madvise", "never", NULL };
static const char *const thp_defrag[] = { "always", "defer", "defer+madvise", "madvise", "never", NULL };
static const char *const irqb_modes[] = { "performance", "powersave", "off", NULL };
static const char *const persist_kinds[] = { "auto", "networkd", "networkmanager", "none", NULL };
static const char *const backends[] = { "linux", "ovs", NULL };
static const char *const ovs_datapaths[] = { "system", "netdev", NULL };
static const char *const bond_modes[] = { "balance-rr", "active-backup", "balance-xor", "broadcast",
					   "802.3ad", "balance-tlb", "balance-alb", NULL };
static const char *const lacp_rates[] = { "slow", "fast", NULL };
static const char *const xmit_hashes[] = { "layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4", NULL };
static const char *const mv_kinds[] = { "macvtap", "macvlan", NULL };
static const char *const mv_modes[] = { "vepa", "bridge", "private", "passthru", NULL };
static const char *const placements[] = { "manual", "auto", NULL };
static const char *const numa_modes[] = { "strict", "interleave", "preferred", "restrictive", NULL };
static const char *const balloons[] = { "virtio", "none", NULL };
static const char *const nic_types[] = { "bridge", "direct", "network", "hostdev", NULL };
static const char *const nic_modes[] = { "vepa", "bridge", "private", "passthrough", NULL };
static const char *const nic_models[] = { "virtio", "e1000", "e1000e", "rtl8139", NULL };
static const char *const nic_drivers[] = { "vhost", "qemu", NULL };
static const char *const domain_types[] = { "auto", "kvm", "qemu", NULL };
static const char *const cpu_modes[] = { "host-passthrough", "host-model", "custom", NULL };

/* ---- agent / libvirt / kvm ---- */

static void check_agent(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_agent *a = obj;
	unsigned long long usec;
	if (!a->interval)
		return;
	if (kf_timespan_parse(a->interval, &usec) < 0)
		kf_errf(e, kf_mark_of(a, "interval"),
			"interval: \"%s\" is not a time span (e.g. 30min, 1h 30min, 90s)", a->interval);
	else if (usec < 1000000)
		kf_errf(e, kf_mark_of(a, "interval"), "interval: %s is shorter than a second", a->interval);
}

#define S struct kf_p_agent
static const struct kf_field agent_fields[] = {
	FLD(S, "mode", KF_T_ENUM, mode, .enumv = agent_modes, .def = "apply",
	    .doc = "what the periodic timer runs: apply corrects drift, check only reports it"),
	FLD(S, "interval", KF_T_STR, interval, .def = "30min",
	    .doc = "how often the timer runs (a systemd time span: 30min, 1h 30min, 90s); the agent keeps the timer's drop-in in step"),
	FLD(S, "report", KF_T_STR, report, .doc = "URL the agent POSTs its JSON report to"),
	FLD(S, "state_dir", KF_T_STR, state_dir, .doc = "ownership records of the network resources (--state-dir wins; the last good profile is kept in --state-dir or the default)"),
	END
};
#undef S
static SCHEMA(agent_schema, "agent", struct kf_p_agent, .fields = agent_fields, .check = check_agent);

#define S struct kf_p_libvirt
static const struct kf_field libvirt_fields[] = {
	FLD(S, "uri", KF_T_STR, uri, .def = "qemu:///system", .doc = "libvirt connection URI"),
	FLD(S, "pool", KF_T_STR, pool, .def = "default", .doc = "storage pool for new guests' disks"),
	FLD(S, "pool_path", KF_T_STR, pool_path, .def = "/var/lib/libvirt/images",
	    .doc = "directory of the pool when the agent has to create it"),
	FLD(S, "domain_type", KF_T_ENUM, domain_type, .enumv = domain_types, .def = "auto",
	    .doc = "hypervisor for guests the agent defines: auto (kvm when libvirt offers it), kvm, or qemu (TCG)"),
	END
};
#undef S
static SCHEMA(libvirt_schema, "libvirt", struct kf_p_libvirt, .fields = libvirt_fields);

#define S struct kf_p_kvm
static const struct kf_field kvm_fields[] = {
	FLD(S, "nested", KF_T_BOOL, nested, .doc = "nested virtualisation (kvm_intel/kvm_amd option)"),
	FLD(S, "vendor", KF_T_ENUM, vendor, .enumv = vendors, .def = "auto",
	    .doc = "which KVM module: auto reads the CPU vendor from /proc/cpuinfo"),
	END
};
#undef S
static SCHEMA(kvm_schema, "kvm", struct kf_p_kvm, .fields = kvm_fields);

/* ---- memory ---- */

#define S struct kf_p_nodecount
static const struct kf_field nodecount_fields[] = {
	FLD(S, "node", KF_T_INT, nid, .min = 0, .max = 1023, .doc = "NUMA node"),
	FLD(S, "count", KF_T_INT, count, .min = 0, .max = 1LL << 30, .doc = "pages on that node"),
	END
};
#undef S
static SCHEMA(nodecount_schema, "per_node", struct kf_p_nodecount, .fields = nodecount_fields,
	      .shorthand = "count");

static void check_hugepages(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_hugepages *h = obj;
	unsigned long long sz = (unsigned long long)h->size;
	if (sz < 4096 || (sz & (sz - 1)))
		kf_errf(e, kf_mark_of(h, "size"), "size: hugepage size must be a power of two of at least 4K");
	if (h->count != KF_UNSET && h->per_node.n)
		kf_errf(e, kf_mark_of(h, "per_node"), "hugepages: give count or per_node, not both");
	if (h->count == KF_UNSET && !h->per_node.n)
		kf_errf(e, kf_mark_of(h, NULL), "hugepages: missing count or per_node");
	for (size_t i = 0; i < h->per_node.n; i++)
		for (size_t j = 0; j < i; j++)
			if (KF_LIST_AT(h->per_node, struct kf_p_nodecount, i)->nid ==
			    KF_LIST_AT(h->per_node, struct kf_p_nodecount, j)->nid)
				kf_errf(e, &KF_LIST_AT(h->per_node, struct kf_p_nodecount, i)->node->mark,
					"per_node: node %lld given twice",
					KF_LIST_AT(h->per_node, struct kf_p_nodecount, i)->nid);
}

#define S struct kf_p_hugepages
static const struct kf_field hugepages_fields[] = {
	FLD(S, "size", KF_T_SIZE, size, .flags = KF_F_REQUIRED, .min = 4096, .max = 16 * GiB,
	    .doc = "page size: 2M or 1G on x86-64"),
	FLD(S, "count", KF_T_INT, count, .min = 0, .max = 1LL << 30,
	    .doc = "pages in the global pool (the kernel spreads them over nodes)"),
	FLD(S, "per_node", KF_T_DICT, per_node, .sub = &nodecount_schema,
	    .doc = "pages per NUMA node, as {node: count}"),
	FLD(S, "boot", KF_T_BOOL, boot, .def = "false",
	    .doc = "reserve on the kernel command line at boot (always for 1G pages the kernel cannot find at runtime)"),
	END
};
#undef S
static SCHEMA(hugepages_schema, "hugepages", struct kf_p_hugepages, .fields = hugepages_fields,
	      .check = check_hugepages);

#define S struct kf_p_thp
static const struct kf_field thp_fields[] = {
	FLD(S, "enabled", KF_T_ENUM, enabled, .enumv = thp_enabled,
	    .doc = "/sys/kernel/mm/transparent_hugepage/enabled"),
	FLD(S, "defrag", KF_T_ENUM, defrag, .enumv = thp_defrag,
	    .doc = "/sys/kernel/mm/transparent_hugepage/defrag"),
	END
};
#undef S
static SCHEMA(thp_schema, "transparent_hugepages", struct kf_p_thp, .fields = thp_fields,
	      .shorthand = "enabled");

#define S struct kf_p_ksm
static const struct kf_field ksm_fields[] = {
	FLD(S, "enabled", KF_T_BOOL, enabled, .doc = "run KSM (/sys/kernel/mm/ksm/run)"),
	FLD(S, "pages_to_scan", KF_T_INT, pages_to_scan, .min = 1, .max = 1000000,
	    .doc = "pages scanned per wake-up"),
	FLD(S, "sleep_millisecs", KF_T_INT, sleep_millisecs, .min = 1, .max = 1000000,
	    .doc = "sleep between scans"),
	FLD(S, "merge_across_nodes", KF_T_BOOL, merge_across_nodes,
	    .doc = "merge pages of different NUMA nodes (changing it unmerges all pages first)"),
	END
};
#undef S
static SCHEMA(ksm_schema, "ksm", struct kf_p_ksm, .fields = ksm_fields, .shorthand = "enabled");

static void check_memory(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_memory *m = obj;
	for (size_t i = 0; i < m->hugepages.n; i++)
		for (size_t j = 0; j < i; j++)
			if (KF_LIST_AT(m->hugepages, struct kf_p_hugepages, i)->size ==
			    KF_LIST_AT(m->hugepages, struct kf_p_hugepages, j)->size)
				kf_errf(e, kf_mark_of(KF_LIST_AT(m->hugepages, struct kf_p_hugepages, i), "size"),
					"hugepages: page size given twice");
}

#define S struct kf_p_memory
static const struct kf_field memory_fields[] = {
	FLD(S, "hugepages", KF_T_LIST, hugepages, .sub = &hugepages_schema,
	    .doc = "hugepage pools, one entry per page size"),
	FLD(S, "default_hugepage_size", KF_T_SIZE, default_hugepage_size, .min = 4096, .max = 16 * GiB,
	    .doc = "default_hugepagesz= on the kernel command line"),
	FLD(S, "transparent_hugepages", KF_T_STRUCT, transparent_hugepages, .sub = &thp_schema,
	    .alias = "thp", .doc = "transparent hugepages"),
	FLD(S, "ksm", KF_T_STRUCT, ksm, .sub = &ksm_schema, .doc = "kernel samepage merging"),
	FLD(S, "numa_balancing", KF_T_BOOL, numa_balancing,
	    .doc = "automatic NUMA balancing (kernel.numa_balancing)"),
	END
};
#undef S
static SCHEMA(memory_schema, "memory", struct kf_p_memory, .fields = memory_fields,
	      .check = check_memory);

/* ---- cpu ---- */

#define S struct kf_p_irqbalance
static const struct kf_field irqb_fields[] = {
	FLD(S, "mode", KF_T_ENUM, mode, .enumv = irqb_modes,
	    .doc = "performance spreads IRQs, powersave packs them, off stops irqbalance"),
	FLD(S, "banned_cpus", KF_T_CPULIST, banned_cpus,
	    .doc = "CPUs irqbalance never sends IRQs to (IRQBALANCE_BANNED_CPULIST)"),
	END
};
#undef S
static SCHEMA(irqb_schema, "irqbalance", struct kf_p_irqbalance, .fields = irqb_fields,
	      .shorthand = "mode");

static void check_irqaff(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_irqaff *a = obj;
	if (!a->device == (a->irq == KF_UNSET))
		kf_errf(e, kf_mark_of(a, NULL), "irq_affinity: give exactly one of device or irq");
}

#define S struct kf_p_irqaff
static const struct kf_field irqaff_fields[] = {
	FLD(S, "device", KF_T_IFACE, device, .doc = "every IRQ of this NIC (name or MAC)"),
	FLD(S, "irq", KF_T_INT, irq, .min = 0, .max = 65535, .doc = "one IRQ by number"),
	FLD(S, "cpus", KF_T_CPULIST, cpus, .flags = KF_F_REQUIRED, .doc = "CPUs the IRQs may run on"),
	END
};
#undef S
static SCHEMA(irqaff_schema, "irq_affinity", struct kf_p_irqaff, .fields = irqaff_fields,
	      .check = check_irqaff);

#define S struct kf_p_cpu
static const struct kf_field cpu_fields[] = {
	FLD(S, "online", KF_T_CPULIST, online,
	    .doc = "CPUs that must be online; the others are taken offline (never cpu0)"),
	FLD(S, "irqbalance", KF_T_STRUCT, irqbalance, .sub = &irqb_schema, .doc = "irqbalance daemon"),
	FLD(S, "irq_affinity", KF_T_LIST, irq_affinity, .sub = &irqaff_schema,
	    .doc = "manual IRQ affinity"),
	FLD(S, "isolated", KF_T_CPULIST, isolated,
	    .doc = "CPUs kept from the scheduler's balancing for guests' vCPUs: isolcpus= on the kernel command line"),
	END
};
#undef S
static SCHEMA(cpu_schema, "cpu", struct kf_p_cpu, .fields = cpu_fields);

/* ---- network ---- */

static void check_bond(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_bond *b = obj;
	if (!b->members.n)
		kf_errf(e, kf_mark_of(b, "members"), "bond %s: needs at least one member", b->name);
	if (b->lacp_rate >= 0 && b->mode != KF_BOND_8023AD)
		kf_errf(e, kf_mark_of(b, "lacp_rate"), "bond %s: lacp_rate applies to mode 802.3ad only",
			b->name);
	if (b->xmit_hash_policy >= 0 && b->mode != KF_BOND_XOR && b->mode != KF_BOND_8023AD &&
	    b->mode != KF_BOND_TLB && b->mode != KF_BOND_ALB)
		kf_errf(e, kf_mark_of(b, "xmit_hash_policy"),
			"bond %s: xmit_hash_policy applies to balance-xor, 802.3ad, balance-tlb and balance-alb only",
			b->name);
	if (b->primary) {
		if (b->mode != KF_BOND_AB && b->mode != KF_BOND_TLB && b->mode != KF_BOND_ALB)
			kf_errf(e, kf_mark_of(b, "primary"),
				"bond %s: primary applies to active-backup, balance-tlb and balance-alb only",
				b->name);
		bool found = false;
		for (size_t i = 0; i < b->members.n; i++)
			found |= !strcmp(KF_LIST_STR(b->members, i), b->primary);
		if (!found)
			kf_errf(e, kf_mark_of(b, "primary"), "bond %s: primary \"%s\" is not a member",
				b->name, b->primary);
	}
	for (size_t i = 0; i < b->members.n; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(KF_LIST_STR(b->members, i), KF_LIST_STR(b->members, j)))
				kf_errf(e, kf_mark_of(b, "members"), "bond %s: member \"%s\" listed twice",
					b->name, KF_LIST_STR(b->members, i));
}

#define S struct kf_p_bond
static const struct kf_field bond_fields[] = {
	FLD(S, "name", KF_T_IFACE, name, .flags = KF_F_REQUIRED, .doc = "bond device name"),
	FLD(S, "mode", KF_T_ENUM, mode, .enumv = bond_modes, .def = "active-backup", .doc = "bonding mode"),
	FLD(S, "members", KF_T_LIST, members, .elem = KF_T_IFACE, .alias = "slaves",
	    .doc = "member NICs, by name or MAC"),
	FLD(S, "miimon", KF_T_INT, miimon, .min = 0, .max = 60000, .def = "100", .doc = "link check interval (ms)"),
	FLD(S, "updelay", KF_T_INT, updelay, .min = 0, .max = 60000, .doc = "ms before a link is used after it comes up"),
	FLD(S, "downdelay", KF_T_INT, downdelay, .min = 0, .max = 60000, .doc = "ms before a failed link is dropped"),
	FLD(S, "lacp_rate", KF_T_ENUM, lacp_rate, .enumv = lacp_rates, .doc = "LACPDU rate (802.3ad)"),
	FLD(S, "xmit_hash_policy", KF_T_ENUM, xmit_hash_policy, .enumv = xmit_hashes,
	    .doc = "transmit hash (balance-xor, 802.3ad, tlb, alb)"),
	FLD(S, "primary", KF_T_IFACE, primary, .doc = "preferred member (active-backup, tlb, alb)"),
	FLD(S, "mtu", KF_T_INT, mtu, .min = 68, .max = 65535, .doc = "MTU"),
	FLD(S, "mac", KF_T_MAC, mac, .doc = "MAC address of the bond"),
	END
};
#undef S
static SCHEMA(bond_schema, "bond", struct kf_p_bond, .fields = bond_fields, .check = check_bond);

#define S struct kf_p_bridge
static const struct kf_field bridge_fields[] = {
	FLD(S, "name", KF_T_IFACE, name, .flags = KF_F_REQUIRED, .doc = "bridge device name"),
	FLD(S, "ports", KF_T_LIST, ports, .elem = KF_T_IFACE, .doc = "NICs, bonds or VLANs enslaved to it"),
	FLD(S, "stp", KF_T_BOOL, stp, .def = "false", .doc = "spanning tree"),
	FLD(S, "forward_delay", KF_T_INT, forward_delay, .min = 2, .max = 30, .doc = "STP forward delay (s)"),
	FLD(S, "mtu", KF_T_INT, mtu, .min = 68, .max = 65535, .doc = "MTU"),
	FLD(S, "addresses", KF_T_LIST, addresses, .elem = KF_T_CIDR, .flags = KF_F_ONE_OR_LIST,
	    .doc = "host addresses moved onto the bridge"),
	FLD(S, "gateway", KF_T_IPV4, gateway, .doc = "default route via the bridge"),
	FLD(S, "mac", KF_T_MAC, mac, .doc = "MAC address of the bridge"),
	FLD(S, "backend", KF_T_ENUM, backend, .enumv = backends,
	    .doc = "linux bridge or Open vSwitch bridge (default: network.backend)"),
	FLD(S, "datapath", KF_T_ENUM, datapath, .enumv = ovs_datapaths,
	    .doc = "Open vSwitch datapath: the kernel's (system, the default) or userspace (netdev)"),
	END
};
#undef S
static SCHEMA(bridge_schema, "bridge", struct kf_p_bridge, .fields = bridge_fields);

#define S struct kf_p_vlan
static const struct kf_field vlan_fields[] = {
	FLD(S, "name", KF_T_IFACE, name, .flags = KF_F_REQUIRED, .doc = "VLAN device name"),
	FLD(S, "link", KF_T_IFACE, link, .flags = KF_F_REQUIRED, .doc = "parent NIC or bond"),
	FLD(S, "id", KF_T_INT, id, .flags = KF_F_REQUIRED, .min = 1, .max = 4094, .doc = "802.1Q VLAN id"),
	FLD(S, "mtu", KF_T_INT, mtu, .min = 68, .max = 65535, .doc = "MTU"),
	END
};
#undef S
static SCHEMA(vlan_schema, "vlan", struct kf_p_vlan, .fields = vlan_fields);

#define S struct kf_p_macvtap
static const struct kf_field macvtap_fields[] = {
	FLD(S, "name", KF_T_IFACE, name, .flags = KF_F_REQUIRED, .doc = "device name"),
	FLD(S, "link", KF_T_IFACE, link, .flags = KF_F_REQUIRED, .doc = "lower NIC"),
	FLD(S, "mode", KF_T_ENUM, mode, .enumv = mv_modes, .def = "vepa", .doc = "macvtap/macvlan mode"),
	FLD(S, "kind", KF_T_ENUM, kind, .enumv = mv_kinds, .def = "macvtap", .doc = "macvtap or macvlan"),
	FLD(S, "mac", KF_T_MAC, mac, .doc = "MAC address"),
	FLD(S, "mtu", KF_T_INT, mtu, .min = 68, .max = 65535, .doc = "MTU"),
	END
};
#undef S
static SCHEMA(macvtap_schema, "macvtap", struct kf_p_macvtap, .fields = macvtap_fields);

#define S struct kf_p_queue
static const struct kf_field queue_fields[] = {
	FLD(S, "device", KF_T_IFACE, device, .flags = KF_F_REQUIRED, .doc = "NIC (name or MAC)"),
	FLD(S, "combined", KF_T_INT, combined, .min = 1, .max = 4096, .doc = "combined channels (ethtool -L combined)"),
	FLD(S, "rx", KF_T_INT, rx, .min = 1, .max = 4096, .doc = "rx channels"),
	FLD(S, "tx", KF_T_INT, tx, .min = 1, .max = 4096, .doc = "tx channels"),
	FLD(S, "rps_cpus", KF_T_CPULIST, rps_cpus, .doc = "RPS CPUs for every rx queue"),
	FLD(S, "rps_flow_cnt", KF_T_INT, rps_flow_cnt, .min = 0, .max = 1 << 30,
	    .doc = "RFS flow entries per rx queue"),
	FLD(S, "xps_cpus", KF_T_CPULIST, xps_cpus, .doc = "XPS CPUs for every tx queue"),
	END
};
#undef S
static SCHEMA(queue_schema, "queues", struct kf_p_queue, .fields = queue_fields);

#define S struct kf_p_vf
static const struct kf_field vf_fields[] = {
	FLD(S, "index", KF_T_INT, index, .flags = KF_F_REQUIRED, .min = 0, .max = 4095, .doc = "VF number"),
	FLD(S, "mac", KF_T_MAC, mac, .doc = "VF MAC address"),
	FLD(S, "vlan", KF_T_INT, vlan, .min = 0, .max = 4094, .doc = "VF VLAN (0: none)"),
	FLD(S, "trust", KF_T_BOOL, trust, .doc = "trusted VF"),
	FLD(S, "spoofchk", KF_T_BOOL, spoofchk, .doc = "MAC spoof checking"),
	END
};
#undef S
static SCHEMA(vf_schema, "vf", struct kf_p_vf, .fields = vf_fields);

static void check_sriov(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_sriov *s = obj;
	for (size_t i = 0; i < s->vf.n; i++) {
		struct kf_p_vf *vf = KF_LIST_AT(s->vf, struct kf_p_vf, i);
		if (vf->index >= s->vfs)
			kf_errf(e, kf_mark_of(vf, "index"), "sriov %s: VF %lld does not exist (vfs: %lld)",
				s->device, vf->index, s->vfs);
	}
}

#define S struct kf_p_sriov
static const struct kf_field sriov_fields[] = {
	FLD(S, "device", KF_T_IFACE, device, .flags = KF_F_REQUIRED, .doc = "physical function NIC"),
	FLD(S, "vfs", KF_T_INT, vfs, .flags = KF_F_REQUIRED, .min = 0, .max = 4096, .doc = "number of VFs (sriov_numvfs)"),
	FLD(S, "vf", KF_T_LIST, vf, .sub = &vf_schema, .doc = "per-VF MAC, VLAN, trust"),
	END
};
#undef S
static SCHEMA(sriov_schema, "sriov", struct kf_p_sriov, .fields = sriov_fields, .check = check_sriov);

#define S struct kf_p_rollback
static const struct kf_field rollback_fields[] = {
	FLD(S, "target", KF_T_IPV4, target, .doc = "address that must stay reachable (default: the provisioner)"),
	FLD(S, "timeout", KF_T_INT, timeout, .min = 1, .max = 600, .def = "30",
	    .doc = "seconds to wait before restoring the previous links"),
	END
};
#undef S
static SCHEMA(rollback_schema, "rollback", struct kf_p_rollback, .fields = rollback_fields);

struct name_seen {
	const char *name;
	const struct kf_mark *mark;
	const char *what;
};

static void network_names(struct kf_p_network *n, struct kf_err *e)
{
	struct name_seen seen[512];
	size_t ns = 0;
#define ADD(list, type, kind)                                                               \
	for (size_t i = 0; i < (list).n; i++) {                                             \
		type *x = KF_LIST_AT(list, type, i);                                        \
		for (size_t j = 0; j < ns; j++)                                             \
			if (!strcmp(seen[j].name, x->name))                                 \
				kf_errf(e, kf_mark_of(x, "name"),                           \
					"%s \"%s\" clashes with %s \"%s\" at line %d", kind, \
					x->name, seen[j].what, seen[j].name,                \
					seen[j].mark->line);                                \
		if (ns < KF_ARRAY_SIZE(seen))                                               \
			seen[ns++] = (struct name_seen){ x->name, kf_mark_of(x, "name"), kind }; \
	}
	ADD(n->bonds, struct kf_p_bond, "bond")
	ADD(n->bridges, struct kf_p_bridge, "bridge")
	ADD(n->vlans, struct kf_p_vlan, "vlan")
	ADD(n->macvtaps, struct kf_p_macvtap, "macvtap")
#undef ADD
}

/* Each port belongs to one bond or bridge, and bridges do not nest. */
static void network_ports(struct kf_p_network *n, struct kf_err *e)
{
	for (size_t i = 0; i < n->bridges.n; i++) {
		struct kf_p_bridge *br = KF_LIST_AT(n->bridges, struct kf_p_bridge, i);
		for (size_t p = 0; p < br->ports.n; p++) {
			const char *port = KF_LIST_STR(br->ports, p);
			if (!strcmp(port, br->name))
				kf_errf(e, kf_mark_of(br, "ports"), "bridge %s: a bridge cannot be its own port",
					br->name);
			for (size_t j = 0; j < n->bridges.n; j++) {
				struct kf_p_bridge *o = KF_LIST_AT(n->bridges, struct kf_p_bridge, j);
				if (j != i && !strcmp(port, o->name))
					kf_errf(e, kf_mark_of(br, "ports"),
						"bridge %s: port \"%s\" is a bridge (bridges cannot be nested, loop)",
						br->name, port);
				for (size_t q = 0; j < i && q < o->ports.n; q++)
					if (!strcmp(port, KF_LIST_STR(o->ports, q)))
						kf_errf(e, kf_mark_of(br, "ports"),
							"bridge %s: port \"%s\" is already a port of bridge %s",
							br->name, port, o->name);
			}
			for (size_t j = 0; j < n->bonds.n; j++) {
				struct kf_p_bond *b = KF_LIST_AT(n->bonds, struct kf_p_bond, j);
				for (size_t q = 0; q < b->members.n; q++)
					if (!strcmp(port, KF_LIST_STR(b->members, q)))
						kf_errf(e, kf_mark_of(br, "ports"),
							"bridge %s: port \"%s\" is a member of bond %s",
							br->name, port, b->name);
			}
		}
	}
	for (size_t i = 0; i < n->bonds.n; i++) {
		struct kf_p_bond *b = KF_LIST_AT(n->bonds, struct kf_p_bond, i);
		for (size_t q = 0; q < b->members.n; q++) {
			const char *m = KF_LIST_STR(b->members, q);
			if (!strcmp(m, b->name))
				kf_errf(e, kf_mark_of(b, "members"), "bond %s: a bond cannot be its own member",
					b->name);
			for (size_t j = 0; j < i; j++) {
				struct kf_p_bond *o = KF_LIST_AT(n->bonds, struct kf_p_bond, j);
				for (size_t r = 0; r < o->members.n; r++)
					if (!strcmp(m, KF_LIST_STR(o->members, r)))
						kf_errf(e, kf_mark_of(b, "members"),
							"bond %s: member \"%s\" is already in bond %s", b->name,
							m, o->name);
			}
		}
	}
}

static void check_network(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_network *n = obj;
	network_names(n, e);
	network_ports(n, e);
}

#define S struct kf_p_network
static const struct kf_field network_fields[] = {
	FLD(S, "persist", KF_T_ENUM, persist, .enumv = persist_kinds, .def = "auto",
	    .doc = "how the configuration survives reboots: the host's networkd or NetworkManager files"),
	FLD(S, "backend", KF_T_ENUM, backend, .enumv = backends, .def = "linux",
	    .doc = "bridges' default backend: linux bridges, or Open vSwitch (ovs) bridges with their bonds and VLANs"),
	FLD(S, "bonds", KF_T_LIST, bonds, .sub = &bond_schema, .doc = "bonded NICs"),
	FLD(S, "bridges", KF_T_LIST, bridges, .sub = &bridge_schema, .doc = "Linux bridges"),
	FLD(S, "vlans", KF_T_LIST, vlans, .sub = &vlan_schema, .doc = "802.1Q VLAN devices"),
	FLD(S, "macvtaps", KF_T_LIST, macvtaps, .sub = &macvtap_schema, .doc = "macvtap / macvlan devices"),
	FLD(S, "queues", KF_T_LIST, queues, .sub = &queue_schema, .doc = "NIC channels, RPS, RFS, XPS"),
	FLD(S, "rps_sock_flow_entries", KF_T_INT, rps_sock_flow_entries, .min = 0, .max = 1 << 30,
	    .doc = "net.core.rps_sock_flow_entries (RFS)"),
	FLD(S, "sriov", KF_T_LIST, sriov, .sub = &sriov_schema, .doc = "SR-IOV virtual functions"),
	FLD(S, "rollback", KF_T_STRUCT, rollback, .sub = &rollback_schema,
	    .doc = "connectivity check after changes that move the host's address"),
	END
};
#undef S
static SCHEMA(network_schema, "network", struct kf_p_network, .fields = network_fields,
	      .check = check_network);

/* ---- guests ---- */

static void check_vcpus(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_vcpus *v = obj;
	if (v->current == KF_UNSET)
		v->current = v->max;
	if (v->current > v->max)
		kf_errf(e, kf_mark_of(v, "current"), "vcpus: current (%lld) is more than max (%lld)",
			v->current, v->max);
}

#define S struct kf_p_vcpus
static const struct kf_field vcpus_fields[] = {
	FLD(S, "max", KF_T_INT, max, .flags = KF_F_REQUIRED, .min = 1, .max = 4096, .doc = "maximum vCPUs"),
	FLD(S, "current", KF_T_INT, current, .min = 1, .max = 4096,
	    .doc = "vCPUs online now (hotplugged live up to max)"),
	END
};
#undef S
static SCHEMA(vcpus_schema, "vcpus", struct kf_p_vcpus, .fields = vcpus_fields, .shorthand = "max",
	      .check = check_vcpus);

#define S struct kf_p_topology
static const struct kf_field topology_fields[] = {
	FLD(S, "sockets", KF_T_INT, sockets, .min = 1, .max = 256, .def = "1", .doc = "sockets"),
	FLD(S, "dies", KF_T_INT, dies, .min = 1, .max = 256, .doc = "dies per socket"),
	FLD(S, "cores", KF_T_INT, cores, .flags = KF_F_REQUIRED, .min = 1, .max = 1024, .doc = "cores per socket"),
	FLD(S, "threads", KF_T_INT, threads, .min = 1, .max = 8, .def = "1", .doc = "threads per core"),
	END
};
#undef S
static SCHEMA(topology_schema, "topology", struct kf_p_topology, .fields = topology_fields);

#define S struct kf_p_pin
static const struct kf_field pin_fields[] = {
	FLD(S, "id", KF_T_INT, id, .min = 0, .max = 4095, .doc = "vCPU or iothread number"),
	FLD(S, "cpus", KF_T_CPULIST, cpus, .flags = KF_F_REQUIRED, .doc = "host CPUs"),
	END
};
#undef S
static SCHEMA(pin_schema, "pin", struct kf_p_pin, .fields = pin_fields, .shorthand = "cpus");

#define S struct kf_p_pinning
static const struct kf_field pinning_fields[] = {
	FLD(S, "placement", KF_T_ENUM, placement, .enumv = placements, .def = "manual",
	    .doc = "auto pins the guest to one NUMA node chosen on the host (most free memory)"),
	FLD(S, "vcpus", KF_T_DICT, vcpus, .sub = &pin_schema, .doc = "vcpupin as {vcpu: cpus}"),
	FLD(S, "emulator", KF_T_CPULIST, emulator, .doc = "emulatorpin CPUs"),
	FLD(S, "iothreads", KF_T_DICT, iothreads, .sub = &pin_schema, .doc = "iothreadpin as {iothread: cpus}"),
	END
};
#undef S
static SCHEMA(pinning_schema, "pinning", struct kf_p_pinning, .fields = pinning_fields,
	      .shorthand = "placement");

#define S struct kf_p_memnode
static const struct kf_field memnode_fields[] = {
	FLD(S, "cell", KF_T_INT, cell, .flags = KF_F_REQUIRED, .min = 0, .max = 1023, .doc = "guest NUMA cell"),
	FLD(S, "mode", KF_T_ENUM, mode, .enumv = numa_modes, .def = "strict", .doc = "memory policy"),
	FLD(S, "nodes", KF_T_NODELIST, nodes, .flags = KF_F_REQUIRED, .alias = "nodeset", .doc = "host nodes"),
	END
};
#undef S
static SCHEMA(memnode_schema, "memnode", struct kf_p_memnode, .fields = memnode_fields);

#define S struct kf_p_numatune
static const struct kf_field numatune_fields[] = {
	FLD(S, "mode", KF_T_ENUM, mode, .enumv = numa_modes, .def = "strict", .doc = "memory policy"),
	FLD(S, "nodes", KF_T_NODELIST, nodes, .alias = "nodeset", .doc = "host NUMA nodes for guest memory"),
	FLD(S, "memnodes", KF_T_LIST, memnodes, .sub = &memnode_schema, .doc = "per guest cell policy"),
	END
};
#undef S
static SCHEMA(numatune_schema, "numatune", struct kf_p_numatune, .fields = numatune_fields);

static void check_gmemory(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_gmemory *m = obj;
	if (m->current != KF_UNSET && m->current > m->size)
		kf_errf(e, kf_mark_of(m, "current"), "memory: current is more than size");
	if (m->stats_period != KF_UNSET && m->balloon == KF_BALLOON_NONE)
		kf_errf(e, kf_mark_of(m, "stats_period"), "memory: stats_period needs a virtio balloon");
}

#define S struct kf_p_gmemory
static const struct kf_field gmemory_fields[] = {
	FLD(S, "size", KF_T_SIZE, size, .flags = KF_F_REQUIRED, .min = 1 << 20, .max = 64 * TiB,
	    .doc = "maximum memory"),
	FLD(S, "current", KF_T_SIZE, current, .min = 1 << 20, .max = 64 * TiB,
	    .doc = "current memory (the live balloon target)"),
	FLD(S, "balloon", KF_T_ENUM, balloon, .enumv = balloons, .doc = "memballoon model"),
	FLD(S, "stats_period", KF_T_INT, stats_period, .min = 0, .max = 3600,
	    .doc = "balloon statistics period (s)"),
	END
};
#undef S
static SCHEMA(gmemory_schema, "memory", struct kf_p_gmemory, .fields = gmemory_fields,
	      .shorthand = "size", .check = check_gmemory);

static void check_memtune(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_memtune *m = obj;
	if (m->swap_hard_limit != KF_UNSET && m->hard_limit != KF_UNSET &&
	    m->swap_hard_limit < m->hard_limit)
		kf_errf(e, kf_mark_of(m, "swap_hard_limit"),
			"memtune: swap_hard_limit must be at least hard_limit");
	if (m->soft_limit != KF_UNSET && m->hard_limit != KF_UNSET && m->soft_limit > m->hard_limit)
		kf_errf(e, kf_mark_of(m, "soft_limit"), "memtune: soft_limit is more than hard_limit");
}

#define S struct kf_p_memtune
static const struct kf_field memtune_fields[] = {
	FLD(S, "hard_limit", KF_T_SIZE, hard_limit, .min = 1 << 20, .max = 64 * TiB, .doc = "memory hard limit"),
	FLD(S, "soft_limit", KF_T_SIZE, soft_limit, .min = 1 << 20, .max = 64 * TiB, .doc = "memory soft limit"),
	FLD(S, "swap_hard_limit", KF_T_SIZE, swap_hard_limit, .min = 1 << 20, .max = 64 * TiB,
	    .doc = "memory plus swap limit (at least hard_limit)"),
	FLD(S, "min_guarantee", KF_T_SIZE, min_guarantee, .min = 1 << 20, .max = 64 * TiB,
	    .doc = "guaranteed memory"),
	END
};
#undef S
static SCHEMA(memtune_schema, "memtune", struct kf_p_memtune, .fields = memtune_fields,
	      .check = check_memtune);

#define S struct kf_p_backing
static const struct kf_field backing_fields[] = {
	FLD(S, "hugepages", KF_T_SIZE, hugepages, .min = 4096, .max = 16 * GiB,
	    .doc = "back guest memory with hugepages of this size"),
	FLD(S, "nodeset", KF_T_NODELIST, nodeset, .doc = "guest NUMA cells these hugepages back (libvirt <page nodeset>)"),
	FLD(S, "nosharepages", KF_T_BOOL, nosharepages, .doc = "keep KSM away from this guest"),
	FLD(S, "locked", KF_T_BOOL, locked, .doc = "lock guest memory in RAM (needs memtune.hard_limit)"),
	END
};
#undef S
static SCHEMA(backing_schema, "memory_backing", struct kf_p_backing, .fields = backing_fields);

static void check_nic(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_nic *n = obj;
	if (n->queues != KF_UNSET && n->model != KF_MODEL_VIRTIO)
		kf_errf(e, kf_mark_of(n, "queues"), "interface: queues need model virtio, not %s",
			nic_models[n->model]);
	if (n->driver >= 0 && n->model != KF_MODEL_VIRTIO)
		kf_errf(e, kf_mark_of(n, "driver"), "interface: driver %s needs model virtio",
			nic_drivers[n->driver]);
	if (n->mode >= 0 && n->type != KF_NIC_DIRECT)
		kf_errf(e, kf_mark_of(n, "mode"), "interface: mode applies to type direct only");
	if (n->type == KF_NIC_DIRECT && n->mode < 0)
		n->mode = KF_NICM_VEPA;
	if (n->type == KF_NIC_HOSTDEV) {
		char buf[32];
		if (kf_pci_norm(n->source, buf, sizeof(buf)) < 0)
			kf_errf(e, kf_mark_of(n, "source"),
				"interface: type hostdev needs source: the VF's PCI address, got \"%s\"",
				n->source);
	}
}

#define S struct kf_p_nic
static const struct kf_field nic_fields[] = {
	FLD(S, "type", KF_T_ENUM, type, .enumv = nic_types, .def = "bridge",
	    .doc = "bridge, direct (macvtap), network, or hostdev (an SR-IOV VF)"),
	FLD(S, "source", KF_T_STR, source, .flags = KF_F_REQUIRED,
	    .doc = "bridge name, host NIC, libvirt network, or VF PCI address"),
	FLD(S, "mode", KF_T_ENUM, mode, .enumv = nic_modes, .doc = "macvtap mode (type direct)"),
	FLD(S, "model", KF_T_ENUM, model, .enumv = nic_models, .def = "virtio", .doc = "NIC model"),
	FLD(S, "driver", KF_T_ENUM, driver, .enumv = nic_drivers, .doc = "virtio backend: vhost or qemu"),
	FLD(S, "queues", KF_T_INT, queues, .min = 1, .max = 256, .doc = "multiqueue virtio queues"),
	FLD(S, "mac", KF_T_MAC, mac, .doc = "MAC address"),
	END
};
#undef S
static SCHEMA(nic_schema, "interface", struct kf_p_nic, .fields = nic_fields, .check = check_nic);

#define S struct kf_p_hostdev
static const struct kf_field hostdev_fields[] = {
	FLD(S, "pci", KF_T_PCI, pci, .flags = KF_F_REQUIRED, .doc = "host PCI address to pass through"),
	FLD(S, "managed", KF_T_BOOL, managed, .def = "true", .doc = "libvirt detaches it from the host driver"),
	END
};
#undef S
static SCHEMA(hostdev_schema, "hostdev", struct kf_p_hostdev, .fields = hostdev_fields,
	      .shorthand = "pci");

static void check_guest(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_guest *g = obj;
	long long maxv = g->vcpus ? g->vcpus->max : KF_UNSET;
	if (g->pinning) {
		for (size_t i = 0; i < g->pinning->vcpus.n; i++) {
			struct kf_p_pin *p = KF_LIST_AT(g->pinning->vcpus, struct kf_p_pin, i);
			if (maxv != KF_UNSET && p->id >= maxv)
				kf_errf(e, &p->node->mark,
					"guest %s: pinning for vCPU %lld but the guest has %lld vCPUs", g->name,
					p->id, maxv);
		}
		for (size_t i = 0; i < g->pinning->iothreads.n; i++) {
			struct kf_p_pin *p = KF_LIST_AT(g->pinning->iothreads, struct kf_p_pin, i);
			if (g->iothreads == KF_UNSET || p->id < 1 || p->id > g->iothreads)
				kf_errf(e, &p->node->mark,
					"guest %s: pinning for iothread %lld but the guest has %lld iothreads (numbered from 1)",
					g->name, p->id, g->iothreads == KF_UNSET ? 0 : g->iothreads);
		}
		if (g->pinning->placement == KF_PLACE_AUTO && g->pinning->vcpus.n)
			kf_errf(e, kf_mark_of(g->pinning, "vcpus"),
				"guest %s: placement auto chooses the pins, do not also give vcpus", g->name);
	}
	if (g->memory_backing && g->memory_backing->locked == 1 &&
	    (!g->memtune || g->memtune->hard_limit == KF_UNSET))
		kf_errf(e, kf_mark_of(g->memory_backing, "locked"),
			"guest %s: locked memory needs memtune.hard_limit", g->name);
	if (g->cpu_model && g->cpu_mode != KF_CPU_CUSTOM)
		kf_errf(e, kf_mark_of(g, "cpu_model"), "guest %s: cpu_model needs cpu_mode custom", g->name);
	if (g->cpu_mode == KF_CPU_CUSTOM && !g->cpu_model)
		kf_errf(e, kf_mark_of(g, "cpu_mode"), "guest %s: cpu_mode custom needs cpu_model", g->name);
	if (g->topology && maxv != KF_UNSET) {
		struct kf_p_topology *t = g->topology;
		long long n = t->sockets * (t->dies == KF_UNSET ? 1 : t->dies) * t->cores * t->threads;
		if (n != maxv)
			kf_errf(e, kf_mark_of(g, "topology"),
				"guest %s: topology gives %lld vCPUs but vcpus.max is %lld", g->name, n, maxv);
	}
	if (g->memory && g->memory_backing && g->memory_backing->hugepages != KF_UNSET &&
	    g->memory->size % g->memory_backing->hugepages)
		kf_errf(e, kf_mark_of(g->memory_backing, "hugepages"),
			"guest %s: memory size is not a multiple of the hugepage size", g->name);
	if (g->define == 1 && (!g->vcpus || !g->memory))
		kf_errf(e, kf_mark_of(g, "define"), "guest %s: defining a new guest needs vcpus and memory",
			g->name);
}

#define S struct kf_p_guest
static const struct kf_field guest_fields[] = {
	FLD(S, "name", KF_T_STR, name, .flags = KF_F_REQUIRED, .doc = "libvirt domain name"),
	FLD(S, "mac", KF_T_MAC, mac, .doc = "MAC of the first NIC of a guest the agent defines"),
	FLD(S, "disk", KF_T_SIZE, disk, .min = 1 << 20, .max = 64 * TiB,
	    .doc = "disk size for a guest the agent defines"),
	FLD(S, "define", KF_T_BOOL, define, .def = "false",
	    .doc = "define the guest (network boot first) when it does not exist"),
	FLD(S, "start", KF_T_BOOL, start, .def = "true", .doc = "start a guest after defining it"),
	FLD(S, "autostart", KF_T_BOOL, autostart, .doc = "start with the host"),
	FLD(S, "allow_restart", KF_T_BOOL, allow_restart, .def = "false",
	    .doc = "may restart the guest so config-only changes take effect"),
	FLD(S, "vcpus", KF_T_STRUCT, vcpus, .sub = &vcpus_schema, .doc = "vCPU count; a number sets max and current"),
	FLD(S, "cpu_mode", KF_T_ENUM, cpu_mode, .enumv = cpu_modes, .doc = "CPU model mode"),
	FLD(S, "cpu_model", KF_T_STR, cpu_model, .doc = "named CPU model for cpu_mode custom"),
	FLD(S, "topology", KF_T_STRUCT, topology, .sub = &topology_schema, .doc = "guest CPU topology"),
	FLD(S, "pinning", KF_T_STRUCT, pinning, .sub = &pinning_schema, .doc = "vCPU, emulator and iothread pinning"),
	FLD(S, "iothreads", KF_T_INT, iothreads, .min = 0, .max = 64, .doc = "number of iothreads"),
	FLD(S, "numatune", KF_T_STRUCT, numatune, .sub = &numatune_schema, .doc = "NUMA memory placement"),
	FLD(S, "memory", KF_T_STRUCT, memory, .sub = &gmemory_schema, .doc = "memory and balloon"),
	FLD(S, "memtune", KF_T_STRUCT, memtune, .sub = &memtune_schema, .doc = "memory limits"),
	FLD(S, "memory_backing", KF_T_STRUCT, memory_backing, .sub = &backing_schema,
	    .doc = "hugepages, locked, nosharepages"),
	FLD(S, "interfaces", KF_T_LIST, interfaces, .sub = &nic_schema, .doc = "network interfaces"),
	FLD(S, "hostdevs", KF_T_LIST, hostdevs, .sub = &hostdev_schema, .doc = "PCI passthrough"),
	END
};
#undef S
static SCHEMA(guest_schema, "guest", struct kf_p_guest, .fields = guest_fields, .check = check_guest);
/* host_tuning: a guest entry without its name (the provisioner fills name,
 * MAC, vCPUs, memory and disk from the inventory). */
static SCHEMA(host_tuning_schema, "host_tuning", struct kf_p_guest, .fields = guest_fields + 1);

/* ---- passthrough ---- */

#define S struct kf_p_pcidev
static const struct kf_field pcidev_fields[] = {
	FLD(S, "pci", KF_T_PCI, pci, .flags = KF_F_REQUIRED, .doc = "host PCI address bound to vfio-pci"),
	END
};
#undef S
static SCHEMA(pcidev_schema, "device", struct kf_p_pcidev, .fields = pcidev_fields, .shorthand = "pci");

static void check_passthrough(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_p_passthrough *p = obj;
	for (size_t i = 0; i < p->devices.n; i++)
		for (size_t j = 0; j < i; j++) {
			struct kf_p_pcidev *a = KF_LIST_AT(p->devices, struct kf_p_pcidev, i);
			struct kf_p_pcidev *b = KF_LIST_AT(p->devices, struct kf_p_pcidev, j);
			if (a->pci && b->pci && !strcmp(a->pci, b->pci))
				kf_errf(e, kf_mark_of(a, "pci"), "passthrough: device %s listed twice (first at line %d)",
					a->pci, kf_mark_of(b, "pci")->line);
		}
}

#define S struct kf_p_passthrough
static const struct kf_field passthrough_fields[] = {
	FLD(S, "iommu", KF_T_BOOL, iommu, .def = "true",
	    .doc = "keep intel_iommu=on iommu=pt (amd_iommu=on iommu=pt) on the kernel command line"),
	FLD(S, "devices", KF_T_LIST, devices, .sub = &pcidev_schema,
	    .doc = "PCI devices bound to vfio-pci for guests' hostdevs"),
	END
};
#undef S
static SCHEMA(passthrough_schema, "passthrough", struct kf_p_passthrough, .fields = passthrough_fields,
	      .check = check_passthrough);

static void check_profile(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_profile *p = obj;
	for (size_t i = 0; i < p->guests.n; i++)
		for (size_t j = 0; j < i; j++) {
			struct kf_p_guest *a = KF_LIST_AT(p->guests, struct kf_p_guest, i);
			struct kf_p_guest *b = KF_LIST_AT(p->guests, struct kf_p_guest, j);
			if (!strcmp(a->name, b->name))
				kf_errf(e, kf_mark_of(a, "name"), "guest \"%s\" listed twice (first at line %d)",
					a->name, kf_mark_of(b, "name")->line);
		}
}

#define S struct kf_profile
static const struct kf_field profile_fields[] = {
	FLD(S, "role", KF_T_STR, role, .doc = "name of the role this profile describes"),
	FLD(S, "agent", KF_T_STRUCT, agent, .sub = &agent_schema, .doc = "how the agent runs on this host"),
	FLD(S, "libvirt", KF_T_STRUCT, libvirt, .sub = &libvirt_schema, .doc = "libvirt connection for guests"),
	FLD(S, "kvm", KF_T_STRUCT, kvm, .sub = &kvm_schema, .doc = "KVM module options"),
	FLD(S, "memory", KF_T_STRUCT, memory, .sub = &memory_schema, .doc = "hugepages, THP, KSM, NUMA balancing"),
	FLD(S, "cpu", KF_T_STRUCT, cpu, .sub = &cpu_schema, .doc = "online CPUs, irqbalance, IRQ affinity"),
	FLD(S, "network", KF_T_STRUCT, network, .sub = &network_schema,
	    .doc = "bonds, bridges, VLANs, macvtap, queues, SR-IOV"),
	FLD(S, "guests", KF_T_LIST, guests, .sub = &guest_schema, .doc = "guests and their host-side tuning"),
	FLD(S, "host_tuning", KF_T_STRUCT, host_tuning, .sub = &host_tuning_schema,
	    .doc = "in a guest's role: host-side tuning of each guest of this role, merged into its KVM host's guests"),
	FLD(S, "passthrough", KF_T_STRUCT, passthrough, .sub = &passthrough_schema,
	    .doc = "PCI devices bound to vfio-pci, the IOMMU on the kernel command line"),
	END
};
#undef S
const struct kf_schema kf_profile_schema = { .name = "profile", .size = sizeof(struct kf_profile),
					     .fields = profile_fields, .check = check_profile };

static int finish_load(struct kf_profile **out, struct kf_doc *doc, struct kf_err *e)
{
	size_t before = e->n;
	struct kf_arena arena = { 0 };
	*out = NULL;
	if (!doc->root) {
		struct kf_mark m = { doc->file, 1, 1 };
		kf_errf(e, &m, "empty file, expected a profile mapping");
		kf_doc_free(doc);
		return -EINVAL;
	}
	struct kf_profile *p = kf_schema_decode(&kf_profile_schema, doc->root, &arena, e, NULL);
	if (e->n > before) {
		kf_arena_release(&arena);
		kf_doc_free(doc);
		return -EINVAL;
	}
	/* the struct lives in the arena, which it then owns */
	p->arena = arena;
	p->doc = doc;
	*out = p;
	return 0;
}

int kf_profile_load(struct kf_profile **out, const char *path, struct kf_err *e)
{
	struct kf_doc *doc = NULL;
	*out = NULL;
	int r = kf_doc_load_file(&doc, path, e);
	if (r < 0)
		return r;
	return finish_load(out, doc, e);
}

int kf_profile_load_buf(struct kf_profile **out, const char *name, const char *buf, size_t len,
			struct kf_err *e)
{
	struct kf_doc *doc = NULL;
	*out = NULL;
	int r = kf_doc_load_buf(&doc, name, buf, len, e);
	if (r < 0)
		return r;
	return finish_load(out, doc, e);
}

void kf_profile_free(struct kf_profile *p)
{
	if (!p)
		return;
	struct kf_doc *doc = p->doc;
	struct kf_arena arena = p->arena;
	kf_arena_release(&arena);
	kf_doc_free(doc);
}

void kf_profile_print(const struct kf_profile *p, FILE *f)
{
	kf_schema_print(f, &kf_profile_schema, p, 0);
}

unsigned long long kf_profile_hugepage_bytes(const struct kf_profile *p)
{
	unsigned long long total = 0;
	if (!p->memory)
		return 0;
	for (size_t i = 0; i < p->memory->hugepages.n; i++) {
		struct kf_p_hugepages *h = KF_LIST_AT(p->memory->hugepages, struct kf_p_hugepages, i);
		unsigned long long pages = h->count != KF_UNSET ? (unsigned long long)h->count : 0;
		for (size_t j = 0; j < h->per_node.n; j++)
			pages += (unsigned long long)KF_LIST_AT(h->per_node, struct kf_p_nodecount, j)->count;
		total += pages * (unsigned long long)h->size;
	}
	return total;
}
