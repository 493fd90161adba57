#!/bin/sh
# The end-to-end lab (issue 8): QEMU machines (TCG) PXE boot from
# `kickfleet up` (real dnsmasq, in.tftpd, kickfleet serve) in a network
# namespace, install with the lab's test installer (tests/e2e/installer.sh:
# kickstart over HTTP with the token, %pre/%post with the shell, the agent
# package installed from kickfleet's repository and applied), report back,
# and boot again to get local boot. Fleet: tests/e2e/fleet.yaml. Cases:
#   1 bios1   BIOS, a plain PXE ROM: pxelinux over TFTP (pxelinux.0 loads
#             kernel and initrd over TFTP: it has no HTTP)
#   2 uefi1   OVMF: GRUB's network image over TFTP, per-MAC grub.cfg,
#             kernel and initrd over HTTP
#   3 ipxe1   QEMU's iPXE ROM: boot.ipxe + per-MAC script over HTTP,
#             kernel and initrd over HTTP
#   4 deb1    the real Debian installer (debian-installer-12-netboot-amd64)
#             with the preseed kickfleet renders, up to `installed`
#   5 agent1  the agent on the Debian kernel, 2 NUMA nodes, 3 NICs: apply,
#             check 0, drift -> check 2 -> apply -> check 0, reports
#   6 guest1  defined on the lab's libvirtd by `kickfleet guest install`,
#             PXE boots from kickfleet and installs
#   7 disc1   a MAC not in the inventory, behind an ipmi_sim BMC
#             (tests/e2e/case-discovery.sh): the default script boots the
#             discovery image, its facts reach `kickfleet discovered`
#             (MAC, memory, disk size), `kickfleet enlist` adds it, and
#             `kickfleet reinstall --wait` installs it through the BMC
#   8 ipxe1 asks for bios1's kickstart with its own token: 403
#   9 sys1    a disk with a Debian root with systemd (tests/vm/rootfs.sh):
#             %post chrooted into it installs and enables the agent's
#             units; rebooted from the disk, the boot unit brings the
#             profile's THP, KSM and hugepages back, the timer (20s in the
#             profile) corrects a drift within one interval, both runs
#             report, kickfleet status shows the last run
# bios1 and uefi1 start powered off behind BMCs (ipmi_sim in the lab
# namespace, tests/ipmi/bmc.sh) and `kickfleet reinstall --wait` starts
# them; a second reinstall takes the installed bios1 through PXE again,
# power on/off start and stop it; guest1 is power-cycled through libvirt.
# Every case is asserted from logs (dnsmasq, tftpd, HTTP access log, serial)
# and from `kickfleet status`, never from timing. Timings are printed as
# "# ..." lines. At the end everything is stopped by PID, the namespace
# deleted, and a check proves nothing is left.
# Environment: KF_E2E_CASES="1 2 3 4 5 6 7 8 9" (default all), LAB_KEEP=1.
TOP=$(cd "$(dirname "$0")/../.." && pwd)
T_SUITE=70-e2e
. "$TOP/tests/lib.sh"
t_need_root
for tool in qemu-system-x86_64 dnsmasq in.tftpd curl jq ip nsenter busybox ipmi_sim; do
	command -v $tool >/dev/null || { t_fail "$tool missing (scripts/deps.sh check)"; t_summary; exit 1; }
done
[ -x "$TOP/build/kickfleet" ] && [ -x "$TOP/build/kickfleet-agent" ] ||
	{ t_fail "build/kickfleet and build/kickfleet-agent must be built"; t_summary; exit 1; }
. "$TOP/tests/e2e/lib.sh"
. "$TOP/tests/libvirt/libvirtd.sh"
CASES=${KF_E2E_CASES:-1 2 3 4 5 6 7 8 9}
want() { case " $CASES " in *" $1 "*) return 0 ;; esac; return 1; }
suite_t0=$(date +%s)
LOGS=${KF_TEST_LOGS:-$TOP/build/test-logs}/e2e

# --- assets: kernel, test installer, Debian installer ---
_a=
want 4 && _a="$_a --debian"
want 9 && _a="$_a --rootfs"
# shellcheck disable=SC2086
e2e_assets $_a ||
	{ t_fail "lab assets (kernel, installer initramfs, Debian installer)"; t_summary; exit 1; }
