/* JSON in and out (lib/json.h): the only file that calls json-c. */
#include "json.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define JSON_DEPTH 32
#define BLANK " \t\r\n"

static json_object *J(const struct kf_json *v)
{
	return (json_object *)(void *)v;
}

static struct kf_json *K(json_object *o)
{
	return (struct kf_json *)(void *)o;
}

static struct kf_json *made(json_object *o)
{
	if (!o)
		kf_die_oom();
	return K(o);
}

struct kf_json *kf_json_object(void)
{
	return made(json_object_new_object());
}

struct kf_json *kf_json_array(void)
{
	return made(json_object_new_array());
}

struct kf_json *kf_json_str(const char *s)
{
	return s ? made(json_object_new_string(s)) : NULL;
}

struct kf_json *kf_json_bool(bool b)
{
	return made(json_object_new_boolean(b));
}

struct kf_json *kf_json_int(int64_t v)
{
	return made(json_object_new_int64(v));
}

struct kf_json *kf_json_double(double v)
{
	return made(json_object_new_double(v));
}

void kf_json_set(struct kf_json *o, const char *key, struct kf_json *v)
{
	if (json_object_object_add(J(o), key, J(v)) < 0)
		kf_die_oom();
}

void kf_json_push(struct kf_json *a, struct kf_json *v)
{
	if (json_object_array_add(J(a), J(v)) < 0)
		kf_die_oom();
}

void kf_json_free(struct kf_json *v)
{
	json_object_put(J(v));
}

static const char *text_of(json_object *o, int flags)
{
	const char *s = json_object_to_json_string_ext(o, flags | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		kf_die_oom();
	return s;
}

char *kf_json_dump(const struct kf_json *v, enum kf_json_style style)
{
	json_object *o = J(v);
	if (style == KF_JSON_PLAIN)
		return kf_xstrdup(text_of(o, JSON_C_TO_STRING_PLAIN));
	if (style == KF_JSON_PRETTY || !json_object_is_type(o, json_type_array))
		return kf_xstrdup(text_of(o, JSON_C_TO_STRING_PRETTY));
	struct kf_buf b = KF_BUF_INIT;
	size_t n = json_object_array_length(o);
	kf_buf_puts(&b, "[");
	for (size_t i = 0; i < n; i++) {
		kf_buf_puts(&b, i ? ",\n " : "\n ");
		kf_buf_puts(&b, text_of(json_object_array_get_idx(o, i), JSON_C_TO_STRING_SPACED));
	}
	kf_buf_puts(&b, n ? "\n]" : "]");
	return kf_buf_detach(&b);
}

static int parse_object(const char *text, size_t len, int depth, bool bounded, bool part,
			struct kf_json **out, struct kf_err *e);

int kf_json_parse_object(const char *text, size_t len, struct kf_json **out, struct kf_err *e)
{
	return parse_object(text, len, JSON_DEPTH, false, false, out, e);
}

int kf_json_parse_part(const char *text, size_t len, struct kf_json **out, struct kf_err *e)
{
	return parse_object(text, len, JSON_DEPTH, true, true, out, e);
}

int kf_json_parse_object_bounded(const char *text, size_t len, int depth, struct kf_json **out,
				 struct kf_err *e)
{
	return parse_object(text, len, depth, true, false, out, e);
}

/* part: a truncated document is -EAGAIN (kf_json_parse_part), not an
 * error. */
static int parse_object(const char *text, size_t len, int depth, bool bounded, bool part,
			struct kf_json **out, struct kf_err *e)
{
	*out = NULL;
	size_t i = 0;
	while (i < len && strchr(BLANK, text[i]))
		i++;
	if (i == len)
		return 0;
	if (memchr(text, 0, len))
		return kf_errf(e, NULL, "body holds a NUL byte");
	json_tokener *tok = json_tokener_new_ex(depth);
	if (!tok)
		kf_die_oom();
	json_object *o = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	int r = 0;
	if (bounded && je == json_tokener_error_depth)
		r = kf_errc(e, -E2BIG, NULL, "bad JSON: nested deeper than %d levels", depth);
	else if (part && je == json_tokener_continue)
		r = -EAGAIN; /* kf_json_parse_part: the rest is still to come */
	else if (!o || je != json_tokener_success)
		r = kf_errf(e, NULL, "bad JSON: %s", json_tokener_error_desc(je));
	for (; !r && used < len; used++)
		if (!strchr(BLANK, text[used]))
			r = kf_errf(e, NULL, "bad JSON: trailing data at byte %zu", used);
	if (!r && !json_object_is_type(o, json_type_object))
		r = kf_errf(e, NULL, "bad JSON: expected an object");
	if (r < 0)
		json_object_put(o);
	else
		*out = K(o);
	return r;
}

static json_object *member(const struct kf_json *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_object_get_ex(J(o), key, &v))
		return NULL;
	return v;
}

bool kf_json_has(const struct kf_json *o, const char *key)
{
	return o && json_object_object_get_ex(J(o), key, NULL);
}

const struct kf_json *kf_json_get_object(const struct kf_json *o, const char *key)
{
	json_object *v = member(o, key);
	return json_object_is_type(v, json_type_object) ? K(v) : NULL;
}

long kf_json_get_int(const struct kf_json *o, const char *key, long dflt)
{
	json_object *v = member(o, key);
	if (json_object_is_type(v, json_type_int))
		return (long)json_object_get_int64(v);
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	return dflt;
}

