/* The command-line side of power runs shared by `kickfleet power` and
 * `kickfleet reinstall` (provision/cmd_power.c): target and run options,
 * result lines and JSON. */
#ifndef KF_PROVISION_POWER_CLI_H
#define KF_PROVISION_POWER_CLI_H

#include "provision/power.h"

struct kf_power_cli {
	const char *outdir; /* the tree of `kickfleet render -o DIR`, NULL: state_dir */
	const char *role;
	const char *uri;    /* guests' libvirt URI, overriding the inventory's */
	bool all;
	bool json;
	int jobs;
	struct kf_power_opts o;
};
#define KF_POWER_CLI_INIT { .jobs = 32, .o = { .timeout_ms = 5000, .retries = 2 } }
/* Their long options (getopt letters o c r a J j t R). */
#define KF_POWER_CLI_OPTIONS                                   \
	{ "uri", required_argument, NULL, 'c' },               \
	{ "dir", required_argument, NULL, 'o' },               \
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
 * line on a terminal), or one JSON array at the end; records each result
 * in the state store when the fleet has one (render or serve made it).
 * Returns how many failed, or -1 when the results could not be recorded
 * (the message printed). */
long kf_power_cli_run(const struct kf_power_cli *p, const struct kf_inventory *inv,
		      struct kf_power_job *v, size_t n);
/* "kvm01: powered on" / "kvm01: REASON" on stdout. */
void kf_power_print_line(const struct kf_power_job *j, void *arg);
void kf_power_print_json(const struct kf_power_job *v, size_t n, FILE *f);

#endif
