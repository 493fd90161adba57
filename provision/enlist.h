/* Enlisting a discovered machine: it becomes a host of fleet.yaml
 * (edited in place, provision/fleet_edit.h) and leaves the discovered
 * list.  kickfleet enlist (cmd_enlist.c) and the API's enlist action
 * (api_actions.c) both call kf_enlist; each renders the new host its own
 * way after it (docs/facts.md, docs/api.md). */
#ifndef KF_PROVISION_ENLIST_H
#define KF_PROVISION_ENLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "inventory.h"
#include "provision/fleet_edit.h"
#include "provision/state.h"

struct kf_enlist {
	const char *fleet;    /* the inventory file, edited */
	const char *outdir;   /* render -o DIR (NULL: none), for the state's path */
	const char *mac;      /* as given: normalised by kf_enlist */
	const char *name, *role, *ip; /* ip may be NULL */
	const char *bmc;      /* ADDRESS[:PORT] of its BMC, or NULL: no power: */
	const char *bmc_user, *bmc_password_file; /* NULL: from defaults: power: */
	bool force;           /* a MAC that was not discovered */
	bool dry;             /* edit and check, write nothing */
	const char *force_hint; /* how to force, for the message ("--force") */
};

struct kf_enlisted {
	char mac[18];          /* normalised */
	char *text;            /* the edited inventory (malloc'd) */
	size_t len;
	struct kf_inventory *inv; /* the edited inventory as loaded (free it) */
	int line;              /* of the new entry */
};

/* Adds x's machine to x->fleet, under the file's lock: checks that the
 * MAC and name are free, the role known, the address free and in the
 * subnet, a BMC's address, port and credentials (its user and password
 * file here or in defaults: power:, the file the owner's only), the MAC
 * discovered (unless force; in st, else in the state of
 * the inventory and outdir when it exists), that the edited text loads
 * with the new host last; writes it (temp + rename, the file's mode) and
 * forgets the discovered MAC.  Nothing is written on any refusal, nor with
 * dry.  Returns 0 with *out filled (kf_enlisted_release), or a negative
 * errno with every reason in e (-EINVAL: bad input or taken, -ENOENT:
 * not discovered, others: the file or the store). */
int kf_enlist(const struct kf_enlist *x, struct kf_state *st, struct kf_enlisted *out, struct kf_err *e);
void kf_enlisted_release(struct kf_enlisted *d);

#endif
