#!/bin/sh
# Network resources of the agent on real kernel devices, in network
# namespaces this suite creates (and deletes on exit): bridges, veth pairs
# standing in for NICs, macvtap/macvlan, RPS/RFS/XPS on veth queues, the
# ownership record, persistence files, bad profiles, and the rollback
# window (a veth peer in a second namespace plays the provisioner).
# The agent runs inside the namespace with --root R, where R/sys and
# R/proc point at the namespace's own /sys and /proc and R/etc, R/var are
# scratch: nothing of the build machine is touched.  Needs root, jq.
# KF_REGEN=1 rewrites tests/data/net/*/expected and errors.expected.
. "$(dirname "$0")/../lib.sh"
t_need_root
cd "$TOP" || exit 1
AGENT=${KF_AGENT:-$TOP/build/kickfleet-agent}
DATA=tests/data/net
NS=kfnet$$
PROV=kfprov$$
work=$(mktemp -d /tmp/kf-netns.XXXXXX)
cleanup() {
	ip netns del "$NS" 2>/dev/null
	ip netns del "$PROV" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ -x "$AGENT" ] || { t_fail "$AGENT not built"; t_summary; exit 1; }
command -v jq >/dev/null || { t_fail "jq is needed to read ip -j output"; t_summary; exit 1; }

in_ns() { ip netns exec "$NS" "$@"; }
mkroot() { rm -rf "$work/root"; mkdir -p "$work/root/etc"; ln -s /sys "$work/root/sys"; ln -s /proc "$work/root/proc"; }
agent() { # MODE PROFILE: runs the agent in the namespace; output in $work/out, $work/err
	in_ns "$AGENT" "$1" --profile "$2" --root "$work/root" >"$work/out" 2>"$work/err"
}
rc() { # NAME WANT GOT
	if [ "$2" = "$3" ]; then t_ok "$1 exits $2"; else
		t_fail "$1 exits $3, wanted $2"; head -30 "$work/out" "$work/err"; fi
}
eq() { # NAME WANT GOT
	if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1: got \"$3\", wanted \"$2\""; fi
}
link() { in_ns ip -d -j link show "$1" 2>/dev/null; }
jqf() { # DEV FILTER
	link "$1" | jq -r ".[0]$2" 2>/dev/null
}
port_master() { in_ns bridge -j link show 2>/dev/null | jq -r ".[] | select(.ifname == \"$1\") | .master // \"none\""; }
newns() {
	ip netns del "$NS" 2>/dev/null
	ip netns add "$NS" || { t_fail "ip netns add"; t_summary; exit 1; }
	in_ns ip link set lo up
	for i in 1 2 3 4; do
		in_ns ip link add name nic$i numrxqueues 4 numtxqueues 4 type veth peer name peer$i \
			numrxqueues 4 numtxqueues 4 || t_fail "veth nic$i"
	done
	mkroot
}

# ---- bridge + macvtap + macvlan + RPS/XPS: apply, read back, persist ----
newns
P=$DATA/bridge-mvtap/profile.yaml
agent plan "$P"; rc "plan" 2 $?
eq "plan touches nothing" "" "$(link kfbr0)"
agent apply "$P"; rc "apply" 2 $?
eq "bridge kind" bridge "$(jqf kfbr0 .linkinfo.info_kind)"
eq "bridge stp on" 1 "$(jqf kfbr0 .linkinfo.info_data.stp_state)"
eq "bridge forward delay 4s" 400 "$(jqf kfbr0 .linkinfo.info_data.forward_delay)"
eq "bridge mtu" 1400 "$(jqf kfbr0 .mtu)"
eq "nic1 port of kfbr0" kfbr0 "$(port_master nic1)"
eq "nic2 port of kfbr0" kfbr0 "$(port_master nic2)"
eq "macvtap kind" macvtap "$(jqf kfmvt0 .linkinfo.info_kind)"
eq "macvtap mode vepa" vepa "$(jqf kfmvt0 .linkinfo.info_data.mode)"
eq "macvtap on nic3" nic3 "$(jqf kfmvt0 .link)"
eq "macvlan kind" macvlan "$(jqf kfmvl0 .linkinfo.info_kind)"
eq "macvlan mode bridge" bridge "$(jqf kfmvl0 .linkinfo.info_data.mode)"
for q in 0 1 2 3; do
	eq "nic4 rx-$q rps_cpus" 3 "$(in_ns cat /sys/class/net/nic4/queues/rx-$q/rps_cpus)"
	eq "nic4 rx-$q rps_flow_cnt (1000 → 1024)" 1024 "$(in_ns cat /sys/class/net/nic4/queues/rx-$q/rps_flow_cnt)"
	eq "nic4 tx-$q xps_cpus" 2 "$(in_ns cat /sys/class/net/nic4/queues/tx-$q/xps_cpus)"
done
grep -q '^dev kfbr0 bridge$' "$work/root/var/lib/kickfleet-agent/network.state" &&
	t_ok "ownership recorded" || t_fail "ownership recorded"
