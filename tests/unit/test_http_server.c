/* Unit tests: kickfleet serve on 127.0.0.1 — every route, the token rules,
 * callbacks flipping boot files, reinstall, idempotency, static files with
 * Range, the profile composition, slow clients, the acceptor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_fixture.h"

static int setup(void **state)
{
	struct fx *f = kf_xcalloc(1, sizeof(*f));
	assert_int_equal(fx_start(f, 2), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fx_stop(f);
	free(f);
	return 0;
}

static char *path_tok(const char *fmt, const char *host, const char *tok)
{
	return kf_xasprintf(fmt, host, tok);
}

static char *read_rel(struct fx *f, const char *rel)
{
	char *p = kf_xasprintf("%s/%s", f->dir, rel), *s = NULL;
	size_t n;
	int r = kf_read_file(p, 1 << 20, &s, &n);
	free(p);
	return r < 0 ? NULL : s;
}

/* An agent's GET with its credential in the Authorization header. */
static int agent_get(struct fx *f, const char *path, const char *cred, const char *more,
		     struct resp *r)
{
	char *h = kf_xasprintf("Authorization: Bearer %s\r\n%s", cred, more ? more : "");
	int x = fx_req(f, "GET", path, h, NULL, r);
	free(h);
	return x;
}

/* The reason of the last 403 in the log contains want. */
static void assert_why(struct fx *f, const char *want)
{
	char *log = fx_log(f);
	char *last = NULL;
	for (char *p = log; (p = strstr(p, "http: 403 ")); p++)
		last = p;
	assert_non_null(last);
	char *eol = strchr(last, '\n');
	if (eol)
		*eol = 0;
	if (!strstr(last, want))
		fprintf(stdout, "last refusal: %s (want %s)\n", last, want);
	assert_non_null(strstr(last, want));
	free(log);
}

