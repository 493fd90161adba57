#!/bin/sh
# The PostgreSQL state store against a real server this suite starts
# (tests/pg.sh: initdb and pg_ctl run as the unprivileged user nobody, a
# Unix socket in the suite's temp dir and no TCP, stopped by pid): the
# state unit tests on it, the inventory's state: checks, kickfleet serve's
# callbacks on it, a 10k-host SQLite state moved to it and compared row by
# row, and three serve instances on one database: a change on one reaches
# the others' boot files by notice, kill -9 of one loses nothing, a server
# restart under load answers every callback 200 or 503.
. "$(dirname "$0")/../lib.sh"
t_need_root
. "$TOP/tests/pg.sh"
KF=$TOP/build/kickfleet
for tool in curl runuser; do
	command -v $tool >/dev/null || { t_skip "$tool missing"; t_summary; exit 0; }
done
pg_have || { t_skip "postgresql-15 missing (scripts/deps.sh check)"; t_summary; exit 0; }
D=$(mktemp -d /tmp/kf-42-pg.XXXXXX)
PIDS=
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	pg_stop
	rm -rf "$D"
}
trap cleanup EXIT
if ! pg_start "$D/pg"; then t_fail "postgresql starts"; t_summary; exit 1; fi
t_ok "postgresql starts (pid $PG_PID, socket in $D/pg)"

# ---- the state unit tests on both backends ----
for u in "$TOP/build/tests/test_state_store" "$TOP/build/asan/tests/test_state_store"; do
	[ -x "$u" ] || continue
	KF_TEST_PG_DSN_FILE=$PG_DSN_FILE "$u" > "$D/unit.log" 2>&1
	rc=$?
	n=$(grep -c '^\[  PASSED  \]' "$D/unit.log")
	if [ $rc = 0 ] && [ "$n" = 4 ]; then t_ok "unit tests on sqlite and postgresql ($u)"
	else t_fail "unit tests on sqlite and postgresql ($u)"; cat "$D/unit.log"; fi
done

# ---- the inventory's state section ----
cp -r "$TOP/tests/data/http/fleet" "$D/fleet"
FLEET=$D/fleet/fleet.yaml
cp "$PG_DSN_FILE" "$D/fleet/pg.dsn"
chmod 0644 "$D/fleet/pg.dsn"
printf 'state:\n  backend: postgresql\n  dsn_file: pg.dsn\n' >> "$FLEET"
"$KF" check -f "$FLEET" > "$D/check.out" 2>&1
t_check "check: a DSN file others can read is refused at its line" \
	grep -Eq "fleet.yaml:[0-9]+:[0-9]+: state: dsn_file $D/fleet/pg.dsn is readable by group or others" "$D/check.out"
chmod 0600 "$D/fleet/pg.dsn"
t_check "check: a root-only DSN file passes" "$KF" check -f "$FLEET"
sed 's/^  dsn_file: pg.dsn/  dsn: "host=x password=inline-pw-0042"/' "$FLEET" > "$D/fleet/inline.yaml"
"$KF" check -f "$D/fleet/inline.yaml" > "$D/inline.out" 2>&1
t_check "check: an inline dsn is refused" grep -q "dsn" "$D/inline.out"
if grep -q "inline-pw-0042" "$D/inline.out"; then t_fail "the inline dsn is not echoed"
else t_ok "the inline dsn is not echoed"; fi

