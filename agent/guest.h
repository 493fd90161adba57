/* Resource "guests" (section "guests"): shared between agent/guests.c
 * (parse, probe, apply: the I/O) and agent/guest_diff.c (diff and the
 * auto placement: pure).
 *
 * desired: one gwant per guest entry, the entry as a kf_domcfg (auto
 *          placement unresolved), plus the libvirt connection the
 *          resource opens on first probe and closes in free_desired.
 * actual:  per guest: absent, or its persistent config (inactive XML),
 *          whether it runs, its live values from the API, autostart; and
 *          the host's NUMA nodes with their free memory and hugepages, for
 *          placement auto.
 * changes: each carries a gchange (refcounted resolved wanted state of its
 *          guest, the field, and whether config and/or live need it). */
#ifndef KF_AGENT_GUEST_H
#define KF_AGENT_GUEST_H

#include <stdbool.h>

#include "agent/resource.h"
#include "domxml.h"
#include "virt.h"

struct gwant {
	const struct kf_p_guest *g;
	struct kf_domcfg cfg;
	bool auto_place;
};

struct gsession {
	struct kf_virt *virt;
};

struct gdesired {
	const struct kf_p_libvirt *lv; /* may be NULL */
	const char *uri;
	struct gwant *v;
	size_t n;
	struct gsession *sess; /* mutable through const desired */
};

struct gnode {
	int id;
	char *cpus;                   /* normalised cpulist */
	unsigned long long free_mem;  /* bytes */
	unsigned long long free_hp;   /* free bytes of the page size some guest wants */
	unsigned long long hp_size;   /* that page size, 0 none */
};

struct ghave {
	bool exists, running;
	struct kf_domcfg cfg; /* inactive XML */
	bool have_live;
	struct kf_vlive live;
	bool have_live_cfg;
	struct kf_domcfg live_cfg;   /* a running guest's live XML: what it runs with now */
	long long live_stats_period; /* from the live XML, KF_UNSET unknown */
	int autostart;               /* -1 not read */
};

struct gactual {
	struct ghave *v; /* parallel to gdesired.v */
	size_t n;
	struct gnode *nodes;
	size_t nnodes;
};

/* The wanted state of one guest, shared by its changes. */
struct gres {
	int refs;
	const struct kf_p_guest *g;
	const struct kf_p_libvirt *lv;
	struct kf_domcfg want; /* resolved: auto placement filled in */
};

enum gkind { GK_FIELD, GK_DEFINE, GK_AUTOSTART, GK_RESTART };

struct gchange {
	struct gres *res;
	enum gkind kind;
	enum kf_domfield field;
	size_t idx;
	bool config, live; /* what apply writes */
};

extern const char kf_guests_name[]; /* "guests" */

int kf_guests_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan);

/* Placement auto (pure): the node for a guest: its current node when its
 * config already sits on exactly one (so runs do not move guests), else
 * the node with the most free hugepages of the guest's page size, else
 * the most free memory; lowest id on ties.  -1 without nodes. */
int kf_guest_pick_node(const struct kf_domcfg *want, const struct kf_domcfg *have, const struct gnode *nodes,
		       size_t n);
/* Fills want's pins and numatune from node (vCPUs 0..max-1 and the
 * emulator to its CPUs unless given, numatune nodeset to it). */
void kf_guest_place(struct kf_domcfg *want, const struct kf_domcfg *have, const struct gnode *node);

#endif
