/* libyaml adapter: events in, struct kf_node tree out. */
#include "yamldoc.h"

#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <yaml.h>

#include "util.h"

struct anchor {
	char *name;
	struct kf_node *node;
	struct anchor *next;
};

/* Children of the collections being built: each collection pushes its
 * items (a map: key, value, key, value...) above its parent's and, when it
 * ends, copies them into one arena array of the exact size and pops them. */
struct kids {
	struct kf_node **v;
	size_t n, cap;
};

struct builder {
	struct kf_doc *doc;
	struct kf_err *e;
	yaml_parser_t parser;
	struct anchor *anchors;
	struct kids stack;
	int depth;
	int failed;
	int line0; /* added to every mark's line (a part of a larger file) */
};

static struct kf_mark mark_of(struct builder *b, yaml_mark_t m)
{
	struct kf_mark k = { b->doc->file, (int)m.line + 1 + b->line0, (int)m.column + 1 };
	return k;
}

static struct kf_node *new_node(struct builder *b, enum kf_node_kind kind, yaml_mark_t m)
{
	struct kf_node *n = kf_arena_alloc(&b->doc->arena, sizeof(*n));
	n->kind = kind;
	n->mark = mark_of(b, m);
	n->weight = 1;
	return n;
}

static void add_anchor(struct builder *b, const yaml_char_t *name, struct kf_node *n)
{
	if (!name)
		return;
	b->doc->has_anchors = true;
	/* A later anchor with the same name shadows the earlier one. */
	struct anchor *a = kf_arena_alloc(&b->doc->arena, sizeof(*a));
	a->name = kf_arena_strdup(&b->doc->arena, (const char *)name);
	a->node = n;
	a->next = b->anchors;
	b->anchors = a;
}

static struct kf_node *find_anchor(struct builder *b, const char *name)
{
	for (struct anchor *a = b->anchors; a; a = a->next)
		if (!strcmp(a->name, name))
			return a->node;
	return NULL;
}

static void kids_push(struct kids *k, struct kf_node *n)
{
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 256;
		k->v = kf_xrealloc(k->v, k->cap * sizeof(*k->v));
	}
	k->v[k->n++] = n;
}

/* Pops the items above base into an arena array (NULL for none). */
static struct kf_node **kids_take(struct builder *b, size_t base)
{
	size_t n = b->stack.n - base;
	struct kf_node **v = NULL;
	if (n) {
		v = kf_arena_alloc(&b->doc->arena, n * sizeof(*v));
		memcpy(v, b->stack.v + base, n * sizeof(*v));
	}
	b->stack.n = base;
	return v;
}

static int parse_node(struct builder *b, yaml_event_t *ev, struct kf_node **out);

static bool scalar_eq(const struct kf_node *n, const char *s)
{
	return n->kind == KF_NODE_SCALAR && !strcmp(n->val, s);
}

/* The keys of one mapping being built: a linear search while it is small,
 * a hash table of stack positions once it is not. */
#define KEYS_LINEAR 16

struct keys {
	const struct kids *k;
	size_t base;  /* the mapping's first key on the stack */
	size_t *slot; /* position + 1, 0: empty */
	size_t cap;
};

static void keys_put(struct keys *ks, size_t pos)
{
	size_t m = ks->cap - 1, i = kf_str_hash(ks->k->v[pos]->val) & m;
	while (ks->slot[i])
		i = (i + 1) & m;
	ks->slot[i] = pos + 1;
}

static void keys_grow(struct keys *ks, size_t end)
{
	free(ks->slot);
	ks->cap = ks->cap ? ks->cap * 2 : 4 * KEYS_LINEAR;
	ks->slot = kf_xcalloc(ks->cap, sizeof(*ks->slot));
	for (size_t i = ks->base; i + 1 < end; i += 2)
		keys_put(ks, i);
}

