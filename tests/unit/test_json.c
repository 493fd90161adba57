/* Unit tests: the JSON adapter (lib/json.c): the three output styles and
 * reading one object, the streaming writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static struct kf_json *row(const char *name, int64_t n)
{
	struct kf_json *o = kf_json_object();
	kf_json_set(o, "name", kf_json_str(name));
	kf_json_set(o, "n", kf_json_int(n));
	kf_json_set(o, "none", kf_json_str(NULL));
	return o;
}

static void test_styles(void **st)
{
	(void)st;
	struct kf_json *a = kf_json_array();
	char *s = kf_json_dump(a, KF_JSON_ROWS);
	assert_string_equal(s, "[]");
	free(s);
	kf_json_push(a, row("a/b", 1));
	kf_json_push(a, row("c\"d\n", -2));
	s = kf_json_dump(a, KF_JSON_ROWS);
	assert_string_equal(s, "[\n { \"name\": \"a/b\", \"n\": 1, \"none\": null },\n"
			       " { \"name\": \"c\\\"d\\n\", \"n\": -2, \"none\": null }\n]");
	free(s);
	s = kf_json_dump(a, KF_JSON_PLAIN);
	assert_string_equal(s, "[{\"name\":\"a/b\",\"n\":1,\"none\":null},{\"name\":\"c\\\"d\\n\",\"n\":-2,\"none\":null}]");
	free(s);
	kf_json_free(a);
	struct kf_json *o = kf_json_object();
	kf_json_set(o, "ok", kf_json_bool(true));
	s = kf_json_dump(o, KF_JSON_PRETTY);
	assert_string_equal(s, "{\n  \"ok\":true\n}");
	free(s);
	kf_json_free(o);
}

static void test_parse(void **st)
{
	(void)st;
	struct kf_err e = KF_ERR_INIT;
	struct kf_json *o = NULL;
	const char *t = " {\"a\": 3, \"b\": true, \"s\": \"x\", \"o\": {\"k\": 1}}\n";
	assert_int_equal(kf_json_parse_object(t, strlen(t), &o, &e), 0);
	assert_int_equal(kf_json_get_int(o, "a", -1), 3);
	assert_int_equal(kf_json_get_int(o, "b", -1), 1);
	assert_int_equal(kf_json_get_int(o, "s", -1), -1);
	assert_string_equal(kf_json_get_str(o, "s"), "x");
	assert_null(kf_json_get_str(o, "a"));
	assert_int_equal(kf_json_get_int(kf_json_get_object(o, "o"), "k", 0), 1);
	assert_null(kf_json_get_object(o, "a"));
	assert_true(kf_json_has(o, "b"));
	assert_false(kf_json_has(o, "z"));
	assert_int_equal(kf_json_get_int(NULL, "a", 7), 7);
	kf_json_free(o);

	assert_int_equal(kf_json_parse_object(" \n", 2, &o, &e), 0);
	assert_null(o);
	const char *bad[] = { "[1]", "{\"a\":1} x", "{\"a\":", "\"s\"" };
	const char *why[] = { "bad JSON: expected an object", "bad JSON: trailing data at byte 8", "bad JSON: ",
			      "bad JSON: expected an object" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kf_json_parse_object(bad[i], strlen(bad[i]), &o, &e), -EINVAL);
		assert_null(o);
		assert_int_equal(e.n, 1);
		assert_non_null(strstr(e.v[0].text, why[i]));
		kf_err_release(&e);
	}
	char deep[90] = "{\"a\":"; /* 40 deep: more than the 32 allowed */
	memset(deep + 5, '[', 40);
	memset(deep + 45, ']', 40);
	strcpy(deep + 85, "}");
	assert_int_equal(kf_json_parse_object(deep, strlen(deep), &o, &e), -EINVAL);
	assert_non_null(strstr(e.v[0].text, "too deep"));
	kf_err_release(&e);
	assert_int_equal(kf_json_parse_object("{}\0", 3, &o, &e), -EINVAL);
	assert_string_equal(e.v[0].text, "body holds a NUL byte");
	kf_err_release(&e);
}

/* A whole document that stops early (a body cut short) is an error with a
 * message, never the "still to come" of kf_json_parse_part (fuzz_http:
 * a facts post of "{" reached kf_err_format with no message); that
 * function says so for a message that is not there. */
