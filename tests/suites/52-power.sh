#!/bin/sh
# kickfleet power against real BMCs: OpenIPMI's ipmi_sim, one process per
# BMC on a loopback UDP port with its own lan.conf and state directory
# (tests/ipmi/bmc.sh), stopped by PID.  Power on really starts the BMC's
# "machine" (a process), off stops it, --pxe makes its next start a network
# boot; a wrong password, an unreachable BMC and a host without power are
# failures that name the host and leave the others handled.  reinstall
# sets netboot on, a one-time PXE boot and a cycle; --wait follows the
# installs with the display of status --watch.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/ipmi/bmc.sh"
KF=${KF:-$TOP/build/kickfleet}
for tool in ipmi_sim ss jq curl sqlite3; do
	if ! command -v $tool >/dev/null 2>&1; then
		t_skip "$tool not installed (scripts/deps.sh check)"
		t_summary
		exit 0
	fi
done

W=$(mktemp -d /tmp/kf-52.XXXXXX)
cleanup() { bmc_stop "$W"/bmc*; rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports from the PID, so that parallel runs do not meet.
BASE=$((20000 + ($$ % 2000) * 10))
P1=$BASE P2=$((BASE + 1)) P3=$((BASE + 2)) PDEAD=$((BASE + 9))
cat >"$W/machine" <<'EOT'
#!/bin/sh
echo "booted $1"
exec sleep 600
EOT
chmod +x "$W/machine"
bmc_start "$W/bmc1" 127.0.0.1 $P1 admin 's3cr3t-one' "$W/machine"
bmc_start "$W/bmc2" 127.0.0.1 $P2 admin 's3cr3t-two' "$W/machine"
bmc_start "$W/bmc3" 127.0.0.1 $P3 admin 's3cr3t-three' "$W/machine"
bmc_wait "$W/bmc1" "$W/bmc2" "$W/bmc3" && t_ok "three ipmi_sim BMCs answer" || t_fail "ipmi_sim starts"

F=$W/fleet
mkdir -p "$F/bmc"
ln -s "$TOP/tests/data/inventory/common/kickstart" "$F/kickstart"
ln -s "$TOP/tests/data/inventory/common/profiles" "$F/profiles"
printf 's3cr3t-one\n' >"$F/bmc/kvm01"
printf 's3cr3t-two' >"$F/bmc/kvm02"
printf 'not-the-password\n' >"$F/bmc/kvm03"
printf 'whatever\n' >"$F/bmc/kvm04"
chmod 600 "$F"/bmc/*
host() { # NAME N PORT
	printf '  - {name: %s, mac: "52:54:00:aa:00:%02d", ip: 10.250.0.%d, role: kvm-host,\n' $1 $2 $((10 + $2))
	printf '     power: {address: 127.0.0.1, port: %s, password_file: bmc/%s}}\n' $3 $1
}
{
	sed -n '1,/^defaults:/p' "$TOP/tests/data/inventory/good/shared-example/fleet.yaml"
	echo '  power: {user: admin}'
	echo 'hosts:'
	host kvm01 1 $P1
	host kvm02 2 $P2
	host kvm03 3 $P3
	host kvm04 4 $PDEAD
	echo '  - {name: kvm05, mac: "52:54:00:aa:00:05", role: kvm-host}'
} >"$F/fleet.yaml"
t_check "the fleet with power sections checks" "$KF" check -f "$F/fleet.yaml"

pw() { kf power -f "$F/fleet.yaml" -t 1 "$@"; }
kf() { "$KF" "$@" >"$W/out" 2>"$W/err"; }
expect() { # NAME LINE: the output has LINE
	if grep -qxF "$2" "$W/out"; then t_ok "$1"; else t_fail "$1: no \"$2\" in"; sed 's/^/    /' "$W/out" "$W/err"; fi
}

pw status kvm01 kvm02
t_check "status of two off machines exits 0" test $? -eq 0
expect "kvm01 is off" "kvm01: off"
expect "kvm02 is off (password file without newline)" "kvm02: off"

pw on kvm01
expect "power on" "kvm01: powered on"
pw status kvm01
expect "power on started the machine" "kvm01: on"
t_check "the machine runs, booted from disk" grep -qx c "$W/bmc1/boots"
pid1=$(cat "$W/bmc1/machine.pid")

pw --pxe cycle kvm01
expect "--pxe cycle" "kvm01: next boot from the network, power cycled"
i=0; while [ "$(tail -n 1 "$W/bmc1/boots")" != n ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
t_check "the cycle booted the machine from the network" test "$(tail -n 1 "$W/bmc1/boots")" = n
t_check "... as a new process" test "$(cat "$W/bmc1/machine.pid" 2>/dev/null)" != "$pid1"

pw cycle kvm02
expect "cycle of an off machine powers it on" "kvm02: powered on (was off)"
pw reset kvm02
expect "reset" "kvm02: reset"

pw off kvm01 kvm02
expect "power off kvm01" "kvm01: powered off"
expect "power off kvm02" "kvm02: powered off"
t_check "off stopped the machine" test ! -s "$W/bmc1/machine.pid"

# One bad BMC never stops the rest.
start=$(date +%s%N)
pw status --all
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
t_check "--all with a wrong password and a dead BMC exits 1" test $rc -eq 1
expect "the wrong password names host, user and BMC" "kvm03: IPMI authentication failed (admin@127.0.0.1:$P3)"
expect "the dead BMC is unreachable" "kvm04: BMC unreachable: no answer from 127.0.0.1:$PDEAD within 1.0 s"
expect "the others are still handled" "kvm01: off"
expect "... all of them" "kvm02: off"
t_check "--all skips the host without power" sh -c "! grep -q kvm05 '$W/out'"
t_check "the dead BMC failed within the timeout (1 s; took ${ms} ms)" test $ms -lt 2500

pw status kvm05
t_check "a named host without power is an error" test $? -eq 1
t_check "... saying so" grep -q "kvm05: no power control" "$W/err"
pw status nosuch
t_check "an unknown name is an error" grep -q "nosuch: not a host or guest" "$W/err"

pw --json -j 2 status kvm01 kvm03 kvm04
t_check "--json exits 1 with a failure" test $? -eq 1
t_check "--json: one element per host" test "$(jq length "$W/out")" = 3
t_check "--json: kvm01 off" test "$(jq -r '.[0].power' "$W/out")" = off
t_check "--json: reasons" test "$(jq -r '[.[] | .reason // "-"] | join(",")' "$W/out")" = "-,auth,unreachable"

# The passwords never show: not in any output, nor in a command line.
pw --pxe cycle --all &
bg=$!
sleep 0.2
ps -eo args >"$W/ps"
wait $bg
t_check "no password in output" sh -c "! grep -q s3cr3t '$W/out' '$W/err'"
t_check "no password in any command line" sh -c "! grep -q s3cr3t '$W/ps'"

# Power state and the last action in the state store, shown by status.
"$KF" render --no-stage -f "$F/fleet.yaml" -o "$W/tree" >"$W/out" 2>&1 || { t_fail "render"; cat "$W/out"; }
pw off kvm02
pw -o "$W/tree" on kvm01
pw -o "$W/tree" status kvm01 kvm02 kvm03
"$KF" status -f "$F/fleet.yaml" -o "$W/tree" >"$W/status"
t_check "status: a POWER column" sh -c "head -1 '$W/status' | grep -q 'STATE  *POWER'"
t_check "status: kvm01 on" grep -Eq '^kvm01 +host +new +on ' "$W/status"
t_check "status: kvm02 off" grep -Eq '^kvm02 +host +new +off ' "$W/status"
t_check "status: kvm03 unknown, its last action failed" grep -Eq '^kvm03 +host +new +-! ' "$W/status"
"$KF" status -f "$F/fleet.yaml" -o "$W/tree" --json >"$W/status.json"
t_check "status --json: power of kvm01" test "$(jq -r '.[] | select(.name == "kvm01") | .power.state' "$W/status.json")" = on
t_check "status --json: kvm03's last result names the failure" \
	test "$(jq -r '.[] | select(.name == "kvm03") | .power.result' "$W/status.json")" = "IPMI authentication failed (admin@127.0.0.1:$P3)"
t_check "status --json: kvm04 was never seen" test "$(jq -r '.[] | select(.name == "kvm04") | .power' "$W/status.json")" = null
t_check "no password in the state store" test "$(cat "$W"/tree/state.db* | grep -ac s3cr3t)" = 0
# ... and in /metrics of kickfleet serve
SPORT=$((BASE + 8))
"$KF" serve -f "$F/fleet.yaml" -o "$W/tree" --listen 127.0.0.1:$SPORT >"$W/serve.log" 2>&1 &
SPID=$!
i=0
while ! curl -sf "http://127.0.0.1:$SPORT/metrics" >"$W/metrics" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.05; i=$((i + 1))
done
kill $SPID; wait $SPID 2>/dev/null
t_check "metrics: kickfleet_power_on of kvm01" grep -qx 'kickfleet_power_on{host="kvm01"} 1' "$W/metrics"
t_check "metrics: kickfleet_power_on of kvm02" grep -qx 'kickfleet_power_on{host="kvm02"} 0' "$W/metrics"
t_check "metrics: none for kvm03 (never known)" sh -c "! grep -q 'host=\"kvm03\"' '$W/metrics'"
t_check "metrics: kickfleet_power_errors_total" grep -qx 'kickfleet_power_errors_total 1' "$W/metrics"
pw -o "$W/tree" off kvm01

# reinstall: netboot on, a one-time PXE boot, a cycle (on when off).
sql() { sqlite3 "$W/tree/state.db" "$@"; }
sql "UPDATE hosts SET state = 'installed', netboot = 0 WHERE name IN ('kvm01', 'kvm02')"
sql "UPDATE hosts SET state = 'installing' WHERE name = 'kvm03'"
pw -o "$W/tree" on kvm02
n1=$(wc -l <"$W/bmc1/boots") n2=$(wc -l <"$W/bmc2/boots")
kf reinstall -f "$F/fleet.yaml" -o "$W/tree" -t 1 kvm01 kvm02 kvm03
t_check "reinstall exits 0" test $? -eq 0
expect "reinstall powers an off host on, booting from the network" "kvm01: next boot from the network, powered on (was off)"
expect "reinstall cycles a host that is on" "kvm02: next boot from the network, power cycled"
expect "reinstall leaves a host that is installing alone" "kvm03: already installing, not cycled again (--force cycles it)"
t_check "reinstall put kvm01 and kvm02 back to new, netboot on" \
	test "$(sql "SELECT group_concat(state || netboot) FROM hosts WHERE name IN ('kvm01','kvm02') ORDER BY name")" = "new1,new1"
t_check "kvm03 stays installing" test "$(sql "SELECT state FROM hosts WHERE name = 'kvm03'")" = installing
i=0; while [ "$(wc -l <"$W/bmc2/boots")" -le "$n2" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
t_check "kvm01 started from the network" test "$(sed -n "$((n1 + 1))p" "$W/bmc1/boots")" = n
t_check "kvm02 restarted from the network" test "$(sed -n "$((n2 + 1))p" "$W/bmc2/boots")" = n
kf reinstall -f "$F/fleet.yaml" -o "$W/tree" -t 1 --force kvm03
t_check "--force: a wrong password fails the reinstall" test $? -eq 1
expect "... naming the host and why" "kvm03: IPMI authentication failed (admin@127.0.0.1:$P3)"
# --wait follows the installs: kvm01 gets installed, kvm02 never does
(sleep 2; sql "UPDATE hosts SET state = 'installed', netboot = 0 WHERE name = 'kvm01'") &
kf reinstall -f "$F/fleet.yaml" -o "$W/tree" -t 1 --wait=5 kvm01 kvm02
t_check "reinstall --wait exits 1 when one is not installed" test $? -eq 1
t_check "... with the display of status --watch" grep -q "1/2 installed" "$W/out"
t_check "... naming the one that is not" grep -qx "kvm02: not installed after 5 s (still new)" "$W/err"
t_check "... and not the other" sh -c "! grep -q kvm01 '$W/err'"
pw off kvm01 kvm02

pw -j 0 status kvm01
t_check "-j 0 is refused" test $? -eq 1
pw frobnicate kvm01
t_check "an unknown action is refused" test $? -eq 1
t_summary
