/* kickfleet render: the incremental renderer.  See render.h. */
#include "provision/render.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "kickstart/kscheck.h"
#include "provision/discovery.h"
#include "provision/distro.h"
#include "provision/render_int.h"
#include "provision/state.h"
#include "sha256.h"

/* Bump when the renderers' output changes, so every host is re-rendered. */
#define RENDER_VERSION "kickfleet-render-1"

struct paths {
	char *state_dir;
	char *root[KF_ROOT_COUNT]; /* dnsmasq dir, TFTP root, HTTP root */
	char *db, *lock, *journal;
	char *base;
};

struct rctx {
	const struct kf_inventory *inv;
	const struct kf_render_opts *o;
	struct paths p;
	struct kt_cache cache;
	struct kt_template **tmpl; /* per role */
	char (*role_digest)[65];   /* per role */
	char shared[65];
	struct kf_wbatch *wb;
	struct kf_render_stats *stats;
	struct kf_arena scratch;
	struct kf_hash *role_prefix; /* per role: shared + role digest hashed */
	/* store_begin .. store_commit (teardown rolls back and unlocks) */
	int lockfd;
	struct kf_state *st, *own; /* own: opened here, closed by teardown */
	bool batch;
};

static void paths_release(struct paths *p)
{
	free(p->state_dir);
	for (int i = 0; i < KF_ROOT_COUNT; i++)
		free(p->root[i]);
	free(p->db);
	free(p->lock);
	free(p->journal);
	free(p->base);
	memset(p, 0, sizeof(*p));
}

static void paths_init(struct paths *p, const struct kf_inventory *inv, const char *outdir)
{
	const struct kf_i_provisioner *pr = inv->provisioner;
	if (outdir) {
		p->state_dir = kf_xstrdup(outdir);
		p->root[KF_ROOT_TFTP] = kf_xasprintf("%s/tftp", outdir);
		p->root[KF_ROOT_HTTP] = kf_xasprintf("%s/http", outdir);
	} else {
		p->state_dir = kf_xstrdup(pr->state_dir ? pr->state_dir : "/var/lib/kickfleet");
		p->root[KF_ROOT_TFTP] = kf_xstrdup(pr->tftp_root ? pr->tftp_root : "/var/lib/kickfleet/tftp");
		p->root[KF_ROOT_HTTP] = kf_xstrdup(pr->http_root ? pr->http_root : "/var/lib/kickfleet/http");
	}
	p->root[KF_ROOT_DNSMASQ] = kf_xasprintf("%s/dnsmasq", p->state_dir);
	p->db = kf_inventory_state_location(inv);
	if (!p->db)
		p->db = kf_xasprintf("%s/state.db", p->state_dir);
	p->lock = kf_xasprintf("%s/render.lock", p->state_dir);
	p->journal = kf_xasprintf("%s/render.journal", p->state_dir);
	p->base = kf_render_base_url(inv);
}

char *kf_render_state_path(const struct kf_inventory *inv, const char *outdir)
{
	struct paths p;
	paths_init(&p, inv, outdir);
	char *db = kf_xstrdup(p.db);
	paths_release(&p);
	return db;
}

/* ---- digests ---- */

static void hash_vars(struct kf_hash *h, const struct kf_list *vars)
{
	for (size_t i = 0; i < vars->n; i++) {
		const struct kf_i_var *v = KF_LIST_AT(*vars, struct kf_i_var, i);
		kf_hash_str(h, v->key);
		kf_hash_str(h, v->value);
	}
	kf_hash_str(h, "--");
}

static void hash_ll(struct kf_hash *h, long long v)
{
	kf_hash_update(h, &v, sizeof(v));
}

static void shared_digest(struct rctx *c)
{
	const struct kf_inventory *inv = c->inv;
	const struct kf_i_provisioner *p = inv->provisioner;
	struct kf_hash h;
	kf_hash_init(&h);
	kf_hash_str(&h, RENDER_VERSION);
	/* a shared store's digests are of several trees: this one's must
	 * differ from another instance's, or its files would be taken as
	 * current where they were never written */
	if (kf_state_shared(c->p.db))
		for (int i = 0; i < KF_ROOT_COUNT; i++)
			kf_hash_str(&h, c->p.root[i]);
	kf_hash_str(&h, c->p.base);
	kf_hash_str(&h, p->address);
	kf_hash_str(&h, p->subnet);
	kf_hash_str(&h, p->interface);
	hash_ll(&h, p->installed_boot);
	hash_ll(&h, p->http_port);
	if (p->dhcp) {
		hash_ll(&h, p->dhcp->mode);
		kf_hash_str(&h, p->dhcp->dns);
		kf_hash_str(&h, p->dhcp->router);
	}
	const struct kf_i_defaults *d = inv->defaults;
	if (d) {
		kf_hash_str(&h, d->root_password_hash);
		kf_hash_str(&h, d->console);
		kf_hash_str(&h, d->timezone);
		kf_hash_str(&h, d->kernel_args);
		for (size_t i = 0; i < d->ssh_keys.n; i++)
			kf_hash_str(&h, KF_LIST_STR(d->ssh_keys, i));
		hash_vars(&h, &d->vars);
	}
	kf_hash_hex(&h, c->shared);
}

