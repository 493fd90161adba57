/* The state store: what is the same for every backend (state names, the
 * install-state rules and their events, tokens), over the backend chosen
 * at open.  See state.h for the contract, state_backend.h for backends. */
#include "provision/state_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Tried in order: the first that accepts the location opens it. */
static const struct kf_state_ops *const backends[] = {
	&kf_state_postgresql, /* postgresql:DSN_FILE */
	&kf_state_sqlite,     /* any path: last */
};

static const char *const state_names[KF_ST_COUNT] = {
	"new", "booting", "installing", "installed", "configured", "drifted", "failed",
};

const char *kf_install_state_name(int st)
{
	return st >= 0 && st < KF_ST_COUNT ? state_names[st] : NULL;
}

int kf_install_state_parse(const char *s)
{
	for (int i = 0; s && i < KF_ST_COUNT; i++)
		if (!strcmp(s, state_names[i]))
			return i;
	return -1;
}

const char *kf_host_kind_name(int kind)
{
	return kind == KF_KIND_GUEST ? "guest" : "host";
}

static int64_t now(void)
{
	return (int64_t)time(NULL);
}

static int unknown(struct kf_err *e, int r, const char *name)
{
	if (r == -ENOENT)
		kf_errc(e, r, NULL, "state: unknown host \"%s\"", name);
	return r;
}

/* ---- open / close / transactions ---- */

int kf_state_open(struct kf_state **out, const char *path, struct kf_err *e)
{
	*out = NULL;
	for (size_t i = 0; i < KF_ARRAY_SIZE(backends); i++)
		if (backends[i]->accepts(path))
			return backends[i]->open(out, path, e);
	return kf_errc(e, -EPROTONOSUPPORT, NULL, "state %s: no backend for this location", path);
}

bool kf_state_shared(const char *where)
{
	for (size_t i = 0; i < KF_ARRAY_SIZE(backends); i++)
		if (backends[i]->accepts(where))
			return backends[i]->shared;
	return false;
}

bool kf_state_exists(const char *where)
{
	return kf_state_shared(where) || access(where, R_OK) == 0;
}

void kf_state_close(struct kf_state *st)
{
	if (st)
		st->ops->close(st);
}

const char *kf_state_backend(const struct kf_state *st)
{
	return st->ops->name;
}

void kf_state_schema(const struct kf_state *st, int *was, int *now)
{
	*was = st->schema_from;
	*now = (int)kf_state_nmigrations;
}

int kf_state_watch(struct kf_state *st, struct kf_err *e)
{
	if (!st->ops->watch)
		return kf_errc(e, -EOPNOTSUPP, NULL, "state: the %s backend sends no change notices",
			       st->ops->name);
	return st->ops->watch(st, e);
}

int kf_state_changes(struct kf_state *st, void (*fn)(void *ctx, const char *host), void *ctx,
		     struct kf_err *e)
{
	if (!st->ops->changes)
		return kf_errc(e, -EOPNOTSUPP, NULL, "state: the %s backend sends no change notices",
			       st->ops->name);
	return st->ops->changes(st, fn, ctx, e);
}

int kf_state_begin(struct kf_state *st, struct kf_err *e)
{
	return st->ops->begin(st, true, e);
}

int kf_state_end(struct kf_state *st, int commit, struct kf_err *e)
{
	return st->ops->end(st, true, commit != 0, e);
}

/* Every write goes through wbegin/wend: its own transaction, or a part of
 * the open batch.  wend commits when r >= 0 and returns r or the commit's
 * error. */
static int wbegin(struct kf_state *st, struct kf_err *e)
{
	return st->ops->begin(st, false, e);
}

static int wend(struct kf_state *st, int r, struct kf_err *e)
{
	int c = st->ops->end(st, false, r >= 0, e);
	return r < 0 ? r : c < 0 ? c : r;
}

/* ---- rows ---- */

void kf_host_rec_release(struct kf_host_rec *h)
{
	if (!h)
		return;
	free(h->name);
	free((void *)h->macs);
	free(h->role);
	free(h->report);
	free(h->agent_version);
	memset(h, 0, sizeof(*h));
}

void kf_host_recs_free(struct kf_host_rec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		kf_host_rec_release(&v[i]);
	free(v);
}

int kf_state_get_host(struct kf_state *st, const char *name, struct kf_host_rec *out,
		      struct kf_err *e)
{
	return st->ops->get_host(st, name, NULL, out, e);
}

int kf_state_find_mac(struct kf_state *st, const char *mac, struct kf_host_rec *out,
		      struct kf_err *e)
{
	return st->ops->get_host(st, NULL, mac, out, e);
}

static int put_row(struct kf_state *st, const struct kf_host_rec *h, enum kf_put_mode mode,
		   struct kf_err *e)
{
	if (!h->name || !*h->name)
		return kf_errc(e, -EINVAL, NULL, "state: host without a name");
	int r = wbegin(st, e);
	if (r < 0)
		return r;
	return wend(st, st->ops->put_host(st, h, mode, e), e);
}

