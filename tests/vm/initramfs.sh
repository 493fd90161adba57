#!/bin/sh
# tests/vm/initramfs.sh — build a busybox initramfs that runs one test script.
#
# Usage:
#   tests/vm/initramfs.sh -o OUT.cpio.gz --script T.sh [options]
# Options:
#   -o FILE             output (gzip'd newc cpio); required
#   --script FILE       the test script, run as `/bin/sh /kf/test.sh` (required)
#   --module NAME[:P=V[:P=V]...]
#                       kernel module to load at boot, with its dependencies
#                       from modules.dep (repeatable; built-ins are skipped),
#                       with module parameters P=V. Defaults that keep the
#                       kernel from making devices of its own: bonding
#                       max_bonds=0, dummy numdummies=0 (no bond0/dummy0)
#   --no-default-modules  do not add the default set (virtio_pci virtio_net
#                       9p 9pnet_virtio)
#   --bin PATH[:DEST]   a binary, copied to DEST (default: PATH) together with
#                       every shared library ldd names and the dynamic loader;
#                       a busybox applet of the same name is removed. With any
#                       --bin, /bin/sh is dash (Debian's /bin/sh, with libc
#                       already there): busybox's own sh always runs its
#                       applet (e.g. its `ip`) whatever PATH says
#   --file SRC[:DEST]   a file or directory, copied to DEST (default: SRC)
#   --modules-dir DIR   lib/modules/<kver> to take modules from
#                       (default: from tests/vm/kernel.sh)
# Environment: KF_CACHE (see kernel.sh).
#
# With kfroot=DEV on the kernel command line, /init mounts DEV (ext4) and
# switch_roots to its /sbin/init after loading the modules: the lab's way
# to boot an installed disk (tests/vm/rootfs.sh) with this kernel.
# The image's /init mounts proc, sys, devtmpfs, /tmp, /run, hugetlbfs at
# /dev/hugepages and (if the VM has a 9p device tagged "kfshare") the share at
# /mnt/share (exported as KF_SHARE), loads the modules in dependency order,
# brings lo up and runs the script from /kf with the environment the kernel
# gave init (NAME=VALUE words on the kernel command line). It prints
#   KF-VM-START uptime=<seconds since kernel start>
# before the script and, after it,
#   KF-VM-EXIT=<exit code>
# on the console, then powers off (poweroff -f). /usr/share/udhcpc/default.script
# configures address, route and resolv.conf for `udhcpc -i eth0`.
#
# The output is rebuilt only when an input changed: OUT.inputs holds a
# fingerprint of the arguments and the content of every input file.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out= script= modules_dir= default_mods=1
mods= bins= files=
usage() { echo "usage: $0 -o OUT --script FILE [--module M]... [--bin P[:D]]... [--file S[:D]]... [--modules-dir DIR] [--no-default-modules]" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	-o) out=$2; shift 2 ;;
	--script) script=$2; shift 2 ;;
	--module) mods="$mods $2"; shift 2 ;;
	--no-default-modules) default_mods=; shift ;;
	--bin) bins="$bins $2"; shift 2 ;;
	--file) files="$files $2"; shift 2 ;;
	--modules-dir) modules_dir=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "initramfs.sh: unknown argument: $1" >&2; usage ;;
	esac
done
[ -n "$out" ] && [ -n "$script" ] || usage
[ -f "$script" ] || { echo "initramfs.sh: no such script: $script" >&2; exit 2; }
[ -n "$default_mods" ] && mods="virtio_pci virtio_net 9p 9pnet_virtio $mods"
if [ -z "$modules_dir" ]; then
	eval "$("$here/kernel.sh")"
	modules_dir=$KF_MODULES
fi
[ -f "$modules_dir/modules.dep" ] || { echo "initramfs.sh: no modules.dep in $modules_dir" >&2; exit 2; }
kver=$(basename "$modules_dir")
busybox=$(command -v busybox)
# busybox must be static: nothing else in the image provides a libc for it
if ldd "$busybox" >/dev/null 2>&1; then echo "initramfs.sh: $busybox is not static (install busybox-static)" >&2; exit 2; fi

