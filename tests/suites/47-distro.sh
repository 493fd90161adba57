#!/bin/sh
# kickfleet distro import: an ISO and a disc tree the test builds (xorriso),
# a .discinfo-only tree, Debian's netboot package (dpkg -x); re-import is a
# no-op, a changed kernel updates the entry; bad media and name clashes
# fail with exit 1 and leave the fleet directory and staged trees as they
# were; the staged tree is served by `kickfleet serve` with Range support.
. "$(dirname "$0")/../lib.sh"
KF=$TOP/build/kickfleet
[ -x "$KF" ] || { t_fail "$KF not built"; t_summary; exit 1; }
command -v xorriso >/dev/null || { t_fail "xorriso missing (scripts/deps.sh check)"; t_summary; exit 1; }

tmp=$(mktemp -d /tmp/kf-47-distro.XXXXXX)
srv=
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

M=$tmp/media
"$TOP/tests/data/distro/mkmedia.sh" "$M"
F=$tmp/fleet
H=$tmp/srv/http
mkdir -p "$F"
port=$((20000 + $$ % 20000))
cat >"$F/fleet.yaml" <<EOF
provisioner:
  interface: lo
  address: 127.0.0.1
  subnet: 127.0.0.0/8
  dhcp: {mode: static}
  http_port: $port
  state_dir: $tmp/srv/state
  tftp_root: $tmp/srv/tftp
  http_root: $H
distros:
  handmade: {kernel: /k, initrd: /i}
roles:
  r: {distro: rocky, kickstart: t.ks}
EOF
printf 'text\n' >"$F/t.ks"

