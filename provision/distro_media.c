/* Install media: listing a directory or an ISO image, recognising what it
 * is (.treeinfo, .discinfo, Debian/Ubuntu netboot layout) and extracting
 * kernel and initrd.  The one file that talks to libarchive, which is
 * opened at first use (lib/dl.h): only reading an ISO image needs it, and
 * every other command starts faster without it. */
#define _XOPEN_SOURCE 700
#include "provision/distro.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dl.h"
#include "provision/distro_iso.h"
#include "util.h"

/* Every libarchive function this file calls. */
#define AR_FNS(F)                                                                        \
	F(archive_entry_filetype) F(archive_entry_pathname) F(archive_entry_size)        \
	F(archive_error_string) F(archive_read_data) F(archive_read_data_block)          \
	F(archive_read_free) F(archive_read_new) F(archive_read_next_header)             \
	F(archive_read_open_filename) F(archive_read_support_format_iso9660)

KF_DL_TABLE(AR_FNS)

static struct kf_dl libarchive = KF_DL("libarchive.so.13", "libarchive", "cannot read ISO images",
					resolve);

#define SMALL_MAX (1u << 20)
#define MAX_FILES (2u << 20)

void kf_media_info_release(struct kf_media_info *m)
{
	free(m->label);
	free(m->version);
	free(m->arch);
	free(m->kernel);
	free(m->initrd);
	free(m->kernel_sha256);
	free(m->initrd_sha256);
	memset(m, 0, sizeof(*m));
}

/* ---- INI (.treeinfo) ---- */

/* The value of key in [section], malloc'd, or NULL. */
static char *ini_get(const char *text, const char *section, const char *key)
{
	size_t slen = strlen(section), klen = strlen(key);
	bool in = false;
	for (const char *p = text; *p;) {
		const char *end = strchrnul(p, '\n');
		const char *s = p;
		while (s < end && isspace((unsigned char)*s))
			s++;
		if (*s == '[') {
			in = (size_t)(end - s) > slen + 1 && !strncmp(s + 1, section, slen) && s[slen + 1] == ']';
		} else if (in && *s != '#' && *s != ';' && (size_t)(end - s) > klen &&
			   !strncmp(s, key, klen)) {
			const char *q = s + klen;
			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			if (q < end && (*q == '=' || *q == ':')) {
				q++;
				while (q < end && isspace((unsigned char)*q))
					q++;
				char *v = strndup(q, (size_t)(end - q));
				if (!v)
					kf_die_oom();
				kf_rstrip(v);
				if (*v)
					return v;
				free(v);
			}
		}
		p = *end ? end + 1 : end;
	}
	return NULL;
}

static bool ini_has(const char *text, const char *section)
{
	char *pat = kf_xasprintf("[%s]", section);
	bool r = false;
	for (const char *p = strstr(text, pat); p && !r; p = strstr(p + 1, pat))
		r = p == text || p[-1] == '\n';
	free(pat);
	return r;
}

