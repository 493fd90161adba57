#!/bin/sh
# kickfleet serve, the real binary on 127.0.0.1: routes, token rules,
# callbacks flipping boot files, reinstall through `kickfleet netboot`,
# kill -9 in the middle of callbacks then a restart on the same state,
# status (table, --json, --watch), guest install on libvirt's test driver.
. "$(dirname "$0")/../lib.sh"
KF=$TOP/build/kickfleet
FLEET=$TOP/tests/data/http/fleet/fleet.yaml
D=$(mktemp -d /tmp/kf-50-server.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
for tool in curl sqlite3; do
	command -v $tool >/dev/null || { t_skip "$tool missing"; t_summary; exit 0; }
done

PORT=$((20000 + $$ % 20000))
URL=http://127.0.0.1:$PORT
start() {
	"$KF" serve -f "$FLEET" -o "$D" --listen 127.0.0.1:$PORT --timeout 5 \
		--agent "$D/agent-bin" >>"$D/serve.log" 2>&1 &
	PID=$!
	i=0
	while ! curl -sf "$URL/healthz" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt 100 ] && return 1
		sleep 0.05
	done
}
stop() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=; }
tok() { sqlite3 "$D/state.db" "SELECT token FROM hosts WHERE name='$1'"; }
st() { sqlite3 "$D/state.db" "SELECT state || ',' || netboot FROM hosts WHERE name='$1'"; }
code() { curl -s -o "$D/body" -w '%{http_code}' "$@"; }

