#!/bin/sh
# PCI passthrough on a real kernel: boots the Debian kernel in QEMU (TCG,
# q35 with an emulated Intel IOMMU and an Intel CPU: -device intel-iommu,intremap=on,
# kernel-irqchip=split, intel_iommu=on) with e1000e, 8139cp and vfio-pci in
# the initramfs and three NICs: an e1000e alone in its IOMMU group (00:04.0)
# and two rtl8139 behind a conventional PCI bridge (00:06.0), which the
# kernel puts in one group with the bridge.  In one boot:
#   - a profile handing over one rtl8139 is refused at its line, naming the
#     other (exit 1), nothing bound;
#   - a profile handing over all three: apply binds them to vfio-pci (read
#     back from /sys/bus/pci/devices/*/driver), the bridge keeps its state,
#     the udev rule and the IOMMU words in /etc/default/grub are written;
#     a second apply and a check do nothing;
#   - the e1000e given back to its driver is drift: check exits 2, apply
#     binds it to vfio-pci again;
#   - a guest's managed hostdev on a device the profile binds is refused.
# Needs root (QEMU, the kernel cache); the build machine's /sys is never
# touched.
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/lib.sh"
t_need_root
agent=$TOP/build/kickfleet-agent
[ -x "$agent" ] || { t_fail "build/kickfleet-agent not built"; t_summary; exit 1; }
work=$(mktemp -d /tmp/kf-vm-pci.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$work/guest.sh" <<'EOF'
ok() { echo "KF-CHECK ok $*"; }
no() { echo "KF-CHECK fail $*"; }
run() { want=$1 p=$2; shift 2; kickfleet-agent "$@" --profile $p >/tmp/out 2>&1; rc=$?
	sed 's/^/  | /' /tmp/out; [ $rc = $want ] && ok "$* $p exits $want" || no "$* $p exits $rc, wanted $want"; }
drv() { d=$(readlink /sys/bus/pci/devices/$1/driver); echo "${d##*/}"; }
isdrv() { got=$(drv $1); [ "$got" = "$2" ] && ok "$1 driver $2" || no "$1 driver is ${got:-none}, wanted $2"; }
mkdir -p /etc/default
printf 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="console=ttyS0"\n' >/etc/default/grub
# the rtl8139s behind the bridge, found by the bridge in their path
E=0000:00:04.0 BR=0000:00:06.0 R1= R2=
for d in /sys/bus/pci/devices/*; do
	case $(readlink -f $d) in */$BR/*) [ -z "$R1" ] && R1=${d##*/} || R2=${d##*/} ;; esac
done
g() { basename "$(readlink /sys/bus/pci/devices/$1/iommu_group)"; }
echo "# groups: $E=$(g $E) $BR=$(g $BR) $R1=$(g $R1) $R2=$(g $R2)"
[ -n "$R2" ] && [ "$(g $R1)" = "$(g $BR)" ] && [ "$(g $R2)" = "$(g $BR)" ] && [ "$(g $E)" != "$(g $BR)" ] \
	&& ok "bridge and both rtl8139 in one IOMMU group, the e1000e alone" || no "IOMMU groups not as the machine was built"
isdrv $E e1000e
isdrv $R1 8139cp
br0=$(drv $BR)
printf 'passthrough:\n  devices:\n    - %s\n    - %s\n' $E $R1 >/bad.yaml
run 1 /bad.yaml plan
grep -q "^/bad.yaml:4:7: passthrough: $R1 shares IOMMU group $(g $R1) with $R2, which the profile does not hand over" /tmp/out \
	&& ok "shared group refused at the profile line, naming $R2 (not the bridge)" || no "shared group message"
isdrv $E e1000e
printf 'passthrough:\n  devices: [%s, %s, %s]\n' $E $R1 $R2 >/good.yaml
run 2 /good.yaml plan
run 2 /good.yaml apply
for a in $E $R1 $R2; do isdrv $a vfio-pci; done
[ "$(drv $BR)" = "$br0" ] && ok "bridge $BR keeps its driver (${br0:-none})" || no "bridge driver changed to $(drv $BR)"
grep -q 'GRUB_CMDLINE_LINUX="console=ttyS0 intel_iommu=on iommu=pt"' /etc/default/grub \
	&& ok "IOMMU words in GRUB_CMDLINE_LINUX" || no "grub defaults: $(cat /etc/default/grub)"
n=$(grep -c 'ATTR{driver_override}="vfio-pci"' /etc/udev/rules.d/40-kickfleet-vfio-pci.rules)
[ "$n" = 3 ] && ok "udev rule for 3 devices" || no "udev rule has $n devices"
run 0 /good.yaml apply
run 0 /good.yaml check
# drift: the e1000e back to its own driver
echo > /sys/bus/pci/devices/$E/driver_override
echo $E > /sys/bus/pci/drivers/vfio-pci/unbind
echo $E > /sys/bus/pci/drivers/e1000e/bind
isdrv $E e1000e
run 2 /good.yaml check
grep -q "$E driver  *e1000e → vfio-pci  *planned" /tmp/out && ok "drift named: $E e1000e → vfio-pci" || no "drift not named"
run 2 /good.yaml apply
isdrv $E vfio-pci
run 0 /good.yaml check
# a managed hostdev on a bound device fights the agent: refused
printf 'guests:\n  - name: g1\n    hostdevs: [%s]\n' $E >>/good.yaml
run 1 /good.yaml plan
grep -q "guest g1: hostdev $E is bound to vfio-pci by passthrough.devices: give it managed: false" /tmp/out \
	&& ok "managed hostdev on a bound device refused" || no "managed hostdev message"
echo "KF-CHECK done"
EOF

"$TOP/tests/vm/run.sh" --script "$work/guest.sh" --bin "$agent:/bin/kickfleet-agent" \
	--module e1000e --module 8139cp --module vfio-pci \
	--machine q35,kernel-irqchip=split --cpu max,vendor=GenuineIntel --append intel_iommu=on --numa 1 --mem 1G --timeout 300 -- \
	-device intel-iommu,intremap=on \
	-netdev hubport,id=kfpt0,hubid=200 -device e1000e,netdev=kfpt0,addr=04.0,romfile= \
	-device pci-bridge,id=kfbr,chassis_nr=1,addr=06.0 \
	-netdev hubport,id=kfpt1,hubid=201 -device rtl8139,netdev=kfpt1,bus=kfbr,addr=01.0,romfile= \
	-netdev hubport,id=kfpt2,hubid=202 -device rtl8139,netdev=kfpt2,bus=kfbr,addr=02.0,romfile= \
	>"$work/out" 2>"$work/err"
rc=$?
grep '^vm: ' "$work/err" | sed 's/^/# /'
[ "$rc" = 0 ] && t_ok "VM ran the script" || { t_fail "VM ran the script (exit $rc)"; tail -60 "$work/err"; }
grep '^# ' "$work/out"
while read -r tag st rest; do
	[ "$tag" = KF-CHECK ] || continue
	case $st in ok) t_ok "$rest" ;; fail) t_fail "$rest" ;; esac
done <"$work/out"
grep -q '^KF-CHECK done' "$work/out" && t_ok "guest script ran to the end" || t_fail "guest script ran to the end"
grep '^  |' "$work/out" | head -60
t_summary
