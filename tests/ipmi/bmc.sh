# Test BMCs: OpenIPMI's ipmi_sim on a UDP port, with tests/ipmi/chassis.sh
# as its chassis_control program.  Source it; the caller stops what it
# started with bmc_stop (by PID) in its EXIT trap.
#   bmc_start DIR ADDR PORT USER PASSWORD MACHINE
# MACHINE is a program run as `MACHINE n|c` on power on (n: network boot).
# BMC_RUN, when set, is put before ipmi_sim (the lab: nsenter into its
# network namespace).
BMC_CHASSIS=$(cd "$(dirname "${BMC_LIB:-$0}")" && pwd)/chassis.sh
[ -x "$BMC_CHASSIS" ] || BMC_CHASSIS=${TOP:?}/tests/ipmi/chassis.sh

bmc_start() {
	_d=$1 _addr=$2 _port=$3 _user=$4 _pw=$5 _machine=$6
	mkdir -p "$_d/state"
	ln -sf "$_machine" "$_d/machine"
	cat >"$_d/sim.emu" <<EOT
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
EOT
	cat >"$_d/lan.conf" <<EOT
name "bmc$_port"
set_working_mc 0x20
  startlan 1
    addr $_addr $_port
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789ab$(printf %04x "$_port")
  endlan
  chassis_control "$BMC_CHASSIS $_d"
user 2 true "$_user" "$_pw" admin 10 none md2 md5 straight
EOT
	chmod 600 "$_d/lan.conf"
	${BMC_RUN:-} ipmi_sim -c "$_d/lan.conf" -f "$_d/sim.emu" -s "$_d/state" -n >"$_d/sim.log" 2>&1 &
	echo $! >"$_d/sim.pid"
}

# Waits until every BMC in the directories answers on its port (up to 5 s).
bmc_wait() {
	for _d; do
		_port=$(awk '/addr/ { print $3; exit }' "$_d/lan.conf")
		_i=0
		while ! ${BMC_RUN:-} ss -Huln "sport = :$_port" | grep -q .; do
			_i=$((_i + 1))
			[ $_i -gt 50 ] && { echo "bmc: no ipmi_sim on port $_port" >&2; return 1; }
			sleep 0.1
		done
	done
}

bmc_stop() {
	for _d; do
		[ -s "$_d/sim.pid" ] && kill "$(cat "$_d/sim.pid")" 2>/dev/null
		[ -s "$_d/machine.pid" ] && kill -9 "$(cat "$_d/machine.pid")" 2>/dev/null
		rm -f "$_d/sim.pid" "$_d/machine.pid"
	done
	return 0
}