static void test_healthz_and_metrics(void **state)
{
	struct fx *f = *state;
	struct resp r;
	assert_int_equal(fx_get(f, "/healthz", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	resp_release(&r);
	assert_int_equal(fx_get(f, "/nope", &r), 0);
	assert_int_equal(r.status, 404);
	resp_release(&r);
	assert_int_equal(fx_get(f, "/metrics", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "kickfleet_http_requests_total{route=\"healthz\",status=\"200\"} 1\n"));
	assert_non_null(strstr(r.body, "kickfleet_http_requests_total{route=\"none\",status=\"404\"} 1\n"));
	assert_non_null(strstr(r.body, "kickfleet_hosts{state=\"new\"} 6\n"));
	assert_non_null(strstr(r.body, "kickfleet_http_sent_bytes_total "));
	resp_release(&r);
}

/* Every refusal is a 403 with the same short body, and a log line naming
 * the request and the host but neither the token nor the file. */
static void assert_refused(struct fx *f, const char *method, const char *path, const char *host)
{
	struct resp r;
	assert_int_equal(fx_req(f, method, path, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.body, "forbidden\n");
	resp_release(&r);
	char *log = fx_log(f);
	char *want = kf_xasprintf("403 %s /", method);
	char *last = NULL;
	for (char *p = log; (p = strstr(p, want)); p++)
		last = p;
	assert_non_null(last);
	char *eol = strchr(last, '\n');
	if (eol)
		*eol = 0;
	char *host_part = kf_xasprintf("(host %s)", host);
	assert_non_null(strstr(last, host_part));
	assert_null(strstr(last, "token="));
	assert_null(strstr(last, "root-password"));
	free(host_part);
	free(want);
	free(log);
}

static void test_kickstart_token_rules(void **state)
{
	struct fx *f = *state;
	char t1[KF_TOKEN_HEX + 1], t2[KF_TOKEN_HEX + 1];
	fx_token(f, "kvm01", t1);
	fx_token(f, "kvm02", t2);
	assert_refused(f, "GET", "/ks/kvm01", "kvm01");
	assert_refused(f, "GET", "/ks/kvm01?token=", "kvm01");
	char *p = path_tok("/ks/%s?token=%s", "kvm01", t2);
	assert_refused(f, "GET", p, "kvm01"); /* another host's token */
	free(p);
	char wrong[KF_TOKEN_HEX + 1];
	strcpy(wrong, t1);
	wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
	p = path_tok("/ks/%s?token=%s", "kvm01", wrong);
	assert_refused(f, "GET", p, "kvm01");
	free(p);
	p = path_tok("/ks/%s?token=%s", "ghost", t1);
	assert_refused(f, "GET", p, "ghost");
	free(p);
	struct kf_host_rec h = fx_host(f, "kvm01");
	assert_int_equal(h.state, KF_ST_NEW); /* refusals change nothing */
	kf_host_rec_release(&h);

	struct resp r;
	p = path_tok("/ks/%s?token=%s", "kvm01", t1);
	assert_int_equal(fx_get(f, p, &r), 0);
	free(p);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "preseed for kvm01"));
	assert_non_null(strstr(r.body, "$6$testsalt$testhash"));
	/* the agent credential, minted with this answer; the file on disk
	 * holds only the mark, the store only its hash and (install open) it */
	const char *c = strstr(r.body, "late_command string echo ");
	assert_non_null(c);
	c += strlen("late_command string echo ");
	c += *c == '\'';
	char cred[KF_TOKEN_HEX + 1];
	memcpy(cred, c, KF_TOKEN_HEX);
	cred[KF_TOKEN_HEX] = 0;
	assert_int_equal(strspn(cred, "0123456789abcdef"), KF_TOKEN_HEX);
	assert_null(strstr(r.body, KF_AGENT_CRED_MARK));
	resp_release(&r);
	char *file = read_rel(f, "http/ks/kvm01");
	assert_non_null(strstr(file, KF_AGENT_CRED_MARK));
	assert_null(strstr(file, cred));
	free(file);
	struct kf_cred kc;
	assert_int_equal(kf_state_get_cred(kf_serve_state(f->srv, NULL), "kvm01", &kc, NULL), 0);
	char hex[KF_DIGEST_HEX + 1];
	kf_cred_hash(cred, hex);
	assert_string_equal(kc.hash, hex);
	assert_string_equal(kc.pending, cred);
	assert_int_equal(kc.gen, 1);
	h = fx_host(f, "kvm01");
	assert_int_equal(h.state, KF_ST_INSTALLING);
	kf_host_rec_release(&h);
	/* fetched again during the install: the same credential */
	p = path_tok("/ks/%s?token=%s", "kvm01", t1);
	assert_int_equal(fx_get(f, p, &r), 0);
	free(p);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, cred));
	resp_release(&r);
}

