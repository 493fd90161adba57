/* The link kinds' table and the skeleton their resources share, the
 * parse, probe and diff helpers of every network resource, and the
 * ownership record (agent/net.h). */
#include "agent/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/engine.h"
#include "types.h"
#include "util.h"

/* ---- link kinds ---- */

extern const struct kf_net_kind kf_net_kind_bond, kf_net_kind_bridge, kf_net_kind_vlan, kf_net_kind_macvtap,
	kf_net_kind_ovs;
const struct kf_net_kind *const kf_net_kinds[] = {
	&kf_net_kind_bond,
	&kf_net_kind_bridge,
	&kf_net_kind_vlan,
	&kf_net_kind_macvtap,
	&kf_net_kind_ovs,
	NULL,
};

const struct kf_net_kind *kf_net_kind_of(const char *kind)
{
	for (size_t i = 0; kf_net_kinds[i]; i++)
		for (const char *const *k = kf_net_kinds[i]->kinds; *k; k++)
			if (!strcmp(*k, kind))
				return kf_net_kinds[i];
	return NULL;
}

static const struct kf_list *kind_list(const struct kf_net_kind *k, const struct kf_p_network *n)
{
	return (const struct kf_list *)((const char *)n + k->list_off);
}

size_t kf_net_kind_n(const struct kf_net_kind *k, const struct kf_p_network *n)
{
	return kind_list(k, n)->n;
}

const void *kf_net_kind_dev(const struct kf_net_kind *k, const struct kf_p_network *n, size_t i)
{
	return (const char *)kind_list(k, n)->v + i * k->size;
}

const char *kf_net_kind_name(const struct kf_net_kind *k, const void *dev)
{
	return *(const char *const *)((const char *)dev + k->name_off);
}

bool kf_net_kind_has(const struct kf_net_kind *k, const struct kf_p_network *n, const void *dev)
{
	for (size_t i = 0; kf_net_kinds[i]; i++)
		if (kf_net_kinds[i]->takes && kf_net_kinds[i]->takes(n, k->list_off, dev))
			return kf_net_kinds[i] == k;
	return !k->takes;
}

/* ---- the record of what the agent created ---- */

static const char *rec_word(char kind)
{
	return kind == 'd' ? "dev" : kind == 'p' ? "port" : "mac";
}

void kf_net_state_parse(const char *text, struct kf_net_state *st)
{
	memset(st, 0, sizeof(*st));
	const char *p = text;
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[128], w[8], a[32], b[32], c[32] = "";
		if (len < sizeof(line) && *p != '#') {
			memcpy(line, p, len);
			line[len] = 0;
			int n = sscanf(line, "%7s %31s %31s %31s", w, a, b, c);
			char k = !strcmp(w, "dev") ? 'd' : !strcmp(w, "port") ? 'p' : !strcmp(w, "mac") ? 'm' : 0;
			if (n >= 3 && k)
				kf_net_state_set(st, k, a, b, n == 4 ? c : "");
		}
		p = eol ? eol + 1 : NULL;
	}
}

char *kf_net_state_text(const struct kf_net_state *st)
{
	struct kf_buf b = KF_BUF_INIT;
	kf_buf_puts(&b, "# kickfleet-agent: network devices and ports it created (dev NAME KIND,\n"
			"# port MASTER PORT) and NICs it found by MAC (mac MAC NAME)\n");
	for (size_t i = 0; i < st->n; i++) {
		const struct kf_net_rec *r = &st->v[i];
		kf_buf_printf(&b, "%s %s %s%s%s\n", rec_word(r->kind), r->a, r->b, r->c[0] ? " " : "", r->c);
	}
	return kf_buf_detach(&b);
}

int kf_net_state_load(const char *path, struct kf_net_state *st)
{
	char *full = kf_path("%s", path), *text = NULL;
	int r = kf_read_file(full, 1u << 20, &text, NULL);
	free(full);
	memset(st, 0, sizeof(*st));
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	kf_net_state_parse(text, st);
	free(text);
	return 0;
}

