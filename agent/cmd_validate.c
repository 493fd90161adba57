/* kickfleet-agent validate: check one profile without touching the host. */
#include <getopt.h>
#include <stdio.h>

#include "agent/cmd.h"
#include "profile.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet-agent validate [-v] PROFILE\n"
	      "\n"
	      "Validates a role profile; every error is printed as FILE:LINE:COL: message.\n"
	      "\n"
	      "  -v, --verbose   print the profile back, normalised\n"
	      "  -h, --help      this help\n"
	      "\n"
	      "Exit status: 0 valid, 1 errors (on stderr).\n",
	      f);
}

int agent_cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int verbose = 0, c;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'v': verbose = 1; break;
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
	if (kf_profile_load(&p, argv[optind], &e) < 0) {
		kf_err_print(&e, stderr);
		kf_err_release(&e);
		return 1;
	}
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
