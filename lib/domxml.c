/* libvirt domain XML through libxml2: read the managed fields, write one. */
#include "domxml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "dl.h"
#include "profile.h"
#include "types.h"
#include "util.h"

/* libxml2 is opened at first use (kf_domxml_load; every other call needs a
 * document), so that a run without guests does not load it (lib/dl.h).
 * Every libxml2 function this file calls is in this table. */
#define XML_FNS(F)                                                                      \
	F(xmlAddChild) F(xmlAddPrevSibling) F(xmlBufferContent) F(xmlBufferCreate)      \
	F(xmlBufferFree) F(xmlDocGetRootElement) F(xmlEncodeSpecialChars) F(xmlFree)    \
	F(xmlFreeDoc) F(xmlFreeNode) F(xmlGetLastError) F(xmlGetProp) F(xmlNewChild)    \
	F(xmlNewNode) F(xmlNodeDump) F(xmlNodeGetContent) F(xmlNodeSetContent)          \
	F(xmlReadMemory) F(xmlSetGenericErrorFunc) F(xmlSetProp) F(xmlUnlinkNode)       \
	F(xmlUnsetProp)

#ifdef LIBXML_THREAD_ALLOC_ENABLED
#error "xml_free expects xmlFree to be a variable, not libxml2's per-thread macro"
#endif

KF_DL_TABLE(XML_FNS)

static struct kf_dl libxml2 = KF_DL("libxml2.so.2", "libxml2", "cannot read or write guest definitions",
				     resolve);

/* xmlFree is a variable of libxml2 (its deallocator): the table holds its
 * address. */
static void xml_free(void *p)
{
	(*lib.xmlFree)(p);
}

struct kf_domxml {
	xmlDocPtr doc;
};

static const char *const numa_modes[] = { "strict", "interleave", "preferred", "restrictive", NULL };
static const char *const nic_types[] = { "bridge", "direct", "network", "hostdev", NULL };
static const char *const nic_modes[] = { "vepa", "bridge", "private", "passthrough", NULL };
static const char *const nic_models[] = { "virtio", "e1000", "e1000e", "rtl8139", NULL };
static const char *const nic_drivers[] = { "vhost", "qemu", NULL };
static const char *const cpu_modes[] = { "host-passthrough", "host-model", "custom", NULL };
static const char *const balloons[] = { "virtio", "none", NULL };

static int enum_idx(const char *const *v, const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; v[i]; i++)
		if (!strcmp(v[i], s))
			return i;
	return -1;
}

/* ---- small libxml2 helpers ---- */

#define X(s) ((const xmlChar *)(s))

static bool is_el(xmlNodePtr n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && (!name || !strcmp((const char *)n->name, name));
}

static xmlNodePtr child(xmlNodePtr p, const char *name)
{
	if (!p)
		return NULL;
	for (xmlNodePtr n = p->children; n; n = n->next)
		if (is_el(n, name))
			return n;
	return NULL;
}

static xmlNodePtr next_el(xmlNodePtr n, const char *name)
{
	for (n = n ? n->next : NULL; n; n = n->next)
		if (is_el(n, name))
			return n;
	return NULL;
}

static xmlNodePtr ensure(xmlNodePtr p, const char *name)
{
	xmlNodePtr n = child(p, name);
	return n ? n : lib.xmlNewChild(p, NULL, X(name), NULL);
}

static void drop(xmlNodePtr n)
{
	if (!n)
		return;
	lib.xmlUnlinkNode(n);
	lib.xmlFreeNode(n);
}

static void drop_all(xmlNodePtr p, const char *name)
{
	xmlNodePtr n = child(p, name);
	while (n) {
		xmlNodePtr nx = next_el(n, name);
		drop(n);
		n = nx;
	}
}

/* A property as a malloc'd string (NULL when absent). */
static char *prop(xmlNodePtr n, const char *name)
{
	if (!n)
		return NULL;
	xmlChar *v = lib.xmlGetProp(n, X(name));
	if (!v)
		return NULL;
	char *s = kf_xstrdup((const char *)v);
	xml_free(v);
	return s;
}

static char *text(xmlNodePtr n)
{
	if (!n)
		return NULL;
	xmlChar *v = lib.xmlNodeGetContent(n);
	if (!v)
		return NULL;
	char *s = kf_xstrdup((const char *)v);
	xml_free(v);
	return kf_rstrip(s);
}

static void setp(xmlNodePtr n, const char *name, const char *val)
{
	if (val)
		lib.xmlSetProp(n, X(name), X(val));
	else
		lib.xmlUnsetProp(n, X(name));
}

static void setpll(xmlNodePtr n, const char *name, long long v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", v);
	lib.xmlSetProp(n, X(name), X(buf));
}

static void settext(xmlNodePtr n, const char *s)
{
	xmlChar *esc = lib.xmlEncodeSpecialChars(n->doc, X(s));
	lib.xmlNodeSetContent(n, esc);
	xml_free(esc);
}

static long long prop_ll(xmlNodePtr n, const char *name)
{
	char *s = prop(n, name);
	long long v;
	if (!s || kf_int_parse(s, &v) < 0)
		v = KF_UNSET;
	free(s);
	return v;
}

