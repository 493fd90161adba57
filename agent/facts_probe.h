/* The agent's probe of host facts (lib/facts.h holds the model). */
#ifndef KF_AGENT_FACTS_PROBE_H
#define KF_AGENT_FACTS_PROBE_H

#include "err.h"
#include "facts.h"

/* Fills f (kf_facts_init'd here) from the sysroot; never fails: what
 * cannot be read stays unknown, with a note where it matters.  guests:
 * also look at running guests (the QEMU processes under /proc; from
 * libvirt at uri when uri is given and the root is the live host).  Pairs
 * with kf_facts_release. */
void kf_facts_probe(struct kf_facts *f, int guests, const char *uri);

/* Fills f (kf_facts_init'd here) with only what kf_facts_check reads:
 * CPUs, nodes, memory and hugepage sizes from h (the host the engine has
 * probed already), NIC names, MACs and SR-IOV totals, whether an IOMMU is
 * on; the rest stays unknown.  The engine's warnings take this instead of
 * the whole probe (IRQs, disks, DMI, ...).  Pairs with kf_facts_release. */
struct kf_hostinfo;
void kf_facts_probe_check(struct kf_facts *f, const struct kf_hostinfo *h);

/* The facts URL that goes with an agent's report URL: .../cb/HOST/report?Q
 * gives .../facts/HOST?Q (malloc'd); NULL for any other URL. */
char *kf_facts_url(const char *report_url);
/* Probes the facts and POSTs them to kf_facts_url(report_url); 0 without
 * doing anything when there is no such URL. */
int kf_facts_post(const char *report_url, const char *cacert, struct kf_err *e);

#endif