/* An include: relative to the including file, else as a role file (the
 * fleet's directory, then the shipped data), else in the shipped templates'
 * directory, where a template copied out of it finds its snippets. */
static char *resolve_include(const char *from, const char *name, void *ctx)
{
	const struct kf_inventory *inv = ctx;
	if (name[0] == '/')
		return kf_xstrdup(name);
	const char *slash = strrchr(from, '/');
	char *p = slash ? kf_xasprintf("%.*s/%s", (int)(slash - from), from, name) : kf_xstrdup(name);
	if (access(p, R_OK) == 0)
		return p;
	free(p);
	p = kf_inventory_path(inv, name);
	if (access(p, R_OK) == 0)
		return p;
	char *rel = kf_xasprintf("kickstart/%s", name);
	char *shipped = kf_inventory_path(inv, rel);
	free(rel);
	if (access(shipped, R_OK) == 0) {
		free(p);
		return shipped;
	}
	free(shipped);
	return p; /* nowhere: the error names the role-file path */
}

/* Loads every role's template and digests role + distro + template. */
static int load_roles(struct rctx *c, struct kf_err *e)
{
	const struct kf_inventory *inv = c->inv;
	size_t n = inv->roles.n;
	c->tmpl = kf_xcalloc(n + 1, sizeof(*c->tmpl));
	c->role_digest = kf_xcalloc(n + 1, sizeof(*c->role_digest));
	c->role_prefix = kf_xcalloc(n + 1, sizeof(*c->role_prefix));
	kt_cache_init(&c->cache, resolve_include, (void *)inv);
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		const struct kf_i_role *ro = KF_LIST_AT(inv->roles, struct kf_i_role, i);
		char *path = kf_inventory_path(inv, ro->kickstart);
		if (kt_load(&c->cache, path, &c->tmpl[i], e) < 0)
			r = -EINVAL;
		free(path);
		const struct kf_i_distro *d = kf_inventory_distro(inv, ro->distro);
		struct kf_hash h;
		kf_hash_init(&h);
		kf_hash_str(&h, ro->name);
		kf_hash_str(&h, ro->kernel_args);
		kf_hash_str(&h, ro->profile);
		hash_vars(&h, &ro->vars);
		if (d) {
			kf_hash_str(&h, d->name);
			hash_ll(&h, d->family);
			kf_hash_str(&h, d->tree);
			kf_hash_str(&h, d->kernel_args);
			/* a re-import (kickfleet distro import) re-renders its hosts */
			kf_hash_str(&h, d->kernel_sha256);
			kf_hash_str(&h, d->initrd_sha256);
		}
		kf_hash_str(&h, c->tmpl[i] ? kt_digest(c->tmpl[i]) : "");
		kf_hash_hex(&h, c->role_digest[i]);
		kf_hash_init(&c->role_prefix[i]);
		kf_hash_update(&c->role_prefix[i], c->shared, sizeof(c->shared));
		kf_hash_update(&c->role_prefix[i], c->role_digest[i], sizeof(c->role_digest[i]));
	}
	return r;
}

static void item_digest(struct rctx *c, const struct kf_item *it, const char *token,
			bool netboot, char out[65])
{
	struct kf_hash h = c->role_prefix[it->role_idx]; /* shared + role, hashed once */
	kf_hash_str(&h, it->name);
	hash_ll(&h, it->kind);
	for (size_t i = 0; i < it->nmacs; i++)
		kf_hash_str(&h, it->macs[i]);
	kf_hash_str(&h, "--");
	kf_hash_str(&h, it->ip);
	hash_ll(&h, it->firmware);
	hash_ll(&h, netboot);
	kf_hash_str(&h, token);
	if (it->host) {
		kf_hash_str(&h, it->host->disk);
		hash_ll(&h, it->host->memory);
		hash_vars(&h, &it->host->vars);
	} else {
		kf_hash_str(&h, it->guest->host);
		hash_ll(&h, it->guest->vcpus);
		hash_ll(&h, it->guest->memory);
		hash_ll(&h, it->guest->disk);
		hash_vars(&h, &it->guest->vars);
	}
	kf_hash_hex(&h, out);
}

