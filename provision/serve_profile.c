/* The profile served to a host (GET /profile/HOST): its role's profile,
 * plus for a KVM host one `guests:` entry per inventory guest on it.
 *
 * A guest entry is merged from three sources, the first that sets a key
 * wins:
 *   1. the inventory guest: name, mac, vcpus, memory size, disk, and
 *      define: true (so the host defines it, network boot first);
 *   2. an entry of the same name in the KVM host's own profile `guests:`;
 *   3. the guest role's `host_tuning:` (pinning, numatune, memtune,
 *      memory_backing, interfaces, cpu_mode, ...).
 * The result is printed as YAML and loaded back through the profile
 * schema, so what is served always validates.  docs/http.md describes it
 * for users. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision/serve.h"
#include "util.h"

static const struct kf_field *profile_field(const char *key)
{
	for (const struct kf_field *f = kf_profile_schema.fields; f->key; f++)
		if (!strcmp(f->key, key))
			return f;
	return NULL;
}

static size_t field_size(enum kf_type t)
{
	switch (t) {
	case KF_T_BOOL:
	case KF_T_ENUM: return sizeof(int);
	case KF_T_INT:
	case KF_T_SIZE: return sizeof(long long);
	case KF_T_LIST:
	case KF_T_DICT: return sizeof(struct kf_list);
	default: return sizeof(void *);
	}
}

static bool field_set(const struct kf_field *f, const void *p)
{
	switch (f->type) {
	case KF_T_BOOL:
	case KF_T_ENUM: return *(const int *)p >= 0;
	case KF_T_INT:
	case KF_T_SIZE: return *(const long long *)p != KF_UNSET;
	case KF_T_LIST:
	case KF_T_DICT: return ((const struct kf_list *)p)->n > 0;
	default: return *(void *const *)p != NULL;
	}
}

/* Copies into dst every field of schema s that dst leaves unset and src
 * sets (shallow: nested structs and lists are shared). */
static void merge_unset(const struct kf_schema *s, void *dst, const void *src)
{
	if (!src)
		return;
	for (const struct kf_field *f = s->fields; f->key; f++) {
		char *d = (char *)dst + f->off;
		const char *v = (const char *)src + f->off;
		if (!field_set(f, d) && field_set(f, v))
			memcpy(d, v, field_size(f->type));
	}
}

/* An all-unset struct of schema s. */
static void *new_unset(struct kf_arena *a, const struct kf_schema *s)
{
	void *o = kf_arena_alloc(a, s->size);
	for (const struct kf_field *f = s->fields; f->key; f++) {
		char *d = (char *)o + f->off;
		switch (f->type) {
		case KF_T_BOOL:
		case KF_T_ENUM: *(int *)d = -1; break;
		case KF_T_INT:
		case KF_T_SIZE: *(long long *)d = KF_UNSET; break;
		default: break; /* zeroed: NULL, empty list */
		}
	}
	return o;
}

static const struct kf_p_guest *find_guest(const struct kf_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct kf_p_guest *g = KF_LIST_AT(*l, struct kf_p_guest, i);
		if (g->name && !strcmp(g->name, name))
			return g;
	}
	return NULL;
}

static struct kf_p_guest *compose_guest(struct kf_arena *a, const struct kf_schema *gs,
					const struct kf_inventory *inv, const struct kf_i_guest *ig,
					const struct kf_p_guest *explicit_entry)
{
	struct kf_p_guest *g = new_unset(a, gs);
	const struct kf_profile *rp = kf_inventory_role_profile(inv, ig->role);
	const struct kf_p_guest *tuning = rp ? rp->host_tuning : NULL;
	g->name = ig->name;
	g->mac = ig->mac;
	if (ig->disk != KF_UNSET)
		g->disk = ig->disk;
	g->define = 1;
	/* vCPUs: the inventory's count is what runs; a larger max from the
	 * tuning stays for hotplug */
	const struct kf_p_vcpus *tv = explicit_entry && explicit_entry->vcpus ? explicit_entry->vcpus
				      : tuning				   ? tuning->vcpus
									   : NULL;
	struct kf_p_vcpus *v = kf_arena_alloc(a, sizeof(*v));
	v->current = ig->vcpus;
	v->max = tv && tv->max != KF_UNSET && tv->max > ig->vcpus ? tv->max : ig->vcpus;
	g->vcpus = v;
	/* memory: the inventory's size, balloon settings from the tuning */
	const struct kf_p_gmemory *tm = explicit_entry && explicit_entry->memory
						? explicit_entry->memory
					: tuning ? tuning->memory
						 : NULL;
	struct kf_p_gmemory *m = kf_arena_alloc(a, sizeof(*m));
	m->current = KF_UNSET;
	m->balloon = -1;
	m->stats_period = KF_UNSET;
	if (tm)
		*m = *tm;
	m->size = ig->memory;
	if (m->current != KF_UNSET && m->current > m->size)
		m->current = KF_UNSET;
	g->memory = m;
	merge_unset(gs, g, explicit_entry);
	merge_unset(gs, g, tuning);
	if (g->start < 0)
		g->start = 1;
	return g;
}

