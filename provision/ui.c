/* The status page under /ui/: the login form, the fleet table with its
 * summary bar, the static files (provision/ui/, installed as DATADIR/ui).
 * Every page is rendered by the server and readable without JavaScript;
 * ui.js adds live updates (server-sent events from /api/v1/events),
 * sorting and searching in place, and the confirmation of actions.
 * The host page is ui_host.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inventory.h"
#include "provision/api.h"
#include "provision/serve.h"

#ifndef KF_DATADIR
#define KF_DATADIR "/usr/local/share/kickfleet"
#endif

#define SESSION_MAX_AGE "43200"

/* ---- shared by the pages ---- */

void kf_ui_esc(struct kf_buf *b, const char *s)
{
	for (const char *p = s; p && *p;) {
		size_t n = strcspn(p, "<>&\"'");
		kf_buf_add(b, p, n);
		p += n;
		if (!*p)
			break;
		switch (*p++) {
		case '<': kf_buf_puts(b, "&lt;"); break;
		case '>': kf_buf_puts(b, "&gt;"); break;
		case '&': kf_buf_puts(b, "&amp;"); break;
		case '"': kf_buf_puts(b, "&quot;"); break;
		default: kf_buf_puts(b, "&#39;"); break;
		}
	}
}

const char *kf_ui_time(int64_t t, char *buf, size_t len)
{
	if (t <= 0)
		return "-";
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

void kf_ui_head(struct kf_buf *b, const char *title, const char *page, const char *host,
		const struct kf_api_who *who)
{
	kf_buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		       "<title>");
	kf_ui_esc(b, title);
	kf_buf_puts(b, " - kickfleet</title><link rel=\"stylesheet\" href=\"/ui/static/ui.css\">");
	if (who)
		kf_buf_printf(b, "<meta name=\"csrf\" content=\"%s\">"
				 "<script src=\"/ui/static/ui.js\" defer></script>",
			      who->csrf);
	kf_buf_printf(b, "</head>\n<body data-page=\"%s\"", page);
	if (host) {
		kf_buf_puts(b, " data-host=\"");
		kf_ui_esc(b, host);
		kf_buf_puts(b, "\"");
	}
	kf_buf_puts(b, ">\n<header><a class=\"brand\" href=\"/ui/\">kickfleet</a>");
	if (who) {
		kf_buf_puts(b, "<span class=\"live\" id=\"live\" title=\"live updates\"></span><span class=\"who\">");
		kf_ui_esc(b, who->name);
		kf_buf_printf(b, " (%s)</span><form method=\"post\" action=\"/ui/logout\" class=\"logout\">"
				 "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
				 "<button id=\"logout\">Log out</button></form>",
			      who->role == KF_ROLE_ADMIN ? "admin" : "read-only", who->csrf);
	}
	kf_buf_puts(b, "</header>\n<main>\n");
}

void kf_ui_foot(struct kf_buf *b)
{
	kf_buf_puts(b, "</main>\n</body></html>\n");
}

