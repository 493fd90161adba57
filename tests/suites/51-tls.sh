#!/bin/sh
# kickfleet serve's HTTPS listener on 127.0.0.1 with certificates made
# here by openssl: a CA, a server certificate for 127.0.0.1 (IP SAN), a
# second unrelated CA, a certificate for the wrong name; curl verifies;
# the key file must be root-only; kickfleet-agent on a fake host tree
# against it (right CA, other CA, wrong name: refused, exit 1, the tree
# unchanged); SIGHUP with a new certificate: new connections see it
# (fingerprints through openssl s_client).
. "$(dirname "$0")/../lib.sh"
KF=$TOP/build/kickfleet
FLEET=$TOP/tests/data/http/fleet/fleet.yaml
D=$(mktemp -d /tmp/kf-51-tls.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
for tool in curl openssl sqlite3; do
	command -v $tool >/dev/null || { t_skip "$tool missing"; t_summary; exit 0; }
done

# ca NAME: a self-signed CA; cert NAME CA SAN: a key and a certificate
# signed by CA (P-256 keys: quick to make)
ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=kickfleet test $1" -keyout "$D/$1.key" -out "$D/$1.pem" 2>/dev/null
}
cert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$D/$1.key" -out "$D/$1.csr" 2>/dev/null &&
	printf 'subjectAltName=%s\n' "$3" >"$D/$1.ext" &&
	openssl x509 -req -in "$D/$1.csr" -CA "$D/$2.pem" -CAkey "$D/$2.key" -CAcreateserial \
		-days 2 -extfile "$D/$1.ext" -out "$D/$1.pem" 2>/dev/null &&
	chmod 600 "$D/$1.key"
}
fp_file() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
fp_server() {
	openssl s_client -connect 127.0.0.1:$TPORT </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256
}
t_check "a CA" ca ca
t_check "a second, unrelated CA" ca other
t_check "a server certificate for 127.0.0.1" cert srv ca IP:127.0.0.1
t_check "a certificate for another name" cert wrongname ca DNS:wrong.example
t_check "a second server certificate" cert srv2 ca IP:127.0.0.1

PORT=$((20000 + $$ % 20000))
TPORT=$((PORT + 1))
URL=http://127.0.0.1:$PORT
TURL=https://127.0.0.1:$TPORT
"$KF" render -f "$FLEET" -o "$D/out" >/dev/null 2>&1
start() { # start CERT KEY
	: >"$D/serve.log"
	"$KF" serve -f "$FLEET" -o "$D/out" --listen 127.0.0.1:$PORT --timeout 5 \
		--tls-cert "$1" --tls-key "$2" --tls-listen 127.0.0.1:$TPORT >>"$D/serve.log" 2>&1 &
	PID=$!
	i=0
	while ! grep -q "listening on https://127.0.0.1:$TPORT" "$D/serve.log" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && return 1
		kill -0 $PID 2>/dev/null || return 1
		sleep 0.05
	done
}
stop() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=; }

# the key file: root-only or serve refuses to start
chmod 640 "$D/srv.key"
"$KF" serve -f "$FLEET" -o "$D/out" --listen 127.0.0.1:$PORT --tls-cert "$D/srv.pem" \
	--tls-key "$D/srv.key" --tls-listen 127.0.0.1:$TPORT >"$D/refused.log" 2>&1
t_check "group-readable key: exit 1" test $? -eq 1
t_check "group-readable key: says why" grep -q "TLS key $D/srv.key: mode 0640 owner 0: must be readable by its owner only" "$D/refused.log"
chmod 600 "$D/srv.key"
"$KF" serve -f "$FLEET" -o "$D/out" --tls-cert "$D/srv.pem" >"$D/usage.log" 2>&1
t_check "--tls-cert without --tls-key: exit 1" test $? -eq 1
t_check "--tls-cert without --tls-key: says so" grep -q -- "--tls-cert and --tls-key go together" "$D/usage.log"

