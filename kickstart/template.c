/* The template language: parser, renderer, escapers.  See template.h and
 * docs/templates.md. */
#include "kickstart/template.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

#define KT_MAX_FILE (4u << 20)
#define KT_MAX_DEPTH 32

/* ---- values ---- */

struct kt_obj *kt_obj_new(struct kf_arena *a)
{
	return kf_arena_alloc(a, sizeof(struct kt_obj));
}

static struct kt_val *obj_slot(struct kf_arena *a, struct kt_obj *o, const char *key)
{
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->v[i].key, key))
			return &o->v[i].val;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 8;
		o->v = kf_arena_grow(a, o->v, o->cap * sizeof(*o->v), cap * sizeof(*o->v));
		o->cap = cap;
	}
	struct kt_kv *kv = &o->v[o->n++];
	kv->key = kf_arena_strdup(a, key);
	memset(&kv->val, 0, sizeof(kv->val));
	return &kv->val;
}

void kt_set_str(struct kf_arena *a, struct kt_obj *o, const char *key, const char *s)
{
	struct kt_val *v = obj_slot(a, o, key);
	memset(v, 0, sizeof(*v));
	v->kind = KT_STR;
	v->str = kf_arena_strdup(a, s ? s : "");
}

struct kt_obj *kt_set_obj(struct kf_arena *a, struct kt_obj *o, const char *key)
{
	struct kt_val *v = obj_slot(a, o, key);
	memset(v, 0, sizeof(*v));
	v->kind = KT_OBJ;
	v->obj = kt_obj_new(a);
	return v->obj;
}

struct kt_val *kt_set_list(struct kf_arena *a, struct kt_obj *o, const char *key)
{
	struct kt_val *v = obj_slot(a, o, key);
	memset(v, 0, sizeof(*v));
	v->kind = KT_LIST;
	return v;
}

struct kt_obj *kt_list_add(struct kf_arena *a, struct kt_val *list)
{
	list->items = kf_arena_grow(a, list->items, list->n * sizeof(*list->items),
				    (list->n + 1) * sizeof(*list->items));
	return list->items[list->n++] = kt_obj_new(a);
}

static const struct kt_val *obj_get(const struct kt_obj *o, const char *key, size_t klen)
{
	for (size_t i = 0; o && i < o->n; i++)
		if (strlen(o->v[i].key) == klen && !memcmp(o->v[i].key, key, klen))
			return &o->v[i].val;
	return NULL;
}

/* Walks the rest of a dotted path from value v. */
static const struct kt_val *walk(const struct kt_val *v, const char *rest)
{
	while (v && *rest) {
		if (v->kind != KT_OBJ)
			return NULL;
		size_t k = strcspn(rest, ".");
		v = obj_get(v->obj, rest, k);
		rest += k + (rest[k] == '.');
	}
	return v;
}

const struct kt_val *kt_lookup(const struct kt_obj *o, const char *path)
{
	size_t k = strcspn(path, ".");
	const struct kt_val *v = obj_get(o, path, k);
	return walk(v, path + k + (path[k] == '.'));
}

/* ---- escapers ---- */

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int kt_esc_shell(struct kf_buf *out, const char *s)
{
	if (has_ctl(s))
		return -EINVAL;
	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@%+=:,./_-") ==
			  strlen(s)) {
		kf_buf_puts(out, s);
		return 0;
	}
	kf_buf_add(out, "'", 1);
	for (; *s; s++) {
		if (*s == '\'')
			kf_buf_puts(out, "'\\''");
		else
			kf_buf_add(out, s, 1);
	}
	kf_buf_add(out, "'", 1);
	return 0;
}

int kt_esc_ks(struct kf_buf *out, const char *s)
{
	if (has_ctl(s))
		return -EINVAL;
	if (*s && !strpbrk(s, " \t'\"#\\")) {
		kf_buf_puts(out, s);
		return 0;
	}
	kf_buf_add(out, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			kf_buf_add(out, "\\", 1);
		kf_buf_add(out, s, 1);
	}
	kf_buf_add(out, "\"", 1);
	return 0;
}

