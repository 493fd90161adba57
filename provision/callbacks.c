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

int kf_report_parse(const char *json, size_t len, int *drifted, int *failed, long *changes,
		    struct kf_err *e)
{
	struct kf_json *o = NULL;
	int r = kf_json_parse_object(json, len, &o, e);
	if (r < 0)
		return r;
	if (!o)
		return kf_errf(e, NULL, "empty report");
	const struct kf_json *sum = kf_json_get_object(o, "summary");
	*drifted = *failed = 0;
	*changes = 0;
	if (sum) {
		/* kickfleet-agent's report (agent/report_json.c) */
		long to_change = kf_json_get_int(sum, "to_change", 0), nfailed = kf_json_get_int(sum, "failed", 0);
		long nerr = kf_json_get_int(sum, "errors", 0), pending = kf_json_get_int(sum, "pending", 0);
		long applied = kf_json_get_int(sum, "applied", 0);
		long code = kf_json_get_int(o, "exit_code", -1);
		const char *cmd = kf_json_get_str(o, "command");
		bool applying = cmd && !strcmp(cmd, "apply");
		*failed = nfailed > 0 || nerr > 0 || (code >= 0 && (code & 4)) || code == 1;
		/* drift that is still there: planned (check/plan) or pending after apply */
		*drifted = applying ? pending > 0 : (to_change > 0 || (code >= 0 && (code & 2)));
		*changes = applying ? applied : to_change;
	} else if (kf_json_has(o, "drift") || kf_json_has(o, "failures")) {
		/* the short form: {"drift": N, "failures": N} */
		long d = kf_json_get_int(o, "drift", -1), f = kf_json_get_int(o, "failures", 0);
		if (d < 0 || f < 0)
			r = kf_errf(e, NULL, "report: drift and failures must be counts");
		*drifted = d > 0;
		*failed = f > 0;
		*changes = d;
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

static void cb_installing(struct kf_serve *s, struct kf_httpd_req *rq, const char *host,
			  const struct kf_host_rec *rec)
{
	struct kf_err e = KF_ERR_INIT;
	struct kf_state *st = kf_serve_state(s, &e);
	int r = 0;
	/* late (the host is past installing): nothing to do */
	if (st && rec->state < KF_ST_INSTALLING)
		r = kf_state_set_state(st, host, KF_ST_INSTALLING, "installing callback", &e);
	if (!st || r < 0) {
		kf_err_print(&e, stderr);
		kf_httpd_reply_text(rq, 503, "state store unavailable");
	} else {
		if (r > 0)
			kf_log(KF_LOG_INFO, "serve: %s is installing (callback from %s)", host,
			       kf_httpd_peer(rq));
		reply_state(rq, st, host, r > 0);
	}
	kf_err_release(&e);
}

static void cb_installed(struct kf_serve *s, const struct kf_inventory *inv,
			 struct kf_httpd_req *rq, const char *host, const struct kf_host_rec *rec)
{
	struct kf_err e = KF_ERR_INIT;
	struct kf_state *st = kf_serve_state(s, &e);
	int r = 0;
	/* installed, configured, drifted or failed with netboot off: the install
	 * was already recorded; a late or repeated callback keeps the state */
	bool done = rec->state >= KF_ST_INSTALLED && !rec->netboot;
	if (st && !done)
		r = kf_state_set_state(st, host, KF_ST_INSTALLED, "installed callback", &e);
	if (!st || r < 0) {
		kf_err_print(&e, stderr);
		kf_httpd_reply_text(rq, 503, "state store unavailable");
		kf_err_release(&e);
		return;
	}
	if (r > 0)
		kf_log(KF_LOG_INFO, "serve: %s is installed (callback from %s), boots locally now", host,
		       kf_httpd_peer(rq));
	/* always: a crash between the state change and the render is mended by
	 * the next callback (the renderer writes only what changed) */
	kf_serve_rerender(s, inv, host);
	reply_state(rq, st, host, r > 0);
	kf_err_release(&e);
}

static void cb_report(struct kf_serve *s, struct kf_httpd_req *rq, const char *host)
{
	size_t len = 0;
	const char *body = kf_httpd_body(rq, &len);
	int drifted, failed;
	long changes;
	struct kf_err e = KF_ERR_INIT;
	if (kf_report_parse(body ? body : "", len, &drifted, &failed, &changes, &e) < 0) {
		char msg[256];
		kf_err_format(&e, 0, msg, sizeof(msg));
		kf_log(KF_LOG_WARN, "http: 400 POST %s from %s: %s (host %s)", kf_httpd_path(rq),
		       kf_httpd_peer(rq), msg, host);
		kf_httpd_reply_text(rq, 400, "%s", msg);
		kf_err_release(&e);
		return;
	}
	struct kf_state *st = kf_serve_state(s, &e);
	int r = st ? kf_state_record_report(st, host, body, drifted, failed, &e) : -EIO;
	if (r < 0) {
		kf_err_print(&e, stderr);
		kf_httpd_reply_text(rq, 503, "state store unavailable");
	} else {
		kf_log(KF_LOG_INFO, "serve: report from %s: %s (%ld changes)", host,
		       failed ? "failed" : drifted ? "drifted" : "configured", changes);
		reply_state(rq, st, host, 1);
	}
	kf_err_release(&e);
}

void kf_serve_cb(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	const char *rest = kf_httpd_rest(rq);
	const char *slash = strchr(rest, '/');
	char host[254];
	if (!slash || (size_t)(slash - rest) >= sizeof(host)) {
		kf_httpd_reply_text(rq, 404, "not found");
		return;
	}
	memcpy(host, rest, (size_t)(slash - rest));
	host[slash - rest] = 0;
	const char *action = slash + 1;
	int which = !strcmp(action, "installing") ? 1
		    : !strcmp(action, "installed") ? 2
		    : !strcmp(action, "report")	   ? 3
						   : 0;
	if (!which || !kf_serve_name_ok(host)) {
		kf_httpd_reply_text(rq, 404, "not found");
		return;
	}
	struct kf_host_rec rec;
	if (kf_serve_auth(s, rq, host, which != 3, &rec) < 0)
		return;
	if (which != 3) {
		/* installer callbacks: any JSON object, or nothing */
		size_t len = 0;
		const char *body = kf_httpd_body(rq, &len);
		struct kf_json *o = NULL;
		struct kf_err e = KF_ERR_INIT;
		if (body && kf_json_parse_object(body, len, &o, &e) < 0) {
			char msg[256];
			kf_err_format(&e, 0, msg, sizeof(msg));
			kf_httpd_reply_text(rq, 400, "%s", msg);
			kf_err_release(&e);
			kf_host_rec_release(&rec);
			return;
		}
		kf_json_free(o);
		kf_err_release(&e);
	}
	/* the read side of kf_serve_exclusive: no full render overlaps */
	const struct kf_inventory *inv = kf_serve_inv_get(s);
	kf_serve_wrote(s);
	if (which == 1)
		cb_installing(s, rq, host, &rec);
	else if (which == 2)
		cb_installed(s, inv, rq, host, &rec);
	else
		cb_report(s, rq, host);
	kf_serve_wrote(s); /* before and after: no reader caches a row in between */
	kf_serve_inv_put(s);
	kf_host_rec_release(&rec);
}
