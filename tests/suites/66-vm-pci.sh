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
#   - a guest's managed hostdev on a device the profile binds is refused;
#   - the kernel command line on a real GRUB setup: a Debian-style root on
#     an ext4 disk (tests/vm/grubroot.sh: the real grub-mkconfig and
#     grub-probe), chrooted into with /proc, /sys and /dev bound: apply of
#     1G boot hugepages, isolcpus and the IOMMU writes GRUB_CMDLINE_LINUX and runs
#     grub-mkconfig; the generated grub.cfg's default entry (what the next
#     boot runs) holds every word; the words missing from the running
#     kernel are pending, "reboot required" (exit 0); a second apply is a
#     no-op that leaves grub.cfg as it was.
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
# the next boot's command line on a real GRUB setup
mkdir -p /mnt/r && mount -t ext4 /dev/vda /mnt/r && for m in proc sys dev; do mount --bind /$m /mnt/r/$m; done \
	&& ok "GRUB root mounted" || no "GRUB root mount"
printf 'memory:\n  hugepages:\n    - {size: 1G, count: 1, boot: true}\ncpu:\n  isolated: 1\npassthrough:\n  iommu: true\n' >/mnt/r/boot.yaml
crun() { want=$1; shift; PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot /mnt/r kickfleet-agent "$@" --profile /boot.yaml >/tmp/out 2>/tmp/err; rc=$?
	sed 's/^/  | /' /tmp/out; [ $rc = $want ] && ok "chroot: $* exits $want" || { no "chroot: $* exits $rc, wanted $want"; sed 's/^/  ! /' /tmp/err; }; }
crun 2 apply
grep -q 'boot hugepages (GRUB_CMDLINE_LINUX) .* applied, needs reboot$' /tmp/out && ok "boot hugepages: applied, needs reboot" || no "boot hugepages not reported as needing a reboot"
grep -q 'Generating grub configuration file' /tmp/err && ok "grub-mkconfig ran" || no "grub-mkconfig did not run"
next=$(sed -n 's/^[[:space:]]*linux[[:space:]]\{1,\}[^ ]*vmlinuz[^ ]* //p' /mnt/r/boot/grub/grub.cfg | head -1)
echo "# next boot (grub.cfg, default entry): $next"
for w in intel_iommu=on iommu=pt hugepagesz=1G hugepages=1 isolcpus=1 console=ttyS0; do
	case " $next " in *" $w "*) ok "next boot has $w" ;; *) no "next boot lacks $w" ;; esac
done
sum=$(sha256sum /mnt/r/boot/grub/grub.cfg)
crun 0 apply
grep -q 'iommu (running kernel) .* pending$' /tmp/out && grep -q 'reboot required' /tmp/out \
	&& ok "iommu=pt not in the running kernel: pending, reboot required" || no "reboot required not reported"
grep -q 'Generating grub configuration file' /tmp/err && no "second apply regenerated grub.cfg" || ok "second apply: grub-mkconfig not run"
[ "$(sha256sum /mnt/r/boot/grub/grub.cfg)" = "$sum" ] && ok "second apply leaves grub.cfg as it was" || no "grub.cfg changed"
crun 0 check
for m in dev sys proc; do umount /mnt/r/$m; done; umount /mnt/r
echo "KF-CHECK done"
EOF
eval "$("$TOP/tests/vm/kernel.sh")" || { t_fail "kernel"; t_summary; exit 1; }
"$TOP/tests/vm/grubroot.sh" "$work/grub.img" "$KF_KVER" "$agent:/usr/bin/kickfleet-agent" >/dev/null \
	|| { t_fail "tests/vm/grubroot.sh"; t_summary; exit 1; }

"$TOP/tests/vm/run.sh" --script "$work/guest.sh" --bin "$agent:/bin/kickfleet-agent" \
	--module e1000e --module 8139cp --module vfio-pci --module virtio_blk --module ext4 --module crc32c_generic \
	--machine q35,kernel-irqchip=split --cpu max,vendor=GenuineIntel --append intel_iommu=on --numa 1 --mem 2G --timeout 300 -- \
	-device intel-iommu,intremap=on \
	-netdev hubport,id=kfpt0,hubid=200 -device e1000e,netdev=kfpt0,addr=04.0,romfile= \
	-device pci-bridge,id=kfbr,chassis_nr=1,addr=06.0 \
	-netdev hubport,id=kfpt1,hubid=201 -device rtl8139,netdev=kfpt1,bus=kfbr,addr=01.0,romfile= \
	-netdev hubport,id=kfpt2,hubid=202 -device rtl8139,netdev=kfpt2,bus=kfbr,addr=02.0,romfile= \
	-drive file="$work/grub.img",if=none,id=kfgrub,format=raw -device virtio-blk-pci,drive=kfgrub \
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
grep '^  [|!]' "$work/out" | head -90
t_summary
