#!/bin/sh
# Runs kickfleet's test suites in order and prints the closing line
# "N passed, N failed".  Suites are tests/suites/NN-NAME.sh; each prints its
# own closing line.  KF_SUITES="unit data" limits the run to some names.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP
LOGDIR=${KF_TEST_LOGS:-$TOP/build/test-logs}
mkdir -p "$LOGDIR"
# the inventory parse cache of every test run is its own, and goes with it
KICKFLEET_CACHE_DIR=$(mktemp -d /tmp/kf-test-cache.XXXXXX)
export KICKFLEET_CACHE_DIR
trap 'rm -rf "$KICKFLEET_CACHE_DIR"' EXIT

pass=0 fail=0 skip=0 failed_suites=
start=$(date +%s)
for s in "$TOP"/tests/suites/[0-9]*.sh; do
	name=$(basename "$s" .sh)
	name=${name#*-}
	if [ -n "${KF_SUITES:-}" ]; then
		case " $KF_SUITES " in *" $name "*) ;; *) continue ;; esac
	fi
	echo "=== suite $name"
	t0=$(date +%s)
	log=$LOGDIR/$name.log
	sh "$s" >"$log" 2>&1
	rc=$?
	# show the suite's own lines, without the noise of passing cases
	grep -v '^ok ' "$log" | tail -n 60
	line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(echo "$line" | sed -nE 's/.*([0-9]+) passed.*/\1/p' | head -1)
	p=$(echo "$line" | sed -nE 's/^([A-Za-z]+: )?([0-9]+) passed.*/\2/p')
	f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
	k=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
	p=${p:-0} f=${f:-0} k=${k:-0}
	if [ -z "$line" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
		echo "suite $name exited $rc without a passing summary (log: $log)"
		f=$((f + 1))
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + k))
	[ "$f" -gt 0 ] && failed_suites="$failed_suites $name"
	echo "--- $name: $p passed, $f failed, $k skipped ($(( $(date +%s) - t0 ))s)"
done
echo
echo "total time $(( $(date +%s) - start ))s; logs in $LOGDIR"
[ -n "$failed_suites" ] && echo "failed suites:$failed_suites"
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
