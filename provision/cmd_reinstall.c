/* kickfleet reinstall TARGET...: netboot on, a one-time PXE boot and a
 * power cycle (on when off) for each machine, optionally following the
 * installs to "installed". */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inventory.h"
#include "provision/cmd.h"
#include "provision/power_cli.h"
#include "provision/render.h"
#include "provision/state.h"
#include "provision/state_extra.h"
#include "types.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet reinstall [-f FLEET] [OPTIONS] (HOST... | --role ROLE | --all)\n"
	      "\n"
	      "For each machine: netboot on (state back to \"new\", a fresh token, its boot\n"
	      "files rendered, dnsmasq signalled), a one-time network boot (PXE) through its\n"
	      "BMC, then a power cycle, or power on when it is off.  Guests power cycle\n"
	      "through libvirt.  A machine already booting or installing is left alone\n"
	      "unless --force.\n"
	      "\n"
	      "  -f, --fleet FILE     inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --dir DIR        the tree of `kickfleet render -o DIR`\n"
	      "  -c, --uri URI        libvirt URI for the guests\n"
	      "  -r, --role ROLE      every host and guest of ROLE\n"
	      "  -a, --all            every host with a power: section and every guest\n"
	      "  -w, --wait[=SEC]     follow the installs (the display of status --watch) until\n"
	      "                       each is installed or failed, at most SEC (default 3600)\n"
	      "      --force          cycle machines that are installing too\n"
	      "      --json           the power results as one JSON array\n"
	      "  -j, --jobs N         machines at once (default 32)\n"
	      "  -t, --timeout SEC    per BMC (default 5)\n"
	      "      --retries N      retransmissions within the timeout (default 2)\n"
	      "  -h, --help           this help\n"
	      "\n"
	      "Exit status: 0 when every machine was cycled (and, with --wait, installed);\n"
	      "1 naming those that failed, timed out or could not be cycled.\n",
	      f);
}

struct opts {
	const char *fleet;
	struct kf_power_cli p;
	bool force;
	int wait_s; /* 0: do not wait */
};

/* -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		KF_POWER_CLI_OPTIONS,
		{ "wait", optional_argument, NULL, 'w' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long long x;
	int c, r;
	while ((c = getopt_long(argc, argv, "f:o:c:r:aj:t:wh", opts, NULL)) != -1) {
		if (c == 'f') {
			o->fleet = optarg;
		} else if (c == 'F') {
			o->force = true;
		} else if (c == 'w') {
			o->wait_s = 3600;
			if (optarg && (kf_int_parse(optarg, &x) < 0 || x < 1 || x > 7 * 86400)) {
				fprintf(stderr, "kickfleet: bad --wait \"%s\"\n", optarg);
				return 1;
			}
			if (optarg)
				o->wait_s = (int)x;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else if ((r = kf_power_cli_opt(&o->p, c, optarg)) != 0) {
			if (r > 0)
				usage(stderr);
			return 1;
		}
	}
	if (optind == argc && !o->p.role && !o->p.all) {
		usage(stderr);
		return 1;
	}
	return -1;
}

/* Drops the jobs of machines already booting or installing (unless
 * force), saying so; the names of all of them go to names for --wait.
 * A machine the store does not know is an error (nothing dropped). */
static int select_jobs(struct kf_state *st, const struct opts *o, struct kf_power_job *v, size_t *n,
		       char **names, struct kf_err *e)
{
	bool *skip = kf_xcalloc(*n + 1, sizeof(*skip));
	int r = 0;
	for (size_t i = 0; i < *n && r == 0; i++) {
		struct kf_host_rec h;
		names[i] = kf_xstrdup(v[i].cfg.name);
		if ((r = kf_state_get_host(st, v[i].cfg.name, &h, e)) == -ENOENT)
			kf_errf(e, NULL, "%s: not in the state store (run kickfleet render first)",
				v[i].cfg.name);
		if (r < 0)
			break;
		skip[i] = !o->force && (h.state == KF_ST_BOOTING || h.state == KF_ST_INSTALLING);
		if (skip[i])
			printf("%s: already %s, not cycled again (--force cycles it)\n", h.name,
			       kf_install_state_name(h.state));
		kf_host_rec_release(&h);
	}
	size_t k = 0;
	for (size_t i = 0; i < *n && r == 0; i++) {
		if (skip[i])
			kf_power_cfg_release(&v[i].cfg);
		else
			v[k++] = v[i];
	}
	if (r == 0)
		*n = k;
	free(skip);
	return r;
}

