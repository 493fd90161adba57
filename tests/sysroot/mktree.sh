#!/bin/sh
# tests/sysroot/mktree.sh KIND DEST — build a fake host tree for the agent's
# sysroot tests (kickfleet-agent --root DEST).
#
# The files follow the layouts of real machines (kernel 6.1): sysfs node and
# CPU directories, hugepage pools, THP, KSM, /proc/cpuinfo, /proc/interrupts,
# /proc/irq, a NIC with MSI-X vectors, kvm module parameters, and the
# Debian or RHEL flavoured /etc files (grub defaults, irqbalance config and
# its systemd unit).  Values are plain files, so every write the agent makes
# is visible and a test can change any of them.
#
# KIND:
#   one-node-intel  4 CPUs, 1 node (8 GiB), GenuineIntel, kvm_intel loaded
#                   nested=N, Debian: /etc/default/irqbalance, irqbalance
#                   enabled and running, eth0 (ixgbe-like, 4 MSI-X queues)
#   two-node-amd    8 CPUs, 2 nodes (0-3, 4-7; 8 GiB each), AuthenticAMD,
#                   kvm_amd loaded nested=1 and in use (a guest runs), RHEL:
#                   /etc/sysconfig/irqbalance, irqbalance disabled, ksmtuned
#                   running, cpu6-7 offline, eth0 + eth1 (virtio-like)
#   two-node-amd-virtio  two-node-amd with the NICs laid out as real virtio
#                   NICs: the net device under virtioN below the PCI
#                   function, which holds the msi_irqs
#   one-node-intel-pci  one-node-intel with /sys/bus/pci: eth0 (3b:00.0) and
#                   its second port 3b:00.1 in IOMMU group 2; a root port
#                   00:1c.0 (a bridge, pcieport) with a GPU 5e:00.0
#                   (nouveau) and its audio function 5e:00.1 behind it, all
#                   three in group 5; vfio-pci loaded
#   two-node-amd-bls  two-node-amd booting from BLS entries (EL9): grubby
#                   installed, two kernels' entries in /boot/loader/entries,
#                   grubenv's saved_entry naming the older one
set -eu
kind=${1:?usage: mktree.sh KIND DEST}
d=${2:?usage: mktree.sh KIND DEST}

pcidevs= bls=
case $kind in
two-node-amd-bls)
	kind=two-node-amd bls=1
	ncpu=8 nodes="0 1" vendor=amd distro=rhel mem_kb=8388608 offline="6 7" nested=1 refcnt=2
	;;
one-node-intel-pci)
	kind=one-node-intel pcidevs=1
	ncpu=4 nodes="0" vendor=intel distro=debian mem_kb=8388608 offline="" nested=N refcnt=0
	;;
one-node-intel)
	ncpu=4 nodes="0" vendor=intel distro=debian mem_kb=8388608 offline="" nested=N refcnt=0
	;;
two-node-amd|two-node-amd-virtio)
	ncpu=8 nodes="0 1" vendor=amd distro=rhel mem_kb=8388608 offline="6 7" nested=1 refcnt=2
	;;
*) echo "mktree.sh: unknown kind $kind" >&2; exit 2 ;;
esac

rm -rf "$d"
mkdir -p "$d"
w() { mkdir -p "$(dirname "$d$1")"; printf '%s\n' "$2" >"$d$1"; }
last=$((ncpu - 1))
nnodes=$(echo $nodes | wc -w)
per=$((ncpu / nnodes))

# --- CPUs ---
w /sys/devices/system/cpu/possible "0-$last"
w /sys/devices/system/cpu/present "0-$last"
if [ -n "$offline" ]; then
	w /sys/devices/system/cpu/online "0-$(( $(echo $offline | cut -d' ' -f1) - 1 ))"
	w /sys/devices/system/cpu/offline "$(echo $offline | tr ' ' '\n' | head -1)-$(echo $offline | tr ' ' '\n' | tail -1)"
