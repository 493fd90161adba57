#!/bin/sh
# The guests resource against a real libvirtd the suite starts itself
# (tests/libvirt/libvirtd.sh: private mount + network namespace, private
# socket, qemu.conf user root).  A small TCG guest without an OS is
# defined and started; each profile of tests/data/guests/ is applied and
# read back through virsh, check must then plan nothing; drift made with
# virsh is found (exit 2) and fixed; bad profiles exit 1 with
# FILE:LINE:COL and touch nothing.  Every domain XML libvirt keeps after
# the agent's defines passes virt-xml-validate.
. "$(dirname "$0")/../lib.sh"
t_need_root
. "$TOP/tests/libvirt/libvirtd.sh"

AGENT=${KF_AGENT:-$TOP/build/kickfleet-agent}
DATA=$TOP/tests/data/guests
for tool in libvirtd virtlogd virsh virt-xml-validate qemu-system-x86_64 unshare nsenter numastat pgrep; do
	if ! command -v $tool >/dev/null 2>&1; then
		t_skip "$tool not installed (scripts/deps.sh check)"
		t_summary
		exit 0
	fi
done

WORK=
cleanup() {
	kf_libvirtd_stop
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

WORK=$(mktemp -d /tmp/kf-45.XXXXXX)
if ! kf_libvirtd_start; then
	t_fail "libvirtd starts"
	t_summary
	exit 1
fi
t_ok "private libvirtd answers on $KF_LV_URI"
V() { virsh -q -c "$KF_LV_URI" "$@"; }

# profile NAME: the data file with the libvirt section appended (so error
# positions stay the file's own), written to $WORK/NAME
profile() {
	mkdir -p "$(dirname "$WORK/$1")"
	cat "$DATA/$1" >"$WORK/$1"
	printf '\nlibvirt: {uri: "%s", domain_type: qemu}\n' "$KF_LV_URI" >>"$WORK/$1"
	echo "$WORK/$1"
}

# agent MODE PROFILE: runs the agent, output in $WORK/out, returns its code
agent() {
	(cd "$WORK" && "$AGENT" "$1" --profile "$2" --only guests) >"$WORK/out" 2>&1
}

expect_rc() { # NAME WANT GOT
	if [ "$3" -eq "$2" ]; then t_ok "$1 (exit $3)"; else t_fail "$1: exit $3, wanted $2"; sed 's/^/    /' "$WORK/out"; fi
}

validate_all() { # every persistent XML passes libvirt's schema
	for d in $(V list --all --name); do
		V dumpxml --inactive "$d" >"$WORK/$d.xml"
		if virt-xml-validate "$WORK/$d.xml" domain >"$WORK/validate.out" 2>&1; then
			t_ok "$1: $d XML validates"
		else
			t_fail "$1: $d XML does not validate"; sed 's/^/    /' "$WORK/validate.out"
		fi
	done
}

has() { # NAME CMD... : ok when the output of virsh CMD contains $PAT
	n=$1; shift
	if V "$@" 2>&1 | grep -q -- "$PAT"; then t_ok "$n"; else t_fail "$n: virsh $* lacks '$PAT'"; V "$@" 2>&1 | sed 's/^/    /' | head -20; fi
}

# ---- the test's own guest ----
# A Debian kernel with a busybox initramfs (tests/vm/) when there is one,
# so the balloon has a driver that answers; else a guest without an OS.
kf_lv_nsexec ip link add kfbr0 type bridge && kf_lv_nsexec ip link set kfbr0 up
OS="<boot dev='hd'/>"
LINUX=
if eval "$("$TOP/tests/vm/kernel.sh" 2>/dev/null)" && [ -f "${KF_VMLINUZ:-}" ]; then
	printf 'echo kft1 up\nwhile :; do sleep 3600; done\n' >"$WORK/guest.sh"
	if "$TOP/tests/vm/initramfs.sh" -o "$WORK/initrd.gz" --script "$WORK/guest.sh" \
		--module virtio_balloon >"$WORK/initramfs.out" 2>&1; then
		# libvirtd's /var is private: the files go where it can see them
		cp "$KF_VMLINUZ" "$WORK/vmlinuz"
		OS="<kernel>$WORK/vmlinuz</kernel><initrd>$WORK/initrd.gz</initrd><cmdline>console=ttyS0 panic=-1</cmdline>"
		LINUX=1
	fi
fi
cat >"$WORK/kft1.xml" <<EOT
<domain type='qemu'>
  <name>kft1</name>
  <memory unit='MiB'>256</memory>
  <currentMemory unit='MiB'>256</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>$OS</os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <interface type='bridge'><source bridge='kfbr0'/><model type='virtio'/></interface>
    <serial type='file'><source path='$WORK/serial.log'/><target port='0'/></serial>
    <memballoon model='virtio'/>
  </devices>
</domain>
EOT
t_check "define the TCG guest" V define "$WORK/kft1.xml"
t_check "start the TCG guest" V start kft1
if [ -n "$LINUX" ]; then
	i=0
	while ! grep -q KF-VM-START "$WORK/serial.log" 2>/dev/null && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
	grep -q KF-VM-START "$WORK/serial.log" && t_ok "kft1 booted its kernel ($((i / 10)) s)" ||
		t_fail "kft1 did not boot"
else
	t_skip "no test kernel (tests/vm/kernel.sh): guest without an OS, balloon checks skipped"
fi
ID0=$(V domid kft1)

# ---- 01: live tuning ----
P=$(profile 01-live.yaml)
agent check "$P"; expect_rc "01-live: check before apply finds changes" 2 $?
agent apply "$P"; expect_rc "01-live: apply" 2 $?
agent check "$P"; expect_rc "01-live: check after apply plans nothing" 0 $?
PAT="<vcpupin vcpu='1' cpuset='1'/>" has "01-live: vcpupin in the config" dumpxml --inactive kft1
PAT="<emulatorpin cpuset='0-1'/>" has "01-live: emulatorpin in the config" dumpxml --inactive kft1
PAT="<hard_limit unit='KiB'>1048576</hard_limit>" has "01-live: memtune in the config" dumpxml --inactive kft1
PAT="<memory mode='strict' nodeset='0'/>" has "01-live: numatune in the config" dumpxml --inactive kft1
PAT="<stats period='5'/>" has "01-live: balloon stats period in the config" dumpxml --inactive kft1
PAT="^2$" has "01-live: vCPU hotplugged live (1 -> 2)" vcpucount kft1 --live
PAT="1 *1 *" has "01-live: vCPU 1 pinned live" vcpupin kft1 --live
PAT="hard_limit *: 1048576" has "01-live: hard_limit live" memtune kft1 --live
[ -n "$LINUX" ] && PAT="Used memory: *196608 KiB" has "01-live: balloon target live (192M)" dominfo kft1
[ "$(V domid kft1)" = "$ID0" ] && t_ok "01-live: guest not restarted" || t_fail "01-live: guest was restarted"

# drift with virsh: a live pin, then memtune
V vcpupin kft1 0 1 --live >/dev/null
agent check "$P"; expect_rc "drift: check finds the changed vCPU pin" 2 $?
grep -q "vcpupin 0" "$WORK/out" && t_ok "drift: plan names vcpupin 0" || t_fail "drift: plan names vcpupin 0"
agent apply "$P"; expect_rc "drift: apply fixes it" 2 $?
PAT="0 *0 *" has "drift: vCPU 0 pinned back live" vcpupin kft1 --live
V memtune kft1 --soft-limit 300000 --live >/dev/null
V memtune kft1 --soft-limit 300000 --config >/dev/null
agent check "$P"; expect_rc "drift: check finds memtune" 2 $?
agent apply "$P"; expect_rc "drift: apply fixes memtune" 2 $?
agent check "$P"; expect_rc "drift: check after apply plans nothing" 0 $?
PAT="soft_limit *: 524288" has "drift: soft_limit back live" memtune kft1 --live

# ---- facts: vCPU placement and memory per node of the running guest, from
# /proc (the default) and from libvirt, against virsh vcpuinfo and numastat ----
FACTS_AGENT=${KF_AGENT:-$TOP/build/kickfleet-agent}
"$FACTS_AGENT" facts --json >"$WORK/facts-proc.json" 2>"$WORK/facts.err"; expect_rc "facts (guests from /proc)" 0 $?
"$FACTS_AGENT" facts --json --connect "$KF_LV_URI" >"$WORK/facts-lv.json" 2>>"$WORK/facts.err"
expect_rc "facts --connect (guests from libvirt)" 0 $?
V vcpuinfo kft1 >"$WORK/vcpuinfo"
pid=$(pgrep -f 'guest=kft1,' | head -1)
numastat -p "$pid" >"$WORK/numastat" 2>&1
for src in proc lv; do
	if python3 - "$WORK/facts-$src.json" "$WORK/vcpuinfo" "$WORK/numastat" "$pid" <<'EOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
g = [x for x in d["guests"]["running"] if x["name"] == "kft1"]
want = []
for block in open(sys.argv[2]).read().strip().split("\n\n"):
    f = dict(re.split(r":\s*", l, 1) for l in block.splitlines() if ":" in l)
    aff = [i for i, c in enumerate(f["CPU Affinity"].strip()) if c == "y"]
    want.append((int(f["VCPU"]), int(f["CPU"]), aff))
def cpus(s):
    out = []
    for part in s.split(","):
        a, _, b = part.partition("-")
        out += range(int(a), int(b or a) + 1)
    return out
got = [(v["vcpu"], v["cpu"], cpus(v["affinity"])) for v in g[0]["vcpus"]] if g else None
# numastat -p: the "Total" row, MB per node
tot = [l.split()[1:-1] for l in open(sys.argv[3]) if l.startswith("Total")]
mem = {n["node"]: n["bytes"] / 2**20 for n in g[0]["memory"]} if g else {}
ok_mem = bool(tot) and all(abs(float(v) - mem.get(i, 0)) <= 2 for i, v in enumerate(tot[0]))
ok = g and g[0]["pid"] == int(sys.argv[4]) and got == want and ok_mem
print("vcpus", got, "virsh", want, "memory MB", mem, "numastat", tot)
sys.exit(0 if ok else 1)
EOF
	then t_ok "facts ($src): vCPU map = virsh vcpuinfo, memory per node = numastat -p"
	else t_fail "facts ($src): vCPU map or memory per node"; cat "$WORK/facts.err"; fi
done
python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["guests"]["source"] == "libvirt" else 1)' \
	"$WORK/facts-lv.json" && t_ok "facts --connect: guests from libvirt" || t_fail "facts --connect: source is not libvirt"

