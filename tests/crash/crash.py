#!/usr/bin/env python3
"""kill -9 loops against kickfleet (tests/suites/56-crash.sh runs them).

  crash.py render --kf KF --dir D --fleets A,B,C --kills N --seed S
      `kickfleet render` of the fleets in turn, each killed after a random
      delay and then run again to completion.  After each kill: the store
      passes `kickfleet state check`; every served file is whole (as one of
      the two renders left it); after the restart no temp file is left and
      the tree is the one a clean render of that fleet makes, each host's
      files holding the token its row holds.
  crash.py serve --kf KF --dir D --fleet F --kills N --seed S
      `kickfleet serve` on 127.0.0.1 taking install and report callbacks
      from four client threads, killed after a random delay and started
      again.  After each kill: `state check` passes and every callback that
      got a 2xx is in the store (installing and installed states, netboot
      off and no boot file holding the token, the report of the highest
      acknowledged sequence number or a later one).
  crash.py import --kf KF --dir D --fleet F --dump FILE --kills N --seed S
      `kickfleet state import` of FILE into a new store, killed after a
      random delay: `state check` passes, the store is empty or whole (its
      export is FILE), and an import after an empty one succeeds.

Each prints its kills and exits 1 on the first broken promise, naming the
seed that replays it.  The processes it starts are killed by PID, also
when it is stopped by a signal.
"""
import argparse
import http.client
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time

HEX64 = re.compile(rb"[0-9a-f]{64}")
# the agent credential in a served kickstart or preseed (kickstart/snippets/agent.ks)
CRED = re.compile(rb"echo '?([0-9a-f]{64})'? > (?:/target)?/etc/kickfleet/agent\.credential")
SERVED = ("dnsmasq", "tftp", "http")
SKIP = {"dnsmasq.pid", "dnsmasq.leases"}
CHILDREN = set()


def die(msg):
    print("FAIL " + msg, flush=True)
    sys.exit(1)


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def spawn(argv, log):
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    CHILDREN.add(p)
    return p


def reap(p, sig=signal.SIGKILL):
    """Kills p (if running) by its PID and waits; True when the signal
    ended it (it was running)."""
    killed = False
    if p.poll() is None:
        os.kill(p.pid, sig)
        p.wait()
        killed = p.returncode == -sig
    CHILDREN.discard(p)
    return killed


def run(argv, what):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode(errors="replace")


def state_db(out):
    return os.path.join(out, "state.db")


def rows(out, sql):
    """Rows of sql on the store, read only (the rows a restart sees)."""
    if not os.path.exists(state_db(out)):
        return []
    db = sqlite3.connect("file:%s?mode=ro" % state_db(out), uri=True, timeout=10)
    try:
        return db.execute(sql).fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        raise
    finally:
        db.close()


def state_check(kf, fleet, out, what):
    rc, text = run([kf, "state", "check", "-f", fleet, "-o", out], what)
    if rc != 0 and not (not os.path.exists(state_db(out)) and "no store there" in text):
        die("%s: kickfleet state check: %s" % (what, text.strip()))


def tree(out, tokens=None):
    """The served tree: {path: normalised bytes}, and the temp files in it.
    Every 64-hex-digit run becomes @TOKEN:HOST@ when tokens (token ->
    host) names it, else @TOKEN@; the tree's own path becomes @OUT@."""
    files, temps = {}, []
    ob = out.encode()
    cut = len(out) + 1
    for top in SERVED:
        for d, _, names in os.walk(os.path.join(out, top)):
            for n in names:
                p = d + "/" + n
                rel = p[cut:]
                if ".kf-tmp" in n:
                    temps.append(rel)
                    continue
                if n in SKIP:
                    continue
                with open(p, "rb") as f:
                    data = f.read().replace(ob, b"@OUT@")
                if tokens is None:
                    data = HEX64.sub(b"@TOKEN@", data)
                else:
                    data = HEX64.sub(lambda m: b"@TOKEN:" + tokens.get(m.group(0), b"?") + b"@", data)
                files[rel] = data
    return files, temps


def token_map(out):
    return {t.encode(): n.encode() for n, t in rows(out, "SELECT name, token FROM hosts") if t}


def tree_diff(a, b):
    for p in sorted(set(a) | set(b)):
        if a.get(p) != b.get(p):
            return p
    return None


