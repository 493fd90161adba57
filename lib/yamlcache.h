/* A cache of parsed YAML documents, for big files that change a little.
 *
 * An inventory of 10,000 hosts is one long list under `hosts:`; parsing it
 * with libyaml takes tens of milliseconds, while an edit usually touches a
 * line or two.  kf_doc_load_cached() keeps, in a cache file, the text the
 * document was parsed from and its node tree.  When the file is unchanged
 * the tree comes from the cache; when the change lies inside the items of
 * the root mapping's largest block list, only the items it touches are
 * parsed again (as a YAML document of their own, which is checked to read
 * exactly as it would in place) and spliced into the cached tree.  In every
 * other case, and whenever anything about the cache is in doubt, the whole
 * file is parsed: the result is always the tree kf_doc_load_file() gives.
 *
 * Files with anchors or aliases are always parsed whole (an item may share
 * nodes with another).  The cache file is rewritten after every parse, by
 * rename, without fsync: a checksum catches a torn one. */
#ifndef KF_YAMLCACHE_H
#define KF_YAMLCACHE_H

#include "yamldoc.h"

enum kf_cache_use {
	KF_CACHE_OFF,     /* no cache file used or written */
	KF_CACHE_PARSED,  /* parsed whole (no usable cache); cache written */
	KF_CACHE_HIT,     /* unchanged: the tree came from the cache */
	KF_CACHE_PARTIAL, /* only the changed items were parsed */
};

/* Loads path as kf_doc_load_file() does, through the cache file cache_path
 * (NULL: no cache).  *use (may be NULL) says which way it went. */
int kf_doc_load_cached(struct kf_doc **out, const char *path, const char *cache_path,
		       enum kf_cache_use *use, struct kf_err *e);

/* The cache file for path: in $KICKFLEET_CACHE_DIR, else /var/cache/kickfleet
 * for root, else $XDG_CACHE_HOME/kickfleet or ~/.cache/kickfleet; the
 * directory is created (mode 0700).  NULL when caching is off
 * (KICKFLEET_CACHE_DIR=off) or no directory can be made.  Free it. */
char *kf_doc_cache_path(const char *path);

const char *kf_cache_use_name(enum kf_cache_use use);

#endif
