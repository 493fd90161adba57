/* The state store's SQLite backend: the one file that talks to sqlite3.
 * See state.h for the contract and state_backend.h for the interface. */
#include "provision/state_backend.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define BUSY_TIMEOUT_MS 5000

/* The schema is kf_state_migrations[] (state_schema.c): PRAGMA
 * user_version is the number of its steps a file has run. */
#define SCHEMA_VERSION ((int)kf_state_nmigrations)

enum stmt_id {
	S_GET,
	S_FIND_MAC,
	S_PUT,
	S_PUT_RENDER,
	S_DEL_MACS,
	S_PUT_MAC,
	S_DELETE,
	S_LIST,
	S_LIST_DIGESTS,
	S_COUNTS,
	S_SET_STATE,
	S_SET_NETBOOT,
	S_SET_TOKEN,
	S_REPORT,
	S_EVENT,
	S_EVENTS_ALL,
	S_EVENTS_HOST,
	S_SET_FACTS,
	S_GET_FACTS,
	S_LIST_FACTS,
	S_PUT_DISC,
	S_LIST_DISC,
	S_DEL_DISC,
	S_SET_POWER,
	S_LIST_POWER,
	S_GET_CRED,
	S_PUT_CRED,
	S_DEL_CRED,
	S_COUNT
};

#define HOST_COLS                                                                        \
	"name, kind, macs, role, state, state_since, created, netboot, token, token_gen, " \
	"token_issued, digest, report, report_time, drift_count, agent_version, last_exit"

#define CRED_COLS "agent_hash, pending, next_hash, old_hash, gen, issued, rotated"

static const char *const stmt_sql[S_COUNT] = {
	[S_GET] = "SELECT " HOST_COLS " FROM hosts WHERE name = ?1",
	[S_FIND_MAC] = "SELECT " HOST_COLS " FROM hosts WHERE name = "
		       "(SELECT name FROM host_macs WHERE mac = lower(?1))",
	[S_PUT] = "INSERT OR REPLACE INTO hosts (" HOST_COLS ") VALUES "
		  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
	/* render's columns only: never the install state, netboot or reports of
	 * an existing row, its token only when render issued one (?18) */
	[S_PUT_RENDER] = "INSERT INTO hosts (" HOST_COLS ") VALUES "
			 "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) "
			 "ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, "
			 "macs = excluded.macs, role = excluded.role, digest = excluded.digest, "
			 "token = CASE WHEN ?18 THEN excluded.token ELSE token END, "
			 "token_gen = CASE WHEN ?18 THEN excluded.token_gen ELSE token_gen END, "
			 "token_issued = CASE WHEN ?18 THEN excluded.token_issued ELSE token_issued END",
	[S_DEL_MACS] = "DELETE FROM host_macs WHERE name = ?1",
	[S_PUT_MAC] = "INSERT OR REPLACE INTO host_macs (mac, name) VALUES (lower(?1), ?2)",
	[S_DELETE] = "DELETE FROM hosts WHERE name = ?1",
	[S_LIST] = "SELECT " HOST_COLS " FROM hosts ORDER BY name",
	[S_COUNTS] = "SELECT state, count(*), total(drift_count) FROM hosts GROUP BY state",
	/* the columns render compares: a big report is never read */
	[S_LIST_DIGESTS] = "SELECT name, netboot, token, digest FROM hosts",
	[S_SET_STATE] = "UPDATE hosts SET state = ?2, state_since = ?3, "
			"netboot = CASE WHEN ?4 THEN 0 ELSE netboot END WHERE name = ?1",
	[S_SET_NETBOOT] = "UPDATE hosts SET netboot = ?2 WHERE name = ?1",
	[S_SET_TOKEN] = "UPDATE hosts SET token = ?2, token_gen = token_gen + 1, token_issued = ?3 "
			"WHERE name = ?1",
	[S_REPORT] = "UPDATE hosts SET report = ?2, report_time = ?3, "
		     "drift_count = drift_count + ?4, agent_version = ?5, last_exit = ?6 WHERE name = ?1",
	[S_EVENT] = "INSERT INTO events (time, host, what, detail) VALUES (?1, ?2, ?3, ?4)",
	[S_EVENTS_ALL] = "SELECT id, time, host, what, detail FROM "
			 "(SELECT * FROM events ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[S_EVENTS_HOST] = "SELECT id, time, host, what, detail FROM "
			  "(SELECT * FROM events WHERE host = ?2 ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[S_SET_FACTS] = "INSERT OR REPLACE INTO facts (name, json, summary, time) VALUES (?1, ?2, ?3, ?4)",
	[S_GET_FACTS] = "SELECT json, time FROM facts WHERE name = ?1",
	[S_LIST_FACTS] = "SELECT name, summary, time FROM facts ORDER BY name",
	[S_PUT_DISC] = "INSERT INTO discovered (mac, json, peer, first_seen, last_seen, count) "
		       "VALUES (lower(?1), ?2, ?3, ?4, ?4, 1) ON CONFLICT (mac) DO UPDATE SET "
		       "json = excluded.json, peer = excluded.peer, last_seen = excluded.last_seen, "
		       "count = count + 1",
	[S_LIST_DISC] = "SELECT mac, json, peer, first_seen, last_seen, count FROM discovered ORDER BY mac",
	[S_DEL_DISC] = "DELETE FROM discovered WHERE mac = lower(?1)",
	/* a failure keeps the last known power state (?2 is -1 then) */
	[S_SET_POWER] = "INSERT INTO power (name, power, action, time, result, errors) "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO UPDATE SET "
			"power = CASE WHEN ?2 < 0 THEN power ELSE ?2 END, action = ?3, time = ?4, "
			"result = ?5, errors = errors + ?6",
	[S_GET_CRED] = "SELECT " CRED_COLS " FROM credentials WHERE name = ?1",
	[S_PUT_CRED] = "INSERT OR REPLACE INTO credentials (name, " CRED_COLS ") VALUES "
		       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_DEL_CRED] = "DELETE FROM credentials WHERE name = ?1",
	[S_LIST_POWER] = "SELECT name, power, action, time, result, errors FROM power ORDER BY name",
};

