/* The state store's PostgreSQL backend: the one file that talks to libpq,
 * opened at first use (lib/dl.h).  See state.h for the contract,
 * state_backend.h for the interface, docs/state.md for the user's side.
 *
 * The location is "postgresql:PATH", PATH a file readable by its owner
 * only that holds a libpq connection string or URI.  Its text and any
 * password in it are never printed: a DSN that does not parse is refused
 * without libpq's message (which quotes it).
 *
 * One connection per handle; calls are serialised by a mutex as in the
 * SQLite backend.  A batch (render, registering an inventory's hosts)
 * takes one advisory lock, so batches on every instance are serialised;
 * one operation's transaction that reads a host's row (the install-state
 * rules read it, then write it) first takes an advisory lock on that host
 * name, so moves of one host are serialised everywhere while different
 * hosts' callbacks run side by side.  A lost connection
 * is opened again at the next call that starts outside a transaction; a
 * transaction it broke fails (the server answers 503), it is never
 * silently retried halfway.  Changes to a host's install state, netboot
 * flag or token notify channel "kickfleet" in the same statement, so the
 * notice goes out exactly when the change commits. */
#include "provision/state_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dl.h"

#define FNS(F)                                                                            \
	F(PQconnectdb) F(PQconninfoParse) F(PQconninfoFree) F(PQstatus) F(PQerrorMessage) \
	F(PQfinish) F(PQexec) F(PQprepare) F(PQexecPrepared)                              \
	F(PQresultStatus) F(PQresultErrorField) F(PQclear) F(PQntuples) F(PQnfields)      \
	F(PQfname) F(PQftype) F(PQgetvalue) F(PQgetisnull) F(PQcmdTuples) F(PQsocket)     \
	F(PQconsumeInput) F(PQnotifies) F(PQfreemem) F(PQsetNoticeProcessor)
KF_DL_TABLE(FNS)
static struct kf_dl dl = KF_DL("libpq.so.5", "libpq", "cannot use a PostgreSQL state store",
			       resolve);

#define PREFIX "postgresql:"
#define CHANNEL "kickfleet"
#define PG_LOCK_WRITE "4242000001" /* pg_advisory_xact_lock keys: batches */
#define PG_LOCK_MIGRATE "4242000002"
#define DSN_MAX 4096

enum stmt_id {
	S_GET, S_FIND_MAC, S_PUT, S_PUT_RENDER, S_DELETE, S_LIST, S_LIST_DIGESTS, S_COUNTS,
	S_SET_STATE, S_SET_NETBOOT, S_SET_TOKEN, S_REPORT, S_EVENT, S_EVENTS_ALL, S_EVENTS_HOST,
	S_SET_FACTS, S_GET_FACTS, S_LIST_FACTS, S_PUT_DISC, S_LIST_DISC, S_DEL_DISC, S_SET_POWER,
	S_LIST_POWER, S_LOCK_HOST, S_GET_CRED, S_PUT_CRED, S_COUNT
};

#define HOST_COLS                                                                        \
	"name, kind, macs, role, state, state_since, created, netboot, token, token_gen, " \
	"token_issued, digest, report, report_time, drift_count, agent_version, last_exit"
#define HOST_VALS \
	"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
/* h->name's MACs ($18, an array) in host_macs: the rows of other MACs go,
 * the listed ones are inserted or moved to it (disjoint rows, so one
 * statement may do both) */
#define PUT_MACS                                                                          \
	", d AS (DELETE FROM host_macs WHERE name = $1 AND "                              \
	"mac <> ALL (SELECT lower(x) FROM unnest($18::text[]) x)), "                      \
	"m AS (INSERT INTO host_macs (mac, name) SELECT DISTINCT lower(x), $1 "           \
	"FROM unnest($18::text[]) x WHERE x <> '' ON CONFLICT (mac) DO UPDATE SET "        \
	"name = excluded.name WHERE host_macs.name <> excluded.name) "
/* an UPDATE of one row that notifies with payload $N when it changed one */
#define NOTIFY_UPDATE(upd, n) \
	"WITH u AS (" upd " RETURNING name) SELECT pg_notify('" CHANNEL "', $" n ") FROM u"

#define CRED_COLS "agent_hash, pending, next_hash, old_hash, gen, issued, rotated"

