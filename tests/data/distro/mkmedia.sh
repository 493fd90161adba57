#!/bin/sh
# Builds the install media the distro tests import, under DIR:
#   DIR/tree/          a RHEL-family disc tree: .treeinfo (with sha256 checksums),
#                      .discinfo, images/pxeboot/{vmlinuz,initrd.img}, Packages/, repodata/
#   DIR/disc.iso       the same tree as an ISO 9660 image (xorriso, Rock Ridge + Joliet)
#   DIR/discinfo/      a tree with .discinfo only
#   DIR/notreeinfo.iso an ISO with the kernels but no .treeinfo/.discinfo
#   DIR/truncated.iso  disc.iso cut in half
#   DIR/nokernel/      a tree whose .treeinfo names kernels that are not there
# usage: mkmedia.sh DIR
set -eu
D=$1
mkdir -p "$D"
T=$D/tree
rm -rf "$T" "$D/discinfo" "$D/nokernel" "$D/plain"
mkdir -p "$T/images/pxeboot" "$T/Packages" "$T/repodata"
# random "kernel" and "initrd" bytes (not compressible, like the real ones)
gen() { head -c "$2" /dev/urandom; }
gen kernel 311296 >"$T/images/pxeboot/vmlinuz"
gen initrd 1572864 >"$T/images/pxeboot/initrd.img"
gen pkg 700001 >"$T/Packages/bash-5.1.8-6.el9.x86_64.rpm"
gen pkg2 5000 >"$T/Packages/zlib-1.2.11-40.el9.x86_64.rpm"
printf '<repomd/>\n' >"$T/repodata/repomd.xml"
ks=$(sha256sum "$T/images/pxeboot/vmlinuz" | cut -d' ' -f1)
is=$(sha256sum "$T/images/pxeboot/initrd.img" | cut -d' ' -f1)
cat >"$T/.treeinfo" <<TI
[header]
type = productmd.treeinfo
version = 1.2

[release]
name = Rocky Linux
short = Rocky
version = 9.3

[tree]
arch = x86_64
build_timestamp = 1700000000
platforms = x86_64,xen
variants = BaseOS

[general]
; the older keys, as anaconda still reads them
arch = x86_64
family = Rocky Linux
name = Rocky Linux 9.3
packagedir = Packages
version = 9.3

[images-x86_64]
initrd = images/pxeboot/initrd.img
kernel = images/pxeboot/vmlinuz

[checksums]
images/pxeboot/initrd.img = sha256:$is
images/pxeboot/vmlinuz = sha256:$ks
TI
printf '1700000000.000000\nRocky Linux 9.3\nx86_64\nALL\n' >"$T/.discinfo"

cp -a "$T" "$D/discinfo"
rm "$D/discinfo/.treeinfo"
cp -a "$T" "$D/nokernel"
rm -r "$D/nokernel/images"
cp -a "$T" "$D/plain"
rm "$D/plain/.treeinfo" "$D/plain/.discinfo"

mkiso() { xorriso -as mkisofs -quiet -R -J -V "$3" -o "$1" "$2" 2>/dev/null; }
rm -f "$D/disc.iso" "$D/notreeinfo.iso" "$D/truncated.iso"
mkiso "$D/disc.iso" "$T" ROCKY93
mkiso "$D/notreeinfo.iso" "$D/plain" NOTREE
size=$(stat -c %s "$D/disc.iso")
head -c $((size / 2)) "$D/disc.iso" >"$D/truncated.iso"
