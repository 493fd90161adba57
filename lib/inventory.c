/* Inventory schema tables, cross-checks and loading. */
#include "inventory.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "types.h"
#include "util.h"
#include "yamldoc.h"

#define FLD(S, k, t, m, ...) { .key = k, .type = t, .off = offsetof(S, m), __VA_ARGS__ }
#define END { 0 }
#define SCHEMA(var, nm, S, ...) \
	static const struct kf_schema var = { .name = nm, .size = sizeof(S), __VA_ARGS__ }
#define TiB (1LL << 40)

static const char *const dhcp_modes[] = { "range", "static", "proxy", NULL };
static const char *const unknown_modes[] = { "localboot", "discovery", "ignore", NULL };
static const char *const families[] = { "kickstart", "preseed", NULL };
static const char *const firmwares[] = { "bios", "uefi", "auto", NULL };
static const char *const installed_boots[] = { "localboot", "ignore", NULL };

#define S struct kf_i_var
static const struct kf_field var_fields[] = {
	FLD(S, "key", KF_T_STR, key, .doc = "variable name"),
	FLD(S, "value", KF_T_STR, value, .doc = "value"),
	END
};
#undef S
SCHEMA(var_schema, "vars", struct kf_i_var, .fields = var_fields, .shorthand = "value");

static void check_dhcp(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_i_dhcp *d = obj;
	if (d->mode == KF_DHCP_RANGE && d->range.n != 2)
		kf_errf(e, kf_mark_of(d, "range"), "dhcp: mode range needs range: [FIRST, LAST]");
	if (d->mode != KF_DHCP_RANGE && d->range.n && d->mode != KF_DHCP_STATIC)
		kf_errf(e, kf_mark_of(d, "range"), "dhcp: range is used with mode range only");
	if (d->range.n == 2) {
		uint32_t a, b;
		kf_ipv4_parse(KF_LIST_STR(d->range, 0), &a);
		kf_ipv4_parse(KF_LIST_STR(d->range, 1), &b);
		if (a > b)
			kf_errf(e, kf_mark_of(d, "range"), "dhcp: range starts after it ends");
	}
}

#define S struct kf_i_dhcp
static const struct kf_field dhcp_fields[] = {
	FLD(S, "mode", KF_T_ENUM, mode, .enumv = dhcp_modes, .def = "range",
	    .doc = "range hands out a pool, static only reservations, proxy runs beside another DHCP server"),
	FLD(S, "range", KF_T_LIST, range, .elem = KF_T_IPV4, .doc = "first and last address of the pool"),
	FLD(S, "known_hosts_only", KF_T_BOOL, known_hosts_only, .def = "true",
	    .doc = "answer only MACs in the inventory"),
	FLD(S, "lease_time", KF_T_INT, lease_time, .min = 120, .max = 31536000, .def = "3600",
	    .doc = "lease time in seconds"),
	FLD(S, "dns", KF_T_IPV4, dns, .doc = "DNS server handed out (the Debian installer needs one)"),
	FLD(S, "router", KF_T_IPV4, router, .doc = "default gateway handed out"),
	END
};
#undef S
const struct kf_schema kf_dhcp_section_schema = { .name = "dhcp", .size = sizeof(struct kf_i_dhcp),
						  .fields = dhcp_fields, .check = check_dhcp };