/* A scaled value as libvirt writes it: number plus unit (default KiB). */
static long long scaled(xmlNodePtr n)
{
	static const struct { const char *u; long long mul; } units[] = {
		{ "b", 1 }, { "bytes", 1 }, { "KB", 1000 }, { "k", 1024 }, { "KiB", 1024 },
		{ "MB", 1000000 }, { "M", 1 << 20 }, { "MiB", 1 << 20 }, { "GB", 1000000000LL },
		{ "G", 1LL << 30 }, { "GiB", 1LL << 30 }, { "TB", 1000000000000LL },
		{ "T", 1LL << 40 }, { "TiB", 1LL << 40 },
	};
	char *t = text(n), *u = prop(n, "unit");
	long long v, mul = 1024;
	if (!t || kf_int_parse(t, &v) < 0) {
		v = KF_UNSET;
		goto out;
	}
	if (u) {
		mul = 0;
		for (size_t i = 0; i < KF_ARRAY_SIZE(units); i++)
			if (!strcmp(units[i].u, u) || (strlen(u) == 1 && !strcasecmp(units[i].u, u)))
				mul = units[i].mul;
		if (!mul) {
			v = KF_UNSET;
			goto out;
		}
	}
	v *= mul;
out:
	free(t);
	free(u);
	return v;
}

static void set_kib(xmlNodePtr n, long long bytes)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", bytes / 1024);
	settext(n, buf);
	lib.xmlSetProp(n, X("unit"), X("KiB"));
}

static char *cpulist(const char *s)
{
	char buf[1024];
	if (!s)
		return NULL;
	if (kf_cpulist_norm(s, buf, sizeof(buf)) < 0)
		return kf_xstrdup(s);
	return kf_xstrdup(buf);
}

/* ---- kf_domcfg ---- */

void kf_domcfg_init(struct kf_domcfg *c)
{
	memset(c, 0, sizeof(*c));
	c->vcpu_max = c->vcpu_current = KF_UNSET;
	c->cpu_mode = -1;
	c->sockets = c->dies = c->cores = c->threads = KF_UNSET;
	c->iothreads = KF_UNSET;
	c->numa_mode = -1;
	c->memory = c->current_memory = KF_UNSET;
	c->balloon = -1;
	c->stats_period = KF_UNSET;
	c->hard_limit = c->soft_limit = c->swap_hard_limit = c->min_guarantee = KF_UNSET;
	c->hugepages = KF_UNSET;
	c->nosharepages = c->locked = -1;
}

void kf_domcfg_release(struct kf_domcfg *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->cpu_model);
	for (size_t i = 0; i < c->nvcpupin; i++)
		free(c->vcpupin[i].cpus);
	free(c->vcpupin);
	free(c->emulatorpin);
	for (size_t i = 0; i < c->niothreadpin; i++)
		free(c->iothreadpin[i].cpus);
	free(c->iothreadpin);
	free(c->numa_nodes);
	for (size_t i = 0; i < c->nmemnodes; i++)
		free(c->memnodes[i].nodes);
	free(c->memnodes);
	free(c->hugepage_nodes);
	for (size_t i = 0; i < c->nnics; i++) {
		free(c->nics[i].source);
		free(c->nics[i].mac);
	}
	free(c->nics);
	for (size_t i = 0; i < c->nhostdevs; i++)
		free(c->hostdevs[i].pci);
	free(c->hostdevs);
	kf_domcfg_init(c);
}

/* ---- documents ---- */

static void silent(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

int kf_domxml_load(struct kf_domxml **out, const char *xml, struct kf_err *e)
{
	*out = NULL;
	int r = kf_dl_load(&libxml2, e);
	if (r < 0)
		return r;
	lib.xmlSetGenericErrorFunc(NULL, silent);
	xmlDocPtr doc = lib.xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
				      XML_PARSE_NOBLANKS | XML_PARSE_NONET | XML_PARSE_NOERROR |
					      XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *xe = lib.xmlGetLastError();
		return kf_errf(e, NULL, "domain XML does not parse: %s",
			       xe && xe->message ? kf_rstrip(xe->message) : "unknown error");
	}
	xmlNodePtr root = lib.xmlDocGetRootElement(doc);
	if (!is_el(root, "domain")) {
		lib.xmlFreeDoc(doc);
		return kf_errf(e, NULL, "domain XML: root element is not <domain>");
	}
	*out = kf_xcalloc(1, sizeof(**out));
	(*out)->doc = doc;
	return 0;
}

int kf_domxml_new(struct kf_domxml **out, const char *name, const char *type, struct kf_err *e)
{
	char *xml = kf_xasprintf(
		"<domain type='%s'><name>x</name><memory unit='KiB'>1048576</memory><vcpu>1</vcpu>"
		"<os><type arch='x86_64'>hvm</type></os><features><acpi/><apic/></features>"
		"<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot>"
		"<on_crash>destroy</on_crash><devices><serial type='pty'><target port='0'/></serial>"
		"<console type='pty'><target type='serial' port='0'/></console>"
		"<memballoon model='virtio'/></devices></domain>",
		strcmp(type, "kvm") ? "qemu" : "kvm");
	int r = kf_domxml_load(out, xml, e);
	free(xml);
	if (r < 0)
		return r;
	settext(child(lib.xmlDocGetRootElement((*out)->doc), "name"), name);
	return 0;
}

void kf_domxml_free(struct kf_domxml *x)
{
	if (!x)
		return;
	lib.xmlFreeDoc(x->doc);
	free(x);
}

char *kf_domxml_dump(const struct kf_domxml *x)
{
	xmlNodePtr root = lib.xmlDocGetRootElement(x->doc);
	xmlBufferPtr b = lib.xmlBufferCreate();
	lib.xmlNodeDump(b, x->doc, root, 0, 1);
	char *s = kf_xasprintf("%s\n", (const char *)lib.xmlBufferContent(b));
	lib.xmlBufferFree(b);
	return s;
}

/* ---- reading ---- */

