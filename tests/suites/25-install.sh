#!/bin/sh
# make install honours PREFIX and DESTDIR and installs binaries, man pages,
# units, profiles, templates and examples; the installed programs run and
# find the shipped data.
. "$(dirname "$0")/../lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! make -s -C "$TOP" install DESTDIR="$tmp/root" PREFIX=/opt/kf >"$tmp/log" 2>&1; then
	cat "$tmp/log"; t_fail "make install"; t_summary; exit 1
fi
t_ok "make install DESTDIR PREFIX"
R=$tmp/root
for f in opt/kf/bin/kickfleet opt/kf/bin/kickfleet-agent opt/kf/share/man/man1/kickfleet.1 \
	opt/kf/share/man/man1/kickfleet-agent.1 opt/kf/share/kickfleet/profiles/kvm-host.yaml \
	opt/kf/share/kickfleet/kickstart/kvm-host.ks opt/kf/share/kickfleet/examples/fleet.yaml \
	lib/systemd/system/kickfleet-agent.service lib/systemd/system/kickfleet-agent.timer \
	lib/systemd/system/kickfleet-agent-periodic.service lib/systemd/system/kickfleet-agent-reload.service \
	lib/systemd/system/kickfleet.service \
	usr/lib/sysusers.d/kickfleet.conf; do
	t_check "installed $f" test -f "$R/$f"
done
t_check "installed units run the agent from PREFIX/bin" \
	grep -q '^ExecStart=/opt/kf/bin/kickfleet-agent ' "$R/lib/systemd/system/kickfleet-agent.service"
t_check "installed server unit runs kickfleet serve from PREFIX/bin" \
	grep -q '^ExecStart=/opt/kf/bin/kickfleet serve --user kickfleet$' "$R/lib/systemd/system/kickfleet.service"
if [ -f "$TOP/build/packages/rpm/repodata/repomd.xml" ]; then
	t_check "the built packages installed into DATADIR/packages" \
		cmp -s "$TOP/build/packages/deb/Release" "$R/opt/kf/share/kickfleet/packages/deb/Release"
fi
t_check "installed kickfleet runs" "$R/opt/kf/bin/kickfleet" --version
t_check "installed agent validates a shipped profile" \
	"$R/opt/kf/bin/kickfleet-agent" validate "$R/opt/kf/share/kickfleet/profiles/kvm-host.yaml"
t_check "man page renders" sh -c "man -l '$R/opt/kf/share/man/man1/kickfleet.1' >/dev/null 2>&1 || groff -man -Tutf8 '$R/opt/kf/share/man/man1/kickfleet.1' >/dev/null"
# a fleet outside the tree finds the shipped templates and profiles through
# KICKFLEET_DATADIR
mkdir -p "$tmp/elsewhere"
sed -e 's#kickstart: .*kvm-host.ks#kickstart: kickstart/kvm-host.ks#' "$TOP/examples/fleet.yaml" >"$tmp/elsewhere/fleet.yaml"
t_check "fleet elsewhere resolves shipped files via KICKFLEET_DATADIR" \
	env KICKFLEET_DATADIR="$R/opt/kf/share/kickfleet" "$R/opt/kf/bin/kickfleet" check -f "$tmp/elsewhere/fleet.yaml"
t_summary
