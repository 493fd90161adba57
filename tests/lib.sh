# Shared helpers for kickfleet's shell test suites.  Source it, call t_ok /
# t_fail / t_skip for each case, and t_summary last: it prints the closing
# line "N passed, N failed" (", N skipped") and returns non-zero on failure.
T_PASS=0
T_FAIL=0
T_SKIP=0
T_SUITE=${T_SUITE:-$(basename "$0" .sh)}
if [ -z "${TOP:-}" ]; then
	TOP=$(cd "$(dirname "$0")" && pwd)
	while [ "$TOP" != / ] && [ ! -f "$TOP/tests/lib.sh" ]; do TOP=$(dirname "$TOP"); done
fi
export TOP

t_ok()   { T_PASS=$((T_PASS + 1)); printf 'ok   %s: %s\n' "$T_SUITE" "$*"; }
t_fail() { T_FAIL=$((T_FAIL + 1)); printf 'FAIL %s: %s\n' "$T_SUITE" "$*"; }
t_skip() { T_SKIP=$((T_SKIP + 1)); printf 'skip %s: %s\n' "$T_SUITE" "$*"; }

# t_check NAME CMD...: run CMD, ok if it exits 0
t_check() {
	_n=$1; shift
	if "$@"; then t_ok "$_n"; else t_fail "$_n"; fi
}

t_summary() {
	if [ "$T_SKIP" -gt 0 ]; then
		printf '%d passed, %d failed, %d skipped\n' "$T_PASS" "$T_FAIL" "$T_SKIP"
	else
		printf '%d passed, %d failed\n' "$T_PASS" "$T_FAIL"
	fi
	[ "$T_FAIL" -eq 0 ]
}

t_need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "$T_SUITE: needs root"
		t_skip "needs root"
		t_summary
		exit 0
	fi
}

# The agent credential in a kickstart answer (file) of the test fleet
# tests/data/http/fleet, whose late command echoes it.
t_cred_of() { sed -n "s/.*late_command string echo '\{0,1\}\([0-9a-f]\{64\}\).*/\1/p" "$1"; }
# The agent credential of HOST's install: its kickstart fetched from URL
# with TOKEN (the install must be open); empty when refused.
t_cred_fetch() { # URL HOST TOKEN
	curl -s -o "${TMPDIR:-/tmp}/kf-ks.$$" "$1/ks/$2?token=$3" && t_cred_of "${TMPDIR:-/tmp}/kf-ks.$$"
	rm -f "${TMPDIR:-/tmp}/kf-ks.$$"
}
# A kickstart answer (stdin) as render wrote it: its agent credential (the
# test fleet's late command) back to the mark the server replaced.
t_ks_marked() {
	_ks=$(cat; echo x)
	_ks=${_ks%x}
	_c=$(printf '%s' "$_ks" | sed -n "s/.*late_command string echo '\{0,1\}\([0-9a-f]\{64\}\).*/\1/p")
	if [ -n "$_c" ]; then printf '%s' "$_ks" | sed "s/$_c/@KICKFLEET_AGENT_CREDENTIAL@/g"; else printf '%s' "$_ks"; fi
}
