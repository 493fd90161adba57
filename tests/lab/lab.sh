# tests/lab/lab.sh — a PXE lab in a network namespace (source it; POSIX sh).
#
#   . "$TOP/tests/lab/lab.sh"
#   lab_init smoke                       # netns + bridge + temp dir + EXIT trap
#   lab_dnsmasq_conf >"$LAB_DIR/dnsmasq.conf"; echo 'dhcp-host=…' >>…
#   lab_dnsmasq "$LAB_DIR/dnsmasq.conf"  # DHCP (+RA) only, log $LAB_DIR/dnsmasq.log
#   lab_tftpd "$LAB_DIR/tftp"            # in.tftpd, log $LAB_DIR/tftpd.log
#   lab_http "$LAB_DIR/http"             # busybox httpd, log $LAB_DIR/http.log
#   lab_qemu m1 --firmware bios --mac 52:54:00:00:01:01
#   lab_wait_qemu m1 120                 # 0: QEMU ended by itself; 124: killed
#
# Everything runs inside the namespace $LAB_NS, on the bridge $LAB_BR with
# 10.250.0.1/24 and $LAB_IP6/64 (a ULA); nothing is routed anywhere else.
# Every process started is recorded in $LAB_DIR/pids and killed by PID in
# lab_cleanup, which lab_init installs as the EXIT trap (call it yourself if
# you replace the trap). LAB_KEEP=1 keeps $LAB_DIR for a look afterwards.
#
# Variables after lab_init:
#   LAB_NS  LAB_DIR  LAB_BR  LAB_IP (10.250.0.1)  LAB_IP6 (fd00:250::1)
#   LAB_NSENTER (nsenter --net=/run/netns/$LAB_NS)
#
# Functions (each returns non-zero and says why on stderr when it fails):
#   lab_init [TAG]                 namespace kf-lab-TAG-PID, bridge, temp dir
#   lab_ns CMD...                  run CMD in the namespace (keeps mounts)
#   lab_bg NAME CMD...             start CMD in the namespace in the background,
#                                  output to $LAB_DIR/NAME.out, PID recorded in
#                                  $LAB_DIR/NAME.pid and $LAB_DIR/pids
#   lab_tap NAME                   tap device NAME on the bridge (idempotent)
#   lab_dnsmasq_conf               print the base dnsmasq config for the lab
#                                  (range .100-.199, DNS + router option, RA)
#   lab_dnsmasq CONF [ARGS...]     run dnsmasq -k -C CONF, DHCP only (port=0)
#   lab_dnsmasq_hup                SIGHUP dnsmasq (reread hostsdir/optsdir)
#   lab_tftpd ROOT                 in.tftpd -L -v -v -s ROOT on $LAB_IP:69
#   lab_http DIR [PORT]            busybox httpd -f on $LAB_IP:PORT (80: GRUB
#                                  2.06 has no port in (http,SERVER)); sets
#                                  LAB_HTTP=http://$LAB_IP[:PORT]
#   lab_stage SRC DEST             hard link SRC to DEST, or copy (in.tftpd
#                                  chroots: symlinks out of its root break)
#   lab_mac NAME                   a stable MAC 52:54:00:xx:xx:xx for NAME
#   lab_qemu NAME --firmware bios|uefi [--mac MAC] [--mem SIZE] [--smp N]
#            [--rom FILE] [-- QEMU ARGS]
#                                  PXE-boot a machine from tap kft-NAME:
#                                  bios = SeaBIOS + QEMU's iPXE ROM;
#                                  uefi = OVMF with its own PXE (no option
#                                  ROM; --rom efi-virtio.rom gives iPXE).
#                                  Serial log $LAB_DIR/NAME.serial, firmware
#                                  debug log (port 0x402) NAME.firmware, PID in
#                                  $LAB_DIR/NAME.pid; -no-reboot, so a power
#                                  off, reboot or panic ends QEMU.
#   lab_wait_qemu NAME SECS        wait for QEMU NAME to end; 124 if killed
#                                  after SECS
#   lab_wait_log FILE ERE SECS     wait until FILE has a line matching ERE
#   lab_elapsed NAME               seconds since lab_qemu NAME started
#   lab_cleanup                    kill all recorded PIDs, delete the
#                                  namespace, remove $LAB_DIR
#
# Traps from shared/LAB.md applied here: iPXE waits ~13 s for an IPv6 router
# advertisement, so the bridge has a ULA and dnsmasq answers with enable-ra
# and an ra-only range; DHCP hands out a DNS server option (the Debian
# installer stops without one); nsenter --net, not ip netns exec (which
# remounts /sys); daemons log to files, never pipes; in.tftpd gets a syslog
# socket of its own (busybox syslogd on a private /dev/log in a private
# mount namespace) since the machine has no /dev/log; QEMU always -accel tcg.

