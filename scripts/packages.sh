#!/bin/sh
# Builds the agent's packages and the two repositories `kickfleet render`
# copies under the HTTP root (`make packages` runs it after building
# build/kickfleet-agent):
#   OUT/rpm/kickfleet-agent-V-1.el9.x86_64.rpm + OUT/rpm/repodata/  (createrepo_c)
#   OUT/deb/kickfleet-agent_V-1_amd64.deb + Packages, Packages.gz, Release
#                       (a flat apt repository: "deb [trusted=yes] URL/repo deb/")
# V is KF_VERSION in lib/subcmd.h.  The RPM comes from
# packaging/rpm/kickfleet-agent.spec, the .deb from packaging/debian/
# (dpkg-buildpackage); both hold the binary, the units of agent/systemd/,
# docs/man/kickfleet-agent.1 and packaging/agent.env.
#   scripts/packages.sh [OUT]   (default: build/packages)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$TOP/build/packages}
case $OUT in /*) ;; *) OUT=$(pwd)/$OUT ;; esac
cd "$TOP"

version=$(sed -n 's/^#define KF_VERSION "\(.*\)"/\1/p' lib/subcmd.h)
[ -n "$version" ] || { echo "packages: no KF_VERSION in lib/subcmd.h" >&2; exit 1; }
[ -x build/kickfleet-agent ] || { echo "packages: build/kickfleet-agent not built (make all)" >&2; exit 1; }
for tool in rpmbuild createrepo_c dpkg-buildpackage dh dpkg-scanpackages; do
	command -v $tool >/dev/null 2>&1 ||
		{ echo "packages: $tool not found (scripts/deps.sh packages installs it)" >&2; exit 1; }
done
# the packages' dates: the last commit's, so a rebuild of the same tree
# gives the same changelog and file times
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

tmp=$(mktemp -d "$(dirname "$OUT")/.packages.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
log=$tmp/log

# the files both packages hold
stage=$tmp/stage/kickfleet-agent-$version
mkdir -p "$stage/units" "$tmp/new/rpm" "$tmp/new/deb"
cp build/kickfleet-agent docs/man/kickfleet-agent.1 packaging/agent.env "$stage/"
cp agent/systemd/*.service agent/systemd/*.timer "$stage/units/"

run() { # WHAT CMD...: run CMD with its output in the log, shown on failure
	what=$1
	shift
	if ! "$@" >"$log" 2>&1; then
		cat "$log" >&2
		echo "packages: $what failed" >&2
		exit 1
	fi
}

# ---- RPM ----
run rpmbuild rpmbuild -bb --quiet \
	--define "_topdir $tmp/rpmbuild" --define "kf_version $version" \
	--define "kf_stage $stage" --define "dist .el9" \
	--define "kf_date $(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %d %Y')" \
	--define "_buildhost kickfleet" --define "use_source_date_epoch_as_buildtime 1" \
	packaging/rpm/kickfleet-agent.spec
mv "$tmp"/rpmbuild/RPMS/x86_64/kickfleet-agent-"$version"-*.rpm "$tmp/new/rpm/"
run createrepo_c createrepo_c --quiet "$tmp/new/rpm"

# ---- .deb ----
cp -r packaging/debian "$stage/debian"
date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
printf 'kickfleet-agent (%s-1) unstable; urgency=medium\n\n  * kickfleet %s.\n\n -- %s  %s\n' \
	"$version" "$version" "$(sed -n 's/^Maintainer: //p' packaging/debian/control)" "$date" \
	>"$stage/debian/changelog"
(cd "$stage" && run dpkg-buildpackage dpkg-buildpackage -b -uc -us)
mv "$tmp"/stage/kickfleet-agent_"$version"-1_amd64.deb "$tmp/new/deb/"

# a flat repository, "deb [trusted=yes] BASE/repo deb/" in sources.list:
# Packages (file names relative to BASE/repo) and a Release that names
# their sums (apt needs it)
(cd "$tmp/new" && dpkg-scanpackages --multiversion deb /dev/null 2>"$log" >deb/Packages) ||
	{ cat "$log" >&2; echo "packages: dpkg-scanpackages failed" >&2; exit 1; }
gzip -9n <"$tmp/new/deb/Packages" >"$tmp/new/deb/Packages.gz"
{
	echo "Origin: kickfleet"
	echo "Label: kickfleet"
	echo "Date: $date"
	echo "Architectures: amd64"
	echo "Description: kickfleet-agent $version"
	for sum in MD5Sum:md5sum SHA256:sha256sum; do
		echo "${sum%%:*}:"
		for f in Packages Packages.gz; do
			printf ' %s %s %s\n' "$(${sum#*:} "$tmp/new/deb/$f" | cut -d' ' -f1)" \
				"$(stat -c %s "$tmp/new/deb/$f")" "$f"
		done
	done
} >"$tmp/new/deb/Release"

# swap the new tree in whole
rm -rf "$OUT.old"
[ -e "$OUT" ] && mv "$OUT" "$OUT.old"
mv "$tmp/new" "$OUT"
rm -rf "$OUT.old"
for f in "$OUT"/rpm/*.rpm "$OUT"/deb/*.deb; do
	printf '  PKG    %s (%s bytes)\n' "${f#"$TOP"/}" "$(stat -c %s "$f")"
done
