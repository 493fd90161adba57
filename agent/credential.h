/* The agent's credential (agent/credential.c): the secret it proves
 * itself with to the provisioner's profile, report and facts routes, in
 * a root-only file (/etc/kickfleet/agent.credential, one line, mode 0600)
 * that the install's kickstart %post writes.  agent/http.c sends it as
 * "Authorization: Bearer CRED" and, when the provisioner hands out a new
 * one (kickfleet token rotate), keeps that one here.  docs/security.md. */
#ifndef KF_AGENT_CREDENTIAL_H
#define KF_AGENT_CREDENTIAL_H

#include "err.h"

#define KF_AGENT_CRED_DEFAULT "/etc/kickfleet/agent.credential"
#define KF_AGENT_CRED_LEN 64 /* lower-case hex */

/* The file to read (a host path, through the sysroot): path, else
 * $KICKFLEET_CREDENTIAL, else KF_AGENT_CRED_DEFAULT.  Before the first
 * request. */
void kf_agent_cred_file(const char *path);
/* The credential, read at first use; NULL when the file is missing or
 * does not hold one (requests then go without). */
const char *kf_agent_cred(void);
/* Whether s is a well-formed credential (KF_AGENT_CRED_LEN hex digits). */
int kf_agent_cred_ok(const char *s);
/* Replaces the file's credential with cred (written to a temp file, mode
 * 0600, renamed) and uses it from now on; on failure the old one stays in
 * use and e says why. */
int kf_agent_cred_replace(const char *cred, struct kf_err *e);

#endif
