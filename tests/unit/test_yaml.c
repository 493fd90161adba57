/* Unit tests: YAML documents (marks, aliases, merge keys, limits) and the
 * schema decoder (types, defaults, unknown keys, shorthands, printing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schema.h"
#include "util.h"
#include "yamldoc.h"

static struct kf_doc *load(const char *text, struct kf_err *e)
{
	struct kf_doc *doc = NULL;
	kf_doc_load_buf(&doc, "t.yaml", text, strlen(text), e);
	return doc;
}

static const char *msg(const struct kf_err *e, size_t i)
{
	static char buf[1024];
	return kf_err_format(e, i, buf, sizeof(buf));
}

static void test_marks(void **state)
{
	(void)state;
	struct kf_err e = KF_ERR_INIT;
	struct kf_doc *doc = load("a: 1\nb:\n  c: [x, y]\n", &e);
	assert_non_null(doc);
	assert_int_equal(e.n, 0);
	struct kf_node *b = kf_map_get(doc->root, "b");
	assert_non_null(b);
	struct kf_node *c = kf_map_get(b, "c");
	assert_int_equal(c->kind, KF_NODE_SEQ);
	assert_int_equal(c->n, 2);
	assert_int_equal(c->kids[1]->mark.line, 3);
	assert_int_equal(c->kids[1]->mark.col, 10);
	assert_string_equal(c->kids[1]->val, "y");
	kf_doc_free(doc);
	kf_err_release(&e);
}

static void test_alias_merge(void **state)
{
	(void)state;
	struct kf_err e = KF_ERR_INIT;
	struct kf_doc *doc = load("base: &b {x: 1, y: 2}\n"
				  "m: {<<: *b, y: 3}\n"
				  "n: {<<: [*b, {z: 4}]}\n"
				  "l: *b\n",
				  &e);
	assert_non_null(doc);
	struct kf_node *m = kf_map_get(doc->root, "m");
	assert_string_equal(kf_map_get(m, "x")->val, "1");
	assert_string_equal(kf_map_get(m, "y")->val, "3"); /* explicit wins */
	assert_null(kf_map_get(m, "<<"));
	struct kf_node *n = kf_map_get(doc->root, "n");
	assert_string_equal(kf_map_get(n, "z")->val, "4");
	assert_string_equal(kf_map_get(n, "x")->val, "1");
	assert_ptr_equal(kf_map_get(doc->root, "l"), kf_map_get(doc->root, "base"));
	kf_doc_free(doc);
	kf_err_release(&e);
}

/* Maps beyond a few dozen keys look keys up by hash: the same duplicates,
 * the same "first at line", the same merge order as small ones. */
static void test_big_maps(void **state)
{
	(void)state;
	struct kf_buf b = KF_BUF_INIT;
	for (int i = 0; i < 300; i++) /* k0 on line 1 */
		kf_buf_printf(&b, "k%d: %d\n", i, i);
	kf_buf_puts(&b, "k17: again\nk299: again\nk17: third\n");
	struct kf_err e = KF_ERR_INIT;
	assert_null(load(b.s, &e));
	assert_int_equal(e.n, 3);
	assert_string_equal(msg(&e, 0), "t.yaml:301:1: duplicate key \"k17\" (first at line 18)");
	assert_string_equal(msg(&e, 1), "t.yaml:302:1: duplicate key \"k299\" (first at line 300)");
	assert_string_equal(msg(&e, 2), "t.yaml:303:1: duplicate key \"k17\" (first at line 18)");
	kf_err_release(&e);

	/* a big merge source into a big map: given keys win, merged ones
	 * follow in the sources' order, the first source first */
	b.len = 0;
	kf_buf_puts(&b, "base: &b\n");
	for (int i = 0; i < 100; i++)
		kf_buf_printf(&b, "  m%d: base%d\n", i, i);
	kf_buf_puts(&b, "m:\n  <<: [*b, {m1: second, x: second}]\n");
	for (int i = 0; i < 50; i++)
		kf_buf_printf(&b, "  k%d: own%d\n", i, i);
	kf_buf_puts(&b, "  m3: own\n");
	struct kf_doc *doc = load(b.s, &e);
	kf_buf_release(&b);
	assert_non_null(doc);
	assert_int_equal(e.n, 0);
	const struct kf_node *m = kf_map_get(doc->root, "m");
	assert_int_equal(m->n, 51 + 99 + 1);
	assert_string_equal(m->kids[2 * 50]->val, "m3");
	assert_string_equal(m->kids[2 * 51]->val, "m0");
	assert_string_equal(m->kids[2 * 150]->val, "x");
	assert_string_equal(kf_map_get(m, "m3")->val, "own");
	assert_string_equal(kf_map_get(m, "m1")->val, "base1");
	assert_string_equal(kf_map_get(m, "x")->val, "second");
	assert_string_equal(kf_map_get(m, "k49")->val, "own49");
	kf_doc_free(doc);
}