/* The stack position of key among the mapping's keys so far, or -1. */
static ssize_t keys_find(struct keys *ks, const char *key)
{
	size_t end = ks->k->n;
	if (end - ks->base < 2 * KEYS_LINEAR) {
		for (size_t i = ks->base; i + 1 < end; i += 2)
			if (ks->k->v[i]->val[0] == key[0] && !strcmp(ks->k->v[i]->val, key))
				return (ssize_t)i;
		return -1;
	}
	if (2 * ((end - ks->base) / 2) >= ks->cap) /* load at most 1/2 */
		keys_grow(ks, end);
	size_t m = ks->cap - 1;
	for (size_t i = kf_str_hash(key) & m; ks->slot[i]; i = (i + 1) & m)
		if (!strcmp(ks->k->v[ks->slot[i] - 1]->val, key))
			return (ssize_t)(ks->slot[i] - 1);
	return -1;
}

/* Adds a key and its value to the mapping (after keys_find said -1). */
static void keys_add(struct builder *b, struct keys *ks, struct kf_node *key, struct kf_node *val)
{
	kids_push(&b->stack, key);
	kids_push(&b->stack, val);
	if (ks->cap)
		keys_put(ks, b->stack.n - 2);
}

static int check_weight(struct builder *b, struct kf_node *n, struct kf_node *child)
{
	n->weight += child->weight;
	if (n->weight > KF_DOC_MAX_WEIGHT) {
		if (!b->failed++)
			kf_errf(b->e, &child->mark,
				"document expands to more than %u nodes (alias bomb?)",
				KF_DOC_MAX_WEIGHT);
		return -E2BIG;
	}
	return 0;
}

/* Applies one merge source (a map) to the pairs collected so far: keys
 * already present (given or merged before) win. */
static void merge_from(struct builder *b, struct keys *ks, const struct kf_node *src)
{
	for (size_t i = 0; i < src->n; i++) {
		struct kf_node *key = src->kids[2 * i];
		if (keys_find(ks, key->val) < 0)
			keys_add(b, ks, key, src->kids[2 * i + 1]);
	}
}

static int parse_map(struct builder *b, struct kf_node *n)
{
	struct keys ks = { &b->stack, b->stack.n, NULL, 0 };
	struct kf_node *merge_src[64];
	size_t nmerge = 0;
	int r = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&b->parser, &ev)) {
			r = -EINVAL;
			goto out;
		}
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		struct kf_node *key = NULL, *val = NULL;
		if ((r = parse_node(b, &ev, &key)) < 0)
			goto out;
		if (!yaml_parser_parse(&b->parser, &ev)) {
			r = -EINVAL;
			goto out;
		}
		if ((r = parse_node(b, &ev, &val)) < 0)
			goto out;
		if (key->kind != KF_NODE_SCALAR) {
			kf_errf(b->e, &key->mark, "a key must be a plain value, not a %s",
				kf_node_kind_name(key));
			b->failed++;
			continue;
		}
		if (key->plain && scalar_eq(key, "<<")) {
			if (val->kind == KF_NODE_MAP) {
				if (nmerge < KF_ARRAY_SIZE(merge_src))
					merge_src[nmerge++] = val;
			} else if (val->kind == KF_NODE_SEQ) {
				for (size_t i = 0; i < val->n; i++) {
					if (val->kids[i]->kind != KF_NODE_MAP) {
						kf_errf(b->e, &val->kids[i]->mark,
							"merge key \"<<\" takes mappings only");
						b->failed++;
					} else if (nmerge < KF_ARRAY_SIZE(merge_src)) {
						merge_src[nmerge++] = val->kids[i];
					}
				}
			} else {
				kf_errf(b->e, &val->mark, "merge key \"<<\" takes a mapping or a list of mappings");
				b->failed++;
			}
			if ((r = check_weight(b, n, val)) < 0)
				goto out;
			continue;
		}
		ssize_t dup = keys_find(&ks, key->val);
		if (dup >= 0) {
			const struct kf_mark *first = &b->stack.v[dup]->mark;
			kf_errf(b->e, &key->mark, "duplicate key \"%s\" (first at line %d)",
				key->val, first->line);
			b->failed++;
			continue;
		}
		keys_add(b, &ks, key, val);
		if ((r = check_weight(b, n, val)) < 0)
			goto out;
	}
	for (size_t i = 0; i < nmerge; i++)
		merge_from(b, &ks, merge_src[i]);
out:
	n->n = (b->stack.n - ks.base) / 2;
	n->kids = kids_take(b, ks.base);
	free(ks.slot);
	return r;
}

