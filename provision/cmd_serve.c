/* kickfleet serve: the HTTP service in the foreground until SIGINT or
 * SIGTERM; SIGHUP reloads the inventory and the TLS certificate. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "provision/api.h"
#include "provision/cmd.h"
#include "provision/serve.h"
#include "provision/serve_cli.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet serve [-f FLEET] [-o DIR] [--listen ADDR:PORT] [OPTIONS]\n"
	      "\n"
	      "Serves kickstarts, profiles, callbacks, iPXE scripts, boot files and the agent\n"
	      "over HTTP (URLs: docs/http.md), and HTTPS with a certificate, in the\n"
	      "foreground.  SIGHUP reloads the inventory and the TLS certificate and key;\n"
	      "SIGINT or SIGTERM stops.\n"
	      "\n"
	      "  -f, --fleet FILE      inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --dir DIR         the tree of `kickfleet render -o DIR`\n"
	      "  -l, --listen A:P      address and port (default provisioner.address:http_port)\n"
	      "      --agent FILE      the agent binary served at /agent/kickfleet-agent\n"
	      "      --api-tokens FILE admin tokens of the API and the page, /api/v1/ and /ui/\n"
	      "                        (default " KF_API_DEFAULT_TOKENS " when it exists; docs/api.md)\n"
	      "      --threads N       worker threads (default: two per CPU it may run on)\n"
	      "      --timeout SEC     close connections idle this long (default 30)\n"
	      KF_SERVE_LIMITS_HELP KF_SERVE_SEGMENT_HELP KF_SERVE_TLS_HELP KF_SERVE_USER_HELP
	      "  -v, --verbose         log every refusal and debug lines\n"
	      "  -h, --help            this help\n",
	      f);
}

int kf_serve_parse_listen(const char *arg, struct kf_serve_opts *o, char *addr, size_t len)
{
	const char *colon = strrchr(arg, ':');
	if (!colon) {
		snprintf(addr, len, "%s", arg);
		o->listen_addr = addr;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == 0 || port > 65535)
		return -EINVAL;
	if ((size_t)(colon - arg) >= len)
		return -EINVAL;
	memcpy(addr, arg, (size_t)(colon - arg));
	addr[colon - arg] = 0;
	o->listen_addr = *addr ? addr : NULL;
	o->listen_port = (unsigned)port;
	o->port_set = true;
	return 0;
}

/* A count option: 1..max, or -1. */
static long count_arg(const char *s, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return errno || end == s || *end || v < 1 || v > max ? -1 : v;
}

/* --client-conns, --request-timeout, --callback-rate, --auth-rate: a
 * count, 0 meaning no limit (no deadline for --request-timeout). */
static int limit_opt(struct kf_serve_cli *c, int ch, const char *arg)
{
	static const struct {
		int ch;
		const char *name;
		long max;
	} opts[] = { { 'C', "client-conns", 65535 }, { 'R', "request-timeout", 86400 },
		     { 'B', "callback-rate", 1000000 }, { 'U', "auth-rate", 1000000 } };
	size_t i = 0;
	while (opts[i].ch != ch)
		i++;
	long v = !strcmp(arg, "0") ? 0 : count_arg(arg, opts[i].max);
	if (v < 0) {
		fprintf(stderr, "kickfleet: bad --%s \"%s\" (0 to %ld)\n", opts[i].name, arg, opts[i].max);
		return -EINVAL;
	}
	unsigned u = v ? (unsigned)v : KF_HTTPD_UNLIMITED;
	switch (ch) {
	case 'C': c->o.client_conns = u; break;
	case 'R': c->o.request_timeout = u; break;
	case 'B': c->o.rate[KF_LIMIT_CALLBACK] = u; break;
	default: c->o.rate[KF_LIMIT_AUTH] = u; break;
	}
	return 0;
}

/* --tls-listen ADDR:PORT or :PORT, parsed like --listen. */
static int tls_listen(const char *arg, struct kf_serve_cli *c)
{
	struct kf_serve_opts o = { 0 };
	if (kf_serve_parse_listen(arg, &o, c->tls_addr, sizeof(c->tls_addr)) < 0 || !o.port_set) {
		fprintf(stderr, "kickfleet: bad --tls-listen \"%s\" (ADDR:PORT)\n", arg);
		return -EINVAL;
	}
	c->o.tls_addr = o.listen_addr;
	c->o.tls_port = o.listen_port;
	return 0;
}

