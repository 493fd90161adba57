/* The state store's backend interface: what provision/state.c asks of a
 * storage engine.  Callers use state.h; only state.c and the backends
 * (provision/state_sqlite.c, provision/state_pg.c) and state_dump.c
 * include this.
 *
 * state.c keeps what is the same for every engine: the install-state
 * rules (idempotent moves, "installed" clears netboot, netboot on means a
 * reinstall), the events those moves log, tokens, and choosing a backend
 * by the location kf_state_open is given.  A backend only stores and
 * reads rows.
 *
 * How to add a backend: one file filling a struct kf_state_ops (every
 * member), its handle embedding struct kf_state as the first member, and
 * one row in `backends[]` in state.c before the SQLite one (which takes
 * any location, so it stays last).  It must keep the contract of state.h:
 * each write inside begin/end is one transaction, batches do not nest,
 * a committed write survives a crash, the handle may be shared by threads.
 * Its schema is kf_state_migrations[] (provision/state_schema.c): the
 * backend runs the steps a store has not run, each once, and refuses a
 * store at a newer version by name.
 *
 * How to add an operation (say, the power state of a host): the public
 * function in state.h, a member here, its code in every backend, and in
 * state.c the function that checks arguments, opens the write transaction
 * (begin/end), calls the member and logs an event if the change is one.
 *
 * How to add a column: one new step at the end of kf_state_migrations[]
 * with its SQLite and its PostgreSQL text (never edit a step that
 * landed: a store already at that version will not run it again), the
 * field in struct kf_host_rec, and each backend's row reader and writer
 * (HOST_COLS, read_row, bind_row in both).  Old rows get the column's
 * default.  Export and import carry every column of kf_state_tables
 * without more code.
 *
 * All members return 0 or a negative errno with a message in e; -ENOENT
 * ("no such row") comes without a message, state.c adds one. */
#ifndef KF_PROVISION_STATE_BACKEND_H
#define KF_PROVISION_STATE_BACKEND_H

#include "provision/state.h"
#include "util.h"

struct kf_state_ops;

/* The head of every backend's handle. */
struct kf_state {
	const struct kf_state_ops *ops;
	int schema_from; /* the store's schema version before open migrated it */
};

/* One schema step: what it adds, and its text for each engine. */
struct kf_migration {
	const char *what;
	const char *sqlite;
	const char *postgresql;
};
extern const struct kf_migration kf_state_migrations[];
extern const size_t kf_state_nmigrations;

/* The tables export and import carry, with the key they are listed by. */
struct kf_state_table {
	const char *name;
	const char *key;
};
extern const struct kf_state_table kf_state_tables[];
extern const size_t kf_state_ntables;

/* Where dump sends what it reads: table() once per table of
 * kf_state_tables with its columns (even when it has no rows), then row()
 * for each row in key order: vals[i] NULL is SQL NULL, is_int[i] says the
 * engine stores an integer there.  A negative return stops the dump. */
struct kf_state_sink {
	int (*table)(void *ctx, const char *table, size_t ncols, const char *const *cols);
	int (*row)(void *ctx, const char *const *vals, const bool *is_int);
	void *ctx;
};

/* What put_host writes of an existing row (a new row gets every field). */
enum kf_put_mode {
	KF_PUT_ALL,          /* the whole row (kf_state_put_host) */
	KF_PUT_RENDER,       /* kind, MACs, role, digest (kf_state_put_render) */
	KF_PUT_RENDER_TOKEN, /* the same and the token, token_gen, token_issued */
};

struct kf_state_ops {
	const char *name; /* "sqlite", for messages */
	bool shared;      /* several provisioners may share one store */
	/* Whether where (a path or URL given to kf_state_open) is this
	 * backend's. */
	bool (*accepts)(const char *where);
	/* Opens or creates the store and brings its schema to the newest
	 * version; *out is the backend's handle. */
	int (*open)(struct kf_state **out, const char *where, struct kf_err *e);
	void (*close)(struct kf_state *st);

	/* A write transaction.  batch: kf_state_begin's (fails when one is
	 * open); otherwise one operation's, which joins an open batch.  end
	 * commits when commit is set, else rolls back; pairs with begin of
	 * the same batch flag. */
	int (*begin)(struct kf_state *st, bool batch, struct kf_err *e);
	int (*end)(struct kf_state *st, bool batch, bool commit, struct kf_err *e);

	/* The row of name, or (name NULL) the one with MAC mac. */
	int (*get_host)(struct kf_state *st, const char *name, const char *mac,
			struct kf_host_rec *out, struct kf_err *e);
	/* Inside begin/end: the row h->name and its MACs. */
	int (*put_host)(struct kf_state *st, const struct kf_host_rec *h, enum kf_put_mode mode,
			struct kf_err *e);
	int (*delete_host)(struct kf_state *st, const char *name, struct kf_err *e);
	int (*list_hosts)(struct kf_state *st, struct kf_host_rec **out, size_t *n,
			  struct kf_err *e);
	int (*list_digests)(struct kf_state *st, struct kf_host_digest **out, size_t *n,
			    struct kf_err *e);
	int (*count_states)(struct kf_state *st, size_t by_state[KF_ST_COUNT], long long *drift,
			    struct kf_err *e);

