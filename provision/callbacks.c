/* Callbacks: POST /cb/HOST/installing|installed|report?token=T, JSON
 * bodies (at most 64 KiB, checked by the HTTP layer), read with lib/json.h.
 *
 *   installing  the installer runs: state installing
 *   installed   install done: state installed, netboot off, boot files
 *               re-rendered for local boot (dnsmasq SIGHUP when needed).
 *               Idempotent: twice, or late (after a report), changes
 *               nothing but re-checks the boot files.
 *   report      an agent run (kickfleet-agent --report): configured,
 *               drifted or failed, the report kept as the last one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "provision/serve.h"
#include "util.h"

int kf_report_parse(const char *json, size_t len, struct kf_report_info *ri, struct kf_err *e)
{
	struct kf_json *o = NULL;
	memset(ri, 0, sizeof(*ri));
	ri->exit_code = -1;
	int r = kf_json_parse_object(json, len, &o, e);
	if (r < 0)
		return r;
	if (!o)
		return kf_errf(e, NULL, "empty report");
	const struct kf_json *sum = kf_json_get_object(o, "summary");
	if (sum) {
		/* kickfleet-agent's report (agent/report.c) */
		long to_change = kf_json_get_int(sum, "to_change", 0), nfailed = kf_json_get_int(sum, "failed", 0);
		long nerr = kf_json_get_int(sum, "errors", 0), pending = kf_json_get_int(sum, "pending", 0);
		long applied = kf_json_get_int(sum, "applied", 0);
		long code = kf_json_get_int(o, "exit_code", -1);
		const char *cmd = kf_json_get_str(o, "command");
		const char *ver = kf_json_get_str(o, "agent_version");
		bool applying = cmd && !strcmp(cmd, "apply");
		ri->failed = nfailed > 0 || nerr > 0 || (code >= 0 && (code & 4)) || code == 1;
		/* drift that is still there: planned (check/plan) or pending after apply */
		ri->drifted = applying ? pending > 0 : (to_change > 0 || (code >= 0 && (code & 2)));
		ri->changes = applying ? applied : to_change;
		ri->exit_code = code >= 0 && code <= 255 ? (int)code : -1;
		if (ver)
			snprintf(ri->agent_version, sizeof(ri->agent_version), "%s", ver);
	} else if (kf_json_has(o, "drift") || kf_json_has(o, "failures")) {
		/* the short form: {"drift": N, "failures": N} */
		long d = kf_json_get_int(o, "drift", -1), f = kf_json_get_int(o, "failures", 0);
		if (d < 0 || f < 0)
			r = kf_errf(e, NULL, "report: drift and failures must be counts");
		ri->drifted = d > 0;
		ri->failed = f > 0;
		ri->changes = d;
	} else {
		r = kf_errf(e, NULL, "report: no \"summary\" (or \"drift\"/\"failures\") in the document");
	}
	kf_json_free(o);
	return r;
}

static void reply_state(struct kf_httpd_req *rq, struct kf_state *st, const char *host,
			int changed)
{
	struct kf_host_rec rec = { 0 };
	const char *name = "unknown";
	if (kf_state_get_host(st, host, &rec, NULL) == 0)
		name = kf_install_state_name(rec.state);
	struct kf_json *o = kf_json_object();
	kf_json_set(o, "host", kf_json_str(host));
	kf_json_set(o, "state", kf_json_str(name));
	kf_json_set(o, "netboot", kf_json_bool(rec.netboot));
	kf_json_set(o, "changed", kf_json_bool(changed));
	kf_host_rec_release(&rec);
	char *text = kf_json_dump(o, KF_JSON_PLAIN);
	kf_json_free(o);
	char *body = kf_xasprintf("%s\n", text);
	free(text);
	kf_httpd_reply_take(rq, 200, "application/json", body, strlen(body));
}

/* One callback: what the URL's last part names and what it does. */
struct cb_action {
	const char *name;
	/* the installer's: its token expires after the install, its body is
	 * any JSON object or nothing; else the agent's (report) */
	bool installer;
	void (*run)(struct kf_serve *s, const struct cb_action *a, const struct kf_inventory *inv,
		    struct kf_httpd_req *rq, const char *host, const struct kf_host_rec *rec);
	/* installer callbacks: the state they move to, "done" when the host is
	 * already there or past it (and, when netboot_off, boots locally) */
	int to;
	bool netboot_off;
	bool rerender; /* the boot files, always: a crash between the state
			* change and the render is mended by the next callback
			* (the renderer writes only what changed) */
	const char *log; /* "serve: HOST <log> (callback from PEER)<log_tail>" */
	const char *log_tail;
};

/* Late or repeated callbacks (the host is at the state or past it) change
 * nothing but still reply with the state. */
