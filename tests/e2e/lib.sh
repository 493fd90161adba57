# tests/e2e/lib.sh — the end-to-end lab: kickfleet up in a network
# namespace and QEMU machines installing from it (source it; POSIX sh).
# Used by tests/suites/70-e2e.sh, tests/e2e/demo.sh and bench/e2e.sh.
#
#   . "$TOP/tests/e2e/lib.sh"
#   e2e_assets [--debian] [--rootfs]  kernel, test installer initramfs (and the
#                                  Debian installer, the installed-system
#                                  image): E2E_VMLINUZ E2E_INITRD
#                                  (E2E_DI_KERNEL E2E_DI_INITRD E2E_ROOTFS)
#   e2e_disk NAME                  NAME.qcow2, an overlay on E2E_ROOTFS
#   e2e_lab TAG FLEET_DIR [UP ARGS]  lab_init TAG, the fleet copied to
#                                  $LAB_DIR/fleet with the installers staged,
#                                  an RA-only dnsmasq (iPXE's IPv6 wait) and
#                                  `kickfleet up -v` (log $LAB_DIR/up.out)
#   e2e_boot NAME KIND MAC [--mem M] [--smp N] [-- QEMU ARGS]
#                                  one boot of a machine; KIND:
#                                    pxe   BIOS with a plain PXE ROM (iPXE
#                                          built as a kernel, its user class
#                                          changed: it does not ask as iPXE)
#                                    ipxe  BIOS with QEMU's iPXE ROM
#                                    uefi  OVMF's own PXE
#   e2e_state HOST                 install state (kickfleet status --json)
#   e2e_watch SECS NAME...         wait for the machines' QEMUs to end (kill
#                                  after SECS), recording when each event
#                                  first shows in a log: $LAB_DIR/NAME.t.EV;
#                                  a machine with $LAB_DIR/NAME.stop-when-installed
#                                  is stopped 3 s after its `installed`
#   e2e_boot2 NAME KIND MAC, e2e_boot2_wait NAME SECS
#                                  the second boot, ended once kickfleet has
#                                  served its per-MAC config (see below)
#   e2e_leftovers                  prints what a lab left behind (processes
#                                  of its PIDs, namespace, taps, mounts,
#                                  temp dirs); empty when clean
#
# Machines are QEMU (-accel tcg) with virtio NICs on taps of the lab bridge.
# Events, in the order a machine goes through them (EV names):
#   lease loader config kernel initrd init ks installing installed off
# (init: the installer's /init started, on the serial console)
# Everything is asserted from logs: up.out (dnsmasq, tftpd and HTTP lines
# that kickfleet up relays), NAME.serial, and kickfleet status.
. "$TOP/tests/lab/lab.sh"
. "$TOP/tests/ipmi/bmc.sh"

E2E_KF=$TOP/build/kickfleet
E2E_AGENT=$TOP/build/kickfleet-agent
E2E_CACHE=${KF_CACHE:-/var/cache/kickfleet}

_e2e_err() { echo "e2e: $*" >&2; return 1; }

e2e_assets() {
	eval "$("$TOP/tests/vm/kernel.sh")" || { _e2e_err "no kernel (tests/vm/kernel.sh)"; return 1; }
	E2E_VMLINUZ=$KF_VMLINUZ
	E2E_INITRD=$E2E_CACHE/initramfs/e2e-installer.cpio.gz
	[ -x "$E2E_AGENT" ] || { _e2e_err "build/kickfleet-agent is not built"; return 1; }
	# busybox + the libraries the agent opens at first use (the agent
	# itself is the RPM that %post installs from kickfleet's repository,
	# through tests/e2e/lab-dnf.sh as dnf; it links the rest statically) +
	# curl and systemctl for the shipped snippets + iproute2's ip; bonding
	# and bridge for the agent's network section (libcurl and libnuma are
	# dlopened, so ldd does not name them; libvirt is left out, the lab
	# machines run the agent with --skip guests)
	_libs=
	for _so in libcurl.so.4 libnuma.so.1; do
		_p=$(ldconfig -p | awk -v s="$_so" '$1 == s && /x86-64/ { print $NF; exit }')
		[ -n "$_p" ] || { _e2e_err "library $_so not found (ldconfig -p)"; return 1; }
		_libs="$_libs --bin $_p"
	done
	# shellcheck disable=SC2086
	"$TOP/tests/vm/initramfs.sh" -o "$E2E_INITRD" --script "$TOP/tests/e2e/installer.sh" \
		--module bonding --module bridge --module 8021q --module virtio_blk --module crc32c_generic --module ext4 \
		--file "$TOP/tests/e2e/lab-dnf.sh:/usr/bin/dnf" $_libs --bin /usr/bin/curl \
		--bin "$(command -v ip)" --bin "$(command -v systemctl)" ||
		{ _e2e_err "cannot build the installer initramfs"; return 1; }
	export E2E_VMLINUZ E2E_INITRD
	for _a in "$@"; do
		case $_a in
		--debian) e2e_debian_installer || return 1 ;;
		--rootfs)
			eval "$("$TOP/tests/vm/rootfs.sh")" || { _e2e_err "no installed-system image (tests/vm/rootfs.sh)"; return 1; }
			E2E_ROOTFS=$KF_ROOTFS; export E2E_ROOTFS ;;
		esac
	done
	return 0
}