int kt_esc_url(struct kf_buf *out, const char *s)
{
	if (has_ctl(s))
		return -EINVAL;
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			kf_buf_add(out, s, 1);
		} else {
			char b[3] = { '%', hex[c >> 4], hex[c & 15] };
			kf_buf_add(out, b, 3);
		}
	}
	return 0;
}

/* ---- syntax tree ---- */

enum nkind { N_TEXT, N_VAR, N_IF, N_FOR, N_INCLUDE };
enum filter { F_AUTO, F_RAW, F_SHELL, F_KS, F_URL };
static const char *const filter_names[] = { "", "raw", "shell", "ks", "url", NULL };

struct cond {
	bool neg, defined;
	const char *path;
	int op; /* 0 none, 1 ==, 2 != */
	const char *lit;
	struct kf_mark mark;
};

struct node;
struct branch {
	struct cond c;
	bool is_else;
	struct node *body;
};

struct node {
	enum nkind kind;
	struct kf_mark mark;
	struct node *next;
	const char *text; /* TEXT */
	size_t len;
	const char *path; /* VAR */
	int filter;
	struct branch *br; /* IF */
	size_t nbr;
	const char *var; /* FOR: loop variable, path is the list */
	struct node *body;
	struct kt_template *inc; /* INCLUDE */
};

struct kt_template {
	const char *path;
	char *src; /* owned by the cache arena */
	struct node *body;
	bool loading;
	char digest[65];
};

const char *kt_digest(const struct kt_template *t)
{
	return t->digest;
}

const char *kt_path(const struct kt_template *t)
{
	return t->path;
}

/* ---- parser ---- */

struct parser {
	struct kt_cache *c;
	struct kt_template *t;
	const char *s; /* whole source */
	size_t pos, len;
	int line, col;
	struct kf_err *e;
	int depth;
};

enum tagkind { T_EOF, T_TEXT, T_VAR, T_STMT };

struct tok {
	enum tagkind kind;
	const char *p; /* contents (text, or inside the tag, trimmed) */
	size_t n;
	struct kf_mark mark; /* of the contents */
};

static void advance(struct parser *ps, size_t n)
{
	for (size_t i = 0; i < n && ps->pos < ps->len; i++, ps->pos++) {
		if (ps->s[ps->pos] == '\n') {
			ps->line++;
			ps->col = 1;
		} else {
			ps->col++;
		}
	}
}

static struct kf_mark here(struct parser *ps)
{
	return (struct kf_mark){ ps->t->path, ps->line, ps->col };
}

/* True if the tag spanning [start, end) stands alone on its line. */
static bool alone(struct parser *ps, size_t start, size_t end)
{
	for (size_t i = start; i > 0 && ps->s[i - 1] != '\n'; i--)
		if (ps->s[i - 1] != ' ' && ps->s[i - 1] != '\t')
			return false;
	for (size_t i = end; i < ps->len && ps->s[i] != '\n'; i++)
		if (ps->s[i] != ' ' && ps->s[i] != '\t' && ps->s[i] != '\r')
			return false;
	return true;
}

/* Next token.  Text stops before a tag; a statement or comment tag alone
 * on its line swallows its indentation and its newline. */