static void test_profile_composed(void **state)
{
	struct fx *f = *state;
	char t1[KF_TOKEN_HEX + 1], c1[KF_TOKEN_HEX + 1], cw[KF_TOKEN_HEX + 1];
	fx_token(f, "kvm01", t1);
	fx_cred(f, "kvm01", c1);
	fx_cred(f, "web01", cw);
	struct resp r;
	/* another host's credential, none, the install token (in the query
	 * or as a credential) */
	assert_int_equal(agent_get(f, "/profile/kvm01", cw, NULL, &r), 0);
	assert_int_equal(r.status, 403);
	resp_release(&r);
	assert_why(f, "wrong agent credential (host kvm01)");
	assert_refused(f, "GET", "/profile/kvm01", "kvm01");
	assert_why(f, "no agent credential (host kvm01)");
	char *p = path_tok("/profile/%s?token=%s", "kvm01", t1);
	assert_refused(f, "GET", p, "kvm01");
	assert_why(f, "a token in the query is no agent credential");
	free(p);
	assert_int_equal(agent_get(f, "/profile/kvm01", t1, NULL, &r), 0);
	assert_int_equal(r.status, 403);
	resp_release(&r);

	p = kf_xstrdup("/profile/kvm01");
	assert_int_equal(agent_get(f, p, c1, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_null(fx_header(&r, KF_CRED_HEADER)); /* no rotation asked */
	const char *y = r.body;
	/* the role's own settings */
	assert_non_null(strstr(y, "role: kvm-host"));
	assert_non_null(strstr(y, "enabled: never"));
	/* its report URL carries no secret (the credential goes in a header) */
	char *rep = kf_xasprintf("http://127.0.0.1:%u/cb/kvm01/report\"", f->port);
	assert_non_null(strstr(y, rep));
	free(rep);
	/* guests from the inventory, merged with the web role's host_tuning */
	const char *w1 = strstr(y, "- name: web01");
	const char *w2 = strstr(y, "- name: web02");
	assert_non_null(w1);
	assert_non_null(w2);
	assert_non_null(strstr(y, "- name: legacy01")); /* the profile's own entry stays */
	assert_null(strstr(y, "web03"));                 /* on kvm02 */
	assert_null(strstr(y, "host_tuning"));
	char *g1 = strndup(w1, w2 > w1 ? (size_t)(w2 - w1) : strlen(w1));
	assert_non_null(strstr(g1, "mac: \"52:54:00:bb:00:01\""));
	assert_non_null(strstr(g1, "define: true"));
	assert_non_null(strstr(g1, "disk: 20G"));
	assert_non_null(strstr(g1, "max: 8"));     /* tuning's max stays for hotplug */
	assert_non_null(strstr(g1, "current: 2")); /* the inventory's count runs */
	assert_non_null(strstr(g1, "size: 2G"));   /* the inventory's memory wins */
	assert_non_null(strstr(g1, "cpu_mode: host-passthrough"));
	assert_non_null(strstr(g1, "emulator: 0-1"));
	assert_non_null(strstr(g1, "source: br0"));
	free(g1);
	/* web02: the host profile's pinning wins over the role's (none) */
	assert_non_null(strstr(w2, "3: \"7\""));
	/* ETag: a second fetch with If-None-Match gets 304 */
	char etag[600];
	assert_non_null(fx_header(&r, "ETag"));
	snprintf(etag, sizeof(etag), "%s", fx_header(&r, "ETag"));
	resp_release(&r);
	char *hdr = kf_xasprintf("If-None-Match: %s\r\n", etag);
	assert_int_equal(agent_get(f, p, c1, hdr, &r), 0);
	assert_int_equal(r.status, 304);
	resp_release(&r);
	free(hdr);
	free(p);

	/* a guest gets its role's profile, without host_tuning */
	p = kf_xstrdup("/profile/web01");
	assert_int_equal(agent_get(f, p, cw, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "enabled: madvise"));
	assert_null(strstr(r.body, "host_tuning"));
	assert_null(strstr(r.body, "guests:"));
	resp_release(&r);
	free(p);
	/* a host whose role has no profile */
	char cp[KF_TOKEN_HEX + 1];
	fx_cred(f, "plain01", cp);
	p = kf_xstrdup("/profile/plain01");
	assert_int_equal(agent_get(f, p, cp, NULL, &r), 0);
	assert_int_equal(r.status, 404);
	resp_release(&r);
	free(p);
}

static void post_cb(struct fx *f, const char *host, const char *what, const char *tok,
		    const char *body, int want, const char *want_body)
{
	struct resp r;
	bool agent = !strcmp(what, "report");
	char *p = agent ? kf_xasprintf("/cb/%s/%s", host, what)
			: kf_xasprintf("/cb/%s/%s?token=%s", host, what, tok);
	char *h = agent ? kf_xasprintf("Content-Type: application/json\r\nAuthorization: Bearer %s\r\n", tok)
			: kf_xstrdup("Content-Type: application/json\r\n");
	assert_int_equal(fx_req(f, "POST", p, h, body, &r), 0);
	free(h);
	if (r.status != want)
		fprintf(stdout, "POST %s: %d %s\n", p, r.status, r.body);
	assert_int_equal(r.status, want);
	if (want_body)
		assert_non_null(strstr(r.body, want_body));
	free(p);
	resp_release(&r);
}

static void test_callbacks_flip_boot(void **state)
{
	struct fx *f = *state;
	char t[KF_TOKEN_HEX + 1], t2[KF_TOKEN_HEX + 1];
	fx_token(f, "kvm01", t);
	fx_token(f, "kvm02", t2);
	char *cfg = read_rel(f, "tftp/pxelinux.cfg/01-52-54-00-aa-00-01");
	assert_non_null(cfg);
	assert_non_null(strstr(cfg, "/ks/kvm01?token="));
	free(cfg);

	/* another host's token changes nothing */
	char *p = kf_xasprintf("/cb/kvm01/installed?token=%s", t2);
	assert_refused(f, "POST", p, "kvm01");
	free(p);

	post_cb(f, "kvm01", "installing", t, "", 200, "\"state\":\"installing\"");
	post_cb(f, "kvm01", "installing", t, "{}", 200, "\"changed\":false");
	post_cb(f, "kvm01", "installed", t, "{\"installer\":\"d-i\"}", 200,
		"\"state\":\"installed\",\"netboot\":false,\"changed\":true");
	struct kf_host_rec h = fx_host(f, "kvm01");
	assert_int_equal(h.state, KF_ST_INSTALLED);
	assert_int_equal(h.netboot, 0);
	kf_host_rec_release(&h);
	/* the boot files now boot locally, the kickstart URL (and token) is gone */
	cfg = read_rel(f, "tftp/pxelinux.cfg/01-52-54-00-aa-00-01");
	assert_non_null(cfg);
	assert_null(strstr(cfg, "token="));
	assert_non_null(strcasestr(cfg, "localboot"));
	free(cfg);
	/* the install is closed: its token opens nothing any more */
	post_cb(f, "kvm01", "installed", t, "", 403, "forbidden");
	assert_why(f, "install token used after install (host is installed) (host kvm01)");
	/* iPXE is decided per request: local boot */
	struct resp r;
	assert_int_equal(fx_get(f, "/ipxe/01-52-54-00-aa-00-01.ipxe", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "#!ipxe"));
	assert_non_null(strstr(r.body, "exit"));
	assert_null(strstr(r.body, "token"));
	resp_release(&r);

	/* reports, with the agent credential: configured, drifted, failed;
	 * the install token is no agent credential */
	char c[KF_TOKEN_HEX + 1];
	fx_cred(f, "kvm01", c);
	post_cb(f, "kvm01", "report", t, "{\"drift\": 0, \"failures\": 0}", 403, "forbidden");
	post_cb(f, "kvm01", "report", c,
		"{\"command\":\"apply\",\"summary\":{\"to_change\":3,\"applied\":3,\"failed\":0,"
		"\"errors\":0,\"pending\":0},\"exit_code\":2}",
		200, "\"state\":\"configured\"");
	post_cb(f, "kvm01", "report", c,
		"{\"command\":\"check\",\"summary\":{\"to_change\":2,\"failed\":0,\"errors\":0},\"exit_code\":2}",
		200, "\"state\":\"drifted\"");
	post_cb(f, "kvm01", "report", c, "{\"drift\": 0, \"failures\": 1}", 200, "\"state\":\"failed\"");
	post_cb(f, "kvm01", "report", c, "{\"drift\": 0, \"failures\": 0}", 200, "\"state\":\"configured\"");
	post_cb(f, "kvm01", "report", c, "{\"drift\": ", 400, "bad JSON");
	post_cb(f, "kvm01", "report", c, "[]", 400, "expected an object");
	post_cb(f, "kvm01", "report", c, "{\"x\":1}", 400, "no \"summary\"");
	h = fx_host(f, "kvm01");
	assert_int_equal(h.state, KF_ST_CONFIGURED);
	assert_int_equal(h.drift_count, 1);
	assert_non_null(h.report);
	assert_non_null(strstr(h.report, "\"failures\": 0"));
	kf_host_rec_release(&h);

	/* reinstall: netboot on (state new, fresh token) and a re-render */
	struct kf_state *st = kf_serve_state(f->srv, NULL);
	assert_int_equal(kf_state_set_netboot(st, "kvm01", 1, NULL), 1);
	assert_int_equal(kf_state_rotate_token(st, "kvm01", NULL, NULL), 0);
	assert_int_equal(kf_serve_rerender(f->srv, f->inv, "kvm01"), 0);
	char nt[KF_TOKEN_HEX + 1];
	fx_token(f, "kvm01", nt);
	assert_string_not_equal(nt, t);
	cfg = read_rel(f, "tftp/pxelinux.cfg/01-52-54-00-aa-00-01");
	assert_non_null(strstr(cfg, nt));
	free(cfg);
	/* the old token is worthless now; a late "installed" with it is refused */
	p = kf_xasprintf("/cb/kvm01/installed?token=%s", t);
	assert_refused(f, "POST", p, "kvm01");
	free(p);
	h = fx_host(f, "kvm01");
	assert_int_equal(h.state, KF_ST_NEW);
	assert_int_equal(h.netboot, 1);
	kf_host_rec_release(&h);
	assert_int_equal(fx_get(f, "/ipxe/01-52-54-00-aa-00-01.ipxe", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, nt)); /* the install script again */
	resp_release(&r);
	h = fx_host(f, "kvm01");
	assert_int_equal(h.state, KF_ST_BOOTING);
	kf_host_rec_release(&h);
	/* the new install's kickstart brings a new agent credential; the
	 * one of the install before is refused from then on */
	p = path_tok("/ks/%s?token=%s", "kvm01", nt);
	assert_int_equal(fx_get(f, p, &r), 0);
	free(p);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, c));
	resp_release(&r);
	post_cb(f, "kvm01", "report", c, "{\"drift\": 0, \"failures\": 0}", 403, "forbidden");
	assert_why(f, "old agent credential (replaced by a rotation or a reinstall) (host kvm01)");
	post_cb(f, "kvm01", "installed", nt, NULL, 200, "\"changed\":true");
}

