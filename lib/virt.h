/* The one adapter to libvirt (C API only): connections, domains, live
 * tuning calls, storage pools and the definition of new guests.
 *
 * Every function returns 0 or a negative errno and adds a message to e
 * naming the thing ("libvirt: pin vCPU 1 of \"web01\": ...").  libvirt's
 * error codes map to ours: no such domain/pool/volume -ENOENT, invalid
 * argument or XML -EINVAL, unsupported -EOPNOTSUPP, denied -EACCES,
 * anything else -EIO.  libvirt's own printing to stderr is switched off.
 * Sizes are bytes, CPU and node lists normalised strings. */
#ifndef KF_VIRT_H
#define KF_VIRT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "profile.h"

struct kf_virt;  /* a connection */
struct kf_vdom;  /* a domain handle */

/* Opens uri (NULL or "": qemu:///system).  Pairs with kf_virt_close. */
int kf_virt_open(struct kf_virt **out, const char *uri, struct kf_err *e);
void kf_virt_close(struct kf_virt *v);
const char *kf_virt_uri(const struct kf_virt *v);

/* Looks a domain up by name.  -ENOENT without a message when absent. */
int kf_virt_lookup(struct kf_virt *v, const char *name, struct kf_vdom **out, struct kf_err *e);
void kf_vdom_free(struct kf_vdom *d);
const char *kf_vdom_name(const struct kf_vdom *d);

/* Defines (or redefines) a domain from XML, validated against libvirt's
 * schema.  *out may be NULL when the caller does not need the handle. */
int kf_virt_define(struct kf_virt *v, const char *xml, struct kf_vdom **out, struct kf_err *e);

/* The domain's XML: the persistent config (inactive) or the live one. */
int kf_vdom_xml(struct kf_vdom *d, bool inactive, char **xml, struct kf_err *e);
int kf_vdom_is_running(struct kf_vdom *d, bool *running, struct kf_err *e);
int kf_vdom_get_autostart(struct kf_vdom *d, int *on, struct kf_err *e);
int kf_vdom_set_autostart(struct kf_vdom *d, int on, struct kf_err *e);
int kf_vdom_start(struct kf_vdom *d, struct kf_err *e);
/* Power off at once (virDomainDestroy), and a hard reset of a running
 * domain (virDomainReset), for `kickfleet power`. */
int kf_vdom_destroy(struct kf_vdom *d, struct kf_err *e);
int kf_vdom_reset(struct kf_vdom *d, struct kf_err *e);
/* Shuts down (ACPI), waits up to timeout_s for it to stop, then destroys
 * it; starts it again.  Only for guests whose profile allows it. */
int kf_vdom_restart(struct kf_vdom *d, int timeout_s, struct kf_err *e);

/* Live state of a running domain, from the API (not the XML). */
struct kf_vlive {
	long long vcpus, vcpus_max; /* online and maximum vCPUs */
	size_t nvcpupin;
	char **vcpupin;             /* per vCPU 0..nvcpupin-1 */
	char *emulatorpin;
	size_t niothreads;
	long long *iothread_ids;
	char **iothread_pins;
	long long hard_limit, soft_limit, swap_hard_limit, min_guarantee; /* KF_UNSET: unlimited */
	int numa_mode;              /* enum kf_numa_mode, -1 unknown */
	char *numa_nodes;           /* NULL when libvirt reports none */
	long long balloon;          /* current memory (the balloon target) */
};
/* What kf_vdom_live reads besides the vCPU counts (the rest stays unset;
 * each is one or two calls to libvirtd, a check reads only what it needs). */
enum {
	KF_VLIVE_VCPUPIN = 1 << 0,
	KF_VLIVE_EMULATORPIN = 1 << 1,
	KF_VLIVE_IOTHREADS = 1 << 2,
	KF_VLIVE_MEMTUNE = 1 << 3,
	KF_VLIVE_NUMA = 1 << 4,
	KF_VLIVE_BALLOON = 1 << 5,
	KF_VLIVE_ALL = 0x3f,
};
int kf_vdom_live(struct kf_vdom *d, unsigned what, struct kf_vlive *out, struct kf_err *e);
void kf_vlive_release(struct kf_vlive *l);

