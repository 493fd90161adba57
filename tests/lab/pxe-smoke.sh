#!/bin/sh
# tests/lab/pxe-smoke.sh — the PXE lab works end to end (hand-written configs).
#   sh tests/lab/pxe-smoke.sh        (root; LAB_KEEP=1 keeps the lab dir)
# Three QEMU machines boot from the lab (at most two at once):
#   bios1  SeaBIOS + iPXE ROM → DHCP → pxelinux.0 + pxelinux.cfg/01-MAC over
#          TFTP → kernel + initrd over TFTP
#   uefi1  OVMF's own PXE → DHCP (arch 7) → grubnetx64.efi over TFTP →
#          per-MAC grub.cfg → kernel + initrd over HTTP
#   ipxe1  SeaBIOS + iPXE ROM → DHCP → HTTP boot.ipxe → chains the per-MAC
#          script → kernel + initrd over HTTP
# Each boots the Debian kernel (tests/vm/kernel.sh) with a busybox "installer"
# initramfs (tests/vm/initramfs.sh) that takes a lease with udhcpc, fetches
# its payload-HOST.txt over HTTP, prints it on the serial console and powers
# off. Everything is asserted from the logs (dnsmasq, tftpd, http, serial);
# the timings seen are printed as "# ..." lines.
TOP=$(cd "$(dirname "$0")/../.." && pwd)
T_SUITE=pxe-smoke
. "$TOP/tests/lib.sh"
t_need_root
. "$TOP/tests/lab/lab.sh"

suite_t0=$(date +%s)
eval "$("$TOP/tests/vm/kernel.sh")" || { t_fail "kernel"; t_summary; exit 1; }

lab_init smoke || { t_fail "lab_init"; t_summary; exit 1; }
TFTP=$LAB_DIR/tftp HTTP=$LAB_DIR/http
mkdir -p "$TFTP/pxelinux.cfg" "$TFTP/grub" "$HTTP/ipxe"

# --- the test "installer" ---
cat >"$LAB_DIR/installer.sh" <<'EOF'
echo "KF-INSTALLER start host=$KF_HOST"
ip link set eth0 up
udhcpc -i eth0 -n -q -t 10 -T 2 -s /usr/share/udhcpc/default.script || { echo "KF-INSTALLER no lease"; exit 3; }
wget -q -O /tmp/payload "http://$KF_SERVER/payload-$KF_HOST.txt" || { echo "KF-INSTALLER fetch failed"; exit 4; }
echo "KF-INSTALLER host=$KF_HOST payload=$(cat /tmp/payload)"
EOF
initrd=${KF_CACHE:-/var/cache/kickfleet}/initramfs/lab-installer.cpio.gz
"$TOP/tests/vm/initramfs.sh" -o "$initrd" --script "$LAB_DIR/installer.sh" \
	--no-default-modules --module virtio_pci --module virtio_net ||
	{ t_fail "build installer initramfs"; t_summary; exit 1; }
echo "# kernel $KF_KPKG ($(stat -c %s "$KF_VMLINUZ") bytes), installer initrd $(stat -c %s "$initrd") bytes"

lab_stage "$KF_VMLINUZ" "$TFTP/vmlinuz"
lab_stage "$initrd" "$TFTP/initrd.gz"
lab_stage "$KF_VMLINUZ" "$HTTP/vmlinuz"
lab_stage "$initrd" "$HTTP/initrd.gz"
lab_stage /usr/lib/PXELINUX/pxelinux.0 "$TFTP/pxelinux.0"
lab_stage /usr/lib/syslinux/modules/bios/ldlinux.c32 "$TFTP/ldlinux.c32"
lab_stage /usr/lib/grub/x86_64-efi/monolithic/grubnetx64.efi "$TFTP/grubnetx64.efi"
# GRUB loads modules it lacks (http) from $prefix/x86_64-efi over TFTP
for f in /usr/lib/grub/x86_64-efi/*.mod /usr/lib/grub/x86_64-efi/*.lst; do
	lab_stage "$f" "$TFTP/grub/x86_64-efi/${f##*/}"
done

