#!/bin/sh
# The agent's packages (`make packages`, scripts/packages.sh): the RPM is
# what rpm -qip, rpm -K and rpmlint expect, needs only glibc, and holds the
# binary, units, man page and default config; the .deb is lintian clean,
# depends on libc6 only, enables its units without starting them, and
# installs into (and purges from) a clean root with dpkg.  Then
# `kickfleet render` puts both repositories under the HTTP root and
# `kickfleet serve` on loopback serves them: dnf installs the RPM into an
# empty root (beside a stand-in for EL9's glibc), apt-get the .deb into
# the clean root, each as the kickstart and the preseed do.
. "$(dirname "$0")/../lib.sh"
t_need_root
cd "$TOP" || exit 1
work=$(mktemp -d /tmp/kf-packages.XXXXXX)
[ -d "$work" ] || exit 1
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

version=$(sed -n 's/^#define KF_VERSION "\(.*\)"/\1/p' lib/subcmd.h)
P=build/packages
rpmf=$P/rpm/kickfleet-agent-$version-1.el9.x86_64.rpm
debf=$P/deb/kickfleet-agent_${version}-1_amd64.deb
for f in "$rpmf" "$debf" "$P/rpm/repodata/repomd.xml" "$P/deb/Packages.gz" "$P/deb/Release"; do
	[ -f "$f" ] || { t_fail "$f missing (make packages)"; t_summary; exit 1; }
done

# ---- RPM ----
rpm -qip "$rpmf" >"$work/qi" 2>&1
for want in "Name        : kickfleet-agent" "Version     : $version" "Release     : 1.el9" \
	"Architecture: x86_64"; do
	if grep -qxF "$want" "$work/qi"; then t_ok "rpm -qip: $want"; else t_fail "rpm -qip lacks: $want"; fi
done
out=$(rpm -K "$rpmf" 2>&1)
case $out in *": digests OK") t_ok "rpm -K: $out" ;; *) t_fail "rpm -K: $out" ;; esac

# Requires: glibc's sonames (with GLIBC_x.y no newer than 2.34), the
# loader, rpmlib features; nothing else (no libyaml, no libcurl)
rpm -qpR "$rpmf" >"$work/req"
other=$(grep -vE '^(libc\.so\.6|ld-linux-x86-64\.so\.2)\(|^rtld\(GNU_HASH\)$|^rpmlib\(|^config\(kickfleet-agent\)' "$work/req")
if [ -z "$other" ]; then t_ok "RPM requires only glibc ($(wc -l <"$work/req") capabilities)"
else t_fail "RPM requires more than glibc: $other"; fi
newest=$(grep -o 'GLIBC_[0-9.]*' "$work/req" | sed 's/GLIBC_//' | sort -uV | tail -1)
if [ "$(printf '%s\n2.34\n' "$newest" | sort -V | tail -1)" = 2.34 ]; then t_ok "RPM: newest glibc version $newest (EL9 has 2.34)"
else t_fail "RPM needs glibc $newest, EL9 has 2.34"; fi

rpm -qpl "$rpmf" >"$work/files"
for f in /usr/bin/kickfleet-agent /usr/share/man/man1/kickfleet-agent.1.gz /etc/kickfleet/agent.env \
	/usr/lib/systemd/system/kickfleet-agent.service /usr/lib/systemd/system/kickfleet-agent.timer \
	/usr/lib/systemd/system/kickfleet-agent-periodic.service /usr/lib/systemd/system/kickfleet-agent-reload.service; do
	if grep -qxF "$f" "$work/files"; then t_ok "RPM holds $f"; else t_fail "RPM lacks $f"; fi
done
t_check "RPM: agent.env is a config file" sh -c "rpm -qpc '$rpmf' | grep -qx /etc/kickfleet/agent.env"
t_check "RPM has no scriptlets (the kickstart enables the units)" test -z "$(rpm -qp --scripts "$rpmf")"

# rpmlint: the only error is the missing signature (the repository is
# served unsigned, dnf uses --nogpgcheck / gpgcheck=0); the warnings
# allowed are the unchosen license and rpmlint 2.4's man page check,
# which compares binaries with the man section instead of the page name
rpmlint -c packaging/rpm/rpmlint.toml "$rpmf" >"$work/lint" 2>&1
bad=$(grep -E '^kickfleet-agent[^ ]*: [EW]: ' "$work/lint" |
	grep -vE ': E: no-signature$|: W: invalid-license LicenseRef-kickfleet$|: W: no-manual-page-for-binary kickfleet-agent$')
if [ -z "$bad" ] && grep -q "packages and 0 specfiles checked" "$work/lint"; then
	t_ok "rpmlint: $(grep -c ': [EW]: ' "$work/lint") known findings only (no-signature, license, rpmlint 2.4 man check)"
else t_fail "rpmlint: $bad"; fi

