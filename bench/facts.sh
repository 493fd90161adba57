#!/bin/sh
# bench/facts.sh — `kickfleet-agent facts --json` on a host with 8 running
# guests (TCG, no OS, in the private libvirtd of tests/libvirt/libvirtd.sh:
# real QEMU processes the facts find under /proc, and from libvirt with
# --connect), beside `ansible -m setup` (ansible-core) on the same machine
# in the same run: median wall time, CPU time (user + system: what the
# load of a shared machine does not inflate) and peak RSS of each, and the
# ratios.
# Goal: facts under 20 ms and at least 50x faster than ansible.
#   KF_BENCH_RUNS (default 21; ansible runs a third as often, at least 3)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/libvirt/libvirtd.sh"
agent=${KF_AGENT:-$TOP/build/kickfleet-agent}
[ -x "$agent" ] || { echo "facts: build $agent first (make)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "facts: needs root (a private libvirtd)" >&2; exit 1; }
command -v ansible >/dev/null || { echo "facts: ansible missing (scripts/deps.sh bench)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "facts: /usr/bin/time missing" >&2; exit 1; }
runs=${KF_BENCH_RUNS:-21}
aruns=$((runs / 3)); [ $aruns -ge 3 ] || aruns=3
work=$(mktemp -d /tmp/kf-bench-facts.XXXXXX)
cleanup() { kf_libvirtd_stop; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
kf_libvirtd_start || exit 1
V() { virsh -q -c "$KF_LV_URI" "$@"; }
for i in 1 2 3 4 5 6 7 8; do
	cat >"$work/g$i.xml" <<EOT
<domain type='qemu'><name>kff$i</name><memory unit='MiB'>64</memory><vcpu>2</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
<devices><memballoon model='none'/></devices></domain>
EOT
	V define "$work/g$i.xml" >/dev/null && V start "kff$i" >/dev/null || { echo "facts: cannot start kff$i" >&2; exit 1; }
done
"$agent" facts --json >"$work/facts.json" || { echo "facts: kickfleet-agent facts failed" >&2; exit 1; }
ng=$(python3 -c 'import json, sys; print(sum(1 for g in json.load(open(sys.argv[1]))["guests"]["running"] if g["name"].startswith("kff")))' "$work/facts.json")
[ "$ng" = 8 ] || { echo "facts: found $ng of the 8 guests" >&2; exit 1; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# run N FILE CMD...: N runs, "wall_us rss_kb cpu_us" lines into FILE
run() {
	n=$1 out=$2; shift 2
	: >"$out"
	i=0
	while [ $i -lt "$n" ]; do
		t0=$(date +%s%N)
		/usr/bin/time -f '%M %U %S' -o "$work/rss" "$@" >/dev/null 2>"$work/err" || { echo "facts: $* failed" >&2; cat "$work/err" >&2; exit 1; }
		t1=$(date +%s%N)
		read -r rss u s <"$work/rss"
		echo "$(( (t1 - t0) / 1000 )) $rss $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%d", (u + s) * 1e6 }')" >>"$out"
		i=$((i + 1))
	done
}
run "$runs" "$work/proc" "$agent" facts --json
run "$runs" "$work/none" "$agent" facts --json --no-guests
run "$runs" "$work/virt" "$agent" facts --json --connect "$KF_LV_URI"
ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0 \
	run "$aruns" "$work/ans" ansible localhost -c local -i localhost, -m setup
col() { cut -d' ' -f"$1" <"$2" | median; }
ms() { printf '%d.%03d ms' $(($1 / 1000)) $(($1 % 1000)); }
wp=$(col 1 "$work/proc"); rp=$(col 2 "$work/proc")
wv=$(col 1 "$work/virt"); rv=$(col 2 "$work/virt")
wa=$(col 1 "$work/ans"); ra=$(col 2 "$work/ans")
cp=$(col 3 "$work/proc"); cv=$(col 3 "$work/virt"); ca=$(col 3 "$work/ans")
wn=$(col 1 "$work/none"); cn=$(col 3 "$work/none")
printf 'facts --json, 8 guests from /proc:   median %s (CPU %s), RSS %d KiB (%d runs)\n' "$(ms "$wp")" "$(ms "$cp")" "$rp" "$runs"
printf 'facts --json --no-guests:            median %s (CPU %s)\n' "$(ms "$wn")" "$(ms "$cn")"
printf 'facts --json --connect (libvirt):    median %s (CPU %s), RSS %d KiB\n' "$(ms "$wv")" "$(ms "$cv")" "$rv"
printf 'ansible -m setup, the same machine:  median %s (CPU %s), RSS %d KiB (%d runs)\n' "$(ms "$wa")" "$(ms "$ca")" "$ra" "$aruns"
printf 'load average during the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
awk -v p="$wp" -v v="$wv" -v a="$wa" -v rp="$rp" -v ra="$ra" -v cp="$cp" -v ca="$ca" 'BEGIN {
	printf "ratio ansible / facts: wall %.0fx (libvirt: %.0fx), CPU %.0fx, RSS %.1fx\n", a / p, a / v, ca / (cp ? cp : 1), ra / rp }'
ok=$(awk -v p="$wp" -v a="$wa" 'BEGIN { print (p < 20000 && a / p >= 50) ? "met" : "MISSED" }')
echo "goal < 20 ms and >= 50x faster: $ok"
[ "$ok" = met ]
