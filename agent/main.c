/* kickfleet-agent: makes a host match its role profile. */
#include "agent/cmd.h"
#include "subcmd.h"
#include "util.h"

static const struct kf_subcmd cmds[] = {
	{ "validate", agent_cmd_validate, "validate a profile" },
	{ "schema", agent_cmd_schema, "print the profile reference (Markdown)" },
	{ "plan", agent_cmd_plan, "show what apply would change, touching nothing" },
	{ "apply", agent_cmd_apply, "make the host match its profile, then verify" },
	{ "check", agent_cmd_check, "report drift (exit 2) without touching the host" },
	{ "facts", agent_cmd_facts, "print what this host is: CPU, NUMA, memory, NICs, disks, guests (--json)" },
	{ "discover", agent_cmd_discover, "post this machine's facts to a discovery URL (the discovery image)" },
	{ "auto", agent_cmd_auto, "apply or check, as the profile's agent.mode says (timer)" },
};

int main(int argc, char **argv)
{
	return kf_subcmd_main("kickfleet-agent", cmds, KF_ARRAY_SIZE(cmds), argc, argv);
}