static char *pci_of(xmlNodePtr addr)
{
	long long d = prop_ll(addr, "domain"), b = prop_ll(addr, "bus"), s = prop_ll(addr, "slot"),
		  f = prop_ll(addr, "function");
	if (b == KF_UNSET || s == KF_UNSET || f == KF_UNSET)
		return NULL;
	return kf_xasprintf("%04llx:%02llx:%02llx.%llx", d == KF_UNSET ? 0 : d, b, s, f);
}

static void read_cpu(xmlNodePtr root, struct kf_domcfg *c)
{
	xmlNodePtr cpu = child(root, "cpu");
	char *mode = prop(cpu, "mode");
	xmlNodePtr model = child(cpu, "model");
	if (cpu)
		c->cpu_mode = enum_idx(cpu_modes, mode ? mode : "custom");
	if (c->cpu_mode == KF_CPU_CUSTOM) {
		c->cpu_model = text(model);
		if (!c->cpu_model)
			c->cpu_mode = -1; /* only a topology */
	}
	free(mode);
	xmlNodePtr t = child(cpu, "topology");
	if (t) {
		c->sockets = prop_ll(t, "sockets");
		c->dies = prop_ll(t, "dies");
		c->cores = prop_ll(t, "cores");
		c->threads = prop_ll(t, "threads");
		if (c->dies == KF_UNSET)
			c->dies = 1;
	}
}

static void add_pin(struct kf_dompin **v, size_t *n, long long id, const char *cpus)
{
	*v = kf_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n].id = id;
	(*v)[*n].cpus = cpulist(cpus);
	(*n)++;
}

static void read_cputune(xmlNodePtr root, struct kf_domcfg *c)
{
	xmlNodePtr ct = child(root, "cputune");
	for (xmlNodePtr n = child(ct, "vcpupin"); n; n = next_el(n, "vcpupin")) {
		char *s = prop(n, "cpuset");
		add_pin(&c->vcpupin, &c->nvcpupin, prop_ll(n, "vcpu"), s);
		free(s);
	}
	for (xmlNodePtr n = child(ct, "iothreadpin"); n; n = next_el(n, "iothreadpin")) {
		char *s = prop(n, "cpuset");
		add_pin(&c->iothreadpin, &c->niothreadpin, prop_ll(n, "iothread"), s);
		free(s);
	}
	char *s = prop(child(ct, "emulatorpin"), "cpuset");
	c->emulatorpin = cpulist(s);
	free(s);
	char *io = text(child(root, "iothreads"));
	if (io && kf_int_parse(io, &c->iothreads) < 0)
		c->iothreads = KF_UNSET;
	if (!io)
		c->iothreads = 0;
	free(io);
}

static void read_numatune(xmlNodePtr root, struct kf_domcfg *c)
{
	xmlNodePtr nt = child(root, "numatune");
	xmlNodePtr m = child(nt, "memory");
	if (m) {
		char *mode = prop(m, "mode"), *ns = prop(m, "nodeset");
		c->numa_mode = mode ? enum_idx(numa_modes, mode) : KF_NUMA_STRICT;
		c->numa_nodes = cpulist(ns);
		free(mode);
		free(ns);
	}
	for (xmlNodePtr n = child(nt, "memnode"); n; n = next_el(n, "memnode")) {
		c->memnodes = kf_xrealloc(c->memnodes, (c->nmemnodes + 1) * sizeof(*c->memnodes));
		struct kf_dommemnode *mn = &c->memnodes[c->nmemnodes++];
		char *mode = prop(n, "mode"), *ns = prop(n, "nodeset");
		mn->cell = prop_ll(n, "cellid");
		mn->mode = mode ? enum_idx(numa_modes, mode) : KF_NUMA_STRICT;
		mn->nodes = cpulist(ns);
		free(mode);
		free(ns);
	}
}

static void read_memory(xmlNodePtr root, struct kf_domcfg *c)
{
	xmlNodePtr n;
	c->memory = scaled(child(root, "memory"));
	c->current_memory = (n = child(root, "currentMemory")) ? scaled(n) : c->memory;
	xmlNodePtr mt = child(root, "memtune");
	c->hard_limit = (n = child(mt, "hard_limit")) ? scaled(n) : KF_UNSET;
	c->soft_limit = (n = child(mt, "soft_limit")) ? scaled(n) : KF_UNSET;
	c->swap_hard_limit = (n = child(mt, "swap_hard_limit")) ? scaled(n) : KF_UNSET;
	c->min_guarantee = (n = child(mt, "min_guarantee")) ? scaled(n) : KF_UNSET;
	xmlNodePtr mb = child(root, "memoryBacking");
	xmlNodePtr hp = child(mb, "hugepages");
	if (hp) {
		xmlNodePtr page = child(hp, "page");
		if (page) {
			char *sz = prop(page, "size"), *unit = prop(page, "unit"), *ns = prop(page, "nodeset");
			long long v;
			if (sz && kf_int_parse(sz, &v) == 0) {
				long long mul = 1024;
				if (unit && (!strcmp(unit, "M") || !strcmp(unit, "MiB")))
					mul = 1 << 20;
				else if (unit && (!strcmp(unit, "G") || !strcmp(unit, "GiB")))
					mul = 1LL << 30;
				else if (unit && (!strcmp(unit, "b") || !strcmp(unit, "bytes")))
					mul = 1;
				c->hugepages = v * mul;
			}
			c->hugepage_nodes = cpulist(ns);
			free(sz);
			free(unit);
			free(ns);
		} else {
			c->hugepages = 0;
		}
	}
	c->nosharepages = child(mb, "nosharepages") != NULL;
	c->locked = child(mb, "locked") != NULL;
	xmlNodePtr bal = child(child(root, "devices"), "memballoon");
	if (bal) {
		char *model = prop(bal, "model");
		c->balloon = enum_idx(balloons, model);
		c->stats_period = prop_ll(child(bal, "stats"), "period");
		if (c->stats_period == KF_UNSET && c->balloon == KF_BALLOON_VIRTIO)
			c->stats_period = 0;
		free(model);
	} else {
		c->balloon = KF_BALLOON_NONE;
	}
}

