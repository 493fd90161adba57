/* The inventory's power sections: schema table, cross-checks and the
 * settings of one machine with the defaults applied. */
#include "inventory.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

#define FLD(S, k, t, m, ...) { .key = k, .type = t, .off = offsetof(S, m), __VA_ARGS__ }

#define IPMI_PORT 623
#define IPMI_CIPHER_SUITE 3

static const char *const power_types[] = { "ipmi", "libvirt", NULL };
static const char *const ipmi_ifaces[] = { "lanplus", "lan", NULL };

#define S struct kf_i_power
static const struct kf_field power_fields[] = {
	FLD(S, "type", KF_T_ENUM, type, .enumv = power_types,
	    .doc = "ipmi: the host's BMC; libvirt: the guest's KVM host (default ipmi for hosts, libvirt for guests)"),
	FLD(S, "address", KF_T_STR, address, .doc = "BMC address (IPv4 or host name); per host"),
	FLD(S, "port", KF_T_INT, port, .min = 1, .max = 65535, .doc = "BMC UDP port (default 623)"),
	FLD(S, "user", KF_T_STR, user, .doc = "BMC user"),
	FLD(S, "password_file", KF_T_STR, password_file,
	    .doc = "file holding the BMC password (relative to the fleet file; mode 0600 or stricter)"),
	{ .key = "password", .type = KF_T_STR, .flags = KF_F_REFUSED,
	  .doc = "inline passwords are refused: put the password in a file readable only by its owner "
		 "and give its path as password_file" },
	FLD(S, "interface", KF_T_ENUM, interface, .enumv = ipmi_ifaces,
	    .doc = "lanplus (IPMI 2.0, RMCP+) or lan (IPMI 1.5) (default lanplus)"),
	FLD(S, "cipher_suite", KF_T_INT, cipher_suite, .min = 0, .max = 17,
	    .doc = "RMCP+ cipher suite ID (default 3)"),
	FLD(S, "uri", KF_T_STR, uri,
	    .doc = "libvirt: URI of the guest's KVM host (default qemu+ssh://root@HOST/system)"),
	{ 0 }
};
#undef S
const struct kf_schema kf_power_schema = { .name = "power", .size = sizeof(struct kf_i_power),
					   .fields = power_fields };

char *kf_inventory_secret_path(const struct kf_inventory *inv, const char *rel)
{
	if (rel[0] == '/' || !inv->dir || !strcmp(inv->dir, "."))
		return kf_xstrdup(rel);
	return kf_xasprintf("%s/%s", inv->dir, rel);
}

