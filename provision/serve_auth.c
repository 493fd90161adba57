/* The server's checks of a host's secrets (serve.h): the install token
 * on the install routes, the agent credential on the agent's, the
 * credential put into a kickstart as it is served, and the one handed out
 * during a rotation.  docs/security.md tells the lifecycle. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "provision/serve.h"
#include "util.h"

static void refuse(struct kf_httpd_req *rq, const char *host, const char *why)
{
	kf_log(KF_LOG_WARN, "http: 403 %s %s from %s: %s (host %s)", kf_httpd_method(rq),
	       kf_httpd_path(rq), kf_httpd_peer(rq), why, host);
	kf_httpd_reply_text(rq, 403, "forbidden");
}

/* The checks both kinds of route share: the limit on token guessing, the
 * host's row and credential.  0, or -EACCES / the store's error after
 * answering. */
static int auth_lookup(struct kf_serve *s, struct kf_httpd_req *rq, const char *host,
		       struct kf_host_rec *rec, struct kf_cred *cred)
{
	memset(rec, 0, sizeof(*rec));
	/* token guessing: an address that failed too often this minute is
	 * not even checked */
	if (!kf_serve_auth_allowed(s, rq)) {
		kf_serve_reply_limited(rq, KF_LIMIT_AUTH);
		return -EACCES;
	}
	/* a host of another segment is that segment's provisioners' to serve */
	const struct kf_inventory *inv = kf_serve_inv_get(s);
	const char *owner;
	bool here = kf_inventory_name_here(inv, host) || !kf_inventory_find(inv, NULL, host, &owner);
	kf_serve_inv_put(s);
	if (!here) {
		refuse(rq, host, "host of another segment");
		return -EACCES;
	}
	struct kf_err e = KF_ERR_INIT;
	int r = kf_serve_lookup(s, host, rec, cred, &e);
	if (r == -ENOENT) {
		refuse(rq, host, "unknown host");
		kf_serve_auth_failed(s, rq);
	} else if (r < 0) {
		kf_err_print(&e, stderr);
		kf_httpd_reply_text(rq, 503, "state store unavailable");
	}
	kf_err_release(&e);
	return r == -ENOENT ? -EACCES : r;
}

/* guess: the secret was wrong or missing, which counts against the
 * client's limit on token guessing; a right one used too late (after the
 * install, after its rotation) is refused the same but does not count. */
static int auth_refused(struct kf_serve *s, struct kf_httpd_req *rq, const char *host,
			const char *why, struct kf_host_rec *rec, bool guess)
{
	refuse(rq, host, why);
	if (guess)
		kf_serve_auth_failed(s, rq);
	kf_host_rec_release(rec);
	return -EACCES;
}

/* provisioner.bind_install_ip: an install request of a host with an
 * inventory ip must come from that address (its DHCP reservation). */
static int bound_ip_ok(struct kf_serve *s, struct kf_httpd_req *rq, const char *host,
		       struct kf_host_rec *rec)
{
	const struct kf_inventory *inv = kf_serve_inv_get(s);
	const char *ip = NULL, *owner = NULL;
	const void *it = inv->provisioner->bind_install_ip ? kf_inventory_find(inv, NULL, host, &owner)
							   : NULL;
	if (it)
		ip = rec->kind == KF_KIND_GUEST ? ((const struct kf_i_guest *)it)->ip
						: ((const struct kf_i_host *)it)->ip;
	char why[128] = "";
	if (ip && *ip && strcmp(ip, kf_httpd_peer(rq)))
		snprintf(why, sizeof(why), "install request not from the host's address %s", ip);
	kf_serve_inv_put(s);
	return why[0] ? auth_refused(s, rq, host, why, rec, false) : 0;
}

/* The install token (?token=, from the boot files): only while the
 * install is open, i.e. until the "installed" callback, which clears
 * netboot (a host whose agent reported during its install, as a %post
 * may make it, is "configured" with netboot still on: still open). */
static int auth_install(struct kf_serve *s, struct kf_httpd_req *rq, const char *host,
			struct kf_host_rec *rec, struct kf_cred *cred)
{
	const char *token = kf_httpd_arg(rq, "token");
	if (!token || !*token) {
		memset(rec, 0, sizeof(*rec));
		return auth_refused(s, rq, host, "no token", rec, true);
	}
	int r = auth_lookup(s, rq, host, rec, cred);
	if (r < 0)
		return r;
	if (!rec->token[0])
		return auth_refused(s, rq, host, "host has no token yet (not rendered)", rec, true);
	if (!kf_token_equal(token, rec->token)) {
		char hex[KF_DIGEST_HEX + 1];
		kf_cred_hash(token, hex);
		return auth_refused(s, rq, host,
				    kf_token_equal(hex, cred->hash) ? "agent credential on an install route"
								    : "wrong token", rec, true);
	}
	if (rec->state >= KF_ST_INSTALLED && !rec->netboot) {
		char why[96];
		snprintf(why, sizeof(why), "install token used after install (host is %s)",
			 kf_install_state_name(rec->state));
		return auth_refused(s, rq, host, why, rec, false);
	}
	return bound_ip_ok(s, rq, host, rec);
}

