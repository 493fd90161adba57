#!/bin/sh
# Sysroot tests of the agent: the real code on fake /sys, /proc and /etc
# trees (tests/sysroot/mktree.sh), for every case in tests/data/agent/:
#   CASE/tree            which tree to build;  CASE/args  extra arguments
#   CASE/setup           PATH CONTENT lines written into the tree first
#   CASE/profile.yaml    the profile
#   good cases: plan.expected, apply.expected, after.expected (treediff of the
#     tree after apply), drift (PATH VALUE lines the test writes),
#     drift-check.expected; plan touches nothing, apply makes the tree,
#     a second run plans nothing, drift → check exits 2 → apply fixes it
#   bad-* cases: errors.expected (stderr); exit 1, tree checksum unchanged
# Both build/kickfleet-agent and build/asan/kickfleet-agent (ASan+UBSan) run.
# KF_REGEN=1 rewrites the expected files from the plain binary's output.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
SR=$TOP/tests/sysroot
DATA=tests/data/agent
work=$(mktemp -d /tmp/kf-sysroot.XXXXXX)
httpd_pid=
cleanup() { [ -n "$httpd_pid" ] && kill "$httpd_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

bins=
for b in build/kickfleet-agent build/asan/kickfleet-agent; do
	if [ -x "$b" ]; then bins="$bins $b"; else t_fail "$b not built (make all asan)"; fi
done

sum_tree() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64); }

# expect NAME FILE ACTUAL: compare, or rewrite under KF_REGEN for the plain binary
expect() {
	if [ -n "${KF_REGEN:-}" ] && [ "$tag" = plain ]; then
		cp "$3" "$2"; t_ok "$1 (regenerated)"; return
	fi
	if [ -f "$2" ] && diff -u "$2" "$3" >"$work/diff"; then t_ok "$1"; else
		t_fail "$1"; head -40 "$work/diff"; fi
}

# rc NAME WANT GOT
rc() { if [ "$2" = "$3" ]; then t_ok "$1 exits $2"; else t_fail "$1 exits $3, wanted $2"; cat "$work/err" 2>/dev/null | head -20; fi; }

drift() {
	while read -r path value; do
		[ -n "$path" ] || continue
		mkdir -p "$(dirname "$1$path")"
		printf '%s\n' "$value" >"$1$path"
	done <"$2"
}

# no sanitizer report may appear on stderr
clean_stderr() {
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$work/err"; then
		t_fail "$1: sanitizer report"; head -30 "$work/err"
	fi
}

for bin in $bins; do
	case $bin in */asan/*) tag=asan ;; *) tag=plain ;; esac
	for c in "$DATA"/*/; do
		c=${c%/}; name=$(basename "$c")
		t=$work/$name.$tag; orig=$work/$name.$tag.orig
		"$SR/mktree.sh" "$(cat "$c/tree")" "$t"
		[ -f "$c/setup" ] && drift "$t" "$c/setup"
		cp -a "$t" "$orig"
		args=$(cat "$c/args" 2>/dev/null || true)
		run() { "$bin" "$1" --profile "$c/profile.yaml" --root "$t" $args >"$work/out" 2>"$work/err"; }
		case $name in
		bad-*)
			before=$(sum_tree "$t")
			for cmd in plan apply; do
				run $cmd; rc "$tag/$name $cmd" 1 $?
			done
			expect "$tag/$name errors" "$c/errors.expected" "$work/err"
			[ "$(sum_tree "$t")" = "$before" ] && t_ok "$tag/$name tree untouched" || t_fail "$tag/$name tree changed"
			continue ;;
		esac
		run plan; rc "$tag/$name plan" 2 $?; clean_stderr "$tag/$name plan"
		expect "$tag/$name plan" "$c/plan.expected" "$work/out"
		[ -z "$("$SR/treediff.sh" "$orig" "$t")" ] && t_ok "$tag/$name plan touches nothing" || t_fail "$tag/$name plan changed the tree"
		run apply; rc "$tag/$name apply" 2 $?; clean_stderr "$tag/$name apply"
		expect "$tag/$name apply" "$c/apply.expected" "$work/out"
		"$SR/treediff.sh" "$orig" "$t" >"$work/tree"
		expect "$tag/$name tree after apply" "$c/after.expected" "$work/tree"
		run apply; rc "$tag/$name second apply" 0 $?
		grep -qE ' (planned|applied|applied, needs reboot)$' "$work/out" && t_fail "$tag/$name second apply changed something" || t_ok "$tag/$name second apply changes nothing"
		run check; rc "$tag/$name check after apply" 0 $?
		drift "$t" "$c/drift"
		run check; rc "$tag/$name check after drift" 2 $?
		expect "$tag/$name drift check" "$c/drift-check.expected" "$work/out"
		run apply; rc "$tag/$name apply after drift" 2 $?
		run check; rc "$tag/$name check after repair" 0 $?
		"$SR/treediff.sh" "$orig" "$t" >"$work/tree"
		expect "$tag/$name tree after repair" "$c/after.expected" "$work/tree"
	done

	# --json: one document with the same changes as the text plan
	c=$DATA/full-two-node-amd; t=$work/json.$tag
	"$SR/mktree.sh" two-node-amd "$t"
	"$bin" plan --json --profile "$c/profile.yaml" --root "$t" >"$work/out" 2>"$work/err"
	got=$?
	if python3 - "$work/out" "$c/plan.expected" "$got" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
