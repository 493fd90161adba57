/* kickfleet: the provisioner.  Subcommands are dispatched from one table. */
#include <stdio.h>
#include <string.h>

#include "provision/cmd.h"
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
	{ "check", cmd_check, "validate the inventory, profiles and templates" },
	{ "schema", cmd_schema, "print the inventory reference (Markdown)" },
	{ "distro", cmd_distro, "import install media (ISO, disc tree, netboot tree) as a distro" },
	{ "render", cmd_render, "render dnsmasq files, TFTP and HTTP trees (changed hosts only)" },
	{ "netboot", cmd_netboot, "HOST on|off: reinstall on next boot, or boot locally" },
	{ "serve", cmd_serve, "the HTTP service: kickstarts, profiles, callbacks, boot files" },
	{ "up", cmd_up, "render, then dnsmasq + in.tftpd + serve in the foreground" },
	{ "status", cmd_status, "hosts' install states, last reports, drift (--watch, --json)" },
	{ "guest", cmd_guest, "install NAME: define and start a guest on its KVM host (libvirt)" },
};

static void usage(FILE *f)
{
	fputs("usage: kickfleet COMMAND [OPTIONS]\n\ncommands:\n", f);
	for (size_t i = 0; i < KF_ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\n'kickfleet COMMAND --help' describes one command.\n", f);
}

int main(int argc, char **argv)
{
	kf_progname = "kickfleet";
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		puts("kickfleet " KF_VERSION);
		return 0;
	}
	for (size_t i = 0; i < KF_ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "kickfleet: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 1;
}