static int print_and_check(const struct kf_profile *p, const char *host, char **yaml,
			   struct kf_err *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		kf_die_oom();
	fprintf(f, "# kickfleet: profile of %s (role %s), composed by the provisioner\n", host,
		p->role ? p->role : "?");
	kf_profile_print(p, f);
	fclose(f);
	char *name = kf_xasprintf("profile of %s", host);
	struct kf_profile *check = NULL;
	int r = kf_profile_load_buf(&check, name, buf, len, e);
	kf_profile_free(check);
	free(name);
	if (r < 0) {
		free(buf);
		return r;
	}
	*yaml = buf;
	return 0;
}

int kf_serve_compose_profile(const struct kf_inventory *inv, const char *host,
			     const char *report_url, char **yaml, struct kf_err *e)
{
	*yaml = NULL;
	const char *role = NULL;
	bool is_host = false;
	const struct kf_i_host *h = kf_inventory_host(inv, host);
	if (h) {
		role = h->role;
		is_host = true;
	} else {
		for (size_t i = 0; i < inv->guests.n && !role; i++) {
			const struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
			if (!strcmp(g->name, host))
				role = g->role;
		}
	}
	if (!role)
		return -ENOENT;
	const struct kf_profile *rp = kf_inventory_role_profile(inv, role);
	if (!rp)
		return -ENOENT;

	struct kf_arena a = { 0 };
	struct kf_profile p = *rp;
	p.host_tuning = NULL; /* for the hosts of this role's guests, not for it */
	if (!p.role)
		p.role = role;
	const struct kf_field *af = profile_field("agent");
	if (report_url && (!rp->agent || !rp->agent->report) && af) {
		struct kf_p_agent *ag = new_unset(&a, af->sub);
		if (rp->agent)
			*ag = *rp->agent;
		ag->report = report_url;
		p.agent = ag;
	}
	const struct kf_field *gf = profile_field("guests");
	size_t nguests = 0;
	for (size_t i = 0; is_host && i < inv->guests.n; i++)
		nguests += !strcmp(KF_LIST_AT(inv->guests, struct kf_i_guest, i)->host, host);
	if (nguests && gf) {
		const struct kf_schema *gs = gf->sub;
		/* the profile's own entries first (those not in the inventory
		 * stay as they are), then the inventory's guests in order */
		struct kf_p_guest *v = kf_arena_alloc(&a, (rp->guests.n + nguests) * gs->size);
		size_t n = 0;
		for (size_t i = 0; i < rp->guests.n; i++) {
			const struct kf_p_guest *pg = KF_LIST_AT(rp->guests, struct kf_p_guest, i);
			bool in_inv = false;
			for (size_t j = 0; j < inv->guests.n && !in_inv; j++) {
				const struct kf_i_guest *ig = KF_LIST_AT(inv->guests, struct kf_i_guest, j);
				in_inv = !strcmp(ig->host, host) && !strcmp(ig->name, pg->name);
			}
			if (!in_inv)
				v[n++] = *pg;
		}
		for (size_t j = 0; j < inv->guests.n; j++) {
			const struct kf_i_guest *ig = KF_LIST_AT(inv->guests, struct kf_i_guest, j);
			if (strcmp(ig->host, host))
				continue;
			v[n++] = *compose_guest(&a, gs, inv, ig, find_guest(&rp->guests, ig->name));
		}
		p.guests.v = v;
		p.guests.n = n;
	}
	int r = print_and_check(&p, host, yaml, e);
	kf_arena_release(&a);
	return r;
}
