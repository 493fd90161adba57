/* Unit tests: the state store's schema list (provision/state_schema.c)
 * carries every step for both engines, so neither can fall behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "provision/state_backend.h"

static void test_every_step_has_both_engines(void **state)
{
	(void)state;
	assert_true(kf_state_nmigrations >= 2);
	for (size_t i = 0; i < kf_state_nmigrations; i++) {
		const struct kf_migration *m = &kf_state_migrations[i];
		assert_non_null(m->what);
		assert_non_null(m->sqlite);
		assert_non_null(m->postgresql);
		assert_true(strlen(m->sqlite) > 10);
		assert_true(strlen(m->postgresql) > 10);
		/* the engine-only words stay on their side */
		assert_null(strstr(m->postgresql, "WITHOUT ROWID"));
		assert_null(strstr(m->postgresql, "AUTOINCREMENT"));
		assert_null(strstr(m->sqlite, "BIGSERIAL"));
		assert_null(strstr(m->sqlite, "COLLATE \"C\""));
	}
}

/* Each table a step creates is one export and import carry. */
static void test_tables_are_exported(void **state)
{
	(void)state;
	for (size_t i = 0; i < kf_state_nmigrations; i++) {
		const char *p = kf_state_migrations[i].sqlite;
		while ((p = strstr(p, "CREATE TABLE "))) {
			p += strlen("CREATE TABLE ");
			if (!strncmp(p, "IF NOT EXISTS ", 14))
				p += 14;
			size_t n = strcspn(p, " (");
			bool found = false;
			for (size_t t = 0; t < kf_state_ntables; t++)
				found |= strlen(kf_state_tables[t].name) == n &&
					 !strncmp(kf_state_tables[t].name, p, n);
			if (!found)
				fail_msg("table %.*s of step %zu is not in kf_state_tables", (int)n, p, i + 1);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_step_has_both_engines),
		cmocka_unit_test(test_tables_are_exported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
