#!/bin/sh
# tests/vm/selftest.sh — proves the VM runner gives a test what it needs.
#   sh tests/vm/selftest.sh      (root; downloads the kernel once, see kernel.sh)
# Boots one VM (2 vCPUs, 2 NUMA nodes, 1G, two extra NICs, a 9p share) and
# checks from inside: NUMA nodes, per-node 2M hugepages, 1G page size, KSM,
# THP, a bond of two dummies, a VLAN on it, a bridge over that, macvtap, the
# extra NICs, and a file written to the share. Then checks run.sh's exit
# codes: the script's own code, 124 on timeout, 125 when the kernel panics.
# The guest prints "KF-CHECK ok|fail NAME [detail]" lines that become t_ok /
# t_fail here.
TOP=$(cd "$(dirname "$0")/../.." && pwd)
T_SUITE=vm-selftest
. "$TOP/tests/lib.sh"
t_need_root

VM=$TOP/tests/vm
work=$(mktemp -d /tmp/kf-vm-selftest.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/share"
chmod 777 "$work/share"
t0=$(date +%s)

cat >"$work/guest.sh" <<'EOF'
ok() { echo "KF-CHECK ok $*"; }
no() { echo "KF-CHECK fail $*"; }
chk() { n=$1; shift; if "$@" >/tmp/chk.out 2>&1; then ok "$n"; else no "$n $(head -c 300 /tmp/chk.out | tr '\n' ' ')"; fi; }

# NUMA
nodes=$(ls -d /sys/devices/system/node/node[0-9]* | wc -l)
[ "$nodes" = 2 ] && ok "two NUMA nodes" || no "two NUMA nodes (saw $nodes)"
# per-node 2M hugepages: set and read back
h=hugepages/hugepages-2048kB/nr_hugepages
echo 4 >/sys/devices/system/node/node0/$h
echo 3 >/sys/devices/system/node/node1/$h
a=$(cat /sys/devices/system/node/node0/$h) b=$(cat /sys/devices/system/node/node1/$h)
tot=$(sed -n 's/^HugePages_Total: *//p' /proc/meminfo)
[ "$a/$b/$tot" = 4/3/7 ] && ok "per-node 2M hugepages" || no "per-node 2M hugepages (node0=$a node1=$b total=$tot)"
chk "1G hugepage size offered" test -d /sys/kernel/mm/hugepages/hugepages-1048576kB
chk "hugetlbfs mounted" grep -q ' /dev/hugepages hugetlbfs' /proc/mounts
# KSM, THP
chk "KSM files" test -w /sys/kernel/mm/ksm/run -a -r /sys/kernel/mm/ksm/pages_shared
echo 1 >/sys/kernel/mm/ksm/run
chk "KSM run=1" grep -qx 1 /sys/kernel/mm/ksm/run
chk "THP files" test -w /sys/kernel/mm/transparent_hugepage/enabled -a -w /sys/kernel/mm/transparent_hugepage/defrag
echo madvise >/sys/kernel/mm/transparent_hugepage/enabled
chk "THP set madvise" grep -q '\[madvise\]' /sys/kernel/mm/transparent_hugepage/enabled
# network devices, with the real ip from iproute2
chk "ip is iproute2" sh -c 'ip -V | grep -q iproute2'
chk "bond with two dummy slaves" sh -c '
	ip link add bond0 type bond mode active-backup miimon 100 &&
	ip link add d0 type dummy && ip link add d1 type dummy &&
	ip link set d0 master bond0 && ip link set d1 master bond0 &&
	ip link set bond0 up &&
	grep -q "Slave Interface: d0" /proc/net/bonding/bond0 &&
	grep -q "Slave Interface: d1" /proc/net/bonding/bond0'
chk "bonding_masters lists bond0" grep -qw bond0 /sys/class/net/bonding_masters
chk "VLAN 100 on the bond" sh -c '
	ip link add link bond0 name bond0.100 type vlan id 100 &&
	grep -q "VID: 100" /proc/net/vlan/bond0.100'
chk "bridge over the VLAN" sh -c '
	ip link add br0 type bridge && ip link set bond0.100 master br0 &&
	ip link set br0 up && test -e /sys/class/net/br0/brif/bond0.100'
chk "macvtap on a dummy" sh -c '
	ip link add d2 type dummy && ip link add link d2 name mvt0 type macvtap mode bridge &&
	ip link set mvt0 up && test -c /dev/tap$(cat /sys/class/net/mvt0/ifindex)'
chk "veth pair" sh -c 'ip link add v0 type veth peer name v1 && test -e /sys/class/net/v1'
nics=$(ls -d /sys/class/net/eth* 2>/dev/null | wc -l)
[ "$nics" = 2 ] && ok "two virtio NICs" || no "two virtio NICs (saw $nics)"
# the share
if [ -n "${KF_SHARE:-}" ]; then
	echo "written in the VM by $(uname -r)" >"$KF_SHARE/result.txt" && ok "share writable" || no "share writable"
	[ "$(cat "$KF_SHARE/input.txt" 2>/dev/null)" = from-host ] && ok "share readable" || no "share readable"
else
	no "share mounted"
fi
echo "KF-CHECK done"
EOF
echo from-host >"$work/share/input.txt"

# --- the main VM ---
"$VM/run.sh" --script "$work/guest.sh" --bin /usr/sbin/ip \
	--module bonding --module 8021q --module dummy --module bridge \
	--module macvtap --module veth \
	--nic hub=1 --nic hub=1 --share "$work/share" \
	>"$work/out" 2>"$work/err"
rc=$?
cat "$work/err" | grep '^vm: ' | sed 's/^/# /'
[ "$rc" = 0 ] && t_ok "VM ran the script (exit 0)" || { t_fail "VM ran the script (exit $rc)"; cat "$work/err"; }
while read -r tag st rest; do
	[ "$tag" = KF-CHECK ] || continue
	case $st in ok) t_ok "$rest" ;; fail) t_fail "$rest" ;; esac
