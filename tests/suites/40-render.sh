#!/bin/sh
# kickfleet render: data cases (tests/data/render/NAME/STEP/fleet.yaml in,
# STEP/expected/ tree and STEP/stdout out), incremental behaviour, dry run,
# the lock, dnsmasq --test, grub-script-check, netboot, check errors.
# Regenerate expectations on purpose with tests/data/render/regen.sh.
. "$(dirname "$0")/../lib.sh"
KF=${KF:-$TOP/build/kickfleet}
DATA=$TOP/tests/data/render
work=$(mktemp -d /tmp/kf-render-test.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

# normalise: the random tokens and the output directory
norm_file() { sed -e 's/token=[0-9a-f]\{64\}/token=@TOKEN@/g' -e "s|$2|@OUT@|g" "$1"; }
snapshot() { # OUT DEST: the rendered tree, normalised (loaders are not part of it)
	mkdir -p "$2"
	(cd "$1" && find dnsmasq tftp http -type f ! -name '*.kf-tmp*' ! -name dnsmasq.pid ! -name dnsmasq.leases \
		\( -path 'dnsmasq/*' -o -path 'tftp/pxelinux.cfg/*' -o -path 'tftp/grub/*' -o -path 'http/*' \) | sort) |
	while IFS= read -r f; do
		mkdir -p "$2/$(dirname "$f")"
		norm_file "$1/$f" "$1" > "$2/$f"
	done
}

for case in "$DATA"/*/; do
	name=$(basename "$case")
	out=$work/$name/out
	mkdir -p "$out"
	ok=1
	for step in "$case"[0-9]*/; do
		s=$(basename "$step")
		if [ -f "$step/before" ]; then
			# shellcheck disable=SC2046
			"$KF" $(cat "$step/before") -f "$step/fleet.yaml" -o "$out" >/dev/null 2>"$work/err" ||
				{ t_fail "$name/$s: before: $(cat "$step/before"): $(cat "$work/err")"; ok=0; break; }
		fi
		"$KF" render --no-stage -f "$step/fleet.yaml" -o "$out" >"$work/stdout" 2>"$work/err" ||
			{ t_fail "$name/$s: render failed: $(cat "$work/err")"; ok=0; break; }
		actual=$work/$name/actual-$s
		snapshot "$out" "$actual"
		norm_file "$work/stdout" "$out" > "$actual.stdout"
		if [ -n "${KF_REGEN:-}" ]; then
			rm -rf "$step/expected"
			cp -a "$actual" "$step/expected"
			cp "$actual.stdout" "$step/stdout"
			continue
		fi
		if ! diff -ru "$step/expected" "$actual" >"$work/diff" 2>&1 ||
		   ! diff -u "$step/stdout" "$actual.stdout" >>"$work/diff" 2>&1; then
			head -40 "$work/diff"
			t_fail "$name/$s: rendered tree differs from expected"
			ok=0
			break
		fi
		# unknown MACs: never a token; the discovery image only with discovery
		disc=0
		grep -q '^ *unknown_hosts: *discovery' "$step/fleet.yaml" && disc=1
		for d in tftp/pxelinux.cfg/default tftp/grub/grub.cfg-default http/ipxe/default.ipxe; do
			[ -f "$out/$d" ] || { t_fail "$name/$s: no $d"; ok=0; continue; }
			grep -q 'token' "$out/$d" && { t_fail "$name/$s: $d has a token"; ok=0; }
			n=$(grep -c 'discovery/initrd\.img' "$out/$d")
			[ $disc = 1 ] && [ "$n" = 0 ] && { t_fail "$name/$s: $d does not boot the discovery image"; ok=0; }
			[ $disc = 0 ] && [ "$n" != 0 ] && { t_fail "$name/$s: $d boots the discovery image with discovery off"; ok=0; }
		done
		for g in "$out"/tftp/grub/*; do
			[ -f "$g" ] || continue
			grub-script-check "$g" || { t_fail "$name/$s: grub-script-check $(basename "$g")"; ok=0; }
		done
		if ! dnsmasq --test --conf-file="$out/dnsmasq/dnsmasq.conf" >"$work/dt" 2>&1; then
			t_fail "$name/$s: dnsmasq --test: $(cat "$work/dt")"
			ok=0
		fi
		# a second render of the same inputs writes nothing
		"$KF" render --no-stage -f "$step/fleet.yaml" -o "$out" >"$work/again" 2>&1
		grep -q ' 0 new, 0 changed, .* 0 removed; 0 files written, 0 removed' "$work/again" ||
			{ t_fail "$name/$s: second render not empty: $(cat "$work/again")"; ok=0; }
	done
	[ $ok = 1 ] && t_ok "case $name"
done
[ -n "${KF_REGEN:-}" ] && { echo "expectations regenerated"; t_summary; exit $?; }

# ---- dnsmasq really reads what render wrote (root: a private netns) ----
# dnsmasq --test checks dnsmasq.conf only; the hostsdir/optsdir files are
# read when dnsmasq runs, so run it for a moment on a bridge in a network
# namespace of our own and read its log.
if [ "$(id -u)" = 0 ] && ip netns add "kfr$$" 2>/dev/null; then
	ns=kfr$$
	out=$work/ns
	"$KF" render --no-stage -f "$DATA/basic/1/fleet.yaml" -o "$out" >/dev/null 2>&1
	ip -n "$ns" link add br0 type bridge && ip -n "$ns" addr add 10.250.0.1/24 dev br0 &&
		ip -n "$ns" link set br0 up && ip -n "$ns" link set lo up
	ip netns exec "$ns" dnsmasq --keep-in-foreground --user=root --log-facility="$work/dnsmasq.log" \
		--conf-file="$out/dnsmasq/dnsmasq.conf" >"$work/dnsmasq.out" 2>&1 &
	dpid=$!
	i=0
	while [ $i -lt 50 ] && ! grep -q 'read .*/opts/web02' "$work/dnsmasq.log" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
	kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null
	ip netns del "$ns"
	t_check "dnsmasq reads every host file (hostsdir)" \
		test "$(grep -c 'read .*/dnsmasq/hosts/' "$work/dnsmasq.log")" = 6
	t_check "dnsmasq reads every options file (optsdir)" \
		test "$(grep -c 'read .*/dnsmasq/opts/' "$work/dnsmasq.log")" = 6
	if grep -iE 'bad|error|failed|illegal|unsupported' "$work/dnsmasq.log" "$work/dnsmasq.out"; then
		t_fail "dnsmasq complains about the rendered files"
	else
		t_ok "dnsmasq accepts the rendered files"
	fi
else
	t_skip "dnsmasq in a network namespace (needs root and ip netns)"
fi

# ---- behaviour beyond the data cases ----
fleet=$DATA/basic/1/fleet.yaml
out=$work/b
"$KF" render -f "$fleet" -o "$out" >/dev/null 2>"$work/err"
t_check "kickstarts are mode 0600" test "$(stat -c %a "$out/http/ks/kvm01")" = 600
t_check "loaders staged into the TFTP root as files" test -f "$out/tftp/pxelinux.0" -a ! -L "$out/tftp/pxelinux.0"
t_check "ldlinux.c32 staged beside pxelinux.0" test -s "$out/tftp/ldlinux.c32"
t_check "missing distro kernel is a warning naming file:line:col" \
	grep -q 'fleet.yaml:[0-9]*:[0-9]*: distro rocky9: kernel /srv/rocky9/images/pxeboot/vmlinuz not found' "$work/err"
tok=$(sqlite3 "$out/state.db" "select token from hosts where name='kvm01'")
t_check "token: 64 hex characters in the state store" sh -c "echo '$tok' | grep -qE '^[0-9a-f]{64}$'"
t_check "token in the kickstart URL of the boot config" grep -q "ks/kvm01?token=$tok" "$out/tftp/pxelinux.cfg/01-52-54-00-aa-00-01"
tok2=$(sqlite3 "$out/state.db" "select token from hosts where name='kvm02'")
t_check "tokens differ between hosts" test "$tok" != "$tok2"

# dry run: lists, writes nothing
sed 's/ip: 10.250.0.12/ip: 10.250.0.22/' "$fleet" > "$work/dry.yaml"
cp "$DATA"/basic/1/fleet.yaml "$work/orig.yaml"
before=$(find "$out" -type f -newer "$work/orig.yaml" | xargs md5sum | sort | md5sum)
"$KF" render -n -f "$work/dry.yaml" -o "$out" >"$work/dry" 2>&1
after=$(find "$out" -type f -newer "$work/orig.yaml" | xargs md5sum | sort | md5sum)
t_check "dry run lists the changed host" grep -qx '~ kvm02' "$work/dry"
t_check "dry run says what it would write" grep -q 'dry run: .* 1 changed.*would be written' "$work/dry"
t_check "dry run writes nothing" test "$before" = "$after"
t_check "dry run into a fresh directory creates nothing" sh -c "'$KF' render -n -f '$fleet' -o '$work/none' >/dev/null 2>&1 && test ! -e '$work/none'"

# netboot off / on
"$KF" netboot -f "$fleet" -o "$out" kvm01 off >"$work/nb" 2>&1
t_check "netboot off: pxelinux local boot" grep -q 'LOCALBOOT 0' "$out/tftp/pxelinux.cfg/01-52-54-00-aa-00-01"
t_check "netboot off: iPXE exits to the firmware" grep -qx 'exit' "$out/http/ipxe/01-52-54-00-aa-00-01.ipxe"
t_check "netboot off: state row" test "$(sqlite3 "$out/state.db" "select netboot from hosts where name='kvm01'")" = 0
"$KF" netboot -f "$fleet" -o "$out" kvm01 off >"$work/nb2" 2>&1
t_check "netboot off twice: nothing to do" grep -q '(already)' "$work/nb2"
"$KF" netboot -f "$fleet" -o "$out" kvm01 on >/dev/null 2>&1
t_check "netboot on: installs again" grep -q 'inst.ks=' "$out/tftp/pxelinux.cfg/01-52-54-00-aa-00-01"
tok3=$(sqlite3 "$out/state.db" "select token from hosts where name='kvm01'")
t_check "netboot on: a fresh token" test "$tok3" != "$tok"
t_check "netboot on: the boot config carries the new token" grep -q "token=$tok3" "$out/tftp/pxelinux.cfg/01-52-54-00-aa-00-01"
t_check "netboot of an unknown host fails" sh -c "! '$KF' netboot -f '$fleet' -o '$out' nosuch on 2>/dev/null"

# the lock: parallel renders of different inventories serialise; the end
# state is the one of the last writer and every file is complete
sed 's/timezone: UTC/timezone: Europe\/Berlin/' "$fleet" > "$work/tz.yaml"
"$KF" render -f "$work/tz.yaml" -o "$out" >/dev/null 2>&1 &
p1=$!
"$KF" render -f "$fleet" -o "$out" >/dev/null 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
t_check "concurrent renders both succeed" test $r1 = 0 -a $r2 = 0
"$KF" render -f "$fleet" -o "$out" >/dev/null 2>&1
t_check "after them, a render of the same inputs converges" grep -q 'timezone UTC' "$out/http/ks/kvm01"
t_check "no temp files left" test -z "$(find "$out" -name '*.kf-tmp*')"

# kickfleet check finds template errors with file:line:col
mkdir -p "$work/bad"
cat > "$work/bad/bad.ks" <<'TPL'
text
rootpw --iscrypted {{ defaults.root_password_hash }}
network --hostname={{ host.nmae }}
{% if vars.raid %}
raid
{% endif %}
TPL
sed -e 's|kickstart: kickstart/kvm-host.ks|kickstart: bad.ks|' "$DATA/two-nics/1/fleet.yaml" > "$work/bad/fleet.yaml"
"$KF" check -f "$work/bad/fleet.yaml" >/dev/null 2>"$work/cerr"
t_check "check: undefined variable with file:line:col" grep -q 'bad.ks:3:23: undefined variable "host.nmae" (host twonic)' "$work/cerr"
t_check "check: undefined variable in a condition" grep -q 'bad.ks:4:7: undefined variable "vars.raid"' "$work/cerr"
t_check "render refuses the same template" sh -c "! '$KF' render -f '$work/bad/fleet.yaml' -o '$work/badout' >/dev/null 2>&1"
t_check "a failed render leaves no files" test -z "$(find "$work/badout" -type f ! -name state.db ! -name 'state.db-*' ! -name render.lock 2>/dev/null)"
printf 'text\nrootpw --iscrypted x\nbogus --x\n%%post\ntrue\n' > "$work/bad/bad.ks"
"$KF" check -f "$work/bad/fleet.yaml" >/dev/null 2>"$work/cerr"
t_check "check: rendered kickstart syntax (unknown command)" grep -q 'kickstart of twonic (from .*bad.ks):3:1: unknown kickstart command "bogus"' "$work/cerr"
t_check "check: rendered kickstart syntax (no %end)" grep -q ':4:1: section %post is not closed' "$work/cerr"
"$KF" render --no-stage -f "$TOP/tests/data/inventory/bad/empty-option/fleet.yaml" -o "$work/emptyout" >/dev/null 2>"$work/rerr"
t_check "render refuses an option rendered with an empty value, naming host and line" \
	grep -q 'kickstart of kvm02 (from .*site.ks):5:12: ignoredisk: option --only-use has an empty value' "$work/rerr"
t_check "check passes on the example fleet" "$KF" check -f "$TOP/examples/fleet.yaml"
sed 's|ipv6_prefix: fd00:250::/64|ipv6_prefix: fd00:zz::/64|' "$TOP/examples/fleet.yaml" > "$work/v6.yaml"
"$KF" check -f "$work/v6.yaml" >/dev/null 2>"$work/cerr"
t_check "check: a bad ipv6_prefix with file:line:col" grep -q 'v6.yaml:21:16: ipv6_prefix: expected an IPv6 prefix' "$work/cerr"

# the parse cache: a big inventory (4000 hosts, over 256 KiB), one host edited at a time;
# every render through the cache writes what a render without it writes
big=$work/big
mkdir -p "$big"
cat > "$big/fleet.yaml" <<'EOF'
provisioner:
  interface: br0
  address: 10.77.0.1
  subnet: 10.77.0.0/16
  dhcp: {mode: static, dns: 10.77.0.1}
distros:
  rocky9: {kernel: /srv/rocky9/vmlinuz, initrd: /srv/rocky9/initrd.img}
defaults:
  root_password_hash: "$6$rounds=656000$testsalt$testhash"
  vars: {domain: test.example}
roles:
  kvm-host: {distro: rocky9, kickstart: kickstart/kvm-host.ks, profile: profiles/kvm-host.yaml}
hosts:
EOF
role=kvm-host
awk 'BEGIN { for (i = 0; i < 4000; i++)
	printf "  - {name: b%04d, mac: \"52:54:01:00:%02x:%02x\", ip: 10.77.%d.%d, role: kvm-host}\n",
		i, int(i / 256), i % 256, int(i / 200) + 1, i % 200 + 2 }' >> "$big/fleet.yaml"
