#!/bin/sh
# bench/pg.sh — the state store on PostgreSQL beside SQLite, in the same
# run, on a generated 10,000-host fleet: a full render, an unchanged
# re-render, a re-render after one host changed (those two: the median of
# KF_BENCH_RUNS runs), and report callbacks
# (POST /cb/HOST/report) driven by wrk at BENCH_CONNS connections over
# 1000 hosts; then, PostgreSQL only, how long an "installed" callback on
# one instance takes to reach a second instance's boot files (notice,
# forced re-render).  Prints times, the PostgreSQL/SQLite ratios and the
# goals: within 2x of SQLite, callbacks >= 1000/s with p99 < 20 ms, the
# second instance within 200 ms (p99).  The PostgreSQL server is the
# benchmark's own (tests/pg.sh: initdb as nobody, a Unix socket in the
# work directory, stopped by pid).
#   KF_BENCH_HOSTS (default 10000), KF_BENCH_DIR (default /tmp),
#   BENCH_SECONDS (default 5, per wrk run), BENCH_CONNS (default 8),
#   BENCH_FLIPS (default 50, samples of the second instance's delay),
#   KF_BENCH_RUNS (default 5: the re-renders' times are the median of as
#   many runs, so one busy moment of the machine does not decide a ratio)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
kf=${KF_PROVISION:-build/kickfleet}
[ -x "$kf" ] || { echo "pg: build $kf first (make)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "pg: needs root (initdb runs as nobody)" >&2; exit 1; }
for tool in wrk curl jq runuser; do
	command -v $tool >/dev/null || { echo "pg: $tool missing (scripts/deps.sh bench)" >&2; exit 1; }
done
. "$TOP/tests/pg.sh"
pg_have || { echo "pg: postgresql-15 missing (scripts/deps.sh check)" >&2; exit 1; }
hosts=${KF_BENCH_HOSTS:-10000}
secs=${BENCH_SECONDS:-5}
conns=${BENCH_CONNS:-8}
flips=${BENCH_FLIPS:-50}
runs=${KF_BENCH_RUNS:-5}
work=$(mktemp -d "${KF_BENCH_DIR:-/tmp}/kf-bench-pg.XXXXXX")
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	pg_stop
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
cp "$kf" "$work/kickfleet"
kf=$work/kickfleet
export KICKFLEET_DATADIR="$TOP" KICKFLEET_CACHE_DIR="$work/cache"
. "$TOP/bench/fleet.inc"
bench_fleet "$hosts" "$work/sqlite.yaml"
pg_start "$work/pg" >/dev/null
cp "$work/sqlite.yaml" "$work/postgresql.yaml"
cp "$PG_DSN_FILE" "$work/pg.dsn"
printf 'state: {backend: postgresql, dsn_file: %s}\n' "$work/pg.dsn" >> "$work/postgresql.yaml"

now() { date +%s%N; }
ms() { awk -v d="$1" 'BEGIN { printf "%.1f", d / 1e6 }'; }
timed() { t0=$(now); "$@" >/dev/null; echo $(($(now) - t0)); }
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
port=$((30000 + $$ % 20000))
serve() { # BACKEND DIR PORT: serve in the background, wait until it answers
	"$kf" serve -f "$work/$1.yaml" -o "$2" --listen "127.0.0.1:$3" --agent /bin/true --callback-rate 0 >>"$work/serve.log" 2>&1 &
	PIDS="$PIDS $!"
	LAST=$!
	i=0
	while ! curl -sf "http://127.0.0.1:$3/healthz" >/dev/null; do
		i=$((i + 1)); [ $i -gt 600 ] && { echo "pg: serve does not start" >&2; exit 1; }
		sleep 0.1
	done
}
# wrk's script: report callbacks over the first 1000 hosts, round robin,
# each with an agent credential the bench gives it (its SHA-256 written
# into the store's credentials table, as the kickstart would leave it)
lua() {
	"$kf" state export -f "$work/$1.yaml" -o "$work/$1" |
		jq -r 'select(.table == "hosts") | .name + " " + .token' | head -n 1000 |
		python3 -c '
import hashlib, sys
sql = open(sys.argv[1], "w")
for line in sys.stdin:
    name, token = line.split()
    cred = hashlib.sha256(("bench-" + name).encode()).hexdigest()
    print("{\"%s\", \"%s\", \"%s\"}," % (name, token, cred))
    sql.write("INSERT INTO credentials (name, agent_hash, gen, issued) VALUES (\x27%s\x27, \x27%s\x27, 1, 1);\n"
              % (name, hashlib.sha256(cred.encode()).hexdigest()))
' "$work/$1.sql" > "$work/$1.hosts"
	if [ "$1" = sqlite ]; then sqlite3 "$work/$1/state.db" < "$work/$1.sql"; else pg_sql < "$work/$1.sql"; fi
	{
		echo 'local h = {'
		cat "$work/$1.hosts"
		echo '}'
		echo 'local i = 0'
		echo 'wrk.method = "POST"'
		echo 'wrk.body = "{\"drift\":0,\"failures\":0}"'
		echo 'request = function() i = i % #h + 1'
		echo '  return wrk.format(nil, "/cb/" .. h[i][1] .. "/report", { ["Authorization"] = "Bearer " .. h[i][3] }) end'
	} > "$work/$1.lua"
}

for b in sqlite postgresql; do
	pg_reset
	out=$work/$b
	eval "full_$b=$(timed "$kf" render --no-stage -f "$work/$b.yaml" -o "$out")"
	: > "$work/same" && : > "$work/one"
	i=0
	while [ $i -lt "$runs" ]; do
		timed "$kf" render --no-stage -f "$work/$b.yaml" -o "$out" >> "$work/same"
		# one host's address, changed back and forth
		if [ $((i % 2)) = 0 ]; then
			sed -i 's/ip: 10.250.1.2,/ip: 10.250.200.200,/' "$work/$b.yaml"
		else
			sed -i 's/ip: 10.250.200.200,/ip: 10.250.1.2,/' "$work/$b.yaml"
		fi
		timed "$kf" render --no-stage -f "$work/$b.yaml" -o "$out" >> "$work/one"
		i=$((i + 1))
	done
	eval "same_$b=$(median "$work/same")"
	eval "one_$b=$(median "$work/one")"
	lua $b
	port=$((port + 1))
	serve $b "$out" $port
	wrk -t 2 -c "$conns" -d "${secs}s" --latency -s "$work/$b.lua" "http://127.0.0.1:$port" > "$work/$b.wrk"
	eval "rps_$b=$(awk '/^Requests\/sec/ { printf "%d", $2 }' "$work/$b.wrk")"
	eval "p99_$b=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) v = v / 1000; else if (v ~ /ms$/) v = v + 0; else if (v ~ /s$/) v = v * 1000; print v }' "$work/$b.wrk")"
	eval "non2xx_$b=$(awk '/Non-2xx/ { print $5 }' "$work/$b.wrk" | grep . || echo 0)"
	kill $LAST; wait $LAST 2>/dev/null || true
done

# a second instance on the same database: installed on A, B's file flips
"$kf" render --no-stage -f "$work/postgresql.yaml" -o "$work/b" >/dev/null
serve postgresql "$work/postgresql" $((port + 10)); A=$((port + 10))
serve postgresql "$work/b" $((port + 11))
"$kf" state export -f "$work/postgresql.yaml" |
	jq -r 'select(.table == "host_macs") | .mac + " " + .name' > "$work/macs"
: > "$work/delays"
i=0
while [ $i -lt "$flips" ]; do
	line=$(sed -n "$((i + 1))p" "$work/postgresql.hosts")
	h=$(echo "$line" | cut -d'"' -f2) t=$(echo "$line" | cut -d'"' -f4)
	mac=$(awk -v h="$h" '$2 == h { print $1; exit }' "$work/macs")
	f=$work/b/tftp/pxelinux.cfg/01-$(echo "$mac" | tr : -)
	t0=$(now)
	curl -s -o /dev/null -X POST -d '{}' "http://127.0.0.1:$A/cb/$h/installed?token=$t"
	while grep -q token= "$f" 2>/dev/null; do :; done
	echo $(($(now) - t0)) >> "$work/delays"
	i=$((i + 1))
done
p99_flip=$(sort -n "$work/delays" | awk '{ v[NR] = $1 } END { k = int(NR * 0.99 + 0.999); printf "%.1f", v[k] / 1e6 }')
p50_flip=$(sort -n "$work/delays" | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] / 1e6 }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "pg: $hosts hosts, PostgreSQL 15 (Unix socket) beside SQLite; ratio: how many times slower PostgreSQL is"
printf '  %-22s %10s %12s %7s\n' "" sqlite postgresql ratio
for m in full same one; do
	case $m in full) name="full render" ;; same) name="unchanged re-render" ;; one) name="one host changed" ;; esac
	eval "s=\$${m}_sqlite p=\$${m}_postgresql"
	printf '  %-22s %8s ms %10s ms %6sx  (goal < 2x)\n' "$name" "$(ms $s)" "$(ms $p)" "$(ratio $p $s)"
done
printf '  %-22s %8s/s %10s/s %6sx  (goal >= 1000/s; %d connections, %ss)\n' "report callbacks" \
	"$rps_sqlite" "$rps_postgresql" "$(ratio $rps_sqlite $rps_postgresql)" "$conns" "$secs"
printf '  %-22s %8s ms %10s ms %7s  (goal < 20 ms; non-2xx: %s, %s)\n' "callbacks p99" \
	"$p99_sqlite" "$p99_postgresql" "" "$non2xx_sqlite" "$non2xx_postgresql"
printf '  %-22s %10s %9s ms %7s  (goal < 200 ms p99; p50 %s ms, %d samples)\n' \
	"second instance sees" "-" "$p99_flip" "" "$p50_flip" "$flips"