static void cb_move(struct kf_serve *s, const struct cb_action *a, const struct kf_inventory *inv,
		    struct kf_httpd_req *rq, const char *host, const struct kf_host_rec *rec)
{
	struct kf_err e = KF_ERR_INIT;
	struct kf_state *st = kf_serve_state(s, &e);
	int r = 0;
	bool done = rec->state >= a->to && (!a->netboot_off || !rec->netboot);
	if (st && !done) {
		char detail[64];
		snprintf(detail, sizeof(detail), "%s callback", a->name);
		r = kf_state_set_state(st, host, a->to, detail, &e);
	}
	if (!st || r < 0) {
		kf_err_print(&e, stderr);
		kf_httpd_reply_text(rq, 503, "state store unavailable");
		kf_err_release(&e);
		return;
	}
	if (r > 0)
		kf_log(KF_LOG_INFO, "serve: %s %s (callback from %s)%s", host, a->log,
		       kf_httpd_peer(rq), a->log_tail ? a->log_tail : "");
	if (a->rerender)
		kf_serve_rerender(s, inv, host);
	reply_state(rq, st, host, r > 0);
	kf_err_release(&e);
}

static void cb_report(struct kf_serve *s, const struct cb_action *a, const struct kf_inventory *inv,
		      struct kf_httpd_req *rq, const char *host, const struct kf_host_rec *rec)
{
	(void)a, (void)inv, (void)rec;
	size_t len = 0;
	const char *body = kf_httpd_body(rq, &len);
	struct kf_report_info ri;
	struct kf_err e = KF_ERR_INIT;
	if (kf_report_parse(body ? body : "", len, &ri, &e) < 0) {
		char msg[256];
		kf_err_format(&e, 0, msg, sizeof(msg));
		kf_log(KF_LOG_WARN, "http: 400 POST %s from %s: %s (host %s)", kf_httpd_path(rq),
		       kf_httpd_peer(rq), msg, host);
		kf_httpd_reply_text(rq, 400, "%s", msg);
		kf_err_release(&e);
		return;
	}
	struct kf_state *st = kf_serve_state(s, &e);
	int r = st ? kf_state_record_report(st, host, body, &ri, &e) : -EIO;
	if (r < 0) {
		kf_err_print(&e, stderr);
		kf_httpd_reply_text(rq, 503, "state store unavailable");
	} else {
		kf_log(KF_LOG_INFO, "serve: report from %s: %s (%ld changes, exit %d, agent %s)", host,
		       ri.failed ? "failed" : ri.drifted ? "drifted" : "configured", ri.changes, ri.exit_code,
		       ri.agent_version[0] ? ri.agent_version : "?");
		reply_state(rq, st, host, 1);
	}
	kf_err_release(&e);
}

static const struct cb_action actions[] = {
	{ .name = "installing", .installer = true, .run = cb_move, .to = KF_ST_INSTALLING,
	  .log = "is installing" },
	{ .name = "installed", .installer = true, .run = cb_move, .to = KF_ST_INSTALLED,
	  .netboot_off = true, .rerender = true, .log = "is installed",
	  .log_tail = ", boots locally now" },
	{ .name = "report", .run = cb_report },
};

/* An installer callback's body: any JSON object, or nothing.  On a bad
 * one answers 400 itself. */
static int installer_body_ok(struct kf_httpd_req *rq)
{
	size_t len = 0;
	const char *body = kf_httpd_body(rq, &len);
	struct kf_json *o = NULL;
	struct kf_err e = KF_ERR_INIT;
	int r = body ? kf_json_parse_object(body, len, &o, &e) : 0;
	if (r < 0) {
		char msg[256];
		kf_err_format(&e, 0, msg, sizeof(msg));
		kf_httpd_reply_text(rq, 400, "%s", msg);
	}
	kf_json_free(o);
	kf_err_release(&e);
	return r;
}

void kf_serve_cb(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	const char *rest = kf_httpd_rest(rq);
	const char *slash = strchr(rest, '/');
	const struct cb_action *a = NULL;
	char host[254];
	if (slash && (size_t)(slash - rest) < sizeof(host)) {
		memcpy(host, rest, (size_t)(slash - rest));
		host[slash - rest] = 0;
		for (size_t i = 0; i < KF_ARRAY_SIZE(actions) && !a; i++)
			if (!strcmp(slash + 1, actions[i].name))
				a = &actions[i];
	}
	if (!a || !kf_serve_name_ok(host)) {
		kf_httpd_reply_text(rq, 404, "not found");
		return;
	}
	struct kf_host_rec rec;
	if (kf_serve_auth(s, rq, host, a->installer, &rec) < 0)
		return;
	if (!kf_serve_rate_ok(s, rq, KF_LIMIT_CALLBACK, host) ||
	    (a->installer && installer_body_ok(rq) < 0)) {
		kf_host_rec_release(&rec);
		return;
	}
	/* the read side of kf_serve_exclusive: no full render overlaps */
	const struct kf_inventory *inv = kf_serve_inv_get(s);
	kf_serve_wrote(s);
	a->run(s, a, inv, rq, host, &rec);
	kf_serve_wrote(s); /* before and after: no reader caches a row in between */
	kf_serve_inv_put(s);
	kf_host_rec_release(&rec);
}
