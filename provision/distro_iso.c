/* ISO 9660 images read in place: directory index and byte-range reads.
 * ECMA-119 with the Rock Ridge (SUSP "NM", "CE", "CL", "RE") and Joliet
 * extensions; multi-extent files are supported. */
#include "provision/distro_iso.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "util.h"

#define SECTOR 2048u
#define MAX_ENTRIES (4u << 20)
#define MAX_DEPTH 64
#define MAX_DIR_BYTES (64u << 20)
#define MAX_EXTENTS 1024

struct extent {
	uint64_t off, len;
};

struct entry {
	const char *path;
	uint64_t size;
	struct extent *ext; /* n_ext extents, in file order */
	size_t n_ext;
	bool dir;
};

struct kf_iso {
	int fd;
	uint64_t file_size;
	uint64_t vol_size;
	const char *name;
	struct entry *v;
	size_t n, cap;
	struct kf_arena arena;
};

enum names { NAMES_ISO, NAMES_JOLIET, NAMES_RR };

struct walk {
	struct kf_iso *iso;
	struct kf_err *e;
	enum names names;
	unsigned susp_skip; /* SUSP bytes to skip (from the root's SP entry) */
	int failed;
};

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static int fail(struct walk *w, int code, const char *fmt, const char *arg)
{
	if (!w->failed)
		kf_errc(w->e, code, NULL, fmt, w->iso->name, arg);
	w->failed = 1;
	return code;
}

static int read_at(struct walk *w, void *buf, size_t len, uint64_t off)
{
	if (off + len > w->iso->file_size)
		return fail(w, -EIO, "ISO %s: truncated image (%s lies past the end of the file)",
			    "directory data");
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(w->iso->fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return fail(w, r < 0 ? -errno : -EIO, "ISO %s: read error: %s",
				    r < 0 ? strerror(errno) : "unexpected end of file");
		got += (size_t)r;
	}
	return 0;
}

static struct entry *add_entry(struct walk *w)
{
	struct kf_iso *iso = w->iso;
	if (iso->n >= MAX_ENTRIES) {
		fail(w, -EFBIG, "ISO %s: more than %s entries", "4194304");
		return NULL;
	}
	if (iso->n == iso->cap) {
		iso->cap = iso->cap ? iso->cap * 2 : 256;
		iso->v = kf_xrealloc(iso->v, iso->cap * sizeof(*iso->v));
	}
	struct entry *en = &iso->v[iso->n++];
	memset(en, 0, sizeof(*en));
	return en;
}

/* UCS-2 big endian to UTF-8. */
static void joliet_name(const unsigned char *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i + 1 < n && o + 4 < cap; i += 2) {
		unsigned c = (unsigned)p[i] << 8 | p[i + 1];
		if (c < 0x80) {
			out[o++] = (char)c;
		} else if (c < 0x800) {
			out[o++] = (char)(0xc0 | c >> 6);
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else {
			out[o++] = (char)(0xe0 | c >> 12);
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (c & 0x3f));
		}
	}
	out[o] = 0;
}

/* "NAME.EXT;1" -> "NAME.EXT"; "NAME." -> "NAME". */
static void iso_name(const unsigned char *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && p[i] != ';' && o + 1 < cap; i++)
		out[o++] = (char)p[i];
	if (o && out[o - 1] == '.')
		o--;
	out[o] = 0;
}

struct rr {
	char name[1024];
	size_t name_len;
	bool have_name, relocated, child;
	uint32_t child_lba;
};

