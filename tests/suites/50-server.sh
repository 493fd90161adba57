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
t_check "status table" sh -c "head -1 '$D/status.txt' | grep -q '^HOST.*STATE.*SINCE.*LAST REPORT.*DRIFT'"
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

# guest install through libvirt's test driver (no daemon)
t_check "guest install (test:///default)" sh -c "'$KF' guest install -f '$FLEET' --uri test:///default web01 | grep -q 'network boot first'"
t_check "guest install --dry-run: boot order" sh -c "'$KF' guest install -f '$FLEET' --dry-run web02 | grep -q '<boot order=\"1\"/>'"
t_check "guest install: not a guest" sh -c "! '$KF' guest install -f '$FLEET' --uri test:///default kvm01 2>/dev/null"

stop
t_check "serve stops on SIGTERM" grep -q "serve: stopping" "$D/serve.log"
t_summary