const char *kf_json_get_str(const struct kf_json *o, const char *key)
{
	json_object *v = member(o, key);
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

const struct kf_json *kf_json_member(const struct kf_json *o, const char *key)
{
	return K(member(o, key));
}

enum kf_json_type kf_json_type(const struct kf_json *v)
{
	switch (json_object_get_type(J(v))) {
	case json_type_boolean: return KF_JSON_BOOL;
	case json_type_int: return KF_JSON_INT;
	case json_type_double: return KF_JSON_DOUBLE;
	case json_type_string: return KF_JSON_STRING;
	case json_type_object: return KF_JSON_OBJECT;
	case json_type_array: return KF_JSON_ARRAY;
	default: return KF_JSON_NULL;
	}
}

size_t kf_json_len(const struct kf_json *a)
{
	return json_object_is_type(J(a), json_type_array) ? json_object_array_length(J(a)) : 0;
}

const struct kf_json *kf_json_at(const struct kf_json *a, size_t i)
{
	return i < kf_json_len(a) ? K(json_object_array_get_idx(J(a), i)) : NULL;
}

int64_t kf_json_int_of(const struct kf_json *v)
{
	return json_object_get_int64(J(v));
}

bool kf_json_bool_of(const struct kf_json *v)
{
	return json_object_get_boolean(J(v));
}

const char *kf_json_str_of(const struct kf_json *v, size_t *len)
{
	if (!json_object_is_type(J(v), json_type_string))
		return NULL;
	if (len)
		*len = (size_t)json_object_get_string_len(J(v));
	return json_object_get_string(J(v));
}

const char *kf_json_unknown_key(const struct kf_json *o, const char *const *known)
{
	if (!json_object_is_type(J(o), json_type_object))
		return NULL;
	json_object_object_foreach(J(o), key, val) {
		(void)val;
		bool ok = false;
		for (size_t i = 0; known[i] && !ok; i++)
			ok = !strcmp(key, known[i]);
		if (!ok)
			return key;
	}
	return NULL;
}

/* ---- streaming out ---- */

void kf_json_quote(struct kf_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	kf_buf_add(b, "\"", 1);
	const char *run = s;
	for (;; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		kf_buf_add(b, run, (size_t)(s - run));
		if (!c)
			break;
		char esc[6] = { '\\', 0 };
		size_t n = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		kf_buf_add(b, esc, n);
		run = s + 1;
	}
	kf_buf_add(b, "\"", 1);
}

void kf_jw_init(struct kf_jw *w, struct kf_buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

/* A writer used against its contract: a bug in the caller. */
static _Noreturn void jw_bug(const char *what)
{
	fprintf(stderr, "kickfleet: json writer: %s\n", what);
	abort();
}

/* Before a value: the comma between elements (not after a key). */
static void jw_sep(struct kf_jw *w)
{
	if (w->after_key)
		w->after_key = false;
	else if (w->more[w->depth])
		kf_buf_add(w->b, ",", 1);
	w->more[w->depth] = true;
}

static void jw_open(struct kf_jw *w, char open, char close)
{
	jw_sep(w);
	if (w->depth >= KF_JW_DEPTH)
		jw_bug("nested too deep");
	kf_buf_add(w->b, &open, 1);
	w->depth++;
	w->more[w->depth] = false;
	w->close[w->depth] = close;
}

void kf_jw_object(struct kf_jw *w) { jw_open(w, '{', '}'); }
void kf_jw_array(struct kf_jw *w) { jw_open(w, '[', ']'); }

void kf_jw_end(struct kf_jw *w)
{
	if (w->depth <= 0 || w->after_key)
		jw_bug("end without an open object or array");
	kf_buf_add(w->b, &w->close[w->depth], 1);
	w->depth--;
}

void kf_jw_key(struct kf_jw *w, const char *key)
{
	if (w->depth <= 0 || w->close[w->depth] != '}' || w->after_key)
		jw_bug("key outside an object");
	jw_sep(w);
	kf_json_quote(w->b, key);
	kf_buf_add(w->b, ":", 1);
	w->after_key = true;
}

void kf_jw_str(struct kf_jw *w, const char *s)
{
	if (!s) {
		kf_jw_null(w);
		return;
	}
	jw_sep(w);
	kf_json_quote(w->b, s);
}

void kf_jw_int(struct kf_jw *w, int64_t v)
{
	char d[24], *p = d + sizeof(d);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	jw_sep(w);
	kf_buf_add(w->b, p, (size_t)(d + sizeof(d) - p));
}

void kf_jw_bool(struct kf_jw *w, bool v)
{
	jw_sep(w);
	kf_buf_puts(w->b, v ? "true" : "false");
}

void kf_jw_null(struct kf_jw *w)
{
	jw_sep(w);
	kf_buf_add(w->b, "null", 4);
}

void kf_jw_value(struct kf_jw *w, const struct kf_json *v)
{
	if (!v) {
		kf_jw_null(w);
		return;
	}
	jw_sep(w);
	kf_buf_puts(w->b, text_of(J(v), JSON_C_TO_STRING_PLAIN));
}

void kf_jw_raw(struct kf_jw *w, const char *text, size_t len)
{
	jw_sep(w);
	kf_buf_add(w->b, text, len);
}
