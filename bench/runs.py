#!/usr/bin/env python3
"""bench/runs.py ROUNDS NAME=CMD... — runs each command ROUNDS times,
interleaved (one of each per round, so a change in the machine's load
falls on all of them alike), and prints one line per command:
NAME median_wall_us median_cpu_us max_rss_kb runs.  Wall time is measured
around posix_spawn and wait; CPU time (user + system) comes from the child's
rusage (wait4), to the microsecond (GNU time rounds to 10 ms).  The peak
RSS is GNU time's, from one more run of each (a child spawned from Python
counts Python's pages in its maxrss until it execs).
A name ending in /N runs only every Nth round (slow baselines).
Exits 1 when a command fails, with its stderr."""
import os
import shlex
import subprocess
import sys
import time


def one(argv):
    err = "/tmp/kf-bench-runs.%d.err" % os.getpid()
    acts = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)]
    t0 = time.perf_counter()
    # posix_spawn (vfork): the child does not copy Python's page tables
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=acts)
    _, status, ru = os.wait4(pid, 0)
    wall = (time.perf_counter() - t0) * 1e6
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write("%s failed:\n%s" % (" ".join(argv), open(err).read()))
        sys.exit(1)
    return wall, (ru.ru_utime + ru.ru_stime) * 1e6


def peak_rss(argv):
    path = "/tmp/kf-bench-runs.%d.rss" % os.getpid()
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", path] + argv, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    rss = int(open(path).read().split()[-1])
    os.unlink(path)
    return rss


def median(v):
    v = sorted(v)
    return v[(len(v) - 1) // 2]


def main():
    rounds = int(sys.argv[1])
    cmds = []
    for arg in sys.argv[2:]:
        name, _, cmd = arg.partition("=")
        every = int(name.rpartition("/")[2]) if "/" in name else 1
        cmds.append((name.rpartition("/")[0] if "/" in name else name, every, shlex.split(cmd), []))
    for r in range(rounds):
        for name, every, argv, out in cmds:
            if r % every == 0:
                out.append(one(argv))
    try:
        os.unlink("/tmp/kf-bench-runs.%d.err" % os.getpid())
    except OSError:
        pass
    for name, _, argv, out in cmds:
        print(name, int(median([o[0] for o in out])), int(median([o[1] for o in out])),
              peak_rss(argv), len(out))


main()
