#include "schema.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "types.h"
#include "util.h"

struct dec {
	struct kf_arena *a;
	struct kf_err *e;
	void *ctx;
};

static size_t scalar_size(enum kf_type t)
{
	switch (t) {
	case KF_T_BOOL:
	case KF_T_ENUM:
		return sizeof(int);
	case KF_T_INT:
	case KF_T_SIZE:
		return sizeof(long long);
	case KF_T_STRUCT:
		return sizeof(void *);
	case KF_T_LIST:
	case KF_T_DICT:
		return sizeof(struct kf_list);
	default:
		return sizeof(const char *);
	}
}

static void set_unset(const struct kf_field *f, void *dst)
{
	switch (f->type) {
	case KF_T_BOOL:
	case KF_T_ENUM:
		*(int *)dst = -1;
		break;
	case KF_T_INT:
	case KF_T_SIZE:
		*(long long *)dst = KF_UNSET;
		break;
	default:
		break; /* zeroed by the arena */
	}
}

static bool is_set(const struct kf_field *f, const void *dst)
{
	if (f->flags & KF_F_REFUSED)
		return false;
	switch (f->type) {
	case KF_T_BOOL:
	case KF_T_ENUM:
		return *(const int *)dst >= 0;
	case KF_T_INT:
	case KF_T_SIZE:
		return *(const long long *)dst != KF_UNSET;
	case KF_T_LIST:
	case KF_T_DICT:
		return ((const struct kf_list *)dst)->n > 0;
	default:
		return *(void *const *)dst != NULL;
	}
}

static const char *type_desc(const struct kf_field *f)
{
	switch (f->type) {
	case KF_T_STR: return "a string";
	case KF_T_BOOL: return "true or false";
	case KF_T_INT: return "an integer";
	case KF_T_SIZE: return "a size like 512M or 8G";
	case KF_T_CPULIST: return "a CPU list like 0-3,8";
	case KF_T_NODELIST: return "a NUMA node list like 0 or 0-1";
	case KF_T_MAC: return "a MAC address like 52:54:00:aa:00:01";
	case KF_T_IPV4: return "an IPv4 address like 10.0.0.1";
	case KF_T_CIDR: return "an IPv4 address with prefix like 10.0.0.1/24";
	case KF_T_IFACE: return "an interface name or MAC address";
	case KF_T_PCI: return "a PCI address like 0000:06:00.0";
	case KF_T_ENUM: return "one of the listed values";
	case KF_T_STRUCT: return "a mapping";
	case KF_T_LIST: return "a list";
	case KF_T_DICT: return "a mapping";
	}
	return "?";
}

static void bad_value(struct dec *d, const struct kf_field *f, const struct kf_node *n)
{
	if (n->kind != KF_NODE_SCALAR)
		kf_errf(d->e, &n->mark, "%s: expected %s, got a %s", f->key, type_desc(f),
			kf_node_kind_name(n));
	else
		kf_errf(d->e, &n->mark, "%s: expected %s, got \"%s\"", f->key, type_desc(f), n->val);
}

static void bad_enum(struct dec *d, const struct kf_field *f, const struct kf_node *n)
{
	struct kf_buf b = KF_BUF_INIT;
	const char *best = NULL;
	int bestd = 3;
	for (size_t i = 0; f->enumv[i]; i++) {
		kf_buf_printf(&b, "%s%s", i ? ", " : "", f->enumv[i]);
		int dist = kf_levenshtein(n->val, f->enumv[i]);
		if (dist < bestd) {
			bestd = dist;
			best = f->enumv[i];
		}
	}
	if (best)
		kf_errf(d->e, &n->mark, "%s: \"%s\" is not one of %s (did you mean \"%s\"?)", f->key,
			n->val, b.s, best);
	else
		kf_errf(d->e, &n->mark, "%s: \"%s\" is not one of %s", f->key, n->val, b.s);
	kf_buf_release(&b);
}

static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]) || !isprint((unsigned char)s[i]))
			return false;
	return true;
}

