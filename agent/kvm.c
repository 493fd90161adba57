/* Resource "kvm": nested virtualisation for kvm_intel / kvm_amd.
 *
 * The option is persisted in /etc/modprobe.d/kickfleet-kvm.conf.  The
 * loaded module's value (/sys/module/M/parameters/nested: Y/N or 1/0) can
 * only change by reloading the module: that is done on the real host when
 * no guest holds the module, else the change is pending ("takes effect
 * after reboot / when guests stop").  Guests are never stopped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host.h"
#include "agent/hostio.h"
#include "agent/resource.h"
#include "util.h"

#define KVM_CONF "/etc/modprobe.d/kickfleet-kvm.conf"

/* kf_change.kind of each change; data is the kvm_want */
enum kvm_kind { KVM_OPTIONS = 1, KVM_RELOAD };

struct kvm_want {
	const char *module; /* kvm_intel | kvm_amd */
	int nested;
};

struct kvm_have {
	int conf;            /* nested= in our modprobe.d file, -1 absent */
	int loaded;          /* module's nested parameter, -1 not loaded */
	bool guests;         /* the module is in use (running guests) */
	bool can_reload;
};

static int kvm_parse(struct kf_ctx *ctx, void **desired)
{
	const struct kf_p_kvm *k = ctx->profile->kvm;
	*desired = NULL;
	if (!k || k->nested < 0)
		return 0;
	int vendor = k->vendor == KF_VENDOR_INTEL ? KF_CPUV_INTEL
		   : k->vendor == KF_VENDOR_AMD	  ? KF_CPUV_AMD
						  : ctx->host->vendor;
	if (vendor == KF_CPUV_UNKNOWN) {
		kf_errf(ctx->err, kf_mark_of(k, "nested"),
			"kvm: cannot tell the CPU vendor from /proc/cpuinfo (vendor_id \"%s\"); set kvm.vendor",
			ctx->host->vendor_id);
		return 0;
	}
	struct kvm_want *d = kf_xcalloc(1, sizeof(*d));
	d->module = vendor == KF_CPUV_INTEL ? "kvm_intel" : "kvm_amd";
	d->nested = k->nested ? 1 : 0;
	*desired = d;
	return 0;
}

static int kvm_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	const struct kvm_want *d = desired;
	struct kvm_have *a = kf_xcalloc(1, sizeof(*a));
	*actual = a;
	char *s = NULL;
	a->conf = kf_host_read(KVM_CONF, &s) == 0 ? kf_modprobe_option(s, d->module, "nested") : -1;
	free(s);
	s = NULL;
	char *path = kf_xasprintf("/sys/module/%s/parameters/nested", d->module);
	int r = kf_host_read(path, &s);
	a->loaded = r == 0 ? kf_norm_bool(s) : -1;
	if (r == 0 && a->loaded < 0)
		kf_errf(ctx->fail, NULL, "%s: unexpected value \"%s\"", path, s);
	free(s);
	free(path);
	long long refs = 0;
	path = kf_xasprintf("/sys/module/%s/refcnt", d->module);
	if (kf_host_read_ll(path, &refs) == 0 && refs > 0)
		a->guests = true;
	free(path);
	a->guests |= kf_proc_running("qemu-system-x86") || kf_proc_running("qemu-kvm");
	a->can_reload = kf_sysroot_is_host() && !a->guests;
	return 0;
}

static const char *ynstr(int v)
{
	return v < 0 ? NULL : v ? "Y" : "N";
}

static int kvm_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct kvm_want *d = desired;
	const struct kvm_have *a = actual;
	if (a->conf != d->nested) {
		char from[32], to[32];
		snprintf(from, sizeof(from), "nested=%d", a->conf);
		snprintf(to, sizeof(to), "nested=%d", d->nested);
		struct kf_change *ch = kf_plan_add(plan, "kvm", a->conf < 0 ? NULL : from, to,
						   "%s options (modprobe.d)", d->module);
		ch->kind = KVM_OPTIONS;
		ch->data = (void *)d;
	}
	if (a->loaded >= 0 && a->loaded != d->nested) {
		struct kf_change *ch = kf_plan_add(plan, "kvm", ynstr(a->loaded), ynstr(d->nested),
						   "%s nested (loaded module)", d->module);
		ch->kind = KVM_RELOAD;
		ch->data = (void *)d;
		if (!a->can_reload) {
			ch->flags |= KF_CH_PENDING | KF_CH_REBOOT;
			ch->reason = kf_xstrdup(a->guests ? "guests are running: takes effect after reboot / when guests stop"
							  : "module not reloaded under --root: takes effect after reboot");
		}
	}
	return 0;
}

static int kvm_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	struct kvm_want tmp;
	const char *module = ((const struct kvm_want *)ch->data)->module;
	tmp.module = module;
	if (ch->kind == KVM_OPTIONS) {
		char *text = kf_xasprintf("# written by kickfleet-agent from the host's profile\n"
					  "options %s %s\n", module, ch->to);
		int r = kf_etc_write(KVM_CONF, text);
		free(text);
		if (r < 0)
			ch->reason = kf_xasprintf("%s: %s", KVM_CONF, strerror(-r));
		return r;
	}
	/* reload: only planned on the host with the module unused; check again */
	struct kvm_have *now = NULL;
	tmp.nested = 0;
	int r = kvm_probe(ctx, &tmp, (void **)&now);
	if (r == 0 && !now->can_reload) {
		ch->status = KF_ST_SKIPPED;
		ch->flags |= KF_CH_REBOOT;
		ch->reason = kf_xstrdup("guests started meanwhile: takes effect after reboot / when guests stop");
		free(now);
		return 0;
	}
	free(now);
	const char *rm[] = { "modprobe", "-r", module, NULL };
	const char *add[] = { "modprobe", module, NULL };
	r = kf_host_run(rm);
	if (r == 0)
		r = kf_host_run(add);
	if (r != 0) {
		ch->reason = kf_xasprintf("reloading %s: modprobe %s", module,
					  r < 0 ? strerror(-r) : "failed");
		return r < 0 ? r : -EIO;
	}
	return 0;
}

const struct kf_resource kf_res_kvm = {
	.name = "kvm",
	.section = "kvm",
	.parse = kvm_parse,
	.probe = kvm_probe,
	.diff = kvm_diff,
	.apply = kvm_apply,
	.free_desired = free,
	.free_actual = free,
};
