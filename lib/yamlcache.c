/* Parsed-YAML cache: see yamlcache.h.
 *
 * The cache file holds the text last parsed, where each item of the root
 * mapping's largest block list starts (the item's "- " line), and the node
 * tree in pre-order.  With a new text, the common prefix and suffix with
 * the cached text bound the change; the items the change touches are cut
 * out of the new text and parsed on their own.  That part stands for the
 * same nodes it would give in place when:
 *  - the change lies inside the list's text, the part starts at the start
 *    of an item's "- " line and ends where an unchanged item (or the end of
 *    the list) starts, so the text around it reads as before;
 *  - the part parses as one block list whose dashes are in the list's
 *    column, with no anchors, aliases, directives or document markers;
 *  - every line of the part starts with a space, '#', '-' or is empty, so
 *    nothing in it can end the list early;
 *  - the text has no line breaks but "\n" (libyaml also counts "\r", NEL,
 *    LS and PS), so line numbers can be found by counting "\n".
 * Anything else parses the whole text. */
#include "yamlcache.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* bump when the meaning of a cached tree changes (struct sizes are checked) */
#define MAGIC "KFYC0003"
#define CACHE_MAX ((size_t)256 << 20)
#define LINE_END INT32_MAX /* end_line when the list runs to the end of the text */

struct hdr {
	char magic[8];
	uint32_t rec_size, item_size;
	uint64_t src_len, nitems, nrecs, pool_len;
	uint64_t garbage;  /* pool bytes no record uses (left by partial updates) */
	uint64_t end_off;  /* where the list's text ends: a line start, or src_len */
	int32_t end_line;  /* that line (1-based), LINE_END at the end of the text */
	int32_t seq_col;   /* the column of the list's dashes (1-based) */
	uint32_t seq_pair; /* the root mapping's pair that holds the list */
	uint32_t pad;
};
/* The file: hdr, the text (padded to 8), items, recs, the string pool
 * (padded to 8), and the checksum of all that (8 bytes). */

struct item { /* an item's text starts at off, the start of its "- " line */
	uint64_t off;
	int32_t line;
	int32_t pad;
};

struct rec { /* a node, in pre-order */
	uint8_t kind, plain, block, pad;
	int32_t line, col;
	uint32_t count; /* scalar: length; seq: items; map: pairs */
	uint32_t weight;
	uint32_t str;   /* scalar: offset in the string pool */
};

/* Where the list is in a text. */
struct layout {
	uint32_t seq_pair;
	int32_t seq_col, end_line;
	uint64_t end_off;
	struct item *items;
	size_t n;
};

/* A cache file (mapped), checked and taken apart. */
struct cache {
	void *map;
	size_t map_len;
	const struct hdr *h;
	const char *src;
	const struct item *items;
	const struct rec *recs;
	const char *pool;
};

/* What a partial load changed, for rewriting the cache from the old one:
 * records [a_rec, b_rec) (items k..j-1) are replaced by the part's items,
 * records after them move by dl lines when on or after line oline_end. */
struct patch {
	size_t a_rec, b_rec, seq_rec;
	struct kf_node **part;
	size_t npart;
	int32_t dl, oline_end;
	uint32_t root_weight, seq_n, seq_weight;
};

const char *kf_cache_use_name(enum kf_cache_use use)
{
	static const char *const names[] = { "off", "parsed", "hit", "partial" };
	return use <= KF_CACHE_PARTIAL ? names[use] : "?";
}

static uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* A checksum against torn files (not against forgery: the cache directory
 * is the user's own). */
static uint64_t checksum(const unsigned char *p, size_t n)
{
	const uint64_t k = 0x9e3779b97f4a7c15u;
	uint64_t h[8] = { 0x243f6a8885a308d3u, 0x13198a2e03707344u, 0xa4093822299f31d0u,
			  0x082efa98ec4e6c89u, 0x452821e638d01377u, 0xbe5466cf34e90c6cu,
			  0xc0ac29b7c97c50ddu, 0x3f84d5b5b5470917u };
	size_t i = 0;
	for (; i + 64 <= n; i += 64) /* eight independent lanes */
		for (int l = 0; l < 8; l++) {
			uint64_t w;
			memcpy(&w, p + i + 8 * (size_t)l, sizeof(w));
			h[l] = (h[l] ^ w) * k;
			h[l] ^= h[l] >> 29;
		}
	uint64_t t = n;
	for (; i < n; i++)
		t = (t ^ p[i]) * k;
	for (int l = 0; l < 8; l++)
		t = (t ^ rotl(h[l], 8 * l + 5)) * k;
	return t;
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* ---- the text ---- */

/* No line breaks but "\n" (see the top of the file). */
static bool text_ok(const char *s, size_t n)
{
	if (memchr(s, '\r', n))
		return false;
	for (const char *p = s; (p = memchr(p, 0xc2, (size_t)(s + n - p))); p++)
		if (p + 1 < s + n && (unsigned char)p[1] == 0x85)
			return false;
	for (const char *p = s; (p = memchr(p, 0xe2, (size_t)(s + n - p))); p++)
		if (p + 2 < s + n && (unsigned char)p[1] == 0x80 &&
		    ((unsigned char)p[2] == 0xa8 || (unsigned char)p[2] == 0xa9))
			return false;
	return true;
}

/* The offsets of the starts of lines 1, 2, ...; *n lines (one more than
 * the "\n"s). */
static size_t *line_starts(const char *s, size_t len, size_t *n)
{
	size_t cap = 1024, k = 0;
	size_t *v = kf_xmalloc(cap * sizeof(*v));
	v[k++] = 0;
	for (const char *p = s; (p = memchr(p, '\n', (size_t)(s + len - p))); p++) {
		if (k == cap) {
			cap *= 2;
			v = kf_xrealloc(v, cap * sizeof(*v));
		}
		v[k++] = (size_t)(p + 1 - s);
	}
	*n = k;
	return v;
}

/* Does the item's line, starting at off, read "<spaces>- <spaces>ITEM" with
 * the dash in column col? */
static bool item_line_ok(const char *s, size_t len, size_t off, int32_t col,
			 const struct kf_node *item)
{
	size_t dash = off + (size_t)col - 1, body = off + (size_t)item->mark.col - 1;
	if (item->mark.col <= col + 1 || body >= len)
		return false;
	for (size_t i = off; i < dash; i++)
		if (s[i] != ' ')
			return false;
	if (s[dash] != '-')
		return false;
	for (size_t i = dash + 1; i < body; i++)
		if (s[i] != ' ')
			return false;
	return true;
}

/* Every line of a part starts with ' ', '#', '-' (not "---") or is empty:
 * no key, directive or document marker can end the list inside it. */
static bool part_lines_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		char c = s[i];
		if (c != ' ' && c != '#' && c != '\n' && c != '-')
			return false;
		if (c == '-' && len - i >= 3 && !memcmp(s + i, "---", 3))
			return false;
		const char *nl = memchr(s + i, '\n', len - i);
		if (!nl)
			break;
		i = (size_t)(nl - s) + 1;
	}
	return true;
}

/* Finds the list to cache in a parsed document: the largest block list
 * that is a value of the block root mapping, each item on its dash line. */
