/* `kickfleet serve`: the routes and the shared server context (serve.h).
 * Callbacks live in callbacks.c, profile composition in serve_profile.c. */
#include "provision/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "facts.h"
#include "provision/api.h"
#include "provision/distro.h"
#include "provision/ratelimit.h"
#include "provision/render.h"
#include "provision/state_extra.h"
#include "sha256.h"
#include "types.h"
#include "util.h"

#define CB_MAX_BODY (64 * 1024)

struct tok_entry;

struct conn_list {
	struct kf_state *st;
	struct tok_cache *cache;
	struct conn_list *next;
};

/* A per-thread cache of (token, state, netboot, agent credential) by host
 * name, so that the
 * kickstart path does not ask SQLite on every request.  An entry is valid
 * while the state store has not changed: the server's own writes bump
 * s->writes, other processes' (render, netboot) change the database and
 * WAL files' size or mtime; and for at most CACHE_SECONDS in any case.
 * Each thread looks at those two files (stat) at most once per
 * STAT_EVERY_NS, not on every request: another process's change is seen
 * within a millisecond, the server's own at once. */
#define CACHE_SLOTS 1024
#define CACHE_SECONDS 1
#define STAT_EVERY_NS 1000000ULL
struct tok_entry {
	uint64_t ver;
	time_t at;
	char name[64];
	char token[KF_TOKEN_HEX + 1];
	int state, netboot, kind;
	struct kf_cred cred;
};

struct tok_cache {
	uint64_t ver;     /* the store's version, as last computed */
	uint64_t writes;  /* s->writes at that time */
	uint64_t stat_at; /* CLOCK_MONOTONIC ns of the files' last stat; 0: never */
	struct tok_entry slot[CACHE_SLOTS];
};

struct kf_serve {
	pthread_rwlock_t inv_lock;
	struct kf_inventory *inv;
	struct kf_inventory *given; /* the caller's last: inv unless the server read its own */
	char *fleet;                /* the inventory's file (NULL: not given) */
	char *segment;              /* kf_serve_opts.segment, for reloads */
	bool standby;
	pthread_mutex_t reload_lock; /* one kf_serve_reload_fleet at a time */
	char *outdir, *state_dir, *state_path, *http_root, *tftp_root, *agent_path;
	char *base_url;
	char addr[64];
	struct kf_httpd *http;
	struct kf_httpd *https;      /* NULL: no TLS listener */
	char *tls_cert, *tls_key;    /* their files, read again on reload */
	char *tls_base_url;          /* https://ADDRESS:PORT */
	pthread_key_t st_key;
	pthread_mutex_t conns_lock;
	struct conn_list *conns;
	kf_serve_render_fn render;
	pid_t dnsmasq_pid;
	int http_fd, tftp_fd; /* the roots, opened once (-1: by path each time) */
	char *wal_path;
	uint64_t writes;      /* bumped by every state change this server makes */
	pthread_key_t cache_key;
	time_t started;
	struct kf_rate *rate[3];    /* enum kf_serve_limit */
	uint64_t rate_refused[3];
	struct kf_api *api;   /* /api/ and /ui/ */
	struct kf_serve_watch *watch; /* other instances' changes (PostgreSQL) */
};

static const struct {
	const char *name, *what;
	unsigned def;
} limits[3] = {
	[KF_LIMIT_DISCOVERY] = { "discovery", "discovery posts from this address", 30 },
	[KF_LIMIT_CALLBACK] = { "callback", "callbacks of this host", 60 },
	[KF_LIMIT_AUTH] = { "auth", "failed token checks from this address", 30 },
};

static void h_healthz(struct kf_httpd_req *rq, void *ctx);
static void h_metrics(struct kf_httpd_req *rq, void *ctx);
static void h_ks(struct kf_httpd_req *rq, void *ctx);
static void h_profile(struct kf_httpd_req *rq, void *ctx);
static void h_agent(struct kf_httpd_req *rq, void *ctx);
static void h_ipxe(struct kf_httpd_req *rq, void *ctx);
static void h_boot(struct kf_httpd_req *rq, void *ctx);
static void h_trees(struct kf_httpd_req *rq, void *ctx);
static void h_repo(struct kf_httpd_req *rq, void *ctx);
static void h_distros(struct kf_httpd_req *rq, void *ctx);