# ---- kickfleet serve on postgresql ----
tok() { pg_sql -c "SELECT token FROM hosts WHERE name='$1'"; }
st() { pg_sql -c "SELECT state || ',' || netboot FROM hosts WHERE name='$1'"; }
code() { curl -s -o "$D/body" -w '%{http_code}' "$@"; }
BASE=$((20000 + $$ % 15000))
# serve N: instance N on port BASE+N with the tree -o $D/iN
serve() {
	"$KF" serve -f "$FLEET" -o "$D/i$1" --listen 127.0.0.1:$((BASE + $1)) --timeout 5 \
		--agent "$D/agent-bin" --callback-rate 0 -v >>"$D/serve$1.log" 2>&1 &
	eval "PID$1=$!"
	PIDS="$PIDS $!"
	i=0
	while ! curl -sf "http://127.0.0.1:$((BASE + $1))/healthz" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt 100 ] && return 1
		sleep 0.05
	done
}
url() { echo "http://127.0.0.1:$((BASE + $1))"; }
printf 'agent-binary' > "$D/agent-bin"
for n in 1 2 3; do
	"$KF" render -f "$FLEET" -o "$D/i$n" > "$D/render$n.log" 2>&1
done
t_check "render on postgresql" test -f "$D/i1/http/ks/kvm01" -a -f "$D/i3/http/ks/kvm01"
t_check "the DSN is in no log" sh -c "! grep -q '$PGPASSWORD' '$D'/render*.log"
t_check "serve starts on postgresql" serve 1
T1=$(tok kvm01)
t_check "tokens in postgresql" test ${#T1} -eq 64
t_check "ks with its token: 200" test "$(code "$(url 1)/ks/kvm01?token=$T1")" = 200
C0=$(t_cred_of "$D/body")
t_check "ks is the rendered file, its install's agent credential in place of the mark" sh -c \
	"test ${#C0} -eq 64 && sed 's/$C0/@KICKFLEET_AGENT_CREDENTIAL@/' '$D/body' | cmp -s - '$D/i1/http/ks/kvm01'"
t_check "ks fetched: installing" test "$(st kvm01)" = installing,1
t_check "wrong token: 403" test "$(code "$(url 1)/ks/kvm01?token=$(tok kvm02)")" = 403
t_check "serve and render share the store" sh -c "grep -q 'kvm01' '$D/i1/http/ks/kvm01'"

# ---- three instances on one database ----
serve 2 && serve 3
t_check "a second and a third instance start" test -n "$PID3"
CFG=tftp/pxelinux.cfg/01-52-54-00-aa-00-01
# within N CMD: waits up to N hundredths of a second for CMD to hold,
# prints the ms it took
within() {
	n=$1; shift
	s0=$(date +%s%N)
	i=0
	while ! "$@" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt "$n" ] && return 1
		sleep 0.01
	done
	echo "    $(( ($(date +%s%N) - s0) / 1000000 )) ms"
}
within_1s() { within 100 "$@"; }
t_check "instance 3 renders kvm01's install config" grep -q "token=$T1" "$D/i3/$CFG"
t_check "installed on instance 1: 200" test "$(code -X POST -d '{}' "$(url 1)/cb/kvm01/installed?token=$T1")" = 200
localboot() { ! grep -q token= "$D/i$1/$CFG" && grep -qi localboot "$D/i$1/$CFG"; }
t_check "instance 2's files boot kvm01 locally within 1 s" within_1s localboot 2
t_check "instance 3's files boot kvm01 locally within 1 s" within_1s localboot 3
t_check "instance 3 heard it by notice" grep -q "kvm01 changed on another instance" "$D/serve3.log"
"$KF" netboot -f "$FLEET" -o "$D/i1" kvm01 on >/dev/null
N1=$(tok kvm01)
install_cfg() { grep -q "token=$N1" "$D/i$1/$CFG"; }
t_check "netboot on (command line): instance 2 follows within 1 s" within_1s install_cfg 2
t_check "netboot on (command line): instance 3 follows within 1 s" within_1s install_cfg 3
t_check "the new token works on instance 3" test "$(code "$(url 3)/ks/kvm01?token=$N1")" = 200
t_check "the old token is refused on instance 2" test "$(code -X POST "$(url 2)/cb/kvm01/installed?token=$T1")" = 403
# the agent credential: minted with the kickstart on instance 3, valid on
# instance 2; a rotation handed out by 2, picked up on 3, the old one then
# refused on 2
bearer() { echo "Authorization: Bearer $1"; }
C1=$(t_cred_fetch "$(url 3)" kvm01 "$N1")
t_check "the credential from instance 3's kickstart works on instance 2" \
	test "$(code -H "$(bearer "$C1")" "$(url 2)/profile/kvm01")" = 200