int kf_serve_cli(int argc, char **argv, struct kf_serve_cli *c, void (*usage_fn)(FILE *))
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		{ "dir", required_argument, NULL, 'o' },
		{ "listen", required_argument, NULL, 'l' },
		{ "agent", required_argument, NULL, 'A' },
		{ "api-tokens", required_argument, NULL, 'K' },
		{ "threads", required_argument, NULL, 'T' },
		{ "timeout", required_argument, NULL, 't' },
		{ "client-conns", required_argument, NULL, 'C' },
		{ "request-timeout", required_argument, NULL, 'R' },
		{ "callback-rate", required_argument, NULL, 'B' },
		{ "auth-rate", required_argument, NULL, 'U' },
		{ "tls-cert", required_argument, NULL, 'X' },
		{ "tls-key", required_argument, NULL, 'Y' },
		{ "tls-listen", required_argument, NULL, 'Z' },
		{ "user", required_argument, NULL, 'u' },
		{ "segment", required_argument, NULL, 'G' },
		{ "standby", no_argument, NULL, 'W' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int ch;
	c->fleet = KF_DEFAULT_FLEET;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:o:l:u:vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': c->fleet = optarg; break;
		case 'o': c->o.outdir = optarg; break;
		case 'l':
			if (kf_serve_parse_listen(optarg, &c->o, c->addr, sizeof(c->addr)) < 0) {
				fprintf(stderr, "kickfleet: bad --listen \"%s\" (ADDR:PORT)\n", optarg);
				return 1;
			}
			break;
		case 'A': c->o.agent_path = optarg; break;
		case 'K': c->o.api_tokens = optarg; break;
		case 'T': {
			long n = count_arg(optarg, 1024);
			if (n < 0) {
				fprintf(stderr, "kickfleet: bad --threads \"%s\" (1 to 1024)\n", optarg);
				return 1;
			}
			c->o.threads = (unsigned)n;
			break;
		}
		case 't': c->o.timeout = (unsigned)atoi(optarg); break;
		case 'C':
		case 'R':
		case 'B':
		case 'U':
			if (limit_opt(c, ch, optarg) < 0)
				return 1;
			break;
		case 'G': c->o.segment = optarg; break;
		case 'W': c->o.standby = true; break;
		case 'X': c->o.tls_cert = optarg; break;
		case 'Y': c->o.tls_key = optarg; break;
		case 'Z':
			if (tls_listen(optarg, c) < 0)
				return 1;
			break;
		case 'u': c->user = optarg; break;
		case 'v': kf_log_level = KF_LOG_DEBUG; break;
		case 'h': usage_fn(stdout); return 0;
		default: usage_fn(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage_fn(stderr);
		return 1;
	}
	if (!c->o.tls_cert != !c->o.tls_key) {
		fputs("kickfleet: --tls-cert and --tls-key go together\n", stderr);
		return 1;
	}
	c->o.fleet = c->fleet; /* the API's enlist edits it, then reloads */
	return -1;
}

void kf_serve_cli_tls_reload(struct kf_serve *s, const struct kf_serve_cli *c)
{
	struct kf_err e = KF_ERR_INIT;
	if (kf_serve_tls_reload(s, &e) < 0) {
		kf_err_print(&e, stderr);
		kf_log(KF_LOG_ERR, "serve: keeping the previous TLS certificate");
	} else if (kf_serve_tls_port(s)) {
		kf_log(KF_LOG_INFO, "serve: new TLS connections get %s", c->o.tls_cert);
	}
	kf_err_release(&e);
}

int kf_serve_cli_user(const struct kf_serve_cli *c, const struct kf_inventory *inv,
		      struct kf_priv *p)
{
	struct kf_err e = KF_ERR_INIT;
	int r = kf_priv_choose(c->user, inv->provisioner->user, p, &e);
	if (r < 0)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	return r;
}

int kf_serve_cli_drop(struct kf_serve *s, const struct kf_priv *p)
{
	const char *dirs[] = { kf_serve_state_dir(s), kf_serve_http_root(s), kf_serve_tftp_root(s) };
	struct kf_err e = KF_ERR_INIT;
	int r = kf_priv_own(p, dirs, KF_ARRAY_SIZE(dirs), &e);
	if (r == 0)
		r = kf_priv_drop(p, &e);
	if (r == 0) { /* as their owner */
		kf_priv_private_state(kf_serve_state_dir(s));
		kf_httpd_release(); /* the first request is answered by the user */
	}
	if (r < 0) {
		kf_err_print(&e, stderr);
		kf_log(KF_LOG_ERR, "stopping: cannot run as %s", p->user);
	}
	kf_err_release(&e);
	return r;
}

