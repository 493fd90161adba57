# tests/e2e/case-discovery.sh — case 7 of tests/suites/70-e2e.sh (sourced
# there, with its helpers): a machine the inventory does not know, behind
# an ipmi_sim BMC (tests/ipmi/bmc.sh) whose power on starts its QEMU.
#   disc_start   the BMC; the power button: it PXE boots (iPXE), gets the
#                default script, boots the discovery image (the labinst kernel and initrd,
#                kickfleet's image laid over it), posts its facts, powers
#                off (beside round 2)
#   disc_enlist  `kickfleet discovered` has its MAC, memory and disk;
#                `kickfleet enlist --bmc` adds it with its BMC (its power:
#                section), `kickfleet up` reloads (SIGHUP), and
#                `kickfleet reinstall disc1 --wait` starts in the background
#   disc_finish  after round 3 (the install runs beside it): the install
#                through the BMC, reinstall --wait's exit, state installed
DISC_MAC=52:54:00:e2:0f:07 DISC_IP=10.250.0.17 DISC_MEM_MB=640 DISC_DISK=3221225472
DISC_BMC=$LAB_DIR/bmc-disc1
DISC_PORT=$((22000 + ($$ % 1000) * 2))
. "$TOP/tests/ipmi/bmc.sh"

# The machine the BMC powers: QEMU in the lab namespace, booting from the
# network (n) or its disk (c); boot K's serial log is disc1.K.serial.
disc_machine() {
	lab_tap kft-disc1 || return 1
	truncate -s "$DISC_DISK" "$LAB_DIR/disc1.img"
	printf '\370\003' >"$LAB_DIR/sercon-port"
	cat >"$LAB_DIR/disc1.machine" <<EOF
#!/bin/sh
k=\$(( \$(cat "$LAB_DIR/disc1.boots" 2>/dev/null || echo 0) + 1 ))
echo \$k >"$LAB_DIR/disc1.boots"
ln -sf disc1.\$k.serial "$LAB_DIR/disc1.serial"
exec nsenter --net=/run/netns/$LAB_NS qemu-system-x86_64 -accel tcg -machine pc -cpu max \\
	-m ${DISC_MEM_MB}M -smp 1 -nodefaults -no-user-config -display none -monitor none -no-reboot \\
	-serial file:$LAB_DIR/disc1.\$k.serial -fw_cfg name=etc/sercon-port,file=$LAB_DIR/sercon-port \\
	-netdev tap,id=n0,ifname=kft-disc1,script=no,downscript=no \\
	-device virtio-net-pci,netdev=n0,mac=$DISC_MAC \\
	-drive file=$LAB_DIR/disc1.img,if=virtio,format=raw -boot \$1
EOF
	chmod 755 "$LAB_DIR/disc1.machine"
	bmc_start "$DISC_BMC" 127.0.0.1 "$DISC_PORT" admin 'disc-bmc-pw' "$LAB_DIR/disc1.machine"
	echo "$(cat "$DISC_BMC/sim.pid") ipmi_sim" >>"$LAB_DIR/pids"
	bmc_wait "$DISC_BMC"
}

# waits (at most SECS) until the BMC's machine is off
disc_wait_off() {
	_end=$(( $(date +%s) + $1 ))
	while [ "$("$BMC_CHASSIS" "$DISC_BMC" get power)" = power:1 ]; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.3
	done
}

disc_start() {
	if ! disc_machine; then
		t_fail "case 7: the unknown machine's BMC (ipmi_sim on 127.0.0.1:$DISC_PORT)"
		return 1
	fi
	t_ok "case 7: the unknown machine's BMC answers (ipmi_sim on 127.0.0.1:$DISC_PORT)"
	DISC_T0=$(date +%s)
	# the power button of a machine kickfleet does not know yet
	"$BMC_CHASSIS" "$DISC_BMC" set boot pxe power 1
}