t_check "the store keeps its SHA-256" test "$(pg_sql -c "SELECT agent_hash FROM credentials WHERE name='kvm01'")" = "$(printf %s "$C1" | sha256sum | cut -d' ' -f1)"
"$KF" token rotate -f "$FLEET" -o "$D/i1" kvm01 >/dev/null
handed() { curl -s -D "$D/hdr" -o /dev/null -H "$(bearer "$C1")" "$(url 2)/profile/kvm01" && grep -qi '^X-Kickfleet-Credential: [0-9a-f]\{64\}' "$D/hdr"; }
t_check "rotation: instance 2 hands out a new credential within 1 s" within_1s handed
C2=$(tr -d '\r' <"$D/hdr" | sed -n 's/^[Xx]-[Kk]ickfleet-[Cc]redential: //p')
t_check "rotation: the new one picked up on instance 3" test "$(code -H "$(bearer "$C2")" "$(url 3)/profile/kvm01")" = 200
old_refused() { test "$(code -H "$(bearer "$C1")" "$(url 2)/profile/kvm01")" = 403; }
t_check "rotation: the old one refused on instance 2 within 1 s" within_1s old_refused
t_check "rotation: instance 2 logged why" grep -q "403 GET /profile/kvm01 from 127.0.0.1: old agent credential" "$D/serve2.log"

# kill -9 of instance 1 in the middle of callbacks; 2 and 3 go on
HOSTS="kvm02 plain01 web01 web02 web03"
LOADS=
for h in $HOSTS; do
	t=$(tok $h)
	c=$(t_cred_fetch "$(url 2)" $h "$t")
	( for i in 1 2 3 4 5 6; do
		for n in 1 2; do
			curl -s -o /dev/null -X POST "$(url $n)/cb/$h/installing?token=$t"
			curl -s -o /dev/null -X POST "$(url $n)/cb/$h/installed?token=$t"
			curl -s -o /dev/null -X POST -H "$(bearer "$c")" -d '{"drift":1,"failures":0}' "$(url $n)/cb/$h/report"
		done
	done ) &
	LOADS="$LOADS $!"
done
sleep 0.3
kill -9 "$PID1"; wait "$PID1" 2>/dev/null
wait $LOADS
bad=$(pg_sql -c "SELECT name FROM hosts WHERE state IN ('installed','configured','drifted') AND netboot = 1")
t_check "kill -9 of instance 1: no host installed yet netbooting" test -z "$bad"
t_check "instance 2 still serves" test "$(code "$(url 2)/healthz")" = 200
for h in $HOSTS; do curl -s -o /dev/null -X POST "$(url 2)/cb/$h/installed?token=$(tok $h)"; done
ok=1
for h in $HOSTS; do
	case $(st $h) in installed,0|configured,0|drifted,0) ;; *) ok=0; echo "  $h: $(st $h)" ;; esac
done
t_check "callbacks on instance 2 after the kill: consistent states" test $ok = 1
t_check "instance 3's files boot web01 locally" within_1s sh -c "! grep -q token= '$D/i3/tftp/pxelinux.cfg/01-52-54-00-bb-00-01'"

"$KF" status -f "$FLEET" > "$D/status.txt" 2>&1
t_check "status on postgresql lists every host" test "$(grep -c '^[a-z]' "$D/status.txt")" -eq 6