struct sq {
	struct kf_state base; /* first: the handle state.c passes */
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[S_COUNT];
	pthread_mutex_t lock; /* recursive: a batch holds it from begin to end */
	int in_batch;
	sqlite3_stmt *load;   /* import's INSERT, for load_table */
	const char *load_table;
};

static struct sq *sq_of(struct kf_state *st)
{
	return (struct sq *)st;
}

/* ---- error mapping ---- */

static int db_err(struct sq *st, struct kf_err *e, int rc, const char *what)
{
	int code = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? -EBUSY
		   : rc == SQLITE_NOMEM			  ? -ENOMEM
		   : rc == SQLITE_READONLY || rc == SQLITE_PERM || rc == SQLITE_CANTOPEN ? -EACCES
		   : rc == SQLITE_FULL ? -ENOSPC
		   : rc == SQLITE_CONSTRAINT ? -EEXIST
		   : -EIO;
	return kf_errc(e, code, NULL, "state %s: %s: %s", st && st->path ? st->path : "(none)", what,
		       st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
}

static int exec(struct sq *st, const char *sql, struct kf_err *e)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db_err(st, e, rc, sql);
}

static sqlite3_stmt *stmt(struct sq *st, enum stmt_id id)
{
	sqlite3_stmt *s = st->stmt[id];
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static int step_done(struct sq *st, sqlite3_stmt *s, struct kf_err *e, const char *what)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_err(st, e, rc, what);
}

/* step_done for an UPDATE or DELETE of one row: -ENOENT when there was
 * none. */
static int step_changed(struct sq *st, sqlite3_stmt *s, struct kf_err *e, const char *what)
{
	int r = step_done(st, s, e, what);
	return r == 0 && sqlite3_changes(st->db) == 0 ? -ENOENT : r;
}

/* ---- open / close / schema ---- */

static int user_version(struct sq *st, struct kf_err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_err(st, e, rc, "PRAGMA user_version");
	rc = sqlite3_step(s);
	int v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_finalize(s);
	if (v < 0)
		return db_err(st, e, rc, "PRAGMA user_version");
	if (v > SCHEMA_VERSION)
		return kf_errc(e, -EPROTO, NULL, "state %s: schema version %d is newer than this "
			       "kickfleet's (%d)", st->path, v, SCHEMA_VERSION);
	return v;
}

/* Runs the steps the file has not run, all in one transaction; the
 * version is read again under the write lock, so two processes opening a
 * new file run each step once. */
