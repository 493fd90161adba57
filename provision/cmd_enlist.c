/* kickfleet enlist MAC --name N --role R [--ip A] [--bmc ADDR[:PORT]
 * [--bmc-user U] [--bmc-password-file F]]: a discovered machine
 * becomes a host of fleet.yaml (edited in place, provision/fleet_edit.h),
 * rendered, and leaves the discovered list (docs/facts.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "provision/cmd.h"
#include "provision/enlist.h"
#include "provision/render.h"
#include "provision/state.h"
#include "util.h"

struct enlist {
	struct kf_enlist in;
	int force, dry;
};

static void usage(FILE *f)
{
	fputs("usage: kickfleet enlist [-f FLEET] [-o DIR] [-n] [--force] MAC --name NAME --role ROLE\n"
	      "                        [--ip ADDRESS] [--bmc ADDRESS[:PORT] [--bmc-user USER]\n"
	      "                        [--bmc-password-file FILE]]\n"
	      "\n"
	      "Adds the machine with MAC, as kickfleet discovered lists it, to FLEET as\n"
	      "host NAME of role ROLE: one entry appended to the hosts: list, in the style\n"
	      "of the entries before it, the rest of the file untouched.  Then renders\n"
	      "its files (a running dnsmasq reads them itself) and forgets the discovered\n"
	      "machine.  Refused, with nothing written, for a MAC or name the inventory\n"
	      "has, an unknown role, an address outside the subnet or taken, a BMC without\n"
	      "a user or password file (here or in defaults: power:) or whose password\n"
	      "file others can read, or a MAC that was not discovered.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --output DIR   the directory given to kickfleet render -o\n"
	      "      --name NAME    host name (letters, digits, '-', '_', '.')\n"
	      "      --role ROLE    one of the inventory's roles\n"
	      "      --ip ADDRESS   reserved address in the install subnet (default: none,\n"
	      "                     the host gets one from the DHCP range)\n"
	      "      --bmc ADDRESS[:PORT]  its BMC (IPMI), written as its power: section\n"
	      "                     (docs/power.md; port default 623)\n"
	      "      --bmc-user USER       the BMC user (default: defaults: power: user)\n"
	      "      --bmc-password-file FILE  the file holding the BMC password, mode 0600,\n"
	      "                     relative to FLEET (default: defaults: power:\n"
	      "                     password_file); the password is never an argument\n"
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
		{ "bmc", required_argument, NULL, 'B' },   { "bmc-user", required_argument, NULL, 'U' },
		{ "bmc-password-file", required_argument, NULL, 'P' },
		{ "dry-run", no_argument, NULL, 'n' },     { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	x->in.fleet = KF_DEFAULT_FLEET;
	while ((c = getopt_long(argc, argv, "f:o:nh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': x->in.fleet = optarg; break;
		case 'o': x->in.outdir = optarg; break;
		case 'N': x->in.name = optarg; break;
		case 'R': x->in.role = optarg; break;
		case 'I': x->in.ip = optarg; break;
		case 'B': x->in.bmc = optarg; break;
		case 'U': x->in.bmc_user = optarg; break;
		case 'P': x->in.bmc_password_file = optarg; break;
		case 'F': x->force = 1; break;
		case 'n': x->dry = 1; break;
		case 'h': usage(stdout); return -2;
		default: usage(stderr); return -1;
		}
	}
	if (argc - optind != 1 || !x->in.name || !x->in.role) {
		usage(stderr);
		return -1;
	}
	return optind;
}

/* Renders the new host and signals dnsmasq. */
static int finish(const struct kf_enlist *x, const struct kf_enlisted *d, struct kf_err *e)
{
	struct kf_render_opts o = { .outdir = x->outdir };
	struct kf_state *st = NULL;
	bool hup = false;
	char *db = kf_render_state_path(d->inv, x->outdir);
	int r = kf_state_exists(db) ? kf_state_open(&st, db, e) : 0;
	free(db);
	if (r == 0)
		r = kf_render_host(d->inv, st, &o, x->name, &hup, e);
	kf_state_close(st);
	if (r < 0)
		return kf_errc(e, r, NULL, "enlist: %s is in %s but not rendered: run kickfleet render",
			       x->name, x->fleet);
	/* a new host only adds files, which dnsmasq reads through inotify:
	 * hup is set only when --force replaced an existing entry's files */
	if (hup && kf_render_signal_dnsmasq(d->inv, o.outdir) > 0)
		printf("%s: dnsmasq signalled\n", x->name);
	printf("%s: enlisted %s at %s:%d, rendered\n", x->name, d->mac, x->fleet, d->line);
	return 0;
}

int cmd_enlist(int argc, char **argv)
{
	struct enlist x = { 0 };
	int i = parse_args(argc, argv, &x);
	if (i < 0)
		return i == -2 ? 0 : 1;
	x.in.mac = argv[i];
	x.in.force = x.force;
	x.in.dry = x.dry;
	struct kf_err e = KF_ERR_INIT;
	struct kf_enlisted d;
	int rc = 1;
	if (kf_enlist(&x.in, NULL, &d, &e) < 0)
		goto out;
	if (x.dry)
		rc = fwrite(d.text, 1, d.len, stdout) != d.len;
	else
		rc = finish(&x.in, &d, &e) < 0;
out:
	if (rc)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	kf_enlisted_release(&d);
	return rc;
}
