# tests/e2e/case-systemd.sh — case 9 of tests/suites/70-e2e.sh (sourced
# there after round 3, with its helpers): sys1 installed onto a disk with
# systemd, then rebooted from that disk.  Its first boot started with
# round 3; this waits for it, boots the disk, and asserts from the serial
# console (the lab watcher unit's KF-LAB lines, tests/e2e/kickstart/
# snippets/lab-verify.ks), the server log and kickfleet status.
e2e_watch 300 sys1
installed_disk_ok() {
	check "sys1: installed system mounted from its disk for %post" serial_has sys1 "^KF-INSTALLER target /dev/vda mounted at /mnt/sysimage"
	check "sys1: kickstart fetched with its token, the agent package from kickfleet's repository" sh -c \
		"grep -q 'http: 200 GET /ks/sys1 from 10.250.0.19 ' '$UP' && grep -q 'http: 200 GET /repo/rpm/kickfleet-agent-[0-9.]*-1.el9.x86_64.rpm from 10.250.0.19 ' '$UP'"
	check "sys1: every %post section ran (chrooted) and the disk was unmounted" sh -c \
		"tr -d '\\r' <'$LAB_DIR/sys1.serial' | grep -q '^KF-INSTALLER target unmounted' && tr -d '\\r' <'$LAB_DIR/sys1.serial' | grep -q '^KF-INSTALLER done$'"
	check "sys1: installed callback, host flipped to local boot" up_has "serve: sys1 is installed \\(callback from 10\\.250\\.0\\.19\\)"
	check "sys1: nothing ran the agent during the install (no profile fetched)" sh -c "! grep -q 'GET /profile/sys1 ' '$UP'"
}
installed_disk_ok
timings sys1

# the reboot: the same machine, its disk; iPXE asks kickfleet first (local
# boot), then the kernel boots the disk's systemd (kfroot=, tests/vm/initramfs.sh)
m=$(wc -l <"$UP")
e2e_machine sys1-2 sys1 52:54:00:e2:00:09 10.250.0.19
t0=$(date +%s)
e2e_boot sys1-2 ipxe 52:54:00:e2:00:09 --mem 768M -- \
	-drive "file=$LAB_DIR/sys1.qcow2,if=virtio,format=qcow2" \
	-kernel "$E2E_VMLINUZ" -initrd "$E2E_INITRD" -append "console=ttyS0,115200 kfroot=/dev/vda panic=-1 loglevel=4"
if lab_wait_qemu sys1-2 300; then
	t_ok "sys1: rebooted from its disk, powered off by the lab watcher ($(( $(date +%s) - t0 ))s)"
else
	t_fail "sys1: reboot from its disk did not finish in 300 s"; show_serial sys1-2 60
fi
kl() { clean "$LAB_DIR/sys1-2.serial" | sed -n "s/^.*KF-LAB $1//p" | head -n 1; }
check "sys1: systemd ran the boot from the disk" serial_has sys1-2 "kf-init: switching to /dev/vda"
check "sys1: the boot unit fetched the profile with its agent credential" sh -c \
	"tail -n +$((m + 1)) '$UP' | grep -q 'http: 200 GET /profile/sys1 from 10.250.0.19 '"
bu=$(kl "boot unit ")
echo "# sys1 boot unit: $bu"
check "sys1: kickfleet-agent.service ran at boot and made changes (exit 2, success)" sh -c "echo '$bu' | grep -q '^result=success status=2 enabled=enabled$'"
tm=$(kl "timer ")
echo "# sys1 timer: $tm"
check "sys1: kickfleet-agent.timer active, enabled, its drop-in has the profile's interval" test "$tm" = "active=active enabled=enabled interval=20s"
want_sys="hp=16 thp=never defrag=defer ksm=1 scan=300 sleep=40"
st=$(kl "state boot ")
echo "# sys1 after the reboot: $st"
check "sys1: after the reboot the tuning is back (hugepages, THP, KSM read in the VM = the profile)" test "$st" = "$want_sys"
check "sys1: the drift was made (THP always, KSM off)" serial_has sys1-2 "^KF-LAB state drifted .*thp=always .*ksm=0 "
dc=$(kl "drift corrected after " | tr -d s)
echo "# sys1: drift corrected by the timer after ${dc:-?}s (interval 20s, AccuracySec and RandomizedDelaySec 2s each)"
check "sys1: the timer corrected the drift within one interval (${dc:-never}s <= 20s + 2s + 2s + 1s)" \
	awk -v d="${dc:-999}" 'BEGIN { exit !(d <= 25) }'
check "sys1: the periodic run succeeded (exit 2: it made the repair)" test "$(kl "periodic ")" = "result=success status=2"
check "sys1: state after the repair is the profile's" test "$(kl "state repaired ")" = "$want_sys"
nrep=$(tail -n +$((m + 1)) "$UP" | grep -c 'serve: report from sys1: ')
check "sys1: both runs (boot unit, timer) reported to the provisioner ($nrep reports)" test "$nrep" -ge 2
sj=$(e2e_status_json | jq -c '.[] | select(.name == "sys1") | {state, last_run, last_exit_code, agent_version, agent_interval, stale}')
echo "# sys1 in kickfleet status --json: $sj"
check "sys1: kickfleet status --json: last run after the reboot, exit 2, the agent's version, interval 20, not stale" sh -c \
	"echo '$sj' | jq -e '.last_run >= $t0 and .last_exit_code == 2 and .agent_version == \"$("$E2E_AGENT" --version | awk '{ print $NF }')\" and .agent_interval == 20 and .stale == false' >/dev/null"
row=$("$E2E_KF" status -f "$E2E_FLEET" -o "$E2E_OUT" | awk '$1 == "sys1"')
echo "# sys1 in kickfleet status: $row"
check "sys1: kickfleet status shows its last run, exit code and agent version" sh -c "echo '$row' | grep -Eq ' [0-9]+s ago +2 +[0-9]'"
