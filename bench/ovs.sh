#!/bin/sh
# bench/ovs.sh — `kickfleet-agent check` of a host profile with an Open
# vSwitch bridge (userspace datapath), an LACP bond, a tagged internal
# port and 8 VFs asked of a NIC, beside the same profile on the Linux
# bridge backend, in the same run: each in a network namespace of its own
# with veth NICs; the OVS one with ovsdb-server and ovs-vswitchd started
# here (as tests/suites/36-ovs.sh does) and stopped by PID.  Both after
# apply.  The build machine's kernel has no bonding, 8021q or SR-IOV: on
# the Linux backend check plans the bond and the VLAN, and on both the VFs
# are probed (the veth has no sriov_numvfs) and noted, never made.
# Median wall time over N runs (hyperfine), ratio OVS / Linux.  Needs root,
# hyperfine and openvswitch-switch.
#   KF_BENCH_RUNS (default 30)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
agent=${KF_AGENT:-$TOP/build/kickfleet-agent}
[ -x "$agent" ] || { echo "ovs: build $agent first (make)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "ovs: needs root (network namespaces)"; exit 0; }
for c in hyperfine ovsdb-server ovs-vswitchd ovsdb-tool ovs-vsctl; do
	command -v $c >/dev/null || { echo "ovs: $c missing (scripts/deps.sh bench)" >&2; exit 1; }
done
runs=${KF_BENCH_RUNS:-30}
NO=kfbovs$$ NL=kfblnx$$
work=$(mktemp -d /tmp/kf-bench-ovs.XXXXXX)
run=$work/ovs/run/openvswitch
cleanup() {
	for p in "$run/ovs-vswitchd.pid" "$run/ovsdb-server.pid"; do
		[ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	sleep 0.2
	ip netns del "$NO" 2>/dev/null
	ip netns del "$NL" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
PO=tests/data/net/bench-ovs/ovs.yaml
PL=tests/data/net/bench-ovs/linux.yaml
for ns in $NO $NL; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	for i in 1 2 3 4; do
		ip -n "$ns" link add name nic$i type veth peer name peer$i
		ip -n "$ns" link set peer$i up
	done
done
for r in ovs linux; do
	mkdir -p "$work/$r/etc/systemd/network"
	ln -s /sys "$work/$r/sys"
	ln -s /proc "$work/$r/proc"
done
mkdir -p "$run"
ovsdb-tool create "$run/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ip netns exec "$NO" ovsdb-server "$run/conf.db" --remote="punix:$run/db.sock" --pidfile="$run/ovsdb-server.pid" \
	--unixctl="$run/ovsdb-server.ctl" --log-file="$run/ovsdb-server.log" --detach --no-chdir 2>>"$work/daemons.err"
ip netns exec "$NO" ovs-vsctl --db="unix:$run/db.sock" --timeout=10 --no-wait init
OVS_RUNDIR=$run ip netns exec "$NO" ovs-vswitchd "unix:$run/db.sock" --pidfile="$run/ovs-vswitchd.pid" \
	--unixctl="$run/ovs-vswitchd.ctl" --log-file="$run/ovs-vswitchd.log" --detach --no-chdir 2>>"$work/daemons.err"

ip netns exec "$NO" "$agent" apply --profile "$PO" --root "$work/ovs" >"$work/apply-ovs.out" 2>&1 || [ $? = 2 ] ||
	{ cat "$work/apply-ovs.out"; exit 1; }
ip netns exec "$NO" "$agent" check --profile "$PO" --root "$work/ovs" >"$work/check-ovs.out" 2>&1 ||
	{ echo "ovs: not in steady state after apply" >&2; cat "$work/check-ovs.out"; exit 1; }
# no bonding or 8021q here: apply makes the bridge, fails the bond and VLAN
ip netns exec "$NL" "$agent" apply --profile "$PL" --root "$work/linux" >"$work/apply-linux.out" 2>&1 || true
ip netns exec "$NO" hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/o.json" \
	"$agent check --profile $PO --root $work/ovs" >/dev/null 2>&1
ip netns exec "$NL" hyperfine -N -i --warmup 3 --runs "$runs" --export-json "$work/l.json" \
	"$agent check --profile $PL --root $work/linux" >/dev/null 2>&1
ip netns exec "$NL" "$agent" check --profile "$PL" --root "$work/linux" >"$work/check-linux.out" 2>&1 || true
for r in ovs linux; do
	printf '  %s check says: %s\n' "$r" "$(grep -E '^(check:|note: sriov)' "$work/check-$r.out" | tr '\n' ' ')"
done
python3 - "$work/o.json" "$work/l.json" "$runs" <<'PY'
import json, sys
o, l = (json.load(open(f))["results"][0] for f in sys.argv[1:3])
mo, ml = o["median"] * 1e3, l["median"] * 1e3
print("ovs: check of bridge + LACP bond + VLAN port + 8 VFs, median of %s runs" % sys.argv[3])
print("  Open vSwitch backend (steady state, OVSDB)     %7.2f ms  (min %.2f)" % (mo, o["min"] * 1e3))
print("  Linux bridge backend (bond, VLAN planned)      %7.2f ms  (min %.2f)" % (ml, l["min"] * 1e3))
print("  ratio OVS / Linux bridge                       %7.2fx" % (mo / ml))
PY