/* ---- files of one host ---- */

static char *root_path(struct rctx *c, int root, const char *rel)
{
	return kf_xasprintf("%s/%s", c->p.root[root], rel);
}

static int put(struct rctx *c, int root, const char *rel, struct kf_buf *b, mode_t mode,
	       struct kf_err *e)
{
	char *path = root_path(c, root, rel);
	/* dnsmasq reads a new file in its hostsdir/optsdir through inotify
	 * by itself; only a replaced (or removed) one needs the SIGHUP that
	 * makes it forget the old records */
	bool replaced = root == KF_ROOT_DNSMASQ && access(path, F_OK) == 0;
	int r = kf_wbatch_put(c->wb, path, b->s ? b->s : "", b->len, mode, e);
	if (r > 0) {
		c->stats->written++;
		if (replaced)
			c->stats->dnsmasq_changed = true;
		if (c->o->verbose && c->o->log)
			fprintf(c->o->log, "  write %s\n", path);
	}
	free(path);
	b->len = 0;
	return r < 0 ? r : 0;
}

static void drop(struct rctx *c, int root, const char *rel)
{
	char *path = root_path(c, root, rel);
	if (kf_wbatch_remove(c->wb, path) > 0) {
		if (root == KF_ROOT_DNSMASQ)
			c->stats->dnsmasq_changed = true;
		if (c->o->verbose && c->o->log)
			fprintf(c->o->log, "  remove %s\n", path);
	}
	free(path);
}

static bool uses(const struct kf_loader *l, int firmware)
{
	return firmware == KF_FW_AUTO || (l->firmwares & (1u << firmware));
}

/* Removes the files a host had (per its state row) that it has no more;
 * keep is NULL for a deleted host. */
static void drop_stale(struct rctx *c, const struct kf_host_rec *rec, const struct kf_item *keep)
{
	if (!keep) {
		char *rel = kf_xasprintf("hosts/%s", rec->name);
		drop(c, KF_ROOT_DNSMASQ, rel);
		free(rel);
		rel = kf_xasprintf("opts/%s", rec->name);
		drop(c, KF_ROOT_DNSMASQ, rel);
		free(rel);
		rel = kf_xasprintf("ks/%s", rec->name);
		drop(c, KF_ROOT_HTTP, rel);
		free(rel);
	}
	for (size_t m = 0; m < rec->nmacs; m++) {
		const char *mac = rec->macs[m];
		for (size_t i = 0; kf_loaders[i]; i++) {
			const struct kf_loader *l = kf_loaders[i];
			bool still = false;
			for (size_t j = 0; keep && j < keep->nmacs; j++)
				still |= !strcmp(keep->macs[j], mac) && uses(l, keep->firmware);
			if (still)
				continue;
			char *rel = l->path(mac);
			drop(c, l->root, rel);
			free(rel);
		}
	}
}

static int render_item(struct rctx *c, const struct kf_item *it, const char *token, bool netboot,
		       struct kf_err *e)
{
	const struct kf_inventory *inv = c->inv;
	struct kf_arena *a = &c->scratch;
	struct kf_buf b = KF_BUF_INIT;
	char *rel = NULL;
	int r = 0;
	bool ignore = !netboot && inv->provisioner->installed_boot == KF_IB_IGNORE;
	bool proxy = inv->provisioner->dhcp && inv->provisioner->dhcp->mode == KF_DHCP_PROXY;

	kf_dnsmasq_host(&b, it->name, it->macs, it->nmacs, it->ip, proxy, ignore);
	rel = kf_xasprintf("hosts/%s", it->name);
	if ((r = put(c, KF_ROOT_DNSMASQ, rel, &b, 0644, e)) < 0)
		goto out;
	free(rel);
	kf_dnsmasq_opts(&b, it->name, it->macs, it->nmacs, it->firmware, ignore);
	rel = kf_xasprintf("opts/%s", it->name);
	if ((r = put(c, KF_ROOT_DNSMASQ, rel, &b, 0644, e)) < 0)
		goto out;
	free(rel);
	rel = NULL;

	struct kf_boot boot;
	kf_render_boot(a, inv, it, token, c->p.base, netboot ? KF_BOOT_INSTALL : KF_BOOT_LOCAL, &boot);
	for (size_t i = 0; kf_loaders[i]; i++) {
		const struct kf_loader *l = kf_loaders[i];
		if (!uses(l, it->firmware))
			continue;
		if (l->render(&boot, &b) < 0) {
			r = kf_errf(e, it->mark, "host %s: cannot write a %s config (a quote, newline or "
						 "\"${\" in its kernel arguments?)", it->name, l->name);
			goto out;
		}
		for (size_t m = 0; m < it->nmacs; m++) {
			struct kf_buf copy = KF_BUF_INIT;
			kf_buf_add(&copy, b.s, b.len);
			rel = l->path(it->macs[m]);
			r = put(c, l->root, rel, &copy, 0644, e);
			kf_buf_release(&copy);
			free(rel);
			rel = NULL;
			if (r < 0)
				goto out;
		}
		b.len = 0;
	}

