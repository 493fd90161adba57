#!/bin/sh
# bench/guests.sh — `kickfleet-agent check` of a profile with 8 tuned guests
# against a real libvirtd (private, tests/libvirt/libvirtd.sh), steady
# state (applied first), 8 guests running (TCG, no OS): median and min wall
# time over N runs, target < 100 ms.  Side by side, the same reads done by
# one virsh process (dumpxml --inactive, vcpucount, vcpupin, emulatorpin,
# memtune, numatune, dominfo per guest, on one connection); prints both
# and the ratio.
#   KF_BENCH_RUNS (default 21)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/libvirt/libvirtd.sh"
agent=${KF_AGENT:-$TOP/build/kickfleet-agent}
[ -x "$agent" ] || { echo "guests: build $agent first (make)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "guests: needs root (a private libvirtd)" >&2; exit 1; }
runs=${KF_BENCH_RUNS:-21}
work=$(mktemp -d /tmp/kf-bench-guests.XXXXXX)
cleanup() { kf_libvirtd_stop; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
kf_libvirtd_start || exit 1
V() { virsh -q -c "$KF_LV_URI" "$@"; }
kf_lv_nsexec ip link add kfbr0 type bridge && kf_lv_nsexec ip link set kfbr0 up

p=$work/profile.yaml
echo "guests:" >"$p"
for i in 1 2 3 4 5 6 7 8; do
	cat >"$work/g$i.xml" <<EOT
<domain type='qemu'><name>kfb$i</name><memory unit='MiB'>64</memory><vcpu>2</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
<devices><interface type='bridge'><source bridge='kfbr0'/><model type='virtio'/></interface>
<memballoon model='virtio'/></devices></domain>
EOT
	V define "$work/g$i.xml" >/dev/null && V start "kfb$i" >/dev/null || { echo "guests: cannot start kfb$i" >&2; exit 1; }
	cat >>"$p" <<EOT
  - name: kfb$i
    vcpus: 2
    cpu_mode: host-model
    pinning: {vcpus: {0: 0, 1: 1}, emulator: 0-1}
    numatune: {mode: strict, nodes: 0}
    memory: {size: 64M, balloon: virtio, stats_period: 10}
    memtune: {hard_limit: 512M, soft_limit: 256M}
    memory_backing: {nosharepages: true}
    interfaces: [{type: bridge, source: kfbr0, model: virtio, mac: "52:54:00:b0:00:0$i"}]
EOT
done
printf 'libvirt: {uri: "%s"}\n' "$KF_LV_URI" >>"$p"
"$agent" apply --profile "$p" >"$work/apply.out" 2>&1
"$agent" check --profile "$p" >"$work/check.out" 2>&1 || { echo "guests: not in steady state after apply:" >&2; cat "$work/apply.out" "$work/check.out" >&2; exit 1; }

cmds=
for i in 1 2 3 4 5 6 7 8; do
	cmds="$cmds dumpxml --inactive kfb$i; vcpucount kfb$i --live; vcpupin kfb$i --live; emulatorpin kfb$i --live; memtune kfb$i --live; numatune kfb$i --live; dominfo kfb$i;"
done

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$work/a" ; : >"$work/b"
n=0
while [ $n -lt "$runs" ]; do
	t0=$(now); "$agent" check --profile "$p" >/dev/null 2>&1; rc=$?; t1=$(now)
	[ $rc -eq 0 ] || { echo "guests: check exit $rc" >&2; exit 1; }
	echo $(( (t1 - t0) / 1000 )) >>"$work/a"
	t0=$(now); virsh -q -c "$KF_LV_URI" "$cmds" >/dev/null 2>&1; t1=$(now)
	echo $(( (t1 - t0) / 1000 )) >>"$work/b"
	n=$((n + 1))
done
ma=$(median <"$work/a"); mb=$(median <"$work/b")
mina=$(sort -n "$work/a" | head -1)
printf 'agent check, 8 running guests: median %d.%03d ms (min %d.%03d ms) over %d runs, target < 100 ms: %s\n' \
	$((ma / 1000)) $((ma % 1000)) $((mina / 1000)) $((mina % 1000)) "$runs" "$([ "$ma" -lt 100000 ] && echo met || echo MISSED)"
printf 'virsh, the same reads on one connection: median %d.%03d ms\n' $((mb / 1000)) $((mb % 1000))
awk -v a="$ma" -v b="$mb" 'BEGIN { printf "ratio agent / virsh: %.2f\n", a / b }'
[ "$ma" -lt 100000 ]
