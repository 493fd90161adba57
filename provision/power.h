/* Power control: one backend per way of reaching a machine's power (IPMI
 * for hosts' BMCs in provision/ipmi.c, libvirt for guests in
 * provision/power_virt.c; a Redfish backend would be a third file), and a
 * runner that drives many machines at once with bounded concurrency
 * (provision/power.c).
 *
 * A backend's open() makes one session with the machine's power
 * controller; the actions run in it and close() ends it.  Each returns 0
 * or a negative errno with the reason in e, one of:
 *   -EACCES       authentication failed ("IPMI authentication failed (USER@ADDR:PORT)")
 *   -EHOSTUNREACH no answer at all ("BMC unreachable ...")
 *   -ETIMEDOUT    a session that stopped answering ("timed out ...")
 *   -EREMOTEIO    the controller refused the request ("refused by the BMC ...")
 * or another errno for local trouble (a missing password file). */
#ifndef KF_PROVISION_POWER_H
#define KF_PROVISION_POWER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "inventory.h"

enum kf_power_action { KF_PA_STATUS, KF_PA_ON, KF_PA_OFF, KF_PA_CYCLE, KF_PA_RESET, KF_PA_COUNT };

/* "status", "on", ...; and the action named s, or -1. */
const char *kf_power_action_name(int action);
int kf_power_action_parse(const char *s);

struct kf_power_opts {
	int timeout_ms; /* per machine, for the whole session */
	int retries;    /* retransmissions within the timeout */
};

struct kf_power_backend {
	const char *type; /* "ipmi", "libvirt" */
	int (*open)(const struct kf_power_cfg *c, const struct kf_power_opts *o, void **conn,
		    struct kf_err *e);
	void (*close)(void *conn); /* accepts NULL */
	int (*status)(void *conn, bool *on, struct kf_err *e);
	int (*on)(void *conn, struct kf_err *e);
	int (*off)(void *conn, struct kf_err *e);    /* hard off */
	int (*cycle)(void *conn, struct kf_err *e);  /* off then on, the machine running */
	int (*reset)(void *conn, struct kf_err *e);  /* hard reset */
	int (*set_pxe)(void *conn, struct kf_err *e); /* boot from the network once */
};

extern const struct kf_power_backend kf_power_ipmi;
extern const struct kf_power_backend kf_power_libvirt;

/* One machine's run: what to do in, what happened out. */
struct kf_power_job {
	struct kf_power_cfg cfg; /* owned (kf_power_jobs_free releases it) */
	int action;              /* enum kf_power_action; cycle powers an off machine on */
	bool pxe;                /* set a one-time network boot first */
	/* results */
	int rc;                  /* 0 or a negative errno (see above) */
	int power;               /* 1 on, 0 off, -1 unknown: the state after the action */
	const char *done;        /* status: "on" / "off"; else "powered on", "power cycled",
				  * "powered on (was off)", ... (static) */
	char *error;             /* the reason when rc < 0 (malloc'd) */
	int64_t time;            /* unix time the action finished */
	double ms;               /* how long it took */
};

/* Runs every job, at most jobs_max at once, each against its backend.
 * With progress set (a terminal), keeps a live "N/M done" line on it; calls
 * line(job) under a lock as each finishes (NULL: none).  Returns the
 * number of jobs that failed. */
size_t kf_power_run(struct kf_power_job *jobs, size_t n, int jobs_max,
		    const struct kf_power_opts *o, FILE *progress,
		    void (*line)(const struct kf_power_job *j, void *arg), void *arg);
void kf_power_jobs_free(struct kf_power_job *jobs, size_t n);

/* The jobs (action not set yet) for the machines named, then those of
 * role, or every host with a power section and every guest when all is
 * set; each machine once.  A name that is not in the inventory or a named
 * host without a power section is an error (nothing returned). */
int kf_power_jobs_for(const struct kf_inventory *inv, char *const *names, size_t nnames,
		      const char *role, bool all, struct kf_power_job **out, size_t *nout,
		      struct kf_err *e);

/* The short word for a failure, for JSON and metrics: "auth",
 * "unreachable", "timeout", "refused", "error". */
const char *kf_power_reason(int rc);

#endif
