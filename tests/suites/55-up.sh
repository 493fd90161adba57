#!/bin/sh
# kickfleet up in a network namespace the test creates (tests/lab/lab.sh):
# the real dnsmasq and in.tftpd as its children; tftp-hpa's client fetches
# pxelinux.0 and a per-MAC config; HTTP answers; SIGHUP re-renders and
# signals dnsmasq (same PID); a child dying stops everything with the
# reason; SIGTERM stops everything; no process is left behind (by PID).
. "$(dirname "$0")/../lib.sh"
t_need_root
for tool in dnsmasq in.tftpd tftp curl ip nsenter; do
	command -v $tool >/dev/null || { t_skip "$tool missing"; t_summary; exit 0; }
done
. "$TOP/tests/lab/lab.sh"
lab_init up || { t_fail "lab namespace"; t_summary; exit 1; }
KF=$TOP/build/kickfleet
FLEET=$LAB_DIR/fleet/fleet.yaml
OUT=$LAB_DIR/out
cp -R "$TOP/tests/data/http/fleet" "$LAB_DIR/fleet"
sed -i "s/interface: kfbr0/interface: $LAB_BR/" "$FLEET"

alive() { kill -0 "$1" 2>/dev/null; }
# the program's pid (1) or its keeper's (2), which up forked
child_pid() { sed -n "s/.*up: started $1 (pid \([0-9]*\), kept by pid \([0-9]*\)).*/\\${2:-1}/p" "$LAB_DIR/up.out" | tail -1; }
wait_gone() { i=0; while alive "$1" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done; ! alive "$1"; }

lab_bg up "$KF" up -f "$FLEET" -o "$OUT"
UP=$(cat "$LAB_DIR/up.pid")
t_check "up: dnsmasq started" lab_wait_log "$LAB_DIR/up.out" 'dnsmasq.*DHCP, IP range' 20
DNSMASQ=$(child_pid dnsmasq) TFTPD=$(child_pid tftpd)
KD=$(child_pid dnsmasq 2) KT=$(child_pid tftpd 2)
t_check "up: children are its own (through their keepers)" sh -c "test -n '$DNSMASQ' -a -n '$TFTPD' && \
	test \"\$(ps -o ppid= -p $KD | tr -d ' ')\" = $UP -a \"\$(ps -o ppid= -p $DNSMASQ | tr -d ' ')\" = $KD && \
	test \"\$(ps -o ppid= -p $KT | tr -d ' ')\" = $UP -a \"\$(ps -o ppid= -p $TFTPD | tr -d ' ')\" = $KT"
t_check "up: HTTP healthz" sh -c "$LAB_NSENTER curl -sf http://10.250.0.1:8080/healthz | grep -q ok"

cd "$LAB_DIR"
t_check "tftp: pxelinux.0" sh -c "$LAB_NSENTER tftp -m binary 10.250.0.1 -c get pxelinux.0 got.pxelinux && cmp -s got.pxelinux '$OUT/tftp/pxelinux.0'"
t_check "tftp: per-MAC config" sh -c "$LAB_NSENTER tftp 10.250.0.1 -c get pxelinux.cfg/01-52-54-00-aa-00-01 got.cfg && grep -q '/ks/kvm01?token=' got.cfg"
t_check "tftpd log relayed" lab_wait_log "$LAB_DIR/up.out" '^tftpd: RRQ from .* pxelinux.cfg/01-52-54-00-aa-00-01' 5
cd /

# SIGHUP: a changed inventory is rendered, dnsmasq is signalled, not restarted
sed -i 's/  - name: plain01/  - name: plain02/; s/52:54:00:aa:00:03/52:54:00:aa:00:04/' "$FLEET"
kill -HUP "$UP"
t_check "SIGHUP: re-rendered" lab_wait_log "$LAB_DIR/up.out" 'up: reloaded' 10
t_check "SIGHUP: new host's config" test -f "$OUT/tftp/pxelinux.cfg/01-52-54-00-aa-00-04"
t_check "SIGHUP: dnsmasq re-read (same pid)" sh -c "grep -q 'dnsmasq.*read $OUT/dnsmasq/hosts' '$LAB_DIR/up.out' && kill -0 $DNSMASQ"

# an installed callback over HTTP flips the host's TFTP config
T=$(sqlite3 "$OUT/state.db" "SELECT token FROM hosts WHERE name='kvm01'")
t_check "installed callback over the bridge" sh -c "$LAB_NSENTER curl -s -X POST 'http://10.250.0.1:8080/cb/kvm01/installed?token=$T' | grep -q '\"changed\":true'"
t_check "installed: TFTP config boots locally" sh -c "cd '$LAB_DIR' && $LAB_NSENTER tftp 10.250.0.1 -c get pxelinux.cfg/01-52-54-00-aa-00-01 got2.cfg && ! grep -q token= got2.cfg"

# SIGTERM: everything stops, nothing is left
kill -TERM "$UP"
t_check "SIGTERM: up exits" wait_gone "$UP"
t_check "SIGTERM: dnsmasq gone" wait_gone "$DNSMASQ"
t_check "SIGTERM: in.tftpd gone" wait_gone "$TFTPD"
t_check "SIGTERM: says why" grep -q 'up: Terminated: stopping' "$LAB_DIR/up.out"
t_check "syslog socket removed" test ! -e "$OUT/tftpd.log.sock"

# a child dying stops everything, with the reason
lab_bg up2 "$KF" up -f "$FLEET" -o "$OUT"
UP2=$(cat "$LAB_DIR/up2.pid")
lab_wait_log "$LAB_DIR/up2.out" 'dnsmasq.*DHCP, IP range' 20
D2=$(sed -n 's/.*up: started dnsmasq (pid \([0-9]*\),.*/\1/p' "$LAB_DIR/up2.out")
T2=$(sed -n 's/.*up: started tftpd (pid \([0-9]*\),.*/\1/p' "$LAB_DIR/up2.out")
kill -9 "$D2"
t_check "child death: up exits" wait_gone "$UP2"
t_check "child death: reason given" grep -q 'up: dnsmasq (pid [0-9]*) was killed by signal 9.*stopping everything' "$LAB_DIR/up2.out"
t_check "child death: in.tftpd stopped too" wait_gone "$T2"
t_check "child death: stopped cleanly" grep -q 'up: stopped' "$LAB_DIR/up2.out"
t_summary
