/* kickfleet-agent plan | apply | check: the engine's command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd.h"
#include "agent/credential.h"
#include "agent/engine.h"
#include "agent/report.h"
#include "util.h"

static void usage(FILE *f, const char *cmd)
{
	fprintf(f,
		"usage: kickfleet-agent %s --profile FILE|URL [--root DIR] [--only|--skip SECTIONS]\n"
		"                       [--json] [--report URL] [--state-dir DIR] [--cacert FILE]\n"
		"                       [--credential FILE] [-v]\n"
		"\n"
		"%s\n"
		"\n"
		"  -p, --profile FILE|URL  the role profile (a URL is fetched; the last good copy\n"
		"                          in the state dir is used when the server cannot be reached)\n"
		"  -r, --root DIR          act on the tree under DIR instead of / (tests)\n"
		"      --only SECTIONS     only these top-level sections (%s)\n"
		"      --skip SECTIONS     all but these sections\n"
		"      --json              print the result as one JSON document\n"
		"      --report URL        POST the JSON result there (default: the profile's agent.report)\n"
		"      --state-dir DIR     the agent's state (default " KF_STATE_DIR_DEFAULT ")\n"
		"      --cacert FILE       the CA that signs the provisioner's certificate, for https\n"
		"                          URLs (default $KICKFLEET_CACERT, else the system's CAs)\n"
		"      --credential FILE   the agent credential sent to the provisioner (a host path;\n"
		"                          default $KICKFLEET_CREDENTIAL, else " KF_AGENT_CRED_DEFAULT ")\n"
		"  -v, --verbose           more detail on stderr\n"
		"  -h, --help              this help\n"
		"\n"
		"Exit status: 0 nothing to do, 2 changes (%s), 4 failures, 6 both,\n"
		"1 usage or profile errors (nothing touched).\n",
		cmd,
		!strcmp(cmd, "apply")   ? "Makes the host match the profile: plans, applies, then verifies that\n"
					  "nothing is left to do."
		: !strcmp(cmd, "auto")	? "Runs apply or check, as the profile's agent.mode says (for the timer)."
		: !strcmp(cmd, "check") ? "Reports drift from the profile without touching the host (for timers\n"
					  "and monitoring)."
					: "Prints what apply would change, touching nothing.",
		KF_SECTION_NAMES, !strcmp(cmd, "apply") ? "made" : "pending");
}

/* One run: its result on stdout (text or JSON) and to the report URL;
 * the exit code. */
static int run_engine(const struct kf_engine_opts *o, bool json)
{
	struct kf_err e = KF_ERR_INIT;
	struct kf_run run;
	int rc = 1;
	if (kf_engine_run(o, kf_resources, kf_nresources, &run, &e) < 0) {
		kf_err_print(&e, stderr);
	} else {
		kf_err_print(&run.warnings, stderr);
		kf_run_print(&run, json, stdout);
		kf_run_post(&run, o->cacert);
		rc = run.exit_code;
	}
	kf_run_release(&run);
	kf_err_release(&e);
	return rc;
}

static int run_cmd(enum kf_run_mode mode, int argc, char **argv)
{
	enum { O_ONLY = 256, O_SKIP, O_JSON, O_REPORT, O_STATE, O_CACERT, O_CRED };
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "root", required_argument, NULL, 'r' },
		{ "only", required_argument, NULL, O_ONLY },
		{ "skip", required_argument, NULL, O_SKIP },
		{ "json", no_argument, NULL, O_JSON },
		{ "report", required_argument, NULL, O_REPORT },
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "credential", required_argument, NULL, O_CRED },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cmd = kf_run_mode_name(mode);
	struct kf_engine_opts o = { .mode = mode };
	/* the units' /etc/kickfleet/agent.env; --cacert wins */
	const char *env_ca = getenv("KICKFLEET_CACERT");
	if (env_ca && *env_ca)
		o.cacert = env_ca;
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "p:r:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': o.profile = optarg; break;
		case 'r': o.root = optarg; break;
		case O_ONLY: o.only = optarg; break;
		case O_SKIP: o.skip = optarg; break;
		case O_JSON: json = true; break;
		case O_REPORT: o.report = optarg; break;
		case O_STATE: o.state_dir = optarg; break;
		case O_CACERT: o.cacert = optarg; break;
		case O_CRED: kf_agent_cred_file(optarg); break;
		case 'v': o.verbose = true; kf_log_level = KF_LOG_DEBUG; break;
		case 'h': usage(stdout, cmd); return 0;
		default: usage(stderr, cmd); return 1;
		}
	}
	if (optind < argc && !o.profile)
		o.profile = argv[optind++];
	if (optind != argc || !o.profile) {
		if (!o.profile)
			fprintf(stderr, "kickfleet-agent %s: missing --profile\n", cmd);
		usage(stderr, cmd);
		return 1;
	}
	if (o.only && o.skip) {
		fprintf(stderr, "kickfleet-agent %s: give --only or --skip, not both\n", cmd);
		return 1;
	}
	return run_engine(&o, json);
}

int agent_cmd_plan(int argc, char **argv)
{
	return run_cmd(KF_RUN_PLAN, argc, argv);
}

int agent_cmd_apply(int argc, char **argv)
{
	return run_cmd(KF_RUN_APPLY, argc, argv);
}

int agent_cmd_check(int argc, char **argv)
{
	return run_cmd(KF_RUN_CHECK, argc, argv);
}

int agent_cmd_auto(int argc, char **argv)
{
	return run_cmd(KF_RUN_AUTO, argc, argv);
}
