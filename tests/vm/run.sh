#!/bin/sh
# tests/vm/run.sh — run one test script on a real Debian kernel in QEMU (TCG).
#
# Usage:
#   tests/vm/run.sh --script T.sh [options] [-- EXTRA QEMU ARGS]
# Image (passed on to tests/vm/initramfs.sh unless --initrd is given):
#   --script FILE       script to run inside the VM (/bin/sh, busybox)
#   --module NAME       kernel module to load (repeatable; deps resolved)
#   --bin PATH[:DEST]   binary plus the shared libraries it needs (repeatable)
#   --file SRC[:DEST]   extra file or directory (repeatable)
#   --initrd FILE       use this initramfs as is (then --script etc. are ignored)
#   --kernel FILE       kernel image (default: tests/vm/kernel.sh)
# Machine:
#   --machine SPEC      -machine (default pc), e.g. q35,kernel-irqchip=split
#   --mem SIZE          guest memory, e.g. 1G or 1536M (default 1G)
#   --smp N             vCPUs (default 2)
#   --numa N            NUMA nodes, memory and CPUs split evenly (default 2;
#                       0 or 1: no -numa options)
#   --cpu MODEL         -cpu (default max: has pdpe1gb, so 1G pages exist)
#   --share DIR         9p-share DIR read-write; the guest has it at /mnt/share
#                       and in $KF_SHARE
#   --nic SPEC          extra virtio NIC (repeatable), SPEC is comma-separated:
#                       tap=IFNAME (an existing tap; QEMU must run in its netns),
#                       hub=N (QEMU-internal hub: NICs on the same hub reach each
#                       other, nothing leaves QEMU; the default is a hub of its
#                       own), mac=MAC. `--nic ''` adds a NIC with no peer.
#   --env NAME=VALUE    environment for the script (via the kernel command line;
#                       no spaces in VALUE)
#   --append ARGS       extra kernel command line
#   --timeout SECS      hard limit, QEMU is killed after it (default 120)
# Output:
#   --log FILE          keep the serial log here (default: a temp file, removed)
#   --quiet             on success print nothing of the guest's output
#
# On success the script's console output (between the KF-VM-START and
# KF-VM-EXIT markers) goes to stdout, and one line to stderr:
#   vm: exit=0 boot-to-script=S.SSs (guest uptime S.SSs) total=S.SSs
# (boot-to-script: QEMU start until the script starts, seen from the host).
# On failure (also a non-zero exit of the script) nothing goes to stdout and
# the whole serial log goes to stderr.
# Exit status: the script's exit code; 124 timeout; 125 the VM stopped without
# a KF-VM-EXIT marker (boot failure, panic, QEMU error); 2 usage error.
# Environment: KF_CACHE (kernel cache, see kernel.sh), KF_QEMU (binary,
# default qemu-system-x86_64).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
script= initrd= kernel= machine=pc mem=1G smp=2 numa=2 cpu=max share= timeout=120
log= quiet= append= envs= nics=
imgargs= keys=
usage() { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
need() { [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }; }
# collect image arguments with their values quoted for a later eval
addimg() { imgargs="$imgargs $1 '$(printf %s "$2" | sed "s/'/'\\\\''/g")'"; }
# content_key OPT VALUE: what the image depends on, by content not by path
# (tests often pass scripts from fresh temp dirs)
content_key() {
	case $1 in
	--module) echo "module $2" ;;
	--script) echo "script $(sha256sum <"$2" 2>/dev/null | cut -c1-64)" ;;
	*)
		_src=${2%%:*} _dest=${2#*:}
		[ "$_dest" = "$2" ] && _dest=$_src
		echo "$1 $_dest $(find -L "$_src" -type f -print0 2>/dev/null | sort -z |
			xargs -0r sha256sum 2>/dev/null | sed "s|  $_src|  |" | sha256sum | cut -c1-64)"
		;;
	esac
}
while [ $# -gt 0 ]; do
	case $1 in
	--script) need "$@"; script=$2; addimg "$1" "$2"; keys="$keys