#define S struct kf_i_provisioner
static const struct kf_field prov_fields[] = {
	FLD(S, "interface", KF_T_IFACE, interface, .flags = KF_F_REQUIRED,
	    .doc = "interface dnsmasq serves DHCP on"),
	FLD(S, "address", KF_T_IPV4, address, .flags = KF_F_REQUIRED,
	    .doc = "the provisioner's address on that interface"),
	FLD(S, "subnet", KF_T_CIDR, subnet, .flags = KF_F_REQUIRED, .doc = "the install network"),
	FLD(S, "dhcp", KF_T_STRUCT, dhcp, .sub = &kf_dhcp_section_schema, .doc = "DHCP settings"),
	FLD(S, "http_port", KF_T_INT, http_port, .min = 1, .max = 65535, .def = "8080",
	    .doc = "port of kickfleet serve"),
	FLD(S, "state_dir", KF_T_STR, state_dir, .def = "/var/lib/kickfleet",
	    .doc = "state database and rendered files"),
	FLD(S, "tftp_root", KF_T_STR, tftp_root, .def = "/var/lib/kickfleet/tftp",
	    .doc = "root of the TFTP tree"),
	FLD(S, "http_root", KF_T_STR, http_root, .def = "/var/lib/kickfleet/http",
	    .doc = "root of the rendered HTTP tree"),
	FLD(S, "unknown_hosts", KF_T_ENUM, unknown_hosts, .enumv = unknown_modes, .def = "localboot",
	    .doc = "what a MAC not in the inventory gets"),
	FLD(S, "installed_boot", KF_T_ENUM, installed_boot, .enumv = installed_boots,
	    .def = "localboot", .doc = "what DHCP tells an installed host: a local-boot config, or nothing"),
	FLD(S, "url", KF_T_STR, url, .doc = "base URL clients use (default http://ADDRESS:HTTP_PORT)"),
	FLD(S, "token_ttl", KF_T_INT, token_ttl, .min = 0, .max = 1LL << 40, .def = "0",
	    .doc = "seconds an agent credential stays valid after kickfleet token rotate while its agent has not picked up the new one (0: until it does)"),
	FLD(S, "bind_install_ip", KF_T_BOOL, bind_install_ip, .def = "false",
	    .doc = "accept a host's install requests (kickstart, install callbacks) only from its inventory ip, "
		   "when it has one"),
	FLD(S, "ipv6_prefix", KF_T_STR, ipv6_prefix,
	    .doc = "IPv6 ULA prefix (fd00:250::/64) dnsmasq announces with router advertisements only, "
		   "so that iPXE does not wait for one"),
	FLD(S, "tls", KF_T_STRUCT, tls, .sub = &kf_tls_section_schema,
	    .doc = "serve's HTTPS listener beside the plain one: certificate and key files (docs/http.md, TLS)"),
	FLD(S, "user", KF_T_STR, user,
	    .doc = "user serve and up switch to after binding (default kickfleet when it exists; "
		   "root: stay root; docs/security.md)"),
	FLD(S, "segment", KF_T_STR, segment,
	    .doc = "name of this network as a segment, for hosts' segment: (default \"default\")"),
	FLD(S, "standby", KF_T_STRUCT, standby, .sub = &kf_standby_schema,
	    .doc = "a second provisioner of this network: its address and its half of the pool (docs/scale.md)"),
	FLD(S, "segments", KF_T_DICT, segments, .sub = &kf_segment_schema,
	    .doc = "more install networks, one provisioner each (kickfleet up --segment NAME, docs/scale.md)"),
	END
};
#undef S
SCHEMA(prov_schema, "provisioner", struct kf_i_provisioner, .fields = prov_fields);

#define S struct kf_i_distro
static const struct kf_field distro_fields[] = {
	FLD(S, "name", KF_T_STR, name, .doc = "distro name"),
	FLD(S, "family", KF_T_ENUM, family, .enumv = families, .def = "kickstart",
	    .doc = "installer family: kickstart (Anaconda) or preseed (Debian installer)"),
	FLD(S, "kernel", KF_T_STR, kernel, .flags = KF_F_REQUIRED, .doc = "installer kernel (path on the provisioner)"),
	FLD(S, "initrd", KF_T_STR, initrd, .flags = KF_F_REQUIRED, .doc = "installer initrd"),
	FLD(S, "tree", KF_T_STR, tree, .doc = "install tree URL (the kickstart's url)"),
	FLD(S, "kernel_args", KF_T_STR, kernel_args, .doc = "extra installer kernel arguments"),
	FLD(S, "kernel_sha256", KF_T_STR, kernel_sha256, .doc = "SHA-256 of the kernel (written by distro import)"),
	FLD(S, "initrd_sha256", KF_T_STR, initrd_sha256, .doc = "SHA-256 of the initrd (written by distro import)"),
	FLD(S, "version", KF_T_STR, version, .doc = "release, from the media (written by distro import)"),
	FLD(S, "arch", KF_T_STR, arch, .doc = "architecture, from the media (written by distro import)"),
	FLD(S, "source", KF_T_STR, source, .doc = "the ISO or directory it was imported from"),
	END
};
#undef S
SCHEMA(distro_schema, "distro", struct kf_i_distro, .fields = distro_fields);

#define S struct kf_i_role
static const struct kf_field role_fields[] = {
	FLD(S, "name", KF_T_STR, name, .doc = "role name"),
	FLD(S, "distro", KF_T_STR, distro, .flags = KF_F_REQUIRED, .doc = "distro to install"),
	FLD(S, "kickstart", KF_T_STR, kickstart, .flags = KF_F_REQUIRED, .alias = "template",
	    .doc = "kickstart or preseed template, relative to the fleet file"),
	FLD(S, "profile", KF_T_STR, profile, .doc = "agent profile, relative to the fleet file"),
	FLD(S, "kernel_args", KF_T_STR, kernel_args, .doc = "extra installer kernel arguments"),
	FLD(S, "vars", KF_T_DICT, vars, .sub = &var_schema, .doc = "template variables"),
	END
};
#undef S
SCHEMA(role_schema, "role", struct kf_i_role, .fields = role_fields);