	const struct kt_template *t = c->tmpl[it->role_idx];
	struct kt_obj *root = kf_render_ctx(a, inv, it, token, c->p.base);
	char who[128];
	snprintf(who, sizeof(who), "host %s", it->name);
	enum kt_format fmt = kt_format_of(kt_path(t));
	if ((r = kt_render(t, root, fmt, who, &b, e)) < 0)
		goto out;
	if (fmt == KT_FMT_KICKSTART) {
		char *name = kf_xasprintf("kickstart of %s (from %s)", it->name, kt_path(t));
		r = kf_kscheck(name, b.s, b.len, e);
		free(name);
		if (r < 0)
			goto out;
	}
	rel = kf_xasprintf("ks/%s", it->name);
	r = put(c, KF_ROOT_HTTP, rel, &b, 0600, e);
out:
	free(rel);
	kf_buf_release(&b);
	return r;
}

/* Default configs, entry files, dnsmasq.conf: rewritten when they differ. */
static int render_shared(struct rctx *c, struct kf_err *e)
{
	const struct kf_inventory *inv = c->inv;
	struct kf_buf b = KF_BUF_INIT;
	int r = 0;
	struct kf_dnsmasq_paths dp = { c->p.root[KF_ROOT_DNSMASQ], c->p.root[KF_ROOT_TFTP], c->p.base };
	kf_dnsmasq_conf(inv, &dp, &b);
	if ((r = put(c, KF_ROOT_DNSMASQ, "dnsmasq.conf", &b, 0644, e)) < 0)
		goto out;
	int mode = inv->provisioner->unknown_hosts == KF_UNKNOWN_DISCOVERY ? KF_BOOT_DISCOVERY
									  : KF_BOOT_LOCAL;
	struct kf_boot boot;
	kf_render_boot(&c->scratch, inv, NULL, NULL, c->p.base, mode, &boot);
	for (size_t i = 0; kf_loaders[i]; i++) {
		const struct kf_loader *l = kf_loaders[i];
		char *rel = NULL;
		if (l->render(&boot, &b) < 0) {
			r = kf_errf(e, NULL, "cannot write the default %s config", l->name);
			goto out;
		}
		rel = l->path(NULL);
		r = put(c, l->root, rel, &b, 0644, e);
		free(rel);
		if (r < 0)
			goto out;
		if (l->entry) {
			l->entry(c->p.base, &rel, &b);
			r = put(c, l->root, rel, &b, 0644, e);
			free(rel);
			if (r < 0)
				goto out;
		}
	}
out:
	kf_buf_release(&b);
	return r;
}

/* ---- state rows ---- */

/* The rows' digests, found by name through an open-addressing table. */
struct recs {
	struct kf_host_digest *v;
	size_t n, mask;
	uint32_t *slot; /* index + 1, 0: empty */
	bool *seen;
};

static void recs_index(struct recs *rs)
{
	size_t cap = 16;
	while (cap < 2 * rs->n)
		cap *= 2;
	rs->slot = kf_xcalloc(cap, sizeof(*rs->slot));
	rs->mask = cap - 1;
	for (size_t i = 0; i < rs->n; i++) {
		size_t h = kf_str_hash(rs->v[i].name) & rs->mask;
		while (rs->slot[h])
			h = (h + 1) & rs->mask;
		rs->slot[h] = (uint32_t)i + 1;
	}
	rs->seen = kf_xcalloc(rs->n + 1, sizeof(*rs->seen));
}

static struct kf_host_digest *rec_find(struct recs *rs, const char *name)
{
	if (!rs->slot)
		return NULL;
	for (size_t h = kf_str_hash(name) & rs->mask; rs->slot[h]; h = (h + 1) & rs->mask)
		if (!strcmp(rs->v[rs->slot[h] - 1].name, name))
			return &rs->v[rs->slot[h] - 1];
	return NULL;
}

static void recs_release(struct recs *rs)
{
	free(rs->v);
	free(rs->slot);
	free(rs->seen);
}

/* Are the item's files as its row's digest says (nothing to render)? */
static bool current(struct rctx *c, const struct kf_item *it, const struct kf_host_digest *d)
{
	char dg[65];
	if (!d->token[0]) /* it gets a token first */
		return false;
	item_digest(c, it, d->token, it->netboot && d->netboot, dg);
	return !strcmp(dg, d->digest);
}

