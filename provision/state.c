/* The state store's SQLite backend: the one file that talks to sqlite3.
 * See state.h for the contract. */
#include "provision/state.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util.h"

#define SCHEMA_VERSION 1 /* PRAGMA user_version */
#define BUSY_TIMEOUT_MS 5000

static const char *const state_names[KF_ST_COUNT] = {
	"new", "booting", "installing", "installed", "configured", "drifted", "failed",
};

const char *kf_install_state_name(int st)
{
	return st >= 0 && st < KF_ST_COUNT ? state_names[st] : NULL;
}

int kf_install_state_parse(const char *s)
{
	for (int i = 0; s && i < KF_ST_COUNT; i++)
		if (!strcmp(s, state_names[i]))
			return i;
	return -1;
}

const char *kf_host_kind_name(int kind)
{
	return kind == KF_KIND_GUEST ? "guest" : "host";
}

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
	S_COUNT
};

#define HOST_COLS                                                                        \
	"name, kind, macs, role, state, state_since, created, netboot, token, token_gen, " \
	"token_issued, digest, report, report_time, drift_count"

static const char *const stmt_sql[S_COUNT] = {
	[S_GET] = "SELECT " HOST_COLS " FROM hosts WHERE name = ?1",
	[S_FIND_MAC] = "SELECT " HOST_COLS " FROM hosts WHERE name = "
		       "(SELECT name FROM host_macs WHERE mac = lower(?1))",
	[S_PUT] = "INSERT OR REPLACE INTO hosts (" HOST_COLS ") VALUES "
		  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	/* render's columns only: never the install state, netboot or reports of
	 * an existing row, its token only when render issued one (?16) */
	[S_PUT_RENDER] = "INSERT INTO hosts (" HOST_COLS ") VALUES "
			 "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
			 "ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, "
			 "macs = excluded.macs, role = excluded.role, digest = excluded.digest, "
			 "token = CASE WHEN ?16 THEN excluded.token ELSE token END, "
			 "token_gen = CASE WHEN ?16 THEN excluded.token_gen ELSE token_gen END, "
			 "token_issued = CASE WHEN ?16 THEN excluded.token_issued ELSE token_issued END",
	[S_DEL_MACS] = "DELETE FROM host_macs WHERE name = ?1",
	[S_PUT_MAC] = "INSERT OR REPLACE INTO host_macs (mac, name) VALUES (lower(?1), ?2)",
	[S_DELETE] = "DELETE FROM hosts WHERE name = ?1",
	[S_LIST] = "SELECT " HOST_COLS " FROM hosts ORDER BY name",
	/* the columns before report: a big report is never read */
	[S_COUNTS] = "SELECT state, count(*), total(drift_count) FROM hosts GROUP BY state",
	[S_LIST_DIGESTS] = "SELECT name, netboot, token, digest FROM hosts",
	[S_SET_STATE] = "UPDATE hosts SET state = ?2, state_since = ?3, "
			"netboot = CASE WHEN ?4 THEN 0 ELSE netboot END WHERE name = ?1",
	[S_SET_NETBOOT] = "UPDATE hosts SET netboot = ?2 WHERE name = ?1",
	[S_SET_TOKEN] = "UPDATE hosts SET token = ?2, token_gen = token_gen + 1, token_issued = ?3 "
			"WHERE name = ?1",
	[S_REPORT] = "UPDATE hosts SET report = ?2, report_time = ?3, "
		     "drift_count = drift_count + ?4 WHERE name = ?1",
	[S_EVENT] = "INSERT INTO events (time, host, what, detail) VALUES (?1, ?2, ?3, ?4)",
	[S_EVENTS_ALL] = "SELECT id, time, host, what, detail FROM "
			 "(SELECT * FROM events ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[S_EVENTS_HOST] = "SELECT id, time, host, what, detail FROM "
			  "(SELECT * FROM events WHERE host = ?2 ORDER BY id DESC LIMIT ?1) ORDER BY id",
};

static const char schema_sql[] =
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
	"CREATE INDEX IF NOT EXISTS events_host ON events (host, id);";

struct kf_state {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[S_COUNT];
	pthread_mutex_t lock; /* recursive: a batch holds it from begin to end */
	int in_batch;
};

/* ---- error mapping ---- */

static int db_err(struct kf_state *st, struct kf_err *e, int rc, const char *what)
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

static int exec(struct kf_state *st, const char *sql, struct kf_err *e)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db_err(st, e, rc, sql);
}

static sqlite3_stmt *stmt(struct kf_state *st, enum stmt_id id)
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

