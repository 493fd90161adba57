#!/bin/sh
# bench/render.sh — `kickfleet render` on a generated 10,000-host inventory:
# a full render into an empty directory, a re-render with nothing changed,
# a re-render after one host changed, and `cp -a` of the rendered tree as
# the floor (the least any tool writing those files could take).  Prints
# times (best of KF_BENCH_RUNS) and the ratios against the targets:
# full < 2 s and within 5x of the copy floor, unchanged < 200 ms, one host
# < 50 ms.
#   KF_BENCH_HOSTS (default 10000), KF_BENCH_RUNS (default 3),
#   KF_BENCH_DIR (default /tmp; the file system under test)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
kf=${KF_PROVISION:-build/kickfleet}
[ -x "$kf" ] || { echo "render: build $kf first (make)" >&2; exit 1; }
hosts=${KF_BENCH_HOSTS:-10000}
runs=${KF_BENCH_RUNS:-3}
work=$(mktemp -d "${KF_BENCH_DIR:-/tmp}/kf-bench-render.XXXXXX")
[ -n "${KF_BENCH_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT INT TERM
# a private copy: a rebuild during the run must not swap the binary
cp "$kf" "$work/kickfleet"
kf=$work/kickfleet
export KICKFLEET_DATADIR="$TOP"
# the inventory parse cache lives with the run (a user's is in /var/cache/kickfleet)
export KICKFLEET_CACHE_DIR="$work/cache"

fleet=$work/fleet.yaml
. "$TOP/bench/fleet.inc"
bench_fleet "$hosts" "$fleet"

now() { date +%s%N; }
ms() { echo "$1" | awk '{ printf "%.1f", $1 / 1e6 }'; }
best() { # best of $runs of the command
	b=
	i=0
	while [ $i -lt "$runs" ]; do
		t0=$(now); "$@" >/dev/null; t1=$(now)
		d=$((t1 - t0)); if [ -z "$b" ] || [ $d -lt "$b" ]; then b=$d; fi
		i=$((i + 1))
	done
	echo "$b"
}

"$kf" check -f "$fleet" >/dev/null
full=
i=0
while [ $i -lt "$runs" ]; do
	rm -rf "$work/out"
	sync
	t0=$(now); "$kf" render --no-stage -f "$fleet" -o "$work/out" >/dev/null; t1=$(now)
	d=$((t1 - t0)); if [ -z "$full" ] || [ $d -lt "$full" ]; then full=$d; fi
	i=$((i + 1))
done
files=$(find "$work/out/dnsmasq" "$work/out/tftp" "$work/out/http" -type f | wc -l)
unchanged=$(best "$kf" render --no-stage -f "$fleet" -o "$work/out")
one=
i=0
while [ $i -lt "$runs" ]; do
	# one host changes (its address moves back and forth)
	if [ $((i % 2)) = 0 ]; then sed -i 's/ip: 10.250.1.2,/ip: 10.250.200.200,/' "$fleet"
	else sed -i 's/ip: 10.250.200.200,/ip: 10.250.1.2,/' "$fleet"; fi
	t0=$(now); out=$(KF_RENDER_TIMING=1 "$kf" render --no-stage -f "$fleet" -o "$work/out" 2>"$work/timing"); t1=$(now)
	echo "$out" | grep -q '1 changed' || { echo "render: expected one changed host: $out" >&2; exit 1; }
	d=$((t1 - t0)); if [ -z "$one" ] || [ $d -lt "$one" ]; then one=$d; split=$(grep '^timing: load' "$work/timing"); fi
	i=$((i + 1))
done
# the server's path: the inventory is loaded already, one host re-rendered
# (kf_render_host, as after an "installed" callback); timed inside netboot
host=
i=0
while [ $i -lt "$runs" ]; do
	if [ $((i % 2)) = 0 ]; then onoff=off; else onoff=on; fi
	KF_RENDER_TIMING=1 "$kf" netboot -f "$fleet" -o "$work/out" h00001 $onoff >/dev/null 2>"$work/timing"
	d=$(sed -n 's/^timing: render_host \([0-9.]*\) ms/\1/p' "$work/timing")
	[ -n "$d" ] || { echo "render: no timing from netboot: $(cat "$work/timing")" >&2; exit 1; }
	if [ -z "$host" ] || [ "$(echo "$d $host" | awk '{ print ($1 < $2) }')" = 1 ]; then host=$d; fi
	i=$((i + 1))
done
copy=
i=0
while [ $i -lt "$runs" ]; do
	rm -rf "$work/copy"
	sync
	t0=$(now); cp -a "$work/out" "$work/copy"; t1=$(now)
	d=$((t1 - t0)); if [ -z "$copy" ] || [ $d -lt "$copy" ]; then copy=$d; fi
	i=$((i + 1))
done

echo "render: $hosts hosts, $files files rendered (best of $runs)"
printf '  full render          %8s ms   %5.2fx the cp -a floor (target < 2000 ms, < 5x)\n' \
	"$(ms $full)" "$(echo "$full $copy" | awk '{ print $1 / $2 }')"
printf '  cp -a of the tree    %8s ms   (floor)\n' "$(ms $copy)"
printf '  unchanged re-render  %8s ms   (target < 200 ms)\n' "$(ms $unchanged)"
printf '  one host changed     %8s ms   (target < 50 ms; %s)\n' "$(ms $one)" "$(echo "$split" | sed 's/^timing: //')"
printf '  one host, in process %8s ms   (kf_render_host: the server after a callback)\n' "$host"
