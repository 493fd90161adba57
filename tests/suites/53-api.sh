#!/bin/sh
# The REST API and the page's server side (docs/api.md), the real binary on
# 127.0.0.1: the admin tokens file is refused unless it is root's and
# private; lists filter and paginate; one host's detail has its history
# and no secret; actions change the store and log who did them; the login
# form sets a session cookie whose CSRF token every change must bring;
# server-sent events follow a callback.  Every case of tests/data/http/api/
# (NAME.case: method, path, auth, body, the expected status and error) gets
# its status and a JSON error and changes nothing in the store.
. "$(dirname "$0")/../lib.sh"
KF=$TOP/build/kickfleet
D=$(mktemp -d /tmp/kf-53-api.XXXXXX)
PID= SSE=
cleanup() {
	[ -n "$SSE" ] && kill "$SSE" 2>/dev/null
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t_need_root
for tool in curl sqlite3 python3; do
	command -v $tool >/dev/null || { t_skip "$tool missing"; t_summary; exit 0; }
done

cp -r "$TOP/tests/data/http/fleet" "$D/fleet"
sed -i 's/^  token_ttl: 3600$/  token_ttl: 3600\n  unknown_hosts: discovery/' "$D/fleet/fleet.yaml"
FLEET=$D/fleet/fleet.yaml
ADMIN=a1d2m3i4n5a1d2m3i4n5a1d2m3i4n5a1d2m3i4n5
READ=r1e2a3d4r1e2a3d4r1e2a3d4r1e2a3d4r1e2a3d4
printf '# name role token\nalice admin %s\n\nbob read-only %s\n' "$ADMIN" "$READ" >"$D/tokens"
PORT=$((20000 + ($$ + 11) % 20000))
URL=http://127.0.0.1:$PORT
"$KF" render --no-stage -f "$FLEET" -o "$D/out" >/dev/null 2>"$D/render.err" || { t_fail "render"; cat "$D/render.err"; }
serve() { "$KF" serve -f "$FLEET" -o "$D/out" --listen 127.0.0.1:$PORT --api-tokens "$@"; }
# in the background: PID is the server's own (a backgrounded function would be a subshell's)
serve_bg() { log=$1; shift; "$KF" serve -f "$FLEET" -o "$D/out" --listen 127.0.0.1:$PORT --api-tokens "$@" >"$log" 2>&1 & PID=$!; }

# --- the tokens file: root's, private, well formed ---
chmod 644 "$D/tokens"
serve "$D/tokens" >"$D/refused.log" 2>&1
t_check "a group/other-readable tokens file: serve refuses to start" test $? = 1
t_check "... saying why" grep -q "mode 0644 lets group or others read it" "$D/refused.log"
chmod 600 "$D/tokens"
cp "$D/tokens" "$D/tokens.nobody" && chown 65534 "$D/tokens.nobody"
serve "$D/tokens.nobody" >"$D/refused.log" 2>&1
t_check "a tokens file of another user: refused" grep -q "owned by uid 65534, must be root's" "$D/refused.log"
printf 'carol superuser %s\n' "$ADMIN" >"$D/tokens.bad" && chmod 600 "$D/tokens.bad"
serve "$D/tokens.bad" >"$D/refused.log" 2>&1
t_check "an unknown role: file:line:col" grep -q "tokens.bad:1:7: unknown role \"superuser\"" "$D/refused.log"
printf 'dave admin short\n' >"$D/tokens.bad"
serve "$D/tokens.bad" >"$D/refused.log" 2>&1
t_check "a short token: refused" grep -q "tokens.bad:1:12: token of dave: 32 to 256 characters" "$D/refused.log"

serve_bg "$D/serve.log" "$D/tokens"
i=0; while ! curl -sf "$URL/healthz" >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
A="Authorization: Bearer $ADMIN"
R="Authorization: Bearer $READ"
code() { curl -s -o "$D/body" -w '%{http_code}' "$@"; }
js() { python3 -c "import json,sys; d=json.load(open('$D/body')); sys.exit(0 if ($1) else 1)"; }
db() { sqlite3 "$D/out/state.db" "$1"; }

# --- lists ---
t_check "list: 200" test "$(code -H "$A" "$URL/api/v1/hosts")" = 200
t_check "list: six machines, by name" js 'd["total"] == 6 and [h["name"] for h in d["hosts"]] == ["kvm01","kvm02","plain01","web01","web02","web03"]'
t_check "read-only token may read" test "$(code -H "$R" "$URL/api/v1/hosts?kind=guest")" = 200
t_check "filter kind=guest" js '[h["name"] for h in d["hosts"]] == ["web01","web02","web03"] and d["hosts"][0]["host"] == "kvm01"'
code -H "$A" "$URL/api/v1/hosts?role=kvm-host" >/dev/null
t_check "filter role" js '[h["name"] for h in d["hosts"]] == ["kvm01","kvm02"]'
code -H "$A" "$URL/api/v1/hosts?segment=10.250.0.0/28" >/dev/null
t_check "filter segment (IPv4 network)" js '[h["name"] for h in d["hosts"]] == ["kvm01","kvm02","plain01"]'
code -H "$A" "$URL/api/v1/hosts?prefix=web&limit=2&offset=1" >/dev/null
t_check "prefix, limit, offset" js 'd["total"] == 3 and [h["name"] for h in d["hosts"]] == ["web02","web03"]'
code -H "$A" "$URL/api/v1/hosts?state=new&prefix=kvm" >/dev/null
t_check "filter state" js 'd["total"] == 2'
code -H "$A" "$URL/api/v1/hosts?sort=ip&kind=host" >/dev/null
t_check "sort=ip" js '[h["ip"] for h in d["hosts"]] == sorted([h["ip"] for h in d["hosts"]], key=lambda a: tuple(map(int, a.split("."))))'
t_check "an unknown sort: 400 naming the keys" sh -c "test \"\$(curl -s -o '$D/body' -w '%{http_code}' -H '$A' '$URL/api/v1/hosts?sort=color')\" = 400 && grep -q 'unknown sort' '$D/body'"

# --- one host, no secrets ---
T1=$(db "SELECT token FROM hosts WHERE name='kvm01'")
curl -s -X POST "$URL/cb/kvm01/installing?token=$T1" >/dev/null
t_check "detail: 200" test "$(code -H "$R" "$URL/api/v1/hosts/kvm01")" = 200
t_check "detail: state, MACs, history" js 'd["state"] == "installing" and d["macs"] == ["52:54:00:aa:00:01"] and d["events"][0]["detail"].startswith("new -> installing")'
t_check "detail: no install token" sh -c "! grep -q '$T1' '$D/body'"
t_check "detail: no root hash" sh -c "! grep -q 'testhash' '$D/body'"
SORTED='d["total"] == 6 and [(h["state"], h["name"]) for h in d["hosts"]] == [("installing","kvm01"),("new","web03"),("new","web02")]'
i=0; while code -H "$A" "$URL/api/v1/hosts?sort=-state&limit=3" >/dev/null && ! js "$SORTED" && [ $i -lt 50 ]; do sleep 0.05; i=$((i + 1)); done
t_check "sort=-state: the later state first, ties by name backwards" js "$SORTED"

# --- actions ---
t_check "netboot off: 200" test "$(code -H "$A" -H 'Content-Type: application/json' -d '{"on":false}' "$URL/api/v1/hosts/kvm02/netboot")" = 200
t_check "... netboot 0 in the store" test "$(db "SELECT netboot FROM hosts WHERE name='kvm02'")" = 0
G0=$(db "SELECT token_gen FROM hosts WHERE name='kvm02'")
t_check "reinstall: 200" test "$(code -H "$A" -X POST "$URL/api/v1/hosts/kvm02/reinstall")" = 200
t_check "... netboot 1, state new, a fresh token" test "$(db "SELECT netboot, state, token_gen > $G0 FROM hosts WHERE name='kvm02'")" = "1|new|1"
t_check "... logged with who did it" grep -q "api: reinstall by alice from 127.0.0.1 (admin)" "$D/serve.log"
t_check "... in the host's events" test "$(db "SELECT count(*) FROM events WHERE host='kvm02' AND what='api' AND detail LIKE 'reinstall by alice%'")" = 1

# --- the login form, the session cookie, CSRF ---
t_check "wrong token at the login form: 401, the login page" test "$(code -d "token=nottherighttoken" "$URL/ui/login")" = 401
t_check "... no data on it" sh -c "grep -q 'id=\"login\"' '$D/body' && ! grep -q kvm01 '$D/body'"
t_check "the page without a session: to the login page" test "$(code "$URL/ui/")" = 303
curl -s -D "$D/hdr" -o /dev/null -d "token=$ADMIN" "$URL/ui/login"
t_check "login sets an HttpOnly SameSite=Strict cookie" grep -qi '^set-cookie: kf_session=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict' "$D/hdr"
SID=$(sed -n 's/^[Ss]et-[Cc]ookie: kf_session=\([0-9a-f]*\);.*/\1/p' "$D/hdr")
C="Cookie: kf_session=$SID"
t_check "the fleet page with the session" test "$(code -H "$C" "$URL/ui/")" = 200
t_check "... the fleet table" grep -q '<tr id="h-kvm01" data-state="installing"' "$D/body"
t_check "... one page of 200 rows: all six, no next page" sh -c "grep -q '1&ndash;6 of 6 hosts' '$D/body' && ! grep -q 'class=\"nav next\"' '$D/body'"
code -H "$C" "$URL/ui/?limit=2&offset=2&sort=-name&q=0" >/dev/null
t_check "a page without the script: rows 3-4 by the server, in the order asked" sh -c "grep -o 'tr id=\"h-[a-z0-9]*' '$D/body' | tr '\n' ' ' | grep -qx 'tr id=\"h-web01 tr id=\"h-plain01 '"
t_check "... links to the pages around it keep the query" sh -c "grep -q 'class=\"nav next\" href=\"/ui/?q=0&amp;sort=-name&amp;limit=2&amp;offset=4\"' '$D/body' && grep -q 'class=\"nav prev\" href=\"/ui/?q=0&amp;sort=-name&amp;limit=2\"' '$D/body'"
t_check "... the sort headers too (again: ascending)" grep -q 'class="nav sort" href="/ui/?q=0&amp;limit=2">Host' "$D/body"
t_check "... the filter form keeps the sort" grep -q '<input type="hidden" name="sort" value="-name">' "$D/body"
t_check "a bad page: 400 on the page" test "$(code -H "$C" "$URL/ui/?limit=0")" = 400
CSRF=$(sed -n 's/.*<meta name="csrf" content="\([0-9a-f]*\)">.*/\1/p' "$D/body")
t_check "... with a CSRF token" test ${#CSRF} = 64
t_check "session + CSRF header: an API action" test "$(code -H "$C" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' -d '{"on":false}' "$URL/api/v1/hosts/plain01/netboot")" = 200
t_check "... done" test "$(db "SELECT netboot FROM hosts WHERE name='plain01'")" = 0

# --- every bad request of tests/data/http/api: its 4xx, a JSON error, nothing changed ---
snap() { db "SELECT name, state, netboot, token, token_gen FROM hosts ORDER BY name; SELECT count(*) FROM events; SELECT mac FROM discovered"; md5sum <"$FLEET"; }
# a discovered machine for the enlist cases (which must leave it, and fleet.yaml, alone)
code -X POST -H 'Content-Type: application/json' --data-binary @"$TOP/tests/data/discovery/01-good.json" "$URL/discover?mac=52:54:00:dd:00:01" >/dev/null
for c in "$TOP"/tests/data/http/api/*.case; do
	name=$(basename "$c" .case)
	get() { sed -n "s/^$1=//p" "$c"; }
	method=$(get method) path=$(get path) auth=$(get auth) want=$(get status) err=$(get error)
	set -- -X "$method"
	case $auth in
	admin) set -- "$@" -H "$A" ;;
	read) set -- "$@" -H "$R" ;;
	bad) set -- "$@" -H "Authorization: Bearer ${ADMIN}x" ;;
	session-nocsrf) set -- "$@" -H "$C" ;;
	session-badcsrf) set -- "$@" -H "$C" -H "X-CSRF-Token: $(echo "$CSRF" | tr 0-9a-f a-f0-9)" ;;
	header:*) set -- "$@" -H "${auth#header:}" ;;
	esac
	[ -n "$(get ctype)" ] && set -- "$@" -H "Content-Type: $(get ctype)"
	if [ -n "$(get size)" ]; then
		head -c "$(get size)" /dev/zero | tr '\0' 'x' >"$D/req"
		set -- "$@" --data-binary @"$D/req"
	elif grep -q '^body=' "$c"; then
		get body | tr -d '\n' >"$D/req"
		set -- "$@" --data-binary @"$D/req"
	fi
	before=$(snap)
	got=$(curl -s --path-as-is -o "$D/body" -w '%{http_code}' "$@" "$URL$path")
	after=$(snap)
	if [ "$got" = "$want" ]; then t_ok "$name: $want"; else t_fail "$name: $got, wanted $want"; cat "$D/body"; fi
	case $path in
	/ui/*) grep -qF -- "$err" "$D/body" && t_ok "$name: says why" || { t_fail "$name: message"; cat "$D/body"; } ;;
	*) python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if sys.argv[2] in d["error"] else 1)' "$D/body" "$err" \
		&& t_ok "$name: JSON error" || { t_fail "$name: not the JSON error \"$err\""; cat "$D/body"; } ;;
	esac
	[ "$before" = "$after" ] && t_ok "$name: nothing changed" || t_fail "$name: the store changed"
done
t_check "refusals are logged" grep -q "api: 403 POST /api/v1/hosts/kvm01/reinstall from 127.0.0.1 (bob): read-only token" "$D/serve.log"
t_check "... unknown tokens too" grep -q "api: 401 GET /api/v1/hosts from 127.0.0.1: unknown bearer token" "$D/serve.log"

# --- server-sent events follow a callback ---
curl -sN -H "$A" "$URL/api/v1/events" >"$D/sse" 2>/dev/null &
SSE=$!
sleep 0.3
T3=$(db "SELECT token FROM hosts WHERE name='plain01'")
curl -s -X POST "$URL/cb/plain01/installing?token=$T3" >/dev/null
i=0; while ! grep -q '"name":"plain01".*"state":"installing"' "$D/sse" && [ $i -lt 40 ]; do sleep 0.05; i=$((i + 1)); done
t_check "events: the host's new state" grep -q '^data: {"name":"plain01".*"state":"installing"' "$D/sse"
t_check "events: the event logged" grep -q '^data: {"id":[0-9]*,"time":[0-9]*,"host":"plain01","what":"state","detail":"new -> installing' "$D/sse"
t_check "events: the summary" grep -q '^data: {"total":6,"states":{"new":[0-9]*,"booting":0,"installing":2' "$D/sse"
kill "$SSE"; SSE=

# --- logging out ends the session ---
t_check "logout without CSRF: 403" test "$(code -H "$C" -d "x=1" "$URL/ui/logout")" = 403
t_check "logout: 303" test "$(code -H "$C" -d "csrf=$CSRF" "$URL/ui/logout")" = 303
t_check "the old cookie: 401 on the API" test "$(code -H "$C" "$URL/api/v1/hosts")" = 401

# --- enlisting a discovered machine: fleet.yaml edited, the server reads it again ---
t_check "the machine is discovered" sh -c "curl -s -H '$A' '$URL/api/v1/discovered' | grep -q '\"mac\":\"52:54:00:dd:00:01\"'"
cp "$FLEET" "$D/fleet.before"
mkdir -p "$D/fleet/bmc" && printf 'new01-pw\n' >"$D/fleet/bmc/new01.pass" && chmod 600 "$D/fleet/bmc/new01.pass"
EN='{"name":"new01","role":"kvm-host","ip":"10.250.0.21","bmc":"127.0.0.1:16299","bmc_user":"admin","bmc_password_file":"bmc/new01.pass"}'
t_check "enlist by a read-only token: 403" test "$(code -H "$R" -H 'Content-Type: application/json' -d "$EN" "$URL/api/v1/discovered/52:54:00:dd:00:01/enlist")" = 403
t_check "enlist: 200" test "$(code -H "$A" -H 'Content-Type: application/json' -d "$EN" "$URL/api/v1/discovered/52-54-00-DD-00-01/enlist")" = 200
t_check "... answers the MAC, the name and its line" js 'd["mac"] == "52:54:00:dd:00:01" and d["name"] == "new01" and d["action"] == "enlist" and d["line"] > 0'
t_check "... fleet.yaml: one entry appended, the rest byte for byte" sh -c "diff '$D/fleet.before' '$FLEET' | grep '^[<>]' | tr -d '\n' | grep -qx '> *- *{* *name: new01.*mac: 52:54:00:dd:00:01.*'"
t_check "... its BMC as its power: section, the password in its file" grep -q '^ *power: {address: 127.0.0.1, port: 16299, user: admin, password_file: bmc/new01.pass}' "$FLEET"
t_check "... the server read it again: the host in the API" test "$(code -H "$A" "$URL/api/v1/hosts/new01")" = 200
# the snapshot of the lists follows the store when the hub next looks (at once)
NEW='d["state"] == "new" and d["macs"] == ["52:54:00:dd:00:01"] and d.get("ip") == "10.250.0.21"'
i=0; while code -H "$A" "$URL/api/v1/hosts/new01" >/dev/null && ! js "$NEW" && [ $i -lt 50 ]; do sleep 0.05; i=$((i + 1)); done
t_check "... new, with its MAC and address" js "$NEW"
t_check "... and in the list" sh -c "curl -s -H '$A' '$URL/api/v1/hosts?prefix=new' | grep -q '\"total\":1'"
t_check "... rendered: its kickstart is served" test "$(code "$URL/ks/new01?token=$(db "SELECT token FROM hosts WHERE name='new01'")")" = 200
t_check "... no longer discovered" test "$(db "SELECT count(*) FROM discovered")" = 0
t_check "... logged with who did it" grep -q "api: enlist by alice from 127.0.0.1 {.*\"name\":\"new01\"" "$D/serve.log"
t_check "... the server reloaded its inventory" grep -q "serve: reloaded $FLEET" "$D/serve.log"
t_check "... in the new host's events" test "$(db "SELECT count(*) FROM events WHERE host='new01' AND what='api' AND detail LIKE 'enlist by alice%'")" = 1
t_check "enlisting it again: 400, the MAC is taken" test "$(code -H "$A" -H 'Content-Type: application/json' -d '{"name":"new02","role":"kvm-host"}' "$URL/api/v1/discovered/52:54:00:dd:00:01/enlist")" = 400
t_check "... saying whose" js '"is host new01" in d["error"]'

# --- failed logins and API tokens: the server's limit on token guessing, per address ---
kill "$PID" && wait "$PID" 2>/dev/null
serve_bg "$D/serve2.log" "$D/tokens" --auth-rate 3
i=0; while ! curl -sf "$URL/healthz" >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
n401=0
for i in 1 2 3; do [ "$(code -d "token=nottherighttoken$i" "$URL/ui/login")" = 401 ] && n401=$((n401 + 1)); done
t_check "three wrong logins: 401 each" test $n401 = 3
t_check "the fourth, even with the right token: 429" test "$(code -D "$D/hdr" -d "token=$ADMIN" "$URL/ui/login")" = 429
t_check "... the login page says why" grep -q "Too many failed logins from your address" "$D/body"
t_check "... with Retry-After" grep -qi '^retry-after: 60' "$D/hdr"
t_check "... no session started" sh -c "! grep -qi '^set-cookie: kf_session=[0-9a-f]' '$D/hdr'"
t_check "the API from that address too: 429, JSON" test "$(code -H "$A" "$URL/api/v1/hosts")" = 429
t_check "... saying why" js '"too many failed token checks" in d["error"]'
t_check "... logged once" test "$(grep -c 'http: 429 POST /ui/login from 127.0.0.1: more than 3 failed token checks from this address a minute' "$D/serve2.log")" = 1
t_check "... each wrong login logged" test "$(grep -c 'api: login refused from 127.0.0.1: unknown token' "$D/serve2.log")" = 3
t_check "... counted in /metrics" sh -c "curl -s '$URL/metrics' | grep -q '^kickfleet_rate_limited_total{limit=\"auth\"} 2$'"
t_summary