static bool find_layout(const struct kf_doc *doc, const char *s, size_t len, struct layout *L)
{
	const struct kf_node *root = doc->root, *seq = NULL;
	memset(L, 0, sizeof(*L));
	if (doc->has_anchors || !root || root->kind != KF_NODE_MAP || !root->block ||
	    !text_ok(s, len))
		return false;
	for (size_t i = 0; i < root->n; i++) {
		const struct kf_node *v = root->kids[2 * i + 1];
		if (v->kind == KF_NODE_SEQ && v->block && v->n && (!seq || v->n > seq->n)) {
			seq = v;
			L->seq_pair = (uint32_t)i;
		}
	}
	if (!seq)
		return false;
	size_t nlines;
	size_t *ls = line_starts(s, len, &nlines);
	bool ok = true;
	L->seq_col = seq->mark.col;
	L->n = seq->n;
	L->items = kf_xcalloc(L->n, sizeof(*L->items));
	for (size_t i = 0; ok && i < seq->n; i++) {
		const struct kf_node *it = seq->kids[i];
		int line = it->mark.line;
		ok = line >= 1 && (size_t)line <= nlines && (!i || line > L->items[i - 1].line) &&
		     item_line_ok(s, len, ls[line - 1], L->seq_col, it);
		if (ok) {
			L->items[i].off = ls[line - 1];
			L->items[i].line = line;
		}
	}
	/* the list ends where the first root key after its last item starts */
	int last = seq->kids[seq->n - 1]->mark.line;
	L->end_line = LINE_END;
	L->end_off = len;
	for (size_t i = 0; ok && i < root->n; i++) {
		int kl = root->kids[2 * i]->mark.line;
		if (kl > last && kl < L->end_line && (size_t)kl <= nlines) {
			L->end_line = kl;
			L->end_off = ls[kl - 1];
		}
	}
	free(ls);
	if (!ok) {
		free(L->items);
		L->items = NULL;
	}
	return ok;
}

/* ---- writing ---- */

struct writer {
	struct rec *recs;
	char *pool;
	size_t nrecs, pool_len;
};

static void count_node(const struct kf_node *n, size_t *nrecs, size_t *pool)
{
	++*nrecs;
	if (n->kind == KF_NODE_SCALAR) {
		*pool += n->len + 1;
		return;
	}
	size_t k = n->kind == KF_NODE_MAP ? 2 * n->n : n->n;
	for (size_t i = 0; i < k; i++)
		count_node(n->kids[i], nrecs, pool);
}

static void put_node(struct writer *w, const struct kf_node *n)
{
	struct rec *r = &w->recs[w->nrecs++];
	r->kind = (uint8_t)n->kind;
	r->plain = n->plain;
	r->block = n->block;
	r->line = n->mark.line;
	r->col = n->mark.col;
	r->weight = (uint32_t)n->weight;
	if (n->kind == KF_NODE_SCALAR) {
		r->count = (uint32_t)n->len;
		r->str = (uint32_t)w->pool_len;
		memcpy(w->pool + w->pool_len, n->val, n->len + 1);
		w->pool_len += n->len + 1;
		return;
	}
	r->count = (uint32_t)n->n;
	size_t k = n->kind == KF_NODE_MAP ? 2 * n->n : n->n;
	for (size_t i = 0; i < k; i++)
		put_node(w, n->kids[i]);
}

/* Sizes and offsets of a cache file's parts. */
struct sizes {
	size_t o_items, o_recs, o_pool, o_sum, total;
};

static bool sizes_of(struct sizes *z, uint64_t src_len, uint64_t nitems, uint64_t nrecs,
		     uint64_t pool_len)
{
	if (src_len > CACHE_MAX || nitems > CACHE_MAX || nrecs > CACHE_MAX || pool_len > CACHE_MAX)
		return false;
	z->o_items = sizeof(struct hdr) + align8(src_len);
	z->o_recs = z->o_items + nitems * sizeof(struct item);
	z->o_pool = z->o_recs + nrecs * sizeof(struct rec);
	z->o_sum = z->o_pool + align8(pool_len);
	z->total = z->o_sum + sizeof(uint64_t);
	return z->total <= CACHE_MAX && pool_len <= UINT32_MAX;
}

