#include "subcmd.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

static void usage(FILE *f, const char *prog, const struct kf_subcmd *cmds, size_t n)
{
	fprintf(f, "usage: %s COMMAND [OPTIONS]\n\ncommands:\n", prog);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n'%s COMMAND --help' describes one command.\n", prog);
}

int kf_subcmd_main(const char *prog, const struct kf_subcmd *cmds, size_t n, int argc, char **argv)
{
	kf_progname = prog;
	if (argc < 2) {
		usage(stderr, prog, cmds, n);
		return 1;
	}
	const char *c = argv[1];
	if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
		usage(stdout, prog, cmds, n);
		return 0;
	}
	if (!strcmp(c, "--version")) {
		printf("%s %s\n", prog, KF_VERSION);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c, cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command \"%s\"\n", prog, c);
	usage(stderr, prog, cmds, n);
	return 1;
}