/* Duplicate keys are found without comparing every key with every other:
 * a 40,000-key map (800 million comparisons that way) loads in well under
 * a second of CPU. */
static void test_big_map_linear(void **state)
{
	(void)state;
	struct kf_buf b = KF_BUF_INIT;
	for (int i = 0; i < 40000; i++)
		kf_buf_printf(&b, "host%05d: {ip: 10.0.%d.%d}\n", i, i / 250, i % 250);
	struct timespec t0, t1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	struct kf_err e = KF_ERR_INIT;
	struct kf_doc *doc = load(b.s, &e);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	kf_buf_release(&b);
	assert_non_null(doc);
	assert_int_equal(doc->root->n, 40000);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (s >= 1.0)
		fail_msg("a 40,000-key map took %.2f s of CPU to load", s);
	kf_doc_free(doc);
}

static void test_errors(void **state)
{
	(void)state;
	struct kf_err e = KF_ERR_INIT;
	assert_null(load("a: 1\na: 2\nb: 1\nb: 3\n", &e));
	assert_int_equal(e.n, 2); /* every duplicate, not only the first */
	assert_string_equal(msg(&e, 0), "t.yaml:2:1: duplicate key \"a\" (first at line 1)");
	kf_err_release(&e);

	assert_null(load("a: *nope\n", &e));
	assert_string_equal(msg(&e, 0), "t.yaml:1:4: unknown alias \"*nope\"");
	kf_err_release(&e);

	assert_null(load("a: [1, 2\n", &e));
	assert_true(strstr(msg(&e, 0), "syntax error") != NULL);
	kf_err_release(&e);

	assert_null(load("a: 1\n---\nb: 2\n", &e));
	assert_string_equal(msg(&e, 0), "t.yaml:2:1: more than one YAML document in the file");
	kf_err_release(&e);

	struct kf_doc *doc = NULL;
	assert_int_not_equal(kf_doc_load_buf(&doc, "t.yaml", "a: b\0c", 6, &e), 0);
	assert_string_equal(msg(&e, 0), "t.yaml:1:5: file contains a NUL byte (not a text file?)");
	kf_err_release(&e);

	assert_null(load("{[1]: 2}\n", &e));
	assert_true(strstr(msg(&e, 0), "a key must be a plain value") != NULL);
	kf_err_release(&e);
}

static void test_limits(void **state)
{
	(void)state;
	struct kf_err e = KF_ERR_INIT;
	struct kf_buf b = KF_BUF_INIT;
	/* billion laughs: 10^9 nodes from a few hundred bytes */
	kf_buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++) {
		kf_buf_printf(&b, "a%d: &a%d [", i, i);
		for (int j = 0; j < 10; j++)
			kf_buf_printf(&b, "%s*a%d", j ? ", " : "", i - 1);
		kf_buf_puts(&b, "]\n");
	}
	assert_null(load(b.s, &e));
	assert_true(strstr(msg(&e, 0), "alias bomb") != NULL);
	kf_err_release(&e);
	kf_buf_release(&b);

	/* nesting */
	for (int i = 0; i < 100; i++)
		kf_buf_puts(&b, "[");
	for (int i = 0; i < 100; i++)
		kf_buf_puts(&b, "]");
	assert_null(load(b.s, &e));
	assert_true(strstr(msg(&e, 0), "nesting deeper than") != NULL);
	kf_err_release(&e);
	kf_buf_release(&b);

	/* size */
	size_t big = KF_DOC_MAX_BYTES + 1;
	char *huge = kf_xmalloc(big);
	memset(huge, '#', big);
	struct kf_doc *doc = NULL;
	assert_int_not_equal(kf_doc_load_buf(&doc, "t.yaml", huge, big, &e), 0);
	assert_true(strstr(msg(&e, 0), "larger than") != NULL);
	free(huge);
	kf_err_release(&e);
}

