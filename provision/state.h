/* The provisioner's state store: install progress, tokens, render digests
 * and agent reports, one row per host or guest, plus an events log.
 *
 * This header is the whole interface for callers.  provision/state.c
 * holds the rules every backend shares and calls one backend through a
 * table of operations (state_backend.h, which also says how to add a
 * backend, an operation or a column).  provision/state_sqlite.c is the
 * SQLite backend and the only file that talks to sqlite3 (WAL journal, a
 * busy timeout, every write in a transaction, so a committed change
 * survives kill -9; the schema versioned by PRAGMA user_version);
 * provision/state_pg.c the PostgreSQL one, for several provisioners on
 * one database (docs/state.md).
 *
 * Install states move new -> booting -> installing -> installed ->
 * configured / drifted / failed; `kickfleet netboot HOST on` puts a host
 * back to new.  Every state change is also appended to the events log.
 *
 * Threads: one struct kf_state may be shared by several threads; calls on
 * it are serialised by a mutex inside.  Open one per thread for parallel
 * reads.  All functions return 0 or a negative errno and add a message to
 * e (which may be NULL) on failure; -ENOENT means "no such host". */
#ifndef KF_PROVISION_STATE_H
#define KF_PROVISION_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

enum kf_host_kind { KF_KIND_HOST, KF_KIND_GUEST };

enum kf_install_state {
	KF_ST_NEW,
	KF_ST_BOOTING,
	KF_ST_INSTALLING,
	KF_ST_INSTALLED,
	KF_ST_CONFIGURED,
	KF_ST_DRIFTED,
	KF_ST_FAILED,
	KF_ST_COUNT
};

/* "new", "booting", ...; NULL when out of range. */
const char *kf_install_state_name(int st);
/* The state named s, or -1. */
int kf_install_state_parse(const char *s);
const char *kf_host_kind_name(int kind);

#define KF_TOKEN_BYTES 32
#define KF_TOKEN_HEX (2 * KF_TOKEN_BYTES)  /* characters, without the NUL */
#define KF_DIGEST_HEX 64                   /* SHA-256 in hex */

/* One host's row.  Strings are owned by the record (kf_host_rec_release;
 * macs is one block with its strings); token and digest are "" when not
 * set.  A record written is only read: its strings stay the caller's. */
struct kf_host_rec {
	char *name;
	int kind;             /* enum kf_host_kind */
	const char *const *macs; /* nmacs of them, normalised (lower case) */
	size_t nmacs;
	char *role;
	int state;            /* enum kf_install_state */
	int64_t state_since;  /* unix time the current state was entered */
	int64_t created;
	int netboot;          /* 1: network install on next boot, 0: boot locally */
	char token[KF_TOKEN_HEX + 1];
	int64_t token_gen;    /* bumped on every rotation, 0: never issued */
	int64_t token_issued; /* unix time */
	char digest[KF_DIGEST_HEX + 1]; /* inputs of the last render of its files */
	char *report;         /* last agent report (JSON), NULL if none */
	int64_t report_time;  /* when it came: the agent's last run */
	int64_t drift_count;  /* reports that found drift */
	char *agent_version;  /* of the last report's agent, "" when unknown */
	int last_exit;        /* the last report's exit code, -1 when unknown */
};

void kf_host_rec_release(struct kf_host_rec *h);
/* Frees an array from kf_state_list_hosts (v may be NULL). */
void kf_host_recs_free(struct kf_host_rec *v, size_t n);

struct kf_state;

/* Opens (creating if needed) the store at path: a SQLite file such as
 * STATE_DIR/state.db (the directory must exist), or "postgresql:FILE",
 * FILE holding the connection string (docs/state.md).  Brings its schema
 * to this kickfleet's version.  Pairs with kf_state_close (which accepts
 * NULL). */
int kf_state_open(struct kf_state **out, const char *path, struct kf_err *e);
void kf_state_close(struct kf_state *st);
/* Whether the store at where may be shared by several provisioners
 * (PostgreSQL), each rendering its own tree. */
bool kf_state_shared(const char *where);
/* Whether there is a store at where to read (a SQLite file that exists;
 * a shared store always: its server answers at open). */
bool kf_state_exists(const char *where);
/* "sqlite" or "postgresql". */
const char *kf_state_backend(const struct kf_state *st);
/* The schema version the store had before kf_state_open migrated it, and
 * the one it has now (this kickfleet's). */
void kf_state_schema(const struct kf_state *st, int *was, int *now);

/* Change notices from other processes (PostgreSQL; -EOPNOTSUPP for
 * SQLite).  kf_state_watch listens, connecting again when the connection
 * was lost, and returns a descriptor to poll for reading; then
 * kf_state_changes reads what arrived and calls fn for each host another
 * process changed the install state, netboot flag or token of (committed
 * changes only), or with NULL when notices may have been missed (after a
 * reconnect).  Use a handle of its own for watching. */