static int next_tok(struct parser *ps, struct tok *t)
{
	memset(t, 0, sizeof(*t));
	if (ps->pos >= ps->len) {
		t->kind = T_EOF;
		t->mark = here(ps);
		return 0;
	}
	const char *s = ps->s + ps->pos;
	if (s[0] == '{' && (s[1] == '{' || s[1] == '%' || s[1] == '#')) {
		char open = s[1];
		const char *close = open == '{' ? "}}" : open == '%' ? "%}" : "#}";
		struct kf_mark start = here(ps);
		const char *end = strstr(s + 2, close);
		if (!end)
			return kf_errf(ps->e, &start, "unclosed \"{%c\" (no \"%s\")", open, close);
		size_t tag_start = ps->pos, tag_end = (size_t)(end - ps->s) + 2;
		bool trim = open != '{' && alone(ps, tag_start, tag_end);
		advance(ps, 2);
		while (ps->pos < ps->len && (ps->s[ps->pos] == ' ' || ps->s[ps->pos] == '\t'))
			advance(ps, 1);
		t->mark = here(ps);
		t->p = ps->s + ps->pos;
		t->n = (size_t)(end - t->p);
		while (t->n && isspace((unsigned char)t->p[t->n - 1]))
			t->n--;
		advance(ps, tag_end - ps->pos);
		if (trim) {
			while (ps->pos < ps->len && ps->s[ps->pos] != '\n')
				advance(ps, 1);
			advance(ps, 1);
		}
		if (open == '#')
			return next_tok(ps, t);
		t->kind = open == '{' ? T_VAR : T_STMT;
		if (!t->n)
			return kf_errf(ps->e, &start, "empty tag");
		return 0;
	}
	t->kind = T_TEXT;
	t->mark = here(ps);
	t->p = s;
	size_t n = 0;
	while (ps->pos + n < ps->len) {
		const char *q = ps->s + ps->pos + n;
		if (q[0] == '{' && (q[1] == '{' || q[1] == '%' || q[1] == '#')) {
			/* a trimmed tag takes the indentation before it */
			const char *close = q[1] == '{' ? NULL : q[1] == '%' ? "%}" : "#}";
			const char *end = close ? strstr(q + 2, close) : NULL;
			if (end && alone(ps, ps->pos + n, (size_t)(end - ps->s) + 2)) {
				size_t keep = n;
				while (keep && (t->p[keep - 1] == ' ' || t->p[keep - 1] == '\t'))
					keep--;
				t->n = keep;
				advance(ps, n);
				return 0;
			}
			break;
		}
		n++;
	}
	t->n = n;
	advance(ps, n);
	return 0;
}

/* Lexing inside a tag. */
struct lex {
	const char *p, *end;
	struct kf_mark mark; /* of p */
};

static void lex_skip(struct lex *l)
{
	while (l->p < l->end && isspace((unsigned char)*l->p)) {
		l->p++;
		l->mark.col++;
	}
}

static bool is_path_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* Reads a dotted path; NULL if none there. */
static const char *lex_path(struct parser *ps, struct lex *l, struct kf_mark *m)
{
	lex_skip(l);
	*m = l->mark;
	const char *s = l->p;
	if (s >= l->end || !(isalpha((unsigned char)*s) || *s == '_'))
		return NULL;
	while (l->p < l->end && is_path_char(*l->p)) {
		l->p++;
		l->mark.col++;
	}
	size_t n = (size_t)(l->p - s);
	if (s[n - 1] == '.' || memmem(s, n, "..", 2))
		return NULL;
	return kf_arena_strndup(&ps->c->arena, s, n);
}

static bool lex_word(struct lex *l, const char *w)
{
	lex_skip(l);
	size_t n = strlen(w);
	if ((size_t)(l->end - l->p) >= n && !memcmp(l->p, w, n) &&
	    (l->p + n == l->end || !is_path_char(l->p[n]))) {
		l->p += n;
		l->mark.col += (int)n;
		return true;
	}
	return false;
}

static const char *lex_string(struct parser *ps, struct lex *l)
{
	lex_skip(l);
	if (l->p >= l->end || (*l->p != '"' && *l->p != '\''))
		return NULL;
	char q = *l->p;
	const char *s = l->p + 1, *e = memchr(s, q, (size_t)(l->end - s));
	if (!e)
		return NULL;
	l->mark.col += (int)(e - l->p) + 1;
	l->p = e + 1;
	return kf_arena_strndup(&ps->c->arena, s, (size_t)(e - s));
}