static const char *const stmt_sql[S_COUNT] = {
	[S_GET] = "SELECT " HOST_COLS " FROM hosts WHERE name = $1",
	[S_FIND_MAC] = "SELECT " HOST_COLS " FROM hosts WHERE name = "
		       "(SELECT name FROM host_macs WHERE mac = lower($1))",
	[S_PUT] = "WITH h AS (INSERT INTO hosts (" HOST_COLS ") VALUES " HOST_VALS
		  " ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, macs = excluded.macs, "
		  "role = excluded.role, state = excluded.state, state_since = excluded.state_since, "
		  "created = excluded.created, netboot = excluded.netboot, token = excluded.token, "
		  "token_gen = excluded.token_gen, token_issued = excluded.token_issued, "
		  "digest = excluded.digest, report = excluded.report, "
		  "report_time = excluded.report_time, drift_count = excluded.drift_count, "
		  "agent_version = excluded.agent_version, last_exit = excluded.last_exit "
		  "RETURNING name)" PUT_MACS "SELECT pg_notify('" CHANNEL "', $19) FROM h",
	/* render's columns only, its token when it issued one ($19) */
	[S_PUT_RENDER] = "WITH h AS (INSERT INTO hosts (" HOST_COLS ") VALUES " HOST_VALS
			 " ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, "
			 "macs = excluded.macs, role = excluded.role, digest = excluded.digest, "
			 "token = CASE WHEN $19::boolean THEN excluded.token ELSE hosts.token END, "
			 "token_gen = CASE WHEN $19::boolean THEN excluded.token_gen "
			 "ELSE hosts.token_gen END, token_issued = CASE WHEN $19::boolean "
			 "THEN excluded.token_issued ELSE hosts.token_issued END RETURNING name)"
			 PUT_MACS "SELECT count(*) FROM h",
	[S_DELETE] = "WITH h AS (DELETE FROM hosts WHERE name = $1 RETURNING name), "
		     "m AS (DELETE FROM host_macs WHERE name = $1), "
		     "c AS (DELETE FROM credentials WHERE name = $1) "
		     "SELECT pg_notify('" CHANNEL "', $2) FROM h",
	[S_LIST] = "SELECT " HOST_COLS " FROM hosts ORDER BY name",
	[S_LIST_DIGESTS] = "SELECT name, netboot, token, digest FROM hosts",
	[S_COUNTS] = "SELECT state, count(*), coalesce(sum(drift_count), 0) FROM hosts GROUP BY state",
	[S_SET_STATE] = NOTIFY_UPDATE("UPDATE hosts SET state = $2, state_since = $3, netboot = "
				      "CASE WHEN $4::boolean THEN 0 ELSE netboot END WHERE name = $1",
				      "5"),
	[S_SET_NETBOOT] = NOTIFY_UPDATE("UPDATE hosts SET netboot = $2 WHERE name = $1", "3"),
	[S_SET_TOKEN] = NOTIFY_UPDATE("UPDATE hosts SET token = $2, token_gen = token_gen + 1, "
				      "token_issued = $3 WHERE name = $1", "4"),
	[S_REPORT] = "UPDATE hosts SET report = $2, report_time = $3, drift_count = drift_count + $4, "
		     "agent_version = $5, last_exit = $6 WHERE name = $1",
	[S_EVENT] = "INSERT INTO events (time, host, what, detail) VALUES ($1, $2, $3, $4)",
	[S_EVENTS_ALL] = "SELECT id, time, host, what, detail FROM "
			 "(SELECT * FROM events ORDER BY id DESC LIMIT $1) e ORDER BY id",
	[S_EVENTS_HOST] = "SELECT id, time, host, what, detail FROM (SELECT * FROM events "
			  "WHERE host = $2 ORDER BY id DESC LIMIT $1) e ORDER BY id",
	[S_SET_FACTS] = "INSERT INTO facts (name, json, summary, time) VALUES ($1, $2, $3, $4) "
			"ON CONFLICT (name) DO UPDATE SET json = excluded.json, "
			"summary = excluded.summary, time = excluded.time",
	[S_GET_FACTS] = "SELECT json, time FROM facts WHERE name = $1",
	[S_LIST_FACTS] = "SELECT name, summary, time FROM facts ORDER BY name",
	[S_PUT_DISC] = "INSERT INTO discovered (mac, json, peer, first_seen, last_seen, count) "
		       "VALUES (lower($1), $2, $3, $4, $4, 1) ON CONFLICT (mac) DO UPDATE SET "
		       "json = excluded.json, peer = excluded.peer, last_seen = excluded.last_seen, "
		       "count = discovered.count + 1",
	[S_LIST_DISC] = "SELECT mac, json, peer, first_seen, last_seen, count FROM discovered "
			"ORDER BY mac",
	[S_DEL_DISC] = "DELETE FROM discovered WHERE mac = lower($1)",
	/* a failure keeps the last known power state ($2 is -1 then) */
	[S_SET_POWER] = "INSERT INTO power (name, power, action, time, result, errors) "
			"VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET "
			"power = CASE WHEN $2 < 0 THEN power.power ELSE $2 END, action = $3, "
			"time = $4, result = $5, errors = power.errors + $6",
	[S_LIST_POWER] = "SELECT name, power, action, time, result, errors FROM power ORDER BY name",
	[S_GET_CRED] = "SELECT " CRED_COLS " FROM credentials WHERE name = $1",
	/* another provisioner's cache of this host is stale: notify ($9) */
	[S_PUT_CRED] = "WITH c AS (INSERT INTO credentials (name, " CRED_COLS ") VALUES "
		       "($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO UPDATE SET "
		       "agent_hash = excluded.agent_hash, pending = excluded.pending, "
		       "next_hash = excluded.next_hash, old_hash = excluded.old_hash, "
		       "gen = excluded.gen, issued = excluded.issued, rotated = excluded.rotated "
		       "RETURNING name) SELECT pg_notify('" CHANNEL "', $9) FROM c",
	/* one host's moves, in the two-key space (batches use the one-key one) */
	[S_LOCK_HOST] = "SELECT pg_advisory_xact_lock(4242, hashtext($1))",
};

struct pg {
	struct kf_state base; /* first: the handle state.c passes */
	PGconn *conn;
	char *file;           /* the DSN file, for messages */
	char *dsn;            /* its text: never printed */
	pthread_mutex_t lock; /* recursive: a transaction holds it from begin to end */
	int in_tx;            /* 0, 1 (one operation's), 2 (a batch) */
	bool listening, missed;
	char id[32];          /* this handle's mark in notices' payloads */
	const char *load_table; /* the table statement "kfload" inserts into */
	bool prepared[S_COUNT]; /* on this connection: each on its first use */
};

static struct pg *pg_of(struct kf_state *st)
{
	return (struct pg *)st;
}

/* The text parameters of one statement. */
struct params {
	const char *v[24];
	char num[12][24];
	int n, nnum;
};

static void p_str(struct params *p, const char *s)
{
	p->v[p->n++] = s;
}

static void p_int(struct params *p, int64_t v)
{
	char *b = p->num[p->nnum++];
	snprintf(b, sizeof(p->num[0]), "%" PRId64, v);
	p->v[p->n++] = b;
}

/* ---- errors ---- */

/* libpq's message for the connection, its first line only. */
static int conn_err(struct pg *st, struct kf_err *e, int code, const char *what)
{
	const char *m = st->conn ? lib.PQerrorMessage(st->conn) : "";
	size_t n = strcspn(m, "\n");
	return kf_errc(e, code, NULL, "state %s: %s: %.*s", st->file, what, (int)n,
		       n ? m : "out of memory");
}

