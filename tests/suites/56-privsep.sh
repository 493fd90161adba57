#!/bin/sh
# Privilege separation (docs/security.md): kickfleet serve and kickfleet up
# started as root with --user nobody run as nobody afterwards (ids, no
# groups, no capabilities, no_new_privs), still serve and re-render after
# a callback, keep secrets private; up's dnsmasq runs as that user too and
# in.tftpd's transfers, and everything still stops by PID; serve starts
# with only the unit's bounding set; the systemd unit's exposure is at most
# 3.0 by systemd-analyze security.
. "$(dirname "$0")/../lib.sh"
t_need_root
for tool in curl sqlite3 setpriv; do
	command -v $tool >/dev/null || { t_skip "$tool missing"; t_summary; exit 0; }
done
KF=$TOP/build/kickfleet
UNIT=$TOP/provision/systemd/kickfleet.service
USR=nobody GRP=$(id -gn nobody)
NUID=$(id -u nobody) NGID=$(id -g nobody)

# ---- the systemd unit ----
if command -v systemd-analyze >/dev/null && systemd-analyze security --help 2>/dev/null | grep -q -- --offline; then
	X=$(systemd-analyze security --offline=true "$UNIT" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p')
	t_check "unit: exposure $X is a number" sh -c "echo '$X' | grep -Eq '^[0-9]+(\.[0-9]+)?$'"
	t_check "unit: exposure $X <= 3.0" awk -v x="$X" 'BEGIN { exit !(x != "" && x + 0 <= 3.0) }'
else
	t_skip "systemd-analyze security --offline missing"
fi

# ---- serve ----
D=$(mktemp -d /tmp/kf-56-privsep.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
chmod 755 "$D"
cp -R "$TOP/tests/data/http/fleet" "$D/fleet"
chmod -R a+rX "$D/fleet"
FLEET=$D/fleet/fleet.yaml
OUT=$D/out
PORT=$((20000 + $$ % 20000))
URL=http://127.0.0.1:$PORT
WRAP=
serve() { # LOG ARGS...: serve ARGS in the background ($WRAP before it), PID set, waits for healthz
	_log=$1; shift
	$WRAP "$KF" serve -f "$FLEET" -o "$OUT" --listen 127.0.0.1:$PORT --timeout 5 "$@" >"$_log" 2>&1 &
	PID=$!
	i=0
	while ! curl -sf "$URL/healthz" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt 100 ] && return 1
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.05
	done
}
stop() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=; }
status() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' ' ' | sed 's/ $//'; }
tok() { sqlite3 "$OUT/state.db" "SELECT token FROM hosts WHERE name='$1'"; }
mode() { stat -c %a "$1"; }
# the kickstart served with its token is the rendered file (the agent
# credential in place of its mark)
ks_is_rendered() { curl -sf "$URL/ks/kvm01?token=$T" | t_ks_marked | cmp -s - "$OUT/http/ks/kvm01"; }
# its ids, groups, capabilities and no_new_privs: those of an unprivileged process
unprivileged() {
	test "$(status "$1" Uid)" = "$NUID $NUID $NUID $NUID" &&
	test "$(status "$1" Gid)" = "$NGID $NGID $NGID $NGID" &&
	test -z "$(status "$1" Groups)" &&
	for c in CapInh CapPrm CapEff CapAmb; do test "$(status "$1" $c)" = 0000000000000000 || return 1; done &&
	test "$(status "$1" NoNewPrivs)" = 1
}

"$KF" render -f "$FLEET" -o "$OUT" >"$D/render.log" 2>&1
t_check "render as root" test -f "$OUT/http/ks/kvm01"
t_check "serve --user $USR starts" serve "$D/serve.log" --user "$USR"
t_check "serve: uid, gid, groups, capabilities, no_new_privs" unprivileged "$PID"
t_check "serve: says whom it runs as" grep -q "running as $USR:$GRP (uid $NUID, gid $NGID), no capabilities" "$D/serve.log"
T=$(tok kvm01)
t_check "serve: kickstart with its token: 200" ks_is_rendered
t_check "installed callback" sh -c "curl -s -X POST '$URL/cb/kvm01/installed?token=$T' | grep -q '\"changed\":true'"
CFG=$OUT/tftp/pxelinux.cfg/01-52-54-00-aa-00-01
t_check "re-rendered as $USR: local boot" sh -c "! grep -q token= '$CFG' && test \"\$(stat -c %U '$CFG')\" = $USR"
t_check "state written: installed" test "$(sqlite3 "$OUT/state.db" "SELECT state FROM hosts WHERE name='kvm01'")" = installed
t_check "the trees are $USR's (files with other links aside)" test -z "$(find "$OUT" ! -user "$USR" -links 1 -print | head -1)"
for f in state.db state.db-wal state.db-shm; do
	[ -e "$OUT/$f" ] && t_check "$f: mode 600" test "$(mode "$OUT/$f")" = 600
