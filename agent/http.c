/* The agent's libcurl adapter (agent/http.h). */
#include "agent/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

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
	bool too_big;
};

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
	if (len > 5 && !strncasecmp(p, "ETag:", 5)) {
		const char *v = p + 5;
		while (*v == ' ' || *v == '\t')
			v++;
		free(s->etag);
		s->etag = kf_rstrip(strndup(v, len - (size_t)(v - p)));
		if (!s->etag)
			kf_die_oom();
	}
	return len;
}

static void common_opts(CURL *c, const char *url, const char *cacert)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, TOTAL_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kickfleet-agent");
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
	char *why = NULL;
	int r = 0;
	memset(out, 0, sizeof(*out));
	bool have_cache = load_cache(url, state_dir, &cache) == 0;

	CURL *c = curl_easy_init();
	if (!c) {
		why = kf_xstrdup("cannot initialise libcurl");
		goto fallback;
	}
	common_opts(c, url, cacert);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
	if (have_cache && cache.etag) {
		char *h = kf_xasprintf("If-None-Match: %s", cache.etag);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	}
	CURLcode cr = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (cr != CURLE_OK) {
		why = kf_xasprintf("%s", s.too_big ? "profile larger than 16 MiB" : curl_easy_strerror(cr));
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
	free(why);
	curl_slist_free_all(hdrs);
	if (c)
		curl_easy_cleanup(c);
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
	CURL *c = curl_easy_init();
	if (!c)
		return kf_errc(e, -ENOMEM, NULL, "%s: cannot initialise libcurl", url);
	common_opts(c, url, cacert);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	CURLcode cr = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (cr != CURLE_OK)
		r = kf_errc(e, -EHOSTUNREACH, NULL, "report to %s: %s", url, curl_easy_strerror(cr));
	else if (code < 200 || code > 299)
		r = kf_errc(e, -EIO, NULL, "report to %s: server answered HTTP %ld", url, code);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return r;
}