/* A new file's buffer with its header, text and items in place. */
static char *start_file(const struct sizes *z, const char *src, size_t len,
			const struct layout *L, uint64_t nrecs, uint64_t pool_len, uint64_t garbage)
{
	char *buf = kf_xmalloc(z->total);
	struct hdr *h = (struct hdr *)buf;
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, MAGIC, sizeof(h->magic));
	h->rec_size = sizeof(struct rec);
	h->item_size = sizeof(struct item);
	h->src_len = len;
	h->nitems = L->n;
	h->nrecs = nrecs;
	h->pool_len = pool_len;
	h->garbage = garbage;
	h->end_off = L->end_off;
	h->end_line = L->end_line;
	h->seq_col = L->seq_col;
	h->seq_pair = L->seq_pair;
	memcpy(buf + sizeof(*h), src, len);
	memset(buf + sizeof(*h) + len, 0, z->o_items - sizeof(*h) - len);
	memcpy(buf + z->o_items, L->items, L->n * sizeof(struct item));
	memset(buf + z->o_pool + pool_len, 0, z->o_sum - z->o_pool - pool_len);
	return buf;
}

static void finish_file(const char *cache_path, char *buf, const struct sizes *z)
{
	uint64_t sum = checksum((const unsigned char *)buf, z->o_sum);
	memcpy(buf + z->o_sum, &sum, sizeof(sum));
	/* the old file goes first: ext4 (auto_da_alloc) flushes a file that
	 * is renamed over another one, which would cost a disk write here; a
	 * load in between finds no cache and parses.  A cache that cannot be
	 * written is only a slower next load. */
	unlink(cache_path);
	kf_write_replace(cache_path, buf, z->total, 0600);
	free(buf);
}

static void write_cache(const char *cache_path, const struct kf_doc *doc, const char *src,
			size_t len, const struct layout *L)
{
	size_t nrecs = 0, pool = 0;
	struct sizes z;
	count_node(doc->root, &nrecs, &pool);
	if (!sizes_of(&z, len, L->n, nrecs, pool)) {
		unlink(cache_path);
		return;
	}
	char *buf = start_file(&z, src, len, L, nrecs, pool, 0);
	struct writer w = { (struct rec *)(buf + z.o_recs), buf + z.o_pool, 0, 0 };
	put_node(&w, doc->root);
	finish_file(cache_path, buf, &z);
}

/* Writes the cache of a partial load from the old cache file: the old
 * records and strings are copied, the part's are put in place of the
 * items it replaced.  False when a whole write is better (the pool would
 * be more than half garbage). */
static bool write_patched(const char *cache_path, const struct cache *c, const char *src,
			  size_t len, const struct layout *L, const struct patch *pt)
{
	const struct hdr *oh = c->h;
	size_t prec = 0, ppool = 0, gone = 0;
	for (size_t i = 0; i < pt->npart; i++)
		count_node(pt->part[i], &prec, &ppool);
	for (size_t i = pt->a_rec; i < pt->b_rec; i++)
		if (c->recs[i].kind == KF_NODE_SCALAR)
			gone += c->recs[i].count + 1;
	size_t tail = oh->nrecs - pt->b_rec, nrecs = pt->a_rec + prec + tail;
	size_t pool = oh->pool_len + ppool, garbage = oh->garbage + gone;
	struct sizes z;
	if (garbage > pool / 2 || !sizes_of(&z, len, L->n, nrecs, pool))
		return false;
	char *buf = start_file(&z, src, len, L, nrecs, pool, garbage);
	struct rec *recs = (struct rec *)(buf + z.o_recs);
	memcpy(recs, c->recs, pt->a_rec * sizeof(*recs));
	memcpy(buf + z.o_pool, c->pool, oh->pool_len);
	struct writer w = { recs + pt->a_rec, buf + z.o_pool, 0, oh->pool_len };
	for (size_t i = 0; i < pt->npart; i++)
		put_node(&w, pt->part[i]);
	struct rec *moved = recs + pt->a_rec + prec;
	memcpy(moved, c->recs + pt->b_rec, tail * sizeof(*recs));
	if (pt->dl)
		for (size_t i = 0; i < tail; i++)
			if (moved[i].line >= pt->oline_end)
				moved[i].line += pt->dl;
	recs[0].weight = pt->root_weight;
	recs[pt->seq_rec].count = pt->seq_n;
	recs[pt->seq_rec].weight = pt->seq_weight;
	finish_file(cache_path, buf, &z);
	return true;
}

