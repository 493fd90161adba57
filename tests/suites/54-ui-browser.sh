#!/bin/sh
# The status page in a real browser: headless Chromium (Debian's
# chromium) driven through its DevTools protocol by tests/ui/browser_test.py
# against `kickfleet serve` on 127.0.0.1: the login page for no session and
# for a wrong token, the fleet, a row that changes live on a callback,
# reinstall (confirmed) flipping netboot in the state database, logout.
# Screenshots of the fleet and a host page stay in build/test-logs/.
. "$(dirname "$0")/../lib.sh"
KF=$TOP/build/kickfleet
D=$(mktemp -d /tmp/kf-54-ui.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t_need_root
for tool in chromium python3 curl; do
	command -v $tool >/dev/null || { t_skip "$tool missing"; t_summary; exit 0; }
done
cp -r "$TOP/tests/data/http/fleet" "$D/fleet"
FLEET=$D/fleet/fleet.yaml
ADMIN=u1i2a3d4m5u1i2a3d4m5u1i2a3d4m5u1i2a3d4m5
printf 'alice admin %s\n' "$ADMIN" >"$D/tokens" && chmod 600 "$D/tokens"
PORT=$((20000 + ($$ + 13) % 20000))
URL=http://127.0.0.1:$PORT
"$KF" render --no-stage -f "$FLEET" -o "$D/out" >/dev/null 2>"$D/render.err" || { t_fail "render"; cat "$D/render.err"; }
"$KF" serve -f "$FLEET" -o "$D/out" --listen 127.0.0.1:$PORT --api-tokens "$D/tokens" >"$D/serve.log" 2>&1 &
PID=$!
i=0; while ! curl -sf "$URL/healthz" >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
SHOTS=$TOP/build/test-logs
mkdir -p "$SHOTS"
python3 "$TOP/tests/ui/browser_test.py" "$URL" "$D/out/state.db" "$ADMIN" "$SHOTS" >"$D/out.txt" 2>&1
cat "$D/out.txt" | grep -v '^[0-9]* passed'
while read -r word rest; do
	case $word in
	ok) t_ok "${rest#54-ui-browser: }" ;;
	FAIL) t_fail "${rest#54-ui-browser: }" ;;
	esac
done <"$D/out.txt" >/dev/null
T_PASS=$(grep -c '^ok' "$D/out.txt"); T_FAIL=$(grep -c '^FAIL' "$D/out.txt")
grep -q '^[0-9]* passed, [0-9]* failed$' "$D/out.txt" || t_fail "the browser test did not finish (see above)"
t_check "screenshot of the fleet page" test -s "$SHOTS/ui-fleet.png"
t_check "screenshot of a host page" test -s "$SHOTS/ui-host.png"
t_check "the reinstall is logged with who did it" grep -q "api: reinstall by alice from 127.0.0.1" "$D/serve.log"
t_summary
