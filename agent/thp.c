/* Resource "thp": transparent hugepages, enabled and defrag
 * (/sys/kernel/mm/transparent_hugepage/, values shown as "always [madvise] never"). */
#include <stdlib.h>
#include <string.h>

#include "agent/hostio.h"
#include "agent/resource.h"
#include "util.h"

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"

static const char *const enabled_v[] = { "always", "madvise", "never" };
static const char *const defrag_v[] = { "always", "defer", "defer+madvise", "madvise", "never" };

struct thp {
	const char *val[2]; /* enabled, defrag; NULL when not managed / unknown */
	char *owned[2];
};

static const char *const keys[2] = { "enabled", "defrag" };

static void thp_free(void *p)
{
	struct thp *t = p;
	if (!t)
		return;
	free(t->owned[0]);
	free(t->owned[1]);
	free(t);
}

static int thp_parse(struct kf_ctx *ctx, void **desired)
{
	const struct kf_p_memory *m = ctx->profile->memory;
	*desired = NULL;
	if (!m || !m->transparent_hugepages)
		return 0;
	const struct kf_p_thp *t = m->transparent_hugepages;
	if (t->enabled < 0 && t->defrag < 0)
		return 0;
	struct thp *d = kf_xcalloc(1, sizeof(*d));
	d->val[0] = t->enabled >= 0 ? enabled_v[t->enabled] : NULL;
	d->val[1] = t->defrag >= 0 ? defrag_v[t->defrag] : NULL;
	*desired = d;
	return 0;
}

static int thp_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	const struct thp *d = desired;
	struct thp *a = kf_xcalloc(1, sizeof(*a));
	*actual = a;
	for (int i = 0; i < 2; i++) {
		if (!d->val[i])
			continue;
		char *path = kf_xasprintf(THP_DIR "/%s", keys[i]);
		char *s = NULL, buf[64];
		int r = kf_host_read(path, &s);
		if (r < 0) {
			kf_errc(ctx->fail, r, NULL, "%s: %s", path, strerror(-r));
			free(path);
			return r;
		}
		if (kf_norm_bracket(s, buf, sizeof(buf)))
			a->val[i] = a->owned[i] = kf_xstrdup(buf);
		free(s);
		free(path);
	}
	return 0;
}

static int thp_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct thp *d = desired, *a = actual;
	for (int i = 0; i < 2; i++) {
		if (!d->val[i] || (a->val[i] && !strcmp(a->val[i], d->val[i])))
			continue;
		struct kf_change *ch = kf_plan_add(plan, "thp", a->val[i], d->val[i], "%s", keys[i]);
		char *path = kf_xasprintf(THP_DIR "/%s", keys[i]);
		kf_change_syswrite(ch, path, d->val[i]);
		free(path);
	}
	return 0;
}

static int thp_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	(void)ctx;
	return kf_apply_syswrite(ch, kf_norm_bracket);
}

const struct kf_resource kf_res_thp = {
	.name = "thp",
	.section = "memory",
	.parse = thp_parse,
	.probe = thp_probe,
	.diff = thp_diff,
	.apply = thp_apply,
	.free_desired = thp_free,
	.free_actual = thp_free,
};
