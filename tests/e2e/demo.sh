#!/bin/sh
# tests/e2e/demo.sh — `make demo`: the example fleet installs itself in the lab.
#
# examples/fleet.yaml, made a lab fleet on the fly (so it stays in sync):
# the same hosts, MACs, firmware and guests; the distros point at the lab's
# test installer (Debian kernel + busybox initramfs that runs a kickstart's
# %pre/%post, see tests/e2e/installer.sh) and at the real Debian installer;
# the bridge is the lab's kfbr0, HTTP on port 80 (GRUB 2.06), guests small
# enough for TCG, profiles the lab machines can take (tests/e2e/profiles/),
# and deb01's preseed is the lab variant (no Debian mirror in the lab).
# Then, inside a network namespace (tests/lab/lab.sh):
#   kickfleet up                      dnsmasq + in.tftpd + HTTP
#   kvm01 (BIOS, plain PXE ROM: pxelinux), kvm02 (UEFI: GRUB), kvm03 (iPXE);
#   kvm01 and kvm02 start powered off behind BMCs (ipmi_sim) and are
#   started by `kickfleet reinstall --wait` over IPMI
#   deb01 (the Debian installer), web01 and web02 (guests, defined by the
#   lab's libvirtd with `kickfleet guest install`, network boot)
#   each installs, reports, boots again and gets local boot from kickfleet;
#   kvm03 installs onto a disk with systemd (tests/vm/rootfs.sh) and its
#   second boot is from that disk: the agent's boot unit applies the
#   profile and reports, nobody runs it by hand
# In the foreground: `kickfleet status --watch` until every machine is
# installed (bounded), then a summary: per-machine times and what the agent
# applied. Everything is stopped by PID and the namespace deleted; the logs
# are kept in the directory named at the end (KF_DEMO_LOGS, default
# build/demo-logs). Works with and without a terminal.
# The status page (docs/api.md) is served by kickfleet up in the lab and
# reached from this machine at http://127.0.0.1:KF_DEMO_UI_PORT/ui/ (a
# forwarder into the namespace, tests/e2e/forward.py); its admin token is
# in the log directory's api-tokens (root-only, new each run), both printed
# at the start.
# Environment: KF_DEMO_TIMEOUT (seconds for the whole run, default 900),
# KF_DEMO_UI_PORT (8480), KF_DEMO_UI_HOLD (seconds the page stays up after
# the summary, default 0).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export TOP
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespace, QEMU taps)" >&2; exit 1; }
. "$TOP/tests/e2e/lib.sh"
. "$TOP/tests/libvirt/libvirtd.sh"
LOGS=${KF_DEMO_LOGS:-$TOP/build/demo-logs}
LIMIT=${KF_DEMO_TIMEOUT:-900}
t0=$(date +%s)
say() { printf 'demo: %s\n' "$*"; }
if [ -t 1 ]; then B=$(printf '\033[1m') N=$(printf '\033[0m'); WATCH=2; else B= N= WATCH=10; fi

say "preparing the Debian kernel, the test installer and the Debian installer (cached in $E2E_CACHE)"
e2e_assets --debian --rootfs || exit 1

# --- the lab variant of examples/fleet.yaml ---
FLEETSRC=$(mktemp -d /tmp/kf-demo-fleet.XXXXXX)
cp -R "$TOP/tests/e2e/kickstart" "$TOP/tests/e2e/profiles" "$FLEETSRC/"
sed -e 's/^\(  interface:\) br0\b.*/\1 kfbr0/' \
    -e 's/^\(  http_port:\) 8080/\1 80                # GRUB 2.06 loads over HTTP from port 80 only/' \
    -e '/^  \(state_dir\|tftp_root\|http_root\):/d' \
    -e '/^    tree: /d' \
    -e 's|^\(    kernel:\) /srv/rocky9/.*|\1 installer/vmlinuz   # the lab installer|' \
    -e 's|^\(    initrd:\) /srv/rocky9/.*|\1 installer/initrd.img|' \
    -e 's|^\(    kernel:\) /srv/debian12/.*|\1 d-i/linux|' \
    -e 's|^\(    initrd:\) /srv/debian12/.*|\1 d-i/initrd.gz|' \
    -e 's|kickstart/debian.preseed|kickstart/lab.preseed|' \
    -e 's|profiles/kvm-host.yaml|profiles/lab-kvm-host.yaml|' \
    -e 's|profiles/guest.yaml|profiles/lab-guest.yaml|' \
    -e 's|^\(      mirror_host:\) .*|\1 10.250.0.1|' \
    -e 's/^\(    vcpus:\) [0-9]*/\1 1/' \
    -e 's/^\(    memory:\) [0-9]*G/\1 384M/' \
    -e 's/^\(    disk:\) [0-9]*G/\1 1G/' \
    -e 's|^  - name: \(kvm0[12]\)$|&\n    power: {address: 127.0.0.1, port: @\1@, user: admin, password_file: bmc/lab}|' \
    -e 's|@kvm01@|16241|; s|@kvm02@|16242|' \
    "$TOP/examples/fleet.yaml" >"$FLEETSRC/fleet.yaml"
