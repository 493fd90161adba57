/* Facts endpoints of `kickfleet serve` (docs/http.md, docs/facts.md):
 *
 *   POST /facts/HOST?token=T  an agent's facts (kickfleet-agent --report):
 *                             kept as the host's latest facts
 *   POST /discover            a machine the inventory does not know, with
 *                             unknown_hosts: discovery: its facts, kept by
 *                             MAC until `kickfleet enlist`
 *
 * Both accept only a facts document the strict decoder of lib/facts_json.c
 * takes (size, depth, item count, types); what is stored is the decoded
 * document encoded again, so nothing a sender adds beyond the schema is
 * kept.  Discovery has no token: it answers only 204 or an error, never
 * anything from the store, and refuses a MAC the inventory knows (a known
 * host reports with its token), more than 30 posts a minute from one
 * address (KF_LIMIT_DISCOVERY) or DISC_MAX_MACS machines in all.  Every
 * refusal is a 4xx and a log line, and stores nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facts.h"
#include "inventory.h"
#include "provision/serve.h"
#include "types.h"
#include "util.h"

#define DISC_MAX_MACS 1024

/* Decodes a posted document into f, or answers 400/413 (and logs why). */
static int read_facts(struct kf_httpd_req *rq, const char *who, struct kf_facts *f)
{
	size_t len = 0;
	const char *body = kf_httpd_body(rq, &len);
	struct kf_err e = KF_ERR_INIT;
	int r = kf_facts_from_json(f, body ? body : "", len, &e);
	if (r < 0) {
		char msg[256];
		kf_err_format(&e, 0, msg, sizeof(msg));
		int status = r == -E2BIG ? 413 : 400;
		kf_log(KF_LOG_WARN, "http: %d POST %s from %s: %s (%s)", status, kf_httpd_path(rq),
		       kf_httpd_peer(rq), msg, who);
		kf_httpd_reply_text(rq, status, "%s", msg);
	}
	kf_err_release(&e);
	return r;
}

void kf_serve_facts(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	const char *host = kf_httpd_rest(rq);
	if (!kf_serve_name_ok(host)) {
		kf_httpd_reply_text(rq, 404, "not found");
		return;
	}
	struct kf_host_rec rec;
	if (kf_serve_auth(s, rq, host, false, &rec) < 0)
		return;
	kf_host_rec_release(&rec);
	if (!kf_serve_rate_ok(s, rq, KF_LIMIT_CALLBACK, host))
		return;
	struct kf_facts f;
	if (read_facts(rq, host, &f) < 0)
		return;
	char sum[96], *json = kf_facts_json(&f, false);
	kf_facts_summary(&f, sum, sizeof(sum));
	struct kf_err e = KF_ERR_INIT;
	struct kf_state *st = kf_serve_state(s, &e);
	if (!st || kf_state_set_facts(st, host, json, sum, &e) < 0) {
		kf_err_print(&e, stderr);
		kf_httpd_reply_text(rq, 503, "state store unavailable");
	} else {
		kf_log(KF_LOG_INFO, "serve: facts from %s: %s", host, sum);
		kf_httpd_reply_text(rq, 200, "ok");
	}
	free(json);
	kf_facts_release(&f);
	kf_err_release(&e);
}

/* ---- discovery ---- */

static void refuse(struct kf_httpd_req *rq, int status, const char *mac, const char *why)
{
	kf_log(KF_LOG_WARN, "http: %d POST %s from %s: %s (MAC %s)", status, kf_httpd_path(rq),
	       kf_httpd_peer(rq), why, mac ? mac : "-");
	kf_httpd_reply_text(rq, status, "%s", why);
}

/* The MAC a discovery post is about: ?mac=, normalised into buf. */
static const char *post_mac(struct kf_httpd_req *rq, char *buf)
{
	const char *mac = kf_httpd_arg(rq, "mac");
	return mac && kf_mac_norm(mac, buf) == 0 ? buf : NULL;
}

/* A MAC the inventory knows, or one the machine does not have. */
static const char *mac_problem(const struct kf_inventory *inv, const struct kf_facts *f, const char *mac)
{
	const char *owner;
	if (kf_inventory_find(inv, mac, NULL, &owner))
		return "MAC belongs to a host in the inventory";
	for (size_t i = 0; i < f->nnics; i++)
		if (f->nics[i].mac && kf_inventory_find(inv, f->nics[i].mac, NULL, &owner))
			return "a NIC of the machine belongs to a host in the inventory";
	if (!kf_facts_nic(f, mac))
		return "MAC is not one of the machine's NICs";
	return NULL;
}

static int store_discovered(struct kf_serve *s, struct kf_httpd_req *rq, const char *mac,
			    const struct kf_facts *f)
{
	struct kf_err e = KF_ERR_INIT;
	struct kf_state *st = kf_serve_state(s, &e);
	struct kf_discovered *v = NULL;
	size_t n = 0;
	int r = st ? kf_state_list_discovered(st, &v, &n, &e) : -EIO;
	bool known = false;
	for (size_t i = 0; r == 0 && i < n; i++)
		known |= !strcmp(v[i].mac, mac);
	kf_discovered_free(v, n);
	if (r == 0 && !known && n >= DISC_MAX_MACS) {
		refuse(rq, 429, mac, "too many discovered machines (enlist or forget some)");
		kf_err_release(&e);
		return -ENOSPC;
	}
	char *json = r == 0 ? kf_facts_json(f, false) : NULL;
	if (r == 0)
		r = kf_state_put_discovered(st, mac, json, kf_httpd_peer(rq), &e);
	free(json);
	if (r < 0) {
		kf_err_print(&e, stderr);
		kf_httpd_reply_text(rq, 503, "state store unavailable");
	}
	kf_err_release(&e);
	return r;
}

void kf_serve_discover(struct kf_httpd_req *rq, void *ctx)
{
	struct kf_serve *s = ctx;
	char buf[18];
	const char *mac = post_mac(rq, buf);
	const struct kf_inventory *inv = kf_serve_inv_get(s);
	struct kf_facts f;
	kf_facts_init(&f);
	const char *why = NULL;
	if (inv->provisioner->unknown_hosts != KF_UNKNOWN_DISCOVERY) {
		refuse(rq, 404, mac, "discovery is off (unknown_hosts is not discovery)");
		goto out;
	}
	if (!kf_serve_rate_ok(s, rq, KF_LIMIT_DISCOVERY, kf_httpd_peer(rq)))
		goto out;
	if (!mac) {
		refuse(rq, 400, NULL, "no valid ?mac=");
		goto out;
	}
	if (read_facts(rq, mac, &f) < 0)
		goto out;
	if ((why = mac_problem(inv, &f, mac))) {
		refuse(rq, 409, mac, why);
		goto out;
	}
	if (store_discovered(s, rq, mac, &f) == 0) {
		char sum[96];
		kf_log(KF_LOG_INFO, "serve: discovered %s from %s: %s", mac, kf_httpd_peer(rq),
		       kf_facts_summary(&f, sum, sizeof(sum)));
		kf_httpd_reply_text(rq, 204, "%s", "");
	}
out:
	kf_facts_release(&f);
	kf_serve_inv_put(s);
}