if [ -n "${KF_REGEN:-}" ]; then
	rm -rf "$DATA/bridge-mvtap/expected"; mkdir -p "$DATA/bridge-mvtap/expected"
	cp -R "$work/root/etc" "$DATA/bridge-mvtap/expected/"
fi
if diff -ru "$DATA/bridge-mvtap/expected/etc" "$work/root/etc" >"$work/diff"; then
	t_ok "networkd files as expected"; else t_fail "networkd files as expected"; head -40 "$work/diff"; fi
agent apply "$P"; rc "second apply" 0 $?
agent check "$P"; rc "check after apply" 0 $?

# ---- drift: check exits 2, apply fixes, check exits 0 ----
drift() { # NAME, then the drift command runs in the namespace
	name=$1; shift
	in_ns sh -c "$*" || t_fail "drift $name: command failed"
	agent check "$P"; rc "drift $name: check" 2 $?
	agent apply "$P"; rc "drift $name: apply" 2 $?
	agent check "$P"; rc "drift $name: check after apply" 0 $?
}
drift "stp flipped" ip link set kfbr0 type bridge stp_state 0
eq "stp back on" 1 "$(jqf kfbr0 .linkinfo.info_data.stp_state)"
drift "macvtap deleted" ip link del kfmvt0
eq "macvtap back" vepa "$(jqf kfmvt0 .linkinfo.info_data.mode)"
drift "macvtap mode" ip link set kfmvt0 type macvtap mode private
drift "rps_cpus changed" 'echo 1 > /sys/class/net/nic4/queues/rx-2/rps_cpus'
eq "rps_cpus back" 3 "$(in_ns cat /sys/class/net/nic4/queues/rx-2/rps_cpus)"
drift "port removed" ip link set nic2 nomaster
eq "nic2 back in kfbr0" kfbr0 "$(port_master nic2)"
drift "bridge down" ip link set kfbr0 down
drift "persist file edited" "echo '# edited' >> $work/root/etc/systemd/network/50-kickfleet-kfbr0.netdev"

# ---- ownership: only what the agent created is removed ----
in_ns ip link add link nic3 name foreign0 type macvtap mode bridge
sed -e '/^  macvtaps:/,/^  queues:/{/^  queues:/!d}' -e 's/ports: \[nic1, nic2\]/ports: [nic1]/' "$P" >"$work/less.yaml"
agent apply "$work/less.yaml"; rc "apply without macvtaps and nic2" 2 $?
eq "kfmvt0 (created by the agent) deleted" "" "$(link kfmvt0)"
eq "kfmvl0 (created by the agent) deleted" "" "$(link kfmvl0)"
eq "foreign0 (not the agent's) kept" macvtap "$(jqf foreign0 .linkinfo.info_kind)"
eq "nic2 released" none "$(jqf nic2 '.master // "none"')"
eq "nic1 still a port" kfbr0 "$(port_master nic1)"
[ ! -e "$work/root/etc/systemd/network/50-kickfleet-kfmvt0.netdev" ] && t_ok "stale persist file removed" ||
	t_fail "stale persist file removed"
agent apply "$work/less.yaml"; rc "second apply of the smaller profile" 0 $?
# a bridge the agent did not create is never deleted
in_ns ip link add foreignbr type bridge
printf 'role: x\nnetwork:\n  persist: none\n' >"$work/empty.yaml"
agent apply "$work/empty.yaml"; rc "apply of an empty network section" 2 $?
eq "kfbr0 (the agent's) deleted" "" "$(link kfbr0)"
eq "foreignbr kept" bridge "$(jqf foreignbr .linkinfo.info_kind)"
eq "foreign0 kept" macvtap "$(jqf foreign0 .linkinfo.info_kind)"

# ---- interfaces named by MAC ----
mac3=$(jqf nic3 .address)
MAC3=$(echo "$mac3" | tr a-f A-F)
printf 'role: x\nnetwork:\n  persist: none\n  macvtaps:\n    - {name: kfmac0, link: "%s", mode: bridge}\n' "$MAC3" >"$work/mac.yaml"
agent apply "$work/mac.yaml"; rc "macvtap on a NIC named by MAC (upper case)" 2 $?
eq "macvtap on nic3" nic3 "$(jqf kfmac0 .link)"
agent apply "$work/mac.yaml"; rc "second apply (MAC normalised)" 0 $?

# ---- NetworkManager keyfiles (rendered under a plain root: no links) ----
rm -rf "$work/nmroot"
sh tests/sysroot/mktree.sh one-node-intel "$work/nmroot" >/dev/null || t_fail "mktree"
rm -rf "$work/nmroot/etc/NetworkManager" "$work/nmroot/etc/systemd/network"
"$AGENT" apply --profile "$DATA/nm-persist/profile.yaml" --root "$work/nmroot" >"$work/out" 2>"$work/err"
rc "keyfiles apply under a fake root" 2 $?
grep -q "not managed under this --root" "$work/out" && t_ok "links left alone under a fake root" ||
	t_fail "links left alone under a fake root"
