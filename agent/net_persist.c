/* Resource "net-persist": the host's own network configuration for the
 * bonds, bridges, VLANs and macvtaps of the profile, so they come back
 * after a reboot: systemd-networkd .netdev/.network files or NetworkManager
 * keyfiles (network.persist; auto detects which the host runs).  Files are
 * named 50-kickfleet-* / kickfleet-* and written atomically; files of that
 * name the profile no longer yields are removed.  Queues and SR-IOV are
 * not in these files: the agent's boot-time apply sets them. */
#include <dirent.h>
#include <errno.h>
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

static const char *const bond_modes[] = { "balance-rr", "active-backup", "balance-xor", "broadcast",
					  "802.3ad", "balance-tlb", "balance-alb" };
static const char *const hashes[] = { "layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4" };
static const char *const mv_modes[] = { "vepa", "bridge", "private", "passthru" };

/* one device's configuration being built */
struct dev {
	const char *ref;      /* name or MAC as in the profile */
	struct kf_buf net;    /* networkd [Network] lines / NM [connection] extras */
	const char *master, *slave_type;
	bool primary;
};

struct devs {
	struct dev v[256];
	size_t n;
};

static struct dev *dev_of(struct devs *d, const char *ref)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].ref, ref))
			return &d->v[i];
	if (d->n == KF_ARRAY_SIZE(d->v))
		return &d->v[d->n - 1];
	struct dev *x = &d->v[d->n++];
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

/* Who attaches to what: the same for both formats. */
static void roles(const struct kf_p_network *n, struct devs *d)
{
	for (size_t i = 0; i < n->bonds.n; i++) {
		const struct kf_p_bond *b = KF_LIST_AT(n->bonds, struct kf_p_bond, i);
		dev_of(d, b->name);
		for (size_t j = 0; j < b->members.n; j++) {
			struct dev *m = dev_of(d, KF_LIST_STR(b->members, j));
			m->master = b->name;
			m->slave_type = "bond";
			m->primary = b->primary && !strcmp(b->primary, m->ref);
		}
	}
	for (size_t i = 0; i < n->bridges.n; i++) {
		const struct kf_p_bridge *b = KF_LIST_AT(n->bridges, struct kf_p_bridge, i);
		dev_of(d, b->name);
		for (size_t j = 0; j < b->ports.n; j++) {
			struct dev *p = dev_of(d, KF_LIST_STR(b->ports, j));
			p->master = b->name;
			p->slave_type = "bridge";
		}
	}
	for (size_t i = 0; i < n->vlans.n; i++) {
		const struct kf_p_vlan *v = KF_LIST_AT(n->vlans, struct kf_p_vlan, i);
		dev_of(d, v->name);
		kf_buf_printf(&dev_of(d, v->link)->net, "VLAN=%s\n", v->name);
	}
	for (size_t i = 0; i < n->macvtaps.n; i++) {
		const struct kf_p_macvtap *m = KF_LIST_AT(n->macvtaps, struct kf_p_macvtap, i);
		dev_of(d, m->name);
		kf_buf_printf(&dev_of(d, m->link)->net, "%s=%s\n", m->kind == KF_MV_MACVLAN ? "MACVLAN" : "MACVTAP",
			      m->name);
	}
}

static const struct kf_p_bridge *bridge_named(const struct kf_p_network *n, const char *name)
{
	for (size_t i = 0; i < n->bridges.n; i++)
		if (!strcmp(KF_LIST_AT(n->bridges, struct kf_p_bridge, i)->name, name))
			return KF_LIST_AT(n->bridges, struct kf_p_bridge, i);
	return NULL;
}

/* ---- systemd-networkd ---- */

static void nd_netdev_head(struct kf_buf *b, const char *name, const char *kind, long long mtu, const char *mac)
{
	kf_buf_printf(b, HEADER "[NetDev]\nName=%s\nKind=%s\n", name, kind);
	if (mtu != KF_UNSET)
		kf_buf_printf(b, "MTUBytes=%lld\n", mtu);
	if (mac)
		kf_buf_printf(b, "MACAddress=%s\n", mac);
}

