/* Resource "cpu_online": which CPUs are online
 * (/sys/devices/system/cpu/cpuN/online).  cpu0 is never taken offline;
 * CPUs are brought online before others go offline. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host.h"
#include "agent/hostio.h"
#include "agent/resource.h"
#include "types.h"
#include "util.h"

struct cpuset {
	struct kf_bitmap online;
	struct kf_bitmap hotplug; /* actual: CPUs with an online file */
};

static int co_parse(struct kf_ctx *ctx, void **desired)
{
	const struct kf_p_cpu *c = ctx->profile->cpu;
	*desired = NULL;
	if (!c || !c->online)
		return 0;
	struct cpuset *d = kf_xcalloc(1, sizeof(*d));
	kf_cpulist_parse(c->online, &d->online);
	const struct kf_mark *m = kf_mark_of(c, "online");
	char buf[256], buf2[256];
	if (!kf_bitmap_test(&d->online, 0))
		kf_errf(ctx->err, m, "cpu.online: cpu0 must stay online (the kernel does not take it offline)");
	if (!kf_bitmap_subset(&d->online, &ctx->host->present)) {
		struct kf_bitmap extra = d->online;
		for (unsigned i = 0; i < KF_MAX_CPUS; i++)
			if (kf_bitmap_test(&ctx->host->present, i))
				kf_bitmap_clear(&extra, i);
		kf_errf(ctx->err, m, "cpu.online: CPUs %s are not present on this host (present: %s)",
			kf_cpulist_fmt(&extra, buf, sizeof(buf)),
			kf_cpulist_fmt(&ctx->host->present, buf2, sizeof(buf2)));
	}
	*desired = d;
	return 0;
}

static int co_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	(void)desired;
	struct cpuset *a = kf_xcalloc(1, sizeof(*a));
	*actual = a;
	int last = kf_bitmap_last(&ctx->host->present);
	for (int cpu = 0; cpu <= last; cpu++) {
		if (!kf_bitmap_test(&ctx->host->present, (unsigned)cpu))
			continue;
		char path[96];
		long long v;
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
		int r = kf_host_read_ll(path, &v);
		if (r == -ENOENT) {
			/* not hotpluggable (cpu0 on x86): online */
			kf_bitmap_set(&a->online, (unsigned)cpu);
			continue;
		}
		if (r < 0)
			return kf_errc(ctx->fail, r, NULL, "%s: %s", path, strerror(-r));
		kf_bitmap_set(&a->hotplug, (unsigned)cpu);
		if (v)
			kf_bitmap_set(&a->online, (unsigned)cpu);
	}
	return 0;
}

static int co_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	const struct cpuset *d = desired, *a = actual;
	int last = kf_bitmap_last(&ctx->host->present);
	for (int pass = 1; pass >= 0; pass--) { /* online first, then offline */
		for (int cpu = 1; cpu <= last; cpu++) {
			if (!kf_bitmap_test(&ctx->host->present, (unsigned)cpu))
				continue;
			bool want = kf_bitmap_test(&d->online, (unsigned)cpu);
			bool have = kf_bitmap_test(&a->online, (unsigned)cpu);
			if (want == have || want != (pass == 1))
				continue;
			struct kf_change *ch = kf_plan_add(plan, "cpu_online", have ? "1" : "0", want ? "1" : "0",
							   "cpu%d online", cpu);
			char path[96];
			snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
			kf_change_syswrite(ch, path, want ? "1" : "0");
			if (!kf_bitmap_test(&a->hotplug, (unsigned)cpu))
				ch->reason = kf_xasprintf("cpu%d cannot be taken offline (no online file)", cpu);
		}
	}
	return 0;
}

static int co_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	(void)ctx;
	if (ch->reason)
		return -EPERM;
	return kf_apply_syswrite(ch, NULL);
}

const struct kf_resource kf_res_cpu_online = {
	.name = "cpu_online",
	.section = "cpu",
	.parse = co_parse,
	.probe = co_probe,
	.diff = co_diff,
	.apply = co_apply,
	.free_desired = free,
	.free_actual = free,
};