/* ---- schema ---- */

struct pair {
	KF_NODE_HDR;
	long long id;
	const char *cpus;
};

struct item {
	KF_NODE_HDR;
	const char *name;
	int mode;
	long long count;
	long long size;
	struct kf_list tags;
	struct kf_list pins;
	int flag;
	const char *mac;
};

struct top {
	KF_NODE_HDR;
	struct item *one;
	struct kf_list many;
};

static const char *const modes[] = { "fast", "slow", NULL };

#define F(S, k, t, m, ...) { .key = k, .type = t, .off = offsetof(S, m), __VA_ARGS__ }
static const struct kf_field pair_fields[] = {
	F(struct pair, "id", KF_T_INT, id, .min = 0, .max = 63),
	F(struct pair, "cpus", KF_T_CPULIST, cpus),
	{ 0 },
};
static const struct kf_schema pair_schema = { "pin", sizeof(struct pair), pair_fields, "cpus", NULL };

static int checks_run;
static void item_check(void *obj, struct kf_err *e, void *ctx)
{
	(void)ctx;
	struct item *it = obj;
	checks_run++;
	if (it->count != KF_UNSET && it->count > 5 && it->mode == 1)
		kf_errf(e, kf_mark_of(it, "count"), "item %s: slow items take at most 5", it->name);
}

static const struct kf_field item_fields[] = {
	F(struct item, "name", KF_T_STR, name, .flags = KF_F_REQUIRED),
	F(struct item, "mode", KF_T_ENUM, mode, .enumv = modes, .def = "fast"),
	F(struct item, "count", KF_T_INT, count, .min = 0, .max = 10),
	F(struct item, "size", KF_T_SIZE, size, .alias = "bytes"),
	F(struct item, "tags", KF_T_LIST, tags, .elem = KF_T_STR, .flags = KF_F_ONE_OR_LIST),
	F(struct item, "pins", KF_T_DICT, pins, .sub = &pair_schema),
	F(struct item, "flag", KF_T_BOOL, flag),
	F(struct item, "mac", KF_T_MAC, mac),
	{ 0 },
};
static const struct kf_schema item_schema = { "item", sizeof(struct item), item_fields, "name",
					      item_check };
static const struct kf_field top_fields[] = {
	F(struct top, "one", KF_T_STRUCT, one, .sub = &item_schema),
	F(struct top, "many", KF_T_LIST, many, .sub = &item_schema),
	{ 0 },
};
static const struct kf_schema top_schema = { "top", sizeof(struct top), top_fields, NULL, NULL };

static struct top *decode(const char *text, struct kf_doc **doc, struct kf_arena *a,
			  struct kf_err *e)
{
	*doc = load(text, e);
	assert_non_null(*doc);
	return kf_schema_decode(&top_schema, (*doc)->root, a, e, NULL);
}

