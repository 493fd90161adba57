/* libvirt domain XML: the fields kickfleet manages, read and written with
 * libxml2.
 *
 * struct kf_domcfg is both sides of a comparison: kf_domxml_read() fills
 * it from a domain's XML, normalised (sizes in bytes, CPU and node lists as
 * "0-3,8", MACs lower case, PCI addresses 0000:06:00.0), and the agent
 * fills one from a profile's guest entry as the wanted state, where
 * "not managed" is KF_UNSET / NULL / -1 as in lib/schema.h.
 * kf_domxml_set() writes one field of a wanted kf_domcfg into a document
 * and leaves every other element as it was, so libvirt's additions (UUID,
 * PCI addresses, controllers) survive. */
#ifndef KF_DOMXML_H
#define KF_DOMXML_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct kf_dompin {
	long long id; /* vCPU, or iothread (from 1) */
	char *cpus;   /* normalised cpulist */
};

struct kf_dommemnode {
	long long cell;
	int mode; /* enum kf_numa_mode */
	char *nodes;
};

struct kf_domnic {
	int type;        /* enum kf_nic_type, -1 for a kind kickfleet does not manage */
	char *source;    /* bridge, host NIC, network name, or VF PCI address */
	int mode;        /* enum kf_nic_mode for type direct, else -1 */
	int model;       /* enum kf_nic_model, -1 absent or unknown */
	int driver;      /* enum kf_nic_driver, -1 absent */
	long long queues;
	char *mac;       /* NULL: absent (wanted: keep whatever libvirt chose) */
	int boot;        /* boot order, 0 none (only written for new guests) */
	bool ovs;        /* type bridge: <virtualport type='openvswitch'/> (an Open vSwitch bridge) */
};

struct kf_domhostdev {
	char *pci;
	int managed; /* bool */
};

struct kf_domcfg {
	char *name;
	long long vcpu_max, vcpu_current;
	int cpu_mode; /* enum kf_cpu_mode, -1 none or unknown */
	char *cpu_model;
	long long sockets, dies, cores, threads;
	size_t nvcpupin;
	struct kf_dompin *vcpupin;
	char *emulatorpin;
	long long iothreads;
	size_t niothreadpin;
	struct kf_dompin *iothreadpin;
	int numa_mode; /* enum kf_numa_mode, -1 no <numatune><memory> */
	char *numa_nodes;
	size_t nmemnodes;
	struct kf_dommemnode *memnodes;
	long long memory, current_memory; /* bytes */
	int balloon;            /* enum kf_balloon, -1 absent */
	long long stats_period; /* seconds */
	long long hard_limit, soft_limit, swap_hard_limit, min_guarantee; /* bytes */
	long long hugepages;    /* page size in bytes; 0 default size, KF_UNSET none */
	char *hugepage_nodes;
	int nosharepages, locked; /* bools; -1 unmanaged (wanted side only) */
	size_t nnics;
	struct kf_domnic *nics;
	size_t nhostdevs;
	struct kf_domhostdev *hostdevs;
};

/* The fields kf_domxml_set() can write.  idx picks the pin, memnode, NIC
 * or hostdev (an index into the wanted kf_domcfg's array). */
enum kf_domfield {
	KF_DF_VCPUS,       /* vcpu max and current */
	KF_DF_CPU,         /* cpu mode and model */
	KF_DF_TOPOLOGY,
	KF_DF_VCPUPIN,
	KF_DF_EMULATORPIN,
	KF_DF_IOTHREADS,
	KF_DF_IOTHREADPIN,
	KF_DF_NUMATUNE,    /* <numatune><memory> */
	KF_DF_MEMNODE,
	KF_DF_MEMORY,      /* <memory> (maximum) */
	KF_DF_CURMEM,      /* <currentMemory> */
	KF_DF_BALLOON,     /* <memballoon> model and stats period */
	KF_DF_MEMTUNE,     /* every memtune limit the wanted side sets */
	KF_DF_HUGEPAGES,
	KF_DF_NOSHAREPAGES,
	KF_DF_LOCKED,
	KF_DF_NIC,         /* the idx-th <interface> (appended if missing) */
	KF_DF_HOSTDEV,     /* the PCI hostdev wanted->hostdevs[idx] (added if missing) */
};

/* Sets every field to "not given". */
void kf_domcfg_init(struct kf_domcfg *c);
/* Deep copy of src into dst (initialised by this call). */
void kf_domcfg_copy(struct kf_domcfg *dst, const struct kf_domcfg *src);
/* Frees what c owns; c is left initialised. */
void kf_domcfg_release(struct kf_domcfg *c);

struct kf_p_guest;
/* Fills c (initialised here) with what a profile's guest entry manages.
 * Placement auto is not resolved (the agent adds pins and numatune from
 * the host's NUMA facts); g->mac becomes the first NIC's MAC unless that
 * NIC gives its own. */
void kf_domcfg_from_guest(struct kf_domcfg *c, const struct kf_p_guest *g);

struct kf_domxml; /* a parsed domain document */

/* Parses xml (a libvirt <domain>).  Returns 0 with *out set (pairs with
 * kf_domxml_free), or -EINVAL with a message in e. */
int kf_domxml_load(struct kf_domxml **out, const char *xml, struct kf_err *e);
/* A new domain document: name, type ("kvm" or "qemu"), x86_64 hvm; the
 * caller adds the managed fields with kf_domxml_set and a disk. */
int kf_domxml_new(struct kf_domxml **out, const char *name, const char *type, struct kf_err *e);
void kf_domxml_free(struct kf_domxml *x);
/* The document as text; the caller frees it. */
char *kf_domxml_dump(const struct kf_domxml *x);

/* Reads the managed fields of x into c (initialised by this call). */
int kf_domxml_read(const struct kf_domxml *x, struct kf_domcfg *c, struct kf_err *e);
/* Shorthand: load + read + free. */
int kf_domxml_parse(const char *xml, struct kf_domcfg *c, struct kf_err *e);

/* Writes field f (element idx for lists) of want into x.  For KF_DF_NIC,
 * a NIC in x of another type is replaced by a new element (keeping its
 * MAC unless want gives one).  Returns 0 or -EINVAL with a message. */
int kf_domxml_set(struct kf_domxml *x, const struct kf_domcfg *want, enum kf_domfield f, size_t idx,
		  struct kf_err *e);

/* Adds a file-backed virtio disk with a boot order (new guests). */
int kf_domxml_add_disk(struct kf_domxml *x, const char *path, const char *format, int boot,
		       struct kf_err *e);

/* Display helpers for plans: "8G", "0-3", "host-passthrough", "-" when
 * not set.  Return buf. */
const char *kf_domcfg_size_str(long long bytes, char *buf, size_t len);
const char *kf_domnic_str(const struct kf_domnic *n, char *buf, size_t len);

#endif