void kf_inventory_check_secret(const struct kf_inventory *inv, const void *obj, const char *key,
			       const char *rel, const char *what, struct kf_err *e)
{
	char *path = kf_inventory_secret_path(inv, rel);
	const struct kf_mark *m = kf_mark_of(obj, key);
	struct stat st;
	if (stat(path, &st) < 0)
		kf_errf(e, m, "%s %s: %s", what, path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		kf_errf(e, m, "%s %s is not a regular file", what, path);
	else if (st.st_mode & 077)
		kf_errf(e, m, "%s %s is readable by group or others (mode %04o): chmod 600 it", what,
			path, (unsigned)(st.st_mode & 07777));
	free(path);
}

/* A password file must exist, be a regular file and be readable by its
 * owner only: the BMC password would otherwise be any local user's. */
static void check_password_file(const struct kf_inventory *inv, const struct kf_i_power *p,
				const char *who, struct kf_err *e)
{
	if (!p || !p->password_file)
		return;
	char *what = kf_xasprintf("%s: power password_file", who);
	kf_inventory_check_secret(inv, p, "password_file", p->password_file, what, e);
	free(what);
}

static void check_host_power(const struct kf_inventory *inv, const struct kf_i_host *h,
			     struct kf_err *e)
{
	const struct kf_i_power *p = h->power, *d = inv->defaults ? inv->defaults->power : NULL;
	char *who = kf_xasprintf("host %s", h->name);
	check_password_file(inv, p, who, e);
	free(who);
	if (p->type == KF_POWER_LIBVIRT) {
		kf_errf(e, kf_mark_of(p, "type"),
			"host %s: power type libvirt is for guests (a host's power is its BMC: ipmi)",
			h->name);
		return;
	}
	if (!p->address)
		kf_errf(e, kf_mark_of(p, NULL), "host %s: power: missing \"address\" of its BMC", h->name);
	if (!p->user && !(d && d->user))
		kf_errf(e, kf_mark_of(p, NULL), "host %s: power: no \"user\" (here or in defaults: power:)",
			h->name);
	if (!p->password_file && !(d && d->password_file))
		kf_errf(e, kf_mark_of(p, NULL),
			"host %s: power: no \"password_file\" (here or in defaults: power:)", h->name);
	if (p->uri)
		kf_errf(e, kf_mark_of(p, "uri"), "host %s: power: uri is for libvirt (guests)", h->name);
}

static void check_guest_power(const struct kf_i_guest *g, struct kf_err *e)
{
	const struct kf_i_power *p = g->power;
	static const char *const ipmi_only[] = { "address", "port", "user", "password_file",
						 "interface", "cipher_suite" };
	if (p->type == KF_POWER_IPMI) {
		kf_errf(e, kf_mark_of(p, "type"),
			"guest %s: power goes through libvirt on its KVM host (type libvirt)", g->name);
		return;
	}
	for (size_t i = 0; i < KF_ARRAY_SIZE(ipmi_only); i++)
		if (kf_map_get(p->node, ipmi_only[i]))
			kf_errf(e, kf_mark_of(p, ipmi_only[i]), "guest %s: power: %s is for ipmi (hosts)",
				g->name, ipmi_only[i]);
}

void kf_inventory_check_power(struct kf_inventory *inv, struct kf_err *e)
{
	const struct kf_i_power *d = inv->defaults ? inv->defaults->power : NULL;
	if (d) {
		check_password_file(inv, d, "defaults", e);
		if (d->address)
			kf_errf(e, kf_mark_of(d, "address"), "defaults: power: address is per host");
		if (d->uri)
			kf_errf(e, kf_mark_of(d, "uri"), "defaults: power: uri is per guest");
		if (d->type == KF_POWER_LIBVIRT)
			kf_errf(e, kf_mark_of(d, "type"),
				"defaults: power: the defaults are for hosts' BMCs (type ipmi)");
	}
	for (size_t i = 0; i < inv->hosts.n; i++) {
		const struct kf_i_host *h = KF_LIST_AT(inv->hosts, struct kf_i_host, i);
		if (h->power)
			check_host_power(inv, h, e);
	}
	for (size_t i = 0; i < inv->guests.n; i++) {
		const struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
		if (g->power)
			check_guest_power(g, e);
	}
}

static const struct kf_i_guest *find_guest(const struct kf_inventory *inv, const char *name)
{
	for (size_t i = 0; i < inv->guests.n; i++) {
		const struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
		if (!strcmp(g->name, name))
			return g;
	}
	return NULL;
}

static void resolve_ipmi(const struct kf_inventory *inv, const struct kf_i_power *p,
			 struct kf_power_cfg *c)
{
	const struct kf_i_power *d = inv->defaults ? inv->defaults->power : NULL;
	const char *pwf = p->password_file ? p->password_file : d ? d->password_file : NULL;
	c->type = KF_POWER_IPMI;
	c->address = p->address;
	c->port = (int)(p->port != KF_UNSET ? p->port : d && d->port != KF_UNSET ? d->port : IPMI_PORT);
	c->user = p->user ? p->user : d ? d->user : NULL;
	c->password_file = pwf ? kf_inventory_secret_path(inv, pwf) : NULL;
	c->interface = p->interface >= 0 ? p->interface : d && d->interface >= 0 ? d->interface
										   : KF_IPMI_LANPLUS;
	c->cipher_suite = (int)(p->cipher_suite != KF_UNSET ? p->cipher_suite
				: d && d->cipher_suite != KF_UNSET ? d->cipher_suite
								   : IPMI_CIPHER_SUITE);
}

int kf_power_resolve(const struct kf_inventory *inv, const char *name, struct kf_power_cfg *out,
		     struct kf_err *e)
{
	memset(out, 0, sizeof(*out));
	const struct kf_i_host *h = kf_inventory_host(inv, name);
	if (h) {
		out->name = h->name;
		if (!h->power)
			return kf_errc(e, -ENODEV, NULL,
				       "%s: no power control (give the host a power: section with its BMC)",
				       name);
		resolve_ipmi(inv, h->power, out);
		out->firmware = h->firmware;
		return 0;
	}
	const struct kf_i_guest *g = find_guest(inv, name);
	if (!g)
		return kf_errc(e, -ENOENT, NULL, "%s: not a host or guest of %s", name, inv->path);
	const struct kf_i_host *kh = kf_inventory_host(inv, g->host);
	out->name = g->name;
	out->type = KF_POWER_LIBVIRT;
	out->uri = g->power ? g->power->uri : NULL;
	out->kvm_host = kh && kh->ip ? kh->ip : g->host;
	out->firmware = g->firmware;
	return 0;
}

void kf_power_cfg_release(struct kf_power_cfg *c)
{
	if (!c)
		return;
	free(c->password_file);
	c->password_file = NULL;
}
