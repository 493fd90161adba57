/* Unit tests: the parsed-YAML cache (lib/yamlcache.c).  Its one promise is
 * that a load through the cache gives exactly the tree (and the errors) a
 * whole parse gives; the main test edits a document thousands of times at
 * random, loads each version both ways and compares every node, mark and
 * weight, and checks that the partial path really ran. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "yamlcache.h"

static char dir[] = "/tmp/kf-test-yamlcache.XXXXXX";
static char yaml_path[128], cache_path[128];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(yaml_path, sizeof(yaml_path), "%s/fleet.yaml", dir);
	snprintf(cache_path, sizeof(cache_path), "%s/fleet.yc", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(yaml_path);
	unlink(cache_path);
	return rmdir(dir);
}

static void put(const char *s, size_t n)
{
	assert_int_equal(kf_write_replace(yaml_path, s, n, 0644), 0);
}

/* Same tree: kinds, styles, values, marks, weights, all the way down. */
static void same_node(const struct kf_node *a, const struct kf_node *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->mark.line, b->mark.line);
	assert_int_equal(a->mark.col, b->mark.col);
	assert_string_equal(a->mark.file, b->mark.file);
	assert_int_equal(a->weight, b->weight);
	if (a->kind == KF_NODE_SCALAR) {
		assert_int_equal(a->plain, b->plain);
		assert_int_equal(a->len, b->len);
		assert_memory_equal(a->val, b->val, a->len + 1);
		return;
	}
	assert_int_equal(a->block, b->block);
	assert_int_equal(a->n, b->n);
	size_t k = a->kind == KF_NODE_MAP ? 2 * a->n : a->n;
	for (size_t i = 0; i < k; i++)
		same_node(a->kids[i], b->kids[i]);
}

/* Loads the file both ways; they must agree.  Returns how the cache went,
 * and whether the text loaded in *ok. */
static enum kf_cache_use load_both(const char *s, size_t n, bool *ok)
{
	struct kf_err e1 = KF_ERR_INIT, e2 = KF_ERR_INIT;
	struct kf_doc *whole = NULL, *cached = NULL;
	enum kf_cache_use use;
	put(s, n);
	int r1 = kf_doc_load_buf(&whole, yaml_path, s, n, &e1);
	int r2 = kf_doc_load_cached(&cached, yaml_path, cache_path, &use, &e2);
	if ((r1 < 0) != (r2 < 0))
		fail_msg("whole parse %d, cached %d (%s) on:\n%.*s", r1, r2, kf_cache_use_name(use),
			 (int)n, s);
	assert_int_equal(e1.n, e2.n);
	for (size_t i = 0; i < e1.n; i++) {
		char b1[1024], b2[1024];
		assert_string_equal(kf_err_format(&e1, i, b1, sizeof(b1)),
				    kf_err_format(&e2, i, b2, sizeof(b2)));
	}
	if (r1 == 0) {
		assert_int_equal(whole->has_anchors, cached->has_anchors);
		assert_int_equal(!whole->root, !cached->root);
		if (whole->root)
			same_node(whole->root, cached->root);
	}
	*ok = r1 == 0;
	kf_doc_free(whole);
	kf_doc_free(cached);
	kf_err_release(&e1);
	kf_err_release(&e2);
	return use;
}

static const char base_text[] =
	"provisioner:\n"
	"  address: 10.0.0.1\n"
	"# a comment\n"
	"hosts:\n"
	"  - {name: h0, mac: \"52:54:00:00:00:00\", ip: 10.0.0.2}\n"
	"  - name: h1\n"
	"    macs: [a, b]\n"
	"    note: |\n"
	"      line one\n"
	"      line two\n"
	"  - name: h2\n"
	"    text: >+\n"
	"      folded\n"
	"\n"
	"  # a comment in the list\n"
	"  - 'quoted item'\n"
	"  - - nested\n"
	"    - list\n"
	"  - {a: 1,\n"
	"     b: 2}\n"
	"  - name: \"multi\n"
	"      line\"\n"
	"  - <<: {role: web}\n"
	"    name: h3\n"
	"  - {name: h4, mac: \"52:54:00:00:00:04\", ip: 10.0.0.6}\n"
	"  - {name: h5, mac: \"52:54:00:00:00:05\", ip: 10.0.0.7}\n"
	"  - plain scalar\n"
	"    continued\n"
	"  - {name: h6, mac: \"52:54:00:00:00:06\", ip: 10.0.0.8}\n"
	"guests:\n"
	"  - name: g1\n"
	"tail: end\n";

/* A list at column 1 that runs to the end of the file. */
static const char base_indentless[] =
	"defaults: {console: ttyS0}\n"
	"hosts:\n"
	"- {name: h0, ip: 10.0.0.2}\n"
	"- name: h1\n"
	"  keep: |+\n"
	"    kept\n"
	"\n"
	"- {name: h2, ip: 10.0.0.4}\n"
	"- {name: h3, ip: 10.0.0.5}\n"
	"- {name: h4, ip: 10.0.0.6}";