/* The routing table: most specific first. */
static const struct kf_httpd_route routes[] = {
	{ "healthz", KF_HTTPD_GET, "/healthz", h_healthz, 0, 0 },
	{ "metrics", KF_HTTPD_GET, "/metrics", h_metrics, 0, 0 },
	{ "ks", KF_HTTPD_GET, "/ks/", h_ks, 0, 0 },
	{ "profile", KF_HTTPD_GET, "/profile/", h_profile, 0, 0 },
	{ "callback", KF_HTTPD_POST, "/cb/", kf_serve_cb, CB_MAX_BODY, 0 },
	{ "facts", KF_HTTPD_POST, "/facts/", kf_serve_facts, KF_FACTS_MAX_BYTES, 0 },
	{ "discover", KF_HTTPD_POST, "/discover", kf_serve_discover, KF_DISCOVER_MAX_BODY, 0 },
	{ "agent", KF_HTTPD_GET, "/agent/kickfleet-agent", h_agent, 0, 0 },
	{ "ipxe", KF_HTTPD_GET, "/ipxe/", h_ipxe, 0, 0 },
	{ "boot", KF_HTTPD_GET, "/boot/", h_boot, 0, 0 },
	{ "trees", KF_HTTPD_GET, "/trees/", h_trees, 0, 0 },
	{ "repo", KF_HTTPD_GET, "/repo/", h_repo, 0, 0 },
	{ "distros", KF_HTTPD_GET, "/distros/", h_distros, 0, 0 },
	{ "api", KF_HTTPD_GET | KF_HTTPD_POST, "/api/", kf_api_handle, KF_API_MAX_BODY, KF_HTTPD_JSON },
	{ "ui", KF_HTTPD_GET | KF_HTTPD_POST, "/ui/", kf_ui_handle, KF_API_MAX_BODY, 0 },
};

/* ---- shared context ---- */

const struct kf_inventory *kf_serve_inv_get(struct kf_serve *s)
{
	pthread_rwlock_rdlock(&s->inv_lock);
	return s->inv;
}

void kf_serve_inv_put(struct kf_serve *s)
{
	pthread_rwlock_unlock(&s->inv_lock);
}

/* inv in, under the write lock: the one the server read before it is
 * freed, the caller's (given) is the caller's to free. */
static struct kf_inventory *swap_in(struct kf_serve *s, struct kf_inventory *inv, bool from_caller)
{
	struct kf_inventory *old = s->inv, *prev = s->given;
	s->inv = inv;
	if (from_caller)
		s->given = inv;
	if (old != prev)
		kf_inventory_free(old);
	return from_caller ? prev : NULL;
}

/* After a new inventory: hosts new to the store, the API's snapshot. */
static void after_reload(struct kf_serve *s, const struct kf_inventory *inv)
{
	struct kf_state *st = kf_serve_state(s, NULL);
	struct kf_err e = KF_ERR_INIT;
	if (st && kf_state_sync_inventory(st, inv, &e) < 0)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	kf_api_poke(s->api);
}

struct kf_inventory *kf_serve_reload(struct kf_serve *s, struct kf_inventory *inv)
{
	pthread_rwlock_wrlock(&s->inv_lock);
	struct kf_inventory *old = swap_in(s, inv, true);
	pthread_rwlock_unlock(&s->inv_lock);
	after_reload(s, inv);
	return old;
}

int kf_serve_reload_fleet(struct kf_serve *s, struct kf_err *e)
{
	if (!s->fleet)
		return kf_errc(e, -ENOTSUP, NULL, "serve: no inventory file to read again");
	pthread_mutex_lock(&s->reload_lock);
	struct kf_inventory *inv = NULL;
	int r = kf_inventory_load_segment(&inv, s->fleet, s->segment, s->standby, e);
	if (r == 0) {
		pthread_rwlock_wrlock(&s->inv_lock);
		swap_in(s, inv, false);
		pthread_rwlock_unlock(&s->inv_lock);
		after_reload(s, inv); /* inv stays: only this function replaces the server's own */
		kf_log(KF_LOG_INFO, "serve: reloaded %s", s->fleet);
	}
	pthread_mutex_unlock(&s->reload_lock);
	return r;
}

const char *kf_serve_fleet(const struct kf_serve *s)
{
	return s->fleet;
}

int kf_serve_exclusive(struct kf_serve *s, int (*fn)(struct kf_serve *s, void *arg), void *arg)
{
	pthread_rwlock_wrlock(&s->inv_lock);
	int r = fn(s, arg);
	pthread_rwlock_unlock(&s->inv_lock);
	return r;
}

struct kf_inventory *kf_serve_swap_locked(struct kf_serve *s, struct kf_inventory *inv)
{
	return swap_in(s, inv, true);
}

struct kf_state *kf_serve_state(struct kf_serve *s, struct kf_err *e)
{
	struct kf_state *st = pthread_getspecific(s->st_key);
	if (st)
		return st;
	if (kf_state_open(&st, s->state_path, e) < 0)
		return NULL;
	struct conn_list *c = kf_xcalloc(1, sizeof(*c));
	c->st = st;
	pthread_mutex_lock(&s->conns_lock);
	c->next = s->conns;
	s->conns = c;
	pthread_mutex_unlock(&s->conns_lock);
	pthread_setspecific(s->st_key, st);
	return st;
}

const char *kf_serve_base_url(const struct kf_serve *s) { return s->base_url; }
const char *kf_serve_http_root(const struct kf_serve *s) { return s->http_root; }
const char *kf_serve_tftp_root(const struct kf_serve *s) { return s->tftp_root; }
const char *kf_serve_state_dir(const struct kf_serve *s) { return s->state_dir; }
const char *kf_serve_outdir(const struct kf_serve *s) { return s->outdir; }
unsigned kf_serve_port(const struct kf_serve *s) { return kf_httpd_port(s->http); }
const char *kf_serve_addr(const struct kf_serve *s) { return s->addr; }
void kf_serve_set_dnsmasq(struct kf_serve *s, pid_t pid) { s->dnsmasq_pid = pid; }
struct kf_httpd *kf_serve_http(struct kf_serve *s) { return s->http; }

