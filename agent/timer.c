/* Resource "agent_timer": the interval of kickfleet-agent.timer, kept in
 * step with the profile's agent.interval through a drop-in
 * (/etc/systemd/system/kickfleet-agent.timer.d/interval.conf).
 *
 * The drop-in resets the timer's own times (one empty assignment clears
 * all of them: a second empty line would clear the first value too) and
 * sets OnUnitActiveSec to the interval, and OnActiveSec (from the timer's
 * start, which is at boot or when the agent restarts it) to the interval
 * or 2 minutes, whichever is shorter: the boot unit skips guests, the
 * timer's first run tunes them soon after boot.  (Not OnBootSec: systemd
 * 252 drops an OnBootSec that is already past when the timer starts.)
 * and RandomizedDelaySec and AccuracySec to a tenth of the interval (at
 * most a minute), so a short interval is not stretched by the unit's
 * defaults.  Only a host where the timer unit is installed is
 * touched: without it there is nothing to keep in step.  After a change,
 * when systemd runs, it re-reads its units and the timer is restarted
 * (its next run then comes OnActiveSec later): the agent starts
 * kickfleet-agent-reload.service without waiting for it (the reload takes
 * seconds at boot on a slow machine; the unit runs after the agent's own
 * run), or, where that unit is not installed, reloads and restarts the
 * timer itself (waiting for the reload); under --root, or in an
 * installer's chroot, only the file is written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/hostio.h"
#include "agent/resource.h"
#include "types.h"
#include "util.h"

#define TIMER "kickfleet-agent.timer"
#define RELOAD "kickfleet-agent-reload.service"
#define DROPIN "/etc/systemd/system/" TIMER ".d/interval.conf"
#define DEFAULT_INTERVAL "30min"

static const char *const unit_dirs[] = {
	"/etc/systemd/system/",
	"/usr/local/lib/systemd/system/",
	"/usr/lib/systemd/system/",
	"/lib/systemd/system/",
	NULL,
};

static bool unit_installed(const char *unit)
{
	bool found = false;
	for (size_t i = 0; unit_dirs[i] && !found; i++) {
		char *p = kf_xasprintf("%s%s", unit_dirs[i], unit);
		found = kf_host_exists(p);
		free(p);
	}
	return found;
}

struct tm_state {
	char *interval; /* desired: the profile's; actual: OnUnitActiveSec in the drop-in */
	char *text;     /* the drop-in's content (actual: NULL when absent) */
	bool installed; /* actual: the timer unit exists */
};

static void tm_free(void *p)
{
	struct tm_state *s = p;
	if (!s)
		return;
	free(s->interval);
	free(s->text);
	free(s);
}

/* The drop-in for an interval; usec is the parsed interval. */
static char *dropin_text(const char *interval, unsigned long long usec)
{
	const char *boot = usec < 120ULL * 1000000 ? interval : "2min";
	unsigned long long slack_ms = usec / 10000; /* a tenth, in ms */
	if (slack_ms > 60000)
		slack_ms = 60000;
	if (slack_ms == 0)
		slack_ms = 1;
	char slack[32];
	if (slack_ms % 1000)
		snprintf(slack, sizeof(slack), "%llums", slack_ms);
	else
		snprintf(slack, sizeof(slack), "%llus", slack_ms / 1000);
	return kf_xasprintf("# written by kickfleet-agent from the profile's agent.interval\n"
			    "[Timer]\n"
			    "# an empty value resets every timer the unit sets\n"
			    "OnActiveSec=\n"
			    "OnActiveSec=%s\n"
			    "OnUnitActiveSec=%s\n"
			    "RandomizedDelaySec=%s\n"
			    "AccuracySec=%s\n",
			    boot, interval, slack, slack);
}