t_check "serve starts with TLS" start "$D/srv.pem" "$D/srv.key"
t_check "the log names the HTTPS listener" grep -q "listening on https://127.0.0.1:$TPORT" "$D/serve.log"
t_check "HTTPS with the right CA: 200" test "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/ca.pem" "$TURL/healthz")" = 200
t_check "plain HTTP still answers beside it" test "$(curl -s "$URL/healthz")" = ok
curl -s --cacert "$D/other.pem" "$TURL/healthz" >/dev/null 2>"$D/curl.err"
t_check "the other CA: curl refuses (60)" test $? -eq 60
T1=$(sqlite3 "$D/out/state.db" "SELECT token FROM hosts WHERE name='kvm01'")
C1=$(t_cred_fetch "$URL" kvm01 "$T1")
t_check "the kickstart carries the agent credential" test ${#C1} -eq 64
curl -s --cacert "$D/ca.pem" -H "Authorization: Bearer $C1" "$TURL/profile/kvm01" >"$D/profile.yaml"
t_check "a profile fetched over HTTPS reports over HTTPS" grep -q "report: \"$TURL/cb/kvm01/report\"" "$D/profile.yaml"
curl -s -H "Authorization: Bearer $C1" "$URL/profile/kvm01" >"$D/profile-plain.yaml"
t_check "a profile fetched in clear reports in clear" grep -q "report: \"$URL/cb/kvm01/report\"" "$D/profile-plain.yaml"

# the agent on a fake host tree (tests/sysroot): the right CA fetches the
# profile and posts the report over TLS; the other CA is refused, exit 1,
# with the last good copy in the state dir, and the tree stays as it was
AG=$TOP/build/kickfleet-agent
sum_tree() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum); }
THP=sys/kernel/mm/transparent_hugepage/enabled
H=$D/host
sh "$TOP/tests/sysroot/mktree.sh" two-node-amd "$H"
mkdir -p "$H/etc/kickfleet"
(umask 077 && echo "$C1" >"$H/etc/kickfleet/agent.credential")
PURL="$TURL/profile/kvm01"
"$AG" apply --only memory --root "$H" --profile "$PURL" --cacert "$D/ca.pem" >"$D/agent.out" 2>"$D/agent.err"
t_check "agent, right CA: applied (exit 2)" test $? -eq 2
t_check "agent, right CA: THP set from the profile" test "$(cat "$H/$THP")" = never
t_check "agent, right CA: no error" test ! -s "$D/agent.err"
t_check "agent, right CA: report posted over TLS, stored" test "$(sqlite3 "$D/out/state.db" "SELECT last_exit FROM hosts WHERE name='kvm01'")" = 2
printf '%s\n' "[always] madvise never" >"$H/$THP"
BEFORE=$(sum_tree "$H")
KICKFLEET_CACERT=$D/other.pem "$AG" apply --only memory --root "$H" --profile "$PURL" >"$D/agent.out" 2>"$D/agent.err"
t_check "agent, other CA (KICKFLEET_CACERT): exit 1" test $? -eq 1
t_check "agent, other CA: certificate verify failed, with curl's reason" \
	grep -q "$TURL/profile/kvm01: certificate verify failed (SSL certificate problem: unable to get local issuer certificate)" "$D/agent.err"
t_check "agent, other CA: the last good copy is not used" test -z "$(grep 'last good copy' "$D/agent.out" "$D/agent.err")"
t_check "agent, other CA: nothing changed on the host" test "$(sum_tree "$H")" = "$BEFORE"
KICKFLEET_CACERT=$D/ca.pem "$AG" check --only memory --root "$H" --profile "$PURL" >/dev/null 2>"$D/agent.err"
t_check "agent, KICKFLEET_CACERT right: fetched, drift found (exit 2)" test $? -eq 2

