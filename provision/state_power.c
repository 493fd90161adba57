/* The state store's power rows (state.h): the write transaction and the
 * event around the backend's members. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provision/state_backend.h"
#include "util.h"

int kf_state_set_power(struct kf_state *st, const char *name, int power, const char *action,
		       const char *error, struct kf_err *e)
{
	int r = st->ops->begin(st, false, e);
	if (r < 0)
		return r;
	r = st->ops->set_power(st, name, power, action, (int64_t)time(NULL), error, e);
	if (r == 0 && strcmp(action, "status")) {
		char *detail = kf_xasprintf("%s: %s", action, error ? error : "ok");
		r = st->ops->log_event(st, name, "power", detail, e);
		free(detail);
	}
	int c = st->ops->end(st, false, r >= 0, e);
	return r < 0 ? r : c;
}

int kf_state_list_power(struct kf_state *st, struct kf_power_row **out, size_t *n, struct kf_err *e)
{
	*out = NULL;
	*n = 0;
	return st->ops->list_power(st, out, n, e);
}

void kf_power_rows_free(struct kf_power_row *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].action);
		free(v[i].result);
	}
	free(v);
}

static int row_cmp(const void *key, const void *el)
{
	return strcmp(key, ((const struct kf_power_row *)el)->name);
}

const struct kf_power_row *kf_power_row_of(const struct kf_power_row *v, size_t n, const char *name)
{
	return v ? bsearch(name, v, n, sizeof(*v), row_cmp) : NULL;
}