static void test_bounded_truncated(void **st)
{
	(void)st;
	struct kf_json *o = NULL;
	struct kf_err e = KF_ERR_INIT;
	assert_true(kf_json_parse_object_bounded("{", 1, 8, &o, &e) < 0);
	assert_null(o);
	char buf[128];
	assert_int_equal(strncmp(kf_err_format(&e, 0, buf, sizeof(buf)), "bad JSON: ", 10), 0);
	kf_err_release(&e);
	assert_int_equal(kf_json_parse_part("{", 1, &o, &e), -EAGAIN);
	assert_int_equal(e.n, 0);
	assert_string_equal(kf_err_format(&e, 0, buf, sizeof(buf)), "unknown error");
}

/* The writer's strings are escaped as json-c escapes them: every byte
 * from 1 to 255, and the controls, quote and backslash one by one. */
static void test_writer_escaping(void **st)
{
	(void)st;
	char all[256];
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = 0;
	const char *cases[] = { all, "", "plain", "a\"b", "back\\slash", "tab\tnl\ncr\r", "\x01\x1f\x7f",
				"\b\f", "a/b</script>", "caf\xc3\xa9" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct kf_json *v = kf_json_array();
		kf_json_push(v, kf_json_str(cases[i]));
		char *want = kf_json_dump(v, KF_JSON_PLAIN);
		kf_json_free(v);
		struct kf_buf b = KF_BUF_INIT;
		struct kf_jw w;
		kf_jw_init(&w, &b);
		kf_jw_array(&w);
		kf_jw_str(&w, cases[i]);
		kf_jw_end(&w);
		assert_string_equal(b.s, want);
		free(want);
		kf_buf_release(&b);
	}
	struct kf_buf b = KF_BUF_INIT;
	kf_json_quote(&b, "q\"\\\n\x02");
	assert_string_equal(b.s, "\"q\\\"\\\\\\n\\u0002\"");
	kf_buf_release(&b);
}

/* Commas, nesting, every kind of value; what it writes parses back. */
static void test_writer_document(void **st)
{
	(void)st;
	struct kf_buf b = KF_BUF_INIT, inner = KF_BUF_INIT;
	struct kf_jw w, wi;
	kf_jw_init(&wi, &inner);
	kf_jw_array(&wi);
	kf_jw_int(&wi, 1);
	kf_jw_int(&wi, 2);
	kf_jw_end(&wi);
	kf_jw_init(&w, &b);
	kf_jw_object(&w);
	kf_jw_key(&w, "min");
	kf_jw_int(&w, INT64_MIN);
	kf_jw_key(&w, "max");
	kf_jw_int(&w, INT64_MAX);
	kf_jw_key(&w, "zero");
	kf_jw_int(&w, 0);
	kf_jw_key(&w, "a");
	kf_jw_array(&w);
	kf_jw_array(&w);
	kf_jw_end(&w);
	kf_jw_object(&w);
	kf_jw_end(&w);
	kf_jw_bool(&w, true);
	kf_jw_bool(&w, false);
	kf_jw_null(&w);
	kf_jw_str(&w, NULL);
	kf_jw_end(&w);
	kf_jw_key(&w, "raw");
	kf_jw_raw(&w, inner.s, inner.len);
	struct kf_json *v = row("x", 7);
	kf_jw_key(&w, "built");
	kf_jw_value(&w, v);
	kf_jw_key(&w, "none");
	kf_jw_value(&w, NULL);
	kf_jw_end(&w);
	kf_json_free(v);
	assert_string_equal(b.s, "{\"min\":-9223372036854775808,\"max\":9223372036854775807,\"zero\":0,"
				 "\"a\":[[],{},true,false,null,null],\"raw\":[1,2],"
				 "\"built\":{\"name\":\"x\",\"n\":7,\"none\":null},\"none\":null}");
	struct kf_err e = KF_ERR_INIT;
	struct kf_json *o = NULL;
	assert_int_equal(kf_json_parse_object(b.s, b.len, &o, &e), 0);
	assert_int_equal(kf_json_get_int(kf_json_get_object(o, "built"), "n", 0), 7);
	kf_json_free(o);
	kf_buf_release(&b);
	kf_buf_release(&inner);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_styles),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bounded_truncated),
		cmocka_unit_test(test_writer_escaping),
		cmocka_unit_test(test_writer_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