done
t_check "kickstarts (tokens): mode 600" test -z "$(find "$OUT/http/ks" -type f ! -perm 600 -print | head -1)"
t_check "nothing world-readable holds a token" sh -c "! find '$OUT' -type f -perm -004 -name 'state.db*' | grep -q ."
# root's commands beside it: what they write takes the tree's owner
"$KF" netboot -f "$FLEET" -o "$OUT" kvm01 on >"$D/netboot.log" 2>&1
t_check "netboot on as root" grep -q token= "$CFG"
t_check "root's re-render: files stay $USR's" test -z "$(find "$OUT" ! -user "$USR" -links 1 -print | head -1)"
T=$(tok kvm01)
t_check "serve reads root's new kickstart" ks_is_rendered
kill -HUP "$PID"
sleep 0.3
t_check "SIGHUP reload as $USR" sh -c "kill -0 $PID && grep -q 'serve: reloaded' '$D/serve.log'"
stop

# a restart on the user's files, with only the unit's bounding set
BSET=-all,+net_bind_service,+setuid,+setgid,+chown,+fowner,+dac_override
WRAP="setpriv --bounding-set=$BSET --inh-caps=-all"
t_check "restart with the unit's capabilities only" serve "$D/serve2.log" --user "$USR"
WRAP=
t_check "restart: unprivileged" unprivileged "$PID"
t_check "restart: the same token still serves the kickstart" ks_is_rendered
stop

# bad choices: clear errors, nothing served
"$KF" serve -f "$FLEET" -o "$OUT" --listen 127.0.0.1:$PORT --user kf-no-such-user >"$D/bad.log" 2>&1
t_check "unknown user: exit 1" test $? = 1
t_check "unknown user: says so" grep -q '\-\-user "kf-no-such-user": no such user' "$D/bad.log"
setpriv --reuid "$NUID" --regid "$NGID" --clear-groups "$KF" serve -f "$FLEET" -o "$D/out-u" \
	--listen 127.0.0.1:$PORT --user root >"$D/bad2.log" 2>&1
t_check "not root, --user root: exit 1" test $? = 1
t_check "not root: cannot switch" grep -q '\-\-user "root": cannot switch to it, not started as root' "$D/bad2.log"
if id kickfleet >/dev/null 2>&1; then
	t_skip "a user kickfleet exists: no warning to see"
else
	t_check "no user kickfleet: serve as root" serve "$D/root.log"
	t_check "no user kickfleet: warns" grep -q 'running as root: there is no user "kickfleet"' "$D/root.log"
	t_check "no user kickfleet: stays root" test "$(status "$PID" Uid)" = "0 0 0 0"
	stop
fi

# TLS: a key of the user's is taken at a root start and read again on
# SIGHUP after the switch; one of a third user's is refused
if command -v openssl >/dev/null; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=127.0.0.1" \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$D/tls.key" -out "$D/tls.pem" 2>/dev/null
	chown "$USR" "$D/tls.key" && chmod 600 "$D/tls.key" && chmod 644 "$D/tls.pem"
	TPORT=$((PORT + 1))
	t_check "TLS: serve with a key of $USR's" serve "$D/tls.log" --user "$USR" --tls-cert "$D/tls.pem" \
		--tls-key "$D/tls.key" --tls-listen 127.0.0.1:$TPORT
	t_check "TLS: answers" sh -c "curl -sf --cacert '$D/tls.pem' https://127.0.0.1:$TPORT/healthz | grep -q ok"
	kill -HUP "$PID"
	i=0; while ! grep -q "new TLS connections get" "$D/tls.log" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	t_check "TLS: SIGHUP reads the key again as $USR" grep -q "serve: new TLS connections get $D/tls.pem" "$D/tls.log"
	stop
	chown 1 "$D/tls.key"
	"$KF" serve -f "$FLEET" -o "$OUT" --listen 127.0.0.1:$PORT --user "$USR" --tls-cert "$D/tls.pem" \
		--tls-key "$D/tls.key" --tls-listen 127.0.0.1:$TPORT >"$D/tls-bad.log" 2>&1
	t_check "TLS: a key of uid 1's: exit 1" test $? = 1
	t_check "TLS: says whose it must be" grep -q "owner 1: must be readable by its owner only (chown $NUID, chmod 600)" "$D/tls-bad.log"