/* Parses SUSP entries in [p, p+n), following continuation areas. */
static int parse_susp(struct walk *w, const unsigned char *p, size_t n, struct rr *rr, int depth)
{
	uint32_t ce_lba = 0, ce_off = 0, ce_len = 0;
	size_t i = 0;
	while (i + 4 <= n) {
		unsigned len = p[i + 2];
		if (len < 4 || i + len > n)
			break;
		const unsigned char *s = p + i;
		if (s[0] == 'S' && s[1] == 'T')
			break;
		if (s[0] == 'N' && s[1] == 'M' && len >= 5) {
			if (!(s[4] & 0x6)) {
				size_t k = len - 5;
				if (rr->name_len + k >= sizeof(rr->name))
					return fail(w, -EINVAL, "ISO %s: %s", "Rock Ridge name too long");
				memcpy(rr->name + rr->name_len, s + 5, k);
				rr->name_len += k;
				rr->name[rr->name_len] = 0;
				rr->have_name = true;
			}
		} else if (s[0] == 'C' && s[1] == 'E' && len >= 28) {
			ce_lba = le32(s + 4);
			ce_off = le32(s + 12);
			ce_len = le32(s + 20);
		} else if (s[0] == 'R' && s[1] == 'E') {
			rr->relocated = true;
		} else if (s[0] == 'C' && s[1] == 'L' && len >= 12) {
			rr->child = true;
			rr->child_lba = le32(s + 4);
		}
		i += len;
	}
	if (ce_len && depth < 16) {
		if (ce_len > SECTOR * 4u)
			return fail(w, -EINVAL, "ISO %s: %s", "oversized SUSP continuation area");
		unsigned char *buf = kf_xmalloc(ce_len);
		int r = read_at(w, buf, ce_len, (uint64_t)ce_lba * SECTOR + ce_off);
		if (!r)
			r = parse_susp(w, buf, ce_len, rr, depth + 1);
		free(buf);
		return r;
	}
	return 0;
}

static int walk_dir(struct walk *w, uint32_t lba, uint32_t size, const char *prefix, int depth);

/* One directory record (not "." or ".."); pending holds a multi-extent
 * file whose later extents follow. */
