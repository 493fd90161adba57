#!/bin/sh
# The agent on a real kernel: boots a Debian kernel in QEMU (tests/vm/run.sh:
# TCG, 3 vCPUs, 2 NUMA nodes) with build/kickfleet-agent in the initramfs,
# applies a full host profile (per-node 2M hugepages, KSM, THP, NUMA
# balancing, CPU online) on the VM's own /sys and /proc (root "/": NUMA from
# libnuma), checks the result with the kernel's files, runs again (nothing
# to do), makes a drift, expects check to exit 2 and apply to fix it.
# The same boot proves an IRQ the kernel refuses (the timer: skipped once,
# then a note, no drift), NIC channel counts on the virtio NIC (applied,
# drift found and fixed) and `kickfleet-agent facts --json` against what the VM
# was given: 2 nodes, their hugepages, KSM with merged pages (a helper maps
# identical MADV_MERGEABLE pages), a virtio NIC with 4 queue pairs (on a
# multi-queue tap in a namespace the suite makes) and a disk with a serial.
# Needs root (QEMU, the kernel cache); the build machine's own /sys is never
# touched.
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/lib.sh"
t_need_root
agent=$TOP/build/kickfleet-agent
[ -x "$agent" ] || { t_fail "build/kickfleet-agent not built"; t_summary; exit 1; }
[ -x "$TOP/tests/vm/run.sh" ] || { t_skip "tests/vm/run.sh missing"; t_summary; exit 0; }
work=$(mktemp -d /tmp/kf-vm-agent.XXXXXX)
ns=kf-vmagent-$$
cleanup() { ip netns del "$ns" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/share"
cc -static -O2 -o "$work/ksmfill" "$TOP/tests/vm/ksmfill.c" || t_fail "tests/vm/ksmfill.c builds (static)"
truncate -s 64M "$work/disk.img"
ip netns add "$ns" && ip -n "$ns" tuntap add dev kftap0 mode tap multi_queue || t_fail "multi-queue tap in $ns"

cat >"$work/profile.yaml" <<'EOF'
role: vm-test
memory:
  hugepages:
    - size: 2M
      per_node: {0: 8, 1: 4}
  transparent_hugepages: {enabled: never, defrag: defer}
  ksm: {enabled: true, pages_to_scan: 500, sleep_millisecs: 30, merge_across_nodes: false}
  numa_balancing: false
cpu:
  online: 0-1
EOF

cat >"$work/guest.sh" <<'EOF'
ok() { echo "KF-CHECK ok $*"; }
no() { echo "KF-CHECK fail $*"; }
is() { n=$1 want=$2 f=$3; got=$(cat "$f" 2>&1); [ "$got" = "$want" ] && ok "$n" || no "$n ($f: $got, wanted $want)"; }
run() { want=$1; shift; kickfleet-agent "$@" --profile /profile.yaml >/tmp/out 2>&1; rc=$?
	sed 's/^/  | /' /tmp/out; [ $rc = $want ] && ok "$* exits $want" || no "$* exits $rc, wanted $want"; }
# the kernel's starting point differs from the profile in every part
echo 2 >/sys/kernel/mm/ksm/run 2>/dev/null; echo 1 >/sys/kernel/mm/ksm/merge_across_nodes
echo 1 >/proc/sys/kernel/numa_balancing
echo 1 >/sys/devices/system/cpu/cpu2/online
N=/sys/devices/system/node
H=hugepages/hugepages-2048kB/nr_hugepages
run 2 plan
run 2 apply
is "node0 2M pages" 8 $N/node0/$H
is "node1 2M pages" 4 $N/node1/$H
grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled && ok "THP enabled never" || no "THP enabled: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
grep -q '\[defer\]' /sys/kernel/mm/transparent_hugepage/defrag && ok "THP defrag defer" || no "THP defrag: $(cat /sys/kernel/mm/transparent_hugepage/defrag)"
is "KSM run" 1 /sys/kernel/mm/ksm/run
is "KSM pages_to_scan" 500 /sys/kernel/mm/ksm/pages_to_scan
is "KSM sleep_millisecs" 30 /sys/kernel/mm/ksm/sleep_millisecs
is "KSM merge_across_nodes" 0 /sys/kernel/mm/ksm/merge_across_nodes
is "numa_balancing" 0 /proc/sys/kernel/numa_balancing
grep -q 'kernel.numa_balancing = 0' /etc/sysctl.d/90-kickfleet-numa-balancing.conf && ok "sysctl.d file" || no "sysctl.d file"
is "cpu2 offline" 0 /sys/devices/system/cpu/cpu2/online
is "online CPUs" 0-1 /sys/devices/system/cpu/online
run 0 apply
run 0 check
# facts, with KSM merging the helper's identical pages
/bin/ksmfill 16 &
i=0; while [ "$(cat /sys/kernel/mm/ksm/pages_sharing)" -lt 1000 ] && [ $i -lt 120 ]; do sleep 0.5; i=$((i + 1)); done
kickfleet-agent facts --json >$KF_SHARE/facts.json 2>$KF_SHARE/facts.err && ok "facts --json exits 0" || no "facts --json"
cat /sys/kernel/mm/ksm/pages_sharing >$KF_SHARE/pages_sharing
cat /sys/devices/system/node/node0/cpulist /sys/devices/system/node/node1/cpulist >$KF_SHARE/nodecpus
kill %1
# drift
echo 1 >$N/node1/$H
echo always >/sys/kernel/mm/transparent_hugepage/enabled
echo 1 >/sys/devices/system/cpu/cpu2/online
echo 100 >/sys/kernel/mm/ksm/pages_to_scan
run 2 check
run 2 apply
run 0 check
is "node1 2M pages after repair" 4 $N/node1/$H
is "cpu2 offline after repair" 0 /sys/devices/system/cpu/cpu2/online
# a shortfall is a failure with the numbers (exit 4): ask for pages worth
# 97% of node 1's memory, which fits the node but which the kernel cannot
# give while the system uses some of it
total_kb=$(sed -n 's/.*MemTotal: *\([0-9]*\) kB/\1/p' $N/node1/meminfo)
big=$((total_kb * 97 / 100 / 2048))
huge=$((total_kb / 2048 + 20))
printf 'memory:\n  hugepages:\n    - size: 2M\n      per_node: {1: %d}\n' $big >/big.yaml
kickfleet-agent apply --profile /big.yaml >/tmp/out 2>&1; rc=$?
sed 's/^/  | /' /tmp/out
[ $rc = 4 ] && grep -q "asked for $big 2M pages on node 1, kernel granted" /tmp/out \
	&& ok "hugepage shortfall: exit 4 with the numbers" || no "hugepage shortfall: exit $rc"
# more than the node's memory is a profile error (exit 1), nothing touched
before=$(cat $N/node1/$H)
printf 'memory:\n  hugepages:\n    - size: 2M\n      per_node: {1: %d}\n' $huge >/huge.yaml
kickfleet-agent apply --profile /huge.yaml >/tmp/out 2>&1; rc=$?
sed 's/^/  | /' /tmp/out
[ $rc = 1 ] && grep -q 'node 1 has' /tmp/out && [ "$(cat $N/node1/$H)" = "$before" ] \
	&& ok "request larger than node 1 refused (exit 1, untouched)" || no "request larger than node 1: exit $rc"
# an IRQ the kernel will not move (the timer, IRQF_NOBALANCING): apply
# skips it once as refused by the kernel, later runs note it, no drift
tirq=$(sed -n 's/^ *\([0-9][0-9]*\):.* timer$/\1/p' /proc/interrupts | head -1)
if [ -n "$tirq" ]; then
	cur=$(cat /proc/irq/$tirq/smp_affinity_list)
	[ "$cur" = 1 ] && to=0 || to=1
	printf 'cpu:\n  irq_affinity:\n    - {irq: %s, cpus: "%s"}\n' "$tirq" "$to" >/irq.yaml
	kickfleet-agent check --profile /irq.yaml >/tmp/out 2>&1; rc=$?
	[ $rc = 2 ] && ok "timer irq $tirq: check plans the move ($cur -> $to)" || no "timer irq $tirq: check exit $rc"
	kickfleet-agent apply --profile /irq.yaml >/tmp/out 2>&1; rc=$?
	sed 's/^/  | /' /tmp/out
	[ $rc = 0 ] && grep -q "skipped" /tmp/out && grep -q "refused by the kernel" /tmp/out \
		&& ok "timer irq $tirq: apply skips it, refused by the kernel (exit 0)" || no "timer irq $tirq: apply exit $rc"
	kickfleet-agent check --profile /irq.yaml >/tmp/out 2>&1; rc=$?
	sed 's/^/  | /' /tmp/out
	[ $rc = 0 ] && grep -q "note: irq_affinity: irq $tirq: refused by the kernel" /tmp/out \
		&& ok "timer irq $tirq: next check notes the refusal, no drift (exit 0)" || no "timer irq $tirq: next check exit $rc"
	[ "$(cat /proc/irq/$tirq/smp_affinity_list)" = "$cur" ] && ok "timer irq $tirq: affinity untouched" ||
		no "timer irq $tirq: affinity changed"
else
	no "no timer IRQ in /proc/interrupts"
fi
# NIC channels (ethtool -L) on the virtio NIC's 4 queue pairs: applied,
# a second run plans nothing, drift (another count) found and fixed
nic=
for d in /sys/class/net/*; do [ "$(cat $d/address)" = 52:54:00:fa:c7:01 ] && nic=${d##*/}; done
rxq() { ls -d /sys/class/net/$nic/queues/rx-* | wc -l; }
prun() { want=$1 mode=$2 f=$3; kickfleet-agent $mode --profile $f >/tmp/out 2>&1; rc=$?
	sed 's/^/  | /' /tmp/out; [ $rc = $want ] && ok "channels: $mode $f exits $want" || no "channels: $mode $f exits $rc, wanted $want"; }
