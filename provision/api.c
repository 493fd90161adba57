/* The REST API under /api/v1/ (docs/api.md): its handle, its routes, the
 * lists and one host's detail.  Every answer is JSON, errors
 * {"error": "..."} with a 4xx or 5xx (kf_httpd_reply_error). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "provision/api.h"
#include "provision/serve.h"

struct kf_api {
	struct kf_serve *s;
	struct kf_api_tokens *tokens; /* NULL: no tokens file, API off */
	struct kf_fleet *fleet;
	struct kf_hub *hub;
};

#define DEFAULT_LIMIT 100
#define MAX_LIMIT 10000
#define DETAIL_EVENTS 50

int kf_api_start(struct kf_api **out, struct kf_serve *s, const char *tokens_path, struct kf_err *e)
{
	*out = NULL;
	struct kf_api *a = kf_xcalloc(1, sizeof(*a));
	a->s = s;
	int r = 0;
	struct stat sb;
	if (tokens_path || lstat(KF_API_DEFAULT_TOKENS, &sb) == 0)
		r = kf_api_tokens_load(&a->tokens, tokens_path ? tokens_path : KF_API_DEFAULT_TOKENS, e);
	a->fleet = kf_fleet_new();
	if (r == 0)
		r = kf_hub_start(&a->hub, s, a->fleet, e);
	if (r < 0) {
		kf_api_stop(a);
		return r;
	}
	if (!a->tokens)
		kf_log(KF_LOG_INFO, "api: no admin tokens (%s): /api/ and /ui/ answer 503",
		       KF_API_DEFAULT_TOKENS);
	*out = a;
	return 0;
}

void kf_api_halt(struct kf_api *a)
{
	if (a)
		kf_hub_halt(a->hub);
}

void kf_api_stop(struct kf_api *a)
{
	if (!a)
		return;
	kf_hub_stop(a->hub);
	kf_fleet_free(a->fleet);
	kf_api_tokens_free(a->tokens);
	free(a);
}

void kf_api_poke(struct kf_api *a)
{
	if (a)
		kf_hub_poke(a->hub);
}

struct kf_api_tokens *kf_api_tokens_of(struct kf_api *a, struct kf_httpd_req *rq)
{
	if (!a->tokens)
		kf_httpd_reply_error(rq, 503, "no admin tokens configured (kickfleet serve --api-tokens FILE)");
	return a->tokens;
}

struct kf_fleet *kf_api_fleet(struct kf_api *a) { return a->fleet; }
struct kf_hub *kf_api_hub(struct kf_api *a) { return a->hub; }

const char *kf_api_errmsg(struct kf_err *e, char *buf, size_t len)
{
	if (e->n)
		kf_err_format(e, 0, buf, len);
	else
		snprintf(buf, len, "internal error");
	return buf;
}

/* ---- answers ---- */

/* Sends b's document and a newline (takes b). */
static void reply_buf(struct kf_httpd_req *rq, int status, struct kf_buf *b)
{
	kf_buf_add(b, "\n", 1);
	size_t len = b->len;
	kf_httpd_add_header(rq, "Cache-Control", "no-store");
	kf_httpd_reply_take(rq, status, "application/json", kf_buf_detach(b), len);
}

static void reply_json(struct kf_httpd_req *rq, int status, struct kf_json *o)
{
	struct kf_buf b = KF_BUF_INIT;
	char *text = kf_json_dump(o, KF_JSON_PLAIN);
	kf_json_free(o);
	kf_buf_puts(&b, text);
	free(text);
	reply_buf(rq, status, &b);
}

/* ---- lists ---- */

static void page_add(const struct kf_api_host *h, void *arg)
{
	kf_api_host_write(arg, h);
}

long kf_api_count_arg(struct kf_httpd_req *rq, const char *name, long dflt, long max)
{
	const char *v = kf_httpd_arg(rq, name);
	if (!v)
		return dflt;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	return errno || end == v || *end || n < 0 || n > max ? -1 : n;
}