static int migrate(struct sq *st, struct kf_err *e)
{
	int v = user_version(st, e);
	st->base.schema_from = v;
	if (v < 0 || v == SCHEMA_VERSION)
		return v < 0 ? v : 0;
	int r = exec(st, "BEGIN IMMEDIATE", e);
	if (r < 0)
		return r;
	if ((v = r = user_version(st, e)) >= 0)
		r = 0;
	for (; r == 0 && v < SCHEMA_VERSION; v++) {
		char pragma[48];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
		if ((r = exec(st, kf_state_migrations[v].sqlite, e)) == 0)
			r = exec(st, pragma, e);
	}
	if (r == 0 && (r = exec(st, "COMMIT", e)) == 0)
		return 0;
	exec(st, "ROLLBACK", NULL);
	return r;
}

static void sq_close(struct kf_state *base)
{
	struct sq *st = sq_of(base);
	if (!st)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_finalize(st->load);
	if (st->db)
		sqlite3_close(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st->path);
	free(st);
}

static int sq_open(struct kf_state **out, const char *path, struct kf_err *e)
{
	*out = NULL;
	struct sq *st = kf_xcalloc(1, sizeof(*st));
	st->base.ops = &kf_state_sqlite;
	st->path = kf_xstrdup(path);
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&st->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	int r = 0;
	int rc = sqlite3_open_v2(path, &st->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = db_err(st, e, rc, "open");
		goto out;
	}
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	if ((r = exec(st, "PRAGMA journal_mode = WAL", e)) < 0 ||
	    (r = exec(st, "PRAGMA synchronous = FULL", e)) < 0 || (r = migrate(st, e)) < 0)
		goto out;
	for (int i = 0; i < S_COUNT; i++) {
		rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
					NULL);
		if (rc != SQLITE_OK) {
			r = db_err(st, e, rc, "prepare");
			goto out;
		}
	}
	*out = &st->base;
	st = NULL;
out:
	sq_close(st ? &st->base : NULL);
	return r;
}

/* Any location that is not a URL: a file such as STATE_DIR/state.db. */
static bool sq_accepts(const char *where)
{
	return !strstr(where, "://");
}

/* ---- transactions ---- */

static int sq_begin(struct kf_state *base, bool batch, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	pthread_mutex_lock(&st->lock);
	if (st->in_batch && batch) {
		pthread_mutex_unlock(&st->lock);
		return kf_errc(e, -EBUSY, NULL, "state %s: a batch is already open", st->path);
	}
	if (st->in_batch)
		return 0; /* a part of the batch */
	int r = exec(st, "BEGIN IMMEDIATE", e);
	if (r < 0) {
		pthread_mutex_unlock(&st->lock);
		return r;
	}
	st->in_batch = batch;
	return 0; /* the lock stays held until end */
}

