#!/bin/sh
# Data cases: every bad profile and inventory gives exactly its expected
# FILE:LINE:COL errors and exit 1; every good one validates and prints its
# expected normalised form (-v), which validates again unchanged.
# Runs the plain and the ASan+UBSan builds.  Regenerate on purpose with
# tests/data/regen.sh.
. "$(dirname "$0")/../lib.sh"
D=$TOP/tests/data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=detect_leaks=1
sh "$D/modes.sh"

for B in "$TOP/build" "$TOP/build/asan"; do
	tag=$(basename "$B"); [ "$tag" = build ] && tag=plain
	agent=$B/kickfleet-agent kf=$B/kickfleet
	[ -x "$agent" ] || { t_fail "$tag: $agent not built"; continue; }

	cd "$D/profile/bad" || exit 1
	for f in *.yaml; do
		n=${f%.yaml}
		"$agent" validate "$f" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne 1 ]; then t_fail "$tag profile/bad/$n: exit $rc, want 1"; continue; fi
		if ! diff -u "$n.err" "$tmp/err" >"$tmp/diff"; then
			cat "$tmp/diff"; t_fail "$tag profile/bad/$n: errors differ"; continue
		fi
		t_ok "$tag profile/bad/$n"
	done

	cd "$D/profile/good" || exit 1
	for f in *.yaml; do
		n=${f%.yaml}
		if ! "$agent" validate -v "$f" >"$tmp/out" 2>"$tmp/err"; then
			cat "$tmp/err"; t_fail "$tag profile/good/$n: did not validate"; continue
		fi
		if ! diff -u "$n.out" "$tmp/out"; then t_fail "$tag profile/good/$n: output differs"; continue; fi
		# the normalised form is a fixed point
		cp "$tmp/out" "$tmp/norm.yaml"
		"$agent" validate -v "$tmp/norm.yaml" >"$tmp/out2" 2>"$tmp/err" &&
			cmp -s "$tmp/out" "$tmp/out2" || { t_fail "$tag profile/good/$n: normalised form not stable"; continue; }
		t_ok "$tag profile/good/$n"
	done

	for d in "$D"/inventory/bad/*/; do
		n=$(basename "$d")
		cd "$d" || exit 1
		"$kf" check -f fleet.yaml >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne 1 ]; then t_fail "$tag inventory/bad/$n: exit $rc, want 1"; continue; fi
		if ! diff -u expected.err "$tmp/err"; then t_fail "$tag inventory/bad/$n: errors differ"; continue; fi
		t_ok "$tag inventory/bad/$n"
	done
	for d in "$D"/inventory/good/*/; do
		n=$(basename "$d")
		cd "$d" || exit 1
		if ! "$kf" check -v -f fleet.yaml >"$tmp/out" 2>"$tmp/err"; then
			cat "$tmp/err"; t_fail "$tag inventory/good/$n: did not validate"; continue
		fi
		if ! diff -u expected.out "$tmp/out"; then t_fail "$tag inventory/good/$n: output differs"; continue; fi
		t_ok "$tag inventory/good/$n"
	done

	# a profile against a host's facts: the warnings of expected.err, exit 0
	for d in "$D"/factcheck/*/; do
		n=$(basename "$d")
		cd "$d" || exit 1
		if ! "$agent" validate --facts facts.json profile.yaml >"$tmp/out" 2>"$tmp/err"; then
			cat "$tmp/err"; t_fail "$tag factcheck/$n: did not validate"; continue
		fi
		if ! diff -u expected.err "$tmp/err"; then t_fail "$tag factcheck/$n: warnings differ"; continue; fi
		t_ok "$tag factcheck/$n"
	done

	# kickfleet enlist edits fleet.yaml in place, byte for byte as
	# expected.yaml, and renders that host alone; a refusal prints
	# expected.err and leaves the file as it was
	rm -rf "$tmp/enlist"
	cp -r "$D/enlist" "$tmp/enlist"
	for d in "$tmp"/enlist/*/; do
		n=$(basename "$d")
		[ -f "$d/args" ] || continue
		cd "$d" || exit 1
		cp fleet.yaml orig.yaml
		# shellcheck disable=SC2046 # args holds the words of the command line
		"$kf" enlist -f fleet.yaml -o out $(cat args) >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ -f expected.err ]; then
			if [ $rc -ne 1 ]; then t_fail "$tag enlist/$n: exit $rc, want 1"; continue; fi
			if ! diff -u expected.err "$tmp/err"; then t_fail "$tag enlist/$n: errors differ"; continue; fi
			cmp -s orig.yaml fleet.yaml || { t_fail "$tag enlist/$n: fleet.yaml changed"; continue; }
			[ ! -d out/dnsmasq ] || { t_fail "$tag enlist/$n: rendered"; continue; }
		else
			if [ $rc -ne 0 ]; then cat "$tmp/err"; t_fail "$tag enlist/$n: exit $rc"; continue; fi
			if ! cmp -s expected.yaml fleet.yaml; then
				diff -u expected.yaml fleet.yaml; t_fail "$tag enlist/$n: fleet.yaml differs"; continue
			fi
			name=$(sed 's/.*--name \([^ ]*\).*/\1/' args)
			[ "$(ls out/dnsmasq/hosts)" = "$name" ] || { t_fail "$tag enlist/$n: not $name alone rendered"; continue; }
		fi
		t_ok "$tag enlist/$n"
	done
done

# The examples shipped with the project validate too.
cd "$TOP" || exit 1
for f in examples/*.yaml; do
	[ -f "$f" ] || continue
	grep -q '^hosts:' "$f" || continue
	t_check "examples: kickfleet check $f" "$TOP/build/kickfleet" check -f "$f" >/dev/null
done
for f in profiles/*.yaml; do
	[ -f "$f" ] || continue
	t_check "profiles: validate $f" "$TOP/build/kickfleet-agent" validate "$f" >/dev/null
done
# The generated references in docs/ match the schema tables.
"$TOP/build/kickfleet-agent" schema >"$tmp/pref.md"
t_check "docs/profile-reference.md matches the schema (make docs)" cmp -s "$tmp/pref.md" "$TOP/docs/profile-reference.md"
"$TOP/build/kickfleet" schema >"$tmp/iref.md"
t_check "docs/inventory-reference.md matches the schema (make docs)" cmp -s "$tmp/iref.md" "$TOP/docs/inventory-reference.md"
t_summary