static void test_schema_ok(void **state)
{
	(void)state;
	struct kf_err e = KF_ERR_INIT;
	struct kf_arena a = { 0 };
	struct kf_doc *doc;
	checks_run = 0;
	struct top *t = decode("one: {name: a, count: 3, bytes: 2M, tags: solo, pins: {0: 1-2, 3: \"4\"},"
			       " flag: yes, mac: 52:54:00:AA:BB:CC, x-anchor: {ignored: 1}}\n"
			       "many:\n  - b\n  - {name: c, mode: slow, tags: [p, q]}\n",
			       &doc, &a, &e);
	assert_int_equal(e.n, 0);
	assert_string_equal(t->one->name, "a");
	assert_int_equal(t->one->mode, 0); /* default */
	assert_int_equal(t->one->count, 3);
	assert_int_equal(t->one->size, 2 << 20);
	assert_int_equal(t->one->tags.n, 1);
	assert_string_equal(KF_LIST_STR(t->one->tags, 0), "solo");
	assert_int_equal(t->one->pins.n, 2);
	struct pair *p = KF_LIST_AT(t->one->pins, struct pair, 0);
	assert_int_equal(p->id, 0);
	assert_string_equal(p->cpus, "1-2");
	assert_int_equal(t->one->flag, 1);
	assert_string_equal(t->one->mac, "52:54:00:aa:bb:cc");
	assert_int_equal(t->many.n, 2);
	struct item *b = KF_LIST_AT(t->many, struct item, 0);
	assert_string_equal(b->name, "b"); /* shorthand */
	assert_int_equal(b->count, KF_UNSET);
	assert_int_equal(b->flag, -1);
	assert_int_equal(KF_LIST_AT(t->many, struct item, 1)->mode, 1);
	assert_int_equal(checks_run, 3);

	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	kf_schema_print(f, &top_schema, t, 0);
	fclose(f);
	assert_string_equal(out, "one:\n"
				 "  name: a\n"
				 "  mode: fast\n"
				 "  count: 3\n"
				 "  size: 2M\n"
				 "  tags: [solo]\n"
				 "  pins:\n"
				 "    0: 1-2\n"
				 "    3: \"4\"\n"
				 "  flag: true\n"
				 "  mac: \"52:54:00:aa:bb:cc\"\n"
				 "many:\n"
				 "  - name: b\n"
				 "    mode: fast\n"
				 "  - name: c\n"
				 "    mode: slow\n"
				 "    tags: [p, q]\n");
	free(out);
	kf_arena_release(&a);
	kf_doc_free(doc);
	kf_err_release(&e);
}

static void test_schema_errors(void **state)
{
	(void)state;
	struct kf_err e = KF_ERR_INIT;
	struct kf_arena a = { 0 };
	struct kf_doc *doc;
	decode("one: {nam: a, count: 11, mode: fats, size: 2Q, flag: maybe, mac: 52:54}\n"
	       "many:\n  - {count: 1}\n  - [1]\n  - {name: s, mode: slow, count: 6}\n"
	       "  - {name: t, size: 1M, bytes: 2M}\n"
	       "other: 1\n",
	       &doc, &a, &e);
	const char *want[] = {
		"t.yaml:1:7: unknown key \"nam\" in item (did you mean \"name\"?)",
		"t.yaml:1:22: count: 11 is out of range (0 to 10)",
		"t.yaml:1:32: mode: \"fats\" is not one of fast, slow (did you mean \"fast\"?)",
		"t.yaml:1:44: size: expected a size like 512M or 8G, got \"2Q\"",
		"t.yaml:1:54: flag: expected true or false, got \"maybe\"",
		"t.yaml:1:66: mac: expected a MAC address like 52:54:00:aa:00:01, got \"52:54\"",
		"t.yaml:1:6: item: missing required key \"name\"",
		"t.yaml:3:5: item: missing required key \"name\"",
		"t.yaml:4:5: item: expected a mapping, got a list",
		"t.yaml:5:34: item s: slow items take at most 5",
		"t.yaml:6:25: \"bytes\" given twice (also as \"size\")",
		"t.yaml:7:1: unknown key \"other\" in top",
	};
	assert_int_equal(e.n, KF_ARRAY_SIZE(want));
	for (size_t i = 0; i < KF_ARRAY_SIZE(want); i++)
		assert_string_equal(msg(&e, i), want[i]);
	kf_arena_release(&a);
	kf_doc_free(doc);
	kf_err_release(&e);
}

static void test_err_sorted_print(void **state)
{
	(void)state;
	struct kf_err e = KF_ERR_INIT;
	struct kf_mark m2 = { "b.yaml", 2, 1 }, m1 = { "b.yaml", 1, 5 }, m0 = { "a.yaml", 9, 9 };
	kf_errf(&e, &m2, "second");
	kf_errf(&e, &m1, "first");
	kf_errf(&e, &m0, "zeroth");
	kf_errf(&e, NULL, "no position");
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	kf_err_print(&e, f);
	fclose(f);
	assert_string_equal(out, "no position\na.yaml:9:9: zeroth\nb.yaml:1:5: first\nb.yaml:2:1: second\n");
	free(out);
	kf_err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marks),        cmocka_unit_test(test_alias_merge),
		cmocka_unit_test(test_big_maps),     cmocka_unit_test(test_big_map_linear),
		cmocka_unit_test(test_errors),       cmocka_unit_test(test_limits),
		cmocka_unit_test(test_schema_ok),    cmocka_unit_test(test_schema_errors),
		cmocka_unit_test(test_err_sorted_print),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