# ---- .deb ----
lintian --fail-on error,warning "$debf" >"$work/lintian" 2>&1
rc=$?
if [ "$rc" = 0 ] && ! grep -qE '^[EW]: ' "$work/lintian"; then t_ok "lintian: clean"
else t_fail "lintian exit $rc:"; cat "$work/lintian"; fi
dep=$(dpkg-deb -f "$debf" Depends)
case $dep in "libc6 (>= 2."*) t_ok ".deb Depends: $dep" ;; *) t_fail ".deb Depends: $dep" ;; esac
t_check ".deb version is $version-1" test "$(dpkg-deb -f "$debf" Version)" = "$version-1"
dpkg-deb -e "$debf" "$work/ctl"
t_check ".deb: agent.env is a conffile" grep -qx /etc/kickfleet/agent.env "$work/ctl/conffiles"
if grep -q "deb-systemd-helper enable 'kickfleet-agent.service'" "$work/ctl/postinst" &&
   grep -q "deb-systemd-helper enable 'kickfleet-agent.timer'" "$work/ctl/postinst" &&
   ! grep -q "deb-systemd-invoke start" "$work/ctl/postinst"; then
	t_ok ".deb postinst enables the boot unit and the timer, starts nothing"
else t_fail ".deb postinst"; cat "$work/ctl/postinst"; fi

