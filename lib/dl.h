/* Libraries opened at first use (dlopen) instead of linked: a run that does
 * not need one does not load it, and a host without it still runs what
 * does not need it.  Used by the adapters of libcurl (agent/http.c),
 * libvirt (lib/virt.c), libxml2 (lib/domxml.c), libnuma
 * (agent/host_numa.c), libarchive (provision/distro_media.c),
 * libpq (provision/state_pg.c), libmicrohttpd (provision/http.c) and
 * libfreeipmi (provision/ipmi.c); each stays the one file that talks to
 * its library.
 *
 * The adapter lists the functions it calls in an X-macro; KF_DL_TABLE
 * makes of it the table `lib`, each pointer declared with the library
 * header's own prototype (typeof), so a mismatch fails to compile, and the
 * `resolve` callback that fills it.  It calls kf_dl_load at its entry
 * points and the library through the table:
 *
 *	#define FNS(F) F(virConnectOpen) F(virConnectClose)
 *	KF_DL_TABLE(FNS)
 *	static struct kf_dl dl = KF_DL("libvirt.so.0", "libvirt", "cannot manage guests", resolve);
 *	...  if ((r = kf_dl_load(&dl, e)) < 0) return r;  lib.virConnectOpen(uri);
 */
#ifndef KF_DL_H
#define KF_DL_H

#include <dlfcn.h>

#include "err.h"

struct kf_dl {
	const char *soname;     /* "libvirt.so.0": the runtime package's SONAME */
	const char *name;       /* "libvirt", for messages */
	const char *needed_for; /* "cannot manage guests" */
	/* Fills the adapter's table from handle; returns the name of the first
	 * function the library lacks, or NULL. */
	const char *(*resolve)(void *handle);
	int state;              /* 0 not tried, 1 loaded, < 0 failed */
	char *why;              /* the failure's message once it has failed */
};
#define KF_DL(soname, name, needed_for, resolve) { (soname), (name), (needed_for), (resolve), 0, NULL }

/* X-macro helpers for the table: a pointer with f's prototype, and its
 * lookup (returns f's name from the resolve callback when missing). */
#define KF_DL_PTR(f) typeof(f) *f;
#define KF_DL_SYM(table, handle, f)                                      \
	if (!((table).f = (typeof((table).f))dlsym((handle), #f)))       \
		return #f;

/* The table `lib` of the functions FNS lists and its callback `resolve`
 * (static, one per adapter file). */
#define KF_DL_TABLE_SYM(f) KF_DL_SYM(lib, handle, f)
#define KF_DL_TABLE(FNS)                                                 \
	static struct {                                                  \
		FNS(KF_DL_PTR)                                           \
	} lib;                                                           \
	static const char *resolve(void *handle)                         \
	{                                                                \
		FNS(KF_DL_TABLE_SYM)                                     \
		return NULL;                                             \
	}

/* Opens dl's library and fills its table the first time (thread-safe);
 * later calls return at once.  0, or -ELIBACC with "NAME is not installed:
 * NEEDED_FOR (dlerror)" (or "NAME is too old: it has no FUNCTION: ...")
 * added to e (which may be NULL), on every call once it has failed.  The
 * library stays loaded until exit. */
int kf_dl_load(struct kf_dl *dl, struct kf_err *e);

#endif