/* "sha256:HEX" from [checksums] for path, NULL if absent or another algorithm. */
static char *treeinfo_sum(const char *text, const char *path)
{
	char *v = ini_get(text, "checksums", path);
	if (!v || strncmp(v, "sha256:", 7) || strlen(v) != 7 + 64) {
		free(v);
		return NULL;
	}
	char *hex = kf_xstrdup(v + 7);
	free(v);
	for (char *c = hex; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return hex;
}

int kf_treeinfo_parse(const char *name, const char *text, struct kf_media_info *out, struct kf_err *e)
{
	memset(out, 0, sizeof(*out));
	if (!ini_has(text, "general") && !ini_has(text, "release") && !ini_has(text, "tree"))
		return kf_errf(e, NULL, "%s: not a .treeinfo (no [general], [release] or [tree] section)",
			       name);
	out->arch = ini_get(text, "tree", "arch");
	if (!out->arch)
		out->arch = ini_get(text, "general", "arch");
	if (!out->arch) {
		kf_media_info_release(out);
		return kf_errf(e, NULL, "%s: no arch in [tree] or [general]", name);
	}
	out->version = ini_get(text, "release", "version");
	if (!out->version)
		out->version = ini_get(text, "general", "version");
	char *rname = ini_get(text, "release", "name");
	if (!rname)
		rname = ini_get(text, "general", "family");
	char *gname = ini_get(text, "general", "name");
	if (rname && out->version)
		out->label = kf_xasprintf("%s %s", rname, out->version);
	else if (gname)
		out->label = kf_xstrdup(gname);
	else
		out->label = kf_xstrdup(rname ? rname : "unnamed tree");
	free(rname);
	free(gname);
	char *sect = kf_xasprintf("images-%s", out->arch);
	out->kernel = ini_get(text, sect, "kernel");
	out->initrd = ini_get(text, sect, "initrd");
	free(sect);
	if (!out->kernel)
		out->kernel = kf_xstrdup("images/pxeboot/vmlinuz");
	if (!out->initrd)
		out->initrd = kf_xstrdup("images/pxeboot/initrd.img");
	out->kernel_sha256 = treeinfo_sum(text, out->kernel);
	out->initrd_sha256 = treeinfo_sum(text, out->initrd);
	out->family = "kickstart";
	out->tree = true;
	out->how = ".treeinfo";
	return 0;
}

int kf_discinfo_parse(const char *name, const char *text, struct kf_media_info *out, struct kf_err *e)
{
	char *lines[3] = { 0 };
	const char *p = text;
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 3 && *p; i++) {
		const char *end = strchrnul(p, '\n');
		lines[i] = strndup(p, (size_t)(end - p));
		if (!lines[i])
			kf_die_oom();
		kf_rstrip(lines[i]);
		p = *end ? end + 1 : end;
	}
	if (!lines[1] || !lines[2] || !*lines[1] || !*lines[2] || strchr(lines[2], ' ')) {
		for (int i = 0; i < 3; i++)
			free(lines[i]);
		return kf_errf(e, NULL, "%s: not a .discinfo (want a timestamp, a release and an arch, one a line)",
			       name);
	}
	out->label = lines[1];
	out->arch = lines[2];
	free(lines[0]);
	const char *v = strrchr(out->label, ' ');
	v = v ? v + 1 : out->label;
	out->version = kf_xstrdup(isdigit((unsigned char)*v) ? v : out->label);
	out->kernel = kf_xstrdup("images/pxeboot/vmlinuz");
	out->initrd = kf_xstrdup("images/pxeboot/initrd.img");
	out->family = "kickstart";
	out->tree = true;
	out->how = ".discinfo";
	return 0;
}

/* ---- listing ---- */

static void add_file(struct kf_media *m, size_t *cap, const char *rel, uint64_t size)
{
	if (m->n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		m->files = kf_xrealloc(m->files, *cap * sizeof(*m->files));
	}
	m->files[m->n++] = (struct kf_media_file){ kf_xstrdup(rel), size };
	m->total += size;
}

static bool is_versioninfo(const char *rel)
{
	const char *b = strrchr(rel, '/');
	return !strcmp(b ? b + 1 : rel, "version.info");
}

/* Keeps the small files detection reads. */
static char **small_slot(struct kf_media *m, const char *rel)
{
	if (!strcmp(rel, ".treeinfo") || !strcmp(rel, "treeinfo"))
		return &m->treeinfo;
	if (!strcmp(rel, ".discinfo"))
		return &m->discinfo;
	if (is_versioninfo(rel) && (!m->versioninfo_path || strlen(rel) < strlen(m->versioninfo_path)))
		return &m->versioninfo;
	return NULL;
}

static struct kf_media *walk_media;
static size_t walk_cap;
static size_t walk_skip;

static int walk_cb(const char *fpath, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	if (walk_media->n >= MAX_FILES)
		return -EFBIG;
	const char *rel = fpath + walk_skip;
	add_file(walk_media, &walk_cap, rel, (uint64_t)st->st_size);
	char **slot = small_slot(walk_media, rel);
	if (slot && st->st_size < SMALL_MAX) {
		char *buf = NULL;
		size_t len;
		if (kf_read_file(fpath, SMALL_MAX, &buf, &len) == 0) {
			free(*slot);
			*slot = buf;
			if (slot == &walk_media->versioninfo) {
				free(walk_media->versioninfo_path);
				walk_media->versioninfo_path = kf_xstrdup(rel);
			}
		}
	}
	return 0;
}

