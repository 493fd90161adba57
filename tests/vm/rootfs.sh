#!/bin/sh
# tests/vm/rootfs.sh — the lab's installed system: a Debian 12 root with
# systemd on an ext4 image, built once into the cache.
#
# Usage: tests/vm/rootfs.sh      prints KF_ROOTFS=PATH (a raw ext4 image,
#                                label kflab-root; never written by a test:
#                                machines boot a qcow2 overlay on it)
#
# mmdebstrap (variant minbase) from the Debian archive this machine's apt
# uses, with systemd as init, udev, systemd-networkd (DHCP on every
# en*/eth* link, network-online.target waits for it), curl (the
# kickstart's %post fetches the agent) and wget (the preseed's late
# command); no kernel: the lab boots it with tests/vm/kernel.sh's kernel
# and an initramfs that loads the disk and NIC modules and switch_roots
# (kfroot=/dev/vda, tests/vm/initramfs.sh).  The journal goes to the
# serial console, so the tests read the units' output from the serial log.
# Rebuilt when this script changes (the image's .inputs holds its digest).
# Environment: KF_CACHE (default /var/cache/kickfleet).
set -eu
cache=${KF_CACHE:-/var/cache/kickfleet}/rootfs
img=$cache/debian12-systemd.ext4
fp=$(sha256sum "$0" | cut -c1-64)
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -f "$img" ] && [ "$(cat "$img.inputs" 2>/dev/null)" = "$fp" ]; then
	echo "KF_ROOTFS=$img"
	exit 0
fi
command -v mmdebstrap >/dev/null || { echo "rootfs.sh: mmdebstrap missing (scripts/deps.sh check)" >&2; exit 1; }
# the Debian archive of this machine's apt configuration (deb822 or one-line)
src=
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] && grep -q 'debian-archive-keyring\|^deb .*/debian ' "$f" && { src=$f; break; }
done
[ -n "$src" ] || { echo "rootfs.sh: no Debian archive in the apt sources" >&2; exit 1; }
t=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$t"' EXIT
mkdir "$t/root"
mmdebstrap --variant=minbase --quiet \
	--include=systemd-sysv,udev,dbus,curl,wget,ca-certificates,iproute2,kmod,procps \
	--customize-hook='echo kflab >"$1/etc/hostname"' \
	--customize-hook='mkdir -p "$1/etc/systemd/network" && printf "[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n" >"$1/etc/systemd/network/50-lab-dhcp.network"' \
	--customize-hook='chroot "$1" systemctl enable systemd-networkd.service systemd-networkd-wait-online.service' \
	--customize-hook='mkdir -p "$1/etc/systemd/journald.conf.d" && printf "[Journal]\nForwardToConsole=yes\nTTYPath=/dev/ttyS0\nMaxLevelConsole=info\n" >"$1/etc/systemd/journald.conf.d/lab-console.conf"' \
	--customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer getty@tty1.service' \
	--customize-hook=': >"$1/etc/machine-id"; printf "/dev/vda / ext4 rw 0 1\n" >"$1/etc/fstab"' \
	bookworm "$t/root" "$src" >"$t/log" 2>&1 || { tail -n 30 "$t/log" >&2; echo "rootfs.sh: mmdebstrap failed" >&2; exit 1; }
rm -rf "$t/root/var/cache/apt/archives"/*.deb "$t/root/var/lib/apt/lists"/*_Packages
mke2fs -q -t ext4 -L kflab-root -d "$t/root" "$t/img" 1G >"$t/mke2fs.log" 2>&1 || { cat "$t/mke2fs.log" >&2; exit 1; }
mv "$t/img" "$img"
echo "$fp" >"$img.inputs"
echo "KF_ROOTFS=$img"