"$KF" render -f "$FLEET" -o "$D" >/dev/null 2>&1
printf 'agent-binary' > "$D/agent-bin"
t_check "render the test fleet" test -f "$D/http/ks/kvm01"
t_check "serve starts" start
T1=$(tok kvm01) T2=$(tok kvm02)
t_check "tokens issued" test ${#T1} -eq 64 -a ${#T2} -eq 64

t_check "healthz" test "$(code "$URL/healthz")" = 200
t_check "ks without token: 403" test "$(code "$URL/ks/kvm01")" = 403
t_check "ks with another host's token: 403" test "$(code "$URL/ks/kvm01?token=$T2")" = 403
t_check "403 leaks nothing" test "$(cat "$D/body")" = forbidden
t_check "403 logged with request and host" grep -q "403 GET /ks/kvm01 from 127.0.0.1: wrong token (host kvm01)" "$D/serve.log"
if grep -q "$T2" "$D/serve.log"; then t_fail "token in the log"; else t_ok "no token in the log"; fi
t_check "ks with its token: 200" test "$(code "$URL/ks/kvm01?token=$T1")" = 200
t_check "ks is the rendered file" cmp -s "$D/body" "$D/http/ks/kvm01"
t_check "ks fetched: installing" test "$(st kvm01)" = installing,1
t_check "profile: 200" test "$(code "$URL/profile/kvm01?token=$T1")" = 200
t_check "profile lists guest web01" grep -q "name: web01" "$D/body"
t_check "agent binary: 200" test "$(code "$URL/agent/kickfleet-agent")" = 200 -a "$(cat "$D/body")" = agent-binary
t_check "boot file range: 206" test "$(code -r 0-9 "$URL/boot/pxelinux.cfg/default")" = 206
t_check "traversal: 400" test "$(code --path-as-is "$URL/boot/../state.db")" = 400
t_check "metrics: hosts by state" sh -c "curl -s $URL/metrics | grep -q 'kickfleet_hosts{state=\"installing\"} 1'"

# installed: the boot files flip to local boot, twice is once
CFG=$D/tftp/pxelinux.cfg/01-52-54-00-aa-00-01
t_check "install config before" grep -q "token=$T1" "$CFG"
t_check "installed: 200" test "$(code -X POST -d '{}' "$URL/cb/kvm01/installed?token=$T1")" = 200
t_check "installed: state" test "$(st kvm01)" = installed,0
t_check "installed: local boot config" sh -c "! grep -q token= '$CFG' && grep -qi localboot '$CFG'"
t_check "installed twice: unchanged" sh -c "curl -s -X POST '$URL/cb/kvm01/installed?token=$T1' | grep -q '\"changed\":false'"
t_check "report configured" sh -c "curl -s -X POST -d '{\"drift\":0,\"failures\":0}' '$URL/cb/kvm01/report?token=$T1' | grep -q configured"
t_check "bad JSON: 400" test "$(code -X POST -d '{' "$URL/cb/kvm01/report?token=$T1")" = 400
# the agent's own report: its exit code and version are kept beside it
REP='{"command":"apply","summary":{"to_change":0,"applied":3,"failed":0,"skipped":0,"pending":0,"errors":0},"exit_code":2,"agent_version":"9.8.7"}'
t_check "agent report: 200" test "$(code -X POST -d "$REP" "$URL/cb/kvm01/report?token=$T1")" = 200
t_check "agent report: exit code and version stored" \
	test "$(sqlite3 "$D/state.db" "SELECT last_exit || ',' || agent_version FROM hosts WHERE name='kvm01'")" = "2,9.8.7"
t_check "agent report: logged with exit and version" grep -q 'serve: report from kvm01: configured (3 changes, exit 2, agent 9.8.7)' "$D/serve.log"
curl -s "$URL/metrics" >"$D/metrics"
t_check "metrics: the agent's last run, exit code and version per host" sh -c \
	"grep -q '^kickfleet_agent_last_run_timestamp_seconds{host=\"kvm01\"} [0-9]' '$D/metrics' &&
	 grep -q '^kickfleet_agent_last_exit_code{host=\"kvm01\"} 2\$' '$D/metrics' &&
	 grep -q '^kickfleet_agent_info{host=\"kvm01\",version=\"9.8.7\"} 1\$' '$D/metrics'"
t_check "metrics: no agent lines for a host that never reported" sh -c "! grep -q 'kickfleet_agent_last_run_timestamp_seconds{host=\"web01\"}' '$D/metrics'"

# reinstall: netboot on gives a fresh token and the install config back
"$KF" netboot -f "$FLEET" -o "$D" kvm01 on >/dev/null
N1=$(tok kvm01)
t_check "reinstall: new state and token" test "$(st kvm01)" = new,1 -a "$N1" != "$T1"
t_check "reinstall: install config" grep -q "token=$N1" "$CFG"
t_check "reinstall: old token refused" test "$(code -X POST "$URL/cb/kvm01/installed?token=$T1")" = 403

# kill -9 while callbacks run, then restart on the same state
for h in kvm02 plain01 web01 web02 web03; do
	t=$(tok $h)
	( for i in 1 2 3 4 5 6 7 8; do
		curl -s -X POST "$URL/cb/$h/installing?token=$t" >/dev/null
		curl -s -X POST "$URL/cb/$h/installed?token=$t" >/dev/null
		curl -s -X POST -d '{"drift":1,"failures":0}' "$URL/cb/$h/report?token=$t" >/dev/null
	done ) &
done
sleep 0.3
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
wait
t_check "state intact after kill -9" test "$(sqlite3 "$D/state.db" 'PRAGMA integrity_check')" = ok
bad=$(sqlite3 "$D/state.db" "SELECT name FROM hosts WHERE state IN ('installed','configured','drifted') AND netboot = 1")
t_check "no host installed yet netbooting" test -z "$bad"
t_check "restart after kill -9" start
for h in kvm02 plain01 web01 web02 web03; do
	t=$(tok $h)
	curl -s -X POST "$URL/cb/$h/installed?token=$t" >/dev/null
done
ok=1
for h in kvm02 plain01 web01 web02 web03; do
	case $(st $h) in installed,0|configured,0|drifted,0) ;; *) ok=0; echo "  $h: $(st $h)" ;; esac
done
t_check "callbacks after restart: consistent states" test $ok = 1
t_check "web01 boots locally after restart" sh -c "! grep -q token= '$D/tftp/pxelinux.cfg/01-52-54-00-bb-00-01'"