LAB_IP=10.250.0.1
LAB_IP6=fd00:250::1
LAB_BR=kfbr0
# port 80: GRUB 2.06 cannot name a port in (http,SERVER)/path
LAB_HTTP_PORT=80

_lab_err() { echo "lab: $*" >&2; return 1; }

lab_init() {
	[ "$(id -u)" = 0 ] || { _lab_err "needs root"; return 1; }
	LAB_NS=kf-lab-${1:-t}-$$
	LAB_DIR=$(mktemp -d /tmp/kf-lab.XXXXXX) || return 1
	chmod 755 "$LAB_DIR"
	: >"$LAB_DIR/pids"
	LAB_NSENTER="nsenter --net=/run/netns/$LAB_NS"
	trap lab_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	ip netns add "$LAB_NS" || { _lab_err "ip netns add $LAB_NS failed"; return 1; }
	echo "$LAB_NS" >"$LAB_DIR/netns"
	ip -n "$LAB_NS" link set lo up &&
	ip -n "$LAB_NS" link add "$LAB_BR" type bridge forward_delay 0 stp_state 0 &&
	ip -n "$LAB_NS" addr add "$LAB_IP/24" dev "$LAB_BR" &&
	ip -n "$LAB_NS" -6 addr add "$LAB_IP6/64" dev "$LAB_BR" nodad &&
	ip -n "$LAB_NS" link set "$LAB_BR" up ||
		{ _lab_err "cannot set up bridge $LAB_BR in $LAB_NS"; return 1; }
	export LAB_NS LAB_DIR LAB_BR LAB_IP LAB_IP6 LAB_NSENTER
}

lab_ns() { $LAB_NSENTER "$@"; }

_lab_record() { # NAME PID
	echo "$2" >"$LAB_DIR/$1.pid"
	echo "$2 $1" >>"$LAB_DIR/pids"
}

lab_bg() {
	_n=$1; shift
	$LAB_NSENTER "$@" >"$LAB_DIR/$_n.out" 2>&1 </dev/null &
	_lab_record "$_n" $!
}

lab_tap() {
	ip -n "$LAB_NS" link show "$1" >/dev/null 2>&1 && return 0
	ip -n "$LAB_NS" tuntap add dev "$1" mode tap &&
	ip -n "$LAB_NS" link set "$1" master "$LAB_BR" &&
	ip -n "$LAB_NS" link set "$1" up ||
		{ _lab_err "cannot make tap $1"; return 1; }
}

lab_dnsmasq_conf() {
	cat <<EOF
# kickfleet lab: DHCP only, on the lab bridge
port=0
no-resolv
no-hosts
interface=$LAB_BR
bind-interfaces
log-dhcp
dhcp-authoritative
dhcp-range=10.250.0.100,10.250.0.199,255.255.255.0,1h
dhcp-option=option:router,$LAB_IP
dhcp-option=option:dns-server,$LAB_IP
# iPXE waits for a router advertisement: send one, no DHCPv6
enable-ra
dhcp-range=::,constructor:$LAB_BR,ra-only
EOF
}

lab_dnsmasq() {
	_conf=$1; shift
	[ -f "$_conf" ] || { _lab_err "no dnsmasq config $_conf"; return 1; }
	: >"$LAB_DIR/dnsmasq.log"
	lab_bg dnsmasq dnsmasq --keep-in-foreground --conf-file="$_conf" \
		--log-facility="$LAB_DIR/dnsmasq.log" --dhcp-leasefile="$LAB_DIR/dnsmasq.leases" \
		--pid-file="$LAB_DIR/dnsmasq.pidfile" --user=root --group=root "$@"
	lab_wait_log "$LAB_DIR/dnsmasq.log" 'started, version|DHCP, IP range' 10 ||
		{ cat "$LAB_DIR/dnsmasq.out" "$LAB_DIR/dnsmasq.log" >&2; _lab_err "dnsmasq did not start"; return 1; }
}

lab_dnsmasq_hup() { kill -HUP "$(cat "$LAB_DIR/dnsmasq.pid")"; }