static int sq_end(struct kf_state *base, bool batch, bool commit, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	if (batch && !st->in_batch)
		return kf_errc(e, -EINVAL, NULL, "state %s: no batch is open", st->path);
	int r = 0;
	if (batch || !st->in_batch) {
		r = exec(st, commit ? "COMMIT" : "ROLLBACK", commit || batch ? e : NULL);
		if (r < 0 && commit)
			exec(st, "ROLLBACK", NULL);
		st->in_batch = 0;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- rows ---- */

static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? kf_xstrdup((const char *)t) : NULL;
}

static void col_copy(sqlite3_stmt *s, int i, char *dst, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t n = t ? strnlen((const char *)t, len - 1) : 0; /* as snprintf "%s" */
	memcpy(dst, t ? (const char *)t : "", n);
	dst[n] = 0;
}

static void read_row(sqlite3_stmt *s, struct kf_host_rec *h)
{
	memset(h, 0, sizeof(*h));
	h->name = col_dup(s, 0);
	const unsigned char *kind = sqlite3_column_text(s, 1);
	h->kind = kind && !strcmp((const char *)kind, "guest") ? KF_KIND_GUEST : KF_KIND_HOST;
	kf_state_macs_split((const char *)sqlite3_column_text(s, 2), h);
	h->role = col_dup(s, 3);
	int st = kf_install_state_parse((const char *)sqlite3_column_text(s, 4));
	h->state = st < 0 ? KF_ST_NEW : st;
	h->state_since = sqlite3_column_int64(s, 5);
	h->created = sqlite3_column_int64(s, 6);
	h->netboot = sqlite3_column_int(s, 7);
	col_copy(s, 8, h->token, sizeof(h->token));
	h->token_gen = sqlite3_column_int64(s, 9);
	h->token_issued = sqlite3_column_int64(s, 10);
	col_copy(s, 11, h->digest, sizeof(h->digest));
	h->report = col_dup(s, 12);
	h->report_time = sqlite3_column_int64(s, 13);
	h->drift_count = sqlite3_column_int64(s, 14);
	h->agent_version = col_dup(s, 15);
	h->last_exit = sqlite3_column_int(s, 16);
	if (!h->role)
		h->role = kf_xstrdup("");
	if (!h->agent_version)
		h->agent_version = kf_xstrdup("");
}

static int sq_get_host(struct kf_state *base, const char *name, const char *mac,
		       struct kf_host_rec *out, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = stmt(st, name ? S_GET : S_FIND_MAC);
	bind_text(s, 1, name ? name : mac);
	int r = 0;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_row(s, out);
	else if (rc == SQLITE_DONE)
		r = -ENOENT;
	else
		r = db_err(st, e, rc, "read host");
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int put_macs(struct sq *st, const struct kf_host_rec *h, struct kf_err *e)
{
	sqlite3_stmt *s = stmt(st, S_DEL_MACS);
	bind_text(s, 1, h->name);
	int r = step_done(st, s, e, "write host MACs");
	for (size_t i = 0; r == 0 && i < h->nmacs; i++) {
		if (!h->macs[i][0])
			continue;
		s = stmt(st, S_PUT_MAC);
		bind_text(s, 1, h->macs[i]);
		bind_text(s, 2, h->name);
		r = step_done(st, s, e, "write host MACs");
	}
	return r;
}

/* Binds h's columns; macs is joined into the buffer, which must live
 * until the statement has run. */
static void bind_row(sqlite3_stmt *s, const struct kf_host_rec *h, struct kf_buf *macs)
{
	kf_state_macs_join(h, macs);
	bind_text(s, 1, h->name);
	bind_text(s, 2, kf_host_kind_name(h->kind));
	bind_text(s, 3, macs->s ? macs->s : "");
	bind_text(s, 4, h->role ? h->role : "");
	bind_text(s, 5, kf_install_state_name(h->state) ? kf_install_state_name(h->state) : "new");
	sqlite3_bind_int64(s, 6, h->state_since);
	sqlite3_bind_int64(s, 7, h->created ? h->created : (int64_t)time(NULL));
	sqlite3_bind_int(s, 8, h->netboot ? 1 : 0);
	bind_text(s, 9, h->token);
	sqlite3_bind_int64(s, 10, h->token_gen);
	sqlite3_bind_int64(s, 11, h->token_issued);
	bind_text(s, 12, h->digest);
	bind_text(s, 13, h->report);
	sqlite3_bind_int64(s, 14, h->report_time);
	sqlite3_bind_int64(s, 15, h->drift_count);
	bind_text(s, 16, h->agent_version ? h->agent_version : "");
	/* a row written whole keeps "no report" unless it has one */
	sqlite3_bind_int(s, 17, h->report_time > 0 ? h->last_exit : -1);
}

static int sq_put_host(struct kf_state *base, const struct kf_host_rec *h, enum kf_put_mode mode,
		       struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_stmt *s = stmt(st, mode == KF_PUT_ALL ? S_PUT : S_PUT_RENDER);
	struct kf_buf macs = KF_BUF_INIT;
	bind_row(s, h, &macs);
	if (mode != KF_PUT_ALL)
		sqlite3_bind_int(s, 18, mode == KF_PUT_RENDER_TOKEN);
	int r = step_done(st, s, e, "write host");
	kf_buf_release(&macs);
	return r < 0 ? r : put_macs(st, h, e);
}

static int sq_delete_host(struct kf_state *base, const char *name, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_stmt *s = stmt(st, S_DELETE);
	bind_text(s, 1, name);
	int r = step_changed(st, s, e, "delete host");
	if (r == 0) {
		s = stmt(st, S_DEL_MACS);
		bind_text(s, 1, name);
		r = step_done(st, s, e, "delete host MACs");
	}
	if (r == 0) {
		s = stmt(st, S_DEL_CRED);
		bind_text(s, 1, name);
		r = step_done(st, s, e, "delete host credential");
	}
	return r;
}

static int sq_list_hosts(struct kf_state *base, struct kf_host_rec **out, size_t *n,
			 struct kf_err *e)
{
	struct sq *st = sq_of(base);
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = stmt(st, S_LIST);
	struct kf_host_rec *v = NULL;
	size_t len = 0, cap = 0;
	int rc, r = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 64;
			v = kf_xrealloc(v, cap * sizeof(*v));
		}
		read_row(s, &v[len++]);
	}
	if (rc != SQLITE_DONE) {
		r = db_err(st, e, rc, "list hosts");
		kf_host_recs_free(v, len);
		v = NULL;
		len = 0;
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	*out = v;
	*n = len;
	return r;
}

static int sq_count_states(struct kf_state *base, size_t by_state[KF_ST_COUNT], long long *drift,
			   struct kf_err *e)
{
	struct sq *st = sq_of(base);
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = stmt(st, S_COUNTS);
	int rc, r = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		int state = name ? kf_install_state_parse(name) : -1;
		if (state < 0)
			state = KF_ST_NEW; /* as read_row does */
		by_state[state] += (size_t)sqlite3_column_int64(s, 1);
		*drift += (long long)sqlite3_column_double(s, 2);
	}
	if (rc != SQLITE_DONE)
		r = db_err(st, e, rc, "count hosts");
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int sq_list_digests(struct kf_state *base, struct kf_host_digest **out, size_t *n,
			   struct kf_err *e)
{
	struct sq *st = sq_of(base);
	struct kf_digests_acc acc = { 0 };
	int rc, r = 0;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = stmt(st, S_LIST_DIGESTS);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		kf_digests_add(&acc, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1),
			       (const char *)sqlite3_column_text(s, 2),
			       (const char *)sqlite3_column_text(s, 3));
	if (rc != SQLITE_DONE)
		r = db_err(st, e, rc, "list hosts");
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	if (r < 0)
		kf_digests_drop(&acc);
	else
		kf_digests_finish(&acc, out, n);
	return r;
}