export KICKFLEET_CACHE_DIR="$big/cache"
cache_render() { # OUT: render with the cache, the cache use to $work/use
	KF_RENDER_TIMING=1 "$KF" render --no-stage -f "$big/fleet.yaml" -o "$1" >/dev/null 2>"$work/timing" &&
	sed -n 's/.*parse cache: \([a-z]*\).*/\1/p' "$work/timing" > "$work/use"
}
plain_render() { # OUT: the same without it
	rm -rf "$1"
	KICKFLEET_CACHE_DIR=off "$KF" render --no-stage -f "$big/fleet.yaml" -o "$1" >/dev/null 2>&1
}
flat() { # OUT: every rendered file's lines, "FILE:LINE", tokens and OUT normalised
	(cd "$1" && find dnsmasq tftp http -type f ! -name '*.kf-tmp*' ! -name dnsmasq.pid ! -name dnsmasq.leases |
		sort | xargs grep -H '' | sed -e 's/token=[0-9a-f]\{64\}/token=@TOKEN@/g' -e "s|$1|@OUT@|g")
}
same_tree() { flat "$1" > "$work/f1" && flat "$2" > "$work/f2" && [ -s "$work/f1" ] && cmp -s "$work/f1" "$work/f2"; }
if cache_render "$big/out"; then
	t_check "cache: the first render of a big inventory parses it and keeps it" grep -qx parsed "$work/use"
	cache_render "$big/out"
	t_check "cache: unchanged, the tree comes from the cache" grep -qx hit "$work/use"
	sed -i 's/ip: 10.77.8.52,/ip: 10.77.99.52,/' "$big/fleet.yaml"
	cache_render "$big/out"
	t_check "cache: one host edited, only its lines are parsed" grep -qx partial "$work/use"
	plain_render "$big/plain"
	t_check "cache: the render matches one without the cache" same_tree "$big/out" "$big/plain"
	sed -i 's/^  - {name: b2000, .*$/&\n  - {name: extra, mac: "52:54:01:ff:00:01", ip: 10.77.250.1, role: '"$role"'}/' "$big/fleet.yaml"
	sed -i '/name: b1000,/d' "$big/fleet.yaml"
	cache_render "$big/out"
	t_check "cache: a host added and one removed" grep -qx partial "$work/use"
	plain_render "$big/plain"
	t_check "cache: still the same render as without the cache" same_tree "$big/out" "$big/plain"
	sed -i 's/name: b2500, mac: "52:54:01:00:09:c4"/name: b2500, mac: "52:54:01:00:09:c4", bogus: 1/' "$big/fleet.yaml"
	"$KF" check -f "$big/fleet.yaml" >/dev/null 2>"$work/cerr"
	t_check "cache: an error in the edited host names its line" grep -q "fleet.yaml:$(grep -n 'bogus: 1' "$big/fleet.yaml" | cut -d: -f1):[0-9]*: unknown key \"bogus\"" "$work/cerr"