static void security_headers(struct kf_httpd_req *rq)
{
	kf_httpd_add_header(rq, "Content-Security-Policy",
			    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
			    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
	kf_httpd_add_header(rq, "X-Content-Type-Options", "nosniff");
	kf_httpd_add_header(rq, "X-Frame-Options", "DENY");
	kf_httpd_add_header(rq, "Referrer-Policy", "no-referrer");
	kf_httpd_add_header(rq, "Cache-Control", "no-store");
}

void kf_ui_send(struct kf_httpd_req *rq, int status, struct kf_buf *b)
{
	security_headers(rq);
	size_t len = b->len;
	kf_httpd_reply_take(rq, status, "text/html; charset=utf-8", kf_buf_detach(b), len);
}

static void redirect(struct kf_httpd_req *rq, const char *to)
{
	security_headers(rq);
	kf_httpd_add_header(rq, "Location", to);
	kf_httpd_reply(rq, 303, "text/plain; charset=utf-8", "see other\n", 10);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool kf_ui_form(const char *body, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);
	for (const char *p = body; p && *p;) {
		size_t n = strcspn(p, "&");
		if (n > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			size_t w = 0;
			for (const char *q = p + nl + 1; q < p + n; q++) {
				int c = (unsigned char)*q;
				if (c == '+')
					c = ' ';
				else if (c == '%' && q + 2 < p + n + 1 && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
					c = hexval(q[1]) * 16 + hexval(q[2]);
					q += 2;
				}
				if (w + 1 >= len || c == 0)
					return false;
				out[w++] = (char)c;
			}
			out[w] = 0;
			return true;
		}
		p += n + (p[n] == '&');
	}
	return false;
}

/* ---- static files ---- */

char *kf_ui_dir(void)
{
	const char *env = getenv("KICKFLEET_DATADIR");
	char *self = kf_self_dir();
	char *dirs[3] = { env ? kf_xasprintf("%s/ui", env) : NULL,
			  self ? kf_xasprintf("%s/../provision/ui", self) : NULL,
			  kf_xstrdup(KF_DATADIR "/ui") };
	free(self);
	char *found = NULL;
	for (size_t i = 0; i < 3; i++) {
		if (!found && dirs[i] && access(dirs[i], R_OK | X_OK) == 0)
			found = dirs[i];
		else
			free(dirs[i]);
	}
	return found;
}

static pthread_once_t dir_once = PTHREAD_ONCE_INIT;
static char *ui_dir;
static void find_dir(void)
{
	ui_dir = kf_ui_dir();
	if (!ui_dir)
		kf_log(KF_LOG_WARN, "ui: no static files (" KF_DATADIR "/ui): the page works without "
				    "its stylesheet and script");
}

static void static_file(struct kf_httpd_req *rq, const char *rel)
{
	pthread_once(&dir_once, find_dir);
	if (!ui_dir) {
		kf_httpd_reply_text(rq, 404, "not found");
		return;
	}
	kf_httpd_add_header(rq, "X-Content-Type-Options", "nosniff");
	kf_httpd_add_header(rq, "Cache-Control", "no-cache");
	kf_httpd_reply_file(rq, ui_dir, rel);
}

/* ---- login ---- */

static void login_page(struct kf_httpd_req *rq, int status, const char *error)
{
	struct kf_buf b = KF_BUF_INIT;
	kf_ui_head(&b, "log in", "login", NULL, NULL);
	kf_buf_puts(&b, "<form method=\"post\" action=\"/ui/login\" class=\"login\" id=\"login\">"
			"<h1>Log in</h1>");
	if (error) {
		kf_buf_puts(&b, "<p class=\"error\" id=\"login-error\">");
		kf_ui_esc(&b, error);
		kf_buf_puts(&b, "</p>");
	}
	kf_buf_puts(&b, "<label>Admin token <input type=\"password\" name=\"token\" id=\"token\" "
			"autocomplete=\"current-password\" required autofocus></label>"
			"<button id=\"login-button\">Log in</button>"
			"<p class=\"hint\">A token of the server's admin tokens file (docs/api.md).</p>"
			"</form>\n");
	kf_ui_foot(&b);
	kf_ui_send(rq, status, &b);
}

static void post_login(struct kf_serve *s, struct kf_api_tokens *t, struct kf_httpd_req *rq)
{
	const char *body = kf_httpd_body(rq, NULL);
	char token[300];
	struct kf_api_who who;
	if (!kf_ui_form(body, "token", token, sizeof(token)) ||
	    kf_api_login(t, token, kf_httpd_peer(rq), &who) < 0) {
		explicit_bzero(token, sizeof(token));
		kf_serve_auth_failed(s, rq); /* counted with every token check (429 past the limit) */
		login_page(rq, 401, "That token is not valid.");
		return;
	}
	explicit_bzero(token, sizeof(token));
	char *c = kf_xasprintf("kf_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=" SESSION_MAX_AGE,
			       who.sid);
	kf_httpd_add_header(rq, "Set-Cookie", c);
	free(c);
	redirect(rq, "/ui/");
}

static void post_logout(struct kf_api_tokens *t, struct kf_httpd_req *rq, const struct kf_api_who *who)
{
	char csrf[KF_TOKEN_HEX + 1];
	const char *body = kf_httpd_body(rq, NULL);
	if (!kf_ui_form(body, "csrf", csrf, sizeof(csrf)))
		csrf[0] = 0;
	if (!who->session) {
		kf_httpd_reply_error(rq, 400, "not logged in with a session");
		return;
	}
	/* a read-only session may log out too: only the CSRF token matters */
	if (!kf_token_equal(csrf, who->csrf)) {
		kf_log(KF_LOG_WARN, "api: 403 POST /ui/logout from %s (%s): missing or wrong CSRF token",
		       kf_httpd_peer(rq), who->name);
		kf_httpd_reply_error(rq, 403, "missing or wrong CSRF token");
		return;
	}
	kf_api_logout(t, who->sid);
	kf_log(KF_LOG_INFO, "api: %s logged out from %s", who->name, kf_httpd_peer(rq));
	kf_httpd_add_header(rq, "Set-Cookie", "kf_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
	redirect(rq, "/ui/login");
}

/* ---- the fleet ---- */

static void summary_bar(struct kf_buf *b, struct kf_fleet *f)
{
	size_t by[KF_ST_COUNT], total;
	kf_fleet_counts(f, by, &total);
	size_t done = by[KF_ST_INSTALLED] + by[KF_ST_CONFIGURED] + by[KF_ST_DRIFTED];
	kf_buf_puts(b, "<section id=\"summary\" class=\"summary\">");
	for (int i = 0; i < KF_ST_COUNT; i++)
		kf_buf_printf(b, "<span class=\"count st-%s\">%s <b id=\"c-%s\">%zu</b></span>",
			      kf_install_state_name(i), kf_install_state_name(i), kf_install_state_name(i), by[i]);
	kf_buf_printf(b, "<span class=\"count\">installs in progress <b id=\"c-progress\">%zu</b></span>"
			 "<span class=\"progress\"><progress id=\"p-installed\" max=\"%zu\" value=\"%zu\"></progress>"
			 " <b id=\"c-installed\">%zu</b>/<b id=\"c-total\">%zu</b> installed</span></section>\n",
		      by[KF_ST_BOOTING] + by[KF_ST_INSTALLING], total ? total : 1, done, done, total);
}

static void option(struct kf_buf *b, const char *value, const char *label, const char *cur)
{
	kf_buf_puts(b, "<option value=\"");
	kf_ui_esc(b, value);
	kf_buf_printf(b, "\"%s>", cur && !strcmp(cur, value) ? " selected" : "");
	kf_ui_esc(b, label);
	kf_buf_puts(b, "</option>");
}

static void filters(struct kf_buf *b, struct kf_serve *s, struct kf_httpd_req *rq)
{
	const char *q = kf_httpd_arg(rq, "q"), *st = kf_httpd_arg(rq, "state");
	const char *role = kf_httpd_arg(rq, "role"), *seg = kf_httpd_arg(rq, "segment");
	kf_buf_puts(b, "<form id=\"filters\" class=\"filters\" method=\"get\" action=\"/ui/\">"
		       "<input type=\"search\" name=\"q\" id=\"search\" placeholder=\"search names\" value=\"");
	kf_ui_esc(b, q);
	kf_buf_puts(b, "\"><select name=\"state\" id=\"f-state\">");
	option(b, "", "any state", st);
	for (int i = 0; i < KF_ST_COUNT; i++)
		option(b, kf_install_state_name(i), kf_install_state_name(i), st);
	kf_buf_puts(b, "</select><select name=\"role\" id=\"f-role\">");
	option(b, "", "any role", role);
	const struct kf_inventory *inv = kf_serve_inv_get(s);
	for (size_t i = 0; i < inv->roles.n; i++) {
		const char *name = KF_LIST_AT(inv->roles, struct kf_i_role, i)->name;
		option(b, name, name, role);
	}
	kf_serve_inv_put(s);
	kf_buf_puts(b, "</select><input name=\"segment\" id=\"f-segment\" placeholder=\"segment 10.0.0.0/24\" value=\"");
	kf_ui_esc(b, seg);
	kf_buf_puts(b, "\">");
	const char *sort = kf_httpd_arg(rq, "sort"), *limit = kf_httpd_arg(rq, "limit");
	if (sort && *sort) {
		kf_buf_puts(b, "<input type=\"hidden\" name=\"sort\" value=\"");
		kf_ui_esc(b, sort);
		kf_buf_puts(b, "\">");
	}
	if (limit && *limit) {
		kf_buf_puts(b, "<input type=\"hidden\" name=\"limit\" value=\"");
		kf_ui_esc(b, limit);
		kf_buf_puts(b, "\">");
	}
	kf_buf_puts(b, "<button>Filter</button></form>\n");
}

#define PAGE_ROWS 200
#define PAGE_MAX 1000

/* The query arguments a fleet page keeps in its links (the API's). */
static const char *const kept[] = { "q", "state", "role", "segment", "kind", "prefix" };

/* Appends name=value percent-encoded, after '&' unless first. */
static void query_arg(struct kf_buf *b, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	kf_buf_puts(b, b->len && b->s[b->len - 1] != '?' ? "&" : "");
	kf_buf_puts(b, name);
	kf_buf_puts(b, "=");
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/", *p)) {
			kf_buf_add(b, (const char *)p, 1);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			kf_buf_add(b, e, 3);
		}
	}
}