static bool lex_done(struct lex *l)
{
	lex_skip(l);
	return l->p >= l->end;
}

static int parse_cond(struct parser *ps, struct lex *l, struct cond *c)
{
	c->neg = lex_word(l, "not");
	c->defined = lex_word(l, "defined");
	c->path = lex_path(ps, l, &c->mark);
	if (!c->path)
		return kf_errf(ps->e, &l->mark, "expected a variable name in condition");
	lex_skip(l);
	if (!c->defined && l->end - l->p >= 2 && (!memcmp(l->p, "==", 2) || !memcmp(l->p, "!=", 2))) {
		c->op = l->p[0] == '=' ? 1 : 2;
		l->p += 2;
		l->mark.col += 2;
		c->lit = lex_string(ps, l);
		if (!c->lit)
			return kf_errf(ps->e, &l->mark, "expected a quoted string after %s",
				       c->op == 1 ? "==" : "!=");
	}
	if (!lex_done(l))
		return kf_errf(ps->e, &l->mark, "unexpected \"%.*s\" in condition", (int)(l->end - l->p),
			       l->p);
	return 0;
}

static struct node *new_node(struct parser *ps, enum nkind k, struct kf_mark m)
{
	struct node *n = kf_arena_alloc(&ps->c->arena, sizeof(*n));
	n->kind = k;
	n->mark = m;
	return n;
}

static int parse_var(struct parser *ps, struct tok *t, struct node **out)
{
	struct lex l = { t->p, t->p + t->n, t->mark };
	struct kf_mark m;
	const char *path = lex_path(ps, &l, &m);
	if (!path)
		return kf_errf(ps->e, &t->mark, "expected a variable name in \"{{ %.*s }}\"", (int)t->n, t->p);
	int filter = F_AUTO;
	lex_skip(&l);
	if (l.p < l.end && *l.p == '|') {
		l.p++;
		l.mark.col++;
		struct kf_mark fm;
		const char *f = lex_path(ps, &l, &fm);
		filter = -1;
		for (int i = 1; f && filter_names[i]; i++)
			if (!strcmp(f, filter_names[i]))
				filter = i;
		if (filter < 0)
			return kf_errf(ps->e, &fm, "unknown filter \"%s\" (known: raw, shell, ks, url)",
				       f ? f : "");
	}
	if (!lex_done(&l))
		return kf_errf(ps->e, &l.mark, "unexpected \"%.*s\" in \"{{ }}\"", (int)(l.end - l.p), l.p);
	*out = new_node(ps, N_VAR, m);
	(*out)->path = path;
	(*out)->filter = filter;
	return 0;
}

static int parse_body(struct parser *ps, struct node **head, struct tok *end);

static bool is_kw(const struct tok *t, const char *kw)
{
	size_t n = strlen(kw);
	return t->kind == T_STMT && t->n >= n && !memcmp(t->p, kw, n) &&
	       (t->n == n || isspace((unsigned char)t->p[n]));
}

static int parse_if(struct parser *ps, struct tok *t, struct node **out)
{
	struct node *n = new_node(ps, N_IF, t->mark);
	struct tok cur = *t;
	int r = 0;
	for (;;) {
		n->br = kf_arena_grow(&ps->c->arena, n->br, n->nbr * sizeof(*n->br),
				      (n->nbr + 1) * sizeof(*n->br));
		struct branch *b = &n->br[n->nbr++];
		if (is_kw(&cur, "else")) {
			b->is_else = true;
		} else {
			size_t kw = is_kw(&cur, "if") ? 2 : 4;
			struct lex l = { cur.p + kw, cur.p + cur.n, { cur.mark.file, cur.mark.line, cur.mark.col + (int)kw } };
			if ((r = parse_cond(ps, &l, &b->c)) < 0)
				return r;
		}
		struct tok end;
		if ((r = parse_body(ps, &b->body, &end)) < 0)
			return r;
		if (is_kw(&end, "endif"))
			break;
		if (is_kw(&end, "elif") && !b->is_else) {
			cur = end;
			continue;
		}
		if (is_kw(&end, "else") && !b->is_else && end.n == 4) {
			cur = end;
			continue;
		}
		if (end.kind == T_EOF)
			return kf_errf(ps->e, &t->mark, "\"if\" is not closed (no \"{%% endif %%}\")");
		return kf_errf(ps->e, &end.mark, "unexpected \"%.*s\" inside \"if\"", (int)end.n, end.p);
	}
	*out = n;
	return 0;
}

