/* Resource "irqbalance": the irqbalance daemon's mode and banned CPUs.
 *
 * The config file is /etc/sysconfig/irqbalance or /etc/default/irqbalance,
 * whichever the host has (Debian's when neither).  banned_cpus is
 * IRQBALANCE_BANNED_CPULIST; powersave is "--powerthresh=1" in
 * IRQBALANCE_ARGS (a CPU goes to powersave as soon as one is underused),
 * performance is its absence; off disables and stops the service.  The
 * service is (re)started through systemctl on the real host only: under
 * --root the enablement symlink is edited in the tree and restarts are
 * reported as skipped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/bootcmd.h"
#include "agent/hostio.h"
#include "agent/resource.h"
#include "types.h"
#include "util.h"

#define UNIT "irqbalance.service"
#define WANTS "/etc/systemd/system/multi-user.target.wants/" UNIT

/* kf_change.kind of each change */
enum irqb_kind { IRQB_BANNED = 1, IRQB_ARGS, IRQB_ENABLE, IRQB_RESTART, IRQB_STOP };

static const char *const unit_paths[] = { "/lib/systemd/system/" UNIT, "/usr/lib/systemd/system/" UNIT,
					  "/etc/systemd/system/" UNIT, NULL };

struct irqb_want {
	int mode;           /* enum kf_irqb_mode, -1 not managed */
	const char *banned; /* normalised, NULL not managed */
};

struct irqb_have {
	const char *conf;   /* the config file's host path */
	char *banned;       /* normalised, "" when unset */
	bool powersave;
	bool enabled, running, installed;
	const char *unit;   /* host path of the unit file, NULL when not installed */
};

static const char *const mode_names[] = { "performance", "powersave", "off" };

static int irqb_parse(struct kf_ctx *ctx, void **desired)
{
	const struct kf_p_cpu *c = ctx->profile->cpu;
	*desired = NULL;
	if (!c || !c->irqbalance || (c->irqbalance->mode < 0 && !c->irqbalance->banned_cpus))
		return 0;
	struct irqb_want *d = kf_xcalloc(1, sizeof(*d));
	d->mode = c->irqbalance->mode;
	d->banned = c->irqbalance->banned_cpus;
	*desired = d;
	return 0;
}

static void have_free(void *p)
{
	struct irqb_have *a = p;
	if (!a)
		return;
	free(a->banned);
	free(a);
}

static int irqb_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	const struct irqb_want *d = desired;
	struct irqb_have *a = kf_xcalloc(1, sizeof(*a));
	*actual = a;
	a->conf = kf_host_exists("/etc/sysconfig/irqbalance") ? "/etc/sysconfig/irqbalance"
								: "/etc/default/irqbalance";
	char *text = NULL;
	kf_host_read(a->conf, &text);
	char *banned = text ? kf_shvar_get(text, "IRQBALANCE_BANNED_CPULIST") : NULL;
	char *args = text ? kf_shvar_get(text, "IRQBALANCE_ARGS") : NULL;
	char norm[1024];
	if (banned && kf_cpulist_norm(banned, norm, sizeof(norm)) == 0)
		a->banned = kf_xstrdup(norm);
	else
		a->banned = kf_xstrdup(banned ? banned : "");
	a->powersave = kf_irqb_args_powersave(args);
	free(banned);
	free(args);
	for (int i = 0; unit_paths[i] && !a->unit; i++)
		if (kf_host_exists(unit_paths[i]))
			a->unit = unit_paths[i];
	a->installed = a->unit || text;
	free(text);
	char *wants = kf_path(WANTS);
	struct stat st;
	a->enabled = lstat(wants, &st) == 0;
	free(wants);
	a->running = kf_proc_running("irqbalance");
	if (!a->installed && d->mode >= 0 && d->mode != KF_IRQB_OFF)
		return kf_errc(ctx->fail, -ENOENT, NULL, "irqbalance is not installed (no %s, no unit file)", a->conf);
	return 0;
}

