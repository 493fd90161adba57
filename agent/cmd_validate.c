/* kickfleet-agent validate: check one profile without touching the host. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd.h"
#include "facts.h"
#include "profile.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet-agent validate [-v] [--facts FILE] PROFILE\n"
	      "\n"
	      "Validates a role profile; every error is printed as FILE:LINE:COL: message.\n"
	      "With --facts, also warns where the profile asks what that host cannot give\n"
	      "(hugepages beyond a node's memory, CPUs or NICs it lacks, SR-IOV VFs over\n"
	      "totalvfs, passthrough without an IOMMU).\n"
	      "\n"
	      "  -v, --verbose   print the profile back, normalised\n"
	      "      --facts FILE  a host's facts (kickfleet-agent facts --json, or\n"
	      "                  kickfleet facts HOST --json)\n"
	      "  -h, --help      this help\n"
	      "\n"
	      "Exit status: 0 valid, 1 errors (on stderr).\n",
	      f);
}

/* The warnings of p against the facts document in path, into e. */
static int warn_facts(const struct kf_profile *p, const char *path, struct kf_err *e)
{
	struct kf_facts f;
	char *json = NULL;
	size_t len = 0;
	int r = kf_read_file(path, KF_FACTS_MAX_BYTES, &json, &len);
	kf_facts_init(&f);
	if (r < 0)
		kf_errc(e, r, NULL, "%s: %s", path, strerror(-r));
	else if ((r = kf_facts_from_json(&f, json, len, e)) < 0)
		kf_errf(e, NULL, "%s: not a facts document", path);
	else
		kf_facts_check(p, &f, NULL, e);
	kf_facts_release(&f);
	free(json);
	return r;
}

int agent_cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "facts", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *facts = NULL;
	int verbose = 0, c;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'v': verbose = 1; break;
		case 'F': facts = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 1;
	}
	struct kf_err e = KF_ERR_INIT;
	struct kf_profile *p = NULL;
	if (kf_profile_load(&p, argv[optind], &e) < 0 || (facts && warn_facts(p, facts, &e) < 0)) {
		kf_err_print(&e, stderr);
		kf_err_release(&e);
		kf_profile_free(p);
		return 1;
	}
	kf_err_print(&e, stderr); /* the warnings */
	if (verbose)
		kf_profile_print(p, stdout);
	else
		printf("%s: ok\n", argv[optind]);
	kf_profile_free(p);
	kf_err_release(&e);
	return 0;
}

int agent_cmd_schema(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	puts("# Profile reference\n\nGenerated from the schema tables in lib/profile.c "
	     "(`kickfleet-agent schema`).");
	kf_schema_doc(stdout, &kf_profile_schema, "profile");
	return 0;
}
