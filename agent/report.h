/* A run's result out of the agent (agent/report.c): printed for people or
 * as one JSON document, and POSTed to the provisioner.  The engine
 * (agent/engine.h) only fills the struct kf_run; the commands print it. */
#ifndef KF_AGENT_REPORT_H
#define KF_AGENT_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "agent/engine.h"

/* The result for people: one line per change (resource, what, from → to,
 * status), then notes, failures and a summary line. */
void kf_run_print_text(const struct kf_run *r, FILE *f);
/* The same as one JSON document on one line (lib/json.h); malloc'd. */
char *kf_run_json(const struct kf_run *r);
/* Prints r on f, as text or as JSON followed by a newline, and flushes f. */
void kf_run_print(const struct kf_run *r, bool json, FILE *f);
/* POSTs the JSON document to r->report_url, when there is one, then the
 * host's facts (agent/facts_probe.h).  A failed post is logged as a
 * warning and never changes the run's exit code. */
void kf_run_post(const struct kf_run *r, const char *cacert);

#endif
