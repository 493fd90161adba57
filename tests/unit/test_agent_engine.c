/* Unit tests of the agent's engine with fake resources: exit codes,
 * pending changes, a failing change that does not stop the others, the
 * verify pass after apply, --only/--skip, profile errors (exit 1, nothing
 * applied; a resource's parse that fails, too), and the text and JSON
 * output (agent/report.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/engine.h"
#include "agent/report.h"
#include "util.h"

static char root[64];
static char profile[128];

/* fake host state: value the fake resource "sees", and what apply does */
static int state_a, state_b;
static int applied;
static bool sticky; /* apply of "a" reports success but changes nothing */
static int parse_fails;       /* fb's parse returns this */
static const char *parse_msg; /* and adds this profile error first */

static void put(const char *rel, const char *text)
{
	char *p = kf_xasprintf("%s%s", root, rel);
	char *dir = kf_xstrdup(p);
	*strrchr(dir, '/') = 0;
	assert_int_equal(kf_mkdir_p(dir, 0755), 0);
	assert_int_equal(kf_write_atomic(p, text, strlen(text), 0644), 0);
	free(dir);
	free(p);
}

static int setup(void **st)
{
	(void)st;
	strcpy(root, "/tmp/kf-engine.XXXXXX");
	assert_non_null(mkdtemp(root));
	put("/sys/devices/system/cpu/present", "0-1\n");
	put("/sys/devices/system/cpu/online", "0-1\n");
	put("/proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\n");
	snprintf(profile, sizeof(profile), "%s/profile.yaml", root);
	put("/profile.yaml", "role: test\nmemory:\n  numa_balancing: true\ncpu:\n  online: 0-1\n");
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	char *cmd = kf_xasprintf("rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	kf_sysroot_set(NULL);
	return 0;
}

/* resource "fa" (memory): wants a=1 and b=1; b can only change at reboot */
static int fa_parse(struct kf_ctx *ctx, void **d)
{
	*d = ctx->profile->memory ? (void *)1 : NULL;
	return 0;
}
static int fa_probe(struct kf_ctx *ctx, const void *d, void **a)
{
	(void)ctx, (void)d;
	*a = NULL;
	return 0;
}
static int fa_diff(struct kf_ctx *ctx, const void *d, const void *a, struct kf_plan *plan)
{
	(void)ctx, (void)d, (void)a;
	if (state_a != 1)
		kf_plan_add(plan, "fa", state_a ? "1" : "0", "1", "a");
	if (state_b != 1) {
		struct kf_change *ch = kf_plan_add(plan, "fa", "0", "1", "b");
		ch->flags |= KF_CH_PENDING;
		ch->reason = kf_xstrdup("needs reboot");
	}
	return 0;
}
static int fa_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	(void)ctx;
	applied++;
	assert_string_equal(ch->what, "a"); /* pending changes are never applied */
	if (!sticky)
		state_a = 1;
	return 0;
}

/* resource "fb" (cpu): one change whose apply fails */
static int fb_parse(struct kf_ctx *ctx, void **d)
{
	*d = ctx->profile->cpu ? (void *)1 : NULL;
	if (parse_msg)
		kf_errf(ctx->err, NULL, "%s", parse_msg);
	return parse_fails;
}
static int fb_diff(struct kf_ctx *ctx, const void *d, const void *a, struct kf_plan *plan)
{
	(void)ctx, (void)d, (void)a;
	kf_plan_add(plan, "fb", "x", "y", "thing %d", 7);
	return 0;
}
static int fb_apply(struct kf_ctx *ctx, struct kf_change *ch)
{
	(void)ctx;
	applied++;
	ch->reason = kf_xstrdup("kernel said no");
	return -5;
}

static const struct kf_resource fa = { "fa", "memory", fa_parse, fa_probe, fa_diff, fa_apply, NULL, NULL };
static const struct kf_resource fb = { "fb", "cpu", fb_parse, fa_probe, fb_diff, fb_apply, NULL, NULL };
static const struct kf_resource *const table[] = { &fa, &fb };

static int run(enum kf_run_mode mode, const char *only, const char *skip, bool json, char **out)
{
	size_t len;
	FILE *f = open_memstream(out, &len);
	struct kf_engine_opts o = { .mode = mode, .profile = profile, .root = root, .only = only,
				    .skip = skip };
	struct kf_run r;
	struct kf_err e = KF_ERR_INIT;
	int rc = 1;
	if (kf_engine_run(&o, table, 2, &r, &e) < 0) {
		assert_true(e.n > 0); /* stopped: always says why */
		kf_err_print(&e, stderr);
	} else {
		kf_run_print(&r, json, f);
		rc = r.exit_code;
	}
	kf_run_release(&r);
	kf_err_release(&e);
	fclose(f);
	return rc;
}

static void reset(void)
{
	state_a = state_b = 0;
	applied = 0;
	sticky = false;
	parse_fails = 0;
	parse_msg = NULL;
}

static void test_plan_touches_nothing(void **st)
{
	(void)st;
	reset();
	char *out = NULL;
	assert_int_equal(run(KF_RUN_PLAN, NULL, NULL, false, &out), 2);
	assert_int_equal(applied, 0);
	assert_non_null(strstr(out, "fa  a        0 → 1  planned\n"));
	assert_non_null(strstr(out, "fa  b        0 → 1  pending\n    needs reboot\n"));
	assert_non_null(strstr(out, "plan: 2 to change, 1 pending, 0 errors\n"));
	free(out);
}

