/* `kickfleet serve`: the provisioner's HTTP service on top of
 * provision/http.h: per-host kickstarts and profiles behind the host's
 * token, callbacks that move install states, iPXE scripts decided at
 * request time, static trees, the agent binary, /healthz and /metrics.
 * URL shapes: docs/http.md.
 *
 * One struct kf_serve is shared by the HTTP worker threads; the inventory
 * it reads can be swapped (SIGHUP in `kickfleet up`) with kf_serve_reload.
 * The state store is opened once per worker thread. */
#ifndef KF_PROVISION_SERVE_H
#define KF_PROVISION_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "inventory.h"
#include "provision/http.h"
#include "provision/state.h"

struct kf_serve;

/* The HTTPS port when neither --tls-listen nor provisioner.tls.port says. */
#define KF_SERVE_TLS_PORT 8443

/* Re-renders one host's boot files after a state change (installed, or
 * marked for reinstall), whatever its digest says when force is set (a
 * change another instance made: the digest in a shared store is that
 * instance's); sets *need_hup when dnsmasq must re-read its files.
 * Returns 0 or a negative errno with a message in e. */
typedef int (*kf_serve_render_fn)(struct kf_serve *s, const struct kf_inventory *inv,
				  const char *host, bool force, bool *need_hup, struct kf_err *e);

struct kf_serve_opts {
	const char *listen_addr;  /* NULL: the inventory's provisioner.address */
	unsigned listen_port;     /* 0 with port_set: any free port */
	bool port_set;            /* false: the inventory's http_port */
	const char *outdir;       /* render -o DIR: DIR, DIR/http, DIR/tftp */
	const char *state_dir;    /* NULL: provisioner.state_dir */
	const char *http_root;    /* NULL: provisioner.http_root */
	const char *tftp_root;    /* NULL: provisioner.tftp_root */
	const char *agent_path;   /* NULL: kickfleet-agent beside this program */
	unsigned threads;         /* 0: kf_httpd_default_threads() */
	unsigned timeout;         /* idle seconds before a connection is closed; 0: 30 */
	unsigned client_conns;    /* connections per client address; 0: 128,
				   * KF_HTTPD_UNLIMITED: no limit */
	unsigned request_timeout; /* seconds a request may take to arrive; 0: 20 */
	/* a minute's worth; 0: the default, KF_HTTPD_UNLIMITED: no limit */
	unsigned rate[3];         /* indexed by enum kf_serve_limit */
	kf_serve_render_fn render;/* NULL: the built-in renderer hook (see serve.c) */
	pid_t dnsmasq_pid;        /* > 0: SIGHUP it when a render asks for it */
	const char *api_tokens;   /* admin tokens of /api/ and /ui/ (NULL: the default, docs/api.md) */
	const char *tls_cert;     /* PEM certificate file: a second, HTTPS listener
				   * (NULL: the inventory's provisioner.tls, if any) */
	const char *tls_key;      /* its key file (root-only: mode 0600 or stricter) */
	const char *tls_addr;     /* NULL: the plain listener's address */
	unsigned tls_port;        /* 0: provisioner.tls.port, else KF_SERVE_TLS_PORT */
	const char *fleet;        /* the inventory's file: the API's enlist edits it and
				   * kf_serve_reload_fleet reads it (NULL: neither) */
	const char *segment;      /* serve this segment's hosts only (NULL: every host,
				   * or the standby's segment) */
	bool standby;             /* as the segment's standby (docs/scale.md) */
	bool external;            /* no socket: kf_serve_http's kf_httpd_add and
				   * kf_httpd_run drive it (fuzzing) */
};

/* Opens the state store, registers hosts the state does not know yet
 * (kf_state_sync_inventory) and starts listening.  inv stays owned by the
 * caller until kf_serve_free or a kf_serve_reload that replaces it (the old
 * one is returned to the caller to free).  An inventory the server read
 * itself (kf_serve_reload_fleet) is the server's.  Returns 0 or a negative
 * errno. */
int kf_serve_start(struct kf_serve **out, struct kf_inventory *inv,
		   const struct kf_serve_opts *o, struct kf_err *e);
/* Stops the HTTP server and frees s (NULL is fine); the inventory is the
 * caller's. */
void kf_serve_free(struct kf_serve *s);
/* Replaces the inventory; returns the one the caller gave before (free
 * it), whether or not the server read a newer one since. */
struct kf_inventory *kf_serve_reload(struct kf_serve *s, struct kf_inventory *inv);
/* Reads the inventory file (o->fleet) again and swaps it in, as SIGHUP
 * does: after the API edited it (enlist).  Waits for the handlers that
 * read the inventory: never call it while holding kf_serve_inv_get.
 * -ENOTSUP without a file; a file that does not load keeps the old one. */
