/* HTTP for the agent (agent/http.c, the one file that talks to libcurl):
 * fetching the profile with a cached last good copy, and POSTing reports.
 * Timeouts are always set, TLS peers and host names are always verified
 * (cacert: a CA bundle, NULL for the system's). */
#ifndef KF_AGENT_HTTP_H
#define KF_AGENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct kf_http_profile {
	char *body;
	size_t len;
	char *etag;      /* the server's ETag, if any */
	bool from_cache; /* body is the last good copy from the state dir */
	char *note;      /* why the cache was used, for the report; NULL when fresh */
};

bool kf_is_url(const char *s);

/* Fetches url.  Sends If-None-Match with the cached ETag; 304 uses the
 * cached copy.  When the server cannot be reached or answers with an
 * error, the last good copy (same URL) is used and out->note says so.
 * Returns 0, or a negative errno with the reason in e (no copy either).
 * state_dir is a host path (through the sysroot). */
int kf_http_fetch_profile(const char *url, const char *state_dir, const char *cacert,
			  struct kf_http_profile *out, struct kf_err *e);
/* Stores a profile that loaded cleanly as the last good copy (no-op when
 * it came from the cache). */
int kf_http_keep_profile(const char *url, const char *state_dir, const struct kf_http_profile *p);
void kf_http_profile_release(struct kf_http_profile *p);

/* POSTs a JSON document; 0 on a 2xx answer, else a negative errno with
 * the reason in e. */
int kf_http_post_json(const char *url, const char *json, const char *cacert, struct kf_err *e);

#endif