/* The page's place in the fleet: what it shows and how it links on. */
struct view {
	struct kf_httpd_req *rq;
	const struct kf_api_filter *flt;
	size_t offset, limit, total;
};

/* An <a> to the fleet page at offset, sorted by sort (NULL: as now),
 * the other arguments kept; its text is label (HTML). */
static void link_to(struct kf_buf *b, const struct view *v, size_t offset, const char *sort,
		    const char *cls, const char *label)
{
	struct kf_buf q = KF_BUF_INIT;
	kf_buf_puts(&q, "/ui/?");
	for (size_t i = 0; i < KF_ARRAY_SIZE(kept); i++) {
		const char *a = kf_httpd_arg(v->rq, kept[i]);
		if (a && *a)
			query_arg(&q, kept[i], a);
	}
	const char *cur = kf_httpd_arg(v->rq, "sort");
	if (sort ? strcmp(sort, "name") : cur && *cur)
		query_arg(&q, "sort", sort ? sort : cur);
	if (v->limit != PAGE_ROWS)
		kf_buf_printf(&q, "&limit=%zu", v->limit);
	if (offset)
		kf_buf_printf(&q, "&offset=%zu", offset);
	kf_buf_printf(b, "<a class=\"%s\" href=\"", cls);
	kf_ui_esc(b, q.s);
	kf_buf_printf(b, "\">%s</a>", label);
	kf_buf_release(&q);
}