lab_tftpd() {
	_root=$1
	[ -d "$_root" ] || { _lab_err "no TFTP root $_root"; return 1; }
	chmod -R a+rX "$_root"
	: >"$LAB_DIR/tftpd.log"
	# Own mount namespace: a tmpfs /dev with a /dev/log of our own. Own PID
	# namespace: in.tftpd forks a child per transfer, and syslogd runs
	# beside it; killing the recorded unshare (--kill-child) ends them all.
	cat >"$LAB_DIR/tftpd-wrap.sh" <<'EOF'
#!/bin/sh
# LOG ROOT ADDR
set -e
mount --make-rprivate /
mount -t tmpfs -o mode=755,size=1m kf-lab-dev /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 444 /dev/urandom c 1 9
busybox syslogd -n -S -O "$1" &
i=0
while [ ! -S /dev/log ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
exec in.tftpd -L -v -v -s -a "$3" "$2"
EOF
	lab_bg tftpd unshare --mount --pid --fork --kill-child sh "$LAB_DIR/tftpd-wrap.sh" \
		"$LAB_DIR/tftpd.log" "$_root" "$LAB_IP:69"
	# listening?
	_i=0
	while ! lab_ns ss -Hlun "sport = :69" 2>/dev/null | grep -q .; do
		kill -0 "$(cat "$LAB_DIR/tftpd.pid")" 2>/dev/null && [ $_i -lt 50 ] ||
			{ cat "$LAB_DIR/tftpd.out" "$LAB_DIR/tftpd.log" >&2; _lab_err "in.tftpd did not start"; return 1; }
		sleep 0.1; _i=$((_i + 1))
	done
}

lab_http() {
	_dir=$1 _port=${2:-$LAB_HTTP_PORT}
	[ -d "$_dir" ] || { _lab_err "no HTTP root $_dir"; return 1; }
	LAB_HTTP_PORT=$_port
	if [ "$_port" = 80 ]; then LAB_HTTP=http://$LAB_IP; else LAB_HTTP=http://$LAB_IP:$_port; fi
	export LAB_HTTP_PORT LAB_HTTP
	# own PID namespace: the per-connection children die with it
	lab_bg http unshare --pid --fork --kill-child busybox httpd -f -vv -p "$LAB_IP:$_port" -h "$_dir"
	# busybox httpd logs to stderr: http.out is the log
	ln -sf http.out "$LAB_DIR/http.log"
	_i=0
	while ! lab_ns ss -Hltn "sport = :$_port" 2>/dev/null | grep -q .; do
		kill -0 "$(cat "$LAB_DIR/http.pid")" 2>/dev/null && [ $_i -lt 50 ] ||
			{ cat "$LAB_DIR/http.out" >&2; _lab_err "httpd did not start"; return 1; }
		sleep 0.1; _i=$((_i + 1))
	done
}

lab_stage() {
	mkdir -p "$(dirname "$2")"
	rm -f "$2"
	ln "$1" "$2" 2>/dev/null || cp "$1" "$2"
}

lab_mac() {
	printf '%s' "$1" | cksum | awk '{ n = $1; printf "52:54:00:%02x:%02x:%02x\n", int(n / 65536) % 256, int(n / 256) % 256, n % 256 }'
}

lab_qemu() {
	_name=$1; shift
	_fw= _mac= _mem=1G _smp=1 _rom=unset _script=
	while [ $# -gt 0 ]; do
		case $1 in
		--script) _script=$2; shift 2 ;;
		--firmware) _fw=$2; shift 2 ;;
		--mac) _mac=$2; shift 2 ;;
		--mem) _mem=$2; shift 2 ;;
		--smp) _smp=$2; shift 2 ;;
		--rom) _rom=$2; shift 2 ;;
		--) shift; break ;;
		*) _lab_err "lab_qemu: unknown argument $1"; return 1 ;;
		esac
	done
	[ -n "$_mac" ] || _mac=$(lab_mac "$_name")
	_tap=$(printf 'kft-%s' "$_name" | cut -c1-15)
	lab_tap "$_tap" || return 1
	case $_fw in
	bios)
		# SeaBIOS "sercon": BIOS text output (iPXE, pxelinux) on the serial
		# port. Without it (or a VGA), under -nodefaults SeaBIOS never
		# runs the NIC's option ROM.
		# (e2e, issue 8) SeaBIOS reads etc/sercon-port as a binary
		# little-endian integer (romfile_loadint), so string=0x3f8 gave it
		# a bogus port and the BIOS/iPXE text never reached the serial
		# log; a 2-byte file with 0x03f8 does.
		printf '\370\003' >"$LAB_DIR/sercon-port"
		set -- -fw_cfg "name=etc/sercon-port,file=$LAB_DIR/sercon-port" "$@"
		;;
	uefi)
		[ "$_rom" = unset ] && _rom=
		cp /usr/share/OVMF/OVMF_VARS_4M.fd "$LAB_DIR/$_name.vars.fd" || return 1
		set -- -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd" \
			-drive "if=pflash,format=raw,unit=1,file=$LAB_DIR/$_name.vars.fd" "$@"
		;;
	*) _lab_err "lab_qemu: --firmware bios|uefi"; return 1 ;;
	esac
	# QEMU's default ROM for virtio-net-pci is iPXE's efi-virtio.rom (BIOS +
	# EFI images); naming any romfile, even that one, makes SeaBIOS skip it
	# (QEMU 7.2), so the default is left alone unless --rom is given.
	_dev=virtio-net-pci,netdev=n0,mac=$_mac,bootindex=1
	[ "$_rom" = unset ] || _dev="$_dev,romfile=$_rom"
	echo "$_mac" >"$LAB_DIR/$_name.mac"
	set -- qemu-system-x86_64 -accel tcg -machine pc -cpu max \
		-m "$_mem" -smp "$_smp" -nodefaults -no-user-config -display none \
		-monitor none -no-reboot -serial "file:$LAB_DIR/$_name.serial" \
		-netdev "tap,id=n0,ifname=$_tap,script=no,downscript=no" \
		-device "$_dev" -global isa-debugcon.iobase=0x402 -debugcon "file:$LAB_DIR/$_name.firmware" \
		"$@"
	if [ -n "$_script" ]; then
		_lab_machine "$_name" "$_script" "$@"
		return
	fi
	date +%s.%N >"$LAB_DIR/$_name.start"
	lab_bg "$_name" "$@" -boot n
	ln -sf "$_name.out" "$LAB_DIR/$_name.qemu.log"
}

