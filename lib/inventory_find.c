/* Looking hosts and guests up in a loaded inventory by MAC or name
 * (lib/inventory.h). */
#include <string.h>
#include <strings.h>

#include "inventory.h"

const void *kf_inventory_find(const struct kf_inventory *inv, const char *mac, const char *name,
			      const char **owner)
{
	for (size_t i = 0; i < inv->hosts.n; i++) {
		const struct kf_i_host *h = KF_LIST_AT(inv->hosts, struct kf_i_host, i);
		const char *m[KF_MAX_MACS];
		size_t n = kf_host_macs(h, m, KF_MAX_MACS);
		bool hit = name && h->name && !strcmp(h->name, name);
		for (size_t k = 0; !hit && mac && k < n; k++)
			hit = !strcasecmp(m[k], mac);
		if (hit) {
			*owner = h->name;
			return h;
		}
	}
	for (size_t i = 0; i < inv->guests.n; i++) {
		const struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
		if ((name && g->name && !strcmp(g->name, name)) || (mac && g->mac && !strcasecmp(g->mac, mac))) {
			*owner = g->name;
			return g;
		}
	}
	*owner = NULL;
	return NULL;
}