static void get_hosts(struct kf_api *a, struct kf_httpd_req *rq)
{
	struct kf_api_filter flt;
	struct kf_err e = KF_ERR_INIT;
	char msg[256];
	if (kf_api_filter_parse(rq, &flt, &e) < 0) {
		kf_httpd_reply_error(rq, 400, "%s", kf_api_errmsg(&e, msg, sizeof(msg)));
		kf_err_release(&e);
		return;
	}
	long limit = kf_api_count_arg(rq, "limit", DEFAULT_LIMIT, MAX_LIMIT);
	long offset = kf_api_count_arg(rq, "offset", 0, 1L << 30);
	if (limit < 1 || offset < 0) {
		kf_httpd_reply_error(rq, 400, "limit must be 1 to %d, offset 0 or more", MAX_LIMIT);
		return;
	}
	/* the hosts first, written straight from the snapshot; the total
	 * before them once it is known */
	struct kf_buf hosts = KF_BUF_INIT, b = KF_BUF_INIT;
	struct kf_jw w;
	kf_jw_init(&w, &hosts);
	kf_jw_array(&w);
	size_t total = kf_fleet_page(a->fleet, &flt, (size_t)offset, (size_t)limit, page_add, &w);
	kf_jw_end(&w);
	kf_jw_init(&w, &b);
	kf_jw_object(&w);
	kf_jw_key(&w, "total");
	kf_jw_int(&w, (int64_t)total);
	kf_jw_key(&w, "offset");
	kf_jw_int(&w, offset);
	kf_jw_key(&w, "limit");
	kf_jw_int(&w, limit);
	kf_jw_key(&w, "hosts");
	kf_jw_raw(&w, hosts.s, hosts.len);
	kf_jw_end(&w);
	kf_buf_release(&hosts);
	reply_buf(rq, 200, &b);
}

static void get_discovered(struct kf_api *a, struct kf_httpd_req *rq)
{
	struct kf_err e = KF_ERR_INIT;
	struct kf_state *st = kf_serve_state(a->s, &e);
	struct kf_discovered *v = NULL;
	size_t n = 0;
	if (!st || kf_state_list_discovered(st, &v, &n, &e) < 0) {
		kf_err_print(&e, stderr);
		kf_err_release(&e);
		kf_httpd_reply_error(rq, 503, "state store unavailable");
		return;
	}
	struct kf_json *arr = kf_json_array();
	for (size_t i = 0; i < n; i++) {
		struct kf_json *d = kf_json_object();
		kf_json_set(d, "mac", kf_json_str(v[i].mac));
		kf_json_set(d, "peer", kf_json_str(v[i].peer));
		kf_json_set(d, "first_seen", kf_json_int(v[i].first_seen));
		kf_json_set(d, "last_seen", kf_json_int(v[i].last_seen));
		kf_json_set(d, "posts", kf_json_int(v[i].count));
		kf_json_push(arr, d);
	}
	kf_discovered_free(v, n);
	struct kf_json *o = kf_json_object();
	kf_json_set(o, "discovered", arr);
	reply_json(rq, 200, o);
}

/* ---- one host ---- */

/* The last report's changes without their values (a profile's secrets
 * could be among them): resource, item, status, reason. */
static struct kf_json *drift_of(const char *report)
{
	struct kf_json *arr = kf_json_array(), *o = NULL;
	if (!report || kf_json_parse_object(report, strlen(report), &o, NULL) < 0 || !o)
		return arr;
	const struct kf_json *ch = kf_json_member(o, "changes");
	for (size_t i = 0; i < kf_json_len(ch); i++) {
		const struct kf_json *c = kf_json_at(ch, i);
		struct kf_json *d = kf_json_object();
		kf_json_set(d, "resource", kf_json_str(kf_json_get_str(c, "resource")));
		kf_json_set(d, "what", kf_json_str(kf_json_get_str(c, "what")));
		kf_json_set(d, "status", kf_json_str(kf_json_get_str(c, "status")));
		kf_json_set(d, "reason", kf_json_str(kf_json_get_str(c, "reason")));
		kf_json_push(arr, d);
	}
	kf_json_free(o);
	return arr;
}