static int add_record(struct walk *w, const unsigned char *rec, const char *prefix, int depth,
		      struct entry **pending)
{
	unsigned len = rec[0], nlen = rec[32];
	uint32_t lba = le32(rec + 2), size = le32(rec + 10);
	unsigned flags = rec[25];
	char name[1024];
	struct rr rr = { 0 };
	if (w->names == NAMES_RR) {
		size_t su = 33 + nlen + !(nlen & 1);
		if (su + w->susp_skip < len) {
			int r = parse_susp(w, rec + su + w->susp_skip, len - su - w->susp_skip, &rr, 0);
			if (r < 0)
				return r;
		}
	}
	if (rr.relocated)
		return 0;
	if (rr.have_name)
		snprintf(name, sizeof(name), "%s", rr.name);
	else if (w->names == NAMES_JOLIET)
		joliet_name(rec + 33, nlen, name, sizeof(name));
	else
		iso_name(rec + 33, nlen, name, sizeof(name));
	if (!name[0] || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
		return fail(w, -EINVAL, "ISO %s: bad file name in directory \"%s\"", prefix);

	bool dir = (flags & 2) || rr.child;
	if (rr.child)
		lba = rr.child_lba;
	uint64_t off = (uint64_t)lba * SECTOR;
	if (!dir && off + size > w->iso->file_size)
		return fail(w, -EIO, "ISO %s: truncated image (data of \"%s\" lies past the end of the file)",
			    name);
	char *path = kf_arena_printf(&w->iso->arena, "%s%s%s", prefix, *prefix ? "/" : "", name);
	struct entry *en = *pending;
	if (en && (en->dir || strcmp(en->path, path)))
		en = NULL;
	if (!en) {
		en = add_entry(w);
		if (!en)
			return -EFBIG;
		en->path = path;
		en->dir = dir;
		en->ext = kf_arena_alloc(&w->iso->arena, sizeof(struct extent));
	} else {
		if (en->n_ext >= MAX_EXTENTS)
			return fail(w, -EINVAL, "ISO %s: too many extents for \"%s\"", path);
		en->ext = kf_arena_grow(&w->iso->arena, en->ext, en->n_ext * sizeof(struct extent),
					(en->n_ext + 1) * sizeof(struct extent));
	}
	en->ext[en->n_ext++] = (struct extent){ off, size };
	en->size += size;
	*pending = (flags & 0x80) && !dir ? en : NULL;
	/* en may move when the walk below grows the index: not used after */
	return dir ? walk_dir(w, lba, size, path, depth + 1) : 0;
}

static int walk_dir(struct walk *w, uint32_t lba, uint32_t size, const char *prefix, int depth)
{
	if (depth > MAX_DEPTH)
		return fail(w, -ELOOP, "ISO %s: directories nested too deep at \"%s\"", prefix);
	if (size > MAX_DIR_BYTES)
		return fail(w, -EFBIG, "ISO %s: directory \"%s\" is too large", prefix);
	unsigned char *buf = kf_xmalloc(size ? size : 1);
	int r = read_at(w, buf, size, (uint64_t)lba * SECTOR);
	struct entry *pending = NULL;
	size_t i = 0;
	while (!r && i < size) {
		unsigned len = buf[i];
		if (len == 0) { /* records do not cross sectors */
			i = (i / SECTOR + 1) * SECTOR;
			continue;
		}
		if (len < 34 || i + len > size || 33u + buf[i + 32] > len) {
			r = fail(w, -EINVAL, "ISO %s: corrupt directory record in \"%s\"", prefix);
			break;
		}
		const unsigned char *rec = buf + i;
		bool special = rec[32] == 1 && (rec[33] == 0 || rec[33] == 1);
		if (!special)
			r = add_record(w, rec, prefix, depth, &pending);
		i += len;
	}
	free(buf);
	return r;
}

/* Finds the SUSP "SP" entry in the root's "." record: Rock Ridge in use. */
static bool root_has_rr(struct walk *w, uint32_t lba)
{
	unsigned char sec[SECTOR];
	if (read_at(w, sec, SECTOR, (uint64_t)lba * SECTOR) < 0)
		return false;
	unsigned len = sec[0], nlen = sec[32];
	size_t su = 33 + nlen + !(nlen & 1);
	if (len < su + 7)
		return false;
	const unsigned char *s = sec + su;
	if (s[0] == 'S' && s[1] == 'P' && s[4] == 0xbe && s[5] == 0xef) {
		w->susp_skip = s[6];
		return true;
	}
	return false;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

static int read_descriptors(struct walk *w, unsigned char *pvd, unsigned char *joliet, bool *have_j)
{
	unsigned char sec[SECTOR];
	bool have_pvd = false;
	for (uint32_t s = 16; s < 16 + 64; s++) {
		if ((uint64_t)(s + 1) * SECTOR > w->iso->file_size)
			break;
		if (read_at(w, sec, SECTOR, (uint64_t)s * SECTOR) < 0)
			return -EIO;
		if (memcmp(sec + 1, "CD001", 5))
			break;
		if (sec[0] == 1 && !have_pvd) {
			memcpy(pvd, sec, SECTOR);
			have_pvd = true;
		} else if (sec[0] == 2 && sec[88] == '%' && sec[89] == '/' &&
			   (sec[90] == '@' || sec[90] == 'C' || sec[90] == 'E')) {
			memcpy(joliet, sec, SECTOR);
			*have_j = true;
		} else if (sec[0] == 255) {
			break;
		}
	}
	if (!have_pvd)
		return fail(w, -EINVAL, "ISO %s: not an ISO 9660 image (no primary volume descriptor at sector %s)",
			    "16");
	return 0;
}

int kf_iso_open(struct kf_iso **out, const char *path, struct kf_err *e)
{
	struct kf_iso *iso = kf_xcalloc(1, sizeof(*iso));
	struct walk w = { .iso = iso, .e = e };
	unsigned char pvd[SECTOR], joliet[SECTOR];
	bool have_j = false;
	struct stat st;
	int r = 0;
	*out = NULL;
	iso->name = kf_arena_strdup(&iso->arena, path);
	iso->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (iso->fd < 0 || fstat(iso->fd, &st) < 0) {
		r = kf_errc(e, -errno, NULL, "ISO %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = kf_errf(e, NULL, "ISO %s: not a regular file", path);
		goto out;
	}
	iso->file_size = (uint64_t)st.st_size;
	r = read_descriptors(&w, pvd, joliet, &have_j);
	if (r < 0)
		goto out;
	if (le16(pvd + 128) != SECTOR) {
		r = kf_errf(e, NULL, "ISO %s: logical block size %u is not supported", path, le16(pvd + 128));
		goto out;
	}
	iso->vol_size = (uint64_t)le32(pvd + 80) * SECTOR;
	if (iso->vol_size > iso->file_size) {
		r = kf_errc(e, -EIO, NULL,
			    "ISO %s: truncated image (the volume is %llu bytes, the file %llu)", path,
			    (unsigned long long)iso->vol_size, (unsigned long long)iso->file_size);
		goto out;
	}
	const unsigned char *root = pvd + 156;
	w.names = root_has_rr(&w, le32(root + 2)) ? NAMES_RR : NAMES_ISO;
	if (w.names == NAMES_ISO && have_j) {
		root = joliet + 156;
		w.names = NAMES_JOLIET;
	}
	if (w.failed) {
		r = -EIO;
		goto out;
	}
	r = walk_dir(&w, le32(root + 2), le32(root + 10), "", 0);
	if (r < 0)
		goto out;
	qsort(iso->v, iso->n, sizeof(*iso->v), cmp_entry);
	for (size_t i = 1; i < iso->n; i++)
		if (!strcmp(iso->v[i].path, iso->v[i - 1].path)) {
			r = kf_errf(e, NULL, "ISO %s: \"%s\" appears twice", path, iso->v[i].path);
			goto out;
		}
	*out = iso;
	iso = NULL;
out:
	kf_iso_free(iso);
	return r;
}

void kf_iso_free(struct kf_iso *iso)
{
	if (!iso)
		return;
	if (iso->fd >= 0)
		close(iso->fd);
	free(iso->v);
	kf_arena_release(&iso->arena);
	free(iso);
}

int kf_iso_fd(const struct kf_iso *iso)
{
	return iso->fd;
}

uint64_t kf_iso_size(const struct kf_iso *iso)
{
	return iso->file_size;
}

static void fill(const struct kf_iso *iso, size_t i, struct kf_iso_file *out)
{
	const struct entry *en = &iso->v[i];
	out->size = en->dir ? 0 : en->size;
	out->offset = en->n_ext ? en->ext[0].off : 0;
	out->dir = en->dir;
	out->idx = i;
	out->contiguous = !en->dir;
	for (size_t k = 1; k < en->n_ext; k++)
		if (en->ext[k].off != en->ext[k - 1].off + en->ext[k - 1].len)
			out->contiguous = false;
}

int kf_iso_lookup(const struct kf_iso *iso, const char *path, struct kf_iso_file *out)
{
	char norm[4096];
	size_t o = 0;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (!n)
			break;
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return -ENOENT;
		if (o + n + 2 > sizeof(norm))
			return -ENOENT;
		if (o)
			norm[o++] = '/';
		memcpy(norm + o, p, n);
		o += n;
		p = end;
	}
	norm[o] = 0;
	size_t lo = 0, hi = iso->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(norm, iso->v[mid].path);
		if (!c) {
			fill(iso, mid, out);
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -ENOENT;
}

ssize_t kf_iso_pread(const struct kf_iso *iso, const struct kf_iso_file *f, void *buf, size_t len,
		     uint64_t off)
{
	if (f->idx >= iso->n || iso->v[f->idx].dir)
		return -EISDIR;
	const struct entry *en = &iso->v[f->idx];
	if (off >= en->size)
		return 0;
	if (len > en->size - off)
		len = (size_t)(en->size - off);
	size_t done = 0;
	uint64_t base = 0;
	for (size_t k = 0; k < en->n_ext && done < len; k++) {
		const struct extent *x = &en->ext[k];
		uint64_t pos = off + done;
		if (pos >= base + x->len) {
			base += x->len;
			continue;
		}
		uint64_t in = pos - base;
		size_t want = len - done;
		if (want > x->len - in)
			want = (size_t)(x->len - in);
		ssize_t r = pread(iso->fd, (char *)buf + done, want, (off_t)(x->off + in));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += (size_t)r;
		if ((size_t)r < want)
			k--; /* short read: same extent again */
		else
			base += x->len;
	}
	return (ssize_t)done;
}

size_t kf_iso_count(const struct kf_iso *iso)
{
	return iso->n;
}

const char *kf_iso_path(const struct kf_iso *iso, size_t i, struct kf_iso_file *out)
{
	if (i >= iso->n)
		return NULL;
	if (out)
		fill(iso, i, out);
	return iso->v[i].path;
}
