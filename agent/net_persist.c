/* Resource "net-persist": the host's own network configuration for the
 * links of the profile, so they come back after a reboot:
 * systemd-networkd .netdev/.network files or NetworkManager keyfiles
 * (network.persist; auto detects which the host runs).  Each link kind
 * writes its own devices (its persist_nd and persist_nm, agent/net.h);
 * this file writes what every link shares: the .network of each link
 * named, masters and ports, addresses, the keyfiles' head and IP
 * sections, the NICs that are ports.  Files are named 50-kickfleet-* /
 * kickfleet-* and written atomically; files of that name the profile no
 * longer yields are removed.  Queues and SR-IOV are not in these files:
 * the agent's boot-time apply sets them. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/hostio.h"
#include "agent/net.h"
#include "types.h"
#include "util.h"

#define ND_DIR "/etc/systemd/network"
#define NM_DIR "/etc/NetworkManager/system-connections"
#define HEADER "# written by kickfleet-agent from the host's profile; changes here are undone\n"

/* one link's configuration being built */
struct dev {
	const char *ref;      /* name or MAC as in the profile */
	struct kf_buf top;    /* networkd [Network] lines before the addresses */
	struct kf_buf tail;   /* ... and after them (the links on top of it) */
	const char *master, *slave_type;
	const struct kf_list *addrs; /* IPv4 addresses, NULL: none */
	const char *gateway;
};

struct kf_net_pw {
	const struct kf_p_network *n;
	struct dev *v;
	size_t nv;
	struct kf_net_file *files;
	size_t nfiles;
	struct kf_buf cur;    /* the NetworkManager keyfile being written */
	const char *cur_ref;
};

static struct dev *dev_of(struct kf_net_pw *pw, const char *ref)
{
	for (size_t i = 0; i < pw->nv; i++)
		if (!strcmp(pw->v[i].ref, ref))
			return &pw->v[i];
	pw->v = kf_xrealloc(pw->v, (pw->nv + 1) * sizeof(*pw->v));
	struct dev *x = &pw->v[pw->nv++];
	memset(x, 0, sizeof(*x));
	x->ref = ref;
	return x;
}

static bool is_mac(const char *ref)
{
	uint8_t m[6];
	return kf_mac_parse(ref, m) == 0;
}

static char *ident(const char *ref)
{
	char *s = kf_xstrdup(ref);
	char *o = s;
	for (const char *p = ref; *p; p++)
		if (*p != ':')
			*o++ = *p;
	*o = 0;
	return s;
}

static void add_file(struct kf_net_file **files, size_t *n, char *path, char *text)
{
	*files = kf_xrealloc(*files, (*n + 1) * sizeof(**files));
	(*files)[*n].path = path;
	(*files)[*n].text = text;
	(*n)++;
}

/* Who attaches to what, the same for both formats: every device and every
 * link it names, in the profile's order, and the masters of ports. */
static void roles(struct kf_net_pw *pw)
{
	for (size_t k = 0; kf_net_kinds[k]; k++) {
		const struct kf_net_kind *lk = kf_net_kinds[k];
		for (size_t i = 0; i < kf_net_kind_n(lk, pw->n); i++) {
			const void *dev = kf_net_kind_dev(lk, pw->n, i);
			const char *name = kf_net_kind_name(lk, dev);
			struct kf_net_refs refs = { 0 };
			if (!kf_net_kind_has(lk, pw->n, dev))
				continue;
			dev_of(pw, name);
			lk->refs(pw->n, dev, &refs);
			for (size_t j = 0; j < refs.n; j++)
				if (!refs.v[j].alias_only)
					dev_of(pw, refs.v[j].value);
			kf_net_refs_release(&refs);
			const struct kf_list *ports = lk->ports && lk->port_of ? lk->ports(dev) : NULL;
			for (size_t j = 0; ports && j < ports->n; j++) {
				struct dev *p = dev_of(pw, KF_LIST_STR(*ports, j));
				p->master = name;
				p->slave_type = lk->port_of;
			}
		}
	}
}

void kf_net_pw_l3(struct kf_net_pw *pw, const char *ref, const struct kf_list *addrs, const char *gateway)
{
	struct dev *x = dev_of(pw, ref);
	x->addrs = addrs && addrs->n ? addrs : NULL;
	x->gateway = x->addrs ? gateway : NULL;
}

/* ---- systemd-networkd ---- */

