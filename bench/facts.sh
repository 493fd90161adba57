#!/bin/sh
# bench/facts.sh — `kickfleet-agent facts --json` on a host with 8 running
# guests (TCG, no OS, in the private libvirtd of tests/libvirt/libvirtd.sh:
# real QEMU processes the facts find under /proc, and from libvirt with
# --connect), beside `ansible -m setup` (ansible-core) on the same machine
# in the same run: median wall time, CPU time (user + system: what the
# load of a shared machine does not inflate) and peak RSS of each, and the
# ratios.  The runs are interleaved and timed by bench/runs.py (CPU time
# and RSS from the children's rusage, to the microsecond).
# Goal: facts under 20 ms and at least 50x faster than ansible.
#   KF_BENCH_RUNS (default 21; ansible runs a third as often)
#   KF_AGENT_BEFORE=BINARY  an earlier build of the agent beside it
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/libvirt/libvirtd.sh"
agent=${KF_AGENT:-$TOP/build/kickfleet-agent}
[ -x "$agent" ] || { echo "facts: build $agent first (make)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "facts: needs root (a private libvirtd)" >&2; exit 1; }
command -v ansible >/dev/null || { echo "facts: ansible missing (scripts/deps.sh bench)" >&2; exit 1; }
runs=${KF_BENCH_RUNS:-21}
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

# one round runs each command once, interleaved, so the machine's load
# (shared by several engineers) falls on all alike; ansible every 3rd round
# KF_AGENT_BEFORE=BINARY: an earlier build's facts --json in the same rounds
before=
[ -n "${KF_AGENT_BEFORE:-}" ] && before="before=${KF_AGENT_BEFORE} facts --json"
ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0 \
	python3 "$TOP/bench/runs.py" "$runs" \
	"proc=$agent facts --json" \
	"none=$agent facts --json --no-guests" \
	"virt=$agent facts --json --connect $KF_LV_URI" \
	${before:+"$before"} \
	"ans/3=ansible localhost -c local -i localhost, -m setup" >"$work/res" || exit 1
# NAME wall_us cpu_us rss_kb runs
get() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$work/res"; }
ms() { printf '%d.%03d ms' $(($1 / 1000)) $(($1 % 1000)); }
wp=$(get proc 2) cp=$(get proc 3) rp=$(get proc 4)
wn=$(get none 2) cn=$(get none 3)
wv=$(get virt 2) cv=$(get virt 3) rv=$(get virt 4)
wa=$(get ans 2) ca=$(get ans 3) ra=$(get ans 4) na=$(get ans 5)
printf 'facts --json, 8 guests from /proc:   median %s (CPU %s), RSS %d KiB (%d runs)\n' "$(ms "$wp")" "$(ms "$cp")" "$rp" "$runs"
printf 'facts --json --no-guests:            median %s (CPU %s)\n' "$(ms "$wn")" "$(ms "$cn")"
printf 'facts --json --connect (libvirt):    median %s (CPU %s), RSS %d KiB\n' "$(ms "$wv")" "$(ms "$cv")" "$rv"
if [ -n "$before" ]; then
	printf 'facts --json of %s: median %s (CPU %s)\n' "$KF_AGENT_BEFORE" "$(ms "$(get before 2)")" "$(ms "$(get before 3)")"
fi
printf 'ansible -m setup, the same machine:  median %s (CPU %s), RSS %d KiB (%d runs)\n' "$(ms "$wa")" "$(ms "$ca")" "$ra" "$na"
printf 'load average during the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
awk -v p="$wp" -v v="$wv" -v a="$wa" -v rp="$rp" -v ra="$ra" -v cp="$cp" -v ca="$ca" 'BEGIN {
	printf "ratio ansible / facts: wall %.0fx (libvirt: %.0fx), CPU %.0fx, RSS %.1fx\n", a / p, a / v, ca / (cp ? cp : 1), ra / rp }'
ok=$(awk -v p="$wp" -v a="$wa" 'BEGIN { print (p < 20000 && a / p >= 50) ? "met" : "MISSED" }')
echo "goal < 20 ms and >= 50x faster: $ok"
[ "$ok" = met ]