/* ---- reading ---- */

static void cache_close(struct cache *c)
{
	if (c->map)
		munmap(c->map, c->map_len);
	memset(c, 0, sizeof(*c));
}

static bool cache_open(struct cache *c, const char *cache_path)
{
	struct stat sb;
	memset(c, 0, sizeof(*c));
	int fd = open(cache_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* mapped, not read: no copy; the writers replace the file by rename,
	 * never in place */
	void *m = MAP_FAILED;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (uint64_t)sb.st_size >= sizeof(struct hdr) + sizeof(uint64_t) &&
	    (uint64_t)sb.st_size <= CACHE_MAX)
		m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return false;
	c->map = m;
	c->map_len = (size_t)sb.st_size;
	const char *buf = m;
	const struct hdr *h = m;
	struct sizes z;
	uint64_t sum;
	memcpy(&sum, buf + c->map_len - sizeof(sum), sizeof(sum));
	if (memcmp(h->magic, MAGIC, sizeof(h->magic)) || h->rec_size != sizeof(struct rec) ||
	    h->item_size != sizeof(struct item) ||
	    !sizes_of(&z, h->src_len, h->nitems, h->nrecs, h->pool_len) || z.total != c->map_len ||
	    !h->nitems || !h->nrecs || h->seq_col < 1 || h->end_off > h->src_len ||
	    checksum((const unsigned char *)buf, z.o_sum) != sum)
		goto bad;
	c->h = h;
	c->src = buf + sizeof(*h);
	c->items = (const struct item *)(buf + z.o_items);
	c->recs = (const struct rec *)(buf + z.o_recs);
	c->pool = buf + z.o_pool;
	for (size_t i = 0; i < h->nitems; i++)
		if (c->items[i].off >= h->end_off || c->items[i].line < 1 ||
		    (i && (c->items[i].off <= c->items[i - 1].off ||
			   c->items[i].line <= c->items[i - 1].line)))
			goto bad;
	if (h->end_line != LINE_END && h->end_line <= c->items[h->nitems - 1].line)
		goto bad;
	return true;
bad:
	cache_close(c);
	return false;
}

struct reader {
	const struct cache *c;
	struct kf_node *nodes;
	struct kf_node **kids;
	size_t i, nkids, depth;
	const char *pool, *file;
};

static struct kf_node *get_node(struct reader *r)
{
	const struct hdr *h = r->c->h;
	if (r->i >= h->nrecs || r->depth > KF_DOC_MAX_DEPTH)
		return NULL;
	const struct rec *x = &r->c->recs[r->i];
	struct kf_node *n = &r->nodes[r->i++];
	if (x->kind > KF_NODE_MAP || x->line < 1 || x->col < 1)
		return NULL;
	/* every field: the block is not zeroed */
	*n = (struct kf_node){ .kind = (enum kf_node_kind)x->kind, .plain = x->plain,
			       .block = x->block, .mark = { r->file, x->line, x->col },
			       .weight = x->weight };
	if (n->kind == KF_NODE_SCALAR) {
		if ((uint64_t)x->str + x->count >= h->pool_len || r->pool[x->str + x->count])
			return NULL;
		n->val = r->pool + x->str;
		n->len = x->count;
		return n;
	}
	size_t k = n->kind == KF_NODE_MAP ? 2 * (size_t)x->count : x->count;
	if (k > h->nrecs - r->i || r->nkids + k > h->nrecs)
		return NULL;
	n->n = x->count;
	n->kids = k ? r->kids + r->nkids : NULL;
	r->nkids += k;
	r->depth++;
	for (size_t j = 0; j < k; j++)
		if (!(n->kids[j] = get_node(r)))
			return NULL;
	r->depth--;
	return n;
}

