/* kickfleet enlist MAC --name N --role R [--ip A]: a discovered machine
 * becomes a host of fleet.yaml (edited in place, provision/fleet_edit.h),
 * rendered, and leaves the discovered list (docs/facts.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inventory.h"
#include "provision/cmd.h"
#include "provision/fleet_edit.h"
#include "provision/render.h"
#include "provision/render_int.h"
#include "provision/state.h"
#include "types.h"
#include "util.h"
#include "yamldoc.h"

struct enlist {
	const char *fleet, *outdir;
	struct kf_new_host h;
	char mac[18];
	int force, dry;
	char path[PATH_MAX];
	int lockfd;
	mode_t mode;
};

static void usage(FILE *f)
{
	fputs("usage: kickfleet enlist [-f FLEET] [-o DIR] [-n] [--force] MAC --name NAME --role ROLE\n"
	      "                        [--ip ADDRESS]\n"
	      "\n"
	      "Adds the machine with MAC, as kickfleet discovered lists it, to FLEET as\n"
	      "host NAME of role ROLE: one entry appended to the hosts: list, in the style\n"
	      "of the entries before it, the rest of the file untouched.  Then renders\n"
	      "its files (signalling a running dnsmasq) and forgets the discovered machine.\n"
	      "Refused, with nothing written, for a MAC or name the inventory has, an\n"
	      "unknown role, an address outside the subnet or taken, or a MAC that was\n"
	      "not discovered.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --output DIR   the directory given to kickfleet render -o\n"
	      "      --name NAME    host name (letters, digits, '-', '_', '.')\n"
	      "      --role ROLE    one of the inventory's roles\n"
	      "      --ip ADDRESS   reserved address in the install subnet (default: none,\n"
	      "                     the host gets one from the DHCP range)\n"
	      "      --force        enlist a MAC that was not discovered\n"
	      "  -n, --dry-run      print the edited inventory, write and render nothing\n"
	      "  -h, --help         this help\n",
	      f);
}

/* Returns optind, -1 on usage errors (printed), -2 after --help. */
static int parse_args(int argc, char **argv, struct enlist *x)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' }, { "output", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'N' },  { "role", required_argument, NULL, 'R' },
		{ "ip", required_argument, NULL, 'I' },    { "force", no_argument, NULL, 'F' },
		{ "dry-run", no_argument, NULL, 'n' },     { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	x->fleet = KF_DEFAULT_FLEET;
	while ((c = getopt_long(argc, argv, "f:o:nh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': x->fleet = optarg; break;
		case 'o': x->outdir = optarg; break;
		case 'N': x->h.name = optarg; break;
		case 'R': x->h.role = optarg; break;
		case 'I': x->h.ip = optarg; break;
		case 'F': x->force = 1; break;
		case 'n': x->dry = 1; break;
		case 'h': usage(stdout); return -2;
		default: usage(stderr); return -1;
		}
	}
	if (argc - optind != 1 || !x->h.name || !x->h.role) {
		usage(stderr);
		return -1;
	}
	return optind;
}

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

/* Unless --force: the MAC must be in the discovered list of the state
 * store (opened into *st, which stays open for the render). */
static int check_discovered(const struct kf_inventory *inv, const struct enlist *x, struct kf_state **st,
			    struct kf_err *e)
{
	char *db = kf_render_state_path(inv, x->outdir);
	struct kf_discovered *v = NULL;
	size_t n = 0;
	int r = 0;
	bool found = false;
	if (kf_state_exists(db)) {
		if ((r = kf_state_open(st, db, e)) < 0 || (r = kf_state_list_discovered(*st, &v, &n, e)) < 0)
			goto out;
		for (size_t i = 0; i < n && !found; i++)
			found = !strcmp(v[i].mac, x->mac);
	}
	if (!found && !x->force)
		r = kf_errc(e, -ENOENT, NULL,
			    "enlist: %s was not discovered (not in kickfleet discovered of %s; --force "
			    "enlists it anyway)", x->mac, db);
out:
	kf_discovered_free(v, n);
	free(db);
	return r;
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
	    !strcmp(h->role, x->h.role) && (x->h.ip ? h->ip && !strcmp(h->ip, x->h.ip) : !h->ip)) {
		kf_err_release(&ve);
		return 0;
	}
	kf_err_move(e, &ve);
	return kf_errc(e, r < 0 ? r : -EPROTO, NULL,
		       "enlist: %s edited does not read back as %s (nothing written)", x->fleet, x->h.name);
}

