#!/bin/sh
# tests/vm/grubroot.sh IMG KVER [SRC:DEST ...] — an ext4 image holding a
# small Debian-style root that boots with GRUB: /etc/default/grub
# (GRUB_CMDLINE_LINUX="console=ttyS0"), /boot/vmlinuz-KVER, the real
# grub-mkconfig with grub-probe and /etc/grub.d from this machine's
# grub-common, busybox-static for the shell tools, and each SRC (a
# binary gets its shared libraries) at DEST.  A test mounts it in the VM,
# binds /proc, /sys and /dev and chroots into it, so grub-mkconfig probes a
# real block device and writes /boot/grub/grub.cfg as on an installed host.
# Made with mkfs.ext4 -d: nothing is mounted on this machine.
set -eu
img=${1:?usage: grubroot.sh IMG KVER [SRC:DEST ...]}
kver=${2:?usage: grubroot.sh IMG KVER [SRC:DEST ...]}
shift 2
r=$(mktemp -d "${TMPDIR:-/tmp}/kf-grubroot.XXXXXX")
trap 'rm -rf "$r"' EXIT
mkdir -p "$r/bin" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/run" "$r/boot/grub" "$r/etc/default" "$r/var/lib"
cp /bin/busybox "$r/bin/busybox"
for a in $(/bin/busybox --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
ln -s bin "$r/sbin"
libs() { ldd "$1" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'; }
copy() { mkdir -p "$r$(dirname "$2")"; cp -L "$1" "$r$2"; }
dpkg -L grub-common | grep -v -E '^/usr/share/(doc|man|info|locale|lintian)' | while read -r f; do
	[ -f "$f" ] || continue
	copy "$f" "$f"
	case $f in */bin/*|*/sbin/*) for l in $(libs "$f"); do [ -e "$r$l" ] || copy "$l" "$l"; done ;; esac
done
for spec in "$@"; do
	src=${spec%%:*} dest=${spec#*:}
	copy "$src" "$dest"
	for l in $(libs "$src"); do [ -e "$r$l" ] || copy "$l" "$l"; done
done
: >"$r/boot/vmlinuz-$kver"
: >"$r/boot/initrd.img-$kver"
cat >"$r/etc/default/grub" <<'GRUB'
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="console=ttyS0"
GRUB_DISABLE_OS_PROBER=true
GRUB
rm -f "$img"
mkfs.ext4 -q -F -L kfgrub -d "$r" "$img" 160M