/* The cached tree as a document named path, or NULL. */
static struct kf_doc *doc_from_cache(const struct cache *c, const char *path,
				     struct kf_node **nodes)
{
	const struct hdr *h = c->h;
	struct kf_doc *doc = kf_xcalloc(1, sizeof(*doc));
	doc->file = kf_arena_strdup(&doc->arena, path);
	char *pool = kf_arena_alloc_uninit(&doc->arena, h->pool_len);
	memcpy(pool, c->pool, h->pool_len);
	struct reader r = { .c = c, .pool = pool, .file = doc->file };
	r.nodes = kf_arena_alloc_uninit(&doc->arena, h->nrecs * sizeof(*r.nodes));
	r.kids = kf_arena_alloc_uninit(&doc->arena, h->nrecs * sizeof(*r.kids));
	struct kf_node *root = get_node(&r);
	if (!root || r.i != h->nrecs || root->kind != KF_NODE_MAP || h->seq_pair >= root->n ||
	    root->kids[2 * h->seq_pair + 1]->kind != KF_NODE_SEQ ||
	    root->kids[2 * h->seq_pair + 1]->n != h->nitems) {
		kf_doc_free(doc);
		return NULL;
	}
	doc->root = root;
	*nodes = r.nodes;
	return doc;
}

static size_t common_prefix(const char *a, const char *b, size_t n)
{
	size_t i = 0;
	while (i + 4096 <= n && !memcmp(a + i, b + i, 4096))
		i += 4096;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

static size_t common_suffix(const char *a, size_t na, const char *b, size_t nb)
{
	size_t n = na < nb ? na : nb, i = 0;
	while (i + 4096 <= n && !memcmp(a + na - i - 4096, b + nb - i - 4096, 4096))
		i += 4096;
	while (i < n && a[na - i - 1] == b[nb - i - 1])
		i++;
	return i;
}

/* The items a change touches: k..j-1, parsed again as the new text's
 * [a, a + plen); oline_end is the old line where item j (or the end) is. */
struct span {
	size_t k, j, a, plen;
	int32_t oline_end;
};

/* Finds the span of the change from the cached text to s; false when a
 * partial parse cannot cover it. */
static bool change_span(const struct cache *c, const char *s, size_t len, struct span *sp)
{
	const struct hdr *h = c->h;
	const struct item *it = c->items;
	size_t olen = h->src_len, N = h->nitems;
	size_t P = common_prefix(c->src, s, olen < len ? olen : len);
	size_t S = common_suffix(c->src + P, olen - P, s + P, len - P);
	size_t oend = olen - S; /* the changed old text is [P, oend) */
	if (P < it[0].off || oend > h->end_off)
		return false;
	/* k starts before the change (or is the first), j after it, so the
	 * byte before it ("\n") is unchanged */
	size_t k = 0, j = N;
	while (k + 1 < N && it[k + 1].off < P)
		k++;
	for (size_t i = k; i < N; i++)
		if (it[i].off > oend) {
			j = i;
			break;
		}
	if (j == N && h->end_off == oend && h->end_off != olen)
		return false;
	size_t ob = j < N ? it[j].off : h->end_off;
	size_t nb = ob + len - olen; /* the new part ends there */
	*sp = (struct span){ k, j, it[k].off, nb - it[k].off, j < N ? it[j].line : h->end_line };
	const char *part = s + sp->a;
	size_t pcol = (size_t)h->seq_col - 1;
	return sp->plen > pcol && part[pcol] == '-' && part_lines_ok(part, sp->plen) &&
	       text_ok(part, sp->plen);
}

/* The new text's layout in L: the items before the span, the part's, those
 * after it moved by the *dl lines the change added.  False (L filled all
 * the same) when an item of the part does not start its line at the
 * sequence's column. */
static bool part_layout(const struct cache *c, const char *s, size_t len, const struct span *sp,
			const struct kf_node *part_root, struct layout *L, int32_t *dl)
{
	const struct hdr *h = c->h;
	const struct item *it = c->items;
	size_t olen = h->src_len, N = h->nitems, k = sp->k, j = sp->j;
	size_t np = part_root->n, nlines;
	size_t *ls = line_starts(s + sp->a, sp->plen, &nlines);
	*dl = sp->oline_end == LINE_END ? 0 : (int32_t)(nlines - 1) - (sp->oline_end - it[k].line);
	memset(L, 0, sizeof(*L));
	L->seq_pair = h->seq_pair;
	L->seq_col = h->seq_col;
	L->n = k + np + (N - j);
	L->items = kf_xcalloc(L->n, sizeof(*L->items));
	memcpy(L->items, it, k * sizeof(*it));
	bool ok = true;
	for (size_t i = 0; ok && i < np; i++) {
		const struct kf_node *x = part_root->kids[i];
		size_t rel = (size_t)(x->mark.line - it[k].line);
		ok = x->mark.line >= it[k].line && rel < nlines &&
		     (!i || x->mark.line > L->items[k + i - 1].line) &&
		     item_line_ok(s, len, sp->a + ls[rel], h->seq_col, x);
		L->items[k + i].off = sp->a + ls[rel];
		L->items[k + i].line = x->mark.line;
	}
	free(ls);
	for (size_t i = j; i < N; i++) {
		L->items[k + np + i - j].off = it[i].off + len - olen;
		L->items[k + np + i - j].line = it[i].line + *dl;
	}
	L->end_off = h->end_off == olen ? len : h->end_off + len - olen;
	L->end_line = h->end_line == LINE_END ? LINE_END : h->end_line + *dl;
	return ok;
}

/* Splices the part's items into the cached tree's sequence (n items
 * then), moves the nodes after the part by dl lines, fixes the weights and
 * fills pt; the nodes are in the records' order, so the items' records are
 * found too.  False when the result breaks a limit. */
static bool splice_part(const struct cache *c, struct kf_doc *doc, struct kf_node *nodes,
			const struct span *sp, struct kf_node *part_root, size_t n, int32_t dl,
			struct patch *pt)
{
	const struct hdr *h = c->h;
	size_t N = h->nitems, k = sp->k, j = sp->j, np = part_root->n;
	struct kf_node *root = doc->root, *seq = root->kids[2 * h->seq_pair + 1];
	pt->seq_rec = (size_t)(seq - nodes);
	pt->a_rec = (size_t)(seq->kids[k] - nodes);
	if (j < N)
		pt->b_rec = (size_t)(seq->kids[j] - nodes);
	else if (h->seq_pair + 1 < root->n)
		pt->b_rec = (size_t)(root->kids[2 * h->seq_pair + 2] - nodes);
	else
		pt->b_rec = h->nrecs;
	pt->part = part_root->kids;
	pt->npart = np;
	pt->dl = dl;
	pt->oline_end = sp->oline_end;
	struct kf_node **kids = kf_arena_alloc(&doc->arena, n * sizeof(*kids));
	size_t w = seq->weight;
	for (size_t i = k; i < j; i++)
		w -= seq->kids[i]->weight;
	for (size_t i = 0; i < np; i++)
		w += part_root->kids[i]->weight;
	memcpy(kids, seq->kids, k * sizeof(*kids));
	memcpy(kids + k, part_root->kids, np * sizeof(*kids));
	memcpy(kids + k + np, seq->kids + j, (N - j) * sizeof(*kids));
	if (dl)
		for (size_t i = 0; i < h->nrecs; i++)
			if (nodes[i].mark.line >= sp->oline_end)
				nodes[i].mark.line += dl;
	root->weight = root->weight - seq->weight + w;
	seq->weight = w;
	seq->kids = kids;
	seq->n = n;
	if (root->weight > KF_DOC_MAX_WEIGHT || pt->a_rec >= pt->b_rec || pt->b_rec > h->nrecs)
		return false;
	pt->root_weight = (uint32_t)root->weight;
	pt->seq_n = (uint32_t)seq->n;
	pt->seq_weight = (uint32_t)seq->weight;
	return true;
}

/* Parses only the items the change from the cached text to s touches and
 * splices them into the cached tree.  NULL if that cannot be done (the
 * caller parses the whole text); *L is the new text's layout and *pt what
 * changed. */
static struct kf_doc *load_partial(const struct cache *c, const char *path, const char *s,
				   size_t len, struct layout *L, struct patch *pt)
{
	const struct hdr *h = c->h;
	struct span sp;
	if (!change_span(c, s, len, &sp))
		return NULL;
	struct kf_node *nodes;
	struct kf_doc *doc = doc_from_cache(c, path, &nodes);
	if (!doc)
		return NULL;
	struct kf_err scratch = KF_ERR_INIT;
	struct kf_node *part_root = NULL;
	int32_t line = c->items[sp.k].line, dl;
	int r = kf_doc_parse_part(doc, s + sp.a, sp.plen, line - 1, 1, &part_root, &scratch);
	kf_err_release(&scratch);
	if (r < 0 || doc->has_anchors || !part_root || part_root->kind != KF_NODE_SEQ ||
	    !part_root->block || part_root->mark.col != h->seq_col || part_root->mark.line != line)
		goto fail;
	if (part_layout(c, s, len, &sp, part_root, L, &dl) &&
	    splice_part(c, doc, nodes, &sp, part_root, L->n, dl, pt))
		return doc;
fail:
	free(L->items);
	memset(L, 0, sizeof(*L));
	kf_doc_free(doc);
	return NULL;
}

int kf_doc_load_cached(struct kf_doc **out, const char *path, const char *cache_path,
		       enum kf_cache_use *use, struct kf_err *e)
{
	enum kf_cache_use u = KF_CACHE_OFF;
	struct layout L = { 0 };
	struct cache c;
	bool cached = false;
	char *s = NULL;
	size_t len = 0;
	*out = NULL;
	int r = cache_path ? kf_doc_read(path, &s, &len, e) : kf_doc_load_file(out, path, e);
	if (r < 0 || !cache_path)
		goto done;
	cached = cache_open(&c, cache_path);
	struct patch pt = { 0 };
	if (cached) {
		if (c.h->src_len == len && !memcmp(c.src, s, len)) {
			struct kf_node *nodes;
			if ((*out = doc_from_cache(&c, path, &nodes)))
				u = KF_CACHE_HIT;
		} else if ((*out = load_partial(&c, path, s, len, &L, &pt))) {
			u = KF_CACHE_PARTIAL;
		}
	}
	if (!*out) {
		if ((r = kf_doc_load_buf(out, path, s, len, e)) < 0)
			goto done;
		u = KF_CACHE_PARSED;
		if (!find_layout(*out, s, len, &L)) {
			unlink(cache_path);
			u = KF_CACHE_OFF;
		}
	}
	if (u == KF_CACHE_PARSED ||
	    (u == KF_CACHE_PARTIAL && !write_patched(cache_path, &c, s, len, &L, &pt)))
		write_cache(cache_path, *out, s, len, &L);
done:
	if (cached)
		cache_close(&c);
	free(L.items);
	free(s);
	if (use)
		*use = u;
	return r;
}

char *kf_doc_cache_path(const char *path)
{
	const char *env = getenv("KICKFLEET_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
		   *home = getenv("HOME");
	char *dir;
	if (env && !strcmp(env, "off"))
		return NULL;
	if (env && *env)
		dir = kf_xstrdup(env);
	else if (geteuid() == 0)
		dir = kf_xstrdup("/var/cache/kickfleet");
	else if (xdg && *xdg)
		dir = kf_xasprintf("%s/kickfleet", xdg);
	else if (home && *home)
		dir = kf_xasprintf("%s/.cache/kickfleet", home);
	else
		return NULL;
	char *real = realpath(path, NULL), *out = NULL;
	if (real && kf_mkdir_p(dir, 0700) == 0) {
		const char *base = strrchr(real, '/');
		out = kf_xasprintf("%s/%s-%016zx.yc", dir, base ? base + 1 : real, kf_str_hash(real));
	}
	free(real);
	free(dir);
	return out;
}
