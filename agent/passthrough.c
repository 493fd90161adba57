/* Resource "passthrough": PCI devices handed to guests, host side.
 *
 * - the IOMMU words on the kernel command line, by CPU vendor
 *   (intel_iommu=on iommu=pt, amd_iommu=on iommu=pt), through the boot
 *   loader's defaults (agent/bootcmd.h): take effect after a reboot;
 * - each device's driver_override set to vfio-pci, and the device rebound
 *   (unbind from its driver, drivers_probe) so vfio-pci holds it;
 * - a udev rule that sets driver_override again when the device appears
 *   at boot, before its driver's module loads (the rules run before
 *   80-drivers.rules), and loads vfio-pci.
 *
 * Parse refuses a device that does not exist, and one whose IOMMU group
 * holds endpoints the profile does not also hand over (vfio needs the whole
 * group; bridges in it keep their drivers, as the kernel allows).  Guests'
 * hostdevs are checked against what is bound (kf_passthrough_check_hostdev).
 * Under --root, or while the running kernel has no IOMMU, rebinding is
 * pending (the files are still written). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/bootcmd.h"
#include "agent/hostio.h"
#include "agent/passthrough.h"
#include "agent/pci.h"
#include "agent/resource.h"
#include "agent/host.h"
#include "types.h"
#include "util.h"

#define PT_RULES "/etc/udev/rules.d/40-kickfleet-vfio-pci.rules"

enum { PT_CMDLINE = 1, PT_OVERRIDE, PT_BIND, PT_RULES_FILE };

struct pt_want {
	const struct kf_p_passthrough *p;
	const char *words[2][2]; /* key, value */
	int nwords;
};

struct pt_dev {
	char *driver, *override;
};

struct pt_have {
	struct pt_dev *dev;   /* one per profile device */
	size_t ndev;
	char *cmdline;        /* the next boot's, NULL when there is none */
	char *running;        /* the running kernel's, NULL when unknown */
	bool iommu;           /* the running kernel has one */
	char *rules;          /* the udev rule file, NULL absent */
};

static const char *dev_at(const struct kf_p_passthrough *p, size_t i)
{
	return KF_LIST_AT(p->devices, struct kf_p_pcidev, i)->pci;
}

static bool listed(const struct kf_p_passthrough *p, const char *addr)
{
	for (size_t i = 0; p && i < p->devices.n; i++)
		if (!strcmp(dev_at(p, i), addr))
			return true;
	return false;
}

/* The endpoints in dev's IOMMU group that the profile does not list. */
static void check_group(struct kf_ctx *ctx, const struct kf_p_pcidev *d, bool iommu)
{
	const struct kf_p_passthrough *p = ctx->profile->passthrough;
	int g = kf_pci_group(d->pci);
	if (g < 0) {
		if (iommu)
			kf_errf(ctx->err, kf_mark_of(d, "pci"), "passthrough: %s is in no IOMMU group", d->pci);
		return;
	}
	char **names = NULL;
	size_t n = kf_pci_group_devices(g, &names);
	struct kf_buf miss = KF_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		if (!listed(p, names[i]) && !kf_pci_is_bridge(names[i]))
			kf_buf_printf(&miss, "%s%s", miss.len ? ", " : "", names[i]);
	if (miss.len)
		kf_errf(ctx->err, kf_mark_of(d, "pci"),
			"passthrough: %s shares IOMMU group %d with %s, which the profile does not hand over "
			"(list them too, or use another slot)", d->pci, g, miss.s);
	kf_buf_release(&miss);
	kf_pci_names_free(names, n);
}

static int pt_parse(struct kf_ctx *ctx, void **desired)
{
	const struct kf_p_passthrough *p = ctx->profile->passthrough;
	*desired = NULL;
	if (!p)
		return 0;
	bool iommu = kf_iommu_active();
	for (size_t i = 0; i < p->devices.n; i++) {
		const struct kf_p_pcidev *d = KF_LIST_AT(p->devices, struct kf_p_pcidev, i);
		if (!kf_pci_exists(d->pci))
			kf_errf(ctx->err, kf_mark_of(d, "pci"),
				"passthrough: %s does not exist on this host (no " KF_PCI_DEVICES "/%s)", d->pci, d->pci);
		else
			check_group(ctx, d, iommu);
	}
	struct pt_want *w = kf_xcalloc(1, sizeof(*w));
	w->p = p;
	if (p->iommu == 1) {
		bool amd = ctx->host && ctx->host->vendor == KF_CPUV_AMD;
		w->words[0][0] = amd ? "amd_iommu" : "intel_iommu";
		w->words[0][1] = "on";
		w->words[1][0] = "iommu";
		w->words[1][1] = "pt";
		w->nwords = 2;
	}
	*desired = w;
	return 0;
}

