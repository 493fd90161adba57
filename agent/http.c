/* The agent's libcurl adapter (agent/http.h). */
#include "agent/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/credential.h"
#include "dl.h"
#include "util.h"

/* libcurl is opened at first use (a fetch or a report), so that a run with
 * a local profile and no report does not load it and its TLS stack
 * (lib/dl.h).  Every libcurl function this file calls is in this table. */
#define CURL_FNS(F)                                                                       \
	F(curl_easy_cleanup) F(curl_easy_getinfo) F(curl_easy_init) F(curl_easy_perform) \
	F(curl_easy_setopt) F(curl_easy_strerror) F(curl_slist_append) F(curl_slist_free_all)

KF_DL_TABLE(CURL_FNS)

static struct kf_dl libcurl =
	KF_DL("libcurl.so.4", "libcurl", "cannot fetch profiles or send reports over HTTP", resolve);

/* curl_easy_setopt and _getinfo through the table.  libcurl numbers each
 * option by the type of its argument (CURLOPTTYPE_*, CURLINFO_*); these
 * check the option's kind at compile time and pass the argument as exactly
 * that type, what curl's typecheck-gcc.h does for direct calls. */
#define KIND(o, lo, hi) _Static_assert((o) >= (lo) && (o) < (hi), #o " is not an option of this kind")
#define set_long(c, o, v)                                                                       \
	do {                                                                                    \
		KIND(o, CURLOPTTYPE_LONG, CURLOPTTYPE_OBJECTPOINT);                             \
		long v_ = (v);                                                                  \
		(lib.curl_easy_setopt)((c), (o), v_);                                           \
	} while (0)
#define set_ptr(c, o, type, v)                                                                  \
	do {                                                                                    \
		KIND(o, CURLOPTTYPE_OBJECTPOINT, CURLOPTTYPE_FUNCTIONPOINT);                    \
		type v_ = (v);                                                                  \
		(lib.curl_easy_setopt)((c), (o), v_);                                           \
	} while (0)
#define set_write_cb(c, o, v)                                                                   \
	do {                                                                                    \
		KIND(o, CURLOPTTYPE_FUNCTIONPOINT, CURLOPTTYPE_OFF_T);                          \
		curl_write_callback v_ = (v);                                                   \
		(lib.curl_easy_setopt)((c), (o), v_);                                           \
	} while (0)
