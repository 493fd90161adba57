#!/bin/sh
# Network resources on device kinds the build machine's kernel lacks
# (bonding, 802.1Q, dummy), on a Debian kernel in the QEMU test VM
# (tests/vm/run.sh).  The VM is the test's own machine: the agent runs in
# its initial network namespace with --root /r (sys and proc pointing at
# the VM's own), dummy devices stand in for NICs (one named by MAC).
# Checked from inside: apply, read back with `ip -d -j link`, second run
# plans nothing, drift (a member removed, a bond option, a VLAN deleted) →
# check exits 2 → apply fixes, a bond mode change keeps the members, a
# missing member → exit 1 with nothing touched, rps_sock_flow_entries.
# The networkd files come back through the 9p share and are compared with
# tests/data/net/bond-vlan/expected (KF_REGEN=1 rewrites them).
# Needs root and the VM kernel (tests/vm/kernel.sh); the guest prints
# "KF-CHECK ok|fail NAME" lines.
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/lib.sh"
t_need_root
cd "$TOP" || exit 1
AGENT=${KF_AGENT:-$TOP/build/kickfleet-agent}
DATA=tests/data/net
work=$(mktemp -d /tmp/kf-vm-net.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
[ -x "$AGENT" ] || { t_fail "$AGENT not built"; t_summary; exit 1; }
command -v jq >/dev/null || { t_fail "jq is needed in the VM"; t_summary; exit 1; }
mkdir "$work/share"
chmod 777 "$work/share"

cat >"$work/guest.sh" <<'EOF'
ok() { echo "KF-CHECK ok $*"; }
no() { echo "KF-CHECK fail $*"; }
eq() { if [ "$2" = "$3" ]; then ok "$1"; else no "$1: got '$3', wanted '$2'"; fi; }
A=/kf/kickfleet-agent
P=/kf/bond-vlan.yaml
mkdir -p /r/etc && ln -s /sys /r/sys && ln -s /proc /r/proc
run() { $A "$1" --profile "$2" --root /r >/tmp/out 2>/tmp/err; echo $?; }
rc() { got=$(run "$2" "$3"); if [ "$got" = "$4" ]; then ok "$1 exits $4"; else
	no "$1 exits $got, wanted $4: $(head -c 600 /tmp/out /tmp/err | tr '\n' ' ')"; fi; }
j() { ip -d -j link show "$1" 2>/dev/null | jq -r ".[0]$2"; }
for i in 0 1 2 3; do ip link add d$i type dummy; done
ip link set d1 address 02:00:00:00:00:d1

# bad input first: nothing may change
before=$(ip -j link show | jq -c '[.[] | {ifname, master, operstate}]')
rc "member that does not exist" apply /kf/bad-member.yaml 1
grep -q 'bad-member.yaml:9:16: bond kfbond0: member "02:00:00:00:99:99" does not exist on this host' /tmp/err &&
	ok "missing member reported at file:line:col" || no "missing member reported: $(cat /tmp/err)"
eq "bad profile touched nothing" "$before" "$(ip -j link show | jq -c '[.[] | {ifname, master, operstate}]')"

rc "plan" plan $P 2
eq "plan created nothing" "" "$(ip -j link show kfbond0 2>/dev/null)"
t0=$(cut -d' ' -f1 /proc/uptime)
rc "apply" apply $P 2
t1=$(cut -d' ' -f1 /proc/uptime)
echo "apply took $(echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }')s in the VM (TCG)"
eq "kfbond0 is a bond" bond "$(j kfbond0 .linkinfo.info_kind)"
eq "kfbond0 mode" 802.3ad "$(j kfbond0 .linkinfo.info_data.mode)"
eq "kfbond0 miimon" 100 "$(j kfbond0 .linkinfo.info_data.miimon)"
eq "kfbond0 updelay (250 → 200, a multiple of miimon)" 200 "$(j kfbond0 .linkinfo.info_data.updelay)"
eq "kfbond0 lacp_rate" fast "$(j kfbond0 .linkinfo.info_data.ad_lacp_rate)"
eq "kfbond0 xmit_hash_policy" layer3+4 "$(j kfbond0 .linkinfo.info_data.xmit_hash_policy)"
eq "d0 in kfbond0" kfbond0 "$(j d0 .master)"
eq "d1 (named by MAC) in kfbond0" kfbond0 "$(j d1 .master)"
eq "kfbond1 mode" active-backup "$(j kfbond1 .linkinfo.info_data.mode)"
eq "kfbond1 miimon" 50 "$(j kfbond1 .linkinfo.info_data.miimon)"
eq "kfbond1 primary" d3 "$(j kfbond1 .linkinfo.info_data.primary)"
eq "kfbond1 mtu" 9000 "$(j kfbond1 .mtu)"
eq "d2 in kfbond1" kfbond1 "$(j d2 .master)"
eq "vlan kind" vlan "$(j kfbond0.100 .linkinfo.info_kind)"
eq "vlan id" 100 "$(j kfbond0.100 .linkinfo.info_data.id)"
eq "vlan on kfbond0" kfbond0 "$(j kfbond0.100 .link)"
eq "vlan port of kfbr0" kfbr0 "$(j kfbond0.100 .master)"
eq "kfbr0 address" 10.55.0.2/24 "$(ip -j addr show dev kfbr0 | jq -r '.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"')"
eq "rps_sock_flow_entries (30000 → 32768)" 32768 "$(cat /proc/sys/net/core/rps_sock_flow_entries)"
rc "second apply" apply $P 0
t0=$(cut -d' ' -f1 /proc/uptime)
rc "check" check $P 0
t1=$(cut -d' ' -f1 /proc/uptime)
echo "check took $(echo "$t0 $t1" | awk '{ printf "%.3f", $2 - $1 }')s in the VM (TCG)"

drift() { # NAME CMD...
	n=$1; shift
	"$@" || no "drift $n: command failed"
	rc "drift $n: check" check $P 2
	rc "drift $n: apply" apply $P 2
	rc "drift $n: check after apply" check $P 0
}
drift "member removed" ip link set d1 nomaster
eq "d1 back in kfbond0" kfbond0 "$(j d1 .master)"
drift "miimon changed" ip link set kfbond0 type bond miimon 300
eq "miimon back" 100 "$(j kfbond0 .linkinfo.info_data.miimon)"
drift "vlan deleted" ip link del kfbond0.100
eq "vlan back in kfbr0" kfbr0 "$(j kfbond0.100 .master)"
drift "primary changed" ip link set kfbond1 type bond primary d2
eq "primary back" d3 "$(j kfbond1 .linkinfo.info_data.primary)"

# mode change with members in the bond
sed 's/mode: active-backup/mode: balance-xor/; /primary: d3/d' $P >/tmp/xor.yaml
rc "bond mode change" apply /tmp/xor.yaml 2
eq "kfbond1 mode now" balance-xor "$(j kfbond1 .linkinfo.info_data.mode)"
eq "d2 still in kfbond1" kfbond1 "$(j d2 .master)"
eq "d3 still in kfbond1" kfbond1 "$(j d3 .master)"
rc "mode change: second apply" apply /tmp/xor.yaml 0

# persistence files back to the host
rc "back to the profile" apply $P 2
mkdir -p "$KF_SHARE/etc" && cp -R /r/etc/systemd "$KF_SHARE/etc/" && ok "persist files copied" || no "persist files copied"
echo "KF-CHECK done"
EOF

"$TOP/tests/vm/run.sh" --script "$work/guest.sh" --bin /usr/sbin/ip --bin /usr/bin/jq \
	--bin "$AGENT:/kf/kickfleet-agent" \
	--file "$DATA/bond-vlan/profile.yaml:/kf/bond-vlan.yaml" \
	--file "$DATA/bad-member/profile.yaml:/kf/bad-member.yaml" \
	--module bonding --module 8021q --module dummy --module bridge \
	--smp 2 --numa 0 --mem 1G --share "$work/share" --timeout 300 \
	>"$work/out" 2>"$work/err"
rc=$?
grep '^vm: ' "$work/err" | sed 's/^/# /'
grep -E '^(apply|check) took' "$work/out" | sed 's/^/# /'
[ "$rc" = 0 ] && t_ok "VM ran the script (exit 0)" || { t_fail "VM ran the script (exit $rc)"; tail -60 "$work/err"; }
while read -r tag st rest; do
	[ "$tag" = KF-CHECK ] || continue
	case $st in ok) t_ok "$rest" ;; fail) t_fail "$rest" ;; esac
done <"$work/out"
grep -qx 'KF-CHECK done' "$work/out" && t_ok "guest checks ran to the end" || t_fail "guest checks ran to the end"
if [ -n "${KF_REGEN:-}" ] && [ -d "$work/share/etc" ]; then
	rm -rf "$DATA/bond-vlan/expected"; mkdir -p "$DATA/bond-vlan/expected"
	cp -R "$work/share/etc" "$DATA/bond-vlan/expected/"
fi
if diff -ru "$DATA/bond-vlan/expected/etc" "$work/share/etc" >"$work/diff" 2>&1; then
	t_ok "networkd files for bonds, VLAN and bridge as expected"
else
	t_fail "networkd files for bonds, VLAN and bridge as expected"; head -40 "$work/diff"
fi
t_summary
