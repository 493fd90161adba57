/* Host facts: what a machine is (CPU, NUMA, memory, hugepages, KSM, NICs,
 * disks, IOMMU, DMI, running guests), as the agent probes it
 * (`kickfleet-agent facts`, agent/facts*.c) and as the provisioner keeps
 * it (the state database, `kickfleet facts`, discovery).
 *
 * One model, two forms: plain text for people (kf_facts_print) and a JSON
 * document with a schema version (kf_facts_json / kf_facts_from_json,
 * documented in docs/facts.md).  Unknown numbers are -1, unknown strings
 * NULL.  Every string and array is owned by the struct; kf_facts_release
 * frees them all. */
#ifndef KF_FACTS_H
#define KF_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"

#define KF_FACTS_SCHEMA 1

struct kf_f_hp {
	long long size;  /* page size in bytes */
	long long total; /* pages */
	long long free;
};

struct kf_f_node {
	int id;
	char *cpus;       /* cpulist */
	long long mem_total, mem_free; /* bytes */
	int *distances;   /* to every node, in the order of kf_facts.nodes */
	size_t ndistances;
	struct kf_f_hp *hp;
	size_t nhp;
};

struct kf_f_irq {
	int irq;
	char *name;       /* the action in /proc/interrupts ("eth0-TxRx-0") */
	char *affinity;   /* smp_affinity_list */
	long long *counts; /* per CPU, in /proc/interrupts column order */
	size_t ncounts;
};

struct kf_f_nic {
	char *name, *mac, *driver, *pci, *operstate;
	long long speed;  /* Mb/s */
	int link;         /* carrier 1/0, -1 unknown */
	int rx_queues, tx_queues;
	long long combined, max_combined; /* ethtool channels (live host only) */
	int sriov_total, sriov_num;       /* -1: no SR-IOV */
	struct kf_f_irq *irqs;
	size_t nirqs;
};

struct kf_f_disk {
	char *name, *model, *serial;
	long long size;   /* bytes */
	int rotational;   /* 1/0, -1 unknown */
};

struct kf_f_group {
	int id;
	char **devices;
	size_t ndevices;
};

struct kf_f_vcpu {
	int vcpu;
	int cpu;          /* the physical CPU it last ran on, -1 unknown */
	char *affinity;   /* cpulist it may run on */
};

struct kf_f_nodemem {
	int node;
	long long bytes;
};

struct kf_f_guest {
	char *name;
	long long pid;
	struct kf_f_vcpu *vcpus;
	size_t nvcpus;
	struct kf_f_nodemem *mem;   /* per NUMA node, from numa_maps */
	size_t nmem;
};

struct kf_facts {
	int schema;
	char *hostname, *kernel;
	struct {
		char *vendor, *model;
		int sockets, cores, threads; /* cores and threads in all */
		char *online;                /* cpulist */
		char *virt;                  /* "vmx", "svm" or NULL */
		char *kvm_module;            /* "kvm_intel", "kvm_amd" or NULL when not loaded */
		int nested;                  /* 1/0, -1 unknown */
	} cpu;
	long long mem_total;             /* bytes */
	char *numa_source;               /* "libnuma", "sysfs", or NULL (no NUMA in sysfs) */
	struct kf_f_node *nodes;
	size_t nnodes;
	struct kf_f_hp *hp;              /* whole host */
	size_t nhp;
	struct {
		char *enabled, *defrag;
	} thp;
	struct {
		int run;
		long long pages_shared, pages_sharing, pages_unshared, full_scans;
		long long page_size, saved;  /* saved = pages_sharing * page_size */
		int merge_across_nodes;
	} ksm;
	struct kf_f_nic *nics;
	size_t nnics;
	struct kf_f_disk *disks;
	size_t ndisks;
	struct {
		bool enabled;
		struct kf_f_group *groups;
		size_t ngroups;
	} iommu;
	struct {
		char *vendor, *product, *serial, *uuid, *bios_vendor, *bios_version;
		char *boot;                  /* "uefi" or "bios" */
	} dmi;
	char *guests_source;             /* "libvirt", "proc", NULL when not looked at */
	struct kf_f_guest *guests;
	size_t nguests;
	char **notes;                    /* what could not be read, for people */
	size_t nnotes;
};

/* Sets every number to unknown and every list empty. */
void kf_facts_init(struct kf_facts *f);
void kf_facts_release(struct kf_facts *f);
void kf_facts_note(struct kf_facts *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The plain text view, for people. */
void kf_facts_print(const struct kf_facts *f, FILE *out);

/* The JSON document (docs/facts.md); malloc'd, pretty when asked. */
char *kf_facts_json(const struct kf_facts *f, bool pretty);
/* Decodes a JSON document into f (kf_facts_init'd here).  Returns 0, or
 * -EINVAL with "WHAT: why" in e (bad JSON, wrong schema, a field of the
 * wrong type).  Bounds: see KF_FACTS_MAX_*; beyond them -E2BIG. */
#define KF_FACTS_MAX_BYTES (256 * 1024)
#define KF_FACTS_MAX_DEPTH 8
#define KF_FACTS_MAX_ITEMS 4096
int kf_facts_from_json(struct kf_facts *f, const char *json, size_t len, struct kf_err *e);

/* The compact summary of the status column: "2n 16G hp 16M" (NUMA
 * nodes, memory, free hugepage memory; "-" for what is unknown). */
const char *kf_facts_summary(const struct kf_facts *f, char *buf, size_t len);

/* bytes for people: "16G", "7.4G", "512"; "-" when v < 0.  Returns buf
 * (or the constant "-"). */
const char *kf_facts_size(long long v, char *buf, size_t len);

/* The node of id, or NULL. */
const struct kf_f_node *kf_facts_node(const struct kf_facts *f, int id);
/* The NIC whose name or MAC (any case) is ref, or NULL. */
const struct kf_f_nic *kf_facts_nic(const struct kf_facts *f, const char *ref);

struct kf_profile;
/* What profile p asks that facts f say the host cannot give: more
 * hugepages (in all, or on a node) than the memory, a node or CPU that
 * does not exist, a NIC that is not there, SR-IOV VFs over the NIC's
 * totalvfs, passthrough without an IOMMU.  Each is a "warning: ..."
 * message at the profile's FILE:LINE:COL in w, after "host NAME: " when
 * host is given (lib/facts_check.c). */
void kf_facts_check(const struct kf_profile *p, const struct kf_facts *f, const char *host, struct kf_err *w);

#endif
