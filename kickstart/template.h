/* kickfleet's template language, for kickstarts and preseeds.  The user
 * reference is docs/templates.md; in short:
 *
 *   {{ host.name }}            a value; {{ x | shell }}, | ks, | url, | raw
 *   {% if vars.raid %} ... {% elif x == "y" %} ... {% else %} ... {% endif %}
 *   {% if defined vars.x %}    true when the variable exists (no error)
 *   {% for nic in host.nics %} {{ nic.mac }} {{ loop.index }} {% endfor %}
 *   {% include "snippets/agent.ks" %}
 *   {# a comment #}
 *
 * A tag alone on its line takes the line with it.  Using a variable that
 * does not exist is an error with FILE:LINE:COL, never an empty string.
 * Values are escaped for where they land: in a kickstart, shell quoting
 * inside %pre/%post/%onerror/%traceback, kickstart quoting elsewhere;
 * control characters (newlines) are refused everywhere.
 *
 * Templates are parsed once (with their includes) into a struct kt_cache
 * and rendered many times against a struct kt_obj of values. */
#ifndef KF_KICKSTART_TEMPLATE_H
#define KF_KICKSTART_TEMPLATE_H

#include <stddef.h>

#include "arena.h"
#include "err.h"
#include "util.h"

/* ---- values ---- */

enum kt_kind { KT_STR, KT_LIST, KT_OBJ };

struct kt_obj;
struct kt_val {
	enum kt_kind kind;
	const char *str;          /* KT_STR */
	struct kt_obj **items;    /* KT_LIST: objects */
	size_t n;
	struct kt_obj *obj;       /* KT_OBJ */
};

struct kt_kv {
	const char *key;
	struct kt_val val;
};

/* A mapping of names to values, allocated from an arena. */
struct kt_obj {
	struct kt_kv *v;
	size_t n, cap;
};

struct kt_obj *kt_obj_new(struct kf_arena *a);
/* Sets key (copied) to a string (copied; NULL stores ""). */
void kt_set_str(struct kf_arena *a, struct kt_obj *o, const char *key, const char *s);
/* Sets key to a new empty object / list and returns it. */
struct kt_obj *kt_set_obj(struct kf_arena *a, struct kt_obj *o, const char *key);
struct kt_val *kt_set_list(struct kf_arena *a, struct kt_obj *o, const char *key);
/* Appends a new empty object to a list value and returns it. */
struct kt_obj *kt_list_add(struct kf_arena *a, struct kt_val *list);
/* Looks a dotted path ("host.nics") up; NULL when absent. */
const struct kt_val *kt_lookup(const struct kt_obj *o, const char *path);

/* ---- templates ---- */

/* Output formats decide the default escaping. */
enum kt_format { KT_FMT_KICKSTART, KT_FMT_PRESEED, KT_FMT_PLAIN };

struct kt_template;

/* Finds an included file: called with the including file's path and the
 * name in the include tag; returns a malloc'd path or NULL. */
typedef char *(*kt_resolve_fn)(const char *from, const char *name, void *ctx);

struct kt_cache {
	struct kf_arena arena;
	struct kt_template **v;
	size_t n, cap;
	kt_resolve_fn resolve; /* NULL: relative to the including file only */
	void *resolve_ctx;
};

void kt_cache_init(struct kt_cache *c, kt_resolve_fn resolve, void *ctx);
void kt_cache_release(struct kt_cache *c);

/* Parses path (and, recursively, what it includes) once per cache.
 * Syntax errors go to e as FILE:LINE:COL: message.  *out stays owned by
 * the cache. */
int kt_load(struct kt_cache *c, const char *path, struct kt_template **out, struct kf_err *e);

/* The format a template's file name implies: *.ks kickstart, *.preseed /
 * *.seed / *.cfg preseed, else plain. */
enum kt_format kt_format_of(const char *path);

/* Renders t against root into out.  Every problem (undefined variable,
 * wrong type, a value that cannot be escaped) is added to e with the mark
 * of the expression, `who` (e.g. "host kvm01") in the message; rendering
 * goes on to find them all.  Returns 0 or -EINVAL. */
int kt_render(const struct kt_template *t, const struct kt_obj *root, enum kt_format fmt,
	      const char *who, struct kf_buf *out, struct kf_err *e);

/* SHA-256 (hex) of the template's text and of everything it includes, for
 * render digests. */
const char *kt_digest(const struct kt_template *t);
const char *kt_path(const struct kt_template *t);

/* Escapers, exported for the boot-config renderers and tests.  Each
 * appends s to out; they return -EINVAL (appending nothing) if s holds a
 * control character. */
int kt_esc_shell(struct kf_buf *out, const char *s);
int kt_esc_ks(struct kf_buf *out, const char *s);
int kt_esc_url(struct kf_buf *out, const char *s);

#endif