static char *rules_text(const struct kf_p_passthrough *p)
{
	struct kf_buf b = KF_BUF_INIT;
	kf_buf_puts(&b, "# written by kickfleet-agent from the host's profile (passthrough.devices):\n"
			"# these devices go to vfio-pci before their own driver's module loads\n");
	for (size_t i = 0; i < p->devices.n; i++)
		kf_buf_printf(&b, "ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"%s\", "
				  "ATTR{driver_override}=\"" KF_VFIO_DRIVER "\", RUN{builtin}+=\"kmod load vfio-pci\"\n",
			      dev_at(p, i));
	return kf_buf_detach(&b);
}

static int pt_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	const struct pt_want *w = desired;
	struct pt_have *a = kf_xcalloc(1, sizeof(*a));
	*actual = a;
	a->ndev = w->p->devices.n;
	a->dev = kf_xcalloc(a->ndev + 1, sizeof(*a->dev));
	for (size_t i = 0; i < a->ndev; i++) {
		a->dev[i].driver = kf_pci_driver(dev_at(w->p, i));
		a->dev[i].override = kf_pci_override(dev_at(w->p, i));
	}
	a->iommu = kf_iommu_active();
	if (kf_host_read(PT_RULES, &a->rules) < 0)
		a->rules = NULL;
	if (w->nwords) {
		a->running = kf_cmdline_running();
		int r = kf_bootcmd_read(&a->cmdline);
		if (r < 0 && r != -ENOENT)
			return kf_errc(ctx->fail, r, NULL, "%s: %s", kf_bootcmd_file(), strerror(-r));
	}
	return 0;
}

/* The IOMMU words of cmdline, in the profile's order ("" when none). */
static char *iommu_words(const struct pt_want *w, const char *cmdline)
{
	struct kf_buf b = KF_BUF_INIT;
	for (int i = 0; i < w->nwords; i++) {
		char *v = kf_cmdline_word(cmdline, w->words[i][0]);
		if (v)
			kf_buf_printf(&b, "%s%s%s%s", b.len ? " " : "", w->words[i][0], *v ? "=" : "", v);
		free(v);
	}
	return kf_buf_detach(&b);
}

static void diff_cmdline(const struct pt_want *w, const struct pt_have *a, struct kf_plan *plan)
{
	struct kf_buf want = KF_BUF_INIT;
	for (int i = 0; i < w->nwords; i++)
		kf_buf_printf(&want, "%s%s=%s", want.len ? " " : "", w->words[i][0], w->words[i][1]);
	char *have = iommu_words(w, a->cmdline);
	if (strcmp(have, want.s ? want.s : "")) {
		struct kf_change *ch = kf_plan_add(plan, "passthrough", *have ? have : NULL, want.s,
						   "iommu (%s)", kf_bootcmd_where());
		ch->flags |= KF_CH_REBOOT;
		ch->kind = PT_CMDLINE;
		ch->data = (void *)w;
		kf_bootcmd_pend(ch);
	} else if (a->running) {
		char *run = iommu_words(w, a->running);
		kf_bootcmd_reboot_due(plan, "passthrough", "iommu", want.s, run);
		free(run);
	}
	free(have);
	kf_buf_release(&want);
}

static void diff_dev(const char *addr, const struct pt_dev *d, bool iommu, struct kf_plan *plan)
{
	if (!d->override || strcmp(d->override, KF_VFIO_DRIVER)) {
		struct kf_change *ch = kf_plan_add(plan, "passthrough", d->override, KF_VFIO_DRIVER,
						   "%s driver_override", addr);
		ch->kind = PT_OVERRIDE;
		ch->data = (void *)addr;
	}
	if (d->driver && !strcmp(d->driver, KF_VFIO_DRIVER))
		return;
	struct kf_change *ch = kf_plan_add(plan, "passthrough", d->driver, KF_VFIO_DRIVER, "%s driver", addr);
	ch->kind = PT_BIND;
	ch->data = (void *)addr;
	if (!iommu) {
		ch->flags |= KF_CH_PENDING | KF_CH_REBOOT;
		ch->reason = kf_xstrdup("the running kernel has no IOMMU: vfio-pci takes it after a reboot "
					"with the IOMMU on");
	} else if (!kf_sysroot_is_host()) {
		ch->flags |= KF_CH_PENDING;
		ch->reason = kf_xstrdup("not rebound under --root");
	}
}