/* Renders one item if its digest changed; updates its row in st. */
static int do_item(struct rctx *c, struct kf_state *st, const struct kf_item *it,
		   struct kf_host_rec *old, struct kf_err *e)
{
	struct kf_host_rec rec = { 0 };
	int r = 0;
	if (old) {
		rec = *old;
	} else {
		rec.state = KF_ST_NEW;
		rec.netboot = 1;
		rec.state_since = (int64_t)time(NULL);
	}
	bool new_token = !rec.token[0];
	if (new_token) {
		if ((r = kf_token_new(rec.token, e)) < 0)
			return r;
		rec.token_gen++;
		rec.token_issued = (int64_t)time(NULL);
	}
	bool netboot = it->netboot && rec.netboot;
	char dg[65];
	item_digest(c, it, rec.token, netboot, dg);
	if (old && !c->o->force && !strcmp(dg, old->digest)) {
		c->stats->unchanged++;
		return 0;
	}
	if (c->o->log)
		fprintf(c->o->log, "%s %s%s\n", old ? "~" : "+", it->name,
			old ? "" : " (new)");
	old ? c->stats->changed++ : c->stats->added++;
	if ((r = render_item(c, it, rec.token, netboot, e)) < 0)
		return r;
	if (old)
		drop_stale(c, old, it);
	rec.name = (char *)it->name;
	rec.kind = it->kind;
	rec.macs = it->macs;
	rec.nmacs = it->nmacs;
	rec.role = (char *)(it->role ? it->role->name : "");
	memcpy(rec.digest, dg, sizeof(dg));
	/* render's columns only: a callback that changed the row since it was
	 * read keeps its state (and its netboot flag, which is in the digest:
	 * the files follow at its own kf_render_host, or the next render) */
	if (!c->o->dry_run && st)
		r = kf_state_put_render(st, &rec, new_token, e);
	kf_arena_release(&c->scratch);
	return r;
}

/* KF_RENDER_TIMING=1 prints where a render spends its time (bench). */
static void phase(const char *what)
{
	static struct timespec last;
	static int on = -1;
	if (on < 0)
		on = getenv("KF_RENDER_TIMING") != NULL;
	if (!on)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (what && last.tv_sec)
		fprintf(stderr, "timing:   %-8s %6.1f ms\n", what,
			(double)(now.tv_sec - last.tv_sec) * 1e3 + (double)(now.tv_nsec - last.tv_nsec) / 1e6);
	last = now;
}

/* ---- locking, setup ---- */

static int take_lock(const struct paths *p, bool dry, int *fd, struct kf_err *e)
{
	*fd = -1;
	if (dry && access(p->state_dir, F_OK) < 0)
		return 0;
	int r = kf_mkdir_p(p->state_dir, 0755);
	if (r < 0)
		return kf_errc(e, r, NULL, "state directory %s: %s", p->state_dir, strerror(-r));
	*fd = open(p->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (*fd < 0)
		return kf_errc(e, -errno, NULL, "lock %s: %s", p->lock, strerror(errno));
	while (flock(*fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = kf_errc(e, -errno, NULL, "lock %s: %s", p->lock, strerror(errno));
			close(*fd);
			*fd = -1;
			return r;
		}
	}
	return 0;
}

static int setup(struct rctx *c, const struct kf_inventory *inv, const struct kf_render_opts *o,
		 struct kf_render_stats *stats, struct kf_err *e)
{
	memset(c, 0, sizeof(*c));
	c->lockfd = -1;
	c->inv = inv;
	c->o = o;
	c->stats = stats;
	memset(stats, 0, sizeof(*stats));
	paths_init(&c->p, inv, o->outdir);
	shared_digest(c);
	c->wb = kf_wbatch_new(o->dry_run);
	return load_roles(c, e);
}

static void teardown(struct rctx *c)
{
	if (c->batch)
		kf_state_end(c->st, 0, NULL);
	kf_state_close(c->own);
	if (c->lockfd >= 0)
		close(c->lockfd);
	kf_wbatch_free(c->wb);
	kt_cache_release(&c->cache);
	free(c->tmpl);
	free(c->role_digest);
	free(c->role_prefix);
	kf_arena_release(&c->scratch);
	paths_release(&c->p);
}

/* Takes the render lock and opens the store (st, or else the one at
 * c->p.db, if any) in one write transaction: the rows are read inside it,
 * so no other writer (the server's callbacks) commits between render's
 * read and its writes.  store_commit ends it once the files are in
 * place: a crash in between leaves the old rows, and the next render
 * rewrites the files. */
static int store_begin(struct rctx *c, struct kf_state *st, struct kf_err *e)
{
	int r = take_lock(&c->p, c->o->dry_run, &c->lockfd, e);
	if (r < 0 || (r = kf_wbatch_journal(c->wb, c->p.journal, e)) < 0)
		return r;
	if (!st && !(c->o->dry_run && !kf_state_exists(c->p.db)) &&
	    (r = kf_state_open(&c->own, c->p.db, e)) < 0)
		return r;
	c->st = st ? st : c->own;
	if (c->st && !c->o->dry_run) {
		if ((r = kf_state_begin(c->st, e)) < 0)
			return r;
		c->batch = true;
	}
	return 0;
}

static int store_commit(struct rctx *c, struct kf_err *e)
{
	if (!c->batch)
		return 0;
	c->batch = false;
	return kf_state_end(c->st, 1, e);
}

/* "fd00:250::/64": an IPv6 prefix of 8..128 bits. */
static bool ipv6_prefix_ok(const char *s)
{
	const char *slash = strchr(s, '/');
	char addr[64];
	struct in6_addr a;
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n >= sizeof(addr))
		return false;
	memcpy(addr, s, n);
	addr[n] = 0;
	if (inet_pton(AF_INET6, addr, &a) != 1)
		return false;
	if (!slash)
		return true;
	char *end;
	long len = strtol(slash + 1, &end, 10);
	return *end == 0 && end != slash + 1 && len >= 8 && len <= 128;
}