# the server restarted under load: every callback is answered 200 or 503
"$KF" netboot -f "$FLEET" -o "$D/i2" web02 on >/dev/null
W=$(tok web02)
# instance 2 may not have heard of the new token yet: up to 1 s
i=0; WC=
while [ -z "$WC" ] && [ $i -lt 100 ]; do WC=$(t_cred_fetch "$(url 2)" web02 "$W"); i=$((i + 1)); [ -n "$WC" ] || sleep 0.01; done
t_check "web02's reinstall: its kickstart gives a credential" test ${#WC} -eq 64
( i=0; while [ $i -lt 150 ]; do
	for n in 2 3; do
		curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "$(bearer "$WC")" -d '{"drift":0,"failures":0}' \
			"$(url $n)/cb/web02/report" >> "$D/codes"
	done
	i=$((i + 1))
done ) &
LOAD=$!
sleep 0.3
pg_down
sleep 0.5
pg_up
wait $LOAD
if grep -qv '^\(200\|503\)$' "$D/codes"; then
	t_fail "restart under load: only 200 and 503"
	sort "$D/codes" | uniq -c
else t_ok "restart under load: only 200 and 503"; fi
t_check "restart under load: some refused with 503" grep -q '^503$' "$D/codes"
t_check "restart under load: answered again after it" test "$(tail -n 4 "$D/codes" | sort -u)" = 200
ok200=$(grep -c '^200$' "$D/codes")
echo "    $(wc -l < "$D/codes") callbacks, $ok200 answered 200"
t_check "instances reconnect: healthz" test "$(code "$(url 3)/healthz")" = 200
# the watcher tries its connection again every second
t_check "instance 3 hears notices again within 3 s" \
	within 300 grep -q "hearing state changes again" "$D/serve3.log"
"$KF" netboot -f "$FLEET" -o "$D/i2" web03 on >/dev/null
W3=$(tok web03)
t_check "after the restart a change still reaches instance 3" \
	within_1s grep -q "token=$W3" "$D/i3/tftp/pxelinux.cfg/01-52-54-00-bb-00-03"

# ---- a 10k-host SQLite state moved to postgresql, row by row ----
SQ=$D/sq
mkdir -p "$SQ"
SCHEMA=$("$KF" state migrate -f "$TOP/tests/data/http/fleet/fleet.yaml" -o "$SQ" | sed -n 's/.*schema version \([0-9]*\).*/\1/p')
rm -f "$SQ/state.db"
awk -v n=10000 -v schema="$SCHEMA" 'BEGIN {
	printf "{\"kickfleet_state\":1,\"schema\":%d}\n", schema
	for (i = 0; i < n; i++) {
		h = sprintf("h%05d", i); m = sprintf("52:54:01:%02x:%02x:%02x", int(i / 65536), int(i / 256) % 256, i % 256)
		st = i % 7 == 0 ? "installed" : i % 7 == 1 ? "drifted" : "new"
		printf "{\"table\":\"hosts\",\"name\":\"%s\",\"kind\":\"%s\",\"macs\":\"%s\",\"role\":\"kvm-host\",\"state\":\"%s\",\"state_since\":%d,\"created\":%d,\"netboot\":%d,\"token\":\"%064x\",\"token_gen\":%d,\"token_issued\":%d,\"digest\":\"%064x\",\"report\":%s,\"report_time\":%d,\"drift_count\":%d,\"agent_version\":\"%s\",\"last_exit\":%d}\n", h, i % 5 ? "host" : "guest", m, st, 1700000000 + i, 1690000000 + i, st == "new", i * 7919, i % 4 + 1, 1700000100 + i, i * 104729, i % 3 ? "null" : "\"{\\\"drift\\\":" i % 2 ",\\\"note\\\":\\\"é\\\"}\"", i % 3 ? 0 : 1700000200 + i, i % 11, i % 3 ? "" : "0.1.0", i % 3 ? -1 : i % 2 * 2
		printf "{\"table\":\"host_macs\",\"mac\":\"%s\",\"name\":\"%s\"}\n", m, h
		printf "{\"table\":\"events\",\"id\":%d,\"time\":%d,\"host\":\"%s\",\"what\":\"state\",\"detail\":\"new -> %s\"}\n", 2 * i + 1, 1700000000 + i, h, st
		printf "{\"table\":\"events\",\"id\":%d,\"time\":%d,\"host\":\"%s\",\"what\":\"token\",\"detail\":%s}\n", 2 * i + 2, 1700000001 + i, h, i % 2 ? "null" : "\"rotated\""
		if (i % 2 == 0)
			printf "{\"table\":\"facts\",\"name\":\"%s\",\"json\":\"{\\\"cpus\\\":%d}\",\"summary\":\"%d cpus\",\"time\":%d}\n", h, i % 64 + 1, i % 64 + 1, 1700000300 + i
		if (i % 3 == 0)
			printf "{\"table\":\"credentials\",\"name\":\"%s\",\"agent_hash\":\"%064x\",\"pending\":\"\",\"next_hash\":\"%s\",\"old_hash\":\"%064x\",\"gen\":%d,\"issued\":%d,\"rotated\":%d}\n", h, i * 31337, i % 2 ? "" : sprintf("%064x", i * 3), i * 17, i % 5 + 1, 1700000700 + i, i % 2 ? 0 : 1700000800 + i
		if (i % 100 == 0) {
			printf "{\"table\":\"discovered\",\"mac\":\"52:54:02:00:%02x:%02x\",\"json\":\"{}\",\"peer\":\"127.0.0.%d\",\"first_seen\":%d,\"last_seen\":%d,\"count\":%d}\n", int(i / 256) % 256, i % 256, i % 250 + 1, 1700000000 + i, 1700000500 + i, i % 9 + 1
			printf "{\"table\":\"power\",\"name\":\"%s\",\"power\":%d,\"action\":\"status\",\"time\":%d,\"result\":\"ok\",\"errors\":%d}\n", h, i % 2, 1700000600 + i, i % 3
		}
	}
}' > "$D/gen.jsonl"
SQF=$TOP/tests/data/http/fleet/fleet.yaml
t_check "a generated 10k-host state imports into SQLite" \
	sh -c "'$KF' state import -f '$SQF' -o '$SQ' '$D/gen.jsonl' | grep -q 'imported 48534 rows'"