bool kf_serve_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (!n || n > 253 || name[0] == '.' || name[0] == '-')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '.' || *p == '_'))
			return false;
	return !strstr(name, "..");
}

/* Counts one event of key against limit which; true when it is over
 * (counted in /metrics, the first of the minute logged). */
static bool over_limit(struct kf_serve *s, struct kf_httpd_req *rq, enum kf_serve_limit which,
		       const char *key)
{
	int v = kf_rate_take(s->rate[which], key);
	if (!v)
		return false;
	__atomic_fetch_add(&s->rate_refused[which], 1, __ATOMIC_RELAXED);
	if (v == 1)
		kf_log(KF_LOG_WARN, "http: 429 %s %s from %s: more than %u %s a minute (%s; refused "
				    "until the minute ends, not logged again)",
		       kf_httpd_method(rq), kf_httpd_path(rq), kf_httpd_peer(rq),
		       kf_rate_limit(s->rate[which]), limits[which].what, key);
	kf_httpd_add_header(rq, "Retry-After", "60");
	return true;
}

bool kf_serve_rate_ok(struct kf_serve *s, struct kf_httpd_req *rq, enum kf_serve_limit which,
		      const char *key)
{
	if (!over_limit(s, rq, which, key))
		return true;
	kf_serve_reply_limited(rq, which);
	return false;
}

void kf_serve_reply_limited(struct kf_httpd_req *rq, enum kf_serve_limit which)
{
	kf_httpd_reply_text(rq, 429, "too many %s", limits[which].what);
}

bool kf_serve_auth_allowed(struct kf_serve *s, struct kf_httpd_req *rq)
{
	const char *peer = kf_httpd_peer(rq);
	return !kf_rate_over(s->rate[KF_LIMIT_AUTH], peer) || !over_limit(s, rq, KF_LIMIT_AUTH, peer);
}

void kf_serve_auth_failed(struct kf_serve *s, struct kf_httpd_req *rq)
{
	kf_rate_take(s->rate[KF_LIMIT_AUTH], kf_httpd_peer(rq));
}

/* ---- token cache ---- */

void kf_serve_wrote(struct kf_serve *s)
{
	__atomic_fetch_add(&s->writes, 1, __ATOMIC_RELEASE);
	kf_api_poke(s->api);
}

struct kf_api *kf_serve_api(struct kf_serve *s)
{
	return s->api;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The store's version as this thread sees it (c: its cache). */
static uint64_t store_version(struct kf_serve *s, struct tok_cache *c)
{
	uint64_t w = __atomic_load_n(&s->writes, __ATOMIC_ACQUIRE);
	uint64_t now = now_ns();
	if (c->stat_at && c->writes == w && now - c->stat_at < STAT_EVERY_NS)
		return c->ver;
	uint64_t h = w;
	struct stat sb;
	const char *paths[2] = { s->state_path, s->wal_path };
	for (int i = 0; i < 2; i++) {
		if (stat(paths[i], &sb) == 0) {
			h = mix(h, (uint64_t)sb.st_ino);
			h = mix(h, (uint64_t)sb.st_size);
			h = mix(h, (uint64_t)sb.st_mtim.tv_sec);
			h = mix(h, (uint64_t)sb.st_mtim.tv_nsec);
		} else {
			h = mix(h, 0xdead);
		}
	}
	c->ver = h;
	c->writes = w;
	c->stat_at = now;
	return h;
}

static struct tok_cache *thread_cache(struct kf_serve *s)
{
	struct tok_cache *c = pthread_getspecific(s->cache_key);
	if (!c) {
		c = kf_xcalloc(1, sizeof(*c));
		pthread_setspecific(s->cache_key, c);
		struct conn_list *l = kf_xcalloc(1, sizeof(*l));
		l->cache = c;
		pthread_mutex_lock(&s->conns_lock);
		l->next = s->conns;
		s->conns = l;
		pthread_mutex_unlock(&s->conns_lock);
	}
	return c;
}

static struct tok_entry *cache_slot(struct tok_cache *c, const char *host)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = host; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return &c->slot[h % CACHE_SLOTS];
}

int kf_serve_lookup(struct kf_serve *s, const char *host, struct kf_host_rec *rec,
		       struct kf_cred *cred, struct kf_err *e)
{
	struct tok_cache *c = thread_cache(s);
	uint64_t ver = store_version(s, c);
	time_t now = time(NULL);
	struct tok_entry *t = strlen(host) < sizeof(t->name) ? cache_slot(c, host) : NULL;
	if (t && t->ver == ver && now - t->at < CACHE_SECONDS && !strcmp(t->name, host)) {
		memset(rec, 0, sizeof(*rec));
		memcpy(rec->token, t->token, sizeof(rec->token));
		rec->state = t->state;
		rec->netboot = t->netboot;
		rec->kind = t->kind;
		*cred = t->cred;
		return 0;
	}
	struct kf_state *st = kf_serve_state(s, e);
	int r = st ? kf_state_get_host(st, host, rec, e) : -EIO;
	if (r == 0 && (r = kf_state_get_cred(st, host, cred, e)) < 0)
		kf_host_rec_release(rec);
	if (r == 0 && t) {
		t->ver = ver;
		t->at = now;
		snprintf(t->name, sizeof(t->name), "%s", host);
		memcpy(t->token, rec->token, sizeof(t->token));
		t->state = rec->state;
		t->netboot = rec->netboot;
		t->kind = rec->kind;
		t->cred = *cred;
	}
	return r;
}

