/* The REST API (/api/v1/, docs/api.md) and the status page (/ui/) of
 * `kickfleet serve`, and what their files share.
 *
 *   api.c          the /api/ routes: lists, one host, the actions' entry
 *   api_auth.c     admin tokens (a root-only file), sessions, CSRF
 *   api_fleet.c    the fleet as the API shows it: a snapshot kept current
 *                  by the hub, filters, pagination, the JSON of a host
 *   api_actions.c  the actions table (netboot, reinstall, ...), one row each
 *   api_hub.c      the thread that turns state changes into server-sent
 *                  events for every connected page or client
 *   ui.c, ui_host.c the HTML pages; provision/ui/ their CSS and script
 *
 * Nothing here shows a host's install token, a root password hash, a
 * BMC password or a profile: the views are built from named fields only. */
#ifndef KF_PROVISION_API_H
#define KF_PROVISION_API_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "err.h"
#include "inventory.h"
#include "json.h"
#include "provision/http.h"
#include "provision/state.h"
#include "util.h"

struct kf_serve;
struct kf_api;

/* Starts the API: reads the admin tokens from tokens_path (NULL: the
 * default, which may be absent: then the API and the page answer 503) and
 * the hub thread.  Returns 0 or a negative errno (a tokens file that is
 * unreadable, group/other readable, not root's, or malformed). */
int kf_api_start(struct kf_api **out, struct kf_serve *s, const char *tokens_path,
		 struct kf_err *e);
/* Ends the event streams and the hub thread (before the HTTP server
 * stops); kf_api_stop then frees a (after it).  NULL is fine. */
void kf_api_halt(struct kf_api *a);
void kf_api_stop(struct kf_api *a);
/* Something may have changed in the state store: the hub looks at once. */
void kf_api_poke(struct kf_api *a);

/* Route handlers; ctx is the struct kf_serve. */
void kf_api_handle(struct kf_httpd_req *rq, void *ctx); /* /api/ */
void kf_ui_handle(struct kf_httpd_req *rq, void *ctx);  /* /ui/ */

#define KF_API_MAX_BODY (16 * 1024)
#define KF_API_DEFAULT_TOKENS "/etc/kickfleet/api-tokens"

/* ---- inside the API ---- */

enum kf_api_role { KF_ROLE_NONE, KF_ROLE_READ, KF_ROLE_ADMIN };

/* Who sent a request. */
struct kf_api_who {
	char name[64];
	int role;              /* enum kf_api_role */
	bool session;          /* by the login cookie: changes need the CSRF token */
	char csrf[KF_TOKEN_HEX + 1];
	char sid[KF_TOKEN_HEX + 1];
};

struct kf_api_tokens; /* api_auth.c */

/* Reads path: one "NAME ROLE TOKEN" a line (ROLE admin or read-only),
 * '#' comments.  The file must be root's and not readable by group or
 * others.  Errors name path:line:col. */
int kf_api_tokens_load(struct kf_api_tokens **out, const char *path, struct kf_err *e);
void kf_api_tokens_free(struct kf_api_tokens *t);

/* Who rq is: a bearer token, else the session cookie.  0 with *who set;
 * -EACCES when it brings a token or cookie that is not valid (logged);
 * -ENOENT when it brings none. */
int kf_api_who(struct kf_api_tokens *t, struct kf_httpd_req *rq, struct kf_api_who *who);
/* A state change by who: the CSRF token (header X-CSRF-Token, or the
 * form field given) must match a session's; admin role needed.  On
 * refusal answers 403 itself and returns -EACCES. */
int kf_api_may_change(struct kf_httpd_req *rq, const struct kf_api_who *who,
		      const char *form_csrf);
/* Logs in with token: a new session (its cookie value and CSRF token in
 * who).  -EACCES for a token no one has. */
int kf_api_login(struct kf_api_tokens *t, const char *token, const char *peer,
		 struct kf_api_who *who);
void kf_api_logout(struct kf_api_tokens *t, const char *sid);

