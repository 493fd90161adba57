#!/bin/sh
# kickfleet serve's HTTPS listener on 127.0.0.1 with certificates made
# here by openssl: a CA, a server certificate for 127.0.0.1 (IP SAN), a
# second unrelated CA, a certificate for the wrong name; curl verifies;
# the key file must be root-only; SIGHUP with a new certificate: new
# connections see it (fingerprints through openssl s_client).
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
curl -s --cacert "$D/ca.pem" "$TURL/profile/kvm01?token=$T1" >"$D/profile.yaml"
t_check "a profile fetched over HTTPS reports over HTTPS" grep -q "report: \"$TURL/cb/kvm01/report?token=" "$D/profile.yaml"
curl -s "$URL/profile/kvm01?token=$T1" >"$D/profile-plain.yaml"
t_check "a profile fetched in clear reports in clear" grep -q "report: \"$URL/cb/kvm01/report?token=" "$D/profile-plain.yaml"

# SIGHUP with a new pair: new connections get the new certificate
OLD=$(fp_server)
t_check "the server presents srv.pem" test "$OLD" = "$(fp_file "$D/srv.pem")"
cp "$D/srv2.pem" "$D/srv.pem"
cp "$D/srv2.key" "$D/srv.key"
kill -HUP "$PID"
i=0
while [ "$(fp_server)" = "$OLD" ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
t_check "after SIGHUP: new connections get the new certificate" test "$(fp_server)" = "$(fp_file "$D/srv2.pem")"
t_check "after SIGHUP: HTTPS still verifies" test "$(curl -s --cacert "$D/ca.pem" "$TURL/healthz")" = ok
chmod 644 "$D/srv.key"
cp "$D/wrongname.pem" "$D/srv.pem"
kill -HUP "$PID"
i=0
while ! grep -q "keeping the previous TLS certificate" "$D/serve.log" && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
t_check "SIGHUP with a world-readable key: refused, logged" grep -q "keeping the previous TLS certificate" "$D/serve.log"
t_check "... and the previous certificate stays" test "$(fp_server)" = "$(fp_file "$D/srv2.pem")"
stop

chmod 600 "$D/srv.key"
t_check "serve starts with the wrong name's certificate" start "$D/wrongname.pem" "$D/wrongname.key"
curl -s --cacert "$D/ca.pem" "$TURL/healthz" >/dev/null 2>"$D/curl.err"
t_check "wrong host name: curl refuses (60)" test $? -eq 60
stop
t_summary