static int parse_for(struct parser *ps, struct tok *t, struct node **out)
{
	struct lex l = { t->p + 3, t->p + t->n, { t->mark.file, t->mark.line, t->mark.col + 3 } };
	struct kf_mark m;
	const char *var = lex_path(ps, &l, &m);
	if (!var || strchr(var, '.') || !strcmp(var, "loop") || !strcmp(var, "in"))
		return kf_errf(ps->e, &m, "expected a loop variable name after \"for\"");
	if (!lex_word(&l, "in"))
		return kf_errf(ps->e, &l.mark, "expected \"in\" after \"for %s\"", var);
	const char *list = lex_path(ps, &l, &m);
	if (!list || !lex_done(&l))
		return kf_errf(ps->e, &l.mark, "expected a list variable after \"in\"");
	struct node *n = new_node(ps, N_FOR, m);
	n->var = var;
	n->path = list;
	struct tok end;
	int r = parse_body(ps, &n->body, &end);
	if (r < 0)
		return r;
	if (!is_kw(&end, "endfor")) {
		if (end.kind == T_EOF)
			return kf_errf(ps->e, &t->mark, "\"for\" is not closed (no \"{%% endfor %%}\")");
		return kf_errf(ps->e, &end.mark, "unexpected \"%.*s\" inside \"for\"", (int)end.n, end.p);
	}
	*out = n;
	return 0;
}

static int load(struct kt_cache *c, const char *path, struct kt_template **out, struct kf_err *e,
		const struct kf_mark *from, int depth);

static int parse_include(struct parser *ps, struct tok *t, struct node **out)
{
	struct lex l = { t->p + 7, t->p + t->n, { t->mark.file, t->mark.line, t->mark.col + 7 } };
	struct kf_mark m = l.mark;
	lex_skip(&l);
	m = l.mark;
	const char *name = lex_string(ps, &l);
	if (!name || !lex_done(&l))
		return kf_errf(ps->e, &m, "expected a quoted file name after \"include\"");
	char *path = NULL;
	if (ps->c->resolve)
		path = ps->c->resolve(ps->t->path, name, ps->c->resolve_ctx);
	if (!path) {
		char *copy = kf_xstrdup(ps->t->path);
		path = name[0] == '/' ? kf_xstrdup(name) : kf_xasprintf("%s/%s", dirname(copy), name);
		free(copy);
	}
	struct node *n = new_node(ps, N_INCLUDE, m);
	int r = load(ps->c, path, &n->inc, ps->e, &m, ps->depth + 1);
	free(path);
	if (r < 0)
		return r;
	*out = n;
	return 0;
}

/* Parses nodes until a statement that is not if/for/include (returned in
 * *end) or EOF. */
