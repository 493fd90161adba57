/* Batched atomic writes for render: every file goes to a temp name in its
 * directory (".NAME.kf-tmp.XXXXXX": dnsmasq's directory watch ignores dot
 * files), one syncfs() makes them all durable, then each is renamed over
 * its target and the directories are fsynced.  A crash at any point leaves
 * every target either old or new.  This is kf_write_atomic() for
 * thousands of files, without one fsync per file.
 *
 * A batch killed before its commit leaves its temp files behind (in
 * directories in.tftpd and serve read).  So a batch given a journal
 * (kf_wbatch_journal, under the render lock) appends each directory to it
 * before its first temp file there, makes it durable with the temps, and
 * removes it once committed; the next batch given the same journal first
 * sweeps the temp files of the directories it names. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/privdrop.h"
#include "provision/render_int.h"

/* Up to this many files are fsynced one by one; more take one syncfs(). */
#define FSYNC_EACH_MAX 64

struct wfile {
	char *path, *tmp;
};

struct kf_wbatch {
	bool dry;
	struct wfile *v;
	size_t n, cap;
	char **rm;
	size_t nrm, caprm;
	char **dirs; /* made and to be fsynced */
	size_t ndirs, capdirs;
	char **claimed; /* every path put, written or not: never removed */
	size_t nclaimed, capclaimed;
	size_t removed;
	char *jpath; /* the journal, NULL: none */
	int jfd;     /* open for appending once a directory is in it */
};

size_t kf_wbatch_removed(const struct kf_wbatch *b)
{
	return b->removed;
}

static void claim(struct kf_wbatch *b, const char *path)
{
	if (b->nclaimed == b->capclaimed) {
		b->capclaimed = b->capclaimed ? b->capclaimed * 2 : 256;
		b->claimed = kf_xrealloc(b->claimed, b->capclaimed * sizeof(*b->claimed));
	}
	b->claimed[b->nclaimed++] = kf_xstrdup(path);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file one host gives up may be another's in the same batch (a MAC that
 * moved): what any put claimed is kept. */
static bool claimed(struct kf_wbatch *b, const char *path)
{
	return b->nclaimed && bsearch(&path, b->claimed, b->nclaimed, sizeof(*b->claimed), str_cmp);
}

struct kf_wbatch *kf_wbatch_new(bool dry_run)
{
	struct kf_wbatch *b = kf_xcalloc(1, sizeof(*b));
	b->dry = dry_run;
	b->jfd = -1;
	return b;
}

/* A journal line names a directory; a temp file there is ".NAME.kf-tmp.X". */
static size_t sweep_dir(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	if (!d)
		return 0;
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_name[0] == '.' && strstr(de->d_name, ".kf-tmp.") &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	closedir(d);
	return n;
}

int kf_wbatch_journal(struct kf_wbatch *b, const char *journal, struct kf_err *e)
{
	if (b->dry)
		return 0;
	char *text = NULL;
	size_t len = 0, swept = 0;
	int r = kf_read_file(journal, (size_t)1 << 20, &text, &len);
	if (r == -ENOENT)
		r = 0;
	else if (r < 0)
		return kf_errc(e, r, NULL, "render journal %s: %s", journal, strerror(-r));
	for (char *save = NULL, *l = text ? strtok_r(text, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save))
		swept += sweep_dir(l);
	free(text);
	if (text && unlink(journal) < 0 && errno != ENOENT)
		return kf_errc(e, -errno, NULL, "render journal %s: %s", journal, strerror(errno));
	if (swept)
		kf_log(KF_LOG_INFO, "render: removed %zu temp file%s an interrupted render left", swept,
		       swept == 1 ? "" : "s");
	b->jpath = kf_xstrdup(journal);
	return swept > 0;
}

/* The directory d goes into the journal before a temp file goes into it. */
static int journal_add(struct kf_wbatch *b, const char *d, struct kf_err *e)
{
	if (!b->jpath)
		return 0;
	if (b->jfd < 0 && (b->jfd = open(b->jpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) >= 0)
		kf_priv_follow_owner(b->jfd, b->jpath); /* a root render's, if killed, the server reads */
	char *line = kf_xasprintf("%s\n", d);
	size_t n = strlen(line);
	int r = b->jfd < 0 || write(b->jfd, line, n) != (ssize_t)n ? -errno : 0;
	free(line);
	if (r < 0)
		kf_errc(e, r ? r : -EIO, NULL, "render journal %s: %s", b->jpath, strerror(-r));
	return r;
}

/* After the commit, or once every temp file is gone: no journal. */
static void journal_done(struct kf_wbatch *b)
{
	if (b->jfd < 0)
		return;
	close(b->jfd);
	b->jfd = -1;
	unlink(b->jpath);
}

static int note_dir(struct kf_wbatch *b, const char *path, struct kf_err *e)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 1;
	for (size_t i = b->ndirs; i-- > 0;)
		if (strlen(b->dirs[i]) == n && !memcmp(b->dirs[i], slash ? path : ".", n))
			return 0;
	char *d = slash ? strndup(path, n) : kf_xstrdup(".");
	if (!d)
		kf_die_oom();
	if (!b->dry) {
		int r = kf_mkdir_p(d, 0755);
		if (r < 0)
			kf_errc(e, r, NULL, "mkdir %s: %s", d, strerror(-r));
		else
			r = journal_add(b, d, e);
		if (r < 0) {
			free(d);
			return r;
		}
		kf_priv_follow_owner(-1, d);
	}
	if (b->ndirs == b->capdirs) {
		b->capdirs = b->capdirs ? b->capdirs * 2 : 16;
		b->dirs = kf_xrealloc(b->dirs, b->capdirs * sizeof(*b->dirs));
	}
	b->dirs[b->ndirs++] = d;
	return 0;
}

