"""A dav replica's local catalog: start-up from the tree, and how far it trails the writer.
Run: .venv/bin/python -m benchmarks replica [--count N] [--changes N]

A synthetic archive (benchmarks/gen_archive.py) and a real redis-server.

* start: ``ReplicaCatalog.start`` with an empty cache (every sidecar read into
  the local catalog) and again with a warm one (only what differs is read);
  reference, in the same run: ``paperfs reindex`` of the embedded index on
  the same tree.
* lag: the writer's publisher appends one upsert entry per document (as
  filing does), the replica's follower applies each by reading the sidecar;
  the seconds from publish to applied, median and 95th percentile; reference:
  reading and upserting the same sidecar directly (what applying costs
  without Redis).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.gen_archive import Spec, generate
from paperfs.archive.reindex import reindex
from paperfs.cluster.change_stream import UPSERT, ChangePublisher
from paperfs.cluster.replica_catalog import ReplicaCatalog
from paperfs.config import load_config
from paperfs.runtime import Runtime
from tests.redis_server import RedisServer


def replica_config(root: Path, redis: RedisServer, cache: Path):
    # Solr is named but never asked: the local catalog is all this measures.
    return load_config(root / "paperfs.yml", environ={
        "PAPERFS_QUEUE": redis.url, "PAPERFS_TENANT": "bench",
        "PAPERFS_INDEX__BACKEND": "solr", "PAPERFS_INDEX__URL": "http://127.0.0.1:9/solr",
        "PAPERFS_DAV__CACHE_DIR": str(cache)})


def timed_start(config) -> tuple[float, ReplicaCatalog]:
    started = time.perf_counter()
    replica = ReplicaCatalog(Runtime(config))
    replica.start()
    return time.perf_counter() - started, replica


def lag(replica: ReplicaCatalog, config, paths: dict[int, str], changes: int) -> list[float]:
    """Seconds from publishing each entry to the replica having applied it."""
    before = replica.follower.applied
    publisher = ChangePublisher(config)  # its first entry asks for a resync: not timed
    while replica.follower.applied == before:
        time.sleep(0.01)
    time.sleep(1.0)  # the writer's start settles (its first resync, SQLite's checkpoint)
    applied: dict[int, float] = {}
    original = replica.apply

    def apply(change) -> None:
        original(change)
        now = time.perf_counter()
        for doc_id, _path in change.items:
            applied[doc_id] = now

    replica.follower.apply = apply
    sent: dict[int, float] = {}
    try:
        for doc_id in list(paths)[:changes]:
            sent[doc_id] = time.perf_counter()
            publisher.changed(UPSERT, [(doc_id, paths[doc_id])])
            time.sleep(0.002)  # filing pace: a few hundred documents a second at most
        deadline = time.monotonic() + 60
        while len(applied) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        publisher.close()
    return [applied[i] - sent[i] for i in sent if i in applied]


def direct_apply(replica: ReplicaCatalog, paths: dict[int, str], changes: int) -> float:
    """Median seconds to read one sidecar and upsert it (no Redis)."""
    from paperfs.cluster.change_stream import Change

    times = []
    for doc_id in list(paths)[:changes]:
        started = time.perf_counter()
        replica.apply(Change(UPSERT, ((doc_id, paths[doc_id]),)))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks replica")
    parser.add_argument("--count", type=int, default=10_000, help="documents in the archive")
    parser.add_argument("--changes", type=int, default=500, help="entries for the lag")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="paperfs-bench-replica-") as tmp, \
            RedisServer() as redis:
        root = Path(tmp) / "data"
        made = generate(root, Spec(count=args.count))
        config = replica_config(root, redis, Path(tmp) / "cache")

        started = time.perf_counter()
        reindex(load_config(root / "paperfs.yml", environ={}))
        reference = time.perf_counter() - started

        cold, replica = timed_start(config)
        replica.close()
        warm, replica = timed_start(config)
        try:
            seconds = sorted(lag(replica, config, made.paths, args.changes))
            direct = direct_apply(replica, made.paths, args.changes)
        finally:
            replica.close()
    p95 = seconds[int(len(seconds) * 0.95) - 1]
    print(f"archive: {args.count:,} documents")
    print(f"{'replica catalog, cold start (every sidecar read)':52} {cold:8.2f} s")
    print(f"{'replica catalog, warm start (nothing changed)':52} {warm:8.2f} s")
    print(f"{'reference: paperfs reindex (embedded index)':52} {reference:8.2f} s   "
          f"cold/reindex = {cold / reference:.2f}")
    print(f"{'lag, publish to applied: median':52} {statistics.median(seconds) * 1000:8.1f} ms")
    print(f"{'lag, publish to applied: 95th percentile':52} {p95 * 1000:8.1f} ms")
    print(f"{'reference: read + upsert one sidecar, median':52} {direct * 1000:8.1f} ms   "
          f"lag/direct = {statistics.median(seconds) / direct:.1f}")
    return 0