/* ---- column updates ---- */

static int sq_set_state(struct kf_state *base, const char *name, int state, int64_t since,
			bool clear_netboot, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_stmt *s = stmt(st, S_SET_STATE);
	bind_text(s, 1, name);
	bind_text(s, 2, kf_install_state_name(state));
	sqlite3_bind_int64(s, 3, since);
	sqlite3_bind_int(s, 4, clear_netboot);
	return step_changed(st, s, e, "set state");
}

static int sq_set_netboot(struct kf_state *base, const char *name, bool on, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_stmt *s = stmt(st, S_SET_NETBOOT);
	bind_text(s, 1, name);
	sqlite3_bind_int(s, 2, on);
	return step_changed(st, s, e, "set netboot");
}

static int sq_set_token(struct kf_state *base, const char *name, const char *token,
			int64_t issued, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_stmt *s = stmt(st, S_SET_TOKEN);
	bind_text(s, 1, name);
	bind_text(s, 2, token);
	sqlite3_bind_int64(s, 3, issued);
	return step_changed(st, s, e, "rotate token");
}

static int sq_set_report(struct kf_state *base, const char *name, const char *json, int64_t time,
			 const struct kf_report_info *ri, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_stmt *s = stmt(st, S_REPORT);
	bind_text(s, 1, name);
	bind_text(s, 2, json);
	sqlite3_bind_int64(s, 3, time);
	sqlite3_bind_int(s, 4, ri->drifted != 0);
	bind_text(s, 5, ri->agent_version);
	sqlite3_bind_int(s, 6, ri->exit_code);
	return step_changed(st, s, e, "record report");
}

/* ---- events ---- */

static int sq_log_event(struct kf_state *base, const char *name, const char *what,
			const char *detail, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_stmt *s = stmt(st, S_EVENT);
	sqlite3_bind_int64(s, 1, (int64_t)time(NULL));
	bind_text(s, 2, name);
	bind_text(s, 3, what);
	bind_text(s, 4, detail);
	return step_done(st, s, e, "log event");
}