static int tm_parse(struct kf_ctx *ctx, void **desired)
{
	const struct kf_p_agent *a = ctx->profile->agent;
	const char *iv = a && a->interval ? a->interval : DEFAULT_INTERVAL;
	unsigned long long usec;
	*desired = NULL;
	if (kf_timespan_parse(iv, &usec) < 0) /* the profile's check says where */
		return kf_errf(ctx->err, a ? kf_mark_of(a, "interval") : NULL, "interval: \"%s\" is not a time span",
			       iv);
	struct tm_state *d = kf_xcalloc(1, sizeof(*d));
	d->interval = kf_xstrdup(iv);
	d->text = dropin_text(iv, usec);
	*desired = d;
	return 0;
}

/* The last "OnUnitActiveSec=VALUE" with a value, or NULL. */
static char *active_sec(const char *text)
{
	char *v = NULL;
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		static const char key[] = "OnUnitActiveSec=";
		if (len > sizeof(key) - 1 && !strncmp(line, key, sizeof(key) - 1)) {
			free(v);
			v = kf_xasprintf("%.*s", (int)(len - (sizeof(key) - 1)), line + sizeof(key) - 1);
			kf_rstrip(v);
		}
		line = nl ? nl + 1 : NULL;
	}
	return v;
}

static int tm_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	(void)ctx;
	(void)desired;
	struct tm_state *a = kf_xcalloc(1, sizeof(*a));
	*actual = a;
	a->installed = unit_installed(TIMER);
	char *s = NULL;
	int r = kf_host_read(DROPIN, &s);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return kf_errc(ctx->fail, r, NULL, "%s: %s", DROPIN, strerror(-r));
	/* kf_host_read trims the end: compare against the trimmed form */
	a->text = s;
	a->interval = active_sec(s);
	return 0;
}

static int tm_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct tm_state *d = desired, *a = actual;
	if (!a->installed)
		return 0;
	char *want = kf_xstrdup(d->text);
	kf_rstrip(want);
	bool same = a->text && !strcmp(a->text, want);
	free(want);
	if (!same)
		kf_plan_add(plan, "agent_timer", a->interval ? a->interval : a->text ? "(edited)" : NULL,
			    d->interval, TIMER " interval");
	return 0;
}

static int tm_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	unsigned long long usec;
	if (kf_timespan_parse(ch->to, &usec) < 0)
		return -EINVAL;
	(void)ctx;
	char *text = dropin_text(ch->to, usec);
	int r = kf_etc_write(DROPIN, text);
	free(text);
	if (r < 0) {
		ch->reason = kf_xasprintf("%s: %s", DROPIN, strerror(-r));
		return r;
	}
	/* a running systemd reads the drop-in on daemon-reload; one that is
	 * not running (an installer's chroot, --root) reads it when it starts */
	if (!kf_sysroot_is_host() || access("/run/systemd/system", F_OK) < 0)
		return 0;
	/* the reload unit does both after this run, without making it wait */
	const char *later[] = { "systemctl", "--no-block", "start", RELOAD, NULL };
	/* without it: a reload alone drops an OnActiveSec that is already
	 * past and leaves OnUnitActiveSec without a base until the service has
	 * run: the timer is restarted (not waited for: this may be its own run) */
	const char *reload[] = { "systemctl", "daemon-reload", NULL };
	const char *restart[] = { "systemctl", "--no-block", "try-restart", TIMER, NULL };
	const char *const *argv = unit_installed(RELOAD) ? later : reload;
	r = kf_host_run(argv);
	if (r == 0 && argv == reload) {
		argv = restart;
		r = kf_host_run(restart);
	}
	if (r == 0)
		return 0;
	ch->reason = kf_xasprintf("%s written; systemctl %s%s%s: %s", DROPIN, argv[1], argv == later ? " start " : "",
				  argv == later ? RELOAD : "", r < 0 ? strerror(-r) : "failed");
	return r < 0 ? r : -EIO;
}

const struct kf_resource kf_res_agent_timer = {
	.name = "agent_timer",
	.section = "agent",
	.parse = tm_parse,
	.probe = tm_probe,
	.diff = tm_diff,
	.apply = tm_apply,
	.free_desired = tm_free,
	.free_actual = tm_free,
};
