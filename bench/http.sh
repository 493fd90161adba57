#!/bin/sh
# bench/http.sh — kickfleet serve against nginx on loopback, same run:
# authenticated kickstart requests (GET /ks/HOST?token=T) with wrk at 100
# and 1000 connections, the same files served by nginx as the baseline;
# req/s, p99 latency, ratio, and the server's RSS with a 10,000-host
# inventory loaded.  Targets: >= 0.8x nginx, p99 < 50 ms at 1000
# connections, RSS < 50 MB.   BENCH_SECONDS (default 10), BENCH_HOSTS.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
KF=$TOP/build/kickfleet
SECS=${BENCH_SECONDS:-10}
NHOSTS=${BENCH_HOSTS:-10000}
for tool in wrk nginx curl sqlite3; do
	command -v $tool >/dev/null || { echo "http: $tool missing (make bench installs it)"; exit 1; }
done
W=$(mktemp -d /tmp/kf-bench-http.XXXXXX)
KPID= NPID=
cleanup() {
	[ -n "$KPID" ] && kill "$KPID" 2>/dev/null && wait "$KPID" 2>/dev/null
	[ -n "$NPID" ] && kill "$NPID" 2>/dev/null
	sleep 0.2
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null

# ---- a 10,000-host fleet ----
mkdir -p "$W/fleet/kickstart" "$W/fleet/profiles"
cp "$TOP/tests/data/http/fleet/kickstart/kvm.preseed" "$W/fleet/kickstart/"
cp "$TOP/tests/data/http/fleet/profiles/kvm.yaml" "$W/fleet/profiles/"
# pad the template to a realistic size (~4 KiB)
awk 'BEGIN { for (i = 0; i < 60; i++) printf "d-i pkgsel/include string pkg%02d-a pkg%02d-b pkg%02d-c pkg%02d-d\n", i, i, i, i }' \
	>> "$W/fleet/kickstart/kvm.preseed"
{
	cat <<EOF
provisioner:
  interface: lo
  address: 10.96.0.1
  subnet: 10.96.0.0/16
  dhcp: {mode: static, dns: 10.96.0.1}
  http_port: 8080
distros:
  deb12: {family: preseed, kernel: /nonexistent/linux, initrd: /nonexistent/initrd.gz}
roles:
  kvm-host: {distro: deb12, kickstart: kickstart/kvm.preseed, profile: profiles/kvm.yaml}
defaults:
  root_password_hash: "\$6\$benchsalt\$benchhash"
hosts:
EOF
	awk -v n="$NHOSTS" 'BEGIN { for (i = 1; i <= n; i++)
		printf "  - {name: h%05d, mac: \"52:54:%02x:%02x:%02x:%02x\", ip: 10.96.%d.%d, role: kvm-host}\n",
			i, int(i / 16777216) % 256, int(i / 65536) % 256, int(i / 256) % 256, i % 256,
			int(i / 250) + 1, i % 250 + 1 }'
} > "$W/fleet/fleet.yaml"
t0=$(date +%s.%N)
"$KF" render -f "$W/fleet/fleet.yaml" -o "$W/out" >/dev/null 2>"$W/render.err" || {
	cat "$W/render.err"; echo "http: render failed"; exit 1; }
echo "rendered $NHOSTS hosts in $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo '?') s"

PORT=$((30000 + $$ % 10000))
NPORT=$((PORT + 1))
"$KF" serve -f "$W/fleet/fleet.yaml" -o "$W/out" --listen 127.0.0.1:$PORT \
	>"$W/serve.log" 2>&1 &
KPID=$!
i=0
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 200 ] && { cat "$W/serve.log"; echo "http: serve did not start"; exit 1; }
	sleep 0.05
done
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
RSS0=$(rss $KPID)

HOST=h04242
TOK=$(sqlite3 "$W/out/state.db" "SELECT token FROM hosts WHERE name='$HOST'")
KS_PATH="/ks/$HOST?token=$TOK"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$KS_PATH")" = 200 ] || {
	echo "http: the kickstart is not served"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/ks/$HOST?token=bad")" = 403 ] || {
	echo "http: a bad token is not refused"; exit 1; }

# ---- nginx, its own config on the next port, serving the same files ----
mkdir -p "$W/nginx"
cat > "$W/nginx/nginx.conf" <<EOF
user root;
worker_processes 2;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $W/nginx/body;
  proxy_temp_path $W/nginx/proxy;
  fastcgi_temp_path $W/nginx/fastcgi;
  uwsgi_temp_path $W/nginx/uwsgi;
  scgi_temp_path $W/nginx/scgi;
  server {
    listen 127.0.0.1:$NPORT;
    location /ks/ { alias $W/out/http/ks/; default_type text/plain; }
  }
}
EOF
nginx -c "$W/nginx/nginx.conf" -g 'daemon off;' &
NPID=$!
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NPORT$KS_PATH")" = 200 ]; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat "$W/nginx/error.log"; echo "http: nginx did not start"; exit 1; }
	sleep 0.05
done

# wrk: "Requests/sec: N" and, with --latency, "99%  12.34ms"
run_wrk() { # PORT CONNS -> "REQS P99MS"
	wrk -t 2 -c "$2" -d "${SECS}s" --latency "http://127.0.0.1:$1$KS_PATH" > "$W/wrk.out" 2>&1
	awk '/Requests\/sec/ { r = $2 }
	     /^ +99%/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
			 m = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v; p = m }
	     /Non-2xx/ { bad = $NF }
	     END { printf "%s %s %s\n", r, p, bad + 0 }' "$W/wrk.out"
}
printf '%-6s %-10s %12s %10s %8s\n' conns server req/s p99_ms non2xx
fail=0
for c in 100 1000; do
	set -- $(run_wrk $NPORT $c); nr=$1 np=$2 nb=$3
	set -- $(run_wrk $PORT $c); kr=$1 kp=$2 kb=$3
	printf '%-6s %-10s %12s %10s %8s\n' $c nginx "$nr" "$np" "$nb"
	printf '%-6s %-10s %12s %10s %8s\n' $c kickfleet "$kr" "$kp" "$kb"
	ratio=$(awk -v a="$kr" -v b="$nr" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	echo "conns=$c ratio kickfleet/nginx = ${ratio}x (target >= 0.8x)"
	awk -v r="$ratio" 'BEGIN { exit !(r >= 0.8) }' || fail=1
	[ "$kb" = 0 ] || { echo "kickfleet answered $kb non-2xx"; fail=1; }
	if [ $c = 1000 ]; then
		echo "p99 at 1000 connections: ${kp} ms (target < 50 ms)"
		awk -v p="$kp" 'BEGIN { exit !(p < 50) }' || fail=1
	fi
done
RSS1=$(rss $KPID)
echo "serve RSS with $NHOSTS hosts: $((RSS0 / 1024)) MB at start, $((RSS1 / 1024)) MB after the runs (target < 50 MB)"
[ "$RSS1" -lt $((50 * 1024)) ] || fail=1
[ $fail = 0 ] && echo "http: all targets met" || echo "http: targets missed"
exit $fail
