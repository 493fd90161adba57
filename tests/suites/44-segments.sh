#!/bin/sh
# Segments on real components (docs/scale.md), in network namespaces this
# suite makes, one PostgreSQL store shared by every instance (tests/pg.sh):
#
#   lab ns (kfbr0 10.250.0.1/24, rack1: kickfleet up)
#     ├─ ns pb: pb0 10.250.0.3  rack2's primary (kickfleet up --segment rack2)
#     ├─ ns ps: pb0 10.250.0.4  rack2's standby (... --segment rack2 --standby)
#     ├─ ns ca: client of rack1 (busybox udhcpc)
#     └─ ns rt: rt0 10.250.0.254, kfbr1 10.251.0.1/24, dnsmasq --dhcp-relay
#          └─ ns cb: clients of rack2, routed (udhcpc, tftp, curl)
#
# Relay: a client on the routed segment gets its lease, boot file and
# next-server from rack2's provisioner (giaddr selects the range), fetches
# its own segment's TFTP file, and each provisioner serves only its own
# segment's hosts.  HA: both of rack2's provisioners answer, each from its
# half of the pool with itself as next-server; after kill -9 of the
# primary's kickfleet up (its dnsmasq and in.tftpd stop with it) a new
# client gets a lease and its boot file from the standby, and a callback
# to the standby flips that host's boot file there.
. "$(dirname "$0")/../lib.sh"
t_need_root
for tool in dnsmasq in.tftpd tftp curl ip nsenter busybox runuser; do
	command -v $tool >/dev/null || { t_skip "$tool missing"; t_summary; exit 0; }
done
. "$TOP/tests/pg.sh"
pg_have || { t_skip "postgresql-15 missing (scripts/deps.sh check)"; t_summary; exit 0; }
. "$TOP/tests/lab/lab.sh"
KF=$TOP/build/kickfleet
D=$(mktemp -d /tmp/kf-44-seg.XXXXXX)
NSS=
cleanup() {
	lab_cleanup
	for n in $NSS; do ip netns del "$n" 2>/dev/null; done
	pg_stop
	[ "${LAB_KEEP:-}" = 1 ] && echo "kept $D" >&2 || rm -rf "$D"
}
lab_init seg || { t_fail "lab namespace"; t_summary; exit 1; }
trap cleanup EXIT
pg_start "$D/pg" || { t_fail "postgresql starts"; t_summary; exit 1; }

# ---- the topology ----
ns_add() { # NAME: a namespace of this run, kf-NAME-PID
	eval "NS_$1=kf-$1-$$"
	ip netns add "kf-$1-$$" && NSS="$NSS kf-$1-$$" && ip -n "kf-$1-$$" link set lo up
}
in_ns() { _ns=$1; shift; nsenter --net="/run/netns/kf-$_ns-$$" "$@"; }
# veth NS DEV ADDR/LEN BRIDGE-NS BRIDGE [MAC]: DEV in NS, its peer a port of BRIDGE
veth() {
	_p=v$1$$
	ip link add "$_p" type veth peer name "$2" netns "$(eval echo "\$NS_$1")" &&
		ip link set "$_p" netns "$4" && ip -n "$4" link set "$_p" master "$5" up &&
		{ [ -z "$6" ] || ip -n "$(eval echo "\$NS_$1")" link set "$2" address "$6"; } &&
		{ [ "$3" = - ] || ip -n "$(eval echo "\$NS_$1")" addr add "$3" dev "$2"; } &&
		ip -n "$(eval echo "\$NS_$1")" link set "$2" up
}
# bg NS NAME CMD...: in the background in NS, recorded for lab_cleanup
bg() {
	_ns=$1 _name=$2; shift 2
	nsenter --net="/run/netns/kf-$_ns-$$" "$@" >"$LAB_DIR/$_name.out" 2>&1 </dev/null &
	_lab_record "$_name" $!
}
topology() {
	for n in pb ps ca rt cb; do ns_add $n || return 1; done
	veth pb pb0 10.250.0.3/24 "$LAB_NS" "$LAB_BR" &&
		veth ps pb0 10.250.0.4/24 "$LAB_NS" "$LAB_BR" &&
		veth ca ca0 - "$LAB_NS" "$LAB_BR" 52:54:00:5e:01:01 &&
		veth rt rt0 10.250.0.254/24 "$LAB_NS" "$LAB_BR" || return 1
	ip -n "$NS_rt" link add kfbr1 type bridge forward_delay 0 stp_state 0 &&
		ip -n "$NS_rt" addr add 10.251.0.1/24 dev kfbr1 && ip -n "$NS_rt" link set kfbr1 up &&
		in_ns rt sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward' &&
		veth cb cb0 - "$NS_rt" kfbr1 || return 1
	for n in pb ps; do ip -n "$(eval echo "\$NS_$n")" route add 10.251.0.0/24 via 10.250.0.254 || return 1; done
	ip -n "$LAB_NS" route add 10.251.0.0/24 via 10.250.0.254
}
t_check "topology: two bridges, a router, five namespaces" topology