int kf_serve_reload_fleet(struct kf_serve *s, struct kf_err *e);
/* The inventory's file (NULL: not given). */
const char *kf_serve_fleet(const struct kf_serve *s);
/* Runs fn(s, arg) while no handler reads the inventory or changes a
 * host's state (e.g. a full render that rewrites state rows).  Inside fn,
 * kf_serve_swap_locked may replace the inventory (returns the old one). */
int kf_serve_exclusive(struct kf_serve *s, int (*fn)(struct kf_serve *s, void *arg), void *arg);
struct kf_inventory *kf_serve_swap_locked(struct kf_serve *s, struct kf_inventory *inv);
/* Reads the certificate and key files of opts.tls_cert/tls_key again and
 * serves new HTTPS connections with them (SIGHUP); the old pair stays on
 * an error.  0 (also without TLS) or a negative errno with e set. */
int kf_serve_tls_reload(struct kf_serve *s, struct kf_err *e);
/* The HTTPS port bound (0: no TLS listener). */
unsigned kf_serve_tls_port(const struct kf_serve *s);
/* Reads a certificate (cert_path) and its key (key_path, which must be
 * owned by this user and readable by no one else) as PEM text.  0 with
 * *cert and *key (free them; the key is wiped by kf_serve_tls_wipe) or a
 * negative errno with e set (serve_tls.c). */
int kf_serve_tls_read(const char *cert_path, const char *key_path, char **cert, char **key,
		      struct kf_err *e);
void kf_serve_tls_wipe(char *key);
/* The port and address actually bound. */
unsigned kf_serve_port(const struct kf_serve *s);
const char *kf_serve_addr(const struct kf_serve *s);
/* The HTTP server underneath (for an external one's kf_httpd_add/run). */
struct kf_httpd *kf_serve_http(struct kf_serve *s);
/* dnsmasq's pid for SIGHUP after renders (0: none). */
void kf_serve_set_dnsmasq(struct kf_serve *s, pid_t pid);

/* Directories in use (as given); outdir is NULL without -o. */
const char *kf_serve_state_dir(const struct kf_serve *s);
const char *kf_serve_outdir(const struct kf_serve *s);

/* The render hook for kickfleet's own renderer (serve_render.c):
 * kf_render_host() with the server's state connection and outdir. */
int kf_serve_render_default(struct kf_serve *s, const struct kf_inventory *inv, const char *host,
			    bool force, bool *need_hup, struct kf_err *e);

/* ---- used by the route files (serve_*.c, callbacks.c) ---- */

/* Read access to the inventory for the length of a request. */
const struct kf_inventory *kf_serve_inv_get(struct kf_serve *s);
void kf_serve_inv_put(struct kf_serve *s);
/* The calling thread's state store connection (opened on first use). */
struct kf_state *kf_serve_state(struct kf_serve *s, struct kf_err *e);
/* Base URL clients use (provisioner.url or http://ADDRESS:PORT). */
const char *kf_serve_base_url(const struct kf_serve *s);
const char *kf_serve_http_root(const struct kf_serve *s);
const char *kf_serve_tftp_root(const struct kf_serve *s);

/* Checks a request against host's secrets; on success fills rec (release
 * it).  install_phase: a route the installer uses (kickstart, installing,
 * installed): the install token in ?token=, accepted only while the
 * install is open (until the "installed" callback clears netboot).  Else an agent route (profile,
 * report, facts): kf_serve_auth_agent.  On failure answers 403 (429, 503)
 * itself, logs one line naming the request, the host and why, and returns
 * a negative errno. */
int kf_serve_auth(struct kf_serve *s, struct kf_httpd_req *rq, const char *host,
		  bool install_phase, struct kf_host_rec *rec);
/* The agent credential in "Authorization: Bearer CRED" (never a query:
 * it stays out of access logs).  The next credential of a rotation is
 * accepted and picked up (the old one refused from then on); the current
 * one is refused once the rotation is older than provisioner.token_ttl
 * (when set).  *rotating (may be NULL): a rotation waits for this agent
 * (the profile route hands the new credential out). */
int kf_serve_auth_agent(struct kf_serve *s, struct kf_httpd_req *rq, const char *host,
			struct kf_host_rec *rec, bool *rotating);
/* The response header that carries a rotated agent credential. */
#define KF_CRED_HEADER "X-Kickfleet-Credential"
/* host's row and credential (release rec), from the calling thread's
 * cache while the store has not changed (provision/serve.c). */