int kf_api_host_detail(struct kf_serve *s, const char *name, size_t nevents, struct kf_json **out,
		       struct kf_err *e)
{
	*out = NULL;
	struct kf_state *st = kf_serve_state(s, e);
	struct kf_host_rec rec = { 0 };
	int r = st ? kf_state_get_host(st, name, &rec, e) : -EIO;
	if (r < 0)
		return r;
	struct kf_api_host v;
	struct kf_json *o = NULL;
	if (kf_fleet_get(kf_api_fleet(kf_serve_api(s)), name, &v) == 0) {
		v.state = rec.state; /* the store's, newer than the snapshot */
		v.since = rec.state_since;
		v.netboot = rec.netboot;
		o = kf_api_host_json(&v);
		kf_api_host_release(&v);
	} else {
		o = kf_json_object();
		kf_json_set(o, "name", kf_json_str(name));
		kf_json_set(o, "state", kf_json_str(kf_install_state_name(rec.state)));
	}
	struct kf_json *macs = kf_json_array();
	for (size_t i = 0; i < rec.nmacs; i++)
		kf_json_push(macs, kf_json_str(rec.macs[i]));
	kf_json_set(o, "macs", macs);
	kf_json_set(o, "drift", drift_of(rec.report));
	kf_host_rec_release(&rec);
	char *facts = NULL;
	int64_t ft = 0;
	struct kf_json *fo = NULL;
	if (kf_state_get_facts(st, name, &facts, &ft, NULL) == 0 &&
	    kf_json_parse_object(facts, strlen(facts), &fo, NULL) == 0 && fo) {
		kf_json_set(fo, "received", kf_json_int(ft));
	}
	free(facts);
	kf_json_set(o, "facts_document", fo);
	struct kf_event *ev = NULL;
	size_t n = 0;
	struct kf_json *hist = kf_json_array();
	if (kf_state_list_events(st, name, nevents, &ev, &n, NULL) == 0)
		for (size_t i = n; i-- > 0;) { /* newest first */
			struct kf_json *x = kf_json_object();
			kf_json_set(x, "time", kf_json_int(ev[i].time));
			kf_json_set(x, "what", kf_json_str(ev[i].what));
			kf_json_set(x, "detail", kf_json_str(ev[i].detail));
			kf_json_push(hist, x);
		}
	kf_events_free(ev, n);
	kf_json_set(o, "events", hist);
	*out = o;
	return 0;
}

static void get_host(struct kf_api *a, struct kf_httpd_req *rq, const char *name)
{
	long nev = kf_api_count_arg(rq, "events", DETAIL_EVENTS, 1000);
	if (nev < 0) {
		kf_httpd_reply_error(rq, 400, "events must be 0 to 1000");
		return;
	}
	struct kf_json *o = NULL;
	struct kf_err e = KF_ERR_INIT;
	int r = kf_api_host_detail(a->s, name, (size_t)nev, &o, &e);
	kf_err_release(&e);
	if (r == -ENOENT)
		kf_httpd_reply_error(rq, 404, "no host \"%s\"", name);
	else if (r < 0)
		kf_httpd_reply_error(rq, 503, "state store unavailable");
	else
		reply_json(rq, 200, o);
}

/* ---- actions ---- */

static void post_action(struct kf_api *a, struct kf_httpd_req *rq, const struct kf_api_who *who,
			const char *target, const char *name, bool discovered)
{
	const struct kf_api_action *act = kf_api_action_find(name, discovered);
	if (!act) {
		kf_httpd_reply_error(rq, 404, "no action \"%s\"", name);
		return;
	}
	if (kf_api_may_change(rq, who, NULL) < 0)
		return;
	size_t len = 0;
	const char *body = kf_httpd_body(rq, &len);
	struct kf_json *o = NULL;
	struct kf_err e = KF_ERR_INIT;
	char msg[256];
	const char *ct = kf_httpd_header(rq, "Content-Type");
	int status = 0;
	if (body && len && (!ct || strncmp(ct, "application/json", 16)))
		status = 415, snprintf(msg, sizeof(msg), "the body must be application/json");
	else if (body && kf_json_parse_object_bounded(body, len, 8, &o, &e) < 0)
		status = 400, kf_api_errmsg(&e, msg, sizeof(msg));
	if (status) {
		kf_log(KF_LOG_WARN, "api: %d POST %s from %s (%s): %s", status, kf_httpd_path(rq),
		       kf_httpd_peer(rq), who->name, msg);
		kf_httpd_reply_error(rq, status, "%s", msg);
		kf_err_release(&e);
		return;
	}
	struct kf_api_act c = { .target = target, .body = o, .who = who, .peer = kf_httpd_peer(rq) };
	status = kf_api_action_run(a->s, act, &c, &e);
	if (status == 200)
		reply_json(rq, 200, c.result);
	else {
		kf_json_free(c.result);
		kf_httpd_reply_error(rq, status, "%s", kf_api_errmsg(&e, msg, sizeof(msg)));
	}
	kf_json_free(o);
	kf_err_release(&e);
}

/* ---- routing ---- */

static void whoami(struct kf_httpd_req *rq, const struct kf_api_who *who)
{
	struct kf_json *o = kf_json_object();
	kf_json_set(o, "name", kf_json_str(who->name));
	kf_json_set(o, "role", kf_json_str(who->role == KF_ROLE_ADMIN ? "admin" : "read-only"));
	kf_json_set(o, "api", kf_json_str("v1"));
	reply_json(rq, 200, o);
}