static int check_names(const struct kf_inventory *inv, struct kf_err *e)
{
	int r = 0;
	const struct kf_i_provisioner *p = inv->provisioner;
	if (p->ipv6_prefix && !ipv6_prefix_ok(p->ipv6_prefix))
		r = kf_errf(e, kf_mark_of(p, "ipv6_prefix"),
			    "ipv6_prefix: expected an IPv6 prefix like fd00:250::/64, got \"%s\"",
			    p->ipv6_prefix);
	for (size_t i = 0; i < kf_item_count(inv); i++) {
		struct kf_item it;
		kf_item_of(inv, i, &it);
		if (kf_item_name_ok(it.name) < 0)
			r = kf_errf(e, it.mark,
				    "name \"%s\" cannot name files and DHCP hosts (letters, digits, "
				    "'-', '_', '.'; at most 63)", it.name);
		if (!it.role || !it.distro)
			r = kf_errf(e, it.mark, "%s: role or distro missing", it.name);
	}
	return r;
}

/* An item of another segment: its row is that segment's to keep; files
 * of it in this tree (it moved here from there) are dropped. */
static int render_elsewhere(struct rctx *c, const struct kf_item *it, size_t index,
			    struct kf_err *e)
{
	char *rel = kf_xasprintf("hosts/%s", it->name);
	char *path = root_path(c, KF_ROOT_DNSMASQ, rel);
	bool here = access(path, F_OK) == 0;
	free(path);
	free(rel);
	if (!here)
		return 0;
	struct kf_host_rec old = { 0 };
	int r = kf_state_get_host(c->st, it->name, &old, e);
	if (r == -ENOENT) {
		old.name = kf_xstrdup(it->name);
		r = 0;
	}
	if (r == 0) {
		if (c->o->log)
			fprintf(c->o->log, "- %s (moved to segment %s)\n", it->name,
				c->inv->item_seg[index]);
		drop_stale(c, &old, NULL);
	}
	kf_host_rec_release(&old);
	return r;
}

/* Renders every item whose files are not as its row says (rows in rs). */
static int render_items(struct rctx *c, struct recs *rs, struct kf_err *e)
{
	int r = 0;
	size_t n = kf_item_count(c->inv);
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct kf_item it;
		kf_item_of(c->inv, i, &it);
		struct kf_host_digest *d = rec_find(rs, it.name);
		if (d)
			rs->seen[d - rs->v] = true;
		if (!kf_inventory_item_here(c->inv, i)) {
			r = c->st ? render_elsewhere(c, &it, i, e) : 0;
			continue;
		}
		c->stats->hosts++;
		if (d && !c->o->force && current(c, &it, d)) {
			c->stats->unchanged++;
			continue;
		}
		/* to be rendered: its whole row (the files it had, its state) */
		struct kf_host_rec old = { 0 };
		if (d && (r = kf_state_get_host(c->st, it.name, &old, e)) < 0)
			break;
		r = do_item(c, c->st, &it, d ? &old : NULL, e);
		kf_host_rec_release(&old);
	}
	return r;
}

