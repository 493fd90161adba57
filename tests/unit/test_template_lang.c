/* Unit tests: the template language (kickstart/template.c): substitution,
 * conditionals, loops, includes, line trimming, escaping per context, and
 * every error with its FILE:LINE:COL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kickstart/template.h"
#include "util.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/kf-tpl-test.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = kf_xasprintf("rm -rf '%s'", dir);
	int r = system(cmd);
	free(cmd);
	return r;
}

static char *write_tpl(const char *name, const char *text)
{
	char *path = kf_xasprintf("%s/%s", dir, name);
	assert_int_equal(kf_write_atomic(path, text, strlen(text), 0644), 0);
	return path;
}

static struct kt_obj *values(struct kf_arena *a)
{
	struct kt_obj *root = kt_obj_new(a);
	struct kt_obj *h = kt_set_obj(a, root, "host");
	kt_set_str(a, h, "name", "kvm01");
	kt_set_str(a, h, "ip", "");
	kt_set_str(a, h, "pw", "$6$a'b c");
	kt_set_str(a, h, "evil", "x\nreboot");
	struct kt_val *nics = kt_set_list(a, h, "nics");
	const char *macs[] = { "52:54:00:aa:00:01", "52:54:00:aa:01:01" };
	for (int i = 0; i < 2; i++)
		kt_set_str(a, kt_list_add(a, nics), "mac", macs[i]);
	kt_set_list(a, h, "disks");
	struct kt_obj *v = kt_set_obj(a, root, "vars");
	kt_set_str(a, v, "raid", "false");
	kt_set_str(a, v, "mode", "fast");
	return root;
}

/* Renders text as template file name; returns output (malloc'd) or NULL
 * with the first error formatted into err. */
static char *render(const char *name, const char *text, enum kt_format fmt, char *err, size_t errlen)
{
	struct kf_arena a = { 0 };
	struct kt_cache c;
	kt_cache_init(&c, NULL, NULL);
	struct kf_err e = KF_ERR_INIT;
	struct kf_buf out = KF_BUF_INIT;
	char *path = write_tpl(name, text);
	struct kt_template *t = NULL;
	char *res = NULL;
	err[0] = 0;
	if (kt_load(&c, path, &t, &e) == 0 && kt_render(t, values(&a), fmt, "host kvm01", &out, &e) == 0)
		res = kf_buf_detach(&out);
	if (e.n) {
		char buf[1024];
		const char *f = kf_err_format(&e, 0, buf, sizeof(buf));
		/* drop the temp directory from every path in the message */
		size_t n = 0, dl = strlen(dir);
		for (const char *p = f; *p && n + 1 < errlen;) {
			if (!strncmp(p, dir, dl) && p[dl] == '/') {
				p += dl + 1;
				continue;
			}
			err[n++] = *p++;
		}
		err[n] = 0;
	}
	kf_buf_release(&out);
	kf_err_release(&e);
	kt_cache_release(&c);
	kf_arena_release(&a);
	free(path);
	return res;
}

#define EXPECT(name, text, fmt, want)                                     \
	do {                                                               \
		char err_[1024];                                           \
		char *got_ = render(name, text, fmt, err_, sizeof(err_)); \
		if (!got_)                                                 \
			fail_msg("unexpected error: %s", err_);            \
		assert_string_equal(got_, want);                           \
		free(got_);                                                \
	} while (0)

#define EXPECT_ERR(name, text, want)                                               \
	do {                                                                        \
		char err_[1024];                                                    \
		char *got_ = render(name, text, KT_FMT_PLAIN, err_, sizeof(err_)); \
		if (got_)                                                           \
			fail_msg("expected an error, got output \"%s\"", got_);     \
		assert_string_equal(err_, want);                                    \
	} while (0)