#define S struct kf_i_defaults
static const struct kf_field defaults_fields[] = {
	FLD(S, "root_password_hash", KF_T_STR, root_password_hash,
	    .doc = "crypt(3) hash for root (never a clear-text password)"),
	FLD(S, "console", KF_T_STR, console, .doc = "serial console, e.g. ttyS0,115200"),
	FLD(S, "timezone", KF_T_STR, timezone, .def = "UTC", .doc = "timezone"),
	FLD(S, "kernel_args", KF_T_STR, kernel_args, .doc = "extra kernel arguments for every install"),
	FLD(S, "ssh_keys", KF_T_LIST, ssh_keys, .elem = KF_T_STR, .flags = KF_F_ONE_OR_LIST,
	    .doc = "root's authorized SSH keys"),
	FLD(S, "vars", KF_T_DICT, vars, .sub = &var_schema, .doc = "template variables for every host"),
	FLD(S, "power", KF_T_STRUCT, power, .sub = &kf_power_schema,
	    .doc = "power settings shared by every host (user, password_file, port, interface, cipher_suite)"),
	END
};
#undef S
SCHEMA(defaults_schema, "defaults", struct kf_i_defaults, .fields = defaults_fields);

static void check_host(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct kf_i_host *h = obj;
	const char *macs[KF_MAX_MACS + 1];
	if (!h->mac && !h->macs.n)
		kf_errf(e, kf_mark_of(h, NULL), "host %s: needs mac or macs", h->name);
	else if (kf_host_macs(h, macs, KF_ARRAY_SIZE(macs)) > KF_MAX_MACS)
		kf_errf(e, kf_mark_of(h, "macs"), "host %s: more than %d MACs", h->name, KF_MAX_MACS);
}

#define S struct kf_i_host
static const struct kf_field host_fields[] = {
	FLD(S, "name", KF_T_STR, name, .flags = KF_F_REQUIRED, .doc = "host name"),
	FLD(S, "mac", KF_T_MAC, mac, .doc = "MAC of the NIC it boots from"),
	FLD(S, "macs", KF_T_LIST, macs, .elem = KF_T_MAC, .flags = KF_F_ONE_OR_LIST,
	    .doc = "all its MACs (each may PXE boot)"),
	FLD(S, "ip", KF_T_IPV4, ip, .doc = "reserved address in the install subnet"),
	FLD(S, "role", KF_T_STR, role, .flags = KF_F_REQUIRED, .doc = "role name"),
	FLD(S, "firmware", KF_T_ENUM, firmware, .enumv = firmwares, .def = "auto",
	    .doc = "boot firmware: bios (pxelinux), uefi (GRUB), auto (told apart by DHCP option 93)"),
	FLD(S, "memory", KF_T_SIZE, memory, .min = 1 << 20, .max = 64 * TiB,
	    .doc = "installed RAM, checked against the role's hugepages"),
	FLD(S, "disk", KF_T_STR, disk, .doc = "install disk (template variable)"),
	FLD(S, "netboot", KF_T_BOOL, netboot, .def = "true",
	    .doc = "install from the network on its next boot (false: boot locally)"),
	FLD(S, "vars", KF_T_DICT, vars, .sub = &var_schema, .doc = "template variables"),
	FLD(S, "power", KF_T_STRUCT, power, .sub = &kf_power_schema,
	    .doc = "its BMC, for kickfleet power and reinstall (docs/power.md)"),
	FLD(S, "segment", KF_T_STR, segment,
	    .doc = "install network (provisioner.segments); default: the one whose subnet holds ip"),
	END
};
#undef S
SCHEMA(host_schema, "host", struct kf_i_host, .fields = host_fields, .check = check_host);