# lab_qemu --script FILE: the machine is not started but written to FILE,
# a program a BMC runs on power on (tests/ipmi/chassis.sh) as `FILE n|c`
# (n: network boot); it stamps NAME.start and records its PID (the QEMU's,
# after exec) in the lab's list, so that cleanup stops it.
_lab_machine() {
	_n=$1 _f=$2
	shift 2
	{
		echo '#!/bin/sh'
		echo "date +%s.%N >'$LAB_DIR/$_n.start'"
		echo "echo \"\$\$ $_n\" >>'$LAB_DIR/pids'"
		printf 'exec'
		for _a; do printf " '%s'" "$(printf '%s' "$_a" | sed "s/'/'\\\\''/g")"; done
		echo ' -boot "$1" >>'"'$LAB_DIR/$_n.out'"' 2>&1'
	} >"$_f"
	chmod +x "$_f"
	ln -sf "$_n.out" "$LAB_DIR/$_n.qemu.log"
}

lab_elapsed() {
	awk -v s="$(cat "$LAB_DIR/$1.start")" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'
}

lab_wait_qemu() {
	_pid=$(cat "$LAB_DIR/$1.pid") || return 1
	_end=$(( $(date +%s) + $2 ))
	while kill -0 "$_pid" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$_end" ]; then
			kill "$_pid" 2>/dev/null
			sleep 0.2
			kill -9 "$_pid" 2>/dev/null
			wait "$_pid" 2>/dev/null
			return 124
		fi
		sleep 0.2
	done
	wait "$_pid" 2>/dev/null
	return 0
}

lab_wait_log() {
	_end=$(( $(date +%s) + $3 ))
	while ! tr -d '\r' <"$1" 2>/dev/null | grep -Eq "$2"; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.1
	done
}

lab_cleanup() {
	_rc=$?
	trap - EXIT
	if [ -n "${LAB_DIR:-}" ] && [ -f "$LAB_DIR/pids" ]; then
		while read -r _p _n; do kill "$_p" 2>/dev/null; done <"$LAB_DIR/pids"
		sleep 0.2
		while read -r _p _n; do kill -9 "$_p" 2>/dev/null; done <"$LAB_DIR/pids"
		while read -r _p _n; do wait "$_p" 2>/dev/null; done <"$LAB_DIR/pids"
	fi
	[ -n "${LAB_NS:-}" ] && ip netns del "$LAB_NS" 2>/dev/null
	if [ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ]; then
		if [ "${LAB_KEEP:-}" = 1 ]; then echo "lab: kept $LAB_DIR" >&2; else rm -rf "$LAB_DIR"; fi
	fi
	LAB_NS= LAB_DIR=
	return $_rc
}