static int parse_seq(struct builder *b, struct kf_node *n)
{
	size_t base = b->stack.n;
	int r = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&b->parser, &ev)) {
			r = -EINVAL;
			break;
		}
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		struct kf_node *item = NULL;
		if ((r = parse_node(b, &ev, &item)) < 0)
			break;
		kids_push(&b->stack, item);
		if ((r = check_weight(b, n, item)) < 0)
			break;
	}
	n->n = b->stack.n - base;
	n->kids = kids_take(b, base);
	return r;
}

/* Consumes ev (and, for collections, everything up to its end). */
static int parse_node(struct builder *b, yaml_event_t *ev, struct kf_node **out)
{
	int r = 0;
	struct kf_node *n = NULL;
	switch (ev->type) {
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		b->doc->has_anchors = true;
		n = find_anchor(b, name);
		if (!n) {
			struct kf_mark m = mark_of(b, ev->start_mark);
			kf_errf(b->e, &m, "unknown alias \"*%s\"", name);
			b->failed++;
			n = new_node(b, KF_NODE_SCALAR, ev->start_mark);
			n->val = "";
		}
		break;
	}
	case YAML_SCALAR_EVENT:
		n = new_node(b, KF_NODE_SCALAR, ev->start_mark);
		n->len = ev->data.scalar.length;
		n->val = kf_arena_strndup(&b->doc->arena, (const char *)ev->data.scalar.value, n->len);
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (strlen(n->val) != n->len) {
			kf_errf(b->e, &n->mark, "value contains a NUL character");
			b->failed++;
		}
		add_anchor(b, ev->data.scalar.anchor, n);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool map = ev->type == YAML_MAPPING_START_EVENT;
		n = new_node(b, map ? KF_NODE_MAP : KF_NODE_SEQ, ev->start_mark);
		n->block = map ? ev->data.mapping_start.style == YAML_BLOCK_MAPPING_STYLE
			       : ev->data.sequence_start.style == YAML_BLOCK_SEQUENCE_STYLE;
		if (++b->depth > KF_DOC_MAX_DEPTH) {
			kf_errf(b->e, &n->mark, "nesting deeper than %d levels", KF_DOC_MAX_DEPTH);
			b->failed++;
			yaml_event_delete(ev);
			return -E2BIG;
		}
		yaml_char_t *anchor = map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
		char *aname = anchor ? kf_arena_strdup(&b->doc->arena, (const char *)anchor) : NULL;
		yaml_event_delete(ev);
		r = map ? parse_map(b, n) : parse_seq(b, n);
		b->depth--;
		/* The anchor is usable only after the node is complete, so a
		 * node cannot contain itself. */
		add_anchor(b, (const yaml_char_t *)aname, n);
		*out = n;
		return r;
	}
	default: {
		struct kf_mark m = mark_of(b, ev->start_mark);
		r = kf_errf(b->e, &m, "unexpected YAML event");
		b->failed++;
		break;
	}
	}
	yaml_event_delete(ev);
	*out = n;
	return r;
}

static void parser_error(struct builder *b)
{
	yaml_parser_t *p = &b->parser;
	struct kf_mark m = mark_of(b, p->problem_mark);
	if (p->error == YAML_MEMORY_ERROR)
		m.line = 0;
	const char *problem = p->problem ? p->problem : "malformed YAML";
	if (p->context)
		kf_errf(b->e, &m, "syntax error: %s (%s at line %zu)", problem, p->context,
			p->context_mark.line + 1);
	else
		kf_errf(b->e, &m, "syntax error: %s", problem);
}

static int find_nul(const char *buf, size_t len, struct kf_mark *m)
{
	const char *z = memchr(buf, 0, len);
	if (!z)
		return 0;
	m->line = 1;
	m->col = 1;
	for (const char *p = buf; p < z; p++) {
		if (*p == '\n') {
			m->line++;
			m->col = 1;
		} else {
			m->col++;
		}
	}
	return 1;
}