# balloon change on the running guest
if [ -n "$LINUX" ]; then
	sed 's/current: 192M/current: 160M/' "$P" >"$WORK/01b.yaml"
	agent apply "$WORK/01b.yaml"; expect_rc "balloon: apply a new target" 2 $?
	PAT="Used memory: *163840 KiB" has "balloon: target live (160M)" dominfo kft1
	agent check "$WORK/01b.yaml"; expect_rc "balloon: check plans nothing" 0 $?
	agent check "$P"; expect_rc "balloon: check of the old target finds it" 2 $?
fi

# ---- 02: config only, the running guest is not restarted ----
P=$(profile 02-config-only.yaml)
agent apply "$P"; expect_rc "02-config-only: apply" 2 $?
grep -q "applied, at guest restart" "$WORK/out" && t_ok "02-config-only: reported as at guest restart" ||
	{ t_fail "02-config-only: not reported as at guest restart"; cat "$WORK/out"; }
agent check "$P"; expect_rc "02-config-only: check plans nothing to apply" 0 $?
# the config has them, the running guest not yet: pending restart, every run
for w in "kft1 interface 0" "kft1 memory_backing.nosharepages"; do
	grep -q "$w .*pending restart" "$WORK/out" && t_ok "02-config-only: check reports $w pending restart" ||
		{ t_fail "02-config-only: check does not report $w pending restart"; sed 's/^/    /' "$WORK/out"; }
