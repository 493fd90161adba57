/* The host page, /ui/host/NAME: what the API's detail says (state, last
 * agent run, drift, facts, history) and the action buttons.  An action is
 * a form posted to /ui/host/NAME/ACTION with the session's CSRF token;
 * without confirm=1 (ui.js adds it after asking) the server answers with
 * a page that asks, so the question is there without JavaScript too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "provision/api.h"
#include "provision/serve.h"

/* A form button posting action (with the field key=val when key is not
 * NULL: "on" of netboot, "action" of power). */
static void button(struct kf_buf *b, const char *host, const struct kf_api_action *a, const char *key,
		   const char *val, const char *label, const struct kf_api_who *who)
{
	kf_buf_printf(b, "<form method=\"post\" action=\"/ui/host/%s/%s\" class=\"act\" data-confirm=\"", host,
		      a->name);
	char *q = kf_xasprintf(a->confirm, host);
	kf_ui_esc(b, q);
	free(q);
	kf_buf_printf(b, "\"><input type=\"hidden\" name=\"csrf\" value=\"%s\">", who->csrf);
	if (key)
		kf_buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"%s\">", key, val);
	kf_buf_printf(b, "<button id=\"act-%s%s%s\"%s>%s</button></form>", a->name, key ? "-" : "", key ? val : "",
		      who->role == KF_ROLE_ADMIN ? "" : " disabled title=\"read-only\"", label);
}

/* Power buttons for machines with power control: guests (libvirt) and
 * hosts with a power: section. */
static void actions(struct kf_serve *s, struct kf_buf *b, const char *host, const struct kf_api_who *who)
{
	kf_buf_puts(b, "<section class=\"actions\" id=\"actions\"><h2>Actions</h2>");
	const struct kf_api_action *nb = kf_api_action_find("netboot", false);
	button(b, host, nb, "on", "true", "Netboot on", who);
	button(b, host, nb, "on", "false", "Netboot off", who);
	size_t n;
	const struct kf_api_action *v = kf_api_actions(&n);
	for (size_t i = 0; i < n; i++)
		if (v[i].label && !v[i].discovered)
			button(b, host, &v[i], NULL, NULL, v[i].label, who);
	const struct kf_inventory *inv = kf_serve_inv_get(s);
	const struct kf_i_host *ih = kf_inventory_host(inv, host);
	bool power = !ih || ih->power;
	kf_serve_inv_put(s);
	const struct kf_api_action *pw = kf_api_action_find("power", false);
	static const char *const pa[][2] = { { "on", "Power on" }, { "off", "Power off" }, { "cycle", "Power cycle" } };
	for (size_t i = 0; power && i < KF_ARRAY_SIZE(pa); i++)
		button(b, host, pw, "action", pa[i][0], pa[i][1], who);
	kf_buf_puts(b, "</section>\n");
}

static void field(struct kf_buf *b, const char *label, const char *id, const char *value)
{
	kf_buf_printf(b, "<tr><th>%s</th><td id=\"%s\">", label, id);
	kf_ui_esc(b, value ? value : "-");
	kf_buf_puts(b, "</td></tr>");
}

static const char *jstr(const struct kf_json *o, const char *key)
{
	return kf_json_get_str(o, key);
}

static void details(struct kf_buf *b, const struct kf_json *d)
{
	char t[40], n[64];
	kf_buf_puts(b, "<table class=\"details\" id=\"details\">");
	field(b, "Kind", "d-kind", jstr(d, "kind"));
	field(b, "Role", "d-role", jstr(d, "role"));
	field(b, "KVM host", "d-host", jstr(d, "host"));
	field(b, "IP", "d-ip", jstr(d, "ip"));
	const struct kf_json *macs = kf_json_member(d, "macs");
	struct kf_buf m = KF_BUF_INIT;
	for (size_t i = 0; i < kf_json_len(macs); i++)
		kf_buf_printf(&m, "%s%s", i ? " " : "", kf_json_str_of(kf_json_at(macs, i), NULL));
	field(b, "MACs", "d-macs", m.len ? m.s : NULL);
	kf_buf_release(&m);
	kf_buf_printf(b, "<tr><th>State</th><td id=\"d-state\" class=\"st st-%s\">%s</td></tr>", jstr(d, "state"),
		      jstr(d, "state"));
	field(b, "Since", "d-since", kf_ui_time(kf_json_get_int(d, "since", 0), t, sizeof(t)));
	field(b, "Netboot", "d-netboot", kf_json_get_int(d, "netboot", 0) ? "on" : "off");
	field(b, "Power", "d-power", jstr(d, "power"));
	const struct kf_json *run = kf_json_get_object(d, "last_run");
	field(b, "Last agent run", "d-run", kf_ui_time(kf_json_get_int(run, "time", 0), t, sizeof(t)));
	snprintf(n, sizeof(n), "%s, exit %ld, %ld changes", jstr(run, "command") ? jstr(run, "command") : "?",
		 kf_json_get_int(run, "exit_code", -1), kf_json_get_int(run, "changes", 0));
	field(b, "Its result", "d-result", run ? n : NULL);
	snprintf(n, sizeof(n), "%ld", kf_json_get_int(d, "drift_count", 0));
	field(b, "Reports with drift", "d-drift", n);
	field(b, "Facts", "d-facts", jstr(d, "facts"));
	kf_buf_puts(b, "</table>\n");
}

