/* The command-line side of power runs shared by `kickfleet power` and
 * `kickfleet reinstall` (provision/cmd_power.c): target and run options,
 * result lines and JSON. */
#ifndef KF_PROVISION_POWER_CLI_H
#define KF_PROVISION_POWER_CLI_H

#include "provision/power.h"

struct kf_power_cli {
	const char *role;
	bool all;
	bool json;
	int jobs;
	struct kf_power_opts o;
};
#define KF_POWER_CLI_INIT { .jobs = 32, .o = { .timeout_ms = 5000, .retries = 2 } }
/* Their long options (getopt letters r a J j t R). */
#define KF_POWER_CLI_OPTIONS                                   \
	{ "role", required_argument, NULL, 'r' },              \
	{ "all", no_argument, NULL, 'a' },                     \
	{ "json", no_argument, NULL, 'J' },                    \
	{ "jobs", required_argument, NULL, 'j' },              \
	{ "timeout", required_argument, NULL, 't' },           \
	{ "retries", required_argument, NULL, 'R' }

/* Takes option c: 0 when it was one of them, 1 when not, -1 on a bad
 * value (printed). */
int kf_power_cli_opt(struct kf_power_cli *p, int c, const char *arg);
/* Runs the jobs: a line per machine as each finishes (a live progress
 * line on a terminal), or one JSON array at the end.  Returns how many
 * failed. */
size_t kf_power_cli_run(const struct kf_power_cli *p, struct kf_power_job *v, size_t n);
/* "kvm01: powered on" / "kvm01: REASON" on stdout. */
void kf_power_print_line(const struct kf_power_job *j, void *arg);
void kf_power_print_json(const struct kf_power_job *v, size_t n, FILE *f);

#endif