done
[ "$(V domid kft1)" = "$ID0" ] && t_ok "02-config-only: guest not restarted" || t_fail "02-config-only: guest was restarted"
PAT=">qemu64</model>" has "02-config-only: cpu model in the config" dumpxml --inactive kft1
PAT="<model type='e1000'/>" has "02-config-only: NIC model in the config" dumpxml --inactive kft1
PAT="<nosharepages/>" has "02-config-only: nosharepages in the config" dumpxml --inactive kft1
PAT="<model type='virtio'/>" has "02-config-only: the live NIC is still virtio" dumpxml kft1

# ---- 03: placement auto ----
P=$(profile 03-auto.yaml)
agent apply "$P"; rc=$?
[ $rc -eq 0 ] || [ $rc -eq 2 ] && t_ok "03-auto: apply (exit $rc)" || { t_fail "03-auto: apply exit $rc"; cat "$WORK/out"; }
agent check "$P"; expect_rc "03-auto: check plans nothing" 0 $?
node0=$(cat /sys/devices/system/node/node0/cpulist 2>/dev/null || cat /sys/devices/system/cpu/present)
PAT="<vcpupin vcpu='1' cpuset='$node0'/>" has "03-auto: vCPUs on node 0's CPUs ($node0)" dumpxml --inactive kft1
PAT="<memory mode='strict' nodeset='0'/>" has "03-auto: numatune on the same node" dumpxml --inactive kft1

