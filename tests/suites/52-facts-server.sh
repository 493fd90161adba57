#!/bin/sh
# Facts at the provisioner, the real binaries on 127.0.0.1: the agent posts
# its facts with its report (its agent credential), `kickfleet facts HOST` shows them as
# the agent would, `status` has the facts column; with unknown_hosts:
# discovery every case of tests/data/discovery/ (NAME.json posted to
# /discover?mac=M, NAME.case: mac= and the expected status=) gets its
# status, each refusal is logged and stores nothing, a flood from one
# address gets 429, and `kickfleet discovered` lists only the good machine.
. "$(dirname "$0")/../lib.sh"
KF=$TOP/build/kickfleet
AGENT=$TOP/build/kickfleet-agent
D=$(mktemp -d /tmp/kf-52-facts.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for tool in curl sqlite3 python3; do
	command -v $tool >/dev/null || { t_skip "$tool missing"; t_summary; exit 0; }
done

cp -r "$TOP/tests/data/http/fleet" "$D/fleet"
sed -i 's/^  token_ttl: 3600$/  token_ttl: 3600\n  unknown_hosts: discovery/' "$D/fleet/fleet.yaml"
FLEET=$D/fleet/fleet.yaml
PORT=$((20000 + ($$ + 7) % 20000))
URL=http://127.0.0.1:$PORT
"$KF" render --no-stage -f "$FLEET" -o "$D/out" >/dev/null 2>"$D/render.err" || { t_fail "render"; cat "$D/render.err"; }
"$KF" serve -f "$FLEET" -o "$D/out" --listen 127.0.0.1:$PORT >"$D/serve.log" 2>&1 &
PID=$!
i=0; while ! curl -sf "$URL/healthz" >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
tok() { sqlite3 "$D/out/state.db" "SELECT token FROM hosts WHERE name='$1'"; }
code() { curl -s -o "$D/body" -w '%{http_code}' "$@"; }
T1=$(tok kvm01)
C1=$(t_cred_fetch "$URL" kvm01 "$T1")
bearer() { echo "Authorization: Bearer $1"; }

# --- the agent's facts, posted with its report (its credential in its
# --- root-only file, as the kickstart leaves it) ---
"$TOP/tests/sysroot/mktree.sh" two-node-amd "$D/root"
mkdir -p "$D/root/etc/kickfleet"
(umask 077 && echo "$C1" >"$D/root/etc/kickfleet/agent.credential")
"$AGENT" check --profile "$TOP/tests/data/agent/only-memory/profile.yaml" --root "$D/root" \
	--report "$URL/cb/kvm01/report" >"$D/agent.out" 2>"$D/agent.err"
t_check "agent posted its report" grep -q "report from kvm01" "$D/serve.log"
t_check "agent posted its facts" grep -q "facts from kvm01: 2n 16G hp 0" "$D/serve.log"
"$AGENT" facts --json --root "$D/root" >"$D/want.json"
"$KF" facts -f "$FLEET" -o "$D/out" --json kvm01 >"$D/got.json" 2>"$D/err"
t_check "kickfleet facts --json = the agent's facts" cmp -s "$D/want.json" "$D/got.json"
"$AGENT" facts --root "$D/root" >"$D/want.txt"
"$KF" facts -f "$FLEET" -o "$D/out" kvm01 | tail -n +2 >"$D/got.txt"
t_check "kickfleet facts (text) = the agent's text" cmp -s "$D/want.txt" "$D/got.txt"
t_check "kickfleet facts of a host without facts: exit 1" sh -c "! '$KF' facts -f '$FLEET' -o '$D/out' kvm02 2>'$D/err'"
t_check "... saying so" grep -q 'no facts for "kvm02" yet' "$D/err"
"$KF" status -f "$FLEET" -o "$D/out" >"$D/status.txt"
t_check "status: FACTS column" sh -c "head -1 '$D/status.txt' | grep -q 'DRIFT  FACTS'"
t_check "status: kvm01's facts" grep -q '^kvm01 .* 2n 16G hp 0' "$D/status.txt"
C2=$(t_cred_fetch "$URL" kvm02 "$(tok kvm02)")
t_check "facts without a credential: 403" test "$(code -X POST --data-binary @"$D/want.json" "$URL/facts/kvm01")" = 403
t_check "facts with the install token: 403" test "$(code -X POST --data-binary @"$D/want.json" "$URL/facts/kvm01?token=$T1")" = 403
t_check "facts with kvm02's credential: 403" test "$(code -X POST -H "$(bearer "$C2")" --data-binary @"$D/want.json" "$URL/facts/kvm01")" = 403
t_check "facts of the wrong type: 400" test "$(code -X POST -H "$(bearer "$C1")" --data-binary @"$TOP/tests/data/discovery/05-wrong-type.json" "$URL/facts/kvm01")" = 400
t_check "... naming the field" grep -q 'cpu.threads: expected an integer' "$D/body"
t_check "kvm01's facts unchanged" sh -c "'$KF' facts -f '$FLEET' -o '$D/out' --json kvm01 | cmp -s - '$D/want.json'"

# --- check: kvm01's role asks what its stored facts say it cannot give ---
"$KF" check -f "$FLEET" -o "$D/out" >/dev/null 2>"$D/check.err"
t_check "check: no warnings while the profile fits the facts" test ! -s "$D/check.err"
cp "$D/fleet/profiles/kvm.yaml" "$D/kvm.yaml.orig"
sed -i 's/^  transparent_hugepages: {enabled: never}$/&\n  hugepages:\n    - {size: 1G, per_node: {1: 9}}/' "$D/fleet/profiles/kvm.yaml"
sed -i 's/^      vcpus: {0: 4, 1: 5, 2: 6, 3: 7}$/      vcpus: {0: 4, 1: 5, 2: 6, 3: 9}/' "$D/fleet/profiles/kvm.yaml"
"$KF" check -f "$FLEET" -o "$D/out" >/dev/null 2>"$D/check.err"
t_check "check: still valid (exit 0)" test $? -eq 0
t_check "check: 9 1G pages on node 1 (8G) warned at the profile line" grep -qx ".*profiles/kvm.yaml:7:32: warning: host kvm01: hugepages: 9 1G pages on node 1 are 9G, the node has 8G" "$D/check.err"
t_check "check: CPU 9 warned at the pin" grep -q "profiles/kvm.yaml:12:36: warning: host kvm01: guest web02: CPU 9 does not exist (the host has CPUs 0-7)" "$D/check.err"
t_check "check: kvm02 has no facts: no warning for it" sh -c "! grep -q 'host kvm02' '$D/check.err'"
cat "$D/check.err"
cp "$D/kvm.yaml.orig" "$D/fleet/profiles/kvm.yaml"

# --- discovery: each data case gets its status; refusals logged, not stored ---
for c in "$TOP"/tests/data/discovery/*.case; do
	name=$(basename "$c" .case)
	mac=$(sed -n 's/^mac=//p' "$c"); want=$(sed -n 's/^status=//p' "$c")
	before=$(sqlite3 "$D/out/state.db" "SELECT count(*), total(count) FROM discovered")
	got=$(code -X POST -H 'Content-Type: application/json' --data-binary @"${c%.case}.json" "$URL/discover?mac=$mac")
	if [ "$got" = "$want" ]; then t_ok "discover $name: $want"; else t_fail "discover $name: $got, wanted $want"; cat "$D/body"; fi
	case $want in
	2*) ;;
	*)	after=$(sqlite3 "$D/out/state.db" "SELECT count(*), total(count) FROM discovered")
		[ "$before" = "$after" ] && t_ok "discover $name: nothing stored" || t_fail "discover $name: stored ($before -> $after)"
		grep -q "http: $want POST /discover" "$D/serve.log" && t_ok "discover $name: logged" || t_fail "discover $name: not logged" ;;
	esac
done
"$KF" discovered -f "$FLEET" -o "$D/out" --json >"$D/disc.json"
t_check "discovered: only the good machine, seen twice" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if len(d) == 1 and d[0]["mac"] == "52:54:00:dd:00:01" and d[0]["posts"] == 2
         and d[0]["memory"] == 17179869184 and d[0]["disks"] == [{"name": "vda", "size": 42949672960}] else 1)' "$D/disc.json"
"$KF" discovered -f "$FLEET" -o "$D/out" >"$D/disc.txt"
t_check "discovered (table)" grep -q '^52:54:00:dd:00:01 .* 16G .*vda 40G' "$D/disc.txt"
t_check "the discovery reply holds nothing" test "$(code -X POST --data-binary @"$TOP/tests/data/discovery/01-good.json" "$URL/discover?mac=52:54:00:dd:00:01")" = 204 -a ! -s "$D/body"
# a flood from one address: 429 once the minute's budget is spent
n429=0
for i in $(seq 1 40); do
	[ "$(code -X POST --data-binary @"$TOP/tests/data/discovery/11-not-json.json" "$URL/discover?mac=52:54:00:dd:00:05")" = 429 ] && n429=$((n429 + 1))
done
t_check "flood: refused with 429" test $n429 -gt 0
t_check "flood: logged" grep -q "http: 429 POST /discover from 127.0.0.1: more than 30 discovery posts from this address a minute" "$D/serve.log"
t_check "flood: nothing stored" test "$(sqlite3 "$D/out/state.db" "SELECT count(*) FROM discovered")" = 1

# --- enlist: the discovered machine becomes a host, rendered, served ---
cp "$FLEET" "$D/fleet.before"
t_check "enlist a MAC not discovered: exit 1" sh -c "! '$KF' enlist -f '$FLEET' -o '$D/out' 52:54:00:dd:00:09 --name kvm09 --role plain 2>'$D/err'"
t_check "... saying so" grep -q 'was not discovered' "$D/err"
t_check "enlist the discovered machine" sh -c "'$KF' enlist -f '$FLEET' -o '$D/out' 52:54:00:DD:00:01 --name kvm09 --role plain --ip 10.250.0.19 >'$D/enlist.out' 2>&1"
cat "$D/enlist.out"
t_check "... fleet.yaml: the old file plus four lines at the end of hosts:" python3 -c '
import sys
a = open(sys.argv[1]).read().split("\n"); b = open(sys.argv[2]).read().split("\n")
i = a.index("guests:") - 1
sys.exit(0 if b[:i] + b[i + 4:] == a and b[i:i + 4] == ["  - name: kvm09", "    mac: 52:54:00:dd:00:01", "    ip: 10.250.0.19", "    role: plain"] else 1)' "$D/fleet.before" "$FLEET"
t_check "... rendered" test -f "$D/out/dnsmasq/hosts/kvm09"
t_check "... check passes" sh -c "'$KF' check -f '$FLEET' >/dev/null"
"$KF" discovered -f "$FLEET" -o "$D/out" --json >"$D/disc.json"
t_check "... no longer discovered" python3 -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1])) == [] else 1)' "$D/disc.json"
t_check "enlist it again: refused at its line" sh -c "! '$KF' enlist -f '$FLEET' -o '$D/out' --force 52:54:00:dd:00:01 --name kvm10 --role plain 2>'$D/err'"
t_check "... naming it" grep -q 'fleet.yaml:[0-9]*:[0-9]*: enlist: MAC 52:54:00:dd:00:01 is host kvm09' "$D/err"
kill -HUP "$PID"
i=0; while ! grep -q "serve: reloaded" "$D/serve.log" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
t_check "after SIGHUP the server serves its preseed" test "$(code "$URL/ks/kvm09?token=$(tok kvm09)")" = 200

# discovery off: 404
kill "$PID"; wait "$PID" 2>/dev/null; PID=
sed -i '/^  unknown_hosts: discovery$/d' "$FLEET"
"$KF" serve -f "$FLEET" -o "$D/out" --listen 127.0.0.1:$PORT >>"$D/serve.log" 2>&1 &
PID=$!
i=0; while ! curl -sf "$URL/healthz" >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
t_check "discovery off: 404" test "$(code -X POST --data-binary @"$TOP/tests/data/discovery/01-good.json" "$URL/discover?mac=52:54:00:dd:00:03")" = 404
t_summary