#define S struct kf_i_guest
static const struct kf_field guest_fields[] = {
	FLD(S, "name", KF_T_STR, name, .flags = KF_F_REQUIRED, .doc = "guest name (libvirt domain)"),
	FLD(S, "host", KF_T_STR, host, .flags = KF_F_REQUIRED, .doc = "KVM host it runs on"),
	FLD(S, "mac", KF_T_MAC, mac, .flags = KF_F_REQUIRED, .doc = "MAC of its first NIC"),
	FLD(S, "ip", KF_T_IPV4, ip, .doc = "reserved address"),
	FLD(S, "role", KF_T_STR, role, .flags = KF_F_REQUIRED, .doc = "role name"),
	FLD(S, "vcpus", KF_T_INT, vcpus, .min = 1, .max = 4096, .def = "1", .doc = "vCPUs"),
	FLD(S, "memory", KF_T_SIZE, memory, .min = 1 << 20, .max = 64 * TiB, .def = "1G", .doc = "memory"),
	FLD(S, "disk", KF_T_SIZE, disk, .min = 1 << 20, .max = 64 * TiB, .def = "10G", .doc = "disk size"),
	FLD(S, "firmware", KF_T_ENUM, firmware, .enumv = firmwares, .def = "bios", .doc = "guest firmware"),
	FLD(S, "vars", KF_T_DICT, vars, .sub = &var_schema, .doc = "template variables"),
	FLD(S, "power", KF_T_STRUCT, power, .sub = &kf_power_schema,
	    .doc = "power through libvirt on its KVM host (implied; type libvirt, optional uri)"),
	END
};
#undef S
SCHEMA(iguest_schema, "guest", struct kf_i_guest, .fields = guest_fields);

#define S struct kf_inventory
static const struct kf_field inv_fields[] = {
	FLD(S, "provisioner", KF_T_STRUCT, provisioner, .sub = &prov_schema, .flags = KF_F_REQUIRED,
	    .doc = "the provisioner's network and directories"),
	FLD(S, "state", KF_T_STRUCT, state, .sub = &kf_state_section_schema,
	    .doc = "where the provisioner keeps its state: SQLite (default) or PostgreSQL"),
	FLD(S, "distros", KF_T_DICT, distros, .sub = &distro_schema, .doc = "what can be installed"),
	FLD(S, "distros_dir", KF_T_STR, distros_dir,
	    .doc = "directory of distro files, NAME.yaml each (default distros.d beside the fleet file, if it exists)"),
	FLD(S, "roles", KF_T_DICT, roles, .sub = &role_schema, .doc = "roles: distro, template, profile"),
	FLD(S, "defaults", KF_T_STRUCT, defaults, .sub = &defaults_schema, .doc = "settings for every host"),
	FLD(S, "hosts", KF_T_LIST, hosts, .sub = &host_schema, .doc = "physical machines"),
	FLD(S, "guests", KF_T_LIST, guests, .sub = &iguest_schema, .doc = "guests on KVM hosts"),
	END
};
#undef S
const struct kf_schema kf_inventory_schema = { .name = "inventory",
					       .size = sizeof(struct kf_inventory),
					       .fields = inv_fields };

/* ---- lookups ---- */

#define FIND(list, type, field, name)                                  \
	for (size_t i_ = 0; i_ < (list).n; i_++) {                     \
		const type *x_ = KF_LIST_AT(list, type, i_);           \
		if (x_->field && !strcmp(x_->field, name))             \
			return x_;                                     \
	}                                                              \
	return NULL;

const struct kf_i_role *kf_inventory_role(const struct kf_inventory *inv, const char *name)
{
	FIND(inv->roles, struct kf_i_role, name, name)
}

const struct kf_i_distro *kf_inventory_distro(const struct kf_inventory *inv, const char *name)
{
	FIND(inv->distros, struct kf_i_distro, name, name)
}

const struct kf_i_host *kf_inventory_host(const struct kf_inventory *inv, const char *name)
{
	FIND(inv->hosts, struct kf_i_host, name, name)
}

const struct kf_profile *kf_inventory_role_profile(const struct kf_inventory *inv, const char *role)
{
	for (size_t i = 0; i < inv->roles.n; i++)
		if (!strcmp(KF_LIST_AT(inv->roles, struct kf_i_role, i)->name, role))
			return inv->profiles ? inv->profiles[i] : NULL;
	return NULL;
}

#ifndef KF_DATADIR
#define KF_DATADIR "/usr/local/share/kickfleet"
#endif

/* Relative paths resolve against the fleet file's directory first, then
 * the shipped data: $KICKFLEET_DATADIR, the source tree the running binary
 * was built in (build/..), and the installed data directory. */
