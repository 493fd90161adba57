#!/bin/sh
# tests/vm/kernel.sh — fetch a Debian 12 kernel for the VM tests, once.
#
# Usage:
#   eval "$(tests/vm/kernel.sh)"      # sets KF_VMLINUZ KF_MODULES KF_KVER KF_KPKG
#   tests/vm/kernel.sh --check        # also print the config check, one line each
#   tests/vm/kernel.sh --path         # print only the vmlinuz path
#
# Environment:
#   KF_CACHE          cache dir (default /var/cache/kickfleet); the kernel is
#                     unpacked in $KF_CACHE/kernel/<package>/
#   KF_KERNEL_FLAVOUR amd64 (default) or cloud
#
# Output (stdout, shell assignments, single-quoted):
#   KF_VMLINUZ=/…/boot/vmlinuz-<kver>   the kernel image
#   KF_MODULES=/…/lib/modules/<kver>    its modules, with modules.dep built
#   KF_KVER=<kver>                      uname -r inside the VM
#   KF_KPKG=<package>                   the Debian package it came from
#
# The package is resolved through the metapackage (linux-image-amd64 →
# linux-image-6.1.0-NN-amd64), downloaded with `apt-get download` and
# unpacked with `dpkg -x`: nothing is installed on the host. modules.dep is
# made with `depmod -b` (package kmod). Without package lists or network the
# newest kernel already in the cache is used.
#
# Why linux-image-amd64 and not the -cloud-amd64 flavour: the cloud kernel
# (6.1, Debian 12) has no 9p at all (CONFIG_NET_9P unset), which the VM runner
# uses to pass files in and results out; it also has no NUMA emulation and its
# vmlinuz is bigger (14 MB vs 8 MB, slower over TFTP). Both have NUMA,
# hugetlbfs, KSM, THP, bonding, 8021q, dummy, veth, bridge, macvlan, macvtap
# and virtio_net (as modules). The generic kernel is also what a real KVM
# host runs. KF_KERNEL_FLAVOUR=cloud still works for tests that need no share.
set -eu

mode=env
case ${1:-} in
--check) mode=check ;;
--path) mode=path ;;
-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
'') ;;
*) echo "kernel.sh: unknown argument: $1" >&2; exit 2 ;;
esac

cache=${KF_CACHE:-/var/cache/kickfleet}/kernel
flavour=${KF_KERNEL_FLAVOUR:-amd64}
case $flavour in amd64|cloud) ;; *) echo "kernel.sh: KF_KERNEL_FLAVOUR must be amd64 or cloud" >&2; exit 2 ;; esac
if [ "$flavour" = cloud ]; then meta=linux-image-cloud-amd64; else meta=linux-image-amd64; fi

say() { echo "kernel.sh: $*" >&2; }

resolve() {
	apt-cache depends "$meta" 2>/dev/null |
		sed -nE 's/^ *Depends: (linux-image-[0-9][^ ]*-'"$flavour"')$/\1/p' | head -n 1
}

mkdir -p "$cache"
# one fetcher at a time (parallel suites share the cache)
exec 9>"$cache/.lock"
flock 9

pkg=$(resolve)
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
	# no package lists yet: one update, then try again
	apt-get update -q >/dev/null 2>&1 || true
	pkg=$(resolve)
fi
if [ -z "$pkg" ] || { [ ! -f "$cache/$pkg/.ok" ] && ! apt-cache show "$pkg" >/dev/null 2>&1; }; then
	# offline: newest cached kernel of this flavour
	pkg=$(ls -1d "$cache"/linux-image-*-"$flavour" 2>/dev/null | sort -V | while read -r d; do
		[ -f "$d/.ok" ] && basename "$d"; done | tail -n 1)
	[ -n "$pkg" ] || { say "cannot resolve $meta and nothing cached in $cache"; exit 1; }
	say "using cached $pkg (could not resolve $meta)"
fi

dir=$cache/$pkg
if [ ! -f "$dir/.ok" ]; then
	say "fetching $pkg into $dir"
	tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# _apt cannot write into a root-only temp dir; that warning is harmless
	(cd "$tmp" && apt-get download -q "$pkg" >"$tmp/apt.log" 2>&1) || {
		cat "$tmp/apt.log" >&2; say "apt-get download $pkg failed"; exit 1; }
	mkdir "$tmp/x"
	dpkg -x "$tmp"/"$pkg"_*.deb "$tmp/x"
	kver=$(ls "$tmp/x/lib/modules" | head -n 1)
	depmod -b "$tmp/x" "$kver"
	rm -rf "$dir"
	mv "$tmp/x" "$dir"
	echo "$kver" >"$dir/.ok"
	rm -rf "$tmp"
	trap - EXIT
fi
kver=$(cat "$dir/.ok")
vmlinuz=$dir/boot/vmlinuz-$kver
modules=$dir/lib/modules/$kver
[ -f "$vmlinuz" ] && [ -f "$modules/modules.dep" ] || { say "broken cache entry $dir (remove it)"; exit 1; }

# What the VM tests need from the kernel: y (built in) or m (module).
need="NUMA HUGETLBFS HUGETLB_PAGE TRANSPARENT_HUGEPAGE KSM BONDING VLAN_8021Q
 DUMMY VETH BRIDGE MACVLAN MACVTAP TUN VIRTIO_PCI VIRTIO_NET VIRTIO_BLK
 DEVTMPFS BLK_DEV_INITRD RD_GZIP SERIAL_8250_CONSOLE PACKET"
[ "$flavour" = amd64 ] && need="$need NET_9P NET_9P_VIRTIO 9P_FS"
nice="X86_DIRECT_GBPAGES NUMA_EMU VIRTIO_FS"
config=$dir/boot/config-$kver
missing=
for o in $need $nice; do
	v=$(sed -n "s/^CONFIG_$o=//p" "$config")
	case $v in y|m) st=$v ;; *) st=no ;; esac
	[ "$mode" = check ] && printf 'CONFIG_%s=%s\n' "$o" "$st" >&2
	if [ "$st" = no ]; then
		case " $nice " in *" $o "*) ;; *) missing="$missing $o" ;; esac
	fi
done
if [ -n "$missing" ]; then
	say "$pkg lacks:$missing"
	exit 1
fi

case $mode in
path) echo "$vmlinuz" ;;
*)
	printf "KF_VMLINUZ='%s'\nKF_MODULES='%s'\nKF_KVER='%s'\nKF_KPKG='%s'\n" \
		"$vmlinuz" "$modules" "$kver" "$pkg"
	printf 'export KF_VMLINUZ KF_MODULES KF_KVER KF_KPKG\n'
	;;
esac
