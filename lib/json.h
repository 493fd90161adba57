/* JSON in and out: the one adapter to json-c.
 *
 * Out: build a document from kf_json values and kf_json_dump() it.  A value
 * given to kf_json_set or kf_json_push belongs to its parent from then on;
 * free the root only.  Strings are copied; kf_json_str(NULL) is null.
 *
 * In: kf_json_parse_object() reads one object; the getters borrow from it
 * (nothing they return outlives the object) and take a NULL object. */
#ifndef KF_JSON_H
#define KF_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

struct kf_json; /* a json-c object */

struct kf_json *kf_json_object(void);
struct kf_json *kf_json_array(void);
struct kf_json *kf_json_str(const char *s);
struct kf_json *kf_json_bool(bool b);
struct kf_json *kf_json_int(int64_t v);
struct kf_json *kf_json_double(double v);
/* Adds v to object o under key; takes v. */
void kf_json_set(struct kf_json *o, const char *key, struct kf_json *v);
/* Appends v to array a; takes v. */
void kf_json_push(struct kf_json *a, struct kf_json *v);
void kf_json_free(struct kf_json *v);

enum kf_json_style {
	KF_JSON_PLAIN,  /* one line, no spaces: reports, replies */
	KF_JSON_PRETTY, /* indented by two spaces */
	KF_JSON_ROWS,   /* an array: "[", one spaced element a line, "]" ("[]" when empty) */
};
/* The document as text without a final newline, slashes unescaped;
 * malloc'd. */
char *kf_json_dump(const struct kf_json *v, enum kf_json_style style);

/* Streaming out: writes a document straight into a kf_buf, for answers
 * too large to build as values first (the API's list of 10k hosts).
 * Members and elements get their commas; strings are escaped as
 * kf_json_dump escapes them (quote, backslash, control characters; not
 * the slash).  Open objects and arrays nest at most KF_JW_DEPTH deep (a
 * bug beyond: kf_die).  The text is PLAIN style. */
#define KF_JW_DEPTH 16
struct kf_jw {
	struct kf_buf *b;
	int depth;
	bool more[KF_JW_DEPTH + 1]; /* an element already written at this depth */
	char close[KF_JW_DEPTH + 1]; /* what ends it: '}' or ']' */
	bool after_key;
};
void kf_jw_init(struct kf_jw *w, struct kf_buf *b);
void kf_jw_object(struct kf_jw *w); /* "{" */
void kf_jw_array(struct kf_jw *w);  /* "[" */
void kf_jw_end(struct kf_jw *w);    /* "}" or "]", whichever is open */
void kf_jw_key(struct kf_jw *w, const char *key);
void kf_jw_str(struct kf_jw *w, const char *s); /* NULL: null */
void kf_jw_int(struct kf_jw *w, int64_t v);
void kf_jw_bool(struct kf_jw *w, bool v);
void kf_jw_null(struct kf_jw *w);
/* A built value (NULL: null), as kf_json_dump(v, KF_JSON_PLAIN). */
void kf_jw_value(struct kf_jw *w, const struct kf_json *v);
/* text[0, len): a complete value another writer wrote, as the next value. */
void kf_jw_raw(struct kf_jw *w, const char *text, size_t len);
/* Appends s as a JSON string, quotes included. */
void kf_json_quote(struct kf_buf *b, const char *s);

/* Parses text[0, len) as one JSON object (nested at most 32 deep, only
 * whitespace around it) into *out, freed with kf_json_free; *out is NULL
 * when the text is blank.  0, or -EINVAL with "bad JSON: ..." in e. */
int kf_json_parse_object(const char *text, size_t len, struct kf_json **out, struct kf_err *e);
/* The same with a nesting bound of depth: deeper is -E2BIG ("nested
 * deeper than N levels"), for documents from untrusted senders. */
int kf_json_parse_object_bounded(const char *text, size_t len, int depth, struct kf_json **out,
				 struct kf_err *e);
/* kf_json_parse_object for a message read in parts (a socket): -EAGAIN,
 * with nothing in e, while text is the start of an object not yet
 * complete. */
int kf_json_parse_part(const char *text, size_t len, struct kf_json **out, struct kf_err *e);
bool kf_json_has(const struct kf_json *o, const char *key);
/* Member key when it is an object, else NULL. */
const struct kf_json *kf_json_get_object(const struct kf_json *o, const char *key);
/* Member key when it is an integer or a boolean (0/1), else dflt. */
long kf_json_get_int(const struct kf_json *o, const char *key, long dflt);
/* Member key when it is a string, else NULL. */
const char *kf_json_get_str(const struct kf_json *o, const char *key);

/* Strict reading, for decoders that refuse a field of the wrong type:
 * a member of any type (NULL when absent or null), its type, and the
 * values of arrays, integers, booleans and strings. */
enum kf_json_type { KF_JSON_NULL, KF_JSON_BOOL, KF_JSON_INT, KF_JSON_DOUBLE, KF_JSON_STRING, KF_JSON_OBJECT, KF_JSON_ARRAY };
const struct kf_json *kf_json_member(const struct kf_json *o, const char *key);
enum kf_json_type kf_json_type(const struct kf_json *v);
size_t kf_json_len(const struct kf_json *a);                   /* 0 unless an array */
const struct kf_json *kf_json_at(const struct kf_json *a, size_t i);
int64_t kf_json_int_of(const struct kf_json *v);
bool kf_json_bool_of(const struct kf_json *v);
const char *kf_json_str_of(const struct kf_json *v, size_t *len); /* NULL unless a string */
/* The first member of object o whose key is not in known (NULL-ended),
 * or NULL when every key is known. */
const char *kf_json_unknown_key(const struct kf_json *o, const char *const *known);

#endif