done <"$work/out"
grep -qx 'KF-CHECK done' "$work/out" && t_ok "guest checks ran to the end" || t_fail "guest checks ran to the end"
case $(cat "$work/share/result.txt" 2>/dev/null) in
"written in the VM by "*) t_ok "file written in the VM is on the host" ;;
*) t_fail "file written in the VM is on the host" ;;
esac

# --- run.sh exit codes: small machines, each a few seconds ---
printf 'echo before-exit\nexit 7\n' >"$work/exit7.sh"
"$VM/run.sh" --script "$work/exit7.sh" --smp 1 --numa 0 --mem 256M >/dev/null 2>"$work/err7"
rc=$?
if [ "$rc" = 7 ] && grep -q before-exit "$work/err7"; then t_ok "script exit code 7 passed through, log shown"; else t_fail "script exit code 7 passed through (got $rc)"; fi

printf 'sleep 600\n' >"$work/sleep.sh"
"$VM/run.sh" --script "$work/sleep.sh" --smp 1 --numa 0 --mem 256M --timeout 4 >/dev/null 2>"$work/errt"
rc=$?
[ "$rc" = 124 ] && t_ok "timeout gives 124" || t_fail "timeout gives 124 (got $rc)"

"$VM/run.sh" --script "$work/exit7.sh" --smp 1 --numa 0 --mem 256M --append "rdinit=/nonexistent" --timeout 60 >/dev/null 2>"$work/errp"
rc=$?
if [ "$rc" = 125 ] && grep -q 'Kernel panic' "$work/errp"; then t_ok "panic gives 125 with the serial log"; else t_fail "panic gives 125 (got $rc)"; fi

echo "# selftest took $(( $(date +%s) - t0 ))s"
t_summary