static int parse_body(struct parser *ps, struct node **head, struct tok *end)
{
	struct node **tail = head;
	*head = NULL;
	for (;;) {
		struct tok t;
		int r = next_tok(ps, &t);
		if (r < 0)
			return r;
		struct node *n = NULL;
		switch (t.kind) {
		case T_EOF:
			*end = t;
			return 0;
		case T_TEXT:
			if (!t.n)
				continue;
			n = new_node(ps, N_TEXT, t.mark);
			n->text = t.p;
			n->len = t.n;
			break;
		case T_VAR:
			r = parse_var(ps, &t, &n);
			break;
		case T_STMT:
			if (is_kw(&t, "if"))
				r = parse_if(ps, &t, &n);
			else if (is_kw(&t, "for"))
				r = parse_for(ps, &t, &n);
			else if (is_kw(&t, "include"))
				r = parse_include(ps, &t, &n);
			else if (is_kw(&t, "endif") || is_kw(&t, "endfor") || is_kw(&t, "elif") ||
				 is_kw(&t, "else")) {
				*end = t;
				return 0;
			} else {
				size_t k = 0;
				while (k < t.n && !isspace((unsigned char)t.p[k]))
					k++;
				return kf_errf(ps->e, &t.mark,
					       "unknown statement \"%.*s\" (known: if, elif, else, endif, for, endfor, include)",
					       (int)k, t.p);
			}
			break;
		}
		if (r < 0)
			return r;
		*tail = n;
		tail = &n->next;
	}
}

static void digest(struct kt_template *t, struct node *n, struct kf_hash *h)
{
	for (; n; n = n->next) {
		if (n->kind == N_INCLUDE)
			kf_hash_str(h, n->inc->digest);
		for (size_t i = 0; n->kind == N_IF && i < n->nbr; i++)
			digest(t, n->br[i].body, h);
		if (n->kind == N_FOR)
			digest(t, n->body, h);
	}
}

static int load(struct kt_cache *c, const char *path, struct kt_template **out, struct kf_err *e,
		const struct kf_mark *from, int depth)
{
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->v[i]->path, path))
			continue;
		if (c->v[i]->loading)
			return kf_errf(e, from, "include cycle: %s includes itself", path);
		*out = c->v[i];
		return 0;
	}
	if (depth > KT_MAX_DEPTH)
		return kf_errf(e, from, "includes nested deeper than %d", KT_MAX_DEPTH);
	char *src = NULL;
	size_t len = 0;
	int r = kf_read_file(path, KT_MAX_FILE, &src, &len);
	if (r < 0)
		return kf_errc(e, r, from, "template %s: %s", path, strerror(-r));
	struct kt_template *t = kf_arena_alloc(&c->arena, sizeof(*t));
	t->path = kf_arena_strdup(&c->arena, path);
	t->src = kf_arena_strndup(&c->arena, src, len);
	free(src);
	t->loading = true;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->v = kf_xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n++] = t;
	struct parser ps = { c, t, t->src, 0, len, 1, 1, e, depth };
	struct tok end;
	r = parse_body(&ps, &t->body, &end);
	if (r == 0 && end.kind != T_EOF)
		r = kf_errf(e, &end.mark, "\"%.*s\" without a matching opening tag", (int)end.n, end.p);
	t->loading = false;
	struct kf_hash h;
	kf_hash_init(&h);
	kf_hash_update(&h, t->src, len + 1);
	if (r == 0)
		digest(t, t->body, &h);
	kf_hash_hex(&h, t->digest);
	if (r < 0) {
		c->n--; /* a broken template is not cached */
		return r;
	}
	*out = t;
	return 0;
}

int kt_load(struct kt_cache *c, const char *path, struct kt_template **out, struct kf_err *e)
{
	return load(c, path, out, e, NULL, 0);
}

void kt_cache_init(struct kt_cache *c, kt_resolve_fn resolve, void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->resolve = resolve;
	c->resolve_ctx = ctx;
}

void kt_cache_release(struct kt_cache *c)
{
	if (!c)
		return;
	free(c->v);
	kf_arena_release(&c->arena);
	memset(c, 0, sizeof(*c));
}

enum kt_format kt_format_of(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (!dot)
		return KT_FMT_PLAIN;
	if (!strcmp(dot, ".ks"))
		return KT_FMT_KICKSTART;
	if (!strcmp(dot, ".preseed") || !strcmp(dot, ".seed") || !strcmp(dot, ".cfg"))
		return KT_FMT_PRESEED;
	return KT_FMT_PLAIN;
}