static int irqb_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct irqb_want *d = desired;
	const struct irqb_have *a = actual;
	bool conf_changes = false;
	if (d->banned && strcmp(d->banned, a->banned)) {
		struct kf_change *ch = kf_plan_add(plan, "irqbalance", *a->banned ? a->banned : NULL, d->banned,
						   "IRQBALANCE_BANNED_CPULIST");
		ch->kind = IRQB_BANNED;
		ch->data = (void *)a->conf; /* a static string */
		conf_changes = true;
	}
	if (d->mode == KF_IRQB_PERFORMANCE || d->mode == KF_IRQB_POWERSAVE) {
		if (a->powersave != (d->mode == KF_IRQB_POWERSAVE)) {
			struct kf_change *ch = kf_plan_add(plan, "irqbalance", mode_names[a->powersave],
							   mode_names[d->mode], "mode (IRQBALANCE_ARGS)");
			ch->kind = IRQB_ARGS;
			ch->data = (void *)a->conf;
			conf_changes = true;
		}
		if (!a->enabled)
			kf_plan_add(plan, "irqbalance", "disabled", "enabled", UNIT)->kind = IRQB_ENABLE;
		if (conf_changes && a->running)
			kf_plan_add(plan, "irqbalance", "old settings", "restarted", UNIT " restart")->kind = IRQB_RESTART;
	} else if (d->mode == KF_IRQB_OFF) {
		if (a->enabled)
			kf_plan_add(plan, "irqbalance", "enabled", "disabled", UNIT)->kind = IRQB_ENABLE;
		if (a->running) {
			if (kf_sysroot_is_host())
				kf_plan_add(plan, "irqbalance", "running", "stopped", "irqbalance process")->kind = IRQB_STOP;
			else
				kf_plan_note(plan, "irqbalance", "irqbalance runs in the tree's /proc; it is not stopped under --root");
		}
	}
	return 0;
}

static int set_conf(struct kf_change *ch, const char *conf, const char *key, const char *to, bool args)
{
	char *text = NULL, *full = kf_path("%s", conf);
	int r = kf_read_file(full, 1u << 20, &text, NULL); /* as is: keep the last newline */
	free(full);
	if (r < 0 && r != -ENOENT) {
		ch->reason = kf_xasprintf("%s: %s", conf, strerror(-r));
		return r;
	}
	char *value;
	if (args) {
		char *cur = text ? kf_shvar_get(text, key) : NULL;
		value = kf_irqb_args_set(cur, !strcmp(to, "powersave"));
		free(cur);
	} else {
		value = kf_xstrdup(to);
	}
	char *next = kf_shvar_set(text ? text : "", key, value);
	r = kf_etc_write(conf, next);
	if (r < 0)
		ch->reason = kf_xasprintf("%s: %s", conf, strerror(-r));
	free(next);
	free(value);
	free(text);
	return r;
}

static int systemctl(struct kf_change *ch, const char *verb, const char *opt)
{
	const char *argv[] = { "systemctl", verb, opt ? opt : UNIT, opt ? UNIT : NULL, NULL };
	int r = kf_host_run(argv);
	if (r == 0)
		return 0;
	ch->reason = kf_xasprintf("systemctl %s%s%s " UNIT ": %s", verb, opt ? " " : "", opt ? opt : "",
				  r < 0 ? strerror(-r) : "failed");
	return r < 0 ? r : -EIO;
}

static int set_enabled(struct kf_change *ch, bool on)
{
	if (kf_sysroot_is_host())
		return systemctl(ch, on ? "enable" : "disable", "--now");
	/* under --root: what systemctl enable/disable does to the tree */
	char *wants = kf_path(WANTS);
	int r = 0;
	if (on) {
		const char *unit = NULL;
		for (int i = 0; unit_paths[i] && !unit; i++)
			if (kf_host_exists(unit_paths[i]))
				unit = unit_paths[i];
		char *dir = kf_path("/etc/systemd/system/multi-user.target.wants");
		r = kf_mkdir_p(dir, 0755);
		free(dir);
		if (!r && symlink(unit ? unit : unit_paths[0], wants) < 0 && errno != EEXIST)
			r = -errno;
	} else if (unlink(wants) < 0 && errno != ENOENT) {
		r = -errno;
	}
	if (r < 0)
		ch->reason = kf_xasprintf("%s: %s", WANTS, strerror(-r));
	else
		ch->reason = kf_xasprintf("%s the tree's unit; the service itself is not %s under --root",
					  on ? "enabled" : "disabled", on ? "started" : "stopped");
	free(wants);
	return r;
}

static int irqb_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	(void)ctx;
	switch (ch->kind) {
	case IRQB_BANNED:
		return set_conf(ch, ch->data, "IRQBALANCE_BANNED_CPULIST", ch->to, false);
	case IRQB_ARGS:
		return set_conf(ch, ch->data, "IRQBALANCE_ARGS", ch->to, true);
	case IRQB_ENABLE:
		return set_enabled(ch, !strcmp(ch->to, "enabled"));
	case IRQB_RESTART:
		if (!kf_sysroot_is_host()) {
			ch->status = KF_ST_SKIPPED;
			ch->reason = kf_xstrdup("service restart not run under --root");
			return 0;
		}
		return systemctl(ch, "try-restart", NULL);
	case IRQB_STOP:
		return systemctl(ch, "stop", NULL);
	}
	return -EINVAL;
}

const struct kf_resource kf_res_irqbalance = {
	.name = "irqbalance",
	.section = "cpu",
	.parse = irqb_parse,
	.probe = irqb_probe,
	.diff = irqb_diff,
	.apply = irqb_apply,
	.free_desired = free,
	.free_actual = have_free,
};
