/* kf_enlist (provision/enlist.h): the checks, the edit and the write of
 * an enlisting, shared by kickfleet enlist and the API. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/enlist.h"
#include "provision/render.h"
#include "provision/render_int.h"
#include "types.h"
#include "util.h"
#include "yamldoc.h"

/* One enlisting under way. */
struct enlist {
	const struct kf_enlist *in;
	struct kf_new_host h;
	char mac[18];
	char bmc[256]; /* the BMC's address without its port */
	char path[PATH_MAX];
	int lockfd;
	mode_t mode;
	const char *fleet;
	int force;
};

/* Locks the fleet file (flock on the file itself, checked to be the one
 * the path still names after the wait: a writer before us renamed a new
 * one in) and reads it. */
static int lock_read(struct enlist *x, char **buf, size_t *len, struct kf_err *e)
{
	if (!realpath(x->fleet, x->path))
		return kf_errc(e, -errno, NULL, "%s: %s", x->fleet, strerror(errno));
	for (;;) {
		struct stat a, b;
		x->lockfd = open(x->path, O_RDONLY | O_CLOEXEC);
		if (x->lockfd < 0)
			return kf_errc(e, -errno, NULL, "%s: %s", x->path, strerror(errno));
		while (flock(x->lockfd, LOCK_EX) < 0)
			if (errno != EINTR)
				return kf_errc(e, -errno, NULL, "lock %s: %s", x->path, strerror(errno));
		if (fstat(x->lockfd, &a) < 0 || stat(x->path, &b) < 0)
			return kf_errc(e, -errno, NULL, "%s: %s", x->path, strerror(errno));
		if (a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
			x->mode = a.st_mode & 07777;
			break;
		}
		close(x->lockfd);
	}
	int r = kf_read_file(x->path, KF_DOC_MAX_BYTES, buf, len);
	if (r < 0)
		return kf_errc(e, r, NULL, "%s: %s", x->path, strerror(-r));
	return 0;
}

static const char *kind_of(const struct kf_inventory *inv, const void *obj)
{
	const char *lo = inv->hosts.v, *hi = lo + inv->hosts.n * sizeof(struct kf_i_host);
	return (const char *)obj >= lo && (const char *)obj < hi ? "host" : "guest";
}

/* The refusals that need the inventory: MAC or name taken (at the line of
 * the entry that has it), unknown role, bad, outside or taken address. */
static void check_new(const struct kf_inventory *inv, const struct enlist *x, struct kf_err *e)
{
	const char *owner;
	const void *o = kf_inventory_find(inv, x->mac, NULL, &owner);
	if (o) {
		const struct kf_i_host *h = o;
		bool first = strcmp(kind_of(inv, o), "host") || (h->mac && !strcasecmp(h->mac, x->mac));
		kf_errf(e, kf_mark_of(o, first ? "mac" : "macs"), "enlist: MAC %s is %s %s's", x->mac,
			kind_of(inv, o), owner);
	}
	if ((o = kf_inventory_find(inv, NULL, x->h.name, &owner)))
		kf_errf(e, kf_mark_of(o, "name"), "enlist: name %s is taken by a %s", x->h.name, kind_of(inv, o));
	if (kf_item_name_ok(x->h.name) < 0)
		kf_errf(e, NULL, "enlist: name \"%s\" cannot name files and DHCP hosts (letters, digits, "
			"'-', '_', '.'; at most 63)", x->h.name);
	if (!kf_inventory_role(inv, x->h.role)) {
		struct kf_buf b = KF_BUF_INIT;
		for (size_t i = 0; i < inv->roles.n; i++)
			kf_buf_printf(&b, "%s%s", i ? ", " : "", KF_LIST_AT(inv->roles, struct kf_i_role, i)->name);
		kf_errf(e, kf_mark_of(inv, "roles"), "enlist: no role \"%s\" (roles: %s)", x->h.role,
			b.s ? b.s : "none");
		kf_buf_release(&b);
	}
	if (!x->h.ip)
		return;
	uint32_t a, net;
	int prefix;
	const struct kf_i_provisioner *p = inv->provisioner;
	if (kf_ipv4_parse(x->h.ip, &a) < 0) {
		kf_errf(e, NULL, "enlist: ip \"%s\" is not an IPv4 address", x->h.ip);
		return;
	}
	if (kf_cidr_parse(p->subnet, &net, &prefix) == 0 && !kf_ipv4_in(a, net, prefix))
		kf_errf(e, kf_mark_of(p, "subnet"), "enlist: ip %s is outside subnet %s", x->h.ip, p->subnet);
	uint32_t b;
	if (kf_ipv4_parse(p->address, &b) == 0 && a == b)
		kf_errf(e, kf_mark_of(p, "address"), "enlist: ip %s is the provisioner's", x->h.ip);
	for (size_t i = 0; i < inv->hosts.n; i++) {
		const struct kf_i_host *h = KF_LIST_AT(inv->hosts, struct kf_i_host, i);
		if (h->ip && kf_ipv4_parse(h->ip, &b) == 0 && a == b)
			kf_errf(e, kf_mark_of(h, "ip"), "enlist: ip %s is taken by host %s", x->h.ip, h->name);
	}
	for (size_t i = 0; i < inv->guests.n; i++) {
		const struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
		if (g->ip && kf_ipv4_parse(g->ip, &b) == 0 && a == b)
			kf_errf(e, kf_mark_of(g, "ip"), "enlist: ip %s is taken by guest %s", x->h.ip, g->name);
	}
}