char *kf_inventory_path(const struct kf_inventory *inv, const char *rel)
{
	if (rel[0] == '/')
		return kf_xstrdup(rel);
	char *first = !inv->dir || !strcmp(inv->dir, ".") ? kf_xstrdup(rel)
							    : kf_xasprintf("%s/%s", inv->dir, rel);
	if (access(first, F_OK) == 0)
		return first;
	const char *env = getenv("KICKFLEET_DATADIR");
	char *self = kf_self_dir();
	char *srcdir = self ? kf_xasprintf("%s/..", self) : NULL;
	free(self);
	const char *dirs[] = { env, srcdir, KF_DATADIR };
	for (size_t i = 0; i < KF_ARRAY_SIZE(dirs); i++) {
		if (!dirs[i])
			continue;
		char *p = kf_xasprintf("%s/%s", dirs[i], rel);
		if (access(p, F_OK) == 0) {
			free(first);
			free(srcdir);
			return p;
		}
		free(p);
	}
	free(srcdir);
	return first;
}

size_t kf_host_macs(const struct kf_i_host *h, const char **out, size_t max)
{
	size_t n = 0;
	if (h->mac && n < max)
		out[n++] = h->mac;
	for (size_t i = 0; i < h->macs.n && n < max; i++) {
		const char *m = KF_LIST_STR(h->macs, i);
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			dup |= !strcmp(out[j], m);
		if (!dup)
			out[n++] = m;
	}
	return n;
}

/* ---- cross-checks ---- */

/* A name, MAC or IP and where it was given: the mark is looked up only for
 * the few that clash (kf_mark_of searches the owner's mapping). */
struct seen {
	const char *key;
	const void *obj;   /* decoded struct holding it */
	const char *field; /* its key in obj's mapping */
	const struct kf_mark *mark; /* NULL until needed */
	const char *owner;
};

struct seenset {
	struct seen *v;
	size_t n, cap;
};

static void seen_add(struct seenset *s, const char *key, const void *obj, const char *field,
		     const char *owner)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = kf_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = (struct seen){ key, obj, field, NULL, owner };
}

static int seen_cmp(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	if (x->mark->line != y->mark->line)
		return x->mark->line < y->mark->line ? -1 : 1;
	return x->mark->col < y->mark->col ? -1 : x->mark->col > y->mark->col;
}

/* Moves the entries whose key is given more than once to the front, in
 * their order, and returns how many there are.  One pass with a hash
 * table: most inventories have none, and need no sort. */
static size_t seen_clashes(struct seenset *s)
{
	size_t cap = 16;
	while (cap < 2 * s->n)
		cap *= 2;
	size_t *slot = kf_xcalloc(cap, sizeof(*slot)); /* first index + 1 */
	bool *dup = kf_xcalloc(s->n + 1, sizeof(*dup));
	size_t ndup = 0;
	for (size_t i = 0; i < s->n; i++) {
		size_t j = kf_str_hash(s->v[i].key) & (cap - 1);
		for (; slot[j]; j = (j + 1) & (cap - 1))
			if (!strcmp(s->v[slot[j] - 1].key, s->v[i].key))
				break;
		if (!slot[j]) {
			slot[j] = i + 1;
			continue;
		}
		ndup += !dup[slot[j] - 1] + 1;
		dup[slot[j] - 1] = dup[i] = true;
	}
	size_t k = 0;
	for (size_t i = 0; i < s->n && k < ndup; i++)
		if (dup[i])
			s->v[k++] = s->v[i];
	free(slot);
	free(dup);
	return ndup;
}