static void test_apply_failure_does_not_stop_others(void **st)
{
	(void)st;
	reset();
	char *out = NULL;
	/* a applied (2), thing 7 failed (4) */
	assert_int_equal(run(KF_RUN_APPLY, NULL, NULL, false, &out), 6);
	assert_int_equal(applied, 2);
	assert_int_equal(state_a, 1);
	assert_non_null(strstr(out, "fb  thing 7  x → y  failed\n    kernel said no\n"));
	assert_non_null(strstr(out, "apply: 1 applied, 1 failed, 0 skipped, 1 pending, 0 errors\n"));
	free(out);
}

static void test_only_skip(void **st)
{
	(void)st;
	reset();
	char *out = NULL;
	assert_int_equal(run(KF_RUN_APPLY, "memory", NULL, false, &out), 2);
	assert_null(strstr(out, "fb"));
	free(out);
	reset();
	state_a = 1;
	/* only the pending change is left: nothing to do */
	assert_int_equal(run(KF_RUN_CHECK, NULL, "cpu", false, &out), 0);
	assert_non_null(strstr(out, "pending"));
	free(out);
	assert_int_equal(run(KF_RUN_CHECK, "memory,kvmm", NULL, false, &out), 1);
	free(out);
}

static void test_verify_after_apply(void **st)
{
	(void)st;
	reset();
	sticky = true;
	char *out = NULL;
	assert_int_equal(run(KF_RUN_APPLY, "memory", NULL, false, &out), 6);
	assert_non_null(strstr(out, "error: fa: after apply, a is still 0 (wanted 1)\n"));
	free(out);
}

static void test_json(void **st)
{
	(void)st;
	reset();
	char *out = NULL;
	assert_int_equal(run(KF_RUN_PLAN, NULL, NULL, true, &out), 2);
	assert_non_null(strstr(out, "\"command\":\"plan\""));
	assert_non_null(strstr(out, "\"role\":\"test\""));
	assert_non_null(strstr(out, "{\"resource\":\"fa\",\"what\":\"b\",\"from\":\"0\",\"to\":\"1\",\"status\":\"pending\",\"flags\":[\"pending\"],\"reason\":\"needs reboot\"}"));
	assert_non_null(strstr(out, "\"exit_code\":2"));
	assert_int_equal(strchr(out, '\n') - out, (long)strlen(out) - 1); /* one document, one line */
	free(out);
}

static void test_profile_error_exits_1(void **st)
{
	(void)st;
	reset();
	put("/bad.yaml", "memory:\n  numa_balancing: perhaps\n");
	char bad[128];
	snprintf(bad, sizeof(bad), "%s/bad.yaml", root);
	struct kf_engine_opts o = { .mode = KF_RUN_APPLY, .profile = bad, .root = root };
	struct kf_run r;
	struct kf_err e = KF_ERR_INIT;
	assert_int_equal(kf_engine_run(&o, table, 2, &r, &e), -EINVAL);
	assert_int_equal(applied, 0);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0].text, "numa_balancing"));
	assert_int_equal(r.plan.n, 0);
	kf_run_release(&r);
	kf_err_release(&e);
}

/* A parse that fails stops the run before anything is probed or applied,
 * with its own message or, when it left none, one naming the resource. */
static void test_parse_failure_exits_1(void **st)
{
	(void)st;
	struct kf_engine_opts o = { .mode = KF_RUN_APPLY, .profile = profile, .root = root };
	for (int quiet = 0; quiet < 2; quiet++) {
		reset();
		parse_fails = quiet ? -ENOMEM : -EINVAL;
		parse_msg = quiet ? NULL : "cpu: bad online list";
		struct kf_run r;
		struct kf_err e = KF_ERR_INIT;
		assert_int_equal(kf_engine_run(&o, table, 2, &r, &e), parse_fails);
		assert_int_equal(applied, 0);
		assert_int_equal(r.plan.n, 0);
		assert_int_equal(e.n, 1);
		assert_string_equal(e.v[0].text, quiet ? "fb: cannot read the profile: Cannot allocate memory"
						       : "cpu: bad online list");
		kf_run_release(&r);
		kf_err_release(&e);
	}
	reset();
	char *out = NULL;
	parse_fails = -EIO;
	assert_int_equal(run(KF_RUN_PLAN, NULL, NULL, false, &out), 1);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(run(KF_RUN_PLAN, "memory", NULL, false, &out), 2); /* fb not selected */
	free(out);
}

static void test_exit_codes(void **st)
{
	(void)st;
	struct kf_run r = { .mode = KF_RUN_CHECK };
	kf_run_finish(&r);
	assert_int_equal(r.exit_code, 0);
	struct kf_change *ch = kf_plan_add(&r.plan, "x", NULL, "1", "y");
	kf_run_finish(&r);
	assert_int_equal(r.exit_code, 2);
	kf_run_add_failure(&r, "x", "broken");
	kf_run_finish(&r);
	assert_int_equal(r.exit_code, 6);
	r.mode = KF_RUN_APPLY; /* a planned change that apply did not make is not a change */
	kf_run_finish(&r);
	assert_int_equal(r.exit_code, 4);
	ch->status = KF_ST_APPLIED;
	kf_run_finish(&r);
	assert_int_equal(r.exit_code, 6);
	kf_run_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_touches_nothing),
		cmocka_unit_test(test_apply_failure_does_not_stop_others),
		cmocka_unit_test(test_only_skip),
		cmocka_unit_test(test_verify_after_apply),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_profile_error_exits_1),
		cmocka_unit_test(test_parse_failure_exits_1),
		cmocka_unit_test(test_exit_codes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
