/* kickfleet subcommands: one function each, dispatched from the table in
 * provision/main.c.  Each gets argv with argv[0] = the subcommand name and
 * returns the process exit code. */
#ifndef KF_PROVISION_CMD_H
#define KF_PROVISION_CMD_H

#include <stddef.h>

#include "err.h"

#define KF_DEFAULT_FLEET "/etc/kickfleet/fleet.yaml"

int cmd_check(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_distro(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_netboot(int argc, char **argv);
/* provision/cmd_token.c */
int cmd_token(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_guest(int argc, char **argv);
/* provision/cmd_facts.c */
int cmd_facts(int argc, char **argv);
int cmd_discovered(int argc, char **argv);
/* provision/cmd_power.c, provision/cmd_reinstall.c */
int cmd_power(int argc, char **argv);
int cmd_reinstall(int argc, char **argv);

/* status --watch's display of the machines named, until each is installed
 * or failed, timeout_s (0: no limit) or a signal (provision/cmd_status.c,
 * for reinstall --wait). */
struct kf_state;
int kf_status_follow(struct kf_state *st, char *const *names, size_t n, double interval,
		     int timeout_s, struct kf_err *e);
/* provision/cmd_enlist.c */
int cmd_enlist(int argc, char **argv);
/* provision/cmd_state.c */
int cmd_state(int argc, char **argv);

#endif