# ---- render ----

def do_render(args):
    fleets = args.fleets.split(",")
    rng = random.Random(args.seed)
    env_cache = os.path.join(args.dir, "cache")
    os.environ["KICKFLEET_CACHE_DIR"] = env_cache
    log = open(os.path.join(args.dir, "render.log"), "ab")
    refs, generic = [], []
    slowest = 0.0
    for i, f in enumerate(fleets):
        ref = os.path.join(args.dir, "ref%d" % i)
        t0 = time.monotonic()
        rc, text = run([args.kf, "render", "--no-stage", "-f", f, "-o", ref], "reference")
        slowest = max(slowest, time.monotonic() - t0)
        if rc != 0:
            die("render of %s for reference: %s" % (f, text))
        refs.append(tree(ref, token_map(ref))[0])
        generic.append(tree(ref)[0])
    out = os.path.join(args.dir, "out")
    cur = None  # the fleet the last finished render had
    kills = tries = 0
    window = slowest  # then the last restart's time: a render of a change
    while kills < args.kills:
        tries += 1
        if tries > args.kills * 3:
            die("render: only %d of %d runs were still running when killed" % (kills, args.kills))
        new = rng.choice([i for i in range(len(fleets)) if i != cur])
        delay = rng.uniform(0, window)
        p = spawn([args.kf, "render", "--no-stage", "-f", fleets[new], "-o", out], log)
        time.sleep(delay)
        if not reap(p):
            if p.returncode != 0:
                die("render of %s failed (%d): see %s/render.log" % (fleets[new], p.returncode, args.dir))
            cur = new
            continue
        kills += 1
        what = "render kill %d (seed %d, fleet %d, %.0f ms)" % (kills, args.seed, new, delay * 1e3)
        state_check(args.kf, fleets[new], out, what)
        files, _ = tree(out)
        for path, data in files.items():
            if data not in [g.get(path) for g in (generic[new], generic[cur] if cur is not None else {})]:
                die("%s: %s is neither the old nor the new render's" % (what, path))
        t0 = time.monotonic()
        rc, text = run([args.kf, "render", "--no-stage", "-f", fleets[new], "-o", out], what)
        if rc != 0:
            die("%s: render after the kill: %s" % (what, text))
        window = time.monotonic() - t0
        cur = new
        files, temps = tree(out, token_map(out))
        if temps:
            die("%s: temp files left after the restart: %s" % (what, ", ".join(sorted(temps)[:5])))
        bad = tree_diff(files, refs[new])
        if bad:
            die("%s: after the restart %s differs from a clean render's" % (what, bad))
    print("render: %d kills in %d runs (seed %d), store sound, every file whole, "
          "the tree a clean render's after each restart" % (kills, tries, args.seed), flush=True)


# ---- serve ----

class Client(threading.Thread):
    """Callbacks for its hosts over one keep-alive connection, until the
    server goes away; acks: (host, action, seq) that got a 2xx.  Each
    install starts with the kickstart, whose agent credential (creds) the
    reports send."""

    def __init__(self, port, hosts, tokens, creds, installed, seq, lock):
        super().__init__(daemon=True)
        self.port, self.hosts, self.tokens, self.creds = port, hosts, tokens, creds
        self.installed, self.seq, self.lock = installed, seq, lock
        self.acks, self.connected, self.err = [], False, None

    def post(self, conn, host, action, body):
        if action == "report":
            path = "/cb/%s/report" % host
            headers = {"Content-Type": "application/json", "Authorization": "Bearer " + self.creds[host]}
        else:
            path = "/cb/%s/%s?token=%s" % (host, action, self.tokens[host])
            headers = {"Content-Type": "application/json"}
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        self.connected = True
        if r.status == 429:
            return False
        if r.status == 403 and action != "report":
            # an "installed" the server committed before a kill, its answer
            # lost: the install is closed, its token refused from then on
            self.installed.add(host)
            return False
        if not 200 <= r.status < 300:
            self.err = "%s %s: %d" % (host, action, r.status)
        return 200 <= r.status < 300

    def kickstart(self, conn, host):
        conn.request("GET", "/ks/%s?token=%s" % (host, self.tokens[host]))
        r = conn.getresponse()
        body = r.read()
        self.connected = True
        m = CRED.search(body) if r.status == 200 else None
        if m:
            self.creds[host] = m.group(1).decode()
        elif r.status == 403:
            self.installed.add(host) # as in post
        elif r.status != 429:
            self.err = "%s kickstart: %d%s" % (host, r.status, "" if r.status != 200 else ", no credential")

    def step(self, conn, host):
        if host not in self.installed and host not in self.creds:
            self.kickstart(conn, host)
            return
        if host not in self.installed:
            if self.post(conn, host, "installing", b"{}"):
                self.acks.append((host, "installing", 0))
            if self.post(conn, host, "installed", b"{}"):
                self.acks.append((host, "installed", 0))
                self.installed.add(host)
            return
        with self.lock:
            self.seq[host] = self.seq.get(host, 0) + 1
            n = self.seq[host]
        body = json.dumps({"drift": n % 2, "failures": 0, "seq": n}).encode()
        if self.post(conn, host, "report", body):
            self.acks.append((host, "report", n))

    def run(self):
        deadline = time.monotonic() + 10
        i = 0
        while self.err is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                while self.err is None:
                    self.step(conn, self.hosts[i % len(self.hosts)])
                    i += 1
            except (OSError, http.client.HTTPException):
                conn.close()
                if self.connected or time.monotonic() > deadline:
                    return
                time.sleep(0.01)