/* An int or size field's value, checked against its range. */
static int decode_number(struct dec *d, const struct kf_field *f, const struct kf_node *n, long long *dst)
{
	const char *v = n->val;
	long long x;
	uint64_t bytes;
	if (f->type == KF_T_INT ? kf_int_parse(v, &x) < 0
				: kf_size_parse(v, &bytes) < 0 || bytes > (uint64_t)LLONG_MAX) {
		bad_value(d, f, n);
		return -EINVAL;
	}
	if (f->type == KF_T_SIZE)
		x = (long long)bytes;
	if (f->min < f->max && (x < f->min || x > f->max)) {
		if (f->type == KF_T_SIZE) {
			char a[32], b[32];
			kf_errf(d->e, &n->mark, "%s: %s is out of range (%s to %s)", f->key, v,
				kf_size_fmt((uint64_t)f->min, a, sizeof(a)),
				kf_size_fmt((uint64_t)f->max, b, sizeof(b)));
		} else {
			kf_errf(d->e, &n->mark, "%s: %s is out of range (%lld to %lld)", f->key, v, f->min,
				f->max);
		}
		return -ERANGE;
	}
	*dst = x;
	return 0;
}

/* The normal form of a value of a textual type into buf: 0, 1 when v is
 * kept as it is (an interface name), -EINVAL when it is not of the type. */
