/* distro import: media -> staged kernel, initrd and tree -> distros.d entry. */
#include "provision/distro.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inventory.h"
#include "schema.h"
#include "util.h"

bool kf_distro_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (!n || n > 64 || name[0] == '.' || name[0] == '-' || name[0] == '_')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

void kf_distro_result_release(struct kf_distro_result *r)
{
	kf_media_info_release(&r->info);
	free(r->entry_path);
	free(r->stage_dir);
	free(r->kernel);
	free(r->initrd);
	free(r->tree_url);
	free(r->media);
	memset(r, 0, sizeof(*r));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The provisioner's view: where things go and the URL clients use. */
struct target {
	char *http_root;
	char *distros_dir;
	char *base_url;
	char *fleet_dir;
	char *prev_text; /* this distro's entry file, to tell "nothing changed" */
};

static void target_release(struct target *t)
{
	free(t->http_root);
	free(t->distros_dir);
	free(t->base_url);
	free(t->fleet_dir);
	free(t->prev_text);
}

static char *abs_from(const char *dir, const char *p)
{
	if (p[0] == '/')
		return kf_xstrdup(p);
	char cwd[PATH_MAX];
	if (dir && strcmp(dir, "."))
		return dir[0] == '/' ? kf_xasprintf("%s/%s", dir, p)
				     : kf_xasprintf("%s/%s/%s", getcwd(cwd, sizeof(cwd)) ? cwd : ".", dir, p);
	return kf_xasprintf("%s/%s", getcwd(cwd, sizeof(cwd)) ? cwd : ".", p);
}

static int load_target(const struct kf_distro_opts *o, struct target *t, struct kf_err *e)
{
	struct kf_inventory *inv = NULL;
	int r = kf_inventory_load_shallow(&inv, o->fleet, e);
	if (r < 0)
		return r;
	const struct kf_i_provisioner *p = inv->provisioner;
	t->fleet_dir = kf_xstrdup(inv->dir);
	t->http_root = abs_from(inv->dir, p->http_root);
	char *dd = kf_inventory_distros_dir(inv, true);
	t->distros_dir = abs_from(NULL, dd);
	free(dd);
	if (p->url) {
		t->base_url = kf_xstrdup(p->url);
		size_t n = strlen(t->base_url);
		while (n && t->base_url[n - 1] == '/')
			t->base_url[--n] = 0;
	} else {
		t->base_url = kf_xasprintf("http://%s:%lld", p->address, p->http_port);
	}
	const struct kf_i_distro *d = kf_inventory_distro(inv, o->name);
	char *entry = kf_xasprintf("%s/%s.yaml", t->distros_dir, o->name);
	if (d) {
		const struct kf_mark *m = kf_mark_of(d, NULL);
		char *mf = m->file ? abs_from(NULL, m->file) : NULL;
		bool ours = mf && !strcmp(mf, entry);
		free(mf);
		if (!ours) {
			r = kf_errf(e, NULL,
				    "distro \"%s\" is already defined in %s:%d:%d; remove it there or pick "
				    "another name",
				    o->name, m->file ? m->file : o->fleet, m->line, m->col);
		} else {
			size_t len;
			if (kf_read_file(entry, 1 << 20, &t->prev_text, &len) < 0)
				t->prev_text = NULL;
		}
	}
	free(entry);
	kf_inventory_free(inv);
	return r;
}

static void yaml_kv(struct kf_buf *b, const char *k, const char *v)
{
	char q[4096];
	if (v)
		kf_buf_printf(b, "%s: %s\n", k, kf_yaml_quote(v, q, sizeof(q)));
}

/* The entry's text; user-set kernel_args survive a re-import. */
static char *entry_text(const struct kf_distro_opts *o, const struct kf_distro_result *res,
			const char *src, const char *kernel_args)
{
	struct kf_buf b = KF_BUF_INIT;
	kf_buf_printf(&b, "# distro %s: %s (%s), written by kickfleet distro import.\n"
			  "# Re-run the import to update it; kernel_args may be edited and are kept.\n",
		      o->name, res->info.label, res->info.how);
	yaml_kv(&b, "family", res->info.family);
	yaml_kv(&b, "kernel", res->kernel);
	yaml_kv(&b, "initrd", res->initrd);
	yaml_kv(&b, "tree", res->tree_url);
	yaml_kv(&b, "kernel_args", kernel_args);
	yaml_kv(&b, "kernel_sha256", res->kernel_sha256);
	yaml_kv(&b, "initrd_sha256", res->initrd_sha256);
	yaml_kv(&b, "version", res->info.version);
	yaml_kv(&b, "arch", res->info.arch);
	yaml_kv(&b, "source", src);
	return kf_buf_detach(&b);
}

/* kernel_args from the previous entry file, if any. */
static char *prev_kernel_args(const char *path)
{
	struct kf_doc *doc = NULL;
	struct kf_err e = KF_ERR_INIT;
	char *v = NULL;
	if (kf_doc_load_file(&doc, path, &e) == 0 && doc->root) {
		const struct kf_node *n = kf_map_get(doc->root, "kernel_args");
		if (n && n->kind == KF_NODE_SCALAR && !kf_node_is_null(n))
			v = kf_xstrdup(n->val);
	}
	kf_doc_free(doc);
	kf_err_release(&e);
	return v;
}

static int mkdirs_for(const char *path, char **last)
{
	char *d = kf_xstrdup(path);
	char *slash = strrchr(d, '/');
	int r = 0;
	if (slash) {
		*slash = 0;
		if (!*last || strcmp(*last, d)) {
			r = kf_mkdir_p(d, 0755);
			free(*last);
			*last = kf_xstrdup(d);
		}
	}
	free(d);
	return r;
}

/* Is the staged tree current: every file quick-matches, none extra? */
static bool tree_current(const struct kf_media *m, const char *stage, const struct kf_media_info *info)
{
	if (!info->tree)
		return true;
	if (m->iso) {
		char *iso = kf_xasprintf("%s/media.iso", stage);
		bool same = kf_stage_same(m->path, iso);
		free(iso);
		return same;
	}
	for (size_t i = 0; i < m->n; i++) {
		char *src = kf_xasprintf("%s/%s", m->path, m->files[i].path);
		char *dst = kf_xasprintf("%s/tree/%s", stage, m->files[i].path);
		bool same = kf_stage_same(src, dst);
		free(src);
		free(dst);
		if (!same)
			return false;
	}
	char *manifest = kf_xasprintf("%s/.files", stage);
	char *text = NULL;
	size_t len = 0;
	bool ok = kf_read_file(manifest, 1u << 30, &text, &len) == 0;
	size_t lines = 0;
	for (size_t i = 0; ok && i < len; i++)
		lines += text[i] == '\n';
	free(manifest);
	free(text);
	return ok && lines == m->n;
}

/* Links or copies the install tree into new_dir. */
static int stage_tree(const struct kf_distro_opts *o, const struct kf_media *m, const char *stage,
		      const char *new_dir, struct kf_distro_result *res, struct kf_err *e)
{
	uint64_t done = 0;
	int r = 0;
	if (m->iso) {
		char *old = kf_xasprintf("%s/media.iso", stage);
		char *dst = kf_xasprintf("%s/media.iso", new_dir);
		struct stat st;
		uint64_t total = stat(m->path, &st) == 0 ? (uint64_t)st.st_size : 0;
		r = kf_stage_file(m->path, old, dst, !o->copy, o->progress, o->pctx, &done, total,
				  &res->stats, e);
		res->media = dst;
		free(old);
		if (o->progress)
			o->progress(o->pctx, NULL, done, total);
		return r;
	}
	char *last = NULL;
	struct kf_buf list = KF_BUF_INIT;
	for (size_t i = 0; i < m->n && !r; i++) {
		const char *rel = m->files[i].path;
		char *src = kf_xasprintf("%s/%s", m->path, rel);
		char *old = kf_xasprintf("%s/tree/%s", stage, rel);
		char *dst = kf_xasprintf("%s/tree/%s", new_dir, rel);
		r = mkdirs_for(dst, &last);
		if (r < 0)
			kf_errc(e, r, NULL, "%s: %s", dst, strerror(-r));
		else
			r = kf_stage_file(src, old, dst, !o->copy, o->progress, o->pctx, &done, m->total,
					  &res->stats, e);
		kf_buf_printf(&list, "%s\n", rel);
		free(src);
		free(old);
		free(dst);
	}
	free(last);
	if (!r) {
		char *manifest = kf_xasprintf("%s/.files", new_dir);
		r = kf_write_atomic(manifest, list.s ? list.s : "", list.len, 0644);
		if (r < 0)
			kf_errc(e, r, NULL, "%s: %s", manifest, strerror(-r));
		free(manifest);
	}
	kf_buf_release(&list);
	res->media = kf_xasprintf("%s/tree", new_dir);
	if (o->progress)
		o->progress(o->pctx, NULL, done, m->total);
	return r;
}

/* Kernel and initrd into new_dir, hashed, checked against .treeinfo. */
static int stage_boot(const struct kf_distro_opts *o, const struct kf_media *m, const char *new_dir,
		      struct kf_distro_result *res, struct kf_err *e)
{
	const char *want[2] = { res->info.kernel, res->info.initrd };
	char *dest[2] = { kf_xasprintf("%s/vmlinuz", new_dir), kf_xasprintf("%s/initrd.img", new_dir) };
	char hex[2][65];
	int r = kf_media_extract(m, want, (const char *const *)dest, 2, !o->copy, hex, e);
	const char *sums[2] = { res->info.kernel_sha256, res->info.initrd_sha256 };
	for (int i = 0; i < 2 && !r; i++)
		if (sums[i] && strcmp(sums[i], hex[i]))
			r = kf_errf(e, NULL, "%s: %s has SHA-256 %s but .treeinfo says %s (damaged media?)",
				    m->path, want[i], hex[i], sums[i]);
	if (!r) {
		struct stat st;
		memcpy(res->kernel_sha256, hex[0], 65);
		memcpy(res->initrd_sha256, hex[1], 65);
		res->kernel_size = stat(dest[0], &st) == 0 ? (uint64_t)st.st_size : 0;
		res->initrd_size = stat(dest[1], &st) == 0 ? (uint64_t)st.st_size : 0;
	}
	free(dest[0]);
	free(dest[1]);
	return r;
}

static int fsync_path(const char *path, struct kf_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		int r = kf_errc(e, -errno, NULL, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	close(fd);
	return 0;
}

/* Makes new_dir's kernel and initrd durable, then puts new_dir in place of
 * stage in one rename. */
static int swap_in(const char *new_dir, const char *stage, struct kf_err *e)
{
	struct stat st;
	const char *names[] = { "vmlinuz", "initrd.img" };
	for (size_t i = 0; i < KF_ARRAY_SIZE(names); i++) {
		char *p = kf_xasprintf("%s/%s", new_dir, names[i]);
		int r = fsync_path(p, e);
		free(p);
		if (r < 0)
			return r;
	}
	if (lstat(stage, &st) == 0) {
		if (renameat2(AT_FDCWD, new_dir, AT_FDCWD, stage, RENAME_EXCHANGE) < 0)
			return kf_errc(e, -errno, NULL, "%s: %s", stage, strerror(errno));
		kf_rm_rf(new_dir); /* now the old tree */
	} else if (rename(new_dir, stage) < 0) {
		return kf_errc(e, -errno, NULL, "%s: %s", stage, strerror(errno));
	}
	char *parent = kf_xstrdup(stage);
	int fd = open(dirname(parent), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(parent);
	return 0;
}

static int lock_distro(const char *root, const char *name, struct kf_err *e)
{
	char *path = kf_xasprintf("%s/.%s.lock", root, name);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		int r = kf_errc(e, -errno, NULL, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(path);
		return r;
	}
	free(path);
	return fd;
}

/* Makes HTTP_ROOT/distros (root), takes NAME's lock (*lock, an fd) and
 * makes an empty staging directory beside the staged distro (*new_dir). */
static int open_stage(const char *root, const char *name, int *lock, char **new_dir, struct kf_err *e)
{
	int r = kf_mkdir_p(root, 0755);
	if (r < 0)
		return kf_errc(e, r, NULL, "%s: %s", root, strerror(-r));
	r = *lock = lock_distro(root, name, e);
	if (r < 0)
		return r;
	*new_dir = kf_xasprintf("%s/.%s.new-%d", root, name, (int)getpid());
	kf_rm_rf(*new_dir);
	if (mkdir(*new_dir, 0755) < 0)
		return kf_errc(e, -errno, NULL, "%s: %s", *new_dir, strerror(errno));
	return 0;
}

/* Where the import puts the distro, in res. */
static void result_paths(struct kf_distro_result *res, const struct target *t, const char *root,
			 const char *name)
{
	res->stage_dir = kf_xasprintf("%s/%s", root, name);
	res->entry_path = kf_xasprintf("%s/%s.yaml", t->distros_dir, name);
	res->kernel = kf_xasprintf("%s/vmlinuz", res->stage_dir);
	res->initrd = kf_xasprintf("%s/initrd.img", res->stage_dir);
	if (res->info.tree)
		res->tree_url = kf_xasprintf("%s/distros/%s/tree", t->base_url, name);
}

/* True when the entry text, the staged kernel and initrd and the staged
 * tree are already what this import would make (and it is not forced). */
static bool import_current(const struct kf_distro_opts *o, const struct target *t,
			   const struct kf_media *m, const struct kf_distro_result *res, const char *text)
{
	char hk[65] = "", hi[65] = "";
	return !o->force && t->prev_text && !strcmp(t->prev_text, text) &&
	       kf_hash_file(res->kernel, hk) == 0 && kf_hash_file(res->initrd, hi) == 0 &&
	       !strcmp(hk, res->kernel_sha256) && !strcmp(hi, res->initrd_sha256) &&
	       tree_current(m, res->stage_dir, &res->info);
}

/* Stages the tree into new_dir (holding the new kernel and initrd), swaps
 * it in for the staged distro and writes the entry, last. */
static int publish(const struct kf_distro_opts *o, const struct kf_media *m, const struct target *t,
		   const char *new_dir, const char *text, struct kf_distro_result *res, struct kf_err *e)
{
	int r;
	if (res->info.tree) {
		r = stage_tree(o, m, res->stage_dir, new_dir, res, e);
		if (r < 0)
			return r;
		char *final = kf_xasprintf("%s%s", res->stage_dir, res->media + strlen(new_dir));
		free(res->media);
		res->media = final;
	}
	r = swap_in(new_dir, res->stage_dir, e);
	if (r < 0)
		return r;
	r = kf_mkdir_p(t->distros_dir, 0755);
	if (r == 0)
		r = kf_write_atomic(res->entry_path, text, strlen(text), 0644);
	if (r < 0)
		return kf_errc(e, r, NULL, "%s: %s", res->entry_path, strerror(-r));
	return 0;
}

int kf_distro_import(const struct kf_distro_opts *o, struct kf_distro_result *res, struct kf_err *e)
{
	struct target t = { 0 };
	struct kf_media m = { 0 };
	char *root = NULL, *new_dir = NULL, *text = NULL, *src = NULL, *kargs = NULL;
	int lock = -1, r;
	double t0 = now();
	memset(res, 0, sizeof(*res));
	if (!kf_distro_name_ok(o->name))
		return kf_errf(e, NULL,
			       "bad distro name \"%s\" (letters, digits, \".\", \"_\", \"-\"; at most 64)",
			       o->name);
	if ((r = load_target(o, &t, e)) < 0 || (r = kf_media_open(&m, o->source, e)) < 0 ||
	    (r = kf_media_detect(&m, &res->info, e)) < 0)
		goto out;
	root = kf_xasprintf("%s/distros", t.http_root);
	result_paths(res, &t, root, o->name);
	if ((r = open_stage(root, o->name, &lock, &new_dir, e)) < 0 ||
	    (r = stage_boot(o, &m, new_dir, res, e)) < 0)
		goto out;
	src = realpath(o->source, NULL);
	kargs = prev_kernel_args(res->entry_path);
	text = entry_text(o, res, src ? src : o->source, kargs);
	res->created = !t.prev_text;
	res->changed = !import_current(o, &t, &m, res, text);
	if (res->changed)
		r = publish(o, &m, &t, new_dir, text, res, e);
	else if (res->info.tree)
		res->media = m.iso ? kf_xasprintf("%s/media.iso", res->stage_dir)
				   : kf_xasprintf("%s/tree", res->stage_dir);
	if (r == 0)
		res->seconds = now() - t0;
out:
	if (new_dir)
		kf_rm_rf(new_dir);
	if (lock >= 0)
		close(lock);
	free(new_dir);
	free(root);
	free(text);
	free(src);
	free(kargs);
	kf_media_release(&m);
	target_release(&t);
	return r < 0 ? r : 0;
}
