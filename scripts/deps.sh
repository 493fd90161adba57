#!/bin/sh
# Install the Debian packages kickfleet needs to build, test and run its lab.
#   scripts/deps.sh [build|packages|check|demo|bench|all]   (default: all)
# Idempotent and quiet on success. Services that packages would start are
# blocked while installing, and any host-wide dnsmasq/tftpd/libvirtd the
# packages started anyway is stopped again: kickfleet runs its own.
set -eu

want=${1:-all}

BUILD="build-essential pkg-config libyaml-dev libcurl4-openssl-dev libvirt-dev
 libnuma-dev libnl-3-dev libnl-route-3-dev libmicrohttpd-dev libsqlite3-dev
 libjson-c-dev libxml2-dev libarchive-dev nettle-dev libfreeipmi-dev libpq-dev"
CHECK="libcmocka-dev clang libclang-rt-14-dev dnsmasq-base tftpd-hpa tftp-hpa
 iproute2 curl jq busybox-static libvirt-daemon libvirt-daemon-driver-qemu
 libvirt-clients qemu-system-x86 qemu-utils ipxe-qemu pxelinux syslinux-common
 ovmf grub-efi-amd64-bin grub-efi-amd64-signed ipxe grub-common mtools xorriso kmod
 openipmi numactl openvswitch-switch chromium mmdebstrap e2fsprogs
 postgresql-15 openssl python3"
# `make packages`: the agent's RPM (rpmbuild, createrepo_c) and .deb
# (dpkg-buildpackage, debhelper); the package suite checks them with
# rpmlint, lintian and a dnf install into an empty root
PACKAGES="rpm createrepo-c debhelper dpkg-dev fakeroot dnf lintian rpmlint"
BENCH="wrk nginx-light ansible-core hyperfine ipmitool"

case $want in
build) pkgs=$BUILD ;;
packages) pkgs="$BUILD $PACKAGES" ;;
check|demo) pkgs="$BUILD $CHECK $PACKAGES" ;;
bench) pkgs="$BUILD $CHECK $PACKAGES $BENCH" ;;
all) pkgs="$BUILD $CHECK $PACKAGES $BENCH" ;;
*) echo "usage: $0 [build|packages|check|demo|bench|all]" >&2; exit 1 ;;
esac

missing=
for p in $pkgs; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case $s in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root to install them: $0 $want" >&2
	exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Keep package scripts from starting services on this host.
prc=/usr/sbin/policy-rc.d
created=
if [ ! -e $prc ]; then
	printf '#!/bin/sh\nexit 101\n' > $prc
	chmod 755 $prc
	created=1
fi
cleanup() { [ -n "$created" ] && rm -f $prc; true; }
trap cleanup EXIT

log=$(mktemp /tmp/kickfleet-deps.XXXXXX)
# several runs at once (parallel builds) wait for each other's dpkg lock
apt="apt-get -o DPkg::Lock::Timeout=900"
if ! { $apt update -q && $apt install -y -q --no-install-recommends $missing; } >"$log" 2>&1; then
	cat "$log" >&2
	rm -f "$log"
	echo "deps: apt-get failed" >&2
	exit 1
fi
rm -f "$log"

# Never leave host-wide services of these packages running.
for svc in tftpd-hpa dnsmasq libvirtd nginx openvswitch-switch ovsdb-server ovs-vswitchd postgresql; do
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$svc" 2>/dev/null; then
		systemctl stop "$svc" 2>/dev/null || true
		systemctl disable "$svc" 2>/dev/null || true
	fi
done
echo "deps: done"