/* The agent credential, "Authorization: Bearer CRED"; NULL if absent. */
static const char *bearer(struct kf_httpd_req *rq)
{
	const char *h = kf_httpd_header(rq, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

static const char *const cred_why[] = {
	[KF_CRED_NONE] = "host has no agent credential yet (not installed)",
	[KF_CRED_OLD] = "old agent credential (replaced by a rotation or a reinstall)",
	[KF_CRED_EXPIRED] = "agent credential rotated and not picked up within token_ttl",
	[KF_CRED_WRONG] = "wrong agent credential",
};

int kf_serve_auth_agent(struct kf_serve *s, struct kf_httpd_req *rq, const char *host,
			struct kf_host_rec *rec, bool *rotating)
{
	struct kf_cred cred;
	if (rotating)
		*rotating = false;
	const char *presented = bearer(rq);
	if (!presented) {
		memset(rec, 0, sizeof(*rec));
		const char *q = kf_httpd_arg(rq, "token");
		return auth_refused(s, rq, host, q && *q ? "a token in the query is no agent credential (send Authorization: Bearer)"
							 : "no agent credential", rec, true);
	}
	int r = auth_lookup(s, rq, host, rec, &cred);
	if (r < 0)
		return r;
	const struct kf_inventory *inv = kf_serve_inv_get(s);
	long long grace = inv->provisioner->token_ttl;
	kf_serve_inv_put(s);
	enum kf_cred_verdict v = kf_cred_check(&cred, presented, (int64_t)time(NULL), grace);
	if (v == KF_CRED_NEXT) {
		struct kf_err e = KF_ERR_INIT;
		struct kf_state *st = kf_serve_state(s, &e);
		kf_serve_wrote(s);
		r = st ? kf_state_cred_pickup(st, host, &e) : -EIO;
		kf_serve_wrote(s);
		if (r < 0) {
			kf_err_print(&e, stderr);
			kf_err_release(&e);
			kf_host_rec_release(rec);
			kf_httpd_reply_text(rq, 503, "state store unavailable");
			return r;
		}
		kf_err_release(&e);
		kf_log(KF_LOG_INFO, "serve: %s picked up its new agent credential (from %s)", host,
		       kf_httpd_peer(rq));
		return 0;
	}
	if (v != KF_CRED_OK)
		return auth_refused(s, rq, host, cred_why[v], rec,
				    v == KF_CRED_WRONG || v == KF_CRED_NONE);
	if (rotating)
		*rotating = cred.rotated != 0;
	return 0;
}

int kf_serve_auth(struct kf_serve *s, struct kf_httpd_req *rq, const char *host,
		  bool install_phase, struct kf_host_rec *rec)
{
	struct kf_cred cred;
	if (install_phase)
		return auth_install(s, rq, host, rec, &cred);
	return kf_serve_auth_agent(s, rq, host, rec, NULL);
}

/* The install's agent credential for host's kickstart (kf_state_cred_install):
 * the pending one from the cache, else from the store (minting it). */
static int install_cred(struct kf_serve *s, const char *host, char *out)
{
	struct kf_host_rec rec;
	struct kf_cred cred;
	struct kf_err e = KF_ERR_INIT;
	int r = kf_serve_lookup(s, host, &rec, &cred, &e);
	kf_host_rec_release(&rec);
	if (r == 0 && cred.pending[0]) {
		memcpy(out, cred.pending, sizeof(cred.pending));
		return 0;
	}
	struct kf_state *st = r == 0 ? kf_serve_state(s, &e) : NULL;
	if (st) {
		kf_serve_wrote(s);
		r = kf_state_cred_install(st, host, out, &e);
		kf_serve_wrote(s);
		if (r > 0)
			kf_log(KF_LOG_INFO, "serve: %s: agent credential issued with its kickstart", host);
	}
	if (r < 0 || !st)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	return r < 0 ? r : st ? 0 : -EIO;
}

int kf_serve_ks_text(struct kf_serve *s, const char *host, int fd, uint64_t size, char **out,
		     size_t *len)
{
	*out = NULL;
	if (size > 16 * 1024 * 1024)
		return -EFBIG;
	char *text = kf_xmalloc((size_t)size + 1);
	size_t got = 0;
	while (got < size) {
		ssize_t n = pread(fd, text + got, (size_t)size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(text);
			return n < 0 ? -errno : -EIO;
		}
		got += (size_t)n;
	}
	text[got] = 0;
	const size_t mlen = strlen(KF_AGENT_CRED_MARK);
	char *m = memmem(text, got, KF_AGENT_CRED_MARK, mlen);
	if (!m) {
		*out = text;
		*len = got;
		return 0;
	}
	char cred[KF_TOKEN_HEX + 1];
	int r = install_cred(s, host, cred);
	if (r < 0) {
		free(text);
		return r;
	}
	struct kf_buf b = KF_BUF_INIT;
	const char *p = text;
	for (; m; m = memmem(p, got - (size_t)(p - text), KF_AGENT_CRED_MARK, mlen)) {
		kf_buf_add(&b, p, (size_t)(m - p));
		kf_buf_add(&b, cred, KF_TOKEN_HEX);
		p = m + mlen;
	}
	kf_buf_add(&b, p, got - (size_t)(p - text));
	free(text);
	explicit_bzero(cred, sizeof(cred));
	*len = b.len;
	*out = kf_buf_detach(&b);
	return 0;
}

void kf_serve_hand_out_cred(struct kf_serve *s, struct kf_httpd_req *rq, const char *host)
{
	char cred[KF_TOKEN_HEX + 1];
	struct kf_err e = KF_ERR_INIT;
	struct kf_state *st = kf_serve_state(s, &e);
	kf_serve_wrote(s);
	int r = st ? kf_state_cred_handout(st, host, cred, &e) : -EIO;
	kf_serve_wrote(s);
	if (r == 0) {
		kf_httpd_add_header(rq, KF_CRED_HEADER, cred);
		kf_log(KF_LOG_INFO, "serve: %s: new agent credential handed out (rotation)", host);
	} else if (r != -EALREADY) {
		kf_log(KF_LOG_ERR, "serve: %s: cannot hand out a new agent credential", host);
		kf_err_print(&e, stderr);
	}
	explicit_bzero(cred, sizeof(cred));
	kf_err_release(&e);
}

