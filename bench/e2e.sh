#!/bin/sh
# bench/e2e.sh — the end-to-end lab, measured (tests/e2e/lib.sh, TCG QEMU).
#  1. kernel + initrd of the lab installer over TFTP vs over HTTP, fetched
#     inside the lab namespace from kickfleet up's in.tftpd (busybox tftp,
#     blocksize 1468 as PXE firmware negotiates it) and kickfleet serve
#     (curl): median of 3; target HTTP >= 5x faster.
#  2. machines at once (1, 2, 4, iPXE + HTTP), and one BIOS PXE machine
#     (pxelinux, kernel + initrd over TFTP): per machine, seconds from QEMU
#     start to kickstart fetched and to `installed`, and from the kernel's
#     request to the installer's /init (the fetch plus the kernel's boot).
#  3. with 4 machines at once: the provisioner's own CPU time (utime+stime
#     of the `kickfleet up` process, /proc/PID/stat) as a share of all CPU
#     time the machine spent meanwhile (/proc/stat); target < 2%.
# Needs root. Prints a table; exit 1 if a target is missed.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP
[ "$(id -u)" = 0 ] || { echo "e2e: needs root"; exit 1; }
for tool in qemu-system-x86_64 dnsmasq in.tftpd curl jq busybox; do
	command -v $tool >/dev/null || { echo "e2e: $tool missing"; exit 1; }
done
. "$TOP/tests/e2e/lib.sh"
e2e_assets || exit 1

# --- a fleet of bench machines (the lab's role, template and profile) ---
F=$(mktemp -d /tmp/kf-bench-e2e.XXXXXX)
cp -R "$TOP/tests/e2e/kickstart" "$TOP/tests/e2e/profiles" "$F/"
sed -n '1,/^roles:/p' "$TOP/tests/e2e/fleet.yaml" | sed '/^  debian12:/,/^$/d' >"$F/fleet.yaml"
cat >>"$F/fleet.yaml" <<'EOF'
  lab-host:
    distro: labinst
    kickstart: kickstart/lab.ks
    profile: profiles/lab-host.yaml

defaults:
  root_password_hash: "$6$kflab$K9v7.labhashonly.notarealpassword"
  console: ttyS0,115200
  kernel_args: panic=-1 loglevel=4

hosts:
EOF
# n1a | n2a n2b | n4a..n4d (iPXE) | tftp1 (BIOS PXE, pxelinux)
i=0
for h in n1a n2a n2b n4a n4b n4c n4d tftp1; do
	i=$((i + 1))
	printf '  - {name: %s, mac: "52:54:00:e3:00:%02x", ip: 10.250.0.%d, role: lab-host, firmware: bios}\n' \
		"$h" "$i" $((20 + i)) >>"$F/fleet.yaml"
	eval "mac_$h=52:54:00:e3:00:$(printf %02x $i) ip_$h=10.250.0.$((20 + i))"
done
"$E2E_KF" check -f "$F/fleet.yaml" >/dev/null || { rm -rf "$F"; exit 1; }

e2e_lab bench "$F" || { rm -rf "$F"; exit 1; }
trap 'lab_cleanup; rm -rf "$F"' EXIT
trap 'exit 130' INT TERM HUP
rc=0

# --- 1. kernel + initrd: TFTP vs HTTP from inside the namespace ---
K=distro/labinst/vmlinuz I=distro/labinst/initrd.img
bytes=$(( $(stat -c %s "$E2E_OUT/tftp/$K") + $(stat -c %s "$E2E_OUT/tftp/$I") ))
now() { date +%s.%N; }
median3() { sort -n | sed -n 2p; }
cd "$LAB_DIR" || exit 1
for r in 1 2 3; do
	t=$(now)
	lab_ns busybox tftp -g -b 1468 -r "$K" -l tk "$LAB_IP" && lab_ns busybox tftp -g -b 1468 -r "$I" -l ti "$LAB_IP" || echo "tftp failed" >&2
	echo "$t $(now)" | awk '{ printf "%.3f\n", $2 - $1 }' >>tftp.times
	t=$(now)
	lab_ns curl -sf -o hk "http://$LAB_IP/boot/$K" && lab_ns curl -sf -o hi "http://$LAB_IP/boot/$I" || echo "http failed" >&2
	echo "$t $(now)" | awk '{ printf "%.3f\n", $2 - $1 }' >>http.times
