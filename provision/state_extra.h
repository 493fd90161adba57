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

#endif