# ---- the fleet: rack1 here, rack2 routed with a standby ----
mkdir -p "$D/fleet"
cp -R "$TOP/tests/data/http/fleet/kickstart" "$D/fleet/"
cp "$PG_DSN_FILE" "$D/fleet/pg.dsn"
FLEET=$D/fleet/fleet.yaml
cat >"$FLEET" <<EOF
provisioner:
  interface: $LAB_BR
  address: 10.250.0.1
  subnet: 10.250.0.0/24
  segment: rack1
  dhcp: {range: [10.250.0.100, 10.250.0.199], dns: 10.250.0.1}
  http_port: 8080
  segments:
    rack2:
      interface: pb0
      address: 10.250.0.3
      subnet: 10.251.0.0/24
      relay: 10.251.0.1
      dhcp: {range: [10.251.0.100, 10.251.0.149], router: 10.251.0.1, dns: 10.251.0.1}
      standby: {address: 10.250.0.4, range: [10.251.0.150, 10.251.0.199]}
state: {backend: postgresql, dsn_file: pg.dsn}
distros:
  deb12: {family: preseed, kernel: /nonexistent/linux, initrd: /nonexistent/initrd.gz}
roles:
  plain: {distro: deb12, kickstart: kickstart/web.preseed}
hosts:
  - {name: a01, mac: "52:54:00:5e:01:01", ip: 10.250.0.11, role: plain, firmware: bios}
  - {name: b01, mac: "52:54:00:5e:02:01", ip: 10.251.0.11, role: plain, firmware: bios}
  - {name: b02, mac: "52:54:00:5e:02:02", segment: rack2, role: plain, firmware: bios}
  - {name: b03, mac: "52:54:00:5e:02:03", segment: rack2, role: plain, firmware: bios}
EOF
t_check "check: the fleet of two segments" "$KF" check -f "$FLEET"

# the relay: requests from kfbr1 to both rack2 provisioners, giaddr 10.251.0.1
cat >"$D/relay.conf" <<EOF
port=0
log-dhcp
dhcp-relay=10.251.0.1,10.250.0.3
dhcp-relay=10.251.0.1,10.250.0.4
EOF
bg rt relay dnsmasq --keep-in-foreground --conf-file="$D/relay.conf" --log-facility=- \
	--pid-file="$D/relay.pid" --user=root --group=root
lab_bg up-a "$KF" up -f "$FLEET" -o "$D/a" --callback-rate 0
bg pb up-b "$KF" up -f "$FLEET" -o "$D/b" --segment rack2 --callback-rate 0
for u in up-a up-b; do
	t_check "$u: dnsmasq serves" lab_wait_log "$LAB_DIR/$u.out" 'dnsmasq.*DHCP, IP range' 30
done
t_check "relay: dnsmasq relays" lab_wait_log "$LAB_DIR/relay.out" 'DHCP relay .*10.251.0.1.*10.250.0.4' 10

t_check "render: rack1's tree has rack1's host only" \
	sh -c "test -f '$D/a/dnsmasq/hosts/a01' && test ! -e '$D/a/dnsmasq/hosts/b01'"
t_check "render: rack2's tree has rack2's hosts only" \
	sh -c "test -f '$D/b/dnsmasq/hosts/b01' -a -f '$D/b/dnsmasq/hosts/b03' && test ! -e '$D/b/dnsmasq/hosts/a01'"
rows=$(pg_sql -c "SELECT count(*) FROM hosts WHERE token <> ''")
t_check "state: one store, every host has its token ($rows)" test "$rows" = 4