static const char *const snippets[] = {
	"\n", "  - {name: new, ip: 1.2.3.4}\n", "    extra: 1\n", "- x\n", "---\n", "...\n",
	"#c\n", "  - |+\n    kept\n\n", "&a ", "*a", "  - <<: {z: 1}\n    y: 2\n", "\r\n",
	"\xc2\x85", "\xe2\x80\xa8", "'", "\"", "{", "}", "[", "]", ": ", "  ", "\t", "%YAML 1.1\n",
	"  - a: 1\n    a: 2\n", "  -\n    name: late\n", "  - !tag x\n", "z: 1\n", "  - ",
	"\0", "é", "\n\n", "  # note\n", "    - deeper\n",
};

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static size_t rnd(size_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (size_t)(rng % n) : 0;
}

/* One random edit of *s (len *n), mostly inside the list. */
static void edit(char **s, size_t *n)
{
	struct kf_buf b = KF_BUF_INIT;
	size_t at = rnd(*n + 1);
	switch (rnd(8)) {
	case 0: { /* one byte */
		static const char set[] = " -:{}[]'\"#|>\n&*!%,?abxz0\t.";
		if (at < *n)
			(*s)[at] = set[rnd(sizeof(set) - 1)];
		return;
	}
	case 1: { /* a snippet, at a line start more often than not */
		if (rnd(3)) {
			while (at > 0 && (*s)[at - 1] != '\n')
				at--;
		}
		size_t k = rnd(KF_ARRAY_SIZE(snippets));
		size_t sl = snippets[k][0] ? strlen(snippets[k]) : 1; /* "\0": a NUL byte */
		kf_buf_add(&b, *s, at);
		kf_buf_add(&b, snippets[k], sl);
		kf_buf_add(&b, *s + at, *n - at);
		break;
	}
	case 2: { /* delete a range */
		size_t d = rnd(40) + 1;
		if (at + d > *n)
			d = *n - at;
		kf_buf_add(&b, *s, at);
		kf_buf_add(&b, *s + at + d, *n - at - d);
		break;
	}
	case 3:   /* duplicate or delete a whole line */
	case 4: {
		size_t a = at;
		while (a > 0 && (*s)[a - 1] != '\n')
			a--;
		const char *nl = memchr(*s + a, '\n', *n - a);
		size_t e = nl ? (size_t)(nl - *s) + 1 : *n;
		kf_buf_add(&b, *s, e);
		if (rnd(2))
			kf_buf_add(&b, *s + a, e - a);
		else
			b.len = a;
		kf_buf_add(&b, *s + e, *n - e);
		break;
	}
	default: /* change a value inside an item, as a user would (3 in 8) */
		for (size_t i = at; i + 3 < *n; i++)
			if (!memcmp(*s + i, "10.", 3)) {
				(*s)[i + 3] = (char)('0' + rnd(10));
				return;
			}
		return;
	}
	free(*s);
	*n = b.len;
	*s = kf_buf_detach(&b);
}

static void random_edits(const char *base, int rounds)
{
	size_t n = strlen(base), counts[4] = { 0 }, failed = 0;
	char *cur = kf_xstrdup(base);
	size_t cur_n = n;
	bool ok;
	unlink(cache_path);
	assert_int_equal(load_both(cur, cur_n, &ok), KF_CACHE_PARSED);
	assert_true(ok);
	for (int i = 0; i < rounds; i++) {
		char *next = kf_xmalloc(cur_n + 1);
		memcpy(next, cur, cur_n + 1);
		size_t next_n = cur_n;
		int edits = (int)rnd(3);
		for (int k = 0; k < edits; k++)
			edit(&next, &next_n);
		enum kf_cache_use use = load_both(next, next_n, &ok);
		ok ? counts[use]++ : failed++;
		/* go on from the new text if it loads and can be cached, else
		 * mostly from the old; drift back to the base now and then */
		if (((ok && use != KF_CACHE_OFF) || !rnd(30)) && next_n < 4 * n) {
			free(cur);
			cur = next;
			cur_n = next_n;
		} else {
			free(next);
		}
		if (!rnd(50)) {
			free(cur);
			cur = kf_xstrdup(base);
			cur_n = n;
		}
	}
	free(cur);
	print_message("%d edits: %zu parsed, %zu hit, %zu partial, %zu not cacheable, "
		      "%zu failed (the same errors both ways)\n", rounds, counts[KF_CACHE_PARSED],
		      counts[KF_CACHE_HIT], counts[KF_CACHE_PARTIAL], counts[KF_CACHE_OFF], failed);
	/* the paths under test really ran */
	assert_true(counts[KF_CACHE_PARTIAL] > (size_t)rounds / 6);
	assert_true(counts[KF_CACHE_HIT] > 0);
	assert_true(counts[KF_CACHE_PARSED] > 0);
}