int kf_state_watch(struct kf_state *st, struct kf_err *e);
int kf_state_changes(struct kf_state *st, void (*fn)(void *ctx, const char *host), void *ctx,
		     struct kf_err *e);

/* Export and import (provision/state_dump.c): every row of every table,
 * so that a fleet moves between backends (SQLite to PostgreSQL) without
 * losing a host, token, install state, report, event, fact or discovered
 * machine.  The dump is JSON: one object a line (KF_DUMP_LINES: a header,
 * then {"table": T, COLUMN: VALUE...} per row) or one document
 * (KF_DUMP_JSON: {"kickfleet_state": 1, "schema": N, T: [rows]...}). */
enum kf_dump_style { KF_DUMP_LINES, KF_DUMP_JSON };
int kf_state_export(struct kf_state *st, FILE *out, enum kf_dump_style style, struct kf_err *e);
/* Reads a dump of either style (text[0, len)) into st, which must be
 * empty and at the dump's schema version, in one transaction: on any
 * error nothing is written.  *rows counts the rows imported. */
int kf_state_import(struct kf_state *st, const char *text, size_t len, size_t *rows,
		    struct kf_err *e);

/* The store's health (provision/state_check.c, kickfleet state check):
 * the engine's own check of its storage (SQLite's integrity_check and
 * foreign_key_check; PostgreSQL has none to run from a client), every
 * row of every table read in one snapshot (*rows counts them), and each
 * host row's install state, netboot flag, token and digest in range.
 * One line per problem is appended to problems; returns how many (0: the
 * store is sound), or a negative errno when it cannot be read at all. */
struct kf_buf;
int kf_state_check(struct kf_state *st, struct kf_buf *problems, size_t *rows,
		   struct kf_err *e);

/* Groups many writes into one transaction (render does this for speed).
 * Outside a batch every write is its own transaction.  Batches do not
 * nest; end with commit = 1 to keep the writes, 0 to drop them. */
int kf_state_begin(struct kf_state *st, struct kf_err *e);
int kf_state_end(struct kf_state *st, int commit, struct kf_err *e);

/* Fills *out (release with kf_host_rec_release); -ENOENT if unknown. */
int kf_state_get_host(struct kf_state *st, const char *name, struct kf_host_rec *out,
		      struct kf_err *e);
/* The host one of whose MACs is mac (any case); -ENOENT if none. */
int kf_state_find_mac(struct kf_state *st, const char *mac, struct kf_host_rec *out,
		      struct kf_err *e);
/* Inserts or replaces the whole row h->name (all fields as given). */
int kf_state_put_host(struct kf_state *st, const struct kf_host_rec *h, struct kf_err *e);
/* Records a render of h->name (render's write; the server's are the state
 * changes below).  An existing row gets only what render owns: kind,
 * MACs, role and digest, and token, token_gen and token_issued when
 * new_token says render issued h->token.  Its install state, netboot flag
 * and reports stay as they are in the store, so a callback committed by
 * another connection after render read the row is not undone.  A host not
 * in the store is inserted with every field as given. */
int kf_state_put_render(struct kf_state *st, const struct kf_host_rec *h, bool new_token,
			struct kf_err *e);
/* Removes the host's row (its events stay); -ENOENT if unknown. */
int kf_state_delete_host(struct kf_state *st, const char *name, struct kf_err *e);
/* Every row, sorted by name; free with kf_host_recs_free. */
int kf_state_list_hosts(struct kf_state *st, struct kf_host_rec **out, size_t *n,
			struct kf_err *e);
/* The same without what only the server reads: report stays NULL,
 * report_time and drift_count 0.  For render, whose rows then cost the
 * same however big the agents' reports grow. */
/* Hosts per install state and the sum of their drift counts, without
 * reading the rows (for /metrics). */
int kf_state_count_states(struct kf_state *st, size_t by_state[KF_ST_COUNT], long long *drift,
			  struct kf_err *e);
/* What render compares to decide whether a host's files are current: one
 * entry per row, by name (the names live in the same allocation). */
struct kf_host_digest {
	const char *name;
	int netboot;
	char token[KF_TOKEN_HEX + 1];
	char digest[KF_DIGEST_HEX + 1];
};
/* All of them, in one allocation: free(*out). */
int kf_state_list_digests(struct kf_state *st, struct kf_host_digest **out, size_t *n,
			  struct kf_err *e);

