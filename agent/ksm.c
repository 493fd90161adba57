/* Resource "ksm": kernel samepage merging (/sys/kernel/mm/ksm/).
 * merge_across_nodes can only change while no pages are merged, so its
 * change runs run=2 (unmerge everything), the new value, then the wanted
 * run value.  A running ksmtuned would fight the agent: it is reported. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/hostio.h"
#include "agent/resource.h"
#include "util.h"

#define KSM_DIR "/sys/kernel/mm/ksm"

enum { K_RUN, K_PAGES, K_SLEEP, K_MERGE, K_N };
static const char *const knames[K_N] = { "run", "pages_to_scan", "sleep_millisecs", "merge_across_nodes" };

struct ksm {
	long long v[K_N]; /* -1: not managed (desired) / not read (actual) */
	bool ksmtuned;    /* actual */
};

static int ksm_parse(struct kf_ctx *ctx, void **desired)
{
	const struct kf_p_memory *m = ctx->profile->memory;
	*desired = NULL;
	if (!m || !m->ksm)
		return 0;
	const struct kf_p_ksm *k = m->ksm;
	struct ksm *d = kf_xcalloc(1, sizeof(*d));
	d->v[K_RUN] = k->enabled < 0 ? -1 : k->enabled ? 1 : 0;
	d->v[K_PAGES] = k->pages_to_scan == KF_UNSET ? -1 : k->pages_to_scan;
	d->v[K_SLEEP] = k->sleep_millisecs == KF_UNSET ? -1 : k->sleep_millisecs;
	d->v[K_MERGE] = k->merge_across_nodes < 0 ? -1 : k->merge_across_nodes ? 1 : 0;
	*desired = d;
	return 0;
}

static int ksm_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	const struct ksm *d = desired;
	struct ksm *a = kf_xcalloc(1, sizeof(*a));
	*actual = a;
	int ret = 0;
	for (int i = 0; i < K_N; i++) {
		a->v[i] = -1;
		/* run is always read: the merge_across_nodes change restores it */
		if (d->v[i] < 0 && i != K_RUN)
			continue;
		char *path = kf_xasprintf(KSM_DIR "/%s", knames[i]);
		int r = kf_host_read_ll(path, &a->v[i]);
		if (r < 0)
			ret = kf_errc(ctx->fail, r, NULL, "%s: %s", path, strerror(-r));
		free(path);
	}
	a->ksmtuned = kf_proc_running("ksmtuned");
	return ret;
}

enum ksm_kind { KSM_SYSWRITE, KSM_MERGE }; /* kf_change.kind */

struct merge_data {
	long long merge, run;
};

static int ksm_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct ksm *d = desired, *a = actual;
	char from[32], to[32];
	/* merge_across_nodes first: it ends by setting run itself */
	if (d->v[K_MERGE] >= 0 && d->v[K_MERGE] != a->v[K_MERGE]) {
		snprintf(from, sizeof(from), "%lld", a->v[K_MERGE]);
		snprintf(to, sizeof(to), "%lld", d->v[K_MERGE]);
		struct kf_change *ch = kf_plan_add(plan, "ksm", from, to, "merge_across_nodes");
		struct merge_data *md = kf_xcalloc(1, sizeof(*md));
		md->merge = d->v[K_MERGE];
		md->run = d->v[K_RUN] >= 0 ? d->v[K_RUN] : a->v[K_RUN] == 2 ? 0 : a->v[K_RUN];
		ch->kind = KSM_MERGE;
		ch->data = md;
		ch->free_data = free;
	}
	for (int i = K_RUN; i < K_MERGE; i++) {
		if (d->v[i] < 0 || d->v[i] == a->v[i])
			continue;
		/* run=2 (stopped, pages unmerged) is "off" as far as the profile goes */
		if (i == K_RUN && d->v[i] == 0 && a->v[i] == 2)
			continue;
		snprintf(from, sizeof(from), "%lld", a->v[i]);
		snprintf(to, sizeof(to), "%lld", d->v[i]);
		struct kf_change *ch = kf_plan_add(plan, "ksm", from, to, "%s", knames[i]);
		char *path = kf_xasprintf(KSM_DIR "/%s", knames[i]);
		kf_change_syswrite(ch, path, to);
		free(path);
	}
	if (a->ksmtuned)
		kf_plan_note(plan, "ksm", "ksmtuned is running and will change KSM settings behind the agent's back (stop and disable it)");
	return 0;
}

static int write_one(struct kf_change *ch, const char *key, long long v)
{
	char *path = kf_xasprintf(KSM_DIR "/%s", key);
	char val[32], *back = NULL;
	snprintf(val, sizeof(val), "%lld", v);
	int r = kf_sys_write(path, val, &back);
	if (r < 0 && !ch->reason)
		ch->reason = kf_xasprintf("%s: writing \"%s\": %s", path, val, strerror(-r));
	else if (r == 0 && strcmp(back, val)) {
		if (!ch->reason)
			ch->reason = kf_xasprintf("%s: wrote \"%s\", read back \"%s\"", path, val, back);
		r = -EIO;
	}
	free(back);
	free(path);
	return r;
}

static int ksm_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	(void)ctx;
	if (ch->kind != KSM_MERGE)
		return kf_apply_syswrite(ch, NULL);
	const struct merge_data *md = ch->data;
	int r = write_one(ch, "run", 2);
	if (!r)
		r = write_one(ch, "merge_across_nodes", md->merge);
	/* put run back even when the new value did not take */
	int r2 = write_one(ch, "run", md->run);
	return r ? r : r2;
}

const struct kf_resource kf_res_ksm = {
	.name = "ksm",
	.section = "memory",
	.parse = ksm_parse,
	.probe = ksm_probe,
	.diff = ksm_diff,
	.apply = ksm_apply,
	.free_desired = free,
	.free_actual = free,
};
