/* Agent credentials in the state store (state.h): minted with the
 * install's kickstart, rotated on request and picked up by the agent;
 * each change one transaction with its event.  The store keeps a
 * credential's SHA-256 (lib/sha256.c), and the credential itself only
 * while its install is open.  docs/security.md tells the whole story. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "provision/state_backend.h"
#include "sha256.h"
#include "util.h"

void kf_cred_hash(const char *cred, char hex[KF_DIGEST_HEX + 1])
{
	struct kf_hash h;
	kf_hash_init(&h);
	kf_hash_update(&h, cred, strlen(cred));
	kf_hash_hex(&h, hex);
}

enum kf_cred_verdict kf_cred_check(const struct kf_cred *c, const char *presented, int64_t now,
				   long long grace)
{
	if (!c->hash[0])
		return KF_CRED_NONE;
	if (!presented || strlen(presented) != KF_TOKEN_HEX)
		return KF_CRED_WRONG;
	char hex[KF_DIGEST_HEX + 1];
	kf_cred_hash(presented, hex);
	if (kf_token_equal(hex, c->hash)) {
		if (c->rotated && grace > 0 && now > c->rotated + grace)
			return KF_CRED_EXPIRED;
		return KF_CRED_OK;
	}
	if (c->next[0] && kf_token_equal(hex, c->next))
		return KF_CRED_NEXT;
	if (c->old[0] && kf_token_equal(hex, c->old))
		return KF_CRED_OLD;
	return KF_CRED_WRONG;
}

/* Opens a write transaction on an existing host (its row read, which
 * locks it in PostgreSQL) and reads its credential row into c. */
static int cbegin(struct kf_state *st, const char *name, struct kf_cred *c, struct kf_err *e)
{
	int r = st->ops->begin(st, false, e);
	if (r < 0)
		return r;
	struct kf_host_rec h = { 0 };
	r = st->ops->get_host(st, name, NULL, &h, e);
	kf_host_rec_release(&h);
	if (r == -ENOENT)
		kf_errc(e, r, NULL, "state: unknown host \"%s\"", name);
	if (r == 0 && (r = st->ops->get_cred(st, name, c, e)) == -ENOENT) {
		memset(c, 0, sizeof(*c));
		r = 0;
	}
	if (r < 0)
		st->ops->end(st, false, false, e);
	return r;
}

/* Writes c and logs detail as a "credential" event; ends the transaction
 * cbegin opened, committing when r >= 0. */
static int cend(struct kf_state *st, const char *name, int r, const struct kf_cred *c,
		const char *detail, struct kf_err *e)
{
	int w = 0;
	if (r >= 0 && c && (w = st->ops->put_cred(st, name, c, e)) == 0 && detail)
		w = st->ops->log_event(st, name, "credential", detail, e);
	if (w < 0)
		r = w;
	int x = st->ops->end(st, false, r >= 0, e);
	return r < 0 ? r : x < 0 ? x : r;
}

int kf_state_get_cred(struct kf_state *st, const char *name, struct kf_cred *out,
		      struct kf_err *e)
{
	int r = st->ops->get_cred(st, name, out, e);
	if (r != -ENOENT)
		return r;
	memset(out, 0, sizeof(*out));
	struct kf_host_rec h = { 0 };
	r = st->ops->get_host(st, name, NULL, &h, e);
	kf_host_rec_release(&h);
	if (r == -ENOENT)
		kf_errc(e, r, NULL, "state: unknown host \"%s\"", name);
	return r;
}

/* A fresh credential: its text into out, its hash into hex. */
static int mint(char *out, char hex[KF_DIGEST_HEX + 1], struct kf_err *e)
{
	int r = kf_token_new(out, e);
	if (r == 0)
		kf_cred_hash(out, hex);
	return r;
}

int kf_state_cred_install(struct kf_state *st, const char *name, char *out, struct kf_err *e)
{
	struct kf_cred c;
	int r = cbegin(st, name, &c, e);
	if (r < 0)
		return r;
	if (c.pending[0]) {
		memcpy(out, c.pending, sizeof(c.pending));
		return cend(st, name, 0, NULL, NULL, e);
	}
	char hex[KF_DIGEST_HEX + 1];
	if ((r = mint(out, hex, e)) == 0) {
		memcpy(c.old, c.hash, sizeof(c.old));
		memcpy(c.hash, hex, sizeof(c.hash));
		memcpy(c.pending, out, sizeof(c.pending));
		c.next[0] = 0;
		c.rotated = 0;
		c.gen++;
		c.issued = (int64_t)time(NULL);
		r = 1;
	}
	return cend(st, name, r, &c, "agent credential issued with the kickstart", e);
}

int kf_state_cred_rotate(struct kf_state *st, const char *name, struct kf_err *e)
{
	struct kf_cred c;
	int r = cbegin(st, name, &c, e);
	if (r < 0)
		return r;
	if (!c.hash[0]) {
		r = kf_errc(e, -ENOKEY, NULL, "token rotate: host \"%s\" has no agent credential yet (it gets one with its install)",
			    name);
		return cend(st, name, r, NULL, NULL, e);
	}
	c.rotated = (int64_t)time(NULL);
	c.next[0] = 0;
	return cend(st, name, 0, &c, "rotation asked: the agent picks up a new one at its next run", e);
}

int kf_state_cred_handout(struct kf_state *st, const char *name, char *out, struct kf_err *e)
{
	struct kf_cred c;
	int r = cbegin(st, name, &c, e);
	if (r < 0)
		return r;
	if (!c.rotated || !c.hash[0]) {
		r = kf_errc(e, -EALREADY, NULL, "credential of \"%s\": no rotation in progress", name);
		return cend(st, name, r, NULL, NULL, e);
	}
	r = mint(out, c.next, e);
	return cend(st, name, r, &c, "new agent credential handed out with the profile", e);
}

int kf_state_cred_pickup(struct kf_state *st, const char *name, struct kf_err *e)
{
	struct kf_cred c;
	int r = cbegin(st, name, &c, e);
	if (r < 0)
		return r;
	if (!c.next[0]) /* another request picked it up first */
		return cend(st, name, 0, NULL, NULL, e);
	memcpy(c.old, c.hash, sizeof(c.old));
	memcpy(c.hash, c.next, sizeof(c.hash));
	c.next[0] = 0;
	c.rotated = 0;
	c.gen++;
	c.issued = (int64_t)time(NULL);
	return cend(st, name, 0, &c, "new agent credential picked up; the old one is refused", e);
}

/* For state.c: at "installed" the credential itself leaves the store;
 * inside the caller's transaction. */
int kf_state_cred_close_install(struct kf_state *st, const char *name, struct kf_err *e)
{
	struct kf_cred c;
	int r = st->ops->get_cred(st, name, &c, e);
	if (r == -ENOENT || (r == 0 && !c.pending[0]))
		return 0;
	if (r < 0)
		return r;
	memset(c.pending, 0, sizeof(c.pending));
	return st->ops->put_cred(st, name, &c, e);
}