static void nd_netdevs(const struct kf_p_network *n, struct kf_net_file **files, size_t *nf)
{
	struct kf_buf b = KF_BUF_INIT;
	for (size_t i = 0; i < n->bonds.n; i++) {
		const struct kf_p_bond *x = KF_LIST_AT(n->bonds, struct kf_p_bond, i);
		nd_netdev_head(&b, x->name, "bond", x->mtu, x->mac);
		kf_buf_printf(&b, "\n[Bond]\nMode=%s\n", bond_modes[x->mode]);
		if (x->miimon != KF_UNSET)
			kf_buf_printf(&b, "MIIMonitorSec=%lldms\n", x->miimon);
		long long up = kf_net_bond_delay(x->updelay, x->miimon), dn = kf_net_bond_delay(x->downdelay, x->miimon);
		if (up != KF_UNSET)
			kf_buf_printf(&b, "UpDelaySec=%lldms\n", up);
		if (dn != KF_UNSET)
			kf_buf_printf(&b, "DownDelaySec=%lldms\n", dn);
		if (x->mode == KF_BOND_8023AD && x->lacp_rate >= 0)
			kf_buf_printf(&b, "LACPTransmitRate=%s\n", x->lacp_rate ? "fast" : "slow");
		if (x->xmit_hash_policy >= 0)
			kf_buf_printf(&b, "TransmitHashPolicy=%s\n", hashes[x->xmit_hash_policy]);
		add_file(files, nf, kf_xasprintf(ND_DIR "/50-kickfleet-%s.netdev", x->name), kf_buf_detach(&b));
	}
	for (size_t i = 0; i < n->bridges.n; i++) {
		const struct kf_p_bridge *x = KF_LIST_AT(n->bridges, struct kf_p_bridge, i);
		nd_netdev_head(&b, x->name, "bridge", x->mtu, x->mac);
		kf_buf_printf(&b, "\n[Bridge]\nSTP=%s\n", x->stp == 1 ? "yes" : "no");
		if (x->forward_delay != KF_UNSET)
			kf_buf_printf(&b, "ForwardDelaySec=%lld\n", x->forward_delay);
		add_file(files, nf, kf_xasprintf(ND_DIR "/50-kickfleet-%s.netdev", x->name), kf_buf_detach(&b));
	}
	for (size_t i = 0; i < n->vlans.n; i++) {
		const struct kf_p_vlan *x = KF_LIST_AT(n->vlans, struct kf_p_vlan, i);
		nd_netdev_head(&b, x->name, "vlan", x->mtu, NULL);
		kf_buf_printf(&b, "\n[VLAN]\nId=%lld\n", x->id);
		add_file(files, nf, kf_xasprintf(ND_DIR "/50-kickfleet-%s.netdev", x->name), kf_buf_detach(&b));
	}
	for (size_t i = 0; i < n->macvtaps.n; i++) {
		const struct kf_p_macvtap *x = KF_LIST_AT(n->macvtaps, struct kf_p_macvtap, i);
		bool tap = x->kind != KF_MV_MACVLAN;
		nd_netdev_head(&b, x->name, tap ? "macvtap" : "macvlan", x->mtu, x->mac);
		kf_buf_printf(&b, "\n[%s]\nMode=%s\n", tap ? "MACVTAP" : "MACVLAN", mv_modes[x->mode]);
		add_file(files, nf, kf_xasprintf(ND_DIR "/50-kickfleet-%s.netdev", x->name), kf_buf_detach(&b));
	}
}