static int sq_list_events(struct kf_state *base, const char *name, size_t limit,
			  struct kf_event **out, size_t *n, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = stmt(st, name ? S_EVENTS_HOST : S_EVENTS_ALL);
	sqlite3_bind_int64(s, 1, limit ? (sqlite3_int64)limit : -1);
	if (name)
		bind_text(s, 2, name);
	struct kf_event *v = NULL;
	size_t len = 0, cap = 0;
	int rc, r = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			v = kf_xrealloc(v, cap * sizeof(*v));
		}
		struct kf_event *ev = &v[len++];
		ev->id = sqlite3_column_int64(s, 0);
		ev->time = sqlite3_column_int64(s, 1);
		ev->host = col_dup(s, 2);
		ev->what = col_dup(s, 3);
		ev->detail = col_dup(s, 4);
	}
	if (rc != SQLITE_DONE) {
		r = db_err(st, e, rc, "list events");
		kf_events_free(v, len);
		v = NULL;
		len = 0;
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	*out = v;
	*n = len;
	return r;
}

/* ---- facts, discovered machines ---- */

static int sq_set_facts(struct kf_state *base, const char *name, const char *json, const char *summary,
			int64_t time, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_stmt *s = stmt(st, S_SET_FACTS);
	bind_text(s, 1, name);
	bind_text(s, 2, json);
	bind_text(s, 3, summary ? summary : "");
	sqlite3_bind_int64(s, 4, time);
	return step_done(st, s, e, "record facts");
}

static int sq_get_facts(struct kf_state *base, const char *name, char **json, int64_t *time,
			struct kf_err *e)
{
	struct sq *st = sq_of(base);
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = stmt(st, S_GET_FACTS);
	bind_text(s, 1, name);
	int rc = sqlite3_step(s), r = 0;
	if (rc == SQLITE_ROW) {
		*json = col_dup(s, 0);
		*time = sqlite3_column_int64(s, 1);
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : db_err(st, e, rc, "read facts");
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* Runs a listing statement, calling row(s, v + len) for each row into a
 * growing array of size elements; frees with drop on an error. */
static int list_rows(struct sq *st, enum stmt_id id, size_t size, void (*row)(sqlite3_stmt *, void *),
		     void (*drop)(void *, size_t), void **out, size_t *n, struct kf_err *e)
{
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = stmt(st, id);
	char *v = NULL;
	size_t len = 0, cap = 0;
	int rc, r = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			v = kf_xrealloc(v, cap * size);
		}
		row(s, v + len++ * size);
	}
	if (rc != SQLITE_DONE) {
		r = db_err(st, e, rc, "list rows");
		drop(v, len);
		v = NULL;
		len = 0;
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	*out = v;
	*n = len;
	return r;
}

static void facts_row(sqlite3_stmt *s, void *p)
{
	struct kf_facts_row *f = p;
	f->name = col_dup(s, 0);
	f->summary = col_dup(s, 1);
	f->time = sqlite3_column_int64(s, 2);
}

static void facts_drop(void *v, size_t n)
{
	kf_facts_rows_free(v, n);
}

static int sq_list_facts(struct kf_state *base, struct kf_facts_row **out, size_t *n, struct kf_err *e)
{
	return list_rows(sq_of(base), S_LIST_FACTS, sizeof(**out), facts_row, facts_drop, (void **)out, n, e);
}

static int sq_put_discovered(struct kf_state *base, const char *mac, const char *json, const char *peer,
			     int64_t time, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_stmt *s = stmt(st, S_PUT_DISC);
	bind_text(s, 1, mac);
	bind_text(s, 2, json);
	bind_text(s, 3, peer ? peer : "");
	sqlite3_bind_int64(s, 4, time);
	return step_done(st, s, e, "record a discovered machine");
}

static void disc_row(sqlite3_stmt *s, void *p)
{
	struct kf_discovered *d = p;
	d->mac = col_dup(s, 0);
	d->json = col_dup(s, 1);
	d->peer = col_dup(s, 2);
	d->first_seen = sqlite3_column_int64(s, 3);
	d->last_seen = sqlite3_column_int64(s, 4);
	d->count = sqlite3_column_int64(s, 5);
}

static void disc_drop(void *v, size_t n)
{
	kf_discovered_free(v, n);
}

static int sq_list_discovered(struct kf_state *base, struct kf_discovered **out, size_t *n,
			      struct kf_err *e)
{
	return list_rows(sq_of(base), S_LIST_DISC, sizeof(**out), disc_row, disc_drop, (void **)out, n, e);
}

static int sq_delete_discovered(struct kf_state *base, const char *mac, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_stmt *s = stmt(st, S_DEL_DISC);
	bind_text(s, 1, mac);
	return step_changed(st, s, e, "forget a discovered machine");
}

/* ---- power ---- */

static int sq_set_power(struct kf_state *base, const char *name, int power, const char *action,
			int64_t time, const char *error, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_stmt *s = stmt(st, S_SET_POWER);
	bind_text(s, 1, name);
	sqlite3_bind_int(s, 2, error ? -1 : power);
	bind_text(s, 3, action);
	sqlite3_bind_int64(s, 4, time);
	bind_text(s, 5, error ? error : "ok");
	sqlite3_bind_int(s, 6, error != NULL);
	return step_done(st, s, e, "record power");
}

static void power_row(sqlite3_stmt *s, void *p)
{
	struct kf_power_row *w = p;
	w->name = col_dup(s, 0);
	w->power = sqlite3_column_int(s, 1);
	w->action = col_dup(s, 2);
	w->time = sqlite3_column_int64(s, 3);
	w->result = col_dup(s, 4);
	w->errors = sqlite3_column_int64(s, 5);
}

static void power_drop(void *v, size_t n)
{
	kf_power_rows_free(v, n);
}

static int sq_list_power(struct kf_state *base, struct kf_power_row **out, size_t *n, struct kf_err *e)
{
	return list_rows(sq_of(base), S_LIST_POWER, sizeof(**out), power_row, power_drop, (void **)out, n, e);
}

/* ---- integrity ---- */

/* One PRAGMA whose rows are problems, except a single "ok". */
static int pragma_problems(struct sq *st, const char *sql, struct kf_buf *out, struct kf_err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL), n = 0;
	if (rc != SQLITE_OK)
		return db_err(st, e, rc, sql);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(s, 0);
		if (v && !strcmp(v, "ok") && sqlite3_column_count(s) == 1)
			continue;
		kf_buf_printf(out, "%s:", sql);
		for (int i = 0; i < sqlite3_column_count(s); i++) {
			const char *c = (const char *)sqlite3_column_text(s, i);
			kf_buf_printf(out, " %s", c ? c : "NULL");
		}
		kf_buf_printf(out, "\n");
		n++;
	}
	if (rc != SQLITE_DONE)
		n = db_err(st, e, rc, sql);
	sqlite3_finalize(s);
	return n;
}

