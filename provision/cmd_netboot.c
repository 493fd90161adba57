/* kickfleet netboot HOST on|off: reinstall on next boot, or boot locally. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inventory.h"
#include "provision/cmd.h"
#include "provision/render.h"
#include "provision/state.h"
#include "provision/state_extra.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet netboot [-f FLEET] [-o DIR] HOST on|off\n"
	      "\n"
	      "on:  the host installs from the network on its next boot (state back to\n"
	      "     \"new\", a fresh token);\n"
	      "off: it boots from its local disk.\n"
	      "Re-renders the host's boot files and signals a running dnsmasq if its\n"
	      "files changed.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --output DIR   the directory given to kickfleet render -o\n"
	      "  -h, --help         this help\n",
	      f);
}

int cmd_netboot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *fleet = KF_DEFAULT_FLEET, *outdir = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fleet = optarg; break;
		case 'o': outdir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (argc - optind != 2 || (strcmp(argv[optind + 1], "on") && strcmp(argv[optind + 1], "off"))) {
		usage(stderr);
		return 1;
	}
	const char *host = argv[optind];
	int on = !strcmp(argv[optind + 1], "on");
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	struct kf_state *st = NULL;
	char *db = NULL;
	int rc = 1, r;
	bool hup = false;
	if (kf_inventory_load(&inv, fleet, &e) < 0)
		goto out;
	db = kf_render_state_path(inv, outdir);
	if (kf_state_open(&st, db, &e) < 0)
		goto out;
	if ((r = kf_state_netboot(st, host, on, &e)) < 0)
		goto out;
	struct kf_render_opts o = { .outdir = outdir };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (kf_render_host(inv, st, &o, host, &hup, &e) < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (getenv("KF_RENDER_TIMING")) /* for bench/render.sh: the server's one-host path */
		fprintf(stderr, "timing: render_host %.1f ms\n",
			(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	const char *hupmsg = "";
	if (hup)
		hupmsg = kf_render_signal_dnsmasq(inv, outdir) > 0 ? "; dnsmasq signalled"
								   : "; dnsmasq not running";
	printf("%s: netboot %s%s%s\n", host, on ? "on (installs on next boot)" : "off (boots locally)",
	       r == 0 ? " (already)" : "", hupmsg);
	rc = 0;
out:
	if (rc)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	kf_state_close(st);
	free(db);
	kf_inventory_free(inv);
	return rc;
}