for n in 2 3; do
	printf 'network:\n  queues:\n    - {device: "52:54:00:fa:c7:01", combined: %s}\n' $n >/q$n.yaml
done
prun 2 check /q2.yaml
prun 2 apply /q2.yaml
n=$(rxq); [ "$n" = 2 ] && ok "channels: $nic has 2 rx queues" || no "channels: $nic has $n rx queues, wanted 2" 
prun 0 check /q2.yaml
prun 2 apply /q3.yaml
prun 2 check /q2.yaml
grep -q "$nic channels .*combined 3 .*combined 2" /tmp/out && ok "channels: drift 3 -> 2 named" || no "channels: drift not named"
prun 2 apply /q2.yaml
prun 0 check /q2.yaml
n=$(rxq); [ "$n" = 2 ] && ok "channels: back to 2 rx queues" || no "channels: $n rx queues after repair, wanted 2" 
echo "KF-CHECK done"
EOF

ip netns exec "$ns" "$TOP/tests/vm/run.sh" --script "$work/guest.sh" --bin "$agent:/bin/kickfleet-agent" \
	--bin "$work/ksmfill:/bin/ksmfill" --module virtio_blk --share "$work/share" \
	--file "$work/profile.yaml:/profile.yaml" --smp 3 --numa 2 --mem 1G --timeout 300 -- \
	-netdev tap,id=kffacts,ifname=kftap0,queues=4,script=no,downscript=no,vhost=off \
	-device virtio-net-pci,netdev=kffacts,mq=on,vectors=10,mac=52:54:00:fa:c7:01,romfile= \
	-drive file="$work/disk.img",if=none,id=kfdisk,format=raw -device virtio-blk-pci,drive=kfdisk,serial=KFDISK01 \
	>"$work/out" 2>"$work/err"