/* One host or guest as the API shows it (a copy: owned strings). */
struct kf_api_host {
	char *name, *role, *parent, *facts, *command;
	char ip[16];
	uint32_t ip4;         /* 0: none */
	int kind, state, netboot;
	int power;            /* 1 on, 0 off, -1 unknown (the last power action's) */
	int64_t since, report_time, drift_count;
	int exit_code;        /* of the last agent run, -1: none */
	long changes;         /* planned or applied in it */
};

struct kf_api_filter {
	int state;            /* -1: any */
	int kind;             /* -1: any */
	const char *role, *prefix, *search;
	uint32_t net;         /* segment: net/prefix; prefix_len -1: any */
	int prefix_len;
	int sort;             /* enum kf_api_sort */
	bool desc;            /* sort=-KEY */
};

/* The orders of a list (?sort=KEY, ?sort=-KEY descending), ties by name. */
enum kf_api_sort { KF_SORT_NAME, KF_SORT_KIND, KF_SORT_ROLE, KF_SORT_IP, KF_SORT_STATE, KF_SORT_SINCE,
		   KF_SORT_NETBOOT, KF_SORT_RUN, KF_SORT_DRIFT, KF_SORT_FACTS, KF_SORT_COUNT };
const char *kf_api_sort_name(int sort);

/* The fleet snapshot (api_fleet.c). */
struct kf_fleet;
struct kf_fleet *kf_fleet_new(void);
void kf_fleet_free(struct kf_fleet *f);
/* Reads every row, the inventory's addresses and the facts' summaries. */
int kf_fleet_reload(struct kf_fleet *f, struct kf_serve *s, struct kf_err *e);
/* Reads one host's row again (and its power row when power is set); 1
 * when it is new to the snapshot (reload). */
int kf_fleet_refresh(struct kf_fleet *f, struct kf_serve *s, const char *name, bool power,
		     struct kf_err *e);
/* Calls fn for the hosts offset to offset + limit - 1 of those matching
 * flt in its order, under the read lock; returns how many match. */
size_t kf_fleet_page(struct kf_fleet *f, const struct kf_api_filter *flt, size_t offset, size_t limit,
		     void (*fn)(const struct kf_api_host *h, void *arg), void *arg);
/* A copy of one host (kf_api_host_release); -ENOENT when unknown. */
int kf_fleet_get(struct kf_fleet *f, const char *name, struct kf_api_host *out);
void kf_api_host_release(struct kf_api_host *h);
/* Hosts per state, and how many are booting or installing. */
void kf_fleet_counts(struct kf_fleet *f, size_t by_state[KF_ST_COUNT], size_t *total);
bool kf_fleet_match(const struct kf_api_host *h, const struct kf_api_filter *flt);
/* Writes h as the API's host object (the list's elements). */
void kf_api_host_write(struct kf_jw *w, const struct kf_api_host *h);
/* The same as a value (one host's detail, its events). */
struct kf_json *kf_api_host_json(const struct kf_api_host *h);
struct kf_json *kf_api_summary_json(struct kf_fleet *f);
/* Reads state, kind, role, segment, prefix, q and sort from rq's query into
 * flt.  -EINVAL with a message in e for a bad value. */
int kf_api_filter_parse(struct kf_httpd_req *rq, struct kf_api_filter *flt, struct kf_err *e);

/* Actions (api_actions.c): name, the body's fields, what it does. */
struct kf_api_act {
	const char *target;   /* the host or the discovered MAC */
	const struct kf_json *body; /* may be NULL */
	const struct kf_api_who *who;
	const char *peer;
	const struct kf_inventory *inv; /* held for the action's length */
	struct kf_json *result; /* set by the action: its answer's members */
	char host[64];        /* set by an action on a discovered machine: the
			       * host it became (its events, its render) */
	bool reload;          /* set by the action: the inventory file changed */
};
struct kf_api_action {
	const char *name;
	const char *const *fields; /* allowed members of the body, NULL-ended */
	const char *label;        /* the page's button */
	const char *confirm;      /* the question asked first ("%s": the host) */
	bool discovered;          /* on a discovered machine: the target is a MAC */
	/* 0, or a negative errno with a message in e (-ENOENT: unknown host,
	 * -EINVAL: bad body, -ENOTSUP: not possible for this host, -EBUSY:
	 * not now, -EREMOTEIO: the machine's power controller failed) */
	int (*run)(struct kf_serve *s, struct kf_api_act *c, struct kf_err *e);
};
/* The host actions (discovered false) or those for discovered machines
 * (true) by name; NULL: none. */