/* ---- re-render after a state change ---- */

static int rerender(struct kf_serve *s, const struct kf_inventory *inv, const char *host,
		    bool force)
{
	/* a host of another segment: its own provisioner re-renders it
	 * (it hears the change through the shared store) */
	if (!s->render || !kf_inventory_name_here(inv, host))
		return 0;
	bool hup = false;
	struct kf_err e = KF_ERR_INIT;
	int r = s->render(s, inv, host, force, &hup, &e);
	if (r < 0) {
		kf_log(KF_LOG_ERR, "serve: cannot re-render boot files of %s", host);
		kf_err_print(&e, stderr);
	} else if (hup) {
		/* up's child, else a dnsmasq of its own on the rendered files
		 * (its pid file there), as `kickfleet render` signals it */
		int k = s->dnsmasq_pid > 0 ? (kill(s->dnsmasq_pid, SIGHUP) < 0 ? -errno : 1)
					   : kf_render_signal_dnsmasq(inv, s->outdir);
		if (k < 0)
			kf_log(KF_LOG_ERR, "serve: SIGHUP to dnsmasq: %s", strerror(-k));
		else if (k > 0)
			kf_log(KF_LOG_INFO, "serve: dnsmasq re-reads its files (%s changed)", host);
	}
	kf_err_release(&e);
	return r;
}

int kf_serve_rerender(struct kf_serve *s, const struct kf_inventory *inv, const char *host)
{
	return rerender(s, inv, host, false);
}

int kf_serve_rerender_forced(struct kf_serve *s, const struct kf_inventory *inv, const char *host)
{
	return rerender(s, inv, host, true);
}

/* ---- handlers ---- */

static void h_healthz(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	struct kf_state *st = kf_serve_state(s, NULL);
	if (!st) {
		kf_httpd_reply_text(rq, 503, "state store unavailable");
		return;
	}
	kf_httpd_reply_text(rq, 200, "ok");
}

/* kickfleet_power_on per machine whose power state is known, and the
 * failed power actions so far. */
static void power_metrics(struct kf_state *st, struct kf_buf *b)
{
	struct kf_power_row *v = NULL;
	size_t n = 0;
	if (kf_state_list_power(st, &v, &n, NULL) < 0)
		return;
	long long errors = 0;
	kf_buf_puts(b, "# HELP kickfleet_power_on machines powered on (1) or off (0), as last seen\n"
		       "# TYPE kickfleet_power_on gauge\n");
	for (size_t i = 0; i < n; i++) {
		errors += v[i].errors;
		if (v[i].power >= 0 && kf_serve_name_ok(v[i].name))
			kf_buf_printf(b, "kickfleet_power_on{host=\"%s\"} %d\n", v[i].name, v[i].power);
	}
	kf_buf_printf(b, "# HELP kickfleet_power_errors_total power actions that failed\n"
			 "# TYPE kickfleet_power_errors_total counter\n"
			 "kickfleet_power_errors_total %lld\n",
		      errors);
	kf_power_rows_free(v, n);
}

/* A Prometheus label value: backslash, double quote and newline escaped. */
static void label_value(struct kf_buf *b, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			kf_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			kf_buf_puts(b, "\\n");
		else
			kf_buf_printf(b, "%c", *v);
	}
}

/* Per host whose agent has reported: its last run, that run's exit code,
 * and the agent's version (an info gauge, 1). */
static void metrics_agents(struct kf_state *st, struct kf_buf *b)
{
	struct kf_host_rec *v = NULL;
	size_t n = 0;
	if (kf_state_list_hosts(st, &v, &n, NULL) < 0)
		return;
	static const char *const head[] = {
		"# HELP kickfleet_agent_last_run_timestamp_seconds when the host's agent last reported a run\n"
		"# TYPE kickfleet_agent_last_run_timestamp_seconds gauge\n",
		"# HELP kickfleet_agent_last_exit_code exit code of the host agent's last run (0, 2, 4, 6; 1)\n"
		"# TYPE kickfleet_agent_last_exit_code gauge\n",
		"# HELP kickfleet_agent_info the agent version of the host's last report\n"
		"# TYPE kickfleet_agent_info gauge\n",
	};
	for (int m = 0; m < 3; m++) {
		kf_buf_puts(b, head[m]);
		for (size_t i = 0; i < n; i++) {
			const struct kf_host_rec *h = &v[i];
			if (h->report_time <= 0 || (m == 1 && h->last_exit < 0))
				continue;
			if (m == 0)
				kf_buf_printf(b, "kickfleet_agent_last_run_timestamp_seconds{host=\"%s\"} %lld\n", h->name,
					      (long long)h->report_time);
			else if (m == 1)
				kf_buf_printf(b, "kickfleet_agent_last_exit_code{host=\"%s\"} %d\n", h->name, h->last_exit);
			else {
				kf_buf_printf(b, "kickfleet_agent_info{host=\"%s\",version=\"", h->name);
				label_value(b, h->agent_version && *h->agent_version ? h->agent_version : "unknown");
				kf_buf_puts(b, "\"} 1\n");
			}
		}
	}
	kf_host_recs_free(v, n);
}