echo "# kernel $KF_KPKG, installer initramfs $(stat -c %s "$E2E_INITRD") bytes${E2E_DI_VERSION:+, debian-installer $E2E_DI_VERSION}"

# --- cleanup: libvirtd, then the lab; logs kept in $LOGS ---
SAVED=$(mktemp -d /tmp/kf-e2e-check.XXXXXX)
cleanup() {
	_rc=$?
	trap - EXIT INT TERM HUP
	[ -n "$KF_LV_PID" ] && echo "$KF_LV_PID libvirtd" >>"$SAVED/pids"
	[ -n "$KF_LV_LOGPID" ] && echo "$KF_LV_LOGPID virtlogd" >>"$SAVED/pids"
	[ -n "$KF_LV_PID" ] && kf_libvirtd_stop
	if [ -n "${DISC_BMC:-}" ]; then
		# its QEMU (a child of the BMC's chassis program, maybe a zombie
		# init has not reaped) is found by e2e_leftovers by its serial path
		bmc_stop "$DISC_BMC"
		[ -n "${DISC_RPID:-}" ] && kill "$DISC_RPID" 2>/dev/null
	fi
	if [ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ]; then
		cat "$LAB_DIR/pids" >>"$SAVED/pids"
		echo "$LAB_NS" >"$SAVED/ns"; echo "$LAB_DIR" >"$SAVED/dir"
		rm -rf "$LOGS"; mkdir -p "$LOGS"
		cp "$LAB_DIR"/*.out "$LAB_DIR"/*.serial "$LAB_DIR"/*.log "$LOGS/" 2>/dev/null
		cp -R "$LAB_DIR/fleet" "$LOGS/fleet" 2>/dev/null
	fi
	lab_cleanup
	return $_rc
}
final_check() {
	cleanup
	left=$(e2e_leftovers "$SAVED/pids" "$(cat "$SAVED/ns" 2>/dev/null)" "$(cat "$SAVED/dir" 2>/dev/null)" |
		{ if [ "${LAB_KEEP:-}" = 1 ]; then grep -v '^lab dir .* still there$'; else cat; fi; })
	if [ -z "$left" ]; then
		t_ok "teardown: no process, namespace, tap, mount or temp dir of the lab left"
	else
		t_fail "teardown left: $left"
	fi
	rm -rf "$SAVED"
}

e2e_lab e2e "$TOP/tests/e2e" || { t_fail "lab: kickfleet up in a namespace"; cleanup; t_summary; exit 1; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
t_ok "lab: kickfleet up (dnsmasq, in.tftpd, HTTP) in $LAB_NS"
UP=$LAB_DIR/up.out

# --- helpers ---
clean() { tr -d '\r' <"$1" 2>/dev/null; }
serial_has() { clean "$LAB_DIR/$1.serial" | grep -Eq "$2"; }
up_has() { grep -Eq "$1" "$UP"; }
reip() { echo "$1" | sed 's/\./\\./g'; }
check() { # NAME CMD...: t_ok/t_fail
	_name=$1; shift
	if "$@"; then t_ok "$_name"; else t_fail "$_name"; fi
}
show_serial() { echo "--- $1.serial (last ${2:-30} lines)"; clean "$LAB_DIR/$1.serial" | grep -v '^\s*$' | tail -n "${2:-30}"; echo "---"; }
timings() {
	echo "# $1: lease $(e2e_t "$1" lease)s, loader $(e2e_t "$1" loader)s, config $(e2e_t "$1" config)s," \
		"kernel $(e2e_t "$1" kernel)s, initrd $(e2e_t "$1" initrd)s, kickstart $(e2e_t "$1" ks)s," \
		"installed $(e2e_t "$1" installed)s, power-off $(e2e_t "$1" off)s (from QEMU start)"
}
# the assertions every installing machine shares
installed_ok() { # NAME HOST IP
	n=$1 h=$2 ip=$(reip "$3")
	if grep -qx "$n" "$LAB_DIR/timed-out" 2>/dev/null; then
		t_fail "$h: powered off by itself (killed at the time limit)"; show_serial "$n" 40
	else
		t_ok "$h: powered off by itself"
	fi
	check "$h: DHCP lease of its reserved address $3 (dnsmasq)" up_has "DHCPACK\\(kfbr0\\) $ip $(cat "$LAB_DIR/$n.mac") $h"
	check "$h: kickstart fetched with its token (HTTP 200)" up_has "http: 200 GET /ks/$h from $ip "
	check "$h: installer got the kickstart" serial_has "$n" "^KF-INSTALLER ks url=http://10\\.250\\.0\\.1/ks/$h\\?token=\\.\\.\\. status=200"
	check "$h: installing reported" up_has "serve: $h is installing"
	check "$h: agent package from kickfleet's RPM repository (%post dnf)" sh -c \
		"grep -q 'http: 200 GET /repo/rpm/repodata/repomd.xml from $ip ' '$UP' &&
		 grep -q 'http: 200 GET /repo/rpm/kickfleet-agent-[0-9.]*-1.el9.x86_64.rpm from $ip ' '$UP'"
	check "$h: the package installed (lab dnf: metadata, SHA-256, rpm -i)" \
		serial_has "$n" "lab-dnf: installed kickfleet-agent from http://10\\.250\\.0\\.1/repo/rpm/kickfleet-agent-"
	check "$h: profile fetched with its agent credential" up_has "http: 200 GET /profile/$h from $ip "
	check "$h: %post: agent installed, unit enabled, applied (exit 0/2), check clean" \
		sh -c "tr -d '\\r' <'$LAB_DIR/$n.serial' | grep -Eq '^\\[%post [0-9]+\\] KF-LAB agent apply exit=(0|2)$' &&
			tr -d '\\r' <'$LAB_DIR/$n.serial' | grep -q '^\\[%post [0-9]*\\] KF-LAB agent check exit=0$'"
	check "$h: agent report reached the server" up_has "serve: report from $h: "
	check "$h: installed callback (%post), host flipped to local boot" up_has "serve: $h is installed \\(callback from $ip\\), boots locally now"
	check "$h: installer finished every section" serial_has "$n" "^KF-INSTALLER done$"
	st=$(e2e_state "$h")
	check "$h: kickfleet status says installed (got $st)" test "$st" = installed
}
# the second boot: kickfleet serves local boot, the installer is not loaded again
localboot_ok() { # NAME HOST KIND
	n=$1 h=$2
	if e2e_boot2_wait "$n" 90; then
		t_ok "$h: second boot asked kickfleet for its per-MAC config again"
	else
		t_fail "$h: second boot asked for its per-MAC config"; show_serial "$n-2" 20
	fi
	case $3 in
	pxe) grep -q '^  LOCALBOOT 0$' "$LAB_DIR/$n-2.config" ;;
	uefi) grep -q '^# kickfleet: .*(local boot)$' "$LAB_DIR/$n-2.config" && grep -q chainloader "$LAB_DIR/$n-2.config" ;;
	ipxe) grep -q '^# kickfleet: .*(local boot)$' "$LAB_DIR/$n-2.config" && grep -qx exit "$LAB_DIR/$n-2.config" ;;
	esac
	check "$h: the config served on the second boot is local boot ($3)" test $? = 0
	m=$(cat "$LAB_DIR/$n-2.marker")
	ip=$(reip "$(cat "$LAB_DIR/$n.ip")")
	tail -n +"$((m + 1))" "$UP" | grep -Eq "(RRQ from $ip filename distro/|GET /boot/distro/.* from $ip |GET /ks/)" &&
		t_fail "$h: second boot loaded an installer again" || t_ok "$h: second boot loaded no installer kernel and no kickstart"
	check "$h: no installer ran on the second boot" sh -c "! tr -d '\\r' <'$LAB_DIR/$n-2.serial' | grep -q KF-INSTALLER"
}

# ===== round 1: cases 1, 2, 3 (+8) — three machines at once =====
round1= bmcs=
want 1 && { e2e_machine bios1 bios1 52:54:00:e2:00:01 10.250.0.11; e2e_bmc bios1 pxe 52:54:00:e2:00:01 16231; round1="$round1 bios1"; bmcs="$bmcs bios1"; }
want 2 && { e2e_machine uefi1 uefi1 52:54:00:e2:00:02 10.250.0.12; e2e_bmc uefi1 uefi 52:54:00:e2:00:02 16232; round1="$round1 uefi1"; bmcs="$bmcs uefi1"; }
if want 3 || want 8; then e2e_machine ipxe1 ipxe1 52:54:00:e2:00:03 10.250.0.13; e2e_boot ipxe1 ipxe 52:54:00:e2:00:03; round1="$round1 ipxe1"; fi
# bios1 and uefi1 start powered off behind their BMCs: `kickfleet reinstall
# --wait` starts them (netboot on, one-time PXE, power on), in the lab
# namespace where the BMCs listen
kfns() { lab_ns "$E2E_KF" "$@" -f "$E2E_FLEET" -o "$E2E_OUT"; }
if [ -n "$bmcs" ]; then
	# shellcheck disable=SC2086
	kfns power status $bmcs >"$LAB_DIR/power0.out" 2>&1
	for n in $bmcs; do
		check "power: $n's BMC says it is off before anything started it" grep -qx "$n: off" "$LAB_DIR/power0.out"
	done
	# shellcheck disable=SC2086
	( kfns reinstall --wait=400 $bmcs >"$LAB_DIR/reinstall1.out" 2>&1 &
	  echo "$! reinstall1" >>"$LAB_DIR/pids"
	  wait $!
	  echo $? >"$LAB_DIR/reinstall1.rc" ) &
	RPID=$!
	for n in $bmcs; do
		i=0; while [ ! -s "$LAB_DIR/$n.start" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		check "power: reinstall powered $n on through its BMC, from the network (-boot n)" \
			sh -c "[ -s '$LAB_DIR/$n.start' ] && [ \"\$(cat '$LAB_DIR/bmc-$n/boots')\" = n ]"
	done
fi
if [ -n "$round1" ]; then
	t0=$(date +%s)
	# shellcheck disable=SC2086
	e2e_watch 300 $round1
	echo "# round 1 ($round1 ): $(( $(date +%s) - t0 ))s"
fi
if want 1; then
	installed_ok bios1 bios1 10.250.0.11
	# dnsmasq's own classification: the tags kickfleet's config gave it
	check "case 1: bios1 asked as a BIOS PXE client (arch 0), not as iPXE (tags: kf-bios1, known, bios)" \
		sh -c "grep -A1 'DHCPDISCOVER(kfbr0) 52:54:00:e2:00:01' '$UP' | grep -q 'tags: kf-bios1, known, bios, kfbr0$'"
	check "case 1: pxelinux.0 over TFTP" up_has "RRQ from 10\\.250\\.0\\.11 filename pxelinux\\.0$"
	check "case 1: per-MAC pxelinux.cfg/01-MAC over TFTP" up_has "RRQ from 10\\.250\\.0\\.11 filename pxelinux\\.cfg/01-52-54-00-e2-00-01$"
	check "case 1: kernel and initrd over TFTP (pxelinux has no HTTP)" sh -c \
		"grep -q 'RRQ from 10.250.0.11 filename distro/labinst/vmlinuz' '$UP' && grep -q 'RRQ from 10.250.0.11 filename distro/labinst/initrd.img' '$UP'"
	check "case 1: pxelinux's IPAPPEND gave the installer its boot NIC" serial_has bios1 "^KF-INSTALLER boot nic=eth0 mac=52:54:00:e2:00:01"
fi
if want 2; then
	installed_ok uefi1 uefi1 10.250.0.12
	check "case 2: OVMF asked as an x86-64 UEFI client (arch 7: tags kf-uefi1, known, efi64)" \
		sh -c "grep -A1 'DHCPDISCOVER(kfbr0) 52:54:00:e2:00:02' '$UP' | grep -q 'tags: kf-uefi1, known, efi64, kfbr0$'"
	check "case 2: grubnetx64.efi over TFTP" up_has "RRQ from 10\\.250\\.0\\.12 filename grubnetx64\\.efi$"
	check "case 2: GRUB entry and per-MAC grub.cfg over TFTP" sh -c \
		"grep -Eq 'RRQ from 10.250.0.12 filename /?grub/grub.cfg$' '$UP' && grep -Eq 'RRQ from 10.250.0.12 filename /?grub/grub.cfg-01-52-54-00-e2-00-02$' '$UP'"
	check "case 2: kernel and initrd over HTTP" sh -c \
		"grep -q 'http: 200 GET /boot/distro/labinst/vmlinuz from 10.250.0.12 ' '$UP' && grep -q 'http: 200 GET /boot/distro/labinst/initrd.img from 10.250.0.12 ' '$UP'"
	check "case 2: no kernel over TFTP" sh -c "! grep -q 'RRQ from 10.250.0.12 filename distro/' '$UP'"
fi
if want 3 || want 8; then
	installed_ok ipxe1 ipxe1 10.250.0.13
	check "case 3: iPXE (user class iPXE: tag ipxe) got the HTTP entry script" sh -c \
		"grep -A1 'DHCPDISCOVER(kfbr0) 52:54:00:e2:00:03' '$UP' | grep -q 'tags: kf-ipxe1, known, ipxe, bios, kfbr0$' &&
			grep -q 'http: 200 GET /ipxe/boot.ipxe from 10.250.0.13 ' '$UP'"
	check "case 3: per-MAC iPXE script over HTTP" up_has "http: 200 GET /ipxe/01-52-54-00-e2-00-03\\.ipxe from 10\\.250\\.0\\.13 "
	check "case 3: kernel and initrd over HTTP" sh -c \
		"grep -q 'http: 200 GET /boot/distro/labinst/vmlinuz from 10.250.0.13 ' '$UP' && grep -q 'http: 200 GET /boot/distro/labinst/initrd.img from 10.250.0.13 ' '$UP'"
	check "case 3: no TFTP at all" sh -c "! grep -q 'RRQ from 10.250.0.13 ' '$UP'"
	# case 8: its installer first asked for bios1's kickstart with its own token
	check "case 8: wrong token for another host's kickstart: 403 to the installer" serial_has ipxe1 "^KF-INSTALLER steal host=bios1 status=403 "
	check "case 8: the 403 is in the server log with the peer" up_has "http: 403 GET /ks/bios1 from 10\\.250\\.0\\.13"
	check "case 8: nothing of bios1's kickstart leaked" sh -c "! tr -d '\\r' <'$LAB_DIR/ipxe1.serial' | grep -q 'steal leaked'"
fi
if [ -n "$bmcs" ]; then
	wait $RPID
	check "power: reinstall --wait ended when$bmcs were installed (exit 0)" test "$(cat "$LAB_DIR/reinstall1.rc")" = 0
	for n in $bmcs; do
		check "power: reinstall said $n was powered on from the network" \
			grep -qx "$n: next boot from the network, powered on (was off)" "$LAB_DIR/reinstall1.out"
	done
	check "power: reinstall --wait showed the status --watch display" grep -q "installed  elapsed" "$LAB_DIR/reinstall1.out"
fi
# second boots, together
for n in $round1; do e2e_boot2 "$n" "$(cat "$LAB_DIR/$n.kind")" "$(cat "$LAB_DIR/$n.mac")"; done
for n in $round1; do localboot_ok "$n" "$n" "$(cat "$LAB_DIR/$n.kind")"; done
for n in $round1; do timings "$n"; done

# a second reinstall of the installed bios1 goes back through PXE and ends
# installed again; then power on and off really start and stop it
if want 1; then
	lab_wait_qemu bios1 60
	m=$(wc -l <"$UP")
	t0=$(date +%s)
	kfns reinstall --wait=300 bios1 >"$LAB_DIR/reinstall2.out" 2>&1
	rc=$?
	echo "# bios1 reinstalled through its BMC: $(( $(date +%s) - t0 ))s"
	check "power: a second reinstall of the installed bios1 ends installed (exit $rc)" test $rc = 0
	check "power: ... it was powered on from the network" \
		grep -qx "bios1: next boot from the network, powered on (was off)" "$LAB_DIR/reinstall2.out"
	check "power: ... its BMC started it with -boot n a second time" test "$(tr '\n' ' ' <"$LAB_DIR/bmc-bios1/boots")" = "n n "
	check "power: ... it PXE booted and fetched its kickstart again" sh -c \
		"tail -n +$((m + 1)) '$UP' | grep -q 'RRQ from 10.250.0.11 filename pxelinux.0' && tail -n +$((m + 1)) '$UP' | grep -q 'http: 200 GET /ks/bios1 from 10.250.0.11 '"
	check "power: ... and reported installed again" sh -c "tail -n +$((m + 1)) '$UP' | grep -q 'serve: bios1 is installed'"
	st=$(e2e_state bios1)
	check "power: kickfleet status says bios1 is installed or configured (got $st)" \
		sh -c "[ '$st' = installed ] || [ '$st' = configured ]"
	lab_wait_qemu bios1 60
	kfns power on bios1 >"$LAB_DIR/power1.out" 2>&1
	sleep 1
	check "power: power on starts bios1's QEMU" grep -qv '^[0-9]* (.*) Z' "/proc/$(cat "$LAB_DIR/bios1.pid")/stat"
	kfns power status bios1 >>"$LAB_DIR/power1.out" 2>&1
	kfns power off bios1 >>"$LAB_DIR/power1.out" 2>&1
	# (a zombie has stopped: the orphaned QEMU waits for init to reap it)
	check "power: power off stops it" sh -c "! grep -qv '^[0-9]* (.*) Z' /proc/$(cat "$LAB_DIR/bios1.pid")/stat 2>/dev/null"
	kfns power status bios1 >>"$LAB_DIR/power1.out" 2>&1
	check "power: status said on, then off" test "$(tr '\n' ' ' <"$LAB_DIR/power1.out")" = \
		"bios1: powered on bios1: on bios1: powered off bios1: off "
fi

# ===== round 2: cases 7, 4 and 5 — an unknown machine, the Debian installer, the agent =====
if want 7; then
	# the unknown machine: its discovery boot beside round 2, enlisted
	# after it, its install (reinstall --wait through its BMC) beside round 3
	. "$TOP/tests/e2e/case-discovery.sh"
	disc_start
fi
round2=
if want 4; then
	e2e_machine deb1 deb1 52:54:00:e2:00:04 10.250.0.14
	# without a mirror the installer never finishes: stopped after `installed`
	: >"$LAB_DIR/deb1.stop-when-installed"
	e2e_boot deb1 ipxe 52:54:00:e2:00:04 --mem 1G
	round2="$round2 deb1"
fi
if want 5; then
	e2e_machine agent1 agent1 52:54:00:e2:00:05 10.250.0.15
	# 2 vCPUs, 2 NUMA nodes (384M each), two more NICs on a QEMU-internal
	# hub for the bond (nothing leaves QEMU)
	e2e_boot agent1 ipxe 52:54:00:e2:00:05 --mem 768M --smp 2 -- \
		-object memory-backend-ram,id=m0,size=384M -numa node,nodeid=0,cpus=0,memdev=m0 \
		-object memory-backend-ram,id=m1,size=384M -numa node,nodeid=1,cpus=1,memdev=m1 \
		-netdev hubport,id=b0,hubid=7 -device virtio-net-pci,netdev=b0,mac=52:54:00:e2:10:05,romfile= \
		-netdev hubport,id=b1,hubid=7 -device virtio-net-pci,netdev=b1,mac=52:54:00:e2:11:05,romfile=
	round2="$round2 agent1"
fi
if [ -n "$round2" ]; then
	t0=$(date +%s)
	# shellcheck disable=SC2086
	e2e_watch 300 $round2
	echo "# round 2 ($round2 ): $(( $(date +%s) - t0 ))s"
fi
want 7 && disc_enlist
if want 4; then
	check "case 4: the Debian installer ran until kickfleet had its callback (then stopped)" \
		grep -qx deb1 "$LAB_DIR/stopped-when-installed"
	check "case 4: the Debian installer's kernel and initrd over HTTP (iPXE)" sh -c \
		"grep -q 'http: 200 GET /boot/distro/debian12/vmlinuz from 10.250.0.14 ' '$UP' && grep -q 'http: 200 GET /boot/distro/debian12/initrd.img from 10.250.0.14 ' '$UP'"
	check "case 4: the installer's netcfg got its reserved address" up_has "DHCPACK\\(kfbr0\\) 10\\.250\\.0\\.14 52:54:00:e2:00:04 deb1"
	check "case 4: preseed fetched with the token (url= from kickfleet's boot config)" up_has "http: 200 GET /ks/deb1 from 10\\.250\\.0\\.14 "
	check "case 4: early command reported installing" up_has "http: 200 POST /cb/deb1/installing from 10\\.250\\.0\\.14 "
	check "case 4: late command took the apt repository's path (Release, Packages, the .deb) and the profile" sh -c \
		"grep -q 'http: 200 GET /repo/deb/Release from 10.250.0.14 ' '$UP' && grep -q 'http: 200 GET /repo/deb/Packages from 10.250.0.14 ' '$UP' &&
		 grep -q 'http: 200 GET /repo/deb/kickfleet-agent_[0-9.]*-1_amd64.deb from 10.250.0.14 ' '$UP' &&
		 grep -q 'http: 200 GET /profile/deb1 from 10.250.0.14 ' '$UP'"
	check "case 4: late command reported installed" up_has "serve: deb1 is installed \\(callback from 10\\.250\\.0\\.14\\)"
	st=$(e2e_state deb1)
	check "case 4: kickfleet status says installed (got $st)" test "$st" = installed
fi
if want 5; then
	n=agent1
	installed_ok agent1 agent1 10.250.0.15
	s() { clean "$LAB_DIR/agent1.serial" | sed -n "s/^\\[%post [0-9]*\\] //p"; }
	applied=$(s | sed -n 's/^KF-LAB state applied //p')
	echo "# agent1 after apply: $applied"
	want_state="hp0=12 hp1=6 thp=never defrag=defer ksm=1 scan=300 sleep=40 man=0 numabal=0 bond=active-backup slaves=eth1,eth2 bondmaster=brlab brkind=bridge braddr=192.168.77.5/24"
	check "case 5: the kernel state after apply is the profile's (hugepages per node, THP, KSM, NUMA balancing, bond, bridge)" test "$applied" = "$want_state"
	check "case 5: the drift was made" sh -c "tr -d '\\r' <'$LAB_DIR/agent1.serial' | grep -q 'KF-LAB state drifted hp0=12 hp1=2 thp=always .* ksm=0 '"
	check "case 5: check finds the drift (exit 2)" sh -c "tr -d '\\r' <'$LAB_DIR/agent1.serial' | grep -q 'KF-LAB drift check exit=2$'"
	check "case 5: apply repairs it (exit 2)" sh -c "tr -d '\\r' <'$LAB_DIR/agent1.serial' | grep -q 'KF-LAB drift apply exit=2$'"
	repaired=$(s | sed -n 's/^KF-LAB state repaired //p')
	check "case 5: the state after the repair is the profile's again" test "$repaired" = "$want_state"
	check "case 5: check after the repair is clean (exit 0)" sh -c "tr -d '\\r' <'$LAB_DIR/agent1.serial' | grep -q 'KF-LAB final check exit=0$'"
	nrep=$(grep -c 'serve: report from agent1: ' "$UP")
	check "case 5: every run's report reached the server ($nrep reports)" test "$nrep" -ge 4
	check "case 5: the drift report is in the server log" up_has "serve: report from agent1: .*drift"
	lr=$(e2e_status_json | jq -c '.[] | select(.name == "agent1") | {last_report, drift_count}')
	echo "# agent1 in kickfleet status --json: $lr"
	check "case 5: kickfleet status --json has agent1's last report" sh -c "echo '$lr' | jq -e '.last_report != null' >/dev/null"
fi
for n in $round2; do
	e2e_boot2 "$n" ipxe "$(cat "$LAB_DIR/$n.mac")" --mem 256M
done
for n in $round2; do localboot_ok "$n" "$n" ipxe; done
for n in $round2; do timings "$n"; done

# ===== round 3: cases 9 and 6 — a disk with systemd (installing while the guest runs), a guest =====
if want 9; then
	e2e_machine sys1 sys1 52:54:00:e2:00:09 10.250.0.19
	e2e_disk sys1 && e2e_boot sys1 ipxe 52:54:00:e2:00:09 --mem 768M -- \
		-drive "file=$LAB_DIR/sys1.qcow2,if=virtio,format=qcow2"
fi
if want 6; then
	t0=$(date +%s)
	if KF_LV_NETNS=$LAB_NS kf_libvirtd_start; then
		t_ok "case 6: the lab's libvirtd runs in $LAB_NS ($(( $(date +%s) - t0 ))s)"
		virsh() { command virsh -q -c "$KF_LV_URI" "$@"; }
		if "$E2E_KF" guest install -f "$E2E_FLEET" --uri "$KF_LV_URI" guest1 >"$LAB_DIR/guest-install.out" 2>&1; then
			t_ok "case 6: kickfleet guest install guest1 ($(cat "$LAB_DIR/guest-install.out"))"
		else
			t_fail "case 6: kickfleet guest install guest1"; cat "$LAB_DIR/guest-install.out"
		fi
		check "case 6: guest1 is on the lab bridge, network boot first" sh -c \
			"virsh -q -c '$KF_LV_URI' dumpxml guest1 | grep -q \"<source bridge='kfbr0'/>\" && virsh -q -c '$KF_LV_URI' dumpxml guest1 | grep -A8 '<interface' | grep -q \"<boot order='1'/>\""
		i=0
		# "in shutdown" is still on its way down: wait for it to end too
		while [ $i -lt 1200 ]; do
			case $(virsh domstate guest1 2>/dev/null) in
			running | "in shutdown") sleep 0.25; i=$((i + 1)) ;;
			*) break ;;
			esac
		done
		gstate=$(virsh domstate guest1 2>/dev/null)
		echo "# guest1: first boot ended ($gstate) after $(( $(date +%s) - t0 ))s"
		gip=10.250.0.51
		check "case 6: guest1 leased its reserved address" up_has "DHCPACK\\(kfbr0\\) 10\\.250\\.0\\.51 52:54:00:e2:01:01 guest1"
		check "case 6: guest1 got kernel and initrd over HTTP (iPXE)" up_has "http: 200 GET /boot/distro/labinst/initrd\\.img from 10\\.250\\.0\\.51 "
		check "case 6: guest1 fetched its kickstart with its token" up_has "http: 200 GET /ks/guest1 from 10\\.250\\.0\\.51 "
		check "case 6: guest1 reported installing and installed" sh -c \
			"grep -q 'serve: guest1 is installing' '$UP' && grep -q 'serve: guest1 is installed (callback from 10.250.0.51)' '$UP'"
		check "case 6: guest1 powered off by itself after the install (libvirt: $gstate)" test "$gstate" = "shut off"
		st=$(e2e_state guest1)
		check "case 6: kickfleet status says installed (got $st)" test "$st" = installed
		# second boot: local boot
		m=$(wc -l <"$UP")
		kfns power --uri "$KF_LV_URI" on guest1 >"$LAB_DIR/gpower.out" 2>&1
		check "case 6: kickfleet power on guest1 (libvirt)" grep -qx "guest1: powered on" "$LAB_DIR/gpower.out"
		i=0
		while [ $i -lt 600 ] && ! tail -n +"$((m + 1))" "$UP" | grep -q "http: 200 GET /ipxe/01-52-54-00-e2-01-01.ipxe from $gip "; do sleep 0.2; i=$((i + 1)); done
		check "case 6: second boot asked for its per-MAC script again" test $i -lt 600
		sleep 3
		check "case 6: the script served is local boot" sh -c "grep -q '(local boot)' '$E2E_OUT/http/ipxe/01-52-54-00-e2-01-01.ipxe'"
		tail -n +"$((m + 1))" "$UP" | grep -Eq "GET /(boot/distro|ks)/.* from $gip " &&
			t_fail "case 6: second boot loaded an installer" || t_ok "case 6: second boot loaded no installer"
		id1=$(virsh domid guest1 2>/dev/null)
		kfns power --uri "$KF_LV_URI" cycle guest1 >"$LAB_DIR/gpower.out" 2>&1
		id2=$(virsh domid guest1 2>/dev/null)
		check "case 6: kickfleet power cycle guest1: a new run of the domain (id $id1 -> $id2)" \
			sh -c "grep -qx 'guest1: power cycled' '$LAB_DIR/gpower.out' && [ -n '$id2' ] && [ '$id1' != '$id2' ]"
		kfns power --uri "$KF_LV_URI" off guest1 >"$LAB_DIR/gpower.out" 2>&1
		check "case 6: kickfleet power off guest1 (libvirt: $(virsh domstate guest1 2>/dev/null))" \
			test "$(virsh domstate guest1 2>/dev/null)" = "shut off"
	else
		t_fail "case 6: the lab's libvirtd"
	fi
fi

want 7 && disc_finish
if want 9; then
	. "$TOP/tests/e2e/case-systemd.sh"
fi

echo "# e2e suite: $(( $(date +%s) - suite_t0 ))s"
trap - EXIT
final_check
t_summary