planned = sum(1 for l in open(sys.argv[2]) if l.rstrip().endswith(" planned"))
ok = (doc["command"] == "plan" and doc["exit_code"] == int(sys.argv[3]) == 2
      and doc["summary"]["to_change"] == planned == len([c for c in doc["changes"] if c["status"] == "planned"])
      and all(set(c) >= {"resource", "what", "from", "to", "status"} for c in doc["changes"]))
sys.exit(0 if ok else 1)
EOF
	then t_ok "$tag/json plan"; else t_fail "$tag/json plan"; head -c 600 "$work/out"; fi

	# usage errors: exit 1
	"$bin" plan --root "$t" >/dev/null 2>&1; rc "$tag/missing --profile" 1 $?
	"$bin" plan --profile "$c/profile.yaml" --root "$t" --only memry >/dev/null 2>"$work/err"; rc "$tag/--only unknown section" 1 $?
	grep -q 'unknown section "memry"' "$work/err" && t_ok "$tag/--only names the section" || t_fail "$tag/--only message"
done

# --- facts: each tree of tests/data/facts/CASE gives CASE/facts.expected
# (text) and facts.json.expected (JSON); reading touches nothing ---
for bin in $bins; do
	case $bin in */asan/*) tag=asan ;; *) tag=plain ;; esac
	for c in tests/data/facts/*/; do
		c=${c%/}; name=$(basename "$c"); t=$work/facts-$name.$tag
		"$SR/mktree.sh" "$(cat "$c/tree")" "$t"
		before=$(sum_tree "$t")
		"$bin" facts --root "$t" >"$work/out" 2>"$work/err"; rc "$tag/facts $name" 0 $?; clean_stderr "$tag/facts $name"
		expect "$tag/facts $name text" "$c/facts.expected" "$work/out"
		"$bin" facts --json --root "$t" >"$work/out" 2>"$work/err"; rc "$tag/facts --json $name" 0 $?
		expect "$tag/facts $name json" "$c/facts.json.expected" "$work/out"
		[ "$(sum_tree "$t")" = "$before" ] && t_ok "$tag/facts $name touches nothing" || t_fail "$tag/facts $name changed the tree"
	done
	"$bin" facts --bogus >/dev/null 2>&1; rc "$tag/facts unknown option" 1 $?
done

# facts on the live host: sanity against what the kernel says, valid JSON
if [ -x build/kickfleet-agent ] && command -v python3 >/dev/null; then
	build/kickfleet-agent facts --json >"$work/live.json" 2>"$work/err"; rc "facts on the live host" 0 $?
	if python3 - "$work/live.json" <<'EOF'
import json, os, sys
d = json.load(open(sys.argv[1]))
mem = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal:")).split()[1]) * 1024
nics = sorted(n for n in os.listdir("/sys/class/net") if os.path.exists("/sys/class/net/%s/device" % n))
disks = sorted(b for b in os.listdir("/sys/block") if os.path.exists("/sys/block/%s/device" % b))
present = open("/sys/devices/system/cpu/online").read().strip()
checks = {
    "schema": d["schema"] == 1,
    "memory": d["memory"]["total"] == mem,
    "threads": d["cpu"]["threads"] >= os.cpu_count(),
    "online": d["cpu"]["online"] == present,
    "hostname": d["hostname"] == open("/proc/sys/kernel/hostname").read().strip(),
    "nics": sorted(n["name"] for n in d["nics"]) == nics,
    "disks": sorted(x["name"] for x in d["disks"]) == disks,
    "nodes": len(d["numa"]["nodes"]) >= 1 and all(n["memory"] > 0 for n in d["numa"]["nodes"]),
}
bad = [k for k, v in checks.items() if not v]
print(" ".join(bad))
sys.exit(1 if bad else 0)
EOF
	then t_ok "facts on the live host match /proc and /sys"; else t_fail "facts on the live host"; head -c 800 "$work/live.json"; fi
fi