# fleet_sum: names, sizes, mtimes and contents of everything in the fleet dir
fleet_sum() { (cd "$1" && find . -printf '%p %s %T@\n' | sort && find . -type f -exec sha256sum {} + | sort) | sha256sum; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
field() { sed -n "s/^$2: \"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" "$1"; }

# ---- an ISO image ----
if "$KF" distro import rocky "$M/disc.iso" -f "$F/fleet.yaml" --json >"$tmp/out" 2>"$tmp/err"; then
	t_ok "iso: import exits 0"
else
	cat "$tmp/err"; t_fail "iso: import exits 0"
fi
E=$F/distros.d/rocky.yaml
D=$H/distros/rocky
grep -q '"changed":true' "$tmp/out" && grep -q '"created":true' "$tmp/out" &&
	grep -q '"detected_by":".treeinfo"' "$tmp/out" && t_ok "iso: --json result" || { cat "$tmp/out"; t_fail "iso: --json result"; }
grep -q '^distro rocky: imported Rocky Linux 9.3 x86_64' "$tmp/err" && t_ok "iso: summary line on stderr with --json" || { cat "$tmp/err"; t_fail "iso: summary line"; }
[ "$(field "$E" family)" = kickstart ] && [ "$(field "$E" version)" = 9.3 ] && [ "$(field "$E" arch)" = x86_64 ] &&
	[ "$(field "$E" kernel)" = "$D/vmlinuz" ] && [ "$(field "$E" initrd)" = "$D/initrd.img" ] &&
	[ "$(field "$E" tree)" = "http://127.0.0.1:$port/distros/rocky/tree" ] &&
	[ "$(field "$E" source)" = "$M/disc.iso" ] &&
	t_ok "iso: entry fields" || { cat "$E"; t_fail "iso: entry fields"; }
[ "$(field "$E" kernel_sha256)" = "$(sha "$M/tree/images/pxeboot/vmlinuz")" ] &&
	[ "$(field "$E" initrd_sha256)" = "$(sha "$M/tree/images/pxeboot/initrd.img")" ] &&
	t_ok "iso: checksums recorded" || t_fail "iso: checksums recorded"
cmp -s "$D/vmlinuz" "$M/tree/images/pxeboot/vmlinuz" && cmp -s "$D/initrd.img" "$M/tree/images/pxeboot/initrd.img" &&
	t_ok "iso: staged kernel and initrd byte-equal to the media" || t_fail "iso: staged kernel and initrd byte-equal"
cmp -s "$D/media.iso" "$M/disc.iso" && t_ok "iso: image staged for serving" || t_fail "iso: image staged for serving"
out=$("$KF" check -f "$F/fleet.yaml" 2>&1) && echo "$out" | grep -q '2 distros' &&
	t_ok "iso: kickfleet check sees the distros.d entry" || { echo "$out"; t_fail "iso: kickfleet check sees the entry"; }
# kickfleet render stages the entry's kernel and initrd into the TFTP tree
if "$KF" render -f "$F/fleet.yaml" >"$tmp/out" 2>&1 &&
	cmp -s "$tmp/srv/tftp/distro/rocky/vmlinuz" "$M/tree/images/pxeboot/vmlinuz" &&
	cmp -s "$tmp/srv/tftp/distro/rocky/initrd.img" "$M/tree/images/pxeboot/initrd.img"; then
	t_ok "iso: kickfleet render stages the imported kernel and initrd for TFTP"
else
	cat "$tmp/out"; t_fail "iso: kickfleet render stages the imported kernel and initrd"
fi

# ---- importing the same media again changes nothing ----
before=$(fleet_sum "$F"); ino=$(stat -c %i "$D/vmlinuz")
sleep 1
"$KF" distro import rocky "$M/disc.iso" -f "$F/fleet.yaml" --json >"$tmp/out" 2>"$tmp/err" &&
	grep -q '"changed":false' "$tmp/out" && grep -q '^distro rocky: unchanged' "$tmp/err" &&
	[ "$(fleet_sum "$F")" = "$before" ] && [ "$(stat -c %i "$D/vmlinuz")" = "$ino" ] &&
	t_ok "iso: re-import is a no-op" || { cat "$tmp/out" "$tmp/err"; t_fail "iso: re-import is a no-op"; }
# kernel_args edited by hand survive a forced re-import
printf 'kernel_args: inst.text\n' >>"$E"
"$KF" distro import rocky "$M/disc.iso" -f "$F/fleet.yaml" --force >/dev/null 2>&1 &&
	[ "$(field "$E" kernel_args)" = inst.text ] && t_ok "iso: --force restages, keeps kernel_args" || { cat "$E"; t_fail "iso: --force keeps kernel_args"; }

# progress: on a terminal only; the summary line always
"$KF" distro import quiet "$M/disc.iso" -f "$F/fleet.yaml" --copy >"$tmp/out" 2>"$tmp/err" &&
	! grep -q staging "$tmp/err" && grep -q '^distro quiet: imported' "$tmp/out" &&
	t_ok "progress: none without a terminal, summary line" || { cat "$tmp/out" "$tmp/err"; t_fail "progress: none without a terminal"; }
if command -v script >/dev/null; then
	script -qc "'$KF' distro import tty '$M/disc.iso' -f '$F/fleet.yaml' --copy" /dev/null >"$tmp/out" 2>&1 </dev/null
	grep -q 'staging media.iso: .* of .* (100%)' "$tmp/out" && grep -q 'distro tty: imported' "$tmp/out" &&
		t_ok "progress: shown on a terminal" || { cat -A "$tmp/out"; t_fail "progress: shown on a terminal"; }
else
	t_skip "progress on a terminal: script(1) missing"
fi
rm -f "$F/distros.d/quiet.yaml" "$F/distros.d/tty.yaml"

# ---- a disc tree (directory), hard-linked; and copied ----
"$KF" distro import rockydir "$M/tree" -f "$F/fleet.yaml" >"$tmp/out" 2>&1 &&
	diff -r "$M/tree" "$H/distros/rockydir/tree" >/dev/null &&
	[ "$(stat -c %i "$M/tree/Packages/bash-5.1.8-6.el9.x86_64.rpm")" = "$(stat -c %i "$H/distros/rockydir/tree/Packages/bash-5.1.8-6.el9.x86_64.rpm")" ] &&
	cmp -s "$H/distros/rockydir/vmlinuz" "$M/tree/images/pxeboot/vmlinuz" &&
	t_ok "dir: tree staged as hard links, byte-equal" || { cat "$tmp/out"; t_fail "dir: tree staged as hard links"; }
"$KF" distro import rockycopy "$M/tree" -f "$F/fleet.yaml" --copy >"$tmp/out" 2>&1 &&
	diff -r "$M/tree" "$H/distros/rockycopy/tree" >/dev/null &&
	[ "$(stat -c %i "$M/tree/images/pxeboot/vmlinuz")" != "$(stat -c %i "$H/distros/rockycopy/tree/images/pxeboot/vmlinuz")" ] &&
	t_ok "dir: --copy copies, byte-equal" || { cat "$tmp/out"; t_fail "dir: --copy copies"; }
"$KF" distro import rockycopy "$M/tree" -f "$F/fleet.yaml" --copy 2>&1 | grep -q 'rockycopy: unchanged' &&
	t_ok "dir: re-import of a copied tree is a no-op (size and mtime kept)" || t_fail "dir: re-import of a copied tree is a no-op"
"$KF" distro import oldrocky "$M/discinfo" -f "$F/fleet.yaml" >"$tmp/out" 2>&1 &&
	grep -q 'from .discinfo' "$tmp/out" && [ "$(field "$F/distros.d/oldrocky.yaml" arch)" = x86_64 ] &&
	t_ok "dir: .discinfo fallback" || { cat "$tmp/out"; t_fail "dir: .discinfo fallback"; }

# ---- a changed kernel updates the entry; other files are kept ----
old=$(field "$F/distros.d/rockycopy.yaml" kernel_sha256)
head -c 4096 /dev/urandom >>"$M/tree/images/pxeboot/vmlinuz"
new=$(sha "$M/tree/images/pxeboot/vmlinuz")
sed -i "s|^images/pxeboot/vmlinuz = sha256:.*|images/pxeboot/vmlinuz = sha256:$new|" "$M/tree/.treeinfo"
"$KF" distro import rockycopy "$M/tree" -f "$F/fleet.yaml" --copy --json >"$tmp/out" 2>"$tmp/err" &&
	grep -q '"changed":true' "$tmp/out" && grep -q 'rockycopy: updated' "$tmp/err" &&
	[ "$(field "$F/distros.d/rockycopy.yaml" kernel_sha256)" = "$new" ] && [ "$new" != "$old" ] &&
	cmp -s "$H/distros/rockycopy/vmlinuz" "$M/tree/images/pxeboot/vmlinuz" &&
	grep -q '"copied":' "$tmp/out" && ! grep -q '"kept":0' "$tmp/out" &&
	t_ok "dir: changed kernel updates entry and staged files, unchanged files kept" ||
	{ cat "$tmp/out" "$tmp/err"; t_fail "dir: changed kernel updates the entry"; }
# a kernel that does not match .treeinfo's checksum is refused
head -c 10 /dev/urandom >>"$M/tree/images/pxeboot/vmlinuz"
"$KF" distro import rockycopy "$M/tree" -f "$F/fleet.yaml" 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q 'but .treeinfo says' "$tmp/err" && t_ok "dir: kernel not matching .treeinfo checksum: exit 1" ||
	{ cat "$tmp/err"; t_fail "dir: checksum mismatch (exit $rc)"; }

# ---- Debian's netboot package, extracted with dpkg -x ----
cache=$TOP/build/cache
mkdir -p "$cache"
deb=$(ls "$cache"/debian-installer-12-netboot-amd64_*.deb 2>/dev/null | tail -1)
if [ -z "$deb" ]; then
	(cd "$cache" && apt-get download debian-installer-12-netboot-amd64 >/dev/null 2>&1)
	deb=$(ls "$cache"/debian-installer-12-netboot-amd64_*.deb 2>/dev/null | tail -1)
fi
if [ -z "$deb" ]; then
	t_skip "netboot: debian-installer-12-netboot-amd64 could not be downloaded"
else
	dpkg -x "$deb" "$tmp/netboot"
	nb=$tmp/netboot/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
	"$KF" distro import deb12 "$tmp/netboot" -f "$F/fleet.yaml" >"$tmp/out" 2>&1 &&
		[ "$(field "$F/distros.d/deb12.yaml" family)" = preseed ] &&
		[ "$(field "$F/distros.d/deb12.yaml" arch)" = amd64 ] &&
		[ "$(field "$F/distros.d/deb12.yaml" version)" = 12 ] &&
		cmp -s "$H/distros/deb12/vmlinuz" "$nb/linux" && cmp -s "$H/distros/deb12/initrd.img" "$nb/initrd.gz" &&
		[ "$(field "$F/distros.d/deb12.yaml" kernel_sha256)" = "$(sha "$nb/linux")" ] &&
		! grep -q '^tree:' "$F/distros.d/deb12.yaml" &&
		t_ok "netboot: Debian 12 netboot tree imported (preseed, amd64)" || { cat "$tmp/out"; t_fail "netboot: import"; }
fi

# ---- bad media and bad names: exit 1, a clear message, nothing touched ----
mkdir -p "$tmp/empty"
bad() { # NAME SOURCE EXPECTED-MESSAGE DESCRIPTION
	before=$(fleet_sum "$F"); hbefore=$(fleet_sum "$H")
	"$KF" distro import "$1" "$2" -f "$F/fleet.yaml" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc = 1 ] && grep -qF "$3" "$tmp/err" && [ "$(fleet_sum "$F")" = "$before" ] && [ "$(fleet_sum "$H")" = "$hbefore" ] && [ ! -s "$tmp/out" ]; then
		t_ok "bad: $4"
	else
		echo "exit $rc"; cat "$tmp/err"; t_fail "bad: $4"
	fi
}
bad x "$M/notreeinfo.iso" "unknown install media: looked for .treeinfo and .discinfo" "ISO without .treeinfo"
bad x "$M/truncated.iso" "truncated image (the volume is" "truncated ISO"
bad x "$M/nokernel" ".treeinfo names the kernel images/pxeboot/vmlinuz, which is not on the media" "directory without kernels"
bad x "$tmp/empty" "unknown install media" "empty directory"
bad handmade "$M/disc.iso" "distro \"handmade\" is already defined in $F/fleet.yaml:11:13" "name clashes with a distro in fleet.yaml"
bad ../evil "$M/disc.iso" "bad distro name \"../evil\"" "name with a slash"
bad x "$tmp/nothing" "source $tmp/nothing: No such file or directory" "missing source"
bad x "$F/t.ks" "not an ISO 9660 image" "a file that is not an ISO"
# a hand-made distros.d file with the same name as one in fleet.yaml: check fails
cp "$F/distros.d/rocky.yaml" "$F/distros.d/handmade.yaml"
"$KF" check -f "$F/fleet.yaml" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q "distros.d/handmade.yaml:1:1: distro handmade is also defined in $F/fleet.yaml at line 11" "$tmp/err" &&
	t_ok "check: clash between fleet.yaml and distros.d is an error at the file" || { cat "$tmp/err"; t_fail "check: clash (exit $rc)"; }