/* Moves a host to state (enum kf_install_state), stamping state_since and
 * logging an event with detail (may be NULL).  Entering "installed" also
 * clears netboot.  Returns 1 when the state changed, 0 when the host was
 * already in it (idempotent: nothing written), or a negative errno. */
int kf_state_set_state(struct kf_state *st, const char *name, int state, const char *detail,
		       struct kf_err *e);
/* Sets the netboot flag; turning it on also puts the host back to "new"
 * (a reinstall).  Returns 1 when something changed, 0 when not. */
int kf_state_set_netboot(struct kf_state *st, const char *name, int on, struct kf_err *e);
/* Replaces the host's token with a fresh random one (getrandom, 32 bytes,
 * hex), bumps token_gen, stamps token_issued; copies it to token_out
 * (KF_TOKEN_HEX + 1 bytes) when not NULL. */
int kf_state_rotate_token(struct kf_state *st, const char *name, char *token_out,
			  struct kf_err *e);
/* What the store keeps of an agent report besides its text
 * (provision/callbacks.c's kf_report_parse fills it). */
struct kf_report_info {
	int drifted, failed;    /* the host moves to drifted, failed, else configured */
	long changes;           /* made (apply) or to make (check, plan): for the log */
	int exit_code;          /* the agent's, -1 when the report has none */
	char agent_version[32]; /* "" when the report has none */
};

/* Stores an agent report (JSON text) with the time, the agent's version
 * and exit code; moves the host to configured, drifted (drift_count + 1)
 * or failed per ri. */
int kf_state_record_report(struct kf_state *st, const char *name, const char *json,
			   const struct kf_report_info *ri, struct kf_err *e);

/* Appends to the events log (what: a short word like "callback"). */
int kf_state_log_event(struct kf_state *st, const char *name, const char *what,
		       const char *detail, struct kf_err *e);

struct kf_event {
	int64_t id;
	int64_t time;
	char *host;
	char *what;
	char *detail; /* may be NULL */
};
/* The newest `limit` events (of one host when name is not NULL), oldest
 * first; free with kf_events_free. */
int kf_state_list_events(struct kf_state *st, const char *name, size_t limit,
			 struct kf_event **out, size_t *n, struct kf_err *e);
void kf_events_free(struct kf_event *v, size_t n);

/* ---- power (provision/state_power.c) ---- */

/* A machine's power as the last `kickfleet power` or `reinstall` saw it. */
struct kf_power_row {
	char *name;
	int power;      /* 1 on, 0 off, -1 never known */
	char *action;   /* the last action: "status", "on", "off", "cycle", "reset" */
	int64_t time;   /* when it finished */
	char *result;   /* "ok" or why it failed ("IPMI authentication failed (...)") */
	int64_t errors; /* failed actions so far */
};
/* Records the end of a power action on name (the machine need not have a
 * row): power 1/0 when it succeeded, error NULL; else the reason, and the
 * power state stays as it was.  Actions other than status are also logged
 * as "power" events. */
int kf_state_set_power(struct kf_state *st, const char *name, int power, const char *action,
		       const char *error, struct kf_err *e);
/* Every machine's row, by name; free with kf_power_rows_free. */
int kf_state_list_power(struct kf_state *st, struct kf_power_row **out, size_t *n, struct kf_err *e);
void kf_power_rows_free(struct kf_power_row *v, size_t n);
/* The row of name in v (sorted by name), or NULL. */
const struct kf_power_row *kf_power_row_of(const struct kf_power_row *v, size_t n, const char *name);

/* ---- host facts and discovered machines (provision/state_facts.c) ---- */

/* Keeps json (a facts document the caller validated, lib/facts.h) as the
 * latest facts of host name, with summary (the status column) and the
 * time.  The host need not have a row. */
int kf_state_set_facts(struct kf_state *st, const char *name, const char *json, const char *summary,
		       struct kf_err *e);
/* The latest facts of name (*json malloc'd) and their time; -ENOENT if none. */
int kf_state_get_facts(struct kf_state *st, const char *name, char **json, int64_t *time,
		       struct kf_err *e);
struct kf_facts_row {
	char *name, *summary;
	int64_t time;
};
/* Every host's summary, by name; free with kf_facts_rows_free. */
int kf_state_list_facts(struct kf_state *st, struct kf_facts_row **out, size_t *n, struct kf_err *e);
void kf_facts_rows_free(struct kf_facts_row *v, size_t n);

/* A machine that posted facts to the discovery endpoint from a MAC the
 * inventory does not know. */
struct kf_discovered {
	char *mac;     /* normalised, lower case */
	char *json;    /* its latest facts document */
	char *peer;    /* the address it posted from */
	int64_t first_seen, last_seen, count;
};
/* Records a post: a new MAC gets first_seen now, a known one its
 * last_seen, count + 1, and the new document and peer. */
