/* A host appended to fleet.yaml's `hosts:` list by editing lines, guided
 * by the marks of the parsed document (provision/fleet_edit.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "provision/fleet_edit.h"
#include "util.h"
#include "yamldoc.h"

/* The text split into lines: ls[i] is where line i + 1 starts. */
struct text {
	const char *b;
	size_t len;
	size_t *ls;
	int nl;
	const char *eol; /* "\r\n" when the file uses them */
};

/* What the new entry looks like. */
struct style {
	int dash, key;  /* spaces before "-" and before the keys */
	bool flow, pad; /* { k: v } items, with spaces inside the braces */
	int order[5];   /* slots of name, mac, ip, role, power in output order */
	int power_key;  /* > 0: power: as a block mapping, its keys at this column */
	bool power_pad; /* a flow power: with spaces inside its braces */
};

enum { K_NAME, K_MAC, K_IP, K_ROLE, K_POWER, K_N };
static const char *const keys[K_N] = { "name", "mac", "ip", "role", "power" };

static void text_init(struct text *t, const char *b, size_t len)
{
	t->b = b;
	t->len = len;
	t->nl = 1;
	for (size_t i = 0; i < len; i++)
		t->nl += b[i] == '\n' && i + 1 < len;
	t->ls = kf_xcalloc((size_t)t->nl + 1, sizeof(*t->ls));
	int k = 1;
	for (size_t i = 0; i < len; i++)
		if (b[i] == '\n' && i + 1 < len)
			t->ls[k++] = i + 1;
	t->ls[t->nl] = len;
	t->eol = memmem(b, len, "\r\n", 2) ? "\r\n" : "\n";
}

/* Start of line (1-based); past the last line: the end. */
static size_t line_at(const struct text *t, int line)
{
	return line < 1 ? 0 : line > t->nl ? t->len : t->ls[line - 1];
}

/* Just past the newline of line, or the end of the text. */
static size_t line_next(const struct text *t, int line)
{
	return line >= t->nl ? t->len : t->ls[line];
}

/* The byte offset of a mark (libyaml counts columns in characters). */
static size_t off_of(const struct text *t, const struct kf_mark *m)
{
	size_t p = line_at(t, m->line), end = line_next(t, m->line);
	for (int c = 1; c < m->col && p < end; c++)
		do
			p++;
		while (p < end && ((unsigned char)t->b[p] & 0xc0) == 0x80);
	return p;
}

/* A line holding something besides blanks, a comment or a document marker. */
static bool content_line(const struct text *t, int line)
{
	size_t p = line_at(t, line), end = line_next(t, line);
	if (end - p >= 3 && (!memcmp(t->b + p, "...", 3) || !memcmp(t->b + p, "---", 3)))
		return false;
	while (p < end && (t->b[p] == ' ' || t->b[p] == '\t' || t->b[p] == '\r' || t->b[p] == '\n'))
		p++;
	return p < end && t->b[p] != '#';
}

/* Just past the flow node starting at p ('[', '{' or a scalar): quotes,
 * comments and nesting skipped; a scalar ends before its ',', ']' or '}'. */
static size_t flow_end(const struct text *t, size_t p)
{
	const char *b = t->b;
	int depth = 0;
	for (; p < t->len; p++) {
		char c = b[p];
		if (c == '"' || c == '\'') {
			for (p++; p < t->len && b[p] != c; p++)
				if (c == '"' && b[p] == '\\')
					p++;
		} else if (c == '#' && p && (b[p - 1] == ' ' || b[p - 1] == '\t' || b[p - 1] == '\n')) {
			while (p + 1 < t->len && b[p + 1] != '\n')
				p++;
		} else if (c == '[' || c == '{') {
			depth++;
		} else if (c == ']' || c == '}') {
			if (!depth)
				return p;
			if (!--depth)
				return p + 1;
		} else if (c == ',' && !depth) {
			return p;
		}
	}
	return t->len;
}