int kf_serve_lookup(struct kf_serve *s, const char *host, struct kf_host_rec *rec,
		    struct kf_cred *cred, struct kf_err *e);
/* The kickstart in fd (size bytes) with the install's agent credential in
 * place of each KF_AGENT_CRED_MARK (minted at the first fetch of the
 * install): *out malloc'd.  0 or a negative errno (logged). */
int kf_serve_ks_text(struct kf_serve *s, const char *host, int fd, uint64_t size, char **out,
		     size_t *len);
/* A rotation waits for host's agent: mints the new credential and adds it
 * to rq's answer in KF_CRED_HEADER; the agent keeps it, and its first use
 * ends the rotation (kf_serve_auth_agent). */
void kf_serve_hand_out_cred(struct kf_serve *s, struct kf_httpd_req *rq, const char *host);
/* Every state change the server makes calls this first (it invalidates
 * the per-thread token caches). */
void kf_serve_wrote(struct kf_serve *s);
/* The server's rate limits (provision/ratelimit.h), per minute. */
enum kf_serve_limit {
	KF_LIMIT_DISCOVERY, /* discovery posts per client address (30) */
	KF_LIMIT_CALLBACK,  /* callbacks and facts per host (60) */
	KF_LIMIT_AUTH,      /* failed token checks per client address (30): callbacks,
			     * API tokens and sessions, the login form */
};
/* Answers 429 "too many ..." naming the limit. */
void kf_serve_reply_limited(struct kf_httpd_req *rq, enum kf_serve_limit which);
/* Counts one event of key against the limit; over it, answers 429, logs
 * the first refusal of the minute, counts it in /metrics and returns
 * false. */
bool kf_serve_rate_ok(struct kf_serve *s, struct kf_httpd_req *rq, enum kf_serve_limit which,
		      const char *key);
/* Token guessing (KF_LIMIT_AUTH, per client address), for every check of
 * a secret a client sends (callbacks' tokens, API tokens, the login
 * form): false when rq's address failed too often this minute (counted in
 * /metrics, logged once a minute, Retry-After set; the caller answers 429
 * and checks nothing); kf_serve_auth_failed counts one failure. */
bool kf_serve_auth_allowed(struct kf_serve *s, struct kf_httpd_req *rq);
void kf_serve_auth_failed(struct kf_serve *s, struct kf_httpd_req *rq);
/* Valid host names: [A-Za-z0-9._-], 1..253, not starting with '.'. */
bool kf_serve_name_ok(const char *name);
/* Re-renders host's boot files (render hook) and signals dnsmasq when
 * asked; errors are logged, never fatal to the request. */
int kf_serve_rerender(struct kf_serve *s, const struct kf_inventory *inv, const char *host);
/* The same whatever the host's digest says (a change another instance
 * made). */
int kf_serve_rerender_forced(struct kf_serve *s, const struct kf_inventory *inv, const char *host);

/* The thread that hears other instances' changes in a shared store
 * (provision/serve_watch.c): started by kf_serve_start when the store at
 * where sends notices (PostgreSQL; *out stays NULL for SQLite), stopped
 * by kf_serve_free. */
struct kf_serve_watch;
int kf_serve_watch_start(struct kf_serve *s, const char *where, struct kf_serve_watch **out,
			 struct kf_err *e);
void kf_serve_watch_stop(struct kf_serve_watch *w);

/* Composes the profile served to host (serve_profile.c): its role's
 * profile; for a KVM host, its inventory guests merged with their roles'
 * host_tuning; agent.report pointing at its report callback when the
 * profile names none.  Returns 0 with *yaml (malloc'd), -ENOENT (no such
 * host or no profile), or -EINVAL with the reasons in e. */
int kf_serve_compose_profile(const struct kf_inventory *inv, const char *host,
			     const char *report_url, char **yaml, struct kf_err *e);

/* Route handlers of callbacks.c. */
void kf_serve_cb(struct kf_httpd_req *rq, void *ctx);
/* POST /facts/HOST?token=T and POST /discover?mac=MAC (provision/serve_facts.c) */
void kf_serve_facts(struct kf_httpd_req *rq, void *ctx);
void kf_serve_discover(struct kf_httpd_req *rq, void *ctx);
#define KF_DISCOVER_MAX_BODY (64 * 1024)

/* Reads an agent report (JSON text) into ri: drift and failures decide
 * configured / drifted / failed; the agent's version and exit code when it
 * says them (callbacks.c).  Returns 0, or -EINVAL with a message (bad
 * JSON, no summary). */
int kf_report_parse(const char *json, size_t len, struct kf_report_info *ri, struct kf_err *e);

#endif