disc_enlist() {
	if disc_wait_off 180; then
		t_ok "case 7: the discovery boot powered off by itself"
	else
		t_fail "case 7: the discovery boot powered off by itself"; "$BMC_CHASSIS" "$DISC_BMC" set power 0
	fi
	echo "# disc1: discovery boot, power on to off: $(( $(date +%s) - DISC_T0 ))s;" \
		"$(tr -d '\r' <"$LAB_DIR/disc1.1.serial" | grep '^kickfleet-discovery: ' | sed -n 's/.*uptime=\([0-9.]*\).*/\1/p' | tr '\n' ' ')(kernel uptime: init, modules, lease, posted)"
	sip=$(sed -n "s/.*DHCPACK(kfbr0) \\([0-9.]*\\) $DISC_MAC.*/\\1/p" "$UP" | tail -n 1)
	check "case 7: unknown MAC got a lease from the pool ($sip)" sh -c "echo '$sip' | grep -Eq '^10\\.250\\.0\\.1[0-9][0-9]$'"
	check "case 7: no per-MAC script for it (404), the default script instead" sh -c \
		"grep -q 'http: 404 GET /ipxe/01-52-54-00-e2-0f-07\\.ipxe from $sip ' '$UP' && grep -q 'http: 200 GET /ipxe/default.ipxe from $sip ' '$UP'"
	check "case 7: the default script is the discovery boot, with no token" sh -c \
		"grep -q '(discovery)' '$E2E_OUT/http/ipxe/default.ipxe' && ! grep -q token '$E2E_OUT/http/ipxe/default.ipxe'"
	check "case 7: the distro's kernel and initrd and the discovery image over HTTP" sh -c \
		"grep -q 'http: 200 GET /boot/distro/labinst/vmlinuz from $sip ' '$UP' && grep -q 'http: 200 GET /boot/distro/labinst/initrd.img from $sip ' '$UP' &&
		 grep -q 'http: 200 GET /boot/discovery/initrd.img from $sip ' '$UP'"
	check "case 7: the image's /init ran (not the installer's) and posted" sh -c \
		"tr -d '\\r' <'$LAB_DIR/disc1.1.serial' | grep -q '^kickfleet-discovery: facts posted, powering off' &&
		 ! tr -d '\\r' <'$LAB_DIR/disc1.1.serial' | grep -q KF-INSTALLER"
	check "case 7: no kickstart, no profile for it" sh -c "! grep -Eq 'GET /(ks|profile)/.* from $sip ' '$UP'"
	check "case 7: the server took its facts (204, logged)" sh -c \
		"grep -q 'http: 204 POST /discover from $sip ' '$UP' && grep -q 'serve: discovered $DISC_MAC from $sip: ' '$UP'"
	d=$("$E2E_KF" discovered -f "$E2E_FLEET" -o "$E2E_OUT" --json | jq -c --arg m "$DISC_MAC" '.[] | select(.mac == $m)')
	echo "# disc1 in kickfleet discovered --json: $(echo "$d" | jq -c '{mac, memory, disks, nics}')"
	check "case 7: kickfleet discovered lists its MAC" test -n "$d"
	mem=$(echo "$d" | jq -r '.memory // 0')
	lo=$(( DISC_MEM_MB * 85 / 100 * 1048576 )) hi=$(( DISC_MEM_MB * 1048576 ))
	check "case 7: its memory is QEMU's -m ${DISC_MEM_MB}M less the kernel's reservations ($mem bytes)" \
		test "$mem" -ge "$lo" -a "$mem" -le "$hi"
	check "case 7: its disk is the $DISC_DISK-byte disk QEMU was given (vda)" sh -c \
		"echo '$d' | jq -e '.disks | map(select(.name == \"vda\" and .size == $DISC_DISK)) | length == 1' >/dev/null"
	check "case 7: its boot NIC (virtio) is listed with the MAC" sh -c \
		"echo '$d' | jq -e '.nics | map(select(.mac == \"$DISC_MAC\")) | length == 1' >/dev/null"

	# enlisted with its BMC (kickfleet enlist --bmc: its power: section, the
	# password in a file of the owner's); kickfleet up reloads
	mkdir -p "$LAB_DIR/fleet/bmc"
	printf 'disc-bmc-pw\n' >"$LAB_DIR/fleet/bmc/disc1"
	chmod 600 "$LAB_DIR/fleet/bmc/disc1"
	if "$E2E_KF" enlist -f "$E2E_FLEET" -o "$E2E_OUT" "$DISC_MAC" --name disc1 --role lab-host --ip "$DISC_IP" \
		--bmc "127.0.0.1:$DISC_PORT" --bmc-user admin --bmc-password-file bmc/disc1 \
		>"$LAB_DIR/enlist.out" 2>&1; then
		t_ok "case 7: kickfleet enlist $DISC_MAC --name disc1 --bmc 127.0.0.1:$DISC_PORT ($(tr '\n' ' ' <"$LAB_DIR/enlist.out"))"
	else
		t_fail "case 7: kickfleet enlist"; cat "$LAB_DIR/enlist.out"
	fi
	check "case 7: enlist wrote its BMC as its power: section" \
		grep -qx "    power: {address: 127.0.0.1, port: $DISC_PORT, user: admin, password_file: bmc/disc1}" "$E2E_FLEET"
	check "case 7: the fleet with disc1 and its BMC checks" "$E2E_KF" check -f "$E2E_FLEET"
	m=$(wc -l <"$UP")
	kill -HUP "$E2E_UP_PID"
	lab_wait_log "$UP" 'up: reloaded' 20
	check "case 7: kickfleet up reloaded the inventory (SIGHUP)" sh -c "tail -n +$((m + 1)) '$UP' | grep -q 'up: reloaded'"
	DISC_T0=$(date +%s)
	"$E2E_KF" reinstall -f "$E2E_FLEET" -o "$E2E_OUT" disc1 --wait=300 >"$LAB_DIR/reinstall.out" 2>&1 &
	DISC_RPID=$!
}