static int list_dir(struct kf_media *m, struct kf_err *e)
{
	walk_media = m;
	walk_cap = 0;
	walk_skip = strlen(m->path) + 1;
	while (walk_skip > 1 && m->path[walk_skip - 2] == '/')
		walk_skip--;
	int r = nftw(m->path, walk_cb, 32, FTW_PHYS);
	walk_media = NULL;
	if (r == -EFBIG)
		return kf_errc(e, r, NULL, "%s: more than %u files", m->path, MAX_FILES);
	if (r < 0)
		return kf_errc(e, -errno, NULL, "%s: %s", m->path, strerror(errno));
	return 0;
}

static const char *entry_rel(struct archive_entry *ent)
{
	const char *p = lib.archive_entry_pathname(ent);
	if (!p)
		return "";
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	return p;
}

static int archive_open(struct archive **out, const char *path, struct kf_err *e)
{
	int r = kf_dl_load(&libarchive, e);
	if (r < 0)
		return r;
	struct archive *a = lib.archive_read_new();
	if (!a)
		kf_die_oom();
	lib.archive_read_support_format_iso9660(a);
	if (lib.archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		r = kf_errf(e, NULL, "ISO %s: %s", path, lib.archive_error_string(a));
		lib.archive_read_free(a);
		return r;
	}
	*out = a;
	return 0;
}

static int read_small(struct archive *a, struct archive_entry *ent, char **out)
{
	la_int64_t size = lib.archive_entry_size(ent);
	if (size < 0 || size >= SMALL_MAX)
		return 0;
	char *buf = kf_xmalloc((size_t)size + 1);
	la_ssize_t n = lib.archive_read_data(a, buf, (size_t)size);
	if (n != size) {
		free(buf);
		return -EIO;
	}
	buf[size] = 0;
	free(*out);
	*out = buf;
	return 0;
}

static int list_iso(struct kf_media *m, struct kf_err *e)
{
	struct archive *a = NULL;
	struct archive_entry *ent;
	size_t cap = 0;
	int r = archive_open(&a, m->path, e), ar;
	if (r < 0)
		return r;
	while ((ar = lib.archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
		if (lib.archive_entry_filetype(ent) != AE_IFREG)
			continue;
		const char *rel = entry_rel(ent);
		if (m->n >= MAX_FILES) {
			r = kf_errc(e, -EFBIG, NULL, "ISO %s: more than %u files", m->path, MAX_FILES);
			goto out;
		}
		add_file(m, &cap, rel, (uint64_t)lib.archive_entry_size(ent));
		char **slot = small_slot(m, rel);
		if (slot && read_small(a, ent, slot) < 0) {
			r = kf_errf(e, NULL, "ISO %s: reading %s: %s", m->path, rel, lib.archive_error_string(a));
			goto out;
		}
		if (slot == &m->versioninfo) {
			free(m->versioninfo_path);
			m->versioninfo_path = kf_xstrdup(rel);
		}
	}
	if (ar != ARCHIVE_EOF)
		r = kf_errf(e, NULL, "ISO %s: %s", m->path, lib.archive_error_string(a));
out:
	lib.archive_read_free(a);
	return r;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct kf_media_file *)a)->path, ((const struct kf_media_file *)b)->path);
}

int kf_media_open(struct kf_media *m, const char *path, struct kf_err *e)
{
	struct stat st;
	int r;
	memset(m, 0, sizeof(*m));
	m->path = kf_xstrdup(path);
	if (stat(path, &st) < 0) {
		r = kf_errc(e, -errno, NULL, "source %s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = list_dir(m, e);
	} else if (S_ISREG(st.st_mode)) {
		m->iso = true;
		/* the in-place reader `serve` will use catches truncated images
		 * that a pass over the headers alone would not notice */
		struct kf_iso *iso = NULL;
		r = kf_iso_open(&iso, path, e);
		kf_iso_free(iso);
		if (r == 0)
			r = list_iso(m, e);
	} else {
		r = kf_errf(e, NULL, "source %s: not a directory or an ISO image", path);
	}
	if (r == 0)
		qsort(m->files, m->n, sizeof(*m->files), cmp_file);
out:
	if (r < 0)
		kf_media_release(m);
	return r;
}

void kf_media_release(struct kf_media *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->files[i].path);
	free(m->files);
	free(m->path);
	free(m->treeinfo);
	free(m->discinfo);
	free(m->versioninfo);
	free(m->versioninfo_path);
	memset(m, 0, sizeof(*m));
}

