/* kickfleet token rotate HOST...|--all, kickfleet token status [HOST...]:
 * the agent credentials of installed hosts (docs/security.md). */
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
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet token rotate [-f FLEET] [-o DIR] HOST...|--all\n"
	      "       kickfleet token status [-f FLEET] [-o DIR] [HOST...]\n"
	      "\n"
	      "rotate: each host's agent gets a new agent credential with its next profile\n"
	      "        fetch and keeps it in /etc/kickfleet/agent.credential; the old one is\n"
	      "        refused (403, logged) once the new one was used, or once the rotation\n"
	      "        is older than provisioner.token_ttl seconds (when not 0).  --all: every\n"
	      "        host that has a credential.\n"
	      "status: per host the credential's generation, when it was issued and whether\n"
	      "        a rotation waits for the agent.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --output DIR   the directory given to kickfleet render -o\n"
	      "  -a, --all          rotate: every host with an agent credential\n"
	      "  -h, --help         this help\n",
	      f);
}

static void print_status(const char *name, const struct kf_cred *c)
{
	char when[32] = "-";
	if (c->issued) {
		time_t t = (time_t)c->issued;
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	}
	printf("%-24s gen %-4lld issued %-20s %s\n", name, (long long)c->gen, when,
	       !c->hash[0]   ? "no credential (not installed yet)"
	       : c->rotated  ? "rotation pending (the agent picks it up at its next run)"
	       : c->pending[0] ? "install open"
			       : "current");
}

/* One host: rotate (an error for a host without a credential unless all)
 * or print its status.  0, or a negative errno with e set. */
static int one(struct kf_state *st, const char *name, bool rotate, bool all, struct kf_err *e)
{
	struct kf_cred c;
	int r = kf_state_get_cred(st, name, &c, e);
	if (r < 0 || !rotate) {
		if (r == 0)
			print_status(name, &c);
		return r;
	}
	if (all && !c.hash[0])
		return 0;
	if ((r = kf_state_cred_rotate(st, name, e)) == 0)
		printf("%s: agent credential rotation asked (picked up at the agent's next run)\n", name);
	return r;
}

static int run(struct kf_state *st, char **names, int n, bool rotate, bool all, struct kf_err *e)
{
	if (n > 0 && !all) {
		int r = 0;
		for (int i = 0; i < n && r == 0; i++)
			r = one(st, names[i], rotate, false, e);
		return r;
	}
	struct kf_host_rec *v = NULL;
	size_t nv = 0;
	int r = kf_state_list_hosts(st, &v, &nv, e);
	for (size_t i = 0; r == 0 && i < nv; i++)
		r = one(st, v[i].name, rotate, true, e);
	kf_host_recs_free(v, nv);
	return r;
}

int cmd_token(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *fleet = KF_DEFAULT_FLEET, *outdir = NULL;
	bool all = false;
	int c;
	/* GNU getopt: options anywhere, the verb and hosts left at the end */
	while ((c = getopt_long(argc, argv, "f:o:ah", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fleet = optarg; break;
		case 'o': outdir = optarg; break;
		case 'a': all = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	const char *verb = optind < argc ? argv[optind++] : NULL;
	bool rotate = verb && !strcmp(verb, "rotate");
	int n = argc - optind;
	if (!verb || (!rotate && strcmp(verb, "status")) || (rotate && (n > 0) == all) ||
	    (!rotate && all)) {
		if (verb && strcmp(verb, "rotate") && strcmp(verb, "status"))
			fprintf(stderr, "kickfleet token: unknown command \"%s\"\n", verb);
		else if (rotate)
			fprintf(stderr, "kickfleet token rotate: give HOST... or --all\n");
		usage(stderr);
		return 1;
	}
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	struct kf_state *st = NULL;
	char *db = NULL;
	int rc = 1;
	if (kf_inventory_load(&inv, fleet, &e) < 0)
		goto out;
	db = kf_render_state_path(inv, outdir);
	if (!kf_state_exists(db)) {
		kf_errc(&e, -ENOENT, NULL, "state %s: no such store (run kickfleet render first)", db);
		goto out;
	}
	if (kf_state_open(&st, db, &e) < 0)
		goto out;
	if (run(st, argv + optind, n, rotate, all, &e) < 0)
		goto out;
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