/* Drops the files and rows of the hosts the inventory no longer has. */
static int remove_gone(struct rctx *c, const struct recs *rs, struct kf_err *e)
{
	int r = 0;
	for (size_t i = 0; i < rs->n && r >= 0; i++) {
		if (rs->seen[i])
			continue;
		struct kf_host_rec old = { 0 };
		if ((r = kf_state_get_host(c->st, rs->v[i].name, &old, e)) < 0)
			break;
		if (c->o->log)
			fprintf(c->o->log, "- %s (removed)\n", old.name);
		c->stats->removed++;
		drop_stale(c, &old, NULL);
		if (!c->o->dry_run)
			r = kf_state_delete_host(c->st, old.name, e);
		kf_host_rec_release(&old);
	}
	return r;
}

/* The discovery image, only with unknown_hosts: discovery (else an image
 * a render made before is removed). */
static int render_discovery(struct rctx *c, struct kf_err *e)
{
	if (c->inv->provisioner->unknown_hosts != KF_UNKNOWN_DISCOVERY) {
		drop(c, KF_ROOT_TFTP, KF_DISCOVERY_IMAGE);
		return 0;
	}
	struct kf_buf b = KF_BUF_INIT;
	int r = kf_discovery_image(&b, e);
	if (r == 0)
		r = put(c, KF_ROOT_TFTP, KF_DISCOVERY_IMAGE, &b, 0644, e);
	kf_buf_release(&b);
	return r;
}

/* The shared files and, when staging, the loaders and the agent's
 * packages; then every queued file into place. */
static int write_files(struct rctx *c, const char *pkgdir, struct kf_err *warn, struct kf_err *e)
{
	int r = render_shared(c, e);
	if (r < 0)
		return r;
	if (c->o->stage) {
		int n = kf_stage_loaders(c->inv, c->p.root[KF_ROOT_TFTP], c->o->dry_run, warn, e);
		if (n < 0)
			return n;
		c->stats->staged = (size_t)n;
		r = kf_render_packages_place(pkgdir, c->p.root[KF_ROOT_HTTP], c->o->dry_run,
					     &c->stats->repo_files, e);
		if (r < 0 || (r = render_discovery(c, e)) < 0)
			return r;
	}
	r = kf_wbatch_commit(c->wb, e);
	c->stats->deleted = kf_wbatch_removed(c->wb);
	return r;
}

int kf_render_all(const struct kf_inventory *inv, const struct kf_render_opts *o,
		  struct kf_render_stats *stats, struct kf_err *warn, struct kf_err *e)
{
	struct rctx c;
	struct recs rs = { 0 };
	char *pkgdir = NULL;
	phase(NULL);
	int r = setup(&c, inv, o, stats, e);
	if (r < 0 || (r = check_names(inv, e)) < 0)
		goto out;
	/* before anything is written: a render without them stops here */
	if (o->stage && (r = kf_render_packages_find(&pkgdir, e)) < 0)
		goto out;
	phase("setup");
	if ((r = store_begin(&c, NULL, e)) < 0)
		goto out;
	if (c.st && (r = kf_state_list_digests(c.st, &rs.v, &rs.n, e)) < 0)
		goto out;
	recs_index(&rs);
	phase("state");
	if ((r = render_items(&c, &rs, e)) < 0 || (r = remove_gone(&c, &rs, e)) < 0)
		goto out;
	phase("hosts");
	/* files first, then the state: a crash in between re-renders them */
	if ((r = write_files(&c, pkgdir, warn, e)) < 0)
		goto out;
	phase("files");
	if ((r = store_commit(&c, e)) < 0)
		goto out;
	phase("commit");
	if (stats->dnsmasq_changed && !o->dry_run)
		stats->sighup_sent = kf_render_signal_dnsmasq(inv, o->outdir) > 0;
out:
	free(pkgdir);
	recs_release(&rs);
	teardown(&c);
	return r;
}

int kf_render_host(const struct kf_inventory *inv, struct kf_state *st,
		   const struct kf_render_opts *o, const char *name, bool *need_sighup,
		   struct kf_err *e)
{
	struct kf_render_opts opts = o ? *o : (struct kf_render_opts){ 0 };
	opts.stage = false;
	struct kf_render_stats stats;
	struct rctx c;
	struct kf_host_rec old = { 0 };
	bool have_old = false;
	int r = setup(&c, inv, &opts, &stats, e);
	*need_sighup = false;
	if (r < 0)
		goto out;
	struct kf_item it = { 0 };
	size_t i;
	for (i = 0; i < kf_item_count(inv); i++) {
		kf_item_of(inv, i, &it);
		if (!strcmp(it.name, name))
			break;
	}
	if (i == kf_item_count(inv)) {
		r = kf_errc(e, -ENOENT, NULL, "render: no host or guest \"%s\" in %s", name, inv->path);
		goto out;
	}
	if (!kf_inventory_item_here(inv, i)) {
		kf_log(KF_LOG_DEBUG, "render: %s is of segment %s: its provisioners render it", name,
		       inv->item_seg[i]);
		goto out; /* r == 0 */
	}
	if (kf_item_name_ok(it.name) < 0 || !it.role || !it.distro) {
		r = kf_errf(e, it.mark, "%s: cannot be rendered (check the inventory)", name);
		goto out;
	}
	if ((r = store_begin(&c, st, e)) < 0)
		goto out;
	if (c.st) {
		r = kf_state_get_host(c.st, name, &old, e);
		if (r < 0 && r != -ENOENT)
			goto out;
		have_old = r == 0;
	}
	if ((r = do_item(&c, c.st, &it, have_old ? &old : NULL, e)) < 0)
		goto out;
	if ((r = kf_wbatch_commit(c.wb, e)) < 0 || (r = store_commit(&c, e)) < 0)
		goto out;
	*need_sighup = stats.dnsmasq_changed;
out:
	kf_host_rec_release(&old);
	teardown(&c);
	return r;
}