static void nd_networks(const struct kf_p_network *n, struct devs *d, struct kf_net_file **files, size_t *nf)
{
	for (size_t i = 0; i < d->n; i++) {
		struct dev *x = &d->v[i];
		struct kf_buf b = KF_BUF_INIT;
		const struct kf_p_bridge *br = bridge_named(n, x->ref);
		kf_buf_puts(&b, HEADER "[Match]\n");
		if (is_mac(x->ref))
			kf_buf_printf(&b, "PermanentMACAddress=%s\n", x->ref);
		else
			kf_buf_printf(&b, "Name=%s\n", x->ref);
		kf_buf_puts(&b, "\n[Network]\n");
		if (x->master)
			kf_buf_printf(&b, "%s=%s\n", !strcmp(x->slave_type, "bond") ? "Bond" : "Bridge", x->master);
		if (x->primary)
			kf_buf_puts(&b, "PrimarySlave=yes\n");
		for (size_t j = 0; br && j < br->addresses.n; j++)
			kf_buf_printf(&b, "Address=%s\n", KF_LIST_STR(br->addresses, j));
		if (br && br->gateway)
			kf_buf_printf(&b, "Gateway=%s\n", br->gateway);
		if (!br || !br->addresses.n)
			kf_buf_puts(&b, "LinkLocalAddressing=no\n");
		kf_buf_puts(&b, "ConfigureWithoutCarrier=yes\n");
		if (x->net.len)
			kf_buf_add(&b, x->net.s, x->net.len);
		char *id = ident(x->ref);
		add_file(files, nf, kf_xasprintf(ND_DIR "/50-kickfleet-%s.network", id), kf_buf_detach(&b));
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

static void nm_head(struct kf_buf *b, const char *ref, const char *type, const struct dev *x)
{
	char *id = ident(ref), uuid[37];
	char *cid = kf_xasprintf("kickfleet-%s", id);
	uuid_of(cid, uuid);
	kf_buf_printf(b, HEADER "[connection]\nid=%s\nuuid=%s\ntype=%s\n", cid, uuid, type);
	if (!is_mac(ref))
		kf_buf_printf(b, "interface-name=%s\n", ref);
	if (x && x->master)
		kf_buf_printf(b, "master=%s\nslave-type=%s\n", x->master, x->slave_type);
	kf_buf_puts(b, "autoconnect=true\n");
	if (is_mac(ref))
		kf_buf_printf(b, "\n[ethernet]\nmac-address=%s\n", ref);
	free(cid);
	free(id);
}

static void nm_ip(struct kf_buf *b, const struct dev *x, const struct kf_p_bridge *br)
{
	if (x && x->master)
		return; /* a port has no IP configuration of its own */
	if (br && br->addresses.n) {
		kf_buf_puts(b, "\n[ipv4]\nmethod=manual\n");
		for (size_t j = 0; j < br->addresses.n; j++)
			kf_buf_printf(b, "address%zu=%s%s%s\n", j + 1, KF_LIST_STR(br->addresses, j),
				      j == 0 && br->gateway ? "," : "", j == 0 && br->gateway ? br->gateway : "");
	} else {
		kf_buf_puts(b, "\n[ipv4]\nmethod=disabled\n");
	}
	kf_buf_puts(b, "\n[ipv6]\nmethod=ignore\n");
}

static void nm_file(struct kf_net_file **files, size_t *nf, const char *ref, struct kf_buf *b)
{
	char *id = ident(ref);
	add_file(files, nf, kf_xasprintf(NM_DIR "/kickfleet-%s.nmconnection", id), kf_buf_detach(b));
	free(id);
}

static void nm_render(const struct kf_p_network *n, struct devs *d, struct kf_net_file **files, size_t *nf)
{
	struct kf_buf b = KF_BUF_INIT;
	for (size_t i = 0; i < n->bonds.n; i++) {
		const struct kf_p_bond *x = KF_LIST_AT(n->bonds, struct kf_p_bond, i);
		struct dev *dx = dev_of(d, x->name);
		nm_head(&b, x->name, "bond", dx);
		kf_buf_printf(&b, "\n[bond]\nmode=%s\n", bond_modes[x->mode]);
		if (x->miimon != KF_UNSET)
			kf_buf_printf(&b, "miimon=%lld\n", x->miimon);
		long long up = kf_net_bond_delay(x->updelay, x->miimon), dn = kf_net_bond_delay(x->downdelay, x->miimon);
		if (up != KF_UNSET)
			kf_buf_printf(&b, "updelay=%lld\n", up);
		if (dn != KF_UNSET)
			kf_buf_printf(&b, "downdelay=%lld\n", dn);
		if (x->mode == KF_BOND_8023AD && x->lacp_rate >= 0)
			kf_buf_printf(&b, "lacp_rate=%s\n", x->lacp_rate ? "fast" : "slow");
		if (x->xmit_hash_policy >= 0)
			kf_buf_printf(&b, "xmit_hash_policy=%s\n", hashes[x->xmit_hash_policy]);
		if (x->primary)
			kf_buf_printf(&b, "primary=%s\n", x->primary);
		nm_ip(&b, dx, NULL);
		nm_file(files, nf, x->name, &b);
	}
	for (size_t i = 0; i < n->bridges.n; i++) {
		const struct kf_p_bridge *x = KF_LIST_AT(n->bridges, struct kf_p_bridge, i);
		nm_head(&b, x->name, "bridge", dev_of(d, x->name));
		kf_buf_printf(&b, "\n[bridge]\nstp=%s\n", x->stp == 1 ? "true" : "false");
		if (x->forward_delay != KF_UNSET)
			kf_buf_printf(&b, "forward-delay=%lld\n", x->forward_delay);
		if (x->mac)
			kf_buf_printf(&b, "mac-address=%s\n", x->mac);
		nm_ip(&b, dev_of(d, x->name), x);
		nm_file(files, nf, x->name, &b);
	}
	for (size_t i = 0; i < n->vlans.n; i++) {
		const struct kf_p_vlan *x = KF_LIST_AT(n->vlans, struct kf_p_vlan, i);
		struct dev *dx = dev_of(d, x->name);
		nm_head(&b, x->name, "vlan", dx);
		kf_buf_printf(&b, "\n[vlan]\nid=%lld\nparent=%s\n", x->id, x->link);
		nm_ip(&b, dx, NULL);
		nm_file(files, nf, x->name, &b);
	}
	for (size_t i = 0; i < n->macvtaps.n; i++) {
		const struct kf_p_macvtap *x = KF_LIST_AT(n->macvtaps, struct kf_p_macvtap, i);
		static const int nm_mode[] = { 1, 2, 3, 4 }; /* vepa bridge private passthru */
		nm_head(&b, x->name, "macvlan", NULL);
		kf_buf_printf(&b, "\n[macvlan]\nmode=%d\nparent=%s\ntap=%s\n", nm_mode[x->mode], x->link,
			      x->kind == KF_MV_MACVLAN ? "false" : "true");
		nm_ip(&b, NULL, NULL);
		nm_file(files, nf, x->name, &b);
	}
	/* NICs that are ports or members */
	for (size_t i = 0; i < d->n; i++) {
		struct dev *x = &d->v[i];
		if (!x->master || kf_net_defined(n, x->ref))
			continue;
		nm_head(&b, x->ref, "ethernet", x);
		nm_file(files, nf, x->ref, &b);
	}
}

int kf_net_render(const struct kf_p_network *n, int kind, struct kf_net_file **files, size_t *nfiles)
{
	*files = NULL;
	*nfiles = 0;
	struct devs *d = kf_xcalloc(1, sizeof(*d));
	roles(n, d);
	if (kind == KF_PERSIST_NETWORKD) {
		nd_netdevs(n, files, nfiles);
		nd_networks(n, d, files, nfiles);
	} else if (kind == KF_PERSIST_NM) {
		nm_render(n, d, files, nfiles);
	}
	for (size_t i = 0; i < d->n; i++)
		kf_buf_release(&d->v[i].net);
	free(d);
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
	if (h->persist == KF_PERSIST_NONE && w->net->persist == KF_PERSIST_AUTO &&
	    (w->net->bonds.n || w->net->bridges.n || w->net->vlans.n || w->net->macvtaps.n))
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
		/* keyfiles hold no secrets here, but NetworkManager ignores group/world-readable ones */
		if (!r)
			r = kf_write_atomic(full, op->text, strlen(op->text),
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