static void read_nic(xmlNodePtr n, struct kf_domnic *nic)
{
	char *type = prop(n, "type");
	xmlNodePtr src = child(n, "source");
	memset(nic, 0, sizeof(*nic));
	nic->type = enum_idx(nic_types, type);
	nic->mode = -1;
	nic->queues = KF_UNSET;
	switch (nic->type) {
	case KF_NIC_BRIDGE: {
		nic->source = prop(src, "bridge");
		char *vp = prop(child(n, "virtualport"), "type");
		nic->ovs = vp && !strcmp(vp, "openvswitch");
		free(vp);
		break;
	}
	case KF_NIC_DIRECT: {
		nic->source = prop(src, "dev");
		char *m = prop(src, "mode");
		nic->mode = m ? enum_idx(nic_modes, m) : KF_NICM_VEPA;
		free(m);
		break;
	}
	case KF_NIC_NETWORK: nic->source = prop(src, "network"); break;
	case KF_NIC_HOSTDEV: nic->source = pci_of(child(src, "address")); break;
	default: break;
	}
	free(type);
	char *model = prop(child(n, "model"), "type");
	nic->model = enum_idx(nic_models, model);
	free(model);
	xmlNodePtr drv = child(n, "driver");
	char *dn = prop(drv, "name");
	nic->driver = enum_idx(nic_drivers, dn);
	free(dn);
	nic->queues = prop_ll(drv, "queues");
	char *mac = prop(child(n, "mac"), "address");
	char buf[18];
	if (mac && kf_mac_norm(mac, buf) == 0) {
		free(mac);
		mac = kf_xstrdup(buf);
	}
	nic->mac = mac;
	long long boot = prop_ll(child(n, "boot"), "order");
	nic->boot = boot == KF_UNSET ? 0 : (int)boot;
}

static void read_devices(xmlNodePtr root, struct kf_domcfg *c)
{
	xmlNodePtr dev = child(root, "devices");
	for (xmlNodePtr n = child(dev, "interface"); n; n = next_el(n, "interface")) {
		c->nics = kf_xrealloc(c->nics, (c->nnics + 1) * sizeof(*c->nics));
		read_nic(n, &c->nics[c->nnics++]);
	}
	for (xmlNodePtr n = child(dev, "hostdev"); n; n = next_el(n, "hostdev")) {
		char *type = prop(n, "type"), *managed = prop(n, "managed");
		if (type && !strcmp(type, "pci")) {
			char *pci = pci_of(child(child(n, "source"), "address"));
			if (pci) {
				c->hostdevs = kf_xrealloc(c->hostdevs, (c->nhostdevs + 1) * sizeof(*c->hostdevs));
				c->hostdevs[c->nhostdevs].pci = pci;
				c->hostdevs[c->nhostdevs++].managed = managed && !strcmp(managed, "yes");
			}
		}
		free(type);
		free(managed);
	}
}

int kf_domxml_read(const struct kf_domxml *x, struct kf_domcfg *c, struct kf_err *e)
{
	kf_domcfg_init(c);
	xmlNodePtr root = lib.xmlDocGetRootElement(x->doc);
	c->name = text(child(root, "name"));
	if (!c->name)
		return kf_errf(e, NULL, "domain XML: no <name>");
	xmlNodePtr v = child(root, "vcpu");
	char *t = text(v);
	if (!t || kf_int_parse(t, &c->vcpu_max) < 0)
		c->vcpu_max = KF_UNSET;
	free(t);
	c->vcpu_current = prop_ll(v, "current");
	if (c->vcpu_current == KF_UNSET)
		c->vcpu_current = c->vcpu_max;
	read_cpu(root, c);
	read_cputune(root, c);
	read_numatune(root, c);
	read_memory(root, c);
	read_devices(root, c);
	return 0;
}

int kf_domxml_parse(const char *xml, struct kf_domcfg *c, struct kf_err *e)
{
	struct kf_domxml *x = NULL;
	kf_domcfg_init(c);
	int r = kf_domxml_load(&x, xml, e);
	if (r < 0)
		return r;
	r = kf_domxml_read(x, c, e);
	kf_domxml_free(x);
	return r;
}

/* ---- writing ---- */

static xmlNodePtr find_pin(xmlNodePtr ct, const char *el, const char *attr, long long id)
{
	for (xmlNodePtr n = child(ct, el); n; n = next_el(n, el))
		if (prop_ll(n, attr) == id)
			return n;
	return NULL;
}

static void set_pin(xmlNodePtr root, const char *el, const char *attr, const struct kf_dompin *p)
{
	xmlNodePtr ct = ensure(root, "cputune");
	xmlNodePtr n = find_pin(ct, el, attr, p->id);
	if (!n) {
		n = lib.xmlNewChild(ct, NULL, X(el), NULL);
		setpll(n, attr, p->id);
	}
	setp(n, "cpuset", p->cpus);
}

static void set_cpu(xmlNodePtr root, const struct kf_domcfg *w)
{
	xmlNodePtr cpu = ensure(root, "cpu");
	setp(cpu, "mode", cpu_modes[w->cpu_mode]);
	if (w->cpu_mode == KF_CPU_CUSTOM) {
		setp(cpu, "match", "exact");
		xmlNodePtr m = ensure(cpu, "model");
		settext(m, w->cpu_model);
		setp(m, "fallback", "allow");
	} else {
		setp(cpu, "match", NULL);
		drop_all(cpu, "model");
		drop_all(cpu, "vendor");
		if (w->cpu_mode == KF_CPU_HOSTMODEL)
			drop_all(cpu, "feature");
	}
}

