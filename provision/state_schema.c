/* The state store's schema, one list for every backend: each migration
 * step carries its SQLite and its PostgreSQL text side by side, so a step
 * cannot be added to one engine only (tests/unit/test_state_schema.c
 * fails when a step lacks either text, and compares the columns the two
 * engines end up with).  A store that has run N steps is at version N
 * (SQLite: PRAGMA user_version, PostgreSQL: the kf_schema table).
 *
 * A new column or table is one more step at the end; a step that has
 * landed is never edited nor renumbered.  A new table is also one more
 * row of kf_state_tables (what export and import carry).  Types: SQLite
 * INTEGER is PostgreSQL BIGINT (int64_t in the rows), TEXT keys are
 * COLLATE "C" in PostgreSQL so both engines sort names alike. */
#include "provision/state_backend.h"

#include "util.h"

const struct kf_migration kf_state_migrations[] = {
	{ "hosts, their MACs, the events log",
	  "CREATE TABLE IF NOT EXISTS hosts ("
	  " name TEXT PRIMARY KEY,"
	  " kind TEXT NOT NULL DEFAULT 'host',"
	  " macs TEXT NOT NULL DEFAULT '',"
	  " role TEXT NOT NULL DEFAULT '',"
	  " state TEXT NOT NULL DEFAULT 'new',"
	  " state_since INTEGER NOT NULL DEFAULT 0,"
	  " created INTEGER NOT NULL DEFAULT 0,"
	  " netboot INTEGER NOT NULL DEFAULT 1,"
	  " token TEXT NOT NULL DEFAULT '',"
	  " token_gen INTEGER NOT NULL DEFAULT 0,"
	  " token_issued INTEGER NOT NULL DEFAULT 0,"
	  " digest TEXT NOT NULL DEFAULT '',"
	  " report TEXT,"
	  " report_time INTEGER NOT NULL DEFAULT 0,"
	  " drift_count INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	  "CREATE TABLE IF NOT EXISTS host_macs ("
	  " mac TEXT PRIMARY KEY,"
	  " name TEXT NOT NULL) WITHOUT ROWID;"
	  "CREATE INDEX IF NOT EXISTS host_macs_name ON host_macs (name);"
	  "CREATE TABLE IF NOT EXISTS events ("
	  " id INTEGER PRIMARY KEY AUTOINCREMENT,"
	  " time INTEGER NOT NULL,"
	  " host TEXT NOT NULL,"
	  " what TEXT NOT NULL,"
	  " detail TEXT);"
	  "CREATE INDEX IF NOT EXISTS events_host ON events (host, id);",
	  "CREATE TABLE hosts ("
	  " name TEXT COLLATE \"C\" PRIMARY KEY,"
	  " kind TEXT NOT NULL DEFAULT 'host',"
	  " macs TEXT NOT NULL DEFAULT '',"
	  " role TEXT NOT NULL DEFAULT '',"
	  " state TEXT NOT NULL DEFAULT 'new',"
	  " state_since BIGINT NOT NULL DEFAULT 0,"
	  " created BIGINT NOT NULL DEFAULT 0,"
	  " netboot INTEGER NOT NULL DEFAULT 1,"
	  " token TEXT NOT NULL DEFAULT '',"
	  " token_gen BIGINT NOT NULL DEFAULT 0,"
	  " token_issued BIGINT NOT NULL DEFAULT 0,"
	  " digest TEXT NOT NULL DEFAULT '',"
	  " report TEXT,"
	  " report_time BIGINT NOT NULL DEFAULT 0,"
	  " drift_count BIGINT NOT NULL DEFAULT 0);"
	  "CREATE TABLE host_macs ("
	  " mac TEXT COLLATE \"C\" PRIMARY KEY,"
	  " name TEXT COLLATE \"C\" NOT NULL);"
	  "CREATE INDEX host_macs_name ON host_macs (name);"
	  "CREATE TABLE events ("
	  " id BIGSERIAL PRIMARY KEY,"
	  " time BIGINT NOT NULL,"
	  " host TEXT COLLATE \"C\" NOT NULL,"
	  " what TEXT NOT NULL,"
	  " detail TEXT);"
	  "CREATE INDEX events_host ON events (host, id);" },
	{ "the latest facts per host, machines found by discovery",
	  "CREATE TABLE facts ("
	  " name TEXT PRIMARY KEY,"
	  " json TEXT NOT NULL,"
	  " summary TEXT NOT NULL DEFAULT '',"
	  " time INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	  "CREATE TABLE discovered ("
	  " mac TEXT PRIMARY KEY,"
	  " json TEXT NOT NULL,"
	  " peer TEXT NOT NULL DEFAULT '',"
	  " first_seen INTEGER NOT NULL DEFAULT 0,"
	  " last_seen INTEGER NOT NULL DEFAULT 0,"
	  " count INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
	  "CREATE TABLE facts ("
	  " name TEXT COLLATE \"C\" PRIMARY KEY,"
	  " json TEXT NOT NULL,"
	  " summary TEXT NOT NULL DEFAULT '',"
	  " time BIGINT NOT NULL DEFAULT 0);"
	  "CREATE TABLE discovered ("
	  " mac TEXT COLLATE \"C\" PRIMARY KEY,"
	  " json TEXT NOT NULL,"
	  " peer TEXT NOT NULL DEFAULT '',"
	  " first_seen BIGINT NOT NULL DEFAULT 0,"
	  " last_seen BIGINT NOT NULL DEFAULT 0,"
	  " count BIGINT NOT NULL DEFAULT 0);" },
	{ "each machine's power state and its last power action",
	  "CREATE TABLE power ("
	  " name TEXT PRIMARY KEY,"
	  " power INTEGER NOT NULL DEFAULT -1,"
	  " action TEXT NOT NULL DEFAULT '',"
	  " time INTEGER NOT NULL DEFAULT 0,"
	  " result TEXT NOT NULL DEFAULT '',"
	  " errors INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
	  "CREATE TABLE power ("
	  " name TEXT COLLATE \"C\" PRIMARY KEY,"
	  " power INTEGER NOT NULL DEFAULT -1,"
	  " action TEXT NOT NULL DEFAULT '',"
	  " time BIGINT NOT NULL DEFAULT 0,"
	  " result TEXT NOT NULL DEFAULT '',"
	  " errors BIGINT NOT NULL DEFAULT 0);" },
	{ "the last report's agent version and exit code",
	  "ALTER TABLE hosts ADD COLUMN agent_version TEXT NOT NULL DEFAULT '';"
	  "ALTER TABLE hosts ADD COLUMN last_exit INTEGER NOT NULL DEFAULT -1;",
	  "ALTER TABLE hosts ADD COLUMN agent_version TEXT NOT NULL DEFAULT '';"
	  "ALTER TABLE hosts ADD COLUMN last_exit INTEGER NOT NULL DEFAULT -1;" },
	{ "each host's agent credential (its SHA-256, the rotation in progress)",
	  "CREATE TABLE credentials ("
	  " name TEXT PRIMARY KEY,"
	  " agent_hash TEXT NOT NULL DEFAULT '',"
	  " pending TEXT NOT NULL DEFAULT '',"
	  " next_hash TEXT NOT NULL DEFAULT '',"
	  " old_hash TEXT NOT NULL DEFAULT '',"
	  " gen INTEGER NOT NULL DEFAULT 0,"
	  " issued INTEGER NOT NULL DEFAULT 0,"
	  " rotated INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
	  "CREATE TABLE credentials ("
	  " name TEXT COLLATE \"C\" PRIMARY KEY,"
	  " agent_hash TEXT NOT NULL DEFAULT '',"
	  " pending TEXT NOT NULL DEFAULT '',"
	  " next_hash TEXT NOT NULL DEFAULT '',"
	  " old_hash TEXT NOT NULL DEFAULT '',"
	  " gen BIGINT NOT NULL DEFAULT 0,"
	  " issued BIGINT NOT NULL DEFAULT 0,"
	  " rotated BIGINT NOT NULL DEFAULT 0);" },
};
const size_t kf_state_nmigrations = KF_ARRAY_SIZE(kf_state_migrations);

const struct kf_state_table kf_state_tables[] = {
	{ "hosts", "name" },
	{ "host_macs", "mac" },
	{ "events", "id" },
	{ "facts", "name" },
	{ "discovered", "mac" },
	{ "power", "name" },
	{ "credentials", "name" },
};
const size_t kf_state_ntables = KF_ARRAY_SIZE(kf_state_tables);
