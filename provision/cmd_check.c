/* kickfleet check: validate the inventory and everything it references. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "facts.h"
#include "inventory.h"
#include "provision/cmd.h"
#include "provision/render.h"
#include "provision/state.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet check [-f FLEET] [-o DIR] [-v]\n"
	      "\n"
	      "Validates the inventory, the profiles and templates its roles name, and the\n"
	      "cross-checks between them.  Every error is printed as FILE:LINE:COL: message.\n"
	      "When the state holds a machine's facts (posted by its agent), warns where its\n"
	      "role's profile asks what the machine cannot give, at the profile's line.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --output DIR   the directory given to kickfleet render -o (its state)\n"
	      "  -v, --verbose      print the inventory back, normalised, with its profiles\n"
	      "  -h, --help         this help\n"
	      "\n"
	      "Exit status: 0 valid, 1 errors (on stderr).\n",
	      f);
}

/* One machine's stored facts against its role's profile, warnings into w. */
static void check_one(struct kf_state *st, const struct kf_inventory *inv, const char *name,
		      const char *role, struct kf_err *w)
{
	const struct kf_profile *p = kf_inventory_role_profile(inv, role);
	struct kf_err e = KF_ERR_INIT;
	struct kf_facts f;
	char *json = NULL;
	int64_t t;
	kf_facts_init(&f);
	int r = p ? kf_state_get_facts(st, name, &json, &t, &e) : -ENOENT;
	if (r == 0 && kf_facts_from_json(&f, json, strlen(json), &e) == 0)
		kf_facts_check(p, &f, name, w);
	else if (r != -ENOENT)
		kf_errf(w, NULL, "warning: %s: stored facts not read: %s", name, e.n ? e.v[0].text : "?");
	kf_facts_release(&f);
	kf_err_release(&e);
	free(json);
}

/* The warnings of every machine that has facts in the state, if there is
 * a state; on stderr, not errors. */
static void check_facts(const struct kf_inventory *inv, const char *outdir)
{
	char *db = kf_render_state_path(inv, outdir);
	struct kf_state *st = NULL;
	struct kf_err w = KF_ERR_INIT;
	if (access(db, R_OK) == 0 && kf_state_open(&st, db, &w) == 0) {
		for (size_t i = 0; i < inv->hosts.n; i++) {
			const struct kf_i_host *h = KF_LIST_AT(inv->hosts, struct kf_i_host, i);
			check_one(st, inv, h->name, h->role, &w);
		}
		for (size_t i = 0; i < inv->guests.n; i++) {
			const struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
			check_one(st, inv, g->name, g->role, &w);
		}
	}
	kf_err_print(&w, stderr);
	kf_err_release(&w);
	kf_state_close(st);
	free(db);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *fleet = KF_DEFAULT_FLEET, *outdir = NULL;
	int verbose = 0, c;
	while ((c = getopt_long(argc, argv, "f:o:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fleet = optarg; break;
		case 'o': outdir = optarg; break;
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
	check_facts(inv, outdir);
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