const struct kf_api_action *kf_api_action_find(const char *name, bool discovered);
const struct kf_api_action *kf_api_actions(size_t *n);
/* Runs act on c->target: checks the body's fields, holds the inventory,
 * brackets the change with kf_serve_wrote, logs who did it (server log
 * and the host's events).  After an action that changed the inventory
 * file: reads it again (kf_serve_reload_fleet) and renders the new host.
 * Returns an HTTP status (200, 400, 404, 409, 503) with a message in e on
 * failure. */
int kf_api_action_run(struct kf_serve *s, const struct kf_api_action *act, struct kf_api_act *c,
		      struct kf_err *e);

/* The hub (api_hub.c). */
struct kf_hub;
int kf_hub_start(struct kf_hub **out, struct kf_serve *s, struct kf_fleet *f, struct kf_err *e);
void kf_hub_halt(struct kf_hub *h); /* the thread and the streams */
void kf_hub_stop(struct kf_hub *h);
void kf_hub_poke(struct kf_hub *h);
/* Hands an event stream to the hub (GET /api/v1/events); host non-NULL:
 * only that host's events. */
void kf_hub_attach(struct kf_hub *h, struct kf_httpd_req *rq, const char *host);

/* One host's detail (GET /api/v1/hosts/NAME): its view, MACs, the last
 * report's changes ("drift"), its facts document, its newest nevents
 * events (newest first).  -ENOENT for an unknown host. */
int kf_api_host_detail(struct kf_serve *s, const char *name, size_t nevents, struct kf_json **out,
		       struct kf_err *e);

/* What api.c holds, for the pages: the tokens (NULL when none were
 * configured: then answers 503 itself), the snapshot, the hub. */
struct kf_api_tokens *kf_api_tokens_of(struct kf_api *a, struct kf_httpd_req *rq);
struct kf_fleet *kf_api_fleet(struct kf_api *a);
struct kf_hub *kf_api_hub(struct kf_api *a);
struct kf_api *kf_serve_api(struct kf_serve *s);
/* A count argument of rq's query: 0 to max, dflt when absent, -1 when
 * it is not a number in that range. */
long kf_api_count_arg(struct kf_httpd_req *rq, const char *name, long dflt, long max);
/* Formats e's message into buf. */
const char *kf_api_errmsg(struct kf_err *e, char *buf, size_t len);

/* ---- the pages (ui.c, ui_host.c) ---- */

/* Appends s HTML-escaped (NULL: nothing). */
void kf_ui_esc(struct kf_buf *b, const char *s);
/* "2026-05-01 12:00:00 UTC", "-" for 0. */
const char *kf_ui_time(int64_t t, char *buf, size_t len);
/* The page's head, header bar (who, log out) and its end. */
void kf_ui_head(struct kf_buf *b, const char *title, const char *page, const char *host,
		const struct kf_api_who *who);
void kf_ui_foot(struct kf_buf *b);
/* Sends b as an HTML page (status), with the pages' security headers. */
void kf_ui_send(struct kf_httpd_req *rq, int status, struct kf_buf *b);
/* The value of field name in a form body (application/x-www-form-urlencoded),
 * decoded into out; false when absent or longer than len - 1. */
bool kf_ui_form(const char *body, const char *name, char *out, size_t len);
/* GET /ui/host/NAME and POST /ui/host/NAME/ACTION. */
void kf_ui_host(struct kf_serve *s, struct kf_httpd_req *rq, const struct kf_api_who *who,
		const char *rest);

/* The directory of the page's static files: $KICKFLEET_DATADIR/ui, the
 * source tree's provision/ui, DATADIR/ui (malloc'd). */
char *kf_ui_dir(void);

#endif
