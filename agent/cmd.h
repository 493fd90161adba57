/* kickfleet-agent subcommands, dispatched from the table in agent/main.c. */
#ifndef KF_AGENT_CMD_H
#define KF_AGENT_CMD_H

int agent_cmd_validate(int argc, char **argv);
int agent_cmd_schema(int argc, char **argv);
/* agent/facts.c */
int agent_cmd_facts(int argc, char **argv);
int agent_cmd_discover(int argc, char **argv);
/* agent/cmd_run.c: the engine */
int agent_cmd_plan(int argc, char **argv);
int agent_cmd_apply(int argc, char **argv);
int agent_cmd_check(int argc, char **argv);
int agent_cmd_auto(int argc, char **argv);

#endif