else
	w /sys/devices/system/cpu/online "0-$last"
	w /sys/devices/system/cpu/offline ""
fi
w /sys/devices/system/cpu/kernel_max 8191
i=0
while [ $i -le $last ]; do
	mkdir -p "$d/sys/devices/system/cpu/cpu$i/topology"
	if [ $i -gt 0 ]; then # cpu0 is not hotpluggable on x86: no online file
		v=1
		for o in $offline; do [ $o = $i ] && v=0; done
		w /sys/devices/system/cpu/cpu$i/online $v
	fi
	w /sys/devices/system/cpu/cpu$i/topology/physical_package_id $((i / per))
	w /sys/devices/system/cpu/cpu$i/topology/core_id $((i % per))
	i=$((i + 1))
done

# --- NUMA nodes and hugepages ---
w /sys/devices/system/node/possible "0-$((nnodes - 1))"
w /sys/devices/system/node/online "0-$((nnodes - 1))"
w /sys/devices/system/node/has_memory "0-$((nnodes - 1))"
w /sys/devices/system/node/has_cpu "0-$((nnodes - 1))"
for n in $nodes; do
	nd=/sys/devices/system/node/node$n
	w $nd/cpulist "$((n * per))-$((n * per + per - 1))"
	free_kb=$((mem_kb - 612345 - n * 1000))
	cat >"$d$nd/meminfo.tmp" <<EOF
Node $n MemTotal:       $mem_kb kB
Node $n MemFree:        $free_kb kB
Node $n MemUsed:        $((mem_kb - free_kb)) kB
Node $n SwapCached:            0 kB
Node $n Active:           201344 kB
Node $n Inactive:         180224 kB
Node $n Dirty:                 8 kB
Node $n Writeback:             0 kB
Node $n FilePages:        301236 kB
Node $n Mapped:            90112 kB
Node $n AnonPages:         79872 kB
Node $n Shmem:              1024 kB
Node $n KernelStack:        3648 kB
Node $n PageTables:         2560 kB
Node $n Slab:              61440 kB
Node $n AnonHugePages:      2048 kB
Node $n HugePages_Total:     0
Node $n HugePages_Free:      0
Node $n HugePages_Surp:      0
EOF
	mv "$d$nd/meminfo.tmp" "$d$nd/meminfo"
	w $nd/distance "$(if [ $nnodes = 1 ]; then echo 10; elif [ $n = 0 ]; then echo '10 21'; else echo '21 10'; fi)"
	for kb in 2048 1048576; do
		for f in nr_hugepages free_hugepages surplus_hugepages; do
			w $nd/hugepages/hugepages-${kb}kB/$f 0
		done
	done
done
for kb in 2048 1048576; do
	for f in nr_hugepages nr_hugepages_mempolicy free_hugepages resv_hugepages surplus_hugepages nr_overcommit_hugepages; do
		w /sys/kernel/mm/hugepages/hugepages-${kb}kB/$f 0
	done
done

# --- THP, KSM, NUMA balancing ---
w /sys/kernel/mm/transparent_hugepage/enabled "[always] madvise never"
w /sys/kernel/mm/transparent_hugepage/defrag "always defer defer+madvise [madvise] never"
w /sys/kernel/mm/transparent_hugepage/use_zero_page 1
w /sys/kernel/mm/transparent_hugepage/hpage_pmd_size 2097152
for f in run pages_shared pages_sharing pages_unshared pages_volatile full_scans; do
	w /sys/kernel/mm/ksm/$f 0
done
w /sys/kernel/mm/ksm/pages_to_scan 100
w /sys/kernel/mm/ksm/sleep_millisecs 20
w /sys/kernel/mm/ksm/merge_across_nodes 1
w /sys/kernel/mm/ksm/max_page_sharing 256
w /sys/kernel/mm/ksm/stable_node_chains_prune_millisecs 2000
w /sys/kernel/mm/ksm/use_zero_pages 0
w /proc/sys/kernel/numa_balancing $([ $nnodes -gt 1 ] && echo 1 || echo 0)
w /proc/sys/vm/nr_hugepages 0