if [ -n "${KF_REGEN:-}" ]; then
	rm -rf "$DATA/nm-persist/expected"; mkdir -p "$DATA/nm-persist/expected"
	cp -R "$work/nmroot/etc/NetworkManager" "$DATA/nm-persist/expected/"
fi
if diff -ru "$DATA/nm-persist/expected/NetworkManager" "$work/nmroot/etc/NetworkManager" >"$work/diff"; then
	t_ok "NetworkManager keyfiles as expected"; else t_fail "NetworkManager keyfiles as expected"; head -40 "$work/diff"; fi
eq "keyfile mode 0600" 600 "$(stat -c %a "$work/nmroot/etc/NetworkManager/system-connections/kickfleet-kfbr0.nmconnection")"
"$AGENT" apply --profile "$DATA/nm-persist/profile.yaml" --root "$work/nmroot" >"$work/out" 2>"$work/err"
rc "keyfiles second apply" 0 $?

# ---- bad profiles: exit 1, file:line:col, no device touched ----
newns
for c in bad-member bad-port bad-mode bad-loop; do
	before=$(in_ns ip -j link show | jq -c '[.[] | {ifname, master, operstate}]')
	agent apply "$DATA/$c/profile.yaml"; rc "$c" 1 $?
	after=$(in_ns ip -j link show | jq -c '[.[] | {ifname, master, operstate}]')
	eq "$c: no device touched" "$before" "$after"
	[ -n "${KF_REGEN:-}" ] && cp "$work/err" "$DATA/$c/errors.expected"
	if diff -u "$DATA/$c/errors.expected" "$work/err" >"$work/diff"; then t_ok "$c: messages"; else
		t_fail "$c: messages"; cat "$work/diff"; fi
done

# ---- rollback: a bridge change that cuts the provisioner off is undone ----
newns
ip netns add "$PROV"
ip link add name upl netns "$NS" type veth peer name pv netns "$PROV"
ip -n "$PROV" link set lo up; ip -n "$PROV" link set pv up
ip -n "$PROV" addr add 10.77.0.1/24 dev pv
in_ns ip link set upl up
in_ns ip addr add 10.77.0.2/24 dev upl
in_ns ip route add default via 10.77.0.1 dev upl
in_ns busybox ping -c1 -W2 10.77.0.1 >/dev/null && t_ok "provisioner reachable before" || t_fail "provisioner reachable before"
cat >"$work/bad-move.yaml" <<'EOF'
role: x
network:
  persist: none
  rollback: {target: 10.77.0.1, timeout: 2}
  bridges:
    - name: kfup0
      ports: [upl]
      addresses: [10.78.0.2/24]
EOF
agent apply "$work/bad-move.yaml"; got=$?
case $got in 4|6) t_ok "apply that cuts the provisioner off fails ($got)" ;;
	*) t_fail "apply that cuts the provisioner off exits $got, wanted 4 or 6"; cat "$work/out" ;; esac
grep -q "unreachable for 2s after the change; previous links restored" "$work/out" &&
	t_ok "rollback reported" || { t_fail "rollback reported"; cat "$work/out"; }
eq "bridge created in the run removed" "" "$(link kfup0)"
eq "upl has its address back" "10.77.0.2/24" "$(in_ns ip -j addr show dev upl | jq -r '.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"')"
eq "upl released" null "$(jqf upl .master)"
eq "default route back on upl" upl "$(in_ns ip -j route show default | jq -r '.[0].dev')"
in_ns busybox ping -c1 -W2 10.77.0.1 >/dev/null && t_ok "provisioner reachable after rollback" ||
	t_fail "provisioner reachable after rollback"
# the same move with the right address keeps the provisioner: applied
sed 's#10.78.0.2/24#10.77.0.2/24#' "$work/bad-move.yaml" >"$work/good-move.yaml"
agent apply "$work/good-move.yaml"; rc "move of the address onto a bridge" 2 $?
eq "address on the bridge" "10.77.0.2/24" "$(in_ns ip -j addr show dev kfup0 | jq -r '.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"')"
eq "default route on the bridge" kfup0 "$(in_ns ip -j route show default | jq -r '.[0].dev')"
in_ns busybox ping -c1 -W2 10.77.0.1 >/dev/null && t_ok "provisioner reachable over the bridge" ||
	t_fail "provisioner reachable over the bridge"
agent apply "$work/good-move.yaml"; rc "second apply of the move" 0 $?
# a later change that cuts it off is rolled back to the bridge as it was
agent apply "$work/bad-move.yaml"; got=$?
case $got in 4|6) t_ok "later bad address change fails ($got)" ;; *) t_fail "later bad change exits $got" ;; esac
eq "bridge kept its address" "10.77.0.2/24" "$(in_ns ip -j addr show dev kfup0 | jq -r '[.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"] | join(",")')"
in_ns busybox ping -c1 -W2 10.77.0.1 >/dev/null && t_ok "provisioner reachable after the second rollback" ||
	t_fail "provisioner reachable after the second rollback"

t_summary