# ---- 04: a new guest ----
P=$(profile 04-define.yaml)
agent check "$P"; expect_rc "04-define: check plans the new guest" 2 $?
agent apply "$P"; expect_rc "04-define: apply defines and starts it" 2 $?
PAT="running" has "04-define: kft-new runs" domstate kft-new
PAT="52:54:00:4b:46:01" has "04-define: its MAC" dumpxml --inactive kft-new
V dumpxml --inactive kft-new >"$WORK/new.xml"
nb=$(grep -n "<boot order='1'/>" "$WORK/new.xml" | cut -d: -f1)
ni=$(grep -n "<interface" "$WORK/new.xml" | cut -d: -f1)
nd=$(grep -n "<boot order='2'/>" "$WORK/new.xml" | cut -d: -f1)
nk=$(grep -n "<disk" "$WORK/new.xml" | cut -d: -f1)
[ -n "$nb" ] && [ -n "$nd" ] && [ "$nb" -gt "$ni" ] && [ "$nd" -gt "$nk" ] &&
	t_ok "04-define: network boot first, disk second" || { t_fail "04-define: boot order"; cat "$WORK/new.xml"; }
PAT="kft-new.qcow2" has "04-define: disk volume in the default pool" vol-list default
PAT="64.00 MiB" has "04-define: disk size from the entry" vol-info kft-new.qcow2 --pool default
agent check "$P"; expect_rc "04-define: check plans nothing" 0 $?
validate_all "after apply"

# ---- bad input: exit 1, FILE:LINE:COL, nothing touched ----
V dumpxml --inactive kft1 >"$WORK/before.xml"
before_live=$(V vcpupin kft1 --live; V memtune kft1 --live)
for f in "$DATA"/bad/*.yaml; do
	b=bad/$(basename "$f")
	P=$(profile "$b")
	want=$(sed -n 's/^# expect: //p' "$f")
	agent apply "$P"; rc=$?
	expect_rc "$b: apply refuses" 1 $rc
	if grep -qF "$want" "$WORK/out"; then t_ok "$b: says '$want'"; else t_fail "$b: wanted '$want'"; sed 's/^/    /' "$WORK/out"; fi
done
V dumpxml --inactive kft1 >"$WORK/after.xml"
after_live=$(V vcpupin kft1 --live; V memtune kft1 --live)
cmp -s "$WORK/before.xml" "$WORK/after.xml" && [ "$before_live" = "$after_live" ] &&
	t_ok "bad input touched no guest" || t_fail "bad input changed the guest"

t_summary
