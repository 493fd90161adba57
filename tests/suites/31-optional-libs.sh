#!/bin/sh
# libcurl, libvirt, libxml2 and libnuma are opened at first use (lib/dl.h), not
# linked: kickfleet-agent does not list them, runs the same without them
# (in a mount namespace where their files are hidden), and says which one
# is missing when a run needs it.  Guests use libvirt's test driver.  The
# same for kickfleet with libarchive (only ISO images need it) and
# libmicrohttpd (only serve and up).
. "$(dirname "$0")/../lib.sh"
t_need_root
cd "$TOP" || exit 1
work=$(mktemp -d /tmp/kf-optlibs.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

lazy="libcurl.so.4 libvirt.so.0 libxml2.so.2 libnuma.so.1 libarchive.so.13 libmicrohttpd.so.12"
profile=tests/data/agent/full-two-node-amd/profile.yaml
tests/sysroot/mktree.sh two-node-amd "$work/root" >/dev/null
cat >"$work/guests.yaml" <<'EOF'
role: optional-libs
libvirt: {uri: "test:///default"}
guests:
  - name: test
    vcpus: {max: 2, current: 2}
    memory: {size: 8G}
EOF

# without LIBS: run the command in a mount namespace where the files of
# the lazy libraries are /dev/null
hidden() {
	unshare -m sh -c '
		for so in '"$lazy"'; do
			f=$(ldconfig -p | awk -v s="$so" "\$1 == s && /x86-64/ { print \$NF; exit }")
			[ -n "$f" ] && mount --bind /dev/null "$(readlink -f "$f")" || exit 99
		done
		exec "$@"' sh "$@"
}

for b in build/kickfleet-agent build/asan/kickfleet-agent; do
	[ -x "$b" ] || { t_fail "$b not built (make all asan)"; continue; }
	case $b in */asan/*) tag=asan ;; *) tag=plain ;; esac
	for so in libcurl.so.4 libvirt.so.0 libxml2.so.2 libnuma.so.1; do
		if ldd "$b" | grep -q "${so%%.so*}\.so"; then t_fail "$tag: $b links $so"; else t_ok "$tag: $b does not link $so"; fi
	done

	t_check "$tag: --version without the libraries" hidden "$b" --version >/dev/null

	# the same plan, byte for byte, with and without the libraries
	"$b" plan --profile "$profile" --root "$work/root" >"$work/plan.with" 2>&1
	rc_with=$?
	hidden "$b" plan --profile "$profile" --root "$work/root" >"$work/plan.without" 2>&1
	rc_without=$?
	if [ "$rc_with" = "$rc_without" ] && cmp -s "$work/plan.with" "$work/plan.without"; then
		t_ok "$tag: plan of a host profile is the same without the libraries (exit $rc_with)"
	else
		t_fail "$tag: plan differs without the libraries (exit $rc_with vs $rc_without)"
		diff -u "$work/plan.with" "$work/plan.without" | head -20
	fi

	# this host (read only): with libnuma or without it (nodes from sysfs)
	printf 'role: optional-libs\nmemory:\n  numa_balancing: false\n' >"$work/host.yaml"
	"$b" plan --json --profile "$work/host.yaml" >"$work/host.with" 2>&1
	rc1=$?
	hidden "$b" plan --json --profile "$work/host.yaml" >"$work/host.without" 2>&1
	rc2=$?
	if [ "$rc1" = "$rc2" ] && cmp -s "$work/host.with" "$work/host.without"; then
		t_ok "$tag: plan on this host is the same without libnuma (exit $rc1)"
	else
		t_fail "$tag: plan on this host differs without libnuma (exit $rc1 vs $rc2)"
		diff -u "$work/host.with" "$work/host.without" | head -20
	fi

	# guests: libvirt is opened at the first guest
	"$b" check --only guests --profile "$work/guests.yaml" --root "$work/root" >"$work/out" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && grep -q "no changes" "$work/out"; then t_ok "$tag: guests through libvirt loaded at first use"
	else t_fail "$tag: guests with libvirt exit $rc"; head -5 "$work/out"; fi
	hidden "$b" check --only guests --profile "$work/guests.yaml" --root "$work/root" >"$work/out" 2>&1
	rc=$?
	if [ "$rc" = 4 ] && grep -q "guests: libvirt is not installed: cannot manage guests (" "$work/out"; then
		t_ok "$tag: guests without libvirt: a clear error, exit 4"
	else t_fail "$tag: guests without libvirt exit $rc"; head -5 "$work/out"; fi

	# HTTP: a profile URL fails as an unreachable server does; a report
	# is a warning and keeps the exit code
	hidden "$b" check --profile http://127.0.0.1:9/p.yaml --state-dir "$work/state" --root "$work/root" \
		>"$work/out" 2>&1
	rc=$?
	if [ "$rc" = 1 ] && grep -q "http://127.0.0.1:9/p.yaml: libcurl is not installed: cannot fetch profiles" "$work/out"; then
		t_ok "$tag: profile URL without libcurl: a clear error, exit 1"
	else t_fail "$tag: profile URL without libcurl exit $rc"; head -5 "$work/out"; fi
	hidden "$b" plan --profile "$profile" --root "$work/root" --report http://127.0.0.1:9/r >"$work/out" 2>"$work/err"
	rc=$?
	if [ "$rc" = "$rc_with" ] && grep -q "warning: report to http://127.0.0.1:9/r: libcurl is not installed" "$work/err"; then
		t_ok "$tag: report without libcurl: a warning, same exit $rc"
	else t_fail "$tag: report without libcurl exit $rc"; head -5 "$work/err"; fi
done

# kickfleet: libarchive only for ISO images
"$TOP/tests/data/distro/mkmedia.sh" "$work/media" >/dev/null 2>&1 || t_fail "mkmedia.sh failed"
mkdir -p "$work/fleet"
cat >"$work/fleet/fleet.yaml" <<EOF
provisioner:
  interface: lo
  address: 127.0.0.1
  subnet: 127.0.0.0/8
  dhcp: {mode: static}
  state_dir: $work/srv/state
  tftp_root: $work/srv/tftp
  http_root: $work/srv/http
distros:
  handmade: {kernel: /k, initrd: /i}
roles:
  r: {distro: handmade, kickstart: t.ks}
EOF
printf 'text\n' >"$work/fleet/t.ks"
for b in build/kickfleet build/asan/kickfleet; do
	[ -x "$b" ] || { t_fail "$b not built (make all asan)"; continue; }
	case $b in */asan/*) tag=asan ;; *) tag=plain ;; esac
	for so in libvirt.so.0 libxml2.so.2 libarchive.so.13 libmicrohttpd.so.12 libgnutls.so.30; do
		if ldd "$b" | grep -q "${so%%.so*}\.so"; then t_fail "$tag: $b links $so"; else t_ok "$tag: $b does not link $so"; fi
	done
	t_check "$tag: kickfleet check without the libraries" hidden env KICKFLEET_DATADIR="$TOP" "$b" check -f examples/fleet.yaml
	hidden "$b" distro import rocky "$work/media/disc.iso" -f "$work/fleet/fleet.yaml" >"$work/out.txt" 2>&1
	rc=$?
	if [ "$rc" = 1 ] && grep -q "libarchive is not installed: cannot read ISO images (" "$work/out.txt" &&
	   [ ! -e "$work/fleet/distros.d/rocky.yaml" ]; then
		t_ok "$tag: an ISO without libarchive: a clear error, exit 1, nothing written"
	else t_fail "$tag: an ISO without libarchive exit $rc"; head -5 "$work/out.txt"; fi
	"$b" distro import rocky "$work/media/disc.iso" -f "$work/fleet/fleet.yaml" >"$work/out.txt" 2>&1
	t_check "$tag: the same ISO with libarchive imports" test -s "$work/fleet/distros.d/rocky.yaml"
	hidden "$b" serve -f "$work/fleet/fleet.yaml" --listen 127.0.0.1:0 >"$work/out.txt" 2>&1
	rc=$?
	if [ "$rc" = 1 ] && grep -q "libmicrohttpd is not installed: cannot serve HTTP (" "$work/out.txt"; then
		t_ok "$tag: serve without libmicrohttpd: a clear error, exit 1"
	else t_fail "$tag: serve without libmicrohttpd exit $rc"; head -5 "$work/out.txt"; fi
	rm -rf "$work/fleet/distros.d" "$work/srv"
done
t_summary
