/* Resource "numa_balancing": kernel.numa_balancing at runtime
 * (/proc/sys/kernel/numa_balancing) and persisted in /etc/sysctl.d/. */
#include <stdlib.h>
#include <string.h>

#include "agent/hostio.h"
#include "agent/resource.h"
#include "types.h"
#include "util.h"

#define NB_PROC "/proc/sys/kernel/numa_balancing"
#define NB_CONF "/etc/sysctl.d/90-kickfleet-numa-balancing.conf"

struct nb {
	int on;       /* desired: 0/1; actual: runtime 0/1 (2, memory tiering, counts as on) */
	int conf;     /* actual: value in our sysctl.d file, -1 absent or unreadable */
};

static int nb_parse(struct kf_ctx *ctx, void **desired)
{
	const struct kf_p_memory *m = ctx->profile->memory;
	*desired = NULL;
	if (!m || m->numa_balancing < 0)
		return 0;
	struct nb *d = kf_xcalloc(1, sizeof(*d));
	d->on = m->numa_balancing ? 1 : 0;
	*desired = d;
	return 0;
}

/* "kernel.numa_balancing = 1" (also with '/' separators) → 1; -1 if absent. */
static int conf_value(const char *text)
{
	int v = -1;
	const char *line = text;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[256];
		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = 0;
			char *k = buf;
			while (*k == ' ' || *k == '\t' || *k == '-')
				k++;
			char *eq = strchr(k, '=');
			if (eq && *k != '#' && *k != ';') {
				*eq = 0;
				kf_rstrip(k);
				for (char *c = k; *c; c++)
					if (*c == '/')
						*c = '.';
				char *val = eq + 1;
				while (*val == ' ' || *val == '\t')
					val++;
				kf_rstrip(val);
				long long x;
				if (!strcmp(k, "kernel.numa_balancing") && kf_int_parse(val, &x) == 0)
					v = x ? 1 : 0;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return v;
}

static int nb_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	(void)desired;
	struct nb *a = kf_xcalloc(1, sizeof(*a));
	*actual = a;
	long long v;
	int r = kf_host_read_ll(NB_PROC, &v);
	if (r < 0)
		return kf_errc(ctx->fail, r, NULL, "%s: %s", NB_PROC, strerror(-r));
	a->on = v ? 1 : 0;
	char *s = NULL;
	a->conf = kf_host_read(NB_CONF, &s) == 0 ? conf_value(s) : -1;
	free(s);
	return 0;
}

static const char *onoff(int v)
{
	return v < 0 ? NULL : v ? "1" : "0";
}

static int nb_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct nb *d = desired, *a = actual;
	if (a->on != d->on) {
		struct kf_change *ch = kf_plan_add(plan, "numa_balancing", onoff(a->on), onoff(d->on),
						   "kernel.numa_balancing");
		kf_change_syswrite(ch, NB_PROC, onoff(d->on));
	}
	if (a->conf != d->on)
		kf_plan_add(plan, "numa_balancing", onoff(a->conf), onoff(d->on), "kernel.numa_balancing (sysctl.d)");
	return 0;
}

static int nb_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	(void)ctx;
	if (ch->data)
		return kf_apply_syswrite(ch, NULL);
	char *text = kf_xasprintf("# written by kickfleet-agent from the host's profile\n"
				  "kernel.numa_balancing = %s\n", ch->to);
	int r = kf_etc_write(NB_CONF, text);
	free(text);
	if (r < 0)
		ch->reason = kf_xasprintf("%s: %s", NB_CONF, strerror(-r));
	return r;
}

const struct kf_resource kf_res_numa_balancing = {
	.name = "numa_balancing",
	.section = "memory",
	.parse = nb_parse,
	.probe = nb_probe,
	.diff = nb_diff,
	.apply = nb_apply,
	.free_desired = free,
	.free_actual = free,
};
