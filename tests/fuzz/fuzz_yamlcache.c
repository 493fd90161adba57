/* libFuzzer target: the parsed-YAML cache (lib/yamlcache.c).  The input is
 * two texts split at the first "\n%%\n": the first is loaded (and cached),
 * then the second is loaded through that cache and must give exactly the
 * tree, or the error count, a whole parse of it gives; a difference aborts.
 * The second text is loaded again, from the cache its first load wrote.
 * Without the separator the second text is the first with its middle byte
 * changed.  The files live in a private directory under /tmp. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "yamlcache.h"

static char dir[] = "/tmp/kf-fuzz-yamlcache.XXXXXX";
static char yaml_path[128], cache_path[128];

static void cleanup(void)
{
	unlink(yaml_path);
	unlink(cache_path);
	rmdir(dir);
}

static void same(const struct kf_node *a, const struct kf_node *b)
{
	if (a->kind != b->kind || a->mark.line != b->mark.line || a->mark.col != b->mark.col ||
	    a->weight != b->weight || a->n != b->n || a->len != b->len || a->plain != b->plain ||
	    a->block != b->block)
		abort();
	if (a->kind == KF_NODE_SCALAR) {
		if (memcmp(a->val, b->val, a->len + 1))
			abort();
		return;
	}
	size_t k = a->kind == KF_NODE_MAP ? 2 * a->n : a->n;
	for (size_t i = 0; i < k; i++)
		same(a->kids[i], b->kids[i]);
}

static void load(const char *s, size_t n)
{
	struct kf_err e1 = KF_ERR_INIT, e2 = KF_ERR_INIT;
	struct kf_doc *whole = NULL, *cached = NULL;
	if (kf_write_replace(yaml_path, s, n, 0600) < 0)
		abort();
	int r1 = kf_doc_load_buf(&whole, yaml_path, s, n, &e1);
	int r2 = kf_doc_load_cached(&cached, yaml_path, cache_path, NULL, &e2);
	if ((r1 < 0) != (r2 < 0) || e1.n != e2.n)
		abort();
	if (r1 == 0) {
		if (!whole->root != !cached->root)
			abort();
		if (whole->root)
			same(whole->root, cached->root);
	}
	kf_doc_free(whole);
	kf_doc_free(cached);
	kf_err_release(&e1);
	kf_err_release(&e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!yaml_path[0]) {
		if (!mkdtemp(dir))
			abort();
		snprintf(yaml_path, sizeof(yaml_path), "%s/f.yaml", dir);
		snprintf(cache_path, sizeof(cache_path), "%s/f.yc", dir);
		atexit(cleanup);
	}
	const char *s = (const char *)data;
	const char *sep = size >= 4 ? memmem(s, size, "\n%%\n", 4) : NULL;
	unlink(cache_path);
	/* the second text is loaded twice: the second load reads the cache
	 * the first one wrote (after a partial load, from the old cache) */
	if (sep) {
		load(s, (size_t)(sep - s) + 1);
		load(sep + 4, size - (size_t)(sep + 4 - s));
		load(sep + 4, size - (size_t)(sep + 4 - s));
	} else if (size) {
		load(s, size);
		char *t = kf_xmalloc(size);
		memcpy(t, s, size);
		t[size / 2] = (char)(t[size / 2] ^ 0x01);
		load(t, size);
		load(t, size);
		free(t);
	}
	return 0;
}