static void test_substitution(void **state)
{
	(void)state;
	EXPECT("a.txt", "host {{ host.name }} ok\n", KT_FMT_PLAIN, "host kvm01 ok\n");
	EXPECT("b.txt", "{{host.name}}{{ host.ip }}|", KT_FMT_PLAIN, "kvm01|");
	EXPECT("c.txt", "no tags at all\n", KT_FMT_PLAIN, "no tags at all\n");
	EXPECT("d.txt", "a {# a comment #}b\n", KT_FMT_PLAIN, "a b\n");
}

static void test_conditionals(void **state)
{
	(void)state;
	EXPECT("a.txt", "{% if host.name %}yes{% else %}no{% endif %}\n", KT_FMT_PLAIN, "yes\n");
	EXPECT("b.txt", "{% if host.ip %}yes{% else %}no{% endif %}\n", KT_FMT_PLAIN, "no\n");
	EXPECT("c.txt", "{% if vars.raid %}raid{% elif vars.mode == \"fast\" %}fast{% endif %}\n",
	       KT_FMT_PLAIN, "fast\n");
	EXPECT("d.txt", "{% if not vars.raid %}plain{% endif %}", KT_FMT_PLAIN, "plain");
	EXPECT("e.txt", "{% if vars.mode != 'slow' %}ne{% endif %}", KT_FMT_PLAIN, "ne");
	EXPECT("f.txt", "{% if defined vars.nope %}x{% else %}undef{% endif %}", KT_FMT_PLAIN, "undef");
	EXPECT("g.txt", "{% if not defined vars.nope %}ok{% endif %}", KT_FMT_PLAIN, "ok");
	EXPECT("h.txt", "{% if host.disks %}d{% else %}none{% endif %}", KT_FMT_PLAIN, "none");
}

static void test_loops_and_trimming(void **state)
{
	(void)state;
	EXPECT("a.txt",
	       "start\n"
	       "{% for nic in host.nics %}\n"
	       "  nic {{ loop.index }} {{ nic.mac }}{% if loop.last %} last{% endif %}\n"
	       "{% endfor %}\n"
	       "end\n",
	       KT_FMT_PLAIN,
	       "start\n  nic 1 52:54:00:aa:00:01\n  nic 2 52:54:00:aa:01:01 last\nend\n");
	EXPECT("b.txt", "{% for d in host.disks %}x{% endfor %}empty\n", KT_FMT_PLAIN, "empty\n");
	/* a tag with text beside it keeps its line */
	EXPECT("c.txt", "a {% if host.name %}b{% endif %}\nc\n", KT_FMT_PLAIN, "a b\nc\n");
	/* indentation of a tag alone on its line goes with it */
	EXPECT("d.txt", "x\n    {% if host.name %}\ny\n    {% endif %}\nz\n", KT_FMT_PLAIN, "x\ny\nz\n");
}

static void test_includes(void **state)
{
	(void)state;
	free(write_tpl("snip.inc", "[{{ host.name }}]\n"));
	EXPECT("main.txt", "a\n{% include \"snip.inc\" %}\nb\n", KT_FMT_PLAIN, "a\n[kvm01]\nb\n");
	free(write_tpl("loop1.inc", "{% include \"loop2.inc\" %}"));
	free(write_tpl("loop2.inc", "{% include \"loop1.inc\" %}"));
	char err[1024];
	char *got = render("cyc.txt", "{% include \"loop1.inc\" %}", KT_FMT_PLAIN, err, sizeof(err));
	assert_null(got);
	assert_string_equal(err, "loop2.inc:1:12: include cycle: loop1.inc includes itself");
	EXPECT_ERR("miss.txt", "\n  {% include \"nope.inc\" %}",
		   "miss.txt:2:14: template nope.inc: No such file or directory");
}