static void set_topology(xmlNodePtr root, const struct kf_domcfg *w)
{
	xmlNodePtr t = ensure(ensure(root, "cpu"), "topology");
	setpll(t, "sockets", w->sockets);
	setpll(t, "dies", w->dies == KF_UNSET ? 1 : w->dies);
	setpll(t, "cores", w->cores);
	setpll(t, "threads", w->threads);
}

static void set_vcpus(xmlNodePtr root, const struct kf_domcfg *w)
{
	xmlNodePtr v = ensure(root, "vcpu");
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", w->vcpu_max);
	settext(v, buf);
	if (w->vcpu_current != KF_UNSET && w->vcpu_current != w->vcpu_max)
		setpll(v, "current", w->vcpu_current);
	else
		setp(v, "current", NULL);
	/* <vcpus> (per-vCPU hotplug order) must agree with the count */
	drop(child(root, "vcpus"));
}

static void set_numatune(xmlNodePtr root, const struct kf_domcfg *w)
{
	xmlNodePtr nt = ensure(root, "numatune");
	xmlNodePtr m = child(nt, "memory");
	if (!m) {
		/* <memory> comes before <memnode> */
		m = lib.xmlNewNode(NULL, X("memory"));
		if (nt->children)
			lib.xmlAddPrevSibling(nt->children, m);
		else
			lib.xmlAddChild(nt, m);
	}
	setp(m, "mode", numa_modes[w->numa_mode < 0 ? KF_NUMA_STRICT : w->numa_mode]);
	if (w->numa_nodes) {
		setp(m, "placement", NULL);
		setp(m, "nodeset", w->numa_nodes);
	}
}

static void set_memnode(xmlNodePtr root, const struct kf_dommemnode *mn)
{
	xmlNodePtr nt = ensure(root, "numatune");
	xmlNodePtr n = find_pin(nt, "memnode", "cellid", mn->cell);
	if (!n) {
		n = lib.xmlNewChild(nt, NULL, X("memnode"), NULL);
		setpll(n, "cellid", mn->cell);
	}
	setp(n, "mode", numa_modes[mn->mode < 0 ? KF_NUMA_STRICT : mn->mode]);
	setp(n, "nodeset", mn->nodes);
}

static void set_balloon(xmlNodePtr root, const struct kf_domcfg *w)
{
	xmlNodePtr dev = ensure(root, "devices");
	xmlNodePtr b = child(dev, "memballoon");
	if (!b)
		b = lib.xmlNewChild(dev, NULL, X("memballoon"), NULL);
	int model = w->balloon < 0 ? KF_BALLOON_VIRTIO : w->balloon;
	char *old = prop(b, "model");
	if (!old || strcmp(old, balloons[model])) {
		/* another device: its address and options do not carry over */
		drop_all(b, "address");
		drop_all(b, "stats");
		drop_all(b, "driver");
		drop_all(b, "alias");
	}
	free(old);
	setp(b, "model", balloons[model]);
	if (model == KF_BALLOON_VIRTIO && w->stats_period != KF_UNSET) {
		xmlNodePtr s = child(b, "stats");
		if (!s) {
			s = lib.xmlNewNode(NULL, X("stats"));
			if (b->children)
				lib.xmlAddPrevSibling(b->children, s);
			else
				lib.xmlAddChild(b, s);
		}
		setpll(s, "period", w->stats_period);
	}
}

static void set_memtune(xmlNodePtr root, const struct kf_domcfg *w)
{
	static const char *const names[] = { "hard_limit", "soft_limit", "swap_hard_limit", "min_guarantee" };
	const long long vals[] = { w->hard_limit, w->soft_limit, w->swap_hard_limit, w->min_guarantee };
	xmlNodePtr mt = ensure(root, "memtune");
	for (size_t i = 0; i < 4; i++)
		if (vals[i] != KF_UNSET)
			set_kib(ensure(mt, names[i]), vals[i]);
}

static void set_hugepages(xmlNodePtr root, const struct kf_domcfg *w)
{
	xmlNodePtr mb = ensure(root, "memoryBacking");
	xmlNodePtr hp = child(mb, "hugepages");
	if (w->hugepages == KF_UNSET) {
		drop(hp);
		return;
	}
	if (hp)
		drop_all(hp, "page");
	else
		hp = lib.xmlNewChild(mb, NULL, X("hugepages"), NULL);
	if (w->hugepages > 0) {
		xmlNodePtr page = lib.xmlNewChild(hp, NULL, X("page"), NULL);
		setpll(page, "size", w->hugepages / 1024);
		setp(page, "unit", "KiB");
		if (w->hugepage_nodes)
			setp(page, "nodeset", w->hugepage_nodes);
	}
}

static void set_flag(xmlNodePtr root, const char *name, int on)
{
	xmlNodePtr mb = ensure(root, "memoryBacking");
	if (on == 1)
		ensure(mb, name);
	else
		drop_all(mb, name);
	if (!mb->children)
		drop(mb);
}