# ---- DHCP clients: busybox udhcpc, BIOS (option 93 = 0) ----
cat >"$D/udhcpc.sh" <<'EOF'
#!/bin/sh
# udhcpc's script: the lease into $LEASE, the address and route set
case $1 in
deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew)
	printf 'ip=%s\nsiaddr=%s\nboot_file=%s\nrouter=%s\nserverid=%s\n' \
		"$ip" "$siaddr" "$boot_file" "$router" "$serverid" >"$LEASE"
	ip addr add "$ip/$mask" dev "$interface"
	[ -z "$router" ] || ip route replace default via "$router" dev "$interface" ;;
esac
exit 0
EOF
chmod +x "$D/udhcpc.sh"
lease() { # NS DEV NAME: a lease into $D/NAME.lease
	rm -f "$D/$3.lease"
	LEASE=$D/$3.lease in_ns "$1" busybox udhcpc -i "$2" -f -q -n -t 12 -T 1 -s "$D/udhcpc.sh" \
		-x 0x5d:0000 >"$D/$3.udhcpc" 2>&1
}
val() { sed -n "s/^$2=//p" "$D/$1.lease" 2>/dev/null; }
client() { # NAME MAC: the rack2 client's NIC as NAME's
	ip -n "$NS_cb" addr flush dev cb0
	ip -n "$NS_cb" link set cb0 down && ip -n "$NS_cb" link set cb0 address "$2" &&
		ip -n "$NS_cb" link set cb0 up
}
in_range() { # ADDR FIRST LAST (the last octet)
	_o=${1##*.}
	[ -n "$_o" ] && [ "$_o" -ge "$2" ] && [ "$_o" -le "$3" ]
}
eq() { if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1: got \"$3\", wanted \"$2\""; fi; }
tftp_get() { # NS SERVER FILE OUT
	(cd "$D" && in_ns "$1" tftp "$2" -c get "$3" "$4") && test -s "$D/$4"
}
code() { _c=$1; shift; in_ns "$_c" curl -s -m 10 -o "$D/body" -w '%{http_code}' "$@"; }
tok() { pg_sql -c "SELECT token FROM hosts WHERE name='$1'"; }

t_check "rack1 client: lease" lease ca ca0 a01
eq "rack1 client: reserved address" 10.250.0.11 "$(val a01 ip)"
eq "rack1 client: next-server is rack1's" 10.250.0.1 "$(val a01 siaddr)"
eq "rack1 client: boot file" pxelinux.0 "$(val a01 boot_file)"
if grep -q '52:54:00:5e:01:01' "$LAB_DIR/up-b.out"; then
	t_fail "rack2's dnsmasq on the same wire ignores rack1's client"
else t_ok "rack2's dnsmasq on the same wire ignores rack1's client"; fi

client b01 52:54:00:5e:02:01
t_check "relayed client: lease" lease cb cb0 b01
eq "relayed client: reserved address of rack2" 10.251.0.11 "$(val b01 ip)"
eq "relayed client: next-server is rack2's provisioner" 10.250.0.3 "$(val b01 siaddr)"
eq "relayed client: boot file" pxelinux.0 "$(val b01 boot_file)"
eq "relayed client: router is the relay" 10.251.0.1 "$(val b01 router)"
t_check "relay: giaddr 10.251.0.1 in rack2's log" grep -q 'DHCPDISCOVER(pb0).* 52:54:00:5e:02:01' "$LAB_DIR/up-b.out"
t_check "relayed client: TFTP file of its segment (routed)" \
	tftp_get cb 10.250.0.3 pxelinux.cfg/01-52-54-00-5e-02-01 b01.cfg
T=$(tok b01)
t_check "relayed client: its config installs from rack2 with its token" \
	grep -q "http://10.250.0.3:8080/.*b01?token=$T" "$D/b01.cfg"
eq "rack2: serves b01's preseed" 200 "$(code cb "http://10.250.0.3:8080/ks/b01?token=$T")"
TA=$(tok a01)
eq "rack2: refuses a01 (rack1's) with its right token" 403 "$(code cb "http://10.250.0.3:8080/ks/a01?token=$TA")"
t_check "rack2: says why" grep -q "403 .*/ks/a01.*host of another segment" "$LAB_DIR/up-b.out"
eq "rack1: serves a01's preseed" 200 "$(code ca "http://10.250.0.1:8080/ks/a01?token=$TA")"
eq "rack1: refuses b01 (rack2's)" 403 "$(code cb "http://10.250.0.1:8080/ks/b01?token=$T")"

# a change made on rack1's machine reaches rack2's files by the store's notice
"$KF" netboot -f "$FLEET" -o "$D/a" b01 off >"$D/netboot.out" 2>&1
t_check "netboot on rack1's machine: done" grep -q "b01: netboot off" "$D/netboot.out"
t_check "netboot: rack1's tree still has no file of b01" test ! -e "$D/a/dnsmasq/hosts/b01"
flipped() { i=0; while grep -q token= "$1" && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done; ! grep -q token= "$1"; }
t_check "netboot: rack2's boot file of b01 boots locally (notice)" flipped "$D/b/tftp/pxelinux.cfg/01-52-54-00-5e-02-01"

# ---- HA: both rack2 provisioners answer; the standby alone after kill -9 ----
client b02 52:54:00:5e:02:02
bg ps up-s "$KF" up -f "$FLEET" -o "$D/s" --segment rack2 --standby --callback-rate 0
t_check "up-s: dnsmasq serves" lab_wait_log "$LAB_DIR/up-s.out" 'dnsmasq.*DHCP, IP range 10.251.0.150' 30

# both answer, each from its own half and with itself as next-server;
# the client takes the first offer
half() { # LEASE: the half of the pool its server hands out
	case $(val "$1" serverid) in
	10.250.0.3) in_range "$(val "$1" ip)" 100 149 && test "$(val "$1" siaddr)" = 10.250.0.3 ;;
	10.250.0.4) in_range "$(val "$1" ip)" 150 199 && test "$(val "$1" siaddr)" = 10.250.0.4 ;;
	*) false ;;
	esac
}
t_check "pool client: lease" lease cb cb0 b02
t_check "pool client: $(val b02 ip) from $(val b02 serverid), its half, itself next-server" half b02
for u in up-b up-s; do
	t_check "pool client: $u offered too" grep -q "DHCPOFFER(pb0) .* 52:54:00:5e:02:02" "$LAB_DIR/$u.out"
