/* The libvirt adapter: libvirt's calls and error convention in, ours out. */
#include "virt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "dl.h"
#include "domxml.h"
#include "types.h"
#include "util.h"

/* libvirt is opened at first use (kf_virt_open; every other call needs a
 * connection), so that a run without guests does not load it (lib/dl.h).
 * Every libvirt function this file calls is in this table. */
#define VIRT_FNS(F)                                                                     \
	F(virConnectClose) F(virConnectGetDomainCapabilities)                           \
	F(virConnectListAllDomains) F(virConnectOpen) F(virConnSetErrorFunc)            \
	F(virDomainCreate) F(virDomainDefineXMLFlags)                                   \
	F(virDomainDestroy) F(virDomainFree) F(virDomainGetAutostart)                   \
	F(virDomainGetEmulatorPinInfo) F(virDomainGetInfo) F(virDomainGetIOThreadInfo)  \
	F(virDomainGetMemoryParameters) F(virDomainGetName)                             \
	F(virDomainGetNumaParameters) F(virDomainGetVcpuPinInfo) F(virDomainGetVcpus)   \
	F(virDomainGetVcpusFlags) F(virDomainGetXMLDesc) F(virDomainIOThreadInfoFree)   \
	F(virDomainIsActive) F(virDomainLookupByName) F(virDomainPinEmulator)           \
	F(virDomainPinIOThread) F(virDomainPinVcpu) F(virDomainReset)                   \
	F(virDomainSetAutostart) F(virDomainSetMemoryFlags)                             \
	F(virDomainSetMemoryParameters)                                                 \
	F(virDomainSetMemoryStatsPeriod) F(virDomainSetNumaParameters)                  \
	F(virDomainSetVcpusFlags) F(virDomainShutdown) F(virGetLastError)               \
	F(virNodeGetCPUMap) F(virNodeGetInfo) F(virResetLastError) F(virSetErrorFunc)   \
	F(virStoragePoolBuild) F(virStoragePoolCreate) F(virStoragePoolDefineXML)       \
	F(virStoragePoolFree) F(virStoragePoolIsActive) F(virStoragePoolLookupByName)   \
	F(virStoragePoolSetAutostart) F(virStorageVolCreateXML) F(virStorageVolFree)    \
	F(virStorageVolGetPath) F(virStorageVolLookupByName) F(virTypedParamsAddString) \
	F(virTypedParamsAddULLong) F(virTypedParamsClear) F(virTypedParamsFree)         \
	F(virTypedParamsGetInt) F(virTypedParamsGetString)

KF_DL_TABLE(VIRT_FNS)

static struct kf_dl libvirt = KF_DL("libvirt.so.0", "libvirt", "cannot manage guests", resolve);

struct kf_virt {
	virConnectPtr conn;
	char *uri;
	int ncpus; /* host CPUs, for cpumaps */
};

struct kf_vdom {
	struct kf_virt *v;
	virDomainPtr dom;
	char *name;
};

static void quiet(void *data, virErrorPtr err)
{
	(void)data;
	(void)err;
}

static int map_code(int code)
{
	switch (code) {
	case VIR_ERR_NO_DOMAIN:
	case VIR_ERR_NO_STORAGE_POOL:
	case VIR_ERR_NO_STORAGE_VOL:
	case VIR_ERR_NO_NETWORK:
		return -ENOENT;
	case VIR_ERR_INVALID_ARG:
	case VIR_ERR_XML_ERROR:
	case VIR_ERR_XML_DETAIL:
	case VIR_ERR_XML_INVALID_SCHEMA:
	case VIR_ERR_CONFIG_UNSUPPORTED:
	case VIR_ERR_OPERATION_INVALID:
		return -EINVAL;
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_OPERATION_UNSUPPORTED:
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
		return -EOPNOTSUPP;
	case VIR_ERR_AUTH_FAILED:
	case VIR_ERR_OPERATION_DENIED:
	case VIR_ERR_ACCESS_DENIED:
	case VIR_ERR_AUTH_CANCELLED:
		return -EACCES;
	case VIR_ERR_OPERATION_TIMEOUT:
		return -ETIMEDOUT;
	case VIR_ERR_DOM_EXIST:
	case VIR_ERR_STORAGE_VOL_EXIST:
		return -EEXIST;
	default:
		return -EIO;
	}
}