/* /api/v1/hosts/NAME[/ACTION] */
static void route_host(struct kf_api *a, struct kf_httpd_req *rq, const struct kf_api_who *who,
		       const char *rest, bool post)
{
	char name[254];
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (n >= sizeof(name)) {
		kf_httpd_reply_error(rq, 400, "bad host name");
		return;
	}
	memcpy(name, rest, n);
	name[n] = 0;
	if (!kf_serve_name_ok(name)) {
		kf_httpd_reply_error(rq, 400, "bad host name");
		return;
	}
	if (!slash && !post)
		get_host(a, rq, name);
	else if (slash && post && !strchr(slash + 1, '/'))
		post_action(a, rq, who, name, slash + 1, false);
	else if (slash && !post && !strcmp(slash + 1, "events"))
		kf_hub_attach(a->hub, rq, name);
	else if (!slash || strchr(slash + 1, '/'))
		kf_httpd_reply_error(rq, 404, "not found");
	else
		kf_httpd_reply_error(rq, 405, "use POST for an action");
}

/* /api/v1/discovered/MAC/ACTION */
static void route_discovered(struct kf_api *a, struct kf_httpd_req *rq, const struct kf_api_who *who,
			     const char *rest, bool post)
{
	char mac[32];
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (!slash || strchr(slash + 1, '/') || !slash[1]) {
		kf_httpd_reply_error(rq, 404, "not found");
		return;
	}
	if (!post) {
		kf_httpd_add_header(rq, "Allow", "POST");
		kf_httpd_reply_error(rq, 405, "use POST for an action");
		return;
	}
	if (n >= sizeof(mac)) {
		kf_httpd_reply_error(rq, 400, "bad MAC address");
		return;
	}
	memcpy(mac, rest, n);
	mac[n] = 0;
	post_action(a, rq, who, mac, slash + 1, true);
}

static void route(struct kf_api *a, struct kf_httpd_req *rq, const struct kf_api_who *who,
		  const char *rest)
{
	bool post = !strcmp(kf_httpd_method(rq), "POST");
	if (!strncmp(rest, "hosts/", 6) && rest[6]) {
		route_host(a, rq, who, rest + 6, post);
		return;
	}
	if (!strncmp(rest, "discovered/", 11) && rest[11]) {
		route_discovered(a, rq, who, rest + 11, post);
		return;
	}
	static const char *const gets[] = { "hosts", "summary", "discovered", "events", "whoami" };
	int which = -1;
	for (size_t i = 0; i < KF_ARRAY_SIZE(gets); i++)
		if (!strcmp(rest, gets[i]))
			which = (int)i;
	if (which < 0) {
		kf_httpd_reply_error(rq, 404, "not found");
		return;
	}
	if (post) {
		kf_httpd_add_header(rq, "Allow", "GET, HEAD");
		kf_httpd_reply_error(rq, 405, "method not allowed");
		return;
	}
	switch (which) {
	case 0: get_hosts(a, rq); break;
	case 1: reply_json(rq, 200, kf_api_summary_json(a->fleet)); break;
	case 2: get_discovered(a, rq); break;
	case 3: kf_hub_attach(a->hub, rq, NULL); break;
	default: whoami(rq, who); break;
	}
}

void kf_api_handle(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_api *a = kf_serve_api(ctx);
	const char *rest = kf_httpd_rest(rq);
	if (strncmp(rest, "v1/", 3)) {
		kf_httpd_reply_error(rq, 404, "unknown API version (this server speaks /api/v1/)");
		return;
	}
	struct kf_api_tokens *t = kf_api_tokens_of(a, rq);
	if (!t)
		return;
	if (!kf_serve_auth_allowed(ctx, rq)) {
		kf_httpd_reply_error(rq, 429, "too many failed token checks from this address: try again in a minute");
		return;
	}
	struct kf_api_who who;
	int r = kf_api_who(t, rq, &who);
	if (r == -EACCES)
		kf_serve_auth_failed(ctx, rq);
	if (r < 0) {
		kf_httpd_add_header(rq, "WWW-Authenticate", "Bearer realm=\"kickfleet\"");
		kf_httpd_reply_error(rq, 401, r == -ENOENT ? "authentication required (Authorization: Bearer TOKEN)"
							  : "invalid token or session");
		return;
	}
	route(a, rq, &who, rest + 3);
}
