#!/usr/bin/env python3
"""The hostile client of bench/attack.sh, on loopback only.

  attack_client.py --port P --sources A[,B...] --slow N --corpus DIR
                   [--corpus-source C] --tokens FILE --seconds S

holds N slow connections (slowloris: a request line and one more header
line every 2 s, never the blank line; spread over the source addresses,
each reopened 0.5 s after the server closes it) and, beside them, sends
every request of the hostile corpus DIR (tests/data/http/corpus/*.req,
@@TOKEN_host@@ replaced from FILE's "host token" lines) in a loop over two
connections at a time from address C (default 127.0.0.100: its own, so
that the per-client limit the slow ones fill does not turn it away before
the parser sees it), for S seconds.  Then prints one line of counts:
slow connections open (the lowest and the mean of once-a-second samples
after the first 3 s), opened, closed by the server, corpus requests and
their answers by status.
"""
import argparse
import asyncio
import collections
import os
import resource
import socket
import sys
import time


def load_corpus(d, tokens):
    reqs = []
    for n in sorted(os.listdir(d)):
        if not n.endswith(".req"):
            continue
        with open(os.path.join(d, n), "rb") as f:
            data = f.read()
        for host, tok in tokens.items():
            data = data.replace(b"@@TOKEN_" + host + b"@@", tok)
        reqs.append(data)
    return reqs


class Attack:
    def __init__(self, a, corpus):
        self.a, self.corpus = a, corpus
        self.sources = a.sources.split(",")
        self.open = self.opened = self.closed = self.failed = 0
        self.status = collections.Counter()
        self.samples = []
        self.end = time.monotonic() + a.seconds

    async def connect(self, src):
        """A connection from src, numeric addresses only (no resolver)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((src, 0))
            await asyncio.get_running_loop().sock_connect(s, ("127.0.0.1", self.a.port))
        except OSError:
            s.close()
            raise
        return await asyncio.open_connection(sock=s)

    async def slow(self, i):
        src = self.sources[i % len(self.sources)]
        while time.monotonic() < self.end:
            w = None
            try:
                r, w = await self.connect(src)
                self.opened += 1
                self.open += 1
                w.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                n = 0
                while time.monotonic() < self.end:
                    await w.drain()
                    try:
                        if await asyncio.wait_for(r.read(4096), 2.0) == b"":
                            break  # the server hung up
                    except asyncio.TimeoutError:
                        pass
                    n += 1
                    w.write(b"X-Slow-%d: %d\r\n" % (n, n))
            except OSError:
                self.failed += 1
            finally:
                if w is not None:
                    self.open -= 1
                    self.closed += 1
                    w.close()
            await asyncio.sleep(0.5)

    async def hostile(self, k):
        src = self.a.corpus_source
        i = k
        while time.monotonic() < self.end:
            req = self.corpus[i % len(self.corpus)]
            i += 2
            w = None
            try:
                r, w = await self.connect(src)
                w.write(req)
                await w.drain()
                line = await asyncio.wait_for(r.readline(), 5.0)
                self.status[line.split(b" ")[1].decode() if line.startswith(b"HTTP/") else "close"] += 1
            except (OSError, asyncio.TimeoutError, IndexError):
                self.status["reset"] += 1
            finally:
                if w is not None:
                    w.close()

    async def sample(self):
        await asyncio.sleep(3)
        while time.monotonic() < self.end:
            self.samples.append(self.open)
            await asyncio.sleep(1)

    async def run(self):
        tasks = [self.slow(i) for i in range(self.a.slow)] + [self.hostile(k) for k in range(2)]
        await asyncio.gather(self.sample(), *tasks, return_exceptions=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sources", default="127.0.0.2")
    ap.add_argument("--corpus-source", default="127.0.0.100")
    ap.add_argument("--slow", type=int, default=1000)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.slow + 64
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit("attack: %d slow connections need %d descriptors, the hard limit is %d" % (a.slow, need, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    tokens = {}
    with open(a.tokens, "rb") as f:
        for line in f:
            p = line.split()
            if len(p) == 2:
                tokens[p[0]] = p[1]
    x = Attack(a, load_corpus(a.corpus, tokens))
    asyncio.run(x.run())
    s = x.samples or [0]
    print("slow_open_min %d slow_open_mean %.0f slow_opened %d slow_closed %d connect_failed %d "
          "corpus_requests %d answers %s" % (
              min(s), sum(s) / len(s), x.opened, x.closed, x.failed, sum(x.status.values()),
              ",".join("%s:%d" % kv for kv in sorted(x.status.items()))), flush=True)


if __name__ == "__main__":
    main()