int kf_net_state_save(const char *path, const struct kf_net_state *st)
{
	char *full = kf_path("%s", path);
	char *dir = kf_xstrdup(full), *slash = strrchr(dir, '/');
	char *text = kf_net_state_text(st);
	int r = 0;
	if (slash && slash != dir) {
		*slash = 0;
		r = kf_mkdir_p(dir, 0755);
	}
	if (!r)
		r = kf_write_ordered(full, text, strlen(text), 0644);
	free(text);
	free(dir);
	free(full);
	return r;
}

void kf_net_state_release(struct kf_net_state *st)
{
	if (!st)
		return;
	free(st->v);
	memset(st, 0, sizeof(*st));
}

static struct kf_net_rec *state_find(const struct kf_net_state *st, char kind, const char *a, const char *b)
{
	for (size_t i = 0; i < st->n; i++) {
		struct kf_net_rec *r = &st->v[i];
		if (r->kind == kind && !strcmp(r->a, a) && (!b || !strcmp(r->b, b)))
			return r;
	}
	return NULL;
}

bool kf_net_state_has(const struct kf_net_state *st, char kind, const char *a, const char *b)
{
	return state_find(st, kind, a, b) != NULL;
}

void kf_net_state_set(struct kf_net_state *st, char kind, const char *a, const char *b, const char *c)
{
	/* devices and MACs are keyed by a alone, ports by both */
	struct kf_net_rec *r = state_find(st, kind, a, kind == 'p' ? b : NULL);
	if (!r) {
		st->v = kf_xrealloc(st->v, (st->n + 1) * sizeof(*st->v));
		r = &st->v[st->n++];
		memset(r, 0, sizeof(*r));
	}
	r->kind = kind;
	snprintf(r->a, sizeof(r->a), "%s", a);
	snprintf(r->b, sizeof(r->b), "%s", b);
	snprintf(r->c, sizeof(r->c), "%s", c ? c : "");
}

void kf_net_state_del(struct kf_net_state *st, char kind, const char *a, const char *b)
{
	for (size_t i = 0; i < st->n;) {
		struct kf_net_rec *r = &st->v[i];
		if (r->kind == kind && !strcmp(r->a, a) && (!b || !strcmp(r->b, b)))
			memmove(r, r + 1, (--st->n - i) * sizeof(*r));
		else
			i++;
	}
}

const char *kf_net_owned(const struct kf_net_state *st, const char *name)
{
	const struct kf_net_rec *r = state_find(st, 'd', name, NULL);
	return r ? r->b : NULL;
}

/* ---- names ---- */

const char *kf_net_lookup(const struct kf_nl_snap *s, const struct kf_net_state *st, const char *ref)
{
	uint8_t mac[6];
	if (kf_mac_parse(ref, mac) < 0) {
		const struct kf_nl_link *l = kf_nl_by_name(s, ref);
		return l ? l->name : NULL;
	}
	const struct kf_nl_link *l = kf_nl_by_mac(s, mac);
	if (l)
		return l->name;
	/* a member of a bond wears the bond's MAC: use the name recorded when
	 * the agent enslaved it */
	char norm[18];
	kf_mac_fmt(mac, norm);
	const struct kf_net_rec *r = st ? state_find(st, 'm', norm, NULL) : NULL;
	l = r ? kf_nl_by_name(s, r->b) : NULL;
	return l ? l->name : NULL;
}

const char *kf_net_ifname(const struct kf_net_have *h, const char *ref)
{
	for (size_t i = 0; i < h->nalias; i++)
		if (!strcmp(h->alias[i].ref, ref))
			return h->alias[i].name[0] ? h->alias[i].name : ref;
	return ref;
}

/* The device of kind k called name in the profile, or NULL. */
static const void *kind_find(const struct kf_net_kind *k, const struct kf_p_network *n, const char *name)
{
	for (size_t i = 0; i < kf_net_kind_n(k, n); i++) {
		const void *dev = kf_net_kind_dev(k, n, i);
		if (!strcmp(kf_net_kind_name(k, dev), name))
			return dev;
	}
	return NULL;
}

bool kf_net_defined(const struct kf_p_network *n, const char *name)
{
	for (size_t i = 0; kf_net_kinds[i]; i++)
		if (kind_find(kf_net_kinds[i], n, name))
			return true;
	return false;
}

