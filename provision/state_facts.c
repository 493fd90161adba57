/* The state store's facts per host and discovered machines (state.h):
 * argument checks and write transactions around the backend's members. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "provision/state_backend.h"
#include "util.h"

static int wrap(struct kf_state *st, int r, struct kf_err *e)
{
	int c = st->ops->end(st, false, r >= 0, e);
	return r < 0 ? r : c < 0 ? c : r;
}

int kf_state_set_facts(struct kf_state *st, const char *name, const char *json, const char *summary,
		       struct kf_err *e)
{
	int r = st->ops->begin(st, false, e);
	if (r < 0)
		return r;
	return wrap(st, st->ops->set_facts(st, name, json, summary, (int64_t)time(NULL), e), e);
}

int kf_state_get_facts(struct kf_state *st, const char *name, char **json, int64_t *time,
		       struct kf_err *e)
{
	*json = NULL;
	*time = 0;
	return st->ops->get_facts(st, name, json, time, e);
}

int kf_state_list_facts(struct kf_state *st, struct kf_facts_row **out, size_t *n, struct kf_err *e)
{
	*out = NULL;
	*n = 0;
	return st->ops->list_facts(st, out, n, e);
}

void kf_facts_rows_free(struct kf_facts_row *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].summary);
	}
	free(v);
}

int kf_state_put_discovered(struct kf_state *st, const char *mac, const char *json, const char *peer,
			    struct kf_err *e)
{
	int r = st->ops->begin(st, false, e);
	if (r < 0)
		return r;
	return wrap(st, st->ops->put_discovered(st, mac, json, peer, (int64_t)time(NULL), e), e);
}

int kf_state_list_discovered(struct kf_state *st, struct kf_discovered **out, size_t *n,
			     struct kf_err *e)
{
	*out = NULL;
	*n = 0;
	return st->ops->list_discovered(st, out, n, e);
}

int kf_state_delete_discovered(struct kf_state *st, const char *mac, struct kf_err *e)
{
	int r = st->ops->begin(st, false, e);
	if (r < 0)
		return r;
	r = st->ops->delete_discovered(st, mac, e);
	if (r == -ENOENT)
		kf_errc(e, r, NULL, "no discovered machine with MAC %s", mac);
	return wrap(st, r, e);
}

void kf_discovered_free(struct kf_discovered *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].mac);
		free(v[i].json);
		free(v[i].peer);
	}
	free(v);
}