static void test_escaping(void **state)
{
	(void)state;
	/* kickstart commands: quoted with "" when needed */
	EXPECT("a.ks", "rootpw --iscrypted {{ host.pw }}\n", KT_FMT_KICKSTART,
	       "rootpw --iscrypted \"$6$a'b c\"\n");
	EXPECT("b.ks", "network --hostname={{ host.name }}\n", KT_FMT_KICKSTART,
	       "network --hostname=kvm01\n");
	/* %post is shell: single quotes */
	EXPECT("c.ks", "%post\necho {{ host.pw }}\n%end\nrootpw {{ host.pw }}\n", KT_FMT_KICKSTART,
	       "%post\necho '$6$a'\\''b c'\n%end\nrootpw \"$6$a'b c\"\n");
	/* the header line itself is not yet shell */
	EXPECT("d.ks", "%post --log={{ host.name }}\n%end\n", KT_FMT_KICKSTART, "%post --log=kvm01\n%end\n");
	/* explicit filters win */
	EXPECT("e.ks", "{{ host.pw | shell }} {{ host.pw | raw }} {{ host.pw | url }}\n", KT_FMT_KICKSTART,
	       "'$6$a'\\''b c' $6$a'b c %246%24a%27b%20c\n");
	/* preseed and plain: as is */
	EXPECT("f.preseed", "d-i x string {{ host.pw }}\n", KT_FMT_PRESEED, "d-i x string $6$a'b c\n");
	/* a newline would inject a command: refused everywhere, even raw */
	EXPECT_ERR("g.txt", "x {{ host.evil | raw }}",
		   "g.txt:1:6: value of \"host.evil\" holds a control character (newline?) host kvm01");
}

static void test_errors_have_positions(void **state)
{
	(void)state;
	EXPECT_ERR("u1.txt", "line one\n  {{ host.nmae }}\n",
		   "u1.txt:2:6: undefined variable \"host.nmae\" (host kvm01)");
	EXPECT_ERR("u2.txt", "{% if vars.nope %}x{% endif %}",
		   "u2.txt:1:7: undefined variable \"vars.nope\" (host kvm01)");
	EXPECT_ERR("u3.txt", "{% for x in host.nope %}{% endfor %}",
		   "u3.txt:1:13: undefined variable \"host.nope\" (host kvm01)");
	EXPECT_ERR("u4.txt", "{% for n in host.nics %}{{ n.ip }}{% endfor %}",
		   "u4.txt:1:28: undefined variable \"n.ip\" (host kvm01)");
	EXPECT_ERR("t1.txt", "{{ host.nics }}", "t1.txt:1:4: \"host.nics\" is a list, not a value host kvm01");
	EXPECT_ERR("t2.txt", "{% for x in host.name %}{% endfor %}",
		   "t2.txt:1:13: \"host.name\" is not a list host kvm01");
	EXPECT_ERR("s1.txt", "a\n{% if host.name %}\nb\n", "s1.txt:2:4: \"if\" is not closed (no \"{% endif %}\")");
	EXPECT_ERR("s2.txt", "{% endif %}", "s2.txt:1:4: \"endif\" without a matching opening tag");
	EXPECT_ERR("s3.txt", "x {{ host.name ", "s3.txt:1:3: unclosed \"{{\" (no \"}}\")");
	EXPECT_ERR("s4.txt", "{% while x %}", "s4.txt:1:4: unknown statement \"while\" (known: if, elif, "
						   "else, endif, for, endfor, include)");
	EXPECT_ERR("s5.txt", "{{ host.name | upper }}", "s5.txt:1:16: unknown filter \"upper\" (known: raw, shell, ks, url)");
	EXPECT_ERR("s6.txt", "{{ }}", "s6.txt:1:1: empty tag");
	EXPECT_ERR("s7.txt", "{% if x == y %}{% endif %}", "s7.txt:1:12: expected a quoted string after ==");
	EXPECT_ERR("s8.txt", "{% for in host.nics %}{% endfor %}",
		   "s8.txt:1:8: expected a loop variable name after \"for\"");
	EXPECT_ERR("s9.txt", "{{ 9lives }}", "s9.txt:1:4: expected a variable name in \"{{ 9lives }}\"");
}