static int norm_text(const struct kf_field *f, const char *v, char *buf, size_t len)
{
	uint32_t a;
	int p;
	char ip[16];
	switch (f->type) {
	case KF_T_CPULIST:
	case KF_T_NODELIST:
		return kf_cpulist_norm(v, buf, len) < 0 || !buf[0] ? -EINVAL : 0;
	case KF_T_MAC:
		return kf_mac_norm(v, buf) < 0 ? -EINVAL : 0;
	case KF_T_IPV4:
		if (kf_ipv4_parse(v, &a) < 0)
			return -EINVAL;
		kf_ipv4_fmt(a, buf);
		return 0;
	case KF_T_CIDR:
		if (kf_cidr_parse(v, &a, &p) < 0)
			return -EINVAL;
		snprintf(buf, len, "%s/%d", kf_ipv4_fmt(a, ip), p);
		return 0;
	case KF_T_IFACE:
		if (kf_mac_norm(v, buf) == 0)
			return 0;
		return valid_ifname(v) ? 1 : -EINVAL;
	case KF_T_PCI:
		return kf_pci_norm(v, buf, len) < 0 ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}

static int decode_scalar(struct dec *d, const struct kf_field *f, const struct kf_node *n, void *dst)
{
	if (n->kind != KF_NODE_SCALAR || kf_node_is_null(n)) {
		if (kf_node_is_null(n) && n->kind == KF_NODE_SCALAR)
			kf_errf(d->e, &n->mark, "%s: missing value (expected %s)", f->key, type_desc(f));
		else
			bad_value(d, f, n);
		return -EINVAL;
	}
	const char *v = n->val;
	char buf[4096];
	bool b;
	int r;
	switch (f->type) {
	case KF_T_STR:
		*(const char **)dst = v;
		return 0;
	case KF_T_BOOL:
		if (kf_bool_parse(v, &b) < 0)
			break;
		*(int *)dst = b;
		return 0;
	case KF_T_INT:
	case KF_T_SIZE:
		return decode_number(d, f, n, dst);
	case KF_T_ENUM:
		for (int i = 0; f->enumv[i]; i++)
			if (!strcmp(f->enumv[i], v)) {
				*(int *)dst = i;
				return 0;
			}
		bad_enum(d, f, n);
		return -EINVAL;
	default:
		if ((r = norm_text(f, v, buf, sizeof(buf))) < 0)
			break;
		/* already normalised: the node's text (it lives as long as the struct) */
		*(const char **)dst = r || !strcmp(buf, v) ? v : kf_arena_strdup(d->a, buf);
		return 0;
	}
	bad_value(d, f, n);
	return -EINVAL;
}

static void decode_struct_into(struct dec *d, const struct kf_schema *s, const struct kf_node *n,
			       void *obj, const struct kf_field *skip);
static void *decode_struct(struct dec *d, const struct kf_schema *s, const struct kf_node *n);

static void decode_list(struct dec *d, const struct kf_field *f, const struct kf_node *n,
			struct kf_list *out)
{
	const struct kf_node *const *items;
	size_t count;
	const struct kf_node *one = n;
	if (kf_node_is_null(n)) {
		return;
	} else if (n->kind == KF_NODE_SEQ) {
		items = (const struct kf_node *const *)n->kids;
		count = n->n;
	} else if ((f->flags & KF_F_ONE_OR_LIST) && (n->kind == KF_NODE_SCALAR || f->sub)) {
		items = &one;
		count = 1;
	} else {
		bad_value(d, f, n);
		return;
	}
	size_t esz = f->sub ? f->sub->size : scalar_size(f->elem);
	char *v = kf_arena_alloc(d->a, esz * (count ? count : 1));
	struct kf_field ef = *f;
	ef.type = f->elem;
	for (size_t i = 0; i < count; i++) {
		void *dst = v + i * esz;
		if (f->sub) {
			decode_struct_into(d, f->sub, items[i], dst, NULL);
		} else {
			set_unset(&ef, dst);
			decode_scalar(d, &ef, items[i], dst);
		}
	}
	out->n = count;
	out->v = v;
}

static void decode_dict(struct dec *d, const struct kf_field *f, const struct kf_node *n,
			struct kf_list *out)
{
	if (kf_node_is_null(n))
		return;
	if (n->kind != KF_NODE_MAP) {
		bad_value(d, f, n);
		return;
	}
	const struct kf_schema *s = f->sub;
	const struct kf_field *keyf = &s->fields[0];
	char *v = kf_arena_alloc(d->a, s->size * (n->n ? n->n : 1));
	for (size_t i = 0; i < n->n; i++) {
		void *obj = v + i * s->size;
		const struct kf_node *key = n->kids[2 * i], *val = n->kids[2 * i + 1];
		set_unset(keyf, (char *)obj + keyf->off);
		struct kf_field kf = *keyf;
		kf.key = f->key;
		decode_scalar(d, &kf, key, (char *)obj + keyf->off);
		decode_struct_into(d, s, val, obj, keyf);
	}
	out->n = n->n;
	out->v = v;
}

static void decode_value(struct dec *d, const struct kf_field *f, const struct kf_node *n, void *dst)
{
	switch (f->type) {
	case KF_T_STRUCT:
		*(void **)dst = decode_struct(d, f->sub, n);
		break;
	case KF_T_LIST:
		decode_list(d, f, n, dst);
		break;
	case KF_T_DICT:
		decode_dict(d, f, n, dst);
		break;
	default:
		decode_scalar(d, f, n, dst);
		break;
	}
}

static const struct kf_field *find_field(const struct kf_schema *s, const char *key,
					 const struct kf_field *skip)
{
	for (const struct kf_field *f = s->fields; f->key; f++) {
		if (f == skip)
			continue;
		/* the first character rules out most fields without a call */
		if ((f->key[0] == key[0] && !strcmp(f->key, key)) ||
		    (f->alias && f->alias[0] == key[0] && !strcmp(f->alias, key)))
			return f;
	}
	return NULL;
}

static void unknown_key(struct dec *d, const struct kf_schema *s, const struct kf_node *key,
			const struct kf_field *skip)
{
	const char *best = NULL;
	int bestd = 99;
	size_t klen = strlen(key->val);
	int limit = klen <= 4 ? 1 : klen <= 8 ? 2 : 3;
	for (const struct kf_field *f = s->fields; f->key; f++) {
		if (f == skip)
			continue;
		int dist = kf_levenshtein(key->val, f->key);
		/* a plural/singular slip is always worth suggesting */
		size_t fl = strlen(f->key);
		if (dist > limit && !strncmp(key->val, f->key, klen < fl ? klen : fl) &&
		    (klen + 1 == fl || fl + 1 == klen))
			dist = 1;
		if (dist < bestd) {
			bestd = dist;
			best = f->key;
		}
	}
	if (best && bestd <= limit)
		kf_errf(d->e, &key->mark, "unknown key \"%s\" in %s (did you mean \"%s\"?)", key->val,
			s->name, best);
	else
		kf_errf(d->e, &key->mark, "unknown key \"%s\" in %s", key->val, s->name);
}

static void apply_default(struct dec *d, const struct kf_field *f, const struct kf_node *at,
			  void *dst)
{
	struct kf_node dn = { .kind = KF_NODE_SCALAR, .plain = true, .val = f->def };
	dn.len = strlen(f->def);
	if (at)
		dn.mark = at->mark;
	decode_scalar(d, f, &dn, dst);
}

static void decode_struct_into(struct dec *d, const struct kf_schema *s, const struct kf_node *n,
			       void *obj, const struct kf_field *skip)
{
	size_t before = d->e ? d->e->n : 0;
	*(const struct kf_node **)obj = n;
	for (const struct kf_field *f = s->fields; f->key; f++)
		if (f != skip)
			set_unset(f, (char *)obj + f->off);

	bool seen[64] = { 0 };
	/* a plain value (or a list, for a list field) in place of the mapping */
	const struct kf_field *sh = s->shorthand ? find_field(s, s->shorthand, skip) : NULL;
	if (kf_node_is_null(n)) {
		/* an empty mapping */
	} else if (sh && (n->kind == KF_NODE_SCALAR ||
			  (n->kind == KF_NODE_SEQ && sh->type == KF_T_LIST))) {
		decode_value(d, sh, n, (char *)obj + sh->off);
		seen[sh - s->fields] = true;
	} else if (n->kind != KF_NODE_MAP) {
		kf_errf(d->e, &n->mark, "%s: expected a mapping, got a %s", s->name, kf_node_kind_name(n));
		return;
	} else {
		for (size_t i = 0; i < n->n; i++) {
			const struct kf_node *key = n->kids[2 * i];
			/* "x-" keys are extension fields: a place for anchors */
			if (!strncmp(key->val, "x-", 2))
				continue;
			const struct kf_field *f = find_field(s, key->val, skip);
			if (!f) {
				unknown_key(d, s, key, skip);
				continue;
			}
			size_t idx = (size_t)(f - s->fields);
			if (idx < 64 && seen[idx]) {
				kf_errf(d->e, &key->mark, "\"%s\" given twice (also as \"%s\")", key->val,
					strcmp(key->val, f->key) ? f->key : f->alias);
				continue;
			}
			if (idx < 64)
				seen[idx] = true;
			if (f->flags & KF_F_REFUSED) {
				kf_errf(d->e, &key->mark, "%s: %s", f->key, f->doc);
				continue;
			}
			decode_value(d, f, n->kids[2 * i + 1], (char *)obj + f->off);
		}
	}
	for (const struct kf_field *f = s->fields; f->key; f++) {
		size_t idx = (size_t)(f - s->fields);
		if (f == skip || (idx < 64 && seen[idx]))
			continue;
		if (f->flags & KF_F_REQUIRED) {
			static const struct kf_mark none = { 0 };
			kf_errf(d->e, n ? &n->mark : &none, "%s: missing required key \"%s\"", s->name,
				f->key);
		} else if (f->def) {
			apply_default(d, f, n, (char *)obj + f->off);
		}
	}
	if (s->check && (!d->e || d->e->n == before))
		s->check(obj, d->e, d->ctx);
}

static void *decode_struct(struct dec *d, const struct kf_schema *s, const struct kf_node *n)
{
	void *obj = kf_arena_alloc(d->a, s->size);
	decode_struct_into(d, s, n, obj, NULL);
	return obj;
}

void *kf_schema_decode(const struct kf_schema *s, const struct kf_node *node, struct kf_arena *a,
		       struct kf_err *e, void *ctx)
{
	struct dec d = { a, e, ctx };
	return decode_struct(&d, s, node);
}

const struct kf_mark *kf_mark_of(const void *obj, const char *key)
{
	static const struct kf_mark none = { 0 };
	const struct kf_node *n = obj ? *(const struct kf_node *const *)obj : NULL;
	if (!n)
		return &none;
	const struct kf_node *v = key ? kf_map_get(n, key) : NULL;
	return v ? &v->mark : &n->mark;
}

const char *kf_enum_name(const struct kf_schema *s, const char *key, int idx)
{
	const struct kf_field *f = find_field(s, key, NULL);
	if (!f || !f->enumv || idx < 0)
		return NULL;
	return f->enumv[idx];
}

/* ---- printing ---- */

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	static const char *const special[] = { "true", "false", "yes", "no", "on", "off", "y", "n",
					       "null", "~" };
	for (size_t i = 0; i < KF_ARRAY_SIZE(special); i++)
		if (!strcasecmp(s, special[i]))
			return true;
	if (strchr("!&*-?{}[],#|>@`\"'%: ", s[0]) && !(s[0] == '-' && s[1] && s[1] != ' '))
		return true;
	long long x;
	if (kf_int_parse(s, &x) == 0)
		return true;
	for (const char *p = s; *p; p++) {
		if (*p == ':' || (*p == ' ' && p[1] == '#') ||
		    (unsigned char)*p < 0x20)
			return true;
	}
	return s[strlen(s) - 1] == ' ';
}

