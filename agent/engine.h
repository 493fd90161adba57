/* The engine: runs the resource table (agent/resources.c) over a profile.
 *
 *   parse → probe → diff → the plan → (apply → probe → diff → verify)
 *
 * and returns what it found and did as a struct kf_run; the commands print
 * and post it (agent/report.h).  A profile error (bad file, or a value
 * this host cannot take) stops the run before anything is probed or
 * touched: exit 1.  A resource that fails
 * to probe or apply is reported and the others go on.  Exit codes follow
 * Puppet's detailed codes: 0 nothing to do, 2 changes (made by apply, or
 * pending for plan/check), 4 failures, 6 changes and failures.  Changes
 * flagged KF_CH_PENDING (nothing apply can do now: a reboot, guests that
 * must stop) are shown but do not count as changes. */
#ifndef KF_AGENT_ENGINE_H
#define KF_AGENT_ENGINE_H

#include <stdbool.h>

#include "agent/resource.h"

/* KF_RUN_AUTO: apply or check, as the profile's agent.mode says (timers). */
enum kf_run_mode { KF_RUN_PLAN, KF_RUN_APPLY, KF_RUN_CHECK, KF_RUN_AUTO };

#define KF_SECTION_NAMES "kvm, memory, cpu, network, passthrough, guests, agent"

struct kf_engine_opts {
	enum kf_run_mode mode;
	const char *profile;   /* path, or http(s):// URL */
	const char *root;      /* sysroot, NULL or "/" for the host */
	const char *only;      /* comma separated sections, or NULL */
	const char *skip;
	const char *report;    /* URL to POST the result to (NULL: the profile's) */
	const char *state_dir; /* host path of the agent's state (last good profile) */
	const char *cacert;    /* CA bundle for https, NULL: the system's */
	bool verbose;
};

#define KF_STATE_DIR_DEFAULT "/var/lib/kickfleet-agent"

/* A host failure: a probe, apply or verify that did not work. */
struct kf_failure {
	const char *resource; /* static, or NULL for the run itself */
	char *text;
};

/* Everything one run found and did, for printing and for the report.
 * Zero-initialised; kf_run_release frees it. */
struct kf_run {
	enum kf_run_mode mode;
	char *role;
	char *root;            /* the sysroot, "/" for the host */
	char *profile_source;
	char *profile_note;    /* e.g. "server unreachable, using the last good copy" */
	bool profile_fallback;
	char *report_url;      /* --report, else the profile's agent.report, else NULL */
	struct kf_plan plan;
	struct kf_err warnings; /* what the profile asks that the host's facts say it cannot give */
	struct kf_failure *fails;
	size_t nfails, capfails;
	unsigned nchanges, napplied, nfailed, npending, nskipped;
	int exit_code;
};

const char *kf_run_mode_name(enum kf_run_mode m);

/* Runs the table over the options' profile into *run (zeroed first;
 * release it in every case).  0 when the run went through: run->exit_code
 * is set, host failures are among run->fails.  A negative errno when it
 * stopped before touching anything (bad --only/--skip, a profile that does
 * not load, a resource's parse that fails): the messages are in e, the
 * exit code is 1.  The table is a parameter so that unit tests can run
 * fake resources. */
int kf_engine_run(const struct kf_engine_opts *o, const struct kf_resource *const *table, size_t n,
		  struct kf_run *run, struct kf_err *e);

/* Checks a --only/--skip list against the section names; 0 or -EINVAL
 * with a message in e. */
int kf_sections_check(const char *list, const char *opt, struct kf_err *e);
/* True when section is selected by only/skip (either may be NULL). */
bool kf_section_selected(const char *section, const char *only, const char *skip);

/* Computes the counts and the exit code from the plan and the failures. */
void kf_run_finish(struct kf_run *r);
void kf_run_add_failure(struct kf_run *r, const char *resource, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void kf_run_release(struct kf_run *r);

/* The static resource table, in apply order (agent/resources.c). */
extern const struct kf_resource *const kf_resources[];
extern const size_t kf_nresources;

#endif