static void test_random_edits(void **state)
{
	(void)state;
	rng = 0x2545f4914f6cdd1dULL;
	random_edits(base_text, 6000);
}

static void test_random_edits_indentless(void **state)
{
	(void)state;
	rng = 0x9e3779b97f4a7c15ULL;
	random_edits(base_indentless, 3000);
}

static void test_hit_and_partial(void **state)
{
	(void)state;
	bool ok;
	unlink(cache_path);
	char *s = kf_xstrdup(base_text);
	size_t n = strlen(s);
	assert_int_equal(load_both(s, n, &ok), KF_CACHE_PARSED);
	assert_int_equal(load_both(s, n, &ok), KF_CACHE_HIT);
	char *p = strstr(s, "10.0.0.6");
	p[7] = '9';
	assert_int_equal(load_both(s, n, &ok), KF_CACHE_PARTIAL);
	assert_true(ok);
	/* a new host line: the items after it move down one line */
	struct kf_buf b = KF_BUF_INIT;
	p = strstr(s, "  - {name: h4");
	kf_buf_add(&b, s, (size_t)(p - s));
	kf_buf_puts(&b, "  - {name: new, ip: 10.0.0.99}\n");
	kf_buf_puts(&b, p);
	assert_int_equal(load_both(b.s, b.len, &ok), KF_CACHE_PARTIAL);
	/* the newline before an item goes: that item joins the line above */
	p = strstr(b.s, "\n  - {name: h5");
	memmove(p, p + 1, strlen(p + 1) + 1);
	b.len--;
	assert_int_not_equal(load_both(b.s, b.len, &ok), KF_CACHE_HIT);
	kf_buf_release(&b);
	free(s);
}

/* A change outside the list parses the whole file. */
static void test_outside_list(void **state)
{
	(void)state;
	bool ok;
	unlink(cache_path);
	char *s = kf_xstrdup(base_text);
	size_t n = strlen(s);
	load_both(s, n, &ok);
	s[strlen("provisioner:\n  address: 10.0.0.")] = '7';
	assert_int_equal(load_both(s, n, &ok), KF_CACHE_PARSED);
	char *t = strstr(s, "tail: end");
	t[6] = 'E';
	assert_int_equal(load_both(s, n, &ok), KF_CACHE_PARSED);
	free(s);
}

static void test_anchors_not_cached(void **state)
{
	(void)state;
	bool ok;
	static const char text[] = "x-d: &d {role: web}\nhosts:\n  - {<<: *d, name: a}\n"
				   "  - {<<: *d, name: b}\n";
	unlink(cache_path);
	assert_int_equal(load_both(text, strlen(text), &ok), KF_CACHE_OFF);
	assert_true(ok);
	assert_int_equal(access(cache_path, F_OK), -1);
	assert_int_equal(load_both(text, strlen(text), &ok), KF_CACHE_OFF);
}

/* A cache that is torn, truncated or from elsewhere is never trusted. */
static void test_bad_cache(void **state)
{
	(void)state;
	bool ok;
	unlink(cache_path);
	size_t n = strlen(base_text);
	load_both(base_text, n, &ok);
	char *c = NULL;
	size_t cn = 0;
	assert_int_equal(kf_read_file(cache_path, 1 << 24, &c, &cn), 0);
	for (size_t at = 0; at < cn; at += cn / 97 + 1) {
		c[at] ^= 0x20;
		assert_int_equal(kf_write_atomic(cache_path, c, cn, 0600), 0);
		assert_int_equal(load_both(base_text, n, &ok), KF_CACHE_PARSED);
		c[at] ^= 0x20;
	}
	assert_int_equal(kf_write_atomic(cache_path, c, cn / 2, 0600), 0);
	assert_int_equal(load_both(base_text, n, &ok), KF_CACHE_PARSED);
	assert_int_equal(load_both(base_text, n, &ok), KF_CACHE_HIT);
	free(c);
}

static void test_cache_path(void **state)
{
	(void)state;
	put("a: 1\n", 5);
	setenv("KICKFLEET_CACHE_DIR", "off", 1);
	assert_null(kf_doc_cache_path(yaml_path));
	char sub[160];
	snprintf(sub, sizeof(sub), "%s/c", dir);
	setenv("KICKFLEET_CACHE_DIR", sub, 1);
	char *p = kf_doc_cache_path(yaml_path);
	assert_non_null(p);
	assert_int_equal(strncmp(p, sub, strlen(sub)), 0);
	struct stat sb;
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_null(kf_doc_cache_path("/nonexistent-kickfleet/fleet.yaml"));
	free(p);
	rmdir(sub);
	unsetenv("KICKFLEET_CACHE_DIR");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_and_partial),
		cmocka_unit_test(test_outside_list),
		cmocka_unit_test(test_anchors_not_cached),
		cmocka_unit_test(test_bad_cache),
		cmocka_unit_test(test_cache_path),
		cmocka_unit_test(test_random_edits),
		cmocka_unit_test(test_random_edits_indentless),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