static void seen_report(struct seenset *s, const char *what, struct kf_err *e)
{
	size_t n = s->n ? seen_clashes(s) : 0;
	for (size_t i = 0; i < n; i++)
		s->v[i].mark = kf_mark_of(s->v[i].obj, s->v[i].field);
	if (n)
		qsort(s->v, n, sizeof(*s->v), seen_cmp);
	for (size_t i = 1; i < n; i++) {
		size_t first = i - 1;
		while (first > 0 && !strcmp(s->v[first - 1].key, s->v[i].key))
			first--;
		if (strcmp(s->v[i].key, s->v[first].key))
			continue;
		if (!strcmp(s->v[first].owner, s->v[i].key))
			kf_errf(e, s->v[i].mark, "%s %s is used twice (first at line %d)", what,
				s->v[i].key, s->v[first].mark->line);
		else
			kf_errf(e, s->v[i].mark, "%s %s is used twice (first by %s at line %d)", what,
				s->v[i].key, s->v[first].owner, s->v[first].mark->line);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static void check_addresses(struct kf_inventory *inv, struct kf_err *e)
{
	struct kf_i_provisioner *p = inv->provisioner;
	uint32_t net, a;
	int prefix;
	if (kf_cidr_parse(p->subnet, &net, &prefix) < 0)
		return;
	kf_ipv4_parse(p->address, &a);
	if (!kf_ipv4_in(a, net, prefix))
		kf_errf(e, kf_mark_of(p, "address"), "provisioner address %s is outside subnet %s",
			p->address, p->subnet);
	if (p->dhcp)
		for (size_t i = 0; i < p->dhcp->range.n; i++) {
			kf_ipv4_parse(KF_LIST_STR(p->dhcp->range, i), &a);
			if (!kf_ipv4_in(a, net, prefix))
				kf_errf(e, kf_mark_of(p->dhcp, "range"),
					"dhcp range address %s is outside subnet %s",
					KF_LIST_STR(p->dhcp->range, i), p->subnet);
		}

	struct seenset names = { 0 }, macs = { 0 }, ips = { 0 };
	seen_add(&ips, p->address, p, "address", "the provisioner");
	if (p->standby && p->standby->address)
		seen_add(&ips, p->standby->address, p->standby, "address", "the standby");
	for (size_t i = 0; i < p->segments.n; i++) {
		const struct kf_i_segment *sg = KF_LIST_AT(p->segments, struct kf_i_segment, i);
		if (sg->address)
			seen_add(&ips, sg->address, sg, "address", sg->name);
		if (sg->standby && sg->standby->address)
			seen_add(&ips, sg->standby->address, sg->standby, "address", sg->name);
	}
	for (size_t i = 0; i < inv->hosts.n; i++) {
		struct kf_i_host *h = KF_LIST_AT(inv->hosts, struct kf_i_host, i);
		seen_add(&names, h->name, h, "name", h->name);
		if (h->mac)
			seen_add(&macs, h->mac, h, "mac", h->name);
		for (size_t j = 0; j < h->macs.n; j++)
			if (!h->mac || strcmp(h->mac, KF_LIST_STR(h->macs, j)))
				seen_add(&macs, KF_LIST_STR(h->macs, j), h, "macs", h->name);
		if (h->ip) {
			seen_add(&ips, h->ip, h, "ip", h->name);
			kf_ipv4_parse(h->ip, &a);
			if (!p->segments.n && !kf_ipv4_in(a, net, prefix))
				kf_errf(e, kf_mark_of(h, "ip"), "host %s: ip %s is outside subnet %s",
					h->name, h->ip, p->subnet);
		}
	}
	for (size_t i = 0; i < inv->guests.n; i++) {
		struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
		seen_add(&names, g->name, g, "name", g->name);
		seen_add(&macs, g->mac, g, "mac", g->name);
		if (g->ip) {
			seen_add(&ips, g->ip, g, "ip", g->name);
			kf_ipv4_parse(g->ip, &a);
			if (!p->segments.n && !kf_ipv4_in(a, net, prefix))
				kf_errf(e, kf_mark_of(g, "ip"), "guest %s: ip %s is outside subnet %s",
					g->name, g->ip, p->subnet);
		}
	}
	seen_report(&names, "host name", e);
	seen_report(&macs, "MAC", e);
	seen_report(&ips, "IP", e);
}

static bool is_kvm_role(const struct kf_inventory *inv, const char *role)
{
	const struct kf_profile *pr = kf_inventory_role_profile(inv, role);
	return pr && (pr->kvm || pr->libvirt);
}

static void check_file(struct kf_inventory *inv, const struct kf_i_role *r, const char *key,
		       const char *rel, struct kf_err *e)
{
	char *path = kf_inventory_path(inv, rel);
	if (access(path, R_OK) < 0)
		kf_errf(e, kf_mark_of(r, key), "role %s: %s file %s: %s", r->name, key, path,
			strerror(errno));
	free(path);
}

static void load_roles(struct kf_inventory *inv, struct kf_err *e)
{
	inv->profiles = kf_arena_alloc(&inv->arena, (inv->roles.n + 1) * sizeof(*inv->profiles));
	for (size_t i = 0; i < inv->roles.n; i++) {
		struct kf_i_role *r = KF_LIST_AT(inv->roles, struct kf_i_role, i);
		if (!kf_inventory_distro(inv, r->distro))
			kf_errf(e, kf_mark_of(r, "distro"), "role %s: unknown distro \"%s\"", r->name,
				r->distro);
		check_file(inv, r, "kickstart", r->kickstart, e);
		if (!r->profile)
			continue;
		char *path = kf_inventory_path(inv, r->profile);
		if (access(path, R_OK) < 0) {
			kf_errf(e, kf_mark_of(r, "profile"), "role %s: profile file %s: %s", r->name, path,
				strerror(errno));
		} else {
			kf_profile_load(&inv->profiles[i], path, e);
		}
		free(path);
	}
}

static void check_refs(struct kf_inventory *inv, struct kf_err *e)
{
	for (size_t i = 0; i < inv->hosts.n; i++) {
		struct kf_i_host *h = KF_LIST_AT(inv->hosts, struct kf_i_host, i);
		if (!kf_inventory_role(inv, h->role)) {
			kf_errf(e, kf_mark_of(h, "role"), "host %s: unknown role \"%s\"", h->name, h->role);
			continue;
		}
		const struct kf_profile *pr = kf_inventory_role_profile(inv, h->role);
		if (pr && h->memory != KF_UNSET) {
			unsigned long long hp = kf_profile_hugepage_bytes(pr);
			if (hp > (unsigned long long)h->memory) {
				char a[32], b[32];
				kf_errf(e, kf_mark_of(h, "memory"),
					"host %s: role %s reserves %s of hugepages but the host has %s", h->name,
					h->role, kf_size_fmt(hp, a, sizeof(a)),
					kf_size_fmt((uint64_t)h->memory, b, sizeof(b)));
			}
		}
	}
	for (size_t i = 0; i < inv->guests.n; i++) {
		struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
		if (!kf_inventory_role(inv, g->role))
			kf_errf(e, kf_mark_of(g, "role"), "guest %s: unknown role \"%s\"", g->name, g->role);
		const struct kf_i_host *h = kf_inventory_host(inv, g->host);
		if (!h)
			kf_errf(e, kf_mark_of(g, "host"), "guest %s: unknown host \"%s\"", g->name, g->host);
		else if (kf_inventory_role(inv, h->role) && !is_kvm_role(inv, h->role))
			kf_errf(e, kf_mark_of(g, "host"),
				"guest %s: host %s is not a KVM host (its role %s has no kvm or libvirt section)",
				g->name, g->host, h->role);
	}
}

/* ---- distros_dir: one distro per file ---- */

char *kf_inventory_distros_dir(const struct kf_inventory *inv, bool want_default)
{
	const char *rel = inv->distros_dir ? inv->distros_dir : "distros.d";
	char *p = rel[0] == '/' || !inv->dir || !strcmp(inv->dir, ".") ? kf_xstrdup(rel)
								  : kf_xasprintf("%s/%s", inv->dir, rel);
	struct stat st;
	if (!inv->distros_dir && !want_default && (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))) {
		free(p);
		return NULL;
	}
	return p;
}

static int yaml_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".yaml");
}