/* ---- renderer ---- */

enum section { SEC_COMMANDS, SEC_SCRIPT, SEC_PACKAGES };

struct scope {
	const char *name;
	const struct kt_obj *item;
	const struct kt_obj *loop;
};

struct rnd {
	const struct kt_obj *root;
	enum kt_format fmt;
	const char *who;
	struct kf_buf *out;
	struct kf_err *e;
	struct kf_arena scratch;
	struct scope scopes[KT_MAX_DEPTH];
	int nscopes;
	size_t line_start; /* offset in out of the current line */
	int section;
	int err;
};

static const char *const script_heads[] = { "%pre", "%post", "%onerror", "%traceback", NULL };

/* Tracks kickstart sections over lines finished in out. */
static void track(struct rnd *r)
{
	if (r->fmt != KT_FMT_KICKSTART)
		return;
	char *nl;
	while ((nl = memchr(r->out->s + r->line_start, '\n', r->out->len - r->line_start))) {
		const char *ln = r->out->s + r->line_start;
		size_t n = (size_t)(nl - ln);
		while (n && (*ln == ' ' || *ln == '\t'))
			ln++, n--;
		if (n >= 4 && !memcmp(ln, "%end", 4)) {
			r->section = SEC_COMMANDS;
		} else if (n >= 9 && !memcmp(ln, "%packages", 9)) {
			r->section = SEC_PACKAGES;
		} else {
			for (size_t i = 0; script_heads[i]; i++) {
				size_t k = strlen(script_heads[i]);
				if (n >= k && !memcmp(ln, script_heads[i], k) &&
				    (n == k || ln[k] == ' ' || ln[k] == '\t' || ln[k] == '-'))
					r->section = SEC_SCRIPT;
			}
		}
		r->line_start = (size_t)(nl - r->out->s) + 1;
	}
}

static const struct kt_val *resolve(struct rnd *r, const char *path)
{
	size_t k = strcspn(path, ".");
	const char *rest = path + k + (path[k] == '.');
	for (int i = r->nscopes - 1; i >= 0; i--) {
		struct scope *s = &r->scopes[i];
		if (strlen(s->name) == k && !memcmp(s->name, path, k)) {
			struct kt_val v = { .kind = KT_OBJ, .obj = (struct kt_obj *)s->item };
			if (!*rest)
				return NULL; /* the item itself is not a value */
			return walk(&v, rest);
		}
		if (k == 4 && !memcmp(path, "loop", 4)) {
			struct kt_val v = { .kind = KT_OBJ, .obj = (struct kt_obj *)s->loop };
			return *rest ? walk(&v, rest) : NULL;
		}
	}
	return kt_lookup(r->root, path);
}

static void undefined(struct rnd *r, const struct kf_mark *m, const char *path)
{
	if (r->who)
		kf_errf(r->e, m, "undefined variable \"%s\" (%s)", path, r->who);
	else
		kf_errf(r->e, m, "undefined variable \"%s\"", path);
	r->err = -EINVAL;
}

static void emit_var(struct rnd *r, const struct node *n)
{
	const struct kt_val *v = resolve(r, n->path);
	if (!v) {
		undefined(r, &n->mark, n->path);
		return;
	}
	if (v->kind != KT_STR) {
		kf_errf(r->e, &n->mark, "\"%s\" is a %s, not a value%s%s", n->path,
			v->kind == KT_LIST ? "list" : "mapping", r->who ? " " : "", r->who ? r->who : "");
		r->err = -EINVAL;
		return;
	}
	int f = n->filter;
	if (f == F_AUTO)
		f = r->fmt != KT_FMT_KICKSTART ? F_RAW : r->section == SEC_SCRIPT ? F_SHELL : F_KS;
	int rc;
	switch (f) {
	case F_SHELL: rc = kt_esc_shell(r->out, v->str); break;
	case F_KS: rc = kt_esc_ks(r->out, v->str); break;
	case F_URL: rc = kt_esc_url(r->out, v->str); break;
	default:
		rc = has_ctl(v->str) ? -EINVAL : 0;
		if (!rc)
			kf_buf_puts(r->out, v->str);
	}
	if (rc < 0) {
		kf_errf(r->e, &n->mark, "value of \"%s\" holds a control character (newline?)%s%s", n->path,
			r->who ? " " : "", r->who ? r->who : "");
		r->err = -EINVAL;
	}
}