#define get_long(c, i, p)                                                                       \
	do {                                                                                    \
		_Static_assert(((i) & CURLINFO_TYPEMASK) == CURLINFO_LONG, #i " does not give a long"); \
		long *p_ = (p);                                                                 \
		(lib.curl_easy_getinfo)((c), (i), p_);                                          \
	} while (0)

#define PROFILE_MAX (16u << 20)
#define CONNECT_TIMEOUT 10L
#define TOTAL_TIMEOUT 60L

bool kf_is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

struct sink {
	struct kf_buf body;
	char *etag;
	char *cred; /* a new agent credential the provisioner handed out */
	bool too_big;
};

/* The value of header name: in the header line p (len bytes), or NULL. */
static char *header_value(const char *p, size_t len, const char *name)
{
	size_t n = strlen(name);
	if (len <= n + 1 || strncasecmp(p, name, n) || p[n] != ':')
		return NULL;
	const char *v = p + n + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	char *s = kf_rstrip(strndup(v, len - (size_t)(v - p)));
	if (!s)
		kf_die_oom();
	return s;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	if (s->body.len + size * n > PROFILE_MAX) {
		s->too_big = true;
		return 0;
	}
	kf_buf_add(&s->body, p, size * n);
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;
	char *v = header_value(p, len, "ETag");
	if (v) {
		free(s->etag);
		s->etag = v;
	} else if ((v = header_value(p, len, "X-Kickfleet-Credential"))) {
		free(s->cred);
		s->cred = v;
	}
	return len;
}

/* The agent credential, when there is one, as a header (never in the
 * URL, so no access log keeps it). */
static struct curl_slist *auth_header(struct curl_slist *hdrs)
{
	const char *cred = kf_agent_cred();
	if (!cred)
		return hdrs;
	char h[32 + KF_AGENT_CRED_LEN];
	snprintf(h, sizeof(h), "Authorization: Bearer %s", cred);
	hdrs = lib.curl_slist_append(hdrs, h);
	explicit_bzero(h, sizeof(h));
	return hdrs;
}

/* A rotation: the provisioner handed out a new credential with the
 * profile; keep it (the old one works until the new one is used). */
static void take_cred(struct sink *s)
{
	if (!s->cred)
		return;
	struct kf_err e = KF_ERR_INIT;
	if (kf_agent_cred_replace(s->cred, &e) < 0)
		kf_err_print(&e, stderr);
	else
		kf_log(KF_LOG_INFO, "agent credential replaced with the one the provisioner handed out");
	kf_err_release(&e);
	explicit_bzero(s->cred, strlen(s->cred));
	free(s->cred);
	s->cred = NULL;
}

static void common_opts(CURL *c, const char *url, const char *cacert)
{
	set_ptr(c, CURLOPT_URL, const char *, url);
	set_long(c, CURLOPT_NOSIGNAL, 1L);
	set_long(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	set_long(c, CURLOPT_TIMEOUT, TOTAL_TIMEOUT);
	set_long(c, CURLOPT_SSL_VERIFYPEER, 1L);
	set_long(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cacert)
		set_ptr(c, CURLOPT_CAINFO, const char *, cacert);
	set_long(c, CURLOPT_FOLLOWLOCATION, 1L);
	set_long(c, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
	set_ptr(c, CURLOPT_PROTOCOLS_STR, const char *, "http,https");
	set_ptr(c, CURLOPT_REDIR_PROTOCOLS_STR, const char *, "http,https");
#endif
	set_ptr(c, CURLOPT_USERAGENT, const char *, "kickfleet-agent");
}

/* A failed TLS check: the server is not the one the CA vouches for.
 * Never answered from the last good copy: that would hide the attack. */
static bool tls_refused(CURLcode cr)
{
	return cr == CURLE_PEER_FAILED_VERIFICATION || cr == CURLE_SSL_CACERT_BADFILE ||
	       cr == CURLE_SSL_ISSUER_ERROR || cr == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

/* What a failed transfer says: curl's detail for a TLS refusal. */
static char *failure(CURLcode cr, const char *detail)
{
	if (tls_refused(cr))
		return kf_xasprintf("certificate verify failed (%s)",
				    *detail ? detail : lib.curl_easy_strerror(cr));
	return kf_xstrdup(lib.curl_easy_strerror(cr));
}

static char *state_file(const char *state_dir, const char *name)
{
	return kf_path("%s/%s", state_dir, name);
}

static char *read_state(const char *state_dir, const char *name, size_t *len)
{
	char *path = state_file(state_dir, name);
	char *s = NULL;
	if (kf_read_file(path, PROFILE_MAX, &s, len) < 0)
		s = NULL;
	free(path);
	return s;
}

/* The cached copy, if it was fetched from this URL. */
static int load_cache(const char *url, const char *state_dir, struct kf_http_profile *out)
{
	char *cached_url = read_state(state_dir, "profile.url", NULL);
	int r = -ENOENT;
	if (!cached_url || strcmp(kf_rstrip(cached_url), url))
		goto out;
	out->body = read_state(state_dir, "profile.yaml", &out->len);
	if (!out->body)
		goto out;
	out->etag = read_state(state_dir, "profile.etag", NULL);
	if (out->etag && !*kf_rstrip(out->etag)) {
		free(out->etag);
		out->etag = NULL;
	}
	out->from_cache = true;
	r = 0;
out:
	free(cached_url);
	return r;
}

int kf_http_fetch_profile(const char *url, const char *state_dir, const char *cacert,
			  struct kf_http_profile *out, struct kf_err *e)
{
	struct kf_http_profile cache = { 0 };
	struct sink s = { 0 };
	struct curl_slist *hdrs = NULL;
	char *why = NULL, detail[CURL_ERROR_SIZE] = "";
	int r = 0;
	memset(out, 0, sizeof(*out));
	bool have_cache = load_cache(url, state_dir, &cache) == 0;
	CURL *c = NULL;

	if (kf_dl_load(&libcurl, NULL) < 0) {
		why = kf_xstrdup(libcurl.why);
		goto fallback;
	}
	c = lib.curl_easy_init();
	if (!c) {
		why = kf_xstrdup("cannot initialise libcurl");
		goto fallback;
	}
	common_opts(c, url, cacert);
	set_ptr(c, CURLOPT_ERRORBUFFER, char *, detail);
	set_write_cb(c, CURLOPT_WRITEFUNCTION, on_body);
	set_ptr(c, CURLOPT_WRITEDATA, void *, &s);
	set_write_cb(c, CURLOPT_HEADERFUNCTION, on_header);
	set_ptr(c, CURLOPT_HEADERDATA, void *, &s);
	if (have_cache && cache.etag) {
		char *h = kf_xasprintf("If-None-Match: %s", cache.etag);
		hdrs = lib.curl_slist_append(hdrs, h);
		free(h);
	}
	hdrs = auth_header(hdrs);
	if (hdrs)
		set_ptr(c, CURLOPT_HTTPHEADER, struct curl_slist *, hdrs);
	CURLcode cr = lib.curl_easy_perform(c);
	long code = 0;
	get_long(c, CURLINFO_RESPONSE_CODE, &code);
	if (cr == CURLE_OK && (code == 200 || code == 304))
		take_cred(&s);
	if (cr != CURLE_OK && tls_refused(cr)) {
		why = failure(cr, detail);
		r = kf_errc(e, -EPERM, NULL, "%s: %s", url, why);
		goto out;
	}
	if (cr != CURLE_OK) {
		why = s.too_big ? kf_xstrdup("profile larger than 16 MiB") : failure(cr, detail);
		goto fallback;
	}
	if (code == 304 && have_cache) {
		*out = cache;
		memset(&cache, 0, sizeof(cache));
		out->from_cache = true; /* unchanged on the server: no note */
		goto out;
	}
	if (code != 200) {
		why = kf_xasprintf("server answered HTTP %ld", code);
		goto fallback;
	}
	out->len = s.body.len;
	out->body = kf_buf_detach(&s.body);
	out->etag = s.etag;
	s.etag = NULL;
	goto out;

fallback:
	if (!have_cache) {
		r = kf_errc(e, -EHOSTUNREACH, NULL, "%s: %s, and no last good copy in %s", url, why,
			    state_dir);
		goto out;
	}
	*out = cache;
	memset(&cache, 0, sizeof(cache));
	out->note = kf_xasprintf("%s: %s; using the last good copy from %s/profile.yaml", url, why,
				 state_dir);
out:
	kf_http_profile_release(&cache);
	kf_buf_release(&s.body);
	free(s.etag);
	free(s.cred);
	free(why);
	if (hdrs)
		lib.curl_slist_free_all(hdrs);
	if (c)
		lib.curl_easy_cleanup(c);
	return r;
}

int kf_http_keep_profile(const char *url, const char *state_dir, const struct kf_http_profile *p)
{
	if (p->from_cache)
		return 0;
	char *dir = kf_path("%s", state_dir);
	int r = kf_mkdir_p(dir, 0700);
	free(dir);
	char *f = state_file(state_dir, "profile.yaml");
	if (!r)
		r = kf_write_atomic(f, p->body, p->len, 0600);
	free(f);
	f = state_file(state_dir, "profile.etag");
	if (!r)
		r = kf_write_atomic(f, p->etag ? p->etag : "", p->etag ? strlen(p->etag) : 0, 0600);
	free(f);
	f = state_file(state_dir, "profile.url");
	if (!r)
		r = kf_write_atomic(f, url, strlen(url), 0600);
	free(f);
	return r;
}

void kf_http_profile_release(struct kf_http_profile *p)
{
	if (!p)
		return;
	free(p->body);
	free(p->etag);
	free(p->note);
	memset(p, 0, sizeof(*p));
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

int kf_http_post_json(const char *url, const char *json, const char *cacert, struct kf_err *e)
{
	int r = 0;
	struct curl_slist *hdrs = NULL;
	if ((r = kf_dl_load(&libcurl, NULL)) < 0)
		return kf_errc(e, r, NULL, "report to %s: %s", url, libcurl.why);
	CURL *c = lib.curl_easy_init();
	if (!c)
		return kf_errc(e, -ENOMEM, NULL, "%s: cannot initialise libcurl", url);
	char detail[CURL_ERROR_SIZE] = "";
	common_opts(c, url, cacert);
	set_ptr(c, CURLOPT_ERRORBUFFER, char *, detail);
	hdrs = lib.curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = auth_header(hdrs);
	set_ptr(c, CURLOPT_HTTPHEADER, struct curl_slist *, hdrs);
	set_ptr(c, CURLOPT_POSTFIELDS, const char *, json);
	set_long(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	set_write_cb(c, CURLOPT_WRITEFUNCTION, discard);
	CURLcode cr = lib.curl_easy_perform(c);
	long code = 0;
	get_long(c, CURLINFO_RESPONSE_CODE, &code);
	if (cr != CURLE_OK) {
		char *why = failure(cr, detail);
		r = kf_errc(e, tls_refused(cr) ? -EPERM : -EHOSTUNREACH, NULL, "report to %s: %s", url,
			    why);
		free(why);
	}
	else if (code < 200 || code > 299)
		r = kf_errc(e, -EIO, NULL, "report to %s: server answered HTTP %ld", url, code);
	lib.curl_slist_free_all(hdrs);
	lib.curl_easy_cleanup(c);
	return r;
}