done
cmp -s tk "$E2E_OUT/tftp/$K" && cmp -s ti "$E2E_OUT/tftp/$I" && cmp -s hk tk && cmp -s hi ti ||
	{ echo "e2e: fetched files differ from the staged ones"; rc=1; }
tt=$(median3 <tftp.times) ht=$(median3 <http.times)
cd /
ratio=$(awk -v a="$tt" -v b="$ht" 'BEGIN { printf "%.1f", a / b }')

# --- 2. machines ---
run_wave() { # NAME... (iPXE unless the name is tftp1)
	for n in "$@"; do
		eval "m=\$mac_$n ip=\$ip_$n"
		e2e_machine "$n" "$n" "$m" "$ip"
		k=ipxe; [ "$n" = tftp1 ] && k=pxe
		e2e_boot "$n" "$k" "$m" --mem 512M
	done
	e2e_watch 400 "$@"
}
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

run_wave n1a
run_wave n2a n2b
c0=$(cpu_ticks) p0=$(proc_ticks "$E2E_UP_PID")
w0=$(now)
run_wave n4a n4b n4c n4d
c1=$(cpu_ticks) p1=$(proc_ticks "$E2E_UP_PID")
w1=$(now)
run_wave tftp1

# --- table ---
d() { # a b: b - a, or - when either is missing
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.1f", b - a }'
}
echo
echo "kernel $(stat -c %s "$E2E_OUT/tftp/$K") B + initrd $(stat -c %s "$E2E_OUT/tftp/$I") B = $bytes B, fetched in the lab namespace (median of 3):"
printf '  %-6s %8s %10s\n' path seconds MB/s
printf '  %-6s %8s %10s\n' TFTP "$tt" "$(awk -v b="$bytes" -v t="$tt" 'BEGIN { printf "%.1f", b / t / 1e6 }')"
printf '  %-6s %8s %10s\n' HTTP "$ht" "$(awk -v b="$bytes" -v t="$ht" 'BEGIN { printf "%.1f", b / t / 1e6 }')"
echo "  HTTP is ${ratio}x faster than TFTP (target >= 5x)"
awk -v r="$ratio" 'BEGIN { exit !(r >= 5) }' || { echo "  MISSED: HTTP < 5x TFTP"; rc=1; }
echo
echo "machines (seconds from QEMU start; TCG on $(nproc) cores):"
printf '  %-4s %-6s %-12s %6s %8s %10s %10s %12s\n' at machine path lease kernel kickstart installed kernel-to-init
for w in "1 n1a" "2 n2a n2b" "4 n4a n4b n4c n4d" "1 tftp1"; do
	set -- $w
	at=$1; shift
	for n in "$@"; do
		p="iPXE+HTTP"; [ "$n" = tftp1 ] && p="pxelinux+TFTP"
		st=$(e2e_state "$n")
		[ "$st" = installed ] || { echo "  $n did not install ($st)"; rc=1; }
		printf '  %-4s %-6s %-12s %6s %8s %10s %10s %12s\n' "$at" "$n" "$p" "$(e2e_t "$n" lease)" "$(e2e_t "$n" kernel)" \
			"$(e2e_t "$n" ks)" "$(e2e_t "$n" installed)" "$(d "$(e2e_t "$n" kernel)" "$(e2e_t "$n" init)")"
	done
done
for w in "1 n1a" "2 n2a n2b" "4 n4a n4b n4c n4d"; do
	set -- $w; at=$1; shift
	for n in "$@"; do e2e_t "$n" installed; echo; done | awk -v at="$at" '$1 != "-" { s += $1; if ($1 > m) m = $1; k++ }
		END { if (k) printf "  %s at once: boot-to-installed mean %.1fs, slowest %.1fs\n", at, s / k, m }'
done
echo
hz=$(getconf CLK_TCK)
share=$(awk -v p=$((p1 - p0)) -v c=$((c1 - c0)) 'BEGIN { printf "%.2f", c ? 100 * p / c : 0 }')
echo "provisioner CPU with 4 machines at once ($(d "$w0" "$w1")s wall):"
echo "  kickfleet up (pid $E2E_UP_PID): $(awk -v t=$((p1 - p0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')s CPU" \
	"of $(awk -v t=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "%.1f", t / hz }')s CPU spent by the whole machine = ${share}% (target < 2%)"
awk -v s="$share" 'BEGIN { exit !(s < 2) }' || { echo "  MISSED: provisioner CPU >= 2%"; rc=1; }
exit $rc