const char *kf_yaml_quote(const char *s, char *buf, size_t len)
{
	if (!needs_quotes(s)) {
		snprintf(buf, len, "%s", s);
		return buf;
	}
	size_t o = 0;
	buf[o++] = '"';
	for (const char *p = s; *p && o + 8 < len; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (c < 0x20) {
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = 0;
	return buf;
}

static void scalar_text(const struct kf_field *f, enum kf_type t, const void *dst, char *buf,
			size_t len)
{
	switch (t) {
	case KF_T_BOOL:
		snprintf(buf, len, "%s", *(const int *)dst ? "true" : "false");
		break;
	case KF_T_ENUM:
		snprintf(buf, len, "%s", f->enumv[*(const int *)dst]);
		break;
	case KF_T_INT:
		snprintf(buf, len, "%lld", *(const long long *)dst);
		break;
	case KF_T_SIZE:
		kf_size_fmt((uint64_t) * (const long long *)dst, buf, len);
		break;
	default:
		kf_yaml_quote(*(const char *const *)dst, buf, len);
		break;
	}
}

static void print_fields(FILE *f, const struct kf_schema *s, const void *obj, int indent,
			 const char *first, const struct kf_field *skip);

static bool struct_empty(const struct kf_schema *s, const void *obj, const struct kf_field *skip)
{
	for (const struct kf_field *f = s->fields; f->key; f++)
		if (f != skip && is_set(f, (const char *)obj + f->off))
			return false;
	return true;
}

/* Prints one field; `lead` is what goes before the key on its line. */
static void print_field(FILE *out, const struct kf_field *f, const void *dst, int indent,
			const char *lead)
{
	char buf[4096];
	switch (f->type) {
	case KF_T_STRUCT: {
		const void *sub = *(void *const *)dst;
		if (struct_empty(f->sub, sub, NULL)) {
			fprintf(out, "%s%s: {}\n", lead, f->key);
		} else {
			fprintf(out, "%s%s:\n", lead, f->key);
			print_fields(out, f->sub, sub, indent + 2, NULL, NULL);
		}
		break;
	}
	case KF_T_LIST: {
		const struct kf_list *l = dst;
		if (!f->sub) {
			fprintf(out, "%s%s: [", lead, f->key);
			size_t esz = scalar_size(f->elem);
			for (size_t i = 0; i < l->n; i++) {
				scalar_text(f, f->elem, (const char *)l->v + i * esz, buf, sizeof(buf));
				fprintf(out, "%s%s", i ? ", " : "", buf);
			}
			fputs("]\n", out);
			break;
		}
		fprintf(out, "%s%s:\n", lead, f->key);
		for (size_t i = 0; i < l->n; i++) {
			const void *el = (const char *)l->v + i * f->sub->size;
			char first[256];
			snprintf(first, sizeof(first), "%*s- ", indent + 2, "");
			if (struct_empty(f->sub, el, NULL))
				fprintf(out, "%s{}\n", first);
			else
				print_fields(out, f->sub, el, indent + 4, first, NULL);
		}
		break;
	}
	case KF_T_DICT: {
		const struct kf_list *l = dst;
		const struct kf_schema *s = f->sub;
		const struct kf_field *kf = &s->fields[0];
		fprintf(out, "%s%s:\n", lead, f->key);
		for (size_t i = 0; i < l->n; i++) {
			const char *el = (const char *)l->v + i * s->size;
			scalar_text(kf, kf->type, el + kf->off, buf, sizeof(buf));
			/* a two-field entry with its value set prints inline */
			const struct kf_field *vf = &s->fields[1];
			bool inline_ok = vf->key && !s->fields[2].key && vf->type != KF_T_STRUCT &&
					 vf->type != KF_T_LIST && vf->type != KF_T_DICT;
			if (inline_ok && is_set(vf, el + vf->off)) {
				char vb[4096];
				scalar_text(vf, vf->type, el + vf->off, vb, sizeof(vb));
				fprintf(out, "%*s%s: %s\n", indent + 2, "", buf, vb);
			} else if (struct_empty(s, el, kf)) {
				fprintf(out, "%*s%s: {}\n", indent + 2, "", buf);
			} else {
				fprintf(out, "%*s%s:\n", indent + 2, "", buf);
				print_fields(out, s, el, indent + 4, NULL, kf);
			}
		}
		break;
	}
	default:
		scalar_text(f, f->type, dst, buf, sizeof(buf));
		fprintf(out, "%s%s: %s\n", lead, f->key, buf);
		break;
	}
}

static void print_fields(FILE *out, const struct kf_schema *s, const void *obj, int indent,
			 const char *first, const struct kf_field *skip)
{
	char lead[256];
	bool used_first = false;
	for (const struct kf_field *f = s->fields; f->key; f++) {
		const void *dst = (const char *)obj + f->off;
		if (f == skip || !is_set(f, dst))
			continue;
		if (first && !used_first) {
			snprintf(lead, sizeof(lead), "%s", first);
			used_first = true;
		} else {
			snprintf(lead, sizeof(lead), "%*s", indent, "");
		}
		print_field(out, f, dst, indent, lead);
	}
}

void kf_schema_print(FILE *f, const struct kf_schema *s, const void *obj, int indent)
{
	print_fields(f, s, obj, indent, NULL, NULL);
}

/* ---- reference docs ---- */

static const char *type_name(const struct kf_field *f, char *buf, size_t len)
{
	switch (f->type) {
	case KF_T_ENUM: {
		size_t o = 0;
		for (size_t i = 0; f->enumv[i] && o + 1 < len; i++)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? " \\| " : "", f->enumv[i]);
		return buf;
	}
	case KF_T_LIST:
		if (f->sub)
			snprintf(buf, len, "list of %s", f->sub->name);
		else {
			struct kf_field ef = *f;
			ef.type = f->elem;
			char eb[256];
			snprintf(buf, len, "list of %s", type_name(&ef, eb, sizeof(eb)));
		}
		return buf;
	case KF_T_DICT:
		snprintf(buf, len, "map of %s", f->sub->name);
		return buf;
	case KF_T_STRUCT:
		snprintf(buf, len, "%s", f->sub->name);
		return buf;
	case KF_T_STR: return "string";
	case KF_T_BOOL: return "bool";
	case KF_T_INT: return "integer";
	case KF_T_SIZE: return "size";
	case KF_T_CPULIST: return "cpulist";
	case KF_T_NODELIST: return "nodelist";
	case KF_T_MAC: return "MAC";
	case KF_T_IPV4: return "IPv4";
	case KF_T_CIDR: return "IPv4/prefix";
	case KF_T_IFACE: return "interface or MAC";
	case KF_T_PCI: return "PCI address";
	}
	return "?";
}

void kf_schema_doc(FILE *out, const struct kf_schema *s, const char *path)
{
	char tb[512];
	fprintf(out, "\n### `%s`\n\n", path);
	if (s->shorthand)
		fprintf(out, "A plain value in place of the mapping sets `%s`.\n\n", s->shorthand);
	fprintf(out, "| key | type | default | meaning |\n| --- | --- | --- | --- |\n");
	for (const struct kf_field *f = s->fields; f->key; f++) {
		if (f->flags & KF_F_REFUSED) {
			fprintf(out, "| `%s` (refused) | | | %s |\n", f->key, f->doc);
			continue;
		}
		char range[96] = "";
		if (f->min < f->max && f->type == KF_T_INT)
			snprintf(range, sizeof(range), " (%lld to %lld)", f->min, f->max);
		char alias[96] = "";
		if (f->alias)
			snprintf(alias, sizeof(alias), " (or `%s`)", f->alias);
		fprintf(out, "| `%s`%s%s | %s%s | %s | %s |\n", f->key,
			(f->flags & KF_F_REQUIRED) ? " (required)" : "", alias,
			type_name(f, tb, sizeof(tb)), range, f->def ? f->def : "", f->doc ? f->doc : "");
	}
	for (const struct kf_field *f = s->fields; f->key; f++) {
		if (!f->sub)
			continue;
		char *sub = kf_xasprintf("%s.%s%s", path, f->key,
					 f->type == KF_T_LIST ? "[]" : f->type == KF_T_DICT ? ".*" : "");
		kf_schema_doc(out, f->sub, sub);
		free(sub);
	}
}
