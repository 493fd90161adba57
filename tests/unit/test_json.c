/* Unit tests: the JSON adapter (lib/json.c): the three output styles and
 * reading one object. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_styles),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bounded_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