# --- /proc/meminfo and /proc/cpuinfo ---
total_kb=$((mem_kb * nnodes))
cat >"$d/proc/meminfo" <<EOF
MemTotal:       $total_kb kB
MemFree:        $((total_kb - 1224690)) kB
MemAvailable:   $((total_kb - 824690)) kB
Buffers:           40960 kB
Cached:           560000 kB
SwapCached:            0 kB
AnonHugePages:      4096 kB
HugePages_Total:       0
HugePages_Free:        0
HugePages_Rsvd:        0
HugePages_Surp:        0
Hugepagesize:       2048 kB
Hugetlb:               0 kB
EOF
if [ $vendor = intel ]; then
	vid=GenuineIntel fam=6 model=85 mname="Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz" virt=vmx
else
	vid=AuthenticAMD fam=25 model=1 mname="AMD EPYC 7313 16-Core Processor" virt=svm
fi
: >"$d/proc/cpuinfo"
i=0
while [ $i -le $last ]; do
	cat >>"$d/proc/cpuinfo" <<EOF
processor	: $i
vendor_id	: $vid
cpu family	: $fam
model		: $model
model name	: $mname
stepping	: 7
microcode	: 0x5003303
cpu MHz		: 2400.000
cache size	: 16896 KB
physical id	: $((i / per))
siblings	: $per
core id		: $((i % per))
cpu cores	: $per
apicid		: $i
fpu		: yes
fpu_exception	: yes
cpuid level	: 22
wp		: yes
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx pdpe1gb rdtscp lm constant_tsc nopl xtopology cpuid pni pclmulqdq $virt ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm
bogomips	: 4800.00
clflush size	: 64
cache_alignment	: 64
address sizes	: 46 bits physical, 48 bits virtual
power management:

EOF
	i=$((i + 1))
done

# --- kvm module ---
mod=$([ $vendor = intel ] && echo kvm_intel || echo kvm_amd)
w /sys/module/$mod/parameters/nested $nested
w /sys/module/$mod/refcnt $refcnt
w /sys/module/$mod/initstate live
w /sys/module/kvm/refcnt 1
mkdir -p "$d/etc/modprobe.d"

# --- NICs, IRQs ---
# each NIC: name, PCI address, MAC, first IRQ, vectors, driver, queues,
# speed, carrier, and for the virtio layout the virtioN device (device is
# the PCI function itself, as with ixgbe, unless the kind is
# two-node-amd-virtio: then it is virtioN below the function)
nic() {
	name=$1 pci=$2 mac=$3 first=$4 nvec=$5 drv=$6 nq=$7 speed=$8 carrier=$9 vdev=${10:-}
	dev=/sys/devices/pci0000:00/$pci fn=/sys/devices/pci0000:00/$pci
	mkdir -p "$d$fn/msi_irqs"
	if [ $kind = two-node-amd-virtio ]; then
		dev=$dev/$vdev up=../../../.. bus=virtio
		mkdir -p "$d/sys/bus/pci/drivers/virtio-pci"
		ln -s "../../../bus/pci/drivers/virtio-pci" "$d$fn/driver"
	else
		up=../../.. bus=pci
	fi
	mkdir -p "$d$dev/net/$name" "$d/sys/class/net" "$d/sys/bus/$bus/drivers/$drv"
	w $dev/net/$name/address "$mac"
	w $dev/net/$name/mtu 1500
	w $dev/net/$name/operstate up
	w $dev/net/$name/speed $speed
	w $dev/net/$name/carrier $carrier
	q=0
	while [ $q -lt $nq ]; do
		w $dev/net/$name/queues/rx-$q/rps_cpus 0
		w $dev/net/$name/queues/tx-$q/xps_cpus 0
		q=$((q + 1))
	done
	ln -s "../../../$(basename "$dev")" "$d$dev/net/$name/device"
	ln -s "$up/bus/$bus/drivers/$drv" "$d$dev/driver"
	ln -s "../..${dev#/sys}/net/$name" "$d/sys/class/net/$name"
	v=0
	while [ $v -lt $nvec ]; do
		w $fn/msi_irqs/$((first + v)) msix
		v=$((v + 1))
	done
}
irqs=""
if [ $kind = one-node-intel ]; then
	nic eth0 0000:3b:00.0 3c:fd:fe:a1:b2:c0 40 5 ixgbe 4 10000 1
	w /sys/devices/pci0000:00/0000:3b:00.0/sriov_totalvfs 63
	w /sys/devices/pci0000:00/0000:3b:00.0/sriov_numvfs 4
	names="eth0-TxRx-0 eth0-TxRx-1 eth0-TxRx-2 eth0-TxRx-3 eth0"
	irqs="40 41 42 43 44"