const struct kf_list *kf_net_ports_of(const struct kf_p_network *n, const char *name)
{
	for (size_t i = 0; kf_net_kinds[i]; i++) {
		const struct kf_net_kind *k = kf_net_kinds[i];
		const void *dev = k->ports ? kind_find(k, n, name) : NULL;
		if (dev)
			return k->ports(dev);
	}
	return NULL;
}

/* ---- one snapshot per run phase ----
 * Every network resource parses and probes the same links: the dump is
 * made once and copied; any change the agent applies drops it. */

static struct kf_nl_snap cache;
static bool cache_valid;
static uint32_t cache_target;
static int cache_oif;

void kf_net_cache_drop(void)
{
	kf_nl_snap_release(&cache);
	cache_valid = false;
}

static int snapshot(struct kf_nl_snap *out, uint32_t target, int *oif)
{
	struct kf_nl *nl = NULL;
	int r = 0;
	if (!cache_valid || (target && target != cache_target)) {
		kf_nl_snap_release(&cache);
		if ((r = kf_nl_open(&nl)) < 0 || (r = kf_nl_dump(nl, KF_NL_ALL, &cache)) < 0)
			goto out;
		cache_oif = 0;
		cache_target = target;
		if (target)
			kf_nl_route_get(nl, target, &cache_oif);
		cache_valid = true;
	}
	kf_nl_snap_copy(out, &cache);
	if (oif)
		*oif = target == cache_target ? cache_oif : 0;
out:
	kf_nl_close(nl);
	return r;
}

/* ---- parse ---- */

/* The live network is managed on the host, and under --root only when the
 * sysroot's /sys/class/net is the agent's own (a test root whose sys
 * points at /sys inside a network namespace). */
static bool net_live(void)
{
	if (kf_sysroot_is_host())
		return true;
	char *p = kf_path("/sys/class/net");
	struct stat a, b;
	bool same = stat(p, &a) == 0 && stat("/sys/class/net", &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino;
	free(p);
	return same;
}

/* host part of http://10.0.0.1:8080/x, when it is an IPv4 literal */
static uint32_t url_ipv4(const char *url)
{
	const char *p = url ? strstr(url, "://") : NULL;
	uint32_t a = 0;
	if (!p)
		return 0;
	p += 3;
	char host[64];
	size_t n = strcspn(p, ":/");
	if (n >= sizeof(host))
		return 0;
	memcpy(host, p, n);
	host[n] = 0;
	return kf_ipv4_parse(host, &a) == 0 ? htonl(a) : 0;
}

int kf_net_parse(struct kf_ctx *ctx, struct kf_net_want **out)
{
	*out = NULL;
	const struct kf_profile *p = ctx->profile;
	const struct kf_p_network *n = p->network;
	if (!n)
		return 0;
	struct kf_net_want *w = kf_xcalloc(1, sizeof(*w));
	w->net = n;
	w->live = net_live();
	const char *dir = ctx->state_dir ? ctx->state_dir
			  : p->agent && p->agent->state_dir ? p->agent->state_dir
							    : KF_STATE_DIR_DEFAULT;
	w->state_path = kf_xasprintf("%s/network.state", dir);
	w->timeout = n->rollback && n->rollback->timeout != KF_UNSET ? (int)n->rollback->timeout : 30;
	uint32_t t;
	if (n->rollback && n->rollback->target) {
		if (kf_ipv4_parse(n->rollback->target, &t) == 0)
			w->target = htonl(t);
	}
	else if (ctx->report_url && url_ipv4(ctx->report_url))
		w->target = url_ipv4(ctx->report_url);
	else if (ctx->profile_url)
		w->target = url_ipv4(ctx->profile_url);
	*out = w;
	return 0;
}

void kf_net_want_free(void *want)
{
	struct kf_net_want *w = want;
	if (!w)
		return;
	free(w->state_path);
	free(w);
}

void kf_net_ref_add(struct kf_net_refs *r, const void *obj, const char *key, const char *value,
		    const char *what_fmt, ...)
{
	char what[96];
	va_list ap;
	va_start(ap, what_fmt);
	vsnprintf(what, sizeof(what), what_fmt, ap);
	va_end(ap);
	r->v = kf_xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	r->v[r->n++] = (struct kf_net_ref){ obj, key, value, kf_xstrdup(what), false };
}

void kf_net_ref_alias(struct kf_net_refs *r, const char *value)
{
	if (!value)
		return;
	r->v = kf_xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	r->v[r->n++] = (struct kf_net_ref){ NULL, NULL, value, NULL, true };
}

void kf_net_refs_release(struct kf_net_refs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].what);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

