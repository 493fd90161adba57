#!/bin/sh
# bench/distro.sh — `kickfleet distro import` of a 1 GiB ISO the benchmark
# builds (xorriso: .treeinfo, kernel, initrd and one large package), against
# `cp` of the same file as the floor.  The import runs with --copy (no hard
# link, as when the ISO sits on another filesystem), so both move the same
# gigabyte; it also reads the image's directory twice (libarchive and the
# in-place reader) and extracts and hashes kernel and initrd.  Each side
# runs RUNS times on a warm page cache; the best times are compared.
# Target: import within 1.5x of cp.  Also printed: the default import
# (hard link) and a re-import of the same media (a no-op).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
KF=$TOP/build/kickfleet
RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-1024}
[ -x "$KF" ] || { echo "distro: $KF not built (make)"; exit 1; }
command -v xorriso >/dev/null || { echo "distro: xorriso missing (scripts/deps.sh check)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kf-bench-distro.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
now() { date +%s.%N; }
best() { sort -n | head -1; }
calc() { awk "BEGIN { print $1 }"; }

# the media: about SIZE_MB MiB in all
T=$tmp/tree
mkdir -p "$T/images/pxeboot" "$T/Packages"
head -c $((12 << 20)) /dev/urandom >"$T/images/pxeboot/vmlinuz"
head -c $((96 << 20)) /dev/urandom >"$T/images/pxeboot/initrd.img"
head -c $(((SIZE_MB - 108) << 20)) /dev/urandom >"$T/Packages/big-1.0-1.x86_64.rpm"
printf '[general]\nname = Bench 1.0\nversion = 1.0\narch = x86_64\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n' >"$T/.treeinfo"
xorriso -as mkisofs -quiet -R -J -V BENCH -o "$tmp/disc.iso" "$T" 2>/dev/null
rm -rf "$T"
iso_bytes=$(stat -c %s "$tmp/disc.iso")
cat "$tmp/disc.iso" >/dev/null # warm the page cache for both sides

mkdir -p "$tmp/fleet"
cat >"$tmp/fleet/fleet.yaml" <<EOF
provisioner:
  interface: lo
  address: 127.0.0.1
  subnet: 127.0.0.0/8
  http_root: $tmp/http
  tftp_root: $tmp/tftp
  state_dir: $tmp/state
EOF

: >"$tmp/cp.times"
: >"$tmp/import.times"
i=0
while [ $i -lt "$RUNS" ]; do
	t0=$(now)
	cp "$tmp/disc.iso" "$tmp/copy.iso"
	t1=$(now)
	calc "$t1 - $t0" >>"$tmp/cp.times"
	rm -f "$tmp/copy.iso"

	rm -rf "$tmp/http" "$tmp/fleet/distros.d"
	t0=$(now)
	"$KF" distro import bench "$tmp/disc.iso" -f "$tmp/fleet/fleet.yaml" --copy >/dev/null
	t1=$(now)
	calc "$t1 - $t0" >>"$tmp/import.times"
	cmp -s "$tmp/disc.iso" "$tmp/http/distros/bench/media.iso" || { echo "distro: staged ISO differs"; exit 1; }
	i=$((i + 1))
done
cp_s=$(best <"$tmp/cp.times")
imp_s=$(best <"$tmp/import.times")

t0=$(now)
"$KF" distro import bench "$tmp/disc.iso" -f "$tmp/fleet/fleet.yaml" --copy | grep -q unchanged
noop_s=$(calc "$(now) - $t0")
rm -rf "$tmp/http" "$tmp/fleet/distros.d"
t0=$(now)
"$KF" distro import bench "$tmp/disc.iso" -f "$tmp/fleet/fleet.yaml" >/dev/null
link_s=$(calc "$(now) - $t0")

ratio=$(calc "$imp_s / $cp_s")
mb=$((iso_bytes >> 20))
printf 'distro import, %d MiB ISO (best of %d):\n' "$mb" "$RUNS"
printf '  cp (floor)             %6.3f s  %5.0f MiB/s\n' "$cp_s" "$(calc "$mb / $cp_s")"
printf '  import --copy          %6.3f s  %5.0f MiB/s\n' "$imp_s" "$(calc "$mb / $imp_s")"
printf '  ratio import/cp        %6.2fx  (target <= 1.5x)\n' "$ratio"
printf '  import (hard link)     %6.3f s\n' "$link_s"
printf '  re-import, unchanged   %6.3f s\n' "$noop_s"
if [ "$(calc "$ratio <= 1.5")" = 1 ]; then echo "distro: ok"; else echo "distro: ratio above target"; fi