# e2e_disk NAME: a qcow2 overlay on the installed-system image for NAME
# ($LAB_DIR/NAME.qcow2; the image itself is never written)
e2e_disk() {
	qemu-img create -q -f qcow2 -F raw -b "$E2E_ROOTFS" "$LAB_DIR/$1.qcow2" ||
		{ _e2e_err "qemu-img create $1.qcow2"; return 1; }
}

# The Debian installer's netboot kernel and initrd: the package
# debian-installer-12-netboot-amd64, downloaded and unpacked with dpkg -x
# into the cache (nothing installed on the host).
e2e_debian_installer() {
	_c=$E2E_CACHE/d-i
	mkdir -p "$_c"
	(
		exec 9>"$_c/.lock"
		flock 9
		_pkg=debian-installer-12-netboot-amd64
		_v=$(apt-cache policy "$_pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
		if [ -z "$_v" ] || [ "$_v" = "(none)" ]; then
			apt-get update -q >/dev/null 2>&1
			_v=$(apt-cache policy "$_pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
		fi
		if [ -z "$_v" ] || [ "$_v" = "(none)" ]; then
			_d=$(ls -1d "$_c"/*/ 2>/dev/null | sort -V | tail -n 1)
			[ -n "$_d" ] && [ -f "$_d/.ok" ] && exit 0
			_e2e_err "cannot resolve $_pkg and nothing cached in $_c"; exit 1
		fi
		_d=$_c/$_v
		[ -f "$_d/.ok" ] && exit 0
		_t=$(mktemp -d "$_c/.fetch.XXXXXX")
		(cd "$_t" && apt-get download -q "$_pkg" >apt.log 2>&1) ||
			{ cat "$_t/apt.log" >&2; rm -rf "$_t"; _e2e_err "apt-get download $_pkg failed"; exit 1; }
		dpkg -x "$_t"/*.deb "$_t/x"
		_k=$(find "$_t/x" -path '*/text/debian-installer/amd64/linux' | head -n 1)
		[ -n "$_k" ] || _k=$(find "$_t/x" -path '*/debian-installer/amd64/linux' | head -n 1)
		[ -n "$_k" ] || { rm -rf "$_t"; _e2e_err "no debian-installer/amd64/linux in $_pkg"; exit 1; }
		rm -rf "$_d"
		mkdir -p "$_d"
		cp "$_k" "$_d/linux"
		cp "$(dirname "$_k")/initrd.gz" "$_d/initrd.gz"
		echo "$_v" >"$_d/.ok"
		rm -rf "$_t"
	) || return 1
	_d=$(ls -1d "$_c"/*/ 2>/dev/null | sort -V | while read -r d; do [ -f "$d/.ok" ] && echo "${d%/}"; done | tail -n 1)
	E2E_DI_KERNEL=$_d/linux E2E_DI_INITRD=$_d/initrd.gz E2E_DI_VERSION=$(cat "$_d/.ok")
	export E2E_DI_KERNEL E2E_DI_INITRD E2E_DI_VERSION
}

e2e_lab() {
	_tag=$1 _src=$2; shift 2
	lab_init "$_tag" || return 1
	E2E_FLEET=$LAB_DIR/fleet/fleet.yaml
	E2E_OUT=$LAB_DIR/out
	cp -R "$_src" "$LAB_DIR/fleet" || return 1
	# BMC password files are the owner's only (git keeps no modes)
	[ -d "$LAB_DIR/fleet/bmc" ] && chmod 600 "$LAB_DIR"/fleet/bmc/*
	lab_stage "$E2E_VMLINUZ" "$LAB_DIR/fleet/installer/vmlinuz"
	lab_stage "$E2E_INITRD" "$LAB_DIR/fleet/installer/initrd.img"
	if [ -n "${E2E_DI_KERNEL:-}" ]; then
		lab_stage "$E2E_DI_KERNEL" "$LAB_DIR/fleet/d-i/linux"
		lab_stage "$E2E_DI_INITRD" "$LAB_DIR/fleet/d-i/initrd.gz"
	fi
	# iPXE waits ~13 s for an IPv6 router advertisement (LAB.md): the lab's
	# "router" answers, a dnsmasq that does RA only (no DHCPv4, no DNS)
	lab_bg ra dnsmasq --keep-in-foreground --port=0 --no-resolv --no-hosts \
		--interface="$LAB_BR" --bind-interfaces --enable-ra \
		--dhcp-range="::,constructor:$LAB_BR,ra-only" --log-facility="$LAB_DIR/ra.log" \
		--pid-file="$LAB_DIR/ra.pidfile" --dhcp-leasefile="$LAB_DIR/ra.leases" \
		--user=root --group=root
	lab_bg up "$E2E_KF" up -v -f "$E2E_FLEET" -o "$E2E_OUT" --agent "$E2E_AGENT" "$@"
	E2E_UP_PID=$(cat "$LAB_DIR/up.pid")
	export E2E_FLEET E2E_OUT E2E_UP_PID
	lab_wait_log "$LAB_DIR/up.out" 'dnsmasq.*DHCP, IP range' 30 &&
		lab_wait_log "$LAB_DIR/up.out" 'up: started tftpd' 10 ||
		{ tail -n 30 "$LAB_DIR/up.out" >&2; _e2e_err "kickfleet up did not start"; return 1; }
	_i=0
	until lab_ns curl -sf -o /dev/null "http://$LAB_IP/healthz"; do
		_i=$((_i + 1))
		[ $_i -lt 100 ] && kill -0 "$E2E_UP_PID" 2>/dev/null ||
			{ tail -n 30 "$LAB_DIR/up.out" >&2; _e2e_err "kickfleet serve does not answer"; return 1; }
		sleep 0.1
	done
}

e2e_boot() {
	_n=$1 _k=$2 _m=$3; shift 3
	_mem=768M _smp=1
	while [ $# -gt 0 ]; do
		case $1 in
		--mem) _mem=$2; shift 2 ;;
		--smp) _smp=$2; shift 2 ;;
		--) shift; break ;;
		*) _e2e_err "e2e_boot: unknown argument $1"; return 1 ;;
		esac
	done
	echo "$_k" >"$LAB_DIR/$_n.kind"
	_scr=
	[ -n "${E2E_SCRIPT:-}" ] && _scr="--script $E2E_SCRIPT"
	case $_k in
	pxe)
		# iPXE as a Linux kernel with a one-line script: a PXE client that
		# asks with the PXE vendor class only, as a NIC's own PXE ROM does
		# (QEMU's NIC ROMs are all iPXE, which dnsmasq tells apart)
		lab_qemu "$_n" $_scr --firmware bios --mac "$_m" --mem "$_mem" --smp "$_smp" --rom '' -- \
			-kernel /usr/lib/ipxe/ipxe.lkrn -append "set user-class PXE-ROM && autoboot" "$@" ;;
	ipxe) lab_qemu "$_n" $_scr --firmware bios --mac "$_m" --mem "$_mem" --smp "$_smp" -- "$@" ;;
	uefi) lab_qemu "$_n" $_scr --firmware uefi --mac "$_m" --mem "$_mem" --smp "$_smp" -- "$@" ;;
	*) _e2e_err "e2e_boot: kind pxe|ipxe|uefi"; return 1 ;;
	esac
}

# e2e_bmc NAME KIND MAC PORT [BOOT ARGS]: the machine of e2e_boot, powered
# off, behind a BMC (ipmi_sim in the lab namespace on 127.0.0.1:PORT, user
# admin, the password of fleet/bmc/lab; tests/ipmi/bmc.sh).  Power on
# starts its QEMU (booting from the network after a one-time PXE request),
# power off stops it; NAME.pid is the QEMU's.
e2e_bmc() {
	_n=$1 _k=$2 _m=$3 _port=$4
	shift 4
	E2E_SCRIPT=$LAB_DIR/$_n.machine e2e_boot "$_n" "$_k" "$_m" "$@" || return 1
	BMC_RUN=$LAB_NSENTER bmc_start "$LAB_DIR/bmc-$_n" 127.0.0.1 "$_port" admin \
		"$(cat "$LAB_DIR/fleet/bmc/lab")" "$LAB_DIR/$_n.machine"
	ln -sf "$LAB_DIR/$_n.pid" "$LAB_DIR/bmc-$_n/machine.pid"
	echo "$(cat "$LAB_DIR/bmc-$_n/sim.pid") bmc-$_n" >>"$LAB_DIR/pids"
	BMC_RUN=$LAB_NSENTER bmc_wait "$LAB_DIR/bmc-$_n"
}

e2e_status_json() { "$E2E_KF" status -f "$E2E_FLEET" -o "$E2E_OUT" --json; }

e2e_state() {
	e2e_status_json 2>/dev/null | jq -r --arg h "$1" '.[] | select(.name == $h) | .state'
}

# lines of up.out with the relayed logs; the IP's dots escaped for EREs
_e2e_re_ip() { echo "$1" | sed 's/\./\\./g'; }

# event specs of a machine: EV|FILE|ERE (first match counts)
e2e_events() { # NAME HOST MAC IP
	_n=$1 _h=$2 _mac=$3 _ip=$(_e2e_re_ip "$4")
	_f=$(echo "$_mac" | tr : -)
	_up=$LAB_DIR/up.out
	echo "lease|$_up|DHCPACK\\(.*\\) $_ip $_mac"
	echo "loader|$_up|(RRQ from $_ip filename (pxelinux\\.0|grubnetx64\\.efi)|GET /ipxe/boot\\.ipxe from $_ip )"
	echo "config|$_up|(RRQ from $_ip filename /?(pxelinux\\.cfg|grub)/(grub\\.cfg-)?01-$_f|GET /ipxe/01-$_f\\.ipxe from $_ip )"
	echo "kernel|$_up|(RRQ from $_ip filename distro/[a-z0-9]+/vmlinuz|GET /boot/distro/[a-z0-9]+/vmlinuz from $_ip )"
	echo "initrd|$_up|(RRQ from $_ip filename distro/[a-z0-9]+/initrd|GET /boot/distro/[a-z0-9]+/initrd\\.img from $_ip )"
	echo "init|$LAB_DIR/$_n.serial|KF-VM-START uptime="
	echo "ks|$_up|200 GET /ks/$_h from $_ip "
	echo "installing|$_up|serve: $_h is installing"
	echo "installed|$_up|serve: $_h is installed"
}

e2e_watch() { # SECS NAME... (NAME.host NAME.ip NAME.mac files give the rest)
	_limit=$1; shift
	_end=$(( $(date +%s) + _limit ))
	while :; do
		_alive=
		for _n in "$@"; do
			e2e_events "$_n" "$(cat "$LAB_DIR/$_n.host")" "$(cat "$LAB_DIR/$_n.mac")" \
				"$(cat "$LAB_DIR/$_n.ip")" >"$LAB_DIR/$_n.events"
			while IFS='|' read -r _ev _file _re; do
				[ -f "$LAB_DIR/$_n.t.$_ev" ] && continue
				[ -f "$_file" ] || continue
				tr -d '\r' <"$_file" | grep -Eq "$_re" && lab_elapsed "$_n" >"$LAB_DIR/$_n.t.$_ev"
			done <"$LAB_DIR/$_n.events"
			if kill -0 "$(cat "$LAB_DIR/$_n.pid")" 2>/dev/null; then
				_alive=1
				# machines that never power off by themselves (the Debian
				# installer without a mirror) end 3 s after `installed`
				if [ -f "$LAB_DIR/$_n.stop-when-installed" ] && [ -f "$LAB_DIR/$_n.t.installed" ] &&
				   [ "$(lab_elapsed "$_n" | cut -d. -f1)" -ge $(( $(cut -d. -f1 "$LAB_DIR/$_n.t.installed") + 3 )) ]; then
					lab_wait_qemu "$_n" 0
					echo "$_n" >>"$LAB_DIR/stopped-when-installed"
				fi
			elif [ ! -f "$LAB_DIR/$_n.t.off" ]; then
				lab_elapsed "$_n" >"$LAB_DIR/$_n.t.off"
			fi
		done
		[ -z "$_alive" ] && return 0
		if [ "$(date +%s)" -ge "$_end" ]; then
			for _n in "$@"; do
				lab_wait_qemu "$_n" 0 || echo "$_n" >>"$LAB_DIR/timed-out"
			done
			return 124
		fi
		sleep 0.3
	done
}

# e2e_machine NAME HOST MAC IP: remember who a QEMU name is
e2e_machine() {
	echo "$2" >"$LAB_DIR/$1.host"
	echo "$3" >"$LAB_DIR/$1.mac"
	echo "$4" >"$LAB_DIR/$1.ip"
}

e2e_t() { cat "$LAB_DIR/$1.t.$2" 2>/dev/null || echo -; }

# The second boot ("local boot" ends a lab run):
#   e2e_boot2 NAME KIND MAC [BOOT ARGS]   boots NAME-2 with the same MAC
#   e2e_boot2_wait NAME SECS              waits until kickfleet serves the
#       per-MAC boot config to it after the first boot (tftpd or HTTP log,
#       past the log position when NAME-2 started), lets the loader act for
#       3 s (its output goes to NAME-2.serial), then stops it; 0 if served.
#       NAME-2.config is the config file as served.
e2e_boot2() {
	_n=$1 _k=$2 _m=$3; shift 3
	wc -l <"$LAB_DIR/up.out" >"$LAB_DIR/$_n-2.marker"
	cp "$LAB_DIR/$_n.host" "$LAB_DIR/$_n-2.host"
	cp "$LAB_DIR/$_n.ip" "$LAB_DIR/$_n-2.ip"
	e2e_boot "$_n-2" "$_k" "$_m" "$@"
}

e2e_boot2_wait() {
	_n2=$1-2 _s=$2
	_ip=$(_e2e_re_ip "$(cat "$LAB_DIR/$_n2.ip")")
	_f=$(tr : - <"$LAB_DIR/$_n2.mac")
	_re="(RRQ from $_ip filename /?(pxelinux\\.cfg|grub)/(grub\\.cfg-)?01-$_f|200 GET /ipxe/01-$_f\\.ipxe from $_ip )"
	_end=$(( $(date +%s) + _s ))
	_rc=1
	while kill -0 "$(cat "$LAB_DIR/$_n2.pid")" 2>/dev/null && [ "$(date +%s)" -lt "$_end" ]; do
		if tail -n +"$(( $(cat "$LAB_DIR/$_n2.marker") + 1 ))" "$LAB_DIR/up.out" | grep -Eq "$_re"; then
			lab_elapsed "$_n2" >"$LAB_DIR/$_n2.t.config"
			_rc=0
			break
		fi
		sleep 0.3
	done
	case $(cat "$LAB_DIR/$_n2.kind") in
	uefi) _file=$E2E_OUT/tftp/grub/grub.cfg-01-$_f ;;
	pxe) _file=$E2E_OUT/tftp/pxelinux.cfg/01-$_f ;;
	*) _file=$E2E_OUT/http/ipxe/01-$_f.ipxe ;;
	esac
	cp "$_file" "$LAB_DIR/$_n2.config" 2>/dev/null
	[ $_rc = 0 ] && sleep 3
	lab_wait_qemu "$_n2" 0
	return $_rc
}

# What a lab run may leave behind, given its PID file list, namespace
# name and dir (call after lab_cleanup with the saved values).
e2e_leftovers() { # PIDS_COPY NS DIR
	_pids=$1 _ns=$2 _dir=$3
	if [ -f "$_pids" ]; then
		# a zombie has ended (an orphan waits for init to reap it)
		while read -r _p _n; do
			kill -0 "$_p" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$_p/stat" 2>/dev/null &&
				echo "process $_p ($_n) still running"
		done <"$_pids"
	fi
	ip netns list 2>/dev/null | grep -qw "$_ns" && echo "namespace $_ns still there"
	[ -e "/run/netns/$_ns" ] && echo "/run/netns/$_ns still there"
	ip -o link show 2>/dev/null | grep -Eo 'kft-[^:@ ]+' | sed 's/^/tap on the host: /'
	grep -F "$_dir" /proc/mounts | sed 's/^/mount left: /'
	grep -E 'kf-lab-dev|kf-libvirt' /proc/mounts | sed 's/^/mount left: /'
	[ -e "$_dir" ] && echo "lab dir $_dir still there"
	# QEMUs of this lab by their serial log path
	for _p in $(pgrep -f "file:$_dir/" 2>/dev/null); do echo "process $_p uses $_dir"; done
	return 0
}