static void drift(struct kf_buf *b, const struct kf_json *d)
{
	const struct kf_json *ch = kf_json_member(d, "drift");
	kf_buf_puts(b, "<section id=\"drift\"><h2>Drift in the last report</h2>");
	if (!kf_json_len(ch)) {
		kf_buf_puts(b, "<p>None.</p></section>\n");
		return;
	}
	kf_buf_puts(b, "<table><thead><tr><th>Resource</th><th>What</th><th>Status</th><th>Reason</th></tr></thead><tbody>");
	for (size_t i = 0; i < kf_json_len(ch); i++) {
		const struct kf_json *c = kf_json_at(ch, i);
		const char *k[] = { "resource", "what", "status", "reason" };
		kf_buf_puts(b, "<tr>");
		for (size_t j = 0; j < 4; j++) {
			kf_buf_puts(b, "<td>");
			kf_ui_esc(b, jstr(c, k[j]));
			kf_buf_puts(b, "</td>");
		}
		kf_buf_puts(b, "</tr>");
	}
	kf_buf_puts(b, "</tbody></table></section>\n");
}

static void history(struct kf_buf *b, const struct kf_json *d)
{
	const struct kf_json *ev = kf_json_member(d, "events");
	kf_buf_puts(b, "<section><h2>History</h2><table id=\"history\"><thead><tr><th>Time</th><th>What</th>"
		       "<th>Detail</th></tr></thead><tbody>");
	for (size_t i = 0; i < kf_json_len(ev); i++) {
		const struct kf_json *x = kf_json_at(ev, i);
		char t[40];
		kf_buf_printf(b, "<tr><td>%s</td><td>", kf_ui_time(kf_json_get_int(x, "time", 0), t, sizeof(t)));
		kf_ui_esc(b, jstr(x, "what"));
		kf_buf_puts(b, "</td><td>");
		kf_ui_esc(b, jstr(x, "detail"));
		kf_buf_puts(b, "</td></tr>");
	}
	kf_buf_puts(b, "</tbody></table></section>\n");
}

static void facts(struct kf_buf *b, const struct kf_json *d)
{
	const struct kf_json *f = kf_json_get_object(d, "facts_document");
	kf_buf_puts(b, "<section><h2>Facts</h2>");
	if (!f) {
		kf_buf_puts(b, "<p>None reported yet.</p></section>\n");
		return;
	}
	char *text = kf_json_dump(f, KF_JSON_PRETTY);
	kf_buf_puts(b, "<pre id=\"facts\">");
	kf_ui_esc(b, text);
	kf_buf_puts(b, "</pre></section>\n");
	free(text);
}

static void host_page(struct kf_serve *s, struct kf_httpd_req *rq, const struct kf_api_who *who,
		      const char *name)
{
	struct kf_json *d = NULL;
	struct kf_err e = KF_ERR_INIT;
	int r = kf_api_host_detail(s, name, 100, &d, &e);
	kf_err_release(&e);
	if (r < 0) {
		kf_httpd_reply_text(rq, r == -ENOENT ? 404 : 503, r == -ENOENT ? "no such host" : "state store unavailable");
		return;
	}
	struct kf_buf b = KF_BUF_INIT;
	kf_ui_head(&b, name, "host", name, who);
	kf_buf_printf(&b, "<p class=\"crumbs\"><a href=\"/ui/\">fleet</a> / %s</p><h1>%s</h1>\n", name, name);
	details(&b, d);
	actions(s, &b, name, who);
	drift(&b, d);
	history(&b, d);
	facts(&b, d);
	kf_json_free(d);
	kf_ui_foot(&b);
	kf_ui_send(rq, 200, &b);
}