static void test_all_errors_reported(void **state)
{
	(void)state;
	struct kf_arena a = { 0 };
	struct kt_cache c;
	kt_cache_init(&c, NULL, NULL);
	struct kf_err e = KF_ERR_INIT;
	struct kf_buf out = KF_BUF_INIT;
	char *path = write_tpl("many.txt", "{{ a }} {{ b }}\n{{ host.name }} {{ c.d }}\n");
	struct kt_template *t;
	assert_int_equal(kt_load(&c, path, &t, &e), 0);
	assert_int_equal(kt_render(t, values(&a), KT_FMT_PLAIN, NULL, &out, &e), -EINVAL);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.v[2].line, 2);
	assert_int_equal(e.v[2].col, 20);
	assert_string_equal(e.v[2].text, "undefined variable \"c.d\"");
	kf_buf_release(&out);
	kf_err_release(&e);
	kt_cache_release(&c);
	kf_arena_release(&a);
	free(path);
}

static void test_digest_follows_includes(void **state)
{
	(void)state;
	char d1[65], d2[65], d3[65];
	char *inc = write_tpl("dg.inc", "one\n");
	char *main_ = write_tpl("dg.txt", "{% include \"dg.inc\" %}");
	for (int round = 0; round < 3; round++) {
		if (round == 1)
			free(write_tpl("dg.inc", "two\n"));
		struct kt_cache c;
		kt_cache_init(&c, NULL, NULL);
		struct kt_template *t;
		assert_int_equal(kt_load(&c, main_, &t, NULL), 0);
		strcpy(round == 0 ? d1 : round == 1 ? d2 : d3, kt_digest(t));
		kt_cache_release(&c);
	}
	assert_string_not_equal(d1, d2); /* an include changed: the includer's digest too */
	assert_string_equal(d2, d3);     /* stable */
	assert_int_equal(strlen(d1), 64);
	free(inc);
	free(main_);
}

static void test_escapers(void **state)
{
	(void)state;
	struct kf_buf b = KF_BUF_INIT;
	assert_int_equal(kt_esc_shell(&b, "plain-word_1.2:3/4"), 0);
	assert_string_equal(b.s, "plain-word_1.2:3/4");
	b.len = 0;
	assert_int_equal(kt_esc_shell(&b, ""), 0);
	assert_string_equal(b.s, "''");
	b.len = 0;
	assert_int_equal(kt_esc_shell(&b, "$(rm -rf /)"), 0);
	assert_string_equal(b.s, "'$(rm -rf /)'");
	b.len = 0;
	assert_int_equal(kt_esc_ks(&b, "a \"b\" \\c #d"), 0);
	assert_string_equal(b.s, "\"a \\\"b\\\" \\\\c #d\"");
	b.len = 0;
	assert_int_equal(kt_esc_url(&b, "a b/c?d=é"), 0);
	assert_string_equal(b.s, "a%20b%2Fc%3Fd%3D%C3%A9");
	b.len = 0;
	assert_int_equal(kt_esc_shell(&b, "a\tb"), -EINVAL);
	assert_int_equal(kt_esc_ks(&b, "a\rb"), -EINVAL);
	assert_int_equal(kt_esc_url(&b, "\x7f"), -EINVAL);
	kf_buf_release(&b);
	assert_int_equal(kt_format_of("x/kvm-host.ks"), KT_FMT_KICKSTART);
	assert_int_equal(kt_format_of("debian.preseed"), KT_FMT_PRESEED);
	assert_int_equal(kt_format_of("README"), KT_FMT_PLAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_substitution),
		cmocka_unit_test(test_conditionals),
		cmocka_unit_test(test_loops_and_trimming),
		cmocka_unit_test(test_includes),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_errors_have_positions),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_digest_follows_includes),
		cmocka_unit_test(test_escapers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
