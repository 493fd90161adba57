#!/bin/sh
# kickfleet-agent needs no library an installed host may lack: libyaml,
# json-c and libnl are linked in, libcurl, libvirt, libxml2 and libnuma are
# opened at first use, so it lists only glibc and the loader, uses no glibc
# symbol newer than 2.34 (EL9), and runs `--version` and `validate` in a
# chroot that holds the binary, the loader, libc.so.6 and a profile, and
# nothing else.
. "$(dirname "$0")/../lib.sh"
t_need_root
cd "$TOP" || exit 1
work=$(mktemp -d /tmp/kf-static.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
GLIBC_FLOOR=2.34

b=build/kickfleet-agent
[ -x "$b" ] || { t_fail "$b not built (make all)"; t_summary; exit 1; }

needed=$(readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
if [ "$needed" = "ld-linux-x86-64.so.2 libc.so.6 " ]; then t_ok "the agent needs only glibc: $needed"
else t_fail "the agent needs: $needed"; fi

# the newest GLIBC_x.y version among the symbols it imports
newest=$(objdump -T "$b" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
if [ -n "$newest" ] && [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_FLOOR" | sort -V | tail -1)" = "$GLIBC_FLOOR" ]; then
	t_ok "the newest glibc symbol version is $newest (floor $GLIBC_FLOOR)"
else
	t_fail "the agent imports glibc $newest symbols (floor $GLIBC_FLOOR):"
	objdump -T "$b" | grep -E "GLIBC_$newest" | head -5
fi

# the chroot: the binary, the loader its PT_INTERP names, libc, a profile
R=$work/root
interp=$(readelf -l "$b" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
libc=$(ldd "$b" | awk '$1 == "libc.so.6" { print $3 }')
for f in "$interp" "$libc"; do
	[ -n "$f" ] || { t_fail "no loader or libc found for $b"; t_summary; exit 1; }
	mkdir -p "$R$(dirname "$f")"
	cp -L "$f" "$R$f"
done
mkdir -p "$R/bin"
cp "$b" "$R/bin/kickfleet-agent"
cp profiles/kvm-host.yaml "$R/profile.yaml"
printf 'role: broken\nmemory:\n  transparent_hugepages: {enabled: sometimes}\n' >"$R/bad.yaml"
files=$(cd "$R" && find . -type f | sort | tr '\n' ' ')
t_ok "chroot holds only: $files"

out=$(chroot "$R" /bin/kickfleet-agent --version 2>&1)
rc=$?
version=$(sed -n 's/^#define KF_VERSION "\(.*\)"/\1/p' lib/subcmd.h)
case $out in
*"$version"*) [ "$rc" = 0 ] && t_ok "--version in the chroot: $out" || t_fail "--version exit $rc" ;;
*) t_fail "--version in the chroot (exit $rc): $out" ;;
esac

out=$(chroot "$R" /bin/kickfleet-agent validate /profile.yaml 2>&1)
rc=$?
if [ "$rc" = 0 ]; then t_ok "validate of the shipped kvm-host profile in the chroot"
else t_fail "validate in the chroot exit $rc: $out"; fi

# a profile with a wrong value: the linked-in libyaml and schema still
# give the file:line:col error
out=$(chroot "$R" /bin/kickfleet-agent validate /bad.yaml 2>&1)
rc=$?
case $out in
"/bad.yaml:3:"*) [ "$rc" != 0 ] && t_ok "validate of a bad profile in the chroot: exit $rc, $out" ||
	t_fail "bad profile exit 0" ;;
*) t_fail "bad profile in the chroot (exit $rc): $out" ;;
esac
t_summary