else
	t_skip "openssl missing: no TLS key checks"
fi

# ---- up, in a network namespace ----
for tool in dnsmasq in.tftpd tftp ip nsenter; do
	command -v $tool >/dev/null || { t_skip "$tool missing: no up"; t_summary; exit; }
done
. "$TOP/tests/lab/lab.sh"
lab_init privsep || { t_fail "lab namespace"; t_summary; exit 1; }
trap 'cleanup; lab_cleanup' EXIT
sed -i "s/interface: kfbr0/interface: $LAB_BR/" "$FLEET"
UPOUT=$LAB_DIR/out
alive() { kill -0 "$1" 2>/dev/null; }
wait_gone() { [ -n "$1" ] || return 1; i=0; while alive "$1" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done; ! alive "$1"; }
started() { sed -n "s/.*up: started $1 (pid \([0-9]*\), kept by pid \([0-9]*\)).*/\\$2/p" "$LAB_DIR/up.out" | tail -1; }

# serve beside a dnsmasq of its own (the units' way): both as the user,
# serve signals it after a callback changes a host's DHCP files
# (installed_boot: ignore, so that "installed" changes the host's DHCP file)
SOUT=$LAB_DIR/sout
cp -R "$D/fleet" "$D/fleet2"
sed -i 's/^  http_port: 8080$/&\n  installed_boot: ignore/' "$D/fleet2/fleet.yaml"
"$KF" render -f "$D/fleet2/fleet.yaml" -o "$SOUT" >"$LAB_DIR/srender.log" 2>&1
lab_bg serve "$KF" serve -f "$D/fleet2/fleet.yaml" -o "$SOUT" --user "$USR"
t_check "serve in the namespace" lab_wait_log "$LAB_DIR/serve.out" "serve: listening" 10
lab_bg dnsmasq dnsmasq --keep-in-foreground --conf-file="$SOUT/dnsmasq/dnsmasq.conf" --log-facility=- \
	--user="$USR" --group="$GRP"
t_check "its dnsmasq started as $USR" lab_wait_log "$LAB_DIR/dnsmasq.out" 'DHCP, IP range' 10
SD=$(cat "$LAB_DIR/dnsmasq.pid")
T=$(sqlite3 "$SOUT/state.db" "SELECT token FROM hosts WHERE name='kvm01'")
$LAB_NSENTER curl -s -X POST "http://$LAB_IP:8080/cb/kvm01/installed?token=$T" >/dev/null
t_check "callback: serve signals its dnsmasq" lab_wait_log "$LAB_DIR/serve.out" 'serve: dnsmasq re-reads its files \(kvm01 changed\)' 5
# a file the callback left alone is read again only on SIGHUP: once at start, once now
t_check "callback: dnsmasq read every file again" sh -c "i=0; while [ \$(grep -c 'read $SOUT/dnsmasq/hosts/web01\$' '$LAB_DIR/dnsmasq.out') -lt 2 ]; do
	i=\$((i + 1)); [ \$i -gt 50 ] && exit 1; sleep 0.1; done"
kill "$SD" "$(cat "$LAB_DIR/serve.pid")"
wait_gone "$SD"

lab_bg up "$KF" up -f "$FLEET" -o "$UPOUT" --user "$USR"
UP=$(cat "$LAB_DIR/up.pid")
t_check "up: dnsmasq started" lab_wait_log "$LAB_DIR/up.out" 'dnsmasq.*DHCP, IP range' 20
t_check "up: runs as $USR" lab_wait_log "$LAB_DIR/up.out" "running as $USR:$GRP" 5
t_check "up: unprivileged" unprivileged "$UP"
DNSMASQ=$(started dnsmasq 1) TFTPD=$(started tftpd 1) KD=$(started dnsmasq 2) KT=$(started tftpd 2)
t_check "up: each child kept by a process of its own" sh -c "test -n '$DNSMASQ' -a -n '$TFTPD' -a -n '$KD' -a -n '$KT' && \
	test \"\$(ps -o ppid= -p $KD | tr -d ' ')\" = $UP -a \"\$(ps -o ppid= -p $DNSMASQ | tr -d ' ')\" = $KD"