/* Renders the new host, signals dnsmasq, forgets the discovered MAC. */
static int finish(const struct kf_inventory *inv, const struct enlist *x, struct kf_state *st,
		  struct kf_err *e)
{
	struct kf_render_opts o = { .outdir = x->outdir };
	struct kf_state *own = NULL;
	bool hup = false;
	int r = kf_render_host(inv, st, &o, x->h.name, &hup, e);
	if (r < 0)
		return kf_errc(e, r, NULL, "enlist: %s is in %s but not rendered: run kickfleet render",
			       x->h.name, x->fleet);
	if (!st) { /* --force without a state before: the render made one */
		char *db = kf_render_state_path(inv, x->outdir);
		r = kf_state_open(&own, db, e);
		free(db);
		if (r < 0)
			return r;
		st = own;
	}
	r = kf_state_delete_discovered(st, x->mac, e);
	kf_state_close(own);
	if (r < 0 && r != -ENOENT)
		return r;
	const char *hupmsg = "";
	if (hup)
		hupmsg = kf_render_signal_dnsmasq(inv, x->outdir) > 0 ? "; dnsmasq signalled" : "";
	const struct kf_i_host *h = kf_inventory_host(inv, x->h.name);
	printf("%s: enlisted %s at %s:%d, rendered%s\n", x->h.name, x->mac, x->fleet, h->node->mark.line,
	       hupmsg);
	return 0;
}

int cmd_enlist(int argc, char **argv)
{
	struct enlist x = { .lockfd = -1 };
	int i = parse_args(argc, argv, &x);
	if (i < 0)
		return i == -2 ? 0 : 1;
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL, *neu = NULL;
	struct kf_state *st = NULL;
	char *buf = NULL, *nbuf = NULL;
	size_t len = 0, nlen = 0;
	int rc = 1, r;
	if (kf_mac_norm(argv[i], x.mac) < 0) {
		kf_errf(&e, NULL, "enlist: \"%s\" is not a MAC address", argv[i]);
		goto out;
	}
	x.h.mac = x.mac;
	if (lock_read(&x, &buf, &len, &e) < 0)
		goto out;
	if (kf_inventory_load_buf(&inv, x.fleet, buf, len, &e) < 0) {
		kf_errf(&e, NULL, "enlist: %s does not validate: fix it first", x.fleet);
		goto out;
	}
	check_new(inv, &x, &e);
	if (e.n || check_discovered(inv, &x, &st, &e) < 0)
		goto out;
	if (kf_fleet_add_host(x.fleet, buf, len, &x.h, &nbuf, &nlen, &e) < 0 ||
	    verify(&x, inv, nbuf, nlen, &neu, &e) < 0)
		goto out;
	if (x.dry) {
		fwrite(nbuf, 1, nlen, stdout);
		rc = 0;
		goto out;
	}
	if ((r = kf_write_atomic(x.path, nbuf, nlen, x.mode)) < 0) {
		kf_errf(&e, NULL, "enlist: %s: %s", x.path, strerror(-r));
		goto out;
	}
	rc = finish(neu, &x, st, &e) < 0;
out:
	if (rc)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	kf_state_close(st);
	kf_inventory_free(inv);
	kf_inventory_free(neu);
	free(buf);
	free(nbuf);
	if (x.lockfd >= 0)
		close(x.lockfd);
	return rc;
}