# --- fingerprint: arguments (sources by content, not path) + tool versions ---
fingerprint() {
	echo "v3 $kver default=$default_mods mods=$mods"
	for p in "$0" "$busybox" "$modules_dir/modules.dep"; do
		stat -L -c '%n %s %Y' "$p"
	done
	echo "script $(sha256sum <"$script")"
	for spec in $bins $files; do
		src=${spec%%:*}; dest=${spec#*:}; [ "$dest" = "$spec" ] && dest=$src
		echo "$dest"
		(cd "$src" 2>/dev/null && find -L . -type f -print0 | sort -z | xargs -0r sha256sum) ||
			sha256sum <"$src" 2>/dev/null
	done
}
fp=$(fingerprint | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ "$(cat "$out.inputs" 2>/dev/null)" = "$fp" ]; then
	exit 0
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/kf-initramfs.XXXXXX")
trap 'rm -rf "$stage" "$out.tmp.$$"' EXIT
r=$stage/root
mkdir -p "$r"/bin "$r"/sbin "$r"/usr/bin "$r"/usr/sbin "$r"/etc "$r"/proc "$r"/sys \
	"$r"/dev "$r"/tmp "$r"/run "$r"/mnt/share "$r"/kf "$r"/root "$r"/var/run \
	"$r"/lib/modules "$r"/usr/share/udhcpc
ln -s lib "$r"/lib64
chmod 1777 "$r"/tmp

# --- busybox and its applets ---
cp "$busybox" "$r"/bin/busybox
"$busybox" --list-full | while read -r a; do
	[ "$a" = bin/busybox ] && continue
	mkdir -p "$r/$(dirname "$a")"
	ln -sf /bin/busybox "$r/$a"
done
[ "$(id -u)" = 0 ] && mknod -m 600 "$r"/dev/console c 5 1 && mknod -m 666 "$r"/dev/null c 1 3

# --- modules, dependencies first ---
# awk: map module name (dashes as underscores) → path and deps; depth-first.
params=
names=
for spec in $mods; do
	n=${spec%%:*}
	names="$names $n"
	[ "$n" = "$spec" ] || params="$params $(echo "$n" | tr - _):${spec#*:}"
done
case " $params " in *" bonding:"*) ;; *) params="$params bonding:max_bonds=0" ;; esac
case " $params " in *" dummy:"*) ;; *) params="$params dummy:numdummies=0" ;; esac
order=$(awk -v want="$names" -v builtin="$modules_dir/modules.builtin" '
	function norm(s) { sub(/.*\//, "", s); sub(/\.ko(\.[a-z]+)?$/, "", s); gsub(/-/, "_", s); return s }
	function visit(m,   i, n, d) {
		if (m in seen) return
		seen[m] = 1
		n = split(deps[m], d, " ")
		# modules.dep lists the deepest dependency last: load from the end
		for (i = n; i >= 1; i--) visit(norm(d[i]))
		print path[m]
	}
	BEGIN { while ((getline l < builtin) > 0) bi[norm(l)] = 1 }
	{ k = $1; sub(/:$/, "", k); m = norm(k); path[m] = k; $1 = ""; deps[m] = $0 }
	END {
		n = split(want, w, " ")
		for (i = 1; i <= n; i++) {
			m = norm(w[i])
			if (m in path) visit(m)
			else if (!(m in bi)) { print "initramfs.sh: no module " w[i] > "/dev/stderr"; bad = 1 }
		}
		exit bad
	}' "$modules_dir/modules.dep")
mkdir -p "$r/lib/modules/$kver"
# the kernel's module index, as a distro's initrd has it: modprobe by
# name or alias works for the modules copied (the discovery image's
# /init loads its devices' drivers so, docs/discovery.md)
for f in modules.dep modules.alias modules.builtin; do
	[ -f "$modules_dir/$f" ] && cp "$modules_dir/$f" "$r/lib/modules/$kver/$f"
done
for m in $order; do
	mkdir -p "$r/lib/modules/$kver/$(dirname "$m")"
	cp "$modules_dir/$m" "$r/lib/modules/$kver/$m"
	n=$(basename "$m" .ko | tr - _)
	p=
	for kv in $params; do
		[ "${kv%%:*}" = "$n" ] && p=$(echo "${kv#*:}" | tr : ' ')
	done
	echo "$m $p"
done >"$r/kf/modules"

# --- binaries with their libraries ---
copy_with_libs() { # SRC DEST
	mkdir -p "$r$(dirname "$2")"
	rm -f "$r$2"
	cp -L "$1" "$r$2"
	ldd "$1" 2>/dev/null | awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }' | while read -r lib; do
		[ -e "$r$lib" ] && continue
		mkdir -p "$r$(dirname "$lib")"
		cp -L "$lib" "$r$lib"
	done
}
for spec in $bins; do
	src=${spec%%:*}; dest=${spec#*:}; [ "$dest" = "$spec" ] && dest=$src
	[ -f "$src" ] || { echo "initramfs.sh: no such binary: $src" >&2; exit 2; }
	name=$(basename "$dest")
	for d in bin sbin usr/bin usr/sbin; do
		[ -L "$r/$d/$name" ] && rm -f "$r/$d/$name"
	done
	copy_with_libs "$src" "$dest"
done
if [ -n "$bins" ]; then
	copy_with_libs "$(readlink -f /bin/dash)" /bin/dash
	ln -sf dash "$r/bin/sh"
fi

# --- extra files ---
for spec in $files; do
	src=${spec%%:*}; dest=${spec#*:}; [ "$dest" = "$spec" ] && dest=$src
	[ -e "$src" ] || { echo "initramfs.sh: no such file: $src" >&2; exit 2; }
	mkdir -p "$r$(dirname "$dest")"
	rm -rf "$r$dest"
	cp -a "$src" "$r$dest"
done

cp "$script" "$r/kf/test.sh"
echo "$kver" >"$r/kf/kver"

cat >"$r/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc hook: configure the interface from the lease
case $1 in
deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	for r in $router; do ip route add default via "$r" dev "$interface"; break; done
	: >/etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
	echo "udhcpc: $interface $ip/${mask:-24} router=${router:-} dns=${dns:-} server=${serverid:-}"
	;;
esac
exit 0
EOF
chmod 755 "$r/usr/share/udhcpc/default.script"

cat >"$r/init" <<'EOF'
#!/bin/sh
# kickfleet VM test init: mount, load modules, run /kf/test.sh, report, power off
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm /dev/hugepages
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t hugetlbfs hugetlbfs /dev/hugepages 2>/dev/null
kver=$(cat /kf/kver)
while read -r m p; do
	insmod "/lib/modules/$kver/$m" $p 2>/dev/null || {
		grep -q "^$(basename "$m" .ko | tr - _) " /proc/modules ||
			echo "kf-init: insmod $m failed"; }
done </kf/modules
# kfroot=DEV: boot the system installed on DEV (its own /sbin/init)
for w in $(cat /proc/cmdline); do
	case $w in kfroot=*)
		mkdir -p /newroot
		mount -t ext4 "${w#kfroot=}" /newroot || { echo "kf-init: cannot mount ${w#kfroot=}"; poweroff -f; }
		umount /dev/hugepages /dev/shm /dev/pts 2>/dev/null
		for m in dev proc sys run; do mount --move /$m /newroot/$m; done
		echo "kf-init: switching to ${w#kfroot=}"
		exec switch_root /newroot /sbin/init
		;;
	esac
done
ip link set lo up
for t in /sys/bus/virtio/drivers/9pnet_virtio/virtio*/mount_tag; do
	[ -f "$t" ] || continue
	if [ "$(tr -d '\0' <"$t")" = kfshare ]; then
		mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 kfshare /mnt/share &&
			export KF_SHARE=/mnt/share
	fi
done
read -r up _ </proc/uptime
echo "KF-VM-START uptime=$up"
cd /kf
/bin/sh /kf/test.sh
rc=$?
cd /
sync
[ -n "${KF_SHARE:-}" ] && umount /mnt/share
echo "KF-VM-EXIT=$rc"
poweroff -f
EOF
chmod 755 "$r/init"

mkdir -p "$(dirname "$out")"
(cd "$r" && find . | sort | busybox cpio -o -H newc 2>/dev/null) | gzip -6 >"$out.tmp.$$"
mv "$out.tmp.$$" "$out"
echo "$fp" >"$out.inputs"