/* res is not NULL, of status want: 0; else an error (res is cleared). */
static int res_err(struct pg *st, PGresult *res, struct kf_err *e, const char *what)
{
	if (!res || lib.PQstatus(st->conn) != CONNECTION_OK) {
		lib.PQclear(res);
		return conn_err(st, e, -ECONNRESET, what);
	}
	const char *code = lib.PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = lib.PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	int r = !code ? -EIO
		: !strncmp(code, "23", 2) ? -EEXIST
		: !strcmp(code, "40001") || !strcmp(code, "40P01") || !strcmp(code, "55P03") ? -EBUSY
		: !strncmp(code, "08", 2) || !strncmp(code, "57P", 3) ? -ECONNRESET
		: !strcmp(code, "53100") ? -ENOSPC
		: !strncmp(code, "42", 2) ? -EPROTO
		: -EIO;
	r = kf_errc(e, r, NULL, "state %s: %s: %s", st->file, what, msg ? msg : "error");
	lib.PQclear(res);
	return r;
}

/* Prepares a statement on its first use on this connection (a command
 * runs a few of them, not the whole table); a failed Parse comes back as
 * the result, for the caller's message. */
static PGresult *run(struct pg *st, enum stmt_id id, const struct params *p)
{
	char name[16];
	snprintf(name, sizeof(name), "kf%d", (int)id);
	if (!st->prepared[id]) {
		PGresult *res = lib.PQprepare(st->conn, name, stmt_sql[id], 0, NULL);
		if (!res || lib.PQresultStatus(res) != PGRES_COMMAND_OK)
			return res;
		lib.PQclear(res);
		st->prepared[id] = true;
	}
	return lib.PQexecPrepared(st->conn, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0);
}

/* Runs a statement whose result is kept: 0 with *res, or an error. */
static int query(struct pg *st, enum stmt_id id, const struct params *p, PGresult **res,
		 struct kf_err *e, const char *what)
{
	*res = run(st, id, p);
	ExecStatusType s = *res ? lib.PQresultStatus(*res) : PGRES_FATAL_ERROR;
	if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)
		return 0;
	int r = res_err(st, *res, e, what);
	*res = NULL;
	return r;
}

/* A write: 0, -ENOENT when want_row and it changed no row, or an error. */
static int command(struct pg *st, enum stmt_id id, const struct params *p, bool want_row,
		   struct kf_err *e, const char *what)
{
	PGresult *res;
	int r = query(st, id, p, &res, e, what);
	if (r < 0)
		return r;
	if (want_row) {
		bool rows = lib.PQresultStatus(res) == PGRES_TUPLES_OK;
		const char *n = rows ? NULL : lib.PQcmdTuples(res);
		if (rows ? lib.PQntuples(res) == 0 : (!n || !strcmp(n, "0")))
			r = -ENOENT;
	}
	lib.PQclear(res);
	return r;
}

static int exec(struct pg *st, const char *sql, struct kf_err *e, const char *what)
{
	PGresult *res = lib.PQexec(st->conn, sql);
	ExecStatusType s = res ? lib.PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		lib.PQclear(res);
		return 0;
	}
	return res_err(st, res, e, what);
}

/* ---- the DSN file ---- */

/* Reads the DSN from path, which must be a regular file readable by its
 * owner only; checks that it parses (without ever printing it). */