/* Decodes one distros_dir file into *d; its name is the file name. */
static void load_distro_file(struct kf_inventory *inv, const char *path, const char *fname,
			     struct kf_i_distro *d, struct kf_err *e)
{
	struct kf_doc *doc = NULL;
	if (kf_doc_load_file(&doc, path, e) < 0)
		return;
	inv->incdocs[inv->n_incdocs++] = doc;
	char *name = kf_arena_strndup(&inv->arena, fname, strlen(fname) - 5);
	struct kf_mark top = { doc->file, 1, 1 };
	if (!doc->root) {
		kf_errf(e, &top, "empty file, expected the mapping of distro %s", name);
		return;
	}
	const struct kf_i_distro *tmp = kf_schema_decode(&distro_schema, doc->root, &inv->arena, e, NULL);
	*d = *tmp;
	if (d->name && strcmp(d->name, name))
		kf_errf(e, kf_mark_of(d, "name"), "distro name \"%s\" differs from the file name \"%s\"",
			d->name, name);
	d->name = name;
	const struct kf_i_distro *old = kf_inventory_distro(inv, name);
	if (old)
		kf_errf(e, &top, "distro %s is also defined in %s at line %d", name,
			kf_mark_of(old, NULL)->file, kf_mark_of(old, NULL)->line);
}