int kf_state_put_discovered(struct kf_state *st, const char *mac, const char *json, const char *peer,
			    struct kf_err *e);
/* Every discovered machine, by MAC; free with kf_discovered_free. */
int kf_state_list_discovered(struct kf_state *st, struct kf_discovered **out, size_t *n,
			     struct kf_err *e);
/* Forgets mac (after enlisting it); -ENOENT if it is not there. */
int kf_state_delete_discovered(struct kf_state *st, const char *mac, struct kf_err *e);
void kf_discovered_free(struct kf_discovered *v, size_t n);

/* ---- agent credentials (provision/state_cred.c) ----
 *
 * A host's agent credential is not its install token: the install token
 * travels in the boot files (TFTP, iPXE, unauthenticated) and opens only
 * the install routes while the install is open; the agent credential is
 * minted when the install's kickstart is served, travels only inside that
 * token-protected answer, and opens the profile, report and facts routes.
 * The store keeps its SHA-256 only, except while its install is open
 * (pending: the kickstart may be fetched again).  docs/security.md. */
/* What render writes into a kickstart or preseed for host.agent_credential;
 * serve puts the install's credential in its place in the answer
 * (the rendered file never holds one). */
#define KF_AGENT_CRED_MARK "@KICKFLEET_AGENT_CREDENTIAL@"

struct kf_cred {
	char hash[KF_DIGEST_HEX + 1];    /* SHA-256 of the current one, "" none yet */
	char pending[KF_TOKEN_HEX + 1];  /* the current one itself while its install is open */
	char next[KF_DIGEST_HEX + 1];    /* SHA-256 of a rotated one handed out, not yet used */
	char old[KF_DIGEST_HEX + 1];     /* SHA-256 of the one before (refused, named in the log) */
	int64_t gen;                     /* credentials minted for this host so far */
	int64_t issued;                  /* when the current one was minted or picked up */
	int64_t rotated;                 /* when a rotation was asked, 0: none pending */
};
/* The host's credential row; a host without one gets a zeroed *out and 0.
 * -ENOENT only for an unknown host. */
int kf_state_get_cred(struct kf_state *st, const char *name, struct kf_cred *out,
		      struct kf_err *e);
/* The agent credential to put into name's kickstart: the pending one of
 * this install, or a fresh one (its hash replaces the current credential,
 * which becomes the old one; a rotation in progress is dropped).  out:
 * KF_TOKEN_HEX + 1 bytes.  Returns 1 when it minted one, 0 when it gave
 * the pending one again. */
int kf_state_cred_install(struct kf_state *st, const char *name, char *out, struct kf_err *e);
/* Asks for a new agent credential (kickfleet token rotate): the agent
 * gets it with its next profile fetch (kf_state_cred_handout) and the
 * current one stays valid until it uses the new one.  -ENOENT for an
 * unknown host, -ENOKEY for a host with no credential yet. */
int kf_state_cred_rotate(struct kf_state *st, const char *name, struct kf_err *e);
/* During a rotation: mints the credential to hand to the agent (out,
 * KF_TOKEN_HEX + 1 bytes), keeping its hash as the next one (a later
 * handout replaces it: only the last one handed out is picked up). */
int kf_state_cred_handout(struct kf_state *st, const char *name, char *out, struct kf_err *e);
/* The agent used the next credential: it becomes the current one, the
 * current one the old one, the rotation ends. */
int kf_state_cred_pickup(struct kf_state *st, const char *name, struct kf_err *e);
/* SHA-256 hex of a credential, as the store keeps it. */
void kf_cred_hash(const char *cred, char hex[KF_DIGEST_HEX + 1]);

/* How a presented agent credential compares with a host's row. */
enum kf_cred_verdict {
	KF_CRED_OK,      /* the current one */
	KF_CRED_NEXT,    /* the next one of a rotation: OK, and picks it up */
	KF_CRED_NONE,    /* the host has no credential yet */
	KF_CRED_OLD,     /* the one before: rotated away or reinstalled */
	KF_CRED_EXPIRED, /* the current one, but its rotation's grace period is over */
	KF_CRED_WRONG,
};
/* Compares in constant time; grace: seconds the current credential stays
 * valid after a rotation was asked (0: until the new one is used). */
enum kf_cred_verdict kf_cred_check(const struct kf_cred *c, const char *presented, int64_t now,
				   long long grace);

/* A fresh token: KF_TOKEN_BYTES from getrandom(), as lower-case hex into
 * out (KF_TOKEN_HEX + 1 bytes). */
int kf_token_new(char *out, struct kf_err *e);
/* Compares two tokens in constant time; false if either is NULL/empty. */
int kf_token_equal(const char *a, const char *b);

#endif