/* <source><address .../>; the hostdev form has no type attribute */
static void set_pci_source(xmlNodePtr src, const char *pci, bool typed)
{
	unsigned d, b, s, f;
	char buf[16];
	drop_all(src, "address");
	if (sscanf(pci, "%x:%x:%x.%x", &d, &b, &s, &f) != 4)
		return;
	xmlNodePtr a = lib.xmlNewChild(src, NULL, X("address"), NULL);
	if (typed)
		setp(a, "type", "pci");
	snprintf(buf, sizeof(buf), "0x%04x", d);
	setp(a, "domain", buf);
	snprintf(buf, sizeof(buf), "0x%02x", b);
	setp(a, "bus", buf);
	snprintf(buf, sizeof(buf), "0x%02x", s);
	setp(a, "slot", buf);
	snprintf(buf, sizeof(buf), "0x%x", f);
	setp(a, "function", buf);
}

/* The element of the idx-th wanted NIC: same MAC, else the idx-th. */
static xmlNodePtr find_nic(xmlNodePtr dev, const struct kf_domnic *want, size_t idx)
{
	size_t i = 0;
	if (want->mac)
		for (xmlNodePtr n = child(dev, "interface"); n; n = next_el(n, "interface")) {
			char *mac = prop(child(n, "mac"), "address"), buf[18];
			bool same = mac && kf_mac_norm(mac, buf) == 0 && !strcmp(buf, want->mac);
			free(mac);
			if (same)
				return n;
		}
	for (xmlNodePtr n = child(dev, "interface"); n; n = next_el(n, "interface"), i++)
		if (i == idx)
			return n;
	return NULL;
}

static void set_nic(xmlNodePtr root, const struct kf_domnic *w, size_t idx)
{
	xmlNodePtr dev = ensure(root, "devices");
	xmlNodePtr n = find_nic(dev, w, idx);
	if (!n)
		n = lib.xmlNewChild(dev, NULL, X("interface"), NULL);
	char *old = prop(n, "type");
	if (!old || strcmp(old, nic_types[w->type])) {
		drop_all(n, "source");
		drop_all(n, "target");
		drop_all(n, "model");
		drop_all(n, "driver");
		drop_all(n, "alias");
		drop_all(n, "virtualport");
		setp(n, "managed", NULL);
	}
	free(old);
	setp(n, "type", nic_types[w->type]);
	if (w->mac)
		setp(ensure(n, "mac"), "address", w->mac);
	xmlNodePtr src = ensure(n, "source");
	switch (w->type) {
	case KF_NIC_BRIDGE:
		setp(src, "bridge", w->source);
		drop_all(n, "virtualport");
		if (w->ovs)
			setp(ensure(n, "virtualport"), "type", "openvswitch");
		break;
	case KF_NIC_DIRECT:
		setp(src, "dev", w->source);
		setp(src, "mode", nic_modes[w->mode < 0 ? KF_NICM_VEPA : w->mode]);
		break;
	case KF_NIC_NETWORK: setp(src, "network", w->source); break;
	case KF_NIC_HOSTDEV:
		setp(n, "managed", "yes");
		set_pci_source(src, w->source, true);
		break;
	}
	if (w->type != KF_NIC_HOSTDEV) {
		if (w->model >= 0)
			setp(ensure(n, "model"), "type", nic_models[w->model]);
		if (w->driver >= 0 || w->queues != KF_UNSET) {
			xmlNodePtr d = ensure(n, "driver");
			if (w->driver >= 0)
				setp(d, "name", nic_drivers[w->driver]);
			if (w->queues != KF_UNSET)
				setpll(d, "queues", w->queues);
		}
	}
	if (w->boot > 0)
		setpll(ensure(n, "boot"), "order", w->boot);
}

static void set_hostdev(xmlNodePtr root, const struct kf_domhostdev *h)
{
	xmlNodePtr dev = ensure(root, "devices");
	xmlNodePtr n;
	for (n = child(dev, "hostdev"); n; n = next_el(n, "hostdev")) {
		char *pci = pci_of(child(child(n, "source"), "address"));
		bool same = pci && !strcmp(pci, h->pci);
		free(pci);
		if (same)
			break;
	}
	if (!n) {
		n = lib.xmlNewChild(dev, NULL, X("hostdev"), NULL);
		setp(n, "mode", "subsystem");
		setp(n, "type", "pci");
		set_pci_source(lib.xmlNewChild(n, NULL, X("source"), NULL), h->pci, false);
	}
	setp(n, "managed", h->managed ? "yes" : "no");
}

int kf_domxml_set(struct kf_domxml *x, const struct kf_domcfg *w, enum kf_domfield f, size_t idx,
		  struct kf_err *e)
{
	xmlNodePtr root = lib.xmlDocGetRootElement(x->doc);
	switch (f) {
	case KF_DF_VCPUS: set_vcpus(root, w); break;
	case KF_DF_CPU: set_cpu(root, w); break;
	case KF_DF_TOPOLOGY: set_topology(root, w); break;
	case KF_DF_VCPUPIN:
		if (idx >= w->nvcpupin)
			goto range;
		set_pin(root, "vcpupin", "vcpu", &w->vcpupin[idx]);
		break;
	case KF_DF_EMULATORPIN: setp(ensure(ensure(root, "cputune"), "emulatorpin"), "cpuset", w->emulatorpin); break;
	case KF_DF_IOTHREADS: {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", w->iothreads);
		drop(child(root, "iothreadids"));
		if (w->iothreads > 0) {
			settext(ensure(root, "iothreads"), buf);
		} else {
			drop(child(root, "iothreads"));
			drop_all(child(root, "cputune"), "iothreadpin");
		}
		break;
	}
	case KF_DF_IOTHREADPIN:
		if (idx >= w->niothreadpin)
			goto range;
		set_pin(root, "iothreadpin", "iothread", &w->iothreadpin[idx]);
		break;
	case KF_DF_NUMATUNE: set_numatune(root, w); break;
	case KF_DF_MEMNODE:
		if (idx >= w->nmemnodes)
			goto range;
		set_memnode(root, &w->memnodes[idx]);
		break;
	case KF_DF_MEMORY:
		set_kib(ensure(root, "memory"), w->memory);
		break;
	case KF_DF_CURMEM: set_kib(ensure(root, "currentMemory"), w->current_memory); break;
	case KF_DF_BALLOON: set_balloon(root, w); break;
	case KF_DF_MEMTUNE: set_memtune(root, w); break;
	case KF_DF_HUGEPAGES: set_hugepages(root, w); break;
	case KF_DF_NOSHAREPAGES: set_flag(root, "nosharepages", w->nosharepages); break;
	case KF_DF_LOCKED: set_flag(root, "locked", w->locked); break;
	case KF_DF_NIC:
		if (idx >= w->nnics)
			goto range;
		set_nic(root, &w->nics[idx], idx);
		break;
	case KF_DF_HOSTDEV:
		if (idx >= w->nhostdevs)
			goto range;
		set_hostdev(root, &w->hostdevs[idx]);
		break;
	}
	return 0;
range:
	return kf_errf(e, NULL, "domain XML: no wanted element %zu for this field", idx);
}

