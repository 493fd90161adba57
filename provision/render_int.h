/* Internals shared by provision/render*.c. */
#ifndef KF_PROVISION_RENDER_INT_H
#define KF_PROVISION_RENDER_INT_H

#include <stdbool.h>

#include "arena.h"
#include "inventory.h"
#include "kickstart/template.h"
#include "pxe/boot.h"
#include "util.h"

/* A host or a guest, the same for rendering. */
struct kf_item {
	const char *name;
	int kind; /* enum kf_host_kind */
	const char *macs[KF_MAX_MACS];
	size_t nmacs;
	const char *ip;
	int firmware;
	bool netboot; /* the inventory's flag */
	const struct kf_i_host *host;   /* one of these two */
	const struct kf_i_guest *guest;
	const struct kf_i_role *role;
	const struct kf_i_distro *distro;
	size_t role_idx;
	const struct kf_mark *mark; /* of its name */
};

/* Fills it from the index-th host (index < hosts.n) or guest. */
void kf_item_of(const struct kf_inventory *inv, size_t index, struct kf_item *it);
size_t kf_item_count(const struct kf_inventory *inv);
/* 0 if name is usable as a file name and DHCP host name. */
int kf_item_name_ok(const char *name);

/* BASE of docs/http.md (malloc'd). */
char *kf_render_base_url(const struct kf_inventory *inv);

/* The values a template sees for one item. */
struct kt_obj *kf_render_ctx(struct kf_arena *a, const struct kf_inventory *inv,
			     const struct kf_item *it, const char *token, const char *base);

/* The boot description for one item (mode install or local), or for
 * unknown MACs (it == NULL); strings from a. */
void kf_render_boot(struct kf_arena *a, const struct kf_inventory *inv, const struct kf_item *it,
		    const char *token, const char *base, int mode, struct kf_boot *b);

/* ---- batched atomic writes (render_write.c) ---- */

struct kf_wbatch;
struct kf_wbatch *kf_wbatch_new(bool dry_run);
/* Under the render lock, before the first put: sweeps the temp files a
 * batch killed before its commit left in the directories journal names
 * (and removes it), then keeps b's own directories there until its commit.
 * Returns 1 when it removed any, 0 when none, or a negative errno. */
int kf_wbatch_journal(struct kf_wbatch *b, const char *journal, struct kf_err *e);
/* Writes data to a temp file beside path, unless path already holds
 * exactly data.  Returns 1 if queued, 0 if unchanged, or a negative errno. */
int kf_wbatch_put(struct kf_wbatch *b, const char *path, const char *data, size_t len,
		  mode_t mode, struct kf_err *e);
/* Queues path for removal; 1 if it exists, else 0. */
int kf_wbatch_remove(struct kf_wbatch *b, const char *path);
/* Makes everything durable (syncfs), renames temps into place, removes
 * queued files, fsyncs the directories. */
int kf_wbatch_commit(struct kf_wbatch *b, struct kf_err *e);
/* Files the commit removed (or, dry, would remove): queued ones that no
 * put of the same batch claimed. */
size_t kf_wbatch_removed(const struct kf_wbatch *b);
/* Drops the temps (also after commit: frees). */
void kf_wbatch_free(struct kf_wbatch *b);

#endif