done
T2=$(tok b02)
t_check "standby and primary: b02's boot files with the one token of the store" \
	sh -c "grep -q 'b02?token=$T2' '$D/s/tftp/pxelinux.cfg/01-52-54-00-5e-02-02' && grep -q 'b02?token=$T2' '$D/b/tftp/pxelinux.cfg/01-52-54-00-5e-02-02'"
t_check "standby: b01's boot file boots locally, as the store says" \
	sh -c "! grep -q token= '$D/s/tftp/pxelinux.cfg/01-52-54-00-5e-02-01'"

UPB=$(cat "$LAB_DIR/up-b.pid")
child_pid() { sed -n "s/.*up: started $1 (pid \([0-9]*\),.*/\1/p" "$LAB_DIR/up-b.out" | tail -1; }
DB=$(child_pid dnsmasq) TB=$(child_pid tftpd)
gone() { i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done; ! kill -0 "$1" 2>/dev/null; }
kill -9 "$UPB"
t_check "kill -9 of the primary's up: its dnsmasq ($DB) stops with it" gone "$DB"
t_check "kill -9 of the primary's up: its in.tftpd ($TB) stops with it" gone "$TB"

client b03 52:54:00:5e:02:03
t_check "after failover: lease" lease cb cb0 b03
t_check "after failover: from the standby's half ($(val b03 ip))" in_range "$(val b03 ip)" 150 199
eq "after failover: next-server is the standby" 10.250.0.4 "$(val b03 siaddr)"
eq "after failover: boot file" pxelinux.0 "$(val b03 boot_file)"
T3=$(tok b03)
t_check "after failover: its TFTP config from the standby installs" \
	sh -c "cd '$D' && $(printf 'nsenter --net=/run/netns/%s' "$NS_cb") tftp 10.250.0.4 -c get pxelinux.cfg/01-52-54-00-5e-02-03 b03.cfg && grep -q 'http://10.250.0.4:8080/.*b03?token=$T3' b03.cfg"
eq "after failover: the standby takes b03's callback" 200 \
	"$(code cb -X POST "http://10.250.0.4:8080/cb/b03/installed?token=$T3")"
rm -f "$D/b03-local.cfg"
t_check "after failover: the standby's boot file of b03 flipped to local boot" \
	sh -c "cd '$D' && $(printf 'nsenter --net=/run/netns/%s' "$NS_cb") tftp 10.250.0.4 -c get pxelinux.cfg/01-52-54-00-5e-02-03 b03-local.cfg && test -s b03-local.cfg && ! grep -q token= b03-local.cfg"
eq "after failover: the store says installed" "installed" \
	"$(pg_sql -c "SELECT state FROM hosts WHERE name='b03'")"
t_summary
