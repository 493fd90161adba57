#!/bin/sh
# Unit tests (cmocka), built normally and with ASan + UBSan.
. "$(dirname "$0")/../lib.sh"
B=$TOP/build
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "$B"/tests/test_* "$B"/asan/tests/test_*; do
	[ -x "$t" ] || continue
	case $t in */asan/*) tag=asan ;; *) tag=plain ;; esac
	name="$tag/$(basename "$t")"
	out=$("$t" 2>&1)
	rc=$?
	echo "$out" | grep -E '^\[  (FAILED|  OK  |ERROR)|ERROR|runtime error|LeakSanitizer' | grep -v '^\[       OK \]' | head -40
	# a binary may run several cmocka groups: add up their closing lines
	np=$(echo "$out" | awk '/^\[  PASSED  \] [0-9]+ test/ { n += $4 } END { print n + 0 }')
	nf=$(echo "$out" | awk '/^\[  FAILED  \] [0-9]+ test/ { n += $4 } END { print n + 0 }')
	T_PASS=$((T_PASS + np))
	T_FAIL=$((T_FAIL + nf))
	if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
		echo "$out" | tail -30
		t_fail "$name exited $rc"
	else
		echo "$name: $np passed, $nf failed"
	fi
done
t_summary