# SIGHUP with a new pair: new connections get the new certificate
OLD=$(fp_server)
TASKS=$(ls /proc/$PID/task | wc -l)
t_check "the server presents srv.pem" test "$OLD" = "$(fp_file "$D/srv.pem")"
cp "$D/srv2.pem" "$D/srv.pem"
cp "$D/srv2.key" "$D/srv.key"
kill -HUP "$PID"
i=0
while [ "$(fp_server)" = "$OLD" ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
t_check "after SIGHUP: new connections get the new certificate" test "$(fp_server)" = "$(fp_file "$D/srv2.pem")"
t_check "after SIGHUP: HTTPS still verifies" test "$(curl -s --cacert "$D/ca.pem" "$TURL/healthz")" = ok
i=0
while [ "$(ls /proc/$PID/task | wc -l)" -ne "$TASKS" ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
t_check "after SIGHUP: the old certificate's workers stop once idle ($TASKS threads)" \
	test "$(ls /proc/$PID/task | wc -l)" -eq "$TASKS"
chmod 644 "$D/srv.key"
cp "$D/wrongname.pem" "$D/srv.pem"
kill -HUP "$PID"
i=0
while ! grep -q "keeping the previous TLS certificate" "$D/serve.log" && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
t_check "SIGHUP with a world-readable key: refused, logged" grep -q "keeping the previous TLS certificate" "$D/serve.log"
t_check "... and the previous certificate stays" test "$(fp_server)" = "$(fp_file "$D/srv2.pem")"
stop

# provisioner.tls in the inventory: the key's mode refused at its line by
# check and serve; with mode 600, serve listens on tls.port without flags
cp -r "$TOP/tests/data/http/fleet" "$D/fleet"
cp "$D/srv2.pem" "$D/fleet/tls.pem"
cp "$D/srv2.key" "$D/fleet/tls.key"
chmod 640 "$D/fleet/tls.key"
sed -i "s|^  token_ttl: 3600|  token_ttl: 3600\n  tls:\n    cert: tls.pem\n    key: tls.key\n    port: $TPORT|" "$D/fleet/fleet.yaml"
KLINE=$(grep -n "^    key: tls.key" "$D/fleet/fleet.yaml" | cut -d: -f1)
"$KF" check -f "$D/fleet/fleet.yaml" >"$D/check.out" 2>&1
t_check "inventory tls, key mode 0640: check fails" test $? -ne 0
t_check "inventory tls, key mode 0640: at the key's line and column" \
	grep -q "$D/fleet/fleet.yaml:$KLINE:10: provisioner: tls key $D/fleet/tls.key is readable by group or others (mode 0640)" "$D/check.out"
"$KF" serve -f "$D/fleet/fleet.yaml" -o "$D/out" --listen 127.0.0.1:$PORT >"$D/refused.log" 2>&1
t_check "inventory tls, key mode 0640: serve exits 1" test $? -eq 1
chmod 600 "$D/fleet/tls.key"
: >"$D/serve.log"
"$KF" serve -f "$D/fleet/fleet.yaml" -o "$D/out" --listen 127.0.0.1:$PORT >>"$D/serve.log" 2>&1 &
PID=$!
i=0
while ! grep -q "listening on https://127.0.0.1:$TPORT" "$D/serve.log" && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
t_check "inventory tls: serve listens on tls.port" test "$(curl -s --cacert "$D/ca.pem" "$TURL/healthz")" = ok
t_check "inventory tls: the inventory's certificate" test "$(fp_server)" = "$(fp_file "$D/srv2.pem")"
stop

chmod 600 "$D/srv.key"
t_check "serve starts with the wrong name's certificate" start "$D/wrongname.pem" "$D/wrongname.key"
curl -s --cacert "$D/ca.pem" "$TURL/healthz" >/dev/null 2>"$D/curl.err"
t_check "wrong host name: curl refuses (60)" test $? -eq 60
BEFORE=$(sum_tree "$H")
"$AG" apply --only memory --root "$H" --profile "$PURL" --cacert "$D/ca.pem" >"$D/agent.out" 2>"$D/agent.err"
t_check "agent, wrong host name: exit 1" test $? -eq 1
t_check "agent, wrong host name: certificate verify failed, naming the host" \
	grep -q "certificate verify failed (SSL: no alternative certificate subject name matches target host name '127.0.0.1')" "$D/agent.err"
t_check "agent, wrong host name: nothing changed on the host" test "$(sum_tree "$H")" = "$BEFORE"
stop
t_summary