# --- profile over HTTP (ETag, last good copy) and --report ---
bin=build/kickfleet-agent
if [ -x $bin ] && command -v python3 >/dev/null; then
	srv=$work/srv; mkdir -p "$srv"; t=$work/http
	"$SR/mktree.sh" two-node-amd "$t"
	cp "$DATA/full-two-node-amd/profile.yaml" "$srv/profile.yaml"
	python3 "$SR/httpd.py" "$srv" "$work/port" >"$work/httpd.log" 2>&1 &
	httpd_pid=$!
	i=0; while [ ! -f "$work/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	port=$(cat "$work/port")
	url=http://127.0.0.1:$port/profile.yaml
	$bin apply --profile "$url" --root "$t" --report "http://127.0.0.1:$port/report" >"$work/out" 2>"$work/err"
	rc "http apply" 2 $?
	[ -f "$t/var/lib/kickfleet-agent/profile.yaml" ] && cmp -s "$t/var/lib/kickfleet-agent/profile.yaml" "$srv/profile.yaml" \
		&& t_ok "http: last good copy kept in the state dir" || t_fail "http: no last good copy"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["command"]=="apply" and d["summary"]["applied"]>0 and d["exit_code"]==2 else 1)' \
		"$srv/report.json" 2>/dev/null && t_ok "http: report POSTed as JSON" || t_fail "http: report"
	$bin check --profile "$url" --root "$t" >"$work/out" 2>"$work/err"; rc "http check (cached, 304)" 0 $?
	tail -n 1 "$srv/requests.log" | grep -q '^GET /profile.yaml "' && grep -q '^GET /profile.yaml -' "$srv/requests.log" \
		&& t_ok "http: If-None-Match sent with the ETag" || { t_fail "http: If-None-Match"; cat "$srv/requests.log"; }
	kill "$httpd_pid"; wait "$httpd_pid" 2>/dev/null; httpd_pid=
	$bin check --profile "$url" --root "$t" >"$work/out" 2>"$work/err"; rc "http check, server gone" 0 $?
	grep -q 'last good copy' "$work/out" && grep -q 'last good copy' "$work/err" \
		&& t_ok "http: fallback said in the report and the log" || { t_fail "http: fallback not reported"; cat "$work/out" "$work/err"; }
	printf '%s\n' "[always] madvise never" >"$t/sys/kernel/mm/transparent_hugepage/enabled"
	$bin apply --profile "$DATA/full-two-node-amd/profile.yaml" --root "$t" --report "http://127.0.0.1:$port/report" >"$work/out" 2>"$work/err"
	rc "apply with an unreachable --report" 2 $?
	grep -q 'report to http' "$work/err" && t_ok "failed report logged" || t_fail "failed report not logged"
	$bin plan --profile "http://127.0.0.1:$port/other.yaml" --root "$t" >"$work/out" 2>"$work/err"
	rc "http profile unreachable, no copy" 1 $?
fi

# The agent's own facts against the profile when it plans: a PCI device
# passed through on a host without an IOMMU is warned about at its line
# (THP to change, and the guests resource fails without libvirt: exit 6); with an IOMMU
# unit in the tree, no warning.
for bin in $bins; do
	t=$work/warn
	sh "$SR/mktree.sh" two-node-amd "$t"
	mkdir -p "$t/sys/bus/pci/devices/0000:06:00.0"
	$bin plan --profile tests/data/agent-warn/passthrough.yaml --root "$t" >"$work/out" 2>"$work/err"
	rc "$bin plan: passthrough, no IOMMU" 6 $?
	grep -qx 'tests/data/agent-warn/passthrough.yaml:9:14: warning: guest nfv01: passthrough of 0000:06:00.0 needs an IOMMU, the host has none (firmware VT-d/AMD-Vi, intel_iommu=on)' "$work/err" \
		&& t_ok "$bin plan: warns of passthrough without an IOMMU" || { t_fail "$bin plan: no IOMMU warning"; cat "$work/err"; }
	mkdir -p "$t/sys/class/iommu/ivhd0"
	$bin plan --profile tests/data/agent-warn/passthrough.yaml --root "$t" >"$work/out" 2>"$work/err"
	grep -q 'warning' "$work/err" && { t_fail "$bin plan: warned with an IOMMU"; cat "$work/err"; } || t_ok "$bin plan: no warning with an IOMMU"
	# the engine probes only what the warnings read: the same warnings as
	# the whole facts give to validate
	t=$work/warn2
	sh "$SR/mktree.sh" one-node-intel "$t"
	echo 63 >"$t/sys/class/net/eth0/device/sriov_totalvfs"
	mkdir -p "$t/sys/bus/pci/devices/0000:3b:00.1"
	$bin facts --json --root "$t" >"$work/facts.json"
	$bin validate --facts "$work/facts.json" tests/data/agent-warn/facts-check.yaml 2>"$work/want" >/dev/null
	$bin plan --profile tests/data/agent-warn/facts-check.yaml --root "$t" >"$work/out" 2>"$work/err"
	grep ': warning: ' "$work/err" >"$work/got"
	if [ "$(grep -c ': warning: ' "$work/want")" = 2 ] && cmp -s "$work/want" "$work/got"; then
		t_ok "$bin plan: the warnings of validate --facts with the whole facts (2)"
	else t_fail "$bin plan: warnings differ from validate --facts"; diff "$work/want" "$work/got"; fi
done

t_summary