void kf_net_check_refs(struct kf_ctx *ctx, const struct kf_net_want *w, const struct kf_net_refs *refs)
{
	size_t n = refs->n;
	if (!w || !w->live || !n)
		return;
	struct kf_nl_snap s = { 0 };
	struct kf_net_state st = { 0 };
	if (snapshot(&s, w->target, NULL) < 0)
		goto out; /* probe reports it */
	kf_net_state_load(w->state_path, &st);
	for (size_t i = 0; i < n; i++) {
		const struct kf_net_ref *x = &refs->v[i];
		if (x->alias_only || !x->value || kf_net_defined(w->net, x->value) || kf_net_lookup(&s, &st, x->value))
			continue;
		kf_errf(ctx->err, kf_mark_of(x->obj, x->key), "%s \"%s\" does not exist on this host", x->what,
			x->value);
	}
out:
	kf_net_state_release(&st);
	kf_nl_snap_release(&s);
}

/* ---- probe ---- */

static void add_alias(struct kf_net_have *h, const char *ref)
{
	if (!ref)
		return;
	for (size_t i = 0; i < h->nalias; i++)
		if (!strcmp(h->alias[i].ref, ref))
			return;
	h->alias = kf_xrealloc(h->alias, (h->nalias + 1) * sizeof(*h->alias));
	struct kf_net_alias *a = &h->alias[h->nalias++];
	memset(a, 0, sizeof(*a));
	a->ref = ref;
	const char *name = kf_net_lookup(&h->snap, &h->st, ref);
	if (name)
		snprintf(a->name, sizeof(a->name), "%s", name);
}

int kf_net_probe_links(struct kf_ctx *ctx, const void *desired, void **actual)
{
	struct kf_net_have *h = NULL;
	int r = kf_net_probe(ctx, desired, &h);
	*actual = h;
	return r;
}

int kf_net_probe(struct kf_ctx *ctx, const struct kf_net_want *w, struct kf_net_have **out)
{
	struct kf_net_have *h = kf_xcalloc(1, sizeof(*h));
	int r = 0;
	*out = h;
	kf_net_state_load(w->state_path, &h->st);
	if (!w->live)
		return 0;
	if ((r = snapshot(&h->snap, w->target, &h->target_oif)) < 0)
		return kf_errc(ctx->fail, r, NULL, "network: cannot read the links: %s", strerror(-r));
	const struct kf_p_network *n = w->net;
	struct kf_net_refs refs = { 0 };
	for (size_t k = 0; kf_net_kinds[k]; k++)
		for (size_t i = 0; i < kf_net_kind_n(kf_net_kinds[k], n); i++)
			kf_net_kinds[k]->refs(n, kf_net_kind_dev(kf_net_kinds[k], n, i), &refs);
	for (size_t i = 0; i < refs.n; i++)
		add_alias(h, refs.v[i].value);
	kf_net_refs_release(&refs);
	for (size_t i = 0; i < n->queues.n; i++)
		add_alias(h, KF_LIST_AT(n->queues, struct kf_p_queue, i)->device);
	for (size_t i = 0; i < n->sriov.n; i++)
		add_alias(h, KF_LIST_AT(n->sriov, struct kf_p_sriov, i)->device);
	return 0;
}

void kf_net_have_free(void *have)
{
	struct kf_net_have *h = have;
	if (!h)
		return;
	kf_nl_snap_release(&h->snap);
	kf_net_state_release(&h->st);
	free(h->alias);
	for (size_t i = 0; i < h->nqf; i++) {
		free(h->qf[i].path);
		free(h->qf[i].value);
	}
	free(h->qf);
	free(h->ch);
	for (size_t i = 0; i < h->nfiles; i++) {
		free(h->files[i].path);
		free(h->files[i].text);
	}
	free(h->files);
	free(h->persist_dir);
	if (h->own_kind && h->own_kind->free_own)
		h->own_kind->free_own(h->own);
	free(h);
}