SRV=$LAB_IP
hosts="bios1 uefi1 ipxe1"
bios1_ip=10.250.0.11 uefi1_ip=10.250.0.12 ipxe1_ip=10.250.0.13
for h in $hosts; do
	eval "${h}_mac=\$(lab_mac $h)"
	head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$HTTP/payload-$h.txt"
done
dash_mac() { echo "$1" | tr : -; }
args() { echo "console=ttyS0 panic=-1 KF_SERVER=$SRV KF_HOST=$1"; }

# BIOS: pxelinux, per-MAC config, everything over TFTP
cat >"$TFTP/pxelinux.cfg/01-$(dash_mac "$bios1_mac")" <<EOF
DEFAULT kf
PROMPT 0
TIMEOUT 0
LABEL kf
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND $(args bios1)
EOF
# UEFI: GRUB; the loader and its configs over TFTP, kernel+initrd over HTTP
cat >"$TFTP/grub/grub.cfg" <<'EOF'
set timeout=0
echo "kf-grub: prefix=$prefix mac=$net_default_mac"
configfile $prefix/grub.cfg-01-$net_default_mac
EOF
cp "$TFTP/grub/grub.cfg" "$TFTP/grub.cfg"
cat >"$TFTP/grub/grub.cfg-01-$uefi1_mac" <<EOF
set timeout=0
echo "kf-grub: per-MAC config for uefi1"
insmod http
linux (http,$SRV)/vmlinuz $(args uefi1)
initrd (http,$SRV)/initrd.gz
boot
EOF
# iPXE: one entry script chains the per-MAC one
cat >"$HTTP/boot.ipxe" <<EOF
#!ipxe
echo kf-ipxe: entry script, chaining \${mac:hexhyp}
chain http://$SRV/ipxe/\${mac:hexhyp}.ipxe
EOF
cat >"$HTTP/ipxe/$(dash_mac "$ipxe1_mac").ipxe" <<EOF
#!ipxe
echo kf-ipxe: per-MAC script for ipxe1
kernel http://$SRV/vmlinuz $(args ipxe1)
initrd http://$SRV/initrd.gz
boot
EOF

conf=$LAB_DIR/dnsmasq.conf
{
	lab_dnsmasq_conf
	echo "dhcp-host=$bios1_mac,$bios1_ip,bios1,set:kfbios"
	echo "dhcp-host=$uefi1_mac,$uefi1_ip,uefi1,set:kfuefi"
	echo "dhcp-host=$ipxe1_mac,$ipxe1_ip,ipxe1,set:kfipxe"
	echo "dhcp-match=set:efi64,option:client-arch,7"
	echo "dhcp-boot=tag:kfbios,pxelinux.0,,$LAB_IP"
	echo "dhcp-boot=tag:kfuefi,tag:efi64,grubnetx64.efi,,$LAB_IP"
	echo "dhcp-boot=tag:kfipxe,http://$SRV/boot.ipxe"
} >"$conf"

if lab_dnsmasq "$conf" && lab_tftpd "$TFTP" && lab_http "$HTTP"; then
	t_ok "lab services up (dnsmasq, in.tftpd, httpd in $LAB_NS)"
else
	t_fail "lab services up"; t_summary; exit 1
fi