static bool plain_ok(const char *v)
{
	if (!*v || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", *v))
		return false;
	return strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-") == strlen(v);
}

static void put_value(struct kf_buf *b, const char *v)
{
	if (plain_ok(v)) {
		kf_buf_puts(b, v);
		return;
	}
	kf_buf_puts(b, "\"");
	for (; *v; v++)
		if (*v == '"' || *v == '\\')
			kf_buf_printf(b, "\\%c", *v);
		else if ((unsigned char)*v < 0x20)
			kf_buf_printf(b, "\\x%02x", (unsigned char)*v);
		else
			kf_buf_add(b, v, 1);
	kf_buf_puts(b, "\"");
}

static void spaces(struct kf_buf *b, int n)
{
	for (int i = 0; i < n; i++)
		kf_buf_add(b, " ", 1);
}

static const char *value_of(const struct kf_new_host *h, int k)
{
	switch (k) {
	case K_NAME: return h->name;
	case K_MAC: return h->mac;
	case K_IP: return h->ip;
	case K_ROLE: return h->role;
	default: return h->bmc.address; /* K_POWER: the section when there is a BMC */
	}
}

/* The power: section's keys and values, in the order of docs/power.md;
 * returns how many (the port as text in buf). */
static int bmc_pairs(const struct kf_new_bmc *b, const char *k[4], const char *v[4], char *buf, size_t len)
{
	int n = 0;
	k[n] = "address", v[n++] = b->address;
	if (b->port > 0) {
		snprintf(buf, len, "%d", b->port);
		k[n] = "port", v[n++] = buf;
	}
	if (b->user)
		k[n] = "user", v[n++] = b->user;
	if (b->password_file)
		k[n] = "password_file", v[n++] = b->password_file;
	return n;
}

/* "{address: a, port: p}" (with power_pad: "{ address: a }"). */
static void bmc_flow(struct kf_buf *b, const struct style *st, const struct kf_new_bmc *bmc)
{
	const char *k[4], *v[4];
	char port[16];
	int n = bmc_pairs(bmc, k, v, port, sizeof(port));
	kf_buf_puts(b, st->power_pad ? "{ " : "{");
	for (int i = 0; i < n; i++) {
		kf_buf_printf(b, "%s%s: ", i ? ", " : "", k[i]);
		put_value(b, v[i]);
	}
	kf_buf_puts(b, st->power_pad ? " }" : "}");
}

/* "power:" then one line per key at st->power_key (block style). */
static void bmc_block(struct kf_buf *b, const struct style *st, const struct kf_new_bmc *bmc, const char *eol)
{
	const char *k[4], *v[4];
	char port[16];
	int n = bmc_pairs(bmc, k, v, port, sizeof(port));
	kf_buf_puts(b, eol);
	for (int i = 0; i < n; i++) {
		spaces(b, st->power_key);
		kf_buf_printf(b, "%s: ", k[i]);
		put_value(b, v[i]);
		if (i + 1 < n)
			kf_buf_puts(b, eol);
	}
}

/* One key's value of the entry: a scalar, or the BMC's power: section. */
static void put_entry_value(struct kf_buf *b, const struct style *st, const struct kf_new_host *h, int k,
			    const char *eol)
{
	if (k != K_POWER)
		put_value(b, value_of(h, k));
	else if (!st->flow && st->power_key > 0)
		bmc_block(b, st, &h->bmc, eol);
	else
		bmc_flow(b, st, &h->bmc);
}

/* "{name: a, mac: b}" (with pad: "{ name: a, mac: b }"). */
static void entry_flow(struct kf_buf *b, const struct style *st, const struct kf_new_host *h)
{
	kf_buf_puts(b, st->pad ? "{ " : "{");
	bool first = true;
	for (int i = 0; i < K_N; i++) {
		const char *v = value_of(h, st->order[i]);
		if (!v)
			continue;
		kf_buf_printf(b, "%s%s: ", first ? "" : ", ", keys[st->order[i]]);
		put_entry_value(b, st, h, st->order[i], NULL);
		first = false;
	}
	kf_buf_puts(b, st->pad ? " }" : "}");
}

/* The list item, lines ending in eol: "  - name: a\n    mac: b\n" or
 * "  - {name: a, mac: b}\n". */
static void entry_item(struct kf_buf *b, const struct style *st, const struct kf_new_host *h,
		       const char *eol)
{
	spaces(b, st->dash);
	kf_buf_puts(b, "-");
	if (st->flow) {
		kf_buf_puts(b, " ");
		entry_flow(b, st, h);
		kf_buf_puts(b, eol);
		return;
	}
	int key = st->key > st->dash ? st->key : st->dash + 2;
	bool first = true;
	for (int i = 0; i < K_N; i++) {
		const char *v = value_of(h, st->order[i]);
		if (!v)
			continue;
		spaces(b, first ? key - st->dash - 1 : key);
		kf_buf_printf(b, "%s:", keys[st->order[i]]);
		if (st->order[i] != K_POWER || st->power_key <= 0)
			kf_buf_puts(b, " ");
		put_entry_value(b, st, h, st->order[i], eol);
		kf_buf_puts(b, eol);
		first = false;
	}
}

/* The order of name/mac/ip/role in an existing entry (`macs` counts as
 * `mac`), the ones it lacks after it in the default order. */
static void style_order(struct style *st, const struct kf_node *item)
{
	int n = 0;
	bool seen[K_N] = { 0 };
	for (size_t i = 0; item && item->kind == KF_NODE_MAP && i < item->n; i++) {
		const char *k = item->kids[2 * i]->val;
		for (int j = 0; j < K_N; j++)
			if (!seen[j] && (!strcmp(k, keys[j]) || (j == K_MAC && !strcmp(k, "macs")))) {
				seen[j] = true;
				st->order[n++] = j;
			}
	}
	for (int j = 0; j < K_N; j++)
		if (!seen[j])
			st->order[n++] = j;
}

/* How an item writes its power: section: a block mapping's key column,
 * or the spacing inside a flow one's braces (the item's own without). */
static void style_power(struct style *st, const struct text *t, const struct kf_node *it)
{
	const struct kf_node *pw = it->kind == KF_NODE_MAP ? kf_map_get(it, "power") : NULL;
	st->power_key = 0;
	st->power_pad = st->pad;
	if (!pw || pw->kind != KF_NODE_MAP || !pw->n)
		return;
	if (pw->block && !st->flow) {
		st->power_key = pw->mark.col - 1;
	} else if (!pw->block) {
		size_t q = off_of(t, &pw->mark);
		st->power_pad = q + 1 < t->len && t->b[q + 1] == ' ';
	}
}

/* The style of a block list's last item: its dash and key columns, flow
 * or block, brace spacing, key order. */
static void style_of_item(struct style *st, const struct text *t, const struct kf_node *seq)
{
	const struct kf_node *it = seq->kids[seq->n - 1];
	size_t at = off_of(t, &it->mark), p = at, ls = line_at(t, it->mark.line);
	st->dash = seq->mark.col - 1;
	while (p > ls && t->b[p - 1] == ' ')
		p--;
	if (p > ls && t->b[p - 1] == '-')
		st->dash = (int)(p - 1 - ls);
	st->key = it->mark.col - 1;
	st->flow = !it->block && it->kind == KF_NODE_MAP;
	st->pad = st->flow && at + 1 < t->len && t->b[at + 1] == ' ';
	style_power(st, t, it);
	style_order(st, it);
}

/* For an empty or missing list: the style of the root's `guests:` list if
 * it has items, else dashes indented as the first block mapping's keys. */
static void style_default(struct style *st, const struct text *t, const struct kf_node *root)
{
	*st = (struct style){ .dash = 2, .key = 4 };
	style_order(st, NULL);
	const struct kf_node *g = kf_map_get(root, "guests");
	if (g && g->kind == KF_NODE_SEQ && g->block && g->n) {
		style_of_item(st, t, g);
		style_order(st, NULL);
		return;
	}
	for (size_t i = 0; i < root->n; i++) {
		const struct kf_node *v = root->kids[2 * i + 1];
		if (v->kind == KF_NODE_MAP && v->block && v->n && v->mark.line > root->kids[2 * i]->mark.line) {
			st->dash = v->mark.col - 1;
			st->key = st->dash + 2;
			return;
		}
	}
}

/* out = b[0, a) + ins + b[c, len). */
static void splice(struct kf_buf *out, const struct text *t, size_t a, const char *ins, size_t c)
{
	kf_buf_add(out, t->b, a);
	kf_buf_puts(out, ins);
	kf_buf_add(out, t->b + c, t->len - c);
}

/* A new line after line (a newline first when it is the last line and has
 * none). */
static void insert_after(struct kf_buf *out, const struct text *t, int line, const char *ins)
{
	size_t at = line_next(t, line);
	struct kf_buf s = KF_BUF_INIT;
	if (at == t->len && t->len && t->b[t->len - 1] != '\n')
		kf_buf_puts(&s, t->eol);
	kf_buf_puts(&s, ins);
	splice(out, t, at, s.s, at);
	kf_buf_release(&s);
}

/* No `hosts:` key: "hosts:" and the entry at the end of the file. */
static void add_missing(struct kf_buf *out, const struct text *t, const struct kf_node *root,
			const struct kf_new_host *h)
{
	struct style st;
	struct kf_buf s = KF_BUF_INIT;
	style_default(&st, t, root);
	if (t->len && t->b[t->len - 1] != '\n')
		kf_buf_puts(&s, t->eol);
	kf_buf_printf(&s, "hosts:%s", t->eol);
	entry_item(&s, &st, h, t->eol);
	splice(out, t, t->len, s.s, t->len);
	kf_buf_release(&s);
}

/* `hosts:`, `hosts: ~` or `hosts: []`: the value (if written) goes, a
 * comment after it stays, and a block list starts on the next line. */
static void add_empty(struct kf_buf *out, const struct text *t, const struct kf_node *root,
		      const struct kf_node *hk, const struct kf_node *hv, const struct kf_new_host *h)
{
	struct style st;
	style_default(&st, t, root);
	if (hv->kind == KF_NODE_SCALAR && !hv->len) {
		struct kf_buf s = KF_BUF_INIT;
		entry_item(&s, &st, h, t->eol);
		insert_after(out, t, hk->mark.line, s.s);
		kf_buf_release(&s);
		return;
	}
	size_t a = off_of(t, &hv->mark);
	size_t c = hv->kind == KF_NODE_SEQ ? flow_end(t, a) : a + hv->len;
	size_t ls = line_at(t, hk->mark.line);
	while (a > ls && (t->b[a - 1] == ' ' || t->b[a - 1] == '\t'))
		a--;
	/* the rest of the line after the value (spaces, a comment) is kept */
	size_t eol = c;
	while (eol < t->len && t->b[eol] != '\n')
		eol++;
	if (eol > c && t->b[eol - 1] == '\r')
		eol--;
	kf_buf_add(out, t->b, a);
	kf_buf_add(out, t->b + c, eol - c);
	kf_buf_puts(out, t->eol);
	entry_item(out, &st, h, t->eol);
	while (eol < t->len && t->b[eol] != '\n')
		eol++;
	if (eol < t->len)
		eol++;
	kf_buf_add(out, t->b + eol, t->len - eol);
}

/* `hosts: [{...}, {...}]`: the entry after the last item, on its own line
 * when the items are one a line. */
static void add_flow(struct kf_buf *out, const struct text *t, const struct kf_node *hv,
		     const struct kf_new_host *h)
{
	const struct kf_node *last = hv->kids[hv->n - 1];
	const struct kf_node *prev = hv->n > 1 ? hv->kids[hv->n - 2] : hv;
	struct style st = { 0 };
	size_t at = off_of(t, &last->mark), end = flow_end(t, at);
	st.pad = last->kind == KF_NODE_MAP && at + 1 < t->len && t->b[at + 1] == ' ';
	st.flow = true;
	style_power(&st, t, last);
	style_order(&st, last);
	while (end > at && (t->b[end - 1] == ' ' || t->b[end - 1] == '\t' || t->b[end - 1] == '\n' ||
			    t->b[end - 1] == '\r'))
		end--;
	struct kf_buf s = KF_BUF_INIT;
	if (last->mark.line > prev->mark.line) {
		kf_buf_printf(&s, ",%s", t->eol);
		spaces(&s, last->mark.col - 1);
	} else {
		kf_buf_puts(&s, ", ");
	}
	entry_flow(&s, &st, h);
	splice(out, t, end, s.s, end);
	kf_buf_release(&s);
}

/* A block list: the entry after the last line with content before the
 * next root key, so comments and blank lines that follow stay below. */
static void add_block(struct kf_buf *out, const struct text *t, const struct kf_node *hv,
		      int bound, const struct kf_new_host *h)
{
	const struct kf_node *last = hv->kids[hv->n - 1];
	struct style st;
	style_of_item(&st, t, hv);
	int line = bound - 1;
	while (line > last->mark.line && !content_line(t, line))
		line--;
	struct kf_buf s = KF_BUF_INIT;
	entry_item(&s, &st, h, t->eol);
	insert_after(out, t, line, s.s);
	kf_buf_release(&s);
}

int kf_fleet_add_host(const char *name, const char *buf, size_t len, const struct kf_new_host *h,
		      char **out, size_t *outlen, struct kf_err *e)
{
	struct kf_doc *doc = NULL;
	struct text t = { 0 };
	struct kf_buf o = KF_BUF_INIT;
	struct kf_mark top = { name, 1, 1 };
	int r = kf_doc_load_buf(&doc, name, buf, len, e);
	if (r < 0)
		goto out;
	const struct kf_node *root = doc->root;
	r = -EINVAL;
	if (!root || root->kind != KF_NODE_MAP) {
		kf_errf(e, root ? &root->mark : &top, "the inventory is not a mapping");
		goto out;
	}
	if (!root->block) {
		kf_errf(e, &root->mark, "the inventory is one flow mapping: enlist edits block style files");
		goto out;
	}
	text_init(&t, buf, len);
	size_t k;
	for (k = 0; k < root->n && strcmp(root->kids[2 * k]->val, "hosts"); k++)
		;
	const struct kf_node *hk = k < root->n ? root->kids[2 * k] : NULL;
	const struct kf_node *hv = hk ? root->kids[2 * k + 1] : NULL;
	int bound = k + 1 < root->n ? root->kids[2 * k + 2]->mark.line : t.nl + 1;
	if (!hk) {
		add_missing(&o, &t, root, h);
	} else if (hv->mark.line < hk->mark.line || (hv->mark.line == hk->mark.line && hv->mark.col < hk->mark.col)) {
		kf_errf(e, &hk->mark, "hosts is an alias: add the host by hand");
		goto out;
	} else if (kf_node_is_null(hv) || (hv->kind == KF_NODE_SEQ && !hv->n)) {
		add_empty(&o, &t, root, hk, hv, h);
	} else if (hv->kind != KF_NODE_SEQ) {
		kf_errf(e, &hv->mark, "hosts is a %s, not a list", kf_node_kind_name(hv));
		goto out;
	} else if (!hv->block) {
		add_flow(&o, &t, hv, h);
	} else {
		add_block(&o, &t, hv, bound, h);
	}
	*outlen = o.len;
	*out = kf_buf_detach(&o);
	r = 0;
out:
	kf_buf_release(&o);
	free(t.ls);
	kf_doc_free(doc);
	return r;
}
