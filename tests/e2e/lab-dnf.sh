#!/bin/sh
# tests/e2e/lab-dnf.sh — the lab installer's stand-in for dnf, /usr/bin/dnf
# in its initramfs (busybox and dash: no Python, no rpm database).  It does
# what `dnf -y install NAME...` does with the repository that
# /etc/yum.repos.d/*.repo names, minus dependency resolution: repomd.xml,
# then the primary metadata it points at, then each package's location and
# SHA-256; download, check, and busybox `rpm -i`, which unpacks into /.
# So the lab proves that the provisioner serves a repository whose
# metadata leads to the right package, and the package's files; dnf itself
# (with its dependency resolution) installing from the same server is
# proven by tests/suites/27-packages.sh.
#   dnf [-y] [--disablerepo=...] [--enablerepo=...] install NAME...
# LAB_DNF_REPOS names another directory of .repo files (default
# /etc/yum.repos.d).
# (options are accepted and ignored: the lab has the one repository)
set -eu
say() { echo "lab-dnf: $*"; }
die() { say "$*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case $1 in
	-y | --disablerepo=* | --enablerepo=*) shift ;;
	*) break ;;
	esac
done
[ "${1:-}" = install ] || die "only 'dnf [OPTIONS] install NAME...' is supported"
shift
repos=${LAB_DNF_REPOS:-/etc/yum.repos.d}
base=$(sed -n 's/^baseurl=//p' "$repos"/*.repo 2>/dev/null | head -n 1)
[ -n "$base" ] || die "no baseurl in $repos/*.repo"
tmp=/tmp/lab-dnf
rm -rf "$tmp"
mkdir -p "$tmp"
get() { curl -fsS --retry 3 -o "$2" "$base/$1" || die "GET $base/$1 failed"; }

# <location href="..."/> of the first element that matches $1
href() { sed -n "/$1/,/<\/data>/{s/.*<location href=\"\([^\"]*\)\".*/\1/p}" | head -n 1; }
get repodata/repomd.xml "$tmp/repomd.xml"
primary=$(href '<data type="primary">' <"$tmp/repomd.xml")
[ -n "$primary" ] || die "repomd.xml names no primary metadata"
get "$primary" "$tmp/primary.xml.gz"
zcat "$tmp/primary.xml.gz" >"$tmp/primary.xml"

for name in "$@"; do
	# LOCATION SHA256 of the package named $name
	found=$(awk -v n="$name" '
		/<package type="rpm">/ { nm = ""; sum = ""; loc = "" }
		/<name>/ { s = $0; sub(/.*<name>/, "", s); sub(/<\/name>.*/, "", s); nm = s }
		/<checksum type="sha256"/ { s = $0; sub(/.*<checksum[^>]*>/, "", s); sub(/<\/checksum>.*/, "", s); sum = s }
		/<location href=/ { s = $0; sub(/.*<location href="/, "", s); sub(/".*/, "", s); loc = s }
		/<\/package>/ { if (nm == n) { print loc, sum; exit } }' "$tmp/primary.xml")
	[ -n "$found" ] || die "no package $name in $base"
	loc=${found% *} sum=${found#* }
	get "$loc" "$tmp/pkg.rpm"
	echo "$sum  $tmp/pkg.rpm" | sha256sum -c >/dev/null || die "$loc: SHA-256 differs from the primary metadata"
	rpm -i "$tmp/pkg.rpm" || die "rpm -i $loc failed"
	say "installed $name from $base/$loc"
done
