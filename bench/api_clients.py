"""bench/api.sh's clients: the SSE fan-out (N event streams while a driver
makes R hosts a second change state through report callbacks; latency from
the callback's send to each stream's event, p50/p99, beside the callbacks'
own round trip) and the 10k-host page in headless Chromium (load time,
beside the same HTML as a static file).  Loopback only."""
import hashlib
import http.client
import json
import os
import selectors
import socket
import sqlite3
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "ui"))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))] if v else float("nan")


def sse(port, token, nclients, rate, seconds, db):
    hosts = [r[0] for r in sqlite3.connect(db).execute("SELECT name, token FROM hosts ORDER BY name LIMIT 100")]
    # each driven host an agent credential, its SHA-256 in the store as the
    # kickstart would have left it (docs/security.md)
    creds = {h: hashlib.sha256(("bench-" + h).encode()).hexdigest() for h in hosts}
    with sqlite3.connect(db) as w:
        w.executemany("INSERT OR REPLACE INTO credentials (name, agent_hash, gen, issued) VALUES (?, ?, 1, 1)",
                      [(h, hashlib.sha256(c.encode()).hexdigest()) for h, c in creds.items()])
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(nclients):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, bytearray())
        socks.append(s)
    time.sleep(1)
    sent = {}  # (host, state) -> time sent
    rtt = []
    stop = time.time() + seconds

    def drive():
        c = http.client.HTTPConnection("127.0.0.1", port)
        k = 0
        t0 = time.time()
        while time.time() < stop:
            h = hosts[k % len(hosts)]
            drift = (k // len(hosts)) % 2 == 0
            state = "drifted" if drift else "configured"
            body = json.dumps({"drift": 1 if drift else 0, "failures": 0})
            ts = time.time()
            sent[(h, state, k // len(hosts))] = ts
            c.request("POST", f"/cb/{h}/report", body,
                      {"Content-Type": "application/json", "Authorization": f"Bearer {creds[h]}"})
            c.getresponse().read()
            rtt.append(time.time() - ts)
            k += 1
            nxt = t0 + k / rate
            if nxt > time.time():
                time.sleep(nxt - time.time())

    th = threading.Thread(target=drive)
    th.start()
    lat = []
    rounds = {}
    while th.is_alive() or time.time() < stop + 1:
        for key, _ in sel.select(timeout=0.2):
            buf = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            now = time.time()
            buf += chunk
            while b"\n\n" in buf:
                ev, _, rest = bytes(buf).partition(b"\n\n")
                buf[:] = rest
                if b"event: host\n" not in ev:
                    continue
                d = json.loads(ev.split(b"data: ", 1)[1])
                r = rounds.setdefault((id(key.fileobj), d["name"]), 0)
                rounds[(id(key.fileobj), d["name"])] = r + 1
                t = sent.get((d["name"], d["state"], r))
                if t:
                    lat.append(now - t)
        if not th.is_alive() and time.time() > stop + 1:
            break
    th.join()
    for s in socks:
        s.close()
    n = len(sent)
    print(f"sse: {nclients} streams, {n} state changes in {seconds} s ({n / seconds:.0f}/s), "
          f"{len(lat)} events received (want {n * nclients})")
    print(f"sse: change -> event p50 {pct(lat, 50) * 1e3:.1f} ms, p99 {pct(lat, 99) * 1e3:.1f} ms; "
          f"baseline: the callback's own round trip p50 {pct(rtt, 50) * 1e3:.1f} ms, p99 {pct(rtt, 99) * 1e3:.1f} ms "
          f"(ratio p50 {pct(lat, 50) / max(pct(rtt, 50), 1e-9):.1f}x)")


def page(base, token, static_url):
    from cdp import Browser
    b = Browser()
    try:
        b.navigate(base + "/ui/login")
        b.eval(f"document.getElementById('token').value = {json.dumps(token)}")
        b.click_and_load("document.getElementById('login-button')", 120)
        res = []
        for url in (base + "/ui/", static_url):
            times, paints = [], []
            for _ in range(5):
                b.navigate(url, 120)
                times.append(b.eval("(() => { const n = performance.getEntriesByType('navigation')[0];"
                                    " return n.loadEventEnd - n.startTime; })()"))
                # the paint entry comes once the frame is shown, after the load event
                paints.append(b.eval("new Promise((ok) => { setTimeout(() => ok(-1), 5000);"
                                     " new PerformanceObserver((l) => { for (const e of l.getEntries())"
                                     " if (e.name === 'first-contentful-paint') ok(e.startTime); })"
                                     ".observe({ type: 'paint', buffered: true }); })"))
            rows = b.eval("document.querySelectorAll('#fleet tbody tr').length")
            total = b.eval("(document.getElementById('c-total') || {}).textContent")
            res.append((statistics.median(times), statistics.median(paints), rows, total))
        (t, p, rows, total), (t0, p0, rows0, _) = res
        print(f"page: /ui/ of {total} hosts ({rows} rows a page) loaded in {t:.0f} ms, first paint {p:.0f} ms "
              f"(median of 5; target < 1000 ms); baseline: the same HTML as a static file {t0:.0f} ms, "
              f"first paint {p0:.0f} ms ({rows0} rows), ratio {t / max(t0, 1):.2f}x")
    finally:
        b.close()


if __name__ == "__main__":
    if sys.argv[1] == "sse":
        sse(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7])
    else:
        page(sys.argv[2], sys.argv[3], sys.argv[4])