else
	nic eth0 0000:00:03.0 52:54:00:12:34:56 24 3 virtio_net 1 -1 1 virtio0
	nic eth1 0000:00:04.0 52:54:00:12:34:57 27 3 virtio_net 1 -1 0 virtio1
	names="virtio0-config virtio0-input.0 virtio0-output.0 virtio1-config virtio1-input.0 virtio1-output.0"
	irqs="24 25 26 27 28 29"
fi
mkdir -p "$d/sys/class/net/lo"
w /sys/class/net/lo/address 00:00:00:00:00:00
# /proc/interrupts: the timer and a few legacy lines, then the NIC vectors
{
	printf '           '
	i=0; while [ $i -le $last ]; do printf 'CPU%-8d' $i; i=$((i + 1)); done; echo
	for l in "0:IO-APIC   2-edge      timer" "1:IO-APIC   1-edge      i8042" "8:IO-APIC   8-edge      rtc0" "9:IO-APIC   9-fasteoi   acpi"; do
		n=${l%%:*}; rest=${l#*:}
		printf '%3d: ' "$n"; i=0; while [ $i -le $last ]; do printf '%10d ' $((n * 7 + i)); i=$((i + 1)); done
		echo "  $rest"
	done
	set -- $names
	for q in $irqs; do
		printf '%3d: ' "$q"; i=0; while [ $i -le $last ]; do printf '%10d ' $((q * 13 + i)); i=$((i + 1)); done
		echo "  PCI-MSIX-0000:00:00.0 $((q - 24))-edge      $1"
		shift
	done
	printf 'NMI: '; i=0; while [ $i -le $last ]; do printf '%10d ' 0; i=$((i + 1)); done; echo '  Non-maskable interrupts'
} >"$d/proc/interrupts"
for q in 0 1 8 9 $irqs; do
	w /proc/irq/$q/smp_affinity_list "0-$last"
	w /proc/irq/$q/effective_affinity_list 0
done
w /proc/irq/default_smp_affinity "$(printf '%x' $(( (1 << ncpu) - 1 )))"

# --- a guest's QEMU process: command line, vCPU threads, numa_maps ---
# guest PID NAME AFFINITY VCPUS N0_PAGES_ANON N0_PAGES_HUGE(2M)
guest() {
	pid=$1 gname=$2 aff=$3 nv=$4
	printf 'qemu-system-x86_64\0-name\0guest=%s,debug-threads=on\0-S\0-m\0size=262144k\0' "$gname" >"$d/proc/$pid/cmdline"
	mkdir -p "$d/proc/$pid/task/$pid"
	w /proc/$pid/task/$pid/comm qemu-system-x86
	v=0
	while [ $v -lt $nv ]; do
		tid=$((pid + 10 + v))
		w /proc/$pid/task/$tid/comm "CPU $v/KVM"
		# field 39 (processor): the CPU the thread last ran on
		w /proc/$pid/task/$tid/stat "$tid (CPU $v/KVM) S $pid $pid 0 0 -1 4194624 $(printf '0 %.0s' $(seq 10 38))$((v * 2 + 1)) 0 0 0 0 0"
		printf 'Name:\tCPU %d/KVM\nCpus_allowed:\tff\nCpus_allowed_list:\t%s\n' $v "$aff" >"$d/proc/$pid/task/$tid/status"
		v=$((v + 1))
	done
	cat >"$d/proc/$pid/numa_maps" <<EOM
55d0c0a00000 default file=/usr/bin/qemu-system-x86_64 mapped=512 N0=512 kernelpagesize_kB=4
7f2a40000000 bind:0 anon=$(( $(echo $5 | sed 's/N[0-9]*=//g;s/ /+/g') )) dirty=1 $5 kernelpagesize_kB=4
7f2b00000000 bind:1 huge anon=$(echo $6 | sed 's/N[0-9]*=//') $6 kernelpagesize_kB=2048
7ffd1c000000 default stack anon=3 dirty=3 N0=3 kernelpagesize_kB=4
EOM
}

# --- disks, IOMMU, DMI, identity ---
# disk NAME MAJ:MIN SECTORS ROTATIONAL MODEL SERIAL (model/serial "-": only in udev's database)
disk() {
	w /sys/block/$1/dev $2
	w /sys/block/$1/size $3
	w /sys/block/$1/queue/rotational $4
	mkdir -p "$d/sys/block/$1/device" "$d/run/udev/data"
	if [ "$5" != - ]; then w /sys/block/$1/device/model "$5"; fi
	if [ "$6" != - ]; then w /sys/block/$1/device/serial "$6"
	else printf 'S:disk/by-id/ata-x\nE:ID_MODEL=QEMU_HARDDISK\nE:ID_SERIAL_SHORT=QM00001\n' >"$d/run/udev/data/b$2"; fi
}
w /proc/sys/kernel/hostname $([ $kind = one-node-intel ] && echo kvm01 || echo kvm02)
w /proc/sys/kernel/osrelease 6.1.0-18-amd64
w /sys/block/loop0/size 0 # no device: not a disk
if [ $kind = one-node-intel ]; then
	disk sda 8:0 1953525168 1 "ST1000NM0055-1V4" -
	disk nvme0n1 259:0 3750748848 0 "SAMSUNG MZQL23T8HCLS-00A07" S64HNE0R123456
	mkdir -p "$d/sys/class/iommu/dmar0"
	for g in 0 1 2; do mkdir -p "$d/sys/kernel/iommu_groups/$g/devices"; done
	mkdir -p "$d/sys/kernel/iommu_groups/1/devices/0000:00:00.0" "$d/sys/kernel/iommu_groups/2/devices/0000:3b:00.0" \
		"$d/sys/kernel/iommu_groups/2/devices/0000:3b:00.1" "$d/sys/kernel/iommu_groups/0/devices/0000:00:1f.0"
	mkdir -p "$d/sys/firmware/efi"
	dv="Dell Inc." prod="PowerEdge R640" ser=4XK9P13 uuid=4c4c4544-0058-4b10-8039-b4c04f503133 bv=2.17.1
else
	disk vda 252:0 83886080 1 - -
	dv=QEMU prod="Standard PC (Q35 + ICH9, 2009)" ser="" uuid=7d9c3a6e-1f1b-4c4e-9a9b-2a1d2c3b4e5f bv=1.16.2-debian-1.16.2-1
	w /sys/kernel/mm/ksm/pages_shared 120
	w /sys/kernel/mm/ksm/pages_sharing 480
fi
w /sys/class/dmi/id/sys_vendor "$dv"
w /sys/class/dmi/id/product_name "$prod"
w /sys/class/dmi/id/product_serial "$ser"
w /sys/class/dmi/id/product_uuid $uuid
w /sys/class/dmi/id/bios_vendor "$([ $kind = one-node-intel ] && echo 'Dell Inc.' || echo SeaBIOS)"
w /sys/class/dmi/id/bios_version "$bv"

# --- processes (only comm: what the agent looks at) ---
w /proc/1/comm systemd
if [ $kind = one-node-intel ]; then
	w /proc/812/comm irqbalance
else
	w /proc/905/comm ksmtuned
	w /proc/2201/comm qemu-system-x86
	guest 2201 web01 "0-1" 2 "N0=40960 N1=1024" "N1=256"
fi

# --- /etc ---
if [ $distro = debian ]; then
	mkdir -p "$d/etc/default"
	cat >"$d/etc/default/grub" <<'EOF'
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
# For full documentation of the options in this file, see:
#   info -f grub -n 'Simple configuration'

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"
EOF
	cat >"$d/etc/default/irqbalance" <<'EOF'
# irqbalance is a daemon process that distributes interrupts across
# CPUS on SMP systems.  The default is to rebalance once every 10
# seconds.  This is the environment file that is specified to systemd via the
# EnvironmentFile key in the service unit file (or via whatever method the init
# system you're using has).
#
# IRQBALANCE_ONESHOT
#    After starting, wait for ten seconds, then look at the interrupt
#    load and balance it once; after balancing exit and do not change
#    it again.
#
#IRQBALANCE_ONESHOT=

#
# IRQBALANCE_BANNED_CPULIST
#    The CPUs listed here will be excluded from interrupt handling.
#
#IRQBALANCE_BANNED_CPULIST=

#
# IRQBALANCE_ARGS
#    Append any args here to the irqbalance daemon as documented in the man
#    page.
#
#IRQBALANCE_ARGS=
EOF
	unitdir=/lib/systemd/system
else
	mkdir -p "$d/etc/default" "$d/etc/sysconfig"
	cat >"$d/etc/default/grub" <<'EOF'
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR="$(sed 's, release .*$,,g' /etc/system-release)"
GRUB_DEFAULT=saved
GRUB_DISABLE_SUBMENU=true
GRUB_TERMINAL_OUTPUT="console"
GRUB_CMDLINE_LINUX="crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap hugepagesz=2M hugepages=64"
GRUB_DISABLE_RECOVERY="true"
GRUB_ENABLE_BLSCFG=true
EOF
	cat >"$d/etc/sysconfig/irqbalance" <<'EOF'
# irqbalance is a daemon process that distributes interrupts across
# CPUS on SMP systems.  The default is to rebalance once every 10
# seconds.  This is the environment file that is specified to systemd via the
# EnvironmentFile key in the service unit file (or via whatever method the init
# system you're using has).

#
# IRQBALANCE_BANNED_CPULIST
#    The CPUs listed here will be excluded from interrupt handling.
#
#IRQBALANCE_BANNED_CPULIST=

#
# IRQBALANCE_ARGS
#    Append any args here to the irqbalance daemon as documented in the man
#    page.
#
IRQBALANCE_ARGS="--hintpolicy=subset"
EOF
	unitdir=/usr/lib/systemd/system
fi
mkdir -p "$d$unitdir" "$d/etc/systemd/system/multi-user.target.wants" "$d/etc/sysctl.d"
cat >"$d$unitdir/irqbalance.service" <<'EOF'
[Unit]
Description=irqbalance daemon
Documentation=man:irqbalance(1)
ConditionVirtualization=!container
ConditionCPUs=>1

[Service]
EnvironmentFile=-/etc/default/irqbalance
EnvironmentFile=-/etc/sysconfig/irqbalance
ExecStart=/usr/sbin/irqbalance --foreground $IRQBALANCE_ARGS
CapabilityBoundingSet=
NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target
EOF
if [ $kind = one-node-intel ]; then
	ln -s $unitdir/irqbalance.service "$d/etc/systemd/system/multi-user.target.wants/irqbalance.service"
fi
# the agent's state dir (profile cache)
mkdir -p "$d/var/lib/kickfleet-agent"

# --- PCI functions with IOMMU groups and config space (one-node-intel-pci) ---
# pcidev DIR CLASS HDRTYPE(octal) DRIVER GROUP: DIR below /sys/devices
pcidev() {
	rel=$1 addr=$(basename "$1") up=$(echo "devices/$1" | sed 's|[^/]*|..|g')/
	f=$d/sys/devices/$rel
	mkdir -p "$f" "$d/sys/bus/pci/devices" "$d/sys/bus/pci/drivers/$4" "$d/sys/kernel/iommu_groups/$5/devices"
	w /sys/devices/$rel/class "$2"
	printf '\206\200\020\241\000\000\000\000\000\000\000\000\000\000\'"$3"'\000' >"$f/config"
	w /sys/devices/$rel/driver_override "(null)"
	rm -f "$f/driver"
	ln -s "${up}bus/pci/drivers/$4" "$f/driver"
	ln -s "${up}kernel/iommu_groups/$5" "$f/iommu_group"
	ln -s "../../../devices/$rel" "$d/sys/bus/pci/devices/$addr"
	rm -rf "$d/sys/kernel/iommu_groups/$5/devices/$addr"
	ln -s "../../../../devices/$rel" "$d/sys/kernel/iommu_groups/$5/devices/$addr"
	: >"$d/sys/bus/pci/drivers/$4/bind"; : >"$d/sys/bus/pci/drivers/$4/unbind"
}
if [ -n "$pcidevs" ]; then
	pcidev pci0000:00/0000:3b:00.0 0x020000 200 ixgbe 2
	pcidev pci0000:00/0000:3b:00.1 0x020000 200 ixgbe 2
	pcidev pci0000:00/0000:00:1c.0 0x060400 001 pcieport 5
	pcidev pci0000:00/0000:00:1c.0/0000:5e:00.0 0x030000 200 nouveau 5
	pcidev pci0000:00/0000:00:1c.0/0000:5e:00.1 0x040300 200 snd_hda_intel 5
	mkdir -p "$d/sys/bus/pci/drivers/vfio-pci"
	: >"$d/sys/bus/pci/drivers/vfio-pci/bind"; : >"$d/sys/bus/pci/drivers/vfio-pci/unbind"
	: >"$d/sys/bus/pci/drivers_probe"
fi

# --- BLS entries and grubby (two-node-amd-bls) ---
bls() {
	cat >"$d/boot/loader/entries/4c4c4544-$1.conf" <<EOF
title Rocky Linux ($1) 9.3 (Blue Onyx)
version $1
linux /vmlinuz-$1
initrd /initramfs-$1.img \$tuned_initrd
options root=/dev/mapper/rl-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root $2
grub_users \$grub_users
grub_arg --unrestricted
grub_class rocky
EOF
}
if [ -n "$bls" ]; then
	mkdir -p "$d/boot/loader/entries" "$d/boot/grub2" "$d/usr/sbin"
	printf '#!/bin/sh\n# grubby stands here so the agent sees a BLS host; it never runs under --root\nexit 1\n' >"$d/usr/sbin/grubby"
	chmod 755 "$d/usr/sbin/grubby"
	bls 5.14.0-362.8.1.el9_3.x86_64 "rd.lvm.lv=rl/swap"
	bls 5.14.0-362.13.1.el9_3.x86_64 "rd.lvm.lv=rl/swap amd_iommu=on"
	printf '# GRUB Environment Block\nsaved_entry=4c4c4544-5.14.0-362.8.1.el9_3.x86_64\nboot_success=1\n' >"$d/boot/grub2/grubenv"
fi