/* The page that asks before an action runs (the form again, confirm=1). */
static void confirm_page(struct kf_httpd_req *rq, const struct kf_api_who *who, const char *host,
			 const struct kf_api_action *a, const char *key, const char *val)
{
	struct kf_buf b = KF_BUF_INIT;
	kf_ui_head(&b, "confirm", "confirm", host, who);
	char *q = kf_xasprintf(a->confirm, host);
	kf_buf_puts(&b, "<h1>");
	kf_ui_esc(&b, q);
	free(q);
	kf_buf_printf(&b, "</h1><form method=\"post\" action=\"/ui/host/%s/%s\"><input type=\"hidden\" name=\"csrf\" "
			  "value=\"%s\"><input type=\"hidden\" name=\"confirm\" value=\"1\">",
		      host, a->name, who->csrf);
	if (key) {
		kf_buf_printf(&b, "<input type=\"hidden\" name=\"%s\" value=\"", key);
		kf_ui_esc(&b, val);
		kf_buf_puts(&b, "\">");
	}
	kf_buf_printf(&b, "<button id=\"confirm\">Yes, %s</button> <a href=\"/ui/host/%s\">No, back</a></form>\n",
		      a->name, host);
	kf_ui_foot(&b);
	kf_ui_send(rq, 200, &b);
}

static void post_action(struct kf_serve *s, struct kf_httpd_req *rq, const struct kf_api_who *who,
			const char *host, const char *name)
{
	const struct kf_api_action *a = kf_api_action_find(name, false);
	const char *body = kf_httpd_body(rq, NULL);
	char csrf[KF_TOKEN_HEX + 1], on[8], act[8], yes[4];
	if (!a || !kf_serve_name_ok(host)) {
		kf_httpd_reply_text(rq, 404, "not found");
		return;
	}
	if (!kf_ui_form(body, "csrf", csrf, sizeof(csrf)))
		csrf[0] = 0;
	if (kf_api_may_change(rq, who, csrf) < 0)
		return;
	bool has_on = kf_ui_form(body, "on", on, sizeof(on));
	bool has_act = kf_ui_form(body, "action", act, sizeof(act));
	if (has_on && strcmp(on, "true") && strcmp(on, "false")) {
		kf_httpd_reply_text(rq, 400, "on must be true or false");
		return;
	}
	if (!kf_ui_form(body, "confirm", yes, sizeof(yes)) || strcmp(yes, "1")) {
		confirm_page(rq, who, host, a, has_on ? "on" : has_act ? "action" : NULL, has_on ? on : act);
		return;
	}
	struct kf_json *o = kf_json_object();
	if (has_on)
		kf_json_set(o, "on", kf_json_bool(!strcmp(on, "true")));
	if (has_act)
		kf_json_set(o, "action", kf_json_str(act));
	struct kf_api_act c = { .target = host, .body = o, .who = who, .peer = kf_httpd_peer(rq) };
	struct kf_err e = KF_ERR_INIT;
	int status = kf_api_action_run(s, a, &c, &e);
	kf_json_free(c.result);
	kf_json_free(o);
	if (status != 200) {
		char msg[256];
		kf_httpd_reply_text(rq, status, "%s", kf_api_errmsg(&e, msg, sizeof(msg)));
	} else {
		char *to = kf_xasprintf("/ui/host/%s", host);
		kf_httpd_add_header(rq, "Location", to);
		kf_httpd_reply(rq, 303, "text/plain; charset=utf-8", "see other\n", 10);
		free(to);
	}
	kf_err_release(&e);
}

void kf_ui_host(struct kf_serve *s, struct kf_httpd_req *rq, const struct kf_api_who *who,
		const char *rest)
{
	bool post = !strcmp(kf_httpd_method(rq), "POST");
	char host[254];
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (n >= sizeof(host)) {
		kf_httpd_reply_text(rq, 404, "not found");
		return;
	}
	memcpy(host, rest, n);
	host[n] = 0;
	if (!kf_serve_name_ok(host) || (post != !!slash) || (slash && strchr(slash + 1, '/'))) {
		kf_httpd_reply_text(rq, post ? 405 : 404, post ? "method not allowed" : "not found");
		return;
	}
	if (post)
		post_action(s, rq, who, host, slash + 1);
	else
		host_page(s, rq, who, host);
}