/* ---- changes ---- */

void kf_net_op_free(void *op)
{
	struct kf_net_op *o = op;
	if (!o)
		return;
	free(o->path);
	free(o->text);
	free(o->priv);
	free(o);
}

struct kf_net_op *kf_net_change(struct kf_plan *plan, const char *res, int opk, const char *dev,
				const char *from, const char *to, const char *what_fmt, ...)
{
	char what[160];
	va_list ap;
	va_start(ap, what_fmt);
	vsnprintf(what, sizeof(what), what_fmt, ap);
	va_end(ap);
	struct kf_change *ch = kf_plan_add(plan, res, from, to, "%s", what);
	struct kf_net_op *op = kf_xcalloc(1, sizeof(*op));
	op->op = opk;
	op->val = -1;
	snprintf(op->dev, sizeof(op->dev), "%s", dev ? dev : "");
	ch->data = op;
	ch->free_data = kf_net_op_free;
	return op;
}

/* ---- the path to the rollback target ---- */

struct nameset {
	char v[64][KF_IFNAMSIZ];
	int n;
};

static bool ns_has(const struct nameset *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], name))
			return true;
	return false;
}

static bool ns_add(struct nameset *s, const char *name)
{
	if (!name || !*name || ns_has(s, name) || s->n == 64)
		return false;
	snprintf(s->v[s->n++], KF_IFNAMSIZ, "%s", name);
	return true;
}

/* The profile's masters of kind k and their ports join the set together. */
static bool path_ports(const struct kf_net_kind *k, const struct kf_p_network *n, const struct kf_net_have *h,
		       struct nameset *s)
{
	bool grew = false;
	for (size_t i = 0; k->ports && i < kf_net_kind_n(k, n); i++) {
		const void *dev = kf_net_kind_dev(k, n, i);
		const char *name = kf_net_kind_name(k, dev);
		const struct kf_list *ports = k->ports(dev);
		for (size_t j = 0; j < ports->n; j++) {
			const char *pname = kf_net_ifname(h, KF_LIST_STR(*ports, j));
			if (ns_has(s, pname))
				grew |= ns_add(s, name);
			if (ns_has(s, name))
				grew |= ns_add(s, pname);
		}
	}
	return grew;
}

bool kf_net_on_path(const struct kf_net_want *w, const struct kf_net_have *h, const char *dev)
{
	if (!w->target || !h->target_oif)
		return false;
	struct nameset s = { .n = 0 };
	ns_add(&s, kf_nl_name(&h->snap, h->target_oif));
	const struct kf_p_network *n = w->net;
	bool grew = true;
	while (grew) {
		grew = false;
		for (size_t i = 0; i < h->snap.nlinks; i++) {
			const struct kf_nl_link *l = &h->snap.links[i];
			const char *m = kf_nl_name(&h->snap, l->master);
			if (ns_has(&s, l->name) && l->master)
				grew |= ns_add(&s, m);
			if (l->master && ns_has(&s, m))
				grew |= ns_add(&s, l->name);
		}
		for (size_t k = 0; kf_net_kinds[k]; k++)
			grew |= path_ports(kf_net_kinds[k], n, h, &s);
	}
	return ns_has(&s, dev);
}

void kf_net_guard(struct kf_net_op *op, const struct kf_net_want *w, const struct kf_net_have *h)
{
	op->w = w;
	op->guarded = kf_net_on_path(w, h, op->dev) || (op->arg[0] && kf_net_on_path(w, h, op->arg));
}

/* ---- the skeleton of a link kind's resource ---- */

