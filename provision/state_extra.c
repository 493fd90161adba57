/* Server-side helpers over the state store interface (state_extra.h). */
#include "provision/state_extra.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "types.h"
#include "util.h"

/* The inventory's MACs are normalised when it is decoded. */
static int add_one(struct kf_state *st, const char *name, int kind, const char *const *macs,
		   size_t nmacs, const char *role, int netboot, struct kf_err *e)
{
	struct kf_host_rec h = { 0 };
	int r = kf_state_get_host(st, name, &h, NULL);
	kf_host_rec_release(&h);
	if (r == 0)
		return 0;
	if (r != -ENOENT)
		return kf_errc(e, r, NULL, "state: cannot read host \"%s\"", name);
	struct kf_host_rec nh = { .name = (char *)name, .kind = kind, .macs = macs,
				  .nmacs = nmacs, .role = (char *)role, .state = KF_ST_NEW,
				  .state_since = (int64_t)time(NULL), .netboot = netboot };
	if ((r = kf_token_new(nh.token, e)) < 0)
		return r;
	nh.token_gen = 1;
	nh.token_issued = nh.state_since;
	if ((r = kf_state_put_host(st, &nh, e)) < 0)
		return r;
	return 1;
}

int kf_state_sync_inventory(struct kf_state *st, const struct kf_inventory *inv,
			    struct kf_err *e)
{
	int r = kf_state_begin(st, e), added = 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < inv->hosts.n && r >= 0; i++) {
		const struct kf_i_host *h = KF_LIST_AT(inv->hosts, struct kf_i_host, i);
		const char *macs[KF_MAX_MACS];
		size_t n = kf_host_macs(h, macs, KF_MAX_MACS);
		r = add_one(st, h->name, KF_KIND_HOST, macs, n, h->role, h->netboot != 0, e);
		added += r > 0;
	}
	for (size_t i = 0; i < inv->guests.n && r >= 0; i++) {
		const struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
		r = add_one(st, g->name, KF_KIND_GUEST, &g->mac, g->mac != NULL, g->role, 1, e);
		added += r > 0;
	}
	int c = kf_state_end(st, r >= 0, e);
	if (r < 0)
		return r;
	return c < 0 ? c : added;
}

int64_t kf_state_installed_at(struct kf_state *st, const char *host)
{
	struct kf_event *ev = NULL;
	size_t n = 0;
	int64_t t = 0;
	if (kf_state_list_events(st, host, 200, &ev, &n, NULL) < 0)
		return 0;
	for (size_t i = n; i-- > 0;) {
		if (!strcmp(ev[i].what, "state") && ev[i].detail &&
		    strstr(ev[i].detail, "-> installed")) {
			t = ev[i].time;
			break;
		}
	}
	kf_events_free(ev, n);
	return t;
}

int kf_state_netboot(struct kf_state *st, const char *host, int on, struct kf_err *e)
{
	struct kf_host_rec rec = { 0 };
	int r = kf_state_get_host(st, host, &rec, NULL);
	kf_host_rec_release(&rec);
	if (r == -ENOENT)
		return kf_errc(e, r, NULL, "netboot: unknown host \"%s\" (not rendered yet? run kickfleet render)",
			       host);
	if (r < 0)
		return kf_errc(e, r, NULL, "netboot: cannot read host \"%s\": %s", host, strerror(-r));
	r = kf_state_set_netboot(st, host, on, e);
	if (r > 0 && on) {
		int rr = kf_state_rotate_token(st, host, NULL, e);
		if (rr < 0)
			return rr;
	}
	return r;
}