static int64_t now(void)
{
	return (int64_t)time(NULL);
}

/* ---- open / close / transactions ---- */

static int user_version(struct kf_state *st, struct kf_err *e)
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

int kf_state_open(struct kf_state **out, const char *path, struct kf_err *e)
{
	*out = NULL;
	struct kf_state *st = kf_xcalloc(1, sizeof(*st));
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
	    (r = exec(st, "PRAGMA synchronous = FULL", e)) < 0)
		goto out;
	if ((r = user_version(st, e)) < 0)
		goto out;
	if (r != SCHEMA_VERSION) { /* new file: create the tables (nothing written otherwise) */
		if ((r = exec(st, "BEGIN IMMEDIATE", e)) < 0)
			goto out;
		if ((r = exec(st, schema_sql, e)) < 0 ||
		    (r = exec(st, "PRAGMA user_version = 1", e)) < 0) {
			exec(st, "ROLLBACK", NULL);
			goto out;
		}
		if ((r = exec(st, "COMMIT", e)) < 0)
			goto out;
	}
	r = 0;
	for (int i = 0; i < S_COUNT; i++) {
		rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
					NULL);
		if (rc != SQLITE_OK) {
			r = db_err(st, e, rc, "prepare");
			goto out;
		}
	}
	*out = st;
	st = NULL;
out:
	kf_state_close(st);
	return r;
}

void kf_state_close(struct kf_state *st)
{
	if (!st)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	if (st->db)
		sqlite3_close(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st->path);
	free(st);
}

int kf_state_begin(struct kf_state *st, struct kf_err *e)
{
	pthread_mutex_lock(&st->lock);
	if (st->in_batch) {
		pthread_mutex_unlock(&st->lock);
		return kf_errc(e, -EBUSY, NULL, "state %s: a batch is already open", st->path);
	}
	int r = exec(st, "BEGIN IMMEDIATE", e);
	if (r < 0) {
		pthread_mutex_unlock(&st->lock);
		return r;
	}
	st->in_batch = 1;
	return 0; /* the lock stays held until kf_state_end */
}

