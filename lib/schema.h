/* Table-driven schemas: YAML nodes in, plain C structs out.
 *
 * A schema describes one C struct: each field names its key, type, offset,
 * whether it is required, its default, its range or allowed values and a
 * one-line description that docs and --help reuse.  kf_schema_decode()
 * fills the struct from a node, reporting every problem (unknown keys with
 * a "did you mean", wrong types, out-of-range values, missing keys) as
 * FILE:LINE:COL: message, and keeps going so that one run shows them all.
 *
 * Storage by type, and the value meaning "not given":
 *   STR CPULIST NODELIST MAC IPV4 CIDR IFACE PCI   const char *    NULL
 *   BOOL                                           int             -1
 *   INT SIZE                                       long long       KF_UNSET
 *   ENUM                                           int (index)     -1
 *   STRUCT                                         pointer         NULL
 *   LIST DICT                                      struct kf_list  n == 0
 * Every struct a schema describes starts with `const struct kf_node *node`
 * (KF_NODE_HDR): the mapping it came from, for messages after decoding.
 * Keys starting with "x-" are extension fields and are ignored, so users
 * can park YAML anchors there (x-common: &common {...}).
 * Values are stored normalised (sizes in bytes, MACs lower case, CPU lists
 * as "0-3,8"), so comparing two decoded values compares meaning. */
#ifndef KF_SCHEMA_H
#define KF_SCHEMA_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "arena.h"
#include "err.h"
#include "yamldoc.h"

#define KF_UNSET LLONG_MIN
#define KF_NODE_HDR const struct kf_node *node

enum kf_type {
	KF_T_STR,
	KF_T_BOOL,
	KF_T_INT,
	KF_T_SIZE,
	KF_T_CPULIST,
	KF_T_NODELIST,
	KF_T_MAC,
	KF_T_IPV4,
	KF_T_CIDR,
	KF_T_IFACE,  /* an interface name (<= 15 chars) or a MAC address */
	KF_T_PCI,    /* PCI address, normalised to 0000:06:00.0 */
	KF_T_ENUM,
	KF_T_STRUCT, /* a mapping described by .sub */
	KF_T_LIST,   /* a sequence of .elem values, or of .sub structs */
	KF_T_DICT,   /* a mapping whose keys fill .sub's first field */
};

enum {
	KF_F_REQUIRED = 1 << 0,
	KF_F_ONE_OR_LIST = 1 << 1, /* LIST: a single value stands for a one-item list */
	/* The key is refused wherever it appears, with .doc as the reason
	 * (an inline secret); its value is never stored or printed. */
	KF_F_REFUSED = 1 << 2,
};

struct kf_list {
	size_t n;
	void *v; /* n elements: structs of .sub->size, or scalars of the elem type */
};

struct kf_schema;

struct kf_field {
	const char *key;
	enum kf_type type;
	size_t off;
	unsigned flags;
	const char *def;             /* default, written as in YAML; NULL: none */
	long long min, max;          /* INT/SIZE bounds, checked when min < max */
	const char *const *enumv;    /* ENUM values, NULL terminated */
	const struct kf_schema *sub; /* STRUCT, DICT, LIST of structs */
	enum kf_type elem;           /* LIST of scalars: their type */
	const char *alias;           /* another accepted spelling of the key */
	const char *doc;             /* one line for docs and --help */
};

/* Semantic checks after a struct decoded cleanly; add errors to e. */
typedef void (*kf_check_fn)(void *obj, struct kf_err *e, void *ctx);

struct kf_schema {
	const char *name;           /* what the mapping is, for messages: "bond" */
	size_t size;
	const struct kf_field *fields; /* terminated by an entry with key NULL */
	const char *shorthand;      /* a scalar in place of the mapping sets this field */
	kf_check_fn check;
};

/* Decodes node into a new struct allocated from arena a (NULL node: an
 * empty mapping, so defaults apply).  Returns the struct even when there
 * were errors (callers check e->n); ctx is passed to the check functions. */
void *kf_schema_decode(const struct kf_schema *s, const struct kf_node *node, struct kf_arena *a,
		       struct kf_err *e, void *ctx);

/* The mark of key's value in obj's mapping, or of the mapping itself. */
const struct kf_mark *kf_mark_of(const void *obj, const char *key);

/* Element i of a list of structs / of strings. */
#define KF_LIST_AT(list, type, i) (&((type *)(list).v)[i])
#define KF_LIST_STR(list, i) (((const char **)(list).v)[i])

/* Prints obj as normalised YAML (only what is set, in schema order). */
void kf_schema_print(FILE *f, const struct kf_schema *s, const void *obj, int indent);

/* Writes a Markdown reference of the schema and the ones below it. */
void kf_schema_doc(FILE *f, const struct kf_schema *s, const char *path);

/* Formats a scalar for YAML output, quoting where needed. */
const char *kf_yaml_quote(const char *s, char *buf, size_t len);

const char *kf_enum_name(const struct kf_schema *s, const char *key, int idx);

#endif