static void h_metrics(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	struct kf_buf b = KF_BUF_INIT;
	kf_httpd_metrics(s->http, &b);
	struct kf_state *st = kf_serve_state(s, NULL);
	size_t by[KF_ST_COUNT];
	long long drift = 0;
	if (st && kf_state_count_states(st, by, &drift, NULL) == 0) {
		kf_buf_puts(&b, "# HELP kickfleet_hosts hosts and guests by install state\n"
				"# TYPE kickfleet_hosts gauge\n");
		for (int i = 0; i < KF_ST_COUNT; i++)
			kf_buf_printf(&b, "kickfleet_hosts{state=\"%s\"} %zu\n", kf_install_state_name(i), by[i]);
		kf_buf_printf(&b, "# HELP kickfleet_drift_reports_total agent reports that found drift\n"
				  "# TYPE kickfleet_drift_reports_total counter\n"
				  "kickfleet_drift_reports_total %lld\n",
			      drift);
		power_metrics(st, &b);
		metrics_agents(st, &b);
	}
	kf_buf_puts(&b, "# HELP kickfleet_rate_limited_total requests refused with 429 by a rate limit\n"
			"# TYPE kickfleet_rate_limited_total counter\n");
	for (int i = 0; i < 3; i++)
		kf_buf_printf(&b, "kickfleet_rate_limited_total{limit=\"%s\"} %llu\n", limits[i].name,
			      (unsigned long long)__atomic_load_n(&s->rate_refused[i], __ATOMIC_RELAXED));
	kf_buf_printf(&b, "# HELP kickfleet_uptime_seconds seconds since serve started\n"
			  "# TYPE kickfleet_uptime_seconds gauge\n"
			  "kickfleet_uptime_seconds %lld\n",
		      (long long)(time(NULL) - s->started));
	size_t len = b.len;
	kf_httpd_reply_take(rq, 200, "text/plain; version=0.0.4; charset=utf-8", kf_buf_detach(&b), len);
}

/* The host name in rest, or a 404 answer. */
static const char *host_of(struct kf_httpd_req *rq)
{
	const char *host = kf_httpd_rest(rq);
	if (!kf_serve_name_ok(host)) {
		kf_httpd_reply_text(rq, 404, "not found");
		return NULL;
	}
	return host;
}

static void h_ks(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	const char *host = host_of(rq);
	struct kf_host_rec rec;
	if (!host || kf_serve_auth(s, rq, host, true, &rec) < 0)
		return;
	char rel[3 + 254] = "ks/"; /* host: at most 253 (kf_serve_name_ok) */
	memcpy(rel + 3, host, strlen(host) + 1);
	uint64_t size = 0;
	struct stat sb;
	int fd = s->http_fd >= 0 ? kf_httpd_open_at(s->http_fd, rel, &size)
				 : kf_httpd_open_beneath(s->http_root, rel);
	if (fd < 0) {
		kf_log(KF_LOG_WARN, "http: no kickstart rendered for host %s", host);
		kf_httpd_reply_text(rq, 404, "no kickstart for this host (run kickfleet render)");
		goto out;
	}
	if (s->http_fd < 0)
		size = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	char *text = NULL;
	size_t len = 0;
	int r = kf_serve_ks_text(s, host, fd, size, &text, &len);
	close(fd);
	if (r < 0) {
		kf_log(KF_LOG_ERR, "serve: kickstart of %s: %s", host, strerror(-r));
		kf_httpd_reply_text(rq, 503, "kickstart unavailable (see the server log)");
		goto out;
	}
	if (rec.state == KF_ST_NEW || rec.state == KF_ST_BOOTING) {
		struct kf_state *st = kf_serve_state(s, NULL);
		kf_serve_inv_get(s); /* state changes never overlap kf_serve_exclusive */
		kf_serve_wrote(s);
		if (st && kf_state_set_state(st, host, KF_ST_INSTALLING, "kickstart fetched", NULL) > 0)
			kf_log(KF_LOG_INFO, "serve: %s is installing (kickstart fetched from %s)", host,
			       kf_httpd_peer(rq));
		kf_serve_wrote(s);
		kf_serve_inv_put(s);
	}
	kf_httpd_add_header(rq, "Cache-Control", "no-store");
	kf_httpd_reply_take(rq, 200, "text/plain; charset=utf-8", text, len);
out:
	kf_host_rec_release(&rec);
}