int kf_state_put_host(struct kf_state *st, const struct kf_host_rec *h, struct kf_err *e)
{
	return put_row(st, h, KF_PUT_ALL, e);
}

int kf_state_put_render(struct kf_state *st, const struct kf_host_rec *h, bool new_token,
			struct kf_err *e)
{
	return put_row(st, h, new_token ? KF_PUT_RENDER_TOKEN : KF_PUT_RENDER, e);
}

int kf_state_delete_host(struct kf_state *st, const char *name, struct kf_err *e)
{
	int r = wbegin(st, e);
	if (r < 0)
		return r;
	return wend(st, unknown(e, st->ops->delete_host(st, name, e), name), e);
}

int kf_state_list_hosts(struct kf_state *st, struct kf_host_rec **out, size_t *n,
			struct kf_err *e)
{
	*out = NULL;
	*n = 0;
	return st->ops->list_hosts(st, out, n, e);
}

int kf_state_count_states(struct kf_state *st, size_t by_state[KF_ST_COUNT], long long *drift,
			  struct kf_err *e)
{
	memset(by_state, 0, KF_ST_COUNT * sizeof(*by_state));
	*drift = 0;
	return st->ops->count_states(st, by_state, drift, e);
}

int kf_state_list_digests(struct kf_state *st, struct kf_host_digest **out, size_t *n,
			  struct kf_err *e)
{
	*out = NULL;
	*n = 0;
	return st->ops->list_digests(st, out, n, e);
}

/* ---- state changes ---- */

int kf_state_log_event(struct kf_state *st, const char *name, const char *what,
		       const char *detail, struct kf_err *e)
{
	int r = wbegin(st, e);
	if (r < 0)
		return r;
	return wend(st, st->ops->log_event(st, name, what, detail, e), e);
}

/* Moves the row h (read in this transaction) to state and logs
 * "OLD -> NEW[: detail]". */
static int move(struct kf_state *st, const struct kf_host_rec *h, int state, int64_t since,
		const char *detail, struct kf_err *e)
{
	int r = st->ops->set_state(st, h->name, state, since, state == KF_ST_INSTALLED, e);
	if (r < 0)
		return unknown(e, r, h->name);
	char *msg = kf_xasprintf("%s -> %s%s%s", kf_install_state_name(h->state),
				 kf_install_state_name(state), detail ? ": " : "", detail ? detail : "");
	r = st->ops->log_event(st, h->name, "state", msg, e);
	free(msg);
	return r;
}

/* Opens a write transaction and reads name's row into h. */
static int wbegin_read(struct kf_state *st, const char *name, struct kf_host_rec *h,
		       struct kf_err *e)
{
	int r = wbegin(st, e);
	if (r < 0)
		return r;
	if ((r = unknown(e, st->ops->get_host(st, name, NULL, h, e), name)) < 0)
		wend(st, r, e);
	return r;
}

int kf_state_set_state(struct kf_state *st, const char *name, int state, const char *detail,
		       struct kf_err *e)
{
	if (!kf_install_state_name(state))
		return kf_errc(e, -EINVAL, NULL, "state: invalid install state %d", state);
	struct kf_host_rec h = { 0 };
	int r = wbegin_read(st, name, &h, e);
	if (r < 0)
		return r;
	if (h.state != state || (state == KF_ST_INSTALLED && h.netboot)) {
		r = move(st, &h, state, h.state == state ? h.state_since : now(), detail, e);
		if (r == 0 && state == KF_ST_INSTALLED)
			r = kf_state_cred_close_install(st, name, e);
		if (r == 0)
			r = 1;
	}
	kf_host_rec_release(&h);
	return wend(st, r, e);
}

int kf_state_set_netboot(struct kf_state *st, const char *name, int on, struct kf_err *e)
{
	struct kf_host_rec h = { 0 };
	int r = wbegin_read(st, name, &h, e);
	if (r < 0)
		return r;
	on = on ? 1 : 0;
	if (h.netboot == on && (!on || h.state == KF_ST_NEW))
		goto out;
	if ((r = st->ops->set_netboot(st, name, on, e)) < 0)
		goto out;
	if (on && h.state != KF_ST_NEW &&
	    (r = st->ops->set_state(st, name, KF_ST_NEW, now(), false, e)) < 0)
		goto out;
	char *msg = on ? kf_xasprintf("on (reinstall; was %s)", kf_install_state_name(h.state))
		       : kf_xstrdup("off (boot locally)");
	r = st->ops->log_event(st, name, "netboot", msg, e);
	free(msg);
	if (r == 0)
		r = 1;
out:
	kf_host_rec_release(&h);
	return wend(st, r, e);
}

