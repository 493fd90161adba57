/* YAML documents as node trees that remember where each node came from.
 *
 * This is the one file that talks to libyaml.  Anchors and aliases are
 * resolved (an alias shares the anchored node), merge keys ("<<") are
 * applied, duplicate keys are errors, and limits on file size, nesting and
 * alias expansion keep hostile input (billion laughs) from eating memory. */
#ifndef KF_YAMLDOC_H
#define KF_YAMLDOC_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "err.h"

enum kf_node_kind { KF_NODE_SCALAR, KF_NODE_SEQ, KF_NODE_MAP };

struct kf_node {
	enum kf_node_kind kind;
	bool plain;      /* scalar: unquoted plain scalar (null/bool/number rules apply) */
	bool block;      /* seq/map: block style (not [..] or {..}) */
	struct kf_mark mark;
	/* scalar */
	const char *val;
	size_t len;
	/* seq: kids[i]; map: kids[2i] key (a scalar), kids[2i+1] value */
	struct kf_node **kids;
	size_t n;        /* items, or pairs for a map */
	size_t weight;   /* nodes in this subtree with aliases expanded */
};

struct kf_doc {
	struct kf_arena arena;
	const char *file;
	struct kf_node *root; /* NULL for an empty document */
	bool has_anchors;     /* an anchor or alias was seen (nodes may be shared) */
};

#define KF_DOC_MAX_BYTES (16u << 20)
#define KF_DOC_MAX_DEPTH 64
#define KF_DOC_MAX_WEIGHT 1000000u

/* Loads and parses a file.  On success *out owns everything and pairs with
 * kf_doc_free().  On failure every error found is added to e (as
 * FILE:LINE:COL: message) and a negative errno is returned. */
int kf_doc_load_file(struct kf_doc **out, const char *path, struct kf_err *e);
/* The same for a buffer; name is used in messages. */
int kf_doc_load_buf(struct kf_doc **out, const char *name, const char *buf, size_t len,
		    struct kf_err *e);
void kf_doc_free(struct kf_doc *doc);

/* Reads a file of at most KF_DOC_MAX_BYTES into *buf (free it), with the
 * errors kf_doc_load_file() gives. */
int kf_doc_read(const char *path, char **buf, size_t *len, struct kf_err *e);

/* For lib/yamlcache.c: parses buf as one document into doc (its arena and
 * has_anchors), its marks moved down by line0 lines and its nesting counted
 * from depth0; *root is NULL for an empty document.  Errors go to e. */
int kf_doc_parse_part(struct kf_doc *doc, const char *buf, size_t len, int line0, int depth0,
		      struct kf_node **root, struct kf_err *e);

/* True for a plain null scalar ("", "~", "null", "Null", "NULL"). */
bool kf_node_is_null(const struct kf_node *n);
/* Looks up a key of a map node, NULL if absent or not a map. */
struct kf_node *kf_map_get(const struct kf_node *map, const char *key);
const char *kf_node_kind_name(const struct kf_node *n);

#endif