int kf_domxml_add_disk(struct kf_domxml *x, const char *path, const char *format, int boot,
		       struct kf_err *e)
{
	(void)e;
	xmlNodePtr dev = ensure(lib.xmlDocGetRootElement(x->doc), "devices");
	xmlNodePtr d = lib.xmlNewChild(dev, NULL, X("disk"), NULL);
	setp(d, "type", "file");
	setp(d, "device", "disk");
	xmlNodePtr drv = lib.xmlNewChild(d, NULL, X("driver"), NULL);
	setp(drv, "name", "qemu");
	setp(drv, "type", format);
	setp(lib.xmlNewChild(d, NULL, X("source"), NULL), "file", path);
	xmlNodePtr t = lib.xmlNewChild(d, NULL, X("target"), NULL);
	setp(t, "dev", "vda");
	setp(t, "bus", "virtio");
	if (boot > 0)
		setpll(lib.xmlNewChild(d, NULL, X("boot"), NULL), "order", boot);
	return 0;
}

/* ---- display ---- */

const char *kf_domcfg_size_str(long long bytes, char *buf, size_t len)
{
	if (bytes == KF_UNSET || bytes < 0)
		snprintf(buf, len, "-");
	else
		kf_size_fmt((uint64_t)bytes, buf, len);
	return buf;
}

const char *kf_domnic_str(const struct kf_domnic *n, char *buf, size_t len)
{
	struct kf_buf b = KF_BUF_INIT;
	if (!n) {
		snprintf(buf, len, "-");
		return buf;
	}
	kf_buf_printf(&b, "%s %s", n->type >= 0 ? nic_types[n->type] : "other", n->source ? n->source : "-");
	if (n->type == KF_NIC_DIRECT && n->mode >= 0)
		kf_buf_printf(&b, " mode %s", nic_modes[n->mode]);
	if (n->type == KF_NIC_BRIDGE && n->ovs)
		kf_buf_puts(&b, " openvswitch");
	if (n->type != KF_NIC_HOSTDEV) {
		kf_buf_printf(&b, " model %s", n->model >= 0 ? nic_models[n->model] : "default");
		if (n->driver >= 0)
			kf_buf_printf(&b, " driver %s", nic_drivers[n->driver]);
		if (n->queues != KF_UNSET)
			kf_buf_printf(&b, " queues %lld", n->queues);
	}
	if (n->mac)
		kf_buf_printf(&b, " mac %s", n->mac);
	snprintf(buf, len, "%s", b.s ? b.s : "");
	kf_buf_release(&b);
	return buf;
}

/* ---- from a profile's guest entry ---- */

static char *xdup(const char *s)
{
	return s ? kf_xstrdup(s) : NULL;
}

/* vCPUs, CPU model and topology, pinning, I/O threads. */
static void cpus_from_guest(struct kf_domcfg *c, const struct kf_p_guest *g)
{
	if (g->vcpus) {
		c->vcpu_max = g->vcpus->max;
		c->vcpu_current = g->vcpus->current != KF_UNSET ? g->vcpus->current : g->vcpus->max;
	}
	c->cpu_mode = g->cpu_mode;
	c->cpu_model = xdup(g->cpu_model);
	if (g->topology) {
		c->sockets = g->topology->sockets;
		c->dies = g->topology->dies == KF_UNSET ? 1 : g->topology->dies;
		c->cores = g->topology->cores;
		c->threads = g->topology->threads;
	}
	if (g->pinning) {
		const struct kf_p_pinning *p = g->pinning;
		for (size_t i = 0; i < p->vcpus.n; i++) {
			const struct kf_p_pin *pin = KF_LIST_AT(p->vcpus, struct kf_p_pin, i);
			add_pin(&c->vcpupin, &c->nvcpupin, pin->id, pin->cpus);
		}
		for (size_t i = 0; i < p->iothreads.n; i++) {
			const struct kf_p_pin *pin = KF_LIST_AT(p->iothreads, struct kf_p_pin, i);
			add_pin(&c->iothreadpin, &c->niothreadpin, pin->id, pin->cpus);
		}
		c->emulatorpin = cpulist(p->emulator);
	}
	c->iothreads = g->iothreads;
}