/* "ADDRESS[:PORT]" of a BMC into x->h.bmc: an IPv4 address or host name
 * (letters, digits, '.', '-'), a port 1-65535. */
static int parse_bmc(struct enlist *x, struct kf_err *e)
{
	const struct kf_enlist *in = x->in;
	x->h.bmc = (struct kf_new_bmc){ .user = in->bmc_user, .password_file = in->bmc_password_file };
	if (!in->bmc) {
		if (in->bmc_user || in->bmc_password_file)
			return kf_errc(e, -EINVAL, NULL, "enlist: a BMC user or password file without the BMC's address");
		return 0;
	}
	const char *colon = strchr(in->bmc, ':');
	size_t n = colon ? (size_t)(colon - in->bmc) : strlen(in->bmc);
	char *end = NULL;
	long port = colon ? strtol(colon + 1, &end, 10) : 0;
	bool addr_ok = n && n < sizeof(x->bmc) && in->bmc[0] != '-' &&
		       strspn(in->bmc, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == n;
	if (!addr_ok || (colon && (!colon[1] || *end || port < 1 || port > 65535)))
		return kf_errc(e, -EINVAL, NULL,
			       "enlist: BMC \"%s\" is not ADDRESS[:PORT] (an IPv4 address or host name, a port 1-65535)",
			       in->bmc);
	memcpy(x->bmc, in->bmc, n);
	x->bmc[n] = 0;
	x->h.bmc.address = x->bmc;
	x->h.bmc.port = (int)port;
	return 0;
}

/* A BMC needs a user and a password file, here or in defaults: power:;
 * the file must be its owner's only, as check wants it. */
static void check_bmc(const struct kf_inventory *inv, const struct enlist *x, struct kf_err *e)
{
	const struct kf_new_bmc *b = &x->h.bmc;
	const struct kf_i_power *d = inv->defaults ? inv->defaults->power : NULL;
	if (!b->address)
		return;
	if (!b->user && !(d && d->user))
		kf_errf(e, NULL, "enlist: BMC %s: no user (give one, or set user in defaults: power:)", b->address);
	if (!b->password_file && !(d && d->password_file))
		kf_errf(e, NULL, "enlist: BMC %s: no password file (give one, or set password_file in defaults: "
			"power:)", b->address);
	if (b->password_file)
		kf_inventory_check_secret(inv, NULL, NULL, b->password_file, "enlist: BMC password file", e);
}

/* Unless forced: the MAC must be in the discovered list of the state
 * store: st when given, else the inventory's (opened into *own when it
 * exists). */
static int check_discovered(const struct kf_inventory *inv, const struct enlist *x, struct kf_state *st,
			    struct kf_state **own, struct kf_err *e)
{
	char *db = kf_render_state_path(inv, x->in->outdir);
	struct kf_discovered *v = NULL;
	size_t n = 0;
	int r = 0;
	bool found = false;
	if (!st && kf_state_exists(db) && (r = kf_state_open(own, db, e)) < 0)
		goto out;
	if (!st)
		st = *own;
	if (st) {
		if ((r = kf_state_list_discovered(st, &v, &n, e)) < 0)
			goto out;
		for (size_t i = 0; i < n && !found; i++)
			found = !strcmp(v[i].mac, x->mac);
	}
	if (!found && !x->force)
		r = kf_errc(e, -ENOENT, NULL,
			    "enlist: %s was not discovered (not in kickfleet discovered of %s; %s "
			    "enlists it anyway)", x->mac, db, x->in->force_hint ? x->in->force_hint : "--force");
out:
	kf_discovered_free(v, n);
	free(db);
	return r;
}

static bool same_str(const char *want, const char *got)
{
	return want ? got && !strcmp(want, got) : !got;
}

/* The power: section read back is the BMC asked for (or absent). */
static bool same_bmc(const struct kf_new_bmc *b, const struct kf_i_power *p)
{
	if (!b->address)
		return !p;
	return p && same_str(b->address, p->address) && (b->port ? p->port == b->port : p->port <= 0) &&
	       same_str(b->user, p->user) && same_str(b->password_file, p->password_file);
}

/* The edited text must load with every check and hold the new host, last,
 * as asked: otherwise nothing is written. */
static int verify(const struct enlist *x, const struct kf_inventory *old, const char *buf, size_t len,
		  struct kf_inventory **out, struct kf_err *e)
{
	struct kf_err ve = KF_ERR_INIT;
	int r = kf_inventory_load_buf(out, x->fleet, buf, len, &ve);
	const struct kf_i_host *h = NULL;
	if (r == 0 && (*out)->hosts.n == old->hosts.n + 1 && (*out)->guests.n == old->guests.n)
		h = KF_LIST_AT((*out)->hosts, struct kf_i_host, old->hosts.n);
	if (r == 0 && h && !strcmp(h->name, x->h.name) && h->mac && !strcmp(h->mac, x->mac) &&
	    !strcmp(h->role, x->h.role) && (x->h.ip ? h->ip && !strcmp(h->ip, x->h.ip) : !h->ip) &&
	    same_bmc(&x->h.bmc, h->power)) {
		kf_err_release(&ve);
		return 0;
	}
	kf_err_move(e, &ve);
	return kf_errc(e, r < 0 ? r : -EPROTO, NULL,
		       "enlist: %s edited does not read back as %s (nothing written)", x->fleet, x->h.name);
}


void kf_enlisted_release(struct kf_enlisted *d)
{
	if (!d)
		return;
	free(d->text);
	kf_inventory_free(d->inv);
	memset(d, 0, sizeof(*d));
}

/* The checks after the lock: the file validates, the entry is free and
 * discovered, the edit reads back.  The edited text and inventory in d. */
static int check_edit(struct enlist *x, const char *buf, size_t len, struct kf_state *st,
		      struct kf_state **own, struct kf_enlisted *d, struct kf_err *e)
{
	struct kf_inventory *inv = NULL;
	int r = kf_inventory_load_buf(&inv, x->fleet, buf, len, e);
	if (r < 0) {
		r = kf_errc(e, -EINVAL, NULL, "enlist: %s does not validate: fix it first", x->fleet);
		goto out;
	}
	check_new(inv, x, e);
	check_bmc(inv, x, e);
	if (e->n) {
		r = -EINVAL;
		goto out;
	}
	if ((r = check_discovered(inv, x, st, own, e)) < 0)
		goto out;
	if ((r = kf_fleet_add_host(x->fleet, buf, len, &x->h, &d->text, &d->len, e)) < 0 ||
	    (r = verify(x, inv, d->text, d->len, &d->inv, e)) < 0)
		goto out;
	const struct kf_i_host *h = kf_inventory_host(d->inv, x->h.name);
	d->line = h ? h->node->mark.line : 0;
out:
	kf_inventory_free(inv);
	return r;
}

int kf_enlist(const struct kf_enlist *in, struct kf_state *st, struct kf_enlisted *d, struct kf_err *e)
{
	memset(d, 0, sizeof(*d));
	struct enlist x = { .in = in, .lockfd = -1, .fleet = in->fleet, .force = in->force };
	struct kf_state *own = NULL;
	char *buf = NULL;
	size_t len = 0;
	int r;
	x.h = (struct kf_new_host){ .name = in->name, .role = in->role, .ip = in->ip, .mac = x.mac };
	if (!in->mac || kf_mac_norm(in->mac, x.mac) < 0) {
		r = kf_errc(e, -EINVAL, NULL, "enlist: \"%s\" is not a MAC address", in->mac ? in->mac : "");
		goto out;
	}
	memcpy(d->mac, x.mac, sizeof(d->mac));
	if ((r = parse_bmc(&x, e)) < 0)
		goto out;
	if ((r = lock_read(&x, &buf, &len, e)) < 0 || (r = check_edit(&x, buf, len, st, &own, d, e)) < 0 ||
	    in->dry)
		goto out;
	if ((r = kf_write_atomic(x.path, d->text, d->len, x.mode)) < 0) {
		r = kf_errc(e, r, NULL, "enlist: %s: %s", x.path, strerror(-r));
		goto out;
	}
	if (st || own) { /* none yet (forced): nothing was discovered */
		r = kf_state_delete_discovered(st ? st : own, x.mac, e);
		if (r == -ENOENT)
			r = 0;
	}
out:
	if (r < 0)
		kf_enlisted_release(d);
	kf_state_close(own);
	free(buf);
	if (x.lockfd >= 0)
		close(x.lockfd);
	return r;
}