rc=$?
grep '^vm: ' "$work/err" | sed 's/^/# /'
[ "$rc" = 0 ] && t_ok "VM ran the script" || { t_fail "VM ran the script (exit $rc)"; tail -60 "$work/err"; }
while read -r tag st rest; do
	[ "$tag" = KF-CHECK ] || continue
	case $st in ok) t_ok "$rest" ;; fail) t_fail "$rest" ;; esac
done <"$work/out"
grep -q '^KF-CHECK done' "$work/out" && t_ok "guest script ran to the end" || t_fail "guest script ran to the end"
# the facts against what the VM was given
if python3 - "$work/share" <<'EOF'
import json, os, sys
d = sys.argv[1]
f = json.load(open(os.path.join(d, "facts.json")))
nodes = f["numa"]["nodes"]
hp = {n["id"]: {h["size"]: h for h in n["hugepages"]}[2 << 20] for n in nodes}
nic = [n for n in f["nics"] if n["mac"] == "52:54:00:fa:c7:01"]
disk = [x for x in f["disks"] if x["serial"] == "KFDISK01"]
ksm = f["memory"]["ksm"]
sharing = int(open(os.path.join(d, "pages_sharing")).read())
checks = {
    "threads 3": f["cpu"]["threads"] == 3,
    "2 nodes": len(nodes) == 2,
    "node CPUs": [n["cpus"] for n in nodes] == open(os.path.join(d, "nodecpus")).read().split(),
    "node memory ~512M": all(400 << 20 < n["memory"] <= 512 << 20 for n in nodes),
    "distances": [n["distances"] for n in nodes] == [[10, 20], [20, 10]],
    "2M pages 8/4": hp[0]["total"] == 8 and hp[1]["total"] == 4 and hp[0]["free"] == 8,
    "ksm run, merged": ksm["run"] == 1 and ksm["pages_sharing"] >= 1000 and ksm["merge_across_nodes"] is False,
    "ksm saved = sharing x page": ksm["saved"] == ksm["pages_sharing"] * ksm["page_size"],
    "nic": len(nic) == 1 and nic[0]["driver"] == "virtio_net" and nic[0]["pci"] is not None,
    "nic 4 channels": bool(nic) and nic[0]["max_combined"] == 4 and nic[0]["rx_queues"] == nic[0]["combined"] >= 2,
    "nic irqs per cpu": bool(nic) and len(nic[0]["irqs"]) >= 2 * nic[0]["combined"]
        and all(len(q["per_cpu"]) == 2 for q in nic[0]["irqs"]),  # the online CPUs
    "disk 64M": len(disk) == 1 and disk[0]["size"] == 64 << 20,
    "dmi QEMU": f["dmi"]["vendor"] == "QEMU",
}
bad = [k for k, v in checks.items() if not v]
print("# facts: failed " + ", ".join(bad) if bad else "# facts: all checks hold (pages_sharing %d)" % sharing)
sys.exit(1 if bad else 0)
EOF
then t_ok "facts in the VM match what it was given"
else t_fail "facts in the VM"; head -c 3000 "$work/share/facts.json"; cat "$work/share/facts.err"; fi
grep '^  |' "$work/out" | head -80
t_summary