/* Parses buf (already checked for size and NUL bytes) into b->doc. */
static int parse_doc(struct builder *b, const char *buf, size_t len, struct kf_node **root)
{
	int r = 0;
	*root = NULL;
	if (!yaml_parser_initialize(&b->parser))
		kf_die_oom();
	yaml_parser_set_input_string(&b->parser, (const unsigned char *)buf, len);
	int docs = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&b->parser, &ev)) {
			parser_error(b);
			r = -EINVAL;
			break;
		}
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_DOCUMENT_START_EVENT) {
			if (++docs > 1) {
				struct kf_mark dm = mark_of(b, ev.start_mark);
				r = kf_errf(b->e, &dm, "more than one YAML document in the file");
				yaml_event_delete(&ev);
				break;
			}
			yaml_event_delete(&ev);
			continue;
		}
		if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		r = parse_node(b, &ev, root);
		if (r < 0) {
			if (b->parser.error != YAML_NO_ERROR)
				parser_error(b);
			break;
		}
	}
	yaml_parser_delete(&b->parser);
	free(b->stack.v);
	b->stack.v = NULL;
	if (!r && b->failed)
		r = -EINVAL;
	return r;
}

int kf_doc_parse_part(struct kf_doc *doc, const char *buf, size_t len, int line0, int depth0,
		      struct kf_node **root, struct kf_err *e)
{
	struct builder b = { .doc = doc, .e = e, .line0 = line0, .depth = depth0 };
	*root = NULL;
	struct kf_mark m = { doc->file, 0, 0 };
	if (find_nul(buf, len, &m)) {
		m.line += line0;
		return kf_errf(e, &m, "file contains a NUL byte (not a text file?)");
	}
	return parse_doc(&b, buf, len, root);
}

int kf_doc_load_buf(struct kf_doc **out, const char *name, const char *buf, size_t len,
		    struct kf_err *e)
{
	*out = NULL;
	struct kf_doc *doc = kf_xcalloc(1, sizeof(*doc));
	doc->file = kf_arena_strdup(&doc->arena, name);
	struct kf_mark m = { doc->file, 0, 0 };
	int r = len > KF_DOC_MAX_BYTES
			? kf_errc(e, -EFBIG, &m, "file is larger than %u bytes", KF_DOC_MAX_BYTES)
			: kf_doc_parse_part(doc, buf, len, 0, 0, &doc->root, e);
	if (r < 0) {
		kf_doc_free(doc);
		return r;
	}
	*out = doc;
	return 0;
}

int kf_doc_read(const char *path, char **buf, size_t *len, struct kf_err *e)
{
	*buf = NULL;
	*len = 0;
	int r = kf_read_file(path, KF_DOC_MAX_BYTES, buf, len);
	if (r == -EFBIG) {
		struct kf_mark m = { path, 0, 0 };
		return kf_errc(e, r, &m, "file is larger than %u bytes", KF_DOC_MAX_BYTES);
	}
	if (r < 0) {
		struct kf_mark m = { path, 0, 0 };
		return kf_errc(e, r, &m, "cannot read: %s", strerror(-r));
	}
	return 0;
}

int kf_doc_load_file(struct kf_doc **out, const char *path, struct kf_err *e)
{
	char *buf = NULL;
	size_t len = 0;
	*out = NULL;
	int r = kf_doc_read(path, &buf, &len, e);
	if (r < 0)
		return r;
	r = kf_doc_load_buf(out, path, buf, len, e);
	free(buf);
	return r;
}

void kf_doc_free(struct kf_doc *doc)
{
	if (!doc)
		return;
	kf_arena_release(&doc->arena);
	free(doc);
}

bool kf_node_is_null(const struct kf_node *n)
{
	if (!n)
		return true;
	if (n->kind != KF_NODE_SCALAR || !n->plain)
		return false;
	const char *v = n->val;
	switch (v[0]) {
	case 0:
		return true;
	case '~':
		return !v[1];
	case 'n':
		return !strcmp(v, "null");
	case 'N':
		return !strcmp(v, "Null") || !strcmp(v, "NULL");
	default:
		return false;
	}
}

struct kf_node *kf_map_get(const struct kf_node *map, const char *key)
{
	if (!map || map->kind != KF_NODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->kids[2 * i]->val, key))
			return map->kids[2 * i + 1];
	return NULL;
}

const char *kf_node_kind_name(const struct kf_node *n)
{
	if (!n)
		return "nothing";
	switch (n->kind) {
	case KF_NODE_SCALAR:
		return kf_node_is_null(n) ? "null" : "value";
	case KF_NODE_SEQ:
		return "list";
	case KF_NODE_MAP:
		return "mapping";
	}
	return "?";
}
