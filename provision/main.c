/* kickfleet: the provisioner.  Subcommands are dispatched from one table. */
#include "provision/cmd.h"
#include "subcmd.h"
#include "util.h"

static const struct kf_subcmd cmds[] = {
	{ "check", cmd_check, "validate the inventory, profiles and templates" },
	{ "schema", cmd_schema, "print the inventory reference (Markdown)" },
	{ "distro", cmd_distro, "import install media (ISO, disc tree, netboot tree) as a distro" },
	{ "render", cmd_render, "render dnsmasq files, TFTP and HTTP trees (changed hosts only)" },
	{ "netboot", cmd_netboot, "HOST on|off: reinstall on next boot, or boot locally" },
	{ "token", cmd_token, "rotate HOST...|--all: new agent credentials; status: where they stand" },
	{ "serve", cmd_serve, "the HTTP service: kickstarts, profiles, callbacks, boot files" },
	{ "up", cmd_up, "render, then dnsmasq + in.tftpd + serve in the foreground" },
	{ "status", cmd_status, "hosts' install states, last reports, drift (--watch, --json)" },
	{ "facts", cmd_facts, "HOST: the latest facts its agent posted (CPU, NUMA, memory, NICs, disks)" },
	{ "discovered", cmd_discovered, "machines the discovery endpoint found (unknown_hosts: discovery)" },
	{ "reinstall", cmd_reinstall, "HOST...: netboot on, one-time PXE boot, power cycle (--wait follows it)" },
	{ "power", cmd_power, "status|on|off|cycle|reset of hosts (IPMI) and guests (libvirt), many at once" },
	{ "enlist", cmd_enlist, "MAC --name N --role R [--ip A]: add a discovered machine to the inventory" },
	{ "state", cmd_state, "migrate|check|export|import: the state store's schema and health, moving a fleet between stores" },
	{ "guest", cmd_guest, "install NAME: define and start a guest on its KVM host (libvirt)" },
};

int main(int argc, char **argv)
{
	return kf_subcmd_main("kickfleet", cmds, KF_ARRAY_SIZE(cmds), argc, argv);
}
