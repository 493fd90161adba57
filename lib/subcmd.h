/* Subcommand dispatch shared by kickfleet and kickfleet-agent: one table
 * per program, --help / --version / help handled here. */
#ifndef KF_SUBCMD_H
#define KF_SUBCMD_H

#include <stddef.h>

#ifndef KF_VERSION
#define KF_VERSION "0.1.0"
#endif

struct kf_subcmd {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the subcommand's name */
	const char *summary;
};

/* Sets kf_progname to prog, dispatches argv[1] to its row of cmds and
 * returns the exit code to leave main() with. */
int kf_subcmd_main(const char *prog, const struct kf_subcmd *cmds, size_t n, int argc, char **argv);

#endif