static void pager(struct kf_buf *b, const struct view *v, const char *id)
{
	size_t last = v->total ? (v->total - 1) / v->limit * v->limit : 0;
	kf_buf_printf(b, "<nav class=\"pager\" id=\"%s\">", id);
	if (v->offset) {
		link_to(b, v, 0, NULL, "nav first", "&laquo; first");
		link_to(b, v, v->offset > v->limit ? v->offset - v->limit : 0, NULL, "nav prev", "&lsaquo; previous");
	}
	kf_buf_printf(b, "<span class=\"count\">%zu&ndash;%zu of %zu hosts</span>",
		      v->total ? v->offset + 1 : 0, v->offset + v->limit < v->total ? v->offset + v->limit : v->total,
		      v->total);
	if (v->offset + v->limit < v->total) {
		link_to(b, v, v->offset + v->limit, NULL, "nav next", "next &rsaquo;");
		link_to(b, v, last, NULL, "nav last", "last &raquo;");
	}
	kf_buf_puts(b, "</nav>\n");
}

static void head_row(struct kf_buf *b, const struct view *v)
{
	static const char *const labels[KF_SORT_COUNT] = {
		"Host", "Kind", "Role", "IP", "State", "Since", "Netboot", "Last agent run", "Drift", "Facts",
	};
	kf_buf_puts(b, "<thead><tr>");
	for (int i = 0; i < KF_SORT_COUNT; i++) {
		const char *key = kf_api_sort_name(i);
		bool cur = v->flt->sort == i;
		char sort[16];
		snprintf(sort, sizeof(sort), "%s%s", cur && !v->flt->desc ? "-" : "", key);
		kf_buf_printf(b, "<th data-key=\"%s\"%s>", key,
			      !cur ? "" : v->flt->desc ? " class=\"desc\"" : " class=\"asc\"");
		link_to(b, v, 0, sort, "nav sort", labels[i]);
		kf_buf_puts(b, "</th>");
	}
	kf_buf_puts(b, "</tr></thead>");
}

static void row(const struct kf_api_host *h, void *arg)
{
	struct kf_buf *b = arg;
	const char *st = kf_install_state_name(h->state);
	char t1[40], t2[40];
	/* names are [A-Za-z0-9._-] (kf_serve_name_ok), as the store's */
	kf_buf_printf(b, "<tr id=\"h-%s\" data-state=\"%s\" data-since=\"%lld\"><td><a href=\"/ui/host/%s\">%s</a></td>"
			 "<td>%s</td><td>",
		      h->name, st, (long long)h->since, h->name, h->name, kf_host_kind_name(h->kind));
	kf_ui_esc(b, h->role);
	kf_buf_printf(b, "</td><td>%s</td><td class=\"st st-%s\">%s</td><td>%s</td><td>%s</td><td>%s</td>"
			 "<td>%lld</td><td>",
		      h->ip, st, st, kf_ui_time(h->since, t1, sizeof(t1)), h->netboot ? "on" : "off",
		      kf_ui_time(h->report_time, t2, sizeof(t2)), (long long)h->drift_count);
	kf_ui_esc(b, h->facts);
	kf_buf_puts(b, "</td></tr>\n");
}

