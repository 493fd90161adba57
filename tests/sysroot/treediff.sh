#!/bin/sh
# tests/sysroot/treediff.sh BEFORE AFTER — what changed between two sysroot
# trees, in a stable text form for expected files:
#   "+ PATH" added, "- PATH" removed, "M PATH" changed; added and changed
# regular files are followed by their content, each line indented by "  ";
# symlinks show "-> TARGET".  Symlinks are compared, never followed.
set -eu
a=$1 b=$2
list() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./|/|' | LC_ALL=C sort); }
show() {
	if [ -L "$1" ]; then echo "  -> $(readlink "$1")"; else sed 's/^/  /' "$1"; [ -z "$(tail -c 1 "$1")" ] || echo; fi
}
same() {
	if [ -L "$1" ] || [ -L "$2" ]; then
		[ -L "$1" ] && [ -L "$2" ] && [ "$(readlink "$1")" = "$(readlink "$2")" ]
	else
		cmp -s "$1" "$2"
	fi
}
{ list "$a"; list "$b"; } | LC_ALL=C sort -u | while IFS= read -r p; do
	if [ ! -e "$b$p" ] && [ ! -L "$b$p" ]; then
		echo "- $p"
	elif [ ! -e "$a$p" ] && [ ! -L "$a$p" ]; then
		echo "+ $p"; show "$b$p"
	elif ! same "$a$p" "$b$p"; then
		echo "M $p"; show "$b$p"
	fi
done
