/* Changes since the first version (all backward compatible: fields were
 * only added at the end of structs, nothing renamed or removed):
 *   - struct kf_plan gained notes (kf_plan_note): facts worth telling the
 *     operator that are not changes, e.g. "ksmtuned is running".
 *   - struct kf_ctx gained fail: where probe and apply put messages about
 *     host failures (not profile errors).
 *   - KF_ST_PENDING, kf_change_status_name() and kf_change_actionable().
 *
 * The agent's resources: every managed thing implements the same small
 * interface, and one static table (agent/resources.c) lists them in apply
 * order: kernel modules and memory before CPU, CPU before network, network
 * before guests.
 *
 * The engine runs, for each resource whose section is selected:
 *   parse  (profile → desired state; errors against the host's facts, e.g.
 *           a CPU the host does not have, go to ctx->err with the profile's
 *           file:line:col and make the run exit 1 before anything is touched)
 *   probe  (host → actual state; reads only, never writes)
 *   diff   (desired, actual → changes appended to the plan; pure, no I/O)
 * then makes the plan, and for apply: apply each change, probe and diff
 * again, and verify the plan is now empty.
 *
 * A resource whose part of the profile is absent returns desired == NULL
 * from parse and is skipped.  Every host path goes through kf_path() (the
 * sysroot); actions that cannot be pointed at a sysroot (restarting a
 * service, reloading a module) are reported as skipped when
 * !kf_sysroot_is_host(). */
#ifndef KF_AGENT_RESOURCE_H
#define KF_AGENT_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "profile.h"

enum kf_change_flags {
	KF_CH_REBOOT = 1 << 0,  /* takes effect after a reboot (e.g. kernel cmdline) */
	KF_CH_PENDING = 1 << 1, /* cannot be applied now (guests running); reported, not failed */
	KF_CH_RESTART = 1 << 2, /* applied to config; takes effect at next guest restart */
};

enum kf_change_status {
	KF_ST_PLANNED,
	KF_ST_APPLIED,
	KF_ST_FAILED,
	KF_ST_SKIPPED, /* not possible here (e.g. under --root), with reason */
	KF_ST_PENDING, /* change flagged KF_CH_PENDING: shown, never applied, not counted
			* as a change for the exit code (nothing apply could do now) */
};

struct kf_change {
	const char *resource; /* static: the resource's name */
	char *what;           /* the thing changed: "node1 2M pages", "bond0 mode" */
	char *from, *to;      /* display values; from may be NULL (absent) */
	unsigned flags;
	enum kf_change_status status;
	char *reason;         /* why it failed or was skipped */
	int kind;             /* resource-private: which kind of change, for apply (0 by default) */
	void *data;           /* resource-private, for apply */
	void (*free_data)(void *data);
};

struct kf_note {
	const char *resource; /* static */
	char *text;
};

/* Zero-initialised ({0}) is an empty plan. */
struct kf_plan {
	struct kf_change *v;
	size_t n, cap;
	struct kf_note *notes;
	size_t nnotes, capnotes;
};

/* Appends a change; what/from/to are copied (printf-style for what).
 * Returns the new change so the caller can set data and flags. */
struct kf_change *kf_plan_add(struct kf_plan *p, const char *resource, const char *from,
			      const char *to, const char *what_fmt, ...)
	__attribute__((format(printf, 5, 6)));
void kf_plan_release(struct kf_plan *p);
/* Adds a note: something to tell the operator that is not a change. */
void kf_plan_note(struct kf_plan *p, const char *resource, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *kf_change_status_name(const struct kf_change *ch);
/* True for a change apply would act on (not pending). */
bool kf_change_actionable(const struct kf_change *ch);

struct kf_hostinfo; /* facts probed once: NUMA nodes, CPUs, vendor (agent/host.h) */

struct kf_ctx {
	const struct kf_profile *profile;
	struct kf_err *err;          /* profile errors against this host: exit 1 */
	const struct kf_hostinfo *host;
	void *virt;                  /* libvirt connection, opened on first use */
	bool verbose;
	struct kf_err *fail;         /* host failures from probe/apply (exit 4), never NULL
				      * while the engine runs */
	const char *state_dir;       /* the agent's state: --state-dir, else the profile's
				      * agent.state_dir, else KF_STATE_DIR_DEFAULT */
	const char *profile_url;     /* --profile when it is a URL, else NULL */
	const char *report_url;      /* --report, else the profile's agent.report */
};

struct kf_resource {
	const char *name;    /* "hugepages" */
	const char *section; /* top-level profile section for --only/--skip */
	int (*parse)(struct kf_ctx *ctx, void **desired);
	int (*probe)(struct kf_ctx *ctx, const void *desired, void **actual);
	int (*diff)(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan);
	/* Applies one change made by this resource's diff; 0 or a negative
	 * errno, with ch->reason set on failure or skip. */
	int (*apply)(struct kf_ctx *ctx, struct kf_change *ch);
	void (*free_desired)(void *desired);
	void (*free_actual)(void *actual);
};

#endif
