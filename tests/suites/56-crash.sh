#!/bin/sh
# kill -9 loops (tests/crash/crash.py): kickfleet render of a 300-host
# fleet, kickfleet serve taking install and report callbacks on
# 127.0.0.1, and kickfleet state import, each killed with SIGKILL after a
# random delay and restarted, 210 kills in all.  After each kill the store
# passes `kickfleet state check`, every served file is whole and, after
# the restart, the tree a clean render makes with no temp file left; no
# callback that got a 2xx is lost.  The work tree is on tmpfs (a kill -9
# tests the process, not the disk: what a process wrote is in the page
# cache either way).
#   KF_CRASH_SEED=N replays a run (the seed is printed first);
#   KF_CRASH_KILLS="R S I" the kills of each loop (default "110 60 40").
. "$(dirname "$0")/../lib.sh"
KF=$TOP/build/kickfleet
command -v python3 >/dev/null || { t_skip "python3 missing"; t_summary; exit 0; }
SEED=${KF_CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
set -- ${KF_CRASH_KILLS:-110 60 40}
KR=$1 KS=$2 KI=$3
echo "56-crash: seed $SEED (replay: KF_CRASH_SEED=$SEED sh tests/suites/56-crash.sh)"
base=/dev/shm; [ -d "$base" ] && [ -w "$base" ] || base=/tmp
W=$(mktemp -d "$base/kf-56-crash.XXXXXX")
DPID=
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. "$TOP/bench/fleet.inc"
bench_fleet 300 "$W/a.yaml"
# b: every boot file and kickstart changes; c: 40 hosts fewer and a new domain
sed -e 's/console: ttyS0,115200/console: ttyS1,57600/' -e 's/domain: bench.example/domain: b.example/' \
	"$W/a.yaml" > "$W/b.yaml"
head -n -40 "$W/a.yaml" | sed 's/domain: bench.example/domain: c.example/' > "$W/c.yaml"

# crash.py LOOP ARGS...: one loop in the background (its PID for the trap)
crash() {
	python3 "$TOP/tests/crash/crash.py" "$@" --kf "$KF" --dir "$W" --seed "$SEED" > "$W/$1.out" 2>&1 &
	DPID=$!
	wait "$DPID"
	rc=$?
	DPID=
	cat "$W/$1.out"
	return $rc
}
total=0
count() { n=$(sed -n "s/^$1: \([0-9]*\) kills.*/\1/p" "$W/$1.out"); total=$((total + ${n:-0})); }

t_check "render: $KR kills, each restarted; store sound, files whole, tree as a clean render" \
	crash render --fleets "$W/a.yaml,$W/b.yaml,$W/c.yaml" --kills "$KR"
count render
t_check "serve: $KS kills during callbacks, each restarted; no acknowledged callback lost" \
	crash serve --fleet "$W/a.yaml" --kills "$KS"
count serve
"$KF" state export -f "$W/a.yaml" -o "$W/srv" > "$W/dump.jsonl" 2>"$W/export.err"
t_check "export of the store the callbacks wrote" test -s "$W/dump.jsonl"
t_check "state import: $KI kills; every store empty or whole" \
	crash import --fleet "$W/a.yaml" --dump "$W/dump.jsonl" --kills "$KI"
count import
echo "56-crash: $total kills in all (seed $SEED)"
t_check "at least 200 kills in all" test "$total" -ge 200
t_summary