const struct kf_media_file *kf_media_find(const struct kf_media *m, const char *path)
{
	struct kf_media_file key = { (char *)path, 0 };
	return m->n ? bsearch(&key, m->files, m->n, sizeof(key), cmp_file) : NULL;
}

/* ---- recognising ---- */

/* Does path end in {debian,ubuntu}-installer/ARCH/linux?  0 and *arch. */
static int netboot_arch(const char *p, char **arch)
{
	size_t len = strlen(p);
	if (len < 6 || strcmp(p + len - 6, "/linux"))
		return -ENOENT;
	const char *a_end = p + len - 6, *a = a_end;
	while (a > p && a[-1] != '/')
		a--;
	if (a == a_end || a - p < 17)
		return -ENOENT;
	const char *inst = a - 17;
	if ((inst != p && inst[-1] != '/') ||
	    (strncmp(inst, "debian-installer/", 17) && strncmp(inst, "ubuntu-installer/", 17)))
		return -ENOENT;
	if (arch)
		*arch = kf_xasprintf("%.*s", (int)(a_end - a), a);
	return 0;
}

/* debian-installer/ARCH/linux (or ubuntu-installer/) with initrd.gz beside
 * it; the text installer is preferred over gtk, then the shortest path. */
static int detect_netboot(const struct kf_media *m, struct kf_media_info *out)
{
	const struct kf_media_file *best = NULL;
	for (size_t i = 0; i < m->n; i++) {
		const char *p = m->files[i].path;
		size_t len = strlen(p);
		if (netboot_arch(p, NULL) < 0)
			continue;
		char *initrd = kf_xasprintf("%.*s/initrd.gz", (int)(len - 6), p);
		bool ok = kf_media_find(m, initrd) != NULL;
		free(initrd);
		if (!ok)
			continue;
		bool gtk = strstr(p, "/gtk/") || !strncmp(p, "gtk/", 4);
		bool best_gtk = best && (strstr(best->path, "/gtk/") || !strncmp(best->path, "gtk/", 4));
		if (!best || (best_gtk && !gtk) || (best_gtk == gtk && len < strlen(best->path)))
			best = &m->files[i];
	}
	if (!best)
		return -ENOENT;
	const char *p = best->path;
	size_t len = strlen(p);
	netboot_arch(p, &out->arch);
	out->kernel = kf_xstrdup(p);
	out->initrd = kf_xasprintf("%.*s/initrd.gz", (int)(len - 6), p);
	out->family = "preseed";
	out->tree = false;
	out->how = "netboot layout";
	bool ubuntu = strstr(p, "ubuntu-installer/") != NULL;
	/* version.info: "Debian version:  12 (bookworm)" */
	char *v = m->versioninfo ? strstr(m->versioninfo, "version:") : NULL;
	if (v) {
		v += 8;
		while (*v == ' ')
			v++;
		size_t n = strcspn(v, "\n");
		out->label = kf_xasprintf("%s %.*s", ubuntu ? "Ubuntu" : "Debian", (int)n, v);
		out->version = strndup(v, strcspn(v, " \n"));
	} else {
		out->label = kf_xstrdup(ubuntu ? "Ubuntu netboot" : "Debian netboot");
		out->version = kf_xstrdup("unknown");
	}
	kf_rstrip(out->label);
	return 0;
}

static int need_files(const struct kf_media *m, struct kf_media_info *out, struct kf_err *e)
{
	const char *what[] = { out->kernel, out->initrd };
	const char *key[] = { "kernel", "initrd" };
	int r = 0;
	for (int i = 0; i < 2; i++)
		if (!kf_media_find(m, what[i]))
			r = kf_errf(e, NULL, "%s: %s names the %s %s, which is not on the media", m->path,
				    out->how, key[i], what[i]);
	if (r < 0)
		kf_media_info_release(out);
	return r;
}