int kf_net_link_parse(struct kf_ctx *ctx, const struct kf_net_kind *k, void **desired)
{
	struct kf_net_want *w = NULL;
	struct kf_net_refs refs = { 0 };
	int r = kf_net_parse(ctx, &w);
	*desired = w;
	if (r < 0 || !w)
		return r;
	for (size_t i = 0; i < kf_net_kind_n(k, w->net); i++) {
		const void *dev = kf_net_kind_dev(k, w->net, i);
		if (!kf_net_kind_has(k, w->net, dev))
			continue;
		if (k->check)
			k->check(ctx, w, dev);
		k->refs(w->net, dev, &refs);
	}
	kf_net_check_refs(ctx, w, &refs);
	kf_net_refs_release(&refs);
	return 0;
}

int kf_net_link_probe(struct kf_ctx *ctx, const struct kf_net_kind *k, const void *desired, void **actual)
{
	struct kf_net_have *h = NULL;
	const struct kf_net_want *w = desired;
	int r = kf_net_probe(ctx, w, &h);
	*actual = h;
	bool any = false;
	for (size_t i = 0; k->probe && i < kf_net_kind_n(k, w->net); i++)
		any |= kf_net_kind_has(k, w->net, kf_net_kind_dev(k, w->net, i));
	for (size_t i = 0; k->probe && h && i < h->st.n; i++) /* devices it made that may have to go */
		any |= h->st.v[i].kind == 'd' && !strcmp(h->st.v[i].b, k->kinds[0]);
	if (r == 0 && any && w->live) {
		h->own_kind = k;
		r = k->probe(ctx, w, h);
	}
	return r;
}

/* Deletes devices of k's kernel kinds the agent created and the profile
 * no longer has. */
static void diff_gone(const struct kf_net_dx *d)
{
	const struct kf_net_have *h = d->h;
	for (const char *const *kind = d->k->kinds; *kind; kind++)
		for (size_t i = 0; i < h->st.n; i++) {
			const struct kf_net_rec *r = &h->st.v[i];
			const void *dev = r->kind == 'd' ? kind_find(d->k, d->w->net, r->a) : NULL;
			if (r->kind != 'd' || strcmp(r->b, *kind) || (dev && kf_net_kind_has(d->k, d->w->net, dev)))
				continue;
			const struct kf_nl_link *l = kf_nl_by_name(&h->snap, r->a);
			if (d->k->exists ? !d->k->exists(h, r->a) : !l || strcmp(l->kind, *kind))
				continue;
			struct kf_net_op *op = kf_net_change(d->plan, d->k->res, KF_NOP_DELETE, r->a, *kind, NULL, "%s",
							     r->a);
			op->kind = *kind;
			op->owned = true;
		}
}

int kf_net_link_diff(const struct kf_net_kind *k, const void *desired, const void *actual, struct kf_plan *plan)
{
	const struct kf_net_want *w = desired;
	const struct kf_net_have *h = actual;
	const struct kf_net_dx d = { plan, k, w, h };
	size_t n = kf_net_kind_n(k, w->net), first = plan->n;
	if (!w->live) {
		if (n)
			kf_plan_note(plan, k->res, "%s: links not managed under this --root", k->res);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		const void *dev = kf_net_kind_dev(k, w->net, i);
		if (kf_net_kind_has(k, w->net, dev))
			k->diff(&d, dev, kf_nl_by_name(&h->snap, kf_net_kind_name(k, dev)));
	}
	diff_gone(&d);
	for (size_t i = first; i < plan->n; i++) {
		struct kf_net_op *op = plan->v[i].data;
		op->lk = k;
		kf_net_guard(op, w, h);
	}
	return 0;
}

/* ---- diff helpers ---- */

struct kf_net_op *kf_net_create(const struct kf_net_dx *d, const void *dev, const struct kf_nl_link *l,
				const char *kind, const char *lower, const char *from, const char *to)
{
	const char *name = kf_net_kind_name(d->k, dev);
	struct kf_net_op *op = kf_net_change(d->plan, d->k->res, l ? KF_NOP_RECREATE : KF_NOP_CREATE, name,
					     l ? from : NULL, to, "%s", name);
	op->kind = kind;
	op->want = dev;
	op->owned = kf_net_owned(&d->h->st, name) != NULL;
	if (lower)
		snprintf(op->arg, sizeof(op->arg), "%s", lower);
	return op;
}

