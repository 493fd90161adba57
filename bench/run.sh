#!/bin/sh
# bench/run.sh — run every benchmark script bench/*.sh (except this one),
# in name order; each prints its own numbers and ratios.
set -u
here=$(cd "$(dirname "$0")" && pwd)
rc=0
for b in "$here"/*.sh; do
	[ "$(basename "$b")" = run.sh ] && continue
	echo "=== bench $(basename "$b" .sh)"
	sh "$b" || { echo "bench $(basename "$b" .sh) failed"; rc=1; }
done
exit $rc
