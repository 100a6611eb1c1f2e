"""Scheduler takeover: how long a tenant is without an active scheduler.
Run: .venv/bin/python -m benchmarks takeover [--runs N] [--lease S]

Two `paperfs scheduler` processes on one data root and a real redis-server;
the active one is killed with SIGKILL and the standby's log is watched for
(a) "active" (it holds the lock) and (b) "consumer ready" (the writer lock
taken, the tree recovered, the inbox watched: it files again). The reference,
measured in the same run: the same handover after a clean stop (SIGTERM: the
lock is released at once). The kill -9 takeover is bounded by the lease
(cluster.leader_lease_seconds): at most one lease after the last renewal,
which is at most a third of a lease before the kill.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from tests.helpers import init_root
from tests.redis_server import RedisServer
from tests.cluster_services import start, wait_for

ACTIVE = re.compile(r"scheduler: active")
READY = re.compile(r"paperfs consumer ready")


def seconds_until(predicate, since: float, timeout: float = 120.0) -> float:
    """Seconds from ``since`` until ``predicate()`` holds, looked at every 10 ms."""
    while not predicate():
        if time.monotonic() - since > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.01)
    return time.monotonic() - since


def handover(root, number: int, kill: bool) -> tuple[float, float]:
    """Seconds from the stop of the active scheduler to the standby holding the lock,
    and to the standby filing."""
    first = start(root, f"first-{number}", "scheduler")
    second = None
    try:
        wait_for(lambda: READY.search(first.log()), 60, "the first scheduler", [first])
        second = start(root, f"second-{number}", "scheduler")
        wait_for(lambda: "waiting for the lock held by" in second.log(), 60, "the standby",
                 [second])
        stopped = time.monotonic()
        first.kill() if kill else first.stop()
        return (seconds_until(lambda: ACTIVE.search(second.log()), stopped),
                seconds_until(lambda: READY.search(second.log()), stopped))
    finally:
        for service in (first, second):
            if service is not None:
                service.kill()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks takeover")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lease", type=float, default=30.0,
                        help="cluster.leader_lease_seconds (default: the default, 30)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="paperfs-bench-takeover-") as tmp, \
            RedisServer() as redis:
        root = init_root(Path(tmp), f"queue: {redis.url}\ncluster:\n"
                                    f"  leader_lease_seconds: {args.lease}\n")
        rows = {"kill -9": [handover(root, n, kill=True) for n in range(args.runs)],
                "clean stop (reference)": [handover(root, 100 + n, kill=False)
                                           for n in range(args.runs)]}
    print(f"scheduler takeover, lease {args.lease:g} s, {args.runs} run(s) each; "
          "seconds: median (min–max)")
    print(f"{'':24} {'holds the lock':>22} {'files again':>22}")
    for name, runs in rows.items():
        cells = []
        for column in zip(*runs):
            cells.append(f"{statistics.median(column):6.2f} ({min(column):.2f}–{max(column):.2f})")
        print(f"{name:24} {cells[0]:>22} {cells[1]:>22}")
    kill, clean = (statistics.median(r[1] for r in runs) for runs in rows.values())
    print(f"kill -9 / clean stop (files again): {kill / clean:.1f}x; bound: lease {args.lease:g} s "
          f"+ start-up {clean:.2f} s")
    return 0