$(content_key "$1" "$2")"; shift 2 ;;
	--module|--bin|--file) need "$@"; addimg "$1" "$2"; keys="$keys
$(content_key "$1" "$2")"; shift 2 ;;
	--initrd) need "$@"; initrd=$2; shift 2 ;;
	--kernel) need "$@"; kernel=$2; shift 2 ;;
	--machine) need "$@"; machine=$2; shift 2 ;;
	--mem) need "$@"; mem=$2; shift 2 ;;
	--smp) need "$@"; smp=$2; shift 2 ;;
	--numa) need "$@"; numa=$2; shift 2 ;;
	--cpu) need "$@"; cpu=$2; shift 2 ;;
	--share) need "$@"; share=$2; shift 2 ;;
	--nic) need "$@"; nics="$nics
$2"; shift 2 ;;
	--env) need "$@"; envs="$envs $2"; shift 2 ;;
	--append) need "$@"; append="$append $2"; shift 2 ;;
	--timeout) need "$@"; timeout=$2; shift 2 ;;
	--log) need "$@"; log=$2; shift 2 ;;
	--quiet) quiet=1; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	*) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done
[ -n "$script" ] || [ -n "$initrd" ] || { echo "run.sh: --script or --initrd is required" >&2; exit 2; }
[ -z "$share" ] || [ -d "$share" ] || { echo "run.sh: --share $share is not a directory" >&2; exit 2; }

# memory in MiB
case $mem in
*[Gg]) mib=$(( ${mem%[Gg]} * 1024 )) ;;
*[Mm]) mib=${mem%[Mm]} ;;
*[!0-9]*|'') echo "run.sh: bad --mem $mem" >&2; exit 2 ;;
*) mib=$mem ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kf-vm.XXXXXX")
qpid=
cleanup() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null; sleep 0.2; kill -9 "$qpid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [ -z "$kernel" ]; then
	eval "$("$here/kernel.sh")"
	kernel=$KF_VMLINUZ
	addimg --modules-dir "$KF_MODULES"
fi
if [ -z "$initrd" ]; then
	# cache images by the content of their inputs under $KF_CACHE/initramfs;
	# keep the 24 most recently used
	key=$(printf '%s\n' "$keys" "$kernel" | sha256sum | cut -c1-16)
	idir=${KF_CACHE:-/var/cache/kickfleet}/initramfs
	mkdir -p "$idir"
	initrd=$idir/vm-$key.cpio.gz
	[ -f "$initrd" ] && touch "$initrd"
	ls -1t "$idir"/vm-*.cpio.gz 2>/dev/null | tail -n +25 | while read -r old; do
		rm -f "$old" "$old.inputs"
	done
	eval "\"\$here/initramfs.sh\" -o \"\$initrd\" $imgargs" || { echo "run.sh: initramfs build failed" >&2; exit 125; }
fi
[ -n "$log" ] || log=$tmp/serial.log
: >"$log"

set -- -accel tcg -machine "$machine" -cpu "$cpu" -smp "$smp" -m "${mib}M" \
	-nodefaults -no-user-config -display none -monitor none -no-reboot \
	-serial "file:$log" -kernel "$kernel" -initrd "$initrd" "$@"
# NUMA: node k gets cpus [k*smp/n, (k+1)*smp/n) and mib/n of memory
if [ "$numa" -gt 1 ]; then
	[ "$smp" -ge "$numa" ] || { echo "run.sh: --smp must be >= --numa" >&2; exit 2; }
	k=0 rest=$mib
	while [ "$k" -lt "$numa" ]; do
		c0=$(( k * smp / numa )); c1=$(( (k + 1) * smp / numa - 1 ))
		if [ "$k" -eq $((numa - 1)) ]; then sz=$rest; else sz=$(( mib / numa )); fi
		rest=$(( rest - sz ))
		set -- "$@" -object "memory-backend-ram,id=kfmem$k,size=${sz}M" \
			-numa "node,nodeid=$k,cpus=$c0-$c1,memdev=kfmem$k"
		k=$((k + 1))
	done