static void h_profile(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	const char *host = host_of(rq);
	struct kf_host_rec rec;
	bool rotating = false;
	if (!host || kf_serve_auth_agent(s, rq, host, &rec, &rotating) < 0)
		return;
	if (rotating)
		kf_serve_hand_out_cred(s, rq, host);
	/* a profile fetched over TLS sends its report over TLS; the agent
	 * sends its credential in a header, never in the URL */
	char *report = kf_xasprintf("%s/cb/%s/report",
				    kf_httpd_is_tls(rq) ? s->tls_base_url : s->base_url, host);
	char *yaml = NULL;
	struct kf_err e = KF_ERR_INIT;
	const struct kf_inventory *inv = kf_serve_inv_get(s);
	int r = kf_serve_compose_profile(inv, host, report, &yaml, &e);
	kf_serve_inv_put(s);
	free(report);
	if (r == -ENOENT) {
		kf_httpd_reply_text(rq, 404, "no profile for this host");
	} else if (r < 0) {
		kf_log(KF_LOG_ERR, "serve: the composed profile of %s does not validate", host);
		kf_err_print(&e, stderr);
		kf_httpd_reply_text(rq, 500, "the composed profile does not validate (see the server log)");
	} else {
		struct kf_hash c;
		char etag[70];
		kf_hash_init(&c);
		kf_hash_update(&c, yaml, strlen(yaml));
		etag[0] = '"';
		kf_hash_hex(&c, etag + 1);
		strcpy(etag + 1 + 64, "\"");
		kf_httpd_add_header(rq, "ETag", etag);
		kf_httpd_add_header(rq, "Cache-Control", "no-store");
		const char *inm = kf_httpd_header(rq, "If-None-Match");
		if (inm && !strcmp(inm, etag)) {
			free(yaml);
			kf_httpd_reply(rq, 304, NULL, "", 0);
		} else {
			size_t len = strlen(yaml);
			kf_httpd_reply_take(rq, 200, "application/yaml", yaml, len);
		}
	}
	kf_err_release(&e);
	kf_host_rec_release(&rec);
}

static void h_agent(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	int fd = s->agent_path ? open(s->agent_path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		kf_log(KF_LOG_WARN, "http: agent binary %s: %s", s->agent_path ? s->agent_path : "(none)",
		       strerror(errno));
		kf_httpd_reply_text(rq, 404, "agent binary not available");
		return;
	}
	kf_httpd_reply_fd(rq, fd, "application/octet-stream");
}

static const char local_ipxe[] = "#!ipxe\n"
				 "echo kickfleet: %s boots from its disk\n"
				 "exit\n";

/* iPXE: decided per request, so an installed host boots locally even if
 * a rendered script is stale. */
static void h_ipxe(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	const char *rest = kf_httpd_rest(rq);
	char mac[18], dash[18];
	size_t n = strlen(rest);
	if (n != 3 + 17 + 5 || strncmp(rest, "01-", 3) || strcmp(rest + 20, ".ipxe")) {
		/* boot.ipxe and other shared scripts */
		char *rel = kf_xasprintf("ipxe/%s", rest);
		kf_httpd_reply_file(rq, s->http_root, rel);
		free(rel);
		return;
	}
	memcpy(dash, rest + 3, 17);
	dash[17] = 0;
	if (kf_mac_norm(dash, mac) < 0) {
		kf_httpd_reply_text(rq, 404, "not found");
		return;
	}
	struct kf_state *st = kf_serve_state(s, NULL);
	struct kf_host_rec rec = { 0 };
	int r = st ? kf_state_find_mac(st, mac, &rec, NULL) : -EIO;
	if (r == 0 && !rec.netboot) {
		char *body = kf_xasprintf(local_ipxe, rec.name);
		kf_httpd_reply_take(rq, 200, "text/plain; charset=utf-8", body, strlen(body));
		kf_host_rec_release(&rec);
		return;
	}
	if (r == 0 && rec.state == KF_ST_NEW) {
		kf_serve_inv_get(s);
		kf_serve_wrote(s);
		if (kf_state_set_state(st, rec.name, KF_ST_BOOTING, "iPXE script fetched", NULL) > 0)
			kf_log(KF_LOG_INFO, "serve: %s is booting (iPXE, %s)", rec.name, kf_httpd_peer(rq));
		kf_serve_wrote(s);
		kf_serve_inv_put(s);
	}
	for (char *c = mac; *c; c++)
		if (*c == ':')
			*c = '-';
	char *rel = kf_xasprintf("ipxe/01-%s.ipxe", mac);
	int fd = kf_httpd_open_beneath(s->http_root, rel);
	free(rel);
	if (fd >= 0)
		kf_httpd_reply_fd(rq, fd, "text/plain; charset=utf-8");
	else if (r == 0)
		kf_httpd_reply_text(rq, 404, "no iPXE script rendered for %s", rec.name);
	else /* unknown MAC: boot.ipxe chains default.ipxe on a 404 */
		kf_httpd_reply_text(rq, 404, "unknown MAC");
	kf_host_rec_release(&rec);
}

static void h_boot(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	if (s->tftp_fd >= 0)
		kf_httpd_reply_file_at(rq, s->tftp_fd, kf_httpd_rest(rq));
	else
		kf_httpd_reply_file(rq, s->tftp_root, kf_httpd_rest(rq));
}