/* The table of one page of the fleet, its pagers: what the script swaps
 * in place (#view) when the search changes. */
static int fleet_view(struct kf_buf *b, struct kf_fleet *f, struct kf_httpd_req *rq)
{
	struct kf_api_filter flt;
	struct kf_err e = KF_ERR_INIT;
	char msg[256];
	long limit = kf_api_count_arg(rq, "limit", PAGE_ROWS, PAGE_MAX);
	long offset = kf_api_count_arg(rq, "offset", 0, 1L << 30);
	int status = 200;
	kf_buf_puts(b, "<div id=\"view\">");
	if (kf_api_filter_parse(rq, &flt, &e) < 0 || limit < 1 || offset < 0) {
		if (!e.n)
			snprintf(msg, sizeof(msg), "limit must be 1 to %d, offset 0 or more", PAGE_MAX);
		else
			kf_api_errmsg(&e, msg, sizeof(msg));
		kf_buf_puts(b, "<p class=\"error\">");
		kf_ui_esc(b, msg);
		kf_buf_puts(b, "</p>");
		status = 400;
	} else {
		struct kf_buf rows = KF_BUF_INIT;
		struct view v = { rq, &flt, (size_t)offset, (size_t)limit, 0 };
		v.total = kf_fleet_page(f, &flt, v.offset, v.limit, row, &rows);
		pager(b, &v, "pager");
		kf_buf_puts(b, "<table id=\"fleet\" class=\"fleet\">");
		head_row(b, &v);
		kf_buf_puts(b, "<tbody>\n");
		if (rows.len)
			kf_buf_add(b, rows.s, rows.len);
		kf_buf_puts(b, "</tbody></table>\n");
		pager(b, &v, "pager-end");
		kf_buf_printf(b, "<p class=\"count\" id=\"shown\">%zu hosts</p>\n", v.total);
		kf_buf_release(&rows);
	}
	kf_buf_puts(b, "</div>\n");
	kf_err_release(&e);
	return status;
}

static void fleet_page(struct kf_serve *s, struct kf_httpd_req *rq, const struct kf_api_who *who)
{
	struct kf_buf b = KF_BUF_INIT;
	kf_ui_head(&b, "fleet", "fleet", NULL, who);
	struct kf_fleet *f = kf_api_fleet(kf_serve_api(s));
	summary_bar(&b, f);
	filters(&b, s, rq);
	int status = fleet_view(&b, f, rq);
	kf_ui_foot(&b);
	kf_ui_send(rq, status, &b);
}

/* ---- routing ---- */

void kf_ui_handle(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	const char *rest = kf_httpd_rest(rq);
	bool post = !strcmp(kf_httpd_method(rq), "POST");
	if (!strncmp(rest, "static/", 7) && !post) {
		static_file(rq, rest + 7);
		return;
	}
	struct kf_api_tokens *t = kf_api_tokens_of(kf_serve_api(s), rq);
	if (!t)
		return;
	if (!kf_serve_auth_allowed(s, rq)) {
		login_page(rq, 429, "Too many failed logins from your address: try again in a minute.");
		return;
	}
	if (!strcmp(rest, "login")) {
		if (post)
			post_login(s, t, rq);
		else
			login_page(rq, 200, NULL);
		return;
	}
	struct kf_api_who who;
	int r = kf_api_who(t, rq, &who);
	if (r == -EACCES)
		kf_serve_auth_failed(s, rq);
	if (r < 0 || !who.session) {
		/* no session (a bearer token is for the API): the login page */
		if (post)
			login_page(rq, 401, "Log in first.");
		else
			redirect(rq, "/ui/login");
		return;
	}
	if (!strcmp(rest, "logout") && post)
		post_logout(t, rq, &who);
	else if (!*rest && !post)
		fleet_page(s, rq, &who);
	else if (!strncmp(rest, "host/", 5))
		kf_ui_host(s, rq, &who, rest + 5);
	else
		kf_httpd_reply_text(rq, post ? 405 : 404, post ? "method not allowed" : "not found");
}
