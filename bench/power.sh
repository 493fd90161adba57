#!/bin/sh
# bench/power.sh — `kickfleet power status --all` against 100 BMCs (OpenIPMI's
# ipmi_sim, one process per BMC on a loopback UDP port, tests/ipmi/bmc.sh),
# beside a loop of `ipmitool -I lanplus -C 3 ... chassis power status` over
# the same BMCs in the same run.  Prints both wall times (median of N
# rounds) and the ratio; goal: under 1 s and at least 10x faster.
#   KF_BENCH_BMCS (default 100), KF_BENCH_RUNS (default 3)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/ipmi/bmc.sh"
kf=${KF:-$TOP/build/kickfleet}
[ -x "$kf" ] || { echo "power: build $kf first (make)" >&2; exit 1; }
for tool in ipmi_sim ipmitool ss; do
	command -v $tool >/dev/null || { echo "power: $tool missing (scripts/deps.sh bench)" >&2; exit 1; }
done
nb=${KF_BENCH_BMCS:-100}
runs=${KF_BENCH_RUNS:-3}
work=$(mktemp -d /tmp/kf-bench-power.XXXXXX)
cleanup() { bmc_stop "$work"/bmc*; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

base=$((30000 + ($$ % 200) * 150))
printf '#!/bin/sh\nexec sleep 600\n' >"$work/machine"
chmod +x "$work/machine"
mkdir -p "$work/fleet"
printf 'bench-pw\n' >"$work/fleet/pw"
chmod 600 "$work/fleet/pw"
printf 'text\n' >"$work/fleet/t.ks"
cat >"$work/fleet/fleet.yaml" <<EOT
provisioner: {interface: lo, address: 10.0.0.1, subnet: 10.0.0.0/16, dhcp: {mode: static}}
distros: {d: {kernel: /k, initrd: /i}}
roles: {r: {distro: d, kickstart: t.ks}}
defaults: {power: {user: admin, password_file: pw}}
hosts:
EOT
i=0
while [ $i -lt "$nb" ]; do
	port=$((base + i))
	bmc_start "$work/bmc$i" 127.0.0.1 $port admin bench-pw "$work/machine"
	printf '  - {name: h%03d, mac: "52:54:00:01:%02x:%02x", role: r, power: {address: 127.0.0.1, port: %d}}\n' \
		$i $((i / 256)) $((i % 256)) $port >>"$work/fleet/fleet.yaml"
	i=$((i + 1))
done
bmc_wait "$work"/bmc* || exit 1
"$kf" check -f "$work/fleet/fleet.yaml" >/dev/null || exit 1

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$work/a"
: >"$work/b"
r=0
while [ $r -lt "$runs" ]; do
	t0=$(now)
	"$kf" power -f "$work/fleet/fleet.yaml" status --all >"$work/out" 2>&1
	rc=$?
	t1=$(now)
	ok=$(grep -c ': off$' "$work/out")
	[ $rc -eq 0 ] && [ "$ok" -eq "$nb" ] || { echo "power: kickfleet exit $rc, $ok/$nb off" >&2; head -3 "$work/out" >&2; exit 1; }
	echo $(( (t1 - t0) / 1000 )) >>"$work/a"
	t0=$(now)
	i=0
	while [ $i -lt "$nb" ]; do
		ipmitool -I lanplus -C 3 -H 127.0.0.1 -p $((base + i)) -U admin -f "$work/fleet/pw" \
			chassis power status >/dev/null 2>&1 || { echo "power: ipmitool failed on $((base + i))" >&2; exit 1; }
		i=$((i + 1))
	done
	t1=$(now)
	echo $(( (t1 - t0) / 1000 )) >>"$work/b"
	r=$((r + 1))
done
ma=$(median <"$work/a")
mb=$(median <"$work/b")
printf 'kickfleet power status --all, %d ipmi_sim BMCs: median %d.%03d ms over %d runs, target < 1 s: %s\n' \
	"$nb" $((ma / 1000)) $((ma % 1000)) "$runs" "$([ "$ma" -lt 1000000 ] && echo met || echo MISSED)"
printf 'ipmitool -I lanplus -C 3 chassis power status, one after another: median %d.%03d ms\n' \
	$((mb / 1000)) $((mb % 1000))
awk -v a="$ma" -v b="$mb" 'BEGIN { x = b / a; printf "ratio ipmitool loop / kickfleet: %.1fx (target >= 10x): %s\n", x, (x >= 10) ? "met" : "MISSED" }'
[ "$ma" -lt 1000000 ] && [ $((mb / ma)) -ge 10 ]