/* A static subtree of the HTTP root: HTTP_ROOT/DIR/REST. */
static void reply_subtree(struct kf_httpd_req *rq, struct kf_serve *s, const char *dir)
{
	char *root = kf_xasprintf("%s/%s", s->http_root, dir);
	kf_httpd_reply_file(rq, root, kf_httpd_rest(rq));
	free(root);
}

static void h_trees(struct kf_httpd_req *rq, void *ctx)
{
	reply_subtree(rq, ctx, "trees");
}

/* The agent's package repositories that render placed (repo/rpm, repo/deb) */
static void h_repo(struct kf_httpd_req *rq, void *ctx)
{
	reply_subtree(rq, ctx, "repo");
}

/* Imported distros: kernel, initrd and install tree, from the staged
 * directory or straight from the staged ISO (provision/distro_iso.h). */
static void h_distros(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	struct kf_distro_blob b = { .fd = -1 };
	int r = kf_distro_open(s->http_root, kf_httpd_rest(rq), &b);
	switch (r) {
	case 0:
		kf_httpd_reply_fd_span(rq, b.fd, b.offset, b.size, kf_httpd_ctype(kf_httpd_rest(rq)));
		return;
	case -ENOENT:
	case -EISDIR:
	case -ENOTDIR:
		kf_httpd_reply_text(rq, 404, "not found");
		return;
	case -EACCES:
		kf_log(KF_LOG_WARN, "refused %s %s: path leaves the distro tree", kf_httpd_method(rq),
		       kf_httpd_path(rq));
		kf_httpd_reply_text(rq, 403, "forbidden");
		return;
	case -ENOTSUP:
		kf_httpd_reply_text(rq, 501, "file is stored in pieces inside the ISO");
		return;
	default:
		kf_httpd_reply_text(rq, 500, "internal error");
		return;
	}
}

/* ---- start / stop ---- */

static char *default_agent_path(void)
{
	char *self = kf_self_dir();
	char *p = self ? kf_xasprintf("%s/kickfleet-agent", self) : NULL;
	free(self);
	if (p && access(p, R_OK) == 0)
		return p;
	free(p);
	return kf_xstrdup("/usr/local/bin/kickfleet-agent");
}

/* The open-files limit as high as allowed: one descriptor per client. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The HTTPS listener beside the plain one: the same routes, the same
 * limits, the certificate and key of o's files (docs/http.md, TLS). */
static int start_tls(struct kf_serve *s, const struct kf_serve_opts *o,
		     const struct kf_httpd_opts *plain, struct kf_err *e)
{
	const struct kf_i_tls *it = s->inv->provisioner->tls;
	/* the files of --tls-cert/--tls-key, else the inventory's */
	s->tls_cert = o->tls_cert ? kf_xstrdup(o->tls_cert) : kf_inventory_secret_path(s->inv, it->cert);
	s->tls_key = o->tls_cert ? kf_xstrdup(o->tls_key ? o->tls_key : "")
				 : kf_inventory_secret_path(s->inv, it->key);
	char *cert = NULL, *key = NULL;
	int r = kf_serve_tls_read(s->tls_cert, s->tls_key, &cert, &key, e);
	if (r < 0)
		return r;
	struct kf_httpd_opts ho = *plain;
	ho.addr = o->tls_addr ? o->tls_addr : plain->addr;
	ho.port = o->tls_port ? o->tls_port : it ? (unsigned)it->port : KF_SERVE_TLS_PORT;
	ho.tls_cert = cert;
	ho.tls_key = key;
	r = kf_httpd_start(&s->https, &ho, routes, KF_ARRAY_SIZE(routes), s, e);
	free(cert);
	kf_serve_tls_wipe(key);
	if (r < 0)
		return r;
	s->tls_base_url = kf_xasprintf("https://%s:%u", ho.addr, kf_httpd_port(s->https));
	return 0;
}

int kf_serve_tls_reload(struct kf_serve *s, struct kf_err *e)
{
	if (!s->https)
		return 0;
	char *cert = NULL, *key = NULL;
	int r = kf_serve_tls_read(s->tls_cert, s->tls_key, &cert, &key, e);
	if (r == 0)
		r = kf_httpd_set_tls(s->https, cert, key, e);
	free(cert);
	kf_serve_tls_wipe(key);
	return r;
}

unsigned kf_serve_tls_port(const struct kf_serve *s)
{
	return s->https ? kf_httpd_port(s->https) : 0;
}