t_check "up: dnsmasq runs as $USR" test "$(ps -o user= -p "$DNSMASQ")" = "$USR"
t_check "up: HTTP healthz" sh -c "$LAB_NSENTER curl -sf http://$LAB_IP:8080/healthz | grep -q ok"
cd "$LAB_DIR"
t_check "up: tftp per-MAC config (a transfer as $USR)" sh -c "$LAB_NSENTER tftp $LAB_IP -c get pxelinux.cfg/01-52-54-00-aa-00-01 got.cfg && grep -q '/ks/kvm01?token=' got.cfg"
cd /
T=$(sqlite3 "$UPOUT/state.db" "SELECT token FROM hosts WHERE name='kvm01'")
t_check "up: installed callback re-renders as $USR" sh -c "$LAB_NSENTER curl -s -X POST 'http://$LAB_IP:8080/cb/kvm01/installed?token=$T' | grep -q '\"changed\":true' && \
	! grep -q token= '$UPOUT/tftp/pxelinux.cfg/01-52-54-00-aa-00-01'"
sed -i 's/  - name: plain01/  - name: plain02/; s/52:54:00:aa:00:03/52:54:00:aa:00:04/' "$FLEET"
kill -HUP "$UP"
t_check "up: SIGHUP re-renders" lab_wait_log "$LAB_DIR/up.out" 'up: reloaded' 10
t_check "up: the new host's file is $USR's" test "$(stat -c %U "$UPOUT/tftp/pxelinux.cfg/01-52-54-00-aa-00-04")" = "$USR"
t_check "up: dnsmasq re-read its files" lab_wait_log "$LAB_DIR/up.out" "dnsmasq.*read $UPOUT/dnsmasq/hosts" 5
t_check "up: dnsmasq signalled, same pid" alive "$DNSMASQ"
kill -TERM "$UP"
t_check "up: SIGTERM: exits" wait_gone "$UP"
for p in "$DNSMASQ" "$TFTPD" "$KD" "$KT"; do
	t_check "up: pid $p gone" wait_gone "$p"
done
t_check "up: stopped cleanly" grep -q 'up: stopped' "$LAB_DIR/up.out"
t_check "up: its user removed the syslog socket and in.tftpd's /dev" test ! -e "$UPOUT/tftpd.log.sock" -a ! -e "$UPOUT/tftpd-dev"

# a kept child dying stops everything, with the reason
lab_bg up2 "$KF" up -f "$FLEET" -o "$UPOUT" --user "$USR"
UP2=$(cat "$LAB_DIR/up2.pid")
lab_wait_log "$LAB_DIR/up2.out" "running as $USR" 20
D2=$(sed -n 's/.*up: started dnsmasq (pid \([0-9]*\), kept by pid \([0-9]*\)).*/\1/p' "$LAB_DIR/up2.out")
T2=$(sed -n 's/.*up: started tftpd (pid \([0-9]*\), kept by pid \([0-9]*\)).*/\1/p' "$LAB_DIR/up2.out")
kill -9 "$D2"
t_check "kept child death: up exits" wait_gone "$UP2"
t_check "kept child death: reason given" grep -q 'up: dnsmasq (pid [0-9]*) was killed by signal 9.*stopping everything' "$LAB_DIR/up2.out"
t_check "kept child death: in.tftpd stopped too" wait_gone "$T2"

# up killed outright: the keepers stop what they keep
lab_bg up3 "$KF" up -f "$FLEET" -o "$UPOUT" --user "$USR"
UP3=$(cat "$LAB_DIR/up3.pid")
lab_wait_log "$LAB_DIR/up3.out" "running as $USR" 20
D3=$(sed -n 's/.*up: started dnsmasq (pid \([0-9]*\), kept by pid \([0-9]*\)).*/\1/p' "$LAB_DIR/up3.out")
T3=$(sed -n 's/.*up: started tftpd (pid \([0-9]*\), kept by pid \([0-9]*\)).*/\1/p' "$LAB_DIR/up3.out")
kill -9 "$UP3"
t_check "up killed: dnsmasq gone" wait_gone "$D3"
t_check "up killed: in.tftpd gone" wait_gone "$T3"
t_summary
