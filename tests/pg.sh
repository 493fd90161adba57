# A PostgreSQL server of a test's own, for suites and benchmarks:
#   . tests/pg.sh; pg_start DIR; ... pg_stop
# pg_start makes a cluster with initdb in DIR/data (DIR must be new or
# empty), run by the unprivileged user `nobody` (initdb refuses root; DIR
# is chowned to it), listening on a Unix socket in DIR only (no TCP), with
# a superuser "kickfleet" whose password is random.  It sets:
#   PG_DSN_FILE  DIR/dsn: the connection string, mode 0600 (for state:)
#   PG_PID       the postmaster's pid
#   PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE   exported, for psql
# pg_stop stops it by pid (pg_ctl stop -m fast, then SIGKILL of the
# postmaster if it is still there).  No host-wide cluster is touched.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=nobody
PG_PID=

pg_have() {
	[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && [ -x "$PG_BIN/psql" ] &&
		id "$PG_USER" >/dev/null 2>&1
}

pg_as() {
	runuser -u "$PG_USER" -- "$@"
}

pg_start() {
	PG_DIR=$1
	mkdir -p "$PG_DIR"
	chmod o+x "$(dirname "$PG_DIR")" # nobody goes through the test's temp dir
	chown "$PG_USER" "$PG_DIR"
	chmod 0700 "$PG_DIR"
	PGPASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf '%s\n' "$PGPASSWORD" > "$PG_DIR/pw"
	chown "$PG_USER" "$PG_DIR/pw"
	chmod 0600 "$PG_DIR/pw"
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U kickfleet --pwfile="$PG_DIR/pw" \
		-A scram-sha-256 --locale=C.UTF-8 -E UTF8 >"$PG_DIR/initdb.log" 2>&1 || {
		cat "$PG_DIR/initdb.log" >&2
		return 1
	}
	rm -f "$PG_DIR/pw"
	PGPORT=${PG_PORT:-5432}
	cat >> "$PG_DIR/data/postgresql.conf" <<-EOF
	listen_addresses = ''
	unix_socket_directories = '$PG_DIR'
	port = $PGPORT
	max_connections = 200
	shared_buffers = 128MB
	fsync = on
	EOF
	pg_up || return 1
	export PGHOST=$PG_DIR PGPORT PGUSER=kickfleet PGPASSWORD PGDATABASE=postgres
	PG_DSN_FILE=$PG_DIR/dsn
	(umask 077; printf 'host=%s port=%s dbname=postgres user=kickfleet password=%s\n' \
		"$PG_DIR" "$PGPORT" "$PGPASSWORD" > "$PG_DSN_FILE")
}

# Starts the cluster of pg_start again (after pg_down).
pg_up() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
		>/dev/null || {
		cat "$PG_DIR/server.log" >&2
		return 1
	}
	PG_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
}

# Stops the server by its pid (the cluster stays for pg_up).
pg_down() {
	[ -n "$PG_PID" ] || return 0
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
	if kill -0 "$PG_PID" 2>/dev/null; then
		kill -KILL "$PG_PID" 2>/dev/null || true
		sleep 0.5
	fi
	PG_PID=
}

pg_stop() {
	pg_down
}

# psql on the test server, quiet, stopping at the first error.
pg_sql() {
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"
}

# An empty public schema: a new store for the next kickfleet.
pg_reset() {
	pg_sql -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null 2>&1
}