static void load_distros_dir(struct kf_inventory *inv, struct kf_err *e)
{
	if (inv->distros_dir && !*inv->distros_dir) {
		kf_errf(e, kf_mark_of(inv, "distros_dir"), "distros_dir: empty path");
		return;
	}
	char *dir = kf_inventory_distros_dir(inv, false);
	struct dirent **ents = NULL;
	if (!dir)
		return;
	int n = scandir(dir, &ents, yaml_filter, alphasort);
	if (n < 0) {
		kf_errf(e, kf_mark_of(inv, "distros_dir"), "distros_dir %s: %s", dir, strerror(errno));
		free(dir);
		return;
	}
	size_t have = inv->distros.n, sz = sizeof(struct kf_i_distro);
	struct kf_i_distro *v = kf_arena_alloc(&inv->arena, (have + (size_t)n + 1) * sz);
	if (have)
		memcpy(v, inv->distros.v, have * sz);
	inv->incdocs = kf_xcalloc((size_t)n + 1, sizeof(*inv->incdocs));
	for (int i = 0; i < n; i++) {
		char *path = kf_xasprintf("%s/%s", dir, ents[i]->d_name);
		inv->distros.v = v;
		load_distro_file(inv, path, ents[i]->d_name, &v[inv->distros.n], e);
		if (v[inv->distros.n].name)
			inv->distros.n++;
		free(path);
		free(ents[i]);
	}
	inv->distros.v = v;
	free(ents);
	free(dir);
}

static int finish_load(struct kf_inventory **out, struct kf_doc *doc, const char *path,
		       bool checks, struct kf_err *e)
{
	struct kf_arena arena = { 0 };
	size_t before = e->n;
	*out = NULL;
	if (!doc->root) {
		struct kf_mark m = { doc->file, 1, 1 };
		kf_errf(e, &m, "empty file, expected an inventory mapping");
		kf_doc_free(doc);
		return -EINVAL;
	}
	struct kf_inventory *inv = kf_schema_decode(&kf_inventory_schema, doc->root, &arena, e, NULL);
	inv->arena = arena;
	inv->doc = doc;
	inv->path = kf_arena_strdup(&inv->arena, path);
	char *copy = kf_xstrdup(path);
	inv->dir = kf_arena_strdup(&inv->arena, dirname(copy));
	free(copy);
	if (e->n == before)
		load_distros_dir(inv, e);
	if (e->n == before && checks) {
		load_roles(inv, e);
		check_addresses(inv, e);
		check_refs(inv, e);
		kf_inventory_check_segments(inv, e);
		kf_inventory_check_power(inv, e);
		kf_inventory_check_state(inv, e);
		kf_inventory_check_tls(inv, e);
	}
	if (e->n > before) {
		kf_inventory_free(inv);
		return -EINVAL;
	}
	*out = inv;
	return 0;
}

/* Inventories this big go through the parse cache (lib/yamlcache.h): an
 * edit to one host re-parses that host's lines, not 10,000 hosts. */
#define CACHE_MIN_BYTES (256 * 1024)

static int load(struct kf_inventory **out, const char *path, bool checks, struct kf_err *e)
{
	struct kf_doc *doc = NULL;
	struct stat sb;
	char *cache = NULL;
	enum kf_cache_use use;
	*out = NULL;
	if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= CACHE_MIN_BYTES)
		cache = kf_doc_cache_path(path);
	int r = kf_doc_load_cached(&doc, path, cache, &use, e);
	free(cache);
	if (r < 0)
		return r;
	if ((r = finish_load(out, doc, path, checks, e)) == 0)
		(*out)->cache_use = use;
	return r;
}

int kf_inventory_load(struct kf_inventory **out, const char *path, struct kf_err *e)
{
	return load(out, path, true, e);
}

int kf_inventory_load_shallow(struct kf_inventory **out, const char *path, struct kf_err *e)
{
	return load(out, path, false, e);
}

int kf_inventory_load_buf(struct kf_inventory **out, const char *name, const char *buf, size_t len,
			  struct kf_err *e)
{
	struct kf_doc *doc = NULL;
	*out = NULL;
	int r = kf_doc_load_buf(&doc, name, buf, len, e);
	if (r < 0)
		return r;
	return finish_load(out, doc, name, true, e);
}

void kf_inventory_free(struct kf_inventory *inv)
{
	if (!inv)
		return;
	if (inv->profiles)
		for (size_t i = 0; i < inv->roles.n; i++)
			kf_profile_free(inv->profiles[i]);
	struct kf_doc *doc = inv->doc, **inc = inv->incdocs;
	size_t ninc = inv->n_incdocs;
	struct kf_arena arena = inv->arena;
	kf_arena_release(&arena);
	kf_doc_free(doc);
	for (size_t i = 0; i < ninc; i++)
		kf_doc_free(inc[i]);
	free(inc);
}

void kf_inventory_print(const struct kf_inventory *inv, FILE *f)
{
	kf_schema_print(f, &kf_inventory_schema, inv, 0);
}
