/* Resource "isolcpus": cpu.isolated as isolcpus= on the next boot's kernel
 * command line (agent/bootcmd.h); takes effect after a reboot, and is
 * pending "reboot required" while the running kernel has another list. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/bootcmd.h"
#include "agent/host.h"
#include "agent/resource.h"
#include "types.h"
#include "util.h"

struct iso_have {
	char *cmdline; /* the next boot's, NULL when there is none */
	char *running; /* /proc/cmdline, NULL when unknown */
};

static int iso_parse(struct kf_ctx *ctx, void **desired)
{
	const struct kf_p_cpu *c = ctx->profile->cpu;
	*desired = NULL;
	if (!c || !c->isolated)
		return 0;
	struct kf_bitmap b;
	char buf[256], buf2[256];
	kf_cpulist_parse(c->isolated, &b);
	if (ctx->host && !kf_bitmap_subset(&b, &ctx->host->present))
		kf_errf(ctx->err, kf_mark_of(c, "isolated"), "cpu.isolated: CPUs %s are not all present on this host (present: %s)",
			kf_cpulist_fmt(&b, buf, sizeof(buf)), kf_cpulist_fmt(&ctx->host->present, buf2, sizeof(buf2)));
	else if (kf_bitmap_test(&b, 0))
		kf_errf(ctx->err, kf_mark_of(c, "isolated"), "cpu.isolated: cpu0 cannot be isolated (it runs the housekeeping)");
	*desired = kf_xstrdup(kf_cpulist_fmt(&b, buf, sizeof(buf)));
	return 0;
}

static int iso_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	(void)desired;
	struct iso_have *a = kf_xcalloc(1, sizeof(*a));
	*actual = a;
	a->running = kf_cmdline_running();
	int r = kf_bootcmd_read(&a->cmdline);
	if (r < 0 && r != -ENOENT) /* no boot config: the change plans it, apply says why */
		return kf_errc(ctx->fail, r, NULL, "%s: %s", kf_bootcmd_file(), strerror(-r));
	return 0;
}

/* isolcpus= of a command line, normalised as a CPU list; NULL when absent
 * (a list with flags such as "domain,managed_irq,2-3" is kept as written). */
static char *iso_word(const char *cmdline)
{
	char *v = cmdline ? kf_cmdline_word(cmdline, "isolcpus") : NULL;
	struct kf_bitmap b;
	char buf[256];
	if (v && kf_cpulist_parse(v, &b) == 0) {
		free(v);
		v = kf_xstrdup(kf_cpulist_fmt(&b, buf, sizeof(buf)));
	}
	return v;
}

static int iso_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const char *want = desired;
	const struct iso_have *a = actual;
	char *have = iso_word(a->cmdline);
	if (!have || strcmp(have, want)) {
		struct kf_change *ch = kf_plan_add(plan, "isolcpus", have, want, "isolcpus (%s)", kf_bootcmd_where());
		ch->flags |= KF_CH_REBOOT;
		kf_bootcmd_pend(ch);
	} else if (a->running) {
		char *run = iso_word(a->running);
		kf_bootcmd_reboot_due(plan, "isolcpus", "isolcpus", want, run ? run : "");
		free(run);
	}
	free(have);
	return 0;
}

static char *set_iso(const char *cur, const void *list)
{
	return kf_cmdline_set_word(cur, "isolcpus", list);
}

static int iso_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	(void)ctx;
	return kf_bootcmd_edit(ch, set_iso, ch->to);
}

static void iso_free_actual(void *p)
{
	struct iso_have *a = p;
	if (!a)
		return;
	free(a->cmdline);
	free(a->running);
	free(a);
}

const struct kf_resource kf_res_isolcpus = {
	.name = "isolcpus",
	.section = "cpu",
	.parse = iso_parse,
	.probe = iso_probe,
	.diff = iso_diff,
	.apply = iso_apply,
	.free_desired = free,
	.free_actual = iso_free_actual,
};