struct kf_net_op *kf_net_opt(const struct kf_net_dx *d, const char *dev, const char *opt, const char *from,
			     const char *to)
{
	struct kf_net_op *op = kf_net_change(d->plan, d->k->res, KF_NOP_OPT, dev, from, to, "%s %s", dev, opt);
	op->opt = opt;
	return op;
}

void kf_net_diff_link(const struct kf_net_dx *d, const struct kf_nl_link *l, long long mtu, const char *mac)
{
	char a[32], b[32];
	if (mtu != KF_UNSET && l->mtu != (unsigned)mtu) {
		snprintf(a, sizeof(a), "%u", l->mtu);
		snprintf(b, sizeof(b), "%lld", mtu);
		kf_net_change(d->plan, d->k->res, KF_NOP_MTU, l->name, a, b, "%s mtu", l->name)->val = mtu;
	}
	if (mac) {
		kf_mac_fmt(l->mac, a);
		if (strcmp(a, mac))
			kf_net_change(d->plan, d->k->res, KF_NOP_MAC, l->name, a, mac, "%s mac", l->name)->text =
				kf_xstrdup(mac);
	}
	if (!(l->flags & 1 /* IFF_UP */))
		kf_net_change(d->plan, d->k->res, KF_NOP_UP, l->name, "down", "up", "%s state", l->name);
}

void kf_net_diff_ports(const struct kf_net_dx *d, const char *master, const struct kf_list *ports)
{
	const struct kf_net_have *h = d->h;
	const struct kf_nl_link *ml = kf_nl_by_name(&h->snap, master);
	for (size_t i = 0; i < ports->n; i++) {
		const char *ref = KF_LIST_STR(*ports, i);
		const char *name = kf_net_ifname(h, ref);
		const struct kf_nl_link *pl = kf_nl_by_name(&h->snap, name);
		if (pl && ml && pl->master == ml->ifindex)
			continue;
		const char *cur = pl && pl->master ? kf_nl_name(&h->snap, pl->master) : "none";
		struct kf_net_op *op = kf_net_change(d->plan, d->k->res, KF_NOP_MASTER, master, cur, master,
						     "%s master", name);
		snprintf(op->arg, sizeof(op->arg), "%s", name);
		op->ref = ref;
	}
	/* ports the agent enslaved that the profile dropped */
	for (size_t i = 0; ml && i < h->st.n; i++) {
		const struct kf_net_rec *r = &h->st.v[i];
		if (r->kind != 'p' || strcmp(r->a, master))
			continue;
		bool wanted = false;
		for (size_t j = 0; j < ports->n; j++)
			wanted |= !strcmp(kf_net_ifname(h, KF_LIST_STR(*ports, j)), r->b);
		const struct kf_nl_link *pl = kf_nl_by_name(&h->snap, r->b);
		if (wanted || !pl || pl->master != ml->ifindex)
			continue;
		struct kf_net_op *op = kf_net_change(d->plan, d->k->res, KF_NOP_RELEASE, master, master, "none",
						     "%s master", r->b);
		snprintf(op->arg, sizeof(op->arg), "%.15s", r->b);
	}
}

/* ---- pure helpers ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join_sorted(char **v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_str);
	struct kf_buf b = KF_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (i)
			kf_buf_puts(&b, ",");
		kf_buf_puts(&b, v[i]);
		free(v[i]);
	}
	free(v);
	return kf_buf_detach(&b);
}

char *kf_net_addrs_str(const struct kf_nl_snap *s, int ifindex)
{
	char **v = kf_xcalloc(s->naddrs + 1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < s->naddrs; i++) {
		if (s->addrs[i].ifindex != ifindex)
			continue;
		char ip[16];
		kf_ipv4_fmt(ntohl(s->addrs[i].addr), ip);
		v[n++] = kf_xasprintf("%s/%d", ip, s->addrs[i].prefix);
	}
	return join_sorted(v, n);
}

char *kf_net_list_str(const struct kf_list *cidrs)
{
	char **v = kf_xcalloc(cidrs->n + 1, sizeof(*v));
	for (size_t i = 0; i < cidrs->n; i++)
		v[i] = kf_xstrdup(KF_LIST_STR(*cidrs, i));
	return join_sorted(v, cidrs->n);
}