/* NUMA placement, memory size and balloon, limits, backing. */
static void memory_from_guest(struct kf_domcfg *c, const struct kf_p_guest *g)
{
	if (g->numatune) {
		c->numa_mode = g->numatune->mode < 0 ? KF_NUMA_STRICT : g->numatune->mode;
		c->numa_nodes = cpulist(g->numatune->nodes);
		for (size_t i = 0; i < g->numatune->memnodes.n; i++) {
			const struct kf_p_memnode *m = KF_LIST_AT(g->numatune->memnodes, struct kf_p_memnode, i);
			c->memnodes = kf_xrealloc(c->memnodes, (c->nmemnodes + 1) * sizeof(*c->memnodes));
			c->memnodes[c->nmemnodes].cell = m->cell;
			c->memnodes[c->nmemnodes].mode = m->mode < 0 ? KF_NUMA_STRICT : m->mode;
			c->memnodes[c->nmemnodes++].nodes = cpulist(m->nodes);
		}
	}
	if (g->memory) {
		c->memory = g->memory->size;
		c->current_memory = g->memory->current;
		c->balloon = g->memory->balloon;
		c->stats_period = g->memory->stats_period;
		if (c->stats_period != KF_UNSET && c->balloon < 0)
			c->balloon = KF_BALLOON_VIRTIO;
	}
	if (g->memtune) {
		c->hard_limit = g->memtune->hard_limit;
		c->soft_limit = g->memtune->soft_limit;
		c->swap_hard_limit = g->memtune->swap_hard_limit;
		c->min_guarantee = g->memtune->min_guarantee;
	}
	if (g->memory_backing) {
		c->hugepages = g->memory_backing->hugepages;
		c->hugepage_nodes = cpulist(g->memory_backing->nodeset);
		c->nosharepages = g->memory_backing->nosharepages;
		c->locked = g->memory_backing->locked;
	}
}

/* Interfaces (the first takes the guest's MAC when it names none) and PCI
 * devices. */
static void devices_from_guest(struct kf_domcfg *c, const struct kf_p_guest *g)
{
	c->nnics = g->interfaces.n;
	c->nics = kf_xcalloc(c->nnics ? c->nnics : 1, sizeof(*c->nics));
	for (size_t i = 0; i < c->nnics; i++) {
		const struct kf_p_nic *n = KF_LIST_AT(g->interfaces, struct kf_p_nic, i);
		struct kf_domnic *d = &c->nics[i];
		char buf[32];
		d->type = n->type;
		if (n->type == KF_NIC_HOSTDEV && kf_pci_norm(n->source, buf, sizeof(buf)) == 0)
			d->source = kf_xstrdup(buf);
		else
			d->source = xdup(n->source);
		d->mode = n->type == KF_NIC_DIRECT ? (n->mode < 0 ? KF_NICM_VEPA : n->mode) : -1;
		d->model = n->type == KF_NIC_HOSTDEV ? -1 : n->model;
		d->driver = n->type == KF_NIC_HOSTDEV ? -1 : n->driver;
		d->queues = n->queues;
		d->mac = xdup(n->mac ? n->mac : i == 0 ? g->mac : NULL);
	}
	c->nhostdevs = g->hostdevs.n;
	c->hostdevs = kf_xcalloc(c->nhostdevs ? c->nhostdevs : 1, sizeof(*c->hostdevs));
	for (size_t i = 0; i < c->nhostdevs; i++) {
		const struct kf_p_hostdev *h = KF_LIST_AT(g->hostdevs, struct kf_p_hostdev, i);
		c->hostdevs[i].pci = xdup(h->pci);
		c->hostdevs[i].managed = h->managed != 0;
	}
}

void kf_domcfg_from_guest(struct kf_domcfg *c, const struct kf_p_guest *g)
{
	kf_domcfg_init(c);
	c->name = xdup(g->name);
	cpus_from_guest(c, g);
	memory_from_guest(c, g);
	devices_from_guest(c, g);
}

void kf_domcfg_copy(struct kf_domcfg *d, const struct kf_domcfg *s)
{
	*d = *s;
	d->name = xdup(s->name);
	d->cpu_model = xdup(s->cpu_model);
	d->emulatorpin = xdup(s->emulatorpin);
	d->numa_nodes = xdup(s->numa_nodes);
	d->hugepage_nodes = xdup(s->hugepage_nodes);
	d->vcpupin = kf_xcalloc(s->nvcpupin ? s->nvcpupin : 1, sizeof(*d->vcpupin));
	for (size_t i = 0; i < s->nvcpupin; i++)
		d->vcpupin[i] = (struct kf_dompin){ s->vcpupin[i].id, xdup(s->vcpupin[i].cpus) };
	d->iothreadpin = kf_xcalloc(s->niothreadpin ? s->niothreadpin : 1, sizeof(*d->iothreadpin));
	for (size_t i = 0; i < s->niothreadpin; i++)
		d->iothreadpin[i] = (struct kf_dompin){ s->iothreadpin[i].id, xdup(s->iothreadpin[i].cpus) };
	d->memnodes = kf_xcalloc(s->nmemnodes ? s->nmemnodes : 1, sizeof(*d->memnodes));
	for (size_t i = 0; i < s->nmemnodes; i++) {
		d->memnodes[i] = s->memnodes[i];
		d->memnodes[i].nodes = xdup(s->memnodes[i].nodes);
	}
	d->nics = kf_xcalloc(s->nnics ? s->nnics : 1, sizeof(*d->nics));
	for (size_t i = 0; i < s->nnics; i++) {
		d->nics[i] = s->nics[i];
		d->nics[i].source = xdup(s->nics[i].source);
		d->nics[i].mac = xdup(s->nics[i].mac);
	}
	d->hostdevs = kf_xcalloc(s->nhostdevs ? s->nhostdevs : 1, sizeof(*d->hostdevs));
	for (size_t i = 0; i < s->nhostdevs; i++) {
		d->hostdevs[i] = s->hostdevs[i];
		d->hostdevs[i].pci = xdup(s->hostdevs[i].pci);
	}
}