# dpkg -i into a clean root: a static busybox as /bin/sh for the
# maintainer scripts, the loader and libc with a status entry for libc6
# (the host's), and nothing else
R=$work/root
mkdir -p "$R/bin" "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/tmp"
cp "$(command -v busybox)" "$R/bin/sh"
b=build/kickfleet-agent
for f in $(readelf -l "$b" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p') \
	$(ldd "$b" | awk '$1 == "libc.so.6" { print $3 }'); do
	mkdir -p "$R$(dirname "$f")"
	cp -L "$f" "$R$f"
done
dpkg-query -s libc6 | sed '/^Depends:/d; /^Conffiles:/,/^[^ ]/{/^Conffiles:/d; /^ /d}' >"$R/var/lib/dpkg/status"
: >"$R/var/lib/dpkg/available"
if dpkg --root="$R" --log=/dev/null -i "$debf" >"$work/dpkg" 2>&1; then t_ok "dpkg --root -i into a clean root"
else t_fail "dpkg -i:"; cat "$work/dpkg"; fi
t_check "dpkg: kickfleet-agent is installed" sh -c \
	"dpkg --root='$R' -s kickfleet-agent | grep -qx 'Status: install ok installed'"
for f in usr/bin/kickfleet-agent etc/kickfleet/agent.env lib/systemd/system/kickfleet-agent.timer \
	usr/share/man/man1/kickfleet-agent.1.gz; do
	t_check "dpkg installed /$f" test -f "$R/$f"
done
cp profiles/kvm-host.yaml "$R/tmp/p.yaml"
t_check "the installed agent validates a profile inside the root" chroot "$R" /usr/bin/kickfleet-agent validate /tmp/p.yaml
if dpkg --root="$R" --log=/dev/null -P kickfleet-agent >"$work/dpkg" 2>&1 && [ ! -e "$R/usr/bin/kickfleet-agent" ] &&
   [ ! -e "$R/etc/kickfleet/agent.env" ]; then t_ok "dpkg -P removes the binary and the conffile"
else t_fail "dpkg -P:"; cat "$work/dpkg"; fi

# ---- the repositories, rendered and served ----
KF=build/kickfleet
FLEET=tests/data/http/fleet/fleet.yaml
O=$work/out
mkdir -p "$work/nopkgs"
KICKFLEET_PACKAGES=$work/nopkgs "$KF" render -f "$FLEET" -o "$O" >"$work/render" 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q 'packages are not in .*(build them with `make packages`)' "$work/render" &&
   [ ! -e "$O" ]; then
	t_ok "render without the packages: exit 1, names make packages, writes nothing"
else t_fail "render without packages exit $rc"; cat "$work/render"; fi
"$KF" render -f "$FLEET" -o "$O" >"$work/render" 2>&1
n=$(sed -n 's/.*, \([0-9]*\) package repository files.*/\1/p' "$work/render")
t_check "render places the repositories ($n files)" \
	cmp -s "$O/http/repo/rpm/repodata/repomd.xml" "$P/rpm/repodata/repomd.xml"
t_check "render: the apt repository in place" cmp -s "$O/http/repo/deb/Release" "$P/deb/Release"
"$KF" render -f "$FLEET" -o "$O" >"$work/render" 2>&1
if grep -q "package repository files" "$work/render"; then t_fail "a second render placed them again"
else t_ok "a second render leaves them alone"; fi
# a file a new build no longer has goes
: >"$O/http/repo/rpm/kickfleet-agent-0.0.1-1.el9.x86_64.rpm"
"$KF" render -f "$FLEET" -o "$O" >/dev/null 2>&1
t_check "render removes an old build's file" test ! -e "$O/http/repo/rpm/kickfleet-agent-0.0.1-1.el9.x86_64.rpm"

PORT=$((20000 + ($$ + 7) % 20000))
URL=http://127.0.0.1:$PORT
"$KF" serve -v -f "$FLEET" -o "$O" --listen 127.0.0.1:$PORT >"$work/serve.log" 2>&1 &
PID=$!
i=0
while ! curl -sf "$URL/healthz" >/dev/null 2>&1 && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
t_check "serve: GET /repo/rpm/repodata/repomd.xml" curl -sf -o /dev/null "$URL/repo/rpm/repodata/repomd.xml"
code=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$URL/repo/../state.db")
t_check "serve: /repo/../state.db refused ($code)" test "$code" = 400

# a stand-in for EL9's glibc: the host's libc and loader in a package
# named glibc; rpm derives its Provides (libc.so.6(GLIBC_2.34)(64bit),
# ...) from the files, as for the real one, plus rtld(GNU_HASH)
S=$work/standin
mkdir -p "$S/files/lib64" "$S/files/lib/x86_64-linux-gnu" "$S/base"
cp -L /lib64/ld-linux-x86-64.so.2 "$S/files/lib64/"
cp -L "$(ldd build/kickfleet-agent | awk '$1 == "libc.so.6" { print $3 }')" "$S/files/lib/x86_64-linux-gnu/"
{
	echo "Name: glibc"
	echo "Version: $(dpkg-query -W -f='${Version}' libc6 | sed 's/-.*//')"
	echo "Release: 0.kftest"
	echo "Summary: stand-in for EL9's glibc (the test host's libc and loader)"
	echo "License: LGPL-2.1-or-later"
	echo "Provides: rtld(GNU_HASH)"
	echo "%global debug_package %{nil}"
	echo "%description"
	echo "Test only."
	echo "%install"
	echo "cp -a $S/files/. %{buildroot}/"
	echo "%files"
	echo "/lib64/ld-linux-x86-64.so.2"
	echo "/lib/x86_64-linux-gnu/libc.so.6"
} >"$S/glibc.spec"
if rpmbuild -bb --quiet --define "_topdir $S/rb" "$S/glibc.spec" >"$work/rb" 2>&1 &&
   cp "$S"/rb/RPMS/x86_64/glibc-*.rpm "$S/base/" && createrepo_c -q "$S/base" >/dev/null; then
	t_ok "stand-in glibc repository built"
else t_fail "stand-in glibc:"; cat "$work/rb"; fi

D=$work/dnfroot
mkdir -p "$D"
t0=$(date +%s)
dnf -y --installroot="$D" --releasever=9 --setopt=reposdir=/nonexistent \
	--setopt=cachedir="$work/dnfcache" --setopt=install_weak_deps=False --nogpgcheck \
	--repofrompath=kickfleet,"$URL/repo/rpm" --repofrompath=base,"file://$S/base" \
	install kickfleet-agent >"$work/dnf" 2>&1
rc=$?
if [ "$rc" = 0 ] && grep -Eq '^ *glibc +x86_64 ' "$work/dnf"; then
	t_ok "dnf --installroot install kickfleet-agent from kickfleet serve ($(( $(date +%s) - t0 ))s; pulled in glibc)"
else t_fail "dnf install exit $rc:"; tail -20 "$work/dnf"; fi
t_check "rpm -q in the dnf root: kickfleet-agent-$version-1.el9" \
	sh -c "rpm --root '$D' -q kickfleet-agent | grep -qx 'kickfleet-agent-$version-1.el9.x86_64'"
t_check "the RPM came over HTTP from kickfleet" \
	grep -q "http: 200 GET /repo/rpm/kickfleet-agent-$version-1.el9.x86_64.rpm from 127.0.0.1" "$work/serve.log"
t_check "the dnf-installed agent runs in its root" chroot "$D" /usr/bin/kickfleet-agent --version

# apt-get, as the preseed runs it, into the clean root from before
echo "deb [trusted=yes] $URL/repo deb/" >"$work/sources.list"
mkdir -p "$R/var/lib/apt/lists/partial" "$R/var/cache/apt/archives/partial"
aptq() {
	apt-get -q -y -o Dir::State="$R/var/lib/apt" -o Dir::State::status="$R/var/lib/dpkg/status" \
		-o Dir::Cache="$R/var/cache/apt" -o Dir::Etc::SourceList="$work/sources.list" \
		-o Dir::Etc::SourceParts=/nonexistent -o Dir::Etc::Preferences=/nonexistent \
		-o Dir::Etc::PreferencesParts=/nonexistent -o Dir::Log="$work" \
		-o DPkg::Options::=--root="$R" -o DPkg::Options::=--log=/dev/null \
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}
if aptq update >"$work/apt" 2>&1 && aptq install kickfleet-agent >>"$work/apt" 2>&1; then
	t_ok "apt-get install kickfleet-agent from kickfleet serve (flat repository)"
else t_fail "apt-get:"; tail -20 "$work/apt"; fi
t_check "dpkg -s in the root: $version-1 installed" sh -c \
	"dpkg --root='$R' -s kickfleet-agent | grep -qx 'Version: $version-1'"
t_check "the .deb came over HTTP from kickfleet" \
	grep -q "http: 200 GET /repo/deb/kickfleet-agent_${version}-1_amd64.deb from 127.0.0.1" "$work/serve.log"
t_check "the apt-installed agent runs in its root" chroot "$R" /usr/bin/kickfleet-agent --version
t_summary