/* SQLite's own check of every page and index, and of the foreign keys. */
static int sq_check(struct kf_state *base, struct kf_buf *out, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	pthread_mutex_lock(&st->lock);
	int n = pragma_problems(st, "PRAGMA integrity_check", out, e), m = 0;
	if (n >= 0 && (m = pragma_problems(st, "PRAGMA foreign_key_check", out, e)) >= 0)
		n += m;
	else if (n >= 0)
		n = m;
	pthread_mutex_unlock(&st->lock);
	return n;
}

/* ---- agent credentials ---- */

static int sq_get_cred(struct kf_state *base, const char *name, struct kf_cred *out,
		       struct kf_err *e)
{
	struct sq *st = sq_of(base);
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = stmt(st, S_GET_CRED);
	bind_text(s, 1, name);
	int r = 0, rc = sqlite3_step(s);
	memset(out, 0, sizeof(*out));
	if (rc == SQLITE_ROW) {
		col_copy(s, 0, out->hash, sizeof(out->hash));
		col_copy(s, 1, out->pending, sizeof(out->pending));
		col_copy(s, 2, out->next, sizeof(out->next));
		col_copy(s, 3, out->old, sizeof(out->old));
		out->gen = sqlite3_column_int64(s, 4);
		out->issued = sqlite3_column_int64(s, 5);
		out->rotated = sqlite3_column_int64(s, 6);
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = db_err(st, e, rc, "read credential");
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int sq_put_cred(struct kf_state *base, const char *name, const struct kf_cred *c,
		       struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_stmt *s = stmt(st, S_PUT_CRED);
	bind_text(s, 1, name);
	bind_text(s, 2, c->hash);
	bind_text(s, 3, c->pending);
	bind_text(s, 4, c->next);
	bind_text(s, 5, c->old);
	sqlite3_bind_int64(s, 6, c->gen);
	sqlite3_bind_int64(s, 7, c->issued);
	sqlite3_bind_int64(s, 8, c->rotated);
	return step_done(st, s, e, "write credential");
}

/* ---- export, import ---- */

static int dump_table(struct sq *st, const struct kf_state_table *t, const struct kf_state_sink *k,
		      struct kf_err *e)
{
	char *sql = kf_xasprintf("SELECT * FROM \"%s\" ORDER BY \"%s\"", t->name, t->key);
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL), r = 0;
	free(sql);
	if (rc != SQLITE_OK)
		return db_err(st, e, rc, "export");
	size_t n = (size_t)sqlite3_column_count(s);
	const char **cols = kf_xcalloc(n + 1, sizeof(*cols));
	const char **vals = kf_xcalloc(n + 1, sizeof(*vals));
	bool *is_int = kf_xcalloc(n + 1, sizeof(*is_int));
	for (size_t i = 0; i < n; i++)
		cols[i] = sqlite3_column_name(s, (int)i);
	r = k->table(k->ctx, t->name, n, cols);
	while (r >= 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (size_t i = 0; i < n; i++) {
			is_int[i] = sqlite3_column_type(s, (int)i) == SQLITE_INTEGER;
			vals[i] = (const char *)sqlite3_column_text(s, (int)i);
		}
		r = k->row(k->ctx, vals, is_int);
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = db_err(st, e, rc, "export");
	sqlite3_finalize(s);
	free(cols);
	free(vals);
	free(is_int);
	return r;
}

static int sq_dump(struct kf_state *base, const struct kf_state_sink *sink, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	pthread_mutex_lock(&st->lock);
	int r = exec(st, "BEGIN", e); /* one snapshot for every table */
	for (size_t i = 0; r >= 0 && i < kf_state_ntables; i++)
		r = dump_table(st, &kf_state_tables[i], sink, e);
	exec(st, "COMMIT", NULL);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int sq_load(struct kf_state *base, const char *table, size_t ncols, const char *const *cols,
		   const char *const *vals, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	if (!st->load || st->load_table != table) {
		sqlite3_finalize(st->load);
		st->load = NULL;
		struct kf_buf sql = KF_BUF_INIT;
		kf_buf_printf(&sql, "INSERT INTO \"%s\" (", table);
		for (size_t i = 0; i < ncols; i++)
			kf_buf_printf(&sql, "%s\"%s\"", i ? ", " : "", cols[i]);
		kf_buf_puts(&sql, ") VALUES (");
		for (size_t i = 0; i < ncols; i++)
			kf_buf_printf(&sql, "%s?%zu", i ? ", " : "", i + 1);
		kf_buf_puts(&sql, ")");
		int rc = sqlite3_prepare_v2(st->db, sql.s, -1, &st->load, NULL);
		kf_buf_release(&sql);
		if (rc != SQLITE_OK)
			return db_err(st, e, rc, "import");
		st->load_table = table;
	}
	sqlite3_reset(st->load);
	for (size_t i = 0; i < ncols; i++)
		bind_text(st->load, (int)i + 1, vals[i]);
	return step_done(st, st->load, e, "import");
}

static int sq_loaded(struct kf_state *base, struct kf_err *e)
{
	struct sq *st = sq_of(base);
	sqlite3_finalize(st->load); /* AUTOINCREMENT follows explicit ids itself */
	st->load = NULL;
	st->load_table = NULL;
	(void)e;
	return 0;
}

const struct kf_state_ops kf_state_sqlite = {
	.name = "sqlite",
	.accepts = sq_accepts,
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.end = sq_end,
	.get_host = sq_get_host,
	.put_host = sq_put_host,
	.delete_host = sq_delete_host,
	.list_hosts = sq_list_hosts,
	.list_digests = sq_list_digests,
	.count_states = sq_count_states,
	.set_state = sq_set_state,
	.set_netboot = sq_set_netboot,
	.set_token = sq_set_token,
	.set_report = sq_set_report,
	.log_event = sq_log_event,
	.list_events = sq_list_events,
	.set_facts = sq_set_facts,
	.get_facts = sq_get_facts,
	.list_facts = sq_list_facts,
	.put_discovered = sq_put_discovered,
	.list_discovered = sq_list_discovered,
	.delete_discovered = sq_delete_discovered,
	.set_power = sq_set_power,
	.list_power = sq_list_power,
	.check = sq_check,
	.get_cred = sq_get_cred,
	.put_cred = sq_put_cred,
	.dump = sq_dump,
	.load = sq_load,
	.loaded = sq_loaded,
};
