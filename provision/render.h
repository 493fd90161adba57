/* kickfleet render: inventory + state -> dnsmasq files, TFTP tree, HTTP
 * tree (see docs/http.md for the layout and docs/render.md for the how).
 *
 * Rendering is incremental: each host's inputs (its entry, role, distro,
 * templates, shared settings, token, netboot flag) are digested and the
 * digest is kept in the state store; only hosts whose digest changed get
 * their files rewritten, files of deleted hosts are removed.  Files go to
 * temp names first and are renamed only when every one of them was written
 * (a crash leaves each file old or new), then the state is committed.  One
 * flock on STATE_DIR/render.lock serialises renders (and the server's
 * one-host re-renders). */
#ifndef KF_PROVISION_RENDER_H
#define KF_PROVISION_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include "err.h"
#include "inventory.h"

struct kf_state;

struct kf_render_opts {
	const char *outdir; /* NULL: the inventory's state_dir, tftp_root, http_root */
	bool dry_run;       /* compute and list, write nothing */
	bool stage;         /* also stage loaders, kernels and the agent's packages (full renders) */
	bool force;         /* re-render every host whatever its digest */
	FILE *log;          /* one line per host changed ("+ name", "~ name", "- name"); NULL: quiet */
	bool verbose;       /* also one line per file written or removed */
};

struct kf_render_stats {
	size_t hosts, added, changed, unchanged, removed;
	size_t written, deleted, staged;
	size_t repo_files;    /* files of the agent's repositories placed (new or changed) */
	bool dnsmasq_changed; /* a dnsmasq file was replaced or removed: SIGHUP */
	bool sighup_sent;
};

/* Renders every host.  Warnings (missing loaders or kernels) go to warn,
 * errors to e; on error nothing is renamed into place and the state is
 * unchanged.  Sends dnsmasq a SIGHUP (once) when its files changed and its
 * pid file names a running dnsmasq.  Returns 0 or a negative errno. */
int kf_render_all(const struct kf_inventory *inv, const struct kf_render_opts *o,
		  struct kf_render_stats *stats, struct kf_err *warn, struct kf_err *e);

/* Re-renders one host's files (for the server after an "installed"
 * callback, and for `kickfleet netboot`).  st may be an open state store
 * (the server's) or NULL to open the inventory's.  Takes the render lock.
 * *need_sighup says whether one of its dnsmasq files was replaced or
 * removed (a new one dnsmasq reads by itself); it does not signal.
 * A host of another segment (kf_inventory_item_here) is left to that
 * segment's provisioners, which hear of the change through the shared
 * store: 0, nothing written.
 * Returns 0, -ENOENT for a name not in the inventory, or a negative errno. */
int kf_render_host(const struct kf_inventory *inv, struct kf_state *st,
		   const struct kf_render_opts *o, const char *name, bool *need_sighup,
		   struct kf_err *e);

/* For `kickfleet check`: renders every host's template in memory and
 * reports undefined variables and escaping problems (FILE:LINE:COL, once
 * per place), bad host names, and kickstart syntax errors in the result. */
int kf_render_check(const struct kf_inventory *inv, struct kf_err *e);

/* The agent's packages that `make packages` built (docs/packages.md): the
 * directory named by $KICKFLEET_PACKAGES, else packages/ beside the running
 * program (build/packages in the source tree), else DATADIR/packages
 * (`make install` copies them there).  A directory counts when it holds
 * rpm/repodata/repomd.xml and deb/Release.  -ENOENT with a message that
 * names the make target when there is none. */
int kf_render_packages_find(char **dir, struct kf_err *e);

/* Puts them under HTTP_ROOT/repo/ (rpm/ and deb/), indexes last, and
 * removes the files a new build no longer has; *placed counts the files
 * that were new or changed.  Nothing for a dry run. */
int kf_render_packages_place(const char *pkgdir, const char *http_root, bool dry_run,
			     size_t *placed, struct kf_err *e);

/* Where the state store of an inventory lives (malloc'd), for
 * kf_state_open: "postgresql:DSN_FILE" when its state: says so, else
 * OUTDIR/state.db or STATE_DIR/state.db. */
char *kf_render_state_path(const struct kf_inventory *inv, const char *outdir);

/* Sends SIGHUP to the dnsmasq whose pid file is in the rendered dnsmasq
 * directory; 1 if sent, 0 if no dnsmasq runs, negative errno. */
int kf_render_signal_dnsmasq(const struct kf_inventory *inv, const char *outdir);

#endif
