/* JSON in and out (lib/json.h): the only file that calls json-c. */
#include "json.h"

#include <errno.h>
#include <json-c/json.h>
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