/* After "installed" the install token opens nothing (403, logged); the
 * agent's credential opens the agent's routes. */
static void test_install_token_closes(void **state)
{
	struct fx *f = *state;
	char t[KF_TOKEN_HEX + 1], c[KF_TOKEN_HEX + 1];
	fx_token(f, "kvm02", t);
	char *ks = kf_xasprintf("/ks/kvm02?token=%s", t);
	struct resp r;
	assert_int_equal(fx_get(f, ks, &r), 0);
	assert_int_equal(r.status, 200); /* the install is open */
	resp_release(&r);
	fx_cred(f, "kvm02", c);
	/* an agent run in %post reports before "installed": the host is
	 * configured, netboot still on, the install still open */
	post_cb(f, "kvm02", "report", c, "{\"drift\": 0, \"failures\": 0}", 200, "configured");
	assert_int_equal(fx_get(f, ks, &r), 0);
	assert_int_equal(r.status, 200);
	resp_release(&r);
	post_cb(f, "kvm02", "installed", t, "", 200, "\"changed\":true");
	assert_refused(f, "GET", ks, "kvm02");
	assert_why(f, "install token used after install (host is installed)");
	char *cb = kf_xasprintf("/cb/kvm02/installing?token=%s", t);
	assert_refused(f, "POST", cb, "kvm02");
	free(cb);
	/* the credential left the store at "installed": only its hash stays */
	struct kf_cred kc;
	assert_int_equal(kf_state_get_cred(kf_serve_state(f->srv, NULL), "kvm02", &kc, NULL), 0);
	assert_string_equal(kc.pending, "");
	assert_int_equal(strlen(kc.hash), KF_DIGEST_HEX);
	assert_int_equal(agent_get(f, "/profile/kvm02", c, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	resp_release(&r);
	post_cb(f, "kvm02", "report", c, "{\"drift\": 0, \"failures\": 0}", 200, "configured");
	/* the credential on an install route */
	char *p = kf_xasprintf("/cb/kvm02/installed?token=%s", c);
	assert_refused(f, "POST", p, "kvm02");
	assert_why(f, "agent credential on an install route");
	free(p);
	free(ks);
}

/* provisioner.bind_install_ip: the install routes only from the host's
 * inventory address (a guest's too); off, any address. */
static void test_install_ip_binding(void **state)
{
	struct fx *f = *state;
	char t[KF_TOKEN_HEX + 1], tw[KF_TOKEN_HEX + 1];
	fx_token(f, "kvm01", t);
	fx_token(f, "web01", tw);
	char *ks = kf_xasprintf("/ks/kvm01?token=%s", t);
	char *ksw = kf_xasprintf("/ks/web01?token=%s", tw);
	f->inv->provisioner->bind_install_ip = 1;
	f->src = "127.0.0.2"; /* kvm01 is 10.250.0.11 in the inventory */
	assert_refused(f, "GET", ks, "kvm01");
	assert_why(f, "install request not from the host's address 10.250.0.11");
	struct kf_host_rec h = fx_host(f, "kvm01");
	assert_int_equal(h.state, KF_ST_NEW); /* nothing changed */
	kf_host_rec_release(&h);
	assert_refused(f, "GET", ksw, "web01");
	assert_why(f, "install request not from the host's address 10.250.0.51");
	/* from its address: served */
	const char *owner = NULL;
	struct kf_i_host *kh = (struct kf_i_host *)kf_inventory_find(f->inv, NULL, "kvm01", &owner);
	assert_non_null(kh);
	const char *was = kh->ip;
	kh->ip = "127.0.0.2";
	struct resp r;
	assert_int_equal(fx_get(f, ks, &r), 0);
	assert_int_equal(r.status, 200);
	resp_release(&r);
	kh->ip = was;
	/* off: any address */
	f->inv->provisioner->bind_install_ip = 0;
	assert_int_equal(fx_get(f, ksw, &r), 0);
	assert_int_equal(r.status, 200);
	resp_release(&r);
	f->src = NULL;
	free(ks);
	free(ksw);
}

/* kickfleet token rotate: the new credential comes with the next profile,
 * the old one works until the new one is used, then gets 403. */
static void test_credential_rotation(void **state)
{
	struct fx *f = *state;
	char c[KF_TOKEN_HEX + 1], n[KF_TOKEN_HEX + 1];
	fx_cred(f, "kvm02", c);
	struct kf_state *st = kf_serve_state(f->srv, NULL);
	assert_int_equal(kf_state_cred_rotate(st, "ghost", NULL), -ENOENT);
	assert_int_equal(kf_state_cred_rotate(st, "kvm01", NULL), -ENOKEY); /* none yet */
	assert_int_equal(kf_state_cred_rotate(st, "kvm02", NULL), 0);
	kf_serve_wrote(f->srv);
	struct resp r;
	assert_int_equal(agent_get(f, "/profile/kvm02", c, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(fx_header(&r, KF_CRED_HEADER));
	assert_int_equal(strlen(fx_header(&r, KF_CRED_HEADER)), KF_TOKEN_HEX);
	memcpy(n, fx_header(&r, KF_CRED_HEADER), KF_TOKEN_HEX + 1);
	assert_int_equal(strspn(n, "0123456789abcdef"), KF_TOKEN_HEX);
	assert_string_not_equal(n, c);
	resp_release(&r);
	/* not picked up yet: the old one still works */
	post_cb(f, "kvm02", "report", c, "{\"drift\": 0, \"failures\": 0}", 200, "configured");
	post_cb(f, "kvm02", "report", n, "{\"drift\": 0, \"failures\": 0}", 200, "configured");
	char *log = fx_log(f);
	assert_non_null(strstr(log, "serve: kvm02 picked up its new agent credential"));
	free(log);
	post_cb(f, "kvm02", "report", c, "{\"drift\": 0, \"failures\": 0}", 403, "forbidden");
	assert_why(f, "old agent credential");
	assert_int_equal(agent_get(f, "/profile/kvm02", n, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_null(fx_header(&r, KF_CRED_HEADER)); /* the rotation is over */
	resp_release(&r);
	struct kf_cred kc;
	assert_int_equal(kf_state_get_cred(st, "kvm02", &kc, NULL), 0);
	assert_int_equal(kc.rotated, 0);
	assert_int_equal(kc.gen, 2);
	/* a rotation never picked up: the current one expires after token_ttl */
	assert_int_equal(kf_state_cred_rotate(st, "kvm02", NULL), 0);
	kf_serve_wrote(f->srv);
	f->inv->provisioner->token_ttl = 1;
	usleep(2100 * 1000);
	post_cb(f, "kvm02", "report", n, "{\"drift\": 0, \"failures\": 0}", 403, "forbidden");
	assert_why(f, "agent credential rotated and not picked up within token_ttl");
	f->inv->provisioner->token_ttl = 3600;
}

static void test_static_files(void **state)
{
	struct fx *f = *state;
	struct resp r;
	assert_int_equal(fx_get(f, "/boot/pxelinux.0", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 100000);
	assert_string_equal(fx_header(&r, "Accept-Ranges"), "bytes");
	resp_release(&r);
	assert_int_equal(fx_req(f, "GET", "/boot/pxelinux.0", "Range: bytes=26-51\r\n", NULL, &r), 0);
	assert_int_equal(r.status, 206);
	assert_int_equal(r.body_len, 26);
	assert_string_equal(r.body, "abcdefghijklmnopqrstuvwxyz");
	assert_string_equal(fx_header(&r, "Content-Range"), "bytes 26-51/100000");
	resp_release(&r);
	assert_int_equal(fx_req(f, "GET", "/boot/pxelinux.0", "Range: bytes=-3\r\n", NULL, &r), 0);
	assert_int_equal(r.status, 206);
	assert_int_equal(r.body_len, 3);
	assert_string_equal(fx_header(&r, "Content-Range"), "bytes 99997-99999/100000");
	resp_release(&r);
	assert_int_equal(fx_req(f, "GET", "/boot/pxelinux.0", "Range: bytes=99990-\r\n", NULL, &r), 0);
	assert_int_equal(r.status, 206);
	assert_int_equal(r.body_len, 10);
	resp_release(&r);
	assert_int_equal(fx_req(f, "GET", "/boot/pxelinux.0", "Range: bytes=100000-\r\n", NULL, &r), 0);
	assert_int_equal(r.status, 416);
	assert_string_equal(fx_header(&r, "Content-Range"), "bytes */100000");
	resp_release(&r);
	/* HEAD: headers only */
	assert_int_equal(fx_req(f, "HEAD", "/boot/pxelinux.0", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	resp_release(&r);
	/* a symlink inside the root works, one leading out does not */
	assert_int_equal(fx_get(f, "/boot/inside", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 100000);
	resp_release(&r);
	assert_int_equal(fx_get(f, "/boot/escape", &r), 0);
	assert_int_equal(r.status, 403);
	assert_null(strstr(r.body, "root:"));
	resp_release(&r);
	/* the kickstarts are under the HTTP root but not reachable as files */
	assert_int_equal(fx_get(f, "/trees/../ks/kvm01", &r), 0);
	assert_int_equal(r.status, 400);
	assert_null(strstr(r.body, "preseed"));
	resp_release(&r);
	assert_int_equal(fx_get(f, "/trees/deb12/README", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "tree\n");
	resp_release(&r);
	assert_int_equal(fx_get(f, "/agent/kickfleet-agent", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 10);
	resp_release(&r);
	assert_int_equal(kf_httpd_open_beneath(f->dir, "tftp/../../etc/passwd"), -EACCES);
	assert_int_equal(kf_httpd_open_beneath(f->dir, "/etc/passwd"), -EACCES);
	assert_int_equal(kf_httpd_open_beneath(f->dir, "tftp/escape"), -EACCES);
	assert_int_equal(kf_httpd_open_beneath(f->dir, "tftp"), -EISDIR);
	assert_int_equal(kf_httpd_open_beneath(f->dir, "tftp/nothing"), -ENOENT);
}

static void test_ipxe_unknown_and_new(void **state)
{
	struct fx *f = *state;
	struct resp r;
	/* unknown MAC: 404, so that boot.ipxe chains default.ipxe */
	assert_int_equal(fx_get(f, "/ipxe/01-52-54-00-ff-ff-ff.ipxe", &r), 0);
	assert_int_equal(r.status, 404);
	resp_release(&r);
	assert_int_equal(fx_get(f, "/ipxe/boot.ipxe", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "default.ipxe"));
	resp_release(&r);
	assert_int_equal(fx_get(f, "/ipxe/default.ipxe", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "#!ipxe"));
	resp_release(&r);
	/* a new host, second MAC, upper case: its install script; state booting */
	assert_int_equal(fx_get(f, "/ipxe/01-52-54-00-AA-01-02.ipxe", &r), 0);
	assert_int_equal(r.status, 200);
	char t[KF_TOKEN_HEX + 1];
	fx_token(f, "kvm02", t);
	assert_non_null(strstr(r.body, t));
	resp_release(&r);
	struct kf_host_rec h = fx_host(f, "kvm02");
	assert_int_equal(h.state, KF_ST_BOOTING);
	kf_host_rec_release(&h);
}

static void test_body_limits_and_slow_client(void **state)
{
	struct fx *f = *state;
	char t[KF_TOKEN_HEX + 1];
	fx_token(f, "kvm01", t);
	/* a body over 64 KiB is refused before it is read */
	size_t n = 65 * 1024;
	char *big = kf_xmalloc(n + 1);
	memset(big, ' ', n);
	big[n] = 0;
	big[0] = '{';
	big[n - 1] = '}';
	post_cb(f, "kvm01", "report", t, big, 413, "too large");
	free(big);
	/* a client that stops mid-request is cut off after the timeout (2 s)
	 * while others are served */
	int fd = fx_connect(f);
	assert_true(fd >= 0);
	const char *part = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
	assert_int_equal(send(fd, part, strlen(part), 0), (ssize_t)strlen(part));
	struct resp r;
	assert_int_equal(fx_get(f, "/healthz", &r), 0);
	assert_int_equal(r.status, 200);
	resp_release(&r);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char buf[256];
	ssize_t got = recv(fd, buf, sizeof(buf), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(got <= 0 || !strncmp(buf, "HTTP/1.1 4", 10));
	assert_true(waited < 10.0);
	close(fd);
}

/* One acceptor hands the connections to the workers: clients that are all
 * connected at once are all served, and a second server cannot take the
 * port (no SO_REUSEPORT sharing). */
static void test_acceptor_and_port(void **state)
{
	struct fx *f = *state;
	struct resp r;
	assert_int_equal(fx_get(f, "/metrics", &r), 0);
	assert_non_null(strstr(r.body, "kickfleet_http_workers 2\n"));
	resp_release(&r);
	enum { N = 64 };
	int fds[N];
	for (int i = 0; i < N; i++)
		assert_true((fds[i] = fx_connect(f)) >= 0);
	const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	for (int i = 0; i < N; i++)
		assert_int_equal(send(fds[i], req, strlen(req), 0), (ssize_t)strlen(req));
	for (int i = 0; i < N; i++) {
		fx_read_all(fds[i], &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "ok\n");
		resp_release(&r);
		close(fds[i]);
	}
	struct kf_httpd *other = NULL;
	struct kf_httpd_opts o = { .addr = "127.0.0.1", .port = f->port, .threads = 1 };
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_httpd_start(&other, &o, NULL, 0, NULL, &e), -EADDRINUSE);
	assert_null(other);
	kf_err_release(&e);
}

/* While the gate is held (serve before it switches users), a server
 * accepts nothing: a client waits in the backlog, then is answered once
 * it opens. */
static void test_gate(void **state)
{
	(void)state;
	struct fx *f = kf_xcalloc(1, sizeof(*f));
	kf_httpd_hold();
	assert_int_equal(fx_start(f, 1), 0);
	int fd = fx_connect(f);
	assert_true(fd >= 0);
	const char *rq = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
	assert_int_equal(write(fd, rq, strlen(rq)), (ssize_t)strlen(rq));
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 400), 0);
	kf_httpd_release();
	assert_int_equal(poll(&p, 1, 5000), 1);
	char buf[256] = "";
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	assert_non_null(strstr(buf, "HTTP/1.1 200"));
	close(fd);
	/* a server stopped while held stops */
	kf_httpd_hold();
	fx_stop(f);
	kf_httpd_release();
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_healthz_and_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kickstart_token_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile_composed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callbacks_flip_boot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install_token_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credential_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install_ip_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_static_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipxe_unknown_and_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_limits_and_slow_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acceptor_and_port, setup, teardown),
		cmocka_unit_test(test_gate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