/* netboot on and the boot files of each machine, then one signal to
 * dnsmasq (nothing is powered when this fails). */
static int netboot_on(const struct kf_inventory *inv, struct kf_state *st, const struct opts *o,
		      const struct kf_power_job *v, size_t n, struct kf_err *e)
{
	struct kf_render_opts ro = { .outdir = o->p.outdir };
	bool hup = false;
	int r = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const char *name = v[i].cfg.name;
		r = kf_state_netboot(st, name, 1, e); /* as kickfleet netboot NAME on */
		if (r >= 0)
			r = kf_render_host(inv, st, &ro, name, &hup, e);
	}
	if (r >= 0 && hup)
		kf_render_signal_dnsmasq(inv, o->p.outdir);
	return r < 0 ? r : 0;
}

/* After --wait: each machine not installed, named with its state. */
static size_t report_installs(struct kf_state *st, char **names, size_t n, int wait_s)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		struct kf_host_rec h;
		if (kf_state_get_host(st, names[i], &h, NULL) < 0)
			continue;
		if (h.state == KF_ST_FAILED) {
			fprintf(stderr, "%s: install failed\n", names[i]);
			bad++;
		} else if (h.state < KF_ST_INSTALLED || h.netboot) {
			fprintf(stderr, "%s: not installed after %d s (still %s%s)\n", names[i], wait_s,
				kf_install_state_name(h.state),
				h.state >= KF_ST_INSTALLED ? ", no installed callback yet" : "");
			bad++;
		}
		kf_host_rec_release(&h);
	}
	return bad;
}

static int run(const struct opts *o, char *const *targets, size_t ntargets)
{
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	struct kf_state *st = NULL;
	struct kf_power_job *v = NULL;
	char **names = NULL, *db = NULL;
	size_t n = 0, nall = 0;
	int rc = 1;
	if (kf_inventory_load(&inv, o->fleet, &e) < 0 ||
	    kf_power_jobs_for(inv, targets, ntargets, o->p.role, o->p.all, &v, &n, &e) < 0)
		goto out;
	db = kf_render_state_path(inv, o->p.outdir);
	if (kf_state_open(&st, db, &e) < 0)
		goto out;
	nall = n;
	names = kf_xcalloc(n + 1, sizeof(*names));
	if (select_jobs(st, o, v, &n, names, &e) < 0 || netboot_on(inv, st, o, v, n, &e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		v[i].action = KF_PA_CYCLE;
		v[i].pxe = true;
	}
	long failed = kf_power_cli_run(&o->p, inv, v, n);
	rc = failed != 0;
	if (o->wait_s && failed >= 0) {
		fflush(stdout);
		if (kf_status_follow(st, names, nall, 2, o->wait_s, &e) < 0 ||
		    report_installs(st, names, nall, o->wait_s))
			rc = 1;
	}
out:
	kf_err_print(&e, stderr);
	kf_err_release(&e);
	for (size_t i = 0; names && i < nall; i++)
		free(names[i]);
	free(names);
	free(db);
	kf_state_close(st);
	kf_power_jobs_free(v, n);
	kf_inventory_free(inv);
	return rc;
}

int cmd_reinstall(int argc, char **argv)
{
	struct opts o = { .fleet = KF_DEFAULT_FLEET, .p = KF_POWER_CLI_INIT };
	int rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	return run(&o, argv + optind, (size_t)(argc - optind));
}