static bool truthy(const struct kt_val *v)
{
	if (v->kind == KT_LIST)
		return v->n > 0;
	if (v->kind == KT_OBJ)
		return true;
	const char *s = v->str;
	return *s && strcmp(s, "false") && strcmp(s, "no") && strcmp(s, "0") && strcmp(s, "off");
}

static bool eval(struct rnd *r, const struct cond *c)
{
	const struct kt_val *v = resolve(r, c->path);
	bool res;
	if (c->defined) {
		res = v != NULL;
	} else if (!v) {
		undefined(r, &c->mark, c->path);
		res = false;
	} else if (c->op) {
		bool eq = v->kind == KT_STR && !strcmp(v->str, c->lit);
		res = c->op == 1 ? eq : !eq;
	} else {
		res = truthy(v);
	}
	return c->neg ? !res : res;
}

static void run(struct rnd *r, const struct node *n);

static void run_for(struct rnd *r, const struct node *n)
{
	const struct kt_val *v = resolve(r, n->path);
	if (!v) {
		undefined(r, &n->mark, n->path);
		return;
	}
	if (v->kind != KT_LIST) {
		kf_errf(r->e, &n->mark, "\"%s\" is not a list%s%s", n->path, r->who ? " " : "",
			r->who ? r->who : "");
		r->err = -EINVAL;
		return;
	}
	if (r->nscopes == KT_MAX_DEPTH) {
		kf_errf(r->e, &n->mark, "loops nested deeper than %d", KT_MAX_DEPTH);
		r->err = -EINVAL;
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		struct kt_obj *loop = kt_obj_new(&r->scratch);
		char num[24];
		snprintf(num, sizeof(num), "%zu", i);
		kt_set_str(&r->scratch, loop, "index0", num);
		snprintf(num, sizeof(num), "%zu", i + 1);
		kt_set_str(&r->scratch, loop, "index", num);
		kt_set_str(&r->scratch, loop, "first", i == 0 ? "true" : "");
		kt_set_str(&r->scratch, loop, "last", i + 1 == v->n ? "true" : "");
		r->scopes[r->nscopes++] = (struct scope){ n->var, v->items[i], loop };
		run(r, n->body);
		r->nscopes--;
	}
}

static void run(struct rnd *r, const struct node *n)
{
	for (; n; n = n->next) {
		switch (n->kind) {
		case N_TEXT:
			kf_buf_add(r->out, n->text, n->len);
			track(r);
			break;
		case N_VAR:
			emit_var(r, n);
			break;
		case N_IF:
			for (size_t i = 0; i < n->nbr; i++)
				if (n->br[i].is_else || eval(r, &n->br[i].c)) {
					run(r, n->br[i].body);
					break;
				}
			break;
		case N_FOR:
			run_for(r, n);
			break;
		case N_INCLUDE:
			run(r, n->inc->body);
			break;
		}
	}
}

int kt_render(const struct kt_template *t, const struct kt_obj *root, enum kt_format fmt,
	      const char *who, struct kf_buf *out, struct kf_err *e)
{
	struct rnd r = { .root = root, .fmt = fmt, .who = who, .out = out, .e = e };
	kf_buf_add(out, "", 0);
	r.line_start = out->len;
	run(&r, t->body);
	kf_arena_release(&r.scratch);
	return r.err;
}
