# tests/e2e/installer.sh — the lab's test installer (run by the initramfs
# /init of tests/vm/initramfs.sh as /kf/test.sh, with dash as /bin/sh).
#
# It does with a kickstart what an installer does, minus the packages:
#   1. DHCP on the boot NIC (BOOTIF= from pxelinux's IPAPPEND 2 names it by
#      MAC, else the first NIC) with udhcpc;
#   2. the kickstart URL from the kernel command line (inst.ks= or ks=, as
#      kickfleet renders it), fetched over HTTP with its token (curl);
#   3. every %pre section, then every %post section, in file order, each
#      with /bin/sh (or its --interpreter), output to the console and to
#      its --log file; --erroronfail stops the install on a failure.
#      %post runs with SYSTEMD_OFFLINE=1, as in Anaconda's chroot, so
#      `systemctl enable` works on the unit files without a systemd; on a
#      machine with the lab's installed-system disk (see "the target"),
#      %post runs chrooted into it, and the next boot is that disk's.
# The kickstart's own %pre/%post report `installing` and `installed` to
# kickfleet (kickstart/snippets/callback-*.ks); /init powers off after.
#
# Lab-only kernel arguments (a role's kernel_args):
#   kflab.steal=HOST   before its own kickstart, ask for HOST's kickstart
#                      with this host's token (the server must say 403)
# Console lines for the tests, all starting with KF-INSTALLER:
#   KF-INSTALLER boot nic=IF mac=MAC
#   KF-INSTALLER lease ip=IP
#   KF-INSTALLER steal host=HOST status=CODE
#   KF-INSTALLER ks url=URL status=CODE bytes=N
#   KF-INSTALLER target /dev/vda mounted at /mnt/sysimage
#   KF-INSTALLER section N %pre|%post exit=RC
#   KF-INSTALLER target unmounted
#   KF-INSTALLER no kickstart on the command line (not installing)
#   KF-INSTALLER done | failed: WHY
say() { echo "KF-INSTALLER $*"; }
die() { say "failed: $*"; exit 1; }

cmdline=$(cat /proc/cmdline)
arg() { # NAME: value of NAME= on the kernel command line (last wins)
	v=
	for w in $cmdline; do
		case $w in "$1"=*) v=${w#"$1"=} ;; esac
	done
	printf '%s' "$v"
}

# --- the boot NIC ---
nic=
bootif=$(arg BOOTIF)
if [ -n "$bootif" ]; then
	want=$(echo "${bootif#01-}" | tr - : | tr 'A-F' 'a-f')
	for d in /sys/class/net/*; do
		[ "$(cat "$d/address" 2>/dev/null)" = "$want" ] && nic=${d##*/}
	done