rm "$F/distros.d/handmade.yaml"

# ---- kickfleet serve: the install tree over HTTP, with Range ----
if ! command -v curl >/dev/null; then
	t_fail "serve: curl missing"
else
	"$KF" serve -f "$F/fleet.yaml" --listen "127.0.0.1:$port" >"$tmp/serve.log" 2>&1 &
	srv=$!
	i=0
	while [ $i -lt 50 ] && ! curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; do sleep 0.1; i=$((i + 1)); done
	for d in rocky rockydir; do
		u=http://127.0.0.1:$port/distros/$d/tree/images/pxeboot/initrd.img
		curl -s -o "$tmp/got" "$u" && cmp -s "$tmp/got" "$M/tree/images/pxeboot/initrd.img" &&
			t_ok "serve: $d tree file, right bytes" || t_fail "serve: $d tree file ($u)"
		code=$(curl -s -o "$tmp/got" -w '%{http_code}' -r 1000-1999 "$u")
		tail -c +1001 "$M/tree/images/pxeboot/initrd.img" | head -c 1000 >"$tmp/want"
		[ "$code" = 206 ] && cmp -s "$tmp/got" "$tmp/want" && t_ok "serve: $d Range 1000-1999 -> 206, right bytes" ||
			t_fail "serve: $d Range (got $code)"
	done
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/distros/rocky/tree/../media.iso")
	[ "$code" != 200 ] && t_ok "serve: no way out of the tree ($code)" || t_fail "serve: traversal answered 200"
fi
t_summary