# kvm01 and kvm02 have BMCs in the lab (ipmi_sim in its namespace)
mkdir -p "$FLEETSRC/bmc"
printf 'demo-bmc-pw\n' >"$FLEETSRC/bmc/lab"
chmod 600 "$FLEETSRC/bmc/lab"
"$E2E_KF" check -f "$FLEETSRC/fleet.yaml" >/dev/null || { rm -rf "$FLEETSRC"; exit 1; }

# --- the status page's admin token: root-only, in the log directory ---
UIPORT=${KF_DEMO_UI_PORT:-8480}
TOKENS=$LOGS/api-tokens
mkdir -p "$LOGS"
rm -f "$TOKENS"
(umask 077 && printf '# the demo'"'"'s admin token for /ui/ and /api/v1/ (docs/api.md)\ndemo admin %s\n' \
	"$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$TOKENS") || exit 1

conductor=
cleanup() {
	_rc=$?
	trap - EXIT INT TERM HUP
	[ -n "$conductor" ] && kill "$conductor" 2>/dev/null && wait "$conductor" 2>/dev/null
	if [ -n "${LAB_DIR:-}" ] && [ -s "$LAB_DIR/libvirt.dir" ]; then
		# the conductor's libvirtd (stopped by the conductor, unless it was
		# stopped early: then by PID here, its guests' QEMUs too)
		KF_LV_DIR=$(cat "$LAB_DIR/libvirt.dir")
		KF_LV_PID=$(awk '$2 == "libvirtd" { print $1 }' "$LAB_DIR/pids" | tail -n 1)
		[ -d "$KF_LV_DIR" ] && kf_libvirtd_stop
	fi
	if [ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ]; then
		find "$LOGS" -mindepth 1 -maxdepth 1 ! -name api-tokens -exec rm -rf {} +
		cp "$LAB_DIR"/*.out "$LAB_DIR"/*.serial "$LAB_DIR"/*.log "$LOGS/" 2>/dev/null
		cp -R "$LAB_DIR/fleet" "$LOGS/fleet" 2>/dev/null
		rm -f "$LOGS/fleet/installer/"* "$LOGS/fleet/d-i/"* 2>/dev/null
		"$E2E_KF" status -f "$E2E_FLEET" -o "$E2E_OUT" --json >"$LOGS/status.json" 2>/dev/null
	fi
	lab_cleanup
	rm -rf "$FLEETSRC"
	echo
	say "torn down (namespace deleted, every process stopped by PID); logs kept in ${B}$LOGS${N}"
	return $_rc
}
e2e_lab demo "$FLEETSRC" --api-tokens "$TOKENS" || { cleanup; exit 1; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
say "lab $LAB_NS: kickfleet up on $LAB_BR (10.250.0.1), HTTP http://10.250.0.1/"

# --- the status page, from this machine: a forwarder into the lab ---
python3 "$TOP/tests/e2e/forward.py" "$LAB_NS" "$UIPORT" "$LAB_IP" 80 >"$LAB_DIR/forward.log" 2>&1 </dev/null &
_lab_record forward $!
i=0
while [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(awk '$1 == "demo" { print $3 }' "$TOKENS")" \
	"http://127.0.0.1:$UIPORT/api/v1/summary")" != 200 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ $i -lt 50 ]; then
	say "status page: ${B}http://127.0.0.1:$UIPORT/ui/${N} (in the lab http://$LAB_IP/ui/), log in with the token in ${B}$TOKENS${N}"
else
	say "status page: not reachable on 127.0.0.1:$UIPORT ($(tail -n 1 "$LAB_DIR/forward.log")); in the lab: http://$LAB_IP/ui/, token in $TOKENS"
fi

# --- the conductor: boots the machines in waves, in the background ---
guest_boot() { # NAME: define + start through libvirt, watched like a lab QEMU
	date +%s.%N >"$LAB_DIR/$1.start"
	"$E2E_KF" guest install -f "$E2E_FLEET" --uri "$KF_LV_URI" "$1" >>"$LAB_DIR/conductor.log" 2>&1 || return 1
	i=0
	while [ ! -s "$KF_LV_DIR/run/qemu/$1.pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	cat "$KF_LV_DIR/run/qemu/$1.pid" >"$LAB_DIR/$1.pid"
	echo "$(cat "$LAB_DIR/$1.pid") $1" >>"$LAB_DIR/pids"
	: >"$LAB_DIR/$1.serial"
}
guest_boot2() { # NAME: start again, stop once kickfleet served its per-MAC config
	m=$(wc -l <"$LAB_DIR/up.out")
	f=$(tr : - <"$LAB_DIR/$1.mac") ip=$(cat "$LAB_DIR/$1.ip")
	virsh -q -c "$KF_LV_URI" start "$1" >/dev/null 2>&1
	i=0
	while [ $i -lt 450 ] && ! tail -n +"$((m + 1))" "$LAB_DIR/up.out" |
		grep -Eq "(RRQ from $ip filename /?grub/grub\\.cfg-01-$f|GET /ipxe/01-$f\\.ipxe from $ip )"; do
		sleep 0.2; i=$((i + 1))
	done
	[ $i -lt 450 ] && echo "$1: second boot got its per-MAC config (local boot)" >>"$LAB_DIR/conductor.log"
	sleep 3
	virsh -q -c "$KF_LV_URI" destroy "$1" >/dev/null 2>&1
}
conduct() {
	exec >>"$LAB_DIR/conductor.log" 2>&1
	e2e_machine kvm01 kvm01 52:54:00:aa:00:01 10.250.0.11
	e2e_machine kvm02 kvm02 52:54:00:aa:00:02 10.250.0.12
	e2e_machine kvm03 kvm03 52:54:00:aa:00:03 10.250.0.13
	e2e_machine deb01 deb01 52:54:00:aa:00:04 10.250.0.14
	e2e_machine web01 web01 52:54:00:bb:00:01 10.250.0.51
	e2e_machine web02 web02 52:54:00:bb:00:02 10.250.0.52
	echo "wave 1: kvm01 (BIOS PXE, pxelinux), kvm02 (UEFI, GRUB), kvm03 (iPXE)"
	# kvm01 and kvm02 are powered off behind their BMCs: kickfleet reinstall starts them
	e2e_bmc kvm01 pxe 52:54:00:aa:00:01 16241 --mem 512M
	e2e_bmc kvm02 uefi 52:54:00:aa:00:02 16242 --mem 512M -- \
		-netdev hubport,id=x1,hubid=5 -device virtio-net-pci,netdev=x1,mac=52:54:00:aa:01:02,romfile=
	e2e_disk kvm03 && e2e_boot kvm03 ipxe 52:54:00:aa:00:03 --mem 512M -- \
		-drive "file=$LAB_DIR/kvm03.qcow2,if=virtio,format=qcow2"
	lab_ns "$E2E_KF" reinstall -f "$E2E_FLEET" -o "$E2E_OUT" --wait=300 kvm01 kvm02 >"$LAB_DIR/reinstall.log" 2>&1 &
	echo "$! reinstall" >>"$LAB_DIR/pids"
	i=0
	while { [ ! -s "$LAB_DIR/kvm01.start" ] || [ ! -s "$LAB_DIR/kvm02.start" ]; } && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	grep -h 'next boot from the network' "$LAB_DIR/reinstall.log"
	e2e_watch 300 kvm01 kvm02 kvm03
	for n in kvm01 kvm02; do e2e_boot2 "$n" "$(cat "$LAB_DIR/$n.kind")" "$(cat "$LAB_DIR/$n.mac")" --mem 256M; done
	# kvm03 boots its disk (the lab's kernel, the disk's systemd); stopped
	# once the boot unit's report reached kickfleet
	m=$(wc -l <"$LAB_DIR/up.out")
	e2e_machine kvm03-2 kvm03 52:54:00:aa:00:03 10.250.0.13
	e2e_boot kvm03-2 ipxe 52:54:00:aa:00:03 --mem 512M -- -drive "file=$LAB_DIR/kvm03.qcow2,if=virtio,format=qcow2" \
		-kernel "$E2E_VMLINUZ" -initrd "$E2E_INITRD" -append "console=ttyS0,115200 kfroot=/dev/vda panic=-1 loglevel=4"
	for n in kvm01 kvm02; do e2e_boot2_wait "$n" 60 && echo "$n: second boot got its per-MAC config (local boot)"; done
	i=0
	while [ $i -lt 900 ] && ! tail -n +"$((m + 1))" "$LAB_DIR/up.out" | grep -q 'serve: report from kvm03: '; do sleep 0.2; i=$((i + 1)); done
	[ $i -lt 900 ] && echo "kvm03: second boot from its disk, the agent's boot unit applied the profile and reported"
	sleep 2
	lab_wait_qemu kvm03-2 0
	echo "wave 2: deb01 (Debian installer, iPXE), web01 and web02 (guests through libvirt)"
	: >"$LAB_DIR/deb01.stop-when-installed"
	e2e_boot deb01 ipxe 52:54:00:aa:00:04 --mem 1G
	KF_LV_NETNS=$LAB_NS kf_libvirtd_start && echo "libvirtd started (pid $KF_LV_PID)"
	# for the parent's cleanup if this conductor is stopped early
	echo "$KF_LV_PID libvirtd" >>"$LAB_DIR/pids"
	[ -n "$KF_LV_LOGPID" ] && echo "$KF_LV_LOGPID virtlogd" >>"$LAB_DIR/pids"
	echo "$KF_LV_DIR" >"$LAB_DIR/libvirt.dir"
	guest_boot web01 && guest_boot web02
	e2e_watch 300 deb01 web01 web02
	e2e_boot2 deb01 ipxe 52:54:00:aa:00:04 --mem 256M
	guest_boot2 web01
	guest_boot2 web02
	e2e_boot2_wait deb01 60 && echo "deb01: second boot got its per-MAC config (local boot)"
	kf_libvirtd_stop
	echo "done"
}
conduct &
conductor=$!

# --- foreground: kickfleet status --watch, bounded ---
say "${B}kickfleet status --watch${N} until every machine is installed (at most ${LIMIT}s)"
echo
left=$(( LIMIT - ($(date +%s) - t0) ))
timeout "$left" "$E2E_KF" status -f "$E2E_FLEET" -o "$E2E_OUT" --watch="$WATCH"
wrc=$?
echo
[ $wrc = 124 ] && say "status --watch stopped at the time limit"
say "waiting for the machines to finish (second boots, kvm03's boot from its disk)"
left=$(( LIMIT - ($(date +%s) - t0) ))
i=0
while kill -0 "$conductor" 2>/dev/null && [ $i -lt $(( left * 5 )) ]; do sleep 0.2; i=$((i + 1)); done
if kill -0 "$conductor" 2>/dev/null; then
	say "time limit reached: stopping the machines"
	kill "$conductor" 2>/dev/null
fi
wait "$conductor" 2>/dev/null
conductor=

# --- summary ---
echo
say "${B}summary${N} (seconds from power-on; $(( $(date +%s) - t0 ))s in all)"
printf '%-6s %-5s %6s %7s %10s %10s %9s %-10s %s\n' MACHINE BOOT LEASE KERNEL KICKSTART INSTALLED POWEROFF STATE REPORT
json=$("$E2E_KF" status -f "$E2E_FLEET" -o "$E2E_OUT" --json)
ok=0 all=0
for n in kvm01 kvm02 kvm03 deb01 web01 web02; do
	all=$((all + 1))
	st=$(echo "$json" | jq -r --arg h "$n" '.[] | select(.name == $h) | .state')
	rep=$(echo "$json" | jq -r --arg h "$n" '.[] | select(.name == $h) | if .last_report then "yes, drift \(.drift_count)" else "-" end')
	kind=$(cat "$LAB_DIR/$n.kind" 2>/dev/null || echo libvirt)
	off=$(e2e_t "$n" off)
	grep -qx "$n" "$LAB_DIR/stopped-when-installed" 2>/dev/null && off=stopped
	printf '%-6s %-5s %6s %7s %10s %10s %9s %-10s %s\n' "$n" "$kind" "$(e2e_t "$n" lease)" "$(e2e_t "$n" kernel)" \
		"$(e2e_t "$n" ks)" "$(e2e_t "$n" installed)" "$off" "$st" "$rep"
	case $st in installed|configured) ok=$((ok + 1)) ;; esac
done
echo
say "what the agent's boot unit applied when kvm03 booted its disk (systemd's journal on its console):"
tr -d '\r' <"$LAB_DIR/kvm03-2.serial" 2>/dev/null | sed -n 's/^.*\[ *[0-9.]*\] kickfleet-agent\[[0-9]*\]: //p' |
	grep -E ' applied$|^apply: ' | sed "s/^/  kvm03  /"
echo "  kvm01, kvm02: installed without a disk (their next boot is kickfleet's local-boot config)"
tr -d '\r' <"$LAB_DIR/deb01.serial" 2>/dev/null | grep -q . &&
	echo "  deb01  (the Debian installer's late command fetched the agent and profile; no system to apply them to in the lab)"
echo "  web01, web02: guests of the lab's libvirtd (no serial log kept); their reports are in the table above"
echo
grep -E 'second boot' "$LAB_DIR/conductor.log" | sed 's/^/  /'
echo
hold=${KF_DEMO_UI_HOLD:-0}
if [ "$hold" -gt 0 ] 2>/dev/null; then
	say "the status page stays up ${hold}s: http://127.0.0.1:$UIPORT/ui/ (token in $TOKENS)"
	sleep "$hold"
fi
if [ "$ok" = "$all" ]; then
	say "${B}$ok/$all machines installed${N}"
	rc=0
else
	say "${B}only $ok/$all machines installed${N} (see the logs)"
	rc=1
fi
exit $rc