# status
"$KF" status -f "$FLEET" -o "$D" > "$D/status.txt"
t_check "status table" sh -c "head -1 '$D/status.txt' | grep -q '^HOST.*STATE.*SINCE.*LAST RUN.*EXIT.*AGENT.*DRIFT'"
t_check "status: kvm01's last run, exit 2, agent 9.8.7" sh -c "grep -Eq '^kvm01 .* [0-9]+s ago +2 +9\.8\.7 ' '$D/status.txt'"
t_check "status lists every host" test "$(grep -c '^[a-z]' "$D/status.txt")" -eq 6
"$KF" status -f "$FLEET" -o "$D" --json > "$D/status.json"
if command -v jq >/dev/null; then
	t_check "status --json" test "$(jq -r '.[] | select(.name=="kvm01") | .state' "$D/status.json")" = new
else
	t_check "status --json" grep -q '"name": "kvm01"' "$D/status.json"
fi
sqlite3 "$D/state.db" "UPDATE hosts SET state='installed', netboot=0 WHERE name='kvm01'"
timeout 10 "$KF" status -f "$FLEET" -o "$D" --watch=0.2 > "$D/watch.txt"
t_check "status --watch ends when all are installed" grep -q '6/6 installed' "$D/watch.txt"
# stale: installed, and no report for 3 intervals (the profile's default 30min)
sqlite3 "$D/state.db" "UPDATE hosts SET report_time = strftime('%s','now') - 5500 WHERE name='kvm01'"
"$KF" status -f "$FLEET" -o "$D" --json > "$D/status.json"
"$KF" status -f "$FLEET" -o "$D" > "$D/status.txt"
if command -v jq >/dev/null; then
	t_check "status --json: stale after 3 intervals without a report, with its interval" \
		test "$(jq -c '.[] | select(.name=="kvm01") | [.stale, .agent_interval, .last_exit_code, .agent_version]' "$D/status.json")" = '[true,1800,2,"9.8.7"]'
	t_check "status --json: a host with a report 1 interval old is not stale" sh -c \
		"sqlite3 '$D/state.db' \"UPDATE hosts SET report_time = strftime('%s','now') - 1800 WHERE name='kvm01'\" &&
		 '$KF' status -f '$FLEET' -o '$D' --json | jq -e '.[] | select(.name==\"kvm01\") | .stale == false' >/dev/null"
fi
t_check "status marks the stale host" grep -q '^kvm01 .*(stale: no report for 3 intervals)' "$D/status.txt"
# a store of schema version 3 (no agent columns) is brought up to date
mkdir -p "$D/v1"
cp "$D/state.db" "$D/v1/state.db"
sqlite3 "$D/v1/state.db" "ALTER TABLE hosts DROP COLUMN agent_version; ALTER TABLE hosts DROP COLUMN last_exit; PRAGMA user_version = 3"
t_check "state of version 3 migrated on open (status reads it)" sh -c \
	"'$KF' status -f '$FLEET' -o '$D/v1' >/dev/null && test \"\$(sqlite3 '$D/v1/state.db' 'PRAGMA user_version')\" = 4 &&
	 test \"\$(sqlite3 '$D/v1/state.db' \"SELECT last_exit FROM hosts WHERE name='kvm01'\")\" = -1"

# guest install through libvirt's test driver (no daemon)
t_check "guest install (test:///default)" sh -c "'$KF' guest install -f '$FLEET' --uri test:///default web01 | grep -q 'network boot first'"
t_check "guest install --dry-run: boot order" sh -c "'$KF' guest install -f '$FLEET' --dry-run web02 | grep -q '<boot order=\"1\"/>'"
t_check "guest install: not a guest" sh -c "! '$KF' guest install -f '$FLEET' --uri test:///default kvm01 2>/dev/null"

stop
t_check "serve stops on SIGTERM" grep -q "serve: stopping" "$D/serve.log"
t_summary
