#!/bin/sh
# kickfleet serve, the real binary on 127.0.0.1: routes, token rules (the
# install token closes at "installed", the agent credential comes with
# the kickstart, `kickfleet token rotate` and the real agent picking up
# its new credential), callbacks flipping boot files, reinstall through
# `kickfleet netboot`,
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
bearer() { echo "Authorization: Bearer $1"; }
MARK=@KICKFLEET_AGENT_CREDENTIAL@

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
C1=$(t_cred_of "$D/body")
t_check "ks carries an agent credential" test ${#C1} -eq 64
t_check "ks is the rendered file, the credential in place of the mark" sh -c \
	"sed 's/$C1/$MARK/' '$D/body' | cmp -s - '$D/http/ks/kvm01' && ! grep -q '$C1' '$D/http/ks/kvm01'"
t_check "store keeps the credential's SHA-256" test "$(sqlite3 "$D/state.db" "SELECT agent_hash FROM credentials WHERE name='kvm01'")" = "$(printf %s "$C1" | sha256sum | cut -d' ' -f1)"
t_check "ks fetched again: the same credential" sh -c "curl -s '$URL/ks/kvm01?token=$T1' | grep -q '$C1'"
t_check "ks fetched: installing" test "$(st kvm01)" = installing,1
t_check "profile with the install token in the query: 403" test "$(code "$URL/profile/kvm01?token=$T1")" = 403
t_check "profile with the install token as credential: 403" test "$(code -H "$(bearer "$T1")" "$URL/profile/kvm01")" = 403
t_check "profile with the agent credential: 200" test "$(code -H "$(bearer "$C1")" "$URL/profile/kvm01")" = 200
t_check "profile lists guest web01" grep -q "name: web01" "$D/body"
t_check "profile's report URL carries no secret" sh -c "grep -q 'report: \"$URL/cb/kvm01/report\"' '$D/body' && ! grep -q 'token=' '$D/body'"
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
t_check "install token after installed: 403" test "$(code -X POST "$URL/cb/kvm01/installed?token=$T1")" = 403
t_check "kickstart after installed: 403" test "$(code "$URL/ks/kvm01?token=$T1")" = 403
t_check "install token after install logged with host and reason" \
	grep -q "403 GET /ks/kvm01 from 127.0.0.1: install token used after install (host is installed) (host kvm01)" "$D/serve.log"
t_check "the store forgot the credential itself at installed" \
	test "$(sqlite3 "$D/state.db" "SELECT length(pending) FROM credentials WHERE name='kvm01'")" = 0
t_check "report with the install token: 403" test "$(code -X POST -d '{}' "$URL/cb/kvm01/report?token=$T1")" = 403
t_check "report configured" sh -c "curl -s -X POST -H '$(bearer "$C1")' -d '{\"drift\":0,\"failures\":0}' '$URL/cb/kvm01/report' | grep -q configured"
t_check "bad JSON: 400" test "$(code -X POST -H "$(bearer "$C1")" -d '{' "$URL/cb/kvm01/report")" = 400
# the agent's own report: its exit code and version are kept beside it
REP='{"command":"apply","summary":{"to_change":0,"applied":3,"failed":0,"skipped":0,"pending":0,"errors":0},"exit_code":2,"agent_version":"9.8.7"}'
t_check "agent report: 200" test "$(code -X POST -H "$(bearer "$C1")" -d "$REP" "$URL/cb/kvm01/report")" = 200
t_check "agent report: exit code and version stored" \
	test "$(sqlite3 "$D/state.db" "SELECT last_exit || ',' || agent_version FROM hosts WHERE name='kvm01'")" = "2,9.8.7"
t_check "agent report: logged with exit and version" grep -q 'serve: report from kvm01: configured (3 changes, exit 2, agent 9.8.7)' "$D/serve.log"
curl -s "$URL/metrics" >"$D/metrics"
t_check "metrics: the agent's last run, exit code and version per host" sh -c \
	"grep -q '^kickfleet_agent_last_run_timestamp_seconds{host=\"kvm01\"} [0-9]' '$D/metrics' &&
	 grep -q '^kickfleet_agent_last_exit_code{host=\"kvm01\"} 2\$' '$D/metrics' &&
	 grep -q '^kickfleet_agent_info{host=\"kvm01\",version=\"9.8.7\"} 1\$' '$D/metrics'"
t_check "metrics: no agent lines for a host that never reported" sh -c "! grep -q 'kickfleet_agent_last_run_timestamp_seconds{host=\"web01\"}' '$D/metrics'"

# the real agent with its credential file, then kickfleet token rotate:
# the agent keeps the new credential from its profile fetch and reports
# with it; the old one is refused from then on
"$TOP/tests/sysroot/mktree.sh" one-node-intel "$D/root"
mkdir -p "$D/root/etc/kickfleet"
echo "$C1" >"$D/root/etc/kickfleet/agent.credential"
chmod 0600 "$D/root/etc/kickfleet/agent.credential"
agent() { "$TOP/build/kickfleet-agent" check --profile "$URL/profile/kvm01" --root "$D/root" \
	--report "$URL/cb/kvm01/report" --skip guests >"$D/agent.out" 2>&1; }
m=$(grep -c 'serve: report from kvm01: ' "$D/serve.log")
n403=$(grep -c '403 .*(host kvm01)' "$D/serve.log")
agent
t_check "agent: profile and report with its credential" sh -c \
	"test \$(grep -c 'serve: report from kvm01: ' '$D/serve.log') -gt $m && test \$(grep -c '403 .*(host kvm01)' '$D/serve.log') = $n403"
t_check "token rotate: needs HOST or --all" sh -c "! '$KF' token rotate -f '$FLEET' -o '$D' 2>/dev/null"
t_check "token rotate: a host without a credential is an error" sh -c "! '$KF' token rotate -f '$FLEET' -o '$D' kvm02 2>'$D/err' && grep -q 'has no agent credential yet' '$D/err'"
t_check "token rotate kvm01" sh -c "'$KF' token rotate -f '$FLEET' -o '$D' kvm01 | grep -q 'rotation asked'"
t_check "token status: rotation pending" sh -c "'$KF' token status -f '$FLEET' -o '$D' kvm01 | grep -q 'rotation pending'"
t_check "before pickup the old credential still works" test "$(code -H "$(bearer "$C1")" "$URL/profile/kvm01")" = 200
agent
C2=$(tr -d '\n' <"$D/root/etc/kickfleet/agent.credential")
t_check "agent picked up a new credential (0600)" sh -c "test ${#C2} -eq 64 -a '$C2' != '$C1' && test \$(stat -c %a '$D/root/etc/kickfleet/agent.credential') = 600"
t_check "server logged the pickup" grep -q "serve: kvm01 picked up its new agent credential" "$D/serve.log"
t_check "old credential after pickup: 403" test "$(code -H "$(bearer "$C1")" "$URL/profile/kvm01")" = 403
t_check "old credential logged with host and reason" grep -q "403 GET /profile/kvm01 from 127.0.0.1: old agent credential (replaced by a rotation or a reinstall) (host kvm01)" "$D/serve.log"
t_check "new credential: 200" test "$(code -H "$(bearer "$C2")" "$URL/profile/kvm01")" = 200
t_check "token status: current" sh -c "'$KF' token status -f '$FLEET' -o '$D' kvm01 | grep -q 'gen 2 .* current'"
t_check "no credential in any rendered file or log" sh -c \
	"! grep -rqE '$C1|$C2' '$D/tftp' '$D/http' '$D/dnsmasq' '$D/serve.log' 2>/dev/null"
t_check "no credential in the TFTP tree, the mark nowhere but kickstarts" sh -c \
	"! grep -rq '$MARK' '$D/tftp' && ! grep -rq 'agent_credential\|$MARK' '$D/http/ipxe' 2>/dev/null"
# the last report is the one status checks below
t_check "agent report with the new credential: 200" test "$(code -X POST -H "$(bearer "$C2")" -d "$REP" "$URL/cb/kvm01/report")" = 200

# reinstall: netboot on gives a fresh token and the install config back
"$KF" netboot -f "$FLEET" -o "$D" kvm01 on >/dev/null
N1=$(tok kvm01)
t_check "reinstall: new state and token" test "$(st kvm01)" = new,1 -a "$N1" != "$T1"
t_check "reinstall: install config" grep -q "token=$N1" "$CFG"
t_check "reinstall: old token refused" test "$(code -X POST "$URL/cb/kvm01/installed?token=$T1")" = 403
t_check "reinstall: the agent's credential works until the new kickstart" test "$(code -H "$(bearer "$C2")" "$URL/profile/kvm01")" = 200
t_check "reinstall: the new kickstart, a new credential" test "$(code "$URL/ks/kvm01?token=$N1")" = 200 -a "$(t_cred_of "$D/body")" != "$C2"
t_check "reinstall: the old install's credential refused" test "$(code -H "$(bearer "$C2")" "$URL/profile/kvm01")" = 403

# kill -9 while callbacks run, then restart on the same state
for h in kvm02 plain01 web01 web02 web03; do
	t=$(tok $h)
	curl -s -o "$D/ks.$h" "$URL/ks/$h?token=$t"
	c=$(t_cred_of "$D/ks.$h")
	( for i in 1 2 3 4 5 6 7 8; do
		curl -s -X POST "$URL/cb/$h/installing?token=$t" >/dev/null
		curl -s -X POST "$URL/cb/$h/installed?token=$t" >/dev/null
		curl -s -X POST -H "$(bearer "$c")" -d '{"drift":1,"failures":0}' "$URL/cb/$h/report" >/dev/null
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
	t_check "status --json" test "$(jq -r '.[] | select(.name=="kvm01") | .state' "$D/status.json")" = installing
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
sqlite3 "$D/v1/state.db" "ALTER TABLE hosts DROP COLUMN agent_version; ALTER TABLE hosts DROP COLUMN last_exit; DROP TABLE credentials; PRAGMA user_version = 3"
t_check "state of version 3 migrated on open (status reads it)" sh -c \
	"'$KF' status -f '$FLEET' -o '$D/v1' >/dev/null && test \"\$(sqlite3 '$D/v1/state.db' 'PRAGMA user_version')\" -ge 5 &&
	 test \"\$(sqlite3 '$D/v1/state.db' \"SELECT last_exit FROM hosts WHERE name='kvm01'\")\" = -1"

# guest install through libvirt's test driver (no daemon)
t_check "guest install (test:///default)" sh -c "'$KF' guest install -f '$FLEET' --uri test:///default web01 | grep -q 'network boot first'"
t_check "guest install --dry-run: boot order" sh -c "'$KF' guest install -f '$FLEET' --dry-run web02 | grep -q '<boot order=\"1\"/>'"
t_check "guest install: not a guest" sh -c "! '$KF' guest install -f '$FLEET' --uri test:///default kvm01 2>/dev/null"

stop
t_check "serve stops on SIGTERM" grep -q "serve: stopping" "$D/serve.log"
t_summary
