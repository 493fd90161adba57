#!/bin/sh
# The Open vSwitch backend (network.bridges with backend: ovs) against a
# real ovsdb-server and ovs-vswitchd that this suite starts in a network
# namespace of its own, with the userspace datapath (netdev), their
# sockets, database and logs under the agent's test root (R/run/openvswitch
# is where the agent looks), and stops by PID: a bridge with a NIC port,
# an LACP bond and a VLAN-tagged internal port, its address, the networkd
# file, drift found and fixed, dropped ports and bridges removed, the
# rollback window, and a profile naming an OVS bridge on a host without
# OVS.  Needs root, jq, openvswitch-switch (scripts/deps.sh check).
. "$(dirname "$0")/../lib.sh"
t_need_root
cd "$TOP" || exit 1
AGENT=${KF_AGENT:-$TOP/build/kickfleet-agent}
P=tests/data/net/ovs/profile.yaml
NS=kfovs$$
PROV=kfovsp$$
work=$(mktemp -d /tmp/kf-ovs.XXXXXX)
run=$work/root/run/openvswitch
cleanup() {
	for p in "$run/ovs-vswitchd.pid" "$run/ovsdb-server.pid"; do
		[ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	sleep 0.2
	ip netns del "$NS" 2>/dev/null
	ip netns del "$PROV" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ -x "$AGENT" ] || { t_fail "$AGENT not built"; t_summary; exit 1; }
for c in ovsdb-server ovs-vswitchd ovsdb-tool ovs-vsctl jq; do
	command -v $c >/dev/null || { t_fail "$c missing (scripts/deps.sh check)"; t_summary; exit 1; }
done

in_ns() { ip netns exec "$NS" "$@"; }
vsctl() { in_ns ovs-vsctl --db="unix:$run/db.sock" --timeout=10 "$@"; }
agent() { # MODE PROFILE [ROOT]
	in_ns "$AGENT" "$1" --profile "$2" --root "${3:-$work/root}" >"$work/out" 2>"$work/err"
}
rc() { # NAME WANT GOT
	if [ "$2" = "$3" ]; then t_ok "$1 exits $2"; else
		t_fail "$1 exits $3, wanted $2"; head -30 "$work/out" "$work/err"; fi
}
eq() { if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1: got \"$3\", wanted \"$2\""; fi; }
addr() { in_ns ip -j addr show dev "$1" 2>/dev/null | jq -r '[.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"] | join(",")'; }

ip netns add "$NS" || { t_fail "ip netns add"; t_summary; exit 1; }
in_ns ip link set lo up
for i in 1 2 3 4; do
	in_ns ip link add name nic$i type veth peer name peer$i || t_fail "veth nic$i"
	in_ns ip link set peer$i up
done
mkdir -p "$run" "$work/root/etc/systemd/network"
ln -s /sys "$work/root/sys"
ln -s /proc "$work/root/proc"
ovsdb-tool create "$run/conf.db" /usr/share/openvswitch/vswitch.ovsschema || t_fail "ovsdb-tool create"
in_ns ovsdb-server "$run/conf.db" --remote="punix:$run/db.sock" --pidfile="$run/ovsdb-server.pid" \
	--unixctl="$run/ovsdb-server.ctl" --log-file="$run/ovsdb-server.log" --detach --no-chdir 2>>"$work/daemons.err" ||
	{ t_fail "ovsdb-server"; t_summary; exit 1; }
vsctl --no-wait init
OVS_RUNDIR=$run in_ns ovs-vswitchd "unix:$run/db.sock" --pidfile="$run/ovs-vswitchd.pid" \
	--unixctl="$run/ovs-vswitchd.ctl" --log-file="$run/ovs-vswitchd.log" --detach --no-chdir 2>>"$work/daemons.err" ||
	{ t_fail "ovs-vswitchd"; t_summary; exit 1; }
t_ok "ovsdb-server and ovs-vswitchd started"

# ---- bridge, LACP bond, tagged internal port, address ----
agent plan "$P"; rc "plan" 2 $?
eq "plan touches nothing" "" "$(vsctl list-br)"
agent apply "$P"; rc "apply" 2 $?
eq "bridge made" kfovs0 "$(vsctl list-br)"
eq "userspace datapath" netdev "$(vsctl get bridge kfovs0 datapath_type)"
eq "ports" "kfbond0 kfv100 nic1" "$(vsctl list-ports kfovs0 | sort | tr '\n' ' ' | sed 's/ $//')"
eq "bond members" "nic2 nic3" "$(vsctl list-ifaces kfovs0 | grep -v 'kf\|nic1' | sort | tr '\n' ' ' | sed 's/ $//')"
eq "bond mode balance-tcp" balance-tcp "$(vsctl get port kfbond0 bond_mode)"
eq "bond lacp active" active "$(vsctl get port kfbond0 lacp)"
eq "bond lacp fast" fast "$(vsctl get port kfbond0 other_config:lacp-time | tr -d '"')"
eq "vlan tag" 100 "$(vsctl get port kfv100 tag)"
eq "vlan internal port" internal "$(vsctl get interface kfv100 type)"
eq "bridge address" 10.79.0.1/24 "$(addr kfovs0)"
eq "bridge link up" UP "$(in_ns ip -j link show kfovs0 | jq -r '.[0].flags | map(select(. == "UP")) | .[0]')"
grep -q '^dev kfovs0 ovs$' "$work/root/var/lib/kickfleet-agent/network.state" &&
	t_ok "bridge recorded as the agent's" || t_fail "bridge recorded as the agent's"
nd=$work/root/etc/systemd/network
grep -q '^Address=10.79.0.1/24$' "$nd/50-kickfleet-kfovs0.network" 2>/dev/null &&
	t_ok "networkd keeps the bridge's address" || t_fail "networkd keeps the bridge's address"
[ ! -e "$nd/50-kickfleet-kfovs0.netdev" ] && [ ! -e "$nd/50-kickfleet-kfbond0.netdev" ] &&
	[ ! -e "$nd/50-kickfleet-kfv100.netdev" ] && t_ok "no netdev files: ovsdb keeps the switch" ||
	t_fail "no netdev files: ovsdb keeps the switch"
grep -q '^Bond=\|^Bridge=' "$nd"/*.network && t_fail "no Bond=/Bridge= for OVS ports" ||
	t_ok "no Bond=/Bridge= for OVS ports"
agent apply "$P"; rc "second apply" 0 $?
agent check "$P"; rc "check after apply" 0 $?

# ---- drift found and fixed ----
drift() { # NAME COMMAND WHAT
	sh -c "$2"
	agent check "$P"; rc "drift $1: check" 2 $?
	grep -q "$3" "$work/out" && t_ok "drift $1 named" || { t_fail "drift $1 named ($3)"; cat "$work/out"; }
	agent apply "$P"; rc "drift $1: apply" 2 $?
	agent check "$P"; rc "drift $1: check after" 0 $?
}
V="ip netns exec $NS ovs-vsctl --db=unix:$run/db.sock"
drift "tag changed" "$V set port kfv100 tag=200" "kfovs0 port kfv100 .*internal tag 200 → internal tag 100"
drift "port removed" "$V del-port kfovs0 nic1" "nic1 master .*none → kfovs0"
drift "bond mode" "$V set port kfbond0 bond_mode=balance-slb lacp=passive" "kfovs0 port kfbond0"
drift "stp" "$V set bridge kfovs0 stp_enable=true" "kfovs0 stp"
eq "tag back" 100 "$(vsctl get port kfv100 tag)"
eq "bond mode back" balance-tcp "$(vsctl get port kfbond0 bond_mode)"

# ---- dropped port, dropped bridge ----
sed '/^  vlans:/,$d' "$P" >"$work/novlan.yaml"
agent apply "$work/novlan.yaml"; rc "apply without the vlan" 2 $?
eq "vlan port removed" "kfbond0 nic1" "$(vsctl list-ports kfovs0 | sort | tr '\n' ' ' | sed 's/ $//')"
printf 'role: x\nnetwork:\n  persist: networkd\n' >"$work/empty.yaml"
agent apply "$work/empty.yaml"; rc "apply without the bridge" 2 $?
eq "bridge deleted" "" "$(vsctl list-br)"
[ ! -e "$nd/50-kickfleet-kfovs0.network" ] && t_ok "its networkd file removed" || t_fail "its networkd file removed"

# ---- a host without Open vSwitch: a clear error, nothing touched ----
mkdir -p "$work/bare/etc" && ln -s /sys "$work/bare/sys" && ln -s /proc "$work/bare/proc"
agent apply "$P" "$work/bare"; rc "apply on a host without OVS" 1 $?
grep -q "profile.yaml:12:.*bridge kfovs0: backend ovs, but Open vSwitch is not running on this host" "$work/err" &&
	t_ok "error names the profile line" || { t_fail "error names the profile line"; cat "$work/err"; }
eq "nothing created without OVS" "" "$(in_ns ip -j link show kfovs0 2>/dev/null)$(ls "$work/bare/etc")"

# ---- rollback: a move onto an OVS bridge that cuts the provisioner off ----
ip netns add "$PROV"
ip link add name upl netns "$NS" type veth peer name pv netns "$PROV"
ip -n "$PROV" link set lo up; ip -n "$PROV" link set pv up
ip -n "$PROV" addr add 10.77.0.1/24 dev pv
in_ns ip link set upl up
in_ns ip addr add 10.77.0.2/24 dev upl
in_ns ip route add default via 10.77.0.1 dev upl
cat >"$work/bad-move.yaml" <<'EOF'
role: x
network:
  persist: none
  rollback: {target: 10.77.0.1, timeout: 2}
  bridges:
    - name: kfup0
      backend: ovs
      datapath: netdev
      ports: [upl]
      addresses: [10.78.0.2/24]
EOF
agent apply "$work/bad-move.yaml"; got=$?
case $got in 4|6) t_ok "apply that cuts the provisioner off fails ($got)" ;;
	*) t_fail "apply that cuts the provisioner off exits $got, wanted 4 or 6"; cat "$work/out" ;; esac
grep -q "unreachable for 2s after the change; previous links restored" "$work/out" &&
	t_ok "rollback reported" || { t_fail "rollback reported"; cat "$work/out"; }
eq "bridge of the run removed from ovsdb" "" "$(vsctl list-br)"
eq "upl has its address back" 10.77.0.2/24 "$(addr upl)"
eq "default route back on upl" upl "$(in_ns ip -j route show default | jq -r '.[0].dev')"
in_ns busybox ping -c1 -W2 10.77.0.1 >/dev/null && t_ok "provisioner reachable after rollback" ||
	t_fail "provisioner reachable after rollback"
sed 's#10.78.0.2/24#10.77.0.2/24#' "$work/bad-move.yaml" >"$work/good-move.yaml"
agent apply "$work/good-move.yaml"; rc "move of the address onto the OVS bridge" 2 $?
eq "address on the OVS bridge" 10.77.0.2/24 "$(addr kfup0)"
in_ns busybox ping -c1 -W2 10.77.0.1 >/dev/null && t_ok "provisioner reachable through the OVS bridge" ||
	t_fail "provisioner reachable through the OVS bridge"

t_summary
