/* The inventory's state section: which store keeps the provisioner's
 * state (SQLite in state_dir, the default, or PostgreSQL), and where the
 * PostgreSQL connection string is (a file readable by its owner only, so
 * that neither the DSN nor its password is ever in the inventory, on a
 * command line or in a log). */
#include "inventory.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define FLD(S, k, t, m, ...) { .key = k, .type = t, .off = offsetof(S, m), __VA_ARGS__ }

static const char *const backends[] = { "sqlite", "postgresql", NULL };

#define S struct kf_i_state
static const struct kf_field state_fields[] = {
	FLD(S, "backend", KF_T_ENUM, backend, .enumv = backends, .def = "sqlite",
	    .doc = "sqlite: STATE_DIR/state.db on this machine; postgresql: a database several "
		   "provisioners share (docs/state.md)"),
	FLD(S, "dsn_file", KF_T_STR, dsn_file,
	    .doc = "postgresql: file holding the libpq connection string (relative to the fleet "
		   "file; mode 0600 or stricter)"),
	{ .key = "dsn", .type = KF_T_STR, .flags = KF_F_REFUSED,
	  .doc = "an inline connection string is refused: put it in a file readable only by its "
		 "owner and give its path as dsn_file" },
	{ 0 }
};
#undef S
const struct kf_schema kf_state_section_schema = { .name = "state", .size = sizeof(struct kf_i_state),
					   .fields = state_fields };

void kf_inventory_check_state(struct kf_inventory *inv, struct kf_err *e)
{
	const struct kf_i_state *s = inv->state;
	if (!s)
		return;
	if (s->backend == KF_STATE_POSTGRESQL && !s->dsn_file)
		kf_errf(e, kf_mark_of(s, NULL), "state: backend postgresql needs dsn_file");
	else if (s->backend == KF_STATE_SQLITE && s->dsn_file)
		kf_errf(e, kf_mark_of(s, "dsn_file"), "state: dsn_file is for backend postgresql");
	else if (s->dsn_file)
		kf_inventory_check_secret(inv, s, "dsn_file", s->dsn_file, "state: dsn_file", e);
}

char *kf_inventory_state_location(const struct kf_inventory *inv)
{
	const struct kf_i_state *s = inv->state;
	if (!s || s->backend != KF_STATE_POSTGRESQL || !s->dsn_file)
		return NULL;
	char *path = kf_inventory_secret_path(inv, s->dsn_file);
	char *where = kf_xasprintf("postgresql:%s", path);
	free(path);
	return where;
}