int kf_state_end(struct kf_state *st, int commit, struct kf_err *e)
{
	if (!st->in_batch)
		return kf_errc(e, -EINVAL, NULL, "state %s: no batch is open", st->path);
	int r = exec(st, commit ? "COMMIT" : "ROLLBACK", e);
	if (r < 0 && commit)
		exec(st, "ROLLBACK", NULL);
	st->in_batch = 0;
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* Every write goes through wbegin/wend: its own transaction, or a part of
 * the open batch. */
static int wbegin(struct kf_state *st, struct kf_err *e)
{
	pthread_mutex_lock(&st->lock);
	if (st->in_batch)
		return 0;
	int r = exec(st, "BEGIN IMMEDIATE", e);
	if (r < 0)
		pthread_mutex_unlock(&st->lock);
	return r;
}

static int wend(struct kf_state *st, int r, struct kf_err *e)
{
	if (!st->in_batch) {
		if (r >= 0) {
			int c = exec(st, "COMMIT", e);
			if (c < 0) {
				exec(st, "ROLLBACK", NULL);
				r = c;
			}
		} else {
			exec(st, "ROLLBACK", NULL);
		}
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
	h->macs = col_dup(s, 2);
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
	if (sqlite3_column_count(s) > 12) {
		h->report = col_dup(s, 12);
		h->report_time = sqlite3_column_int64(s, 13);
		h->drift_count = sqlite3_column_int64(s, 14);
	}
	if (!h->macs)
		h->macs = kf_xstrdup("");
	if (!h->role)
		h->role = kf_xstrdup("");
}

void kf_host_rec_release(struct kf_host_rec *h)
{
	if (!h)
		return;
	free(h->name);
	free(h->macs);
	free(h->role);
	free(h->report);
	memset(h, 0, sizeof(*h));
}

void kf_host_recs_free(struct kf_host_rec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		kf_host_rec_release(&v[i]);
	free(v);
}

static int get_one(struct kf_state *st, enum stmt_id id, const char *key, struct kf_host_rec *out,
		   struct kf_err *e)
{
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = stmt(st, id);
	bind_text(s, 1, key);
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

int kf_state_get_host(struct kf_state *st, const char *name, struct kf_host_rec *out,
		      struct kf_err *e)
{
	return get_one(st, S_GET, name, out, e);
}

int kf_state_find_mac(struct kf_state *st, const char *mac, struct kf_host_rec *out,
		      struct kf_err *e)
{
	return get_one(st, S_FIND_MAC, mac, out, e);
}

static int step_done(struct kf_state *st, sqlite3_stmt *s, struct kf_err *e, const char *what)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_err(st, e, rc, what);
}

static int put_macs(struct kf_state *st, const char *name, const char *macs, struct kf_err *e)
{
	sqlite3_stmt *s = stmt(st, S_DEL_MACS);
	bind_text(s, 1, name);
	int r = step_done(st, s, e, "write host MACs");
	for (const char *p = macs; r == 0 && p && *p;) {
		size_t n = strcspn(p, ",");
		if (n) {
			s = stmt(st, S_PUT_MAC);
			sqlite3_bind_text(s, 1, p, (int)n, SQLITE_STATIC);
			bind_text(s, 2, name);
			r = step_done(st, s, e, "write host MACs");
		}
		p += n + (p[n] == ',');
	}
	return r;
}

static void bind_row(sqlite3_stmt *s, const struct kf_host_rec *h)
{
	bind_text(s, 1, h->name);
	bind_text(s, 2, kf_host_kind_name(h->kind));
	bind_text(s, 3, h->macs ? h->macs : "");
	bind_text(s, 4, h->role ? h->role : "");
	bind_text(s, 5, kf_install_state_name(h->state) ? kf_install_state_name(h->state) : "new");
	sqlite3_bind_int64(s, 6, h->state_since);
	sqlite3_bind_int64(s, 7, h->created ? h->created : now());
	sqlite3_bind_int(s, 8, h->netboot ? 1 : 0);
	bind_text(s, 9, h->token);
	sqlite3_bind_int64(s, 10, h->token_gen);
	sqlite3_bind_int64(s, 11, h->token_issued);
	bind_text(s, 12, h->digest);
	bind_text(s, 13, h->report);
	sqlite3_bind_int64(s, 14, h->report_time);
	sqlite3_bind_int64(s, 15, h->drift_count);
}

/* Writes a row with statement id (S_PUT, or S_PUT_RENDER and new_token)
 * and its MACs. */
static int put_row(struct kf_state *st, enum stmt_id id, const struct kf_host_rec *h,
		   bool new_token, struct kf_err *e)
{
	if (!h->name || !*h->name)
		return kf_errc(e, -EINVAL, NULL, "state %s: host without a name", st->path);
	int r = wbegin(st, e);
	if (r < 0)
		return r;
	sqlite3_stmt *s = stmt(st, id);
	bind_row(s, h);
	if (id == S_PUT_RENDER)
		sqlite3_bind_int(s, 16, new_token ? 1 : 0);
	r = step_done(st, s, e, "write host");
	if (r == 0)
		r = put_macs(st, h->name, h->macs, e);
	return wend(st, r, e);
}

int kf_state_put_host(struct kf_state *st, const struct kf_host_rec *h, struct kf_err *e)
{
	return put_row(st, S_PUT, h, false, e);
}

int kf_state_put_render(struct kf_state *st, const struct kf_host_rec *h, bool new_token,
			struct kf_err *e)
{
	return put_row(st, S_PUT_RENDER, h, new_token, e);
}

int kf_state_delete_host(struct kf_state *st, const char *name, struct kf_err *e)
{
	int r = wbegin(st, e);
	if (r < 0)
		return r;
	sqlite3_stmt *s = stmt(st, S_DELETE);
	bind_text(s, 1, name);
	r = step_done(st, s, e, "delete host");
	if (r == 0 && sqlite3_changes(st->db) == 0)
		r = kf_errc(e, -ENOENT, NULL, "state: unknown host \"%s\"", name);
	if (r == 0) {
		s = stmt(st, S_DEL_MACS);
		bind_text(s, 1, name);
		r = step_done(st, s, e, "delete host MACs");
	}
	return wend(st, r, e);
}

static int list_rows(struct kf_state *st, enum stmt_id id, struct kf_host_rec **out, size_t *n,
		     struct kf_err *e)
{
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = stmt(st, id);
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

int kf_state_list_hosts(struct kf_state *st, struct kf_host_rec **out, size_t *n,
			struct kf_err *e)
{
	return list_rows(st, S_LIST, out, n, e);
}

int kf_state_count_states(struct kf_state *st, size_t by_state[KF_ST_COUNT], long long *drift,
			  struct kf_err *e)
{
	memset(by_state, 0, KF_ST_COUNT * sizeof(*by_state));
	*drift = 0;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = stmt(st, S_COUNTS);
	int rc, r = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		int state = name ? kf_install_state_parse(name) : -1;
		if (state < 0)
			state = KF_ST_NEW; /* as read_row does */
		if (state < KF_ST_COUNT)
			by_state[state] += (size_t)sqlite3_column_int64(s, 1);
		*drift += (long long)sqlite3_column_double(s, 2);
	}
	if (rc != SQLITE_DONE)
		r = db_err(st, e, rc, "count hosts");
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int kf_state_list_digests(struct kf_state *st, struct kf_host_digest **out, size_t *n,
			  struct kf_err *e)
{
	/* names as offsets in their own buffer until both stop moving */
	struct kf_buf names = KF_BUF_INIT;
	struct kf_host_digest *v = NULL;
	size_t len = 0, cap = 0;
	int rc, r = 0;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = stmt(st, S_LIST_DIGESTS);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 256;
			v = kf_xrealloc(v, cap * sizeof(*v));
		}
		struct kf_host_digest *d = &v[len++];
		const char *name = (const char *)sqlite3_column_text(s, 0);
		d->name = (const char *)(uintptr_t)names.len;
		kf_buf_add(&names, name ? name : "", name ? strlen(name) + 1 : 1);
		d->netboot = sqlite3_column_int(s, 1);
		col_copy(s, 2, d->token, sizeof(d->token));
		col_copy(s, 3, d->digest, sizeof(d->digest));
	}
	if (rc != SQLITE_DONE)
		r = db_err(st, e, rc, "list hosts");
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	if (r < 0) {
		free(v);
		kf_buf_release(&names);
		return r;
	}
	/* the names after the rows, in the same block */
	v = kf_xrealloc(v, len * sizeof(*v) + names.len + 1);
	char *pool = (char *)(v + len);
	if (names.len)
		memcpy(pool, names.s, names.len);
	for (size_t i = 0; i < len; i++)
		v[i].name = pool + (uintptr_t)v[i].name;
	kf_buf_release(&names);
	*out = v;
	*n = len;
	return 0;
}

/* ---- state changes ---- */

static int log_event(struct kf_state *st, const char *name, const char *what, const char *detail,
		     struct kf_err *e)
{
	sqlite3_stmt *s = stmt(st, S_EVENT);
	sqlite3_bind_int64(s, 1, now());
	bind_text(s, 2, name);
	bind_text(s, 3, what);
	bind_text(s, 4, detail);
	return step_done(st, s, e, "log event");
}

int kf_state_log_event(struct kf_state *st, const char *name, const char *what,
		       const char *detail, struct kf_err *e)
{
	int r = wbegin(st, e);
	if (r < 0)
		return r;
	return wend(st, log_event(st, name, what, detail, e), e);
}

/* Reads the row inside the current write transaction. */
static int read_locked(struct kf_state *st, const char *name, struct kf_host_rec *h,
		       struct kf_err *e)
{
	int r = get_one(st, S_GET, name, h, e);
	if (r == -ENOENT)
		kf_errc(e, r, NULL, "state: unknown host \"%s\"", name);
	return r;
}

int kf_state_set_state(struct kf_state *st, const char *name, int state, const char *detail,
		       struct kf_err *e)
{
	if (!kf_install_state_name(state))
		return kf_errc(e, -EINVAL, NULL, "state: invalid install state %d", state);
	struct kf_host_rec h = { 0 };
	int r = wbegin(st, e);
	if (r < 0)
		return r;
	if ((r = read_locked(st, name, &h, e)) < 0)
		goto out;
	if (h.state == state && !(state == KF_ST_INSTALLED && h.netboot)) {
		r = 0;
		goto out;
	}
	sqlite3_stmt *s = stmt(st, S_SET_STATE);
	bind_text(s, 1, name);
	bind_text(s, 2, kf_install_state_name(state));
	sqlite3_bind_int64(s, 3, h.state == state ? h.state_since : now());
	sqlite3_bind_int(s, 4, state == KF_ST_INSTALLED);
	if ((r = step_done(st, s, e, "set state")) < 0)
		goto out;
	char *msg = kf_xasprintf("%s -> %s%s%s", kf_install_state_name(h.state),
				 kf_install_state_name(state), detail ? ": " : "", detail ? detail : "");
	r = log_event(st, name, "state", msg, e);
	free(msg);
	if (r == 0)
		r = 1;
out:
	kf_host_rec_release(&h);
	return wend(st, r, e);
}

int kf_state_set_netboot(struct kf_state *st, const char *name, int on, struct kf_err *e)
{
	struct kf_host_rec h = { 0 };
	int r = wbegin(st, e);
	if (r < 0)
		return r;
	if ((r = read_locked(st, name, &h, e)) < 0)
		goto out;
	on = on ? 1 : 0;
	if (h.netboot == on && (!on || h.state == KF_ST_NEW)) {
		r = 0;
		goto out;
	}
	sqlite3_stmt *s = stmt(st, S_SET_NETBOOT);
	bind_text(s, 1, name);
	sqlite3_bind_int(s, 2, on);
	if ((r = step_done(st, s, e, "set netboot")) < 0)
		goto out;
	if (on && h.state != KF_ST_NEW) {
		s = stmt(st, S_SET_STATE);
		bind_text(s, 1, name);
		bind_text(s, 2, "new");
		sqlite3_bind_int64(s, 3, now());
		sqlite3_bind_int(s, 4, 0);
		if ((r = step_done(st, s, e, "set state")) < 0)
			goto out;
	}
	char *msg = on ? kf_xasprintf("on (reinstall; was %s)", kf_install_state_name(h.state))
		       : kf_xstrdup("off (boot locally)");
	r = log_event(st, name, "netboot", msg, e);
	free(msg);
	if (r == 0)
		r = 1;
out:
	kf_host_rec_release(&h);
	return wend(st, r, e);
}

int kf_state_rotate_token(struct kf_state *st, const char *name, char *token_out,
			  struct kf_err *e)
{
	char tok[KF_TOKEN_HEX + 1];
	int r = kf_token_new(tok, e);
	if (r < 0)
		return r;
	if ((r = wbegin(st, e)) < 0)
		return r;
	sqlite3_stmt *s = stmt(st, S_SET_TOKEN);
	bind_text(s, 1, name);
	bind_text(s, 2, tok);
	sqlite3_bind_int64(s, 3, now());
	r = step_done(st, s, e, "rotate token");
	if (r == 0 && sqlite3_changes(st->db) == 0)
		r = kf_errc(e, -ENOENT, NULL, "state: unknown host \"%s\"", name);
	if (r == 0)
		r = log_event(st, name, "token", "rotated", e);
	if (r == 0 && token_out)
		memcpy(token_out, tok, sizeof(tok));
	return wend(st, r, e);
}

int kf_state_record_report(struct kf_state *st, const char *name, const char *json,
			   int drifted, int failed, struct kf_err *e)
{
	struct kf_host_rec h = { 0 };
	int r = wbegin(st, e);
	if (r < 0)
		return r;
	if ((r = read_locked(st, name, &h, e)) < 0)
		goto out;
	sqlite3_stmt *s = stmt(st, S_REPORT);
	bind_text(s, 1, name);
	bind_text(s, 2, json);
	sqlite3_bind_int64(s, 3, now());
	sqlite3_bind_int(s, 4, drifted ? 1 : 0);
	if ((r = step_done(st, s, e, "record report")) < 0)
		goto out;
	int want = failed ? KF_ST_FAILED : drifted ? KF_ST_DRIFTED : KF_ST_CONFIGURED;
	if (want != h.state) {
		s = stmt(st, S_SET_STATE);
		bind_text(s, 1, name);
		bind_text(s, 2, kf_install_state_name(want));
		sqlite3_bind_int64(s, 3, now());
		sqlite3_bind_int(s, 4, 0);
		if ((r = step_done(st, s, e, "set state")) < 0)
			goto out;
		char *msg = kf_xasprintf("%s -> %s: agent report", kf_install_state_name(h.state),
					 kf_install_state_name(want));
		r = log_event(st, name, "state", msg, e);
		free(msg);
	}
out:
	kf_host_rec_release(&h);
	return wend(st, r, e);
}

/* ---- events ---- */

int kf_state_list_events(struct kf_state *st, const char *name, size_t limit,
			 struct kf_event **out, size_t *n, struct kf_err *e)
{
	*out = NULL;
	*n = 0;
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

void kf_events_free(struct kf_event *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].host);
		free(v[i].what);
		free(v[i].detail);
	}
	free(v);
}

/* ---- tokens ---- */

int kf_token_new(char *out, struct kf_err *e)
{
	unsigned char raw[KF_TOKEN_BYTES];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kf_errc(e, -errno, NULL, "token: getrandom: %s", strerror(errno));
		}
		got += (size_t)n;
	}
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[KF_TOKEN_HEX] = 0;
	return 0;
}

int kf_token_equal(const char *a, const char *b)
{
	if (!a || !b || !*a || !*b)
		return 0;
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;
	size_t n = la < lb ? la : lb;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}
