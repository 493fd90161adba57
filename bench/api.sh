#!/bin/sh
# bench/api.sh — the REST API and the status page at fleet scale, on
# loopback (docs/api.md):
#   list   GET /api/v1/hosts?limit=10000 of a 10,000-host fleet: p50/p99
#          over BENCH_RUNS requests (target < 50 ms), beside the same bytes
#          as a static file from the same server (/trees/), the baseline
#   sse    100 event streams while 100 hosts a second change state (agent
#          report callbacks): change -> event p50/p99, beside the
#          callbacks' own round trip
#   page   /ui/ of a 10,000-host fleet (its first page of 200 rows, the
#          summary of all) in headless Chromium: load and first paint
#          (target < 1 s), beside the same HTML as a static file
#   BENCH_HOSTS (10000), BENCH_RUNS (50), BENCH_SSE_CLIENTS (100),
#   BENCH_SSE_RATE (100), BENCH_SSE_SECONDS (10).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
KF=$TOP/build/kickfleet
NHOSTS=${BENCH_HOSTS:-10000}
RUNS=${BENCH_RUNS:-50}
for tool in curl python3 sqlite3; do
	command -v $tool >/dev/null || { echo "api: $tool missing"; exit 1; }
done
W=$(mktemp -d /tmp/kf-bench-api.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp -r "$TOP/tests/data/http/fleet" "$W/fleet"
{
	sed -n '/^hosts:/q;p' "$TOP/tests/data/http/fleet/fleet.yaml" |
		sed -e 's#10.250.0.0/24#10.96.0.0/16#' -e 's/10.250.0.1$/10.96.0.1/' -e 's/^    range: .*/    range: [10.96.250.100, 10.96.250.199]/'
	echo "hosts:"
	awk -v n="$NHOSTS" 'BEGIN { for (i = 1; i <= n; i++)
		printf "  - {name: h%05d, mac: \"52:54:%02x:%02x:%02x:%02x\", ip: 10.96.%d.%d, role: plain}\n",
			i, int(i / 16777216) % 256, int(i / 65536) % 256, int(i / 256) % 256, i % 256,
			int(i / 250) + 1, i % 250 + 1 }'
} >"$W/fleet/fleet.yaml"
TOKEN=b1e2n3c4h5b1e2n3c4h5b1e2n3c4h5b1e2n3c4h5
printf 'bench admin %s\n' "$TOKEN" >"$W/tokens" && chmod 600 "$W/tokens"
mkdir -p "$W/out/http/trees" "$W/out/tftp"
PORT=$((20000 + ($$ + 17) % 20000))
URL=http://127.0.0.1:$PORT
"$KF" serve -f "$W/fleet/fleet.yaml" -o "$W/out" --listen 127.0.0.1:$PORT --api-tokens "$W/tokens" \
	>"$W/serve.log" 2>&1 &
PID=$!
i=0; while ! curl -sf "$URL/healthz" >/dev/null 2>&1 && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
A="Authorization: Bearer $TOKEN"
curl -sf -H "$A" "$URL/api/v1/hosts?limit=10000" >"$W/out/http/trees/hosts.json" || { echo "api: list failed"; cat "$W/serve.log"; exit 1; }
echo "api: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"])' "$W/out/http/trees/hosts.json") hosts, list of $(wc -c <"$W/out/http/trees/hosts.json") bytes"
req_times() { for i in $(seq "$RUNS"); do curl -s -o /dev/null -w '%{time_total}\n' "$@"; done | sort -n; }
pcts() { awk '{ v[NR] = $1 * 1000 } END { k = int(NR * 0.99) + 1; if (k > NR) k = NR; printf "p50 %.1f ms, p99 %.1f ms", v[int(NR * 0.5) + 1], v[k] }'; }
api=$(req_times -H "$A" "$URL/api/v1/hosts?limit=10000" | pcts)
base=$(req_times "$URL/trees/hosts.json" | pcts)
echo "list: GET /api/v1/hosts?limit=10000: $api (target p50 < 50 ms); baseline static file of the same bytes: $base"
a50=$(echo "$api" | awk '{ print $2 }'); b50=$(echo "$base" | awk '{ print $2 }')
echo "list: ratio p50 $(awk -v a="$a50" -v b="$b50" 'BEGIN { printf "%.1f", a / (b > 0 ? b : 1) }')x the static file"
python3 "$TOP/bench/api_clients.py" sse "$PORT" "$TOKEN" "${BENCH_SSE_CLIENTS:-100}" "${BENCH_SSE_RATE:-100}" \
	"${BENCH_SSE_SECONDS:-10}" "$W/out/state.db"
if command -v chromium >/dev/null; then
	SID=$(curl -s -D - -o /dev/null -d "token=$TOKEN" "$URL/ui/login" | sed -n 's/^[Ss]et-[Cc]ookie: kf_session=\([0-9a-f]*\);.*/\1/p')
	curl -s -H "Cookie: kf_session=$SID" "$URL/ui/" | sed 's#<script src="/ui/static/ui.js" defer></script>##' \
		>"$W/out/http/trees/fleet.html"
	python3 "$TOP/bench/api_clients.py" page "$URL" "$TOKEN" "$URL/trees/fleet.html"
else
	echo "page: chromium missing (scripts/deps.sh check installs it)"
fi