else
	t_fail "cache: the big inventory does not render: $(cat "$work/timing")"
fi
unset KICKFLEET_CACHE_DIR

# ---- the discovery image: staged only with unknown_hosts: discovery ----
dd=$work/disc
mkdir -p "$dd"
"$KF" render -f "$DATA/discovery-toggle/1/fleet.yaml" -o "$dd/out" >/dev/null 2>"$work/err"
img=$dd/out/tftp/discovery/initrd.img
if [ -f "$img" ]; then
	t_ok "discovery on: the image is staged ($(stat -c %s "$img") bytes)"
	list=$(busybox cpio -t <"$img" 2>/dev/null | sort | tr '\n' ' ')
	for f in init kickfleet/udhcpc kickfleet/bin/busybox kickfleet/bin/kickfleet-agent \
		kickfleet/lib/ld-linux-x86-64.so.2 kickfleet/lib/libc.so.6 kickfleet/lib/libcurl.so.4 dev/console; do
		case " $list " in *" $f "*) ;; *) t_fail "discovery image: no $f in it"; missing=1 ;; esac
	done
	[ -z "${missing:-}" ] && t_ok "discovery image: /init, busybox, the agent with its loader, libc and libcurl"
	mkdir -p "$dd/x" && (cd "$dd/x" && busybox cpio -i -d <"$img" 2>/dev/null)
	t_check "discovery image: no token or state file in it" sh -c \
		"! grep -rlq 'token=' '$dd/x/init' '$dd/x/kickfleet/udhcpc' && [ -z \"\$(find '$dd/x' -name '*.db' -o -name 'tokens*')\" ]"
	t_check "discovery image: the agent in it runs with the image's own libraries (chroot)" sh -c \
		"chroot '$dd/x' /kickfleet/lib/ld-linux-x86-64.so.2 --library-path /kickfleet/lib /kickfleet/bin/kickfleet-agent discover --help | grep -q 'usage: kickfleet-agent discover'"
	cp "$img" "$dd/before"
	"$KF" render -f "$DATA/discovery-toggle/1/fleet.yaml" -o "$dd/out" >"$dd/again" 2>&1
	t_check "discovery image: the same bytes again, not rewritten" sh -c \
		"cmp -s '$img' '$dd/before' && grep -q ' 0 files written' '$dd/again'"
	"$KF" render -f "$DATA/discovery-toggle/2/fleet.yaml" -o "$dd/out" >/dev/null 2>&1
	t_check "discovery off: the image is removed" test ! -e "$img"
else
	t_fail "discovery on: no $img ($(cat "$work/err"))"
fi
KICKFLEET_BUSYBOX=$TOP/build/kickfleet "$KF" render -f "$DATA/discovery-toggle/1/fleet.yaml" -o "$dd/bad" >/dev/null 2>"$work/err"
rc=$?
t_check "discovery image: a dynamically linked busybox is refused by name (exit $rc)" sh -c \
	"[ $rc != 0 ] && grep -q 'is not statically linked (install busybox-static)' '$work/err' && [ ! -e '$dd/bad/tftp/discovery/initrd.img' ]"

t_summary