# --- watch machines: first time each event shows in a log, from QEMU start ---
# event spec: NAME|FILE|ERE
events() { # HOST
	h=$1; eval "ip=\$${h}_ip mac=\$${h}_mac"
	ipre=$(echo "$ip" | sed 's/\./\\./g')
	echo "lease|$LAB_DIR/dnsmasq.log|DHCPACK\\(.*\\) $ipre $mac"
	case $h in
	bios1) echo "loader|$LAB_DIR/tftpd.log|RRQ from $ipre filename pxelinux\\.0"
	       echo "kernel|$LAB_DIR/tftpd.log|RRQ from $ipre filename vmlinuz"
	       echo "initrd|$LAB_DIR/tftpd.log|RRQ from $ipre filename initrd" ;;
	uefi1) echo "loader|$LAB_DIR/tftpd.log|RRQ from $ipre filename grubnetx64\\.efi"
	       echo "kernel|$LAB_DIR/http.log|^$ipre:[0-9]+: url:/vmlinuz"
	       echo "initrd|$LAB_DIR/http.log|^$ipre:[0-9]+: url:/initrd" ;;
	ipxe1) echo "loader|$LAB_DIR/http.log|^$ipre:[0-9]+: url:/boot\\.ipxe"
	       echo "kernel|$LAB_DIR/http.log|^$ipre:[0-9]+: url:/vmlinuz"
	       echo "initrd|$LAB_DIR/http.log|^$ipre:[0-9]+: url:/initrd" ;;
	esac
	echo "linux|$LAB_DIR/$h.serial|Linux version"
	echo "init|$LAB_DIR/$h.serial|^KF-VM-START"
	echo "lease2|$LAB_DIR/$h.serial|^udhcpc: eth0 $ipre"
	echo "fetched|$LAB_DIR/$h.serial|^KF-INSTALLER host=$h payload="
	echo "exit|$LAB_DIR/$h.serial|^KF-VM-EXIT="
}
watch() { # SECS HOST...
	_limit=$1; shift
	_end=$(( $(date +%s) + _limit ))
	while :; do
		_alive=
		for h in "$@"; do
			events "$h" | while IFS='|' read -r ev file re; do
				[ -f "$LAB_DIR/$h.t.$ev" ] || [ ! -f "$file" ] && continue
				tr -d '\r' <"$file" 2>/dev/null | grep -Eq "$re" && lab_elapsed "$h" >"$LAB_DIR/$h.t.$ev"
			done
			if kill -0 "$(cat "$LAB_DIR/$h.pid")" 2>/dev/null; then
				_alive=1
			elif [ ! -f "$LAB_DIR/$h.t.off" ]; then
				lab_elapsed "$h" >"$LAB_DIR/$h.t.off"
			fi
		done
		[ -z "$_alive" ] && break
		if [ "$(date +%s)" -ge "$_end" ]; then
			for h in "$@"; do lab_wait_qemu "$h" 0 || echo "$h" >>"$LAB_DIR/timed-out"; done
			break
		fi
		sleep 0.2
	done
}
t() { cat "$LAB_DIR/$1.t.$2" 2>/dev/null || echo -; }
timings() {
	h=$1
	echo "# $h: lease $(t "$h" lease)s, loader $(t "$h" loader)s, kernel fetch $(t "$h" kernel)s," \
		"initrd fetch $(t "$h" initrd)s, kernel start $(t "$h" linux)s, init $(t "$h" init)s, installer lease $(t "$h" lease2)s, payload $(t "$h" fetched)s," \
		"power-off $(t "$h" off)s (from QEMU start)"
}
check_host() { # HOST: the assertions common to every path
	h=$1; eval "ip=\$${h}_ip mac=\$${h}_mac"
	s=$LAB_DIR/$h.serial
	if grep -q "^$h$" "$LAB_DIR/timed-out" 2>/dev/null; then
		t_fail "$h: powered off by itself (killed after the time limit)"
		echo "--- $h serial (last 40 lines)"; tr -d '\r' <"$s" | tail -n 40; echo "---"
	else
		t_ok "$h: powered off by itself"
	fi
	n=$(grep -c "DHCPACK(.*) $ip $mac" "$LAB_DIR/dnsmasq.log")
	[ "$n" -ge 2 ] && t_ok "$h: leases for firmware and installer ($n DHCPACK)" || t_fail "$h: leases for firmware and installer ($n DHCPACK)"
	tr -d '\r' <"$s" | grep -q "^udhcpc: eth0 $ip/24" && t_ok "$h: installer's udhcpc got $ip" || t_fail "$h: installer's udhcpc got $ip"
	grep -Eq "^$ip:[0-9]+: url:/payload-$h\.txt" "$LAB_DIR/http.log" && t_ok "$h: payload requested over HTTP" || t_fail "$h: payload requested over HTTP"
	want=$(cat "$HTTP/payload-$h.txt")
	tr -d '\r' <"$s" | grep -qx "KF-INSTALLER host=$h payload=$want" && t_ok "$h: payload on the serial console" || t_fail "$h: payload on the serial console"
	tr -d '\r' <"$s" | grep -qx "KF-VM-EXIT=0" && t_ok "$h: installer script exit 0" || t_fail "$h: installer script exit 0"
}
tftp_has() { grep -Eq "RRQ from $(echo "$1" | sed 's/\./\\./g') filename $2\$" "$LAB_DIR/tftpd.log"; }
http_has() { grep -Eq "^$(echo "$1" | sed 's/\./\\./g'):[0-9]+: url:$2\$" "$LAB_DIR/http.log"; }

