/* Additions to the state store used by the server, written on top of the
 * interface in provision/state.h (no SQL here). */
#ifndef KF_PROVISION_STATE_EXTRA_H
#define KF_PROVISION_STATE_EXTRA_H

#include <stdint.h>

#include "inventory.h"
#include "provision/state.h"

/* Registers every host and guest of inv the state does not know yet:
 * state "new", netboot as the inventory says, a fresh token.  Rows that
 * exist are left alone (render owns their updates).  Returns the number
 * added or a negative errno. */
int kf_state_sync_inventory(struct kf_state *st, const struct kf_inventory *inv,
			    struct kf_err *e);

/* When host last entered "installed" (unix time), from the events log;
 * 0 when it never did. */
int64_t kf_state_installed_at(struct kf_state *st, const char *host);

/* `kickfleet netboot HOST on|off` in the store, for the command and the
 * API: the flag; turned on, the host back to "new" and a fresh token (the
 * old one, in an installer's memory, no longer works).  The caller then
 * re-renders the host's boot files.  1 when something changed, 0 when
 * not, -ENOENT for an unknown host (with a message). */
int kf_state_netboot(struct kf_state *st, const char *host, int on, struct kf_err *e);

#endif