int kf_serve_start(struct kf_serve **out, struct kf_inventory *inv,
		   const struct kf_serve_opts *o, struct kf_err *e)
{
	*out = NULL;
	const struct kf_i_provisioner *pv = inv->provisioner;
	struct kf_serve *s = kf_xcalloc(1, sizeof(*s));
	pthread_rwlock_init(&s->inv_lock, NULL);
	pthread_mutex_init(&s->conns_lock, NULL);
	pthread_key_create(&s->st_key, NULL);
	pthread_key_create(&s->cache_key, NULL);
	s->inv = s->given = inv;
	s->fleet = o->fleet ? kf_xstrdup(o->fleet) : NULL;
	s->segment = o->segment ? kf_xstrdup(o->segment) : NULL;
	s->standby = o->standby;
	pthread_mutex_init(&s->reload_lock, NULL);
	s->http_fd = s->tftp_fd = -1;
	s->started = time(NULL);
	s->render = o->render;
	s->dnsmasq_pid = o->dnsmasq_pid;
	for (int i = 0; i < 3; i++)
		s->rate[i] = kf_rate_new(o->rate[i] == KF_HTTPD_UNLIMITED ? 0 : o->rate[i] ? o->rate[i] : limits[i].def,
					 i == KF_LIMIT_CALLBACK ? 4096 : 256);
	s->outdir = o->outdir ? kf_xstrdup(o->outdir) : NULL;
	s->state_dir = kf_xstrdup(o->state_dir ? o->state_dir : o->outdir ? o->outdir : pv->state_dir);
	s->http_root = o->http_root ? kf_xstrdup(o->http_root)
		       : o->outdir  ? kf_xasprintf("%s/http", o->outdir)
				    : kf_xstrdup(pv->http_root);
	s->tftp_root = o->tftp_root ? kf_xstrdup(o->tftp_root)
		       : o->outdir  ? kf_xasprintf("%s/tftp", o->outdir)
				    : kf_xstrdup(pv->tftp_root);
	s->agent_path = o->agent_path ? kf_xstrdup(o->agent_path) : default_agent_path();
	s->state_path = kf_inventory_state_location(inv);
	if (!s->state_path)
		s->state_path = kf_xasprintf("%s/state.db", s->state_dir);
	s->wal_path = kf_xasprintf("%s/state.db-wal", s->state_dir);
	snprintf(s->addr, sizeof(s->addr), "%s", o->listen_addr ? o->listen_addr : pv->address);
	unsigned port = o->port_set ? o->listen_port : (unsigned)pv->http_port;
	int r = kf_mkdir_p(s->state_dir, 0755);
	if (r < 0) {
		r = kf_errc(e, r, NULL, "serve: cannot create %s: %s", s->state_dir, strerror(-r));
		goto fail;
	}
	struct kf_state *st = kf_serve_state(s, e);
	if (!st) {
		r = -EIO;
		goto fail;
	}
	r = kf_state_sync_inventory(st, inv, e);
	if (r < 0)
		goto fail;
	if (r > 0)
		kf_log(KF_LOG_INFO, "serve: registered %d new hosts in %s", r, s->state_path);
	if ((r = kf_serve_watch_start(s, s->state_path, &s->watch, e)) < 0)
		goto fail;
	if ((r = kf_api_start(&s->api, s, o->api_tokens, e)) < 0)
		goto fail;
	raise_nofile();
	s->http_fd = open(s->http_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	s->tftp_fd = open(s->tftp_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct kf_httpd_opts ho = { .addr = s->addr, .port = port, .threads = o->threads,
				    .timeout = o->timeout, .max_conns = 16384,
				    .per_client = o->client_conns, .request_timeout = o->request_timeout,
				    .external = o->external };
	if ((r = kf_httpd_start(&s->http, &ho, routes, KF_ARRAY_SIZE(routes), s, e)) < 0)
		goto fail;
	if ((o->tls_cert || pv->tls) && (r = start_tls(s, o, &ho, e)) < 0)
		goto fail;
	if (pv->url)
		s->base_url = kf_xstrdup(pv->url);
	else
		s->base_url = kf_xasprintf("http://%s:%u", s->addr, kf_httpd_port(s->http));
	size_t len = strlen(s->base_url);
	if (len > 1 && s->base_url[len - 1] == '/')
		s->base_url[len - 1] = 0;
	*out = s;
	return 0;
fail:
	kf_serve_free(s);
	return r;
}

void kf_serve_free(struct kf_serve *s)
{
	if (!s)
		return;
	kf_serve_watch_stop(s->watch);
	kf_httpd_stop(s->https);
	free(s->tls_cert);
	free(s->tls_key);
	free(s->tls_base_url);
	kf_api_halt(s->api);
	kf_httpd_stop(s->http);
	kf_api_stop(s->api);
	for (struct conn_list *c = s->conns, *next; c; c = next) {
		next = c->next;
		kf_state_close(c->st);
		free(c->cache);
		free(c);
	}
	if (s->http_fd >= 0)
		close(s->http_fd);
	if (s->tftp_fd >= 0)
		close(s->tftp_fd);
	for (int i = 0; i < 3; i++)
		kf_rate_free(s->rate[i]);
	pthread_key_delete(s->st_key);
	pthread_key_delete(s->cache_key);
	pthread_mutex_destroy(&s->conns_lock);
	pthread_rwlock_destroy(&s->inv_lock);
	pthread_mutex_destroy(&s->reload_lock);
	if (s->inv != s->given)
		kf_inventory_free(s->inv);
	free(s->fleet);
	free(s->segment);
	free(s->outdir);
	free(s->state_dir);
	free(s->state_path);
	free(s->wal_path);
	free(s->http_root);
	free(s->tftp_root);
	free(s->agent_path);
	free(s->base_url);
	free(s);
}