def up(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/healthz")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False


def boot_tokens(out):
    """Every token in a boot loader's file (the ones that travel in clear)."""
    found = set()
    for d in ("tftp", os.path.join("http", "ipxe")):
        for dd, _, names in os.walk(os.path.join(out, d)):
            for n in names:
                if ".kf-tmp" not in n:
                    with open(os.path.join(dd, n), "rb") as f:
                        found.update(m.decode() for m in HEX64.findall(f.read()))
    return found


def verify_acks(out, acks, what):
    st = {n: (s, nb, t, rep) for n, s, nb, t, rep in
          rows(out, "SELECT name, state, netboot, token, report FROM hosts")}
    in_boot = boot_tokens(out)
    best = {}
    for host, action, n in acks:
        s, nb, tok, rep = st.get(host, (None, None, None, None))
        if action == "installing" and s in (None, "new", "booting"):
            die("%s: acknowledged installing of %s lost (state %s)" % (what, host, s))
        if action == "installed":
            if s not in ("installed", "configured", "drifted", "failed") or nb != 0:
                die("%s: acknowledged installed of %s lost (state %s, netboot %s)" % (what, host, s, nb))
            if tok in in_boot:
                die("%s: %s installed, yet a boot file still holds its install token" % (what, host))
        if action == "report":
            best[host] = max(best.get(host, 0), n)
    for host, n in best.items():
        rep = st.get(host, (None, None, None, None))[3]
        got = json.loads(rep).get("seq", 0) if rep else 0
        if got < n:
            die("%s: report %d of %s acknowledged, the store has %d" % (what, n, host, got))
    return len(acks)


def do_serve(args):
    rng = random.Random(args.seed)
    out = os.path.join(args.dir, "srv")
    os.environ["KICKFLEET_CACHE_DIR"] = os.path.join(args.dir, "cache-srv")
    rc, text = run([args.kf, "render", "--no-stage", "-f", args.fleet, "-o", out], "serve setup")
    if rc != 0:
        die("render before serve: " + text)
    log = open(os.path.join(args.dir, "serve.log"), "ab")
    hosts = [n for (n,) in rows(out, "SELECT name FROM hosts ORDER BY name")]
    installed, seq, lock, creds = set(), {}, threading.Lock(), {}
    kills = nacks = 0
    base = 20000 + os.getpid() % 20000
    while kills < args.kills:
        port = base + kills % 50
        tokens = {n: t for n, t in rows(out, "SELECT name, token FROM hosts")}
        p = spawn([args.kf, "serve", "-f", args.fleet, "-o", out, "--listen", "127.0.0.1:%d" % port,
                   "--callback-rate", "0", "--client-conns", "0", "--timeout", "5"], log)
        rng.shuffle(hosts)
        clients = [Client(port, hosts[i::4], tokens, creds, installed, seq, lock) for i in range(4)]
        for c in clients:
            c.start()
        t0 = time.monotonic()
        while not up(port):
            if p.poll() is not None or time.monotonic() - t0 > 10:
                die("serve did not start (see %s/serve.log)" % args.dir)
            time.sleep(0.01)
        delay = rng.uniform(0.01, 0.25)
        time.sleep(delay)
        if not reap(p):
            die("serve exited before its kill (%s): see %s/serve.log" % (p.returncode, args.dir))
        kills += 1
        for c in clients:
            c.join(10)
        what = "serve kill %d (seed %d, %.0f ms after it answered)" % (kills, args.seed, delay * 1e3)
        for c in clients:
            if c.err:
                die("%s: %s" % (what, c.err))
        state_check(args.kf, args.fleet, out, what)
        acks = [a for c in clients for a in c.acks]
        nacks += verify_acks(out, acks, what)
        # between runs: a few installed hosts set to reinstall (new tokens)
        for h in rng.sample(sorted(installed), min(1, len(installed))):
            rc, text = run([args.kf, "netboot", "-f", args.fleet, "-o", out, h, "on"], what)
            if rc != 0:
                die("%s: netboot %s on: %s" % (what, h, text))
            installed.discard(h)
            creds.pop(h, None) # the new install's kickstart brings a new one
    if nacks < args.kills:
        die("serve: only %d callbacks acknowledged in %d runs" % (nacks, kills))
    print("serve: %d kills (seed %d), %d acknowledged callbacks, none lost, store sound after each"
          % (kills, args.seed, nacks), flush=True)


# ---- import ----

def do_import(args):
    rng = random.Random(args.seed)
    with open(args.dump, "rb") as f:
        want = f.read()
    log = open(os.path.join(args.dir, "import.log"), "ab")

    def export(out):
        r = subprocess.run([args.kf, "state", "export", "-f", args.fleet, "-o", out],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return r.returncode, r.stdout

    t0 = time.monotonic()
    probe = os.path.join(args.dir, "imp-probe")
    os.makedirs(probe)
    if run([args.kf, "state", "import", "-f", args.fleet, "-o", probe, args.dump], "import")[0] != 0:
        die("import of %s failed" % args.dump)
    window = (time.monotonic() - t0) * 1.2
    kills = tries = 0
    while kills < args.kills:
        tries += 1
        if tries > args.kills * 4:
            die("import: only %d of %d runs were still running when killed" % (kills, args.kills))
        out = os.path.join(args.dir, "imp%d" % tries)
        os.makedirs(out)
        delay = rng.uniform(0, window)
        p = spawn([args.kf, "state", "import", "-f", args.fleet, "-o", out, args.dump], log)
        time.sleep(delay)
        if not reap(p):
            subprocess.run(["rm", "-rf", out])
            continue
        kills += 1
        what = "import kill %d (seed %d, %.0f ms)" % (kills, args.seed, delay * 1e3)
        state_check(args.kf, args.fleet, out, what)
        n = rows(out, "SELECT count(*) FROM hosts")
        if n and n[0][0]:
            rc, got = export(out)
            if rc != 0 or got != want:
                die("%s: the store holds part of the dump (%d hosts)" % (what, n[0][0]))
        else:
            rc, text = run([args.kf, "state", "import", "-f", args.fleet, "-o", out, args.dump], what)
            if rc != 0:
                die("%s: import after the kill: %s" % (what, text))
            rc, got = export(out)
            if rc != 0 or got != want:
                die("%s: the import after the kill is not the dump" % what)
        subprocess.run(["rm", "-rf", out])
    print("import: %d kills in %d runs (seed %d), every store empty or whole, sound after each"
          % (kills, tries, args.seed), flush=True)


def main():
    ap = argparse.ArgumentParser(description="kill -9 loops against kickfleet")
    ap.add_argument("what", choices=("render", "serve", "import"))
    ap.add_argument("--kf", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--fleet")
    ap.add_argument("--fleets")
    ap.add_argument("--dump")
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--seed", type=int, required=True)
    args = ap.parse_args()
    t0 = time.monotonic()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        {"render": do_render, "serve": do_serve, "import": do_import}[args.what](args)
        print("%s: %.1f s" % (args.what, time.monotonic() - t0), flush=True)
    finally:
        for p in list(CHILDREN):
            reap(p)


if __name__ == "__main__":
    main()