static int read_dsn(struct pg *st, const char *path, struct kf_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat sb;
	int r = 0;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		r = kf_errc(e, -errno, NULL, "state %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		r = kf_errc(e, -EINVAL, NULL, "state %s: the DSN file is not a regular file", path);
		goto out;
	}
	if (sb.st_mode & 077) {
		r = kf_errc(e, -EACCES, NULL, "state %s: the DSN file is readable by group or others "
			    "(mode %04o): chmod 600 it", path, (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	char *buf = kf_xcalloc(1, DSN_MAX + 1);
	ssize_t n = read(fd, buf, DSN_MAX + 1);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	if (n <= 0 || n > DSN_MAX || memchr(buf, '\n', (size_t)n)) {
		r = kf_errc(e, -EINVAL, NULL, "state %s: the DSN file must hold one connection string "
			    "(one line, at most %d bytes)", path, DSN_MAX);
		explicit_bzero(buf, DSN_MAX + 1);
		free(buf);
		goto out;
	}
	char *why = NULL;
	PQconninfoOption *opts = lib.PQconninfoParse(buf, &why);
	if (!opts) {
		lib.PQfreemem(why); /* it quotes the DSN: not shown */
		r = kf_errc(e, -EINVAL, NULL, "state %s: the connection string in it does not parse "
			    "(see docs/state.md)", path);
		explicit_bzero(buf, DSN_MAX + 1);
		free(buf);
		goto out;
	}
	lib.PQconninfoFree(opts);
	st->dsn = buf;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* ---- connection, schema ---- */

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* NOTICEs ("relation exists, skipping"): not the user's business */
}

/* Runs the schema steps the database has not run, under a lock, so two
 * instances starting on a new database run each step once. */
static int migrate(struct pg *st, struct kf_err *e)
{
	int r = exec(st, "BEGIN; SELECT pg_advisory_xact_lock(" PG_LOCK_MIGRATE "); "
		     "CREATE TABLE IF NOT EXISTS kf_schema (version INTEGER NOT NULL); "
		     "INSERT INTO kf_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM kf_schema)",
		     e, "schema");
	if (r < 0)
		goto fail;
	PGresult *res = lib.PQexec(st->conn, "SELECT version FROM kf_schema");
	if (!res || lib.PQresultStatus(res) != PGRES_TUPLES_OK || lib.PQntuples(res) != 1) {
		r = res_err(st, res, e, "schema version");
		goto fail;
	}
	int v = atoi(lib.PQgetvalue(res, 0, 0));
	lib.PQclear(res);
	st->base.schema_from = v;
	if (v > (int)kf_state_nmigrations) {
		r = kf_errc(e, -EPROTO, NULL, "state %s: schema version %d is newer than this "
			    "kickfleet's (%zu)", st->file, v, kf_state_nmigrations);
		goto fail;
	}
	for (; r == 0 && v < (int)kf_state_nmigrations; v++) {
		char what[64];
		snprintf(what, sizeof(what), "schema step %d", v + 1);
		if ((r = exec(st, kf_state_migrations[v].postgresql, e, what)) == 0) {
			char sql[64];
			snprintf(sql, sizeof(sql), "UPDATE kf_schema SET version = %d", v + 1);
			r = exec(st, sql, e, what);
		}
	}
	if (r == 0 && (r = exec(st, "COMMIT", e, "schema")) == 0)
		return 0;
fail:
	exec(st, "ROLLBACK", NULL, "schema");
	return r;
}

/* (Re)connects and migrates; statements are prepared as they are used. */
static int connect_db(struct pg *st, struct kf_err *e)
{
	if (st->conn)
		lib.PQfinish(st->conn);
	st->missed |= st->listening;
	st->listening = false;
	st->load_table = NULL;
	memset(st->prepared, 0, sizeof(st->prepared));
	st->conn = lib.PQconnectdb(st->dsn);
	if (!st->conn || lib.PQstatus(st->conn) != CONNECTION_OK)
		return conn_err(st, e, -ECONNREFUSED, "cannot connect");
	lib.PQsetNoticeProcessor(st->conn, quiet, NULL);
	int r = migrate(st, e);
	if (r < 0) {
		lib.PQfinish(st->conn);
		st->conn = NULL;
	}
	return r;
}

/* The connection, opened again if it was lost (outside a transaction
 * only: a broken one fails as it is). */
static int ready(struct pg *st, struct kf_err *e)
{
	if (st->conn && lib.PQstatus(st->conn) == CONNECTION_OK)
		return 0;
	if (st->in_tx)
		return conn_err(st, e, -ECONNRESET, "connection lost");
	return connect_db(st, e);
}

static void pg_close(struct kf_state *base)
{
	struct pg *st = pg_of(base);
	if (!st)
		return;
	if (st->conn)
		lib.PQfinish(st->conn);
	if (st->dsn) {
		explicit_bzero(st->dsn, strlen(st->dsn));
		free(st->dsn);
	}
	pthread_mutex_destroy(&st->lock);
	free(st->file);
	free(st);
}

static char nonce_buf[17];

static void make_nonce(void)
{
	char tok[KF_TOKEN_HEX + 1] = "";
	if (kf_token_new(tok, NULL) < 0)
		snprintf(tok, sizeof(tok), "%016lx", (unsigned long)time(NULL));
	memcpy(nonce_buf, tok, sizeof(nonce_buf) - 1);
}

static int pg_open(struct kf_state **out, const char *where, struct kf_err *e)
{
	*out = NULL;
	const char *path = where + strlen(PREFIX);
	int r = kf_dl_load(&dl, e);
	if (r < 0)
		return r;
	struct pg *st = kf_xcalloc(1, sizeof(*st));
	st->base.ops = &kf_state_postgresql;
	st->file = kf_xstrdup(path);
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, make_nonce);
	/* the same for every handle of this process, not its forks' */
	snprintf(st->id, sizeof(st->id), "%ld.%s", (long)getpid(), nonce_buf);
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&st->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if ((r = read_dsn(st, path, e)) < 0 || (r = connect_db(st, e)) < 0)
		goto out;
	*out = &st->base;
	st = NULL;
out:
	pg_close(st ? &st->base : NULL);
	return r;
}

static bool pg_accepts(const char *where)
{
	return !strncmp(where, PREFIX, strlen(PREFIX));
}

/* ---- transactions ---- */

static int pg_begin(struct kf_state *base, bool batch, struct kf_err *e)
{
	struct pg *st = pg_of(base);
	pthread_mutex_lock(&st->lock);
	if (st->in_tx && batch) {
		pthread_mutex_unlock(&st->lock);
		return kf_errc(e, -EBUSY, NULL, "state %s: a batch is already open", st->file);
	}
	if (st->in_tx)
		return 0; /* a part of the batch */
	const char *sql = batch ? "BEGIN; SELECT pg_advisory_xact_lock(" PG_LOCK_WRITE ")" : "BEGIN";
	int r = ready(st, e);
	if (r == 0 && (r = exec(st, sql, NULL, "begin")) == -ECONNRESET) {
		/* the connection had gone (a server restart): once more on a new one */
		if ((r = connect_db(st, e)) == 0)
			r = exec(st, sql, e, "begin");
	} else if (r < 0 && r != -ECONNREFUSED) {
		r = exec(st, sql, e, "begin");
	}
	if (r < 0) {
		pthread_mutex_unlock(&st->lock);
		return r;
	}
	st->in_tx = batch ? 2 : 1;
	return 0; /* the lock stays held until end */
}

static int pg_end(struct kf_state *base, bool batch, bool commit, struct kf_err *e)
{
	struct pg *st = pg_of(base);
	if (batch && st->in_tx != 2)
		return kf_errc(e, -EINVAL, NULL, "state %s: no batch is open", st->file);
	int r = 0;
	if (batch || st->in_tx != 2) {
		r = exec(st, commit ? "COMMIT" : "ROLLBACK", commit || batch ? e : NULL,
			 commit ? "commit" : "rollback");
		if (r < 0 && commit)
			exec(st, "ROLLBACK", NULL, "rollback");
		st->in_tx = 0;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* Reads outside a transaction start on a live connection. */
static int read_begin(struct pg *st, struct kf_err *e)
{
	pthread_mutex_lock(&st->lock);
	int r = ready(st, e);
	if (r < 0)
		pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- rows ---- */

static char *val_dup(PGresult *res, int row, int col)
{
	return lib.PQgetisnull(res, row, col) ? NULL : kf_xstrdup(lib.PQgetvalue(res, row, col));
}

static int64_t val_int(PGresult *res, int row, int col)
{
	return strtoll(lib.PQgetvalue(res, row, col), NULL, 10);
}

static void read_row(PGresult *res, int i, struct kf_host_rec *h)
{
	memset(h, 0, sizeof(*h));
	h->name = val_dup(res, i, 0);
	h->kind = !strcmp(lib.PQgetvalue(res, i, 1), "guest") ? KF_KIND_GUEST : KF_KIND_HOST;
	kf_state_macs_split(lib.PQgetvalue(res, i, 2), h);
	h->role = kf_xstrdup(lib.PQgetvalue(res, i, 3));
	int state = kf_install_state_parse(lib.PQgetvalue(res, i, 4));
	h->state = state < 0 ? KF_ST_NEW : state;
	h->state_since = val_int(res, i, 5);
	h->created = val_int(res, i, 6);
	h->netboot = (int)val_int(res, i, 7);
	snprintf(h->token, sizeof(h->token), "%s", lib.PQgetvalue(res, i, 8));
	h->token_gen = val_int(res, i, 9);
	h->token_issued = val_int(res, i, 10);
	snprintf(h->digest, sizeof(h->digest), "%s", lib.PQgetvalue(res, i, 11));
	h->report = val_dup(res, i, 12);
	h->report_time = val_int(res, i, 13);
	h->drift_count = val_int(res, i, 14);
	h->agent_version = kf_xstrdup(lib.PQgetvalue(res, i, 15));
	h->last_exit = (int)val_int(res, i, 16);
}

/* A read: the statement's result in *res (clear it) with the lock held
 * until read_end. */
static int read_q(struct pg *st, enum stmt_id id, const struct params *p, PGresult **res,
		  struct kf_err *e, const char *what)
{
	*res = NULL;
	int r = read_begin(st, e);
	if (r < 0)
		return r;
	if ((r = query(st, id, p, res, e, what)) < 0)
		pthread_mutex_unlock(&st->lock);
	return r;
}

static void read_end(struct pg *st, PGresult *res)
{
	lib.PQclear(res);
	pthread_mutex_unlock(&st->lock);
}

static int pg_get_host(struct kf_state *base, const char *name, const char *mac,
		       struct kf_host_rec *out, struct kf_err *e)
{
	struct pg *st = pg_of(base);
	struct params p = { 0 };
	p_str(&p, name ? name : mac);
	PGresult *res;
	int r = 0;
	pthread_mutex_lock(&st->lock); /* in_tx is the holder's */
	if (name && st->in_tx == 1) /* read to be written: one writer per host */
		r = command(st, S_LOCK_HOST, &p, false, e, "lock host");
	if (r == 0 && (r = read_q(st, name ? S_GET : S_FIND_MAC, &p, &res, e, "read host")) == 0) {
		if (lib.PQntuples(res) == 1)
			read_row(res, 0, out);
		else
			r = -ENOENT;
		read_end(st, res);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* MACs as an array literal, each element quoted. */
static void macs_array(const struct kf_host_rec *h, struct kf_buf *b)
{
	kf_buf_puts(b, "{");
	for (size_t i = 0; i < h->nmacs; i++) {
		kf_buf_puts(b, i ? ",\"" : "\"");
		for (const char *c = h->macs[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				kf_buf_puts(b, "\\");
			kf_buf_add(b, c, 1);
		}
		kf_buf_puts(b, "\"");
	}
	kf_buf_puts(b, "}");
}

/* The notice's payload: this handle's mark, a space, the host. */
static char *payload(struct pg *st, const char *host)
{
	return kf_xasprintf("%s %s", st->id, host);
}

static int pg_put_host(struct kf_state *base, const struct kf_host_rec *h, enum kf_put_mode mode,
		       struct kf_err *e)
{
	struct pg *st = pg_of(base);
	struct kf_buf macs = KF_BUF_INIT, arr = KF_BUF_INIT;
	kf_state_macs_join(h, &macs);
	macs_array(h, &arr);
	const char *state = kf_install_state_name(h->state);
	struct params p = { 0 };
	p_str(&p, h->name);
	p_str(&p, kf_host_kind_name(h->kind));
	p_str(&p, macs.s ? macs.s : "");
	p_str(&p, h->role ? h->role : "");
	p_str(&p, state ? state : "new");
	p_int(&p, h->state_since);
	p_int(&p, h->created ? h->created : (int64_t)time(NULL));
	p_int(&p, h->netboot ? 1 : 0);
	p_str(&p, h->token);
	p_int(&p, h->token_gen);
	p_int(&p, h->token_issued);
	p_str(&p, h->digest);
	p_str(&p, h->report);
	p_int(&p, h->report_time);
	p_int(&p, h->drift_count);
	p_str(&p, h->agent_version ? h->agent_version : "");
	/* a row written whole keeps "no report" unless it has one */
	p_int(&p, h->report_time > 0 ? h->last_exit : -1);
	p_str(&p, arr.s);
	char *note = mode == KF_PUT_ALL ? payload(st, h->name) : NULL;
	p_str(&p, mode == KF_PUT_ALL ? note : mode == KF_PUT_RENDER_TOKEN ? "true" : "false");
	int r = command(st, mode == KF_PUT_ALL ? S_PUT : S_PUT_RENDER, &p, false, e, "write host");
	free(note);
	kf_buf_release(&macs);
	kf_buf_release(&arr);
	return r;
}

/* A write of one row of host name with payload as the last parameter. */
static int notify_cmd(struct pg *st, enum stmt_id id, struct params *p, const char *name,
		      struct kf_err *e, const char *what)
{
	char *note = payload(st, name);
	p_str(p, note);
	int r = command(st, id, p, true, e, what);
	free(note);
	return r;
}

static int pg_delete_host(struct kf_state *base, const char *name, struct kf_err *e)
{
	struct params p = { 0 };
	p_str(&p, name);
	return notify_cmd(pg_of(base), S_DELETE, &p, name, e, "delete host");
}

static int pg_list_hosts(struct kf_state *base, struct kf_host_rec **out, size_t *n,
			 struct kf_err *e)
{
	struct pg *st = pg_of(base);
	PGresult *res;
	int r = read_q(st, S_LIST, NULL, &res, e, "list hosts");
	if (r < 0)
		return r;
	size_t len = (size_t)lib.PQntuples(res);
	struct kf_host_rec *v = kf_xcalloc(len + 1, sizeof(*v));
	for (size_t i = 0; i < len; i++)
		read_row(res, (int)i, &v[i]);
	read_end(st, res);
	*out = v;
	*n = len;
	return 0;
}

static int pg_count_states(struct kf_state *base, size_t by_state[KF_ST_COUNT], long long *drift,
			   struct kf_err *e)
{
	struct pg *st = pg_of(base);
	PGresult *res;
	int r = read_q(st, S_COUNTS, NULL, &res, e, "count hosts");
	if (r < 0)
		return r;
	for (int i = 0; i < lib.PQntuples(res); i++) {
		int state = kf_install_state_parse(lib.PQgetvalue(res, i, 0));
		by_state[state < 0 ? KF_ST_NEW : state] += (size_t)val_int(res, i, 1);
		*drift += (long long)val_int(res, i, 2);
	}
	read_end(st, res);
	return 0;
}

static int pg_list_digests(struct kf_state *base, struct kf_host_digest **out, size_t *n,
			   struct kf_err *e)
{
	struct pg *st = pg_of(base);
	PGresult *res;
	int r = read_q(st, S_LIST_DIGESTS, NULL, &res, e, "list hosts");
	if (r < 0)
		return r;
	struct kf_digests_acc acc = { 0 };
	for (int i = 0; i < lib.PQntuples(res); i++)
		kf_digests_add(&acc, lib.PQgetvalue(res, i, 0), (int)val_int(res, i, 1),
			       lib.PQgetvalue(res, i, 2), lib.PQgetvalue(res, i, 3));
	read_end(st, res);
	kf_digests_finish(&acc, out, n);
	return 0;
}

/* ---- column updates ---- */

static int pg_set_state(struct kf_state *base, const char *name, int state, int64_t since,
			bool clear_netboot, struct kf_err *e)
{
	struct params p = { 0 };
	p_str(&p, name);
	p_str(&p, kf_install_state_name(state));
	p_int(&p, since);
	p_str(&p, clear_netboot ? "true" : "false");
	return notify_cmd(pg_of(base), S_SET_STATE, &p, name, e, "set state");
}

static int pg_set_netboot(struct kf_state *base, const char *name, bool on, struct kf_err *e)
{
	struct params p = { 0 };
	p_str(&p, name);
	p_int(&p, on ? 1 : 0);
	return notify_cmd(pg_of(base), S_SET_NETBOOT, &p, name, e, "set netboot");
}

static int pg_set_token(struct kf_state *base, const char *name, const char *token,
			int64_t issued, struct kf_err *e)
{
	struct params p = { 0 };
	p_str(&p, name);
	p_str(&p, token);
	p_int(&p, issued);
	return notify_cmd(pg_of(base), S_SET_TOKEN, &p, name, e, "rotate token");
}

static int pg_set_report(struct kf_state *base, const char *name, const char *json, int64_t time,
			 const struct kf_report_info *ri, struct kf_err *e)
{
	struct params p = { 0 };
	p_str(&p, name);
	p_str(&p, json);
	p_int(&p, time);
	p_int(&p, ri->drifted ? 1 : 0);
	p_str(&p, ri->agent_version);
	p_int(&p, ri->exit_code);
	return command(pg_of(base), S_REPORT, &p, true, e, "record report");
}

/* ---- events ---- */

static int pg_log_event(struct kf_state *base, const char *name, const char *what,
			const char *detail, struct kf_err *e)
{
	struct params p = { 0 };
	p_int(&p, (int64_t)time(NULL));
	p_str(&p, name);
	p_str(&p, what);
	p_str(&p, detail);
	return command(pg_of(base), S_EVENT, &p, false, e, "log event");
}

static int pg_list_events(struct kf_state *base, const char *name, size_t limit,
			  struct kf_event **out, size_t *n, struct kf_err *e)
{
	struct pg *st = pg_of(base);
	struct params p = { 0 };
	if (limit)
		p_int(&p, (int64_t)limit);
	else
		p_str(&p, NULL); /* LIMIT NULL: all */
	if (name)
		p_str(&p, name);
	PGresult *res;
	int r = read_q(st, name ? S_EVENTS_HOST : S_EVENTS_ALL, &p, &res, e, "list events");
	if (r < 0)
		return r;
	size_t len = (size_t)lib.PQntuples(res);
	struct kf_event *v = kf_xcalloc(len + 1, sizeof(*v));
	for (size_t i = 0; i < len; i++) {
		v[i].id = val_int(res, (int)i, 0);
		v[i].time = val_int(res, (int)i, 1);
		v[i].host = val_dup(res, (int)i, 2);
		v[i].what = val_dup(res, (int)i, 3);
		v[i].detail = val_dup(res, (int)i, 4);
	}
	read_end(st, res);
	*out = v;
	*n = len;
	return 0;
}

/* ---- facts, discovered machines ---- */

static int pg_set_facts(struct kf_state *base, const char *name, const char *json, const char *summary,
			int64_t time, struct kf_err *e)
{
	struct params p = { 0 };
	p_str(&p, name);
	p_str(&p, json);
	p_str(&p, summary ? summary : "");
	p_int(&p, time);
	return command(pg_of(base), S_SET_FACTS, &p, false, e, "record facts");
}

static int pg_get_facts(struct kf_state *base, const char *name, char **json, int64_t *time,
			struct kf_err *e)
{
	struct pg *st = pg_of(base);
	struct params p = { 0 };
	p_str(&p, name);
	PGresult *res;
	int r = read_q(st, S_GET_FACTS, &p, &res, e, "read facts");
	if (r < 0)
		return r;
	if (lib.PQntuples(res) == 1) {
		*json = val_dup(res, 0, 0);
		*time = val_int(res, 0, 1);
	} else {
		r = -ENOENT;
	}
	read_end(st, res);
	return r;
}

static int pg_list_facts(struct kf_state *base, struct kf_facts_row **out, size_t *n, struct kf_err *e)
{
	struct pg *st = pg_of(base);
	PGresult *res;
	int r = read_q(st, S_LIST_FACTS, NULL, &res, e, "list facts");
	if (r < 0)
		return r;
	size_t len = (size_t)lib.PQntuples(res);
	struct kf_facts_row *v = kf_xcalloc(len + 1, sizeof(*v));
	for (size_t i = 0; i < len; i++) {
		v[i].name = val_dup(res, (int)i, 0);
		v[i].summary = val_dup(res, (int)i, 1);
		v[i].time = val_int(res, (int)i, 2);
	}
	read_end(st, res);
	*out = v;
	*n = len;
	return 0;
}

static int pg_put_discovered(struct kf_state *base, const char *mac, const char *json, const char *peer,
			     int64_t time, struct kf_err *e)
{
	struct params p = { 0 };
	p_str(&p, mac);
	p_str(&p, json);
	p_str(&p, peer ? peer : "");
	p_int(&p, time);
	return command(pg_of(base), S_PUT_DISC, &p, false, e, "record a discovered machine");
}

static int pg_list_discovered(struct kf_state *base, struct kf_discovered **out, size_t *n,
			      struct kf_err *e)
{
	struct pg *st = pg_of(base);
	PGresult *res;
	int r = read_q(st, S_LIST_DISC, NULL, &res, e, "list discovered machines");
	if (r < 0)
		return r;
	size_t len = (size_t)lib.PQntuples(res);
	struct kf_discovered *v = kf_xcalloc(len + 1, sizeof(*v));
	for (size_t i = 0; i < len; i++) {
		v[i].mac = val_dup(res, (int)i, 0);
		v[i].json = val_dup(res, (int)i, 1);
		v[i].peer = val_dup(res, (int)i, 2);
		v[i].first_seen = val_int(res, (int)i, 3);
		v[i].last_seen = val_int(res, (int)i, 4);
		v[i].count = val_int(res, (int)i, 5);
	}
	read_end(st, res);
	*out = v;
	*n = len;
	return 0;
}

static int pg_delete_discovered(struct kf_state *base, const char *mac, struct kf_err *e)
{
	struct params p = { 0 };
	p_str(&p, mac);
	return command(pg_of(base), S_DEL_DISC, &p, true, e, "forget a discovered machine");
}

/* ---- power ---- */

static int pg_set_power(struct kf_state *base, const char *name, int power, const char *action,
			int64_t time, const char *error, struct kf_err *e)
{
	struct params p = { 0 };
	p_str(&p, name);
	p_int(&p, error ? -1 : power);
	p_str(&p, action);
	p_int(&p, time);
	p_str(&p, error ? error : "ok");
	p_int(&p, error != NULL);
	return command(pg_of(base), S_SET_POWER, &p, false, e, "record power");
}

static int pg_list_power(struct kf_state *base, struct kf_power_row **out, size_t *n, struct kf_err *e)
{
	struct pg *st = pg_of(base);
	PGresult *res;
	int r = read_q(st, S_LIST_POWER, NULL, &res, e, "list power");
	if (r < 0)
		return r;
	size_t len = (size_t)lib.PQntuples(res);
	struct kf_power_row *v = kf_xcalloc(len + 1, sizeof(*v));
	for (size_t i = 0; i < len; i++) {
		v[i].name = val_dup(res, (int)i, 0);
		v[i].power = (int)val_int(res, (int)i, 1);
		v[i].action = val_dup(res, (int)i, 2);
		v[i].time = val_int(res, (int)i, 3);
		v[i].result = val_dup(res, (int)i, 4);
		v[i].errors = val_int(res, (int)i, 5);
	}
	read_end(st, res);
	*out = v;
	*n = len;
	return 0;
}

/* ---- agent credentials ---- */

static int pg_get_cred(struct kf_state *base, const char *name, struct kf_cred *out,
		       struct kf_err *e)
{
	struct pg *st = pg_of(base);
	struct params p = { 0 };
	p_str(&p, name);
	PGresult *res;
	memset(out, 0, sizeof(*out));
	int r = read_q(st, S_GET_CRED, &p, &res, e, "read credential");
	if (r < 0)
		return r;
	if (lib.PQntuples(res) == 1) {
		snprintf(out->hash, sizeof(out->hash), "%s", lib.PQgetvalue(res, 0, 0));
		snprintf(out->pending, sizeof(out->pending), "%s", lib.PQgetvalue(res, 0, 1));
		snprintf(out->next, sizeof(out->next), "%s", lib.PQgetvalue(res, 0, 2));
		snprintf(out->old, sizeof(out->old), "%s", lib.PQgetvalue(res, 0, 3));
		out->gen = val_int(res, 0, 4);
		out->issued = val_int(res, 0, 5);
		out->rotated = val_int(res, 0, 6);
	} else {
		r = -ENOENT;
	}
	read_end(st, res);
	return r;
}

static int pg_put_cred(struct kf_state *base, const char *name, const struct kf_cred *c,
		       struct kf_err *e)
{
	struct params p = { 0 };
	p_str(&p, name);
	p_str(&p, c->hash);
	p_str(&p, c->pending);
	p_str(&p, c->next);
	p_str(&p, c->old);
	p_int(&p, c->gen);
	p_int(&p, c->issued);
	p_int(&p, c->rotated);
	return notify_cmd(pg_of(base), S_PUT_CRED, &p, name, e, "write credential");
}

/* ---- export, import ---- */

static int dump_table(struct pg *st, const struct kf_state_table *t, const struct kf_state_sink *k,
		      struct kf_err *e)
{
	char *sql = kf_xasprintf("SELECT * FROM \"%s\" ORDER BY \"%s\"", t->name, t->key);
	PGresult *res = lib.PQexec(st->conn, sql);
	free(sql);
	if (!res || lib.PQresultStatus(res) != PGRES_TUPLES_OK)
		return res_err(st, res, e, "export");
	size_t n = (size_t)lib.PQnfields(res);
	const char **cols = kf_xcalloc(n + 1, sizeof(*cols));
	const char **vals = kf_xcalloc(n + 1, sizeof(*vals));
	bool *is_int = kf_xcalloc(n + 1, sizeof(*is_int));
	for (size_t i = 0; i < n; i++) {
		cols[i] = lib.PQfname(res, (int)i);
		Oid type = lib.PQftype(res, (int)i);
		is_int[i] = type == 20 || type == 21 || type == 23; /* int8, int2, int4 */
	}
	int r = k->table(k->ctx, t->name, n, cols);
	for (int row = 0; r >= 0 && row < lib.PQntuples(res); row++) {
		for (size_t i = 0; i < n; i++)
			vals[i] = lib.PQgetisnull(res, row, (int)i) ? NULL
								     : lib.PQgetvalue(res, row, (int)i);
		r = k->row(k->ctx, vals, is_int);
	}
	lib.PQclear(res);
	free(cols);
	free(vals);
	free(is_int);
	return r;
}

static int pg_dump(struct kf_state *base, const struct kf_state_sink *sink, struct kf_err *e)
{
	struct pg *st = pg_of(base);
	int r = read_begin(st, e);
	if (r < 0)
		return r;
	/* one snapshot for every table */
	r = exec(st, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", e, "export");
	for (size_t i = 0; r >= 0 && i < kf_state_ntables; i++)
		r = dump_table(st, &kf_state_tables[i], sink, e);
	exec(st, "COMMIT", NULL, "export");
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* Prepares "kfload", the INSERT of import's rows into table. */
static int prepare_load(struct pg *st, const char *table, size_t ncols, const char *const *cols,
			struct kf_err *e)
{
	if (st->load_table)
		exec(st, "DEALLOCATE kfload", NULL, "import");
	st->load_table = NULL;
	struct kf_buf sql = KF_BUF_INIT;
	kf_buf_printf(&sql, "INSERT INTO \"%s\" (", table);
	for (size_t i = 0; i < ncols; i++)
		kf_buf_printf(&sql, "%s\"%s\"", i ? ", " : "", cols[i]);
	kf_buf_puts(&sql, ") VALUES (");
	for (size_t i = 0; i < ncols; i++)
		kf_buf_printf(&sql, "%s$%zu", i ? ", " : "", i + 1);
	kf_buf_puts(&sql, ")");
	PGresult *res = lib.PQprepare(st->conn, "kfload", sql.s, 0, NULL);
	kf_buf_release(&sql);
	if (!res || lib.PQresultStatus(res) != PGRES_COMMAND_OK)
		return res_err(st, res, e, "import");
	lib.PQclear(res);
	st->load_table = table;
	return 0;
}

static int pg_load(struct kf_state *base, const char *table, size_t ncols, const char *const *cols,
		   const char *const *vals, struct kf_err *e)
{
	struct pg *st = pg_of(base);
	int r = st->load_table == table ? 0 : prepare_load(st, table, ncols, cols, e);
	if (r < 0)
		return r;
	PGresult *res = lib.PQexecPrepared(st->conn, "kfload", (int)ncols, vals, NULL, NULL, 0);
	if (res && lib.PQresultStatus(res) == PGRES_COMMAND_OK) {
		lib.PQclear(res);
		return 0;
	}
	return res_err(st, res, e, "import");
}

static int pg_loaded(struct kf_state *base, struct kf_err *e)
{
	/* the next event's id follows the imported ones */
	return exec(pg_of(base), "SELECT setval(pg_get_serial_sequence('events', 'id'), "
			       "coalesce(max(id), 0) + 1, false) FROM events", e, "import");
}

/* ---- change notices ---- */

static int pg_watch(struct kf_state *base, struct kf_err *e)
{
	struct pg *st = pg_of(base);
	int r = read_begin(st, e);
	if (r < 0)
		return r;
	if (!st->listening && (r = exec(st, "LISTEN " CHANNEL, e, "listen")) == 0)
		st->listening = true;
	if (r == 0)
		r = lib.PQsocket(st->conn);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int pg_changes(struct kf_state *base, void (*fn)(void *ctx, const char *host), void *ctx,
		      struct kf_err *e)
{
	struct pg *st = pg_of(base);
	pthread_mutex_lock(&st->lock);
	int r = 0;
	if (st->missed) {
		st->missed = false;
		fn(ctx, NULL);
	}
	if (!st->conn || !lib.PQconsumeInput(st->conn) || lib.PQstatus(st->conn) != CONNECTION_OK) {
		r = conn_err(st, e, -ECONNRESET, "connection lost");
		st->missed = st->listening; /* watch connects again */
		st->listening = false;
		if (st->conn)
			lib.PQfinish(st->conn);
		st->conn = NULL;
	}
	size_t idlen = strlen(st->id);
	for (PGnotify *n; st->conn && (n = lib.PQnotifies(st->conn)) != NULL; lib.PQfreemem(n)) {
		const char *pl = n->extra ? n->extra : "";
		const char *sp = strchr(pl, ' ');
		if (!sp || ((size_t)(sp - pl) == idlen && !strncmp(pl, st->id, idlen)))
			continue;
		fn(ctx, sp + 1);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

const struct kf_state_ops kf_state_postgresql = {
	.name = "postgresql",
	.shared = true,
	.accepts = pg_accepts,
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.end = pg_end,
	.get_host = pg_get_host,
	.put_host = pg_put_host,
	.delete_host = pg_delete_host,
	.list_hosts = pg_list_hosts,
	.list_digests = pg_list_digests,
	.count_states = pg_count_states,
	.set_state = pg_set_state,
	.set_netboot = pg_set_netboot,
	.set_token = pg_set_token,
	.set_report = pg_set_report,
	.log_event = pg_log_event,
	.list_events = pg_list_events,
	.set_facts = pg_set_facts,
	.get_facts = pg_get_facts,
	.list_facts = pg_list_facts,
	.put_discovered = pg_put_discovered,
	.list_discovered = pg_list_discovered,
	.delete_discovered = pg_delete_discovered,
	.set_power = pg_set_power,
	.list_power = pg_list_power,
	.get_cred = pg_get_cred,
	.put_cred = pg_put_cred,
	.dump = pg_dump,
	.load = pg_load,
	.loaded = pg_loaded,
	.watch = pg_watch,
	.changes = pg_changes,
};
