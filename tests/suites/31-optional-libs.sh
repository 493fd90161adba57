#!/bin/sh
# libcurl, libvirt, libxml2 and libnuma are opened at first use (lib/dl.h), not
# linked: kickfleet-agent does not list them, runs the same without them
# (in a mount namespace where their files are hidden), and says which one
# is missing when a run needs it.  Guests use libvirt's test driver.  The
# same for kickfleet with libarchive (only ISO images need it),
# libmicrohttpd (only serve and up), libfreeipmi (only power) and libpq
# (only a PostgreSQL state store).
. "$(dirname "$0")/../lib.sh"
t_need_root
cd "$TOP" || exit 1
work=$(mktemp -d /tmp/kf-optlibs.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
# intercept_tls_get_addr=0: LeakSanitizer mistakes some dynamic TLS blocks of
# dlopened libraries (libvirt's) for glibc 2.19 ones and crashes scanning them
# at exit, depending only on heap layout (google/sanitizers#1322)
export ASAN_OPTIONS=detect_leaks=1:intercept_tls_get_addr=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

lazy="libcurl.so.4 libvirt.so.0 libxml2.so.2 libnuma.so.1 libarchive.so.13 libmicrohttpd.so.12 libfreeipmi.so.17 libpq.so.5"
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

not_linked() { # TAG BINARY SONAME...: BINARY lists none of them
	tag=$1 bin=$2
	shift 2
	for so in "$@"; do
		if ldd "$bin" | grep -q "${so%%.so*}\.so"; then t_fail "$tag: $bin links $so"; else t_ok "$tag: $bin does not link $so"; fi
	done
}

# same_output WHAT OUT CMD...: CMD prints the same and exits the same with
# the libraries and without them (outputs in OUT.with, OUT.without)
same_output() {
	what=$1 out=$2
	shift 2
	"$@" >"$out.with" 2>&1
	rc1=$?
	hidden "$@" >"$out.without" 2>&1
	rc2=$?
	if [ "$rc1" = "$rc2" ] && cmp -s "$out.with" "$out.without"; then
		t_ok "$tag: $what is the same without the libraries (exit $rc1)"
	else
		t_fail "$tag: $what differs without the libraries (exit $rc1 vs $rc2)"
		diff -u "$out.with" "$out.without" | head -20
	fi
}

for b in build/kickfleet-agent build/asan/kickfleet-agent; do
	[ -x "$b" ] || { t_fail "$b not built (make all asan)"; continue; }
	case $b in */asan/*) tag=asan ;; *) tag=plain ;; esac
	not_linked "$tag" "$b" libcurl.so.4 libvirt.so.0 libxml2.so.2 libnuma.so.1

	t_check "$tag: --version without the libraries" hidden "$b" --version >/dev/null

	# the same plan, byte for byte, with and without the libraries
	same_output "plan of a host profile" "$work/plan" "$b" plan --profile "$profile" --root "$work/root"
	rc_with=$rc1

	# this host (read only): with libnuma or without it (nodes from sysfs)
	printf 'role: optional-libs\nmemory:\n  numa_balancing: false\n' >"$work/host.yaml"
	same_output "plan on this host" "$work/host" "$b" plan --json --profile "$work/host.yaml"

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
hosts:
  - {name: h1, mac: "52:54:00:00:00:01", role: r,
     power: {address: 127.0.0.1, port: 9, user: u, password_file: pw}}
EOF
printf 'text\n' >"$work/fleet/t.ks"
printf 'pw\n' >"$work/fleet/pw"
chmod 600 "$work/fleet/pw"
cp "$work/fleet/fleet.yaml" "$work/fleet/pg.yaml"
printf 'state: {backend: postgresql, dsn_file: pg.dsn}\n' >>"$work/fleet/pg.yaml"
(umask 077; printf 'host=/nonexistent dbname=kf\n' >"$work/fleet/pg.dsn")
for b in build/kickfleet build/asan/kickfleet; do
	[ -x "$b" ] || { t_fail "$b not built (make all asan)"; continue; }
	case $b in */asan/*) tag=asan ;; *) tag=plain ;; esac
	not_linked "$tag" "$b" libvirt.so.0 libxml2.so.2 libarchive.so.13 libmicrohttpd.so.12 libgnutls.so.30 libfreeipmi.so.17 libpq.so.5
	hidden "$b" power -f "$work/fleet/fleet.yaml" status h1 >"$work/out.txt" 2>&1
	rc=$?
	if [ "$rc" = 1 ] && grep -q "^h1: libfreeipmi is not installed: cannot drive BMCs over IPMI (" "$work/out.txt"; then
		t_ok "$tag: power without libfreeipmi: the host fails naming it, exit 1"
	else t_fail "$tag: power without libfreeipmi exit $rc"; head -5 "$work/out.txt"; fi
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
	hidden "$b" status -f "$work/fleet/pg.yaml" >"$work/out.txt" 2>&1
	rc=$?
	if [ "$rc" = 1 ] && grep -q "libpq is not installed: cannot use a PostgreSQL state store (" "$work/out.txt"; then
		t_ok "$tag: a PostgreSQL state without libpq: a clear error, exit 1"
	else t_fail "$tag: a PostgreSQL state without libpq exit $rc"; head -5 "$work/out.txt"; fi
	rm -rf "$work/fleet/distros.d" "$work/srv"
done
t_summary
