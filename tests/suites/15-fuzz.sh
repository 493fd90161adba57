#!/bin/sh
# A short libFuzzer run of each loader and of the HTTP request path
# (make fuzz runs them for longer).
# The corpus starts from tests/fuzz/seed; a crash or leak fails the suite.
. "$(dirname "$0")/../lib.sh"
SECS=${KF_FUZZ_SECONDS:-15}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$TOP"/build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	n=$(basename "$f")
	mkdir -p "$tmp/$n"
	seeds=$TOP/tests/fuzz/seed
	# the HTTP request path starts from the hostile corpus
	[ "$n" = fuzz_http ] && seeds="$TOP/tests/data/http/corpus $TOP/tests/fuzz/http"
	# shellcheck disable=SC2086
	if TOP=$TOP "$f" -max_total_time="$SECS" -print_final_stats=1 -artifact_prefix="$tmp/" \
		"$tmp/$n" $seeds >"$tmp/$n.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$n.log")
		t_ok "$n: $runs inputs in ${SECS}s, no crash"
	else
		grep -E 'ERROR|SUMMARY|#0|#1|#2' "$tmp/$n.log" | head -20
		t_fail "$n crashed"
	fi
done
[ "$T_PASS$T_FAIL" = 00 ] && t_fail "no fuzz targets built"
t_summary