static int pt_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct pt_want *w = desired;
	const struct pt_have *a = actual;
	if (w->nwords)
		diff_cmdline(w, a, plan);
	for (size_t i = 0; i < w->p->devices.n; i++)
		diff_dev(dev_at(w->p, i), &a->dev[i], a->iommu, plan);
	if (w->p->devices.n) {
		char *want = rules_text(w->p);
		char *tw = kf_xstrdup(want);
		kf_rstrip(tw);
		if (!a->rules || strcmp(a->rules, tw)) {
			char n[32];
			snprintf(n, sizeof(n), "%zu device%s", w->p->devices.n, w->p->devices.n == 1 ? "" : "s");
			struct kf_change *ch = kf_plan_add(plan, "passthrough", a->rules ? "other" : NULL, n,
							   "udev rule (%s)", PT_RULES);
			ch->kind = PT_RULES_FILE;
			ch->data = (void *)w;
		}
		free(tw);
		free(want);
	}
	return 0;
}

static char *set_iommu(const char *cur, const void *arg)
{
	const struct pt_want *w = arg;
	char *s = kf_xstrdup(cur);
	for (int i = 0; i < w->nwords; i++) {
		char *next = kf_cmdline_set_word(s, w->words[i][0], w->words[i][1]);
		free(s);
		s = next;
	}
	return s;
}

static int apply_bind(struct kf_change *ch, const char *addr)
{
	char *err = NULL;
	if (!kf_host_exists(KF_PCI_BUS "/drivers/" KF_VFIO_DRIVER)) {
		const char *argv[] = { "modprobe", "vfio-pci", NULL };
		int s = kf_host_run(argv);
		if (s != 0) {
			ch->reason = kf_xasprintf("modprobe vfio-pci failed (%s)", s < 0 ? strerror(-s) : "non-zero exit");
			return -EIO;
		}
	}
	int r = kf_pci_rebind(addr, KF_VFIO_DRIVER, &err);
	if (r < 0)
		ch->reason = err;
	return r;
}

static int pt_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	(void)ctx;
	const char *addr = ch->data; /* the profile's, for PT_OVERRIDE and PT_BIND */
	switch (ch->kind) {
	case PT_CMDLINE:
		return kf_bootcmd_edit(ch, set_iommu, ch->data);
	case PT_OVERRIDE: {
		char *path = kf_xasprintf(KF_PCI_DEVICES "/%s/driver_override", addr);
		int r = kf_sys_write(path, KF_VFIO_DRIVER, NULL);
		if (r < 0)
			ch->reason = kf_xasprintf("%s: %s", path, strerror(-r));
		free(path);
		return r;
	}
	case PT_BIND:
		return apply_bind(ch, addr);
	case PT_RULES_FILE: {
		const struct pt_want *w = ch->data;
		char *text = rules_text(w->p);
		int r = kf_etc_write(PT_RULES, text);
		free(text);
		if (r < 0)
			ch->reason = kf_xasprintf("%s: %s", PT_RULES, strerror(-r));
		return r;
	}
	}
	return -EINVAL;
}

static void pt_free_actual(void *p)
{
	struct pt_have *a = p;
	if (!a)
		return;
	for (size_t i = 0; i < a->ndev; i++) {
		free(a->dev[i].driver);
		free(a->dev[i].override);
	}
	free(a->dev);
	free(a->cmdline);
	free(a->running);
	free(a->rules);
	free(a);
}

void kf_passthrough_check_hostdev(struct kf_ctx *ctx, const struct kf_p_guest *g, const struct kf_p_hostdev *h)
{
	const struct kf_p_passthrough *p = ctx->profile->passthrough;
	char addr[32];
	if (kf_pci_norm(h->pci, addr, sizeof(addr)) < 0 || !kf_pci_exists(addr))
		return; /* said already */
	bool bound = listed(p, addr);
	if (h->managed == 1 && bound) {
		kf_errf(ctx->err, kf_mark_of(h, "managed"),
			"guest %s: hostdev %s is bound to vfio-pci by passthrough.devices: give it managed: false "
			"(libvirt would hand a managed device back to its host driver when the guest stops)",
			g->name, addr);
		return;
	}
	char *drv = kf_pci_driver(addr);
	if (h->managed == 0 && !bound && (!drv || strcmp(drv, KF_VFIO_DRIVER)))
		kf_errf(ctx->err, kf_mark_of(h, "pci"),
			"guest %s: hostdev %s is unmanaged but bound to %s, not vfio-pci: list it in passthrough.devices",
			g->name, addr, drv ? drv : "no driver");
	free(drv);
}

const struct kf_resource kf_res_passthrough = {
	.name = "passthrough",
	.section = "passthrough",
	.parse = pt_parse,
	.probe = pt_probe,
	.diff = pt_diff,
	.apply = pt_apply,
	.free_desired = free,
	.free_actual = pt_free_actual,
};