"$KF" state export -f "$SQF" -o "$SQ" > "$D/sqlite.jsonl"
pg_reset
s0=$(date +%s%N)
t_check "the SQLite export imports into postgresql" \
	sh -c "'$KF' state import -f '$FLEET' < '$D/sqlite.jsonl' | grep -q 'imported 48534 rows'"
echo "    import of 48534 rows: $(( ($(date +%s%N) - s0) / 1000000 )) ms"
"$KF" state export -f "$FLEET" > "$D/pg.jsonl"
tail -n +2 "$D/pg.jsonl" > "$D/pg.rows"
tail -n +2 "$D/sqlite.jsonl" > "$D/sqlite.rows"
t_check "10k hosts moved row by row: the two exports are identical" cmp -s "$D/sqlite.rows" "$D/pg.rows"
t_check "and both hold every generated host" test "$(grep -c '"table":"hosts"' "$D/pg.rows")" = 10000
"$KF" state export --json -f "$FLEET" > "$D/pg.json"
rm -f "$SQ/state.db"*
t_check "the --json document imports back into SQLite" \
	sh -c "'$KF' state import -f '$SQF' -o '$SQ' '$D/pg.json' | grep -q 'imported 48534 rows'"
"$KF" state export -f "$SQF" -o "$SQ" | tail -n +2 > "$D/back.rows"
t_check "and back in SQLite every row is the same" cmp -s "$D/sqlite.rows" "$D/back.rows"
t_check "import into a store that is not empty is refused" \
	sh -c "! '$KF' state import -f '$FLEET' '$D/sqlite.jsonl' 2>&1 | grep -q imported"
NEXT=$(pg_sql -c "SELECT nextval(pg_get_serial_sequence('events','id'))")
t_check "events after an import get new ids" test "$NEXT" = 20001
t_check "state migrate on postgresql" sh -c "'$KF' state migrate -f '$FLEET' | grep -q 'schema version $SCHEMA, current'"
t_summary