int kf_serve_load(const struct kf_serve_cli *c, struct kf_inventory **inv)
{
	struct kf_err e = KF_ERR_INIT;
	int r = kf_inventory_load_segment(inv, c->fleet, c->o.segment, c->o.standby, &e);
	if (r < 0)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	return r;
}

int kf_serve_check_profiles(struct kf_serve *s)
{
	const struct kf_inventory *inv = kf_serve_inv_get(s);
	int bad = 0;
	/* a host without guests is served its role's profile: one check per role */
	const char **seen = kf_xcalloc(inv->roles.n + 1, sizeof(*seen));
	size_t nseen = 0;
	for (size_t i = 0; i < inv->hosts.n; i++) {
		const struct kf_i_host *h = KF_LIST_AT(inv->hosts, struct kf_i_host, i);
		bool has_guests = false, role_seen = false;
		for (size_t j = 0; j < inv->guests.n && !has_guests; j++)
			has_guests = !strcmp(KF_LIST_AT(inv->guests, struct kf_i_guest, j)->host, h->name);
		for (size_t j = 0; j < nseen && !role_seen; j++)
			role_seen = !strcmp(seen[j], h->role);
		if (!has_guests && role_seen)
			continue;
		if (!has_guests && nseen < inv->roles.n)
			seen[nseen++] = h->role;
		struct kf_err e = KF_ERR_INIT;
		char *yaml = NULL;
		int r = kf_serve_compose_profile(inv, h->name, NULL, &yaml, &e);
		if (r < 0 && r != -ENOENT) {
			kf_log(KF_LOG_ERR, "serve: the composed profile of %s does not validate:", h->name);
			kf_err_print(&e, stderr);
			bad++;
		}
		free(yaml);
		kf_err_release(&e);
	}
	kf_serve_inv_put(s);
	free(seen);
	return bad;
}

int cmd_serve(int argc, char **argv)
{
	struct kf_serve_cli c = { 0 };
	int rc = kf_serve_cli(argc, argv, &c, usage);
	if (rc >= 0)
		return rc;
	/* signals are taken by sigwait in this thread; workers never see them */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct kf_inventory *inv = NULL;
	if (kf_serve_load(&c, &inv) < 0)
		return 1;
	struct kf_priv priv;
	if (kf_serve_cli_user(&c, inv, &priv) < 0) {
		kf_inventory_free(inv);
		return 1;
	}
	c.o.render = kf_serve_render_default;
	struct kf_err e = KF_ERR_INIT;
	struct kf_serve *s = NULL;
	kf_httpd_hold(); /* kf_serve_cli_drop opens it */
	if (kf_serve_start(&s, inv, &c.o, &e) < 0 || kf_serve_cli_drop(s, &priv) < 0) {
		kf_err_print(&e, stderr);
		kf_err_release(&e);
		kf_serve_free(s);
		kf_inventory_free(inv);
		return 1;
	}
	kf_serve_check_profiles(s);
	kf_log(KF_LOG_INFO, "serve: listening on http://%s:%u (state %s)", kf_serve_addr(s),
	       kf_serve_port(s), kf_serve_state_dir(s));
	if (kf_serve_tls_port(s))
		kf_log(KF_LOG_INFO, "serve: listening on https://%s:%u (certificate %s)",
		       c.o.tls_addr ? c.o.tls_addr : kf_serve_addr(s), kf_serve_tls_port(s), c.o.tls_cert);
	int sig;
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		kf_serve_cli_tls_reload(s, &c);
		struct kf_inventory *ninv = NULL;
		if (kf_serve_load(&c, &ninv) < 0) {
			kf_log(KF_LOG_ERR, "serve: %s does not load, keeping the previous inventory", c.fleet);
			continue;
		}
		kf_inventory_free(kf_serve_reload(s, ninv));
		inv = ninv;
		kf_serve_check_profiles(s);
		kf_log(KF_LOG_INFO, "serve: reloaded %s", c.fleet);
	}
	kf_log(KF_LOG_INFO, "serve: stopping (%s)", strsignal(sig));
	kf_serve_free(s);
	kf_inventory_free(inv);
	kf_err_release(&e);
	return 0;
}
