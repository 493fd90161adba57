/* kickfleet check: validate the inventory and everything it references. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "inventory.h"
#include "provision/cmd.h"
#include "provision/render.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet check [-f FLEET] [-v]\n"
	      "\n"
	      "Validates the inventory, the profiles and templates its roles name, and the\n"
	      "cross-checks between them.  Every error is printed as FILE:LINE:COL: message.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -v, --verbose      print the inventory back, normalised, with its profiles\n"
	      "  -h, --help         this help\n"
	      "\n"
	      "Exit status: 0 valid, 1 errors (on stderr).\n",
	      f);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *fleet = KF_DEFAULT_FLEET;
	int verbose = 0, c;
	while ((c = getopt_long(argc, argv, "f:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fleet = optarg; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	int r = kf_inventory_load(&inv, fleet, &e);
	if (r == 0 && (r = kf_render_check(inv, &e)) < 0) /* templates, per host */
		kf_inventory_free(inv);
	if (r < 0) {
		kf_err_print(&e, stderr);
		kf_err_release(&e);
		return 1;
	}
	if (verbose) {
		kf_inventory_print(inv, stdout);
		for (size_t i = 0; i < inv->roles.n; i++) {
			const struct kf_i_role *role = KF_LIST_AT(inv->roles, struct kf_i_role, i);
			if (!inv->profiles[i])
				continue;
			printf("---\n# profile of role %s: %s\n", role->name, role->profile);
			kf_profile_print(inv->profiles[i], stdout);
		}
	} else {
		printf("%s: ok (%zu hosts, %zu guests, %zu roles, %zu distros)\n", fleet, inv->hosts.n,
		       inv->guests.n, inv->roles.n, inv->distros.n);
	}
	kf_inventory_free(inv);
	kf_err_release(&e);
	return 0;
}

int cmd_schema(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	puts("# Inventory reference\n\nGenerated from the schema tables in lib/inventory.c "
	     "(`kickfleet schema`).");
	kf_schema_doc(stdout, &kf_inventory_schema, "fleet.yaml");
	return 0;
}