fi
if [ -n "$share" ]; then
	set -- "$@" -fsdev "local,id=kfshare,path=$share,security_model=none" \
		-device virtio-9p-pci,fsdev=kfshare,mount_tag=kfshare
fi
# extra NICs; the default hub of each is its own (ids from 100 up)
n=0
oldifs=$IFS
IFS='
'
for spec in $nics; do
	IFS=,
	tap= hub= mac=
	for kv in $spec; do
		case $kv in
		tap=*) tap=${kv#tap=} ;;
		hub=*) hub=${kv#hub=} ;;
		mac=*) mac=${kv#mac=} ;;
		'') ;;
		*) IFS=$oldifs; echo "run.sh: bad --nic part: $kv" >&2; exit 2 ;;
		esac
	done
	dev=virtio-net-pci,netdev=kfnet$n,romfile=
	[ -n "$mac" ] && dev="$dev,mac=$mac"
	if [ -n "$tap" ]; then
		set -- "$@" -netdev "tap,id=kfnet$n,ifname=$tap,script=no,downscript=no" -device "$dev"
	else
		set -- "$@" -netdev "hubport,id=kfnet$n,hubid=${hub:-$((100 + n))}" -device "$dev"
	fi
	n=$((n + 1))
	IFS='
'
done
IFS=$oldifs

cmdline="console=ttyS0 panic=-1 loglevel=4 $envs $append"
t0=$(date +%s.%N)
"${KF_QEMU:-qemu-system-x86_64}" "$@" -append "$cmdline" >"$tmp/qemu.out" 2>&1 </dev/null &
qpid=$!
timed_out= t_start=
deadline=$(( $(date +%s) + timeout ))
while :; do
	if [ -z "$t_start" ] && grep -q '^KF-VM-START ' "$log"; then t_start=$(date +%s.%N); fi
	kill -0 "$qpid" 2>/dev/null || break
	if [ "$(date +%s)" -ge "$deadline" ]; then
		timed_out=1
		kill "$qpid" 2>/dev/null || true
		break
	fi
	# the marker is printed just before poweroff; the VM ends by itself
	sleep 0.1
done
qrc=0
wait "$qpid" || qrc=$?
qpid=
t1=$(date +%s.%N)

tr -d '\r' <"$log" >"$tmp/clean.log"
rc=$(sed -n 's/^KF-VM-EXIT=\([0-9][0-9]*\)$/\1/p' "$tmp/clean.log" | tail -n 1)
up=$(sed -n 's/^KF-VM-START uptime=\([0-9.]*\)$/\1/p' "$tmp/clean.log" | tail -n 1)
total=$(echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }')
host_up=$(echo "$t0 ${t_start:-}" | awk 'NF == 2 { printf "%.2f", $2 - $1 }')

fail() { # CODE WHY
	{
		echo "run.sh: $2 (qemu exit $qrc, boot-to-script ${host_up:-?}s, total ${total}s)"
		if [ -s "$tmp/qemu.out" ]; then echo "--- qemu output"; cat "$tmp/qemu.out"; fi
		echo "--- serial log ($log)"
		cat "$tmp/clean.log"
		echo "--- end of serial log"
	} >&2
	exit "$1"
}
if [ -n "$timed_out" ] && [ -z "$rc" ]; then fail 124 "timeout after ${timeout}s"; fi
[ -n "$rc" ] || fail 125 "no KF-VM-EXIT marker: the VM did not finish its script"

[ "$rc" -eq 0 ] || fail "$rc" "the script exited $rc"
if [ -z "$quiet" ]; then
	sed -n '/^KF-VM-START /,/^KF-VM-EXIT=/{ /^KF-VM-START /d; /^KF-VM-EXIT=/d; p; }' "$tmp/clean.log"
fi
echo "vm: exit=0 boot-to-script=${host_up:-?}s (guest uptime ${up:-?}s) total=${total}s" >&2
exit 0