fi
if [ -z "$nic" ]; then
	for d in /sys/class/net/eth*; do [ -e "$d" ] && { nic=${d##*/}; break; }; done
fi
[ -n "$nic" ] || die "no network interface"
say "boot nic=$nic mac=$(cat /sys/class/net/$nic/address)"
ip link set "$nic" up
udhcpc -i "$nic" -n -q -t 10 -T 2 -s /usr/share/udhcpc/default.script >/tmp/udhcpc.log 2>&1 ||
	{ cat /tmp/udhcpc.log; die "no DHCP lease on $nic"; }
grep '^udhcpc: ' /tmp/udhcpc.log
ip=$(ip -4 -o addr show dev "$nic" | awk '{ print $4 }' | cut -d/ -f1)
say "lease ip=$ip"

ks=$(arg inst.ks)
[ -n "$ks" ] || ks=$(arg ks)
if [ -z "$ks" ]; then
	say "no kickstart on the command line (not installing)"
	exit 0
fi

# --- lab: ask for another host's kickstart with our token ---
steal=$(arg kflab.steal)
if [ -n "$steal" ]; then
	other=$(echo "$ks" | sed "s|/ks/[^/?]*?|/ks/$steal?|")
	code=$(curl -s -o /tmp/stolen -w '%{http_code}' "$other")
	say "steal host=$steal status=$code bytes=$(wc -c </tmp/stolen)"
	# nothing of the other host may leak into the answer
	grep -q 'rootpw\|token=' /tmp/stolen && say "steal leaked: $(head -c 200 /tmp/stolen)"
fi

# --- the kickstart ---
code=$(curl -s --retry 3 -o /tmp/ks.cfg -w '%{http_code}' "$ks")
say "ks url=$(echo "$ks" | sed 's/token=[0-9a-f]*/token=.../') status=$code bytes=$(wc -c </tmp/ks.cfg)"
[ "$code" = 200 ] || die "kickstart: HTTP $code"

# --- split into sections: /tmp/ks.d/NN.kind, NN.opts, NN.sh ---
mkdir -p /tmp/ks.d
awk '
	function flush() { if (out != "") close(out); out = "" }
	/^%(pre|post)([ \t]|$)/ {
		flush(); n++
		kind = substr($1, 2)
		f = sprintf("/tmp/ks.d/%02d", n)
		print kind > (f ".kind"); close(f ".kind")
		opts = $0; sub(/^%[a-z]+[ \t]*/, "", opts)
		print opts > (f ".opts"); close(f ".opts")
		out = f ".sh"; printf "" > out
		next
	}
	/^%end[ \t]*$/ { flush(); next }
	/^%/ { flush(); next }         # %packages and the like: not run here
	out != "" { print > out }
' /tmp/ks.cfg

run_sections() { # KIND
	for k in /tmp/ks.d/*.kind; do
		[ -f "$k" ] || continue
		[ "$(cat "$k")" = "$1" ] || continue
		f=${k%.kind}
		n=${f##*/}
		interp=/bin/sh log= erroronfail=
		for o in $(cat "$f.opts"); do
			case $o in
			--erroronfail) erroronfail=1 ;;
			--log=*) log=${o#--log=} ;;
			--interpreter=*) interp=${o#--interpreter=} ;;
			esac
		done
		[ -n "$log" ] && mkdir -p "$(dirname "$log")"
		if [ "$1" = post ] && [ -n "$target" ] && ! grep -qw -- --nochroot "$f.opts"; then
			mkdir -p "$target/tmp/ks.d"
			cp "$f.sh" "$target/tmp/ks.d/"
			[ -n "$log" ] && mkdir -p "$target$(dirname "$log")"
			SYSTEMD_OFFLINE=1 chroot "$target" "$interp" "/tmp/ks.d/$n.sh" >"$f.out" 2>&1
		elif [ "$1" = post ]; then
			SYSTEMD_OFFLINE=1 "$interp" "$f.sh" >"$f.out" 2>&1
		else
			"$interp" "$f.sh" >"$f.out" 2>&1
		fi
		rc=$?
		sed "s/^/[%$1 $n] /" "$f.out"
		[ -n "$log" ] && cat "$f.out" >>"$target$log"
		say "section $n %$1 exit=$rc"
		[ "$rc" = 0 ] || [ -z "$erroronfail" ] || die "%$1 section $n exited $rc"
	done
}
# --- the target: a disk with the lab's installed system, else none ---
# A machine with a virtio disk labelled kflab-root (tests/vm/rootfs.sh: a
# Debian root with systemd) gets it mounted at /mnt/sysimage, and %post
# runs chrooted into it, as Anaconda runs %post (--nochroot: in the
# installer).  Without one, %post runs in the installer's own root.
target=
# (the ext4 volume name at byte 1144: superblock at 1024, s_volume_name at 0x78)
if [ -b /dev/vda ] && [ "$(dd if=/dev/vda bs=1 skip=1144 count=10 2>/dev/null)" = kflab-root ]; then
	target=/mnt/sysimage
	mkdir -p $target
	mount -t ext4 /dev/vda $target || die "cannot mount /dev/vda"
	for m in proc sys dev dev/pts run; do mkdir -p "$target/$m"; mount --bind "/$m" "$target/$m"; done
	cp /etc/resolv.conf "$target/etc/resolv.conf" 2>/dev/null
	# the lab's stand-ins for what the Debian root lacks of an EL one:
	# dnf (tests/e2e/lab-dnf.sh) and rpm (busybox's), /etc/yum.repos.d
	mkdir -p "$target/usr/local/bin" "$target/etc/yum.repos.d"
	cp /usr/bin/dnf "$target/usr/bin/dnf"
	cp "$(command -v busybox)" "$target/usr/local/bin/busybox"
	ln -sf /usr/local/bin/busybox "$target/usr/bin/rpm"
	say "target /dev/vda mounted at $target"
fi
# the directories an EL root has that the shipped %post writes into
mkdir -p /root /etc/systemd/system /etc/yum.repos.d /var/lib
run_sections pre
run_sections post

# --- unmount the installed system; /init powers off ---
if [ -n "$target" ]; then
	sync
	for m in run dev/pts dev sys proc ""; do umount "$target/$m" 2>/dev/null; done
	say "target unmounted"
fi
say done