/* Adds "libvirt: WHAT: libvirt's message" to e; returns the mapped errno. */
static int verr(struct kf_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int verr(struct kf_err *e, const char *fmt, ...)
{
	va_list ap;
	char *what = NULL;
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		kf_die_oom();
	va_end(ap);
	virErrorPtr ve = lib.virGetLastError();
	int code = ve ? map_code(ve->code) : -EIO;
	kf_errc(e, code, NULL, "libvirt: %s: %s", what, ve && ve->message ? ve->message : "unknown error");
	free(what);
	lib.virResetLastError();
	return code;
}

static bool last_is(int code)
{
	virErrorPtr ve = lib.virGetLastError();
	return ve && ve->code == code;
}

int kf_virt_open(struct kf_virt **out, const char *uri, struct kf_err *e)
{
	*out = NULL;
	if (!uri || !*uri)
		uri = "qemu:///system";
	int r = kf_dl_load(&libvirt, e);
	if (r < 0)
		return r;
	lib.virSetErrorFunc(NULL, quiet);
	virConnectPtr c = lib.virConnectOpen(uri);
	if (!c)
		return verr(e, "cannot connect to \"%s\"", uri);
	lib.virConnSetErrorFunc(c, NULL, quiet);
	struct kf_virt *v = kf_xcalloc(1, sizeof(*v));
	v->conn = c;
	v->uri = kf_xstrdup(uri);
	v->ncpus = lib.virNodeGetCPUMap(c, NULL, NULL, 0);
	if (v->ncpus <= 0) {
		lib.virResetLastError();
		virNodeInfo ni;
		v->ncpus = lib.virNodeGetInfo(c, &ni) == 0 ? (int)ni.cpus : 1;
	}
	*out = v;
	return 0;
}

void kf_virt_close(struct kf_virt *v)
{
	if (!v)
		return;
	if (v->conn)
		lib.virConnectClose(v->conn);
	free(v->uri);
	free(v);
}

const char *kf_virt_uri(const struct kf_virt *v)
{
	return v->uri;
}

static struct kf_vdom *wrap(struct kf_virt *v, virDomainPtr dom)
{
	struct kf_vdom *d = kf_xcalloc(1, sizeof(*d));
	d->v = v;
	d->dom = dom;
	const char *n = lib.virDomainGetName(dom);
	d->name = kf_xstrdup(n ? n : "?");
	return d;
}

int kf_virt_lookup(struct kf_virt *v, const char *name, struct kf_vdom **out, struct kf_err *e)
{
	*out = NULL;
	virDomainPtr dom = lib.virDomainLookupByName(v->conn, name);
	if (!dom) {
		if (last_is(VIR_ERR_NO_DOMAIN)) {
			lib.virResetLastError();
			return -ENOENT;
		}
		return verr(e, "look up guest \"%s\"", name);
	}
	*out = wrap(v, dom);
	return 0;
}

void kf_vdom_free(struct kf_vdom *d)
{
	if (!d)
		return;
	if (d->dom)
		lib.virDomainFree(d->dom);
	free(d->name);
	free(d);
}

const char *kf_vdom_name(const struct kf_vdom *d)
{
	return d->name;
}

int kf_virt_define(struct kf_virt *v, const char *xml, struct kf_vdom **out, struct kf_err *e)
{
	if (out)
		*out = NULL;
	virDomainPtr dom = lib.virDomainDefineXMLFlags(v->conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
	if (!dom)
		return verr(e, "define guest");
	if (out)
		*out = wrap(v, dom);
	else
		lib.virDomainFree(dom);
	return 0;
}

int kf_vdom_xml(struct kf_vdom *d, bool inactive, char **xml, struct kf_err *e)
{
	char *s = lib.virDomainGetXMLDesc(d->dom, inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
	*xml = NULL;
	if (!s)
		return verr(e, "read the XML of \"%s\"", d->name);
	*xml = s; /* malloc'd by libvirt: free() pairs */
	return 0;
}

int kf_vdom_is_running(struct kf_vdom *d, bool *running, struct kf_err *e)
{
	int r = lib.virDomainIsActive(d->dom);
	if (r < 0)
		return verr(e, "state of \"%s\"", d->name);
	*running = r == 1;
	return 0;
}

int kf_vdom_get_autostart(struct kf_vdom *d, int *on, struct kf_err *e)
{
	if (lib.virDomainGetAutostart(d->dom, on) < 0)
		return verr(e, "autostart of \"%s\"", d->name);
	*on = *on != 0;
	return 0;
}

int kf_vdom_set_autostart(struct kf_vdom *d, int on, struct kf_err *e)
{
	if (lib.virDomainSetAutostart(d->dom, on) < 0)
		return verr(e, "set autostart of \"%s\"", d->name);
	return 0;
}

int kf_vdom_start(struct kf_vdom *d, struct kf_err *e)
{
	if (lib.virDomainCreate(d->dom) < 0)
		return verr(e, "start \"%s\"", d->name);
	return 0;
}

int kf_vdom_destroy(struct kf_vdom *d, struct kf_err *e)
{
	if (lib.virDomainDestroy(d->dom) < 0)
		return verr(e, "power off \"%s\"", d->name);
	return 0;
}

int kf_vdom_reset(struct kf_vdom *d, struct kf_err *e)
{
	if (lib.virDomainReset(d->dom, 0) < 0)
		return verr(e, "reset \"%s\"", d->name);
	return 0;
}

int kf_vdom_restart(struct kf_vdom *d, int timeout_s, struct kf_err *e)
{
	if (lib.virDomainShutdown(d->dom) < 0)
		lib.virResetLastError(); /* no ACPI: destroyed below */
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	for (int i = 0; i < timeout_s * 10 && lib.virDomainIsActive(d->dom) == 1; i++)
		nanosleep(&ts, NULL);
	if (lib.virDomainIsActive(d->dom) == 1 && lib.virDomainDestroy(d->dom) < 0)
		return verr(e, "stop \"%s\"", d->name);
	return kf_vdom_start(d, e);
}

/* ---- cpumaps ---- */

static unsigned char *cpumap_of(struct kf_virt *v, const char *cpus, int *maplen)
{
	struct kf_bitmap b;
	*maplen = VIR_CPU_MAPLEN(v->ncpus);
	unsigned char *map = kf_xcalloc((size_t)*maplen, 1);
	if (kf_cpulist_parse(cpus, &b) < 0) {
		free(map);
		return NULL;
	}
	for (int c = 0; c < v->ncpus; c++)
		if (kf_bitmap_test(&b, (unsigned)c))
			VIR_USE_CPU(map, c);
	return map;
}

static char *cpulist_of(struct kf_virt *v, const unsigned char *map, int maplen)
{
	struct kf_bitmap b;
	char buf[1024];
	memset(&b, 0, sizeof(b));
	for (int c = 0; c < v->ncpus && c < maplen * 8; c++)
		if (VIR_CPU_USABLE(map, maplen, 0, c))
			kf_bitmap_set(&b, (unsigned)c);
	return kf_xstrdup(kf_cpulist_fmt(&b, buf, sizeof(buf)));
}

/* ---- live state ---- */

void kf_vlive_release(struct kf_vlive *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nvcpupin; i++)
		free(l->vcpupin[i]);
	free(l->vcpupin);
	free(l->emulatorpin);
	for (size_t i = 0; i < l->niothreads; i++)
		free(l->iothread_pins[i]);
	free(l->iothread_pins);
	free(l->iothread_ids);
	free(l->numa_nodes);
	memset(l, 0, sizeof(*l));
}

static int live_pins(struct kf_vdom *d, unsigned what, struct kf_vlive *l, struct kf_err *e)
{
	struct kf_virt *v = d->v;
	int maplen = VIR_CPU_MAPLEN(v->ncpus);
	size_t n = (size_t)l->vcpus_max;
	unsigned char *maps = kf_xcalloc(n ? n : 1, (size_t)maplen);
	if (what & KF_VLIVE_VCPUPIN) {
		int got = lib.virDomainGetVcpuPinInfo(d->dom, (int)n, maps, maplen, VIR_DOMAIN_AFFECT_LIVE);
		if (got < 0) {
			free(maps);
			return verr(e, "vCPU pinning of \"%s\"", d->name);
		}
		l->nvcpupin = (size_t)got;
		l->vcpupin = kf_xcalloc(l->nvcpupin ? l->nvcpupin : 1, sizeof(char *));
		for (size_t i = 0; i < l->nvcpupin; i++)
			l->vcpupin[i] = cpulist_of(v, VIR_GET_CPUMAP(maps, maplen, i), maplen);
	}
	memset(maps, 0, (size_t)maplen);
	if ((what & KF_VLIVE_EMULATORPIN) &&
	    lib.virDomainGetEmulatorPinInfo(d->dom, maps, maplen, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		free(maps);
		return verr(e, "emulator pinning of \"%s\"", d->name);
	}
	if (what & KF_VLIVE_EMULATORPIN)
		l->emulatorpin = cpulist_of(v, maps, maplen);
	free(maps);
	if (!(what & KF_VLIVE_IOTHREADS))
		return 0;
	virDomainIOThreadInfoPtr *info = NULL;
	int nio = lib.virDomainGetIOThreadInfo(d->dom, &info, VIR_DOMAIN_AFFECT_LIVE);
	if (nio < 0)
		return verr(e, "iothreads of \"%s\"", d->name);
	l->niothreads = (size_t)nio;
	l->iothread_ids = kf_xcalloc(nio ? (size_t)nio : 1, sizeof(long long));
	l->iothread_pins = kf_xcalloc(nio ? (size_t)nio : 1, sizeof(char *));
	for (int i = 0; i < nio; i++) {
		l->iothread_ids[i] = info[i]->iothread_id;
		l->iothread_pins[i] = cpulist_of(v, info[i]->cpumap, info[i]->cpumaplen);
		lib.virDomainIOThreadInfoFree(info[i]);
	}
	free(info);
	return 0;
}

static int live_memtune(struct kf_vdom *d, struct kf_vlive *l, struct kf_err *e)
{
	int n = 0;
	l->hard_limit = l->soft_limit = l->swap_hard_limit = l->min_guarantee = KF_UNSET;
	if (lib.virDomainGetMemoryParameters(d->dom, NULL, &n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return verr(e, "memtune of \"%s\"", d->name);
	virTypedParameterPtr p = kf_xcalloc(n ? (size_t)n : 1, sizeof(*p));
	if (n && lib.virDomainGetMemoryParameters(d->dom, p, &n, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		free(p);
		return verr(e, "memtune of \"%s\"", d->name);
	}
	for (int i = 0; i < n; i++) {
		long long *dst = NULL;
		if (!strcmp(p[i].field, VIR_DOMAIN_MEMORY_HARD_LIMIT))
			dst = &l->hard_limit;
		else if (!strcmp(p[i].field, VIR_DOMAIN_MEMORY_SOFT_LIMIT))
			dst = &l->soft_limit;
		else if (!strcmp(p[i].field, VIR_DOMAIN_MEMORY_SWAP_HARD_LIMIT))
			dst = &l->swap_hard_limit;
		else if (!strcmp(p[i].field, VIR_DOMAIN_MEMORY_MIN_GUARANTEE))
			dst = &l->min_guarantee;
		if (dst && p[i].type == VIR_TYPED_PARAM_ULLONG &&
		    p[i].value.ul < VIR_DOMAIN_MEMORY_PARAM_UNLIMITED && p[i].value.ul > 0)
			*dst = (long long)p[i].value.ul * 1024;
	}
	lib.virTypedParamsClear(p, n);
	free(p);
	return 0;
}

static int live_numa(struct kf_vdom *d, struct kf_vlive *l, struct kf_err *e)
{
	int n = 0;
	l->numa_mode = -1;
	if (lib.virDomainGetNumaParameters(d->dom, NULL, &n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return verr(e, "numatune of \"%s\"", d->name);
	virTypedParameterPtr p = kf_xcalloc(n ? (size_t)n : 1, sizeof(*p));
	if (n && lib.virDomainGetNumaParameters(d->dom, p, &n, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		free(p);
		return verr(e, "numatune of \"%s\"", d->name);
	}
	int mode;
	const char *ns = NULL;
	if (lib.virTypedParamsGetInt(p, n, VIR_DOMAIN_NUMA_MODE, &mode) == 1) {
		switch (mode) {
		case VIR_DOMAIN_NUMATUNE_MEM_STRICT: l->numa_mode = KF_NUMA_STRICT; break;
		case VIR_DOMAIN_NUMATUNE_MEM_PREFERRED: l->numa_mode = KF_NUMA_PREFERRED; break;
		case VIR_DOMAIN_NUMATUNE_MEM_INTERLEAVE: l->numa_mode = KF_NUMA_INTERLEAVE; break;
		case VIR_DOMAIN_NUMATUNE_MEM_RESTRICTIVE: l->numa_mode = KF_NUMA_RESTRICTIVE; break;
		}
	}
	if (lib.virTypedParamsGetString(p, n, VIR_DOMAIN_NUMA_NODESET, &ns) == 1 && ns && *ns) {
		char buf[1024];
		l->numa_nodes = kf_xstrdup(kf_cpulist_norm(ns, buf, sizeof(buf)) == 0 ? buf : ns);
	}
	lib.virTypedParamsClear(p, n);
	free(p);
	lib.virResetLastError();
	return 0;
}

int kf_vdom_live(struct kf_vdom *d, unsigned what, struct kf_vlive *l, struct kf_err *e)
{
	memset(l, 0, sizeof(*l));
	l->hard_limit = l->soft_limit = l->swap_hard_limit = l->min_guarantee = KF_UNSET;
	l->numa_mode = -1;
	l->balloon = KF_UNSET;
	int r = 0;
	int n = lib.virDomainGetVcpusFlags(d->dom, VIR_DOMAIN_AFFECT_LIVE);
	int m = lib.virDomainGetVcpusFlags(d->dom, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_VCPU_MAXIMUM);
	if (n < 0 || m < 0)
		return verr(e, "vCPUs of \"%s\"", d->name);
	l->vcpus = n;
	l->vcpus_max = m;
	virDomainInfo info;
	if ((what & KF_VLIVE_BALLOON) && lib.virDomainGetInfo(d->dom, &info) < 0)
		return verr(e, "memory of \"%s\"", d->name);
	if (what & KF_VLIVE_BALLOON)
		l->balloon = (long long)info.memory * 1024;
	if ((what & (KF_VLIVE_VCPUPIN | KF_VLIVE_EMULATORPIN | KF_VLIVE_IOTHREADS)) &&
	    (r = live_pins(d, what, l, e)) < 0)
		goto fail;
	if ((what & KF_VLIVE_MEMTUNE) && (r = live_memtune(d, l, e)) < 0)
		goto fail;
	if ((what & KF_VLIVE_NUMA) && (r = live_numa(d, l, e)) < 0)
		goto fail;
	return 0;
fail:
	kf_vlive_release(l);
	return r;
}

int kf_virt_running(struct kf_virt *v, char ***names, size_t *n, struct kf_err *e)
{
	virDomainPtr *doms = NULL;
	*names = NULL;
	*n = 0;
	int got = lib.virConnectListAllDomains(v->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (got < 0)
		return verr(e, "list running guests");
	*names = kf_xcalloc(got ? (size_t)got : 1, sizeof(char *));
	for (int i = 0; i < got; i++) {
		const char *nm = lib.virDomainGetName(doms[i]);
		if (nm)
			(*names)[(*n)++] = kf_xstrdup(nm);
		lib.virDomainFree(doms[i]);
	}
	free(doms);
	return 0;
}

int kf_vdom_vcpuinfo(struct kf_vdom *d, struct kf_vcpuinfo **out, size_t *n, struct kf_err *e)
{
	*out = NULL;
	*n = 0;
	int max = lib.virDomainGetVcpusFlags(d->dom, VIR_DOMAIN_AFFECT_LIVE);
	if (max < 0)
		return verr(e, "vCPUs of \"%s\"", d->name);
	int maplen = VIR_CPU_MAPLEN(d->v->ncpus);
	virVcpuInfoPtr info = kf_xcalloc(max ? (size_t)max : 1, sizeof(*info));
	unsigned char *maps = kf_xcalloc(max ? (size_t)max : 1, (size_t)maplen);
	int got = lib.virDomainGetVcpus(d->dom, info, max, maps, maplen);
	if (got < 0) {
		free(info);
		free(maps);
		return verr(e, "vCPU placement of \"%s\"", d->name);
	}
	*out = kf_xcalloc(got ? (size_t)got : 1, sizeof(**out));
	for (int i = 0; i < got; i++) {
		(*out)[i].vcpu = (int)info[i].number;
		(*out)[i].cpu = info[i].state == VIR_VCPU_RUNNING || info[i].state == VIR_VCPU_BLOCKED ? info[i].cpu : -1;
		(*out)[i].affinity = cpulist_of(d->v, VIR_GET_CPUMAP(maps, maplen, i), maplen);
	}
	*n = (size_t)got;
	free(info);
	free(maps);
	return 0;
}

/* ---- live setters ---- */

int kf_vdom_vcpus_online(struct kf_vdom *d, long long *n, struct kf_err *e)
{
	int r = lib.virDomainGetVcpusFlags(d->dom, VIR_DOMAIN_AFFECT_LIVE);
	if (r < 0)
		return verr(e, "vCPUs of \"%s\"", d->name);
	*n = r;
	return 0;
}

int kf_vdom_set_vcpus_live(struct kf_vdom *d, long long n, struct kf_err *e)
{
	if (lib.virDomainSetVcpusFlags(d->dom, (unsigned)n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return verr(e, "set %lld live vCPUs of \"%s\"", n, d->name);
	return 0;
}

int kf_vdom_pin_vcpu_live(struct kf_vdom *d, long long vcpu, const char *cpus, struct kf_err *e)
{
	int maplen;
	unsigned char *map = cpumap_of(d->v, cpus, &maplen);
	if (!map)
		return kf_errf(e, NULL, "bad cpulist \"%s\"", cpus);
	/* the live-only form; some drivers reject the AFFECT_LIVE flag */
	int r = lib.virDomainPinVcpu(d->dom, (unsigned)vcpu, map, maplen);
	free(map);
	if (r < 0)
		return verr(e, "pin vCPU %lld of \"%s\" to %s", vcpu, d->name, cpus);
	return 0;
}

int kf_vdom_pin_emulator_live(struct kf_vdom *d, const char *cpus, struct kf_err *e)
{
	int maplen;
	unsigned char *map = cpumap_of(d->v, cpus, &maplen);
	if (!map)
		return kf_errf(e, NULL, "bad cpulist \"%s\"", cpus);
	int r = lib.virDomainPinEmulator(d->dom, map, maplen, VIR_DOMAIN_AFFECT_LIVE);
	free(map);
	if (r < 0)
		return verr(e, "pin the emulator of \"%s\" to %s", d->name, cpus);
	return 0;
}

int kf_vdom_pin_iothread_live(struct kf_vdom *d, long long id, const char *cpus, struct kf_err *e)
{
	int maplen;
	unsigned char *map = cpumap_of(d->v, cpus, &maplen);
	if (!map)
		return kf_errf(e, NULL, "bad cpulist \"%s\"", cpus);
	int r = lib.virDomainPinIOThread(d->dom, (unsigned)id, map, maplen, VIR_DOMAIN_AFFECT_LIVE);
	free(map);
	if (r < 0)
		return verr(e, "pin iothread %lld of \"%s\" to %s", id, d->name, cpus);
	return 0;
}

int kf_vdom_set_memtune_live(struct kf_vdom *d, long long hard, long long soft, long long swap_hard,
			     long long min_guarantee, struct kf_err *e)
{
	virTypedParameterPtr p = NULL;
	int n = 0, max = 0, r = 0;
	/* raising hard above swap_hard fails: order the pair by direction */
	struct { const char *f; long long v; } vals[] = {
		{ VIR_DOMAIN_MEMORY_SWAP_HARD_LIMIT, swap_hard }, { VIR_DOMAIN_MEMORY_HARD_LIMIT, hard },
		{ VIR_DOMAIN_MEMORY_SOFT_LIMIT, soft }, { VIR_DOMAIN_MEMORY_MIN_GUARANTEE, min_guarantee },
	};
	for (size_t i = 0; i < KF_ARRAY_SIZE(vals); i++)
		if (vals[i].v != KF_UNSET &&
		    lib.virTypedParamsAddULLong(&p, &n, &max, vals[i].f, (unsigned long long)vals[i].v / 1024) < 0) {
			r = verr(e, "memtune of \"%s\"", d->name);
			goto out;
		}
	if (n && lib.virDomainSetMemoryParameters(d->dom, p, n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		r = verr(e, "set memtune of \"%s\"", d->name);
out:
	lib.virTypedParamsFree(p, n);
	return r;
}

int kf_vdom_set_numa_nodes_live(struct kf_vdom *d, const char *nodes, struct kf_err *e)
{
	virTypedParameterPtr p = NULL;
	int n = 0, max = 0, r = 0;
	if (lib.virTypedParamsAddString(&p, &n, &max, VIR_DOMAIN_NUMA_NODESET, nodes) < 0 ||
	    lib.virDomainSetNumaParameters(d->dom, p, n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		r = verr(e, "set the NUMA nodes of \"%s\" to %s", d->name, nodes);
	lib.virTypedParamsFree(p, n);
	return r;
}

int kf_vdom_set_balloon_live(struct kf_vdom *d, long long bytes, struct kf_err *e)
{
	if (lib.virDomainSetMemoryFlags(d->dom, (unsigned long)(bytes / 1024), VIR_DOMAIN_AFFECT_LIVE) < 0)
		return verr(e, "set the balloon of \"%s\"", d->name);
	/* the guest's driver moves the balloon: give it a moment, so that what
	 * is read back is the guest's answer (a guest without a balloon
	 * driver never moves, and the next read says so) */
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	virDomainInfo info;
	for (int i = 0; i < 100; i++) {
		if (lib.virDomainGetInfo(d->dom, &info) < 0) {
			lib.virResetLastError();
			break;
		}
		if ((long long)info.memory * 1024 == bytes)
			break;
		nanosleep(&ts, NULL);
	}
	return 0;
}

int kf_vdom_set_stats_period_live(struct kf_vdom *d, long long seconds, struct kf_err *e)
{
	if (lib.virDomainSetMemoryStatsPeriod(d->dom, (int)seconds, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return verr(e, "set the balloon stats period of \"%s\"", d->name);
	return 0;
}

/* ---- new guests ---- */

const char *kf_virt_domain_type(struct kf_virt *v, int domain_type)
{
	if (domain_type == KF_DOMTYPE_KVM)
		return "kvm";
	if (domain_type == KF_DOMTYPE_QEMU)
		return "qemu";
	char *caps = lib.virConnectGetDomainCapabilities(v->conn, NULL, "x86_64", NULL, "kvm", 0);
	lib.virResetLastError();
	if (!caps)
		return "qemu";
	free(caps);
	return "kvm";
}

int kf_virt_pool_ensure(struct kf_virt *v, const char *name, const char *path, struct kf_err *e)
{
	int r = 0;
	virStoragePoolPtr pool = lib.virStoragePoolLookupByName(v->conn, name);
	if (!pool) {
		if (!last_is(VIR_ERR_NO_STORAGE_POOL))
			return verr(e, "look up storage pool \"%s\"", name);
		lib.virResetLastError();
		char *xml = kf_xasprintf("<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>",
					 name, path);
		pool = lib.virStoragePoolDefineXML(v->conn, xml, 0);
		free(xml);
		if (!pool)
			return verr(e, "define storage pool \"%s\" at %s", name, path);
		if (lib.virStoragePoolBuild(pool, 0) < 0) {
			r = verr(e, "build storage pool \"%s\"", name);
			goto out;
		}
		if (lib.virStoragePoolSetAutostart(pool, 1) < 0) {
			r = verr(e, "autostart storage pool \"%s\"", name);
			goto out;
		}
	}
	if (lib.virStoragePoolIsActive(pool) != 1 && lib.virStoragePoolCreate(pool, 0) < 0)
		r = verr(e, "start storage pool \"%s\"", name);
out:
	lib.virStoragePoolFree(pool);
	return r;
}

int kf_virt_volume_ensure(struct kf_virt *v, const char *pool, const char *vol, long long bytes,
			  char **path, struct kf_err *e)
{
	int r = 0;
	*path = NULL;
	virStorageVolPtr sv = NULL;
	virStoragePoolPtr p = lib.virStoragePoolLookupByName(v->conn, pool);
	if (!p)
		return verr(e, "look up storage pool \"%s\"", pool);
	sv = lib.virStorageVolLookupByName(p, vol);
	if (!sv) {
		lib.virResetLastError();
		char *xml = kf_xasprintf("<volume><name>%s</name><capacity unit='bytes'>%lld</capacity>"
					 "<target><format type='qcow2'/></target></volume>",
					 vol, bytes);
		sv = lib.virStorageVolCreateXML(p, xml, 0);
		free(xml);
		if (!sv) {
			r = verr(e, "create volume \"%s\" in pool \"%s\"", vol, pool);
			goto out;
		}
	}
	char *s = lib.virStorageVolGetPath(sv);
	if (!s) {
		r = verr(e, "path of volume \"%s\"", vol);
		goto out;
	}
	*path = s;
out:
	if (sv)
		lib.virStorageVolFree(sv);
	lib.virStoragePoolFree(p);
	return r;
}

int kf_virt_guest_xml(const char *type, const struct kf_p_guest *g, const struct kf_domcfg *want,
		      const char *disk_path, char **xml, struct kf_err *e)
{
	struct kf_domxml *x = NULL;
	struct kf_domcfg own;
	int r;
	*xml = NULL;
	kf_domcfg_init(&own);
	if (!want) {
		kf_domcfg_from_guest(&own, g);
		want = &own;
	}
	if (!want->nnics) {
		r = kf_errf(e, NULL, "guest %s: a new guest needs an interface to boot from the network", g->name);
		goto out;
	}
	if ((r = kf_domxml_new(&x, g->name, type, e)) < 0)
		goto out;
	/* network boot first: the first NIC, then the disk */
	struct kf_domcfg w = *want;
	struct kf_domnic *nics = kf_xcalloc(want->nnics, sizeof(*nics));
	memcpy(nics, want->nics, want->nnics * sizeof(*nics));
	nics[0].boot = 1;
	w.nics = nics;
	static const enum kf_domfield scalar[] = {
		KF_DF_VCPUS, KF_DF_CPU, KF_DF_TOPOLOGY, KF_DF_EMULATORPIN, KF_DF_IOTHREADS, KF_DF_NUMATUNE,
		KF_DF_MEMORY, KF_DF_CURMEM, KF_DF_BALLOON, KF_DF_MEMTUNE, KF_DF_HUGEPAGES,
		KF_DF_NOSHAREPAGES, KF_DF_LOCKED,
	};
	for (size_t i = 0; i < KF_ARRAY_SIZE(scalar) && r == 0; i++) {
		enum kf_domfield f = scalar[i];
		bool set = (f == KF_DF_VCPUS && w.vcpu_max != KF_UNSET) || (f == KF_DF_CPU && w.cpu_mode >= 0) ||
			   (f == KF_DF_TOPOLOGY && w.cores != KF_UNSET) ||
			   (f == KF_DF_EMULATORPIN && w.emulatorpin) ||
			   (f == KF_DF_IOTHREADS && w.iothreads != KF_UNSET && w.iothreads > 0) ||
			   (f == KF_DF_NUMATUNE && w.numa_nodes) || (f == KF_DF_MEMORY && w.memory != KF_UNSET) ||
			   (f == KF_DF_CURMEM && w.current_memory != KF_UNSET) ||
			   (f == KF_DF_BALLOON && w.balloon >= 0) ||
			   (f == KF_DF_MEMTUNE && (w.hard_limit != KF_UNSET || w.soft_limit != KF_UNSET ||
						   w.swap_hard_limit != KF_UNSET || w.min_guarantee != KF_UNSET)) ||
			   (f == KF_DF_HUGEPAGES && w.hugepages != KF_UNSET) ||
			   (f == KF_DF_NOSHAREPAGES && w.nosharepages == 1) || (f == KF_DF_LOCKED && w.locked == 1);
		if (set)
			r = kf_domxml_set(x, &w, f, 0, e);
	}
	for (size_t i = 0; i < w.nvcpupin && r == 0; i++)
		r = kf_domxml_set(x, &w, KF_DF_VCPUPIN, i, e);
	for (size_t i = 0; i < w.niothreadpin && r == 0; i++)
		r = kf_domxml_set(x, &w, KF_DF_IOTHREADPIN, i, e);
	for (size_t i = 0; i < w.nmemnodes && r == 0; i++)
		r = kf_domxml_set(x, &w, KF_DF_MEMNODE, i, e);
	for (size_t i = 0; i < w.nnics && r == 0; i++)
		r = kf_domxml_set(x, &w, KF_DF_NIC, i, e);
	for (size_t i = 0; i < w.nhostdevs && r == 0; i++)
		r = kf_domxml_set(x, &w, KF_DF_HOSTDEV, i, e);
	free(nics);
	if (r == 0 && disk_path)
		r = kf_domxml_add_disk(x, disk_path, "qcow2", 2, e);
	if (r == 0)
		*xml = kf_domxml_dump(x);
out:
	kf_domxml_free(x);
	kf_domcfg_release(&own);
	return r;
}

int kf_virt_guest_install(struct kf_virt *v, const struct kf_p_libvirt *lv, const struct kf_p_guest *g,
			  const struct kf_domcfg *want, struct kf_err *e)
{
	const char *pool = lv && lv->pool ? lv->pool : "default";
	const char *pool_path = lv && lv->pool_path ? lv->pool_path : "/var/lib/libvirt/images";
	char *disk = NULL, *xml = NULL, *vol = NULL;
	struct kf_vdom *d = NULL;
	int r = 0;
	if (g->disk != KF_UNSET) {
		vol = kf_xasprintf("%s.qcow2", g->name);
		if ((r = kf_virt_pool_ensure(v, pool, pool_path, e)) < 0 ||
		    (r = kf_virt_volume_ensure(v, pool, vol, g->disk, &disk, e)) < 0)
			goto out;
	}
	const char *type = kf_virt_domain_type(v, lv ? lv->domain_type : KF_DOMTYPE_AUTO);
	if ((r = kf_virt_guest_xml(type, g, want, disk, &xml, e)) < 0)
		goto out;
	if ((r = kf_virt_define(v, xml, &d, e)) < 0)
		goto out;
	if (g->autostart >= 0 && (r = kf_vdom_set_autostart(d, g->autostart, e)) < 0)
		goto out;
	if (g->start != 0)
		r = kf_vdom_start(d, e);
out:
	kf_vdom_free(d);
	free(xml);
	free(disk);
	free(vol);
	return r;
}
