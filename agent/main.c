/* kickfleet-agent: makes a host match its role profile. */
#include <stdio.h>
#include <string.h>

#include "agent/cmd.h"
#include "util.h"

#ifndef KF_VERSION
#define KF_VERSION "0.1.0"
#endif

struct subcmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct subcmd cmds[] = {
	{ "validate", agent_cmd_validate, "validate a profile" },
	{ "schema", agent_cmd_schema, "print the profile reference (Markdown)" },
	{ "plan", agent_cmd_plan, "show what apply would change, touching nothing" },
	{ "apply", agent_cmd_apply, "make the host match its profile, then verify" },
	{ "check", agent_cmd_check, "report drift (exit 2) without touching the host" },
	{ "auto", agent_cmd_auto, "apply or check, as the profile's agent.mode says (timer)" },
};

static void usage(FILE *f)
{
	fputs("usage: kickfleet-agent COMMAND [OPTIONS]\n\ncommands:\n", f);
	for (size_t i = 0; i < KF_ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\n'kickfleet-agent COMMAND --help' describes one command.\n", f);
}

int main(int argc, char **argv)
{
	kf_progname = "kickfleet-agent";
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		puts("kickfleet-agent " KF_VERSION);
		return 0;
	}
	for (size_t i = 0; i < KF_ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "kickfleet-agent: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 1;
}
