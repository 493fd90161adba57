#!/bin/sh
# bench/agent_check.sh — `kickfleet-agent check` of a full host profile on a
# sysroot tree (two NUMA nodes, already applied: the steady state a timer
# sees), median wall time and peak RSS over N runs; side by side, the same
# checks done by `ansible-playbook --check` (connection=local, localhost,
# no fact gathering) on the same tree: the sysfs/procfs values with
# copy/slurp+assert, the /etc files with lineinfile.  Prints both and the ratio.
#   KF_BENCH_RUNS (default 50), KF_BENCH_ANSIBLE_RUNS (default 3)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
agent=${KF_AGENT:-build/kickfleet-agent}
[ -x "$agent" ] || { echo "agent_check: build $agent first (make)" >&2; exit 1; }
runs=${KF_BENCH_RUNS:-50}
aruns=${KF_BENCH_ANSIBLE_RUNS:-3}
work=$(mktemp -d /tmp/kf-bench-agent.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
profile=tests/data/agent/full-two-node-amd/profile.yaml
t=$work/root
tests/sysroot/mktree.sh two-node-amd "$t"
"$agent" apply --profile "$profile" --root "$t" >/dev/null || [ $? = 2 ]
# as the kernel shows them: every /sys and /proc value ends with a newline
find "$t/sys" "$t/proc" -type f | while IFS= read -r f; do
	[ -z "$(tail -c 1 "$f")" ] || echo >>"$f"
done
"$agent" check --profile "$profile" --root "$t" >/dev/null || { echo "agent_check: tree not in steady state" >&2; exit 1; }

# the ansible equivalent: one task per value the agent's check looks at
pb=$work/check.yml
{
	cat <<EOF
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    root: "$t"
  tasks:
EOF
	sysval() { cat <<EOF
    - name: $1
      ansible.builtin.copy: {dest: "{{ root }}$1", content: "$2\n"}
EOF
	}
	bracket() { cat <<EOF
    - name: read $1
      ansible.builtin.slurp: {src: "{{ root }}$1"}
      register: v_$3
    - name: check $1
      ansible.builtin.assert:
        that: "(v_$3.content | b64decode) is search('\\\\[$2\\\\]') or (v_$3.content | b64decode | trim) == '$2'"
EOF
	}
	line() { cat <<EOF
    - name: $1 $2
      ansible.builtin.lineinfile: {path: "{{ root }}$1", regexp: "^$2=", line: '$2=$3'}
EOF
	}
	sysval /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages 4
	sysval /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages 8
	bracket /sys/kernel/mm/transparent_hugepage/enabled never thp_enabled
	bracket /sys/kernel/mm/transparent_hugepage/defrag never thp_defrag
	sysval /sys/kernel/mm/ksm/run 1
	sysval /sys/kernel/mm/ksm/pages_to_scan 1000
	sysval /sys/kernel/mm/ksm/sleep_millisecs 50
	sysval /sys/kernel/mm/ksm/merge_across_nodes 0
	sysval /proc/sys/kernel/numa_balancing 0
	sysval /sys/module/kvm_amd/parameters/nested 1
	for c in 1 2 3 4 5 6 7; do sysval /sys/devices/system/cpu/cpu$c/online 1; done
	for q in 24 25 26; do sysval /proc/irq/$q/smp_affinity_list 0-1; done
	sysval /proc/irq/9/smp_affinity_list 0
	cat <<EOF
    - name: modprobe.d
      ansible.builtin.lineinfile: {path: "{{ root }}/etc/modprobe.d/kickfleet-kvm.conf", regexp: "^options kvm_amd", line: "options kvm_amd nested=1"}
    - name: sysctl.d
      ansible.builtin.lineinfile: {path: "{{ root }}/etc/sysctl.d/90-kickfleet-numa-balancing.conf", regexp: "^kernel.numa_balancing", line: "kernel.numa_balancing = 0"}
    - name: irqbalance enabled
      ansible.builtin.file: {path: "{{ root }}/etc/systemd/system/multi-user.target.wants/irqbalance.service", src: /usr/lib/systemd/system/irqbalance.service, state: link, force: true}
EOF
	line /etc/sysconfig/irqbalance IRQBALANCE_BANNED_CPULIST '"2-7"'
	line /etc/sysconfig/irqbalance IRQBALANCE_ARGS '"--hintpolicy=subset --powerthresh=1"'
	line /etc/default/grub GRUB_CMDLINE_LINUX '"crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap hugepagesz=2M hugepages=64 hugepagesz=1G hugepages=0:2,1:2"'
} >"$pb"
ntasks=$(grep -c '^    - name:' "$pb")
ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
	ansible-playbook --check -i localhost, "$pb" >"$work/ansible.out" 2>&1 || { cat "$work/ansible.out"; exit 1; }
grep -q "changed=0.*failed=0" "$work/ansible.out" || { echo "agent_check: the ansible baseline finds drift:" >&2; grep -B3 "^changed" "$work/ansible.out" | head -40 >&2; exit 1; }

# median wall time: hyperfine (no shell, warm-up runs); peak RSS: GNU time
# (a python fork would count the interpreter's own pages)
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/a.json" \
	"$agent check --profile $profile --root $t" >/dev/null 2>&1
ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
	hyperfine -N --runs "$aruns" --export-json "$work/b.json" \
	"ansible-playbook --check -i localhost, $pb" >/dev/null 2>&1
rss() { m=0; for i in 1 2 3 4 5; do
	k=$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1); [ "$k" -gt "$m" ] && m=$k; done; echo $m; }
a_rss=$(rss "$agent" check --profile "$profile" --root "$t")
b_rss=$(ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false rss ansible-playbook --check -i localhost, "$pb")
v_rss=$(rss "$agent" --version)
python3 - "$work/a.json" "$work/b.json" "$a_rss" "$b_rss" "$v_rss" "$runs" "$aruns" "$ntasks" "$(ldd "$agent" | wc -l)" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))["results"][0]
b = json.load(open(sys.argv[2]))["results"][0]
a_rss, b_rss, v_rss = (int(x) for x in sys.argv[3:6])
runs, aruns, ntasks, nlibs = sys.argv[6:10]
am, bm = a["median"], b["median"]
print("agent_check: check of a full host profile on a sysroot tree (two-node-amd, steady state)")
print("  kickfleet-agent check      median %9.2f ms  (min %.2f, %s runs)  peak RSS %6.1f MiB" % (am * 1e3, a["min"] * 1e3, runs, a_rss / 1024))
print("  ansible-playbook --check   median %9.2f ms  (%s tasks, %s runs)    peak RSS %6.1f MiB" % (bm * 1e3, ntasks, aruns, b_rss / 1024))
print("  ratio ansible/agent        time %.0fx, RSS %.1fx" % (bm / am, b_rss / a_rss))
print("  of which loading: kickfleet-agent --version alone has peak RSS %.1f MiB (%s shared libraries)" % (v_rss / 1024, nlibs))
print("  targets (issue 3): < 10 ms %s, < 8 MiB %s, >= 100x %s" % (
    "met" if am < 0.010 else "MISSED", "met" if a_rss < 8192 else "MISSED", "met" if bm / am >= 100 else "MISSED"))
EOF