/* ---- check ---- */

int kf_render_check(const struct kf_inventory *inv, struct kf_err *e)
{
	struct kf_render_opts o = { .dry_run = true };
	struct kf_render_stats stats;
	struct rctx c;
	int r = setup(&c, inv, &o, &stats, e);
	if (check_names(inv, e) < 0)
		r = -EINVAL;
	if (r < 0)
		goto out;
	char token[KF_TOKEN_HEX + 1];
	memset(token, '0', KF_TOKEN_HEX);
	token[KF_TOKEN_HEX] = 0;
	/* the same mistake in a shared template is reported once, for the
	 * first host that hits it */
	char **keys = NULL;
	size_t nkeys = 0;
	for (size_t i = 0; i < kf_item_count(inv); i++) {
		struct kf_item it;
		kf_item_of(inv, i, &it);
		struct kf_err he = KF_ERR_INIT;
		struct kf_buf b = KF_BUF_INIT;
		const struct kt_template *t = c.tmpl[it.role_idx];
		struct kt_obj *root = kf_render_ctx(&c.scratch, inv, &it, token, c.p.base);
		char who[128];
		snprintf(who, sizeof(who), "host %s", it.name);
		enum kt_format fmt = kt_format_of(kt_path(t));
		if (kt_render(t, root, fmt, who, &b, &he) == 0 && fmt == KT_FMT_KICKSTART) {
			char *name = kf_xasprintf("kickstart of %s (from %s)", it.name, kt_path(t));
			kf_kscheck(name, b.s, b.len, &he);
			free(name);
		}
		for (size_t k = 0; k < he.n; k++) {
			const char *text = he.v[k].text;
			const char *paren = strstr(text, " (host ");
			char *key = kf_xasprintf("%s:%d:%d:%.*s", he.v[k].file ? he.v[k].file : "",
						 he.v[k].line, he.v[k].col,
						 (int)(paren ? (size_t)(paren - text) : strlen(text)), text);
			bool dup = false;
			for (size_t j = 0; j < nkeys && !dup; j++)
				dup = !strcmp(keys[j], key);
			if (dup) {
				free(key);
				continue;
			}
			keys = kf_xrealloc(keys, (nkeys + 1) * sizeof(*keys));
			keys[nkeys++] = key;
			struct kf_mark m = { he.v[k].file, he.v[k].line, he.v[k].col };
			kf_errf(e, &m, "%s", text);
			r = -EINVAL;
		}
		kf_err_release(&he);
		kf_buf_release(&b);
		kf_arena_release(&c.scratch);
	}
	for (size_t j = 0; j < nkeys; j++)
		free(keys[j]);
	free(keys);
out:
	teardown(&c);
	return r;
}

/* ---- dnsmasq ---- */

int kf_render_signal_dnsmasq(const struct kf_inventory *inv, const char *outdir)
{
	struct paths p;
	paths_init(&p, inv, outdir);
	char *pidfile = kf_xasprintf("%s/dnsmasq.pid", p.root[KF_ROOT_DNSMASQ]);
	char *text = NULL;
	int r = 0;
	if (kf_read_file(pidfile, 64, &text, NULL) == 0) {
		long pid = strtol(text, NULL, 10);
		char comm[64] = "";
		char *commf = kf_xasprintf("/proc/%ld/comm", pid);
		char *ct = NULL;
		if (pid > 1 && kf_read_file(commf, sizeof(comm), &ct, NULL) == 0 &&
		    !strcmp(kf_rstrip(ct), "dnsmasq"))
			r = kill((pid_t)pid, SIGHUP) == 0 ? 1 : -errno;
		free(ct);
		free(commf);
	}
	free(text);
	free(pidfile);
	paths_release(&p);
	return r;
}