# --- round 1: BIOS + UEFI together ---
lab_qemu bios1 --firmware bios --mac "$bios1_mac" --mem 512M
lab_qemu uefi1 --firmware uefi --mac "$uefi1_mac" --mem 512M
watch 240 bios1 uefi1

check_host bios1
tftp_has "$bios1_ip" 'pxelinux\.0' && t_ok "bios1: pxelinux.0 over TFTP" || t_fail "bios1: pxelinux.0 over TFTP"
tftp_has "$bios1_ip" "pxelinux\\.cfg/01-$(dash_mac "$bios1_mac")" && t_ok "bios1: per-MAC pxelinux.cfg/01-MAC" || t_fail "bios1: per-MAC pxelinux.cfg/01-MAC"
tftp_has "$bios1_ip" vmlinuz && tftp_has "$bios1_ip" 'initrd\.gz' && t_ok "bios1: kernel and initrd over TFTP" || t_fail "bios1: kernel and initrd over TFTP"
grep -q "DHCPACK.*$bios1_mac" "$LAB_DIR/dnsmasq.log" && grep -Eq "vendor class: PXEClient:Arch:00000" "$LAB_DIR/dnsmasq.log" &&
	t_ok "bios1: firmware asked as a BIOS PXE client (arch 0)" || t_fail "bios1: firmware asked as a BIOS PXE client (arch 0)"

check_host uefi1
grep -Eq "vendor class: PXEClient:Arch:00007" "$LAB_DIR/dnsmasq.log" && t_ok "uefi1: firmware asked as an x86-64 UEFI client (arch 7)" || t_fail "uefi1: firmware asked as an x86-64 UEFI client (arch 7)"
tftp_has "$uefi1_ip" 'grubnetx64\.efi' && t_ok "uefi1: grubnetx64.efi over TFTP" || t_fail "uefi1: grubnetx64.efi over TFTP"
tftp_has "$uefi1_ip" "/?grub/grub\\.cfg-01-$uefi1_mac" && t_ok "uefi1: per-MAC grub.cfg over TFTP" || t_fail "uefi1: per-MAC grub.cfg over TFTP"
http_has "$uefi1_ip" /vmlinuz && http_has "$uefi1_ip" /initrd.gz && t_ok "uefi1: kernel and initrd over HTTP" || t_fail "uefi1: kernel and initrd over HTTP"

# --- round 2: iPXE over HTTP ---
lab_qemu ipxe1 --firmware bios --mac "$ipxe1_mac" --mem 512M
watch 180 ipxe1
check_host ipxe1
http_has "$ipxe1_ip" /boot.ipxe && t_ok "ipxe1: entry iPXE script over HTTP" || t_fail "ipxe1: entry iPXE script over HTTP"
http_has "$ipxe1_ip" "/ipxe/$(dash_mac "$ipxe1_mac")\\.ipxe" && t_ok "ipxe1: chained per-MAC iPXE script" || t_fail "ipxe1: chained per-MAC iPXE script"
http_has "$ipxe1_ip" /vmlinuz && http_has "$ipxe1_ip" /initrd.gz && t_ok "ipxe1: kernel and initrd over HTTP" || t_fail "ipxe1: kernel and initrd over HTTP"
grep -q "RRQ from $ipxe1_ip " "$LAB_DIR/tftpd.log" && t_fail "ipxe1: no TFTP at all" || t_ok "ipxe1: no TFTP at all"

for h in $hosts; do timings "$h"; done
echo "# suite took $(( $(date +%s) - suite_t0 ))s"
t_summary