int kf_state_rotate_token(struct kf_state *st, const char *name, char *token_out,
			  struct kf_err *e)
{
	char tok[KF_TOKEN_HEX + 1];
	int r = kf_token_new(tok, e);
	if (r < 0)
		return r;
	if ((r = wbegin(st, e)) < 0)
		return r;
	r = unknown(e, st->ops->set_token(st, name, tok, now(), e), name);
	if (r == 0) /* a new install: its agent credential is minted anew */
		r = kf_state_cred_close_install(st, name, e);
	if (r == 0)
		r = st->ops->log_event(st, name, "token", "rotated", e);
	if (r == 0 && token_out)
		memcpy(token_out, tok, sizeof(tok));
	return wend(st, r, e);
}

int kf_state_record_report(struct kf_state *st, const char *name, const char *json,
			   const struct kf_report_info *ri, struct kf_err *e)
{
	struct kf_host_rec h = { 0 };
	int r = wbegin_read(st, name, &h, e);
	if (r < 0)
		return r;
	int want = ri->failed ? KF_ST_FAILED : ri->drifted ? KF_ST_DRIFTED : KF_ST_CONFIGURED;
	r = st->ops->set_report(st, name, json, now(), ri, e);
	if (r == 0 && want != h.state)
		r = move(st, &h, want, now(), "agent report", e);
	kf_host_rec_release(&h);
	return wend(st, r, e);
}

/* ---- events ---- */

int kf_state_list_events(struct kf_state *st, const char *name, size_t limit,
			 struct kf_event **out, size_t *n, struct kf_err *e)
{
	*out = NULL;
	*n = 0;
	return st->ops->list_events(st, name, limit, out, n, e);
}

void kf_events_free(struct kf_event *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].host);
		free(v[i].what);
		free(v[i].detail);
	}
	free(v);
}

/* ---- for backends ---- */

void kf_state_macs_split(const char *t, struct kf_host_rec *h)
{
	size_t len = t ? strlen(t) : 0, n = 0;
	for (size_t k = 0; k < len; k++)
		n += t[k] == ',';
	n += len > 0;
	const char **v = kf_xmalloc(n * sizeof(*v) + len + 1);
	char *pool = memcpy((char *)(v + n), t ? t : "", len + 1);
	h->nmacs = 0;
	for (char *p = pool; len && p;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma++ = 0;
		if (*p)
			v[h->nmacs++] = p;
		p = comma;
	}
	h->macs = v;
}

void kf_state_macs_join(const struct kf_host_rec *h, struct kf_buf *b)
{
	for (size_t i = 0; i < h->nmacs; i++)
		kf_buf_printf(b, "%s%s", i ? "," : "", h->macs[i]);
}

static void copy_hex(char *dst, size_t len, const char *src)
{
	size_t n = src ? strnlen(src, len - 1) : 0; /* as snprintf "%s" */
	memcpy(dst, src ? src : "", n);
	dst[n] = 0;
}

void kf_digests_add(struct kf_digests_acc *a, const char *name, int netboot, const char *token,
		    const char *digest)
{
	if (a->len == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 256;
		a->v = kf_xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	struct kf_host_digest *d = &a->v[a->len++];
	/* names as offsets in their own buffer until both stop moving */
	d->name = (const char *)(uintptr_t)a->names.len;
	kf_buf_add(&a->names, name ? name : "", name ? strlen(name) + 1 : 1);
	d->netboot = netboot;
	copy_hex(d->token, sizeof(d->token), token);
	copy_hex(d->digest, sizeof(d->digest), digest);
}

void kf_digests_finish(struct kf_digests_acc *a, struct kf_host_digest **out, size_t *n)
{
	/* the names after the rows, in the same block */
	struct kf_host_digest *v = kf_xrealloc(a->v, a->len * sizeof(*v) + a->names.len + 1);
	char *pool = (char *)(v + a->len);
	if (a->names.len)
		memcpy(pool, a->names.s, a->names.len);
	for (size_t i = 0; i < a->len; i++)
		v[i].name = pool + (uintptr_t)v[i].name;
	*out = v;
	*n = a->len;
	a->v = NULL;
	kf_digests_drop(a);
}

void kf_digests_drop(struct kf_digests_acc *a)
{
	free(a->v);
	kf_buf_release(&a->names);
	memset(a, 0, sizeof(*a));
}

/* ---- tokens ---- */

int kf_token_new(char *out, struct kf_err *e)
{
	unsigned char raw[KF_TOKEN_BYTES];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kf_errc(e, -errno, NULL, "token: getrandom: %s", strerror(errno));
		}
		got += (size_t)n;
	}
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[KF_TOKEN_HEX] = 0;
	return 0;
}

int kf_token_equal(const char *a, const char *b)
{
	if (!a || !b || !*a || !*b)
		return 0;
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;
	size_t n = la < lb ? la : lb;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}