/* Names of the running domains (*names and each name malloc'd). */
int kf_virt_running(struct kf_virt *v, char ***names, size_t *n, struct kf_err *e);

/* Where each vCPU of a running domain is (virsh vcpuinfo): the physical
 * CPU it runs or last ran on (-1 when offline) and the CPUs it may use.
 * *out malloc'd, each affinity too. */
struct kf_vcpuinfo {
	int vcpu;
	int cpu;
	char *affinity;
};
int kf_vdom_vcpuinfo(struct kf_vdom *d, struct kf_vcpuinfo **out, size_t *n, struct kf_err *e);

/* Online vCPUs of a running domain. */
int kf_vdom_vcpus_online(struct kf_vdom *d, long long *n, struct kf_err *e);

/* Live-only setters (VIR_DOMAIN_AFFECT_LIVE); the config is written with
 * kf_virt_define. */
int kf_vdom_set_vcpus_live(struct kf_vdom *d, long long n, struct kf_err *e);
int kf_vdom_pin_vcpu_live(struct kf_vdom *d, long long vcpu, const char *cpus, struct kf_err *e);
int kf_vdom_pin_emulator_live(struct kf_vdom *d, const char *cpus, struct kf_err *e);
int kf_vdom_pin_iothread_live(struct kf_vdom *d, long long id, const char *cpus, struct kf_err *e);
/* Sets the limits that are not KF_UNSET. */
int kf_vdom_set_memtune_live(struct kf_vdom *d, long long hard, long long soft, long long swap_hard,
			     long long min_guarantee, struct kf_err *e);
/* Live numatune: libvirt allows the nodeset only (mode is config). */
int kf_vdom_set_numa_nodes_live(struct kf_vdom *d, const char *nodes, struct kf_err *e);
int kf_vdom_set_balloon_live(struct kf_vdom *d, long long bytes, struct kf_err *e);
int kf_vdom_set_stats_period_live(struct kf_vdom *d, long long seconds, struct kf_err *e);

/* The domain type new guests get: "kvm" or "qemu" (TCG). */
const char *kf_virt_domain_type(struct kf_virt *v, int domain_type);

/* Makes sure storage pool `name` exists and runs; creates a directory
 * pool at path (built, started, autostarted) when there is none. */
int kf_virt_pool_ensure(struct kf_virt *v, const char *name, const char *path, struct kf_err *e);
/* Creates volume `vol` (qcow2) of bytes in pool unless it exists; *path
 * gets its file (malloc'd). */
int kf_virt_volume_ensure(struct kf_virt *v, const char *pool, const char *vol, long long bytes,
			  char **path, struct kf_err *e);

/* Defines a new guest from its profile entry, for the agent and for
 * `kickfleet guest install`: network boot first (the first NIC, with the
 * entry's mac), then a disk of g->disk bytes, a volume "NAME.qcow2" in lv's
 * pool (a directory pool is created when the host has none); every tuning
 * field of the entry is written with kf_domxml_set (want is the entry as a
 * kf_domcfg, see lib/domxml.h; NULL: built from g without host facts).
 * Starts it when g->start is not false and sets autostart when given.
 * lv may be NULL (defaults). */
struct kf_domcfg;
int kf_virt_guest_install(struct kf_virt *v, const struct kf_p_libvirt *lv, const struct kf_p_guest *g,
			  const struct kf_domcfg *want, struct kf_err *e);

/* The XML kf_virt_guest_install would define (for tests and --dry-run);
 * the caller frees it. */
int kf_virt_guest_xml(const char *type, const struct kf_p_guest *g, const struct kf_domcfg *want,
		      const char *disk_path, char **xml, struct kf_err *e);

#endif