struct kf_buf *kf_nd_netdev(struct kf_net_pw *pw, const char *name, const char *kind, long long mtu,
			    const char *mac)
{
	struct kf_buf *b = &pw->cur;
	kf_nd_end(pw);
	pw->cur_ref = name;
	kf_buf_printf(b, HEADER "[NetDev]\nName=%s\nKind=%s\n", name, kind);
	if (mtu != KF_UNSET)
		kf_buf_printf(b, "MTUBytes=%lld\n", mtu);
	if (mac)
		kf_buf_printf(b, "MACAddress=%s\n", mac);
	return b;
}

void kf_nd_end(struct kf_net_pw *pw)
{
	if (!pw->cur_ref)
		return;
	add_file(&pw->files, &pw->nfiles, kf_xasprintf(ND_DIR "/50-kickfleet-%s.netdev", pw->cur_ref),
		 kf_buf_detach(&pw->cur));
	pw->cur_ref = NULL;
}

void kf_nd_line(struct kf_net_pw *pw, const char *ref, bool tail, const char *fmt, ...)
{
	struct dev *x = dev_of(pw, ref);
	char line[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	kf_buf_printf(tail ? &x->tail : &x->top, "%s\n", line);
}

/* The .network of every link the profile names. */
static void nd_networks(struct kf_net_pw *pw)
{
	for (size_t i = 0; i < pw->nv; i++) {
		struct dev *x = &pw->v[i];
		struct kf_buf b = KF_BUF_INIT;
		kf_buf_puts(&b, HEADER "[Match]\n");
		if (is_mac(x->ref))
			kf_buf_printf(&b, "PermanentMACAddress=%s\n", x->ref);
		else
			kf_buf_printf(&b, "Name=%s\n", x->ref);
		kf_buf_puts(&b, "\n[Network]\n");
		if (x->master)
			kf_buf_printf(&b, "%c%s=%s\n", x->slave_type[0] - 'a' + 'A', x->slave_type + 1, x->master);
		if (x->top.len)
			kf_buf_add(&b, x->top.s, x->top.len);
		for (size_t j = 0; x->addrs && j < x->addrs->n; j++)
			kf_buf_printf(&b, "Address=%s\n", KF_LIST_STR(*x->addrs, j));
		if (x->gateway)
			kf_buf_printf(&b, "Gateway=%s\n", x->gateway);
		if (!x->addrs)
			kf_buf_puts(&b, "LinkLocalAddressing=no\n");
		kf_buf_puts(&b, "ConfigureWithoutCarrier=yes\n");
		if (x->tail.len)
			kf_buf_add(&b, x->tail.s, x->tail.len);
		char *id = ident(x->ref);
		add_file(&pw->files, &pw->nfiles, kf_xasprintf(ND_DIR "/50-kickfleet-%s.network", id), kf_buf_detach(&b));
		free(id);
	}
}

/* ---- NetworkManager keyfiles ---- */

static uint64_t fnv(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

/* A stable UUID per connection id, so the same profile writes the same file. */
static void uuid_of(const char *id, char out[37])
{
	uint64_t a = fnv(id, 0xcbf29ce484222325ULL), b = fnv(id, 0x84222325cbf29ce4ULL);
	snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
		 (unsigned)(0x5000 | (a & 0x0fff)), (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
		 (unsigned long long)(b & 0xffffffffffffULL));
}

struct kf_buf *kf_nm_conn(struct kf_net_pw *pw, const char *ref, const char *type)
{
	struct kf_buf *b = &pw->cur;
	kf_nm_end(pw);
	const struct dev *x = dev_of(pw, ref);
	pw->cur_ref = ref;
	char *id = ident(ref), uuid[37];
	char *cid = kf_xasprintf("kickfleet-%s", id);
	uuid_of(cid, uuid);
	kf_buf_printf(b, HEADER "[connection]\nid=%s\nuuid=%s\ntype=%s\n", cid, uuid, type);
	if (!is_mac(ref))
		kf_buf_printf(b, "interface-name=%s\n", ref);
	if (x->master)
		kf_buf_printf(b, "master=%s\nslave-type=%s\n", x->master, x->slave_type);
	kf_buf_puts(b, "autoconnect=true\n");
	if (is_mac(ref))
		kf_buf_printf(b, "\n[ethernet]\nmac-address=%s\n", ref);
	free(cid);
	free(id);
	return b;
}

/* A port has no IP configuration of its own. */
static void nm_ip(struct kf_buf *b, const struct dev *x)
{
	if (x->master)
		return;
	if (x->addrs) {
		kf_buf_puts(b, "\n[ipv4]\nmethod=manual\n");
		for (size_t j = 0; j < x->addrs->n; j++)
			kf_buf_printf(b, "address%zu=%s%s%s\n", j + 1, KF_LIST_STR(*x->addrs, j),
				      j == 0 && x->gateway ? "," : "", j == 0 && x->gateway ? x->gateway : "");
	} else {
		kf_buf_puts(b, "\n[ipv4]\nmethod=disabled\n");
	}
	kf_buf_puts(b, "\n[ipv6]\nmethod=ignore\n");
}

void kf_nm_end(struct kf_net_pw *pw)
{
	if (!pw->cur_ref)
		return;
	const struct dev *x = dev_of(pw, pw->cur_ref);
	nm_ip(&pw->cur, x);
	char *id = ident(pw->cur_ref);
	add_file(&pw->files, &pw->nfiles, kf_xasprintf(NM_DIR "/kickfleet-%s.nmconnection", id),
		 kf_buf_detach(&pw->cur));
	free(id);
	pw->cur_ref = NULL;
}

/* NICs that are ports or members. */
static void nm_ports(struct kf_net_pw *pw)
{
	for (size_t i = 0; i < pw->nv; i++) {
		const char *ref = pw->v[i].ref;
		if (!pw->v[i].master || kf_net_defined(pw->n, ref))
			continue;
		kf_nm_conn(pw, ref, "ethernet");
		kf_nm_end(pw);
	}
}

int kf_net_render(const struct kf_p_network *n, int kind, struct kf_net_file **files, size_t *nfiles)
{
	struct kf_net_pw pw = { .n = n };
	roles(&pw);
	for (size_t k = 0; kf_net_kinds[k]; k++) {
		const struct kf_net_kind *lk = kf_net_kinds[k];
		void (*render)(struct kf_net_pw *, const void *) = kind == KF_PERSIST_NETWORKD ? lk->persist_nd
								  : kind == KF_PERSIST_NM	 ? lk->persist_nm
											 : NULL;
		for (size_t i = 0; render && i < kf_net_kind_n(lk, n); i++) {
			if (!kf_net_kind_has(lk, n, kf_net_kind_dev(lk, n, i)))
				continue;
			render(&pw, kf_net_kind_dev(lk, n, i));
			if (kind == KF_PERSIST_NETWORKD)
				kf_nd_end(&pw);
			else
				kf_nm_end(&pw);
		}
	}
	if (kind == KF_PERSIST_NETWORKD)
		nd_networks(&pw);
	else if (kind == KF_PERSIST_NM)
		nm_ports(&pw);
	for (size_t i = 0; i < pw.nv; i++) {
		kf_buf_release(&pw.v[i].top);
		kf_buf_release(&pw.v[i].tail);
	}
	free(pw.v);
	kf_buf_release(&pw.cur);
	*files = pw.files;
	*nfiles = pw.nfiles;
	return 0;
}

/* ---- the resource ---- */

static int detect(void)
{
	if (kf_host_exists("/run/NetworkManager") || kf_proc_running("NetworkManager"))
		return KF_PERSIST_NM;
	if (kf_host_exists("/run/systemd/netif") || kf_proc_running("systemd-networkd"))
		return KF_PERSIST_NETWORKD;
	if (kf_host_exists(NM_DIR))
		return KF_PERSIST_NM;
	if (kf_host_exists(ND_DIR))
		return KF_PERSIST_NETWORKD;
	return KF_PERSIST_NONE;
}

static int persist_parse(struct kf_ctx *ctx, void **desired)
{
	struct kf_net_want *w = NULL;
	int r = kf_net_parse(ctx, &w);
	*desired = w;
	return r;
}

static int persist_probe(struct kf_ctx *ctx, const void *desired, void **actual)
{
	(void)ctx;
	const struct kf_net_want *w = desired;
	struct kf_net_have *h = kf_xcalloc(1, sizeof(*h));
	*actual = h;
	h->persist = w->net->persist == KF_PERSIST_AUTO ? detect() : w->net->persist;
	/* the agent's files in both places: a switch of stack removes the old ones */
	const char *dirs[] = { ND_DIR, NM_DIR };
	const char *pfx[] = { "50-kickfleet-", "kickfleet-" };
	for (int k = 0; k < 2; k++) {
		char *dir = kf_path("%s", dirs[k]);
		DIR *d = opendir(dir);
		free(dir);
		if (!d)
			continue;
		struct dirent *de;
		while ((de = readdir(d))) {
			if (strncmp(de->d_name, pfx[k], strlen(pfx[k])))
				continue;
			char *rel = kf_xasprintf("%s/%s", dirs[k], de->d_name), *text = NULL;
			if (kf_host_read(rel, &text) < 0)
				text = NULL;
			add_file(&h->files, &h->nfiles, rel, text);
		}
		closedir(d);
	}
	return 0;
}

/* kf_host_read trims trailing space: compare the same way */
static bool same_text(const char *have, const char *want)
{
	size_t n = strlen(want);
	while (n && (want[n - 1] == '\n' || want[n - 1] == ' '))
		n--;
	return have && strlen(have) == n && !strncmp(have, want, n);
}

static int persist_diff(struct kf_ctx *ctx, const void *desired, const void *actual, struct kf_plan *plan)
{
	(void)ctx;
	const struct kf_net_want *w = desired;
	const struct kf_net_have *h = actual;
	struct kf_net_file *want = NULL;
	size_t nwant = 0;
	size_t ndev = 0;
	for (size_t k = 0; kf_net_kinds[k]; k++)
		ndev += kf_net_kind_n(kf_net_kinds[k], w->net);
	if (h->persist == KF_PERSIST_NONE && w->net->persist == KF_PERSIST_AUTO && ndev)
		kf_plan_note(plan, "net-persist", "neither systemd-networkd nor NetworkManager found: links not persisted");
	kf_net_render(w->net, h->persist, &want, &nwant);
	for (size_t i = 0; i < nwant; i++) {
		const char *have = NULL;
		bool exists = false;
		for (size_t j = 0; j < h->nfiles; j++)
			if (!strcmp(h->files[j].path, want[i].path)) {
				have = h->files[j].text;
				exists = true;
			}
		if (!same_text(have, want[i].text)) {
			struct kf_net_op *op = kf_net_change(plan, "net-persist", KF_NOP_FILE, "", exists ? "differs" : NULL,
							     "written", "%s", want[i].path);
			op->path = kf_xstrdup(want[i].path);
			op->text = kf_xstrdup(want[i].text);
			op->w = w;
		}
	}
	for (size_t j = 0; j < h->nfiles; j++) {
		bool wanted = false;
		for (size_t i = 0; i < nwant; i++)
			wanted |= !strcmp(h->files[j].path, want[i].path);
		if (!wanted) {
			struct kf_net_op *op = kf_net_change(plan, "net-persist", KF_NOP_FILE, "", "present", "(absent)",
							     "%s", h->files[j].path);
			op->path = kf_xstrdup(h->files[j].path);
			op->w = w;
		}
	}
	for (size_t i = 0; i < nwant; i++) {
		free(want[i].path);
		free(want[i].text);
	}
	free(want);
	return 0;
}

static int persist_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	(void)ctx;
	struct kf_net_op *op = ch->data;
	int r;
	if (op->text) {
		char *full = kf_path("%s", op->path);
		char *dir = kf_xstrdup(full), *slash = strrchr(dir, '/');
		*slash = 0;
		r = kf_mkdir_p(dir, 0755);
		/* keyfiles hold no secrets here, but NetworkManager ignores
		 * group/world-readable ones; ordered, as kf_etc_write: whole
		 * after a crash, old or new, and the next boot's run compares */
		if (!r)
			r = kf_write_ordered(full, op->text, strlen(op->text),
					    strstr(op->path, ".nmconnection") ? 0600 : 0644);
		free(dir);
		free(full);
	} else {
		char *full = kf_path("%s", op->path);
		r = unlink(full) < 0 && errno != ENOENT ? -errno : 0;
		free(full);
	}
	if (r < 0)
		ch->reason = kf_xasprintf("%s: %s", op->path, strerror(-r));
	return r;
}

const struct kf_resource kf_res_net_persist = {
	.name = "net-persist",
	.section = "network",
	.parse = persist_parse,
	.probe = persist_probe,
	.diff = persist_diff,
	.apply = persist_apply,
	.free_desired = kf_net_want_free,
	.free_actual = kf_net_have_free,
};
