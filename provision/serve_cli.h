/* Options shared by `kickfleet serve` and `kickfleet up` (cmd_serve.c). */
#ifndef KF_PROVISION_SERVE_CLI_H
#define KF_PROVISION_SERVE_CLI_H

#include <stdio.h>

#include "provision/privdrop.h"
#include "provision/serve.h"

/* The limits' lines of serve's and up's --help. */
#define KF_SERVE_LIMITS_HELP                                                                   \
	"      --client-conns N  connections one client address may hold (default 128, 0: no limit)\n" \
	"      --request-timeout SEC  a request must arrive within SEC (default 20)\n"          \
	"      --callback-rate N callbacks and facts per host a minute (default 60, 0: no limit)\n" \
	"      --auth-rate N     failed token checks per client address a minute before 429\n"  \
	"                        (default 30, 0: no limit)\n"

#define KF_SERVE_SEGMENT_HELP                                                                  \
	"      --segment NAME    serve that segment's hosts only, on its network (default: the\n" \
	"                        provisioner's own; docs/scale.md)\n" \
	"      --standby         as the segment's standby: its address and half of the pool\n"

#define KF_SERVE_TLS_HELP                                                                      \
	"      --tls-cert FILE   PEM certificate (chain): an HTTPS listener beside the plain one\n" \
	"                        (default provisioner.tls.cert)\n"                            \
	"      --tls-key FILE    its PEM key, owned by this user and mode 600 (SIGHUP reads both again)\n" \
	"      --tls-listen A:P  the HTTPS address and port (default: the plain address,\n"                 \
	"                        provisioner.tls.port or 8443)\n"

/* The privilege line of serve's and up's --help. */
#define KF_SERVE_USER_HELP                                                                     \
	"  -u, --user USER       run as USER after binding (default provisioner.user, else\n"   \
	"                        " KF_PRIV_DEFAULT_USER " when it exists; root: stay root)\n"

struct kf_serve_cli {
	const char *fleet;
	const char *user; /* --user */
	struct kf_serve_opts o;
	char addr[64];
	char tls_addr[64];
};

/* Parses serve's options into c.  Returns -1 to go on, or an exit code
 * (0 after --help, 1 on a usage error). */
int kf_serve_cli(int argc, char **argv, struct kf_serve_cli *c, void (*usage_fn)(FILE *));
/* "ADDR:PORT", ":PORT" or "ADDR" into o (addr: storage of len bytes). */
int kf_serve_parse_listen(const char *arg, struct kf_serve_opts *o, char *addr, size_t len);
/* SIGHUP: reads the TLS certificate and key again (kf_serve_tls_reload),
 * logging the outcome; nothing without TLS. */
void kf_serve_cli_tls_reload(struct kf_serve *s, const struct kf_serve_cli *c);
/* Decides whom the server runs as after start (kf_priv_choose with
 * --user and provisioner.user), printing an error; 0 or a negative errno. */
int kf_serve_cli_user(const struct kf_serve_cli *c, const struct kf_inventory *inv,
		      struct kf_priv *p);
/* After start (with kf_httpd_hold from before it): the state, HTTP and
 * TFTP trees the user's, the switch (kf_priv_drop), the state database
 * private, then kf_httpd_release; prints an error; 0 or a negative errno
 * (the caller stops). */
int kf_serve_cli_drop(struct kf_serve *s, const struct kf_priv *p);
/* Loads the inventory (c->fleet) with its segment selected (--segment,
 * --standby), printing every error; 0 or a negative errno. */
int kf_serve_load(const struct kf_serve_cli *c, struct kf_inventory **inv);
/* Composes every host's profile once and logs those that do not validate
 * (they would be served as 500). Returns how many failed. */
int kf_serve_check_profiles(struct kf_serve *s);

#endif