static bool same_content(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool same = false;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size == len) {
		char *buf = kf_xmalloc(len + 1);
		size_t got = 0;
		ssize_t n;
		while (got < len && (n = read(fd, buf + got, len - got)) > 0)
			got += (size_t)n;
		same = got == len && !memcmp(buf, data, len);
		free(buf);
	}
	close(fd);
	return same;
}

int kf_wbatch_put(struct kf_wbatch *b, const char *path, const char *data, size_t len,
		  mode_t mode, struct kf_err *e)
{
	claim(b, path);
	if (same_content(path, data, len))
		return 0;
	int r = note_dir(b, path, e);
	if (r < 0)
		return r;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->v = kf_xrealloc(b->v, b->cap * sizeof(*b->v));
	}
	struct wfile *f = &b->v[b->n];
	f->path = kf_xstrdup(path);
	f->tmp = NULL;
	if (b->dry) {
		b->n++;
		return 1;
	}
	const char *slash = strrchr(path, '/');
	f->tmp = slash ? kf_xasprintf("%.*s/.%s.kf-tmp.XXXXXX", (int)(slash - path), path, slash + 1)
		       : kf_xasprintf(".%s.kf-tmp.XXXXXX", path);
	int fd = mkostemp(f->tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0)
		kf_priv_follow_owner(fd, f->tmp);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		unlink(f->tmp);
		goto fail;
	}
	b->n++;
	return 1;
fail:
	kf_errc(e, r, NULL, "write %s: %s", path, strerror(-r));
	free(f->path);
	free(f->tmp);
	return r;
}

int kf_wbatch_remove(struct kf_wbatch *b, const char *path)
{
	if (access(path, F_OK) < 0)
		return 0;
	if (b->nrm == b->caprm) {
		b->caprm = b->caprm ? b->caprm * 2 : 64;
		b->rm = kf_xrealloc(b->rm, b->caprm * sizeof(*b->rm));
	}
	b->rm[b->nrm++] = kf_xstrdup(path);
	return 1;
}

static int fsync_path(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 && errno != EINVAL ? -errno : 0;
	close(fd);
	return r;
}

int kf_wbatch_commit(struct kf_wbatch *b, struct kf_err *e)
{
	if (b->nrm && b->nclaimed)
		qsort(b->claimed, b->nclaimed, sizeof(*b->claimed), str_cmp);
	b->removed = 0;
	for (size_t i = 0; i < b->nrm; i++)
		b->removed += !claimed(b, b->rm[i]);
	if (b->dry)
		return 0;
	int r = 0;
	if (b->n && b->jfd >= 0 && fsync(b->jfd) < 0)
		return kf_errc(e, -errno, NULL, "fsync %s: %s", b->jpath, strerror(errno));
	if (b->n && b->n <= FSYNC_EACH_MAX) {
		/* a few files (one host): fsync each, leave the rest of the file
		 * system alone */
		for (size_t i = 0; i < b->n && r == 0; i++) {
			int fd = open(b->v[i].tmp, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || fsync(fd) < 0)
				r = kf_errc(e, -errno, NULL, "fsync %s: %s", b->v[i].tmp, strerror(errno));
			if (fd >= 0)
				close(fd);
		}
		if (r < 0)
			return r;
	} else if (b->n) {
		/* one flush for every temp file (they may span file systems: one
		 * syncfs per directory is cheap when nothing is dirty) */
		for (size_t i = 0; i < b->ndirs; i++) {
			int fd = open(b->dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				if (syncfs(fd) < 0 && r == 0)
					r = kf_errc(e, -errno, NULL, "syncfs %s: %s", b->dirs[i], strerror(errno));
				close(fd);
			}
		}
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (rename(b->v[i].tmp, b->v[i].path) < 0)
			return kf_errc(e, -errno, NULL, "rename %s: %s", b->v[i].path, strerror(errno));
		free(b->v[i].tmp);
		b->v[i].tmp = NULL;
	}
	for (size_t i = 0; i < b->nrm; i++) {
		if (claimed(b, b->rm[i]))
			continue;
		if (unlink(b->rm[i]) < 0 && errno != ENOENT)
			return kf_errc(e, -errno, NULL, "remove %s: %s", b->rm[i], strerror(errno));
		note_dir(b, b->rm[i], NULL);
	}
	for (size_t i = 0; i < b->ndirs; i++) {
		int x = fsync_path(b->dirs[i]);
		if (x < 0 && x != -ENOENT && r == 0)
			r = kf_errc(e, x, NULL, "fsync %s: %s", b->dirs[i], strerror(-x));
	}
	if (r == 0)
		journal_done(b);
	return r;
}

void kf_wbatch_free(struct kf_wbatch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		if (b->v[i].tmp)
			unlink(b->v[i].tmp);
		free(b->v[i].tmp);
		free(b->v[i].path);
	}
	journal_done(b); /* the temps are gone */
	free(b->jpath);
	for (size_t i = 0; i < b->nrm; i++)
		free(b->rm[i]);
	for (size_t i = 0; i < b->ndirs; i++)
		free(b->dirs[i]);
	for (size_t i = 0; i < b->nclaimed; i++)
		free(b->claimed[i]);
	free(b->claimed);
	free(b->v);
	free(b->rm);
	free(b->dirs);
	free(b);
}