	/* Column updates of one existing row, inside begin/end. */
	int (*set_state)(struct kf_state *st, const char *name, int state, int64_t since,
			 bool clear_netboot, struct kf_err *e);
	int (*set_netboot)(struct kf_state *st, const char *name, bool on, struct kf_err *e);
	/* token, token_gen + 1, token_issued = issued. */
	int (*set_token)(struct kf_state *st, const char *name, const char *token, int64_t issued,
			 struct kf_err *e);
	/* report, report_time = time, drift_count + 1 when ri->drifted,
	 * agent_version and last_exit from ri. */
	int (*set_report)(struct kf_state *st, const char *name, const char *json, int64_t time,
			  const struct kf_report_info *ri, struct kf_err *e);

	/* Facts per host and discovered machines (state.h), writes inside
	 * begin/end; list_* return every row in key order. */
	int (*set_facts)(struct kf_state *st, const char *name, const char *json, const char *summary,
			 int64_t time, struct kf_err *e);
	int (*get_facts)(struct kf_state *st, const char *name, char **json, int64_t *time,
			 struct kf_err *e);
	int (*list_facts)(struct kf_state *st, struct kf_facts_row **out, size_t *n, struct kf_err *e);
	int (*put_discovered)(struct kf_state *st, const char *mac, const char *json, const char *peer,
			      int64_t time, struct kf_err *e);
	int (*list_discovered)(struct kf_state *st, struct kf_discovered **out, size_t *n,
			       struct kf_err *e);
	int (*delete_discovered)(struct kf_state *st, const char *mac, struct kf_err *e);

	/* The credentials row of name (-ENOENT: none); put_cred writes the
	 * whole row, inside begin/end. */
	int (*get_cred)(struct kf_state *st, const char *name, struct kf_cred *out,
			struct kf_err *e);
	int (*put_cred)(struct kf_state *st, const char *name, const struct kf_cred *c,
			struct kf_err *e);

	/* A machine's power (1 on, 0 off) after action at time, or the error
	 * of a failed one (power then stays as it was, errors + 1); inside
	 * begin/end.  list_power returns every row by name. */
	int (*set_power)(struct kf_state *st, const char *name, int power, const char *action,
			 int64_t time, const char *error, struct kf_err *e);
	int (*list_power)(struct kf_state *st, struct kf_power_row **out, size_t *n, struct kf_err *e);

	/* Inside begin/end. */
	int (*log_event)(struct kf_state *st, const char *name, const char *what,
			 const char *detail, struct kf_err *e);
	int (*list_events)(struct kf_state *st, const char *name, size_t limit,
			   struct kf_event **out, size_t *n, struct kf_err *e);

	/* The engine's own check of its storage (SQLite: integrity_check and
	 * foreign_key_check), NULL when it has none to offer a client
	 * (PostgreSQL checks its pages as it reads them): one line per
	 * problem appended to out; returns how many, or a negative errno. */
	int (*check)(struct kf_state *st, struct kf_buf *out, struct kf_err *e);

	/* Export and import (state_dump.c).  dump: every table, in one read
	 * snapshot.  load, inside a batch: one row as text (NULL: SQL NULL)
	 * into table's columns cols.  loaded, in the same batch after the
	 * last row: whatever the engine needs after rows with explicit keys
	 * (PostgreSQL's events id sequence). */
	int (*dump)(struct kf_state *st, const struct kf_state_sink *sink, struct kf_err *e);
	int (*load)(struct kf_state *st, const char *table, size_t ncols, const char *const *cols,
		    const char *const *vals, struct kf_err *e);
	int (*loaded)(struct kf_state *st, struct kf_err *e);

	/* Change notices between processes, NULL when the engine has none
	 * (SQLite): watch listens and returns a descriptor that becomes
	 * readable when a notice arrives (reconnecting if needed); changes
	 * reads what arrived, calling fn with the host of each change another
	 * process committed (NULL: notices may have been missed, as after a
	 * reconnect; assume every host changed). */
	int (*watch)(struct kf_state *st, struct kf_err *e);
	int (*changes)(struct kf_state *st, void (*fn)(void *ctx, const char *host), void *ctx,
		       struct kf_err *e);
};

extern const struct kf_state_ops kf_state_sqlite;
extern const struct kf_state_ops kf_state_postgresql;

/* ---- for backends (state.c) ---- */

/* Drops the pending agent credential of name (provision/state_cred.c):
 * its install closed ("installed") or was replaced (a new install
 * token).  Inside the caller's transaction. */
int kf_state_cred_close_install(struct kf_state *st, const char *name, struct kf_err *e);

/* The hosts.macs column ("a,b", the storage's form only): split into
 * h->macs (one block of pointers and strings) and h->nmacs, or joined
 * from them into b. */
void kf_state_macs_split(const char *text, struct kf_host_rec *h);
void kf_state_macs_join(const struct kf_host_rec *h, struct kf_buf *b);

/* Collects list_digests' rows into the one allocation state.h promises:
 * add each row, then finish (gives *out and *n) or drop. */
struct kf_digests_acc {
	struct kf_buf names;
	struct kf_host_digest *v;
	size_t len, cap;
};
void kf_digests_add(struct kf_digests_acc *a, const char *name, int netboot, const char *token,
		    const char *digest);
void kf_digests_finish(struct kf_digests_acc *a, struct kf_host_digest **out, size_t *n);
void kf_digests_drop(struct kf_digests_acc *a);

#endif