int kf_media_detect(const struct kf_media *m, struct kf_media_info *out, struct kf_err *e)
{
	memset(out, 0, sizeof(*out));
	char *name = NULL;
	int r;
	if (m->treeinfo) {
		name = kf_xasprintf("%s/.treeinfo", m->path);
		r = kf_treeinfo_parse(name, m->treeinfo, out, e);
	} else if (m->discinfo) {
		name = kf_xasprintf("%s/.discinfo", m->path);
		r = kf_discinfo_parse(name, m->discinfo, out, e);
	} else if (detect_netboot(m, out) == 0) {
		return 0;
	} else {
		return kf_errf(e, NULL,
			       "%s: unknown install media: looked for .treeinfo and .discinfo (RHEL family, "
			       "kernel and initrd in images/pxeboot/) and debian-installer/ARCH/linux with "
			       "initrd.gz (Debian or Ubuntu netboot)",
			       m->path);
	}
	free(name);
	return r < 0 ? r : need_files(m, out, e);
}

/* ---- extracting ---- */

static int write_all(int fd, const void *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p = (const char *)p + w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int extract_entry(struct archive *a, const char *dest, char hex[65], struct kf_err *e)
{
	int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), r = 0;
	if (fd < 0)
		return kf_errc(e, -errno, NULL, "%s: %s", dest, strerror(errno));
	struct kf_hash h;
	kf_hash_init(&h);
	const void *buf;
	size_t len;
	la_int64_t off;
	uint64_t expect = 0;
	int ar;
	while ((ar = lib.archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
		if ((uint64_t)off != expect) {
			r = kf_errf(e, NULL, "%s: unexpected hole in the image's data", dest);
			break;
		}
		kf_hash_update(&h, buf, len);
		r = write_all(fd, buf, len, (uint64_t)off);
		if (r < 0) {
			kf_errc(e, r, NULL, "%s: %s", dest, strerror(-r));
			break;
		}
		expect += len;
	}
	if (!r && ar != ARCHIVE_EOF)
		r = kf_errf(e, NULL, "reading %s from the image: %s", dest, lib.archive_error_string(a));
	close(fd); /* synced by the caller only if it keeps the file */
	if (!r)
		kf_hash_hex(&h, hex);
	return r;
}

int kf_media_extract(const struct kf_media *m, const char *const *want, const char *const *dest,
		     size_t n, bool link, char (*hex)[65], struct kf_err *e)
{
	int r = 0;
	if (!m->iso) {
		for (size_t i = 0; i < n && !r; i++) {
			char *src = kf_xasprintf("%s/%s", m->path, want[i]);
			struct kf_stage_stats st = { 0 };
			uint64_t done = 0;
			r = kf_stage_file(src, NULL, dest[i], link, NULL, NULL, &done, 0, &st, e);
			if (!r && (r = kf_hash_file(dest[i], hex[i])) < 0)
				kf_errc(e, r, NULL, "%s: %s", dest[i], strerror(-r));
			free(src);
		}
		return r;
	}
	struct archive *a = NULL;
	struct archive_entry *ent;
	size_t found = 0;
	bool *done = kf_xcalloc(n ? n : 1, sizeof(bool));
	r = archive_open(&a, m->path, e);
	int ar = ARCHIVE_OK;
	while (!r && found < n && (ar = lib.archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
		if (lib.archive_entry_filetype(ent) != AE_IFREG)
			continue;
		const char *rel = entry_rel(ent);
		for (size_t i = 0; i < n && !r; i++)
			if (!done[i] && !strcmp(rel, want[i])) {
				r = extract_entry(a, dest[i], hex[i], e);
				done[i] = true;
				found++;
				break;
			}
	}
	if (!r && found < n) {
		if (ar != ARCHIVE_OK && ar != ARCHIVE_EOF)
			r = kf_errf(e, NULL, "ISO %s: %s", m->path, lib.archive_error_string(a));
		for (size_t i = 0; i < n && !r; i++)
			if (!done[i])
				r = kf_errf(e, NULL, "ISO %s: %s not found", m->path, want[i]);
	}
	if (a)
		lib.archive_read_free(a);
	free(done);
	return r;
}