disc_finish() {
	[ -n "${DISC_RPID:-}" ] || return 0
	wait "$DISC_RPID"
	rc=$?
	echo "# disc1: kickfleet reinstall --wait: ${rc} after $(( $(date +%s) - DISC_T0 ))s"
	check "case 7: kickfleet reinstall disc1 --wait ended with 0 (installed)" test "$rc" = 0 ||
		tail -n 15 "$LAB_DIR/reinstall.out"
	check "case 7: reinstall set a PXE boot through the BMC and powered it on" sh -c \
		"grep -q '^disc1: .*next boot from the network' '$LAB_DIR/reinstall.out' && [ \"\$(sed -n 2p '$DISC_BMC/boots')\" = n ]"
	disc_wait_off 60
	b=$LAB_DIR/disc1.2.serial
	check "disc1: DHCP lease of its reserved address $DISC_IP" up_has "DHCPACK\\(kfbr0\\) $(reip "$DISC_IP") $DISC_MAC disc1"
	check "disc1: its per-MAC script, the installer, its kickstart with its token" sh -c \
		"grep -q 'http: 200 GET /ipxe/01-52-54-00-e2-0f-07.ipxe from $DISC_IP ' '$UP' && grep -q 'http: 200 GET /ks/disc1 from $DISC_IP ' '$UP'"
	check "disc1: the installer ran every section and the agent applied" sh -c \
		"tr -d '\\r' <'$b' | grep -q '^KF-INSTALLER done$' && tr -d '\\r' <'$b' | grep -Eq 'KF-LAB agent apply exit=(0|2)$'"
	check "disc1: installed callback, host flipped to local boot" up_has "serve: disc1 is installed \\(callback from $(reip "$DISC_IP")\\)"
	st=$(e2e_state disc1)
	check "disc1: kickfleet status says installed (got $st)" test "$st" = installed
	check "disc1: no longer in kickfleet discovered" sh -c \
		"! '$E2E_KF' discovered -f '$E2E_FLEET' -o '$E2E_OUT' --json | grep -q '$DISC_MAC'"
}
